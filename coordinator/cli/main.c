/* main.c - `stepflow`, the command-line client of the coordinator's API.
 *
 * Thin: parse the command line, make one request (or follow cursors for
 * `dlq list --all`), print the answer, map the outcome to an exit code:
 *   0 success, 1 the API answered an error, 2 usage error, 3 the
 *   coordinator could not be reached.
 * HTTP and JSON live in api.c, human-readable formatting in output.c.
 *
 * Options before the command word are global (--url, --token, --json,
 * --help).  After it, the command's own options come first, so that
 * `dlq list --url U` filters by destination while `stepflow --url C dlq
 * list` picks the coordinator; for the other commands --url after the
 * command still means the coordinator. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "output.h"

#define EXIT_API         1
#define EXIT_USAGE       2
#define EXIT_UNREACHABLE 3
#define MAX_OPTS         128
#define MAX_POS          8

/* One option a command accepts. */
typedef struct opt_spec {
    const char *name; /* "--body" */
    int has_arg;
} opt_spec;

/* The command line after parsing: options in order, then positionals. */
typedef struct cli_args {
    const char *opt_name[MAX_OPTS];
    const char *opt_val[MAX_OPTS]; /* NULL for flags */
    int opt_global[MAX_OPTS];      /* 1 if matched as a global option */
    int n_opts;
    const char *pos[MAX_POS];
    int n_pos;
} cli_args;

/* Settings shared by every command. */
typedef struct cli_ctx {
    const char *url; /* coordinator base URL */
    const char *token;
    int json;        /* print the API's JSON as-is */
    const char *cmd; /* "publish", "dlq list", ... for messages */
    sf_cli_api api;
} cli_ctx;

static const opt_spec global_opts[] = {{"--url", 1},  {"--token", 1},
                                       {"--json", 0}, {"--help", 0},
                                       {"-h", 0},     {NULL, 0}};

static const char *usage_main =
    "usage: stepflow [--url URL] [--token T] [--json] <command> [args]\n"
    "\n"
    "A client of the stepflow coordinator's HTTP API.\n"
    "\n"
    "commands:\n"
    "  publish <destination-url> [options]   publish one message\n"
    "  dlq list [filters]                     list dead-lettered messages\n"
    "  dlq get <dlqId>                        show one DLQ entry\n"
    "  dlq retry <dlqId>                      publish the message again\n"
    "  dlq delete <dlqId>                     delete a DLQ entry\n"
    "  dlq retry-callback <dlqId>             re-run a failed failure "
    "callback\n"
    "  dlq cancel-callback <dlqId>            cancel a running failure "
    "callback\n"
    "\n"
    "global options (before the command):\n"
    "  --url URL     coordinator URL (env STEPFLOW_URL, default\n"
    "                http://127.0.0.1:8080)\n"
    "  --token T     API token (env STEPFLOW_TOKEN)\n"
    "  --json        print the API's JSON reply as-is, for scripts\n"
    "  --help        this text; `stepflow <command> --help` for a command\n"
    "\n"
    "exit codes: 0 ok, 1 the API answered an error, 2 usage error,\n"
    "            3 the coordinator cannot be reached\n";

static const char *usage_publish =
    "usage: stepflow publish <destination-url> [options]\n"
    "\n"
    "POST /v2/publish/<destination-url>; prints the new message id.\n"
    "\n"
    "  --body STR               payload (default: empty)\n"
    "  --body-file F            payload read from file F ('-' = stdin)\n"
    "  --header 'Name: value'   forwarded to the destination (repeatable;\n"
    "                           sent as Upstash-Forward-Name; Content-Type\n"
    "                           and Upstash-* headers are sent as they are)\n"
    "  --method M               HTTP method of the delivery (default POST)\n"
    "  --retries N              retries after the first attempt (default 3)\n"
    "  --retry-delay EXPR       backoff in ms, e.g. '1000 * pow(2, retried)'\n"
    "  --delay D                deliver after D (10s, 5m, 2h, 1d)\n"
    "  --not-before UNIX        deliver at this Unix time (seconds)\n"
    "  --timeout D              per-attempt timeout (e.g. 30s)\n"
    "  --label L                label, usable as a DLQ filter\n"
    "  --dedup-id ID            deduplication id\n"
    "  --failure-callback URL   called once every attempt has failed\n"
    "\n"
    "Without a Content-Type header the body is sent as application/json when\n"
    "it starts with '{' or '[', else as text/plain.\n";

