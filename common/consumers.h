/* consumers.h - removing the consumers of a Redis consumer group that are
 * gone (consumers_prune.lua).
 *
 * Every pod of a rolling restart reads as a new consumer (its name is
 * <hostname>-<pid>), and Redis keeps a consumer until it is deleted: without
 * this, XINFO CONSUMERS grows with every restart.  A consumer is removed only
 * when it holds no pending entry (its entries would otherwise be lost to
 * reclaims) and it is "self" (a worker leaving after its drain) or has been
 * idle for SF_CONSUMER_PRUNE_IDLE_MS.  Every process that reads a group
 * prunes it every SF_CONSUMER_PRUNE_EVERY_MS (keys.h), the first time
 * SF_CONSUMER_PRUNE_FIRST_MS after its start. */
#ifndef SF_CONSUMERS_H
#define SF_CONSUMERS_H

#include "rconn.h"

#define SF_CONSUMER_PRUNE_FIRST_MS (60 * 1000) /* after the start's rush */

/* Sends one consumers_prune.lua call for "group" of "stream" on "c"; "self"
 * is the caller's own consumer name to remove now, or "" for none.  Fire
 * and forget: the reply is logged (consumers_pruned, with "tag", a static
 * string), and a call lost with the link is repeated by the next prune. */
void sf_consumers_prune(sf_rconn *c, const char *stream, const char *group,
                        const char *self, const char *tag);

#endif
