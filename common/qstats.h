/* qstats.h - the cluster-wide figures both processes report: queue backlog,
 * pending, oldest pending age, delayed set, messages parked by flow
 * control, DLQ size by failure-callback state, workflow runs, live
 * workers.
 *
 * They are read from Redis, not counted in a process, so every coordinator
 * and every worker reports the same numbers (aggregate them with max(), not
 * sum()).  sf_qstats_fetch() sends the reads as plain pipelined commands on
 * one connection (no script: the keys live in several hash slots) and calls
 * back once with every figure, or with an error text.
 *
 * Reads per fetch: XINFO GROUPS + XLEN + XPENDING (summary) + ZCARD of the
 * delayed set for each of the two queues, GET of the flow-control parked
 * count (P:{msg}:fc:parked, kept by fc_limit.lua), ZCARD of the DLQ's
 * all-entries index and of its five state indexes, ZCARD of the running
 * runs, ZCOUNT of the workers seen in the last SF_WORKER_ALIVE_MS, and
 * INFO memory persistence (Redis's own memory and persistence health; a
 * server that refuses INFO leaves those figures at -1).  Failed runs are no
 * figure of their own: P:{wf}:failed only hands them to the coordinators'
 * expiry sweep (wf_expire.lua), which empties it within seconds; they show
 * as DLQ entries. */
#ifndef SF_QSTATS_H
#define SF_QSTATS_H

#include <stdint.h>

#include "err.h"
#include "rconn.h"

#define SF_WORKER_ALIVE_MS 15000 /* a worker is alive if it beat this recently */
#define SF_HEARTBEAT_MS 5000     /* workers' heartbeat period */
#define SF_STATS_MINUTE_TTL_S 7200 /* per-minute buckets are kept 2 h */

/* The failure-callback states of DLQ entries, in this order everywhere
 * (index suffixes P:{dlq}:idx:state:<name>). */
enum { SF_CBSTATE_INPROGRESS, SF_CBSTATE_SUCCESS, SF_CBSTATE_FAIL,
       SF_CBSTATE_CANCELED, SF_CBSTATE_NONE, SF_CBSTATE_COUNT };
extern const char *const sf_cbstate_names[SF_CBSTATE_COUNT];

typedef struct sf_qstats_queue {
    int64_t length;         /* XLEN: entries in the stream */
    int64_t backlog;        /* the group's lag: entries not read yet */
    int64_t pending;        /* read by a worker, not acknowledged yet */
    int64_t oldest_pending_ms; /* age of the oldest pending entry (now - its
                                  id's time), 0 when none is pending */
    int64_t delayed;        /* ZCARD of the delayed set (delays, backoff) */
    int64_t parked;         /* off the stream in a flow-control key's wait
                               list (the message queue only; 0 for cb) */
} sf_qstats_queue;

/* Redis's own health, from INFO memory persistence; -1 = not reported. */
typedef struct sf_qstats_redis {
    int64_t used_memory;    /* used_memory (bytes) */
    int64_t maxmemory;      /* maxmemory (bytes; 0 = no limit) */
    int64_t aof_enabled;    /* aof_enabled: 1 / 0 */
    int64_t persistence_ok; /* 1 when the last AOF write, AOF rewrite and
                               RDB save all say ok; 0 when one failed
                               (a full or failing disk) */
} sf_qstats_redis;

typedef struct sf_qstats {
    int64_t at_ms;          /* when the figures were read (local clock) */
    sf_qstats_queue msg;    /* P:{msg}: the message queue */
    sf_qstats_queue cb;     /* P:{dlq}:cb: the failure-callback queue */
    int64_t dlq_total;      /* ZCARD P:{dlq}:idx:all */
    int64_t dlq_by_state[SF_CBSTATE_COUNT];
    int64_t wf_running;     /* ZCARD P:{wf}:running */
    int64_t workers_alive;  /* ZCOUNT P:{stats}:workers (now-15 s, +inf) */
    sf_qstats_redis redis;  /* INFO memory persistence */
} sf_qstats;

/* Called once: "s" on success (valid during the call), else "err" says
 * why (Redis down, an error reply). */
typedef void sf_qstats_fn(const sf_qstats *s, const char *err, void *arg);

/* Starts one fetch on "c" for key prefix "prefix".  SF_AGAIN when the
 * connection is down (fn is then not called).  Otherwise "fn" is called
 * exactly once, from a reply callback: with the figures, or with "err" when
 * a reply was an error or the link dropped before every reply came back
 * (also from inside sf_rconn_free(), so "arg" must outlive the connection
 * or the fetch). */
sf_status sf_qstats_fetch(sf_rconn *c, const char *prefix, sf_qstats_fn *fn,
                          void *arg);

/* ---- Reply parsing (pure; tests/unit/test_qstats.c) ----
 *
 * Missing keys are zeros, not errors: XINFO GROUPS and XPENDING on a stream
 * that does not exist, or without the group, answer an error reply
 * ("no such key", "NOGROUP"); sf_qstats_missing() recognises those.
 *
 * The backlog is the group's lag (entries added to the stream that the
 * group has not read).  Redis 7 answers lag = nil when it cannot tell, which
 * happens once entries were deleted in the range it would have to count;
 * workers XACK and XDEL each entry they finish, so the stream then holds
 * exactly the pending entries and the unread ones, and XLEN - pending is
 * the backlog (sf_qstats_backlog()). */

/* What XINFO GROUPS says of one group. */
typedef struct sf_qstats_group {
    int found;          /* the group exists */
    int64_t lag;        /* entries not read yet; -1 when Redis says nil */
    int64_t pending;    /* entries read and not acknowledged */
} sf_qstats_group;

/* Finds "group" in the XINFO GROUPS reply "r" (RESP2: an array of
 * field/value arrays); found = 0 when it is not there or "r" is not one. */
sf_qstats_group sf_qstats_parse_group(const redisReply *r, const char *group);

/* The age in ms at "now_ms" of the oldest pending entry, from an XPENDING
 * summary reply [count, smallest-id, greatest-id, consumers]: now minus
 * the ms part of the smallest id, never negative; 0 when nothing is
 * pending or the reply is not that shape. */
int64_t sf_qstats_oldest_pending_ms(const redisReply *r, int64_t now_ms);

/* Parses the text of an INFO reply (any sections) into "out"; fields it
 * does not find are -1. */
void sf_qstats_parse_info(const char *text, size_t len, sf_qstats_redis *out);

/* The backlog from a group's "lag" (-1 = unknown), the stream's "length"
 * and the group's "pending" count: lag when known, else length - pending,
 * never negative. */
int64_t sf_qstats_backlog(int64_t lag, int64_t length, int64_t pending);

/* 1 when the error reply "r" only says the key or the group does not
 * exist yet. */
int sf_qstats_missing(const redisReply *r);

#endif
