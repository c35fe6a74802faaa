/* Types (annotations, generic arguments, unit algebra in type aliases),
 * generic parameter lists, where clauses, and patterns. */
#include "pstate.h"

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
  p_error_at(p, t, "expected '>' to close the generic arguments, found %s", p_describe(p, t));
  return false;
}

/* typeargs -> '<' [typearg {',' typearg} [',']] '>'
 * typearg -> LABEL | NAME '=' type | literal | '-' literal | block | '[' expr {',' expr} ']' | type */
void p_type_args(Parser *p, NodeList *out) {
  Ctx c = ctx_push(p, false);
  advance(p);
  while (!at_gt(p) && !at(p, TOK_EOF)) {
    Token *t = cur(p);
    if (t->kind == TOK_LABEL) {
      advance(p);
    } else if (is_literal(t->kind) || t->kind == TOK_MINUS) {
      push(p, out, p_unary(p));
    } else if (t->kind == TOK_LBRACE) {
      push(p, out, p_block(p));
    } else if (t->kind == TOK_LBRACKET && !array_type_ahead(p)) {
      push(p, out, p_list(p));
    } else if (t->kind == TOK_IDENT && peek_kind(p, 1) == TOK_EQ) {
      advance(p);
      advance(p);
      push(p, out, p_type(p));
    } else {
      push(p, out, p_type(p));
    }
    if (!accept(p, TOK_COMMA)) break;
  }
  expect_gt(p);
  ctx_pop(p, c);
}

/* The trait of `impl Trait` / `dyn Trait` / a bound: a type, further
 * `+ Bound`s dropped. */
Node *p_bound(Parser *p) {
  accept(p, TOK_QUESTION);
  Node *t = p_type(p);
  while (at(p, TOK_PLUS) && !ends_line(p, cur(p))) {
    advance(p);
    if (!accept(p, TOK_LABEL)) p_type(p);
  }
  return t;
}

static Node *type_name_node(Parser *p, const char *name, Span span, Node *arg) {
  Node *n = ast_new(p->arena, N_TYPE_NAME, span);
  n->as.type_name.path = p_ident_node(p, name, span);
  push(p, &n->as.type_name.args, arg);
  return n;
}

/* Scalar type names take no generic arguments, so `i as usize < n`
 * compares instead of opening `usize<...>`. */
static bool is_scalar_type(const Node *path) {
  static const char *const names[] = {"i8",  "i16",  "i32",   "i64", "i128", "isize", "u8",
                                      "u16", "u32",  "u64",   "u128", "usize", "f16",  "f32",
                                      "f64", "bool", "char",  "str", "c32",  "c64",  "c128"};
  if (path->kind != N_IDENT) return false;
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (strcmp(path->as.ident.name, names[i]) == 0) return true;
  return false;
}

/* fntype -> '(' [type {',' type} [',']] ')' ['->' type]    (after 'fn' or Fn) */
static Node *parse_fn_type(Parser *p, uint32_t start) {
  Node *n = ast_new(p->arena, N_TYPE_FN, cur(p)->span);
  Ctx c = ctx_push(p, false);
  if (p_expect(p, TOK_LPAREN, "for the parameter types")) {
    while (!at(p, TOK_RPAREN) && !at(p, TOK_EOF)) {
      push(p, &n->as.type_fn.params, p_type(p));
      if (!accept(p, TOK_COMMA)) break;
    }
    p_expect(p, TOK_RPAREN, "to close the parameter types");
  }
  ctx_pop(p, c);
  if (accept(p, TOK_ARROW)) n->as.type_fn.ret = p_type(p);
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
    Node *inner = p_type(p);
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
      p_error_at(p, cur(p), "expected 'const' or 'mut' after '*' in a pointer type, found %s",
                 p_describe(p, cur(p)));
    Node *pointee = p_type(p);
    return type_name_node(p, name, span_from(p, start), pointee);
  }
  case TOK_LPAREN: {
    Ctx c = ctx_push(p, false);
    advance(p);
    Node *n = ast_new(p->arena, N_TYPE_TUPLE, t->span);
    bool comma = false;
    while (!at(p, TOK_RPAREN) && !at(p, TOK_EOF)) {
      push(p, &n->as.type_tuple.elems, p_type(p));
      if (!(comma = accept(p, TOK_COMMA))) break;
    }
    p_expect(p, TOK_RPAREN, "to close the tuple type");
    ctx_pop(p, c);
    if (n->as.type_tuple.elems.len == 1 && !comma) return n->as.type_tuple.elems.items[0];
    finish(p, n, start);
    return n;
  }
  case TOK_LBRACKET: {
    Ctx c = ctx_push(p, false);
    advance(p);
    Node *n = ast_new(p->arena, N_TYPE_ARRAY, t->span);
    n->as.type_array.elem = p_type(p);
    if (accept(p, TOK_SEMI)) n->as.type_array.len = p_expr(p);
    p_expect(p, TOK_RBRACKET, "to close the array type");
    ctx_pop(p, c);
    finish(p, n, start);
    return n;
  }
  case TOK_KW_FN:
    advance(p);
    return parse_fn_type(p, start);
  case TOK_KW_IMPL:
    advance(p);
    return p_bound(p);
  case TOK_UNDERSCORE:
    advance(p);
    return node(p, N_TYPE_INFER, start);
  case TOK_BANG:
    advance(p);
    return type_name_node(p, "!", t->span, NULL);
  case TOK_IDENT:
    if (is_word(t, "dyn") && (peek_kind(p, 1) == TOK_IDENT || peek_kind(p, 1) == TOK_KW_SELF_TYPE)) {
      advance(p);
      return p_bound(p);
    }
    if ((is_word(t, "Fn") || is_word(t, "FnMut") || is_word(t, "FnOnce")) &&
        peek_kind(p, 1) == TOK_LPAREN) {
      advance(p);
      return parse_fn_type(p, start);
    }
    /* fallthrough */
  case TOK_KW_SELF_TYPE: case TOK_KW_SELF: {
    Node *path = p_path_expr(p);
    Node *n = ast_new(p->arena, N_TYPE_NAME, path->span);
    n->as.type_name.path = path;
    if (at(p, TOK_LT) && !is_scalar_type(path)) p_type_args(p, &n->as.type_name.args);
    finish(p, n, start);
    return n;
  }
  default:
    p_error_at(p, t, "expected a type, found %s", p_describe(p, t));
    return ast_new(p->arena, N_TYPE_INFER, t->span);
  }
}

