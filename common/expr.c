/* expr.c - the Upstash-Retry-Delay expression language: a recursive-descent
 * parser into a flat AST and a recursive evaluator.
 *
 * Why a flat AST: every node lives in one array owned by the sf_expr, so a
 * parse error frees one block and there is no per-node allocation.  Nodes
 * refer to their children by index.
 *
 * Hostile input is bounded twice: the source may be at most SF_EXPR_MAX_LEN
 * bytes, and the parser refuses more than SF_EXPR_MAX_DEPTH nested
 * parentheses, unary signs or function calls.  The evaluator recurses over
 * the tree; its depth is bounded by the node count, which is bounded by the
 * source length, so neither can exhaust the stack.
 *
 * Numeric choices: `%` is fmod (the result has the dividend's sign, as in C
 * and JavaScript); round() rounds halves away from zero (C round, Go
 * math.Round).  Every intermediate value must be finite: NaN or an infinity
 * anywhere (sqrt(-1), exp(1000), 1e308*10) is an evaluation error. */
#include "expr.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backoff.h"

#define SF_EXPR_MAX_LEN 1024  /* bytes of source */
#define SF_EXPR_MAX_DEPTH 64  /* nested parens / unary signs / calls */

typedef enum node_kind {
    N_NUM,     /* literal: num */
    N_RETRIED, /* the `retried` variable */
    N_NEG,     /* unary minus of left */
    N_BIN,     /* left op right, op in + - * / % */
    N_CALL,    /* func applied to the list starting at left, chained by next */
} node_kind;

typedef enum func_id {
    F_POW, F_SQRT, F_ABS, F_EXP, F_FLOOR, F_CEIL, F_ROUND, F_MIN, F_MAX,
} func_id;

typedef struct func_def {
    const char *name;
    func_id id;
    int min_args;
    int max_args; /* -1 = unbounded */
} func_def;

static const func_def funcs[] = {
    {"pow", F_POW, 2, 2},     {"sqrt", F_SQRT, 1, 1},
    {"abs", F_ABS, 1, 1},     {"exp", F_EXP, 1, 1},
    {"floor", F_FLOOR, 1, 1}, {"ceil", F_CEIL, 1, 1},
    {"round", F_ROUND, 1, 1}, {"min", F_MIN, 2, -1},
    {"max", F_MAX, 2, -1},
};

typedef struct node {
    node_kind kind;
    char op;      /* N_BIN operator */
    func_id func; /* N_CALL */
    int left;     /* child index, or first argument; -1 = none */
    int right;    /* child index; -1 = none */
    int next;     /* next argument of the enclosing call; -1 = last */
    int pos;      /* byte offset of the token, for error messages */
    double num;   /* N_NUM */
} node;

struct sf_expr {
    node *nodes; /* owned; nodes[root] is the whole expression */
    int count;
    int cap;
    int root;
};

typedef enum tok_kind {
    T_END, T_NUM, T_IDENT, T_PLUS, T_MINUS, T_STAR, T_SLASH, T_PERCENT,
    T_LPAREN, T_RPAREN, T_COMMA,
} tok_kind;

typedef struct parser {
    const char *src; /* borrowed from the caller of sf_expr_parse */
    size_t len;
    size_t pos;      /* next unread byte */
    tok_kind tok;    /* current token */
    size_t tok_pos;  /* its byte offset */
    size_t tok_len;  /* its length in bytes */
    double tok_num;  /* its value when T_NUM */
    int depth;
    sf_expr *e;
    sf_err *err;
    int failed;      /* set once; the first error wins */
} parser;

static void fail(parser *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void fail(parser *p, const char *fmt, ...) {
    if (p->failed) return;
    p->failed = 1;
    if (!p->err) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err->msg, sizeof(p->err->msg), fmt, ap);
    va_end(ap);
}

