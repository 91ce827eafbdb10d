#include "output.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Formats epoch milliseconds as ISO-8601 UTC. */
char *sf_out_iso8601(int64_t ms, char *out, size_t out_size) {
    /* Beyond year 9999 gmtime may fail or print more digits: show raw ms. */
    if (ms <= 0 || ms > INT64_C(253402300799999)) {
        if (ms <= 0)
            snprintf(out, out_size, "-");
        else
            snprintf(out, out_size, "%" PRId64, ms);
        return out;
    }
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    if (!gmtime_r(&s, &tm)) {
        snprintf(out, out_size, "%" PRId64, ms);
        return out;
    }
    snprintf(out, out_size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, (int)(ms % 1000));
    return out;
}

/* Copies a printable, length-bounded version of "s". */
char *sf_out_clip(const char *s, size_t max_chars, char *out, size_t out_size) {
    size_t o = 0, shown = 0;
    int cut = 0;
    if (!s) s = "-";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        int cont = (*p & 0xC0) == 0x80; /* UTF-8 continuation byte */
        /* Room for this byte (2 for an escaped newline), "..." and NUL. */
        if ((!cont && shown >= max_chars) || o + 2 + 3 + 1 > out_size) {
            cut = 1;
            break;
        }
        if (*p == '\n' || *p == '\r') {
            if (shown + 2 > max_chars) {
                cut = 1;
                break;
            }
            out[o++] = '\\';
            out[o++] = *p == '\n' ? 'n' : 'r';
            shown += 2;
            continue;
        }
        out[o++] = (*p < 0x20 || *p == 0x7f) ? ' ' : (char)*p;
        if (!cont) shown++;
    }
    if (cut) {
        /* Do not leave half a UTF-8 sequence before the ellipsis. */
        while (o > 0 && ((unsigned char)out[o - 1] & 0xC0) == 0x80) o--;
        if (o > 0 && ((unsigned char)out[o - 1] & 0xC0) == 0xC0) o--;
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
    return out;
}

/* Reads an integer that may come as a JSON number or a numeric string. */
int sf_out_json_i64(const json_t *v, int64_t *out) {
    if (json_is_integer(v)) {
        *out = (int64_t)json_integer_value(v);
        return 0;
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);
        if (d != d || d > 9.2e18 || d < -9.2e18) return -1;
        *out = (int64_t)d;
        return 0;
    }
    const char *s = json_string_value(v);
    if (!s || !*s) return -1;
    char *end;
    long long x = strtoll(s, &end, 10);
    if (*end) return -1;
    *out = (int64_t)x;
    return 0;
}

/* The string value of obj[key], or "-" when absent or not a string. */
static const char *str_field(const json_t *obj, const char *key) {
    const char *s = json_string_value(json_object_get(obj, key));
    return s && s[0] ? s : "-";
}

/* obj[key] as text: strings as they are, integers in decimal, "-" else. */
static void scalar_field(const json_t *obj, const char *key, char *out,
                         size_t out_size) {
    const json_t *v = json_object_get(obj, key);
    int64_t i;
    if (json_is_string(v) && json_string_length(v) > 0)
        snprintf(out, out_size, "%s", json_string_value(v));
    else if (json_is_boolean(v))
        snprintf(out, out_size, "%s", json_is_true(v) ? "true" : "false");
    else if (!json_is_string(v) && sf_out_json_i64(v, &i) == 0)
        snprintf(out, out_size, "%" PRId64, i);
    else
        snprintf(out, out_size, "-");
}

static void time_field(const json_t *obj, const char *key, char *out,
                       size_t out_size) {
    int64_t ms;
    if (sf_out_json_i64(json_object_get(obj, key), &ms) != 0) ms = 0;
    sf_out_iso8601(ms, out, out_size);
}

/* The failure callback's state, "-" when the entry has no callback. */
static const char *cb_state(const json_t *m) {
    const json_t *info = json_object_get(m, "failureCallbackInfo");
    const char *s = json_string_value(json_object_get(info, "state"));
    return s && s[0] ? s : "-";
}

