/* test_cli_output.c - the CLI's formatting and input parsing
 * (coordinator/cli/output.c) on canned and hostile JSON and strings.  The
 * CLI is an executable, not a library, so the module's source is compiled
 * into this test directly. */
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

static void stats_10(FILE *f, const json_t *v) { sf_out_stats(f, v, 3); }

static void test_iso8601(void) {
    char b[40];
    CHECK_STR(sf_out_iso8601(0, b, sizeof(b)), "-");
    CHECK_STR(sf_out_iso8601(-5, b, sizeof(b)), "-");
    CHECK_STR(sf_out_iso8601(1714564800123, b, sizeof(b)),
              "2024-05-01T12:00:00.123Z");
    CHECK_STR(sf_out_iso8601(INT64_MAX, b, sizeof(b)), "9223372036854775807");
}

static void test_duration(void) {
    char b[24];
    CHECK_STR(sf_out_duration(-1, b, sizeof(b)), "-");
    CHECK_STR(sf_out_duration(0, b, sizeof(b)), "0ms");
    CHECK_STR(sf_out_duration(999, b, sizeof(b)), "999ms");
    CHECK_STR(sf_out_duration(4250, b, sizeof(b)), "4.2s");
    CHECK_STR(sf_out_duration(42000, b, sizeof(b)), "42s");
    CHECK_STR(sf_out_duration(185000, b, sizeof(b)), "3m05s");
    CHECK_STR(sf_out_duration(7380000, b, sizeof(b)), "2h03m");
    CHECK_STR(sf_out_duration(273600000, b, sizeof(b)), "3d04h");
    CHECK_STR(sf_out_duration(INT64_MAX, b, sizeof(b)), "106751991167d07h");
}

static void test_parse_time(void) {
    static const struct {
        const char *in;
        int64_t ms;
    } good[] = {
        {"1714564800123", 1714564800123LL},
        {"2024-05-01", 1714521600000LL},
        {"2024-05-01T12:00:00.123Z", 1714564800123LL},
        {"2024-05-01 12:00", 1714564800000LL},
        {"2024-05-01T14:00:00+02:00", 1714564800000LL},
        {"2024-05-01T07:30:00-0430", 1714564800000LL},
        {"2024-05-01T12:00:00.1Z", 1714564800100LL},
        {"2024-05-01T12:00:00,123456789Z", 1714564800123LL},
        {"2024-02-29", 1709164800000LL}, /* leap year */
        {"1970-01-01T00:00:00Z", 0},
    };
    int64_t ms = -1;
    const char *why = NULL;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        ms = -1;
        if (sf_out_parse_time(good[i].in, &ms, &why) != 0 ||
            ms != good[i].ms)
            fprintf(stderr, "  input: '%s'\n", good[i].in);
        CHECK_INT(sf_out_parse_time(good[i].in, &ms, &why), 0);
        CHECK_INT(ms, good[i].ms);
    }
    /* Refused, "ms" untouched. */
    ms = 42;
    const char *bad[] = {"", "-5", "1e3", "12ab", "2024-", "2024-5-01",
                         "2023-02-29", "2024-13-01", "2024-00-10",
                         "2024-04-31", "2024-05-01T24:00", "2024-05-01T12",
                         "2024-05-01T12:60", "2024-05-01T12:00:61",
                         "2024-05-01T12:00:00.", "2024-05-01T12:00Zjunk",
                         "2024-05-01T12:00+25:00", "1969-12-31",
                         "9999999999999999", "2024-05-01T12:00:00.1234567890Z",
                         /* numbers that are not 13-digit milliseconds:
                          * never a moment of 1970 */
                         "0", "2024", "20240501", "1714564800",
                         "171456480012", "17145648001234"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (sf_out_parse_time(bad[i], &ms, NULL) != -1)
            fprintf(stderr, "  accepted: '%s'\n", bad[i]);
        CHECK_INT(sf_out_parse_time(bad[i], &ms, NULL), -1);
    }
    CHECK_INT(sf_out_parse_time(NULL, &ms, NULL), -1);
    CHECK_INT(ms, 42);
    /* The hint says what was probably meant. */
    sf_out_parse_time("20240501", &ms, &why);
    CHECK(strstr(why, "YYYY-MM-DD") != NULL);
    sf_out_parse_time("2024", &ms, &why);
    CHECK(strstr(why, "a year alone") != NULL);
    sf_out_parse_time("1714564800", &ms, &why);
    CHECK(strstr(why, "seconds") != NULL);
    sf_out_parse_time("yesterday", &ms, &why);
    CHECK(strstr(why, "13 digits") != NULL && strstr(why, "ISO 8601") != NULL);
}

