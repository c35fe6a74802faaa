/* Unit tests for the lexer, sources and diagnostics (compiler/front/lexer.re,
 * diag.c, arena.c). A standalone program: prints each failed check and
 * exits non-zero if any failed. */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "diag.h"
#include "lexer.h"

static int failures, checks;

#define CHECK(cond)                                                                            \
  do {                                                                                         \
    checks++;                                                                                  \
    if (!(cond)) {                                                                             \
      failures++;                                                                              \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);                \
    }                                                                                          \
  } while (0)

#define CHECK_STR(a, b)                                                                        \
  do {                                                                                         \
    checks++;                                                                                  \
    const char *a_ = (a), *b_ = (b);                                                           \
    if (!a_ || !b_ || strcmp(a_, b_) != 0) {                                                   \
      failures++;                                                                              \
      fprintf(stderr, "%s:%d: expected \"%s\", got \"%s\"\n", __FILE__, __LINE__,              \
              b_ ? b_ : "(null)", a_ ? a_ : "(null)");                                         \
    }                                                                                          \
  } while (0)

/* ---- lexing a whole string ---- */

#define MAX_TOKENS 256

typedef struct {
  Source *src;
  Arena arena;
  DiagList diags;
  Token toks[MAX_TOKENS];
  int n; /* tokens before EOF */
  bool open_at_eof;
} Lexed;

static Lexed *lex_all(const char *text) {
  Lexed *L = calloc(1, sizeof *L);
  L->src = source_new("test.ns", text, strlen(text));
  arena_init(&L->arena);
  diag_init(&L->diags);
  Lexer lx;
  lexer_init(&lx, L->src, 0, (uint32_t)L->src->len, &L->arena, &L->diags);
  for (;;) {
    Token t = lexer_next(&lx);
    if (t.kind == TOK_EOF || L->n == MAX_TOKENS) break;
    L->toks[L->n++] = t;
  }
  L->open_at_eof = lx.open_at_eof;
  return L;
}

static void lexed_free(Lexed *L) {
  diag_free(&L->diags);
  arena_free(&L->arena);
  source_free(L->src);
  free(L);
}

static const char *tok_text(Lexed *L, int i) {
  static char buf[256];
  Span s = L->toks[i].span;
  snprintf(buf, sizeof buf, "%.*s", (int)(s.end - s.start), L->src->text + s.start);
  return buf;
}

/* The kinds of text's tokens are exactly the TOK_EOF-terminated list. */
static void expect_kinds_at(const char *file, int line, const char *text, ...) {
  Lexed *L = lex_all(text);
  va_list ap;
  va_start(ap, text);
  int i = 0;
  for (;; i++) {
    TokenKind k = va_arg(ap, TokenKind);
    checks++;
    TokenKind got = i < L->n ? L->toks[i].kind : TOK_EOF;
    if (got != k) {
      failures++;
      fprintf(stderr, "%s:%d: lexing `%s`: token %d is %s `%s`, expected %s\n", file, line, text,
              i, ns_token_names[got], i < L->n ? tok_text(L, i) : "", ns_token_names[k]);
      break;
    }
    if (k == TOK_EOF) break;
  }
  va_end(ap);
  lexed_free(L);
}
#define expect_kinds(...) expect_kinds_at(__FILE__, __LINE__, __VA_ARGS__)

/* text lexes to one token of kind k (and EOF); returns it for more checks.
 * The Lexed stays alive until the next call. */
static Lexed *last;
static Token one_at(const char *file, int line, const char *text, TokenKind k) {
  if (last) lexed_free(last);
  last = lex_all(text);
  checks++;
  if (last->n != 1 || last->toks[0].kind != k) {
    failures++;
    fprintf(stderr, "%s:%d: lexing `%s`: expected one %s, got %d token(s), first %s\n", file,
            line, text, ns_token_names[k], last->n,
            last->n ? ns_token_names[last->toks[0].kind] : "EOF");
    Token none;
    memset(&none, 0, sizeof none);
    return none;
  }
  return last->toks[0];
}
#define one(text, k) one_at(__FILE__, __LINE__, text, k)

/* The first diagnostic's message for text, or "" if none. */
static char first_msg[512];
static const char *first_error(const char *text) {
  Lexed *L = lex_all(text);
  snprintf(first_msg, sizeof first_msg, "%s", L->diags.head ? L->diags.head->message : "");
  lexed_free(L);
  return first_msg;
}

/* ---- tests ---- */

static void test_keywords_and_names(void) {
  expect_kinds("fn let mut const static struct enum impl trait type mod use import pub",
               TOK_KW_FN, TOK_KW_LET, TOK_KW_MUT, TOK_KW_CONST, TOK_KW_STATIC, TOK_KW_STRUCT,
               TOK_KW_ENUM, TOK_KW_IMPL, TOK_KW_TRAIT, TOK_KW_TYPE, TOK_KW_MOD, TOK_KW_USE,
               TOK_KW_IMPORT, TOK_KW_PUB, TOK_EOF);
  expect_kinds("if else match for in while loop break continue return true false",
               TOK_KW_IF, TOK_KW_ELSE, TOK_KW_MATCH, TOK_KW_FOR, TOK_KW_IN, TOK_KW_WHILE,
               TOK_KW_LOOP, TOK_KW_BREAK, TOK_KW_CONTINUE, TOK_KW_RETURN, TOK_KW_TRUE,
               TOK_KW_FALSE, TOK_EOF);
  expect_kinds("self Self as where async await unsafe extern actor no_grad", TOK_KW_SELF,
               TOK_KW_SELF_TYPE, TOK_KW_AS, TOK_KW_WHERE, TOK_KW_ASYNC, TOK_KW_AWAIT,
               TOK_KW_UNSAFE, TOK_KW_EXTERN, TOK_KW_ACTOR, TOK_KW_NO_GRAD, TOK_EOF);
  /* Keyword prefixes and longer names are identifiers. */
  expect_kinds("fnx iff selfie _ _x __ x_1 no_grads", TOK_IDENT, TOK_IDENT, TOK_IDENT,
               TOK_UNDERSCORE, TOK_IDENT, TOK_IDENT, TOK_IDENT, TOK_IDENT, TOK_EOF);

  Token t = one("θ₁", TOK_IDENT);
  CHECK_STR(t.str, "θ₁");
  CHECK(t.len == strlen("θ₁"));
  CHECK_STR(one("Δt", TOK_IDENT).str, "Δt");
  CHECK_STR(one("x′", TOK_IDENT).str, "x′");
  CHECK_STR(one("x‴", TOK_IDENT).str, "x‴");
  CHECK_STR(one("πr", TOK_IDENT).str, "πr");
  CHECK_STR(one("ℯ", TOK_IDENT).str, "ℯ");
  CHECK_STR(one("ℓ₂", TOK_IDENT).str, "ℓ₂");
  CHECK_STR(one("wₜ", TOK_IDENT).str, "wₜ");
  CHECK_STR(one("über", TOK_IDENT).str, "über");
  CHECK_STR(one("ĉapelo", TOK_IDENT).str, "ĉapelo");
  CHECK_STR(one("скорость", TOK_IDENT).str, "скорость");
  CHECK_STR(one("λσ", TOK_IDENT).str, "λσ");
  /* × and ÷ are operators even next to Latin-1 letters. */
  expect_kinds("a×b÷c", TOK_IDENT, TOK_STAR, TOK_IDENT, TOK_SLASH, TOK_IDENT, TOK_EOF);
  /* Subscripts and primes do not start a name. */
  expect_kinds("₁", TOK_ERROR, TOK_EOF);
}

