/* delivery.c - the life of one stream entry (see worker.h):
 *   decode -> [callback jobs: HMGET the entry's callback state] -> HTTP
 *   attempt -> outcome:
 *     delivered   id into the ack batch, slot freed at once;
 *     retry       queue_retry.lua, slot kept until Redis confirmed;
 *     fail        dlq_add.lua, then the id into the ack batch;
 *     callback    cb_result.lua, then queue_retry.lua or the ack batch;
 *     final       (failed for good, or delivered with an Upstash-Callback)
 *                 the chain of final writes, see final_next().
 * A message of a workflow run is delivered only while its run is
 * RUN_STARTED (HGET first); a step's retries and failure are recorded in
 * the run's next hash for the logs API (fire-and-forget).
 * A delivery that holds a command (d->cmd) resends it after a reconnect
 * until a reply arrives (sf_delivery_resend_all). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "flow.h"
#include "log.h"
#include "outcome.h"
#include "sign.h"
#include "util.h"
#include "worker_int.h"

static void start_attempt(sf_delivery *d);
static void response_free(sf_http_response *r);
static void final_start(sf_delivery *d, const sf_http_response *res,
                        int failed, const char *reason);
static void final_reply(sf_delivery *d, const redisReply *rep);
static void wf_step_state(sf_delivery *d, const char *state,
                          const sf_http_response *res);

/* ---- deliveries ---------------------------------------------------------- */

static sf_delivery *delivery_new(sf_reader *r, const char *entry_id) {
    sf_worker *w = r->w;
    sf_delivery *d = calloc(1, sizeof(*d));
    sf_assert(d);
    d->w = w;
    d->r = r;
    snprintf(d->entry_id, sizeof(d->entry_id), "%s", entry_id);
    d->touch_us = sf_mono_us();
    d->taken_us = d->touch_us;
    sf_buf_init(&d->next_env);
    d->next = w->active;
    if (w->active) w->active->prev = d;
    w->active = d;
    r->inflight++;
    return d;
}

/* Unlinks and frees "d" (its HTTP transfer must be over or cancelled and no
 * reply pending); declared in worker_int.h. */
void sf_delivery_free(sf_delivery *d) {
    sf_worker *w = d->w;
    sf_flow_release(d); /* its flow-control slot, if it holds one */
    if (d->prev)
        d->prev->next = d->next;
    else
        w->active = d->next;
    if (d->next) d->next->prev = d->prev;
    d->r->inflight--;
    sf_message_free(d->msg);
    sf_headers_cleanup(&d->extra);
    sf_cmd_cleanup(&d->cmd);
    sf_cmd_cleanup(&d->report);
    sf_buf_cleanup(&d->next_env);
    response_free(d->final_res);
    free(d->source_b64);
    free(d);
}

/* Frees "d" and lets its queue read again. */
static void delivery_finish(sf_delivery *d) {
    sf_reader *r = d->r;
    sf_delivery_free(d);
    sf_worker_arm_read(r);
}

static void cmd_cb(redisAsyncContext *c, void *reply, void *privdata);

/* Sends the sf_delivery's pending write unless it is already on the wire; if
 * the link is down it stays and resend_all() sends it after the reconnect. */
static void send_cmd(sf_delivery *d) {
    if (d->cmd_sent) return;
    if (sf_cmd_send(&d->cmd, d->w->main, cmd_cb, d) == SF_OK) d->cmd_sent = 1;
}

static void set_cmd(sf_delivery *d, sf_write_kind wk) {
    d->wk = wk;
    d->cmd_sent = 0;
    send_cmd(d);
}

/* Resends every unsent write (declared in worker_int.h). */
void sf_delivery_resend_all(sf_worker *w) {
    for (sf_delivery *d = w->active; d; d = d->next)
        if (d->wk != SF_WK_NONE && !d->cmd_sent) send_cmd(d);
}

static const char *outcome_word(sf_outcome o) {
    return o == SF_OUTCOME_DELIVERED ? "success"
           : o == SF_OUTCOME_RETRY   ? "retry"
                                     : "fail";
}

static const char *const dout_words[SF_DOUT_COUNT] = {
    "success", "retry", "non_retryable", "exhausted", "dropped"};

/* Counts what became of "d" (one increment through a registered pointer). */
static void count_outcome(sf_delivery *d, sf_dout o) {
    sf_metric_add(d->r->m_out[o], 1);
}

