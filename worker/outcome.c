#include "outcome.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dlq.h"
#include "log.h"
#include "lua.h"
#include "util.h"

static char *xstrdup(const char *s) {
    if (!s) return NULL;
    char *d = strdup(s);
    sf_assert(d);
    return d;
}

/* "dlq_" + the hex part of "msg_<hex>" (see outcome.h). */
void sf_dlq_id_for(const char *msg_id, char *out, size_t out_size) {
    const char *src = msg_id ? msg_id : "";
    if (strncmp(src, "msg_", 4) == 0) src += 4;
    size_t o = (size_t)snprintf(out, out_size, "dlq_");
    for (; *src && o + 1 < out_size; src++, o++) {
        unsigned char ch = (unsigned char)*src;
        out[o] = (isalnum(ch) || ch == '_' || ch == '-') ? (char)ch : '_';
    }
    if (o < out_size) out[o] = '\0';
}

/* A JSON string of [p, p+n): the bytes themselves when they are UTF-8,
 * else "base64:<...>" so nothing is lost and jansson never fails. */
static json_t *json_bytes(const void *p, size_t n) {
    if (!p) return json_string("");
    if (sf_utf8_valid(p, n)) {
        json_t *s = json_stringn(p, n);
        if (s) return s;
    }
    char *b = sf_base64_encode(p, n);
    json_t *s = json_pack("s++", "base64:", b ? b : "", "");
    free(b);
    return s;
}

static json_t *headers_obj(const sf_headers *h) {
    json_t *o = json_object();
    for (size_t i = 0; h && i < h->len; i++) {
        const char *name = h->items[i].name;
        const char *value = h->items[i].value ? h->items[i].value : "";
        if (!name || !sf_utf8_valid(name, strlen(name))) continue;
        json_t *arr = json_object_get(o, name);
        if (!arr) {
            arr = json_array();
            json_object_set_new(o, name, arr);
        }
        json_array_append_new(arr, json_bytes(value, strlen(value)));
    }
    return o;
}

static char *dump(json_t *j) {
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return s ? s : xstrdup("null");
}

/* {"Name": [values]} of "h"; malloc'd. */
char *sf_headers_json(const sf_headers *h) {
    return dump(headers_obj(h));
}

/* The attempt history of "m" as JSON; malloc'd. */
char *sf_attempts_json(const sf_message *m) {
    json_t *a = json_array();
    for (size_t i = 0; i < m->attempts_len; i++) {
        const sf_attempt *at = &m->attempts[i];
        json_t *o = json_pack("{sI sI sI}", "at", (json_int_t)at->at_ms,
                              "status", (json_int_t)at->status, "latencyMs",
                              (json_int_t)at->latency_ms);
        if (o && at->error)
            json_object_set_new(o, "error",
                                json_bytes(at->error, strlen(at->error)));
        if (o) json_array_append_new(a, o);
    }
    return dump(a);
}

static char *b64(const void *p, size_t n) {
    char *s = sf_base64_encode(p ? p : "", p ? n : 0);
    return s ? s : xstrdup("");
}

/* The JSON body PROTOCOL.md gives for a failure callback ("dlq_id" set)
 * or an Upstash-Callback report ("dlq_id" NULL): the last response "res",
 * "retried" retries, and m's source fields; sourceBody is "source_b64"
 * when given, else the base64 of m's body. */
