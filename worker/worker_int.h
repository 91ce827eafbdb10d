/* worker_int.h - the worker's internal types, shared by worker.c (the
 * object: connections, reads, acks, timers, drain) and delivery.c (one
 * entry's life: decode, attempt, outcome writes).  Not a public interface:
 * only these two files, flow.c, wmetrics.c and heartbeat.c include it.
 * See worker.h for the design. */
#ifndef SF_WORKER_INT_H
#define SF_WORKER_INT_H

#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <stdint.h>

#include "backoff.h"
#include "cmd.h"
#include "config.h"
#include "http.h"
#include "keys.h"
#include "loop_watch.h"
#include "message.h"
#include "metrics.h"
#include "rconn.h"
#include "worker.h"


#define ID_MAX 48 /* a stream entry id: "<ms>-<seq>" + NUL */
#define ACK_BATCH 128 /* ids per XACK/XDEL */
#define ACK_DELAY_US 5000 /* flush a partial batch after 5 ms: at a low
                            rate one XACK+XDEL per message cost more
                            wake-ups and Redis CPU than the delivery */
#define READ_MAX 128 /* entries per XREADGROUP: one reply (its raw entries)
                        is all that exists besides the decoded in-flight
                        deliveries, which bounds the peak memory */
#define CB_READ_MAX 64
#define MOVE_LIMIT 1000 /* ids per queue_move_due.lua call */
#define MOVE_IDLE_MS 100 /* mover period when nothing is due soon */
#define TICK_MS SF_LOOP_TICK_MS /* housekeeping: resend stalled writes;
                                  stamps the loop watch (readiness) */
#define DRAIN_POLL_MS 20
#define DRAIN_EXTRA_MS 5000 /* after the grace: time to write the rest */
#define KEEPALIVE_BATCH 512 /* ids per XCLAIM ... JUSTID */
#define CLAIM_MAX 100 /* entries per XAUTOCLAIM */
#define SF_POISON_DELIVERIES 10 /* reclaimed more often: DLQ, not again */
#define FINAL_TRIES 5 /* error replies to one final write before giving up
                         (resent by the tick, TICK_MS apart) */
#define LEAVE_WAIT_MS 1000 /* exit: wait this long for the heartbeat's
                              last call (the worker leaves the list) */

/* What became of a delivery (stepflow_deliveries_total{outcome}), counted
 * once, where delivery.c decides it:
 *   SUCCESS        2xx
 *   RETRY          a failed attempt with retries left (rescheduled)
 *   NON_RETRYABLE  489 + Upstash-NonRetryable-Error: failed at once
 *   EXHAUSTED      failed for good after its last retry (DLQ, failure
 *                  callback, report), or a poison entry (reclaimed more
 *                  than SF_POISON_DELIVERIES times)
 *   DROPPED        never attempted: its workflow run is not running, or
 *                  its failure callback was cancelled or restarted */
typedef enum sf_dout {
    SF_DOUT_SUCCESS,
    SF_DOUT_RETRY,
    SF_DOUT_NON_RETRYABLE,
    SF_DOUT_EXHAUSTED,
    SF_DOUT_DROPPED,
    SF_DOUT_COUNT
} sf_dout;

/* A failure callback's result as recorded on its DLQ entry
 * (stepflow_failure_callbacks_total{outcome}); counted when cb_result.lua
 * applied it (a stale job's result changes nothing and is not counted). */
typedef enum sf_fcb {
    SF_FCB_SUCCESS, /* CALLBACK_SUCCESS */
    SF_FCB_RETRY,   /* failed, another attempt scheduled */
    SF_FCB_FAILED,  /* CALLBACK_FAIL */
    SF_FCB_COUNT
} sf_fcb;

typedef enum sf_write_kind {
    SF_WK_NONE = 0,
    SF_WK_CHECK, /* HMGET callback state before a callback attempt */
    SF_WK_RETRY, /* queue_retry.lua */
    SF_WK_DLQ, /* dlq_add.lua, then ack */
    SF_WK_CBRESULT, /* cb_result.lua, then retry or ack */
    SF_WK_RUNSTATE, /* HGET the workflow run's state before an attempt */
    SF_WK_FINAL, /* one write of the final chain (final_stage) */
    SF_WK_FC_ACQUIRE, /* fc_limit.lua: a flow-control slot (flow.h) */
} sf_write_kind;

