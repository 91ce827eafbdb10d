#include "api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A reply bigger than this is cut off: the CLI prints pages of at most 100
 * DLQ entries, each size-bounded by the coordinator. */
#define SF_CLI_MAX_REPLY (64u * 1024 * 1024)

/* Growable receive buffer for the body. */
typedef struct recv_buf {
    char *data;
    size_t len, cap;
    int overflow;
} recv_buf;

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *arg) {
    recv_buf *b = arg;
    size_t n = size * nmemb;
    if (b->overflow || b->len + n > SF_CLI_MAX_REPLY) {
        b->overflow = 1;
        return 0; /* makes curl fail with CURLE_WRITE_ERROR */
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1) cap *= 2;
        char *p = realloc(b->data, cap);
        if (!p) return 0;
        b->data = p;
        b->cap = cap;
    }
    memcpy(b->data + b->len, ptr, n);
    b->len += n;
    b->data[b->len] = '\0';
    return n;
}

/* Initialises libcurl's globals once and creates the easy handle. */
int sf_cli_api_init(sf_cli_api *api, const char *base_url, const char *token) {
    memset(api, 0, sizeof(*api));
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) return -1;
    api->curl = curl_easy_init();
    if (!api->curl) return -1;
    api->base_url = base_url;
    api->token = token;
    return 0;
}

/* Frees the easy handle and libcurl's globals. */
void sf_cli_api_cleanup(sf_cli_api *api) {
    if (api->curl) {
        curl_easy_cleanup(api->curl);
        api->curl = NULL;
        curl_global_cleanup();
    }
}

/* Frees what a request left in "r". */
void sf_cli_reply_cleanup(sf_cli_reply *r) {
    free(r->body);
    if (r->json) json_decref(r->json);
    memset(r, 0, sizeof(*r));
}

/* Adds one header line to the list. */
int sf_cli_headers_add(sf_cli_headers *h, const char *name, const char *value) {
    size_t n = strlen(name) + strlen(value) + 3;
    char *line = malloc(n);
    if (!line) return -1;
    /* "Name:" with an empty value would make curl drop the header; "Name;"
     * is curl's spelling for "send it empty". */
    if (value[0] == '\0')
        snprintf(line, n, "%s;", name);
    else
        snprintf(line, n, "%s: %s", name, value);
    struct curl_slist *l = curl_slist_append(h->list, line);
    free(line);
    if (!l) return -1;
    h->list = l;
    return 0;
}

/* Frees the header list. */
void sf_cli_headers_cleanup(sf_cli_headers *h) {
    curl_slist_free_all(h->list);
    h->list = NULL;
}

/* Percent-encodes everything but RFC 3986 unreserved characters. */
char *sf_cli_escape(const char *s) {
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(s);
    char *out = malloc(n * 3 + 1), *o = out;
    if (!out) return NULL;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
            (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_' ||
            *p == '~') {
            *o++ = (char)*p;
        } else {
            *o++ = '%';
            *o++ = hex[*p >> 4];
            *o++ = hex[*p & 15];
        }
    }
    *o = '\0';
    return out;
}

/* Picks the error text out of a non-2xx reply. */
const char *sf_cli_reply_error(const sf_cli_reply *r) {
    if (r->json && json_is_object(r->json)) {
        const char *e = json_string_value(json_object_get(r->json, "error"));
        if (e && e[0]) return e;
    }
    if (r->body && r->body[0]) {
        /* First line only, so a HTML error page does not flood stderr. */
        char *nl = strpbrk(r->body, "\r\n");
        if (nl) *nl = '\0';
        return r->body;
    }
    return "no body";
}

/* Builds "<base_url><path>" without doubling the slash between them. */
static char *join_url(const char *base, const char *path) {
    size_t bl = strlen(base);
    while (bl > 0 && base[bl - 1] == '/') bl--;
    size_t n = bl + strlen(path) + 1;
    char *u = malloc(n);
    if (!u) return NULL;
    snprintf(u, n, "%.*s%s", (int)bl, base, path);
    return u;
}

/* Performs one request; see api.h. */
sf_cli_result sf_cli_api_request(sf_cli_api *api, const char *method,
                                 const char *path,
                                 const sf_cli_headers *headers,
                                 const void *body, size_t body_len,
                                 sf_cli_reply *out) {
    memset(out, 0, sizeof(*out));
    api->error[0] = '\0';
    CURL *c = api->curl;
    char *url = join_url(api->base_url, path);
    char *auth = NULL;
    struct curl_slist *list = NULL;
    recv_buf rb = {0};
    char curl_err[CURL_ERROR_SIZE] = "";
    sf_cli_result res = SF_CLI_UNREACHABLE;

    if (!url) {
        snprintf(api->error, sizeof(api->error), "out of memory");
        return SF_CLI_UNREACHABLE;
    }
    /* Copy the caller's headers: the Authorization line is added per call. */
    for (const struct curl_slist *h = headers ? headers->list : NULL; h;
         h = h->next) {
        struct curl_slist *l = curl_slist_append(list, h->data);
        if (!l) goto oom;
        list = l;
    }
    if (api->token && api->token[0]) {
        size_t n = strlen(api->token) + sizeof("Authorization: Bearer ");
        auth = malloc(n);
        if (!auth) goto oom;
        snprintf(auth, n, "Authorization: Bearer %s", api->token);
        struct curl_slist *l = curl_slist_append(list, auth);
        if (!l) goto oom;
        list = l;
    }
    /* A bodiless POST needs no form-urlencoded label from curl. */
    if (!headers && body_len == 0) {
        struct curl_slist *l0 = curl_slist_append(list, "Content-Type:");
        if (!l0) goto oom;
        list = l0;
    }
    /* No "Expect: 100-continue" round trip for large bodies. */
    struct curl_slist *l = curl_slist_append(list, "Expect:");
    if (!l) goto oom;
    list = l;

    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &rb);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curl_err);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 120000L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_USERAGENT, "stepflow-cli/0.1");
    if (body_len > 0 || strcmp(method, "POST") == 0 ||
        strcmp(method, "PUT") == 0 || strcmp(method, "PATCH") == 0) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    }

    CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK) {
        const char *why = curl_err[0] ? curl_err : curl_easy_strerror(rc);
        if (rb.overflow) why = "reply too large";
        snprintf(api->error, sizeof(api->error), "%s", why);
        if (rb.overflow)
            res = SF_CLI_BAD_REPLY;
        else if (rc == CURLE_URL_MALFORMAT || rc == CURLE_UNSUPPORTED_PROTOCOL)
            res = SF_CLI_BAD_URL;
        else
            res = SF_CLI_UNREACHABLE;
        free(rb.data);
        goto done;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    if (!rb.data) rb.data = calloc(1, 1);
    if (!rb.data) goto oom;
    out->body = rb.data;
    out->body_len = rb.len;
    if (rb.len > 0)
        out->json = json_loadb(rb.data, rb.len, JSON_DECODE_ANY, NULL);
    res = (out->status >= 200 && out->status < 300) ? SF_CLI_OK
                                                    : SF_CLI_HTTP_ERROR;
    goto done;

oom:
    snprintf(api->error, sizeof(api->error), "out of memory");
    res = SF_CLI_UNREACHABLE;
done:
    /* curl_err and list die with this frame: unhook them. */
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(list);
    free(auth);
    free(url);
    return res;
}
