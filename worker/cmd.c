#include "cmd.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* Empty command for "script" (NULL: plain) with "nkeys" keys. */
void sf_cmd_init(sf_cmd *c, const char *script, int nkeys) {
    memset(c, 0, sizeof(*c));
    c->script = script;
    c->nkeys = nkeys;
}

/* Frees every argument copy; "c" is zeroed. */
void sf_cmd_cleanup(sf_cmd *c) {
    for (int i = 0; i < c->argc; i++)
        free(c->argv[i]);
    free(c->argv);
    free(c->len);
    memset(c, 0, sizeof(*c));
}

/* Appends a copy of the "n" bytes at "p" (NUL-terminated for logs). */
void sf_cmd_add(sf_cmd *c, const void *p, size_t n) {
    if (c->argc == c->cap) {
        int cap = c->cap ? c->cap * 2 : 16;
        char **v = realloc(c->argv, (size_t)cap * sizeof(*v));
        sf_assert(v);
        c->argv = v;
        size_t *l = realloc(c->len, (size_t)cap * sizeof(*l));
        sf_assert(l);
        c->len = l;
        c->cap = cap;
    }
    char *copy = malloc(n + 1);
    sf_assert(copy);
    if (n) memcpy(copy, p, n);
    copy[n] = '\0';
    c->argv[c->argc] = copy;
    c->len[c->argc] = n;
    c->argc++;
}

/* Appends C string "s" (NULL = ""). */
void sf_cmd_adds(sf_cmd *c, const char *s) {
    if (!s) s = "";
    sf_cmd_add(c, s, strlen(s));
}

/* Appends "v" in decimal. */
void sf_cmd_addi(sf_cmd *c, int64_t v) {
    char tmp[32];
    int n = snprintf(tmp, sizeof(tmp), "%" PRId64, v);
    sf_cmd_add(c, tmp, (size_t)n);
}

/* EVALSHA (scripts) or the plain command on "conn"; SF_AGAIN when down. */
sf_status sf_cmd_send(const sf_cmd *c, sf_rconn *conn, redisCallbackFn *fn,
                      void *privdata) {
    if (c->script)
        return sf_rconn_evalsha(conn, c->script, fn, privdata, c->nkeys,
                                c->argc, (const char **)c->argv, c->len);
    return sf_rconn_command(conn, fn, privdata, c->argc, (const char **)c->argv,
                            c->len);
}
