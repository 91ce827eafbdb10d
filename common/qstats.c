/* qstats.c - the cluster-wide figures, read from Redis (see qstats.h).
 *
 * One fetch = 17 plain commands pipelined on the caller's connection, each
 * with a small slot record as privdata.  Replies are parsed as they arrive
 * (hiredis frees them after the callback) into the fetch object; the last
 * reply to come back, or the NULL replies of a link that dropped, settles
 * the fetch and calls the user once.  A counter of replies still expected,
 * with one extra unit held while the commands are being sent, makes
 * "exactly once" hold whatever order the replies come in. */
#include "qstats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys.h"
#include "util.h"

const char *const sf_cbstate_names[SF_CBSTATE_COUNT] = {
    [SF_CBSTATE_INPROGRESS] = "CALLBACK_INPROGRESS",
    [SF_CBSTATE_SUCCESS] = "CALLBACK_SUCCESS",
    [SF_CBSTATE_FAIL] = "CALLBACK_FAIL",
    [SF_CBSTATE_CANCELED] = "CALLBACK_CANCELED",
    [SF_CBSTATE_NONE] = "NONE",
};

/* ---- pure parsing ---- */

/* The integer value of "r" (an integer reply or a decimal string), or
 * "dflt" when it is neither (nil, an error, another type). */
static int64_t reply_int(const redisReply *r, int64_t dflt) {
    int64_t v;
    if (!r) return dflt;
    if (r->type == REDIS_REPLY_INTEGER) return (int64_t)r->integer;
    if ((r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS) &&
        sf_parse_i64(r->str, r->len, &v) == 0)
        return v;
    return dflt;
}

static int reply_is(const redisReply *r, const char *s) {
    return r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS) &&
           r->len == strlen(s) && memcmp(r->str, s, r->len) == 0;
}

/* Our connections speak RESP2 (hiredis 0.14 has no RESP3): lists and
 * field/value maps both come as arrays. */
static int reply_is_list(const redisReply *r) {
    return r && r->type == REDIS_REPLY_ARRAY;
}

sf_qstats_group sf_qstats_parse_group(const redisReply *r, const char *group) {
    sf_qstats_group g = {0, 0, 0};
    if (!reply_is_list(r)) return g;
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *info = r->element[i];
        if (!reply_is_list(info)) continue;
        /* name <n> consumers <n> pending <n> last-delivered-id <id>
         * entries-read <n|nil> lag <n|nil> (7.0: the last two) */
        const redisReply *name = NULL, *lag = NULL, *pending = NULL;
        int has_lag = 0;
        for (size_t k = 0; k + 1 < info->elements; k += 2) {
            const redisReply *f = info->element[k], *v = info->element[k + 1];
            if (reply_is(f, "name")) name = v;
            else if (reply_is(f, "pending")) pending = v;
            else if (reply_is(f, "lag")) lag = v, has_lag = 1;
        }
        if (!name || !reply_is(name, group)) continue;
        g.found = 1;
        g.pending = reply_int(pending, 0);
        /* Redis before 7.0 has no lag field: unknown, like nil. */
        g.lag = has_lag ? reply_int(lag, -1) : -1;
        if (g.lag < -1) g.lag = -1;
        return g;
    }
    return g;
}

int64_t sf_qstats_oldest_pending_ms(const redisReply *r, int64_t now_ms) {
    if (!reply_is_list(r) || r->elements < 2) return 0;
    if (reply_int(r->element[0], 0) <= 0) return 0;
    const redisReply *id = r->element[1];
    if (!id || id->type != REDIS_REPLY_STRING) return 0;
    /* a stream id is "<ms>-<seq>" */
    const char *dash = memchr(id->str, '-', id->len);
    size_t n = dash ? (size_t)(dash - id->str) : id->len;
    int64_t ms;
    if (sf_parse_i64(id->str, n, &ms) != 0 || ms < 0) return 0;
    return now_ms > ms ? now_ms - ms : 0;
}

