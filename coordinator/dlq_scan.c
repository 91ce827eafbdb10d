/* dlq_scan.c - index-driven DLQ lookup (see dlq_scan.h). */
#include "dlq_scan.h"

#include <sys/queue.h>
#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlq.h"
#include "http.h"
#include "log.h"
#include "message.h"
#include "util.h"

#define SCAN_BATCH 100     /* candidates per ZREVRANGEBYSCORE */
#define SCAN_MAX_LOOKED 1000
#define MAX_DLQ_IDS 100

typedef struct candidate {
    char *id;        /* owned */
    int64_t score;   /* dlqAt (ms) */
} candidate;

struct sf_dlq_scan {
    sf_coord *coord;
    struct evkeyvalq query;   /* owned: the filter strings point into it */
    sf_dlq_filter filter;
    const char *dlq_ids[MAX_DLQ_IDS];
    size_t n_dlq_ids;
    char *index_key;          /* owned: the zset read (values may be long) */
    size_t count;             /* wanted matches */
    size_t found;
    size_t looked;
    /* Position: entries after (score, id) in newest-first order. */
    int has_pos;
    int64_t pos_score;
    char *pos_id;             /* owned */
    size_t offset;            /* LIMIT offset when a batch was all ties */
    candidate *cands;         /* owned: the current batch */
    size_t n_cands;
    size_t n_sent;            /* HGETALLs sent for this batch */
    size_t replies_left;
    int batch_full;           /* the batch had SCAN_BATCH entries */
    int failed;
    sf_scan_match_fn *match;
    sf_scan_done_fn *done;
    void *arg;
};

static void clear_cands(sf_dlq_scan *s) {
    for (size_t i = 0; i < s->n_cands; i++) free(s->cands[i].id);
    free(s->cands);
    s->cands = NULL;
    s->n_cands = 0;
}

void sf_dlq_scan_free(sf_dlq_scan *s) {
    if (!s) return;
    clear_cands(s);
    free(s->pos_id);
    free(s->index_key);
    evhttp_clear_headers(&s->query);
    free(s);
}

static int parse_i64_str(const char *v, int64_t *out) {
    return v && sf_parse_i64(v, strlen(v), out) == 0 ? 0 : -1;
}

/* Adds "v" to a filter dimension; -1 when it is full. */
static int add_value(const char **arr, size_t *n, size_t max, const char *v) {
    if (*n >= max) return -1;
    arr[(*n)++] = v;
    return 0;
}

