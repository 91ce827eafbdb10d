/* test_outcome.c - the worker's outcome builders (worker/outcome.c): DLQ
 * ids, header JSON, the failure-callback job and the dlq_add.lua /
 * queue_retry.lua / cb_result.lua argument lists; Upstash-Callback reports
 * (queue_callback.lua); workflow runs: the failure callback's sourceBody,
 * the run-state HGET, wf_next.lua / wf_fail.lua and the step error JSON.
 * Pure: no Redis. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "cmd.h"
#include "lua.h"
#include "outcome.h"
#include "util.h"

static const char *arg(const sf_cmd *c, const char *field) {
    for (int i = 0; i + 1 < c->argc; i++)
        if (strcmp(c->argv[i], field) == 0) return c->argv[i + 1];
    return NULL;
}

static sf_message *sample(void) {
    sf_message *m = sf_message_new();
    m->id = strdup("msg_00ff");
    m->url = strdup("http://example.test/a");
    m->method = strdup("PUT");
    m->body = (unsigned char *)strdup("hello");
    m->body_len = 5;
    m->max_retries = 2;
    m->retried = 2;
    m->retry_delay = strdup("1000");
    m->created_ms = 1700000000000;
    sf_headers_add(&m->headers, "X-A", "1");
    sf_headers_add(&m->headers, "X-A", "2");
    m->failure_callback = strdup("http://example.test/cb");
    sf_headers_add(&m->cb_headers, "X-Cb", "yes");
    sf_message_add_attempt(m, 1700000000001, 500, 3, NULL);
    sf_message_add_attempt(m, 1700000000002, 0, 30000, "timeout");
    return m;
}

static void test_dlq_id(void) {
    char out[80];
    sf_dlq_id_for("msg_abc123", out, sizeof(out));
    CHECK_STR(out, "dlq_abc123");
    sf_dlq_id_for("weird id/x", out, sizeof(out));
    CHECK_STR(out, "dlq_weird_id_x");
    sf_dlq_id_for(NULL, out, sizeof(out));
    CHECK_STR(out, "dlq_");
    char small[8];
    sf_dlq_id_for("msg_0123456789", small, sizeof(small));
    CHECK_STR(small, "dlq_012");
}

static void test_headers_json(void) {
    sf_headers h = {0};
    sf_headers_add(&h, "A", "1");
    sf_headers_add(&h, "B", "x");
    sf_headers_add(&h, "A", "2");
    char *j = sf_headers_json(&h);
    CHECK_STR(j, "{\"A\":[\"1\",\"2\"],\"B\":[\"x\"]}");
    free(j);
    sf_headers_cleanup(&h);
    j = sf_headers_json(NULL);
    CHECK_STR(j, "{}");
    free(j);
}

static void test_callback_job(void) {
    sf_message *m = sample();
    sf_http_response res;
    memset(&res, 0, sizeof(res));
    res.status = 503;
    sf_headers_add(&res.headers, "Retry-After", "5");
    sf_buf_appends(&res.body, "down");
    sf_message *cb = sf_callback_job_new(m, "dlq_00ff", &res, NULL, 42);
    CHECK(cb != NULL);
    if (cb) {
        CHECK_INT(cb->kind, SF_KIND_CALLBACK);
        CHECK_STR(cb->url, "http://example.test/cb");
        CHECK_STR(cb->method, "POST");
        CHECK_STR(cb->dlq_id, "dlq_00ff");
        CHECK_INT(cb->cb_gen, 1);
        CHECK_INT(cb->max_retries, 2); /* inherited */
        CHECK_STR(cb->retry_delay, "1000");
        CHECK_STR(sf_headers_get(&cb->headers, "X-Cb"), "yes");
        CHECK_STR(sf_headers_get(&cb->headers, "content-type"),
                  "application/json");
        CHECK(strncmp(cb->id, "msg_", 4) == 0);
        json_error_t je;
        json_t *b = json_loadb((const char *)cb->body, cb->body_len, 0, &je);
        CHECK(b != NULL);
        CHECK_INT(json_integer_value(json_object_get(b, "status")), 503);
        CHECK_STR(json_string_value(json_object_get(b, "body")), "ZG93bg==");
        CHECK_STR(json_string_value(json_object_get(b, "sourceBody")),
                  "aGVsbG8=");
        CHECK_STR(json_string_value(json_object_get(b, "sourceMessageId")),
                  "msg_00ff");
        CHECK_STR(json_string_value(json_object_get(b, "dlqId")), "dlq_00ff");
        CHECK_STR(json_string_value(json_object_get(b, "method")), "PUT");
        CHECK_INT(json_integer_value(json_object_get(b, "retried")), 2);
        CHECK_INT(json_integer_value(json_object_get(b, "maxRetries")), 2);
        CHECK_INT(json_array_size(json_object_get(
                      json_object_get(b, "sourceHeader"), "X-A")),
                  2);
        CHECK_STR(
            json_string_value(json_array_get(
                json_object_get(json_object_get(b, "header"), "Retry-After"),
                0)),
            "5");
        CHECK(json_object_get(b, "workflowRunId") == NULL);
        CHECK(json_object_get(b, "workflowUrl") == NULL);
        json_decref(b);
    }
    sf_message_free(cb);
    m->cb_max_retries = 5;
    free(m->failure_callback);
    m->failure_callback = NULL;
    CHECK(sf_callback_job_new(m, "dlq_00ff", &res, NULL, 42) == NULL);
    sf_headers_cleanup(&res.headers);
    sf_buf_cleanup(&res.body);
    sf_message_free(m);
}

