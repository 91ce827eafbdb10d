/* flow.c - flow control in the worker (see flow.h for the design). */
#include "flow.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "lua.h"
#include "util.h"
#include "worker_int.h"

#define FC_IDLE_MS 1000 /* tick period with no wake-up due sooner */
#define FC_IDLE_MAX_MS 5000 /* ... while the last tick saw no key waiting */
#define FC_TICK_KEYS 100 /* keys woken per tick call */
#define FC_MIN_LEASE_MS 1000
#define FC_PENDING_MAX 10000 /* unsent releases kept while Redis is down */

struct sf_flow {
    sf_worker *w; /* borrowed */
    char prefix[SF_KEY_MAX]; /* "P:{msg}:fc:" */
    int64_t lease_ms;
    struct event *tick_ev, *renew_ev;
    int ticking; /* a tick call is out */
    int64_t tick_due_us; /* when tick_ev fires (monotonic) */
    int64_t idle_ms; /* tick period with no wake-up due sooner */
    sf_cmd *pending; /* releases not yet sent (link down) */
    size_t pending_len, pending_cap;
    size_t releasing; /* releases sent, reply not yet seen */
};

static void tick_in(sf_flow *f, int64_t ms);

/* Arms the tick "ms" from now unless it is due sooner already. */
static void tick_in(sf_flow *f, int64_t ms) {
    if (ms < 1) ms = 1;
    int64_t due = sf_mono_us() + ms * 1000;
    if (evtimer_pending(f->tick_ev, NULL) && f->tick_due_us <= due) return;
    f->tick_due_us = due;
    sf_timer_in(f->tick_ev, ms);
}

/* Reads a {n, wake_in_ms} reply; arms the tick for the wake-up.  A key
 * is waiting: poll at the short period again. */
static void wake_from_reply(sf_flow *f, const redisReply *rep) {
    if (rep && rep->type == REDIS_REPLY_ARRAY && rep->elements >= 2 &&
        rep->element[1]->type == REDIS_REPLY_INTEGER &&
        rep->element[1]->integer >= 0) {
        f->idle_ms = FC_IDLE_MS;
        tick_in(f, rep->element[1]->integer);
    }
}

/* ---- releases ------------------------------------------------------------ */

static void release_cb(redisAsyncContext *c, void *reply, void *privdata) {
    (void)c;
    sf_flow *f = privdata;
    redisReply *rep = reply;
    f->releasing--;
    if (f->w->closing || !rep) return; /* the lease frees it */
    if (rep->type == REDIS_REPLY_ERROR) {
        sf_warn("fc_release_error err=%s note=\"the slot is freed when its "
                "lease ends\"",
                SF_LOGQ(rep->str));
        return;
    }
    wake_from_reply(f, rep);
}

/* Sends release "c" (not freed); 0 when the link is down. */
static int send_release(sf_flow *f, const sf_cmd *c) {
    if (sf_cmd_send(c, f->w->main, release_cb, f) != SF_OK) return 0;
    f->releasing++;
    return 1;
}

/* Sends the releases kept while the link was down (flow.h). */
void sf_flow_flush(sf_flow *f) {
    if (!f || f->pending_len == 0) return;
    size_t i = 0;
    for (; i < f->pending_len; i++)
        if (!send_release(f, &f->pending[i])) break;
    for (size_t k = 0; k < i; k++)
        sf_cmd_cleanup(&f->pending[k]);
    memmove(f->pending, f->pending + i,
            (f->pending_len - i) * sizeof(*f->pending));
    f->pending_len -= i;
}

static int is_flow_controlled(const sf_delivery *d) {
    const sf_message *m = d->msg;
    return m && m->kind == SF_KIND_MESSAGE && m->fc_key && m->fc_key[0] &&
           d->r->q == SF_QUEUE_MSG;
}

/* 1 when no release waits to be sent or answered (flow.h). */
int sf_flow_idle(const sf_flow *f) {
    return !f || (f->pending_len == 0 && f->releasing == 0);
}

/* Frees d's slot (flow.h).  A delivery that never asked for one is
 * released too: it may be a woken message whose granted slot waits for it
 * (dropped before its attempt, e.g. its workflow run was cancelled).
 * EVALSHA fc_limit 1 <stream> release <F> <key> <msgId> <entry> <lease_ms> */
