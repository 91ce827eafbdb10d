/* output_views.c - the renderings of the API's JSON (DLQ entries, workflow
 * runs, GET /v2/stats) and of `stepflow inspect`'s document, built on the
 * text primitives of output.c (tables, times, clipping).  See output.h. */
#include "output.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util.h"

/* ---- field access ------------------------------------------------------- */

/* 1 when "v" is a JSON object; else prints "unexpected reply: not <what>"
 * and returns 0. */
static int object_or_say(FILE *f, const json_t *v, const char *what) {
    if (json_is_object(v)) return 1;
    fprintf(f, "unexpected reply: not %s\n", what);
    return 0;
}

/* The string value of obj[key], or "-" when absent or not a string. */
static const char *str_field(const json_t *obj, const char *key) {
    const char *s = json_string_value(json_object_get(obj, key));
    return s && s[0] ? s : "-";
}

/* A scalar as text: strings made safe for a terminal (sf_out_clip, cut
 * to "out_size"), integers in decimal, booleans, "-" else. */
static void scalar_text(const json_t *v, char *out, size_t out_size) {
    int64_t i;
    if (json_is_string(v) && json_string_length(v) > 0)
        sf_out_clip(json_string_value(v), SIZE_MAX, out, out_size);
    else if (json_is_boolean(v))
        snprintf(out, out_size, "%s", json_is_true(v) ? "true" : "false");
    else if (!json_is_string(v) && sf_out_json_i64(v, &i) == 0)
        snprintf(out, out_size, "%" PRId64, i);
    else
        snprintf(out, out_size, "-");
}

static void scalar_field(const json_t *obj, const char *key, char *out,
                         size_t out_size) {
    scalar_text(json_object_get(obj, key), out, out_size);
}

/* obj[key] as an integer, "dflt" when it is not one. */
static int64_t int_field(const json_t *obj, const char *key, int64_t dflt) {
    int64_t v;
    return sf_out_json_i64(json_object_get(obj, key), &v) == 0 ? v : dflt;
}

static void time_field(const json_t *obj, const char *key, char *out,
                       size_t out_size) {
    sf_out_iso8601(int_field(obj, key, 0), out, out_size);
}

/* A compact JSON rendering of "v" (strings unquoted), clipped. */
static void json_text(const json_t *v, size_t max_chars, char *out,
                      size_t out_size) {
    if (!v || json_is_null(v)) {
        snprintf(out, out_size, "-");
        return;
    }
    if (json_is_string(v)) {
        sf_out_clip(json_string_value(v), max_chars, out, out_size);
        return;
    }
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    sf_out_clip(s ? s : "-", max_chars, out, out_size);
    free(s);
}

/* "labels" joined with ",", else "label"; "-" when neither. */
static void labels_text(const json_t *obj, char *out, size_t out_size) {
    const json_t *ls = json_object_get(obj, "labels");
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; json_is_array(ls) && i < json_array_size(ls); i++) {
        const char *l = json_string_value(json_array_get(ls, i));
        if (!l || !*l) continue;
        int n = snprintf(out + o, out_size - o, "%s%s", o ? "," : "", l);
        if (n < 0 || (size_t)n >= out_size - o) break;
        o += (size_t)n;
    }
    if (!out[0]) snprintf(out, out_size, "%s", str_field(obj, "label"));
}

/* Prints "label: value" with values aligned after the longest label; the
 * value made safe for a terminal and cut (a value kv_json already cut,
 * with its "...", passes as it is). */
static void kv(FILE *f, const char *label, const char *value) {
    char clip[(SF_OUT_BODY_WIDTH + 3) * 4 + 8];
    fprintf(f, "%-24s %s\n", label,
            value && value[0] ? sf_out_clip(value, SF_OUT_BODY_WIDTH + 3, clip,
                                            sizeof(clip))
                              : "-");
}

/* "label:" and the labels of "obj" (labels_text). */
static void kv_labels(FILE *f, const json_t *obj) {
    char labels[256];
    labels_text(obj, labels, sizeof(labels));
    kv(f, "label:", labels);
}

static void kv_json(FILE *f, const char *label, const json_t *v) {
    char clip[SF_OUT_BODY_WIDTH * 4 + 8];
    json_text(v, SF_OUT_BODY_WIDTH, clip, sizeof(clip));
    kv(f, label, clip);
}

static void kv_body(FILE *f, const char *label, const json_t *obj,
                    const char *key) {
    char clip[SF_OUT_BODY_WIDTH * 4 + 8];
    const json_t *v = json_object_get(obj, key);
    if (!v) {
        /* Bodies that are not UTF-8 come as <key>Base64. */
        char b64key[64];
        snprintf(b64key, sizeof(b64key), "%sBase64", key);
        const char *b = json_string_value(json_object_get(obj, b64key));
        if (b) {
            char label2[64];
            snprintf(label2, sizeof(label2), "%.40s (base64)", label);
            kv(f, label2,
               sf_out_clip(b, SF_OUT_BODY_WIDTH, clip, sizeof(clip)));
            return;
        }
    }
    kv_json(f, label, v);
}

static void kv_scalar(FILE *f, const char *label, const json_t *obj,
                      const char *key) {
    char buf[512], clip[512];
    scalar_field(obj, key, buf, sizeof(buf));
    kv(f, label, sf_out_clip(buf, 120, clip, sizeof(clip)));
}

