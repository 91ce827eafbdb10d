/* publish_api.c - POST /v2/publish/{destination}, POST /v2/batch and the
 * enqueue path they share with DLQ retry (see publish_api.h, api.h). */
#include "publish_api.h"

#include <event2/http.h>
#include <sys/queue.h>
#include <event2/keyvalq_struct.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "keys.h"
#include "log.h"
#include "lua.h"
#include "metrics_api.h"
#include "publish.h"
#include "util.h"
#include "wf.h"

#define MAX_BATCH_ITEMS 1000

typedef struct enqueue_job enqueue_job;

/* The privdata of one command of a job. */
typedef struct enqueue_item {
    enqueue_job *job;
    size_t idx;
} enqueue_item;

struct enqueue_job {
    sf_coord *coord;
    size_t n;
    size_t pending;     /* replies outstanding (+1 while still sending) */
    int failed;
    int lost;           /* a reply lost with the link: may have applied */
    char **ids;         /* owned */
    int *dedup;         /* owned */
    enqueue_item *items;/* owned */
    sf_enqueue_done_fn *done;
    void *arg;
};

static void job_free(enqueue_job *j) {
    if (!j) return;
    for (size_t i = 0; i < j->n; i++) free(j->ids[i]);
    free(j->ids);
    free(j->dedup);
    free(j->items);
    free(j);
}

static void job_settle(enqueue_job *j) {
    if (--j->pending > 0) return;
    sf_enqueue_result r = {
        .n = j->n,
        .ids = (const char *const *)j->ids,
        .deduplicated = j->dedup,
        .status = j->failed ? SF_AGAIN : SF_OK,
        .maybe_stored = j->lost,
    };
    j->done(j->coord, &r, j->arg);
    job_free(j);
}

static void on_stored(redisAsyncContext *ac, void *reply, void *privdata) {
    (void)ac;
    enqueue_item *it = privdata;
    enqueue_job *j = it->job;
    redisReply *r = reply;
    if (!r || r->type == REDIS_REPLY_ERROR) {
        if (r) sf_warn("publish_store_failed messageId=%s err=%s", SF_LOGQ(j->ids[it->idx]),
                       SF_LOGQ(r->str));
        j->failed = 1;
        if (!r) j->lost = 1;
    } else if (r->type == REDIS_REPLY_STRING && r->str &&
               strcmp(r->str, j->ids[it->idx]) != 0 &&
               strchr(r->str, '-') == NULL) {
        /* publish.lua answered an earlier message's id (XADD answers a
         * stream id "ms-seq", which message ids never contain). */
        char *orig = strdup(r->str);
        if (orig) {
            free(j->ids[it->idx]);
            j->ids[it->idx] = orig;
            j->dedup[it->idx] = 1;
        }
    }
    job_settle(j);
}

/* Sends the command that stores "m": XADD or publish.lua. */
static sf_status store_one(sf_coord *c, const sf_message *m, int64_t due_ms,
                           enqueue_item *it) {
    sf_buf env;
    sf_buf_init(&env);
    sf_message_encode(m, &env);
    sf_status st;
    if (due_ms == 0 && !m->dedup_id) {
        /* XADD P:{msg}:stream * v 1 id <msgId> m <envelope> */
        const char *argv[] = {"XADD", c->msgq.stream, "*", "v", SF_STREAM_SCHEMA,
                              "id", m->id, "m", env.data ? env.data : ""};
        size_t lens[] = {4, strlen(c->msgq.stream), 1, 1, strlen(SF_STREAM_SCHEMA),
                         2, strlen(m->id), 1, env.len};
        st = sf_rconn_command(c->redis, on_stored, it, 9, argv, lens);
    } else {
        char dedup_key[SF_KEY_MAX] = "";
        char due[32], ttl[32];
        if (m->dedup_id)
            sf_keys_dedup(c->cfg->prefix, m->dedup_id, dedup_key, sizeof(dedup_key));
        snprintf(due, sizeof(due), "%lld", (long long)due_ms);
        /* a dedup id is remembered for the ttl after the message is due,
         * so a delayed message cannot be stored twice before it runs */
        int64_t keep_s = c->cfg->dedup_ttl_s > 0 ? c->cfg->dedup_ttl_s : 600;
        if (due_ms > 0) {
            int64_t wait_s = (due_ms - sf_now_ms()) / 1000;
            if (wait_s > 0) keep_s += wait_s;
        }
        snprintf(ttl, sizeof(ttl), "%lld", (long long)keep_s);
        const char *argv[] = {c->msgq.stream, c->msgq.delayed, c->msgq.payload,
                              dedup_key, m->id, env.data ? env.data : "", due, ttl};
        size_t lens[] = {strlen(argv[0]), strlen(argv[1]), strlen(argv[2]),
                         strlen(dedup_key), strlen(m->id), env.len, strlen(due),
                         strlen(ttl)};
        st = sf_rconn_evalsha(c->redis, sf_lua_publish, on_stored, it, 4, 8,
                              argv, lens);
    }
    sf_buf_cleanup(&env);
    return st;
}

