/* The NeuralScript parser: recursive descent for items, statements,
 * patterns and types; precedence climbing (Pratt) for expressions.
 *
 * Expression precedence, lowest to highest (see Prec below):
 *   =  +=  -=  *=  /=  %=            right associative, ASSIGN
 *   ..  ..=                           either side optional, non-associative
 *   ||  &&                            (also ∨ ∧)
 *   == != < > <= >= ≈ ∈ ∉             non-associative
 *   |   &   << >>   + -
 *   * / % ⊙ @ ⊗ ⋅                     (× ÷ lex as * /)
 *   as                                CAST
 *   prefix - ! √ ∛ ∇ ∂ & &mut * ∑ ∏
 *   ** ^                              right associative, tighter than a prefix
 *                                     on the left (-x**2 is -(x**2))
 *   postfix: x² call index . ? .await
 *
 * Newlines: inside ( ) and [ ] they are whitespace. Inside { } and at the
 * top level a newline ends the expression unless the next token can only
 * continue one (`.`, `?`, a binary-only operator, `else`).
 *
 * Errors: the first error in a statement sets `panic`, which silences
 * further errors until the statement loop skips to a synchronisation point
 * (a `;`, a new line, the `}` of the block, or a statement keyword). */
#include "parser.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "lexer.h"

enum {
  MAX_DEPTH = 256,    /* nesting levels before "expression nests too deeply" */
  LOOKAHEAD = 64,     /* token ring; the longest lookahead scans use less */
  MAX_HEIGHT = 1024,  /* tree height, counting chains like a.b.c and 1+2+3 */
  MAX_BRACKETS = 1024 /* open brackets whose kinds recovery remembers */
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
  TokenKind brackets[MAX_BRACKETS]; /* their kinds, innermost last */
  int depth;           /* recursion depth */
  int height;          /* height of the tree under construction, about */
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
  int start_errors;    /* diags->nerrors when parsing began */
} Parser;

/* Saved newline / struct-literal / pipe context, restored on leaving a
 * bracketed construct. */
