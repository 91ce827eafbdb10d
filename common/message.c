/* message.c - the message envelope and its msgpack codec.
 *
 * Wire format: one msgpack map, short string keys, values as below.  The
 * fields marked "always" are written by every encoder; the others only when
 * they differ from the default (NULL / 0 / empty), and a decoder that does
 * not find them keeps the default of sf_message_init().
 *
 *   key   field                 type                          written
 *   v     version               uint (SF_MESSAGE_SCHEMA)      always
 *   k     kind                  uint 0 message, 1 callback    always
 *   id    id                    str                           always
 *   url   url                   str                           always
 *   mt    method                str (decoded default "POST")  when set
 *   h     headers               array of [str name, str value]
 *   b     body                  bin
 *   r     max_retries           uint                          always
 *   rd    retried               uint                          always
 *   rdx   retry_delay           str
 *   to    timeout_ms            uint
 *   c     created_ms            uint                          always
 *   nb    not_before_ms         uint
 *   l     label                 str
 *   ip    caller_ip             str
 *   dd    dedup_id              str
 *   fc    failure_callback      str
 *   fch   cb_headers            array of [str name, str value]
 *   fcr   cb_max_retries        uint (absent = -1, inherit)
 *   fcrd  cb_retry_delay        str
 *   fcto  cb_timeout_ms         uint
 *   fcm   cb_method             str
 *   dlq   dlq_id                str
 *   gen   cb_gen                uint
 *   wr    workflow_run_id       str
 *   wu    workflow_url          str
 *   wc    workflow_created_ms   uint
 *   ct    callback_tpl          bin (an encoded envelope)
 *   fk    fc_key                str
 *   fp    fc_parallelism        uint
 *   fr    fc_rate               uint
 *   fd    fc_period_ms          uint
 *   at    attempts              array of [uint at_ms, uint status,
 *                                         uint latency_ms, str error | nil]
 *
 * The decoder is strict about what it knows (types, ranges, no negative
 * numbers, no NUL inside strings, no CR/LF inside headers, methods and
 * URLs, so a stored entry cannot smuggle a header line into a delivery) and
 * skips keys it does not know, so a newer writer can add optional fields
 * without a version bump.
 *
 * Before msgpack-c sees the bytes, a linear pre-scan checks that they form
 * exactly one well-formed object ending at "len" and that no array or map
 * claims more elements than there are bytes left.  That keeps a 6-byte
 * input claiming a 4-billion-element array from making msgpack-c ask the
 * allocator for ~100 GB. */
#include "message.h"

#include <limits.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"

/* ---- construction and ownership ---------------------------------------- */

static char *xstrdup(const char *s) {
    if (!s) return NULL;
    char *p = strdup(s);
    sf_assert(p != NULL);
    return p;
}

/* Zeroes "m" and sets the defaults of message.h. */
void sf_message_init(sf_message *m) {
    memset(m, 0, sizeof(*m));
    m->version = SF_MESSAGE_SCHEMA;
    m->kind = SF_KIND_MESSAGE;
    m->max_retries = 3;
    m->cb_max_retries = -1;
}

/* A heap message with sf_message_init() defaults; NULL when out of
 * memory.  Free with sf_message_free(). */
sf_message *sf_message_new(void) {
    sf_message *m = malloc(sizeof(*m));
    if (!m) return NULL;
    sf_message_init(m);
    return m;
}

/* Frees every header of "h" and leaves it empty. */
void sf_headers_cleanup(sf_headers *h) {
    for (size_t i = 0; i < h->len; i++) {
        free(h->items[i].name);
        free(h->items[i].value);
    }
    free(h->items);
    h->items = NULL;
    h->len = h->cap = 0;
}

/* Frees everything "m" owns and re-initializes it. */
void sf_message_cleanup(sf_message *m) {
    free(m->id);
    free(m->url);
    free(m->method);
    sf_headers_cleanup(&m->headers);
    free(m->body);
    free(m->retry_delay);
    free(m->label);
    free(m->caller_ip);
    free(m->dedup_id);
    free(m->failure_callback);
    sf_headers_cleanup(&m->cb_headers);
    free(m->cb_retry_delay);
    free(m->cb_method);
    free(m->dlq_id);
    free(m->workflow_run_id);
    free(m->workflow_url);
    free(m->callback_tpl);
    free(m->fc_key);
    for (size_t i = 0; i < m->attempts_len; i++) free(m->attempts[i].error);
    free(m->attempts);
    sf_message_init(m);
}