static const char *usage_dlq =
    "usage: stepflow dlq <list|get|retry|delete|retry-callback|cancel-callback>"
    " ...\n"
    "\n"
    "  dlq list [--state S] [--url U] [--label L] [--count N] [--cursor C]\n"
    "           [--all]\n"
    "      GET /v2/dlq.  --state is one of CALLBACK_FAIL, CALLBACK_SUCCESS,\n"
    "      CALLBACK_INPROGRESS, CALLBACK_CANCELED; --url filters by\n"
    "      destination (give the coordinator's --url before `dlq`);\n"
    "      --count is 1..100 per page; --all follows the cursor to the end.\n"
    "  dlq get <dlqId>              GET /v2/dlq/<dlqId>\n"
    "  dlq retry <dlqId>            POST /v2/dlq/retry/<dlqId>\n"
    "  dlq delete <dlqId>           DELETE /v2/dlq/<dlqId>\n"
    "  dlq retry-callback <dlqId>   POST /v2/workflows/dlq/callback/<dlqId>\n"
    "                               (only allowed in CALLBACK_FAIL)\n"
    "  dlq cancel-callback <dlqId>  DELETE "
    "/v2/workflows/dlq/callback/<dlqId>\n";

/* Prints one usage line and the hint, returns EXIT_USAGE. */
__attribute__((format(printf, 2, 3))) static int
usage_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    fputs("stepflow: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see `stepflow %s%s--help`)\n", cmd ? cmd : "",
            cmd ? " " : "");
    return EXIT_USAGE;
}

static const opt_spec *find_spec(const opt_spec *specs, const char *name,
                                 size_t len) {
    for (; specs && specs->name; specs++)
        if (strlen(specs->name) == len && strncmp(specs->name, name, len) == 0)
            return specs;
    return NULL;
}

/* Parses argv[from, argc) against "specs" (and, when "globals" is set, the
 * global options too) into "a".  "--name=value" and "--name value" both
 * work; "--" ends the options.  Returns 0 or EXIT_USAGE (message printed). */
static int parse_args(int argc, char **argv, int from, const opt_spec *specs,
                      int globals, const char *cmd, cli_args *a) {
    int only_pos = 0;
    for (int i = from; i < argc; i++) {
        const char *arg = argv[i];
        if (only_pos || arg[0] != '-' || strcmp(arg, "-") == 0) {
            if (a->n_pos == MAX_POS)
                return usage_error(cmd, "too many arguments");
            a->pos[a->n_pos++] = arg;
            continue;
        }
        if (strcmp(arg, "--") == 0) {
            only_pos = 1;
            continue;
        }
        const char *eq = strchr(arg, '=');
        size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
        const opt_spec *s = find_spec(specs, arg, len);
        if (!s && globals) s = find_spec(global_opts, arg, len);
        if (!s) return usage_error(cmd, "unknown option '%.*s'", (int)len, arg);
        const char *val = NULL;
        if (s->has_arg) {
            if (eq)
                val = eq + 1;
            else if (i + 1 < argc)
                val = argv[++i];
            else
                return usage_error(cmd, "option %s needs a value", s->name);
        } else if (eq) {
            return usage_error(cmd, "option %s takes no value", s->name);
        }
        if (a->n_opts == MAX_OPTS) return usage_error(cmd, "too many options");
        a->opt_name[a->n_opts] = s->name;
        a->opt_global[a->n_opts] = !find_spec(specs, arg, len);
        a->opt_val[a->n_opts++] = val;
    }
    return 0;
}

