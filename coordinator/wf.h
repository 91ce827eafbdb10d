/* wf.h - workflow runs: what the coordinator keeps of them in Redis and
 * how publish requests of @upstash/workflow's serve() become step
 * deliveries.
 *
 * A run lives in the {wf} slot (keys.h):
 *   P:{wf}:run:<runId>  hash with plain fields (SF_WF_SCHEMA in "v"):
 *     v, workflowRunId, workflowUrl, state (RUN_STARTED|RUN_SUCCESS|
 *     RUN_FAILED|RUN_CANCELED), createdAt, completedAt (ms, when finished),
 *     label, callerIP, failureUrl, retries, retryDelay, flowControlKey,
 *     flowControlValue, response (the run's result, workflowRunResponse),
 *     dlqId (when it failed), histBytes (size of the steps list as a
 *     JSON array, minus 1: the inline/lazy decision), tpl (msgpack: the
 *     run's delivery template, see below)
 *   P:{wf}:steps:<runId>, P:{wf}:stepidx:<runId>, P:{wf}:next:<runId>
 *   P:{wf}:runs (every run by createdAt), P:{wf}:expire (deletion times)
 *
 * The template ("tpl") is the init message as published, without body:
 * settings (retries, retry delay, timeout, failure callback with its
 * settings and forwarded headers, label, flow control) and the headers
 * every delivery of the run carries (user headers forwarded with
 * Upstash-Forward-*, Upstash-Workflow-Sdk-Version, Upstash-Workflow-RunId,
 * Upstash-Workflow-Url, Upstash-Workflow-CreatedAt, Content-Type).  The
 * SDK sends those settings only with the init message (feature
 * "WF_TriggerOnConfig"); every later step message of the run gets them
 * from here.
 *
 * How publish requests are read (sf_wf_prepare), by their headers:
 *   init   Upstash-Workflow-Init: true + Upstash-Workflow-RunId: creates
 *          the run (a run id seen before answers deduplicated), records
 *          the initial payload as step 0 and delivers [step 0].  Without an
 *          Upstash-Failure-Callback the failure URL is the workflow URL.
 *          The failure callback always carries Upstash-Workflow-Is-Failure,
 *          Upstash-Workflow-Failure-Callback, Upstash-Workflow-RunId,
 *          Upstash-Workflow-Url, Upstash-Workflow-CreatedAt and the user
 *          headers, as serve() needs them.
 *   step   Upstash-Workflow-RunId, destination = the run's URL, body = one
 *          step JSON ({stepId, stepName, stepType, out, concurrent,
 *          targetStep?}): recorded once (a second step with the same
 *          stepId, or the same targetStep for plan steps, is answered with
 *          the first one's messageId and deduplicated: true), then
 *          delivered with the body the SDK expects: the JSON array of the
 *          run's steps up to and including this one, or an empty body
 *          (lazy fetch) when that is over STEPFLOW_WORKFLOW_INLINE_BYTES.
 *          A run that is not RUN_STARTED answers 400 (the SDK takes it as
 *          "the run was finished or cancelled").
 *   call   Upstash-Workflow-CallType: toCallback (context.call): an
 *          ordinary message to the called URL with its own retries; its
 *          Upstash-Callback report goes to the workflow URL with the run's
 *          settings and headers (minus Upstash-Workflow-Sdk-Version, which
 *          would make serve() read the report as a step list).
 *   other  everything else is an ordinary message.
 *
 * The worker drops any delivery whose workflow_run_id names a run that is
 * not RUN_STARTED (cancelled, finished or expired). */
#ifndef SF_COORD_WF_H
#define SF_COORD_WF_H

#include <stddef.h>
#include <stdint.h>

#include "coord.h"
#include "message.h"
#include "publish.h"

#define SF_WF_SCHEMA 1

#define SF_RUN_STARTED "RUN_STARTED"
#define SF_RUN_SUCCESS "RUN_SUCCESS"
#define SF_RUN_FAILED "RUN_FAILED"
#define SF_RUN_CANCELED "RUN_CANCELED"

/* Outcome of sf_wf_prepare for one request. */
typedef struct sf_wf_result {
    int http_status;   /* 0 = prepared: go on and enqueue; else answer it */
    char error[256];   /* the message for a 4xx/5xx */
} sf_wf_result;

typedef void sf_wf_prepared_fn(sf_coord *c, const sf_wf_result *r,
                               void *arg);

/* What sf_wf_prepare decided for each message. */
typedef enum sf_wf_fate {
    SF_WF_ENQUEUE = 0,  /* store it (rewritten when it is a workflow one) */
    SF_WF_DUP_RUN,      /* init of a run that exists: store nothing; its id
                           is now the first init's messageId */
    SF_WF_DUP_STEP,     /* step recorded before: id and dedup id are the
                           first one's, so storing it again is a no-op while
                           the dedup id lives (covers a crash between
                           recording and storing) */
} sf_wf_fate;

/* Rewrites the workflow messages among "msgs[0..n)" in place (body,
 * settings, headers; "wf[i]" is what the request said about workflows),
 * writes each message's fate to "fate[i]" and calls "done" exactly once,
 * possibly before returning, when all are ready to enqueue or with the
 * HTTP status to answer.  Every array must stay valid until then. */
void sf_wf_prepare(sf_coord *c, sf_message **msgs, const sf_publish_wf *wf,
                   sf_wf_fate *fate, size_t n, sf_wf_prepared_fn *done,
                   void *arg);

/* 1 when "m" (with "wf") is handled by sf_wf_prepare at all. */
int sf_wf_is_workflow(const sf_message *m, const sf_publish_wf *wf);

/* A new run from a failed one, for the DLQ's resume and restart. */
typedef struct sf_wf_rerun_opts {
    const char *old_run_id;
    const char *failed_msg_id; /* resume: the DLQ entry's messageId (the
                                  steps up to it are kept); NULL = restart
                                  from the initial payload */
    int retries;               /* -1 = the old run's */
    const char *fc_key;        /* NULL = the old run's flow control */
    const char *fc_value;      /* "parallelism=.., rate=.., period=.." */
} sf_wf_rerun_opts;

/* "status" 0 on success with the new run's id and creation time, else the
 * HTTP status (404: the old run's steps are gone) and a message. */
typedef void sf_wf_rerun_fn(sf_coord *c, int status, const char *run_id,
                            int64_t created_ms, const char *error, void *arg);

void sf_wf_rerun(sf_coord *c, const sf_wf_rerun_opts *o, sf_wf_rerun_fn *done,
                 void *arg);

#endif
