/* dlq.h - the DLQ entry as stored in Redis, its callback states, and the
 * list filter.  Pure: parsing a HGETALL field list and matching a filter
 * need no sockets.
 *
 * A DLQ entry is a Redis hash P:{dlq}:entry:<dlqId> with plain fields so an
 * operator can read it with HGETALL (SF_DLQ_SCHEMA in field "v"; bump it
 * when a field changes meaning):
 *   v, dlqId, messageId, url, method, createdAt (ms), dlqAt (ms), label,
 *   callerIP, workflowRunId, workflowUrl, workflowCreatedAt (ms),
 *   reason            why it is here ("retries exhausted", "non-retryable
 *                     error (489)", "malformed stream entry: ...")
 *   responseStatus, responseHeader (JSON {name: [values]}), responseBody
 *                     the last attempt's response (body size-bounded)
 *   attempts          JSON [{at, status, latencyMs, error}] oldest first
 *   maxRetries, notBefore, retryDelay
 *   failureCallback   callback URL (absent: no callback)
 *   callbackState     CALLBACK_INPROGRESS|SUCCESS|FAIL|CANCELED
 *   callbackGen       generation of the live callback job (int)
 *   callbackMessageId id of the callback job
 *   callbackRetried   attempts used by the current callback run
 *   callbackResponseStatus, callbackResponseHeader (JSON),
 *   callbackResponseBody, callbackUpdatedAt (ms): the current run's last
 *                     attempt (a manual retry clears the response)
 *   callbackErrors    JSON [{error, body, headers, status, time}]: the
 *                     current run's failed attempts, the last 10
 *   m                 msgpack envelope of the original message
 *   cbm               msgpack envelope of the callback job (retried = 0)
 *   raw               for malformed entries: the stream fields as JSON */
#ifndef SF_DLQ_H
#define SF_DLQ_H

#include <stddef.h>
#include <stdint.h>
#include "err.h"

typedef struct json_t json_t;

#define SF_DLQ_SCHEMA 1

typedef enum sf_cb_state {
    SF_CB_NONE = 0, /* no failure callback */
    SF_CB_INPROGRESS,
    SF_CB_SUCCESS,
    SF_CB_FAIL,
    SF_CB_CANCELED,
} sf_cb_state;

/* "CALLBACK_INPROGRESS", ... ; "NONE" for SF_CB_NONE. */
const char *sf_cb_state_name(sf_cb_state s);
/* Parses a state name; returns SF_INVALID for an unknown one. */
sf_status sf_cb_state_parse(const char *name, sf_cb_state *out);

/* A borrowed view of one entry's plain fields (pointers into the caller's
 * HGETALL reply; valid while it lives).  Absent fields are NULL / 0. */
typedef struct sf_dlq_view {
    const char *dlq_id, *message_id, *url, *method, *label, *caller_ip;
    const char *workflow_run_id, *workflow_url, *reason, *failure_callback;
    const char *flow_control_key; /* field flowControlKey; the DLQ scan
                                     fills it from the envelope otherwise */
    int64_t created_ms, dlq_ms, workflow_created_ms;
    int response_status;
    sf_cb_state cb_state;
} sf_dlq_view;

/* Fills "v" from "n" field/value pairs (fields[i], values[i]). */
void sf_dlq_view_from_fields(sf_dlq_view *v, const char **fields,
                             const char **values, size_t n);

#define SF_FILTER_MAX_VALUES 8
/* One list filter: each dimension holds 0..8 values (OR within a
 * dimension, AND across dimensions); 0 values = no constraint. */
typedef struct sf_dlq_filter {
    const char *states[SF_FILTER_MAX_VALUES];   size_t n_states;
    const char *urls[SF_FILTER_MAX_VALUES];     size_t n_urls;
    const char *labels[SF_FILTER_MAX_VALUES];   size_t n_labels;
    const char *wf_urls[SF_FILTER_MAX_VALUES];  size_t n_wf_urls;
    const char *wf_runs[SF_FILTER_MAX_VALUES];  size_t n_wf_runs;
    const char *message_ids[SF_FILTER_MAX_VALUES]; size_t n_message_ids;
    const char *caller_ips[SF_FILTER_MAX_VALUES];  size_t n_caller_ips;
    const char *fc_keys[SF_FILTER_MAX_VALUES];     size_t n_fc_keys;
    int workflow_only;      /* 1 = entries of workflow runs only */
    int64_t wf_created_ms;  /* 0 = any */
    int64_t response_status; /* 0 = any */
    int64_t from_ms;        /* dlqAt >= from_ms (0 = any) */
    int64_t to_ms;          /* dlqAt <= to_ms (0 = any) */
} sf_dlq_filter;

/* 1 if the entry matches every dimension of the filter.  A state filter
 * value "NONE" matches entries without a callback. */
int sf_dlq_filter_match(const sf_dlq_filter *f, const sf_dlq_view *v);

/* The list-filter pieces the runs API's filter (coordinator/wf_query.c)
 * shares with this one. */

/* 1 if "n" is 0 (no constraint) or "value" equals one of "wanted". */
int sf_filter_one_of(const char *const *wanted, size_t n, const char *value);
/* 1 if "n" is 0 or one of "wanted" is an element of the comma-separated
 * "list" (labels are stored as "a,b"; spaces around an element are
 * ignored). */
int sf_filter_one_of_list(const char *const *wanted, size_t n, const char *list);
/* Reads a list cursor "<score>-<id>" (coordinator/zscan.h writes it):
 * "*id" points into "v".  Returns 0, or -1 when "v" is not one. */
int sf_filter_parse_cursor(const char *v, int64_t *score, const char **id);

/* Sets "label" (the first label) and "labels" (all of them) on the JSON
 * object "o" from a stored comma-separated label "[label, label+len)", as
 * the SDKs' DLQ messages and run logs carry them.  Blank items are
 * skipped; nothing is set when no label is left. */
void sf_labels_json_set(json_t *o, const char *label, size_t len);

#endif
