/* wf_scan.h - finds the workflow runs a runs-API request means (bulk
 * cancel, logs).
 *
 * Parses the request's query (wf_query.h).  With run ids it reads those
 * runs.  Otherwise it reads P:{wf}:runs (runId -> createdAt) newest first
 * with zscan.h within fromDate/toDate and after the cursor.  Each
 * candidate's plain fields come from a pipelined HMGET (with a messageId
 * filter, two HEXISTS on its step index and its next states come first:
 * zscan gates) and are matched with
 * sf_wf_query_match, until "count" runs matched, "max_looked" candidates
 * were looked at (0 = no limit), or the runs are exhausted.  The cursor is
 * "<createdAt>-<runId>" of the last candidate looked at, "" at the end.
 *
 * Runs on the coordinator's event_base with its command connection.
 * "match" is called once per matching run, in order, with the run's
 * fields (valid during the call only); then "done" exactly once.  The scan
 * frees itself after "done" returns. */
#ifndef SF_COORD_WF_SCAN_H
#define SF_COORD_WF_SCAN_H

#include <event2/http.h>
#include <stddef.h>

#include "coord.h"
#include "wf_query.h"
#include "zscan.h"

typedef struct sf_wf_scan sf_wf_scan;

typedef void sf_wf_scan_match_fn(void *arg, const sf_wf_run_view *v);
typedef sf_zscan_done_fn sf_wf_scan_done_fn;

/* Parses the query of "req" (see sf_wf_query_parse for "url_prefix",
 * "default_count", "max_count"); on a bad one answers 400 and returns
 * NULL. */
sf_wf_scan *sf_wf_scan_new_or_400(sf_coord *c, struct evhttp_request *req,
                                  int url_prefix, size_t default_count,
                                  size_t max_count, size_t max_looked);

/* The parsed query, for the handler to read or narrow before the start
 * (e.g. cancel matches RUN_STARTED runs only). */
sf_wf_query *sf_wf_scan_query(sf_wf_scan *s);

/* Starts the scan.  Returns SF_AGAIN (and frees "s", calling nothing) when
 * Redis is down. */
sf_status sf_wf_scan_start(sf_wf_scan *s, sf_wf_scan_match_fn *match,
                           sf_wf_scan_done_fn *done, void *arg);

/* Frees a scan that was never started; NULL is a no-op. */
void sf_wf_scan_free(sf_wf_scan *s);

#endif
