/* metrics_api.c - the coordinator's metrics and GET /metrics (see
 * metrics_api.h for what is counted and when Redis is written). */
#include "metrics_api.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "dlq_indexer.h"
#include "keys.h"
#include "log.h"
#include "metrics.h"
#include "qstats.h"
#include "util.h"

/* Meant to come from project() in CMakeLists.txt (as for the worker); the
 * fallback must follow it until coordinator/CMakeLists.txt defines it. */

#define MAX_CODES 24      /* distinct statuses counted per route class */
#define MINUTE_MS 60000
#define MINUTE_SLOTS 8    /* minutes whose publish counts await their write */

static const char *const route_names[SF_ROUTE_COUNT] = {
    [SF_ROUTE_PUBLISH] = "publish",   [SF_ROUTE_BATCH] = "batch",
    [SF_ROUTE_TRIGGER] = "trigger",   [SF_ROUTE_DLQ] = "dlq",
    [SF_ROUTE_WORKFLOWS] = "workflows", [SF_ROUTE_KEYS] = "keys",
    [SF_ROUTE_FLOW_CONTROL] = "flow_control", [SF_ROUTE_STATS] = "stats",
    [SF_ROUTE_METRICS] = "metrics",   [SF_ROUTE_UI] = "ui",
    [SF_ROUTE_HEALTH] = "health",     [SF_ROUTE_OTHER] = "other",
};

/* A counter of one status, registered the first time the status is seen. */
typedef struct code_series {
    int code;
    sf_metric *m;       /* NULL: free slot */
} code_series;

/* One minute's publish count on its way to Redis. */
typedef struct minute_count {
    int64_t minute_ms;  /* the minute's start; 0 = free slot */
    int64_t n;          /* counted and not sent yet */
} minute_count;

/* One HINCRBY in flight: what to put back if Redis refuses it. */
typedef struct minute_write {
    sf_coord_metrics *m;
    int64_t minute_ms;
    int64_t n;
} minute_write;

typedef struct queue_gauges {
    sf_metric *length, *backlog, *pending, *oldest, *delayed;
} queue_gauges;

struct sf_coord_metrics {
    sf_coord *coord;                /* borrowed: the owner */
    sf_metrics *reg;                /* owned: every series below */
    code_series http_codes[SF_ROUTE_COUNT][MAX_CODES];
    code_series publish_codes[MAX_CODES];
    sf_metric *latency[SF_ROUTE_COUNT];
    sf_metric *published, *dlq_indexed;
    sf_metric *reconnects[2], *redis_up[2];  /* conn "main", "indexer" */
    uint64_t reconnects_seen[2];    /* already added to the counters */
    queue_gauges queue[2];          /* "msg", "cb" */
    sf_metric *dlq_total, *dlq_state[SF_CBSTATE_COUNT];
    sf_metric *wf_running, *wf_failed, *workers_alive;
    int64_t stats_at_ms;            /* when the figures were read (before
                                       the first fetch: process start) */
    int fetching;                   /* a qstats fetch is in flight */
    minute_count minutes[MINUTE_SLOTS];
    struct event *refresh_ev;       /* owned: qstats every 5 s */
    struct event *flush_ev;         /* owned: per-minute counts */
};

/* ---- registration ---- */

static double stats_age_s(void *arg) {
    const sf_coord_metrics *m = arg;
    int64_t age = sf_now_ms() - m->stats_at_ms;
    return age > 0 ? (double)age / 1000.0 : 0;
}

static void register_queue(sf_coord_metrics *m, int q, const char *name) {
    char l[32];
    snprintf(l, sizeof(l), "queue=\"%s\"", name);
    queue_gauges *g = &m->queue[q];
    g->length = sf_metric_gauge(m->reg, "stepflow_queue_length",
                                "Entries in the queue's Redis stream (XLEN).", l);
    g->backlog = sf_metric_gauge(m->reg, "stepflow_queue_backlog",
                                 "Stream entries no worker has read yet (the "
                                 "consumer group's lag).", l);
    g->pending = sf_metric_gauge(m->reg, "stepflow_queue_pending",
                                 "Stream entries read by a worker and not "
                                 "acknowledged yet (in flight).", l);
    g->oldest = sf_metric_gauge(m->reg,
                                "stepflow_queue_oldest_pending_age_seconds",
                                "Age of the oldest pending entry (since it "
                                "entered the stream); 0 when none.", l);
    g->delayed = sf_metric_gauge(m->reg, "stepflow_queue_delayed",
                                 "Messages waiting in the delayed set (delays, "
                                 "not-before, retry backoff).", l);
}

