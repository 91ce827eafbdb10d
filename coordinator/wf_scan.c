/* wf_scan.c - index-driven lookup of workflow runs (see wf_scan.h). */
#include "wf_scan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "keys.h"
#include "log.h"
#include "util.h"

#define SCAN_BATCH 100

/* The run fields read per candidate, in HMGET order. */
static const char *const run_fields[] = {
    "workflowRunId", "workflowUrl", "state", "createdAt", "completedAt",
    "label", "callerIP", "flowControlKey", "dlqId", "retries", "retryDelay"};
#define N_RUN_FIELDS (sizeof(run_fields) / sizeof(run_fields[0]))

typedef struct candidate {
    sf_wf_scan *scan;   /* back pointer for the reply callbacks */
    char *id;           /* owned */
    int64_t score;      /* createdAt (ms) */
    int msg_hit;        /* messageId filter: the run has that delivery */
} candidate;

struct sf_wf_scan {
    sf_coord *coord;
    struct evkeyvalq query;   /* owned: the filter's strings point into it */
    sf_wf_query q;
    char runs_key[SF_KEY_MAX];
    size_t max_looked;        /* 0 = no limit */
    size_t found, looked;
    /* Position: runs after (score, id) in newest-first order. */
    int has_pos;
    int64_t pos_score;
    char *pos_id;             /* owned */
    size_t offset;            /* LIMIT offset when a batch was all ties */
    candidate *cands;         /* owned: the current batch */
    size_t n_cands;
    size_t replies_left;      /* replies still due for this batch */
    int batch_full;
    int failed;
    sf_wf_scan_match_fn *match;
    sf_wf_scan_done_fn *done;
    void *arg;
};

static void clear_cands(sf_wf_scan *s) {
    for (size_t i = 0; i < s->n_cands; i++) free(s->cands[i].id);
    free(s->cands);
    s->cands = NULL;
    s->n_cands = 0;
}

void sf_wf_scan_free(sf_wf_scan *s) {
    if (!s) return;
    clear_cands(s);
    free(s->pos_id);
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
    if (s->q.has_cursor) {
        s->has_pos = 1;
        s->pos_score = s->q.cursor_ms;
        s->pos_id = strdup(s->q.cursor_id);
    }
    sf_keys_wf(c->cfg->prefix, "runs", s->runs_key, sizeof(s->runs_key));
    return s;
}

sf_wf_query *sf_wf_scan_query(sf_wf_scan *s) { return &s->q; }

static void finish(sf_wf_scan *s, int exhausted) {
    char cursor[SF_KEY_MAX + 32] = "";
    if (!exhausted && s->has_pos && s->pos_id)
        snprintf(cursor, sizeof(cursor), "%lld-%s", (long long)s->pos_score, s->pos_id);
    s->done(s->arg, s->failed ? SF_AGAIN : SF_OK, cursor);
    sf_wf_scan_free(s);
}

static sf_status next_batch(sf_wf_scan *s);

static int64_t reply_i64(const redisReply *r, int64_t dflt) {
    int64_t x;
    if (r->type != REDIS_REPLY_STRING || sf_parse_i64(r->str, r->len, &x) != 0)
        return dflt;
    return x;
}

static const char *reply_str(const redisReply *r) {
    return r->type == REDIS_REPLY_STRING ? r->str : NULL;
}

/* Calls "match" when the HMGET reply "r" of candidate "cd" is a run that
 * matches. */
static void consider(sf_wf_scan *s, const candidate *cd, const redisReply *r) {
    if (r->type != REDIS_REPLY_ARRAY || r->elements != N_RUN_FIELDS) return;
    redisReply *const *e = r->element;
    sf_wf_run_view v = {
        .run_id = reply_str(e[0]) ? reply_str(e[0]) : cd->id,
        .url = reply_str(e[1]), .state = reply_str(e[2]),
        .created_ms = reply_i64(e[3], 0), .completed_ms = reply_i64(e[4], 0),
        .label = reply_str(e[5]), .caller_ip = reply_str(e[6]),
        .fc_key = reply_str(e[7]), .dlq_id = reply_str(e[8]),
        .retries = (int)reply_i64(e[9], -1), .retry_delay = reply_str(e[10]),
    };
    if (!v.state) return; /* gone (expired) or never a run */
    if (s->q.message_id && !cd->msg_hit) return;
    if (!sf_wf_query_match(&s->q, &v)) return;
    s->found++;
    s->match(s->arg, &v);
}

