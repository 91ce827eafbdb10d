/* dlq_indexer.c - the DLQ index maintainer (see dlq_indexer.h). */
#include "dlq_indexer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consumers.h"
#include "keys.h"
#include "log.h"
#include "lua.h"
#include "metrics_api.h"
#include "util.h"

#include <event2/event.h>

#define READ_COUNT "100"
#define BLOCK_MS "1000"

struct sf_dlq_indexer {
    sf_coord *coord;        /* borrowed */
    sf_rconn *conn;         /* owned: this module's own connection */
    int up;
    int stopping;
    int group_ready;        /* XGROUP CREATE done on this connection */
    size_t inflight;        /* commands sent and not answered */
    int pending_mode;       /* re-reading our own pending events */
    char pending_from[64];  /* last pending id handled in pending mode */
    int64_t last_claim_ms;  /* when XAUTOCLAIM last reached the end */
    char claim_cursor[64];
    int64_t indexed;        /* events handled, for the logs */
    int64_t prune_due_ms;   /* next consumers_prune.lua of the group */
    struct event *retry_ev; /* owned: re-kick after an error reply */
};

static void kick(sf_dlq_indexer *x);

static void on_retry(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    kick(arg);
}

/* After an error reply: try again in a second instead of spinning. */
static void kick_later(sf_dlq_indexer *x) {
    struct timeval tv = {1, 0};
    evtimer_add(x->retry_ev, &tv);
}

/* Common bookkeeping at the start of every callback; returns 0 when the
 * reply must be ignored (link lost or shutting down). */
static int settle(sf_dlq_indexer *x, redisReply *r) {
    if (x->inflight > 0) x->inflight--;
    return r != NULL && !x->stopping;
}

static void on_indexed(redisAsyncContext *ac, void *reply, void *privdata) {
    (void)ac;
    sf_dlq_indexer *x = privdata;
    redisReply *r = reply;
    if (!settle(x, r)) return;
    if (r->type == REDIS_REPLY_ERROR) {
        sf_warn("dlq_index_failed err=%s", SF_LOGQ(r->str));
    } else {
        x->indexed++;
        sf_coord_metrics_dlq_indexed(x->coord->metrics);
    }
    if (x->inflight == 0) kick(x);
}

/* Handles the entries of an XREADGROUP / XAUTOCLAIM reply: one
 * dlq_index.lua per event.  Returns the number of entries seen. */
static size_t handle_entries(sf_dlq_indexer *x, const redisReply *entries) {
    sf_coord *c = x->coord;
    size_t seen = 0;
    if (!entries || entries->type != REDIS_REPLY_ARRAY) return 0;
    for (size_t i = 0; i < entries->elements; i++) {
        const redisReply *e = entries->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 1 ||
            e->element[0]->type != REDIS_REPLY_STRING)
            continue;
        const char *eid = e->element[0]->str;
        seen++;
        if (x->pending_mode)
            snprintf(x->pending_from, sizeof(x->pending_from), "%s", eid);
        const char *dlq_id = NULL;
        const redisReply *f = e->elements > 1 ? e->element[1] : NULL;
        for (size_t k = 0; f && f->type == REDIS_REPLY_ARRAY && k + 1 < f->elements; k += 2)
            if (f->element[k]->type == REDIS_REPLY_STRING &&
                f->element[k + 1]->type == REDIS_REPLY_STRING &&
                strcmp(f->element[k]->str, "dlqId") == 0)
                dlq_id = f->element[k + 1]->str;
        /* A malformed event (no dlqId) goes through the script too, with an
         * id that matches no entry: it indexes nothing and the event is
         * acknowledged and deleted like any other. */
        if (!dlq_id) dlq_id = "";
        char key[SF_KEY_MAX];
        sf_keys_dlq_entry(c->cfg->prefix, dlq_id, key, sizeof(key));
        /* dlq_index.lua KEYS entry events; ARGV dlqId idxPrefix eventId */
        const char *argv[] = {key, c->dlq_events, dlq_id, c->dlq_idx_prefix, eid};
        size_t lens[5];
        for (int k = 0; k < 5; k++) lens[k] = strlen(argv[k]);
        sf_status st = sf_rconn_evalsha(x->conn, sf_lua_dlq_index, on_indexed, x, 2, 5,
                              argv, lens);
        if (st == SF_OK) x->inflight++;
    }
    return seen;
}

static void on_read(redisAsyncContext *ac, void *reply, void *privdata) {
    (void)ac;
    sf_dlq_indexer *x = privdata;
    redisReply *r = reply;
    if (!settle(x, r)) return;
    size_t seen = 0;
    if (r->type == REDIS_REPLY_ERROR) {
        sf_warn("dlq_indexer_read_failed err=%s", SF_LOGQ(r->str));
        if (strstr(r->str, "NOGROUP")) x->group_ready = 0;
        if (x->inflight == 0) kick_later(x);
        return;
    } else if (r->type == REDIS_REPLY_ARRAY) {
        /* [[stream, [[id, [f, v, ...]], ...]]] */
        for (size_t i = 0; i < r->elements; i++) {
            const redisReply *s = r->element[i];
            if (s->type == REDIS_REPLY_ARRAY && s->elements == 2)
                seen += handle_entries(x, s->element[1]);
        }
    }
    if (x->pending_mode && seen == 0) x->pending_mode = 0;
    if (x->inflight == 0) kick(x);
}