static void register_all(sf_coord_metrics *m) {
    sf_metrics *r = m->reg;
    char l[160];
    m->published = sf_metric_counter(r, "stepflow_published_messages_total",
                                     "Messages stored by publish, batch and "
                                     "trigger requests.", NULL);
    m->dlq_indexed = sf_metric_counter(r, "stepflow_dlq_index_events_total",
                                       "DLQ change events this coordinator's "
                                       "indexer applied.", NULL);
    static const char *const conns[2] = {"main", "indexer"};
    for (int i = 0; i < 2; i++) {
        snprintf(l, sizeof(l), "conn=\"%s\"", conns[i]);
        m->reconnects[i] = sf_metric_counter(
            r, "stepflow_redis_reconnects_total",
            "Successful connections to Redis after the first, by connection.", l);
        m->redis_up[i] = sf_metric_gauge(r, "stepflow_redis_up",
                                         "1 while the connection to Redis is up.",
                                         l);
    }
    sf_metric_set(sf_metric_gauge(r, "stepflow_build_info",
                                  "Always 1; the labels say what runs.",
                                  "version=\"" SF_VERSION "\",process=\"coordinator\""),
                  1);
    sf_metric_set(sf_metric_gauge(r, "stepflow_process_start_time_seconds",
                                  "When the process started, seconds since "
                                  "the Unix epoch.", NULL),
                  (double)m->stats_at_ms / 1000.0);
    register_queue(m, 0, "msg");
    register_queue(m, 1, "cb");
    m->dlq_total = sf_metric_gauge(r, "stepflow_dlq_entries",
                                   "Entries in the DLQ.", NULL);
    for (int i = 0; i < SF_CBSTATE_COUNT; i++) {
        snprintf(l, sizeof(l), "state=\"%s\"", sf_cbstate_names[i]);
        m->dlq_state[i] = sf_metric_gauge(
            r, "stepflow_dlq_callback_state_entries",
            "DLQ entries by failure-callback state (NONE: no callback).", l);
    }
    m->wf_running = sf_metric_gauge(r, "stepflow_workflow_runs",
                                    "Workflow runs kept, by state.",
                                    "state=\"running\"");
    m->wf_failed = sf_metric_gauge(r, "stepflow_workflow_runs",
                                   "Workflow runs kept, by state.",
                                   "state=\"failed\"");
    m->workers_alive = sf_metric_gauge(r, "stepflow_workers_alive",
                                       "Workers whose heartbeat was seen in "
                                       "the last 15 s.", NULL);
    sf_metric_gauge_fn(r, "stepflow_stats_age_seconds",
                       "Age of the cluster figures (queues, DLQ, runs, "
                       "workers) this process serves.", NULL, stats_age_s, m);
    for (int i = 0; i < SF_ROUTE_COUNT; i++) {
        snprintf(l, sizeof(l), "route=\"%s\"", route_names[i]);
        m->latency[i] = sf_metric_histogram(
            r, "stepflow_http_request_duration_seconds",
            "Time from a request's arrival to its response, by route.", l,
            sf_metrics_latency_bounds, sf_metrics_latency_nbounds);
    }
    /* The common statuses exist from the start (Prometheus prefers series
     * that do not appear out of nowhere); others are added when seen. */
    m->publish_codes[0].code = 200;
    m->publish_codes[0].m = sf_metric_counter(
        r, "stepflow_publish_requests_total",
        "Publish, batch and trigger requests, by response status.", "code=\"200\"");
}

/* The counter of "code" in "tab", registered on first use; NULL when the
 * table is full (not counted) or out of memory. */
static sf_metric *code_counter(sf_coord_metrics *m, code_series *tab,
                               const char *name, const char *help,
                               const char *route, int code) {
    for (int i = 0; i < MAX_CODES; i++) {
        if (tab[i].m && tab[i].code == code) return tab[i].m;
        if (tab[i].m) continue;
        char l[96];
        if (route)
            snprintf(l, sizeof(l), "route=\"%s\",code=\"%d\"", route, code);
        else
            snprintf(l, sizeof(l), "code=\"%d\"", code);
        tab[i].code = code;
        tab[i].m = sf_metric_counter(m->reg, name, help, l);
        return tab[i].m;
    }
    return NULL;
}

/* ---- counting ---- */

