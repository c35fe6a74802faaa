/* Expressions, by precedence climbing over this table (lowest first):
 *   =  +=  -=  *=  /=  %=            right associative, ASSIGN
 *   ..  ..=                           either side optional, non-associative
 *   ||  &&                            (also ∨ ∧)
 *   == != < > <= >= ≈ ∈ ∉             non-associative; the right side of
 *                                     ∈ ∉ may be a range: x ∈ 1..5
 *   |   &   << >>   + -
 *   * / % ⊙ @ ⊗ ⋅                     (× ÷ lex as * /)
 *   as                                CAST
 *   prefix - ! √ ∛ ∇ ∂ & &mut * ∑ ∏
 *   NUMBER power                      juxtaposition: 2π, 2x², 2(x + 1)
 *   ** ^                              right associative, tighter than a prefix
 *                                     on the left (-x**2 is -(x**2))
 *   postfix: x² call index . ? .await
 * Format strings (the literal of println!("x = {x:.2f}") and f"...") are
 * taken apart in fstring.c. */
#include <math.h>
#include <stdlib.h>

#include "pstate.h"

/* Tokens an expression can start with (`{` not in if/while/for heads). */
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

/* ---- literals ---- */

/* 9.8_m/s² is a float quantity, 100_m an integer one: no '.' or exponent
 * before the '_' that starts the unit, and a value that fits an int. */
static bool quantity_is_int(Parser *p, const Token *t) {
  const char *s = p->src->text + t->span.start, *e = p->src->text + t->span.end;
  for (; s < e; s++) {
    if (*s == '_' && s + 1 < e && !(s[1] >= '0' && s[1] <= '9')) break;
    if (*s == '.' || *s == 'e' || *s == 'E') return false;
  }
  return t->as.f < 9223372036854775808.0 && t->as.f >= -9223372036854775808.0;
}

/* literal -> INT | FLOAT | IMAG | QUANTITY | STRING | CHAR | 'true' | 'false' */
Node *p_literal(Parser *p) {
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
    p_error_at(p, t, "expected a literal, found %s", p_describe(p, t));
    return p_err_node(p);
  }
  advance(p);
  return n;
}

/* ---- expressions ---- */

Node *p_expr(Parser *p) { return p_bin(p, P_ASSIGN); }

/* headexpr -> expr without struct literals or assignment (if, while,
 * match and for heads, where `{` opens the body) */
static Node *parse_head_expr(Parser *p) {
  bool saved = p->no_struct;
  p->no_struct = true;
  Node *n = p_bin(p, P_RANGE);
  p->no_struct = saved;
  return n;
}

/* The block a construct requires; an empty BLOCK after an error. */
static Node *expect_block(Parser *p, const char *context) {
  if (at(p, TOK_LBRACE)) return p_block(p);
  Token *t = cur(p);
  p_error_at(p, t, "expected '{' %s, found %s", context, p_describe(p, t));
  return ast_new(p->arena, N_BLOCK, t->span);
}

