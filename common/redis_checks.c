/* redis_checks.c - the eviction policy check (redis_checks.h). */
#include "redis_checks.h"

#include <string.h>

#include "log.h"

static void on_policy(redisAsyncContext *ac, void *reply, void *privdata) {
    (void)ac;
    int *warned = privdata;
    const redisReply *r = reply;
    /* CONFIG GET answers [name, value] */
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 2 ||
        r->element[1]->type != REDIS_REPLY_STRING)
        return;
    if (strcmp(r->element[1]->str, "noeviction") != 0 && !*warned) {
        *warned = 1;
        sf_warn("redis_maxmemory_policy policy=%s want=noeviction "
                "note=\"Redis may evict queued messages\"",
                SF_LOGQ(r->element[1]->str));
    }
}

void sf_redis_checks(sf_rconn *conn, int *policy_warned) {
    /* CONFIG GET maxmemory-policy */
    sf_rconn_commandf(conn, on_policy, policy_warned,
                      "CONFIG GET maxmemory-policy");
}
