/* metrics.c - series registry and Prometheus text exposition (see
 * metrics.h).
 *
 * Series live in one array in registration order.  Rendering walks the
 * distinct names in first-registration order and, for each, every series of
 * that name, so HELP/TYPE appear once per name whatever the registration
 * order was.  Debian ships no C Prometheus client (only prometheus-cpp), and
 * the format is a few lines of text, so it is written here. */
#include "metrics.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum metric_kind { K_COUNTER, K_GAUGE, K_GAUGE_FN, K_HISTOGRAM } metric_kind;

struct sf_metric {
    metric_kind kind;
    const char *name;
    const char *help;
    char *labels;             /* owned; "" when none */
    double value;             /* counter, gauge */
    sf_metric_read_fn *fn;    /* gauge_fn */
    void *arg;
    double *bounds;           /* histogram: owned, n_bounds upper bounds */
    uint64_t *counts;         /* histogram: per bucket (not cumulative) + +Inf */
    size_t n_bounds;
    double sum;
    uint64_t count;
};

struct sf_metrics {
    sf_metric **series;
    size_t len, cap;
};

const double sf_metrics_latency_bounds[] = {0.005, 0.01, 0.025, 0.05, 0.1,
                                            0.25,  0.5,  1,     2.5,  5,
                                            10,    30,   60};
const size_t sf_metrics_latency_nbounds =
    sizeof(sf_metrics_latency_bounds) / sizeof(sf_metrics_latency_bounds[0]);

sf_metrics *sf_metrics_new(void) {
    return calloc(1, sizeof(sf_metrics));
}

void sf_metrics_free(sf_metrics *m) {
    if (!m) return;
    for (size_t i = 0; i < m->len; i++) {
        sf_metric *s = m->series[i];
        free(s->labels);
        free(s->bounds);
        free(s->counts);
        free(s);
    }
    free(m->series);
    free(m);
}

/* Appends a new series of "kind" to "m"; NULL on allocation failure. */
static sf_metric *add_series(sf_metrics *m, metric_kind kind, const char *name,
                             const char *help, const char *labels) {
    if (!m) return NULL;
    if (m->len == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 32;
        sf_metric **p = realloc(m->series, cap * sizeof(*p));
        if (!p) return NULL;
        m->series = p;
        m->cap = cap;
    }
    sf_metric *s = calloc(1, sizeof(*s));
    if (!s) return NULL;
    s->labels = strdup(labels ? labels : "");
    if (!s->labels) {
        free(s);
        return NULL;
    }
    s->kind = kind;
    s->name = name;
    s->help = help;
    m->series[m->len++] = s;
    return s;
}

sf_metric *sf_metric_counter(sf_metrics *m, const char *name, const char *help,
                             const char *labels) {
    return add_series(m, K_COUNTER, name, help, labels);
}

sf_metric *sf_metric_gauge(sf_metrics *m, const char *name, const char *help,
                           const char *labels) {
    return add_series(m, K_GAUGE, name, help, labels);
}

sf_metric *sf_metric_gauge_fn(sf_metrics *m, const char *name,
                              const char *help, const char *labels,
                              sf_metric_read_fn *fn, void *arg) {
    sf_metric *s = add_series(m, K_GAUGE_FN, name, help, labels);
    if (s) {
        s->fn = fn;
        s->arg = arg;
    }
    return s;
}

sf_metric *sf_metric_histogram(sf_metrics *m, const char *name,
                               const char *help, const char *labels,
                               const double *bounds, size_t n) {
    sf_metric *s = add_series(m, K_HISTOGRAM, name, help, labels);
    if (!s) return NULL;
    s->bounds = malloc((n ? n : 1) * sizeof(double));
    s->counts = calloc(n + 1, sizeof(uint64_t));
    if (!s->bounds || !s->counts) {
        /* Unregistered again (it is the last series): a histogram without
         * buckets would render as invalid exposition. */
        m->len--;
        free(s->bounds);
        free(s->counts);
        free(s->labels);
        free(s);
        return NULL;
    }
    if (n) memcpy(s->bounds, bounds, n * sizeof(double));
    s->n_bounds = n;
    return s;
}

void sf_metric_add(sf_metric *s, double v) {
    if (s && (s->kind == K_GAUGE || (s->kind == K_COUNTER && v >= 0)))
        s->value += v;
}

void sf_metric_set(sf_metric *s, double v) {
    if (s && s->kind == K_GAUGE) s->value = v;
}

void sf_metric_observe(sf_metric *s, double v) {
    if (!s || s->kind != K_HISTOGRAM || !s->counts || isnan(v)) return;
    size_t i = 0;
    while (i < s->n_bounds && v > s->bounds[i]) i++;
    s->counts[i]++;
    s->sum += v;
    s->count++;
}