/* The writes after a message's final outcome, in this order, each held
 * until Redis confirmed it (delivery.c, final_next()):
 *   SRC     LINDEX the run's initial payload (failure callback of a lazy
 *           workflow step: sourceBody)
 *   DLQ     dlq_add.lua (not for a message whose Upstash-Callback report
 *           was built and that has no failure callback: its failure is
 *           reported, not dead-lettered)
 *   WFFAIL  wf_fail.lua: the step's run becomes RUN_FAILED
 *   REPORT  queue_callback.lua: Upstash-Callback report + ack of the entry
 * then the entry is acked unless REPORT did it.  An error reply is retried
 * FINAL_TRIES times in all before the chain gives up. */
typedef enum sf_final_stage {
    SF_FS_NONE = 0,
    SF_FS_SRC,
    SF_FS_DLQ,
    SF_FS_WFFAIL,
    SF_FS_REPORT,
} sf_final_stage;

typedef struct sf_reader sf_reader;

typedef struct sf_delivery {
    sf_worker *w;
    sf_reader *r; /* the queue it came from */
    struct sf_delivery *prev, *next; /* in-flight list */
    char entry_id[ID_MAX];
    sf_message *msg; /* owned; NULL for a malformed entry */
    int64_t touch_us; /* last time the entry's idle was reset */
    int64_t taken_us; /* monotonic: when this worker read or reclaimed it */
    int64_t attempt_ms; /* wall clock at the attempt's start */
    sf_headers extra; /* Upstash-* headers of the attempt */
    sf_http_transfer *xfer; /* while the HTTP attempt runs */
    sf_cmd cmd; /* the write it waits for (wk != NONE) */
    sf_write_kind wk;
    int cmd_sent; /* cmd sent, reply not yet seen */
    sf_buf next_env; /* callback retry: the envelope to park */
    int64_t next_due_ms;
    int cb_retry; /* cb_result said retry: schedule it */
    sf_fcb cb_result; /* what the cb_result.lua write records */
    int held; /* reclaimed, waiting for its delivery
                                    count (XPENDING) before it starts */
    /* Final chain (failed for good, or delivered with a report). */
    sf_final_stage final_stage; /* the last write sent */
    int final_errors; /* error replies to that write so far */
    sf_http_response *final_res; /* owned copy of the last response, kept
                                    only while the DLQ stage waits for the
                                    SRC stage; else NULL */
    int final_report; /* 1: "report" holds the Upstash-Callback report */
    sf_cmd report; /* built at the final outcome (final_start) */
    int final_retried; /* "retried" of the report */
    int final_failed; /* 1: failed for good; 0: delivered */
    char final_reason[64]; /* the DLQ reason */
    char dlq_id[80]; /* set by the DLQ stage */
    char *source_b64; /* owned: sourceBody from the SRC stage, or NULL */
    int fc_held; /* flow control: 1 holds a slot, -1 parked (nothing
                    held), 0 not asked yet (flow.h) */
} sf_delivery;

/* One queue: its blocking sf_reader connection and its timers. */
struct sf_reader {
    sf_worker *w;
    sf_queue_id q;
    const char *tag; /* "msg" / "cb", for logs and DLQ ids */
    sf_queue_keys keys;
    sf_rconn *conn; /* the blocking XREADGROUP connection */
    int budget; /* in-flight slots of this queue */
    int inflight; /* deliveries alive */
    int reserved; /* slots asked for by outstanding reads */
    int reading, read_count;
    int claiming, claim_count;
    char claim_cursor[ID_MAX];
    int moving;
    struct event *move_ev, *rearm_ev;
    /* Delivered ids waiting for XACK/XDEL (grows past ACK_BATCH only
     * while Redis is down). */
    char (*acks)[ID_MAX];
    size_t acks_len, acks_cap;
    /* Drain: ids handed back with queue_handback.lua. */
    sf_cmd handback;
    int handback_pending, handback_sent;
    /* Metrics of this queue (registered by wmetrics.c; each update is one
     * call through the pointer, NULL-safe). */
    sf_metric *m_out[SF_DOUT_COUNT]; /* deliveries by outcome */
    sf_metric *m_latency; /* HTTP attempt duration (s) */
    sf_metric *m_reclaimed, *m_malformed;
};

