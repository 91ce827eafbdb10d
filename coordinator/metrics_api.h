/* metrics_api.h - the coordinator's metrics: its Prometheus registry, the
 * cluster figures it serves, the per-minute publish counts it writes to
 * Redis, and GET /metrics (the handler is declared in api.h).
 *
 * Per process: HTTP requests by route class and status, publish requests
 * by status, request latency per route class, messages stored by publish/
 * batch/trigger, DLQ index events applied, Redis reconnects and link state
 * (kept by the connections, rconn.h), build info and start time.
 * Cluster-wide: the gauges of a qstats poller (common/qstats_poll.h, the
 * same on every coordinator and worker) on the command connection,
 * refreshed every SF_QSTATS_REFRESH_MS and whenever the Redis link comes
 * up; GET /metrics serves the last figures and never waits on Redis.
 *
 * Per-minute counts: every message stored is also added to the count of its
 * minute, and every SF_HEARTBEAT_MS the counts are added to Redis
 * (HINCRBY P:{stats}:min:<minuteStartMs> published n, + EXPIRE), the way
 * workers add their deliveries.  A count whose write failed is kept and
 * sent again; one whose reply was lost with the link is dropped (counted at
 * most once).
 *
 * Runs on the coordinator's event_base; owned by sf_coord.  Every function
 * accepts m == NULL and does nothing (a coordinator without metrics works). */
#ifndef SF_COORD_METRICS_API_H
#define SF_COORD_METRICS_API_H

#include <stddef.h>

#include "coord.h"

/* The `route` label of stepflow_http_requests_total and
 * stepflow_http_request_duration_seconds. */
typedef enum sf_route_class {
    SF_ROUTE_PUBLISH,
    SF_ROUTE_BATCH,
    SF_ROUTE_TRIGGER,
    SF_ROUTE_DLQ,          /* /v2/dlq*, /v2/workflows/dlq* */
    SF_ROUTE_WORKFLOWS,    /* /v2/workflows/runs*, /v2/workflows/events */
    SF_ROUTE_KEYS,
    SF_ROUTE_FLOW_CONTROL,
    SF_ROUTE_STATS,
    SF_ROUTE_METRICS,
    SF_ROUTE_UI,
    SF_ROUTE_HEALTH,       /* /healthz, /readyz */
    SF_ROUTE_OTHER,        /* no route matched (404, 405) */
    SF_ROUTE_COUNT
} sf_route_class;

/* Status recorded for a request whose client went away before its response
 * was written out (nginx's convention). */
#define SF_HTTP_CLIENT_CLOSED 499

/* Registers every series and starts the timers.  NULL on allocation
 * failure. */
sf_coord_metrics *sf_coord_metrics_new(sf_coord *c);
/* Stops the timers and frees the registry.  Free it after the Redis
 * connection and the HTTP server: their last callbacks still count. */
void sf_coord_metrics_free(sf_coord_metrics *m);

/* One HTTP request answered with "status" after "seconds". */
void sf_coord_metrics_request(sf_coord_metrics *m, sf_route_class route,
                              int status, double seconds);
/* "n" messages were stored by a publish, batch or trigger request. */
void sf_coord_metrics_published(sf_coord_metrics *m, size_t n);
/* The DLQ indexer applied one event. */
void sf_coord_metrics_dlq_indexed(sf_coord_metrics *m);

/* Starts a qstats fetch now unless one is in flight (Redis link up). */
void sf_coord_metrics_refresh(sf_coord_metrics *m);
/* Exports connection "conn" (its owner frees it before the metrics) as
 * stepflow_redis_up / stepflow_redis_reconnects_total{conn="<label>"}
 * (rconn.h). */
void sf_coord_metrics_redis_conn(sf_coord_metrics *m, sf_rconn *conn,
                                 const char *label);
/* Writes the per-minute counts now.  On shutdown: once when the drain
 * starts, and again once it is quiet, for the publishes that finished
 * during it (main.c waits for those writes' replies, bounded). */
void sf_coord_metrics_flush(sf_coord_metrics *m);
/* Shutdown: stops the periodic flush and the cluster-figure refresh, so
 * that no new Redis command keeps the drain busy; counting goes on. */
void sf_coord_metrics_stop(sf_coord_metrics *m);

#endif
