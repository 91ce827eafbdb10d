/* worker.c - the worker object (see worker.h for the design).
 *
 * Life of one entry (a "delivery"):
 *   read (XREADGROUP or XAUTOCLAIM) -> [callback jobs: HMGET the entry's
 *   callback state] -> HTTP attempt -> outcome:
 *     delivered   id into the ack batch, slot freed at once;
 *     retry       queue_retry.lua, slot kept until Redis confirmed;
 *     fail        dlq_add.lua, then the id into the ack batch;
 *     callback    cb_result.lua, then queue_retry.lua or the ack batch.
 * A delivery that holds a command (d->cmd) resends it after a reconnect
 * until a reply arrives; resend_all() walks the in-flight list for that. */
#include "worker.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "backoff.h"
#include "cmd.h"
#include "http.h"
#include "keys.h"
#include "log.h"
#include "lua.h"
#include "message.h"
#include "outcome.h"
#include "rconn.h"
#include "sign.h"
#include "util.h"

#define ID_MAX 48            /* a stream entry id: "<ms>-<seq>" + NUL */
#define ACK_BATCH 128        /* ids per XACK/XDEL */
#define ACK_DELAY_US 1000    /* flush a partial batch after 1 ms */
#define READ_MAX 1000        /* entries per XREADGROUP */
#define CB_READ_MAX 64
#define MOVE_LIMIT 1000      /* ids per queue_move_due.lua call */
#define MOVE_IDLE_MS 100     /* mover period when nothing is due soon */
#define TICK_MS 1000         /* housekeeping: resend stalled writes */
#define DRAIN_POLL_MS 20
#define DRAIN_EXTRA_MS 5000  /* after the grace: time to write the rest */
#define KEEPALIVE_BATCH 512  /* ids per XCLAIM ... JUSTID */
#define CLAIM_MAX 100        /* entries per XAUTOCLAIM */

typedef enum write_kind {
    WK_NONE = 0,
    WK_CHECK,    /* HMGET callback state before a callback attempt */
    WK_RETRY,    /* queue_retry.lua */
    WK_DLQ,      /* dlq_add.lua, then ack */
    WK_CBRESULT, /* cb_result.lua, then retry or ack */
} write_kind;

typedef struct reader reader;

typedef struct delivery {
    sf_worker *w;
    reader *r;                   /* the queue it came from */
    struct delivery *prev, *next; /* in-flight list */
    char entry_id[ID_MAX];
    sf_message *msg;             /* owned; NULL for a malformed entry */
    char *env;                   /* owned copy of the stream field m */
    size_t env_len;
    int64_t touch_us;            /* last time the entry's idle was reset */
    int64_t attempt_ms;          /* wall clock at the attempt's start */
    sf_headers extra;            /* Upstash-* headers of the attempt */
    sf_http_transfer *xfer;      /* while the HTTP attempt runs */
    sf_cmd cmd;                  /* the write it waits for (wk != NONE) */
    write_kind wk;
    int cmd_sent;                /* cmd sent, reply not yet seen */
    sf_buf next_env;             /* callback retry: the envelope to park */
    int64_t next_due_ms;
    int cb_retry;                /* cb_result said retry: schedule it */
} delivery;

/* One queue: its blocking reader connection and its timers. */
struct reader {
    sf_worker *w;
    sf_queue_id q;
    const char *tag;             /* "msg" / "cb", for logs and DLQ ids */
    sf_queue_keys keys;
    sf_rconn *conn;              /* the blocking XREADGROUP connection */
    int budget;                  /* in-flight slots of this queue */
    int inflight;                /* deliveries alive */
    int reserved;                /* slots asked for by outstanding reads */
    int reading, read_count;
    int claiming, claim_count;
    char claim_cursor[ID_MAX];
    int moving;
    struct event *move_ev, *rearm_ev;
    /* Delivered ids waiting for XACK/XDEL (grows past ACK_BATCH only
     * while Redis is down). */
    char (*acks)[ID_MAX];
    size_t acks_len, acks_cap;
    /* Drain: ids handed back with queue_handback.lua. */
    sf_cmd handback;
    int handback_pending, handback_sent;
};

/* One XACK + XDEL pair in flight; freed when both replied. */
typedef struct ack_req {
    reader *r;
    char (*ids)[ID_MAX];
    size_t n;
    int refs, failed;
} ack_req;

struct sf_worker {
    sf_config cfg;
    struct event_base *base;     /* borrowed */
    sf_rconn *main;              /* every non-blocking command */
    sf_http *http;
    reader readers[2];           /* indexed by sf_queue_id */
    delivery *active;            /* in-flight list */
    size_t acks_inflight;
    struct event *ack_ev, *tick_ev, *claim_ev, *drain_ev;
    int ack_timer_on;
    int stopping, closing, handed_back, policy_checked;
    int64_t drain_deadline_us;
    uint64_t n_delivered, n_retried, n_dlq;
};

static void arm_read(reader *r);
static void start_attempt(delivery *d);
static void flush_acks(reader *r);
static void delivery_finish(delivery *d);

/* ---- timers ------------------------------------------------------------ */

static void timer_in(struct event *ev, int64_t ms) {
    if (ms < 0) ms = 0;
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};
    evtimer_add(ev, &tv);
}

