/* redis_checks.h - what both processes check each time their main Redis
 * link comes up (the layout version is checked earlier, by every link:
 * rconn.h).
 *
 * Eviction: a maxmemory-policy other than noeviction is logged as a warning
 * (Redis could evict queued messages), once per process (the caller keeps
 * the flag).  Managed Redis
 * that refuses CONFIG GET is not an error. */
#ifndef SF_REDIS_CHECKS_H
#define SF_REDIS_CHECKS_H

#include "rconn.h"

/* Sends the checks on "conn" (fire and forget; the replies log).
 * "*policy_warned" (owned by the caller, 0 at start) makes the eviction
 * warning once per process rather than once per reconnect; it must outlive
 * "conn". */
void sf_redis_checks(sf_rconn *conn, int *policy_warned);

#endif
