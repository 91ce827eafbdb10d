/* cmd_publish.c - `stepflow publish` (POST /v2/publish/{url}) and
 * `stepflow trigger` (POST /v2/trigger/{url}): one message or one new
 * workflow run, its settings given as options that become the Upstash-*
 * request headers the API reads. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "output.h"

static const char usage_publish[] =
    "usage: stepflow publish <destination-url> [options]\n"
    "\n"
    "POST /v2/publish/<destination-url>; prints the new message id.\n"
    "\n"
    "  --body STR                 payload (default: empty)\n"
    "  --body-file F              payload read from file F ('-' = stdin)\n"
    "  --header 'Name: value'     forwarded to the destination (repeatable;\n"
    "                             sent as Upstash-Forward-Name; Content-Type\n"
    "                             and Upstash-* headers are sent as they are)\n"
    "  --method M                 HTTP method of the delivery (default POST)\n"
    "  --retries N                retries after the first attempt (default 3)\n"
    "  --retry-delay EXPR         backoff in ms, e.g. '1000 * pow(2, "
    "retried)'\n"
    "  --delay D                  deliver after D (10s, 5m, 2h, 1d)\n"
    "  --not-before UNIX          deliver at this Unix time (seconds)\n"
    "  --timeout D                per-attempt timeout (e.g. 30s)\n"
    "  --label L                  label, usable as a DLQ filter\n"
    "  --dedup-id ID              deduplication id\n"
    "  --failure-callback URL     called once every attempt has failed\n"
    "  --flow-control-key K       flow-control key ...\n"
    "  --flow-control-value V     ... and its limits: 'parallelism=2, "
    "rate=10,\n"
    "                             period=1s'\n"
    "\n"
    "Without a Content-Type header the body is sent as application/json when\n"
    "it starts with '{' or '[', else as text/plain.\n";

static const char usage_trigger[] =
    "usage: stepflow trigger <workflow-url> [options]\n"
    "\n"
    "POST /v2/trigger/<workflow-url>: starts a workflow run, as the SDK's\n"
    "client.trigger() does; prints its run id.  The settings apply to every\n"
    "step of the run.\n"
    "\n"
    "  --body STR                 the run's payload (default: empty)\n"
    "  --body-file F              payload read from file F ('-' = stdin)\n"
    "  --run-id ID                the run id, used as given (default: a new\n"
    "                             wfr_... id)\n"
    "  --header 'Name: value'     forwarded to every step (repeatable)\n"
    "  --retries N                retries of each step (default 3)\n"
    "  --retry-delay EXPR         backoff in ms, e.g. '1000 * pow(2, "
    "retried)'\n"
    "  --delay D                  start after D (10s, 5m, 2h, 1d)\n"
    "  --not-before UNIX          start at this Unix time (seconds)\n"
    "  --timeout D                per-attempt timeout of each step\n"
    "  --label L                  label, usable as a runs and DLQ filter\n"
    "  --failure-url URL          where the failure callback goes (default:\n"
    "                             the workflow URL, serve()'s failureFunction)\n"
    "  --flow-control-key K       flow-control key of every step ...\n"
    "  --flow-control-value V     ... and its limits: 'parallelism=2, "
    "rate=10,\n"
    "                             period=1s'\n";

#define COMMON_OPTS                                                           \
    {"--body", 1}, {"--body-file", 1}, {"--header", 1}, {"--retries", 1},     \
        {"--retry-delay", 1}, {"--delay", 1}, {"--not-before", 1},            \
        {"--timeout", 1}, {"--label", 1}, {"--flow-control-key", 1},          \
        {"--flow-control-value", 1}

static const sf_cli_opt publish_opts[] = {
    COMMON_OPTS,       {"--method", 1}, {"--dedup-id", 1},
    {"--failure-callback", 1}, {NULL, 0}};

static const sf_cli_opt trigger_opts[] = {
    COMMON_OPTS, {"--run-id", 1}, {"--failure-url", 1}, {NULL, 0}};

/* Maps an option to its Upstash-* request header (options a command does
 * not accept are never present). */
static const struct {
    const char *opt, *header;
} setting_headers[] = {
    {"--method", "Upstash-Method"},
    {"--retries", "Upstash-Retries"},
    {"--retry-delay", "Upstash-Retry-Delay"},
    {"--delay", "Upstash-Delay"},
    {"--not-before", "Upstash-Not-Before"},
    {"--timeout", "Upstash-Timeout"},
    {"--label", "Upstash-Label"},
    {"--dedup-id", "Upstash-Deduplication-Id"},
    {"--failure-callback", "Upstash-Failure-Callback"},
    {"--failure-url", "Upstash-Failure-Callback"},
    {"--flow-control-key", "Upstash-Flow-Control-Key"},
    {"--flow-control-value", "Upstash-Flow-Control-Value"},
    {"--run-id", "Upstash-Workflow-RunId"},
};
#define N_SETTINGS (sizeof(setting_headers) / sizeof(setting_headers[0]))