/* ---- acks ---------------------------------------------------------------- */

static void ack_add(reader *r, const char *id) {
    sf_worker *w = r->w;
    if (r->acks_len == r->acks_cap) {
        size_t cap = r->acks_cap ? r->acks_cap * 2 : ACK_BATCH;
        void *p = realloc(r->acks, cap * sizeof(*r->acks));
        sf_assert(p);
        r->acks = p;
        r->acks_cap = cap;
    }
    snprintf(r->acks[r->acks_len++], ID_MAX, "%s", id);
    if (r->acks_len >= ACK_BATCH) {
        flush_acks(r);
    } else if (!w->ack_timer_on) {
        w->ack_timer_on = 1;
        struct timeval tv = {0, ACK_DELAY_US};
        evtimer_add(w->ack_ev, &tv);
    }
}

static void ack_cb(redisAsyncContext *c, void *reply, void *privdata) {
    (void)c;
    ack_req *a = privdata;
    reader *r = a->r;
    redisReply *rep = reply;
    if (!rep || rep->type == REDIS_REPLY_ERROR) {
        if (rep && !r->w->closing)
            sf_warn("ack_error queue=%s err=\"%s\"", r->tag, rep->str);
        a->failed = 1;
    }
    if (--a->refs > 0) return;
    r->w->acks_inflight--;
    if (a->failed && !r->w->closing) {
        /* Put them back: XACK/XDEL are idempotent, resend later. */
        for (size_t i = 0; i < a->n; i++) ack_add(r, a->ids[i]);
    }
    free(a->ids);
    free(a);
}

static void flush_acks(reader *r) {
    sf_worker *w = r->w;
    while (r->acks_len > 0 && sf_rconn_is_up(w->main)) {
        size_t n = r->acks_len < ACK_BATCH ? r->acks_len : ACK_BATCH;
        ack_req *a = calloc(1, sizeof(*a));
        const char **argv = malloc((n + 3) * sizeof(*argv));
        size_t *lens = malloc((n + 3) * sizeof(*lens));
        sf_assert(a && argv && lens);
        a->r = r;
        a->n = n;
        a->ids = malloc(n * sizeof(*a->ids));
        sf_assert(a->ids);
        memcpy(a->ids, r->acks + (r->acks_len - n), n * sizeof(*a->ids));
        /* XACK <stream> workers <id> ...   then   XDEL <stream> <id> ... */
        argv[0] = "XACK";
        argv[1] = r->keys.stream;
        argv[2] = SF_GROUP_WORKERS;
        for (size_t i = 0; i < n; i++) argv[3 + i] = a->ids[i];
        for (size_t i = 0; i < n + 3; i++) lens[i] = strlen(argv[i]);
        a->refs = 2;
        if (sf_rconn_command(w->main, ack_cb, a, (int)n + 3, argv, lens) !=
            SF_OK) {
            free(a->ids);
            free(a);
            free(argv);
            free(lens);
            return; /* link down: the ids stay in the batch */
        }
        r->acks_len -= n;
        w->acks_inflight++;
        argv[1] = "XDEL";
        argv[2] = r->keys.stream;
        lens[1] = 4;
        lens[2] = strlen(r->keys.stream);
        if (sf_rconn_command(w->main, ack_cb, a, (int)n + 2, argv + 1,
                             lens + 1) != SF_OK) {
            a->failed = 1; /* cannot happen right after a sent command */
            ack_cb(NULL, NULL, a);
        }
        free(argv);
        free(lens);
    }
}

static void ack_timer_cb(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    sf_worker *w = arg;
    w->ack_timer_on = 0;
    flush_acks(&w->readers[SF_QUEUE_MSG]);
    flush_acks(&w->readers[SF_QUEUE_CALLBACK]);
}

/* ---- deliveries ------------------------------------------------------------ */

static delivery *delivery_new(reader *r, const char *entry_id) {
    sf_worker *w = r->w;
    delivery *d = calloc(1, sizeof(*d));
    sf_assert(d);
    d->w = w;
    d->r = r;
    snprintf(d->entry_id, sizeof(d->entry_id), "%s", entry_id);
    d->touch_us = sf_mono_us();
    sf_buf_init(&d->next_env);
    d->next = w->active;
    if (w->active) w->active->prev = d;
    w->active = d;
    r->inflight++;
    return d;
}

/* Unlinks and frees "d" (its HTTP transfer must be over or cancelled and no
 * reply pending), then lets its queue read again. */
static void delivery_free(delivery *d) {
    sf_worker *w = d->w;
    if (d->prev) d->prev->next = d->next; else w->active = d->next;
    if (d->next) d->next->prev = d->prev;
    d->r->inflight--;
    sf_message_free(d->msg);
    free(d->env);
    sf_headers_cleanup(&d->extra);
    sf_cmd_cleanup(&d->cmd);
    sf_buf_cleanup(&d->next_env);
    free(d);
}

static void delivery_finish(delivery *d) {
    reader *r = d->r;
    delivery_free(d);
    arm_read(r);
}

static void cmd_cb(redisAsyncContext *c, void *reply, void *privdata);

/* Sends the delivery's pending write unless it is already on the wire; if
 * the link is down it stays and resend_all() sends it after the reconnect. */
