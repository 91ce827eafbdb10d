/* sigkeys.h - the worker's live signing key.
 *
 * The signing keys live in Redis (P:signing-keys, hash current/next: the
 * coordinator seeds it from its environment and POST /v2/keys/rotate
 * changes it).  This module reads the hash at start and every
 * SF_SIGKEYS_REFRESH_MS and writes the current key into the buffer the
 * worker signs with (cfg.current_signing_key), so a rotation reaches every
 * worker within that period.  When the hash or its field is absent the
 * key given to this worker at start (environment / flag) is used.
 *
 * Runs on the worker's event loop; its one HMGET at a time goes on the
 * worker's main connection.  A Redis error keeps the last key. */
#ifndef SF_SIGKEYS_H
#define SF_SIGKEYS_H

#include <event2/event.h>
#include <stddef.h>
#include "rconn.h"

#define SF_SIGKEYS_REFRESH_MS 5000

typedef struct sf_sigkeys sf_sigkeys;

/* Starts refreshing "key" ("key_size" bytes, borrowed: the worker's
 * cfg.current_signing_key; its content at this call is the fallback) from
 * "P:signing-keys" of "prefix" over "conn" (borrowed).  Never NULL (aborts
 * on allocation failure). */
sf_sigkeys *sf_sigkeys_new(struct event_base *base, sf_rconn *conn,
                           const char *prefix, char *key, size_t key_size);
/* Stops and frees; NULL is a no-op.  Call it after "conn" is freed (so no
 * reply is pending). */
void sf_sigkeys_free(sf_sigkeys *s);

#endif
