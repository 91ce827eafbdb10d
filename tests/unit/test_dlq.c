/* test_dlq.c - callback state names, the field view, filter matching. */
#include <string.h>

#include "dlq.h"
#include "harness.h"

/* An entry with a callback in CALLBACK_FAIL, as HGETALL would give it. */
static const char *fields[] = {
    "v", "dlqId", "messageId", "url", "method", "label", "callerIP",
    "workflowRunId", "workflowUrl", "reason", "failureCallback", "createdAt",
    "dlqAt", "workflowCreatedAt", "responseStatus", "callbackState", "m",
};
static const char *values[] = {
    "1", "dlq_1", "msg_1", "https://a.example/x", "POST", "billing",
    "10.0.0.7", "wfr_9", "https://wf.example/run", "retries exhausted",
    "https://cb.example/fail", "1000", "5000", "900", "500", "CALLBACK_FAIL",
    "\x81\xa1v\x01",
};
#define N_FIELDS (sizeof(fields) / sizeof(fields[0]))

static void test_state_names(void) {
    CHECK_STR(sf_cb_state_name(SF_CB_NONE), "NONE");
    CHECK_STR(sf_cb_state_name(SF_CB_INPROGRESS), "CALLBACK_INPROGRESS");
    CHECK_STR(sf_cb_state_name(SF_CB_SUCCESS), "CALLBACK_SUCCESS");
    CHECK_STR(sf_cb_state_name(SF_CB_FAIL), "CALLBACK_FAIL");
    CHECK_STR(sf_cb_state_name(SF_CB_CANCELED), "CALLBACK_CANCELED");
    CHECK_STR(sf_cb_state_name((sf_cb_state)77), "NONE");
    sf_cb_state s = SF_CB_NONE;
    for (int i = SF_CB_NONE; i <= SF_CB_CANCELED; i++) {
        CHECK_INT(sf_cb_state_parse(sf_cb_state_name((sf_cb_state)i), &s), SF_OK);
        CHECK_INT(s, i);
    }
    CHECK_INT(sf_cb_state_parse("CALLBACK_fail", &s), SF_INVALID);
    CHECK_INT(sf_cb_state_parse("", &s), SF_INVALID);
    CHECK_INT(sf_cb_state_parse(NULL, &s), SF_INVALID);
}

static void test_view_from_fields(void) {
    sf_dlq_view v;
    sf_dlq_view_from_fields(&v, fields, values, N_FIELDS);
    CHECK_STR(v.dlq_id, "dlq_1");
    CHECK_STR(v.message_id, "msg_1");
    CHECK_STR(v.url, "https://a.example/x");
    CHECK_STR(v.method, "POST");
    CHECK_STR(v.label, "billing");
    CHECK_STR(v.caller_ip, "10.0.0.7");
    CHECK_STR(v.workflow_run_id, "wfr_9");
    CHECK_STR(v.workflow_url, "https://wf.example/run");
    CHECK_STR(v.reason, "retries exhausted");
    CHECK_STR(v.failure_callback, "https://cb.example/fail");
    CHECK_INT(v.created_ms, 1000);
    CHECK_INT(v.dlq_ms, 5000);
    CHECK_INT(v.workflow_created_ms, 900);
    CHECK_INT(v.response_status, 500);
    CHECK_INT(v.cb_state, SF_CB_FAIL);

    /* Absent fields are NULL / 0; junk numbers and states read as 0 / NONE. */
    const char *f2[] = {"dlqId", "dlqAt", "callbackState", "responseStatus"};
    const char *v2[] = {"dlq_2", "12x", "WHATEVER", "-5"};
    sf_dlq_view_from_fields(&v, f2, v2, 4);
    CHECK_STR(v.dlq_id, "dlq_2");
    CHECK(v.url == NULL && v.label == NULL && v.message_id == NULL);
    CHECK_INT(v.dlq_ms, 0);
    CHECK_INT(v.cb_state, SF_CB_NONE);
    CHECK_INT(v.response_status, 0);
    sf_dlq_view_from_fields(&v, NULL, NULL, 0);
    CHECK(v.dlq_id == NULL);
}

static void test_filter_empty_matches_all(void) {
    sf_dlq_filter f;
    sf_dlq_view v;
    memset(&f, 0, sizeof(f));
    sf_dlq_view_from_fields(&v, fields, values, N_FIELDS);
    CHECK(sf_dlq_filter_match(&f, &v));
    memset(&v, 0, sizeof(v));
    CHECK(sf_dlq_filter_match(&f, &v));
}

static void test_filter_states(void) {
    sf_dlq_filter f;
    sf_dlq_view v;
    memset(&f, 0, sizeof(f));
    sf_dlq_view_from_fields(&v, fields, values, N_FIELDS);
    f.states[0] = "CALLBACK_SUCCESS";
    f.n_states = 1;
    CHECK(!sf_dlq_filter_match(&f, &v));
    f.states[1] = "CALLBACK_FAIL"; /* OR within a dimension */
    f.n_states = 2;
    CHECK(sf_dlq_filter_match(&f, &v));

    /* "NONE" matches an entry without a callback, and only that. */
    sf_dlq_view none = v;
    none.cb_state = SF_CB_NONE;
    none.failure_callback = NULL;
    f.states[0] = "NONE";
    f.n_states = 1;
    CHECK(sf_dlq_filter_match(&f, &none));
    CHECK(!sf_dlq_filter_match(&f, &v));
    f.states[0] = "CALLBACK_INPROGRESS";
    CHECK(!sf_dlq_filter_match(&f, &none));
}