static void send_cmd(delivery *d) {
    if (d->cmd_sent) return;
    if (sf_cmd_send(&d->cmd, d->w->main, cmd_cb, d) == SF_OK) d->cmd_sent = 1;
}

static void set_cmd(delivery *d, write_kind wk) {
    d->wk = wk;
    d->cmd_sent = 0;
    send_cmd(d);
}

static void resend_all(sf_worker *w) {
    for (delivery *d = w->active; d; d = d->next)
        if (d->wk != WK_NONE && !d->cmd_sent) send_cmd(d);
    for (int q = 0; q < 2; q++) {
        reader *r = &w->readers[q];
        if (r->handback_pending && !r->handback_sent &&
            sf_cmd_send(&r->handback, w->main, NULL, NULL) == SF_OK) {
            /* The reply is not needed: queue_handback.lua is idempotent and
             * anything it missed is reclaimed by XAUTOCLAIM. */
            r->handback_sent = 1;
            r->handback_pending = 0;
        }
        flush_acks(r);
    }
}

static const char *outcome_word(sf_outcome o) {
    return o == SF_OUTCOME_DELIVERED ? "success"
           : o == SF_OUTCOME_RETRY   ? "retry"
                                     : "fail";
}

static void callback_attempt_done(delivery *d, const sf_http_response *res,
                                  sf_outcome o, int64_t delay_ms) {
    sf_worker *w = d->w;
    sf_message *m = d->msg;
    int64_t now = sf_now_ms();
    sf_cmd_cleanup(&d->cmd);
    sf_outcome_cb_result_cmd(&d->cmd, w->cfg.prefix, m, outcome_word(o), res,
                             m->retried + 1, now);
    d->cb_retry = o == SF_OUTCOME_RETRY;
    if (d->cb_retry) {
        sf_message_add_attempt(m, d->attempt_ms, res->status, res->latency_ms,
                               res->error[0] ? res->error : NULL);
        m->retried++;
        sf_buf_cleanup(&d->next_env);
        sf_message_encode(m, &d->next_env);
        d->next_due_ms = now + delay_ms;
    }
    if (o == SF_OUTCOME_FAIL)
        sf_info("callback_failed dlqId=%s url=%s status=%d", m->dlq_id, m->url,
                res->status);
    set_cmd(d, WK_CBRESULT);
}

static void http_done(void *arg, const sf_http_response *res) {
    delivery *d = arg;
    sf_worker *w = d->w;
    sf_message *m = d->msg;
    d->xfer = NULL;
    sf_response_info ri = {0};
    ri.status = res->status;
    const char *nre = sf_headers_get(&res->headers, "Upstash-NonRetryable-Error");
    ri.non_retryable = nre && strcasecmp(nre, "true") == 0;
    ri.retry_after = sf_headers_get(&res->headers, "Retry-After");
    for (size_t i = 0; i < res->headers.len; i++) {
        if (sf_has_prefix_ci(res->headers.items[i].name, "X-RateLimit-Reset")) {
            ri.ratelimit_reset = res->headers.items[i].value;
            break;
        }
    }
    int64_t now = sf_now_ms(), delay_ms = 0;
    sf_outcome o = sf_classify(&ri, m->retried, m->max_retries, m->retry_delay,
                               now, &delay_ms);
    if (m->kind == SF_KIND_CALLBACK) {
        callback_attempt_done(d, res, o, delay_ms);
        return;
    }
    if (o == SF_OUTCOME_DELIVERED) {
        w->n_delivered++;
        ack_add(d->r, d->entry_id);
        delivery_finish(d);
        return;
    }
    sf_message_add_attempt(m, d->attempt_ms, res->status, res->latency_ms,
                           res->error[0] ? res->error : NULL);
    sf_cmd_cleanup(&d->cmd);
    if (o == SF_OUTCOME_RETRY) {
        w->n_retried++;
        m->retried++;
        sf_buf env;
        sf_buf_init(&env);
        sf_message_encode(m, &env);
        sf_outcome_retry_cmd(&d->cmd, &d->r->keys, d->entry_id, m->id,
                             now + delay_ms, env.data, env.len);
        sf_buf_cleanup(&env);
        set_cmd(d, WK_RETRY);
        return;
    }
    const char *reason = res->status == 489 && ri.non_retryable
                             ? "non-retryable error (489)"
                             : "retries exhausted";
    char dlq_id[80];
    sf_outcome_dlq_cmd(&d->cmd, w->cfg.prefix, m, d->env, d->env_len, res,
                       reason, now, dlq_id);
    sf_info("dlq messageId=%s dlqId=%s url=%s status=%d reason=\"%s\" "
            "callback=%s",
            m->id, dlq_id, m->url, res->status, reason,
            m->failure_callback ? "yes" : "no");
    set_cmd(d, WK_DLQ);
}

