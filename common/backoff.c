/* backoff.c - retry timing: the default schedule, durations, Retry-After
 * values and the classification of one delivery outcome.
 *
 * Rounding: every conversion from fractional seconds to ms rounds to the
 * nearest ms (halves away from zero), so e^2.5 s = 12182.49 ms -> 12182.
 * Parsers are written by hand over bytes (no strptime, strtol or locale):
 * whatever a remote server sends in a header is either understood exactly
 * or rejected. */
#include "backoff.h"

#include <math.h>
#include <string.h>
#include <strings.h>

#include "expr.h"
#include "util.h"

/* Default backoff before retry "n" (1 = first retry; n <= 0 is treated as
 * 1): min(86400, e^(2.5 n)) seconds, returned in ms rounded to nearest. */
int64_t sf_backoff_default_ms(int n) {
    if (n < 1) n = 1;
    if (n > 10) return SF_MAX_DELAY_MS; /* e^25 s is far past the cap */
    double ms = exp(2.5 * n) * 1000.0;
    if (ms >= (double)SF_MAX_DELAY_MS) return SF_MAX_DELAY_MS;
    return (int64_t)llround(ms);
}

static int is_digit(char c) { return c >= '0' && c <= '9'; }
static int is_ows(char c) { return c == ' ' || c == '\t'; }

/* Adds "a" and "b" into "*out" unless the sum passes INT64_MAX. */
static int add_ok(int64_t a, int64_t b, int64_t *out) {
    return !__builtin_add_overflow(a, b, out);
}

static int mul_ok(int64_t a, int64_t b, int64_t *out) {
    return !__builtin_mul_overflow(a, b, out);
}

/* Trims optional whitespace around [*s, *s + *len). */
static void trim(const char **s, size_t *len) {
    while (*len > 0 && is_ows(**s)) (*s)++, (*len)--;
    while (*len > 0 && is_ows((*s)[*len - 1])) (*len)--;
}

/* Reads a run of decimal digits at s[*i] into "*v"; 0 on success. */
static int read_uint(const char *s, size_t len, size_t *i, int64_t *v) {
    size_t start = *i;
    *v = 0;
    while (*i < len && is_digit(s[*i])) {
        if (!mul_ok(*v, 10, v) || !add_ok(*v, s[*i] - '0', v)) return -1;
        (*i)++;
    }
    return *i > start ? 0 : -1;
}

/* Parses a duration in [s, s+len) per sf_duration_parse_ms.  Returns 0 on
 * success, else -1 with a static reason in "*why". */
static int parse_duration(const char *s, size_t len, int64_t *out_ms,
                          const char **why) {
    trim(&s, &len);
    if (len == 0) {
        *why = "empty duration";
        return -1;
    }
    int64_t total = 0, v;
    size_t i = 0;
    while (i < len) {
        if (!is_digit(s[i])) {
            *why = i == 0 && (s[i] == '-' || s[i] == '+')
                       ? "a duration has no sign"
                       : "expected a number";
            return -1;
        }
        size_t start = i;
        if (read_uint(s, len, &i, &v) < 0) {
            *why = "duration out of range";
            return -1;
        }
        int64_t unit_ms;
        if (start == 0 && i == len) {
            unit_ms = 1000; /* the whole input is a bare number: seconds */
        } else if (i == len) {
            *why = "missing unit after number";
            return -1;
        } else if (len - i >= 2 && s[i] == 'm' && s[i + 1] == 's') {
            unit_ms = 1, i += 2;
        } else if (s[i] == 's') {
            unit_ms = 1000, i++;
        } else if (s[i] == 'm') {
            unit_ms = 60 * 1000, i++;
        } else if (s[i] == 'h') {
            unit_ms = 3600 * 1000, i++;
        } else if (s[i] == 'd') {
            unit_ms = 86400 * 1000, i++;
        } else {
            *why = "unknown unit (use ms, s, m, h or d)";
            return -1;
        }
        if (!mul_ok(v, unit_ms, &v) || !add_ok(total, v, &total)) {
            *why = "duration out of range";
            return -1;
        }
    }
    *out_ms = total;
    return 0;
}

/* Parses "s" ("10s", "5m", "2h", "1d", "1h30m", "500ms", or bare seconds)
 * into "*out_ms".  Surrounding spaces are allowed; signs, fractions,
 * unknown units and values past INT64_MAX ms are SF_INVALID. */