static void callback_attempt_done(sf_delivery *d, const sf_http_response *res,
                                  sf_outcome o, int64_t delay_ms) {
    sf_worker *w = d->w;
    sf_message *m = d->msg;
    int64_t now = sf_now_ms();
    sf_cmd_cleanup(&d->cmd);
    sf_outcome_cb_result_cmd(&d->cmd, w->cfg.prefix, m, outcome_word(o), res,
                             m->retried + 1, now);
    d->cb_retry = o == SF_OUTCOME_RETRY;
    d->cb_result = o == SF_OUTCOME_DELIVERED ? SF_FCB_SUCCESS
                   : o == SF_OUTCOME_RETRY   ? SF_FCB_RETRY
                                             : SF_FCB_FAILED;
    if (d->cb_retry) {
        sf_message_add_attempt(m, d->attempt_ms, res->status, res->latency_ms,
                               res->error[0] ? res->error : NULL);
        m->retried++;
        sf_buf_cleanup(&d->next_env);
        sf_message_encode(m, &d->next_env);
        d->next_due_ms = now + delay_ms;
    }
    if (o == SF_OUTCOME_FAIL)
        sf_info("callback_failed messageId=%s dlqId=%s attempt=%d status=%d "
                "url=%s",
                SF_LOGQ(m->id), SF_LOGQ(m->dlq_id), m->retried + 1, res->status,
                SF_LOGQ(m->url));
    set_cmd(d, SF_WK_CBRESULT);
}

static void http_done(void *arg, const sf_http_response *res) {
    sf_delivery *d = arg;
    sf_message *m = d->msg;
    d->xfer = NULL;
    sf_response_info ri = {0};
    ri.status = res->status;
    const char *nre =
        sf_headers_get(&res->headers, "Upstash-NonRetryable-Error");
    ri.non_retryable = nre && strcasecmp(nre, "true") == 0;
    ri.retry_after = sf_headers_get(&res->headers, "Retry-After");
    for (size_t i = 0; i < res->headers.len; i++) {
        if (sf_has_prefix_ci(res->headers.items[i].name, "X-RateLimit-Reset")) {
            ri.ratelimit_reset = res->headers.items[i].value;
            break;
        }
    }
    int64_t now = sf_now_ms(), delay_ms = 0;
    sf_outcome o = sf_classify(&ri, m->retried, m->max_retries, m->retry_delay,
                               now, &delay_ms);
    int non_retryable =
        o == SF_OUTCOME_FAIL && res->status == 489 && ri.non_retryable;
    sf_dout dout = o == SF_OUTCOME_DELIVERED ? SF_DOUT_SUCCESS
                   : o == SF_OUTCOME_RETRY   ? SF_DOUT_RETRY
                   : non_retryable           ? SF_DOUT_NON_RETRYABLE
                                             : SF_DOUT_EXHAUSTED;
    count_outcome(d, dout);
    if (!res->not_started) /* a latency of 0 s would skew the histogram */
        sf_metric_observe(d->r->m_latency, (double)res->latency_us / 1e6);
    sf_debug("delivery queue=%s messageId=%s attempt=%d status=%d outcome=%s "
             "ms=%" PRId64 "%s%s%s%s%s%s",
             d->r->tag, SF_LOGQ(m->id), m->retried + 1, res->status,
             dout_words[dout], res->latency_ms,
             m->workflow_run_id ? " runId=" : "",
             m->workflow_run_id ? SF_LOGQ(m->workflow_run_id) : "",
             m->dlq_id ? " dlqId=" : "", m->dlq_id ? SF_LOGQ(m->dlq_id) : "",
             res->error[0] ? " err=" : "",
             res->error[0] ? SF_LOGQ(res->error) : "");
    if (m->kind == SF_KIND_CALLBACK) {
        callback_attempt_done(d, res, o, delay_ms);
        return;
    }
    if (o == SF_OUTCOME_DELIVERED) {
        if (m->workflow_run_id) wf_step_state(d, NULL, NULL);
        if (m->callback_tpl_len > 0) {
            final_start(d, res, 0, NULL); /* report, then ack */
            return;
        }
        sf_worker_ack_add(d->r, d->entry_id);
        delivery_finish(d);
        return;
    }
    sf_message_add_attempt(m, d->attempt_ms, res->status, res->latency_ms,
                           res->error[0] ? res->error : NULL);
    sf_cmd_cleanup(&d->cmd);
    if (o == SF_OUTCOME_RETRY) {
        wf_step_state(d, "STEP_RETRY", res);
        m->retried++;
        sf_buf env;
        sf_buf_init(&env);
        sf_message_encode(m, &env);
        sf_outcome_retry_cmd(&d->cmd, &d->r->keys, d->entry_id, m->id,
                             now + delay_ms, env.data, env.len);
        sf_buf_cleanup(&env);
        set_cmd(d, SF_WK_RETRY);
        return;
    }
    const char *reason =
        non_retryable ? "non-retryable error (489)" : "retries exhausted";
    wf_step_state(d, "STEP_FAILED", res);
    final_start(d, res, 1, reason);
}