static void start_attempt(delivery *d) {
    sf_worker *w = d->w;
    sf_message *m = d->msg;
    char num[32];
    sf_headers_cleanup(&d->extra);
    memset(&d->extra, 0, sizeof(d->extra));
    sf_headers_add(&d->extra, "Upstash-Message-Id", m->id);
    snprintf(num, sizeof(num), "%d", m->retried);
    sf_headers_add(&d->extra, "Upstash-Retried", num);
    d->attempt_ms = sf_now_ms();
    if (w->cfg.current_signing_key[0]) {
        char *jwt = sf_sign_jwt(w->cfg.current_signing_key, m->url, m->body,
                                m->body_len, d->attempt_ms / 1000, NULL);
        if (jwt) sf_headers_add(&d->extra, "Upstash-Signature", jwt);
        free(jwt);
    }
    int64_t timeout = m->timeout_ms > 0 ? m->timeout_ms : w->cfg.default_timeout_ms;
    if (w->cfg.max_timeout_ms > 0 && timeout > w->cfg.max_timeout_ms)
        timeout = w->cfg.max_timeout_ms;
    if (timeout <= 0) timeout = 30000;
    sf_http_request req = {
        .method = m->method,
        .url = m->url,
        .headers = &m->headers,
        .extra = &d->extra,
        .body = m->body,
        .body_len = m->body_len,
        .timeout_ms = timeout,
    };
    sf_err err = {{0}};
    d->xfer = sf_http_start(w->http, &req, http_done, d, &err);
    if (!d->xfer) {
        /* Could not even start: count it as a failed attempt. */
        sf_http_response res;
        memset(&res, 0, sizeof(res));
        sf_buf_init(&res.body);
        snprintf(res.error, sizeof(res.error), "%s", err.msg);
        http_done(d, &res);
    }
}

/* Reply to a delivery's write (d->cmd). */
static void cmd_cb(redisAsyncContext *c, void *reply, void *privdata) {
    (void)c;
    delivery *d = privdata;
    sf_worker *w = d->w;
    redisReply *rep = reply;
    if (w->closing) return;
    d->cmd_sent = 0;
    if (!rep) return; /* link dropped: resend_all() sends it again */
    if (rep->type == REDIS_REPLY_ERROR) {
        /* Not a link problem, so resending would fail the same way.  Leave
         * the entry pending: XAUTOCLAIM brings it back later. */
        sf_error("redis_write_failed entry=%s queue=%s kind=%d err=\"%s\"",
                 d->entry_id, d->r->tag, (int)d->wk, rep->str);
        delivery_finish(d);
        return;
    }
    write_kind wk = d->wk;
    d->wk = WK_NONE;
    switch (wk) {
    case WK_CHECK: {
        const sf_message *m = d->msg;
        int live = rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 &&
                   rep->element[0]->type == REDIS_REPLY_STRING &&
                   strcmp(rep->element[0]->str, "CALLBACK_INPROGRESS") == 0 &&
                   rep->element[1]->type == REDIS_REPLY_STRING &&
                   strtoll(rep->element[1]->str, NULL, 10) == m->cb_gen;
        if (live) {
            start_attempt(d);
        } else {
            sf_debug("callback_dropped dlqId=%s gen=%" PRId64, m->dlq_id,
                     m->cb_gen);
            ack_add(d->r, d->entry_id);
            delivery_finish(d);
        }
        break;
    }
    case WK_RETRY:
        delivery_finish(d); /* the script acked the entry */
        break;
    case WK_DLQ:
        if (rep->type == REDIS_REPLY_INTEGER && rep->integer == 1) w->n_dlq++;
        ack_add(d->r, d->entry_id);
        delivery_finish(d);
        break;
    case WK_CBRESULT:
        if (d->cb_retry && rep->type == REDIS_REPLY_INTEGER &&
            rep->integer == 1) {
            sf_cmd_cleanup(&d->cmd);
            sf_outcome_retry_cmd(&d->cmd, &d->r->keys, d->entry_id,
                                 d->msg->id, d->next_due_ms, d->next_env.data,
                                 d->next_env.len);
            set_cmd(d, WK_RETRY);
        } else {
            ack_add(d->r, d->entry_id);
            delivery_finish(d);
        }
        break;
    case WK_NONE:
        break;
    }
}

/* ---- stream entries ------------------------------------------------------ */

static int is_str(const redisReply *r) {
    return r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS);
}

/* Sends a stream entry that cannot be delivered to the DLQ ("why"). */
static void entry_malformed(delivery *d, const redisReply *fv, const char *why,
                            const char *msg_id, const char *url) {
    sf_worker *w = d->w;
    size_t n = fv ? fv->elements : 0;
    const char **f = calloc(n + 1, sizeof(*f));
    size_t *l = calloc(n + 1, sizeof(*l));
    sf_assert(f && l);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_str(fv->element[i])) continue;
        f[k] = fv->element[i]->str;
        l[k++] = fv->element[i]->len;
    }
    sf_warn("malformed_entry queue=%s entry=%s why=\"%s\"", d->r->tag,
            d->entry_id, why);
    sf_cmd_cleanup(&d->cmd);
    sf_outcome_malformed_cmd(&d->cmd, w->cfg.prefix, d->r->tag, d->entry_id, f,
                             l, k & ~(size_t)1, msg_id, url, why, sf_now_ms());
    free(f);
    free(l);
    set_cmd(d, WK_DLQ);
}

/* Takes one [id, [field, value, ...]] entry of an XREADGROUP/XAUTOCLAIM
 * reply into a new delivery.  The reply is borrowed: everything kept is
 * copied. */
