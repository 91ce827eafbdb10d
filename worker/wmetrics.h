/* wmetrics.h - the worker's Prometheus metrics (GET /metrics, status.h).
 *
 * sf_wmetrics_new() registers every series of the worker process on the
 * worker's registry (w->metrics) and stores the update pointers where the
 * code that counts finds them without a lookup: per queue in sf_reader
 * (deliveries by outcome, attempt latency, reclaimed and malformed
 * entries, reconnects of its read connection), per process in sf_worker
 * (failure callbacks, Upstash-Callback reports, reconnects of the main
 * connection).  Gauges that mirror state (in flight, redis_up) are read
 * from the worker at render time.  Series, all prefixed stepflow_:
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
 *   build_info{version,process}, process_start_time_seconds
 *
 * It also keeps the cluster gauges (common/qstats.h), the same figures
 * every process reports: an sf_qstats fetch on the main connection every
 * SF_QSTATS_REFRESH_MS; the gauges keep the last figures and
 * stepflow_stats_age_seconds says how old they are (since the process
 * started while no fetch has succeeded).
 *
 * Runs on the worker's event loop.  Allocation failures abort, like the
 * rest of the worker. */
#ifndef SF_WMETRICS_H
#define SF_WMETRICS_H

#define SF_QSTATS_REFRESH_MS 5000

struct sf_worker;
typedef struct sf_wmetrics sf_wmetrics;

/* Registers the series of worker "w" (borrowed; its registry and readers'
 * tags must be set) and returns the cluster-gauge refresher, not started. */
sf_wmetrics *sf_wmetrics_new(struct sf_worker *w);
/* Starts the refresh timer (once w->main exists). */
void sf_wmetrics_start(sf_wmetrics *wm);
/* Stops the timer and frees; NULL is a no-op.  Call it after the main
 * connection is freed (a fetch in flight calls back then). */
void sf_wmetrics_free(sf_wmetrics *wm);

#endif
