/* main.c - `stepflow`, the operator's command-line client: the
 * coordinator's HTTP API (publish, trigger, DLQ, workflow runs, stats) and
 * a direct read-only look at Redis (inspect).
 *
 * Thin: read the environment, parse the global options and the command
 * words, hand the rest of the command line to the command (cmd_*.c) and
 * return its exit code (cli.h: 0 ok, 1 error, 2 usage, 3 not found).
 * HTTP lives in api.c, shared helpers in cli.c, formatting in output.c.
 *
 * Options before the command word are global (--url, --token, --json,
 * --help).  After it, the command's own options come first, so that
 * `dlq list --url U` filters by destination while `stepflow --url C dlq
 * list` picks the coordinator; commands without a --url of their own
 * take --url after the command word as the coordinator too. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const sf_cli_opt global_opts[] = {{"--url", 1},  {"--token", 1},
                                         {"--json", 0}, {"--help", 0},
                                         {"-h", 0},     {NULL, 0}};

static const char *usage_main =
    "usage: stepflow [--url URL] [--token T] [--json] <command> [args]\n"
    "\n"
    "The operator's client of a stepflow cluster.\n"
    "\n"
    "commands:\n"
    "  publish <url> [options]          publish one message\n"
    "  trigger <workflow-url> [options] start a workflow run\n"
    "  dlq list [filters]               list dead-lettered messages\n"
    "  dlq get <dlqId>                  show one DLQ entry in full\n"
    "  dlq retry <dlqId>...             publish the messages again\n"
    "  dlq retry-callback <dlqId>...    re-run failed failure callbacks\n"
    "  dlq cancel-callback <dlqId>...   cancel failure callbacks in progress\n"
    "  dlq resume|restart <dlqId>... | [filters] | --all  [--dry-run]\n"
    "                                   new runs from failed workflow runs\n"
    "  dlq delete <dlqId>... | [filters] | --all  [--dry-run]\n"
    "  runs list [filters]              workflow runs, newest first\n"
    "  runs get <runId>                 one run and its steps\n"
    "  runs cancel <runId>... | --url PREFIX | --all  [--dry-run]\n"
    "  stats                            backlog, DLQ, runs, workers, "
    "throughput\n"
    "  inspect                          what Redis holds, with the redis-cli\n"
    "                                   command behind each figure\n"
    "\n"
    "`stepflow <command> --help` describes each one.\n"
    "\n"
    "global options (before the command):\n"
    "  --url URL     coordinator URL (env STEPFLOW_URL; else\n"
    "                http://<STEPFLOW_LISTEN>; else http://127.0.0.1:8080)\n"
    "  --token T     API token (env STEPFLOW_TOKEN)\n"
    "  --json        machine-readable JSON on stdout, for scripts\n"
    "  --help        this text\n"
    "inspect reads STEPFLOW_REDIS_URL, STEPFLOW_REDIS_PASSWORD and\n"
    "STEPFLOW_PREFIX like the servers.\n"
    "\n"
    "exit codes:\n"
    "  0  ok\n"
    "  1  the API answered an error, or the coordinator (inspect: Redis)\n"
    "     could not be reached\n"
    "  2  usage error (bad command, option or value)\n"
    "  3  not found (an unknown DLQ entry or workflow run id)\n";

static const sf_cli_opt *find_opt(const sf_cli_opt *specs, const char *name,
                                  size_t len) {
    for (; specs && specs->name; specs++)
        if (strlen(specs->name) == len && strncmp(specs->name, name, len) == 0)
            return specs;
    return NULL;
}

/* Parses argv[from, to) against "specs" (and, when "globals" is set, the
 * global options too) into "a".  "--name=value" and "--name value" both
 * work; "--" ends the options.  Returns 0 or SF_EXIT_USAGE (message
 * printed). */
static int parse_args(int to, char **argv, int from, const sf_cli_opt *specs,
                      int globals, const char *cmd, sf_cli_args *a) {
    int only_pos = 0;
    for (int i = from; i < to; i++) {
        const char *arg = argv[i];
        if (only_pos || arg[0] != '-' || strcmp(arg, "-") == 0) {
            if (a->n_pos == SF_CLI_MAX_POS)
                return sf_cli_usage_error(cmd, "too many arguments");
            a->pos[a->n_pos++] = arg;
            continue;
        }
        if (strcmp(arg, "--") == 0) {
            only_pos = 1;
            continue;
        }
        const char *eq = strchr(arg, '=');
        size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
        const sf_cli_opt *s = find_opt(specs, arg, len);
        int global = 0;
        if (!s && globals && (s = find_opt(global_opts, arg, len))) global = 1;
        if (!s)
            return sf_cli_usage_error(cmd, "unknown option '%.*s'", (int)len,
                                      arg);
        const char *val = NULL;
        if (s->has_arg) {
            if (eq)
                val = eq + 1;
            else if (i + 1 < to)
                val = argv[++i];
            else
                return sf_cli_usage_error(cmd, "option %s needs a value",
                                          s->name);
        } else if (eq) {
            return sf_cli_usage_error(cmd, "option %s takes no value",
                                      s->name);
        }
        if (a->n_opts == SF_CLI_MAX_OPTS)
            return sf_cli_usage_error(cmd, "too many options");
        a->opt_name[a->n_opts] = s->name;
        a->opt_global[a->n_opts] = global;
        a->opt_val[a->n_opts++] = val;
    }
    return 0;
}

