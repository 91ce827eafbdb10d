/* test_util.c - base64 (RFC 4648 vectors), base64url, sf_buf, ids, parsers. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "util.h"

static const struct { const char *raw, *b64; } rfc4648[] = {
    {"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},
    {"foo", "Zm9v"},  {"foob", "Zm9vYg=="},  {"fooba", "Zm9vYmE="},
    {"foobar", "Zm9vYmFy"},
};

static void test_base64_rfc4648(void) {
    for (size_t i = 0; i < sizeof(rfc4648) / sizeof(rfc4648[0]); i++) {
        const char *raw = rfc4648[i].raw, *b64 = rfc4648[i].b64;
        char *enc = sf_base64_encode(raw, strlen(raw));
        CHECK_STR(enc, b64);
        free(enc);
        size_t n = 99;
        unsigned char *dec = sf_base64_decode(b64, strlen(b64), &n);
        CHECK(dec != NULL);
        CHECK_INT(n, strlen(raw));
        if (dec) {
            CHECK(memcmp(dec, raw, n) == 0);
            CHECK_INT(dec[n], 0); /* trailing NUL not counted */
        }
        free(dec);
    }
}

static void test_base64url(void) {
    const unsigned char bytes[] = {0xfb, 0xff, 0xfe, 0x3e, 0x3f};
    char *std = sf_base64_encode(bytes, sizeof(bytes));
    char *url = sf_base64url_encode(bytes, sizeof(bytes));
    CHECK_STR(std, "+//+Pj8=");
    CHECK_STR(url, "-__-Pj8");
    char *f = sf_base64url_encode("f", 1);
    CHECK_STR(f, "Zg");
    /* The decoder takes either alphabet, padded or not. */
    const char *forms[] = {"+//+Pj8=", "+//+Pj8", "-__-Pj8", "-__-Pj8="};
    for (size_t i = 0; i < 4; i++) {
        size_t n = 0;
        unsigned char *d = sf_base64_decode(forms[i], strlen(forms[i]), &n);
        CHECK(d != NULL);
        CHECK_INT(n, sizeof(bytes));
        if (d) CHECK(memcmp(d, bytes, sizeof(bytes)) == 0);
        free(d);
    }
    free(std);
    free(url);
    free(f);
}

static void test_base64_rejects(void) {
    const char *bad[] = {
        "Zm9v!",    /* bad character */
        "Zm 9v",    /* whitespace */
        "Z",        /* 6 bits */
        "Zm9vY",    /* 5 chars: a dangling sextet */
        "Zg=",      /* padding that does not complete a quantum */
        "Zm8==",    /* too much padding */
        "=Zm8",     /* padding first */
        "Zm=8",     /* padding inside */
        "Zg===",
        "\xc3\xa9Zm8",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        size_t n;
        unsigned char *d = sf_base64_decode(bad[i], strlen(bad[i]), &n);
        if (d) fprintf(stderr, "  accepted bad base64 \"%s\"\n", bad[i]);
        CHECK(d == NULL);
        free(d);
    }
    /* A NUL inside the given length is a bad character, not the end. */
    unsigned char *d = sf_base64_decode("Zm9v\0Zm9v", 9, NULL);
    CHECK(d == NULL);
    free(d);
    /* Decoding only the given length. */
    size_t n = 0;
    d = sf_base64_decode("Zm9vYmFyXXXX!!", 8, &n);
    CHECK(d != NULL);
    CHECK_INT(n, 6);
    free(d);
}

static void test_base64_roundtrip_all_lengths(void) {
    unsigned char buf[70];
    for (size_t i = 0; i < sizeof(buf); i++) buf[i] = (unsigned char)(i * 37 + 11);
    for (size_t len = 0; len <= sizeof(buf); len++) {
        char *a = sf_base64_encode(buf, len);
        char *b = sf_base64url_encode(buf, len);
        size_t na = 0, nb = 0;
        unsigned char *da = sf_base64_decode(a, strlen(a), &na);
        unsigned char *db = sf_base64_decode(b, strlen(b), &nb);
        CHECK(da && db && na == len && nb == len);
        if (da && db && len) {
            CHECK(memcmp(da, buf, len) == 0);
            CHECK(memcmp(db, buf, len) == 0);
        }
        free(a), free(b), free(da), free(db);
    }
}

