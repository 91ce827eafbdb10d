/* sigkeys.c - refreshes the worker's signing key from Redis (sigkeys.h). */
#include "sigkeys.h"

#include <stdlib.h>
#include <string.h>

#include "keys.h"
#include "log.h"
#include "util.h"

#define RETRY_MS 250 /* before the first answer: poll sooner */

struct sf_sigkeys {
    sf_rconn *conn; /* borrowed */
    char hash[SF_KEY_MAX]; /* P:signing-keys */
    char *key; /* borrowed: the buffer the worker signs with */
    size_t key_size;
    char fallback[256]; /* the key given at start ("" = none) */
    struct event *ev;
    int busy; /* an HMGET is out */
    int loaded; /* Redis answered once */
};

static void arm(sf_sigkeys *s, int64_t ms) {
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
    evtimer_add(s->ev, &tv);
}

/* Reply [current, next] of HMGET. */
static void on_keys(redisAsyncContext *c, void *reply, void *privdata) {
    (void)c;
    sf_sigkeys *s = privdata;
    redisReply *rep = reply;
    s->busy = 0;
    if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements < 1) return;
    const redisReply *cur = rep->element[0];
    const char *want = s->fallback;
    if (cur->type == REDIS_REPLY_STRING && cur->len > 0 &&
        cur->len < s->key_size)
        want = cur->str;
    s->loaded = 1;
    if (strcmp(s->key, want) == 0) return;
    snprintf(s->key, s->key_size, "%s", want);
    sf_info("signing_key_changed source=%s",
            want == s->fallback ? "config" : "redis");
}

/* HMGET P:signing-keys current next */
static void refresh_cb(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    sf_sigkeys *s = arg;
    arm(s, s->loaded ? SF_SIGKEYS_REFRESH_MS : RETRY_MS);
    if (s->busy) return;
    if (sf_rconn_commandf(s->conn, on_keys, s, "HMGET %s current next",
                          s->hash) == SF_OK)
        s->busy = 1;
}

/* Starts the refresher (sigkeys.h). */
sf_sigkeys *sf_sigkeys_new(struct event_base *base, sf_rconn *conn,
                           const char *prefix, char *key, size_t key_size) {
    sf_sigkeys *s = calloc(1, sizeof(*s));
    sf_assert(s);
    s->conn = conn;
    s->key = key;
    s->key_size = key_size;
    snprintf(s->fallback, sizeof(s->fallback), "%s", key);
    sf_keys_signing(prefix, s->hash, sizeof(s->hash));
    s->ev = evtimer_new(base, refresh_cb, s);
    sf_assert(s->ev);
    arm(s, 0);
    return s;
}

/* Frees "s" (sigkeys.h). */
void sf_sigkeys_free(sf_sigkeys *s) {
    if (!s) return;
    event_free(s->ev);
    free(s);
}
