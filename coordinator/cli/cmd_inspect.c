/* cmd_inspect.c - `stepflow inspect`: what an operator would piece
 * together with redis-cli, read straight from Redis (no coordinator
 * needed): both queues' streams (length, consumer groups with lag and
 * pending, consumers, the oldest pending entries), delayed sets and the
 * next due message, the DLQ indexes, workflow runs, flow-control keys,
 * live workers (their heartbeats) and whether signing keys are set (never
 * their values).
 *
 * Read-only and blocking: one hiredis connection (STEPFLOW_REDIS_URL,
 * sf_redis_url_parse), plain commands one after the other.  Each figure
 * is kept with the exact redis-cli command that shows it (the connection
 * flags, the prefix filled in, every argument shell-quoted), as the
 * document {"value": ..., "command": "redis-cli ..."} that --json prints
 * and output.c's sf_out_inspect renders.  A failed command becomes that
 * figure's "error"; a lost connection ends the command with exit 1.
 *
 * Names read from Redis (flow-control keys, worker names) are bytes, not
 * always UTF-8: they are used as read (binary-safe argv, any length) and
 * shown as JSON text with the odd bytes as \xNN, the exact bytes then in
 * "keyBase64" / "nameBase64"; their commands quote such bytes $'\xNN'. */
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "keys.h"
#include "output.h"
#include "qstats.h"

#define XPENDING_SHOWN "10" /* oldest pending entries shown per group */
#define FC_KEYS_MAX 1000    /* flow-control keys read at most */
#define WORKERS_MAX 1000    /* workers read at most */

static const sf_cli_opt inspect_opts[] = {
    {"--redis-url", 1}, {"--prefix", 1}, {NULL, 0}};

static const char usage_inspect[] =
    "usage: stepflow inspect [--redis-url URL] [--prefix P]\n"
    "\n"
    "Reads Redis directly (read-only) and prints, next to each figure, the\n"
    "redis-cli command behind it: per queue (messages, failure callbacks)\n"
    "the stream length, consumer groups (lag, pending, last delivered id,\n"
    "entries read), consumers (pending, idle), the 10 oldest pending entries,\n"
    "the delayed set and the next message due; the DLQ index sizes per\n"
    "failure-callback state and the indexer's backlog; workflow runs kept,\n"
    "running, and ended (finished, cancelled or failed) awaiting deletion;\n"
    "flow-control keys (limits, in flight, waiting); the workers'\n"
    "heartbeats; whether signing keys are set.\n"
    "\n"
    "  --redis-url URL   redis://[user:password@]host:port[/db]\n"
    "                    (env STEPFLOW_REDIS_URL, default "
    "redis://127.0.0.1:6379)\n"
    "  --prefix P        key prefix (env STEPFLOW_PREFIX, default stepflow)\n"
    "\n"
    "With --json: every figure as {\"value\": ..., \"command\": "
    "\"redis-cli ...\"}.\n"
    "Exit 1 when Redis cannot be reached.\n";

/* One inspection: the connection and how redis-cli reaches the same
 * server. */
typedef struct insp {
    redisContext *c;        /* owned */
    const char *prefix;     /* borrowed */
    char cli[700];          /* "redis-cli [-h H -p P] [-n DB] [--user U]..." */
    int lost;               /* the connection failed: stop */
    char lost_err[256];
} insp;

/* "P:<rest>" into "out". */
static void key(const insp *x, const char *rest, char *out, size_t size) {
    snprintf(out, size, "%s:%s", x->prefix, rest);
}

/* The redis-cli line for argv (malloc'd); "argvlen" as for
 * redisCommandArgv (NULL: NUL-terminated arguments). */
static char *cli_line(const insp *x, int argc, const char **argv,
                      const size_t *argvlen) {
    sf_buf b;
    sf_buf_init(&b);
    sf_buf_appends(&b, x->cli);
    for (int i = 0; i < argc; i++) {
        char *w = sf_out_shell_wordn(argv[i], argvlen ? argvlen[i]
                                                      : strlen(argv[i]));
        sf_buf_appendf(&b, " %s", w ? w : "''");
        free(w);
    }
    return sf_buf_take(&b, NULL);
}