static void test_macros(void) {
  expect_kinds("println!", TOK_IDENT, TOK_BANG, TOK_EOF); /* no bracket: not a macro */
  expect_kinds("println!(x)", TOK_MACRO, TOK_LPAREN, TOK_IDENT, TOK_RPAREN, TOK_EOF);
  expect_kinds("vec![1]", TOK_MACRO, TOK_LBRACKET, TOK_INT, TOK_RBRACKET, TOK_EOF);
  expect_kinds("tensor! {}", TOK_MACRO, TOK_LBRACE, TOK_RBRACE, TOK_EOF);
  expect_kinds("x != y", TOK_IDENT, TOK_NE, TOK_IDENT, TOK_EOF);
  expect_kinds("x!=y", TOK_IDENT, TOK_NE, TOK_IDENT, TOK_EOF);
  expect_kinds("!x", TOK_BANG, TOK_IDENT, TOK_EOF);
  expect_kinds("x ! (y)", TOK_IDENT, TOK_BANG, TOK_LPAREN, TOK_IDENT, TOK_RPAREN, TOK_EOF);
  Lexed *L = lex_all("println!(\"hi\")");
  CHECK(L->toks[0].kind == TOK_MACRO);
  CHECK_STR(L->toks[0].str, "println");
  CHECK(L->toks[0].len == 7);
  CHECK(L->toks[0].span.start == 0 && L->toks[0].span.end == 8);
  lexed_free(L);
}

static void test_integers(void) {
  Token t = one("42", TOK_INT);
  CHECK(t.as.i == 42 && t.suffix == NULL);
  CHECK(one("1_000_000", TOK_INT).as.i == 1000000);
  CHECK(one("0xff", TOK_INT).as.i == 255);
  CHECK(one("0xDead_Beef", TOK_INT).as.i == 0xDEADBEEF);
  CHECK(one("0b1010", TOK_INT).as.i == 10);
  CHECK(one("0b_1111_0000", TOK_INT).as.i == 0xF0);
  CHECK(one("0o777", TOK_INT).as.i == 511);
  CHECK(one("007", TOK_INT).as.i == 7);
  CHECK(one("9223372036854775807", TOK_INT).as.i == INT64_MAX);
  CHECK(one("0x7fffffffffffffff", TOK_INT).as.i == INT64_MAX);

  static const char *const suffixes[] = {"i8",  "i16", "i32",   "i64", "i128", "isize", "u8",
                                         "u16", "u32", "u64",   "u128", "usize"};
  for (size_t i = 0; i < sizeof suffixes / sizeof *suffixes; i++) {
    char text[32];
    snprintf(text, sizeof text, "7%s", suffixes[i]);
    t = one(text, TOK_INT);
    CHECK(t.as.i == 7);
    CHECK_STR(t.suffix, suffixes[i]);
    snprintf(text, sizeof text, "7_%s", suffixes[i]);
    CHECK_STR(one(text, TOK_INT).suffix, suffixes[i]);
  }
  t = one("0xff_u8", TOK_INT);
  CHECK(t.as.i == 255);
  CHECK_STR(t.suffix, "u8");
  t = one("1_000i64", TOK_INT);
  CHECK(t.as.i == 1000);
  CHECK_STR(t.suffix, "i64");
  /* Trailing separators belong to the literal. */
  t = one("1_", TOK_INT);
  CHECK(t.as.i == 1 && t.span.end == 2);

  CHECK_STR(first_error("9223372036854775808"), "integer literal is too large");
  CHECK_STR(first_error("0xffffffffffffffff"), "integer literal is too large");
  CHECK_STR(first_error("99999999999999999999999"), "integer literal is too large");
  CHECK(one("9223372036854775808", TOK_ERROR).span.end == 19);
  CHECK_STR(first_error("0b102"), "invalid digit '2' in binary literal");
  CHECK_STR(first_error("0o78"), "invalid digit '8' in octal literal");
  CHECK_STR(first_error("0x"), "missing digits after '0x'");
  CHECK_STR(first_error("0b"), "missing digits after '0b'");
  /* A name right after decimal digits is the next token (2π is 2·π to the
   * parser), unless it reads as part of the literal. */
  expect_kinds("2x", TOK_INT, TOK_IDENT, TOK_EOF);
  expect_kinds("3abc", TOK_INT, TOK_IDENT, TOK_EOF);
  expect_kinds("2.5π(", TOK_FLOAT, TOK_IDENT, TOK_LPAREN, TOK_EOF);
  expect_kinds("2(", TOK_INT, TOK_LPAREN, TOK_EOF);
  CHECK_STR(first_error("2₀"), "invalid suffix '₀' for a number literal");
  CHECK_STR(first_error("1u7"), "ambiguous number literal '1u7'");
  CHECK_STR(first_error("2f32x"), "ambiguous number literal '2f32x'");
  CHECK_STR(first_error("2usizes"), "ambiguous number literal '2usizes'");
  CHECK_STR(first_error("0xffg"), "invalid suffix 'g' for a number literal");
  CHECK_STR(first_error("1e"), "ambiguous number literal '1e'");
  CHECK_STR(first_error("2exp"), "ambiguous number literal '2exp'");
  CHECK_STR(first_error("1.5E"), "ambiguous number literal '1.5E'");
  /* After an error the lexer goes on with the next token. */
  expect_kinds("2e + 1", TOK_ERROR, TOK_PLUS, TOK_INT, TOK_EOF);
}

