/* test_publish.c - the pure publish request → message rules
 * (coordinator/publish.c). */
#include "harness.h"

#include <stdlib.h>

/* publish.c is part of the coordinator binary, not of sfcommon: compile it
 * into this test directly. */
#include "publish.h"
#include "message.h"

#define NOW 1700000000000LL

/* Parses with "hs" as headers; returns the status and fills m/due/err. */
static sf_status parse(const char *dest, const sf_kv *hs, size_t n,
                       const char *body, sf_message **m, int64_t *due,
                       sf_err *err) {
    sf_publish_input in = {
        .destination = dest, .headers = hs, .n_headers = n, .body = body,
        .body_len = body ? strlen(body) : 0, .caller_ip = "10.0.0.7",
        .now_ms = NOW, .max_timeout_ms = 15 * 60 * 1000,
    };
    memset(err, 0, sizeof(*err));
    return sf_publish_parse(&in, m, due, err);
}

/* Expects a 400 whose reason contains "needle". */
static void expect_invalid(const char *dest, const char *name, const char *value,
                           const char *needle) {
    sf_kv h[] = {{name, value}};
    sf_message *m = NULL;
    int64_t due;
    sf_err err;
    sf_status st = parse(dest, h, name ? 1 : 0, NULL, &m, &due, &err);
    CHECK_INT(st, SF_INVALID);
    CHECK(m == NULL);
    if (!strstr(err.msg, needle)) {
        fprintf(stderr, "  reason \"%s\" lacks \"%s\"\n", err.msg, needle);
        CHECK(0);
    }
}

static void test_defaults(void) {
    sf_message *m = NULL;
    int64_t due = -1;
    sf_err err;
    CHECK_INT(parse("http://127.0.0.1:9000/hook?x=1", NULL, 0, "hi", &m, &due, &err),
              SF_OK);
    if (!m) return;
    CHECK_STR(m->url, "http://127.0.0.1:9000/hook?x=1");
    CHECK_STR(m->method, "POST");
    CHECK_INT(m->max_retries, 3);
    CHECK_INT(m->cb_max_retries, -1);
    CHECK(m->retry_delay == NULL);
    CHECK_INT(m->timeout_ms, 0);
    CHECK_INT(m->created_ms, NOW);
    CHECK_INT(m->not_before_ms, 0);
    CHECK_INT(due, 0);
    CHECK_STR(m->caller_ip, "10.0.0.7");
    CHECK(m->id && strncmp(m->id, "msg_", 4) == 0 && strlen(m->id) == 36);
    CHECK_INT(m->body_len, 2);
    CHECK(m->body && memcmp(m->body, "hi", 2) == 0);
    CHECK_INT(m->headers.len, 0);
    CHECK(m->dedup_id == NULL && m->failure_callback == NULL);
    sf_message_free(m);
}

static void test_forwarding(void) {
    sf_kv h[] = {
        {"Upstash-Forward-X-Trace", "abc"},
        {"upstash-forward-authorization", "Bearer t"},
        {"Content-Type", "application/json"},
        {"Authorization", "Bearer coordinator-token"},
        {"X-Other", "not forwarded"},
        {"Upstash-Method", "put"},
        {"Upstash-Label", "billing"},
        {"Upstash-Forward-", "empty name dropped"},
    };
    sf_message *m = NULL;
    int64_t due;
    sf_err err;
    CHECK_INT(parse("https://example.com/a", h, 8, "{}", &m, &due, &err), SF_OK);
    if (!m) return;
    CHECK_INT(m->headers.len, 3);
    CHECK_STR(sf_headers_get(&m->headers, "X-Trace"), "abc");
    CHECK_STR(sf_headers_get(&m->headers, "authorization"), "Bearer t");
    CHECK_STR(sf_headers_get(&m->headers, "Content-Type"), "application/json");
    CHECK(sf_headers_get(&m->headers, "X-Other") == NULL);
    CHECK_STR(m->method, "PUT");
    CHECK_STR(m->label, "billing");
    sf_message_free(m);
}

