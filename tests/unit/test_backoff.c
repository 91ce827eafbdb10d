/* test_backoff.c - default schedule, durations, Retry-After values and the
 * classification of delivery outcomes. */
#include <stdint.h>
#include <string.h>

#include "backoff.h"
#include "harness.h"

static void default_schedule(void) {
    /* e^(2.5 n) s rounded to the nearest ms: 12 s, 2m28s, 30m8s, 6h7m, cap */
    CHECK_INT(sf_backoff_default_ms(1), 12182);
    CHECK_INT(sf_backoff_default_ms(2), 148413);
    CHECK_INT(sf_backoff_default_ms(3), 1808042);
    CHECK_INT(sf_backoff_default_ms(4), 22026466);
    CHECK_INT(sf_backoff_default_ms(5), 86400000);
    CHECK_INT(sf_backoff_default_ms(6), 86400000);
    CHECK_INT(sf_backoff_default_ms(1000000), 86400000);
    CHECK_INT(sf_backoff_default_ms(0), 12182);
    CHECK_INT(sf_backoff_default_ms(-7), 12182);
    CHECK_INT(SF_MAX_DELAY_MS, 86400000);
}

static int64_t dur(const char *s) {
    int64_t ms = -1;
    return sf_duration_parse_ms(s, &ms, NULL) == SF_OK ? ms : -1;
}

static void durations(void) {
    CHECK_INT(dur("10s"), 10000);
    CHECK_INT(dur("5m"), 300000);
    CHECK_INT(dur("2h"), 7200000);
    CHECK_INT(dur("1d"), 86400000);
    CHECK_INT(dur("1h30m"), 5400000);
    CHECK_INT(dur("500ms"), 500);
    CHECK_INT(dur("1m30s500ms"), 90500);
    CHECK_INT(dur("30"), 30000);
    CHECK_INT(dur("0"), 0);
    CHECK_INT(dur("0s"), 0);
    CHECK_INT(dur(" 10s "), 10000);
    CHECK_INT(dur("100d"), 8640000000LL);
    CHECK_INT(dur(""), -1);
    CHECK_INT(dur("   "), -1);
    CHECK_INT(dur(NULL), -1);
    CHECK_INT(dur("-1s"), -1);
    CHECK_INT(dur("+1s"), -1);
    CHECK_INT(dur("10x"), -1);
    CHECK_INT(dur("10S"), -1);
    CHECK_INT(dur("s"), -1);
    CHECK_INT(dur("1h30"), -1);
    CHECK_INT(dur("1.5s"), -1);
    CHECK_INT(dur("10 s"), -1);
    CHECK_INT(dur("9223372036854775807ms"), 9223372036854775807LL);
    CHECK_INT(dur("9223372036854775807s"), -1);
    CHECK_INT(dur("9223372036854775808ms"), -1);
    CHECK_INT(dur("99999999999999999999"), -1);
    CHECK_INT(dur("9223372036854775807ms1ms"), -1);
    sf_err err = {{0}};
    CHECK(sf_duration_parse_ms("10x", NULL, &err) == SF_INVALID);
    CHECK(strstr(err.msg, "invalid duration '10x'") != NULL);
    CHECK(sf_duration_parse_ms("7s", NULL, NULL) == SF_OK);
}

