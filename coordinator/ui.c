/* ui.c - GET / and GET /ui/<asset>: the dashboard's embedded files (see
 * ui.h for the contract; the table comes from embed_ui.cmake).  HEAD on
 * the same paths answers the same status and headers (Content-Length of
 * the file included) without a body. */
#include "ui.h"

#include <string.h>

#include "api.h"

/* default-src 'self': scripts, styles, images and fetch() from this origin
 * only, so no inline script or style runs even if API data were ever
 * rendered as markup; the page may not be framed (clickjacking of the
 * destructive buttons). */
#define UI_CSP "default-src 'self'; base-uri 'none'; form-action 'self'; " \
               "frame-ancestors 'none'"

const sf_ui_asset *sf_ui_find(const char *name, size_t len) {
    for (size_t i = 0; i < sf_ui_asset_count; i++) {
        const sf_ui_asset *a = &sf_ui_assets[i];
        if (strlen(a->name) == len && memcmp(a->name, name, len) == 0) return a;
    }
    return NULL;
}

int sf_ui_etag_matches(const char *inm, const char *etag) {
    if (!inm || !etag) return 0;
    size_t elen = strlen(etag);
    const char *p = inm;
    while (*p) {
        p += strspn(p, " \t,");
        if (!*p) break;
        size_t n = strcspn(p, ",");
        size_t m = n;
        while (m > 0 && (p[m - 1] == ' ' || p[m - 1] == '\t')) m--;
        const char *tag = p;
        if (m == 1 && tag[0] == '*') return 1;
        /* If-None-Match uses the weak comparison (RFC 9110 13.1.2) */
        if (m > 2 && tag[0] == 'W' && tag[1] == '/') tag += 2, m -= 2;
        if (m == elen && memcmp(tag, etag, elen) == 0) return 1;
        p += n;
    }
    return 0;
}

/* The headers every asset answer (200 and 304) carries. */
static void add_common_headers(struct evkeyvalq *h, const sf_ui_asset *a) {
    evhttp_add_header(h, "Cache-Control", "no-cache");
    evhttp_add_header(h, "ETag", a->etag);
    evhttp_add_header(h, "Content-Security-Policy", UI_CSP);
    evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
    evhttp_add_header(h, "X-Frame-Options", "DENY");
    evhttp_add_header(h, "Referrer-Policy", "no-referrer");
}

void sf_api_ui(sf_coord *c, struct evhttp_request *req, const char *tail) {
    (void)c;
    /* "/" arrives with tail "", "/ui/<name>" with the raw rest of the URI
     * (query included): the name is what comes before '?' or '#'. */
    const char *name = tail[0] ? tail : "index.html";
    size_t len = strcspn(name, "?#");
    const sf_ui_asset *a = sf_ui_find(name, len);
    if (!a) {
        sf_http_reply_error(req, 404, "no such dashboard file");
        return;
    }
    struct evkeyvalq *out = evhttp_request_get_output_headers(req);
    const char *inm = evhttp_find_header(evhttp_request_get_input_headers(req),
                                         "If-None-Match");
    add_common_headers(out, a);
    if (sf_ui_etag_matches(inm, a->etag))
        sf_http_send(req, 304, NULL, NULL, 0);
    else
        sf_http_send(req, 200, a->content_type, a->data, a->len);
}
