/* http.h - the coordinator's HTTP server: routing, auth and JSON replies.
 *
 * An evhttp server on the coordinator's event_base.  Every request goes
 * through one generic callback that checks the route table (method + path
 * pattern), the bearer token on /v2 routes (constant time; skipped with
 * cfg.dev), and then calls the route's handler.  Unknown paths answer 404,
 * a known path with another method 405, a bad token 401: always a JSON
 * body {"error": "..."}.
 *
 * A handler owns the request until it answers it exactly once, possibly
 * later from a Redis callback.  If the client goes away meanwhile, evhttp
 * detaches the request and frees it on that reply, so a late reply is safe.
 * Ownership: sf_http_free() closes the listener and every connection. */
#ifndef SF_COORD_HTTP_H
#define SF_COORD_HTTP_H

#include <event2/http.h>
#include <jansson.h>
#include <stdint.h>
#include "coord.h"
#include "err.h"
#include "http_reply.h"

/* A route handler; "tail" is the rest of the raw URI after the route's
 * prefix (for the prefix routes: the publish destination or a dlqId),
 * "" for exact routes. */
typedef void sf_http_handler(sf_coord *c, struct evhttp_request *req,
                             const char *tail);

/* Creates the server, binds cfg.listen_host:cfg.listen_port and starts
 * accepting.  Returns NULL with the reason in "err". */
sf_http *sf_http_new(sf_coord *c, sf_err *err);
/* Stops accepting new connections (requests in flight still finish). */
void sf_http_stop_accepting(sf_http *h);
/* Closes everything and frees; NULL is a no-op. */
void sf_http_free(sf_http *h);
/* The port actually bound (useful with port 0). */
int sf_http_port(const sf_http *h);

/* Replies "status" with the JSON "body" (stolen: decref'd here). */
void sf_http_reply_json(struct evhttp_request *req, int status, json_t *body);

/* Adds "cursor" to the object "o" when "cursor" is a non-empty string (the
 * API omits it on the last page, as QStash does) and returns "o". */
json_t *sf_json_with_cursor(json_t *o, const char *cursor);
/* Replies "status" with {"error": <formatted text>}. */
void sf_http_reply_error(struct evhttp_request *req, int status,
                         const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The numeric address of the client, "" when unknown (borrowed from the
 * connection; valid while the request lives). */
const char *sf_http_peer(struct evhttp_request *req);

/* Parses the query string of "req" into "q" (decoded, repeated keys kept);
 * returns 0, or -1 after answering 400. */
int sf_http_query_or_400(struct evhttp_request *req, struct evkeyvalq *q);

/* The request body as a contiguous buffer (pointer into evhttp's buffer,
 * valid until the reply) and its length in "*len". */
const unsigned char *sf_http_body(struct evhttp_request *req, size_t *len);

#endif