/* The last value given for the command option "name", or NULL ("" for a
 * flag that is present). */
static const char *opt_get(const cli_args *a, const char *name) {
    const char *v = NULL;
    for (int i = 0; i < a->n_opts; i++)
        if (!a->opt_global[i] && strcmp(a->opt_name[i], name) == 0)
            v = a->opt_val[i] ? a->opt_val[i] : "";
    return v;
}

/* Applies the global options found among a command's options. */
static int apply_globals(cli_ctx *ctx, const cli_args *a) {
    for (int i = 0; i < a->n_opts; i++) {
        const char *n = a->opt_name[i];
        if (!a->opt_global[i]) continue;
        if (strcmp(n, "--url") == 0)
            ctx->url = a->opt_val[i];
        else if (strcmp(n, "--token") == 0)
            ctx->token = a->opt_val[i];
        else if (strcmp(n, "--json") == 0)
            ctx->json = 1;
        else if (strcmp(n, "--help") == 0 || strcmp(n, "-h") == 0)
            return 1;
    }
    return 0;
}

/* Parses a whole non-negative decimal number; returns 0 on success. */
static int parse_uint(const char *s, long long max, long long *out) {
    if (!s || !*s) return -1;
    for (const char *p = s; *p; p++)
        if (*p < '0' || *p > '9') return -1;
    errno = 0;
    long long v = strtoll(s, NULL, 10);
    if (errno || v > max) return -1;
    *out = v;
    return 0;
}

/* Maps the outcome of one request to an exit code, printing the error.
 * Returns -1 when the request succeeded (the caller prints the result). */
static int check_reply(cli_ctx *ctx, sf_cli_result r, const sf_cli_reply *rep) {
    switch (r) {
    case SF_CLI_OK:
        return -1;
    case SF_CLI_HTTP_ERROR:
        if (ctx->json && rep->body && rep->body_len)
            fprintf(stdout, "%s\n", rep->body);
        fprintf(stderr, "error: %s (HTTP %ld)\n", sf_cli_reply_error(rep),
                rep->status);
        return EXIT_API;
    case SF_CLI_BAD_URL:
        fprintf(stderr,
                "stepflow: bad coordinator URL '%s': %s (see "
                "`stepflow --help`)\n",
                ctx->url, ctx->api.error);
        return EXIT_USAGE;
    case SF_CLI_BAD_REPLY:
        fprintf(stderr,
                "error: unreadable reply from the coordinator at %s: "
                "%s\n",
                ctx->url, ctx->api.error);
        return EXIT_API;
    case SF_CLI_UNREACHABLE:
    default:
        fprintf(stderr, "error: cannot reach the coordinator at %s: %s\n",
                ctx->url, ctx->api.error);
        return EXIT_UNREACHABLE;
    }
}

/* Prints a successful reply as raw JSON (--json).  */
static void print_raw(const sf_cli_reply *rep) {
    if (rep->body_len) {
        fwrite(rep->body, 1, rep->body_len, stdout);
        if (rep->body[rep->body_len - 1] != '\n') fputc('\n', stdout);
    }
}

/* Returns malloc'd "<a><b>", NULL on allocation failure. */
static char *concat(const char *a, const char *b) {
    size_t n = strlen(a) + strlen(b) + 1;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s%s", a, b);
    return p;
}

/* Returns malloc'd "<prefix><percent-encoded id>". */
static char *id_path(const char *prefix, const char *id) {
    char *esc = sf_cli_escape(id);
    char *p = esc ? concat(prefix, esc) : NULL;
    free(esc);
    return p;
}

/* Reads all of "path" ("-" = stdin) into a malloc'd buffer. */
static char *read_file(const char *path, size_t *len_out) {
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (len == cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0) {
            if (ferror(f)) {
                free(buf);
                buf = NULL;
            }
            break;
        }
    }
    if (f != stdin) fclose(f);
    *len_out = len;
    return buf;
}

/* ---- publish ------------------------------------------------------------ */