static char *callback_body(const sf_message *m, const char *dlq_id,
                           const sf_http_response *res, int retried,
                           const char *source_b64) {
    json_t *o = json_object();
    char *rb = b64(res ? res->body.data : NULL, res ? res->body.len : 0);
    char *sb = source_b64 ? xstrdup(source_b64) : b64(m->body, m->body_len);
    json_object_set_new(o, "status", json_integer(res ? res->status : 0));
    json_object_set_new(o, "header", headers_obj(res ? &res->headers : NULL));
    json_object_set_new(o, "body", json_string(rb));
    json_object_set_new(o, "retried", json_integer(retried));
    json_object_set_new(o, "maxRetries", json_integer(m->max_retries));
    if (dlq_id) json_object_set_new(o, "dlqId", json_string(dlq_id));
    json_object_set_new(o, "sourceMessageId", json_bytes(m->id, strlen(m->id)));
    json_object_set_new(o, "url", json_bytes(m->url, strlen(m->url)));
    const char *method = m->method ? m->method : "POST";
    json_object_set_new(o, "method", json_bytes(method, strlen(method)));
    json_object_set_new(o, "sourceHeader", headers_obj(&m->headers));
    json_object_set_new(o, "sourceBody", json_string(sb));
    json_object_set_new(o, "notBefore", json_integer(m->not_before_ms));
    json_object_set_new(o, "createdAt", json_integer(m->created_ms));
    const char *ip = m->caller_ip ? m->caller_ip : "";
    json_object_set_new(o, "callerIP", json_bytes(ip, strlen(ip)));
    if (dlq_id && m->workflow_run_id) {
        json_object_set_new(
            o, "workflowRunId",
            json_bytes(m->workflow_run_id, strlen(m->workflow_run_id)));
        json_object_set_new(o, "workflowCreatedAt",
                            json_integer(m->workflow_created_ms));
        if (m->workflow_url)
            json_object_set_new(
                o, "workflowUrl",
                json_bytes(m->workflow_url, strlen(m->workflow_url)));
    }
    free(rb);
    free(sb);
    return dump(o);
}

/* The failure-callback job of "m" (see outcome.h); caller frees. */
sf_message *sf_callback_job_new(const sf_message *m, const char *dlq_id,
                                const sf_http_response *res,
                                const char *source_b64, int64_t now_ms) {
    if (!m->failure_callback || !*m->failure_callback) return NULL;
    sf_message *cb = sf_message_new();
    sf_assert(cb);
    char id[48];
    cb->kind = SF_KIND_CALLBACK;
    cb->id = xstrdup(sf_random_id("msg_", id, sizeof(id)));
    cb->url = xstrdup(m->failure_callback);
    cb->method = xstrdup(m->cb_method && *m->cb_method ? m->cb_method : "POST");
    int has_ctype = 0;
    for (size_t i = 0; i < m->cb_headers.len; i++) {
        const sf_header *h = &m->cb_headers.items[i];
        if (strcasecmp(h->name, "Content-Type") == 0) has_ctype = 1;
        sf_headers_add(&cb->headers, h->name, h->value ? h->value : "");
    }
    if (!has_ctype)
        sf_headers_add(&cb->headers, "Content-Type", "application/json");
    char *body = callback_body(m, dlq_id, res, m->retried, source_b64);
    cb->body = (unsigned char *)body;
    cb->body_len = strlen(body);
    cb->max_retries =
        m->cb_max_retries >= 0 ? m->cb_max_retries : m->max_retries;
    cb->retried = 0;
    cb->retry_delay =
        xstrdup(m->cb_retry_delay ? m->cb_retry_delay : m->retry_delay);
    cb->timeout_ms = m->cb_timeout_ms > 0 ? m->cb_timeout_ms : m->timeout_ms;
    cb->created_ms = now_ms;
    cb->label = xstrdup(m->label);
    cb->caller_ip = xstrdup(m->caller_ip);
    cb->dlq_id = xstrdup(dlq_id);
    cb->cb_gen = 1;
    cb->workflow_run_id = xstrdup(m->workflow_run_id);
    cb->workflow_url = xstrdup(m->workflow_url);
    cb->workflow_created_ms = m->workflow_created_ms;
    return cb;
}

static void pair(sf_cmd *c, const char *field, const char *value) {
    sf_cmd_adds(c, field);
    sf_cmd_adds(c, value);
}

static void pair_i(sf_cmd *c, const char *field, int64_t value) {
    sf_cmd_adds(c, field);
    sf_cmd_addi(c, value);
}

/* Starts dlq_add.lua: the three keys and a placeholder for the count of
 * entry arguments, which finish_entry() fills in. */
static void start_dlq(sf_cmd *c, const char *prefix, const char *dlq_id) {
    char key[SF_KEY_MAX];
    sf_cmd_init(c, sf_lua_dlq_add, 3);
    sf_keys_dlq_entry(prefix, dlq_id, key, sizeof(key));
    sf_cmd_adds(c, key);
    sf_keys_dlq_events(prefix, key, sizeof(key));
    sf_cmd_adds(c, key);
    sf_queue_keys qk;
    sf_keys_queue(prefix, SF_QUEUE_CALLBACK, &qk);
    sf_cmd_adds(c, qk.stream);
    sf_cmd_adds(c, "0"); /* argument 3: replaced by finish_entry() */
}

