/* test_expr.c - the Upstash-Retry-Delay expression parser and evaluator. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backoff.h"
#include "expr.h"
#include "harness.h"

/* Parses and evaluates "src" with "retried"; NAN on any error. */
static double ev(const char *src, double retried) {
    sf_err err = {{0}};
    sf_expr *e = sf_expr_parse(src, &err);
    if (!e) {
        fprintf(stderr, "  parse(%s): %s\n", src, err.msg);
        return NAN;
    }
    double v;
    sf_status st = sf_expr_eval(e, retried, &v, &err);
    sf_expr_free(e);
    return st == SF_OK ? v : NAN;
}

#define CHECK_EV(src, retried, want) CHECK(fabs(ev(src, retried) - (want)) < 1e-9)

/* Returns the parse error for "src" (static buffer), or "OK". */
static const char *perr(const char *src) {
    static sf_err err;
    memset(&err, 0, sizeof(err));
    sf_expr *e = sf_expr_parse(src, &err);
    if (e) {
        sf_expr_free(e);
        return "OK";
    }
    return err.msg;
}

/* Returns the eval error for "src" (static buffer), or "OK". */
static const char *eerr(const char *src, double retried) {
    static sf_err err;
    memset(&err, 0, sizeof(err));
    sf_expr *e = sf_expr_parse(src, &err);
    if (!e) return "PARSE";
    double v;
    sf_status st = sf_expr_eval(e, retried, &v, &err);
    sf_expr_free(e);
    return st == SF_OK ? "OK" : err.msg;
}

static void numbers(void) {
    CHECK_EV("0", 0, 0);
    CHECK_EV("42", 0, 42);
    CHECK_EV("1.5", 0, 1.5);
    CHECK_EV(".5", 0, 0.5);
    CHECK_EV("2.", 0, 2);
    CHECK_EV("1e3", 0, 1000);
    CHECK_EV("2.5E-1", 0, 0.25);
    CHECK_EV("1e+2", 0, 100);
    CHECK_EV("  \t7 \n", 0, 7);
    CHECK_EV("007", 0, 7);
}

static void precedence_and_associativity(void) {
    CHECK_EV("2-3-4", 0, -5);
    CHECK_EV("2*3+4", 0, 10);
    CHECK_EV("2+3*4", 0, 14);
    CHECK_EV("8/2/2", 0, 2);
    CHECK_EV("-2*3", 0, -6);
    CHECK_EV("7%3", 0, 1);
    CHECK_EV("-7%3", 0, -1);
    CHECK_EV("7.5%2", 0, 1.5);
    CHECK_EV("2*3%4", 0, 2);   /* (2*3)%4 */
    CHECK_EV("10-2+3", 0, 11); /* (10-2)+3 */
    CHECK_EV("--3", 0, 3);
    CHECK_EV("+3", 0, 3);
    CHECK_EV("-+-3", 0, 3);
    CHECK_EV("2--3", 0, 5);
    CHECK_EV("-(2+3)*2", 0, -10);
    CHECK_EV("((((1+2))))*((3))", 0, 9);
    CHECK_EV("(2+3)*(4-1)/5", 0, 3);
}

static void functions(void) {
    CHECK_EV("pow(2, 10)", 0, 1024);
    CHECK_EV("pow(2,0.5)", 0, sqrt(2));
    CHECK_EV("sqrt(16)", 0, 4);
    CHECK_EV("abs(-3.5)", 0, 3.5);
    CHECK_EV("abs(3)", 0, 3);
    CHECK_EV("exp(0)", 0, 1);
    CHECK_EV("exp(1)", 0, exp(1));
    CHECK_EV("floor(2.7)", 0, 2);
    CHECK_EV("floor(-2.2)", 0, -3);
    CHECK_EV("ceil(2.1)", 0, 3);
    CHECK_EV("ceil(-2.7)", 0, -2);
    CHECK_EV("round(2.5)", 0, 3);
    CHECK_EV("round(2.4)", 0, 2);
    CHECK_EV("round(-2.5)", 0, -3); /* halves away from zero */
    CHECK_EV("min(3, 1)", 0, 1);
    CHECK_EV("min(3, 1, 2, -4, 5)", 0, -4);
    CHECK_EV("max(3, 1)", 0, 3);
    CHECK_EV("max(3, 1, 9, 2)", 0, 9);
    CHECK_EV("max(min(5, 2), pow(1 + 1, 2))", 0, 4);
    CHECK_EV("sqrt(pow(3,2)+pow(4,2))", 0, 5);
}

static void retried_variable(void) {
    CHECK_EV("retried", 0, 0);
    CHECK_EV("retried", 3, 3);
    CHECK_EV("1000 * (retried + 1)", 2, 3000);
    CHECK_EV("pow(2, retried) * 1000", 4, 16000);
    CHECK_EV("min(86400000, 1000 * pow(2, retried))", 40, 86400000);
    /* one AST, many evaluations */
    sf_expr *e = sf_expr_parse("100 + retried * 10", NULL);
    CHECK(e != NULL);
    for (int i = 0; e && i < 5; i++) {
        double v = -1;
        CHECK(sf_expr_eval(e, i, &v, NULL) == SF_OK);
        CHECK(v == 100 + i * 10);
    }
    sf_expr_free(e);
}

