/* zscan.c - newest-first cursor scan over an index zset (see zscan.h). */
#include "zscan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define SCAN_BATCH 100 /* candidates per ZREVRANGEBYSCORE */

typedef struct sf_zscan sf_zscan;

typedef struct candidate {
    sf_zscan *scan;  /* back pointer for the reply callbacks */
    char *id;        /* owned; moves to the cursor once looked at */
    int64_t score;   /* index score (ms) */
    int gate_hit;    /* a gate answered 1 */
} candidate;

struct sf_zscan {
    sf_coord *coord;
    sf_zscan_spec spec;       /* a copy; its strings stay borrowed */
    const char **argv;        /* owned array: the record read, [1] = key */
    int by_ids;               /* candidates are spec.ids: no index, no cursor */
    size_t found, looked;
    /* Position: entries after (score, id) in newest-first order. */
    int has_pos;
    int64_t pos_score;
    char *pos_id;             /* owned */
    size_t offset;            /* LIMIT offset when a batch was all ties */
    candidate *cands;         /* owned: the current batch */
    size_t n_cands;
    size_t replies_left;      /* replies still due for this batch */
    int batch_full;           /* the batch had SCAN_BATCH entries */
    int failed;
    sf_zscan_match_fn *match;
    sf_zscan_done_fn *done;
    void *arg;
};

static void clear_cands(sf_zscan *s) {
    for (size_t i = 0; i < s->n_cands; i++) free(s->cands[i].id);
    free(s->cands);
    s->cands = NULL;
    s->n_cands = 0;
}

static void zscan_free(sf_zscan *s) {
    clear_cands(s);
    free(s->pos_id);
    free(s->argv);
    free(s);
}

static void finish(sf_zscan *s, int exhausted) {
    char cursor[SF_KEY_MAX + 32] = "";
    if (!exhausted && s->has_pos && s->pos_id)
        snprintf(cursor, sizeof(cursor), "%lld-%s", (long long)s->pos_score, s->pos_id);
    s->done(s->arg, s->failed ? SF_AGAIN : SF_OK, cursor);
    zscan_free(s);
}

static void fail(sf_zscan *s) {
    s->failed = 1;
    finish(s, 1);
}

static int wants_more(const sf_zscan *s) {
    return s->found < s->spec.count &&
           (s->spec.max_looked == 0 || s->looked < s->spec.max_looked);
}

static sf_status next_batch(sf_zscan *s);

/* One reply of the batch is in; after the last, go on or finish. */
static void batch_settle(sf_zscan *s) {
    if (--s->replies_left > 0) return;
    clear_cands(s);
    if (s->failed || s->by_ids) finish(s, 1);
    else if (!wants_more(s)) finish(s, 0);
    else if (!s->batch_full) finish(s, 1);
    else if (next_batch(s) != SF_OK) fail(s);
}

static void on_gate(redisAsyncContext *ac, void *reply, void *privdata) {
    (void)ac;
    candidate *cd = privdata;
    redisReply *r = reply;
    if (!r || r->type == REDIS_REPLY_ERROR) cd->scan->failed = 1;
    else if (r->type == REDIS_REPLY_INTEGER && r->integer == 1) cd->gate_hit = 1;
    batch_settle(cd->scan);
}

/* Moves the cursor past "cd", which takes its id; returns the id. */
static const char *consume(sf_zscan *s, candidate *cd) {
    free(s->pos_id);
    s->pos_id = cd->id;
    cd->id = NULL;
    s->pos_score = cd->score;
    s->has_pos = 1;
    return s->pos_id;
}

static void on_record(redisAsyncContext *ac, void *reply, void *privdata) {
    (void)ac;
    candidate *cd = privdata;
    sf_zscan *s = cd->scan;
    redisReply *r = reply;
    if (!r || r->type == REDIS_REPLY_ERROR) {
        if (r) {
            char key[512];
            snprintf(key, sizeof(key), "%s%s", s->spec.key_prefix, cd->id);
            sf_warn("zscan_failed key=%s err=%s", SF_LOGQ(key), SF_LOGQ(r->str));
        }
        s->failed = 1;
    } else if (!s->failed && wants_more(s)) {
        s->looked++;
        const char *id = s->by_ids ? cd->id : consume(s, cd);
        if ((s->spec.n_gates == 0 || cd->gate_hit) && s->match(s->arg, id, r))
            s->found++;
    }
    batch_settle(s);
}

/* Sends the gates and the record read of "cd"; each command sent counts
 * in replies_left. */
static sf_status send_reads(sf_zscan *s, candidate *cd) {
    char key[SF_KEY_MAX];
    for (size_t g = 0; g < s->spec.n_gates; g++) {
        const sf_zscan_gate *gt = &s->spec.gates[g];
        snprintf(key, sizeof(key), "%s%s", gt->key_prefix, cd->id);
        /* HEXISTS <key_prefix><id> <field> */
        if (sf_rconn_commandf(s->coord->redis, on_gate, cd, "HEXISTS %s %s", key,
                              gt->field) != SF_OK)
            return SF_AGAIN;
        s->replies_left++;
    }
    snprintf(key, sizeof(key), "%s%s", s->spec.key_prefix, cd->id);
    s->argv[1] = key;
    /* <cmd> <key_prefix><id> <args...> */
    if (sf_rconn_command(s->coord->redis, on_record, cd, (int)(2 + s->spec.n_args),
                         s->argv, NULL) != SF_OK)
        return SF_AGAIN;
    s->replies_left++;
    return SF_OK;
}

/* Sends the reads of every candidate of the batch (pipelined). */
static sf_status fetch_cands(sf_zscan *s) {
    s->replies_left = 0;
    for (size_t i = 0; i < s->n_cands; i++) {
        if (send_reads(s, &s->cands[i]) == SF_OK) continue;
        if (s->replies_left == 0) return SF_AGAIN;
        /* The ones sent still answer; the rest counts as failed. */
        s->failed = 1;
        break;
    }
    return SF_OK;
}

