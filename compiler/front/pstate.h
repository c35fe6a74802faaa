/* Internal state shared by the parser's files: parser.c (token stream,
 * errors and recovery, statements, items), parse_expr.c (expressions),
 * fstring.c (format strings) and parse_type.c (types, generics, patterns). Grammar
 * rules are written above each parse function. */
#ifndef NS_PSTATE_H
#define NS_PSTATE_H

#include <string.h>

#include "lexer.h"
#include "parser.h"

enum {
  MAX_DEPTH = 256,    /* nesting levels before "expression nests too deeply" */
  LOOKAHEAD = 64,     /* token ring; the longest lookahead scans use less */
  MAX_HEIGHT = 1024,  /* tree height, counting chains like a.b.c and 1+2+3 */
  MAX_BRACKETS = 512  /* open brackets whose kinds recovery remembers */
};

typedef struct Parser {
  Source *src;
  Arena *arena;
  DiagList *diags;
  Lexer lx;
  Token la[LOOKAHEAD]; /* ring of lexed, unconsumed tokens; la[head] is current */
  int head, nla;
  uint32_t prev_end;   /* end of the last consumed token (spans end here) */
  TokenKind prev_kind;
  uint64_t ntok;       /* tokens consumed: loops check that they progress */
  int open;            /* brackets opened and not yet closed */
  unsigned char brackets[MAX_BRACKETS]; /* their TokenKinds, innermost last */
  uint32_t bracket_at[MAX_BRACKETS];    /* and where they are */
  int depth;           /* recursion depth */
  int height;          /* height of the tree under construction, about */
  uint32_t stmt_start; /* where the current statement (arm, field) starts */
  uint32_t col_of;     /* p_stmt_column's last question and answer */
  int col;
  bool col_known;
  bool nl;             /* a newline ends an expression (blocks, top level) */
  bool no_struct;      /* `Name {` is not a struct literal (if/while/match/for heads) */
  bool no_pipe;        /* inside |x|: '|' closes instead of or-ing */
  bool panic;          /* an error was reported; silent until synchronised */
  bool is_sub;         /* parsing a format-string hole */
  bool early_error;    /* an error was reported before the end of input */
  bool eof_reported;   /* an error at the end of input was reported */
  bool too_deep;       /* the nesting limit was hit: later errors are echoes */
  bool incomplete;     /* the first error: end of input inside a bracket */
  int nreported;       /* errors this parser added */
  int nsound;          /* of them, errors after which the tree is still whole and
                          can be compiled for its own diagnostics (a format
                          string's argument count) */
  int start_errors;    /* diags->nerrors when parsing began */
  struct Parser *hole; /* reused for the format-string holes met here */
} Parser;

/* Saved newline / struct-literal / pipe / statement-column context,
 * restored on leaving a bracketed construct. */
typedef struct {
  bool nl, no_struct, no_pipe;
  uint32_t stmt_start;
} Ctx;

enum Prec {
  P_NONE,
  P_ASSIGN,
  P_RANGE,
  P_OR,
  P_AND,
  P_CMP,
  P_BITOR,
  P_BITAND,
  P_SHIFT,
  P_ADD,
  P_MUL,
  P_CAST,
  P_UNARY
};

/* The token n places ahead of the current one (n < LOOKAHEAD - 1). Past
 * the end of input every token is EOF. */
static inline Token *peek(Parser *p, int n) {
  if (n > LOOKAHEAD - 2) n = LOOKAHEAD - 2;
  while (p->nla <= n) {
    Token *last = p->nla > 0 ? &p->la[(p->head + p->nla - 1) % LOOKAHEAD] : NULL;
    Token t = last && last->kind == TOK_EOF ? *last : lexer_next(&p->lx);
    p->la[(p->head + p->nla) % LOOKAHEAD] = t;
    p->nla++;
  }
  return &p->la[(p->head + n) % LOOKAHEAD];
}

static inline Token *cur(Parser *p) { return peek(p, 0); }
static inline bool at(Parser *p, TokenKind k) { return cur(p)->kind == k; }
static inline TokenKind peek_kind(Parser *p, int n) { return peek(p, n)->kind; }

