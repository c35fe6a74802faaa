/* Data files as tensors: IDX (MNIST, Fashion-MNIST; gzip read directly),
 * NumPy .npy (read and write) and CSV. The natives are globals of the
 * prelude; stdlib/data.ns re-exports them.
 *
 * Every loader reads the whole file (lib_read_input) and parses it from
 * memory (lib_data_parse_*, also the fuzz targets' entry points). Every
 * malformed file is a runtime error naming the function and the path
 * ("load_idx: train.gz: truncated: expected 47040016 bytes, got 1000"): a
 * loader compares the size a header declares with the bytes that are there
 * before it allocates, and never reads past them. */
#define _GNU_SOURCE /* realpath, madvise */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "builtins.h"
#include "lib_data.h"
#include "lib_tensor.h"
#include "tensor_int.h" /* NS_SIMD_CLONES */

/* ---- whole-file input ------------------------------------------------------ */

bool lib_read_input(const char *path, LibBytes *out, char *err, size_t errlen) {
  out->data = NULL;
  out->len = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
    return false;
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
    close(fd);
    return false;
  }
  if (S_ISDIR(st.st_mode)) {
    snprintf(err, errlen, "%s: is a directory", path);
    close(fd);
    return false;
  }
  /* A regular file is read to its end whatever its size (st_size is only
   * the first guess: files in /proc report 0); anything else up to the
   * limit. The buffer keeps one byte for the terminating NUL. */
  bool regular = S_ISREG(st.st_mode);
  size_t cap = regular && st.st_size > 0 ? (size_t)st.st_size + 1 : 65536, len = 0;
  unsigned char *buf = malloc(cap);
  const char *fail = NULL;
  int e = 0;
  while (buf) {
    if (len + 1 == cap) {
      /* Full. A regular file read to its st_size is usually at its end:
       * look for one more byte before growing the buffer. */
      unsigned char probe;
      ssize_t n = read(fd, &probe, 1);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        e = errno;
        break;
      }
      if (n == 0) break;
      if (!regular && cap > LIB_INPUT_LIMIT) {
        fail = "not a regular file and longer than 256 MiB";
        break;
      }
      size_t ncap = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
      if (!regular && ncap > LIB_INPUT_LIMIT + 1) ncap = LIB_INPUT_LIMIT + 1;
      unsigned char *nb = realloc(buf, ncap);
      if (!nb) free(buf);
      buf = nb;
      cap = ncap;
      if (buf) buf[len++] = probe;
      continue;
    }
    ssize_t n = read(fd, buf + len, cap - 1 - len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      e = errno;
      break;
    }
    if (n == 0) break;
    len += (size_t)n;
  }
  close(fd);
  if (!buf || e || fail) {
    if (fail) snprintf(err, errlen, "%s: %s", path, fail);
    else snprintf(err, errlen, "cannot read %s: %s", path, buf ? strerror(e) : "out of memory");
    free(buf);
    return false;
  }
  buf[len] = 0;
  out->data = buf;
  out->len = len;
  return true;
}

/* Read path for the loader `who`; false with "who: <reason>" as the error. */
static bool read_for(VM *vm, const char *who, const char *path, LibBytes *out) {
  char err[PATH_MAX + 128];
  if (lib_read_input(path, out, err, sizeof err)) return true;
  return vm_error(vm, "%s: %s", who, err);
}

/* ---- shapes ------------------------------------------------------------------ */

int64_t lib_shape_numel(const int64_t *shape, int ndim, size_t itemsize) {
  int64_t bytes = (int64_t)itemsize;
  bool empty = false;
  for (int i = 0; i < ndim; i++) {
    if (shape[i] < 0) return -1;
    if (shape[i] == 0) empty = true;
    else if (__builtin_mul_overflow(bytes, shape[i], &bytes)) return -1;
  }
  return empty ? 0 : bytes / (int64_t)itemsize;
}

void lib_shape_str(const int64_t *shape, int ndim, char *buf, size_t n) {
  size_t len = (size_t)snprintf(buf, n, "[");
  for (int d = 0; d < ndim && len < n; d++)
    len += (size_t)snprintf(buf + len, n - len, "%s%lld", d ? ", " : "", (long long)shape[d]);
  if (len < n) snprintf(buf + len, n - len, "]");
}

