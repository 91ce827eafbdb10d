/* config.c - settings from defaults, the environment, then flags.
 *
 * One table (settings[]) lists every setting once: its flag, its variable,
 * which process uses it, its default and a line of help.  Loading collects
 * the raw text of each setting (default, then STEPFLOW_X if set and not
 * empty, then --x), and only then validates and converts each one, so a bad
 * value in the environment that a flag overrides is never an error.
 *
 * Every flag is accepted by both processes (one command line can start
 * either); sf_config_usage() shows only the ones a process uses.  Secrets
 * (token, signing keys, Redis password) are never echoed in error messages. */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

#define K_WORKER (1u << SF_PROC_WORKER)
#define K_COORD (1u << SF_PROC_COORDINATOR)
#define K_BOTH (K_WORKER | K_COORD)

typedef enum setting_id {
    S_REDIS_URL, S_PREFIX, S_LISTEN, S_TOKEN, S_DEV, S_CONCURRENCY,
    S_CURRENT_KEY, S_NEXT_KEY, S_MAX_BODY, S_DEFAULT_TIMEOUT, S_MAX_TIMEOUT,
    S_CLAIM_IDLE, S_DRAIN, S_DLQ_BODY, S_DEDUP_TTL, S_CONSUMER, S_LOG_LEVEL,
    S_WF_RETENTION, S_WF_INLINE, S_METRICS_LISTEN, S_LOG_FORMAT,
    S_REDIS_PASSWORD,
    S_COUNT
} setting_id;

typedef struct setting {
    const char *flag;   /* without the leading "--" */
    const char *env;
    unsigned kinds;     /* K_* bits: who uses it (for the usage table) */
    const char *arg;    /* placeholder in the usage table; NULL = boolean */
    const char *def;    /* default text; NULL = computed (consumer) */
    int64_t min, max;   /* range of numeric settings (min > max: not a number) */
    int secret;         /* never echo the value */
    const char *help;
} setting;

_Static_assert(S_COUNT <= SF_CONFIG_MAX_SETTINGS, "sf_config.raw is too small");