/* Runs argv ("argvlen" NULL: NUL-terminated arguments).  Returns the
 * reply (caller frees; may be an error reply) and "*line" = its redis-cli
 * command (malloc'd), or NULL when the connection is lost (x->lost set;
 * "*line" NULL). */
static redisReply *run(insp *x, char **line, int argc, const char **argv,
                       const size_t *argvlen) {
    *line = NULL;
    if (x->lost) return NULL;
    redisReply *r = redisCommandArgv(x->c, argc, argv, argvlen);
    if (!r) {
        x->lost = 1;
        snprintf(x->lost_err, sizeof(x->lost_err), "%s",
                 x->c->errstr[0] ? x->c->errstr : "connection lost");
        return NULL;
    }
    *line = cli_line(x, argc, argv, argvlen);
    return r;
}

/* Bytes read from Redis as a JSON string: as they are when UTF-8, else
 * with the odd bytes as \xNN (sf_out_escape_bytes).  Never NULL. */
static json_t *text_of(const char *s, size_t len) {
    if (sf_utf8_valid(s, len) && !memchr(s, '\0', len))
        return json_stringn(s, len);
    char *e = sf_out_escape_bytes(s, len);
    json_t *j = json_string(e ? e : "?");
    free(e);
    return j ? j : json_string("?");
}

/* Sets "field" of "o" to the name "s" (text_of), and "field"Base64 to its
 * exact bytes when they are not UTF-8. */
static void set_name(json_t *o, const char *field, const char *s, size_t len) {
    json_object_set_new(o, field, text_of(s, len));
    if (sf_utf8_valid(s, len) && !memchr(s, '\0', len)) return;
    char b64field[64];
    char *b64 = sf_base64_encode(s, len);
    snprintf(b64field, sizeof(b64field), "%sBase64", field);
    if (b64) json_object_set_new(o, b64field, json_string(b64));
    free(b64);
}

/* {"value": value, "command": line}; takes both. */
static json_t *fig_new(json_t *value, char *line) {
    json_t *f = json_object();
    json_object_set_new(f, "value", value ? value : json_null());
    json_object_set_new(f, "command", json_string(line ? line : ""));
    free(line);
    return f;
}

/* The figure of an error reply. */
static json_t *fig_error(const redisReply *r, char *line) {
    json_t *f = fig_new(NULL, line);
    json_object_set_new(f, "error", json_string(r->str ? r->str : "error"));
    return f;
}

/* run() for a figure: returns the reply for the caller to read (and
 * free), "*line" its redis-cli command; or NULL with "*fig" = the figure
 * of an error reply (fig_error; reply and line taken), NULL when the
 * connection is lost.  An error reply containing "benign" (NULL: none)
 * is returned like any other. */
static redisReply *run_fig(insp *x, char **line, json_t **fig,
                           const char *benign, int argc, const char **argv,
                           const size_t *argvlen) {
    *fig = NULL;
    redisReply *r = run(x, line, argc, argv, argvlen);
    if (!r || r->type != REDIS_REPLY_ERROR) return r;
    if (benign && (!r->str || strstr(r->str, benign))) return r;
    *fig = fig_error(r, *line);
    *line = NULL;
    freeReplyObject(r);
    return NULL;
}

/* A command answering an integer (XLEN, ZCARD, LLEN, HEXISTS as a bool
 * when "as_bool"); "argvlen" as for run(). */
static json_t *fig_int(insp *x, int as_bool, int argc, const char **argv,
                       const size_t *argvlen) {
    char *line;
    json_t *f;
    redisReply *r = run_fig(x, &line, &f, NULL, argc, argv, argvlen);
    if (!r) return f;
    if (r->type == REDIS_REPLY_INTEGER)
        f = fig_new(as_bool ? json_boolean(r->integer != 0)
                            : json_integer(r->integer),
                    line);
    else
        f = fig_new(NULL, line);
    freeReplyObject(r);
    return f;
}

/* A bulk string reply element as a JSON string (text_of: never dropped
 * for not being UTF-8), NULL for nil and other types. */