void sf_flow_release(sf_delivery *d) {
    sf_worker *w = d->w;
    sf_flow *f = w->flow;
    if (d->fc_held < 0 || !is_flow_controlled(d) || !f || w->closing) return;
    d->fc_held = -1;
    sf_cmd c;
    sf_cmd_init(&c, sf_lua_fc_limit, 1);
    sf_cmd_adds(&c, w->readers[SF_QUEUE_MSG].keys.stream);
    sf_cmd_adds(&c, "release");
    sf_cmd_adds(&c, f->prefix);
    sf_cmd_adds(&c, d->msg->fc_key);
    sf_cmd_adds(&c, d->msg->id);
    sf_cmd_adds(&c, d->entry_id);
    sf_cmd_addi(&c, f->lease_ms);
    sf_flow_flush(f); /* keep the order */
    if (f->pending_len == 0 && send_release(f, &c)) {
        sf_cmd_cleanup(&c);
        return;
    }
    if (f->pending_len == FC_PENDING_MAX) { /* the lease frees it */
        sf_cmd_cleanup(&c);
        return;
    }
    if (f->pending_len == f->pending_cap) {
        size_t cap = f->pending_cap ? f->pending_cap * 2 : 16;
        sf_cmd *p = realloc(f->pending, cap * sizeof(*p));
        sf_assert(p);
        f->pending = p;
        f->pending_cap = cap;
    }
    f->pending[f->pending_len++] = c;
}

/* ---- acquire ------------------------------------------------------------- */

/* 1 when "d" needs a slot (flow.h). */
int sf_flow_needs_slot(const sf_delivery *d) {
    return d->fc_held == 0 && is_flow_controlled(d);
}

/* EVALSHA fc_limit 1 <stream> acquire <F> <key> <msgId> <entry> workers
 *   <envelope> <parallelism> <rate> <period_ms> <lease_ms> */
void sf_flow_acquire_cmd(sf_delivery *d) {
    sf_flow *f = d->w->flow;
    const sf_message *m = d->msg;
    sf_buf env;
    sf_buf_init(&env);
    sf_message_encode(m, &env);
    sf_cmd_cleanup(&d->cmd);
    sf_cmd_init(&d->cmd, sf_lua_fc_limit, 1);
    sf_cmd_adds(&d->cmd, d->r->keys.stream);
    sf_cmd_adds(&d->cmd, "acquire");
    sf_cmd_adds(&d->cmd, f->prefix);
    sf_cmd_adds(&d->cmd, m->fc_key);
    sf_cmd_adds(&d->cmd, m->id);
    sf_cmd_adds(&d->cmd, d->entry_id);
    sf_cmd_adds(&d->cmd, SF_GROUP_WORKERS);
    sf_cmd_add(&d->cmd, env.data, env.len);
    sf_cmd_addi(&d->cmd, m->fc_parallelism > 0 ? m->fc_parallelism : 0);
    sf_cmd_addi(&d->cmd, m->fc_rate > 0 ? m->fc_rate : 0);
    sf_cmd_addi(&d->cmd, m->fc_period_ms > 0 ? m->fc_period_ms : 1000);
    sf_cmd_addi(&d->cmd, f->lease_ms);
    sf_buf_cleanup(&env);
}

/* Reads the acquire reply {1|0|-1, wake_in_ms} (flow.h). */
int sf_flow_acquired(sf_delivery *d, const redisReply *rep) {
    sf_flow *f = d->w->flow;
    const sf_message *m = d->msg;
    if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements < 2 ||
        rep->element[0]->type != REDIS_REPLY_INTEGER) {
        /* Cannot happen with this script; leave the entry pending so
         * XAUTOCLAIM brings it back rather than deliver unlimited. */
        sf_error("fc_acquire_bad_reply messageId=%s key=%s", SF_LOGQ(m->id),
                 SF_LOGQ(m->fc_key));
        return 0;
    }
    long long go = rep->element[0]->integer;
    if (go == 1) {
        d->fc_held = 1;
        return 1;
    }
    d->fc_held = -1; /* off the stream: nothing to release */
    if (go == 0) {
        sf_debug("fc_parked messageId=%s key=%s", SF_LOGQ(m->id),
                 SF_LOGQ(m->fc_key));
        wake_from_reply(f, rep);
    } else {
        sf_debug("fc_stale messageId=%s entry=%s", SF_LOGQ(m->id), d->entry_id);
    }
    return 0;
}

/* ---- timers -------------------------------------------------------------- */

