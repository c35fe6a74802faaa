/* The NeuralScript lexer. Generate with
 *     re2c --utf8 --input-encoding utf8 -W -o lexer.c lexer.re
 *
 * The DFAs read through a bounds-checked YYPEEK that yields the sentinel 0
 * at `limit`, so a sub-range of a source (an f-string hole the parser
 * re-lexes in place) scans exactly like a whole file, and every offset is
 * absolute. A NUL byte inside the range is not the end: re2c's eof check
 * (re2c:eof) compares the cursor with the limit when it reads a 0.
 *
 * The DFA recognises the shape of each token; the parts that need state or
 * values (nested comments, string bodies, number suffixes and units, char
 * vs label) are finished in C below. Lexical errors are reported to the
 * DiagList and returned as TOK_ERROR after skipping the bad bytes; a bad
 * escape in a string is reported but the STRING token is still returned. */
#include "lexer.h"

#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef unsigned char uchar;

const char *const ns_token_names[TOK__COUNT] = {
#define TOKEN(name, str) str,
    NS_TOKENS(TOKEN)
#undef TOKEN
};

/*!re2c
  re2c:api = custom;
  re2c:api:style = free-form;
  re2c:define:YYCTYPE = "uchar";
  re2c:define:YYPEEK = "(cur < lim ? *cur : 0)";
  re2c:define:YYSKIP = "++cur;";
  re2c:define:YYBACKUP = "mar = cur;";
  re2c:define:YYRESTORE = "cur = mar;";
  re2c:define:YYLESSTHAN = "(lim <= cur)";
  re2c:yyfill:enable = 0;
  re2c:eof = 0;

  // Any valid code point (surrogates are not, so they fall to `*`, the
  // invalid-byte rule).
  any = [\x00-\uD7FF\uE000-\U0010FFFF];

  // Identifiers: ASCII, Latin-1 letters (without × ÷), Latin Extended A/B,
  // Greek, Cyrillic, script e and l; then digits, subscripts and primes.
  id_start = [a-zA-Z_\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u024F\u0370-\u03FF\u0400-\u04FF\u212F\u2113];
  id_cont = id_start | [0-9\u2080-\u2089\u2090-\u209C\u2032-\u2034];
  ident = id_start id_cont*;

  // Number cores; suffixes, `i` and units are parsed in C.
  digits = [0-9] ("_"* [0-9])*;
  exponent = [eE] [+-]? digits;
  float = digits "." [0-9] ("_"* [0-9])* exponent? | digits exponent;

  // Superscript integers: x² x⁻¹
  sup_digit = [\u2070\u00B9\u00B2\u00B3\u2074-\u2079];
  superscript = "\u207B"? sup_digit+;

  // Units: atoms of letters with an optional power, joined without spaces.
  unit_letter = [a-zA-Z\u00B5\u03BC\u03A9\u2126\u00B0\u00C5\u212B];
  unit_atom = unit_letter+ (superscript | "^" "-"? [0-9]+)?;
  unit = unit_atom ([/*\u22C5\u00B7] unit_atom)*;

  type_suffix = [iu] ("8" | "16" | "32" | "64" | "128" | "size") | "f" ("16" | "32" | "64");
*/

/* ---- UTF-8 ---- */

/* Length of the strictly valid UTF-8 sequence at p (no overlongs, no
 * surrogates, at most U+10FFFF) with its code point in *cp, or 0. */
static int utf8_decode(const uchar *p, const uchar *lim, uint32_t *cp) {
  if (p >= lim) return 0;
  uint32_t c = p[0];
  if (c < 0x80) {
    *cp = c;
    return 1;
  }
  int n;
  uint32_t min;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2, min = 0x80, c &= 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3, min = 0x800, c &= 0x0F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4, min = 0x10000, c &= 0x07;
  } else {
    return 0;
  }
  if (lim - p < n) return 0;
  for (int i = 1; i < n; i++) {
    if ((p[i] & 0xC0) != 0x80) return 0;
    c = (c << 6) | (p[i] & 0x3F);
  }
  if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return 0;
  *cp = c;
  return n;
}

static int utf8_encode(uint32_t c, char *out) {
  if (c < 0x80) {
    out[0] = (char)c;
    return 1;
  }
  if (c < 0x800) {
    out[0] = (char)(0xC0 | (c >> 6));
    out[1] = (char)(0x80 | (c & 0x3F));
    return 2;
  }
  if (c < 0x10000) {
    out[0] = (char)(0xE0 | (c >> 12));
    out[1] = (char)(0x80 | ((c >> 6) & 0x3F));
    out[2] = (char)(0x80 | (c & 0x3F));
    return 3;
  }
  out[0] = (char)(0xF0 | (c >> 18));
  out[1] = (char)(0x80 | ((c >> 12) & 0x3F));
  out[2] = (char)(0x80 | ((c >> 6) & 0x3F));
  out[3] = (char)(0x80 | (c & 0x3F));
  return 4;
}

/* ---- small matchers sharing the definitions above ---- */

/* Byte length of an identifier-start character at cur, or 0. */
static int id_start_len(const uchar *cur, const uchar *lim) {
  const uchar *start = cur, *mar;
  /*!re2c
    id_start { return (int)(cur - start); }
    *        { return 0; }
    $        { return 0; }
  */
}

/* Byte length of an identifier-continue character at cur, or 0. */
static int id_cont_len(const uchar *cur, const uchar *lim) {
  const uchar *start = cur, *mar;
  /*!re2c
    id_cont { return (int)(cur - start); }
    *       { return 0; }
    $       { return 0; }
  */
}

/* End of the run of identifier-continue characters starting at p. */
static const uchar *id_cont_end(const uchar *p, const uchar *lim) {
  int n;
  while ((n = id_cont_len(p, lim)) > 0) p += n;
  return p;
}

