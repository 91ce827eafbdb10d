/* metrics.h - a process's Prometheus metrics and their text exposition.
 *
 * A registry holds series: counters, gauges (set, added to, or read from a
 * callback at render time) and histograms with fixed bucket bounds.  Every
 * series is registered once (name, help, a label set written by the caller
 * as Prometheus text, e.g. `queue="msg",outcome="success"`, or NULL) and
 * then updated through the returned pointer: an update is a few
 * instructions, no allocation, no lookup, so it can sit on the delivery hot
 * path.
 *
 * Label sets are copied as given, not escaped: every label value is text
 * of ours (queue tags, outcome and route names, callback states, status
 * codes, connection names, the version), never a consumer name, a
 * flow-control key, a URL or anything else from outside, which would also
 * make the number of series unbounded.  Keep it that way.
 *
 * sf_metrics_render() writes the text exposition format 0.0.4: one # HELP
 * (escaped) and # TYPE per metric name (series of one name are grouped
 * even when registered apart), histograms as cumulative _bucket{le=...},
 * _sum and _count.  Names follow Prometheus conventions:
 * stepflow_..._total for counters, base units (_seconds, _bytes).
 *
 * Single-threaded: both processes run one event loop.  The registry owns
 * its series; sf_metrics_free() frees them all. */
#ifndef SF_METRICS_H
#define SF_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "util.h"

typedef struct sf_metrics sf_metrics;
typedef struct sf_metric sf_metric;

/* A gauge read at render time ("arg" as registered). */
typedef double sf_metric_read_fn(void *arg);

sf_metrics *sf_metrics_new(void);
void sf_metrics_free(sf_metrics *m);

/* Registers one series.  "name" and "help" must be string literals (or
 * otherwise outlive the registry); "labels" is copied.  Returns NULL only
 * on allocation failure; the update functions accept NULL and do nothing. */
sf_metric *sf_metric_counter(sf_metrics *m, const char *name, const char *help,
                             const char *labels);
sf_metric *sf_metric_gauge(sf_metrics *m, const char *name, const char *help,
                           const char *labels);
sf_metric *sf_metric_gauge_fn(sf_metrics *m, const char *name,
                              const char *help, const char *labels,
                              sf_metric_read_fn *fn, void *arg);
/* "bounds": "n" increasing upper bounds (copied); +Inf is implied.  On
 * allocation failure nothing stays registered (NULL). */
sf_metric *sf_metric_histogram(sf_metrics *m, const char *name,
                               const char *help, const char *labels,
                               const double *bounds, size_t n);

/* Counter: adds "v" (>= 0).  Gauge: adds "v" (may be negative). */
void sf_metric_add(sf_metric *s, double v);
/* Gauge: sets the value. */
void sf_metric_set(sf_metric *s, double v);
/* Histogram: records one observation. */
void sf_metric_observe(sf_metric *s, double v);
/* The current value of a counter or gauge (tests, /v2/stats). */
double sf_metric_value(const sf_metric *s);

/* Registers what every stepflow process says about itself:
 * stepflow_build_info{version="<SF_VERSION>",process="<process>"} 1 and
 * stepflow_process_start_time_seconds (the time of this call, so call it
 * as the process starts).  "process" is a label value of our own ("worker",
 * "coordinator"; no quotes or backslashes).  SF_ERR on allocation
 * failure. */
sf_status sf_metrics_process_info(sf_metrics *m, const char *process);

/* Appends the exposition of every series to "out". */
void sf_metrics_render(const sf_metrics *m, sf_buf *out);

/* The latency buckets every HTTP histogram uses (seconds). */
extern const double sf_metrics_latency_bounds[];
extern const size_t sf_metrics_latency_nbounds;

#endif