/* Frees "m" and everything it owns; NULL is a no-op. */
void sf_message_free(sf_message *m) {
    if (!m) return;
    sf_message_cleanup(m);
    free(m);
}

/* Appends copies of "name" and "value" (NULL reads as ""). */
void sf_headers_add(sf_headers *h, const char *name, const char *value) {
    if (h->len == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 8;
        sf_header *items = realloc(h->items, cap * sizeof(*items));
        sf_assert(items != NULL);
        h->items = items;
        h->cap = cap;
    }
    h->items[h->len].name = xstrdup(name ? name : "");
    h->items[h->len].value = xstrdup(value ? value : "");
    h->len++;
}

/* First value whose name equals "name" ignoring case, borrowed from
 * "h"; NULL when absent. */
const char *sf_headers_get(const sf_headers *h, const char *name) {
    for (size_t i = 0; i < h->len; i++)
        if (strcasecmp(h->items[i].name, name) == 0) return h->items[i].value;
    return NULL;
}

/* Appends one attempt, copying "error"; beyond SF_MAX_ATTEMPT_HISTORY
 * the oldest is dropped. */
void sf_message_add_attempt(sf_message *m, int64_t at_ms, int status,
                            int64_t latency_ms, const char *error) {
    if (!m->attempts) {
        m->attempts = calloc(SF_MAX_ATTEMPT_HISTORY, sizeof(*m->attempts));
        sf_assert(m->attempts != NULL);
    }
    if (m->attempts_len == SF_MAX_ATTEMPT_HISTORY) { /* drop the oldest */
        free(m->attempts[0].error);
        memmove(m->attempts, m->attempts + 1,
                (SF_MAX_ATTEMPT_HISTORY - 1) * sizeof(*m->attempts));
        m->attempts_len--;
    }
    sf_attempt *a = &m->attempts[m->attempts_len++];
    a->at_ms = at_ms;
    a->status = status;
    a->latency_ms = latency_ms;
    a->error = xstrdup(error);
}

static void headers_copy(sf_headers *dst, const sf_headers *src) {
    for (size_t i = 0; i < src->len; i++)
        sf_headers_add(dst, src->items[i].name, src->items[i].value);
}

/* Deep copy of "m"; the caller frees it with sf_message_free(). */
sf_message *sf_message_dup(const sf_message *m) {
    sf_message *d = sf_message_new();
    if (!d) return NULL;
    *d = *m; /* scalars; every pointer is replaced below */
    d->id = xstrdup(m->id);
    d->url = xstrdup(m->url);
    d->method = xstrdup(m->method);
    memset(&d->headers, 0, sizeof(d->headers));
    headers_copy(&d->headers, &m->headers);
    d->body = NULL;
    if (m->body_len > 0) {
        d->body = malloc(m->body_len);
        sf_assert(d->body != NULL);
        memcpy(d->body, m->body, m->body_len);
    }
    d->retry_delay = xstrdup(m->retry_delay);
    d->label = xstrdup(m->label);
    d->caller_ip = xstrdup(m->caller_ip);
    d->dedup_id = xstrdup(m->dedup_id);
    d->failure_callback = xstrdup(m->failure_callback);
    memset(&d->cb_headers, 0, sizeof(d->cb_headers));
    headers_copy(&d->cb_headers, &m->cb_headers);
    d->cb_retry_delay = xstrdup(m->cb_retry_delay);
    d->cb_method = xstrdup(m->cb_method);
    d->dlq_id = xstrdup(m->dlq_id);
    d->workflow_run_id = xstrdup(m->workflow_run_id);
    d->workflow_url = xstrdup(m->workflow_url);
    d->callback_tpl = NULL;
    if (m->callback_tpl_len > 0) {
        d->callback_tpl = malloc(m->callback_tpl_len);
        sf_assert(d->callback_tpl != NULL);
        memcpy(d->callback_tpl, m->callback_tpl, m->callback_tpl_len);
    }
    d->fc_key = xstrdup(m->fc_key);
    d->attempts = NULL;
    d->attempts_len = 0;
    for (size_t i = 0; i < m->attempts_len; i++)
        sf_message_add_attempt(d, m->attempts[i].at_ms, m->attempts[i].status,
                               m->attempts[i].latency_ms, m->attempts[i].error);
    return d;
}

