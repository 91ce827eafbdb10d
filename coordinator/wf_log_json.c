/* wf_log_json.c - a run as WorkflowRunLog JSON (see wf_log_json.h). */
#include "wf_log_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlq.h"
#include "util.h"

/* Index of "name" among the fields, or -1. */
static long find(const char **fields, size_t n, const char *name) {
    for (size_t i = 0; i < n; i++)
        if (fields[i] && strcmp(fields[i], name) == 0) return (long)i;
    return -1;
}

static void set_str(json_t *o, const char *key, const char *v, size_t len) {
    if (v && sf_utf8_valid(v, len)) json_object_set_new(o, key, json_stringn(v, len));
}

static void set_int(json_t *o, const char *key, const char *v, size_t len) {
    int64_t x;
    if (v && sf_parse_i64(v, len, &x) == 0) json_object_set_new(o, key, json_integer(x));
}

/* A JSON field stored as text; absent or broken -> a new empty object. */
static json_t *parse_obj(const char *v, size_t len) {
    json_t *j = v ? json_loadb(v, len, 0, NULL) : NULL;
    if (j && json_is_object(j)) return j;
    json_decref(j);
    return json_object();
}

json_t *sf_wf_failure_json(const char **fields, const size_t *flen,
                           const char **values, const size_t *vlen, size_t n) {
    (void)flen;
    long cb = find(fields, n, "failureCallback");
    if (cb < 0 || vlen[cb] == 0) return NULL;
    json_t *o = json_object();
    if (!o) return NULL;
    long i;
    json_object_set_new(o, "messageId", json_string(""));
    if ((i = find(fields, n, "callbackMessageId")) >= 0)
        set_str(o, "messageId", values[i], vlen[i]);
    set_str(o, "url", values[cb], vlen[cb]);
    json_object_set_new(o, "state", json_string("CALLBACK_INPROGRESS"));
    if ((i = find(fields, n, "callbackState")) >= 0 && vlen[i] > 0)
        set_str(o, "state", values[i], vlen[i]);
    if ((i = find(fields, n, "responseStatus")) >= 0)
        set_int(o, "failStatus", values[i], vlen[i]);
    json_object_set_new(o, "failResponse", json_string(""));
    if ((i = find(fields, n, "responseBody")) >= 0)
        set_str(o, "failResponse", values[i], vlen[i]);
    i = find(fields, n, "responseHeader");
    json_object_set_new(o, "failHeaders", parse_obj(i >= 0 ? values[i] : NULL,
                                                    i >= 0 ? vlen[i] : 0));
    if ((i = find(fields, n, "dlqId")) >= 0) set_str(o, "dlqId", values[i], vlen[i]);
    long st = find(fields, n, "callbackResponseStatus");
    if (st >= 0) set_int(o, "responseStatus", values[st], vlen[st]);
    long body = find(fields, n, "callbackResponseBody");
    if (body >= 0) set_str(o, "responseBody", values[body], vlen[body]);
    long hdr = find(fields, n, "callbackResponseHeader");
    if (hdr >= 0)
        json_object_set_new(o, "responseHeaders", parse_obj(values[hdr], vlen[hdr]));
    /* Errors of the failure function: the attempts' list when the entry
     * keeps one, else the last failed response. */
    json_t *errors = NULL;
    if ((i = find(fields, n, "callbackErrors")) >= 0) {
        errors = json_loadb(values[i], vlen[i], 0, NULL);
        if (errors && !json_is_array(errors)) {
            json_decref(errors);
            errors = NULL;
        }
    }
    int64_t status = 0;
    if (!errors && st >= 0 && sf_parse_i64(values[st], vlen[st], &status) == 0 &&
        (status < 200 || status > 299)) {
        json_t *e = json_object();
        char msg[32];
        snprintf(msg, sizeof(msg), status ? "HTTP %d" : "no response", (int)status);
        json_object_set_new(e, "error", json_string(msg));
        json_object_set_new(e, "body", json_string(""));
        if (body >= 0) set_str(e, "body", values[body], vlen[body]);
        json_object_set_new(e, "headers", parse_obj(hdr >= 0 ? values[hdr] : NULL,
                                                    hdr >= 0 ? vlen[hdr] : 0));
        json_object_set_new(e, "status", json_integer(status));
        if ((i = find(fields, n, "callbackUpdatedAt")) >= 0)
            set_int(e, "time", values[i], vlen[i]);
        errors = json_array();
        json_array_append_new(errors, e);
    }
    if (errors) json_object_set_new(o, "errors", errors);
    return o;
}