static void test_buf(void) {
    sf_buf b;
    sf_buf_init(&b);
    CHECK(b.data == NULL);
    CHECK_INT(b.len, 0);
    sf_buf_appends(&b, "hello");
    sf_buf_append(&b, ", ", 2);
    sf_buf_appendf(&b, "%s #%d", "world", 42);
    CHECK_STR(b.data, "hello, world #42");
    CHECK_INT(b.len, 16);
    /* Grow well past the first allocation, with embedded NULs. */
    for (int i = 0; i < 1000; i++) sf_buf_append(&b, "\0x", 2);
    CHECK_INT(b.len, 2016);
    CHECK(b.cap > b.len);
    CHECK_INT(b.data[b.len], 0);
    CHECK_INT(b.data[16], 0);
    CHECK_INT(b.data[17], 'x');
    size_t n = 0;
    char *p = sf_buf_take(&b, &n);
    CHECK_INT(n, 2016);
    CHECK(b.data == NULL && b.len == 0 && b.cap == 0);
    free(p);
    /* take of an empty buffer gives an empty string, not NULL */
    p = sf_buf_take(&b, &n);
    CHECK(p != NULL);
    CHECK_INT(n, 0);
    if (p) CHECK_STR(p, "");
    free(p);
    sf_buf_appendf(&b, "%05d", 7);
    CHECK_STR(b.data, "00007");
    sf_buf_cleanup(&b);
    CHECK(b.data == NULL);
    sf_buf_cleanup(&b); /* twice is fine */
}

static void test_random_id(void) {
    char a[64], b[64];
    CHECK(sf_random_id("msg_", a, sizeof(a)) == a);
    sf_random_id("msg_", b, sizeof(b));
    CHECK_INT(strlen(a), 36);
    CHECK(strncmp(a, "msg_", 4) == 0);
    CHECK(strspn(a + 4, "0123456789abcdef") == 32);
    CHECK(strcmp(a, b) != 0);
    char small[8];
    sf_random_id("msg_", small, sizeof(small)); /* truncates, no overflow */
    CHECK_INT(strlen(small), 7);
}

static void test_parse_i64(void) {
    int64_t v = 0;
    CHECK_INT(sf_parse_i64("0", 1, &v), 0);
    CHECK_INT(v, 0);
    CHECK_INT(sf_parse_i64("-42", 3, &v), 0);
    CHECK_INT(v, -42);
    CHECK_INT(sf_parse_i64("9223372036854775807", 19, &v), 0);
    CHECK(v == INT64_MAX);
    CHECK_INT(sf_parse_i64("-9223372036854775808", 20, &v), 0);
    CHECK(v == INT64_MIN);
    CHECK_INT(sf_parse_i64("9223372036854775808", 19, &v), -1);
    CHECK_INT(sf_parse_i64("-9223372036854775809", 20, &v), -1);
    CHECK_INT(sf_parse_i64("", 0, &v), -1);
    CHECK_INT(sf_parse_i64("-", 1, &v), -1);
    CHECK_INT(sf_parse_i64("12a", 3, &v), -1);
    CHECK_INT(sf_parse_i64(" 1", 2, &v), -1);
    CHECK_INT(sf_parse_i64("123456", 3, &v), 0); /* only the given length */
    CHECK_INT(v, 123);
}

static void test_prefix_and_utf8(void) {
    CHECK(sf_has_prefix_ci("Upstash-Forward-X", "upstash-forward-"));
    CHECK(sf_has_prefix_ci("abc", ""));
    CHECK(!sf_has_prefix_ci("ab", "abc"));
    CHECK(!sf_has_prefix_ci("xbc", "abc"));
    CHECK(sf_utf8_valid("plain", 5));
    CHECK(sf_utf8_valid("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14));
    CHECK(!sf_utf8_valid("\xc3", 1));              /* truncated */
    CHECK(!sf_utf8_valid("\xc0\xaf", 2));          /* overlong */
    CHECK(!sf_utf8_valid("\xed\xa0\x80", 3));      /* surrogate */
    CHECK(!sf_utf8_valid("\xf4\x90\x80\x80", 4));  /* > U+10FFFF */
    CHECK(!sf_utf8_valid("\xff", 1));
    CHECK(!sf_utf8_valid("a\x80", 2));
}

static void test_clocks(void) {
    int64_t ms = sf_now_ms();
    CHECK(ms > 1600000000000LL);
    int64_t a = sf_mono_us(), b = sf_mono_us();
    CHECK(b >= a);
}

TEST_MAIN(T(test_base64_rfc4648), T(test_base64url), T(test_base64_rejects),
          T(test_base64_roundtrip_all_lengths), T(test_buf),
          T(test_random_id), T(test_parse_i64), T(test_prefix_and_utf8),
          T(test_clocks))
