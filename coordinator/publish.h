/* publish.h - turns one publish request into a message, or a 400 reason.
 *
 * Pure: the caller (publish_api.c) collects the destination, the request
 * headers and the body from evhttp or from one item of a batch; this module
 * applies the Upstash-* header rules of PROTOCOL.md and returns a new
 * sf_message ready to encode, plus the time it becomes due.  No sockets, no
 * Redis; the only outside input is OpenSSL's RAND_bytes for the id.
 *
 * Errors: SF_INVALID with the client-facing reason in "err" (the API
 * answers 400 {"error": reason}).  Ownership: the caller owns the returned
 * message (sf_message_free); every input is borrowed for the call only. */
#ifndef SF_COORD_PUBLISH_H
#define SF_COORD_PUBLISH_H

#include <stddef.h>
#include <stdint.h>
#include "err.h"
#include "message.h"

#define SF_MAX_DELAY_MS_PUBLISH (365LL * 86400 * 1000) /* Upstash-Delay cap */
#define SF_MAX_RETRIES 100
#define SF_MAX_RUN_ID_LEN 200 /* Upstash-Workflow-RunId */

/* One request header, borrowed. */
typedef struct sf_kv {
    const char *name;
    const char *value;
} sf_kv;

/* What a publish request says about a workflow, for coordinator/wf.c. */
typedef struct sf_publish_wf {
    int init;             /* Upstash-Workflow-Init: true */
    char call_type[16];   /* Upstash-Workflow-CallType ("" when absent) */
} sf_publish_wf;

typedef struct sf_publish_input {
    const char *destination;  /* raw, possibly percent-encoded URL */
    const sf_kv *headers;     /* request headers, any case */
    size_t n_headers;
    const void *body;         /* may be NULL when body_len == 0 */
    size_t body_len;
    const char *caller_ip;    /* or NULL */
    int64_t now_ms;           /* wall clock of the request */
    int64_t max_timeout_ms;   /* Upstash-Timeout cap (cfg.max_timeout_ms) */
    sf_publish_wf *wf_out;    /* filled when not NULL */
} sf_publish_input;

/* Builds the message for "in": a new id "msg_<32 hex>", the method, the
 * forwarded headers, the retry/timeout/delay/dedup/label settings and the
 * failure-callback settings.  On success stores the message in "*out" and
 * in "*due_ms" the delivery time when it lies after now_ms (else 0).
 * Returns SF_OK, or SF_INVALID with the reason in "err". */
sf_status sf_publish_parse(const sf_publish_input *in, sf_message **out,
                           int64_t *due_ms, sf_err *err);

/* Parses an Upstash-Flow-Control-Value ("parallelism=2, rate=10,
 * period=1s"; rate alone means per second) into m's fc_* fields.  Returns
 * 0, or -1 with the reason in "why". */
int sf_flow_control_parse(const char *value, sf_message *m, char *why,
                          size_t why_size);

/* 1 when "url" is an absolute http(s) URL with a non-empty host and no
 * whitespace or control characters. */
int sf_publish_url_ok(const char *url);

/* Percent-decodes "s" when it is a percent-encoded absolute URL
 * ("http%3A%2F%2F..."); otherwise copies it.  Returns malloc'd text, or
 * NULL when a %-escape is malformed or decodes to a NUL byte. */
char *sf_publish_destination(const char *s);

#endif
