/* main.c - stepflow-worker: read the configuration, run the worker on one
 * event loop until SIGTERM/SIGINT has drained it, exit 0.
 * A second signal stops at once (pending entries are reclaimed later). */
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "worker.h"

typedef struct sig_ctx {
    struct event_base *base;
    sf_worker *worker;
    int count;
} sig_ctx;

static void on_signal(evutil_socket_t sig, short what, void *arg) {
    (void)what;
    sig_ctx *s = arg;
    if (s->count++ == 0) {
        sf_info("signal sig=%d action=drain", (int)sig);
        sf_worker_stop(s->worker);
    } else {
        sf_warn("signal sig=%d action=exit_now", (int)sig);
        event_base_loopbreak(s->base);
    }
}

int main(int argc, char **argv) {
    sf_config cfg;
    int rc = sf_config_main(&cfg, SF_PROC_WORKER, argc, argv);
    if (rc >= 0) return rc;
    sf_err err = {{0}};
    sf_log_hook_libevent();
    signal(SIGPIPE, SIG_IGN);

    /* The changelist folds a delete + add of one fd within a loop
     * iteration into one epoll_ctl (curl switches sockets between read and
     * write interest on every request). */
    struct event_config *ecfg = event_config_new();
    if (ecfg) event_config_set_flag(ecfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
    struct event_base *base = ecfg ? event_base_new_with_config(ecfg) : NULL;
    if (ecfg) event_config_free(ecfg);
    if (!base) {
        fprintf(stderr, "stepflow-worker: cannot create the event loop\n");
        return 1;
    }
    sf_worker *w = sf_worker_new(&cfg, base, &err);
    if (!w) {
        fprintf(stderr, "stepflow-worker: %s\n", err.msg);
        event_base_free(base);
        return 1;
    }
    sig_ctx sc = {base, w, 0};
    struct event *sigterm = evsignal_new(base, SIGTERM, on_signal, &sc);
    struct event *sigint = evsignal_new(base, SIGINT, on_signal, &sc);
    event_add(sigterm, NULL);
    event_add(sigint, NULL);

    event_base_dispatch(base);

    sf_worker_free(w);
    event_free(sigterm);
    event_free(sigint);
    event_base_free(base);
    sf_info("worker_exit");
    return 0;
}
