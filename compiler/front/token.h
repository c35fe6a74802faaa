/* Token kinds of NeuralScript: one row each, generating the enum and the
 * printable names (used in "expected X, found Y" diagnostics). */
#ifndef NS_TOKEN_H
#define NS_TOKEN_H

#include <stdbool.h>
#include <stdint.h>

#include "diag.h"

/* TOKEN(name, printable) */
#define NS_TOKENS(TOKEN)                                                       \
  TOKEN(EOF, "end of file")                                                    \
  TOKEN(ERROR, "invalid token")                                                \
  /* literals: value in Token.as */                                            \
  TOKEN(INT, "integer")             /* as.i; suffix in Token.suffix */         \
  TOKEN(FLOAT, "float")             /* as.f; also fractions ½ and ∞ */         \
  TOKEN(IMAG, "imaginary literal")  /* 2.8i: as.f = 2.8 */                     \
  TOKEN(QUANTITY, "unit literal")   /* 9.8_m/s²: as.f, unit = "m/s²" */        \
  TOKEN(STRING, "string")           /* decoded text in str/len */              \
  TOKEN(FSTRING, "f-string")        /* raw body between quotes, see below */   \
  TOKEN(CHAR, "char")               /* as.i = code point */                    \
  TOKEN(SUPERSCRIPT, "superscript") /* x² : as.i = 2, x⁻¹ : -1 */              \
  TOKEN(IDENT, "identifier")                                                   \
  TOKEN(MACRO, "macro name")        /* println! : text without the '!' */      \
  TOKEN(LABEL, "label")             /* 'outer : text without the quote */      \
  /* keywords */                                                               \
  TOKEN(KW_FN, "'fn'")                                                         \
  TOKEN(KW_LET, "'let'")                                                       \
  TOKEN(KW_MUT, "'mut'")                                                       \
  TOKEN(KW_CONST, "'const'")                                                   \
  TOKEN(KW_STATIC, "'static'")                                                 \
  TOKEN(KW_STRUCT, "'struct'")                                                 \
  TOKEN(KW_ENUM, "'enum'")                                                     \
  TOKEN(KW_IMPL, "'impl'")                                                     \
  TOKEN(KW_TRAIT, "'trait'")                                                   \
  TOKEN(KW_TYPE, "'type'")                                                     \
  TOKEN(KW_MOD, "'mod'")                                                       \
  TOKEN(KW_USE, "'use'")                                                       \
  TOKEN(KW_IMPORT, "'import'")                                                 \
  TOKEN(KW_PUB, "'pub'")                                                       \
  TOKEN(KW_IF, "'if'")                                                         \
  TOKEN(KW_ELSE, "'else'")                                                     \
  TOKEN(KW_MATCH, "'match'")                                                   \
  TOKEN(KW_FOR, "'for'")                                                       \
  TOKEN(KW_IN, "'in'")                                                         \
  TOKEN(KW_WHILE, "'while'")                                                   \
  TOKEN(KW_LOOP, "'loop'")                                                     \
  TOKEN(KW_BREAK, "'break'")                                                   \
  TOKEN(KW_CONTINUE, "'continue'")                                             \
  TOKEN(KW_RETURN, "'return'")                                                 \
  TOKEN(KW_TRUE, "'true'")                                                     \
  TOKEN(KW_FALSE, "'false'")                                                   \
  TOKEN(KW_SELF, "'self'")                                                     \
  TOKEN(KW_SELF_TYPE, "'Self'")                                                \
  TOKEN(KW_AS, "'as'")                                                         \
  TOKEN(KW_WHERE, "'where'")                                                   \
  TOKEN(KW_ASYNC, "'async'")                                                   \
  TOKEN(KW_AWAIT, "'await'")                                                   \
  TOKEN(KW_UNSAFE, "'unsafe'")                                                 \
  TOKEN(KW_EXTERN, "'extern'")                                                 \
  TOKEN(KW_ACTOR, "'actor'")                                                   \
  TOKEN(KW_NO_GRAD, "'no_grad'")                                               \
  /* punctuation */                                                            \
  TOKEN(LPAREN, "'('")                                                         \
  TOKEN(RPAREN, "')'")                                                         \
  TOKEN(LBRACKET, "'['")                                                       \
  TOKEN(RBRACKET, "']'")                                                       \
  TOKEN(LBRACE, "'{'")                                                         \
  TOKEN(RBRACE, "'}'")                                                         \
  TOKEN(COMMA, "','")                                                          \
  TOKEN(SEMI, "';'")                                                           \
  TOKEN(COLON, "':'")                                                          \
  TOKEN(COLONCOLON, "'::'")                                                    \
  TOKEN(DOT, "'.'")                                                            \
  TOKEN(DOTDOT, "'..'")                                                        \
  TOKEN(DOTDOTEQ, "'..='")                                                     \
  TOKEN(ARROW, "'->'")              /* also → */                               \
  TOKEN(FATARROW, "'=>'")                                                      \
  TOKEN(HASH, "'#'")                                                           \
  TOKEN(AT, "'@'")                  /* attribute @name, or matmul a @ b */     \
  TOKEN(QUESTION, "'?'")                                                       \
  TOKEN(UNDERSCORE, "'_'")                                                     \
  /* operators */                                                              \
  TOKEN(EQ, "'='")                                                             \
  TOKEN(PLUS, "'+'")                                                           \
  TOKEN(MINUS, "'-'")                                                          \
  TOKEN(STAR, "'*'")                /* also × */                               \
  TOKEN(SLASH, "'/'")               /* also ÷ */                               \
  TOKEN(PERCENT, "'%'")                                                        \
  TOKEN(STARSTAR, "'**'")                                                      \
  TOKEN(CARET, "'^'")               /* power, right-associative */             \
  TOKEN(AMP, "'&'")                                                            \
  TOKEN(PIPE, "'|'")                                                           \
  TOKEN(SHL, "'<<'")                                                           \
  TOKEN(SHR, "'>>'")                                                           \
  TOKEN(BANG, "'!'")                /* also ¬ */                               \
  TOKEN(ANDAND, "'&&'")             /* also ∧ */                               \
  TOKEN(OROR, "'||'")               /* also ∨ */                               \
  TOKEN(EQEQ, "'=='")               /* also ≡ */                               \
  TOKEN(NE, "'!='")                 /* also ≠ */                               \
  TOKEN(LT, "'<'")                                                             \
  TOKEN(GT, "'>'")                                                             \
  TOKEN(LE, "'<='")                 /* also ≤ */                               \
  TOKEN(GE, "'>='")                 /* also ≥ */                               \
  TOKEN(APPROX, "'≈'")                                                         \
  TOKEN(ELEM_OF, "'∈'")                                                        \
  TOKEN(NOT_ELEM_OF, "'∉'")                                                    \
  TOKEN(PLUSEQ, "'+='")                                                        \
  TOKEN(MINUSEQ, "'-='")                                                       \
  TOKEN(STAREQ, "'*='")             /* also ×= */                              \
  TOKEN(SLASHEQ, "'/='")            /* also ÷= */                              \
  TOKEN(PERCENTEQ, "'%='")                                                     \
  TOKEN(MATMUL, "'⊙'")              /* ⊙; '@' between operands parses the same */ \
  TOKEN(OUTER, "'⊗'")                                                          \
  TOKEN(DOTPROD, "'⋅'")             /* also · */                               \
  TOKEN(NABLA, "'∇'")                                                          \
  TOKEN(PARTIAL, "'∂'")                                                        \
  TOKEN(SQRT, "'√'")                                                           \
  TOKEN(CBRT, "'∛'")                                                           \
  TOKEN(SUM, "'∑'")                                                            \
  TOKEN(PROD, "'∏'")                                                           \
  TOKEN(INTEGRAL, "'∫'")

typedef enum {
#define TOKEN(name, str) TOK_##name,
  NS_TOKENS(TOKEN)
#undef TOKEN
  TOK__COUNT
} TokenKind;

extern const char *const ns_token_names[TOK__COUNT];

typedef struct {
  TokenKind kind;
  Span span;           /* byte range in the source buffer */
  bool nl_before;      /* a newline separates this token from the previous */
  union {
    int64_t i;
    double f;
  } as;
  /* STRING/FSTRING/IDENT/MACRO/QUANTITY: text (arena-owned, NUL-terminated).
   * STRING: escapes decoded. FSTRING: the raw body (braces intact), and
   * str_offset is the byte offset of that body in the source, so the parser
   * can lex the embedded expressions in place with correct spans.
   * STRING (also raw strings): str_offset/str_end delimit the raw body in
   * the source (between the quotes), so format macros can parse "{x:.2f}"
   * pieces in place; raw is true for r"..." strings.
   * QUANTITY: the unit text. INT/FLOAT: the type suffix ("f32", "i64") or
   * NULL. */
  const char *str;
  uint32_t len;
  uint32_t str_offset, str_end;
  bool raw;
  const char *suffix;
} Token;

#endif
