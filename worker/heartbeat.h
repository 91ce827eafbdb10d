/* heartbeat.h - the worker's heartbeat in Redis (layout in common/qstats.h
 * and common/keys.h, script common/lua/heartbeat.lua).
 *
 * Every SF_HEARTBEAT_MS, and at once when the main connection comes up,
 * one heartbeat.lua call on the main connection:
 *   - ZADD P:{stats}:workers <now> <consumer>: the worker is alive;
 *   - P:{stats}:worker:<consumer>: host, pid, version, startedAt, lastSeen,
 *     concurrency, inflight and the totals since the process started
 *     (delivered, retried, failed, dropped, callbacksOk, callbacksFailed),
 *     EXPIRE SF_HEARTBEAT_HASH_TTL_S;
 *   - HINCRBY P:{stats}:min:<minute> delivered/retried/failed by the counts
 *     since the last beat Redis confirmed (<minute>: the start of the
 *     minute the beat is sent in, so a count lands at most one period
 *     late; buckets expire after SF_STATS_MINUTE_TTL_S).
 * The totals are the worker's metrics (wmetrics.h), message queue only for
 * delivered (outcome success), retried (retry) and failed (exhausted +
 * non_retryable: failed for good); dropped counts both queues;
 * callbacksOk / callbacksFailed are failure callbacks that ended in
 * CALLBACK_SUCCESS / CALLBACK_FAIL.
 *
 * Counts are never sent twice on purpose: what a beat carried is taken off
 * only when its reply is OK; a failed or lost beat leaves them for the
 * next one.  (A beat that applied but whose reply was lost with the link
 * is counted again: the usual at-least-once.)  One call at a time.
 *
 * sf_heartbeat_leave() is the graceful exit: the last counts, then ZREM +
 * DEL of the worker, in the same script; no beat after it.
 *
 * Runs on the worker's loop; free it after the main connection is freed. */
#ifndef SF_HEARTBEAT_H
#define SF_HEARTBEAT_H

#define SF_HEARTBEAT_HASH_TTL_S 60

struct sf_worker;
typedef struct sf_heartbeat sf_heartbeat;

/* Starts the beat timer of worker "w" (borrowed; must outlive it). */
sf_heartbeat *sf_heartbeat_new(struct sf_worker *w);
/* Stops the timer and frees; NULL is a no-op. */
void sf_heartbeat_free(sf_heartbeat *hb);

/* Beats now unless a call is out or the link is down. */
void sf_heartbeat_beat(sf_heartbeat *hb);
/* Sends the last counts and removes the worker (after a call still out,
 * if any); stops the timer. */
void sf_heartbeat_leave(sf_heartbeat *hb);
/* 1 while a call is out, or the leave waits to be sent behind one. */
int sf_heartbeat_busy(const sf_heartbeat *hb);

#endif