static void kv_time(FILE *f, const char *label, const json_t *obj,
                    const char *key) {
    char buf[40];
    time_field(obj, key, buf, sizeof(buf));
    kv(f, label, buf);
}

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* ---- DLQ ---------------------------------------------------------------- */

/* The failure callback's state; NONE when the entry has no callback (the
 * name the API's filter and the dashboard use). */
static const char *cb_state(const json_t *m) {
    const json_t *info = json_object_get(m, "failureCallbackInfo");
    return json_is_object(info) ? str_field(info, "state") : "NONE";
}

/* Prints the listing of the array "items" as a table of "cols", one row
 * each added by "add_row"; the line "none" when there are none. */
static void print_listing(FILE *f, const json_t *items, const char *none,
                          const sf_out_col *cols, size_t ncols,
                          void (*add_row)(sf_out_table *t, const json_t *item)) {
    size_t n = json_is_array(items) ? json_array_size(items) : 0;
    if (n == 0) {
        fprintf(f, "%s\n", none);
        return;
    }
    sf_out_table *t = sf_out_table_new(cols, ncols);
    for (size_t i = 0; t && i < n; i++) add_row(t, json_array_get(items, i));
    if (t)
        sf_out_table_print(f, t, 0);
    else
        fprintf(f, "out of memory\n");
    sf_out_table_free(t);
}

static void dlq_row(sf_out_table *t, const json_t *m) {
    char url[SF_OUT_URL_WIDTH * 4 + 8], status[32], labels[256], at[40];
    sf_out_clip(str_field(m, "url"), SF_OUT_URL_WIDTH, url, sizeof(url));
    scalar_field(m, "responseStatus", status, sizeof(status));
    labels_text(m, labels, sizeof(labels));
    time_field(m, "dlqAt", at, sizeof(at));
    if (strcmp(at, "-") == 0) time_field(m, "createdAt", at, sizeof(at));
    const char *row[] = {str_field(m, "dlqId"),
                         str_field(m, "messageId"),
                         url,
                         status,
                         cb_state(m),
                         labels,
                         str_field(m, "workflowRunId"),
                         at};
    sf_out_table_add(t, row);
}

void sf_out_dlq_table(FILE *f, const json_t *messages) {
    static const sf_out_col cols[] = {
        {"DLQ ID", 0},   {"MESSAGE ID", 0}, {"URL", 0},    {"STATUS", 1},
        {"CALLBACK", 0}, {"LABEL", 0},      {"RUN ID", 0}, {"DLQ TIME", 0}};
    print_listing(f, messages, "no DLQ entries", cols, NELEM(cols), dlq_row);
}

/* One attempt: "  #1  <time>  status 500  12 ms  error ...". */
static void print_attempt(FILE *f, size_t i, const json_t *a) {
    char at[40], status[32], lat[32], err[512];
    time_field(a, "at", at, sizeof(at));
    scalar_field(a, "status", status, sizeof(status));
    scalar_field(a, "latencyMs", lat, sizeof(lat));
    const char *e = json_string_value(json_object_get(a, "error"));
    fprintf(f, "  #%-3zu %s  status %s  %s ms", i + 1, at, status, lat);
    if (e && e[0])
        fprintf(f, "  error %s", sf_out_clip(e, 100, err, sizeof(err)));
    fputc('\n', f);
}

/* One failed attempt of the failure callback:
 * "  #1  <time>  status 500  error <error>  body <body>". */
static void print_cb_error(FILE *f, size_t i, const json_t *e) {
    char at[40], status[32], err[512], body[512];
    time_field(e, "time", at, sizeof(at));
    scalar_field(e, "status", status, sizeof(status));
    fprintf(f, "  #%-3zu %s  status %s", i + 1, at, status);
    const char *x = json_string_value(json_object_get(e, "error"));
    if (x && x[0])
        fprintf(f, "  error %s", sf_out_clip(x, 100, err, sizeof(err)));
    x = json_string_value(json_object_get(e, "body"));
    if (x && x[0])
        fprintf(f, "  body %s", sf_out_clip(x, 80, body, sizeof(body)));
    fputc('\n', f);
}

