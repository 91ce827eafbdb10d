/* cli.c - the helpers the commands share (see cli.h). */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "output.h"

/* Formats a message and writes it to stderr made safe for the terminal
 * (it may quote what the API, Redis or argv hold); keeps a copy in
 * "keep" when not NULL (made safe the same way, so valid UTF-8). */
static void print_message(const char *pre, const char *post, char *keep,
                          size_t keep_size, const char *fmt, va_list ap) {
    char msg[4096];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    char *clean = sf_out_clean(msg);
    fprintf(stderr, "%s%s%s\n", pre, clean ? clean : msg, post);
    if (keep) sf_out_clip(msg, SIZE_MAX, keep, keep_size);
    free(clean);
}

int sf_cli_usage_error(const char *cmd, const char *fmt, ...) {
    char post[128];
    va_list ap;
    snprintf(post, sizeof(post), " (see `stepflow %s%s--help`)",
             cmd ? cmd : "", cmd ? " " : "");
    va_start(ap, fmt);
    print_message("stepflow: ", post, NULL, 0, fmt, ap);
    va_end(ap);
    return SF_EXIT_USAGE;
}

int sf_cli_fail(int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    print_message("error: ", "", NULL, 0, fmt, ap);
    va_end(ap);
    return code;
}

/* sf_cli_fail that also keeps the message in ctx->error. */
static int ctx_fail(sf_cli_ctx *ctx, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int ctx_fail(sf_cli_ctx *ctx, int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    print_message("error: ", "", ctx->error, sizeof(ctx->error), fmt, ap);
    va_end(ap);
    return code;
}

const char *sf_cli_url_shown(const char *url, char *out, size_t out_size) {
    const char *host = strstr(url, "://");
    host = host ? host + 3 : url;
    size_t auth_len = strcspn(host, "/?#");
    const char *at = NULL;
    for (const char *p = host; p < host + auth_len; p++)
        if (*p == '@') at = p;
    if (at)
        snprintf(out, out_size, "%.*s%s", (int)(host - url), url, at + 1);
    else
        snprintf(out, out_size, "%s", url);
    return out;
}

const char *sf_cli_opt_get(const sf_cli_args *a, const char *name) {
    const char *v = NULL;
    for (int i = 0; i < a->n_opts; i++)
        if (!a->opt_global[i] && strcmp(a->opt_name[i], name) == 0)
            v = a->opt_val[i] ? a->opt_val[i] : "";
    return v;
}

int sf_cli_parse_uint(const char *s, long long max, long long *out) {
    if (!s || !*s || strlen(s) > 18) return -1;
    for (const char *p = s; *p; p++)
        if (*p < '0' || *p > '9') return -1;
    errno = 0;
    long long v = strtoll(s, NULL, 10);
    if (errno || v > max) return -1;
    *out = v;
    return 0;
}

int sf_cli_no_positionals(const sf_cli_ctx *ctx, const sf_cli_args *a) {
    if (a->n_pos)
        return sf_cli_usage_error(ctx->cmd, "unexpected argument '%s'",
                                  a->pos[0]);
    return 0;
}

int sf_cli_list_check(const sf_cli_ctx *ctx, const sf_cli_args *a,
                      long long max) {
    const char *v = sf_cli_opt_get(a, "--count");
    long long count = 0;
    int rc = sf_cli_no_positionals(ctx, a);
    if (rc == 0 && v && (sf_cli_parse_uint(v, max, &count) != 0 || count < 1))
        rc = sf_cli_usage_error(ctx->cmd, "--count wants 1..%lld, got '%s'",
                                max, v);
    return rc;
}

char *sf_cli_read_file(const char *path, size_t *len_out) {
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) return NULL;
    sf_buf b;
    sf_buf_init(&b);
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) sf_buf_append(&b, chunk, n);
    int failed = ferror(f);
    if (f != stdin) fclose(f);
    if (failed) {
        sf_buf_cleanup(&b);
        errno = EIO;
        return NULL;
    }
    sf_buf_append(&b, "", 0); /* an empty file is an empty body, not NULL */
    return sf_buf_take(&b, len_out);
}