/* ---- IDX -------------------------------------------------------------------
 * Big-endian: magic 00 00 TYPE NDIM, NDIM u32 sizes, then the data in C
 * order. 1-D integer files are labels (i64); everything else becomes f32
 * (f64 files stay f64) with the raw values (no scaling). A file starting
 * with the gzip magic 1f 8b is inflated on the fly, in chunks converted
 * straight into the tensor; gzip members may follow one another (as zcat
 * reads them) and bytes after the last member are ignored (as gzip does). */

typedef struct {
  int code;
  size_t size;
} IdxType;

static const IdxType idx_types[] = {{0x08, 1}, {0x09, 1}, {0x0B, 2}, {0x0C, 4}, {0x0D, 4}, {0x0E, 8}};

/* Deflate never expands more than 1032:1; a gzip file of N bytes cannot
 * hold more than this many bytes of data, whatever its header says. */
#define GZ_MAX_RATIO 1032

/* The bytes after the IDX magic: a window on the buffer, or a gzip stream. */
typedef struct {
  const unsigned char *in;
  size_t in_len, in_pos; /* plain: read position; gzip: bytes handed to zlib */
  bool gz, done, stream_end;
  z_stream zs;
  const char *zerr; /* corrupt gzip data: zlib's reason */
} IdxIn;

/* Up to n bytes of the (inflated) data; fewer at its end or on an error. */
static size_t idx_read(IdxIn *s, unsigned char *dst, size_t n) {
  if (!s->gz) {
    size_t got = s->in_len - s->in_pos < n ? s->in_len - s->in_pos : n;
    memcpy(dst, s->in + s->in_pos, got);
    s->in_pos += got;
    return got;
  }
  size_t got = 0;
  while (got < n && !s->done) {
    if (s->zs.avail_in == 0 && s->in_pos < s->in_len) {
      size_t feed = s->in_len - s->in_pos;
      if (feed > UINT_MAX) feed = UINT_MAX;
      s->zs.next_in = (unsigned char *)s->in + s->in_pos;
      s->zs.avail_in = (uInt)feed;
      s->in_pos += feed;
    }
    size_t want = n - got > UINT_MAX ? UINT_MAX : n - got;
    s->zs.next_out = dst + got;
    s->zs.avail_out = (uInt)want;
    int r = inflate(&s->zs, Z_NO_FLUSH);
    got += want - s->zs.avail_out;
    if (r == Z_STREAM_END) {
      /* Another gzip member next? */
      size_t rest = s->zs.avail_in + (s->in_len - s->in_pos);
      const unsigned char *p = s->zs.next_in;
      bool member = rest >= 2 && (s->zs.avail_in >= 2 ? p[0] == 0x1f && p[1] == 0x8b
                                  : s->zs.avail_in == 1 ? p[0] == 0x1f && s->in[s->in_pos] == 0x8b
                                  : s->in[s->in_pos] == 0x1f && s->in[s->in_pos + 1] == 0x8b);
      if (!member) {
        s->done = s->stream_end = true;
      } else if (inflateReset(&s->zs) != Z_OK) {
        s->zerr = "inflateReset failed";
        s->done = true;
      }
    } else if (r == Z_BUF_ERROR) {
      if (s->zs.avail_in == 0 && s->in_pos == s->in_len) s->done = true; /* the input ends mid-stream */
    } else if (r != Z_OK) {
      s->zerr = s->zs.msg ? s->zs.msg : "invalid data";
      s->done = true;
    }
  }
  return got;
}

/* A fresh tensor of hundreds of MB (60000 MNIST images as f32: 188 MB) is
 * written once from start to end; with 4 KiB pages most of that time goes
 * to page faults. Ask for transparent huge pages on the 2 MiB-aligned part
 * (a hint: where THP is off it changes nothing). */
static void advise_huge_pages(void *p, size_t n) {
#ifdef MADV_HUGEPAGE
  const uintptr_t huge = (uintptr_t)2 << 20;
  uintptr_t b = ((uintptr_t)p + huge - 1) & ~(huge - 1), e = ((uintptr_t)p + n) & ~(huge - 1);
  if (e > b) madvise((void *)b, e - b, MADV_HUGEPAGE);
#else
  (void)p, (void)n;
#endif
}

/* u8 -> f32 / div, the bulk of every MNIST load: built for AVX2 and the
 * baseline (NS_SIMD_CLONES), where it runs 8 or 4 bytes per instruction. */
