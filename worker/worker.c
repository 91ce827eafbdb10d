/* worker.c - the worker object (see worker.h for the design): its Redis
 * connections, reads and reclaims, ack batches, the delayed-set mover,
 * housekeeping timers, readiness and the drain.  One entry's life is
 * delivery.c; metrics, the listener and the heartbeat are wmetrics.c,
 * status.c and heartbeat.c. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flow.h"
#include "heartbeat.h"
#include "consumers.h"
#include "log.h"
#include "redis_checks.h"
#include "lua.h"
#include "qstats_poll.h"
#include "sigkeys.h"
#include "status.h"
#include "util.h"
#include "wmetrics.h"
#include "worker_int.h"

static void flush_acks(sf_reader *r);

/* ---- timers -------------------------------------------------------------- */

/* Arms "ev" in "ms" milliseconds (declared in worker_int.h). */
void sf_timer_in(struct event *ev, int64_t ms) {
    if (ms < 0) ms = 0;
    struct timeval tv = {(time_t)(ms / 1000),
                         (suseconds_t)((ms % 1000) * 1000)};
    evtimer_add(ev, &tv);
}

/* ---- acks ---------------------------------------------------------------- */

/* Batches the ack of "id" (declared in worker_int.h). */
void sf_worker_ack_add(sf_reader *r, const char *id) {
    sf_worker *w = r->w;
    if (r->acks_len == r->acks_cap) {
        size_t cap = r->acks_cap ? r->acks_cap * 2 : ACK_BATCH;
        void *p = realloc(r->acks, cap * sizeof(*r->acks));
        sf_assert(p);
        r->acks = p;
        r->acks_cap = cap;
    }
    size_t n = strnlen(id, ID_MAX - 1); /* entry ids fit (ID_MAX) */
    memcpy(r->acks[r->acks_len], id, n);
    r->acks[r->acks_len++][n] = '\0';
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
    sf_reader *r = a->r;
    redisReply *rep = reply;
    if (!rep || rep->type == REDIS_REPLY_ERROR) {
        if (rep && !r->w->closing)
            sf_warn("ack_error queue=%s err=%s", r->tag, SF_LOGQ(rep->str));
        a->failed = 1;
    }
    if (--a->refs > 0) return;
    r->w->acks_inflight--;
    if (a->failed && !r->w->closing) {
        /* Put them back: XACK/XDEL are idempotent, resend later. */
        for (size_t i = 0; i < a->n; i++)
            sf_worker_ack_add(r, a->ids[i]);
    }
    free(a->ids);
    free(a);
}