sf_status sf_enqueue(sf_coord *c, sf_message *const *msgs,
                     const int64_t *due_ms, size_t n, sf_enqueue_done_fn *done,
                     void *arg) {
    if (!sf_rconn_is_up(c->redis)) return SF_AGAIN;
    enqueue_job *j = calloc(1, sizeof(*j));
    if (!j) return SF_AGAIN;
    j->coord = c;
    j->n = n;
    j->done = done;
    j->arg = arg;
    j->ids = calloc(n ? n : 1, sizeof(*j->ids));
    j->dedup = calloc(n ? n : 1, sizeof(*j->dedup));
    j->items = calloc(n ? n : 1, sizeof(*j->items));
    if (!j->ids || !j->dedup || !j->items) {
        job_free(j);
        return SF_AGAIN;
    }
    for (size_t i = 0; i < n; i++) {
        j->ids[i] = strdup(msgs[i]->id);
        if (!j->ids[i]) {
            j->n = i;
            job_free(j);
            return SF_AGAIN;
        }
    }
    j->pending = 1; /* guard while sending */
    size_t sent = 0;
    for (size_t i = 0; i < n; i++) {
        j->items[i].job = j;
        j->items[i].idx = i;
        if (store_one(c, msgs[i], due_ms[i], &j->items[i]) != SF_OK) {
            j->failed = 1;
            break;
        }
        j->pending++;
        sent++;
    }
    if (sent == 0 && n > 0) {
        job_free(j);
        return SF_AGAIN;
    }
    job_settle(j);
    return SF_OK;
}

/* ---- POST /v2/publish/{destination} ---- */

/* Collects the request headers as borrowed name/value pairs (malloc'd
 * array, freed by the caller; the strings live with the request). */
static sf_kv *collect_headers(struct evhttp_request *req, size_t extra,
                              size_t *n) {
    struct evkeyvalq *hs = evhttp_request_get_input_headers(req);
    struct evkeyval *kv;
    size_t count = 0;
    TAILQ_FOREACH(kv, hs, next) count++;
    sf_kv *out = calloc(count + extra + 1, sizeof(*out));
    if (!out) return NULL;
    count = 0;
    TAILQ_FOREACH(kv, hs, next) {
        out[count].name = kv->key;
        out[count].value = kv->value;
        count++;
    }
    *n = count;
    return out;
}

/* One publish, batch or trigger request on its way: workflow preparation
 * (wf.h), then the enqueue, then the answer. */
typedef enum answer_kind { ANSWER_ONE, ANSWER_ARRAY, ANSWER_TRIGGER } answer_kind;

typedef struct pub_ctx {
    struct evhttp_request *req;
    answer_kind answer;
    size_t n;
    sf_message **msgs;      /* owned */
    int64_t *due;
    sf_publish_wf *wf;
    sf_wf_fate *fate;
    size_t *slot;           /* item -> index among the enqueued ones */
} pub_ctx;

static pub_ctx *pub_ctx_new(struct evhttp_request *req, answer_kind a, size_t n) {
    pub_ctx *x = calloc(1, sizeof(*x));
    if (!x) return NULL;
    x->req = req;
    x->answer = a;
    x->n = n;
    size_t k = n ? n : 1;
    x->msgs = calloc(k, sizeof(*x->msgs));
    x->due = calloc(k, sizeof(*x->due));
    x->wf = calloc(k, sizeof(*x->wf));
    x->fate = calloc(k, sizeof(*x->fate));
    x->slot = calloc(k, sizeof(*x->slot));
    if (!x->msgs || !x->due || !x->wf || !x->fate || !x->slot) {
        free(x->msgs); free(x->due); free(x->wf); free(x->fate); free(x->slot);
        free(x);
        return NULL;
    }
    return x;
}

