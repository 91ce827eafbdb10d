/* cmd_dlq.c - `stepflow dlq ...`: list (every filter of GET /v2/dlq,
 * cursor paging), get, retry, retry-callback, cancel-callback, and the bulk
 * actions resume, restart and delete, which take DLQ ids, or filters, or
 * --all, and can show what they would touch (--dry-run) instead.
 *
 * Bulk actions by id make one request per id (DELETE /v2/dlq/{id}, POST
 * /v2/workflows/dlq/<mode>/{id}) so each id gets its own answer (an
 * unknown one is reported and the others go on, exit 3).  By filter or
 * --all they make the API's bulk request (DELETE /v2/dlq, POST
 * /v2/workflows/dlq/<mode>) page after page, following its cursor, until
 * every matching entry was handled; one that fails partway still says
 * how many were handled (--json: {"deleted": N, "error": "..."}).
 * --dry-run lists the same entries with GET /v2/dlq and changes nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "output.h"

/* Largest page the DLQ API serves (count) and dlqIds it takes at once. */
#define DLQ_PAGE_MAX 100
/* Pages followed at most by one command (a loop guard, not a limit an
 * operator should meet: 100 000 pages of 100 entries). */
#define DLQ_MAX_PAGES 100000

typedef enum filter_kind {
    F_STR,   /* a non-empty string, repeatable (OR) */
    F_STATE, /* a failure-callback state, repeatable */
    F_TIME,  /* ms or ISO 8601, sent as ms */
    F_INT,   /* a whole number */
    F_FLAG,  /* no value: sends param=<value> */
} filter_kind;

/* An option that narrows the DLQ entries a command sees. */
typedef struct dlq_filter {
    const char *opt;
    const char *param;
    filter_kind kind;
    const char *flag_value; /* F_FLAG: what param gets */
} dlq_filter;

static const dlq_filter filters[] = {
    {"--state", "failureFunctionState", F_STATE, NULL},
    {"--url", "url", F_STR, NULL},
    {"--workflow-url", "workflowUrl", F_STR, NULL},
    {"--run-id", "workflowRunId", F_STR, NULL},
    {"--label", "label", F_STR, NULL},
    {"--message-id", "messageId", F_STR, NULL},
    {"--caller-ip", "callerIp", F_STR, NULL},
    {"--response-status", "responseStatus", F_INT, NULL},
    {"--workflow-created-at", "workflowCreatedAt", F_INT, NULL},
    {"--from", "fromDate", F_TIME, NULL},
    {"--to", "toDate", F_TIME, NULL},
    {"--workflow", "source", F_FLAG, "workflow"},
    {"--flow-control-key", "flowControlKey", F_STR, NULL},
};
#define N_FILTERS (sizeof(filters) / sizeof(filters[0]))

static const char *const cb_states[] = {"CALLBACK_FAIL", "CALLBACK_SUCCESS",
                                        "CALLBACK_INPROGRESS",
                                        "CALLBACK_CANCELED", "NONE"};

/* The filter options as option specs (resume/restart leave out the last:
 * their --flow-control-key sets the new runs' key). */
#define FILTER_OPTS                                                           \
    {"--state", 1}, {"--url", 1}, {"--workflow-url", 1}, {"--run-id", 1},     \
        {"--label", 1}, {"--message-id", 1}, {"--caller-ip", 1},              \
        {"--response-status", 1}, {"--workflow-created-at", 1}, {"--from", 1}, \
        {"--to", 1}, {"--workflow", 0}

static const sf_cli_opt list_opts[] = {
    FILTER_OPTS, {"--flow-control-key", 1}, {"--count", 1}, {"--cursor", 1},
    {"--all", 0}, {NULL, 0}};
static const sf_cli_opt delete_opts[] = {
    FILTER_OPTS, {"--flow-control-key", 1}, {"--all", 0}, {"--dry-run", 0},
    {NULL, 0}};
static const sf_cli_opt rerun_opts[] = {
    FILTER_OPTS,  {"--all", 0}, {"--dry-run", 0}, {"--retries", 1},
    {"--flow-control-key", 1}, {"--flow-control-value", 1}, {NULL, 0}};
