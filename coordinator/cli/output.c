/* output.c - the CLI's text primitives: times, durations, ISO 8601 input,
 * terminal-safe clipping, shell quoting and aligned tables.  The views of
 * the API's JSON are in output_views.c.  See output.h. */
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
    int64_t ms = ((sf_days_from_civil(y, mo, d) * 24 + h) * 60 + mi - off) * 60;
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

size_t sf_out_table_rows(const sf_out_table *t) {
    return t ? t->nrows : 0;
}
