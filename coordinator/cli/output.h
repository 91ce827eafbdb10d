/* output.h - the CLI's human-readable output and the parsing of what an
 * operator types: aligned tables, timestamps, durations, ISO 8601 input,
 * shell quoting, and the renderings of the API's JSON (DLQ entries,
 * workflow runs, GET /v2/stats) and of `stepflow inspect`'s document.
 *
 * Pure formatting over jansson values and strings: no I/O besides the
 * FILE * it is given, so it can be unit-tested on canned JSON.  Every
 * field may be missing or of an unexpected type (the coordinator is
 * another program); such fields print as "-", never crash.  Nothing here
 * takes ownership of the json_t it is handed; strings it returns are the
 * caller's buffer or, where it says so, malloc'd for the caller. */
#ifndef SF_CLI_OUTPUT_H
#define SF_CLI_OUTPUT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Longest URL shown in a table before it is cut with "...". */
#define SF_OUT_URL_WIDTH 48
/* Longest response body shown by `dlq get` before it is cut. */
#define SF_OUT_BODY_WIDTH 200
/* Longest cell of a table, in characters. */
#define SF_OUT_CELL_MAX 120

/* ---- scalars ------------------------------------------------------------ */

/* Writes "ms" (Unix epoch milliseconds) as "2024-05-01T12:00:00.123Z" into
 * "out" (at least 32 bytes).  Returns "out"; "-" when ms <= 0. */
char *sf_out_iso8601(int64_t ms, char *out, size_t out_size);

/* Writes a duration of "ms" milliseconds as "850ms", "4.2s", "42s",
 * "3m05s", "2h03m" or "3d04h" into "out" (at least 24 bytes).  Returns
 * "out"; "-" when ms < 0. */
char *sf_out_duration(int64_t ms, char *out, size_t out_size);

/* Parses a time an operator typed: Unix epoch milliseconds (exactly 13
 * digits: shorter numbers are dates, years or seconds typed by mistake,
 * not moments of 1970) or ISO 8601
 * "YYYY-MM-DD[(T| )hh:mm[:ss[.fff]]][Z|(+|-)hh[:mm]]" (no zone = UTC).
 * Returns 0 with "*ms_out" set, or -1 when "s" is neither or out of range,
 * with "*why" (when not NULL) pointing to a static hint for the operator
 * ("a date wants dashes: ..."). */
int sf_out_parse_time(const char *s, int64_t *ms_out, const char **why);

/* Copies "s" into "out" (out_size > 3) as text that is safe on a
 * terminal: control characters (C0, DEL, C1) and bidirectional overrides
 * become spaces, newlines the two characters "\n" ("\r" likewise), and
 * bytes that are not UTF-8 "\xNN"; cut to at most "max_chars"
 * characters with a trailing "..." when it is longer.  Returns "out". */
char *sf_out_clip(const char *s, size_t max_chars, char *out, size_t out_size);

/* sf_out_clip without a length limit, into a malloc'd string (caller
 * frees; NULL when out of memory).  For every string from outside (the
 * API, Redis) that goes to a terminal whole. */
char *sf_out_clean(const char *s);

/* The "len" bytes at "s" as UTF-8 text (malloc'd, caller frees; NULL when
 * out of memory): valid UTF-8 as it is, every other byte (and NUL) as the
 * four characters \xNN.  For names read from Redis that a JSON string
 * must hold (they are not always UTF-8). */
char *sf_out_escape_bytes(const char *s, size_t len);

/* Reads a JSON number, or a string holding a decimal integer, as int64.
 * Returns 0 on success, -1 when "v" is missing or neither. */
int sf_out_json_i64(const json_t *v, int64_t *out);

/* Returns the "len" bytes at "s" as one shell word to paste (malloc'd,
 * caller frees; NULL on allocation failure): as they are when they hold
 * only characters no shell treats specially (and do not start with '='),
 * else in single quotes (a quote inside becomes '\''), and when they hold
 * bytes a terminal would act on or that are not UTF-8, in bash/zsh ANSI-C
 * quotes $'...' with those bytes as \xNN (POSIX sh has no such quoting).
 * sf_out_shell_word() is the same for a NUL-terminated string. */
char *sf_out_shell_wordn(const char *s, size_t len);
char *sf_out_shell_word(const char *s);

/* ---- tables ------------------------------------------------------------- */

/* One column of a table. */
typedef struct sf_out_col {
    const char *head; /* borrowed; printed upper-case as given */
    int right;        /* 1 = right-aligned (counts), 0 = left */
} sf_out_col;

typedef struct sf_out_table sf_out_table;

/* A table of "ncols" columns described by "cols" (borrowed for the
 * table's life).  NULL on allocation failure. */
sf_out_table *sf_out_table_new(const sf_out_col *cols, size_t ncols);

/* Appends a row of ncols cells (each copied through sf_out_clip to
 * SF_OUT_CELL_MAX characters; NULL or "" prints as "-").  Returns 0, or
 * -1 on allocation failure (the row is then dropped). */
int sf_out_table_add(sf_out_table *t, const char *const *cells);

/* Prints the heads and the rows, "indent" spaces before each line, the
 * columns two spaces apart and each as wide as its widest cell (counted
 * in characters, not bytes); no trailing spaces. */
void sf_out_table_print(FILE *f, const sf_out_table *t, int indent);

/* Frees "t"; NULL is a no-op. */
void sf_out_table_free(sf_out_table *t);
/* The rows added so far. */
size_t sf_out_table_rows(const sf_out_table *t);

/* ---- the API's JSON ----------------------------------------------------- */

/* Prints the DLQ table for the JSON array "messages" (DLQ ID, MESSAGE ID,
 * URL, STATUS, CALLBACK, LABEL, RUN ID, DLQ TIME), or "no DLQ entries"
 * when it is empty or not an array. */
void sf_out_dlq_table(FILE *f, const json_t *messages);

/* Prints one DLQ entry (an object as GET /v2/dlq/{id} returns it) as
 * `key: value` lines, its attempts one per line, and the failure
 * callback's state and last response. */
void sf_out_dlq_entry(FILE *f, const json_t *entry);

/* Prints the runs table for the JSON array "runs" of WorkflowRunLog
 * objects (RUN ID, STATE, WORKFLOW URL, CREATED, DURATION, STEPS, LABEL),
 * or "no workflow runs". */
void sf_out_runs_table(FILE *f, const json_t *runs);

/* Prints one WorkflowRunLog: the run as `key: value` lines, then its
 * steps one per line (groups "sequential", "parallel" and the in-flight
 * "next" one), then the failure function's state when it has one. */
void sf_out_run(FILE *f, const json_t *run);

/* Prints GET /v2/stats's object: the queues, the DLQ by state, workflow
 * runs, the workers, and the last "minutes" (1..60) per-minute buckets
 * with their totals. */
void sf_out_stats(FILE *f, const json_t *stats, int minutes);

/* Prints `stepflow inspect`'s document (built by cmd_inspect.c: every
 * figure an object {"value": ..., "command": "redis-cli ..."}) as
 * sections of "label  value  $ command" lines. */
void sf_out_inspect(FILE *f, const json_t *doc);

#endif
