/*
 * benchpub.c - the publisher half of scripts/bench (a bench tool, not a test).
 *
 * It replaces a Node publisher that cost ~200 us of CPU per message and so
 * competed with the worker, Redis and the sink for the same two cores.  Here
 * a message costs a few microseconds: one libevent loop, "conc" keep-alive
 * HTTP/1.1 connections (bufferevents), one request in flight per
 * connection, requests formatted straight into the output buffer, and a
 * response parser that reads only the status line and Content-Length.
 *
 *   stepflow-benchpub --api URL --token T --dest URL --phase P
 *                     [--mode full|steady|warm] [-n N] [--batch 100]
 *                     [--conc C] [--rate R] [--seconds S]
 *
 *   full (default)  N messages through POST /v2/batch, "batch" per request,
 *                   as fast as C connections are answered (default C = 8).
 *   warm            the same with defaults N = 2000, C = 4 (connections,
 *                   scripts and allocators of the processes under test).
 *   steady          R messages/s for S seconds as single
 *                   POST /v2/publish/<dest> requests; a 1 ms timer sends
 *                   whatever the schedule says is due on an idle connection
 *                   (C, default 4, so one slow reply does not hold the
 *                   others back; what finds no idle connection waits for
 *                   the next one to free up).
 *
 * Every message carries Upstash-Forward-X-Sent-Ms (wall clock ms when its
 * request was written) and Upstash-Forward-X-Phase; bodies are ~200-byte
 * JSON.  Prints one JSON line {published, errors, seconds, perSecond,
 * cpuUsPerMessage} (the last is this process's user+system CPU) and
 * exits 1 if any message was not accepted (a non-2xx reply or a broken
 * connection; the first few are described on stderr), 2 on bad usage.
 *
 * Only plain http:// and a response with Content-Length are supported:
 * that is what the coordinator (evhttp) sends.
 */
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#define BODY_BYTES 200
#define MAX_CONNS 256
#define MAX_HEAD_BYTES (64 * 1024)
#define ERRORS_SHOWN 5

enum mode { MODE_FULL, MODE_STEADY };

typedef struct bench bench;

/* One keep-alive connection with at most one request in flight. */
typedef struct conn {
    bench *b;                 /* owner */
    struct bufferevent *bev;  /* NULL while closed; owned */
    bool connected;           /* connect finished */
    int inflight;             /* messages in the request in flight, 0 = idle */
    bool have_head;           /* response status line and headers parsed */
    int status;               /* response status code */
    size_t body_left;         /* response body bytes still to drain */
} conn;

struct bench {
    struct event_base *base;
    struct event *tick;       /* steady pacing timer; owned */
    enum mode mode;
    struct sockaddr_storage addr;
    socklen_t addr_len;
    const char *host_port;    /* Host header value; points into argv */
    const char *token;        /* may be NULL */
    const char *dest;
    const char *phase;
    long total;               /* messages to publish */
    int batch;                /* messages per /v2/batch request */
    int n_conns;
    long rate;                /* steady: messages/s */
    long issued;              /* messages handed to a connection */
    long published;           /* messages acknowledged with 2xx */
    long errors;              /* messages not acknowledged */
    long done;                /* published + errors */
    int failures_shown;       /* failures described on stderr so far */
    int64_t t0_mono_ms;
    conn conns[MAX_CONNS];
    struct evbuffer *scratch; /* batch JSON being built; owned */
};

static int64_t mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Writes the ~200-byte JSON payload of message "seq" into "out"
 * ({"seq":..,"kind":"bench","at":..,"pad":"xxx"}); returns its length. */
static size_t payload(char out[BODY_BYTES + 64], long seq, int64_t now_ms) {
    int n = snprintf(out, BODY_BYTES + 64, "{\"seq\":%ld,\"kind\":\"bench\",\"at\":%" PRId64
                     ",\"pad\":\"", seq, now_ms);
    size_t len = n > 0 ? (size_t)n : 0;
    while (len < BODY_BYTES - 2) out[len++] = 'x';
    out[len++] = '"';
    out[len++] = '}';
    out[len] = '\0';
    return len;
}

static void fail(bench *b, conn *c, const char *what) {
    if (b->failures_shown++ < ERRORS_SHOWN)
        fprintf(stderr, "benchpub: %d message(s) failed: %s\n", c->inflight, what);
    b->errors += c->inflight;
    b->done += c->inflight;
    c->inflight = 0;
}

