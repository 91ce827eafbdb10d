/* dlq_scan.c - index-driven DLQ lookup (see dlq_scan.h). */
#include "dlq_scan.h"

#include <sys/queue.h>
#include <event2/keyvalq_struct.h>
#include <stdlib.h>
#include <string.h>

#include "dlq.h"
#include "http.h"
#include "message.h"
#include "util.h"

#define SCAN_MAX_LOOKED 1000
#define MAX_DLQ_IDS 100

struct sf_dlq_scan {
    sf_coord *coord;
    struct evkeyvalq query;   /* owned: the filter strings point into it */
    sf_dlq_filter filter;
    const char *dlq_ids[MAX_DLQ_IDS];
    size_t n_dlq_ids;
    char *index_key;          /* owned: the zset read (values may be long) */
    char entry_prefix[SF_KEY_MAX]; /* P:{dlq}:entry: */
    size_t count;             /* wanted matches */
    int has_cursor;
    int64_t cursor_ms;        /* cursor "<dlqAt>-<dlqId>" */
    const char *cursor_id;    /* borrowed from query */
    sf_scan_match_fn *match;
    sf_scan_done_fn *done;
    void *arg;
};

void sf_dlq_scan_free(sf_dlq_scan *s) {
    if (!s) return;
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
            /* "<dlqAt>-<dlqId>"; a repeated cursor: the last one wins */
            if (sf_filter_parse_cursor(v, &s->cursor_ms, &s->cursor_id) != 0) {
                bad = k;
                break;
            }
            s->has_cursor = 1;
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
    sf_keys_dlq_entry_prefix(c->cfg->prefix, s->entry_prefix, sizeof(s->entry_prefix));
    return s;
}

/* 1 if the entry of "n" fields/values matches the filter. */
static int entry_matches(const sf_dlq_scan *s, const char **fields,
                         const char **values, const size_t *vlen, size_t n) {
    sf_dlq_view view;
    sf_dlq_view_from_fields(&view, fields, values, n);
    sf_message *env = NULL;
    if (s->filter.n_fc_keys > 0 && !view.flow_control_key) {
        /* Entries written before the field existed: the envelope. */
        for (size_t i = 0; i < n && !env; i++)
            if (strcmp(fields[i], "m") == 0)
                env = sf_message_decode(values[i], vlen[i], NULL);
        if (env) view.flow_control_key = env->fc_key;
    }
    int matched = sf_dlq_filter_match(&s->filter, &view);
    sf_message_free(env);
    return matched;
}

/* The zscan match: 1 (after calling "match") when the entry's HGETALL
 * reply "r" matches the filter. */
static int consider(void *arg, const char *id, const redisReply *r) {
    (void)id;
    sf_dlq_scan *s = arg;
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 2) return 0; /* gone */
    sf_reply_pairs p;
    int matched = 0;
    if (sf_reply_pairs_init(&p, r) == 0) {
        matched = entry_matches(s, p.fields, p.values, p.vlen, p.n);
        if (matched) s->match(s->arg, p.fields, p.flen, p.values, p.vlen, p.n);
    }
    sf_reply_pairs_free(&p);
    return matched;
}

static void on_done(void *arg, sf_status st, const char *cursor) {
    sf_dlq_scan *s = arg;
    s->done(s->arg, st, cursor);
    sf_dlq_scan_free(s);
}

void sf_dlq_scan_workflow_only(sf_dlq_scan *s) { s->filter.workflow_only = 1; }

sf_status sf_dlq_scan_start(sf_dlq_scan *s, sf_scan_match_fn *match,
                            sf_scan_done_fn *done, void *arg) {
    s->match = match;
    s->done = done;
    s->arg = arg;
    /* HGETALL P:{dlq}:entry:<dlqId> per candidate */
    sf_zscan_spec spec = {
        .index_key = s->index_key, .from_ms = s->filter.from_ms, .to_ms = s->filter.to_ms,
        .has_cursor = s->has_cursor, .cursor_ms = s->cursor_ms, .cursor_id = s->cursor_id,
        .ids = s->dlq_ids, .n_ids = s->n_dlq_ids,
        .count = s->count, .max_looked = SCAN_MAX_LOOKED,
        .cmd = "HGETALL", .key_prefix = s->entry_prefix,
    };
    sf_status st = sf_zscan_start(s->coord, &spec, consider, on_done, s);
    if (st != SF_OK) sf_dlq_scan_free(s);
    return st;
}

