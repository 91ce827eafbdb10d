/* rconn.c - a reconnecting hiredis async connection (contract in rconn.h).
 *
 * Life cycle of one link:
 *   DOWN --connect--> HANDSHAKE (AUTH, SELECT, CLIENT SETNAME, SCRIPT LOAD *)
 *        --last handshake reply--> UP --link lost--> DOWN (+ backoff timer)
 * Every command goes through a small heap "call" record so that pending
 * commands can be counted and an EVALSHA answered with NOSCRIPT can be sent
 * again as EVAL (the record then owns a copy of the arguments). */
#include "rconn.h"

#include <hiredis/adapters/libevent.h>
#include <hiredis/hiredis.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys.h"
#include "log.h"
#include "lua.h"
#include "util.h"

#define SF_RCONN_BACKOFF_MIN_MS 100
#define SF_RCONN_BACKOFF_MAX_MS 5000


struct sf_rconn {
    struct event_base *base;
    sf_redis_addr addr;
    char name[64];
    sf_rconn_state_fn *state_fn;
    void *arg;
    redisAsyncContext *ac;    /* NULL while disconnected */
    int up;                   /* handshake done */
    int freeing;              /* sf_rconn_free in progress: no reconnect */
    int handshake_left;       /* replies still expected before UP */
    int handshake_failed;
    int layout_absent;        /* GET P:layout answered nil this handshake */
    char layout_key[128];     /* P:layout (keys.h) */
    size_t pending;           /* user commands awaiting a reply */
    uint64_t connects;        /* handshakes completed (UP transitions) */
    sf_metric *m_up, *m_reconnects; /* sf_rconn_export_metrics(); NULL when
                                       not exported (updates are no-ops) */
    char (*shas)[41];            /* SHA1 of sf_lua_all[i], owned */
    int backoff_ms;
    struct event *retry_timer;
};

/* One user command in flight.  "argv"/"argvlen" are owned copies, kept only
 * for EVALSHA so a NOSCRIPT reply can be retried with EVAL. */
typedef struct sf_rcall {
    sf_rconn *conn;
    redisCallbackFn *fn;
    void *privdata;
    const char *script; /* borrowed static string, or NULL */
    int argc;
    char **argv;
    size_t *argvlen;
} sf_rcall;

static void rconn_connect(sf_rconn *c);

static void rcall_free(sf_rcall *call) {
    if (!call) return;
    if (call->argv) {
        for (int i = 0; i < call->argc; i++) free(call->argv[i]);
        free(call->argv);
    }
    free(call->argvlen);
    free(call);
}

static void rconn_schedule_retry(sf_rconn *c) {
    if (c->freeing) return;
    struct timeval tv = {c->backoff_ms / 1000, (c->backoff_ms % 1000) * 1000};
    evtimer_add(c->retry_timer, &tv);
    c->backoff_ms *= 2;
    if (c->backoff_ms > SF_RCONN_BACKOFF_MAX_MS)
        c->backoff_ms = SF_RCONN_BACKOFF_MAX_MS;
}

static void rconn_retry_cb(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    rconn_connect(arg);
}

static void rconn_set_down(sf_rconn *c) {
    int was_up = c->up;
    c->up = 0;
    c->ac = NULL;
    sf_metric_set(c->m_up, 0);
    if (was_up && c->freeing) {
        sf_debug("redis_link_closed conn=%s", c->name);
    } else if (was_up) {
        sf_warn("redis_link_down conn=%s", c->name);
        if (c->state_fn) c->state_fn(c, 0, c->arg);
    }
}

static void rconn_disconnect_cb(const redisAsyncContext *ac, int status) {
    sf_rconn *c = ac->data;
    if (!c) return;
    if (status != REDIS_OK && !c->freeing)
        sf_debug("redis_disconnected conn=%s err=%s", c->name,
                 SF_LOGQ(ac->errstr));
    rconn_set_down(c);
    rconn_schedule_retry(c);
}

/* The reply to GET P:layout: nil (no layout yet: set at UP), our version
 * or older (go on), or anything else: exit 1 before this process touches
 * data it does not understand (rconn.h). */
