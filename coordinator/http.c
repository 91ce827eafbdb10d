/* http.c - evhttp server, route table, auth, JSON replies (see http.h).
 *
 * Every request that reaches the route table is counted once in the
 * metrics, with its route class, its status and its latency, whoever sends
 * the reply (a JSON helper below or a handler's own evhttp_send_reply): a
 * small record per request is linked in the server, and attached to its
 * connection's close callback, from dispatch until evhttp reports the
 * response written (on_complete).  evhttp hands a connection's requests
 * to us one at a time (the next is read once the response is out), so a
 * connection has at most one record.  When the client goes away first,
 * evhttp frees the request without on_complete; the connection's close
 * callback then settles its record (status 499).
 * Requests evhttp refuses before dispatch (a malformed request line,
 * headers or body over the limits) are not counted. */
#include "http.h"

#include <event2/buffer.h>
#include <sys/queue.h>
#include <event2/keyvalq_struct.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "dlq_indexer.h"
#include "log.h"
#include "metrics_api.h"
#include "util.h"

#define MAX_HEADERS_BYTES (64 * 1024)
#define CONN_TIMEOUT_S 60

/* One request being answered, for the metrics. */
typedef struct req_track {
    LIST_ENTRY(req_track) link;
    sf_http *h;
    struct evhttp_request *req;       /* borrowed: alive while linked */
    struct evhttp_connection *conn;   /* borrowed: its connection */
    sf_route_class route;
    int64_t start_us;                 /* sf_mono_us() at dispatch */
} req_track;

struct sf_http {
    sf_coord *coord;                       /* borrowed */
    struct evhttp *http;                   /* owned */
    struct evhttp_bound_socket *listener;  /* owned by http */
    int port;
    LIST_HEAD(, req_track) reqs;           /* owned: requests in flight */
};

typedef enum route_kind {
    ROUTE_EXACT,   /* the path is the pattern */
    ROUTE_SEGMENT, /* pattern + one non-empty path segment (an id) */
    ROUTE_REST,    /* pattern + the rest of the raw URI, query included */
} route_kind;

typedef struct route {
    int methods;            /* EVHTTP_REQ_* mask */
    route_kind kind;
    const char *pattern;
    int auth;               /* 1: bearer token required */
    sf_http_handler *fn;
    sf_route_class metric;  /* its `route` label in the metrics */
} route;

static void healthz(sf_coord *c, struct evhttp_request *req, const char *t) {
    (void)c, (void)t;
    sf_http_reply_json(req, 200, json_pack("{s:s}", "status", "ok"));
}

/* Ready: not stopping, both Redis connections up (commands, and the DLQ
 * indexer's: without it the DLQ indexes stall), the loop turning. */
static void readyz(sf_coord *c, struct evhttp_request *req, const char *t) {
    (void)t;
    const char *why = c->stopping ? "shutting down"
                    : !sf_rconn_is_up(c->redis) ||
                              !sf_dlq_indexer_is_up(c->indexer)
                        ? "redis unavailable"
                    : sf_loop_watch_stalled(&c->loop, sf_mono_us())
                        ? "event loop stalled"
                    : NULL;
    if (!why)
        sf_http_reply_json(req, 200, json_pack("{s:s}", "status", "ready"));
    else
        sf_http_reply_error(req, 503, "%s", why);
}

