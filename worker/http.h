/* http.h - outgoing HTTP deliveries: libcurl's multi-socket interface
 * driven by the process's libevent loop.
 *
 * One sf_http owns one CURLM (whose connection cache gives keep-alive to
 * every destination) and a free list of easy handles, so a steady stream of
 * deliveries allocates nothing per request.  Per-transfer state travels in
 * CURLOPT_PRIVATE.  Redirects are never followed, `Expect: 100-continue` is
 * never sent, and the response body is kept up to a bound (the rest is read
 * and dropped).
 *
 * Runs on the event_base given to sf_http_new(); not thread-safe.  The
 * completion callback runs from the loop (never from inside a curl
 * callback); the sf_http_response it gets is borrowed and valid only during
 * the call.  A transfer that is cancelled gets no callback. */
#ifndef SF_HTTP_H
#define SF_HTTP_H

#include <event2/event.h>
#include <stddef.h>
#include <stdint.h>
#include "err.h"
#include "message.h"
#include "util.h"

typedef struct sf_http sf_http;
typedef struct sf_http_transfer sf_http_transfer;

/* What one attempt produced. */
typedef struct sf_http_response {
    int status; /* HTTP status; 0 = no response (see error) */
    char error[128]; /* "" or the transport error ("timeout", ...) */
    sf_headers headers; /* response headers, names as received */
    sf_buf body; /* at most the body limit of the sf_http */
    int body_truncated; /* 1 when the body was longer than the limit */
    int64_t latency_ms;
    int64_t latency_us; /* the same, in microseconds (the histogram) */
    int not_started; /* 1: no request went out (the transfer could not
                        start; "error" says why), so no latency either */
} sf_http_response;

/* One request.  Every pointer is borrowed and must stay valid until the
 * transfer completes or is cancelled (the body is not copied). */
typedef struct sf_http_request {
    const char *method; /* "POST", "GET", ... */
    const char *url;
    const sf_headers *headers; /* sent as-is (lines with CR/LF skipped) */
    const sf_headers *extra; /* more headers (Upstash-*), may be NULL */
    const unsigned char *body;
    size_t body_len;
    int64_t timeout_ms; /* whole-attempt timeout, > 0 */
} sf_http_request;

/* Called once per finished (not cancelled) transfer with "arg" from
 * sf_http_start(). */
typedef void sf_http_done_fn(void *arg, const sf_http_response *res);

/* Creates the client on "base"; response bodies are kept up to
 * "body_limit" bytes; up to "max_conns" idle keep-alive connections are
 * cached.  Returns NULL with "err" filled on failure. */
sf_http *sf_http_new(struct event_base *base, size_t body_limit, long max_conns,
                     sf_err *err);
/* Cancels every transfer (no callbacks) and frees.  NULL is a no-op. */
void sf_http_free(sf_http *h);

/* Starts a transfer; "fn" is called when it finishes.  Returns the
 * transfer handle (for sf_http_cancel), or NULL with "err" filled (a bad
 * URL, for instance, is reported here or through "fn" with status 0). */
sf_http_transfer *sf_http_start(sf_http *h, const sf_http_request *req,
                                sf_http_done_fn *fn, void *arg, sf_err *err);
/* Aborts "t" without calling its callback; "t" is invalid afterwards.
 * Must not be called from inside that transfer's own callback. */
void sf_http_cancel(sf_http *h, sf_http_transfer *t);

#endif
