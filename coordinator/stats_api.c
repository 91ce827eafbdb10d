/* stats_api.c - GET /v2/stats: the operator overview the dashboard and the
 * CLI read (a stepflow extension; see api.h).
 *
 * {time, queues: {messages, callbacks}: {length, backlog, pending,
 *  oldestPendingAgeSeconds, delayed, parked}, dlq: {total,
 *  byFailureFunctionState},
 *  workflows: {running}, workersAlive, workers: [...],
 *  perMinute: [{minute, delivered, retried, failed, published}] x 60}
 *
 * Read fresh from Redis on every request, all pipelined on the command
 * connection: one qstats fetch (common/qstats.h), ZREVRANGE of the workers
 * zset (the SF_STATS_MAX_WORKERS most recently seen) and then one HGETALL
 * per worker, and one HMGET per minute bucket of the last hour.  A worker
 * whose hash expired (it stopped beating over 60 s ago) is still listed
 * from the zset, not alive, until the heartbeat script prunes it (1 h).
 * Any failed read (Redis down, the link lost midway, an error reply)
 * answers 503; the request is answered exactly once, when the last reply
 * is in.  Failed runs have no count here: they are DLQ entries (qstats.h
 * says why). */
#include "api.h"

#include <stdlib.h>
#include <string.h>

#include "keys.h"
#include "log.h"
#include "qstats.h"
#include "util.h"

#define SF_STATS_MAX_WORKERS 1000
#define MINUTES 60
#define MINUTE_MS 60000

/* The fields of a per-minute bucket, in HMGET order. */
static const char *const minute_fields[] = {"delivered", "retried", "failed",
                                            "published"};
#define MINUTE_FIELDS 4

typedef struct stats_req stats_req;

/* One worker of the zset, and then its hash. */
typedef struct worker_rec {
    stats_req *sr;
    char *name;          /* owned: the zset member (consumer name) */
    int64_t seen_ms;     /* its zset score: last heartbeat */
    json_t *obj;         /* owned: built from the HGETALL reply */
} worker_rec;

typedef struct minute_rec {
    stats_req *sr;
    int idx;             /* 0 = oldest */
} minute_rec;

struct stats_req {
    sf_coord *c;
    struct evhttp_request *req;
    int outstanding;     /* replies expected, +1 while sending */
    char err[200];       /* the first failure; "" when none */
    int64_t now_ms;
    int64_t first_minute_ms;
    sf_qstats q;         /* valid once the fetch called back without error */
    worker_rec *workers; /* owned */
    size_t n_workers;
    minute_rec minute_slots[MINUTES];
    int64_t minutes[MINUTES][MINUTE_FIELDS];
};

static void stats_fail(stats_req *sr, const char *what, const char *detail) {
    if (sr->err[0]) return;
    snprintf(sr->err, sizeof(sr->err), "%s%s", what, detail ? detail : "");
}

/* 1 (and the failure remembered) when "r" is no usable reply. */
static int reply_failed(stats_req *sr, const redisReply *r) {
    if (!r) {
        stats_fail(sr, "redis unavailable", NULL);
        return 1;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        stats_fail(sr, "redis error: ", r->str);
        return 1;
    }
    return 0;
}

static void stats_free(stats_req *sr) {
    for (size_t i = 0; i < sr->n_workers; i++) {
        free(sr->workers[i].name);
        json_decref(sr->workers[i].obj);
    }
    free(sr->workers);
    free(sr);
}

/* A JSON string of [s, s+len); "" when it is not UTF-8 (names come from
 * other processes' configuration). */
static json_t *jstr(const char *s, size_t len) {
    return s && sf_utf8_valid(s, len) ? json_stringn(s, len) : json_string("");
}

/* One queue's figures; "parked" (flow control's wait lists) is always 0
 * for the callback queue, kept for one shape. */
static json_t *queue_json(const sf_qstats_queue *q) {
    return json_pack("{s:I,s:I,s:I,s:I,s:I,s:I}", "length", (json_int_t)q->length,
                     "backlog", (json_int_t)q->backlog, "pending",
                     (json_int_t)q->pending, "oldestPendingAgeSeconds",
                     (json_int_t)(q->oldest_pending_ms / 1000), "delayed",
                     (json_int_t)q->delayed, "parked", (json_int_t)q->parked);
}

static int by_name(const void *a, const void *b) {
    const worker_rec *x = a, *y = b;
    return strcmp(x->name, y->name);
}

/* A Redis figure, null when Redis did not report it (-1). */
static json_t *known(int64_t v) {
    return v < 0 ? json_null() : json_integer((json_int_t)v);
}