void sf_out_dlq_entry(FILE *f, const json_t *m) {
    if (!object_or_say(f, m, "a DLQ entry")) return;
    kv_scalar(f, "dlqId:", m, "dlqId");
    kv_scalar(f, "messageId:", m, "messageId");
    kv_scalar(f, "url:", m, "url");
    kv_scalar(f, "method:", m, "method");
    kv_labels(f, m);
    kv_time(f, "createdAt:", m, "createdAt");
    kv_time(f, "dlqAt:", m, "dlqAt");
    kv_scalar(f, "reason:", m, "reason");
    kv_scalar(f, "maxRetries:", m, "maxRetries");
    if (json_object_get(m, "workflowRunId"))
        kv_scalar(f, "workflowRunId:", m, "workflowRunId");
    if (json_object_get(m, "workflowUrl"))
        kv_scalar(f, "workflowUrl:", m, "workflowUrl");
    kv_json(f, "header:", json_object_get(m, "header"));
    kv_body(f, "body:", m, "body");
    kv_scalar(f, "responseStatus:", m, "responseStatus");
    kv_json(f, "responseHeader:", json_object_get(m, "responseHeader"));
    kv_body(f, "responseBody:", m, "responseBody");

    const json_t *attempts = json_object_get(m, "attempts");
    size_t na = json_is_array(attempts) ? json_array_size(attempts) : 0;
    char count[32];
    snprintf(count, sizeof(count), "%zu", na);
    kv(f, "attempts:", count);
    for (size_t i = 0; i < na; i++)
        print_attempt(f, i, json_array_get(attempts, i));

    kv_scalar(f, "failureCallback:", m, "failureCallback");
    const json_t *info = json_object_get(m, "failureCallbackInfo");
    if (!json_is_object(info)) {
        kv(f, "callback state:", "NONE");
        return;
    }
    kv_scalar(f, "callback state:", info, "state");
    if (json_object_get(info, "attempts"))
        kv_scalar(f, "callback attempts:", info, "attempts");
    kv_scalar(f, "callback responseStatus:", info, "responseStatus");
    kv_json(f, "callback responseHeaders:",
            json_object_get(info, "responseHeaders"));
    kv_body(f, "callback responseBody:", info, "responseBody");
    /* The failed attempts of the callback's current run (the API keeps
     * the last 10), oldest first. */
    const json_t *errs = json_object_get(info, "errors");
    size_t ne = json_is_array(errs) ? json_array_size(errs) : 0;
    snprintf(count, sizeof(count), "%zu", ne);
    kv(f, "callback errors:", count);
    for (size_t i = 0; i < ne; i++)
        print_cb_error(f, i, json_array_get(errs, i));
}

/* ---- workflow runs ------------------------------------------------------ */

/* Steps a run finished: the steps of its sequential and parallel groups
 * but the initial payload (what the dashboard's "Steps done" counts too;
 * deliveries in flight or failed, the "next" group, are not steps done). */
static size_t finished_steps(const json_t *run) {
    const json_t *groups = json_object_get(run, "steps");
    size_t n = 0;
    for (size_t g = 0; json_is_array(groups) && g < json_array_size(groups);
         g++) {
        const json_t *grp = json_array_get(groups, g);
        const char *type = json_string_value(json_object_get(grp, "type"));
        const json_t *steps = json_object_get(grp, "steps");
        if (!type || strcmp(type, "next") == 0 || !json_is_array(steps))
            continue;
        for (size_t i = 0; i < json_array_size(steps); i++) {
            const char *st = json_string_value(
                json_object_get(json_array_get(steps, i), "stepType"));
            n += !st || strcmp(st, "Initial") != 0;
        }
    }
    return n;
}

/* "completedAt - createdAt" of a finished run, "-" while it runs. */
static void run_duration(const json_t *run, char *out, size_t out_size) {
    int64_t c = int_field(run, "workflowRunCreatedAt", 0);
    int64_t e = int_field(run, "workflowRunCompletedAt", 0);
    sf_out_duration(c > 0 && e >= c ? e - c : -1, out, out_size);
}

static void run_row(sf_out_table *t, const json_t *r) {
    char url[SF_OUT_URL_WIDTH * 4 + 8], at[40], dur[24], steps[24],
        labels[256];
    sf_out_clip(str_field(r, "workflowUrl"), SF_OUT_URL_WIDTH, url,
                sizeof(url));
    time_field(r, "workflowRunCreatedAt", at, sizeof(at));
    run_duration(r, dur, sizeof(dur));
    snprintf(steps, sizeof(steps), "%zu", finished_steps(r));
    labels_text(r, labels, sizeof(labels));
    const char *row[] = {str_field(r, "workflowRunId"),
                         str_field(r, "workflowState"),
                         url,
                         at,
                         dur,
                         steps,
                         labels};
    sf_out_table_add(t, row);
}

void sf_out_runs_table(FILE *f, const json_t *runs) {
    static const sf_out_col cols[] = {
        {"RUN ID", 0},  {"STATE", 0},    {"WORKFLOW URL", 0}, {"CREATED", 0},
        {"DURATION", 1}, {"STEPS DONE", 1}, {"LABEL", 0}};
    print_listing(f, runs, "no workflow runs", cols, NELEM(cols), run_row);
}

/* The last error of a step in flight: "status 500: <error>". */
static void last_error(const json_t *step, char *out, size_t out_size) {
    const json_t *errs = json_object_get(step, "errors");
    size_t n = json_is_array(errs) ? json_array_size(errs) : 0;
    if (n == 0) {
        snprintf(out, out_size, "-");
        return;
    }
    const json_t *e = json_array_get(errs, n - 1);
    char status[32], msg[256];
    scalar_field(e, "status", status, sizeof(status));
    sf_out_clip(str_field(e, "error"), 80, msg, sizeof(msg));
    snprintf(out, out_size, "status %s: %s", status, msg);
}

/* The steps of a run: finished ones in one table, then the deliveries of
 * the "next" group: those whose last attempt failed (STEP_FAILED, the
 * dashboard's "failed delivery") apart from those still in flight. */