/* Describes the current token for "unexpected X" messages. */
static void describe_tok(const parser *p, char *out, size_t out_size) {
    if (p->tok == T_END) {
        snprintf(out, out_size, "end of input");
    } else if (p->tok == T_NUM || p->tok == T_IDENT) {
        int n = p->tok_len > 32 ? 32 : (int)p->tok_len;
        snprintf(out, out_size, "'%.*s%s'", n, p->src + p->tok_pos,
                 p->tok_len > 32 ? "..." : "");
    } else {
        snprintf(out, out_size, "'%c'", p->src[p->tok_pos]);
    }
}

static void fail_unexpected(parser *p) {
    char what[48];
    describe_tok(p, what, sizeof(what));
    fail(p, "unexpected %s at position %zu", what, p->tok_pos);
}

static int is_ident_start(int c) { return isalpha(c) || c == '_'; }
static int is_ident_char(int c) { return isalnum(c) || c == '_'; }

/* Scans a number at p->pos: digits [ '.' digits ] [ ('e'|'E') [+-] digits ],
 * or '.' digits ...; only these bytes reach strtod, so no hex, inf or nan. */
static void lex_number(parser *p) {
    const char *s = p->src;
    size_t i = p->pos, start = p->pos;
    size_t int_digits = 0, frac_digits = 0;
    while (i < p->len && isdigit((unsigned char)s[i])) i++, int_digits++;
    if (i < p->len && s[i] == '.') {
        i++;
        while (i < p->len && isdigit((unsigned char)s[i])) i++, frac_digits++;
    }
    if (int_digits + frac_digits == 0) {
        fail(p, "malformed number at position %zu", start);
        return;
    }
    if (i < p->len && (s[i] == 'e' || s[i] == 'E')) {
        size_t j = i + 1, exp_digits = 0;
        if (j < p->len && (s[j] == '+' || s[j] == '-')) j++;
        while (j < p->len && isdigit((unsigned char)s[j])) j++, exp_digits++;
        if (exp_digits == 0) {
            fail(p, "malformed number at position %zu", start);
            return;
        }
        i = j;
    }
    if (i < p->len && is_ident_char((unsigned char)s[i])) {
        fail(p, "malformed number at position %zu", start);
        return;
    }
    char buf[SF_EXPR_MAX_LEN + 1];
    memcpy(buf, s + start, i - start);
    buf[i - start] = '\0';
    double v = strtod(buf, NULL);
    if (!isfinite(v)) {
        fail(p, "number out of range at position %zu", start);
        return;
    }
    p->tok = T_NUM;
    p->tok_num = v;
    p->pos = i;
}

/* Advances to the next token; on a bad byte sets the error and T_END. */
static void next(parser *p) {
    const char *s = p->src;
    while (p->pos < p->len && (s[p->pos] == ' ' || s[p->pos] == '\t' ||
                               s[p->pos] == '\n' || s[p->pos] == '\r'))
        p->pos++;
    p->tok_pos = p->pos;
    p->tok = T_END;
    if (p->failed || p->pos >= p->len) {
        p->tok_len = 0;
        return;
    }
    unsigned char c = (unsigned char)s[p->pos];
    if (isdigit(c) || c == '.') {
        lex_number(p);
    } else if (is_ident_start(c)) {
        while (p->pos < p->len && is_ident_char((unsigned char)s[p->pos]))
            p->pos++;
        p->tok = T_IDENT;
    } else {
        static const char ops[] = "+-*/%(),";
        static const tok_kind kinds[] = {T_PLUS,    T_MINUS,   T_STAR,
                                         T_SLASH,   T_PERCENT, T_LPAREN,
                                         T_RPAREN,  T_COMMA};
        const char *hit = c ? strchr(ops, c) : NULL;
        if (hit) {
            p->tok = kinds[hit - ops];
            p->pos++;
        } else if (isprint(c)) {
            fail(p, "unexpected character '%c' at position %zu", c, p->pos);
        } else {
            fail(p, "unexpected byte 0x%02x at position %zu", c, p->pos);
        }
    }
    p->tok_len = p->pos - p->tok_pos;
    if (p->failed) p->tok = T_END;
}

