/* fc_api.c - GET /v2/flowControl/{key}: one flow-control key's state, as
 * @upstash/qstash's FlowControlInfo.  The numbers come from the worker's
 * limiter (worker/flow.h) through fc_limit.lua's read-only "info" op, so
 * expired leases are not counted: {flowControlKey, waitListSize,
 * parallelismMax, parallelismCount, rateMax, rateCount, ratePeriod (s),
 * ratePeriodStart (unix s), isPaused, isPinnedParallelism, isPinnedRate}.
 * A key no message has used (or idle for a day) is 404. */
#include <event2/http.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "keys.h"
#include "log.h"
#include "lua.h"

typedef struct fc_req {
    struct evhttp_request *req;
    char *key; /* owned, decoded */
} fc_req;

static long long int_at(const redisReply *r, size_t i) {
    return i < r->elements && r->element[i]->type == REDIS_REPLY_INTEGER
               ? r->element[i]->integer
               : 0;
}

/* Reply {0} or {1, waiting, pMax, pCount, rMax, rCount, period_ms,
 * period_start_ms}. */
static void on_info(redisAsyncContext *ac, void *reply, void *privdata) {
    (void)ac;
    fc_req *f = privdata;
    redisReply *r = reply;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 1) {
        if (r && r->type == REDIS_REPLY_ERROR)
            sf_error("fc_info_error err=%s", SF_LOGQ(r->str));
        sf_http_reply_error(f->req, 503, "redis unavailable");
    } else if (int_at(r, 0) != 1 || r->elements < 8) {
        sf_http_reply_error(f->req, 404, "flow control key not found");
    } else {
        long long period_ms = int_at(r, 6);
        json_t *o = json_pack(
            "{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:b, s:b, s:b}",
            "flowControlKey", f->key, "waitListSize", int_at(r, 1),
            "parallelismMax", int_at(r, 2), "parallelismCount", int_at(r, 3),
            "rateMax", int_at(r, 4), "rateCount", int_at(r, 5), "ratePeriod",
            (period_ms + 999) / 1000, "ratePeriodStart", int_at(r, 7) / 1000,
            "isPaused", 0, "isPinnedParallelism", 0, "isPinnedRate", 0);
        if (o)
            sf_http_reply_json(f->req, 200, o);
        else /* the key is not valid UTF-8 */
            sf_http_reply_error(f->req, 400, "flow control key is not UTF-8");
    }
    free(f->key);
    free(f);
}

/* GET /v2/flowControl/{key} ("tail": the key, percent-encoded):
 * EVALSHA fc_limit 1 P:{msg}:stream info P:{msg}:fc: <key> */
void sf_api_flow_control_get(sf_coord *c, struct evhttp_request *req,
                             const char *tail) {
    size_t len = 0;
    char *key = evhttp_uridecode(tail, 0, &len);
    if (!key || len == 0 || strlen(key) != len) {
        free(key);
        sf_http_reply_error(req, 400, "invalid flow control key");
        return;
    }
    fc_req *f = calloc(1, sizeof(*f));
    if (!f) {
        free(key);
        sf_http_reply_error(req, 500, "out of memory");
        return;
    }
    f->req = req;
    f->key = key;
    char prefix[SF_KEY_MAX];
    sf_keys_fc_prefix(c->cfg->prefix, prefix, sizeof(prefix));
    const char *argv[] = {c->msgq.stream, "info", prefix, key};
    size_t lens[] = {strlen(c->msgq.stream), 4, strlen(prefix), len};
    if (sf_rconn_evalsha(c->redis, sf_lua_fc_limit, on_info, f, 1, 4, argv,
                         lens) != SF_OK) {
        free(f->key);
        free(f);
        sf_http_reply_error(req, 503, "redis unavailable");
    }
}