/* Checks the header "Name: value" and adds it: forwarded as
 * Upstash-Forward-Name unless it is Content-Type or already Upstash-*
 * (the @upstash/qstash SDK's rule).  Returns 0 or SF_EXIT_USAGE. */
static int add_user_header(const char *cmd, sf_cli_headers *h,
                           const char *line, int *has_content_type) {
    const char *colon = strchr(line, ':');
    size_t nlen = colon ? (size_t)(colon - line) : 0;
    while (nlen > 0 && (line[nlen - 1] == ' ' || line[nlen - 1] == '\t'))
        nlen--;
    if (!colon || nlen == 0)
        return sf_cli_usage_error(cmd, "bad --header '%s': want 'Name: value'",
                                  line);
    for (size_t i = 0; i < nlen; i++) {
        unsigned char ch = (unsigned char)line[i];
        if (ch <= ' ' || ch >= 0x7f || strchr("()<>@,;:\\\"/[]?={}", ch))
            return sf_cli_usage_error(cmd, "bad header name in --header '%s'",
                                      line);
    }
    const char *value = colon + 1;
    while (*value == ' ' || *value == '\t') value++;
    if (strpbrk(value, "\r\n"))
        return sf_cli_usage_error(cmd, "header values cannot hold newlines");
    if (nlen > 200) return sf_cli_usage_error(cmd, "header name too long");

    char name[300];
    int is_ct = nlen == 12 && strncasecmp(line, "Content-Type", 12) == 0;
    int is_upstash = nlen >= 8 && strncasecmp(line, "Upstash-", 8) == 0;
    snprintf(name, sizeof(name), "%s%.*s",
             is_ct || is_upstash ? "" : "Upstash-Forward-", (int)nlen, line);
    if (is_ct) *has_content_type = 1;
    if (sf_cli_headers_add(h, name, value) != 0)
        return sf_cli_fail(SF_EXIT_ERROR, "out of memory");
    return 0;
}

/* Validates what the client can check itself; the coordinator checks the
 * rest (durations, the retry-delay expression, flow control) and answers
 * 400. */
static int check_args(const char *cmd, const sf_cli_args *a) {
    long long n;
    const char *v;
    if (a->n_pos != 1)
        return sf_cli_usage_error(cmd, a->n_pos ? "expected one URL"
                                                : "missing destination URL");
    if (strncmp(a->pos[0], "http://", 7) != 0 &&
        strncmp(a->pos[0], "https://", 8) != 0)
        return sf_cli_usage_error(cmd,
                                  "the URL must be http:// or https://, "
                                  "got '%s'",
                                  a->pos[0]);
    for (const unsigned char *p = (const unsigned char *)a->pos[0]; *p; p++)
        if (*p <= ' ' || *p == 0x7f)
            return sf_cli_usage_error(cmd, "the URL cannot hold spaces or "
                                           "control characters");
    if (sf_cli_opt_get(a, "--body") && sf_cli_opt_get(a, "--body-file"))
        return sf_cli_usage_error(cmd, "give --body or --body-file, not both");
    if ((v = sf_cli_opt_get(a, "--retries")) && sf_cli_parse_uint(v, 1000000, &n))
        return sf_cli_usage_error(cmd,
                                  "--retries wants a whole number >= 0, got "
                                  "'%s'",
                                  v);
    if ((v = sf_cli_opt_get(a, "--not-before")) &&
        sf_cli_parse_uint(v, INT64_MAX / 1000, &n))
        return sf_cli_usage_error(cmd,
                                  "--not-before wants a Unix time in "
                                  "seconds, got '%s'",
                                  v);
    if ((v = sf_cli_opt_get(a, "--method"))) {
        if (!*v) return sf_cli_usage_error(cmd, "--method is empty");
        for (const char *p = v; *p; p++)
            if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z')))
                return sf_cli_usage_error(cmd, "bad --method '%s'", v);
    }
    if ((v = sf_cli_opt_get(a, "--run-id")) && !*v)
        return sf_cli_usage_error(cmd, "--run-id is empty");
    if (sf_cli_opt_get(a, "--flow-control-value") &&
        !sf_cli_opt_get(a, "--flow-control-key"))
        return sf_cli_usage_error(cmd, "--flow-control-value needs "
                                       "--flow-control-key");
    for (size_t i = 0; i < N_SETTINGS; i++)
        if ((v = sf_cli_opt_get(a, setting_headers[i].opt)) && strpbrk(v, "\r\n"))
            return sf_cli_usage_error(cmd, "%s cannot hold newlines",
                                      setting_headers[i].opt);
    return 0;
}