static void flush_acks(sf_reader *r) {
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
        for (size_t i = 0; i < n; i++)
            argv[3 + i] = a->ids[i];
        for (size_t i = 0; i < n + 3; i++)
            lens[i] = strlen(argv[i]);
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

static void handback_cb(redisAsyncContext *c, void *reply, void *privdata) {
    (void)c;
    sf_reader *r = privdata;
    redisReply *rep = reply;
    r->handback_sent = 0;
    if (r->w->closing || !rep) return; /* resent after the reconnect */
    if (rep->type == REDIS_REPLY_ERROR)
        sf_warn("handback_error queue=%s err=%s note=\"entries will be "
                "reclaimed\"",
                r->tag, SF_LOGQ(rep->str));
    r->handback_pending = 0;
}

static void resend_all(sf_worker *w) {
    sf_delivery_resend_all(w);
    for (int q = 0; q < 2; q++) {
        sf_reader *r = &w->readers[q];
        if (r->handback_pending && !r->handback_sent &&
            sf_cmd_send(&r->handback, w->main, handback_cb, r) == SF_OK)
            r->handback_sent = 1;
        flush_acks(r);
    }
}

/* ---- reading ------------------------------------------------------------- */

static int free_slots(const sf_reader *r) {
    return r->budget - r->inflight - r->reserved;
}

static void read_cb(redisAsyncContext *c, void *reply, void *privdata) {
    (void)c;
    sf_reader *r = privdata;
    redisReply *rep = reply;
    r->reading = 0;
    r->reserved -= r->read_count;
    r->read_count = 0;
    if (r->w->closing || !rep)
        return; /* down: sf_worker_arm_read() after reconnect */
    if (rep->type == REDIS_REPLY_ERROR) {
        sf_warn("read_error queue=%s err=%s", r->tag, SF_LOGQ(rep->str));
        if (strncmp(rep->str, "NOGROUP", 7) == 0) {
            /* The stream or group was deleted: create it again. */
            sf_rconn_commandf(r->conn, NULL, NULL,
                              "XGROUP CREATE %s %s 0 MKSTREAM", r->keys.stream,
                              SF_GROUP_WORKERS);
        }
        sf_timer_in(r->rearm_ev, 200); /* do not spin on a persistent error */
        return;
    }
    sf_delivery_handle_read_reply(r, rep);
    sf_worker_arm_read(r);
}

/* Issues the blocking read if none is out and enough slots are free:
 * XREADGROUP GROUP workers <consumer> COUNT <n> BLOCK 1000 STREAMS <s> >
 * Waiting for a few free slots (not just one) keeps reads batched. */
void sf_worker_arm_read(sf_reader *r) {
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
    const char *argv[] = {
        "XREADGROUP", "GROUP", SF_GROUP_WORKERS, w->cfg.consumer, "COUNT", cnt,
        "BLOCK",      "1000",  "STREAMS",        r->keys.stream,  ">"};
    size_t lens[11];
    for (int i = 0; i < 11; i++)
        lens[i] = strlen(argv[i]);
    if (sf_rconn_command(r->conn, read_cb, r, 11, argv, lens) != SF_OK) return;
    r->reading = 1;
    r->read_count = count;
    r->reserved += count;
}

static void rearm_cb(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    sf_worker_arm_read(arg);
}

static void reader_state_cb(sf_rconn *c, int up, void *arg) {
    sf_reader *r = arg;
    if (r->w->closing) return;
    sf_info("redis_%s conn=read-%s", up ? "up" : "down", r->tag);
    if (!up) return;
    /* XGROUP CREATE <stream> workers 0 MKSTREAM (BUSYGROUP is fine). */
    sf_rconn_commandf(c, NULL, NULL, "XGROUP CREATE %s %s 0 MKSTREAM",
                      r->keys.stream, SF_GROUP_WORKERS);
    sf_worker_arm_read(r);
}

/* ---- delayed set -> stream ----------------------------------------------- */

static void move_cb(redisAsyncContext *c, void *reply, void *privdata) {
    (void)c;
    sf_reader *r = privdata;
    redisReply *rep = reply;
    r->moving = 0;
    if (r->w->closing) return;
    int64_t next = MOVE_IDLE_MS;
    if (rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 &&
        rep->element[0]->type == REDIS_REPLY_INTEGER &&
        rep->element[1]->type == REDIS_REPLY_INTEGER) {
        int64_t moved = rep->element[0]->integer,
                due = rep->element[1]->integer;
        if (moved >= MOVE_LIMIT) {
            next = 0;
        } else if (due >= 0) {
            int64_t in = due - sf_now_ms();
            next = in < 1 ? 1 : in < MOVE_IDLE_MS ? in : MOVE_IDLE_MS;
        }
    } else if (rep && rep->type == REDIS_REPLY_ERROR) {
        sf_warn("move_due_error queue=%s err=%s", r->tag, SF_LOGQ(rep->str));
    }
    sf_timer_in(r->move_ev, next);
}

static void move_timer_cb(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    sf_reader *r = arg;
    sf_worker *w = r->w;
    if (r->moving || w->stopping) return;
    char now[32];
    snprintf(now, sizeof(now), "%" PRId64, sf_now_ms());
    char lim[16];
    snprintf(lim, sizeof(lim), "%d", MOVE_LIMIT);
    const char *argv[] = {r->keys.delayed, r->keys.payload, r->keys.stream, now,
                          lim};
    size_t lens[5];
    for (int i = 0; i < 5; i++)
        lens[i] = strlen(argv[i]);
    if (sf_rconn_evalsha(w->main, sf_lua_queue_move_due, move_cb, r, 3, 5, argv,
                         lens) == SF_OK)
        r->moving = 1;
    else
        sf_timer_in(r->move_ev, MOVE_IDLE_MS);
}

/* ---- crash recovery ------------------------------------------------------ */

/* Starts the held (reclaimed) deliveries of "r"; "rep" is an XPENDING
 * reply [[id, consumer, idle, deliveries], ...] or NULL (counts unknown:
 * start them all). */
static void release_held(sf_reader *r, const redisReply *rep) {
    sf_worker *w = r->w;
    size_t n = 0;
    for (sf_delivery *d = w->active; d; d = d->next)
        if (d->r == r && d->held) n++;
    if (n == 0) return;
    sf_delivery **held = malloc(n * sizeof(*held));
    sf_assert(held);
    n = 0;
    for (sf_delivery *d = w->active; d; d = d->next)
        if (d->r == r && d->held) held[n++] = d;
    /* Each release may free that delivery (and only that one). */
    for (size_t i = 0;
         rep && rep->type == REDIS_REPLY_ARRAY && i < rep->elements; i++) {
        const redisReply *row = rep->element[i];
        if (row->type != REDIS_REPLY_ARRAY || row->elements < 4 ||
            !sf_reply_is_str(row->element[0]) ||
            row->element[3]->type != REDIS_REPLY_INTEGER)
            continue;
        for (size_t k = 0; k < n; k++) {
            if (held[k] &&
                strcmp(held[k]->entry_id, row->element[0]->str) == 0) {
                sf_delivery *d = held[k];
                held[k] = NULL;
                sf_delivery_release(d, row->element[3]->integer);
                break;
            }
        }
    }
    for (size_t k = 0; k < n; k++)
        if (held[k]) sf_delivery_release(held[k], 0);
    free(held);
}

static void pending_cb(redisAsyncContext *c, void *reply, void *privdata) {
    (void)c;
    sf_reader *r = privdata;
    redisReply *rep = reply;
    r->claiming = 0;
    if (r->w->closing) return;
    release_held(r, rep && rep->type == REDIS_REPLY_ARRAY ? rep : NULL);
    if (strcmp(r->claim_cursor, "0-0") != 0) sf_timer_in(r->w->claim_ev, 10);
}

static void claim_cb(redisAsyncContext *c, void *reply, void *privdata) {
    (void)c;
    sf_reader *r = privdata;
    redisReply *rep = reply;
    r->claiming = 0;
    r->reserved -= r->claim_count;
    r->claim_count = 0;
    if (r->w->closing || !rep) return;
    if (rep->type == REDIS_REPLY_ERROR) {
        if (strncmp(rep->str, "NOGROUP", 7) != 0)
            sf_warn("claim_error queue=%s err=%s", r->tag, SF_LOGQ(rep->str));
        return;
    }
    /* [next-cursor, [entry, ...], [deleted id, ...]] */
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements < 2 ||
        !sf_reply_is_str(rep->element[0]) ||
        rep->element[1]->type != REDIS_REPLY_ARRAY)
        return;
    const redisReply *entries = rep->element[1];
    if (entries->elements > 0)
        sf_info("reclaimed queue=%s entries=%zu", r->tag, entries->elements);
    const char *first = NULL, *last = NULL;
    for (size_t i = 0; i < entries->elements; i++) {
        const redisReply *e = entries->element[i];
        if (sf_delivery_handle_entry(r, e, 1))
            sf_metric_add(r->m_reclaimed, 1);
        if (e->type == REDIS_REPLY_ARRAY && e->elements >= 1 &&
            sf_reply_is_str(e->element[0])) {
            if (!first) first = e->element[0]->str;
            last = e->element[0]->str;
        }
    }
    snprintf(r->claim_cursor, sizeof(r->claim_cursor), "%s",
             rep->element[0]->len < ID_MAX ? rep->element[0]->str : "0-0");
    /* More to scan and room for it: continue soon instead of next period. */
    if (strcmp(r->claim_cursor, "0-0") != 0 && entries->elements > 0)
        sf_timer_in(r->w->claim_ev, 10);
    if (!first) return;
    /* How often was each delivered?  The held deliveries start (or go to
     * the DLQ as poison) when this answers; the claim stays "in progress"
     * until then.
     * XPENDING <stream> workers <first> <last> <n> <consumer> */
    char cnt[32];
    snprintf(cnt, sizeof(cnt), "%zu", entries->elements);
    const char *argv[] = {
        "XPENDING", r->keys.stream,    SF_GROUP_WORKERS, first, last,
        cnt,        r->w->cfg.consumer};
    size_t lens[7];
    for (int i = 0; i < 7; i++)
        lens[i] = strlen(argv[i]);
    if (sf_rconn_command(r->w->main, pending_cb, r, 7, argv, lens) == SF_OK)
        r->claiming = 1;
    else
        release_held(r, NULL);
}