static void rconn_layout_verdict(sf_rconn *c, const redisReply *reply) {
    if (reply->type == REDIS_REPLY_NIL) {
        c->layout_absent = 1;
        return;
    }
    int64_t found = 0;
    if (reply->type == REDIS_REPLY_STRING &&
        sf_parse_i64(reply->str, reply->len, &found) == 0 &&
        found <= SF_LAYOUT_VERSION)
        return;
    if (reply->type == REDIS_REPLY_STRING && found > SF_LAYOUT_VERSION)
        sf_error("redis_layout_newer key=%s found=%lld supported=%d "
                 "note=\"this Redis holds data of a newer stepflow release; "
                 "exiting without touching it\"",
                 SF_LOGQ(c->layout_key), (long long)found, SF_LAYOUT_VERSION);
    else
        sf_error("redis_layout_unreadable key=%s supported=%d note=\"not "
                 "stepflow's layout version; exiting without touching the "
                 "data\"",
                 SF_LOGQ(c->layout_key), SF_LAYOUT_VERSION);
    exit(1);
}

/* Handshake replies: AUTH, SELECT, SETNAME, each SCRIPT LOAD, the layout. */
static void rconn_handshake_cb(redisAsyncContext *ac, void *r, void *priv) {
    sf_rconn *c = ac->data;
    redisReply *reply = r;
    const char *step = priv;
    if (!c || c->ac != ac) return;
    if (!reply) return; /* link lost: the disconnect callback handles it */
    if (strcmp(step, "layout") == 0 && reply->type != REDIS_REPLY_ERROR)
        rconn_layout_verdict(c, reply);
    if (reply->type == REDIS_REPLY_ERROR && strcmp(step, "setname") != 0) {
        sf_error("redis_handshake_failed conn=%s step=%s err=%s", c->name,
                 step, SF_LOGQ(reply->str));
        c->handshake_failed = 1;
    }
    if (--c->handshake_left > 0) return;
    if (c->handshake_failed) {
        c->handshake_failed = 0;
        redisAsyncDisconnect(ac); /* retried with backoff */
        return;
    }
    if (c->layout_absent) /* the first to see this Redis writes the layout */
        redisAsyncCommand(ac, NULL, NULL, "SET %s %d NX", c->layout_key,
                          SF_LAYOUT_VERSION);
    c->up = 1;
    c->connects++;
    sf_metric_set(c->m_up, 1);
    if (c->connects > 1) sf_metric_add(c->m_reconnects, 1);
    c->backoff_ms = SF_RCONN_BACKOFF_MIN_MS;
    sf_info("redis_link_up conn=%s host=%s port=%d", c->name,
            SF_LOGQ(c->addr.host), c->addr.port);
    if (c->state_fn) c->state_fn(c, 1, c->arg);
}

static void rconn_connect_cb(const redisAsyncContext *cac, int status) {
    redisAsyncContext *ac = (redisAsyncContext *)cac;
    sf_rconn *c = ac->data;
    if (!c) return;
    if (status != REDIS_OK) {
        sf_debug("redis_connect_failed conn=%s err=%s", c->name,
                 SF_LOGQ(ac->errstr));
        c->ac = NULL; /* hiredis frees the context after this callback */
        rconn_schedule_retry(c);
        return;
    }
    redisEnableKeepAlive(&ac->c);
    c->handshake_left = 0;
    c->handshake_failed = 0;
    c->layout_absent = 0;
    /* AUTH [user] password */
    if (c->addr.password[0]) {
        c->handshake_left++;
        if (c->addr.user[0])
            redisAsyncCommand(ac, rconn_handshake_cb, "auth", "AUTH %s %s",
                              c->addr.user, c->addr.password);
        else
            redisAsyncCommand(ac, rconn_handshake_cb, "auth", "AUTH %s",
                              c->addr.password);
    }
    /* SELECT db */
    if (c->addr.db != 0) {
        c->handshake_left++;
        redisAsyncCommand(ac, rconn_handshake_cb, "select", "SELECT %d",
                          c->addr.db);
    }
    /* CLIENT SETNAME name (errors ignored: names with spaces, old servers) */
    c->handshake_left++;
    redisAsyncCommand(ac, rconn_handshake_cb, "setname", "CLIENT SETNAME %s",
                      c->name);
    /* SCRIPT LOAD script */
    for (size_t i = 0; i < sf_lua_count; i++) {
        c->handshake_left++;
        redisAsyncCommand(ac, rconn_handshake_cb, "script", "SCRIPT LOAD %s",
                          sf_lua_all[i]);
    }
    /* GET P:layout: no link reports UP (and so sends nothing of its own)
     * before the version in Redis is known to be one we understand */
    c->handshake_left++;
    redisAsyncCommand(ac, rconn_handshake_cb, "layout", "GET %s",
                      c->layout_key);
}

