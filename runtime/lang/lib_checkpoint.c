/* Checkpoint files in the safetensors format (huggingface/safetensors), so
 * weights saved here load in Python with safetensors.torch.load_file, and
 * is_tty() and flush() for the training progress display. stdlib/checkpoint.ns builds
 * model/optimizer checkpoints on top of the two natives:
 *
 *   save_safetensors(path, tensors, metadata = {})
 *       tensors: HashMap name -> Tensor (written in the map's order);
 *       metadata: HashMap name -> value (each value stored as its display
 *       string, since safetensors metadata values are strings).
 *   load_safetensors(path) -> HashMap name -> Tensor, plus the entry
 *       "__metadata__" -> HashMap name -> String (empty when the file has
 *       none); the name "__metadata__" is reserved by the format, so it
 *       never collides with a tensor.
 *
 * Layout: u64 little-endian N, then N bytes of UTF-8 JSON
 *   {"w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}, ...,
 *    "__metadata__": {"step": "10"}}
 * padded with spaces to a multiple of 8 (as the reference writer does),
 * then the raw little-endian data; offsets are relative to the data start.
 * Dtypes F32, F64, I64 and BOOL (one byte, 0 or 1) are supported.
 *
 * Writes are atomic: PATH.tmp.<pid> is written, flushed and fsynced, then
 * renamed over PATH and the directory fsynced; on any failure the temporary
 * file is removed and the previous PATH is untouched. A PATH that exists
 * and is not a regular file (a directory, /dev/full, a FIFO) is refused; a
 * symbolic link is followed and the file it points to replaced
 * (lib_save_target in lib_data.c). Header strings (names, metadata) must be
 * valid UTF-8 without NUL, or the file is refused. Reads check every
 * field against the bytes that are there and report the first problem,
 * naming the path and the tensor. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builtins.h"
#include "lib_data.h"
#include "lib_tensor.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors data is little-endian; this file writes host-order bytes"
#endif

/* The reference implementation refuses headers above 100 MB. */
#define ST_MAX_HEADER (100u * 1024u * 1024u)

static const char *const st_dtype_names[DT__COUNT] = {"F32", "F64", "I64", "BOOL"};
static const size_t st_dtype_sizes[DT__COUNT] = {4, 8, 8, 1};

/* ---- writing -------------------------------------------------------------- */

/* A JSON string literal (quotes, backslashes and control bytes escaped;
 * UTF-8 passes through). */
static void json_str(StrBuf *sb, const char *s, size_t n) {
  strbuf_addc(sb, '"');
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\\') {
      strbuf_addc(sb, '\\');
      strbuf_addc(sb, (char)c);
    } else if (c < 0x20) {
      strbuf_printf(sb, "\\u%04x", c);
    } else {
      strbuf_addc(sb, (char)c);
    }
  }
  strbuf_addc(sb, '"');
}

