/* Reading safetensors files (the writer is save_safetensors in
 * lib_checkpoint.c). Layout: u64 little-endian N, then N bytes of UTF-8 JSON
 *   {"w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}, ...,
 *    "__metadata__": {"step": "10"}}
 * then the raw little-endian data; offsets are relative to the data start.
 *
 * Two stages. The header parser reads the JSON into StEntry records and the
 * metadata map and validates it against the bytes that are there: every
 * field present and well-formed, a supported dtype, offsets that match the
 * shape and stay inside the data, no name twice, and tensors that tile the
 * data exactly. Only then does the tensor builder allocate tensors and copy
 * the data in, so a bad file never allocates more than its size can fill.
 * Every problem is a vm_error naming the path (and the tensor) and a false
 * return. */
#define _POSIX_C_SOURCE 200809L /* strdup */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builtins.h"
#include "lib_data.h"
#include "lib_tensor.h"
#include "safetensors.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors data is little-endian; this file reads host-order bytes"
#endif

/* The reference implementation refuses headers above 100 MB. */
#define ST_MAX_HEADER (100u * 1024u * 1024u)

const char *const st_dtype_names[DT__COUNT] = {"F32", "F64", "I64", "BOOL"};
const size_t st_dtype_sizes[DT__COUNT] = {4, 8, 8, 1};

/* ---- a JSON subset parser -------------------------------------------------
 * Enough JSON for a safetensors header: objects, arrays, strings (with
 * escapes), non-negative integers; other values are syntax errors. */

typedef struct {
  const char *p, *end, *start;
  char err[160];
} Json;

static bool jfail(Json *j, const char *what) {
  if (!j->err[0]) snprintf(j->err, sizeof j->err, "malformed JSON header at byte %ld: %s", (long)(j->p - j->start), what);
  return false;
}

static void jws(Json *j) {
  while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')) j->p++;
}