void sf_coord_metrics_request(sf_coord_metrics *m, sf_route_class route,
                              int status, double seconds) {
    if (!m || route < 0 || route >= SF_ROUTE_COUNT) return;
    sf_metric_add(code_counter(m, m->http_codes[route],
                               "stepflow_http_requests_total",
                               "HTTP requests answered, by route and status.",
                               route_names[route], status),
                  1);
    sf_metric_observe(m->latency[route], seconds);
    if (route == SF_ROUTE_PUBLISH || route == SF_ROUTE_BATCH ||
        route == SF_ROUTE_TRIGGER)
        sf_metric_add(code_counter(m, m->publish_codes,
                                   "stepflow_publish_requests_total",
                                   "Publish, batch and trigger requests, by "
                                   "response status.",
                                   NULL, status),
                      1);
}

/* Adds "n" to the per-minute count of "minute_ms". */
static void minute_add(sf_coord_metrics *m, int64_t minute_ms, int64_t n) {
    minute_count *free_slot = NULL, *oldest = NULL;
    for (int i = 0; i < MINUTE_SLOTS; i++) {
        minute_count *s = &m->minutes[i];
        if (s->minute_ms == minute_ms) {
            s->n += n;
            return;
        }
        if (s->minute_ms == 0 && !free_slot) free_slot = s;
        if (s->minute_ms != 0 && (!oldest || s->minute_ms < oldest->minute_ms))
            oldest = s;
    }
    if (!free_slot) { /* Redis down for minutes: the oldest count goes */
        sf_warn("stats_minute_dropped minute=%lld published=%lld",
                (long long)oldest->minute_ms, (long long)oldest->n);
        free_slot = oldest;
    }
    free_slot->minute_ms = minute_ms;
    free_slot->n = n;
}

void sf_coord_metrics_published(sf_coord_metrics *m, size_t n) {
    if (!m || n == 0) return;
    sf_metric_add(m->published, (double)n);
    int64_t now = sf_now_ms();
    minute_add(m, now - now % MINUTE_MS, (int64_t)n);
}

void sf_coord_metrics_dlq_indexed(sf_coord_metrics *m) {
    if (m) sf_metric_add(m->dlq_indexed, 1);
}

/* ---- the cluster figures ---- */

static void set_queue(queue_gauges *g, const sf_qstats_queue *q) {
    sf_metric_set(g->length, (double)q->length);
    sf_metric_set(g->backlog, (double)q->backlog);
    sf_metric_set(g->pending, (double)q->pending);
    sf_metric_set(g->oldest, (double)q->oldest_pending_ms / 1000.0);
    sf_metric_set(g->delayed, (double)q->delayed);
}

static void on_stats(const sf_qstats *s, const char *err, void *arg) {
    sf_coord_metrics *m = arg;
    m->fetching = 0;
    if (!s) {
        sf_debug("qstats_failed err=\"%s\"", err);
        return;
    }
    set_queue(&m->queue[0], &s->msg);
    set_queue(&m->queue[1], &s->cb);
    sf_metric_set(m->dlq_total, (double)s->dlq_total);
    for (int i = 0; i < SF_CBSTATE_COUNT; i++)
        sf_metric_set(m->dlq_state[i], (double)s->dlq_by_state[i]);
    sf_metric_set(m->wf_running, (double)s->wf_running);
    sf_metric_set(m->wf_failed, (double)s->wf_failed);
    sf_metric_set(m->workers_alive, (double)s->workers_alive);
    m->stats_at_ms = s->at_ms;
}

void sf_coord_metrics_refresh(sf_coord_metrics *m) {
    if (!m || m->fetching) return;
    sf_coord *c = m->coord;
    if (sf_qstats_fetch(c->redis, c->cfg->prefix, on_stats, m) == SF_OK)
        m->fetching = 1;
}

static void on_refresh_timer(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    sf_coord_metrics_refresh(arg);
}

/* ---- per-minute counts ---- */

static void on_minute_written(redisAsyncContext *ac, void *reply, void *privdata) {
    (void)ac;
    minute_write *w = privdata;
    redisReply *r = reply;
    if (!r) {
        /* The link dropped: Redis may or may not have applied it. */
        sf_debug("stats_minute_lost minute=%lld published=%lld",
                 (long long)w->minute_ms, (long long)w->n);
    } else if (r->type == REDIS_REPLY_ERROR) {
        sf_warn("stats_minute_failed minute=%lld err=\"%s\"",
                (long long)w->minute_ms, r->str);
        minute_add(w->m, w->minute_ms, w->n);
    }
    free(w);
}

