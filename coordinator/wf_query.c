/* wf_query.c - the runs API's filter: parsing and matching (see
 * wf_query.h). */
#include "wf_query.h"

#include <stdlib.h>
#include <string.h>

#include "dlq.h"
#include "util.h"

static int parse_ms(const char *v, int64_t *out) {
    return sf_parse_i64(v, strlen(v), out) == 0 && *out >= 0 ? 0 : -1;
}

static int add(sf_wf_values *d, const char *v) {
    if (d->n >= SF_WF_FILTER_MAX_VALUES) return -1;
    d->v[d->n++] = v;
    return 0;
}

void sf_wf_query_cleanup(sf_wf_query *f) {
    free(f->run_ids);
    f->run_ids = NULL;
    f->n_run_ids = 0;
}

sf_status sf_wf_query_parse(sf_wf_query *out, const struct evkeyvalq *q,
                            int url_prefix, size_t default_count,
                            size_t max_count, sf_err *err) {
    memset(out, 0, sizeof(*out));
    out->url_prefix = url_prefix;
    out->count = default_count;
    const struct evkeyval *kv;
    const char *bad = NULL, *full = NULL;
    TAILQ_FOREACH(kv, q, next) {
        const char *k = kv->key, *v = kv->value;
        int rc = 0;
        int64_t x;
        if (!v || !*v) continue;
        if (strcmp(k, "workflowRunIds") == 0 || strcmp(k, "workflowRunId") == 0) {
            if (out->n_run_ids >= SF_WF_MAX_RUN_IDS) { full = k; break; }
            if (!out->run_ids) {
                out->run_ids = calloc(SF_WF_MAX_RUN_IDS, sizeof(char *));
                if (!out->run_ids) { bad = "(out of memory)"; break; }
            }
            out->run_ids[out->n_run_ids++] = v;
        } else if (strcmp(k, "workflowUrl") == 0) {
            rc = add(&out->urls, v);
        } else if (strcmp(k, "workflowUrlStartingWith") == 0) {
            rc = add(&out->url_prefixes, v);
        } else if (strcmp(k, "workflowUrlExactMatch") == 0) {
            if (strcmp(v, "true") == 0) out->url_prefix = 0;
            else if (strcmp(v, "false") == 0) out->url_prefix = 1;
            else { bad = k; break; }
        } else if (strcmp(k, "state") == 0) {
            rc = add(&out->states, v);
        } else if (strcmp(k, "label") == 0) {
            rc = add(&out->labels, v);
        } else if (strcmp(k, "callerIp") == 0 || strcmp(k, "callerIP") == 0) {
            rc = add(&out->caller_ips, v);
        } else if (strcmp(k, "flowControlKey") == 0) {
            rc = add(&out->fc_keys, v);
        } else if (strcmp(k, "host") == 0) {
            rc = add(&out->hosts, v);
        } else if (strcmp(k, "path") == 0) {
            rc = add(&out->paths, v);
        } else if (strcmp(k, "messageId") == 0) {
            out->message_id = v;
        } else if (strcmp(k, "workflowCreatedAt") == 0) {
            if (parse_ms(v, &out->created_ms) != 0) { bad = k; break; }
        } else if (strcmp(k, "fromDate") == 0) {
            if (parse_ms(v, &out->from_ms) != 0) { bad = k; break; }
        } else if (strcmp(k, "toDate") == 0) {
            if (parse_ms(v, &out->to_ms) != 0) { bad = k; break; }
        } else if (strcmp(k, "count") == 0) {
            if (parse_ms(v, &x) != 0 || x < 1) { bad = k; break; }
            out->count = (uint64_t)x > max_count ? max_count : (size_t)x;
        } else if (strcmp(k, "cursor") == 0) {
            /* "<createdAt>-<runId>" */
            if (sf_filter_parse_cursor(v, &out->cursor_ms, &out->cursor_id) != 0) {
                bad = k;
                break;
            }
            out->has_cursor = 1;
        }
        if (rc != 0) { full = k; break; }
    }
    if (bad || full) {
        if (full) sf_err_set(err, "too many values for %s", full);
        else sf_err_set(err, "invalid %s", bad);
        sf_wf_query_cleanup(out);
        return SF_INVALID;
    }
    return SF_OK;
}

int sf_wf_url_parts(const char *url, const char **host, size_t *host_len,
                    const char **path, size_t *path_len) {
    const char *p = url ? strstr(url, "://") : NULL;
    if (!p) return -1;
    p += 3;
    size_t hl = strcspn(p, "/?#");
    *host = p, *host_len = hl;
    const char *rest = p + hl;
    if (*rest == '/') {
        *path = rest;
        *path_len = strcspn(rest, "?#");
    } else {
        *path = "/";
        *path_len = 1;
    }
    return 0;
}

/* 1 if "d" is unconstrained or the slice [s, s+len) equals one of its
 * values; "alt_len" (< len) is a second length to try (host sans port). */
static int one_of_slice(const sf_wf_values *d, const char *s, size_t len,
                        size_t alt_len) {
    if (d->n == 0) return 1;
    if (!s) return 0;
    for (size_t i = 0; i < d->n; i++) {
        size_t n = strlen(d->v[i]);
        if ((n == len || n == alt_len) && strncmp(d->v[i], s, n) == 0) return 1;
    }
    return 0;
}

static int url_ok(const sf_wf_query *f, const char *url) {
    if (f->urls.n == 0 && f->url_prefixes.n == 0) return 1;
    if (!url) return 0;
    for (size_t i = 0; i < f->urls.n; i++) {
        const char *u = f->urls.v[i];
        if (f->url_prefix ? strncmp(url, u, strlen(u)) == 0 : strcmp(url, u) == 0)
            return 1;
    }
    for (size_t i = 0; i < f->url_prefixes.n; i++)
        if (strncmp(url, f->url_prefixes.v[i], strlen(f->url_prefixes.v[i])) == 0)
            return 1;
    return 0;
}

int sf_wf_query_match(const sf_wf_query *f, const sf_wf_run_view *v) {
    if (!url_ok(f, v->url) || !sf_filter_one_of(f->states.v, f->states.n, v->state) ||
        !sf_filter_one_of_list(f->labels.v, f->labels.n, v->label) ||
        !sf_filter_one_of(f->caller_ips.v, f->caller_ips.n, v->caller_ip) ||
        !sf_filter_one_of(f->fc_keys.v, f->fc_keys.n, v->fc_key))
        return 0;
    if (f->created_ms && v->created_ms != f->created_ms) return 0;
    if (f->from_ms && v->created_ms < f->from_ms) return 0;
    if (f->to_ms && v->created_ms > f->to_ms) return 0;
    if (f->hosts.n || f->paths.n) {
        const char *h, *p;
        size_t hl, pl;
        if (sf_wf_url_parts(v->url, &h, &hl, &p, &pl) != 0) return 0;
        const char *colon = memchr(h, ':', hl);
        size_t bare = colon ? (size_t)(colon - h) : hl;
        if (!one_of_slice(&f->hosts, h, hl, bare) || !one_of_slice(&f->paths, p, pl, pl))
            return 0;
    }
    return 1;
}
