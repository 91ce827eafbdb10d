#include "keys.h"

#include <inttypes.h>
#include <stdio.h>

void sf_keys_queue(const char *prefix, sf_queue_id q, sf_queue_keys *out) {
    const char *base = q == SF_QUEUE_MSG ? "{msg}" : "{dlq}:cb";
    snprintf(out->stream, sizeof(out->stream), "%s:%s:stream", prefix, base);
    snprintf(out->delayed, sizeof(out->delayed), "%s:%s:delayed", prefix, base);
    snprintf(out->payload, sizeof(out->payload), "%s:%s:payload", prefix, base);
}

void sf_keys_dedup(const char *prefix, const char *dedup_id, char *out,
                   size_t out_size) {
    snprintf(out, out_size, "%s:{msg}:dedup:%s", prefix, dedup_id);
}

void sf_keys_dlq_entry(const char *prefix, const char *dlq_id, char *out,
                       size_t out_size) {
    snprintf(out, out_size, "%s:{dlq}:entry:%s", prefix, dlq_id);
}

void sf_keys_dlq_events(const char *prefix, char *out, size_t out_size) {
    snprintf(out, out_size, "%s:{dlq}:events", prefix);
}

void sf_keys_dlq_index_prefix(const char *prefix, char *out, size_t out_size) {
    snprintf(out, out_size, "%s:{dlq}:idx:", prefix);
}

void sf_keys_dlq_entry_prefix(const char *prefix, char *out, size_t out_size) {
    snprintf(out, out_size, "%s:{dlq}:entry:", prefix);
}

void sf_keys_wf_run(const char *prefix, const char *what, const char *run_id,
                    char *out, size_t out_size) {
    snprintf(out, out_size, "%s:{wf}:%s:%s", prefix, what, run_id);
}

void sf_keys_wf(const char *prefix, const char *what, char *out,
                size_t out_size) {
    snprintf(out, out_size, "%s:{wf}:%s", prefix, what);
}

void sf_keys_signing(const char *prefix, char *out, size_t out_size) {
    snprintf(out, out_size, "%s:signing-keys", prefix);
}

void sf_keys_layout(const char *prefix, char *out, size_t out_size) {
    snprintf(out, out_size, "%s:layout", prefix);
}

void sf_keys_fc_prefix(const char *prefix, char *out, size_t out_size) {
    snprintf(out, out_size, "%s:{msg}:fc:", prefix);
}

void sf_keys_fc_parked(const char *prefix, char *out, size_t out_size) {
    snprintf(out, out_size, "%s:{msg}:fc:parked", prefix);
}

void sf_keys_stats_workers(const char *prefix, char *out, size_t out_size) {
    snprintf(out, out_size, "%s:{stats}:workers", prefix);
}

void sf_keys_stats_worker(const char *prefix, const char *consumer, char *out,
                          size_t out_size) {
    snprintf(out, out_size, "%s:{stats}:worker:%s", prefix, consumer);
}

void sf_keys_stats_minute(const char *prefix, int64_t minute_ms, char *out,
                          size_t out_size) {
    snprintf(out, out_size, "%s:{stats}:min:%" PRId64, prefix, minute_ms);
}