static void conn_close(conn *c) {
    if (c->bev) bufferevent_free(c->bev);
    c->bev = NULL;
    c->connected = false;
    c->have_head = false;
}

static void pump(bench *b);
static void on_read(struct bufferevent *bev, void *arg);
static void on_event(struct bufferevent *bev, short what, void *arg);

static int conn_open(conn *c) {
    bench *b = c->b;
    c->bev = bufferevent_socket_new(b->base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (!c->bev) return -1;
    bufferevent_setcb(c->bev, on_read, NULL, on_event, c);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    if (bufferevent_socket_connect(c->bev, (struct sockaddr *)&b->addr, (int)b->addr_len) < 0) {
        conn_close(c);
        return -1;
    }
    return 0;
}

/* Writes the request headers common to both endpoints. */
static void request_head(bench *b, struct evbuffer *out, const char *endpoint,
                         const char *dest, size_t body_len) {
    evbuffer_add_printf(out, "POST /v2/%s%s HTTP/1.1\r\nHost: %s\r\n", endpoint, dest,
                        b->host_port);
    if (b->token) evbuffer_add_printf(out, "Authorization: Bearer %s\r\n", b->token);
    evbuffer_add_printf(out, "Content-Type: application/json\r\nContent-Length: %zu\r\n",
                        body_len);
}

/* Sends one POST /v2/batch of "count" messages on idle connection "c". */
static void send_batch(bench *b, conn *c, int count) {
    struct evbuffer *js = b->scratch;
    char body[BODY_BYTES + 64];
    int64_t now = wall_ms();
    evbuffer_drain(js, evbuffer_get_length(js));
    evbuffer_add(js, "[", 1);
    for (int i = 0; i < count; i++) {
        size_t blen = payload(body, b->issued + i, now);
        evbuffer_add_printf(js, "%s{\"destination\":\"%s\",\"headers\":{\"content-type\":"
                            "\"application/json\",\"upstash-forward-x-sent-ms\":\"%" PRId64
                            "\",\"upstash-forward-x-phase\":\"%s\"},\"body\":\"",
                            i ? "," : "", b->dest, now, b->phase);
        /* The payload has quotes and no other character JSON escapes. */
        size_t from = 0;
        for (size_t k = 0; k < blen; k++) {
            if (body[k] != '"') continue;
            evbuffer_add(js, body + from, k - from);
            evbuffer_add(js, "\\\"", 2);
            from = k + 1;
        }
        evbuffer_add(js, body + from, blen - from);
        evbuffer_add(js, "\"}", 2);
    }
    evbuffer_add(js, "]", 1);
    struct evbuffer *out = bufferevent_get_output(c->bev);
    request_head(b, out, "batch", "", evbuffer_get_length(js));
    evbuffer_add(out, "\r\n", 2);
    evbuffer_add_buffer(out, js);
    c->inflight = count;
    b->issued += count;
}

/* Sends one POST /v2/publish/<dest> on idle connection "c". */
static void send_single(bench *b, conn *c) {
    char body[BODY_BYTES + 64];
    int64_t now = wall_ms();
    size_t blen = payload(body, b->issued, now);
    struct evbuffer *out = bufferevent_get_output(c->bev);
    request_head(b, out, "publish/", b->dest, blen);
    evbuffer_add_printf(out, "Upstash-Forward-X-Sent-Ms: %" PRId64 "\r\n"
                        "Upstash-Forward-X-Phase: %s\r\n\r\n", now, b->phase);
    evbuffer_add(out, body, blen);
    c->inflight = 1;
    b->issued += 1;
}

/* Messages that may be handed out now: all that are left at full load, or
 * what the steady schedule says is due. */
static long due(bench *b) {
    if (b->mode == MODE_FULL) return b->total;
    int64_t elapsed = mono_ms() - b->t0_mono_ms;
    long d = (long)(elapsed * b->rate / 1000);
    return d < b->total ? d : b->total;
}

/* Hands due messages to idle connections, (re)opens closed ones while
 * work remains, and ends the loop once every message is answered. */
static void pump(bench *b) {
    long limit = due(b);
    for (int i = 0; i < b->n_conns && b->issued < limit; i++) {
        conn *c = &b->conns[i];
        if (c->inflight) continue;
        if (!c->bev && conn_open(c) < 0) continue;
        if (!c->connected) continue;
        if (b->mode == MODE_FULL) {
            long left = limit - b->issued;
            send_batch(b, c, left < b->batch ? (int)left : b->batch);
        } else {
            send_single(b, c);
        }
    }
    if (b->done >= b->total) event_base_loopexit(b->base, NULL);
}

/* Parses the status line and headers at the front of "in" once they are
 * all there; returns 1 when parsed, 0 to wait for more, -1 if malformed. */
static int parse_head(conn *c, struct evbuffer *in) {
    struct evbuffer_ptr end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
    if (end.pos < 0) return evbuffer_get_length(in) > MAX_HEAD_BYTES ? -1 : 0;
    size_t head_len = (size_t)end.pos + 4;
    char *head = (char *)evbuffer_pullup(in, (ev_ssize_t)head_len);
    if (!head) return -1;
    int status = 0;
    if (head_len < 12 || strncmp(head, "HTTP/1.", 7) != 0 ||
        sscanf(head + 8, " %3d", &status) != 1)
        return -1;
    long long clen = -1;
    const char *p = head;
    const char *stop = head + head_len;
    while ((p = memchr(p, '\n', (size_t)(stop - p))) && ++p < stop) {
        if ((size_t)(stop - p) > 15 && strncasecmp(p, "content-length:", 15) == 0)
            clen = strtoll(p + 15, NULL, 10);
        else if ((size_t)(stop - p) > 18 && strncasecmp(p, "transfer-encoding:", 18) == 0)
            return -1;
    }
    if (clen < 0) return -1;
    evbuffer_drain(in, head_len);
    c->status = status;
    c->body_left = (size_t)clen;
    c->have_head = true;
    return 1;
}

static void on_read(struct bufferevent *bev, void *arg) {
    conn *c = arg;
    bench *b = c->b;
    struct evbuffer *in = bufferevent_get_input(bev);
    for (;;) {
        if (!c->have_head) {
            int r = parse_head(c, in);
            if (r == 0) return;
            if (r < 0 || !c->inflight) {
                if (c->inflight) fail(b, c, "malformed HTTP response");
                conn_close(c);
                pump(b);
                return;
            }
        }
        bool ok = c->status >= 200 && c->status < 300;
        size_t have = evbuffer_get_length(in);
        if (have < c->body_left) {
            /* Drain a 2xx body as it comes; keep an error body until it is
             * complete, to show it. */
            if (ok) {
                evbuffer_drain(in, have);
                c->body_left -= have;
            }
            return;
        }
        if (ok) {
            b->published += c->inflight;
            b->done += c->inflight;
            c->inflight = 0;
        } else {
            char msg[256];
            size_t shown = c->body_left < 200 ? c->body_left : 200;
            const char *text = shown ? (const char *)evbuffer_pullup(in, (ev_ssize_t)shown) : "";
            snprintf(msg, sizeof(msg), "HTTP %d %.*s", c->status, (int)shown, text ? text : "");
            fail(b, c, msg);
        }
        evbuffer_drain(in, c->body_left);
        c->body_left = 0;
        c->have_head = false;
        pump(b);
        if (!c->bev) return;
        if (!evbuffer_get_length(in)) return;
    }
}

static void on_event(struct bufferevent *bev, short what, void *arg) {
    (void)bev;
    conn *c = arg;
    bench *b = c->b;
    if (what & BEV_EVENT_CONNECTED) {
        int one = 1;
        setsockopt(bufferevent_getfd(c->bev), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        c->connected = true;
        pump(b);
        return;
    }
    if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))) return;
    /* An idle keep-alive connection the server closed is simply reopened
     * when next needed; one that loses a request loses its messages. */
    if (c->inflight) {
        char msg[128];
        snprintf(msg, sizeof(msg), "connection %s (%s)",
                 what & BEV_EVENT_EOF ? "closed" : "failed",
                 evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
        fail(b, c, msg);
    }
    bool was_connected = c->connected;
    conn_close(c);
    if (!was_connected) {
        /* Could not connect at all: give up on everything left. */
        long left = b->total - b->issued;
        if (left > 0 && b->failures_shown++ < ERRORS_SHOWN)
            fprintf(stderr, "benchpub: %ld message(s) failed: cannot connect: %s\n", left,
                    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
        b->errors += left;
        b->done += left;
        b->issued = b->total;
    }
    pump(b);
}

static void on_tick(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    pump(arg);
}

static void usage(void) {
    fprintf(stderr,
            "usage: stepflow-benchpub --api http://HOST:PORT --dest URL --phase P\n"
            "         [--token T] [--mode full|steady|warm] [-n N] [--batch B]\n"
            "         [--conc C] [--rate R] [--seconds S]\n");
}

/* Parses "http://host:port[/]" into "b"'s address and Host header. */
static int parse_api(bench *b, char *api) {
    if (strncmp(api, "http://", 7) != 0) return -1;
    char *hp = api + 7;
    char *slash = strchr(hp, '/');
    if (slash) *slash = '\0';
    b->host_port = hp;
    char *colon = strrchr(hp, ':');
    if (!colon) return -1;
    char host[256];
    size_t hl = (size_t)(colon - hp);
    if (hl == 0 || hl >= sizeof(host)) return -1;
    memcpy(host, hp, hl);
    host[hl] = '\0';
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    if (getaddrinfo(host, colon + 1, &hints, &res) != 0 || !res) return -1;
    memcpy(&b->addr, res->ai_addr, res->ai_addrlen);
    b->addr_len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

static bool whole(const char *s, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 1) return false;
    *out = v;
    return true;
}

int main(int argc, char **argv) {
    static bench b;
    char *api = NULL;
    const char *mode = "full";
    long n = -1, batch = 100, conc = -1, rate = 0, seconds = 10;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        char *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool ok = true;
        if (!v) ok = false; /* every option takes a value */
        else if (!strcmp(a, "--api")) api = v;
        else if (!strcmp(a, "--token")) b.token = v;
        else if (!strcmp(a, "--dest")) b.dest = v;
        else if (!strcmp(a, "--phase")) b.phase = v;
        else if (!strcmp(a, "--mode")) mode = v;
        else if (!strcmp(a, "-n")) ok = whole(v, &n);
        else if (!strcmp(a, "--batch")) ok = whole(v, &batch) && batch <= 1000;
        else if (!strcmp(a, "--conc")) ok = whole(v, &conc) && conc <= MAX_CONNS;
        else if (!strcmp(a, "--rate")) ok = whole(v, &rate);
        else if (!strcmp(a, "--seconds")) ok = whole(v, &seconds);
        else ok = false;
        if (!ok) {
            fprintf(stderr, "benchpub: bad argument '%s'\n", a);
            usage();
            return 2;
        }
        i++;
    }
    if (!strcmp(mode, "full")) {
        b.mode = MODE_FULL;
        if (n < 0) n = 100000;
        if (conc < 0) conc = 8;
    } else if (!strcmp(mode, "warm")) {
        b.mode = MODE_FULL;
        if (n < 0) n = 2000;
        if (conc < 0) conc = 4;
    } else if (!strcmp(mode, "steady") && rate > 0) {
        b.mode = MODE_STEADY;
        n = rate * seconds;
        if (conc < 0) conc = 4;
    } else {
        usage();
        return 2;
    }
    if (!api || !b.dest || !b.phase || parse_api(&b, api) < 0) {
        usage();
        return 2;
    }
    b.total = n;
    b.batch = (int)batch;
    b.n_conns = (int)conc;
    b.rate = rate;
    b.base = event_base_new();
    b.scratch = evbuffer_new();
    if (!b.base || !b.scratch) {
        fprintf(stderr, "benchpub: out of memory\n");
        return 1;
    }
    for (int i = 0; i < b.n_conns; i++) b.conns[i].b = &b;
    if (b.mode == MODE_STEADY) {
        b.tick = event_new(b.base, -1, EV_PERSIST, on_tick, &b);
        struct timeval ms1 = {0, 1000};
        if (!b.tick || event_add(b.tick, &ms1) < 0) {
            fprintf(stderr, "benchpub: cannot start the pacing timer\n");
            return 1;
        }
    }
    int64_t t0 = mono_ms();
    b.t0_mono_ms = t0;
    for (int i = 0; i < b.n_conns; i++)
        if (conn_open(&b.conns[i]) < 0) {
            fprintf(stderr, "benchpub: cannot open a connection\n");
            return 1;
        }
    event_base_dispatch(b.base);
    double secs = (double)(mono_ms() - t0) / 1000.0;
    for (int i = 0; i < b.n_conns; i++) conn_close(&b.conns[i]);
    if (b.tick) event_free(b.tick);
    evbuffer_free(b.scratch);
    event_base_free(b.base);
    struct rusage ru;
    double cpu_us = 0;
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        cpu_us = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
                 (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
    printf("{\"published\":%ld,\"errors\":%ld,\"seconds\":%.3f,\"perSecond\":%.0f,"
           "\"cpuUsPerMessage\":%.1f}\n", b.published, b.errors, secs,
           secs > 0 ? (double)b.published / secs : 0.0, cpu_us / (double)b.total);
    return b.errors || b.published != b.total ? 1 : 0;
}