static const setting settings[S_COUNT] = {
    [S_REDIS_URL] = {"redis-url", "STEPFLOW_REDIS_URL", K_BOTH, "URL",
                     "redis://127.0.0.1:6379", 1, 0, 0,
                     "Redis: redis://[user:password@]host[:port][/db]"},
    [S_PREFIX] = {"prefix", "STEPFLOW_PREFIX", K_BOTH, "NAME", "stepflow", 1,
                  0, 0, "prefix of every Redis key ([A-Za-z0-9_.-])"},
    [S_LISTEN] = {"listen", "STEPFLOW_LISTEN", K_COORD, "HOST:PORT",
                  "127.0.0.1:8080", 1, 0, 0,
                  "address of the HTTP API (port 0 = any free port)"},
    [S_TOKEN] = {"token", "STEPFLOW_TOKEN", K_COORD, "TOKEN", "", 1, 0, 1,
                 "bearer token the API requires (required unless --dev)"},
    [S_DEV] = {"dev", "STEPFLOW_DEV", K_COORD, NULL, "off", 1, 0, 0,
               "development mode: no authentication"},
    [S_CONCURRENCY] = {"concurrency", "STEPFLOW_CONCURRENCY", K_WORKER, "N",
                       "500", 1, 100000, 0, "deliveries in flight per worker"},
    [S_CURRENT_KEY] = {"current-signing-key", "STEPFLOW_CURRENT_SIGNING_KEY",
                       K_BOTH, "KEY", "", 1, 0, 1,
                       "sign deliveries (Upstash-Signature) with this key "
                       "(seeds P:signing-keys)"},
    [S_NEXT_KEY] = {"next-signing-key", "STEPFLOW_NEXT_SIGNING_KEY", K_BOTH,
                    "KEY", "", 1, 0, 1, "the key that will replace it"},
    [S_MAX_BODY] = {"max-body-bytes", "STEPFLOW_MAX_BODY_BYTES", K_COORD, "N",
                    "1048576", 1, 1073741824, 0,
                    "largest accepted message body (413 above)"},
    [S_DEFAULT_TIMEOUT] = {"default-timeout-ms", "STEPFLOW_DEFAULT_TIMEOUT_MS",
                           K_BOTH, "MS", "30000", 1, 86400000, 0,
                           "per-attempt timeout without Upstash-Timeout"},
    [S_MAX_TIMEOUT] = {"max-timeout-ms", "STEPFLOW_MAX_TIMEOUT_MS", K_BOTH,
                       "MS", "900000", 1, 86400000, 0,
                       "largest Upstash-Timeout accepted"},
    [S_CLAIM_IDLE] = {"claim-idle-ms", "STEPFLOW_CLAIM_IDLE_MS", K_BOTH, "MS",
                      "60000", 100, 86400000, 0,
                      "reclaim stream entries pending this long"},
    [S_DRAIN] = {"drain-ms", "STEPFLOW_DRAIN_MS", K_BOTH, "MS", "25000", 0,
                 3600000, 0, "SIGTERM grace period for in-flight work"},
    [S_DLQ_BODY] = {"dlq-body-limit", "STEPFLOW_DLQ_BODY_LIMIT", K_WORKER, "N",
                    "65536", 0, 16777216, 0,
                    "bytes of the last response kept on a DLQ entry"},
    [S_DEDUP_TTL] = {"dedup-ttl-s", "STEPFLOW_DEDUP_TTL_S", K_COORD, "S",
                     "600", 1, 31536000, 0,
                     "how long a deduplication id is remembered"},
    [S_CONSUMER] = {"consumer", "STEPFLOW_CONSUMER", K_BOTH, "NAME", NULL, 1,
                    0, 0, "consumer name in the Redis groups"},
    [S_LOG_LEVEL] = {"log-level", "STEPFLOW_LOG_LEVEL", K_BOTH, "LEVEL",
                     "info", 1, 0, 0, "debug, info, warn or error"},
    [S_WF_RETENTION] = {"workflow-retention-s", "STEPFLOW_WORKFLOW_RETENTION_S",
                        K_COORD, "S", "604800", 60, 315360000, 0,
                        "how long a finished workflow run is kept"},
    [S_WF_INLINE] = {"workflow-inline-bytes", "STEPFLOW_WORKFLOW_INLINE_BYTES",
                     K_COORD, "N", "65536", 0, 1073741824, 0,
                     "step history up to this size is sent inline; larger is "
                     "fetched by the SDK (lazy fetch)"},
    [S_METRICS_LISTEN] = {"metrics-listen", "STEPFLOW_METRICS_LISTEN",
                          K_WORKER, "HOST:PORT", "", 1, 0, 0,
                          "worker's /metrics, /healthz, /readyz listener "
                          "(empty = off; port 0 = any free port)"},
    [S_LOG_FORMAT] = {"log-format", "STEPFLOW_LOG_FORMAT", K_BOTH, "FORMAT",
                      "json", 1, 0, 0,
                      "json (one object per line) or text (key=value)"},
    [S_REDIS_PASSWORD] = {"redis-password", "STEPFLOW_REDIS_PASSWORD", K_BOTH,
                          "PASSWORD", "", 1, 0, 1,
                          "Redis password; replaces the URL's (for a "
                          "Secret: no URL escaping)"},
};

/* The raw text of one setting and where it came from. */
typedef struct raw_value {
    const char *text;
    char source[64]; /* "--flag", "STEPFLOW_X" or "default" */
} raw_value;

/* ---- small parsers ----------------------------------------------------- */

/* 1 if every byte of "s" is printable ASCII other than space. */
static int is_token_text(const char *s) {
    for (; *s; s++)
        if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f) return 0;
    return 1;
}

static int copy_checked(char *dst, size_t size, const char *src) {
    size_t n = strlen(src);
    if (n >= size) return -1;
    memcpy(dst, src, n + 1);
    return 0;
}

/* Parses a port "[s, s+len)" in [min, 65535]. */
static int parse_port(const char *s, size_t len, int min, int *out) {
    int64_t v;
    if (len == 0 || len > 5) return -1;
    for (size_t i = 0; i < len; i++)
        if (s[i] < '0' || s[i] > '9') return -1;
    if (sf_parse_i64(s, len, &v) != 0 || v < min || v > 65535) return -1;
    *out = (int)v;
    return 0;
}

/* Host characters: a name or IPv4 address, or inside brackets an IPv6
 * address (with an optional %zone). */
