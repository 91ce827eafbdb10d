/* util.c - clocks, random ids, the growable buffer, base64 and small parsers.
 *
 * Allocation failure is treated as fatal (sf_assert), as redis does: there
 * is no sensible way to go on without memory, and callers stay simple. */
#include "util.h"

#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

/* CLOCK_REALTIME in ms. */
int64_t sf_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* CLOCK_MONOTONIC in us. */
int64_t sf_mono_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Howard Hinnant's days_from_civil: counts 400-year eras from 0000-03-01
 * so that February ends each year. */
int64_t sf_days_from_civil(int64_t y, int m, int d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* Random bytes for ids, drawn from RAND_bytes a block at a time: one call
 * per id cost more than the rest of a publish.  Each byte is handed out
 * once.  The pool remembers the process that filled it and is dropped in a
 * forked child, so parent and child never share bytes.  Not thread-safe
 * (every stepflow process runs one loop thread). */
typedef struct rand_pool {
    unsigned char bytes[1024];
    size_t used; /* bytes already handed out */
    pid_t pid; /* process that filled it; 0 = never filled */
} rand_pool;

static void rand_take(unsigned char *out, size_t n) {
    static rand_pool pool = {.used = sizeof(pool.bytes)};
    pid_t pid = getpid();
    if (pool.pid != pid || pool.used + n > sizeof(pool.bytes)) {
        sf_assert(RAND_bytes(pool.bytes, (int)sizeof(pool.bytes)) == 1);
        pool.used = 0;
        pool.pid = pid;
    }
    memcpy(out, pool.bytes + pool.used, n);
    /* Wipe what was handed out: the pool holds only unused bytes. */
    memset(pool.bytes + pool.used, 0, n);
    pool.used += n;
}

/* 16 random bytes (RAND_bytes, through the pool above) as hex after
 * "prefix"; truncated (never overflowed) when "out_size" is short.  A
 * failing CSPRNG aborts: ids must never repeat. */
char *sf_random_id(const char *prefix, char *out, size_t out_size) {
    static const char hex[] = "0123456789abcdef";
    unsigned char raw[16];
    char digits[33];

    if (!prefix) prefix = "";
    rand_take(raw, sizeof(raw));
    for (size_t i = 0; i < sizeof(raw); i++) {
        digits[2 * i] = hex[raw[i] >> 4];
        digits[2 * i + 1] = hex[raw[i] & 15];
    }
    digits[32] = '\0';
    if (out_size > 0) snprintf(out, out_size, "%s%s", prefix, digits);
    return out;
}

/* ---- sf_buf ------------------------------------------------------------ */

/* Makes "b" empty without allocating. */
void sf_buf_init(sf_buf *b) {
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

/* Frees the data of "b" and leaves it empty and reusable. */
void sf_buf_cleanup(sf_buf *b) {
    free(b->data);
    sf_buf_init(b);
}

/* Makes room for "extra" more bytes plus the trailing NUL. */
static void buf_reserve(sf_buf *b, size_t extra) {
    sf_assert(extra < SIZE_MAX / 2 - b->len);
    size_t need = b->len + extra + 1;
    if (need <= b->cap) return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) cap *= 2;
    char *p = realloc(b->data, cap);
    sf_assert(p != NULL);
    b->data = p;
    b->cap = cap;
}

/* Appends "n" bytes of "p" (which may hold NULs); keeps the data
 * NUL-terminated.  Aborts only when memory runs out. */
void sf_buf_append(sf_buf *b, const void *p, size_t n) {
    buf_reserve(b, n);
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

/* Appends the C string "s" without its NUL. */
void sf_buf_appends(sf_buf *b, const char *s) {
    sf_buf_append(b, s, strlen(s));
}

/* Appends printf-formatted text. */
void sf_buf_appendf(sf_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    buf_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* Returns the data (never NULL; the caller frees it) and its length in
 * "len_out", and leaves "b" empty. */
char *sf_buf_take(sf_buf *b, size_t *len_out) {
    if (!b->data) { /* never hand out NULL: an empty string instead */
        buf_reserve(b, 0);
        b->data[0] = '\0';
    }
    char *p = b->data;
    if (len_out) *len_out = b->len;
    sf_buf_init(b);
    return p;
}

/* ---- base64 ------------------------------------------------------------ */

static const char b64_std[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64_url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static char *b64_encode(const unsigned char *in, size_t len, const char *alpha,
                        int pad) {
    sf_assert(len < SIZE_MAX / 2);
    char *out = malloc((len + 2) / 3 * 4 + 1);
    sf_assert(out != NULL);
    size_t o = 0, i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = alpha[v >> 18 & 63];
        out[o++] = alpha[v >> 12 & 63];
        out[o++] = alpha[v >> 6 & 63];
        out[o++] = alpha[v & 63];
    }
    if (len - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = alpha[v >> 18 & 63];
        out[o++] = alpha[v >> 12 & 63];
        if (pad) out[o++] = '=', out[o++] = '=';
    } else if (len - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = alpha[v >> 18 & 63];
        out[o++] = alpha[v >> 12 & 63];
        out[o++] = alpha[v >> 6 & 63];
        if (pad) out[o++] = '=';
    }
    out[o] = '\0';
    return out;
}

/* Standard alphabet with padding; the caller frees the result. */
char *sf_base64_encode(const void *data, size_t len) {
    return b64_encode(data, len, b64_std, 1);
}

/* URL alphabet without padding (JWT style); the caller frees it. */
char *sf_base64url_encode(const void *data, size_t len) {
    return b64_encode(data, len, b64_url, 0);
}

/* Value of one base64 digit in either alphabet, or -1. */
static int b64_value(unsigned char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
}

/* Decodes exactly [s, s+len): either alphabet, padding optional but
 * correct when present; any other byte (whitespace too) is invalid.
 * Non-zero bits after the last full byte are ignored.  The caller frees
 * the result. */
unsigned char *sf_base64_decode(const char *s, size_t len, size_t *out_len) {
    /* Padding: when present it must complete the last quantum to 4 chars. */
    size_t pad = 0;
    while (len > 0 && s[len - 1] == '=' && pad < 2) len--, pad++;
    if (pad && (len + pad) % 4 != 0) return NULL;
    if (len % 4 == 1) return NULL; /* 6 bits cannot make a byte */

    unsigned char *out = malloc(len / 4 * 3 + 3);
    sf_assert(out != NULL);
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64_value((unsigned char)s[i]);
        if (v < 0) {
            free(out);
            return NULL;
        }
        acc = (acc << 6 | (uint32_t)v) & 0xffffff;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits & 0xff);
        }
    }
    out[o] = '\0';
    if (out_len) *out_len = o;
    return out;
}

