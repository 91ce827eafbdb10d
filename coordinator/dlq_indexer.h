/* dlq_indexer.h - keeps the DLQ indexes (keys.h, P:{dlq}:idx:*) in step
 * with the DLQ entries.
 *
 * Workers (and the DLQ API) append (dlqId, event) to P:{dlq}:events; each
 * coordinator reads that stream through the consumer group "indexer", so
 * several coordinators share the work and each event is handled by one.
 * For each event dlq_index.lua re-reads the entry, fixes its index zsets
 * and XACKs the event in the same script: idempotent and atomic, so a
 * crash at any point loses nothing (the event stays pending).  Events left
 * pending by a dead coordinator are taken over with XAUTOCLAIM after 30 s
 * idle; our own pending events are re-read after every reconnect.
 *
 * It owns a second Redis connection so that its XREADGROUP ... BLOCK does
 * not hold up the API's commands (conn="indexer" in the metrics).  Runs on the coordinator's event_base;
 * errors are logged and retried, never fatal. */
#ifndef SF_COORD_DLQ_INDEXER_H
#define SF_COORD_DLQ_INDEXER_H

#include "coord.h"

#define SF_INDEXER_CLAIM_IDLE_MS 30000
#define SF_INDEXER_CLAIM_EVERY_MS 10000

/* Creates the indexer and its connection; it starts once Redis is up.
 * NULL only on allocation failure. */
sf_dlq_indexer *sf_dlq_indexer_new(sf_coord *c);
/* Stops reading (an event being indexed stays pending for later) and frees;
 * NULL is a no-op.  Not from inside one of its callbacks. */
void sf_dlq_indexer_free(sf_dlq_indexer *x);
/* 1 while the indexer's own Redis connection is up (GET /readyz: while it
 * is down the DLQ indexes stall); 0 for NULL. */
int sf_dlq_indexer_is_up(const sf_dlq_indexer *x);

#endif