static int valid_host(const char *s, size_t len, int bracketed) {
    if (len == 0) return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                 (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_' ||
                 (bracketed && (c == ':' || c == '%'));
        if (!ok) return 0;
    }
    return 1;
}

/* Splits "host:port" or "[v6]:port" at [s, s+len).  Writes the host without
 * brackets.  Returns NULL or a description of what is wrong. */
static const char *split_host_port(const char *s, size_t len, char *host,
                                   size_t host_size, int *port, int port_min,
                                   int port_required) {
    const char *hs = s, *he, *ps = NULL;
    int bracketed = 0;
    if (len > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', len);
        if (!close) return "missing ']' after an IPv6 address";
        hs = s + 1;
        he = close;
        bracketed = 1;
        if (close + 1 < s + len) {
            if (close[1] != ':') return "expected ':' after ']'";
            ps = close + 2;
        }
    } else {
        const char *colon = memchr(s, ':', len);
        he = colon ? colon : s + len;
        if (colon) {
            if (memchr(colon + 1, ':', (size_t)(s + len - colon - 1)))
                return "an IPv6 address must be in brackets";
            ps = colon + 1;
        }
    }
    if (!valid_host(hs, (size_t)(he - hs), bracketed))
        return "missing or invalid host";
    if ((size_t)(he - hs) >= host_size) return "host name too long";
    memcpy(host, hs, (size_t)(he - hs));
    host[he - hs] = '\0';
    if (!ps) return port_required ? "missing ':port'" : NULL;
    if (parse_port(ps, (size_t)(s + len - ps), port_min, port) < 0)
        return port_min ? "port must be a number from 1 to 65535"
                        : "port must be a number from 0 to 65535";
    return NULL;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Percent-decodes [s, s+len) into "out"; -1 on a bad escape, a NUL byte or
 * when it does not fit. */
static int percent_decode(const char *s, size_t len, char *out, size_t size) {
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        int c = (unsigned char)s[i];
        if (c == '%') {
            if (len - i < 3) return -1;
            int hi = hexval(s[i + 1]), lo = hexval(s[i + 2]);
            if (hi < 0 || lo < 0) return -1;
            c = hi * 16 + lo;
            i += 2;
        }
        if (c == 0 || o + 1 >= size) return -1;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return 0;
}

/* redis://[user:password@]host[:port][/db]: the scheme in any case,
 * user and password percent-decoded, userinfo without ':' read as the
 * password (as redis-cli does), "[v6]" hosts, port default 6379, db
 * 0..15.  rediss:// and query strings are refused.  The error never
 * holds the password. */
sf_status sf_redis_url_parse(const char *url, sf_redis_addr *out,
                             sf_err *err) {
    memset(out, 0, sizeof(*out));
    out->port = 6379;
    if (!url || !url[0]) {
        sf_err_set(err, "redis URL is empty");
        return SF_INVALID;
    }
    if (sf_has_prefix_ci(url, "rediss://")) {
        sf_err_set(err, "TLS (rediss://) is not supported");
        return SF_INVALID;
    }
    if (!sf_has_prefix_ci(url, "redis://")) {
        sf_err_set(err, "redis URL must start with redis://");
        return SF_INVALID;
    }
    const char *rest = url + strlen("redis://");
    const char *at = strrchr(rest, '@'); /* the password may hold '@'... */
    if (at) { /* ...if unescaped; a db number never does */
        const char *colon = memchr(rest, ':', (size_t)(at - rest));
        const char *pw = colon ? colon + 1 : rest;
        if (colon && percent_decode(rest, (size_t)(colon - rest), out->user,
                                    sizeof(out->user)) < 0) {
            sf_err_set(err, "redis URL: bad or too long user name");
            return SF_INVALID;
        }
        if (percent_decode(pw, (size_t)(at - pw), out->password,
                           sizeof(out->password)) < 0) {
            sf_err_set(err, "redis URL: bad or too long password");
            return SF_INVALID;
        }
        rest = at + 1;
    }
    const char *slash = strchr(rest, '/');
    size_t hp_len = slash ? (size_t)(slash - rest) : strlen(rest);
    const char *why = split_host_port(rest, hp_len, out->host,
                                      sizeof(out->host), &out->port, 1, 0);
    if (why) {
        sf_err_set(err, "redis URL: %s", why);
        return SF_INVALID;
    }
    if (slash && slash[1]) {
        int64_t db;
        size_t n = strlen(slash + 1);
        if (n > 2 || slash[1] < '0' || slash[1] > '9' ||
            sf_parse_i64(slash + 1, n, &db) != 0 || db < 0 || db > 15) {
            sf_err_set(err, "redis URL: database \"%.16s\" must be 0 to 15",
                       slash + 1);
            return SF_INVALID;
        }
        out->db = (int)db;
    }
    return SF_OK;
}

/* Copies "url" into "out" with the password replaced by "***". */
static void mask_url(const char *url, char *out, size_t size) {
    const char *scheme = strstr(url, "://");
    const char *rest = scheme ? scheme + 3 : url;
    const char *at = strrchr(rest, '@');
    if (!at) {
        snprintf(out, size, "%s", url);
        return;
    }
    const char *colon = memchr(rest, ':', (size_t)(at - rest));
    const char *keep_end = colon ? colon + 1 : rest;
    snprintf(out, size, "%.*s***%s", (int)(keep_end - url), url, at);
}

/* ---- applying one setting ---------------------------------------------- */

/* "1/true/yes/on" or "0/false/no/off/" (any case) into *out; -1 else. */
static int parse_bool(const char *s, int *out) {
    static const char *const yes[] = {"1", "true", "yes", "on"};
    static const char *const no[] = {"0", "false", "no", "off", ""};
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = 1;
            return 0;
        }
    }
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
        if (strcasecmp(s, no[i]) == 0) {
            *out = 0;
            return 0;
        }
    }
    return -1;
}