NS_SIMD_CLONES static void u8_to_f32(float *restrict d, const unsigned char *restrict s, size_t n, float div) {
  for (size_t i = 0; i < n; i++) d[i] = (float)s[i] / div;
}

/* n elements of IDX type code at src (big-endian) into dst of dtype dt,
 * float values divided by div (in the output's precision, as x / div on
 * the tensor would compute). */
static void idx_convert(void *dst, DType dt, const unsigned char *src, size_t n, int code, double div) {
  if (code == 0x08) {
    /* every MNIST file: loops the compiler vectorizes */
    if (dt == DT_I64) {
      int64_t *d = dst;
      for (size_t i = 0; i < n; i++) d[i] = src[i];
    } else {
      u8_to_f32(dst, src, n, (float)div);
    }
    return;
  }
  for (size_t i = 0; i < n; i++) {
    double v;
    switch (code) {
    case 0x09: v = (int8_t)src[i]; break;
    case 0x0B: v = (int16_t)(uint16_t)(src[2 * i] << 8 | src[2 * i + 1]); break;
    case 0x0C: {
      const unsigned char *p = src + 4 * i;
      v = (int32_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]);
      break;
    }
    case 0x0D: {
      const unsigned char *p = src + 4 * i;
      uint32_t u = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
      float f;
      memcpy(&f, &u, 4);
      v = f;
      break;
    }
    default: {
      uint64_t u = 0;
      for (int k = 0; k < 8; k++) u = u << 8 | src[8 * i + (size_t)k];
      memcpy(&v, &u, 8);
    }
    }
    if (dt == DT_I64) ((int64_t *)dst)[i] = (int64_t)v;
    else if (dt == DT_F64) ((double *)dst)[i] = v / div;
    else ((float *)dst)[i] = (float)v / (float)div;
  }
}

#define IDX_FAIL(...)                                  \
  do {                                                 \
    vm_error(vm, "load_idx: %s: " __VA_ARGS__);        \
    goto done;                                         \
  } while (0)