static void start_attempt(sf_delivery *d) {
    sf_worker *w = d->w;
    sf_message *m = d->msg;
    char num[32];
    if (w->handed_back) {
        /* Draining, past the hand-back: its check's reply (callback state,
         * run state, flow-control slot) was on the wire when the rest was
         * handed back.  No new attempt now; the entry stays pending and is
         * reclaimed by another worker (a slot it holds is released). */
        sf_info("drain_skip queue=%s entry=%s messageId=%s", d->r->tag,
                d->entry_id, SF_LOGQ(m->id));
        delivery_finish(d);
        return;
    }
    if (sf_flow_needs_slot(d)) { /* flow control: a slot first (flow.h) */
        sf_flow_acquire_cmd(d);
        set_cmd(d, SF_WK_FC_ACQUIRE);
        return;
    }
    sf_headers_cleanup(&d->extra);
    memset(&d->extra, 0, sizeof(d->extra));
    sf_headers_add(&d->extra, "Upstash-Message-Id", m->id);
    snprintf(num, sizeof(num), "%d", m->retried);
    sf_headers_add(&d->extra, "Upstash-Retried", num);
    d->attempt_ms = sf_now_ms();
    if (w->cfg.current_signing_key[0]) {
        char *jwt = sf_sign_jwt(w->cfg.current_signing_key, m->url, m->body,
                                m->body_len, d->attempt_ms / 1000, NULL);
        if (jwt) sf_headers_add(&d->extra, "Upstash-Signature", jwt);
        free(jwt);
    }
    int64_t timeout =
        m->timeout_ms > 0 ? m->timeout_ms : w->cfg.default_timeout_ms;
    if (w->cfg.max_timeout_ms > 0 && timeout > w->cfg.max_timeout_ms)
        timeout = w->cfg.max_timeout_ms;
    if (timeout <= 0) timeout = 30000;
    sf_http_request req = {
        .method = m->method,
        .url = m->url,
        .headers = &m->headers,
        .extra = &d->extra,
        .body = m->body,
        .body_len = m->body_len,
        .timeout_ms = timeout,
    };
    sf_err err = {{0}};
    d->xfer = sf_http_start(w->http, &req, http_done, d, &err);
    if (!d->xfer) {
        /* Could not even start: count it as a failed attempt. */
        sf_http_response res;
        memset(&res, 0, sizeof(res));
        sf_buf_init(&res.body);
        snprintf(res.error, sizeof(res.error), "%s", err.msg);
        res.not_started = 1;
        http_done(d, &res);
    }
}