static void handle_entry(reader *r, const redisReply *e) {
    if (!e || e->type != REDIS_REPLY_ARRAY || e->elements < 2 ||
        !is_str(e->element[0]) || e->element[0]->len >= ID_MAX)
        return;
    const char *entry_id = e->element[0]->str;
    const redisReply *fv = e->element[1];
    if (fv->type != REDIS_REPLY_ARRAY) {
        ack_add(r, entry_id); /* deleted while pending: nothing to deliver */
        return;
    }
    delivery *d = delivery_new(r, entry_id);
    const redisReply *v = NULL, *id = NULL, *m = NULL;
    for (size_t i = 0; i + 1 < fv->elements; i += 2) {
        const redisReply *k = fv->element[i], *val = fv->element[i + 1];
        if (!is_str(k) || !is_str(val)) continue;
        if (strcmp(k->str, "v") == 0) v = val;
        else if (strcmp(k->str, "id") == 0) id = val;
        else if (strcmp(k->str, "m") == 0) m = val;
    }
    char why[300];
    const char *msg_id = id && id->len < 200 ? id->str : NULL;
    if (!v) {
        entry_malformed(d, fv, "missing field v", msg_id, NULL);
        return;
    }
    if (strcmp(v->str, SF_STREAM_SCHEMA) != 0) {
        snprintf(why, sizeof(why), "unknown schema version v=%.32s", v->str);
        entry_malformed(d, fv, why, msg_id, NULL);
        return;
    }
    if (!m || !id) {
        entry_malformed(d, fv, m ? "missing field id" : "missing field m",
                        msg_id, NULL);
        return;
    }
    sf_err err = {{0}};
    sf_message *msg = sf_message_decode(m->str, m->len, &err);
    if (!msg) {
        snprintf(why, sizeof(why), "undecodable m: %s", err.msg);
        entry_malformed(d, fv, why, msg_id, NULL);
        return;
    }
    const char *kind_err = NULL;
    if (r->q == SF_QUEUE_CALLBACK &&
        (msg->kind != SF_KIND_CALLBACK || !msg->dlq_id || !*msg->dlq_id))
        kind_err = "not a callback job";
    else if (r->q == SF_QUEUE_MSG && msg->kind != SF_KIND_MESSAGE)
        kind_err = "not a message";
    if (kind_err) {
        entry_malformed(d, fv, kind_err, msg->id, msg->url);
        sf_message_free(msg);
        return;
    }
    d->msg = msg;
    d->env = malloc(m->len + 1);
    sf_assert(d->env);
    memcpy(d->env, m->str, m->len);
    d->env[m->len] = '\0';
    d->env_len = m->len;
    if (msg->kind == SF_KIND_CALLBACK) {
        sf_outcome_cb_check_cmd(&d->cmd, r->w->cfg.prefix, msg->dlq_id);
        set_cmd(d, WK_CHECK);
    } else {
        start_attempt(d);
    }
}

/* Entries of one stream: [[stream, [entry, ...]], ...] (XREADGROUP). */
static void handle_read_reply(reader *r, const redisReply *rep) {
    if (rep->type != REDIS_REPLY_ARRAY) return; /* nil: BLOCK timed out */
    for (size_t s = 0; s < rep->elements; s++) {
        const redisReply *st = rep->element[s];
        if (st->type != REDIS_REPLY_ARRAY || st->elements < 2 ||
            st->element[1]->type != REDIS_REPLY_ARRAY)
            continue;
        const redisReply *entries = st->element[1];
        for (size_t i = 0; i < entries->elements; i++)
            handle_entry(r, entries->element[i]);
    }
}

/* ---- reading --------------------------------------------------------------- */

static int free_slots(const reader *r) {
    return r->budget - r->inflight - r->reserved;
}

static void read_cb(redisAsyncContext *c, void *reply, void *privdata) {
    (void)c;
    reader *r = privdata;
    redisReply *rep = reply;
    r->reading = 0;
    r->reserved -= r->read_count;
    r->read_count = 0;
    if (r->w->closing || !rep) return; /* down: arm_read() after reconnect */
    if (rep->type == REDIS_REPLY_ERROR) {
        sf_warn("read_error queue=%s err=\"%s\"", r->tag, rep->str);
        if (strncmp(rep->str, "NOGROUP", 7) == 0) {
            /* The stream or group was deleted: create it again. */
            sf_rconn_commandf(r->conn, NULL, NULL,
                              "XGROUP CREATE %s %s 0 MKSTREAM", r->keys.stream,
                              SF_GROUP_WORKERS);
        }
        timer_in(r->rearm_ev, 200); /* do not spin on a persistent error */
        return;
    }
    handle_read_reply(r, rep);
    arm_read(r);
}

/* Issues the blocking read if none is out and enough slots are free:
 * XREADGROUP GROUP workers <consumer> COUNT <n> BLOCK 1000 STREAMS <s> >
 * Waiting for a few free slots (not just one) keeps reads batched. */
