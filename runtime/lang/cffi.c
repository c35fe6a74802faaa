/* The C FFI over libffi (see cffi.h for the signature strings).
 *
 * One ffi_cif is prepared per distinct ABI signature and kept for the life
 * of the process: "dd:d" serves hypot, atan2 and pow alike. A variadic
 * function gets a cif per combination of argument types it is called with.
 * Callbacks are ffi_closures made for the duration of one call: C may call
 * them until the function returns, not later. */
#include "cffi.h"

#include <dlfcn.h>
#include <ffi.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "builtins.h"
#include "tensor.h"

#define MAX_ARGS CFFI_MAX_ARGS
#define MAX_SIG 256

typedef struct FfiSig FfiSig;

typedef struct {
  char kind;  /* a letter of cffi.h */
  FfiSig *cb; /* kind 'c': the callback's signature */
} FfiType;

struct FfiSig {
  int nparams;
  bool variadic;
  FfiType params[MAX_ARGS];
  FfiType ret;
  ffi_cif *cif; /* for the fixed parameters (callbacks, non-variadic calls) */
};

/* What an extern fn native's `data` points at. */
typedef struct {
  void *addr;
  char *name;
  FfiSig *sig;
  char **params; /* sig->nparams declarations as written ("b: f64"), or NULL */
} FfiFn;

static char *dup(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  return d ? memcpy(d, s, n) : NULL;
}

/* ---- libraries ---- */

typedef struct Lib {
  char *name;
  void *handle;
  struct Lib *next;
} Lib;

static Lib *libs;

void *cffi_open(const char *lib, char *err, size_t errlen) {
  for (Lib *l = libs; l; l = l->next)
    if (!strcmp(l->name, lib)) return l->handle;
  void *h = dlopen(strcmp(lib, "C") ? lib : NULL, RTLD_NOW | RTLD_GLOBAL);
  if (!h) {
    const char *msg = dlerror();
    snprintf(err, errlen, "cannot load library `%s`: %s", lib, msg ? msg : "unknown error");
    return NULL;
  }
  Lib *l = malloc(sizeof *l);
  char *copy = dup(lib);
  if (!l || !copy) {
    free(l);
    free(copy);
    return h;
  }
  l->name = copy;
  l->handle = h;
  l->next = libs;
  libs = l;
  return h;
}

/* ---- call interfaces, one per ABI signature ---- */

static ffi_type *abi_type(char k) {
  switch (k) {
  case 'v': return &ffi_type_void;
  case 'z': return &ffi_type_uint8;
  case 'b': return &ffi_type_sint8;
  case 'h': return &ffi_type_sint16;
  case 'i': return &ffi_type_sint32;
  case 'l': return &ffi_type_sint64;
  case 'B': return &ffi_type_uint8;
  case 'H': return &ffi_type_uint16;
  case 'I': return &ffi_type_uint32;
  case 'L': return &ffi_type_uint64;
  case 'f': return &ffi_type_float;
  case 'd': return &ffi_type_double;
  default: return &ffi_type_pointer;
  }
}

static char abi_letter(char k) {
  return strchr("vzbhilBHILfd", k) ? k : 'p';
}

typedef struct Cif {
  char *key;
  ffi_cif cif;
  ffi_type **types;
  struct Cif *next;
} Cif;

static Cif *cifs;

/* The cif for `nfixed` fixed and `ntotal - nfixed` variadic parameters of
 * the given kinds (nfixed == ntotal: not variadic). */