static void test_dlq_cmd(void) {
    sf_message *m = sample();
    sf_http_response res;
    memset(&res, 0, sizeof(res));
    res.status = 500;
    sf_buf_appends(&res.body, "boom");
    char dlq_id[80];
    sf_cmd c;
    sf_outcome_dlq_cmd(&c, "pfx", m, "ENV", 3, &res, "retries exhausted", NULL,
                       99, dlq_id);
    CHECK_STR(dlq_id, "dlq_00ff");
    CHECK(c.script == sf_lua_dlq_add);
    CHECK_INT(c.nkeys, 3);
    CHECK_STR(c.argv[0], "pfx:{dlq}:entry:dlq_00ff");
    CHECK_STR(c.argv[1], "pfx:{dlq}:events");
    CHECK_STR(c.argv[2], "pfx:{dlq}:cb:stream");
    int n = atoi(c.argv[3]);
    CHECK(n > 0 && n % 2 == 0);
    CHECK(4 + n < c.argc); /* callback job fields follow */
    CHECK_STR(arg(&c, "reason"), "retries exhausted");
    CHECK_STR(arg(&c, "responseStatus"), "500");
    CHECK_STR(arg(&c, "responseBody"), "boom");
    CHECK_STR(arg(&c, "m"), "ENV");
    CHECK_STR(arg(&c, "method"), "PUT");
    CHECK_STR(arg(&c, "callbackState"), "CALLBACK_INPROGRESS");
    CHECK_STR(arg(&c, "callbackGen"), "1");
    CHECK_STR(arg(&c, "dlq"), "dlq_00ff");
    CHECK_STR(arg(&c, "attempts"),
              "[{\"at\":1700000000001,\"status\":500,\"latencyMs\":3},"
              "{\"at\":1700000000002,\"status\":0,\"latencyMs\":30000,"
              "\"error\":\"timeout\"}]");
    /* The callback job's envelope decodes and matches the entry's cbm. */
    const char *cbm = arg(&c, "cbm");
    CHECK(cbm != NULL);
    size_t cbm_len = 0;
    for (int i = 0; i < c.argc; i++)
        if (strcmp(c.argv[i], "cbm") == 0) cbm_len = c.len[i + 1];
    sf_err err;
    sf_message *cb = sf_message_decode(cbm, cbm_len, &err);
    CHECK(cb != NULL);
    if (cb) CHECK_STR(cb->id, arg(&c, "callbackMessageId"));
    sf_message_free(cb);
    sf_cmd_cleanup(&c);

    free(m->failure_callback);
    m->failure_callback = NULL;
    sf_outcome_dlq_cmd(&c, "pfx", m, "ENV", 3, NULL, "x", NULL, 99, dlq_id);
    CHECK_INT(atoi(c.argv[3]) + 4, c.argc); /* no callback job */
    CHECK(arg(&c, "callbackState") == NULL);
    CHECK_STR(arg(&c, "responseStatus"), "0");
    sf_cmd_cleanup(&c);
    sf_buf_cleanup(&res.body);
    sf_message_free(m);
}

