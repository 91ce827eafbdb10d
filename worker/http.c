/* http.c - libcurl multi-socket on libevent (see http.h for the contract).
 *
 * The shape follows curl's hiperfifo example: curl tells us which sockets to
 * watch (sock_cb) and when to wake it (timer_cb); libevent calls back into
 * curl_multi_socket_action(); finished transfers are collected with
 * curl_multi_info_read() after each action and reported from there. */
#include "http.h"

#include <curl/curl.h>
#include <event2/event_struct.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"

#define SF_HTTP_MAX_HEADERS 100 /* response headers kept */
#define SF_HTTP_MAX_HEADER_BYTES 16384 /* ... and their total size */
#define SF_HTTP_CONNECT_TIMEOUT_MS 10000

struct sf_http_transfer {
    sf_http *h;
    CURL *easy; /* owned; reused across transfers */
    /* The request headers of this transfer as a curl_slist that we own
     * (curl only reads CURLOPT_HTTPHEADER): "nodes" point into "text",
     * which holds the NUL-terminated lines.  Both keep their capacity
     * across transfers, so building the list allocates nothing once warm. */
    char *text;
    size_t text_cap;
    struct curl_slist *nodes;
    size_t nodes_cap;
    sf_http_response res;
    size_t header_bytes; /* bytes kept in res.headers */
    int headers_done;    /* the blank line ending the final headers came */
    sf_http_done_fn *fn;
    void *arg;
    int64_t start_us;
    sf_http_transfer *next; /* free list / active list link */
    sf_http_transfer *prev; /* active list only */
};

/* One socket curl asked us to watch; owned by curl's socket hash through
 * curl_multi_assign and freed on CURL_POLL_REMOVE. */
typedef struct sock_watch {
    sf_http *h;
    short kind; /* EV_READ/EV_WRITE currently watched */
    struct event ev;
} sock_watch;

struct sf_http {
    struct event_base *base; /* borrowed */
    CURLM *multi;
    struct event *timer;
    size_t body_limit;
    int no_proxy_env; /* no proxy variable in the environment */
    sf_http_transfer *free_list;
    sf_http_transfer *running; /* active list, for cancel-all on free */
};

static void active_unlink(sf_http *h, sf_http_transfer *t) {
    if (t->prev)
        t->prev->next = t->next;
    else
        h->running = t->next;
    if (t->next) t->next->prev = t->prev;
    t->next = t->prev = NULL;
}

static void check_done(sf_http *h);

static void event_cb(evutil_socket_t fd, short what, void *arg) {
    sock_watch *sw = arg;
    sf_http *h = sw->h; /* sw may be freed inside socket_action */
    int action = ((what & EV_READ) ? CURL_CSELECT_IN : 0) |
                 ((what & EV_WRITE) ? CURL_CSELECT_OUT : 0);
    int running = 0;
    curl_multi_socket_action(h->multi, fd, action, &running);
    check_done(h);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    sf_http *h = arg;
    int running = 0;
    curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(h);
}

static int multi_timer_cb(CURLM *multi, long timeout_ms, void *arg) {
    (void)multi;
    sf_http *h = arg;
    if (timeout_ms < 0) {
        evtimer_del(h->timer);
    } else {
        struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
        evtimer_add(h->timer, &tv);
    }
    return 0;
}

static int sock_cb(CURL *easy, curl_socket_t s, int what, void *userp,
                   void *socketp) {
    (void)easy;
    sf_http *h = userp;
    sock_watch *sw = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (sw) {
            event_del(&sw->ev);
            free(sw);
        }
        return 0;
    }
    short kind = EV_PERSIST | ((what & CURL_POLL_IN) ? EV_READ : 0) |
                 ((what & CURL_POLL_OUT) ? EV_WRITE : 0);
    if (!sw) {
        sw = calloc(1, sizeof(*sw));
        if (!sw) return -1;
        sw->h = h;
        curl_multi_assign(h->multi, s, sw);
    } else if (sw->kind == kind) {
        return 0; /* unchanged: spare the epoll_ctl calls */
    } else {
        event_del(&sw->ev);
    }
    sw->kind = kind;
    event_assign(&sw->ev, h->base, s, kind, event_cb, sw);
    event_add(&sw->ev, NULL);
    return 0;
}

