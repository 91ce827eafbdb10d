/* test_message.c - the envelope codec: round trips, and no crash or
 * acceptance on truncated, garbage, wrongly typed or newer input. */
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "message.h"

static sf_message *full_message(void) {
    sf_message *m = sf_message_new();
    static const unsigned char body[] = {'{', '"', 'a', '"', ':', 0, 0xff, '}'};
    m->kind = SF_KIND_CALLBACK;
    m->id = strdup("msg_0123456789abcdef");
    m->url = strdup("https://example.com/hook?x=1");
    m->method = strdup("PUT");
    sf_headers_add(&m->headers, "Content-Type", "application/json");
    sf_headers_add(&m->headers, "X-Empty", "");
    m->body = malloc(sizeof(body));
    memcpy(m->body, body, sizeof(body));
    m->body_len = sizeof(body);
    m->max_retries = 7;
    m->retried = 2;
    m->retry_delay = strdup("pow(2, retried) * 1000");
    m->timeout_ms = 12345;
    m->created_ms = 1764410000123LL;
    m->not_before_ms = 1764410999000LL;
    m->label = strdup("billing");
    m->caller_ip = strdup("192.0.2.1");
    m->dedup_id = strdup("dedup-1");
    m->failure_callback = strdup("https://example.com/fail");
    sf_headers_add(&m->cb_headers, "Authorization", "Bearer cb");
    m->cb_max_retries = 0;
    m->cb_retry_delay = strdup("1000");
    m->cb_timeout_ms = 5000;
    m->cb_method = strdup("PATCH");
    m->dlq_id = strdup("dlq_42");
    m->cb_gen = 3;
    m->workflow_run_id = strdup("wfr_abc");
    m->workflow_url = strdup("https://example.com/wf");
    m->workflow_created_ms = 1764400000000LL;
    sf_message_add_attempt(m, 1764410000200LL, 500, 12, NULL);
    sf_message_add_attempt(m, 1764410012200LL, 0, 30000, "timeout");
    return m;
}

static void check_same(const sf_message *a, const sf_message *b) {
    CHECK_INT(b->version, SF_MESSAGE_SCHEMA);
    CHECK_INT(a->kind, b->kind);
    CHECK_STR(a->id, b->id);
    CHECK_STR(a->url, b->url);
    CHECK_STR(a->method, b->method);
    CHECK_INT(a->headers.len, b->headers.len);
    for (size_t i = 0; i < a->headers.len && i < b->headers.len; i++) {
        CHECK_STR(a->headers.items[i].name, b->headers.items[i].name);
        CHECK_STR(a->headers.items[i].value, b->headers.items[i].value);
    }
    CHECK_INT(a->body_len, b->body_len);
    if (a->body_len == b->body_len && a->body_len)
        CHECK(memcmp(a->body, b->body, a->body_len) == 0);
    CHECK_INT(a->max_retries, b->max_retries);
    CHECK_INT(a->retried, b->retried);
    CHECK_STR(a->retry_delay, b->retry_delay);
    CHECK_INT(a->timeout_ms, b->timeout_ms);
    CHECK_INT(a->created_ms, b->created_ms);
    CHECK_INT(a->not_before_ms, b->not_before_ms);
    CHECK_STR(a->label, b->label);
    CHECK_STR(a->caller_ip, b->caller_ip);
    CHECK_STR(a->dedup_id, b->dedup_id);
    CHECK_STR(a->failure_callback, b->failure_callback);
    CHECK_INT(a->cb_headers.len, b->cb_headers.len);
    if (a->cb_headers.len && b->cb_headers.len)
        CHECK_STR(a->cb_headers.items[0].value, b->cb_headers.items[0].value);
    CHECK_INT(a->cb_max_retries, b->cb_max_retries);
    CHECK_STR(a->cb_retry_delay, b->cb_retry_delay);
    CHECK_INT(a->cb_timeout_ms, b->cb_timeout_ms);
    CHECK_STR(a->cb_method, b->cb_method);
    CHECK_STR(a->dlq_id, b->dlq_id);
    CHECK_INT(a->cb_gen, b->cb_gen);
    CHECK_STR(a->workflow_run_id, b->workflow_run_id);
    CHECK_STR(a->workflow_url, b->workflow_url);
    CHECK_INT(a->workflow_created_ms, b->workflow_created_ms);
    CHECK_INT(a->attempts_len, b->attempts_len);
    for (size_t i = 0; i < a->attempts_len && i < b->attempts_len; i++) {
        CHECK_INT(a->attempts[i].at_ms, b->attempts[i].at_ms);
        CHECK_INT(a->attempts[i].status, b->attempts[i].status);
        CHECK_INT(a->attempts[i].latency_ms, b->attempts[i].latency_ms);
        CHECK((a->attempts[i].error == NULL) == (b->attempts[i].error == NULL));
        if (a->attempts[i].error && b->attempts[i].error)
            CHECK_STR(a->attempts[i].error, b->attempts[i].error);
    }
}