/* XAUTOCLAIM <stream> workers <consumer> <idle> <cursor> COUNT <n> */
static void claim(sf_reader *r) {
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
    const char *argv[] = {
        "XAUTOCLAIM", r->keys.stream,  SF_GROUP_WORKERS, w->cfg.consumer,
        idle,         r->claim_cursor, "COUNT",          cnt};
    size_t lens[8];
    for (int i = 0; i < 8; i++)
        lens[i] = strlen(argv[i]);
    if (sf_rconn_command(w->main, claim_cb, r, 8, argv, lens) != SF_OK) return;
    r->claiming = 1;
    r->claim_count = free;
    r->reserved += free;
}

/* Resets the idle time of entries this worker has held for a while, so a
 * long sf_delivery is not reclaimed by a peer:
 * XCLAIM <stream> workers <consumer> 0 <id> ... JUSTID */
static void keepalive(sf_reader *r, int all) {
    sf_worker *w = r->w;
    int64_t now = sf_mono_us();
    int64_t limit = all ? 0 : w->cfg.claim_idle_ms * 1000 / 3;
    const char *argv[KEEPALIVE_BATCH + 6];
    size_t lens[KEEPALIVE_BATCH + 6];
    int n = 0;
    sf_delivery *d = w->active;
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
        for (int i = 0; i < n + 6; i++)
            lens[i] = strlen(argv[i]);
        sf_rconn_command(w->main, NULL, NULL, n + 6, argv, lens);
        n = 0;
    }
}