static size_t header_cb(char *buf, size_t size, size_t n, void *arg) {
    sf_http_transfer *t = arg;
    size_t len = size * n;
    if (len >= 5 && memcmp(buf, "HTTP/", 5) == 0) {
        /* A new status line (after a 1xx): forget earlier headers. */
        sf_headers_cleanup(&t->res.headers);
        memset(&t->res.headers, 0, sizeof(t->res.headers));
        t->header_bytes = 0;
        t->headers_done = 0;
        return len;
    }
    if ((len == 2 && buf[0] == '\r' && buf[1] == '\n') ||
        (len == 1 && buf[0] == '\n')) {
        t->headers_done = 1;
        return len;
    }
    const char *colon = memchr(buf, ':', len);
    if (!colon || colon == buf) return len;
    if (t->res.headers.len >= SF_HTTP_MAX_HEADERS ||
        t->header_bytes + len > SF_HTTP_MAX_HEADER_BYTES)
        return len;
    /* A NUL-terminated copy to cut into name and value (len is bounded by
     * the check above). */
    char line[SF_HTTP_MAX_HEADER_BYTES + 1];
    memcpy(line, buf, len);
    size_t name_len = (size_t)(colon - buf);
    char *v = line + name_len + 1, *end = line + len;
    line[name_len] = '\0';
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' ||
                       end[-1] == '\t'))
        end--;
    *end = '\0';
    sf_headers_add(&t->res.headers, line, v);
    t->header_bytes += len;
    return len;
}

static size_t write_cb(char *buf, size_t size, size_t n, void *arg) {
    sf_http_transfer *t = arg;
    size_t len = size * n;
    size_t room = t->h->body_limit > t->res.body.len
                      ? t->h->body_limit - t->res.body.len
                      : 0;
    if (len > room) t->res.body_truncated = 1;
    if (room) sf_buf_append(&t->res.body, buf, len < room ? len : room);
    return len; /* read and drop the rest */
}

/* Clears per-transfer state so the transfer can go back to the free list. */
static void transfer_reset(sf_http_transfer *t) {
    sf_headers_cleanup(&t->res.headers);
    sf_buf_cleanup(&t->res.body);
    memset(&t->res, 0, sizeof(t->res));
    sf_buf_init(&t->res.body);
    t->header_bytes = 0;
    t->headers_done = 0;
    t->fn = NULL;
    t->arg = NULL;
}

static void transfer_recycle(sf_http *h, sf_http_transfer *t) {
    transfer_reset(t);
    t->next = h->free_list;
    h->free_list = t;
}

static void check_done(sf_http *h) {
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(h->multi, &left))) {
        if (msg->msg != CURLMSG_DONE) continue;
        CURL *easy = msg->easy_handle;
        CURLcode rc = msg->data.result;
        sf_http_transfer *t = NULL;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&t);
        curl_multi_remove_handle(h->multi, easy);
        if (!t) continue;
        active_unlink(h, t);
        t->res.latency_us = sf_mono_us() - t->start_us;
        t->res.latency_ms = t->res.latency_us / 1000;
        if (rc == CURLE_OK && !t->headers_done) {
            /* curl accepts a response whose peer closed in the middle of
             * its headers ("HTTP/1.1 200 OK\r\nContent-Le" then EOF) as
             * a complete 200; it is not a delivery. */
            t->res.status = 0;
            snprintf(t->res.error, sizeof(t->res.error),
                     "connection closed inside the response headers");
        } else if (rc == CURLE_OK) {
            long code = 0;
            curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
            t->res.status = (int)code;
        } else {
            t->res.status = 0;
            snprintf(t->res.error, sizeof(t->res.error), "%s",
                     rc == CURLE_OPERATION_TIMEDOUT ? "timeout"
                                                    : curl_easy_strerror(rc));
        }
        if (t->fn) t->fn(t->arg, &t->res);
        transfer_recycle(h, t);
    }
}

