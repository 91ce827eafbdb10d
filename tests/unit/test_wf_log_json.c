/* test_wf_log_json.c - a run as the SDK's WorkflowRunLog JSON. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "util.h"
#include "wf_log_json.h"

/* One steps-list item with "body" as the base64 of "raw". */
static char *item(const char *msg, const char *raw, long long at) {
    char *b = sf_base64_encode(raw, strlen(raw));
    json_t *o = json_pack("{s:s,s:s,s:s,s:I}", "messageId", msg, "body", b, "callType", "step",
                          "createdAt", (json_int_t)at);
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    free(b);
    return s;
}

static const char *str_at(json_t *o, const char *path1, size_t i, const char *key) {
    json_t *g = json_array_get(json_object_get(o, "steps"), i);
    json_t *s = json_array_get(json_object_get(g, "steps"), 0);
    return json_string_value(json_object_get(path1 ? g : s, path1 ? path1 : key));
}

static void test_steps_grouped(void) {
    const char *raw[] = {
        "{\"a\":1}",
        "{\"stepId\":1,\"stepName\":\"one\",\"stepType\":\"Run\",\"out\":\"\\\"1\\\"\",\"concurrent\":1}",
        "{\"stepId\":0,\"stepName\":\"p\",\"stepType\":\"Run\",\"concurrent\":2,\"targetStep\":2}",
        "{\"stepId\":2,\"stepName\":\"p\",\"stepType\":\"Run\",\"out\":\"a\",\"concurrent\":2}",
        "{\"stepId\":3,\"stepName\":\"q\",\"stepType\":\"Run\",\"out\":\"b\",\"concurrent\":2}",
        "{\"stepId\":4,\"stepName\":\"r\",\"stepType\":\"Run\",\"out\":\"c\",\"concurrent\":2}",
        "{\"stepId\":5,\"stepName\":\"s\",\"stepType\":\"Run\",\"out\":\"d\",\"concurrent\":2}",
        "not json",
    };
    char *items[8];
    size_t lens[8];
    for (int i = 0; i < 8; i++) {
        char msg[16];
        snprintf(msg, sizeof(msg), "msg_%d", i);
        items[i] = item(msg, raw[i], 100 + i);
        lens[i] = strlen(items[i]);
    }
    const char *next[] = {"{\"messageId\":\"m2\",\"state\":\"STEP_RETRY\",\"createdAt\":9,\"errors\":{}}",
                          "{\"messageId\":\"m1\",\"state\":\"STEP_PROGRESS\",\"createdAt\":3}",
                          "garbage"};
    size_t nlens[] = {strlen(next[0]), strlen(next[1]), strlen(next[2])};
    sf_wf_run_view v = {.run_id = "wfr_1", .url = "https://x/wf", .state = "RUN_STARTED",
                        .created_ms = 100, .retries = 2, .label = "a,b"};
    json_t *o = sf_wf_run_log_json(&v, NULL, 0, (const char *const *)items, lens, 8,
                                   next, nlens, 3, NULL);
    CHECK(o != NULL);
    json_t *groups = json_object_get(o, "steps");
    CHECK_INT(json_array_size(groups), 5);
    CHECK_STR(str_at(o, "type", 0, NULL), "sequential");
    CHECK_STR(str_at(o, NULL, 0, "stepName"), "init");
    CHECK_STR(str_at(o, NULL, 0, "out"), "{\"a\":1}");
    CHECK_STR(str_at(o, NULL, 0, "messageId"), "msg_0");
    CHECK_STR(str_at(o, NULL, 1, "out"), "\"1\"");
    CHECK_STR(str_at(o, NULL, 1, "state"), "STEP_SUCCESS");
    /* four results with concurrent 2: two parallel groups of two */
    CHECK_STR(str_at(o, "type", 2, NULL), "parallel");
    CHECK_STR(str_at(o, "type", 3, NULL), "parallel");
    CHECK_INT(json_array_size(json_object_get(json_array_get(groups, 2), "steps")), 2);
    CHECK_STR(str_at(o, NULL, 3, "stepName"), "r");
    CHECK_STR(str_at(o, "type", 4, NULL), "next");
    json_t *ns = json_object_get(json_array_get(groups, 4), "steps");
    CHECK_INT(json_array_size(ns), 2);
    CHECK_STR(json_string_value(json_object_get(json_array_get(ns, 0), "messageId")), "m1");
    CHECK(json_is_array(json_object_get(json_array_get(ns, 1), "errors")));
    json_t *one = json_array_get(json_object_get(json_array_get(groups, 1), "steps"), 0);
    CHECK_INT(json_integer_value(json_object_get(one, "retries")), 2);
    CHECK_INT(json_integer_value(json_object_get(one, "createdAt")), 101);
    CHECK(json_object_get(one, "targetStep") == NULL);
    CHECK_STR(json_string_value(json_object_get(o, "label")), "a");
    CHECK_INT(json_array_size(json_object_get(o, "labels")), 2);
    CHECK(json_object_get(o, "workflowRunCompletedAt") == NULL);
    json_decref(o);

    /* finished: response shown, no next group */
    v.state = "RUN_SUCCESS";
    v.completed_ms = 555;
    o = sf_wf_run_log_json(&v, "\"r\"", 3, (const char *const *)items, lens, 2, next, nlens, 2,
                           NULL);
    CHECK_INT(json_array_size(json_object_get(o, "steps")), 2);
    CHECK_STR(json_string_value(json_object_get(o, "workflowRunResponse")), "\"r\"");
    CHECK_INT(json_integer_value(json_object_get(o, "workflowRunCompletedAt")), 555);
    json_decref(o);
    for (int i = 0; i < 8; i++) free(items[i]);
}

