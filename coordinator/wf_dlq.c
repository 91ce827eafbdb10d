/* wf_dlq.c - POST /v2/workflows/dlq/resume and /restart (dlqIds, filter
 * or all, with cursor/count; or /{dlqId}): each failed run named by a DLQ
 * entry becomes a new run (sf_wf_rerun, wf.h) that keeps the steps up to
 * the failed one (resume) or starts from the initial payload (restart);
 * then the entries are deleted (dlq_delete.lua).  Headers Upstash-Retries
 * and Upstash-Flow-Control-Key/-Value override the old run's settings.
 *
 * Answers {"workflowRuns":[{workflowRunId, workflowCreatedAt}], "cursor"?}
 * (the SDK's single-id form reads workflowRuns[0]); /{dlqId} answers the
 * one object.  Entries named by id must exist (404) and belong to a
 * workflow run (400) before anything is done; with a filter only workflow
 * entries are considered.  The runs are created one after the other; the
 * first failure stops the request (the runs made before it stay, their
 * entries are deleted) and is answered with its status. */
#include <sys/queue.h>
#include <event2/keyvalq_struct.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "dlq_api.h"
#include "dlq_scan.h"
#include "keys.h"
#include "log.h"
#include "util.h"
#include "wf.h"

typedef struct rerun_entry {
    char *dlq_id, *run_id, *msg_id;   /* owned */
} rerun_entry;

typedef struct rerun_ctx {
    sf_coord *coord;
    struct evhttp_request *req;
    int resume;              /* 1 resume, 0 restart */
    int single;              /* /{dlqId}: answer the one object */
    struct evkeyvalq query;  /* owned: the dlqIds asked for point into it */
    rerun_entry *entries;    /* owned */
    size_t n, cap;
    size_t next;             /* entry handled next */
    int retries;             /* -1 = the old run's */
    char *fc_key, *fc_value; /* owned; NULL = the old run's */
    char *cursor;            /* owned */
    json_t *runs;            /* owned: the answer's workflowRuns */
    int status;              /* 0, or the HTTP status of the failure */
    char error[300];
} rerun_ctx;

static void rerun_free(rerun_ctx *x) {
    for (size_t i = 0; i < x->n; i++) {
        free(x->entries[i].dlq_id);
        free(x->entries[i].run_id);
        free(x->entries[i].msg_id);
    }
    free(x->entries);
    free(x->fc_key);
    free(x->fc_value);
    free(x->cursor);
    json_decref(x->runs);
    evhttp_clear_headers(&x->query);
    free(x);
}

/* Records the first failure; later ones keep it. */
static void fail(rerun_ctx *x, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail(rerun_ctx *x, int status, const char *fmt, ...) {
    if (x->status) return;
    x->status = status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->error, sizeof(x->error), fmt, ap);
    va_end(ap);
}

/* Adds a DLQ entry (its HGETALL fields) to the work list. */
static void add_entry(rerun_ctx *x, const char **fields, const char **values, size_t n) {
    const char *id = sf_dlq_field(fields, values, n, "dlqId");
    const char *run = sf_dlq_field(fields, values, n, "workflowRunId");
    const char *msg = sf_dlq_field(fields, values, n, "messageId");
    if (!id) return;
    if (!run || !*run) {
        fail(x, 400, "dlq message %s is not a workflow run", id);
        return;
    }
    if (x->n == x->cap) {
        size_t cap = x->cap ? x->cap * 2 : 16;
        rerun_entry *e = realloc(x->entries, cap * sizeof(*e));
        if (!e) return;
        x->entries = e, x->cap = cap;
    }
    rerun_entry *e = &x->entries[x->n++];
    e->dlq_id = strdup(id);
    e->run_id = strdup(run);
    e->msg_id = strdup(msg ? msg : "");
}

static void reply(rerun_ctx *x) {
    if (x->status) {
        sf_http_reply_error(x->req, x->status, "%s", x->error);
    } else if (x->single) {
        sf_http_reply_json(x->req, 200, json_incref(json_array_get(x->runs, 0)));
    } else {
        sf_http_reply_json(x->req, 200,
                           sf_json_with_cursor(json_pack("{s:O}", "workflowRuns", x->runs),
                                               x->cursor));
    }
    rerun_free(x);
}

