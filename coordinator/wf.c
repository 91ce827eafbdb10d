/* wf.c - workflow runs on the publish path: run creation, step recording,
 * context.call reports, and new runs for DLQ resume/restart (see wf.h). */
#include "wf.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "keys.h"
#include "log.h"
#include "lua.h"
#include "publish_api.h"
#include "util.h"

#define SDK_VERSION_HEADER "Upstash-Workflow-Sdk-Version"

static char *xstrdup(const char *s) {
    if (!s) return NULL;
    char *d = strdup(s);
    sf_assert(d != NULL);
    return d;
}

/* ---- headers and templates (pure) -------------------------------------- */

/* Sets "name" to "value", replacing the first header of that name. */
static void header_set(sf_headers *h, const char *name, const char *value) {
    for (size_t i = 0; i < h->len; i++) {
        if (strcasecmp(h->items[i].name, name) == 0) {
            free(h->items[i].value);
            h->items[i].value = xstrdup(value);
            return;
        }
    }
    sf_headers_add(h, name, value);
}

static void header_default(sf_headers *h, const char *name, const char *value) {
    if (!sf_headers_get(h, name)) sf_headers_add(h, name, value);
}

/* Adds the headers of "src" whose names "dst" lacks, except "skip1/2". */
static void headers_merge(sf_headers *dst, const sf_headers *src,
                          const char *skip1, const char *skip2) {
    for (size_t i = 0; i < src->len; i++) {
        const char *n = src->items[i].name;
        if ((skip1 && strcasecmp(n, skip1) == 0) ||
            (skip2 && strcasecmp(n, skip2) == 0) || sf_headers_get(dst, n))
            continue;
        sf_headers_add(dst, n, src->items[i].value);
    }
}

/* The headers every delivery of run "m" carries, for serve(). */
static void run_headers(sf_headers *h, const sf_message *m, int replace) {
    char created[32];
    snprintf(created, sizeof(created), "%lld", (long long)m->workflow_created_ms);
    void (*put)(sf_headers *, const char *, const char *) =
        replace ? header_set : header_default;
    put(h, "Upstash-Workflow-RunId", m->workflow_run_id);
    put(h, "Upstash-Workflow-Url", m->workflow_url);
    put(h, "Upstash-Workflow-CreatedAt", created);
}

static void set_str(char **dst, const char *src) {
    free(*dst);
    *dst = xstrdup(src);
}

/* Copies the run-wide settings of template "t" onto "m". */
static void apply_settings(sf_message *m, const sf_message *t) {
    m->max_retries = t->max_retries;
    set_str(&m->retry_delay, t->retry_delay);
    m->timeout_ms = t->timeout_ms;
    set_str(&m->failure_callback, t->failure_callback);
    sf_headers_cleanup(&m->cb_headers);
    headers_merge(&m->cb_headers, &t->cb_headers, NULL, NULL);
    m->cb_max_retries = t->cb_max_retries;
    set_str(&m->cb_retry_delay, t->cb_retry_delay);
    m->cb_timeout_ms = t->cb_timeout_ms;
    set_str(&m->cb_method, t->cb_method);
    if (!m->label) m->label = xstrdup(t->label);
    if (!m->fc_key && t->fc_key) {
        m->fc_key = xstrdup(t->fc_key);
        m->fc_parallelism = t->fc_parallelism;
        m->fc_rate = t->fc_rate;
        m->fc_period_ms = t->fc_period_ms;
    }
    set_str(&m->workflow_url, t->workflow_url);
    m->workflow_created_ms = t->workflow_created_ms;
}

static void set_body(sf_message *m, const char *body, size_t len) {
    free(m->body);
    m->body = NULL;
    m->body_len = 0;
    if (len == 0) return;
    m->body = malloc(len);
    sf_assert(m->body != NULL);
    memcpy(m->body, body, len);
    m->body_len = len;
}

/* One item of the steps list: {"messageId","body","callType","createdAt"},
 * messageId first (wf_rerun.lua relies on it).  Caller frees. */
static char *step_item(const char *msg_id, const void *body, size_t len,
                       int64_t at_ms) {
    char *b64 = sf_base64_encode(body ? body : "", len);
    json_t *o = json_object();
    json_object_set_new(o, "messageId", json_string(msg_id));
    json_object_set_new(o, "body", json_string(b64 ? b64 : ""));
    json_object_set_new(o, "callType", json_string("step"));
    json_object_set_new(o, "createdAt", json_integer(at_ms));
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    free(b64);
    sf_assert(s != NULL);
    return s;
}