static void arm_read(reader *r) {
    sf_worker *w = r->w;
    if (r->reading || w->stopping || w->closing || !r->conn ||
        !sf_rconn_is_up(r->conn) || evtimer_pending(r->rearm_ev, NULL))
        return;
    int free = free_slots(r);
    int want = r->budget / 8;
    if (want > 32) want = 32;
    if (want < 1) want = 1;
    if (free < want && !(free > 0 && r->inflight == 0)) return;
    int max = r->q == SF_QUEUE_CALLBACK ? CB_READ_MAX : READ_MAX;
    int count = free < max ? free : max;
    char cnt[16];
    snprintf(cnt, sizeof(cnt), "%d", count);
    const char *argv[] = {"XREADGROUP", "GROUP", SF_GROUP_WORKERS,
                          w->cfg.consumer, "COUNT", cnt, "BLOCK", "1000",
                          "STREAMS", r->keys.stream, ">"};
    size_t lens[11];
    for (int i = 0; i < 11; i++) lens[i] = strlen(argv[i]);
    if (sf_rconn_command(r->conn, read_cb, r, 11, argv, lens) != SF_OK) return;
    r->reading = 1;
    r->read_count = count;
    r->reserved += count;
}

static void rearm_cb(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    arm_read(arg);
}

static void reader_state_cb(sf_rconn *c, int up, void *arg) {
    reader *r = arg;
    if (r->w->closing) return;
    sf_info("redis_%s conn=read-%s", up ? "up" : "down", r->tag);
    if (!up) return;
    /* XGROUP CREATE <stream> workers 0 MKSTREAM (BUSYGROUP is fine). */
    sf_rconn_commandf(c, NULL, NULL, "XGROUP CREATE %s %s 0 MKSTREAM",
                      r->keys.stream, SF_GROUP_WORKERS);
    arm_read(r);
}

/* ---- delayed set -> stream ------------------------------------------------ */

static void move_cb(redisAsyncContext *c, void *reply, void *privdata) {
    (void)c;
    reader *r = privdata;
    redisReply *rep = reply;
    r->moving = 0;
    if (r->w->closing) return;
    int64_t next = MOVE_IDLE_MS;
    if (rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 &&
        rep->element[0]->type == REDIS_REPLY_INTEGER &&
        rep->element[1]->type == REDIS_REPLY_INTEGER) {
        int64_t moved = rep->element[0]->integer, due = rep->element[1]->integer;
        if (moved >= MOVE_LIMIT) {
            next = 0;
        } else if (due >= 0) {
            int64_t in = due - sf_now_ms();
            next = in < 1 ? 1 : in < MOVE_IDLE_MS ? in : MOVE_IDLE_MS;
        }
    } else if (rep && rep->type == REDIS_REPLY_ERROR) {
        sf_warn("move_due_error queue=%s err=\"%s\"", r->tag, rep->str);
    }
    timer_in(r->move_ev, next);
}

static void move_timer_cb(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    reader *r = arg;
    sf_worker *w = r->w;
    if (r->moving || w->stopping) return;
    char now[32];
    snprintf(now, sizeof(now), "%" PRId64, sf_now_ms());
    char lim[16];
    snprintf(lim, sizeof(lim), "%d", MOVE_LIMIT);
    const char *argv[] = {r->keys.delayed, r->keys.payload, r->keys.stream,
                          now, lim};
    size_t lens[5];
    for (int i = 0; i < 5; i++) lens[i] = strlen(argv[i]);
    if (sf_rconn_evalsha(w->main, sf_lua_queue_move_due, move_cb, r, 3, 5,
                         argv, lens) == SF_OK)
        r->moving = 1;
    else
        timer_in(r->move_ev, MOVE_IDLE_MS);
}

/* ---- crash recovery ---------------------------------------------------------- */

static void claim_cb(redisAsyncContext *c, void *reply, void *privdata) {
    (void)c;
    reader *r = privdata;
    redisReply *rep = reply;
    r->claiming = 0;
    r->reserved -= r->claim_count;
    r->claim_count = 0;
    if (r->w->closing || !rep) return;
    if (rep->type == REDIS_REPLY_ERROR) {
        if (strncmp(rep->str, "NOGROUP", 7) != 0)
            sf_warn("claim_error queue=%s err=\"%s\"", r->tag, rep->str);
        return;
    }
    /* [next-cursor, [entry, ...], [deleted id, ...]] */
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements < 2 ||
        !is_str(rep->element[0]) || rep->element[1]->type != REDIS_REPLY_ARRAY)
        return;
    const redisReply *entries = rep->element[1];
    if (entries->elements > 0)
        sf_info("reclaimed queue=%s entries=%zu", r->tag, entries->elements);
    for (size_t i = 0; i < entries->elements; i++)
        handle_entry(r, entries->element[i]);
    snprintf(r->claim_cursor, sizeof(r->claim_cursor), "%s",
             rep->element[0]->len < ID_MAX ? rep->element[0]->str : "0-0");
    /* More to scan and room for it: continue soon instead of next period. */
    if (strcmp(r->claim_cursor, "0-0") != 0 && entries->elements > 0)
        timer_in(r->w->claim_ev, 10);
}