/* Prunes both groups (consumers.h), removing this worker too at the end
 * of its drain ("self"). */
static void prune_consumers(sf_worker *w, int self) {
    for (int q = 0; q < 2; q++)
        sf_consumers_prune(w->main, w->readers[q].keys.stream,
                           SF_GROUP_WORKERS, self ? w->cfg.consumer : "",
                           w->readers[q].tag);
}

static void claim_timer_cb(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    sf_worker *w = arg;
    for (int q = 0; q < 2; q++) {
        keepalive(&w->readers[q], 0);
        if (!w->stopping) claim(&w->readers[q]);
    }
    if (!w->stopping && sf_mono_us() >= w->prune_due_us &&
        sf_rconn_is_up(w->main)) {
        prune_consumers(w, 0);
        w->prune_due_us =
            sf_mono_us() + (int64_t)SF_CONSUMER_PRUNE_EVERY_MS * 1000;
    }
    int64_t period = w->cfg.claim_idle_ms / 4;
    sf_timer_in(w->claim_ev, period < 100 ? 100 : period);
}

/* ---- main connection, housekeeping --------------------------------------- */

static void main_state_cb(sf_rconn *c, int up, void *arg) {
    sf_worker *w = arg;
    if (w->closing) return;
    sf_info("redis_%s conn=main", up ? "up" : "down");
    if (!up) return;
    if (!w->leaving) sf_heartbeat_beat(w->hb); /* alive as soon as it can */
    sf_qstats_poller_refresh(w->qstats); /* the cluster gauges at once */
    sf_redis_checks(c, &w->policy_warned); /* eviction policy */
    /* While the link was down the entries we hold kept aging on the
     * server: reset their idle time before a peer's XAUTOCLAIM sees it. */
    for (int q = 0; q < 2; q++)
        keepalive(&w->readers[q], 1);
    /* Slots freed while the link was down go first: they may let parked
     * messages of other workers start. */
    sf_flow_flush(w->flow);
    resend_all(w);
}