static json_t *str_of(const redisReply *e) {
    if (e->type == REDIS_REPLY_STRING || e->type == REDIS_REPLY_STATUS)
        return text_of(e->str, e->len);
    return NULL;
}

/* An element as a JSON integer: integers, numeric strings; else null. */
static json_t *int_of(const redisReply *e) {
    int64_t v;
    if (e->type == REDIS_REPLY_INTEGER) return json_integer(e->integer);
    if (e->type == REDIS_REPLY_STRING && sf_parse_i64(e->str, e->len, &v) == 0)
        return json_integer(v);
    return json_null();
}

/* A flat [k1, v1, k2, v2] reply as an object: integers as numbers,
 * strings as strings, anything else as null. */
static json_t *pairs_object(const redisReply *r) {
    json_t *o = json_object();
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements;
         i += 2) {
        const redisReply *k = r->element[i], *v = r->element[i + 1];
        if (k->type != REDIS_REPLY_STRING && k->type != REDIS_REPLY_STATUS)
            continue;
        char name[128];
        snprintf(name, sizeof(name), "%.*s", (int)k->len, k->str);
        json_t *jv = v->type == REDIS_REPLY_INTEGER ? json_integer(v->integer)
                                                    : str_of(v);
        json_object_set_new(o, name, jv ? jv : json_null());
    }
    return o;
}

/* ---- streams ---- */

/* XINFO CONSUMERS <stream> <group> */
static json_t *consumers_fig(insp *x, const char *stream, const char *group) {
    const char *argv[] = {"XINFO", "CONSUMERS", stream, group};
    char *line;
    json_t *f;
    redisReply *r = run_fig(x, &line, &f, NULL, 4, argv, NULL);
    if (!r) return f;
    json_t *list = json_array();
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        json_t *c = pairs_object(r->element[i]);
        json_t *o = json_pack("{s:O?,s:O?,s:O?}", "name",
                              json_object_get(c, "name"), "pending",
                              json_object_get(c, "pending"), "idleMs",
                              json_object_get(c, "idle"));
        json_decref(c);
        if (o) json_array_append_new(list, o);
    }
    freeReplyObject(r);
    return fig_new(list, line);
}

/* XPENDING <stream> <group> - + 10: id, consumer, idle ms, deliveries. */
static json_t *pending_fig(insp *x, const char *stream, const char *group) {
    const char *argv[] = {"XPENDING", stream, group, "-", "+", XPENDING_SHOWN};
    char *line;
    json_t *f;
    redisReply *r = run_fig(x, &line, &f, NULL, 6, argv, NULL);
    if (!r) return f;
    json_t *list = json_array();
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        const redisReply *e = r->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 4) continue;
        json_t *id = str_of(e->element[0]), *who = str_of(e->element[1]);
        json_array_append_new(list,
                              json_pack("{s:o,s:o,s:o,s:o}", "id",
                                        id ? id : json_null(), "consumer",
                                        who ? who : json_null(), "idleMs",
                                        int_of(e->element[2]), "deliveries",
                                        int_of(e->element[3])));
    }
    freeReplyObject(r);
    return fig_new(list, line);
}

/* XINFO GROUPS <stream>, each group with its consumers and oldest pending
 * entries when "details".  A stream not created yet has no groups. */
static json_t *groups_fig(insp *x, const char *stream, int details) {
    const char *argv[] = {"XINFO", "GROUPS", stream};
    char *line;
    json_t *f;
    redisReply *r = run_fig(x, &line, &f, "no such key", 3, argv, NULL);
    if (!r) return f;
    json_t *list = json_array();
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        json_t *g = pairs_object(r->element[i]);
        json_t *o = json_object();
        json_object_set(o, "name", json_object_get(g, "name"));
        json_object_set(o, "consumers", json_object_get(g, "consumers"));
        json_object_set(o, "pending", json_object_get(g, "pending"));
        json_object_set(o, "lag", json_object_get(g, "lag"));
        json_object_set(o, "lastDeliveredId",
                        json_object_get(g, "last-delivered-id"));
        json_object_set(o, "entriesRead", json_object_get(g, "entries-read"));
        /* Keys missing from older servers come as JSON null. */
        const char *name = json_string_value(json_object_get(g, "name"));
        if (details && name) {
            json_t *cf = consumers_fig(x, stream, name);
            json_t *pf = pending_fig(x, stream, name);
            if (cf) json_object_set_new(o, "consumerList", cf);
            if (pf) json_object_set_new(o, "oldestPending", pf);
        }
        json_decref(g);
        json_array_append_new(list, o);
    }
    freeReplyObject(r);
    return fig_new(list, line);
}

