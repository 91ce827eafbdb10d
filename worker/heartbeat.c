/* heartbeat.c - the worker's heartbeat.lua calls (heartbeat.h). */
#include "heartbeat.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "keys.h"
#include "log.h"
#include "lua.h"
#include "qstats.h"
#include "util.h"
#include "worker_int.h"

/* The worker's totals, in the order of the hash fields; the first
 * N_MINUTE also go to the minute buckets (as deltas). */
enum { T_DELIVERED, T_RETRIED, T_FAILED, T_DROPPED, T_CB_OK, T_CB_FAILED,
       T_COUNT };
#define N_MINUTE 3
static const char *const total_fields[T_COUNT] = {
    "delivered", "retried", "failed", "dropped", "callbacksOk",
    "callbacksFailed"};

struct sf_heartbeat {
    sf_worker *w; /* borrowed */
    struct event *ev;
    char workers_key[SF_KEY_MAX]; /* P:{stats}:workers */
    char worker_key[SF_KEY_MAX]; /* P:{stats}:worker:<consumer> */
    char host[256];
    char pid[24];
    uint64_t sent[N_MINUTE]; /* counts Redis confirmed (minute buckets) */
    uint64_t out[N_MINUTE]; /* counts carried by the call out */
    int busy; /* a call is out */
    int leave_wanted; /* the leave waits for the call out */
    int left; /* the leave was sent: no more beats */
};

static uint64_t value(const sf_metric *m) {
    double v = sf_metric_value(m);
    return v > 0 ? (uint64_t)v : 0;
}

/* The worker's totals since it started (heartbeat.h says which). */
static void totals(const sf_worker *w, uint64_t t[T_COUNT]) {
    const sf_reader *m = &w->readers[SF_QUEUE_MSG];
    const sf_reader *cb = &w->readers[SF_QUEUE_CALLBACK];
    t[T_DELIVERED] = value(m->m_out[SF_DOUT_SUCCESS]);
    t[T_RETRIED] = value(m->m_out[SF_DOUT_RETRY]);
    t[T_FAILED] = value(m->m_out[SF_DOUT_EXHAUSTED]) +
                  value(m->m_out[SF_DOUT_NON_RETRYABLE]);
    t[T_DROPPED] =
        value(m->m_out[SF_DOUT_DROPPED]) + value(cb->m_out[SF_DOUT_DROPPED]);
    t[T_CB_OK] = value(w->m_fcb[SF_FCB_SUCCESS]);
    t[T_CB_FAILED] = value(w->m_fcb[SF_FCB_FAILED]);
}

static void send_call(sf_heartbeat *hb, int leaving);

/* Reply OK (a status reply) or an error; NULL when the link dropped. */
static void reply_cb(redisAsyncContext *c, void *reply, void *privdata) {
    (void)c;
    sf_heartbeat *hb = privdata;
    redisReply *rep = reply;
    hb->busy = 0;
    if (hb->w->closing) return;
    if (rep && rep->type == REDIS_REPLY_STATUS && strcmp(rep->str, "OK") == 0) {
        for (int i = 0; i < N_MINUTE; i++)
            hb->sent[i] += hb->out[i];
    } else if (rep && rep->type == REDIS_REPLY_ERROR) {
        sf_warn("heartbeat_error err=%s", SF_LOGQ(rep->str));
    }
    memset(hb->out, 0, sizeof(hb->out));
    if (hb->leave_wanted) {
        hb->leave_wanted = 0;
        send_call(hb, 1);
    }
}

/* EVALSHA heartbeat.lua 3 <workers> <worker> <minute> <now> <consumer>
 *   beat|leave <hash ttl> <minute ttl> <delivered> <retried> <failed>
 *   [<field> <value> ...] */
