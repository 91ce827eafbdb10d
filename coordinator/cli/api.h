/* api.h - the CLI's HTTP client for the coordinator's API.
 *
 * One blocking libcurl easy handle per process (the CLI makes one request,
 * or a short series of them for `dlq list --all`, then exits: no event loop
 * is needed).  Each call sends the bearer token when one is set and hands
 * back the status, the raw body and, when the body is JSON, the parsed
 * value.  A failure to talk to the coordinator at all (refused, timed out,
 * bad host) is reported apart from an HTTP error answer, so that main() can
 * map them to different exit codes.
 *
 * Ownership: the caller owns the sf_cli_api and every sf_cli_reply it
 * passes in; sf_cli_reply_cleanup() frees the body and the JSON value. */
#ifndef SF_CLI_API_H
#define SF_CLI_API_H

#include <curl/curl.h>
#include <jansson.h>
#include <stddef.h>

typedef enum sf_cli_result {
    SF_CLI_OK = 0,      /* 2xx */
    SF_CLI_HTTP_ERROR,  /* the API answered non-2xx */
    SF_CLI_UNREACHABLE, /* no answer at all: see sf_cli_api.error */
    SF_CLI_BAD_URL,     /* the coordinator URL itself is unusable */
    SF_CLI_BAD_REPLY,   /* an answer came but could not be read (too
                           large): see sf_cli_api.error */
} sf_cli_result;

typedef struct sf_cli_api {
    const char *base_url; /* borrowed; no trailing slash needed */
    const char *token;    /* borrowed; NULL or "" = no Authorization */
    CURL *curl;           /* owned */
    char error[CURL_ERROR_SIZE + 64]; /* last transport error, one line */
} sf_cli_api;

typedef struct sf_cli_reply {
    long status; /* HTTP status, 0 when there was none */
    char *body;  /* owned, NUL-terminated; never NULL after a
                    request that reached the server */
    size_t body_len;
    json_t *json; /* owned parsed body, NULL if not JSON */
} sf_cli_reply;

/* A request header list in the making (curl_slist underneath). */
typedef struct sf_cli_headers {
    struct curl_slist *list; /* owned */
} sf_cli_headers;

/* Prepares "api" for "base_url" and "token" (both borrowed for its whole
 * life).  Returns 0, or -1 when libcurl cannot be initialised. */
int sf_cli_api_init(sf_cli_api *api, const char *base_url, const char *token);
/* Frees the curl handle; "api" can be discarded afterwards. */
void sf_cli_api_cleanup(sf_cli_api *api);

/* Sends "method" "path" (starting with '/', query string included, already
 * escaped) with the optional "headers" and body bytes ("body" may be NULL
 * when "body_len" is 0).  Fills "out" (cleaned up by the caller in every
 * case).  Returns how the exchange went. */
sf_cli_result sf_cli_api_request(sf_cli_api *api, const char *method,
                                 const char *path,
                                 const sf_cli_headers *headers,
                                 const void *body, size_t body_len,
                                 sf_cli_reply *out);

/* Frees the body and the JSON of "r" and zeroes it. */
void sf_cli_reply_cleanup(sf_cli_reply *r);

/* The API's error message for a non-2xx reply: the "error" string of a JSON
 * body, else the body itself (first line), else "no body".  The pointer is
 * borrowed from "r". */
const char *sf_cli_reply_error(const sf_cli_reply *r);

/* Appends "Name: value" to "h".  Returns 0, or -1 on allocation failure. */
int sf_cli_headers_add(sf_cli_headers *h, const char *name, const char *value);
void sf_cli_headers_cleanup(sf_cli_headers *h);

/* Returns a malloc'd percent-encoded copy of "s" for use in a path segment
 * or a query value (RFC 3986 unreserved characters pass as they are), or
 * NULL on allocation failure. */
char *sf_cli_escape(const char *s);

#endif
