/* wf_sweep.c - the workflow runs' expiry sweep (see wf_sweep.h). */
#include "wf_sweep.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys.h"
#include "log.h"
#include "lua.h"
#include "util.h"

struct sf_wf_sweep {
    sf_coord *coord;          /* borrowed */
    struct event *timer;      /* owned; NULL once stopped */
    int inflight;             /* a wf_expire.lua call awaits its reply */
    int stopped;              /* freed by the owner: the reply frees */
    char expire[SF_KEY_MAX], failed[SF_KEY_MAX], runs[SF_KEY_MAX];
    char prefix[SF_KEY_MAX];  /* "P:{wf}:" */
};

static void arm(sf_wf_sweep *w, int64_t ms) {
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
    evtimer_add(w->timer, &tv);
}

static void on_swept(redisAsyncContext *ac, void *reply, void *privdata) {
    (void)ac;
    sf_wf_sweep *w = privdata;
    redisReply *r = reply;
    w->inflight = 0;
    if (w->stopped) {
        free(w);
        return;
    }
    long long moved = 0, deleted = 0;
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2) {
        moved = r->element[0]->integer;
        deleted = r->element[1]->integer;
        if (moved || deleted)
            sf_info("wf_expire failed_scheduled=%lld runs_deleted=%lld", moved, deleted);
    } else if (r && r->type == REDIS_REPLY_ERROR) {
        sf_warn("wf_expire_failed err=%s", SF_LOGQ(r->str));
    }
    /* A full batch: there is more to do now. */
    int backlog = moved >= SF_WF_SWEEP_BATCH || deleted >= SF_WF_SWEEP_BATCH;
    arm(w, backlog ? 0 : SF_WF_SWEEP_EVERY_MS);
}

static void on_tick(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    sf_wf_sweep *w = arg;
    sf_coord *c = w->coord;
    char now[32], keep[32], lim[32];
    snprintf(now, sizeof(now), "%lld", (long long)sf_now_ms());
    snprintf(keep, sizeof(keep), "%lld", (long long)(c->cfg->wf_retention_s * 1000));
    snprintf(lim, sizeof(lim), "%d", SF_WF_SWEEP_BATCH);
    /* wf_expire.lua KEYS expire failed runs; ARGV now retentionMs batch prefix */
    const char *argv[] = {w->expire, w->failed, w->runs, now, keep, lim, w->prefix};
    if (sf_rconn_evalsha(c->redis, sf_lua_wf_expire, on_swept, w, 3, 7, argv, NULL) == SF_OK)
        w->inflight = 1;
    else
        arm(w, SF_WF_SWEEP_EVERY_MS); /* Redis down: next time */
}

sf_wf_sweep *sf_wf_sweep_new(sf_coord *c) {
    sf_wf_sweep *w = calloc(1, sizeof(*w));
    if (!w) return NULL;
    w->coord = c;
    w->timer = evtimer_new(c->base, on_tick, w);
    if (!w->timer) {
        free(w);
        return NULL;
    }
    sf_keys_wf(c->cfg->prefix, "expire", w->expire, sizeof(w->expire));
    sf_keys_wf(c->cfg->prefix, "failed", w->failed, sizeof(w->failed));
    sf_keys_wf(c->cfg->prefix, "runs", w->runs, sizeof(w->runs));
    sf_keys_wf(c->cfg->prefix, "", w->prefix, sizeof(w->prefix));
    arm(w, SF_WF_SWEEP_EVERY_MS);
    return w;
}

void sf_wf_sweep_free(sf_wf_sweep *w) {
    if (!w) return;
    event_free(w->timer);
    w->timer = NULL;
    if (w->inflight) w->stopped = 1; /* on_swept frees it */
    else free(w);
}
