/* wf_runs.c - ending, cancelling and reading workflow runs (see api.h):
 *   DELETE /v2/workflows/runs/{runId}?cancel=false  the run is done: its
 *          result (the body) is kept, RUN_SUCCESS (serve()'s last call)
 *   DELETE /v2/workflows/runs/{runId}?cancel=true   RUN_CANCELED
 *   DELETE /v2/workflows/runs?<filter>              client.cancel(...)
 *   GET    /v2/workflows/runs/{runId}               the recorded steps,
 *          for serve()'s lazy fetch (404 once the run is not running)
 * Ending a run is wf_finish.lua: atomic, only from RUN_STARTED, and it
 * schedules the run's deletion after STEPFLOW_WORKFLOW_RETENTION_S. */
#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "keys.h"
#include "log.h"
#include "lua.h"
#include "util.h"
#include "wf.h"
#include "wf_scan.h"

#define CANCEL_DEFAULT_COUNT 100
#define CANCEL_MAX_COUNT 1000

/* The run id of a path segment, %-decoded (malloc'd), or NULL. */
static char *run_id_of(const char *tail) {
    char *id = evhttp_uridecode(tail, 0, NULL);
    if (id && !*id) {
        free(id);
        return NULL;
    }
    return id;
}

/* ---- ending one run (wf_finish.lua) ---- */

typedef void finished_fn(sf_coord *c, redisReply *r, void *arg);

/* Runs wf_finish.lua on "run_id": to "state", keeping "response" (NULL =
 * none).  "fn" gets the script's reply (NULL when the link dropped). */
static sf_status finish_run(sf_coord *c, const char *run_id, const char *state,
                            const void *response, size_t response_len,
                            redisCallbackFn *fn, void *arg) {
    char run[SF_KEY_MAX], next[SF_KEY_MAX], expire[SF_KEY_MAX],
        running[SF_KEY_MAX], now[32], at[32];
    sf_keys_wf_run(c->cfg->prefix, "run", run_id, run, sizeof(run));
    sf_keys_wf_run(c->cfg->prefix, "next", run_id, next, sizeof(next));
    sf_keys_wf(c->cfg->prefix, "expire", expire, sizeof(expire));
    sf_keys_wf(c->cfg->prefix, "running", running, sizeof(running));
    int64_t now_ms = sf_now_ms();
    snprintf(now, sizeof(now), "%lld", (long long)now_ms);
    snprintf(at, sizeof(at), "%lld", (long long)(now_ms + c->cfg->wf_retention_s * 1000));
    /* wf_finish.lua KEYS run next expire running;
     * ARGV runId state now deleteAt hasResponse response */
    const char *argv[] = {run, next, expire, running, run_id, state, now, at,
                          response ? "1" : "0", response ? response : ""};
    size_t lens[10];
    for (int i = 0; i < 9; i++) lens[i] = strlen(argv[i]);
    lens[9] = response ? response_len : 0; /* the body: not NUL-terminated */
    return sf_rconn_evalsha(c->redis, sf_lua_wf_finish, fn, arg, 4, 10, argv, lens);
}

typedef struct end_ctx {
    struct evhttp_request *req;
    char *run_id;   /* owned */
} end_ctx;

static void on_ended(redisAsyncContext *ac, void *reply, void *privdata) {
    (void)ac;
    end_ctx *x = privdata;
    redisReply *r = reply;
    if (!r || r->type == REDIS_REPLY_ERROR) {
        if (r) sf_warn("wf_finish_failed runId=%s err=%s", SF_LOGQ(x->run_id),
                       SF_LOGQ(r->str));
        sf_http_reply_error(x->req, 503, "redis unavailable");
    } else if (r->type == REDIS_REPLY_INTEGER && r->integer == 1) {
        sf_http_reply_json(x->req, 200, json_object());
    } else if (r->type == REDIS_REPLY_INTEGER) {
        sf_http_reply_error(x->req, 404, "workflow run %s not found", x->run_id);
    } else {
        sf_http_reply_error(x->req, 400, "workflow run %s is not running (%s)",
                            x->run_id, r->str ? r->str : "?");
    }
    free(x->run_id);
    free(x);
}

void sf_api_wf_run_delete(sf_coord *c, struct evhttp_request *req, const char *tail) {
    struct evkeyvalq q;
    if (sf_http_query_or_400(req, &q) != 0) return;
    const char *cancel = evhttp_find_header(&q, "cancel");
    int is_cancel = cancel && strcmp(cancel, "true") == 0;
    if (cancel && !is_cancel && strcmp(cancel, "false") != 0) {
        evhttp_clear_headers(&q);
        sf_http_reply_error(req, 400, "invalid cancel: want true or false");
        return;
    }
    evhttp_clear_headers(&q);
    end_ctx *x = calloc(1, sizeof(*x));
    if (!x || !(x->run_id = run_id_of(tail))) {
        free(x);
        sf_http_reply_error(req, 400, "invalid workflow run id");
        return;
    }
    x->req = req;
    size_t len = 0;
    const unsigned char *body = sf_http_body(req, &len);
    if (finish_run(c, x->run_id, is_cancel ? SF_RUN_CANCELED : SF_RUN_SUCCESS,
                   !is_cancel && len > 0 ? body : NULL, len, on_ended, x) != SF_OK) {
        sf_http_reply_error(req, 503, "redis unavailable");
        free(x->run_id);
        free(x);
    }
}

/* ---- DELETE /v2/workflows/runs (ids, filter or all) ---- */

typedef struct cancel_ctx {
    sf_coord *coord;
    struct evhttp_request *req;
    size_t pending;      /* scan + cancels not answered yet */
    size_t cancelled;
    int failed;
} cancel_ctx;

