/* dlq_actions.c - POST /v2/dlq/retry[/{dlqId}] (publish the original
 * message again and drop the entry), POST and DELETE
 * /v2/workflows/dlq/callback/{dlqId} (retry or cancel the failure
 * callback).  See api.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "dlq_api.h"
#include "dlq_scan.h"
#include "keys.h"
#include "log.h"
#include "lua.h"
#include "publish_api.h"
#include "util.h"

/* The HGETALL reply's value for "name" with its length, or NULL. */
static const redisReply *hfield(const redisReply *r, const char *name) {
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const redisReply *f = r->element[i];
        if (f->type == REDIS_REPLY_STRING && strcmp(f->str, name) == 0 &&
            r->element[i + 1]->type == REDIS_REPLY_STRING)
            return r->element[i + 1];
    }
    return NULL;
}

/* Decodes a stored envelope into a fresh message to publish again: a new
 * id, now as creation time, no attempts used, no delay, no dedup id.
 * Returns NULL when the envelope is missing or broken. */
static sf_message *renew_message(const char *data, size_t len, sf_err *err) {
    sf_message *m = sf_message_decode(data, len, err);
    if (!m) return NULL;
    char id[64];
    free(m->id);
    m->id = strdup(sf_random_id("msg_", id, sizeof(id)));
    m->retried = 0;
    m->created_ms = sf_now_ms();
    m->not_before_ms = 0;
    free(m->dedup_id);
    m->dedup_id = NULL;
    for (size_t i = 0; i < m->attempts_len; i++) free(m->attempts[i].error);
    free(m->attempts);
    m->attempts = NULL;
    m->attempts_len = 0;
    if (!m->id) {
        sf_message_free(m);
        return NULL;
    }
    return m;
}

/* ---- retry of DLQ messages (one or many) ---- */

typedef struct retry_ctx {
    sf_coord *coord;
    struct evhttp_request *req;
    int single;           /* /retry/{dlqId}: answer {messageId} */
    sf_message **msgs;    /* owned */
    char **dlq_ids;       /* owned */
    size_t n, cap;
    char *cursor;         /* owned */
    json_t *responses;    /* owned: [{messageId}] */
} retry_ctx;

static void retry_free(retry_ctx *r) {
    for (size_t i = 0; i < r->n; i++) {
        sf_message_free(r->msgs[i]);
        free(r->dlq_ids[i]);
    }
    free(r->msgs);
    free(r->dlq_ids);
    free(r->cursor);
    json_decref(r->responses);
    free(r);
}

static void retry_add(retry_ctx *r, const char *dlq_id, sf_message *m) {
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 16;
        sf_message **msgs = realloc(r->msgs, cap * sizeof(*msgs));
        if (msgs) r->msgs = msgs;
        char **ids = realloc(r->dlq_ids, cap * sizeof(*ids));
        if (ids) r->dlq_ids = ids;
        if (!msgs || !ids) {
            sf_message_free(m);
            return;
        }
        r->cap = cap;
    }
    r->dlq_ids[r->n] = strdup(dlq_id);
    if (!r->dlq_ids[r->n]) {
        sf_message_free(m);
        return;
    }
    r->msgs[r->n++] = m;
}

static void retry_reply(retry_ctx *r) {
    if (r->single) {
        json_t *first = json_array_get(r->responses, 0);
        sf_http_reply_json(r->req, 200, json_incref(first));
    } else {
        sf_http_reply_json(r->req, 200,
                           sf_json_with_cursor(json_pack("{s:O}", "responses",
                                                         r->responses),
                                               r->cursor));
    }
    retry_free(r);
}

static void retry_deleted(sf_coord *c, sf_status st, size_t deleted, void *arg) {
    (void)c, (void)deleted;
    /* The messages are published again either way; an entry left behind
     * would only be retried twice if asked again. */
    if (st != SF_OK) sf_warn("dlq_retry_delete_failed");
    retry_reply(arg);
}

static void retry_enqueued(sf_coord *c, const sf_enqueue_result *res, void *arg) {
    retry_ctx *r = arg;
    if (res->status != SF_OK) {
        sf_http_reply_error(r->req, 503, "redis unavailable, nothing retried");
        retry_free(r);
        return;
    }
    for (size_t i = 0; i < res->n; i++)
        json_array_append_new(r->responses, json_pack("{s:s}", "messageId", res->ids[i]));
    if (sf_dlq_delete_ids(c, r->dlq_ids, r->n, retry_deleted, r) != SF_OK)
        retry_reply(r);
}

