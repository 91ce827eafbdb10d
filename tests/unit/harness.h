/* harness.h - a tiny unit-test harness: CHECK records failures and goes on,
 * TEST_MAIN runs the listed tests and prints "N passed, N failed". */
#ifndef SF_TEST_HARNESS_H
#define SF_TEST_HARNESS_H

#include <stdio.h>
#include <string.h>

static int sf_t_failed_checks;
static int sf_t_current_failed;

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "  FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);  \
            sf_t_failed_checks++;                                              \
            sf_t_current_failed = 1;                                           \
        }                                                                      \
    } while (0)
#define CHECK_STR(a, b)                                                        \
    do {                                                                       \
        const char *sf_t_a = (a), *sf_t_b = (b);                               \
        if (!sf_t_a || !sf_t_b || strcmp(sf_t_a, sf_t_b) != 0) {               \
            fprintf(stderr, "  FAIL %s:%d: \"%s\" != \"%s\"\n", __FILE__,      \
                    __LINE__, sf_t_a ? sf_t_a : "(null)",                      \
                    sf_t_b ? sf_t_b : "(null)");                               \
            sf_t_failed_checks++;                                              \
            sf_t_current_failed = 1;                                           \
        }                                                                      \
    } while (0)
#define CHECK_INT(a, b)                                                        \
    do {                                                                       \
        long long sf_t_x = (long long)(a), sf_t_y = (long long)(b);            \
        if (sf_t_x != sf_t_y) {                                                \
            fprintf(stderr, "  FAIL %s:%d: %s = %lld, want %lld\n", __FILE__,  \
                    __LINE__, #a, sf_t_x, sf_t_y);                             \
            sf_t_failed_checks++;                                              \
            sf_t_current_failed = 1;                                           \
        }                                                                      \
    } while (0)

typedef struct sf_test_case {
    const char *name;
    void (*fn)(void);
} sf_test_case;

#define TEST_MAIN(...)                                                         \
    int main(void) {                                                           \
        sf_test_case cases[] = {__VA_ARGS__};                                  \
        int passed = 0, failed = 0;                                            \
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {       \
            sf_t_current_failed = 0;                                           \
            cases[i].fn();                                                     \
            if (sf_t_current_failed) {                                         \
                failed++;                                                      \
                printf("not ok %s\n", cases[i].name);                          \
            } else {                                                           \
                passed++;                                                      \
                printf("ok %s\n", cases[i].name);                              \
            }                                                                  \
        }                                                                      \
        printf("%d passed, %d failed\n", passed, failed);                      \
        return failed ? 1 : 0;                                                 \
    }
#define T(fn) {#fn, fn}

#endif