static void finish_entry(sf_cmd *c) {
    char n[32];
    int len = snprintf(n, sizeof(n), "%d", c->argc - 4);
    free(c->argv[3]);
    c->argv[3] = xstrdup(n);
    c->len[3] = (size_t)len;
}

/* dlq_add.lua: entry fields, then the callback job's stream fields. */
void sf_outcome_dlq_cmd(sf_cmd *c, const char *prefix, const sf_message *m,
                        const void *env, size_t env_len,
                        const sf_http_response *res, const char *reason,
                        const char *source_b64, int64_t now_ms,
                        char *dlq_id_out) {
    char dlq_id[80];
    sf_dlq_id_for(m->id, dlq_id, sizeof(dlq_id));
    snprintf(dlq_id_out, 80, "%s", dlq_id);
    start_dlq(c, prefix, dlq_id);
    pair_i(c, "v", SF_DLQ_SCHEMA);
    pair(c, "dlqId", dlq_id);
    pair(c, "messageId", m->id);
    pair(c, "url", m->url);
    pair(c, "method", m->method ? m->method : "POST");
    pair_i(c, "createdAt", m->created_ms);
    pair_i(c, "dlqAt", now_ms);
    if (m->label) pair(c, "label", m->label);
    if (m->caller_ip) pair(c, "callerIP", m->caller_ip);
    if (m->workflow_run_id) pair(c, "workflowRunId", m->workflow_run_id);
    if (m->workflow_url) pair(c, "workflowUrl", m->workflow_url);
    if (m->workflow_created_ms)
        pair_i(c, "workflowCreatedAt", m->workflow_created_ms);
    pair(c, "reason", reason);
    pair_i(c, "responseStatus", res ? res->status : 0);
    char *hj = sf_headers_json(res ? &res->headers : NULL);
    pair(c, "responseHeader", hj);
    free(hj);
    sf_cmd_adds(c, "responseBody");
    sf_cmd_add(c, res && res->body.data ? res->body.data : "",
               res ? res->body.len : 0);
    char *aj = sf_attempts_json(m);
    pair(c, "attempts", aj);
    free(aj);
    pair_i(c, "maxRetries", m->max_retries);
    pair_i(c, "notBefore", m->not_before_ms);
    if (m->retry_delay) pair(c, "retryDelay", m->retry_delay);
    sf_cmd_adds(c, "m");
    sf_cmd_add(c, env, env_len);

    sf_message *cb = sf_callback_job_new(m, dlq_id, res, source_b64, now_ms);
    sf_buf cbm;
    sf_buf_init(&cbm);
    if (cb) {
        sf_message_encode(cb, &cbm);
        pair(c, "failureCallback", m->failure_callback);
        pair(c, "callbackState", sf_cb_state_name(SF_CB_INPROGRESS));
        pair_i(c, "callbackGen", 1);
        pair(c, "callbackMessageId", cb->id);
        pair_i(c, "callbackRetried", 0);
        sf_cmd_adds(c, "cbm");
        sf_cmd_add(c, cbm.data, cbm.len);
    }
    finish_entry(c);
    if (cb) {
        /* The callback job's stream fields (keys.h). */
        pair(c, "v", SF_STREAM_SCHEMA);
        pair(c, "id", cb->id);
        sf_cmd_adds(c, "m");
        sf_cmd_add(c, cbm.data, cbm.len);
        pair(c, "dlq", dlq_id);
    }
    sf_buf_cleanup(&cbm);
    sf_message_free(cb);
}

/* One raw stream value for the `raw` dump: at most SF_RAW_VALUE_LIMIT
 * bytes, cut back to a UTF-8 boundary, or base64 when it is binary. */
static json_t *raw_value(const char *p, size_t n) {
    size_t cut = n > SF_RAW_VALUE_LIMIT ? SF_RAW_VALUE_LIMIT : n;
    if (cut < n)
        for (int i = 0; i < 3 && cut > 0 && !sf_utf8_valid(p, cut); i++)
            cut--;
    return json_bytes(p, cut); /* base64 when still not UTF-8 */
}

