#include "output.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util.h"

/* ---- scalars ------------------------------------------------------------ */

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
    int n = snprintf(out, out_size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                     tm.tm_min, tm.tm_sec, (int)(ms % 1000));
    if (n < 0 || (size_t)n >= out_size) /* too small: say nothing */
        snprintf(out, out_size, "-");
    return out;
}

/* Formats a duration with the two most significant units. */
char *sf_out_duration(int64_t ms, char *out, size_t out_size) {
    const int64_t s = 1000, m = 60 * s, h = 60 * m, d = 24 * h;
    if (ms < 0)
        snprintf(out, out_size, "-");
    else if (ms < s)
        snprintf(out, out_size, "%" PRId64 "ms", ms);
    else if (ms < 10 * s)
        snprintf(out, out_size, "%" PRId64 ".%" PRId64 "s", ms / s,
                 ms % s / 100);
    else if (ms < m)
        snprintf(out, out_size, "%" PRId64 "s", ms / s);
    else if (ms < h)
        snprintf(out, out_size, "%" PRId64 "m%02" PRId64 "s", ms / m,
                 ms % m / s);
    else if (ms < d)
        snprintf(out, out_size, "%" PRId64 "h%02" PRId64 "m", ms / h,
                 ms % h / m);
    else
        snprintf(out, out_size, "%" PRId64 "d%02" PRId64 "h", ms / d,
                 ms % d / h);
    return out;
}

/* Reads exactly "n" decimal digits at *p, advancing it; -1 if absent. */
static int digits(const char **p, int n) {
    int v = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9') return -1;
        v = v * 10 + (c - '0');
    }
    *p += n;
    return v;
}

/* Days from 1970-01-01 to the proleptic Gregorian date y-m-d (Howard
 * Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m) {
    static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : dm[m - 1];
}

/* Parses epoch milliseconds or an ISO 8601 date-time (see output.h). */
int sf_out_parse_time(const char *s, int64_t *ms_out, const char **why) {
    const char *dummy;
    if (!why) why = &dummy;
    *why = "want Unix milliseconds (13 digits) or ISO 8601 "
           "(2024-05-01, 2024-05-01T12:00:00Z)";
    if (!s || !*s) return -1;
    size_t n = strspn(s, "0123456789");
    if (s[n] == '\0') {
        /* Only 13 digits are taken as milliseconds: shorter numbers are
         * dates or seconds typed by mistake, which would otherwise mean
         * a moment in 1970 and match everything (or nothing). */
        if (n == 8)
            *why = "a date wants dashes: YYYY-MM-DD (2024-05-01)";
        else if (n == 4)
            *why = "a year alone is not a time: write 2024-01-01";
        else if (n == 10)
            *why = "Unix seconds? milliseconds have 13 digits (append 000)";
        if (n != 13) return -1;
        *ms_out = (int64_t)strtoll(s, NULL, 10);
        return 0;
    }
    const char *p = s;
    int y = digits(&p, 4), mo, d, h = 0, mi = 0, se = 0, off = 0;
    int64_t frac_ms = 0;
    if (y < 0 || *p++ != '-' || (mo = digits(&p, 2)) < 1 || mo > 12 ||
        *p++ != '-' || (d = digits(&p, 2)) < 1 || d > days_in_month(y, mo))
        return -1;
    if (*p == 'T' || *p == 't' || *p == ' ') {
        p++;
        if ((h = digits(&p, 2)) < 0 || h > 23 || *p++ != ':' ||
            (mi = digits(&p, 2)) < 0 || mi > 59)
            return -1;
        if (*p == ':') {
            p++;
            if ((se = digits(&p, 2)) < 0 || se > 59) return -1;
            if (*p == '.' || *p == ',') {
                p++;
                size_t fn = strspn(p, "0123456789");
                if (fn == 0 || fn > 9) return -1;
                for (size_t i = 0; i < 3; i++)
                    frac_ms = frac_ms * 10 + (i < fn ? p[i] - '0' : 0);
                p += fn;
            }
        }
        if (*p == 'Z' || *p == 'z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            int sign = *p++ == '-' ? -1 : 1;
            int oh = digits(&p, 2), om = 0;
            if (oh < 0 || oh > 23) return -1;
            if (*p == ':') p++;
            if (*p && (om = digits(&p, 2)) < 0) return -1;
            if (om > 59) return -1;
            off = sign * (oh * 60 + om);
        }
    }
    if (*p != '\0') return -1;
    int64_t ms = ((days_from_civil(y, mo, d) * 24 + h) * 60 + mi - off) * 60;
    ms = (ms + se) * 1000 + frac_ms;
    if (ms < 0) return -1;
    *ms_out = ms;
    return 0;
}

/* The UTF-8 sequence at "p" ("avail" bytes there): its length (1..4) with
 * its code point in "*cp", or 0 when the bytes are not valid UTF-8 (a
 * stray continuation byte, an overlong form, a surrogate, past U+10FFFF,
 * or a sequence cut short). */
static size_t utf8_next(const unsigned char *p, size_t avail, uint32_t *cp) {
    size_t n;
    uint32_t c, min;
    if (p[0] < 0x80) {
        *cp = p[0];
        return 1;
    }
    if ((p[0] & 0xE0) == 0xC0)
        n = 2, c = p[0] & 0x1F, min = 0x80;
    else if ((p[0] & 0xF0) == 0xE0)
        n = 3, c = p[0] & 0x0F, min = 0x800;
    else if ((p[0] & 0xF8) == 0xF0)
        n = 4, c = p[0] & 0x07, min = 0x10000;
    else
        return 0;
    if (n > avail) return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80) return 0;
        c = c << 6 | (p[i] & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return 0;
    *cp = c;
    return n;
}

/* Whether a terminal shows code point "c" as a character: not a C0 or C1
 * control (ESC, CSI... start escape sequences), not DEL, not one of the
 * bidirectional overrides and isolates (they reorder what follows). */
static int printable_cp(uint32_t c) {
    return !(c < 0x20 || (c >= 0x7F && c <= 0x9F) ||
             (c >= 0x202A && c <= 0x202E) || (c >= 0x2066 && c <= 0x2069));
}