static ffi_cif *get_cif(const char *kinds, int nfixed, int ntotal, char ret) {
  char key[MAX_ARGS * 2 + 8];
  int n = 0;
  for (int i = 0; i < ntotal; i++) {
    if (i == nfixed) key[n++] = '.';
    key[n++] = abi_letter(kinds[i]);
  }
  key[n++] = ':';
  key[n++] = abi_letter(ret);
  key[n] = '\0';
  for (Cif *c = cifs; c; c = c->next)
    if (!strcmp(c->key, key)) return &c->cif;
  Cif *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->key = dup(key);
  c->types = calloc((size_t)ntotal + 1, sizeof *c->types);
  if (!c->key || !c->types) goto fail;
  for (int i = 0; i < ntotal; i++) c->types[i] = abi_type(kinds[i]);
  ffi_status st = nfixed == ntotal
                      ? ffi_prep_cif(&c->cif, FFI_DEFAULT_ABI, (unsigned)ntotal, abi_type(ret), c->types)
                      : ffi_prep_cif_var(&c->cif, FFI_DEFAULT_ABI, (unsigned)nfixed, (unsigned)ntotal,
                                         abi_type(ret), c->types);
  if (st != FFI_OK) goto fail;
  c->next = cifs;
  cifs = c;
  return &c->cif;
fail:
  free(c->key);
  free(c->types);
  free(c);
  return NULL;
}

/* ---- signatures ---- */

static void sig_free(FfiSig *s) {
  if (!s) return;
  for (int i = 0; i < s->nparams; i++) sig_free(s->params[i].cb);
  free(s);
}

static bool is_param_kind(char k) { return k && strchr("zbhilBHILfdspFDQ", k); }

/* sig -> {param} ['.'] ':' ret ; param -> KIND | 'c' '(' sig ')' */
static FfiSig *sig_parse(const char **p) {
  FfiSig *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  while (**p && **p != ':' && **p != '.') {
    if (s->nparams == MAX_ARGS) goto fail;
    FfiType *t = &s->params[s->nparams++];
    t->kind = *(*p)++;
    if (t->kind == 'c') {
      if (*(*p)++ != '(') goto fail;
      if (!(t->cb = sig_parse(p)) || *(*p)++ != ')') goto fail;
    } else if (!is_param_kind(t->kind)) {
      goto fail;
    }
  }
  if (**p == '.') {
    s->variadic = true;
    (*p)++;
  }
  if (*(*p)++ != ':') goto fail;
  s->ret.kind = *(*p)++;
  if (s->ret.kind != 'v' && !is_param_kind(s->ret.kind)) goto fail;
  char kinds[MAX_ARGS];
  for (int i = 0; i < s->nparams; i++) kinds[i] = s->params[i].kind;
  s->cif = get_cif(kinds, s->nparams, s->nparams, s->ret.kind);
  if (!s->cif) goto fail;
  return s;
fail:
  sig_free(s);
  return NULL;
}

static const char *kind_name(char k) {
  switch (k) {
  case 'v': return "()";
  case 'z': return "bool";
  case 'b': return "i8";
  case 'h': return "i16";
  case 'i': return "i32";
  case 'l': return "i64";
  case 'B': return "u8";
  case 'H': return "u16";
  case 'I': return "u32";
  case 'L': return "u64";
  case 'f': return "f32";
  case 'd': return "f64";
  case 's': return "a C string (a string, an int address or ())";
  case 'F': return "a pointer to f32 (an f32 tensor, an int address or ())";
  case 'D': return "a pointer to f64 (an f64 tensor, an int address or ())";
  case 'Q': return "a pointer to i64 (an i64 tensor, an int address or ())";
  case 'c': return "a function";
  default: return "a pointer (an int address, a tensor or ())";
  }
}

/* ---- converting values ---- */

/* One argument or result in C form; libffi reads the member its type
 * names, and writes small integer results widened to ffi_arg. */
typedef union {
  int8_t b;
  int16_t h;
  int32_t i;
  int64_t l;
  uint8_t B;
  uint16_t H;
  uint32_t I;
  uint64_t L;
  float f;
  double d;
  void *p;
  ffi_arg u;
  ffi_sarg s;
} Slot;

static bool int_range(char k, int64_t *lo, uint64_t *hi) {
  switch (k) {
  case 'b': *lo = INT8_MIN, *hi = INT8_MAX; return true;
  case 'h': *lo = INT16_MIN, *hi = INT16_MAX; return true;
  case 'i': *lo = INT32_MIN, *hi = INT32_MAX; return true;
  case 'l': *lo = INT64_MIN, *hi = INT64_MAX; return true;
  case 'B': *lo = 0, *hi = UINT8_MAX; return true;
  case 'H': *lo = 0, *hi = UINT16_MAX; return true;
  case 'I': *lo = 0, *hi = UINT32_MAX; return true;
  case 'L': *lo = 0, *hi = INT64_MAX; return true;
  default: return false;
  }
}