/* ZRANGE <delayed> 0 0 WITHSCORES: the next message due, or null. */
static json_t *next_due_fig(insp *x, const char *delayed) {
    const char *argv[] = {"ZRANGE", delayed, "0", "0", "WITHSCORES"};
    char *line;
    json_t *f;
    redisReply *r = run_fig(x, &line, &f, NULL, 5, argv, NULL);
    if (!r) return f;
    if (r->type == REDIS_REPLY_ARRAY && r->elements >= 2) {
        json_t *id = str_of(r->element[0]);
        f = fig_new(json_pack("{s:o,s:o}", "id", id ? id : json_null(),
                              "dueAt", int_of(r->element[1])),
                    line);
    } else {
        f = fig_new(json_null(), line);
    }
    freeReplyObject(r);
    return f;
}

static json_t *queue_doc(insp *x, const char *name, sf_queue_id q) {
    sf_queue_keys k;
    sf_keys_queue(x->prefix, q, &k);
    const char *xlen[] = {"XLEN", k.stream};
    const char *zcard[] = {"ZCARD", k.delayed};
    json_t *o = json_pack("{s:s,s:s,s:s}", "name", name, "stream", k.stream,
                          "delayedKey", k.delayed);
    json_object_set_new(o, "length", fig_int(x, 0, 2, xlen, NULL));
    json_object_set_new(o, "groups", groups_fig(x, k.stream, 1));
    json_object_set_new(o, "delayed", fig_int(x, 0, 2, zcard, NULL));
    json_object_set_new(o, "nextDue", next_due_fig(x, k.delayed));
    return o;
}

/* ---- the rest ---- */

static json_t *zcard_fig(insp *x, const char *rest) {
    char k[SF_KEY_MAX];
    key(x, rest, k, sizeof(k));
    const char *argv[] = {"ZCARD", k};
    return fig_int(x, 0, 2, argv, NULL);
}

static json_t *dlq_doc(insp *x) {
    static const char *const states[] = {"CALLBACK_INPROGRESS",
                                         "CALLBACK_SUCCESS", "CALLBACK_FAIL",
                                         "CALLBACK_CANCELED", "NONE"};
    char rest[128], events[SF_KEY_MAX];
    json_t *by = json_object();
    for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++) {
        snprintf(rest, sizeof(rest), "{dlq}:idx:state:%s", states[i]);
        json_object_set_new(by, states[i], zcard_fig(x, rest));
    }
    sf_keys_dlq_events(x->prefix, events, sizeof(events));
    const char *xlen[] = {"XLEN", events};
    json_t *ev = json_object();
    json_object_set_new(ev, "stream", json_string(events));
    json_object_set_new(ev, "length", fig_int(x, 0, 2, xlen, NULL));
    json_object_set_new(ev, "groups", groups_fig(x, events, 0));
    json_t *o = json_object();
    json_object_set_new(o, "total", zcard_fig(x, "{dlq}:idx:all"));
    json_object_set_new(o, "byState", by);
    json_object_set_new(o, "events", ev);
    return o;
}

static json_t *workflows_doc(insp *x) {
    json_t *o = json_object();
    json_object_set_new(o, "runs", zcard_fig(x, "{wf}:runs"));
    json_object_set_new(o, "running", zcard_fig(x, "{wf}:running"));
    json_object_set_new(o, "expiring", zcard_fig(x, "{wf}:expire"));
    return o;
}

/* HGETALL <key> ("len" bytes: binary-safe) as a figure: the hash as an
 * object (pairs_object). */
