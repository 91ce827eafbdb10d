/* cli.c - the helpers the commands share (see cli.h). */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int sf_cli_usage_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    fputs("stepflow: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see `stepflow %s%s--help`)\n", cmd ? cmd : "",
            cmd ? " " : "");
    return SF_EXIT_USAGE;
}

int sf_cli_fail(int code, const char *fmt, ...) {
    va_list ap;
    fputs("error: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return code;
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

int sf_cli_count_opt(const sf_cli_ctx *ctx, const sf_cli_args *a,
                     long long max, long long *out) {
    const char *v = sf_cli_opt_get(a, "--count");
    *out = 0;
    if (v && (sf_cli_parse_uint(v, max, out) != 0 || *out < 1))
        return sf_cli_usage_error(ctx->cmd, "--count wants 1..%lld, got '%s'",
                                  max, v);
    return 0;
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

int sf_cli_call(sf_cli_ctx *ctx, const char *method, const char *path,
                const sf_cli_headers *headers, const void *body,
                size_t body_len, const char *what, sf_cli_reply *rep) {
    sf_cli_result r = sf_cli_api_request(&ctx->api, method, path, headers,
                                         body, body_len, rep);
    switch (r) {
    case SF_CLI_OK:
        return -1;
    case SF_CLI_HTTP_ERROR:
        if (ctx->json && rep->body && rep->body_len)
            fprintf(stdout, "%s\n", rep->body);
        if (rep->status == 404 && what)
            return sf_cli_fail(SF_EXIT_NOTFOUND, "%s not found", what);
        return sf_cli_fail(SF_EXIT_ERROR, "%s (HTTP %ld)",
                           sf_cli_reply_error(rep), rep->status);
    case SF_CLI_BAD_URL:
        fprintf(stderr,
                "stepflow: bad coordinator URL '%s': %s (see `stepflow "
                "--help`)\n",
                ctx->url, ctx->api.error);
        return SF_EXIT_USAGE;
    case SF_CLI_BAD_REPLY:
        return sf_cli_fail(SF_EXIT_ERROR,
                           "unreadable reply from the coordinator at %s: %s",
                           ctx->url, ctx->api.error);
    case SF_CLI_UNREACHABLE:
    default:
        return sf_cli_fail(SF_EXIT_ERROR,
                           "cannot reach the coordinator at %s: %s", ctx->url,
                           ctx->api.error);
    }
}

void sf_cli_print_raw(const sf_cli_reply *rep) {
    if (rep->body_len) {
        fwrite(rep->body, 1, rep->body_len, stdout);
        if (rep->body[rep->body_len - 1] != '\n') fputc('\n', stdout);
    }
}

void sf_cli_print_json(json_t *v) {
    char *s = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    if (s) printf("%s\n", s);
    free(s);
    json_decref(v);
}

int sf_cli_bad_reply(const sf_cli_reply *rep, const char *what) {
    return sf_cli_fail(SF_EXIT_ERROR,
                       "unexpected reply from the coordinator: %s (HTTP %ld)",
                       what, rep->status);
}

int sf_cli_worst(int so_far, int rc) {
    if (so_far == SF_EXIT_ERROR || rc == SF_EXIT_ERROR) return SF_EXIT_ERROR;
    if (so_far == SF_EXIT_USAGE || rc == SF_EXIT_USAGE) return SF_EXIT_USAGE;
    if (so_far == SF_EXIT_NOTFOUND || rc == SF_EXIT_NOTFOUND)
        return SF_EXIT_NOTFOUND;
    return SF_EXIT_OK;
}
