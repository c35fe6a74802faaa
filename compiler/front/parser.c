/* The NeuralScript parser: recursive descent for items and statements
 * (here), expressions (parse_expr.c), types and patterns (parse_type.c).
 *
 * Tokens come from the lexer one at a time into a small lookahead ring.
 * Newlines matter: inside ( ) and [ ] they are whitespace, inside { } and
 * at the top level a newline ends a statement unless the next token can
 * only continue an expression (see continues_line in pstate.h).
 *
 * Errors: the first error in a statement sets `panic`, which silences
 * further errors until the statement loop skips to a synchronisation point
 * (a `;`, a new line, the `}` of the block, or a statement keyword), so one
 * run reports every independent error. Recursion depth and tree height are
 * capped ("expression nests too deeply"). When the first error is the end
 * of input inside an open bracket, block or string, parse_module returns
 * PARSE_INCOMPLETE so the REPL can read another line. */
#include <stdarg.h>
#include <stdlib.h>

#include "pstate.h"

static Node *parse_stmt(Parser *p, bool *tail);
static Node *parse_item(Parser *p);

/* ---- setup ---- */

void p_init(Parser *p, Source *src, uint32_t start, uint32_t end, Arena *arena,
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

char *p_src_text(Parser *p, uint32_t start, uint32_t end) {
  return arena_strndup(p->arena, p->src->text + start, end > start ? end - start : 0);
}

/* Byte column of an offset: how far it is indented. */
int p_column(Parser *p, uint32_t offset) {
  uint32_t i = offset;
  while (i > 0 && p->src->text[i - 1] != '\n') i--;
  return (int)(offset - i);
}

/* Column of the current statement's start, remembered: a long line of
 * statements must not be rescanned for each question. */
int p_stmt_column(Parser *p) {
  if (p->col_of != p->stmt_start || !p->col_known) {
    p->col_of = p->stmt_start;
    p->col = p_column(p, p->stmt_start);
    p->col_known = true;
  }
  return p->col;
}

/* ---- errors ---- */

/* How a token reads in "found X": names and literals by their text. */
const char *p_describe(Parser *p, const Token *t) {
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
  Diag *before = p->diags->tail;
  diag_vadd(p->diags, DIAG_ERROR, p->src, span, fmt, ap);
  return p->diags->tail != before ? p->diags->tail : NULL; /* NULL past max_errors */
}

/* Reports at token t and enters panic mode; silent while already in panic
 * and for invalid tokens (the lexer reported those). */
__attribute__((format(printf, 3, 4)))
Diag *p_error_at(Parser *p, const Token *t, const char *fmt, ...) {
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
Diag *p_error_span(Parser *p, Span span, const char *fmt, ...) {
  if (p->panic) return NULL;
  va_list ap;
  va_start(ap, fmt);
  Diag *d = vreport(p, span, false, fmt, ap);
  va_end(ap);
  return d;
}

/* When a closing bracket is missing before a new line or the end, say
 * where the open one is. */
void p_unclosed_hint(Parser *p, Diag *d) {
  Token *t = cur(p);
  if (!d || p->open <= 0 || p->open > MAX_BRACKETS || !(t->nl_before || t->kind == TOK_EOF))
    return;
  int line;
  source_position(p->src, p->bracket_at[p->open - 1], &line, NULL);
  const char *open = ns_token_names[p->brackets[p->open - 1]];
  diag_hint(d, "the %s on line %d is not closed", open, line);
}

bool p_expect(Parser *p, TokenKind k, const char *context) {
  if (accept(p, k)) return true;
  Token *t = cur(p);
  Diag *d;
  if (context)
    d = p_error_at(p, t, "expected %s %s, found %s", ns_token_names[k], context, p_describe(p, t));
  else
    d = p_error_at(p, t, "expected %s, found %s", ns_token_names[k], p_describe(p, t));
  if (is_closer(k)) p_unclosed_hint(p, d);
  return false;
}

bool p_at_nabla_name(Parser *p) {
  Token *t = cur(p), *next = peek(p, 1);
  return t->kind == TOK_NABLA && next->kind == TOK_IDENT && next->span.start == t->span.end;
}

const char *p_nabla_name(Parser *p) {
  Token *t = cur(p), *name = peek(p, 1);
  const char *s = p_src_text(p, t->span.start, name->span.end);
  advance(p);
  advance(p);
  return s;
}

/* A name where one is required (`∇ψ` included); "_" after an error so
 * callers never see NULL. */
const char *p_expect_name(Parser *p, const char *what) {
  Token *t = cur(p);
  if (p_at_nabla_name(p)) return p_nabla_name(p);
  if (t->kind == TOK_IDENT) {
    const char *s = t->str;
    advance(p);
    return s;
  }
  p_error_at(p, t, "expected %s, found %s", what, p_describe(p, t));
  return "_";
}

/* Recursion is capped at MAX_DEPTH levels, and the height of the tree being
 * built (recursion plus left-nested chains such as a.b.c or 1+2+3) at
 * MAX_HEIGHT, so later passes can recurse over any tree safely. */
static bool too_deep(Parser *p) {
  p_error_at(p, cur(p), "expression nests too deeply");
  p->too_deep = true;
  return false;
}

bool p_enter(Parser *p) {
  if (p->depth >= MAX_DEPTH || p->height >= MAX_HEIGHT) return too_deep(p);
  p->depth++;
  p->height++;
  return true;
}

void p_leave(Parser *p) {
  p->depth--;
  p->height--;
}

/* One more link of a left-nested chain; the caller gives the height back. */
bool p_grow(Parser *p) {
  if (p->height >= MAX_HEIGHT) return too_deep(p);
  p->height++;
  return true;
}

/* The stand-in for something that failed to parse. */
Node *p_err_node(Parser *p) { return ast_new(p->arena, N_UNIT, cur(p)->span); }

Node *p_ident_node(Parser *p, const char *name, Span span) {
  Node *n = ast_new(p->arena, N_IDENT, span);
  n->as.ident.name = name;
  return n;
}

/* ---- recovery ---- */

static bool line_keyword(const Token *t);

/* Skips to the `closer` that balances the bracket already opened and
 * consumes it: recovery inside a bracketed list. Stops early at a
 * statement keyword on a new line (the closer is probably missing). */
void p_skip_to_close(Parser *p, TokenKind closer) {
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
    advance(p);
    moved = true;
  }
  if (p->open < base) p->open = base;
  p->panic = false;
}

/* After an element of a { } list: a ',' or a newline separates, '}' ends.
 * False (after reporting) when neither follows. */
bool p_brace_sep(Parser *p, const char *what) {
  if (accept(p, TOK_COMMA)) return true;
  Token *t = cur(p);
  if (t->kind == TOK_RBRACE) return false;
  if (t->nl_before) return true;
  p_error_at(p, t, "expected ',' or '}' after %s, found %s", what, p_describe(p, t));
  return false;
}

/* ---- blocks and statements ---- */

/* block -> '{' {stmt} [expr] '}' */
Node *p_block(Parser *p) {
  uint32_t start = cur(p)->span.start;
  Node *b = ast_new(p->arena, N_BLOCK, cur(p)->span);
  if (!p_enter(p)) return b;
  Ctx c = ctx_push(p, true);
  p_expect(p, TOK_LBRACE, NULL);
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
  p_expect(p, TOK_RBRACE, "to close the block");
  ctx_pop(p, c);
  p_leave(p);
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
  p_error_at(p, t, "expected ';' or a new line after the statement, found %s", p_describe(p, t));
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
  n->as.let.pattern = p_pattern(p, false);
  if (accept(p, TOK_COLON)) n->as.let.type = p_type(p);
  if (accept(p, TOK_EQ)) n->as.let.init = p_expr(p);
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
  uint32_t outer_start = p->stmt_start;
  p->stmt_start = t->span.start;
  Node *s;
  if (starts_item(p)) {
    s = parse_item(p);
  } else if (t->kind == TOK_KW_LET) {
    s = parse_let(p);
  } else {
    uint32_t start = t->span.start;
    Node *e = p_expr(p);
    s = ast_new(p->arena, N_EXPR_STMT, e->span);
    s->as.expr_stmt.expr = e;
    s->as.expr_stmt.has_semi = end_stmt(p);
    if (!s->as.expr_stmt.has_semi && tail) *tail = true;
    finish(p, s, start);
  }
  p->stmt_start = outer_start;
  return s;
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
      const char *text = p_src_text(p, inner, t->span.start);
      advance(p);
      return text;
    }
    advance(p);
  }
  p_error_at(p, cur(p), "expected ')' to close the attribute arguments, found end of file");
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
      if (!p_expect(p, TOK_LBRACKET, "after '#'")) return;
      Node *a = ast_new(p->arena, N_ATTR, t->span);
      uint32_t nstart = cur(p)->span.start;
      p_expect_name(p, "an attribute name");
      while (at(p, TOK_COLONCOLON) && peek_kind(p, 1) == TOK_IDENT) {
        advance(p);
        advance(p);
      }
      a->as.attr.name = p_src_text(p, nstart, p->prev_end);
      if (at(p, TOK_LPAREN)) {
        a->as.attr.args = raw_group(p);
      } else if (accept(p, TOK_EQ)) {
        uint32_t vstart = cur(p)->span.start;
        if (!at(p, TOK_RBRACKET)) advance(p);
        a->as.attr.args = p_src_text(p, vstart, p->prev_end);
      }
      if (!p_expect(p, TOK_RBRACKET, "to close the attribute")) p_skip_to_close(p, TOK_RBRACKET);
      finish(p, a, start);
      push(p, out, a);
    } else {
      return;
    }
  }
}

