/* publish_api.h - storing new messages in Redis, for publish, batch and
 * DLQ retry.
 *
 * A message without delay and without dedup id is one XADD to
 * P:{msg}:stream; any other goes through publish.lua (dedup check, then
 * the delayed zset or the stream).  A batch is pipelined on the command
 * connection and completes when every reply is in; the caller answers its
 * client only then, so a 200 means Redis has the messages.
 *
 * Runs on the coordinator's event_base.  Errors: SF_AGAIN synchronously
 * when Redis is down (nothing sent, "done" never called); otherwise "done"
 * is called exactly once, later, with status SF_AGAIN if any write failed. */
#ifndef SF_COORD_PUBLISH_API_H
#define SF_COORD_PUBLISH_API_H

#include <stddef.h>
#include <stdint.h>
#include "coord.h"
#include "message.h"

typedef struct sf_enqueue_result {
    size_t n;
    const char *const *ids;   /* message id per item: the stored one, or the
                                 earlier message's when deduplicated */
    const int *deduplicated;  /* 1 when the dedup id matched */
    sf_status status;         /* SF_OK, or SF_AGAIN when a write failed */
    int maybe_stored;         /* SF_AGAIN because a reply was lost with the
                                 link: that write may have applied */
} sf_enqueue_result;

/* "r" and everything in it is valid only during the call. */
typedef void sf_enqueue_done_fn(sf_coord *c, const sf_enqueue_result *r,
                                void *arg);

/* Stores "msgs[0..n)" with due times "due_ms" (0 = now).  The messages are
 * only read (the caller frees them when this returns).  Returns SF_OK when
 * "done" will be called, SF_AGAIN when Redis is down. */
sf_status sf_enqueue(sf_coord *c, sf_message *const *msgs,
                     const int64_t *due_ms, size_t n, sf_enqueue_done_fn *done,
                     void *arg);

#endif