/* "parallelism=2, rate=10, period=1000ms" for the run hash. */
static void fc_value_text(const sf_message *m, char *out, size_t size) {
    out[0] = '\0';
    if (!m->fc_key) return;
    size_t n = 0;
    if (m->fc_parallelism)
        n += (size_t)snprintf(out + n, size - n, "parallelism=%d",
                              m->fc_parallelism);
    if (m->fc_rate && n < size)
        snprintf(out + n, size - n, "%srate=%d, period=%lldms", n ? ", " : "",
                 m->fc_rate, (long long)m->fc_period_ms);
}

static void encode_template(const sf_message *m, sf_buf *out) {
    sf_message *t = sf_message_dup(m);
    sf_assert(t != NULL);
    set_body(t, NULL, 0);
    set_str(&t->id, "tpl");
    set_str(&t->dedup_id, NULL);
    sf_message_encode(t, out);
    sf_message_free(t);
}

static sf_message *decode_template(const redisReply *r) {
    if (!r || r->type != REDIS_REPLY_STRING || r->len == 0) return NULL;
    sf_err err = {{0}};
    sf_message *t = sf_message_decode(r->str, r->len, &err);
    if (!t) sf_warn("wf_template_bad err=%s", SF_LOGQ(err.msg));
    return t;
}

int sf_wf_is_workflow(const sf_message *m, const sf_publish_wf *wf) {
    return m->workflow_run_id && m->workflow_run_id[0] && wf;
}

/* ---- the prepare job ---------------------------------------------------- */

typedef struct wf_job wf_job;

typedef struct wf_item {
    wf_job *job;
    size_t idx;
} wf_item;

struct wf_job {
    sf_coord *c;
    sf_message **msgs;
    const sf_publish_wf *wf;
    sf_wf_fate *fate;
    size_t n;
    size_t pending;
    sf_wf_result res;
    wf_item *items;
    sf_wf_prepared_fn *done;
    void *arg;
};

static void job_settle(wf_job *j) {
    if (--j->pending > 0) return;
    j->done(j->c, &j->res, j->arg);
    free(j->items);
    free(j);
}

static void job_fail(wf_job *j, int status, const char *fmt, ...) {
    if (j->res.http_status) return; /* the first error is the answer */
    j->res.http_status = status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(j->res.error, sizeof(j->res.error), fmt, ap);
    va_end(ap);
}

/* Checks a run reply's status element; answers 400 for a run that does
 * not exist or does not run. */
/* Answers 400 unless the run's "state" (NULL: no such run) is
 * RUN_STARTED; returns 1 when it answered. */
static int not_running(wf_job *j, const sf_message *m, const char *state) {
    if (!state) {
        job_fail(j, 400, "workflow run %s does not exist", m->workflow_run_id);
        return 1;
    }
    if (strcmp(state, SF_RUN_STARTED) != 0) {
        job_fail(j, 400, "workflow run %s is not running (%s)",
                 m->workflow_run_id, state);
        return 1;
    }
    return 0;
}

static int run_gone(wf_job *j, const sf_message *m, const redisReply *r) {
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
        r->element[0]->type != REDIS_REPLY_INTEGER) {
        job_fail(j, 503, "redis error while recording the workflow step%s%s",
                 r && r->type == REDIS_REPLY_ERROR ? ": " : "",
                 r && r->type == REDIS_REPLY_ERROR ? r->str : "");
        return 1;
    }
    long long code = r->element[0]->integer;
    if (code == -1) return not_running(j, m, NULL);
    if (code == -2)
        return not_running(j, m, r->elements > 1 && r->element[1]->str
                                     ? r->element[1]->str : "?");
    return 0;
}

/* The start of a run script's reply callback: NULL when the reply says
 * the run is gone (the job got its answer and was settled). */
static redisReply *run_reply(wf_item *it, void *reply) {
    redisReply *r = reply;
    if (run_gone(it->job, it->job->msgs[it->idx], r)) {
        job_settle(it->job);
        return NULL;
    }
    return r;
}

/* ---- init --------------------------------------------------------------- */

