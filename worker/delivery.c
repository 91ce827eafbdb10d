/* delivery.c - the life of one stream entry (see worker.h):
 *   decode -> [callback jobs: HMGET the entry's callback state] -> HTTP
 *   attempt -> outcome:
 *     delivered   id into the ack batch, slot freed at once;
 *     retry       queue_retry.lua, slot kept until Redis confirmed;
 *     fail        dlq_add.lua, then the id into the ack batch;
 *     callback    cb_result.lua, then queue_retry.lua or the ack batch.
 * A delivery that holds a command (d->cmd) resends it after a reconnect
 * until a reply arrives (sf_delivery_resend_all). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "outcome.h"
#include "sign.h"
#include "util.h"
#include "worker_int.h"

static void start_attempt(sf_delivery *d);

/* ---- deliveries ---------------------------------------------------------- */

static sf_delivery *delivery_new(sf_reader *r, const char *entry_id) {
    sf_worker *w = r->w;
    sf_delivery *d = calloc(1, sizeof(*d));
    sf_assert(d);
    d->w = w;
    d->r = r;
    snprintf(d->entry_id, sizeof(d->entry_id), "%s", entry_id);
    d->touch_us = sf_mono_us();
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
    if (d->prev)
        d->prev->next = d->next;
    else
        w->active = d->next;
    if (d->next) d->next->prev = d->prev;
    d->r->inflight--;
    sf_message_free(d->msg);
    sf_headers_cleanup(&d->extra);
    sf_cmd_cleanup(&d->cmd);
    sf_buf_cleanup(&d->next_env);
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

static void callback_attempt_done(sf_delivery *d, const sf_http_response *res,
                                  sf_outcome o, int64_t delay_ms) {
    sf_worker *w = d->w;
    sf_message *m = d->msg;
    int64_t now = sf_now_ms();
    sf_cmd_cleanup(&d->cmd);
    sf_outcome_cb_result_cmd(&d->cmd, w->cfg.prefix, m, outcome_word(o), res,
                             m->retried + 1, now);
    d->cb_retry = o == SF_OUTCOME_RETRY;
    if (d->cb_retry) {
        sf_message_add_attempt(m, d->attempt_ms, res->status, res->latency_ms,
                               res->error[0] ? res->error : NULL);
        m->retried++;
        sf_buf_cleanup(&d->next_env);
        sf_message_encode(m, &d->next_env);
        d->next_due_ms = now + delay_ms;
    }
    if (o == SF_OUTCOME_FAIL)
        sf_info("callback_failed dlqId=%s url=%s status=%d", m->dlq_id, m->url,
                res->status);
    set_cmd(d, SF_WK_CBRESULT);
}

/* Builds d's dlq_add.lua command.  The envelope stored on the entry is
 * encoded here, on this rare path, rather than kept from the stream entry
 * for every delivery; it carries the attempt history, which a DLQ retry
 * clears. */
static void dlq_cmd(sf_delivery *d, const sf_http_response *res,
                    const char *reason, int64_t now_ms, char dlq_id[80]) {
    sf_buf env;
    sf_buf_init(&env);
    sf_message_encode(d->msg, &env);
    sf_outcome_dlq_cmd(&d->cmd, d->w->cfg.prefix, d->msg, env.data, env.len,
                       res, reason, now_ms, dlq_id);
    sf_buf_cleanup(&env);
}

static void http_done(void *arg, const sf_http_response *res) {
    sf_delivery *d = arg;
    sf_worker *w = d->w;
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
    if (m->kind == SF_KIND_CALLBACK) {
        callback_attempt_done(d, res, o, delay_ms);
        return;
    }
    if (o == SF_OUTCOME_DELIVERED) {
        w->n_delivered++;
        sf_worker_ack_add(d->r, d->entry_id);
        delivery_finish(d);
        return;
    }
    sf_message_add_attempt(m, d->attempt_ms, res->status, res->latency_ms,
                           res->error[0] ? res->error : NULL);
    sf_cmd_cleanup(&d->cmd);
    if (o == SF_OUTCOME_RETRY) {
        w->n_retried++;
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
    const char *reason = res->status == 489 && ri.non_retryable
                             ? "non-retryable error (489)"
                             : "retries exhausted";
    char dlq_id[80];
    dlq_cmd(d, res, reason, now, dlq_id);
    sf_info("dlq messageId=%s dlqId=%s url=%s status=%d reason=\"%s\" "
            "callback=%s",
            m->id, dlq_id, m->url, res->status, reason,
            m->failure_callback ? "yes" : "no");
    set_cmd(d, SF_WK_DLQ);
}

static void start_attempt(sf_delivery *d) {
    sf_worker *w = d->w;
    sf_message *m = d->msg;
    char num[32];
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
    if (rep->type == REDIS_REPLY_ERROR) {
        /* Not a link problem, so resending would fail the same way.  Leave
         * the entry pending: XAUTOCLAIM brings it back later. */
        sf_error("redis_write_failed entry=%s queue=%s kind=%d err=\"%s\"",
                 d->entry_id, d->r->tag, (int)d->wk, rep->str);
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
            sf_debug("callback_dropped dlqId=%s gen=%" PRId64, m->dlq_id,
                     m->cb_gen);
            sf_worker_ack_add(d->r, d->entry_id);
            delivery_finish(d);
        }
        break;
    }
    case SF_WK_RETRY:
        delivery_finish(d); /* the script acked the entry */
        break;
    case SF_WK_DLQ:
        if (rep->type == REDIS_REPLY_INTEGER && rep->integer == 1) w->n_dlq++;
        sf_worker_ack_add(d->r, d->entry_id);
        delivery_finish(d);
        break;
    case SF_WK_CBRESULT:
        if (d->cb_retry && rep->type == REDIS_REPLY_INTEGER &&
            rep->integer == 1) {
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
    sf_warn("malformed_entry queue=%s entry=%s why=\"%s\"", d->r->tag,
            d->entry_id, why);
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
void sf_delivery_handle_entry(sf_reader *r, const redisReply *e, int held) {
    if (!e || e->type != REDIS_REPLY_ARRAY || e->elements < 2 ||
        !sf_reply_is_str(e->element[0]) || e->element[0]->len >= ID_MAX)
        return;
    const char *entry_id = e->element[0]->str;
    const redisReply *fv = e->element[1];
    if (fv->type != REDIS_REPLY_ARRAY) {
        sf_worker_ack_add(
            r, entry_id); /* deleted while pending: nothing to deliver */
        return;
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
        return;
    }
    if (strcmp(v->str, SF_STREAM_SCHEMA) != 0) {
        snprintf(why, sizeof(why), "unknown schema version v=%.32s", v->str);
        entry_malformed(d, fv, why, msg_id, NULL);
        return;
    }
    if (!m || !id) {
        entry_malformed(d, fv, m ? "missing field id" : "missing field m",
                        msg_id, NULL);
        return;
    }
    sf_err err = {{0}};
    sf_message *msg = sf_message_decode(m->str, m->len, &err);
    if (!msg) {
        snprintf(why, sizeof(why), "undecodable m: %s", err.msg);
        entry_malformed(d, fv, why, msg_id, NULL);
        return;
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
        return;
    }
    d->msg = msg;
    if (held)
        d->held = 1; /* sf_delivery_release() starts it */
    else
        sf_delivery_release(d, 0);
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
        sf_warn(
            "poison_entry queue=%s entry=%s messageId=%s deliveries=%" PRId64,
            d->r->tag, d->entry_id, m->id, deliveries);
        sf_cmd_cleanup(&d->cmd);
        if (m->kind == SF_KIND_CALLBACK) {
            sf_outcome_cb_result_cmd(&d->cmd, w->cfg.prefix, m, "fail", NULL,
                                     m->retried + 1, sf_now_ms());
            d->cb_retry = 0;
            set_cmd(d, SF_WK_CBRESULT);
        } else {
            char dlq_id[80];
            dlq_cmd(d, NULL, reason, sf_now_ms(), dlq_id);
            set_cmd(d, SF_WK_DLQ);
        }
        return;
    }
    if (m->kind == SF_KIND_CALLBACK) {
        sf_outcome_cb_check_cmd(&d->cmd, w->cfg.prefix, m->dlq_id);
        set_cmd(d, SF_WK_CHECK);
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
