/* http_reply.c - status, Content-Type, HEAD and the metrics page for both
 * processes' evhttp servers (see http_reply.h). */
#include "http_reply.h"

#include <event2/buffer.h>
#include <stdio.h>

#include "util.h"

const char *sf_http_reason(int status) {
    switch (status) {
    case 200: return "OK";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Error";
    }
}

void sf_http_send(struct evhttp_request *req, int status,
                  const char *content_type, const void *body, size_t len) {
    struct evkeyvalq *hdrs = evhttp_request_get_output_headers(req);
    if (content_type) evhttp_add_header(hdrs, "Content-Type", content_type);
    struct evbuffer *out = NULL;
    if (evhttp_request_get_command(req) == EVHTTP_REQ_HEAD) {
        char clen[32];
        snprintf(clen, sizeof(clen), "%zu", len);
        evhttp_add_header(hdrs, "Content-Length", clen);
    } else if (len > 0 && (out = evbuffer_new()) != NULL) {
        evbuffer_add(out, body, len);
    }
    evhttp_send_reply(req, status, sf_http_reason(status), out);
    if (out) evbuffer_free(out);
}

void sf_http_send_metrics(struct evhttp_request *req, const sf_metrics *reg) {
    sf_buf text;
    sf_buf_init(&text);
    sf_metrics_render(reg, &text);
    sf_http_send(req, 200, SF_PROMETHEUS_TEXT, text.data, text.len);
    sf_buf_cleanup(&text);
}