bool lib_data_parse_idx(VM *vm, const char *name, const unsigned char *buf, size_t len, double divisor,
                        Value *out) {
  IdxIn s = {.in = buf, .in_len = len};
  bool ok = false;
  unsigned char *chunk = NULL;
  if (len >= 2 && buf[0] == 0x1f && buf[1] == 0x8b) {
    s.gz = true;
    if (inflateInit2(&s.zs, 16 + MAX_WBITS) != Z_OK) return vm_error(vm, "load_idx: %s: out of memory", name);
  }
#define GZ_CHECK()                                                     \
  if (s.zerr) IDX_FAIL("corrupt gzip data (%s)", name, s.zerr)

  unsigned char head[4 + 4 * NS_MAX_DIMS];
  size_t got = idx_read(&s, head, 4);
  GZ_CHECK();
  if (got < 4) IDX_FAIL("truncated: expected at least 4 bytes of header, got %zu", name, got);
  const IdxType *ty = NULL;
  for (size_t i = 0; i < sizeof idx_types / sizeof idx_types[0]; i++)
    if (idx_types[i].code == head[2]) ty = &idx_types[i];
  if (head[0] || head[1] || !ty || head[3] == 0 || head[3] > NS_MAX_DIMS)
    IDX_FAIL("not an IDX file (magic 0x%02x%02x%02x%02x; expected 0x0000TTNN with a type code 08-0E and 1 to %d "
             "dims)",
             name, head[0], head[1], head[2], head[3], NS_MAX_DIMS);
  int ndim = head[3];
  size_t hdr = 4 + 4 * (size_t)ndim;
  got = idx_read(&s, head + 4, hdr - 4);
  GZ_CHECK();
  if (got < hdr - 4) IDX_FAIL("truncated: expected %zu bytes of header, got %zu", name, hdr, 4 + got);
  int64_t shape[NS_MAX_DIMS];
  for (int i = 0; i < ndim; i++) {
    const unsigned char *p = head + 4 + 4 * i;
    shape[i] = (int64_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]);
  }
  bool labels = ndim == 1 && ty->code != 0x0D && ty->code != 0x0E;
  DType dt = labels ? DT_I64 : ty->code == 0x0E ? DT_F64 : DT_F32;
  size_t osz = tensor_dtype_sizes[dt];
  /* The tensor is the larger of the two (itemsize 4 or 8 against 1-8). */
  int64_t numel = lib_shape_numel(shape, ndim, osz > ty->size ? osz : ty->size);
  if (numel < 0) {
    char sh[NS_MAX_DIMS * 22 + 4];
    lib_shape_str(shape, ndim, sh, sizeof sh);
    IDX_FAIL("shape %s has too many elements", name, sh);
  }
  uint64_t nbytes = (uint64_t)numel * ty->size, total = hdr + nbytes;

  if (labels && divisor != 1.0)
    IDX_FAIL("a divisor applies to images, not to labels (a 1-D integer file gives i64)", name);

  /* A plain file must hold what the header declares. A gzip stream's
   * inflated size is known only at its end: up to 16 times the compressed
   * size (image data compresses 2-10x), the tensor is allocated and filled
   * as the stream is inflated; beyond that the raw bytes are first inflated
   * into a buffer that grows with the data, so a header claiming terabytes
   * costs no more memory than the data that is there. */
  if (!s.gz && total > len)
    IDX_FAIL("truncated: expected %llu bytes, got %zu", name, (unsigned long long)total, len);
  uint64_t direct = len > (UINT64_MAX >> 5) ? UINT64_MAX : (uint64_t)len << 4;
  if (direct < (1u << 20)) direct = 1u << 20;
  const unsigned char *raw = s.gz ? NULL : buf + hdr;
  uint64_t done_bytes = s.gz ? 0 : nbytes;
  if (s.gz && nbytes > direct) {
    size_t cap = (size_t)direct;
    chunk = malloc(cap);
    while (chunk) {
      done_bytes += idx_read(&s, chunk + done_bytes, cap - (size_t)done_bytes);
      if (done_bytes < cap || done_bytes == nbytes) break;
      size_t ncap = nbytes - done_bytes < cap ? (size_t)nbytes : cap * 2;
      unsigned char *nc = realloc(chunk, ncap);
      if (!nc) free(chunk);
      chunk = nc;
      cap = ncap;
    }
    if (!chunk) IDX_FAIL("out of memory", name);
    GZ_CHECK();
    if (done_bytes < nbytes)
      IDX_FAIL("truncated: expected %llu bytes, got %llu", name, (unsigned long long)total,
               (unsigned long long)(hdr + done_bytes));
    raw = chunk;
  }

  ObjTensor *t = tensor_new(vm->tc, dt, ndim, shape);
  vm_push_root(vm, OBJ_VAL(t));
  unsigned char *dst = tensor_data(t);
  advise_huge_pages(dst, (size_t)numel * osz);
  if (raw) {
    idx_convert(dst, dt, raw, (size_t)numel, ty->code, divisor);
  } else {
    /* Inflate a cache-sized chunk at a time and convert it into place:
     * the raw bytes never need a buffer of their own. */
    enum { CHUNK = 1 << 18 }; /* a multiple of every item size */
    chunk = malloc(CHUNK);
    if (!chunk) {
      vm_pop_root(vm, 1);
      IDX_FAIL("out of memory", name);
    }
    while (done_bytes < nbytes) {
      size_t want = nbytes - done_bytes < CHUNK ? (size_t)(nbytes - done_bytes) : CHUNK;
      size_t n = idx_read(&s, chunk, want);
      idx_convert(dst + done_bytes / ty->size * osz, dt, chunk, n / ty->size, ty->code, divisor);
      done_bytes += n;
      if (n < want) break;
    }
  }
  vm_pop_root(vm, 1);
  GZ_CHECK();
  if (done_bytes < nbytes)
    IDX_FAIL("truncated: expected %llu bytes, got %llu", name, (unsigned long long)total,
             (unsigned long long)(hdr + done_bytes));
  if (!s.gz) s.in_pos = hdr + nbytes;
  unsigned char extra;
  size_t more = idx_read(&s, &extra, 1);
  GZ_CHECK();
  if (more > 0) IDX_FAIL("more data than the header declares (%llu bytes expected)", name, (unsigned long long)total);
  if (s.gz && !s.stream_end) IDX_FAIL("truncated: the gzip stream ends before its checksum", name);
  *out = OBJ_VAL(t);
  ok = true;
done:
  free(chunk);
  if (s.gz) inflateEnd(&s.zs);
  return ok;
#undef GZ_CHECK
}