static void cancel_settle(cancel_ctx *x) {
    if (--x->pending > 0) return;
    if (x->failed)
        sf_http_reply_error(x->req, 503, "redis unavailable (%zu runs cancelled)",
                            x->cancelled);
    else
        sf_http_reply_json(x->req, 200, json_pack("{s:I}", "cancelled",
                                                  (json_int_t)x->cancelled));
    free(x);
}

static void on_cancelled(redisAsyncContext *ac, void *reply, void *privdata) {
    (void)ac;
    cancel_ctx *x = privdata;
    redisReply *r = reply;
    if (!r || r->type == REDIS_REPLY_ERROR) {
        if (r) sf_warn("wf_cancel_failed err=%s", SF_LOGQ(r->str));
        x->failed = 1;
    } else if (r->type == REDIS_REPLY_INTEGER && r->integer == 1) {
        x->cancelled++;
    }
    cancel_settle(x);
}

static void cancel_match(void *arg, const sf_wf_run_view *v) {
    cancel_ctx *x = arg;
    if (finish_run(x->coord, v->run_id, SF_RUN_CANCELED, NULL, 0, on_cancelled, x) == SF_OK)
        x->pending++;
    else
        x->failed = 1;
}

static void cancel_done(void *arg, sf_status st, const char *cursor) {
    (void)cursor; /* cancel has no cursor: the caller calls again */
    cancel_ctx *x = arg;
    if (st != SF_OK) x->failed = 1;
    cancel_settle(x);
}

void sf_api_wf_runs_cancel(sf_coord *c, struct evhttp_request *req, const char *tail) {
    (void)tail;
    sf_wf_scan *s = sf_wf_scan_new_or_400(c, req, 1, CANCEL_DEFAULT_COUNT,
                                          CANCEL_MAX_COUNT, 0);
    if (!s) return;
    /* Only running runs can be cancelled; they are what count means. */
    sf_wf_query *q = sf_wf_scan_query(s);
    q->states.n = 1;
    q->states.v[0] = SF_RUN_STARTED;
    cancel_ctx *x = calloc(1, sizeof(*x));
    if (!x) {
        sf_wf_scan_free(s);
        sf_http_reply_error(req, 500, "out of memory");
        return;
    }
    *x = (cancel_ctx){.coord = c, .req = req, .pending = 1};
    if (sf_wf_scan_start(s, cancel_match, cancel_done, x) != SF_OK) {
        free(x);
        sf_http_reply_error(req, 503, "redis unavailable");
    }
}

/* ---- GET /v2/workflows/runs/{runId} ---- */

typedef struct steps_ctx {
    struct evhttp_request *req;
    char *run_id;   /* owned */
} steps_ctx;

/* Answers 200 with the JSON array of the step items, as stored. */
static void reply_items(struct evhttp_request *req, const redisReply *items) {
    struct evbuffer *out = evbuffer_new();
    if (!out) {
        sf_http_reply_error(req, 500, "out of memory");
        return;
    }
    evbuffer_add(out, "[", 1);
    for (size_t i = 0; i < items->elements; i++) {
        const redisReply *e = items->element[i];
        if (e->type != REDIS_REPLY_STRING) continue;
        if (i > 0) evbuffer_add(out, ",", 1);
        evbuffer_add(out, e->str, e->len);
    }
    evbuffer_add(out, "]", 1);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      "application/json");
    evhttp_send_reply(req, 200, "OK", out);
    evbuffer_free(out);
}

static void on_steps(redisAsyncContext *ac, void *reply, void *privdata) {
    (void)ac;
    steps_ctx *x = privdata;
    redisReply *r = reply;
    /* wf_log.lua: {state, response, {items}, {next}} */
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 4) {
        if (r && r->type == REDIS_REPLY_ERROR)
            sf_warn("wf_steps_failed runId=%s err=%s", SF_LOGQ(x->run_id),
                    SF_LOGQ(r->str));
        sf_http_reply_error(x->req, 503, "redis unavailable");
    } else if (r->element[0]->type != REDIS_REPLY_STRING) {
        sf_http_reply_error(x->req, 404, "workflow run %s not found", x->run_id);
    } else if (strcmp(r->element[0]->str, SF_RUN_STARTED) != 0) {
        sf_http_reply_error(x->req, 404, "workflow run %s is not running (%s)",
                            x->run_id, r->element[0]->str);
    } else if (r->element[2]->type != REDIS_REPLY_ARRAY) {
        sf_http_reply_error(x->req, 500, "malformed steps of %s", x->run_id);
    } else {
        reply_items(x->req, r->element[2]);
    }
    free(x->run_id);
    free(x);
}

void sf_api_wf_run_steps(sf_coord *c, struct evhttp_request *req, const char *tail) {
    steps_ctx *x = calloc(1, sizeof(*x));
    if (!x || !(x->run_id = run_id_of(tail))) {
        free(x);
        sf_http_reply_error(req, 400, "invalid workflow run id");
        return;
    }
    x->req = req;
    char run[SF_KEY_MAX], steps[SF_KEY_MAX], next[SF_KEY_MAX];
    sf_keys_wf_run(c->cfg->prefix, "run", x->run_id, run, sizeof(run));
    sf_keys_wf_run(c->cfg->prefix, "steps", x->run_id, steps, sizeof(steps));
    sf_keys_wf_run(c->cfg->prefix, "next", x->run_id, next, sizeof(next));
    /* wf_log.lua KEYS run steps next; ARGV "steps" (the steps only) */
    const char *argv[] = {run, steps, next, "steps"};
    if (sf_rconn_evalsha(c->redis, sf_lua_wf_log, on_steps, x, 3, 4, argv, NULL) != SF_OK) {
        sf_http_reply_error(req, 503, "redis unavailable");
        free(x->run_id);
        free(x);
    }
}