static json_t *hash_fig(insp *x, const char *key, size_t len) {
    const char *argv[] = {"HGETALL", key};
    const size_t argvlen[] = {7, len};
    char *line;
    json_t *f;
    redisReply *r = run_fig(x, &line, &f, NULL, 2, argv, argvlen);
    if (!r) return f;
    f = fig_new(pairs_object(r), line);
    freeReplyObject(r);
    return f;
}

/* "<a><b bytes>" as a key in "out" (binary-safe, any length). */
static void key_join(sf_buf *out, const char *a, const char *b, size_t blen) {
    sf_buf_init(out);
    sf_buf_appends(out, a);
    sf_buf_append(out, b, blen);
}

/* One flow-control key K ("klen" bytes, as SCAN returned them): HGETALL
 * conf, ZCARD run, LLEN wait. */
static json_t *fc_key_doc(insp *x, const char *fc_prefix, const char *k,
                          size_t klen) {
    char pre[SF_KEY_MAX + 8];
    sf_buf conf, runk, wait;
    snprintf(pre, sizeof(pre), "%sconf:", fc_prefix);
    key_join(&conf, pre, k, klen);
    snprintf(pre, sizeof(pre), "%srun:", fc_prefix);
    key_join(&runk, pre, k, klen);
    snprintf(pre, sizeof(pre), "%swait:", fc_prefix);
    key_join(&wait, pre, k, klen);
    const char *zc[] = {"ZCARD", runk.data};
    const char *ll[] = {"LLEN", wait.data};
    const size_t zcl[] = {5, runk.len}, lll[] = {4, wait.len};
    json_t *o = json_object();
    set_name(o, "key", k, klen);
    json_t *conf_fig = hash_fig(x, conf.data, conf.len);
    if (conf_fig) json_object_set_new(o, "config", conf_fig);
    json_object_set_new(o, "inflight", fig_int(x, 0, 2, zc, zcl));
    json_object_set_new(o, "waiting", fig_int(x, 0, 2, ll, lll));
    sf_buf_cleanup(&conf);
    sf_buf_cleanup(&runk);
    sf_buf_cleanup(&wait);
    return o;
}

/* SCAN for P:{msg}:fc:conf:* (what `redis-cli --scan --pattern` does). */
static json_t *flow_control_doc(insp *x) {
    char fc_prefix[SF_KEY_MAX], pattern[SF_KEY_MAX + 8], wake[SF_KEY_MAX + 8];
    sf_keys_fc_prefix(x->prefix, fc_prefix, sizeof(fc_prefix));
    snprintf(pattern, sizeof(pattern), "%sconf:*", fc_prefix);
    snprintf(wake, sizeof(wake), "%swake", fc_prefix);
    size_t conf_len = strlen(fc_prefix) + strlen("conf:");
    /* the names (the bytes after "conf:") as read, each an sf_buf */
    sf_buf *names = calloc(FC_KEYS_MAX, sizeof(*names));
    size_t n_names = 0;
    char cursor[32] = "0";
    do {
        const char *argv[] = {"SCAN", cursor, "MATCH", pattern, "COUNT", "1000"};
        char *line;
        redisReply *r = run(x, &line, 6, argv, NULL);
        free(line);
        if (!r) break;
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
            r->element[0]->type != REDIS_REPLY_STRING) {
            freeReplyObject(r);
            break;
        }
        snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
        const redisReply *ks = r->element[1];
        for (size_t i = 0; names && ks->type == REDIS_REPLY_ARRAY &&
                           i < ks->elements && n_names < FC_KEYS_MAX;
             i++) {
            const redisReply *e = ks->element[i];
            if (e->type != REDIS_REPLY_STRING || e->len <= conf_len) continue;
            sf_buf_init(&names[n_names]);
            sf_buf_append(&names[n_names], e->str + conf_len, e->len - conf_len);
            n_names++;
        }
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0);

    json_t *keys = json_array();
    for (size_t i = 0; i < n_names; i++) {
        if (!x->lost)
            json_array_append_new(keys, fc_key_doc(x, fc_prefix, names[i].data,
                                                   names[i].len));
        sf_buf_cleanup(&names[i]);
    }
    free(names);
    sf_buf line;
    sf_buf_init(&line);
    char *pw = sf_out_shell_word(pattern);
    sf_buf_appendf(&line, "%s --scan --pattern %s", x->cli, pw ? pw : "''");
    free(pw);
    const char *zc[] = {"ZCARD", wake};
    json_t *o = json_object();
    json_object_set_new(o, "keys", fig_new(keys, sf_buf_take(&line, NULL)));
    json_object_set_new(o, "wake", fig_int(x, 0, 2, zc, NULL));
    return o;
}

