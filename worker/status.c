/* status.c - /metrics, /healthz and /readyz of the worker (status.h). */
#include "status.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "http_reply.h"
#include "log.h"
#include "util.h"

#define MAX_HEADERS_BYTES (8 * 1024)
#define MAX_BODY_BYTES (4 * 1024)
#define CONN_TIMEOUT_S 10

struct sf_status_srv {
    struct evhttp *http; /* owned */
    const sf_metrics *metrics; /* borrowed */
    sf_status_ready_fn *ready;
    void *arg;
    int port;
};

/* {"<key>":"<text>"}; "text" is one of our own static strings (no quotes
 * or backslashes to escape). */
static void reply_json(struct evhttp_request *req, int status, const char *key,
                       const char *text) {
    char body[160];
    int n = snprintf(body, sizeof(body), "{\"%s\":\"%s\"}\n", key, text);
    size_t len = n < 0 ? 0 : (size_t)n >= sizeof(body) ? sizeof(body) - 1
                                                        : (size_t)n;
    sf_http_send(req, status, "application/json", body, len);
}

static void on_request(struct evhttp_request *req, void *arg) {
    sf_status_srv *s = arg;
    evhttp_add_header(evhttp_request_get_output_headers(req), "Cache-Control",
                      "no-store");
    const char *uri = evhttp_request_get_uri(req);
    if (!uri) uri = "";
    size_t path_len = strcspn(uri, "?#");
    enum { P_OTHER, P_METRICS, P_HEALTHZ, P_READYZ } path = P_OTHER;
    if (path_len == 8 && strncmp(uri, "/metrics", 8) == 0)
        path = P_METRICS;
    else if (path_len == 8 && strncmp(uri, "/healthz", 8) == 0)
        path = P_HEALTHZ;
    else if (path_len == 7 && strncmp(uri, "/readyz", 7) == 0)
        path = P_READYZ;
    if (path == P_OTHER) {
        reply_json(req, 404, "error", "not found");
        return;
    }
    enum evhttp_cmd_type method = evhttp_request_get_command(req);
    if (method != EVHTTP_REQ_GET && method != EVHTTP_REQ_HEAD) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow",
                          "GET, HEAD");
        reply_json(req, 405, "error", "method not allowed");
        return;
    }
    switch (path) {
    case P_METRICS:
        sf_http_send_metrics(req, s->metrics);
        break;
    case P_HEALTHZ:
        reply_json(req, 200, "status", "ok");
        break;
    case P_READYZ: {
        const char *why = s->ready ? s->ready(s->arg) : NULL;
        if (why)
            reply_json(req, 503, "error", why);
        else
            reply_json(req, 200, "status", "ready");
        break;
    }
    case P_OTHER:
        break;
    }
}

/* Binds the listener (status.h). */
sf_status_srv *sf_status_srv_new(struct event_base *base, const char *host,
                                 int port, const sf_metrics *metrics,
                                 sf_status_ready_fn *ready, void *arg,
                                 sf_err *err) {
    sf_status_srv *s = calloc(1, sizeof(*s));
    if (!s) {
        sf_err_set(err, "out of memory");
        return NULL;
    }
    s->metrics = metrics;
    s->ready = ready;
    s->arg = arg;
    s->http = evhttp_new(base);
    if (!s->http) {
        free(s);
        sf_err_set(err, "evhttp_new failed");
        return NULL;
    }
    evhttp_set_max_headers_size(s->http, MAX_HEADERS_BYTES);
    evhttp_set_max_body_size(s->http, MAX_BODY_BYTES);
    evhttp_set_timeout(s->http, CONN_TIMEOUT_S);
    /* Every method reaches on_request, which answers 405 in JSON (evhttp
     * itself would answer a bare 501 for a method it was not given). */
    evhttp_set_allowed_methods(
        s->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                     EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS |
                     EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
    evhttp_set_gencb(s->http, on_request, s);
    errno = 0;
    struct evhttp_bound_socket *l =
        evhttp_bind_socket_with_handle(s->http, host, (ev_uint16_t)port);
    const char *lb = strchr(host, ':') ? "[" : "", *rb = *lb ? "]" : "";
    if (!l) {
        int e = errno;
        sf_err_set(err,
                   "cannot listen on %s%s%s:%d (STEPFLOW_METRICS_LISTEN): %s",
                   lb, host, rb, port, e ? strerror(e) : "bind failed");
        evhttp_free(s->http);
        free(s);
        return NULL;
    }
    s->port = port;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (getsockname(evhttp_bound_socket_get_fd(l), (struct sockaddr *)&ss,
                    &sl) == 0) {
        if (ss.ss_family == AF_INET)
            s->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        else if (ss.ss_family == AF_INET6)
            s->port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    }
    sf_info("metrics_listen addr=%s%s%s:%d", lb, host, rb, s->port);
    return s;
}

int sf_status_srv_port(const sf_status_srv *s) { return s ? s->port : -1; }

/* Closes everything (status.h). */
void sf_status_srv_free(sf_status_srv *s) {
    if (!s) return;
    evhttp_free(s->http);
    free(s);
}
