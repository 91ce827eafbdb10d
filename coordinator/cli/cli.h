/* cli.h - what the `stepflow` commands share: the parsed command line,
 * the context (coordinator URL, token, --json), the command table entry,
 * exit codes, and the helpers every command uses to build a request, map
 * its outcome to an exit code and print errors the same way.
 *
 * Error output: usage errors are one line "stepflow: <what> (see
 * `stepflow <cmd> --help`)" and exit 2; everything else is one line
 * "error: <what>" on stderr, made safe for a terminal (control bytes of
 * what the API or Redis said never reach it), and the coordinator URL in
 * it never shows a user:password@ part.  With --json a failed API call
 * still prints the API's JSON error object on stdout.
 *
 * Ownership: sf_cli_args points into argv (never freed); strings the
 * helpers return are malloc'd for the caller unless they say otherwise. */
#ifndef SF_CLI_H
#define SF_CLI_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "api.h"
#include "util.h"

/* Exit codes (documented in `stepflow --help`). */
#define SF_EXIT_OK 0
#define SF_EXIT_ERROR 1    /* the API answered an error, or the coordinator
                              (or Redis) could not be reached */
#define SF_EXIT_USAGE 2    /* bad command line */
#define SF_EXIT_NOTFOUND 3 /* the id asked for does not exist (the API's
                              404 names it) */

#define SF_CLI_MAX_OPTS 128
#define SF_CLI_MAX_POS 128

/* One option a command accepts. */
typedef struct sf_cli_opt {
    const char *name; /* "--body" */
    int has_arg;
} sf_cli_opt;

/* The command line after parsing: options in order, then positionals. */
typedef struct sf_cli_args {
    const char *opt_name[SF_CLI_MAX_OPTS];
    const char *opt_val[SF_CLI_MAX_OPTS]; /* NULL for flags */
    int opt_global[SF_CLI_MAX_OPTS];      /* 1 if matched as a global option */
    int n_opts;
    const char *pos[SF_CLI_MAX_POS];
    int n_pos;
} sf_cli_args;

/* Settings shared by every command. */
typedef struct sf_cli_ctx {
    const char *url;   /* coordinator base URL (borrowed: env or argv) */
    const char *token; /* borrowed; NULL = none */
    int json;          /* --json: machine-readable output */
    const char *cmd;   /* "dlq list", ... for messages */
    sf_cli_api api;    /* ready when the command talks to the API */
    char error[512];   /* the last error sf_cli_call or sf_cli_bad_reply
                          printed, for the --json summary of a bulk action
                          that stopped partway */
} sf_cli_ctx;

typedef int sf_cli_run_fn(sf_cli_ctx *ctx, const sf_cli_args *a);

/* One command: `stepflow <group> <name>` (group NULL: `stepflow <name>`). */
typedef struct sf_cli_command {
    const char *group;      /* "dlq", "runs", or NULL */
    const char *name;       /* "list" */
    const sf_cli_opt *opts; /* NULL-terminated */
    const char *usage;      /* printed by --help */
    int uses_api;           /* 0: no HTTP client (inspect) */
    sf_cli_run_fn *run;
} sf_cli_command;

/* The commands of each file, each table ended by a {NULL, NULL} entry. */
extern const sf_cli_command sf_cli_publish_commands[]; /* cmd_publish.c */
extern const sf_cli_command sf_cli_dlq_commands[];     /* cmd_dlq.c */
extern const sf_cli_command sf_cli_runs_commands[];    /* cmd_runs.c */
extern const sf_cli_command sf_cli_stats_commands[];   /* cmd_stats.c */
extern const sf_cli_command sf_cli_inspect_commands[]; /* cmd_inspect.c */

/* ---- command line ---- */

/* Prints "stepflow: <message> (see `stepflow <cmd> --help`)" on stderr and
 * returns SF_EXIT_USAGE. */