static void retry_after_values(void) {
    const int64_t now = 1700000000000LL;
    CHECK_INT(sf_retry_after_ms("120", now), 120000);
    CHECK_INT(sf_retry_after_ms(" 120 ", now), 120000);
    CHECK_INT(sf_retry_after_ms("0", now), 0);
    CHECK_INT(sf_retry_after_ms("1.5", now), 1500);
    CHECK_INT(sf_retry_after_ms("0.0004", now), 0);
    CHECK_INT(sf_retry_after_ms("0.0005", now), 1);
    CHECK_INT(sf_retry_after_ms("6m5s", now), 365000);
    CHECK_INT(sf_retry_after_ms("250ms", now), 250);
    CHECK_INT(sf_retry_after_ms("86400", now), 86400000);
    CHECK_INT(sf_retry_after_ms("86401", now), 86400000);
    CHECK_INT(sf_retry_after_ms("2d", now), 86400000);
    CHECK_INT(sf_retry_after_ms("1000000000", now), 86400000); /* delta */
    /* > 1e9: absolute unix seconds */
    CHECK_INT(sf_retry_after_ms("1700000060", now), 60000);
    CHECK_INT(sf_retry_after_ms("1700000000.25", now), 250);
    CHECK_INT(sf_retry_after_ms("1700000000.25", now - 1000), 1250);
    CHECK_INT(sf_retry_after_ms("1699999000", now), 0);
    CHECK_INT(sf_retry_after_ms("1800000000", now), 86400000);
    CHECK_INT(sf_retry_after_ms("99999999999999999999999", now), 86400000);
    /* HTTP dates relative to a fixed now (784111777 = that date) */
    const int64_t t94 = 784111777000LL;
    CHECK_INT(sf_retry_after_ms("Sun, 06 Nov 1994 08:49:37 GMT", t94 - 120000),
              120000);
    CHECK_INT(sf_retry_after_ms("Sun, 06 Nov 1994 08:49:37 GMT", t94), 0);
    CHECK_INT(sf_retry_after_ms("Sun, 06 Nov 1994 08:49:37 GMT", t94 + 5000), 0);
    CHECK_INT(sf_retry_after_ms("Sun, 06 Nov 1994 08:49:37 GMT", now), 0);
    CHECK_INT(sf_retry_after_ms("Sun, 06 Nov 1994 08:49:37 GMT", 0), 86400000);
    CHECK_INT(sf_retry_after_ms("Thu, 29 Feb 2024 23:59:59 GMT",
                                1709251199000LL - 3600500),
              3600500);
    CHECK_INT(sf_retry_after_ms("  Sun, 06 Nov 1994 08:49:37 GMT ", t94 - 1000),
              1000);
    /* the two obsolete HTTP-date forms RFC 7231 still requires */
    CHECK_INT(sf_retry_after_ms("Sunday, 06-Nov-94 08:49:37 GMT", t94 - 2000),
              2000);
    CHECK_INT(sf_retry_after_ms("Sun Nov  6 08:49:37 1994", t94 - 3000), 3000);
    CHECK_INT(sf_retry_after_ms("Thu Feb 29 23:59:59 2024",
                                1709251199000LL - 10),
              10);
    CHECK_INT(sf_retry_after_ms("Thursday, 29-Feb-24 23:59:59 GMT",
                                1709251199000LL - 10),
              10);
    CHECK_INT(sf_retry_after_ms("sun, 06 nov 1994 08:49:37 GMT", t94 - 1), 1);
    /* unparseable */
    CHECK_INT(sf_retry_after_ms("Sundae, 06-Nov-94 08:49:37 GMT", now), -1);
    CHECK_INT(sf_retry_after_ms("Sun, 06-Nov-94 08:49:37 GMT", now), -1);
    CHECK_INT(sf_retry_after_ms("Sunday, 06-Nov-1994 08:49:37 GMT", now), -1);
    CHECK_INT(sf_retry_after_ms("Sun Nov  6 08:49:37 94", now), -1);
    CHECK_INT(sf_retry_after_ms("Sun Nov 6 08:49:37 1994", now), -1);
    CHECK_INT(sf_retry_after_ms("Sun Nov  6 08-49-37 1994", now), -1);
    CHECK_INT(sf_retry_after_ms("Su,", now), -1);
    CHECK_INT(sf_retry_after_ms(",", now), -1);
    CHECK_INT(sf_retry_after_ms(NULL, now), -1);
    CHECK_INT(sf_retry_after_ms("", now), -1);
    CHECK_INT(sf_retry_after_ms("soon", now), -1);
    CHECK_INT(sf_retry_after_ms("-5", now), -1);
    CHECK_INT(sf_retry_after_ms("1.", now), -1);
    CHECK_INT(sf_retry_after_ms("Sun, 06 Nov 1994 08:49:37 UTC", now), -1);
    CHECK_INT(sf_retry_after_ms("Sun, 06 Nov 1994 24:49:37 GMT", now), -1);
    CHECK_INT(sf_retry_after_ms("Sun, 31 Feb 1994 08:49:37 GMT", now), -1);
    CHECK_INT(sf_retry_after_ms("Sun, 29 Feb 2023 08:49:37 GMT", now), -1);
    CHECK_INT(sf_retry_after_ms("Sun, 06 Noo 1994 08:49:37 GMT", now), -1);
    CHECK_INT(sf_retry_after_ms("Sun, 6 Nov 1994 08:49:37 GMT", now), -1);
    CHECK_INT(sf_retry_after_ms("Xyz, 06 Nov 1994 08:49:37 GMT", now), -1);
    CHECK_INT(sf_retry_after_ms("Sun, 06 Nov 19a4 08:49:37 GMT", now), -1);
    CHECK_INT(sf_retry_after_ms("Sun, 06 Nov 1994 08:49:37 GMT\r\n", now), -1);
    CHECK_INT(sf_retry_after_ms("1h\x80", now), -1);
    /* a nonsensical clock cannot overflow anything */
    CHECK_INT(sf_retry_after_ms("9223372036854775", INT64_MIN), 86400000);
    CHECK_INT(sf_retry_after_ms("1700000060", INT64_MAX), 0);
    CHECK_INT(sf_retry_after_ms("Sun, 06 Nov 1994 08:49:37 GMT", INT64_MIN),
              86400000);
}

static sf_outcome cls(int status, int nonretry, int retried, int max,
                      const char *ra, const char *rl, const char *expr,
                      int64_t *delay) {
    sf_response_info r = {status, nonretry, ra, rl};
    *delay = -1;
    return sf_classify(&r, retried, max, expr, 1700000000000LL, delay);
}