static const opt_spec publish_opts[] = {
    {"--body", 1},   {"--body-file", 1},  {"--header", 1},
    {"--method", 1}, {"--retries", 1},    {"--retry-delay", 1},
    {"--delay", 1},  {"--not-before", 1}, {"--timeout", 1},
    {"--label", 1},  {"--dedup-id", 1},   {"--failure-callback", 1},
    {NULL, 0}};

/* Maps one option to its Upstash-* request header. */
static const struct {
    const char *opt, *header;
} publish_headers[] = {
    {"--method", "Upstash-Method"},
    {"--retries", "Upstash-Retries"},
    {"--retry-delay", "Upstash-Retry-Delay"},
    {"--delay", "Upstash-Delay"},
    {"--not-before", "Upstash-Not-Before"},
    {"--timeout", "Upstash-Timeout"},
    {"--label", "Upstash-Label"},
    {"--dedup-id", "Upstash-Deduplication-Id"},
    {"--failure-callback", "Upstash-Failure-Callback"},
};

/* Checks the header "Name: value" and adds it: forwarded as
 * Upstash-Forward-Name unless it is Content-Type or already Upstash-*
 * (the @upstash/qstash SDK's rule).  Returns 0 or EXIT_USAGE. */
static int add_user_header(sf_cli_headers *h, const char *line,
                           int *has_content_type) {
    const char *colon = strchr(line, ':');
    size_t nlen = colon ? (size_t)(colon - line) : 0;
    while (nlen > 0 && (line[nlen - 1] == ' ' || line[nlen - 1] == '\t'))
        nlen--;
    if (!colon || nlen == 0)
        return usage_error("publish", "bad --header '%s': want 'Name: value'",
                           line);
    for (size_t i = 0; i < nlen; i++) {
        unsigned char ch = (unsigned char)line[i];
        if (ch <= ' ' || ch >= 0x7f || strchr("()<>@,;:\\\"/[]?={}", ch))
            return usage_error("publish", "bad header name in --header '%s'",
                               line);
    }
    const char *value = colon + 1;
    while (*value == ' ' || *value == '\t') value++;
    if (strpbrk(value, "\r\n"))
        return usage_error("publish", "header values cannot hold newlines");

    char name[300];
    int is_ct = nlen == 12 && strncasecmp(line, "Content-Type", 12) == 0;
    int is_upstash = nlen >= 8 && strncasecmp(line, "Upstash-", 8) == 0;
    if (nlen > 200) return usage_error("publish", "header name too long");
    snprintf(name, sizeof(name), "%s%.*s",
             is_ct || is_upstash ? "" : "Upstash-Forward-", (int)nlen, line);
    if (is_ct) *has_content_type = 1;
    return sf_cli_headers_add(h, name, value) == 0 ? 0 : EXIT_UNREACHABLE;
}

/* Validates what the client can check itself; the coordinator checks the
 * rest (durations, the retry-delay expression) and answers 400. */
static int check_publish_args(const cli_args *a) {
    long long n;
    const char *v;
    if (a->n_pos != 1)
        return usage_error("publish", a->n_pos ? "expected one destination URL"
                                               : "missing destination URL");
    if (strncmp(a->pos[0], "http://", 7) != 0 &&
        strncmp(a->pos[0], "https://", 8) != 0)
        return usage_error("publish",
                           "destination must be an http:// or "
                           "https:// URL, got '%s'",
                           a->pos[0]);
    for (const unsigned char *p = (const unsigned char *)a->pos[0]; *p; p++)
        if (*p <= ' ' || *p == 0x7f)
            return usage_error("publish", "the destination URL cannot hold "
                                          "spaces or control characters");
    if (opt_get(a, "--body") && opt_get(a, "--body-file"))
        return usage_error("publish", "give --body or --body-file, not both");
    if ((v = opt_get(a, "--retries")) && parse_uint(v, 1000000, &n) != 0)
        return usage_error("publish",
                           "--retries wants a whole number >= 0, "
                           "got '%s'",
                           v);
    if ((v = opt_get(a, "--not-before")) && parse_uint(v, INT64_MAX / 1000, &n))
        return usage_error("publish",
                           "--not-before wants a Unix time in "
                           "seconds, got '%s'",
                           v);
    if ((v = opt_get(a, "--method"))) {
        if (!*v) return usage_error("publish", "--method is empty");
        for (const char *p = v; *p; p++)
            if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z')))
                return usage_error("publish", "bad --method '%s'", v);
    }
    for (size_t i = 0; i < sizeof(publish_headers) / sizeof(publish_headers[0]);
         i++)
        if ((v = opt_get(a, publish_headers[i].opt)) && strpbrk(v, "\r\n"))
            return usage_error("publish", "%s cannot hold newlines",
                               publish_headers[i].opt);
    return 0;
}

