/* wf_query.h - which workflow runs a request means: the filter query of
 * the runs API (bulk cancel, logs) and matching one run against it.
 *
 * Query parameters (repeatable ones are ORed, different ones ANDed):
 *   workflowRunIds / workflowRunId  the runs named directly (no scan)
 *   workflowUrl (repeatable)        exact, or a prefix when the endpoint
 *                                   says so (cancel: unless
 *                                   workflowUrlExactMatch=true)
 *   workflowUrlStartingWith         always a prefix
 *   state, label (an element of the run's comma list), callerIp,
 *   flowControlKey, host, path (of the workflow URL)  (repeatable)
 *   workflowCreatedAt, fromDate, toDate (ms, on the run's creation time)
 *   messageId                       a delivery of the run (checked by the
 *                                   scan, wf_scan.h, not here)
 *   count, cursor
 * Unknown parameters are ignored, as the DLQ API does.
 *
 * Pure: no I/O.  The filter's strings point into the parsed query (the
 * caller keeps it alive); sf_wf_query_cleanup() frees the id array. */
#ifndef SF_COORD_WF_QUERY_H
#define SF_COORD_WF_QUERY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <event2/keyvalq_struct.h>

#include "err.h"

#define SF_WF_FILTER_MAX_VALUES 8
#define SF_WF_MAX_RUN_IDS 1000

/* The plain fields of one run hash (borrowed strings; absent = NULL/0). */
typedef struct sf_wf_run_view {
    const char *run_id, *url, *state, *label, *caller_ip, *fc_key;
    const char *dlq_id, *retry_delay;
    int64_t created_ms, completed_ms;
    int retries;              /* -1 when the run does not say */
} sf_wf_run_view;

/* One dimension: 0..SF_WF_FILTER_MAX_VALUES values, 0 = no constraint. */
typedef struct sf_wf_values {
    const char *v[SF_WF_FILTER_MAX_VALUES];
    size_t n;
} sf_wf_values;

typedef struct sf_wf_query {
    const char **run_ids;     /* owned array (strings borrowed); NULL = scan */
    size_t n_run_ids;
    sf_wf_values urls;        /* workflowUrl */
    int url_prefix;           /* urls are prefixes */
    sf_wf_values url_prefixes; /* workflowUrlStartingWith */
    sf_wf_values states, labels, caller_ips, fc_keys, hosts, paths;
    int64_t created_ms;       /* workflowCreatedAt, 0 = any */
    int64_t from_ms, to_ms;   /* on createdAt, inclusive; 0 = open */
    const char *message_id;   /* NULL = any */
    size_t count;             /* runs wanted */
    int has_cursor;
    int64_t cursor_ms;        /* cursor "<createdAt>-<runId>": the last */
    const char *cursor_id;    /* run returned (borrowed) */
} sf_wf_query;

/* Fills "out" from the parsed query "q".  "url_prefix" is the default
 * meaning of workflowUrl (1 = prefix); "default_count" and "max_count"
 * bound count.  Returns SF_OK, or SF_INVALID with the message for a 400 in
 * "err" ("out" then needs no cleanup). */
sf_status sf_wf_query_parse(sf_wf_query *out, const struct evkeyvalq *q,
                            int url_prefix, size_t default_count,
                            size_t max_count, sf_err *err);
void sf_wf_query_cleanup(sf_wf_query *f);

/* 1 if the run "v" matches every constrained dimension of "f" (the run ids
 * and messageId are not checked here). */
int sf_wf_query_match(const sf_wf_query *f, const sf_wf_run_view *v);

/* The host ("example.com:8080") and path ("/a/b", "/" when empty) of "url"
 * as [ptr, len] slices of it; 0, or -1 when it has no "scheme://". */
int sf_wf_url_parts(const char *url, const char **host, size_t *host_len,
                    const char **path, size_t *path_len);

#endif