static void test_floats(void) {
  CHECK(one("1.5", TOK_FLOAT).as.f == 1.5);
  CHECK(one("1e-3", TOK_FLOAT).as.f == 1e-3);
  CHECK(one("2.5e+10", TOK_FLOAT).as.f == 2.5e10);
  CHECK(one("1.5E3", TOK_FLOAT).as.f == 1500.0);
  CHECK(one("1_000.000_1", TOK_FLOAT).as.f == 1000.0001);
  CHECK(one("6.626e-34", TOK_FLOAT).as.f == 6.626e-34);
  CHECK(one("0.1", TOK_FLOAT).as.f == 0.1);
  Token t = one("2.5f32", TOK_FLOAT);
  CHECK(t.as.f == 2.5);
  CHECK_STR(t.suffix, "f32");
  CHECK_STR(one("1e3f64", TOK_FLOAT).suffix, "f64");
  CHECK_STR(one("1.0_f16", TOK_FLOAT).suffix, "f16");
  /* An integer with an f-suffix is a float. */
  t = one("2f32", TOK_FLOAT);
  CHECK(t.as.f == 2.0);
  CHECK_STR(t.suffix, "f32");
  t = one("1_f32", TOK_FLOAT);
  CHECK(t.as.f == 1.0);
  CHECK_STR(t.suffix, "f32");
  CHECK(one("100000000000000000000f64", TOK_FLOAT).as.f == 1e20);

  /* A '.' must be followed by a digit to make a float. */
  expect_kinds("0..10", TOK_INT, TOK_DOTDOT, TOK_INT, TOK_EOF);
  expect_kinds("1..=n", TOK_INT, TOK_DOTDOTEQ, TOK_IDENT, TOK_EOF);
  expect_kinds("1.max(2)", TOK_INT, TOK_DOT, TOK_IDENT, TOK_LPAREN, TOK_INT, TOK_RPAREN,
               TOK_EOF);
  expect_kinds("1.", TOK_INT, TOK_DOT, TOK_EOF);
  expect_kinds("1.5.abs()", TOK_FLOAT, TOK_DOT, TOK_IDENT, TOK_LPAREN, TOK_RPAREN, TOK_EOF);
  /* Tuple indices: after a '.', only a decimal integer. */
  expect_kinds("t.0.1", TOK_IDENT, TOK_DOT, TOK_INT, TOK_DOT, TOK_INT, TOK_EOF);
  Lexed *L = lex_all("t.0.1");
  CHECK(L->toks[2].as.i == 0 && L->toks[4].as.i == 1);
  CHECK(L->toks[2].span.start == 2 && L->toks[2].span.end == 3);
  lexed_free(L);
  expect_kinds("t.1e3", TOK_IDENT, TOK_DOT, TOK_INT, TOK_IDENT, TOK_EOF);

  CHECK_STR(first_error("1.5i32"), "invalid suffix 'i32' for a float literal");
  CHECK_STR(first_error("1e999"), "float literal is out of range for f64");

  /* Fractions and infinity. */
  static const struct { const char *text; double v; } fr[] = {
      {"½", 1.0 / 2}, {"⅓", 1.0 / 3}, {"⅔", 2.0 / 3}, {"¼", 1.0 / 4}, {"¾", 3.0 / 4},
      {"⅕", 1.0 / 5}, {"⅖", 2.0 / 5}, {"⅗", 3.0 / 5}, {"⅘", 4.0 / 5}, {"⅙", 1.0 / 6},
      {"⅚", 5.0 / 6}, {"⅐", 1.0 / 7}, {"⅛", 1.0 / 8}, {"⅜", 3.0 / 8}, {"⅝", 5.0 / 8},
      {"⅞", 7.0 / 8}, {"⅑", 1.0 / 9}, {"⅒", 1.0 / 10}};
  for (size_t i = 0; i < sizeof fr / sizeof *fr; i++) CHECK(one(fr[i].text, TOK_FLOAT).as.f == fr[i].v);
  t = one("∞", TOK_FLOAT);
  CHECK(isinf(t.as.f) && t.as.f > 0);
  expect_kinds("-∞", TOK_MINUS, TOK_FLOAT, TOK_EOF);
}

static void test_imaginary(void) {
  CHECK(one("2i", TOK_IMAG).as.f == 2.0);
  CHECK(one("2.8i", TOK_IMAG).as.f == 2.8);
  CHECK(one("1e3i", TOK_IMAG).as.f == 1000.0);
  expect_kinds("3.5+2.8i", TOK_FLOAT, TOK_PLUS, TOK_IMAG, TOK_EOF);
  expect_kinds("3 + 4i", TOK_INT, TOK_PLUS, TOK_IMAG, TOK_EOF);
  expect_kinds("2i*x", TOK_IMAG, TOK_STAR, TOK_IDENT, TOK_EOF);
  /* `i` followed by a name character is not the imaginary unit. */
  CHECK_STR(first_error("2in"), "ambiguous number literal '2in'");
  CHECK_STR(one("2i8", TOK_INT).suffix, "i8");
}

static void test_quantities(void) {
  static const struct { const char *text; double v; const char *unit; } q[] = {
      {"100.0_m", 100.0, "m"},          {"50_kg", 50.0, "kg"},
      {"9.8_m/s²", 9.8, "m/s²"},        {"6.626e-34_J⋅s", 6.626e-34, "J⋅s"},
      {"3_km", 3.0, "km"},              {"5_ms", 5.0, "ms"},
      {"1_kg*m/s^2", 1.0, "kg*m/s^2"},  {"2_m^-1", 2.0, "m^-1"},
      {"1_s⁻¹", 1.0, "s⁻¹"},            {"4_µs", 4.0, "µs"},
      {"4_μm", 4.0, "μm"},              {"10_Ω", 10.0, "Ω"},
      {"20_°C", 20.0, "°C"},            {"1.5_Å", 1.5, "Å"},
      {"1_N·m", 1.0, "N·m"},            {"1_000_m", 1000.0, "m"},
      {"7_in", 7.0, "in"},              {"2_ft", 2.0, "ft"},
  };
  for (size_t i = 0; i < sizeof q / sizeof *q; i++) {
    Token t = one(q[i].text, TOK_QUANTITY);
    CHECK(t.as.f == q[i].v);
    CHECK_STR(t.str, q[i].unit);
    CHECK(t.len == strlen(q[i].unit));
    CHECK(t.span.start == 0 && t.span.end == strlen(q[i].text));
  }
  /* A unit stops at a space, and a trailing operator is not part of it. */
  expect_kinds("5_m * 2", TOK_QUANTITY, TOK_STAR, TOK_INT, TOK_EOF);
  expect_kinds("5_m* 2", TOK_QUANTITY, TOK_STAR, TOK_INT, TOK_EOF);
  expect_kinds("5_m/2", TOK_QUANTITY, TOK_SLASH, TOK_INT, TOK_EOF);
  expect_kinds("5_m²", TOK_QUANTITY, TOK_EOF);
  expect_kinds("(5_m)²", TOK_LPAREN, TOK_QUANTITY, TOK_RPAREN, TOK_SUPERSCRIPT, TOK_EOF);
  expect_kinds("50.0_kg + x", TOK_QUANTITY, TOK_PLUS, TOK_IDENT, TOK_EOF);
  CHECK_STR(first_error("1_m2"), "invalid unit 'm2'");
  CHECK_STR(first_error("1_mθ"), "invalid unit 'mθ'");
  CHECK_STR(first_error("0xff_kg"), "invalid suffix 'kg' for a number literal");
}