/* Reply to a sf_delivery's write (d->cmd). */
static void cmd_cb(redisAsyncContext *c, void *reply, void *privdata) {
    (void)c;
    sf_delivery *d = privdata;
    sf_worker *w = d->w;
    redisReply *rep = reply;
    if (w->closing) return;
    d->cmd_sent = 0;
    if (!rep) return; /* link dropped: resend_all() sends it again */
    if (d->wk == SF_WK_FINAL) {
        d->wk = SF_WK_NONE;
        final_reply(d, rep);
        return;
    }
    if (rep->type == REDIS_REPLY_ERROR) {
        /* Not a link problem, so resending would fail the same way.  Leave
         * the entry pending: XAUTOCLAIM brings it back later. */
        sf_error("redis_write_failed%s%s entry=%s queue=%s kind=%d err=%s",
                 d->msg ? " messageId=" : "", d->msg ? SF_LOGQ(d->msg->id) : "",
                 d->entry_id, d->r->tag, (int)d->wk, SF_LOGQ(rep->str));
        delivery_finish(d);
        return;
    }
    sf_write_kind wk = d->wk;
    d->wk = SF_WK_NONE;
    switch (wk) {
    case SF_WK_CHECK: {
        const sf_message *m = d->msg;
        int live = rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 &&
                   rep->element[0]->type == REDIS_REPLY_STRING &&
                   strcmp(rep->element[0]->str, "CALLBACK_INPROGRESS") == 0 &&
                   rep->element[1]->type == REDIS_REPLY_STRING &&
                   strtoll(rep->element[1]->str, NULL, 10) == m->cb_gen;
        if (live) {
            start_attempt(d);
        } else {
            count_outcome(d, SF_DOUT_DROPPED);
            sf_debug("callback_dropped messageId=%s dlqId=%s gen=%" PRId64,
                     SF_LOGQ(m->id), SF_LOGQ(m->dlq_id), m->cb_gen);
            sf_worker_ack_add(d->r, d->entry_id);
            delivery_finish(d);
        }
        break;
    }
    case SF_WK_RUNSTATE: {
        const sf_message *m = d->msg;
        if (sf_reply_is_str(rep) && strcmp(rep->str, "RUN_STARTED") == 0) {
            start_attempt(d);
        } else {
            /* Cancelled, finished, or gone (expired): never delivered. */
            count_outcome(d, SF_DOUT_DROPPED);
            sf_info("wf_drop messageId=%s runId=%s state=%s", SF_LOGQ(m->id),
                    SF_LOGQ(m->workflow_run_id),
                    sf_reply_is_str(rep) ? SF_LOGQ(rep->str) : "(none)");
            wf_step_state(d, NULL, NULL);
            sf_worker_ack_add(d->r, d->entry_id);
            delivery_finish(d);
        }
        break;
    }
    case SF_WK_FINAL: /* handled above */
        break;
    case SF_WK_FC_ACQUIRE:
        if (sf_flow_acquired(d, rep))
            start_attempt(d);
        else
            delivery_finish(d); /* parked or stale: off the stream */
        break;
    case SF_WK_RETRY:
        delivery_finish(d); /* the script acked the entry */
        break;
    case SF_WK_DLQ: /* a malformed entry's DLQ entry */
        sf_worker_ack_add(d->r, d->entry_id);
        delivery_finish(d);
        break;
    case SF_WK_CBRESULT: {
        /* 1: applied (the callback run is still the live one); 2: applied
         * by an earlier send of this same command, whose reply was lost
         * with the link (so not counted yet: this worker sees exactly one
         * reply per attempt); 0: stale. */
        int applied = rep->type == REDIS_REPLY_INTEGER &&
                      (rep->integer == 1 || rep->integer == 2);
        if (applied) sf_metric_add(w->m_fcb[d->cb_result], 1);
        if (d->cb_retry && applied) {
            sf_cmd_cleanup(&d->cmd);
            sf_outcome_retry_cmd(&d->cmd, &d->r->keys, d->entry_id, d->msg->id,
                                 d->next_due_ms, d->next_env.data,
                                 d->next_env.len);
            set_cmd(d, SF_WK_RETRY);
        } else {
            sf_worker_ack_add(d->r, d->entry_id);
            delivery_finish(d);
        }
        break;
    }
    case SF_WK_NONE:
        break;
    }
}

/* ---- stream entries ------------------------------------------------------ */

/* 1 for a string or status reply. */
int sf_reply_is_str(const redisReply *r) {
    return r &&
           (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS);
}

/* Sends a stream entry that cannot be delivered to the DLQ ("why"). */
static void entry_malformed(sf_delivery *d, const redisReply *fv,
                            const char *why, const char *msg_id,
                            const char *url) {
    sf_worker *w = d->w;
    size_t n = fv ? fv->elements : 0;
    const char **f = calloc(n + 1, sizeof(*f));
    size_t *l = calloc(n + 1, sizeof(*l));
    sf_assert(f && l);
    size_t k = 0;
    /* Whole field/value pairs only, so the dump stays in step. */
    for (size_t i = 0; i + 1 < n; i += 2) {
        if (!sf_reply_is_str(fv->element[i]) ||
            !sf_reply_is_str(fv->element[i + 1]))
            continue;
        for (size_t j = i; j < i + 2; j++) {
            f[k] = fv->element[j]->str;
            l[k++] = fv->element[j]->len;
        }
    }
    sf_metric_add(d->r->m_malformed, 1);
    sf_warn("malformed_entry queue=%s entry=%s%s%s why=%s", d->r->tag,
            d->entry_id, msg_id ? " messageId=" : "",
            msg_id ? SF_LOGQ(msg_id) : "", SF_LOGQ(why));
    sf_cmd_cleanup(&d->cmd);
    sf_outcome_malformed_cmd(&d->cmd, w->cfg.prefix, d->r->tag, d->entry_id, f,
                             l, k & ~(size_t)1, msg_id, url, why, sf_now_ms());
    free(f);
    free(l);
    set_cmd(d, SF_WK_DLQ);
}

