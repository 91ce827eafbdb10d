/* dlq_scan.h - finds the DLQ entries a list/delete/retry request means.
 *
 * Parses the request's filter query (failureFunctionState, url, label,
 * workflowUrl, workflowRunId, workflowCreatedAt, messageId, callerIp,
 * flowControlKey, responseStatus, fromDate, toDate; repeatable = OR;
 * source=workflow: entries of workflow runs only; workflowUrlExactMatch
 * is accepted, workflowUrl always matches exactly), dlqIds, cursor and
 * count.  With dlqIds it reads those entries.  Otherwise it reads the most
 * selective index zset (one state, else one workflowRunId, url,
 * workflowUrl or label, else idx:all) newest first with zscan.h, fetches
 * the candidates with pipelined HGETALLs and checks the rest of the filter
 * with sf_dlq_filter_match, until "count" entries matched or 1000 were
 * looked at.  The cursor is "<dlqAt>-<dlqId>" of the last entry looked at,
 * "" when the index is exhausted.
 *
 * Runs on the coordinator's event_base with its command connection.
 * "match" is called once per matching entry, in index order, with the
 * HGETALL fields (valid during the call only); then "done" exactly once.
 * The scan frees itself after "done" returns. */
#ifndef SF_COORD_DLQ_SCAN_H
#define SF_COORD_DLQ_SCAN_H

#include <event2/http.h>
#include <stddef.h>
#include "coord.h"
#include "zscan.h"

#define SF_SCAN_DEFAULT_COUNT 50
#define SF_SCAN_MAX_COUNT 100

typedef struct sf_dlq_scan sf_dlq_scan;

typedef void sf_scan_match_fn(void *arg, const char **fields,
                              const size_t *flen, const char **values,
                              const size_t *vlen, size_t n);
typedef sf_zscan_done_fn sf_scan_done_fn;

/* Parses the query of "req"; on a bad one answers 400 and returns NULL.
 * "default_count" applies when count is absent. */
sf_dlq_scan *sf_dlq_scan_new_or_400(sf_coord *c, struct evhttp_request *req,
                                    size_t default_count);

/* Narrows the scan to entries of workflow runs (as source=workflow). */
void sf_dlq_scan_workflow_only(sf_dlq_scan *s);

/* Starts the scan.  Returns SF_AGAIN (and frees "s", calling nothing) when
 * Redis is down. */
sf_status sf_dlq_scan_start(sf_dlq_scan *s, sf_scan_match_fn *match,
                            sf_scan_done_fn *done, void *arg);

/* Frees a scan that was never started; NULL is a no-op. */
void sf_dlq_scan_free(sf_dlq_scan *s);

#endif