/* Order matters: the first route whose path and method match wins. */
static const route routes[] = {
    {EVHTTP_REQ_GET, ROUTE_EXACT, "/healthz", 0, healthz, SF_ROUTE_HEALTH},
    {EVHTTP_REQ_GET, ROUTE_EXACT, "/readyz", 0, readyz, SF_ROUTE_HEALTH},
    {EVHTTP_REQ_GET, ROUTE_EXACT, "/metrics", 0, sf_api_metrics,
     SF_ROUTE_METRICS},
    {EVHTTP_REQ_GET, ROUTE_EXACT, "/", 0, sf_api_ui, SF_ROUTE_UI},
    {EVHTTP_REQ_GET, ROUTE_REST, "/ui/", 0, sf_api_ui, SF_ROUTE_UI},
    {EVHTTP_REQ_HEAD, ROUTE_EXACT, "/", 0, sf_api_ui, SF_ROUTE_UI},
    {EVHTTP_REQ_HEAD, ROUTE_REST, "/ui/", 0, sf_api_ui, SF_ROUTE_UI},
    {EVHTTP_REQ_GET, ROUTE_EXACT, "/v2/stats", 1, sf_api_stats,
     SF_ROUTE_STATS},
    {EVHTTP_REQ_GET, ROUTE_SEGMENT, "/v2/flowControl/", 1,
     sf_api_flow_control_get, SF_ROUTE_FLOW_CONTROL},
    {EVHTTP_REQ_GET, ROUTE_EXACT, "/v2/keys", 1, sf_api_keys_get,
     SF_ROUTE_KEYS},
    {EVHTTP_REQ_POST, ROUTE_EXACT, "/v2/keys/rotate", 1, sf_api_keys_rotate,
     SF_ROUTE_KEYS},
    {EVHTTP_REQ_POST, ROUTE_REST, "/v2/publish/", 1, sf_api_publish,
     SF_ROUTE_PUBLISH},
    {EVHTTP_REQ_POST, ROUTE_EXACT, "/v2/batch", 1, sf_api_batch,
     SF_ROUTE_BATCH},
    {EVHTTP_REQ_POST, ROUTE_REST, "/v2/trigger/", 1, sf_api_trigger,
     SF_ROUTE_TRIGGER},
    {EVHTTP_REQ_POST, ROUTE_EXACT, "/v2/dlq/retry", 1, sf_api_dlq_retry_many,
     SF_ROUTE_DLQ},
    {EVHTTP_REQ_POST, ROUTE_SEGMENT, "/v2/dlq/retry/", 1, sf_api_dlq_retry_one,
     SF_ROUTE_DLQ},
    {EVHTTP_REQ_GET, ROUTE_EXACT, "/v2/dlq", 1, sf_api_dlq_list, SF_ROUTE_DLQ},
    {EVHTTP_REQ_DELETE, ROUTE_EXACT, "/v2/dlq", 1, sf_api_dlq_delete_many,
     SF_ROUTE_DLQ},
    {EVHTTP_REQ_GET, ROUTE_SEGMENT, "/v2/dlq/", 1, sf_api_dlq_get,
     SF_ROUTE_DLQ},
    {EVHTTP_REQ_DELETE, ROUTE_SEGMENT, "/v2/dlq/", 1, sf_api_dlq_delete,
     SF_ROUTE_DLQ},
    {EVHTTP_REQ_DELETE, ROUTE_EXACT, "/v2/workflows/runs", 1,
     sf_api_wf_runs_cancel, SF_ROUTE_WORKFLOWS},
    {EVHTTP_REQ_DELETE, ROUTE_SEGMENT, "/v2/workflows/runs/", 1,
     sf_api_wf_run_delete, SF_ROUTE_WORKFLOWS},
    {EVHTTP_REQ_GET, ROUTE_SEGMENT, "/v2/workflows/runs/", 1,
     sf_api_wf_run_steps, SF_ROUTE_WORKFLOWS},
    {EVHTTP_REQ_GET, ROUTE_EXACT, "/v2/workflows/events", 1, sf_api_wf_logs,
     SF_ROUTE_WORKFLOWS},
    {EVHTTP_REQ_POST, ROUTE_EXACT, "/v2/workflows/dlq/resume", 1,
     sf_api_wf_dlq_resume, SF_ROUTE_DLQ},
    {EVHTTP_REQ_POST, ROUTE_SEGMENT, "/v2/workflows/dlq/resume/", 1,
     sf_api_wf_dlq_resume_one, SF_ROUTE_DLQ},
    {EVHTTP_REQ_POST, ROUTE_EXACT, "/v2/workflows/dlq/restart", 1,
     sf_api_wf_dlq_restart, SF_ROUTE_DLQ},
    {EVHTTP_REQ_POST, ROUTE_SEGMENT, "/v2/workflows/dlq/restart/", 1,
     sf_api_wf_dlq_restart_one, SF_ROUTE_DLQ},
    {EVHTTP_REQ_POST, ROUTE_SEGMENT, "/v2/workflows/dlq/callback/", 1,
     sf_api_cb_retry, SF_ROUTE_DLQ},
    {EVHTTP_REQ_DELETE, ROUTE_SEGMENT, "/v2/workflows/dlq/callback/", 1,
     sf_api_cb_cancel, SF_ROUTE_DLQ},
    {EVHTTP_REQ_GET, ROUTE_EXACT, "/v2/workflows/dlq", 1, sf_api_dlq_list,
     SF_ROUTE_DLQ},
    {EVHTTP_REQ_DELETE, ROUTE_EXACT, "/v2/workflows/dlq", 1,
     sf_api_dlq_delete_many, SF_ROUTE_DLQ},
    {EVHTTP_REQ_GET, ROUTE_SEGMENT, "/v2/workflows/dlq/", 1, sf_api_dlq_get,
     SF_ROUTE_DLQ},
    {EVHTTP_REQ_DELETE, ROUTE_SEGMENT, "/v2/workflows/dlq/", 1,
     sf_api_dlq_delete, SF_ROUTE_DLQ},
};