static inline bool is_opener(TokenKind k) {
  return k == TOK_LPAREN || k == TOK_LBRACKET || k == TOK_LBRACE;
}

static inline bool is_closer(TokenKind k) {
  return k == TOK_RPAREN || k == TOK_RBRACKET || k == TOK_RBRACE;
}

static inline void advance(Parser *p) {
  Token *t = cur(p);
  if (t->kind == TOK_EOF) return;
  if (is_opener(t->kind)) {
    if (p->open < MAX_BRACKETS) {
      p->brackets[p->open] = (unsigned char)t->kind;
      p->bracket_at[p->open] = t->span.start;
    }
    p->open++;
  } else if (is_closer(t->kind) && p->open > 0) {
    p->open--;
  }
  p->prev_end = t->span.end;
  p->prev_kind = t->kind;
  p->head = (p->head + 1) % LOOKAHEAD;
  p->nla--;
  p->ntok++;
}

static inline bool accept(Parser *p, TokenKind k) {
  if (!at(p, k)) return false;
  advance(p);
  return true;
}

static inline bool is_word(const Token *t, const char *w) {
  return t->kind == TOK_IDENT && t->str && strcmp(t->str, w) == 0;
}

static inline Span span_from(Parser *p, uint32_t start) {
  Span s = {start, p->prev_end > start ? p->prev_end : start};
  return s;
}

static inline Node *node(Parser *p, NodeKind k, uint32_t start) {
  return ast_new(p->arena, k, span_from(p, start));
}

static inline void finish(Parser *p, Node *n, uint32_t start) { n->span = span_from(p, start); }

/* lhs op rhs, spanning from start to the last token taken */
static inline Node *binary_node(Parser *p, OpKind op, Node *lhs, Node *rhs, uint32_t start) {
  Node *n = node(p, N_BINARY, start);
  n->as.binary.op = op;
  n->as.binary.lhs = lhs;
  n->as.binary.rhs = rhs;
  return n;
}

static inline void push(Parser *p, NodeList *l, Node *n) {
  if (n) nodelist_push(p->arena, l, n);
}

static inline Ctx ctx_push(Parser *p, bool nl) {
  Ctx c = {p->nl, p->no_struct, p->no_pipe, p->stmt_start};
  p->nl = nl;
  p->no_struct = false;
  p->no_pipe = false;
  return c;
}

static inline void ctx_pop(Parser *p, Ctx c) {
  p->nl = c.nl;
  p->no_struct = c.no_struct;
  p->no_pipe = c.no_pipe;
  p->stmt_start = c.stmt_start;
}

/* Tokens that can only continue an expression, so a newline before them
 * does not end it. '+' is here too: it is never a prefix operator. */
static inline bool continues_line(TokenKind k) {
  switch (k) {
  case TOK_DOT: case TOK_QUESTION: case TOK_SUPERSCRIPT: case TOK_PLUS: case TOK_STAR:
  case TOK_SLASH: case TOK_PERCENT: case TOK_STARSTAR: case TOK_CARET: case TOK_EQEQ:
  case TOK_NE: case TOK_LT: case TOK_GT: case TOK_LE: case TOK_GE: case TOK_APPROX:
  case TOK_ELEM_OF: case TOK_NOT_ELEM_OF: case TOK_ANDAND: case TOK_OROR: case TOK_MATMUL:
  case TOK_OUTER: case TOK_DOTPROD: case TOK_DOTDOT: case TOK_DOTDOTEQ: case TOK_KW_AS:
  case TOK_EQ: case TOK_PLUSEQ: case TOK_MINUSEQ: case TOK_STAREQ: case TOK_SLASHEQ:
  case TOK_PERCENTEQ: case TOK_SHL: case TOK_SHR: case TOK_KW_ELSE:
    return true;
  default:
    return false;
  }
}

int p_column(Parser *p, uint32_t offset);
int p_stmt_column(Parser *p);