static bool jlit(Json *j, char c) {
  jws(j);
  if (j->p < j->end && *j->p == c) {
    j->p++;
    return true;
  }
  return false;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Strict UTF-8: no overlong forms, surrogates or code points above
 * U+10FFFF. */
static bool utf8_valid(const char *str, size_t n) {
  const unsigned char *s = (const unsigned char *)str;
  for (size_t i = 0; i < n;) {
    unsigned c = s[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    int len = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
    if (!len || n - i < (size_t)len) return false;
    for (int k = 1; k < len; k++)
      if ((s[i + (size_t)k] & 0xC0) != 0x80) return false;
    unsigned c1 = s[i + 1];
    if ((c == 0xE0 && c1 < 0xA0) || (c == 0xED && c1 > 0x9F) || (c == 0xF0 && c1 < 0x90) || (c == 0xF4 && c1 > 0x8F))
      return false;
    i += (size_t)len;
  }
  return true;
}

/* A string into sb (decoded); it must be valid UTF-8 without NUL (the
 * names and strings it gives are C strings of the runtime). */
static bool jstring(Json *j, StrBuf *sb) {
  jws(j);
  if (j->p >= j->end || *j->p != '"') return jfail(j, "expected a string");
  j->p++;
  while (j->p < j->end && *j->p != '"') {
    char c = *j->p++;
    if ((unsigned char)c < 0x20) return jfail(j, "control character in a string");
    if (c != '\\') {
      strbuf_addc(sb, c);
      continue;
    }
    if (j->p >= j->end) break;
    char e = *j->p++;
    switch (e) {
    case '"': case '\\': case '/': strbuf_addc(sb, e); break;
    case 'b': strbuf_addc(sb, '\b'); break;
    case 'f': strbuf_addc(sb, '\f'); break;
    case 'n': strbuf_addc(sb, '\n'); break;
    case 'r': strbuf_addc(sb, '\r'); break;
    case 't': strbuf_addc(sb, '\t'); break;
    case 'u': {
      int64_t cp = 0;
      for (int k = 0; k < 4; k++) {
        int h = j->p < j->end ? hexval(*j->p++) : -1;
        if (h < 0) return jfail(j, "bad \\u escape");
        cp = cp * 16 + h;
      }
      if (cp >= 0xD800 && cp <= 0xDBFF && j->end - j->p >= 6 && j->p[0] == '\\' && j->p[1] == 'u') {
        int64_t lo = 0;
        bool good = true;
        for (int k = 0; k < 4; k++) {
          int h = hexval(j->p[2 + k]);
          if (h < 0) good = false;
          lo = lo * 16 + (h < 0 ? 0 : h);
        }
        if (good && lo >= 0xDC00 && lo <= 0xDFFF) {
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          j->p += 6;
        }
      }
      if (cp == 0) return jfail(j, "\\u0000 in a string");
      if (cp >= 0xD800 && cp <= 0xDFFF) return jfail(j, "unpaired surrogate in a \\u escape");
      strbuf_add_utf8(sb, cp);
      break;
    }
    default: return jfail(j, "bad escape in a string");
    }
  }
  if (j->p >= j->end) return jfail(j, "unterminated string");
  j->p++;
  if (!utf8_valid(sb->data ? sb->data : "", sb->len)) return jfail(j, "a string is not valid UTF-8");
  return true;
}

static bool juint(Json *j, uint64_t *out) {
  jws(j);
  if (j->p >= j->end || *j->p < '0' || *j->p > '9') return jfail(j, "expected a non-negative integer");
  uint64_t v = 0;
  while (j->p < j->end && *j->p >= '0' && *j->p <= '9') {
    if (v > (UINT64_MAX - 9) / 10) return jfail(j, "integer too large");
    v = v * 10 + (uint64_t)(*j->p++ - '0');
  }
  if (j->p < j->end && (*j->p == '.' || *j->p == 'e' || *j->p == 'E')) return jfail(j, "expected an integer");
  *out = v;
  return true;
}

/* [int, ...] with at most max entries. */
static bool juint_array(Json *j, uint64_t *v, int max, int *n) {
  *n = 0;
  if (!jlit(j, '[')) return jfail(j, "expected `[`");
  if (jlit(j, ']')) return true;
  do {
    uint64_t x;
    if (!juint(j, &x)) return false;
    if (*n == max) return jfail(j, "too many entries in an array");
    v[(*n)++] = x;
  } while (jlit(j, ','));
  if (!jlit(j, ']')) return jfail(j, "expected `,` or `]`");
  return true;
}

/* ---- the header parser ------------------------------------------------------ */

/* One tensor of the header. */
typedef struct {
  char *name;
  DType dt;
  int ndim;
  int64_t shape[NS_MAX_DIMS];
  uint64_t begin, end;
} StEntry;

static int entry_by_begin(const void *a, const void *b) {
  const StEntry *x = *(StEntry *const *)a, *y = *(StEntry *const *)b;
  return x->begin < y->begin ? -1 : x->begin > y->begin ? 1 : (x->end > y->end) - (x->end < y->end);
}

/* Names of the entries, hashed to find a repeated one in linear time. */
static bool st_find_duplicate(const StEntry *ents, int n, int *dup) {
  size_t cap = 16;
  while (cap < 2 * (size_t)n) cap *= 2;
  int *slots = malloc(cap * sizeof *slots);
  if (!slots) return false;
  for (size_t i = 0; i < cap; i++) slots[i] = -1;
  *dup = -1;
  for (int i = 0; i < n && *dup < 0; i++) {
    uint64_t h = 1469598103934665603u; /* FNV-1a */
    for (const char *c = ents[i].name; *c; c++) h = (h ^ (unsigned char)*c) * 1099511628211u;
    size_t k = (size_t)h & (cap - 1);
    while (slots[k] >= 0 && strcmp(ents[slots[k]].name, ents[i].name) != 0) k = (k + 1) & (cap - 1);
    if (slots[k] >= 0) *dup = i;
    else slots[k] = i;
  }
  free(slots);
  return true;
}

/* Everything the header says: the tensors in file order, the metadata
 * (rooted by the caller) and the length of the data after the header. */
typedef struct {
  StEntry *ents;
  int nents, cap;
  ObjMap *meta;
  uint64_t dlen;
} StHeader;

/* A load error: "load_safetensors: PATH: ..." (the format's first
 * argument is the path); false. */
#define STFAIL(...) vm_error(vm, "load_safetensors: %s: " __VA_ARGS__)

/* The 8-byte header length, checked against the file size. */
static bool st_header_length(VM *vm, const char *path, const unsigned char *buf, size_t fsize,
                             uint64_t *hlen) {
  if (fsize < 8)
    return STFAIL("truncated: %llu bytes, too short for the 8-byte header length", path,
                  (unsigned long long)fsize);
  *hlen = 0;
  for (int i = 7; i >= 0; i--) *hlen = *hlen << 8 | buf[i];
  if (*hlen > ST_MAX_HEADER)
    return STFAIL("header length %llu is not plausible (not a safetensors file?)", path,
                  (unsigned long long)*hlen);
  if (*hlen > fsize - 8)
    return STFAIL("truncated: the header length is %llu bytes but only %llu follow", path,
                  (unsigned long long)*hlen, (unsigned long long)(fsize - 8));
  if (*hlen < 2 || buf[8] != '{')
    return STFAIL("the header is not a JSON object (not a safetensors file?)", path);
  return true;
}

/* "__metadata__": {"key": "value", ...} into meta; sval is scratch. */
static bool st_parse_metadata(VM *vm, const char *path, Json *j, ObjMap *meta, StrBuf *sval) {
  if (!jlit(j, '{')) return STFAIL("`__metadata__` must be an object of strings", path);
  if (jlit(j, '}')) return true;
  do {
    StrBuf mk = {0};
    sval->len = 0;
    if (sval->data) sval->data[0] = '\0';
    bool good = jstring(j, &mk) && jlit(j, ':');
    jws(j);
    if (good && (j->p >= j->end || *j->p != '"')) {
      strbuf_free(&mk);
      return STFAIL("`__metadata__` values must be strings", path);
    }
    good = good && jstring(j, sval);
    if (!good) {
      strbuf_free(&mk);
      jfail(j, "bad `__metadata__` entry");
      return STFAIL("%s", path, j->err);
    }
    ObjString *ks = str_copy(vm, mk.data ? mk.data : "", mk.len);
    strbuf_free(&mk);
    vm_push_root(vm, OBJ_VAL(ks));
    ObjString *vs = str_copy(vm, sval->data ? sval->data : "", sval->len);
    vm_push_root(vm, OBJ_VAL(vs));
    map_set(vm, meta, OBJ_VAL(ks), OBJ_VAL(vs));
    vm_pop_root(vm, 2);
  } while (jlit(j, ','));
  if (!jlit(j, '}')) {
    jfail(j, "expected `,` or `}` in `__metadata__`");
    return STFAIL("%s", path, j->err);
  }
  return true;
}

/* Which of a tensor's fields have been seen. */
enum { ST_HAS_DTYPE = 1, ST_HAS_SHAPE = 2, ST_HAS_OFFSETS = 4 };

/* The value of field `fname` of tensor e: its dtype name into dtname[16],
 * its shape, or its data_offsets. false with j->err set on a syntax error;
 * an unknown field is a vm_error (*unknown set). */
static bool st_parse_field(VM *vm, const char *path, Json *j, StEntry *e, const char *fname,
                           char *dtname, StrBuf *sval, int *seen, bool *unknown) {
  bool good = true;
  if (!strcmp(fname, "dtype")) {
    sval->len = 0;
    if (sval->data) sval->data[0] = '\0';
    good = jstring(j, sval);
    if (good) snprintf(dtname, 16, "%s", sval->data ? sval->data : "");
    *seen |= ST_HAS_DTYPE;
  } else if (!strcmp(fname, "shape")) {
    uint64_t sh[NS_MAX_DIMS];
    good = juint_array(j, sh, NS_MAX_DIMS, &e->ndim);
    for (int d = 0; good && d < e->ndim; d++) {
      if (sh[d] > (uint64_t)INT64_MAX) good = jfail(j, "dimension too large");
      e->shape[d] = (int64_t)sh[d];
    }
    *seen |= ST_HAS_SHAPE;
  } else if (!strcmp(fname, "data_offsets")) {
    uint64_t off[2];
    int n = 0;
    good = juint_array(j, off, 2, &n);
    if (good && n != 2) good = jfail(j, "data_offsets needs two integers");
    if (good) e->begin = off[0], e->end = off[1];
    *seen |= ST_HAS_OFFSETS;
  } else {
    *unknown = true;
    return STFAIL("tensor `%s`: unknown field `%s`", path, e->name, fname);
  }
  return good;
}

/* {dtype, shape, data_offsets} of tensor e, all three required. */
static bool st_parse_fields(VM *vm, const char *path, Json *j, StEntry *e, char *dtname, StrBuf *sval) {
  if (!jlit(j, '{')) return STFAIL("tensor `%s`: expected an object {dtype, shape, data_offsets}", path, e->name);
  int seen = 0;
  if (!jlit(j, '}')) {
    do {
      StrBuf fk = {0};
      if (!jstring(j, &fk) || !jlit(j, ':')) {
        strbuf_free(&fk);
        jfail(j, "expected a field name and `:`");
        return STFAIL("tensor `%s`: %s", path, e->name, j->err);
      }
      bool unknown = false;
      bool good = st_parse_field(vm, path, j, e, fk.data ? fk.data : "", dtname, sval, &seen, &unknown);
      strbuf_free(&fk);
      if (unknown) return false;
      if (!good) return STFAIL("tensor `%s`: %s", path, e->name, j->err);
    } while (jlit(j, ','));
    if (!jlit(j, '}')) {
      jfail(j, "expected `,` or `}`");
      return STFAIL("tensor `%s`: %s", path, e->name, j->err);
    }
  }
  if (seen != (ST_HAS_DTYPE | ST_HAS_SHAPE | ST_HAS_OFFSETS))
    return STFAIL("tensor `%s`: missing `%s`", path, e->name,
                  !(seen & ST_HAS_DTYPE) ? "dtype" : !(seen & ST_HAS_SHAPE) ? "shape" : "data_offsets");
  return true;
}

/* A supported dtype, and data_offsets that span exactly the bytes of the
 * shape and end inside the data (dlen bytes). */
static bool st_check_entry(VM *vm, const char *path, StEntry *e, const char *dtname, uint64_t dlen) {
  e->dt = DT__COUNT;
  for (int d = 0; d < DT__COUNT; d++)
    if (!strcmp(dtname, st_dtype_names[d])) e->dt = (DType)d;
  if (e->dt == DT__COUNT)
    return STFAIL("tensor `%s`: unsupported dtype %s (supported: F32, F64, I64, BOOL)", path, e->name, dtname);
  char sh[NS_MAX_DIMS * 22 + 4];
  lib_shape_str(e->shape, e->ndim, sh, sizeof sh);
  int64_t numel = lib_shape_numel(e->shape, e->ndim, st_dtype_sizes[e->dt]);
  if (numel < 0) return STFAIL("tensor `%s`: shape %s has too many elements", path, e->name, sh);
  uint64_t want = (uint64_t)numel * st_dtype_sizes[e->dt];
  if (e->end < e->begin || e->end - e->begin != want)
    return STFAIL("tensor `%s`: data_offsets [%llu, %llu] do not match shape %s of %s (%llu bytes)", path,
                  e->name, (unsigned long long)e->begin, (unsigned long long)e->end, sh, dtname,
                  (unsigned long long)want);
  if (e->end > dlen)
    return STFAIL("truncated: tensor `%s`: data_offsets [%llu, %llu] reach past the end of the data (%llu bytes)",
                  path, e->name, (unsigned long long)e->begin, (unsigned long long)e->end,
                  (unsigned long long)dlen);
  return true;
}

/* Tensor `name`: a new entry of h, parsed and checked. */
static bool st_parse_entry(VM *vm, const char *path, Json *j, StHeader *h, const char *name, StrBuf *sval) {
  if (h->nents == h->cap) {
    h->cap = h->cap ? h->cap * 2 : 16;
    StEntry *ne = realloc(h->ents, (size_t)h->cap * sizeof *h->ents);
    if (!ne) return STFAIL("out of memory", path);
    h->ents = ne;
  }
  StEntry *e = &h->ents[h->nents];
  memset(e, 0, sizeof *e);
  e->name = strdup(name);
  if (!e->name) return STFAIL("out of memory", path);
  h->nents++;
  char dtname[16] = "";
  return st_parse_fields(vm, path, j, e, dtname, sval) && st_check_entry(vm, path, e, dtname, h->dlen);
}

/* header -> '{' [key ':' (tensor | metadata) {',' ...}] '}' and nothing
 * after it; key and sval are scratch buffers. */
static bool st_parse_object(VM *vm, const char *path, Json *j, StHeader *h, StrBuf *key, StrBuf *sval) {
  if (!jlit(j, '{')) return STFAIL("%s", path, "the header is not a JSON object");
  bool empty = jlit(j, '}');
  while (!empty) {
    key->len = 0;
    if (key->data) key->data[0] = '\0';
    if (!jstring(j, key) || !jlit(j, ':')) {
      jfail(j, "expected `:` after a key");
      return STFAIL("%s", path, j->err);
    }
    const char *kname = key->data ? key->data : "";
    if (!strcmp(kname, "__metadata__")) {
      if (!st_parse_metadata(vm, path, j, h->meta, sval)) return false;
    } else if (!st_parse_entry(vm, path, j, h, kname, sval)) {
      return false;
    }
    if (jlit(j, ',')) continue;
    if (jlit(j, '}')) break;
    jfail(j, "expected `,` or `}`");
    return STFAIL("%s", path, j->err);
  }
  jws(j);
  if (j->p != j->end) return STFAIL("unexpected bytes after the JSON header", path);
  if (key->oom || sval->oom) return STFAIL("out of memory", path);
  return true;
}

static bool st_parse_header(VM *vm, const char *path, Json *j, StHeader *h) {
  StrBuf key = {0}, sval = {0};
  bool ok = st_parse_object(vm, path, j, h, &key, &sval);
  strbuf_free(&key);
  strbuf_free(&sval);
  return ok;
}

/* No name twice, and sorted by offset the tensors tile the data exactly. */
static bool st_check_layout(VM *vm, const char *path, const StHeader *h) {
  int dup;
  if (!st_find_duplicate(h->ents, h->nents, &dup)) return STFAIL("out of memory", path);
  if (dup >= 0) return STFAIL("tensor `%s` appears twice in the header", path, h->ents[dup].name);
  StEntry **order = malloc((h->nents > 0 ? (size_t)h->nents : 1) * sizeof *order);
  if (!order) return STFAIL("out of memory", path);
  for (int i = 0; i < h->nents; i++) order[i] = &h->ents[i];
  qsort(order, (size_t)h->nents, sizeof *order, entry_by_begin);
  uint64_t pos = 0;
  bool ok = true;
  for (int i = 0; i < h->nents && ok; i++) {
    StEntry *e = order[i];
    if (e->begin < pos)
      ok = STFAIL("tensor `%s`: data_offsets [%llu, %llu] overlap tensor `%s`", path, e->name,
                  (unsigned long long)e->begin, (unsigned long long)e->end, order[i - 1]->name);
    else if (e->begin > pos)
      ok = STFAIL("the data has a gap of %llu bytes before tensor `%s`", path,
                  (unsigned long long)(e->begin - pos), e->name);
    else if (e->end > pos)
      pos = e->end;
  }
  free(order);
  if (ok && pos != h->dlen)
    ok = STFAIL("%llu bytes of data after the last tensor", path, (unsigned long long)(h->dlen - pos));
  return ok;
}

/* ---- the tensor builder ----------------------------------------------------- */

/* Tensor e from the data at dbase, into res under its name. */
static bool st_add_tensor(VM *vm, const char *path, ObjMap *res, const StEntry *e, const unsigned char *dbase) {
  ObjTensor *t = tensor_new(vm->tc, e->dt, e->ndim, e->shape);
  if (!t) return false;
  vm_push_root(vm, OBJ_VAL(t));
  const unsigned char *src = dbase + e->begin;
  if (e->dt == DT_BOOL) {
    for (int64_t k = 0; k < t->numel; k++) {
      if (src[k] > 1) {
        vm_pop_root(vm, 1);
        return STFAIL("tensor `%s`: BOOL byte %lld is %d, not 0 or 1", path, e->name, (long long)k, src[k]);
      }
      ((unsigned char *)tensor_data(t))[k] = src[k];
    }
  } else {
    memcpy(tensor_data(t), src, e->end - e->begin);
  }
  ObjString *name = str_copy(vm, e->name, strlen(e->name));
  vm_push_root(vm, OBJ_VAL(name));
  map_set(vm, res, OBJ_VAL(name), OBJ_VAL(t));
  vm_pop_root(vm, 2);
  return true;
}

/* HashMap name -> Tensor of a checked header, plus "__metadata__". */
static bool st_build(VM *vm, const char *path, const StHeader *h, const unsigned char *dbase, Value *out) {
  ObjMap *res = map_new(vm);
  vm_push_root(vm, OBJ_VAL(res));
  for (int i = 0; i < h->nents; i++) {
    if (!st_add_tensor(vm, path, res, &h->ents[i], dbase)) {
      vm_pop_root(vm, 1);
      return false;
    }
  }
  ObjString *mk = str_cstr(vm, "__metadata__");
  vm_push_root(vm, OBJ_VAL(mk));
  map_set(vm, res, OBJ_VAL(mk), OBJ_VAL(h->meta));
  vm_pop_root(vm, 2);
  *out = OBJ_VAL(res);
  return true;
}

/* (lib_data.h) */
bool lib_checkpoint_parse_safetensors(VM *vm, const char *path, const unsigned char *buf, size_t fsize, Value *out) {
  uint64_t hlen = 0;
  if (!st_header_length(vm, path, buf, fsize, &hlen)) return false;
  StHeader h = {0};
  h.dlen = fsize - 8 - hlen;
  h.meta = map_new(vm);
  vm_push_root(vm, OBJ_VAL(h.meta));
  Json j = {(const char *)buf + 8, (const char *)buf + 8 + hlen, (const char *)buf + 8, {0}};
  bool ok = st_parse_header(vm, path, &j, &h) && st_check_layout(vm, path, &h) &&
            st_build(vm, path, &h, buf + 8 + hlen, out);
  vm_pop_root(vm, 1);
  for (int i = 0; i < h.nents; i++) free(h.ents[i].name);
  free(h.ents);
  return ok;
}