/* dlq_add.lua for an undeliverable stream entry (see outcome.h). */
void sf_outcome_malformed_cmd(sf_cmd *c, const char *prefix,
                              const char *queue_tag, const char *entry_id,
                              const char **fields, const size_t *lens, size_t n,
                              const char *msg_id, const char *url,
                              const char *why, int64_t now_ms) {
    char dlq_id[96];
    char tail[64];
    sf_dlq_id_for(entry_id, tail, sizeof(tail)); /* "dlq_<entry id>" */
    snprintf(dlq_id, sizeof(dlq_id), "dlq_bad_%s_%s", queue_tag, tail + 4);
    json_t *raw = json_object();
    for (size_t i = 0; i + 1 < n; i += 2) {
        char name[128];
        size_t nl = lens[i] < sizeof(name) - 1 ? lens[i] : sizeof(name) - 1;
        memcpy(name, fields[i], nl);
        name[nl] = '\0';
        if (!sf_utf8_valid(name, nl))
            snprintf(name, sizeof(name), "field%zu", i / 2);
        json_object_set_new(raw, name, raw_value(fields[i + 1], lens[i + 1]));
    }
    char *raw_s = dump(raw);
    char reason[512];
    snprintf(reason, sizeof(reason), "malformed stream entry: %s", why);

    start_dlq(c, prefix, dlq_id);
    pair_i(c, "v", SF_DLQ_SCHEMA);
    pair(c, "dlqId", dlq_id);
    pair(c, "messageId", msg_id ? msg_id : "");
    pair(c, "url", url ? url : "");
    pair(c, "method", "");
    pair_i(c, "createdAt", now_ms);
    pair_i(c, "dlqAt", now_ms);
    pair(c, "reason", reason);
    pair_i(c, "responseStatus", 0);
    pair(c, "attempts", "[]");
    pair(c, "raw", raw_s);
    finish_entry(c);
    free(raw_s);
}

/* queue_retry.lua: KEYS stream delayed payload; ARGV group entryId
 * msgId due_ms envelope. */
void sf_outcome_retry_cmd(sf_cmd *c, const sf_queue_keys *k,
                          const char *entry_id, const char *msg_id,
                          int64_t due_ms, const void *env, size_t env_len) {
    sf_cmd_init(c, sf_lua_queue_retry, 3);
    sf_cmd_adds(c, k->stream);
    sf_cmd_adds(c, k->delayed);
    sf_cmd_adds(c, k->payload);
    sf_cmd_adds(c, SF_GROUP_WORKERS);
    sf_cmd_adds(c, entry_id);
    sf_cmd_adds(c, msg_id);
    sf_cmd_addi(c, due_ms);
    sf_cmd_add(c, env, env_len);
}

/* The HMGET that tells whether a callback job is still live. */
void sf_outcome_cb_check_cmd(sf_cmd *c, const char *prefix,
                             const char *dlq_id) {
    char key[SF_KEY_MAX];
    sf_keys_dlq_entry(prefix, dlq_id, key, sizeof(key));
    /* HMGET <entry> callbackState callbackGen */
    sf_cmd_init(c, NULL, 0);
    sf_cmd_adds(c, "HMGET");
    sf_cmd_adds(c, key);
    sf_cmd_adds(c, "callbackState");
    sf_cmd_adds(c, "callbackGen");
}

/* cb_result.lua: KEYS entry events; ARGV dlqId gen outcome status
 * headerJSON body retried now_ms. */
void sf_outcome_cb_result_cmd(sf_cmd *c, const char *prefix,
                              const sf_message *job, const char *outcome,
                              const sf_http_response *res, int retried,
                              int64_t now_ms) {
    char key[SF_KEY_MAX];
    sf_cmd_init(c, sf_lua_cb_result, 2);
    sf_keys_dlq_entry(prefix, job->dlq_id, key, sizeof(key));
    sf_cmd_adds(c, key);
    sf_keys_dlq_events(prefix, key, sizeof(key));
    sf_cmd_adds(c, key);
    sf_cmd_adds(c, job->dlq_id);
    sf_cmd_addi(c, job->cb_gen);
    sf_cmd_adds(c, outcome);
    sf_cmd_addi(c, res ? res->status : 0);
    char *hj = sf_headers_json(res ? &res->headers : NULL);
    sf_cmd_adds(c, hj);
    free(hj);
    sf_cmd_add(c, res && res->body.data ? res->body.data : "",
               res ? res->body.len : 0);
    sf_cmd_addi(c, retried);
    sf_cmd_addi(c, now_ms);
    if (strcmp(outcome, "success") == 0) {
        sf_cmd_adds(c, "");
    } else {
        char *ej = sf_wf_step_error_json(res, now_ms);
        sf_cmd_adds(c, ej);
        free(ej);
    }
}