/* The fields every StepLog carries besides the step's own. */
static void step_common(json_t *step, const json_t *item, const sf_wf_run_view *run) {
    json_t *mid = json_object_get(item, "messageId");
    json_object_set_new(step, "messageId", json_string(json_is_string(mid)
                                                           ? json_string_value(mid) : ""));
    json_object_set_new(step, "callType", json_string("step"));
    json_object_set_new(step, "state", json_string("STEP_SUCCESS"));
    json_t *at = json_object_get(item, "createdAt");
    json_object_set_new(step, "createdAt",
                        json_integer(json_is_integer(at) ? json_integer_value(at) : 0));
    json_object_set_new(step, "retries", json_integer(run->retries >= 0 ? run->retries : 0));
    if (run->retry_delay && *run->retry_delay)
        json_object_set_new(step, "retryDelay", json_string(run->retry_delay));
    if (!json_object_get(step, "headers")) json_object_set_new(step, "headers", json_object());
}

/* Decodes an item's base64 "body" into "*out" (malloc'd); 0 on success. */
static int item_body(const json_t *item, char **out, size_t *len) {
    const json_t *b = json_object_get(item, "body");
    if (!json_is_string(b)) return -1;
    *out = (char *)sf_base64_decode(json_string_value(b), json_string_length(b), len);
    return *out ? 0 : -1;
}

/* The init step from item 0: out = the initial payload. */
static json_t *init_step(const json_t *item, const sf_wf_run_view *run) {
    json_t *s = json_pack("{s:i,s:s,s:s,s:i}", "stepId", 0, "stepName", "init",
                          "stepType", "Initial", "concurrent", 1);
    char *payload = NULL;
    size_t len = 0;
    if (item_body(item, &payload, &len) == 0 && sf_utf8_valid(payload, len)) {
        json_object_set_new(s, "out", json_stringn(payload, len));
    } else {
        const json_t *b = json_object_get(item, "body");
        json_object_set_new(s, "out", json_string(json_is_string(b) ? json_string_value(b) : ""));
    }
    free(payload);
    step_common(s, item, run);
    return s;
}

static json_t *group(const char *type, json_t *steps) {
    return json_pack("{s:s,s:o}", "type", type, "steps", steps);
}

/* Appends the result steps of items[1..n) to "groups". */
static void result_steps(json_t *groups, const char *const *items, const size_t *lens,
                         size_t n, const sf_wf_run_view *run) {
    json_t *par = NULL;   /* borrowed: the open parallel group's steps */
    json_int_t par_conc = 0;
    for (size_t i = 1; i < n; i++) {
        json_t *item = json_loadb(items[i], lens[i], 0, NULL);
        json_t *ct = item ? json_object_get(item, "callType") : NULL;
        char *body = NULL;
        size_t blen = 0;
        json_t *step = NULL;
        if (item && (!ct || (json_is_string(ct) && strcmp(json_string_value(ct), "step") == 0)) &&
            item_body(item, &body, &blen) == 0)
            step = json_loadb(body, blen, 0, NULL);
        free(body);
        if (!json_is_object(step)) {
            json_decref(step);
            json_decref(item);
            continue;
        }
        json_int_t id = json_integer_value(json_object_get(step, "stepId"));
        if (id == 0) { /* a plan step */
            json_decref(step);
            json_decref(item);
            continue;
        }
        json_object_del(step, "targetStep");
        step_common(step, item, run);
        json_int_t conc = json_integer_value(json_object_get(step, "concurrent"));
        if (conc <= 1) {
            json_array_append_new(groups, group("sequential", json_pack("[o]", step)));
            par = NULL;
        } else {
            if (!par || par_conc != conc || (json_int_t)json_array_size(par) >= conc) {
                par = json_array();
                par_conc = conc;
                json_array_append_new(groups, group("parallel", par));
            }
            json_array_append_new(par, step);
        }
        json_decref(item);
    }
}