static void test_strings(void) {
  Token t = one("\"hello\"", TOK_STRING);
  CHECK_STR(t.str, "hello");
  CHECK(t.len == 5 && !t.raw);
  CHECK(t.str_offset == 1 && t.str_end == 6);
  CHECK(t.span.start == 0 && t.span.end == 7);

  t = one("\"a\\nb\\t\\r\\0\\\\\\\"\\'\"", TOK_STRING);
  CHECK(t.len == 9);
  CHECK(memcmp(t.str, "a\nb\t\r\0\\\"'", 9) == 0);
  CHECK(t.str_offset == 1 && t.str_end == 17);
  CHECK_STR(one("\"\\x41\\x7e\"", TOK_STRING).str, "A~");
  CHECK_STR(one("\"\\u{3b8}\\u{1F600}\\u{41}\"", TOK_STRING).str, "θ😀A");
  CHECK_STR(one("\"θ = π\"", TOK_STRING).str, "θ = π");
  CHECK_STR(one("\"two\nlines\"", TOK_STRING).str, "two\nlines");
  CHECK_STR(one("\"one \\\n    line\"", TOK_STRING).str, "one line");
  CHECK_STR(one("\"{x:.2f} {{}}\"", TOK_STRING).str, "{x:.2f} {{}}");
  t = one("\"\"", TOK_STRING);
  CHECK(t.len == 0 && t.str && t.str[0] == '\0');

  /* Raw strings. */
  t = one("r\"a\\nb\"", TOK_STRING);
  CHECK_STR(t.str, "a\\nb");
  CHECK(t.raw && t.str_offset == 2 && t.str_end == 6 && t.span.end == 7);
  t = one("r#\"say \"hi\"\"#", TOK_STRING);
  CHECK_STR(t.str, "say \"hi\"");
  CHECK(t.raw && t.str_offset == 3 && t.span.end == 13);
  t = one("r##\"a\"#b\"##", TOK_STRING);
  CHECK_STR(t.str, "a\"#b");
  expect_kinds("r #", TOK_IDENT, TOK_HASH, TOK_EOF);
  expect_kinds("r#x", TOK_IDENT, TOK_HASH, TOK_IDENT, TOK_EOF);

  /* f-strings keep the raw body. */
  t = one("f\"Epoch {epoch}: loss = {loss:.4f}\\n\"", TOK_FSTRING);
  CHECK_STR(t.str, "Epoch {epoch}: loss = {loss:.4f}\\n");
  CHECK(t.str_offset == 2 && t.str_end == 2 + t.len);
  t = one("f\"{d[\"k\"]} {{x}}\"", TOK_FSTRING);
  CHECK_STR(t.str, "{d[\"k\"]} {{x}}");
  t = one("f\"{c == '\"'}\"", TOK_FSTRING);
  CHECK_STR(t.str, "{c == '\"'}");
  t = one("f\"a\\\"b\"", TOK_FSTRING);
  CHECK_STR(t.str, "a\\\"b");
  expect_kinds("f(x)", TOK_IDENT, TOK_LPAREN, TOK_IDENT, TOK_RPAREN, TOK_EOF);

  /* Errors. */
  CHECK_STR(first_error("\"abc"), "unterminated string literal");
  CHECK_STR(first_error("r#\"abc\""), "unterminated raw string");
  CHECK_STR(first_error("f\"{x\""), "unterminated f-string");
  CHECK_STR(first_error("\"a\\qb\""), "unknown escape sequence '\\q'");
  CHECK_STR(first_error("\"\\x4\""), "\\x must be followed by two hex digits");
  CHECK_STR(first_error("\"\\xff\""), "\\x escape is above \\x7F");
  CHECK_STR(first_error("\"\\u{}\""), "malformed \\u escape");
  CHECK_STR(first_error("\"\\u3b8\""), "\\u must be followed by {hex digits}");
  CHECK_STR(first_error("\"\\u{110000}\""), "\\u{110000} is not a valid code point");
  CHECK_STR(first_error("\"\\u{D800}\""), "\\u{D800} is not a valid code point");
  CHECK_STR(first_error("\"a\xff\""), "invalid UTF-8 byte 0xFF");
  CHECK_STR(first_error("r\"a\xc3\""), "invalid UTF-8 byte 0xC3");
  /* A bad escape still yields the string, so parsing goes on. */
  t = one("\"a\\qb\"", TOK_STRING);
  CHECK_STR(t.str, "ab");

  /* An unterminated string is reported at its quote and eats the rest. */
  Lexed *L = lex_all("x = \"abc\ny");
  CHECK(L->n == 3 && L->toks[2].kind == TOK_ERROR);
  CHECK(L->toks[2].span.start == 4 && L->toks[2].span.end == 10);
  CHECK(L->diags.head && L->diags.head->span.start == 4 && L->diags.head->span.end == 5);
  CHECK(L->open_at_eof);
  lexed_free(L);
  L = lex_all("x = \"abc\"");
  CHECK(!L->open_at_eof);
  lexed_free(L);
}

static void test_chars_and_labels(void) {
  CHECK(one("'a'", TOK_CHAR).as.i == 'a');
  CHECK(one("'\\n'", TOK_CHAR).as.i == '\n');
  CHECK(one("'\\''", TOK_CHAR).as.i == '\'');
  CHECK(one("'\"'", TOK_CHAR).as.i == '"');
  CHECK(one("'\\u{3b8}'", TOK_CHAR).as.i == 0x3B8);
  CHECK(one("'θ'", TOK_CHAR).as.i == 0x3B8);
  CHECK(one("'😀'", TOK_CHAR).as.i == 0x1F600);
  CHECK(one("' '", TOK_CHAR).as.i == ' ');
  CHECK(one("'1'", TOK_CHAR).as.i == '1');
  CHECK(one("'_'", TOK_CHAR).as.i == '_');
  Token t = one("'outer", TOK_LABEL);
  CHECK_STR(t.str, "outer");
  CHECK(t.len == 5 && t.span.start == 0 && t.span.end == 6);
  expect_kinds("'outer: loop { break 'outer }", TOK_LABEL, TOK_COLON, TOK_KW_LOOP, TOK_LBRACE,
               TOK_KW_BREAK, TOK_LABEL, TOK_RBRACE, TOK_EOF);
  expect_kinds("'a: loop", TOK_LABEL, TOK_COLON, TOK_KW_LOOP, TOK_EOF);

  CHECK_STR(first_error("'ab'"), "character literal holds more than one character");
  CHECK_STR(first_error("'12'"), "character literal holds more than one character");
  CHECK_STR(first_error("''"), "empty character literal");
  CHECK_STR(first_error("'"), "unterminated character literal");
  CHECK_STR(first_error("'1"), "unterminated character literal");
  CHECK_STR(first_error("'\\q'"), "unknown escape sequence '\\q'");
  expect_kinds("'ab' x", TOK_ERROR, TOK_IDENT, TOK_EOF);
  expect_kinds("'\\q' x", TOK_ERROR, TOK_IDENT, TOK_EOF);
}

