/* lua.h - the Lua scripts, embedded from common/lua/NAME.lua at build time
 * (common/embed_lua.cmake).  Each file's header comment gives its KEYS,
 * ARGV and reply.  Callers load them with SCRIPT LOAD on every (re)connect
 * and call EVALSHA; the SHA1 of each is computed by sf_lua_sha1(). */
#ifndef SF_LUA_H
#define SF_LUA_H

#include <stddef.h>

extern const char sf_lua_queue_move_due[];
extern const char sf_lua_queue_retry[];
extern const char sf_lua_queue_handback[];
extern const char sf_lua_dlq_add[];
extern const char sf_lua_cb_result[];
extern const char sf_lua_publish[];
extern const char sf_lua_dlq_index[];
extern const char sf_lua_dlq_delete[];
extern const char sf_lua_cb_retry[];
extern const char sf_lua_cb_cancel[];
extern const char sf_lua_wf_init[];
extern const char sf_lua_wf_step[];
extern const char sf_lua_wf_rerun[];
/* coordinator: ending runs, the logs' read, the runs' expiry sweep */
extern const char sf_lua_wf_finish[];
extern const char sf_lua_wf_log[];
extern const char sf_lua_wf_expire[];
/* worker: Upstash-Callback reports and workflow step/run state */
extern const char sf_lua_queue_callback[];
extern const char sf_lua_wf_next[];
extern const char sf_lua_wf_fail[];
/* flow control (worker/flow.h; GET /v2/flowControl/{key}) */
extern const char sf_lua_fc_limit[];
/* POST /v2/keys/rotate (coordinator/keys_api.c) */
extern const char sf_lua_keys_rotate[];
/* worker: heartbeat and per-minute counts (worker/heartbeat.h) */
extern const char sf_lua_heartbeat[];
/* consumers that are gone leave the groups (consumers.h) */
extern const char sf_lua_consumers_prune[];

/* Every script, for SCRIPT LOAD on (re)connect. */
extern const char *const sf_lua_all[];
extern const size_t sf_lua_count;

/* Writes the lowercase hex SHA1 of "script" (41 bytes with NUL) to "out". */
void sf_lua_sha1(const char *script, char out[41]);

#endif
