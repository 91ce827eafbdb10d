/* wmetrics.h - the worker's Prometheus metrics (GET /metrics, status.h).
 *
 * sf_wmetrics_register() registers every series of the worker process on
 * the worker's registry (w->metrics) and stores the update pointers where
 * the code that counts finds them without a lookup: per queue in sf_reader
 * (deliveries by outcome, attempt latency, reclaimed and malformed
 * entries), per process in sf_worker (failure callbacks, Upstash-Callback
 * reports).  In-flight gauges are read from the readers at render time.
 * Series, all prefixed stepflow_:
 *
 *   deliveries_total{queue,outcome}   what became of each delivery, counted
 *                                     once where delivery.c decides it
 *                                     (outcomes: sf_dout, worker_int.h)
 *   delivery_duration_seconds{queue}  histogram of every HTTP attempt
 *   inflight_deliveries{queue}        deliveries alive (slots in use)
 *   worker_concurrency                STEPFLOW_CONCURRENCY
 *   failure_callbacks_total{outcome}  results recorded on DLQ entries
 *                                     (success, retry, failed)
 *   reclaimed_deliveries_total{queue} entries taken over from a dead
 *                                     consumer (XAUTOCLAIM)
 *   malformed_entries_total{queue}    undecodable entries sent to the DLQ
 *   callback_reports_total            Upstash-Callback reports queued
 *   redis_reconnects_total{conn}, redis_up{conn}   main, read-msg, read-cb
 *                                     (kept by the connections, rconn.h)
 *   build_info{version,process}, process_start_time_seconds  (metrics.h)
 *
 * The cluster gauges every process exports are the worker's qstats poller
 * (common/qstats_poll.h), on the same registry.
 *
 * Allocation failures abort, like the rest of the worker. */
#ifndef SF_WMETRICS_H
#define SF_WMETRICS_H

struct sf_worker;

/* Registers the series of worker "w" (borrowed): its registry, its
 * readers' tags and its three Redis connections must exist.  Once, at
 * start-up. */
void sf_wmetrics_register(struct sf_worker *w);

#endif
