/* dlq_api.c - GET/DELETE /v2/dlq and /v2/dlq/{dlqId} (and the
 * /v2/workflows/dlq aliases).  See api.h, dlq_scan.h, dlq_json.h. */
#include "dlq_api.h"

#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "dlq_json.h"
#include "dlq_scan.h"
#include "keys.h"
#include "log.h"
#include "lua.h"

const char *sf_dlq_field(const char **fields, const char **values, size_t n,
                         const char *name) {
    for (size_t i = 0; i < n; i++)
        if (fields[i] && strcmp(fields[i], name) == 0) return values[i];
    return NULL;
}

/* ---- deleting entries ---- */

typedef struct delete_job {
    sf_coord *coord;
    size_t pending;
    size_t deleted;
    int failed;
    sf_dlq_deleted_fn *done;
    void *arg;
} delete_job;

static void delete_settle(delete_job *j) {
    if (--j->pending > 0) return;
    j->done(j->coord, j->failed ? SF_AGAIN : SF_OK, j->deleted, j->arg);
    free(j);
}

static void on_deleted(redisAsyncContext *ac, void *reply, void *privdata) {
    (void)ac;
    delete_job *j = privdata;
    redisReply *r = reply;
    if (!r || r->type == REDIS_REPLY_ERROR) {
        if (r) sf_warn("dlq_delete_failed err=%s", SF_LOGQ(r->str));
        j->failed = 1;
    } else if (r->type == REDIS_REPLY_INTEGER && r->integer == 1) {
        j->deleted++;
    }
    delete_settle(j);
}

sf_status sf_dlq_delete_ids(sf_coord *c, char *const *ids, size_t n,
                            sf_dlq_deleted_fn *done, void *arg) {
    if (!sf_rconn_is_up(c->redis)) return SF_AGAIN;
    delete_job *j = calloc(1, sizeof(*j));
    if (!j) return SF_AGAIN;
    *j = (delete_job){.coord = c, .pending = 1, .done = done, .arg = arg};
    size_t sent = 0;
    for (size_t i = 0; i < n; i++) {
        char key[SF_KEY_MAX];
        sf_keys_dlq_entry(c->cfg->prefix, ids[i], key, sizeof(key));
        /* dlq_delete.lua KEYS entry events; ARGV dlqId idxPrefix */
        const char *argv[] = {key, c->dlq_events, ids[i], c->dlq_idx_prefix};
        size_t lens[] = {strlen(key), strlen(c->dlq_events), strlen(ids[i]),
                         strlen(c->dlq_idx_prefix)};
        if (sf_rconn_evalsha(c->redis, sf_lua_dlq_delete, on_deleted, j, 2, 4,
                             argv, lens) != SF_OK) {
            j->failed = 1;
            break;
        }
        j->pending++;
        sent++;
    }
    if (sent == 0) {
        free(j);
        return SF_AGAIN;
    }
    delete_settle(j);
    return SF_OK;
}

/* ---- GET /v2/dlq ---- */

typedef struct list_ctx {
    struct evhttp_request *req;
    json_t *messages;
} list_ctx;

static void list_match(void *arg, const char **fields, const size_t *flen,
                       const char **values, const size_t *vlen, size_t n) {
    list_ctx *l = arg;
    json_t *m = sf_dlq_entry_json(fields, flen, values, vlen, n);
    if (m) json_array_append_new(l->messages, m);
}

static void list_done(void *arg, sf_status st, const char *cursor) {
    list_ctx *l = arg;
    if (st != SF_OK) {
        json_decref(l->messages);
        sf_http_reply_error(l->req, 503, "redis unavailable");
    } else {
        sf_http_reply_json(l->req, 200,
                           sf_json_with_cursor(json_pack("{s:o}", "messages",
                                                         l->messages),
                                               cursor));
    }
    free(l);
}

void sf_api_dlq_list(sf_coord *c, struct evhttp_request *req, const char *tail) {
    (void)tail;
    sf_dlq_scan *s = sf_dlq_scan_new_or_400(c, req, SF_SCAN_DEFAULT_COUNT);
    if (!s) return;
    list_ctx *l = calloc(1, sizeof(*l));
    if (l) l->messages = json_array();
    if (!l || !l->messages) {
        free(l);
        sf_dlq_scan_free(s);
        sf_http_reply_error(req, 500, "out of memory");
        return;
    }
    l->req = req;
    if (sf_dlq_scan_start(s, list_match, list_done, l) != SF_OK) {
        json_decref(l->messages);
        free(l);
        sf_http_reply_error(req, 503, "redis unavailable");
    }
}

/* ---- GET /v2/dlq/{dlqId} ---- */

