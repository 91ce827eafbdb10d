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

TEST_MAIN(T(test_format_and_levels), T(test_set_level),
          T(test_long_line_truncated))