enum { COL_DLQ, COL_MSG, COL_URL, COL_STATUS, COL_CB, COL_TIME, NCOLS };
#define CELL_MAX 160

typedef struct row {
    char cell[NCOLS][CELL_MAX];
} row;

/* One cell padded to "width"; the last column ends the line instead. */
static void print_cell(FILE *f, const char *s, size_t width, int col) {
    if (col + 1 < NCOLS)
        fprintf(f, "%-*s  ", (int)width, s);
    else
        fprintf(f, "%s\n", s);
}

/* Prints rows with each column as wide as its widest cell. */
void sf_out_dlq_table(FILE *f, const json_t *messages) {
    static const char *heads[NCOLS] = {"DLQ ID", "MESSAGE ID", "URL",
                                       "STATUS", "CALLBACK",   "DLQ TIME"};
    size_t n = json_is_array(messages) ? json_array_size(messages) : 0;
    if (n == 0) {
        fprintf(f, "no DLQ entries\n");
        return;
    }
    row *rows = calloc(n, sizeof(*rows));
    if (!rows) {
        fprintf(f, "out of memory\n");
        return;
    }
    size_t width[NCOLS];
    for (int c = 0; c < NCOLS; c++) width[c] = strlen(heads[c]);
    for (size_t i = 0; i < n; i++) {
        const json_t *m = json_array_get(messages, i);
        row *r = &rows[i];
        char tmp[CELL_MAX];
        sf_out_clip(str_field(m, "dlqId"), 64, r->cell[COL_DLQ], CELL_MAX);
        sf_out_clip(str_field(m, "messageId"), 64, r->cell[COL_MSG], CELL_MAX);
        sf_out_clip(str_field(m, "url"), SF_OUT_URL_WIDTH, r->cell[COL_URL],
                    CELL_MAX);
        scalar_field(m, "responseStatus", tmp, sizeof(tmp));
        sf_out_clip(tmp, 8, r->cell[COL_STATUS], CELL_MAX);
        sf_out_clip(cb_state(m), 32, r->cell[COL_CB], CELL_MAX);
        time_field(m, "dlqAt", r->cell[COL_TIME], CELL_MAX);
        if (strcmp(r->cell[COL_TIME], "-") == 0)
            time_field(m, "createdAt", r->cell[COL_TIME], CELL_MAX);
        for (int c = 0; c < NCOLS; c++) {
            size_t w = strlen(r->cell[c]);
            if (w > width[c]) width[c] = w;
        }
    }
    for (int c = 0; c < NCOLS; c++) print_cell(f, heads[c], width[c], c);
    for (size_t i = 0; i < n; i++)
        for (int c = 0; c < NCOLS; c++)
            print_cell(f, rows[i].cell[c], width[c], c);
    free(rows);
}

/* Prints "label: value" with values aligned after the longest label. */
static void kv(FILE *f, const char *label, const char *value) {
    fprintf(f, "%-24s %s\n", label, value && value[0] ? value : "-");
}

/* Prints a JSON value compactly (headers maps), clipped. */
static void kv_json(FILE *f, const char *label, const json_t *v) {
    char clip[SF_OUT_BODY_WIDTH + 8];
    if (!v || json_is_null(v)) {
        kv(f, label, "-");
        return;
    }
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    kv(f, label,
       sf_out_clip(s ? s : "-", SF_OUT_BODY_WIDTH, clip, sizeof(clip)));
    free(s);
}