static void send_call(sf_heartbeat *hb, int leaving) {
    sf_worker *w = hb->w;
    int64_t now = sf_now_ms();
    uint64_t t[T_COUNT];
    totals(w, t);
    char minute_key[SF_KEY_MAX];
    sf_keys_stats_minute(w->cfg.prefix, now - now % 60000, minute_key,
                         sizeof(minute_key));
    char num[8 + T_COUNT + N_MINUTE][24];
    const char *argv[3 + 8 + 2 * (7 + T_COUNT)];
    int n = 0, k = 0;
#define NUM(fmt, v) (snprintf(num[k], sizeof(num[k]), fmt, v), num[k++])
    argv[n++] = hb->workers_key;
    argv[n++] = hb->worker_key;
    argv[n++] = minute_key;
    argv[n++] = NUM("%" PRId64, now);
    argv[n++] = w->cfg.consumer;
    argv[n++] = leaving ? "leave" : "beat";
    argv[n++] = NUM("%d", SF_HEARTBEAT_HASH_TTL_S);
    argv[n++] = NUM("%d", SF_STATS_MINUTE_TTL_S);
    for (int i = 0; i < N_MINUTE; i++) {
        hb->out[i] = t[i] - hb->sent[i];
        argv[n++] = NUM("%" PRIu64, hb->out[i]);
    }
    if (!leaving) {
        argv[n++] = "host";
        argv[n++] = hb->host;
        argv[n++] = "pid";
        argv[n++] = hb->pid;
        argv[n++] = "version";
        argv[n++] = SF_VERSION;
        argv[n++] = "startedAt";
        argv[n++] = NUM("%" PRId64, w->started_ms);
        argv[n++] = "lastSeen";
        argv[n++] = NUM("%" PRId64, now);
        argv[n++] = "concurrency";
        argv[n++] = NUM("%d", w->cfg.concurrency);
        argv[n++] = "inflight";
        argv[n++] = NUM("%d", w->readers[0].inflight + w->readers[1].inflight);
        for (int i = 0; i < T_COUNT; i++) {
            argv[n++] = total_fields[i];
            argv[n++] = NUM("%" PRIu64, t[i]);
        }
    }
#undef NUM
    size_t lens[sizeof(argv) / sizeof(argv[0])];
    for (int i = 0; i < n; i++)
        lens[i] = strlen(argv[i]);
    if (sf_rconn_evalsha(w->main, sf_lua_heartbeat, reply_cb, hb, 3, n, argv,
                         lens) == SF_OK)
        hb->busy = 1;
    else
        memset(hb->out, 0, sizeof(hb->out)); /* link down: next time */
    if (leaving) hb->left = 1;
}

/* Beats now (heartbeat.h). */
void sf_heartbeat_beat(sf_heartbeat *hb) {
    if (hb && !hb->busy && !hb->left && !hb->leave_wanted)
        send_call(hb, 0);
}

/* The graceful exit's last call (heartbeat.h). */
void sf_heartbeat_leave(sf_heartbeat *hb) {
    if (!hb || hb->left || hb->leave_wanted) return;
    evtimer_del(hb->ev);
    if (hb->busy)
        hb->leave_wanted = 1; /* sent by reply_cb */
    else
        send_call(hb, 1);
}

/* 1 while the last call is on its way (heartbeat.h). */
int sf_heartbeat_busy(const sf_heartbeat *hb) {
    return hb && (hb->busy || hb->leave_wanted);
}

static void beat_cb(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    sf_heartbeat *hb = arg;
    sf_heartbeat_beat(hb);
    sf_timer_in(hb->ev, SF_HEARTBEAT_MS);
}

/* Starts the timer (heartbeat.h). */
sf_heartbeat *sf_heartbeat_new(sf_worker *w) {
    sf_heartbeat *hb = calloc(1, sizeof(*hb));
    sf_assert(hb);
    hb->w = w;
    sf_keys_stats_workers(w->cfg.prefix, hb->workers_key,
                          sizeof(hb->workers_key));
    sf_keys_stats_worker(w->cfg.prefix, w->cfg.consumer, hb->worker_key,
                         sizeof(hb->worker_key));
    if (gethostname(hb->host, sizeof(hb->host) - 1) != 0 || !hb->host[0])
        snprintf(hb->host, sizeof(hb->host), "unknown");
    snprintf(hb->pid, sizeof(hb->pid), "%ld", (long)getpid());
    hb->ev = evtimer_new(w->base, beat_cb, hb);
    sf_assert(hb->ev);
    sf_timer_in(hb->ev, SF_HEARTBEAT_MS);
    return hb;
}

/* Frees "hb" (heartbeat.h). */
void sf_heartbeat_free(sf_heartbeat *hb) {
    if (!hb) return;
    event_free(hb->ev);
    free(hb);
}