/* Creates the multi handle and its timer on "base" (see http.h). */
sf_http *sf_http_new(struct event_base *base, size_t body_limit, long max_conns,
                     sf_err *err) {
    static int curl_ready;
    if (!curl_ready) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            sf_err_set(err, "curl_global_init failed");
            return NULL;
        }
        curl_ready = 1;
    }
    sf_http *h = calloc(1, sizeof(*h));
    if (!h) {
        sf_err_set(err, "out of memory");
        return NULL;
    }
    h->base = base;
    h->body_limit = body_limit;
    h->multi = curl_multi_init();
    h->timer = evtimer_new(base, timer_cb, h);
    if (!h->multi || !h->timer) {
        sf_err_set(err, "cannot create the curl multi handle");
        sf_http_free(h);
        return NULL;
    }
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, multi_timer_cb);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
    /* A fixed cache size: by default curl keeps 4 x the transfers running
     * at the moment, so after a lull it closes the connections the next
     * burst needs again. */
    curl_multi_setopt(h->multi, CURLMOPT_MAXCONNECTS, (long)max_conns);
    /* curl looks the proxy variables up in the environment for every
     * transfer; when none is set (the environment does not change while
     * we run) saying "no proxy" once per handle gives the same result. */
    static const char *const proxy_vars[] = {
        "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY",
        "all_proxy",  "NO_PROXY",    "no_proxy"};
    h->no_proxy_env = 1;
    for (size_t i = 0; i < sizeof(proxy_vars) / sizeof(proxy_vars[0]); i++)
        if (getenv(proxy_vars[i])) h->no_proxy_env = 0;
    return h;
}

static void transfer_destroy(sf_http_transfer *t) {
    transfer_reset(t);
    sf_buf_cleanup(&t->res.body);
    if (t->easy) curl_easy_cleanup(t->easy);
    free(t->text);
    free(t->nodes);
    free(t);
}

/* Cancels running transfers without callbacks, frees the free list and
 * the multi handle.  NULL is a no-op. */
void sf_http_free(sf_http *h) {
    if (!h) return;
    if (h->multi) {
        while (h->running) {
            sf_http_transfer *t = h->running;
            curl_multi_remove_handle(h->multi, t->easy);
            active_unlink(h, t);
            transfer_destroy(t);
        }
    }
    while (h->free_list) {
        sf_http_transfer *t = h->free_list;
        h->free_list = t->next;
        transfer_destroy(t);
    }
    if (h->multi) curl_multi_cleanup(h->multi);
    if (h->timer) event_free(h->timer);
    free(h);
}

/* 1 if "name: value" can be sent: a header line must not be smuggled in. */
static int header_ok(const sf_header *hd) {
    return hd->name && *hd->name && !strpbrk(hd->name, "\r\n:") &&
           hd->value && !strpbrk(hd->value, "\r\n");
}

/* Bytes of the line of "hd" with its NUL: "Name: value", or "Name;" (curl's
 * way to send a header with an empty value). */
static size_t header_line_size(const sf_header *hd) {
    size_t n = strlen(hd->name), v = strlen(hd->value);
    return v ? n + 2 + v + 1 : n + 2;
}

static char *put_header_line(char *p, const sf_header *hd) {
    size_t n = strlen(hd->name), v = strlen(hd->value);
    memcpy(p, hd->name, n);
    p += n;
    if (v) {
        memcpy(p, ": ", 2);
        memcpy(p + 2, hd->value, v);
        p += 2 + v;
    } else {
        *p++ = ';';
    }
    *p++ = '\0';
    return p;
}

/* Grows "*p" (of "*cap" elements of "size" bytes) to hold "want". */
static int reserve(void **p, size_t *cap, size_t want, size_t size) {
    if (want <= *cap) return 0;
    size_t n = *cap ? *cap : 16;
    while (n < want)
        n *= 2;
    void *q = realloc(*p, n * size);
    if (!q) return -1;
    *p = q;
    *cap = n;
    return 0;
}

/* Builds the request header list of "t" from "hs" (twice: the forwarded
 * headers, then the extra ones), then "Expect:" (no 100-continue round
 * trip) and, without a Content-Type, "Content-Type:" (none invented).
 * Returns the list (owned by "t"), or NULL when out of memory. */