static void test_settings(void) {
    sf_kv h[] = {
        {"Upstash-Retries", "5"},
        {"Upstash-Retry-Delay", "1000 * pow(2, retried)"},
        {"Upstash-Timeout", "30s"},
        {"Upstash-Delay", "10s"},
        {"Upstash-Deduplication-Id", "abc-1"},
    };
    sf_message *m = NULL;
    int64_t due;
    sf_err err;
    CHECK_INT(parse("http://h/", h, 5, NULL, &m, &due, &err), SF_OK);
    if (!m) return;
    CHECK_INT(m->max_retries, 5);
    CHECK_STR(m->retry_delay, "1000 * pow(2, retried)");
    CHECK_INT(m->timeout_ms, 30000);
    CHECK_INT(due, NOW + 10000);
    CHECK_INT(m->not_before_ms, NOW + 10000);
    CHECK_STR(m->dedup_id, "abc-1");
    sf_message_free(m);

    /* Not-Before later than the delay wins; a bare timeout is seconds. */
    sf_kv h2[] = {{"Upstash-Delay", "1s"}, {"Upstash-Not-Before", "1700000100"},
                  {"Upstash-Timeout", "7"}};
    CHECK_INT(parse("http://h/", h2, 3, NULL, &m, &due, &err), SF_OK);
    if (!m) return;
    CHECK_INT(due, 1700000100000LL);
    CHECK_INT(m->timeout_ms, 7000);
    sf_message_free(m);

    /* A not-before in the past: due now. */
    sf_kv h3[] = {{"Upstash-Not-Before", "1600000000"}};
    CHECK_INT(parse("http://h/", h3, 1, NULL, &m, &due, &err), SF_OK);
    CHECK_INT(due, 0);
    sf_message_free(m);
}

static void test_content_dedup(void) {
    sf_kv h[] = {{"Upstash-Content-Based-Deduplication", "true"}};
    sf_message *a = NULL, *b = NULL, *c = NULL;
    int64_t due;
    sf_err err;
    parse("http://h/x", h, 1, "body", &a, &due, &err);
    parse("http://h/x", h, 1, "body", &b, &due, &err);
    parse("http://h/x", h, 1, "other", &c, &due, &err);
    CHECK(a && b && c);
    if (a && b && c) {
        CHECK(a->dedup_id && strlen(a->dedup_id) == 64);
        CHECK_STR(a->dedup_id, b->dedup_id);
        CHECK(strcmp(a->dedup_id, c->dedup_id) != 0);
        CHECK(strcmp(a->id, b->id) != 0);
    }
    sf_message_free(a), sf_message_free(b), sf_message_free(c);
}

static void test_callback_settings(void) {
    sf_kv h[] = {
        {"Upstash-Failure-Callback", "http://127.0.0.1:9001/cb"},
        {"Upstash-Failure-Callback-Retries", "2"},
        {"Upstash-Failure-Callback-Retry-Delay", "500"},
        {"Upstash-Failure-Callback-Timeout", "5s"},
        {"Upstash-Failure-Callback-Method", "put"},
        {"Upstash-Failure-Callback-Forward-X-Cb", "yes"},
        {"Upstash-Forward-X-Msg", "m"},
    };
    sf_message *m = NULL;
    int64_t due;
    sf_err err;
    CHECK_INT(parse("http://h/", h, 7, NULL, &m, &due, &err), SF_OK);
    if (!m) return;
    CHECK_STR(m->failure_callback, "http://127.0.0.1:9001/cb");
    CHECK_INT(m->cb_max_retries, 2);
    CHECK_STR(m->cb_retry_delay, "500");
    CHECK_INT(m->cb_timeout_ms, 5000);
    CHECK_STR(m->cb_method, "PUT");
    CHECK_INT(m->cb_headers.len, 1);
    CHECK_STR(sf_headers_get(&m->cb_headers, "X-Cb"), "yes");
    CHECK_INT(m->headers.len, 1);
    CHECK_STR(sf_headers_get(&m->headers, "X-Msg"), "m");
    sf_message_free(m);
}