/* The figure of the live workers: ZCOUNT of the heartbeats of the last
 * SF_WORKER_ALIVE_MS.  The command shown computes that bound from Redis'
 * clock when it runs (to the second), so it answers the same question
 * when pasted later: `... ZCOUNT key $(( $(redis-cli TIME | head -n 1) *
 * 1000 - 15000 )) +inf` (POSIX sh arithmetic). */
static json_t *alive_fig(insp *x, const char *zset, int64_t now) {
    char min[32];
    snprintf(min, sizeof(min), "%" PRId64, now - SF_WORKER_ALIVE_MS);
    const char *zcount[] = {"ZCOUNT", zset, min, "+inf"};
    json_t *f = fig_int(x, 0, 4, zcount, NULL);
    if (!f) return NULL;
    char *zq = sf_out_shell_word(zset);
    sf_buf cmd;
    sf_buf_init(&cmd);
    sf_buf_appendf(&cmd,
                   "%s ZCOUNT %s $(( $(%s TIME | head -n 1) * 1000 - %d )) "
                   "+inf",
                   x->cli, zq ? zq : "''", x->cli, (int)SF_WORKER_ALIVE_MS);
    free(zq);
    json_object_set_new(f, "command", json_string(cmd.data));
    sf_buf_cleanup(&cmd);
    return f;
}

/* The workers' heartbeats: P:{stats}:workers (name -> last beat, ms) and
 * each one's hash P:{stats}:worker:<name> (the name as read: any bytes,
 * any length). */
static json_t *workers_doc(insp *x, int64_t now) {
    char zset[SF_KEY_MAX], hpre[SF_KEY_MAX];
    key(x, "{stats}:workers", zset, sizeof(zset));
    key(x, "{stats}:worker:", hpre, sizeof(hpre));
    const char *zrange[] = {"ZRANGE", zset, "0", "-1", "WITHSCORES"};
    json_t *o = json_object();
    json_t *alive = alive_fig(x, zset, now);
    if (alive) json_object_set_new(o, "alive", alive);
    char *line;
    json_t *f;
    redisReply *r = run_fig(x, &line, &f, NULL, 5, zrange, NULL);
    if (!r) {
        if (f) json_object_set_new(o, "list", f);
        return o;
    }
    json_t *list = json_array();
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements &&
                       json_array_size(list) < WORKERS_MAX;
         i += 2) {
        const redisReply *n = r->element[i];
        if (n->type != REDIS_REPLY_STRING) continue;
        int64_t last = 0;
        json_t *seen = int_of(r->element[i + 1]);
        if (json_is_integer(seen)) last = json_integer_value(seen);
        sf_buf hkey;
        key_join(&hkey, hpre, n->str, n->len);
        json_t *info = hash_fig(x, hkey.data, hkey.len);
        sf_buf_cleanup(&hkey);
        json_t *w = json_object();
        set_name(w, "name", n->str, n->len);
        json_object_set_new(w, "lastSeen", seen);
        json_object_set_new(w, "alive",
                            json_boolean(now - last < SF_WORKER_ALIVE_MS));
        if (info) json_object_set_new(w, "info", info);
        json_array_append_new(list, w);
    }
    freeReplyObject(r);
    json_object_set_new(o, "list", fig_new(list, line));
    return o;
}

static json_t *signing_doc(insp *x) {
    char k[SF_KEY_MAX];
    sf_keys_signing(x->prefix, k, sizeof(k));
    const char *cur[] = {"HEXISTS", k, "current"};
    const char *nxt[] = {"HEXISTS", k, "next"};
    json_t *o = json_object();
    json_object_set_new(o, "current", fig_int(x, 1, 3, cur, NULL));
    json_object_set_new(o, "next", fig_int(x, 1, 3, nxt, NULL));
    return o;
}