typedef struct {
  bool nl, no_struct, no_pipe;
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

static Node *parse_expr(Parser *p);
static Node *parse_bin(Parser *p, int min);
static Node *parse_unary(Parser *p);
static Node *parse_block(Parser *p);
static Node *parse_list(Parser *p);
static Node *parse_type(Parser *p);
static Node *parse_pattern(Parser *p, bool allow_or);
static Node *parse_stmt(Parser *p, bool *tail);
static Node *parse_item(Parser *p);
static void parse_type_args(Parser *p, NodeList *out);

/* ---- tokens ---- */

static void parser_init(Parser *p, Source *src, uint32_t start, uint32_t end, Arena *arena,
                        DiagList *diags) {
  memset(p, 0, sizeof *p);
  p->src = src;
  p->arena = arena;
  p->diags = diags;
  lexer_init(&p->lx, src, start, end, arena, diags);
  p->prev_end = start;
  p->prev_kind = TOK_EOF;
  p->start_errors = diags->nerrors;
}

/* The token n places ahead of the current one (n < LOOKAHEAD - 1). Past
 * the end of input every token is EOF. */
static Token *peek(Parser *p, int n) {
  if (n > LOOKAHEAD - 2) n = LOOKAHEAD - 2;
  while (p->nla <= n) {
    Token *last = p->nla > 0 ? &p->la[(p->head + p->nla - 1) % LOOKAHEAD] : NULL;
    Token t = last && last->kind == TOK_EOF ? *last : lexer_next(&p->lx);
    p->la[(p->head + p->nla) % LOOKAHEAD] = t;
    p->nla++;
  }
  return &p->la[(p->head + n) % LOOKAHEAD];
}

static Token *cur(Parser *p) { return peek(p, 0); }
static bool at(Parser *p, TokenKind k) { return cur(p)->kind == k; }
static TokenKind peek_kind(Parser *p, int n) { return peek(p, n)->kind; }

static bool is_opener(TokenKind k) { return k == TOK_LPAREN || k == TOK_LBRACKET || k == TOK_LBRACE; }
static bool is_closer(TokenKind k) { return k == TOK_RPAREN || k == TOK_RBRACKET || k == TOK_RBRACE; }

static void advance(Parser *p) {
  Token *t = cur(p);
  if (t->kind == TOK_EOF) return;
  if (is_opener(t->kind)) {
    if (p->open < MAX_BRACKETS) p->brackets[p->open] = t->kind;
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

static bool accept(Parser *p, TokenKind k) {
  if (!at(p, k)) return false;
  advance(p);
  return true;
}

static bool is_word(const Token *t, const char *w) {
  return t->kind == TOK_IDENT && t->str && strcmp(t->str, w) == 0;
}

static char *src_text(Parser *p, uint32_t start, uint32_t end) {
  return arena_strndup(p->arena, p->src->text + start, end > start ? end - start : 0);
}

/* ---- errors ---- */

/* How a token reads in "found X": names and literals by their text. */
static const char *describe(Parser *p, const Token *t) {
  switch (t->kind) {
  case TOK_IDENT: case TOK_INT: case TOK_FLOAT: case TOK_IMAG: case TOK_QUANTITY:
  case TOK_CHAR: case TOK_SUPERSCRIPT: case TOK_MACRO: case TOK_LABEL: {
    uint32_t n = t->span.end - t->span.start;
    if (n > 40) { /* cut at a character boundary */
      n = 40;
      while (n > 0 && ((unsigned char)p->src->text[t->span.start + n] & 0xC0) == 0x80) n--;
    }
    return arena_sprintf(p->arena, "'%.*s'", (int)n, p->src->text + t->span.start);
  }
  case TOK_EOF:
    return p->is_sub ? "the end of the placeholder" : ns_token_names[t->kind];
  default:
    return ns_token_names[t->kind];
  }
}

static Diag *vreport(Parser *p, Span span, bool at_eof, const char *fmt, va_list ap) {
  if (at_eof && p->eof_reported) return NULL; /* one "found end of file" is enough */
  if (p->too_deep) return NULL;
  p->eof_reported = p->eof_reported || at_eof;
  bool first = p->nreported == 0 && p->diags->nerrors == p->start_errors;
  if (first && at_eof && p->open > 0 && !p->is_sub) p->incomplete = true;
  if (!at_eof) p->early_error = true;
  p->nreported++;
  diag_vadd(p->diags, DIAG_ERROR, p->src, span, fmt, ap);
  return p->diags->tail;
}

/* Reports at token t and enters panic mode; silent while already in panic
 * and for invalid tokens (the lexer reported those). */
__attribute__((format(printf, 3, 4)))
static Diag *error_at(Parser *p, const Token *t, const char *fmt, ...) {
  if (p->panic) return NULL;
  p->panic = true;
  if (t->kind == TOK_ERROR) {
    /* an input-ending unterminated string keeps the parse incomplete */
    if (!p->lx.open_at_eof || t->span.end < (uint32_t)(p->lx.limit - p->src->text))
      p->early_error = true;
    return NULL;
  }
  va_list ap;
  va_start(ap, fmt);
  Diag *d = vreport(p, t->span, t->kind == TOK_EOF, fmt, ap);
  va_end(ap);
  return d;
}

/* An error that leaves the parse in step (format strings, chained
 * comparisons): no panic. */
__attribute__((format(printf, 3, 4)))
static Diag *error_span(Parser *p, Span span, const char *fmt, ...) {
  if (p->panic) return NULL;
  va_list ap;
  va_start(ap, fmt);
  Diag *d = vreport(p, span, false, fmt, ap);
  va_end(ap);
  return d;
}

static bool expect(Parser *p, TokenKind k, const char *context) {
  if (accept(p, k)) return true;
  Token *t = cur(p);
  if (context)
    error_at(p, t, "expected %s %s, found %s", ns_token_names[k], context, describe(p, t));
  else
    error_at(p, t, "expected %s, found %s", ns_token_names[k], describe(p, t));
  return false;
}

/* A name where one is required; "_" after an error so callers never see
 * NULL. */
static const char *expect_name(Parser *p, const char *what) {
  Token *t = cur(p);
  if (t->kind == TOK_IDENT) {
    const char *s = t->str;
    advance(p);
    return s;
  }
  error_at(p, t, "expected %s, found %s", what, describe(p, t));
  return "_";
}

/* Recursion is capped at MAX_DEPTH levels, and the height of the tree being
 * built (recursion plus left-nested chains such as a.b.c or 1+2+3) at
 * MAX_HEIGHT, so later passes can recurse over any tree safely. */
static bool too_deep(Parser *p) {
  error_at(p, cur(p), "expression nests too deeply");
  p->too_deep = true;
  return false;
}

static bool enter(Parser *p) {
  if (p->depth >= MAX_DEPTH || p->height >= MAX_HEIGHT) return too_deep(p);
  p->depth++;
  p->height++;
  return true;
}

static void leave(Parser *p) {
  p->depth--;
  p->height--;
}

/* One more link of a left-nested chain; the caller gives the height back. */
static bool grow(Parser *p) {
  if (p->height >= MAX_HEIGHT) return too_deep(p);
  p->height++;
  return true;
}

/* ---- nodes ---- */

static Span span_from(Parser *p, uint32_t start) {
  Span s = {start, p->prev_end > start ? p->prev_end : start};
  return s;
}

static Node *node(Parser *p, NodeKind k, uint32_t start) { return ast_new(p->arena, k, span_from(p, start)); }

static void finish(Parser *p, Node *n, uint32_t start) { n->span = span_from(p, start); }

static void push(Parser *p, NodeList *l, Node *n) {
  if (n) nodelist_push(p->arena, l, n);
}

/* The stand-in for something that failed to parse. */
static Node *err_node(Parser *p) { return ast_new(p->arena, N_UNIT, cur(p)->span); }

static Node *ident_node(Parser *p, const char *name, Span span) {
  Node *n = ast_new(p->arena, N_IDENT, span);
  n->as.ident.name = name;
  return n;
}

/* ---- contexts and newlines ---- */

static Ctx ctx_push(Parser *p, bool nl) {
  Ctx c = {p->nl, p->no_struct, p->no_pipe};
  p->nl = nl;
  p->no_struct = false;
  p->no_pipe = false;
  return c;
}

static void ctx_pop(Parser *p, Ctx c) {
  p->nl = c.nl;
  p->no_struct = c.no_struct;
  p->no_pipe = c.no_pipe;
}

/* Tokens that can only continue an expression, so a newline before them
 * does not end it. '+' is here too: it is never a prefix operator. */
static bool continues_line(TokenKind k) {
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

/* True when a newline before t ends the current expression. */
static bool ends_line(Parser *p, const Token *t) {
  return p->nl && t->nl_before && !continues_line(t->kind);
}

static bool can_start_expr(Parser *p, const Token *t) {
  switch (t->kind) {
  case TOK_INT: case TOK_FLOAT: case TOK_IMAG: case TOK_QUANTITY: case TOK_STRING:
  case TOK_FSTRING: case TOK_CHAR: case TOK_IDENT: case TOK_MACRO: case TOK_LABEL:
  case TOK_KW_SELF: case TOK_KW_SELF_TYPE: case TOK_KW_TRUE: case TOK_KW_FALSE: case TOK_KW_IF:
  case TOK_KW_MATCH: case TOK_KW_WHILE: case TOK_KW_LOOP: case TOK_KW_FOR: case TOK_KW_BREAK:
  case TOK_KW_CONTINUE: case TOK_KW_RETURN: case TOK_KW_UNSAFE: case TOK_KW_ASYNC:
  case TOK_KW_NO_GRAD: case TOK_LPAREN: case TOK_LBRACKET: case TOK_MINUS: case TOK_BANG:
  case TOK_AMP: case TOK_ANDAND: case TOK_STAR: case TOK_PIPE: case TOK_OROR: case TOK_NABLA:
  case TOK_PARTIAL: case TOK_SQRT: case TOK_CBRT: case TOK_SUM: case TOK_PROD:
  case TOK_DOTDOT: case TOK_DOTDOTEQ: case TOK_UNDERSCORE:
    return true;
  case TOK_LBRACE:
    return !p->no_struct;
  default:
    return false;
  }
}

/* An optional operand (break value, range end) follows on this line. */
static bool operand_follows(Parser *p) {
  Token *t = cur(p);
  return can_start_expr(p, t) && !(p->nl && t->nl_before);
}

static bool line_keyword(const Token *t);

/* Skips to the `closer` that balances the bracket already opened and
 * consumes it: recovery inside a bracketed list. Stops early at a
 * statement keyword on a new line (the closer is probably missing). */
static void skip_to_close(Parser *p, TokenKind closer) {
  int depth = 0;
  while (!at(p, TOK_EOF)) {
    TokenKind k = cur(p)->kind;
    if (depth == 0 && k == closer) {
      advance(p);
      return;
    }
    if (depth == 0 && cur(p)->nl_before && line_keyword(cur(p))) return;
    if (is_opener(k)) depth++;
    else if (is_closer(k) && --depth < 0) return;
    advance(p);
  }
}

/* Keywords that start a statement: recovery stops at them. Those that
 * also start expressions (for while if return) only count at the start of
 * a line, where `let x = 1 + + if a {..}` cannot cut a statement apart. */
static bool sync_keyword(TokenKind k) {
  switch (k) {
  case TOK_KW_FN: case TOK_KW_STRUCT: case TOK_KW_ENUM: case TOK_KW_IMPL: case TOK_KW_TRAIT:
  case TOK_KW_LET: case TOK_KW_CONST: case TOK_KW_STATIC: case TOK_KW_USE: case TOK_KW_IMPORT:
  case TOK_KW_PUB: case TOK_KW_MOD: case TOK_KW_EXTERN: case TOK_KW_ACTOR: case TOK_KW_TYPE:
    return true;
  default:
    return false;
  }
}

static bool line_keyword(const Token *t) {
  TokenKind k = t->kind;
  return sync_keyword(k) || (t->nl_before && (k == TOK_KW_FOR || k == TOK_KW_WHILE ||
                                              k == TOK_KW_IF || k == TOK_KW_RETURN));
}

static TokenKind closer_of(TokenKind open) {
  return open == TOK_LPAREN ? TOK_RPAREN : open == TOK_LBRACKET ? TOK_RBRACKET : TOK_RBRACE;
}

/* Leaves panic mode at the next statement boundary of the list whose
 * bracket level is `base`. First the brackets the broken statement left
 * open are skipped to their closers (a closer of another kind, or a
 * statement keyword on a new line, abandons them); then it stops just after
 * a `;`, at a token on a new line, at the `}` of the enclosing block (the
 * top level skips a stray `}`), or at a statement keyword. */
static void synchronize(Parser *p, int base, bool top) {
  bool moved = false;
  while (!at(p, TOK_EOF)) {
    Token *t = cur(p);
    if (p->open > base) {
      if (is_closer(t->kind) && p->open <= MAX_BRACKETS &&
          closer_of(p->brackets[p->open - 1]) != t->kind) {
        p->open--;
        continue;
      }
      if (t->nl_before && line_keyword(t)) {
        p->open = base;
        break;
      }
      advance(p);
      moved = true;
      continue;
    }
    if (!moved && p->prev_kind == TOK_SEMI) break;
    if (t->nl_before || line_keyword(t)) break;
    if (t->kind == TOK_SEMI) {
      advance(p);
      break;
    }
    if (t->kind == TOK_RBRACE && !top) break;
    if (is_closer(t->kind) && p->open == 0 && !top) break;
    advance(p);
    moved = true;
  }
  if (p->open < base) p->open = base;
  p->panic = false;
}

/* ---- literals ---- */

/* 9.8_m/s² is a float quantity, 100_m an integer one: look for a '.' or
 * an exponent before the '_' that starts the unit. */
static bool quantity_is_int(Parser *p, const Token *t) {
  const char *s = p->src->text + t->span.start, *e = p->src->text + t->span.end;
  for (; s < e; s++) {
    if (*s == '_' && s + 1 < e && !(s[1] >= '0' && s[1] <= '9')) break;
    if (*s == '.' || *s == 'e' || *s == 'E') return false;
  }
  return true;
}

/* literal -> INT | FLOAT | IMAG | QUANTITY | STRING | CHAR | 'true' | 'false' */
static Node *parse_literal(Parser *p) {
  Token *t = cur(p);
  Node *n;
  switch (t->kind) {
  case TOK_INT:
    n = ast_new(p->arena, N_INT, t->span);
    n->as.int_lit.value = t->as.i;
    n->as.int_lit.suffix = t->suffix;
    break;
  case TOK_FLOAT: case TOK_IMAG:
    n = ast_new(p->arena, t->kind == TOK_FLOAT ? N_FLOAT : N_IMAG, t->span);
    n->as.float_lit.value = t->as.f;
    n->as.float_lit.suffix = t->suffix;
    break;
  case TOK_QUANTITY:
    n = ast_new(p->arena, N_QUANTITY, t->span);
    n->as.quantity.value = t->as.f;
    n->as.quantity.unit = t->str;
    n->as.quantity.is_int = quantity_is_int(p, t);
    break;
  case TOK_STRING:
    n = ast_new(p->arena, N_STRING, t->span);
    n->as.str.value = t->str ? t->str : "";
    n->as.str.len = t->len;
    break;
  case TOK_CHAR:
    n = ast_new(p->arena, N_CHAR, t->span);
    n->as.char_lit.value = t->as.i;
    break;
  case TOK_KW_TRUE: case TOK_KW_FALSE:
    n = ast_new(p->arena, N_BOOL, t->span);
    n->as.bool_lit.value = t->kind == TOK_KW_TRUE;
    break;
  default:
    error_at(p, t, "expected a literal, found %s", describe(p, t));
    return err_node(p);
  }
  advance(p);
  return n;
}

static bool is_literal(TokenKind k) {
  return k == TOK_INT || k == TOK_FLOAT || k == TOK_IMAG || k == TOK_QUANTITY || k == TOK_STRING ||
         k == TOK_CHAR || k == TOK_KW_TRUE || k == TOK_KW_FALSE;
}

/* ---- format strings ---- */

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

/* A literal run being collected: decoded text and the source range. */
typedef struct {
  char *data;
  uint32_t len, cap;
} Run;

static void run_append(Parser *p, Run *r, const char *s, uint32_t n) {
  if (r->len + n + 1 > r->cap) {
    uint32_t cap = r->cap ? r->cap * 2 : 32;
    while (cap < r->len + n + 1) cap *= 2;
    char *d = arena_alloc(p->arena, cap);
    if (r->len) memcpy(d, r->data, r->len);
    r->data = d;
    r->cap = cap;
  }
  memcpy(r->data + r->len, s, n);
  r->len += n;
  r->data[r->len] = '\0';
}

/* Adds source bytes [from, to) to the run, decoding escapes unless raw.
 * `quiet`: the lexer already reported bad escapes in this text. */
static void run_source(Parser *p, Run *r, uint32_t from, uint32_t to, bool raw, bool quiet) {
  if (to <= from) return;
  if (raw) {
    run_append(p, r, p->src->text + from, to - from);
    return;
  }
  DiagList scratch;
  diag_init(&scratch);
  uint32_t n;
  char *s = lexer_unescape(p->src, from, to, p->arena, quiet ? &scratch : p->diags, &n);
  diag_free(&scratch);
  run_append(p, r, s, n);
}

static void run_flush(Parser *p, Run *r, NodeList *pieces, uint32_t start, uint32_t end) {
  if (r->len == 0) return;
  Node *s = ast_new(p->arena, N_STRING, (Span){start, end});
  s->as.str.value = arena_strndup(p->arena, r->data, r->len);
  s->as.str.len = r->len;
  push(p, pieces, s);
  r->len = 0;
}

/* Parses source bytes [s, e) (a format-string hole) as one expression with
 * a parser of its own, so spans point into the string. */
static Node *parse_hole(Parser *p, uint32_t s, uint32_t e) {
  Parser *sub = arena_alloc(p->arena, sizeof *sub);
  parser_init(sub, p->src, s, e, p->arena, p->diags);
  sub->is_sub = true;
  sub->depth = p->depth;
  sub->height = p->height;
  sub->start_errors = p->start_errors;
  sub->nreported = 1; /* never the "first error" of the file */
  Node *n = parse_expr(sub);
  if (!at(sub, TOK_EOF))
    error_at(sub, cur(sub), "unexpected %s in format string placeholder", describe(sub, cur(sub)));
  if (sub->nreported > 1) p->early_error = true;
  return n;
}

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/* The argument for position idx, or NULL when there are too few (counted
 * and reported once at the end). */
static Node *positional(FmtArgs *fa, int idx) {
  if (idx + 1 > fa->needed) fa->needed = idx + 1;
  return idx < fa->npos ? fa->pos[idx] : NULL;
}

/* A hole {content[:spec]} spanning source [open, close]. */
static Node *format_hole(Parser *p, FmtArgs *fa, uint32_t open, uint32_t close, uint32_t colon) {
  const char *text = p->src->text;
  uint32_t cs = open + 1, ce = colon ? colon : close;
  while (cs < ce && is_space(text[cs])) cs++;
  while (ce > cs && is_space(text[ce - 1])) ce--;
  Node *piece = ast_new(p->arena, N_FMT_PIECE, (Span){open, close + 1});
  if (colon) piece->as.fmt.spec = src_text(p, colon + 1, close);
  bool digits = cs < ce;
  for (uint32_t i = cs; i < ce; i++) digits = digits && text[i] >= '0' && text[i] <= '9';
  if (cs == ce || digits) {
    if (fa->fstring) {
      Diag *d = error_span(p, piece->span, "f-string placeholder needs an expression");
      diag_hint(d, "write the value inside the braces: f\"{x}\"");
      return piece;
    }
    int idx = fa->next++;
    if (digits) {
      fa->next--;
      idx = 0;
      for (uint32_t i = cs; i < ce && idx < 100000; i++) idx = idx * 10 + (text[i] - '0');
    }
    piece->as.fmt.expr = positional(fa, idx);
    return piece;
  }
  for (int i = 0; i < fa->nnamed; i++) {
    Node *target = fa->named[i]->as.assign.target;
    size_t n = strlen(target->as.ident.name);
    if (n == ce - cs && memcmp(target->as.ident.name, text + cs, n) == 0) {
      piece->as.fmt.expr = fa->named[i]->as.assign.value;
      return piece;
    }
  }
  piece->as.fmt.expr = parse_hole(p, cs, ce);
  return piece;
}

/* Skips a quoted string or char inside a hole starting at i (text[i] is the
 * quote); mirrors the lexer so both agree where an f-string ends. */
static uint32_t skip_quoted(const char *text, uint32_t i, uint32_t e) {
  char q = text[i++];
  if (q == '\'') {
    uint32_t j = i < e && text[i] == '\\' ? i + 2 : i + 1;
    while (j < e && ((unsigned char)text[j] & 0xC0) == 0x80) j++;
    return j < e && text[j] == '\'' ? j + 1 : i;
  }
  while (i < e && text[i] != q) i += text[i] == '\\' ? 2 : 1;
  return i < e ? i + 1 : e;
}

/* fstring -> {literal-run | '{{' | '}}' | '{' [expr | INT] [':' spec] '}'}
 * over the string body source[b, e), into an FSTRING node of STRING and
 * FMT_PIECE pieces. */
static Node *parse_format(Parser *p, Span whole, uint32_t b, uint32_t e, bool raw, bool quiet,
                          FmtArgs *fa) {
  const char *text = p->src->text;
  Node *fs = ast_new(p->arena, N_FSTRING, whole);
  NodeList *pieces = &fs->as.fstring.pieces;
  Run run = {0};
  uint32_t seg = b, run_start = b, i = b;
  while (i < e) {
    char c = text[i];
    if (c == '\\' && !raw) {
      i += 2;
      if (i <= e && text[i - 1] == 'u' && i < e && text[i] == '{') {
        while (i < e && text[i] != '}') i++;
        if (i < e) i++;
      }
      continue;
    }
    if (c == '}') {
      if (i + 1 < e && text[i + 1] == '}') {
        run_source(p, &run, seg, i + 1, raw, quiet);
        i += 2;
        seg = i;
        continue;
      }
      Diag *d = error_span(p, (Span){i, i + 1}, "unmatched '}' in format string");
      diag_hint(d, "write '}}' for a literal brace");
      i++;
      continue;
    }
    if (c != '{') {
      i++;
      continue;
    }
    if (i + 1 < e && text[i + 1] == '{') {
      run_source(p, &run, seg, i + 1, raw, quiet);
      i += 2;
      seg = i;
      continue;
    }
    /* A hole: find its closing brace and the first top-level ':'. */
    uint32_t j = i + 1, colon = 0;
    int depth = 0;
    while (j < e) {
      char d = text[j];
      if (d == '"' || d == '\'') {
        j = skip_quoted(text, j, e);
        continue;
      }
      if (d == '\\') {
        j += 2;
        continue;
      }
      if (d == '(' || d == '[' || d == '{') depth++;
      else if (d == ')' || d == ']' || d == '}') {
        if (depth == 0) break;
        depth--;
      } else if (d == ':' && depth == 0 && !colon) {
        if (j + 1 < e && text[j + 1] == ':') {
          j += 2;
          continue;
        }
        colon = j;
      }
      j++;
    }
    if (j >= e || text[j] != '}') {
      Diag *d = error_span(p, (Span){i, e}, "unclosed '{' in format string");
      diag_hint(d, "write '{{' for a literal brace");
      run_source(p, &run, seg, i, raw, quiet);
      run_flush(p, &run, pieces, run_start, i);
      return fs;
    }
    run_source(p, &run, seg, i, raw, quiet);
    run_flush(p, &run, pieces, run_start, i);
    push(p, pieces, format_hole(p, fa, i, j, colon));
    i = j + 1;
    seg = run_start = i;
  }
  run_source(p, &run, seg, e, raw, quiet);
  run_flush(p, &run, pieces, run_start, e);
  if (!fa->fstring && fa->needed != fa->npos)
    error_span(p, whole, "format string uses %d argument%s but %d %s given", fa->needed,
               fa->needed == 1 ? "" : "s", fa->npos, fa->npos == 1 ? "was" : "were");
  return fs;
}

/* fstringexpr -> FSTRING */
static Node *parse_fstring(Parser *p) {
  Token t = *cur(p);
  advance(p);
  FmtArgs fa = {0};
  fa.fstring = true;
  return parse_format(p, t.span, t.str_offset, t.str_offset + t.len, t.raw, false, &fa);
}

/* Macros whose argument at fmt_index is a format string. */
static int format_index(const char *name) {
  static const struct {
    const char *name;
    int index;
  } macros[] = {{"println", 0}, {"print", 0},  {"eprintln", 0}, {"eprint", 0},
                {"format", 0},  {"panic", 0},  {"write", 1},    {"writeln", 1},
                {"assert", 1},  {"assert_eq", 2}, {"assert_ne", 2}};
  for (size_t i = 0; i < sizeof macros / sizeof macros[0]; i++)
    if (strcmp(name, macros[i].name) == 0) return macros[i].index;
  return -1;
}

/* ---- expressions ---- */

static Node *parse_expr(Parser *p) { return parse_bin(p, P_ASSIGN); }

/* headexpr -> expr without struct literals or assignment (if, while,
 * match and for heads, where `{` opens the body) */
static Node *parse_head_expr(Parser *p) {
  bool saved = p->no_struct;
  p->no_struct = true;
  Node *n = parse_bin(p, P_RANGE);
  p->no_struct = saved;
  return n;
}

/* The block a construct requires; an empty BLOCK after an error. */
static Node *expect_block(Parser *p, const char *context) {
  if (at(p, TOK_LBRACE)) return parse_block(p);
  Token *t = cur(p);
  error_at(p, t, "expected '{' %s, found %s", context, describe(p, t));
  return ast_new(p->arena, N_BLOCK, t->span);
}

/* pathexpr -> NAME {'::' (NAME | '<' typeargs '>')}   (a single segment is an IDENT) */
static Node *parse_path_expr(Parser *p) {
  Token *t = cur(p);
  uint32_t start = t->span.start;
  const char *name = t->kind == TOK_KW_SELF_TYPE ? "Self" : t->kind == TOK_KW_SELF ? "self" : t->str;
  Node *first = ident_node(p, name, t->span);
  advance(p);
  NodeList segs = {0};
  push(p, &segs, first);
  while (at(p, TOK_COLONCOLON)) {
    Token *n = peek(p, 1);
    if (n->kind == TOK_IDENT || n->kind == TOK_KW_SELF_TYPE) {
      advance(p);
      push(p, &segs, ident_node(p, n->kind == TOK_IDENT ? n->str : "Self", n->span));
      advance(p);
    } else if (n->kind == TOK_LT) {
      advance(p);
      NodeList dropped = {0};
      parse_type_args(p, &dropped);
    } else {
      break;
    }
  }
  if (segs.len == 1) {
    finish(p, first, start);
    return first;
  }
  Node *path = node(p, N_PATH, start);
  path->as.path.segments = segs;
  return path;
}

/* `Name {` opens a struct literal only when the brace is followed by `}`,
 * `..`, or a field `x:` `x,` `x}`. */
static bool struct_lit_ahead(Parser *p) {
  Token *t = cur(p);
  if (t->kind != TOK_LBRACE || p->no_struct || (p->nl && t->nl_before)) return false;
  TokenKind a = peek_kind(p, 1);
  if (a == TOK_RBRACE || a == TOK_DOTDOT) return true;
  if (a == TOK_IDENT || a == TOK_INT) {
    TokenKind b = peek_kind(p, 2);
    return b == TOK_COLON || b == TOK_COMMA || b == TOK_RBRACE;
  }
  return false;
}

/* After an element of a { } list: a ',' or a newline separates, '}' ends.
 * False (after reporting) when neither follows. */
static bool brace_sep(Parser *p, const char *what) {
  if (accept(p, TOK_COMMA)) return true;
  Token *t = cur(p);
  if (t->kind == TOK_RBRACE) return false;
  if (t->nl_before) return true;
  error_at(p, t, "expected ',' or '}' after %s, found %s", what, describe(p, t));
  return false;
}

/* structlit -> path '{' [fieldinit {sep fieldinit}] [sep] ['..' expr] '}'
 * fieldinit -> NAME [':' expr] */
static Node *parse_struct_lit(Parser *p, Node *path, uint32_t start) {
  Node *n = node(p, N_STRUCT_LIT, start);
  n->as.struct_lit.path = path;
  Ctx c = ctx_push(p, true);
  advance(p);
  while (!at(p, TOK_RBRACE) && !at(p, TOK_EOF)) {
    if (accept(p, TOK_DOTDOT)) {
      n->as.struct_lit.base = parse_expr(p);
      accept(p, TOK_COMMA);
      break;
    }
    Token *t = cur(p);
    if (t->kind != TOK_IDENT && t->kind != TOK_INT) {
      error_at(p, t, "expected a field name, found %s", describe(p, t));
      skip_to_close(p, TOK_RBRACE);
      ctx_pop(p, c);
      finish(p, n, start);
      return n;
    }
    uint32_t fstart = t->span.start;
    const char *name = t->kind == TOK_IDENT ? t->str : src_text(p, t->span.start, t->span.end);
    advance(p);
    Node *value = accept(p, TOK_COLON) ? parse_expr(p) : NULL;
    Node *f = node(p, N_FIELD_INIT, fstart);
    f->as.field_init.name = name;
    f->as.field_init.value = value;
    push(p, &n->as.struct_lit.fields, f);
    if (!brace_sep(p, "a field")) break;
  }
  if (!expect(p, TOK_RBRACE, "to close the struct literal")) skip_to_close(p, TOK_RBRACE);
  ctx_pop(p, c);
  finish(p, n, start);
  return n;
}

/* args -> [arg {',' arg} [',']]    arg -> [NAME ':'] expr */
static void parse_args(Parser *p, NodeList *out, TokenKind closer) {
  while (!at(p, closer) && !at(p, TOK_EOF)) {
    uint32_t start = cur(p)->span.start;
    const char *name = NULL;
    if (at(p, TOK_IDENT) && peek_kind(p, 1) == TOK_COLON) {
      name = cur(p)->str;
      advance(p);
      advance(p);
    }
    Node *value = parse_expr(p);
    Node *a = node(p, N_ARG, start);
    a->as.arg.name = name;
    a->as.arg.value = value;
    push(p, out, a);
    if (accept(p, TOK_COMMA)) continue;
    if (!at(p, closer)) {
      Token *t = cur(p);
      error_at(p, t, "expected ',' or %s, found %s", ns_token_names[closer], describe(p, t));
    }
    break;
  }
}

/* indexitem -> expr | [expr] ':' [expr] [':' [expr]] | [expr] '::' [expr] */
static Node *parse_index_item(Parser *p) {
  uint32_t start = cur(p)->span.start;
  Node *lo = NULL, *hi = NULL, *step = NULL;
  if (!at(p, TOK_COLON) && !at(p, TOK_COLONCOLON)) {
    lo = parse_expr(p);
    if (!at(p, TOK_COLON) && !at(p, TOK_COLONCOLON)) return lo;
  }
  if (accept(p, TOK_COLONCOLON)) {
    if (!at(p, TOK_COMMA) && !at(p, TOK_RBRACKET)) step = parse_expr(p);
  } else {
    advance(p);
    if (!at(p, TOK_COLON) && !at(p, TOK_COMMA) && !at(p, TOK_RBRACKET)) hi = parse_expr(p);
    if (accept(p, TOK_COLON) && !at(p, TOK_COMMA) && !at(p, TOK_RBRACKET)) step = parse_expr(p);
  }
  Node *s = node(p, N_SLICE, start);
  s->as.slice.lo = lo;
  s->as.slice.hi = hi;
  s->as.slice.step = step;
  return s;
}

/* postfix -> primary {SUPERSCRIPT | '(' args ')' | '[' indexitem {',' indexitem} ']'
 *                     | '.' (NAME ['::' typeargs] ['(' args ')'] | INT | 'await') | '?'} */
static Node *postfix_step(Parser *p, Node *n, uint32_t start, bool *done);

static Node *parse_postfix(Parser *p, Node *n, uint32_t start) {
  int steps = 0;
  bool done = false;
  while (!done) {
    TokenKind k = cur(p)->kind;
    if (k != TOK_SUPERSCRIPT && k != TOK_LPAREN && k != TOK_LBRACKET && k != TOK_DOT &&
        k != TOK_QUESTION)
      break;
    if (!grow(p)) break;
    steps++;
    n = postfix_step(p, n, start, &done);
  }
  p->height -= steps;
  return n;
}

/* One postfix operation applied to n; *done when none applies. */
static Node *postfix_step(Parser *p, Node *n, uint32_t start, bool *done) {
  {
    Token *t = cur(p);
    switch (t->kind) {
    case TOK_SUPERSCRIPT: {
      Node *exp = ast_new(p->arena, N_INT, t->span);
      exp->as.int_lit.value = t->as.i;
      advance(p);
      Node *b = node(p, N_BINARY, start);
      b->as.binary.op = OP_POW;
      b->as.binary.lhs = n;
      b->as.binary.rhs = exp;
      n = b;
      break;
    }
    case TOK_LPAREN: {
      if (ends_line(p, t)) {
        *done = true;
        return n;
      }
      Node *call = ast_new(p->arena, N_CALL, t->span);
      call->as.call.callee = n;
      Ctx c = ctx_push(p, false);
      advance(p);
      parse_args(p, &call->as.call.args, TOK_RPAREN);
      expect(p, TOK_RPAREN, "to close the argument list");
      ctx_pop(p, c);
      finish(p, call, start);
      n = call;
      break;
    }
    case TOK_LBRACKET: {
      if (ends_line(p, t)) {
        *done = true;
        return n;
      }
      Node *ix = ast_new(p->arena, N_INDEX, t->span);
      ix->as.index.object = n;
      Ctx c = ctx_push(p, false);
      advance(p);
      while (!at(p, TOK_RBRACKET) && !at(p, TOK_EOF)) {
        push(p, &ix->as.index.indices, parse_index_item(p));
        if (!accept(p, TOK_COMMA)) break;
      }
      if (ix->as.index.indices.len == 0 && at(p, TOK_RBRACKET))
        error_at(p, cur(p), "expected an index, found ']'");
      expect(p, TOK_RBRACKET, "to close the index");
      ctx_pop(p, c);
      finish(p, ix, start);
      n = ix;
      break;
    }
    case TOK_DOT: {
      advance(p);
      Token *f = cur(p);
      if (f->kind == TOK_KW_AWAIT) {
        advance(p);
        Node *a = node(p, N_AWAIT, start);
        a->as.postfix.operand = n;
        n = a;
        break;
      }
      if (f->kind != TOK_IDENT && f->kind != TOK_INT) {
        error_at(p, f, "expected a field or method name after '.', found %s", describe(p, f));
        *done = true;
        return n;
      }
      const char *name = f->kind == TOK_IDENT ? f->str : src_text(p, f->span.start, f->span.end);
      Span name_span = f->span;
      advance(p);
      if (f->kind == TOK_IDENT && at(p, TOK_COLONCOLON) && peek_kind(p, 1) == TOK_LT) {
        advance(p);
        NodeList dropped = {0};
        parse_type_args(p, &dropped);
      }
      Token *after = cur(p);
      if (after->kind == TOK_LPAREN && !ends_line(p, after)) {
        Node *m = ast_new(p->arena, N_METHOD_CALL, t->span);
        m->as.method.receiver = n;
        m->as.method.name = name;
        m->as.method.name_span = name_span;
        Ctx c = ctx_push(p, false);
        advance(p);
        parse_args(p, &m->as.method.args, TOK_RPAREN);
        expect(p, TOK_RPAREN, "to close the argument list");
        ctx_pop(p, c);
        finish(p, m, start);
        n = m;
      } else {
        Node *fl = node(p, N_FIELD, start);
        fl->as.field.object = n;
        fl->as.field.name = name;
        fl->as.field.name_span = name_span;
        n = fl;
      }
      break;
    }
    case TOK_QUESTION: {
      advance(p);
      Node *q = node(p, N_TRY, start);
      q->as.postfix.operand = n;
      n = q;
      break;
    }
    default:
      *done = true;
      return n;
    }
  }
  return n;
}

/* parenexpr -> '(' ')' | '(' expr ')' | '(' expr ',' [expr {',' expr}] [','] ')' */
static Node *parse_paren(Parser *p) {
  uint32_t start = cur(p)->span.start;
  Ctx c = ctx_push(p, false);
  advance(p);
  if (accept(p, TOK_RPAREN)) {
    ctx_pop(p, c);
    return node(p, N_UNIT, start);
  }
  Node *first = parse_expr(p);
  if (at(p, TOK_COMMA)) {
    Node *t = ast_new(p->arena, N_TUPLE, first->span);
    push(p, &t->as.tuple.elems, first);
    while (accept(p, TOK_COMMA) && !at(p, TOK_RPAREN) && !at(p, TOK_EOF))
      push(p, &t->as.tuple.elems, parse_expr(p));
    expect(p, TOK_RPAREN, "to close the tuple");
    ctx_pop(p, c);
    finish(p, t, start);
    return t;
  }
  expect(p, TOK_RPAREN, "to close '('");
  ctx_pop(p, c);
  finish(p, first, start);
  return first;
}

/* listexpr -> '[' ']' | '[' expr ';' expr ']' | '[' expr {',' expr} [','] ']' */
static Node *parse_list(Parser *p) {
  uint32_t start = cur(p)->span.start;
  Ctx c = ctx_push(p, false);
  advance(p);
  Node *n;
  if (at(p, TOK_RBRACKET)) {
    n = ast_new(p->arena, N_LIST, cur(p)->span);
  } else {
    Node *first = parse_expr(p);
    if (accept(p, TOK_SEMI)) {
      n = ast_new(p->arena, N_LIST_REPEAT, first->span);
      n->as.repeat.value = first;
      n->as.repeat.count = parse_expr(p);
    } else {
      n = ast_new(p->arena, N_LIST, first->span);
      push(p, &n->as.list.elems, first);
      while (accept(p, TOK_COMMA) && !at(p, TOK_RBRACKET) && !at(p, TOK_EOF))
        push(p, &n->as.list.elems, parse_expr(p));
    }
  }
  expect(p, TOK_RBRACKET, "to close the list");
  ctx_pop(p, c);
  finish(p, n, start);
  return n;
}

/* macro -> MACRO ('(' margs ')' | '[' margs ']' | '{' margs '}')
 * margs -> [expr (';' expr | {',' expr} [','])]
 * Format macros get their format string parsed into an FSTRING. */
static Node *parse_macro(Parser *p) {
  Token *t = cur(p);
  uint32_t start = t->span.start;
  Node *m = ast_new(p->arena, N_MACRO, t->span);
  m->as.macro.name = t->str;
  advance(p);
  TokenKind open = cur(p)->kind, close;
  if (open == TOK_LPAREN) close = TOK_RPAREN;
  else if (open == TOK_LBRACKET) close = TOK_RBRACKET;
  else if (open == TOK_LBRACE) close = TOK_RBRACE;
  else {
    error_at(p, cur(p), "expected '(', '[' or '{' after %s!, found %s", t->str, describe(p, cur(p)));
    return m;
  }
  m->as.macro.bracketed = open == TOK_LBRACKET;
  int fmt_index = format_index(m->as.macro.name);
  Token fmt_tok = {0};
  bool have_fmt = false;
  Ctx c = ctx_push(p, false);
  advance(p);
  NodeList *args = &m->as.macro.args;
  while (!at(p, close) && !at(p, TOK_EOF)) {
    if (args->len == fmt_index && at(p, TOK_STRING)) {
      TokenKind next = peek_kind(p, 1);
      if (next == TOK_COMMA || next == close) {
        fmt_tok = *cur(p);
        have_fmt = true;
      }
    }
    Node *e = parse_expr(p);
    if (args->len == 0 && accept(p, TOK_SEMI)) {
      Node *r = ast_new(p->arena, N_LIST_REPEAT, e->span);
      r->as.repeat.value = e;
      r->as.repeat.count = parse_expr(p);
      finish(p, r, e->span.start);
      push(p, args, r);
      break;
    }
    push(p, args, e);
    if (accept(p, TOK_COMMA)) continue;
    if (!at(p, close)) {
      Token *b = cur(p);
      error_at(p, b, "expected ',' or %s in macro arguments, found %s", ns_token_names[close],
               describe(p, b));
    }
    break;
  }
  if (!expect(p, close, "to close the macro arguments")) skip_to_close(p, close);
  ctx_pop(p, c);
  finish(p, m, start);
  if (have_fmt && args->len > fmt_index) {
    FmtArgs fa = {0};
    Node **rest = args->items + fmt_index + 1;
    int nrest = args->len - fmt_index - 1;
    fa.pos = arena_alloc(p->arena, sizeof(Node *) * (size_t)(nrest + 1));
    fa.named = arena_alloc(p->arena, sizeof(Node *) * (size_t)(nrest + 1));
    for (int i = 0; i < nrest; i++) {
      Node *a = rest[i];
      if (a->kind == N_ASSIGN && a->as.assign.op == OP_NONE && a->as.assign.target->kind == N_IDENT)
        fa.named[fa.nnamed++] = a;
      else
        fa.pos[fa.npos++] = a;
    }
    uint32_t body_end = fmt_tok.str_end >= fmt_tok.str_offset ? fmt_tok.str_end : fmt_tok.str_offset;
    args->items[fmt_index] =
        parse_format(p, fmt_tok.span, fmt_tok.str_offset, body_end, fmt_tok.raw, true, &fa);
    args->len = fmt_index + 1;
  }
  return m;
}

/* A '|' in operand position opens a closure when the text up to the
 * matching '|' reads as a parameter list and an operand follows it
 * (`|x| x * 2`); otherwise it is an absolute value (`|z|`, `|a - b| / 2`). */
static bool closure_ahead(Parser *p) {
  int depth = 0, i = 1;
  for (; i < LOOKAHEAD - 3; i++) {
    Token *t = peek(p, i);
    switch (t->kind) {
    case TOK_EOF:
      return true;
    case TOK_LPAREN: case TOK_LBRACKET:
      depth++;
      break;
    case TOK_RPAREN: case TOK_RBRACKET:
      if (--depth < 0) return false;
      break;
    case TOK_PIPE:
      if (depth == 0) goto found;
      return false;
    case TOK_IDENT: case TOK_UNDERSCORE: case TOK_COMMA: case TOK_COLON: case TOK_COLONCOLON:
    case TOK_LT: case TOK_GT: case TOK_SHR: case TOK_AMP: case TOK_KW_MUT: case TOK_SEMI:
    case TOK_INT: case TOK_KW_FN: case TOK_ARROW: case TOK_KW_SELF_TYPE: case TOK_LABEL:
    case TOK_DOTDOT:
      break;
    default:
      return false;
    }
  }
  return true;
found:;
  Token *bar = peek(p, i), *after = peek(p, i + 1);
  if (after->kind == TOK_ARROW || after->kind == TOK_PIPE || after->kind == TOK_OROR) return true;
  if (p->nl && after->nl_before) return false;
  if (after->kind == TOK_MINUS || after->kind == TOK_STAR || after->kind == TOK_AMP) {
    /* `|x| -x` (operator glued to its operand) vs `|a| - |b|` */
    Token *next = peek(p, i + 2);
    return after->span.start > bar->span.end && next->span.start == after->span.end;
  }
  if (after->kind == TOK_LBRACE) return true;
  return can_start_expr(p, after) && after->kind != TOK_DOTDOT && after->kind != TOK_DOTDOTEQ;
}

/* param -> ['&' ['mut']] ['mut'] 'self' [':' type] | pattern [':' type] ['=' expr] */
static Node *parse_param(Parser *p, bool allow_self) {
  uint32_t start = cur(p)->span.start;
  Node *n = ast_new(p->arena, N_PARAM, cur(p)->span);
  int i = 0, kind = SELF_VALUE;
  if (peek_kind(p, i) == TOK_AMP) {
    i++;
    kind = SELF_REF;
    if (peek_kind(p, i) == TOK_LABEL) i++;
    if (peek_kind(p, i) == TOK_KW_MUT) {
      i++;
      kind = SELF_MUT_REF;
    }
  } else if (peek_kind(p, i) == TOK_KW_MUT) {
    i++;
  }
  if (allow_self && peek_kind(p, i) == TOK_KW_SELF) {
    for (int k = 0; k <= i; k++) advance(p);
    n->as.param.self_kind = kind;
    if (accept(p, TOK_COLON)) n->as.param.type = parse_type(p);
    finish(p, n, start);
    return n;
  }
  n->as.param.pattern = parse_pattern(p, false);
  if (accept(p, TOK_COLON)) n->as.param.type = parse_type(p);
  if (allow_self && accept(p, TOK_EQ)) n->as.param.deflt = parse_bin(p, P_RANGE);
  finish(p, n, start);
  return n;
}

/* closure -> ['move'] ('||' | '|' [param {',' param} [',']] '|') ('->' type block | expr) */
static Node *parse_closure(Parser *p, bool is_move, uint32_t start) {
  Node *n = ast_new(p->arena, N_CLOSURE, cur(p)->span);
  n->as.closure.is_move = is_move;
  if (!accept(p, TOK_OROR)) {
    Ctx c = ctx_push(p, false);
    advance(p);
    while (!at(p, TOK_PIPE) && !at(p, TOK_EOF)) {
      push(p, &n->as.closure.params, parse_param(p, false));
      if (!accept(p, TOK_COMMA)) break;
    }
    expect(p, TOK_PIPE, "to close the closure parameters");
    ctx_pop(p, c);
  }
  if (accept(p, TOK_ARROW)) {
    n->as.closure.ret = parse_type(p);
    n->as.closure.body = expect_block(p, "for a closure body after its return type");
  } else {
    n->as.closure.body = parse_expr(p);
  }
  finish(p, n, start);
  return n;
}

/* absexpr -> '|' expr '|' */
static Node *parse_abs(Parser *p) {
  uint32_t start = cur(p)->span.start;
  Ctx c = ctx_push(p, false);
  p->no_pipe = true;
  advance(p);
  Node *inner = parse_bin(p, P_RANGE);
  expect(p, TOK_PIPE, "to close '|...|'");
  ctx_pop(p, c);
  Node *n = node(p, N_ABS, start);
  n->as.postfix.operand = inner;
  return n;
}

/* ifexpr -> 'if' ['let' pattern '='] headexpr block ['else' (ifexpr | block)] */
static Node *parse_if(Parser *p) {
  uint32_t start = cur(p)->span.start;
  Node *n = ast_new(p->arena, N_IF, cur(p)->span);
  if (!enter(p)) return n;
  advance(p);
  if (accept(p, TOK_KW_LET)) {
    n->as.if_.pattern = parse_pattern(p, true);
    expect(p, TOK_EQ, "after the if-let pattern");
  }
  n->as.if_.cond = parse_head_expr(p);
  if (at(p, TOK_EQ)) {
    Diag *d = error_at(p, cur(p), "expected '{' after the if condition, found '='");
    diag_hint(d, "use '==' to compare");
  }
  n->as.if_.then = expect_block(p, "after the if condition");
  if (accept(p, TOK_KW_ELSE))
    n->as.if_.els = at(p, TOK_KW_IF) ? parse_if(p) : expect_block(p, "after 'else'");
  leave(p);
  finish(p, n, start);
  return n;
}

/* whileexpr -> 'while' ['let' pattern '='] headexpr block */
static Node *parse_while(Parser *p, const char *label, uint32_t start) {
  Node *n = ast_new(p->arena, N_WHILE, cur(p)->span);
  n->as.loop.label = label;
  advance(p);
  if (accept(p, TOK_KW_LET)) {
    n->as.loop.pattern = parse_pattern(p, true);
    expect(p, TOK_EQ, "after the while-let pattern");
  }
  n->as.loop.cond = parse_head_expr(p);
  n->as.loop.body = expect_block(p, "after the while condition");
  finish(p, n, start);
  return n;
}

/* loopexpr -> 'loop' block */
static Node *parse_loop(Parser *p, const char *label, uint32_t start) {
  Node *n = ast_new(p->arena, N_LOOP, cur(p)->span);
  n->as.loop.label = label;
  advance(p);
  n->as.loop.body = expect_block(p, "after 'loop'");
  finish(p, n, start);
  return n;
}

/* forexpr -> 'for' pattern 'in' headexpr block */
static Node *parse_for(Parser *p, const char *label, uint32_t start) {
  Node *n = ast_new(p->arena, N_FOR, cur(p)->span);
  n->as.for_.label = label;
  advance(p);
  n->as.for_.pattern = parse_pattern(p, true);
  expect(p, TOK_KW_IN, "after the for pattern");
  n->as.for_.iter = parse_head_expr(p);
  n->as.for_.body = expect_block(p, "after the for iterator");
  finish(p, n, start);
  return n;
}

/* labeled -> LABEL ':' (loopexpr | whileexpr | forexpr) */
static Node *parse_labeled(Parser *p) {
  Token *t = cur(p);
  uint32_t start = t->span.start;
  const char *label = t->str ? t->str : src_text(p, t->span.start + 1, t->span.end);
  advance(p);
  expect(p, TOK_COLON, "after the label");
  switch (cur(p)->kind) {
  case TOK_KW_WHILE: return parse_while(p, label, start);
  case TOK_KW_LOOP: return parse_loop(p, label, start);
  case TOK_KW_FOR: return parse_for(p, label, start);
  default:
    error_at(p, cur(p), "expected 'loop', 'while' or 'for' after a label, found %s", describe(p, cur(p)));
    return err_node(p);
  }
}

/* matchexpr -> 'match' headexpr '{' {arm} '}'
 * arm -> pattern ['if' expr] '=>' expr [','] */
static Node *parse_match(Parser *p) {
  uint32_t start = cur(p)->span.start;
  Node *n = ast_new(p->arena, N_MATCH, cur(p)->span);
  advance(p);
  n->as.match.scrutinee = parse_head_expr(p);
  if (!at(p, TOK_LBRACE)) {
    error_at(p, cur(p), "expected '{' after the match scrutinee, found %s", describe(p, cur(p)));
    finish(p, n, start);
    return n;
  }
  Ctx c = ctx_push(p, true);
  advance(p);
  while (!at(p, TOK_RBRACE) && !at(p, TOK_EOF)) {
    uint32_t astart = cur(p)->span.start;
    Node *arm = ast_new(p->arena, N_ARM, cur(p)->span);
    arm->as.arm.pattern = parse_pattern(p, true);
    if (accept(p, TOK_KW_IF)) arm->as.arm.guard = parse_expr(p);
    if (!expect(p, TOK_FATARROW, "after the match pattern")) {
      skip_to_close(p, TOK_RBRACE);
      ctx_pop(p, c);
      finish(p, n, start);
      return n;
    }
    arm->as.arm.body = parse_expr(p);
    finish(p, arm, astart);
    push(p, &n->as.match.arms, arm);
    if (accept(p, TOK_COMMA)) continue;
    Token *t = cur(p);
    if (t->kind == TOK_RBRACE || t->nl_before || p->prev_kind == TOK_RBRACE) continue;
    error_at(p, t, "expected ',' or '}' after the match arm, found %s", describe(p, t));
    skip_to_close(p, TOK_RBRACE);
    ctx_pop(p, c);
    finish(p, n, start);
    return n;
  }
  expect(p, TOK_RBRACE, "to close the match");
  ctx_pop(p, c);
  finish(p, n, start);
  return n;
}

/* The token after ∑/∏ starts `pattern in`: a name or `_`, or a
 * parenthesised pattern, followed by 'in'. */
static bool big_op_ahead(Parser *p) {
  TokenKind k = peek_kind(p, 1);
  if (k == TOK_IDENT || k == TOK_UNDERSCORE) return peek_kind(p, 2) == TOK_KW_IN;
  if (k == TOK_KW_MUT) return peek_kind(p, 2) == TOK_IDENT && peek_kind(p, 3) == TOK_KW_IN;
  if (k != TOK_LPAREN) return false;
  int depth = 0;
  for (int i = 1; i < LOOKAHEAD - 3; i++) {
    TokenKind t = peek_kind(p, i);
    if (t == TOK_EOF) return false;
    if (is_opener(t)) depth++;
    else if (is_closer(t) && --depth == 0) return peek_kind(p, i + 1) == TOK_KW_IN;
  }
  return false;
}

/* bigop -> ('∑' | '∏') pattern 'in' headexpr block */
static Node *parse_big_op(Parser *p) {
  uint32_t start = cur(p)->span.start;
  Node *n = ast_new(p->arena, N_BIG_OP, cur(p)->span);
  n->as.big_op.op = at(p, TOK_SUM) ? OP_SUM : OP_PROD;
  advance(p);
  n->as.big_op.pattern = parse_pattern(p, false);
  expect(p, TOK_KW_IN, "after the pattern");
  n->as.big_op.iter = parse_head_expr(p);
  n->as.big_op.body = expect_block(p, "for the body of the sum or product");
  finish(p, n, start);
  return n;
}

/* jump -> ('break' | 'continue') [LABEL] [expr] | 'return' [expr] */
static Node *parse_jump(Parser *p) {
  Token *t = cur(p);
  uint32_t start = t->span.start;
  NodeKind kind = t->kind == TOK_KW_BREAK ? N_BREAK : t->kind == TOK_KW_CONTINUE ? N_CONTINUE : N_RETURN;
  Node *n = ast_new(p->arena, kind, t->span);
  advance(p);
  if (kind != N_RETURN && at(p, TOK_LABEL) && !(p->nl && cur(p)->nl_before)) {
    Token *l = cur(p);
    n->as.brk.label = l->str ? l->str : src_text(p, l->span.start + 1, l->span.end);
    advance(p);
  }
  if (kind != N_CONTINUE && operand_follows(p)) n->as.brk.value = parse_expr(p);
  finish(p, n, start);
  return n;
}

/* primary -> literal | FSTRING | pathexpr [structlit] | 'self' | '_' | parenexpr
 *          | listexpr | block | 'unsafe' block | 'async' ['move'] block
 *          | 'no_grad' block | ifexpr | matchexpr | whileexpr | loopexpr
 *          | forexpr | labeled | jump | closure | absexpr | macro */
static Node *parse_primary(Parser *p) {
  Token *t = cur(p);
  uint32_t start = t->span.start;
  switch (t->kind) {
  case TOK_INT: case TOK_FLOAT: case TOK_IMAG: case TOK_QUANTITY: case TOK_STRING:
  case TOK_CHAR: case TOK_KW_TRUE: case TOK_KW_FALSE:
    return parse_literal(p);
  case TOK_FSTRING:
    return parse_fstring(p);
  case TOK_IDENT:
    if (is_word(t, "move") && (peek_kind(p, 1) == TOK_PIPE || peek_kind(p, 1) == TOK_OROR)) {
      advance(p);
      return parse_closure(p, true, start);
    }
    /* fallthrough */
  case TOK_KW_SELF_TYPE: {
    Node *path = parse_path_expr(p);
    if (struct_lit_ahead(p)) return parse_struct_lit(p, path, start);
    return path;
  }
  case TOK_KW_SELF: {
    advance(p);
    return node(p, N_SELF, start);
  }
  case TOK_UNDERSCORE:
    advance(p);
    return ident_node(p, "_", t->span);
  case TOK_LPAREN:
    return parse_paren(p);
  case TOK_LBRACKET:
    return parse_list(p);
  case TOK_LBRACE:
    return parse_block(p);
  case TOK_KW_UNSAFE: {
    advance(p);
    Node *b = expect_block(p, "after 'unsafe'");
    b->as.block.is_unsafe = true;
    finish(p, b, start);
    return b;
  }
  case TOK_KW_ASYNC: {
    advance(p);
    bool is_move = false;
    if (is_word(cur(p), "move")) {
      advance(p);
      is_move = true;
    }
    if (at(p, TOK_PIPE) || at(p, TOK_OROR)) return parse_closure(p, is_move, start);
    Node *b = expect_block(p, "after 'async'");
    finish(p, b, start);
    return b;
  }
  case TOK_KW_NO_GRAD: {
    advance(p);
    Node *body = expect_block(p, "after 'no_grad'");
    Node *n = node(p, N_NO_GRAD, start);
    n->as.no_grad.body = body;
    return n;
  }
  case TOK_KW_IF:
    return parse_if(p);
  case TOK_KW_MATCH:
    return parse_match(p);
  case TOK_KW_WHILE:
    return parse_while(p, NULL, start);
  case TOK_KW_LOOP:
    return parse_loop(p, NULL, start);
  case TOK_KW_FOR:
    return parse_for(p, NULL, start);
  case TOK_LABEL:
    return parse_labeled(p);
  case TOK_KW_BREAK: case TOK_KW_CONTINUE: case TOK_KW_RETURN:
    return parse_jump(p);
  case TOK_PIPE:
    return closure_ahead(p) ? parse_closure(p, false, start) : parse_abs(p);
  case TOK_OROR:
    return parse_closure(p, false, start);
  case TOK_MACRO:
    return parse_macro(p);
  default: {
    Diag *d = error_at(p, t, "expected an expression, found %s", describe(p, t));
    if (d && t->kind == TOK_INTEGRAL) diag_hint(d, "'∫' is reserved and not supported yet");
    return err_node(p);
  }
  }
}

/* power -> postfix [('**' | '^') unary]    (right associative through unary) */
static Node *parse_power(Parser *p) {
  uint32_t start = cur(p)->span.start;
  Node *base = parse_postfix(p, parse_primary(p), start);
  Token *t = cur(p);
  if ((t->kind == TOK_STARSTAR || t->kind == TOK_CARET) && !ends_line(p, t)) {
    advance(p);
    Node *exp = parse_unary(p);
    Node *n = node(p, N_BINARY, start);
    n->as.binary.op = OP_POW;
    n->as.binary.lhs = base;
    n->as.binary.rhs = exp;
    return n;
  }
  return base;
}

/* unary -> ('-' | '!' | '√' | '∛' | '∇' | '∂' | '*' | '∑' | '∏') unary
 *        | '&' ['mut'] unary | '&&' unary | bigop | power */
static Node *parse_unary(Parser *p) {
  Token *t = cur(p);
  uint32_t start = t->span.start;
  OpKind op;
  Node *n;
  switch (t->kind) {
  case TOK_MINUS: op = OP_NEG; goto prefix;
  case TOK_BANG: op = OP_NOT; goto prefix;
  case TOK_SQRT: op = OP_SQRT; goto prefix;
  case TOK_CBRT: op = OP_CBRT; goto prefix;
  case TOK_NABLA: op = OP_GRAD; goto prefix;
  case TOK_PARTIAL: op = OP_PARTIAL; goto prefix;
  case TOK_STAR: op = OP_DEREF; goto prefix;
  case TOK_SUM: case TOK_PROD:
    if (big_op_ahead(p)) {
      n = parse_big_op(p);
      break;
    }
    op = t->kind == TOK_SUM ? OP_SUM : OP_PROD;
  prefix: {
    if (!enter(p)) return err_node(p);
    advance(p);
    Node *operand = parse_unary(p);
    leave(p);
    n = node(p, N_UNARY, start);
    n->as.unary.op = op;
    n->as.unary.operand = operand;
    break;
  }
  case TOK_AMP: case TOK_ANDAND: {
    bool twice = t->kind == TOK_ANDAND;
    if (!enter(p)) return err_node(p);
    advance(p);
    bool is_mut = accept(p, TOK_KW_MUT);
    Node *operand = parse_unary(p);
    leave(p);
    n = node(p, N_REF, start);
    n->as.ref.operand = operand;
    n->as.ref.is_mut = is_mut;
    if (twice) {
      Node *outer = node(p, N_REF, start);
      outer->as.ref.operand = n;
      n = outer;
    }
    break;
  }
  default:
    n = parse_power(p);
    break;
  }
  return n;
}

/* Infix operators of the precedence table: their level and operator. */
static int infix_prec(Parser *p, TokenKind k, OpKind *op) {
  switch (k) {
  case TOK_EQ: *op = OP_NONE; return P_ASSIGN;
  case TOK_PLUSEQ: *op = OP_ADD; return P_ASSIGN;
  case TOK_MINUSEQ: *op = OP_SUB; return P_ASSIGN;
  case TOK_STAREQ: *op = OP_MUL; return P_ASSIGN;
  case TOK_SLASHEQ: *op = OP_DIV; return P_ASSIGN;
  case TOK_PERCENTEQ: *op = OP_MOD; return P_ASSIGN;
  case TOK_DOTDOT: case TOK_DOTDOTEQ: *op = OP_NONE; return P_RANGE;
  case TOK_OROR: *op = OP_OR; return P_OR;
  case TOK_ANDAND: *op = OP_AND; return P_AND;
  case TOK_EQEQ: *op = OP_EQ; return P_CMP;
  case TOK_NE: *op = OP_NE; return P_CMP;
  case TOK_LT: *op = OP_LT; return P_CMP;
  case TOK_GT: *op = OP_GT; return P_CMP;
  case TOK_LE: *op = OP_LE; return P_CMP;
  case TOK_GE: *op = OP_GE; return P_CMP;
  case TOK_APPROX: *op = OP_APPROX; return P_CMP;
  case TOK_ELEM_OF: *op = OP_IN; return P_CMP;
  case TOK_NOT_ELEM_OF: *op = OP_NOT_IN; return P_CMP;
  case TOK_PIPE: *op = OP_BITOR; return p->no_pipe ? P_NONE : P_BITOR;
  case TOK_AMP: *op = OP_BITAND; return P_BITAND;
  case TOK_SHL: *op = OP_SHL; return P_SHIFT;
  case TOK_SHR: *op = OP_SHR; return P_SHIFT;
  case TOK_PLUS: *op = OP_ADD; return P_ADD;
  case TOK_MINUS: *op = OP_SUB; return P_ADD;
  case TOK_STAR: *op = OP_MUL; return P_MUL;
  case TOK_SLASH: *op = OP_DIV; return P_MUL;
  case TOK_PERCENT: *op = OP_MOD; return P_MUL;
  case TOK_MATMUL: case TOK_AT: *op = OP_MATMUL; return P_MUL;
  case TOK_OUTER: *op = OP_OUTER; return P_MUL;
  case TOK_DOTPROD: *op = OP_DOT; return P_MUL;
  case TOK_KW_AS: *op = OP_NONE; return P_CAST;
  default: *op = OP_NONE; return P_NONE;
  }
}

/* rangeexpr -> [lo] ('..' | '..=') [hi]    (hi only on the same line) */
static Node *parse_range(Parser *p, Node *lo, uint32_t start) {
  bool inclusive = at(p, TOK_DOTDOTEQ);
  advance(p);
  Node *hi = NULL;
  if (operand_follows(p) && !at(p, TOK_LBRACE) && !at(p, TOK_DOTDOT) && !at(p, TOK_DOTDOTEQ))
    hi = parse_bin(p, P_RANGE + 1);
  else if (inclusive)
    error_at(p, cur(p), "expected the end of the inclusive range after '..=', found %s",
             describe(p, cur(p)));
  Node *n = node(p, N_RANGE, start);
  n->as.range.lo = lo;
  n->as.range.hi = hi;
  n->as.range.inclusive = inclusive;
  return n;
}

/* expr -> unary {binop unary}, by precedence climbing over the table above;
 * assignment is right associative, ranges and comparisons do not chain. */
static Node *parse_bin(Parser *p, int min) {
  Token *t = cur(p);
  uint32_t start = t->span.start;
  if (!enter(p)) return err_node(p);
  Node *lhs;
  int last = P_NONE; /* level of the operator that built lhs in this loop */
  if ((t->kind == TOK_DOTDOT || t->kind == TOK_DOTDOTEQ) && min <= P_RANGE) {
    lhs = parse_range(p, NULL, start);
    last = P_RANGE;
  } else {
    lhs = parse_unary(p);
  }
  int steps = 0;
  for (;; steps++) {
    t = cur(p);
    if (ends_line(p, t)) break;
    OpKind op;
    int prec = infix_prec(p, t->kind, &op);
    if (prec == P_NONE || prec < min || !grow(p)) break;
    if (prec == P_ASSIGN) {
      advance(p);
      Node *value = parse_bin(p, P_ASSIGN);
      Node *n = node(p, N_ASSIGN, start);
      n->as.assign.op = op;
      n->as.assign.target = lhs;
      n->as.assign.value = value;
      lhs = n;
      last = P_ASSIGN;
      continue;
    }
    if (prec == P_RANGE) {
      if (last == P_RANGE) {
        error_at(p, t, "range operators cannot be chained");
        p->height--;
        break;
      }
      lhs = parse_range(p, lhs, start);
      last = P_RANGE;
      continue;
    }
    if (prec == P_CAST) {
      advance(p);
      Node *type = parse_type(p);
      Node *n = node(p, N_CAST, start);
      n->as.cast.operand = lhs;
      n->as.cast.type = type;
      lhs = n;
      last = P_CAST;
      continue;
    }
    if (prec == P_CMP && last == P_CMP) {
      Diag *d = error_span(p, t->span, "comparison operators cannot be chained");
      diag_hint(d, "write `a < b && b < c`, or add parentheses");
    }
    advance(p);
    Node *rhs = parse_bin(p, prec + 1);
    Node *n = node(p, N_BINARY, start);
    n->as.binary.op = op;
    n->as.binary.lhs = lhs;
    n->as.binary.rhs = rhs;
    lhs = n;
    last = prec;
  }
  p->height -= steps;
  leave(p);
  return lhs;
}

/* ---- blocks and statements ---- */

/* block -> '{' {stmt} [expr] '}' */
static Node *parse_block(Parser *p) {
  uint32_t start = cur(p)->span.start;
  Node *b = ast_new(p->arena, N_BLOCK, cur(p)->span);
  if (!enter(p)) return b;
  Ctx c = ctx_push(p, true);
  expect(p, TOK_LBRACE, NULL);
  int base = p->open;
  while (!at(p, TOK_RBRACE) && !at(p, TOK_EOF)) {
    uint64_t before = p->ntok;
    bool tail = false;
    Node *s = parse_stmt(p, &tail);
    if (s) {
      if (tail && at(p, TOK_RBRACE) && !p->panic)
        b->as.block.tail = s->as.expr_stmt.expr;
      else
        push(p, &b->as.block.stmts, s);
    }
    if (p->panic) synchronize(p, base, false);
    if (p->ntok == before && !at(p, TOK_RBRACE)) advance(p);
  }
  expect(p, TOK_RBRACE, "to close the block");
  ctx_pop(p, c);
  leave(p);
  finish(p, b, start);
  return b;
}

/* The end of a statement: ';' (true), or a new line, '}' or the end of
 * input, or nothing after a statement ending in '}' (false). */
static bool end_stmt(Parser *p) {
  if (accept(p, TOK_SEMI)) return true;
  Token *t = cur(p);
  if (t->kind == TOK_RBRACE || t->kind == TOK_EOF || t->nl_before || p->prev_kind == TOK_RBRACE)
    return false;
  error_at(p, t, "expected ';' or a new line after the statement, found %s", describe(p, t));
  return false;
}

static bool starts_item(Parser *p) {
  switch (cur(p)->kind) {
  case TOK_KW_FN: case TOK_KW_STRUCT: case TOK_KW_ENUM: case TOK_KW_IMPL: case TOK_KW_TRAIT:
  case TOK_KW_TYPE: case TOK_KW_MOD: case TOK_KW_USE: case TOK_KW_IMPORT: case TOK_KW_PUB:
  case TOK_KW_EXTERN: case TOK_KW_ACTOR: case TOK_KW_CONST: case TOK_KW_STATIC: case TOK_HASH:
    return true;
  case TOK_KW_ASYNC:
    return peek_kind(p, 1) == TOK_KW_FN;
  case TOK_KW_UNSAFE: {
    TokenKind k = peek_kind(p, 1);
    return k == TOK_KW_FN || k == TOK_KW_IMPL || k == TOK_KW_TRAIT || k == TOK_KW_EXTERN;
  }
  case TOK_AT:
    return peek_kind(p, 1) == TOK_IDENT;
  default:
    return false;
  }
}

/* letstat -> 'let' pattern [':' type] ['=' expr] */
static Node *parse_let(Parser *p) {
  uint32_t start = cur(p)->span.start;
  Node *n = ast_new(p->arena, N_LET, cur(p)->span);
  advance(p);
  n->as.let.pattern = parse_pattern(p, false);
  if (accept(p, TOK_COLON)) n->as.let.type = parse_type(p);
  if (accept(p, TOK_EQ)) n->as.let.init = parse_expr(p);
  end_stmt(p);
  finish(p, n, start);
  return n;
}

/* stmt -> ';' | item | letstat | expr [';'] */
static Node *parse_stmt(Parser *p, bool *tail) {
  Token *t = cur(p);
  if (t->kind == TOK_SEMI) {
    advance(p);
    return NULL;
  }
  if (starts_item(p)) return parse_item(p);
  if (t->kind == TOK_KW_LET) return parse_let(p);
  uint32_t start = t->span.start;
  Node *e = parse_expr(p);
  Node *s = ast_new(p->arena, N_EXPR_STMT, e->span);
  s->as.expr_stmt.expr = e;
  s->as.expr_stmt.has_semi = end_stmt(p);
  if (!s->as.expr_stmt.has_semi && tail) *tail = true;
  finish(p, s, start);
  return s;
}

/* ---- types ---- */

/* The '[' ahead opens an array type `[T; N]`: a ';' at its top level. */
static bool array_type_ahead(Parser *p) {
  int depth = 0;
  for (int i = 0; i < LOOKAHEAD - 3; i++) {
    TokenKind k = peek_kind(p, i);
    if (k == TOK_EOF) return false;
    if (is_opener(k)) depth++;
    else if (is_closer(k) && --depth == 0) return false;
    else if (k == TOK_SEMI && depth == 1) return true;
  }
  return false;
}

static bool at_gt(Parser *p) {
  TokenKind k = cur(p)->kind;
  return k == TOK_GT || k == TOK_SHR || k == TOK_GE;
}

/* Consumes one '>', splitting '>>' and '>=' (Vec<Vec<T>>). */
static bool expect_gt(Parser *p) {
  Token *t = cur(p);
  if (t->kind == TOK_GT) {
    advance(p);
    return true;
  }
  if (t->kind == TOK_SHR || t->kind == TOK_GE) {
    p->prev_end = t->span.start + 1;
    p->prev_kind = TOK_GT;
    p->ntok++;
    t->kind = t->kind == TOK_SHR ? TOK_GT : TOK_EQ;
    t->span.start++;
    t->nl_before = false;
    return true;
  }
  error_at(p, t, "expected '>' to close the generic arguments, found %s", describe(p, t));
  return false;
}

/* typeargs -> '<' [typearg {',' typearg} [',']] '>'
 * typearg -> LABEL | NAME '=' type | literal | '-' literal | block | '[' expr {',' expr} ']' | type */
static void parse_type_args(Parser *p, NodeList *out) {
  Ctx c = ctx_push(p, false);
  advance(p);
  while (!at_gt(p) && !at(p, TOK_EOF)) {
    Token *t = cur(p);
    if (t->kind == TOK_LABEL) {
      advance(p);
    } else if (is_literal(t->kind) || t->kind == TOK_MINUS) {
      push(p, out, parse_unary(p));
    } else if (t->kind == TOK_LBRACE) {
      push(p, out, parse_block(p));
    } else if (t->kind == TOK_LBRACKET && !array_type_ahead(p)) {
      push(p, out, parse_list(p));
    } else if (t->kind == TOK_IDENT && peek_kind(p, 1) == TOK_EQ) {
      advance(p);
      advance(p);
      push(p, out, parse_type(p));
    } else {
      push(p, out, parse_type(p));
    }
    if (!accept(p, TOK_COMMA)) break;
  }
  expect_gt(p);
  ctx_pop(p, c);
}

/* The trait of `impl Trait` / `dyn Trait` / a bound: a type, further
 * `+ Bound`s dropped. */
static Node *parse_bound(Parser *p) {
  accept(p, TOK_QUESTION);
  Node *t = parse_type(p);
  while (at(p, TOK_PLUS) && !ends_line(p, cur(p))) {
    advance(p);
    if (!accept(p, TOK_LABEL)) parse_type(p);
  }
  return t;
}

static Node *type_name_node(Parser *p, const char *name, Span span, Node *arg) {
  Node *n = ast_new(p->arena, N_TYPE_NAME, span);
  n->as.type_name.path = ident_node(p, name, span);
  push(p, &n->as.type_name.args, arg);
  return n;
}

/* fntype -> '(' [type {',' type} [',']] ')' ['->' type]    (after 'fn' or Fn) */
static Node *parse_fn_type(Parser *p, uint32_t start) {
  Node *n = ast_new(p->arena, N_TYPE_FN, cur(p)->span);
  Ctx c = ctx_push(p, false);
  if (expect(p, TOK_LPAREN, "for the parameter types")) {
    while (!at(p, TOK_RPAREN) && !at(p, TOK_EOF)) {
      push(p, &n->as.type_fn.params, parse_type(p));
      if (!accept(p, TOK_COMMA)) break;
    }
    expect(p, TOK_RPAREN, "to close the parameter types");
  }
  ctx_pop(p, c);
  if (accept(p, TOK_ARROW)) n->as.type_fn.ret = parse_type(p);
  finish(p, n, start);
  return n;
}

/* type -> '&' [LABEL] ['mut'] type | '*' ('const' | 'mut') type
 *       | '(' [type {',' type} [',']] ')' | '[' type [';' expr] ']'
 *       | 'fn' fntype | ('impl' | 'dyn') bound | '_' | '!'
 *       | NAME {'::' NAME} [typeargs] | ('Fn' | 'FnMut' | 'FnOnce') fntype */
static Node *type_inner(Parser *p) {
  Token *t = cur(p);
  uint32_t start = t->span.start;
  switch (t->kind) {
  case TOK_AMP: case TOK_ANDAND: {
    bool twice = t->kind == TOK_ANDAND;
    advance(p);
    accept(p, TOK_LABEL);
    bool is_mut = accept(p, TOK_KW_MUT);
    Node *inner = parse_type(p);
    Node *n = node(p, N_TYPE_REF, start);
    n->as.type_ref.inner = inner;
    n->as.type_ref.is_mut = is_mut;
    if (twice) {
      Node *outer = node(p, N_TYPE_REF, start);
      outer->as.type_ref.inner = n;
      n = outer;
    }
    return n;
  }
  case TOK_STAR: {
    advance(p);
    const char *name = "*const";
    if (accept(p, TOK_KW_MUT)) name = "*mut";
    else if (!accept(p, TOK_KW_CONST))
      error_at(p, cur(p), "expected 'const' or 'mut' after '*' in a pointer type, found %s",
               describe(p, cur(p)));
    Node *pointee = parse_type(p);
    return type_name_node(p, name, span_from(p, start), pointee);
  }
  case TOK_LPAREN: {
    Ctx c = ctx_push(p, false);
    advance(p);
    Node *n = ast_new(p->arena, N_TYPE_TUPLE, t->span);
    bool comma = false;
    while (!at(p, TOK_RPAREN) && !at(p, TOK_EOF)) {
      push(p, &n->as.type_tuple.elems, parse_type(p));
      if (!(comma = accept(p, TOK_COMMA))) break;
    }
    expect(p, TOK_RPAREN, "to close the tuple type");
    ctx_pop(p, c);
    if (n->as.type_tuple.elems.len == 1 && !comma) return n->as.type_tuple.elems.items[0];
    finish(p, n, start);
    return n;
  }
  case TOK_LBRACKET: {
    Ctx c = ctx_push(p, false);
    advance(p);
    Node *n = ast_new(p->arena, N_TYPE_ARRAY, t->span);
    n->as.type_array.elem = parse_type(p);
    if (accept(p, TOK_SEMI)) n->as.type_array.len = parse_expr(p);
    expect(p, TOK_RBRACKET, "to close the array type");
    ctx_pop(p, c);
    finish(p, n, start);
    return n;
  }
  case TOK_KW_FN:
    advance(p);
    return parse_fn_type(p, start);
  case TOK_KW_IMPL:
    advance(p);
    return parse_bound(p);
  case TOK_UNDERSCORE:
    advance(p);
    return node(p, N_TYPE_INFER, start);
  case TOK_BANG:
    advance(p);
    return type_name_node(p, "!", t->span, NULL);
  case TOK_IDENT:
    if (is_word(t, "dyn") && (peek_kind(p, 1) == TOK_IDENT || peek_kind(p, 1) == TOK_KW_SELF_TYPE)) {
      advance(p);
      return parse_bound(p);
    }
    if ((is_word(t, "Fn") || is_word(t, "FnMut") || is_word(t, "FnOnce")) &&
        peek_kind(p, 1) == TOK_LPAREN) {
      advance(p);
      return parse_fn_type(p, start);
    }
    /* fallthrough */
  case TOK_KW_SELF_TYPE: case TOK_KW_SELF: {
    Node *path = parse_path_expr(p);
    Node *n = ast_new(p->arena, N_TYPE_NAME, path->span);
    n->as.type_name.path = path;
    if (at(p, TOK_LT)) parse_type_args(p, &n->as.type_name.args);
    finish(p, n, start);
    return n;
  }
  default:
    error_at(p, t, "expected a type, found %s", describe(p, t));
    return ast_new(p->arena, N_TYPE_INFER, t->span);
  }
}

static Node *parse_type(Parser *p) {
  if (!enter(p)) return ast_new(p->arena, N_TYPE_INFER, cur(p)->span);
  Node *n = type_inner(p);
  leave(p);
  return n;
}

static Node *type_binary(Parser *p, OpKind op, Node *lhs, Node *rhs, uint32_t start) {
  Node *n = node(p, N_TYPE_BINARY, start);
  n->as.type_binary.op = op;
  n->as.type_binary.lhs = lhs;
  n->as.type_binary.rhs = rhs;
  return n;
}

static Node *parse_unit_type(Parser *p);

/* unitatom -> '(' unittype {',' type} ')' | INT | type */
static Node *parse_unit_atom(Parser *p) {
  Token *t = cur(p);
  uint32_t start = t->span.start;
  if (t->kind == TOK_INT) return parse_literal(p);
  if (t->kind != TOK_LPAREN) return parse_type(p);
  Ctx c = ctx_push(p, false);
  advance(p);
  if (accept(p, TOK_RPAREN)) {
    ctx_pop(p, c);
    return node(p, N_TYPE_TUPLE, start);
  }
  Node *first = parse_unit_type(p);
  if (at(p, TOK_COMMA)) {
    Node *n = ast_new(p->arena, N_TYPE_TUPLE, t->span);
    push(p, &n->as.type_tuple.elems, first);
    while (accept(p, TOK_COMMA) && !at(p, TOK_RPAREN) && !at(p, TOK_EOF))
      push(p, &n->as.type_tuple.elems, parse_type(p));
    expect(p, TOK_RPAREN, "to close the tuple type");
    ctx_pop(p, c);
    finish(p, n, start);
    return n;
  }
  expect(p, TOK_RPAREN, "to close '('");
  ctx_pop(p, c);
  finish(p, first, start);
  return first;
}

/* unitfactor -> unitatom {'^' ['-'] INT | SUPERSCRIPT} */
static Node *parse_unit_factor(Parser *p) {
  uint32_t start = cur(p)->span.start;
  Node *n = parse_unit_atom(p);
  for (;;) {
    Token *t = cur(p);
    if (t->kind == TOK_SUPERSCRIPT) {
      Node *e = ast_new(p->arena, N_INT, t->span);
      e->as.int_lit.value = t->as.i;
      advance(p);
      n = type_binary(p, OP_POW, n, e, start);
    } else if (t->kind == TOK_CARET) {
      advance(p);
      uint32_t estart = cur(p)->span.start;
      bool neg = accept(p, TOK_MINUS);
      Token *v = cur(p);
      Node *e = ast_new(p->arena, N_INT, v->span);
      if (v->kind == TOK_INT) {
        e->as.int_lit.value = neg ? -v->as.i : v->as.i;
        advance(p);
      } else {
        error_at(p, v, "expected an integer power after '^', found %s", describe(p, v));
      }
      finish(p, e, estart);
      n = type_binary(p, OP_POW, n, e, start);
    } else {
      return n;
    }
  }
}

/* unittype -> unitfactor {('*' | '/' | '⋅') unitfactor}   (type aliases:
 * Kilogram*Meter/(Second*Second)) */
static Node *parse_unit_type(Parser *p) {
  uint32_t start = cur(p)->span.start;
  if (!enter(p)) return ast_new(p->arena, N_TYPE_INFER, cur(p)->span);
  Node *n = parse_unit_factor(p);
  for (;;) {
    TokenKind k = cur(p)->kind;
    if ((k != TOK_STAR && k != TOK_SLASH && k != TOK_DOTPROD) || ends_line(p, cur(p))) break;
    advance(p);
    n = type_binary(p, k == TOK_SLASH ? OP_DIV : OP_MUL, n, parse_unit_factor(p), start);
  }
  leave(p);
  return n;
}

/* ---- patterns ---- */

/* patlit -> ['-'] (INT | FLOAT) | STRING | CHAR | 'true' | 'false'  (negative
 * numbers fold into the literal) */
static Node *parse_pat_literal(Parser *p) {
  uint32_t start = cur(p)->span.start;
  if (accept(p, TOK_MINUS)) {
    Token *t = cur(p);
    if (t->kind != TOK_INT && t->kind != TOK_FLOAT) {
      error_at(p, t, "expected a number after '-' in a pattern, found %s", describe(p, t));
      return err_node(p);
    }
    Node *n = parse_literal(p);
    if (n->kind == N_INT) n->as.int_lit.value = (int64_t)(0 - (uint64_t)n->as.int_lit.value);
    else n->as.float_lit.value = -n->as.float_lit.value;
    finish(p, n, start);
    return n;
  }
  return parse_literal(p);
}

static bool pat_literal_ahead(Parser *p) {
  TokenKind k = cur(p)->kind;
  return k == TOK_INT || k == TOK_FLOAT || k == TOK_STRING || k == TOK_CHAR ||
         k == TOK_KW_TRUE || k == TOK_KW_FALSE || k == TOK_MINUS;
}

static Node *pat_range(Parser *p, Node *lo, uint32_t start) {
  bool inclusive = at(p, TOK_DOTDOTEQ);
  advance(p);
  Node *hi = NULL;
  if (pat_literal_ahead(p)) hi = parse_pat_literal(p);
  else if (inclusive || !lo)
    error_at(p, cur(p), "expected the end of the range pattern, found %s", describe(p, cur(p)));
  Node *n = node(p, N_PAT_RANGE, start);
  n->as.pat_range.lo = lo;
  n->as.pat_range.hi = hi;
  n->as.pat_range.inclusive = inclusive;
  return n;
}

/* pats -> [pattern {',' pattern} [',']] up to `closer` */
static void parse_pat_list(Parser *p, NodeList *out, TokenKind closer, bool *trailing_comma) {
  Ctx c = ctx_push(p, false);
  advance(p);
  bool comma = false;
  while (!at(p, closer) && !at(p, TOK_EOF)) {
    push(p, out, parse_pattern(p, true));
    if (!(comma = accept(p, TOK_COMMA))) break;
  }
  if (trailing_comma) *trailing_comma = comma;
  if (!expect(p, closer, "to close the pattern")) skip_to_close(p, closer);
  ctx_pop(p, c);
}

/* fieldpats -> '{' [fieldpat {sep fieldpat}] [sep] '}'
 * fieldpat -> '..' | ['ref'] ['mut'] NAME [':' pattern] */
static void parse_field_pats(Parser *p, Node *n) {
  Ctx c = ctx_push(p, true);
  advance(p);
  while (!at(p, TOK_RBRACE) && !at(p, TOK_EOF)) {
    if (accept(p, TOK_DOTDOT)) {
      n->as.pat_struct.rest = true;
      accept(p, TOK_COMMA);
      break;
    }
    uint32_t start = cur(p)->span.start;
    if (is_word(cur(p), "ref") && (peek_kind(p, 1) == TOK_IDENT || peek_kind(p, 1) == TOK_KW_MUT))
      advance(p);
    bool is_mut = accept(p, TOK_KW_MUT);
    Token *t = cur(p);
    if (t->kind != TOK_IDENT && t->kind != TOK_INT) {
      error_at(p, t, "expected a field name in the pattern, found %s", describe(p, t));
      skip_to_close(p, TOK_RBRACE);
      ctx_pop(p, c);
      return;
    }
    const char *name = t->kind == TOK_IDENT ? t->str : src_text(p, t->span.start, t->span.end);
    Span name_span = t->span;
    advance(p);
    Node *f = ast_new(p->arena, N_FIELD_INIT, name_span);
    f->as.field_init.name = name;
    if (accept(p, TOK_COLON)) {
      f->as.field_init.value = parse_pattern(p, true);
    } else if (is_mut) {
      Node *b = ast_new(p->arena, N_PAT_BIND, span_from(p, start));
      b->as.pat_bind.name = name;
      b->as.pat_bind.is_mut = true;
      f->as.field_init.value = b;
    }
    finish(p, f, start);
    push(p, &n->as.pat_struct.fields, f);
    if (!brace_sep(p, "a field pattern")) break;
  }
  if (!expect(p, TOK_RBRACE, "to close the struct pattern")) skip_to_close(p, TOK_RBRACE);
  ctx_pop(p, c);
}

/* patbind -> ['ref'] ['mut'] NAME ['@' patalt] */
static Node *parse_pat_bind(Parser *p) {
  uint32_t start = cur(p)->span.start;
  if (is_word(cur(p), "ref")) advance(p);
  bool is_mut = accept(p, TOK_KW_MUT);
  const char *name = expect_name(p, "a name in the pattern");
  Node *n = ast_new(p->arena, N_PAT_BIND, span_from(p, start));
  n->as.pat_bind.name = name;
  n->as.pat_bind.is_mut = is_mut;
  if (accept(p, TOK_AT)) n->as.pat_bind.sub = parse_pattern(p, false);
  finish(p, n, start);
  return n;
}

/* patalt -> '_' | '..' | patlit [('..' | '..=') [patlit]] | ('..' | '..=') patlit
 *         | patbind | path ['(' pats ')' | fieldpats] | '(' pats ')' | '&' ['mut'] patalt */
static Node *parse_pat_alt(Parser *p) {
  Token *t = cur(p);
  uint32_t start = t->span.start;
  switch (t->kind) {
  case TOK_UNDERSCORE:
    advance(p);
    return node(p, N_PAT_WILD, start);
  case TOK_DOTDOT:
    if (peek_kind(p, 1) == TOK_INT || peek_kind(p, 1) == TOK_FLOAT || peek_kind(p, 1) == TOK_CHAR ||
        (peek_kind(p, 1) == TOK_MINUS && peek(p, 1)->span.end == peek(p, 2)->span.start))
      return pat_range(p, NULL, start);
    advance(p);
    return node(p, N_PAT_REST, start);
  case TOK_DOTDOTEQ:
    return pat_range(p, NULL, start);
  case TOK_INT: case TOK_FLOAT: case TOK_STRING: case TOK_CHAR: case TOK_KW_TRUE:
  case TOK_KW_FALSE: case TOK_MINUS: {
    Node *lit = parse_pat_literal(p);
    if (at(p, TOK_DOTDOT) || at(p, TOK_DOTDOTEQ)) return pat_range(p, lit, start);
    Node *n = node(p, N_PAT_LIT, start);
    n->as.pat_lit.value = lit;
    return n;
  }
  case TOK_LPAREN: {
    bool comma = false;
    NodeList elems = {0};
    parse_pat_list(p, &elems, TOK_RPAREN, &comma);
    if (elems.len == 1 && !comma && elems.items[0]->kind != N_PAT_REST) return elems.items[0];
    Node *n = node(p, N_PAT_TUPLE, start);
    n->as.pat_tuple.elems = elems;
    return n;
  }
  case TOK_LBRACKET: {
    error_at(p, t, "slice patterns are not supported");
    skip_to_close(p, TOK_RBRACKET);
    return node(p, N_PAT_WILD, start);
  }
  case TOK_AMP: case TOK_ANDAND:
    advance(p);
    accept(p, TOK_KW_MUT);
    return parse_pat_alt(p);
  case TOK_KW_MUT:
    return parse_pat_bind(p);
  case TOK_IDENT: case TOK_KW_SELF_TYPE: {
    TokenKind next = peek_kind(p, 1);
    if (is_word(t, "ref") && (next == TOK_IDENT || next == TOK_KW_MUT)) return parse_pat_bind(p);
    if (t->kind == TOK_IDENT && next != TOK_COLONCOLON && next != TOK_LPAREN && next != TOK_LBRACE)
      return parse_pat_bind(p);
    Node *path = parse_path_expr(p);
    if (at(p, TOK_LPAREN)) {
      Node *n = ast_new(p->arena, N_PAT_VARIANT, t->span);
      n->as.pat_variant.path = path;
      parse_pat_list(p, &n->as.pat_variant.elems, TOK_RPAREN, NULL);
      finish(p, n, start);
      return n;
    }
    if (at(p, TOK_LBRACE)) {
      Node *n = ast_new(p->arena, N_PAT_STRUCT, t->span);
      n->as.pat_struct.path = path;
      parse_field_pats(p, n);
      finish(p, n, start);
      return n;
    }
    Node *n = node(p, N_PAT_PATH, start);
    n->as.pat_path.path = path;
    return n;
  }
  default:
    error_at(p, t, "expected a pattern, found %s", describe(p, t));
    return ast_new(p->arena, N_PAT_WILD, t->span);
  }
}

/* pattern -> ['|'] patalt {'|' patalt}    (or-patterns where allowed) */
static Node *parse_pattern(Parser *p, bool allow_or) {
  uint32_t start = cur(p)->span.start;
  if (!enter(p)) return ast_new(p->arena, N_PAT_WILD, cur(p)->span);
  if (allow_or) accept(p, TOK_PIPE);
  Node *first = parse_pat_alt(p);
  if (allow_or && at(p, TOK_PIPE)) {
    Node *n = ast_new(p->arena, N_PAT_OR, first->span);
    push(p, &n->as.pat_or.alts, first);
    while (accept(p, TOK_PIPE)) push(p, &n->as.pat_or.alts, parse_pat_alt(p));
    finish(p, n, start);
    first = n;
  }
  leave(p);
  return first;
}

/* ---- items ---- */

/* The text between a '(' at the current token and its matching ')', as
 * written; consumes through the ')'. */
static const char *raw_group(Parser *p) {
  uint32_t inner = cur(p)->span.end;
  int depth = 0;
  while (!at(p, TOK_EOF)) {
    Token *t = cur(p);
    if (is_opener(t->kind)) {
      depth++;
    } else if (is_closer(t->kind) && --depth == 0) {
      const char *text = src_text(p, inner, t->span.start);
      advance(p);
      return text;
    }
    advance(p);
  }
  error_at(p, cur(p), "expected ')' to close the attribute arguments, found end of file");
  return NULL;
}

/* attr -> '#' ['!'] '[' NAME {'::' NAME} ['(' tokens ')' | '=' literal] ']'
 *       | '@' NAME ['(' tokens ')'] */
static void parse_attrs(Parser *p, NodeList *out) {
  for (;;) {
    Token *t = cur(p);
    uint32_t start = t->span.start;
    if (t->kind == TOK_AT && peek_kind(p, 1) == TOK_IDENT) {
      advance(p);
      Node *a = ast_new(p->arena, N_ATTR, t->span);
      a->as.attr.name = cur(p)->str;
      advance(p);
      if (at(p, TOK_LPAREN) && !cur(p)->nl_before) a->as.attr.args = raw_group(p);
      finish(p, a, start);
      push(p, out, a);
    } else if (t->kind == TOK_HASH) {
      advance(p);
      accept(p, TOK_BANG);
      if (!expect(p, TOK_LBRACKET, "after '#'")) return;
      Node *a = ast_new(p->arena, N_ATTR, t->span);
      uint32_t nstart = cur(p)->span.start;
      expect_name(p, "an attribute name");
      while (at(p, TOK_COLONCOLON) && peek_kind(p, 1) == TOK_IDENT) {
        advance(p);
        advance(p);
      }
      a->as.attr.name = src_text(p, nstart, p->prev_end);
      if (at(p, TOK_LPAREN)) {
        a->as.attr.args = raw_group(p);
      } else if (accept(p, TOK_EQ)) {
        uint32_t vstart = cur(p)->span.start;
        if (!at(p, TOK_RBRACKET)) advance(p);
        a->as.attr.args = src_text(p, vstart, p->prev_end);
      }
      if (!expect(p, TOK_RBRACKET, "to close the attribute")) skip_to_close(p, TOK_RBRACKET);
      finish(p, a, start);
      push(p, out, a);
    } else {
      return;
    }
  }
}

/* generics -> '<' [gparam {',' gparam} [',']] '>'
 * gparam -> 'const' NAME ':' type ['=' expr] | LABEL [':' LABEL {'+' LABEL}]
 *         | NAME [':' bound {'+' bound}] ['=' type] */
static void parse_generics(Parser *p, NodeList *out) {
  Ctx c = ctx_push(p, false);
  advance(p);
  while (!at_gt(p) && !at(p, TOK_EOF)) {
    Token *t = cur(p);
    uint32_t start = t->span.start;
    if (t->kind == TOK_LABEL) {
      advance(p);
      if (accept(p, TOK_COLON))
        do accept(p, TOK_LABEL);
        while (accept(p, TOK_PLUS));
    } else {
      Node *g = ast_new(p->arena, N_GENERIC_PARAM, t->span);
      if (accept(p, TOK_KW_CONST)) {
        g->as.generic.is_const = true;
        g->as.generic.name = expect_name(p, "a const parameter name");
        expect(p, TOK_COLON, "after the const parameter name");
        g->as.generic.type = parse_type(p);
        if (accept(p, TOK_EQ)) parse_unary(p);
      } else {
        g->as.generic.name = expect_name(p, "a type parameter name");
        if (accept(p, TOK_COLON)) {
          do {
            if (accept(p, TOK_LABEL)) continue;
            accept(p, TOK_QUESTION);
            push(p, &g->as.generic.bounds, parse_type(p));
          } while (accept(p, TOK_PLUS));
        }
        if (accept(p, TOK_EQ)) parse_type(p);
      }
      finish(p, g, start);
      push(p, out, g);
    }
    if (!accept(p, TOK_COMMA)) break;
  }
  expect_gt(p);
  ctx_pop(p, c);
}

/* whereclause -> 'where' type ':' bound {'+' bound} {',' ...}   (dropped) */
static void skip_where(Parser *p) {
  advance(p);
  while (!at(p, TOK_LBRACE) && !at(p, TOK_SEMI) && !at(p, TOK_EOF) && !at(p, TOK_EQ)) {
    uint64_t before = p->ntok;
    if (at(p, TOK_LABEL)) advance(p);
    else parse_type(p);
    if (accept(p, TOK_COLON)) {
      do {
        if (!accept(p, TOK_LABEL)) {
          accept(p, TOK_QUESTION);
          parse_type(p);
        }
      } while (accept(p, TOK_PLUS));
    }
    if (!accept(p, TOK_COMMA) || p->ntok == before) break;
  }
}

/* The end of an item without a body: ';', a new line, '}' or the end. */
static void item_end(Parser *p) {
  if (accept(p, TOK_SEMI)) return;
  Token *t = cur(p);
  if (t->kind == TOK_RBRACE || t->kind == TOK_EOF || t->nl_before) return;
  error_at(p, t, "expected ';' or a new line after the item, found %s", describe(p, t));
}

/* Three dots (`...`, variadic) ahead, however the lexer split them. */
static int dots_ahead(Parser *p) {
  int n = 0, i = 0, dots = 0;
  uint32_t end = cur(p)->span.start;
  while (dots < 3 && i < 3) {
    Token *t = peek(p, i);
    if (t->span.start != end) break;
    if (t->kind == TOK_DOT) dots += 1;
    else if (t->kind == TOK_DOTDOT) dots += 2;
    else break;
    end = t->span.end;
    i++;
    n++;
  }
  return dots == 3 ? n : 0;
}

/* fndecl -> 'fn' NAME [generics] '(' [param {',' param} [',' '...']] ')' ['->' type]
 *           [whereclause] (block | [';']) */
static Node *parse_fn(Parser *p, uint32_t start) {
  Node *n = ast_new(p->arena, N_FN, cur(p)->span);
  advance(p);
  n->as.fn.name = expect_name(p, "a function name");
  if (at(p, TOK_LT)) parse_generics(p, &n->as.fn.generics);
  Ctx c = ctx_push(p, false);
  if (expect(p, TOK_LPAREN, "to start the parameter list")) {
    while (!at(p, TOK_RPAREN) && !at(p, TOK_EOF)) {
      int dots = dots_ahead(p);
      if (dots) {
        for (int i = 0; i < dots; i++) advance(p);
        n->as.fn.is_unsafe = true;
        accept(p, TOK_COMMA);
        break;
      }
      push(p, &n->as.fn.params, parse_param(p, true));
      if (!accept(p, TOK_COMMA)) break;
    }
    if (!expect(p, TOK_RPAREN, "to close the parameter list")) skip_to_close(p, TOK_RPAREN);
  }
  ctx_pop(p, c);
  if (accept(p, TOK_ARROW)) n->as.fn.ret = parse_type(p);
  if (at(p, TOK_KW_WHERE)) skip_where(p);
  if (at(p, TOK_LBRACE)) n->as.fn.body = parse_block(p);
  else item_end(p);
  finish(p, n, start);
  return n;
}

/* fielddefs -> '{' [fielddef {sep fielddef}] [sep] '}'
 * fielddef -> {attr} ['pub'] NAME [':' type] ['=' expr] */
static void parse_field_defs(Parser *p, NodeList *out) {
  Ctx c = ctx_push(p, true);
  advance(p);
  while (!at(p, TOK_RBRACE) && !at(p, TOK_EOF)) {
    NodeList attrs = {0};
    parse_attrs(p, &attrs);
    uint32_t start = cur(p)->span.start;
    bool is_pub = accept(p, TOK_KW_PUB);
    if (!at(p, TOK_IDENT)) {
      error_at(p, cur(p), "expected a field name, found %s", describe(p, cur(p)));
      skip_to_close(p, TOK_RBRACE);
      ctx_pop(p, c);
      return;
    }
    Node *f = ast_new(p->arena, N_FIELD_DEF, cur(p)->span);
    f->as.field_def.name = cur(p)->str;
    f->as.field_def.is_pub = is_pub;
    advance(p);
    if (accept(p, TOK_COLON)) f->as.field_def.type = parse_type(p);
    if (accept(p, TOK_EQ)) f->as.field_def.deflt = parse_bin(p, P_RANGE);
    finish(p, f, start);
    push(p, out, f);
    if (!brace_sep(p, "a field")) break;
  }
  if (!expect(p, TOK_RBRACE, "to close the fields")) skip_to_close(p, TOK_RBRACE);
  ctx_pop(p, c);
}

/* tuplefields -> '(' [['pub'] type {',' ['pub'] type} [',']] ')'   (named "0", "1", ..) */
static void parse_tuple_fields(Parser *p, NodeList *out) {
  Ctx c = ctx_push(p, false);
  advance(p);
  while (!at(p, TOK_RPAREN) && !at(p, TOK_EOF)) {
    uint32_t start = cur(p)->span.start;
    bool is_pub = accept(p, TOK_KW_PUB);
    Node *f = ast_new(p->arena, N_FIELD_DEF, cur(p)->span);
    f->as.field_def.name = arena_sprintf(p->arena, "%d", out->len);
    f->as.field_def.is_pub = is_pub;
    f->as.field_def.type = parse_type(p);
    finish(p, f, start);
    push(p, out, f);
    if (!accept(p, TOK_COMMA)) break;
  }
  if (!expect(p, TOK_RPAREN, "to close the tuple fields")) skip_to_close(p, TOK_RPAREN);
  ctx_pop(p, c);
}

/* structdecl -> ('struct' | 'actor') NAME [generics] [whereclause]
 *               (fielddefs | tuplefields [whereclause] [';'] | [';']) */
static Node *parse_struct(Parser *p, uint32_t start) {
  Node *n = ast_new(p->arena, N_STRUCT, cur(p)->span);
  advance(p);
  n->as.strct.name = expect_name(p, "a struct name");
  if (at(p, TOK_LT)) parse_generics(p, &n->as.strct.generics);
  if (at(p, TOK_KW_WHERE)) skip_where(p);
  if (at(p, TOK_LBRACE)) {
    parse_field_defs(p, &n->as.strct.fields);
  } else if (at(p, TOK_LPAREN)) {
    n->as.strct.is_tuple = true;
    parse_tuple_fields(p, &n->as.strct.fields);
    if (at(p, TOK_KW_WHERE)) skip_where(p);
    item_end(p);
  } else {
    item_end(p);
  }
  finish(p, n, start);
  return n;
}

/* enumdecl -> 'enum' NAME [generics] [whereclause] '{' [variant {sep variant}] [sep] '}'
 * variant -> {attr} NAME [tuplefields | fielddefs] ['=' expr] */
static Node *parse_enum(Parser *p, uint32_t start) {
  Node *n = ast_new(p->arena, N_ENUM, cur(p)->span);
  advance(p);
  n->as.enm.name = expect_name(p, "an enum name");
  if (at(p, TOK_LT)) parse_generics(p, &n->as.enm.generics);
  if (at(p, TOK_KW_WHERE)) skip_where(p);
  if (!at(p, TOK_LBRACE)) {
    error_at(p, cur(p), "expected '{' to start the enum variants, found %s", describe(p, cur(p)));
    finish(p, n, start);
    return n;
  }
  Ctx c = ctx_push(p, true);
  advance(p);
  while (!at(p, TOK_RBRACE) && !at(p, TOK_EOF)) {
    NodeList attrs = {0};
    parse_attrs(p, &attrs);
    uint32_t vstart = cur(p)->span.start;
    if (!at(p, TOK_IDENT)) {
      error_at(p, cur(p), "expected a variant name, found %s", describe(p, cur(p)));
      skip_to_close(p, TOK_RBRACE);
      ctx_pop(p, c);
      finish(p, n, start);
      return n;
    }
    Node *v = ast_new(p->arena, N_VARIANT, cur(p)->span);
    v->as.variant.name = cur(p)->str;
    advance(p);
    if (at(p, TOK_LPAREN)) {
      v->as.variant.shape = VARIANT_TUPLE;
      parse_tuple_fields(p, &v->as.variant.fields);
    } else if (at(p, TOK_LBRACE)) {
      v->as.variant.shape = VARIANT_STRUCT;
      parse_field_defs(p, &v->as.variant.fields);
    }
    if (accept(p, TOK_EQ)) v->as.variant.value = parse_bin(p, P_RANGE);
    finish(p, v, vstart);
    push(p, &n->as.enm.variants, v);
    if (!brace_sep(p, "a variant")) break;
  }
  if (!expect(p, TOK_RBRACE, "to close the enum")) skip_to_close(p, TOK_RBRACE);
  ctx_pop(p, c);
  finish(p, n, start);
  return n;
}

/* itembody -> '{' {item | ';'} '}'   (impl, trait, mod and extern bodies) */
static void parse_item_body(Parser *p, NodeList *out, const char *what) {
  if (!at(p, TOK_LBRACE)) {
    error_at(p, cur(p), "expected '{' to start the %s body, found %s", what, describe(p, cur(p)));
    return;
  }
  Ctx c = ctx_push(p, true);
  advance(p);
  int base = p->open;
  while (!at(p, TOK_RBRACE) && !at(p, TOK_EOF)) {
    uint64_t before = p->ntok;
    if (accept(p, TOK_SEMI)) continue;
    if (starts_item(p)) push(p, out, parse_item(p));
    else error_at(p, cur(p), "expected an item in the %s body, found %s", what, describe(p, cur(p)));
    if (p->panic) synchronize(p, base, false);
    if (p->ntok == before && !at(p, TOK_RBRACE)) advance(p);
  }
  expect(p, TOK_RBRACE, "to close the body");
  ctx_pop(p, c);
}

/* impldecl -> 'impl' [generics] type ['for' type] [whereclause] itembody */
static Node *parse_impl(Parser *p, uint32_t start) {
  Node *n = ast_new(p->arena, N_IMPL, cur(p)->span);
  advance(p);
  if (at(p, TOK_LT)) parse_generics(p, &n->as.impl.generics);
  Node *first = parse_type(p);
  if (accept(p, TOK_KW_FOR)) {
    n->as.impl.trait = first;
    n->as.impl.self_type = parse_type(p);
  } else {
    n->as.impl.self_type = first;
  }
  if (at(p, TOK_KW_WHERE)) skip_where(p);
  parse_item_body(p, &n->as.impl.items, "impl");
  finish(p, n, start);
  return n;
}

/* traitdecl -> 'trait' NAME [generics] [':' bound {'+' bound}] [whereclause] itembody */
static Node *parse_trait(Parser *p, uint32_t start) {
  Node *n = ast_new(p->arena, N_TRAIT, cur(p)->span);
  advance(p);
  n->as.trait.name = expect_name(p, "a trait name");
  if (at(p, TOK_LT)) parse_generics(p, &n->as.trait.generics);
  if (accept(p, TOK_COLON)) {
    do {
      if (accept(p, TOK_LABEL)) continue;
      accept(p, TOK_QUESTION);
      push(p, &n->as.trait.supertraits, parse_type(p));
    } while (accept(p, TOK_PLUS));
  }
  if (at(p, TOK_KW_WHERE)) skip_where(p);
  parse_item_body(p, &n->as.trait.items, "trait");
  finish(p, n, start);
  return n;
}

/* constdecl -> ('const' | 'static') ['mut'] NAME [':' type] ['=' expr] [';'] */
static Node *parse_const(Parser *p, uint32_t start) {
  Node *n = ast_new(p->arena, N_CONST, cur(p)->span);
  advance(p);
  accept(p, TOK_KW_MUT);
  n->as.cnst.name = expect_name(p, "a constant name");
  if (accept(p, TOK_COLON)) n->as.cnst.type = parse_type(p);
  if (accept(p, TOK_EQ)) n->as.cnst.value = parse_expr(p);
  item_end(p);
  finish(p, n, start);
  return n;
}

/* typealias -> 'type' NAME [generics] [':' bound {'+' bound}] ['=' unittype] [';'] */
static Node *parse_alias(Parser *p, uint32_t start) {
  Node *n = ast_new(p->arena, N_TYPE_ALIAS, cur(p)->span);
  advance(p);
  n->as.alias.name = expect_name(p, "a type name");
  if (at(p, TOK_LT)) parse_generics(p, &n->as.alias.generics);
  if (accept(p, TOK_COLON)) parse_bound(p);
  if (accept(p, TOK_EQ)) n->as.alias.type = parse_unit_type(p);
  item_end(p);
  finish(p, n, start);
  return n;
}

/* moddecl -> 'mod' NAME (itembody | [';']) */
static Node *parse_mod(Parser *p, uint32_t start) {
  Node *n = ast_new(p->arena, N_MOD, cur(p)->span);
  advance(p);
  n->as.mod.name = expect_name(p, "a module name");
  if (at(p, TOK_LBRACE)) parse_item_body(p, &n->as.mod.items, "module");
  else item_end(p);
  finish(p, n, start);
  return n;
}

/* usename -> (NAME | 'self') ['as' NAME] */
static Node *parse_use_name(Parser *p) {
  Token *t = cur(p);
  if (t->kind != TOK_IDENT && t->kind != TOK_KW_SELF) {
    error_at(p, t, "expected a name in the use list, found %s", describe(p, t));
    return NULL;
  }
  Node *n = ident_node(p, t->kind == TOK_KW_SELF ? "self" : t->str, t->span);
  uint32_t start = t->span.start;
  advance(p);
  if (at(p, TOK_COLONCOLON)) {
    error_at(p, cur(p), "nested paths in a use list are not supported");
    return n;
  }
  if (accept(p, TOK_KW_AS)) n->as.ident.alias = expect_name(p, "a name after 'as'");
  finish(p, n, start);
  return n;
}

/* usedecl -> ('use' | 'import') (STRING | usepath) ['as' NAME] [';']
 * usepath -> NAME {'::' NAME} ['::' ('*' | '{' [usename {',' usename} [',']] '}')] */
static Node *parse_use(Parser *p, uint32_t start) {
  Node *n = ast_new(p->arena, N_USE, cur(p)->span);
  advance(p);
  if (at(p, TOK_STRING)) {
    n->as.use.file = cur(p)->str;
    advance(p);
  } else {
    for (;;) {
      Token *t = cur(p);
      if (t->kind == TOK_IDENT || t->kind == TOK_KW_SELF || t->kind == TOK_KW_SELF_TYPE) {
        const char *name = t->kind == TOK_IDENT ? t->str : t->kind == TOK_KW_SELF ? "self" : "Self";
        push(p, &n->as.use.path, ident_node(p, name, t->span));
        advance(p);
      } else {
        error_at(p, t, "expected a module path, found %s", describe(p, t));
        break;
      }
      if (!accept(p, TOK_COLONCOLON)) break;
      if (accept(p, TOK_STAR)) {
        n->as.use.glob = true;
        break;
      }
      if (at(p, TOK_LBRACE)) {
        Ctx c = ctx_push(p, false);
        advance(p);
        while (!at(p, TOK_RBRACE) && !at(p, TOK_EOF)) {
          Node *leaf = parse_use_name(p);
          if (!leaf) break;
          push(p, &n->as.use.names, leaf);
          if (!accept(p, TOK_COMMA)) break;
        }
        if (!expect(p, TOK_RBRACE, "to close the use list")) skip_to_close(p, TOK_RBRACE);
        ctx_pop(p, c);
        break;
      }
    }
  }
  if (accept(p, TOK_KW_AS)) n->as.use.alias = expect_name(p, "a name after 'as'");
  item_end(p);
  finish(p, n, start);
  return n;
}

/* externblock -> 'extern' [STRING] itembody */
static Node *parse_extern(Parser *p, uint32_t start) {
  Node *n = ast_new(p->arena, N_EXTERN, cur(p)->span);
  advance(p);
  n->as.ext.abi = "C";
  if (at(p, TOK_STRING)) {
    n->as.ext.abi = cur(p)->str;
    advance(p);
  }
  parse_item_body(p, &n->as.ext.items, "extern");
  finish(p, n, start);
  return n;
}

/* item -> {attr} ['pub' ['(' tokens ')']] {'async' | 'unsafe' | 'const' (before fn)}
 *         (fndecl | structdecl | enumdecl | impldecl | traitdecl | constdecl
 *          | typealias | moddecl | usedecl | externblock) */
static Node *parse_item(Parser *p) {
  uint32_t start = cur(p)->span.start;
  if (!enter(p)) return NULL;
  NodeList attrs = {0};
  parse_attrs(p, &attrs);
  bool is_pub = false, is_async = false, is_unsafe = false;
  if (accept(p, TOK_KW_PUB)) {
    is_pub = true;
    if (at(p, TOK_LPAREN) && !cur(p)->nl_before) raw_group(p);
  }
  for (;;) {
    TokenKind k = cur(p)->kind, next = peek_kind(p, 1);
    if (k == TOK_KW_ASYNC) is_async = true;
    else if (k == TOK_KW_UNSAFE && next != TOK_LBRACE) is_unsafe = true;
    else if (!(k == TOK_KW_CONST && next == TOK_KW_FN) &&
             !(k == TOK_KW_EXTERN && next == TOK_STRING && peek_kind(p, 2) == TOK_KW_FN))
      break;
    advance(p);
    if (k == TOK_KW_EXTERN) advance(p);
  }
  Node *n = NULL;
  switch (cur(p)->kind) {
  case TOK_KW_FN:
    n = parse_fn(p, start);
    n->as.fn.attrs = attrs;
    n->as.fn.is_pub = is_pub;
    n->as.fn.is_async = is_async;
    n->as.fn.is_unsafe = n->as.fn.is_unsafe || is_unsafe;
    break;
  case TOK_KW_STRUCT: case TOK_KW_ACTOR:
    n = parse_struct(p, start);
    n->as.strct.attrs = attrs;
    n->as.strct.is_pub = is_pub;
    break;
  case TOK_KW_ENUM:
    n = parse_enum(p, start);
    n->as.enm.attrs = attrs;
    n->as.enm.is_pub = is_pub;
    break;
  case TOK_KW_IMPL:
    n = parse_impl(p, start);
    n->as.impl.attrs = attrs;
    break;
  case TOK_KW_TRAIT:
    n = parse_trait(p, start);
    n->as.trait.attrs = attrs;
    n->as.trait.is_pub = is_pub;
    break;
  case TOK_KW_CONST: case TOK_KW_STATIC:
    n = parse_const(p, start);
    n->as.cnst.attrs = attrs;
    n->as.cnst.is_pub = is_pub;
    break;
  case TOK_KW_TYPE:
    n = parse_alias(p, start);
    n->as.alias.is_pub = is_pub;
    break;
  case TOK_KW_MOD:
    n = parse_mod(p, start);
    n->as.mod.is_pub = is_pub;
    break;
  case TOK_KW_USE: case TOK_KW_IMPORT:
    n = parse_use(p, start);
    n->as.use.is_pub = is_pub;
    break;
  case TOK_KW_EXTERN:
    n = parse_extern(p, start);
    break;
  default:
    error_at(p, cur(p), "expected an item, found %s", describe(p, cur(p)));
    break;
  }
  leave(p);
  return n;
}

/* ---- module ---- */

/* module -> {stmt} EOF   (items, let and expression statements) */
ParseResult parse_module(Source *src, Arena *arena, DiagList *diags, Ast *out) {
  Parser *p = arena_alloc(arena, sizeof *p);
  parser_init(p, src, 0, (uint32_t)src->len, arena, diags);
  p->nl = true;
  out->items = (NodeList){0};
  while (!at(p, TOK_EOF)) {
    uint64_t before = p->ntok;
    if (at(p, TOK_RBRACE)) {
      error_at(p, cur(p), "unexpected '}' with no block to close");
      advance(p);
      p->panic = false;
      continue;
    }
    push(p, &out->items, parse_stmt(p, NULL));
    if (p->panic) synchronize(p, 0, true);
    if (p->ntok == before) advance(p);
  }
  int lexer_errors = diags->nerrors - p->start_errors - p->nreported;
  if (p->incomplete) return PARSE_INCOMPLETE;
  if (p->lx.open_at_eof && !p->early_error && p->nreported == 0 && lexer_errors == 1)
    return PARSE_INCOMPLETE;
  return diags->nerrors > p->start_errors ? PARSE_ERROR : PARSE_OK;
}
