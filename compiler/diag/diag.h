/* Sources, spans and diagnostics.
 *
 * Every diagnostic prints as
 *     file:line:col: error: message
 *        12 |     let x = foo(1, 2
 *           |             ^~~
 *     hint: ...
 * Columns count code points (1-based), so carets line up under UTF-8 text. */
#ifndef NS_DIAG_H
#define NS_DIAG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct {
  uint32_t start; /* byte offset of the first byte */
  uint32_t end;   /* byte offset one past the last byte */
} Span;

static inline Span span_join(Span a, Span b) {
  Span s = {a.start < b.start ? a.start : b.start, a.end > b.end ? a.end : b.end};
  return s;
}

/* One source buffer: a file, a REPL line, a -e snippet or an embedded
 * stdlib module. The text is NUL-terminated; line starts are computed on
 * demand for diagnostics. */
typedef struct Source {
  char *path; /* as shown in diagnostics */
  char *text;
  size_t len;
  uint32_t *line_starts; /* lazily built */
  uint32_t nlines;
} Source;

Source *source_new(const char *path, const char *text, size_t len);
Source *source_read_file(const char *path, char *err, size_t errlen);
void source_free(Source *src);
/* 1-based line and code-point column of a byte offset. */
void source_position(Source *src, uint32_t offset, int *line, int *col);
/* The text of a 1-based line without its newline. */
const char *source_line(Source *src, int line, size_t *len);

typedef enum { DIAG_ERROR, DIAG_WARNING, DIAG_NOTE } DiagLevel;

typedef struct Diag {
  DiagLevel level;
  Source *src;
  Span span;
  char *message;
  char *hint; /* NULL or extra line printed as "hint: ..." */
  struct Diag *next;
} Diag;

/* Collects the diagnostics of one compilation. */
typedef struct DiagList {
  Diag *head, *tail;
  int nerrors;
  int max_errors; /* stop collecting after this many (0 = 100) */
} DiagList;

void diag_init(DiagList *dl);
void diag_free(DiagList *dl);
Diag *diag_add(DiagList *dl, DiagLevel level, Source *src, Span span,
               const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void diag_vadd(DiagList *dl, DiagLevel level, Source *src, Span span,
               const char *fmt, va_list ap);
/* Attach a hint to a diagnostic (printf-style). */
void diag_hint(Diag *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Print one / all diagnostics in the standard format. color: ANSI colours. */
void diag_print(FILE *out, const Diag *d, bool color);
void diag_print_all(FILE *out, const DiagList *dl, bool color);

/* Edit distance for "did you mean" hints: the closest of names[0..n) to
 * name, or NULL if none is close enough. */
const char *diag_closest(const char *name, const char *const *names, int n);

#endif
