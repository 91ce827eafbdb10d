/* test_wf_query.c - the runs API's filter: parsing and matching. */
#include <event2/http.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "wf_query.h"

/* Parses "qs" into "q" (kept in "kv", which the caller clears). */
static sf_status parse(const char *qs, struct evkeyvalq *kv, sf_wf_query *q,
                       int url_prefix, sf_err *err) {
    TAILQ_INIT(kv);
    if (evhttp_parse_query_str(qs, kv) != 0) return SF_ERR;
    return sf_wf_query_parse(q, kv, url_prefix, 10, 100, err);
}

static sf_wf_run_view run(void) {
    return (sf_wf_run_view){.run_id = "wfr_1", .url = "https://a.example:8443/app/x?y=1",
                            .state = "RUN_STARTED", .label = "red, blue",
                            .caller_ip = "10.0.0.1", .fc_key = "k", .created_ms = 2000,
                            .retries = 3};
}

static void test_parse(void) {
    struct evkeyvalq kv;
    sf_wf_query q;
    sf_err err = {{0}};
    CHECK_INT(parse("workflowRunIds=a&workflowRunIds=b&count=500&cursor=12-wfr-x-y"
                    "&fromDate=5&toDate=9&workflowCreatedAt=7&messageId=msg_1",
                    &kv, &q, 1, &err), SF_OK);
    CHECK_INT(q.n_run_ids, 2);
    CHECK_STR(q.run_ids[1], "b");
    CHECK_INT(q.count, 100);
    CHECK_INT(q.has_cursor, 1);
    CHECK_INT(q.cursor_ms, 12);
    CHECK_STR(q.cursor_id, "wfr-x-y");
    CHECK_INT(q.from_ms, 5);
    CHECK_INT(q.to_ms, 9);
    CHECK_INT(q.created_ms, 7);
    CHECK_STR(q.message_id, "msg_1");
    CHECK_INT(q.url_prefix, 1);
    sf_wf_query_cleanup(&q);
    evhttp_clear_headers(&kv);

    CHECK_INT(parse("workflowUrl=u&workflowUrlExactMatch=true", &kv, &q, 1, &err), SF_OK);
    CHECK_INT(q.url_prefix, 0);
    CHECK_INT(q.count, 10);
    CHECK(q.run_ids == NULL);
    sf_wf_query_cleanup(&q);
    evhttp_clear_headers(&kv);

    static const char *const bad[] = {"count=0", "count=x", "fromDate=-1", "toDate=soon",
                                      "cursor=nodash", "cursor=x-1", "cursor=5-",
                                      "workflowUrlExactMatch=yes",
                                      "label=1&label=2&label=3&label=4&label=5&label=6"
                                      "&label=7&label=8&label=9"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err.msg[0] = '\0';
        CHECK_INT(parse(bad[i], &kv, &q, 0, &err), SF_INVALID);
        CHECK(err.msg[0] != '\0');
        evhttp_clear_headers(&kv);
    }
}

static void test_match_urls(void) {
    sf_wf_query q;
    memset(&q, 0, sizeof(q));
    sf_wf_run_view v = run();
    CHECK(sf_wf_query_match(&q, &v));
    q.urls.v[0] = "https://a.example:8443/app";
    q.urls.n = 1;
    CHECK(!sf_wf_query_match(&q, &v)); /* exact */
    q.url_prefix = 1;
    CHECK(sf_wf_query_match(&q, &v));
    q.url_prefix = 0;
    q.url_prefixes.v[0] = "https://a.example";
    q.url_prefixes.n = 1;
    CHECK(sf_wf_query_match(&q, &v)); /* OR across the two url forms */
    q.urls.n = 0;
    q.url_prefixes.v[0] = "https://b.example";
    CHECK(!sf_wf_query_match(&q, &v));
    v.url = NULL;
    CHECK(!sf_wf_query_match(&q, &v));
}

static void test_match_dimensions(void) {
    sf_wf_query q;
    memset(&q, 0, sizeof(q));
    sf_wf_run_view v = run();
    q.labels.v[0] = "blue";
    q.labels.n = 1;
    CHECK(sf_wf_query_match(&q, &v));
    q.labels.v[0] = "blu";
    CHECK(!sf_wf_query_match(&q, &v));
    q.labels.v[1] = "red";
    q.labels.n = 2;
    CHECK(sf_wf_query_match(&q, &v));
    q.states.v[0] = "RUN_SUCCESS";
    q.states.n = 1;
    CHECK(!sf_wf_query_match(&q, &v));
    q.states.v[0] = "RUN_STARTED";
    q.caller_ips.v[0] = "10.0.0.1";
    q.caller_ips.n = 1;
    q.fc_keys.v[0] = "k";
    q.fc_keys.n = 1;
    CHECK(sf_wf_query_match(&q, &v));
    q.fc_keys.v[0] = "other";
    CHECK(!sf_wf_query_match(&q, &v));
    q.fc_keys.n = 0;
    q.from_ms = 2000, q.to_ms = 2000, q.created_ms = 2000;
    CHECK(sf_wf_query_match(&q, &v));
    q.from_ms = 2001;
    CHECK(!sf_wf_query_match(&q, &v));
    q.from_ms = 0, q.to_ms = 1999;
    CHECK(!sf_wf_query_match(&q, &v));
    q.to_ms = 0, q.created_ms = 1;
    CHECK(!sf_wf_query_match(&q, &v));
}

static void test_host_path(void) {
    const char *h, *p;
    size_t hl, pl;
    CHECK_INT(sf_wf_url_parts("https://a.example:8443/app/x?y=1", &h, &hl, &p, &pl), 0);
    CHECK(hl == 14 && strncmp(h, "a.example:8443", 14) == 0);
    CHECK(pl == 6 && strncmp(p, "/app/x", 6) == 0);
    CHECK_INT(sf_wf_url_parts("http://b.example", &h, &hl, &p, &pl), 0);
    CHECK(hl == 9 && pl == 1 && p[0] == '/');
    CHECK_INT(sf_wf_url_parts("no-scheme/x", &h, &hl, &p, &pl), -1);

    sf_wf_query q;
    memset(&q, 0, sizeof(q));
    sf_wf_run_view v = run();
    q.hosts.v[0] = "a.example"; /* without the port matches too */
    q.hosts.n = 1;
    CHECK(sf_wf_query_match(&q, &v));
    q.hosts.v[0] = "a.example:8443";
    CHECK(sf_wf_query_match(&q, &v));
    q.hosts.v[0] = "a.exampl";
    CHECK(!sf_wf_query_match(&q, &v));
    q.hosts.v[0] = "a.example";
    q.paths.v[0] = "/app/x";
    q.paths.n = 1;
    CHECK(sf_wf_query_match(&q, &v));
    q.paths.v[0] = "/app";
    CHECK(!sf_wf_query_match(&q, &v));
}

TEST_MAIN(T(test_parse), T(test_match_urls), T(test_match_dimensions), T(test_host_path))