static void test_superscripts(void) {
  CHECK(one("²", TOK_SUPERSCRIPT).as.i == 2);
  CHECK(one("³", TOK_SUPERSCRIPT).as.i == 3);
  CHECK(one("¹⁰", TOK_SUPERSCRIPT).as.i == 10);
  CHECK(one("⁰", TOK_SUPERSCRIPT).as.i == 0);
  CHECK(one("⁴⁵⁶⁷⁸⁹", TOK_SUPERSCRIPT).as.i == 456789);
  CHECK(one("⁻¹", TOK_SUPERSCRIPT).as.i == -1);
  CHECK(one("⁻²³", TOK_SUPERSCRIPT).as.i == -23);
  expect_kinds("x²", TOK_IDENT, TOK_SUPERSCRIPT, TOK_EOF);
  expect_kinds("x⁻¹ + z³", TOK_IDENT, TOK_SUPERSCRIPT, TOK_PLUS, TOK_IDENT, TOK_SUPERSCRIPT,
               TOK_EOF);
  expect_kinds("2²", TOK_INT, TOK_SUPERSCRIPT, TOK_EOF);
  expect_kinds("⁻", TOK_ERROR, TOK_EOF);
  CHECK_STR(first_error("¹²³⁴⁵⁶⁷⁸⁹¹²³⁴⁵⁶⁷⁸⁹¹²³"), "superscript exponent is too large");
}

static void test_punctuation(void) {
  expect_kinds("( ) [ ] { } , ; : :: . .. ..= -> => # @ ? _", TOK_LPAREN, TOK_RPAREN,
               TOK_LBRACKET, TOK_RBRACKET, TOK_LBRACE, TOK_RBRACE, TOK_COMMA, TOK_SEMI,
               TOK_COLON, TOK_COLONCOLON, TOK_DOT, TOK_DOTDOT, TOK_DOTDOTEQ, TOK_ARROW,
               TOK_FATARROW, TOK_HASH, TOK_AT, TOK_QUESTION, TOK_UNDERSCORE, TOK_EOF);
  expect_kinds("= + - * / % ** ^ & | << >> !", TOK_EQ, TOK_PLUS, TOK_MINUS, TOK_STAR, TOK_SLASH,
               TOK_PERCENT, TOK_STARSTAR, TOK_CARET, TOK_AMP, TOK_PIPE, TOK_SHL, TOK_SHR,
               TOK_BANG, TOK_EOF);
  expect_kinds("&& || == != < > <= >= += -= *= /= %=", TOK_ANDAND, TOK_OROR, TOK_EQEQ, TOK_NE,
               TOK_LT, TOK_GT, TOK_LE, TOK_GE, TOK_PLUSEQ, TOK_MINUSEQ, TOK_STAREQ, TOK_SLASHEQ,
               TOK_PERCENTEQ, TOK_EOF);
  expect_kinds("× ÷ ×= ÷= ⊙ ⊗ ⋅ · ∇ ∂ √ ∛ ∑ ∏ ∫", TOK_STAR, TOK_SLASH, TOK_STAREQ,
               TOK_SLASHEQ, TOK_MATMUL, TOK_OUTER, TOK_DOTPROD, TOK_DOTPROD, TOK_NABLA,
               TOK_PARTIAL, TOK_SQRT, TOK_CBRT, TOK_SUM, TOK_PROD, TOK_INTEGRAL, TOK_EOF);
  expect_kinds("≤ ≥ ≠ ≡ ≈ ∧ ∨ ¬ ∈ ∉ →", TOK_LE, TOK_GE, TOK_NE, TOK_EQEQ, TOK_APPROX,
               TOK_ANDAND, TOK_OROR, TOK_BANG, TOK_ELEM_OF, TOK_NOT_ELEM_OF, TOK_ARROW, TOK_EOF);
  /* Longest match, no spaces. */
  expect_kinds("a**-b", TOK_IDENT, TOK_STARSTAR, TOK_MINUS, TOK_IDENT, TOK_EOF);
  expect_kinds("x->y=>z", TOK_IDENT, TOK_ARROW, TOK_IDENT, TOK_FATARROW, TOK_IDENT, TOK_EOF);
  expect_kinds("a::<b>>c", TOK_IDENT, TOK_COLONCOLON, TOK_LT, TOK_IDENT, TOK_SHR, TOK_IDENT,
               TOK_EOF);
  expect_kinds("...", TOK_DOTDOT, TOK_DOT, TOK_EOF);
  expect_kinds("@differentiable", TOK_AT, TOK_IDENT, TOK_EOF);
  expect_kinds("a@b", TOK_IDENT, TOK_AT, TOK_IDENT, TOK_EOF);
  expect_kinds("#[autodiff(forward)]", TOK_HASH, TOK_LBRACKET, TOK_IDENT, TOK_LPAREN, TOK_IDENT,
               TOK_RPAREN, TOK_RBRACKET, TOK_EOF);
  expect_kinds("√x ∇loss", TOK_SQRT, TOK_IDENT, TOK_NABLA, TOK_IDENT, TOK_EOF);
  expect_kinds("|x| x * 2", TOK_PIPE, TOK_IDENT, TOK_PIPE, TOK_IDENT, TOK_STAR, TOK_INT, TOK_EOF);
}

