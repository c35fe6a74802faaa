/* The parser: hand-written recursive descent for items and statements, Pratt
 * parsing for expressions (precedence table in parser.c). Panic-mode
 * recovery: after an error it skips to the next statement or item boundary,
 * so one run reports every independent syntax error. */
#ifndef NS_PARSER_H
#define NS_PARSER_H

#include "ast.h"

typedef enum {
  PARSE_OK,
  PARSE_ERROR,      /* diagnostics were added */
  PARSE_ERROR_SOUND, /* diagnostics were added, but the tree is whole: compiling
                        it reports the program's other errors in the same run */
  PARSE_INCOMPLETE  /* input ended inside an open bracket, block or string:
                       the REPL reads another line instead of reporting */
} ParseResult;

ParseResult parse_module(Source *src, Arena *arena, DiagList *diags, Ast *out);

#endif
