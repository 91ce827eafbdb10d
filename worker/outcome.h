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
 *              cb_result.lua after each attempt;
 *   report     queue_callback.lua (Upstash-Callback): after the final
 *              outcome, the entry leaves the stream and the report message
 *              built from the message's callback template enters it;
 *   workflow   HGET of the run's state before delivering a message of a
 *              run; wf_next.lua / HDEL of the step's entry in the run's
 *              next hash (logs API); wf_fail.lua when a step of the run
 *              failed for good; LINDEX of the run's initial payload for the
 *              failure callback of a step whose body is fetched lazily.
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
 * own, dlq_id = "dlq_id", cb_gen = 1.  The body's sourceBody is
 * "source_b64" when given, else the base64 of m's body: for a workflow
 * step the caller passes the run's initial payload (sf_wf_source_b64(),
 * or the run's first step), which a workflow's failure function reads as
 * context.requestPayload.  A workflow message adds workflowRunId,
 * workflowCreatedAt and workflowUrl.  NULL if "m" has no callback. */
sf_message *sf_callback_job_new(const sf_message *m, const char *dlq_id,
                                const sf_http_response *res,
                                const char *source_b64, int64_t now_ms);

/* dlq_add.lua for message "m" (whose stream envelope bytes are "env",
 * "env_len") that failed for good with "res" for "reason".  Adds the
 * callback job too when the message has one ("source_b64" as in
 * sf_callback_job_new).  "dlq_id_out" (>= 80 bytes) receives the entry's
 * id. */
void sf_outcome_dlq_cmd(sf_cmd *c, const char *prefix, const sf_message *m,
                        const void *env, size_t env_len,
                        const sf_http_response *res, const char *reason,
                        const char *source_b64, int64_t now_ms,
                        char *dlq_id_out);

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

/* ---- Upstash-Callback reports -------------------------------------- */

/* The report of message "m"'s final outcome, from m->callback_tpl: the
 * template's settings with a fresh "msg_" id, created_ms = "now_ms",
 * retried 0, kind SF_KIND_MESSAGE, Content-Type application/json unless
 * the template has one, and the JSON body
 * {"status","header","body"(base64),"retried","maxRetries",
 *  "sourceMessageId","url","method","sourceHeader","sourceBody"(base64),
 *  "notBefore","createdAt","callerIP"} of the last response "res" (NULL or
 * status 0 = no response) after "retried" retries.  NULL with "err" when m
 * has no template or it does not decode.  Caller frees. */
sf_message *sf_report_new(const sf_message *m, const sf_http_response *res,
                          int retried, int64_t now_ms, sf_err *err);

/* queue_callback.lua on queue "k": removes entry "entry_id" and queues
 * the report of "m" (sf_report_new).  "report_id_out" (>= 48 bytes) gets
 * its id.  SF_ERR with "err" (and "c" left empty) when there is no
 * report to build. */
sf_status sf_outcome_report_cmd(sf_cmd *c, const sf_queue_keys *k,
                                const char *entry_id, const sf_message *m,
                                const sf_http_response *res, int retried,
                                int64_t now_ms, char *report_id_out,
                                sf_err *err);

/* ---- workflow runs -------------------------------------------------- */

/* 1 when "m" is a delivery of a workflow run to the run's own endpoint
 * (workflow_run_id set and url == workflow_url): a step, as opposed to a
 * context.call request to another URL. */
int sf_wf_is_step(const sf_message *m);

/* The "body" string (base64) of one steps-list item, the JSON text
 * [json, json+len): {"messageId","body","callType",...}.  NULL when it is
 * not such an item.  Caller frees. */
char *sf_wf_item_body(const char *json, size_t len);

/* For a message of a workflow run whose body is the JSON array of the
 * run's steps: item 0's body, i.e. the base64 of the run's initial
 * payload.  NULL for anything else (empty body = lazy fetch, not a run,
 * not a step list).  Caller frees. */
char *sf_wf_source_b64(const sf_message *m);

/* HGET P:{wf}:run:<run_id> state */
void sf_outcome_run_state_cmd(sf_cmd *c, const char *prefix,
                              const char *run_id);

/* LINDEX P:{wf}:steps:<run_id> 0   (the initial payload's item) */
void sf_outcome_wf_initial_cmd(sf_cmd *c, const char *prefix,
                               const char *run_id);

/* The error JSON of one failed attempt for the next hash:
 * {"error": transport error or "HTTP <status>", "body": response body
 *  (at most SF_WF_ERROR_BODY bytes), "headers": {..}, "status": n,
 *  "time": now_ms}.  "res" NULL = no response.  Caller frees. */
#define SF_WF_ERROR_BODY 1024
char *sf_wf_step_error_json(const sf_http_response *res, int64_t now_ms);

/* wf_next.lua: m's entry in P:{wf}:next:<run> becomes "state"
 * (STEP_RETRY or STEP_FAILED) with the attempt's error appended. */
void sf_outcome_wf_next_cmd(sf_cmd *c, const char *prefix, const sf_message *m,
                            const char *state, const sf_http_response *res,
                            int64_t now_ms);

/* HDEL P:{wf}:next:<run> <msgId>  (delivered or dropped) */
void sf_outcome_wf_next_del_cmd(sf_cmd *c, const char *prefix,
                                const sf_message *m);

/* wf_fail.lua: run "run_id" RUN_STARTED -> RUN_FAILED with "dlq_id". */
void sf_outcome_wf_fail_cmd(sf_cmd *c, const char *prefix, const char *run_id,
                            const char *dlq_id, int64_t now_ms);

#endif