static int cmd_publish(cli_ctx *ctx, const cli_args *a) {
    int rc = check_publish_args(a);
    if (rc) return rc;

    size_t body_len = 0;
    char *body = NULL;
    const char *v;
    if ((v = opt_get(a, "--body-file"))) {
        body = read_file(v, &body_len);
        if (!body) {
            return usage_error("publish", "cannot read --body-file '%s': %s", v,
                               strerror(errno));
        }
    } else if ((v = opt_get(a, "--body"))) {
        body = strdup(v);
        body_len = strlen(v);
        if (!body) return EXIT_UNREACHABLE;
    }

    sf_cli_headers h = {0};
    int has_ct = 0;
    for (int i = 0; i < a->n_opts && rc == 0; i++)
        if (strcmp(a->opt_name[i], "--header") == 0)
            rc = add_user_header(&h, a->opt_val[i], &has_ct);
    for (size_t i = 0;
         rc == 0 && i < sizeof(publish_headers) / sizeof(publish_headers[0]);
         i++)
        if ((v = opt_get(a, publish_headers[i].opt)) &&
            sf_cli_headers_add(&h, publish_headers[i].header, v) != 0)
            rc = EXIT_UNREACHABLE;
    if (rc == 0 && !has_ct) {
        /* curl would otherwise label a body as form-urlencoded. */
        int looks_json = body_len > 0 && (body[0] == '{' || body[0] == '[');
        if (sf_cli_headers_add(&h, "Content-Type",
                               looks_json ? "application/json"
                                          : "text/plain; charset=utf-8") != 0)
            rc = EXIT_UNREACHABLE;
    }
    /* The destination goes into the path as it is, like the SDK does:
     * the coordinator takes everything after /v2/publish/. */
    char *path = rc ? NULL : concat("/v2/publish/", a->pos[0]);
    if (rc == 0 && path) {
        sf_cli_reply rep;
        sf_cli_result r = sf_cli_api_request(&ctx->api, "POST", path, &h, body,
                                             body_len, &rep);
        rc = check_reply(ctx, r, &rep);
        if (rc < 0) {
            const char *id =
                json_string_value(json_object_get(rep.json, "messageId"));
            if (ctx->json) {
                print_raw(&rep);
                rc = 0;
            } else if (id) {
                printf("messageId: %s\n", id);
                rc = 0;
            } else {
                fprintf(stderr,
                        "error: unexpected reply from the coordinator: "
                        "no messageId (HTTP %ld)\n",
                        rep.status);
                rc = EXIT_API;
            }
        }
        sf_cli_reply_cleanup(&rep);
    } else if (rc == 0) {
        rc = EXIT_UNREACHABLE;
    }
    free(path);
    free(body);
    sf_cli_headers_cleanup(&h);
    return rc;
}

/* ---- dlq ---------------------------------------------------------------- */

static const opt_spec dlq_list_opts[] = {
    {"--state", 1},  {"--url", 1}, {"--label", 1}, {"--count", 1},
    {"--cursor", 1}, {"--all", 0}, {NULL, 0}};

static const char *const cb_states[] = {"CALLBACK_FAIL", "CALLBACK_SUCCESS",
                                        "CALLBACK_INPROGRESS",
                                        "CALLBACK_CANCELED"};