static const sf_cli_opt no_opts[] = {{NULL, 0}};

#define FILTER_HELP                                                           \
    "filters (repeat one for OR; different ones AND):\n"                      \
    "  --state S               failure-callback state: CALLBACK_FAIL,\n"      \
    "                          CALLBACK_SUCCESS, CALLBACK_INPROGRESS,\n"      \
    "                          CALLBACK_CANCELED, or NONE (no callback)\n"    \
    "  --url U                 destination URL (a workflow step's URL)\n"     \
    "  --workflow-url U        workflow URL\n"                                \
    "  --run-id ID             workflow run id\n"                             \
    "  --label L               label\n"                                       \
    "  --message-id ID         message id\n"                                  \
    "  --caller-ip IP          publisher's address\n"                         \
    "  --response-status N     HTTP status of the last attempt\n"             \
    "  --workflow-created-at MS  the run's creation time (ms)\n"              \
    "  --from T, --to T        entered the DLQ in [T1, T2]: Unix ms (13\n"    \
    "                          digits) or ISO 8601 (2024-05-01,\n"            \
    "                          2024-05-01T12:00:00Z; no zone = UTC)\n"        \
    "  --workflow              workflow entries only\n"

static const char usage_list[] =
    "usage: stepflow dlq list [filters] [--count N] [--cursor C] [--all]\n"
    "\n"
    "GET /v2/dlq: DLQ entries, newest first.\n"
    "\n" FILTER_HELP
    "  --flow-control-key K    flow-control key\n"
    "paging:\n"
    "  --count N               entries per page, 1..100 (default 50)\n"
    "  --cursor C              the page after C (printed under the table)\n"
    "  --all                   follow the cursor to the last page\n";

static const char usage_get[] =
    "usage: stepflow dlq get <dlqId>\n"
    "\n"
    "GET /v2/dlq/<dlqId>: the entry in full: the request, the last response,\n"
    "every attempt, the failure callback's state, attempts used, last\n"
    "response and its failed attempts (time, status, error, body).\n";

static const char usage_retry[] =
    "usage: stepflow dlq retry <dlqId>...\n"
    "\n"
    "POST /v2/dlq/retry/<dlqId>: publishes the original message again (a new\n"
    "message id, retries from zero) and removes the entry.\n";

static const char usage_retry_cb[] =
    "usage: stepflow dlq retry-callback <dlqId>...\n"
    "\n"
    "POST /v2/workflows/dlq/callback/<dlqId>: runs the failure callback\n"
    "again; only allowed in CALLBACK_FAIL (list them with\n"
    "`stepflow dlq list --state CALLBACK_FAIL`).\n";

static const char usage_cancel_cb[] =
    "usage: stepflow dlq cancel-callback <dlqId>...\n"
    "\n"
    "DELETE /v2/workflows/dlq/callback/<dlqId>: cancels a failure callback\n"
    "in progress (CALLBACK_CANCELED).\n";

static const char usage_delete[] =
    "usage: stepflow dlq delete <dlqId>... | [filters] | --all  [--dry-run]\n"
    "\n"
    "Deletes DLQ entries: the ids given (DELETE /v2/dlq/<dlqId> each), or\n"
    "every entry matching the filters, or every entry (--all) (DELETE\n"
    "/v2/dlq, page after page).  Prints how many were deleted.\n"
    "\n"
    "  --dry-run               list the entries that would be deleted;\n"
    "                          change nothing\n"
    "\n" FILTER_HELP "  --flow-control-key K    flow-control key\n";

static const char usage_resume[] =
    "usage: stepflow dlq resume <dlqId>... | [filters] | --all  [options]\n"
    "\n"
    "A new run for each failed workflow run named by a DLQ entry, keeping the\n"
    "steps that had succeeded (POST /v2/workflows/dlq/resume); the entries\n"
    "are removed.  By id one request each, else page after page over the\n"
    "workflow entries matching the filters (or all of them).\n"
    "\n"
    "  --dry-run               list the entries that would be resumed\n"
    "  --retries N             retries of the new runs' steps\n"
    "  --flow-control-key K    flow control of the new runs ...\n"
    "  --flow-control-value V  ... 'parallelism=2, rate=10, period=1s'\n"
    "\n" FILTER_HELP;