static void pub_ctx_free(pub_ctx *x) {
    if (!x) return;
    for (size_t i = 0; i < x->n; i++) sf_message_free(x->msgs[i]);
    free(x->msgs);
    free(x->due);
    free(x->wf);
    free(x->fate);
    free(x->slot);
    free(x);
}

static json_t *answer_item(const pub_ctx *x, size_t i, const char *id, int dedup) {
    const sf_message *m = x->msgs[i];
    if (x->answer == ANSWER_TRIGGER)
        return json_pack("{s:s,s:I,s:s}", "workflowRunId", m->workflow_run_id,
                         "workflowCreatedAt", (json_int_t)m->workflow_created_ms,
                         "messageId", id);
    json_t *o = json_pack("{s:s}", "messageId", id);
    if (dedup) json_object_set_new(o, "deduplicated", json_true());
    return o;
}

static void enqueued(sf_coord *c, const sf_enqueue_result *r, void *arg) {
    pub_ctx *x = arg;
    if (r && r->status != SF_OK) {
        /* One write per message: a message is stored whole or not at all,
         * but some items of a batch may be stored and others not, and a
         * reply lost with the link leaves its write unknown. */
        if (x->answer == ANSWER_ARRAY)
            sf_http_reply_error(x->req, 503, "redis unavailable, batch not "
                                "(fully) stored: retry it with deduplication "
                                "ids so stored items are not stored twice");
        else if (r->maybe_stored)
            sf_http_reply_error(x->req, 503, "redis connection lost, the "
                                "message may have been stored: retry it with "
                                "an Upstash-Deduplication-Id");
        else
            sf_http_reply_error(x->req, 503,
                                "redis unavailable, message not stored");
        pub_ctx_free(x);
        return;
    }
    json_t *a = json_array();
    size_t stored = 0; /* new messages in Redis (metrics) */
    for (size_t i = 0; i < x->n; i++) {
        int dup_run = x->fate[i] == SF_WF_DUP_RUN;
        const char *id = dup_run || !r ? x->msgs[i]->id : r->ids[x->slot[i]];
        int dedup = dup_run || x->fate[i] == SF_WF_DUP_STEP ||
                    (!dup_run && r && r->deduplicated[x->slot[i]]);
        if (!dup_run && r && !r->deduplicated[x->slot[i]]) stored++;
        json_array_append_new(a, answer_item(x, i, id, dedup));
    }
    sf_coord_metrics_published(c->metrics, stored);
    if (x->answer == ANSWER_ARRAY) {
        sf_http_reply_json(x->req, 200, a);
    } else {
        sf_http_reply_json(x->req, 200, json_incref(json_array_get(a, 0)));
        json_decref(a);
    }
    pub_ctx_free(x);
}

static void prepared(sf_coord *c, const sf_wf_result *res, void *arg) {
    pub_ctx *x = arg;
    if (res->http_status) {
        sf_http_reply_error(x->req, res->http_status, "%s", res->error);
        pub_ctx_free(x);
        return;
    }
    sf_message **todo = calloc(x->n ? x->n : 1, sizeof(*todo));
    int64_t *due = calloc(x->n ? x->n : 1, sizeof(*due));
    size_t k = 0;
    for (size_t i = 0; todo && due && i < x->n; i++) {
        if (x->fate[i] == SF_WF_DUP_RUN) continue;
        x->slot[i] = k;
        due[k] = x->due[i];
        todo[k++] = x->msgs[i];
    }
    if (!todo || !due) {
        sf_http_reply_error(x->req, 500, "out of memory");
        pub_ctx_free(x);
    } else if (k == 0) {
        enqueued(c, NULL, x);
    } else if (sf_enqueue(c, todo, due, k, enqueued, x) != SF_OK) {
        sf_http_reply_error(x->req, 503, "redis unavailable, nothing stored");
        pub_ctx_free(x);
    }
    free(todo);
    free(due);
}

