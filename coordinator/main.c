/* main.c - stepflow-coordinator: the API server, the DLQ indexer and the
 * metrics.
 *
 * Thin: read the config, build the coordinator's objects on one
 * event_base, run the loop, and on SIGTERM/SIGINT stop accepting, write
 * the per-minute counts, let the requests waiting on Redis finish, write
 * the counts of the publishes they made and wait for those writes (all
 * bounded by cfg.drain_ms), tear down. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "api.h"
#include "config.h"
#include "coord.h"
#include "dlq_indexer.h"
#include "http.h"
#include "keys.h"
#include "log.h"
#include "redis_checks.h"
#include "metrics_api.h"
#include "util.h"
#include "wf_sweep.h"

#define DRAIN_POLL_MS 20

typedef struct app {
    sf_coord coord;
    struct event *sigterm, *sigint;   /* owned */
    struct event *drain_ev;           /* owned */
    struct event *tick_ev;            /* owned: stamps coord.loop */
    sf_wf_sweep *sweep;               /* owned: workflow runs' expiry */
    int64_t drain_deadline_ms;
    int quiet_ticks;                  /* drain polls seen with nothing pending */
    int final_flush;                  /* the drain's last count write is sent */
} app;

static void on_group_created(redisAsyncContext *ac, void *reply, void *privdata) {
    (void)ac;
    redisReply *r = reply;
    if (r && r->type == REDIS_REPLY_ERROR && !strstr(r->str, "BUSYGROUP"))
        sf_error("xgroup_create_failed stream=%s err=%s",
                 SF_LOGQ((const char *)privdata), SF_LOGQ(r->str));
}

/* On every (re)connect: the workers' groups exist, and the eviction policy
 * is checked (redis_checks.h). */
static void on_redis_state(sf_rconn *conn, int up, void *arg) {
    sf_coord *c = arg;
    if (!up) {
        sf_warn("redis_down");
        return;
    }
    sf_info("redis_up");
    /* XGROUP CREATE <stream> workers 0 MKSTREAM (BUSYGROUP = exists) */
    sf_rconn_commandf(conn, on_group_created, c->msgq.stream,
                      "XGROUP CREATE %s %s 0 MKSTREAM", c->msgq.stream,
                      SF_GROUP_WORKERS);
    sf_rconn_commandf(conn, on_group_created, c->cbq.stream,
                      "XGROUP CREATE %s %s 0 MKSTREAM", c->cbq.stream,
                      SF_GROUP_WORKERS);
    sf_redis_checks(conn, &c->policy_warned); /* eviction policy */
    sf_keys_api_seed(c); /* signing keys from the environment (HSETNX) */
    sf_coord_metrics_refresh(c->metrics); /* the figures at once */
}

/* The 1 s loop timer: stamps the loop as turning (loop_watch.h). */
static void on_tick(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    sf_coord *c = arg;
    sf_loop_watch_tick(&c->loop, sf_mono_us());
}

static void on_drain_tick(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    app *a = arg;
    int64_t now = sf_now_ms();
    /* Nothing pending for a few ticks: replies have been written out. */
    if (sf_rconn_pending(a->coord.redis) == 0) a->quiet_ticks++;
    else a->quiet_ticks = 0;
    if (a->quiet_ticks >= 3 && !a->final_flush) {
        /* The publishes answered during the drain counted minutes that
         * the flush in on_signal() did not see: write them, then wait
         * for those replies like any other. */
        a->final_flush = 1;
        sf_coord_metrics_flush(a->coord.metrics);
        if (sf_rconn_pending(a->coord.redis) > 0) a->quiet_ticks = 0;
    }
    if (a->quiet_ticks >= 3 || now >= a->drain_deadline_ms) {
        if (a->quiet_ticks < 3)
            sf_warn("drain_timeout pending=%zu", sf_rconn_pending(a->coord.redis));
        event_base_loopexit(a->coord.base, NULL);
        return;
    }
    struct timeval tv = {0, DRAIN_POLL_MS * 1000};
    evtimer_add(a->drain_ev, &tv);
}

static void on_signal(evutil_socket_t sig, short what, void *arg) {
    (void)what;
    app *a = arg;
    if (a->coord.stopping) return;
    sf_info("shutdown signal=%d note=draining", (int)sig);
    a->coord.stopping = 1;
    sf_http_stop_accepting(a->coord.http);
    sf_coord_metrics_stop(a->coord.metrics); /* no timer keeps Redis busy */
    sf_coord_metrics_flush(a->coord.metrics);
    sf_dlq_indexer_free(a->coord.indexer);
    a->coord.indexer = NULL;
    sf_wf_sweep_free(a->sweep);
    a->sweep = NULL;
    a->drain_deadline_ms = sf_now_ms() + a->coord.cfg->drain_ms;
    struct timeval tv = {0, DRAIN_POLL_MS * 1000};
    evtimer_add(a->drain_ev, &tv);
}