static const char usage_restart[] =
    "usage: stepflow dlq restart <dlqId>... | [filters] | --all  [options]\n"
    "\n"
    "Like `dlq resume`, but each new run starts over from the initial\n"
    "payload (POST /v2/workflows/dlq/restart).\n"
    "\n"
    "  --dry-run               list the entries that would be restarted\n"
    "  --retries N             retries of the new runs' steps\n"
    "  --flow-control-key K    flow control of the new runs ...\n"
    "  --flow-control-value V  ... 'parallelism=2, rate=10, period=1s'\n"
    "\n" FILTER_HELP;

/* ---- filters ---- */

/* Appends the filter options of "a" to "q"; "*n" = how many.  Options the
 * command spec did not accept are never present.  Returns 0 or
 * SF_EXIT_USAGE. */
static int add_filters(const sf_cli_ctx *ctx, const sf_cli_args *a,
                       int skip_fc_key, sf_buf *q, int *n) {
    *n = 0;
    for (int i = 0; i < a->n_opts; i++) {
        if (a->opt_global[i]) continue;
        const dlq_filter *f = NULL;
        for (size_t k = 0; k < N_FILTERS && !f; k++)
            if (strcmp(a->opt_name[i], filters[k].opt) == 0) f = &filters[k];
        if (!f || (skip_fc_key && strcmp(f->opt, "--flow-control-key") == 0))
            continue;
        const char *v = a->opt_val[i];
        char num[32];
        long long x;
        int64_t ms;
        switch (f->kind) {
        case F_FLAG:
            v = f->flag_value;
            break;
        case F_STATE: {
            const char *hit = NULL;
            for (size_t s = 0; s < sizeof(cb_states) / sizeof(cb_states[0]);
                 s++)
                if (strcasecmp(v, cb_states[s]) == 0) hit = cb_states[s];
            if (!hit)
                return sf_cli_usage_error(
                    ctx->cmd,
                    "bad --state '%s': want CALLBACK_FAIL, "
                    "CALLBACK_SUCCESS, CALLBACK_INPROGRESS, "
                    "CALLBACK_CANCELED or NONE",
                    v);
            v = hit;
            break;
        }
        case F_TIME: {
            const char *why;
            if (sf_out_parse_time(v, &ms, &why) != 0)
                return sf_cli_usage_error(ctx->cmd, "bad %s '%s': %s", f->opt,
                                          v, why);
            snprintf(num, sizeof(num), "%lld", (long long)ms);
            v = num;
            break;
        }
        case F_INT:
            if (sf_cli_parse_uint(v, INT64_MAX / 2, &x) != 0)
                return sf_cli_usage_error(ctx->cmd,
                                          "%s wants a whole number, got '%s'",
                                          f->opt, v);
            break;
        case F_STR:
            if (!*v) return sf_cli_usage_error(ctx->cmd, "%s is empty", f->opt);
            break;
        }
        sf_cli_query_add(q, f->param, v);
        (*n)++;
    }
    return 0;
}

/* ---- listing ---- */

static int cmd_list(sf_cli_ctx *ctx, const sf_cli_args *a) {
    int n, rc;
    if ((rc = sf_cli_list_check(ctx, a, DLQ_PAGE_MAX))) return rc;
    sf_buf base;
    sf_buf_init(&base);
    sf_buf_appends(&base, "/v2/dlq");
    rc = add_filters(ctx, a, 0, &base, &n);
    if (rc == 0)
        rc = sf_cli_list(ctx, a, base.data, "messages", DLQ_MAX_PAGES,
                         sf_out_dlq_table);
    sf_buf_cleanup(&base);
    return rc;
}

/* ---- single-id actions ---- */