static bool write_all(int fd, const void *p, size_t n) {
  const char *c = p;
  while (n > 0) {
    ssize_t w = write(fd, c, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    c += w;
    n -= (size_t)w;
  }
  return true;
}

/* fsync the directory holding path so the rename itself is durable. */
static void sync_dir(const char *path) {
  const char *slash = strrchr(path, '/');
  char dir[PATH_MAX];
  if (!slash) strcpy(dir, ".");
  else if (slash == path) strcpy(dir, "/");
  else {
    size_t n = (size_t)(slash - path);
    if (n >= sizeof dir) return;
    memcpy(dir, path, n);
    dir[n] = '\0';
  }
  int fd = open(dir, O_RDONLY | O_DIRECTORY);
  if (fd < 0) return;
  fsync(fd);
  close(fd);
}

/* save_safetensors(path, tensors, metadata = {}) */
static bool nat_save_safetensors(VM *vm, Value *args, int argc, Value *out) {
  ObjString *ps;
  if (!lib_str_arg(vm, args[0], "save_safetensors", &ps)) return false;
  const char *path = ps->chars;
  if (!IS_OBJ_TYPE(args[1], OBJ_MAP))
    return vm_error(vm, "save_safetensors: expected a HashMap of name -> tensor, got %s", value_type_name(args[1]));
  ObjMap *tm = AS_MAP(args[1]);
  ObjMap *mm = NULL;
  if (argc > 2 && !IS_UNIT(args[2]) && !IS_UNDEF(args[2])) {
    if (!IS_OBJ_TYPE(args[2], OBJ_MAP))
      return vm_error(vm, "save_safetensors: metadata must be a HashMap, got %s", value_type_name(args[2]));
    mm = AS_MAP(args[2]);
  }

  /* Contiguous copies of the tensors, kept alive in a list while the
   * header is built (format_value below may allocate). */
  ObjList *data = list_new(vm, tm->count);
  vm_push_root(vm, OBJ_VAL(data));
  StrBuf sb = {0};
  bool ok = true;
  strbuf_addc(&sb, '{');
  uint64_t offset = 0;
  bool first = true;
  for (uint32_t i = 0; ok && i < tm->nentries; i++) {
    Value k = tm->keys[i], v = tm->values[i];
    if (IS_UNDEF(k)) continue;
    if (!IS_STRING(k)) {
      ok = vm_error(vm, "save_safetensors: tensor names must be strings, got %s", value_type_name(k));
      break;
    }
    ObjString *name = AS_STRING(k);
    if (!strcmp(name->chars, "__metadata__")) {
      ok = vm_error(vm, "save_safetensors: the name `__metadata__` is reserved for the metadata");
      break;
    }
    if (!IS_TENSOR(v)) {
      ok = vm_error(vm, "save_safetensors: `%s` is a %s, not a tensor", name->chars, value_type_name(v));
      break;
    }
    ObjTensor *t = tensor_contiguous(vm->tc, AS_TENSOR(v));
    if (!t) {
      ok = false;
      break;
    }
    list_push(vm, data, OBJ_VAL(t));
    uint64_t nbytes = (uint64_t)t->numel * st_dtype_sizes[t->dtype];
    if (!first) strbuf_addc(&sb, ',');
    first = false;
    json_str(&sb, name->chars, name->len);
    strbuf_printf(&sb, ":{\"dtype\":\"%s\",\"shape\":[", st_dtype_names[t->dtype]);
    for (int d = 0; d < t->ndim; d++) strbuf_printf(&sb, "%s%lld", d ? "," : "", (long long)t->shape[d]);
    strbuf_printf(&sb, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)offset,
                  (unsigned long long)(offset + nbytes));
    offset += nbytes;
  }
  if (ok && mm && mm->count > 0) {
    if (!first) strbuf_addc(&sb, ',');
    strbuf_adds(&sb, "\"__metadata__\":{");
    bool mfirst = true;
    for (uint32_t i = 0; ok && i < mm->nentries; i++) {
      Value k = mm->keys[i], v = mm->values[i];
      if (IS_UNDEF(k)) continue;
      if (!IS_STRING(k)) {
        ok = vm_error(vm, "save_safetensors: metadata keys must be strings, got %s", value_type_name(k));
        break;
      }
      ObjString *s = format_value(vm, v, false);
      if (!s) {
        ok = false;
        break;
      }
      if (!mfirst) strbuf_addc(&sb, ',');
      mfirst = false;
      json_str(&sb, AS_STRING(k)->chars, AS_STRING(k)->len);
      strbuf_addc(&sb, ':');
      json_str(&sb, s->chars, s->len);
    }
    strbuf_addc(&sb, '}');
  }
  strbuf_addc(&sb, '}');
  while (ok && sb.len % 8) strbuf_addc(&sb, ' ');
  if (ok && sb.oom) ok = vm_error(vm, "save_safetensors: out of memory");
  if (!ok) {
    strbuf_free(&sb);
    vm_pop_root(vm, 1);
    return false;
  }

  char target[PATH_MAX], tmp[PATH_MAX + 32], terr[PATH_MAX + 128];
  if (!lib_save_target(path, target, sizeof target, terr, sizeof terr)) {
    strbuf_free(&sb);
    vm_pop_root(vm, 1);
    return vm_error(vm, "save_safetensors: %s", terr);
  }
  snprintf(tmp, sizeof tmp, "%s.tmp.%ld", target, (long)getpid());
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) {
    int err = errno;
    strbuf_free(&sb);
    vm_pop_root(vm, 1);
    return vm_error(vm, "save_safetensors: cannot write %s: %s", path, strerror(err));
  }
  unsigned char len8[8];
  uint64_t hl = sb.len;
  for (int i = 0; i < 8; i++) len8[i] = (unsigned char)(hl >> (8 * i));
  ok = write_all(fd, len8, 8) && write_all(fd, sb.data, sb.len);
  for (uint32_t i = 0; ok && i < data->len; i++) {
    ObjTensor *t = AS_TENSOR(data->items[i]);
    ok = write_all(fd, tensor_data(t), (size_t)t->numel * st_dtype_sizes[t->dtype]);
  }
  int err = ok ? 0 : errno;
  if (ok && fsync(fd) != 0) {
    err = errno;
    ok = false;
  }
  if (close(fd) != 0 && ok) {
    err = errno;
    ok = false;
  }
  if (ok && rename(tmp, target) != 0) {
    err = errno;
    ok = false;
  }
  strbuf_free(&sb);
  vm_pop_root(vm, 1);
  if (!ok) {
    unlink(tmp);
    return vm_error(vm, "save_safetensors: cannot write %s: %s", path, strerror(err ? err : EIO));
  }
  sync_dir(target);
  *out = UNIT_VAL;
  return true;
}

