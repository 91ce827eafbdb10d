/* api.h - the route handlers of the coordinator's API (see http.h for the
 * handler contract: answer the request exactly once).
 *
 * publish_api.c: publish and batch.  dlq_api.c: listing, reading and
 * deleting DLQ entries.  dlq_actions.c: retrying a DLQ message and
 * retrying or cancelling a failure callback.  wf_runs.c: ending,
 * cancelling and reading workflow runs.  wf_logs.c: the runs' logs.
 * wf_dlq.c: resuming and restarting failed runs from the DLQ. */
#ifndef SF_COORD_API_H
#define SF_COORD_API_H

#include "http.h"

/* GET /metrics: Prometheus text exposition, no auth (metrics_api.c) */
void sf_api_metrics(sf_coord *c, struct evhttp_request *req, const char *tail);
/* GET /v2/stats: queues, DLQ counts by state, workers, per-minute figures
 * (stats_api.c; a stepflow extension the dashboard and the CLI read) */
void sf_api_stats(sf_coord *c, struct evhttp_request *req, const char *tail);
/* GET / and GET /ui/{asset}: the dashboard's embedded static files, no auth
 * (the page asks for the API token; ui.c) */
void sf_api_ui(sf_coord *c, struct evhttp_request *req, const char *tail);

/* POST /v2/publish/{destination} */
void sf_api_publish(sf_coord *c, struct evhttp_request *req, const char *tail);
/* POST /v2/batch */
void sf_api_batch(sf_coord *c, struct evhttp_request *req, const char *tail);
/* POST /v2/trigger/{url}: starts a workflow run (publish_api.c). */
void sf_api_trigger(sf_coord *c, struct evhttp_request *req, const char *tail);

/* GET /v2/dlq, GET /v2/workflows/dlq */
void sf_api_dlq_list(sf_coord *c, struct evhttp_request *req, const char *tail);
/* DELETE /v2/dlq, DELETE /v2/workflows/dlq (dlqIds, filter or all) */
void sf_api_dlq_delete_many(sf_coord *c, struct evhttp_request *req,
                            const char *tail);
/* GET /v2/dlq/{dlqId}, GET /v2/workflows/dlq/{dlqId} */
void sf_api_dlq_get(sf_coord *c, struct evhttp_request *req, const char *tail);
/* DELETE /v2/dlq/{dlqId}, DELETE /v2/workflows/dlq/{dlqId} */
void sf_api_dlq_delete(sf_coord *c, struct evhttp_request *req,
                       const char *tail);
/* POST /v2/dlq/retry/{dlqId} */
void sf_api_dlq_retry_one(sf_coord *c, struct evhttp_request *req,
                          const char *tail);
/* POST /v2/dlq/retry (dlqIds, filter or all) */
void sf_api_dlq_retry_many(sf_coord *c, struct evhttp_request *req,
                           const char *tail);
/* POST /v2/workflows/dlq/callback/{dlqId} */
void sf_api_cb_retry(sf_coord *c, struct evhttp_request *req, const char *tail);
/* DELETE /v2/workflows/dlq/callback/{dlqId} */
void sf_api_cb_cancel(sf_coord *c, struct evhttp_request *req,
                      const char *tail);

/* DELETE /v2/workflows/runs/{runId}?cancel=false|true: the run's end
 * (body = its result) or its cancellation (wf_runs.c) */
void sf_api_wf_run_delete(sf_coord *c, struct evhttp_request *req,
                          const char *tail);
/* DELETE /v2/workflows/runs (workflowRunIds, filter or all): cancel */
void sf_api_wf_runs_cancel(sf_coord *c, struct evhttp_request *req,
                           const char *tail);
/* GET /v2/workflows/runs/{runId}: the recorded steps (lazy fetch) */
void sf_api_wf_run_steps(sf_coord *c, struct evhttp_request *req,
                         const char *tail);
/* GET /v2/workflows/events?groupBy=workflowRunId: the logs (wf_logs.c) */
void sf_api_wf_logs(sf_coord *c, struct evhttp_request *req, const char *tail);
/* POST /v2/workflows/dlq/resume|restart[/{dlqId}] (wf_dlq.c) */
void sf_api_wf_dlq_resume(sf_coord *c, struct evhttp_request *req,
                          const char *tail);
void sf_api_wf_dlq_restart(sf_coord *c, struct evhttp_request *req,
                           const char *tail);
void sf_api_wf_dlq_resume_one(sf_coord *c, struct evhttp_request *req,
                              const char *tail);
void sf_api_wf_dlq_restart_one(sf_coord *c, struct evhttp_request *req,
                               const char *tail);

/* GET /v2/flowControl/{key} (fc_api.c) */
void sf_api_flow_control_get(sf_coord *c, struct evhttp_request *req,
                             const char *tail);
/* GET /v2/keys, POST /v2/keys/rotate (keys_api.c) */
void sf_api_keys_get(sf_coord *c, struct evhttp_request *req,
                     const char *tail);
void sf_api_keys_rotate(sf_coord *c, struct evhttp_request *req,
                        const char *tail);
/* Seeds P:signing-keys from the configuration (HSETNX; on every connect). */
void sf_keys_api_seed(sf_coord *c);

#endif