/* Appends a node and returns its index, or -1 on allocation failure. */
static int add_node(parser *p, node_kind kind, size_t pos) {
    sf_expr *e = p->e;
    if (e->count == e->cap) {
        int cap = e->cap ? e->cap * 2 : 16;
        node *n = realloc(e->nodes, (size_t)cap * sizeof(*n));
        if (!n) {
            fail(p, "out of memory");
            return -1;
        }
        e->nodes = n;
        e->cap = cap;
    }
    node *n = &e->nodes[e->count];
    memset(n, 0, sizeof(*n));
    n->kind = kind;
    n->left = n->right = n->next = -1;
    n->pos = (int)pos;
    return e->count++;
}

static int parse_expr(parser *p);

static int enter(parser *p) {
    if (++p->depth > SF_EXPR_MAX_DEPTH) {
        fail(p, "expression nested too deeply (max %d) at position %zu",
             SF_EXPR_MAX_DEPTH, p->tok_pos);
        return -1;
    }
    return 0;
}

static const func_def *find_func(const char *name, size_t len) {
    for (size_t i = 0; i < sizeof(funcs) / sizeof(funcs[0]); i++)
        if (strlen(funcs[i].name) == len && memcmp(funcs[i].name, name, len) == 0)
            return &funcs[i];
    return NULL;
}

/* FUNC '(' expr (',' expr)* ')' with the current token on the name. */
static int parse_call(parser *p, const func_def *f) {
    size_t name_pos = p->tok_pos;
    int call = add_node(p, N_CALL, name_pos);
    if (call < 0) return -1;
    p->e->nodes[call].func = f->id;
    next(p);
    if (p->tok != T_LPAREN) {
        if (!p->failed)
            fail(p, "expected '(' after %s at position %zu", f->name,
                 p->tok_pos);
        return -1;
    }
    next(p);
    int nargs = 0, last = -1;
    if (p->tok != T_RPAREN) {
        for (;;) {
            int arg = parse_expr(p);
            if (arg < 0) return -1;
            if (last < 0)
                p->e->nodes[call].left = arg;
            else
                p->e->nodes[last].next = arg;
            last = arg;
            nargs++;
            if (p->tok != T_COMMA) break;
            next(p);
        }
    }
    if (p->tok != T_RPAREN) {
        if (!p->failed) fail(p, "expected ')' at position %zu", p->tok_pos);
        return -1;
    }
    if (nargs < f->min_args || (f->max_args >= 0 && nargs > f->max_args)) {
        if (f->max_args < 0)
            fail(p, "%s takes at least %d arguments at position %zu", f->name,
                 f->min_args, name_pos);
        else
            fail(p, "%s takes %d argument%s at position %zu", f->name,
                 f->min_args, f->min_args == 1 ? "" : "s", name_pos);
        return -1;
    }
    next(p);
    return call;
}

/* primary := NUMBER | 'retried' | FUNC '(' args ')' | '(' expr ')' */
static int parse_primary(parser *p) {
    if (p->failed) return -1;
    switch (p->tok) {
    case T_NUM: {
        int n = add_node(p, N_NUM, p->tok_pos);
        if (n < 0) return -1;
        p->e->nodes[n].num = p->tok_num;
        next(p);
        return n;
    }
    case T_IDENT: {
        const char *name = p->src + p->tok_pos;
        size_t len = p->tok_len;
        if (len == 7 && memcmp(name, "retried", 7) == 0) {
            int n = add_node(p, N_RETRIED, p->tok_pos);
            if (n < 0) return -1;
            next(p);
            return n;
        }
        const func_def *f = find_func(name, len);
        if (!f) {
            int shown = len > 32 ? 32 : (int)len;
            fail(p, "unknown identifier '%.*s%s' at position %zu", shown, name,
                 len > 32 ? "..." : "", p->tok_pos);
            return -1;
        }
        if (enter(p) < 0) return -1;
        int n = parse_call(p, f);
        p->depth--;
        return n;
    }
    case T_LPAREN: {
        if (enter(p) < 0) return -1;
        next(p);
        int n = parse_expr(p);
        if (n >= 0 && p->tok != T_RPAREN) {
            if (!p->failed) fail(p, "expected ')' at position %zu", p->tok_pos);
            n = -1;
        }
        p->depth--;
        if (n >= 0) next(p);
        return n;
    }
    default:
        fail_unexpected(p);
        return -1;
    }
}

