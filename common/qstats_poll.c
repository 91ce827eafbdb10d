/* qstats_poll.c - the cluster gauges and their refresh (see qstats_poll.h).
 *
 * Freeing follows the fetch's "exactly one callback" rule (qstats.h): with
 * a fetch in flight, sf_qstats_poller_free() only marks the poller stopped
 * and the callback frees it, so neither the connection nor the poller has
 * to go first. */
#include "qstats_poll.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "qstats.h"
#include "util.h"

/* The gauges of one queue. */
typedef struct queue_gauges {
    sf_metric *length, *backlog, *pending, *oldest_s, *delayed;
    sf_metric *parked;          /* "msg" only: flow control parks messages */
} queue_gauges;

struct sf_qstats_poller {
    sf_rconn *conn;             /* borrowed */
    char *prefix;               /* owned: the key prefix */
    struct event *timer;        /* owned: every SF_QSTATS_REFRESH_MS */
    int fetching;               /* a fetch is in flight */
    int stopped;                /* freed by the owner: the callback frees */
    int paused;                 /* sf_qstats_poller_stop(): no more fetches */
    int64_t at_ms;              /* when the figures shown were read (the
                                   poller's creation until a fetch
                                   succeeds) */
    int failed;                 /* a registration failed (out of memory) */
    queue_gauges queue[2];      /* "msg", "cb" */
    sf_metric *dlq_total, *dlq_state[SF_CBSTATE_COUNT];
    sf_metric *runs_running, *workers_alive;
    sf_metric *redis_used, *redis_max, *redis_aof, *redis_persist_ok;
};

/* ---- registration ---- */

static sf_metric *gauge(sf_qstats_poller *p, sf_metrics *reg,
                        const char *name, const char *help,
                        const char *labels) {
    sf_metric *s = sf_metric_gauge(reg, name, help, labels);
    if (!s) p->failed = 1;
    return s;
}

static double stats_age_s(void *arg) {
    const sf_qstats_poller *p = arg;
    int64_t age = sf_now_ms() - p->at_ms;
    return age > 0 ? (double)age / 1000.0 : 0;
}

static void register_queue(sf_qstats_poller *p, sf_metrics *reg,
                           queue_gauges *g, const char *name) {
    char l[32];
    snprintf(l, sizeof(l), "queue=\"%s\"", name);
    g->length = gauge(p, reg, "stepflow_queue_length",
                      "Entries in the queue's Redis stream (XLEN).", l);
    g->backlog = gauge(p, reg, "stepflow_queue_backlog",
                       "Stream entries no worker has read yet (the consumer "
                       "group's lag).", l);
    g->pending = gauge(p, reg, "stepflow_queue_pending",
                       "Stream entries read by a worker and not acknowledged "
                       "yet (in flight).", l);
    g->oldest_s = gauge(p, reg, "stepflow_queue_oldest_pending_age_seconds",
                        "Age of the oldest pending entry (since it entered "
                        "the stream); 0 when none.", l);
    g->delayed = gauge(p, reg, "stepflow_queue_delayed",
                       "Messages waiting in the delayed set (delays, "
                       "not-before, retry backoff).", l);
    if (g == &p->queue[0])
        g->parked = gauge(p, reg, "stepflow_queue_parked",
                          "Messages off the stream in a flow-control key's "
                          "wait list.", l);
}

/* A figure of Redis's own, NaN when not reported (-1). */
static void set_known(sf_metric *m, int64_t v) {
    sf_metric_set(m, v < 0 ? NAN : (double)v);
}

/* The Redis figures of "r", or all unknown for NULL. */
static void set_redis(sf_qstats_poller *p, const sf_qstats_redis *r) {
    const sf_qstats_redis none = {-1, -1, -1, -1};
    if (!r) r = &none;
    set_known(p->redis_used, r->used_memory);
    set_known(p->redis_max, r->maxmemory);
    set_known(p->redis_aof, r->aof_enabled);
    set_known(p->redis_persist_ok, r->persistence_ok);
}

/* Registers every gauge; the age gauge, which points at "p", only when
 * all the others exist (a poller that failed leaves nothing pointing at
 * it). */
