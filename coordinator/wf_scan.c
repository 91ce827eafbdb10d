/* wf_scan.c - index-driven lookup of workflow runs (see wf_scan.h). */
#include "wf_scan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "keys.h"
#include "util.h"
#include "wf.h"

/* The run fields read per candidate, in HMGET order. */
static const char *const run_fields[] = {
    "workflowRunId", "workflowUrl", "state", "createdAt", "completedAt",
    "label", "callerIP", "flowControlKey", "dlqId", "retries", "retryDelay"};
#define N_RUN_FIELDS (sizeof(run_fields) / sizeof(run_fields[0]))

struct sf_wf_scan {
    sf_coord *coord;
    struct evkeyvalq query;   /* owned: the filter's strings point into it */
    sf_wf_query q;
    size_t max_looked;        /* 0 = no limit */
    /* Key names the zscan reads (borrowed by it until done). */
    char runs_key[SF_KEY_MAX];      /* P:{wf}:runs */
    char running_key[SF_KEY_MAX];   /* P:{wf}:running */
    char run_prefix[SF_KEY_MAX];    /* P:{wf}:run: */
    char stepidx_prefix[SF_KEY_MAX]; /* P:{wf}:stepidx: */
    char next_prefix[SF_KEY_MAX];   /* P:{wf}:next: */
    char step_field[SF_KEY_MAX];    /* "m:<messageId>" */
    sf_wf_scan_match_fn *match;
    sf_wf_scan_done_fn *done;
    void *arg;
};

void sf_wf_scan_free(sf_wf_scan *s) {
    if (!s) return;
    sf_wf_query_cleanup(&s->q);
    evhttp_clear_headers(&s->query);
    free(s);
}

sf_wf_scan *sf_wf_scan_new_or_400(sf_coord *c, struct evhttp_request *req,
                                  int url_prefix, size_t default_count,
                                  size_t max_count, size_t max_looked) {
    sf_wf_scan *s = calloc(1, sizeof(*s));
    if (!s) {
        sf_http_reply_error(req, 500, "out of memory");
        return NULL;
    }
    s->coord = c;
    s->max_looked = max_looked;
    if (sf_http_query_or_400(req, &s->query) != 0) {
        free(s);
        return NULL;
    }
    sf_err err = {{0}};
    if (sf_wf_query_parse(&s->q, &s->query, url_prefix, default_count, max_count,
                          &err) != SF_OK) {
        sf_http_reply_error(req, 400, "%s", err.msg);
        evhttp_clear_headers(&s->query);
        free(s);
        return NULL;
    }
    const char *pre = c->cfg->prefix;
    sf_keys_wf(pre, "runs", s->runs_key, sizeof(s->runs_key));
    sf_keys_wf(pre, "running", s->running_key, sizeof(s->running_key));
    sf_keys_wf(pre, "run:", s->run_prefix, sizeof(s->run_prefix));
    sf_keys_wf(pre, "stepidx:", s->stepidx_prefix, sizeof(s->stepidx_prefix));
    sf_keys_wf(pre, "next:", s->next_prefix, sizeof(s->next_prefix));
    return s;
}

sf_wf_query *sf_wf_scan_query(sf_wf_scan *s) { return &s->q; }

static int64_t reply_i64(const redisReply *r, int64_t dflt) {
    int64_t x;
    if (r->type != REDIS_REPLY_STRING || sf_parse_i64(r->str, r->len, &x) != 0)
        return dflt;
    return x;
}

static const char *reply_str(const redisReply *r) {
    return r->type == REDIS_REPLY_STRING ? r->str : NULL;
}

/* The zscan match: 1 (after calling "match") when the HMGET reply "r" of
 * run "id" is a run that matches the query. */
static int consider(void *arg, const char *id, const redisReply *r) {
    sf_wf_scan *s = arg;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != N_RUN_FIELDS) return 0;
    redisReply *const *e = r->element;
    sf_wf_run_view v = {
        .run_id = reply_str(e[0]) ? reply_str(e[0]) : id,
        .url = reply_str(e[1]), .state = reply_str(e[2]),
        .created_ms = reply_i64(e[3], 0), .completed_ms = reply_i64(e[4], 0),
        .label = reply_str(e[5]), .caller_ip = reply_str(e[6]),
        .fc_key = reply_str(e[7]), .dlq_id = reply_str(e[8]),
        .retries = (int)reply_i64(e[9], -1), .retry_delay = reply_str(e[10]),
    };
    if (!v.state) return 0; /* gone (expired) or never a run */
    if (!sf_wf_query_match(&s->q, &v)) return 0;
    s->match(s->arg, &v);
    return 1;
}

static void on_done(void *arg, sf_status st, const char *cursor) {
    sf_wf_scan *s = arg;
    s->done(s->arg, st, cursor);
    sf_wf_scan_free(s);
}

/* The messageId filter: a run has the delivery when its step index
 * (HEXISTS P:{wf}:stepidx:<id> m:<msgId>) or its next states
 * (HEXISTS P:{wf}:next:<id> <msgId>) hold it. */
static void add_message_gates(sf_wf_scan *s, sf_zscan_spec *spec) {
    snprintf(s->step_field, sizeof(s->step_field), "m:%s", s->q.message_id);
    spec->gates[0] = (sf_zscan_gate){s->stepidx_prefix, s->step_field};
    spec->gates[1] = (sf_zscan_gate){s->next_prefix, s->q.message_id};
    spec->n_gates = 2;
}

/* Running runs have an index of their own: cancel (and logs filtered on
 * RUN_STARTED) read it instead of every run kept. */
static int only_running(const sf_wf_query *q) {
    return q->states.n == 1 && strcmp(q->states.v[0], SF_RUN_STARTED) == 0;
}

sf_status sf_wf_scan_start(sf_wf_scan *s, sf_wf_scan_match_fn *match,
                           sf_wf_scan_done_fn *done, void *arg) {
    s->match = match;
    s->done = done;
    s->arg = arg;
    /* HMGET P:{wf}:run:<id> <run_fields...> per candidate */
    sf_zscan_spec spec = {
        .index_key = only_running(&s->q) ? s->running_key : s->runs_key,
        .from_ms = s->q.from_ms, .to_ms = s->q.to_ms,
        .has_cursor = s->q.has_cursor, .cursor_ms = s->q.cursor_ms,
        .cursor_id = s->q.cursor_id,
        .ids = s->q.run_ids, .n_ids = s->q.n_run_ids,
        .count = s->q.count, .max_looked = s->max_looked,
        .cmd = "HMGET", .key_prefix = s->run_prefix,
        .args = run_fields, .n_args = N_RUN_FIELDS,
    };
    if (s->q.message_id) add_message_gates(s, &spec);
    sf_status st = sf_zscan_start(s->coord, &spec, consider, on_done, s);
    if (st != SF_OK) sf_wf_scan_free(s);
    return st;
}