static int check_ids(const sf_cli_ctx *ctx, const sf_cli_args *a, int max) {
    if (a->n_pos == 0) return sf_cli_usage_error(ctx->cmd, "missing dlqId");
    if (a->n_pos > max)
        return sf_cli_usage_error(ctx->cmd, "expected one dlqId");
    for (int i = 0; i < a->n_pos; i++)
        if (!*a->pos[i]) return sf_cli_usage_error(ctx->cmd, "empty dlqId");
    return 0;
}

static int cmd_get(sf_cli_ctx *ctx, const sf_cli_args *a) {
    int rc = check_ids(ctx, a, 1);
    if (rc) return rc;
    char what[300];
    snprintf(what, sizeof(what), "dlq entry '%.200s'", a->pos[0]);
    char *path = sf_cli_id_path("/v2/dlq/", a->pos[0]);
    if (!path) return sf_cli_fail(SF_EXIT_ERROR, "out of memory");
    sf_cli_reply rep;
    rc = sf_cli_call(ctx, "GET", path, NULL, NULL, 0, what, &rep);
    free(path);
    if (rc < 0) {
        /* Some servers wrap the entry as {"message": {...}}. */
        const json_t *e = rep.json;
        if (json_is_object(json_object_get(e, "message")))
            e = json_object_get(e, "message");
        rc = SF_EXIT_OK;
        if (!json_is_object(e))
            rc = sf_cli_bad_reply(ctx, &rep, "not a DLQ entry");
        else if (ctx->json)
            sf_cli_print_raw(&rep);
        else
            sf_out_dlq_entry(stdout, e);
    }
    sf_cli_reply_cleanup(&rep);
    return rc;
}

/* A command that makes one request per dlqId. */
typedef struct id_action {
    const char *method;
    const char *prefix; /* path before the escaped id */
    const char *done_pre, *done_post; /* human output around the id; NULL:
                                         "re-published as <messageId>" */
} id_action;

static int run_per_id(sf_cli_ctx *ctx, const sf_cli_args *a,
                      const id_action *act) {
    int rc = check_ids(ctx, a, SF_CLI_MAX_POS), worst = SF_EXIT_OK;
    if (rc) return rc;
    for (int i = 0; i < a->n_pos; i++) {
        const char *id = a->pos[i];
        char what[300], shown[200 * 4 + 8];
        snprintf(what, sizeof(what), "dlq entry '%.200s'", id);
        sf_out_clip(id, 200, shown, sizeof(shown));
        char *path = sf_cli_id_path(act->prefix, id);
        if (!path) return sf_cli_fail(SF_EXIT_ERROR, "out of memory");
        sf_cli_reply rep;
        rc = sf_cli_call(ctx, act->method, path, NULL, NULL, 0, what, &rep);
        free(path);
        if (rc < 0) {
            rc = SF_EXIT_OK;
            char mid[200 * 4 + 8];
            const char *m =
                json_string_value(json_object_get(rep.json, "messageId"));
            if (m) sf_out_clip(m, 200, mid, sizeof(mid));
            if (ctx->json)
                sf_cli_print_raw(&rep);
            else if (act->done_pre)
                printf("%s%s%s\n", act->done_pre, shown, act->done_post);
            else if (m)
                printf("dlq entry %s re-published as %s\n", shown, mid);
            else
                printf("dlq entry %s re-published\n", shown);
        }
        sf_cli_reply_cleanup(&rep);
        worst = sf_cli_worst(worst, rc);
    }
    return worst;
}

static int cmd_retry(sf_cli_ctx *ctx, const sf_cli_args *a) {
    static const id_action act = {"POST", "/v2/dlq/retry/", NULL, NULL};
    return run_per_id(ctx, a, &act);
}

static int cmd_retry_cb(sf_cli_ctx *ctx, const sf_cli_args *a) {
    static const id_action act = {"POST", "/v2/workflows/dlq/callback/",
                                  "failure callback of ", " re-enqueued"};
    return run_per_id(ctx, a, &act);
}

