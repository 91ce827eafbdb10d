/* test_qstats.c - the pure reply parsing of common/qstats.c, fed with the
 * RESP text Redis 7 sends (parsed by hiredis' own reader). */
#include "harness.h"

#include <hiredis/hiredis.h>
#include <stdlib.h>

#include <string.h>

#include "qstats.h"

/* Parses one RESP reply; the caller frees it with freeReplyObject. */
static redisReply *resp(const char *text) {
    redisReader *rd = redisReaderCreate();
    void *reply = NULL;
    redisReaderFeed(rd, text, strlen(text));
    if (redisReaderGetReply(rd, &reply) != REDIS_OK) reply = NULL;
    redisReaderFree(rd);
    return reply;
}

/* XINFO GROUPS of a stream with the group "workers" (Redis 7.0 fields). */
#define GROUP_WORKERS(pending, entries_read, lag)                              \
    "*12\r\n$4\r\nname\r\n$7\r\nworkers\r\n$9\r\nconsumers\r\n:1\r\n"         \
    "$7\r\npending\r\n" pending "$17\r\nlast-delivered-id\r\n$3\r\n5-0\r\n"   \
    "$12\r\nentries-read\r\n" entries_read "$3\r\nlag\r\n" lag

static void test_group_lag_known(void) {
    redisReply *r = resp("*1\r\n" GROUP_WORKERS(":3\r\n", ":5\r\n", ":20\r\n"));
    CHECK(r != NULL);
    sf_qstats_group g = sf_qstats_parse_group(r, "workers");
    CHECK_INT(g.found, 1);
    CHECK_INT(g.lag, 20);
    CHECK_INT(g.pending, 3);
    CHECK_INT(sf_qstats_backlog(g.lag, 23, g.pending), 20);
    freeReplyObject(r);
}

static void test_group_lag_nil(void) {
    /* entries deleted in the range: Redis 7 answers lag = nil */
    redisReply *r = resp("*1\r\n" GROUP_WORKERS(":4\r\n", "$-1\r\n", "$-1\r\n"));
    sf_qstats_group g = sf_qstats_parse_group(r, "workers");
    CHECK_INT(g.found, 1);
    CHECK_INT(g.lag, -1);
    CHECK_INT(g.pending, 4);
    CHECK_INT(sf_qstats_backlog(g.lag, 10, g.pending), 6);
    CHECK_INT(sf_qstats_backlog(g.lag, 2, g.pending), 0); /* never negative */
    freeReplyObject(r);
}

static void test_group_other_groups(void) {
    /* another group first, then ours; and a stream without ours */
    redisReply *r = resp(
        "*2\r\n*4\r\n$4\r\nname\r\n$7\r\nindexer\r\n$7\r\npending\r\n:9\r\n"
        GROUP_WORKERS(":1\r\n", ":1\r\n", ":0\r\n"));
    sf_qstats_group g = sf_qstats_parse_group(r, "workers");
    CHECK_INT(g.found, 1);
    CHECK_INT(g.pending, 1);
    CHECK_INT(g.lag, 0);
    g = sf_qstats_parse_group(r, "nobody");
    CHECK_INT(g.found, 0);
    freeReplyObject(r);
    /* Redis 6: no lag field at all -> unknown */
    r = resp("*1\r\n*4\r\n$4\r\nname\r\n$7\r\nworkers\r\n$7\r\npending\r\n:2\r\n");
    g = sf_qstats_parse_group(r, "workers");
    CHECK_INT(g.found, 1);
    CHECK_INT(g.lag, -1);
    freeReplyObject(r);
}

static void test_group_hostile(void) {
    const char *cases[] = {
        "*0\r\n", ":5\r\n", "$3\r\nabc\r\n", "*1\r\n:1\r\n",
        "*1\r\n*3\r\n$4\r\nname\r\n$7\r\nworkers\r\n$3\r\nlag\r\n",
        "*1\r\n*4\r\n$4\r\nname\r\n:7\r\n$3\r\nlag\r\n:1\r\n",
        "*1\r\n*4\r\n$4\r\nname\r\n$7\r\nworkers\r\n$3\r\nlag\r\n$2\r\nxx\r\n",
        "*1\r\n*4\r\n$4\r\nname\r\n$7\r\nworkers\r\n$3\r\nlag\r\n:-7\r\n",
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        redisReply *r = resp(cases[i]);
        CHECK(r != NULL);
        sf_qstats_group g = sf_qstats_parse_group(r, "workers");
        CHECK(g.lag >= -1);
        CHECK(g.found == 0 || i >= 4);
        freeReplyObject(r);
    }
    sf_qstats_group g = sf_qstats_parse_group(NULL, "workers");
    CHECK_INT(g.found, 0);
}