/* Matches "uri" against "r"; on a match stores the tail (malloc'd) and
 * returns 1. */
static int route_match(const route *r, const char *uri, char **tail) {
    size_t plen = strlen(r->pattern);
    size_t path_len = strcspn(uri, "?#");
    switch (r->kind) {
    case ROUTE_EXACT:
        if (path_len != plen || strncmp(uri, r->pattern, plen) != 0) return 0;
        *tail = strdup("");
        return 1;
    case ROUTE_SEGMENT: {
        if (path_len <= plen || strncmp(uri, r->pattern, plen) != 0) return 0;
        const char *seg = uri + plen;
        size_t slen = path_len - plen;
        if (memchr(seg, '/', slen)) return 0;
        *tail = strndup(seg, slen);
        return 1;
    }
    case ROUTE_REST:
        if (strncmp(uri, r->pattern, plen) != 0 || uri[plen] == '\0') return 0;
        *tail = strdup(uri + plen);
        return 1;
    }
    return 0;
}

/* Compares the bearer token in constant time (over SHA-256 digests so the
 * lengths do not leak either). */
static int token_ok(const char *auth, const char *token) {
    unsigned char a[EVP_MAX_MD_SIZE], b[EVP_MAX_MD_SIZE];
    unsigned int alen = 0, blen = 0;
    if (!auth || strncmp(auth, "Bearer ", 7) != 0) return 0;
    const char *given = auth + 7;
    if (!EVP_Digest(given, strlen(given), a, &alen, EVP_sha256(), NULL) ||
        !EVP_Digest(token, strlen(token), b, &blen, EVP_sha256(), NULL) ||
        alen != blen)
        return 0;
    return CRYPTO_memcmp(a, b, alen) == 0 && token[0] != '\0';
}

/* Settles one tracked request: counts it and unlinks and frees "t". */
static void track_done(req_track *t, int status) {
    double seconds = (double)(sf_mono_us() - t->start_us) / 1e6;
    sf_coord_metrics_request(t->h->coord->metrics, t->route, status, seconds);
    LIST_REMOVE(t, link);
    free(t);
}

/* evhttp: the response of "req" has been written out; its connection
 * (still alive here) may serve the next request or close. */
static void on_complete(struct evhttp_request *req, void *arg) {
    req_track *t = arg;
    evhttp_connection_set_closecb(t->conn, NULL, NULL);
    track_done(t, evhttp_request_get_response_code(req));
}

/* evhttp: "conn" is being freed before the response of its request "arg"
 * was written out; that request never completes now (one still being
 * answered was detached and is freed on its reply). */
static void on_conn_close(struct evhttp_connection *conn, void *arg) {
    (void)conn;
    req_track *t = arg;
    evhttp_request_set_on_complete_cb(t->req, NULL, NULL);
    track_done(t, SF_HTTP_CLIENT_CLOSED);
}

/* Starts tracking "req" for the metrics (not counted when out of memory). */
static void track(sf_http *h, struct evhttp_request *req, sf_route_class cls) {
    struct evhttp_connection *conn = evhttp_request_get_connection(req);
    req_track *t = conn ? calloc(1, sizeof(*t)) : NULL;
    if (!t) return;
    t->h = h;
    t->req = req;
    t->conn = conn;
    t->route = cls;
    t->start_us = sf_mono_us();
    LIST_INSERT_HEAD(&h->reqs, t, link);
    evhttp_request_set_on_complete_cb(req, on_complete, t);
    evhttp_connection_set_closecb(conn, on_conn_close, t);
}

static void on_request(struct evhttp_request *req, void *arg) {
    sf_http *h = arg;
    sf_coord *c = h->coord;
    const char *uri = evhttp_request_get_uri(req);
    int method = (int)evhttp_request_get_command(req);
    int path_known = 0;
    const route *r = NULL;
    char *tail = NULL;
    /* evhttp calls us with no URI for a request it failed (malformed, or
     * dispatched before and its connection broke): never tracked, so a
     * request is counted at most once. */
    int tracked = uri != NULL;
    if (!uri) uri = "";
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]) && !r; i++) {
        if (!route_match(&routes[i], uri, &tail)) continue;
        if (!(routes[i].methods & method)) {
            path_known = 1;
            free(tail);
            tail = NULL;
            continue;
        }
        r = &routes[i];
    }
    if (tracked) track(h, req, r ? r->metric : SF_ROUTE_OTHER);
    if (!r) {
        if (path_known)
            sf_http_reply_error(req, 405, "method not allowed");
        else
            sf_http_reply_error(req, 404, "not found");
        return;
    }
    if (!tail) {
        sf_http_reply_error(req, 500, "out of memory");
        return;
    }
    if (r->auth && !c->cfg->dev) {
        const char *a = evhttp_find_header(evhttp_request_get_input_headers(req),
                                           "Authorization");
        if (!token_ok(a, c->cfg->token)) {
            free(tail);
            sf_http_reply_error(req, 401, a ? "invalid token"
                                            : "missing Authorization: Bearer <token>");
            return;
        }
    }
    r->fn(c, req, tail);
    free(tail);
}