/* Takes one [id, [field, value, ...]] entry of an XREADGROUP/XAUTOCLAIM
 * reply into a new sf_delivery.  The reply is borrowed: everything kept is
 * copied. */
int sf_delivery_handle_entry(sf_reader *r, const redisReply *e, int held) {
    if (!e || e->type != REDIS_REPLY_ARRAY || e->elements < 2 ||
        !sf_reply_is_str(e->element[0]) || e->element[0]->len >= ID_MAX)
        return 0;
    const char *entry_id = e->element[0]->str;
    const redisReply *fv = e->element[1];
    if (fv->type != REDIS_REPLY_ARRAY) {
        sf_worker_ack_add(
            r, entry_id); /* deleted while pending: nothing to deliver */
        return 0;
    }
    sf_delivery *d = delivery_new(r, entry_id);
    const redisReply *v = NULL, *id = NULL, *m = NULL;
    for (size_t i = 0; i + 1 < fv->elements; i += 2) {
        const redisReply *k = fv->element[i], *val = fv->element[i + 1];
        if (!sf_reply_is_str(k) || !sf_reply_is_str(val)) continue;
        if (strcmp(k->str, "v") == 0)
            v = val;
        else if (strcmp(k->str, "id") == 0)
            id = val;
        else if (strcmp(k->str, "m") == 0)
            m = val;
    }
    char why[300];
    const char *msg_id = id && id->len < 200 ? id->str : NULL;
    if (!v) {
        entry_malformed(d, fv, "missing field v", msg_id, NULL);
        return 1;
    }
    if (strcmp(v->str, SF_STREAM_SCHEMA) != 0) {
        snprintf(why, sizeof(why), "unknown schema version v=%.32s", v->str);
        entry_malformed(d, fv, why, msg_id, NULL);
        return 1;
    }
    if (!m || !id) {
        entry_malformed(d, fv, m ? "missing field id" : "missing field m",
                        msg_id, NULL);
        return 1;
    }
    sf_err err = {{0}};
    sf_message *msg = sf_message_decode(m->str, m->len, &err);
    if (!msg) {
        snprintf(why, sizeof(why), "undecodable m: %s", err.msg);
        entry_malformed(d, fv, why, msg_id, NULL);
        return 1;
    }
    const char *kind_err = NULL;
    if (r->q == SF_QUEUE_CALLBACK &&
        (msg->kind != SF_KIND_CALLBACK || !msg->dlq_id || !*msg->dlq_id))
        kind_err = "not a callback job";
    else if (r->q == SF_QUEUE_MSG && msg->kind != SF_KIND_MESSAGE)
        kind_err = "not a message";
    if (kind_err) {
        entry_malformed(d, fv, kind_err, msg->id, msg->url);
        sf_message_free(msg);
        return 1;
    }
    d->msg = msg;
    if (held)
        d->held = 1; /* sf_delivery_release() starts it */
    else
        sf_delivery_release(d, 0);
    return 1;
}

/* Starts a decoded delivery, or when "deliveries" exceeds
 * SF_POISON_DELIVERIES (the entry was reclaimed that often: workers keep
 * crashing on it) ends it: a message goes to the DLQ, a callback job
 * counts as a failed callback.  Declared in worker_int.h. */
