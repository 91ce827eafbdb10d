/* ui.c - placeholder until its owner lands it. */
#include "api.h"

void sf_api_ui(sf_coord *c, struct evhttp_request *req, const char *tail) {
    (void)c, (void)tail;
    sf_http_reply_error(req, 501, "not implemented yet");
}