/* ---- Upstash-Callback reports ------------------------------------------ */

/* The report message of m's final outcome (see outcome.h). */
sf_message *sf_report_new(const sf_message *m, const sf_http_response *res,
                          int retried, int64_t now_ms, sf_err *err) {
    if (!m->callback_tpl || m->callback_tpl_len == 0) {
        sf_err_set(err, "no callback template");
        return NULL;
    }
    sf_message *r = sf_message_decode(m->callback_tpl, m->callback_tpl_len,
                                      err);
    if (!r) return NULL;
    char id[48];
    free(r->id);
    r->id = xstrdup(sf_random_id("msg_", id, sizeof(id)));
    r->kind = SF_KIND_MESSAGE;
    r->retried = 0;
    r->created_ms = now_ms;
    if (!sf_headers_get(&r->headers, "Content-Type"))
        sf_headers_add(&r->headers, "Content-Type", "application/json");
    free(r->body);
    char *body = callback_body(m, NULL, res, retried, NULL);
    r->body = (unsigned char *)body;
    r->body_len = strlen(body);
    return r;
}

/* queue_callback.lua: KEYS stream; ARGV group entryId reportId envelope. */
sf_status sf_outcome_report_cmd(sf_cmd *c, const sf_queue_keys *k,
                                const char *entry_id, const sf_message *m,
                                const sf_http_response *res, int retried,
                                int64_t now_ms, char *report_id_out,
                                sf_err *err) {
    sf_cmd_init(c, sf_lua_queue_callback, 1);
    sf_message *r = sf_report_new(m, res, retried, now_ms, err);
    if (!r) return SF_ERR;
    sf_buf env;
    sf_buf_init(&env);
    sf_message_encode(r, &env);
    snprintf(report_id_out, 48, "%s", r->id);
    sf_cmd_adds(c, k->stream);
    sf_cmd_adds(c, SF_GROUP_WORKERS);
    sf_cmd_adds(c, entry_id);
    sf_cmd_adds(c, r->id);
    sf_cmd_add(c, env.data, env.len);
    sf_buf_cleanup(&env);
    sf_message_free(r);
    return SF_OK;
}

/* ---- workflow runs ------------------------------------------------------- */

/* A delivery of a run to the run's own endpoint (see outcome.h). */
int sf_wf_is_step(const sf_message *m) {
    return m->workflow_run_id && m->workflow_url && m->url &&
           strcmp(m->url, m->workflow_url) == 0;
}

static char *item_body(const json_t *item) {
    const char *b = json_string_value(json_object_get(item, "body"));
    return json_is_object(item) && b ? xstrdup(b) : NULL;
}

/* The "body" of one steps-list item (see outcome.h); caller frees. */
char *sf_wf_item_body(const char *json, size_t len) {
    json_error_t je;
    json_t *item = json ? json_loadb(json, len, 0, &je) : NULL;
    char *b = item_body(item);
    json_decref(item);
    return b;
}

/* Item 0's body of a step-list body (see outcome.h); caller frees. */
char *sf_wf_source_b64(const sf_message *m) {
    if (!m->workflow_run_id || !m->body || m->body_len == 0 ||
        m->body[0] != '[')
        return NULL;
    json_error_t je;
    json_t *a = json_loadb((const char *)m->body, m->body_len, 0, &je);
    char *b = json_is_array(a) ? item_body(json_array_get(a, 0)) : NULL;
    json_decref(a);
    return b;
}

/* "<verb> P:{wf}:<what>:<run_id> <arg>" */
static void run_key_cmd(sf_cmd *c, const char *prefix, const char *verb,
                        const char *what, const char *run_id, const char *arg) {
    char key[SF_KEY_MAX];
    sf_keys_wf_run(prefix, what, run_id, key, sizeof(key));
    sf_cmd_init(c, NULL, 0);
    sf_cmd_adds(c, verb);
    sf_cmd_adds(c, key);
    sf_cmd_adds(c, arg);
}

