/* log.h - one logging macro for the whole project.
 *
 * Callers write `event key=value key="quoted value" ...` (logfmt).  One line
 * per event goes to stderr, in one of two formats (sf_log_set_format):
 *   json (default): {"time":"...","level":"info","msg":"event","key":value,...}
 *                   values that are plain integers become JSON numbers; text
 *                   that is not logfmt is kept whole as "msg"
 *   text:           ts=... level=info event key=value ...
 * The level check happens before the arguments are evaluated.  libevent's and
 * libcurl's diagnostics are routed here by sf_log_hook_libevent(). */
#ifndef SF_LOG_H
#define SF_LOG_H

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