/* unary := ('-' | '+') unary | primary */
static int parse_unary(parser *p) {
    if (p->tok != T_MINUS && p->tok != T_PLUS) return parse_primary(p);
    size_t pos = p->tok_pos;
    int neg = p->tok == T_MINUS;
    if (enter(p) < 0) return -1;
    next(p);
    int operand = parse_unary(p);
    p->depth--;
    if (operand < 0 || !neg) return operand;
    int n = add_node(p, N_NEG, pos);
    if (n < 0) return -1;
    p->e->nodes[n].left = operand;
    return n;
}

static int make_bin(parser *p, char op, size_t pos, int left, int right) {
    int n = add_node(p, N_BIN, pos);
    if (n < 0) return -1;
    p->e->nodes[n].op = op;
    p->e->nodes[n].left = left;
    p->e->nodes[n].right = right;
    return n;
}

/* term := unary (('*' | '/' | '%') unary)*  (left-associative) */
static int parse_term(parser *p) {
    int left = parse_unary(p);
    while (left >= 0 &&
           (p->tok == T_STAR || p->tok == T_SLASH || p->tok == T_PERCENT)) {
        char op = p->src[p->tok_pos];
        size_t pos = p->tok_pos;
        next(p);
        int right = parse_unary(p);
        if (right < 0) return -1;
        left = make_bin(p, op, pos, left, right);
    }
    return left;
}

/* expr := term (('+' | '-') term)*  (left-associative) */
static int parse_expr(parser *p) {
    int left = parse_term(p);
    while (left >= 0 && (p->tok == T_PLUS || p->tok == T_MINUS)) {
        char op = p->src[p->tok_pos];
        size_t pos = p->tok_pos;
        next(p);
        int right = parse_term(p);
        if (right < 0) return -1;
        left = make_bin(p, op, pos, left, right);
    }
    return left;
}

/* Parses "src" into an AST.  Returns a new sf_expr (free with sf_expr_free)
 * or NULL with "<problem> at position N" (0-based byte offset) in "err". */
sf_expr *sf_expr_parse(const char *src, sf_err *err) {
    if (!src) {
        sf_err_set(err, "empty expression");
        return NULL;
    }
    size_t len = strlen(src);
    if (len > SF_EXPR_MAX_LEN) {
        sf_err_set(err, "expression too long (%zu bytes, max %d)", len,
                   SF_EXPR_MAX_LEN);
        return NULL;
    }
    sf_expr *e = calloc(1, sizeof(*e));
    if (!e) {
        sf_err_set(err, "out of memory");
        return NULL;
    }
    parser p = {.src = src, .len = len, .e = e, .err = err};
    next(&p);
    if (p.tok == T_END && !p.failed) {
        sf_err_set(err, "empty expression");
        sf_expr_free(e);
        return NULL;
    }
    e->root = parse_expr(&p);
    if (e->root >= 0 && p.tok != T_END) {
        if (p.tok == T_RPAREN)
            fail_unexpected(&p);
        else
            fail(&p, "trailing input at position %zu", p.tok_pos);
    }
    if (p.failed || e->root < 0) {
        if (!p.failed) sf_err_set(err, "invalid expression");
        sf_expr_free(e);
        return NULL;
    }
    return e;
}

/* Frees "e" and its nodes; NULL is a no-op. */
void sf_expr_free(sf_expr *e) {
    if (!e) return;
    free(e->nodes);
    free(e);
}

static sf_status eval_node(const sf_expr *e, int i, double retried,
                           double *out, sf_err *err);

