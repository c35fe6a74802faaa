/* `extern` blocks: C functions called through the FFI (runtime/lang/cffi.h).
 *
 *   extern "libm.so.6" { fn hypot(a: f64, b: f64) -> f64; }
 *   extern "C" { fn printf(fmt: *const c_char, ...) -> i32; }
 *
 * The library is opened and every symbol resolved while the block
 * compiles, so a missing library or symbol is a compile error at the
 * declaration. Each fn becomes a module global holding a native; its
 * parameter and result types are translated here into the signature
 * string the runtime prepares a libffi call interface from. */
#include "cstate.h"

#include <string.h>


typedef struct {
  char buf[512];
  size_t len;
  bool ok;
} Sig;

static void put(Sig *s, char ch) {
  if (s->len + 1 < sizeof s->buf) s->buf[s->len++] = ch;
  else s->ok = false;
  s->buf[s->len] = '\0';
}

static const struct {
  const char *name;
  char kind;
} scalars[] = {
    {"i8", 'b'},     {"i16", 'h'},      {"i32", 'i'},        {"i64", 'l'},     {"isize", 'l'},   {"u8", 'B'},
    {"u16", 'H'},    {"u32", 'I'},      {"u64", 'L'},        {"usize", 'L'},   {"f32", 'f'},     {"f64", 'd'},
    {"bool", 'z'},   {"c_char", 'b'},   {"c_schar", 'b'},    {"c_uchar", 'B'}, {"c_short", 'h'}, {"c_ushort", 'H'},
    {"c_int", 'i'},  {"c_uint", 'I'},   {"c_long", 'l'},     {"c_ulong", 'L'}, {"c_longlong", 'l'},
    {"c_ulonglong", 'L'}, {"size_t", 'L'}, {"c_float", 'f'}, {"c_double", 'd'}, {"str", 's'},  {"String", 's'},
};

static const char *type_name_of(Compiler *c, Node *t) {
  if (!t || t->kind != N_TYPE_NAME) return NULL;
  return c_path_text(c, t->as.type_name.path);
}

static char scalar_kind(const char *name) {
  if (!name) return 0;
  for (size_t i = 0; i < sizeof scalars / sizeof scalars[0]; i++)
    if (!strcmp(scalars[i].name, name)) return scalars[i].kind;
  return 0;
}

/* The pointer kind for a pointee: C strings, tensor data, or any address. */
static char pointer_kind(Compiler *c, Node *pointee, bool is_const) {
  const char *n = type_name_of(c, pointee);
  if (!n) return 'p';
  if (is_const && (!strcmp(n, "u8") || !strcmp(n, "i8") || !strcmp(n, "c_char") || !strcmp(n, "c_uchar")))
    return 's';
  if (!strcmp(n, "f32") || !strcmp(n, "c_float")) return 'F';
  if (!strcmp(n, "f64") || !strcmp(n, "c_double")) return 'D';
  if (!strcmp(n, "i64")) return 'Q';
  return 'p';
}

static void type_sig(Compiler *c, Node *t, Sig *s, bool is_ret);

static void fn_type_sig(Compiler *c, NodeList *params, Node *ret, bool variadic, bool of_params, Sig *s) {
  for (int i = 0; i < params->len; i++) {
    Node *p = params->items[i];
    Node *t = of_params ? p->as.param.type : p;
    if (of_params && p->as.param.self_kind != SELF_NONE) {
      c_error(c, p->span, "a C function has no `self` parameter");
      s->ok = false;
      continue;
    }
    if (!t) {
      c_error(c, p->span, "a parameter of a C function needs a type");
      s->ok = false;
      continue;
    }
    type_sig(c, t, s, false);
  }
  if (variadic) put(s, '.');
  put(s, ':');
  if (!ret) put(s, 'v');
  else type_sig(c, ret, s, true);
}