static void rconn_connect(sf_rconn *c) {
    if (c->ac || c->freeing) return;
    redisAsyncContext *ac = redisAsyncConnect(c->addr.host, c->addr.port);
    if (!ac) {
        rconn_schedule_retry(c);
        return;
    }
    if (ac->err) {
        sf_debug("redis_connect_failed conn=%s err=%s", c->name,
                 SF_LOGQ(ac->errstr));
        redisAsyncFree(ac);
        rconn_schedule_retry(c);
        return;
    }
    ac->data = c;
    c->ac = ac;
    redisLibeventAttach(ac, c->base);
    redisAsyncSetConnectCallback(ac, rconn_connect_cb);
    redisAsyncSetDisconnectCallback(ac, rconn_disconnect_cb);
}

sf_rconn *sf_rconn_new(struct event_base *base, const sf_redis_addr *addr,
                       const char *prefix, const char *name,
                       sf_rconn_state_fn *state_fn, void *arg) {
    sf_rconn *c = calloc(1, sizeof(*c));
    if (!c) return NULL;
    c->base = base;
    c->addr = *addr;
    sf_keys_layout(prefix, c->layout_key, sizeof(c->layout_key));
    snprintf(c->name, sizeof(c->name), "%s", name);
    c->state_fn = state_fn;
    c->arg = arg;
    c->backoff_ms = SF_RCONN_BACKOFF_MIN_MS;
    c->shas = calloc(sf_lua_count, sizeof(*c->shas));
    if (!c->shas) {
        free(c);
        return NULL;
    }
    for (size_t i = 0; i < sf_lua_count; i++)
        sf_lua_sha1(sf_lua_all[i], c->shas[i]);
    c->retry_timer = evtimer_new(base, rconn_retry_cb, c);
    if (!c->retry_timer) {
        free(c->shas);
        free(c);
        return NULL;
    }
    rconn_connect(c);
    return c;
}

void sf_rconn_free(sf_rconn *c) {
    if (!c) return;
    c->freeing = 1;
    c->state_fn = NULL;
    if (c->ac) {
        redisAsyncContext *ac = c->ac;
        /* Pending callbacks run with reply == NULL from inside this call. */
        redisAsyncFree(ac);
        c->ac = NULL;
    }
    sf_metric_set(c->m_up, 0);
    event_free(c->retry_timer);
    free(c->shas);
    free(c);
}

int sf_rconn_is_up(const sf_rconn *c) { return c && c->up && c->ac; }

size_t sf_rconn_pending(const sf_rconn *c) { return c ? c->pending : 0; }

uint64_t sf_rconn_reconnects(const sf_rconn *c) {
    return c && c->connects > 1 ? c->connects - 1 : 0;
}

sf_status sf_rconn_export_metrics(sf_rconn *c, sf_metrics *reg,
                                  const char *label) {
    if (!c || !reg) return SF_OK;
    char l[96];
    snprintf(l, sizeof(l), "conn=\"%s\"", label);
    c->m_reconnects = sf_metric_counter(
        reg, "stepflow_redis_reconnects_total",
        "Successful connections to Redis after the first, by connection.", l);
    c->m_up = sf_metric_gauge(reg, "stepflow_redis_up",
                              "1 while the connection to Redis is up.", l);
    sf_metric_add(c->m_reconnects, (double)sf_rconn_reconnects(c));
    sf_metric_set(c->m_up, sf_rconn_is_up(c));
    return c->m_reconnects && c->m_up ? SF_OK : SF_ERR;
}

/* Reply trampoline for user commands: counts, retries NOSCRIPT, forwards. */
static void rconn_call_cb(redisAsyncContext *ac, void *r, void *priv) {
    sf_rcall *call = priv;
    sf_rconn *c = call->conn;
    redisReply *reply = r;
    if (reply && reply->type == REDIS_REPLY_ERROR && call->script &&
        strncmp(reply->str, "NOSCRIPT", 8) == 0 && c->ac == ac) {
        /* Same words with EVAL <body> in place of EVALSHA <sha>. */
        const char **argv = malloc(sizeof(char *) * (size_t)call->argc);
        size_t *lens = malloc(sizeof(size_t) * (size_t)call->argc);
        if (argv && lens) {
            for (int i = 0; i < call->argc; i++) {
                argv[i] = call->argv[i];
                lens[i] = call->argvlen[i];
            }
            argv[0] = "EVAL";
            lens[0] = 4;
            argv[1] = call->script;
            lens[1] = strlen(call->script);
            call->script = NULL; /* only one retry */
            int rc = redisAsyncCommandArgv(ac, rconn_call_cb, call,
                                           call->argc, argv, lens);
            free(argv);
            free(lens);
            if (rc == REDIS_OK) return;
        } else {
            free(argv);
            free(lens);
        }
    }
    c->pending--;
    if (call->fn) call->fn(ac, r, call->privdata);
    rcall_free(call);
}