static void tick_cb(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    sf_worker *w = arg;
    sf_loop_watch_tick(&w->loop, sf_mono_us());
    if (sf_rconn_is_up(w->main)) resend_all(w);
    for (int q = 0; q < 2; q++)
        sf_worker_arm_read(&w->readers[q]);
    sf_timer_in(w->tick_ev, TICK_MS);
}

/* Why the worker is not ready (the 503's text), or NULL (status.h). */
static const char *unready(void *arg) {
    const sf_worker *w = arg;
    if (w->stopping) return "draining";
    if (!sf_rconn_is_up(w->main) ||
        !sf_rconn_is_up(w->readers[SF_QUEUE_MSG].conn) ||
        !sf_rconn_is_up(w->readers[SF_QUEUE_CALLBACK].conn))
        return "redis unavailable";
    if (sf_loop_watch_stalled(&w->loop, sf_mono_us()))
        return "event loop stalled";
    return NULL;
}

/* ---- drain --------------------------------------------------------------- */

/* At the end of the grace period: cancel the HTTP attempts still running
 * and give their entries back to the stream (queue_handback.lua). */
static void hand_back(sf_worker *w) {
    w->handed_back = 1;
    for (int q = 0; q < 2; q++) {
        sf_reader *r = &w->readers[q];
        sf_cmd_init(&r->handback, sf_lua_queue_handback, 1);
        sf_cmd_adds(&r->handback, r->keys.stream);
        sf_cmd_adds(&r->handback, SF_GROUP_WORKERS);
    }
    size_t n = 0;
    sf_delivery *d = w->active;
    while (d) {
        sf_delivery *next = d->next;
        int checking = (d->wk == SF_WK_CHECK || d->wk == SF_WK_RUNSTATE ||
                        d->wk == SF_WK_FC_ACQUIRE) &&
                       !d->cmd_sent; /* no attempt started yet */
        if (d->xfer || d->held || checking) {
            if (d->xfer) sf_http_cancel(w->http, d->xfer);
            d->xfer = NULL;
            sf_cmd_adds(&d->r->handback, d->entry_id);
            d->r->handback_pending = 1;
            n++;
            sf_delivery_free(d);
        }
        d = next;
    }
    sf_info("drain_handback entries=%zu", n);
    if (sf_rconn_is_up(w->main)) resend_all(w);
}

static int drained(const sf_worker *w) {
    for (int q = 0; q < 2; q++) {
        const sf_reader *r = &w->readers[q];
        if (r->acks_len || r->handback_pending || r->handback_sent ||
            r->claiming)
            return 0;
    }
    /* Flow-control releases too: a dropped one holds its slot (and the
     * messages parked behind it) for a whole lease. */
    return !w->active && w->acks_inflight == 0 && sf_flow_idle(w->flow);
}

