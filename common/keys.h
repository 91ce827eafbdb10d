/* keys.h - every Redis key name, in one place.
 *
 * Layout (P = STEPFLOW_PREFIX, default "stepflow").  All keys of one queue
 * share a hash tag so a Redis Cluster keeps them in one slot and the Lua
 * scripts that touch several of them stay legal:
 *
 *   P:{msg}:stream          stream of ready messages; group "workers".
 *                           entry fields: v=1 id=<msgId> m=<msgpack envelope>
 *   P:{msg}:delayed         zset msgId -> due time (ms): delay, not-before,
 *                           retry backoff.  Moved to the stream by
 *                           queue_move_due.lua (atomic: one mover per id).
 *   P:{msg}:payload         hash msgId -> envelope of each delayed message
 *   P:{msg}:dedup:<id>      string msgId, EX dedup ttl (Upstash-Deduplication-Id)
 *
 *   P:{dlq}:cb:stream       failure-callback jobs (same shape as P:{msg}:stream
 *   P:{dlq}:cb:delayed      plus field dlq=<dlqId>); they live under the {dlq}
 *   P:{dlq}:cb:payload      tag so a DLQ entry and its callback job change in
 *                           one atomic script.
 *   P:{dlq}:entry:<dlqId>   hash, one DLQ entry (fields in dlq.h)
 *   P:{dlq}:events          stream of DLQ changes (dlqId, event); the
 *                           coordinators' group "indexer" keeps the indexes:
 *   P:{dlq}:idx:all         zset dlqId -> time it entered the DLQ (ms)
 *   P:{dlq}:idx:state:<S>   same, per failure-callback state (S = CALLBACK_*
 *                           or NONE for entries without a callback)
 *   P:{dlq}:idx:url:<url>   P:{dlq}:idx:label:<label>
 *   P:{dlq}:idx:wfurl:<u>   P:{dlq}:idx:wfrun:<runId>
 *
 * Workflow runs (one slot, {wf}; see coordinator/wf.h for their life):
 *   P:{wf}:run:<runId>      hash: the run (fields in coordinator/wf.h)
 *   P:{wf}:steps:<runId>    list: the run's recorded steps, oldest first,
 *                           each the JSON item the SDK receives:
 *                           {"messageId","body"(base64),"callType","createdAt"}
 *   P:{wf}:stepidx:<runId>  hash: "s:<stepId>" / "t:<targetStep>" /
 *                           "m:<messageId>" -> index in the steps list
 *                           (dedup of steps recorded twice)
 *   P:{wf}:next:<runId>     hash: messageId -> JSON state of a delivery of
 *                           the run still in flight (STEP_PROGRESS/RETRY/
 *                           FAILED, retries, errors) for the logs API
 *   P:{wf}:runs             zset runId -> createdAt (ms): every run kept
 *   P:{wf}:running          zset runId -> createdAt (ms): the RUN_STARTED
 *                           ones (what cancel by filter reads)
 *   P:{wf}:expire           zset runId -> time (ms) its keys are deleted
 *                           (finished runs, after the retention)
 *   P:{wf}:failed           zset runId -> time (ms) the run failed; the
 *                           coordinator's expiry sweep moves it to expire
 *                           with the retention added (wf_expire.lua)
 *
 * Flow control (worker/flow.h, common/lua/fc_limit.lua).  In the {msg}
 * slot, beside the stream, so parking and waking a message are atomic:
 *   P:{msg}:fc:conf:<key>   hash parallelism, rate, period, bucket (ms)
 *   P:{msg}:fc:run:<key>    zset msgId:entryId -> lease end (ms): slots held
 *   P:{msg}:fc:rate:<key>   hash bucket -> starts (sliding rate window)
 *   P:{msg}:fc:wait:<key>   list of parked msgIds, oldest first
 *   P:{msg}:fc:env:<key>    hash msgId -> envelope of a parked message
 *   P:{msg}:fc:wake         zset key -> time (ms) its wait list may move
 *   P:{msg}:fc:parked       string: messages parked in all wait lists
 *                           (kept by fc_limit.lua; read by common/qstats)
 *
 * Operator statistics (common/qstats.h; one slot, {stats}):
 *   P:{stats}:workers       zset consumer -> last heartbeat (ms)
 *   P:{stats}:worker:<c>    hash: one worker's heartbeat figures (EXPIRE 60 s)
 *   P:{stats}:min:<ms>      hash delivered, retried, failed, published of
 *                           the minute starting at <ms> (HINCRBY'd deltas)
 *
 * Signing keys: P:signing-keys  hash current, next (seeded from the
 * environment; POST /v2/keys/rotate changes them; workers re-read them).
 *
 * Names are built into caller-provided buffers; nothing here allocates. */