/* "field:value" of an INFO section as a figure. */
static json_t *info_fig(insp *x, const char *section, const char *field) {
    const char *argv[] = {"INFO", section};
    char *line;
    json_t *f;
    redisReply *r = run_fig(x, &line, &f, NULL, 2, argv, NULL);
    if (!r) return f;
    json_t *v = json_null();
    if (r->type == REDIS_REPLY_STRING) {
        size_t fl = strlen(field);
        for (const char *p = r->str; p && *p;) {
            if (strncmp(p, field, fl) == 0 && p[fl] == ':') {
                json_decref(v);
                v = json_stringn(p + fl + 1, strcspn(p + fl + 1, "\r\n"));
                break;
            }
            p = strchr(p, '\n');
            if (p) p++;
        }
    }
    f = fig_new(v, line);
    freeReplyObject(r);
    return f;
}

/* Redis' own clock (TIME) in ms, so ages do not depend on this host's. */
static int64_t redis_now_ms(insp *x) {
    char *line;
    const char *argv[] = {"TIME"};
    redisReply *r = run(x, &line, 1, argv, NULL);
    free(line);
    int64_t ms = sf_now_ms(), s, us;
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
        r->element[0]->type == REDIS_REPLY_STRING &&
        r->element[1]->type == REDIS_REPLY_STRING &&
        sf_parse_i64(r->element[0]->str, r->element[0]->len, &s) == 0 &&
        sf_parse_i64(r->element[1]->str, r->element[1]->len, &us) == 0)
        ms = s * 1000 + us / 1000;
    if (r) freeReplyObject(r);
    return ms;
}

/* Connects, authenticates and selects the db.  Returns 0 or an exit code
 * (message printed). */
static int connect_redis(insp *x, const sf_redis_addr *a) {
    struct timeval tv = {3, 0};
    x->c = redisConnectWithTimeout(a->host, a->port, tv);
    if (!x->c || x->c->err)
        return sf_cli_fail(SF_EXIT_ERROR, "cannot connect to Redis at %s:%d: %s",
                           a->host, a->port,
                           x->c ? x->c->errstr : "out of memory");
    tv.tv_sec = 10;
    redisSetTimeout(x->c, tv);
    redisReply *r = NULL;
    if (a->password[0]) {
        r = a->user[0] ? redisCommand(x->c, "AUTH %s %s", a->user, a->password)
                       : redisCommand(x->c, "AUTH %s", a->password);
        if (!r || r->type == REDIS_REPLY_ERROR) {
            int rc = sf_cli_fail(SF_EXIT_ERROR,
                                 "Redis at %s:%d refused the credentials of "
                                 "the URL: %s",
                                 a->host, a->port,
                                 r ? r->str : x->c->errstr);
            if (r) freeReplyObject(r);
            return rc;
        }
        freeReplyObject(r);
    }
    /* A server that wants a password we lack answers NOAUTH to
     * everything: one clear error instead of a page of them. */
    r = redisCommand(x->c, "PING");
    if (!r || r->type == REDIS_REPLY_ERROR) {
        int rc = sf_cli_fail(SF_EXIT_ERROR, "Redis at %s:%d: %s", a->host,
                             a->port, r ? r->str : x->c->errstr);
        if (r) freeReplyObject(r);
        return rc;
    }
    freeReplyObject(r);
    if (a->db) {
        r = redisCommand(x->c, "SELECT %d", a->db);
        if (!r || r->type == REDIS_REPLY_ERROR) {
            int rc = sf_cli_fail(SF_EXIT_ERROR, "SELECT %d failed: %s", a->db,
                                 r ? r->str : x->c->errstr);
            if (r) freeReplyObject(r);
            return rc;
        }
        freeReplyObject(r);
    }
    return 0;
}