static int wants_more(const sf_wf_scan *s) {
    return s->found < s->q.count && (s->max_looked == 0 || s->looked < s->max_looked);
}

static void batch_settle(sf_wf_scan *s);

static void on_hexists(redisAsyncContext *ac, void *reply, void *privdata) {
    (void)ac;
    candidate *cd = privdata;
    sf_wf_scan *s = cd->scan;
    redisReply *r = reply;
    if (!r || r->type == REDIS_REPLY_ERROR) s->failed = 1;
    else if (r->type == REDIS_REPLY_INTEGER && r->integer == 1) cd->msg_hit = 1;
    batch_settle(s);
}

static void on_fields(redisAsyncContext *ac, void *reply, void *privdata) {
    (void)ac;
    candidate *cd = privdata;
    sf_wf_scan *s = cd->scan;
    redisReply *r = reply;
    if (!r || r->type == REDIS_REPLY_ERROR) {
        if (r) sf_warn("wf_scan_failed err=\"%s\"", r->str);
        s->failed = 1;
    } else if (!s->failed && wants_more(s)) {
        s->looked++;
        if (!s->q.run_ids) {
            /* This candidate is consumed: the cursor moves past it. */
            free(s->pos_id);
            s->pos_id = cd->id;
            cd->id = NULL;
            s->pos_score = cd->score;
            s->has_pos = 1;
        }
        consider(s, cd, r);
    }
    batch_settle(s);
}

/* One reply of the batch is in; after the last, go on or finish. */
static void batch_settle(sf_wf_scan *s) {
    if (--s->replies_left > 0) return;
    clear_cands(s);
    if (s->failed || s->q.run_ids) {
        finish(s, 1);
    } else if (!wants_more(s)) {
        finish(s, 0);
    } else if (!s->batch_full) {
        finish(s, 1);
    } else if (next_batch(s) != SF_OK) {
        s->failed = 1;
        finish(s, 1);
    }
}

/* Sends the reads of every candidate of the batch (pipelined); each
 * command sent counts in replies_left. */
static sf_status fetch_cands(sf_wf_scan *s) {
    const char *pre = s->coord->cfg->prefix;
    s->replies_left = 0;
    for (size_t i = 0; i < s->n_cands; i++) {
        candidate *cd = &s->cands[i];
        char key[SF_KEY_MAX];
        sf_status st = SF_OK;
        if (s->q.message_id) {
            char f[SF_KEY_MAX];
            snprintf(f, sizeof(f), "m:%s", s->q.message_id);
            /* HEXISTS P:{wf}:stepidx:<id> m:<msgId>; HEXISTS P:{wf}:next:<id> <msgId> */
            sf_keys_wf_run(pre, "stepidx", cd->id, key, sizeof(key));
            st = sf_rconn_commandf(s->coord->redis, on_hexists, cd, "HEXISTS %s %s",
                                   key, f);
            if (st == SF_OK) s->replies_left++;
            sf_keys_wf_run(pre, "next", cd->id, key, sizeof(key));
            if (st == SF_OK)
                st = sf_rconn_commandf(s->coord->redis, on_hexists, cd,
                                       "HEXISTS %s %s", key, s->q.message_id);
            if (st == SF_OK) s->replies_left++;
        }
        /* HMGET P:{wf}:run:<id> <run_fields...> */
        sf_keys_wf_run(pre, "run", cd->id, key, sizeof(key));
        const char *argv[2 + N_RUN_FIELDS] = {"HMGET", key};
        for (size_t k = 0; k < N_RUN_FIELDS; k++) argv[2 + k] = run_fields[k];
        if (st == SF_OK)
            st = sf_rconn_command(s->coord->redis, on_fields, cd, 2 + N_RUN_FIELDS,
                                  argv, NULL);
        if (st == SF_OK) s->replies_left++;
        if (st != SF_OK) {
            if (s->replies_left == 0) return SF_AGAIN;
            /* The ones sent still answer; the rest counts as failed. */
            s->failed = 1;
            return SF_OK;
        }
    }
    return SF_OK;
}