/* ---- encoder ----------------------------------------------------------- */

static int buf_write(void *data, const char *p, size_t len) {
    sf_buf_append(data, p, len);
    return 0;
}

/* The encoder walks the fields twice: once with pk == NULL to count the
 * map entries, once to write them.  Each put_* counts one entry. */
typedef struct enc {
    msgpack_packer *pk; /* NULL while counting */
    uint32_t n;
} enc;

static void pack_cstr(msgpack_packer *pk, const char *s) {
    size_t len = strlen(s);
    msgpack_pack_str(pk, len);
    msgpack_pack_str_body(pk, s, len);
}

static void put_str(enc *e, const char *key, const char *s) {
    if (!s) return;
    e->n++;
    if (!e->pk) return;
    pack_cstr(e->pk, key);
    pack_cstr(e->pk, s);
}

/* Writes a non-negative integer; negatives (never valid) are written as 0. */
static void put_int(enc *e, const char *key, int64_t v, int always) {
    if (v == 0 && !always) return;
    e->n++;
    if (!e->pk) return;
    pack_cstr(e->pk, key);
    msgpack_pack_uint64(e->pk, v < 0 ? 0 : (uint64_t)v);
}

static void put_headers(enc *e, const char *key, const sf_headers *h) {
    if (h->len == 0) return;
    e->n++;
    if (!e->pk) return;
    pack_cstr(e->pk, key);
    msgpack_pack_array(e->pk, h->len);
    for (size_t i = 0; i < h->len; i++) {
        msgpack_pack_array(e->pk, 2);
        pack_cstr(e->pk, h->items[i].name ? h->items[i].name : "");
        pack_cstr(e->pk, h->items[i].value ? h->items[i].value : "");
    }
}

static void put_bin(enc *e, const char *key, const unsigned char *body,
                    size_t len) {
    if (len == 0 || !body) return;
    e->n++;
    if (!e->pk) return;
    pack_cstr(e->pk, key);
    msgpack_pack_bin(e->pk, len);
    msgpack_pack_bin_body(e->pk, body, len);
}

static void put_attempts(enc *e, const sf_message *m) {
    if (m->attempts_len == 0) return;
    e->n++;
    if (!e->pk) return;
    pack_cstr(e->pk, "at");
    msgpack_pack_array(e->pk, m->attempts_len);
    for (size_t i = 0; i < m->attempts_len; i++) {
        const sf_attempt *a = &m->attempts[i];
        msgpack_pack_array(e->pk, 4);
        msgpack_pack_uint64(e->pk, a->at_ms < 0 ? 0 : (uint64_t)a->at_ms);
        msgpack_pack_uint64(e->pk, a->status < 0 ? 0 : (uint64_t)a->status);
        msgpack_pack_uint64(e->pk,
                            a->latency_ms < 0 ? 0 : (uint64_t)a->latency_ms);
        if (a->error) pack_cstr(e->pk, a->error);
        else msgpack_pack_nil(e->pk);
    }
}

