/* test_log.c - the line format, level gating, escaping. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "log.h"

static int evaluated;
static int side_effect(void) { return ++evaluated; }

/* Runs "fn" with stderr redirected to a temp file; returns what it wrote
 * (malloc'd). */
static char *capture(void (*fn)(void)) {
    char path[] = "/tmp/sf_test_log_XXXXXX";
    int fd = mkstemp(path);
    int saved = dup(STDERR_FILENO);
    dup2(fd, STDERR_FILENO);
    fn();
    dup2(saved, STDERR_FILENO);
    close(saved);
    off_t n = lseek(fd, 0, SEEK_END);
    char *out = calloc(1, (size_t)n + 1);
    if (pread(fd, out, (size_t)n, 0) != n) out[0] = '\0';
    close(fd);
    unlink(path);
    return out;
}

static void write_some(void) {
    sf_log_set_format("text");
    sf_log_set_level("info");
    sf_debug("hidden %d", side_effect());
    sf_info("delivered id=%s status=%d", "msg_1", 200);
    sf_warn("multi\nline");
    sf_error("tab\there");
}

static void test_format_and_levels(void) {
    evaluated = 0;
    char *out = capture(write_some);
    CHECK_INT(evaluated, 0); /* gated before the arguments are evaluated */
    /* ts=2026-11-29T10:00:00.123Z level=info delivered ... */
    CHECK(strncmp(out, "ts=", 3) == 0);
    CHECK(strlen(out) > 27 && out[13] == 'T' && out[22] == '.' &&
          out[26] == 'Z' && out[27] == ' ');
    CHECK(strstr(out, "Z level=info delivered id=msg_1 status=200\n") != NULL);
    CHECK(strstr(out, "level=warn multi\\nline\n") != NULL);
    CHECK(strstr(out, "level=error tab\\there\n") != NULL);
    CHECK(strstr(out, "hidden") == NULL);
    int lines = 0;
    for (char *p = out; *p; p++) lines += *p == '\n';
    CHECK_INT(lines, 3);
    free(out);
}

static void test_set_level(void) {
    CHECK_INT(sf_log_set_level("debug"), 0);
    CHECK_INT(sf_log_min_level, SF_LOG_DEBUG);
    CHECK_INT(sf_log_set_level("ERROR"), 0);
    CHECK_INT(sf_log_min_level, SF_LOG_ERROR);
    CHECK_INT(sf_log_set_level("warn"), 0);
    CHECK_INT(sf_log_min_level, SF_LOG_WARN);
    CHECK_INT(sf_log_set_level("loud"), -1);
    CHECK_INT(sf_log_min_level, SF_LOG_WARN); /* unchanged */
    CHECK_INT(sf_log_set_level(NULL), -1);
    sf_log_set_level("info");
}

static void long_line(void) {
    sf_log_set_format("text");
    char big[9000];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    sf_info("%s", big);
    sf_log_hook_libevent();
}

static void test_long_line_truncated(void) {
    char *out = capture(long_line);
    size_t n = strlen(out);
    CHECK(n > 1000 && n < 8192);
    CHECK(n > 0 && out[n - 1] == '\n');
    free(out);
}

static void write_json(void) {
    sf_log_set_format("json");
    sf_log_set_level("info");
    sf_debug("hidden %d", side_effect());
    sf_info("dlq messageId=%s dlqId=%s status=%d attempt=%d reason=\"%s\" "
            "ms=-3 gen=12345678901234567 try=007 runId=123 key=42 empty=",
            "msg_1", "dlq_2", 500, 3, "said \\\"no\\\" twice");
    sf_warn("assertion failed: free text, not logfmt");
    sf_error("bad_utf8 value=\"\xff\xfe\" line=\"a\nb\"");
    sf_info("unterminated key=\"oops");
    /* External text cannot forge a field, and round-trips exactly. */
    sf_info("fc_parked key=%s messageId=%s err=%s", SF_LOGQ("a messageId=forged"),
            "msg_3", SF_LOGQ("q\"b\\s\nn\x01t"));
    /* A caller's time, level and msg are kept under other names. */
    sf_info("clash msg=hi level=x time=1");
    sf_info("bad_escape v=\"a\\qb\"");
    sf_log_set_format("text");
}

