/* Methods of strings. Strings are immutable UTF-8; lengths and positions
 * (`len`, `find`) count bytes as in Rust, `char_count` and `substring`
 * count chars. Patterns are a string or a char. */
#include <stdio.h>

#include "builtins.h"

#define SELF(a) AS_STRING((a)[0])

static Value str_val(VM *vm, const char *s, size_t n) { return OBJ_VAL(str_copy(vm, s, n)); }

/* A string or char argument as bytes; buf holds an encoded char. */
static bool pattern_arg(VM *vm, Value v, const char *who, char buf[4], const char **p, size_t *n) {
  if (IS_STRING(v)) {
    *p = AS_STRING(v)->chars;
    *n = AS_STRING(v)->len;
    return true;
  }
  if (IS_CHAR(v)) {
    *n = (size_t)utf8_encode(v.as.i, buf);
    *p = buf;
    return true;
  }
  vm_error(vm, "%s expects a string or a char, got %s", who, value_type_name(v));
  return false;
}

static const char *find_bytes(const char *h, size_t hn, const char *n, size_t nn) {
  if (nn == 0) return h;
  for (size_t i = 0; i + nn <= hn; i++)
    if (h[i] == n[0] && memcmp(h + i, n, nn) == 0) return h + i;
  return NULL;
}

static const char *rfind_bytes(const char *h, size_t hn, const char *n, size_t nn) {
  if (nn > hn) return NULL;
  for (size_t i = hn - nn + 1; i-- > 0;)
    if (memcmp(h + i, n, nn) == 0) return h + i;
  return NULL;
}

static bool s_len(VM *vm, Value *a, int n, Value *out) {
  (void)vm, (void)n;
  *out = INT_VAL(SELF(a)->len);
  return true;
}

static bool s_char_count(VM *vm, Value *a, int n, Value *out) {
  (void)vm, (void)n;
  *out = INT_VAL((int64_t)utf8_count(SELF(a)->chars, SELF(a)->len));
  return true;
}

static bool s_is_empty(VM *vm, Value *a, int n, Value *out) {
  (void)vm, (void)n;
  *out = BOOL_VAL(SELF(a)->len == 0);
  return true;
}

static bool s_identity(VM *vm, Value *a, int n, Value *out) {
  (void)vm, (void)n;
  *out = a[0];
  return true;
}

static bool s_chars(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  ObjList *l;
  if (!lib_to_list(vm, a[0], "chars", &l)) return false;
  *out = OBJ_VAL(l);
  return true;
}

static bool s_char_indices(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  ObjString *s = SELF(a);
  ObjList *l = list_new(vm, 0);
  for (uint32_t i = 0; i < s->len;) {
    int64_t cp;
    int k = utf8_decode(s->chars + i, s->len - i, &cp);
    ObjTuple *t = tuple_new(vm, 2);
    t->items[0] = INT_VAL(i);
    t->items[1] = CHAR_VAL(cp);
    list_push(vm, l, OBJ_VAL(t));
    i += (uint32_t)k;
  }
  *out = OBJ_VAL(l);
  return true;
}

static bool s_bytes(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  ObjString *s = SELF(a);
  ObjList *l = list_new(vm, s->len);
  for (uint32_t i = 0; i < s->len; i++) list_push(vm, l, INT_VAL((unsigned char)s->chars[i]));
  *out = OBJ_VAL(l);
  return true;
}

static bool s_lines(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  ObjString *s = SELF(a);
  ObjList *l = list_new(vm, 0);
  size_t start = 0;
  for (size_t i = 0; i <= s->len; i++) {
    if (i < s->len && s->chars[i] != '\n') continue;
    if (i == s->len && start == s->len) break; /* no empty line after a final newline */
    size_t end = i;
    if (end > start && s->chars[end - 1] == '\r') end--;
    list_push(vm, l, str_val(vm, s->chars + start, end - start));
    start = i + 1;
  }
  *out = OBJ_VAL(l);
  return true;
}