/* The body of a run's first delivery: [step 0], or empty (lazy fetch) over
 * the inline limit, the rule wf_step.lua applies to later steps. */
static void set_init_body(sf_coord *c, sf_message *m, const char *item,
                          size_t len) {
    if ((int64_t)len + 2 > c->cfg->wf_inline_bytes) {
        set_body(m, NULL, 0);
        return;
    }
    char *body = malloc(len + 2);
    sf_assert(body != NULL);
    body[0] = '[';
    memcpy(body + 1, item, len);
    body[len + 1] = ']';
    set_body(m, body, len + 2);
    free(body);
}

static void on_init(redisAsyncContext *ac, void *reply, void *priv) {
    (void)ac;
    wf_item *it = priv;
    wf_job *j = it->job;
    sf_message *m = j->msgs[it->idx];
    redisReply *r = run_reply(it, reply);
    if (!r) return;
    if (r->element[0]->integer == 0 && r->elements == 5 &&
        r->element[1]->type == REDIS_REPLY_STRING && r->element[1]->len > 0) {
        /* the run exists: answer with its first init; store that again
         * only when the run never got past it (see wf_init.lua) */
        set_str(&m->id, r->element[1]->str);
        set_str(&m->dedup_id, m->id);
        int64_t created = 0;
        if (r->element[2]->type == REDIS_REPLY_STRING)
            sf_parse_i64(r->element[2]->str, r->element[2]->len, &created);
        m->workflow_created_ms = created;
        const redisReply *item = r->element[4];
        if (r->element[3]->integer == 1 && item->type == REDIS_REPLY_STRING &&
            item->len > 0) {
            j->fate[it->idx] = SF_WF_DUP_STEP;
            set_init_body(j->c, m, item->str, item->len);
        } else {
            j->fate[it->idx] = SF_WF_DUP_RUN;
        }
    } else if (r->element[0]->integer == 0) {
        j->fate[it->idx] = SF_WF_DUP_RUN;
    }
    job_settle(j);
}

static void start_init(wf_job *j, wf_item *it) {
    sf_coord *c = j->c;
    sf_message *m = j->msgs[it->idx];
    int64_t now = sf_now_ms();
    set_str(&m->workflow_url, m->url);
    m->workflow_created_ms = now;
    run_headers(&m->headers, m, 0);
    header_default(&m->headers, SDK_VERSION_HEADER, "1");
    if (!m->failure_callback) {
        /* serve()'s failureFunction answers at the workflow URL itself */
        m->failure_callback = xstrdup(m->url);
        headers_merge(&m->cb_headers, &m->headers, SDK_VERSION_HEADER,
                      "Content-Type");
    }
    header_default(&m->cb_headers, "Upstash-Workflow-Is-Failure", "true");
    header_default(&m->cb_headers, "Upstash-Workflow-Failure-Callback", "true");
    run_headers(&m->cb_headers, m, 0);

    sf_buf tpl;
    sf_buf_init(&tpl);
    encode_template(m, &tpl);
    char *item = step_item(m->id, m->body, m->body_len, now);
    set_init_body(c, m, item, strlen(item));
    set_str(&m->dedup_id, m->id); /* a retried trigger stores it once */

    char k_run[SF_KEY_MAX], k_steps[SF_KEY_MAX], k_idx[SF_KEY_MAX],
        k_runs[SF_KEY_MAX], k_running[SF_KEY_MAX];
    const char *p = c->cfg->prefix, *run = m->workflow_run_id;
    sf_keys_wf_run(p, "run", run, k_run, sizeof(k_run));
    sf_keys_wf_run(p, "steps", run, k_steps, sizeof(k_steps));
    sf_keys_wf_run(p, "stepidx", run, k_idx, sizeof(k_idx));
    sf_keys_wf(p, "runs", k_runs, sizeof(k_runs));
    sf_keys_wf(p, "running", k_running, sizeof(k_running));
    char created[32], retries[16], fcv[128], schema[8];
    snprintf(created, sizeof(created), "%lld", (long long)now);
    snprintf(retries, sizeof(retries), "%d", m->max_retries);
    snprintf(schema, sizeof(schema), "%d", SF_WF_SCHEMA);
    fc_value_text(m, fcv, sizeof(fcv));
    const char *argv[] = {k_run, k_steps, k_idx, k_runs, k_running, run, m->url,
                          created,
                          m->id, item, tpl.data ? tpl.data : "",
                          m->label ? m->label : "",
                          m->caller_ip ? m->caller_ip : "",
                          m->failure_callback, retries,
                          m->retry_delay ? m->retry_delay : "",
                          m->fc_key ? m->fc_key : "", fcv, schema};
    size_t lens[19];
    for (size_t i = 0; i < 19; i++) lens[i] = strlen(argv[i]);
    lens[10] = tpl.len;
    j->pending++;
    if (sf_rconn_evalsha(c->redis, sf_lua_wf_init, on_init, it, 5, 19, argv,
                         lens) != SF_OK) {
        job_fail(j, 503, "redis unavailable, workflow run not started");
        j->pending--;
    }
    free(item);
    sf_buf_cleanup(&tpl);
}

