/* ui.h - the operator dashboard's static files, embedded in the
 * coordinator binary.
 *
 * Every file of coordinator/ui/ (index.html, app.js, app.css, the icon) is
 * turned into a C table at build time by embed_ui.cmake: its name, its
 * Content-Type (from the extension), its bytes and a strong ETag derived
 * from the SHA-256 of the bytes.  Nothing is installed beside the binary,
 * the page needs no CDN, and every coordinator replica built from the same
 * tree serves the same bytes under the same ETag.
 *
 * ui.c serves them (no auth: the page itself asks for the API token and
 * calls the public /v2 API with it):
 *   GET /            index.html
 *   GET /ui/<name>   the file named exactly <name>; anything else, a path
 *                    with "/" or "..", or an encoded name included, is a
 *                    404 JSON {"error": ...} (only table names match, so
 *                    no path can reach outside the table)
 * (HEAD answers the same headers without the body)
 * with Cache-Control: no-cache plus ETag (If-None-Match -> 304),
 * Content-Security-Policy (default-src 'self': the page has no inline
 * script or style), X-Content-Type-Options: nosniff, no framing.
 *
 * Pure lookups below; the table is static data, nothing to free. */
#ifndef SF_COORD_UI_H
#define SF_COORD_UI_H

#include <stddef.h>

typedef struct sf_ui_asset {
    const char *name;          /* file name in coordinator/ui, e.g. "app.js" */
    const char *content_type;  /* e.g. "text/javascript; charset=utf-8" */
    const unsigned char *data; /* the bytes (NUL-terminated, not counted) */
    size_t len;                /* bytes */
    const char *etag;          /* quoted strong ETag, e.g. "\"3f2a...\"" */
} sf_ui_asset;

/* The generated table (build dir: ui_assets.c), sorted by name. */
extern const sf_ui_asset sf_ui_assets[];
extern const size_t sf_ui_asset_count;

/* The asset named exactly "[name, name+len)", or NULL. */
const sf_ui_asset *sf_ui_find(const char *name, size_t len);

/* 1 if the If-None-Match value "inm" (a comma list of entity tags, weak
 * "W/" ones compared weakly, or "*") names "etag"; 0 otherwise or when
 * "inm" is NULL. */
int sf_ui_etag_matches(const char *inm, const char *etag);

#endif