static void test_comments_and_newlines(void) {
  Lexed *L = lex_all("a // comment\nb /// doc\n/* x\n y */ c /* d */ e\n\n  f");
  CHECK(L->n == 5);
  CHECK(!L->toks[0].nl_before);
  CHECK(L->toks[1].nl_before);  /* b */
  CHECK(L->toks[2].nl_before);  /* c: newline before and inside the comment */
  CHECK(!L->toks[3].nl_before); /* e */
  CHECK(L->toks[4].nl_before);  /* f */
  lexed_free(L);

  L = lex_all("a /* one\ntwo */ b");
  CHECK(L->n == 2 && L->toks[1].nl_before);
  lexed_free(L);

  expect_kinds("/* a /* nested */ still comment */ x", TOK_IDENT, TOK_EOF);
  expect_kinds("x /* never closed", TOK_IDENT, TOK_ERROR, TOK_EOF);
  CHECK_STR(first_error("/* a /* b */"), "unterminated block comment");
  L = lex_all("x /* never closed");
  CHECK(L->diags.head && L->diags.head->span.start == 2 && L->diags.head->span.end == 4);
  CHECK(L->open_at_eof);
  lexed_free(L);
  expect_kinds("a // only a comment", TOK_IDENT, TOK_EOF);
  expect_kinds("a/b", TOK_IDENT, TOK_SLASH, TOK_IDENT, TOK_EOF);
  expect_kinds("// bytes \xff\xfe are fine in comments\nx", TOK_IDENT, TOK_EOF);

  /* The shebang line and a byte-order mark are skipped at the start. */
  L = lex_all("#!/usr/bin/env nsc\nfn main");
  CHECK(L->n == 2 && L->toks[0].kind == TOK_KW_FN && L->toks[0].span.start == 19);
  lexed_free(L);
  expect_kinds("\xEF\xBB\xBFx", TOK_IDENT, TOK_EOF);
  expect_kinds("#![attr]", TOK_HASH, TOK_BANG, TOK_LBRACKET, TOK_IDENT, TOK_RBRACKET, TOK_EOF);
  expect_kinds("x\r\ny", TOK_IDENT, TOK_IDENT, TOK_EOF);
}

static void test_spans(void) {
  Lexed *L = lex_all("let θ = 9.8_m/s² ⊙ x;");
  /* Byte offsets: θ is 2 bytes, ² and ⊙ are 2 and 3. */
  static const struct { TokenKind k; uint32_t s, e; } want[] = {
      {TOK_KW_LET, 0, 3},    {TOK_IDENT, 4, 6},  {TOK_EQ, 7, 8}, {TOK_QUANTITY, 9, 18},
      {TOK_MATMUL, 19, 22}, {TOK_IDENT, 23, 24}, {TOK_SEMI, 24, 25}};
  CHECK(L->n == 7);
  for (int i = 0; i < 7 && i < L->n; i++) {
    CHECK(L->toks[i].kind == want[i].k);
    CHECK(L->toks[i].span.start == want[i].s && L->toks[i].span.end == want[i].e);
  }
  lexed_free(L);
}

static void test_errors(void) {
  CHECK_STR(first_error("a ~ b"), "unexpected character '~' (U+007E)");
  CHECK_STR(first_error("$"), "unexpected character '$' (U+0024)");
  CHECK_STR(first_error("a \xe2\x80\x9c" "b"), "unexpected character '\xe2\x80\x9c' (U+201C)");
  CHECK_STR(first_error("a\xc2\xa0" "b"), "unexpected character U+00A0");
  CHECK_STR(first_error("\x01"), "unexpected character U+0001");
  CHECK_STR(first_error("\xff"), "invalid UTF-8 byte 0xFF");
  CHECK_STR(first_error("\xc3("), "invalid UTF-8 byte 0xC3");
  CHECK_STR(first_error("\xed\xa0\x80"), "invalid UTF-8 byte 0xED"); /* a surrogate */
  CHECK_STR(first_error("\xc0\x80"), "invalid UTF-8 byte 0xC0");     /* overlong */

  /* Each bad byte is one error; lexing continues after it. */
  Lexed *L = lex_all("a \xff\xfe b");
  CHECK(L->n == 4 && L->toks[1].kind == TOK_ERROR && L->toks[2].kind == TOK_ERROR);
  CHECK(L->toks[1].span.start == 2 && L->toks[1].span.end == 3);
  CHECK(L->toks[3].kind == TOK_IDENT);
  CHECK(L->diags.nerrors == 2);
  lexed_free(L);

  /* An unknown character is skipped whole. */
  L = lex_all("a € b");
  CHECK(L->n == 3 && L->toks[1].kind == TOK_ERROR && L->toks[1].span.end - L->toks[1].span.start == 3);
  lexed_free(L);

  /* An embedded NUL is a character, not the end. */
  Source *src = source_new("nul.ns", "a\0b", 3);
  Arena a;
  arena_init(&a);
  DiagList dl;
  diag_init(&dl);
  Lexer lx;
  lexer_init(&lx, src, 0, 3, &a, &dl);
  CHECK(lexer_next(&lx).kind == TOK_IDENT);
  CHECK(lexer_next(&lx).kind == TOK_ERROR);
  CHECK(lexer_next(&lx).kind == TOK_IDENT);
  CHECK(lexer_next(&lx).kind == TOK_EOF);
  CHECK(dl.nerrors == 1);
  diag_free(&dl);
  arena_free(&a);
  source_free(src);

  /* Past the error limit, a hint never lands on an earlier diagnostic. */
  src = source_new("lim.ns", "2ex 3ey", 7);
  arena_init(&a);
  diag_init(&dl);
  dl.max_errors = 1;
  lexer_init(&lx, src, 0, 7, &a, &dl);
  while (lexer_next(&lx).kind != TOK_EOF) {}
  CHECK(dl.nerrors == 2 && dl.head && dl.head == dl.tail);
  CHECK(dl.head && strstr(dl.head->hint, "2 * ex") != NULL);
  diag_free(&dl);
  arena_free(&a);
  source_free(src);

  /* EOF repeats; a lexer without a DiagList still works. */
  src = source_new("e.ns", "x ~", 3);
  arena_init(&a);
  lexer_init(&lx, src, 0, 3, &a, NULL);
  CHECK(lexer_next(&lx).kind == TOK_IDENT);
  CHECK(lexer_next(&lx).kind == TOK_ERROR);
  for (int i = 0; i < 3; i++) {
    Token t = lexer_next(&lx);
    CHECK(t.kind == TOK_EOF && t.span.start == 3 && t.span.end == 3);
  }
  arena_free(&a);
  source_free(src);
}

/* Sub-range lexing, as the parser does for f-string holes: the lexer must
 * stop at the end of the range even mid-token, and spans stay absolute. */
