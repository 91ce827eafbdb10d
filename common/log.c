/* log.c - one line per event on stderr.
 *
 * A line is `ts=<UTC ISO-8601 with ms> level=<name> ` followed by the
 * caller's text.  Control characters in the text (a newline inside a value)
 * are escaped so one event stays one line.  The line is built in a local
 * buffer and written with one write(2), so lines of concurrent processes
 * sharing a terminal or a file do not interleave. */
#include "log.h"

#include <event2/event.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

sf_log_level sf_log_min_level = SF_LOG_INFO;

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

/* Writes "ts=... level=... " into "out" (at least 64 bytes); returns its
 * length. */
static size_t format_prefix(char *out, size_t size, sf_log_level level) {
    struct timespec ts;
    struct tm tm;
    char when[32];
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
    int lv = level < SF_LOG_DEBUG || level > SF_LOG_ERROR ? SF_LOG_ERROR : level;
    int n = snprintf(out, size, "ts=%s.%03ldZ level=%s ", when,
                     (long)(ts.tv_nsec / 1000000), level_names[lv]);
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

/* Formats one line (text over ~2 KiB is cut) and writes it at once. */
void sf_log_write(sf_log_level level, const char *fmt, ...) {
    char text[2048];
    char line[4096 + 64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);

    size_t n = format_prefix(line, sizeof(line), level);
    char *p = copy_escaped(line + n, line + sizeof(line) - 1, text);
    *p++ = '\n';
    const char *w = line;
    size_t left = (size_t)(p - line);
    while (left > 0) { /* stderr is unbuffered; a short write is rare */
        ssize_t k = write(STDERR_FILENO, w, left);
        if (k <= 0) break;
        w += k;
        left -= (size_t)k;
    }
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