sf_dlq_scan *sf_dlq_scan_new_or_400(sf_coord *c, struct evhttp_request *req,
                                    size_t default_count) {
    sf_dlq_scan *s = calloc(1, sizeof(*s));
    if (!s) {
        sf_http_reply_error(req, 500, "out of memory");
        return NULL;
    }
    s->coord = c;
    s->count = default_count;
    if (sf_http_query_or_400(req, &s->query) != 0) {
        free(s);
        return NULL;
    }
    sf_dlq_filter *f = &s->filter;
    struct evkeyval *kv;
    const char *bad = NULL;
    TAILQ_FOREACH(kv, &s->query, next) {
        const char *k = kv->key, *v = kv->value;
        int rc = 0;
        int64_t x;
        if (!v || !*v) continue;
        if (strcmp(k, "failureFunctionState") == 0) {
            if (sf_cb_state_parse(v, NULL) != SF_OK) { bad = k; break; }
            rc = add_value(f->states, &f->n_states, SF_FILTER_MAX_VALUES, v);
        } else if (strcmp(k, "url") == 0) {
            rc = add_value(f->urls, &f->n_urls, SF_FILTER_MAX_VALUES, v);
        } else if (strcmp(k, "label") == 0) {
            rc = add_value(f->labels, &f->n_labels, SF_FILTER_MAX_VALUES, v);
        } else if (strcmp(k, "workflowUrl") == 0) {
            rc = add_value(f->wf_urls, &f->n_wf_urls, SF_FILTER_MAX_VALUES, v);
        } else if (strcmp(k, "workflowRunId") == 0) {
            rc = add_value(f->wf_runs, &f->n_wf_runs, SF_FILTER_MAX_VALUES, v);
        } else if (strcmp(k, "messageId") == 0) {
            rc = add_value(f->message_ids, &f->n_message_ids, SF_FILTER_MAX_VALUES, v);
        } else if (strcmp(k, "callerIp") == 0 || strcmp(k, "callerIP") == 0) {
            rc = add_value(f->caller_ips, &f->n_caller_ips, SF_FILTER_MAX_VALUES, v);
        } else if (strcmp(k, "flowControlKey") == 0) {
            rc = add_value(f->fc_keys, &f->n_fc_keys, SF_FILTER_MAX_VALUES, v);
        } else if (strcmp(k, "source") == 0) {
            /* "workflow": @upstash/workflow's client.dlq.list */
            if (strcmp(v, "workflow") == 0) f->workflow_only = 1;
        } else if (strcmp(k, "workflowUrlExactMatch") == 0) {
            /* workflowUrl always matches exactly here */
            if (strcmp(v, "true") != 0 && strcmp(v, "false") != 0) { bad = k; break; }
        } else if (strcmp(k, "dlqIds") == 0 || strcmp(k, "dlqId") == 0) {
            rc = add_value(s->dlq_ids, &s->n_dlq_ids, MAX_DLQ_IDS, v);
        } else if (strcmp(k, "workflowCreatedAt") == 0) {
            if (parse_i64_str(v, &x) != 0 || x < 0) { bad = k; break; }
            f->wf_created_ms = x;
        } else if (strcmp(k, "responseStatus") == 0) {
            if (parse_i64_str(v, &x) != 0 || x < 0 || x > 999) { bad = k; break; }
            f->response_status = x;
        } else if (strcmp(k, "fromDate") == 0) {
            if (parse_i64_str(v, &x) != 0 || x < 0) { bad = k; break; }
            f->from_ms = x;
        } else if (strcmp(k, "toDate") == 0) {
            if (parse_i64_str(v, &x) != 0 || x < 0) { bad = k; break; }
            f->to_ms = x;
        } else if (strcmp(k, "count") == 0) {
            if (parse_i64_str(v, &x) != 0 || x < 1) { bad = k; break; }
            s->count = x > SF_SCAN_MAX_COUNT ? SF_SCAN_MAX_COUNT : (size_t)x;
        } else if (strcmp(k, "cursor") == 0) {
            /* "<score>-<dlqId>" */
            const char *dash = strchr(v, '-');
            if (!dash || !dash[1] || sf_parse_i64(v, (size_t)(dash - v), &x) != 0) {
                bad = k;
                break;
            }
            s->has_pos = 1;
            s->pos_score = x;
            free(s->pos_id); /* a repeated cursor: the last one wins */
            s->pos_id = strdup(dash + 1);
        }
        if (rc != 0) {
            sf_http_reply_error(req, 400, "too many values for %s", k);
            sf_dlq_scan_free(s);
            return NULL;
        }
    }
    if (bad) {
        sf_http_reply_error(req, 400, "invalid %s", bad);
        sf_dlq_scan_free(s);
        return NULL;
    }
    /* The most selective single-valued dimension picks the index; the
     * index then guarantees that dimension, so it leaves the filter (labels
     * may be comma lists that only the index splits).  With dlqIds no index
     * is read, so every dimension stays in the filter. */
    const char *kind = "all", *value = "";
    if (s->n_dlq_ids > 0) {
        /* the entries named by dlqIds are read directly */
    } else if (f->n_states == 1) {
        kind = "state:", value = f->states[0], f->n_states = 0;
    } else if (f->n_wf_runs == 1) {
        kind = "wfrun:", value = f->wf_runs[0], f->n_wf_runs = 0;
    } else if (f->n_urls == 1) {
        kind = "url:", value = f->urls[0], f->n_urls = 0;
    } else if (f->n_wf_urls == 1) {
        kind = "wfurl:", value = f->wf_urls[0], f->n_wf_urls = 0;
    } else if (f->n_labels == 1) {
        kind = "label:", value = f->labels[0], f->n_labels = 0;
    }
    sf_buf key;
    sf_buf_init(&key);
    sf_buf_appends(&key, c->dlq_idx_prefix);
    sf_buf_appends(&key, kind);
    sf_buf_appends(&key, value);
    s->index_key = sf_buf_take(&key, NULL);
    if (!s->index_key) {
        sf_http_reply_error(req, 500, "out of memory");
        sf_dlq_scan_free(s);
        return NULL;
    }
    return s;
}

