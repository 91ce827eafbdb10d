/* config.h - process configuration from the environment and matching flags.
 *
 * Every setting has an environment variable STEPFLOW_X and a flag --x
 * (flags win).  sf_config_load() fills an sf_config for one process kind; on
 * bad input it returns SF_INVALID with one line in "err" and the caller prints
 * it and exits 2.  The README's configuration table lists every setting. */
#ifndef SF_CONFIG_H
#define SF_CONFIG_H

#include <stdint.h>
#include "err.h"

typedef enum sf_process_kind {
    SF_PROC_WORKER,
    SF_PROC_COORDINATOR,
} sf_process_kind;

typedef struct sf_redis_addr {
    char host[256];
    int port;
    char user[128];      /* "" when not given */
    char password[256];  /* "" when not given */
    int db;
} sf_redis_addr;

#define SF_CONFIG_MAX_SETTINGS 32

typedef struct sf_config {
    sf_process_kind kind;
    char redis_url[1024];          /* STEPFLOW_REDIS_URL */
    sf_redis_addr redis;           /* parsed from redis_url */
    char prefix[64];               /* STEPFLOW_PREFIX, default "stepflow" */
    char listen_host[256];         /* STEPFLOW_LISTEN host, coordinator */
    int listen_port;               /* STEPFLOW_LISTEN port (0 = pick one) */
    char token[256];               /* STEPFLOW_TOKEN; "" only with dev */
    int dev;                       /* --dev / STEPFLOW_DEV=1: auth off */
    int concurrency;               /* STEPFLOW_CONCURRENCY, default 500 */
    char current_signing_key[256]; /* STEPFLOW_CURRENT_SIGNING_KEY */
    char next_signing_key[256];    /* STEPFLOW_NEXT_SIGNING_KEY */
    int64_t max_body_bytes;        /* STEPFLOW_MAX_BODY_BYTES, 1 MiB */
    int64_t default_timeout_ms;    /* STEPFLOW_DEFAULT_TIMEOUT_MS, 30 s */
    int64_t max_timeout_ms;        /* STEPFLOW_MAX_TIMEOUT_MS, 15 min */
    int64_t claim_idle_ms;         /* STEPFLOW_CLAIM_IDLE_MS, 60 s: pending
                                      entries idle this long are reclaimed */
    int64_t drain_ms;              /* STEPFLOW_DRAIN_MS, 25 s SIGTERM grace */
    int64_t dlq_body_limit;        /* STEPFLOW_DLQ_BODY_LIMIT, 64 KiB of the
                                      last response kept on a DLQ entry */
    int64_t dedup_ttl_s;           /* STEPFLOW_DEDUP_TTL_S, 600 */
    char consumer[128];            /* STEPFLOW_CONSUMER, default host-pid */
    char log_level[16];            /* STEPFLOW_LOG_LEVEL, default "info" */
    int64_t wf_retention_s;        /* STEPFLOW_WORKFLOW_RETENTION_S, 7 days */
    int64_t wf_inline_bytes;       /* STEPFLOW_WORKFLOW_INLINE_BYTES, 64 KiB */
    char metrics_host[256];        /* STEPFLOW_METRICS_LISTEN host, worker */
    int metrics_port;              /* its port; -1 = no listener (default) */
    char log_format[8];            /* STEPFLOW_LOG_FORMAT: "json" / "text"
                                      (lowercase whatever was written) */
    const char *raw[SF_CONFIG_MAX_SETTINGS]; /* each setting's text as
                                      given, borrowed from the environment,
                                      argv or a static default (all live as
                                      long as the process), or, for the
                                      computed consumer name, &consumer of
                                      the sf_config the loader filled: for
                                      --check-config, not for copies */
} sf_config;

/* Fills "cfg" with defaults, then the environment, then "argv" flags.
 * Unknown flags, bad numbers and a bad redis URL are SF_INVALID with one
 * line in "err".  "--help" is not handled here: main() checks it first. */
sf_status sf_config_load(sf_config *cfg, sf_process_kind kind, int argc,
                         char **argv, sf_err *err);

/* Parses "redis://[user:password@]host:port[/db]" into "out". */
sf_status sf_redis_url_parse(const char *url, sf_redis_addr *out, sf_err *err);

/* The start of both processes' main(): handles --help, --version and
 * --check-config, then loads "cfg".  Returns -1 when the process should go
 * on (logging set up, unknown STEPFLOW_* variables logged as warnings),
 * else its exit code: 0 after --help, --version or a clean
 * --check-config (which prints the effective settings, secrets as "(set)"),
 * 2 on a bad configuration (the reason printed on stderr).  --check-config
 * also fails on any STEPFLOW_* variable the process does not use. */
int sf_config_main(sf_config *cfg, sf_process_kind kind, int argc,
                   char **argv);

/* Calls "fn" for each STEPFLOW_* variable in the environment that is not a
 * setting ("strict": or not one "kind" uses), with a reason; returns how
 * many.  Processes log these at start: a misspelt name is otherwise silent. */
typedef void (*sf_config_env_fn)(const char *name, const char *why, void *arg);
int sf_config_env_problems(sf_process_kind kind, int strict,
                           sf_config_env_fn fn, void *arg);

/* Prints the settings that apply to "kind" as `--flag  ENV  default  help`. */
void sf_config_usage(sf_process_kind kind, const char *argv0);

#endif