int64_t sf_qstats_backlog(int64_t lag, int64_t length, int64_t pending) {
    if (lag >= 0) return lag;
    return length > pending ? length - pending : 0;
}

int sf_qstats_missing(const redisReply *r) {
    if (!r || r->type != REDIS_REPLY_ERROR || !r->str) return 0;
    return strstr(r->str, "no such key") != NULL ||
           strncmp(r->str, "NOGROUP", 7) == 0;
}

/* ---- the fetch ---- */

/* Commands of one queue, in slot order. */
enum { Q_XINFO, Q_XLEN, Q_XPENDING, Q_DELAYED, Q_NCMD };

/* Slots: the message queue, the callback queue, the DLQ indexes, the runs,
 * the live workers, the flow-control parked count. */
enum {
    S_MSG = 0,
    S_CB = Q_NCMD,
    S_DLQ_ALL = 2 * Q_NCMD,
    S_DLQ_STATE,
    S_WF_RUNNING = S_DLQ_STATE + SF_CBSTATE_COUNT,
    S_WORKERS,
    S_FC_PARKED,
    S_REDIS_INFO,
    S_COUNT
};

typedef struct fetch fetch;

typedef struct fetch_slot {
    fetch *f;               /* the fetch this reply belongs to */
    int idx;                /* S_* */
} fetch_slot;

struct fetch {
    sf_qstats_fn *fn;
    void *arg;
    int outstanding;        /* replies expected, +1 while sending */
    int64_t now_ms;         /* when the commands were sent */
    char err[200];          /* the first problem seen; "" when none */
    int64_t val[S_COUNT];   /* integer replies; XPENDING: its count */
    int64_t oldest_ms[2];   /* per queue, from XPENDING */
    sf_qstats_group group[2];
    sf_qstats_redis redis;
    fetch_slot slots[S_COUNT];
};

/* Remembers the first problem: "what" then "detail" (may be NULL). */
static void fetch_fail(fetch *f, const char *what, const char *detail) {
    if (f->err[0]) return;
    snprintf(f->err, sizeof(f->err), "%s%s", what, detail ? detail : "");
}

/* Builds the figures of queue "q" (0 msg, 1 cb) from its slots. */
static void fill_queue(const fetch *f, int q, sf_qstats_queue *out) {
    int base = q == 0 ? S_MSG : S_CB;
    out->length = f->val[base + Q_XLEN];
    out->pending = f->val[base + Q_XPENDING];
    out->oldest_pending_ms = f->oldest_ms[q];
    out->delayed = f->val[base + Q_DELAYED];
    /* No group yet: nothing has been read, nothing is pending. */
    out->backlog = f->group[q].found
                       ? sf_qstats_backlog(f->group[q].lag, out->length,
                                           out->pending)
                       : 0;
}

/* Drops one expected reply; the last one reports and frees the fetch. */
static void fetch_settle(fetch *f) {
    if (--f->outstanding > 0) return;
    if (f->err[0]) {
        f->fn(NULL, f->err, f->arg);
    } else {
        sf_qstats s;
        memset(&s, 0, sizeof(s));
        s.at_ms = f->now_ms;
        fill_queue(f, 0, &s.msg);
        fill_queue(f, 1, &s.cb);
        s.msg.parked = f->val[S_FC_PARKED] > 0 ? f->val[S_FC_PARKED] : 0;
        s.dlq_total = f->val[S_DLQ_ALL];
        for (int i = 0; i < SF_CBSTATE_COUNT; i++)
            s.dlq_by_state[i] = f->val[S_DLQ_STATE + i];
        s.wf_running = f->val[S_WF_RUNNING];
        s.workers_alive = f->val[S_WORKERS];
        s.redis = f->redis;
        f->fn(&s, NULL, f->arg);
    }
    free(f);
}