static void test_json(void) {
    evaluated = 0;
    char *out = capture(write_json);
    CHECK_INT(evaluated, 0);
    char *save = NULL, *l[7];
    for (int i = 0; i < 7; i++) l[i] = strtok_r(i ? NULL : out, "\n", &save);
    CHECK(strtok_r(NULL, "\n", &save) == NULL);
    for (int i = 0; i < 7; i++) CHECK(l[i] != NULL);
    if (!l[6]) {
        free(out);
        return;
    }
    /* {"time":"2026-11-29T10:00:00.123Z","level":"info","msg":"dlq",...};
     * numbers only for numeric keys, ids and names stay strings. */
    CHECK(strncmp(l[0], "{\"time\":\"", 9) == 0 && l[0][9 + 23] == 'Z');
    CHECK(strstr(l[0], "\"level\":\"info\",\"msg\":\"dlq\",\"messageId\":"
                       "\"msg_1\",\"dlqId\":\"dlq_2\",\"status\":500,"
                       "\"attempt\":3,\"reason\":\"said \\\"no\\\" twice\","
                       "\"ms\":-3,\"gen\":\"12345678901234567\","
                       "\"try\":\"007\",\"runId\":\"123\",\"key\":\"42\","
                       "\"empty\":\"\"}") != NULL);
    CHECK(strstr(l[1], "\"level\":\"warn\",\"msg\":\"assertion failed: free "
                       "text, not logfmt\"}") != NULL);
    CHECK(strstr(l[2], "\"msg\":\"bad_utf8\",\"value\":\"\\\\xff\\\\xfe\","
                       "\"line\":\"a\\nb\"}") != NULL);
    CHECK(strstr(l[3], "\"msg\":\"unterminated key=\\\"oops\"}") != NULL);
    CHECK(strstr(l[4], "\"msg\":\"fc_parked\",\"key\":\"a messageId=forged\","
                       "\"messageId\":\"msg_3\",\"err\":"
                       "\"q\\\"b\\\\s\\nn\\u0001t\"}") != NULL);
    CHECK(strstr(l[5], "\"level\":\"info\",\"msg\":\"clash\",\"field_msg\":"
                       "\"hi\",\"field_level\":\"x\",\"field_time\":\"1\"}") !=
          NULL);
    CHECK(strstr(l[6], "\"msg\":\"bad_escape v=\\\"a\\\\qb\\\"\"}") != NULL);
    free(out);
}

static void write_quoted_text(void) {
    sf_log_set_format("text");
    sf_info("fc_parked key=%s url=%s", SF_LOGQ("a b\n"),
            SF_LOGQ("http://x/?a=1"));
}

static void test_quote(void) {
    char buf[16];
    const char *plain = "msg_1";
    CHECK(sf_log_q(buf, sizeof(buf), plain) == plain); /* no copy */
    CHECK(strcmp(sf_log_q(buf, sizeof(buf), ""), "\"\"") == 0);
    CHECK(strcmp(sf_log_q(buf, sizeof(buf), NULL), "\"\"") == 0);
    CHECK(strcmp(sf_log_q(buf, sizeof(buf), "a\\b"), "\"a\\\\b\"") == 0);
    CHECK(strcmp(sf_log_q(buf, sizeof(buf), "x\x7f"), "\"x\\x7f\"") == 0);
    /* Cut to fit, still one closed quoted value. */
    CHECK(strcmp(sf_log_q(buf, sizeof(buf), "aaaa aaaa aaaa aaaa"),
                 "\"aaaa aa...\"") == 0);
    CHECK(strcmp(sf_log_q(buf, sizeof(buf), "\n\n\n\n\n\n"),
                 "\"\\n\\n\\n\\n...\"") == 0);
    char *out = capture(write_quoted_text);
    CHECK(strstr(out, " fc_parked key=\"a b\\n\" url=\"http://x/?a=1\"\n") !=
          NULL);
    free(out);
}

static void test_set_format(void) {
    CHECK_INT(sf_log_set_format("JSON"), 0);
    CHECK_INT(sf_log_set_format("text"), 0);
    CHECK_INT(sf_log_set_format("xml"), -1);
    CHECK_INT(sf_log_set_format(NULL), -1);
}

TEST_MAIN(T(test_format_and_levels), T(test_set_level),
          T(test_long_line_truncated), T(test_json), T(test_quote),
          T(test_set_format))