static void on_deleted(sf_coord *c, sf_status st, size_t deleted, void *arg) {
    (void)c, (void)deleted;
    /* The new runs exist either way; an entry left behind could only be
     * resumed twice if asked again. */
    if (st != SF_OK) sf_warn("wf_dlq_delete_failed");
    reply(arg);
}

/* All done (or stopped): drop the entries of the runs made, answer. */
static void finish(rerun_ctx *x) {
    size_t made = json_array_size(x->runs);
    char **ids = made ? calloc(made, sizeof(char *)) : NULL;
    for (size_t i = 0; ids && i < made; i++) ids[i] = x->entries[i].dlq_id;
    sf_status st = ids ? sf_dlq_delete_ids(x->coord, ids, made, on_deleted, x) : SF_AGAIN;
    free(ids);
    if (st != SF_OK) reply(x);
}

static void rerun_next(rerun_ctx *x);

static void on_rerun(sf_coord *c, int status, const char *run_id, int64_t created_ms,
                     const char *error, void *arg) {
    (void)c;
    rerun_ctx *x = arg;
    rerun_entry *e = &x->entries[x->next];
    if (status != 0) {
        sf_warn("wf_rerun_failed dlqId=%s runId=%s status=%d err=%s",
                SF_LOGQ(e->dlq_id), SF_LOGQ(e->run_id), status, SF_LOGQ(error));
        fail(x, status, "%s", error ? error : "cannot create the new run");
        finish(x);
        return;
    }
    sf_info("wf_rerun dlqId=%s runId=%s newRunId=%s mode=%s", SF_LOGQ(e->dlq_id),
            SF_LOGQ(e->run_id), SF_LOGQ(run_id), x->resume ? "resume" : "restart");
    json_array_append_new(x->runs, json_pack("{s:s,s:I}", "workflowRunId", run_id,
                                             "workflowCreatedAt", (json_int_t)created_ms));
    x->next++;
    rerun_next(x);
}

static void rerun_next(rerun_ctx *x) {
    if (x->next >= x->n) {
        finish(x);
        return;
    }
    rerun_entry *e = &x->entries[x->next];
    sf_wf_rerun_opts o = {
        .old_run_id = e->run_id,
        .failed_msg_id = x->resume ? e->msg_id : NULL,
        .retries = x->retries,
        .fc_key = x->fc_key,
        .fc_value = x->fc_value,
    };
    sf_wf_rerun(x->coord, &o, on_rerun, x);
}

/* Checks what was found against what was asked, then starts. */
static void start_reruns(rerun_ctx *x, int by_ids) {
    if (by_ids && !x->status) {
        const struct evkeyval *kv;
        TAILQ_FOREACH(kv, &x->query, next) {
            if (strcmp(kv->key, "dlqIds") != 0 && strcmp(kv->key, "dlqId") != 0) continue;
            int found = 0;
            for (size_t i = 0; i < x->n && !found; i++)
                found = x->entries[i].dlq_id && strcmp(x->entries[i].dlq_id, kv->value) == 0;
            if (!found) {
                fail(x, 404, "dlq message %s not found", kv->value);
                break;
            }
        }
    }
    if (x->status) {
        reply(x);
        return;
    }
    if (x->single && x->n == 0) {
        fail(x, 404, "dlq message not found");
        reply(x);
        return;
    }
    rerun_next(x);
}

/* Reads Upstash-Retries and the flow control headers; 0, or -1 after
 * answering 400. */
static int parse_headers_or_400(rerun_ctx *x) {
    struct evkeyvalq *h = evhttp_request_get_input_headers(x->req);
    const char *r = evhttp_find_header(h, "Upstash-Retries");
    const char *k = evhttp_find_header(h, "Upstash-Flow-Control-Key");
    const char *v = evhttp_find_header(h, "Upstash-Flow-Control-Value");
    int64_t n = -1;
    x->retries = -1;
    if (r && (sf_parse_i64(r, strlen(r), &n) != 0 || n < 0 || n > 1000000)) {
        sf_http_reply_error(x->req, 400, "invalid Upstash-Retries: %s", r);
        return -1;
    }
    if (r) x->retries = (int)n;
    if (v && !k) {
        sf_http_reply_error(x->req, 400, "Upstash-Flow-Control-Value needs "
                            "Upstash-Flow-Control-Key");
        return -1;
    }
    if (k) {
        x->fc_key = strdup(k);
        x->fc_value = strdup(v ? v : "");
    }
    return 0;
}