/* One XACK + XDEL pair in flight; freed when both replied. */
typedef struct ack_req {
    sf_reader *r;
    char (*ids)[ID_MAX];
    size_t n;
    int refs, failed;
} ack_req;

struct sf_worker {
    sf_config cfg;
    struct event_base *base; /* borrowed */
    sf_rconn *main; /* every non-blocking command */
    sf_http *http;
    sf_reader readers[2]; /* indexed by sf_queue_id */
    sf_delivery *active; /* in-flight list */
    size_t acks_inflight;
    struct event *ack_ev, *tick_ev, *claim_ev, *drain_ev;
    int ack_timer_on;
    int stopping, closing, handed_back;
    int policy_warned; /* sf_redis_checks(): eviction warning logged */
    int leaving; /* drained: the heartbeat's last call is out */
    int64_t drain_deadline_us, leave_deadline_us;
    int64_t prune_due_us; /* next consumers_prune.lua of both groups */
    int64_t started_ms; /* wall clock at sf_worker_new */
    sf_loop_watch loop; /* stamped by the 1 s tick (readiness) */
    struct sf_flow *flow; /* flow control (flow.h) */
    struct sf_sigkeys *sigkeys; /* refreshes cfg.current_signing_key */
    /* Operations: metrics (wmetrics.h), the cluster gauges
     * (qstats_poll.h), the listener (status.h), the heartbeat
     * (heartbeat.h). */
    sf_metrics *metrics; /* owned registry */
    struct sf_qstats_poller *qstats; /* owned */
    struct sf_status_srv *status; /* NULL when metrics_port < 0 */
    struct sf_heartbeat *hb;
    sf_metric *m_fcb[SF_FCB_COUNT]; /* failure callbacks by result */
    sf_metric *m_reports; /* Upstash-Callback reports queued */
};

/* worker.c */

/* Adds delivered entry "id" of "r" to the ack batch (flushed at
 * ACK_BATCH ids or after ACK_DELAY_US). */
void sf_worker_ack_add(sf_reader *r, const char *id);
/* Issues the blocking read of "r" if slots are free and none is out. */
void sf_worker_arm_read(sf_reader *r);

/* delivery.c */

/* Takes one [id, [field, value, ...]] stream entry (borrowed reply) into a
 * new delivery of "r": decodes it and starts its first step, or with
 * "held" leaves it for sf_delivery_release(); a malformed entry goes to the
 * DLQ at once.  Returns 1 when it became a delivery (malformed included),
 * 0 for an entry that was deleted or is not an entry. */
int sf_delivery_handle_entry(sf_reader *r, const redisReply *e, int held);
/* Starts held delivery "d", or ends it as poison when the entry has been
 * delivered more than SF_POISON_DELIVERIES times. */
void sf_delivery_release(sf_delivery *d, int64_t deliveries);
/* Every entry of an XREADGROUP reply [[stream, [entry, ...]], ...]. */
void sf_delivery_handle_read_reply(sf_reader *r, const redisReply *rep);
/* Unlinks and frees "d" (its transfer over or cancelled, no reply
 * pending); does not re-arm reads. */
void sf_delivery_free(sf_delivery *d);
/* Sends every delivery's write that is not on the wire (after a
 * reconnect, or from the housekeeping tick). */
void sf_delivery_resend_all(sf_worker *w);
/* 1 if "r" is a string (or status) reply. */
int sf_reply_is_str(const redisReply *r);
/* Arms "ev" to fire in "ms" milliseconds (0 = next loop iteration). */
void sf_timer_in(struct event *ev, int64_t ms);

#endif