/* The drain is over: the heartbeat's last call sends the last counts and
 * takes the worker off the list; the loop ends when it answered or after
 * LEAVE_WAIT_MS (drain_cb). */
static void leave(sf_worker *w) {
    /* before the heartbeat's call on the same link: answered before it */
    if (sf_rconn_is_up(w->main)) prune_consumers(w, 1);
    w->leaving = 1;
    w->leave_deadline_us = sf_mono_us() + (int64_t)LEAVE_WAIT_MS * 1000;
    sf_heartbeat_leave(w->hb);
}

static void drain_cb(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    sf_worker *w = arg;
    int64_t now = sf_mono_us();
    if (w->leaving) {
        if (!sf_heartbeat_busy(w->hb) || now >= w->leave_deadline_us) {
            event_base_loopbreak(w->base);
            return;
        }
        sf_timer_in(w->drain_ev, DRAIN_POLL_MS);
        return;
    }
    for (int q = 0; q < 2; q++)
        flush_acks(&w->readers[q]);
    sf_flow_flush(w->flow);
    if (drained(w)) {
        const sf_reader *m = &w->readers[SF_QUEUE_MSG];
        sf_info("drained delivered=%.0f retried=%.0f failed=%.0f",
                sf_metric_value(m->m_out[SF_DOUT_SUCCESS]),
                sf_metric_value(m->m_out[SF_DOUT_RETRY]),
                sf_metric_value(m->m_out[SF_DOUT_EXHAUSTED]) +
                    sf_metric_value(m->m_out[SF_DOUT_NON_RETRYABLE]));
        leave(w);
        sf_timer_in(w->drain_ev, 0);
        return;
    }
    if (!w->handed_back && now >= w->drain_deadline_us) hand_back(w);
    if (now >= w->drain_deadline_us + DRAIN_EXTRA_MS * 1000) {
        size_t left = 0;
        for (sf_delivery *d = w->active; d; d = d->next)
            left++;
        sf_warn("drain_timeout left=%zu note=\"pending entries will be "
                "reclaimed by other workers\"",
                left);
        leave(w);
        sf_timer_in(w->drain_ev, 0);
        return;
    }
    sf_timer_in(w->drain_ev, DRAIN_POLL_MS);
}

/* First signal: stop reading and start the drain timer (worker.h). */
void sf_worker_stop(sf_worker *w) {
    if (w->stopping) return;
    w->stopping = 1;
    size_t n = 0;
    for (sf_delivery *d = w->active; d; d = d->next)
        n++;
    sf_info("drain_start inflight=%zu grace_ms=%" PRId64, n, w->cfg.drain_ms);
    w->drain_deadline_us = sf_mono_us() + w->cfg.drain_ms * 1000;
    /* Closing the read connections ends their blocking XREADGROUP. */
    for (int q = 0; q < 2; q++) {
        sf_reader *r = &w->readers[q];
        sf_rconn *c = r->conn;
        r->conn = NULL;
        sf_rconn_free(c);
        evtimer_del(r->move_ev);
    }
    sf_timer_in(w->drain_ev, 0);
}

/* ---- lifecycle ----------------------------------------------------------- */

static void reader_init(sf_worker *w, sf_queue_id q) {
    sf_reader *r = &w->readers[q];
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
    r->conn = sf_rconn_new(w->base, &w->cfg.redis, w->cfg.prefix, name,
                           reader_state_cb, r);
    sf_timer_in(r->move_ev, 0);
}