static void store_int(char k, int64_t v, Slot *s) {
  switch (k) {
  case 'b': s->b = (int8_t)v; break;
  case 'h': s->h = (int16_t)v; break;
  case 'i': s->i = (int32_t)v; break;
  case 'B': s->B = (uint8_t)v; break;
  case 'H': s->H = (uint16_t)v; break;
  case 'I': s->I = (uint32_t)v; break;
  case 'L': s->L = (uint64_t)v; break;
  default: s->l = v; break;
  }
}

/* `where` names the value in messages: "argument 2 of `hypot`". */
static bool to_c(VM *vm, Value v, char k, Slot *s, const char *where) {
  int64_t lo;
  uint64_t hi;
  if (int_range(k, &lo, &hi)) {
    if (!IS_INT(v) && !IS_CHAR(v)) /* a char goes as its code point */
      return vm_error(vm, "%s: expected %s, got %s", where, kind_name(k), value_type_name(v));
    if (v.as.i < lo || (v.as.i > 0 && (uint64_t)v.as.i > hi))
      return vm_error(vm, "%s: %lld does not fit %s", where, (long long)v.as.i, kind_name(k));
    store_int(k, v.as.i, s);
    return true;
  }
  switch (k) {
  case 'f': case 'd': {
    double x;
    if (IS_FLOAT(v)) x = v.as.f;
    else if (IS_INT(v)) x = (double)v.as.i;
    else return vm_error(vm, "%s: expected %s, got %s", where, kind_name(k), value_type_name(v));
    if (k == 'f' && isfinite(x) && fabs(x) > FLT_MAX)
      return vm_error(vm, "%s: %g does not fit f32", where, x);
    if (k == 'f') s->f = (float)x;
    else s->d = x;
    return true;
  }
  case 'z':
    if (!IS_BOOL(v)) return vm_error(vm, "%s: expected bool, got %s", where, value_type_name(v));
    s->B = v.as.b ? 1 : 0;
    return true;
  default: break;
  }
  /* pointers: unit is NULL, an int is an address */
  if (IS_UNIT(v)) {
    s->p = NULL;
    return true;
  }
  if (IS_INT(v)) {
    s->p = (void *)(intptr_t)v.as.i;
    return true;
  }
  if (k == 's') {
    if (!IS_STRING(v)) return vm_error(vm, "%s: expected %s, got %s", where, kind_name(k), value_type_name(v));
    ObjString *str = AS_STRING(v);
    if (memchr(str->chars, '\0', str->len))
      return vm_error(vm, "%s: the string contains a NUL byte and cannot be a C string", where);
    s->p = str->chars; /* NUL-terminated, immutable, rooted in the caller's registers */
    return true;
  }
  if (k != 'c' && IS_TENSOR(v)) {
    ObjTensor *t = AS_TENSOR(v);
    int want = k == 'F' ? DT_F32 : k == 'D' ? DT_F64 : k == 'Q' ? DT_I64 : -1;
    if (want >= 0 && (int)t->dtype != want)
      return vm_error(vm, "%s: expected an %s tensor, got %s", where, tensor_dtype_names[want],
                      tensor_dtype_names[t->dtype]);
    if (!tensor_is_contiguous(t))
      return vm_error(vm, "%s: the tensor is not contiguous; pass x.contiguous()", where);
    s->p = tensor_data(t);
    return true;
  }
  return vm_error(vm, "%s: expected %s, got %s", where, kind_name(k), value_type_name(v));
}