static sf_status eval_call(const sf_expr *e, const node *n, double retried,
                           double *out, sf_err *err) {
    double a[2] = {0, 0};
    double acc = 0;
    int k = 0;
    for (int arg = n->left; arg >= 0; arg = e->nodes[arg].next, k++) {
        double v;
        if (eval_node(e, arg, retried, &v, err) != SF_OK) return SF_INVALID;
        if (k < 2) a[k] = v;
        if (k == 0)
            acc = v;
        else if (n->func == F_MIN)
            acc = v < acc ? v : acc;
        else if (n->func == F_MAX)
            acc = v > acc ? v : acc;
    }
    switch (n->func) {
    case F_POW: *out = pow(a[0], a[1]); break;
    case F_SQRT: *out = sqrt(a[0]); break;
    case F_ABS: *out = fabs(a[0]); break;
    case F_EXP: *out = exp(a[0]); break;
    case F_FLOOR: *out = floor(a[0]); break;
    case F_CEIL: *out = ceil(a[0]); break;
    case F_ROUND: *out = round(a[0]); break;
    case F_MIN:
    case F_MAX: *out = acc; break;
    }
    return SF_OK;
}

static sf_status eval_node(const sf_expr *e, int i, double retried,
                           double *out, sf_err *err) {
    const node *n = &e->nodes[i];
    double l, r;
    switch (n->kind) {
    case N_NUM: *out = n->num; break;
    case N_RETRIED: *out = retried; break;
    case N_NEG:
        if (eval_node(e, n->left, retried, &l, err) != SF_OK) return SF_INVALID;
        *out = -l;
        break;
    case N_CALL:
        if (eval_call(e, n, retried, out, err) != SF_OK) return SF_INVALID;
        break;
    case N_BIN:
        if (eval_node(e, n->left, retried, &l, err) != SF_OK ||
            eval_node(e, n->right, retried, &r, err) != SF_OK)
            return SF_INVALID;
        switch (n->op) {
        case '+': *out = l + r; break;
        case '-': *out = l - r; break;
        case '*': *out = l * r; break;
        case '/':
        case '%':
            if (r == 0) {
                sf_err_set(err, "%s by zero at position %d",
                           n->op == '/' ? "division" : "modulo", n->pos);
                return SF_INVALID;
            }
            *out = n->op == '/' ? l / r : fmod(l, r);
            break;
        default:
            sf_err_set(err, "internal: bad operator");
            return SF_INVALID;
        }
        break;
    }
    if (!isfinite(*out)) {
        sf_err_set(err, "result is not a finite number at position %d",
                   n->pos);
        return SF_INVALID;
    }
    return SF_OK;
}

/* Evaluates "e" with `retried` bound to "retried" into "*out" (unclamped).
 * Returns SF_INVALID with detail in "err" on division/modulo by zero or a
 * non-finite intermediate value. */
sf_status sf_expr_eval(const sf_expr *e, double retried, double *out,
                       sf_err *err) {
    if (!e || !out || e->root < 0) {
        sf_err_set(err, "no expression");
        return SF_INVALID;
    }
    if (!isfinite(retried)) {
        sf_err_set(err, "retried is not a finite number");
        return SF_INVALID;
    }
    return eval_node(e, e->root, retried, out, err);
}

/* Parses and evaluates "src" for retry "retried" (0 = first retry) and
 * returns the delay in ms, rounded to the nearest ms and clamped to
 * [0, SF_MAX_DELAY_MS].  A NULL, invalid or failing expression yields the
 * default backoff sf_backoff_default_ms(retried + 1). */
int64_t sf_expr_delay_ms(const char *src, int retried) {
    int n = retried < 0 ? 1 : (retried >= 1000000 ? 1000000 : retried + 1);
    if (!src) return sf_backoff_default_ms(n);
    sf_expr *e = sf_expr_parse(src, NULL);
    double v;
    sf_status st = e ? sf_expr_eval(e, retried, &v, NULL) : SF_INVALID;
    sf_expr_free(e);
    if (st != SF_OK) return sf_backoff_default_ms(n);
    if (v <= 0) return 0;
    if (v >= (double)SF_MAX_DELAY_MS) return SF_MAX_DELAY_MS;
    return (int64_t)llround(v);
}