static void encode_fields(enc *e, const sf_message *m) {
    put_int(e, "v", SF_MESSAGE_SCHEMA, 1);
    put_int(e, "k", m->kind, 1);
    put_str(e, "id", m->id ? m->id : "");
    put_str(e, "url", m->url ? m->url : "");
    put_str(e, "mt", m->method);
    put_headers(e, "h", &m->headers);
    put_bin(e, "b", m->body, m->body_len);
    put_int(e, "r", m->max_retries, 1);
    put_int(e, "rd", m->retried, 1);
    put_str(e, "rdx", m->retry_delay);
    put_int(e, "to", m->timeout_ms, 0);
    put_int(e, "c", m->created_ms, 1);
    put_int(e, "nb", m->not_before_ms, 0);
    put_str(e, "l", m->label);
    put_str(e, "ip", m->caller_ip);
    put_str(e, "dd", m->dedup_id);
    put_str(e, "fc", m->failure_callback);
    put_headers(e, "fch", &m->cb_headers);
    if (m->cb_max_retries >= 0) put_int(e, "fcr", m->cb_max_retries, 1);
    put_str(e, "fcrd", m->cb_retry_delay);
    put_int(e, "fcto", m->cb_timeout_ms, 0);
    put_str(e, "fcm", m->cb_method);
    put_str(e, "dlq", m->dlq_id);
    put_int(e, "gen", m->cb_gen, 0);
    put_str(e, "wr", m->workflow_run_id);
    put_str(e, "wu", m->workflow_url);
    put_int(e, "wc", m->workflow_created_ms, 0);
    put_bin(e, "ct", m->callback_tpl, m->callback_tpl_len);
    put_str(e, "fk", m->fc_key);
    put_int(e, "fp", m->fc_parallelism, 0);
    put_int(e, "fr", m->fc_rate, 0);
    put_int(e, "fd", m->fc_period_ms, 0);
    put_attempts(e, m);
}

/* Appends the msgpack map of "m" (table at the top) to "out". */
void sf_message_encode(const sf_message *m, sf_buf *out) {
    msgpack_packer pk;
    enc e = {NULL, 0};
    encode_fields(&e, m);
    msgpack_packer_init(&pk, out, buf_write);
    msgpack_pack_map(&pk, e.n);
    e.pk = &pk;
    e.n = 0;
    encode_fields(&e, m);
}

/* ---- decoder: pre-scan ------------------------------------------------- */

/* Reads a big-endian unsigned of "n" bytes at p[0..n). */
static uint64_t be(const unsigned char *p, size_t n) {
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) v = v << 8 | p[i];
    return v;
}

/* Checks that [p, p+len) is exactly one well-formed msgpack object whose
 * containers never claim more elements than bytes remain.  Iterative: a
 * count of items still expected replaces the recursion. */
static int prescan(const unsigned char *p, size_t len, sf_err *err) {
    uint64_t pending = 1; /* items still to read */
    size_t off = 0;
    while (pending > 0) {
        if (off >= len) {
            sf_err_set(err, "truncated at byte %zu", off);
            return -1;
        }
        unsigned b = p[off++];
        size_t hdr = 0;      /* length-field bytes after the type byte */
        uint64_t skip = 0;   /* payload bytes */
        uint64_t items = 0;  /* nested items this header adds */
        pending--;
        if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
            /* fixint, nil, bool */
        } else if (b <= 0x8f) {
            items = 2 * (uint64_t)(b & 0x0f);
        } else if (b <= 0x9f) {
            items = b & 0x0f;
        } else if (b <= 0xbf) {
            skip = b & 0x1f;
        } else {
            switch (b) {
            case 0xc4: case 0xd9: hdr = 1; break;          /* bin8, str8 */
            case 0xc5: case 0xda: hdr = 2; break;          /* bin16, str16 */
            case 0xc6: case 0xdb: hdr = 4; break;          /* bin32, str32 */
            case 0xc7: hdr = 1; skip = 1; break;           /* ext8 (+type) */
            case 0xc8: hdr = 2; skip = 1; break;           /* ext16 */
            case 0xc9: hdr = 4; skip = 1; break;           /* ext32 */
            case 0xca: skip = 4; break;                    /* float32 */
            case 0xcb: skip = 8; break;                    /* float64 */
            case 0xcc: case 0xd0: skip = 1; break;         /* (u)int8 */
            case 0xcd: case 0xd1: skip = 2; break;         /* (u)int16 */
            case 0xce: case 0xd2: skip = 4; break;         /* (u)int32 */
            case 0xcf: case 0xd3: skip = 8; break;         /* (u)int64 */
            case 0xd4: skip = 2; break;                    /* fixext1 */
            case 0xd5: skip = 3; break;
            case 0xd6: skip = 5; break;
            case 0xd7: skip = 9; break;
            case 0xd8: skip = 17; break;                   /* fixext16 */
            case 0xdc: case 0xde: hdr = 2; break;          /* array16, map16 */
            case 0xdd: case 0xdf: hdr = 4; break;          /* array32, map32 */
            default:
                sf_err_set(err, "invalid msgpack byte 0x%02x at %zu", b,
                           off - 1);
                return -1;
            }
            if (hdr) {
                if (len - off < hdr) {
                    sf_err_set(err, "truncated at byte %zu", off);
                    return -1;
                }
                uint64_t n = be(p + off, hdr);
                off += hdr;
                if (b == 0xdc || b == 0xdd) items = n;
                else if (b == 0xde || b == 0xdf) items = 2 * n;
                else skip += n;
            }
        }
        if (skip > len - off) {
            sf_err_set(err, "truncated at byte %zu", off);
            return -1;
        }
        off += (size_t)skip;
        pending += items;
        if (pending > len - off) {
            sf_err_set(err, "truncated: %llu items expected in %zu bytes",
                       (unsigned long long)pending, len - off);
            return -1;
        }
    }
    if (off != len) {
        sf_err_set(err, "trailing garbage after byte %zu", off);
        return -1;
    }
    return 0;
}