void sf_coord_metrics_flush(sf_coord_metrics *m) {
    if (!m) return;
    sf_coord *c = m->coord;
    int64_t now = sf_now_ms();
    int64_t this_minute = now - now % MINUTE_MS;
    for (int i = 0; i < MINUTE_SLOTS; i++) {
        minute_count *s = &m->minutes[i];
        if (s->minute_ms == 0) continue;
        if (s->n > 0) {
            minute_write *w = malloc(sizeof(*w));
            if (!w) return;
            *w = (minute_write){m, s->minute_ms, s->n};
            char key[SF_KEY_MAX], n[32], ttl[32];
            sf_keys_stats_minute(c->cfg->prefix, s->minute_ms, key, sizeof(key));
            snprintf(n, sizeof(n), "%lld", (long long)s->n);
            snprintf(ttl, sizeof(ttl), "%d", SF_STATS_MINUTE_TTL_S);
            /* HINCRBY P:{stats}:min:<ms> published <n>; EXPIRE <key> <ttl> */
            const char *incr[] = {"HINCRBY", key, "published", n};
            size_t incr_len[] = {7, strlen(key), 9, strlen(n)};
            const char *exp[] = {"EXPIRE", key, ttl};
            size_t exp_len[] = {6, strlen(key), strlen(ttl)};
            if (sf_rconn_command(c->redis, on_minute_written, w, 4, incr,
                                 incr_len) != SF_OK) {
                free(w); /* down: kept for the next flush */
                return;
            }
            sf_rconn_command(c->redis, NULL, NULL, 3, exp, exp_len);
            s->n = 0;
        }
        if (s->minute_ms != this_minute) s->minute_ms = 0;
    }
}

static void on_flush_timer(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    sf_coord_metrics_flush(arg);
}

/* ---- life ---- */

sf_coord_metrics *sf_coord_metrics_new(sf_coord *c) {
    sf_coord_metrics *m = calloc(1, sizeof(*m));
    if (!m) return NULL;
    m->coord = c;
    m->stats_at_ms = sf_now_ms();
    m->reg = sf_metrics_new();
    m->refresh_ev = event_new(c->base, -1, EV_PERSIST, on_refresh_timer, m);
    m->flush_ev = event_new(c->base, -1, EV_PERSIST, on_flush_timer, m);
    if (!m->reg || !m->refresh_ev || !m->flush_ev) {
        sf_coord_metrics_free(m);
        return NULL;
    }
    register_all(m);
    struct timeval refresh = {SF_QSTATS_REFRESH_MS / 1000,
                              (SF_QSTATS_REFRESH_MS % 1000) * 1000};
    struct timeval flush = {SF_HEARTBEAT_MS / 1000, (SF_HEARTBEAT_MS % 1000) * 1000};
    event_add(m->refresh_ev, &refresh);
    event_add(m->flush_ev, &flush);
    return m;
}

void sf_coord_metrics_free(sf_coord_metrics *m) {
    if (!m) return;
    if (m->refresh_ev) event_free(m->refresh_ev);
    if (m->flush_ev) event_free(m->flush_ev);
    sf_metrics_free(m->reg);
    free(m);
}

/* ---- GET /metrics ---- */

/* Brings the Redis link figures up to date (read at scrape time). */
static void update_links(sf_coord_metrics *m) {
    sf_coord *c = m->coord;
    sf_rconn *conns[2] = {c->redis, sf_dlq_indexer_conn(c->indexer)};
    for (int i = 0; i < 2; i++) {
        uint64_t n = conns[i] ? sf_rconn_reconnects(conns[i]) : 0;
        if (n > m->reconnects_seen[i]) {
            sf_metric_add(m->reconnects[i], (double)(n - m->reconnects_seen[i]));
            m->reconnects_seen[i] = n;
        }
        sf_metric_set(m->redis_up[i], sf_rconn_is_up(conns[i]) ? 1 : 0);
    }
}

/* GET /metrics: the text exposition (no auth: scraped on the pod network). */
void sf_api_metrics(sf_coord *c, struct evhttp_request *req, const char *tail) {
    (void)tail;
    sf_coord_metrics *m = c->metrics;
    if (!m) {
        sf_http_reply_error(req, 503, "metrics unavailable");
        return;
    }
    update_links(m);
    sf_buf text;
    sf_buf_init(&text);
    sf_metrics_render(m->reg, &text);
    struct evbuffer *out = evbuffer_new();
    if (!out || (text.len && evbuffer_add(out, text.data, text.len) != 0)) {
        if (out) evbuffer_free(out);
        sf_buf_cleanup(&text);
        sf_http_reply_error(req, 500, "out of memory");
        return;
    }
    sf_buf_cleanup(&text);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      "text/plain; version=0.0.4; charset=utf-8");
    evhttp_send_reply(req, 200, "OK", out);
    evbuffer_free(out);
}