static int by_created(const void *a, const void *b) {
    json_int_t x = json_integer_value(json_object_get(*(json_t *const *)a, "createdAt"));
    json_int_t y = json_integer_value(json_object_get(*(json_t *const *)b, "createdAt"));
    return x < y ? -1 : x > y;
}

/* The {"type":"next"} group of the in-flight deliveries, or NULL. */
static json_t *next_group(const char *const *next, const size_t *lens, size_t n) {
    json_t **v = calloc(n ? n : 1, sizeof(*v));
    size_t k = 0;
    for (size_t i = 0; v && i < n; i++) {
        json_t *e = json_loadb(next[i], lens[i], 0, NULL);
        if (!json_is_object(e)) {
            json_decref(e);
            continue;
        }
        /* cjson writes an empty list as {} */
        json_t *errs = json_object_get(e, "errors");
        if (errs && !json_is_array(errs)) json_object_set_new(e, "errors", json_array());
        v[k++] = e;
    }
    json_t *out = NULL;
    if (k > 0) {
        qsort(v, k, sizeof(*v), by_created);
        json_t *steps = json_array();
        for (size_t i = 0; i < k; i++) json_array_append_new(steps, v[i]);
        out = group("next", steps);
    }
    free(v);
    return out;
}

json_t *sf_wf_run_log_json(const sf_wf_run_view *run, const char *response,
                           size_t response_len, const char *const *items,
                           const size_t *item_lens, size_t n_items,
                           const char *const *next, const size_t *next_lens,
                           size_t n_next, json_t *failure) {
    json_t *o = json_object();
    json_t *groups = json_array();
    if (!o || !groups) {
        json_decref(o);
        json_decref(groups);
        json_decref(failure);
        return NULL;
    }
    const char *state = run->state ? run->state : "RUN_STARTED";
    json_object_set_new(o, "workflowRunId", json_string(run->run_id ? run->run_id : ""));
    json_object_set_new(o, "workflowUrl", json_string(run->url ? run->url : ""));
    json_object_set_new(o, "workflowState", json_string(state));
    json_object_set_new(o, "workflowRunCreatedAt", json_integer(run->created_ms));
    if (run->completed_ms > 0)
        json_object_set_new(o, "workflowRunCompletedAt", json_integer(run->completed_ms));
    if (n_items > 0) {
        json_t *item0 = json_loadb(items[0], item_lens[0], 0, NULL);
        if (json_is_object(item0))
            json_array_append_new(groups, group("sequential",
                                                json_pack("[o]", init_step(item0, run))));
        json_decref(item0);
        result_steps(groups, items, item_lens, n_items, run);
    }
    if (strcmp(state, "RUN_STARTED") == 0 || strcmp(state, "RUN_FAILED") == 0) {
        json_t *g = next_group(next, next_lens, n_next);
        if (g) json_array_append_new(groups, g);
    }
    json_object_set_new(o, "steps", groups);
    if (response && response_len > 0) set_str(o, "workflowRunResponse", response, response_len);
    if (run->dlq_id && *run->dlq_id) json_object_set_new(o, "dlqId", json_string(run->dlq_id));
    if (run->label) sf_labels_json_set(o, run->label, strlen(run->label));
    if (failure) json_object_set_new(o, "failureFunction", failure);
    return o;
}
