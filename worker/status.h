/* status.h - the worker's operations listener (STEPFLOW_METRICS_LISTEN):
 *
 *   GET /metrics   200, the registry in Prometheus text format 0.0.4
 *   GET /healthz   200 {"status":"ok"} while the process runs its loop
 *   GET /readyz    200 {"status":"ready"}, or 503 {"error":"<why>"} with
 *                  the reason the worker's ready function gives
 *   anything else  404 {"error":"not found"} (405 for another method on
 *                  one of these paths); HEAD works like GET
 *
 * An evhttp server on the worker's event_base.  Requests are bounded
 * (headers 8 KiB, body 4 KiB; evhttp answers larger ones with a 4xx and
 * closes), idle connections are closed after 10 s, and nothing a client
 * sends can abort the process.  No authentication: bind it to an address
 * only the scraper reaches.
 *
 * Not thread-safe; replies are written from the loop.  The registry and
 * the ready function's argument are borrowed and must outlive the
 * listener. */
#ifndef SF_STATUS_H
#define SF_STATUS_H

#include <event2/event.h>

#include "err.h"
#include "metrics.h"

typedef struct sf_status_srv sf_status_srv;

/* Why the process is not ready (a static string), or NULL when it is. */
typedef const char *sf_status_ready_fn(void *arg);

/* Listens on "host":"port" (0 = any free port) and logs
 * `metrics_listen addr=<host>:<port>`.  NULL with "err" when it cannot
 * bind. */
sf_status_srv *sf_status_srv_new(struct event_base *base, const char *host,
                                 int port, const sf_metrics *metrics,
                                 sf_status_ready_fn *ready, void *arg,
                                 sf_err *err);
/* The port it listens on (the chosen one when asked for 0). */
int sf_status_srv_port(const sf_status_srv *s);
/* Closes the listener and every connection (no callback runs after);
 * NULL is a no-op. */
void sf_status_srv_free(sf_status_srv *s);

#endif