static void test_malformed_cmd(void) {
    const char *f[] = {"v", "1", "m", "\xff\xfe"};
    size_t l[] = {1, 1, 1, 2};
    sf_cmd c;
    sf_outcome_malformed_cmd(&c, "p", "msg", "1-2", f, l, 4, NULL, NULL,
                             "missing field id", 7);
    CHECK_STR(c.argv[0], "p:{dlq}:entry:dlq_bad_msg_1-2");
    CHECK_STR(arg(&c, "reason"), "malformed stream entry: missing field id");
    CHECK_STR(arg(&c, "raw"), "{\"v\":\"1\",\"m\":\"base64://4=\"}");
    CHECK_INT(atoi(c.argv[3]) + 4, c.argc);
    sf_cmd_cleanup(&c);
}

static void test_retry_and_result_cmds(void) {
    sf_queue_keys k;
    sf_keys_queue("p", SF_QUEUE_MSG, &k);
    sf_cmd c;
    sf_outcome_retry_cmd(&c, &k, "5-0", "msg_1", 1234, "E\0V", 3);
    CHECK_INT(c.argc, 8);
    CHECK_STR(c.argv[0], "p:{msg}:stream");
    CHECK_STR(c.argv[3], "workers");
    CHECK_STR(c.argv[6], "1234");
    CHECK_INT(c.len[7], 3);
    sf_cmd_cleanup(&c);

    sf_message *job = sf_message_new();
    job->dlq_id = strdup("dlq_9");
    job->cb_gen = 4;
    sf_outcome_cb_result_cmd(&c, "p", job, "fail", NULL, 3, 77);
    CHECK_INT(c.argc, 11);
    CHECK(strstr(c.argv[10], "\"error\":\"no response\"") != NULL);
    CHECK_STR(c.argv[0], "p:{dlq}:entry:dlq_9");
    CHECK_STR(c.argv[3], "4");
    CHECK_STR(c.argv[4], "fail");
    CHECK_STR(c.argv[5], "0");
    CHECK_STR(c.argv[6], "{}");
    CHECK_STR(c.argv[8], "3");
    sf_cmd_cleanup(&c);
    sf_message_free(job);
}

/* ---- workflow runs and Upstash-Callback reports ---------------------- */

static json_t *body_json(const sf_message *m) {
    json_error_t je;
    return json_loadb((const char *)m->body, m->body_len, 0, &je);
}

static void set_body(sf_message *m, const char *s) {
    free(m->body);
    m->body = (unsigned char *)strdup(s);
    m->body_len = strlen(s);
}

/* A step delivery of run wfr_1: its body is the run's step list. */
static sf_message *wf_sample(void) {
    sf_message *m = sample();
    free(m->url);
    m->url = strdup("http://example.test/wf");
    m->workflow_url = strdup("http://example.test/wf");
    m->workflow_run_id = strdup("wfr_1");
    m->workflow_created_ms = 1700000000123;
    set_body(m, "[{\"messageId\":\"msg_i\",\"body\":\"eyJhIjoxfQ==\","
                "\"callType\":\"step\",\"createdAt\":1},"
                "{\"messageId\":\"msg_s\",\"body\":\"eyJzdGVwSWQiOjF9\","
                "\"callType\":\"step\",\"createdAt\":2}]");
    return m;
}