static void print_run_steps(FILE *f, const json_t *run) {
    static const sf_out_col done_cols[] = {
        {"#", 1},      {"GROUP", 0},   {"STEP", 0}, {"TYPE", 0},
        {"STATE", 0},  {"CREATED", 0}, {"OUT", 0}};
    static const sf_out_col next_cols[] = {
        {"MESSAGE ID", 0}, {"STEP", 0}, {"STATE", 0}, {"RETRIES", 1},
        {"LAST ERROR", 0}};
    const json_t *groups = json_object_get(run, "steps");
    sf_out_table *done = sf_out_table_new(done_cols, NELEM(done_cols));
    sf_out_table *next = sf_out_table_new(next_cols, NELEM(next_cols));
    sf_out_table *failed = sf_out_table_new(next_cols, NELEM(next_cols));
    size_t seq = 0;
    for (size_t g = 0; json_is_array(groups) && g < json_array_size(groups);
         g++) {
        const json_t *grp = json_array_get(groups, g);
        const char *type = str_field(grp, "type");
        const json_t *steps = json_object_get(grp, "steps");
        int is_next = strcmp(type, "next") == 0;
        for (size_t i = 0; json_is_array(steps) && i < json_array_size(steps);
             i++) {
            const json_t *s = json_array_get(steps, i);
            char retries[24], err[512];
            if (is_next) {
                scalar_field(s, "retries", retries, sizeof(retries));
                last_error(s, err, sizeof(err));
                const char *row[] = {str_field(s, "messageId"),
                                     str_field(s, "stepName"),
                                     str_field(s, "state"), retries, err};
                const char *st = json_string_value(json_object_get(s, "state"));
                sf_out_table_add(st && strcmp(st, "STEP_FAILED") == 0 ? failed
                                                                     : next,
                                 row);
                continue;
            }
            char idx[24], at[40], out[256];
            snprintf(idx, sizeof(idx), "%zu", seq++);
            time_field(s, "createdAt", at, sizeof(at));
            json_text(json_object_get(s, "out"), 60, out, sizeof(out));
            const char *row[] = {idx,
                                 type,
                                 str_field(s, "stepName"),
                                 str_field(s, "stepType"),
                                 str_field(s, "state"),
                                 at,
                                 out};
            sf_out_table_add(done, row);
        }
    }
    fprintf(f, "\nsteps:\n");
    if (seq)
        sf_out_table_print(f, done, 2);
    else
        fprintf(f, "  none recorded\n");
    if (sf_out_table_rows(failed)) {
        fprintf(f, "\nfailed deliveries:\n");
        sf_out_table_print(f, failed, 2);
    }
    if (sf_out_table_rows(next)) {
        fprintf(f, "\nin flight:\n");
        sf_out_table_print(f, next, 2);
    }
    sf_out_table_free(done);
    sf_out_table_free(next);
    sf_out_table_free(failed);
}

void sf_out_run(FILE *f, const json_t *run) {
    if (!object_or_say(f, run, "a workflow run")) return;
    char dur[24];
    kv_scalar(f, "workflowRunId:", run, "workflowRunId");
    kv_scalar(f, "workflowUrl:", run, "workflowUrl");
    kv_scalar(f, "state:", run, "workflowState");
    kv_time(f, "createdAt:", run, "workflowRunCreatedAt");
    kv_time(f, "completedAt:", run, "workflowRunCompletedAt");
    run_duration(run, dur, sizeof(dur));
    kv(f, "duration:", dur);
    kv_labels(f, run);
    kv_scalar(f, "dlqId:", run, "dlqId");
    kv_json(f, "response:", json_object_get(run, "workflowRunResponse"));
    print_run_steps(f, run);
    const json_t *ff = json_object_get(run, "failureFunction");
    if (json_is_object(ff)) {
        fprintf(f, "\nfailure function:\n");
        kv_scalar(f, "  state:", ff, "state");
        kv_scalar(f, "  url:", ff, "url");
        kv_scalar(f, "  failStatus:", ff, "failStatus");
        kv_json(f, "  failResponse:", json_object_get(ff, "failResponse"));
        kv_scalar(f, "  responseStatus:", ff, "responseStatus");
        kv_json(f, "  responseBody:", json_object_get(ff, "responseBody"));
    }
}

/* ---- GET /v2/stats ------------------------------------------------------ */

/* The failure-callback states in the order the API and inspect use. */
static const char *const cb_states[] = {"CALLBACK_INPROGRESS",
                                        "CALLBACK_SUCCESS", "CALLBACK_FAIL",
                                        "CALLBACK_CANCELED", "NONE"};

/* obj[key] as decimal text, "-" when it is not an integer. */
static void count_text(const json_t *obj, const char *key, char *out,
                       size_t out_size) {
    int64_t v;
    if (sf_out_json_i64(json_object_get(obj, key), &v) == 0)
        snprintf(out, out_size, "%" PRId64, v);
    else
        snprintf(out, out_size, "-");
}