static void test_filter_dimensions_and(void) {
    sf_dlq_filter f;
    sf_dlq_view v;
    memset(&f, 0, sizeof(f));
    sf_dlq_view_from_fields(&v, fields, values, N_FIELDS);

    f.urls[0] = "https://a.example/x";
    f.n_urls = 1;
    CHECK(sf_dlq_filter_match(&f, &v));
    f.urls[0] = "https://a.example/"; /* exact, not prefix */
    CHECK(!sf_dlq_filter_match(&f, &v));
    f.urls[1] = "https://a.example/x";
    f.n_urls = 2;
    CHECK(sf_dlq_filter_match(&f, &v));

    f.labels[0] = "billing";
    f.n_labels = 1;
    CHECK(sf_dlq_filter_match(&f, &v));
    f.labels[0] = "other"; /* AND across dimensions */
    CHECK(!sf_dlq_filter_match(&f, &v));
    f.labels[0] = "billing";

    f.wf_urls[0] = "https://wf.example/run";
    f.n_wf_urls = 1;
    f.wf_runs[0] = "wfr_9";
    f.n_wf_runs = 1;
    f.message_ids[0] = "msg_1";
    f.n_message_ids = 1;
    f.caller_ips[0] = "10.0.0.7";
    f.n_caller_ips = 1;
    f.wf_created_ms = 900;
    f.response_status = 500;
    CHECK(sf_dlq_filter_match(&f, &v));

    f.caller_ips[0] = "10.0.0.8";
    CHECK(!sf_dlq_filter_match(&f, &v));
    f.caller_ips[0] = "10.0.0.7";
    f.wf_created_ms = 901;
    CHECK(!sf_dlq_filter_match(&f, &v));
    f.wf_created_ms = 900;
    f.response_status = 404;
    CHECK(!sf_dlq_filter_match(&f, &v));
    f.response_status = 0;
    f.wf_runs[0] = "wfr_8";
    CHECK(!sf_dlq_filter_match(&f, &v));
    f.wf_runs[0] = "wfr_9";
    CHECK(sf_dlq_filter_match(&f, &v));

    /* A constrained dimension never matches an entry without that field. */
    sf_dlq_view bare = v;
    bare.label = NULL;
    CHECK(!sf_dlq_filter_match(&f, &bare));
}

static void test_filter_comma_labels(void) {
    sf_dlq_filter f;
    sf_dlq_view v;
    memset(&f, 0, sizeof(f));
    memset(&v, 0, sizeof(v));
    v.label = "billing, eu,prod";
    f.n_labels = 1;
    f.labels[0] = "eu";
    CHECK(sf_dlq_filter_match(&f, &v));
    f.labels[0] = "prod";
    CHECK(sf_dlq_filter_match(&f, &v));
    f.labels[0] = "bill"; /* an element, not a substring */
    CHECK(!sf_dlq_filter_match(&f, &v));
    f.labels[1] = "billing";
    f.n_labels = 2;
    CHECK(sf_dlq_filter_match(&f, &v));
    v.label = NULL;
    CHECK(!sf_dlq_filter_match(&f, &v));
}

static void test_filter_dates(void) {
    sf_dlq_filter f;
    sf_dlq_view v;
    memset(&f, 0, sizeof(f));
    sf_dlq_view_from_fields(&v, fields, values, N_FIELDS); /* dlqAt 5000 */
    f.from_ms = 5000;
    CHECK(sf_dlq_filter_match(&f, &v)); /* inclusive */
    f.from_ms = 5001;
    CHECK(!sf_dlq_filter_match(&f, &v));
    f.from_ms = 0;
    f.to_ms = 5000;
    CHECK(sf_dlq_filter_match(&f, &v));
    f.to_ms = 4999;
    CHECK(!sf_dlq_filter_match(&f, &v));
    f.from_ms = 4000;
    f.to_ms = 6000;
    CHECK(sf_dlq_filter_match(&f, &v));
    /* createdAt does not count, only dlqAt */
    f.from_ms = 900;
    f.to_ms = 1000;
    CHECK(!sf_dlq_filter_match(&f, &v));
}

/* source=workflow and flowControlKey (field, or filled from the envelope
 * by the scan). */
static void test_filter_workflow_and_fc(void) {
    sf_dlq_filter f;
    sf_dlq_view v;
    memset(&f, 0, sizeof(f));
    sf_dlq_view_from_fields(&v, fields, values, N_FIELDS);
    f.workflow_only = 1;
    CHECK(sf_dlq_filter_match(&f, &v));
    sf_dlq_view plain = v;
    plain.workflow_run_id = NULL;
    CHECK(!sf_dlq_filter_match(&f, &plain));
    plain.workflow_run_id = "";
    CHECK(!sf_dlq_filter_match(&f, &plain));

    memset(&f, 0, sizeof(f));
    f.fc_keys[0] = "k1";
    f.n_fc_keys = 1;
    CHECK(!sf_dlq_filter_match(&f, &v));
    const char *ff[] = {"flowControlKey"}, *fv[] = {"k1"};
    sf_dlq_view_from_fields(&v, ff, fv, 1);
    CHECK_STR(v.flow_control_key, "k1");
    CHECK(sf_dlq_filter_match(&f, &v));
    f.fc_keys[0] = "k2";
    CHECK(!sf_dlq_filter_match(&f, &v));
}

TEST_MAIN(T(test_state_names), T(test_filter_comma_labels), T(test_view_from_fields),
          T(test_filter_empty_matches_all), T(test_filter_states),
          T(test_filter_dimensions_and), T(test_filter_dates),
          T(test_filter_workflow_and_fc))
