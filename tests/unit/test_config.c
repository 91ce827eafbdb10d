/* test_config.c - defaults, environment, flags, validation, redis URLs. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "harness.h"

static const char *all_env[] = {
    "STEPFLOW_REDIS_URL", "STEPFLOW_PREFIX", "STEPFLOW_LISTEN",
    "STEPFLOW_TOKEN", "STEPFLOW_DEV", "STEPFLOW_CONCURRENCY",
    "STEPFLOW_CURRENT_SIGNING_KEY", "STEPFLOW_NEXT_SIGNING_KEY",
    "STEPFLOW_MAX_BODY_BYTES", "STEPFLOW_DEFAULT_TIMEOUT_MS",
    "STEPFLOW_MAX_TIMEOUT_MS", "STEPFLOW_CLAIM_IDLE_MS", "STEPFLOW_DRAIN_MS",
    "STEPFLOW_DLQ_BODY_LIMIT", "STEPFLOW_DEDUP_TTL_S", "STEPFLOW_CONSUMER",
    "STEPFLOW_LOG_LEVEL", "STEPFLOW_LOG_FORMAT", "STEPFLOW_REDIS_PASSWORD",
    "STEPFLOW_CONCURENCY", "STEPFLOW_URL",
};

static void clear_env(void) {
    for (size_t i = 0; i < sizeof(all_env) / sizeof(all_env[0]); i++)
        unsetenv(all_env[i]);
}

/* Loads with a NULL-terminated list of flags (argv[0] is added). */
static sf_status load(sf_config *cfg, sf_process_kind kind, sf_err *err,
                      const char **flags) {
    char *argv[32];
    int argc = 0;
    argv[argc++] = "stepflow-test";
    for (; flags && *flags && argc < 31; flags++) argv[argc++] = (char *)*flags;
    argv[argc] = NULL;
    memset(err, 0, sizeof(*err));
    return sf_config_load(cfg, kind, argc, argv, err);
}

static void test_defaults(void) {
    sf_config c;
    sf_err err;
    clear_env();
    CHECK_INT(load(&c, SF_PROC_WORKER, &err, NULL), SF_OK);
    CHECK_INT(c.kind, SF_PROC_WORKER);
    CHECK_STR(c.redis_url, "redis://127.0.0.1:6379");
    CHECK_STR(c.redis.host, "127.0.0.1");
    CHECK_INT(c.redis.port, 6379);
    CHECK_INT(c.redis.db, 0);
    CHECK_STR(c.redis.user, "");
    CHECK_STR(c.redis.password, "");
    CHECK_STR(c.prefix, "stepflow");
    CHECK_STR(c.listen_host, "127.0.0.1");
    CHECK_INT(c.listen_port, 8080);
    CHECK_STR(c.token, "");
    CHECK_INT(c.dev, 0);
    CHECK_INT(c.concurrency, 500);
    CHECK_STR(c.current_signing_key, "");
    CHECK_STR(c.next_signing_key, "");
    CHECK_INT(c.max_body_bytes, 1048576);
    CHECK_INT(c.default_timeout_ms, 30000);
    CHECK_INT(c.max_timeout_ms, 900000);
    CHECK_INT(c.claim_idle_ms, 60000);
    CHECK_INT(c.drain_ms, 25000);
    CHECK_INT(c.dlq_body_limit, 65536);
    CHECK_INT(c.dedup_ttl_s, 600);
    CHECK_STR(c.log_level, "info");
    char want[160], host[64] = "";
    gethostname(host, sizeof(host));
    snprintf(want, sizeof(want), "-%ld", (long)getpid());
    size_t n = strlen(c.consumer), w = strlen(want);
    CHECK(n > w && strcmp(c.consumer + n - w, want) == 0);
    CHECK(strncmp(c.consumer, host, strlen(host) > 8 ? 8 : strlen(host)) == 0);
}