static void kv_body(FILE *f, const char *label, const json_t *obj,
                    const char *key) {
    char clip[SF_OUT_BODY_WIDTH + 8];
    const json_t *v = json_object_get(obj, key);
    if (!v) {
        /* Bodies that are not UTF-8 come as <key>Base64. */
        char b64key[64];
        snprintf(b64key, sizeof(b64key), "%sBase64", key);
        const char *b = json_string_value(json_object_get(obj, b64key));
        if (b) {
            char label2[64];
            snprintf(label2, sizeof(label2), "%.40s (base64)", label);
            kv(f, label2,
               sf_out_clip(b, SF_OUT_BODY_WIDTH, clip, sizeof(clip)));
            return;
        }
    }
    if (json_is_string(v))
        kv(f, label,
           sf_out_clip(json_string_value(v), SF_OUT_BODY_WIDTH, clip,
                       sizeof(clip)));
    else
        kv_json(f, label, v);
}

static void kv_scalar(FILE *f, const char *label, const json_t *obj,
                      const char *key) {
    char buf[CELL_MAX], clip[CELL_MAX];
    scalar_field(obj, key, buf, sizeof(buf));
    kv(f, label, sf_out_clip(buf, 120, clip, sizeof(clip)));
}

static void kv_time(FILE *f, const char *label, const json_t *obj,
                    const char *key) {
    char buf[40];
    time_field(obj, key, buf, sizeof(buf));
    kv(f, label, buf);
}

/* One attempt: "  #1  <time>  status 500  12 ms  error ...". */
static void print_attempt(FILE *f, size_t i, const json_t *a) {
    char at[40], status[32], lat[32], err[CELL_MAX];
    time_field(a, "at", at, sizeof(at));
    scalar_field(a, "status", status, sizeof(status));
    scalar_field(a, "latencyMs", lat, sizeof(lat));
    const char *e = json_string_value(json_object_get(a, "error"));
    fprintf(f, "  #%-3zu %s  status %s  %s ms", i + 1, at, status, lat);
    if (e && e[0])
        fprintf(f, "  error %s", sf_out_clip(e, 100, err, sizeof(err)));
    fputc('\n', f);
}

/* Prints one DLQ entry in full. */
void sf_out_dlq_entry(FILE *f, const json_t *m) {
    if (!json_is_object(m)) {
        fprintf(f, "unexpected reply: not a DLQ entry\n");
        return;
    }
    kv_scalar(f, "dlqId:", m, "dlqId");
    kv_scalar(f, "messageId:", m, "messageId");
    kv_scalar(f, "url:", m, "url");
    kv_scalar(f, "method:", m, "method");
    kv_scalar(f, "label:", m, "label");
    kv_time(f, "createdAt:", m, "createdAt");
    kv_time(f, "dlqAt:", m, "dlqAt");
    kv_scalar(f, "reason:", m, "reason");
    kv_scalar(f, "maxRetries:", m, "maxRetries");
    if (json_object_get(m, "workflowRunId"))
        kv_scalar(f, "workflowRunId:", m, "workflowRunId");
    if (json_object_get(m, "workflowUrl"))
        kv_scalar(f, "workflowUrl:", m, "workflowUrl");
    kv_json(f, "header:", json_object_get(m, "header"));
    kv_body(f, "body:", m, "body");
    kv_scalar(f, "responseStatus:", m, "responseStatus");
    kv_json(f, "responseHeader:", json_object_get(m, "responseHeader"));
    kv_body(f, "responseBody:", m, "responseBody");

    const json_t *attempts = json_object_get(m, "attempts");
    size_t na = json_is_array(attempts) ? json_array_size(attempts) : 0;
    char count[32];
    snprintf(count, sizeof(count), "%zu", na);
    kv(f, "attempts:", count);
    for (size_t i = 0; i < na; i++)
        print_attempt(f, i, json_array_get(attempts, i));

    kv_scalar(f, "failureCallback:", m, "failureCallback");
    const json_t *info = json_object_get(m, "failureCallbackInfo");
    if (json_is_object(info)) {
        kv_scalar(f, "callback state:", info, "state");
        kv_scalar(f, "callback responseStatus:", info, "responseStatus");
        kv_json(f, "callback responseHeaders:",
                json_object_get(info, "responseHeaders"));
        kv_body(f, "callback responseBody:", info, "responseBody");
    } else {
        kv(f, "callback state:", "-");
    }
}
