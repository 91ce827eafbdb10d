/* worker.h - the delivery worker: reads messages from Redis streams,
 * delivers them over HTTP and records each outcome.
 *
 * One sf_worker owns everything on one event_base: three Redis connections
 * (a blocking XREADGROUP on each of the two queues, P:{msg}:stream and
 * P:{dlq}:cb:stream, and one for every other command), the HTTP client, the
 * in-flight deliveries, the ack batches and the timers (delayed-set mover,
 * crash reclaim with XAUTOCLAIM, in-flight keep-alive with XCLAIM, ack
 * flush, drain).
 *
 * Delivery is at-least-once.  An entry stays pending in the consumer group
 * until its outcome is written: delivered entries are acked in batches
 * (XACK + XDEL per 128 ids or 5 ms); a retry, a DLQ entry or a callback
 * result is a Lua script whose command the delivery keeps until Redis
 * confirmed it, resending after a reconnect (every script is idempotent).
 * If the process dies, its pending entries are reclaimed by another worker
 * after cfg.claim_idle_ms and delivered again with the same envelope, so a
 * crash does not use up a retry.
 *
 * Backpressure: the message queue has cfg.concurrency slots and the
 * callback queue its own max(1, min(64, concurrency/8)) slots (so neither
 * starves the other); each read asks for at most the free slots.
 *
 * Operations: the worker counts what becomes of each delivery in its
 * metrics (wmetrics.h), serves them with /healthz and /readyz when
 * cfg.metrics_port >= 0 (status.h; ready = the three connections up, the
 * loop turning, not draining), and beats in Redis every 5 s (heartbeat.h);
 * after the drain it leaves the live-worker set.
 *
 * Errors: nothing from Redis or HTTP aborts the process; malformed stream
 * entries go to the DLQ.  Logs one line per notable event. */
#ifndef SF_WORKER_H
#define SF_WORKER_H

#include <event2/event.h>
#include "config.h"
#include "err.h"

typedef struct sf_worker sf_worker;

/* Creates the worker on "base" (borrowed; must outlive it) and starts
 * connecting at once.  "cfg" is copied.  NULL with "err" on failure (the
 * metrics listener cannot bind, for one). */
sf_worker *sf_worker_new(const sf_config *cfg, struct event_base *base,
                         sf_err *err);

/* Begins the graceful stop: no more reads, in-flight deliveries get
 * cfg.drain_ms to finish, the rest is handed back to the stream; the
 * heartbeat's last call removes the worker (up to 1 s); then the event
 * loop is broken.  Calling it again does nothing. */
void sf_worker_stop(sf_worker *w);

/* Frees everything (pending Redis callbacks are dropped, running HTTP
 * transfers cancelled; their entries stay pending and are reclaimed).
 * NULL is a no-op.  Call it after the loop returned. */
void sf_worker_free(sf_worker *w);

#endif