static void test_destinations(void) {
    CHECK(sf_publish_url_ok("http://a"));
    CHECK(sf_publish_url_ok("https://user:pw@a.b:8443/p?q#f"));
    CHECK(sf_publish_url_ok("http://[::1]:80/"));
    CHECK(!sf_publish_url_ok("ftp://a/"));
    CHECK(!sf_publish_url_ok("http://"));
    CHECK(!sf_publish_url_ok("http:///path"));
    CHECK(!sf_publish_url_ok("http://:80/"));
    CHECK(!sf_publish_url_ok("http://a:x/"));
    CHECK(!sf_publish_url_ok("http://a b/"));
    CHECK(!sf_publish_url_ok("example.com"));
    char *d = sf_publish_destination("http%3A%2F%2F127.0.0.1%3A9000%2Fhook%3Fx%3D1");
    CHECK_STR(d, "http://127.0.0.1:9000/hook?x=1");
    free(d);
    d = sf_publish_destination("http://a/b%20c");
    CHECK_STR(d, "http://a/b%20c");
    free(d);
    CHECK(sf_publish_destination("http%3A%2F%2Fa%2") == NULL);
    CHECK(sf_publish_destination("http%3A%2F%2Fa%00") == NULL);

    sf_message *m = NULL;
    int64_t due;
    sf_err err;
    CHECK_INT(parse("https%3A%2F%2Fexample.com%2Fx", NULL, 0, NULL, &m, &due, &err),
              SF_OK);
    if (m) CHECK_STR(m->url, "https://example.com/x");
    sf_message_free(m);
}

static void test_rejections(void) {
    expect_invalid("not-a-url", NULL, NULL, "invalid destination");
    expect_invalid("ftp://h/", NULL, NULL, "invalid destination");
    expect_invalid("http://", NULL, NULL, "invalid destination");
    expect_invalid("http://h/", "Upstash-Retries", "abc", "Upstash-Retries");
    expect_invalid("http://h/", "Upstash-Retries", "-1", "Upstash-Retries");
    expect_invalid("http://h/", "Upstash-Retries", "101", "Upstash-Retries");
    expect_invalid("http://h/", "Upstash-Retry-Delay", "1000 * ", "Upstash-Retry-Delay");
    expect_invalid("http://h/", "Upstash-Retry-Delay", "1000 * foo(2)", "position");
    expect_invalid("http://h/", "Upstash-Delay", "10 parsecs", "Upstash-Delay");
    expect_invalid("http://h/", "Upstash-Delay", "-5s", "Upstash-Delay");
    expect_invalid("http://h/", "Upstash-Delay", "400d", "more than a year");
    expect_invalid("http://h/", "Upstash-Not-Before", "tomorrow", "Upstash-Not-Before");
    expect_invalid("http://h/", "Upstash-Not-Before", "1.5", "Upstash-Not-Before");
    expect_invalid("http://h/", "Upstash-Timeout", "forever", "Upstash-Timeout");
    expect_invalid("http://h/", "Upstash-Timeout", "1h", "Upstash-Timeout");
    expect_invalid("http://h/", "Upstash-Method", "BREW", "Upstash-Method");
    expect_invalid("http://h/", "Upstash-Failure-Callback", "not a url",
                   "invalid failure callback");
    expect_invalid("http://h/", "Upstash-Failure-Callback-Retries", "x",
                   "Upstash-Failure-Callback-Retries");
    expect_invalid("http://h/", "Upstash-Failure-Callback-Retry-Delay", "((",
                   "position");
    expect_invalid("http://h/", "Upstash-Failure-Callback-Method", "NOPE",
                   "Upstash-Failure-Callback-Method");
    expect_invalid("http://h/", "Upstash-Deduplication-Id", "", "Deduplication");
}

/* Upstash-Callback: the report template carries the callback's own
 * settings and forwarded headers; settings without a URL are dropped. */