/* ---- decoder: the object walk ------------------------------------------ */

static int key_is(const msgpack_object *k, const char *name) {
    size_t n = strlen(name);
    return k->via.str.size == n && memcmp(k->via.str.ptr, name, n) == 0;
}

/* Copies a msgpack str into a new C string; rejects NUL bytes and, when
 * "header" is set (the value ends up in a request line or a header), CR
 * and LF. */
static int get_str(const msgpack_object *o, const char *key, int header,
                   char **dst, sf_err *err) {
    if (o->type != MSGPACK_OBJECT_STR) {
        sf_err_set(err, "field %s: expected a string", key);
        return -1;
    }
    const char *p = o->via.str.ptr;
    uint32_t n = o->via.str.size;
    for (uint32_t i = 0; i < n; i++) {
        if (p[i] == '\0' || (header && (p[i] == '\r' || p[i] == '\n'))) {
            sf_err_set(err, "field %s: forbidden control character", key);
            return -1;
        }
    }
    char *s = malloc((size_t)n + 1);
    sf_assert(s != NULL);
    if (n) memcpy(s, p, n);
    s[n] = '\0';
    free(*dst); /* a repeated key: the last one wins */
    *dst = s;
    return 0;
}

/* Reads a non-negative integer no larger than "max". */
static int get_uint(const msgpack_object *o, const char *key, int64_t max,
                    int64_t *out, sf_err *err) {
    if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        sf_err_set(err, "field %s: negative", key);
        return -1;
    }
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
        sf_err_set(err, "field %s: expected an integer", key);
        return -1;
    }
    if (o->via.u64 > (uint64_t)max) {
        sf_err_set(err, "field %s: %llu is out of range", key,
                   (unsigned long long)o->via.u64);
        return -1;
    }
    *out = (int64_t)o->via.u64;
    return 0;
}

static int get_int(const msgpack_object *o, const char *key, int *out,
                   sf_err *err) {
    int64_t v;
    if (get_uint(o, key, INT_MAX, &v, err) < 0) return -1;
    *out = (int)v;
    return 0;
}

/* Appends "name" and "value" to "h", which takes them over (no copy:
 * the decoder already made them). */
static void headers_push_owned(sf_headers *h, char *name, char *value) {
    if (h->len == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 8;
        sf_header *items = realloc(h->items, cap * sizeof(*items));
        sf_assert(items != NULL);
        h->items = items;
        h->cap = cap;
    }
    h->items[h->len].name = name;
    h->items[h->len].value = value;
    h->len++;
}

static int get_headers(const msgpack_object *o, const char *key,
                       sf_headers *h, sf_err *err) {
    if (o->type != MSGPACK_OBJECT_ARRAY) {
        sf_err_set(err, "field %s: expected an array", key);
        return -1;
    }
    sf_headers_cleanup(h);
    for (uint32_t i = 0; i < o->via.array.size; i++) {
        const msgpack_object *pair = &o->via.array.ptr[i];
        char *name = NULL, *value = NULL;
        if (pair->type != MSGPACK_OBJECT_ARRAY || pair->via.array.size != 2) {
            sf_err_set(err, "field %s: expected [name, value] pairs", key);
            return -1;
        }
        if (get_str(&pair->via.array.ptr[0], key, 1, &name, err) < 0) return -1;
        if (get_str(&pair->via.array.ptr[1], key, 1, &value, err) < 0) {
            free(name);
            return -1;
        }
        headers_push_owned(h, name, value);
    }
    return 0;
}

