/* rconn.h - one asynchronous Redis connection that survives Redis restarts.
 *
 * Wraps a hiredis redisAsyncContext attached to the process's event_base
 * with the libevent adapter.  It connects, AUTHs and SELECTs from the
 * sf_redis_addr, SCRIPT LOADs every script of lua.h, reads the key layout
 * version, and only then reports itself up.
 *
 * Layout version: P:layout holds the version of stepflow's key layout in
 * this Redis (SF_LAYOUT_VERSION, keys.h).  A link that finds a newer (or
 * unreadable) version logs redis_layout_newer (redis_layout_unreadable) and
 * exits the process with code 1 before it reports up, so an older release
 * never reads or writes data of a newer one (in Kubernetes: CrashLoopBackOff
 * with that line in the log).  A link that finds none writes its own at UP
 * (SET NX).  A release that raises the version migrates the data and then
 * SETs the key itself.  When the connection drops it reports down, and reconnects
 * with a capped exponential backoff (100 ms .. 5 s), forever, never
 * aborting.  Commands sent while down are refused with SF_AGAIN; commands in
 * flight when the link drops get their callback with reply == NULL, so
 * callers keep whatever they have not seen acknowledged and resend it
 * after the state callback says up again.
 *
 * sf_rconn_evalsha() transparently retries a NOSCRIPT reply with EVAL, so
 * a SCRIPT FLUSH or a failover cannot break a caller.
 *
 * A process exports each of its connections' state with
 * sf_rconn_export_metrics(): the connection updates the two series itself
 * when it goes up or down (pushed, not read at scrape time, so a
 * connection freed before its process exits, like the coordinator's
 * indexer at SIGTERM, leaves its last figures behind and no dangling
 * pointer).
 *
 * Runs on the event_base given to sf_rconn_new(); not thread-safe.
 * Ownership: the caller owns the sf_rconn; replies passed to callbacks are
 * hiredis-owned and freed after the callback returns: copy what you keep. */
#ifndef SF_RCONN_H
#define SF_RCONN_H

#include <event2/event.h>
#include <hiredis/async.h>
#include <stddef.h>
#include <stdint.h>
#include "config.h"
#include "err.h"
#include "metrics.h"

typedef struct sf_rconn sf_rconn;

/* Called on every transition: "up" = 1 when ready, 0 when the link went
 * down (not called for the initial down state). */
typedef void sf_rconn_state_fn(sf_rconn *c, int up, void *arg);

/* Creates the connection and starts connecting at once.  "prefix" is
 * STEPFLOW_PREFIX (for P:layout); "name" is used in logs and as CLIENT
 * SETNAME.  Never NULL except on allocation failure. */
sf_rconn *sf_rconn_new(struct event_base *base, const sf_redis_addr *addr,
                       const char *prefix, const char *name,
                       sf_rconn_state_fn *state_fn, void *arg);
/* Disconnects (pending callbacks get reply == NULL) and frees. NULL is a
 * no-op.  Must not be called from inside one of this connection's
 * callbacks: defer it. */
void sf_rconn_free(sf_rconn *c);

int sf_rconn_is_up(const sf_rconn *c);

/* Successful connects (handshake done) after the first one: how often the
 * link came back after a loss.  0 for NULL. */
uint64_t sf_rconn_reconnects(const sf_rconn *c);

/* Exports the link on registry "reg" as stepflow_redis_up{conn="<label>"}
 * (1 while up) and stepflow_redis_reconnects_total{conn="<label>"} (as
 * sf_rconn_reconnects()); from then on the connection updates both itself
 * on every transition, and sets up to 0 when it is freed.  "label" is our
 * own text (no quotes or backslashes).  "reg" must outlive "c".  Call it
 * once per connection.  SF_ERR on allocation failure; NULL "c" or "reg" is
 * a no-op. */
sf_status sf_rconn_export_metrics(sf_rconn *c, sf_metrics *reg,
                                  const char *label);

/* Number of commands sent and not yet answered. */
size_t sf_rconn_pending(const sf_rconn *c);

/* Sends one command.  Returns SF_AGAIN (and does not call "fn") when the
 * connection is not up.  "fn" may be NULL to ignore the reply. */
sf_status sf_rconn_command(sf_rconn *c, redisCallbackFn *fn, void *privdata,
                           int argc, const char **argv, const size_t *argvlen);

/* printf-style convenience over redisAsyncCommand (same %s/%b rules). */
sf_status sf_rconn_commandf(sf_rconn *c, redisCallbackFn *fn, void *privdata,
                            const char *fmt, ...);

/* EVALSHA of an embedded script ("script" is one of the sf_lua_* strings):
 * argv holds the keys then the args (nkeys of them are keys).  A NOSCRIPT
 * reply is retried once with EVAL before "fn" sees anything. */
sf_status sf_rconn_evalsha(sf_rconn *c, const char *script, redisCallbackFn *fn,
                           void *privdata, int nkeys, int argc,
                           const char **argv, const size_t *argvlen);

/* The field/value pairs of a HGETALL reply (string pairs only), as
 * parallel arrays of pointers into the reply: valid while it lives. */
typedef struct sf_reply_pairs {
    const char **fields, **values;
    size_t *flen, *vlen;
    size_t n;
} sf_reply_pairs;

/* Fills "p" from the array reply "r".  Returns 0, or -1 when out of
 * memory (p is then empty).  sf_reply_pairs_free() frees the arrays. */
int sf_reply_pairs_init(sf_reply_pairs *p, const redisReply *r);
void sf_reply_pairs_free(sf_reply_pairs *p);

#endif