static void on_reply(redisAsyncContext *ac, void *reply, void *privdata) {
    (void)ac;
    fetch_slot *slot = privdata;
    fetch *f = slot->f;
    redisReply *r = reply;
    int q = slot->idx < S_CB ? 0 : 1;
    int cmd = slot->idx < S_DLQ_ALL ? slot->idx % Q_NCMD : -1;
    if (!r) {
        fetch_fail(f, "redis connection lost", NULL);
    } else if (slot->idx == S_REDIS_INFO) {
        /* A server that refuses INFO (some managed ones restrict it)
         * costs only these figures. */
        if (r->type == REDIS_REPLY_STRING)
            sf_qstats_parse_info(r->str, r->len, &f->redis);
    } else if (r->type == REDIS_REPLY_ERROR) {
        /* A missing stream or group: its figures stay 0. */
        if (!sf_qstats_missing(r)) fetch_fail(f, "redis error: ", r->str);
    } else if (cmd == Q_XINFO) {
        f->group[q] = sf_qstats_parse_group(r, SF_GROUP_WORKERS);
    } else if (cmd == Q_XPENDING) {
        f->val[slot->idx] = reply_is_list(r) && r->elements > 0
                                ? reply_int(r->element[0], 0)
                                : 0;
        f->oldest_ms[q] = sf_qstats_oldest_pending_ms(r, f->now_ms);
    } else {
        f->val[slot->idx] = reply_int(r, 0);
    }
    fetch_settle(f);
}

/* Sends one command for slot "idx"; 0 when sent. */
static int send_slot(sf_rconn *c, fetch *f, int idx, int argc,
                     const char **argv) {
    size_t lens[6];
    for (int i = 0; i < argc; i++) lens[i] = strlen(argv[i]);
    f->slots[idx].f = f;
    f->slots[idx].idx = idx;
    if (sf_rconn_command(c, on_reply, &f->slots[idx], argc, argv, lens) != SF_OK)
        return -1;
    f->outstanding++;
    return 0;
}

/* Sends the four reads of one queue from slot "base". */
static int send_queue(sf_rconn *c, fetch *f, int base, const sf_queue_keys *k) {
    /* XINFO GROUPS <stream> */
    const char *xinfo[] = {"XINFO", "GROUPS", k->stream};
    /* XLEN <stream> */
    const char *xlen[] = {"XLEN", k->stream};
    /* XPENDING <stream> workers  (summary form) */
    const char *xpending[] = {"XPENDING", k->stream, SF_GROUP_WORKERS};
    /* ZCARD <delayed> */
    const char *zcard[] = {"ZCARD", k->delayed};
    return send_slot(c, f, base + Q_XINFO, 3, xinfo) ||
           send_slot(c, f, base + Q_XLEN, 2, xlen) ||
           send_slot(c, f, base + Q_XPENDING, 3, xpending) ||
           send_slot(c, f, base + Q_DELAYED, 2, zcard);
}

/* Sends every read of a fetch; -1 as soon as one cannot be sent. */
static int send_all(sf_rconn *c, const char *prefix, fetch *f) {
    sf_queue_keys mq, cq;
    char pre[SF_KEY_MAX], key[SF_KEY_MAX + 32], min[32];
    sf_keys_queue(prefix, SF_QUEUE_MSG, &mq);
    sf_keys_queue(prefix, SF_QUEUE_CALLBACK, &cq);
    if (send_queue(c, f, S_MSG, &mq) || send_queue(c, f, S_CB, &cq)) return -1;
    sf_keys_dlq_index_prefix(prefix, pre, sizeof(pre));
    /* ZCARD P:{dlq}:idx:all, ZCARD P:{dlq}:idx:state:<S> */
    snprintf(key, sizeof(key), "%sall", pre);
    const char *all[] = {"ZCARD", key};
    if (send_slot(c, f, S_DLQ_ALL, 2, all)) return -1;
    for (int i = 0; i < SF_CBSTATE_COUNT; i++) {
        snprintf(key, sizeof(key), "%sstate:%s", pre, sf_cbstate_names[i]);
        const char *st[] = {"ZCARD", key};
        if (send_slot(c, f, S_DLQ_STATE + i, 2, st)) return -1;
    }
    /* ZCARD P:{wf}:running */
    sf_keys_wf(prefix, "running", key, sizeof(key));
    const char *running[] = {"ZCARD", key};
    if (send_slot(c, f, S_WF_RUNNING, 2, running)) return -1;
    /* ZCOUNT P:{stats}:workers <now - alive window> +inf */
    sf_keys_stats_workers(prefix, key, sizeof(key));
    snprintf(min, sizeof(min), "%lld",
             (long long)(f->now_ms - SF_WORKER_ALIVE_MS));
    const char *alive[] = {"ZCOUNT", key, min, "+inf"};
    if (send_slot(c, f, S_WORKERS, 4, alive)) return -1;
    /* GET P:{msg}:fc:parked (nil = 0) */
    sf_keys_fc_parked(prefix, key, sizeof(key));
    const char *parked[] = {"GET", key};
    if (send_slot(c, f, S_FC_PARKED, 2, parked)) return -1;
    /* INFO memory persistence */
    const char *info[] = {"INFO", "memory", "persistence"};
    return send_slot(c, f, S_REDIS_INFO, 3, info);
}

