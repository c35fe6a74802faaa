/* Format strings: the literal of println!("x = {x:.2f}") and the body of
 * f"..." become an FSTRING node of STRING runs (escapes decoded, `{{` and
 * `}}` unescaped) and FMT_PIECE holes. A hole is `{}` (the next positional
 * argument), `{2}` (argument 2), `{name}` (a `name = value` argument of
 * the macro) or any expression `{x + 1}`, parsed in place by a parser of
 * its own so spans point into the string; `:spec` after it (`{:>8}`,
 * `{x:.2f}`) is kept as text for the runtime's formatter. */
#include "pstate.h"

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
  if (!p->hole) p->hole = arena_alloc(p->arena, sizeof *p->hole);
  Parser *sub = p->hole;
  p_init(sub, p->src, s, e, p->arena, p->diags);
  sub->is_sub = true;
  sub->depth = p->depth;
  sub->height = p->height;
  sub->start_errors = p->start_errors;
  sub->nreported = 1; /* never the "first error" of the file */
  Node *n = p_expr(sub);
  if (!at(sub, TOK_EOF))
    p_error_at(sub, cur(sub), "unexpected %s in format string placeholder", p_describe(sub, cur(sub)));
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
  if (colon) piece->as.fmt.spec = p_src_text(p, colon + 1, close);
  bool digits = cs < ce;
  for (uint32_t i = cs; i < ce; i++) digits = digits && text[i] >= '0' && text[i] <= '9';
  if (cs == ce || digits) {
    if (fa->fstring) {
      Diag *d = p_error_span(p, piece->span, "f-string placeholder needs an expression");
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
Node *p_format(Parser *p, Span whole, uint32_t b, uint32_t e, bool raw, bool quiet, FmtArgs *fa) {
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
      Diag *d = p_error_span(p, (Span){i, i + 1}, "unmatched '}' in format string");
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
      Diag *d = p_error_span(p, (Span){i, e}, "unclosed '{' in format string");
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
  if (!fa->fstring && fa->needed != fa->npos &&
      p_error_span(p, whole, "format string uses %d argument%s but %d %s given", fa->needed,
                   fa->needed == 1 ? "" : "s", fa->npos, fa->npos == 1 ? "was" : "were"))
    p->nsound++;
  return fs;
}

/* fstringexpr -> FSTRING */
Node *p_fstring(Parser *p) {
  Token t = *cur(p);
  advance(p);
  FmtArgs fa = {0};
  fa.fstring = true;
  return p_format(p, t.span, t.str_offset, t.str_offset + t.len, t.raw, false, &fa);
}

/* Macros whose argument at fmt_index is a format string. */
int p_format_index(const char *name) {
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
