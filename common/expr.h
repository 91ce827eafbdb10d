/* expr.h - the Upstash-Retry-Delay expression language.
 *
 * Grammar (whitespace ignored):
 *   expr    := term (('+' | '-') term)*
 *   term    := unary (('*' | '/' | '%') unary)*
 *   unary   := ('-' | '+') unary | primary
 *   primary := NUMBER | 'retried' | FUNC '(' args ')' | '(' expr ')'
 *   FUNC    := pow(2) sqrt(1) abs(1) exp(1) floor(1) ceil(1) round(1)
 *              min(2+) max(2+)
 * The value is a delay in milliseconds; `retried` is 0 on the first retry.
 *
 * An expression is parsed once (at publish time, to reject bad input with
 * the byte position of the error) into a small AST that is evaluated per
 * retry.  Pure: no I/O, no globals. */
#ifndef SF_EXPR_H
#define SF_EXPR_H

#include <stdint.h>
#include "err.h"

typedef struct sf_expr sf_expr;

/* Parses "src"; returns NULL with "... at position N" in "err" on error. */
sf_expr *sf_expr_parse(const char *src, sf_err *err);
void sf_expr_free(sf_expr *e);

/* Evaluates with `retried` = "retried".  Division or modulo by zero, NaN and
 * infinities are SF_INVALID.  The result is not clamped. */
sf_status sf_expr_eval(const sf_expr *e, double retried, double *out,
                       sf_err *err);

/* Convenience for the worker: parse + eval, result in ms clamped to
 * [0, 86400000]; on any error falls back to the default backoff. */
int64_t sf_expr_delay_ms(const char *src, int retried);

#endif