sf_status sf_duration_parse_ms(const char *s, int64_t *out_ms, sf_err *err) {
    const char *why = "no duration";
    int64_t ms;
    if (!s || parse_duration(s, strlen(s), &ms, &why) < 0) {
        sf_err_set(err, "invalid duration '%.40s': %s", s ? s : "", why);
        return SF_INVALID;
    }
    if (out_ms) *out_ms = ms;
    return SF_OK;
}

static int64_t cap_delay(int64_t ms) {
    if (ms < 0) return 0;
    return ms > SF_MAX_DELAY_MS ? SF_MAX_DELAY_MS : ms;
}

/* The capped wait from "now_ms" until the absolute time "at_ms"; 0 if past. */
static int64_t until(int64_t at_ms, int64_t now_ms) {
    int64_t d;
    if (__builtin_sub_overflow(at_ms, now_ms, &d))
        return at_ms > now_ms ? SF_MAX_DELAY_MS : 0;
    return cap_delay(d);
}

/* Parses "digits[.digits]" seconds.  Sets "*secs" (saturated at INT64_MAX)
 * and "*frac_ms" (the fraction rounded to ms, 0..1000).  0 on success. */
static int parse_seconds(const char *s, size_t len, int64_t *secs,
                         int64_t *frac_ms) {
    size_t i = 0;
    int64_t v = 0;
    if (len == 0 || !is_digit(s[0])) return -1;
    while (i < len && is_digit(s[i])) {
        if (v != INT64_MAX &&
            (!mul_ok(v, 10, &v) || !add_ok(v, s[i] - '0', &v)))
            v = INT64_MAX;
        i++;
    }
    int64_t frac = 0;
    if (i < len && s[i] == '.') {
        i++;
        size_t digits = 0;
        int64_t scale = 100;
        while (i < len && is_digit(s[i])) {
            if (digits < 3) frac += (s[i] - '0') * scale, scale /= 10;
            else if (digits == 3 && s[i] >= '5') frac++;
            digits++, i++;
        }
        if (digits == 0) return -1;
    }
    if (i != len) return -1;
    *secs = v;
    *frac_ms = frac;
    return 0;
}