void sf_cli_query_add(sf_buf *q, const char *name, const char *value) {
    char *esc = sf_cli_escape(value);
    sf_buf_appendf(q, "%c%s=%s", q->data && strchr(q->data, '?') ? '&' : '?',
                   name, esc ? esc : "");
    free(esc);
}

char *sf_cli_id_path(const char *prefix, const char *id) {
    char *esc = sf_cli_escape(id);
    if (!esc) return NULL;
    sf_buf b;
    sf_buf_init(&b);
    sf_buf_appendf(&b, "%s%s", prefix, esc);
    free(esc);
    return sf_buf_take(&b, NULL);
}

/* The API's error text of a 404, when it names the entity asked for:
 * the coordinator answers "dlq message [<id>] not found" and "workflow run
 * <id> not found".  NULL for any other 404: a route it does not serve
 * ("not found": a wrong base URL or path) or another server's page. */
static const char *entity_not_found(const sf_cli_reply *rep) {
    const char *e = json_string_value(json_object_get(rep->json, "error"));
    size_t n = e ? strlen(e) : 0;
    if (n < 10 || strcmp(e + n - 10, " not found") != 0) return NULL;
    if (strncmp(e, "dlq message", 11) == 0 ||
        strncmp(e, "workflow run ", 13) == 0)
        return e;
    return NULL;
}

int sf_cli_call(sf_cli_ctx *ctx, const char *method, const char *path,
                const sf_cli_headers *headers, const void *body,
                size_t body_len, const char *what, sf_cli_reply *rep) {
    char url[512];
    sf_cli_result r = sf_cli_api_request(&ctx->api, method, path, headers,
                                         body, body_len, rep);
    sf_cli_url_shown(ctx->url, url, sizeof(url));
    switch (r) {
    case SF_CLI_OK:
        return -1;
    case SF_CLI_HTTP_ERROR: {
        const char *msg = sf_cli_reply_error(rep);
        if (ctx->json) {
            /* The API's JSON error; another server's page as one. */
            char *clean = json_is_object(rep->json) ? NULL : sf_out_clean(msg);
            if (json_is_object(rep->json))
                sf_cli_print_json(json_incref(rep->json));
            else /* cleaned: a JSON string must be UTF-8 */
                sf_cli_print_json(json_pack("{s:s,s:I}", "error",
                                            clean ? clean : "?", "status",
                                            (json_int_t)rep->status));
            free(clean);
        }
        if (rep->status == 404 && what && entity_not_found(rep))
            return ctx_fail(ctx, SF_EXIT_NOTFOUND, "%s not found", what);
        if (rep->status == 404 &&
            (!json_is_object(rep->json) || strcmp(msg, "not found") == 0))
            return ctx_fail(ctx, SF_EXIT_ERROR,
                            "%s (HTTP 404 for %s %s%s: is %s the "
                            "coordinator's URL?)",
                            msg, method, url, path, url);
        return ctx_fail(ctx, SF_EXIT_ERROR, "%s (HTTP %ld)", msg,
                        rep->status);
    }
    case SF_CLI_BAD_URL:
        sf_cli_usage_error(NULL, "bad coordinator URL '%s': %s", url,
                           ctx->api.error);
        snprintf(ctx->error, sizeof(ctx->error), "bad coordinator URL");
        return SF_EXIT_USAGE;
    case SF_CLI_BAD_REPLY:
        return ctx_fail(ctx, SF_EXIT_ERROR,
                        "unreadable reply from the coordinator at %s: %s", url,
                        ctx->api.error);
    case SF_CLI_UNREACHABLE:
    default:
        return ctx_fail(ctx, SF_EXIT_ERROR,
                        "cannot reach the coordinator at %s: %s", url,
                        ctx->api.error);
    }
}

int sf_cli_bulk_call(sf_cli_ctx *ctx, const char *method, const char *path,
                     const sf_cli_headers *headers, const char *what,
                     sf_cli_reply *rep) {
    int json = ctx->json;
    ctx->json = 0;
    int rc = sf_cli_call(ctx, method, path, headers, NULL, 0, what, rep);
    ctx->json = json;
    return rc;
}

void sf_cli_note_failed_id(int rc, const char *id, json_t *missing,
                           json_t *failed) {
    if (rc == SF_EXIT_NOTFOUND)
        json_array_append_new(missing, json_string(id));
    else if (rc >= 0)
        json_array_append_new(failed, json_string(id));
}