static json_t *build(stats_req *sr) {
    const sf_qstats *q = &sr->q;
    json_t *states = json_object();
    for (int i = 0; i < SF_CBSTATE_COUNT; i++)
        json_object_set_new(states, sf_cbstate_names[i],
                            json_integer((json_int_t)q->dlq_by_state[i]));
    qsort(sr->workers, sr->n_workers, sizeof(*sr->workers), by_name);
    json_t *workers = json_array();
    for (size_t i = 0; i < sr->n_workers; i++)
        if (sr->workers[i].obj)
            json_array_append(workers, sr->workers[i].obj);
    json_t *per_minute = json_array();
    for (int i = 0; i < MINUTES; i++) {
        const int64_t *v = sr->minutes[i];
        json_array_append_new(
            per_minute,
            json_pack("{s:I,s:I,s:I,s:I,s:I}", "minute",
                      (json_int_t)(sr->first_minute_ms + (int64_t)i * MINUTE_MS),
                      "delivered", (json_int_t)v[0], "retried", (json_int_t)v[1],
                      "failed", (json_int_t)v[2], "published", (json_int_t)v[3]));
    }
    json_t *redis = json_pack("{s:o,s:o,s:o,s:o}", "usedMemoryBytes",
                              known(q->redis.used_memory), "maxMemoryBytes",
                              known(q->redis.maxmemory), "aofEnabled",
                              known(q->redis.aof_enabled), "persistenceOk",
                              known(q->redis.persistence_ok));
    return json_pack("{s:I,s:{s:o,s:o},s:{s:I,s:o},s:{s:I},s:I,s:o,s:o,s:o}",
                     "time", (json_int_t)sr->now_ms,
                     "queues", "messages", queue_json(&q->msg), "callbacks",
                     queue_json(&q->cb),
                     "dlq", "total", (json_int_t)q->dlq_total,
                     "byFailureFunctionState", states,
                     "workflows", "running", (json_int_t)q->wf_running,
                     "workersAlive", (json_int_t)q->workers_alive,
                     "workers", workers, "perMinute", per_minute, "redis",
                     redis);
}

/* Drops one expected reply; the last one answers and frees. */
static void stats_settle(stats_req *sr) {
    if (--sr->outstanding > 0) return;
    if (sr->err[0]) {
        sf_warn("stats_failed err=%s", SF_LOGQ(sr->err));
        sf_http_reply_error(sr->req, 503, "%s", sr->err);
    } else {
        sf_http_reply_json(sr->req, 200, build(sr));
    }
    stats_free(sr);
}

static void on_qstats(const sf_qstats *s, const char *err, void *arg) {
    stats_req *sr = arg;
    if (s) sr->q = *s;
    else stats_fail(sr, err, NULL);
    stats_settle(sr);
}

static void on_minute(redisAsyncContext *ac, void *reply, void *privdata) {
    (void)ac;
    minute_rec *m = privdata;
    redisReply *r = reply;
    if (!reply_failed(m->sr, r) && r->type == REDIS_REPLY_ARRAY) {
        for (size_t k = 0; k < r->elements && k < MINUTE_FIELDS; k++) {
            const redisReply *v = r->element[k];
            int64_t n = 0;
            if (v->type == REDIS_REPLY_STRING && sf_parse_i64(v->str, v->len, &n) == 0)
                m->sr->minutes[m->idx][k] = n;
        }
    }
    stats_settle(m->sr);
}

/* The integer field "name" of a worker hash, 0 when absent or not one. */
static int64_t pair_int(const sf_reply_pairs *p, const char *name) {
    int64_t v = 0;
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->fields[i], name) == 0)
            return sf_parse_i64(p->values[i], p->vlen[i], &v) == 0 ? v : 0;
    return 0;
}

static json_t *pair_str(const sf_reply_pairs *p, const char *name) {
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->fields[i], name) == 0) return jstr(p->values[i], p->vlen[i]);
    return json_string("");
}

static void on_worker(redisAsyncContext *ac, void *reply, void *privdata) {
    (void)ac;
    worker_rec *w = privdata;
    stats_req *sr = w->sr;
    redisReply *r = reply;
    sf_reply_pairs p;
    if (reply_failed(sr, r) || r->type != REDIS_REPLY_ARRAY) {
        stats_settle(sr);
        return;
    }
    if (sf_reply_pairs_init(&p, r) != 0) {
        stats_fail(sr, "out of memory", NULL);
        stats_settle(sr);
        return;
    }
    int64_t last = pair_int(&p, "lastSeen");
    if (last <= 0) last = w->seen_ms; /* hash expired: the zset's time */
    int alive = sr->now_ms - last <= SF_WORKER_ALIVE_MS;
    static const char *const counts[] = {
        "pid", "startedAt", "concurrency", "inflight", "delivered", "retried",
        "failed", "dropped", "callbacksOk", "callbacksFailed"};
    json_t *o = json_object();
    json_object_set_new(o, "name", jstr(w->name, strlen(w->name)));
    json_object_set_new(o, "host", pair_str(&p, "host"));
    json_object_set_new(o, "version", pair_str(&p, "version"));
    json_object_set_new(o, "lastSeen", json_integer((json_int_t)last));
    json_object_set_new(o, "alive", json_boolean(alive));
    for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++)
        json_object_set_new(o, counts[i],
                            json_integer((json_int_t)pair_int(&p, counts[i])));
    sf_reply_pairs_free(&p);
    w->obj = o;
    stats_settle(sr);
}