static void tick_cb(redisAsyncContext *c, void *reply, void *privdata) {
    (void)c;
    sf_flow *f = privdata;
    redisReply *rep = reply;
    f->ticking = 0;
    if (f->w->closing) return;
    if (rep && rep->type == REDIS_REPLY_ERROR) {
        sf_warn("fc_tick_error err=%s", SF_LOGQ(rep->str));
        return;
    }
    /* No key waits anywhere: poll less often (from the next round on);
     * a park or a release reply that sees a waiting key brings the short
     * period back (wake_from_reply). */
    if (rep && rep->type == REDIS_REPLY_ARRAY && rep->elements >= 2 &&
        rep->element[1]->type == REDIS_REPLY_INTEGER &&
        rep->element[1]->integer < 0)
        f->idle_ms = FC_IDLE_MAX_MS;
    wake_from_reply(f, rep);
}

/* EVALSHA fc_limit 1 <stream> tick <F> <lease_ms> <max keys> */
static void tick_timer_cb(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    sf_flow *f = arg;
    sf_worker *w = f->w;
    f->tick_due_us = sf_mono_us() + f->idle_ms * 1000;
    sf_timer_in(f->tick_ev, f->idle_ms);
    sf_flow_flush(f);
    if (f->ticking) return;
    char lease[32], lim[16];
    snprintf(lease, sizeof(lease), "%" PRId64, f->lease_ms);
    snprintf(lim, sizeof(lim), "%d", FC_TICK_KEYS);
    const char *argv[] = {w->readers[SF_QUEUE_MSG].keys.stream, "tick",
                          f->prefix, lease, lim};
    size_t lens[5];
    for (int i = 0; i < 5; i++)
        lens[i] = strlen(argv[i]);
    if (sf_rconn_evalsha(w->main, sf_lua_fc_limit, tick_cb, f, 1, 5, argv,
                         lens) == SF_OK)
        f->ticking = 1;
}

/* Renews the lease of every slot this worker holds:
 * EVALSHA fc_limit 1 <stream> renew <F> <key> <msgId> <entry> <lease_ms> */
static void renew_timer_cb(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    sf_flow *f = arg;
    sf_worker *w = f->w;
    sf_timer_in(f->renew_ev, f->lease_ms / 3);
    sf_flow_flush(f);
    char lease[32];
    snprintf(lease, sizeof(lease), "%" PRId64, f->lease_ms);
    for (sf_delivery *d = w->active; d; d = d->next) {
        if (d->fc_held != 1) continue;
        const char *argv[] = {w->readers[SF_QUEUE_MSG].keys.stream,
                              "renew",
                              f->prefix,
                              d->msg->fc_key,
                              d->msg->id,
                              d->entry_id,
                              lease};
        size_t lens[7];
        for (int i = 0; i < 7; i++)
            lens[i] = strlen(argv[i]);
        if (sf_rconn_evalsha(w->main, sf_lua_fc_limit, NULL, NULL, 1, 7, argv,
                             lens) != SF_OK)
            break; /* link down: next round */
    }
}

/* ---- lifecycle ----------------------------------------------------------- */

/* Builds the flow-control state of "w" (flow.h). */
sf_flow *sf_flow_new(sf_worker *w) {
    sf_flow *f = calloc(1, sizeof(*f));
    sf_assert(f);
    f->w = w;
    sf_keys_fc_prefix(w->cfg.prefix, f->prefix, sizeof(f->prefix));
    f->lease_ms = w->cfg.claim_idle_ms > FC_MIN_LEASE_MS ? w->cfg.claim_idle_ms
                                                         : FC_MIN_LEASE_MS;
    f->idle_ms = FC_IDLE_MS;
    f->tick_ev = evtimer_new(w->base, tick_timer_cb, f);
    f->renew_ev = evtimer_new(w->base, renew_timer_cb, f);
    sf_assert(f->tick_ev && f->renew_ev);
    tick_in(f, FC_IDLE_MS);
    sf_timer_in(f->renew_ev, f->lease_ms / 3);
    return f;
}

/* Frees "f" (flow.h); unsent releases are dropped (their leases end). */
void sf_flow_free(sf_flow *f) {
    if (!f) return;
    event_free(f->tick_ev);
    event_free(f->renew_ev);
    for (size_t i = 0; i < f->pending_len; i++)
        sf_cmd_cleanup(&f->pending[i]);
    free(f->pending);
    free(f);
}