void sf_cli_print_raw(const sf_cli_reply *rep) {
    if (rep->json) {
        sf_cli_print_json(json_incref(rep->json));
    } else if (rep->body_len) {
        char *clean = sf_out_clean(rep->body);
        if (clean) printf("%s\n", clean);
        free(clean);
    }
}

void sf_cli_print_json(json_t *v) {
    /* ASCII only: a string holding ESC or a C1 control goes out as \uXXXX,
     * never as a byte a terminal would act on. */
    char *s = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY |
                                    JSON_ENSURE_ASCII)
                : NULL;
    if (s) printf("%s\n", s);
    free(s);
    json_decref(v);
}

int sf_cli_bad_reply(sf_cli_ctx *ctx, const sf_cli_reply *rep,
                     const char *what) {
    return ctx_fail(ctx, SF_EXIT_ERROR,
                    "unexpected reply from the coordinator: %s (HTTP %ld)",
                    what, rep->status);
}

char *sf_cli_next_cursor(const sf_cli_reply *rep, char *cur) {
    const char *nc = json_string_value(json_object_get(rep->json, "cursor"));
    int same = nc && cur && strcmp(nc, cur) == 0;
    free(cur);
    return nc && *nc && !same ? strdup(nc) : NULL;
}

int sf_cli_get_pages(sf_cli_ctx *ctx, const char *base, const char *key,
                     const char *count, const char *cursor, int max_pages,
                     json_t *out, char **next) {
    char *cur = cursor ? strdup(cursor) : NULL;
    int rc = -1;
    for (int pages = 0; pages < max_pages; pages++) {
        sf_buf path;
        sf_buf_init(&path);
        sf_buf_appends(&path, base);
        if (count) sf_cli_query_add(&path, "count", count);
        if (cur) sf_cli_query_add(&path, "cursor", cur);
        sf_cli_reply rep;
        rc = sf_cli_call(ctx, "GET", path.data, NULL, NULL, 0, NULL, &rep);
        sf_buf_cleanup(&path);
        const json_t *items = json_object_get(rep.json, key);
        if (rc < 0 && !json_is_array(items)) {
            char what[64];
            snprintf(what, sizeof(what), "no %s array", key);
            rc = sf_cli_bad_reply(ctx, &rep, what);
        }
        if (rc >= 0) {
            sf_cli_reply_cleanup(&rep);
            break;
        }
        json_array_extend(out, (json_t *)items);
        cur = sf_cli_next_cursor(&rep, cur);
        sf_cli_reply_cleanup(&rep);
        if (!cur) break;
    }
    if (rc >= 0) {
        free(cur);
        cur = NULL;
    }
    *next = cur;
    return rc;
}

int sf_cli_list(sf_cli_ctx *ctx, const sf_cli_args *a, const char *base,
                const char *key, int max_pages,
                void (*table)(FILE *f, const json_t *items)) {
    json_t *items = json_array();
    char *next = NULL;
    int rc = sf_cli_get_pages(ctx, base, key, sf_cli_opt_get(a, "--count"),
                              sf_cli_opt_get(a, "--cursor"),
                              sf_cli_opt_get(a, "--all") ? max_pages : 1,
                              items, &next);
    if (rc < 0) {
        rc = SF_EXIT_OK;
        if (ctx->json) {
            json_t *o = json_pack("{s:O}", key, items);
            if (o && next) json_object_set_new(o, "cursor", json_string(next));
            sf_cli_print_json(o);
        } else {
            table(stdout, items);
            if (next) {
                char *clean = sf_out_clean(next);
                printf("next cursor: %s\n", clean ? clean : "-");
                free(clean);
            }
        }
    }
    free(next);
    json_decref(items);
    return rc;
}

int sf_cli_worst(int so_far, int rc) {
    if (so_far == SF_EXIT_ERROR || rc == SF_EXIT_ERROR) return SF_EXIT_ERROR;
    if (so_far == SF_EXIT_USAGE || rc == SF_EXIT_USAGE) return SF_EXIT_USAGE;
    if (so_far == SF_EXIT_NOTFOUND || rc == SF_EXIT_NOTFOUND)
        return SF_EXIT_NOTFOUND;
    return SF_EXIT_OK;
}
