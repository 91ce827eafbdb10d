/* consumers.c - pruning gone consumers of a group (consumers.h). */
#include "consumers.h"

#include <stdio.h>
#include <string.h>

#include "keys.h"
#include "log.h"
#include "lua.h"

static void on_pruned(redisAsyncContext *ac, void *reply, void *privdata) {
    (void)ac;
    const redisReply *r = reply;
    const char *tag = privdata;
    if (r && r->type == REDIS_REPLY_INTEGER && r->integer > 0)
        sf_info("consumers_pruned queue=%s count=%lld", tag,
                (long long)r->integer);
    else if (r && r->type == REDIS_REPLY_ERROR)
        sf_warn("consumers_prune_error queue=%s err=%s", tag, SF_LOGQ(r->str));
}

void sf_consumers_prune(sf_rconn *c, const char *stream, const char *group,
                        const char *self, const char *tag) {
    char idle[24];
    snprintf(idle, sizeof(idle), "%d", SF_CONSUMER_PRUNE_IDLE_MS);
    /* consumers_prune.lua KEYS stream; ARGV group self idle-ms */
    const char *argv[] = {stream, group, self, idle};
    size_t lens[4];
    for (int i = 0; i < 4; i++) lens[i] = strlen(argv[i]);
    (void)sf_rconn_evalsha(c, sf_lua_consumers_prune, on_pruned, (void *)tag,
                           1, 4, argv, lens);
}
