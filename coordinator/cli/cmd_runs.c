/* cmd_runs.c - `stepflow runs ...`: workflow runs through the logs API
 * (GET /v2/workflows/events?groupBy=workflowRunId, what the SDK's
 * client.logs() reads) and cancelling them (DELETE /v2/workflows/runs/{id}
 * ?cancel=true per id; DELETE /v2/workflows/runs with a filter, or none for
 * every running run, repeated until a call cancels none: each call sees
 * only the runs still running, and one may cancel fewer than its count
 * while more are left, when some ended by themselves meanwhile).
 * `runs cancel --dry-run` lists the running runs it would cancel. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "output.h"

#define RUNS_PAGE_MAX 100     /* logs API: count max */
#define CANCEL_BATCH "1000"   /* bulk cancel: count max (wf_runs.c) */
#define RUNS_MAX_PAGES 100000 /* loop guard */
/* Bulk cancel calls at most (a loop guard: 10 million runs). */
#define CANCEL_MAX_CALLS 10000

static const char *const run_states[] = {"RUN_STARTED", "RUN_SUCCESS",
                                         "RUN_FAILED", "RUN_CANCELED"};

static const sf_cli_opt list_opts[] = {
    {"--state", 1},  {"--url", 1},   {"--url-prefix", 1}, {"--run-id", 1},
    {"--label", 1},  {"--from", 1},  {"--to", 1},         {"--count", 1},
    {"--cursor", 1}, {"--all", 0},   {NULL, 0}};
static const sf_cli_opt no_opts[] = {{NULL, 0}};
static const sf_cli_opt cancel_opts[] = {
    {"--url", 1},  {"--exact", 0},   {"--label", 1}, {"--from", 1},
    {"--to", 1},   {"--all", 0},     {"--dry-run", 0}, {NULL, 0}};

static const char usage_list[] =
    "usage: stepflow runs list [filters] [--count N] [--cursor C] [--all]\n"
    "\n"
    "GET /v2/workflows/events?groupBy=workflowRunId: workflow runs, newest\n"
    "first (finished ones are kept STEPFLOW_WORKFLOW_RETENTION_S).  STEPS\n"
    "DONE counts the steps a run finished, not its initial payload nor the\n"
    "deliveries in flight or failed (as the dashboard's \"Steps done\").\n"
    "\n"
    "  --state S          RUN_STARTED, RUN_SUCCESS, RUN_FAILED or "
    "RUN_CANCELED\n"
    "  --url U            workflow URL (exact)\n"
    "  --url-prefix P     workflow URL starting with P\n"
    "  --run-id ID        workflow run id (repeatable)\n"
    "  --label L          label\n"
    "  --from T, --to T   created in [T1, T2]: Unix ms (13 digits) or ISO\n"
    "                     8601 (2024-05-01, 2024-05-01T12:00:00Z; UTC)\n"
    "  --count N          runs per page, 1..100 (default 10)\n"
    "  --cursor C         the page after C (printed under the table)\n"
    "  --all              follow the cursor to the last page\n";

static const char usage_get[] =
    "usage: stepflow runs get <runId>\n"
    "\n"
    "One workflow run from the logs API: its state, times, result, every\n"
    "recorded step, its failed deliveries (STEP_FAILED: the last attempt\n"
    "failed) and those still in flight, each with its last error, and the\n"
    "failure function's state.\n";

static const char usage_cancel[] =
    "usage: stepflow runs cancel <runId>... | --url PREFIX [--exact] |\n"
    "                            --label L | --all   [--dry-run]\n"
    "\n"
    "Cancels running workflow runs (RUN_CANCELED; no failure callback, no\n"
    "DLQ entry): the ids given (DELETE /v2/workflows/runs/<runId>?cancel=true\n"
    "each), or every running run matching the filters, or every running run\n"
    "(--all) (DELETE /v2/workflows/runs, repeated until none is left).\n"
    "\n"
    "  --url PREFIX       workflow URL starting with PREFIX ...\n"
    "  --exact            ... or equal to it\n"
    "  --label L          label\n"
    "  --from T, --to T   created in [T1, T2]: Unix ms (13 digits) or ISO\n"
    "                     8601 (2024-05-01, 2024-05-01T12:00:00Z; UTC)\n"
    "  --dry-run          list the runs that would be cancelled; change "
    "nothing\n";