/* Publishes the collected messages again, then drops their entries. */
static void retry_publish(retry_ctx *r) {
    if (r->n == 0) {
        retry_reply(r);
        return;
    }
    int64_t *due = calloc(r->n, sizeof(*due));
    if (!due || sf_enqueue(r->coord, r->msgs, due, r->n, retry_enqueued, r) != SF_OK) {
        sf_http_reply_error(r->req, 503, "redis unavailable");
        retry_free(r);
    }
    free(due);
}

static retry_ctx *retry_new(sf_coord *c, struct evhttp_request *req) {
    retry_ctx *r = calloc(1, sizeof(*r));
    if (!r) return NULL;
    r->coord = c;
    r->req = req;
    r->responses = json_array();
    if (!r->responses) {
        free(r);
        return NULL;
    }
    return r;
}

static void on_retry_one_entry(redisAsyncContext *ac, void *reply, void *privdata) {
    (void)ac;
    retry_ctx *r = privdata;
    redisReply *h = reply;
    if (!h || h->type != REDIS_REPLY_ARRAY) {
        sf_http_reply_error(r->req, 503, "redis unavailable");
        retry_free(r);
        return;
    }
    const redisReply *id = hfield(h, "dlqId"), *m = hfield(h, "m");
    if (!id) {
        sf_http_reply_error(r->req, 404, "dlq message not found");
        retry_free(r);
        return;
    }
    sf_err err = {{0}};
    sf_message *msg = m ? renew_message(m->str, m->len, &err) : NULL;
    if (!msg) {
        sf_http_reply_error(r->req, 400, "dlq message %s holds no message that "
                            "can be published again%s%s", id->str,
                            err.msg[0] ? ": " : "", err.msg);
        retry_free(r);
        return;
    }
    retry_add(r, id->str, msg);
    retry_publish(r);
}

void sf_api_dlq_retry_one(sf_coord *c, struct evhttp_request *req,
                          const char *tail) {
    retry_ctx *r = retry_new(c, req);
    if (!r) {
        sf_http_reply_error(req, 500, "out of memory");
        return;
    }
    r->single = 1;
    char key[SF_KEY_MAX];
    sf_keys_dlq_entry(c->cfg->prefix, tail, key, sizeof(key));
    /* HGETALL P:{dlq}:entry:<dlqId> */
    if (sf_rconn_commandf(c->redis, on_retry_one_entry, r, "HGETALL %s", key) != SF_OK) {
        sf_http_reply_error(req, 503, "redis unavailable");
        retry_free(r);
    }
}

static void retry_many_match(void *arg, const char **fields, const size_t *flen,
                             const char **values, const size_t *vlen, size_t n) {
    (void)flen;
    retry_ctx *r = arg;
    const char *id = sf_dlq_field(fields, values, n, "dlqId");
    for (size_t i = 0; id && i < n; i++) {
        if (strcmp(fields[i], "m") != 0) continue;
        sf_message *m = renew_message(values[i], vlen[i], NULL);
        if (m) retry_add(r, id, m);
        return;
    }
}

static void retry_many_done(void *arg, sf_status st, const char *cursor) {
    retry_ctx *r = arg;
    if (st != SF_OK) {
        sf_http_reply_error(r->req, 503, "redis unavailable");
        retry_free(r);
        return;
    }
    r->cursor = strdup(cursor);
    retry_publish(r);
}

void sf_api_dlq_retry_many(sf_coord *c, struct evhttp_request *req,
                           const char *tail) {
    (void)tail;
    sf_dlq_scan *s = sf_dlq_scan_new_or_400(c, req, SF_SCAN_MAX_COUNT);
    if (!s) return;
    retry_ctx *r = retry_new(c, req);
    if (!r) {
        sf_dlq_scan_free(s);
        sf_http_reply_error(req, 500, "out of memory");
        return;
    }
    if (sf_dlq_scan_start(s, retry_many_match, retry_many_done, r) != SF_OK) {
        retry_free(r);
        sf_http_reply_error(req, 503, "redis unavailable");
    }
}

