/* flow.h - flow control (Upstash-Flow-Control-Key / -Value) in the worker.
 *
 * A message with fc_key may only start its HTTP attempt while its key has
 * room: fewer than fc_parallelism deliveries of the key in flight and
 * fewer than fc_rate starts in the last fc_period_ms, counted across every
 * worker.  The limiter is one Lua script, common/lua/fc_limit.lua, so
 * each decision is atomic in Redis; its keys (common/keys.h) live in the
 * {msg} slot beside the stream:
 *
 *   acquire  before the attempt (a delivery write, SF_WK_FC_ACQUIRE): if
 *            nobody waits and the key has room the delivery takes a slot
 *            (a lease in P:{msg}:fc:run:<key>, one member per stream
 *            entry: <msgId>:<entryId>) and starts; otherwise the
 *            message is parked: its stream entry is acked and deleted and
 *            its envelope appended to the key's FIFO wait list, in the
 *            same script.  A parked message uses no retry and no worker
 *            slot, and nobody polls it.
 *   release  when the delivery ends (any outcome, or handed back): the
 *            slot is freed and the head of the wait list is woken while
 *            the key has room: XADDed back to the stream with its slot
 *            already granted, so newer arrivals cannot overtake it (they
 *            queue behind it).
 *   tick     a timer wakes keys whose rate window has moved on, or whose
 *            slot holders died (P:{msg}:fc:wake, key -> time).  Each
 *            worker arms it at the wake time the script reports, and
 *            every FC_IDLE_MS in any case (FC_IDLE_MAX_MS while its last
 *            tick saw no key waiting), so a dead worker's wake-ups are
 *            taken over by the others.  One tick wakes at most 500
 *            messages in all; the rest follow at once in the next.
 *   renew    slots are leases of max(claim_idle_ms, 1 s), renewed every
 *            third of that while the delivery runs, so a worker killed
 *            mid-delivery leaks its slots for at most one lease; its
 *            entry is reclaimed like any other (XAUTOCLAIM) and, finding
 *            its slot still held, goes on without a new start.
 *
 * Limits: the latest message of a key sets its limits (QStash: newest
 * wins).  A woken message holds its slot for 10 leases while it waits in
 * the stream for a reader; should a backlog outlast that, it queues again
 * at the tail.  Releases are fire-and-forget (kept while the link is down
 * and sent when it is up again; a lost one costs one lease).  A release
 * names its attempt's entry, so a late one cannot free the slot of a newer
 * attempt of the same message.
 *
 * Runs on the worker's event loop and its main connection.  Only
 * flow.c, worker.c and delivery.c use it. */
#ifndef SF_FLOW_H
#define SF_FLOW_H

#include <hiredis/hiredis.h>

typedef struct sf_flow sf_flow;
struct sf_worker;
struct sf_delivery;

/* Starts the flow-control timers of worker "w" (borrowed; must outlive
 * it).  Never NULL (aborts on allocation failure, like the worker). */
sf_flow *sf_flow_new(struct sf_worker *w);
/* Stops the timers and frees; NULL is a no-op.  Call it after the
 * worker's Redis connections are gone (their callbacks are done). */
void sf_flow_free(sf_flow *f);

/* 1 when delivery "d" must hold a slot before its attempt and has none. */
int sf_flow_needs_slot(const struct sf_delivery *d);
/* Builds the acquire command into d->cmd (the caller sends it as a
 * delivery write). */
void sf_flow_acquire_cmd(struct sf_delivery *d);
/* Reads the acquire reply "rep" (not an error reply): 1 = the slot is
 * held (d->fc_held set), start the attempt; 0 = parked or no longer
 * pending, the entry is off the stream: finish the delivery, no ack. */
int sf_flow_acquired(struct sf_delivery *d, const redisReply *rep);
/* Frees the slot "d" holds, or may hold unasked (a woken message's
 * granted slot), unless it was parked (called when "d" is freed). */
void sf_flow_release(struct sf_delivery *d);
/* Sends the releases kept while the link was down (call when it is up);
 * NULL is a no-op. */
void sf_flow_flush(sf_flow *f);
/* 1 when no release waits to be sent or for its reply (a drain waits for
 * them); NULL counts as idle. */
int sf_flow_idle(const sf_flow *f);

#endif