/* Makes the members of the ZREVRANGEBYSCORE reply "r" that the cursor
 * does not cover the batch's candidates.  Returns -1 when out of memory,
 * else 1 if "r" held members and the cursor covered all of them (ties on
 * its score), else 0. */
static int take_batch(sf_zscan *s, const redisReply *r) {
    size_t n = r->elements / 2;
    s->batch_full = n >= SCAN_BATCH;
    s->cands = calloc(n ? n : 1, sizeof(*s->cands));
    if (!s->cands) return -1;
    int all_covered = n > 0;
    for (size_t i = 0; i < n; i++) {
        redisReply *m = r->element[2 * i], *sc = r->element[2 * i + 1];
        if (m->type != REDIS_REPLY_STRING || sc->type != REDIS_REPLY_STRING) continue;
        int64_t score = (int64_t)strtod(sc->str, NULL);
        /* Skip what the cursor already covered: same score, id not below. */
        if (s->has_pos && score == s->pos_score && s->pos_id &&
            strcmp(m->str, s->pos_id) >= 0)
            continue;
        all_covered = 0;
        candidate *cd = &s->cands[s->n_cands];
        *cd = (candidate){.scan = s, .id = strndup(m->str, m->len), .score = score};
        if (cd->id) s->n_cands++;
    }
    if (s->n_cands == 0) clear_cands(s);
    return all_covered;
}

static void on_range(redisAsyncContext *ac, void *reply, void *privdata) {
    (void)ac;
    sf_zscan *s = privdata;
    redisReply *r = reply;
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        if (r && r->type == REDIS_REPLY_ERROR)
            sf_warn("zscan_failed key=%s err=%s", SF_LOGQ(s->spec.index_key),
                    SF_LOGQ(r->str));
        fail(s);
        return;
    }
    int all_covered = take_batch(s, r);
    if (all_covered < 0) {
        fail(s);
    } else if (s->n_cands > 0) {
        s->offset = 0;
        if (fetch_cands(s) != SF_OK) fail(s);
    } else if (all_covered && s->batch_full) {
        /* A full batch of entries the cursor covers: look further. */
        s->offset += SCAN_BATCH;
        if (next_batch(s) != SF_OK) fail(s);
    } else {
        finish(s, !s->batch_full);
    }
}

static sf_status next_batch(sf_zscan *s) {
    char max[32], min[32], off[32], lim[32];
    int64_t hi = s->spec.to_ms ? s->spec.to_ms : INT64_MAX;
    if (s->has_pos && s->pos_score < hi) hi = s->pos_score;
    if (hi == INT64_MAX) snprintf(max, sizeof(max), "+inf");
    else snprintf(max, sizeof(max), "%lld", (long long)hi);
    if (s->spec.from_ms) snprintf(min, sizeof(min), "%lld", (long long)s->spec.from_ms);
    else snprintf(min, sizeof(min), "-inf");
    snprintf(off, sizeof(off), "%zu", s->offset);
    snprintf(lim, sizeof(lim), "%d", SCAN_BATCH);
    /* ZREVRANGEBYSCORE <index> <max> <min> WITHSCORES LIMIT <offset> <count> */
    const char *argv[] = {"ZREVRANGEBYSCORE", s->spec.index_key, max, min,
                          "WITHSCORES", "LIMIT", off, lim};
    return sf_rconn_command(s->coord->redis, on_range, s, 8, argv, NULL);
}

/* Makes spec.ids the one batch; the scan then wants every one of them. */
static sf_status take_ids(sf_zscan *s) {
    s->cands = calloc(s->spec.n_ids, sizeof(*s->cands));
    if (!s->cands) return SF_AGAIN;
    for (size_t i = 0; i < s->spec.n_ids; i++) {
        candidate *cd = &s->cands[s->n_cands];
        *cd = (candidate){.scan = s, .id = strdup(s->spec.ids[i])};
        if (cd->id) s->n_cands++;
    }
    s->spec.count = s->n_cands;
    s->spec.max_looked = 0;
    return s->n_cands > 0 ? SF_OK : SF_AGAIN;
}

/* The record read's argv: <cmd> <key, filled per candidate> <args...>. */
static const char **record_argv(const sf_zscan_spec *spec) {
    const char **argv = calloc(2 + spec->n_args, sizeof(*argv));
    if (!argv) return NULL;
    argv[0] = spec->cmd;
    for (size_t i = 0; i < spec->n_args; i++) argv[2 + i] = spec->args[i];
    return argv;
}

sf_status sf_zscan_start(sf_coord *c, const sf_zscan_spec *spec,
                         sf_zscan_match_fn *match, sf_zscan_done_fn *done,
                         void *arg) {
    sf_assert(spec->n_gates <= SF_ZSCAN_MAX_GATES);
    sf_zscan *s = calloc(1, sizeof(*s));
    if (!s) return SF_AGAIN;
    *s = (sf_zscan){.coord = c, .spec = *spec, .by_ids = spec->n_ids > 0,
                    .match = match, .done = done, .arg = arg};
    if (spec->has_cursor) {
        s->has_pos = 1;
        s->pos_score = spec->cursor_ms;
        s->pos_id = strdup(spec->cursor_id);
    }
    s->argv = record_argv(spec);
    sf_status st = s->argv ? SF_OK : SF_AGAIN;
    if (st == SF_OK && s->by_ids) st = take_ids(s);
    if (st == SF_OK) st = s->by_ids ? fetch_cands(s) : next_batch(s);
    if (st != SF_OK) zscan_free(s);
    return st;
}