/* ---- failure callback: retry and cancel ---- */

typedef struct cb_ctx {
    sf_coord *coord;
    struct evhttp_request *req;
    char *dlq_id;           /* owned */
    char *wf_run_id;        /* owned, "" when not a workflow */
    int64_t wf_created_ms;
} cb_ctx;

static void cb_free(cb_ctx *x) {
    free(x->dlq_id);
    free(x->wf_run_id);
    free(x);
}

static cb_ctx *cb_new(sf_coord *c, struct evhttp_request *req, const char *id) {
    cb_ctx *x = calloc(1, sizeof(*x));
    if (!x) return NULL;
    x->coord = c;
    x->req = req;
    x->dlq_id = strdup(id);
    x->wf_run_id = strdup("");
    if (!x->dlq_id || !x->wf_run_id) {
        cb_free(x);
        return NULL;
    }
    return x;
}

/* Answers a script's "wrong state" reply (a status string). */
static void reply_state(cb_ctx *x, const char *state, const char *only,
                        const char *verb) {
    if (strcmp(state, "NONE") == 0)
        sf_http_reply_error(x->req, 400, "dlq message %s has no failure callback",
                            x->dlq_id);
    else if (strcmp(state, "STALE") == 0)
        sf_http_reply_error(x->req, 409, "failure callback of %s changed "
                            "meanwhile; try again", x->dlq_id);
    else
        sf_http_reply_error(x->req, 400, "failure callback of %s is in state %s; "
                            "only %s can be %s", x->dlq_id, state, only, verb);
}

static void on_cb_retried(redisAsyncContext *ac, void *reply, void *privdata) {
    (void)ac;
    cb_ctx *x = privdata;
    redisReply *r = reply;
    if (!r || r->type == REDIS_REPLY_ERROR) {
        if (r) sf_warn("cb_retry_failed dlqId=%s err=%s", SF_LOGQ(x->dlq_id),
                       SF_LOGQ(r->str));
        sf_http_reply_error(x->req, 503, "redis unavailable");
    } else if (r->type == REDIS_REPLY_INTEGER && r->integer == 1) {
        sf_http_reply_json(x->req, 200, json_pack("{s:s,s:I}", "workflowRunId",
                                                  x->wf_run_id, "workflowCreatedAt",
                                                  (json_int_t)x->wf_created_ms));
    } else if (r->type == REDIS_REPLY_INTEGER) {
        sf_http_reply_error(x->req, 404, "dlq message not found");
    } else {
        reply_state(x, r->str ? r->str : "?", "CALLBACK_FAIL", "retried");
    }
    cb_free(x);
}

static void on_cb_entry(redisAsyncContext *ac, void *reply, void *privdata) {
    (void)ac;
    cb_ctx *x = privdata;
    sf_coord *c = x->coord;
    redisReply *h = reply;
    if (!h || h->type != REDIS_REPLY_ARRAY) {
        sf_http_reply_error(x->req, 503, "redis unavailable");
        cb_free(x);
        return;
    }
    if (h->elements < 2) {
        sf_http_reply_error(x->req, 404, "dlq message not found");
        cb_free(x);
        return;
    }
    const redisReply *url = hfield(h, "failureCallback");
    const redisReply *state = hfield(h, "callbackState");
    const redisReply *gen = hfield(h, "callbackGen");
    const redisReply *cbm = hfield(h, "cbm");
    const redisReply *run = hfield(h, "workflowRunId");
    const redisReply *wct = hfield(h, "workflowCreatedAt");
    if (!url || !url->len || !state) {
        reply_state(x, "NONE", "", "");
        cb_free(x);
        return;
    }
    if (strcmp(state->str, "CALLBACK_FAIL") != 0) {
        reply_state(x, state->str, "CALLBACK_FAIL", "retried");
        cb_free(x);
        return;
    }
    int64_t old_gen = 0;
    if (gen && sf_parse_i64(gen->str, gen->len, &old_gen) != 0) old_gen = 0;
    if (run) {
        free(x->wf_run_id);
        x->wf_run_id = strndup(run->str, run->len);
    }
    if (wct) sf_parse_i64(wct->str, wct->len, &x->wf_created_ms);
    sf_err err = {{0}};
    sf_message *job = cbm ? renew_message(cbm->str, cbm->len, &err) : NULL;
    if (!job || !x->wf_run_id) {
        sf_message_free(job);
        sf_http_reply_error(x->req, 400, "dlq message %s holds no failure callback "
                            "job that can be retried%s%s", x->dlq_id,
                            err.msg[0] ? ": " : "", err.msg);
        cb_free(x);
        return;
    }
    job->cb_gen = old_gen + 1;
    sf_buf env;
    sf_buf_init(&env);
    sf_message_encode(job, &env);
    char key[SF_KEY_MAX], oldg[32], newg[32], now[32];
    sf_keys_dlq_entry(c->cfg->prefix, x->dlq_id, key, sizeof(key));
    snprintf(oldg, sizeof(oldg), "%lld", (long long)old_gen);
    snprintf(newg, sizeof(newg), "%lld", (long long)job->cb_gen);
    snprintf(now, sizeof(now), "%lld", (long long)sf_now_ms());
    /* cb_retry.lua KEYS entry events cbstream;
     * ARGV dlqId expectedOldGen newGen env jobId now */
    const char *argv[] = {key, c->dlq_events, c->cbq.stream, x->dlq_id, oldg,
                          newg, env.data ? env.data : "", job->id, now};
    size_t lens[9];
    for (int i = 0; i < 9; i++) lens[i] = strlen(argv[i]);
    lens[6] = env.len;
    sf_status st = sf_rconn_evalsha(c->redis, sf_lua_cb_retry, on_cb_retried, x,
                                    3, 9, argv, lens);
    sf_buf_cleanup(&env);
    sf_message_free(job);
    if (st != SF_OK) {
        sf_http_reply_error(x->req, 503, "redis unavailable");
        cb_free(x);
    }
}

