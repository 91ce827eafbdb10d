/* wf_logs.c - GET /v2/workflows/events?groupBy=workflowRunId (what
 * client.logs() calls): {"cursor"?, "runs": [WorkflowRunLog]}, newest run
 * first, count default 10, at most 100.
 *
 * The runs come from wf_scan (filters in wf_query.h; at most 1000 runs
 * looked at per page, the cursor goes on from there).  Then, per run,
 * pipelined: its DLQ entry when it has one (the failureFunction section)
 * and wf_log.lua (state, result, steps, next states at one instant).  The
 * JSON is built by wf_log_json.c. */
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "keys.h"
#include "log.h"
#include "lua.h"
#include "util.h"
#include "wf_log_json.h"
#include "wf_scan.h"

#define LOGS_DEFAULT_COUNT 10
#define LOGS_MAX_COUNT 100
#define LOGS_MAX_LOOKED 1000

/* A run's fields copied out of the scan's reply. */
typedef struct log_run {
    char *strs[8];        /* owned: the view's strings */
    sf_wf_run_view v;     /* points into strs */
    json_t *failure;      /* owned: failureFunction, or NULL */
    json_t *json;         /* owned: the built log, NULL if gone */
} log_run;

typedef struct logs_ctx {
    sf_coord *coord;
    struct evhttp_request *req;
    log_run *runs;        /* owned */
    size_t n, cap;
    char *cursor;         /* owned */
    size_t pending;
    int failed;
} logs_ctx;

static void logs_free(logs_ctx *x) {
    for (size_t i = 0; i < x->n; i++) {
        for (size_t k = 0; k < 8; k++) free(x->runs[i].strs[k]);
        json_decref(x->runs[i].failure);
        json_decref(x->runs[i].json);
    }
    free(x->runs);
    free(x->cursor);
    free(x);
}

/* Copies "s" into slot "k" of "r"; returns the copy (NULL stays NULL). */
static const char *keep(log_run *r, size_t k, const char *s) {
    return s ? (r->strs[k] = strdup(s)) : NULL;
}

static void logs_match(void *arg, const sf_wf_run_view *v) {
    logs_ctx *x = arg;
    if (x->n == x->cap) {
        size_t cap = x->cap ? x->cap * 2 : 16;
        log_run *runs = realloc(x->runs, cap * sizeof(*runs));
        if (!runs) return;
        x->runs = runs, x->cap = cap;
    }
    log_run *r = &x->runs[x->n++];
    memset(r, 0, sizeof(*r));
    r->v = *v;
    r->v.run_id = keep(r, 0, v->run_id);
    r->v.url = keep(r, 1, v->url);
    r->v.state = keep(r, 2, v->state);
    r->v.label = keep(r, 3, v->label);
    r->v.caller_ip = keep(r, 4, v->caller_ip);
    r->v.fc_key = keep(r, 5, v->fc_key);
    r->v.dlq_id = keep(r, 6, v->dlq_id);
    r->v.retry_delay = keep(r, 7, v->retry_delay);
}

static void logs_settle(logs_ctx *x) {
    if (--x->pending > 0) return;
    if (x->failed) {
        sf_http_reply_error(x->req, 503, "redis unavailable");
        logs_free(x);
        return;
    }
    json_t *runs = json_array();
    for (size_t i = 0; i < x->n; i++)
        if (x->runs[i].json) json_array_append(runs, x->runs[i].json);
    sf_http_reply_json(x->req, 200,
                       sf_json_with_cursor(json_pack("{s:o}", "runs", runs), x->cursor));
    logs_free(x);
}

/* Reply callbacks get the context and the index of their run (the runs
 * array no longer grows once the details are asked for). */
typedef struct run_ref {
    logs_ctx *x;
    size_t i;
} run_ref;

/* The DLQ entry of a failed run: its failure callback's section. */
static void on_dlq_entry(redisAsyncContext *ac, void *reply, void *privdata) {
    (void)ac;
    run_ref *ref = privdata;
    logs_ctx *x = ref->x;
    log_run *run = &x->runs[ref->i];
    redisReply *h = reply;
    free(ref);
    if (!h || h->type != REDIS_REPLY_ARRAY) {
        x->failed = 1;
        logs_settle(x);
        return;
    }
    sf_reply_pairs p;
    if (sf_reply_pairs_init(&p, h) == 0)
        run->failure = sf_wf_failure_json(p.fields, p.flen, p.values, p.vlen, p.n);
    sf_reply_pairs_free(&p);
    logs_settle(x);
}

/* Collects the string elements of an array reply as (ptr, len) pairs;
 * returns how many (0 for anything else). */
static size_t strings_of(const redisReply *a, const char ***p, size_t **lens) {
    *p = NULL, *lens = NULL;
    if (!a || a->type != REDIS_REPLY_ARRAY || a->elements == 0) return 0;
    *p = calloc(a->elements, sizeof(char *));
    *lens = calloc(a->elements, sizeof(size_t));
    if (!*p || !*lens) return 0;
    size_t k = 0;
    for (size_t i = 0; i < a->elements; i++) {
        if (a->element[i]->type != REDIS_REPLY_STRING) continue;
        (*p)[k] = a->element[i]->str;
        (*lens)[k++] = a->element[i]->len;
    }
    return k;
}

