/* publish.c - request headers → sf_message (see publish.h). */
#include "publish.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "backoff.h"
#include "expr.h"
#include "util.h"

#define MAX_SETTING_LEN 512 /* dedup id, label: they end up in key names */

static const char *const methods[] = {"GET", "POST", "PUT", "PATCH",
                                      "DELETE", "HEAD"};

/* Copies the method in upper case into "out" when it is one we deliver. */
static int method_ok(const char *v, char out[8]) {
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
        if (strcasecmp(v, methods[i]) == 0) {
            snprintf(out, 8, "%s", methods[i]);
            return 1;
        }
    }
    return 0;
}

/* Trims ASCII blanks on both ends into a bounded copy. */
static void trim_copy(const char *v, char *out, size_t out_size) {
    while (*v == ' ' || *v == '\t') v++;
    size_t n = strlen(v);
    while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t')) n--;
    if (n >= out_size) n = out_size - 1;
    memcpy(out, v, n);
    out[n] = '\0';
}

int sf_publish_url_ok(const char *url) {
    const char *p;
    if (!url) return 0;
    if (sf_has_prefix_ci(url, "http://")) p = url + 7;
    else if (sf_has_prefix_ci(url, "https://")) p = url + 8;
    else return 0;
    for (const unsigned char *c = (const unsigned char *)url; *c; c++)
        if (*c <= ' ' || *c >= 0x7f) return 0; /* ASCII only */
    /* authority = [userinfo@]host[:port], up to the path/query/fragment */
    size_t alen = strcspn(p, "/?#");
    const char *at = memchr(p, '@', alen);
    const char *host = at ? at + 1 : p;
    size_t hlen = alen - (size_t)(host - p);
    if (hlen > 0 && host[0] == '[') return memchr(host, ']', hlen) != NULL;
    const char *colon = memchr(host, ':', hlen);
    if (colon) {
        const char *q = colon + 1, *end = host + hlen;
        if (q == end) return 0;
        for (; q < end; q++)
            if (!isdigit((unsigned char)*q)) return 0;
        hlen = (size_t)(colon - host);
    }
    return hlen > 0;
}

static int hexval(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

char *sf_publish_destination(const char *s) {
    if (!s) return NULL;
    int encoded = sf_has_prefix_ci(s, "http%3A") || sf_has_prefix_ci(s, "https%3A");
    size_t n = strlen(s);
    char *out = malloc(n + 1);
    if (!out) return NULL;
    if (!encoded) {
        memcpy(out, s, n + 1);
        return out;
    }
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '%') {
            out[j++] = s[i];
            continue;
        }
        int hi = i + 2 < n ? hexval(s[i + 1]) : -1;
        int lo = hi >= 0 ? hexval(s[i + 2]) : -1;
        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
            free(out);
            return NULL;
        }
        out[j++] = (char)(hi * 16 + lo);
        i += 2;
    }
    out[j] = '\0';
    return out;
}

static char *xstrdup(const char *s) {
    return s ? strdup(s) : NULL;
}

/* Parses an attempt budget: an integer in [0, SF_MAX_RETRIES]. */
static int parse_retries(const char *v, int *out) {
    char buf[32];
    int64_t n;
    trim_copy(v, buf, sizeof(buf));
    if (sf_parse_i64(buf, strlen(buf), &n) != 0 || n < 0 || n > SF_MAX_RETRIES)
        return -1;
    *out = (int)n;
    return 0;
}

/* Validates an Upstash-Retry-Delay expression. */
static sf_status check_expr(const char *name, const char *v, sf_err *err) {
    sf_err perr = {{0}};
    sf_expr *e = sf_expr_parse(v, &perr);
    if (!e) {
        sf_err_set(err, "invalid %s: %s", name, perr.msg);
        return SF_INVALID;
    }
    sf_expr_free(e);
    return SF_OK;
}

/* Parses a timeout: a duration ("30s") or bare seconds, in (0, max]. */
static sf_status parse_timeout(const char *name, const char *v, int64_t max_ms,
                               int64_t *out, sf_err *err) {
    char buf[64];
    sf_err perr = {{0}};
    trim_copy(v, buf, sizeof(buf));
    if (sf_duration_parse_ms(buf, out, &perr) != SF_OK) {
        sf_err_set(err, "invalid %s: %s", name, perr.msg);
        return SF_INVALID;
    }
    if (*out <= 0 || (max_ms > 0 && *out > max_ms)) {
        sf_err_set(err, "invalid %s: '%.40s' must be more than 0 and at most %lld ms",
                   name, buf, (long long)max_ms);
        return SF_INVALID;
    }
    return SF_OK;
}

