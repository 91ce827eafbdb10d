/* message.h - the message envelope and its msgpack codec.
 *
 * One envelope travels with a message through the stream, the delayed set,
 * retries and the DLQ.  It is encoded as a msgpack map keyed by short
 * strings so that fields can be added without breaking old readers; unknown
 * keys are skipped on decode.
 *
 * SCHEMA VERSION: SF_MESSAGE_SCHEMA is stored as key "v" in every envelope.
 * Bump it when a field changes meaning or type (adding an optional field
 * does not need a bump); the decoder rejects versions newer than it knows.
 *
 * Ownership: an sf_message owns every string and buffer it points to
 * (malloc'd).  sf_message_free() frees them all; sf_message_cleanup() frees
 * the contents of caller-owned storage.  The codec is pure: no I/O. */
#ifndef SF_MESSAGE_H
#define SF_MESSAGE_H

#include <stddef.h>
#include <stdint.h>
#include "err.h"
#include "util.h"

#define SF_MESSAGE_SCHEMA 1
#define SF_MAX_ATTEMPT_HISTORY 32 /* oldest attempts are dropped beyond this */

typedef enum sf_message_kind {
    SF_KIND_MESSAGE = 0,  /* a published message */
    SF_KIND_CALLBACK = 1, /* a failure-callback job for a DLQ entry */
} sf_message_kind;

typedef struct sf_header {
    char *name;  /* as delivered, e.g. "Content-Type" */
    char *value;
} sf_header;

typedef struct sf_headers {
    sf_header *items;
    size_t len, cap;
} sf_headers;

/* One finished delivery attempt, for the DLQ's history. */
typedef struct sf_attempt {
    int64_t at_ms;       /* wall clock when the attempt started */
    int status;          /* HTTP status, 0 when there was no response */
    int64_t latency_ms;
    char *error;         /* NULL, or a transport error ("timeout", ...) */
} sf_attempt;

typedef struct sf_message {
    int version;               /* SF_MESSAGE_SCHEMA when encoded by us */
    sf_message_kind kind;
    char *id;                  /* "msg_<hex>" */
    char *url;                 /* destination */
    char *method;              /* "POST" by default */
    sf_headers headers;        /* forwarded headers, delivered as-is */
    unsigned char *body;       /* may be NULL when body_len == 0 */
    size_t body_len;
    int max_retries;           /* Upstash-Retries, default 3 */
    int retried;               /* attempts already used up (0 on first) */
    char *retry_delay;         /* Upstash-Retry-Delay expression or NULL */
    int64_t timeout_ms;        /* per-attempt timeout, 0 = worker default */
    int64_t created_ms;        /* publish time */
    int64_t not_before_ms;     /* earliest delivery (0 = now) */
    char *label;               /* Upstash-Label or NULL */
    char *caller_ip;           /* publisher's address or NULL */
    char *dedup_id;            /* Upstash-Deduplication-Id or NULL */

    /* Failure callback (kind == SF_KIND_MESSAGE only). */
    char *failure_callback;    /* URL or NULL */
    sf_headers cb_headers;     /* Upstash-Failure-Callback-Forward-* */
    int cb_max_retries;        /* -1 = inherit max_retries */
    char *cb_retry_delay;      /* NULL = inherit retry_delay */
    int64_t cb_timeout_ms;     /* 0 = inherit timeout_ms */
    char *cb_method;           /* NULL = POST */

    /* Callback jobs (kind == SF_KIND_CALLBACK only). */
    char *dlq_id;              /* the DLQ entry whose callback this is */
    int64_t cb_gen;            /* generation: bumped by each manual retry;
                                  a job whose gen is stale is dropped */

    /* Workflow fields (filled by the workflow layer; NULL/0 otherwise). */
    char *workflow_run_id;
    char *workflow_url;
    int64_t workflow_created_ms;

    /* Upstash-Callback: after the final outcome of this message (delivered,
     * or failed for good) the worker publishes a report of it built from
     * this template: an encoded sf_message (sf_message_encode) carrying
     * url, method, headers, retry settings, failure callback and workflow
     * fields of the callback message (its id is "tpl" and it has no body;
     * the worker sets a fresh id, the report body and created_ms).  NULL
     * when the message has no callback. */
    unsigned char *callback_tpl;
    size_t callback_tpl_len;

    /* Flow control (Upstash-Flow-Control-Key / -Value): at most
     * fc_parallelism deliveries of fc_key in flight (0 = no limit) and at
     * most fc_rate starts per fc_period_ms (0 = no limit; the period
     * defaults to 1 s).  fc_key NULL = no flow control. */
    char *fc_key;
    int fc_parallelism;
    int fc_rate;
    int64_t fc_period_ms;

    /* Attempt history, oldest first, at most SF_MAX_ATTEMPT_HISTORY. */
    sf_attempt *attempts;
    size_t attempts_len;
} sf_message;

sf_message *sf_message_new(void);          /* zeroed, version set, retries 3,
                                              cb_max_retries -1 */
void sf_message_free(sf_message *m);       /* NULL is a no-op */
void sf_message_init(sf_message *m);       /* same defaults, caller storage */
void sf_message_cleanup(sf_message *m);
/* Deep copy; returns NULL only on allocation failure. */
sf_message *sf_message_dup(const sf_message *m);

void sf_headers_add(sf_headers *h, const char *name, const char *value);
/* First value of "name" (case-insensitive) or NULL. */
const char *sf_headers_get(const sf_headers *h, const char *name);
void sf_headers_cleanup(sf_headers *h);

/* Appends an attempt (copies "error"), dropping the oldest beyond the cap. */
void sf_message_add_attempt(sf_message *m, int64_t at_ms, int status,
                            int64_t latency_ms, const char *error);

/* Encodes "m" as msgpack into "out" (appended). */
void sf_message_encode(const sf_message *m, sf_buf *out);

/* Decodes [data, data+len) into a new message.  Truncated, garbage or
 * wrongly typed input, a missing id/url, or a newer schema version return
 * NULL with the reason in "err".  Never reads past len. */
sf_message *sf_message_decode(const void *data, size_t len, sf_err *err);

#endif
