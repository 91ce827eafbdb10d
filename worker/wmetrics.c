/* wmetrics.c - registers the worker's series (wmetrics.h). */
#include "wmetrics.h"

#include <stdio.h>

#include "log.h"
#include "util.h"
#include "worker_int.h"

/* ---- gauges read at render time ------------------------------------------ */

static double read_inflight(void *arg) {
    return ((const sf_reader *)arg)->inflight;
}

/* Seconds since the longest-held delivery of queue "arg" was taken by this
 * worker, 0 when none: a walk of the in-flight list (at most
 * STEPFLOW_CONCURRENCY entries) per scrape. */
static double read_oldest_inflight(void *arg) {
    const sf_reader *r = arg;
    int64_t now = sf_mono_us(), oldest = now;
    for (const sf_delivery *d = r->w->active; d; d = d->next)
        if (d->r == r && d->taken_us < oldest) oldest = d->taken_us;
    return (double)(now - oldest) / 1e6;
}

/* ---- registration -------------------------------------------------------- */

static sf_metric *counter(sf_metrics *m, const char *name, const char *help,
                          const char *labels) {
    sf_metric *s = sf_metric_counter(m, name, help, labels);
    sf_assert(s);
    return s;
}

static sf_metric *gauge(sf_metrics *m, const char *name, const char *help,
                        const char *labels) {
    sf_metric *s = sf_metric_gauge(m, name, help, labels);
    sf_assert(s);
    return s;
}

static void gauge_fn(sf_metrics *m, const char *name, const char *help,
                     const char *labels, sf_metric_read_fn *fn, void *arg) {
    sf_assert(sf_metric_gauge_fn(m, name, help, labels, fn, arg));
}

static const char *const dout_labels[SF_DOUT_COUNT] = {
    "success", "retry", "non_retryable", "exhausted", "dropped"};
static const char *const fcb_labels[SF_FCB_COUNT] = {"success", "retry",
                                                     "failed"};

/* The series of queue "r": labels queue="msg" / queue="cb". */
static void register_queue(sf_metrics *m, sf_reader *r) {
    char l[96];
    for (int o = 0; o < SF_DOUT_COUNT; o++) {
        snprintf(l, sizeof(l), "queue=\"%s\",outcome=\"%s\"", r->tag,
                 dout_labels[o]);
        r->m_out[o] = counter(
            m, "stepflow_deliveries_total",
            "Deliveries by queue and outcome (success, retry, non_retryable, "
            "exhausted: failed for good after the last retry, dropped: run "
            "not running or callback cancelled).",
            l);
    }
    snprintf(l, sizeof(l), "queue=\"%s\"", r->tag);
    r->m_latency = sf_metric_histogram(
        m, "stepflow_delivery_duration_seconds",
        "Duration of each HTTP delivery attempt.", l,
        sf_metrics_latency_bounds, sf_metrics_latency_nbounds);
    sf_assert(r->m_latency);
    gauge_fn(m, "stepflow_inflight_deliveries",
             "Deliveries of this worker in flight (slots in use).", l,
             read_inflight, r);
    gauge_fn(m, "stepflow_oldest_inflight_seconds",
             "How long this worker has held its oldest delivery in flight "
             "(since it read or reclaimed the entry; retries and checks "
             "included); 0 when none. An attempt times out within "
             "STEPFLOW_MAX_TIMEOUT_MS, so far more means a stuck delivery.",
             l, read_oldest_inflight, r);
    r->m_reclaimed = counter(
        m, "stepflow_reclaimed_deliveries_total",
        "Pending entries taken over from a consumer that stopped (XAUTOCLAIM).",
        l);
    r->m_malformed =
        counter(m, "stepflow_malformed_entries_total",
                "Stream entries that could not be decoded (sent to the DLQ).",
                l);
}

/* Registers the series of worker "w" (wmetrics.h). */
void sf_wmetrics_register(sf_worker *w) {
    sf_metrics *m = w->metrics;
    char l[96];
    for (int q = 0; q < 2; q++)
        register_queue(m, &w->readers[q]);
    sf_metric_set(gauge(m, "stepflow_worker_concurrency",
                        "Deliveries in flight allowed (STEPFLOW_CONCURRENCY).",
                        NULL),
                  w->cfg.concurrency);
    for (int o = 0; o < SF_FCB_COUNT; o++) {
        snprintf(l, sizeof(l), "outcome=\"%s\"", fcb_labels[o]);
        w->m_fcb[o] = counter(
            m, "stepflow_failure_callbacks_total",
            "Failure-callback results recorded on DLQ entries (failed = "
            "CALLBACK_FAIL).",
            l);
    }
    w->m_reports = counter(m, "stepflow_callback_reports_total",
                           "Upstash-Callback reports queued.", NULL);
    sf_assert(sf_rconn_export_metrics(w->main, m, "main") == SF_OK);
    for (int q = 0; q < 2; q++) {
        sf_reader *r = &w->readers[q];
        snprintf(l, sizeof(l), "read-%s", r->tag);
        sf_assert(sf_rconn_export_metrics(r->conn, m, l) == SF_OK);
    }
    sf_assert(sf_metrics_process_info(m, "worker") == SF_OK);
}