/* Appends the time options of "a" as fromDate/toDate.  0 or usage. */
static int add_times(const sf_cli_ctx *ctx, const sf_cli_args *a, sf_buf *q,
                     int *n) {
    static const char *const opts[][2] = {{"--from", "fromDate"},
                                          {"--to", "toDate"}};
    for (int i = 0; i < 2; i++) {
        const char *v = sf_cli_opt_get(a, opts[i][0]);
        int64_t ms;
        char num[32];
        if (!v) continue;
        const char *why;
        if (sf_out_parse_time(v, &ms, &why) != 0)
            return sf_cli_usage_error(ctx->cmd, "bad %s '%s': %s", opts[i][0],
                                      v, why);
        snprintf(num, sizeof(num), "%lld", (long long)ms);
        sf_cli_query_add(q, opts[i][1], num);
        (*n)++;
    }
    return 0;
}

/* Appends every repeatable string option "opt" of "a" as "param". */
static int add_strings(const sf_cli_ctx *ctx, const sf_cli_args *a,
                       const char *opt, const char *param, sf_buf *q, int *n) {
    for (int i = 0; i < a->n_opts; i++) {
        if (a->opt_global[i] || strcmp(a->opt_name[i], opt) != 0) continue;
        if (!*a->opt_val[i])
            return sf_cli_usage_error(ctx->cmd, "%s is empty", opt);
        sf_cli_query_add(q, param, a->opt_val[i]);
        (*n)++;
    }
    return 0;
}

static int cmd_list(sf_cli_ctx *ctx, const sf_cli_args *a) {
    int n = 0, rc;
    if ((rc = sf_cli_list_check(ctx, a, RUNS_PAGE_MAX))) return rc;
    sf_buf q;
    sf_buf_init(&q);
    sf_buf_appends(&q, "/v2/workflows/events?groupBy=workflowRunId");
    for (int i = 0; rc == 0 && i < a->n_opts; i++) {
        if (a->opt_global[i] || strcmp(a->opt_name[i], "--state") != 0)
            continue;
        const char *hit = NULL;
        for (size_t s = 0; s < sizeof(run_states) / sizeof(run_states[0]); s++)
            if (strcasecmp(a->opt_val[i], run_states[s]) == 0)
                hit = run_states[s];
        if (!hit)
            rc = sf_cli_usage_error(ctx->cmd,
                                    "bad --state '%s': want RUN_STARTED, "
                                    "RUN_SUCCESS, RUN_FAILED or RUN_CANCELED",
                                    a->opt_val[i]);
        else
            sf_cli_query_add(&q, "state", hit);
    }
    if (rc == 0) rc = add_strings(ctx, a, "--url", "workflowUrl", &q, &n);
    if (rc == 0)
        rc = add_strings(ctx, a, "--url-prefix", "workflowUrlStartingWith", &q,
                         &n);
    if (rc == 0) rc = add_strings(ctx, a, "--run-id", "workflowRunId", &q, &n);
    if (rc == 0) rc = add_strings(ctx, a, "--label", "label", &q, &n);
    if (rc == 0) rc = add_times(ctx, a, &q, &n);
    if (rc == 0)
        rc = sf_cli_list(ctx, a, q.data, "runs", RUNS_MAX_PAGES,
                         sf_out_runs_table);
    sf_buf_cleanup(&q);
    return rc;
}

/* The run "id" from the logs API into "*run" (a new reference), or an
 * exit code (SF_EXIT_NOTFOUND with the message printed). */
static int fetch_run(sf_cli_ctx *ctx, const char *id, json_t **run) {
    sf_buf q;
    sf_buf_init(&q);
    sf_buf_appends(&q, "/v2/workflows/events?groupBy=workflowRunId");
    sf_cli_query_add(&q, "workflowRunId", id);
    json_t *runs = json_array();
    char *next = NULL;
    int rc = sf_cli_get_pages(ctx, q.data, "runs", NULL, NULL, 1, runs, &next);
    free(next);
    sf_buf_cleanup(&q);
    *run = NULL;
    for (size_t i = 0; rc < 0 && i < json_array_size(runs); i++) {
        json_t *r = json_array_get(runs, i);
        const char *rid = json_string_value(json_object_get(r, "workflowRunId"));
        if (rid && strcmp(rid, id) == 0) *run = json_incref(r);
    }
    json_decref(runs);
    if (rc >= 0) return rc;
    if (!*run)
        return sf_cli_fail(SF_EXIT_NOTFOUND, "workflow run '%s' not found", id);
    return -1;
}