static void test_roundtrip_full(void) {
    sf_message *m = full_message();
    sf_buf b;
    sf_err err = {{0}};
    sf_buf_init(&b);
    sf_message_encode(m, &b);
    sf_message *d = sf_message_decode(b.data, b.len, &err);
    CHECK(d != NULL);
    if (d) check_same(m, d);
    if (!d) fprintf(stderr, "  decode: %s\n", err.msg);

    /* dup is deep and equal */
    sf_message *c = sf_message_dup(m);
    check_same(m, c);
    CHECK(c->id != m->id && c->body != m->body);
    sf_message_free(c);

    /* re-encoding the decoded message gives the same bytes */
    sf_buf b2;
    sf_buf_init(&b2);
    if (d) sf_message_encode(d, &b2);
    CHECK_INT(b2.len, b.len);
    if (b2.len == b.len) CHECK(memcmp(b.data, b2.data, b.len) == 0);
    sf_buf_cleanup(&b2);
    sf_message_free(d);
    sf_message_free(m);
    sf_buf_cleanup(&b);
}

static void test_roundtrip_minimal(void) {
    sf_message m;
    sf_buf b;
    sf_err err = {{0}};
    sf_message_init(&m);
    m.id = strdup("msg_1");
    m.url = strdup("http://127.0.0.1:1/");
    sf_buf_init(&b);
    sf_message_encode(&m, &b);
    sf_message *d = sf_message_decode(b.data, b.len, &err);
    CHECK(d != NULL);
    if (d) {
        CHECK_STR(d->id, "msg_1");
        CHECK_STR(d->url, "http://127.0.0.1:1/");
        CHECK_STR(d->method, "POST"); /* the default when absent */
        CHECK_INT(d->kind, SF_KIND_MESSAGE);
        CHECK_INT(d->max_retries, 3);
        CHECK_INT(d->cb_max_retries, -1);
        CHECK(d->body == NULL && d->body_len == 0);
        CHECK(d->retry_delay == NULL && d->label == NULL &&
              d->failure_callback == NULL && d->dlq_id == NULL);
        CHECK_INT(d->headers.len, 0);
        CHECK_INT(d->attempts_len, 0);
    }
    /* absent optional fields are not written: v k id url r rd c only */
    CHECK_INT((unsigned char)b.data[0], 0x87);
    sf_message_free(d);
    sf_message_cleanup(&m);
    CHECK(m.id == NULL);
    sf_buf_cleanup(&b);
}

static void test_every_truncation_fails(void) {
    sf_message *m = full_message();
    sf_buf b;
    sf_buf_init(&b);
    sf_message_encode(m, &b);
    for (size_t len = 0; len < b.len; len++) {
        /* a private copy so ASan catches any read past "len" */
        char *p = malloc(len ? len : 1);
        memcpy(p, b.data, len);
        sf_err err = {{0}};
        sf_message *d = sf_message_decode(p, len, &err);
        CHECK(d == NULL);
        CHECK(err.msg[0] != '\0');
        sf_message_free(d);
        free(p);
    }
    sf_message_free(m);
    sf_buf_cleanup(&b);
}

