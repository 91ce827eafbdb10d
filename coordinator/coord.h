/* coord.h - the coordinator process object that every handler receives.
 *
 * One sf_coord lives in main() for the whole run and owns the event_base's
 * resources of the coordinator: the command connection to Redis, the HTTP
 * server, the DLQ indexer and the metrics (metrics_api.h).  Handlers get
 * it through their void *arg (never through a global).  Key names are
 * precomputed once at start. */
#ifndef SF_COORD_H
#define SF_COORD_H

#include <event2/event.h>
#include <stdint.h>
#include "config.h"
#include "keys.h"
#include "loop_watch.h"
#include "rconn.h"

typedef struct sf_http sf_http;
typedef struct sf_dlq_indexer sf_dlq_indexer;
typedef struct sf_coord_metrics sf_coord_metrics;

typedef struct sf_coord {
    struct event_base *base;    /* borrowed from main() */
    const sf_config *cfg;       /* borrowed from main() */
    sf_rconn *redis;            /* owned: commands (publish, DLQ API) */
    int policy_warned;          /* sf_redis_checks(): eviction warning
                                   logged */
    sf_http *http;              /* owned: the API server */
    sf_dlq_indexer *indexer;    /* owned: DLQ index maintenance */
    sf_coord_metrics *metrics;  /* owned: registry, cluster figures,
                                   per-minute counts (NULL-safe) */
    sf_queue_keys msgq;         /* P:{msg}:stream/delayed/payload */
    sf_queue_keys cbq;          /* P:{dlq}:cb:stream/delayed/payload */
    char dlq_events[SF_KEY_MAX];       /* P:{dlq}:events */
    char dlq_idx_prefix[SF_KEY_MAX];   /* P:{dlq}:idx: */
    int stopping;               /* SIGTERM seen: draining */
    sf_loop_watch loop;         /* stamped by main.c's 1 s timer; /readyz
                                   answers 503 while it says stalled */
} sf_coord;

#endif