static void test_failure(void) {
    const char *f[] = {"dlqId", "failureCallback", "callbackState", "responseStatus",
                       "responseBody", "responseHeader", "callbackResponseStatus",
                       "callbackResponseBody", "callbackMessageId", "callbackUpdatedAt"};
    const char *v[] = {"dlq_1", "https://x/fail", "CALLBACK_FAIL", "500", "boom",
                       "{\"A\":[\"1\"]}", "503", "ff", "msg_cb", "77"};
    size_t fl[10], vl[10];
    for (int i = 0; i < 10; i++) fl[i] = strlen(f[i]), vl[i] = strlen(v[i]);
    json_t *o = sf_wf_failure_json(f, fl, v, vl, 10);
    CHECK(o != NULL);
    CHECK_STR(json_string_value(json_object_get(o, "messageId")), "msg_cb");
    CHECK_STR(json_string_value(json_object_get(o, "url")), "https://x/fail");
    CHECK_STR(json_string_value(json_object_get(o, "state")), "CALLBACK_FAIL");
    CHECK_INT(json_integer_value(json_object_get(o, "failStatus")), 500);
    CHECK_STR(json_string_value(json_object_get(o, "failResponse")), "boom");
    CHECK(json_is_array(json_object_get(json_object_get(o, "failHeaders"), "A")));
    CHECK_INT(json_integer_value(json_object_get(o, "responseStatus")), 503);
    json_t *e = json_array_get(json_object_get(o, "errors"), 0);
    CHECK_STR(json_string_value(json_object_get(e, "error")), "HTTP 503");
    CHECK_INT(json_integer_value(json_object_get(e, "time")), 77);
    json_decref(o);

    /* a successful callback has no errors; no callback, no section */
    v[6] = "200";
    vl[6] = 3;
    o = sf_wf_failure_json(f, fl, v, vl, 10);
    CHECK(json_object_get(o, "errors") == NULL);
    json_decref(o);
    CHECK(sf_wf_failure_json(f, fl, v, vl, 1) == NULL);
}

TEST_MAIN(T(test_steps_grouped), T(test_failure))