/* XAUTOCLAIM <stream> workers <consumer> <idle> <cursor> COUNT <n> */
static void claim(reader *r) {
    sf_worker *w = r->w;
    /* The slots a blocking read holds are not counted here: that read may
     * wait a second for nothing, and a claim must not starve behind it.
     * The overshoot is bounded by CLAIM_MAX. */
    int free = r->budget - r->inflight - (r->reserved - r->read_count);
    if (r->claiming || free <= 0 || !sf_rconn_is_up(w->main)) return;
    if (free > CLAIM_MAX) free = CLAIM_MAX;
    char idle[32], cnt[16];
    snprintf(idle, sizeof(idle), "%" PRId64, w->cfg.claim_idle_ms);
    snprintf(cnt, sizeof(cnt), "%d", free);
    if (!r->claim_cursor[0]) snprintf(r->claim_cursor, ID_MAX, "0-0");
    const char *argv[] = {"XAUTOCLAIM", r->keys.stream, SF_GROUP_WORKERS,
                          w->cfg.consumer, idle, r->claim_cursor, "COUNT", cnt};
    size_t lens[8];
    for (int i = 0; i < 8; i++) lens[i] = strlen(argv[i]);
    if (sf_rconn_command(w->main, claim_cb, r, 8, argv, lens) != SF_OK) return;
    r->claiming = 1;
    r->claim_count = free;
    r->reserved += free;
}

/* Resets the idle time of entries this worker has held for a while, so a
 * long delivery is not reclaimed by a peer:
 * XCLAIM <stream> workers <consumer> 0 <id> ... JUSTID */
static void keepalive(reader *r) {
    sf_worker *w = r->w;
    int64_t now = sf_mono_us(), limit = w->cfg.claim_idle_ms * 1000 / 3;
    const char *argv[KEEPALIVE_BATCH + 6];
    size_t lens[KEEPALIVE_BATCH + 6];
    int n = 0;
    delivery *d = w->active;
    while (d) {
        for (; d && n < KEEPALIVE_BATCH; d = d->next) {
            if (d->r != r || now - d->touch_us < limit) continue;
            d->touch_us = now;
            argv[5 + n++] = d->entry_id;
        }
        if (n == 0) break;
        argv[0] = "XCLAIM";
        argv[1] = r->keys.stream;
        argv[2] = SF_GROUP_WORKERS;
        argv[3] = w->cfg.consumer;
        argv[4] = "0";
        argv[5 + n] = "JUSTID";
        for (int i = 0; i < n + 6; i++) lens[i] = strlen(argv[i]);
        sf_rconn_command(w->main, NULL, NULL, n + 6, argv, lens);
        n = 0;
    }
}

static void claim_timer_cb(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    sf_worker *w = arg;
    for (int q = 0; q < 2; q++) {
        keepalive(&w->readers[q]);
        if (!w->stopping) claim(&w->readers[q]);
    }
    int64_t period = w->cfg.claim_idle_ms / 4;
    timer_in(w->claim_ev, period < 100 ? 100 : period);
}

/* ---- main connection, housekeeping --------------------------------------- */

static void policy_cb(redisAsyncContext *c, void *reply, void *privdata) {
    (void)c;
    sf_worker *w = privdata;
    redisReply *rep = reply;
    if (w->closing || !rep || rep->type != REDIS_REPLY_ARRAY ||
        rep->elements < 2 || !is_str(rep->element[1]))
        return;
    w->policy_checked = 1;
    if (strcmp(rep->element[1]->str, "noeviction") != 0)
        sf_warn("redis_maxmemory_policy policy=%s want=noeviction "
                "note=\"Redis may evict queued messages\"",
                rep->element[1]->str);
}

static void main_state_cb(sf_rconn *c, int up, void *arg) {
    sf_worker *w = arg;
    if (w->closing) return;
    sf_info("redis_%s conn=main", up ? "up" : "down");
    if (!up) return;
    if (!w->policy_checked)
        sf_rconn_commandf(c, policy_cb, w, "CONFIG GET maxmemory-policy");
    resend_all(w);
}

static void tick_cb(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    sf_worker *w = arg;
    if (sf_rconn_is_up(w->main)) resend_all(w);
    for (int q = 0; q < 2; q++) arm_read(&w->readers[q]);
    timer_in(w->tick_ev, TICK_MS);
}

/* ---- drain ------------------------------------------------------------------- */

/* At the end of the grace period: cancel the HTTP attempts still running
 * and give their entries back to the stream (queue_handback.lua). */
static void hand_back(sf_worker *w) {
    w->handed_back = 1;
    for (int q = 0; q < 2; q++) {
        reader *r = &w->readers[q];
        sf_cmd_init(&r->handback, sf_lua_queue_handback, 1);
        sf_cmd_adds(&r->handback, r->keys.stream);
        sf_cmd_adds(&r->handback, SF_GROUP_WORKERS);
    }
    size_t n = 0;
    delivery *d = w->active;
    while (d) {
        delivery *next = d->next;
        if (d->xfer || (d->wk == WK_CHECK && !d->cmd_sent)) {
            if (d->xfer) sf_http_cancel(w->http, d->xfer);
            d->xfer = NULL;
            sf_cmd_adds(&d->r->handback, d->entry_id);
            d->r->handback_pending = 1;
            n++;
            delivery_free(d);
        }
        d = next;
    }
    sf_info("drain_handback entries=%zu", n);
    if (sf_rconn_is_up(w->main)) resend_all(w);
}

static int drained(const sf_worker *w) {
    for (int q = 0; q < 2; q++) {
        const reader *r = &w->readers[q];
        if (r->acks_len || r->handback_pending || r->claiming) return 0;
    }
    return !w->active && w->acks_inflight == 0;
}