static bool from_c(VM *vm, char k, const Slot *s, Value *out, const char *where) {
  switch (k) {
  case 'v': *out = UNIT_VAL; return true;
  case 'z': *out = BOOL_VAL((uint8_t)s->u != 0); return true;
  case 'b': *out = INT_VAL((int8_t)s->s); return true;
  case 'h': *out = INT_VAL((int16_t)s->s); return true;
  case 'i': *out = INT_VAL((int32_t)s->s); return true;
  case 'l': *out = INT_VAL(s->l); return true;
  case 'B': *out = INT_VAL((uint8_t)s->u); return true;
  case 'H': *out = INT_VAL((uint16_t)s->u); return true;
  case 'I': *out = INT_VAL((uint32_t)s->u); return true;
  case 'L':
    if (s->L > INT64_MAX) return vm_error(vm, "%s: %llu does not fit int", where, (unsigned long long)s->L);
    *out = INT_VAL((int64_t)s->L);
    return true;
  case 'f': *out = FLOAT_VAL((double)s->f); return true;
  case 'd': *out = FLOAT_VAL(s->d); return true;
  case 's':
    if (!s->p) *out = UNIT_VAL;
    else *out = OBJ_VAL(str_copy(vm, s->p, strlen(s->p)));
    return true;
  default: *out = INT_VAL((int64_t)(intptr_t)s->p); return true;
  }
}

/* ---- callbacks ---- */

typedef struct {
  VM *vm;
  Value fn;
  FfiSig *sig;
  const char *owner; /* the extern fn it was passed to */
  bool failed;       /* a call raised an error: later calls return 0 at once */
} Callback;

/* C calls a NeuralScript function: its pointer arguments arrive as int
 * addresses, strings included. */
static void callback_entry(ffi_cif *cif, void *ret, void **cargs, void *user) {
  (void)cif;
  Callback *cb = user;
  FfiSig *sig = cb->sig;
  VM *vm = cb->vm;
  size_t rsize = abi_type(sig->ret.kind)->size;
  if (sig->ret.kind != 'v') memset(ret, 0, rsize < sizeof(ffi_arg) ? sizeof(ffi_arg) : rsize);
  if (cb->failed) return;
  Value argv[MAX_ARGS];
  char where[160];
  for (int i = 0; i < sig->nparams; i++) {
    char k = sig->params[i].kind;
    Slot s;
    memset(&s, 0, sizeof s);
    memcpy(&s, cargs[i], abi_type(k)->size);
    if (strchr("zbhiBHI", k)) { /* read at their own width, not ffi_arg's */
      switch (k) {
      case 'z': case 'B': s.u = s.B; break;
      case 'b': s.s = s.b; break;
      case 'h': s.s = s.h; break;
      case 'i': s.s = s.i; break;
      case 'H': s.u = s.H; break;
      case 'I': s.u = s.I; break;
      }
    }
    snprintf(where, sizeof where, "argument %d of the callback passed to `%s`", i + 1, cb->owner);
    if (!from_c(vm, k == 's' ? 'p' : k, &s, &argv[i], where)) {
      cb->failed = true;
      return;
    }
  }
  Value res;
  if (!vm_call(vm, cb->fn, argv, sig->nparams, &res)) {
    cb->failed = true;
    return;
  }
  char k = sig->ret.kind;
  if (k == 'v') return;
  snprintf(where, sizeof where, "the result of the callback passed to `%s`", cb->owner);
  Slot s;
  memset(&s, 0, sizeof s);
  if (!to_c(vm, res, k, &s, where)) {
    cb->failed = true;
    return;
  }
  switch (k) { /* small integers are returned widened to ffi_arg */
  case 'b': *(ffi_sarg *)ret = s.b; break;
  case 'h': *(ffi_sarg *)ret = s.h; break;
  case 'i': *(ffi_sarg *)ret = s.i; break;
  case 'z': case 'B': *(ffi_arg *)ret = s.B; break;
  case 'H': *(ffi_arg *)ret = s.H; break;
  case 'I': *(ffi_arg *)ret = s.I; break;
  default: memcpy(ret, &s, abi_type(k)->size); break;
  }
}

/* ---- calls ---- */

enum { ARITY_NONE = -1, ARITY_ANY = -2 };

/* The parameters of a function value as it would be called (a bound
 * method without its receiver); ARITY_NONE for a value that is not a
 * function, ARITY_ANY for a variadic native. */
