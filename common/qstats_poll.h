/* qstats_poll.h - the cluster gauges every process exports, kept fresh.
 *
 * Workers and coordinators export the same cluster-wide figures
 * (common/qstats.h), so a scrape of any one process shows the whole
 * cluster (aggregate them with max(), not sum()):
 *
 *   stepflow_queue_length{queue}, stepflow_queue_backlog{queue},
 *   stepflow_queue_pending{queue}, stepflow_queue_delayed{queue},
 *   stepflow_queue_oldest_pending_age_seconds{queue}    queue "msg", "cb"
 *   stepflow_queue_parked{queue="msg"}   flow control's wait lists
 *   stepflow_dlq_entries, stepflow_dlq_callback_state_entries{state}
 *   stepflow_workflow_runs{state="running"}, stepflow_workers_alive
 *   stepflow_stats_age_seconds                 how old the figures are
 *
 * A poller registers them on a registry, then starts an sf_qstats_fetch()
 * on its connection every SF_QSTATS_REFRESH_MS (and on
 * sf_qstats_poller_refresh(), e.g. when the link comes up), at most one
 * in flight, and sets the gauges from the reply.  A scrape never waits on
 * Redis: it shows the last figures; a failed fetch keeps them, and
 * stepflow_stats_age_seconds grows (counted from the poller's creation
 * until a fetch succeeds).
 *
 * Runs on the event_base given; not thread-safe.  Borrowed: the
 * connection (it may be freed before or after the poller) and the
 * registry, whose series the poller sets; the age gauge reads the poller,
 * so free the poller only once the registry is no longer rendered. */
#ifndef SF_QSTATS_POLL_H
#define SF_QSTATS_POLL_H

#include <event2/event.h>

#include "err.h"
#include "metrics.h"
#include "rconn.h"

#define SF_QSTATS_REFRESH_MS 5000

typedef struct sf_qstats_poller sf_qstats_poller;

/* Registers the cluster gauges on "reg" and starts the refresh timer on
 * "base"; the fetches use connection "c" and key prefix "prefix" (copied).
 * NULL with "err" on allocation failure. */
sf_qstats_poller *sf_qstats_poller_new(struct event_base *base, sf_rconn *c,
                                       const char *prefix, sf_metrics *reg,
                                       sf_err *err);
/* Starts a fetch now unless one is in flight, the link is down or the
 * poller is stopped.  NULL is a no-op. */
void sf_qstats_poller_refresh(sf_qstats_poller *p);
/* Stops the refresh timer and makes refreshes no-ops (shutdown: a process
 * draining sends no more reads); the gauges keep the last figures.  A
 * fetch in flight completes.  NULL is a no-op. */
void sf_qstats_poller_stop(sf_qstats_poller *p);
/* Stops the timer and frees; a fetch in flight frees it when it calls
 * back (at the latest when the connection is freed).  NULL is a no-op. */
void sf_qstats_poller_free(sf_qstats_poller *p);

#endif
