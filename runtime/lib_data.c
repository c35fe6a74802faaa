/* Data files as tensors: IDX (MNIST, Fashion-MNIST; gzip read directly),
 * NumPy .npy (read and write) and CSV. The natives are globals of the
 * prelude; stdlib/data.ns re-exports them.
 *
 * Every malformed file is a runtime error naming the function and the path
 * ("load_idx: train.gz: truncated: expected 47040016 bytes, got 1000"): a
 * loader never reads past what the header promises and never trusts a size
 * it has not checked against the bytes that are there. */
#define _POSIX_C_SOURCE 200809L /* getline */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "builtins.h"
#include "tensor.h"

/* Product of dims with an overflow check against INT64_MAX / elem. */
static bool shape_numel(const int64_t *shape, int ndim, size_t elem, int64_t *out) {
  int64_t n = 1;
  for (int i = 0; i < ndim; i++) {
    if (shape[i] < 0) return false;
    if (shape[i] && n > INT64_MAX / (int64_t)elem / shape[i]) return false;
    n *= shape[i];
  }
  *out = n;
  return true;
}

/* ---- IDX ---------------------------------------------------------------
 * Big-endian: magic 00 00 TYPE NDIM, NDIM u32 sizes, then the data in C
 * order. 1-D integer files are labels (i64); everything else becomes f32
 * (f64 files stay f64) with the raw values (no scaling). gzopen reads plain
 * and gzip-compressed files alike. */

typedef struct {
  int code;
  size_t size;
  const char *name;
} IdxType;

static const IdxType idx_types[] = {
    {0x08, 1, "u8"}, {0x09, 1, "i8"}, {0x0B, 2, "i16"}, {0x0C, 4, "i32"}, {0x0D, 4, "f32"}, {0x0E, 8, "f64"},
};

/* Read up to n bytes; returns the count, or -1 on a gzip error. */
static int64_t gz_read_all(gzFile f, void *buf, int64_t n) {
  int64_t got = 0;
  while (got < n) {
    int64_t want = n - got;
    if (want > (1 << 30)) want = 1 << 30;
    int r = gzread(f, (char *)buf + got, (unsigned)want);
    if (r < 0) return -1;
    if (r == 0) break;
    got += r;
  }
  return got;
}