/* ---- small parsers ----------------------------------------------------- */

/* ASCII case-insensitive prefix test. */
int sf_has_prefix_ci(const char *s, const char *prefix) {
    for (; *prefix; s++, prefix++) {
        unsigned char a = (unsigned char)*s, b = (unsigned char)*prefix;
        if (a >= 'A' && a <= 'Z') a = (unsigned char)(a - 'A' + 'a');
        if (b >= 'A' && b <= 'Z') b = (unsigned char)(b - 'A' + 'a');
        if (a != b) return 0; /* also stops at the end of "s" */
    }
    return 1;
}

/* Optional sign and digits only, nothing else; overflow fails.  Returns
 * 0 and sets *out, or -1. */
int sf_parse_i64(const char *s, size_t len, int64_t *out) {
    size_t i = 0;
    int neg = 0;
    if (!s || len == 0) return -1;
    if (s[0] == '-' || s[0] == '+') neg = s[0] == '-', i = 1;
    if (i == len) return -1;
    uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    uint64_t v = 0;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (limit - d) / 10) return -1;
        v = v * 10 + d;
    }
    if (out) *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 0;
}

/* Rejects overlong forms, surrogates and code points above U+10FFFF. */
int sf_utf8_valid(const char *p, size_t len) {
    const unsigned char *s = (const unsigned char *)p;
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        size_t n;
        uint32_t cp, min;
        if (c < 0x80) { i++; continue; }
        if ((c & 0xe0) == 0xc0) n = 1, cp = c & 0x1f, min = 0x80;
        else if ((c & 0xf0) == 0xe0) n = 2, cp = c & 0x0f, min = 0x800;
        else if ((c & 0xf8) == 0xf0) n = 3, cp = c & 0x07, min = 0x10000;
        else return 0;
        if (len - i - 1 < n) return 0;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xc0) != 0x80) return 0;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0; /* overlong, out of range, or a surrogate */
        i += n + 1;
    }
    return 1;
}
