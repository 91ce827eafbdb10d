/* metrics_api.c - the coordinator's metrics and GET /metrics (see
 * metrics_api.h for what is counted and when Redis is written). */
#include "metrics_api.h"

#include <event2/event.h>
#include <event2/http.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "keys.h"
#include "log.h"
#include "metrics.h"
#include "qstats.h"
#include "qstats_poll.h"
#include "util.h"

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

struct sf_coord_metrics {
    sf_coord *coord;                /* borrowed: the owner */
    sf_metrics *reg;                /* owned: every series below */
    code_series http_codes[SF_ROUTE_COUNT][MAX_CODES];
    code_series publish_codes[MAX_CODES];
    sf_metric *latency[SF_ROUTE_COUNT];
    sf_metric *published, *dlq_indexed;
    sf_qstats_poller *qstats;       /* owned: the cluster gauges */
    minute_count minutes[MINUTE_SLOTS];
    struct event *flush_ev;         /* owned: per-minute counts */
};

/* ---- registration ---- */

static void register_all(sf_coord_metrics *m) {
    sf_metrics *r = m->reg;
    char l[160];
    m->published = sf_metric_counter(r, "stepflow_published_messages_total",
                                     "Messages stored by publish, batch and "
                                     "trigger requests.", NULL);
    m->dlq_indexed = sf_metric_counter(r, "stepflow_dlq_index_events_total",
                                       "DLQ change events this coordinator's "
                                       "indexer applied.", NULL);
    sf_metrics_process_info(r, "coordinator");
    sf_coord_metrics_redis_conn(m, m->coord->redis, "main");
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

void sf_coord_metrics_refresh(sf_coord_metrics *m) {
    if (m) sf_qstats_poller_refresh(m->qstats);
}

void sf_coord_metrics_redis_conn(sf_coord_metrics *m, sf_rconn *conn,
                                 const char *label) {
    if (m) sf_rconn_export_metrics(conn, m->reg, label);
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
        sf_warn("stats_minute_failed minute=%lld err=%s",
                (long long)w->minute_ms, SF_LOGQ(r->str));
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

void sf_coord_metrics_stop(sf_coord_metrics *m) {
    if (!m) return;
    event_del(m->flush_ev);
    sf_qstats_poller_stop(m->qstats);
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
    m->reg = sf_metrics_new();
    m->flush_ev = event_new(c->base, -1, EV_PERSIST, on_flush_timer, m);
    if (!m->reg || !m->flush_ev) {
        sf_coord_metrics_free(m);
        return NULL;
    }
    register_all(m);
    m->qstats = sf_qstats_poller_new(c->base, c->redis, c->cfg->prefix,
                                     m->reg, NULL);
    if (!m->qstats) {
        sf_coord_metrics_free(m);
        return NULL;
    }
    struct timeval flush = {SF_HEARTBEAT_MS / 1000, (SF_HEARTBEAT_MS % 1000) * 1000};
    event_add(m->flush_ev, &flush);
    return m;
}

void sf_coord_metrics_free(sf_coord_metrics *m) {
    if (!m) return;
    sf_qstats_poller_free(m->qstats);
    if (m->flush_ev) event_free(m->flush_ev);
    sf_metrics_free(m->reg);
    free(m);
}

/* ---- GET /metrics ---- */

/* GET /metrics: the text exposition (no auth: scraped on the pod network). */
void sf_api_metrics(sf_coord *c, struct evhttp_request *req, const char *tail) {
    (void)tail;
    sf_coord_metrics *m = c->metrics;
    if (!m) {
        sf_http_reply_error(req, 503, "metrics unavailable");
        return;
    }
    sf_http_send_metrics(req, m->reg);
}
