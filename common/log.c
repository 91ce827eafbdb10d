/* log.c - one line per event on stderr.
 *
 * Text: `ts=<UTC ISO-8601 with ms> level=<name> ` followed by the caller's
 * text.  Control characters in the text (a newline inside a value) are
 * escaped so one event stays one line.
 * JSON: the caller's logfmt text is split into its event and key=value
 * pairs and written as one object with jansson (which does the escaping);
 * quoted values take exactly the escapes sf_log_q() writes.
 * Either way the line is formatted whole and handed to one write(2) (a
 * short write, rare, is completed by more), so lines of processes sharing
 * a pipe do not interleave while they are under PIPE_BUF (4 KiB; only a
 * line with a huge value is longer), nor in a file opened O_APPEND. */
#include "log.h"

#include <event2/event.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

sf_log_level sf_log_min_level = SF_LOG_INFO;
static int log_json = 1;

static const char *level_names[] = {"debug", "info", "warn", "error"};

/* "debug", "info", "warn" (or "warning"), "error", any case. */
int sf_log_set_level(const char *name) {
    if (!name) return -1;
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(name, level_names[i]) == 0) {
            sf_log_min_level = (sf_log_level)i;
            return 0;
        }
    }
    if (strcasecmp(name, "warning") == 0) {
        sf_log_min_level = SF_LOG_WARN;
        return 0;
    }
    return -1;
}

int sf_log_set_format(const char *name) {
    if (name && strcasecmp(name, "json") == 0)
        log_json = 1;
    else if (name && strcasecmp(name, "text") == 0)
        log_json = 0;
    else
        return -1;
    return 0;
}

/* UTC time with milliseconds, "2026-11-29T10:00:00.123Z". */
static void format_time(char *out, size_t size) {
    struct timespec ts;
    struct tm tm;
    char when[24];
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, size, "%s.%03ldZ", when, (long)(ts.tv_nsec / 1000000));
}

/* Writes "ts=... level=... " into "out" (at least 64 bytes); returns its
 * length. */
static size_t format_prefix(char *out, size_t size, sf_log_level level) {
    char when[48];
    format_time(when, sizeof(when));
    int lv = level < SF_LOG_DEBUG || level > SF_LOG_ERROR ? SF_LOG_ERROR : level;
    int n = snprintf(out, size, "ts=%s level=%s ", when, level_names[lv]);
    return n < 0 ? 0 : (size_t)n >= size ? size - 1 : (size_t)n;
}

/* Copies "src" into "dst" escaping control characters; stops before "end"
 * with room for the newline.  Returns the new end of "dst". */
static char *copy_escaped(char *dst, char *end, const char *src) {
    for (; *src && dst < end; src++) {
        unsigned char c = (unsigned char)*src;
        if (c >= 0x20 && c != 0x7f) {
            *dst++ = (char)c;
        } else if (end - dst >= 4) {
            char esc = c == '\n' ? 'n' : c == '\r' ? 'r' : c == '\t' ? 't' : 0;
            if (esc) {
                *dst++ = '\\';
                *dst++ = esc;
            } else {
                snprintf(dst, 5, "\\x%02x", c);
                dst += 4;
            }
        } else {
            break;
        }
    }
    return dst;
}

/* 1 when "c" may stand in a bare logfmt value. */
static int is_plain(unsigned char c) {
    return c > 0x20 && c != 0x7f && c != '"' && c != '\\' && c != '=';
}

/* "s" as one logfmt value (log.h). */
const char *sf_log_q(char *buf, size_t size, const char *s) {
    if (!s) s = "";
    const char *p = s;
    while (*p && is_plain((unsigned char)*p)) p++;
    if (*s && !*p) return s;
    if (size < 8) return "\"\"";
    /* Room is kept for the longest escape, "...", the quote and the NUL. */
    char *out = buf, *end = buf + size - 4 - 4;
    *out++ = '"';
    for (p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (out >= end) {
            memcpy(out, "...", 3);
            out += 3;
            break;
        }
        char esc = c == '\\' ? '\\' : c == '"' ? '"' : c == '\n' ? 'n'
                 : c == '\r' ? 'r' : c == '\t' ? 't' : 0;
        if (esc) {
            *out++ = '\\';
            *out++ = esc;
        } else if (c < 0x20 || c == 0x7f) {
            snprintf(out, 5, "\\x%02x", c);
            out += 4;
        } else {
            *out++ = (char)c;
        }
    }
    *out++ = '"';
    *out = '\0';
    return buf;
}