static int get_bin(const msgpack_object *o, const char *key,
                   unsigned char **out, size_t *out_len, sf_err *err) {
    if (o->type != MSGPACK_OBJECT_BIN) {
        sf_err_set(err, "field %s: expected binary", key);
        return -1;
    }
    free(*out);
    *out = NULL;
    *out_len = o->via.bin.size;
    if (*out_len > 0) {
        *out = malloc(*out_len);
        sf_assert(*out != NULL);
        memcpy(*out, o->via.bin.ptr, *out_len);
    }
    return 0;
}

static int get_attempts(const msgpack_object *o, sf_message *m, sf_err *err) {
    if (o->type != MSGPACK_OBJECT_ARRAY) {
        sf_err_set(err, "field at: expected an array");
        return -1;
    }
    for (size_t i = 0; i < m->attempts_len; i++) free(m->attempts[i].error);
    m->attempts_len = 0;
    for (uint32_t i = 0; i < o->via.array.size; i++) {
        const msgpack_object *a = &o->via.array.ptr[i];
        int64_t at_ms, status, latency_ms;
        char *error = NULL;
        if (a->type != MSGPACK_OBJECT_ARRAY || a->via.array.size != 4) {
            sf_err_set(err, "field at: expected [at, status, latency, error]");
            return -1;
        }
        const msgpack_object *f = a->via.array.ptr;
        if (get_uint(&f[0], "at", INT64_MAX, &at_ms, err) < 0 ||
            get_uint(&f[1], "at", 999, &status, err) < 0 ||
            get_uint(&f[2], "at", INT64_MAX, &latency_ms, err) < 0)
            return -1;
        if (f[3].type != MSGPACK_OBJECT_NIL &&
            get_str(&f[3], "at", 0, &error, err) < 0)
            return -1;
        sf_message_add_attempt(m, at_ms, (int)status, latency_ms, error);
        free(error);
    }
    return 0;
}

/* Applies one key/value pair to "m"; unknown keys are ignored. */
static int decode_field(sf_message *m, const msgpack_object *k,
                        const msgpack_object *v, sf_err *err) {
    int64_t i64;
    if (key_is(k, "v")) {
        if (get_uint(v, "v", INT_MAX, &i64, err) < 0) return -1;
        m->version = (int)i64;
    } else if (key_is(k, "k")) {
        if (get_uint(v, "k", SF_KIND_CALLBACK, &i64, err) < 0) return -1;
        m->kind = (sf_message_kind)i64;
    } else if (key_is(k, "id")) return get_str(v, "id", 0, &m->id, err);
    else if (key_is(k, "url")) return get_str(v, "url", 1, &m->url, err);
    else if (key_is(k, "mt")) return get_str(v, "mt", 1, &m->method, err);
    else if (key_is(k, "h")) return get_headers(v, "h", &m->headers, err);
    else if (key_is(k, "b")) return get_bin(v, "b", &m->body, &m->body_len, err);
    else if (key_is(k, "r")) return get_int(v, "r", &m->max_retries, err);
    else if (key_is(k, "rd")) return get_int(v, "rd", &m->retried, err);
    else if (key_is(k, "rdx"))
        return get_str(v, "rdx", 0, &m->retry_delay, err);
    else if (key_is(k, "to"))
        return get_uint(v, "to", INT64_MAX, &m->timeout_ms, err);
    else if (key_is(k, "c"))
        return get_uint(v, "c", INT64_MAX, &m->created_ms, err);
    else if (key_is(k, "nb"))
        return get_uint(v, "nb", INT64_MAX, &m->not_before_ms, err);
    else if (key_is(k, "l")) return get_str(v, "l", 0, &m->label, err);
    else if (key_is(k, "ip")) return get_str(v, "ip", 0, &m->caller_ip, err);
    else if (key_is(k, "dd")) return get_str(v, "dd", 0, &m->dedup_id, err);
    else if (key_is(k, "fc"))
        return get_str(v, "fc", 1, &m->failure_callback, err);
    else if (key_is(k, "fch"))
        return get_headers(v, "fch", &m->cb_headers, err);
    else if (key_is(k, "fcr"))
        return get_int(v, "fcr", &m->cb_max_retries, err);
    else if (key_is(k, "fcrd"))
        return get_str(v, "fcrd", 0, &m->cb_retry_delay, err);
    else if (key_is(k, "fcto"))
        return get_uint(v, "fcto", INT64_MAX, &m->cb_timeout_ms, err);
    else if (key_is(k, "fcm")) return get_str(v, "fcm", 1, &m->cb_method, err);
    else if (key_is(k, "dlq")) return get_str(v, "dlq", 0, &m->dlq_id, err);
    else if (key_is(k, "gen"))
        return get_uint(v, "gen", INT64_MAX, &m->cb_gen, err);
    else if (key_is(k, "wr"))
        return get_str(v, "wr", 0, &m->workflow_run_id, err);
    else if (key_is(k, "wu")) return get_str(v, "wu", 1, &m->workflow_url, err);
    else if (key_is(k, "wc"))
        return get_uint(v, "wc", INT64_MAX, &m->workflow_created_ms, err);
    else if (key_is(k, "ct"))
        return get_bin(v, "ct", &m->callback_tpl, &m->callback_tpl_len, err);
    else if (key_is(k, "fk")) return get_str(v, "fk", 0, &m->fc_key, err);
    else if (key_is(k, "fp")) return get_int(v, "fp", &m->fc_parallelism, err);
    else if (key_is(k, "fr")) return get_int(v, "fr", &m->fc_rate, err);
    else if (key_is(k, "fd"))
        return get_uint(v, "fd", INT64_MAX, &m->fc_period_ms, err);
    else if (key_is(k, "at")) return get_attempts(v, m, err);
    return 0;
}