static void test_subrange(void) {
  const char *text = "f\"{a.b + 12}{1.5}{x\"y\"}\" 123";
  Source *src = source_new("sub.ns", text, strlen(text));
  Arena a;
  arena_init(&a);
  DiagList dl;
  diag_init(&dl);
  Lexer lx;
  lexer_init(&lx, src, 3, 11, &a, &dl); /* "a.b + 12" */
  TokenKind want[] = {TOK_IDENT, TOK_DOT, TOK_IDENT, TOK_PLUS, TOK_INT, TOK_EOF};
  uint32_t starts[] = {3, 4, 5, 7, 9, 11};
  for (int i = 0; i < 6; i++) {
    Token t = lexer_next(&lx);
    CHECK(t.kind == want[i]);
    CHECK(t.span.start == starts[i]);
    if (t.kind == TOK_INT) CHECK(t.as.i == 12 && t.span.end == 11);
  }
  lexer_init(&lx, src, 3, 10, &a, &dl); /* "a.b + 1": the range cuts "12" */
  for (int i = 0; i < 4; i++) lexer_next(&lx);
  Token t = lexer_next(&lx);
  CHECK(t.kind == TOK_INT && t.as.i == 1 && t.span.end == 10);
  CHECK(lexer_next(&lx).kind == TOK_EOF);

  lexer_init(&lx, src, 13, 15, &a, &dl); /* "1." of "1.5": not a float */
  CHECK(lexer_next(&lx).kind == TOK_INT);
  CHECK(lexer_next(&lx).kind == TOK_DOT);
  CHECK(lexer_next(&lx).kind == TOK_EOF);

  lexer_init(&lx, src, 18, 22, &a, &dl); /* x"y" */
  CHECK(lexer_next(&lx).kind == TOK_IDENT);
  t = lexer_next(&lx);
  CHECK(t.kind == TOK_STRING && t.span.start == 19 && t.span.end == 22);
  CHECK_STR(t.str, "y");
  CHECK(lexer_next(&lx).kind == TOK_EOF);

  lexer_init(&lx, src, 18, 21, &a, &dl); /* x"y : the range ends inside a string */
  CHECK(lexer_next(&lx).kind == TOK_IDENT);
  CHECK(lexer_next(&lx).kind == TOK_ERROR);
  CHECK(lexer_next(&lx).kind == TOK_EOF);
  CHECK(dl.nerrors == 1);

  lexer_init(&lx, src, (uint32_t)strlen(text) - 3, (uint32_t)strlen(text) - 1, &a, &dl);
  t = lexer_next(&lx); /* "12" of "123" */
  CHECK(t.kind == TOK_INT && t.as.i == 12);
  /* Not at the start of the source: no shebang skipping. */
  source_free(src);
  src = source_new("sb.ns", "x #!y", 5);
  lexer_init(&lx, src, 2, 5, &a, &dl);
  CHECK(lexer_next(&lx).kind == TOK_HASH);
  diag_free(&dl);
  arena_free(&a);
  source_free(src);
}

static void test_unescape(void) {
  const char *text = "f\"a\\tb {{c}} \\u{3b8}\"";
  Source *src = source_new("u.ns", text, strlen(text));
  Arena a;
  arena_init(&a);
  DiagList dl;
  diag_init(&dl);
  uint32_t len = 0;
  char *s = lexer_unescape(src, 2, (uint32_t)strlen(text) - 1, &a, &dl, &len);
  CHECK_STR(s, "a\tb {{c}} θ");
  CHECK(len == strlen("a\tb {{c}} θ"));
  CHECK(dl.nerrors == 0);
  s = lexer_unescape(src, 3, 5, &a, &dl, &len); /* "\\t" */
  CHECK_STR(s, "\t");
  s = lexer_unescape(src, 3, 4, &a, &dl, &len); /* a lone backslash */
  CHECK(dl.nerrors == 1);
  CHECK(dl.head && dl.head->span.start == 3);
  diag_free(&dl);
  arena_free(&a);
  source_free(src);
}

static void test_token_names(void) {
  CHECK_STR(ns_token_names[TOK_EOF], "end of file");
  CHECK_STR(ns_token_names[TOK_IDENT], "identifier");
  CHECK_STR(ns_token_names[TOK_KW_NO_GRAD], "'no_grad'");
  CHECK_STR(ns_token_names[TOK_INTEGRAL], "'∫'");
  for (int i = 0; i < TOK__COUNT; i++) CHECK(ns_token_names[i] && ns_token_names[i][0]);
}

/* ---- sources and diagnostics ---- */

static char *print_to_string(const DiagList *dl, bool color) {
  FILE *f = tmpfile();
  diag_print_all(f, dl, color);
  long n = ftell(f);
  rewind(f);
  char *buf = calloc(1, (size_t)n + 1);
  size_t got = fread(buf, 1, (size_t)n, f);
  buf[got] = '\0';
  fclose(f);
  return buf;
}

static void test_source_positions(void) {
  const char *text = "ab\nθx = 1\r\n\nlast";
  Source *src = source_new("p.ns", text, strlen(text));
  int line, col;
  source_position(src, 0, &line, &col);
  CHECK(line == 1 && col == 1);
  source_position(src, 2, &line, &col); /* the newline */
  CHECK(line == 1 && col == 3);
  source_position(src, 3, &line, &col); /* θ */
  CHECK(line == 2 && col == 1);
  source_position(src, 5, &line, &col); /* x, after 2-byte θ */
  CHECK(line == 2 && col == 2);
  source_position(src, (uint32_t)strlen(text), &line, &col);
  CHECK(line == 4 && col == 5);
  size_t len;
  const char *l2 = source_line(src, 2, &len);
  CHECK(len == strlen("θx = 1") && memcmp(l2, "θx = 1", len) == 0); /* no \r */
  source_line(src, 3, &len);
  CHECK(len == 0);
  const char *l4 = source_line(src, 4, &len);
  CHECK(len == 4 && memcmp(l4, "last", 4) == 0);
  source_line(src, 5, &len);
  CHECK(len == 0);
  CHECK(src->nlines == 4);
  source_free(src);

  src = source_new("e.ns", "", 0);
  source_position(src, 0, &line, &col);
  CHECK(line == 1 && col == 1);
  source_free(src);
}