static void finish(sf_dlq_scan *s, int exhausted) {
    char cursor[SF_KEY_MAX + 32] = "";
    if (!exhausted && s->has_pos && s->pos_id)
        snprintf(cursor, sizeof(cursor), "%lld-%s", (long long)s->pos_score, s->pos_id);
    s->done(s->arg, s->failed ? SF_AGAIN : SF_OK, cursor);
    sf_dlq_scan_free(s);
}

static sf_status next_batch(sf_dlq_scan *s);

/* Calls "match" when the HGETALL reply "r" is an entry that matches. */
static void consider(sf_dlq_scan *s, redisReply *r) {
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 2) return; /* gone */
    size_t n = r->elements / 2;
    const char **fields = calloc(n, sizeof(char *)), **values = calloc(n, sizeof(char *));
    size_t *flen = calloc(n, sizeof(size_t)), *vlen = calloc(n, sizeof(size_t));
    if (fields && values && flen && vlen) {
        size_t k = 0;
        for (size_t i = 0; i + 1 < r->elements; i += 2) {
            redisReply *f = r->element[i], *v = r->element[i + 1];
            if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
                continue;
            fields[k] = f->str, flen[k] = f->len;
            values[k] = v->str, vlen[k] = v->len;
            k++;
        }
        sf_dlq_view view;
        sf_dlq_view_from_fields(&view, fields, values, k);
        sf_message *env = NULL;
        if (s->filter.n_fc_keys > 0 && !view.flow_control_key) {
            /* Entries written before the field existed: the envelope. */
            for (size_t i = 0; i < k && !env; i++)
                if (strcmp(fields[i], "m") == 0)
                    env = sf_message_decode(values[i], vlen[i], NULL);
            if (env) view.flow_control_key = env->fc_key;
        }
        if (sf_dlq_filter_match(&s->filter, &view)) {
            s->found++;
            s->match(s->arg, fields, flen, values, vlen, k);
        }
        sf_message_free(env);
    }
    free(fields), free(values), free(flen), free(vlen);
}

static void on_entry(redisAsyncContext *ac, void *reply, void *privdata) {
    (void)ac;
    sf_dlq_scan *s = privdata;
    redisReply *r = reply;
    size_t idx = s->n_sent - s->replies_left;
    s->replies_left--;
    if (!r || r->type == REDIS_REPLY_ERROR) {
        s->failed = 1;
    } else if (!s->failed && s->found < s->count && s->looked < SCAN_MAX_LOOKED) {
        s->looked++;
        if (s->n_dlq_ids == 0 && idx < s->n_cands) {
            /* This candidate is consumed: the cursor moves past it. */
            free(s->pos_id);
            s->pos_id = s->cands[idx].id;
            s->cands[idx].id = NULL;
            s->pos_score = s->cands[idx].score;
            s->has_pos = 1;
        }
        consider(s, r);
    }
    if (s->replies_left > 0) return;
    clear_cands(s);
    if (s->failed || s->n_dlq_ids > 0) {
        finish(s, 1);
        return;
    }
    if (s->found >= s->count || s->looked >= SCAN_MAX_LOOKED) {
        finish(s, 0);
        return;
    }
    if (!s->batch_full) {
        finish(s, 1);
        return;
    }
    if (next_batch(s) != SF_OK) {
        s->failed = 1;
        finish(s, 1);
    }
}