static struct curl_slist *build_headers(sf_http_transfer *t,
                                        const sf_headers *hs[2]) {
    static const char expect[] = "Expect:", no_ctype[] = "Content-Type:";
    size_t bytes = sizeof(expect) + sizeof(no_ctype), count = 2;
    int has_ctype = 0;
    for (int k = 0; k < 2; k++) {
        for (size_t i = 0; hs[k] && i < hs[k]->len; i++) {
            const sf_header *hd = &hs[k]->items[i];
            if (strcasecmp(hd->name, "Content-Type") == 0) has_ctype = 1;
            if (!header_ok(hd)) continue;
            bytes += header_line_size(hd);
            count++;
        }
    }
    if (reserve((void **)&t->text, &t->text_cap, bytes, 1) < 0 ||
        reserve((void **)&t->nodes, &t->nodes_cap, count, sizeof(*t->nodes)) <
            0)
        return NULL;
    char *p = t->text;
    size_t n = 0;
    for (int k = 0; k < 2; k++) {
        for (size_t i = 0; hs[k] && i < hs[k]->len; i++) {
            const sf_header *hd = &hs[k]->items[i];
            if (!header_ok(hd)) continue;
            t->nodes[n++].data = p;
            p = put_header_line(p, hd);
        }
    }
    memcpy(p, expect, sizeof(expect));
    t->nodes[n++].data = p;
    p += sizeof(expect);
    if (!has_ctype) {
        memcpy(p, no_ctype, sizeof(no_ctype));
        t->nodes[n++].data = p;
    }
    for (size_t i = 0; i < n; i++)
        t->nodes[i].next = i + 1 < n ? &t->nodes[i + 1] : NULL;
    return t->nodes;
}

/* Takes a handle from the free list (or makes one), sets every option of
 * this request and adds it to the multi handle; see http.h. */
sf_http_transfer *sf_http_start(sf_http *h, const sf_http_request *req,
                                sf_http_done_fn *fn, void *arg, sf_err *err) {
    sf_http_transfer *t = h->free_list;
    if (t) {
        /* Reused as is (no curl_easy_reset: that frees and rebuilds much of
         * the handle); every option that varies is set again below. */
        h->free_list = t->next;
    } else {
        t = calloc(1, sizeof(*t));
        if (!t || !(t->easy = curl_easy_init())) {
            free(t);
            sf_err_set(err, "out of memory");
            return NULL;
        }
        t->h = h;
        sf_buf_init(&t->res.body);
        /* The options that never change for this handle (they survive
         * between transfers: the handle is never reset). */
        CURL *e = t->easy;
        /* curl allocates and frees an upload buffer per transfer (64 KiB by
         * default); the smallest one keeps that cheap for malloc. */
        curl_easy_setopt(e, CURLOPT_UPLOAD_BUFFERSIZE, 16384L);
        curl_easy_setopt(e, CURLOPT_PRIVATE, t);
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
        curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
        curl_easy_setopt(e, CURLOPT_HEADERDATA, t);
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
        curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
        if (h->no_proxy_env) curl_easy_setopt(e, CURLOPT_PROXY, "");
    }
    t->next = NULL;
    t->fn = fn;
    t->arg = arg;

    const sf_headers *hs[2] = {req->headers, req->extra};
    struct curl_slist *hdrs = build_headers(t, hs);
    if (!hdrs) {
        sf_err_set(err, "out of memory");
        transfer_recycle(h, t);
        return NULL;
    }

    CURL *e = t->easy;
    curl_easy_setopt(e, CURLOPT_URL, req->url);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)req->timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                     (long)(req->timeout_ms < SF_HTTP_CONNECT_TIMEOUT_MS
                                ? req->timeout_ms
                                : SF_HTTP_CONNECT_TIMEOUT_MS));
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(e, CURLOPT_NOBODY, 0L);
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, NULL);
    const char *method = req->method && *req->method ? req->method : "POST";
    if (strcasecmp(method, "GET") == 0 && req->body_len == 0) {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    } else if (strcasecmp(method, "HEAD") == 0) {
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    } else {
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t)req->body_len);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS,
                         req->body ? (const char *)req->body : "");
        if (strcmp(method, "POST") != 0)
            curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    }

    t->start_us = sf_mono_us();
    CURLMcode mc = curl_multi_add_handle(h->multi, e);
    if (mc != CURLM_OK) {
        sf_err_set(err, "curl_multi_add_handle: %s", curl_multi_strerror(mc));
        transfer_recycle(h, t);
        return NULL;
    }
    t->prev = NULL;
    t->next = h->running;
    if (h->running) h->running->prev = t;
    h->running = t;
    return t;
}

/* Removes "t" from the multi handle and recycles it; no callback. */
void sf_http_cancel(sf_http *h, sf_http_transfer *t) {
    if (!t) return;
    curl_multi_remove_handle(h->multi, t->easy);
    active_unlink(h, t);
    transfer_recycle(h, t);
}
