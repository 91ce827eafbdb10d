/* keys_api.c - the signing keys: P:signing-keys (hash current, next).
 *
 * The coordinator seeds the hash from STEPFLOW_CURRENT_SIGNING_KEY /
 * STEPFLOW_NEXT_SIGNING_KEY with HSETNX on every connect (so the first
 * value wins and a rotation is never undone by a restart); workers sign
 * with its `current` key (worker/sigkeys.h).  GET /v2/keys answers the
 * pair, POST /v2/keys/rotate moves next to current and makes a new next
 * (keys_rotate.lua), as QStash does.  New keys look like Upstash's:
 * "sig_" + 28 base58 characters from OpenSSL's RAND_bytes. */
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "keys.h"
#include "log.h"
#include "lua.h"

#define KEY_CHARS 28

static const char b58[] =
    "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/* Writes a new "sig_..." key into "out" (>= 5 + KEY_CHARS bytes); 0, or
 * -1 when the random generator fails. */
static int new_key(char *out, size_t out_size) {
    if (out_size < 5 + KEY_CHARS) return -1;
    memcpy(out, "sig_", 4);
    size_t n = 0;
    while (n < KEY_CHARS) {
        unsigned char buf[64];
        if (RAND_bytes(buf, sizeof(buf)) != 1) return -1;
        /* 232 = 4 * 58: keep only unbiased bytes */
        for (size_t i = 0; i < sizeof(buf) && n < KEY_CHARS; i++)
            if (buf[i] < 232) out[4 + n++] = b58[buf[i] % 58];
    }
    out[4 + KEY_CHARS] = '\0';
    return 0;
}

/* Seeds P:signing-keys from the configuration (see the top):
 * HSETNX P:signing-keys current <key>; HSETNX P:signing-keys next <key> */
void sf_keys_api_seed(sf_coord *c) {
    char hash[SF_KEY_MAX];
    sf_keys_signing(c->cfg->prefix, hash, sizeof(hash));
    if (c->cfg->current_signing_key[0])
        sf_rconn_commandf(c->redis, NULL, NULL, "HSETNX %s current %s", hash,
                          c->cfg->current_signing_key);
    if (c->cfg->next_signing_key[0])
        sf_rconn_commandf(c->redis, NULL, NULL, "HSETNX %s next %s", hash,
                          c->cfg->next_signing_key);
}

static json_t *str_or_empty(const redisReply *r) {
    return json_string(r && r->type == REDIS_REPLY_STRING ? r->str : "");
}

/* Reply [current, next] (HMGET or keys_rotate.lua) -> {"current","next"}. */
static void on_pair(redisAsyncContext *ac, void *reply, void *privdata) {
    (void)ac;
    struct evhttp_request *req = privdata;
    redisReply *r = reply;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
        if (r && r->type == REDIS_REPLY_ERROR)
            sf_error("signing_keys_error err=%s", SF_LOGQ(r->str));
        sf_http_reply_error(req, 503, "redis unavailable");
        return;
    }
    json_t *o = json_object();
    json_object_set_new(o, "current", str_or_empty(r->element[0]));
    json_object_set_new(o, "next", str_or_empty(r->element[1]));
    sf_http_reply_json(req, 200, o);
}

/* GET /v2/keys: HMGET P:signing-keys current next */
void sf_api_keys_get(sf_coord *c, struct evhttp_request *req,
                     const char *tail) {
    (void)tail;
    char hash[SF_KEY_MAX];
    sf_keys_signing(c->cfg->prefix, hash, sizeof(hash));
    if (sf_rconn_commandf(c->redis, on_pair, req, "HMGET %s current next",
                          hash) != SF_OK)
        sf_http_reply_error(req, 503, "redis unavailable");
}

/* POST /v2/keys/rotate:
 * EVALSHA keys_rotate 1 P:signing-keys <new next> <new current> */
void sf_api_keys_rotate(sf_coord *c, struct evhttp_request *req,
                        const char *tail) {
    (void)tail;
    char hash[SF_KEY_MAX], next[64], cur[64];
    if (new_key(next, sizeof(next)) != 0 || new_key(cur, sizeof(cur)) != 0) {
        sf_http_reply_error(req, 500, "cannot generate a key");
        return;
    }
    sf_keys_signing(c->cfg->prefix, hash, sizeof(hash));
    const char *argv[] = {hash, next, cur};
    size_t lens[] = {strlen(hash), strlen(next), strlen(cur)};
    if (sf_rconn_evalsha(c->redis, sf_lua_keys_rotate, on_pair, req, 1, 3,
                         argv, lens) != SF_OK) {
        sf_http_reply_error(req, 503, "redis unavailable");
        return;
    }
    sf_info("signing_keys_rotate");
}