static void parse_errors_with_positions(void) {
    CHECK_STR(perr(""), "empty expression");
    CHECK_STR(perr("   "), "empty expression");
    CHECK_STR(perr(NULL), "empty expression");
    CHECK_STR(perr("(1 + 2))"), "unexpected ')' at position 7");
    CHECK_STR(perr(")"), "unexpected ')' at position 0");
    CHECK_STR(perr("()"), "unexpected ')' at position 1");
    CHECK_STR(perr("foo"), "unknown identifier 'foo' at position 0");
    CHECK_STR(perr("1 + bar * 2"), "unknown identifier 'bar' at position 4");
    CHECK_STR(perr("Retried"), "unknown identifier 'Retried' at position 0");
    CHECK_STR(perr("max(1, (2 + 3"), "expected ')' at position 13");
    CHECK_STR(perr("pow(2, 3"), "expected ')' at position 8");
    CHECK_STR(perr("pow(2 3)"), "expected ')' at position 6");
    CHECK_STR(perr("(1"), "expected ')' at position 2");
    CHECK_STR(perr("pow(2)"), "pow takes 2 arguments at position 0");
    CHECK_STR(perr("1 + pow(1, 2, 3)"), "pow takes 2 arguments at position 4");
    CHECK_STR(perr("sqrt()"), "sqrt takes 1 argument at position 0");
    CHECK_STR(perr("abs(1,2)"), "abs takes 1 argument at position 0");
    CHECK_STR(perr("min(1)"), "min takes at least 2 arguments at position 0");
    CHECK_STR(perr("max()"), "max takes at least 2 arguments at position 0");
    CHECK_STR(perr("pow 2"), "expected '(' after pow at position 4");
    CHECK_STR(perr("floor"), "expected '(' after floor at position 5");
    CHECK_STR(perr("1 2"), "trailing input at position 2");
    CHECK_STR(perr("retried retried"), "trailing input at position 8");
    CHECK_STR(perr("1 +"), "unexpected end of input at position 3");
    CHECK_STR(perr("* 2"), "unexpected '*' at position 0");
    CHECK_STR(perr("2 * / 3"), "unexpected '/' at position 4");
    CHECK_STR(perr("min(1,,2)"), "unexpected ',' at position 6");
    CHECK_STR(perr("1, 2"), "trailing input at position 1");
    CHECK_STR(perr("2 ^ 3"), "unexpected character '^' at position 2");
    CHECK_STR(perr("2 \x01"), "unexpected byte 0x01 at position 2");
    CHECK_STR(perr("1e"), "malformed number at position 0");
    CHECK_STR(perr("3 + 1e+"), "malformed number at position 4");
    CHECK_STR(perr("12abc"), "malformed number at position 0");
    CHECK_STR(perr("."), "malformed number at position 0");
    CHECK_STR(perr("1e999"), "number out of range at position 0");
    CHECK_STR(perr("0x10"), "malformed number at position 0");
    CHECK_STR(perr("inf"), "unknown identifier 'inf' at position 0");
    CHECK_STR(perr("nan"), "unknown identifier 'nan' at position 0");
}

static void eval_errors(void) {
    CHECK_STR(eerr("1/0", 0), "division by zero at position 1");
    CHECK_STR(eerr("1 % (retried - 2)", 2), "modulo by zero at position 2");
    CHECK_STR(eerr("1 % (retried - 2)", 3), "OK");
    CHECK_STR(eerr("0/0", 0), "division by zero at position 1");
    CHECK_STR(eerr("sqrt(-1)", 0), "result is not a finite number at position 0");
    CHECK_STR(eerr("1 + exp(1000)", 0),
              "result is not a finite number at position 4");
    CHECK_STR(eerr("1e308 * 10", 0),
              "result is not a finite number at position 6");
    CHECK_STR(eerr("pow(0, -1)", 0),
              "result is not a finite number at position 0");
    double v;
    CHECK(sf_expr_eval(NULL, 0, &v, NULL) == SF_INVALID);
    sf_expr *e = sf_expr_parse("retried", NULL);
    CHECK(sf_expr_eval(e, NAN, &v, NULL) == SF_INVALID);
    CHECK(sf_expr_eval(e, INFINITY, &v, NULL) == SF_INVALID);
    sf_expr_free(e);
    sf_expr_free(NULL);
}

/* Builds "open" x n, "1", "close" x n into a malloc'd string. */
static char *nest(const char *open, const char *close, int n) {
    size_t lo = strlen(open), lc = strlen(close);
    char *s = malloc((lo + lc) * (size_t)n + 2);
    char *p = s;
    for (int i = 0; i < n; i++, p += lo) memcpy(p, open, lo);
    *p++ = '1';
    for (int i = 0; i < n; i++, p += lc) memcpy(p, close, lc);
    *p = '\0';
    return s;
}