/* Appends "&name=<escaped value>" (or "?name=..." first) to "q". */
static int query_add(char **q, const char *name, const char *value) {
    char *esc = sf_cli_escape(value);
    if (!esc) return -1;
    size_t n = strlen(*q) + strlen(name) + strlen(esc) + 3;
    char *nq = malloc(n);
    if (nq)
        snprintf(nq, n, "%s%c%s=%s", *q, strchr(*q, '?') ? '&' : '?', name,
                 esc);
    free(esc);
    if (!nq) return -1;
    free(*q);
    *q = nq;
    return 0;
}

/* One page of GET /v2/dlq.  On success returns -1 and hands the reply's
 * JSON to "*page" (caller decrefs); else an exit code. */
static int dlq_page(cli_ctx *ctx, const cli_args *a, const char *cursor,
                    json_t **page, sf_cli_reply *raw) {
    char *q = strdup("/v2/dlq");
    const char *v;
    int bad = !q;
    /* --state/--url/--label may repeat: OR within one filter. */
    for (int i = 0; !bad && i < a->n_opts; i++) {
        const char *n = a->opt_name[i];
        if (a->opt_global[i]) continue;
        if (strcmp(n, "--state") == 0)
            bad = query_add(&q, "failureFunctionState", a->opt_val[i]);
        else if (strcmp(n, "--url") == 0)
            bad = query_add(&q, "url", a->opt_val[i]);
        else if (strcmp(n, "--label") == 0)
            bad = query_add(&q, "label", a->opt_val[i]);
    }
    if (!bad && (v = opt_get(a, "--count"))) bad = query_add(&q, "count", v);
    if (!bad && cursor && *cursor) bad = query_add(&q, "cursor", cursor);
    if (bad) {
        free(q);
        return EXIT_UNREACHABLE;
    }
    sf_cli_result r =
        sf_cli_api_request(&ctx->api, "GET", q, NULL, NULL, 0, raw);
    free(q);
    int rc = check_reply(ctx, r, raw);
    if (rc >= 0) return rc;
    if (!json_is_object(raw->json) ||
        !json_is_array(json_object_get(raw->json, "messages"))) {
        fprintf(stderr,
                "error: unexpected reply from the coordinator: no "
                "messages array (HTTP %ld)\n",
                raw->status);
        return EXIT_API;
    }
    *page = json_incref(raw->json);
    return -1;
}

static int cmd_dlq_list(cli_ctx *ctx, const cli_args *a) {
    long long n;
    const char *v;
    if (a->n_pos)
        return usage_error("dlq list", "unexpected argument '%s'", a->pos[0]);
    for (int i = 0; i < a->n_opts; i++) {
        if (strcmp(a->opt_name[i], "--state") != 0) continue;
        int ok = 0;
        for (size_t s = 0; s < sizeof(cb_states) / sizeof(cb_states[0]); s++)
            ok |= strcmp(a->opt_val[i], cb_states[s]) == 0;
        if (!ok)
            return usage_error("dlq list",
                               "bad --state '%s': want "
                               "CALLBACK_FAIL, CALLBACK_SUCCESS, "
                               "CALLBACK_INPROGRESS or CALLBACK_CANCELED",
                               a->opt_val[i]);
    }
    if ((v = opt_get(a, "--count")) && (parse_uint(v, 100, &n) || n < 1))
        return usage_error("dlq list", "--count wants 1..100, got '%s'", v);
    int all = opt_get(a, "--all") != NULL;

    json_t *merged = json_array();
    char *cursor = (v = opt_get(a, "--cursor")) ? strdup(v) : NULL;
    int rc = merged ? 0 : EXIT_UNREACHABLE;
    int pages = 0;
    while (rc == 0) {
        json_t *page = NULL;
        sf_cli_reply raw;
        int prc = dlq_page(ctx, a, cursor, &page, &raw);
        sf_cli_reply_cleanup(&raw);
        if (prc >= 0) {
            rc = prc;
            break;
        }
        pages++;
        json_array_extend(merged, json_object_get(page, "messages"));
        const char *next = json_string_value(json_object_get(page, "cursor"));
        char *nc = next && *next ? strdup(next) : NULL;
        json_decref(page);
        /* Stop on a cursor that does not move, whatever the server says. */
        int same = nc && cursor && strcmp(nc, cursor) == 0;
        free(cursor);
        cursor = nc;
        if (!all || !cursor || same || pages >= 100000) break;
    }
    if (rc == 0) {
        if (ctx->json) {
            json_t *out = json_pack("{s:O}", "messages", merged);
            if (out && cursor)
                json_object_set_new(out, "cursor", json_string(cursor));
            char *s = out ? json_dumps(out, JSON_COMPACT) : NULL;
            if (s) printf("%s\n", s);
            free(s);
            json_decref(out);
        } else {
            sf_out_dlq_table(stdout, merged);
            if (cursor) printf("next cursor: %s\n", cursor);
        }
    }
    free(cursor);
    json_decref(merged);
    return rc;
}

