/* redis_checks.c - the layout version and eviction checks (redis_checks.h). */
#include "redis_checks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys.h"
#include "log.h"
#include "util.h"

static void on_layout(redisAsyncContext *ac, void *reply, void *privdata) {
    (void)ac, (void)privdata;
    const redisReply *r = reply;
    if (!r || r->type != REDIS_REPLY_STRING) return; /* lost: next time */
    int64_t found = 0;
    if (sf_parse_i64(r->str, r->len, &found) != 0) {
        sf_error("redis_layout_unreadable value=%s", SF_LOGQ(r->str));
        return;
    }
    if (found > SF_LAYOUT_VERSION) {
        sf_error("redis_layout_newer found=%lld supported=%d note=\"this "
                 "Redis holds data of a newer stepflow release; exiting "
                 "without touching it\"",
                 (long long)found, SF_LAYOUT_VERSION);
        exit(1);
    }
}

static void on_policy(redisAsyncContext *ac, void *reply, void *privdata) {
    (void)ac, (void)privdata;
    const redisReply *r = reply;
    /* CONFIG GET answers [name, value] */
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 2 ||
        r->element[1]->type != REDIS_REPLY_STRING)
        return;
    if (strcmp(r->element[1]->str, "noeviction") != 0)
        sf_warn("redis_maxmemory_policy policy=%s want=noeviction "
                "note=\"Redis may evict queued messages\"",
                SF_LOGQ(r->element[1]->str));
}

void sf_redis_checks(sf_rconn *conn, const char *prefix) {
    char key[128], version[16];
    sf_keys_layout(prefix, key, sizeof(key));
    snprintf(version, sizeof(version), "%d", SF_LAYOUT_VERSION);
    sf_rconn_commandf(conn, NULL, NULL, "SET %s %s NX", key, version);
    sf_rconn_commandf(conn, on_layout, NULL, "GET %s", key);
    sf_rconn_commandf(conn, on_policy, NULL, "CONFIG GET maxmemory-policy");
}