/* The end of an item without a body: ';', a new line, '}' or the end. */
static void item_end(Parser *p) {
  if (accept(p, TOK_SEMI)) return;
  Token *t = cur(p);
  if (t->kind == TOK_RBRACE || t->kind == TOK_EOF || t->nl_before) return;
  p_error_at(p, t, "expected ';' or a new line after the item, found %s", p_describe(p, t));
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

/* param -> ['&' ['mut']] ['mut'] 'self' [':' type] | pattern [':' type] ['=' expr] */
Node *p_param(Parser *p, bool allow_self) {
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
    if (accept(p, TOK_COLON)) n->as.param.type = p_type(p);
    finish(p, n, start);
    return n;
  }
  n->as.param.pattern = p_pattern(p, false);
  if (accept(p, TOK_COLON)) n->as.param.type = p_type(p);
  if (allow_self && accept(p, TOK_EQ)) n->as.param.deflt = p_bin(p, P_RANGE);
  finish(p, n, start);
  return n;
}

/* fndecl -> 'fn' NAME [generics] '(' [param {',' param} [',' '...']] ')' ['->' type]
 *           [whereclause] (block | [';']) */
static Node *parse_fn(Parser *p, uint32_t start) {
  Node *n = ast_new(p->arena, N_FN, cur(p)->span);
  advance(p);
  n->as.fn.name = p_expect_name(p, "a function name");
  if (at(p, TOK_LT)) p_generics(p, &n->as.fn.generics);
  Ctx c = ctx_push(p, false);
  if (p_expect(p, TOK_LPAREN, "to start the parameter list")) {
    while (!at(p, TOK_RPAREN) && !at(p, TOK_EOF)) {
      int dots = dots_ahead(p);
      if (dots) {
        for (int i = 0; i < dots; i++) advance(p);
        n->as.fn.is_unsafe = true;
        accept(p, TOK_COMMA);
        break;
      }
      push(p, &n->as.fn.params, p_param(p, true));
      if (!accept(p, TOK_COMMA)) break;
    }
    if (!p_expect(p, TOK_RPAREN, "to close the parameter list")) p_skip_to_close(p, TOK_RPAREN);
  }
  ctx_pop(p, c);
  if (accept(p, TOK_ARROW)) n->as.fn.ret = p_type(p);
  if (at(p, TOK_KW_WHERE)) p_skip_where(p);
  if (at(p, TOK_LBRACE)) n->as.fn.body = p_block(p);
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
      p_error_at(p, cur(p), "expected a field name, found %s", p_describe(p, cur(p)));
      p_skip_to_close(p, TOK_RBRACE);
      ctx_pop(p, c);
      return;
    }
    Node *f = ast_new(p->arena, N_FIELD_DEF, cur(p)->span);
    f->as.field_def.name = cur(p)->str;
    f->as.field_def.is_pub = is_pub;
    advance(p);
    if (accept(p, TOK_COLON)) f->as.field_def.type = p_type(p);
    if (accept(p, TOK_EQ)) f->as.field_def.deflt = p_bin(p, P_RANGE);
    finish(p, f, start);
    push(p, out, f);
    if (!p_brace_sep(p, "a field")) break;
  }
  if (!p_expect(p, TOK_RBRACE, "to close the fields")) p_skip_to_close(p, TOK_RBRACE);
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
    f->as.field_def.type = p_type(p);
    finish(p, f, start);
    push(p, out, f);
    if (!accept(p, TOK_COMMA)) break;
  }
  if (!p_expect(p, TOK_RPAREN, "to close the tuple fields")) p_skip_to_close(p, TOK_RPAREN);
  ctx_pop(p, c);
}

