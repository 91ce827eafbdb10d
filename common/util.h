/* util.h - small shared helpers: clocks, ids, base64, a growable buffer.
 *
 * All pure (no sockets); sf_random_id uses OpenSSL's RAND_bytes. */
#ifndef SF_UTIL_H
#define SF_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Wall clock in milliseconds since the Unix epoch. */
int64_t sf_now_ms(void);
/* Monotonic clock in microseconds (for latencies). */
int64_t sf_mono_us(void);
/* Days from 1970-01-01 to the proleptic Gregorian date "y"-"m"-"d"
 * ("m" 1..12; negative before 1970). */
int64_t sf_days_from_civil(int64_t y, int m, int d);

/* Writes "<prefix><32 lowercase hex chars>" into "out" (NUL-terminated) and
 * returns "out". "out" must hold strlen(prefix) + 33 bytes. */
char *sf_random_id(const char *prefix, char *out, size_t out_size);

/* Growable byte buffer; always NUL-terminated so it can hold text. */
typedef struct sf_buf {
    char *data;   /* owned; NULL until the first append */
    size_t len;   /* bytes used, excluding the trailing NUL */
    size_t cap;   /* bytes allocated */
} sf_buf;

void sf_buf_init(sf_buf *b);
void sf_buf_cleanup(sf_buf *b);          /* frees data; b can be reused */
void sf_buf_append(sf_buf *b, const void *p, size_t n);
void sf_buf_appends(sf_buf *b, const char *s);
void sf_buf_appendf(sf_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Hands the data to the caller (who frees it) and resets "b". */
char *sf_buf_take(sf_buf *b, size_t *len_out);

/* Base64 (standard alphabet, padded) and base64url (no padding).
 * Encoders return a malloc'd NUL-terminated string.  The decoder accepts
 * both alphabets, with or without padding, returns malloc'd bytes (with a
 * trailing NUL not counted in *out_len), or NULL on invalid input. */
char *sf_base64_encode(const void *data, size_t len);
char *sf_base64url_encode(const void *data, size_t len);
unsigned char *sf_base64_decode(const char *s, size_t len, size_t *out_len);

/* Case-insensitive ASCII prefix test; returns 1 if "s" starts with "prefix". */
int sf_has_prefix_ci(const char *s, const char *prefix);

/* Parses a decimal int64 from the whole of [s, s+len); returns 0 on success. */
int sf_parse_i64(const char *s, size_t len, int64_t *out);

/* 1 if the [p, p+len) bytes are valid UTF-8. */
int sf_utf8_valid(const char *p, size_t len);

#endif