/* Copies a printable, length-bounded version of "s". */
char *sf_out_clip(const char *s, size_t max_chars, char *out, size_t out_size) {
    size_t o = 0, shown = 0;
    int cut = 0;
    if (!s) s = "-";
    const unsigned char *p = (const unsigned char *)s;
    size_t left = strlen(s);
    while (left > 0) {
        char unit[8];
        size_t ulen, width = 1;
        uint32_t c;
        size_t in = utf8_next(p, left, &c);
        if (in == 0) { /* not UTF-8: the byte in hex */
            snprintf(unit, sizeof(unit), "\\x%02x", *p);
            ulen = width = 4;
            in = 1;
        } else if (c == '\n' || c == '\r') {
            unit[0] = '\\';
            unit[1] = c == '\n' ? 'n' : 'r';
            ulen = width = 2;
        } else if (!printable_cp(c)) {
            unit[0] = ' ';
            ulen = 1;
        } else {
            memcpy(unit, p, in);
            ulen = in;
        }
        /* Room for this unit, "..." and the NUL. */
        if (shown + width > max_chars || o + ulen + 3 + 1 > out_size) {
            cut = 1;
            break;
        }
        memcpy(out + o, unit, ulen);
        o += ulen;
        shown += width;
        p += in;
        left -= in;
    }
    if (cut) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
    return out;
}

