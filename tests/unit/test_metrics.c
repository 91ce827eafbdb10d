/* test_metrics.c - the registry and its text exposition: grouping by name,
 * values, histograms, gauge callbacks, NULL safety, the process info. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "metrics.h"
#include "util.h"

static char *render(sf_metrics *m) {
    sf_buf b;
    sf_buf_init(&b);
    sf_metrics_render(m, &b);
    return sf_buf_take(&b, NULL);
}

static double read_seven(void *arg) {
    return *(double *)arg;
}

static void counters_and_grouping(void) {
    sf_metrics *m = sf_metrics_new();
    sf_metric *ok = sf_metric_counter(m, "stepflow_x_total", "Things.",
                                      "outcome=\"ok\"");
    sf_metric *g = sf_metric_gauge(m, "stepflow_g", "A gauge.", NULL);
    sf_metric *bad = sf_metric_counter(m, "stepflow_x_total", "Things.",
                                       "outcome=\"bad\"");
    sf_metric_add(ok, 3);
    sf_metric_add(ok, 1);
    sf_metric_add(ok, -5); /* ignored: counters only go up */
    sf_metric_add(bad, 1);
    sf_metric_set(g, 2.5);
    sf_metric_add(g, -1);
    CHECK(sf_metric_value(ok) == 4);
    CHECK(sf_metric_value(g) == 1.5);
    char *t = render(m);
    CHECK_STR(t, "# HELP stepflow_x_total Things.\n"
                 "# TYPE stepflow_x_total counter\n"
                 "stepflow_x_total{outcome=\"ok\"} 4\n"
                 "stepflow_x_total{outcome=\"bad\"} 1\n"
                 "# HELP stepflow_g A gauge.\n"
                 "# TYPE stepflow_g gauge\n"
                 "stepflow_g 1.5\n");
    free(t);
    sf_metrics_free(m);
}

static void histogram(void) {
    sf_metrics *m = sf_metrics_new();
    const double bounds[] = {0.1, 1};
    sf_metric *h = sf_metric_histogram(m, "stepflow_d_seconds", "Latency.",
                                       "queue=\"msg\"", bounds, 2);
    sf_metric_observe(h, 0.05);
    sf_metric_observe(h, 0.1); /* le is inclusive */
    sf_metric_observe(h, 0.5);
    sf_metric_observe(h, 7);
    sf_metric_observe(h, NAN); /* ignored */
    CHECK(sf_metric_value(h) == 4);
    char *t = render(m);
    CHECK_STR(t, "# HELP stepflow_d_seconds Latency.\n"
                 "# TYPE stepflow_d_seconds histogram\n"
                 "stepflow_d_seconds_bucket{queue=\"msg\",le=\"0.1\"} 2\n"
                 "stepflow_d_seconds_bucket{queue=\"msg\",le=\"1\"} 3\n"
                 "stepflow_d_seconds_bucket{queue=\"msg\",le=\"+Inf\"} 4\n"
                 "stepflow_d_seconds_sum{queue=\"msg\"} 7.65\n"
                 "stepflow_d_seconds_count{queue=\"msg\"} 4\n");
    free(t);
    sf_metrics_free(m);
}

static void gauge_fn_and_escapes(void) {
    sf_metrics *m = sf_metrics_new();
    double seven = 7;
    sf_metric *f = sf_metric_gauge_fn(m, "stepflow_f", "Line one\nback\\slash",
                                      NULL, read_seven, &seven);
    CHECK(sf_metric_value(f) == 7);
    seven = 8;
    char *t = render(m);
    CHECK_STR(t, "# HELP stepflow_f Line one\\nback\\\\slash\n"
                 "# TYPE stepflow_f gauge\n"
                 "stepflow_f 8\n");
    free(t);
    sf_metrics_free(m);
}

static void null_safety(void) {
    sf_metric_add(NULL, 1);
    sf_metric_set(NULL, 1);
    sf_metric_observe(NULL, 1);
    CHECK(sf_metric_value(NULL) == 0);
    CHECK(sf_metric_counter(NULL, "a", "b", NULL) == NULL);
    sf_metrics_free(NULL);
    sf_metrics *m = sf_metrics_new();
    char *t = render(m);
    CHECK_STR(t ? t : "", "");
    free(t);
    sf_metrics_free(m);
    /* the shared latency buckets increase */
    for (size_t i = 1; i < sf_metrics_latency_nbounds; i++)
        CHECK(sf_metrics_latency_bounds[i] > sf_metrics_latency_bounds[i - 1]);
}

static void process_info(void) {
    sf_metrics *m = sf_metrics_new();
    double before = (double)sf_now_ms() / 1000;
    CHECK(sf_metrics_process_info(m, "worker") == SF_OK);
    double after = (double)sf_now_ms() / 1000;
    char *t = render(m);
    const char *want = "# HELP stepflow_build_info Always 1; the labels say "
                       "what runs.\n"
                       "# TYPE stepflow_build_info gauge\n"
                       "stepflow_build_info{version=\"" SF_VERSION
                       "\",process=\"worker\"} 1\n"
                       "# HELP stepflow_process_start_time_seconds When the "
                       "process started, seconds since the Unix epoch.\n"
                       "# TYPE stepflow_process_start_time_seconds gauge\n"
                       "stepflow_process_start_time_seconds ";
    CHECK(t && strncmp(t, want, strlen(want)) == 0);
    double start = t ? strtod(t + strlen(want), NULL) : 0;
    CHECK(start >= before && start <= after);
    free(t);
    sf_metrics_free(m);
}

TEST_MAIN(T(counters_and_grouping), T(histogram), T(gauge_fn_and_escapes),
          T(null_safety), T(process_info))