static void test_env_then_flags(void) {
    sf_config c;
    sf_err err;
    clear_env();
    setenv("STEPFLOW_CONCURRENCY", "64", 1);
    setenv("STEPFLOW_PREFIX", "envpfx", 1);
    setenv("STEPFLOW_TOKEN", "envtoken", 1);
    setenv("STEPFLOW_LOG_LEVEL", "debug", 1);
    setenv("STEPFLOW_LOG_FORMAT", "TEXT", 1); /* stored lowercase */
    setenv("STEPFLOW_DRAIN_MS", "0", 1);
    setenv("STEPFLOW_LISTEN", "0.0.0.0:0", 1);
    setenv("STEPFLOW_CURRENT_SIGNING_KEY", "sig_cur", 1);
    setenv("STEPFLOW_DEDUP_TTL_S", "", 1); /* empty = unset */
    CHECK_INT(load(&c, SF_PROC_COORDINATOR, &err, NULL), SF_OK);
    CHECK_INT(c.concurrency, 64);
    CHECK_STR(c.prefix, "envpfx");
    CHECK_STR(c.token, "envtoken");
    CHECK_STR(c.log_level, "debug");
    CHECK_STR(c.log_format, "text");
    CHECK_INT(c.drain_ms, 0);
    CHECK_STR(c.listen_host, "0.0.0.0");
    CHECK_INT(c.listen_port, 0);
    CHECK_STR(c.current_signing_key, "sig_cur");
    CHECK_INT(c.dedup_ttl_s, 600);

    /* flags win, in both spellings */
    const char *flags[] = {"--concurrency", "8", "--prefix=flagpfx",
                           "--token", "flagtoken", "--listen=[::1]:9090",
                           "--max-body-bytes=2048", "--consumer", "w-1",
                           "--claim-idle-ms", "1500", "--dlq-body-limit=0",
                           "--default-timeout-ms=1000",
                           "--max-timeout-ms=2000", "--dedup-ttl-s", "60",
                           "--next-signing-key=sig_next", NULL};
    CHECK_INT(load(&c, SF_PROC_COORDINATOR, &err, flags), SF_OK);
    if (err.msg[0]) fprintf(stderr, "  %s\n", err.msg);
    CHECK_INT(c.concurrency, 8);
    CHECK_STR(c.prefix, "flagpfx");
    CHECK_STR(c.token, "flagtoken");
    CHECK_STR(c.listen_host, "::1");
    CHECK_INT(c.listen_port, 9090);
    CHECK_INT(c.max_body_bytes, 2048);
    CHECK_STR(c.consumer, "w-1");
    CHECK_INT(c.claim_idle_ms, 1500);
    CHECK_INT(c.dlq_body_limit, 0);
    CHECK_INT(c.default_timeout_ms, 1000);
    CHECK_INT(c.max_timeout_ms, 2000);
    CHECK_INT(c.dedup_ttl_s, 60);
    CHECK_STR(c.next_signing_key, "sig_next");
    CHECK_STR(c.log_level, "debug"); /* from env, untouched by flags */

    /* a bad value in the environment that a flag overrides is fine */
    setenv("STEPFLOW_CONCURRENCY", "lots", 1);
    const char *fix[] = {"--concurrency=3", NULL};
    CHECK_INT(load(&c, SF_PROC_WORKER, &err, fix), SF_OK);
    CHECK_INT(c.concurrency, 3);
    CHECK_INT(load(&c, SF_PROC_WORKER, &err, NULL), SF_INVALID);
    CHECK(strstr(err.msg, "STEPFLOW_CONCURRENCY") != NULL);
    CHECK(strstr(err.msg, "lots") != NULL);
    clear_env();
}

/* Expects SF_INVALID with "needle" in the message, for one flag list. */
static void expect_bad(sf_process_kind kind, const char **flags,
                       const char *needle) {
    sf_config c;
    sf_err err;
    sf_status st = load(&c, kind, &err, flags);
    if (st != SF_INVALID || !strstr(err.msg, needle) || strchr(err.msg, '\n'))
        fprintf(stderr, "  case %s %s: status %d, msg \"%s\"\n", flags[0],
                flags[1] ? flags[1] : "", st, err.msg);
    CHECK_INT(st, SF_INVALID);
    CHECK(strstr(err.msg, needle) != NULL);
    CHECK(strchr(err.msg, '\n') == NULL);
}