static bool split_whitespace(VM *vm, ObjString *s, Value *out) {
  ObjList *l = list_new(vm, 0);
  size_t i = 0, start = 0;
  bool in_word = false;
  while (i < s->len) {
    int64_t cp;
    int k = utf8_decode(s->chars + i, s->len - i, &cp);
    bool space = lib_char_is_space(cp);
    if (space && in_word) list_push(vm, l, str_val(vm, s->chars + start, i - start));
    if (!space && !in_word) start = i;
    in_word = !space;
    i += (size_t)k;
  }
  if (in_word) list_push(vm, l, str_val(vm, s->chars + start, s->len - start));
  *out = OBJ_VAL(l);
  return true;
}

static bool s_split_whitespace(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  return split_whitespace(vm, SELF(a), out);
}

static bool s_split(VM *vm, Value *a, int n, Value *out) {
  ObjString *s = SELF(a);
  if (n < 2) return split_whitespace(vm, s, out);
  char buf[4];
  const char *p;
  size_t pn;
  if (!pattern_arg(vm, a[1], "split", buf, &p, &pn)) return false;
  if (pn == 0) return vm_error(vm, "split: the separator is empty");
  ObjList *l = list_new(vm, 0);
  size_t start = 0;
  for (;;) {
    const char *hit = find_bytes(s->chars + start, s->len - start, p, pn);
    size_t end = hit ? (size_t)(hit - s->chars) : s->len;
    list_push(vm, l, str_val(vm, s->chars + start, end - start));
    if (!hit) break;
    start = end + pn;
  }
  *out = OBJ_VAL(l);
  return true;
}

static bool s_split_once(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  ObjString *s = SELF(a);
  char buf[4];
  const char *p;
  size_t pn;
  if (!pattern_arg(vm, a[1], "split_once", buf, &p, &pn)) return false;
  const char *hit = find_bytes(s->chars, s->len, p, pn);
  if (!hit) return lib_none(vm, out);
  size_t at = (size_t)(hit - s->chars);
  ObjTuple *t = tuple_new(vm, 2);
  t->items[0] = str_val(vm, s->chars, at);
  t->items[1] = str_val(vm, s->chars + at + pn, s->len - at - pn);
  return lib_some(vm, OBJ_VAL(t), out);
}

/* Byte bounds of s without leading (front) and trailing (back) whitespace. */
static void trim_bounds(ObjString *s, bool front, bool back, size_t *lo, size_t *hi) {
  size_t i = 0, first = s->len, last = 0;
  while (i < s->len) {
    int64_t cp;
    int k = utf8_decode(s->chars + i, s->len - i, &cp);
    if (!lib_char_is_space(cp)) {
      if (first == s->len) first = i;
      last = i + (size_t)k;
    }
    i += (size_t)k;
  }
  if (first == s->len) { /* all whitespace: any trim leaves nothing */
    *lo = *hi = 0;
    return;
  }
  *lo = front ? first : 0;
  *hi = back ? last : s->len;
}

static bool trim(VM *vm, Value *a, Value *out, bool front, bool back) {
  ObjString *s = SELF(a);
  size_t lo, hi;
  trim_bounds(s, front, back, &lo, &hi);
  *out = (lo == 0 && hi == s->len) ? a[0] : str_val(vm, s->chars + lo, hi - lo);
  return true;
}

static bool s_trim(VM *vm, Value *a, int n, Value *out) { (void)n; return trim(vm, a, out, true, true); }
static bool s_trim_start(VM *vm, Value *a, int n, Value *out) { (void)n; return trim(vm, a, out, true, false); }
static bool s_trim_end(VM *vm, Value *a, int n, Value *out) { (void)n; return trim(vm, a, out, false, true); }

static bool map_case(VM *vm, Value *a, Value *out, int64_t (*fn)(int64_t)) {
  ObjString *s = SELF(a);
  StrBuf sb = {0};
  for (uint32_t i = 0; i < s->len;) {
    int64_t cp;
    i += (uint32_t)utf8_decode(s->chars + i, s->len - i, &cp);
    strbuf_add_utf8(&sb, fn(cp));
  }
  ObjString *r = strbuf_finish(vm, &sb);
  if (!r) return false;
  *out = OBJ_VAL(r);
  return true;
}