static void type_sig(Compiler *c, Node *t, Sig *s, bool is_ret) {
  char k = 0;
  switch (t->kind) {
  case N_TYPE_TUPLE:
    if (is_ret && t->as.type_tuple.elems.len == 0) k = 'v';
    break;
  case N_TYPE_REF: {
    Node *in = t->as.type_ref.inner;
    if (in->kind == N_TYPE_ARRAY) k = pointer_kind(c, in->as.type_array.elem, false);
    else if (scalar_kind(type_name_of(c, in)) == 's') k = 's';
    break;
  }
  case N_TYPE_FN:
    if (is_ret) break;
    put(s, 'c');
    put(s, '(');
    fn_type_sig(c, &t->as.type_fn.params, t->as.type_fn.ret, false, false, s);
    put(s, ')');
    return;
  case N_TYPE_NAME: {
    const char *n = type_name_of(c, t);
    if (!strcmp(n, "*const") || !strcmp(n, "*mut")) {
      NodeList *a = &t->as.type_name.args;
      k = pointer_kind(c, a->len ? a->items[0] : NULL, n[1] == 'c');
    } else {
      k = scalar_kind(n);
    }
    break;
  }
  default: break;
  }
  if (!k) {
    const Source *src = c->src;
    Diag *d = c_error(c, t->span, "the type `%.*s` cannot cross the C FFI", (int)(t->span.end - t->span.start),
                      src->text + t->span.start);
    if (d) diag_hint(d, "use an int or float width (i32, u64, f64, ...), bool, *const c_char, a raw pointer or fn(...)");
    s->ok = false;
    return;
  }
  put(s, k);
}

/* `fn f(a: T, ...)`: the parser marks `...` with is_unsafe, as it does
 * `unsafe fn`; the source text tells them apart. */
static bool is_variadic(Compiler *c, Node *fn) {
  if (!fn->as.fn.is_unsafe) return false;
  const char *text = c->src->text + fn->span.start;
  const char *paren = memchr(text, '(', fn->span.end - fn->span.start);
  if (!paren) return false;
  size_t n = fn->span.end - (uint32_t)(paren - c->src->text);
  for (size_t i = 0; i + 2 < n; i++)
    if (paren[i] == '.' && paren[i + 1] == '.' && paren[i + 2] == '.') return true;
  return false;
}

void c_extern_block(Compiler *c, Node *ext) {
  const char *lib = ext->as.ext.abi;
  char err[512];
  if (!c->env->ffi_open) {
    c_error(c, ext->span, "`extern` blocks are not available in a VM with limits");
    return;
  }
  void *handle = c->env->ffi_open(lib, err, sizeof err);
  if (!handle) {
    c_error(c, ext->span, "%s", err);
    return;
  }
  NodeList *items = &ext->as.ext.items;
  for (int i = 0; i < items->len; i++) {
    Node *fn = items->items[i];
    if (fn->kind != N_FN) {
      c_error(c, fn->span, "an `extern` block holds only `fn` declarations");
      continue;
    }
    if (fn->as.fn.body) {
      c_error(c, fn->as.fn.body->span, "a C function declared in an `extern` block has no body");
      continue;
    }
    Sig s = {.ok = true};
    fn_type_sig(c, &fn->as.fn.params, fn->as.fn.ret, is_variadic(c, fn), true, &s);
    if (!s.ok) continue;
    /* each parameter as declared ("cmp: fn(i64) -> i64"), for messages */
    int np = fn->as.fn.params.len;
    const char **params = arena_alloc(&c->arena, sizeof(char *) * (size_t)(np ? np : 1));
    for (int j = 0; j < np; j++) {
      Span sp = fn->as.fn.params.items[j]->span;
      params[j] = arena_strndup(&c->arena, c->src->text + sp.start, sp.end - sp.start);
    }
    ObjNative *n = c->env->ffi_native(c->vm, handle, lib, fn->as.fn.name, s.buf, params, np, err, sizeof err);
    if (!n) {
      c_error(c, fn->span, "%s", err);
      continue;
    }
    int slot = c_resolve_global(c, fn->as.fn.name);
    if (slot >= 0) c->mod->values[slot] = OBJ_VAL(n);
  }
}