static void test_oldest_pending(void) {
    redisReply *r = resp("*4\r\n:2\r\n$15\r\n1700000000000-3\r\n"
                         "$15\r\n1700000005000-0\r\n"
                         "*1\r\n*2\r\n$2\r\nw1\r\n$1\r\n2\r\n");
    CHECK_INT(sf_qstats_oldest_pending_ms(r, 1700000012500), 12500);
    /* a clock behind the id's: 0, not negative */
    CHECK_INT(sf_qstats_oldest_pending_ms(r, 1699999999000), 0);
    freeReplyObject(r);
    /* nothing pending: [0, nil, nil, nil] */
    r = resp("*4\r\n:0\r\n$-1\r\n$-1\r\n*-1\r\n");
    CHECK_INT(sf_qstats_oldest_pending_ms(r, 1700000012500), 0);
    freeReplyObject(r);
    /* odd shapes */
    const char *cases[] = {"*0\r\n", ":3\r\n", "*2\r\n:1\r\n:5\r\n",
                           "*2\r\n:1\r\n$3\r\nx-1\r\n", "*2\r\n:1\r\n$1\r\n-\r\n",
                           "*2\r\n:1\r\n$5\r\n-5-00\r\n"};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        r = resp(cases[i]);
        CHECK(r != NULL);
        CHECK_INT(sf_qstats_oldest_pending_ms(r, 1000), 0);
        freeReplyObject(r);
    }
    /* an id without a sequence part still has its ms */
    r = resp("*2\r\n:1\r\n$3\r\n400\r\n");
    CHECK_INT(sf_qstats_oldest_pending_ms(r, 1000), 600);
    freeReplyObject(r);
    CHECK_INT(sf_qstats_oldest_pending_ms(NULL, 1000), 0);
}

static void test_missing(void) {
    redisReply *r = resp("-ERR no such key\r\n");
    CHECK_INT(sf_qstats_missing(r), 1);
    freeReplyObject(r);
    r = resp("-NOGROUP No such key 'x' or consumer group 'workers'\r\n");
    CHECK_INT(sf_qstats_missing(r), 1);
    freeReplyObject(r);
    r = resp("-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    CHECK_INT(sf_qstats_missing(r), 0);
    freeReplyObject(r);
    r = resp(":0\r\n");
    CHECK_INT(sf_qstats_missing(r), 0);
    freeReplyObject(r);
    CHECK_INT(sf_qstats_missing(NULL), 0);
}

static void test_state_names(void) {
    CHECK_STR(sf_cbstate_names[SF_CBSTATE_INPROGRESS], "CALLBACK_INPROGRESS");
    CHECK_STR(sf_cbstate_names[SF_CBSTATE_SUCCESS], "CALLBACK_SUCCESS");
    CHECK_STR(sf_cbstate_names[SF_CBSTATE_FAIL], "CALLBACK_FAIL");
    CHECK_STR(sf_cbstate_names[SF_CBSTATE_CANCELED], "CALLBACK_CANCELED");
    CHECK_STR(sf_cbstate_names[SF_CBSTATE_NONE], "NONE");
}

static void test_parse_info(void) {
    const char *t = "# Memory\r\nused_memory:1048576\r\nused_memory_human:1.00M\r\n"
                    "maxmemory:0\r\nmaxmemory_policy:noeviction\r\n\r\n"
                    "# Persistence\r\naof_enabled:1\r\n"
                    "rdb_last_bgsave_status:ok\r\naof_last_bgrewrite_status:ok\r\n"
                    "aof_last_write_status:ok\r\n";
    sf_qstats_redis r;
    sf_qstats_parse_info(t, strlen(t), &r);
    CHECK_INT(r.used_memory, 1048576); /* not used_memory_human */
    CHECK_INT(r.maxmemory, 0);         /* not maxmemory_policy */
    CHECK_INT(r.aof_enabled, 1);
    CHECK_INT(r.persistence_ok, 1);
    const char *bad = "aof_last_write_status:err\r\nrdb_last_bgsave_status:ok\r\n";
    sf_qstats_parse_info(bad, strlen(bad), &r);
    CHECK_INT(r.persistence_ok, 0);
    CHECK_INT(r.used_memory, -1);
    CHECK_INT(r.aof_enabled, -1);
    /* "okay" is not "ok"; a truncated text is not a crash */
    const char *odd = "aof_last_write_status:okay\r\nused_memory:";
    sf_qstats_parse_info(odd, strlen(odd), &r);
    CHECK_INT(r.persistence_ok, 0);
    CHECK_INT(r.used_memory, -1);
    sf_qstats_parse_info("", 0, &r);
    CHECK_INT(r.persistence_ok, -1);
}

TEST_MAIN({"group_lag_known", test_group_lag_known},
          {"group_lag_nil", test_group_lag_nil},
          {"group_other_groups", test_group_other_groups},
          {"group_hostile", test_group_hostile},
          {"oldest_pending", test_oldest_pending},
          {"missing", test_missing},
          {"state_names", test_state_names},
          {"parse_info", test_parse_info})