static void write_all(const char *w, size_t left) {
    while (left > 0) { /* stderr is unbuffered; a short write is rare */
        ssize_t k = write(STDERR_FILENO, w, left);
        if (k <= 0) break;
        w += k;
        left -= (size_t)k;
    }
}

/* A JSON string of "s[0..len)"; bytes that are not valid UTF-8 are kept as
 * "\xNN" text (jansson refuses them). */
static json_t *json_text(const char *s, size_t len) {
    json_t *j = json_stringn(s, len);
    if (j) return j;
    char *esc = malloc(len * 4 + 1), *p = esc;
    if (!esc) return json_string("");
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80) {
            *p++ = (char)c;
        } else {
            snprintf(p, 5, "\\x%02x", c);
            p += 4;
        }
    }
    j = json_stringn(esc, (size_t)(p - esc));
    free(esc);
    return j ? j : json_string("");
}

/* Keys whose values are counts, sizes, durations or codes.  Only their
 * values become JSON numbers, so a key's JSON type never depends on what
 * one value looks like (log.h).  A new numeric field of a log line is
 * added here; until then it is a string. */
static const char *const numeric_keys[] = {
    "attempt",  "concurrency", "deliveries", "delivered", "entries",
    "events",   "failed",      "failed_scheduled", "gen", "grace_ms",
    "inflight", "kind",        "left",       "minute",    "ms",
    "pending",  "port",        "published",  "retried",   "runs_deleted",
    "sig",      "signal",      "stage",      "status",    "try",
};

static int is_numeric_key(const char *key) {
    for (size_t i = 0; i < sizeof(numeric_keys) / sizeof(numeric_keys[0]); i++)
        if (strcmp(key, numeric_keys[i]) == 0) return 1;
    return 0;
}

/* A bare logfmt value of "key" as JSON: for a numeric key an integer that
 * fits a double exactly becomes a number; anything else is a string. */
static json_t *json_bare(const char *key, const char *s, size_t len) {
    if (!is_numeric_key(key)) return json_text(s, len);
    size_t i = len > 0 && s[0] == '-' ? 1 : 0;
    if (len > i && len - i <= 15 && (len - i == 1 || s[i] != '0')) {
        size_t d = i;
        while (d < len && s[d] >= '0' && s[d] <= '9') d++;
        if (d == len) return json_integer(strtoll(s, NULL, 10));
    }
    return json_text(s, len);
}

static int is_key_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