double sf_metric_value(const sf_metric *s) {
    if (!s) return 0;
    if (s->kind == K_GAUGE_FN) return s->fn ? s->fn(s->arg) : 0;
    if (s->kind == K_HISTOGRAM) return (double)s->count;
    return s->value;
}

sf_status sf_metrics_process_info(sf_metrics *m, const char *process) {
    char l[128];
    snprintf(l, sizeof(l), "version=\"%s\",process=\"%s\"", SF_VERSION,
             process);
    sf_metric *info = sf_metric_gauge(
        m, "stepflow_build_info", "Always 1; the labels say what runs.", l);
    sf_metric *start = sf_metric_gauge(
        m, "stepflow_process_start_time_seconds",
        "When the process started, seconds since the Unix epoch.", NULL);
    sf_metric_set(info, 1);
    sf_metric_set(start, (double)sf_now_ms() / 1000.0);
    return info && start ? SF_OK : SF_ERR;
}

static const char *type_name(metric_kind k) {
    switch (k) {
    case K_COUNTER: return "counter";
    case K_HISTOGRAM: return "histogram";
    default: return "gauge";
    }
}

/* The shortest "%.Ng" text of "v" that reads back as "v" (0.1, not
 * 0.10000000000000001). */
static void format_double(char *out, size_t size, double v) {
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(out, size, "%.*g", prec, v);
        if (strtod(out, NULL) == v) return;
    }
}

/* A sample value: integers without a fraction, NaN/Inf as Prometheus
 * spells them. */
static void append_value(sf_buf *out, double v) {
    if (isnan(v))
        sf_buf_appends(out, "NaN");
    else if (isinf(v))
        sf_buf_appends(out, v > 0 ? "+Inf" : "-Inf");
    else if (v == floor(v) && fabs(v) < 9007199254740992.0)
        sf_buf_appendf(out, "%.0f", v);
    else {
        char num[40];
        format_double(num, sizeof(num), v);
        sf_buf_appends(out, num);
    }
}

/* HELP text escaping: backslash and newline. */
static void append_help(sf_buf *out, const char *help) {
    for (const char *p = help; *p; p++) {
        if (*p == '\\')
            sf_buf_appends(out, "\\\\");
        else if (*p == '\n')
            sf_buf_appends(out, "\\n");
        else
            sf_buf_append(out, p, 1);
    }
}

/* name{labels[,extra]} value */
static void append_sample(sf_buf *out, const char *name, const char *suffix,
                          const char *labels, const char *extra, double v) {
    sf_buf_appends(out, name);
    sf_buf_appends(out, suffix);
    if (labels[0] || extra) {
        sf_buf_append(out, "{", 1);
        sf_buf_appends(out, labels);
        if (labels[0] && extra) sf_buf_append(out, ",", 1);
        if (extra) sf_buf_appends(out, extra);
        sf_buf_append(out, "}", 1);
    }
    sf_buf_append(out, " ", 1);
    append_value(out, v);
    sf_buf_append(out, "\n", 1);
}

static void render_series(const sf_metric *s, sf_buf *out) {
    if (s->kind != K_HISTOGRAM) {
        append_sample(out, s->name, "", s->labels, NULL, sf_metric_value(s));
        return;
    }
    uint64_t cum = 0;
    char le[64];
    for (size_t i = 0; i <= s->n_bounds && s->counts; i++) {
        cum += s->counts[i];
        if (i < s->n_bounds) {
            char num[40];
            format_double(num, sizeof(num), s->bounds[i]);
            snprintf(le, sizeof(le), "le=\"%s\"", num);
        } else
            snprintf(le, sizeof(le), "le=\"+Inf\"");
        append_sample(out, s->name, "_bucket", s->labels, le, (double)cum);
    }
    append_sample(out, s->name, "_sum", s->labels, NULL, s->sum);
    append_sample(out, s->name, "_count", s->labels, NULL, (double)s->count);
}

void sf_metrics_render(const sf_metrics *m, sf_buf *out) {
    if (!m) return;
    for (size_t i = 0; i < m->len; i++) {
        const sf_metric *first = m->series[i];
        int seen = 0; /* this name was rendered with an earlier series */
        for (size_t j = 0; j < i && !seen; j++)
            seen = strcmp(m->series[j]->name, first->name) == 0;
        if (seen) continue;
        sf_buf_appendf(out, "# HELP %s ", first->name);
        append_help(out, first->help);
        sf_buf_appendf(out, "\n# TYPE %s %s\n", first->name,
                       type_name(first->kind));
        for (size_t j = i; j < m->len; j++)
            if (strcmp(m->series[j]->name, first->name) == 0)
                render_series(m->series[j], out);
    }
}