/* Runs the parsed messages of "x" through the workflow layer and on. */
static void pub_go(sf_coord *c, pub_ctx *x) {
    sf_wf_prepare(c, x->msgs, x->wf, x->fate, x->n, prepared, x);
}

/* Parses one publish-style request (publish or trigger) into "x". */
static int parse_request(sf_coord *c, struct evhttp_request *req,
                         const char *tail, const sf_kv *extra, size_t n_extra,
                         pub_ctx *x) {
    size_t body_len;
    const unsigned char *body = sf_http_body(req, &body_len);
    if ((int64_t)body_len > c->cfg->max_body_bytes) {
        sf_http_reply_error(req, 413, "body of %zu bytes is over the limit of %lld",
                            body_len, (long long)c->cfg->max_body_bytes);
        return -1;
    }
    size_t nh = 0;
    sf_kv *hs = collect_headers(req, n_extra, &nh);
    if (!hs) {
        sf_http_reply_error(req, 500, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < n_extra; i++) hs[nh++] = extra[i];
    sf_publish_input in = {
        .destination = tail, .headers = hs, .n_headers = nh, .body = body,
        .body_len = body_len, .caller_ip = sf_http_peer(req),
        .now_ms = sf_now_ms(), .max_timeout_ms = c->cfg->max_timeout_ms,
        .wf_out = &x->wf[0],
    };
    sf_err err = {{0}};
    sf_status st = sf_publish_parse(&in, &x->msgs[0], &x->due[0], &err);
    free(hs);
    if (st != SF_OK) {
        sf_http_reply_error(req, st == SF_INVALID ? 400 : 500, "%s", err.msg);
        return -1;
    }
    return 0;
}

void sf_api_publish(sf_coord *c, struct evhttp_request *req, const char *tail) {
    pub_ctx *x = pub_ctx_new(req, ANSWER_ONE, 1);
    if (!x) {
        sf_http_reply_error(req, 500, "out of memory");
        return;
    }
    if (parse_request(c, req, tail, NULL, 0, x) != 0) {
        pub_ctx_free(x);
        return;
    }
    pub_go(c, x);
}

/* POST /v2/trigger/{url}: starts a workflow run like client.trigger()
 * does (the run id from Upstash-Workflow-RunId, else a new one). */
void sf_api_trigger(sf_coord *c, struct evhttp_request *req, const char *tail) {
    pub_ctx *x = pub_ctx_new(req, ANSWER_TRIGGER, 1);
    if (!x) {
        sf_http_reply_error(req, 500, "out of memory");
        return;
    }
    struct evkeyvalq *in = evhttp_request_get_input_headers(req);
    const char *given = evhttp_find_header(in, "Upstash-Workflow-RunId");
    char run_id[SF_MAX_RUN_ID_LEN + 2]; /* longer: cut, then refused */
    if (given && *given) snprintf(run_id, sizeof(run_id), "%s", given);
    else sf_random_id("wfr_", run_id, sizeof(run_id));
    char *url = sf_publish_destination(tail);
    sf_kv extra[] = {
        {"Upstash-Workflow-Init", "true"},
        {"Upstash-Workflow-RunId", run_id},
        {"Upstash-Workflow-Url", url ? url : ""},
        {"Upstash-Forward-Upstash-Workflow-Sdk-Version", "1"},
    };
    int rc = parse_request(c, req, tail, extra, sizeof(extra) / sizeof(extra[0]), x);
    free(url);
    if (rc != 0) {
        pub_ctx_free(x);
        return;
    }
    pub_go(c, x);
}

/* ---- POST /v2/batch ---- */

/* Turns one batch item into a message.  Returns the HTTP status to answer
 * on failure (400/413) with the reason in "err", or 0. */
static int batch_item(sf_coord *c, struct evhttp_request *req, json_t *item,
                      size_t idx, sf_message **out, int64_t *due,
                      sf_publish_wf *wf, sf_err *err) {
    if (!json_is_object(item)) {
        sf_err_set(err, "batch item %zu: not a JSON object", idx);
        return 400;
    }
    json_t *dest = json_object_get(item, "destination");
    json_t *hdrs = json_object_get(item, "headers");
    json_t *body = json_object_get(item, "body");
    if (!json_is_string(dest)) {
        sf_err_set(err, "batch item %zu: invalid destination: missing", idx);
        return 400;
    }
    if (hdrs && !json_is_null(hdrs) && !json_is_object(hdrs)) {
        sf_err_set(err, "batch item %zu: headers must be an object", idx);
        return 400;
    }
    /* A body that is not a string is sent as its JSON text, as the SDK's
     * batch() passes context.call bodies through unserialized. */
    char *dumped = NULL;
    if (body && !json_is_null(body) && !json_is_string(body)) {
        dumped = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!dumped) {
            sf_err_set(err, "batch item %zu: body could not be serialized", idx);
            return 400;
        }
    }
    const char *btext = dumped ? dumped : json_string_value(body);
    size_t blen = dumped ? strlen(dumped)
                         : json_is_string(body) ? json_string_length(body) : 0;
    if ((int64_t)blen > c->cfg->max_body_bytes) {
        sf_err_set(err, "batch item %zu: body of %zu bytes is over the limit of %lld",
                   idx, blen, (long long)c->cfg->max_body_bytes);
        free(dumped);
        return 413;
    }
    size_t nh = json_is_object(hdrs) ? json_object_size(hdrs) : 0;
    sf_kv *hs = calloc(nh ? nh : 1, sizeof(*hs));
    char **numbers = calloc(nh ? nh : 1, sizeof(char *));
    if (!hs || !numbers) {
        free(hs);
        free(numbers);
        free(dumped);
        sf_err_set(err, "out of memory");
        return 500;
    }
    size_t k = 0;
    const char *name;
    json_t *v;
    if (nh) {
        json_object_foreach(hdrs, name, v) {
            if (json_is_string(v)) {
                hs[k].value = json_string_value(v);
            } else if (json_is_number(v) || json_is_boolean(v)) {
                numbers[k] = json_dumps(v, JSON_ENCODE_ANY);
                hs[k].value = numbers[k] ? numbers[k] : "";
            } else {
                continue;
            }
            hs[k].name = name;
            k++;
        }
    }
    sf_publish_input in = {
        .destination = json_string_value(dest), .headers = hs, .n_headers = k,
        .body = btext,
        .body_len = blen, .caller_ip = sf_http_peer(req), .now_ms = sf_now_ms(),
        .max_timeout_ms = c->cfg->max_timeout_ms, .wf_out = wf,
    };
    sf_err perr = {{0}};
    sf_status st = sf_publish_parse(&in, out, due, &perr);
    free(dumped);
    for (size_t i = 0; i < nh; i++) free(numbers[i]);
    free(numbers);
    free(hs);
    if (st != SF_OK) {
        sf_err_set(err, "batch item %zu: %s", idx, perr.msg);
        return st == SF_INVALID ? 400 : 500;
    }
    return 0;
}

