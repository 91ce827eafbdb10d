/* dlq_json.h - one DLQ entry hash → the SDK's DlqMessage JSON.
 *
 * Pure: works on the field/value strings of a HGETALL reply.  The shape is
 * what @upstash/qstash's dlq.listMessages() and @upstash/workflow's
 * Client.dlq.list() read (dlqId, messageId, url, method, header, body,
 * maxRetries, notBefore, createdAt, callerIP, label, workflow fields,
 * responseStatus/Header/Body, failureCallback, failureCallbackInfo,
 * retryDelayExpression) plus stepflow's reason, attempts and dlqAt.
 * Non-UTF-8 bodies are given as bodyBase64 / responseBodyBase64. */
#ifndef SF_COORD_DLQ_JSON_H
#define SF_COORD_DLQ_JSON_H

#include <jansson.h>
#include <stddef.h>

/* Returns a new JSON object (caller decrefs) for the "n" field/value pairs
 * (lengths in flen/vlen: values may be binary). Never NULL except on
 * allocation failure; a missing or undecodable envelope leaves out the
 * fields that come from it. */
json_t *sf_dlq_entry_json(const char **fields, const size_t *flen,
                          const char **values, const size_t *vlen, size_t n);

#endif
