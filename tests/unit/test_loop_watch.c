/* test_loop_watch.c - the event loop's stall rule (common/loop_watch.c),
 * driven with a made-up monotonic clock. */
#include "harness.h"

#include "loop_watch.h"

#define S 1000000 /* one second in microseconds */

static void test_ticking_loop_is_not_stalled(void) {
    sf_loop_watch w;
    sf_loop_watch_init(&w, 100 * S);
    CHECK_INT(sf_loop_watch_stalled(&w, 100 * S), 0);
    for (int64_t t = 101; t <= 110; t++) {
        sf_loop_watch_tick(&w, t * S);
        CHECK_INT(sf_loop_watch_stalled(&w, t * S + S / 2), 0);
    }
    /* a tick exactly SF_LOOP_STALL_MS late is still on time */
    sf_loop_watch_tick(&w, 113 * S);
    CHECK_INT(sf_loop_watch_stalled(&w, 113 * S), 0);
}

static void test_overdue_tick_is_a_stall(void) {
    sf_loop_watch w;
    sf_loop_watch_init(&w, 100 * S);
    CHECK_INT(sf_loop_watch_stalled(&w, 103 * S), 0);
    CHECK_INT(sf_loop_watch_stalled(&w, 103 * S + 1), 1);
}

static void test_late_tick_keeps_it_stalled(void) {
    /* The probe is read after the overdue tick: the stall must still
     * show, for SF_LOOP_STALL_MS, then go. */
    sf_loop_watch w;
    sf_loop_watch_init(&w, 100 * S);
    sf_loop_watch_tick(&w, 105 * S);
    CHECK_INT(sf_loop_watch_stalled(&w, 105 * S), 1);
    sf_loop_watch_tick(&w, 106 * S);
    sf_loop_watch_tick(&w, 107 * S);
    CHECK_INT(sf_loop_watch_stalled(&w, 107 * S + S / 2), 1);
    sf_loop_watch_tick(&w, 108 * S);
    CHECK_INT(sf_loop_watch_stalled(&w, 108 * S), 0);
}

TEST_MAIN(T(test_ticking_loop_is_not_stalled), T(test_overdue_tick_is_a_stall),
          T(test_late_tick_keeps_it_stalled))