static void on_claim(redisAsyncContext *ac, void *reply, void *privdata) {
    (void)ac;
    sf_dlq_indexer *x = privdata;
    redisReply *r = reply;
    if (!settle(x, r)) return;
    /* [next-cursor, [[id, fields], ...], [deleted ids]] */
    int done = 1;
    if (r->type == REDIS_REPLY_ARRAY && r->elements >= 2 &&
        r->element[0]->type == REDIS_REPLY_STRING) {
        snprintf(x->claim_cursor, sizeof(x->claim_cursor), "%s", r->element[0]->str);
        done = strcmp(x->claim_cursor, "0-0") == 0;
        size_t n = handle_entries(x, r->element[1]);
        if (n) sf_info("dlq_indexer_claimed events=%zu", n);
    } else if (r->type == REDIS_REPLY_ERROR) {
        sf_warn("dlq_indexer_claim_failed err=%s", SF_LOGQ(r->str));
        x->last_claim_ms = sf_now_ms();
        snprintf(x->claim_cursor, sizeof(x->claim_cursor), "0-0");
        if (x->inflight == 0) kick_later(x);
        return;
    }
    if (done) {
        x->last_claim_ms = sf_now_ms();
        snprintf(x->claim_cursor, sizeof(x->claim_cursor), "0-0");
    }
    if (x->inflight == 0) kick(x);
}

static void on_group(redisAsyncContext *ac, void *reply, void *privdata) {
    (void)ac;
    sf_dlq_indexer *x = privdata;
    redisReply *r = reply;
    if (!settle(x, r)) return;
    if (r->type == REDIS_REPLY_ERROR && !strstr(r->str, "BUSYGROUP")) {
        sf_warn("dlq_indexer_group_failed err=%s", SF_LOGQ(r->str));
        kick_later(x);
        return;
    }
    x->group_ready = 1;
    kick(x);
}

/* Sends the next command of the loop: group setup, a claim, or a read. */
static void kick(sf_dlq_indexer *x) {
    sf_coord *c = x->coord;
    sf_status st;
    if (x->stopping || !x->up || x->inflight > 0) return;
    const char *consumer = c->cfg->consumer[0] ? c->cfg->consumer : "coordinator";
    if (x->group_ready && sf_now_ms() >= x->prune_due_ms) {
        /* consumers of coordinators that are gone (consumers.h); outside
         * the one-command-at-a-time loop: nothing here waits for it */
        x->prune_due_ms = sf_now_ms() + SF_CONSUMER_PRUNE_EVERY_MS;
        sf_consumers_prune(x->conn, c->dlq_events, SF_GROUP_INDEXER, "",
                           "dlq_events");
    }
    if (!x->group_ready) {
        /* XGROUP CREATE P:{dlq}:events indexer 0 MKSTREAM */
        st = sf_rconn_commandf(x->conn, on_group, x, "XGROUP CREATE %s %s 0 MKSTREAM",
                               c->dlq_events, SF_GROUP_INDEXER);
    } else if (!x->pending_mode &&
               sf_now_ms() - x->last_claim_ms >= SF_INDEXER_CLAIM_EVERY_MS) {
        /* XAUTOCLAIM <events> indexer <consumer> <min-idle> <cursor> COUNT n */
        st = sf_rconn_commandf(x->conn, on_claim, x,
                               "XAUTOCLAIM %s %s %s %d %s COUNT " READ_COUNT,
                               c->dlq_events, SF_GROUP_INDEXER, consumer,
                               SF_INDEXER_CLAIM_IDLE_MS, x->claim_cursor);
    } else if (x->pending_mode) {
        /* XREADGROUP GROUP indexer <consumer> COUNT n STREAMS <events> <id> */
        st = sf_rconn_commandf(x->conn, on_read, x,
                               "XREADGROUP GROUP %s %s COUNT " READ_COUNT
                               " STREAMS %s %s", SF_GROUP_INDEXER, consumer,
                               c->dlq_events, x->pending_from);
    } else {
        /* XREADGROUP GROUP indexer <consumer> COUNT n BLOCK ms STREAMS <events> > */
        st = sf_rconn_commandf(x->conn, on_read, x,
                               "XREADGROUP GROUP %s %s COUNT " READ_COUNT
                               " BLOCK " BLOCK_MS " STREAMS %s >", SF_GROUP_INDEXER,
                               consumer, c->dlq_events);
    }
    if (st == SF_OK) x->inflight++;
}

static void on_state(sf_rconn *conn, int up, void *arg) {
    (void)conn;
    sf_dlq_indexer *x = arg;
    x->up = up;
    if (!up) {
        x->group_ready = 0;
        return;
    }
    /* After a reconnect, first finish what we read and did not ack. */
    x->pending_mode = 1;
    snprintf(x->pending_from, sizeof(x->pending_from), "0");
    kick(x);
}

sf_dlq_indexer *sf_dlq_indexer_new(sf_coord *c) {
    sf_dlq_indexer *x = calloc(1, sizeof(*x));
    if (!x) return NULL;
    x->coord = c;
    snprintf(x->claim_cursor, sizeof(x->claim_cursor), "0-0");
    x->prune_due_ms = sf_now_ms() + SF_CONSUMER_PRUNE_FIRST_MS;
    x->retry_ev = evtimer_new(c->base, on_retry, x);
    if (!x->retry_ev) {
        free(x);
        return NULL;
    }
    x->conn = sf_rconn_new(c->base, &c->cfg->redis, c->cfg->prefix,
                           "stepflow-coordinator-indexer", on_state, x);
    if (!x->conn) {
        event_free(x->retry_ev);
        free(x);
        return NULL;
    }
    sf_coord_metrics_redis_conn(c->metrics, x->conn, "indexer");
    return x;
}

int sf_dlq_indexer_is_up(const sf_dlq_indexer *x) {
    return x && sf_rconn_is_up(x->conn);
}

void sf_dlq_indexer_free(sf_dlq_indexer *x) {
    if (!x) return;
    x->stopping = 1;
    sf_rconn_free(x->conn);
    event_free(x->retry_ev);
    free(x);
}