static void register_all(sf_qstats_poller *p, sf_metrics *reg) {
    char l[64];
    register_queue(p, reg, &p->queue[0], "msg");
    register_queue(p, reg, &p->queue[1], "cb");
    p->dlq_total = gauge(p, reg, "stepflow_dlq_entries", "Entries in the DLQ.",
                         NULL);
    for (int i = 0; i < SF_CBSTATE_COUNT; i++) {
        snprintf(l, sizeof(l), "state=\"%s\"", sf_cbstate_names[i]);
        p->dlq_state[i] =
            gauge(p, reg, "stepflow_dlq_callback_state_entries",
                  "DLQ entries by failure-callback state (NONE: no callback).",
                  l);
    }
    p->runs_running = gauge(p, reg, "stepflow_workflow_runs",
                            "Workflow runs kept, by state.",
                            "state=\"running\"");
    p->workers_alive = gauge(p, reg, "stepflow_workers_alive",
                             "Workers whose heartbeat was seen in the last "
                             "15 s.", NULL);
    p->redis_used = gauge(p, reg, "stepflow_redis_memory_used_bytes",
                          "Memory Redis uses (INFO used_memory); NaN when "
                          "Redis does not say.", NULL);
    p->redis_max = gauge(p, reg, "stepflow_redis_memory_max_bytes",
                         "Redis maxmemory (0: no limit); NaN when Redis does "
                         "not say.", NULL);
    p->redis_aof = gauge(p, reg, "stepflow_redis_aof_enabled",
                         "1 while Redis appends every write to its AOF; NaN "
                         "when Redis does not say.", NULL);
    p->redis_persist_ok = gauge(p, reg, "stepflow_redis_persistence_ok",
                                "1 while Redis reports its last AOF write, "
                                "AOF rewrite and RDB save as ok, 0 when one "
                                "failed (disk full or failing); NaN when "
                                "Redis does not say.", NULL);
    set_redis(p, NULL); /* unknown until a fetch says */
    if (!p->failed &&
        !sf_metric_gauge_fn(reg, "stepflow_stats_age_seconds",
                            "Age of the cluster figures (queues, DLQ, runs, "
                            "workers) this process serves.",
                            NULL, stats_age_s, p))
        p->failed = 1;
}

/* ---- refresh ---- */

static void set_queue(queue_gauges *g, const sf_qstats_queue *q) {
    sf_metric_set(g->length, (double)q->length);
    sf_metric_set(g->backlog, (double)q->backlog);
    sf_metric_set(g->pending, (double)q->pending);
    sf_metric_set(g->oldest_s, (double)q->oldest_pending_ms / 1000.0);
    sf_metric_set(g->delayed, (double)q->delayed);
    sf_metric_set(g->parked, (double)q->parked); /* NULL for "cb": no-op */
}

static void poller_destroy(sf_qstats_poller *p) {
    if (p->timer) event_free(p->timer);
    free(p->prefix);
    free(p);
}

static void on_stats(const sf_qstats *s, const char *err, void *arg) {
    sf_qstats_poller *p = arg;
    p->fetching = 0;
    if (p->stopped) {
        poller_destroy(p);
        return;
    }
    if (!s) { /* the gauges keep the last figures; their age grows */
        sf_debug("qstats_failed err=%s", SF_LOGQ(err));
        return;
    }
    set_queue(&p->queue[0], &s->msg);
    set_queue(&p->queue[1], &s->cb);
    sf_metric_set(p->dlq_total, (double)s->dlq_total);
    for (int i = 0; i < SF_CBSTATE_COUNT; i++)
        sf_metric_set(p->dlq_state[i], (double)s->dlq_by_state[i]);
    sf_metric_set(p->runs_running, (double)s->wf_running);
    sf_metric_set(p->workers_alive, (double)s->workers_alive);
    set_redis(p, &s->redis);
    p->at_ms = s->at_ms;
}

void sf_qstats_poller_refresh(sf_qstats_poller *p) {
    if (!p || p->fetching || p->paused) return;
    if (sf_qstats_fetch(p->conn, p->prefix, on_stats, p) == SF_OK)
        p->fetching = 1;
}

void sf_qstats_poller_stop(sf_qstats_poller *p) {
    if (!p) return;
    p->paused = 1;
    if (p->timer) event_del(p->timer);
}

static void on_timer(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    sf_qstats_poller_refresh(arg);
}

/* ---- life ---- */

sf_qstats_poller *sf_qstats_poller_new(struct event_base *base, sf_rconn *c,
                                       const char *prefix, sf_metrics *reg,
                                       sf_err *err) {
    sf_qstats_poller *p = calloc(1, sizeof(*p));
    if (!p) {
        sf_err_set(err, "out of memory");
        return NULL;
    }
    p->conn = c;
    p->at_ms = sf_now_ms();
    p->prefix = strdup(prefix);
    p->timer = event_new(base, -1, EV_PERSIST, on_timer, p);
    if (p->prefix && p->timer) register_all(p, reg);
    if (!p->prefix || !p->timer || p->failed) {
        sf_err_set(err, "out of memory");
        poller_destroy(p);
        return NULL;
    }
    struct timeval every = {SF_QSTATS_REFRESH_MS / 1000,
                            (SF_QSTATS_REFRESH_MS % 1000) * 1000};
    event_add(p->timer, &every);
    return p;
}

void sf_qstats_poller_free(sf_qstats_poller *p) {
    if (!p) return;
    event_free(p->timer);
    p->timer = NULL;
    if (p->fetching) p->stopped = 1; /* on_stats frees it */
    else poller_destroy(p);
}
