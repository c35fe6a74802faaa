/* A growable byte buffer for building strings. */
#ifndef NS_STRBUF_H
#define NS_STRBUF_H

#include "value.h"

typedef struct {
  char *data; /* NUL-terminated while not NULL */
  size_t len, cap;
  bool oom;   /* an allocation failed; later appends are dropped */
} StrBuf;

void strbuf_add(StrBuf *sb, const char *s, size_t n);
void strbuf_adds(StrBuf *sb, const char *s);
void strbuf_addc(StrBuf *sb, char c);
void strbuf_add_utf8(StrBuf *sb, int64_t cp);
void strbuf_printf(StrBuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Intern the contents and release the buffer; NULL (with vm_error) if the
 * buffer ran out of memory. */
ObjString *strbuf_finish(VM *vm, StrBuf *sb);
void strbuf_free(StrBuf *sb);

#endif