void sf_api_batch(sf_coord *c, struct evhttp_request *req, const char *tail) {
    (void)tail;
    size_t body_len;
    const unsigned char *body = sf_http_body(req, &body_len);
    json_error_t jerr;
    json_t *arr = json_loadb((const char *)body, body_len, 0, &jerr);
    if (!json_is_array(arr)) {
        json_decref(arr);
        sf_http_reply_error(req, 400, "batch body must be a JSON array of "
                            "{destination, headers, body}");
        return;
    }
    size_t n = json_array_size(arr);
    if (n > MAX_BATCH_ITEMS) {
        json_decref(arr);
        sf_http_reply_error(req, 400, "batch of %zu items is over the limit of %d",
                            n, MAX_BATCH_ITEMS);
        return;
    }
    if (n == 0) {
        json_decref(arr);
        sf_http_reply_json(req, 200, json_array());
        return;
    }
    pub_ctx *x = pub_ctx_new(req, ANSWER_ARRAY, n);
    int status = x ? 0 : 500;
    sf_err err = {{0}};
    if (status) sf_err_set(&err, "out of memory");
    for (size_t i = 0; i < n && status == 0; i++)
        status = batch_item(c, req, json_array_get(arr, i), i, &x->msgs[i],
                            &x->due[i], &x->wf[i], &err);
    json_decref(arr);
    if (status) {
        sf_http_reply_error(req, status, "%s", err.msg);
        pub_ctx_free(x);
        return;
    }
    pub_go(c, x);
}