static int callable_arity(Value f) {
  if (IS_OBJ_TYPE(f, OBJ_BOUND)) {
    int n = callable_arity(AS_BOUND(f)->method);
    return n >= 1 ? n - 1 : n;
  }
  if (IS_OBJ_TYPE(f, OBJ_CLOSURE)) return AS_CLOSURE(f)->proto->nparams;
  if (IS_OBJ_TYPE(f, OBJ_NATIVE)) return AS_NATIVE(f)->max_args < 0 ? ARITY_ANY : AS_NATIVE(f)->max_args;
  return ARITY_NONE;
}

/* Whether f can be called with n arguments (parameters with defaults and
 * natives' optional arguments may be left out). */
static bool accepts(Value f, int n) {
  int self = 0;
  if (IS_OBJ_TYPE(f, OBJ_BOUND)) {
    f = AS_BOUND(f)->method;
    self = 1;
  }
  n += self;
  if (IS_OBJ_TYPE(f, OBJ_NATIVE)) {
    const ObjNative *nat = AS_NATIVE(f);
    return n >= nat->min_args && (nat->max_args < 0 || n <= nat->max_args);
  }
  const ObjProto *p = AS_CLOSURE(f)->proto;
  if (n > p->nparams) return false;
  for (int i = n; i < p->nparams; i++)
    if (i >= 64 || !(p->has_default >> i & 1)) return false;
  return true;
}

static bool call_extern(VM *vm, Value *args, int argc, Value *out) {
  FfiFn *fn = vm->native->data;
  FfiSig *sig = fn->sig;
  if (argc > MAX_ARGS) return vm_error(vm, "`%s`: at most %d arguments can be passed to C", fn->name, MAX_ARGS);
  Slot slots[MAX_ARGS];
  void *avalues[MAX_ARGS];
  char kinds[MAX_ARGS];
  Callback cbs[MAX_ARGS];
  ffi_closure *closures[MAX_ARGS];
  int nclosures = 0;
  char where[384];
  bool ok = true;
  for (int i = 0; i < argc && ok; i++) {
    snprintf(where, sizeof where, "argument %d of `%s`", i + 1, fn->name);
    avalues[i] = &slots[i];
    if (i >= sig->nparams) { /* variadic: C's default argument promotions */
      Value v = args[i];
      char k = IS_INT(v) ? 'l' : IS_FLOAT(v) ? 'd' : IS_BOOL(v) ? 'i' : IS_CHAR(v) ? 'i' : IS_STRING(v) ? 's' : 'p';
      if (IS_BOOL(v)) slots[i].i = v.as.b;
      else if (IS_CHAR(v)) slots[i].i = (int32_t)v.as.i;
      else if (!IS_TENSOR(v) && !IS_UNIT(v) && k == 'p')
        ok = vm_error(vm, "%s: a %s cannot be passed to C's `...`", where, value_type_name(v));
      else ok = to_c(vm, v, k, &slots[i], where);
      kinds[i] = k;
      continue;
    }
    FfiType *t = &sig->params[i];
    kinds[i] = t->kind;
    if (fn->params && fn->params[i]) {
      size_t n = strlen(where);
      snprintf(where + n, sizeof where - n, " (`%s`)", fn->params[i]);
    }
    if (t->kind != 'c') {
      ok = to_c(vm, args[i], t->kind, &slots[i], where);
      continue;
    }
    /* C calls whatever it is given: anything but a function taking the
     * callback's arguments would crash it */
    Value f = args[i];
    int have = callable_arity(f);
    if (have == ARITY_NONE) {
      ok = vm_error(vm, "%s: expected a function of %d parameter%s, got %s", where, t->cb->nparams,
                    t->cb->nparams == 1 ? "" : "s", value_type_name(f));
      break;
    }
    if (!accepts(f, t->cb->nparams)) {
      if (have == ARITY_ANY)
        ok = vm_error(vm, "%s: expected a function of %d parameter%s, got one that cannot take %d", where,
                      t->cb->nparams, t->cb->nparams == 1 ? "" : "s", t->cb->nparams);
      else
        ok = vm_error(vm, "%s: expected a function of %d parameter%s, got one of %d", where, t->cb->nparams,
                      t->cb->nparams == 1 ? "" : "s", have);
      break;
    }
    Callback *cb = &cbs[nclosures];
    *cb = (Callback){vm, f, t->cb, fn->name, false};
    void *code = NULL;
    ffi_closure *cl = ffi_closure_alloc(sizeof(ffi_closure), &code);
    if (!cl) {
      ok = vm_error(vm, "%s: cannot allocate a C callback", where);
      break;
    }
    closures[nclosures++] = cl;
    if (ffi_prep_closure_loc(cl, t->cb->cif, callback_entry, cb, code) != FFI_OK) {
      ok = vm_error(vm, "%s: cannot prepare a C callback", where);
      break;
    }
    slots[i].p = code;
  }
  if (ok) {
    ffi_cif *cif = sig->cif;
    if (argc > sig->nparams) {
      cif = get_cif(kinds, sig->nparams, argc, sig->ret.kind);
      if (!cif) ok = vm_error(vm, "`%s`: libffi cannot make this variadic call", fn->name);
    }
    if (ok) {
      Slot ret;
      memset(&ret, 0, sizeof ret);
      if (vm->out != stdout) fflush(vm->out); /* C writes to stdout: keep the order */
      ffi_call(cif, FFI_FN(fn->addr), &ret, argc ? avalues : NULL);
      for (int i = 0; i < nclosures; i++)
        if (cbs[i].failed) ok = false;
      if (ok && !vm->has_error) {
        snprintf(where, sizeof where, "the result of `%s`", fn->name);
        ok = from_c(vm, sig->ret.kind, &ret, out, where);
      } else {
        ok = false;
      }
    }
  }
  for (int i = 0; i < nclosures; i++) ffi_closure_free(closures[i]);
  return ok;
}

