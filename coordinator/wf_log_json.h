/* wf_log_json.h - one workflow run as the SDK's WorkflowRunLog JSON
 * (@upstash/workflow 1.3.3 index.d.mts: WorkflowRunLog, StepLogGroup,
 * StepLog, FailureFunctionLog), for GET /v2/workflows/events.
 *
 * steps: the initial payload as {stepName "init", stepType "Initial"};
 * each recorded result step in a {"type":"sequential"} group, or, for
 * consecutive results with concurrent > 1, together in a
 * {"type":"parallel"} group of up to "concurrent" steps; plan steps
 * (stepId 0 with a targetStep) and items that are not callType "step" are
 * not shown; while the run is RUN_STARTED or RUN_FAILED, the states of
 * its deliveries in flight (P:{wf}:next) form a last {"type":"next"}
 * group, oldest first.
 *
 * Pure: works on strings the caller holds (Redis replies). */
#ifndef SF_COORD_WF_LOG_JSON_H
#define SF_COORD_WF_LOG_JSON_H

#include <jansson.h>
#include <stddef.h>

#include "wf_query.h"

/* The FailureFunctionLog of a run from its DLQ entry's HGETALL fields
 * (lengths in flen/vlen), or NULL when the entry has no failure callback.
 * Caller decrefs. */
json_t *sf_wf_failure_json(const char **fields, const size_t *flen,
                           const char **values, const size_t *vlen, size_t n);

/* The WorkflowRunLog of the run "run" with its "response" (NULL = none),
 * its step list items and its next-state values (JSON strings, lengths
 * given), and "failure" (stolen; NULL = none).  Returns a new object or
 * NULL on allocation failure. */
json_t *sf_wf_run_log_json(const sf_wf_run_view *run, const char *response,
                           size_t response_len, const char *const *items,
                           const size_t *item_lens, size_t n_items,
                           const char *const *next, const size_t *next_lens,
                           size_t n_next, json_t *failure);

#endif