static uint32_t rng_state = 0x12345678;
static uint32_t rng(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

static void test_garbage_never_crashes(void) {
    unsigned char buf[256];
    for (int round = 0; round < 20000; round++) {
        size_t len = rng() % sizeof(buf);
        for (size_t i = 0; i < len; i++) buf[i] = (unsigned char)rng();
        if (len && round % 2) buf[0] = 0x80 | (buf[0] & 0x0f); /* a map */
        unsigned char *p = malloc(len ? len : 1);
        memcpy(p, buf, len);
        sf_message *d = sf_message_decode(p, len, NULL);
        sf_message_free(d); /* whatever it is, it must be freeable */
        free(p);
    }
    CHECK(1);
}

static void test_bit_flips_never_crash(void) {
    sf_message *m = full_message();
    sf_buf b;
    sf_buf_init(&b);
    sf_message_encode(m, &b);
    unsigned char *p = malloc(b.len);
    int decoded = 0;
    for (size_t i = 0; i < b.len; i++) {
        for (int bit = 0; bit < 8; bit++) {
            memcpy(p, b.data, b.len);
            p[i] ^= (unsigned char)(1u << bit);
            sf_message *d = sf_message_decode(p, b.len, NULL);
            if (d) decoded++;
            sf_message_free(d);
        }
    }
    CHECK(decoded > 0); /* flips inside strings still decode */
    free(p);
    sf_message_free(m);
    sf_buf_cleanup(&b);
}

static int buf_write(void *data, const char *p, size_t len) {
    sf_buf_append(data, p, len);
    return 0;
}

static void pk_str(msgpack_packer *pk, const char *s) {
    msgpack_pack_str(pk, strlen(s));
    msgpack_pack_str_body(pk, s, strlen(s));
}

/* Builds {v: version, id: "msg_x", url: "http://x/", extra_key: <extra>}
 * where "extra" packs the value (NULL: no extra key). */
typedef void extra_fn(msgpack_packer *pk);
static void build(sf_buf *b, int64_t version, const char *extra_key,
                  extra_fn *extra) {
    msgpack_packer pk;
    sf_buf_init(b);
    msgpack_packer_init(&pk, b, buf_write);
    msgpack_pack_map(&pk, extra_key ? 4 : 3);
    pk_str(&pk, "v");
    msgpack_pack_int64(&pk, version);
    pk_str(&pk, "id");
    pk_str(&pk, "msg_x");
    pk_str(&pk, "url");
    pk_str(&pk, "http://x/");
    if (extra_key) {
        pk_str(&pk, extra_key);
        extra(&pk);
    }
}

static sf_message *decode_buf(sf_buf *b, sf_err *err) {
    sf_message *m = sf_message_decode(b->data, b->len, err);
    sf_buf_cleanup(b);
    return m;
}

static void x_str(msgpack_packer *pk) { pk_str(pk, "hello"); }
static void x_neg(msgpack_packer *pk) { msgpack_pack_int64(pk, -1); }
static void x_int(msgpack_packer *pk) { msgpack_pack_int64(pk, 5); }
static void x_float(msgpack_packer *pk) { msgpack_pack_double(pk, 1.5); }
static void x_nil(msgpack_packer *pk) { msgpack_pack_nil(pk); }
static void x_big(msgpack_packer *pk) { msgpack_pack_uint64(pk, 1ull << 40); }
static void x_map(msgpack_packer *pk) {
    msgpack_pack_map(pk, 1);
    pk_str(pk, "a");
    msgpack_pack_array(pk, 3);
    msgpack_pack_nil(pk);
    msgpack_pack_true(pk);
    msgpack_pack_double(pk, 2.0);
}
static void x_bad_header(msgpack_packer *pk) {
    msgpack_pack_array(pk, 1);
    msgpack_pack_array(pk, 2);
    pk_str(pk, "X-A");
    pk_str(pk, "a\r\nX-Injected: 1");
}
static void x_header_triple(msgpack_packer *pk) {
    msgpack_pack_array(pk, 1);
    msgpack_pack_array(pk, 3);
    pk_str(pk, "a");
    pk_str(pk, "b");
    pk_str(pk, "c");
}
static void x_str_nul(msgpack_packer *pk) {
    msgpack_pack_str(pk, 3);
    msgpack_pack_str_body(pk, "a\0b", 3);
}
static void x_crlf(msgpack_packer *pk) { pk_str(pk, "GET\r\nX: y"); }
static void x_bad_attempt(msgpack_packer *pk) {
    msgpack_pack_array(pk, 1);
    msgpack_pack_array(pk, 4);
    msgpack_pack_int64(pk, 1);
    msgpack_pack_int64(pk, 200);
    msgpack_pack_int64(pk, -3);
    msgpack_pack_nil(pk);
}

static void test_wrong_types_rejected(void) {
    static const struct { const char *key; extra_fn *fn; } bad[] = {
        {"r", x_str},   {"r", x_neg},     {"rd", x_neg},    {"r", x_float},
        {"r", x_big},   {"c", x_neg},     {"k", x_str},     {"id", x_int},
        {"url", x_nil}, {"b", x_str},     {"h", x_str},     {"h", x_bad_header},
        {"h", x_header_triple},           {"fch", x_map},   {"mt", x_int},
        {"at", x_bad_attempt},            {"at", x_map},    {"l", x_str_nul},
        {"k", x_big},   {"fcr", x_neg},   {"to", x_float},
        {"mt", x_crlf}, {"url", x_crlf},  {"fc", x_crlf},   {"fcm", x_crlf},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        sf_buf b;
        sf_err err = {{0}};
        build(&b, 1, bad[i].key, bad[i].fn);
        sf_message *m = decode_buf(&b, &err);
        if (m) fprintf(stderr, "  accepted bad case %zu (%s)\n", i, bad[i].key);
        CHECK(m == NULL);
        CHECK(err.msg[0] != '\0');
        sf_message_free(m);
    }
}

static void test_unknown_keys_skipped(void) {
    sf_buf b;
    sf_err err = {{0}};
    build(&b, 1, "zz_future", x_map);
    sf_message *m = decode_buf(&b, &err);
    CHECK(m != NULL);
    if (m) CHECK_STR(m->id, "msg_x");
    sf_message_free(m);
    build(&b, 1, "rdx", x_str); /* and a known one still works */
    m = decode_buf(&b, &err);
    CHECK(m != NULL);
    if (m) CHECK_STR(m->retry_delay, "hello");
    sf_message_free(m);
}

static void test_versions(void) {
    sf_buf b;
    sf_err err = {{0}};
    build(&b, SF_MESSAGE_SCHEMA + 1, NULL, NULL);
    sf_message *m = decode_buf(&b, &err);
    CHECK(m == NULL);
    CHECK(strstr(err.msg, "newer") != NULL);
    build(&b, 0, NULL, NULL);
    CHECK((m = decode_buf(&b, &err)) == NULL);
    build(&b, -1, NULL, NULL);
    CHECK((m = decode_buf(&b, &err)) == NULL);
    build(&b, SF_MESSAGE_SCHEMA, NULL, NULL);
    CHECK((m = decode_buf(&b, &err)) != NULL);
    sf_message_free(m);
}

static void test_structural_rejects(void) {
    sf_err err = {{0}};
    sf_message *m;
    /* not a map */
    CHECK((m = sf_message_decode("\x93\x01\x02\x03", 4, &err)) == NULL);
    CHECK((m = sf_message_decode("\xc0", 1, &err)) == NULL);
    CHECK((m = sf_message_decode("", 0, &err)) == NULL);
    CHECK((m = sf_message_decode(NULL, 0, &err)) == NULL);
    /* an array claiming 4 billion elements in 6 bytes */
    CHECK((m = sf_message_decode("\x81\xa1h\xdd\xff\xff\xff\xff", 8, &err)) ==
          NULL);
    /* a map32 claiming 4 billion pairs */
    CHECK((m = sf_message_decode("\xdf\xff\xff\xff\xff\x00", 6, &err)) == NULL);
    /* a str32 longer than the input */
    CHECK((m = sf_message_decode("\x81\xa1l\xdb\x7f\xff\xff\xff", 8, &err)) ==
          NULL);
    /* the reserved byte 0xc1 */
    CHECK((m = sf_message_decode("\x81\xa1l\xc1", 4, &err)) == NULL);
    /* deep nesting */
    unsigned char deep[2000];
    deep[0] = 0x81, deep[1] = 0xa1, deep[2] = 'z';
    for (size_t i = 3; i < sizeof(deep) - 1; i++) deep[i] = 0x91;
    deep[sizeof(deep) - 1] = 0xc0;
    CHECK((m = sf_message_decode(deep, sizeof(deep), &err)) == NULL);
    /* a non-string key */
    CHECK((m = sf_message_decode("\x81\x01\x02", 3, &err)) == NULL);

    /* missing id / url, and trailing garbage after a valid message */
    sf_message *ok = sf_message_new();
    ok->id = strdup("msg_1");
    sf_buf b;
    sf_buf_init(&b);
    sf_message_encode(ok, &b); /* url NULL: encoded as "" */
    CHECK((m = sf_message_decode(b.data, b.len, &err)) == NULL);
    CHECK(strstr(err.msg, "url") != NULL);
    sf_buf_cleanup(&b);
    free(ok->id);
    ok->id = NULL;
    ok->url = strdup("http://x/");
    sf_message_encode(ok, &b);
    CHECK((m = sf_message_decode(b.data, b.len, &err)) == NULL);
    CHECK(strstr(err.msg, "id") != NULL);
    sf_buf_cleanup(&b);
    ok->id = strdup("msg_1");
    sf_message_encode(ok, &b);
    CHECK((m = sf_message_decode(b.data, b.len, &err)) != NULL);
    sf_message_free(m);
    sf_buf_append(&b, "\xc0", 1);
    CHECK((m = sf_message_decode(b.data, b.len, &err)) == NULL);
    CHECK(strstr(err.msg, "trailing") != NULL);
    sf_buf_cleanup(&b);
    sf_message_free(ok);
}

static void test_attempt_history_cap(void) {
    sf_message m;
    sf_message_init(&m);
    for (int i = 0; i < SF_MAX_ATTEMPT_HISTORY + 5; i++)
        sf_message_add_attempt(&m, i, 500, 1, i % 2 ? "reset" : NULL);
    CHECK_INT(m.attempts_len, SF_MAX_ATTEMPT_HISTORY);
    CHECK_INT(m.attempts[0].at_ms, 5); /* the oldest five dropped */
    CHECK_INT(m.attempts[SF_MAX_ATTEMPT_HISTORY - 1].at_ms,
              SF_MAX_ATTEMPT_HISTORY + 4);
    sf_message_cleanup(&m);
}

static void test_headers(void) {
    sf_headers h = {0};
    sf_headers_add(&h, "Content-Type", "text/plain");
    sf_headers_add(&h, "X-A", "1");
    sf_headers_add(&h, "x-a", "2");
    CHECK_STR(sf_headers_get(&h, "content-type"), "text/plain");
    CHECK_STR(sf_headers_get(&h, "X-a"), "1");
    CHECK(sf_headers_get(&h, "X-B") == NULL);
    sf_headers_cleanup(&h);
    CHECK(h.len == 0 && h.items == NULL);
    sf_message_free(NULL);
}

TEST_MAIN(T(test_roundtrip_full), T(test_roundtrip_minimal),
          T(test_every_truncation_fails), T(test_garbage_never_crashes),
          T(test_bit_flips_never_crash), T(test_wrong_types_rejected),
          T(test_unknown_keys_skipped), T(test_versions),
          T(test_structural_rejects), T(test_attempt_history_cap),
          T(test_headers))