/* Length of a type suffix (i32, f64, usize ...) at cur that is not the
 * start of a longer name, or 0. */
static int type_suffix_len(const uchar *cur, const uchar *lim) {
  const uchar *start = cur, *mar;
  /*!re2c
    type_suffix { return id_cont_len(cur, lim) ? 0 : (int)(cur - start); }
    *           { return 0; }
    $           { return 0; }
  */
}

/* End of the unit text at cur (m/s², kg*m/s^2, J⋅s), or NULL. */
static const uchar *unit_end(const uchar *cur, const uchar *lim) {
  const uchar *mar;
  /*!re2c
    unit { return cur; }
    *    { return NULL; }
    $    { return NULL; }
  */
}

/* Length of the valid UTF-8 sequence at p (1 for ASCII), or 0 if the byte
 * at p does not start one (bad lead, bad continuation, overlong form,
 * surrogate, beyond U+10FFFF, or cut off by lim). */
static int utf8_valid_len(const uchar *p, const uchar *lim) {
  uchar c = p[0];
  if (c < 0x80) return 1;
  int n;
  uchar lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) n = 2;
  else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (lim - p < n) return 0;
  if (p[1] < lo || p[1] > hi) return 0;
  for (int i = 2; i < n; i++)
    if (p[i] < 0x80 || p[i] > 0xBF) return 0;
  return n;
}

static void check_comment_utf8(Lexer *lx, const uchar *p, const uchar *e);

/* Skips the rest of a block comment whose opening was just consumed;
 * comments nest. Returns the position after the closing delimiter, or NULL
 * at the end of the input. */
static const uchar *skip_block_comment(Lexer *lx, const uchar *cur, const uchar *lim) {
  const uchar *mar, *run;
  int depth = 1;
  for (;;) {
    run = cur;
    /*!re2c
      "/" "*"          { depth++; continue; }
      "*" "/"          { if (--depth == 0) return cur; continue; }
      "\n"             { lx->saw_newline = true; continue; }
      [^\n/*\x00]+     { check_comment_utf8(lx, run, cur); continue; }
      $                { return NULL; }
      *                { continue; }
    */
  }
}

/* ---- tokens and errors ---- */

static Token make(Lexer *lx, TokenKind kind, const uchar *start, const uchar *end) {
  Token t;
  memset(&t, 0, sizeof t);
  const uchar *base = (const uchar *)lx->src->text;
  t.kind = kind;
  t.span.start = (uint32_t)(start - base);
  t.span.end = (uint32_t)(end - base);
  return t;
}

static Span span_of(Lexer *lx, const uchar *start, const uchar *end) {
  const uchar *base = (const uchar *)lx->src->text;
  Span s = {(uint32_t)(start - base), (uint32_t)(end - base)};
  return s;
}