/* structdecl -> ('struct' | 'actor') NAME [generics] [whereclause]
 *               (fielddefs | tuplefields [whereclause] [';'] | [';']) */
static Node *parse_struct(Parser *p, uint32_t start) {
  Node *n = ast_new(p->arena, N_STRUCT, cur(p)->span);
  advance(p);
  n->as.strct.name = p_expect_name(p, "a struct name");
  if (at(p, TOK_LT)) p_generics(p, &n->as.strct.generics);
  if (at(p, TOK_KW_WHERE)) p_skip_where(p);
  if (at(p, TOK_LBRACE)) {
    parse_field_defs(p, &n->as.strct.fields);
  } else if (at(p, TOK_LPAREN)) {
    n->as.strct.is_tuple = true;
    parse_tuple_fields(p, &n->as.strct.fields);
    if (at(p, TOK_KW_WHERE)) p_skip_where(p);
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
  n->as.enm.name = p_expect_name(p, "an enum name");
  if (at(p, TOK_LT)) p_generics(p, &n->as.enm.generics);
  if (at(p, TOK_KW_WHERE)) p_skip_where(p);
  if (!at(p, TOK_LBRACE)) {
    p_error_at(p, cur(p), "expected '{' to start the enum variants, found %s", p_describe(p, cur(p)));
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
      p_error_at(p, cur(p), "expected a variant name, found %s", p_describe(p, cur(p)));
      p_skip_to_close(p, TOK_RBRACE);
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
    if (accept(p, TOK_EQ)) v->as.variant.value = p_bin(p, P_RANGE);
    finish(p, v, vstart);
    push(p, &n->as.enm.variants, v);
    if (!p_brace_sep(p, "a variant")) break;
  }
  if (!p_expect(p, TOK_RBRACE, "to close the enum")) p_skip_to_close(p, TOK_RBRACE);
  ctx_pop(p, c);
  finish(p, n, start);
  return n;
}

/* itembody -> '{' {item | ';'} '}'   (impl, trait, mod and extern bodies) */
static void parse_item_body(Parser *p, NodeList *out, const char *what) {
  if (!at(p, TOK_LBRACE)) {
    p_error_at(p, cur(p), "expected '{' to start the %s body, found %s", what, p_describe(p, cur(p)));
    return;
  }
  Ctx c = ctx_push(p, true);
  advance(p);
  int base = p->open;
  while (!at(p, TOK_RBRACE) && !at(p, TOK_EOF)) {
    uint64_t before = p->ntok;
    if (accept(p, TOK_SEMI)) continue;
    if (starts_item(p)) push(p, out, parse_item(p));
    else p_error_at(p, cur(p), "expected an item in the %s body, found %s", what, p_describe(p, cur(p)));
    if (p->panic) synchronize(p, base, false);
    if (p->ntok == before && !at(p, TOK_RBRACE)) advance(p);
  }
  p_expect(p, TOK_RBRACE, "to close the body");
  ctx_pop(p, c);
}

/* impldecl -> 'impl' [generics] type ['for' type] [whereclause] itembody */
static Node *parse_impl(Parser *p, uint32_t start) {
  Node *n = ast_new(p->arena, N_IMPL, cur(p)->span);
  advance(p);
  if (at(p, TOK_LT)) p_generics(p, &n->as.impl.generics);
  Node *first = p_type(p);
  if (accept(p, TOK_KW_FOR)) {
    n->as.impl.trait = first;
    n->as.impl.self_type = p_type(p);
  } else {
    n->as.impl.self_type = first;
  }
  if (at(p, TOK_KW_WHERE)) p_skip_where(p);
  parse_item_body(p, &n->as.impl.items, "impl");
  finish(p, n, start);
  return n;
}

/* traitdecl -> 'trait' NAME [generics] [':' bound {'+' bound}] [whereclause] itembody */
static Node *parse_trait(Parser *p, uint32_t start) {
  Node *n = ast_new(p->arena, N_TRAIT, cur(p)->span);
  advance(p);
  n->as.trait.name = p_expect_name(p, "a trait name");
  if (at(p, TOK_LT)) p_generics(p, &n->as.trait.generics);
  if (accept(p, TOK_COLON)) {
    do {
      if (accept(p, TOK_LABEL)) continue;
      accept(p, TOK_QUESTION);
      push(p, &n->as.trait.supertraits, p_type(p));
    } while (accept(p, TOK_PLUS));
  }
  if (at(p, TOK_KW_WHERE)) p_skip_where(p);
  parse_item_body(p, &n->as.trait.items, "trait");
  finish(p, n, start);
  return n;
}

/* constdecl -> ('const' | 'static') ['mut'] NAME [':' type] ['=' expr] [';'] */
static Node *parse_const(Parser *p, uint32_t start) {
  Node *n = ast_new(p->arena, N_CONST, cur(p)->span);
  advance(p);
  accept(p, TOK_KW_MUT);
  n->as.cnst.name = p_expect_name(p, "a constant name");
  if (accept(p, TOK_COLON)) n->as.cnst.type = p_type(p);
  if (accept(p, TOK_EQ)) n->as.cnst.value = p_expr(p);
  item_end(p);
  finish(p, n, start);
  return n;
}

/* typealias -> 'type' NAME [generics] [':' bound {'+' bound}] ['=' unittype] [';'] */
static Node *parse_alias(Parser *p, uint32_t start) {
  Node *n = ast_new(p->arena, N_TYPE_ALIAS, cur(p)->span);
  advance(p);
  n->as.alias.name = p_expect_name(p, "a type name");
  if (at(p, TOK_LT)) p_generics(p, &n->as.alias.generics);
  if (accept(p, TOK_COLON)) p_bound(p);
  if (accept(p, TOK_EQ)) n->as.alias.type = p_unit_type(p);
  item_end(p);
  finish(p, n, start);
  return n;
}

/* moddecl -> 'mod' NAME (itembody | [';']) */
static Node *parse_mod(Parser *p, uint32_t start) {
  Node *n = ast_new(p->arena, N_MOD, cur(p)->span);
  advance(p);
  n->as.mod.name = p_expect_name(p, "a module name");
  if (at(p, TOK_LBRACE)) parse_item_body(p, &n->as.mod.items, "module");
  else item_end(p);
  finish(p, n, start);
  return n;
}

/* usename -> (NAME | 'self') ['as' NAME] */
static Node *parse_use_name(Parser *p) {
  Token *t = cur(p);
  if (t->kind != TOK_IDENT && t->kind != TOK_KW_SELF) {
    p_error_at(p, t, "expected a name in the use list, found %s", p_describe(p, t));
    return NULL;
  }
  Node *n = p_ident_node(p, t->kind == TOK_KW_SELF ? "self" : t->str, t->span);
  uint32_t start = t->span.start;
  advance(p);
  if (at(p, TOK_COLONCOLON)) {
    p_error_at(p, cur(p), "nested paths in a use list are not supported");
    return n;
  }
  if (accept(p, TOK_KW_AS)) n->as.ident.alias = p_expect_name(p, "a name after 'as'");
  finish(p, n, start);
  return n;
}

/* usedecl -> ('use' | 'import') (STRING | usepath) ['as' NAME] [';']
 * usepath -> NAME {'::' NAME} ['::' ('*' | '{' [usename {',' usename} [',']] '}')]
 * After 'import', '.' also separates the names of the path: import std.math. */
static Node *parse_use(Parser *p, uint32_t start) {
  Node *n = ast_new(p->arena, N_USE, cur(p)->span);
  bool dotted = at(p, TOK_KW_IMPORT); /* import std.math is use std::math */
  advance(p);
  if (at(p, TOK_STRING)) {
    n->as.use.file = cur(p)->str;
    advance(p);
  } else {
    for (;;) {
      Token *t = cur(p);
      if (t->kind == TOK_IDENT || t->kind == TOK_KW_SELF || t->kind == TOK_KW_SELF_TYPE) {
        const char *name = t->kind == TOK_IDENT ? t->str : t->kind == TOK_KW_SELF ? "self" : "Self";
        push(p, &n->as.use.path, p_ident_node(p, name, t->span));
        advance(p);
      } else {
        p_error_at(p, t, "expected a module path, found %s", p_describe(p, t));
        break;
      }
      if (at(p, TOK_DOT) && peek_kind(p, 1) == TOK_IDENT) {
        if (!dotted) {
          Diag *d = p_error_at(p, cur(p), "the names of a `use` path are separated by '::'");
          if (d) diag_hint(d, "write `use a::b`, or `import a.b`");
        }
        advance(p);
        continue;
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
        if (!p_expect(p, TOK_RBRACE, "to close the use list")) p_skip_to_close(p, TOK_RBRACE);
        ctx_pop(p, c);
        break;
      }
    }
  }
  if (accept(p, TOK_KW_AS)) n->as.use.alias = p_expect_name(p, "a name after 'as'");
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
  if (!p_enter(p)) return NULL;
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
    p_error_at(p, cur(p), "expected an item, found %s", p_describe(p, cur(p)));
    break;
  }
  p_leave(p);
  return n;
}