void sf_api_cb_retry(sf_coord *c, struct evhttp_request *req, const char *tail) {
    cb_ctx *x = cb_new(c, req, tail);
    if (!x) {
        sf_http_reply_error(req, 500, "out of memory");
        return;
    }
    char key[SF_KEY_MAX];
    sf_keys_dlq_entry(c->cfg->prefix, tail, key, sizeof(key));
    /* HGETALL P:{dlq}:entry:<dlqId> */
    if (sf_rconn_commandf(c->redis, on_cb_entry, x, "HGETALL %s", key) != SF_OK) {
        sf_http_reply_error(req, 503, "redis unavailable");
        cb_free(x);
    }
}

static void on_cb_cancelled(redisAsyncContext *ac, void *reply, void *privdata) {
    (void)ac;
    cb_ctx *x = privdata;
    redisReply *r = reply;
    if (!r || r->type == REDIS_REPLY_ERROR) {
        if (r) sf_warn("cb_cancel_failed dlqId=%s err=%s", SF_LOGQ(x->dlq_id),
                       SF_LOGQ(r->str));
        sf_http_reply_error(x->req, 503, "redis unavailable");
    } else if (r->type == REDIS_REPLY_INTEGER && r->integer == 1) {
        sf_http_reply_json(x->req, 200, json_object());
    } else if (r->type == REDIS_REPLY_INTEGER) {
        sf_http_reply_error(x->req, 404, "dlq message not found");
    } else {
        reply_state(x, r->str ? r->str : "?", "CALLBACK_INPROGRESS", "cancelled");
    }
    cb_free(x);
}

void sf_api_cb_cancel(sf_coord *c, struct evhttp_request *req, const char *tail) {
    cb_ctx *x = cb_new(c, req, tail);
    if (!x) {
        sf_http_reply_error(req, 500, "out of memory");
        return;
    }
    char key[SF_KEY_MAX], now[32];
    sf_keys_dlq_entry(c->cfg->prefix, tail, key, sizeof(key));
    snprintf(now, sizeof(now), "%lld", (long long)sf_now_ms());
    /* cb_cancel.lua KEYS entry events; ARGV dlqId now */
    const char *argv[] = {key, c->dlq_events, tail, now};
    size_t lens[] = {strlen(key), strlen(c->dlq_events), strlen(tail), strlen(now)};
    if (sf_rconn_evalsha(c->redis, sf_lua_cb_cancel, on_cb_cancelled, x, 2, 4,
                         argv, lens) != SF_OK) {
        sf_http_reply_error(req, 503, "redis unavailable");
        cb_free(x);
    }
}
