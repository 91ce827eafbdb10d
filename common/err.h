/* err.h - the one status enum and an optional human-readable error buffer.
 *
 * Functions that can fail return sf_status and, when the caller passes a
 * non-NULL `sf_err *`, write one line of detail into it (anet/hiredis style).
 * Constructors return NULL and fill the error instead. */
#ifndef SF_ERR_H
#define SF_ERR_H

#include <stdarg.h>

typedef enum sf_status {
    SF_OK = 0,
    SF_ERR = -1,      /* generic failure, see sf_err */
    SF_AGAIN = -2,    /* transient: try later (Redis down, no slot free) */
    SF_NOTFOUND = -3, /* the thing asked for does not exist */
    SF_INVALID = -4,  /* input rejected (bad request, bad config, bad bytes) */
} sf_status;

typedef struct sf_err {
    char msg[256];
} sf_err;

/* Writes a printf-style message into "err" if it is not NULL. */
void sf_err_set(sf_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