void sf_delivery_release(sf_delivery *d, int64_t deliveries) {
    sf_worker *w = d->w;
    sf_message *m = d->msg;
    d->held = 0;
    if (deliveries > SF_POISON_DELIVERIES) {
        char reason[64];
        snprintf(reason, sizeof(reason), "worker crashed %d times delivering it",
                 SF_POISON_DELIVERIES);
        sf_warn("poison_entry queue=%s entry=%s messageId=%s%s%s%s%s "
                "deliveries=%" PRId64,
                d->r->tag, d->entry_id, SF_LOGQ(m->id),
                m->workflow_run_id ? " runId=" : "",
                m->workflow_run_id ? SF_LOGQ(m->workflow_run_id) : "",
                m->dlq_id ? " dlqId=" : "", m->dlq_id ? SF_LOGQ(m->dlq_id) : "",
                deliveries);
        count_outcome(d, SF_DOUT_EXHAUSTED);
        sf_cmd_cleanup(&d->cmd);
        if (m->kind == SF_KIND_CALLBACK) {
            sf_outcome_cb_result_cmd(&d->cmd, w->cfg.prefix, m, "fail", NULL,
                                     m->retried + 1, sf_now_ms());
            d->cb_retry = 0;
            d->cb_result = SF_FCB_FAILED;
            set_cmd(d, SF_WK_CBRESULT);
        } else {
            wf_step_state(d, "STEP_FAILED", NULL);
            final_start(d, NULL, 1, reason);
        }
        return;
    }
    if (m->kind == SF_KIND_CALLBACK) {
        sf_outcome_cb_check_cmd(&d->cmd, w->cfg.prefix, m->dlq_id);
        set_cmd(d, SF_WK_CHECK);
    } else if (m->workflow_run_id) {
        /* HGET P:{wf}:run:<id> state: deliver only a running run's. */
        sf_outcome_run_state_cmd(&d->cmd, w->cfg.prefix, m->workflow_run_id);
        set_cmd(d, SF_WK_RUNSTATE);
    } else {
        start_attempt(d);
    }
}

/* Entries of one stream: [[stream, [entry, ...]], ...] (XREADGROUP). */
void sf_delivery_handle_read_reply(sf_reader *r, const redisReply *rep) {
    if (rep->type != REDIS_REPLY_ARRAY) return; /* nil: BLOCK timed out */
    for (size_t s = 0; s < rep->elements; s++) {
        const redisReply *st = rep->element[s];
        if (st->type != REDIS_REPLY_ARRAY || st->elements < 2 ||
            st->element[1]->type != REDIS_REPLY_ARRAY)
            continue;
        const redisReply *entries = st->element[1];
        for (size_t i = 0; i < entries->elements; i++)
            sf_delivery_handle_entry(r, entries->element[i], 0);
    }
}

/* ---- final outcomes: DLQ, run failure, Upstash-Callback report ---------- */

/* A copy of "res" (NULL = none) that outlives the HTTP callback. */
static sf_http_response *response_copy(const sf_http_response *res) {
    if (!res) return NULL;
    sf_http_response *c = calloc(1, sizeof(*c));
    sf_assert(c);
    c->status = res->status;
    memcpy(c->error, res->error, sizeof(c->error));
    c->body_truncated = res->body_truncated;
    c->latency_ms = res->latency_ms;
    c->latency_us = res->latency_us;
    c->not_started = res->not_started;
    for (size_t i = 0; i < res->headers.len; i++)
        sf_headers_add(&c->headers, res->headers.items[i].name,
                       res->headers.items[i].value);
    sf_buf_init(&c->body);
    if (res->body.len) sf_buf_append(&c->body, res->body.data, res->body.len);
    return c;
}

static void response_free(sf_http_response *r) {
    if (!r) return;
    sf_headers_cleanup(&r->headers);
    sf_buf_cleanup(&r->body);
    free(r);
}

/* Records a workflow delivery's state in its run's next hash, for the logs
 * API: "state" STEP_RETRY / STEP_FAILED with the attempt's error (steps
 * only), or NULL = delivered or dropped (HDEL, any message of a run).
 * Fire-and-forget: a lost update only makes the logs less detailed. */
static void wf_step_state(sf_delivery *d, const char *state,
                          const sf_http_response *res) {
    const sf_message *m = d->msg;
    if (!m->workflow_run_id || (state && !sf_wf_is_step(m))) return;
    sf_cmd c;
    if (state)
        sf_outcome_wf_next_cmd(&c, d->w->cfg.prefix, m, state, res,
                               sf_now_ms());
    else
        sf_outcome_wf_next_del_cmd(&c, d->w->cfg.prefix, m);
    sf_cmd_send(&c, d->w->main, NULL, NULL);
    sf_cmd_cleanup(&c);
}