/* The banner in text logs; one warning object in JSON logs (which must stay
 * one object per line). */
static void dev_warning(const sf_config *cfg) {
    if (strcmp(cfg->log_format, "text") != 0) {
        sf_warn("dev_mode auth=off note=\"anyone who can reach this port can "
                "publish messages and read or delete the DLQ; never use --dev "
                "outside your own machine\"");
        return;
    }
    fprintf(stderr,
            "\n"
            "  ************************************************************\n"
            "  *  WARNING: stepflow-coordinator is running with --dev.     *\n"
            "  *  AUTHENTICATION IS OFF: anyone who can reach this port   *\n"
            "  *  can publish messages and read or delete the DLQ.        *\n"
            "  *  Never use --dev outside your own machine.               *\n"
            "  ************************************************************\n"
            "\n");
}

int main(int argc, char **argv) {
    static sf_config cfg;
    int rc = sf_config_main(&cfg, SF_PROC_COORDINATOR, argc, argv);
    if (rc >= 0) return rc;
    sf_err err = {{0}};
    if (cfg.dev) dev_warning(&cfg);
    signal(SIGPIPE, SIG_IGN);

    app a;
    memset(&a, 0, sizeof(a));
    sf_coord *c = &a.coord;
    c->cfg = &cfg;
    c->base = event_base_new();
    if (!c->base) {
        fprintf(stderr, "stepflow-coordinator: cannot create the event loop\n");
        return 1;
    }
    sf_log_hook_libevent();
    sf_keys_queue(cfg.prefix, SF_QUEUE_MSG, &c->msgq);
    sf_keys_queue(cfg.prefix, SF_QUEUE_CALLBACK, &c->cbq);
    sf_keys_dlq_events(cfg.prefix, c->dlq_events, sizeof(c->dlq_events));
    sf_keys_dlq_index_prefix(cfg.prefix, c->dlq_idx_prefix, sizeof(c->dlq_idx_prefix));

    c->redis = sf_rconn_new(c->base, &cfg.redis, cfg.prefix,
                            "stepflow-coordinator", on_redis_state, c);
    c->metrics = c->redis ? sf_coord_metrics_new(c) : NULL;
    c->http = c->metrics ? sf_http_new(c, &err) : NULL;
    if (!c->http) {
        fprintf(stderr, "stepflow-coordinator: %s\n",
                c->metrics ? err.msg : "out of memory");
        sf_rconn_free(c->redis);
        sf_coord_metrics_free(c->metrics);
        event_base_free(c->base);
        return 1;
    }
    c->indexer = sf_dlq_indexer_new(c);
    a.sweep = sf_wf_sweep_new(c);
    a.sigterm = evsignal_new(c->base, SIGTERM, on_signal, &a);
    a.sigint = evsignal_new(c->base, SIGINT, on_signal, &a);
    a.drain_ev = evtimer_new(c->base, on_drain_tick, &a);
    a.tick_ev = event_new(c->base, -1, EV_PERSIST, on_tick, c);
    if (!c->indexer || !a.sweep || !a.sigterm || !a.sigint || !a.drain_ev ||
        !a.tick_ev) {
        fprintf(stderr, "stepflow-coordinator: out of memory\n");
        return 1;
    }
    evsignal_add(a.sigterm, NULL);
    evsignal_add(a.sigint, NULL);
    struct timeval tick = {SF_LOOP_TICK_MS / 1000, (SF_LOOP_TICK_MS % 1000) * 1000};
    sf_loop_watch_init(&c->loop, sf_mono_us());
    event_add(a.tick_ev, &tick);

    sf_info("listening addr=%s:%d redis=%s:%d prefix=%s auth=%s", cfg.listen_host,
            sf_http_port(c->http), cfg.redis.host, cfg.redis.port, cfg.prefix,
            cfg.dev ? "off" : "on");
    if (strcmp(cfg.log_format, "text") == 0) { /* JSON: the log line says it */
        printf("stepflow-coordinator listening on http://%s:%d\n",
               cfg.listen_host, sf_http_port(c->http));
        fflush(stdout);
    }

    event_base_dispatch(c->base);

    /* Redis first: callbacks still pending answer their (live) requests
     * with 503 before the HTTP server frees them. */
    sf_dlq_indexer_free(c->indexer);
    sf_wf_sweep_free(a.sweep);
    sf_rconn_free(c->redis);
    sf_http_free(c->http);
    sf_coord_metrics_free(c->metrics); /* last: the two above still count */
    event_free(a.sigterm);
    event_free(a.sigint);
    event_free(a.drain_ev);
    event_free(a.tick_ev);
    event_base_free(c->base);
    sf_info("stopped");
    return 0;
}