/* ---- steps -------------------------------------------------------------- */

static void on_step(redisAsyncContext *ac, void *reply, void *priv) {
    (void)ac;
    wf_item *it = priv;
    wf_job *j = it->job;
    sf_message *m = j->msgs[it->idx];
    redisReply *r = run_reply(it, reply);
    if (!r) return;
    sf_message *t = r->elements >= 5 ? decode_template(r->element[3]) : NULL;
    if (!t) {
        job_fail(j, 500, "workflow run %s has no readable template",
                 m->workflow_run_id);
        job_settle(j);
        return;
    }
    sf_message_kind kind = m->kind;
    apply_settings(m, t);
    headers_merge(&m->headers, &t->headers, NULL, NULL);
    m->kind = kind;
    if (r->element[0]->integer == 2) {
        j->fate[it->idx] = SF_WF_DUP_STEP;
        set_str(&m->id, r->element[1]->str);
    }
    set_str(&m->dedup_id, m->id);
    set_body(m, r->element[2]->str, r->element[2]->len);
    sf_message_free(t);
    job_settle(j);
}

/* Reads the dedup key ("s:<stepId>" / "t:<targetStep>") of the step JSON
 * in m's body into "key" and returns the parsed step (the caller decrefs),
 * or NULL when the body is not a step. */