static void drain_cb(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    sf_worker *w = arg;
    int64_t now = sf_mono_us();
    for (int q = 0; q < 2; q++) flush_acks(&w->readers[q]);
    if (drained(w)) {
        sf_info("drained delivered=%" PRIu64 " retried=%" PRIu64
                " dlq=%" PRIu64, w->n_delivered, w->n_retried, w->n_dlq);
        event_base_loopbreak(w->base);
        return;
    }
    if (!w->handed_back && now >= w->drain_deadline_us) hand_back(w);
    if (now >= w->drain_deadline_us + DRAIN_EXTRA_MS * 1000) {
        size_t left = 0;
        for (delivery *d = w->active; d; d = d->next) left++;
        sf_warn("drain_timeout left=%zu note=\"pending entries will be "
                "reclaimed by other workers\"", left);
        event_base_loopbreak(w->base);
        return;
    }
    timer_in(w->drain_ev, DRAIN_POLL_MS);
}

void sf_worker_stop(sf_worker *w) {
    if (w->stopping) return;
    w->stopping = 1;
    size_t n = 0;
    for (delivery *d = w->active; d; d = d->next) n++;
    sf_info("drain_start inflight=%zu grace_ms=%" PRId64, n, w->cfg.drain_ms);
    w->drain_deadline_us = sf_mono_us() + w->cfg.drain_ms * 1000;
    /* Closing the read connections ends their blocking XREADGROUP. */
    for (int q = 0; q < 2; q++) {
        reader *r = &w->readers[q];
        sf_rconn *c = r->conn;
        r->conn = NULL;
        sf_rconn_free(c);
        evtimer_del(r->move_ev);
    }
    timer_in(w->drain_ev, 0);
}

/* ---- lifecycle ----------------------------------------------------------------- */

static void reader_init(sf_worker *w, sf_queue_id q) {
    reader *r = &w->readers[q];
    r->w = w;
    r->q = q;
    r->tag = q == SF_QUEUE_MSG ? "msg" : "cb";
    sf_keys_queue(w->cfg.prefix, q, &r->keys);
    if (q == SF_QUEUE_MSG) {
        r->budget = w->cfg.concurrency > 0 ? w->cfg.concurrency : 1;
    } else {
        int b = w->cfg.concurrency / 8;
        r->budget = b < 1 ? 1 : b > CB_READ_MAX ? CB_READ_MAX : b;
    }
    snprintf(r->claim_cursor, ID_MAX, "0-0");
    r->move_ev = evtimer_new(w->base, move_timer_cb, r);
    r->rearm_ev = evtimer_new(w->base, rearm_cb, r);
    sf_assert(r->move_ev && r->rearm_ev);
    char name[256];
    snprintf(name, sizeof(name), "stepflow-worker-read-%s", r->tag);
    r->conn = sf_rconn_new(w->base, &w->cfg.redis, name, reader_state_cb, r);
    timer_in(r->move_ev, 0);
}

sf_worker *sf_worker_new(const sf_config *cfg, struct event_base *base,
                         sf_err *err) {
    sf_worker *w = calloc(1, sizeof(*w));
    if (!w) {
        sf_err_set(err, "out of memory");
        return NULL;
    }
    w->cfg = *cfg;
    w->base = base;
    w->http = sf_http_new(base, cfg->dlq_body_limit > 0
                                    ? (size_t)cfg->dlq_body_limit : 65536, err);
    if (!w->http) {
        free(w);
        return NULL;
    }
    w->ack_ev = evtimer_new(base, ack_timer_cb, w);
    w->tick_ev = evtimer_new(base, tick_cb, w);
    w->claim_ev = evtimer_new(base, claim_timer_cb, w);
    w->drain_ev = evtimer_new(base, drain_cb, w);
    sf_assert(w->ack_ev && w->tick_ev && w->claim_ev && w->drain_ev);
    w->main = sf_rconn_new(base, &cfg->redis, "stepflow-worker", main_state_cb,
                           w);
    reader_init(w, SF_QUEUE_MSG);
    reader_init(w, SF_QUEUE_CALLBACK);
    timer_in(w->tick_ev, TICK_MS);
    timer_in(w->claim_ev, 1000); /* first scan soon after start */
    sf_info("worker_start consumer=%s concurrency=%d redis=%s:%d prefix=%s",
            cfg->consumer, cfg->concurrency, cfg->redis.host, cfg->redis.port,
            cfg->prefix);
    return w;
}

void sf_worker_free(sf_worker *w) {
    if (!w) return;
    w->closing = 1;
    /* Dropping the connections runs pending callbacks with reply == NULL;
     * they see w->closing and touch nothing but their own privdata. */
    for (int q = 0; q < 2; q++) {
        sf_rconn_free(w->readers[q].conn);
        w->readers[q].conn = NULL;
    }
    sf_rconn_free(w->main);
    w->main = NULL;
    sf_http_free(w->http); /* cancels transfers without callbacks */
    while (w->active) {
        w->active->xfer = NULL;
        delivery_free(w->active);
    }
    for (int q = 0; q < 2; q++) {
        reader *r = &w->readers[q];
        event_free(r->move_ev);
        event_free(r->rearm_ev);
        free(r->acks);
        sf_cmd_cleanup(&r->handback);
    }
    event_free(w->ack_ev);
    event_free(w->tick_ev);
    event_free(w->claim_ev);
    event_free(w->drain_ev);
    free(w);
}