/* HGET P:{wf}:run:<run_id> state */
void sf_outcome_run_state_cmd(sf_cmd *c, const char *prefix,
                              const char *run_id) {
    run_key_cmd(c, prefix, "HGET", "run", run_id, "state");
}

/* LINDEX P:{wf}:steps:<run_id> 0 */
void sf_outcome_wf_initial_cmd(sf_cmd *c, const char *prefix,
                               const char *run_id) {
    run_key_cmd(c, prefix, "LINDEX", "steps", run_id, "0");
}

/* The error of one failed attempt, for the next hash (see outcome.h). */
char *sf_wf_step_error_json(const sf_http_response *res, int64_t now_ms) {
    char what[160];
    if (res && res->error[0])
        snprintf(what, sizeof(what), "%s", res->error);
    else if (res && res->status > 0)
        snprintf(what, sizeof(what), "HTTP %d", res->status);
    else
        snprintf(what, sizeof(what), "no response");
    const char *p = res && res->body.data ? res->body.data : "";
    size_t n = res ? res->body.len : 0;
    if (n > SF_WF_ERROR_BODY) {
        n = SF_WF_ERROR_BODY; /* cut back to a UTF-8 boundary if it is text */
        for (int i = 0; i < 3 && n > 0 && !sf_utf8_valid(p, n); i++)
            n--;
    }
    json_t *o = json_object();
    json_object_set_new(o, "error", json_bytes(what, strlen(what)));
    json_object_set_new(o, "body", json_bytes(p, n));
    json_object_set_new(o, "headers", headers_obj(res ? &res->headers : NULL));
    json_object_set_new(o, "status", json_integer(res ? res->status : 0));
    json_object_set_new(o, "time", json_integer(now_ms));
    return dump(o);
}

/* wf_next.lua: KEYS next run; ARGV msgId state errorJSON retries now_ms
 * stepName. */
void sf_outcome_wf_next_cmd(sf_cmd *c, const char *prefix, const sf_message *m,
                            const char *state, const sf_http_response *res,
                            int64_t now_ms) {
    char key[SF_KEY_MAX];
    sf_cmd_init(c, sf_lua_wf_next, 2);
    sf_keys_wf_run(prefix, "next", m->workflow_run_id, key, sizeof(key));
    sf_cmd_adds(c, key);
    sf_keys_wf_run(prefix, "run", m->workflow_run_id, key, sizeof(key));
    sf_cmd_adds(c, key);
    sf_cmd_adds(c, m->id);
    sf_cmd_adds(c, state);
    char *ej = sf_wf_step_error_json(res, now_ms);
    sf_cmd_adds(c, ej);
    free(ej);
    sf_cmd_addi(c, m->max_retries);
    sf_cmd_addi(c, now_ms);
    /* serve() names the step that threw in its 500 answer */
    const char *step = res ? sf_headers_get(&res->headers, "Upstash-Error-Step-Name")
                           : NULL;
    sf_cmd_adds(c, step ? step : "");
}

/* HDEL P:{wf}:next:<run> <msgId> */
void sf_outcome_wf_next_del_cmd(sf_cmd *c, const char *prefix,
                                const sf_message *m) {
    run_key_cmd(c, prefix, "HDEL", "next", m->workflow_run_id, m->id);
}

/* wf_fail.lua: KEYS run failed; ARGV runId dlqId now_ms. */
void sf_outcome_wf_fail_cmd(sf_cmd *c, const char *prefix, const char *run_id,
                            const char *dlq_id, int64_t now_ms) {
    char key[SF_KEY_MAX];
    sf_cmd_init(c, sf_lua_wf_fail, 3);
    sf_keys_wf_run(prefix, "run", run_id, key, sizeof(key));
    sf_cmd_adds(c, key);
    sf_keys_wf(prefix, "failed", key, sizeof(key));
    sf_cmd_adds(c, key);
    sf_keys_wf(prefix, "running", key, sizeof(key));
    sf_cmd_adds(c, key);
    sf_cmd_adds(c, run_id);
    sf_cmd_adds(c, dlq_id);
    sf_cmd_addi(c, now_ms);
}
