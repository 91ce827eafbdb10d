/* wmetrics.c - registers the worker's series and refreshes the cluster
 * gauges (wmetrics.h). */
#include "wmetrics.h"

#include <stdio.h>
#include <stdlib.h>

#include "log.h"
#include "qstats.h"
#include "util.h"
#include "worker_int.h"

#define RETRY_MS 500 /* the main connection was down: try again soon */

/* The cluster gauges of one queue. */
typedef struct queue_gauges {
    sf_metric *length, *backlog, *pending, *oldest_s, *delayed;
} queue_gauges;

struct sf_wmetrics {
    sf_worker *w; /* borrowed */
    struct event *ev;
    int busy; /* a fetch is out */
    int64_t at_ms; /* when the figures shown were read; 0 = never */
    queue_gauges q[2]; /* by sf_queue_id */
    sf_metric *dlq_total, *dlq_state[SF_CBSTATE_COUNT];
    sf_metric *runs_running, *runs_failed, *workers_alive;
};

/* ---- gauges read at render time ------------------------------------------ */

static double read_inflight(void *arg) {
    return ((const sf_reader *)arg)->inflight;
}

static double read_reader_up(void *arg) {
    return sf_rconn_is_up(((const sf_reader *)arg)->conn);
}

static double read_main_up(void *arg) {
    return sf_rconn_is_up(((const sf_worker *)arg)->main);
}

static double read_stats_age(void *arg) {
    const sf_wmetrics *wm = arg;
    int64_t since = wm->at_ms ? wm->at_ms : wm->w->started_ms;
    int64_t age = sf_now_ms() - since;
    return age > 0 ? (double)age / 1000 : 0;
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
    r->m_reclaimed = counter(
        m, "stepflow_reclaimed_deliveries_total",
        "Pending entries taken over from a consumer that stopped (XAUTOCLAIM).",
        l);
    r->m_malformed =
        counter(m, "stepflow_malformed_entries_total",
                "Stream entries that could not be decoded (sent to the DLQ).",
                l);
}

/* The cluster gauges of queue "tag". */
static void register_queue_gauges(sf_metrics *m, const char *tag,
                                  queue_gauges *g) {
    char l[32];
    snprintf(l, sizeof(l), "queue=\"%s\"", tag);
    g->length = gauge(m, "stepflow_queue_length",
                      "Entries in the queue's stream (XLEN).", l);
    g->backlog = gauge(m, "stepflow_queue_backlog",
                       "Entries not read by any worker yet (group lag).", l);
    g->pending = gauge(m, "stepflow_queue_pending",
                       "Entries read by a worker and not acknowledged yet.", l);
    g->oldest_s = gauge(m, "stepflow_queue_oldest_pending_age_seconds",
                        "Age of the oldest pending entry (0 when none).", l);
    g->delayed = gauge(m, "stepflow_queue_delayed",
                       "Messages waiting for their time (delays, retries).", l);
}

