/* test_outcome.c - the worker's outcome builders (worker/outcome.c): DLQ
 * ids, header JSON, the failure-callback job and the dlq_add.lua /
 * queue_retry.lua / cb_result.lua argument lists.  Pure: no Redis. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "cmd.h"
#include "lua.h"
#include "outcome.h"

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
    sf_message *cb = sf_callback_job_new(m, "dlq_00ff", &res, 42);
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
        json_decref(b);
    }
    sf_message_free(cb);
    m->cb_max_retries = 5;
    free(m->failure_callback);
    m->failure_callback = NULL;
    CHECK(sf_callback_job_new(m, "dlq_00ff", &res, 42) == NULL);
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
    sf_outcome_dlq_cmd(&c, "pfx", m, "ENV", 3, &res, "retries exhausted", 99,
                       dlq_id);
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
    sf_outcome_dlq_cmd(&c, "pfx", m, "ENV", 3, NULL, "x", 99, dlq_id);
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
    CHECK_INT(c.argc, 10);
    CHECK_STR(c.argv[0], "p:{dlq}:entry:dlq_9");
    CHECK_STR(c.argv[3], "4");
    CHECK_STR(c.argv[4], "fail");
    CHECK_STR(c.argv[5], "0");
    CHECK_STR(c.argv[6], "{}");
    CHECK_STR(c.argv[8], "3");
    sf_cmd_cleanup(&c);
    sf_message_free(job);
}

TEST_MAIN(T(test_dlq_id), T(test_headers_json), T(test_callback_job),
          T(test_dlq_cmd), T(test_malformed_cmd), T(test_retry_and_result_cmds))