/* load_idx(path, divisor = 1.0) -> Tensor */
static bool nat_load_idx(VM *vm, Value *args, int argc, Value *out) {
  ObjString *ps;
  if (!lib_str_arg(vm, args[0], "load_idx", &ps)) return false;
  double divisor = 1.0;
  if (argc > 1 && !IS_UNIT(args[1]) && !IS_UNDEF(args[1]) && !lib_num_arg(vm, args[1], "load_idx", &divisor))
    return false;
  LibBytes b;
  if (!read_for(vm, "load_idx", ps->chars, &b)) return false;
  bool ok = lib_data_parse_idx(vm, ps->chars, b.data, b.len, divisor, out);
  free(b.data);
  return ok;
}

/* ---- .npy ------------------------------------------------------------------
 * "\x93NUMPY", major, minor, header length (u16 LE for 1.0, u32 LE for 2.0
 * and 3.0), then a Python dict literal
 *   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
 * padded with spaces and a newline so the data starts 64-byte aligned, then
 * exactly the array's bytes. The dict must have the three keys once each
 * (NumPy writes nothing else; a repeated key is an error, where Python's
 * literal_eval would silently keep the last). */

static const struct {
  const char *descr;
  DType dt;
  size_t size; /* bytes per element in the file */
} npy_dtypes[] = {{"<f4", DT_F32, 4}, {"<f8", DT_F64, 8}, {"<i8", DT_I64, 8}, {"|b1", DT_BOOL, 1}};

/* Cursor over the header dict. */
typedef struct {
  const char *p, *end;
} NpyLex;

static void npy_ws(NpyLex *x) {
  while (x->p < x->end && (*x->p == ' ' || *x->p == '\t' || *x->p == '\n' || *x->p == '\r')) x->p++;
}

static bool npy_eat(NpyLex *x, char c) {
  npy_ws(x);
  if (x->p < x->end && *x->p == c) {
    x->p++;
    return true;
  }
  return false;
}

/* A quoted string (no escapes: the header's keys and dtypes have none)
 * into out, cut to outlen - 1 bytes. */
static bool npy_string(NpyLex *x, char *out, size_t outlen) {
  npy_ws(x);
  if (x->p >= x->end || (*x->p != '\'' && *x->p != '"')) return false;
  char q = *x->p++;
  size_t n = 0;
  while (x->p < x->end && *x->p != q) {
    if (n + 1 < outlen) out[n++] = *x->p;
    x->p++;
  }
  out[n] = '\0';
  if (x->p >= x->end) return false;
  x->p++;
  return true;
}

#define NPY_FAIL(...)                                \
  do {                                               \
    vm_error(vm, "load_npy: %s: " __VA_ARGS__);      \
    return false;                                    \
  } while (0)