static int cmd_cancel_cb(sf_cli_ctx *ctx, const sf_cli_args *a) {
    static const id_action act = {"DELETE", "/v2/workflows/dlq/callback/",
                                  "failure callback of ", " canceled"};
    return run_per_id(ctx, a, &act);
}

/* ---- bulk actions: delete, resume, restart ---- */

typedef enum bulk_mode { BULK_DELETE, BULK_RESUME, BULK_RESTART } bulk_mode;

static const char *const bulk_verb[] = {"deleted", "resumed", "restarted"};
static const char *const bulk_name[] = {"delete", "resume", "restart"};

/* What a bulk command was asked to touch. */
typedef struct bulk {
    bulk_mode mode;
    sf_buf filter;       /* "?a=b&c=d" (may be empty) */
    int n_filters;
    int all;
    int dry_run;
    sf_cli_headers hdrs; /* resume/restart: Upstash-Retries, flow control */
} bulk;

/* One request of the action "b" on "path": DELETE for delete, POST with
 * its headers for resume and restart (see sf_cli_bulk_call). */
static int bulk_request(sf_cli_ctx *ctx, const bulk *b, const char *path,
                        const char *what, sf_cli_reply *rep) {
    if (b->mode == BULK_DELETE)
        return sf_cli_bulk_call(ctx, "DELETE", path, NULL, what, rep);
    return sf_cli_bulk_call(ctx, "POST", path, &b->hdrs, what, rep);
}

/* --dry-run: the entries the action would touch, listed and counted. */
static int bulk_dry_run(sf_cli_ctx *ctx, const sf_cli_args *a, bulk *b) {
    json_t *msgs = json_array();
    json_t *missing = json_array();
    int rc = -1;
    char *next = NULL;
    if (a->n_pos) {
        /* dlqIds in chunks of what one request takes */
        for (int i = 0; i < a->n_pos && rc < 0; i += DLQ_PAGE_MAX) {
            sf_buf q;
            sf_buf_init(&q);
            sf_buf_appends(&q, "/v2/dlq");
            for (int k = i; k < a->n_pos && k < i + DLQ_PAGE_MAX; k++)
                sf_cli_query_add(&q, "dlqIds", a->pos[k]);
            rc = sf_cli_get_pages(ctx, q.data, "messages", NULL, NULL,
                                  DLQ_MAX_PAGES, msgs, &next);
            free(next);
            sf_buf_cleanup(&q);
        }
        for (int i = 0; rc < 0 && i < a->n_pos; i++) {
            int found = 0;
            for (size_t k = 0; k < json_array_size(msgs) && !found; k++) {
                const char *id = json_string_value(
                    json_object_get(json_array_get(msgs, k), "dlqId"));
                found = id && strcmp(id, a->pos[i]) == 0;
            }
            if (!found) json_array_append_new(missing, json_string(a->pos[i]));
        }
    } else {
        sf_buf q;
        sf_buf_init(&q);
        sf_buf_appendf(&q, "/v2/dlq%s", b->filter.data ? b->filter.data : "");
        /* resume/restart by filter only consider workflow entries */
        if (b->mode != BULK_DELETE && !sf_cli_opt_get(a, "--workflow"))
            sf_cli_query_add(&q, "source", "workflow");
        rc = sf_cli_get_pages(ctx, q.data, "messages", "100", NULL,
                              DLQ_MAX_PAGES, msgs, &next);
        free(next);
        sf_buf_cleanup(&q);
    }
    int not_wf = 0;
    if (rc < 0 && a->n_pos && b->mode != BULK_DELETE) {
        /* resume/restart refuse an entry that is not a workflow run's */
        json_t *wf = json_array();
        for (size_t k = 0; k < json_array_size(msgs); k++) {
            json_t *m = json_array_get(msgs, k);
            const char *run = json_string_value(json_object_get(m, "workflowRunId"));
            if (run && *run) {
                json_array_append(wf, m);
            } else {
                not_wf = 1;
                sf_cli_fail(SF_EXIT_ERROR, "dlq entry '%s' is not a workflow "
                            "run's: %s would refuse it",
                            json_string_value(json_object_get(m, "dlqId")),
                            bulk_name[b->mode]);
            }
        }
        json_decref(msgs);
        msgs = wf;
    }
    if (rc < 0) {
        size_t n = json_array_size(msgs);
        rc = not_wf                    ? SF_EXIT_ERROR
             : json_array_size(missing) ? SF_EXIT_NOTFOUND
                                        : SF_EXIT_OK;
        for (size_t i = 0; i < json_array_size(missing); i++)
            sf_cli_fail(SF_EXIT_NOTFOUND, "dlq entry '%s' not found",
                        json_string_value(json_array_get(missing, i)));
        if (ctx->json) {
            sf_cli_print_json(json_pack("{s:b,s:s,s:I,s:O,s:O}", "dryRun", 1,
                                        "action", bulk_name[b->mode], "count",
                                        (json_int_t)n, "messages", msgs,
                                        "notFound", missing));
        } else {
            sf_out_dlq_table(stdout, msgs);
            printf("dry run: %zu dlq entr%s would be %s; nothing was "
                   "changed\n",
                   n, n == 1 ? "y" : "ies", bulk_verb[b->mode]);
        }
    }
    json_decref(msgs);
    json_decref(missing);
    return rc;
}