static void on_workers(redisAsyncContext *ac, void *reply, void *privdata) {
    (void)ac;
    stats_req *sr = privdata;
    redisReply *r = reply;
    if (reply_failed(sr, r) || r->type != REDIS_REPLY_ARRAY) {
        stats_settle(sr);
        return;
    }
    /* [member, score, member, score, ...] */
    size_t n = r->elements / 2;
    sr->workers = calloc(n ? n : 1, sizeof(*sr->workers));
    if (!sr->workers) {
        stats_fail(sr, "out of memory", NULL);
        stats_settle(sr);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const redisReply *name = r->element[2 * i], *score = r->element[2 * i + 1];
        if (name->type != REDIS_REPLY_STRING || score->type != REDIS_REPLY_STRING)
            continue;
        worker_rec *w = &sr->workers[sr->n_workers];
        w->sr = sr;
        w->name = strndup(name->str, name->len);
        if (!w->name) {
            stats_fail(sr, "out of memory", NULL);
            break;
        }
        sr->n_workers++;
        /* scores are ms; ZADD may have stored them as "1.7e12" floats */
        w->seen_ms = (int64_t)strtod(score->str, NULL);
        char key[SF_KEY_MAX];
        sf_keys_stats_worker(sr->c->cfg->prefix, w->name, key, sizeof(key));
        /* HGETALL P:{stats}:worker:<consumer> */
        const char *argv[] = {"HGETALL", key};
        size_t lens[] = {7, strlen(key)};
        if (sf_rconn_command(sr->c->redis, on_worker, w, 2, argv, lens) != SF_OK) {
            stats_fail(sr, "redis unavailable", NULL);
            break;
        }
        sr->outstanding++;
    }
    stats_settle(sr);
}

/* Sends the reads that do not depend on another reply; 0 when all went. */
static int send_reads(stats_req *sr) {
    sf_coord *c = sr->c;
    const char *prefix = c->cfg->prefix;
    if (sf_qstats_fetch(c->redis, prefix, on_qstats, sr) != SF_OK) return -1;
    sr->outstanding++;
    char key[SF_KEY_MAX], stop[16];
    /* ZREVRANGE P:{stats}:workers 0 <max-1> WITHSCORES (most recent first) */
    sf_keys_stats_workers(prefix, key, sizeof(key));
    snprintf(stop, sizeof(stop), "%d", SF_STATS_MAX_WORKERS - 1);
    const char *zr[] = {"ZREVRANGE", key, "0", stop, "WITHSCORES"};
    size_t zl[] = {9, strlen(key), 1, strlen(stop), 10};
    if (sf_rconn_command(c->redis, on_workers, sr, 5, zr, zl) != SF_OK) return -1;
    sr->outstanding++;
    for (int i = 0; i < MINUTES; i++) {
        sr->minute_slots[i] = (minute_rec){sr, i};
        sf_keys_stats_minute(prefix, sr->first_minute_ms + (int64_t)i * MINUTE_MS,
                             key, sizeof(key));
        /* HMGET P:{stats}:min:<ms> delivered retried failed published */
        const char *argv[] = {"HMGET", key, minute_fields[0], minute_fields[1],
                              minute_fields[2], minute_fields[3]};
        size_t lens[6];
        for (int k = 0; k < 6; k++) lens[k] = strlen(argv[k]);
        if (sf_rconn_command(c->redis, on_minute, &sr->minute_slots[i], 6, argv,
                             lens) != SF_OK)
            return -1;
        sr->outstanding++;
    }
    return 0;
}

void sf_api_stats(sf_coord *c, struct evhttp_request *req, const char *tail) {
    (void)tail;
    if (!sf_rconn_is_up(c->redis)) {
        sf_http_reply_error(req, 503, "redis unavailable");
        return;
    }
    stats_req *sr = calloc(1, sizeof(*sr));
    if (!sr) {
        sf_http_reply_error(req, 500, "out of memory");
        return;
    }
    sr->c = c;
    sr->req = req;
    sr->now_ms = sf_now_ms();
    int64_t this_minute = sr->now_ms - sr->now_ms % MINUTE_MS;
    sr->first_minute_ms = this_minute - (MINUTES - 1) * (int64_t)MINUTE_MS;
    sr->outstanding = 1; /* held while sending */
    if (send_reads(sr) != 0) stats_fail(sr, "redis unavailable", NULL);
    stats_settle(sr);
}
