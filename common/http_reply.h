/* http_reply.h - how both processes' evhttp servers answer a request.
 *
 * One place for what every reply needs whatever the server: the reason
 * phrase of the status, the Content-Type, and HEAD (evhttp 2.1 would send
 * a HEAD reply's body too: here HEAD gets the same headers and the
 * Content-Length of the body it would have had, and no body).  The
 * Prometheus page is here too because both processes serve it. */
#ifndef SF_HTTP_REPLY_H
#define SF_HTTP_REPLY_H

#include <event2/http.h>
#include <stddef.h>

#include "metrics.h"

#define SF_PROMETHEUS_TEXT "text/plain; version=0.0.4; charset=utf-8"

/* The reason phrase of "status" ("Error" for one not listed). */
const char *sf_http_reason(int status);

/* Sends "len" bytes of "body" (copied; NULL with len 0 for none) with
 * "status" and, unless NULL, "content_type". */
void sf_http_send(struct evhttp_request *req, int status,
                  const char *content_type, const void *body, size_t len);

/* 200 with the text exposition of "reg". */
void sf_http_send_metrics(struct evhttp_request *req, const sf_metrics *reg);

#endif