static int lower(char c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

/* Index of the 3-letter name at "s" in "names" (case-insensitive), or -1. */
static int name3(const char *s, const char *const *names, int n) {
    for (int i = 0; i < n; i++)
        if (lower(s[0]) == lower(names[i][0]) &&
            lower(s[1]) == lower(names[i][1]) &&
            lower(s[2]) == lower(names[i][2]))
            return i;
    return -1;
}

/* Reads exactly "n" digits at "s" into "*out"; 0 on success. */
static int digits_n(const char *s, int n, int *out) {
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!is_digit(s[i])) return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

static const char *const day_names[] = {"Monday", "Tuesday", "Wednesday",
                                        "Thursday", "Friday", "Saturday",
                                        "Sunday"};
static const char *const month_names[] = {"Jan", "Feb", "Mar", "Apr",
                                          "May", "Jun", "Jul", "Aug",
                                          "Sep", "Oct", "Nov", "Dec"};

/* Validates a calendar date ("mon" 0-11) and the "hh:mm:ss" at "t", and
 * writes ms since the epoch (UTC) to "*out_ms".  0 on success. */
static int civil_ms(int year, int mon, int day, const char *t,
                    int64_t *out_ms) {
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int hh, mm, ss;
    if (mon < 0 || t[2] != ':' || t[5] != ':' || digits_n(t, 2, &hh) ||
        digits_n(t + 3, 2, &mm) || digits_n(t + 6, 2, &ss))
        return -1;
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (day < 1 || day > mdays[mon] || (mon == 1 && day == 29 && !leap) ||
        hh > 23 || mm > 59 || ss > 60)
        return -1;
    int64_t days = sf_days_from_civil(year, mon + 1, day);
    *out_ms = (days * 86400 + hh * 3600 + mm * 60 + ss) * 1000;
    return 0;
}

/* Parses an HTTP-date in the three forms RFC 7231 7.1.1.1 requires a
 * recipient to accept, into ms since the epoch:
 *   IMF-fixdate  "Sun, 06 Nov 1994 08:49:37 GMT"
 *   RFC 850      "Sunday, 06-Nov-94 08:49:37 GMT" (yy < 70 -> 20yy)
 *   asctime      "Sun Nov  6 08:49:37 1994"
 * Names are matched case-insensitively; the weekday must be a day name but,
 * as RFC 7231 allows, is not checked against the date.  0 on success. */
static int parse_http_date(const char *s, size_t len, int64_t *out_ms) {
    int day, year;
    if (len == 29 && s[3] == ',') {
        /* 01234567890123456789012345678
         * Sun, 06 Nov 1994 08:49:37 GMT */
        if (name3(s, day_names, 7) < 0 || s[4] != ' ' || s[7] != ' ' ||
            s[11] != ' ' || s[16] != ' ' || s[25] != ' ' ||
            memcmp(s + 26, "GMT", 3) != 0 || digits_n(s + 5, 2, &day) ||
            digits_n(s + 12, 4, &year))
            return -1;
        return civil_ms(year, name3(s + 8, month_names, 12), day, s + 17,
                        out_ms);
    }
    if (len == 24 && s[3] == ' ') {
        /* 012345678901234567890123
         * Sun Nov  6 08:49:37 1994 */
        if (name3(s, day_names, 7) < 0 || s[7] != ' ' || s[10] != ' ' ||
            s[19] != ' ' || digits_n(s + 20, 4, &year))
            return -1;
        if (s[8] == ' ' ? digits_n(s + 9, 1, &day) : digits_n(s + 8, 2, &day))
            return -1;
        return civil_ms(year, name3(s + 4, month_names, 12), day, s + 11,
                        out_ms);
    }
    const char *comma = memchr(s, ',', len);
    if (!comma) return -1;
    size_t name_len = (size_t)(comma - s);
    int wd = name_len >= 3 ? name3(s, day_names, 7) : -1;
    if (wd < 0 || name_len != strlen(day_names[wd]) ||
        strncasecmp(s, day_names[wd], name_len) != 0)
        return -1;
    /* 01234567890123456789012
     *  06-Nov-94 08:49:37 GMT   (after the comma) */
    const char *r = comma + 1;
    if (len - name_len - 1 != 23 || r[0] != ' ' || r[3] != '-' ||
        r[7] != '-' || r[10] != ' ' || r[19] != ' ' ||
        memcmp(r + 20, "GMT", 3) != 0 || digits_n(r + 1, 2, &day) ||
        digits_n(r + 8, 2, &year))
        return -1;
    year += year < 70 ? 2000 : 1900;
    return civil_ms(year, name3(r + 4, month_names, 12), day, r + 11, out_ms);
}

/* Turns a Retry-After / X-RateLimit-Reset "value" into a delay in ms from
 * "now_ms": delta seconds (fractions allowed), a unix timestamp in seconds
 * when the number is > 1e9 (absolute; past -> 0), an HTTP-date (past ->
 * 0) or a duration like "6m5s".  Capped at SF_MAX_DELAY_MS; -1 when the
 * value is NULL or unparseable. */
int64_t sf_retry_after_ms(const char *value, int64_t now_ms) {
    if (!value) return -1;
    const char *s = value;
    size_t len = strlen(value);
    trim(&s, &len);
    if (len == 0) return -1;

    int64_t secs, frac_ms, ms;
    if (parse_seconds(s, len, &secs, &frac_ms) == 0) {
        if (secs > INT64_MAX / 1000 - 1) return SF_MAX_DELAY_MS;
        ms = secs * 1000 + frac_ms;
        if (secs > 1000000000LL || (secs == 1000000000LL && frac_ms > 0))
            return until(ms, now_ms);
        return cap_delay(ms);
    }
    if (parse_http_date(s, len, &ms) == 0)
        return until(ms, now_ms);
    const char *why;
    if (parse_duration(s, len, &ms, &why) == 0) return cap_delay(ms);
    return -1;
}

/* Classifies one attempt per backoff.h: "r" is what the endpoint said (NULL
 * is treated as a transport error), "retried" how many retries came before
 * this attempt, "max_retries" the budget.  On SF_OUTCOME_RETRY writes the
 * wait in ms into "*delay_ms" (if not NULL); otherwise writes 0. */
sf_outcome sf_classify(const sf_response_info *r, int retried, int max_retries,
                       const char *retry_delay_expr, int64_t now_ms,
                       int64_t *delay_ms) {
    static const sf_response_info none = {0};
    if (!r) r = &none;
    if (delay_ms) *delay_ms = 0;
    if (r->status >= 200 && r->status <= 299) return SF_OUTCOME_DELIVERED;
    if (r->status == 489 && r->non_retryable) return SF_OUTCOME_FAIL;
    if (retried >= max_retries) return SF_OUTCOME_FAIL;

    int64_t d = sf_retry_after_ms(r->retry_after, now_ms);
    if (d < 0) d = sf_retry_after_ms(r->ratelimit_reset, now_ms);
    if (d < 0) d = sf_expr_delay_ms(retry_delay_expr, retried);
    if (delay_ms) *delay_ms = d;
    return SF_OUTCOME_RETRY;
}
