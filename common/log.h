/* log.h - one logging macro for the whole project.
 *
 * Callers write `event key=value key="quoted value" ...` (logfmt).  One line
 * per event goes to stderr, in one of two formats (sf_log_set_format):
 *   json (default): {"time":"...","level":"info","msg":"event","key":value,...}
 *   text:           ts=... level=info event key=value ...
 * Text that is not logfmt (no event word first, a broken quote) is kept
 * whole as "msg".  The level check happens before the arguments are
 * evaluated.  libevent's and libcurl's diagnostics are routed here by
 * sf_log_hook_libevent().
 *
 * JSON types are fixed per key, so a log store's mapping never flips: the
 * value of a numeric key (log.c's numeric_keys: attempt, status, ms, port,
 * counts...) is a JSON number when it is a bare integer; every other value
 * is a string, even when it is all digits (ids, names, keys, URLs).  A
 * caller's keys "time", "level" and "msg" come out as "field_time",
 * "field_level" and "field_msg".
 *
 * Text from outside (a flow-control key, a URL, a Redis or HTTP error, a
 * run id) goes through SF_LOGQ() and a bare %s:
 *     sf_warn("read_error queue=%s err=%s", tag, SF_LOGQ(rep->str));
 * so it cannot forge another field nor break the line's parse. */
#ifndef SF_LOG_H
#define SF_LOG_H

#include <stddef.h>

typedef enum sf_log_level {
    SF_LOG_DEBUG = 0,
    SF_LOG_INFO = 1,
    SF_LOG_WARN = 2,
    SF_LOG_ERROR = 3,
} sf_log_level;

extern sf_log_level sf_log_min_level;

/* Sets the minimum level from a name ("debug", "info", "warn", "error");
 * returns -1 on an unknown name. */
int sf_log_set_level(const char *name);

/* "json" or "text" (any case); returns -1 on an unknown name. */
int sf_log_set_format(const char *name);

/* Writes one line; "fmt" is the free text after the level, typically
 * `event key=value ...`. Use SF_LOG() instead of calling this directly. */
void sf_log_write(sf_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* "s" as one logfmt value: "s" itself when it is a plain token (no space,
 * quote, backslash, '=' or control character, not empty), else "s" in
 * double quotes written into "buf" ("size" bytes, at least 8) with \\,
 * \", \n, \r, \t and \xNN escapes, cut with ... when it does not fit.
 * NULL is "".  Returns "s" or "buf"; use SF_LOGQ() for a buffer. */
const char *sf_log_q(char *buf, size_t size, const char *s);

/* sf_log_q() with a buffer that lives until the end of the enclosing
 * statement's block: use it inside the arguments of SF_LOG() and friends. */
#define SF_LOGQ_MAX 512
#define SF_LOGQ(s) sf_log_q((char[SF_LOGQ_MAX]){0}, SF_LOGQ_MAX, (s))

/* Sends libevent's internal warnings through sf_log_write. */
void sf_log_hook_libevent(void);

#define SF_LOG(level, ...)                                                     \
    do {                                                                       \
        if ((level) >= sf_log_min_level) sf_log_write((level), __VA_ARGS__);   \
    } while (0)
#define sf_debug(...) SF_LOG(SF_LOG_DEBUG, __VA_ARGS__)
#define sf_info(...) SF_LOG(SF_LOG_INFO, __VA_ARGS__)
#define sf_warn(...) SF_LOG(SF_LOG_WARN, __VA_ARGS__)
#define sf_error(...) SF_LOG(SF_LOG_ERROR, __VA_ARGS__)

/* Our own invariants only; never for anything the outside world can cause. */
#define sf_assert(cond)                                                        \
    do {                                                                       \
        if (!(cond)) sf_assert_fail(#cond, __FILE__, __LINE__);                \
    } while (0)
void sf_assert_fail(const char *what, const char *file, int line)
    __attribute__((noreturn));

#endif