static void test_clip(void) {
    char b[64];
    CHECK_STR(sf_out_clip("short", 10, b, sizeof(b)), "short");
    CHECK_STR(sf_out_clip("abcdefghijkl", 5, b, sizeof(b)), "abcde...");
    CHECK_STR(sf_out_clip("a\nb\tc", 10, b, sizeof(b)), "a\\nb c");
    CHECK_STR(sf_out_clip(NULL, 10, b, sizeof(b)), "-");
    /* Multi-byte characters count once and are never cut in half. */
    CHECK_STR(sf_out_clip("\xc3\xa9\xc3\xa9\xc3\xa9", 2, b, sizeof(b)),
              "\xc3\xa9\xc3\xa9...");
    /* A tiny buffer bounds the bytes whatever max_chars says. */
    char small[8];
    sf_out_clip("\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80", 100, small,
                sizeof(small));
    CHECK(strlen(small) < sizeof(small));
    CHECK(strcmp(small + strlen(small) - 3, "...") == 0);
    /* Nothing a terminal acts on gets through: ESC (C0), CSI as a C1
     * control in UTF-8 (U+009B), DEL, a bidi override; bytes that are not
     * UTF-8 show as \xNN (and count as 4 characters). */
    CHECK_STR(sf_out_clip("a\x1b[31mred\x1b]0;title\x07", 40, b, sizeof(b)),
              "a [31mred ]0;title ");
    CHECK_STR(sf_out_clip("x\xc2\x9b" "2Jy\x7f\xe2\x80\xaez", 40, b, sizeof(b)),
              "x 2Jy  z");
    CHECK_STR(sf_out_clip("bad\xff\xc3(\xed\xa0\x80!", 40, b, sizeof(b)),
              "bad\\xff\\xc3(\\xed\\xa0\\x80!");
    CHECK_STR(sf_out_clip("ab\xff\xff" "cd", 7, b, sizeof(b)), "ab\\xff...");
    /* A UTF-8 sequence cut short by the end of the string. */
    CHECK_STR(sf_out_clip("e\xc3", 10, b, sizeof(b)), "e\\xc3");
    char *c = sf_out_clean("line\n\x1b[2J\xc3\xa9");
    CHECK_STR(c, "line\\n [2J\xc3\xa9");
    free(c);
    c = sf_out_escape_bytes("k\xff\0z\xc3\xa9", 6);
    CHECK_STR(c, "k\\xff\\x00z\xc3\xa9");
    free(c);
}