static void stats_queues(FILE *f, const json_t *queues) {
    static const sf_out_col cols[] = {
        {"QUEUE", 0},   {"LENGTH", 1},         {"BACKLOG", 1},
        {"PENDING", 1}, {"OLDEST PENDING", 1}, {"DELAYED", 1}};
    static const char *const names[] = {"messages", "callbacks"};
    sf_out_table *t = sf_out_table_new(cols, NELEM(cols));
    for (size_t i = 0; t && i < NELEM(names); i++) {
        const json_t *q = json_object_get(queues, names[i]);
        char len[24], backlog[24], pending[24], oldest[24], delayed[24];
        count_text(q, "length", len, sizeof(len));
        count_text(q, "backlog", backlog, sizeof(backlog));
        count_text(q, "pending", pending, sizeof(pending));
        count_text(q, "delayed", delayed, sizeof(delayed));
        int64_t age = int_field(q, "oldestPendingAgeSeconds", -1);
        int64_t npend = int_field(q, "pending", 0);
        sf_out_duration(npend > 0 && age >= 0 ? age * 1000 : -1, oldest,
                        sizeof(oldest));
        const char *row[] = {names[i], len, backlog, pending, oldest, delayed};
        sf_out_table_add(t, row);
    }
    sf_out_table_print(f, t, 2);
    sf_out_table_free(t);
}

static void stats_dlq(FILE *f, const json_t *dlq) {
    sf_out_col cols[NELEM(cb_states)];
    char cells[NELEM(cb_states)][24];
    const char *row[NELEM(cb_states)];
    const json_t *by = json_object_get(dlq, "byFailureFunctionState");
    char total[24];
    count_text(dlq, "total", total, sizeof(total));
    fprintf(f, "\ndlq: %s entr%s\n", total, strcmp(total, "1") ? "ies" : "y");
    for (size_t i = 0; i < NELEM(cb_states); i++) {
        cols[i] = (sf_out_col){cb_states[i], 1};
        count_text(by, cb_states[i], cells[i], sizeof(cells[i]));
        row[i] = cells[i];
    }
    sf_out_table *t = sf_out_table_new(cols, NELEM(cols));
    sf_out_table_add(t, row);
    sf_out_table_print(f, t, 2);
    sf_out_table_free(t);
}

/* The cells both worker tables (stats, inspect) show, "-" for what is
 * missing: from "w" its alive flag and last heartbeat (lastSeen, ms, shown
 * as "12s ago" before "now"), from "info" the figures the worker reports. */
typedef struct worker_cells {
    char alive[8];
    char seen[24];
    char pid[24];
    char inflight[24];
    char concurrency[24];
    char delivered[24];
    char failed[24];
} worker_cells;

static void worker_cells_fill(worker_cells *c, const json_t *w,
                              const json_t *info, int64_t now) {
    scalar_field(w, "alive", c->alive, sizeof(c->alive));
    int64_t last = int_field(w, "lastSeen", 0);
    sf_out_duration(last > 0 && now >= last ? now - last : -1, c->seen,
                    sizeof(c->seen));
    if (strcmp(c->seen, "-") != 0)
        strncat(c->seen, " ago", sizeof(c->seen) - strlen(c->seen) - 1);
    count_text(info, "pid", c->pid, sizeof(c->pid));
    count_text(info, "inflight", c->inflight, sizeof(c->inflight));
    count_text(info, "concurrency", c->concurrency, sizeof(c->concurrency));
    count_text(info, "delivered", c->delivered, sizeof(c->delivered));
    count_text(info, "failed", c->failed, sizeof(c->failed));
}

static void stats_workers(FILE *f, const json_t *stats, int64_t now) {
    static const sf_out_col cols[] = {
        {"NAME", 0},      {"HOST", 0},     {"PID", 1},       {"VERSION", 0},
        {"ALIVE", 0},     {"LAST SEEN", 1}, {"INFLIGHT", 1},  {"CONCURRENCY", 1},
        {"DELIVERED", 1}, {"RETRIED", 1},  {"FAILED", 1}};
    const json_t *ws = json_object_get(stats, "workers");
    char alive[24];
    count_text(stats, "workersAlive", alive, sizeof(alive));
    fprintf(f, "\nworkers: %s alive\n", alive);
    size_t n = json_is_array(ws) ? json_array_size(ws) : 0;
    if (n == 0) return;
    sf_out_table *t = sf_out_table_new(cols, NELEM(cols));
    for (size_t i = 0; t && i < n; i++) {
        const json_t *w = json_array_get(ws, i);
        char ver[64], ret[24];
        worker_cells c;
        worker_cells_fill(&c, w, w, now);
        scalar_field(w, "version", ver, sizeof(ver));
        count_text(w, "retried", ret, sizeof(ret));
        const char *row[] = {str_field(w, "name"), str_field(w, "host"),
                             c.pid, ver, c.alive, c.seen, c.inflight,
                             c.concurrency, c.delivered, ret, c.failed};
        sf_out_table_add(t, row);
    }
    sf_out_table_print(f, t, 2);
    sf_out_table_free(t);
}