/* type (rule above type_inner), counted against the nesting limit */
Node *p_type(Parser *p) {
  if (!p_enter(p)) return ast_new(p->arena, N_TYPE_INFER, cur(p)->span);
  Node *n = type_inner(p);
  p_leave(p);
  return n;
}

static Node *type_binary(Parser *p, OpKind op, Node *lhs, Node *rhs, uint32_t start) {
  Node *n = node(p, N_TYPE_BINARY, start);
  n->as.type_binary.op = op;
  n->as.type_binary.lhs = lhs;
  n->as.type_binary.rhs = rhs;
  return n;
}

/* unitatom -> '(' unittype {',' type} ')' | INT | type */
static Node *parse_unit_atom(Parser *p) {
  Token *t = cur(p);
  uint32_t start = t->span.start;
  if (t->kind == TOK_INT) return p_literal(p);
  if (t->kind != TOK_LPAREN) return p_type(p);
  Ctx c = ctx_push(p, false);
  advance(p);
  if (accept(p, TOK_RPAREN)) {
    ctx_pop(p, c);
    return node(p, N_TYPE_TUPLE, start);
  }
  Node *first = p_unit_type(p);
  if (at(p, TOK_COMMA)) {
    Node *n = ast_new(p->arena, N_TYPE_TUPLE, t->span);
    push(p, &n->as.type_tuple.elems, first);
    while (accept(p, TOK_COMMA) && !at(p, TOK_RPAREN) && !at(p, TOK_EOF))
      push(p, &n->as.type_tuple.elems, p_type(p));
    p_expect(p, TOK_RPAREN, "to close the tuple type");
    ctx_pop(p, c);
    finish(p, n, start);
    return n;
  }
  p_expect(p, TOK_RPAREN, "to close '('");
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
        p_error_at(p, v, "expected an integer power after '^', found %s", p_describe(p, v));
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
Node *p_unit_type(Parser *p) {
  uint32_t start = cur(p)->span.start;
  if (!p_enter(p)) return ast_new(p->arena, N_TYPE_INFER, cur(p)->span);
  Node *n = parse_unit_factor(p);
  for (;;) {
    TokenKind k = cur(p)->kind;
    if ((k != TOK_STAR && k != TOK_SLASH && k != TOK_DOTPROD) || ends_line(p, cur(p))) break;
    advance(p);
    n = type_binary(p, k == TOK_SLASH ? OP_DIV : OP_MUL, n, parse_unit_factor(p), start);
  }
  p_leave(p);
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
      p_error_at(p, t, "expected a number after '-' in a pattern, found %s", p_describe(p, t));
      return p_err_node(p);
    }
    Node *n = p_literal(p);
    if (n->kind == N_INT) n->as.int_lit.value = (int64_t)(0 - (uint64_t)n->as.int_lit.value);
    else n->as.float_lit.value = -n->as.float_lit.value;
    finish(p, n, start);
    return n;
  }
  return p_literal(p);
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
    p_error_at(p, cur(p), "expected the end of the range pattern, found %s", p_describe(p, cur(p)));
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
    push(p, out, p_pattern(p, true));
    if (!(comma = accept(p, TOK_COMMA))) break;
  }
  if (trailing_comma) *trailing_comma = comma;
  if (!p_expect(p, closer, "to close the pattern")) p_skip_to_close(p, closer);
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
      p_error_at(p, t, "expected a field name in the pattern, found %s", p_describe(p, t));
      p_skip_to_close(p, TOK_RBRACE);
      ctx_pop(p, c);
      return;
    }
    const char *name = t->kind == TOK_IDENT ? t->str : p_src_text(p, t->span.start, t->span.end);
    Span name_span = t->span;
    advance(p);
    Node *f = ast_new(p->arena, N_FIELD_INIT, name_span);
    f->as.field_init.name = name;
    if (accept(p, TOK_COLON)) {
      f->as.field_init.value = p_pattern(p, true);
    } else if (is_mut) {
      Node *b = ast_new(p->arena, N_PAT_BIND, span_from(p, start));
      b->as.pat_bind.name = name;
      b->as.pat_bind.is_mut = true;
      f->as.field_init.value = b;
    }
    finish(p, f, start);
    push(p, &n->as.pat_struct.fields, f);
    if (!p_brace_sep(p, "a field pattern")) break;
  }
  if (!p_expect(p, TOK_RBRACE, "to close the struct pattern")) p_skip_to_close(p, TOK_RBRACE);
  ctx_pop(p, c);
}

