/* dlq.c - DLQ entry field parsing, callback state names, filter matching
 * (and the filter pieces the runs API shares).
 *
 * Pure: works on strings the caller already holds (a HGETALL reply). */
#include "dlq.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static const char *const cb_state_names[] = {
    [SF_CB_NONE] = "NONE",
    [SF_CB_INPROGRESS] = "CALLBACK_INPROGRESS",
    [SF_CB_SUCCESS] = "CALLBACK_SUCCESS",
    [SF_CB_FAIL] = "CALLBACK_FAIL",
    [SF_CB_CANCELED] = "CALLBACK_CANCELED",
};
#define N_CB_STATES (sizeof(cb_state_names) / sizeof(cb_state_names[0]))

/* Static name of "s"; out-of-range values read as "NONE". */
const char *sf_cb_state_name(sf_cb_state s) {
    if ((unsigned)s >= N_CB_STATES) return "NONE";
    return cb_state_names[s];
}

/* Exact (case-sensitive) name, including "NONE". */
sf_status sf_cb_state_parse(const char *name, sf_cb_state *out) {
    if (!name) return SF_INVALID;
    for (size_t i = 0; i < N_CB_STATES; i++) {
        if (strcmp(name, cb_state_names[i]) == 0) {
            if (out) *out = (sf_cb_state)i;
            return SF_OK;
        }
    }
    return SF_INVALID;
}

/* A numeric field; a value that is not a decimal integer reads as 0. */
static int64_t field_i64(const char *s) {
    int64_t v;
    if (!s || sf_parse_i64(s, strlen(s), &v) != 0) return 0;
    return v;
}

/* Points the view's strings into "values" (borrowed: valid while the
 * caller's reply lives).  Numbers that do not parse read as 0, an unknown
 * callbackState as NONE; unknown fields are ignored. */
void sf_dlq_view_from_fields(sf_dlq_view *v, const char **fields,
                             const char **values, size_t n) {
    memset(v, 0, sizeof(*v));
    v->cb_state = SF_CB_NONE;
    for (size_t i = 0; i < n; i++) {
        const char *f = fields[i], *val = values[i];
        if (!f || !val) continue;
        if (strcmp(f, "dlqId") == 0) v->dlq_id = val;
        else if (strcmp(f, "messageId") == 0) v->message_id = val;
        else if (strcmp(f, "url") == 0) v->url = val;
        else if (strcmp(f, "method") == 0) v->method = val;
        else if (strcmp(f, "label") == 0) v->label = val;
        else if (strcmp(f, "callerIP") == 0) v->caller_ip = val;
        else if (strcmp(f, "workflowRunId") == 0) v->workflow_run_id = val;
        else if (strcmp(f, "workflowUrl") == 0) v->workflow_url = val;
        else if (strcmp(f, "reason") == 0) v->reason = val;
        else if (strcmp(f, "failureCallback") == 0) v->failure_callback = val;
        else if (strcmp(f, "flowControlKey") == 0) v->flow_control_key = val;
        else if (strcmp(f, "createdAt") == 0) v->created_ms = field_i64(val);
        else if (strcmp(f, "dlqAt") == 0) v->dlq_ms = field_i64(val);
        else if (strcmp(f, "workflowCreatedAt") == 0)
            v->workflow_created_ms = field_i64(val);
        else if (strcmp(f, "responseStatus") == 0) {
            int64_t s = field_i64(val);
            v->response_status = s < 0 || s > 999 ? 0 : (int)s;
        } else if (strcmp(f, "callbackState") == 0) {
            sf_cb_state st;
            /* An unknown state reads as NONE rather than failing the list. */
            v->cb_state = sf_cb_state_parse(val, &st) == SF_OK ? st : SF_CB_NONE;
        }
    }
}

int sf_filter_one_of(const char *const *wanted, size_t n, const char *value) {
    if (n == 0) return 1;
    if (!value) return 0;
    if (n > SF_FILTER_MAX_VALUES) n = SF_FILTER_MAX_VALUES;
    for (size_t i = 0; i < n; i++)
        if (wanted[i] && strcmp(wanted[i], value) == 0) return 1;
    return 0;
}

int sf_filter_one_of_list(const char *const *wanted, size_t n, const char *list) {
    if (n == 0) return 1;
    if (!list) return 0;
    if (n > SF_FILTER_MAX_VALUES) n = SF_FILTER_MAX_VALUES;
    for (const char *p = list; *p;) {
        while (*p == ' ' || *p == ',') p++;
        const char *end = p;
        while (*end && *end != ',') end++;
        size_t len = (size_t)(end - p);
        while (len > 0 && p[len - 1] == ' ') len--;
        for (size_t i = 0; i < n && len > 0; i++)
            if (wanted[i] && strlen(wanted[i]) == len &&
                memcmp(wanted[i], p, len) == 0)
                return 1;
        p = end;
    }
    return 0;
}

int sf_filter_parse_cursor(const char *v, int64_t *score, const char **id) {
    const char *dash = strchr(v, '-');
    if (!dash || !dash[1] || sf_parse_i64(v, (size_t)(dash - v), score) != 0)
        return -1;
    *id = dash + 1;
    return 0;
}

/* Every constrained dimension must hold one of its values; string
 * dimensions compare exactly (labels per element), dates are inclusive on dlqAt. */
int sf_dlq_filter_match(const sf_dlq_filter *f, const sf_dlq_view *v) {
    return sf_filter_one_of(f->states, f->n_states, sf_cb_state_name(v->cb_state)) &&
           sf_filter_one_of(f->urls, f->n_urls, v->url) &&
           sf_filter_one_of_list(f->labels, f->n_labels, v->label) &&
           sf_filter_one_of(f->wf_urls, f->n_wf_urls, v->workflow_url) &&
           sf_filter_one_of(f->wf_runs, f->n_wf_runs, v->workflow_run_id) &&
           sf_filter_one_of(f->message_ids, f->n_message_ids, v->message_id) &&
           sf_filter_one_of(f->caller_ips, f->n_caller_ips, v->caller_ip) &&
           sf_filter_one_of(f->fc_keys, f->n_fc_keys, v->flow_control_key) &&
           (!f->workflow_only || (v->workflow_run_id && *v->workflow_run_id)) &&
           (f->wf_created_ms == 0 ||
            v->workflow_created_ms == f->wf_created_ms) &&
           (f->response_status == 0 ||
            v->response_status == f->response_status) &&
           (f->from_ms == 0 || v->dlq_ms >= f->from_ms) &&
           (f->to_ms == 0 || v->dlq_ms <= f->to_ms);
}

void sf_labels_json_set(json_t *o, const char *label, size_t len) {
    if (!label || len == 0) return;
    json_t *labels = json_array();
    char *copy = strndup(label, len), *save = NULL;
    for (char *t = copy ? strtok_r(copy, ",", &save) : NULL; t;
         t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ') t++;
        size_t tl = strlen(t);
        while (tl > 0 && t[tl - 1] == ' ') t[--tl] = '\0';
        if (*t) json_array_append_new(labels, json_string(t));
    }
    free(copy);
    if (json_array_size(labels) == 0) {
        json_decref(labels);
        return;
    }
    json_object_set(o, "label", json_array_get(labels, 0));
    json_object_set_new(o, "labels", labels);
}