/* Builds the worker and starts its connections and timers (worker.h). */
sf_worker *sf_worker_new(const sf_config *cfg, struct event_base *base,
                         sf_err *err) {
    sf_worker *w = calloc(1, sizeof(*w));
    if (!w) {
        sf_err_set(err, "out of memory");
        return NULL;
    }
    w->cfg = *cfg;
    w->base = base;
    w->started_ms = sf_now_ms();
    w->prune_due_us = sf_mono_us() + SF_CONSUMER_PRUNE_FIRST_MS * 1000LL;
    sf_loop_watch_init(&w->loop, sf_mono_us());
    w->metrics = sf_metrics_new();
    sf_assert(w->metrics);
    if (cfg->metrics_port >= 0) {
        w->status = sf_status_srv_new(base, cfg->metrics_host,
                                      cfg->metrics_port, w->metrics, unready,
                                      w, err);
        if (!w->status) {
            sf_metrics_free(w->metrics);
            free(w);
            return NULL;
        }
    }
    size_t body_limit =
        cfg->dlq_body_limit > 0 ? (size_t)cfg->dlq_body_limit : 65536;
    long max_conns = cfg->concurrency > 0 ? 2L * cfg->concurrency + 64 : 1064;
    w->http = sf_http_new(base, body_limit, max_conns, err);
    if (!w->http) {
        sf_status_srv_free(w->status);
        sf_metrics_free(w->metrics);
        free(w);
        return NULL;
    }
    w->ack_ev = evtimer_new(base, ack_timer_cb, w);
    w->tick_ev = evtimer_new(base, tick_cb, w);
    w->claim_ev = evtimer_new(base, claim_timer_cb, w);
    w->drain_ev = evtimer_new(base, drain_cb, w);
    sf_assert(w->ack_ev && w->tick_ev && w->claim_ev && w->drain_ev);
    w->main = sf_rconn_new(base, &cfg->redis, cfg->prefix, "stepflow-worker",
                           main_state_cb, w);
    reader_init(w, SF_QUEUE_MSG);
    reader_init(w, SF_QUEUE_CALLBACK);
    w->flow = sf_flow_new(w);
    w->sigkeys = sf_sigkeys_new(base, w->main, cfg->prefix,
                                w->cfg.current_signing_key,
                                sizeof(w->cfg.current_signing_key));
    w->hb = sf_heartbeat_new(w);
    sf_wmetrics_register(w);
    w->qstats = sf_qstats_poller_new(base, w->main, cfg->prefix, w->metrics,
                                     NULL);
    sf_assert(w->qstats);
    sf_timer_in(w->tick_ev, TICK_MS);
    sf_timer_in(w->claim_ev, 1000); /* first scan soon after start */
    sf_info("worker_start consumer=%s concurrency=%d redis=%s:%d prefix=%s",
            SF_LOGQ(cfg->consumer), cfg->concurrency, cfg->redis.host,
            cfg->redis.port,
            cfg->prefix);
    return w;
}

/* Drops connections, transfers and deliveries (worker.h). */
void sf_worker_free(sf_worker *w) {
    if (!w) return;
    w->closing = 1;
    /* Dropping the connections runs pending callbacks with reply == NULL;
     * they see w->closing and touch nothing but their own privdata. */
    for (int q = 0; q < 2; q++) {
        sf_rconn_free(w->readers[q].conn);
        w->readers[q].conn = NULL;
    }
    sf_status_srv_free(w->status); /* closes its connections */
    w->status = NULL;
    sf_rconn_free(w->main);
    w->main = NULL;
    sf_heartbeat_free(w->hb); /* after main: its callbacks have run */
    sf_qstats_poller_free(w->qstats);
    sf_http_free(w->http); /* cancels transfers without callbacks */
    while (w->active) {
        w->active->xfer = NULL;
        sf_delivery_free(w->active);
    }
    sf_flow_free(w->flow);
    sf_sigkeys_free(w->sigkeys);
    for (int q = 0; q < 2; q++) {
        sf_reader *r = &w->readers[q];
        event_free(r->move_ev);
        event_free(r->rearm_ev);
        free(r->acks);
        sf_cmd_cleanup(&r->handback);
    }
    event_free(w->ack_ev);
    event_free(w->tick_ev);
    event_free(w->claim_ev);
    event_free(w->drain_ev);
    sf_metrics_free(w->metrics);
    free(w);
}