/* patbind -> ['ref'] ['mut'] NAME ['@' patalt] */
static Node *parse_pat_bind(Parser *p) {
  uint32_t start = cur(p)->span.start;
  if (is_word(cur(p), "ref")) advance(p);
  bool is_mut = accept(p, TOK_KW_MUT);
  const char *name = p_expect_name(p, "a name in the pattern");
  Node *n = ast_new(p->arena, N_PAT_BIND, span_from(p, start));
  n->as.pat_bind.name = name;
  n->as.pat_bind.is_mut = is_mut;
  if (accept(p, TOK_AT)) n->as.pat_bind.sub = p_pattern(p, false);
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
    p_error_at(p, t, "slice patterns are not supported");
    p_skip_to_close(p, TOK_RBRACKET);
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
    Node *path = p_path_expr(p);
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
  case TOK_NABLA:
    if (p_at_nabla_name(p)) return parse_pat_bind(p);
    /* fallthrough */
  default:
    p_error_at(p, t, "expected a pattern, found %s", p_describe(p, t));
    return ast_new(p->arena, N_PAT_WILD, t->span);
  }
}

/* pattern -> ['|'] patalt {'|' patalt}    (or-patterns where allowed) */
Node *p_pattern(Parser *p, bool allow_or) {
  uint32_t start = cur(p)->span.start;
  if (!p_enter(p)) return ast_new(p->arena, N_PAT_WILD, cur(p)->span);
  if (allow_or) accept(p, TOK_PIPE);
  Node *first = parse_pat_alt(p);
  if (allow_or && at(p, TOK_PIPE)) {
    Node *n = ast_new(p->arena, N_PAT_OR, first->span);
    push(p, &n->as.pat_or.alts, first);
    while (accept(p, TOK_PIPE)) push(p, &n->as.pat_or.alts, parse_pat_alt(p));
    finish(p, n, start);
    first = n;
  }
  p_leave(p);
  return first;
}

/* ---- generic parameters and where clauses ---- */

/* generics -> '<' [gparam {',' gparam} [',']] '>'
 * gparam -> 'const' NAME ':' type ['=' expr] | LABEL [':' LABEL {'+' LABEL}]
 *         | NAME [':' bound {'+' bound}] ['=' type] */
void p_generics(Parser *p, NodeList *out) {
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
        g->as.generic.name = p_expect_name(p, "a const parameter name");
        p_expect(p, TOK_COLON, "after the const parameter name");
        g->as.generic.type = p_type(p);
        if (accept(p, TOK_EQ)) p_unary(p);
      } else {
        g->as.generic.name = p_expect_name(p, "a type parameter name");
        if (accept(p, TOK_COLON)) {
          do {
            if (accept(p, TOK_LABEL)) continue;
            accept(p, TOK_QUESTION);
            push(p, &g->as.generic.bounds, p_type(p));
          } while (accept(p, TOK_PLUS));
        }
        if (accept(p, TOK_EQ)) p_type(p);
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
void p_skip_where(Parser *p) {
  advance(p);
  while (!at(p, TOK_LBRACE) && !at(p, TOK_SEMI) && !at(p, TOK_EOF) && !at(p, TOK_EQ)) {
    uint64_t before = p->ntok;
    if (at(p, TOK_LABEL)) advance(p);
    else p_type(p);
    if (accept(p, TOK_COLON)) {
      do {
        if (!accept(p, TOK_LABEL)) {
          accept(p, TOK_QUESTION);
          p_type(p);
        }
      } while (accept(p, TOK_PLUS));
    }
    if (!accept(p, TOK_COMMA) || p->ntok == before) break;
  }
}