/* Resume/restart/delete named entries, one request each. */
static int bulk_by_ids(sf_cli_ctx *ctx, const sf_cli_args *a, bulk *b) {
    static const sf_out_col cols[] = {
        {"DLQ ID", 0}, {"NEW RUN ID", 0}, {"CREATED", 0}};
    json_t *runs = json_array();
    json_t *missing = json_array(), *failed = json_array();
    sf_out_table *t = sf_out_table_new(cols, sizeof(cols) / sizeof(cols[0]));
    size_t done = 0;
    int worst = SF_EXIT_OK;
    for (int i = 0; i < a->n_pos; i++) {
        const char *id = a->pos[i];
        char what[300], prefix[64];
        snprintf(what, sizeof(what), "dlq entry '%.200s'", id);
        if (b->mode == BULK_DELETE)
            snprintf(prefix, sizeof(prefix), "/v2/dlq/");
        else
            snprintf(prefix, sizeof(prefix), "/v2/workflows/dlq/%s/",
                     bulk_name[b->mode]);
        char *path = sf_cli_id_path(prefix, id);
        if (!path) break;
        sf_cli_reply rep;
        int rc = bulk_request(ctx, b, path, what, &rep);
        free(path);
        sf_cli_note_failed_id(rc, id, missing, failed);
        if (rc < 0) {
            rc = SF_EXIT_OK;
            done++;
            if (b->mode != BULK_DELETE) {
                json_t *run = json_deep_copy(rep.json);
                const char *rid =
                    json_string_value(json_object_get(run, "workflowRunId"));
                char at[40];
                int64_t ms = 0;
                sf_out_json_i64(json_object_get(run, "workflowCreatedAt"), &ms);
                const char *row[] = {id, rid, sf_out_iso8601(ms, at, sizeof(at))};
                sf_out_table_add(t, row);
                if (json_is_object(run)) {
                    json_object_set_new(run, "dlqId", json_string(id));
                    json_array_append(runs, run);
                }
                json_decref(run);
            }
        }
        sf_cli_reply_cleanup(&rep);
        worst = sf_cli_worst(worst, rc);
    }
    if (ctx->json) {
        if (b->mode == BULK_DELETE)
            sf_cli_print_json(json_pack("{s:I,s:O,s:O}", "deleted",
                                        (json_int_t)done, "notFound", missing,
                                        "failed", failed));
        else
            sf_cli_print_json(json_pack("{s:O,s:O,s:O}", "workflowRuns", runs,
                                        "notFound", missing, "failed", failed));
    } else {
        if (b->mode != BULK_DELETE && done) sf_out_table_print(stdout, t, 0);
        printf("%s %zu of %d dlq entr%s\n", bulk_verb[b->mode], done, a->n_pos,
               a->n_pos == 1 ? "y" : "ies");
    }
    sf_out_table_free(t);
    json_decref(runs);
    json_decref(missing);
    json_decref(failed);
    return worst;
}