static void test_wf_helpers(void) {
    sf_message *m = wf_sample();
    CHECK_INT(sf_wf_is_step(m), 1);
    char *b = sf_wf_source_b64(m);
    CHECK_STR(b, "eyJhIjoxfQ=="); /* item 0: the initial payload */
    free(b);
    free(m->url);
    m->url = strdup("http://example.test/called"); /* a context.call */
    CHECK_INT(sf_wf_is_step(m), 0);
    /* Not a step list: no derived source. */
    set_body(m, "");
    CHECK(sf_wf_source_b64(m) == NULL);
    set_body(m, "[1,2]");
    CHECK(sf_wf_source_b64(m) == NULL);
    set_body(m, "[{\"body\":5}]");
    CHECK(sf_wf_source_b64(m) == NULL);
    set_body(m, "[{\"body\":\"QQ==\"}");
    CHECK(sf_wf_source_b64(m) == NULL); /* truncated JSON */
    set_body(m, "[{\"body\":\"QQ==\"}]");
    free(m->workflow_run_id);
    m->workflow_run_id = NULL; /* not a run: never derived */
    CHECK(sf_wf_source_b64(m) == NULL);
    CHECK_INT(sf_wf_is_step(m), 0);
    sf_message_free(m);

    const char *item = "{\"messageId\":\"msg_i\",\"body\":\"aGk=\"}";
    b = sf_wf_item_body(item, strlen(item));
    CHECK_STR(b, "aGk=");
    free(b);
    CHECK(sf_wf_item_body("[]", 2) == NULL);
    CHECK(sf_wf_item_body("nope", 4) == NULL);
    CHECK(sf_wf_item_body(NULL, 0) == NULL);
}

static void test_wf_failure_callback(void) {
    sf_message *m = wf_sample();
    /* serve() takes the run's initial payload from sourceBody; the caller
     * derives it once (the worker's final chain) and passes it in. */
    char *src = sf_wf_source_b64(m);
    sf_message *cb = sf_callback_job_new(m, "dlq_00ff", NULL, src, 42);
    free(src);
    CHECK(cb != NULL);
    json_t *b = cb ? body_json(cb) : NULL;
    CHECK(b != NULL);
    CHECK_STR(json_string_value(json_object_get(b, "sourceBody")),
              "eyJhIjoxfQ==");
    CHECK_STR(json_string_value(json_object_get(b, "workflowRunId")), "wfr_1");
    CHECK_STR(json_string_value(json_object_get(b, "workflowUrl")),
              "http://example.test/wf");
    CHECK_INT(json_integer_value(json_object_get(b, "workflowCreatedAt")),
              1700000000123);
    CHECK_INT(json_integer_value(json_object_get(b, "status")), 0);
    CHECK_STR(cb->workflow_run_id, "wfr_1");
    json_decref(b);
    sf_message_free(cb);
    /* The builder does not parse the step list again: without a source
     * given, sourceBody is the base64 of the body as it is. */
    cb = sf_callback_job_new(m, "dlq_00ff", NULL, NULL, 42);
    b = cb ? body_json(cb) : NULL;
    char *whole = sf_base64_encode(m->body, m->body_len);
    CHECK_STR(json_string_value(json_object_get(b, "sourceBody")), whole);
    free(whole);
    json_decref(b);
    sf_message_free(cb);
    /* A source found elsewhere (LINDEX of a lazy step) wins. */
    set_body(m, "");
    cb = sf_callback_job_new(m, "dlq_00ff", NULL, "c3Jj", 42);
    b = cb ? body_json(cb) : NULL;
    CHECK_STR(json_string_value(json_object_get(b, "sourceBody")), "c3Jj");
    json_decref(b);
    sf_message_free(cb);
    /* ... and reaches the DLQ entry's callback job. */
    sf_cmd c;
    char dlq_id[80];
    sf_outcome_dlq_cmd(&c, "p", m, "E", 1, NULL, "x", "c3Jj", 5, dlq_id);
    CHECK_STR(arg(&c, "workflowRunId"), "wfr_1");
    size_t cbm_len = 0;
    const char *cbm = NULL;
    for (int i = 0; i + 1 < c.argc; i++)
        if (strcmp(c.argv[i], "cbm") == 0) {
            cbm = c.argv[i + 1];
            cbm_len = c.len[i + 1];
        }
    sf_err err;
    cb = cbm ? sf_message_decode(cbm, cbm_len, &err) : NULL;
    CHECK(cb != NULL);
    b = cb ? body_json(cb) : NULL;
    CHECK_STR(json_string_value(json_object_get(b, "sourceBody")), "c3Jj");
    json_decref(b);
    sf_message_free(cb);
    sf_cmd_cleanup(&c);
    /* Empty body, no source given: the (empty) body itself. */
    cb = sf_callback_job_new(m, "dlq_00ff", NULL, NULL, 42);
    b = cb ? body_json(cb) : NULL;
    CHECK_STR(json_string_value(json_object_get(b, "sourceBody")), "");
    json_decref(b);
    sf_message_free(cb);
    sf_message_free(m);
}