static void depth_and_length_limits(void) {
    char *s = nest("(", ")", 64);
    CHECK_EV(s, 0, 1);
    free(s);
    s = nest("(", ")", 65);
    CHECK(strstr(perr(s), "nested too deeply") != NULL);
    CHECK(strstr(perr(s), "at position 64") != NULL);
    free(s);
    s = nest("-", "", 64);
    CHECK_EV(s, 0, 1);
    free(s);
    s = nest("-", "", 200);
    CHECK(strstr(perr(s), "nested too deeply") != NULL);
    free(s);
    s = nest("abs(", ")", 65);
    CHECK(strstr(perr(s), "nested too deeply") != NULL);
    free(s);
    s = nest("(", "", 1000); /* unbalanced, hostile */
    CHECK(strstr(perr(s), "nested too deeply") != NULL);
    free(s);

    /* 1+1+...+1: long but flat, within the length limit */
    char buf[2048];
    size_t n = 0;
    buf[n++] = '1';
    while (n + 2 <= 1024) buf[n++] = '+', buf[n++] = '1';
    buf[n] = '\0';
    CHECK_EV(buf, 0, (double)(n + 1) / 2);
    buf[n++] = ' ';
    buf[n++] = ' ';
    buf[n] = '\0';
    CHECK(strstr(perr(buf), "too long") != NULL);
    memset(buf, '(', 2000);
    buf[2000] = '\0';
    CHECK(strstr(perr(buf), "too long") != NULL);
    /* a long identifier is truncated in the message */
    memset(buf, 'a', 500);
    buf[500] = '\0';
    CHECK(strstr(perr(buf), "unknown identifier 'aaaa") != NULL);
    CHECK(strlen(perr(buf)) < 100);
}

static void delay_ms(void) {
    CHECK_INT(sf_expr_delay_ms("1000", 0), 1000);
    CHECK_INT(sf_expr_delay_ms("1000 * (retried + 1)", 2), 3000);
    CHECK_INT(sf_expr_delay_ms("1.4", 0), 1);
    CHECK_INT(sf_expr_delay_ms("1.5", 0), 2);
    CHECK_INT(sf_expr_delay_ms("-5000", 0), 0);
    CHECK_INT(sf_expr_delay_ms("1e12", 0), 86400000);
    CHECK_INT(sf_expr_delay_ms("86400001", 0), 86400000);
    /* errors fall back to the default backoff, n = retried + 1 */
    CHECK_INT(sf_expr_delay_ms(NULL, 0), sf_backoff_default_ms(1));
    CHECK_INT(sf_expr_delay_ms("foo", 0), 12182);
    CHECK_INT(sf_expr_delay_ms("1/0", 1), sf_backoff_default_ms(2));
    CHECK_INT(sf_expr_delay_ms("1/retried", 0), 12182);
    CHECK_INT(sf_expr_delay_ms("1/retried", 4), 0);
    CHECK_INT(sf_expr_delay_ms("", 5), 86400000);
    CHECK_INT(sf_expr_delay_ms("x", -3), 12182);
    CHECK_INT(sf_expr_delay_ms("x", 2147483647), 86400000);
}

/* Deterministic mini-fuzz: random strings over the language's alphabet
 * must parse or fail cleanly, never crash (run it under ASan/UBSan). */
static void random_inputs_do_not_crash(void) {
    static const char *const pieces[] = {
        "0", "7", "1.5", ".", "e", "e-", "+", "-", "*", "/", "%", "(", ")",
        ",", " ", "retried", "pow", "sqrt", "min", "max", "abs(", "1e308",
        "exp(", "round(", "x", "\xff",
    };
    const int npieces = (int)(sizeof(pieces) / sizeof(pieces[0]));
    unsigned seed = 12345;
    char buf[256];
    int parsed = 0;
    for (int iter = 0; iter < 3000; iter++) {
        size_t n = 0;
        seed = seed * 1103515245u + 12345u;
        int count = 1 + (int)((seed >> 16) % 24);
        for (int k = 0; k < count; k++) {
            seed = seed * 1103515245u + 12345u;
            const char *pc = pieces[(seed >> 16) % (unsigned)npieces];
            size_t l = strlen(pc);
            if (n + l >= sizeof(buf)) break;
            memcpy(buf + n, pc, l);
            n += l;
        }
        buf[n] = '\0';
        sf_err err = {{0}};
        sf_expr *e = sf_expr_parse(buf, &err);
        if (e) {
            double v;
            parsed++;
            if (sf_expr_eval(e, iter % 7, &v, &err) == SF_OK) CHECK(isfinite(v));
            sf_expr_free(e);
        } else {
            CHECK(err.msg[0] != '\0');
        }
        int64_t d = sf_expr_delay_ms(buf, iter % 9);
        CHECK(d >= 0 && d <= 86400000);
    }
    CHECK(parsed > 0);
}

TEST_MAIN(T(numbers), T(precedence_and_associativity), T(functions),
          T(retried_variable), T(parse_errors_with_positions),
          T(eval_errors), T(depth_and_length_limits), T(delay_ms),
          T(random_inputs_do_not_crash))
