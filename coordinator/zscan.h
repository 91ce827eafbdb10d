/* zscan.h - a newest-first cursor scan over an index zset, reading one
 * record per candidate.  The DLQ lookup (dlq_scan.h: P:{dlq}:idx:* and
 * the entry hashes) and the runs lookup (wf_scan.h: P:{wf}:runs and the
 * run hashes) are both this scan with their own record read and match.
 *
 * The index maps id -> score (a time in ms).  It is read with
 * ZREVRANGEBYSCORE ... WITHSCORES LIMIT in batches within [from_ms, to_ms]
 * and after the cursor; each candidate's record is read with a pipelined
 * "<cmd> <key_prefix><id> <args...>" (HGETALL, HMGET), optionally after
 * HEXISTS "gates", and handed to the caller's match function, until
 * "count" candidates matched, "max_looked" were looked at (0 = no limit)
 * or the index is exhausted.  Instead of the index the candidates can be
 * a list of ids: all of them are read, and there is no cursor.
 *
 * The cursor is "<score>-<id>" of the last candidate looked at, "" when
 * the index is exhausted (sf_filter_parse_cursor in dlq.h reads it back).
 * Equal scores come in descending id order, so a cursor in the middle of
 * a tie skips the ids not below its own.
 *
 * Runs on the coordinator's event_base with its command connection.
 * "match" is called once per candidate looked at, in index order; then
 * "done" exactly once.  The scan frees itself after "done" returns. */
#ifndef SF_COORD_ZSCAN_H
#define SF_COORD_ZSCAN_H

#include <stddef.h>
#include <stdint.h>

#include "coord.h"

#define SF_ZSCAN_MAX_GATES 2

/* "record" is the reply of the record read of candidate "id" (both
 * borrowed for the call; the reply may be nil or empty when the record is
 * gone).  Returns 1 when the candidate matched (it counts toward
 * "count"), else 0. */
typedef int sf_zscan_match_fn(void *arg, const char *id, const redisReply *record);
/* "status": SF_OK, or SF_AGAIN when Redis failed (the handler answers
 * 503).  "cursor" is borrowed for the call. */
typedef void sf_zscan_done_fn(void *arg, sf_status status, const char *cursor);

/* A gate: HEXISTS <key_prefix><id> <field>. */
typedef struct sf_zscan_gate {
    const char *key_prefix;
    const char *field;
} sf_zscan_gate;

/* What one scan reads.  Every string is borrowed until "done" returns. */
typedef struct sf_zscan_spec {
    const char *index_key;       /* the zset id -> score (ms) */
    int64_t from_ms, to_ms;      /* inclusive score bounds; 0 = open */
    int has_cursor;              /* go on after (cursor_ms, cursor_id) */
    int64_t cursor_ms;
    const char *cursor_id;
    const char *const *ids;      /* n_ids > 0: read these, not the index */
    size_t n_ids;
    size_t count;                /* matches wanted (with ids: all of them) */
    size_t max_looked;           /* 0 = no limit (with ids: none) */
    /* The record read: <cmd> <key_prefix><id> <args...> */
    const char *cmd;
    const char *key_prefix;
    const char *const *args;
    size_t n_args;
    /* Sent before the record read; with n_gates > 0 a candidate is only
     * offered to "match" when one of them answers 1. */
    sf_zscan_gate gates[SF_ZSCAN_MAX_GATES];
    size_t n_gates;
} sf_zscan_spec;

/* Starts a scan of "spec" (copied).  Returns SF_AGAIN, calling nothing,
 * when Redis is down or memory ran out. */
sf_status sf_zscan_start(sf_coord *c, const sf_zscan_spec *spec,
                         sf_zscan_match_fn *match, sf_zscan_done_fn *done,
                         void *arg);

#endif
