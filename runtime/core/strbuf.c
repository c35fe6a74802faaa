/* A growable byte buffer for building strings. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gc.h"
#include "strbuf.h"
#include "utf8.h"

static bool sb_reserve(StrBuf *sb, size_t extra) {
  if (sb->oom) return false;
  if (extra > SIZE_MAX / 4 - sb->len) {
    sb->oom = true;
    return false;
  }
  size_t need = sb->len + extra + 1;
  if (need <= sb->cap) return true;
  size_t cap = sb->cap ? sb->cap : 64;
  while (cap < need) cap *= 2;
  char *p = realloc(sb->data, cap);
  if (!p) {
    sb->oom = true;
    return false;
  }
  sb->data = p;
  sb->cap = cap;
  return true;
}

void strbuf_add(StrBuf *sb, const char *s, size_t n) {
  if (!sb_reserve(sb, n)) return;
  memcpy(sb->data + sb->len, s, n);
  sb->len += n;
  sb->data[sb->len] = '\0';
}

void strbuf_adds(StrBuf *sb, const char *s) { strbuf_add(sb, s, strlen(s)); }

void strbuf_addc(StrBuf *sb, char c) { strbuf_add(sb, &c, 1); }

void strbuf_add_utf8(StrBuf *sb, int64_t cp) {
  char b[4];
  int n = utf8_encode(cp, b);
  if (n == 0) n = utf8_encode(0xFFFD, b);
  strbuf_add(sb, b, (size_t)n);
}

void strbuf_printf(StrBuf *sb, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char small[256];
  int n = vsnprintf(small, sizeof small, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if ((size_t)n < sizeof small) {
    strbuf_add(sb, small, (size_t)n);
    return;
  }
  if (!sb_reserve(sb, (size_t)n)) return;
  va_start(ap, fmt);
  vsnprintf(sb->data + sb->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  sb->len += (size_t)n;
}

ObjString *strbuf_finish(VM *vm, StrBuf *sb) {
  ObjString *s = NULL;
  if (sb->oom || sb->len > UINT32_MAX - 1)
    heap_error(vm, "out of memory: string too long");
  else
    s = str_new(vm, sb->data ? sb->data : "", sb->len);
  strbuf_free(sb);
  return s;
}

void strbuf_free(StrBuf *sb) {
  free(sb->data);
  sb->data = NULL;
  sb->len = sb->cap = 0;
  sb->oom = false;
}