char *sf_out_clean(const char *s) {
    /* Every input byte becomes at most 4 output bytes ("\xff"). */
    size_t size = (s ? strlen(s) : 1) * 4 + 8;
    char *out = malloc(size);
    return out ? sf_out_clip(s, SIZE_MAX, out, size) : NULL;
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

char *sf_out_escape_bytes(const char *s, size_t len) {
    const unsigned char *p = (const unsigned char *)s;
    sf_buf b;
    sf_buf_init(&b);
    for (size_t i = 0; i < len;) {
        uint32_t c = 0;
        size_t in = utf8_next(p + i, len - i, &c);
        if (in > 0 && c != 0) {
            sf_buf_append(&b, s + i, in);
        } else {
            sf_buf_appendf(&b, "\\x%02x", p[i]);
            in = 1;
        }
        i += in;
    }
    return sf_buf_take(&b, NULL);
}

/* Quotes "len" bytes at "s" as one shell word (see output.h). */
char *sf_out_shell_wordn(const char *s, size_t len) {
    /* Never special at the start of a word or inside one: no '^' (zsh
     * and csh history), no '~'; '=' is safe only after the first
     * character (zsh expands "=cmd" to the command's path). */
    static const char safe[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRST"
                               "UVWXYZ0123456789_-.,:/=@%+";
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len && p[i] && strchr(safe, p[i])) i++;
    if (len > 0 && i == len && s[0] != '=') return strndup(s, len);

    /* Printable text goes in single quotes; anything a terminal would act
     * on (or bytes that are not UTF-8) needs $'...' to be typed at all. */
    int printable = 1;
    for (i = 0; i < len && printable;) {
        uint32_t c;
        size_t in = utf8_next(p + i, len - i, &c);
        printable = in > 0 && c != 0 && printable_cp(c);
        i += in;
    }
    sf_buf b;
    sf_buf_init(&b);
    if (printable) {
        sf_buf_appends(&b, "'");
        for (i = 0; i < len; i++) {
            if (p[i] == '\'')
                sf_buf_appends(&b, "'\\''");
            else
                sf_buf_append(&b, s + i, 1);
        }
        sf_buf_appends(&b, "'");
        return sf_buf_take(&b, NULL);
    }
    /* bash/zsh ANSI-C quoting: \xNN for each byte that is not shown as
     * it is, \' and \\ for the two characters special inside.  (A NUL
     * byte cannot be passed as an argument by any shell: \x00 ends the
     * word there.) */
    sf_buf_appends(&b, "$'");
    for (i = 0; i < len;) {
        uint32_t c = 0;
        size_t in = utf8_next(p + i, len - i, &c);
        if (in > 0 && c != 0 && printable_cp(c)) {
            if (c == '\'' || c == '\\') sf_buf_appends(&b, "\\");
            sf_buf_append(&b, s + i, in);
        } else {
            if (in == 0) in = 1;
            for (size_t k = 0; k < in; k++)
                sf_buf_appendf(&b, "\\x%02x", p[i + k]);
        }
        i += in;
    }
    sf_buf_appends(&b, "'");
    return sf_buf_take(&b, NULL);
}

char *sf_out_shell_word(const char *s) {
    return sf_out_shell_wordn(s, strlen(s));
}

/* ---- tables ------------------------------------------------------------- */

struct sf_out_table {
    const sf_out_col *cols; /* borrowed */
    size_t ncols;
    char **cells; /* owned: nrows * ncols strings, each owned */
    size_t nrows, cap;
};

sf_out_table *sf_out_table_new(const sf_out_col *cols, size_t ncols) {
    sf_out_table *t = calloc(1, sizeof(*t));
    if (!t) return NULL;
    t->cols = cols;
    t->ncols = ncols;
    return t;
}

int sf_out_table_add(sf_out_table *t, const char *const *cells) {
    if (!t) return -1;
    if (t->nrows == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        char **c = realloc(t->cells, cap * t->ncols * sizeof(*c));
        if (!c) return -1;
        t->cells = c;
        t->cap = cap;
    }
    char **row = t->cells + t->nrows * t->ncols;
    char clip[SF_OUT_CELL_MAX * 4 + 8];
    for (size_t c = 0; c < t->ncols; c++) {
        const char *v = cells[c] && cells[c][0] ? cells[c] : "-";
        row[c] = strdup(sf_out_clip(v, SF_OUT_CELL_MAX, clip, sizeof(clip)));
        if (!row[c]) {
            while (c > 0) free(row[--c]);
            return -1;
        }
    }
    t->nrows++;
    return 0;
}

/* Characters (not bytes) in a UTF-8 string. */
static size_t text_width(const char *s) {
    size_t n = 0;
    for (; *s; s++) n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* Prints one line of cells padded to "width". */
static void print_row(FILE *f, const sf_out_table *t, const char *const *cells,
                      const size_t *width, int indent) {
    fprintf(f, "%*s", indent, "");
    for (size_t c = 0; c < t->ncols; c++) {
        size_t pad = width[c] - text_width(cells[c]);
        int last = c + 1 == t->ncols;
        if (t->cols[c].right) fprintf(f, "%*s", (int)pad, "");
        fputs(cells[c], f);
        if (!last && !t->cols[c].right) fprintf(f, "%*s", (int)pad, "");
        fputs(last ? "\n" : "  ", f);
    }
}

void sf_out_table_print(FILE *f, const sf_out_table *t, int indent) {
    if (!t || t->ncols == 0) return;
    size_t *width = calloc(t->ncols, sizeof(*width));
    const char **heads = calloc(t->ncols, sizeof(*heads));
    if (!width || !heads) {
        free(width);
        free(heads);
        fprintf(f, "out of memory\n");
        return;
    }
    for (size_t c = 0; c < t->ncols; c++) {
        heads[c] = t->cols[c].head;
        width[c] = text_width(heads[c]);
        for (size_t r = 0; r < t->nrows; r++) {
            size_t w = text_width(t->cells[r * t->ncols + c]);
            if (w > width[c]) width[c] = w;
        }
    }
    print_row(f, t, heads, width, indent);
    for (size_t r = 0; r < t->nrows; r++)
        print_row(f, t, (const char *const *)t->cells + r * t->ncols, width,
                  indent);
    free(width);
    free(heads);
}

void sf_out_table_free(sf_out_table *t) {
    if (!t) return;
    for (size_t i = 0; i < t->nrows * t->ncols; i++) free(t->cells[i]);
    free(t->cells);
    free(t);
}

/* ---- field access ------------------------------------------------------- */

/* The string value of obj[key], or "-" when absent or not a string. */
static const char *str_field(const json_t *obj, const char *key) {
    const char *s = json_string_value(json_object_get(obj, key));
    return s && s[0] ? s : "-";
}

/* A scalar as text: strings made safe for a terminal (sf_out_clip, cut
 * to "out_size"), integers in decimal, booleans, "-" else. */
static void scalar_text(const json_t *v, char *out, size_t out_size) {
    int64_t i;
    if (json_is_string(v) && json_string_length(v) > 0)
        sf_out_clip(json_string_value(v), SIZE_MAX, out, out_size);
    else if (json_is_boolean(v))
        snprintf(out, out_size, "%s", json_is_true(v) ? "true" : "false");
    else if (!json_is_string(v) && sf_out_json_i64(v, &i) == 0)
        snprintf(out, out_size, "%" PRId64, i);
    else
        snprintf(out, out_size, "-");
}

static void scalar_field(const json_t *obj, const char *key, char *out,
                         size_t out_size) {
    scalar_text(json_object_get(obj, key), out, out_size);
}

/* obj[key] as an integer, "dflt" when it is not one. */
static int64_t int_field(const json_t *obj, const char *key, int64_t dflt) {
    int64_t v;
    return sf_out_json_i64(json_object_get(obj, key), &v) == 0 ? v : dflt;
}

static void time_field(const json_t *obj, const char *key, char *out,
                       size_t out_size) {
    sf_out_iso8601(int_field(obj, key, 0), out, out_size);
}

/* A compact JSON rendering of "v" (strings unquoted), clipped. */
static void json_text(const json_t *v, size_t max_chars, char *out,
                      size_t out_size) {
    if (!v || json_is_null(v)) {
        snprintf(out, out_size, "-");
        return;
    }
    if (json_is_string(v)) {
        sf_out_clip(json_string_value(v), max_chars, out, out_size);
        return;
    }
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    sf_out_clip(s ? s : "-", max_chars, out, out_size);
    free(s);
}

/* "labels" joined with ",", else "label"; "-" when neither. */
static void labels_text(const json_t *obj, char *out, size_t out_size) {
    const json_t *ls = json_object_get(obj, "labels");
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; json_is_array(ls) && i < json_array_size(ls); i++) {
        const char *l = json_string_value(json_array_get(ls, i));
        if (!l || !*l) continue;
        int n = snprintf(out + o, out_size - o, "%s%s", o ? "," : "", l);
        if (n < 0 || (size_t)n >= out_size - o) break;
        o += (size_t)n;
    }
    if (!out[0]) snprintf(out, out_size, "%s", str_field(obj, "label"));
}

/* Prints "label: value" with values aligned after the longest label; the
 * value made safe for a terminal and cut (a value kv_json already cut,
 * with its "...", passes as it is). */
static void kv(FILE *f, const char *label, const char *value) {
    char clip[(SF_OUT_BODY_WIDTH + 3) * 4 + 8];
    fprintf(f, "%-24s %s\n", label,
            value && value[0] ? sf_out_clip(value, SF_OUT_BODY_WIDTH + 3, clip,
                                            sizeof(clip))
                              : "-");
}

static void kv_json(FILE *f, const char *label, const json_t *v) {
    char clip[SF_OUT_BODY_WIDTH * 4 + 8];
    json_text(v, SF_OUT_BODY_WIDTH, clip, sizeof(clip));
    kv(f, label, clip);
}

static void kv_body(FILE *f, const char *label, const json_t *obj,
                    const char *key) {
    char clip[SF_OUT_BODY_WIDTH * 4 + 8];
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
    kv_json(f, label, v);
}

static void kv_scalar(FILE *f, const char *label, const json_t *obj,
                      const char *key) {
    char buf[512], clip[512];
    scalar_field(obj, key, buf, sizeof(buf));
    kv(f, label, sf_out_clip(buf, 120, clip, sizeof(clip)));
}

static void kv_time(FILE *f, const char *label, const json_t *obj,
                    const char *key) {
    char buf[40];
    time_field(obj, key, buf, sizeof(buf));
    kv(f, label, buf);
}

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* ---- DLQ ---------------------------------------------------------------- */

/* The failure callback's state; NONE when the entry has no callback (the
 * name the API's filter and the dashboard use). */
static const char *cb_state(const json_t *m) {
    const json_t *info = json_object_get(m, "failureCallbackInfo");
    return json_is_object(info) ? str_field(info, "state") : "NONE";
}

void sf_out_dlq_table(FILE *f, const json_t *messages) {
    static const sf_out_col cols[] = {
        {"DLQ ID", 0},   {"MESSAGE ID", 0}, {"URL", 0},    {"STATUS", 1},
        {"CALLBACK", 0}, {"LABEL", 0},      {"RUN ID", 0}, {"DLQ TIME", 0}};
    size_t n = json_is_array(messages) ? json_array_size(messages) : 0;
    if (n == 0) {
        fprintf(f, "no DLQ entries\n");
        return;
    }
    sf_out_table *t = sf_out_table_new(cols, NELEM(cols));
    for (size_t i = 0; t && i < n; i++) {
        const json_t *m = json_array_get(messages, i);
        char url[SF_OUT_URL_WIDTH * 4 + 8], status[32], labels[256], at[40];
        sf_out_clip(str_field(m, "url"), SF_OUT_URL_WIDTH, url, sizeof(url));
        scalar_field(m, "responseStatus", status, sizeof(status));
        labels_text(m, labels, sizeof(labels));
        time_field(m, "dlqAt", at, sizeof(at));
        if (strcmp(at, "-") == 0) time_field(m, "createdAt", at, sizeof(at));
        const char *row[] = {str_field(m, "dlqId"),
                             str_field(m, "messageId"),
                             url,
                             status,
                             cb_state(m),
                             labels,
                             str_field(m, "workflowRunId"),
                             at};
        sf_out_table_add(t, row);
    }
    if (t)
        sf_out_table_print(f, t, 0);
    else
        fprintf(f, "out of memory\n");
    sf_out_table_free(t);
}

/* One attempt: "  #1  <time>  status 500  12 ms  error ...". */
static void print_attempt(FILE *f, size_t i, const json_t *a) {
    char at[40], status[32], lat[32], err[512];
    time_field(a, "at", at, sizeof(at));
    scalar_field(a, "status", status, sizeof(status));
    scalar_field(a, "latencyMs", lat, sizeof(lat));
    const char *e = json_string_value(json_object_get(a, "error"));
    fprintf(f, "  #%-3zu %s  status %s  %s ms", i + 1, at, status, lat);
    if (e && e[0])
        fprintf(f, "  error %s", sf_out_clip(e, 100, err, sizeof(err)));
    fputc('\n', f);
}

/* One failed attempt of the failure callback:
 * "  #1  <time>  status 500  error <error>  body <body>". */
static void print_cb_error(FILE *f, size_t i, const json_t *e) {
    char at[40], status[32], err[512], body[512];
    time_field(e, "time", at, sizeof(at));
    scalar_field(e, "status", status, sizeof(status));
    fprintf(f, "  #%-3zu %s  status %s", i + 1, at, status);
    const char *x = json_string_value(json_object_get(e, "error"));
    if (x && x[0])
        fprintf(f, "  error %s", sf_out_clip(x, 100, err, sizeof(err)));
    x = json_string_value(json_object_get(e, "body"));
    if (x && x[0])
        fprintf(f, "  body %s", sf_out_clip(x, 80, body, sizeof(body)));
    fputc('\n', f);
}

void sf_out_dlq_entry(FILE *f, const json_t *m) {
    if (!json_is_object(m)) {
        fprintf(f, "unexpected reply: not a DLQ entry\n");
        return;
    }
    char labels[256];
    kv_scalar(f, "dlqId:", m, "dlqId");
    kv_scalar(f, "messageId:", m, "messageId");
    kv_scalar(f, "url:", m, "url");
    kv_scalar(f, "method:", m, "method");
    labels_text(m, labels, sizeof(labels));
    kv(f, "label:", labels);
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
    if (!json_is_object(info)) {
        kv(f, "callback state:", "NONE");
        return;
    }
    kv_scalar(f, "callback state:", info, "state");
    if (json_object_get(info, "attempts"))
        kv_scalar(f, "callback attempts:", info, "attempts");
    kv_scalar(f, "callback responseStatus:", info, "responseStatus");
    kv_json(f, "callback responseHeaders:",
            json_object_get(info, "responseHeaders"));
    kv_body(f, "callback responseBody:", info, "responseBody");
    /* The failed attempts of the callback's current run (the API keeps
     * the last 10), oldest first. */
    const json_t *errs = json_object_get(info, "errors");
    size_t ne = json_is_array(errs) ? json_array_size(errs) : 0;
    snprintf(count, sizeof(count), "%zu", ne);
    kv(f, "callback errors:", count);
    for (size_t i = 0; i < ne; i++)
        print_cb_error(f, i, json_array_get(errs, i));
}

/* ---- workflow runs ------------------------------------------------------ */

/* Steps a run finished: the steps of its sequential and parallel groups
 * but the initial payload (what the dashboard's "Steps done" counts too;
 * deliveries in flight or failed, the "next" group, are not steps done). */
static size_t finished_steps(const json_t *run) {
    const json_t *groups = json_object_get(run, "steps");
    size_t n = 0;
    for (size_t g = 0; json_is_array(groups) && g < json_array_size(groups);
         g++) {
        const json_t *grp = json_array_get(groups, g);
        const char *type = json_string_value(json_object_get(grp, "type"));
        const json_t *steps = json_object_get(grp, "steps");
        if (!type || strcmp(type, "next") == 0 || !json_is_array(steps))
            continue;
        for (size_t i = 0; i < json_array_size(steps); i++) {
            const char *st = json_string_value(
                json_object_get(json_array_get(steps, i), "stepType"));
            n += !st || strcmp(st, "Initial") != 0;
        }
    }
    return n;
}

/* "completedAt - createdAt" of a finished run, "-" while it runs. */
static void run_duration(const json_t *run, char *out, size_t out_size) {
    int64_t c = int_field(run, "workflowRunCreatedAt", 0);
    int64_t e = int_field(run, "workflowRunCompletedAt", 0);
    sf_out_duration(c > 0 && e >= c ? e - c : -1, out, out_size);
}

void sf_out_runs_table(FILE *f, const json_t *runs) {
    static const sf_out_col cols[] = {
        {"RUN ID", 0},  {"STATE", 0},    {"WORKFLOW URL", 0}, {"CREATED", 0},
        {"DURATION", 1}, {"STEPS DONE", 1}, {"LABEL", 0}};
    size_t n = json_is_array(runs) ? json_array_size(runs) : 0;
    if (n == 0) {
        fprintf(f, "no workflow runs\n");
        return;
    }
    sf_out_table *t = sf_out_table_new(cols, NELEM(cols));
    for (size_t i = 0; t && i < n; i++) {
        const json_t *r = json_array_get(runs, i);
        char url[SF_OUT_URL_WIDTH * 4 + 8], at[40], dur[24], steps[24],
            labels[256];
        sf_out_clip(str_field(r, "workflowUrl"), SF_OUT_URL_WIDTH, url,
                    sizeof(url));
        time_field(r, "workflowRunCreatedAt", at, sizeof(at));
        run_duration(r, dur, sizeof(dur));
        snprintf(steps, sizeof(steps), "%zu", finished_steps(r));
        labels_text(r, labels, sizeof(labels));
        const char *row[] = {str_field(r, "workflowRunId"),
                             str_field(r, "workflowState"),
                             url,
                             at,
                             dur,
                             steps,
                             labels};
        sf_out_table_add(t, row);
    }
    if (t)
        sf_out_table_print(f, t, 0);
    else
        fprintf(f, "out of memory\n");
    sf_out_table_free(t);
}

/* The last error of a step in flight: "status 500: <error>". */
static void last_error(const json_t *step, char *out, size_t out_size) {
    const json_t *errs = json_object_get(step, "errors");
    size_t n = json_is_array(errs) ? json_array_size(errs) : 0;
    if (n == 0) {
        snprintf(out, out_size, "-");
        return;
    }
    const json_t *e = json_array_get(errs, n - 1);
    char status[32], msg[256];
    scalar_field(e, "status", status, sizeof(status));
    sf_out_clip(str_field(e, "error"), 80, msg, sizeof(msg));
    snprintf(out, out_size, "status %s: %s", status, msg);
}

/* The steps of a run: finished ones in one table, then the deliveries of
 * the "next" group: those whose last attempt failed (STEP_FAILED, the
 * dashboard's "failed delivery") apart from those still in flight. */
static void print_run_steps(FILE *f, const json_t *run) {
    static const sf_out_col done_cols[] = {
        {"#", 1},      {"GROUP", 0},   {"STEP", 0}, {"TYPE", 0},
        {"STATE", 0},  {"CREATED", 0}, {"OUT", 0}};
    static const sf_out_col next_cols[] = {
        {"MESSAGE ID", 0}, {"STEP", 0}, {"STATE", 0}, {"RETRIES", 1},
        {"LAST ERROR", 0}};
    const json_t *groups = json_object_get(run, "steps");
    sf_out_table *done = sf_out_table_new(done_cols, NELEM(done_cols));
    sf_out_table *next = sf_out_table_new(next_cols, NELEM(next_cols));
    sf_out_table *failed = sf_out_table_new(next_cols, NELEM(next_cols));
    size_t seq = 0;
    for (size_t g = 0; json_is_array(groups) && g < json_array_size(groups);
         g++) {
        const json_t *grp = json_array_get(groups, g);
        const char *type = str_field(grp, "type");
        const json_t *steps = json_object_get(grp, "steps");
        int is_next = strcmp(type, "next") == 0;
        for (size_t i = 0; json_is_array(steps) && i < json_array_size(steps);
             i++) {
            const json_t *s = json_array_get(steps, i);
            char retries[24], err[512];
            if (is_next) {
                scalar_field(s, "retries", retries, sizeof(retries));
                last_error(s, err, sizeof(err));
                const char *row[] = {str_field(s, "messageId"),
                                     str_field(s, "stepName"),
                                     str_field(s, "state"), retries, err};
                const char *st = json_string_value(json_object_get(s, "state"));
                sf_out_table_add(st && strcmp(st, "STEP_FAILED") == 0 ? failed
                                                                     : next,
                                 row);
                continue;
            }
            char idx[24], at[40], out[256];
            snprintf(idx, sizeof(idx), "%zu", seq++);
            time_field(s, "createdAt", at, sizeof(at));
            json_text(json_object_get(s, "out"), 60, out, sizeof(out));
            const char *row[] = {idx,
                                 type,
                                 str_field(s, "stepName"),
                                 str_field(s, "stepType"),
                                 str_field(s, "state"),
                                 at,
                                 out};
            sf_out_table_add(done, row);
        }
    }
    fprintf(f, "\nsteps:\n");
    if (seq)
        sf_out_table_print(f, done, 2);
    else
        fprintf(f, "  none recorded\n");
    if (failed && failed->nrows) {
        fprintf(f, "\nfailed deliveries:\n");
        sf_out_table_print(f, failed, 2);
    }
    if (next && next->nrows) {
        fprintf(f, "\nin flight:\n");
        sf_out_table_print(f, next, 2);
    }
    sf_out_table_free(done);
    sf_out_table_free(next);
    sf_out_table_free(failed);
}

void sf_out_run(FILE *f, const json_t *run) {
    if (!json_is_object(run)) {
        fprintf(f, "unexpected reply: not a workflow run\n");
        return;
    }
    char dur[24], labels[256];
    kv_scalar(f, "workflowRunId:", run, "workflowRunId");
    kv_scalar(f, "workflowUrl:", run, "workflowUrl");
    kv_scalar(f, "state:", run, "workflowState");
    kv_time(f, "createdAt:", run, "workflowRunCreatedAt");
    kv_time(f, "completedAt:", run, "workflowRunCompletedAt");
    run_duration(run, dur, sizeof(dur));
    kv(f, "duration:", dur);
    labels_text(run, labels, sizeof(labels));
    kv(f, "label:", labels);
    kv_scalar(f, "dlqId:", run, "dlqId");
    kv_json(f, "response:", json_object_get(run, "workflowRunResponse"));
    print_run_steps(f, run);
    const json_t *ff = json_object_get(run, "failureFunction");
    if (json_is_object(ff)) {
        fprintf(f, "\nfailure function:\n");
        kv_scalar(f, "  state:", ff, "state");
        kv_scalar(f, "  url:", ff, "url");
        kv_scalar(f, "  failStatus:", ff, "failStatus");
        kv_json(f, "  failResponse:", json_object_get(ff, "failResponse"));
        kv_scalar(f, "  responseStatus:", ff, "responseStatus");
        kv_json(f, "  responseBody:", json_object_get(ff, "responseBody"));
    }
}

/* ---- GET /v2/stats ------------------------------------------------------ */

/* The failure-callback states in the order the API and inspect use. */
static const char *const cb_states[] = {"CALLBACK_INPROGRESS",
                                        "CALLBACK_SUCCESS", "CALLBACK_FAIL",
                                        "CALLBACK_CANCELED", "NONE"};

/* obj[key] as decimal text, "-" when it is not an integer. */
static void count_text(const json_t *obj, const char *key, char *out,
                       size_t out_size) {
    int64_t v;
    if (sf_out_json_i64(json_object_get(obj, key), &v) == 0)
        snprintf(out, out_size, "%" PRId64, v);
    else
        snprintf(out, out_size, "-");
}

static void stats_queues(FILE *f, const json_t *queues) {
    static const sf_out_col cols[] = {
        {"QUEUE", 0},   {"LENGTH", 1},         {"BACKLOG", 1},
        {"PENDING", 1}, {"OLDEST PENDING", 1}, {"DELAYED", 1}};
    static const char *const names[] = {"messages", "callbacks"};
    sf_out_table *t = sf_out_table_new(cols, NELEM(cols));
    for (size_t i = 0; t && i < NELEM(names); i++) {
        const json_t *q = json_object_get(queues, names[i]);
        char len[24], backlog[24], pending[24], oldest[24], delayed[24];
        count_text(q, "length", len, sizeof(len));
        count_text(q, "backlog", backlog, sizeof(backlog));
        count_text(q, "pending", pending, sizeof(pending));
        count_text(q, "delayed", delayed, sizeof(delayed));
        int64_t age = int_field(q, "oldestPendingAgeSeconds", -1);
        int64_t npend = int_field(q, "pending", 0);
        sf_out_duration(npend > 0 && age >= 0 ? age * 1000 : -1, oldest,
                        sizeof(oldest));
        const char *row[] = {names[i], len, backlog, pending, oldest, delayed};
        sf_out_table_add(t, row);
    }
    sf_out_table_print(f, t, 2);
    sf_out_table_free(t);
}

static void stats_dlq(FILE *f, const json_t *dlq) {
    sf_out_col cols[NELEM(cb_states)];
    char cells[NELEM(cb_states)][24];
    const char *row[NELEM(cb_states)];
    const json_t *by = json_object_get(dlq, "byFailureFunctionState");
    char total[24];
    count_text(dlq, "total", total, sizeof(total));
    fprintf(f, "\ndlq: %s entr%s\n", total, strcmp(total, "1") ? "ies" : "y");
    for (size_t i = 0; i < NELEM(cb_states); i++) {
        cols[i] = (sf_out_col){cb_states[i], 1};
        count_text(by, cb_states[i], cells[i], sizeof(cells[i]));
        row[i] = cells[i];
    }
    sf_out_table *t = sf_out_table_new(cols, NELEM(cols));
    sf_out_table_add(t, row);
    sf_out_table_print(f, t, 2);
    sf_out_table_free(t);
}

static void stats_workers(FILE *f, const json_t *stats, int64_t now) {
    static const sf_out_col cols[] = {
        {"NAME", 0},      {"HOST", 0},     {"PID", 1},       {"VERSION", 0},
        {"ALIVE", 0},     {"LAST SEEN", 1}, {"INFLIGHT", 1},  {"CONCURRENCY", 1},
        {"DELIVERED", 1}, {"RETRIED", 1},  {"FAILED", 1}};
    const json_t *ws = json_object_get(stats, "workers");
    char alive[24];
    count_text(stats, "workersAlive", alive, sizeof(alive));
    fprintf(f, "\nworkers: %s alive\n", alive);
    size_t n = json_is_array(ws) ? json_array_size(ws) : 0;
    if (n == 0) return;
    sf_out_table *t = sf_out_table_new(cols, NELEM(cols));
    for (size_t i = 0; t && i < n; i++) {
        const json_t *w = json_array_get(ws, i);
        char pid[24], ver[64], al[8], seen[24], infl[24], conc[24], del[24],
            ret[24], fail[24];
        count_text(w, "pid", pid, sizeof(pid));
        scalar_field(w, "version", ver, sizeof(ver));
        scalar_field(w, "alive", al, sizeof(al));
        int64_t last = int_field(w, "lastSeen", 0);
        sf_out_duration(last > 0 && now >= last ? now - last : -1, seen,
                        sizeof(seen));
        if (strcmp(seen, "-") != 0) strncat(seen, " ago", sizeof(seen) - strlen(seen) - 1);
        count_text(w, "inflight", infl, sizeof(infl));
        count_text(w, "concurrency", conc, sizeof(conc));
        count_text(w, "delivered", del, sizeof(del));
        count_text(w, "retried", ret, sizeof(ret));
        count_text(w, "failed", fail, sizeof(fail));
        const char *row[] = {str_field(w, "name"), str_field(w, "host"), pid,
                             ver, al, seen, infl, conc, del, ret, fail};
        sf_out_table_add(t, row);
    }
    sf_out_table_print(f, t, 2);
    sf_out_table_free(t);
}

static void stats_minutes(FILE *f, const json_t *per, int minutes) {
    static const sf_out_col cols[] = {{"MINUTE (UTC)", 0}, {"DELIVERED", 1},
                                      {"RETRIED", 1},      {"FAILED", 1},
                                      {"PUBLISHED", 1}};
    static const char *const keys[] = {"delivered", "retried", "failed",
                                       "published"};
    size_t n = json_is_array(per) ? json_array_size(per) : 0;
    size_t from = n > (size_t)minutes ? n - (size_t)minutes : 0;
    int64_t sum[NELEM(keys)] = {0};
    sf_out_table *t = sf_out_table_new(cols, NELEM(cols));
    for (size_t i = from; t && i < n; i++) {
        const json_t *m = json_array_get(per, i);
        char iso[40], label[16], cells[NELEM(keys)][24];
        sf_out_iso8601(int_field(m, "minute", 0), iso, sizeof(iso));
        if (strlen(iso) >= 16)
            snprintf(label, sizeof(label), "%.5s", iso + 11);
        else
            snprintf(label, sizeof(label), "%s", iso);
        const char *row[1 + NELEM(keys)] = {label};
        for (size_t k = 0; k < NELEM(keys); k++) {
            sum[k] += int_field(m, keys[k], 0);
            count_text(m, keys[k], cells[k], sizeof(cells[k]));
            row[1 + k] = cells[k];
        }
        sf_out_table_add(t, row);
    }
    fprintf(f,
            "\nlast %d minutes: %" PRId64 " delivered, %" PRId64
            " retried, %" PRId64 " failed, %" PRId64 " published\n",
            minutes, sum[0], sum[1], sum[2], sum[3]);
    if (n > from) sf_out_table_print(f, t, 2);
    sf_out_table_free(t);
}

void sf_out_stats(FILE *f, const json_t *stats, int minutes) {
    if (!json_is_object(stats)) {
        fprintf(f, "unexpected reply: not a stats object\n");
        return;
    }
    if (minutes < 1) minutes = 1;
    if (minutes > 60) minutes = 60;
    char at[40];
    int64_t now = int_field(stats, "time", 0);
    fprintf(f, "stats at %s\n\nqueues:\n", sf_out_iso8601(now, at, sizeof(at)));
    stats_queues(f, json_object_get(stats, "queues"));
    stats_dlq(f, json_object_get(stats, "dlq"));
    char running[24];
    count_text(json_object_get(stats, "workflows"), "running", running,
               sizeof(running));
    fprintf(f, "\nworkflow runs: %s running\n", running);
    stats_workers(f, stats, now);
    stats_minutes(f, json_object_get(stats, "perMinute"), minutes);
}

/* ---- stepflow inspect --------------------------------------------------- */

/* A figure's value as text: integers, strings, yes/no, "error: ...". */
static void fig_text(const json_t *fig, char *out, size_t out_size) {
    const json_t *v = json_object_get(fig, "value");
    const char *err = json_string_value(json_object_get(fig, "error"));
    char clip[100 * 4 + 8];
    if (err)
        snprintf(out, out_size, "error: %s",
                 sf_out_clip(err, 100, clip, sizeof(clip)));
    else if (json_is_boolean(v))
        snprintf(out, out_size, "%s", json_is_true(v) ? "yes" : "no");
    else if (json_is_array(v))
        snprintf(out, out_size, "%zu", json_array_size(v));
    else if (json_is_object(v) || json_is_null(v) || !v)
        json_text(v, 60, out, out_size);
    else
        scalar_text(v, out, out_size);
}

/* "  <label>  <value>  $ <command>".  Labels and values hold names read
 * from Redis and the command its keys: all three are made safe for the
 * terminal here (cmd_inspect.c already quotes odd bytes of a command as
 * $'\xNN', so a command is never cut or changed by this). */
static void fig_line(FILE *f, int indent, const char *label,
                     const char *value, const json_t *fig) {
    const char *cmd = json_string_value(json_object_get(fig, "command"));
    char lb[100 * 4 + 8], vb[200 * 4 + 8];
    int lw = 26 - indent;
    sf_out_clip(label, 100, lb, sizeof(lb));
    sf_out_clip(value, 200, vb, sizeof(vb));
    char *c = cmd && *cmd ? sf_out_clean(cmd) : NULL;
    if (c)
        fprintf(f, "%*s%-*s %-22s $ %s\n", indent, "", lw, lb, vb, c);
    else
        fprintf(f, "%*s%-*s %s\n", indent, "", lw, lb, vb);
    free(c);
}

/* "<prefix><name cut to 60 characters, made safe>" into "out". */
static void name_label(const char *prefix, const char *name, const char *suffix,
                       char *out, size_t out_size) {
    char clip[60 * 4 + 8];
    snprintf(out, out_size, "%s%s%s", prefix,
             sf_out_clip(name, 60, clip, sizeof(clip)), suffix);
}

static void fig(FILE *f, int indent, const char *label, const json_t *fg) {
    char v[512];
    fig_text(fg, v, sizeof(v));
    fig_line(f, indent, label, v, fg);
}

/* The value array of a figure (NULL when it is not an array). */
static const json_t *fig_array(const json_t *fg) {
    const json_t *v = json_object_get(fg, "value");
    return json_is_array(v) ? v : NULL;
}

/* One stream's groups, their consumers and oldest pending entries. */
static void inspect_groups(FILE *f, const json_t *groups_fig, int64_t now,
                           int details) {
    static const sf_out_col gcols[] = {
        {"GROUP", 0}, {"CONSUMERS", 1},      {"PENDING", 1},
        {"LAG", 1},   {"LAST DELIVERED", 0}, {"ENTRIES READ", 1}};
    static const sf_out_col ccols[] = {
        {"CONSUMER", 0}, {"PENDING", 1}, {"IDLE", 1}};
    static const sf_out_col pcols[] = {{"ENTRY ID", 0},
                                       {"CONSUMER", 0},
                                       {"AGE", 1},
                                       {"IDLE", 1},
                                       {"DELIVERIES", 1}};
    fig(f, 2, "groups", groups_fig);
    const json_t *gs = fig_array(groups_fig);
    if (!gs || json_array_size(gs) == 0) return;
    sf_out_table *t = sf_out_table_new(gcols, NELEM(gcols));
    for (size_t i = 0; t && i < json_array_size(gs); i++) {
        const json_t *g = json_array_get(gs, i);
        char cons[24], pend[24], lag[24], read[24];
        count_text(g, "consumers", cons, sizeof(cons));
        count_text(g, "pending", pend, sizeof(pend));
        count_text(g, "lag", lag, sizeof(lag));
        count_text(g, "entriesRead", read, sizeof(read));
        const char *row[] = {str_field(g, "name"), cons, pend, lag,
                             str_field(g, "lastDeliveredId"), read};
        sf_out_table_add(t, row);
    }
    sf_out_table_print(f, t, 4);
    sf_out_table_free(t);
    for (size_t i = 0; details && i < json_array_size(gs); i++) {
        const json_t *g = json_array_get(gs, i);
        char label[300];
        const json_t *cf = json_object_get(g, "consumerList");
        const json_t *cs = fig_array(cf);
        name_label("consumers (", str_field(g, "name"), ")", label,
                   sizeof(label));
        fig(f, 2, label, cf);
        sf_out_table *ct = sf_out_table_new(ccols, NELEM(ccols));
        for (size_t k = 0; ct && cs && k < json_array_size(cs); k++) {
            const json_t *c = json_array_get(cs, k);
            char pend[24], idle[24];
            count_text(c, "pending", pend, sizeof(pend));
            sf_out_duration(int_field(c, "idleMs", -1), idle, sizeof(idle));
            const char *row[] = {str_field(c, "name"), pend, idle};
            sf_out_table_add(ct, row);
        }
        if (cs && json_array_size(cs)) sf_out_table_print(f, ct, 4);
        sf_out_table_free(ct);

        const json_t *pf = json_object_get(g, "oldestPending");
        const json_t *ps = fig_array(pf);
        name_label("oldest pending (", str_field(g, "name"), ")", label,
                   sizeof(label));
        fig(f, 2, label, pf);
        sf_out_table *pt = sf_out_table_new(pcols, NELEM(pcols));
        for (size_t k = 0; pt && ps && k < json_array_size(ps); k++) {
            const json_t *p = json_array_get(ps, k);
            char age[24], idle[24], dl[24];
            int64_t id_ms = 0;
            const char *id = str_field(p, "id");
            id_ms = strtoll(id, NULL, 10);
            sf_out_duration(id_ms > 0 && now >= id_ms ? now - id_ms : -1, age,
                            sizeof(age));
            sf_out_duration(int_field(p, "idleMs", -1), idle, sizeof(idle));
            count_text(p, "deliveries", dl, sizeof(dl));
            const char *row[] = {id, str_field(p, "consumer"), age, idle, dl};
            sf_out_table_add(pt, row);
        }
        if (ps && json_array_size(ps)) sf_out_table_print(f, pt, 4);
        sf_out_table_free(pt);
    }
}

/* "msg_x in 59m58s (2024-...)" or "none". */
static void next_due_text(const json_t *fg, int64_t now, char *out,
                          size_t out_size) {
    const json_t *v = json_object_get(fg, "value");
    if (!json_is_object(v)) {
        fig_text(fg, out, out_size);
        if (json_is_null(v)) snprintf(out, out_size, "none");
        return;
    }
    int64_t due = int_field(v, "dueAt", 0);
    char id[128], in[24], at[40];
    sf_out_clip(str_field(v, "id"), 60, id, sizeof(id));
    sf_out_iso8601(due, at, sizeof(at));
    if (due > now) {
        sf_out_duration(due - now, in, sizeof(in));
        snprintf(out, out_size, "%s in %s (%s)", id, in, at);
    } else {
        snprintf(out, out_size, "%s now, overdue (%s)", id, at);
    }
}

static void inspect_queue(FILE *f, const json_t *q, int64_t now) {
    char nd[256], name[60 * 4 + 8], stream[200 * 4 + 8];
    fprintf(f, "\n%s queue  %s\n",
            sf_out_clip(str_field(q, "name"), 60, name, sizeof(name)),
            sf_out_clip(str_field(q, "stream"), 200, stream, sizeof(stream)));
    fig(f, 2, "length", json_object_get(q, "length"));
    inspect_groups(f, json_object_get(q, "groups"), now, 1);
    fig(f, 2, "delayed", json_object_get(q, "delayed"));
    next_due_text(json_object_get(q, "nextDue"), now, nd, sizeof(nd));
    fig_line(f, 2, "next due", nd, json_object_get(q, "nextDue"));
}

static void inspect_flow_control(FILE *f, const json_t *fc) {
    fprintf(f, "\nflow control\n");
    const json_t *kf = json_object_get(fc, "keys");
    fig(f, 2, "keys", kf);
    const json_t *ks = fig_array(kf);
    for (size_t i = 0; ks && i < json_array_size(ks); i++) {
        const json_t *k = json_array_get(ks, i);
        const json_t *conf = json_object_get(json_object_get(k, "config"),
                                             "value");
        char label[300], cv[256], par[64], rate[64], per[64];
        name_label("key ", str_field(k, "key"), "", label, sizeof(label));
        scalar_field(conf, "parallelism", par, sizeof(par));
        scalar_field(conf, "rate", rate, sizeof(rate));
        scalar_field(conf, "period", per, sizeof(per));
        snprintf(cv, sizeof(cv), "parallelism=%s rate=%s period=%s", par, rate,
                 per);
        fig_line(f, 4, label, cv, json_object_get(k, "config"));
        fig(f, 6, "in flight", json_object_get(k, "inflight"));
        fig(f, 6, "waiting", json_object_get(k, "waiting"));
    }
    fig(f, 2, "wake-ups scheduled", json_object_get(fc, "wake"));
}

static void inspect_workers(FILE *f, const json_t *w, int64_t now) {
    static const sf_out_col cols[] = {
        {"NAME", 0},     {"ALIVE", 0},     {"LAST SEEN", 1}, {"HOST", 0},
        {"PID", 1},      {"VERSION", 0},   {"INFLIGHT", 1},  {"CONCURRENCY", 1},
        {"DELIVERED", 1}, {"FAILED", 1}};
    fprintf(f, "\nworkers\n");
    fig(f, 2, "alive", json_object_get(w, "alive"));
    const json_t *lf = json_object_get(w, "list");
    fig(f, 2, "known", lf);
    const json_t *ls = fig_array(lf);
    if (!ls || json_array_size(ls) == 0) return;
    sf_out_table *t = sf_out_table_new(cols, NELEM(cols));
    for (size_t i = 0; t && i < json_array_size(ls); i++) {
        const json_t *x = json_array_get(ls, i);
        const json_t *info = json_object_get(json_object_get(x, "info"),
                                             "value");
        char al[8], seen[24], pid[24], infl[24], conc[24], del[24], fail[24];
        scalar_field(x, "alive", al, sizeof(al));
        int64_t last = int_field(x, "lastSeen", 0);
        sf_out_duration(last > 0 && now >= last ? now - last : -1, seen,
                        sizeof(seen));
        if (strcmp(seen, "-") != 0) strncat(seen, " ago", sizeof(seen) - strlen(seen) - 1);
        count_text(info, "pid", pid, sizeof(pid));
        count_text(info, "inflight", infl, sizeof(infl));
        count_text(info, "concurrency", conc, sizeof(conc));
        count_text(info, "delivered", del, sizeof(del));
        count_text(info, "failed", fail, sizeof(fail));
        const char *row[] = {str_field(x, "name"), al,  seen,
                             str_field(info, "host"), pid,
                             str_field(info, "version"), infl, conc, del,
                             fail};
        sf_out_table_add(t, row);
    }
    sf_out_table_print(f, t, 4);
    sf_out_table_free(t);
    for (size_t i = 0; i < json_array_size(ls); i++) {
        const json_t *x = json_array_get(ls, i);
        char label[300];
        name_label("worker ", str_field(x, "name"), "", label, sizeof(label));
        fig_line(f, 4, label, "(every field)", json_object_get(x, "info"));
    }
}

void sf_out_inspect(FILE *f, const json_t *doc) {
    if (!json_is_object(doc)) {
        fprintf(f, "nothing to show\n");
        return;
    }
    char at[40], redis[200 * 4 + 8], prefix[100 * 4 + 8];
    int64_t now = int_field(doc, "time", 0);
    fprintf(f, "redis %s, prefix '%s', at %s (Redis clock)\n",
            sf_out_clip(str_field(doc, "redis"), 200, redis, sizeof(redis)),
            sf_out_clip(str_field(doc, "prefix"), 100, prefix, sizeof(prefix)),
            sf_out_iso8601(now, at, sizeof(at)));
    fprintf(f, "each figure is followed by the redis-cli command behind it\n");

    const json_t *srv = json_object_get(doc, "server");
    fprintf(f, "\nserver\n");
    fig(f, 2, "redis version", json_object_get(srv, "version"));
    fig(f, 2, "maxmemory-policy", json_object_get(srv, "maxmemoryPolicy"));

    const json_t *qs = json_object_get(doc, "queues");
    for (size_t i = 0; json_is_array(qs) && i < json_array_size(qs); i++)
        inspect_queue(f, json_array_get(qs, i), now);

    const json_t *dlq = json_object_get(doc, "dlq");
    const json_t *by = json_object_get(dlq, "byState");
    fprintf(f, "\ndlq\n");
    fig(f, 2, "entries", json_object_get(dlq, "total"));
    for (size_t i = 0; i < NELEM(cb_states); i++)
        fig(f, 4, cb_states[i], json_object_get(by, cb_states[i]));
    const json_t *ev = json_object_get(dlq, "events");
    fig(f, 2, "index events", json_object_get(ev, "length"));
    inspect_groups(f, json_object_get(ev, "groups"), now, 0);

    const json_t *wf = json_object_get(doc, "workflows");
    fprintf(f, "\nworkflow runs\n");
    fig(f, 2, "kept", json_object_get(wf, "runs"));
    fig(f, 2, "running", json_object_get(wf, "running"));
    fig(f, 2, "ended, to expire", json_object_get(wf, "expiring"));

    inspect_flow_control(f, json_object_get(doc, "flowControl"));
    inspect_workers(f, json_object_get(doc, "workers"), now);

    const json_t *sk = json_object_get(doc, "signingKeys");
    fprintf(f, "\nsigning keys (values never shown)\n");
    fig(f, 2, "current key set", json_object_get(sk, "current"));
    fig(f, 2, "next key set", json_object_get(sk, "next"));
}