/* Validates "rv" for setting "id" and stores it in "cfg". */

/* A listen address "HOST:PORT" (port 0 = any free port) of setting "src". */
static sf_status parse_listen(const char *v, const char *src, char *host,
                              size_t host_size, int *port, sf_err *err) {
    const char *why = split_host_port(v, strlen(v), host, host_size, port, 0, 1);
    if (!why) return SF_OK;
    sf_err_set(err, "invalid %s \"%.64s\": %s (expected HOST:PORT)", src, v,
               why);
    return SF_INVALID;
}

static sf_status apply(sf_config *cfg, setting_id id, const raw_value *rv,
                       sf_err *err) {
    const setting *s = &settings[id];
    const char *v = rv->text;
    const char *src = rv->source;
    const char *why = NULL;
    int64_t num = 0;

    if (s->min <= s->max) { /* numeric */
        if (sf_parse_i64(v, strlen(v), &num) != 0 || num < s->min ||
            num > s->max) {
            sf_err_set(err, "invalid %s \"%.64s\": expected an integer from "
                       "%lld to %lld", src, v, (long long)s->min,
                       (long long)s->max);
            return SF_INVALID;
        }
    }
    switch (id) {
    case S_REDIS_URL: {
        sf_err uerr = {{0}};
        char masked[128];
        if (copy_checked(cfg->redis_url, sizeof(cfg->redis_url), v) < 0) {
            sf_err_set(err, "invalid %s: longer than %zu bytes", src,
                       sizeof(cfg->redis_url) - 1);
            return SF_INVALID;
        }
        if (sf_redis_url_parse(v, &cfg->redis, &uerr) != SF_OK) {
            mask_url(v, masked, sizeof(masked));
            sf_err_set(err, "invalid %s \"%s\": %s", src, masked, uerr.msg);
            return SF_INVALID;
        }
        return SF_OK;
    }
    case S_PREFIX:
        if (!v[0] || strlen(v) >= sizeof(cfg->prefix) ||
            strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                      "0123456789_.-") != strlen(v))
            why = "expected 1 to 63 characters from [A-Za-z0-9_.-]";
        else
            copy_checked(cfg->prefix, sizeof(cfg->prefix), v);
        break;
    case S_LISTEN:
        return parse_listen(v, src, cfg->listen_host, sizeof(cfg->listen_host),
                            &cfg->listen_port, err);
    case S_REDIS_PASSWORD: /* applied by sf_config_load (redis_password) */
        if (strlen(v) >= sizeof(cfg->redis.password)) {
            sf_err_set(err, "invalid %s: longer than %zu bytes", src,
                       sizeof(cfg->redis.password) - 1);
            return SF_INVALID;
        }
        break;
    case S_TOKEN:
    case S_CURRENT_KEY:
    case S_NEXT_KEY: {
        char *dst = cfg->token;
        size_t size = sizeof(cfg->token);
        if (id == S_CURRENT_KEY) {
            dst = cfg->current_signing_key;
            size = sizeof(cfg->current_signing_key);
        } else if (id == S_NEXT_KEY) {
            dst = cfg->next_signing_key;
            size = sizeof(cfg->next_signing_key);
        }
        if (!is_token_text(v) || copy_checked(dst, size, v) < 0) {
            /* a secret: say what is wrong, never what it is */
            sf_err_set(err, "invalid %s: expected at most 255 printable "
                       "characters without spaces", src);
            return SF_INVALID;
        }
        break;
    }
    case S_DEV:
        if (parse_bool(v, &cfg->dev) < 0) why = "expected 1/0, true/false";
        break;
    case S_CONSUMER:
        if (!v[0] || !is_token_text(v) ||
            copy_checked(cfg->consumer, sizeof(cfg->consumer), v) < 0)
            why = "expected 1 to 127 printable characters without spaces";
        break;
    case S_LOG_LEVEL:
        if (strcasecmp(v, "debug") && strcasecmp(v, "info") &&
            strcasecmp(v, "warn") && strcasecmp(v, "warning") &&
            strcasecmp(v, "error"))
            why = "expected debug, info, warn or error";
        else
            copy_checked(cfg->log_level, sizeof(cfg->log_level), v);
        break;
    case S_METRICS_LISTEN:
        if (!v[0]) {
            cfg->metrics_host[0] = '\0';
            cfg->metrics_port = -1;
            break;
        }
        return parse_listen(v, src, cfg->metrics_host,
                            sizeof(cfg->metrics_host), &cfg->metrics_port, err);
    case S_LOG_FORMAT: /* stored lowercase: callers compare it as is */
        if (strcasecmp(v, "json") && strcasecmp(v, "text"))
            why = "expected json or text";
        else
            snprintf(cfg->log_format, sizeof(cfg->log_format), "%s",
                     strcasecmp(v, "json") == 0 ? "json" : "text");
        break;
    case S_CONCURRENCY: cfg->concurrency = (int)num; break;
    case S_MAX_BODY: cfg->max_body_bytes = num; break;
    case S_DEFAULT_TIMEOUT: cfg->default_timeout_ms = num; break;
    case S_MAX_TIMEOUT: cfg->max_timeout_ms = num; break;
    case S_CLAIM_IDLE: cfg->claim_idle_ms = num; break;
    case S_DRAIN: cfg->drain_ms = num; break;
    case S_DLQ_BODY: cfg->dlq_body_limit = num; break;
    case S_DEDUP_TTL: cfg->dedup_ttl_s = num; break;
    case S_WF_RETENTION: cfg->wf_retention_s = num; break;
    case S_WF_INLINE: cfg->wf_inline_bytes = num; break;
    case S_COUNT: break;
    }
    if (why) {
        sf_err_set(err, "invalid %s \"%.64s\": %s", src, v, why);
        return SF_INVALID;
    }
    return SF_OK;
}