/* Resume/restart/delete by filter or all: the API's bulk request, page
 * after page. */
static int bulk_by_filter(sf_cli_ctx *ctx, bulk *b) {
    static const sf_out_col cols[] = {{"NEW RUN ID", 0}, {"CREATED", 0}};
    json_t *runs = json_array();
    sf_out_table *t = sf_out_table_new(cols, sizeof(cols) / sizeof(cols[0]));
    long long deleted = 0;
    char *cur = NULL;
    int rc = -1;
    for (int pages = 0; pages < DLQ_MAX_PAGES; pages++) {
        sf_buf path;
        sf_buf_init(&path);
        if (b->mode == BULK_DELETE)
            sf_buf_appends(&path, "/v2/dlq");
        else
            sf_buf_appendf(&path, "/v2/workflows/dlq/%s", bulk_name[b->mode]);
        if (b->filter.data) sf_buf_appends(&path, b->filter.data);
        sf_cli_query_add(&path, "count", "100");
        if (cur) sf_cli_query_add(&path, "cursor", cur);
        sf_cli_reply rep;
        rc = bulk_request(ctx, b, path.data, NULL, &rep);
        sf_buf_cleanup(&path);
        if (rc >= 0) {
            sf_cli_reply_cleanup(&rep);
            break;
        }
        int64_t n = 0;
        const json_t *wr = json_object_get(rep.json, "workflowRuns");
        if (b->mode == BULK_DELETE &&
            sf_out_json_i64(json_object_get(rep.json, "deleted"), &n) != 0) {
            rc = sf_cli_bad_reply(ctx, &rep, "no deleted count");
        } else if (b->mode != BULK_DELETE && !json_is_array(wr)) {
            rc = sf_cli_bad_reply(ctx, &rep, "no workflowRuns array");
        }
        if (rc >= 0) {
            sf_cli_reply_cleanup(&rep);
            break;
        }
        deleted += n;
        for (size_t i = 0; json_is_array(wr) && i < json_array_size(wr); i++) {
            const json_t *r = json_array_get(wr, i);
            char at[40];
            int64_t ms = 0;
            sf_out_json_i64(json_object_get(r, "workflowCreatedAt"), &ms);
            const char *row[] = {
                json_string_value(json_object_get(r, "workflowRunId")),
                sf_out_iso8601(ms, at, sizeof(at))};
            sf_out_table_add(t, row);
            json_array_append(runs, (json_t *)r);
        }
        cur = sf_cli_next_cursor(&rep, cur);
        sf_cli_reply_cleanup(&rep);
        if (!cur) break;
    }
    free(cur);
    /* What was done before a failure stays done: say so either way, with
     * --json as one object {"deleted": N, "error": "..."} (or
     * {"workflowRuns": [...], "error": "..."}). */
    size_t n = b->mode == BULK_DELETE ? (size_t)deleted : json_array_size(runs);
    if (ctx->json) {
        json_t *o = b->mode == BULK_DELETE
                        ? json_pack("{s:I}", "deleted", (json_int_t)deleted)
                        : json_pack("{s:O}", "workflowRuns", runs);
        if (o && rc >= 0)
            json_object_set_new(o, "error", json_string(ctx->error));
        sf_cli_print_json(o);
    } else {
        if (n && b->mode != BULK_DELETE) sf_out_table_print(stdout, t, 0);
        printf("%s %zu dlq entr%s\n", bulk_verb[b->mode], n,
               n == 1 ? "y" : "ies");
    }
    sf_out_table_free(t);
    json_decref(runs);
    return rc < 0 ? SF_EXIT_OK : rc;
}