static uint32_t be32(const unsigned char *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static double idx_value(const unsigned char *p, int code) {
  switch (code) {
  case 0x08: return p[0];
  case 0x09: return (int8_t)p[0];
  case 0x0B: return (int16_t)(uint16_t)(p[0] << 8 | p[1]);
  case 0x0C: return (int32_t)be32(p);
  case 0x0D: {
    uint32_t u = be32(p);
    float f;
    memcpy(&f, &u, 4);
    return f;
  }
  default: {
    uint64_t u = (uint64_t)be32(p) << 32 | be32(p + 4);
    double d;
    memcpy(&d, &u, 8);
    return d;
  }
  }
}

static bool gz_fail(VM *vm, gzFile f, const char *path) {
  int code;
  const char *msg = gzerror(f, &code);
  vm_error(vm, "load_idx: %s: corrupt gzip data (%s)", path, code == Z_ERRNO ? strerror(errno) : msg);
  gzclose(f);
  return false;
}

/* load_idx(path) -> Tensor */
static bool nat_load_idx(VM *vm, Value *args, int argc, Value *out) {
  (void)argc;
  ObjString *ps;
  if (!lib_str_arg(vm, args[0], "load_idx", &ps)) return false;
  const char *path = ps->chars;
  gzFile f = gzopen(path, "rb");
  if (!f) return vm_error(vm, "load_idx: cannot open %s: %s", path, strerror(errno ? errno : ENOENT));

  unsigned char head[4 + 4 * NS_MAX_DIMS];
  int64_t got = gz_read_all(f, head, 4);
  if (got < 0) return gz_fail(vm, f, path);
  if (got < 4) {
    gzclose(f);
    return vm_error(vm, "load_idx: %s: truncated: expected at least 4 bytes of header, got %lld", path,
                    (long long)got);
  }
  const IdxType *ty = NULL;
  for (size_t i = 0; i < sizeof idx_types / sizeof idx_types[0]; i++)
    if (idx_types[i].code == head[2]) ty = &idx_types[i];
  if (head[0] || head[1] || !ty || head[3] == 0 || head[3] > NS_MAX_DIMS) {
    gzclose(f);
    return vm_error(vm, "load_idx: %s: not an IDX file (magic 0x%02x%02x%02x%02x; expected 0x0000TTNN "
                    "with a type code 08-0E and 1 to %d dims)",
                    path, head[0], head[1], head[2], head[3], NS_MAX_DIMS);
  }
  int ndim = head[3];
  int64_t hdr = 4 + 4 * (int64_t)ndim;
  got = gz_read_all(f, head + 4, 4 * ndim);
  if (got < 0) return gz_fail(vm, f, path);
  if (got < 4 * ndim) {
    gzclose(f);
    return vm_error(vm, "load_idx: %s: truncated: expected %lld bytes of header, got %lld", path, (long long)hdr,
                    (long long)(4 + got));
  }
  int64_t shape[NS_MAX_DIMS], numel;
  for (int i = 0; i < ndim; i++) shape[i] = be32(head + 4 + 4 * i);
  if (!shape_numel(shape, ndim, ty->size, &numel)) {
    gzclose(f);
    return vm_error(vm, "load_idx: %s: the dims in the header are too large", path);
  }
  int64_t nbytes = numel * (int64_t)ty->size;
  unsigned char *buf = malloc(nbytes ? (size_t)nbytes : 1);
  if (!buf) {
    gzclose(f);
    return vm_error(vm, "load_idx: %s: out of memory for %lld bytes", path, (long long)nbytes);
  }
  got = gz_read_all(f, buf, nbytes);
  unsigned char extra;
  int64_t more = got == nbytes ? gz_read_all(f, &extra, 1) : 0;
  if (got < 0 || more < 0) {
    free(buf);
    return gz_fail(vm, f, path);
  }
  gzclose(f);
  if (got < nbytes || more > 0) {
    free(buf);
    if (more > 0)
      return vm_error(vm, "load_idx: %s: more data than the header declares (%lld bytes expected)", path,
                      (long long)(hdr + nbytes));
    return vm_error(vm, "load_idx: %s: truncated: expected %lld bytes, got %lld", path, (long long)(hdr + nbytes),
                    (long long)(hdr + got));
  }

  bool labels = ndim == 1 && ty->code != 0x0D && ty->code != 0x0E;
  DType dt = labels ? DT_I64 : ty->code == 0x0E ? DT_F64 : DT_F32;
  ObjTensor *t = tensor_new(vm, dt, ndim, shape);
  if (!t) {
    free(buf);
    return false;
  }
  void *dst = tensor_data(t);
  if (ty->code == 0x08) {
    /* the common case (every MNIST file): a tight loop the compiler vectorizes */
    if (dt == DT_I64)
      for (int64_t i = 0; i < numel; i++) ((int64_t *)dst)[i] = buf[i];
    else
      for (int64_t i = 0; i < numel; i++) ((float *)dst)[i] = buf[i];
  } else {
    for (int64_t i = 0; i < numel; i++) {
      double v = idx_value(buf + i * (int64_t)ty->size, ty->code);
      if (dt == DT_I64) ((int64_t *)dst)[i] = (int64_t)v;
      else if (dt == DT_F64) ((double *)dst)[i] = v;
      else ((float *)dst)[i] = (float)v;
    }
  }
  free(buf);
  *out = OBJ_VAL(t);
  return true;
}

/* ---- .npy --------------------------------------------------------------
 * "\x93NUMPY", major, minor, header length (u16 LE for 1.0, u32 LE for 2.0
 * and 3.0), then a Python dict literal
 *   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
 * padded with spaces and a newline so the data starts 64-byte aligned. */

static const struct {
  const char *descr;
  DType dt;
} npy_dtypes[] = {{"<f4", DT_F32}, {"<f8", DT_F64}, {"<i8", DT_I64}, {"|b1", DT_BOOL}};

/* The value text after 'key': in the header dict, or NULL. */
static const char *npy_field(const char *h, const char *key) {
  char pat[32];
  snprintf(pat, sizeof pat, "'%s'", key);
  const char *p = strstr(h, pat);
  if (!p) {
    snprintf(pat, sizeof pat, "\"%s\"", key);
    p = strstr(h, pat);
  }
  if (!p) return NULL;
  p += strlen(pat);
  while (*p == ' ') p++;
  if (*p != ':') return NULL;
  p++;
  while (*p == ' ') p++;
  return p;
}

#define NPY_FAIL(...)                      \
  do {                                     \
    vm_error(vm, "load_npy: " __VA_ARGS__); \
    goto fail;                             \
  } while (0)

/* load_npy(path) -> Tensor */
static bool nat_load_npy(VM *vm, Value *args, int argc, Value *out) {
  (void)argc;
  ObjString *ps;
  if (!lib_str_arg(vm, args[0], "load_npy", &ps)) return false;
  const char *path = ps->chars;
  FILE *f = fopen(path, "rb");
  if (!f) return vm_error(vm, "load_npy: cannot open %s: %s", path, strerror(errno));
  char *h = NULL;
  unsigned char pre[12];
  size_t got = fread(pre, 1, 10, f);
  if (got < 8 || memcmp(pre, "\x93NUMPY", 6) != 0) NPY_FAIL("%s: not a .npy file (no \\x93NUMPY magic)", path);
  int major = pre[6];
  size_t pre_len = major == 1 ? 10 : 12;
  if (major < 1 || major > 3) NPY_FAIL("%s: unsupported .npy format version %d.%d", path, pre[6], pre[7]);
  if (major > 1) got += fread(pre + 10, 1, 2, f);
  if (got < pre_len) NPY_FAIL("%s: truncated: the header is incomplete", path);
  uint32_t hlen = major == 1 ? (uint32_t)(pre[8] | pre[9] << 8)
                             : (uint32_t)pre[8] | (uint32_t)pre[9] << 8 | (uint32_t)pre[10] << 16 |
                                   (uint32_t)pre[11] << 24;
  if (hlen > (1u << 24)) NPY_FAIL("%s: header length %u is not plausible", path, hlen);
  h = malloc(hlen + 1);
  if (!h) NPY_FAIL("%s: out of memory", path);
  if (fread(h, 1, hlen, f) != hlen) NPY_FAIL("%s: truncated: the header is incomplete", path);
  h[hlen] = '\0';

  const char *d = npy_field(h, "descr");
  if (!d || (*d != '\'' && *d != '"')) NPY_FAIL("%s: the header has no 'descr'", path);
  char descr[16] = {0};
  size_t dl = 0;
  for (const char *q = d + 1; *q && *q != *d && dl < sizeof descr - 1; q++) descr[dl++] = *q;
  DType dt = DT__COUNT;
  for (size_t i = 0; i < sizeof npy_dtypes / sizeof npy_dtypes[0]; i++)
    if (!strcmp(descr, npy_dtypes[i].descr)) dt = npy_dtypes[i].dt;
  if (dt == DT__COUNT)
    NPY_FAIL("%s: unsupported dtype '%s' (supported: '<f4', '<f8', '<i8', '|b1'; convert with "
             "arr.astype(np.float32))",
             path, descr);

  const char *fo = npy_field(h, "fortran_order");
  if (!fo) NPY_FAIL("%s: the header has no 'fortran_order'", path);
  if (!strncmp(fo, "True", 4))
    NPY_FAIL("%s: Fortran-order arrays are not supported; save np.ascontiguousarray(arr) instead", path);

  const char *sp = npy_field(h, "shape");
  if (!sp || *sp != '(') NPY_FAIL("%s: the header has no 'shape' tuple", path);
  int64_t shape[NS_MAX_DIMS];
  int ndim = 0;
  for (const char *q = sp + 1;;) {
    while (*q == ' ' || *q == ',') q++;
    if (*q == ')') break;
    char *end;
    errno = 0;
    long long v = strtoll(q, &end, 10);
    if (end == q || errno || v < 0) NPY_FAIL("%s: malformed shape in the header", path);
    if (ndim == NS_MAX_DIMS) NPY_FAIL("%s: more than %d dims", path, NS_MAX_DIMS);
    shape[ndim++] = v;
    q = end;
    if (*q != ',' && *q != ')' && *q != ' ') NPY_FAIL("%s: malformed shape in the header", path);
  }
  size_t esz = tensor_dtype_sizes[dt];
  size_t fsz = dt == DT_BOOL ? 1 : dt == DT_F32 ? 4 : 8;
  int64_t numel;
  if (!shape_numel(shape, ndim, fsz, &numel)) NPY_FAIL("%s: the shape in the header is too large", path);
  int64_t nbytes = numel * (int64_t)fsz;

  ObjTensor *t = tensor_new(vm, dt, ndim, shape);
  if (!t) goto fail;
  void *dst = tensor_data(t);
  size_t n;
  if (esz == fsz) {
    n = fread(dst, 1, (size_t)nbytes, f);
  } else {
    /* bool stored wider than one byte */
    n = 0;
    for (int64_t i = 0; i < numel; i++) {
      int c = fgetc(f);
      if (c == EOF) break;
      memset((char *)dst + i * (int64_t)esz, 0, esz);
      *((char *)dst + i * (int64_t)esz) = c != 0;
      n++;
    }
  }
  if ((int64_t)n < nbytes)
    NPY_FAIL("%s: truncated: expected %lld bytes of data, got %lld", path, (long long)nbytes, (long long)n);
  if (dt == DT_BOOL && esz == 1)
    for (int64_t i = 0; i < numel; i++) ((unsigned char *)dst)[i] = ((unsigned char *)dst)[i] != 0;
  free(h);
  fclose(f);
  *out = OBJ_VAL(t);
  return true;
fail:
  free(h);
  fclose(f);
  return false;
}

/* save_npy(path, tensor): format 1.0, C order; written to PATH.tmp and
 * renamed so a failed save never leaves a half-written file at PATH. */
static bool nat_save_npy(VM *vm, Value *args, int argc, Value *out) {
  (void)argc;
  ObjString *ps;
  if (!lib_str_arg(vm, args[0], "save_npy", &ps)) return false;
  if (!IS_TENSOR(args[1])) return vm_error(vm, "save_npy expects a tensor, got %s", value_type_name(args[1]));
  const char *path = ps->chars;
  ObjTensor *t = tensor_contiguous(vm, AS_TENSOR(args[1]));
  if (!t) return false;
  const char *descr = t->dtype == DT_F32 ? "<f4" : t->dtype == DT_F64 ? "<f8" : t->dtype == DT_I64 ? "<i8" : "|b1";

  char dict[512];
  int len = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (", descr);
  for (int i = 0; i < t->ndim; i++)
    len += snprintf(dict + len, sizeof dict - (size_t)len, "%lld%s", (long long)t->shape[i],
                    t->ndim == 1 ? "," : i + 1 < t->ndim ? ", " : "");
  len += snprintf(dict + len, sizeof dict - (size_t)len, "), }");
  size_t total = 10 + (size_t)len + 1;
  size_t pad = (64 - total % 64) % 64;
  unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 0, 0};
  size_t hlen = (size_t)len + pad + 1;
  pre[8] = (unsigned char)(hlen & 0xff);
  pre[9] = (unsigned char)(hlen >> 8);

  size_t plen = strlen(path);
  char *tmp = malloc(plen + 5);
  if (!tmp) return vm_error(vm, "save_npy: out of memory");
  memcpy(tmp, path, plen);
  memcpy(tmp + plen, ".tmp", 5);
  FILE *f = fopen(tmp, "wb");
  if (!f) {
    vm_error(vm, "save_npy: cannot open %s: %s", tmp, strerror(errno));
    free(tmp);
    return false;
  }
  bool ok = fwrite(pre, 1, 10, f) == 10 && fwrite(dict, 1, (size_t)len, f) == (size_t)len;
  for (size_t i = 0; ok && i < pad; i++) ok = fputc(' ', f) != EOF;
  ok = ok && fputc('\n', f) != EOF;
  size_t esz = tensor_dtype_sizes[t->dtype];
  if (ok && t->dtype == DT_BOOL && esz != 1) {
    for (int64_t i = 0; ok && i < t->numel; i++) ok = fputc(tensor_get(t, i) != 0, f) != EOF;
  } else if (ok) {
    ok = fwrite(tensor_data(t), esz, (size_t)t->numel, f) == (size_t)t->numel;
  }
  int err = errno;
  if (fclose(f) != 0) ok = false;
  if (ok && rename(tmp, path) != 0) {
    err = errno;
    ok = false;
  }
  if (!ok) {
    remove(tmp);
    vm_error(vm, "save_npy: cannot write %s: %s", path, strerror(err ? err : EIO));
  }
  free(tmp);
  *out = UNIT_VAL;
  return ok;
}

/* ---- CSV ---------------------------------------------------------------
 * Comma-separated numbers, one row per line (CRLF accepted, blank lines
 * skipped, spaces around fields ignored); every row has the first row's
 * column count. The result is f32 [rows, cols]. */

typedef struct {
  float *v;
  int64_t len, cap;
} FloatVec;

static bool fv_push(FloatVec *fv, float x) {
  if (fv->len == fv->cap) {
    int64_t cap = fv->cap ? fv->cap * 2 : 1024;
    float *nv = realloc(fv->v, (size_t)cap * sizeof(float));
    if (!nv) return false;
    fv->v = nv;
    fv->cap = cap;
  }
  fv->v[fv->len++] = x;
  return true;
}

/* load_csv(path, header = true) -> Tensor */
static bool nat_load_csv(VM *vm, Value *args, int argc, Value *out) {
  ObjString *ps;
  if (!lib_str_arg(vm, args[0], "load_csv", &ps)) return false;
  bool header = true;
  if (argc > 1 && !IS_UNIT(args[1]) && !IS_UNDEF(args[1])) {
    if (!IS_BOOL(args[1])) return vm_error(vm, "load_csv: header must be a bool, got %s", value_type_name(args[1]));
    header = args[1].as.b;
  }
  const char *path = ps->chars;
  FILE *f = fopen(path, "rb");
  if (!f) return vm_error(vm, "load_csv: cannot open %s: %s", path, strerror(errno));

  FloatVec fv = {0};
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  int64_t lineno = 0, rows = 0, cols = -1;
  bool ok = true;
  while (ok && (n = getline(&line, &cap, f)) != -1) {
    lineno++;
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = '\0';
    if (header && lineno == 1) continue;
    const char *p = line;
    while (*p == ' ' || *p == '\t') p++;
    if (!*p) continue;
    int64_t col = 0;
    for (const char *s = line;;) {
      const char *e = strchr(s, ',');
      size_t flen = e ? (size_t)(e - s) : strlen(s);
      while (flen && (*s == ' ' || *s == '\t')) s++, flen--;
      while (flen && (s[flen - 1] == ' ' || s[flen - 1] == '\t')) flen--;
      col++;
      Value num;
      if (flen == 0 || !lib_parse_number(s, flen, true, &num)) {
        vm_error(vm, "load_csv: %s:%lld: column %lld: `%.*s` is not a number", path, (long long)lineno,
                 (long long)col, (int)(flen > 40 ? 40 : flen), s);
        ok = false;
        break;
      }
      if (!fv_push(&fv, (float)AS_NUM(num))) {
        vm_error(vm, "load_csv: %s: out of memory", path);
        ok = false;
        break;
      }
      if (!e) break;
      s = e + 1;
    }
    if (!ok) break;
    if (cols < 0) cols = col;
    else if (col != cols) {
      vm_error(vm, "load_csv: %s:%lld: expected %lld columns (as in the first row), got %lld", path,
               (long long)lineno, (long long)cols, (long long)col);
      ok = false;
    }
    rows++;
  }
  if (ok && ferror(f)) ok = vm_error(vm, "load_csv: cannot read %s: %s", path, strerror(errno));
  free(line);
  fclose(f);
  if (ok && rows == 0) ok = vm_error(vm, "load_csv: %s: no data rows", path);
  if (ok) {
    int64_t shape[2] = {rows, cols};
    ObjTensor *t = tensor_new(vm, DT_F32, 2, shape);
    if (t) {
      memcpy(tensor_data(t), fv.v, (size_t)fv.len * sizeof(float));
      *out = OBJ_VAL(t);
    }
    ok = t != NULL;
  }
  free(fv.v);
  return ok;
}

/* file_exists(path) -> bool: a readable regular file or directory at path */
static bool nat_file_exists(VM *vm, Value *args, int argc, Value *out) {
  (void)argc;
  ObjString *ps;
  if (!lib_str_arg(vm, args[0], "file_exists", &ps)) return false;
  FILE *f = fopen(ps->chars, "rb");
  *out = BOOL_VAL(f != NULL);
  if (f) fclose(f);
  return true;
}

void lib_data_init(VM *vm) {
  lib_global(vm, "file_exists", nat_file_exists, 1, 1);
  lib_global(vm, "load_idx", nat_load_idx, 1, 1);
  lib_global(vm, "load_npy", nat_load_npy, 1, 1);
  lib_global(vm, "save_npy", nat_save_npy, 2, 2);
  lib_global(vm, "load_csv", nat_load_csv, 1, 2);
  static const char *const csv_params[] = {"path", "header", NULL};
  Value csv = vm->prelude->values[module_find(vm->prelude, str_cstr(vm, "load_csv"))];
  AS_NATIVE(csv)->params = csv_params;
}