/* Whether stage "s" of d's final chain applies (see sf_final_stage). */
static int final_wants(const sf_delivery *d, sf_final_stage s) {
    const sf_message *m = d->msg;
    int has_fc = m->failure_callback && *m->failure_callback;
    /* With an Upstash-Callback the failure is reported to the callback;
     * the DLQ takes it only when a failure callback must run too, or when
     * there is no report after all (its template does not decode). */
    int dlq = d->final_failed && (!d->final_report || has_fc);
    switch (s) {
    case SF_FS_SRC:
        return dlq && has_fc && m->workflow_run_id && !d->source_b64;
    case SF_FS_DLQ:
        return dlq;
    case SF_FS_WFFAIL:
        return dlq && sf_wf_is_step(m);
    case SF_FS_REPORT:
        return d->final_report;
    case SF_FS_NONE:
        break;
    }
    return 0;
}

/* Builds the command of stage "s" into d->cmd; "res" is the last response
 * (NULL = none), needed by the DLQ stage only. */
static void final_build(sf_delivery *d, sf_final_stage s,
                        const sf_http_response *res) {
    sf_worker *w = d->w;
    const sf_message *m = d->msg;
    int64_t now = sf_now_ms();
    sf_cmd_cleanup(&d->cmd);
    switch (s) {
    case SF_FS_SRC:
        sf_outcome_wf_initial_cmd(&d->cmd, w->cfg.prefix, m->workflow_run_id);
        break;
    case SF_FS_DLQ: {
        /* The envelope stored on the entry is encoded here, on this rare
         * path, rather than kept from the stream entry for every delivery;
         * it carries the attempt history, which a DLQ retry clears. */
        sf_buf env;
        sf_buf_init(&env);
        sf_message_encode(m, &env);
        sf_outcome_dlq_cmd(&d->cmd, w->cfg.prefix, m, env.data, env.len, res,
                           d->final_reason, d->source_b64, now, d->dlq_id);
        sf_buf_cleanup(&env);
        sf_info("dlq messageId=%s dlqId=%s%s%s attempt=%d status=%d url=%s "
                "reason=%s callback=%s",
                SF_LOGQ(m->id), d->dlq_id, m->workflow_run_id ? " runId=" : "",
                m->workflow_run_id ? SF_LOGQ(m->workflow_run_id) : "",
                m->retried + 1, res ? res->status : 0, SF_LOGQ(m->url),
                SF_LOGQ(d->final_reason), m->failure_callback ? "yes" : "no");
        break;
    }
    case SF_FS_WFFAIL:
        sf_outcome_wf_fail_cmd(&d->cmd, w->cfg.prefix, m->workflow_run_id,
                               d->dlq_id, now);
        break;
    case SF_FS_REPORT: /* built by final_start() */
        d->cmd = d->report;
        memset(&d->report, 0, sizeof(d->report));
        break;
    case SF_FS_NONE:
        break;
    }
}

/* Sends the next write of d's final chain after d->final_stage ("res" as
 * in final_build); when none is left, acks the entry (unless the report
 * script did) and ends "d". */
static void final_next(sf_delivery *d, const sf_http_response *res) {
    for (int s = (int)d->final_stage + 1; s <= (int)SF_FS_REPORT; s++) {
        if (!final_wants(d, (sf_final_stage)s)) continue;
        final_build(d, (sf_final_stage)s, res);
        d->final_stage = (sf_final_stage)s;
        d->final_errors = 0;
        set_cmd(d, SF_WK_FINAL);
        return;
    }
    if (d->final_stage != SF_FS_REPORT) sf_worker_ack_add(d->r, d->entry_id);
    delivery_finish(d);
}

/* Builds the Upstash-Callback report of "d" into d->report; 0 when the
 * template does not decode (the failure then goes to the DLQ instead). */
static int report_build(sf_delivery *d, const sf_http_response *res) {
    const sf_message *m = d->msg;
    char rid[48];
    sf_err err = {{0}};
    sf_cmd_cleanup(&d->report);
    if (sf_outcome_report_cmd(&d->report, &d->r->keys, d->entry_id, m, res,
                              d->final_retried, sf_now_ms(), rid,
                              &err) != SF_OK) {
        sf_warn("callback_report_skipped messageId=%s err=%s", SF_LOGQ(m->id),
                SF_LOGQ(err.msg));
        sf_cmd_cleanup(&d->report);
        return 0;
    }
    sf_info("callback_report messageId=%s reportId=%s status=%d retried=%d",
            SF_LOGQ(m->id), rid, res ? res->status : 0, d->final_retried);
    return 1;
}