/* Reads the body options into "*body" (malloc'd, may be NULL = none). */
static int read_body(const char *cmd, const sf_cli_args *a, char **body,
                     size_t *len) {
    const char *v;
    *body = NULL;
    *len = 0;
    if ((v = sf_cli_opt_get(a, "--body-file"))) {
        *body = sf_cli_read_file(v, len);
        if (!*body)
            return sf_cli_usage_error(cmd, "cannot read --body-file '%s': %s",
                                      v, strerror(errno));
    } else if ((v = sf_cli_opt_get(a, "--body"))) {
        *body = strdup(v);
        *len = strlen(v);
        if (!*body) return sf_cli_fail(SF_EXIT_ERROR, "out of memory");
    }
    return 0;
}

/* Builds the request headers from the options. */
static int build_headers(const char *cmd, const sf_cli_args *a,
                         const char *body, size_t body_len, sf_cli_headers *h) {
    int has_ct = 0, rc = 0;
    const char *v;
    for (int i = 0; i < a->n_opts && rc == 0; i++)
        if (!a->opt_global[i] && strcmp(a->opt_name[i], "--header") == 0)
            rc = add_user_header(cmd, h, a->opt_val[i], &has_ct);
    for (size_t i = 0; rc == 0 && i < N_SETTINGS; i++)
        if ((v = sf_cli_opt_get(a, setting_headers[i].opt)) &&
            sf_cli_headers_add(h, setting_headers[i].header, v) != 0)
            rc = sf_cli_fail(SF_EXIT_ERROR, "out of memory");
    if (rc == 0 && !has_ct) {
        /* curl would otherwise label a body as form-urlencoded. */
        int looks_json = body_len > 0 && (body[0] == '{' || body[0] == '[');
        if (sf_cli_headers_add(h, "Content-Type",
                               looks_json ? "application/json"
                                          : "text/plain; charset=utf-8") != 0)
            rc = sf_cli_fail(SF_EXIT_ERROR, "out of memory");
    }
    return rc;
}

/* publish and trigger: check, build, POST <route><url>, print. */
static int post_message(sf_cli_ctx *ctx, const sf_cli_args *a, const char *route,
                int trigger) {
    int rc = check_args(ctx->cmd, a);
    if (rc) return rc;
    char *body;
    size_t body_len;
    if ((rc = read_body(ctx->cmd, a, &body, &body_len))) return rc;
    sf_cli_headers h = {0};
    rc = build_headers(ctx->cmd, a, body, body_len, &h);
    if (rc == 0) {
        /* The URL goes into the path as it is, like the SDKs do: the
         * coordinator takes everything after the route. */
        sf_buf path;
        sf_buf_init(&path);
        sf_buf_appendf(&path, "%s%s", route, a->pos[0]);
        sf_cli_reply rep;
        rc = sf_cli_call(ctx, "POST", path.data, &h, body, body_len, NULL,
                         &rep);
        sf_buf_cleanup(&path);
        if (rc < 0) {
            const char *key = trigger ? "workflowRunId" : "messageId";
            const char *id = json_string_value(json_object_get(rep.json, key));
            char shown[200 * 4 + 8], mshown[200 * 4 + 8];
            if (id) sf_out_clip(id, 200, shown, sizeof(shown));
            rc = SF_EXIT_OK;
            if (!id) {
                rc = sf_cli_bad_reply(ctx, &rep,
                                      trigger ? "no workflowRunId"
                                              : "no messageId");
            } else if (ctx->json) {
                sf_cli_print_raw(&rep);
            } else if (trigger) {
                char at[40];
                int64_t ms = 0;
                json_t *c = json_object_get(rep.json, "workflowCreatedAt");
                if (json_is_integer(c)) ms = json_integer_value(c);
                const char *mid =
                    json_string_value(json_object_get(rep.json, "messageId"));
                printf("workflowRunId: %s\n", shown);
                printf("createdAt:     %s\n", sf_out_iso8601(ms, at, sizeof(at)));
                if (mid)
                    printf("messageId:     %s\n",
                           sf_out_clip(mid, 200, mshown, sizeof(mshown)));
            } else {
                printf("messageId: %s\n", shown);
            }
        }
        sf_cli_reply_cleanup(&rep);
    }
    free(body);
    sf_cli_headers_cleanup(&h);
    return rc;
}

static int cmd_publish(sf_cli_ctx *ctx, const sf_cli_args *a) {
    return post_message(ctx, a, "/v2/publish/", 0);
}

static int cmd_trigger(sf_cli_ctx *ctx, const sf_cli_args *a) {
    return post_message(ctx, a, "/v2/trigger/", 1);
}

const sf_cli_command sf_cli_publish_commands[] = {
    {NULL, "publish", publish_opts, usage_publish, 1, cmd_publish},
    {NULL, "trigger", trigger_opts, usage_trigger, 1, cmd_trigger},
    {NULL, NULL, NULL, NULL, 0, NULL},
};