/* ---- reading: a JSON subset parser ----------------------------------------
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

#define LFAIL(...)                                                     \
  do {                                                                 \
    vm_error(vm, "load_safetensors: %s: " __VA_ARGS__);                \
    goto fail;                                                         \
  } while (0)

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

/* load_safetensors(path) -> HashMap (see the top of the file) */
static bool nat_load_safetensors(VM *vm, Value *args, int argc, Value *out) {
  (void)argc;
  ObjString *ps;
  if (!lib_str_arg(vm, args[0], "load_safetensors", &ps)) return false;
  LibBytes b;
  char err[PATH_MAX + 128];
  if (!lib_read_input(ps->chars, &b, err, sizeof err)) return vm_error(vm, "load_safetensors: %s", err);
  bool ok = lib_checkpoint_parse_safetensors(vm, ps->chars, b.data, b.len, out);
  free(b.data);
  return ok;
}

bool lib_checkpoint_parse_safetensors(VM *vm, const char *path, const unsigned char *buf, size_t fsize, Value *out) {
  StEntry *ents = NULL, **order = NULL;
  int nents = 0, cap = 0;
  StrBuf key = {0}, sval = {0};
  ObjMap *meta = NULL;
  int rooted = 0;

  if (fsize < 8) LFAIL("truncated: %llu bytes, too short for the 8-byte header length", path,
                       (unsigned long long)fsize);
  uint64_t hlen = 0;
  for (int i = 7; i >= 0; i--) hlen = hlen << 8 | buf[i];
  if (hlen > ST_MAX_HEADER) LFAIL("header length %llu is not plausible (not a safetensors file?)", path,
                                  (unsigned long long)hlen);
  if (hlen > fsize - 8)
    LFAIL("truncated: the header length is %llu bytes but only %llu follow", path, (unsigned long long)hlen,
          (unsigned long long)(fsize - 8));
  if (hlen < 2 || buf[8] != '{') LFAIL("the header is not a JSON object (not a safetensors file?)", path);
  const unsigned char *dbase = buf + 8 + hlen;
  uint64_t dlen = fsize - 8 - hlen;

  meta = map_new(vm);
  vm_push_root(vm, OBJ_VAL(meta));
  rooted++;

  Json j = {(const char *)buf + 8, (const char *)buf + 8 + hlen, (const char *)buf + 8, {0}};
  if (!jlit(&j, '{')) LFAIL("%s", path, "the header is not a JSON object");
  bool empty = jlit(&j, '}');
  while (!empty) {
    key.len = 0;
    if (key.data) key.data[0] = '\0';
    if (!jstring(&j, &key) || !jlit(&j, ':')) {
      jfail(&j, "expected `:` after a key");
      LFAIL("%s", path, j.err);
    }
    const char *kname = key.data ? key.data : "";
    if (!strcmp(kname, "__metadata__")) {
      if (!jlit(&j, '{')) LFAIL("`__metadata__` must be an object of strings", path);
      if (!jlit(&j, '}')) {
        do {
          StrBuf mk = {0};
          sval.len = 0;
          if (sval.data) sval.data[0] = '\0';
          bool good = jstring(&j, &mk) && jlit(&j, ':');
          jws(&j);
          if (good && (j.p >= j.end || *j.p != '"')) {
            strbuf_free(&mk);
            LFAIL("`__metadata__` values must be strings", path);
          }
          good = good && jstring(&j, &sval);
          if (!good) {
            strbuf_free(&mk);
            jfail(&j, "bad `__metadata__` entry");
            LFAIL("%s", path, j.err);
          }
          ObjString *ks = str_copy(vm, mk.data ? mk.data : "", mk.len);
          strbuf_free(&mk);
          vm_push_root(vm, OBJ_VAL(ks));
          ObjString *vs = str_copy(vm, sval.data ? sval.data : "", sval.len);
          vm_push_root(vm, OBJ_VAL(vs));
          map_set(vm, meta, OBJ_VAL(ks), OBJ_VAL(vs));
          vm_pop_root(vm, 2);
        } while (jlit(&j, ','));
        if (!jlit(&j, '}')) {
          jfail(&j, "expected `,` or `}` in `__metadata__`");
          LFAIL("%s", path, j.err);
        }
      }
    } else {
      if (nents == cap) {
        cap = cap ? cap * 2 : 16;
        StEntry *ne = realloc(ents, (size_t)cap * sizeof *ents);
        if (!ne) LFAIL("out of memory", path);
        ents = ne;
      }
      StEntry *e = &ents[nents];
      memset(e, 0, sizeof *e);
      e->name = strdup(kname);
      if (!e->name) LFAIL("out of memory", path);
      nents++;
      if (!jlit(&j, '{')) LFAIL("tensor `%s`: expected an object {dtype, shape, data_offsets}", path, e->name);
      bool has_dt = false, has_shape = false, has_off = false;
      char dtname[16] = "";
      if (!jlit(&j, '}')) {
        do {
          StrBuf fk = {0};
          if (!jstring(&j, &fk) || !jlit(&j, ':')) {
            strbuf_free(&fk);
            jfail(&j, "expected a field name and `:`");
            LFAIL("tensor `%s`: %s", path, e->name, j.err);
          }
          const char *fname = fk.data ? fk.data : "";
          bool good = true;
          if (!strcmp(fname, "dtype")) {
            sval.len = 0;
            if (sval.data) sval.data[0] = '\0';
            good = jstring(&j, &sval);
            if (good) snprintf(dtname, sizeof dtname, "%s", sval.data ? sval.data : "");
            has_dt = true;
          } else if (!strcmp(fname, "shape")) {
            uint64_t sh[NS_MAX_DIMS];
            good = juint_array(&j, sh, NS_MAX_DIMS, &e->ndim);
            for (int d = 0; good && d < e->ndim; d++) {
              if (sh[d] > (uint64_t)INT64_MAX) good = jfail(&j, "dimension too large");
              e->shape[d] = (int64_t)sh[d];
            }
            has_shape = true;
          } else if (!strcmp(fname, "data_offsets")) {
            uint64_t off[2];
            int n = 0;
            good = juint_array(&j, off, 2, &n);
            if (good && n != 2) good = jfail(&j, "data_offsets needs two integers");
            if (good) e->begin = off[0], e->end = off[1];
            has_off = true;
          } else {
            vm_error(vm, "load_safetensors: %s: tensor `%s`: unknown field `%s`", path, e->name, fname);
            strbuf_free(&fk);
            goto fail;
          }
          strbuf_free(&fk);
          if (!good) LFAIL("tensor `%s`: %s", path, e->name, j.err);
        } while (jlit(&j, ','));
        if (!jlit(&j, '}')) {
          jfail(&j, "expected `,` or `}`");
          LFAIL("tensor `%s`: %s", path, e->name, j.err);
        }
      }
      if (!has_dt || !has_shape || !has_off)
        LFAIL("tensor `%s`: missing `%s`", path, e->name, !has_dt ? "dtype" : !has_shape ? "shape" : "data_offsets");
      e->dt = DT__COUNT;
      for (int d = 0; d < DT__COUNT; d++)
        if (!strcmp(dtname, st_dtype_names[d])) e->dt = (DType)d;
      if (e->dt == DT__COUNT)
        LFAIL("tensor `%s`: unsupported dtype %s (supported: F32, F64, I64, BOOL)", path, e->name, dtname);
      char sh[NS_MAX_DIMS * 22 + 4];
      lib_shape_str(e->shape, e->ndim, sh, sizeof sh);
      int64_t numel = lib_shape_numel(e->shape, e->ndim, st_dtype_sizes[e->dt]);
      if (numel < 0) LFAIL("tensor `%s`: shape %s has too many elements", path, e->name, sh);
      uint64_t want = (uint64_t)numel * st_dtype_sizes[e->dt];
      if (e->end < e->begin || e->end - e->begin != want)
        LFAIL("tensor `%s`: data_offsets [%llu, %llu] do not match shape %s of %s (%llu bytes)", path, e->name,
              (unsigned long long)e->begin, (unsigned long long)e->end, sh, dtname, (unsigned long long)want);
      if (e->end > dlen)
        LFAIL("truncated: tensor `%s`: data_offsets [%llu, %llu] reach past the end of the data (%llu bytes)", path,
              e->name, (unsigned long long)e->begin, (unsigned long long)e->end, (unsigned long long)dlen);
    }
    if (jlit(&j, ',')) continue;
    if (jlit(&j, '}')) break;
    jfail(&j, "expected `,` or `}`");
    LFAIL("%s", path, j.err);
  }
  jws(&j);
  if (j.p != j.end) LFAIL("unexpected bytes after the JSON header", path);
  if (key.oom || sval.oom) LFAIL("out of memory", path);

  int dup;
  if (!st_find_duplicate(ents, nents, &dup)) LFAIL("out of memory", path);
  if (dup >= 0) LFAIL("tensor `%s` appears twice in the header", path, ents[dup].name);

  /* Sorted by offset, the tensors must tile the data exactly. */
  order = malloc((nents > 0 ? (size_t)nents : 1) * sizeof *order);
  if (!order) LFAIL("out of memory", path);
  for (int i = 0; i < nents; i++) order[i] = &ents[i];
  qsort(order, (size_t)nents, sizeof *order, entry_by_begin);
  uint64_t pos = 0;
  for (int i = 0; i < nents; i++) {
    StEntry *e = order[i];
    if (e->begin < pos)
      LFAIL("tensor `%s`: data_offsets [%llu, %llu] overlap tensor `%s`", path, e->name,
            (unsigned long long)e->begin, (unsigned long long)e->end, order[i - 1]->name);
    if (e->begin > pos)
      LFAIL("the data has a gap of %llu bytes before tensor `%s`", path, (unsigned long long)(e->begin - pos),
            e->name);
    if (e->end > pos) pos = e->end;
  }
  if (pos != dlen) LFAIL("%llu bytes of data after the last tensor", path, (unsigned long long)(dlen - pos));

  ObjMap *res = map_new(vm);
  vm_push_root(vm, OBJ_VAL(res));
  rooted++;
  for (int i = 0; i < nents; i++) {
    StEntry *e = &ents[i];
    ObjTensor *t = tensor_new(vm->tc, e->dt, e->ndim, e->shape);
    if (!t) goto fail;
    vm_push_root(vm, OBJ_VAL(t));
    const unsigned char *src = dbase + e->begin;
    if (e->dt == DT_BOOL) {
      for (int64_t k = 0; k < t->numel; k++) {
        if (src[k] > 1) {
          vm_pop_root(vm, 1);
          LFAIL("tensor `%s`: BOOL byte %lld is %d, not 0 or 1", path, e->name, (long long)k, src[k]);
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
  }
  ObjString *mk = str_cstr(vm, "__metadata__");
  vm_push_root(vm, OBJ_VAL(mk));
  map_set(vm, res, OBJ_VAL(mk), OBJ_VAL(meta));
  vm_pop_root(vm, 1);
  *out = OBJ_VAL(res);
  vm_pop_root(vm, rooted);
  for (int i = 0; i < nents; i++) free(ents[i].name);
  free(ents);
  free(order);
  strbuf_free(&key);
  strbuf_free(&sval);
  return true;
fail:
  vm_pop_root(vm, rooted);
  for (int i = 0; i < nents; i++) free(ents[i].name);
  free(ents);
  free(order);
  strbuf_free(&key);
  strbuf_free(&sval);
  return false;
}

/* is_tty() -> bool: standard output is a terminal (progress bars redraw
 * in place with \r there, and print plain lines otherwise). */
static bool nat_is_tty(VM *vm, Value *args, int argc, Value *out) {
  (void)args, (void)argc;
  *out = BOOL_VAL(isatty(fileno(vm->out)) == 1);
  return true;
}

/* flush(): write out what print has buffered (a line redrawn with \r has
 * no newline to flush it). */
static bool nat_flush(VM *vm, Value *args, int argc, Value *out) {
  (void)args, (void)argc;
  fflush(vm->out);
  *out = UNIT_VAL;
  return true;
}

void lib_checkpoint_init(VM *vm) {
  lib_global(vm, "save_safetensors", nat_save_safetensors, 2, 3);
  lib_global(vm, "load_safetensors", nat_load_safetensors, 1, 1);
  lib_global(vm, "is_tty", nat_is_tty, 0, 0);
  lib_global(vm, "flush", nat_flush, 0, 0);
  rng_natives_init(vm);
}