/* STEPFLOW_REDIS_PASSWORD replaces the password of the Redis URL, unless
 * the URL came from a flag and the password only from the environment:
 * flags win.  Its length was checked by apply(). */
static void redis_password(sf_config *cfg, const raw_value *url,
                           const raw_value *password) {
    int url_flag = url->source[0] == '-';
    int password_flag = password->source[0] == '-';
    if (!password->text[0] || (url_flag && !password_flag)) return;
    snprintf(cfg->redis.password, sizeof(cfg->redis.password), "%s",
             password->text);
}

/* "<hostname>-<pid>", with characters a consumer name cannot hold
 * replaced by '_'. */
static void default_consumer(char *out, size_t size) {
    char host[64] = "host";
    if (gethostname(host, sizeof(host)) != 0) strcpy(host, "host");
    host[sizeof(host) - 1] = '\0';
    for (char *p = host; *p; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f) *p = '_';
    if (!host[0]) strcpy(host, "host");
    snprintf(out, size, "%s-%ld", host, (long)getpid());
}

/* ---- loading ----------------------------------------------------------- */

/* The setting whose flag (by_env 0: without "--") or variable (by_env 1)
 * is "[name, name + len)", or -1. */
static int find_setting(const char *name, size_t len, int by_env) {
    for (int i = 0; i < S_COUNT; i++) {
        const char *key = by_env ? settings[i].env : settings[i].flag;
        if (strlen(key) == len && memcmp(key, name, len) == 0) return i;
    }
    return -1;
}