static Diag *report(Lexer *lx, Span span, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static Diag *report(Lexer *lx, Span span, const char *fmt, ...) {
  if (!lx->diags) return NULL;
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return diag_add(lx->diags, DIAG_ERROR, lx->src, span, "%s", msg);
}

/* Comments are skipped, not lexed: check their bytes are UTF-8 so a file
 * with a bad byte anywhere is rejected. */
static void check_comment_utf8(Lexer *lx, const uchar *p, const uchar *e) {
  while (p < e) {
    if (*p < 0x80) {
      p++;
      continue;
    }
    int n = utf8_valid_len(p, e);
    if (n == 0) {
      report(lx, span_of(lx, p, p + 1), "invalid UTF-8 byte 0x%02X", *p);
      n = 1;
    }
    p += n;
  }
}

/* An error token covering [start, end); lexing resumes at end. */
static Token error_token(Lexer *lx, const uchar *start, const uchar *end) {
  lx->cur = (const char *)end;
  return make(lx, TOK_ERROR, start, end);
}

/* A string, char or comment cut off by the end of the input: reported at
 * its opening [start, open_end), and the rest of the input is consumed. */
static Token unterminated(Lexer *lx, const uchar *start, const uchar *open_end,
                          const char *what) {
  report(lx, span_of(lx, start, open_end), "unterminated %s", what);
  lx->open_at_eof = true;
  return error_token(lx, start, (const uchar *)lx->limit);
}

/* ---- numbers ---- */

/* Digits of [s, e) without '_' separators, as a C string for strtod (with
 * the locale's decimal point, as strtod wants). NULL if it needs more room
 * than buf has. */
static char *float_text(const uchar *s, const uchar *e, char *buf, size_t cap) {
  const char *dp = localeconv()->decimal_point;
  size_t dplen = dp && *dp ? strlen(dp) : 1;
  size_t need = (size_t)(e - s) * dplen + 1;
  if (need > cap) {
    buf = malloc(need);
    if (!buf) ns_oom(need);
  }
  char *o = buf;
  for (; s < e; s++) {
    if (*s == '_') continue;
    if (*s == '.' && dp && *dp) {
      memcpy(o, dp, dplen);
      o += dplen;
    } else {
      *o++ = (char)*s;
    }
  }
  *o = '\0';
  return buf;
}

static double parse_float(const uchar *s, const uchar *e) {
  char small[128];
  char *text = float_text(s, e, small, sizeof small);
  double v = strtod(text, NULL);
  if (text != small) free(text);
  return v;
}

static int digit_value(uchar c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return 99;
}

/* The integer in [s, e) (digits of `base` and '_'). Returns false after
 * reporting a bad digit or an overflow of int64. */
static bool parse_int(Lexer *lx, const uchar *tok, const uchar *tok_end, const uchar *s,
                      const uchar *e, int base, int64_t *out) {
  static const char *const base_name[17] = {[2] = "binary", [8] = "octal", [10] = "decimal",
                                            [16] = "hexadecimal"};
  uint64_t v = 0;
  bool any_digit = false, overflow = false;
  for (const uchar *p = s; p < e; p++) {
    if (*p == '_') continue;
    int d = digit_value(*p);
    if (d >= base) {
      report(lx, span_of(lx, p, p + 1), "invalid digit '%c' in %s literal", *p, base_name[base]);
      return false;
    }
    any_digit = true;
    if (v > (uint64_t)(INT64_MAX - d) / (uint64_t)base) overflow = true;
    v = v * (uint64_t)base + (uint64_t)d;
  }
  if (!any_digit) {
    report(lx, span_of(lx, tok, tok_end), "missing digits after '%.2s'", (const char *)tok);
    return false;
  }
  if (overflow) {
    Diag *d = report(lx, span_of(lx, tok, tok_end), "integer literal is too large");
    diag_hint(d, "integers are 64-bit: the largest is 9223372036854775807; "
                 "use a float (such as 1e19) for bigger numbers");
    return false;
  }
  *out = (int64_t)v;
  return true;
}

/* A name written right after the decimal digits [tok, p) (as in 2π) that
 * could be read as part of the literal: one starting with e/E (an exponent
 * without digits: 2e, 2exp(x)), with i (2i is imaginary: 2in), or with a type
 * suffix (2f32x, 2u8n). Reports it and returns true. */
static bool juxtaposed_name_is_ambiguous(Lexer *lx, const uchar *tok, const uchar *p,
                                         const uchar *e) {
  const char *why = NULL;
  if (*p == 'e' || *p == 'E') why = "an exponent needs digits, as in 2e5";
  else if (*p == 'i') why = "a number followed by `i` is imaginary, as in 2i";
  else if ((*p == 'u' || *p == 'f') && e - p > 1 && p[1] >= '0' && p[1] <= '9')
    why = "a type suffix follows a number, as in 2u8 or 2f32";
  else if (e - p >= 5 && !memcmp(p, "usize", 5))
    why = "a type suffix follows a number, as in 2usize";
  if (!why) return false;
  Diag *d = report(lx, span_of(lx, tok, e), "ambiguous number literal '%.*s'", (int)(e - tok),
                   (const char *)tok);
  diag_hint(d, "%s; for a product write `%.*s * %.*s` (or `%.*s × %.*s`)", why, (int)(p - tok),
            (const char *)tok, (int)(e - p), (const char *)p, (int)(p - tok), (const char *)tok,
            (int)(e - p), (const char *)p);
  return true;
}

/* Finishes a number literal whose digits the DFA matched in [tok, cur)
 * (base 16, 8, 2 include the 0x prefix). What may follow:
 *   a type suffix  1i64  2.5f32  1_u8   -> tok.suffix (an f-suffix makes an
 *                                          INT a FLOAT)
 *   `i`            2i  2.8i             -> IMAG
 *   `_` and a unit 100.0_m  9.8_m/s²    -> QUANTITY, str = unit text
 *   a name         2π  3x               -> the number alone (the parser
 *                                          multiplies it with the name)
 * After a '.', only decimal digits count: t.0.1 is t . 0 . 1. */
static Token number(Lexer *lx, const uchar *tok, const uchar *cur, int base, bool is_float) {
  const uchar *lim = (const uchar *)lx->limit;
  if (lx->prev == TOK_DOT) {
    cur = tok;
    while (cur < lim && *cur >= '0' && *cur <= '9') cur++;
    Token t = make(lx, TOK_INT, tok, cur);
    if (!parse_int(lx, tok, cur, tok, cur, 10, &t.as.i)) return error_token(lx, tok, cur);
    lx->cur = (const char *)cur;
    return t;
  }

  const uchar *digits_end = cur, *p = cur;
  while (p < lim && *p == '_') p++;
  TokenKind kind = is_float ? TOK_FLOAT : TOK_INT;
  const uchar *suffix = NULL, *unit = NULL;
  int n;
  if ((n = type_suffix_len(p, lim)) > 0) {
    suffix = p;
    cur = p + n;
    if (*suffix == 'f') {
      kind = TOK_FLOAT;
    } else if (is_float) {
      Diag *d = report(lx, span_of(lx, suffix, cur), "invalid suffix '%.*s' for a float literal",
                       n, (const char *)suffix);
      diag_hint(d, "float literals take f16, f32 or f64");
      return error_token(lx, tok, cur);
    }
  } else if (p > digits_end && base == 10 && (unit = unit_end(p, lim)) != NULL) {
    kind = TOK_QUANTITY;
    cur = unit;
    unit = p;
    if (id_cont_len(cur, lim)) {
      const uchar *e = id_cont_end(cur, lim);
      Diag *d = report(lx, span_of(lx, unit, e), "invalid unit '%.*s'", (int)(e - unit),
                       (const char *)unit);
      diag_hint(d, "write powers as m² or m^2, and join units with * or /");
      return error_token(lx, tok, e);
    }
  } else if (p == digits_end && base == 10 && p < lim && *p == 'i' && !id_cont_len(p + 1, lim)) {
    kind = TOK_IMAG;
    cur = p + 1;
  } else if (p == digits_end && base == 10 && id_start_len(p, lim)) {
    /* 2π, 3x: the number ends here and the name is the next token; the
     * parser reads the pair as a product. Names that read like the end of
     * the literal are refused. */
    const uchar *e = id_cont_end(p, lim);
    if (juxtaposed_name_is_ambiguous(lx, tok, p, e)) return error_token(lx, tok, e);
    cur = p;
  } else if (id_cont_len(p, lim)) {
    const uchar *e = id_cont_end(p, lim);
    Diag *d = report(lx, span_of(lx, p, e), "invalid suffix '%.*s' for a number literal",
                     (int)(e - p), (const char *)p);
    if (p == digits_end && base == 10)
      diag_hint(d, "put an operator between a number and a name: `%.*s * %.*s`", (int)(p - tok),
                (const char *)tok, (int)(e - p), (const char *)p);
    return error_token(lx, tok, e);
  } else {
    cur = p; /* trailing '_' separators belong to the number */
  }

  Token t = make(lx, kind, tok, cur);
  if (kind == TOK_INT) {
    if (!parse_int(lx, tok, digits_end, tok + (base == 10 ? 0 : 2), digits_end, base, &t.as.i))
      return error_token(lx, tok, cur);
  } else if (base == 10) {
    t.as.f = parse_float(tok, digits_end);
    if (isinf(t.as.f)) {
      report(lx, span_of(lx, tok, digits_end), "float literal is out of range for f64");
      return error_token(lx, tok, cur);
    }
  } else {
    int64_t v;
    if (!parse_int(lx, tok, digits_end, tok + 2, digits_end, base, &v))
      return error_token(lx, tok, cur);
    t.as.f = (double)v;
  }
  if (suffix) t.suffix = arena_strndup(lx->arena, (const char *)suffix, (size_t)n);
  if (unit) {
    t.len = (uint32_t)(cur - unit);
    t.str = arena_strndup(lx->arena, (const char *)unit, t.len);
  }
  lx->cur = (const char *)cur;
  return t;
}

/* ---- strings and chars ---- */

static int hex_value(uchar c) {
  int d = digit_value(c);
  return d < 16 ? d : -1;
}

enum { ESC_BAD = -1, ESC_CONTINUATION = -2 };

/* Decodes the escape at p (p[0] == '\\') into *cp and returns the position
 * after it. *cp is ESC_BAD after a reported error, ESC_CONTINUATION for a
 * backslash before a newline (the string continues on the next line). */
static const uchar *escape(Source *src, DiagList *diags, const uchar *p, const uchar *lim,
                           int32_t *cp) {
  const uchar *base = (const uchar *)src->text;
  const uchar *start = p++;
  Diag *d = NULL;
#define ESC_ERROR(end, ...)                                                                    \
  do {                                                                                         \
    Span s_ = {(uint32_t)(start - base), (uint32_t)((end) - base)};                            \
    if (diags) d = diag_add(diags, DIAG_ERROR, src, s_, __VA_ARGS__);                          \
    *cp = ESC_BAD;                                                                             \
  } while (0)
  if (p >= lim) {
    ESC_ERROR(p, "unfinished escape sequence");
    return p;
  }
  switch (*p++) {
  case 'n': *cp = '\n'; return p;
  case 't': *cp = '\t'; return p;
  case 'r': *cp = '\r'; return p;
  case '0': *cp = 0; return p;
  case '\\': *cp = '\\'; return p;
  case '"': *cp = '"'; return p;
  case '\'': *cp = '\''; return p;
  case '\n': *cp = ESC_CONTINUATION; return p;
  case '\r':
    if (p < lim && *p == '\n') {
      *cp = ESC_CONTINUATION;
      return p + 1;
    }
    break;
  case 'x': {
    int hi = p < lim ? hex_value(p[0]) : -1;
    int lo = p + 1 < lim ? hex_value(p[1]) : -1;
    if (hi < 0 || lo < 0) {
      ESC_ERROR(p, "\\x must be followed by two hex digits");
      diag_hint(d, "write \\x41 for 'A'");
      return p;
    }
    if (hi > 7) {
      ESC_ERROR(p + 2, "\\x escape is above \\x7F");
      diag_hint(d, "write \\u{%X} for the character U+%04X", hi * 16 + lo, hi * 16 + lo);
      return p + 2;
    }
    *cp = hi * 16 + lo;
    return p + 2;
  }
  case 'u': {
    if (p >= lim || *p != '{') {
      ESC_ERROR(p, "\\u must be followed by {hex digits}");
      diag_hint(d, "write \\u{3B8} for θ");
      return p;
    }
    uint32_t v = 0;
    int ndig = 0;
    const uchar *q = p + 1;
    for (; q < lim && hex_value(*q) >= 0; q++, ndig++)
      if (ndig < 8) v = v * 16 + (uint32_t)hex_value(*q);
    if (q >= lim || *q != '}' || ndig == 0 || ndig > 6) {
      ESC_ERROR(q < lim && *q == '}' ? q + 1 : q, "malformed \\u escape");
      diag_hint(d, "write one to six hex digits in braces: \\u{3B8}");
      return q < lim && *q == '}' ? q + 1 : q;
    }
    if (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) {
      ESC_ERROR(q + 1, "\\u{%X} is not a valid code point", v);
      return q + 1;
    }
    *cp = (int32_t)v;
    return q + 1;
  }
  default:
    break;
  }
  /* Unknown escape: report it with the whole character after '\'. */
  uint32_t c;
  int n = utf8_decode(p - 1, lim, &c);
  const uchar *end = p - 1 + (n ? n : 1);
  ESC_ERROR(end, "unknown escape sequence '\\%.*s'", n ? n : 1, (const char *)p - 1);
  diag_hint(d, "the escapes are \\n \\t \\r \\0 \\\\ \\\" \\' \\xHH \\u{HHHH}; "
               "write \\\\ for a backslash");
  return end;
#undef ESC_ERROR
}

static void report_invalid_byte(Source *src, DiagList *diags, const uchar *p) {
  if (!diags) return;
  uint32_t off = (uint32_t)(p - (const uchar *)src->text);
  Span s = {off, off + 1};
  diag_add(diags, DIAG_ERROR, src, s, "invalid UTF-8 byte 0x%02X", *p);
}

char *lexer_unescape(Source *src, uint32_t start, uint32_t end, Arena *arena, DiagList *diags,
                     uint32_t *out_len) {
  const uchar *p = (const uchar *)src->text + start, *lim = (const uchar *)src->text + end;
  /* Every escape is at least as long as what it decodes to. */
  char *out = arena_alloc(arena, (size_t)(end - start) + 1), *o = out;
  while (p < lim) {
    uchar c = *p;
    if (c == '\\') {
      int32_t cp;
      p = escape(src, diags, p, lim, &cp);
      if (cp >= 0) {
        o += utf8_encode((uint32_t)cp, o);
      } else if (cp == ESC_CONTINUATION) {
        while (p < lim && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
      }
    } else if (c < 0x80) {
      *o++ = (char)c;
      p++;
    } else {
      uint32_t cp;
      int n = utf8_decode(p, lim, &cp);
      if (n == 0) {
        report_invalid_byte(src, diags, p);
        p++;
        continue;
      }
      memcpy(o, p, (size_t)n);
      o += n;
      p += n;
    }
  }
  *o = '\0';
  if (out_len) *out_len = (uint32_t)(o - out);
  return out;
}

static void check_utf8(Lexer *lx, const uchar *p, const uchar *e) {
  while (p < e) {
    uint32_t cp;
    if (*p < 0x80) {
      p++;
    } else {
      int n = utf8_decode(p, e, &cp);
      if (n == 0) report_invalid_byte(lx->src, lx->diags, p);
      p += n ? n : 1;
    }
  }
}

/* "..." : the opening quote ends at body. */
static Token string(Lexer *lx, const uchar *tok, const uchar *body) {
  const uchar *lim = (const uchar *)lx->limit, *p = body;
  for (;;) {
    while (p < lim && *p != '"' && *p != '\\') p++;
    if (p >= lim) return unterminated(lx, tok, body, "string literal");
    if (*p == '"') break;
    p += 2;
  }
  Token t = make(lx, TOK_STRING, tok, p + 1);
  const uchar *base = (const uchar *)lx->src->text;
  t.str_offset = (uint32_t)(body - base);
  t.str_end = (uint32_t)(p - base);
  t.str = lexer_unescape(lx->src, t.str_offset, t.str_end, lx->arena, lx->diags, &t.len);
  lx->cur = (const char *)(p + 1);
  return t;
}

/* r"..." r#"..."# : no escapes; the body ends at a quote followed by as
 * many '#' as opened it. */
static Token raw_string(Lexer *lx, const uchar *tok, const uchar *body) {
  const uchar *lim = (const uchar *)lx->limit;
  size_t hashes = (size_t)(body - tok) - 2;
  const uchar *p = body;
  for (;; p++) {
    p = p < lim ? memchr(p, '"', (size_t)(lim - p)) : NULL;
    if (!p) return unterminated(lx, tok, body, "raw string");
    if ((size_t)(lim - p - 1) >= hashes && memcmp(p + 1, tok + 1, hashes) == 0) break;
  }
  check_utf8(lx, body, p);
  Token t = make(lx, TOK_STRING, tok, p + 1 + hashes);
  const uchar *base = (const uchar *)lx->src->text;
  t.raw = true;
  t.str_offset = (uint32_t)(body - base);
  t.str_end = (uint32_t)(p - base);
  t.len = (uint32_t)(p - body);
  t.str = arena_strndup(lx->arena, (const char *)body, t.len);
  lx->cur = (const char *)(p + 1 + hashes);
  return t;
}

/* A quoted string or char inside an f-string hole, starting at p: returns
 * the position after it, or lim. */
static const uchar *skip_quoted(const uchar *p, const uchar *lim) {
  uchar q = *p++;
  if (q == '\'') {
    /* A char literal ('"', '\'', 'x') or a label; a label is left alone. */
    const uchar *e = p < lim && *p == '\\' ? p + 2 : p + 1;
    while (e < lim && (*e & 0xC0) == 0x80) e++;
    return e < lim && *e == '\'' ? e + 1 : p;
  }
  while (p < lim && *p != q) p += *p == '\\' ? 2 : 1;
  return p < lim ? p + 1 : lim;
}

/* f"..." : the body is kept raw for the parser. Inside {holes} braces nest
 * and quoted strings may contain '"', so f"{d["k"]}" ends where it should. */
static Token fstring(Lexer *lx, const uchar *tok, const uchar *body) {
  const uchar *lim = (const uchar *)lx->limit, *p = body;
  int depth = 0;
  while (p < lim) {
    uchar c = *p;
    if (depth == 0) {
      if (c == '"') break;
      if (c == '\\') {
        p += 2;
      } else if (c == '{') {
        if (p + 1 < lim && p[1] == '{')
          p += 2;
        else
          depth = 1, p++;
      } else {
        p++;
      }
    } else if (c == '"' || c == '\'') {
      p = skip_quoted(p, lim);
    } else {
      depth += c == '{' ? 1 : c == '}' ? -1 : 0;
      p++;
    }
  }
  if (p >= lim) return unterminated(lx, tok, body, "f-string");
  check_utf8(lx, body, p);
  Token t = make(lx, TOK_FSTRING, tok, p + 1);
  const uchar *base = (const uchar *)lx->src->text;
  t.str_offset = (uint32_t)(body - base);
  t.str_end = (uint32_t)(p - base);
  t.len = (uint32_t)(p - body);
  t.str = arena_strndup(lx->arena, (const char *)body, t.len);
  lx->cur = (const char *)(p + 1);
  return t;
}

/* After a quote: 'a' '\n' '\u{3B8}' 'θ' are chars; 'outer (a name not
 * closed by a quote) is a label. */
static Token char_or_label(Lexer *lx, const uchar *tok, const uchar *p) {
  const uchar *lim = (const uchar *)lx->limit;
  int32_t cp = ESC_BAD;
  const uchar *e;
  int n;
  if (p >= lim || *p == '\n') {
    report(lx, span_of(lx, tok, p), "unterminated character literal");
    return error_token(lx, tok, p);
  }
  if (*p == '\\') {
    e = escape(lx->src, lx->diags, p, lim, &cp);
    if (cp == ESC_CONTINUATION) {
      report(lx, span_of(lx, tok, e), "unterminated character literal");
      return error_token(lx, tok, e);
    }
  } else if ((n = id_start_len(p, lim)) > 0) {
    e = id_cont_end(p + n, lim);
    if (e >= lim || *e != '\'') {
      Token t = make(lx, TOK_LABEL, tok, e);
      t.len = (uint32_t)(e - p);
      t.str = arena_strndup(lx->arena, (const char *)p, t.len);
      lx->cur = (const char *)e;
      return t;
    }
    e = p + n;
    uint32_t c;
    utf8_decode(p, e, &c);
    cp = (int32_t)c;
  } else if (*p == '\'') {
    Diag *d = report(lx, span_of(lx, tok, p + 1), "empty character literal");
    diag_hint(d, "write '\\'' for a quote character");
    return error_token(lx, tok, p + 1);
  } else {
    uint32_t c;
    n = utf8_decode(p, lim, &c);
    if (n == 0) {
      report_invalid_byte(lx->src, lx->diags, p);
      n = 1;
    } else {
      cp = (int32_t)c;
    }
    e = p + n;
  }
  if (e < lim && *e == '\'') {
    if (cp < 0) return error_token(lx, tok, e + 1);
    Token t = make(lx, TOK_CHAR, tok, e + 1);
    t.as.i = cp;
    lx->cur = (const char *)(e + 1);
    return t;
  }
  /* More than one character: find the closing quote on this line. */
  const uchar *q = e;
  while (q < lim && *q != '\'' && *q != '\n') q++;
  if (q < lim && *q == '\'') {
    Diag *d = report(lx, span_of(lx, tok, q + 1), "character literal holds more than one character");
    diag_hint(d, "use double quotes for a string: \"%.*s\"", (int)(q - p), (const char *)p);
    return error_token(lx, tok, q + 1);
  }
  report(lx, span_of(lx, tok, e), "unterminated character literal");
  return error_token(lx, tok, e);
}

/* ---- names, superscripts, unknown characters ---- */

/* An identifier in [tok, cur); `name!` directly followed by ( [ or {
 * (spaces allowed before the bracket) is a macro call. */
static Token ident(Lexer *lx, const uchar *tok, const uchar *cur) {
  const uchar *lim = (const uchar *)lx->limit;
  TokenKind kind = TOK_IDENT;
  const uchar *end = cur;
  if (cur < lim && *cur == '!') {
    const uchar *p = cur + 1;
    while (p < lim && (*p == ' ' || *p == '\t')) p++;
    if (p < lim && (*p == '(' || *p == '[' || *p == '{')) {
      kind = TOK_MACRO;
      end = cur + 1;
    }
  }
  Token t = make(lx, kind, tok, end);
  t.len = (uint32_t)(cur - tok);
  t.str = arena_strndup(lx->arena, (const char *)tok, t.len);
  lx->cur = (const char *)end;
  return t;
}

static Token superscript(Lexer *lx, const uchar *tok, const uchar *cur) {
  const uchar *p = tok;
  bool neg = false;
  int64_t v = 0;
  uint32_t c;
  while (p < cur) {
    p += utf8_decode(p, cur, &c);
    int d = c == 0x207B ? -1 : c == 0x2070 ? 0 : c == 0xB9 ? 1 : c == 0xB2 ? 2 : c == 0xB3 ? 3
                                                                           : (int)(c - 0x2070);
    if (d < 0) {
      neg = true;
      continue;
    }
    if (v > (INT64_MAX - d) / 10) {
      report(lx, span_of(lx, tok, cur), "superscript exponent is too large");
      return error_token(lx, tok, cur);
    }
    v = v * 10 + d;
  }
  Token t = make(lx, TOK_SUPERSCRIPT, tok, cur);
  t.as.i = neg ? -v : v;
  lx->cur = (const char *)cur;
  return t;
}

static Token float_token(Lexer *lx, const uchar *tok, const uchar *cur, double v) {
  Token t = make(lx, TOK_FLOAT, tok, cur);
  t.as.f = v;
  lx->cur = (const char *)cur;
  return t;
}

static Token unexpected(Lexer *lx, const uchar *tok, const uchar *cur) {
  uint32_t c = 0;
  utf8_decode(tok, cur, &c);
  bool invisible = c < 0x20 || c == 0x7F || (c >= 0x80 && c <= 0xA0) ||
                   (c >= 0x2000 && c <= 0x200F) || c == 0x2028 || c == 0x2029 || c == 0x3000 ||
                   c == 0xFEFF;
  Diag *d;
  if (invisible)
    d = report(lx, span_of(lx, tok, cur), "unexpected character U+%04X", c);
  else
    d = report(lx, span_of(lx, tok, cur), "unexpected character '%.*s' (U+%04X)",
               (int)(cur - tok), (const char *)tok, c);
  if (c == 0xA0 || (c >= 0x2000 && c <= 0x200B) || c == 0x3000 || c == 0xFEFF)
    diag_hint(d, "this is an unusual space; replace it with a plain space");
  else if (c == 0x201C || c == 0x201D || c == 0x201E)
    diag_hint(d, "strings use plain double quotes: \"...\"");
  else if (c == 0x2018 || c == 0x2019)
    diag_hint(d, "characters use plain single quotes: 'x'");
  else if (c == 0x2212)
    diag_hint(d, "this is a minus sign; write '-'");
  return error_token(lx, tok, cur);
}

/* ---- the token DFA ---- */

#define EMIT(k)                                                                                \
  do {                                                                                         \
    lx->cur = (const char *)cur;                                                               \
    return make(lx, (k), tok, cur);                                                            \
  } while (0)

static Token lex(Lexer *lx) {
  const uchar *cur = (const uchar *)lx->cur, *lim = (const uchar *)lx->limit, *mar, *tok;
  for (;;) {
    tok = cur;
    /*!re2c
      // whitespace and comments (a newline is remembered for nl_before)
      [ \t\r\v\f]+  { continue; }
      "\n"          { lx->saw_newline = true; continue; }
      "//" {
        const uchar *e = memchr(cur, '\n', (size_t)(lim - cur));
        if (!e) e = lim;
        check_comment_utf8(lx, cur, e);
        cur = e;
        continue;
      }
      "/" "*" {
        const uchar *e = skip_block_comment(lx, cur, lim);
        if (!e) return unterminated(lx, tok, cur, "block comment");
        cur = e;
        continue;
      }

      $ { lx->cur = (const char *)cur; return make(lx, TOK_EOF, cur, cur); }

      // numbers
      digits               { return number(lx, tok, cur, 10, false); }
      float                { return number(lx, tok, cur, 10, true); }
      "0x" [0-9a-fA-F_]*   { return number(lx, tok, cur, 16, false); }
      "0o" [0-9_]*         { return number(lx, tok, cur, 8, false); }
      "0b" [0-9_]*         { return number(lx, tok, cur, 2, false); }

      // strings and chars
      ["]          { return string(lx, tok, cur); }
      "r" "#"* ["]  { return raw_string(lx, tok, cur); }
      "f" ["]      { return fstring(lx, tok, cur); }
      "'"          { return char_or_label(lx, tok, cur); }

      // keywords
      "fn"       { EMIT(TOK_KW_FN); }
      "let"      { EMIT(TOK_KW_LET); }
      "mut"      { EMIT(TOK_KW_MUT); }
      "const"    { EMIT(TOK_KW_CONST); }
      "static"   { EMIT(TOK_KW_STATIC); }
      "struct"   { EMIT(TOK_KW_STRUCT); }
      "enum"     { EMIT(TOK_KW_ENUM); }
      "impl"     { EMIT(TOK_KW_IMPL); }
      "trait"    { EMIT(TOK_KW_TRAIT); }
      "type"     { EMIT(TOK_KW_TYPE); }
      "mod"      { EMIT(TOK_KW_MOD); }
      "use"      { EMIT(TOK_KW_USE); }
      "import"   { EMIT(TOK_KW_IMPORT); }
      "pub"      { EMIT(TOK_KW_PUB); }
      "if"       { EMIT(TOK_KW_IF); }
      "else"     { EMIT(TOK_KW_ELSE); }
      "match"    { EMIT(TOK_KW_MATCH); }
      "for"      { EMIT(TOK_KW_FOR); }
      "in"       { EMIT(TOK_KW_IN); }
      "while"    { EMIT(TOK_KW_WHILE); }
      "loop"     { EMIT(TOK_KW_LOOP); }
      "break"    { EMIT(TOK_KW_BREAK); }
      "continue" { EMIT(TOK_KW_CONTINUE); }
      "return"   { EMIT(TOK_KW_RETURN); }
      "true"     { EMIT(TOK_KW_TRUE); }
      "false"    { EMIT(TOK_KW_FALSE); }
      "self"     { EMIT(TOK_KW_SELF); }
      "Self"     { EMIT(TOK_KW_SELF_TYPE); }
      "as"       { EMIT(TOK_KW_AS); }
      "where"    { EMIT(TOK_KW_WHERE); }
      "async"    { EMIT(TOK_KW_ASYNC); }
      "await"    { EMIT(TOK_KW_AWAIT); }
      "unsafe"   { EMIT(TOK_KW_UNSAFE); }
      "extern"   { EMIT(TOK_KW_EXTERN); }
      "actor"    { EMIT(TOK_KW_ACTOR); }
      "no_grad"  { EMIT(TOK_KW_NO_GRAD); }

      // names (a lone '_' is the wildcard)
      "_"    { EMIT(TOK_UNDERSCORE); }
      ident  { return ident(lx, tok, cur); }

      // math literals: superscript powers, fractions, infinity
      superscript { return superscript(lx, tok, cur); }
      "½" { return float_token(lx, tok, cur, 1.0 / 2); }
      "⅓" { return float_token(lx, tok, cur, 1.0 / 3); }
      "⅔" { return float_token(lx, tok, cur, 2.0 / 3); }
      "¼" { return float_token(lx, tok, cur, 1.0 / 4); }
      "¾" { return float_token(lx, tok, cur, 3.0 / 4); }
      "⅕" { return float_token(lx, tok, cur, 1.0 / 5); }
      "⅖" { return float_token(lx, tok, cur, 2.0 / 5); }
      "⅗" { return float_token(lx, tok, cur, 3.0 / 5); }
      "⅘" { return float_token(lx, tok, cur, 4.0 / 5); }
      "⅙" { return float_token(lx, tok, cur, 1.0 / 6); }
      "⅚" { return float_token(lx, tok, cur, 5.0 / 6); }
      "⅐" { return float_token(lx, tok, cur, 1.0 / 7); }
      "⅛" { return float_token(lx, tok, cur, 1.0 / 8); }
      "⅜" { return float_token(lx, tok, cur, 3.0 / 8); }
      "⅝" { return float_token(lx, tok, cur, 5.0 / 8); }
      "⅞" { return float_token(lx, tok, cur, 7.0 / 8); }
      "⅑" { return float_token(lx, tok, cur, 1.0 / 9); }
      "⅒" { return float_token(lx, tok, cur, 1.0 / 10); }
      "∞" { return float_token(lx, tok, cur, INFINITY); }

      // punctuation
      "("   { EMIT(TOK_LPAREN); }
      ")"   { EMIT(TOK_RPAREN); }
      "["   { EMIT(TOK_LBRACKET); }
      "]"   { EMIT(TOK_RBRACKET); }
      "{"   { EMIT(TOK_LBRACE); }
      "}"   { EMIT(TOK_RBRACE); }
      ","   { EMIT(TOK_COMMA); }
      ";"   { EMIT(TOK_SEMI); }
      ":"   { EMIT(TOK_COLON); }
      "::"  { EMIT(TOK_COLONCOLON); }
      "."   { EMIT(TOK_DOT); }
      ".."  { EMIT(TOK_DOTDOT); }
      "..=" { EMIT(TOK_DOTDOTEQ); }
      "->"  { EMIT(TOK_ARROW); }
      "=>"  { EMIT(TOK_FATARROW); }
      "#"   { EMIT(TOK_HASH); }
      "@"   { EMIT(TOK_AT); }
      "?"   { EMIT(TOK_QUESTION); }

      // ASCII operators
      "="  { EMIT(TOK_EQ); }
      "+"  { EMIT(TOK_PLUS); }
      "-"  { EMIT(TOK_MINUS); }
      "*"  { EMIT(TOK_STAR); }
      "/"  { EMIT(TOK_SLASH); }
      "%"  { EMIT(TOK_PERCENT); }
      "**" { EMIT(TOK_STARSTAR); }
      "^"  { EMIT(TOK_CARET); }
      "&"  { EMIT(TOK_AMP); }
      "|"  { EMIT(TOK_PIPE); }
      "<<" { EMIT(TOK_SHL); }
      ">>" { EMIT(TOK_SHR); }
      "!"  { EMIT(TOK_BANG); }
      "&&" { EMIT(TOK_ANDAND); }
      "||" { EMIT(TOK_OROR); }
      "==" { EMIT(TOK_EQEQ); }
      "!=" { EMIT(TOK_NE); }
      "<"  { EMIT(TOK_LT); }
      ">"  { EMIT(TOK_GT); }
      "<=" { EMIT(TOK_LE); }
      ">=" { EMIT(TOK_GE); }
      "+=" { EMIT(TOK_PLUSEQ); }
      "-=" { EMIT(TOK_MINUSEQ); }
      "*=" { EMIT(TOK_STAREQ); }
      "/=" { EMIT(TOK_SLASHEQ); }
      "%=" { EMIT(TOK_PERCENTEQ); }

      // mathematical operators
      "×"       { EMIT(TOK_STAR); }
      "÷"       { EMIT(TOK_SLASH); }
      "×="      { EMIT(TOK_STAREQ); }
      "÷="      { EMIT(TOK_SLASHEQ); }
      "⊙"       { EMIT(TOK_MATMUL); }
      "⊗"       { EMIT(TOK_OUTER); }
      "⋅" | "·" { EMIT(TOK_DOTPROD); }
      "∇"       { EMIT(TOK_NABLA); }
      "∂"       { EMIT(TOK_PARTIAL); }
      "√"       { EMIT(TOK_SQRT); }
      "∛"       { EMIT(TOK_CBRT); }
      "∑"       { EMIT(TOK_SUM); }
      "∏"       { EMIT(TOK_PROD); }
      "∫"       { EMIT(TOK_INTEGRAL); }
      "≤"       { EMIT(TOK_LE); }
      "≥"       { EMIT(TOK_GE); }
      "≠"       { EMIT(TOK_NE); }
      "≡"       { EMIT(TOK_EQEQ); }
      "≈"       { EMIT(TOK_APPROX); }
      "∧"       { EMIT(TOK_ANDAND); }
      "∨"       { EMIT(TOK_OROR); }
      "¬"       { EMIT(TOK_BANG); }
      "∈"       { EMIT(TOK_ELEM_OF); }
      "∉"       { EMIT(TOK_NOT_ELEM_OF); }
      "→"       { EMIT(TOK_ARROW); }

      // anything else: a valid character we do not know, or a bad byte
      any {
        return unexpected(lx, tok, cur);
      }
      * {
        report(lx, span_of(lx, tok, cur), "invalid UTF-8 byte 0x%02X", *tok);
        return error_token(lx, tok, cur);
      }
    */
  }
}

void lexer_init(Lexer *lx, Source *src, uint32_t start, uint32_t end, Arena *arena,
                DiagList *diags) {
  if (end > src->len) end = (uint32_t)src->len;
  if (start > end) start = end;
  const char *p = src->text + start, *lim = src->text + end;
  if (start == 0) {
    /* A byte-order mark, then a "#!" interpreter line ("#![" would be an
     * attribute, not a shebang). */
    if (lim - p >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0) p += 3;
    if (lim - p >= 2 && p[0] == '#' && p[1] == '!' && !(lim - p >= 3 && p[2] == '[')) {
      const char *nl = memchr(p, '\n', (size_t)(lim - p));
      p = nl ? nl : lim;
    }
  }
  lx->src = src;
  lx->cur = p;
  lx->limit = lim;
  lx->arena = arena;
  lx->diags = diags;
  lx->prev = TOK_EOF;
  lx->saw_newline = false;
  lx->open_at_eof = false;
}

Token lexer_next(Lexer *lx) {
  Token t = lex(lx);
  t.nl_before = lx->saw_newline;
  lx->saw_newline = false;
  lx->prev = t.kind;
  return t;
}
