/* output.h - the CLI's human-readable output: the DLQ table, one DLQ
 * entry as key: value lines, timestamps and truncation.
 *
 * Pure formatting over jansson values the API returned: no I/O besides the
 * FILE * it is given, so it can be unit-tested on canned JSON.  Every
 * field may be missing or of an unexpected type (the coordinator is
 * another program); such fields print as "-", never crash.  Nothing here
 * takes ownership of the json_t it is handed. */
#ifndef SF_CLI_OUTPUT_H
#define SF_CLI_OUTPUT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Longest URL shown in the DLQ table before it is cut with "...". */
#define SF_OUT_URL_WIDTH 48
/* Longest response body shown by `dlq get` before it is cut. */
#define SF_OUT_BODY_WIDTH 200

/* Writes "ms" (Unix epoch milliseconds) as "2024-05-01T12:00:00.123Z" into
 * "out" (at least 32 bytes).  Returns "out"; "-" when ms <= 0. */
char *sf_out_iso8601(int64_t ms, char *out, size_t out_size);

/* Copies "s" into "out" (out_size > 3), replacing control characters with
 * spaces (newlines with the two characters "\n") and cutting it to at most
 * "max_chars" characters with a trailing "..." when it is longer.  Returns
 * "out". */
char *sf_out_clip(const char *s, size_t max_chars, char *out, size_t out_size);

/* Reads a JSON number, or a string holding a decimal integer, as int64.
 * Returns 0 on success, -1 when "v" is missing or neither. */
int sf_out_json_i64(const json_t *v, int64_t *out);

/* Prints the aligned DLQ table for the JSON array "messages" (DLQ ID,
 * MESSAGE ID, URL, STATUS, CALLBACK, DLQ TIME), or "no DLQ entries" when
 * it is empty or not an array. */
void sf_out_dlq_table(FILE *f, const json_t *messages);

/* Prints one DLQ entry (an object as GET /v2/dlq/{id} returns it) as
 * `key: value` lines, its attempts one per line, and the failure
 * callback's state and last response. */
void sf_out_dlq_entry(FILE *f, const json_t *entry);

#endif