/* True when a newline before t ends the current expression. A token that
 * can also start one (`||` a closure, `*` a dereference, `..` a range)
 * continues it only from a line indented deeper than the statement's
 * first line. */
static inline bool ends_line(Parser *p, const Token *t) {
  if (!p->nl || !t->nl_before) return false;
  if (!continues_line(t->kind)) return true;
  if (t->kind == TOK_OROR || t->kind == TOK_STAR || t->kind == TOK_DOTDOT ||
      t->kind == TOK_DOTDOTEQ)
    return p_column(p, t->span.start) <= p_stmt_column(p);
  return false;
}

static inline bool is_literal(TokenKind k) {
  return k == TOK_INT || k == TOK_FLOAT || k == TOK_IMAG || k == TOK_QUANTITY || k == TOK_STRING ||
         k == TOK_CHAR || k == TOK_KW_TRUE || k == TOK_KW_FALSE;
}

/* parser.c: setup, errors, recovery */
void p_init(Parser *p, Source *src, uint32_t start, uint32_t end, Arena *arena, DiagList *diags);
char *p_src_text(Parser *p, uint32_t start, uint32_t end);
/* How a token reads in "found X". */
const char *p_describe(Parser *p, const Token *t);
/* Reports at token t and enters panic mode; NULL when silenced. */
Diag *p_error_at(Parser *p, const Token *t, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Reports without entering panic mode. */
Diag *p_error_span(Parser *p, Span span, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void p_unclosed_hint(Parser *p, Diag *d);
bool p_expect(Parser *p, TokenKind k, const char *context);
/* `∇ψ` written without a space is also a name (the binding `let ∇ψ = ...`):
 * p_at_nabla_name tells whether one is at the cursor, p_nabla_name takes it. */
bool p_at_nabla_name(Parser *p);
const char *p_nabla_name(Parser *p);
const char *p_expect_name(Parser *p, const char *what);
/* Recursion and tree-height limits: p_enter/p_leave around recursive
 * parses, p_grow per link of a left-nested chain. */
bool p_enter(Parser *p);
void p_leave(Parser *p);
bool p_grow(Parser *p);
Node *p_err_node(Parser *p);
Node *p_ident_node(Parser *p, const char *name, Span span);
void p_skip_to_close(Parser *p, TokenKind closer);
bool p_brace_sep(Parser *p, const char *what);

/* parser.c: statements and items */
Node *p_block(Parser *p);
Node *p_param(Parser *p, bool allow_self);

/* parse_expr.c */
Node *p_expr(Parser *p);
Node *p_bin(Parser *p, int min);
Node *p_unary(Parser *p);
Node *p_list(Parser *p);
Node *p_literal(Parser *p);
Node *p_path_expr(Parser *p);

/* fstring.c */
/* Arguments a format string can refer to. */
typedef struct {
  Node **pos;          /* positional arguments after the format string */
  int npos;
  Node **named;        /* `name = value` arguments (ASSIGN nodes) */
  int nnamed;
  int next;            /* next implicit position for {} */
  int needed;          /* highest position referenced + 1 */
  bool fstring;        /* an f"..." token: no arguments at all */
} FmtArgs;

/* fstring -> {literal-run | '{{' | '}}' | '{' [expr | INT] [':' spec] '}'}
 * over the string body source[b, e), into an FSTRING node; `quiet`: the
 * lexer already reported bad escapes in this text. */
Node *p_format(Parser *p, Span whole, uint32_t b, uint32_t e, bool raw, bool quiet, FmtArgs *fa);
/* fstringexpr -> FSTRING (the current token) */
Node *p_fstring(Parser *p);
/* The argument position of a macro's format string, or -1 (not a format macro). */
int p_format_index(const char *name);

/* parse_type.c */
Node *p_type(Parser *p);
void p_type_args(Parser *p, NodeList *out);
Node *p_bound(Parser *p);
Node *p_unit_type(Parser *p);
void p_generics(Parser *p, NodeList *out);
void p_skip_where(Parser *p);
Node *p_pattern(Parser *p, bool allow_or);

#endif