int sf_cli_usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prints "error: <message>" on stderr and returns "code". */
int sf_cli_fail(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The last value given for the command option "name", or NULL ("" for a
 * flag that is present).  Borrowed from argv. */
const char *sf_cli_opt_get(const sf_cli_args *a, const char *name);

/* Parses a whole non-negative decimal number up to "max"; 0 on success. */
int sf_cli_parse_uint(const char *s, long long max, long long *out);

/* Returns SF_EXIT_USAGE ("unexpected argument", printed) when "a" has
 * positional arguments, else 0. */
int sf_cli_no_positionals(const sf_cli_ctx *ctx, const sf_cli_args *a);

/* Checks the line of a `list` command before its filters: no positional
 * arguments, and --count, when given, 1.."max".  Returns 0 or
 * SF_EXIT_USAGE (message printed). */
int sf_cli_list_check(const sf_cli_ctx *ctx, const sf_cli_args *a,
                      long long max);

/* Reads all of "path" ("-" = stdin) into a malloc'd buffer, or NULL with
 * errno set. */
char *sf_cli_read_file(const char *path, size_t *len_out);

/* ---- requests ---- */

/* Appends "name=<percent-encoded value>" to the path or query in "q"
 * ('?' before the first parameter, '&' after). */
void sf_cli_query_add(sf_buf *q, const char *name, const char *value);

/* Returns malloc'd "<prefix><percent-encoded id>" (NULL when out of
 * memory). */
char *sf_cli_id_path(const char *prefix, const char *id);

/* "url" without a "user:password@" part, into "out" (returned). */
const char *sf_cli_url_shown(const char *url, char *out, size_t out_size);

/* Sends one request (see sf_cli_api_request) and maps its outcome:
 * returns -1 on a 2xx (the caller reads "rep"), else the exit code after
 * printing the error (and keeping it in ctx->error).  A 404 whose API
 * error names the entity ("dlq message ... not found", "workflow run ...
 * not found"), with "what" set (e.g. "dlq entry 'x'"), prints "error:
 * <what> not found" and returns SF_EXIT_NOTFOUND; any other 404 (a route
 * the coordinator does not serve: a wrong base URL) is SF_EXIT_ERROR with
 * the API's message.  "rep" is always filled; the caller cleans it up. */
int sf_cli_call(sf_cli_ctx *ctx, const char *method, const char *path,
                const sf_cli_headers *headers, const void *body,
                size_t body_len, const char *what, sf_cli_reply *rep);

/* sf_cli_call for one request of a bulk action, which prints one --json
 * summary at the end (with ctx->error in it): a failed reply's JSON is
 * not printed on its own; its error still goes to stderr. */
int sf_cli_bulk_call(sf_cli_ctx *ctx, const char *method, const char *path,
                     const sf_cli_headers *headers, const char *what,
                     sf_cli_reply *rep);

/* Notes the outcome "rc" of a per-id bulk action's call for "id" in its
 * --json summary: appends "id" to "missing" (SF_EXIT_NOTFOUND) or
 * "failed" (another exit code); nothing on success (-1). */
void sf_cli_note_failed_id(int rc, const char *id, json_t *missing,
                           json_t *failed);

/* Prints the reply (--json) as one line: its JSON through
 * sf_cli_print_json, else the body made safe for a terminal. */
void sf_cli_print_raw(const sf_cli_reply *rep);

/* Prints "v" as one line of compact JSON, non-ASCII as \uXXXX escapes,
 * and decrefs it. */
void sf_cli_print_json(json_t *v);

/* "error: unexpected reply from the coordinator: <what> (HTTP n)", kept in
 * ctx->error; returns SF_EXIT_ERROR. */
int sf_cli_bad_reply(sf_cli_ctx *ctx, const sf_cli_reply *rep,
                     const char *what);

/* ---- cursor paging ---- */

/* The cursor to follow after the reply "rep" to a request for "cur"
 * (freed here): the reply's "cursor", malloc'd; NULL at the end (none,
 * empty, or one that does not move, whatever the server says). */
char *sf_cli_next_cursor(const sf_cli_reply *rep, char *cur);

/* GETs the pages of a cursor-paged list: "base" (a path with its query so
 * far) plus count=<count> (NULL: the API's default) and cursor=<cursor>
 * (NULL: the first page), following the cursor for at most "max_pages"
 * pages (1: the first only).  Appends the elements of each reply's array
 * "key" ("messages", "runs") to "out".  Sets "*next" to the cursor after
 * the last page read (malloc'd for the caller; NULL at the end and on an
 * error).  Returns -1 on success, else the exit code (error printed). */
int sf_cli_get_pages(sf_cli_ctx *ctx, const char *base, const char *key,
                     const char *count, const char *cursor, int max_pages,
                     json_t *out, char **next);

/* A `list` command's listing: GETs the pages of "base" as --count,
 * --cursor and --all of "a" say (sf_cli_get_pages; --all follows at most
 * "max_pages"), then prints them: with --json {"<key>": [...], "cursor":
 * next} (no cursor at the end), else "table"(stdout, items) then "next
 * cursor: <c>" (made safe for the terminal) when there is one.  Returns
 * the exit code. */
int sf_cli_list(sf_cli_ctx *ctx, const sf_cli_args *a, const char *base,
                const char *key, int max_pages,
                void (*table)(FILE *f, const json_t *items));

/* Folds the outcome of one item of a multi-item command into the exit
 * code so far: an error (1) wins over not found (3), which wins over 0. */
int sf_cli_worst(int so_far, int rc);

#endif