static void test_bad_values(void) {
    clear_env();
    struct { const char *a, *b, *needle; } cases[] = {
        {"--concurrency", "abc", "--concurrency"},
        {"--concurrency=0", NULL, "\"0\""},
        {"--concurrency=100001", NULL, "100001"},
        {"--concurrency=-5", NULL, "-5"},
        {"--concurrency=5x", NULL, "5x"},
        {"--concurrency=", NULL, "--concurrency"},
        {"--max-body-bytes=0", NULL, "--max-body-bytes"},
        {"--default-timeout-ms=99999999999", NULL, "--default-timeout-ms"},
        {"--default-timeout-ms=950000", NULL, "above max-timeout-ms"},
        {"--claim-idle-ms=5", NULL, "--claim-idle-ms"},
        {"--drain-ms=-1", NULL, "--drain-ms"},
        {"--dedup-ttl-s=0", NULL, "--dedup-ttl-s"},
        {"--prefix=a:b", NULL, "a:b"},
        {"--prefix=", NULL, "--prefix"},
        {"--prefix", "a b", "--prefix"},
        {"--prefix=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
         NULL, "--prefix"},
        {"--listen=localhost", NULL, "--listen"},
        {"--listen=:8080", NULL, "host"},
        {"--listen=h:65536", NULL, "65536"},
        {"--listen=h:-1", NULL, "port"},
        {"--listen=::1:80", NULL, "brackets"},
        {"--listen=[::1", NULL, "]"},
        {"--log-level=loud", NULL, "loud"},
        {"--consumer=", NULL, "--consumer"},
        {"--dev=maybe", NULL, "--dev"},
        {"--token", "has space", "--token"},
        {"--bogus=1", NULL, "--bogus"},
        {"positional", NULL, "positional"},
        {"--concurrency", NULL, "needs a value"},
        {"--redis-url=http://x", NULL, "redis://"},
        {"--redis-url=rediss://x:1", NULL, "TLS"},
        {"--redis-url=redis://", NULL, "host"},
        {"--redis-url=redis://h:0", NULL, "port"},
        {"--redis-url=redis://h:70000", NULL, "port"},
        {"--redis-url=redis://h:12ab", NULL, "port"},
        {"--redis-url=redis://h/16", NULL, "database"},
        {"--redis-url=redis://h/x", NULL, "database"},
        {"--redis-url=redis://h/1?x=y", NULL, "database"},
        {"--redis-url=redis://u:%zz@h", NULL, "password"},
        {"--redis-url=redis://u%00:p@h", NULL, "user"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *flags[3] = {cases[i].a, cases[i].b, NULL};
        expect_bad(SF_PROC_WORKER, flags, cases[i].needle);
    }
}

static void test_secrets_not_echoed(void) {
    sf_config c;
    sf_err err;
    clear_env();
    const char *f1[] = {"--current-signing-key", "sec ret", NULL};
    CHECK_INT(load(&c, SF_PROC_WORKER, &err, f1), SF_INVALID);
    CHECK(strstr(err.msg, "sec ret") == NULL);
    CHECK(strstr(err.msg, "--current-signing-key") != NULL);
    const char *f2[] = {"--redis-url=redis://u:hunter2@h:99999", NULL};
    CHECK_INT(load(&c, SF_PROC_WORKER, &err, f2), SF_INVALID);
    CHECK(strstr(err.msg, "hunter2") == NULL);
    CHECK(strstr(err.msg, "redis://u:***@h:99999") != NULL);
}

static void test_redis_urls(void) {
    sf_redis_addr a;
    sf_err err = {{0}};
    CHECK_INT(sf_redis_url_parse("redis://localhost", &a, &err), SF_OK);
    CHECK_STR(a.host, "localhost");
    CHECK_INT(a.port, 6379);
    CHECK_INT(a.db, 0);

    CHECK_INT(sf_redis_url_parse("redis://10.1.2.3:7000/5", &a, &err), SF_OK);
    CHECK_STR(a.host, "10.1.2.3");
    CHECK_INT(a.port, 7000);
    CHECK_INT(a.db, 5);

    CHECK_INT(sf_redis_url_parse("redis://alice:s3cret@db.local:6380/15", &a,
                                 &err), SF_OK);
    CHECK_STR(a.user, "alice");
    CHECK_STR(a.password, "s3cret");
    CHECK_STR(a.host, "db.local");
    CHECK_INT(a.port, 6380);
    CHECK_INT(a.db, 15);

    /* password only, the redis-cli way */
    CHECK_INT(sf_redis_url_parse("redis://:pw@h", &a, &err), SF_OK);
    CHECK_STR(a.user, "");
    CHECK_STR(a.password, "pw");
    CHECK_INT(sf_redis_url_parse("redis://pw@h:1/", &a, &err), SF_OK);
    CHECK_STR(a.user, "");
    CHECK_STR(a.password, "pw");
    CHECK_INT(a.port, 1);
    CHECK_INT(a.db, 0);

    /* percent-decoding, and an unescaped '@' in the password */
    CHECK_INT(sf_redis_url_parse("redis://us%65r:p%40ss%3Aw%2Fd@h:1/2", &a,
                                 &err), SF_OK);
    CHECK_STR(a.user, "user");
    CHECK_STR(a.password, "p@ss:w/d");
    CHECK_INT(sf_redis_url_parse("redis://u:a@b@h", &a, &err), SF_OK);
    CHECK_STR(a.password, "a@b");
    CHECK_STR(a.host, "h");

    /* IPv6 and the scheme in capitals */
    CHECK_INT(sf_redis_url_parse("REDIS://[::1]:6390/3", &a, &err), SF_OK);
    CHECK_STR(a.host, "::1");
    CHECK_INT(a.port, 6390);
    CHECK_INT(a.db, 3);

    CHECK_INT(sf_redis_url_parse(NULL, &a, &err), SF_INVALID);
    CHECK_INT(sf_redis_url_parse("", &a, &err), SF_INVALID);
    CHECK_INT(sf_redis_url_parse("redis://h:", &a, &err), SF_INVALID);
    CHECK_INT(sf_redis_url_parse("redis://h:1:2", &a, &err), SF_INVALID);
    CHECK_INT(sf_redis_url_parse("redis://h/-1", &a, &err), SF_INVALID);
    CHECK_INT(sf_redis_url_parse("redis://h/007", &a, &err), SF_INVALID);
    CHECK_INT(sf_redis_url_parse("redis://h h", &a, &err), SF_INVALID);

    /* through the config, with user:password@ and /db */
    sf_config c;
    clear_env();
    setenv("STEPFLOW_REDIS_URL", "redis://bob:pa%20ss@127.0.0.1:6399/4", 1);
    CHECK_INT(load(&c, SF_PROC_WORKER, &err, NULL), SF_OK);
    CHECK_STR(c.redis_url, "redis://bob:pa%20ss@127.0.0.1:6399/4");
    CHECK_STR(c.redis.user, "bob");
    CHECK_STR(c.redis.password, "pa ss");
    CHECK_INT(c.redis.port, 6399);
    CHECK_INT(c.redis.db, 4);
    clear_env();
}

static void test_redis_password(void) {
    sf_config c;
    sf_err err;
    clear_env();
    /* a Secret's password needs no URL escaping and replaces the URL's */
    setenv("STEPFLOW_REDIS_URL", "redis://bob:old@10.0.0.1:6380", 1);
    setenv("STEPFLOW_REDIS_PASSWORD", "p@ss/w:rd%", 1);
    CHECK_INT(load(&c, SF_PROC_WORKER, &err, NULL), SF_OK);
    CHECK_STR(c.redis.user, "bob");
    CHECK_STR(c.redis.password, "p@ss/w:rd%");
    CHECK_STR(c.redis.host, "10.0.0.1");
    const char *flag[] = {"--redis-password=fromflag", NULL};
    CHECK_INT(load(&c, SF_PROC_WORKER, &err, flag), SF_OK);
    CHECK_STR(c.redis.password, "fromflag");
    /* a URL given as a flag wins over a password from the environment */
    const char *url_flag[] = {"--redis-url=redis://:mine@10.0.0.2:6379", NULL};
    CHECK_INT(load(&c, SF_PROC_WORKER, &err, url_flag), SF_OK);
    CHECK_STR(c.redis.password, "mine");
    const char *both[] = {"--redis-url=redis://:mine@10.0.0.2:6379",
                          "--redis-password=flagged", NULL};
    CHECK_INT(load(&c, SF_PROC_WORKER, &err, both), SF_OK);
    CHECK_STR(c.redis.password, "flagged");
    /* empty = the URL's own */
    setenv("STEPFLOW_REDIS_PASSWORD", "", 1);
    CHECK_INT(load(&c, SF_PROC_WORKER, &err, NULL), SF_OK);
    CHECK_STR(c.redis.password, "old");
    clear_env();
}

typedef struct seen {
    int unknown, other, cli;
} seen;

static void count_problem(const char *name, const char *why, void *arg) {
    seen *s = arg;
    if (strcmp(name, "STEPFLOW_CONCURENCY") == 0 && strstr(why, "unknown"))
        s->unknown++;
    if (strcmp(name, "STEPFLOW_CONCURRENCY") == 0 && strstr(why, "worker"))
        s->other++;
    if (strcmp(name, "STEPFLOW_URL") == 0) s->cli++;
}

static void test_env_problems(void) {
    clear_env();
    setenv("STEPFLOW_CONCURENCY", "5", 1); /* misspelt */
    setenv("STEPFLOW_CONCURRENCY", "5", 1); /* the worker's */
    setenv("STEPFLOW_URL", "http://x", 1);  /* the CLI's */
    seen s = {0};
    sf_config_env_problems(SF_PROC_COORDINATOR, 0, count_problem, &s);
    CHECK_INT(s.unknown, 1);
    CHECK_INT(s.other, 0); /* a shared environment is fine at start */
    CHECK_INT(s.cli, 0);
    memset(&s, 0, sizeof(s));
    sf_config_env_problems(SF_PROC_COORDINATOR, 1, count_problem, &s);
    CHECK_INT(s.unknown, 1);
    CHECK_INT(s.other, 1); /* --check-config is strict */
    CHECK_INT(s.cli, 1);
    memset(&s, 0, sizeof(s));
    sf_config_env_problems(SF_PROC_WORKER, 1, count_problem, &s);
    CHECK_INT(s.other, 0);
    clear_env();
}

static void test_coordinator_token(void) {
    sf_config c;
    sf_err err;
    clear_env();
    CHECK_INT(load(&c, SF_PROC_COORDINATOR, &err, NULL), SF_INVALID);
    CHECK_STR(err.msg, "STEPFLOW_TOKEN is not set: set it, or pass --dev to "
                       "run without authentication");
    const char *dev[] = {"--dev", NULL};
    CHECK_INT(load(&c, SF_PROC_COORDINATOR, &err, dev), SF_OK);
    CHECK_INT(c.dev, 1);
    const char *dev_eq[] = {"--dev=true", NULL};
    CHECK_INT(load(&c, SF_PROC_COORDINATOR, &err, dev_eq), SF_OK);
    CHECK_INT(c.dev, 1);
    const char *dev_off[] = {"--dev=0", NULL};
    CHECK_INT(load(&c, SF_PROC_COORDINATOR, &err, dev_off), SF_INVALID);
    setenv("STEPFLOW_DEV", "1", 1);
    CHECK_INT(load(&c, SF_PROC_COORDINATOR, &err, NULL), SF_OK);
    CHECK_INT(c.dev, 1);
    unsetenv("STEPFLOW_DEV");
    setenv("STEPFLOW_TOKEN", "t0k", 1);
    CHECK_INT(load(&c, SF_PROC_COORDINATOR, &err, NULL), SF_OK);
    CHECK_STR(c.token, "t0k");
    CHECK_INT(c.dev, 0);
    const char *empty[] = {"--token=", NULL}; /* a flag can unset it */
    CHECK_INT(load(&c, SF_PROC_COORDINATOR, &err, empty), SF_INVALID);
    /* the worker needs no token */
    clear_env();
    CHECK_INT(load(&c, SF_PROC_WORKER, &err, NULL), SF_OK);
}

static void test_usage_prints(void) {
    /* smoke: must not crash; output goes to stdout for the test log */
    sf_config_usage(SF_PROC_COORDINATOR, "stepflow-coordinator");
    sf_config_usage(SF_PROC_WORKER, NULL);
    CHECK(1);
}

TEST_MAIN(T(test_defaults), T(test_env_then_flags), T(test_bad_values),
          T(test_secrets_not_echoed), T(test_redis_urls),
          T(test_redis_password), T(test_env_problems),
          T(test_coordinator_token), T(test_usage_prints))