bool lib_data_parse_npy(VM *vm, const char *name, const unsigned char *buf, size_t len, Value *out) {
  if (len < 8 || memcmp(buf, "\x93NUMPY", 6) != 0) NPY_FAIL("not a .npy file (no \\x93NUMPY magic)", name);
  int major = buf[6];
  if (major < 1 || major > 3) NPY_FAIL("unsupported .npy format version %d.%d", name, buf[6], buf[7]);
  size_t pre = major == 1 ? 10 : 12;
  if (len < pre) NPY_FAIL("truncated: the header is incomplete", name);
  size_t hlen = major == 1 ? (size_t)(buf[8] | buf[9] << 8)
                           : (size_t)((uint32_t)buf[8] | (uint32_t)buf[9] << 8 | (uint32_t)buf[10] << 16 |
                                      (uint32_t)buf[11] << 24);
  if (hlen > len - pre) NPY_FAIL("truncated: the header is incomplete", name);

  NpyLex x = {(const char *)buf + pre, (const char *)buf + pre + hlen};
  char descr[16] = "", key[32];
  bool seen[3] = {false, false, false}, fortran = false;
  int64_t shape[NS_MAX_DIMS];
  int ndim = 0;
  if (!npy_eat(&x, '{')) NPY_FAIL("the header is not a dict", name);
  while (!npy_eat(&x, '}')) {
    if (!npy_string(&x, key, sizeof key) || !npy_eat(&x, ':'))
      NPY_FAIL("malformed header dict at byte %td", name, x.p - (const char *)buf);
    int k = !strcmp(key, "descr") ? 0 : !strcmp(key, "fortran_order") ? 1 : !strcmp(key, "shape") ? 2 : -1;
    if (k < 0)
      NPY_FAIL("unexpected key '%s' in the header (a .npy header has 'descr', 'fortran_order' and 'shape')", name,
               key);
    if (seen[k]) NPY_FAIL("key '%s' appears twice in the header", name, key);
    seen[k] = true;
    npy_ws(&x);
    if (k == 0) {
      if (!npy_string(&x, descr, sizeof descr)) NPY_FAIL("'descr' is not a string", name);
    } else if (k == 1) {
      size_t rest = (size_t)(x.end - x.p);
      if (rest >= 4 && !memcmp(x.p, "True", 4)) fortran = true, x.p += 4;
      else if (rest >= 5 && !memcmp(x.p, "False", 5)) x.p += 5;
      else NPY_FAIL("'fortran_order' is not True or False", name);
    } else {
      /* (), (3,), (2, 3) */
      if (!npy_eat(&x, '(')) NPY_FAIL("'shape' is not a tuple", name);
      while (!npy_eat(&x, ')')) {
        npy_ws(&x);
        if (x.p >= x.end || *x.p < '0' || *x.p > '9') NPY_FAIL("malformed shape in the header", name);
        int64_t v = 0;
        while (x.p < x.end && *x.p >= '0' && *x.p <= '9') {
          if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, *x.p - '0', &v))
            NPY_FAIL("a dimension in the shape is larger than %lld", name, (long long)INT64_MAX);
          x.p++;
        }
        if (ndim == NS_MAX_DIMS) NPY_FAIL("more than %d dims", name, NS_MAX_DIMS);
        shape[ndim++] = v;
        if (!npy_eat(&x, ',')) {
          if (!npy_eat(&x, ')')) NPY_FAIL("malformed shape in the header", name);
          break;
        }
      }
    }
    if (!npy_eat(&x, ',')) {
      if (!npy_eat(&x, '}')) NPY_FAIL("malformed header dict at byte %td", name, x.p - (const char *)buf);
      break;
    }
  }
  npy_ws(&x);
  if (x.p != x.end) NPY_FAIL("unexpected text after the header dict (byte %td)", name, x.p - (const char *)buf);
  if (!seen[0]) NPY_FAIL("the header has no 'descr'", name);
  if (!seen[1]) NPY_FAIL("the header has no 'fortran_order'", name);
  if (!seen[2]) NPY_FAIL("the header has no 'shape' tuple", name);
  int ty = -1;
  for (int i = 0; i < (int)(sizeof npy_dtypes / sizeof npy_dtypes[0]); i++)
    if (!strcmp(descr, npy_dtypes[i].descr)) ty = i;
  if (ty < 0)
    NPY_FAIL("unsupported dtype '%s' (supported: '<f4', '<f8', '<i8', '|b1'; convert with "
             "arr.astype(np.float32))",
             name, descr);
  if (fortran) NPY_FAIL("Fortran-order arrays are not supported; save np.ascontiguousarray(arr) instead", name);

  DType dt = npy_dtypes[ty].dt;
  size_t fsz = npy_dtypes[ty].size, esz = tensor_dtype_sizes[dt];
  int64_t numel = lib_shape_numel(shape, ndim, fsz > esz ? fsz : esz);
  if (numel < 0) {
    char sh[NS_MAX_DIMS * 22 + 4];
    lib_shape_str(shape, ndim, sh, sizeof sh);
    NPY_FAIL("shape %s has too many elements", name, sh);
  }
  size_t nbytes = (size_t)numel * fsz, have = len - pre - hlen;
  const unsigned char *src = buf + pre + hlen;
  if (have < nbytes)
    NPY_FAIL("truncated: expected %zu bytes of data, got %zu", name, nbytes, have);
  if (have > nbytes)
    NPY_FAIL("%zu bytes after the data (the header declares %zu bytes of data)", name, have - nbytes, nbytes);
  if (dt == DT_BOOL)
    for (size_t i = 0; i < nbytes; i++)
      if (src[i] > 1) NPY_FAIL("bool byte %zu is %d, not 0 or 1", name, i, src[i]);

  ObjTensor *t = tensor_new(vm->tc, dt, ndim, shape);
  unsigned char *dst = tensor_data(t);
  if (esz == fsz) {
    if (nbytes) memcpy(dst, src, nbytes);
  } else {
    /* bool stored wider than one byte */
    for (int64_t i = 0; i < numel; i++) {
      memset(dst + i * (int64_t)esz, 0, esz);
      dst[i * (int64_t)esz] = src[i];
    }
  }
  *out = OBJ_VAL(t);
  return true;
}