/* The commands that take one dlqId and make one request. */
typedef struct dlq_action {
    const char *name; /* "get" */
    const char *method;
    const char *prefix;    /* path before the escaped id */
    const char *done_pre;  /* human output: done_pre <dlqId> done_post; */
    const char *done_post; /* NULL = custom output */
} dlq_action;

static const dlq_action dlq_actions[] = {
    {"get", "GET", "/v2/dlq/", NULL, NULL},
    {"retry", "POST", "/v2/dlq/retry/", NULL, NULL},
    {"delete", "DELETE", "/v2/dlq/", "dlq entry ", " deleted"},
    {"retry-callback", "POST", "/v2/workflows/dlq/callback/",
     "failure callback of ", " re-enqueued"},
    {"cancel-callback", "DELETE", "/v2/workflows/dlq/callback/",
     "failure callback of ", " canceled"},
};

static int cmd_dlq_action(cli_ctx *ctx, const dlq_action *act,
                          const cli_args *a) {
    char cmd[64];
    snprintf(cmd, sizeof(cmd), "dlq %s", act->name);
    if (a->n_pos != 1)
        return usage_error(cmd,
                           a->n_pos ? "expected one dlqId" : "missing dlqId");
    const char *id = a->pos[0];
    if (!*id) return usage_error(cmd, "empty dlqId");
    char *path = id_path(act->prefix, id);
    if (!path) return EXIT_UNREACHABLE;
    sf_cli_reply rep;
    sf_cli_result r =
        sf_cli_api_request(&ctx->api, act->method, path, NULL, NULL, 0, &rep);
    free(path);
    int rc = check_reply(ctx, r, &rep);
    if (rc < 0) {
        rc = 0;
        if (ctx->json) {
            print_raw(&rep);
        } else if (act->done_post) {
            printf("%s%s%s\n", act->done_pre, id, act->done_post);
        } else if (strcmp(act->name, "get") == 0) {
            /* Some servers wrap the entry as {"message": {...}}. */
            const json_t *e = rep.json;
            if (json_is_object(json_object_get(e, "message")))
                e = json_object_get(e, "message");
            if (json_is_object(e)) {
                sf_out_dlq_entry(stdout, e);
            } else {
                fprintf(stderr,
                        "error: unexpected reply from the coordinator: "
                        "not a DLQ entry (HTTP %ld)\n",
                        rep.status);
                rc = EXIT_API;
            }
        } else {
            const char *mid =
                json_string_value(json_object_get(rep.json, "messageId"));
            if (mid)
                printf("dlq entry %s re-published as %s\n", id, mid);
            else
                printf("dlq entry %s re-published\n", id);
        }
    }
    sf_cli_reply_cleanup(&rep);
    return rc;
}

/* ---- dispatch ----------------------------------------------------------- */

/* Parses the command's arguments, applies the global options found there,
 * answers --help, then connects the API client and runs "run". */