static void test_diag_print(void) {
  const char *text = "fn main() {\n    let x = foo(1, 2\n}\n";
  Source *src = source_new("demo.ns", text, strlen(text));
  DiagList dl;
  diag_init(&dl);
  Span s = {24, 27}; /* foo */
  Diag *d = diag_add(&dl, DIAG_ERROR, src, s, "cannot find `%s`", "foo");
  diag_hint(d, "did you mean `%s`?", "for");
  Span w = {0, 2};
  diag_add(&dl, DIAG_WARNING, src, w, "unused");
  Span n = {31, 31};
  diag_add(&dl, DIAG_NOTE, src, n, "opened here");
  CHECK(dl.nerrors == 1);
  char *out = print_to_string(&dl, false);
  CHECK_STR(out,
            "demo.ns:2:13: error: cannot find `foo`\n"
            "    2 |     let x = foo(1, 2\n"
            "      |             ^~~\n"
            "hint: did you mean `for`?\n"
            "demo.ns:1:1: warning: unused\n"
            "    1 | fn main() {\n"
            "      | ^~\n"
            "demo.ns:2:20: note: opened here\n"
            "    2 |     let x = foo(1, 2\n"
            "      |                    ^\n");
  free(out);
  out = print_to_string(&dl, true);
  CHECK(strstr(out, "\x1b[") != NULL && strstr(out, "cannot find `foo`") != NULL);
  free(out);
  diag_free(&dl);
  source_free(src);

  /* Code-point columns, tabs, a span running past the end of its line. */
  text = "\tσ = \"abc\n";
  src = source_new("t.ns", text, strlen(text));
  diag_init(&dl);
  Span u = {6, 11}; /* from the quote to the end of the input */
  diag_add(&dl, DIAG_ERROR, src, u, "unterminated string literal");
  out = print_to_string(&dl, false);
  CHECK_STR(out,
            "t.ns:1:6: error: unterminated string literal\n"
            "    1 |     σ = \"abc\n"
            "      |         ^~~~\n");
  free(out);
  diag_free(&dl);
  source_free(src);

  /* The error limit: later errors are counted, not kept. */
  src = source_new("m.ns", "x", 1);
  diag_init(&dl);
  dl.max_errors = 2;
  Span z = {0, 1};
  for (int i = 0; i < 5; i++) {
    Diag *e = diag_add(&dl, DIAG_ERROR, src, z, "e%d", i);
    diag_hint(e, "h");
    diag_add(&dl, DIAG_NOTE, src, z, "n%d", i);
  }
  CHECK(dl.nerrors == 5);
  int kept = 0;
  for (Diag *e = dl.head; e; e = e->next) kept++;
  CHECK(kept == 4);
  out = print_to_string(&dl, false);
  CHECK(strstr(out, "note: 3 more errors not shown\n") != NULL);
  free(out);
  diag_free(&dl);
  source_free(src);

  /* A diagnostic without a source. */
  diag_init(&dl);
  Span none = {0, 0};
  diag_add(&dl, DIAG_ERROR, NULL, none, "no input files");
  out = print_to_string(&dl, false);
  CHECK_STR(out, "error: no input files\n");
  free(out);
  diag_free(&dl);
}

static void test_lexer_diag_output(void) {
  Lexed *L = lex_all("let n = 99999999999999999999\n");
  char *out = print_to_string(&L->diags, false);
  CHECK_STR(out,
            "test.ns:1:9: error: integer literal is too large\n"
            "    1 | let n = 99999999999999999999\n"
            "      |         ^~~~~~~~~~~~~~~~~~~~\n"
            "hint: integers are 64-bit: the largest is 9223372036854775807; "
            "use a float (such as 1e19) for bigger numbers\n");
  free(out);
  lexed_free(L);
}

static void test_closest(void) {
  static const char *const names[] = {"length", "println", "weights", "θ₁", "x", NULL, "epochs"};
  int n = (int)(sizeof names / sizeof *names);
  CHECK_STR(diag_closest("lenght", names, n), "length");
  CHECK_STR(diag_closest("printn", names, n), "println");
  CHECK_STR(diag_closest("weight", names, n), "weights");
  CHECK_STR(diag_closest("epoch", names, n), "epochs");
  CHECK_STR(diag_closest("θ₂", names, n), "θ₁");
  CHECK_STR(diag_closest("y", names, n), "x");
  CHECK(diag_closest("banana", names, n) == NULL);
  CHECK(diag_closest("", names, n) == NULL);
  CHECK(diag_closest("x", names, 0) == NULL);
}

static void test_read_file(void) {
  char err[256] = "";
  Source *src = source_read_file("/nonexistent/dir/file.ns", err, sizeof err);
  CHECK(src == NULL);
  CHECK_STR(err, "cannot read '/nonexistent/dir/file.ns': No such file or directory");
  err[0] = '\0';
  src = source_read_file("/tmp", err, sizeof err);
  CHECK(src == NULL);
  CHECK_STR(err, "cannot read '/tmp': Is a directory");

  char path[] = "/tmp/ns_test_lexer_XXXXXX";
  FILE *f = NULL;
  int fd = mkstemp(path);
  if (fd >= 0) f = fdopen(fd, "wb");
  CHECK(f != NULL);
  if (!f) return;
  for (int i = 0; i < 3000; i++) fputs("let x = 1\n", f);
  fclose(f);
  src = source_read_file(path, err, sizeof err);
  CHECK(src && src->len == 30000 && src->text[30000] == '\0');
  CHECK(src && strcmp(src->path, path) == 0);
  int line, col;
  if (src) {
    source_position(src, 29999, &line, &col);
    CHECK(line == 3000 && col == 10);
  }
  source_free(src);
  remove(path);
}

static void test_arena(void) {
  Arena a;
  arena_init(&a);
  char *p = arena_alloc(&a, 10);
  CHECK(((uintptr_t)p & 15) == 0);
  bool zero = true;
  for (int i = 0; i < 10; i++) zero &= p[i] == 0;
  CHECK(zero);
  char *big = arena_alloc(&a, 1 << 20);
  CHECK(big && ((uintptr_t)big & 15) == 0 && big[(1 << 20) - 1] == 0);
  char *q = arena_alloc(&a, 3);
  CHECK(((uintptr_t)q & 15) == 0 && q != p);
  for (int i = 0; i < 100000; i++) {
    char *r = arena_alloc(&a, (size_t)(i % 100) + 1);
    if (((uintptr_t)r & 15) != 0) {
      CHECK(!"misaligned");
      break;
    }
  }
  CHECK_STR(arena_strndup(&a, "hello world", 5), "hello");
  CHECK_STR(arena_sprintf(&a, "%s=%d", "x", 42), "x=42");
  arena_free(&a);
  CHECK(a.head == NULL);
  arena_free(&a);
}

int main(void) {
  test_keywords_and_names();
  test_macros();
  test_integers();
  test_floats();
  test_imaginary();
  test_quantities();
  test_strings();
  test_chars_and_labels();
  test_superscripts();
  test_punctuation();
  test_comments_and_newlines();
  test_spans();
  test_errors();
  test_subrange();
  test_unescape();
  test_token_names();
  test_source_positions();
  test_diag_print();
  test_lexer_diag_output();
  test_closest();
  test_read_file();
  test_arena();
  if (last) lexed_free(last);
  if (failures) {
    fprintf(stderr, "test_lexer: %d of %d checks failed\n", failures, checks);
    return 1;
  }
  printf("test_lexer: all %d checks passed\n", checks);
  return 0;
}