static void test_report_callback(void) {
    sf_kv h[] = {
        {"Upstash-Callback", "http://wf.local/app"},
        {"Upstash-Callback-Retries", "5"},
        {"Upstash-Callback-Forward-Upstash-Workflow-StepId", "3"},
        {"Upstash-Callback-Workflow-RunId", "wfr_x"},
        {"Upstash-Workflow-CallType", "toCallback"},
        {"Upstash-Retries", "0"},
    };
    sf_message *m = NULL;
    int64_t due;
    sf_err err;
    sf_publish_wf wf;
    sf_publish_input in = {
        .destination = "http://api.local/x", .headers = h, .n_headers = 6,
        .caller_ip = "10.0.0.7", .now_ms = NOW, .max_timeout_ms = 60000,
        .wf_out = &wf,
    };
    CHECK_INT(sf_publish_parse(&in, &m, &due, &err), SF_OK);
    CHECK_INT(m->max_retries, 0);
    CHECK_STR(wf.call_type, "toCallback");
    CHECK(m->callback_tpl != NULL && m->callback_tpl_len > 0);
    sf_message *t = sf_message_decode(m->callback_tpl, m->callback_tpl_len, &err);
    CHECK(t != NULL);
    if (t) {
        CHECK_STR(t->url, "http://wf.local/app");
        CHECK_STR(t->method, "POST");
        CHECK_INT(t->max_retries, 5);
        CHECK_STR(t->workflow_run_id, "wfr_x");
        CHECK_STR(sf_headers_get(&t->headers, "Upstash-Workflow-StepId"), "3");
    }
    sf_message_free(t);
    sf_message_free(m);

    /* a callback's own callback settings are ignored (and not leaked: the
     * sanitizer build checks) */
    sf_kv nested[] = {{"Upstash-Callback", "http://wf.local/app"},
                      {"Upstash-Callback-Callback-Retries", "2"},
                      {"Upstash-Callback-Callback-Callback", "http://x.local/"}};
    CHECK_INT(parse("http://h/", nested, 3, NULL, &m, &due, &err), SF_OK);
    CHECK(m->callback_tpl != NULL);
    sf_message_free(m);

    sf_kv lone[] = {{"Upstash-Callback-Retries", "5"}};
    CHECK_INT(parse("http://h/", lone, 1, NULL, &m, &due, &err), SF_OK);
    CHECK(m->callback_tpl == NULL);
    sf_message_free(m);
    expect_invalid("http://h/", "Upstash-Callback", "nope", "invalid callback");
}

/* Upstash-Flow-Control-Key/-Value as the SDKs write them. */
static void test_flow_control(void) {
    sf_kv h[] = {{"Upstash-Flow-Control-Key", "tenant-1"},
                 {"Upstash-Flow-Control-Value", "parallelism=2, rate=10, period=5s"}};
    sf_message *m = NULL;
    int64_t due;
    sf_err err;
    CHECK_INT(parse("http://h/", h, 2, NULL, &m, &due, &err), SF_OK);
    CHECK_STR(m->fc_key, "tenant-1");
    CHECK_INT(m->fc_parallelism, 2);
    CHECK_INT(m->fc_rate, 10);
    CHECK_INT(m->fc_period_ms, 5000);
    sf_message_free(m);
    sf_kv r[] = {{"Upstash-Flow-Control-Key", "k"},
                 {"Upstash-Flow-Control-Value", "rate=3"}};
    CHECK_INT(parse("http://h/", r, 2, NULL, &m, &due, &err), SF_OK);
    CHECK_INT(m->fc_parallelism, 0);
    CHECK_INT(m->fc_rate, 3);
    CHECK_INT(m->fc_period_ms, 1000);
    sf_message_free(m);
    expect_invalid("http://h/", "Upstash-Flow-Control-Value", "parallelism=0",
                   "parallelism");
    expect_invalid("http://h/", "Upstash-Flow-Control-Value", "speed=3",
                   "unknown setting");
    expect_invalid("http://h/", "Upstash-Flow-Control-Value", "period=1s",
                   "at least one");
    expect_invalid("http://h/", "Upstash-Flow-Control-Key", "", "Flow-Control-Key");
    expect_invalid("http://h/", "Upstash-Flow-Control-Key", "k", "needs an");
}

TEST_MAIN(T(test_defaults), T(test_forwarding), T(test_settings),
          T(test_content_dedup), T(test_callback_settings), T(test_destinations),
          T(test_rejections), T(test_report_callback),
          T(test_flow_control))