static sf_rcall *rcall_new(sf_rconn *c, redisCallbackFn *fn, void *privdata) {
    sf_rcall *call = calloc(1, sizeof(*call));
    if (!call) return NULL;
    call->conn = c;
    call->fn = fn;
    call->privdata = privdata;
    return call;
}

sf_status sf_rconn_command(sf_rconn *c, redisCallbackFn *fn, void *privdata,
                           int argc, const char **argv,
                           const size_t *argvlen) {
    if (!sf_rconn_is_up(c)) return SF_AGAIN;
    sf_rcall *call = rcall_new(c, fn, privdata);
    if (!call) return SF_ERR;
    if (redisAsyncCommandArgv(c->ac, rconn_call_cb, call, argc, argv,
                              argvlen) != REDIS_OK) {
        rcall_free(call);
        return SF_AGAIN;
    }
    c->pending++;
    return SF_OK;
}

sf_status sf_rconn_commandf(sf_rconn *c, redisCallbackFn *fn, void *privdata,
                            const char *fmt, ...) {
    if (!sf_rconn_is_up(c)) return SF_AGAIN;
    sf_rcall *call = rcall_new(c, fn, privdata);
    if (!call) return SF_ERR;
    va_list ap;
    va_start(ap, fmt);
    int rc = redisvAsyncCommand(c->ac, rconn_call_cb, call, fmt, ap);
    va_end(ap);
    if (rc != REDIS_OK) {
        rcall_free(call);
        return SF_AGAIN;
    }
    c->pending++;
    return SF_OK;
}

sf_status sf_rconn_evalsha(sf_rconn *c, const char *script,
                           redisCallbackFn *fn, void *privdata, int nkeys,
                           int argc, const char **argv,
                           const size_t *argvlen) {
    if (!sf_rconn_is_up(c)) return SF_AGAIN;
    sf_rcall *call = rcall_new(c, fn, privdata);
    if (!call) return SF_ERR;
    /* EVALSHA sha numkeys key... arg...  (argc + 3 words) */
    int total = argc + 3;
    char sha_buf[41], nk[16];
    const char *sha = NULL;
    for (size_t i = 0; i < sf_lua_count && !sha; i++)
        if (sf_lua_all[i] == script) sha = c->shas[i];
    if (!sha) {
        sf_lua_sha1(script, sha_buf);
        sha = sha_buf;
    }
    snprintf(nk, sizeof(nk), "%d", nkeys);
    call->script = script;
    call->argc = total;
    call->argv = calloc((size_t)total, sizeof(char *));
    call->argvlen = calloc((size_t)total, sizeof(size_t));
    if (!call->argv || !call->argvlen) {
        rcall_free(call);
        return SF_ERR;
    }
    const char *words[3] = {"EVALSHA", sha, nk};
    for (int i = 0; i < total; i++) {
        const char *src = i < 3 ? words[i] : argv[i - 3];
        size_t len = i < 3 ? strlen(words[i])
                           : (argvlen ? argvlen[i - 3] : strlen(argv[i - 3]));
        call->argv[i] = malloc(len + 1);
        if (!call->argv[i]) {
            rcall_free(call);
            return SF_ERR;
        }
        memcpy(call->argv[i], src, len);
        call->argv[i][len] = '\0';
        call->argvlen[i] = len;
    }
    if (redisAsyncCommandArgv(c->ac, rconn_call_cb, call, total,
                              (const char **)call->argv,
                              call->argvlen) != REDIS_OK) {
        rcall_free(call);
        return SF_AGAIN;
    }
    c->pending++;
    return SF_OK;
}

int sf_reply_pairs_init(sf_reply_pairs *p, const redisReply *r) {
    memset(p, 0, sizeof(*p));
    size_t cap = r->elements / 2 + 1;
    p->fields = calloc(cap, sizeof(char *));
    p->values = calloc(cap, sizeof(char *));
    p->flen = calloc(cap, sizeof(size_t));
    p->vlen = calloc(cap, sizeof(size_t));
    if (!p->fields || !p->values || !p->flen || !p->vlen) {
        sf_reply_pairs_free(p);
        return -1;
    }
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const redisReply *f = r->element[i], *v = r->element[i + 1];
        if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING) continue;
        p->fields[p->n] = f->str, p->flen[p->n] = f->len;
        p->values[p->n] = v->str, p->vlen[p->n] = v->len;
        p->n++;
    }
    return 0;
}

void sf_reply_pairs_free(sf_reply_pairs *p) {
    free(p->fields);
    free(p->values);
    free(p->flen);
    free(p->vlen);
    memset(p, 0, sizeof(*p));
}
