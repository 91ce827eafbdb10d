/* outcome.h - what a finished delivery attempt writes to Redis.
 *
 * Builds the commands (sf_cmd) for each outcome of an attempt; worker.c
 * decides when to send them and keeps them until Redis confirmed:
 *   retry      queue_retry.lua: take the entry off the stream and park the
 *              updated envelope in the delayed set, atomically;
 *   fail       dlq_add.lua: the DLQ entry (dlq.h fields) and, when the
 *              message has a failure callback, the callback job on
 *              P:{dlq}:cb:stream, atomically and idempotently (the dlqId is
 *              derived from the message id);
 *   callback   HMGET of the entry's callback state before delivering, and
 *              cb_result.lua after each attempt.
 * Acks of delivered entries are batched by worker.c, not built here.
 *
 * Pure: no sockets.  Every returned string is malloc'd (caller frees);
 * commands own copies of their arguments. */
#ifndef SF_OUTCOME_H
#define SF_OUTCOME_H

#include <stddef.h>
#include <stdint.h>
#include "cmd.h"
#include "http.h"
#include "keys.h"
#include "message.h"

#define SF_RAW_VALUE_LIMIT 256 /* bytes of each field kept in a `raw` dump */

/* Writes the DLQ id of message "msg_id" into "out": "dlq_" + the hex part
 * of "msg_<hex>" (any other id: "dlq_" + the id with characters outside
 * [A-Za-z0-9_-] replaced by '_').  Deterministic so a redo is idempotent. */
void sf_dlq_id_for(const char *msg_id, char *out, size_t out_size);

/* JSON {"Name": ["value", ...], ...} of "h" (values grouped by name). */
char *sf_headers_json(const sf_headers *h);

/* JSON [{"at":ms,"status":n,"latencyMs":n,"error":"..."}] of m's history. */
char *sf_attempts_json(const sf_message *m);

/* The failure-callback job for message "m" that failed for good with the
 * last response "res" (status 0 = no response), as PROTOCOL.md describes
 * it: kind SF_KIND_CALLBACK, a fresh id, the callback URL/method/headers,
 * the JSON body, retry settings inherited unless the callback has its
 * own, dlq_id = "dlq_id", cb_gen = 1.  NULL if "m" has no callback. */
sf_message *sf_callback_job_new(const sf_message *m, const char *dlq_id,
                                const sf_http_response *res, int64_t now_ms);

/* dlq_add.lua for message "m" (whose stream envelope bytes are "env",
 * "env_len") that failed for good with "res" for "reason".  Adds the
 * callback job too when the message has one.  "dlq_id_out" (>= 80 bytes)
 * receives the entry's id. */
void sf_outcome_dlq_cmd(sf_cmd *c, const char *prefix, const sf_message *m,
                        const void *env, size_t env_len,
                        const sf_http_response *res, const char *reason,
                        int64_t now_ms, char *dlq_id_out);

/* dlq_add.lua for a stream entry that cannot be delivered: "why" says
 * what is wrong, "fields"/"lens" are its "n" raw field/value items (dumped
 * as JSON in `raw`), "msg_id"/"url" are what is known (may be NULL).  The
 * id is derived from "queue_tag" ("msg"/"cb") and the stream entry id. */
void sf_outcome_malformed_cmd(sf_cmd *c, const char *prefix,
                              const char *queue_tag, const char *entry_id,
                              const char **fields, const size_t *lens, size_t n,
                              const char *msg_id, const char *url,
                              const char *why, int64_t now_ms);

/* queue_retry.lua on queue "k" for entry "entry_id": park "env" (the
 * updated envelope of "msg_id") until "due_ms". */
void sf_outcome_retry_cmd(sf_cmd *c, const sf_queue_keys *k,
                          const char *entry_id, const char *msg_id,
                          int64_t due_ms, const void *env, size_t env_len);

/* HMGET P:{dlq}:entry:<dlq_id> callbackState callbackGen */
void sf_outcome_cb_check_cmd(sf_cmd *c, const char *prefix, const char *dlq_id);

/* cb_result.lua for callback job "job" after an attempt with "res";
 * "outcome" is "success", "retry" or "fail"; "retried" is the number of
 * attempts used by this callback run so far. */
void sf_outcome_cb_result_cmd(sf_cmd *c, const char *prefix,
                              const sf_message *job, const char *outcome,
                              const sf_http_response *res, int retried,
                              int64_t now_ms);

#endif