/* Message "d" reached its final outcome: delivered ("failed" 0) or failed
 * for good for "reason"; "res" is the last response (borrowed, NULL =
 * none).  Starts the chain of final writes. */
static void final_start(sf_delivery *d, const sf_http_response *res,
                        int failed, const char *reason) {
    const sf_message *m = d->msg;
    d->final_failed = failed;
    d->final_stage = SF_FS_NONE;
    /* A failure is reported as the last attempt, so serve() does not wait
     * for more ("retried" == "maxRetries"). */
    d->final_retried = failed ? m->max_retries : m->retried;
    snprintf(d->final_reason, sizeof(d->final_reason), "%s",
             reason ? reason : "");
    d->final_report = m->callback_tpl_len > 0 && report_build(d, res);
    free(d->source_b64);
    d->source_b64 = NULL;
    if (failed && m->workflow_run_id && m->failure_callback &&
        *m->failure_callback)
        d->source_b64 = sf_wf_source_b64(m); /* NULL: the SRC stage */
    /* "res" is borrowed: a copy only when the DLQ stage is built after the
     * SRC stage's reply; otherwise it is built below, at once. */
    response_free(d->final_res);
    d->final_res = final_wants(d, SF_FS_SRC) ? response_copy(res) : NULL;
    final_next(d, res);
}

/* Reply "rep" to the write of stage d->final_stage. */
static void final_reply(sf_delivery *d, const redisReply *rep) {
    const sf_message *m = d->msg;
    if (rep->type == REDIS_REPLY_ERROR) {
        if (++d->final_errors < FINAL_TRIES) {
            /* Not a link problem, but often a passing one (-BUSY, -OOM,
             * -LOADING).  Every final write is idempotent: keep it, unsent,
             * for the tick to send again (sf_delivery_resend_all). */
            sf_warn("final_write_error messageId=%s entry=%s queue=%s "
                    "stage=%d try=%d err=%s note=\"sent again\"",
                    SF_LOGQ(m->id), d->entry_id, d->r->tag,
                    (int)d->final_stage, d->final_errors, SF_LOGQ(rep->str));
            d->wk = SF_WK_FINAL;
            return;
        }
        if (d->final_stage == SF_FS_SRC || d->final_stage == SF_FS_WFFAIL) {
            /* Workflow bookkeeping: the message's own outcome goes on. */
            sf_warn("wf_write_failed messageId=%s runId=%s stage=%d err=%s",
                    SF_LOGQ(m->id), SF_LOGQ(m->workflow_run_id),
                    (int)d->final_stage, SF_LOGQ(rep->str));
            final_next(d, d->final_res);
            return;
        }
        /* As in cmd_cb: leave the entry pending; XAUTOCLAIM brings it
         * back and the idempotent chain runs again. */
        sf_error("redis_write_failed messageId=%s entry=%s queue=%s stage=%d "
                 "err=%s",
                 SF_LOGQ(m->id), d->entry_id, d->r->tag, (int)d->final_stage,
                 SF_LOGQ(rep->str));
        delivery_finish(d);
        return;
    }
    switch (d->final_stage) {
    case SF_FS_SRC:
        if (sf_reply_is_str(rep))
            d->source_b64 = sf_wf_item_body(rep->str, rep->len);
        break;
    case SF_FS_DLQ:
        break;
    case SF_FS_WFFAIL:
        if (rep->type == REDIS_REPLY_INTEGER && rep->integer == 1)
            sf_info("wf_run_failed runId=%s messageId=%s dlqId=%s",
                    SF_LOGQ(m->workflow_run_id), SF_LOGQ(m->id), d->dlq_id);
        break;
    case SF_FS_REPORT:
        /* 1: queued now (0: a resend of a write that had applied). */
        if (rep->type == REDIS_REPLY_INTEGER && rep->integer == 1)
            sf_metric_add(d->w->m_reports, 1);
        break;
    case SF_FS_NONE:
        break;
    }
    final_next(d, d->final_res);
}