static void stats_minutes(FILE *f, const json_t *per, int minutes) {
    static const sf_out_col cols[] = {{"MINUTE (UTC)", 0}, {"DELIVERED", 1},
                                      {"RETRIED", 1},      {"FAILED", 1},
                                      {"PUBLISHED", 1}};
    static const char *const keys[] = {"delivered", "retried", "failed",
                                       "published"};
    size_t n = json_is_array(per) ? json_array_size(per) : 0;
    size_t from = n > (size_t)minutes ? n - (size_t)minutes : 0;
    int64_t sum[NELEM(keys)] = {0};
    sf_out_table *t = sf_out_table_new(cols, NELEM(cols));
    for (size_t i = from; t && i < n; i++) {
        const json_t *m = json_array_get(per, i);
        char iso[40], label[16], cells[NELEM(keys)][24];
        sf_out_iso8601(int_field(m, "minute", 0), iso, sizeof(iso));
        if (strlen(iso) >= 16)
            snprintf(label, sizeof(label), "%.5s", iso + 11);
        else
            snprintf(label, sizeof(label), "%s", iso);
        const char *row[1 + NELEM(keys)] = {label};
        for (size_t k = 0; k < NELEM(keys); k++) {
            sum[k] += int_field(m, keys[k], 0);
            count_text(m, keys[k], cells[k], sizeof(cells[k]));
            row[1 + k] = cells[k];
        }
        sf_out_table_add(t, row);
    }
    fprintf(f,
            "\nlast %d minutes: %" PRId64 " delivered, %" PRId64
            " retried, %" PRId64 " failed, %" PRId64 " published\n",
            minutes, sum[0], sum[1], sum[2], sum[3]);
    if (n > from) sf_out_table_print(f, t, 2);
    sf_out_table_free(t);
}

void sf_out_stats(FILE *f, const json_t *stats, int minutes) {
    if (!object_or_say(f, stats, "a stats object")) return;
    if (minutes < 1) minutes = 1;
    if (minutes > 60) minutes = 60;
    char at[40];
    int64_t now = int_field(stats, "time", 0);
    fprintf(f, "stats at %s\n\nqueues:\n", sf_out_iso8601(now, at, sizeof(at)));
    stats_queues(f, json_object_get(stats, "queues"));
    stats_dlq(f, json_object_get(stats, "dlq"));
    char running[24];
    count_text(json_object_get(stats, "workflows"), "running", running,
               sizeof(running));
    fprintf(f, "\nworkflow runs: %s running\n", running);
    stats_workers(f, stats, now);
    stats_minutes(f, json_object_get(stats, "perMinute"), minutes);
}

/* ---- stepflow inspect --------------------------------------------------- */

/* A figure's value as text: integers, strings, yes/no, "error: ...". */
static void fig_text(const json_t *fig, char *out, size_t out_size) {
    const json_t *v = json_object_get(fig, "value");
    const char *err = json_string_value(json_object_get(fig, "error"));
    char clip[100 * 4 + 8];
    if (err)
        snprintf(out, out_size, "error: %s",
                 sf_out_clip(err, 100, clip, sizeof(clip)));
    else if (json_is_boolean(v))
        snprintf(out, out_size, "%s", json_is_true(v) ? "yes" : "no");
    else if (json_is_array(v))
        snprintf(out, out_size, "%zu", json_array_size(v));
    else if (json_is_object(v) || json_is_null(v) || !v)
        json_text(v, 60, out, out_size);
    else
        scalar_text(v, out, out_size);
}

/* "  <label>  <value>  $ <command>".  Labels and values hold names read
 * from Redis and the command its keys: all three are made safe for the
 * terminal here (cmd_inspect.c already quotes odd bytes of a command as
 * $'\xNN', so a command is never cut or changed by this). */
static void fig_line(FILE *f, int indent, const char *label,
                     const char *value, const json_t *fig) {
    const char *cmd = json_string_value(json_object_get(fig, "command"));
    char lb[100 * 4 + 8], vb[200 * 4 + 8];
    int lw = 26 - indent;
    sf_out_clip(label, 100, lb, sizeof(lb));
    sf_out_clip(value, 200, vb, sizeof(vb));
    char *c = cmd && *cmd ? sf_out_clean(cmd) : NULL;
    if (c)
        fprintf(f, "%*s%-*s %-22s $ %s\n", indent, "", lw, lb, vb, c);
    else
        fprintf(f, "%*s%-*s %s\n", indent, "", lw, lb, vb);
    free(c);
}

/* "<prefix><name cut to 60 characters, made safe>" into "out". */
static void name_label(const char *prefix, const char *name, const char *suffix,
                       char *out, size_t out_size) {
    char clip[60 * 4 + 8];
    snprintf(out, out_size, "%s%s%s", prefix,
             sf_out_clip(name, 60, clip, sizeof(clip)), suffix);
}

static void fig(FILE *f, int indent, const char *label, const json_t *fg) {
    char v[512];
    fig_text(fg, v, sizeof(v));
    fig_line(f, indent, label, v, fg);
}

/* The value array of a figure (NULL when it is not an array). */
static const json_t *fig_array(const json_t *fg) {
    const json_t *v = json_object_get(fg, "value");
    return json_is_array(v) ? v : NULL;
}

/* A row of a group's consumers: name, pending, idle. */
static void consumer_row(sf_out_table *t, const json_t *c, int64_t now) {
    (void)now;
    char pend[24], idle[24];
    count_text(c, "pending", pend, sizeof(pend));
    sf_out_duration(int_field(c, "idleMs", -1), idle, sizeof(idle));
    const char *row[] = {str_field(c, "name"), pend, idle};
    sf_out_table_add(t, row);
}

/* A row of a group's oldest pending entries: id, consumer, age (from the
 * id's time to "now"), idle, deliveries. */