/* Applies the global options found in "a"; returns 1 for --help. */
static int apply_globals(sf_cli_ctx *ctx, const sf_cli_args *a) {
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

/* Parses the command's arguments, answers --help, sets up the API client
 * when the command needs it and runs the command. */
static int run_command(sf_cli_ctx *ctx, const sf_cli_command *c, int argc,
                       char **argv, int from) {
    static char name[64];
    snprintf(name, sizeof(name), "%s%s%s", c->group ? c->group : "",
             c->group ? " " : "", c->name);
    ctx->cmd = name;
    sf_cli_args a;
    memset(&a, 0, sizeof(a));
    int rc = parse_args(argc, argv, from, c->opts, 1, ctx->cmd, &a);
    if (rc) return rc;
    if (apply_globals(ctx, &a)) {
        fputs(c->usage, stdout);
        return SF_EXIT_OK;
    }
    if (!c->uses_api) return c->run(ctx, &a);
    if (!ctx->url || !*ctx->url)
        return sf_cli_usage_error(NULL, "empty coordinator URL");
    if (sf_cli_api_init(&ctx->api, ctx->url, ctx->token) != 0)
        return sf_cli_fail(SF_EXIT_ERROR, "cannot initialise libcurl");
    rc = c->run(ctx, &a);
    sf_cli_api_cleanup(&ctx->api);
    return rc;
}

static int is_help(const char *arg) {
    return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0 ||
           strcmp(arg, "help") == 0;
}

/* Every command table, searched in order. */
static const sf_cli_command *const tables[] = {
    sf_cli_publish_commands, sf_cli_dlq_commands, sf_cli_runs_commands,
    sf_cli_stats_commands, sf_cli_inspect_commands};

/* The command "group"/"name" (group NULL for a top-level command). */
static const sf_cli_command *find_command(const char *group, const char *name) {
    for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++)
        for (const sf_cli_command *c = tables[t]; c->name; c++)
            if (((!group && !c->group) ||
                 (group && c->group && strcmp(group, c->group) == 0)) &&
                strcmp(name, c->name) == 0)
                return c;
    return NULL;
}

/* Prints the usage of every command of "group" (its --help). */
static int group_help(const char *group) {
    int first = 1;
    for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++)
        for (const sf_cli_command *c = tables[t]; c->name; c++)
            if (c->group && strcmp(c->group, group) == 0) {
                if (!first) fputc('\n', stdout);
                fputs(c->usage, stdout);
                first = 0;
            }
    return SF_EXIT_OK;
}

/* The coordinator URL from the environment: STEPFLOW_URL, else the
 * coordinator's own STEPFLOW_LISTEN (a wildcard host means this host). */
static const char *default_url(char *buf, size_t size) {
    const char *u = getenv("STEPFLOW_URL");
    if (u && *u) return u;
    const char *l = getenv("STEPFLOW_LISTEN");
    if (l && *l && !strstr(l, "://")) {
        const char *colon = strrchr(l, ':');
        if (colon && colon[1]) {
            size_t hl = (size_t)(colon - l);
            int any = hl == 0 || (hl == 7 && strncmp(l, "0.0.0.0", 7) == 0) ||
                      (hl == 4 && strncmp(l, "[::]", 4) == 0);
            snprintf(buf, size, "http://%.*s%s", any ? 9 : (int)hl,
                     any ? "127.0.0.1" : l, colon);
            return buf;
        }
    }
    return "http://127.0.0.1:8080";
}

int main(int argc, char **argv) {
    static char url_buf[512];
    sf_cli_ctx ctx;
    memset(&ctx, 0, sizeof(ctx));
    ctx.url = default_url(url_buf, sizeof(url_buf));
    ctx.token = getenv("STEPFLOW_TOKEN");

    /* Global options, one (and its value) at a time, up to the command. */
    int i = 1;
    while (i < argc && argv[i][0] == '-') {
        const char *eq = strchr(argv[i], '=');
        size_t len = eq ? (size_t)(eq - argv[i]) : strlen(argv[i]);
        const sf_cli_opt *s = find_opt(global_opts, argv[i], len);
        if (!s)
            return sf_cli_usage_error(NULL, "unknown option '%.*s'", (int)len,
                                      argv[i]);
        int next = i + 1 + (s->has_arg && !eq);
        if (next > argc)
            return sf_cli_usage_error(NULL, "option %s needs a value", s->name);
        sf_cli_args a;
        memset(&a, 0, sizeof(a));
        int rc = parse_args(next, argv, i, global_opts, 0, NULL, &a);
        if (rc) return rc;
        for (int k = 0; k < a.n_opts; k++) a.opt_global[k] = 1;
        if (apply_globals(&ctx, &a)) {
            fputs(usage_main, stdout);
            return SF_EXIT_OK;
        }
        i = next;
    }
    if (i >= argc) return sf_cli_usage_error(NULL, "missing command");

    const char *word = argv[i];
    if (strcmp(word, "help") == 0) {
        fputs(usage_main, stdout);
        return SF_EXIT_OK;
    }
    const sf_cli_command *c = find_command(NULL, word);
    if (c) return run_command(&ctx, c, argc, argv, i + 1);
    if (strcmp(word, "dlq") != 0 && strcmp(word, "runs") != 0)
        return sf_cli_usage_error(NULL, "unknown command '%s'", word);

    if (i + 1 >= argc)
        return sf_cli_usage_error(word, "missing %s subcommand", word);
    const char *sub = argv[i + 1];
    if (is_help(sub)) return group_help(word);
    c = find_command(word, sub);
    if (!c)
        return sf_cli_usage_error(word, "unknown %s subcommand '%s'", word,
                                  sub);
    return run_command(&ctx, c, argc, argv, i + 2);
}