static void hex_sha256(const char *a, const void *b, size_t blen, char out[65]) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) ||
        !EVP_DigestUpdate(ctx, a, strlen(a)) ||
        (blen && !EVP_DigestUpdate(ctx, b, blen)) ||
        !EVP_DigestFinal_ex(ctx, md, &mdlen))
        mdlen = 0;
    EVP_MD_CTX_free(ctx);
    out[0] = '\0';
    for (unsigned int i = 0; i < mdlen && i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* The settings collected from the headers before the message is built. */
typedef struct settings {
    int64_t delay_ms;       /* -1 = none */
    int64_t not_before_s;   /* -1 = none */
    int content_dedup;
    sf_message *cb;         /* Upstash-Callback-* settings, or NULL */
    struct settings *cbs;   /* the template's own settings (ignored) */
    sf_publish_wf *wf;      /* where Workflow-Init/-CallType go, or NULL */
    int nested;             /* these are the callback's own settings */
} settings;

#define IS(wanted) (strcasecmp(h->name, (wanted)) == 0)

int sf_flow_control_parse(const char *value, sf_message *m, char *why,
                          size_t why_size) {
    char buf[256];
    int seen = 0;
    trim_copy(value ? value : "", buf, sizeof(buf));
    m->fc_parallelism = m->fc_rate = 0;
    m->fc_period_ms = 0;
    for (char *save = NULL, *item = strtok_r(buf, ",", &save); item;
         item = strtok_r(NULL, ",", &save)) {
        char part[128], *eq;
        trim_copy(item, part, sizeof(part));
        if (!part[0]) continue;
        if (!(eq = strchr(part, '='))) {
            snprintf(why, why_size, "'%.40s' is not name=value", part);
            return -1;
        }
        *eq = '\0';
        const char *name = part, *val = eq + 1;
        int64_t n;
        sf_err perr = {{0}};
        if (strcasecmp(name, "parallelism") == 0 ||
            strcasecmp(name, "rate") == 0 ||
            strcasecmp(name, "ratePerSecond") == 0) {
            if (sf_parse_i64(val, strlen(val), &n) != 0 || n < 1 || n > 1000000) {
                snprintf(why, why_size, "%s must be an integer from 1 to 1000000",
                         name);
                return -1;
            }
            if (strcasecmp(name, "parallelism") == 0) m->fc_parallelism = (int)n;
            else m->fc_rate = (int)n;
        } else if (strcasecmp(name, "period") == 0) {
            if (sf_duration_parse_ms(val, &n, &perr) != SF_OK || n < 1 ||
                n > 86400000LL * 7) {
                snprintf(why, why_size, "period must be a duration like 1s or 5m "
                         "(up to 7 days)");
                return -1;
            }
            m->fc_period_ms = n;
        } else {
            snprintf(why, why_size, "unknown setting '%.40s' (parallelism, rate, "
                     "period)", name);
            return -1;
        }
        seen++;
    }
    if (m->fc_parallelism == 0 && m->fc_rate == 0) {
        snprintf(why, why_size, "give at least one of parallelism or rate");
        return -1;
    }
    (void)seen;
    if (m->fc_rate > 0 && m->fc_period_ms == 0) m->fc_period_ms = 1000;
    return 0;
}

static sf_status apply_header(const sf_publish_input *in, const sf_kv *h,
                              sf_message *m, settings *s, sf_err *err);

/* A run id names Redis keys and appears in JSON answers: bounded,
 * printable ASCII. */
static int run_id_ok(const char *v) {
    size_t n = strlen(v);
    if (n == 0 || n > SF_MAX_RUN_ID_LEN) return 0;
    for (const unsigned char *p = (const unsigned char *)v; *p; p++)
        if (*p <= ' ' || *p >= 0x7f) return 0;
    return 1;
}

/* Upstash-Callback-<X>: setting <X> of the callback report message, read
 * with the same rules as Upstash-<X> on the message itself. */
static sf_status apply_callback_header(const sf_publish_input *in,
                                       const sf_kv *h, settings *s,
                                       sf_err *err) {
    if (s->nested) return SF_OK; /* a callback's callback is not a thing */
    if (!s->cb) {
        s->cb = sf_message_new();
        s->cbs = calloc(1, sizeof(*s->cbs));
        if (!s->cb || !s->cbs) {
            sf_err_set(err, "out of memory");
            return SF_ERR;
        }
        s->cbs->delay_ms = s->cbs->not_before_s = -1;
        s->cbs->nested = 1;
    }
    const char *rest = h->name + strlen("Upstash-Callback-");
    size_t need = strlen("Upstash-") + strlen(rest) + 1;
    char *name = malloc(need);
    if (!name) {
        sf_err_set(err, "out of memory");
        return SF_ERR;
    }
    snprintf(name, need, "Upstash-%s", rest);
    sf_kv inner = {name, h->value};
    sf_err ierr = {{0}};
    sf_status st = apply_header(in, &inner, s->cb, s->cbs, &ierr);
    if (st != SF_OK) sf_err_set(err, "callback setting %s: %s", h->name, ierr.msg);
    free(name);
    return st;
}

/* Applies one header to "m"/"s". */
static sf_status apply_header(const sf_publish_input *in, const sf_kv *h,
                              sf_message *m, settings *s, sf_err *err) {
    const char *v = h->value ? h->value : "";
    char buf[64], meth[8];
    if (sf_has_prefix_ci(h->name, "Upstash-Callback-")) {
        return apply_callback_header(in, h, s, err);
    } else if (IS("Upstash-Callback")) {
        if (!sf_publish_url_ok(v)) {
            sf_err_set(err, "invalid callback: '%.100s' is not an absolute "
                       "http(s) URL", v);
            return SF_INVALID;
        }
        free(m->callback_tpl); /* the URL is kept here until the end */
        m->callback_tpl = (unsigned char *)xstrdup(v);
        m->callback_tpl_len = 0;
    } else if (IS("Upstash-Flow-Control-Key")) {
        if (!*v || strlen(v) > MAX_SETTING_LEN) {
            sf_err_set(err, "invalid Upstash-Flow-Control-Key: empty or longer "
                       "than %d bytes", MAX_SETTING_LEN);
            return SF_INVALID;
        }
        free(m->fc_key);
        m->fc_key = xstrdup(v);
    } else if (IS("Upstash-Flow-Control-Value")) {
        char why[160];
        if (sf_flow_control_parse(v, m, why, sizeof(why)) != 0) {
            sf_err_set(err, "invalid Upstash-Flow-Control-Value: %s", why);
            return SF_INVALID;
        }
    } else if (IS("Upstash-Workflow-Init")) {
        if (s->wf) s->wf->init = strcasecmp(v, "true") == 0;
    } else if (IS("Upstash-Workflow-CallType")) {
        if (s->wf) trim_copy(v, s->wf->call_type, sizeof(s->wf->call_type));
    } else if (sf_has_prefix_ci(h->name, "Upstash-Failure-Callback-Forward-")) {
        const char *n = h->name + strlen("Upstash-Failure-Callback-Forward-");
        if (*n) sf_headers_add(&m->cb_headers, n, v);
    } else if (IS("Upstash-Failure-Callback-Retries")) {
        if (parse_retries(v, &m->cb_max_retries) != 0) {
            sf_err_set(err, "invalid Upstash-Failure-Callback-Retries: '%.40s' "
                       "(an integer from 0 to %d)", v, SF_MAX_RETRIES);
            return SF_INVALID;
        }
    } else if (IS("Upstash-Failure-Callback-Retry-Delay")) {
        if (check_expr("Upstash-Failure-Callback-Retry-Delay", v, err) != SF_OK)
            return SF_INVALID;
        free(m->cb_retry_delay);
        m->cb_retry_delay = xstrdup(v);
    } else if (IS("Upstash-Failure-Callback-Timeout")) {
        return parse_timeout("Upstash-Failure-Callback-Timeout", v,
                             in->max_timeout_ms, &m->cb_timeout_ms, err);
    } else if (IS("Upstash-Failure-Callback-Method")) {
        if (!method_ok(v, meth)) {
            sf_err_set(err, "invalid Upstash-Failure-Callback-Method: '%.20s'", v);
            return SF_INVALID;
        }
        free(m->cb_method);
        m->cb_method = xstrdup(meth);
    } else if (IS("Upstash-Failure-Callback")) {
        if (!sf_publish_url_ok(v)) {
            sf_err_set(err, "invalid failure callback: '%.100s' is not an "
                       "absolute http(s) URL", v);
            return SF_INVALID;
        }
        free(m->failure_callback);
        m->failure_callback = xstrdup(v);
    } else if (sf_has_prefix_ci(h->name, "Upstash-Forward-")) {
        const char *n = h->name + strlen("Upstash-Forward-");
        if (*n) sf_headers_add(&m->headers, n, v);
    } else if (IS("Content-Type")) {
        sf_headers_add(&m->headers, "Content-Type", v);
    } else if (IS("Upstash-Method")) {
        if (!method_ok(v, meth)) {
            sf_err_set(err, "invalid Upstash-Method: '%.20s' (GET, POST, PUT, "
                       "PATCH, DELETE or HEAD)", v);
            return SF_INVALID;
        }
        free(m->method);
        m->method = xstrdup(meth);
    } else if (IS("Upstash-Retries")) {
        if (parse_retries(v, &m->max_retries) != 0) {
            sf_err_set(err, "invalid Upstash-Retries: '%.40s' (an integer from "
                       "0 to %d)", v, SF_MAX_RETRIES);
            return SF_INVALID;
        }
    } else if (IS("Upstash-Retry-Delay")) {
        if (check_expr("Upstash-Retry-Delay", v, err) != SF_OK) return SF_INVALID;
        free(m->retry_delay);
        m->retry_delay = xstrdup(v);
    } else if (IS("Upstash-Delay")) {
        sf_err perr = {{0}};
        trim_copy(v, buf, sizeof(buf));
        if (sf_duration_parse_ms(buf, &s->delay_ms, &perr) != SF_OK) {
            sf_err_set(err, "invalid Upstash-Delay: %s", perr.msg);
            return SF_INVALID;
        }
        if (s->delay_ms > SF_MAX_DELAY_MS_PUBLISH) {
            sf_err_set(err, "invalid Upstash-Delay: '%.40s' is more than a year", buf);
            return SF_INVALID;
        }
    } else if (IS("Upstash-Not-Before")) {
        trim_copy(v, buf, sizeof(buf));
        if (sf_parse_i64(buf, strlen(buf), &s->not_before_s) != 0 ||
            s->not_before_s < 0 || s->not_before_s > 100000000000LL) {
            sf_err_set(err, "invalid Upstash-Not-Before: '%.40s' (unix time in "
                       "seconds)", v);
            return SF_INVALID;
        }
    } else if (IS("Upstash-Timeout")) {
        return parse_timeout("Upstash-Timeout", v, in->max_timeout_ms,
                             &m->timeout_ms, err);
    } else if (IS("Upstash-Deduplication-Id")) {
        if (!*v || strlen(v) > MAX_SETTING_LEN) {
            sf_err_set(err, "invalid Upstash-Deduplication-Id: empty or longer "
                       "than %d bytes", MAX_SETTING_LEN);
            return SF_INVALID;
        }
        free(m->dedup_id);
        m->dedup_id = xstrdup(v);
    } else if (IS("Upstash-Content-Based-Deduplication")) {
        trim_copy(v, buf, sizeof(buf));
        s->content_dedup = strcasecmp(buf, "true") == 0;
    } else if (IS("Upstash-Label")) {
        if (strlen(v) > MAX_SETTING_LEN) {
            sf_err_set(err, "invalid Upstash-Label: longer than %d bytes",
                       MAX_SETTING_LEN);
            return SF_INVALID;
        }
        free(m->label);
        m->label = *v ? xstrdup(v) : NULL;
    } else if (IS("Upstash-Workflow-RunId")) {
        if (!run_id_ok(v)) {
            sf_err_set(err, "invalid Upstash-Workflow-RunId: 1 to %d printable "
                       "ASCII characters without spaces", SF_MAX_RUN_ID_LEN);
            return SF_INVALID;
        }
        free(m->workflow_run_id);
        m->workflow_run_id = *v ? xstrdup(v) : NULL;
    } else if (IS("Upstash-Workflow-Url")) {
        free(m->workflow_url);
        m->workflow_url = *v ? xstrdup(v) : NULL;
    }
    /* Every other header stays with the publish request. */
    return SF_OK;
}

static void drop_callback(settings *s) {
    sf_message_free(s->cb);
    free(s->cbs);
    s->cb = NULL;
    s->cbs = NULL;
}

/* Turns the Upstash-Callback URL (kept in m->callback_tpl as text while
 * the headers are read) and the Upstash-Callback-* settings into the
 * encoded template of the report message.  Settings without a URL are
 * ignored, as the callback itself is optional. */
static sf_status finish_callback(sf_message *m, settings *s, sf_err *err) {
    char *url = (char *)m->callback_tpl;
    m->callback_tpl = NULL;
    m->callback_tpl_len = 0;
    if (!url) {
        drop_callback(s);
        return SF_OK;
    }
    sf_message *cb = s->cb ? s->cb : sf_message_new();
    if (!cb) {
        free(url);
        drop_callback(s);
        sf_err_set(err, "out of memory");
        return SF_ERR;
    }
    s->cb = cb;
    cb->id = xstrdup("tpl");
    cb->url = url;
    if (!cb->method) cb->method = xstrdup("POST");
    cb->caller_ip = xstrdup(m->caller_ip);
    sf_buf b;
    sf_buf_init(&b);
    sf_message_encode(cb, &b);
    m->callback_tpl = (unsigned char *)b.data;
    m->callback_tpl_len = b.len;
    drop_callback(s);
    return SF_OK;
}

sf_status sf_publish_parse(const sf_publish_input *in, sf_message **out,
                           int64_t *due_ms, sf_err *err) {
    *out = NULL;
    *due_ms = 0;
    char *dest = sf_publish_destination(in->destination);
    if (!dest || !sf_publish_url_ok(dest)) {
        sf_err_set(err, "invalid destination: '%.100s' is not an absolute "
                   "http(s) URL", in->destination ? in->destination : "");
        free(dest);
        return SF_INVALID;
    }
    sf_message *m = sf_message_new();
    if (!m) {
        free(dest);
        sf_err_set(err, "out of memory");
        return SF_ERR;
    }
    settings s = {.delay_ms = -1, .not_before_s = -1, .wf = in->wf_out};
    if (in->wf_out) memset(in->wf_out, 0, sizeof(*in->wf_out));
    m->url = dest;
    m->method = xstrdup("POST");
    for (size_t i = 0; i < in->n_headers; i++) {
        if (!in->headers[i].name) continue;
        if (apply_header(in, &in->headers[i], m, &s, err) != SF_OK) {
            sf_message_free(m);
            drop_callback(&s);
            return SF_INVALID;
        }
    }
    char id[64];
    m->id = xstrdup(sf_random_id("msg_", id, sizeof(id)));
    m->created_ms = in->now_ms;
    m->caller_ip = xstrdup(in->caller_ip);
    if (in->body_len > 0) {
        m->body = malloc(in->body_len);
        if (!m->body) {
            sf_message_free(m);
            drop_callback(&s);
            sf_err_set(err, "out of memory");
            return SF_ERR;
        }
        memcpy(m->body, in->body, in->body_len);
        m->body_len = in->body_len;
    }
    if (!m->dedup_id && s.content_dedup) {
        char hex[65];
        hex_sha256(m->url, m->body, m->body_len, hex);
        m->dedup_id = xstrdup(hex);
    }
    if (finish_callback(m, &s, err) != SF_OK) {
        sf_message_free(m);
        return SF_INVALID;
    }
    if (m->fc_key && m->fc_parallelism == 0 && m->fc_rate == 0) {
        sf_err_set(err, "Upstash-Flow-Control-Key needs an "
                   "Upstash-Flow-Control-Value (parallelism=N and/or rate=N)");
        sf_message_free(m);
        return SF_INVALID;
    }
    if (!m->fc_key) m->fc_parallelism = m->fc_rate = 0, m->fc_period_ms = 0;
    int64_t due = 0;
    if (s.delay_ms > 0) due = in->now_ms + s.delay_ms;
    if (s.not_before_s >= 0 && s.not_before_s * 1000 > due)
        due = s.not_before_s * 1000;
    m->not_before_ms = due;
    *due_ms = due > in->now_ms ? due : 0;
    *out = m;
    return SF_OK;
}