static json_t *step_parse(const sf_message *m, char *key, size_t key_size) {
    json_error_t jerr;
    json_t *o = json_loadb((const char *)m->body, m->body_len, 0, &jerr);
    json_t *id = json_object_get(o, "stepId");
    json_t *target = json_object_get(o, "targetStep");
    long long sid = json_is_integer(id) ? json_integer_value(id) : -1;
    long long tid = json_is_integer(target) ? json_integer_value(target) : 0;
    if (sid > 0) snprintf(key, key_size, "s:%lld", sid);
    else if (sid == 0 && tid > 0) snprintf(key, key_size, "t:%lld", tid);
    else {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* The next-state entry of a step delivery, for the logs API: its name and
 * type as the SDK sent them (any JSON string), STEP_PROGRESS.  NULL when
 * it cannot be encoded.  The caller frees. */
static char *next_state(const sf_message *m, json_t *step, int64_t now) {
    json_t *nx = json_object();
    json_object_set_new(nx, "messageId", json_string(m->id));
    json_t *name = json_object_get(step, "stepName");
    json_t *type = json_object_get(step, "stepType");
    json_object_set_new(nx, "stepName", json_is_string(name) ? json_incref(name)
                                                            : json_string(""));
    json_object_set_new(nx, "stepType", json_is_string(type) ? json_incref(type)
                                                            : json_string(""));
    json_object_set_new(nx, "state", json_string("STEP_PROGRESS"));
    json_object_set_new(nx, "retries", json_integer(m->max_retries));
    json_object_set_new(nx, "createdAt", json_integer(now));
    char *s = json_dumps(nx, JSON_COMPACT);
    json_decref(nx);
    return s;
}

static void start_step(wf_job *j, wf_item *it) {
    sf_coord *c = j->c;
    sf_message *m = j->msgs[it->idx];
    char key[48];
    json_t *step = step_parse(m, key, sizeof(key));
    if (!step) {
        job_fail(j, 400, "workflow step for run %s: the body must be a step "
                 "JSON object with stepId (and targetStep for a plan step)",
                 m->workflow_run_id);
        return;
    }
    int64_t now = sf_now_ms();
    char *next = next_state(m, step, now);
    json_decref(step);
    if (!next) {
        job_fail(j, 400, "workflow step for run %s: unreadable step name or type",
                 m->workflow_run_id);
        return;
    }
    char *item = step_item(m->id, m->body, m->body_len, now);
    char k_run[SF_KEY_MAX], k_steps[SF_KEY_MAX], k_idx[SF_KEY_MAX], k_next[SF_KEY_MAX];
    const char *p = c->cfg->prefix, *run = m->workflow_run_id;
    sf_keys_wf_run(p, "run", run, k_run, sizeof(k_run));
    sf_keys_wf_run(p, "steps", run, k_steps, sizeof(k_steps));
    sf_keys_wf_run(p, "stepidx", run, k_idx, sizeof(k_idx));
    sf_keys_wf_run(p, "next", run, k_next, sizeof(k_next));
    char limit[32];
    snprintf(limit, sizeof(limit), "%lld", (long long)c->cfg->wf_inline_bytes);
    const char *argv[] = {k_run, k_steps, k_idx, k_next, m->id, key, item,
                          next, limit};
    size_t lens[9];
    for (size_t i = 0; i < 9; i++) lens[i] = strlen(argv[i]);
    j->pending++;
    if (sf_rconn_evalsha(c->redis, sf_lua_wf_step, on_step, it, 4, 9, argv,
                         lens) != SF_OK) {
        job_fail(j, 503, "redis unavailable, workflow step not recorded");
        j->pending--;
    }
    free(item);
    free(next);
}

/* ---- context.call ------------------------------------------------------- */

static void on_call(redisAsyncContext *ac, void *reply, void *priv) {
    (void)ac;
    wf_item *it = priv;
    wf_job *j = it->job;
    sf_message *m = j->msgs[it->idx];
    redisReply *r = reply;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
        job_fail(j, 503, "redis error while reading workflow run %s",
                 m->workflow_run_id);
    } else if (!not_running(j, m, r->element[0]->type == REDIS_REPLY_STRING
                                      ? r->element[0]->str : NULL)) {
        sf_err err = {{0}};
        sf_message *t = decode_template(r->element[1]);
        sf_message *cb = sf_message_decode(m->callback_tpl, m->callback_tpl_len, &err);
        if (!t || !cb) {
            job_fail(j, 500, "workflow run %s: unreadable call settings",
                     m->workflow_run_id);
        } else {
            /* the report goes to the workflow URL as one of the run's
             * deliveries: the run's settings, headers and failure URL */
            apply_settings(cb, t);
            set_str(&cb->workflow_run_id, m->workflow_run_id);
            headers_merge(&cb->headers, &t->headers, SDK_VERSION_HEADER,
                          "Content-Type");
            m->workflow_created_ms = t->workflow_created_ms;
            set_str(&m->workflow_url, t->workflow_url);
            sf_buf b;
            sf_buf_init(&b);
            sf_message_encode(cb, &b);
            free(m->callback_tpl);
            m->callback_tpl = (unsigned char *)b.data;
            m->callback_tpl_len = b.len;
        }
        sf_message_free(t);
        sf_message_free(cb);
    }
    job_settle(j);
}

static void start_call(wf_job *j, wf_item *it) {
    sf_message *m = j->msgs[it->idx];
    char k_run[SF_KEY_MAX];
    sf_keys_wf_run(j->c->cfg->prefix, "run", m->workflow_run_id, k_run,
                   sizeof(k_run));
    const char *argv[] = {"HMGET", k_run, "state", "tpl"};
    size_t lens[] = {5, strlen(k_run), 5, 3};
    j->pending++;
    if (sf_rconn_command(j->c->redis, on_call, it, 4, argv, lens) != SF_OK) {
        job_fail(j, 503, "redis unavailable, workflow call not stored");
        j->pending--;
    }
}

/* An ordinary message that carries a run id header is not one of the run's
 * deliveries: without the id the workers do not hold it to the run's
 * state (a cancelled or unknown run would drop it). */
static void forget_run(sf_message *m) {
    set_str(&m->workflow_run_id, NULL);
    set_str(&m->workflow_url, NULL);
}

void sf_wf_prepare(sf_coord *c, sf_message **msgs, const sf_publish_wf *wf,
                   sf_wf_fate *fate, size_t n, sf_wf_prepared_fn *done,
                   void *arg) {
    wf_job *j = calloc(1, sizeof(*j));
    wf_item *items = calloc(n ? n : 1, sizeof(*items));
    if (!j || !items) {
        free(j);
        free(items);
        sf_wf_result r = {.http_status = 500};
        snprintf(r.error, sizeof(r.error), "out of memory");
        done(c, &r, arg);
        return;
    }
    *j = (wf_job){.c = c, .msgs = msgs, .wf = wf, .fate = fate, .n = n,
                  .pending = 1, .items = items, .done = done, .arg = arg};
    for (size_t i = 0; i < n && !j->res.http_status; i++) {
        fate[i] = SF_WF_ENQUEUE;
        sf_message *m = msgs[i];
        if (!sf_wf_is_workflow(m, &wf[i])) continue;
        items[i] = (wf_item){.job = j, .idx = i};
        if (wf[i].init)
            start_init(j, &items[i]);
        else if (strcasecmp(wf[i].call_type, "toCallback") == 0 && m->callback_tpl)
            start_call(j, &items[i]);
        else if (!m->workflow_url || strcmp(m->workflow_url, m->url) == 0)
            start_step(j, &items[i]);
        else
            forget_run(m); /* it merely mentions a run: an ordinary message */
    }
    job_settle(j);
}

/* ---- resume / restart --------------------------------------------------- */

typedef struct rerun {
    sf_coord *c;
    sf_wf_rerun_fn *done;
    void *arg;
    char old_run[256];
    char failed[256];
    char new_run[64];
    char new_msg[64];
    int retries;
    char *fc_key, *fc_value;
    int64_t now;
    sf_message *tpl;
} rerun;

static void rerun_end(rerun *r, int status, const char *error) {
    r->done(r->c, status, status ? NULL : r->new_run, r->now, error, r->arg);
    sf_message_free(r->tpl);
    free(r->fc_key);
    free(r->fc_value);
    free(r);
}

static void rerun_enqueued(sf_coord *c, const sf_enqueue_result *res, void *arg) {
    (void)c;
    rerun *r = arg;
    if (res->status != SF_OK) rerun_end(r, 503, "redis unavailable, run not started");
    else rerun_end(r, 0, NULL);
}

static void on_rerun_created(redisAsyncContext *ac, void *reply, void *priv) {
    (void)ac;
    rerun *r = priv;
    redisReply *rep = reply;
    if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements < 1 ||
        rep->element[0]->type != REDIS_REPLY_INTEGER) {
        rerun_end(r, 503, "redis error while starting the new run");
        return;
    }
    size_t n = rep->elements > 1 ? (rep->elements - 1) / 2 : 0;
    if (rep->element[0]->integer != 1 || n == 0) {
        rerun_end(r, 404, "the failed run's steps are gone (expired)");
        return;
    }
    /* one delivery per step to run again, all with the run's template */
    sf_message **msgs = calloc(n, sizeof(*msgs));
    int64_t *due = calloc(n, sizeof(*due));
    sf_assert(msgs != NULL && due != NULL);
    for (size_t i = 0; i < n; i++) {
        const redisReply *id = rep->element[1 + 2 * i];
        const redisReply *body = rep->element[2 + 2 * i];
        msgs[i] = sf_message_dup(r->tpl);
        sf_assert(msgs[i] != NULL);
        set_str(&msgs[i]->id, id->type == REDIS_REPLY_STRING ? id->str : r->new_msg);
        msgs[i]->created_ms = r->now;
        if (body->type == REDIS_REPLY_STRING) set_body(msgs[i], body->str, body->len);
    }
    sf_status st = sf_enqueue(r->c, msgs, due, n, rerun_enqueued, r);
    for (size_t i = 0; i < n; i++) sf_message_free(msgs[i]);
    free(msgs);
    free(due);
    if (st != SF_OK) rerun_end(r, 503, "redis unavailable, run not started");
}