/* "redis-cli" plus what reaches this server; never the password. */
static void cli_prefix(insp *x, const sf_redis_addr *a) {
    sf_buf b;
    sf_buf_init(&b);
    sf_buf_appends(&b, "redis-cli");
    int local = strcmp(a->host, "127.0.0.1") == 0 ||
                strcmp(a->host, "localhost") == 0;
    if (!local || a->port != 6379) {
        char *h = sf_out_shell_word(a->host);
        sf_buf_appendf(&b, " -h %s -p %d", h ? h : "''", a->port);
        free(h);
    }
    if (a->db) sf_buf_appendf(&b, " -n %d", a->db);
    if (a->user[0]) {
        char *u = sf_out_shell_word(a->user);
        sf_buf_appendf(&b, " --user %s", u ? u : "''");
        free(u);
    }
    if (a->password[0]) sf_buf_appends(&b, " --askpass");
    snprintf(x->cli, sizeof(x->cli), "%s", b.data);
    sf_buf_cleanup(&b);
}

static int cmd_inspect(sf_cli_ctx *ctx, const sf_cli_args *a) {
    int rc = sf_cli_no_positionals(ctx, a);
    if (rc) return rc;
    const char *url = sf_cli_opt_get(a, "--redis-url");
    const char *prefix = sf_cli_opt_get(a, "--prefix");
    if (!url) url = getenv("STEPFLOW_REDIS_URL");
    if (!url || !*url) url = "redis://127.0.0.1:6379";
    if (!prefix) prefix = getenv("STEPFLOW_PREFIX");
    if (!prefix || !*prefix) prefix = "stepflow";
    if (strlen(prefix) > 63 ||
        strspn(prefix, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                       "0123456789_.-") != strlen(prefix))
        return sf_cli_usage_error(ctx->cmd,
                                  "bad prefix '%s': want 1 to 63 characters "
                                  "from [A-Za-z0-9_.-]",
                                  prefix);
    sf_redis_addr addr;
    sf_err err = {{0}};
    if (sf_redis_url_parse(url, &addr, &err) != SF_OK)
        return sf_cli_usage_error(ctx->cmd, "bad Redis URL: %s", err.msg);
    const char *password = getenv("STEPFLOW_REDIS_PASSWORD"); /* as the */
    if (password && *password)                      /* processes read it */
        snprintf(addr.password, sizeof(addr.password), "%s", password);

    insp x = {.prefix = prefix};
    cli_prefix(&x, &addr);
    rc = connect_redis(&x, &addr);
    if (rc) {
        if (x.c) redisFree(x.c);
        return rc;
    }
    int64_t now = redis_now_ms(&x);
    char where[400];
    snprintf(where, sizeof(where), "%s:%d db %d", addr.host, addr.port,
             addr.db);
    json_t *doc = json_pack("{s:s,s:s,s:I}", "redis", where, "prefix", prefix,
                            "time", (json_int_t)now);
    json_t *srv = json_object();
    json_object_set_new(srv, "version", info_fig(&x, "server", "redis_version"));
    json_object_set_new(srv, "maxmemoryPolicy",
                        info_fig(&x, "memory", "maxmemory_policy"));
    json_object_set_new(doc, "server", srv);
    json_object_set_new(doc, "queues",
                        json_pack("[o,o]",
                                  queue_doc(&x, "messages", SF_QUEUE_MSG),
                                  queue_doc(&x, "failure-callback",
                                            SF_QUEUE_CALLBACK)));
    json_object_set_new(doc, "dlq", dlq_doc(&x));
    json_object_set_new(doc, "workflows", workflows_doc(&x));
    json_object_set_new(doc, "flowControl", flow_control_doc(&x));
    json_object_set_new(doc, "workers", workers_doc(&x, now));
    json_object_set_new(doc, "signingKeys", signing_doc(&x));
    if (x.lost) {
        rc = sf_cli_fail(SF_EXIT_ERROR, "lost the connection to Redis at %s: %s",
                         where, x.lost_err);
    } else if (ctx->json) {
        sf_cli_print_json(json_incref(doc));
    } else {
        sf_out_inspect(stdout, doc);
    }
    json_decref(doc);
    redisFree(x.c);
    return rc;
}

const sf_cli_command sf_cli_inspect_commands[] = {
    {NULL, "inspect", inspect_opts, usage_inspect, 0, cmd_inspect},
    {NULL, NULL, NULL, NULL, 0, NULL},
};