/* load_npy(path) -> Tensor */
static bool nat_load_npy(VM *vm, Value *args, int argc, Value *out) {
  (void)argc;
  ObjString *ps;
  if (!lib_str_arg(vm, args[0], "load_npy", &ps)) return false;
  LibBytes b;
  if (!read_for(vm, "load_npy", ps->chars, &b)) return false;
  bool ok = lib_data_parse_npy(vm, ps->chars, b.data, b.len, out);
  free(b.data);
  return ok;
}

/* ---- CSV -------------------------------------------------------------------
 * Comma-separated numbers, one row per line (CRLF accepted, blank lines
 * skipped, spaces around fields ignored, a UTF-8 byte order mark at the
 * start skipped); every row has the first row's column count. A NUL byte
 * is an error naming its line and column. The result is f32 [rows, cols]. */

typedef struct {
  float *v;
  size_t len, cap;
} FloatVec;

static bool fv_push(FloatVec *fv, float x) {
  if (fv->len == fv->cap) {
    size_t cap = fv->cap ? fv->cap * 2 : 1024;
    float *nv = realloc(fv->v, cap * sizeof(float));
    if (!nv) return false;
    fv->v = nv;
    fv->cap = cap;
  }
  fv->v[fv->len++] = x;
  return true;
}

#define CSV_FAIL(...)                          \
  do {                                         \
    vm_error(vm, "load_csv: %s" __VA_ARGS__);  \
    goto fail;                                 \
  } while (0)

bool lib_data_parse_csv(VM *vm, const char *name, const char *buf, size_t len, bool header, Value *out) {
  FloatVec fv = {0};
  int64_t lineno = 0, rows = 0, cols = -1;
  const char *p = buf, *end = buf + len;
  if (len >= 3 && !memcmp(p, "\xEF\xBB\xBF", 3)) p += 3;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *line = p, *lend = nl ? nl : end;
    p = nl ? nl + 1 : end;
    lineno++;
    while (lend > line && lend[-1] == '\r') lend--;
    if (header && lineno == 1) continue;
    const char *q = line;
    while (q < lend && (*q == ' ' || *q == '\t')) q++;
    if (q == lend) continue;
    int64_t col = 0;
    for (const char *s = line;;) {
      const char *e = memchr(s, ',', (size_t)(lend - s));
      const char *fend = e ? e : lend;
      col++;
      const char *nul = memchr(s, '\0', (size_t)(fend - s));
      if (nul) CSV_FAIL(":%lld: column %lld: a NUL byte", name, (long long)lineno, (long long)col);
      while (s < fend && (*s == ' ' || *s == '\t')) s++;
      while (fend > s && (fend[-1] == ' ' || fend[-1] == '\t')) fend--;
      size_t flen = (size_t)(fend - s);
      Value num;
      if (flen == 0 || !lib_parse_number(s, flen, true, &num))
        CSV_FAIL(":%lld: column %lld: `%.*s` is not a number", name, (long long)lineno, (long long)col,
                 (int)(flen > 40 ? 40 : flen), s);
      if (!fv_push(&fv, (float)AS_NUM(num))) CSV_FAIL(": out of memory", name);
      if (!e) break;
      s = e + 1;
    }
    if (cols < 0) cols = col;
    else if (col != cols)
      CSV_FAIL(":%lld: expected %lld columns (as in the first row), got %lld", name, (long long)lineno,
               (long long)cols, (long long)col);
    rows++;
  }
  if (rows == 0) CSV_FAIL(": no data rows", name);
  int64_t shape[2] = {rows, cols};
  ObjTensor *t = tensor_new(vm->tc, DT_F32, 2, shape);
  memcpy(tensor_data(t), fv.v, fv.len * sizeof(float));
  *out = OBJ_VAL(t);
  free(fv.v);
  return true;
fail:
  free(fv.v);
  return false;
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
  LibBytes b;
  if (!read_for(vm, "load_csv", ps->chars, &b)) return false;
  bool ok = lib_data_parse_csv(vm, ps->chars, (const char *)b.data, b.len, header, out);
  free(b.data);
  return ok;
}

/* ---- saving ----------------------------------------------------------------- */