/* The value of the line "name:value" of INFO text "text" (up to the end
 * of the line), or NULL; its length in "*vlen". */
static const char *info_value(const char *text, size_t len, const char *name,
                              size_t *vlen) {
    size_t n = strlen(name);
    for (size_t i = 0; i + n + 1 <= len; i++) {
        if ((i == 0 || text[i - 1] == '\n') && memcmp(text + i, name, n) == 0 &&
            text[i + n] == ':') {
            const char *v = text + i + n + 1;
            size_t k = 0;
            while (v + k < text + len && v[k] != '\r' && v[k] != '\n') k++;
            *vlen = k;
            return v;
        }
    }
    return NULL;
}

/* The integer value of "name", or -1. */
static int64_t info_int(const char *text, size_t len, const char *name) {
    size_t n;
    const char *v = info_value(text, len, name, &n);
    int64_t out;
    return v && n > 0 && sf_parse_i64(v, n, &out) == 0 && out >= 0 ? out : -1;
}

/* 1 if "name" is "ok", 0 if it is anything else, -1 when absent. */
static int info_ok(const char *text, size_t len, const char *name) {
    size_t n;
    const char *v = info_value(text, len, name, &n);
    return v ? n == 2 && memcmp(v, "ok", 2) == 0 : -1;
}

void sf_qstats_parse_info(const char *text, size_t len, sf_qstats_redis *out) {
    out->used_memory = info_int(text, len, "used_memory");
    out->maxmemory = info_int(text, len, "maxmemory");
    out->aof_enabled = info_int(text, len, "aof_enabled");
    const char *checks[] = {"aof_last_write_status", "aof_last_bgrewrite_status",
                            "rdb_last_bgsave_status"};
    out->persistence_ok = -1;
    for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
        int ok = info_ok(text, len, checks[i]);
        if (ok < 0) continue;
        if (out->persistence_ok < 0) out->persistence_ok = 1;
        if (!ok) out->persistence_ok = 0;
    }
}

sf_status sf_qstats_fetch(sf_rconn *c, const char *prefix, sf_qstats_fn *fn,
                          void *arg) {
    if (!sf_rconn_is_up(c)) return SF_AGAIN;
    fetch *f = calloc(1, sizeof(*f));
    if (!f) return SF_AGAIN;
    f->redis = (sf_qstats_redis){-1, -1, -1, -1}; /* until INFO answers */
    f->fn = fn;
    f->arg = arg;
    f->now_ms = sf_now_ms();
    f->outstanding = 1; /* held while sending */
    if (send_all(c, prefix, f) != 0) {
        if (f->outstanding == 1) { /* nothing went out: no callback */
            free(f);
            return SF_AGAIN;
        }
        fetch_fail(f, "redis unavailable", NULL);
    }
    fetch_settle(f);
    return SF_OK;
}