static void pending_row(sf_out_table *t, const json_t *p, int64_t now) {
    char age[24], idle[24], dl[24];
    const char *id = str_field(p, "id");
    int64_t id_ms = strtoll(id, NULL, 10);
    sf_out_duration(id_ms > 0 && now >= id_ms ? now - id_ms : -1, age,
                    sizeof(age));
    sf_out_duration(int_field(p, "idleMs", -1), idle, sizeof(idle));
    count_text(p, "deliveries", dl, sizeof(dl));
    const char *row[] = {id, str_field(p, "consumer"), age, idle, dl};
    sf_out_table_add(t, row);
}

/* A list figure "field" of the consumer group "g", labelled
 * "<title><group>)" ("title" e.g. "consumers ("), then its elements as a
 * table of "cols" (one row each by "add_row"), when there are any. */
static void group_list(FILE *f, const json_t *g, const char *field,
                       const char *title, const sf_out_col *cols,
                       size_t ncols,
                       void (*add_row)(sf_out_table *t, const json_t *e,
                                       int64_t now),
                       int64_t now) {
    char label[300];
    const json_t *lf = json_object_get(g, field);
    const json_t *ls = fig_array(lf);
    name_label(title, str_field(g, "name"), ")", label, sizeof(label));
    fig(f, 2, label, lf);
    sf_out_table *t = sf_out_table_new(cols, ncols);
    for (size_t k = 0; t && ls && k < json_array_size(ls); k++)
        add_row(t, json_array_get(ls, k), now);
    if (ls && json_array_size(ls)) sf_out_table_print(f, t, 4);
    sf_out_table_free(t);
}

/* One stream's groups, their consumers and oldest pending entries. */
static void inspect_groups(FILE *f, const json_t *groups_fig, int64_t now,
                           int details) {
    static const sf_out_col gcols[] = {
        {"GROUP", 0}, {"CONSUMERS", 1},      {"PENDING", 1},
        {"LAG", 1},   {"LAST DELIVERED", 0}, {"ENTRIES READ", 1}};
    static const sf_out_col ccols[] = {
        {"CONSUMER", 0}, {"PENDING", 1}, {"IDLE", 1}};
    static const sf_out_col pcols[] = {{"ENTRY ID", 0},
                                       {"CONSUMER", 0},
                                       {"AGE", 1},
                                       {"IDLE", 1},
                                       {"DELIVERIES", 1}};
    fig(f, 2, "groups", groups_fig);
    const json_t *gs = fig_array(groups_fig);
    if (!gs || json_array_size(gs) == 0) return;
    sf_out_table *t = sf_out_table_new(gcols, NELEM(gcols));
    for (size_t i = 0; t && i < json_array_size(gs); i++) {
        const json_t *g = json_array_get(gs, i);
        char cons[24], pend[24], lag[24], read[24];
        count_text(g, "consumers", cons, sizeof(cons));
        count_text(g, "pending", pend, sizeof(pend));
        count_text(g, "lag", lag, sizeof(lag));
        count_text(g, "entriesRead", read, sizeof(read));
        const char *row[] = {str_field(g, "name"), cons, pend, lag,
                             str_field(g, "lastDeliveredId"), read};
        sf_out_table_add(t, row);
    }
    sf_out_table_print(f, t, 4);
    sf_out_table_free(t);
    for (size_t i = 0; details && i < json_array_size(gs); i++) {
        const json_t *g = json_array_get(gs, i);
        group_list(f, g, "consumerList", "consumers (", ccols, NELEM(ccols),
                   consumer_row, now);
        group_list(f, g, "oldestPending", "oldest pending (", pcols,
                   NELEM(pcols), pending_row, now);
    }
}

/* "msg_x in 59m58s (2024-...)" or "none". */
static void next_due_text(const json_t *fg, int64_t now, char *out,
                          size_t out_size) {
    const json_t *v = json_object_get(fg, "value");
    if (!json_is_object(v)) {
        fig_text(fg, out, out_size);
        if (json_is_null(v)) snprintf(out, out_size, "none");
        return;
    }
    int64_t due = int_field(v, "dueAt", 0);
    char id[128], in[24], at[40];
    sf_out_clip(str_field(v, "id"), 60, id, sizeof(id));
    sf_out_iso8601(due, at, sizeof(at));
    if (due > now) {
        sf_out_duration(due - now, in, sizeof(in));
        snprintf(out, out_size, "%s in %s (%s)", id, in, at);
    } else {
        snprintf(out, out_size, "%s now, overdue (%s)", id, at);
    }
}

static void inspect_queue(FILE *f, const json_t *q, int64_t now) {
    char nd[256], name[60 * 4 + 8], stream[200 * 4 + 8];
    fprintf(f, "\n%s queue  %s\n",
            sf_out_clip(str_field(q, "name"), 60, name, sizeof(name)),
            sf_out_clip(str_field(q, "stream"), 200, stream, sizeof(stream)));
    fig(f, 2, "length", json_object_get(q, "length"));
    inspect_groups(f, json_object_get(q, "groups"), now, 1);
    fig(f, 2, "delayed", json_object_get(q, "delayed"));
    next_due_text(json_object_get(q, "nextDue"), now, nd, sizeof(nd));
    fig_line(f, 2, "next due", nd, json_object_get(q, "nextDue"));
}