/* Pre-scans, unpacks into a zone, walks the map into a new message and
 * checks it.  Returns the message (the caller frees it) or NULL with the
 * reason in "err".  Nothing outside [data, data+len) is read. */
sf_message *sf_message_decode(const void *data, size_t len, sf_err *err) {
    if (!data || len == 0) {
        sf_err_set(err, "empty envelope");
        return NULL;
    }
    if (prescan(data, len, err) < 0) return NULL;

    msgpack_unpacked up;
    size_t off = 0;
    msgpack_unpacked_init(&up);
    if (msgpack_unpack_next(&up, data, len, &off) != MSGPACK_UNPACK_SUCCESS ||
        off != len) {
        sf_err_set(err, "malformed msgpack");
        msgpack_unpacked_destroy(&up);
        return NULL;
    }
    /* "up" owns the zone; every object below lives until destroy. */
    const msgpack_object *root = &up.data;
    sf_message *m = NULL;
    if (root->type != MSGPACK_OBJECT_MAP) {
        sf_err_set(err, "envelope is not a map");
        goto fail;
    }
    m = sf_message_new();
    sf_assert(m != NULL);
    m->version = 0; /* must come from the data */
    for (uint32_t i = 0; i < root->via.map.size; i++) {
        const msgpack_object_kv *kv = &root->via.map.ptr[i];
        if (kv->key.type != MSGPACK_OBJECT_STR) {
            sf_err_set(err, "envelope key is not a string");
            goto fail;
        }
        if (decode_field(m, &kv->key, &kv->val, err) < 0) goto fail;
    }
    if (m->version < 1) {
        sf_err_set(err, "envelope has no schema version");
        goto fail;
    }
    if (m->version > SF_MESSAGE_SCHEMA) {
        sf_err_set(err, "envelope schema %d is newer than %d", m->version,
                   SF_MESSAGE_SCHEMA);
        goto fail;
    }
    if (!m->id || !m->id[0] || !m->url || !m->url[0]) {
        sf_err_set(err, "envelope has no %s", !m->id || !m->id[0] ? "id" : "url");
        goto fail;
    }
    if (!m->method) m->method = xstrdup("POST");
    msgpack_unpacked_destroy(&up);
    return m;

fail:
    sf_message_free(m);
    msgpack_unpacked_destroy(&up);
    return NULL;
}
