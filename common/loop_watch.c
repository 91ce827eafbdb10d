/* loop_watch.c - the event loop's stall rule (see loop_watch.h). */
#include "loop_watch.h"

#include "log.h"

#define STALL_US ((int64_t)SF_LOOP_STALL_MS * 1000)

void sf_loop_watch_init(sf_loop_watch *w, int64_t now_us) {
    w->tick_us = now_us;
    w->stalled_until_us = 0;
}

void sf_loop_watch_tick(sf_loop_watch *w, int64_t now_us) {
    int64_t gap = now_us - w->tick_us;
    if (gap > STALL_US) {
        sf_warn("event_loop_stalled ms=%lld", (long long)(gap / 1000));
        w->stalled_until_us = now_us + STALL_US;
    }
    w->tick_us = now_us;
}

int sf_loop_watch_stalled(const sf_loop_watch *w, int64_t now_us) {
    return now_us - w->tick_us > STALL_US || now_us < w->stalled_until_us;
}
