/* UTF-8: strings are UTF-8 bytes, chars are code points. */
#ifndef NS_UTF8_H
#define NS_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Encode a code point; returns the byte count (1-4), 0 if not a scalar value. */
int utf8_encode(int64_t cp, char out[4]);
/* Decode the code point at s[0..len); returns the bytes used (>= 1; an
 * invalid byte decodes as U+FFFD and uses 1 byte). */
int utf8_decode(const char *s, size_t len, int64_t *cp);
/* Code points in s[0..len) (counting lead bytes). */
size_t utf8_count(const char *s, size_t len);

#endif
