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
 * valid UTF-8 without NUL, or the file is refused. Reads (safetensors.c)
 * check every field against the bytes that are there and report the first
 * problem, naming the path and the tensor. */
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
#include "safetensors.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors data is little-endian; this file writes host-order bytes"
#endif

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