sf_http *sf_http_new(sf_coord *c, sf_err *err) {
    sf_http *h = calloc(1, sizeof(*h));
    if (!h) {
        sf_err_set(err, "out of memory");
        return NULL;
    }
    h->coord = c;
    LIST_INIT(&h->reqs);
    h->http = evhttp_new(c->base);
    if (!h->http) {
        free(h);
        sf_err_set(err, "evhttp_new failed");
        return NULL;
    }
    /* evhttp answers bodies over its own limit with a bare 413; leave room
     * above max_body_bytes so a merely too-large publish gets our JSON 413,
     * and a batch can carry several bodies. */
    int64_t lim = c->cfg->max_body_bytes;
    evhttp_set_max_body_size(h->http, (ev_ssize_t)(lim * 4 + 64 * 1024));
    evhttp_set_max_headers_size(h->http, MAX_HEADERS_BYTES);
    evhttp_set_timeout(h->http, CONN_TIMEOUT_S);
    evhttp_set_allowed_methods(h->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
                                            EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT |
                                            EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS |
                                            EVHTTP_REQ_PATCH);
    evhttp_set_gencb(h->http, on_request, h);
    h->listener = evhttp_bind_socket_with_handle(h->http, c->cfg->listen_host,
                                                 (ev_uint16_t)c->cfg->listen_port);
    if (!h->listener) {
        sf_err_set(err, "cannot listen on %s:%d", c->cfg->listen_host,
                   c->cfg->listen_port);
        evhttp_free(h->http);
        free(h);
        return NULL;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    evutil_socket_t fd = evhttp_bound_socket_get_fd(h->listener);
    h->port = c->cfg->listen_port;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET)
            h->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        else if (ss.ss_family == AF_INET6)
            h->port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    }
    return h;
}

void sf_http_stop_accepting(sf_http *h) {
    if (!h || !h->listener) return;
    evhttp_del_accept_socket(h->http, h->listener);
    h->listener = NULL;
}

void sf_http_free(sf_http *h) {
    if (!h) return;
    evhttp_free(h->http); /* closes every connection: on_conn_close */
    while (!LIST_EMPTY(&h->reqs)) {
        req_track *t = LIST_FIRST(&h->reqs);
        LIST_REMOVE(t, link);
        free(t);
    }
    free(h);
}

int sf_http_port(const sf_http *h) { return h->port; }

void sf_http_reply_json(struct evhttp_request *req, int status, json_t *body) {
    static const char failed[] = "{\"error\":\"cannot encode reply\"}";
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (text)
        sf_http_send(req, status, "application/json", text, strlen(text));
    else
        sf_http_send(req, 500, "application/json", failed, sizeof(failed) - 1);
    free(text);
}

void sf_http_reply_error(struct evhttp_request *req, int status,
                         const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    /* Echoed client input may not be UTF-8; JSON strings must be. */
    if (!sf_utf8_valid(msg, strlen(msg)))
        for (char *p = msg; *p; p++)
            if ((unsigned char)*p >= 0x80) *p = '?';
    sf_http_reply_json(req, status, json_pack("{s:s}", "error", msg));
}

const char *sf_http_peer(struct evhttp_request *req) {
    struct evhttp_connection *conn = evhttp_request_get_connection(req);
    char *addr = NULL;
    ev_uint16_t port = 0;
    if (!conn) return "";
    evhttp_connection_get_peer(conn, &addr, &port);
    return addr ? addr : "";
}

int sf_http_query_or_400(struct evhttp_request *req, struct evkeyvalq *q) {
    const char *uri = evhttp_request_get_uri(req);
    const char *qs = uri ? strchr(uri, '?') : NULL;
    TAILQ_INIT(q);
    if (!qs) return 0;
    if (evhttp_parse_query_str(qs + 1, q) != 0) {
        sf_http_reply_error(req, 400, "malformed query string");
        return -1;
    }
    return 0;
}

const unsigned char *sf_http_body(struct evhttp_request *req, size_t *len) {
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    *len = evbuffer_get_length(in);
    if (*len == 0) return (const unsigned char *)"";
    return evbuffer_pullup(in, -1);
}

json_t *sf_json_with_cursor(json_t *o, const char *cursor) {
    if (o && cursor && cursor[0])
        json_object_set_new(o, "cursor", json_string(cursor));
    return o;
}