static bool s_to_uppercase(VM *vm, Value *a, int n, Value *out) { (void)n; return map_case(vm, a, out, lib_char_upper); }
static bool s_to_lowercase(VM *vm, Value *a, int n, Value *out) { (void)n; return map_case(vm, a, out, lib_char_lower); }

static bool s_contains(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  char buf[4];
  const char *p;
  size_t pn;
  if (!pattern_arg(vm, a[1], "contains", buf, &p, &pn)) return false;
  *out = BOOL_VAL(find_bytes(SELF(a)->chars, SELF(a)->len, p, pn) != NULL);
  return true;
}

static bool s_starts_with(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  char buf[4];
  const char *p;
  size_t pn;
  if (!pattern_arg(vm, a[1], "starts_with", buf, &p, &pn)) return false;
  *out = BOOL_VAL(pn <= SELF(a)->len && memcmp(SELF(a)->chars, p, pn) == 0);
  return true;
}

static bool s_ends_with(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  char buf[4];
  const char *p;
  size_t pn;
  if (!pattern_arg(vm, a[1], "ends_with", buf, &p, &pn)) return false;
  ObjString *s = SELF(a);
  *out = BOOL_VAL(pn <= s->len && memcmp(s->chars + s->len - pn, p, pn) == 0);
  return true;
}

static bool strip(VM *vm, Value *a, Value *out, bool prefix) {
  char buf[4];
  const char *p;
  size_t pn;
  if (!pattern_arg(vm, a[1], prefix ? "strip_prefix" : "strip_suffix", buf, &p, &pn)) return false;
  ObjString *s = SELF(a);
  if (pn > s->len) return lib_none(vm, out);
  if (prefix ? memcmp(s->chars, p, pn) != 0 : memcmp(s->chars + s->len - pn, p, pn) != 0)
    return lib_none(vm, out);
  return lib_some(vm, str_val(vm, s->chars + (prefix ? pn : 0), s->len - pn), out);
}

static bool s_strip_prefix(VM *vm, Value *a, int n, Value *out) { (void)n; return strip(vm, a, out, true); }
static bool s_strip_suffix(VM *vm, Value *a, int n, Value *out) { (void)n; return strip(vm, a, out, false); }

static bool s_replace(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  char b1[4], b2[4];
  const char *from, *to;
  size_t nf, nt;
  if (!pattern_arg(vm, a[1], "replace", b1, &from, &nf) ||
      !pattern_arg(vm, a[2], "replace", b2, &to, &nt))
    return false;
  if (nf == 0) return vm_error(vm, "replace: the pattern is empty");
  ObjString *s = SELF(a);
  StrBuf sb = {0};
  size_t start = 0;
  for (;;) {
    const char *hit = find_bytes(s->chars + start, s->len - start, from, nf);
    size_t end = hit ? (size_t)(hit - s->chars) : s->len;
    strbuf_add(&sb, s->chars + start, end - start);
    if (!hit) break;
    strbuf_add(&sb, to, nt);
    start = end + nf;
  }
  ObjString *r = strbuf_finish(vm, &sb);
  if (!r) return false;
  *out = OBJ_VAL(r);
  return true;
}

static bool s_find(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  char buf[4];
  const char *p;
  size_t pn;
  if (!pattern_arg(vm, a[1], "find", buf, &p, &pn)) return false;
  const char *hit = find_bytes(SELF(a)->chars, SELF(a)->len, p, pn);
  return hit ? lib_some(vm, INT_VAL(hit - SELF(a)->chars), out) : lib_none(vm, out);
}

static bool s_rfind(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  char buf[4];
  const char *p;
  size_t pn;
  if (!pattern_arg(vm, a[1], "rfind", buf, &p, &pn)) return false;
  const char *hit = rfind_bytes(SELF(a)->chars, SELF(a)->len, p, pn);
  return hit ? lib_some(vm, INT_VAL(hit - SELF(a)->chars), out) : lib_none(vm, out);
}