static void inspect_flow_control(FILE *f, const json_t *fc) {
    fprintf(f, "\nflow control\n");
    const json_t *kf = json_object_get(fc, "keys");
    fig(f, 2, "keys", kf);
    const json_t *ks = fig_array(kf);
    for (size_t i = 0; ks && i < json_array_size(ks); i++) {
        const json_t *k = json_array_get(ks, i);
        const json_t *conf = json_object_get(json_object_get(k, "config"),
                                             "value");
        char label[300], cv[256], par[64], rate[64], per[64];
        name_label("key ", str_field(k, "key"), "", label, sizeof(label));
        scalar_field(conf, "parallelism", par, sizeof(par));
        scalar_field(conf, "rate", rate, sizeof(rate));
        scalar_field(conf, "period", per, sizeof(per));
        snprintf(cv, sizeof(cv), "parallelism=%s rate=%s period=%s", par, rate,
                 per);
        fig_line(f, 4, label, cv, json_object_get(k, "config"));
        fig(f, 6, "in flight", json_object_get(k, "inflight"));
        fig(f, 6, "waiting", json_object_get(k, "waiting"));
    }
    fig(f, 2, "wake-ups scheduled", json_object_get(fc, "wake"));
}

static void inspect_workers(FILE *f, const json_t *w, int64_t now) {
    static const sf_out_col cols[] = {
        {"NAME", 0},     {"ALIVE", 0},     {"LAST SEEN", 1}, {"HOST", 0},
        {"PID", 1},      {"VERSION", 0},   {"INFLIGHT", 1},  {"CONCURRENCY", 1},
        {"DELIVERED", 1}, {"FAILED", 1}};
    fprintf(f, "\nworkers\n");
    fig(f, 2, "alive", json_object_get(w, "alive"));
    const json_t *lf = json_object_get(w, "list");
    fig(f, 2, "known", lf);
    const json_t *ls = fig_array(lf);
    if (!ls || json_array_size(ls) == 0) return;
    sf_out_table *t = sf_out_table_new(cols, NELEM(cols));
    for (size_t i = 0; t && i < json_array_size(ls); i++) {
        const json_t *x = json_array_get(ls, i);
        const json_t *info = json_object_get(json_object_get(x, "info"),
                                             "value");
        worker_cells c;
        worker_cells_fill(&c, x, info, now);
        const char *row[] = {str_field(x, "name"), c.alive, c.seen,
                             str_field(info, "host"), c.pid,
                             str_field(info, "version"), c.inflight,
                             c.concurrency, c.delivered, c.failed};
        sf_out_table_add(t, row);
    }
    sf_out_table_print(f, t, 4);
    sf_out_table_free(t);
    for (size_t i = 0; i < json_array_size(ls); i++) {
        const json_t *x = json_array_get(ls, i);
        char label[300];
        name_label("worker ", str_field(x, "name"), "", label, sizeof(label));
        fig_line(f, 4, label, "(every field)", json_object_get(x, "info"));
    }
}

void sf_out_inspect(FILE *f, const json_t *doc) {
    if (!json_is_object(doc)) {
        fprintf(f, "nothing to show\n");
        return;
    }
    char at[40], redis[200 * 4 + 8], prefix[100 * 4 + 8];
    int64_t now = int_field(doc, "time", 0);
    fprintf(f, "redis %s, prefix '%s', at %s (Redis clock)\n",
            sf_out_clip(str_field(doc, "redis"), 200, redis, sizeof(redis)),
            sf_out_clip(str_field(doc, "prefix"), 100, prefix, sizeof(prefix)),
            sf_out_iso8601(now, at, sizeof(at)));
    fprintf(f, "each figure is followed by the redis-cli command behind it\n");

    const json_t *srv = json_object_get(doc, "server");
    fprintf(f, "\nserver\n");
    fig(f, 2, "redis version", json_object_get(srv, "version"));
    fig(f, 2, "maxmemory-policy", json_object_get(srv, "maxmemoryPolicy"));

    const json_t *qs = json_object_get(doc, "queues");
    for (size_t i = 0; json_is_array(qs) && i < json_array_size(qs); i++)
        inspect_queue(f, json_array_get(qs, i), now);

    const json_t *dlq = json_object_get(doc, "dlq");
    const json_t *by = json_object_get(dlq, "byState");
    fprintf(f, "\ndlq\n");
    fig(f, 2, "entries", json_object_get(dlq, "total"));
    for (size_t i = 0; i < NELEM(cb_states); i++)
        fig(f, 4, cb_states[i], json_object_get(by, cb_states[i]));
    const json_t *ev = json_object_get(dlq, "events");
    fig(f, 2, "index events", json_object_get(ev, "length"));
    inspect_groups(f, json_object_get(ev, "groups"), now, 0);

    const json_t *wf = json_object_get(doc, "workflows");
    fprintf(f, "\nworkflow runs\n");
    fig(f, 2, "kept", json_object_get(wf, "runs"));
    fig(f, 2, "running", json_object_get(wf, "running"));
    fig(f, 2, "ended, to expire", json_object_get(wf, "expiring"));

    inspect_flow_control(f, json_object_get(doc, "flowControl"));
    inspect_workers(f, json_object_get(doc, "workers"), now);

    const json_t *sk = json_object_get(doc, "signingKeys");
    fprintf(f, "\nsigning keys (values never shown)\n");
    fig(f, 2, "current key set", json_object_get(sk, "current"));
    fig(f, 2, "next key set", json_object_get(sk, "next"));
}