static void register_all(sf_wmetrics *wm) {
    sf_worker *w = wm->w;
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
    const char *reconn_help =
        "Times a Redis connection came back after a loss.";
    const char *up_help = "1 while the Redis connection is up.";
    w->m_reconnects =
        counter(m, "stepflow_redis_reconnects_total", reconn_help,
                "conn=\"main\"");
    gauge_fn(m, "stepflow_redis_up", up_help, "conn=\"main\"", read_main_up, w);
    for (int q = 0; q < 2; q++) {
        sf_reader *r = &w->readers[q];
        snprintf(l, sizeof(l), "conn=\"read-%s\"", r->tag);
        r->m_reconnects =
            counter(m, "stepflow_redis_reconnects_total", reconn_help, l);
        gauge_fn(m, "stepflow_redis_up", up_help, l, read_reader_up, r);
    }
    sf_metric_set(gauge(m, "stepflow_build_info",
                        "Always 1; the labels say what runs.",
                        "version=\"" SF_VERSION "\",process=\"worker\""),
                  1);
    sf_metric_set(gauge(m, "stepflow_process_start_time_seconds",
                        "Start time of the process since the Unix epoch.",
                        NULL),
                  (double)w->started_ms / 1000);
    /* Cluster gauges (qstats.h). */
    register_queue_gauges(m, "msg", &wm->q[SF_QUEUE_MSG]);
    register_queue_gauges(m, "cb", &wm->q[SF_QUEUE_CALLBACK]);
    wm->dlq_total =
        gauge(m, "stepflow_dlq_entries", "Entries in the DLQ.", NULL);
    for (int s = 0; s < SF_CBSTATE_COUNT; s++) {
        snprintf(l, sizeof(l), "state=\"%s\"", sf_cbstate_names[s]);
        wm->dlq_state[s] =
            gauge(m, "stepflow_dlq_callback_state_entries",
                  "DLQ entries by failure-callback state (NONE: no callback).",
                  l);
    }
    const char *runs_help = "Workflow runs by state.";
    wm->runs_running =
        gauge(m, "stepflow_workflow_runs", runs_help, "state=\"running\"");
    wm->runs_failed =
        gauge(m, "stepflow_workflow_runs", runs_help, "state=\"failed\"");
    wm->workers_alive =
        gauge(m, "stepflow_workers_alive",
              "Workers whose heartbeat is recent (15 s).", NULL);
    gauge_fn(m, "stepflow_stats_age_seconds",
             "Age of the cluster figures (queue, DLQ, runs, workers).", NULL,
             read_stats_age, wm);
}

/* ---- cluster figures ----------------------------------------------------- */

static void set_queue(queue_gauges *g, const sf_qstats_queue *q) {
    sf_metric_set(g->length, (double)q->length);
    sf_metric_set(g->backlog, (double)q->backlog);
    sf_metric_set(g->pending, (double)q->pending);
    sf_metric_set(g->oldest_s, (double)q->oldest_pending_ms / 1000);
    sf_metric_set(g->delayed, (double)q->delayed);
}

static void on_qstats(const sf_qstats *s, const char *err, void *arg) {
    sf_wmetrics *wm = arg;
    wm->busy = 0;
    if (wm->w->closing) return;
    if (!s) {
        sf_debug("qstats_error err=\"%s\"", err ? err : "");
        return; /* the gauges keep the last figures; their age grows */
    }
    set_queue(&wm->q[SF_QUEUE_MSG], &s->msg);
    set_queue(&wm->q[SF_QUEUE_CALLBACK], &s->cb);
    sf_metric_set(wm->dlq_total, (double)s->dlq_total);
    for (int i = 0; i < SF_CBSTATE_COUNT; i++)
        sf_metric_set(wm->dlq_state[i], (double)s->dlq_by_state[i]);
    sf_metric_set(wm->runs_running, (double)s->wf_running);
    sf_metric_set(wm->runs_failed, (double)s->wf_failed);
    sf_metric_set(wm->workers_alive, (double)s->workers_alive);
    wm->at_ms = s->at_ms;
}

static void refresh_cb(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    sf_wmetrics *wm = arg;
    sf_worker *w = wm->w;
    if (wm->busy) {
        sf_timer_in(wm->ev, SF_QSTATS_REFRESH_MS);
        return;
    }
    if (sf_qstats_fetch(w->main, w->cfg.prefix, on_qstats, wm) == SF_OK) {
        wm->busy = 1;
        sf_timer_in(wm->ev, SF_QSTATS_REFRESH_MS);
    } else {
        sf_timer_in(wm->ev, RETRY_MS);
    }
}

/* ---- lifecycle ----------------------------------------------------------- */

/* Registers the series (wmetrics.h). */
sf_wmetrics *sf_wmetrics_new(sf_worker *w) {
    sf_wmetrics *wm = calloc(1, sizeof(*wm));
    sf_assert(wm);
    wm->w = w;
    wm->ev = evtimer_new(w->base, refresh_cb, wm);
    sf_assert(wm->ev);
    register_all(wm);
    return wm;
}

/* First fetch as soon as the main connection is up (wmetrics.h). */
void sf_wmetrics_start(sf_wmetrics *wm) { sf_timer_in(wm->ev, RETRY_MS); }

/* Frees "wm" (wmetrics.h). */
void sf_wmetrics_free(sf_wmetrics *wm) {
    if (!wm) return;
    event_free(wm->ev);
    free(wm);
}
