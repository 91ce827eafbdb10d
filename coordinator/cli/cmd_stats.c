/* cmd_stats.c - `stepflow stats`: GET /v2/stats (the cluster's figures,
 * read from Redis by the coordinator: queues, DLQ by failure-callback
 * state, workflow runs, workers, per-minute throughput) as tables. */
#include <stdio.h>

#include "cli.h"
#include "output.h"

static const sf_cli_opt stats_opts[] = {{"--minutes", 1}, {NULL, 0}};

static const char usage_stats[] =
    "usage: stepflow stats [--minutes N]\n"
    "\n"
    "GET /v2/stats: per queue (messages, failure callbacks) its length,\n"
    "backlog (entries no worker has read), pending (read, not yet\n"
    "acknowledged), the oldest pending entry's age and the delayed set; DLQ\n"
    "entries by failure-callback state (failed workflow runs are among\n"
    "them); running workflow runs; the workers (alive = a heartbeat in the\n"
    "last 15 s) with their deliveries in flight and totals; and what was\n"
    "delivered, retried, failed and published per minute.\n"
    "\n"
    "  --minutes N   per-minute rows to show, 1..60 (default 10)\n";

static int cmd_stats(sf_cli_ctx *ctx, const sf_cli_args *a) {
    long long minutes = 10;
    const char *v = sf_cli_opt_get(a, "--minutes");
    int rc = sf_cli_no_positionals(ctx, a);
    if (rc) return rc;
    if (v && (sf_cli_parse_uint(v, 60, &minutes) != 0 || minutes < 1))
        return sf_cli_usage_error(ctx->cmd, "--minutes wants 1..60, got '%s'",
                                  v);
    sf_cli_reply rep;
    rc = sf_cli_call(ctx, "GET", "/v2/stats", NULL, NULL, 0, NULL, &rep);
    if (rc < 0) {
        rc = SF_EXIT_OK;
        if (!json_is_object(rep.json))
            rc = sf_cli_bad_reply(ctx, &rep, "not a stats object");
        else if (ctx->json)
            sf_cli_print_raw(&rep);
        else
            sf_out_stats(stdout, rep.json, (int)minutes);
    }
    sf_cli_reply_cleanup(&rep);
    return rc;
}

const sf_cli_command sf_cli_stats_commands[] = {
    {NULL, "stats", stats_opts, usage_stats, 1, cmd_stats},
    {NULL, NULL, NULL, NULL, 0, NULL},
};