/* A message with an Upstash-Callback template. */
static sf_message *report_sample(int tpl_ctype) {
    sf_message *m = sample();
    free(m->failure_callback);
    m->failure_callback = NULL;
    m->retried = 1;
    m->max_retries = 3;
    m->not_before_ms = 5;
    m->caller_ip = strdup("10.0.0.9");
    sf_message *t = sf_message_new();
    t->id = strdup("tpl");
    t->url = strdup("http://example.test/report");
    t->max_retries = 7;
    t->label = strdup("lbl");
    if (tpl_ctype) sf_headers_add(&t->headers, "Content-Type", "text/x");
    sf_headers_add(&t->headers, "X-Tpl", "1");
    sf_buf env;
    sf_buf_init(&env);
    sf_message_encode(t, &env);
    m->callback_tpl = (unsigned char *)sf_buf_take(&env, &m->callback_tpl_len);
    sf_message_free(t);
    return m;
}

static void test_report(void) {
    sf_message *m = report_sample(0);
    sf_http_response res;
    memset(&res, 0, sizeof(res));
    res.status = 201;
    sf_headers_add(&res.headers, "X-R", "r");
    sf_buf_appends(&res.body, "made");
    sf_err err = {{0}};
    sf_message *r = sf_report_new(m, &res, 1, 77, &err);
    CHECK(r != NULL);
    if (r) {
        CHECK(strncmp(r->id, "msg_", 4) == 0);
        CHECK(strcmp(r->id, m->id) != 0);
        CHECK_INT(r->kind, SF_KIND_MESSAGE);
        CHECK_STR(r->url, "http://example.test/report");
        CHECK_INT(r->max_retries, 7); /* the template's settings */
        CHECK_STR(r->label, "lbl");
        CHECK_INT(r->created_ms, 77);
        CHECK_INT(r->retried, 0);
        CHECK_STR(sf_headers_get(&r->headers, "X-Tpl"), "1");
        CHECK_STR(sf_headers_get(&r->headers, "Content-Type"),
                  "application/json");
        json_t *b = body_json(r);
        CHECK(b != NULL);
        CHECK_INT(json_integer_value(json_object_get(b, "status")), 201);
        CHECK_STR(json_string_value(json_object_get(b, "body")), "bWFkZQ==");
        CHECK_STR(json_string_value(json_array_get(
                      json_object_get(json_object_get(b, "header"), "X-R"), 0)),
                  "r");
        CHECK_INT(json_integer_value(json_object_get(b, "retried")), 1);
        CHECK_INT(json_integer_value(json_object_get(b, "maxRetries")), 3);
        CHECK_STR(json_string_value(json_object_get(b, "sourceMessageId")),
                  "msg_00ff");
        CHECK_STR(json_string_value(json_object_get(b, "url")),
                  "http://example.test/a");
        CHECK_STR(json_string_value(json_object_get(b, "method")), "PUT");
        CHECK_STR(json_string_value(json_object_get(b, "sourceBody")),
                  "aGVsbG8=");
        CHECK_INT(json_array_size(json_object_get(
                      json_object_get(b, "sourceHeader"), "X-A")),
                  2);
        CHECK_INT(json_integer_value(json_object_get(b, "notBefore")), 5);
        CHECK_INT(json_integer_value(json_object_get(b, "createdAt")),
                  1700000000000);
        CHECK_STR(json_string_value(json_object_get(b, "callerIP")),
                  "10.0.0.9");
        CHECK(json_object_get(b, "dlqId") == NULL);
        json_decref(b);
    }
    sf_message_free(r);

    /* No response (status 0); the template's Content-Type is kept. */
    sf_message *m2 = report_sample(1);
    r = sf_report_new(m2, NULL, 3, 77, &err);
    CHECK(r != NULL);
    if (r) {
        CHECK_STR(sf_headers_get(&r->headers, "Content-Type"), "text/x");
        json_t *b = body_json(r);
        CHECK_INT(json_integer_value(json_object_get(b, "status")), 0);
        CHECK_STR(json_string_value(json_object_get(b, "body")), "");
        CHECK_INT(json_integer_value(json_object_get(b, "retried")), 3);
        json_decref(b);
    }
    sf_message_free(r);
    sf_message_free(m2);

    /* The command: KEYS stream; ARGV group entry reportId envelope. */
    sf_queue_keys k;
    sf_keys_queue("p", SF_QUEUE_MSG, &k);
    sf_cmd c;
    char rid[48];
    CHECK_INT(sf_outcome_report_cmd(&c, &k, "9-1", m, &res, 1, 77, rid, &err),
              SF_OK);
    CHECK(c.script == sf_lua_queue_callback);
    CHECK_INT(c.nkeys, 1);
    CHECK_INT(c.argc, 5);
    CHECK_STR(c.argv[0], "p:{msg}:stream");
    CHECK_STR(c.argv[1], "workers");
    CHECK_STR(c.argv[2], "9-1");
    CHECK_STR(c.argv[3], rid);
    r = sf_message_decode(c.argv[4], c.len[4], &err);
    CHECK(r != NULL);
    if (r) CHECK_STR(r->id, rid);
    sf_message_free(r);
    sf_cmd_cleanup(&c);

    /* No template, or one that does not decode: nothing to send. */
    m->callback_tpl_len = 3;
    memcpy(m->callback_tpl, "\xc1\xc1\xc1", 3);
    CHECK(sf_report_new(m, &res, 1, 77, &err) == NULL);
    CHECK_INT(sf_outcome_report_cmd(&c, &k, "9-1", m, &res, 1, 77, rid, &err),
              SF_ERR);
    CHECK_INT(c.argc, 0);
    sf_cmd_cleanup(&c);
    free(m->callback_tpl);
    m->callback_tpl = NULL;
    m->callback_tpl_len = 0;
    CHECK(sf_report_new(m, &res, 1, 77, &err) == NULL);
    sf_message_free(m);
    sf_headers_cleanup(&res.headers);
    sf_buf_cleanup(&res.body);
}