static int cmd_get(sf_cli_ctx *ctx, const sf_cli_args *a) {
    if (a->n_pos != 1 || !*a->pos[0])
        return sf_cli_usage_error(ctx->cmd, a->n_pos > 1 ? "expected one runId"
                                                         : "missing runId");
    json_t *run;
    int rc = fetch_run(ctx, a->pos[0], &run);
    if (rc >= 0) return rc;
    if (ctx->json)
        sf_cli_print_json(json_incref(run));
    else
        sf_out_run(stdout, run);
    json_decref(run);
    return SF_EXIT_OK;
}

/* --dry-run: the running runs the cancel would touch. */
static int cancel_dry_run(sf_cli_ctx *ctx, const sf_cli_args *a,
                          const char *filter) {
    json_t *runs = json_array();
    int rc = -1, worst = SF_EXIT_OK;
    for (int i = 0; i < a->n_pos; i++) {
        json_t *run;
        int r = fetch_run(ctx, a->pos[i], &run);
        if (r >= 0) {
            worst = sf_cli_worst(worst, r);
            if (r == SF_EXIT_ERROR) break;
            continue;
        }
        const char *st = json_string_value(json_object_get(run, "workflowState"));
        if (st && strcmp(st, "RUN_STARTED") == 0)
            json_array_append(runs, run);
        else
            worst = sf_cli_worst(worst, sf_cli_fail(SF_EXIT_ERROR,
                                                    "workflow run '%s' is not "
                                                    "running (%s)",
                                                    a->pos[i], st ? st : "?"));
        json_decref(run);
    }
    if (a->n_pos == 0) {
        sf_buf q;
        sf_buf_init(&q);
        sf_buf_appendf(&q, "/v2/workflows/events?groupBy=workflowRunId&state="
                           "RUN_STARTED%s",
                       filter);
        char *next = NULL;
        rc = sf_cli_get_pages(ctx, q.data, "runs", "100", NULL,
                              RUNS_MAX_PAGES, runs, &next);
        free(next);
        sf_buf_cleanup(&q);
        if (rc >= 0) worst = rc;
    }
    if (worst != SF_EXIT_ERROR || json_array_size(runs)) {
        size_t n = json_array_size(runs);
        if (ctx->json) {
            sf_cli_print_json(json_pack("{s:b,s:s,s:I,s:O}", "dryRun", 1,
                                        "action", "cancel", "count",
                                        (json_int_t)n, "runs", runs));
        } else {
            sf_out_runs_table(stdout, runs);
            printf("dry run: %zu workflow run%s would be cancelled; nothing "
                   "was changed\n",
                   n, n == 1 ? "" : "s");
        }
    }
    json_decref(runs);
    return worst;
}

static int cancel_ids(sf_cli_ctx *ctx, const sf_cli_args *a) {
    int worst = SF_EXIT_OK;
    size_t done = 0;
    json_t *ok = json_array(), *missing = json_array(), *failed = json_array();
    for (int i = 0; i < a->n_pos; i++) {
        const char *id = a->pos[i];
        char what[300];
        snprintf(what, sizeof(what), "workflow run '%.200s'", id);
        char *p = sf_cli_id_path("/v2/workflows/runs/", id);
        if (!p) break;
        sf_buf path;
        sf_buf_init(&path);
        sf_buf_appendf(&path, "%s?cancel=true", p);
        free(p);
        sf_cli_reply rep;
        int rc = sf_cli_bulk_call(ctx, "DELETE", path.data, NULL, what, &rep);
        sf_buf_cleanup(&path);
        sf_cli_reply_cleanup(&rep);
        sf_cli_note_failed_id(rc, id, missing, failed);
        if (rc < 0) {
            rc = SF_EXIT_OK;
            done++;
            json_array_append_new(ok, json_string(id));
            if (!ctx->json) {
                char shown[200 * 4 + 8];
                printf("cancelled workflow run %s\n",
                       sf_out_clip(id, 200, shown, sizeof(shown)));
            }
        }
        worst = sf_cli_worst(worst, rc);
    }
    if (ctx->json)
        sf_cli_print_json(json_pack("{s:I,s:O,s:O,s:O}", "cancelled",
                                    (json_int_t)done, "workflowRunIds", ok,
                                    "notFound", missing, "failed", failed));
    else
        printf("cancelled %zu of %d workflow run%s\n", done, a->n_pos,
               a->n_pos == 1 ? "" : "s");
    json_decref(ok);
    json_decref(missing);
    json_decref(failed);
    return worst;
}

/* By filter or all: DELETE /v2/workflows/runs?<filter>&count=1000 until a
 * call cancels none.  What was cancelled before an error is reported
 * either way ({"cancelled": N, "error": "..."} with --json). */