static void on_range(redisAsyncContext *ac, void *reply, void *privdata) {
    (void)ac;
    sf_wf_scan *s = privdata;
    redisReply *r = reply;
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        if (r && r->type == REDIS_REPLY_ERROR) sf_warn("wf_scan_failed err=\"%s\"", r->str);
        s->failed = 1;
        finish(s, 1);
        return;
    }
    size_t n = r->elements / 2;
    s->batch_full = n >= SCAN_BATCH;
    s->cands = calloc(n ? n : 1, sizeof(*s->cands));
    if (!s->cands) {
        s->failed = 1;
        finish(s, 1);
        return;
    }
    size_t k = 0;
    int all_ties = n > 0;
    for (size_t i = 0; i < n; i++) {
        redisReply *m = r->element[2 * i], *sc = r->element[2 * i + 1];
        if (m->type != REDIS_REPLY_STRING || sc->type != REDIS_REPLY_STRING) continue;
        int64_t score = (int64_t)strtod(sc->str, NULL);
        /* Skip what the cursor already covered: same score, id not below. */
        if (s->has_pos && score == s->pos_score && s->pos_id &&
            strcmp(m->str, s->pos_id) >= 0)
            continue;
        all_ties = 0;
        s->cands[k] = (candidate){.scan = s, .id = strndup(m->str, m->len),
                                  .score = score};
        if (s->cands[k].id) k++;
    }
    s->n_cands = k;
    if (k == 0) {
        clear_cands(s);
        if (all_ties && s->batch_full) {
            /* A full batch of runs the cursor covers: look further. */
            s->offset += SCAN_BATCH;
            if (next_batch(s) != SF_OK) {
                s->failed = 1;
                finish(s, 1);
            }
            return;
        }
        finish(s, !s->batch_full);
        return;
    }
    s->offset = 0;
    if (fetch_cands(s) != SF_OK) {
        s->failed = 1;
        finish(s, 1);
    }
}

static sf_status next_batch(sf_wf_scan *s) {
    char max[32], min[32], off[32], lim[32];
    int64_t hi = INT64_MAX;
    if (s->q.to_ms) hi = s->q.to_ms;
    if (s->has_pos && s->pos_score < hi) hi = s->pos_score;
    if (hi == INT64_MAX) snprintf(max, sizeof(max), "+inf");
    else snprintf(max, sizeof(max), "%lld", (long long)hi);
    if (s->q.from_ms) snprintf(min, sizeof(min), "%lld", (long long)s->q.from_ms);
    else snprintf(min, sizeof(min), "-inf");
    snprintf(off, sizeof(off), "%zu", s->offset);
    snprintf(lim, sizeof(lim), "%d", SCAN_BATCH);
    /* ZREVRANGEBYSCORE P:{wf}:runs <max> <min> WITHSCORES LIMIT <off> <n> */
    const char *argv[] = {"ZREVRANGEBYSCORE", s->runs_key, max, min,
                          "WITHSCORES", "LIMIT", off, lim};
    return sf_rconn_command(s->coord->redis, on_range, s, 8, argv, NULL);
}

sf_status sf_wf_scan_start(sf_wf_scan *s, sf_wf_scan_match_fn *match,
                           sf_wf_scan_done_fn *done, void *arg) {
    s->match = match;
    s->done = done;
    s->arg = arg;
    sf_status st;
    if (s->q.run_ids) {
        /* Direct lookup: the candidates are the ids given, all of them. */
        s->cands = calloc(s->q.n_run_ids, sizeof(*s->cands));
        if (!s->cands) {
            sf_wf_scan_free(s);
            return SF_AGAIN;
        }
        for (size_t i = 0; i < s->q.n_run_ids; i++) {
            s->cands[s->n_cands] = (candidate){.scan = s,
                                               .id = strdup(s->q.run_ids[i])};
            if (s->cands[s->n_cands].id) s->n_cands++;
        }
        s->q.count = s->n_cands;
        s->max_looked = 0;
        st = fetch_cands(s);
    } else {
        st = next_batch(s);
    }
    if (st != SF_OK) sf_wf_scan_free(s);
    return st;
}