/* ---- module ---- */

/* module -> {stmt} EOF   (items, let and expression statements) */
ParseResult parse_module(Source *src, Arena *arena, DiagList *diags, Ast *out) {
  Parser *p = arena_alloc(arena, sizeof *p);
  p_init(p, src, 0, (uint32_t)src->len, arena, diags);
  p->nl = true;
  out->items = (NodeList){0};
  while (!at(p, TOK_EOF)) {
    uint64_t before = p->ntok;
    if (at(p, TOK_RBRACE)) {
      p_error_at(p, cur(p), "unexpected '}' with no block to close");
      advance(p);
      p->panic = false;
      continue;
    }
    push(p, &out->items, parse_stmt(p, NULL));
    if (p->panic) synchronize(p, 0, true);
    if (p->ntok == before) advance(p);
  }
  /* incomplete: the first error is the end of input inside a bracket, or
   * the lexer's only error is a string or comment cut off by the end */
  int lexer_errors = diags->nerrors - p->start_errors - p->nreported;
  if (p->incomplete) return PARSE_INCOMPLETE;
  if (p->lx.open_at_eof && !p->early_error && lexer_errors == 1) return PARSE_INCOMPLETE;
  if (diags->nerrors == p->start_errors) return PARSE_OK;
  return diags->nerrors - p->start_errors == p->nsound ? PARSE_ERROR_SOUND : PARSE_ERROR;
}

