/* test_cli_output.c - the CLI's formatting (coordinator/cli/output.c) on
 * canned and hostile JSON.  The CLI is an executable, not a library, so
 * the module's source is compiled into this test directly. */
#include <jansson.h>
#include <stdlib.h>

#include "output.h"

#include "harness.h"

static char *capture(void (*fn)(FILE *, const json_t *), const json_t *v) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    fn(f, v);
    fclose(f);
    return buf;
}

static void test_iso8601(void) {
    char b[40];
    CHECK_STR(sf_out_iso8601(0, b, sizeof(b)), "-");
    CHECK_STR(sf_out_iso8601(-5, b, sizeof(b)), "-");
    CHECK_STR(sf_out_iso8601(1714564800123, b, sizeof(b)),
              "2024-05-01T12:00:00.123Z");
    CHECK_STR(sf_out_iso8601(INT64_MAX, b, sizeof(b)), "9223372036854775807");
}

static void test_clip(void) {
    char b[64];
    CHECK_STR(sf_out_clip("short", 10, b, sizeof(b)), "short");
    CHECK_STR(sf_out_clip("abcdefghijkl", 5, b, sizeof(b)), "abcde...");
    CHECK_STR(sf_out_clip("a\nb\tc", 10, b, sizeof(b)), "a\\nb c");
    CHECK_STR(sf_out_clip(NULL, 10, b, sizeof(b)), "-");
    /* Multi-byte characters count once and are never cut in half. */
    CHECK_STR(sf_out_clip("\xc3\xa9\xc3\xa9\xc3\xa9", 2, b, sizeof(b)),
              "\xc3\xa9...");
    /* A tiny buffer bounds the bytes whatever max_chars says. */
    char small[8];
    sf_out_clip("\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80", 100, small,
                sizeof(small));
    CHECK(strlen(small) < sizeof(small));
    CHECK(strcmp(small + strlen(small) - 3, "...") == 0);
}

static void test_json_i64(void) {
    int64_t v = 0;
    json_t *j = json_loads("[12, \"34\", 5.0, \"x\", null, true]", 0, NULL);
    CHECK_INT(sf_out_json_i64(json_array_get(j, 0), &v), 0);
    CHECK_INT(v, 12);
    CHECK_INT(sf_out_json_i64(json_array_get(j, 1), &v), 0);
    CHECK_INT(v, 34);
    CHECK_INT(sf_out_json_i64(json_array_get(j, 2), &v), 0);
    CHECK_INT(v, 5);
    CHECK_INT(sf_out_json_i64(json_array_get(j, 3), &v), -1);
    CHECK_INT(sf_out_json_i64(json_array_get(j, 4), &v), -1);
    CHECK_INT(sf_out_json_i64(json_array_get(j, 5), &v), -1);
    CHECK_INT(sf_out_json_i64(NULL, &v), -1);
    json_decref(j);
}

static void test_table(void) {
    json_t *j = json_loads(
        "[{\"dlqId\":\"dlq_1\",\"messageId\":\"msg_1\",\"url\":\"https://a.example/"
        "0123456789012345678901234567890123456789012345678901234567890\","
        "\"responseStatus\":500,\"dlqAt\":1714564800123,"
        "\"failureCallbackInfo\":{\"state\":\"CALLBACK_FAIL\"}},"
        "{\"dlqId\":\"dlq_22\",\"messageId\":7,\"url\":null,\"dlqAt\":\"x\"},"
        "42]",
        0, NULL);
    char *out = capture(sf_out_dlq_table, j);
    CHECK(strstr(out, "DLQ ID  MESSAGE ID  URL") == out);
    CHECK(strstr(out, "dlq_1   msg_1       https://a.example/") != NULL);
    CHECK(strstr(out, "...  500     CALLBACK_FAIL  2024-05-01T12:00:00.123Z\n"));
    /* Wrong types and a non-object row print as "-", never crash. */
    CHECK(strstr(out, "dlq_22  -") != NULL);
    CHECK(strstr(out, "\n-       -") != NULL);
    free(out);
    json_decref(j);

    json_t *empty = json_array();
    out = capture(sf_out_dlq_table, empty);
    CHECK_STR(out, "no DLQ entries\n");
    free(out);
    json_decref(empty);
    out = capture(sf_out_dlq_table, NULL);
    CHECK_STR(out, "no DLQ entries\n");
    free(out);
}

static void test_entry(void) {
    json_t *j = json_loads(
        "{\"dlqId\":\"dlq_1\",\"reason\":\"retries exhausted\","
        "\"responseStatus\":503,\"responseBody\":\"line1\\nline2\","
        "\"bodyBase64\":\"AAEC\","
        "\"attempts\":[{\"at\":1714564800000,\"status\":500,\"latencyMs\":3},"
        "{\"at\":1714564801000,\"status\":0,\"latencyMs\":30000,"
        "\"error\":\"timeout\"}, 5],"
        "\"failureCallback\":\"https://cb\","
        "\"failureCallbackInfo\":{\"state\":\"CALLBACK_SUCCESS\","
        "\"responseStatus\":200,\"responseBody\":\"ok\"}}",
        0, NULL);
    char *out = capture(sf_out_dlq_entry, j);
    CHECK(strstr(out, "dlqId:                   dlq_1\n") != NULL);
    CHECK(strstr(out, "reason:                  retries exhausted\n") != NULL);
    CHECK(strstr(out, "responseBody:            line1\\nline2\n") != NULL);
    CHECK(strstr(out, "body: (base64)           AAEC\n") != NULL);
    CHECK(strstr(out, "attempts:                3\n") != NULL);
    CHECK(strstr(out, "  #1   2024-05-01T12:00:00.000Z  status 500  3 ms\n"));
    CHECK(strstr(out, "status 0  30000 ms  error timeout\n") != NULL);
    CHECK(strstr(out, "  #3   -  status -  - ms\n") != NULL);
    CHECK(strstr(out, "callback state:          CALLBACK_SUCCESS\n") != NULL);
    CHECK(strstr(out, "callback responseBody:   ok\n") != NULL);
    free(out);
    json_decref(j);

    json_t *s = json_string("not an object");
    out = capture(sf_out_dlq_entry, s);
    CHECK(strstr(out, "unexpected reply") != NULL);
    free(out);
    json_decref(s);
}

TEST_MAIN(T(test_iso8601), T(test_clip), T(test_json_i64), T(test_table),
          T(test_entry))