/* wf_log.lua's reply: {state, response, {items}, {next}}. */
static void on_run_log(redisAsyncContext *ac, void *reply, void *privdata) {
    (void)ac;
    run_ref *ref = privdata;
    logs_ctx *x = ref->x;
    log_run *run = &x->runs[ref->i];
    redisReply *r = reply;
    free(ref);
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 4) {
        if (r && r->type == REDIS_REPLY_ERROR) sf_warn("wf_logs_failed err=%s", SF_LOGQ(r->str));
        x->failed = 1;
        logs_settle(x);
        return;
    }
    if (r->element[0]->type != REDIS_REPLY_STRING) { /* expired meanwhile */
        logs_settle(x);
        return;
    }
    sf_wf_run_view v = run->v;
    v.state = r->element[0]->str; /* the state now, with its steps */
    const redisReply *resp = r->element[1];
    const char **items, **next;
    size_t *ilen, *nlen;
    size_t ni = strings_of(r->element[2], &items, &ilen);
    size_t nn = strings_of(r->element[3], &next, &nlen);
    run->json = sf_wf_run_log_json(&v, resp->type == REDIS_REPLY_STRING ? resp->str : NULL,
                                   resp->type == REDIS_REPLY_STRING ? resp->len : 0,
                                   items, ilen, ni, next, nlen, nn, run->failure);
    run->failure = NULL; /* stolen */
    free(items), free(ilen), free(next), free(nlen);
    logs_settle(x);
}

/* Sends one command for run "i" with a fresh run_ref; 0 on success. */
static int send_for(logs_ctx *x, size_t i, int is_script, redisCallbackFn *fn,
                    int argc, const char **argv) {
    run_ref *ref = malloc(sizeof(*ref));
    if (!ref) return -1;
    *ref = (run_ref){x, i};
    sf_status st = is_script
        ? sf_rconn_evalsha(x->coord->redis, sf_lua_wf_log, fn, ref, 3, argc, argv, NULL)
        : sf_rconn_command(x->coord->redis, fn, ref, argc, argv, NULL);
    if (st != SF_OK) {
        free(ref);
        return -1;
    }
    x->pending++;
    return 0;
}

static void logs_done(void *arg, sf_status st, const char *cursor) {
    logs_ctx *x = arg;
    sf_coord *c = x->coord;
    if (st != SF_OK) x->failed = 1;
    x->cursor = strdup(cursor);
    for (size_t i = 0; !x->failed && i < x->n; i++) {
        const char *id = x->runs[i].v.run_id;
        if (!id) continue;
        char key[SF_KEY_MAX], run[SF_KEY_MAX], steps[SF_KEY_MAX], next[SF_KEY_MAX];
        if (x->runs[i].v.dlq_id && *x->runs[i].v.dlq_id) {
            sf_keys_dlq_entry(c->cfg->prefix, x->runs[i].v.dlq_id, key, sizeof(key));
            /* HGETALL P:{dlq}:entry:<dlqId> */
            const char *argv[] = {"HGETALL", key};
            if (send_for(x, i, 0, on_dlq_entry, 2, argv) != 0) x->failed = 1;
        }
        sf_keys_wf_run(c->cfg->prefix, "run", id, run, sizeof(run));
        sf_keys_wf_run(c->cfg->prefix, "steps", id, steps, sizeof(steps));
        sf_keys_wf_run(c->cfg->prefix, "next", id, next, sizeof(next));
        /* wf_log.lua KEYS run steps next */
        const char *argv[] = {run, steps, next};
        if (!x->failed && send_for(x, i, 1, on_run_log, 3, argv) != 0) x->failed = 1;
    }
    logs_settle(x); /* the scan's own share */
}

void sf_api_wf_logs(sf_coord *c, struct evhttp_request *req, const char *tail) {
    (void)tail;
    struct evkeyvalq q;
    if (sf_http_query_or_400(req, &q) != 0) return;
    const char *by = evhttp_find_header(&q, "groupBy");
    int bad_group = by && *by && strcmp(by, "workflowRunId") != 0;
    evhttp_clear_headers(&q);
    if (bad_group) {
        sf_http_reply_error(req, 400, "only groupBy=workflowRunId is supported");
        return;
    }
    sf_wf_scan *s = sf_wf_scan_new_or_400(c, req, 0, LOGS_DEFAULT_COUNT, LOGS_MAX_COUNT,
                                          LOGS_MAX_LOOKED);
    if (!s) return;
    /* each run's log reads its whole history: ids obey the count limit */
    if (sf_wf_scan_query(s)->n_run_ids > LOGS_MAX_COUNT) {
        sf_wf_scan_free(s);
        sf_http_reply_error(req, 400, "at most %d workflowRunId values",
                            LOGS_MAX_COUNT);
        return;
    }
    logs_ctx *x = calloc(1, sizeof(*x));
    if (!x) {
        sf_wf_scan_free(s);
        sf_http_reply_error(req, 500, "out of memory");
        return;
    }
    *x = (logs_ctx){.coord = c, .req = req, .pending = 1};
    if (sf_wf_scan_start(s, logs_match, logs_done, x) != SF_OK) {
        logs_free(x);
        sf_http_reply_error(req, 503, "redis unavailable");
    }
}