static void on_rerun_template(redisAsyncContext *ac, void *reply, void *priv) {
    (void)ac;
    rerun *r = priv;
    sf_coord *c = r->c;
    redisReply *rep = reply;
    if (!rep || rep->type == REDIS_REPLY_ERROR) {
        rerun_end(r, 503, "redis error while reading the failed run");
        return;
    }
    sf_message *t = decode_template(rep);
    if (!t) {
        rerun_end(r, 404, "the failed run is gone (expired or deleted)");
        return;
    }
    r->tpl = t;
    set_str(&t->workflow_run_id, r->new_run);
    t->workflow_created_ms = r->now;
    run_headers(&t->headers, t, 1);
    run_headers(&t->cb_headers, t, 1);
    t->attempts_len = 0;
    t->retried = 0;
    if (r->retries >= 0) t->max_retries = r->retries;
    if (r->fc_key) {
        char why[160];
        set_str(&t->fc_key, r->fc_key);
        if (sf_flow_control_parse(r->fc_value, t, why, sizeof(why)) != 0) {
            char msg[200];
            snprintf(msg, sizeof(msg), "invalid Upstash-Flow-Control-Value: %s", why);
            rerun_end(r, 400, msg);
            return;
        }
    }
    sf_buf tpl;
    sf_buf_init(&tpl);
    encode_template(t, &tpl);
    char keys[8][SF_KEY_MAX];
    const char *p = c->cfg->prefix;
    sf_keys_wf_run(p, "run", r->old_run, keys[0], SF_KEY_MAX);
    sf_keys_wf_run(p, "steps", r->old_run, keys[1], SF_KEY_MAX);
    sf_keys_wf_run(p, "stepidx", r->old_run, keys[2], SF_KEY_MAX);
    sf_keys_wf_run(p, "run", r->new_run, keys[3], SF_KEY_MAX);
    sf_keys_wf_run(p, "steps", r->new_run, keys[4], SF_KEY_MAX);
    sf_keys_wf_run(p, "stepidx", r->new_run, keys[5], SF_KEY_MAX);
    sf_keys_wf(p, "runs", keys[6], SF_KEY_MAX);
    sf_keys_wf(p, "running", keys[7], SF_KEY_MAX);
    char now[32], retries[16], fcv[128], limit[32];
    snprintf(now, sizeof(now), "%lld", (long long)r->now);
    snprintf(retries, sizeof(retries), "%d", t->max_retries);
    snprintf(limit, sizeof(limit), "%lld", (long long)c->cfg->wf_inline_bytes);
    fc_value_text(t, fcv, sizeof(fcv));
    const char *argv[] = {keys[0], keys[1], keys[2], keys[3], keys[4], keys[5],
                          keys[6], keys[7], r->new_run, r->failed, now, r->new_msg,
                          tpl.data ? tpl.data : "", retries,
                          r->fc_key ? t->fc_key : "", r->fc_key ? fcv : "", limit};
    size_t lens[17];
    for (size_t i = 0; i < 17; i++) lens[i] = strlen(argv[i]);
    lens[12] = tpl.len;
    sf_status st = sf_rconn_evalsha(c->redis, sf_lua_wf_rerun, on_rerun_created,
                                    r, 8, 17, argv, lens);
    sf_buf_cleanup(&tpl);
    if (st != SF_OK) rerun_end(r, 503, "redis unavailable, run not started");
}