/* pathexpr -> NAME {'::' (NAME | '<' typeargs '>')}   (a single segment is an IDENT) */
Node *p_path_expr(Parser *p) {
  Token *t = cur(p);
  uint32_t start = t->span.start;
  const char *name = t->kind == TOK_KW_SELF_TYPE ? "Self" : t->kind == TOK_KW_SELF ? "self" : t->str;
  Node *first = p_ident_node(p, name, t->span);
  advance(p);
  NodeList segs = {0};
  push(p, &segs, first);
  while (at(p, TOK_COLONCOLON)) {
    Token *n = peek(p, 1);
    if (n->kind == TOK_IDENT || n->kind == TOK_KW_SELF_TYPE) {
      advance(p);
      push(p, &segs, p_ident_node(p, n->kind == TOK_IDENT ? n->str : "Self", n->span));
      advance(p);
    } else if (n->kind == TOK_LT) {
      advance(p);
      NodeList dropped = {0};
      p_type_args(p, &dropped);
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

/* structlit -> path '{' [fieldinit {sep fieldinit}] [sep] ['..' expr] '}'
 * fieldinit -> NAME [':' expr] */
static Node *parse_struct_lit(Parser *p, Node *path, uint32_t start) {
  Node *n = node(p, N_STRUCT_LIT, start);
  n->as.struct_lit.path = path;
  Ctx c = ctx_push(p, true);
  advance(p);
  while (!at(p, TOK_RBRACE) && !at(p, TOK_EOF)) {
    if (accept(p, TOK_DOTDOT)) {
      n->as.struct_lit.base = p_expr(p);
      accept(p, TOK_COMMA);
      break;
    }
    Token *t = cur(p);
    if (t->kind != TOK_IDENT && t->kind != TOK_INT) {
      p_error_at(p, t, "expected a field name, found %s", p_describe(p, t));
      p_skip_to_close(p, TOK_RBRACE);
      ctx_pop(p, c);
      finish(p, n, start);
      return n;
    }
    uint32_t fstart = t->span.start;
    p->stmt_start = fstart;
    const char *name = t->kind == TOK_IDENT ? t->str : p_src_text(p, t->span.start, t->span.end);
    advance(p);
    Node *value = accept(p, TOK_COLON) ? p_expr(p) : NULL;
    Node *f = node(p, N_FIELD_INIT, fstart);
    f->as.field_init.name = name;
    f->as.field_init.value = value;
    push(p, &n->as.struct_lit.fields, f);
    if (!p_brace_sep(p, "a field")) break;
  }
  if (!p_expect(p, TOK_RBRACE, "to close the struct literal")) p_skip_to_close(p, TOK_RBRACE);
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
    Node *value = p_expr(p);
    Node *a = node(p, N_ARG, start);
    a->as.arg.name = name;
    a->as.arg.value = value;
    push(p, out, a);
    if (accept(p, TOK_COMMA)) continue;
    if (!at(p, closer)) {
      Token *t = cur(p);
      p_unclosed_hint(p, p_error_at(p, t, "expected ',' or %s, found %s", ns_token_names[closer],
                                    p_describe(p, t)));
    }
    break;
  }
}

/* indexitem -> expr | [expr] ':' [expr] [':' [expr]] | [expr] '::' [expr] */
static Node *parse_index_item(Parser *p) {
  uint32_t start = cur(p)->span.start;
  Node *lo = NULL, *hi = NULL, *step = NULL;
  if (!at(p, TOK_COLON) && !at(p, TOK_COLONCOLON)) {
    lo = p_expr(p);
    if (!at(p, TOK_COLON) && !at(p, TOK_COLONCOLON)) return lo;
  }
  if (accept(p, TOK_COLONCOLON)) {
    if (!at(p, TOK_COMMA) && !at(p, TOK_RBRACKET)) step = p_expr(p);
  } else {
    advance(p);
    if (!at(p, TOK_COLON) && !at(p, TOK_COMMA) && !at(p, TOK_RBRACKET)) hi = p_expr(p);
    if (accept(p, TOK_COLON) && !at(p, TOK_COMMA) && !at(p, TOK_RBRACKET)) step = p_expr(p);
  }
  Node *s = node(p, N_SLICE, start);
  s->as.slice.lo = lo;
  s->as.slice.hi = hi;
  s->as.slice.step = step;
  return s;
}

static Node *postfix_step(Parser *p, Node *n, uint32_t start, bool *done);

/* postfix -> primary {SUPERSCRIPT | '(' args ')' | '[' indexitem {',' indexitem} ']'
 *                     | '.' (NAME ['::' typeargs] ['(' args ')'] | INT | 'await') | '?'} */
static Node *parse_postfix(Parser *p, Node *n, uint32_t start) {
  int steps = 0;
  bool done = false;
  while (!done) {
    TokenKind k = cur(p)->kind;
    if (k != TOK_SUPERSCRIPT && k != TOK_LPAREN && k != TOK_LBRACKET && k != TOK_DOT &&
        k != TOK_QUESTION)
      break;
    if (!p_grow(p)) break;
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
      n = binary_node(p, OP_POW, n, exp, start);
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
      p_expect(p, TOK_RPAREN, "to close the argument list");
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
        p_error_at(p, cur(p), "expected an index, found ']'");
      p_expect(p, TOK_RBRACKET, "to close the index");
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
      if (f->kind != TOK_IDENT && f->kind != TOK_INT && f->kind != TOK_KW_WHERE) {
        p_error_at(p, f, "expected a field or method name after '.', found %s", p_describe(p, f));
        *done = true;
        return n;
      }
      const char *name = f->kind == TOK_IDENT    ? f->str
                         : f->kind == TOK_KW_WHERE ? "where"
                                                   : p_src_text(p, f->span.start, f->span.end);
      Span name_span = f->span;
      advance(p);
      if (f->kind == TOK_IDENT && at(p, TOK_COLONCOLON) && peek_kind(p, 1) == TOK_LT) {
        advance(p);
        NodeList dropped = {0};
        p_type_args(p, &dropped);
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
        p_expect(p, TOK_RPAREN, "to close the argument list");
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
  Node *first = p_expr(p);
  if (at(p, TOK_COMMA)) {
    Node *t = ast_new(p->arena, N_TUPLE, first->span);
    push(p, &t->as.tuple.elems, first);
    while (accept(p, TOK_COMMA) && !at(p, TOK_RPAREN) && !at(p, TOK_EOF))
      push(p, &t->as.tuple.elems, p_expr(p));
    p_expect(p, TOK_RPAREN, "to close the tuple");
    ctx_pop(p, c);
    finish(p, t, start);
    return t;
  }
  p_expect(p, TOK_RPAREN, "to close '('");
  ctx_pop(p, c);
  finish(p, first, start);
  return first;
}

/* listexpr -> '[' ']' | '[' expr ';' expr ']' | '[' expr {',' expr} [','] ']' */
Node *p_list(Parser *p) {
  uint32_t start = cur(p)->span.start;
  Ctx c = ctx_push(p, false);
  advance(p);
  Node *n;
  if (at(p, TOK_RBRACKET)) {
    n = ast_new(p->arena, N_LIST, cur(p)->span);
  } else {
    Node *first = p_expr(p);
    if (accept(p, TOK_SEMI)) {
      n = ast_new(p->arena, N_LIST_REPEAT, first->span);
      n->as.repeat.value = first;
      n->as.repeat.count = p_expr(p);
    } else {
      n = ast_new(p->arena, N_LIST, first->span);
      push(p, &n->as.list.elems, first);
      while (accept(p, TOK_COMMA) && !at(p, TOK_RBRACKET) && !at(p, TOK_EOF))
        push(p, &n->as.list.elems, p_expr(p));
    }
  }
  p_expect(p, TOK_RBRACKET, "to close the list");
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
    p_error_at(p, cur(p), "expected '(', '[' or '{' after %s!, found %s", t->str, p_describe(p, cur(p)));
    return m;
  }
  m->as.macro.bracketed = open == TOK_LBRACKET;
  int fmt_index = p_format_index(m->as.macro.name);
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
    Node *e = p_expr(p);
    if (args->len == 0 && accept(p, TOK_SEMI)) {
      Node *r = ast_new(p->arena, N_LIST_REPEAT, e->span);
      r->as.repeat.value = e;
      r->as.repeat.count = p_expr(p);
      finish(p, r, e->span.start);
      push(p, args, r);
      break;
    }
    push(p, args, e);
    if (accept(p, TOK_COMMA)) continue;
    if (!at(p, close)) {
      Token *b = cur(p);
      p_unclosed_hint(p, p_error_at(p, b, "expected ',' or %s in macro arguments, found %s",
                                    ns_token_names[close], p_describe(p, b)));
    }
    break;
  }
  if (!p_expect(p, close, "to close the macro arguments")) p_skip_to_close(p, close);
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
        p_format(p, fmt_tok.span, fmt_tok.str_offset, body_end, fmt_tok.raw, true, &fa);
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

/* closure -> ['move'] ('||' | '|' [param {',' param} [',']] '|') ('->' type block | expr) */
static Node *parse_closure(Parser *p, bool is_move, uint32_t start) {
  Node *n = ast_new(p->arena, N_CLOSURE, cur(p)->span);
  n->as.closure.is_move = is_move;
  if (!accept(p, TOK_OROR)) {
    Ctx c = ctx_push(p, false);
    advance(p);
    while (!at(p, TOK_PIPE) && !at(p, TOK_EOF)) {
      push(p, &n->as.closure.params, p_param(p, false));
      if (!accept(p, TOK_COMMA)) break;
    }
    p_expect(p, TOK_PIPE, "to close the closure parameters");
    ctx_pop(p, c);
  }
  if (accept(p, TOK_ARROW)) {
    n->as.closure.ret = p_type(p);
    n->as.closure.body = expect_block(p, "for a closure body after its return type");
  } else {
    n->as.closure.body = p_expr(p);
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
  Node *inner = p_bin(p, P_RANGE);
  p_expect(p, TOK_PIPE, "to close '|...|'");
  ctx_pop(p, c);
  Node *n = node(p, N_ABS, start);
  n->as.postfix.operand = inner;
  return n;
}

/* ifexpr -> 'if' ['let' pattern '='] headexpr block ['else' (ifexpr | block)] */
static Node *parse_if(Parser *p) {
  uint32_t start = cur(p)->span.start;
  Node *n = ast_new(p->arena, N_IF, cur(p)->span);
  if (!p_enter(p)) return n;
  advance(p);
  if (accept(p, TOK_KW_LET)) {
    n->as.if_.pattern = p_pattern(p, true);
    p_expect(p, TOK_EQ, "after the if-let pattern");
  }
  n->as.if_.cond = parse_head_expr(p);
  if (at(p, TOK_EQ)) {
    Diag *d = p_error_at(p, cur(p), "expected '{' after the if condition, found '='");
    diag_hint(d, "use '==' to compare");
  }
  n->as.if_.then = expect_block(p, "after the if condition");
  if (accept(p, TOK_KW_ELSE))
    n->as.if_.els = at(p, TOK_KW_IF) ? parse_if(p) : expect_block(p, "after 'else'");
  p_leave(p);
  finish(p, n, start);
  return n;
}

/* whileexpr -> 'while' ['let' pattern '='] headexpr block */
static Node *parse_while(Parser *p, const char *label, uint32_t start) {
  Node *n = ast_new(p->arena, N_WHILE, cur(p)->span);
  n->as.loop.label = label;
  advance(p);
  if (accept(p, TOK_KW_LET)) {
    n->as.loop.pattern = p_pattern(p, true);
    p_expect(p, TOK_EQ, "after the while-let pattern");
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
  n->as.for_.pattern = p_pattern(p, true);
  p_expect(p, TOK_KW_IN, "after the for pattern");
  n->as.for_.iter = parse_head_expr(p);
  n->as.for_.body = expect_block(p, "after the for iterator");
  finish(p, n, start);
  return n;
}

/* labeled -> LABEL ':' (loopexpr | whileexpr | forexpr) */
static Node *parse_labeled(Parser *p) {
  Token *t = cur(p);
  uint32_t start = t->span.start;
  const char *label = t->str ? t->str : p_src_text(p, t->span.start + 1, t->span.end);
  advance(p);
  p_expect(p, TOK_COLON, "after the label");
  switch (cur(p)->kind) {
  case TOK_KW_WHILE: return parse_while(p, label, start);
  case TOK_KW_LOOP: return parse_loop(p, label, start);
  case TOK_KW_FOR: return parse_for(p, label, start);
  default:
    p_error_at(p, cur(p), "expected 'loop', 'while' or 'for' after a label, found %s",
               p_describe(p, cur(p)));
    return p_err_node(p);
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
    p_error_at(p, cur(p), "expected '{' after the match scrutinee, found %s", p_describe(p, cur(p)));
    finish(p, n, start);
    return n;
  }
  Ctx c = ctx_push(p, true);
  advance(p);
  while (!at(p, TOK_RBRACE) && !at(p, TOK_EOF)) {
    uint32_t astart = cur(p)->span.start;
    p->stmt_start = astart;
    Node *arm = ast_new(p->arena, N_ARM, cur(p)->span);
    arm->as.arm.pattern = p_pattern(p, true);
    if (accept(p, TOK_KW_IF)) arm->as.arm.guard = p_expr(p);
    if (!p_expect(p, TOK_FATARROW, "after the match pattern")) {
      p_skip_to_close(p, TOK_RBRACE);
      ctx_pop(p, c);
      finish(p, n, start);
      return n;
    }
    arm->as.arm.body = p_expr(p);
    finish(p, arm, astart);
    push(p, &n->as.match.arms, arm);
    if (accept(p, TOK_COMMA)) continue;
    Token *t = cur(p);
    if (t->kind == TOK_RBRACE || t->nl_before || p->prev_kind == TOK_RBRACE) continue;
    p_error_at(p, t, "expected ',' or '}' after the match arm, found %s", p_describe(p, t));
    p_skip_to_close(p, TOK_RBRACE);
    ctx_pop(p, c);
    finish(p, n, start);
    return n;
  }
  p_expect(p, TOK_RBRACE, "to close the match");
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
  n->as.big_op.pattern = p_pattern(p, false);
  p_expect(p, TOK_KW_IN, "after the pattern");
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
    n->as.brk.label = l->str ? l->str : p_src_text(p, l->span.start + 1, l->span.end);
    advance(p);
  }
  if (kind != N_CONTINUE && operand_follows(p)) n->as.brk.value = p_expr(p);
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
    return p_literal(p);
  case TOK_FSTRING:
    return p_fstring(p);
  case TOK_IDENT:
    if (is_word(t, "move") && (peek_kind(p, 1) == TOK_PIPE || peek_kind(p, 1) == TOK_OROR)) {
      advance(p);
      return parse_closure(p, true, start);
    }
    /* fallthrough */
  case TOK_KW_SELF_TYPE: {
    Node *path = p_path_expr(p);
    if (struct_lit_ahead(p)) return parse_struct_lit(p, path, start);
    return path;
  }
  case TOK_KW_SELF: {
    advance(p);
    return node(p, N_SELF, start);
  }
  case TOK_UNDERSCORE:
    advance(p);
    return p_ident_node(p, "_", t->span);
  case TOK_LPAREN:
    return parse_paren(p);
  case TOK_LBRACKET:
    return p_list(p);
  case TOK_LBRACE:
    return p_block(p);
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
  case TOK_KW_WHERE:
    /* `where(cond, a, b)`: the keyword of where-clauses is also the name of
     * the tensor function NumPy and PyTorch users expect. */
    if (peek_kind(p, 1) == TOK_LPAREN) {
      Span sp = t->span;
      advance(p);
      return p_ident_node(p, "where", sp);
    }
    /* fallthrough */
  default: {
    Diag *d = p_error_at(p, t, "expected an expression, found %s", p_describe(p, t));
    if (d && t->kind == TOK_INTEGRAL) diag_hint(d, "'∫' is reserved and not supported yet");
    return p_err_node(p);
  }
  }
}

/* A number literal written directly before a name or '(' (2π, 3x, 2(x + 1),
 * ½(a + b)): decimal digits or a fraction, without a type suffix, and with
 * nothing between it and the next token. The lexer has already refused the
 * names that would read as part of the literal (2e, 2in). */
static bool juxtaposed(Parser *p) {
  Token *t = cur(p), *next = peek(p, 1);
  if ((t->kind != TOK_INT && t->kind != TOK_FLOAT) || t->suffix) return false;
  if ((next->kind != TOK_IDENT && next->kind != TOK_LPAREN) || next->span.start != t->span.end)
    return false;
  const unsigned char *s = (const unsigned char *)p->src->text + t->span.start;
  if (s[0] >= '0' && s[0] <= '9') return !(s[0] == '0' && t->span.end - t->span.start > 1 &&
                                           (s[1] == 'x' || s[1] == 'o' || s[1] == 'b'));
  return t->kind == TOK_FLOAT && !isinf(t->as.f); /* ½ ¼ ..., not ∞ */
}

/* power -> NUMBER power                      (juxtaposition: 2π, 2x², 2(x + 1))
 *        | postfix [('**' | '^') unary]      (right associative through unary)
 * A juxtaposed product binds like a power: 2x² is 2·(x²), 2π^2 is 2·(π^2),
 * -2π is -(2π) and ħ / 2π is ħ / (2π). */
static Node *parse_power(Parser *p) {
  uint32_t start = cur(p)->span.start;
  if (juxtaposed(p)) {
    Node *num = p_literal(p);
    if (!p_enter(p)) return num;
    Node *rhs = parse_power(p);
    p_leave(p);
    return binary_node(p, OP_MUL, num, rhs, start);
  }
  Node *base = parse_postfix(p, parse_primary(p), start);
  Token *t = cur(p);
  if ((t->kind == TOK_STARSTAR || t->kind == TOK_CARET) && !ends_line(p, t)) {
    if (!p_enter(p)) return base;
    advance(p);
    Node *exp = p_unary(p);
    p_leave(p);
    return binary_node(p, OP_POW, base, exp, start);
  }
  return base;
}

/* The operand n of `∇ψ...` read with `∇ψ` as one name: a copy of the path
 * from n down the postfix and power nodes (calls, indexing, fields,
 * methods, ?, .await, ψ² and ψ^k) to the name ψ they start with, which is
 * replaced by the name `∇ψ`; the other children are shared. NULL when the
 * chain starts with something else (a path, a struct literal). */
static Node *nabla_name_tree(Parser *p, Node *n, const char *name, Span name_span) {
  if (n->kind == N_IDENT) return p_ident_node(p, name, name_span);
  Node **child;
  Node *copy = arena_alloc(p->arena, sizeof *copy);
  *copy = *n;
  switch (n->kind) {
  case N_CALL: child = &copy->as.call.callee; break;
  case N_INDEX: child = &copy->as.index.object; break;
  case N_FIELD: child = &copy->as.field.object; break;
  case N_METHOD_CALL: child = &copy->as.method.receiver; break;
  case N_AWAIT: case N_TRY: child = &copy->as.postfix.operand; break;
  case N_BINARY:
    if (n->as.binary.op != OP_POW) return NULL;
    child = &copy->as.binary.lhs;
    break;
  default:
    return NULL;
  }
  *child = nabla_name_tree(p, *child, name, name_span);
  return *child ? copy : NULL;
}

/* unary -> ('-' | '!' | '√' | '∛' | '∇' | '∂' | '*' | '∑' | '∏') unary
 *        | '&' ['mut'] unary | '&&' unary | bigop | power */
Node *p_unary(Parser *p) {
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
    if (!p_enter(p)) return p_err_node(p);
    Span name_span = {start, peek(p, 1)->span.end};
    const char *name = p_at_nabla_name(p) ? p_src_text(p, start, name_span.end) : NULL;
    advance(p);
    Node *operand = p_unary(p);
    p_leave(p);
    n = node(p, N_UNARY, start);
    n->as.unary.op = op;
    n->as.unary.operand = operand;
    n->as.unary.as_name = name ? nabla_name_tree(p, operand, name, name_span) : NULL;
    n->as.unary.name = n->as.unary.as_name ? name : NULL;
    break;
  }
  case TOK_AMP: case TOK_ANDAND: {
    bool twice = t->kind == TOK_ANDAND;
    if (!p_enter(p)) return p_err_node(p);
    advance(p);
    bool is_mut = accept(p, TOK_KW_MUT);
    Node *operand = p_unary(p);
    p_leave(p);
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

/* rangeexpr -> [lo] ('..' | '..=') [hi]    (hi only on the same line, parsed
 * above level hi_min) */
static Node *parse_range(Parser *p, Node *lo, uint32_t start, int hi_min) {
  bool inclusive = at(p, TOK_DOTDOTEQ);
  advance(p);
  Node *hi = NULL;
  if (operand_follows(p) && !at(p, TOK_LBRACE) && !at(p, TOK_DOTDOT) && !at(p, TOK_DOTDOTEQ))
    hi = p_bin(p, hi_min);
  else if (inclusive)
    p_error_at(p, cur(p), "expected the end of the inclusive range after '..=', found %s",
               p_describe(p, cur(p)));
  Node *n = node(p, N_RANGE, start);
  n->as.range.lo = lo;
  n->as.range.hi = hi;
  n->as.range.inclusive = inclusive;
  return n;
}

/* memberrhs -> bitor [('..' | '..=') [bitor]] | ('..' | '..=') bitor
 * The right side of ∈ / ∉ takes a range without parentheses: `x ∈ 1..5`
 * tests membership in 1..5 (the range binds tighter here than elsewhere). */
static Node *parse_member_rhs(Parser *p) {
  uint32_t start = cur(p)->span.start;
  Node *lo = NULL;
  if (!at(p, TOK_DOTDOT) && !at(p, TOK_DOTDOTEQ)) {
    lo = p_bin(p, P_CMP + 1);
    if (!(at(p, TOK_DOTDOT) || at(p, TOK_DOTDOTEQ)) || ends_line(p, cur(p))) return lo;
  }
  return parse_range(p, lo, start, P_CMP + 1);
}

/* expr -> unary {binop unary}, by precedence climbing over the table above;
 * assignment is right associative, ranges and comparisons do not chain. */
Node *p_bin(Parser *p, int min) {
  Token *t = cur(p);
  uint32_t start = t->span.start;
  if (!p_enter(p)) return p_err_node(p);
  Node *lhs;
  int last = P_NONE; /* level of the operator that built lhs in this loop */
  if ((t->kind == TOK_DOTDOT || t->kind == TOK_DOTDOTEQ) && min <= P_RANGE) {
    lhs = parse_range(p, NULL, start, P_RANGE + 1);
    last = P_RANGE;
  } else {
    lhs = p_unary(p);
  }
  int steps = 0;
  for (;; steps++) {
    t = cur(p);
    if (ends_line(p, t)) break;
    OpKind op;
    int prec = infix_prec(p, t->kind, &op);
    if (prec == P_NONE || prec < min || !p_grow(p)) break;
    if (prec == P_ASSIGN) {
      advance(p);
      Node *value = p_bin(p, P_ASSIGN);
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
        p_error_at(p, t, "range operators cannot be chained");
        p->height--;
        break;
      }
      lhs = parse_range(p, lhs, start, P_RANGE + 1);
      last = P_RANGE;
      continue;
    }
    if (prec == P_CAST) {
      advance(p);
      Node *type = p_type(p);
      Node *n = node(p, N_CAST, start);
      n->as.cast.operand = lhs;
      n->as.cast.type = type;
      lhs = n;
      last = P_CAST;
      continue;
    }
    if (prec == P_CMP && last == P_CMP) {
      Diag *d = p_error_span(p, t->span, "comparison operators cannot be chained");
      diag_hint(d, "write `a < b && b < c`, or add parentheses");
    }
    advance(p);
    Node *rhs = op == OP_IN || op == OP_NOT_IN ? parse_member_rhs(p) : p_bin(p, prec + 1);
    lhs = binary_node(p, op, lhs, rhs, start);
    last = prec;
  }
  p->height -= steps;
  p_leave(p);
  return lhs;
}
