/* redis_checks.h - what both processes check each time their main Redis
 * link comes up.
 *
 * Layout version: P:layout holds the version of stepflow's key layout in
 * this Redis (SF_LAYOUT_VERSION).  The first process to connect sets it
 * (SET NX).  A process that finds a newer version than its own must not
 * touch data it does not understand: it logs redis_layout_newer and exits
 * with code 1 (in Kubernetes: CrashLoopBackOff with that line in the log;
 * roll the newer release out).  Records carry their own schema versions too
 * (stream field v, envelope v, DLQ entry v, run v): see deploy/README.md,
 * "Upgrades".
 *
 * Eviction: a maxmemory-policy other than noeviction is logged as a
 * warning (Redis could evict queued messages).  Managed Redis that refuses
 * CONFIG GET is not an error. */
#ifndef SF_REDIS_CHECKS_H
#define SF_REDIS_CHECKS_H

#include "rconn.h"

#define SF_LAYOUT_VERSION 1

/* Sends the checks on "conn" (fire and forget; the replies log). */
void sf_redis_checks(sf_rconn *conn, const char *prefix);

#endif
