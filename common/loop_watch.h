/* loop_watch.h - notices that a process's event loop stopped turning
 * (/readyz: 503 "event loop stalled").
 *
 * A timer of the process calls sf_loop_watch_tick() every SF_LOOP_TICK_MS.
 * The loop counts as stalled while that tick is more than
 * SF_LOOP_STALL_MS overdue, and for SF_LOOP_STALL_MS more after a tick
 * that came that late.  The second rule is the one a probe sees: its
 * request is only read once the loop turns again, and libevent may run
 * the overdue timer first, so a stall that is over would otherwise never
 * be reported.  A late tick logs `event_loop_stalled ms=<gap>` (warn).
 *
 * Plain storage the caller owns; the clock is passed in (monotonic
 * microseconds, sf_mono_us()), so the rule is tested without a loop. */
#ifndef SF_LOOP_WATCH_H
#define SF_LOOP_WATCH_H

#include <stdint.h>

#define SF_LOOP_TICK_MS 1000
#define SF_LOOP_STALL_MS 3000

typedef struct sf_loop_watch {
    int64_t tick_us;          /* when the tick last ran (monotonic) */
    int64_t stalled_until_us; /* a late tick was seen: stalled until then */
} sf_loop_watch;

/* Starts watching at "now_us" (as if the tick had just run). */
void sf_loop_watch_init(sf_loop_watch *w, int64_t now_us);
/* The tick ran at "now_us"; a gap over SF_LOOP_STALL_MS is logged and
 * marks the loop stalled for SF_LOOP_STALL_MS. */
void sf_loop_watch_tick(sf_loop_watch *w, int64_t now_us);
/* 1 when the loop counts as stalled at "now_us", else 0. */
int sf_loop_watch_stalled(const sf_loop_watch *w, int64_t now_us);

#endif