void sf_wf_rerun(sf_coord *c, const sf_wf_rerun_opts *o, sf_wf_rerun_fn *done,
                 void *arg) {
    rerun *r = calloc(1, sizeof(*r));
    sf_assert(r != NULL);
    r->c = c;
    r->done = done;
    r->arg = arg;
    snprintf(r->old_run, sizeof(r->old_run), "%s", o->old_run_id);
    snprintf(r->failed, sizeof(r->failed), "%s",
             o->failed_msg_id ? o->failed_msg_id : "");
    sf_random_id("wfr_", r->new_run, sizeof(r->new_run));
    sf_random_id("msg_", r->new_msg, sizeof(r->new_msg));
    r->retries = o->retries;
    r->fc_key = xstrdup(o->fc_key);
    r->fc_value = xstrdup(o->fc_key ? (o->fc_value ? o->fc_value : "") : NULL);
    r->now = sf_now_ms();
    char k_run[SF_KEY_MAX];
    sf_keys_wf_run(c->cfg->prefix, "run", r->old_run, k_run, sizeof(k_run));
    const char *argv[] = {"HGET", k_run, "tpl"};
    size_t lens[] = {4, strlen(k_run), 3};
    if (sf_rconn_command(c->redis, on_rerun_template, r, 3, argv, lens) != SF_OK)
        rerun_end(r, 503, "redis unavailable, run not started");
}
