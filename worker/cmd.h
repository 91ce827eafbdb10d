/* cmd.h - a Redis command the worker owns until Redis has answered it.
 *
 * Writes that must not be lost (a retry, a DLQ entry, a callback result)
 * are built once into an sf_cmd and kept by their delivery; if the link is
 * down, or drops before the reply, the very same command is sent again after
 * the reconnect.  Every script the worker runs is idempotent, so a resend of
 * a write that did apply is harmless.
 *
 * Ownership: the sf_cmd owns copies of all its arguments. */
#ifndef SF_CMD_H
#define SF_CMD_H

#include <hiredis/async.h>
#include <stddef.h>
#include <stdint.h>
#include "err.h"
#include "rconn.h"

typedef struct sf_cmd {
    const char *script; /* one of the sf_lua_* scripts, or NULL: plain */
    int nkeys; /* for scripts: how many leading arguments are keys */
    int argc, cap;
    char **argv; /* owned copies */
    size_t *len;
} sf_cmd;

/* Starts an empty command; "script" NULL means argv[0] is the command. */
void sf_cmd_init(sf_cmd *c, const char *script, int nkeys);
/* Frees the arguments; "c" can be initialised again. */
void sf_cmd_cleanup(sf_cmd *c);
/* Appends one argument: "n" bytes at "p" / a C string / an int. */
void sf_cmd_add(sf_cmd *c, const void *p, size_t n);
void sf_cmd_adds(sf_cmd *c, const char *s);
void sf_cmd_addi(sf_cmd *c, int64_t v);
/* Sends it on "conn" (EVALSHA for scripts).  SF_AGAIN when the link is
 * down: keep the command and send it again once it is up. */
sf_status sf_cmd_send(const sf_cmd *c, sf_rconn *conn, redisCallbackFn *fn,
                      void *privdata);

#endif