static int run_bulk(sf_cli_ctx *ctx, const sf_cli_args *a, bulk_mode mode) {
    bulk b = {.mode = mode};
    const char *v;
    long long n;
    sf_buf_init(&b.filter);
    b.all = sf_cli_opt_get(a, "--all") != NULL;
    b.dry_run = sf_cli_opt_get(a, "--dry-run") != NULL;
    int rc = add_filters(ctx, a, mode != BULK_DELETE, &b.filter, &b.n_filters);
    if (rc == 0) {
        if (!a->n_pos && !b.n_filters && !b.all)
            rc = sf_cli_usage_error(ctx->cmd,
                                    "give dlq ids, filters, or --all for "
                                    "every entry");
        else if (a->n_pos && (b.n_filters || b.all))
            rc = sf_cli_usage_error(ctx->cmd,
                                    "give dlq ids or filters/--all, not both");
        else if (b.all && b.n_filters)
            rc = sf_cli_usage_error(ctx->cmd, "--all takes no filters");
        else
            for (int i = 0; i < a->n_pos && !rc; i++)
                if (!*a->pos[i])
                    rc = sf_cli_usage_error(ctx->cmd, "empty dlqId");
    }
    if (rc == 0 && (v = sf_cli_opt_get(a, "--retries"))) {
        if (sf_cli_parse_uint(v, 1000000, &n) != 0)
            rc = sf_cli_usage_error(ctx->cmd,
                                    "--retries wants a whole number >= 0, "
                                    "got '%s'",
                                    v);
        else
            sf_cli_headers_add(&b.hdrs, "Upstash-Retries", v);
    }
    if (rc == 0 && (v = sf_cli_opt_get(a, "--flow-control-value")) &&
        !sf_cli_opt_get(a, "--flow-control-key"))
        rc = sf_cli_usage_error(ctx->cmd, "--flow-control-value needs "
                                          "--flow-control-key");
    if (rc == 0 && mode != BULK_DELETE &&
        (v = sf_cli_opt_get(a, "--flow-control-key"))) {
        const char *fv = sf_cli_opt_get(a, "--flow-control-value");
        if (strpbrk(v, "\r\n") || (fv && strpbrk(fv, "\r\n")))
            rc = sf_cli_usage_error(ctx->cmd, "flow control cannot hold "
                                              "newlines");
        else {
            sf_cli_headers_add(&b.hdrs, "Upstash-Flow-Control-Key", v);
            if (fv) sf_cli_headers_add(&b.hdrs, "Upstash-Flow-Control-Value", fv);
        }
    }
    if (rc == 0) {
        if (b.dry_run)
            rc = bulk_dry_run(ctx, a, &b);
        else if (a->n_pos)
            rc = bulk_by_ids(ctx, a, &b);
        else
            rc = bulk_by_filter(ctx, &b);
    }
    sf_buf_cleanup(&b.filter);
    sf_cli_headers_cleanup(&b.hdrs);
    return rc;
}

static int cmd_delete(sf_cli_ctx *ctx, const sf_cli_args *a) {
    return run_bulk(ctx, a, BULK_DELETE);
}

static int cmd_resume(sf_cli_ctx *ctx, const sf_cli_args *a) {
    return run_bulk(ctx, a, BULK_RESUME);
}

static int cmd_restart(sf_cli_ctx *ctx, const sf_cli_args *a) {
    return run_bulk(ctx, a, BULK_RESTART);
}

const sf_cli_command sf_cli_dlq_commands[] = {
    {"dlq", "list", list_opts, usage_list, 1, cmd_list},
    {"dlq", "get", no_opts, usage_get, 1, cmd_get},
    {"dlq", "retry", no_opts, usage_retry, 1, cmd_retry},
    {"dlq", "retry-callback", no_opts, usage_retry_cb, 1, cmd_retry_cb},
    {"dlq", "cancel-callback", no_opts, usage_cancel_cb, 1, cmd_cancel_cb},
    {"dlq", "resume", rerun_opts, usage_resume, 1, cmd_resume},
    {"dlq", "restart", rerun_opts, usage_restart, 1, cmd_restart},
    {"dlq", "delete", delete_opts, usage_delete, 1, cmd_delete},
    {NULL, NULL, NULL, NULL, 0, NULL},
};