bool lib_save_target(const char *path, char *target, size_t n, char *err, size_t errlen) {
  struct stat st, lst;
  if (stat(path, &st) != 0) {
    int e = errno;
    if (e == ENOENT && lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode)) {
      snprintf(err, errlen, "%s is a symbolic link to a missing file; refusing to follow it", path);
      return false;
    }
    if (e != ENOENT) {
      snprintf(err, errlen, "cannot write %s: %s", path, strerror(e));
      return false;
    }
    if (snprintf(target, n, "%s", path) >= (int)n) {
      snprintf(err, errlen, "path too long: %s", path);
      return false;
    }
    return true;
  }
  if (!S_ISREG(st.st_mode)) {
    const char *what = S_ISDIR(st.st_mode) ? "a directory" : S_ISFIFO(st.st_mode) ? "a FIFO"
                       : S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ? "a device" : S_ISSOCK(st.st_mode) ? "a socket"
                                                                                   : "not a regular file";
    snprintf(err, errlen, "%s is %s, not a regular file; refusing to replace it", path, what);
    return false;
  }
  if (lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode)) {
    char real[PATH_MAX];
    if (!realpath(path, real)) {
      snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
      return false;
    }
    if (snprintf(target, n, "%s", real) >= (int)n) {
      snprintf(err, errlen, "path too long: %s", real);
      return false;
    }
    return true;
  }
  if (snprintf(target, n, "%s", path) >= (int)n) {
    snprintf(err, errlen, "path too long: %s", path);
    return false;
  }
  return true;
}

/* save_npy(path, tensor): format 1.0, C order; written to a temporary file
 * beside the target and renamed over it, so a failed save never leaves a
 * half-written file (lib_save_target says which targets are refused). */
static bool nat_save_npy(VM *vm, Value *args, int argc, Value *out) {
  (void)argc;
  ObjString *ps;
  if (!lib_str_arg(vm, args[0], "save_npy", &ps)) return false;
  if (!IS_TENSOR(args[1])) return vm_error(vm, "save_npy expects a tensor, got %s", value_type_name(args[1]));
  char target[PATH_MAX], tmp[PATH_MAX + 32], err[PATH_MAX + 128];
  if (!lib_save_target(ps->chars, target, sizeof target, err, sizeof err))
    return vm_error(vm, "save_npy: %s", err);
  const char *path = target;
  ObjTensor *t = tensor_contiguous(vm->tc, AS_TENSOR(args[1]));
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

  snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
  FILE *f = fopen(tmp, "wb");
  if (!f) return vm_error(vm, "save_npy: cannot open %s: %s", tmp, strerror(errno));
  bool ok = fwrite(pre, 1, 10, f) == 10 && fwrite(dict, 1, (size_t)len, f) == (size_t)len;
  for (size_t i = 0; ok && i < pad; i++) ok = fputc(' ', f) != EOF;
  ok = ok && fputc('\n', f) != EOF;
  size_t esz = tensor_dtype_sizes[t->dtype];
  if (ok && t->dtype == DT_BOOL && esz != 1) {
    for (int64_t i = 0; ok && i < t->numel; i++) ok = fputc(tensor_get(t, i) != 0, f) != EOF;
  } else if (ok) {
    ok = fwrite(tensor_data(t), esz, (size_t)t->numel, f) == (size_t)t->numel;
  }
  int e = errno;
  if (fclose(f) != 0) ok = false;
  if (ok && rename(tmp, path) != 0) {
    e = errno;
    ok = false;
  }
  if (!ok) {
    remove(tmp);
    return vm_error(vm, "save_npy: cannot write %s: %s", ps->chars, strerror(e ? e : EIO));
  }
  *out = UNIT_VAL;
  return true;
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
  lib_global(vm, "load_idx", nat_load_idx, 1, 2);
  lib_global(vm, "load_npy", nat_load_npy, 1, 1);
  lib_global(vm, "save_npy", nat_save_npy, 2, 2);
  lib_global(vm, "load_csv", nat_load_csv, 1, 2);
  static const char *const csv_params[] = {"path", "header", NULL};
  Value csv = vm->prelude->values[module_find(vm->prelude, str_cstr(vm, "load_csv"))];
  AS_NATIVE(csv)->params = csv_params;
  static const char *const idx_params[] = {"path", "divisor", NULL};
  Value idx = vm->prelude->values[module_find(vm->prelude, str_cstr(vm, "load_idx"))];
  AS_NATIVE(idx)->params = idx_params;
}
