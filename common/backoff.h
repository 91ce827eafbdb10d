/* backoff.h - retry timing and the classification of one delivery outcome.
 *
 * Pure logic, unit-tested without sockets. */
#ifndef SF_BACKOFF_H
#define SF_BACKOFF_H

#include <stdint.h>
#include "err.h"

#define SF_MAX_DELAY_MS (86400LL * 1000) /* one day cap */

/* Default backoff before retry number "n" (1 for the first retry):
 * min(86400, e^(2.5 n)) seconds, in ms. */
int64_t sf_backoff_default_ms(int n);

/* Parses a duration: "10s", "5m", "2h", "1d", "1h30m", "500ms", or a bare
 * number of seconds.  Returns SF_INVALID on anything else (including
 * negative values or overflow). */
sf_status sf_duration_parse_ms(const char *s, int64_t *out_ms, sf_err *err);

/* Parses a Retry-After / X-RateLimit-Reset style value into a delay from
 * "now_ms": delta seconds ("120"), an HTTP date, a unix timestamp in seconds
 * (values > 1e9 in X-RateLimit-Reset*), or a duration like "6m5s".
 * The result is capped at SF_MAX_DELAY_MS.  Returns -1 when unparseable. */
int64_t sf_retry_after_ms(const char *value, int64_t now_ms);

typedef enum sf_outcome {
    SF_OUTCOME_DELIVERED,  /* 2xx */
    SF_OUTCOME_RETRY,      /* try again after a delay */
    SF_OUTCOME_FAIL,       /* no more attempts: DLQ (and failure callback) */
} sf_outcome;

/* What the response (or its absence) said. */
typedef struct sf_response_info {
    int status;                    /* 0 = transport error / timeout */
    int non_retryable;             /* Upstash-NonRetryable-Error: true */
    const char *retry_after;       /* Retry-After header or NULL */
    const char *ratelimit_reset;   /* first X-RateLimit-Reset* header or NULL */
} sf_response_info;

/* Decides the outcome of an attempt: 2xx → DELIVERED; 489 with
 * non_retryable → FAIL; otherwise RETRY while retried < max_retries, else
 * FAIL.  On RETRY, *delay_ms is the wait before the next attempt: from
 * Retry-After/X-RateLimit-Reset when present (capped), else from
 * "retry_delay_expr" evaluated with `retried` = "retried" (NULL = default
 * backoff with n = retried + 1). */
sf_outcome sf_classify(const sf_response_info *r, int retried, int max_retries,
                       const char *retry_delay_expr, int64_t now_ms,
                       int64_t *delay_ms);

#endif