static void on_get(redisAsyncContext *ac, void *reply, void *privdata) {
    (void)ac;
    struct evhttp_request *req = privdata;
    redisReply *r = reply;
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        sf_http_reply_error(req, 503, "redis unavailable");
        return;
    }
    if (r->elements < 2) {
        sf_http_reply_error(req, 404, "dlq message not found");
        return;
    }
    sf_reply_pairs p;
    json_t *o = NULL;
    if (sf_reply_pairs_init(&p, r) == 0)
        o = sf_dlq_entry_json(p.fields, p.flen, p.values, p.vlen, p.n);
    sf_reply_pairs_free(&p);
    if (o) sf_http_reply_json(req, 200, o);
    else sf_http_reply_error(req, 500, "out of memory");
}

void sf_api_dlq_get(sf_coord *c, struct evhttp_request *req, const char *tail) {
    char key[SF_KEY_MAX];
    sf_keys_dlq_entry(c->cfg->prefix, tail, key, sizeof(key));
    /* HGETALL P:{dlq}:entry:<dlqId> */
    if (sf_rconn_commandf(c->redis, on_get, req, "HGETALL %s", key) != SF_OK)
        sf_http_reply_error(req, 503, "redis unavailable");
}

/* ---- DELETE /v2/dlq/{dlqId} ---- */

static void delete_one_done(sf_coord *c, sf_status st, size_t deleted, void *arg) {
    (void)c;
    struct evhttp_request *req = arg;
    if (st != SF_OK)
        sf_http_reply_error(req, 503, "redis unavailable");
    else if (deleted == 0)
        sf_http_reply_error(req, 404, "dlq message not found");
    else
        sf_http_reply_json(req, 200, json_pack("{s:i}", "deleted", 1));
}

void sf_api_dlq_delete(sf_coord *c, struct evhttp_request *req, const char *tail) {
    char *ids[] = {(char *)tail};
    if (sf_dlq_delete_ids(c, ids, 1, delete_one_done, req) != SF_OK)
        sf_http_reply_error(req, 503, "redis unavailable");
}

/* ---- DELETE /v2/dlq (dlqIds, filter or all; cursor/count) ---- */

typedef struct delete_many_ctx {
    sf_coord *coord;
    struct evhttp_request *req;
    char **ids;          /* owned, each owned */
    size_t n, cap;
    char *cursor;        /* owned */
} delete_many_ctx;

static void delete_many_free(delete_many_ctx *d) {
    for (size_t i = 0; i < d->n; i++) free(d->ids[i]);
    free(d->ids);
    free(d->cursor);
    free(d);
}

static void delete_many_match(void *arg, const char **fields, const size_t *flen,
                              const char **values, const size_t *vlen, size_t n) {
    (void)flen, (void)vlen;
    delete_many_ctx *d = arg;
    const char *id = sf_dlq_field(fields, values, n, "dlqId");
    if (!id) return;
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 16;
        char **ids = realloc(d->ids, cap * sizeof(*ids));
        if (!ids) return;
        d->ids = ids, d->cap = cap;
    }
    if ((d->ids[d->n] = strdup(id))) d->n++;
}

static void delete_many_deleted(sf_coord *c, sf_status st, size_t deleted,
                                void *arg) {
    (void)c;
    delete_many_ctx *d = arg;
    if (st != SF_OK)
        sf_http_reply_error(d->req, 503, "redis unavailable");
    else
        sf_http_reply_json(d->req, 200,
                           sf_json_with_cursor(json_pack("{s:I}", "deleted",
                                                         (json_int_t)deleted),
                                               d->cursor));
    delete_many_free(d);
}

static void delete_many_done(void *arg, sf_status st, const char *cursor) {
    delete_many_ctx *d = arg;
    if (st != SF_OK) {
        sf_http_reply_error(d->req, 503, "redis unavailable");
        delete_many_free(d);
        return;
    }
    d->cursor = strdup(cursor);
    if (d->n == 0) {
        delete_many_deleted(d->coord, SF_OK, 0, d);
        return;
    }
    if (sf_dlq_delete_ids(d->coord, d->ids, d->n, delete_many_deleted, d) != SF_OK) {
        sf_http_reply_error(d->req, 503, "redis unavailable");
        delete_many_free(d);
    }
}

void sf_api_dlq_delete_many(sf_coord *c, struct evhttp_request *req,
                            const char *tail) {
    (void)tail;
    sf_dlq_scan *s = sf_dlq_scan_new_or_400(c, req, SF_SCAN_MAX_COUNT);
    if (!s) return;
    delete_many_ctx *d = calloc(1, sizeof(*d));
    if (!d) {
        sf_dlq_scan_free(s);
        sf_http_reply_error(req, 500, "out of memory");
        return;
    }
    d->req = req;
    d->coord = c;
    if (sf_dlq_scan_start(s, delete_many_match, delete_many_done, d) != SF_OK) {
        free(d);
        sf_http_reply_error(req, 503, "redis unavailable");
    }
}