/* Sends one HGETALL per candidate (pipelined). */
static sf_status fetch_cands(sf_dlq_scan *s) {
    s->replies_left = 0;
    s->n_sent = 0;
    for (size_t i = 0; i < s->n_cands; i++) {
        char key[SF_KEY_MAX];
        sf_keys_dlq_entry(s->coord->cfg->prefix, s->cands[i].id, key, sizeof(key));
        /* HGETALL P:{dlq}:entry:<dlqId> */
        const char *argv[] = {"HGETALL", key};
        size_t lens[] = {7, strlen(key)};
        if (sf_rconn_command(s->coord->redis, on_entry, s, 2, argv, lens) != SF_OK) {
            if (s->replies_left == 0) return SF_AGAIN;
            /* The ones sent still answer; account for the rest as failed. */
            s->failed = 1;
            return SF_OK;
        }
        s->replies_left++;
        s->n_sent++;
    }
    return SF_OK;
}

static void on_range(redisAsyncContext *ac, void *reply, void *privdata) {
    (void)ac;
    sf_dlq_scan *s = privdata;
    redisReply *r = reply;
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        if (r && r->type == REDIS_REPLY_ERROR)
            sf_warn("dlq_scan_failed key=%s err=\"%s\"", s->index_key, r->str);
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
        s->cands[k].id = strndup(m->str, m->len);
        s->cands[k].score = score;
        if (s->cands[k].id) k++;
    }
    s->n_cands = k;
    if (k == 0) {
        clear_cands(s);
        if (all_ties && s->batch_full) {
            /* A full batch of entries the cursor covers: look further. */
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

static sf_status next_batch(sf_dlq_scan *s) {
    char max[32], min[32], off[32], lim[32];
    int64_t hi = INT64_MAX;
    if (s->filter.to_ms) hi = s->filter.to_ms;
    if (s->has_pos && s->pos_score < hi) hi = s->pos_score;
    if (hi == INT64_MAX) snprintf(max, sizeof(max), "+inf");
    else snprintf(max, sizeof(max), "%lld", (long long)hi);
    if (s->filter.from_ms) snprintf(min, sizeof(min), "%lld", (long long)s->filter.from_ms);
    else snprintf(min, sizeof(min), "-inf");
    snprintf(off, sizeof(off), "%zu", s->offset);
    snprintf(lim, sizeof(lim), "%d", SCAN_BATCH);
    /* ZREVRANGEBYSCORE <idx> <max> <min> WITHSCORES LIMIT <offset> <count> */
    const char *argv[] = {"ZREVRANGEBYSCORE", s->index_key, max, min,
                          "WITHSCORES", "LIMIT", off, lim};
    size_t lens[8];
    for (int i = 0; i < 8; i++) lens[i] = strlen(argv[i]);
    return sf_rconn_command(s->coord->redis, on_range, s, 8, argv, lens);
}

void sf_dlq_scan_workflow_only(sf_dlq_scan *s) { s->filter.workflow_only = 1; }

sf_status sf_dlq_scan_start(sf_dlq_scan *s, sf_scan_match_fn *match,
                            sf_scan_done_fn *done, void *arg) {
    s->match = match;
    s->done = done;
    s->arg = arg;
    sf_status st;
    if (s->n_dlq_ids > 0) {
        /* Direct lookup: the candidates are the ids given. */
        s->cands = calloc(s->n_dlq_ids, sizeof(*s->cands));
        if (!s->cands) {
            sf_dlq_scan_free(s);
            return SF_AGAIN;
        }
        for (size_t i = 0; i < s->n_dlq_ids; i++)
            if ((s->cands[s->n_cands].id = strdup(s->dlq_ids[i]))) s->n_cands++;
        s->count = s->n_cands;
        st = fetch_cands(s);
    } else {
        st = next_batch(s);
    }
    if (st != SF_OK) sf_dlq_scan_free(s);
    return st;
}