static const char *kind_name(sf_process_kind kind) {
    return kind == SF_PROC_COORDINATOR ? "stepflow-coordinator"
                                       : "stepflow-worker";
}

/* Defaults, then non-empty STEPFLOW_* variables, then "argv" flags
 * ("--x v" or "--x=v"; "--dev" alone means on), then validation of
 * every value and the cross-checks.  SF_INVALID with one line in "err". */
sf_status sf_config_load(sf_config *cfg, sf_process_kind kind, int argc,
                         char **argv, sf_err *err) {
    raw_value raw[S_COUNT];
    char consumer[128];

    memset(cfg, 0, sizeof(*cfg));
    cfg->kind = kind;
    default_consumer(consumer, sizeof(consumer));
    for (int i = 0; i < S_COUNT; i++) {
        const char *env = getenv(settings[i].env);
        if (env && env[0]) {
            raw[i].text = env;
            snprintf(raw[i].source, sizeof(raw[i].source), "%s",
                     settings[i].env);
        } else {
            raw[i].text = settings[i].def ? settings[i].def : consumer;
            snprintf(raw[i].source, sizeof(raw[i].source), "default of %s",
                     settings[i].env);
        }
    }

    for (int a = 1; a < argc; a++) {
        const char *arg = argv[a];
        if (!arg || strncmp(arg, "--", 2) != 0 || !arg[2]) {
            sf_err_set(err, "unexpected argument \"%.64s\" (see --help)",
                       arg ? arg : "");
            return SF_INVALID;
        }
        const char *name = arg + 2;
        const char *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        int id = find_setting(name, nlen, 0);
        if (id < 0) {
            sf_err_set(err, "unknown flag --%.*s (see --help)",
                       (int)(nlen > 64 ? 64 : nlen), name);
            return SF_INVALID;
        }
        const char *value;
        if (eq) {
            value = eq + 1;
        } else if (!settings[id].arg) {
            value = "1"; /* a bare boolean flag */
        } else if (a + 1 < argc && argv[a + 1]) {
            value = argv[++a];
        } else {
            sf_err_set(err, "--%s needs a value (%s)", settings[id].flag,
                       settings[id].arg);
            return SF_INVALID;
        }
        raw[id].text = value;
        snprintf(raw[id].source, sizeof(raw[id].source), "--%s",
                 settings[id].flag);
    }

    for (int i = 0; i < S_COUNT; i++) {
        if (apply(cfg, (setting_id)i, &raw[i], err) != SF_OK) return SF_INVALID;
        /* the computed consumer name lives on this stack: keep the copy */
        cfg->raw[i] = raw[i].text == consumer ? cfg->consumer : raw[i].text;
    }

    redis_password(cfg, &raw[S_REDIS_URL], &raw[S_REDIS_PASSWORD]);
    if (cfg->default_timeout_ms > cfg->max_timeout_ms) {
        sf_err_set(err, "invalid %s \"%lld\": above max-timeout-ms (%lld)",
                   raw[S_DEFAULT_TIMEOUT].source,
                   (long long)cfg->default_timeout_ms,
                   (long long)cfg->max_timeout_ms);
        return SF_INVALID;
    }
    if (kind == SF_PROC_COORDINATOR && !cfg->token[0] && !cfg->dev) {
        sf_err_set(err, "STEPFLOW_TOKEN is not set: set it, or pass --dev to "
                   "run without authentication");
        return SF_INVALID;
    }
    return SF_OK;
}

/* Prints the usage table for "kind" on stdout. */
void sf_config_usage(sf_process_kind kind, const char *argv0) {
    unsigned bit = 1u << kind;
    printf("Usage: %s [--flag value | --flag=value]...\n\n",
           argv0 ? argv0 : kind_name(kind));
    printf("Every setting can come from the environment variable next to "
           "it; flags win.\n\n");
    printf("  %-28s %-30s %-24s %s\n", "FLAG", "ENVIRONMENT", "DEFAULT",
           "MEANING");
    for (int i = 0; i < S_COUNT; i++) {
        const setting *s = &settings[i];
        char flag[64];
        if (!(s->kinds & bit)) continue;
        if (s->arg) snprintf(flag, sizeof(flag), "--%s %s", s->flag, s->arg);
        else snprintf(flag, sizeof(flag), "--%s", s->flag);
        const char *def = !s->def ? "<hostname>-<pid>" : s->def[0] ? s->def
                                                                   : "(none)";
        printf("  %-28s %-30s %-24s %s\n", flag, s->env, def, s->help);
    }
    printf("  %-28s %-30s %-24s %s\n", "--help", "", "", "print this and exit");
}