/* A declaration as one line: runs of white space become one space. */
static char *squeeze(const char *s) {
  char *d = dup(s);
  if (!d) return NULL;
  size_t n = 0;
  for (const char *p = s; *p; p++) {
    bool sp = *p == ' ' || *p == '\t' || *p == '\n' || *p == '\r';
    if (sp && (n == 0 || d[n - 1] == ' ')) continue;
    d[n++] = sp ? ' ' : *p;
  }
  while (n && d[n - 1] == ' ') n--;
  d[n] = '\0';
  return d;
}

ObjNative *cffi_native_new(VM *vm, void *handle, const char *lib, const char *name, const char *sig,
                           const char *const *params, int nparams, char *err, size_t errlen) {
  const char *p = sig;
  FfiSig *s = sig_parse(&p);
  if (!s || *p) {
    sig_free(s);
    snprintf(err, errlen, "`%s`: this signature cannot be called through libffi", name);
    return NULL;
  }
  dlerror();
  void *addr = dlsym(handle, name);
  if (!addr) {
    sig_free(s);
    snprintf(err, errlen, "symbol `%s` not found in %s", name, strcmp(lib, "C") ? lib : "the running program");
    return NULL;
  }
  FfiFn *fn = malloc(sizeof *fn);
  char *copy = dup(name);
  if (!fn || !copy) {
    free(fn);
    free(copy);
    sig_free(s);
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  *fn = (FfiFn){addr, copy, s, NULL};
  if (params && nparams == s->nparams && nparams > 0 && (fn->params = calloc((size_t)nparams, sizeof(char *)))) {
    for (int i = 0; i < nparams; i++) fn->params[i] = squeeze(params[i]);
  }
  ObjNative *n = native_new(vm, name, call_extern, s->nparams, s->variadic ? -1 : s->nparams);
  n->data = fn;
  n->free_data = cffi_free_data;
  return n;
}

void cffi_free_data(void *data) {
  FfiFn *fn = data;
  for (int i = 0; fn->params && i < fn->sig->nparams; i++) free(fn->params[i]);
  free(fn->params);
  sig_free(fn->sig);
  free(fn->name);
  free(fn);
}

/* ---- raw memory ---- */

/* addr, or addr + i elements of `size` bytes; NULL (with an error) for 0. */
static void *address(VM *vm, Value *a, int argc, int with_index, size_t size, const char *fname) {
  if (!IS_INT(a[0])) {
    vm_error(vm, "`%s` expects an address (int), got %s", fname, value_type_name(a[0]));
    return NULL;
  }
  if (a[0].as.i == 0) {
    vm_error(vm, "`%s`: null pointer", fname);
    return NULL;
  }
  int64_t i = 0;
  if (argc > with_index) {
    if (!IS_INT(a[1])) {
      vm_error(vm, "`%s` expects an int index, got %s", fname, value_type_name(a[1]));
      return NULL;
    }
    i = a[1].as.i;
  }
  return (char *)(intptr_t)a[0].as.i + i * (int64_t)size;
}

/* NAME is the suffix the user calls: ptr_read_i32 reads an int32_t. */
#define PTR_ACCESS(T, K, NAME)                                                                \
  static bool n_read_##T(VM *vm, Value *a, int argc, Value *out) {                          \
    void *p = address(vm, a, argc, 1, sizeof(T##_t), "ptr_read_" NAME);                     \
    if (!p) return false;                                                                   \
    Slot s;                                                                                 \
    memset(&s, 0, sizeof s);                                                                \
    memcpy(&s, p, sizeof(T##_t));                                                           \
    if (strchr("bhi", K)) s.s = K == 'b' ? s.b : K == 'h' ? s.h : s.i;                       \
    else if (strchr("BHI", K)) s.u = K == 'B' ? s.B : K == 'H' ? s.H : s.I;                  \
    return from_c(vm, K, &s, out, "`ptr_read_" NAME "`");                                   \
  }                                                                                         \
  static bool n_write_##T(VM *vm, Value *a, int argc, Value *out) {                         \
    void *p = address(vm, a, argc - 1, 1, sizeof(T##_t), "ptr_write_" NAME);                \
    if (!p) return false;                                                                   \
    Slot s;                                                                                 \
    if (!to_c(vm, a[argc - 1], K, &s, "the value of `ptr_write_" NAME "`")) return false;   \
    memcpy(p, &s, sizeof(T##_t));                                                           \
    *out = UNIT_VAL;                                                                        \
    return true;                                                                            \
  }

typedef float f32_t;
typedef double f64_t;
PTR_ACCESS(int8, 'b', "i8")
PTR_ACCESS(int16, 'h', "i16")
PTR_ACCESS(int32, 'i', "i32")
PTR_ACCESS(int64, 'l', "i64")
PTR_ACCESS(uint8, 'B', "u8")
PTR_ACCESS(uint16, 'H', "u16")
PTR_ACCESS(uint32, 'I', "u32")
PTR_ACCESS(uint64, 'L', "u64")
PTR_ACCESS(f32, 'f', "f32")
PTR_ACCESS(f64, 'd', "f64")

static bool n_read_str(VM *vm, Value *a, int argc, Value *out) {
  char *p = address(vm, a, argc, 1, 1, "ptr_read_str");
  if (!p) return false;
  *out = OBJ_VAL(str_copy(vm, p, strlen(p)));
  return true;
}

void lib_ffi_init(VM *vm) {
  static const struct {
    const char *name;
    NativeFn read, write;
  } access[] = {
      {"i8", n_read_int8, n_write_int8},    {"i16", n_read_int16, n_write_int16},
      {"i32", n_read_int32, n_write_int32}, {"i64", n_read_int64, n_write_int64},
      {"u8", n_read_uint8, n_write_uint8},  {"u16", n_read_uint16, n_write_uint16},
      {"u32", n_read_uint32, n_write_uint32}, {"u64", n_read_uint64, n_write_uint64},
      {"f32", n_read_f32, n_write_f32},     {"f64", n_read_f64, n_write_f64},
  };
  char name[32];
  for (size_t i = 0; i < sizeof access / sizeof access[0]; i++) {
    snprintf(name, sizeof name, "ptr_read_%s", access[i].name);
    lib_global(vm, name, access[i].read, 1, 2);
    snprintf(name, sizeof name, "ptr_write_%s", access[i].name);
    lib_global(vm, name, access[i].write, 2, 3);
  }
  lib_global(vm, "ptr_read_str", n_read_str, 1, 2);
}