static int hex_digit(char c) {
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* Decodes the quoted value at "*sp" (just past its opening quote) into
 * "val" (room for strlen(*sp) bytes), taking exactly sf_log_q()'s escapes:
 * \\ \" \n \r \t \xNN.  Moves "*sp" past the closing quote and returns
 * the length, or -1 on an unknown escape or a missing closing quote. */
static long unquote(const char **sp, char *val) {
    const char *s = *sp;
    size_t n = 0;
    for (; *s && *s != '"'; s++) {
        if (*s != '\\') {
            val[n++] = *s;
            continue;
        }
        s++;
        switch (*s) {
        case '\\': val[n++] = '\\'; break;
        case '"': val[n++] = '"'; break;
        case 'n': val[n++] = '\n'; break;
        case 'r': val[n++] = '\r'; break;
        case 't': val[n++] = '\t'; break;
        case 'x': {
            int hi = hex_digit(s[1]), lo = hi < 0 ? -1 : hex_digit(s[2]);
            if (lo < 0) return -1;
            val[n++] = (char)(hi * 16 + lo);
            s += 2;
            break;
        }
        default: return -1;
        }
    }
    if (*s != '"') return -1;
    *sp = s + 1;
    return (long)n;
}

/* Adds the pairs of "s" (`key=value key="quoted \"value\""...`) to "o";
 * a caller's time, level or msg is renamed field_<key>.  Returns -1 (o
 * partly filled) if "s" is not logfmt. */
static int parse_pairs(json_t *o, const char *s) {
    while (*s) {
        while (*s == ' ') s++;
        if (!*s) break;
        const char *k = s;
        while (is_key_char(*s)) s++;
        if (s == k || *s != '=') return -1;
        char key[64];
        int klen = (int)(s - k) < 48 ? (int)(s - k) : 48;
        int reserved = (klen == 4 && !memcmp(k, "time", 4)) ||
                       (klen == 5 && !memcmp(k, "level", 5)) ||
                       (klen == 3 && !memcmp(k, "msg", 3));
        snprintf(key, sizeof(key), "%s%.*s", reserved ? "field_" : "", klen, k);
        s++;
        if (*s == '"') {
            s++;
            char *val = malloc(strlen(s) + 1);
            if (!val) return -1;
            long n = unquote(&s, val);
            if (n >= 0) json_object_set_new(o, key, json_text(val, (size_t)n));
            free(val);
            if (n < 0) return -1;
        } else {
            const char *v = s;
            while (*s && *s != ' ') s++;
            json_object_set_new(o, key, json_bare(key, v, (size_t)(s - v)));
        }
    }
    return 0;
}

/* {"time","level","msg",...pairs} of "text"; NULL on allocation failure. */
static char *json_line(sf_log_level level, const char *text) {
    char when[48];
    format_time(when, sizeof(when));
    int lv = level < SF_LOG_DEBUG || level > SF_LOG_ERROR ? SF_LOG_ERROR : level;
    json_t *o = json_object();
    if (!o) return NULL;
    json_object_set_new(o, "time", json_string(when));
    json_object_set_new(o, "level", json_string(level_names[lv]));
    size_t ev = strcspn(text, " ");
    int logfmt = ev > 0 && memchr(text, '=', ev) == NULL;
    for (size_t i = 0; logfmt && i < ev; i++)
        logfmt = is_key_char(text[i]);
    json_t *pairs = json_object();
    if (logfmt && pairs && parse_pairs(pairs, text + ev) == 0) {
        json_object_set_new(o, "msg", json_text(text, ev));
        json_object_update(o, pairs); /* no time/level/msg: renamed */
    } else {
        json_object_set_new(o, "msg", json_text(text, strlen(text)));
    }
    json_decref(pairs);
    char *line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    return line;
}

/* Formats one line (text over ~2 KiB is cut) and writes it at once. */
void sf_log_write(sf_log_level level, const char *fmt, ...) {
    char text[2048];
    char line[4096 + 64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);

    if (log_json) {
        char *j = json_line(level, text);
        if (j) {
            size_t n = strlen(j);
            char *nl = realloc(j, n + 2);
            if (nl) {
                nl[n] = '\n';
                write_all(nl, n + 1);
                free(nl);
                return;
            }
            free(j);
        }
    }
    size_t n = format_prefix(line, sizeof(line), level);
    char *p = copy_escaped(line + n, line + sizeof(line) - 1, text);
    *p++ = '\n';
    write_all(line, (size_t)(p - line));
}

static void libevent_log_cb(int severity, const char *msg) {
    sf_log_level level = severity == EVENT_LOG_DEBUG ? SF_LOG_DEBUG
                         : severity == EVENT_LOG_MSG ? SF_LOG_INFO
                         : severity == EVENT_LOG_WARN ? SF_LOG_WARN
                                                      : SF_LOG_ERROR;
    SF_LOG(level, "libevent: %s", msg ? msg : "");
}

/* Routes libevent's messages through SF_LOG with their severity. */
void sf_log_hook_libevent(void) {
    event_set_log_callback(libevent_log_cb);
}

/* Logs the failed invariant and aborts (for a core dump). */
void sf_assert_fail(const char *what, const char *file, int line) {
    sf_log_write(SF_LOG_ERROR, "assertion failed: %s at %s:%d", what, file,
                 line);
    abort();
}