static void test_wf_cmds(void) {
    sf_cmd c;
    sf_outcome_run_state_cmd(&c, "p", "wfr_1");
    CHECK(c.script == NULL);
    CHECK_INT(c.argc, 3);
    CHECK_STR(c.argv[0], "HGET");
    CHECK_STR(c.argv[1], "p:{wf}:run:wfr_1");
    CHECK_STR(c.argv[2], "state");
    sf_cmd_cleanup(&c);

    sf_outcome_wf_initial_cmd(&c, "p", "wfr_1");
    CHECK_INT(c.argc, 3);
    CHECK_STR(c.argv[0], "LINDEX");
    CHECK_STR(c.argv[1], "p:{wf}:steps:wfr_1");
    CHECK_STR(c.argv[2], "0");
    sf_cmd_cleanup(&c);

    sf_outcome_wf_fail_cmd(&c, "p", "wfr_1", "dlq_7", 99);
    CHECK(c.script == sf_lua_wf_fail);
    CHECK_INT(c.nkeys, 3);
    CHECK_INT(c.argc, 6);
    CHECK_STR(c.argv[0], "p:{wf}:run:wfr_1");
    CHECK_STR(c.argv[1], "p:{wf}:failed");
    CHECK_STR(c.argv[2], "p:{wf}:running");
    CHECK_STR(c.argv[3], "wfr_1");
    CHECK_STR(c.argv[4], "dlq_7");
    CHECK_STR(c.argv[5], "99");
    sf_cmd_cleanup(&c);

    sf_message *m = wf_sample();
    sf_outcome_wf_next_del_cmd(&c, "p", m);
    CHECK_INT(c.argc, 3);
    CHECK_STR(c.argv[0], "HDEL");
    CHECK_STR(c.argv[1], "p:{wf}:next:wfr_1");
    CHECK_STR(c.argv[2], "msg_00ff");
    sf_cmd_cleanup(&c);

    sf_http_response res;
    memset(&res, 0, sizeof(res));
    res.status = 500;
    sf_headers_add(&res.headers, "X-E", "e");
    sf_buf_appends(&res.body, "bad");
    sf_outcome_wf_next_cmd(&c, "p", m, "STEP_RETRY", &res, 1234);
    CHECK(c.script == sf_lua_wf_next);
    CHECK_INT(c.nkeys, 2);
    CHECK_INT(c.argc, 8);
    CHECK_STR(c.argv[7], "");
    CHECK_STR(c.argv[0], "p:{wf}:next:wfr_1");
    CHECK_STR(c.argv[1], "p:{wf}:run:wfr_1");
    CHECK_STR(c.argv[2], "msg_00ff");
    CHECK_STR(c.argv[3], "STEP_RETRY");
    CHECK_STR(c.argv[4], "{\"error\":\"HTTP 500\",\"body\":\"bad\",\"headers\":"
                         "{\"X-E\":[\"e\"]},\"status\":500,\"time\":1234}");
    CHECK_STR(c.argv[5], "2");
    CHECK_STR(c.argv[6], "1234");
    sf_cmd_cleanup(&c);
    /* serve() names the step that threw */
    sf_headers_add(&res.headers, "Upstash-Error-Step-Name", "broken-step");
    sf_outcome_wf_next_cmd(&c, "p", m, "STEP_RETRY", &res, 1234);
    CHECK_STR(c.argv[7], "broken-step");
    sf_cmd_cleanup(&c);
    sf_message_free(m);

    /* Transport error; no response at all. */
    res.status = 0;
    snprintf(res.error, sizeof(res.error), "timeout");
    char *j = sf_wf_step_error_json(&res, 5);
    json_error_t je;
    json_t *o = json_loads(j, 0, &je);
    CHECK_STR(json_string_value(json_object_get(o, "error")), "timeout");
    CHECK_INT(json_integer_value(json_object_get(o, "status")), 0);
    json_decref(o);
    free(j);
    j = sf_wf_step_error_json(NULL, 5);
    CHECK_STR(j, "{\"error\":\"no response\",\"body\":\"\",\"headers\":{},"
                 "\"status\":0,\"time\":5}");
    free(j);
    /* The body is cut to SF_WF_ERROR_BODY bytes, at a UTF-8 boundary. */
    sf_buf_cleanup(&res.body);
    sf_buf_appends(&res.body, "a");
    for (int i = 0; i < 600; i++)
        sf_buf_appends(&res.body, "\xc3\xa9"); /* e-acute, 2 bytes */
    j = sf_wf_step_error_json(&res, 5);
    o = json_loads(j, 0, &je);
    const char *body = json_string_value(json_object_get(o, "body"));
    CHECK(body != NULL);
    if (body) CHECK_INT(strlen(body), SF_WF_ERROR_BODY - 1);
    json_decref(o);
    free(j);
    sf_headers_cleanup(&res.headers);
    sf_buf_cleanup(&res.body);
}

TEST_MAIN(T(test_dlq_id), T(test_headers_json), T(test_callback_job),
          T(test_dlq_cmd), T(test_malformed_cmd), T(test_retry_and_result_cmds),
          T(test_wf_helpers), T(test_wf_failure_callback), T(test_report),
          T(test_wf_cmds))