static void classification(void) {
    int64_t d;
    CHECK(cls(200, 0, 0, 3, NULL, NULL, NULL, &d) == SF_OUTCOME_DELIVERED);
    CHECK_INT(d, 0);
    CHECK(cls(204, 0, 3, 3, NULL, NULL, NULL, &d) == SF_OUTCOME_DELIVERED);
    CHECK(cls(299, 1, 0, 3, "10", NULL, NULL, &d) == SF_OUTCOME_DELIVERED);
    CHECK(cls(300, 0, 0, 3, NULL, NULL, NULL, &d) == SF_OUTCOME_RETRY);
    CHECK(cls(199, 0, 0, 3, NULL, NULL, NULL, &d) == SF_OUTCOME_RETRY);
    /* 489: fail at once only with the non-retryable flag */
    CHECK(cls(489, 1, 0, 3, NULL, NULL, NULL, &d) == SF_OUTCOME_FAIL);
    CHECK_INT(d, 0);
    CHECK(cls(489, 0, 0, 3, NULL, NULL, NULL, &d) == SF_OUTCOME_RETRY);
    CHECK_INT(d, 12182);
    CHECK(cls(500, 1, 0, 3, NULL, NULL, NULL, &d) == SF_OUTCOME_RETRY);
    /* 500: retry with the default backoff, n = retried + 1, until the last */
    CHECK(cls(500, 0, 0, 3, NULL, NULL, NULL, &d) == SF_OUTCOME_RETRY);
    CHECK_INT(d, 12182);
    CHECK(cls(500, 0, 2, 3, NULL, NULL, NULL, &d) == SF_OUTCOME_RETRY);
    CHECK_INT(d, 1808042);
    CHECK(cls(500, 0, 3, 3, NULL, NULL, NULL, &d) == SF_OUTCOME_FAIL);
    CHECK(cls(500, 0, 0, 0, NULL, NULL, NULL, &d) == SF_OUTCOME_FAIL);
    CHECK(cls(500, 0, 9, 3, NULL, NULL, NULL, &d) == SF_OUTCOME_FAIL);
    /* 0 = timeout / connection error */
    CHECK(cls(0, 0, 1, 3, NULL, NULL, NULL, &d) == SF_OUTCOME_RETRY);
    CHECK_INT(d, 148413);
    CHECK(cls(0, 0, 3, 3, NULL, NULL, NULL, &d) == SF_OUTCOME_FAIL);
    /* the expression, evaluated with retried */
    CHECK(cls(503, 0, 2, 5, NULL, NULL, "1000 * (retried + 1)", &d) ==
          SF_OUTCOME_RETRY);
    CHECK_INT(d, 3000);
    CHECK(cls(503, 0, 0, 5, NULL, NULL, "bogus(", &d) == SF_OUTCOME_RETRY);
    CHECK_INT(d, 12182);
    /* Retry-After overrides the expression, and is capped */
    CHECK(cls(429, 0, 0, 3, "7", NULL, "1000", &d) == SF_OUTCOME_RETRY);
    CHECK_INT(d, 7000);
    CHECK(cls(429, 0, 0, 3, "999999", NULL, "1000", &d) == SF_OUTCOME_RETRY);
    CHECK_INT(d, 86400000);
    CHECK(cls(503, 0, 0, 3, "6m5s", "10", NULL, &d) == SF_OUTCOME_RETRY);
    CHECK_INT(d, 365000);
    /* X-RateLimit-Reset when Retry-After is absent or unparseable */
    CHECK(cls(429, 0, 0, 3, NULL, "1700000030", "1000", &d) ==
          SF_OUTCOME_RETRY);
    CHECK_INT(d, 30000);
    CHECK(cls(429, 0, 0, 3, "garbage", "12", "1000", &d) == SF_OUTCOME_RETRY);
    CHECK_INT(d, 12000);
    CHECK(cls(429, 0, 0, 3, "garbage", "junk", "1000", &d) ==
          SF_OUTCOME_RETRY);
    CHECK_INT(d, 1000);
    /* a past date means "now" */
    CHECK(cls(503, 0, 0, 3, "Sun, 06 Nov 1994 08:49:37 GMT", NULL, "1000",
              &d) == SF_OUTCOME_RETRY);
    CHECK_INT(d, 0);
    /* Retry-After does not buy attempts past the budget */
    CHECK(cls(429, 0, 3, 3, "1", NULL, NULL, &d) == SF_OUTCOME_FAIL);
    /* NULL response = transport error; NULL delay pointer is allowed */
    CHECK(sf_classify(NULL, 0, 1, NULL, 0, &d) == SF_OUTCOME_RETRY);
    CHECK_INT(d, 12182);
    sf_response_info r = {500, 0, NULL, NULL};
    CHECK(sf_classify(&r, 0, 1, NULL, 0, NULL) == SF_OUTCOME_RETRY);
}

TEST_MAIN(T(default_schedule), T(durations), T(retry_after_values),
          T(classification))