static void test_shell_word(void) {
    const char *cases[][2] = {
        {"XLEN", "XLEN"},
        {"stepflow:signing-keys", "stepflow:signing-keys"},
        {"+inf", "+inf"},
        {"-", "-"},
        {"stepflow:{msg}:stream", "'stepflow:{msg}:stream'"},
        {"a b", "'a b'"},
        {"it's", "'it'\\''s'"},
        {"$HOME", "'$HOME'"},
        {"p:{msg}:fc:conf:*", "'p:{msg}:fc:conf:*'"},
        {"", "''"},
        /* zsh: ^ (history, extended glob) and a leading = (=cmd) */
        {"a^b", "'a^b'"},
        {"=ls", "'=ls'"},
        {"k=v", "k=v"},
        {"~root", "'~root'"},
        {"caf\xc3\xa9", "'caf\xc3\xa9'"},
        /* bytes a terminal acts on, or not UTF-8: $'...' with \xNN */
        {"a\x1b[2Jb", "$'a\\x1b[2Jb'"},
        {"k\xff'\\", "$'k\\xff\\'\\\\'"},
        {"line\nnext", "$'line\\x0anext'"},
        {"\xc2\x9b", "$'\\xc2\\x9b'"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *w = sf_out_shell_word(cases[i][0]);
        CHECK_STR(w, cases[i][1]);
        free(w);
    }
    /* binary-safe: a NUL inside is quoted too (a shell cannot pass it) */
    char *w = sf_out_shell_wordn("a\0b", 3);
    CHECK_STR(w, "$'a\\x00b'");
    free(w);
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

static void test_generic_table(void) {
    static const sf_out_col cols[] = {{"NAME", 0}, {"N", 1}, {"NOTE", 0}};
    sf_out_table *t = sf_out_table_new(cols, 3);
    const char *r1[] = {"\xc3\xa9t\xc3\xa9", "7", "x"};
    const char *r2[] = {"longer-name", "1234", NULL};
    const char *r3[] = {"a\nb", "", "last"};
    CHECK_INT(sf_out_table_add(t, r1), 0);
    CHECK_INT(sf_out_table_add(t, r2), 0);
    CHECK_INT(sf_out_table_add(t, r3), 0);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    sf_out_table_print(f, t, 2);
    fclose(f);
    /* Widths in characters (é is one), numbers to the right, "-" for
     * empty cells, no trailing spaces, control characters escaped. */
    CHECK_STR(buf, "  NAME            N  NOTE\n"
                   "  \xc3\xa9t\xc3\xa9             7  x\n"
                   "  longer-name  1234  -\n"
                   "  a\\nb            -  last\n");
    free(buf);
    sf_out_table_free(t);
    sf_out_table_free(NULL);
}

static void test_dlq_table(void) {
    json_t *j = json_loads(
        "[{\"dlqId\":\"dlq_1\",\"messageId\":\"msg_1\",\"url\":\"https://a.example/"
        "0123456789012345678901234567890123456789012345678901234567890\","
        "\"responseStatus\":500,\"dlqAt\":1714564800123,\"labels\":[\"a\",\"b\"],"
        "\"workflowRunId\":\"wfr_9\","
        "\"failureCallbackInfo\":{\"state\":\"CALLBACK_FAIL\"}},"
        "{\"dlqId\":\"dlq_22\",\"messageId\":7,\"url\":null,\"dlqAt\":\"x\","
        "\"label\":\"solo\"},"
        "42]",
        0, NULL);
    char *out = capture(sf_out_dlq_table, j);
    CHECK(strstr(out, "DLQ ID  MESSAGE ID  URL") == out);
    CHECK(strstr(out, "  CALLBACK       LABEL  RUN ID  DLQ TIME\n") != NULL);
    CHECK(strstr(out, "dlq_1   msg_1       https://a.example/") != NULL);
    CHECK(strstr(out, "...     500  CALLBACK_FAIL  a,b    wfr_9   "
                      "2024-05-01T12:00:00.123Z\n") != NULL);
    /* Wrong types and a non-object row print as "-", never crash; no
     * failure callback is NONE, as the API's filter and the dashboard
     * call it. */
    CHECK(strstr(out, "dlq_22  -") != NULL);
    CHECK(strstr(out, "solo") != NULL);
    CHECK(strstr(out, "  NONE           solo") != NULL);
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
        "\"labels\":[\"ok\",\"\\u001b]0;pwned\\u0007\\u009b2J\"],"
        "\"responseStatus\":503,\"responseBody\":\"line1\\nline2\","
        "\"bodyBase64\":\"AAEC\","
        "\"attempts\":[{\"at\":1714564800000,\"status\":500,\"latencyMs\":3},"
        "{\"at\":1714564801000,\"status\":0,\"latencyMs\":30000,"
        "\"error\":\"timeout\"}, 5],"
        "\"failureCallback\":\"https://cb\","
        "\"failureCallbackInfo\":{\"state\":\"CALLBACK_SUCCESS\","
        "\"responseStatus\":200,\"responseBody\":\"ok\",\"attempts\":3,"
        "\"errors\":[{\"time\":1714564802000,\"status\":500,"
        "\"error\":\"HTTP 500\",\"body\":\"down\\u001b[2J\\nagain\"},"
        "{\"time\":1714564803000,\"status\":0,\"error\":\"timeout\"}]}}",
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
    CHECK(strstr(out, "callback attempts:       3\n") != NULL);
    CHECK(strstr(out, "callback responseBody:   ok\n") != NULL);
    /* the callback's errors per attempt, bodies clipped and made safe */
    CHECK(strstr(out, "callback errors:         2\n"
                      "  #1   2024-05-01T12:00:02.000Z  status 500  error "
                      "HTTP 500  body down [2J\\nagain\n"
                      "  #2   2024-05-01T12:00:03.000Z  status 0  error "
                      "timeout\n") != NULL);
    /* a label cannot reach the terminal's escape sequences */
    CHECK(strstr(out, "label:                   ok, ]0;pwned  2J\n") != NULL);
    CHECK(strchr(out, 0x1b) == NULL && strstr(out, "\xc2\x9b") == NULL);
    free(out);
    json_decref(j);

    /* no failure callback: NONE, no callback lines */
    j = json_loads("{\"dlqId\":\"dlq_2\"}", 0, NULL);
    out = capture(sf_out_dlq_entry, j);
    CHECK(strstr(out, "callback state:          NONE\n") != NULL);
    CHECK(strstr(out, "callback errors:") == NULL);
    free(out);
    json_decref(j);

    json_t *s = json_string("not an object");
    out = capture(sf_out_dlq_entry, s);
    CHECK(strstr(out, "unexpected reply") != NULL);
    free(out);
    json_decref(s);
}

/* A WorkflowRunLog as the logs API returns it. */
static const char *run_json =
    "{\"workflowRunId\":\"wfr_1\",\"workflowUrl\":\"http://app/wf\","
    "\"workflowState\":\"RUN_FAILED\",\"workflowRunCreatedAt\":1714564800000,"
    "\"workflowRunCompletedAt\":1714564804250,\"dlqId\":\"dlq_7\","
    "\"label\":\"l1\",\"labels\":[\"l1\"],"
    "\"steps\":["
    "{\"type\":\"sequential\",\"steps\":[{\"stepId\":0,\"stepName\":\"init\","
    "\"stepType\":\"Initial\",\"state\":\"STEP_SUCCESS\","
    "\"createdAt\":1714564800000,\"out\":\"{\\\"tag\\\":1}\"}]},"
    "{\"type\":\"parallel\",\"steps\":[{\"stepId\":1,\"stepName\":\"a\","
    "\"stepType\":\"Run\",\"state\":\"STEP_SUCCESS\",\"out\":{\"x\":[1,2]}},"
    "{\"stepId\":2,\"stepName\":\"b\",\"stepType\":\"Run\","
    "\"state\":\"STEP_SUCCESS\",\"out\":\"two\"}]},"
    "{\"type\":\"next\",\"steps\":[{\"messageId\":\"msg_n\","
    "\"stepName\":\"c\",\"state\":\"STEP_FAILED\",\"retries\":2,"
    "\"errors\":[{\"status\":500,\"error\":\"first\"},"
    "{\"status\":503,\"error\":\"boom\\nline\"}]},"
    "{\"messageId\":\"msg_f\",\"stepName\":\"d\",\"state\":\"STEP_RETRY\","
    "\"retries\":0}]}],"
    "\"failureFunction\":{\"state\":\"CALLBACK_FAIL\",\"url\":\"http://app/wf\","
    "\"failStatus\":503,\"failResponse\":\"boom\"}}";

static void test_runs(void) {
    json_t *r = json_loads(run_json, 0, NULL);
    json_t *arr = json_pack("[O,{s:s},i]", r, "workflowRunId", "wfr_2");
    char *out = capture(sf_out_runs_table, arr);
    CHECK(strstr(out, "RUN ID  STATE       WORKFLOW URL   CREATED") == out);
    CHECK(strstr(out, "  DURATION  STEPS DONE  LABEL\n") != NULL);
    /* two finished steps (the init payload and the failed delivery of the
     * "next" group do not count, as on the dashboard) */
    CHECK(strstr(out, "wfr_1   RUN_FAILED  http://app/wf "
                      " 2024-05-01T12:00:00.000Z      4.2s           2  l1\n") !=
          NULL);
    CHECK(strstr(out, "wfr_2   -") != NULL);
    free(out);
    json_decref(arr);

    out = capture(sf_out_run, r);
    CHECK(strstr(out, "workflowRunId:           wfr_1\n") != NULL);
    CHECK(strstr(out, "state:                   RUN_FAILED\n") != NULL);
    CHECK(strstr(out, "duration:                4.2s\n") != NULL);
    CHECK(strstr(out, "dlqId:                   dlq_7\n") != NULL);
    CHECK(strstr(out, "  #  GROUP       STEP  TYPE     STATE         CREATED") !=
          NULL);
    CHECK(strstr(out, "  0  sequential  init  Initial  STEP_SUCCESS  "
                      "2024-05-01T12:00:00.000Z  {\"tag\":1}\n") != NULL);
    CHECK(strstr(out, "  1  parallel    a     Run      STEP_SUCCESS  -"
                      "                         {\"x\":[1,2]}\n") != NULL);
    /* a STEP_FAILED delivery is a failed one, not one in flight */
    CHECK(strstr(out, "failed deliveries:\n  MESSAGE ID  STEP  STATE        "
                      "RETRIES  LAST ERROR\n  msg_n       c     STEP_FAILED  "
                      "      2  status 503: boom\\nline\n") != NULL);
    CHECK(strstr(out, "in flight:\n  MESSAGE ID  STEP  STATE       RETRIES  "
                      "LAST ERROR\n  msg_f       d     STEP_RETRY        0  -\n")
          != NULL);
    CHECK(strstr(out, "failure function:\n  state:                 "
                      "CALLBACK_FAIL\n") != NULL);
    free(out);
    json_decref(r);

    out = capture(sf_out_runs_table, NULL);
    CHECK_STR(out, "no workflow runs\n");
    free(out);
    json_t *junk = json_loads("{\"steps\":[1,{\"type\":7,\"steps\":\"x\"},"
                              "{\"type\":\"next\",\"steps\":[null]}]}",
                              0, NULL);
    out = capture(sf_out_run, junk);
    CHECK(strstr(out, "none recorded") != NULL);
    free(out);
    json_decref(junk);
}

static void test_stats(void) {
    json_t *s = json_loads(
        "{\"time\":1714564860000,"
        "\"queues\":{\"messages\":{\"length\":12,\"backlog\":3,\"pending\":2,"
        "\"oldestPendingAgeSeconds\":185,\"delayed\":4},"
        "\"callbacks\":{\"length\":0,\"backlog\":0,\"pending\":0,"
        "\"oldestPendingAgeSeconds\":0,\"delayed\":0}},"
        "\"dlq\":{\"total\":5,\"byFailureFunctionState\":{\"CALLBACK_FAIL\":2,"
        "\"NONE\":3}},"
        "\"workflows\":{\"running\":1},\"workersAlive\":1,"
        "\"workers\":[{\"name\":\"w1\",\"host\":\"h\",\"pid\":42,"
        "\"version\":\"0.1.0\",\"lastSeen\":1714564858000,\"alive\":true,"
        "\"concurrency\":500,\"inflight\":2,\"delivered\":10,\"retried\":1,"
        "\"failed\":2}],"
        "\"perMinute\":[{\"minute\":1714564620000,\"delivered\":100},"
        "{\"minute\":1714564680000,\"delivered\":5,\"failed\":1},"
        "{\"minute\":1714564740000,\"delivered\":6,\"retried\":2},"
        "{\"minute\":1714564800000,\"delivered\":7,\"published\":9}]}",
        0, NULL);
    char *out = capture(stats_10, s);
    CHECK(strstr(out, "stats at 2024-05-01T12:01:00.000Z\n") == out);
    CHECK(strstr(out, "  messages       12        3        2           3m05s"
                      "        4\n") != NULL);
    CHECK(strstr(out, "  callbacks       0        0        0               -"
                      "        0\n") != NULL);
    CHECK(strstr(out, "dlq: 5 entries\n") != NULL);
    CHECK(strstr(out, "                    -                 -              2"
                      "                  -     3\n") != NULL);
    CHECK(strstr(out, "workflow runs: 1 running\n") != NULL);
    CHECK(strstr(out, "workers: 1 alive\n") != NULL);
    CHECK(strstr(out, "  w1    h      42  0.1.0    true    2.0s ago") != NULL);
    /* the last 3 minutes only */
    CHECK(strstr(out, "last 3 minutes: 18 delivered, 2 retried, 1 failed, 9 "
                      "published\n") != NULL);
    CHECK(strstr(out, "  11:58  ") != NULL);
    CHECK(strstr(out, "  12:00                 7        -       -          9\n")
          != NULL);
    CHECK(strstr(out, "11:57") == NULL);
    free(out);
    json_decref(s);

    json_t *bad = json_loads("{\"queues\":7,\"workers\":{},\"perMinute\":[1]}",
                             0, NULL);
    out = capture(stats_10, bad);
    CHECK(strstr(out, "  messages        -        -") != NULL);
    free(out);
    json_decref(bad);
    out = capture(stats_10, NULL);
    CHECK(strstr(out, "unexpected reply") != NULL);
    free(out);
}

static void test_inspect(void) {
    json_t *doc = json_loads(
        "{\"redis\":\"h:1 db 0\",\"prefix\":\"p\",\"time\":1714564860000,"
        "\"queues\":[{\"name\":\"messages\",\"stream\":\"p:{msg}:stream\","
        "\"length\":{\"value\":3,\"command\":\"redis-cli XLEN 'p:{msg}:stream'\"},"
        "\"groups\":{\"value\":[{\"name\":\"workers\",\"consumers\":1,"
        "\"pending\":1,\"lag\":null,\"lastDeliveredId\":\"1-0\","
        "\"entriesRead\":3,\"consumerList\":{\"value\":[{\"name\":\"w1\","
        "\"pending\":1,\"idleMs\":1500}],\"command\":\"c1\"},"
        "\"oldestPending\":{\"value\":[{\"id\":\"1714564800000-0\","
        "\"consumer\":\"w1\",\"idleMs\":1500,\"deliveries\":2}],"
        "\"command\":\"c2\"}}],\"command\":\"c3\"},"
        "\"delayed\":{\"value\":1,\"command\":\"c4\"},"
        "\"nextDue\":{\"value\":{\"id\":\"msg_1\",\"dueAt\":1714564920000},"
        "\"command\":\"c5\"}}],"
        "\"dlq\":{\"total\":{\"value\":null,\"error\":\"WRONGTYPE x\","
        "\"command\":\"c6\"}},"
        "\"signingKeys\":{\"current\":{\"value\":true,\"command\":\"c7\"}},"
        /* names from Redis with escape sequences in them */
        "\"flowControl\":{\"keys\":{\"value\":[{\"key\":\"fc\\u001b[2Jx\","
        "\"config\":{\"value\":{\"parallelism\":\"1\\u009b\"},"
        "\"command\":\"redis-cli HGETALL \\u001b[1m\"},"
        "\"inflight\":{\"value\":2,\"command\":\"c8\"}}],\"command\":\"c9\"}},"
        "\"workers\":{\"alive\":{\"value\":1,\"command\":\"c10\"},"
        "\"list\":{\"value\":[{\"name\":\"w\\u001b]0;t\\u0007\","
        "\"alive\":true,\"info\":{\"value\":{},\"command\":\"c11\"}}],"
        "\"command\":\"c12\"}}}",
        0, NULL);
    char *out = capture(sf_out_inspect, doc);
    CHECK(strstr(out, "redis h:1 db 0, prefix 'p', at 2024-05-01T12:01:00.000Z")
          == out);
    CHECK(strstr(out, "messages queue  p:{msg}:stream\n") != NULL);
    CHECK(strstr(out, "  length                   3                      $ "
                      "redis-cli XLEN 'p:{msg}:stream'\n") != NULL);
    CHECK(strstr(out, "    workers          1        1    -  1-0       "
                      "                 3\n") != NULL);
    CHECK(strstr(out, "    w1              1  1.5s\n") != NULL);
    CHECK(strstr(out, "    1714564800000-0  w1        1m00s  1.5s"
                      "           2\n") != NULL);
    CHECK(strstr(out, "  next due                 msg_1 in 1m00s "
                      "(2024-05-01T12:02:00.000Z) $ c5\n") != NULL);
    CHECK(strstr(out, "  entries                  error: WRONGTYPE x     $ c6\n")
          != NULL);
    CHECK(strstr(out, "  current key set          yes                    $ c7\n")
          != NULL);
    /* absent sections print their labels with "-", never crash */
    CHECK(strstr(out, "  kept                     -\n") != NULL);
    /* names and commands never carry escape sequences to the terminal */
    CHECK(strstr(out, "    key fc [2Jx            parallelism=1  rate=- "
                      "period=- $ redis-cli HGETALL  [1m\n") != NULL);
    CHECK(strstr(out, "      in flight            2                      $ c8\n")
          != NULL);
    CHECK(strstr(out, "    worker w ]0;t          (every field)          $ c11\n")
          != NULL);
    CHECK(strchr(out, 0x1b) == NULL && strchr(out, 0x07) == NULL &&
          strstr(out, "\xc2\x9b") == NULL);
    free(out);
    json_decref(doc);
    out = capture(sf_out_inspect, NULL);
    CHECK_STR(out, "nothing to show\n");
    free(out);
}

TEST_MAIN(T(test_iso8601), T(test_duration), T(test_parse_time),
          T(test_clip), T(test_shell_word), T(test_json_i64),
          T(test_generic_table), T(test_dlq_table), T(test_entry),
          T(test_runs), T(test_stats), T(test_inspect))