static rerun_ctx *rerun_new_or_reply(sf_coord *c, struct evhttp_request *req, int resume) {
    rerun_ctx *x = calloc(1, sizeof(*x));
    if (x) x->runs = json_array();
    if (!x || !x->runs) {
        free(x);
        sf_http_reply_error(req, 500, "out of memory");
        return NULL;
    }
    x->coord = c;
    x->req = req;
    x->resume = resume;
    TAILQ_INIT(&x->query);
    if (parse_headers_or_400(x) != 0) {
        rerun_free(x);
        return NULL;
    }
    return x;
}

/* ---- many: dlqIds, filter or all ---- */

static void many_match(void *arg, const char **fields, const size_t *flen,
                       const char **values, const size_t *vlen, size_t n) {
    (void)flen, (void)vlen;
    add_entry(arg, fields, values, n);
}

static int has_ids(const struct evkeyvalq *q) {
    const struct evkeyval *kv;
    TAILQ_FOREACH(kv, q, next)
        if ((strcmp(kv->key, "dlqIds") == 0 || strcmp(kv->key, "dlqId") == 0) &&
            kv->value && *kv->value)
            return 1;
    return 0;
}

static void many_done(void *arg, sf_status st, const char *cursor) {
    rerun_ctx *x = arg;
    if (st != SF_OK) {
        sf_http_reply_error(x->req, 503, "redis unavailable");
        rerun_free(x);
        return;
    }
    x->cursor = strdup(cursor);
    start_reruns(x, has_ids(&x->query));
}

static void rerun_many(sf_coord *c, struct evhttp_request *req, int resume) {
    rerun_ctx *x = rerun_new_or_reply(c, req, resume);
    if (!x) return;
    if (sf_http_query_or_400(req, &x->query) != 0) {
        rerun_free(x);
        return;
    }
    sf_dlq_scan *s = sf_dlq_scan_new_or_400(c, req, SF_SCAN_MAX_COUNT);
    if (!s) {
        rerun_free(x);
        return;
    }
    /* Named entries are checked one by one; a filter means workflow ones. */
    if (!has_ids(&x->query)) sf_dlq_scan_workflow_only(s);
    if (sf_dlq_scan_start(s, many_match, many_done, x) != SF_OK) {
        rerun_free(x);
        sf_http_reply_error(req, 503, "redis unavailable");
    }
}

void sf_api_wf_dlq_resume(sf_coord *c, struct evhttp_request *req, const char *tail) {
    (void)tail;
    rerun_many(c, req, 1);
}

void sf_api_wf_dlq_restart(sf_coord *c, struct evhttp_request *req, const char *tail) {
    (void)tail;
    rerun_many(c, req, 0);
}

/* ---- one: /{dlqId} ---- */

static void on_one_entry(redisAsyncContext *ac, void *reply, void *privdata) {
    (void)ac;
    rerun_ctx *x = privdata;
    redisReply *h = reply;
    if (!h || h->type != REDIS_REPLY_ARRAY) {
        sf_http_reply_error(x->req, 503, "redis unavailable");
        rerun_free(x);
        return;
    }
    sf_reply_pairs p;
    if (sf_reply_pairs_init(&p, h) == 0) add_entry(x, p.fields, p.values, p.n);
    sf_reply_pairs_free(&p);
    start_reruns(x, 0);
}

static void rerun_one(sf_coord *c, struct evhttp_request *req, const char *dlq_id,
                      int resume) {
    rerun_ctx *x = rerun_new_or_reply(c, req, resume);
    if (!x) return;
    x->single = 1;
    char key[SF_KEY_MAX];
    sf_keys_dlq_entry(c->cfg->prefix, dlq_id, key, sizeof(key));
    /* HGETALL P:{dlq}:entry:<dlqId> */
    const char *argv[] = {"HGETALL", key};
    if (sf_rconn_command(c->redis, on_one_entry, x, 2, argv, NULL) != SF_OK) {
        rerun_free(x);
        sf_http_reply_error(req, 503, "redis unavailable");
    }
}

void sf_api_wf_dlq_resume_one(sf_coord *c, struct evhttp_request *req, const char *tail) {
    rerun_one(c, req, tail, 1);
}

void sf_api_wf_dlq_restart_one(sf_coord *c, struct evhttp_request *req,
                               const char *tail) {
    rerun_one(c, req, tail, 0);
}