#ifndef SF_KEYS_H
#define SF_KEYS_H

#include <stddef.h>
#include <stdint.h>

#define SF_KEY_MAX 1024
#define SF_GROUP_WORKERS "workers"
#define SF_GROUP_INDEXER "indexer"
/* consumers.h: every process that reads a group removes, this often, the
 * group's consumers idle this long with nothing pending */
#define SF_CONSUMER_PRUNE_EVERY_MS (10 * 60 * 1000)
#define SF_CONSUMER_PRUNE_IDLE_MS (60 * 60 * 1000)
#define SF_STREAM_SCHEMA "1" /* value of field v in stream entries */

/* The keys of one queue (the message queue or the callback queue). */
typedef struct sf_queue_keys {
    char stream[SF_KEY_MAX];
    char delayed[SF_KEY_MAX];
    char payload[SF_KEY_MAX];
} sf_queue_keys;

typedef enum sf_queue_id {
    SF_QUEUE_MSG = 0,
    SF_QUEUE_CALLBACK = 1,
} sf_queue_id;

void sf_keys_queue(const char *prefix, sf_queue_id q, sf_queue_keys *out);

/* "P:{msg}:dedup:<dedup_id>" */
void sf_keys_dedup(const char *prefix, const char *dedup_id, char *out,
                   size_t out_size);
/* "P:{dlq}:entry:<dlq_id>" */
void sf_keys_dlq_entry(const char *prefix, const char *dlq_id, char *out,
                       size_t out_size);
/* "P:{dlq}:events" */
void sf_keys_dlq_events(const char *prefix, char *out, size_t out_size);
/* "P:{dlq}:idx:" — index keys append "all", "state:<S>", "url:<u>", ... */
void sf_keys_dlq_index_prefix(const char *prefix, char *out, size_t out_size);
/* "P:{dlq}:entry:" — prefix of entry keys (Lua scripts append the id) */
void sf_keys_dlq_entry_prefix(const char *prefix, char *out, size_t out_size);

/* "P:{wf}:<what>:<run_id>" with what = "run", "steps", "stepidx", "next" */
void sf_keys_wf_run(const char *prefix, const char *what, const char *run_id,
                    char *out, size_t out_size);

/* "P:{wf}:<what>" with what = "runs", "expire", or "run:" / "steps:" /
 * "stepidx:" / "next:" as the prefix a Lua script appends a run id to */
void sf_keys_wf(const char *prefix, const char *what, char *out,
                size_t out_size);

/* "P:{msg}:fc:" — fc_limit.lua appends "<what>:<key>" */
void sf_keys_fc_prefix(const char *prefix, char *out, size_t out_size);
/* "P:{msg}:fc:parked" */
void sf_keys_fc_parked(const char *prefix, char *out, size_t out_size);

/* "P:{stats}:workers" */
void sf_keys_stats_workers(const char *prefix, char *out, size_t out_size);
/* "P:{stats}:worker:<consumer>" */
void sf_keys_stats_worker(const char *prefix, const char *consumer, char *out,
                          size_t out_size);
/* "P:{stats}:min:<minute_ms>" (minute_ms: the minute's start, ms) */
void sf_keys_stats_minute(const char *prefix, int64_t minute_ms, char *out,
                          size_t out_size);

/* "P:signing-keys" */
void sf_keys_signing(const char *prefix, char *out, size_t out_size);

/* The version of the key layout this release reads and writes, kept in
 * P:layout (checked by every Redis link before it is up: rconn.h). */
#define SF_LAYOUT_VERSION 1

/* "P:layout" */
void sf_keys_layout(const char *prefix, char *out, size_t out_size);

#endif