static int run_command(cli_ctx *ctx, int argc, char **argv, int from,
                       const opt_spec *specs, const char *usage,
                       const dlq_action *act,
                       int (*run)(cli_ctx *, const cli_args *)) {
    cli_args a;
    memset(&a, 0, sizeof(a));
    int rc = parse_args(argc, argv, from, specs, 1, ctx->cmd, &a);
    if (rc) return rc;
    if (apply_globals(ctx, &a)) {
        fputs(usage, stdout);
        return 0;
    }
    if (!ctx->url || !*ctx->url)
        return usage_error(NULL, "empty coordinator URL");
    if (sf_cli_api_init(&ctx->api, ctx->url, ctx->token) != 0) {
        fprintf(stderr, "stepflow: cannot initialise libcurl\n");
        return EXIT_UNREACHABLE;
    }
    rc = act ? cmd_dlq_action(ctx, act, &a) : run(ctx, &a);
    sf_cli_api_cleanup(&ctx->api);
    return rc;
}

static int is_help(const char *arg) {
    return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0 ||
           strcmp(arg, "help") == 0;
}

/* Reads the environment, the global options before the command word, and
 * hands over to the command. */
int main(int argc, char **argv) {
    cli_ctx ctx;
    memset(&ctx, 0, sizeof(ctx));
    const char *env_url = getenv("STEPFLOW_URL");
    ctx.url = env_url && *env_url ? env_url : "http://127.0.0.1:8080";
    ctx.token = getenv("STEPFLOW_TOKEN");

    int i = 1;
    while (i < argc && argv[i][0] == '-') {
        cli_args a;
        memset(&a, 0, sizeof(a));
        /* One global option (and its value) at a time. */
        const opt_spec *s = NULL;
        const char *eq = strchr(argv[i], '=');
        size_t len = eq ? (size_t)(eq - argv[i]) : strlen(argv[i]);
        s = find_spec(global_opts, argv[i], len);
        if (!s)
            return usage_error(NULL, "unknown option '%.*s'", (int)len,
                               argv[i]);
        int next = i + 1 + (s->has_arg && !eq);
        if (next > argc)
            return usage_error(NULL, "option %s needs a value", s->name);
        int rc = parse_args(next, argv, i, global_opts, 0, NULL, &a);
        if (rc) return rc;
        for (int k = 0; k < a.n_opts; k++) a.opt_global[k] = 1;
        if (apply_globals(&ctx, &a)) {
            fputs(usage_main, stdout);
            return 0;
        }
        i = next;
    }
    if (i >= argc) return usage_error(NULL, "missing command");

    const char *cmd = argv[i];
    if (strcmp(cmd, "help") == 0) {
        fputs(usage_main, stdout);
        return 0;
    }
    if (strcmp(cmd, "publish") == 0) {
        ctx.cmd = "publish";
        return run_command(&ctx, argc, argv, i + 1, publish_opts, usage_publish,
                           NULL, cmd_publish);
    }
    if (strcmp(cmd, "dlq") != 0)
        return usage_error(NULL, "unknown command '%s'", cmd);

    ctx.cmd = "dlq";
    if (i + 1 >= argc) return usage_error("dlq", "missing dlq subcommand");
    const char *sub = argv[i + 1];
    if (is_help(sub)) {
        fputs(usage_dlq, stdout);
        return 0;
    }
    if (strcmp(sub, "list") == 0) {
        ctx.cmd = "dlq list";
        return run_command(&ctx, argc, argv, i + 2, dlq_list_opts, usage_dlq,
                           NULL, cmd_dlq_list);
    }
    for (size_t k = 0; k < sizeof(dlq_actions) / sizeof(dlq_actions[0]); k++) {
        if (strcmp(sub, dlq_actions[k].name) != 0) continue;
        static char name[64];
        snprintf(name, sizeof(name), "dlq %s", sub);
        ctx.cmd = name;
        return run_command(&ctx, argc, argv, i + 2, NULL, usage_dlq,
                           &dlq_actions[k], NULL);
    }
    return usage_error("dlq", "unknown dlq subcommand '%s'", sub);
}
