/* dlq_json.c - DLQ entry hash → DlqMessage JSON (see dlq_json.h). */
#include "dlq_json.h"

#include <stdlib.h>
#include <string.h>

#include "dlq.h"
#include "message.h"
#include "util.h"

/* Index of "name" among the fields, or -1. */
static long find(const char **fields, size_t n, const char *name) {
    for (size_t i = 0; i < n; i++)
        if (fields[i] && strcmp(fields[i], name) == 0) return (long)i;
    return -1;
}

/* Sets key to the text, or key+"Base64" to its base64 when not UTF-8. */
static void set_text_or_b64(json_t *o, const char *key, const char *b64key,
                            const void *p, size_t len) {
    if (sf_utf8_valid(p, len)) {
        json_object_set_new(o, key, json_stringn(p ? p : "", len));
    } else {
        char *b = sf_base64_encode(p, len);
        if (b) json_object_set_new(o, b64key, json_string(b));
        free(b);
    }
}

static void set_int(json_t *o, const char *key, const char *v) {
    int64_t x = 0;
    if (v && sf_parse_i64(v, strlen(v), &x) == 0)
        json_object_set_new(o, key, json_integer(x));
}

/* Parses a JSON field (headers, attempts); absent or broken → fallback. */
static json_t *parse_json(const char *v, size_t len, json_t *fallback) {
    json_t *j = v ? json_loadb(v, len, 0, NULL) : NULL;
    if (!j) return fallback;
    json_decref(fallback);
    return j;
}

/* Headers → {name: [values]} */
static json_t *headers_json(const sf_headers *h) {
    json_t *o = json_object();
    for (size_t i = 0; i < h->len; i++) {
        const char *name = h->items[i].name, *val = h->items[i].value;
        if (!name || !sf_utf8_valid(name, strlen(name))) continue;
        json_t *a = json_object_get(o, name);
        if (!a) {
            a = json_array();
            json_object_set_new(o, name, a);
        }
        json_array_append_new(a, json_stringn(val ? val : "", val ? strlen(val) : 0));
    }
    return o;
}

json_t *sf_dlq_entry_json(const char **fields, const size_t *flen,
                          const char **values, const size_t *vlen, size_t n) {
    (void)flen;
    json_t *o = json_object();
    if (!o) return NULL;
    static const char *const strs[] = {"dlqId", "messageId", "url", "method",
                                       "callerIP", "workflowRunId",
                                       "workflowUrl", "failureCallback", "reason"};
    for (size_t k = 0; k < sizeof(strs) / sizeof(strs[0]); k++) {
        long i = find(fields, n, strs[k]);
        if (i >= 0 && vlen[i] > 0 && sf_utf8_valid(values[i], vlen[i]))
            json_object_set_new(o, strs[k], json_stringn(values[i], vlen[i]));
    }
    long i;
    /* "label" is the first label, "labels" all of them (SDK DLQMessage). */
    if ((i = find(fields, n, "label")) >= 0 && sf_utf8_valid(values[i], vlen[i]))
        sf_labels_json_set(o, values[i], vlen[i]);
    static const char *const ints[] = {"createdAt", "dlqAt", "maxRetries",
                                       "notBefore", "responseStatus"};
    for (size_t k = 0; k < sizeof(ints) / sizeof(ints[0]); k++)
        if ((i = find(fields, n, ints[k])) >= 0) set_int(o, ints[k], values[i]);
    if ((i = find(fields, n, "workflowCreatedAt")) >= 0 && strcmp(values[i], "0") != 0)
        set_int(o, "workflowCreatedAt", values[i]);
    if ((i = find(fields, n, "retryDelay")) >= 0 && vlen[i] > 0 &&
        sf_utf8_valid(values[i], vlen[i]))
        json_object_set_new(o, "retryDelayExpression", json_stringn(values[i], vlen[i]));
    if ((i = find(fields, n, "responseHeader")) >= 0)
        json_object_set_new(o, "responseHeader",
                            parse_json(values[i], vlen[i], json_object()));
    if ((i = find(fields, n, "responseBody")) >= 0)
        set_text_or_b64(o, "responseBody", "responseBodyBase64", values[i], vlen[i]);
    if ((i = find(fields, n, "attempts")) >= 0)
        json_object_set_new(o, "attempts", parse_json(values[i], vlen[i], json_array()));
    if ((i = find(fields, n, "raw")) >= 0 && sf_utf8_valid(values[i], vlen[i]))
        json_object_set_new(o, "raw", json_stringn(values[i], vlen[i]));

    /* From the envelope: the original request. */
    if ((i = find(fields, n, "m")) >= 0) {
        sf_message *m = sf_message_decode(values[i], vlen[i], NULL);
        if (m) {
            json_object_set_new(o, "header", headers_json(&m->headers));
            set_text_or_b64(o, "body", "bodyBase64", m->body, m->body_len);
            if (!json_object_get(o, "maxRetries"))
                json_object_set_new(o, "maxRetries", json_integer(m->max_retries));
            if (!json_object_get(o, "retryDelayExpression") && m->retry_delay)
                json_object_set_new(o, "retryDelayExpression",
                                    json_string(m->retry_delay));
            if (!json_object_get(o, "notBefore") && m->not_before_ms)
                json_object_set_new(o, "notBefore", json_integer(m->not_before_ms));
            sf_message_free(m);
        }
    }

    /* The failure callback's state and last response. */
    long cb = find(fields, n, "failureCallback");
    if (cb >= 0 && vlen[cb] > 0) {
        json_t *info = json_object();
        long s = find(fields, n, "callbackState");
        json_object_set_new(info, "state",
                            json_string(s >= 0 && sf_utf8_valid(values[s], vlen[s])
                                            ? values[s] : "CALLBACK_INPROGRESS"));
        if ((i = find(fields, n, "callbackResponseStatus")) >= 0)
            set_int(info, "responseStatus", values[i]);
        if ((i = find(fields, n, "callbackResponseBody")) >= 0)
            set_text_or_b64(info, "responseBody", "responseBodyBase64", values[i],
                            vlen[i]);
        if ((i = find(fields, n, "callbackResponseHeader")) >= 0)
            json_object_set_new(info, "responseHeaders",
                                parse_json(values[i], vlen[i], json_object()));
        if ((i = find(fields, n, "callbackRetried")) >= 0) /* attempts used */
            set_int(info, "attempts", values[i]);
        if ((i = find(fields, n, "callbackUpdatedAt")) >= 0)
            set_int(info, "updatedAt", values[i]);
        /* The failed attempts of the current run, oldest first (last 10):
         * [{error, body, headers, status, time}]. */
        if ((i = find(fields, n, "callbackErrors")) >= 0)
            json_object_set_new(info, "errors",
                                parse_json(values[i], vlen[i], json_array()));
        json_object_set_new(o, "failureCallbackInfo", info);
    }
    return o;
}