/* ---- the start of main() ------------------------------------------------ */


/* Variables the CLI reads, which may share an environment with a process. */
static int cli_variable(const char *name, size_t len) {
    return len == strlen("STEPFLOW_URL") &&
           memcmp(name, "STEPFLOW_URL", len) == 0;
}

int sf_config_env_problems(sf_process_kind kind, int strict,
                           sf_config_env_fn fn, void *arg) {
    extern char **environ;
    unsigned bit = 1u << kind;
    int n = 0;
    for (char **e = environ; e && *e; e++) {
        const char *eq = strchr(*e, '=');
        size_t len = eq ? (size_t)(eq - *e) : strlen(*e);
        if (len < 9 || memcmp(*e, "STEPFLOW_", 9) != 0) continue;
        int id = find_setting(*e, len, 1);
        const char *why = NULL;
        if (id < 0 && cli_variable(*e, len)) {
            if (strict) why = "read by the stepflow CLI only";
        } else if (id < 0) {
            why = "unknown setting (see --help)";
        } else if (strict && !(settings[id].kinds & bit)) {
            why = kind == SF_PROC_COORDINATOR ? "used by the worker only"
                                              : "used by the coordinator only";
        }
        if (!why) continue;
        char name[128];
        snprintf(name, sizeof(name), "%.*s", (int)(len > 120 ? 120 : len), *e);
        fn(name, why, arg);
        n++;
    }
    return n;
}

static void log_problem(const char *name, const char *why, void *arg) {
    (void)arg;
    sf_warn("config_env_ignored name=%s reason=%s", SF_LOGQ(name), SF_LOGQ(why));
}

static void print_problem(const char *name, const char *why, void *arg) {
    fprintf(stderr, "%s: %s: %s\n", (const char *)arg, name, why);
}

/* Prints the settings "kind" uses with their values (the Redis URL without
 * its password, secrets only as "(set)"). */
static void print_effective(const sf_config *cfg, sf_process_kind kind) {
    unsigned bit = 1u << kind;
    for (int i = 0; i < S_COUNT; i++) {
        const setting *s = &settings[i];
        if (!(s->kinds & bit)) continue;
        const char *v = cfg->raw[i];
        char masked[128];
        if (v == cfg->consumer) {
            v = "<hostname>-<pid> (computed at start)";
        } else if (i == S_REDIS_URL) {
            mask_url(v, masked, sizeof(masked));
            v = masked;
        } else if (s->secret) {
            v = v[0] ? "(set)" : "(none)";
        }
        printf("%-32s %s\n", s->env, v);
    }
}

int sf_config_main(sf_config *cfg, sf_process_kind kind, int argc,
                   char **argv) {
    const char *me = kind_name(kind);
    int check = 0, kept = 1;
    sf_err err = {{0}};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            sf_config_usage(kind, argv[0]);
            return 0;
        }
        if (strcmp(argv[i], "--version") == 0) {
            printf("%s %s\n", me, SF_VERSION);
            return 0;
        }
        if (strcmp(argv[i], "--check-config") == 0) check = 1;
        else argv[kept++] = argv[i]; /* the loader never sees it */
    }
    argc = kept;
    if (sf_config_load(cfg, kind, argc, argv, &err) != SF_OK) {
        fprintf(stderr, "%s: %s\n", me, err.msg);
        return 2;
    }
    if (!check) {
        sf_log_set_format(cfg->log_format); /* both checked by the loader */
        sf_log_set_level(cfg->log_level);
        sf_config_env_problems(kind, 0, log_problem, NULL);
        return -1;
    }
    if (sf_config_env_problems(kind, 1, print_problem, (void *)me) > 0)
        return 2;
    print_effective(cfg, kind);
    return 0;
}