static bool s_count(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  char buf[4];
  const char *p;
  size_t pn;
  if (!pattern_arg(vm, a[1], "count", buf, &p, &pn)) return false;
  if (pn == 0) return vm_error(vm, "count: the pattern is empty");
  ObjString *s = SELF(a);
  int64_t k = 0;
  for (const char *h = s->chars; (h = find_bytes(h, s->len - (size_t)(h - s->chars), p, pn)); h += pn) k++;
  *out = INT_VAL(k);
  return true;
}

static bool s_repeat(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  return arith_binary(vm, AOP_MUL, a[0], a[1], out);
}

static bool s_concat(VM *vm, Value *a, int n, Value *out) {
  StrBuf sb = {0};
  strbuf_add(&sb, SELF(a)->chars, SELF(a)->len);
  for (int i = 1; i < n; i++)
    if (!format_append(vm, &sb, a[i], false)) {
      strbuf_free(&sb);
      return false;
    }
  ObjString *r = strbuf_finish(vm, &sb);
  if (!r) return false;
  *out = OBJ_VAL(r);
  return true;
}

/* Byte offset of char index i, or -1 past the end (i == count gives len). */
static int64_t char_offset(ObjString *s, int64_t i) {
  size_t at = 0;
  for (int64_t k = 0; k < i; k++) {
    if (at >= s->len) return -1;
    int64_t cp;
    at += (size_t)utf8_decode(s->chars + at, s->len - at, &cp);
  }
  return (int64_t)at;
}

static bool s_char_at(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  int64_t i;
  if (!lib_int_arg(vm, a[1], "char_at", &i)) return false;
  ObjString *s = SELF(a);
  int64_t at = i < 0 ? -1 : char_offset(s, i);
  if (at < 0 || (size_t)at >= s->len)
    return vm_error(vm, "char index %lld out of range for a string of %zu chars", (long long)i,
                    utf8_count(s->chars, s->len));
  int64_t cp;
  utf8_decode(s->chars + at, s->len - (size_t)at, &cp);
  *out = CHAR_VAL(cp);
  return true;
}

static bool s_substring(VM *vm, Value *a, int n, Value *out) {
  ObjString *s = SELF(a);
  int64_t lo, hi = -1;
  if (!lib_int_arg(vm, a[1], "substring", &lo)) return false;
  if (n > 2 && !lib_int_arg(vm, a[2], "substring", &hi)) return false;
  size_t count = utf8_count(s->chars, s->len);
  if (n <= 2) hi = (int64_t)count;
  if (lo < 0 || hi < lo || (size_t)hi > count)
    return vm_error(vm, "substring %lld..%lld out of range for a string of %zu chars",
                    (long long)lo, (long long)hi, count);
  int64_t b0 = char_offset(s, lo), b1 = char_offset(s, hi);
  *out = str_val(vm, s->chars + b0, (size_t)(b1 - b0));
  return true;
}

static bool s_eq_ignore_ascii_case(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  ObjString *x = SELF(a), *y;
  if (!lib_str_arg(vm, a[1], "eq_ignore_ascii_case", &y)) return false;
  bool eq = x->len == y->len;
  for (uint32_t i = 0; eq && i < x->len; i++) {
    char c = x->chars[i], d = y->chars[i];
    if (c >= 'A' && c <= 'Z') c += 32;
    if (d >= 'A' && d <= 'Z') d += 32;
    eq = c == d;
  }
  *out = BOOL_VAL(eq);
  return true;
}