static int cancel_filter(sf_cli_ctx *ctx, const char *filter) {
    long long total = 0;
    int rc = -1;
    for (int i = 0; i < CANCEL_MAX_CALLS; i++) {
        sf_buf path;
        sf_buf_init(&path);
        sf_buf_appendf(&path, "/v2/workflows/runs?count=%s%s", CANCEL_BATCH,
                       filter);
        sf_cli_reply rep;
        rc = sf_cli_bulk_call(ctx, "DELETE", path.data, NULL, NULL, &rep);
        sf_buf_cleanup(&path);
        int64_t n = 0;
        if (rc < 0 &&
            (sf_out_json_i64(json_object_get(rep.json, "cancelled"), &n) != 0 ||
             n < 0))
            rc = sf_cli_bad_reply(ctx, &rep, "no cancelled count");
        sf_cli_reply_cleanup(&rep);
        if (rc >= 0) break;
        total += n;
        if (n == 0) break;
    }
    if (ctx->json) {
        json_t *o = json_pack("{s:I}", "cancelled", (json_int_t)total);
        if (o && rc >= 0)
            json_object_set_new(o, "error", json_string(ctx->error));
        sf_cli_print_json(o);
    } else {
        printf("cancelled %lld workflow run%s\n", total, total == 1 ? "" : "s");
    }
    return rc < 0 ? SF_EXIT_OK : rc;
}

static int cmd_cancel(sf_cli_ctx *ctx, const sf_cli_args *a) {
    const char *url = sf_cli_opt_get(a, "--url");
    int exact = sf_cli_opt_get(a, "--exact") != NULL;
    int all = sf_cli_opt_get(a, "--all") != NULL;
    int n = 0, rc = 0;
    sf_buf cancel_q, log_q; /* "&..." filter for the two APIs */
    sf_buf_init(&cancel_q);
    sf_buf_init(&log_q);
    sf_buf_appends(&cancel_q, "?");
    sf_buf_appends(&log_q, "?");
    if (url && !*url) rc = sf_cli_usage_error(ctx->cmd, "--url is empty");
    if (rc == 0 && exact && !url)
        rc = sf_cli_usage_error(ctx->cmd, "--exact needs --url");
    if (rc == 0 && url) {
        sf_cli_query_add(&cancel_q, "workflowUrl", url);
        if (exact) sf_cli_query_add(&cancel_q, "workflowUrlExactMatch", "true");
        sf_cli_query_add(&log_q, exact ? "workflowUrl" : "workflowUrlStartingWith",
                         url);
        n++;
    }
    int m = 0;
    if (rc == 0) rc = add_strings(ctx, a, "--label", "label", &cancel_q, &n);
    if (rc == 0) rc = add_strings(ctx, a, "--label", "label", &log_q, &m);
    if (rc == 0) rc = add_times(ctx, a, &cancel_q, &n);
    if (rc == 0) rc = add_times(ctx, a, &log_q, &m);
    if (rc == 0) {
        if (!a->n_pos && !n && !all)
            rc = sf_cli_usage_error(ctx->cmd,
                                    "give run ids, --url PREFIX (or another "
                                    "filter), or --all for every running run");
        else if (a->n_pos && (n || all))
            rc = sf_cli_usage_error(ctx->cmd,
                                    "give run ids or filters/--all, not both");
        else if (all && n)
            rc = sf_cli_usage_error(ctx->cmd, "--all takes no filters");
        for (int i = 0; rc == 0 && i < a->n_pos; i++)
            if (!*a->pos[i]) rc = sf_cli_usage_error(ctx->cmd, "empty runId");
    }
    if (rc == 0) {
        /* Both buffers are "?" then "&name=value" per filter: what follows
         * the "?" appends to the paths the helpers build. */
        const char *cf = cancel_q.data + 1, *lf = log_q.data + 1;
        if (sf_cli_opt_get(a, "--dry-run"))
            rc = cancel_dry_run(ctx, a, lf);
        else if (a->n_pos)
            rc = cancel_ids(ctx, a);
        else
            rc = cancel_filter(ctx, cf);
    }
    sf_buf_cleanup(&cancel_q);
    sf_buf_cleanup(&log_q);
    return rc;
}

const sf_cli_command sf_cli_runs_commands[] = {
    {"runs", "list", list_opts, usage_list, 1, cmd_list},
    {"runs", "get", no_opts, usage_get, 1, cmd_get},
    {"runs", "cancel", cancel_opts, usage_cancel, 1, cmd_cancel},
    {NULL, NULL, NULL, NULL, 0, NULL},
};
