/* The lexer (lexer.re, compiled by re2c --utf8 --input-encoding utf8).
 *
 * The parser pulls one token at a time. Errors (invalid UTF-8, an unknown
 * character, an unterminated string or comment, a malformed number) are
 * reported to the DiagList and returned as TOK_ERROR; the lexer then skips
 * past the bad bytes so lexing can go on. */
#ifndef NS_LEXER_H
#define NS_LEXER_H

#include "arena.h"
#include "diag.h"
#include "token.h"

typedef struct Lexer {
  Source *src;
  const char *cur;   /* next byte to scan */
  const char *limit; /* one past the last byte to scan */
  Arena *arena;      /* token text lives here */
  DiagList *diags;
  TokenKind prev;    /* kind of the previous token (t.0.1 lexes as t . 0 . 1) */
  bool saw_newline;  /* a newline since the previous token */
  bool open_at_eof;  /* the input ended inside a string or block comment
                        (the REPL then reads another line) */
} Lexer;

/* Lex src->text[start, end). */
void lexer_init(Lexer *lx, Source *src, uint32_t start, uint32_t end,
                Arena *arena, DiagList *diags);
Token lexer_next(Lexer *lx);

/* Decode the escapes of src->text[start, end) (a string body) into arena
 * memory; *out_len gets the decoded length. Bad escapes are reported. */
char *lexer_unescape(Source *src, uint32_t start, uint32_t end, Arena *arena,
                     DiagList *diags, uint32_t *out_len);

#endif