/* parse_int / parse_float / parse: Ok(number) or Err(message). */
static bool parse(VM *vm, Value *a, Value *out, int kind) {
  ObjString *s = SELF(a);
  Value v;
  bool ok = kind == 1 ? lib_parse_number(s->chars, s->len, false, &v)
          : kind == 2 ? lib_parse_number(s->chars, s->len, true, &v)
                      : (lib_parse_number(s->chars, s->len, false, &v) ||
                         lib_parse_number(s->chars, s->len, true, &v));
  if (ok) return lib_ok(vm, v, out);
  ObjString *q = format_value(vm, a[0], true);
  if (!q) return false;
  return lib_err_msg(vm, out, "cannot parse %s as %s", q->chars,
                     kind == 1 ? "an int" : kind == 2 ? "a float" : "a number");
}

static bool s_parse_int(VM *vm, Value *a, int n, Value *out) { (void)n; return parse(vm, a, out, 1); }
static bool s_parse_float(VM *vm, Value *a, int n, Value *out) { (void)n; return parse(vm, a, out, 2); }
static bool s_parse(VM *vm, Value *a, int n, Value *out) { (void)n; return parse(vm, a, out, 0); }

/* Associated functions: String::new(), String::from(x), String::with_capacity(n). */
static bool s_new(VM *vm, Value *a, int n, Value *out) {
  (void)a, (void)n;
  *out = OBJ_VAL(str_cstr(vm, ""));
  return true;
}

static bool s_from(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  ObjString *s = format_value(vm, a[0], false);
  if (!s) return false;
  *out = OBJ_VAL(s);
  return true;
}

static bool s_clone(VM *vm, Value *a, int n, Value *out) {
  (void)vm, (void)n;
  *out = a[0];
  return true;
}

static bool s_type_of(VM *vm, Value *a, int n, Value *out) {
  (void)a, (void)n;
  *out = OBJ_VAL(str_cstr(vm, "string"));
  return true;
}

void lib_string_init(VM *vm) {
  ObjClass *c = lib_class(vm, "string");
  vm->class_of_obj[OBJ_STRING] = c;
  static const struct {
    const char *name;
    NativeFn fn;
    int min, max;
  } m[] = {
    {"len", s_len, 1, 1},
    {"char_count", s_char_count, 1, 1},
    {"is_empty", s_is_empty, 1, 1},
    {"chars", s_chars, 1, 1},
    {"char_indices", s_char_indices, 1, 1},
    {"bytes", s_bytes, 1, 1},
    {"lines", s_lines, 1, 1},
    {"split", s_split, 1, 2},
    {"split_whitespace", s_split_whitespace, 1, 1},
    {"split_once", s_split_once, 2, 2},
    {"trim", s_trim, 1, 1},
    {"trim_start", s_trim_start, 1, 1},
    {"trim_end", s_trim_end, 1, 1},
    {"to_uppercase", s_to_uppercase, 1, 1},
    {"to_lowercase", s_to_lowercase, 1, 1},
    {"contains", s_contains, 2, 2},
    {"starts_with", s_starts_with, 2, 2},
    {"ends_with", s_ends_with, 2, 2},
    {"strip_prefix", s_strip_prefix, 2, 2},
    {"strip_suffix", s_strip_suffix, 2, 2},
    {"replace", s_replace, 3, 3},
    {"find", s_find, 2, 2},
    {"rfind", s_rfind, 2, 2},
    {"count", s_count, 2, 2},
    {"repeat", s_repeat, 2, 2},
    {"concat", s_concat, 1, -1},
    {"char_at", s_char_at, 2, 2},
    {"substring", s_substring, 2, 3},
    {"eq_ignore_ascii_case", s_eq_ignore_ascii_case, 2, 2},
    {"parse_int", s_parse_int, 1, 1},
    {"parse_float", s_parse_float, 1, 1},
    {"parse", s_parse, 1, 1},
    {"to_string", s_identity, 1, 1},
    {"to_owned", s_identity, 1, 1},
    {"as_str", s_identity, 1, 1},
    {"clone", s_clone, 1, 1},
    {"type_of", s_type_of, 1, 1},
    {"new", s_new, 0, 0},
    {"from", s_from, 1, 1},
    {"with_capacity", s_new, 1, 1},
  };
  for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) lib_method(vm, c, m[i].name, m[i].fn, m[i].min, m[i].max);
}
