/* The embedding API (include/neuralscript.h) and module loading: source ->
 * parse -> compile -> run, for files, REPL lines, snippets, the embedded
 * stdlib and `use`d modules; and the timing loop of `nsc bench`. */
#define _GNU_SOURCE /* realpath, strdup */
#include "builtins.h"
#include "neuralscript.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cffi.h"
#include "compiler.h"
#include "parser.h"
#include "ns_stdlib.h"
#include "tensor.h"
#include "threadpool.h"
#include "vm.h"

/* ---- modules ---- */

/* A fresh module that sees the prelude: every prelude global is copied in,
 * marked GLOBAL_BUILTIN so the module may redefine the name. */
static ObjModule *module_create(VM *vm, const char *name, const char *path) {
  ObjModule *m = module_new(vm, str_cstr(vm, name), str_cstr(vm, path));
  vm_push_root(vm, OBJ_VAL(m));
  ObjModule *p = vm->prelude;
  for (uint32_t i = 0; p && i < p->nglobals; i++) {
    uint32_t slot = module_declare(vm, m, p->names[i], GLOBAL_BUILTIN);
    m->values[slot] = p->values[i];
    m->flags[slot] = GLOBAL_BUILTIN;
  }
  map_set(vm, vm->modules, OBJ_VAL(m->path), OBJ_VAL(m));
  vm_pop_root(vm, 1);
  return m;
}

typedef enum { LOAD_OK, LOAD_INCOMPLETE, LOAD_ERROR } LoadStatus;

static bool prelude_more(VM *vm, ObjModule *mod, const char *name);

/* Parse and compile src into mod; diagnostics are printed. */
static LoadStatus compile_into(VM *vm, ObjModule *mod, Source *src, int flags, bool allow_incomplete,
                               ObjProto **out) {
  Arena arena;
  arena_init(&arena);
  DiagList diags;
  diag_init(&diags);
  Ast ast;
  memset(&ast, 0, sizeof ast);
  LoadStatus status = LOAD_OK;
  ParseResult pr = parse_module(src, &arena, &diags, &ast);
  *out = NULL;
  if (pr == PARSE_INCOMPLETE && allow_incomplete) {
    status = LOAD_INCOMPLETE;
  } else if (pr != PARSE_OK && pr != PARSE_ERROR_SOUND) {
    status = LOAD_ERROR;
  } else {
    CompileEnv env = {vm->prelude, flags, NULL, NULL, mod == vm->prelude ? NULL : prelude_more};
    if (!vm->limited) { /* C code would run outside the limits' accounting */
      env.ffi_open = cffi_open;
      env.ffi_native = cffi_native_new;
    }
    *out = compile_module(vm, mod, src, &ast, &diags, &env);
    if (!*out || pr == PARSE_ERROR_SOUND) {
      *out = NULL;
      status = LOAD_ERROR;
    }
  }
  if (status == LOAD_ERROR) {
    vm_end_output_line(vm, vm->err); /* output of the code run so far first (imports, the REPL) */
    diag_print_all(vm->err, &diags, vm->color);
  }
  diag_free(&diags);
  arena_free(&arena);
  return status;
}

/* Run a compiled chunk; on error print it. Returns NS_EXIT_*. */
static int run_chunk(VM *vm, ObjProto *proto, Value *result) {
  ObjClosure *cl = closure_new(vm, proto);
  Value r = UNIT_VAL;
  NsStatus st = vm_run(vm, cl, &r);
  if (st != NS_OK) {
    vm_print_error(vm);
    vm_clear_error(vm);
    return NS_EXIT_RUNTIME;
  }
  if (result) *result = r;
  return NS_EXIT_OK;
}

/* Call main() if the module defines one. */
static int call_main(VM *vm, ObjModule *m) {
  int slot = module_find(m, str_cstr(vm, "main"));
  if (slot < 0 || (m->flags[slot] & GLOBAL_BUILTIN)) return NS_EXIT_OK;
  Value f = m->values[slot];
  if (!IS_OBJ_TYPE(f, OBJ_CLOSURE)) return NS_EXIT_OK;
  Value out;
  if (!vm_call(vm, f, NULL, 0, &out)) {
    vm_print_error(vm);
    vm_clear_error(vm);
    return NS_EXIT_RUNTIME;
  }
  return NS_EXIT_OK;
}

static const NsEmbedded *find_stdlib(const char *name) {
  for (int i = 0; i < ns_stdlib_count; i++)
    if (!strcmp(ns_stdlib[i].name, name)) return &ns_stdlib[i];
  return NULL;
}

static char *dir_of(const char *path) {
  const char *slash = strrchr(path, '/');
  if (!slash) return strdup(".");
  if (slash == path) return strdup("/");
  return strndup(path, (size_t)(slash - path));
}

/* Load, compile and run a module once. `key` identifies it in the module
 * map (a canonical file path or "<stdlib>/name"). */
static bool load_module(VM *vm, const char *name, const char *key, Source *src, Value *out) {
  Value existing;
  if (map_get(vm->modules, OBJ_VAL(str_cstr(vm, key)), &existing)) {
    ObjModule *m = AS_MODULE(existing);
    source_free(src);
    if (m->state == MODULE_LOADING) return vm_error(vm, "import cycle: module `%s` is imported while it is still loading", name);
    if (m->state != MODULE_LOADED) return vm_error(vm, "module `%s` failed to load", name);
    *out = existing;
    return true;
  }
  vm_add_source(vm, src);
  ObjModule *m = module_create(vm, name, key);
  m->state = MODULE_LOADING;
  ObjProto *proto;
  if (compile_into(vm, m, src, 0, false, &proto) != LOAD_OK) {
    m->state = MODULE_NEW;
    return vm_error(vm, "module `%s` has errors (reported above)", name);
  }
  m->chunk = proto;
  ObjClosure *cl = closure_new(vm, proto);
  Value r;
  if (!vm_call(vm, OBJ_VAL(cl), NULL, 0, &r)) {
    m->state = MODULE_NEW;
    return false;
  }
  m->state = MODULE_LOADED;
  *out = OBJ_VAL(m);
  return true;
}

static bool import_file(VM *vm, const char *name, const char *path, Value *out, bool *found) {
  char err[256];
  char real[PATH_MAX];
  if (!realpath(path, real)) {
    *found = false;
    return false;
  }
  *found = true;
  Source *src = source_read_file(real, err, sizeof err);
  if (!src) return vm_error(vm, "cannot read module `%s`: %s", name, err);
  free(src->path);
  src->path = strdup(path);
  return load_module(vm, name, real, src, out);
}

static bool import_module(VM *vm, ObjString *spec, ObjModule *from, Value *out) {
  const char *s = spec->chars;
  char *dir = NULL;
  if (from && from->path && from->path->chars[0] == '/') dir = dir_of(from->path->chars);
  else dir = strdup(vm->script_dir ? vm->script_dir : ".");
  bool ok = false, found = false;
  char path[PATH_MAX];
  if (strchr(s, '/') || (strlen(s) > 3 && !strcmp(s + strlen(s) - 3, ".ns"))) {
    int len = s[0] == '/' ? snprintf(path, sizeof path, "%s", s) : snprintf(path, sizeof path, "%s/%s", dir, s);
    if (len >= (int)sizeof path) {
      free(dir);
      return vm_error(vm, "module path too long: %s", s);
    }
    ok = import_file(vm, s, path, out, &found);
    if (!found) ok = vm_error(vm, "cannot find module file `%s` (looked in %s)", s, dir);
    free(dir);
    return ok;
  }
  /* std::math (or core::math) is the standard library module math and
   * nothing else: no file is looked for. */
  const char *std_name = !strncmp(s, "std::", 5) ? s + 5 : !strncmp(s, "core::", 6) ? s + 6 : NULL;
  if (std_name && !strstr(std_name, "::")) {
    const NsEmbedded *emb = find_stdlib(std_name);
    free(dir);
    if (!emb) return vm_error(vm, "cannot find module `%s`: the standard library has no module `%s`", s, std_name);
    char key[PATH_MAX + 16];
    if (snprintf(key, sizeof key, "<stdlib>/%s.ns", std_name) >= (int)sizeof key) key[0] = 0;
    return load_module(vm, std_name, key, source_new(key, emb->text, emb->len), out);
  }
  /* a::b::c -> stdlib "a/b/c", then file dir/a/b/c.ns, then member c of a::b */
  char rel[PATH_MAX];
  size_t n = 0;
  for (const char *p = s; *p && n + 1 < sizeof rel; p++) {
    if (p[0] == ':' && p[1] == ':') {
      rel[n++] = '/';
      p++;
    } else {
      rel[n++] = *p;
    }
  }
  rel[n] = 0;
  const NsEmbedded *emb = find_stdlib(s);
  if (emb) {
    char key[PATH_MAX + 16];
    if (snprintf(key, sizeof key, "<stdlib>/%s.ns", rel) >= (int)sizeof key) key[0] = 0;
    Source *src = source_new(key, emb->text, emb->len);
    free(dir);
    return load_module(vm, s, key, src, out);
  }
  if (snprintf(path, sizeof path, "%s/%s.ns", dir, rel) >= (int)sizeof path) {
    free(dir);
    return vm_error(vm, "module path too long: %s", s);
  }
  ok = import_file(vm, s, path, out, &found);
  if (found) {
    free(dir);
    return ok;
  }
  const char *last = NULL;
  for (const char *p = s; (p = strstr(p, "::")); p += 2) last = p;
  if (last) {
    ObjString *prefix = str_copy(vm, s, (size_t)(last - s));
    Value mod;
    free(dir);
    if (!import_module(vm, prefix, from, &mod)) return false;
    ObjString *member = str_cstr(vm, last + 2);
    int slot = module_find(AS_MODULE(mod), member);
    if (slot < 0) return vm_error(vm, "module `%s` has no member `%s`", prefix->chars, member->chars);
    *out = AS_MODULE(mod)->values[slot];
    return true;
  }
  free(dir);
  return vm_error(vm, "cannot find module `%s` (no stdlib module and no file %s)", s, path);
}

/* Whether the source declares `pub fn name` or `pub struct name` at the
 * start of a line: the names stdlib/prelude_more.ns adds to the prelude,
 * read off its text so that no list has to follow it. */
static bool declares_pub(const NsEmbedded *emb, const char *name) {
  size_t n = strlen(name);
  const char *t = emb->text, *end = emb->text + emb->len;
  for (const char *l = t; l && l < end; l = memchr(l, '\n', (size_t)(end - l)), l = l ? l + 1 : NULL) {
    const char *s = !strncmp(l, "pub fn ", 7) ? l + 7 : !strncmp(l, "pub struct ", 11) ? l + 11 : NULL;
    if (s && s + n < end && !strncmp(s, name, n) && !(isalnum((unsigned char)s[n]) || s[n] == '_')) return true;
  }
  return false;
}

/* (CompileEnv.prelude_more) stdlib/prelude_more.ns is the part of the
 * prelude compiled on first use of one of its names: parsing and compiling
 * it at every start took a fifth of a hello world's start-up. Compiles it
 * into the prelude once (compiling defines its items; its chunk has no
 * statements to run), then binds the prelude's new names in `mod` as
 * module_create does. */
static bool prelude_more(VM *vm, ObjModule *mod, const char *name) {
  const NsEmbedded *emb = find_stdlib("prelude_more");
  if (!emb || !declares_pub(emb, name)) return false;
  ObjModule *p = vm->prelude;
  if (module_find(p, str_cstr(vm, name)) < 0) {
    Source *src = source_new("<stdlib>/prelude_more.ns", emb->text, emb->len);
    vm_add_source(vm, src);
    ObjProto *proto;
    if (compile_into(vm, p, src, 0, false, &proto) != LOAD_OK) return false;
  }
  for (uint32_t i = 0; i < p->nglobals; i++) {
    if (module_find(mod, p->names[i]) >= 0) continue;
    uint32_t slot = module_declare(vm, mod, p->names[i], GLOBAL_BUILTIN);
    mod->values[slot] = p->values[i];
    mod->flags[slot] = GLOBAL_BUILTIN;
  }
  return true;
}

/* ---- the API ---- */

NsVM *ns_new(void) {
  VM *vm = lang_vm_new();
  if (!vm) return NULL;
  vm->import = import_module;
  const NsEmbedded *prelude = find_stdlib("prelude");
  if (prelude) {
    Source *src = source_new("<stdlib>/prelude.ns", prelude->text, prelude->len);
    vm_add_source(vm, src);
    ObjProto *proto;
    if (compile_into(vm, vm->prelude, src, 0, false, &proto) == LOAD_OK) run_chunk(vm, proto, NULL);
    int o = module_find(vm->prelude, str_cstr(vm, "Option"));
    int r = module_find(vm->prelude, str_cstr(vm, "Result"));
    if (o >= 0 && IS_CLASS(vm->prelude->values[o])) vm->option_class = AS_CLASS(vm->prelude->values[o]);
    if (r >= 0 && IS_CLASS(vm->prelude->values[r])) vm->result_class = AS_CLASS(vm->prelude->values[r]);
  }
  char cwd[PATH_MAX];
  if (!getcwd(cwd, sizeof cwd)) strcpy(cwd, ".");
  vm->main_module = module_create(vm, "main", "<main>");
  vm->script_dir = strdup(cwd);
  return vm;
}

void ns_free(NsVM *vm) {
  /* the end of the program is a sync point: pending tensor ops run */
  if (vm->tc) tensor_sync(vm->tc);
  free(vm->script_dir);
  vm->script_dir = NULL;
  vm_free(vm);
}

void ns_set_args(NsVM *vm, int argc, char **argv) {
  vm->args = list_new(vm, (uint32_t)argc);
  for (int i = 0; i < argc; i++) list_push(vm, vm->args, OBJ_VAL(str_cstr(vm, argv[i])));
}

void ns_set_color(NsVM *vm, bool color) { vm->color = color; }

void ns_set_threads(NsVM *vm, int n) {
  (void)vm;
  pool_set_threads(n);
}

void ns_set_detect_anomaly(NsVM *vm, bool on) { vm->tc->detect_anomaly = on; }

void ns_set_jit(NsVM *vm, bool on) { tensor_jit_set(vm->tc, on); }

void ns_print_jit_stats(NsVM *vm, FILE *out) {
  vm_end_output_line(vm, out);
  tensor_sync(vm->tc);
  tensor_jit_stats(vm->tc, out);
}

void ns_print_stats(NsVM *vm, FILE *out, double seconds) {
  vm_end_output_line(vm, out);
  TensorAllocStats st;
  tensor_alloc_stats(&st);
  uint64_t total = st.hits + st.misses;
  fprintf(out, "stats: tensor allocator %llu hits, %llu misses (%.1f%% hits)\n", (unsigned long long)st.hits,
          (unsigned long long)st.misses, total ? 100.0 * (double)st.hits / (double)total : 0.0);
  fprintf(out, "stats: tensor bytes peak %.1f MiB, current %.1f MiB, cached %.1f MiB (%.1f MiB in large blocks)\n",
          (double)st.peak_bytes / 1048576.0, (double)st.current_bytes / 1048576.0,
          (double)st.cached_bytes / 1048576.0, (double)st.large_cached_bytes / 1048576.0);
  if (st.large_released || st.failures)
    fprintf(out, "stats: %llu large blocks returned to the system, %llu allocations refused\n",
            (unsigned long long)st.large_released, (unsigned long long)st.failures);
  fprintf(out, "stats: %llu garbage collections, %d threads, %.2f s wall time\n",
          (unsigned long long)vm->heap.gc_collections, pool_threads(), seconds);
}

static Source *read_or_report(NsVM *vm, const char *path) {
  char err[256];
  Source *src = source_read_file(path, err, sizeof err);
  if (!src) fprintf(vm->err, "nsc: %s\n", err);
  return src;
}

/* Compile and run a file's top-level code as the main module, without
 * calling main(). */
static int load_main_file(VM *vm, const char *path) {
  Source *src = read_or_report(vm, path);
  if (!src) return NS_EXIT_NOINPUT;
  vm_add_source(vm, src);
  free(vm->script_dir);
  vm->script_dir = dir_of(path);
  char real[PATH_MAX];
  if (realpath(path, real)) vm->main_module->path = str_cstr(vm, real);
  ObjProto *proto;
  if (compile_into(vm, vm->main_module, src, 0, false, &proto) != LOAD_OK) return NS_EXIT_COMPILE;
  /* Known under its real path too, so a module importing it back is a
   * reported cycle rather than a second copy. */
  map_set(vm, vm->modules, OBJ_VAL(vm->main_module->path), OBJ_VAL(vm->main_module));
  vm->main_module->state = MODULE_LOADING;
  int st = run_chunk(vm, proto, NULL);
  vm->main_module->state = MODULE_LOADED;
  return st;
}

int ns_run_file(NsVM *vm, const char *path) {
  int st = load_main_file(vm, path);
  if (st != NS_EXIT_OK) return st;
  return call_main(vm, vm->main_module);
}

/* ---- nsc bench ---- */

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e3 + (double)t.tv_nsec * 1e-6;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* One row of the table; sorts ms[0..reps). */
static void bench_row(FILE *out, int width, const char *name, double *ms, int reps) {
  qsort(ms, (size_t)reps, sizeof *ms, cmp_double);
  double median = reps % 2 ? ms[reps / 2] : (ms[reps / 2 - 1] + ms[reps / 2]) / 2;
  fprintf(out, "%-*s  %10.3f  %10.3f  %10.3f  (%d)\n", width, name, median, ms[0], ms[reps - 1], reps);
}

static void bench_header(FILE *out, int width) {
  fprintf(out, "%-*s  %10s  %10s  %10s  (reps)\n", width, "name", "median ms", "min ms", "max ms");
}

static bool is_bench_fn(ObjModule *m, uint32_t i) {
  Value v = m->values[i];
  return !(m->flags[i] & GLOBAL_BUILTIN) && IS_OBJ_TYPE(v, OBJ_CLOSURE) && AS_CLOSURE(v)->proto->module == m &&
         !strncmp(m->names[i]->chars, "bench_", 6);
}

/* Times every parameterless bench_* function of m; returns NS_EXIT_* and
 * sets *found to the number of bench_* functions timed. */
static int bench_functions(VM *vm, ObjModule *m, int warmup, int reps, FILE *out, int *found) {
  int width = 4;
  *found = 0;
  for (uint32_t i = 0; i < m->nglobals; i++) {
    if (!is_bench_fn(m, i)) continue;
    if (AS_CLOSURE(m->values[i])->proto->nparams > 0) {
      fprintf(vm->err, "nsc: bench: skipping `%s`: a bench_ function takes no parameters\n", m->names[i]->chars);
      continue;
    }
    int len = (int)strlen(m->names[i]->chars);
    if (len > width) width = len;
    ++*found;
  }
  if (!*found) return NS_EXIT_OK;
  double *ms = malloc(sizeof *ms * (size_t)reps);
  if (!ms) return NS_EXIT_RUNTIME;
  bench_header(out, width);
  for (uint32_t i = 0; i < m->nglobals; i++) {
    if (!is_bench_fn(m, i) || AS_CLOSURE(m->values[i])->proto->nparams > 0) continue;
    Value f = m->values[i], r;
    for (int k = 0; k < warmup + reps; k++) {
      double t0 = now_ms();
      bool ok = vm_call(vm, f, NULL, 0, &r) && tensor_sync(vm->tc); /* pending tensor work counts */
      double t1 = now_ms();
      if (!ok) {
        fflush(vm->out);
        vm_print_error(vm);
        vm_clear_error(vm);
        free(ms);
        return NS_EXIT_RUNTIME;
      }
      if (k >= warmup) ms[k - warmup] = t1 - t0;
    }
    bench_row(out, width, m->names[i]->chars, ms, reps);
    fflush(out);
  }
  free(ms);
  return NS_EXIT_OK;
}

/* Do the interpreter's and the JIT's results agree? Numbers and tensors
 * within 1e-5 relative (1e-6 absolute near 0; NaN matches NaN: the JIT's
 * exp/log/tanh are within 1e-6 of libm, and fused loops keep IEEE
 * arithmetic), anything else exactly. */
static bool close_num(double a, double b) {
  if (a != a || b != b) return a != a && b != b;
  if (a == b) return true;
  double m = fabs(a) > fabs(b) ? fabs(a) : fabs(b);
  return fabs(a - b) <= 1e-5 * m + 1e-6;
}

static bool results_agree(Value a, Value b) {
  if (IS_NUM(a) && IS_NUM(b)) return close_num(AS_NUM(a), AS_NUM(b));
  if (IS_TENSOR(a) && IS_TENSOR(b)) {
    ObjTensor *x = AS_TENSOR(a), *y = AS_TENSOR(b);
    if (x->dtype != y->dtype || x->ndim != y->ndim || memcmp(x->shape, y->shape, sizeof(int64_t) * x->ndim))
      return false;
    for (int64_t i = 0; i < x->numel; i++)
      if (!close_num(tensor_get(x, i), tensor_get(y, i))) return false;
    return true;
  }
  return value_equal(a, b);
}

/* nsc bench --compare-interp: the file is loaded twice, into vm (the JIT
 * off) and a second interpreter (on), each from the same random state; then
 * each bench_* function is called in both, interleaved (off, on, off,
 * on...), each side with its own random state, so both run the same
 * sequence of calls on the same data (a function that updates globals
 * included). Prints both medians, their ratio, and whether the last
 * results agree. */
static int bench_compare(VM *vms[2], RngState rng[2], int warmup, int reps, FILE *out) {
  ObjModule *m = vms[0]->main_module;
  int width = 4, found = 0, st = NS_EXIT_OK;
  for (uint32_t i = 0; i < m->nglobals; i++)
    if (is_bench_fn(m, i) && AS_CLOSURE(m->values[i])->proto->nparams == 0) {
      int len = (int)strlen(m->names[i]->chars);
      if (len > width) width = len;
      found++;
    }
  if (!found) {
    fprintf(vms[0]->err, "nsc: bench --compare-interp: no bench_* functions without parameters\n");
    return NS_EXIT_RUNTIME;
  }
  double *ms[2] = {malloc(sizeof(double) * (size_t)reps), malloc(sizeof(double) * (size_t)reps)};
  if (!ms[0] || !ms[1]) {
    free(ms[0]), free(ms[1]);
    return NS_EXIT_RUNTIME;
  }
  fprintf(out, "%-*s  %12s  %12s  %8s  %s\n", width, "name", "interp ms", "jit ms", "speedup", "results");
  for (uint32_t i = 0; i < m->nglobals && st == NS_EXIT_OK; i++) {
    if (!is_bench_fn(m, i) || AS_CLOSURE(m->values[i])->proto->nparams > 0) continue;
    Value f[2] = {m->values[i], vms[1]->main_module->values[i]}, r[2] = {UNIT_VAL, UNIT_VAL};
    for (int k = 0; k < warmup + reps && st == NS_EXIT_OK; k++) {
      for (int mode = 0; mode < 2 && st == NS_EXIT_OK; mode++) {
        VM *vm = vms[mode];
        rng_set_state(&rng[mode]);
        double t0 = now_ms();
        bool ok = vm_call(vm, f[mode], NULL, 0, &r[mode]) && tensor_sync(vm->tc);
        double t1 = now_ms();
        rng_get_state(&rng[mode]);
        if (!ok) {
          fflush(vm->out);
          vm_print_error(vm);
          vm_clear_error(vm);
          st = NS_EXIT_RUNTIME;
        }
        if (k >= warmup) ms[mode][k - warmup] = t1 - t0;
      }
    }
    if (st != NS_EXIT_OK) break;
    bool agree = results_agree(r[0], r[1]);
    double med[2];
    for (int mode = 0; mode < 2; mode++) {
      qsort(ms[mode], (size_t)reps, sizeof(double), cmp_double);
      med[mode] = reps % 2 ? ms[mode][reps / 2] : (ms[mode][reps / 2 - 1] + ms[mode][reps / 2]) / 2;
    }
    fprintf(out, "%-*s  %12.3f  %12.3f  %7.2fx  %s\n", width, m->names[i]->chars, med[0], med[1],
            med[1] > 0 ? med[0] / med[1] : 0.0, agree ? "agree" : "DIFFER");
    fflush(out);
    if (!agree) {
      fprintf(vms[0]->err, "nsc: bench: `%s` gives different results with the JIT on and off\n",
              m->names[i]->chars);
      st = NS_EXIT_RUNTIME;
    }
  }
  free(ms[0]);
  free(ms[1]);
  return st;
}

int ns_bench_compare_file(NsVM *vm, const char *path, int warmup, int reps, FILE *out) {
  if (warmup < 0) warmup = 0;
  if (reps < 1) reps = 1;
  NsVM *jit = ns_new();
  if (!jit) return NS_EXIT_RUNTIME;
  jit->color = vm->color;
  jit->tc->detect_anomaly = vm->tc->detect_anomaly;
  tensor_jit_set(vm->tc, false);
  tensor_jit_set(jit->tc, true);
  jit->tc->jit_wait = true; /* the warm-up calls compile; the timed ones run compiled */
  RngState start, rng[2];
  rng_get_state(&start);
  int st = load_main_file(vm, path);
  rng_get_state(&rng[0]);
  rng_set_state(&start);
  if (st == NS_EXIT_OK) st = load_main_file(jit, path);
  rng_get_state(&rng[1]);
  if (st == NS_EXIT_OK) st = bench_compare((VM *[2]){vm, jit}, rng, warmup, reps, out);
  ns_free(jit);
  return st;
}

/* Times the whole file, main() included, in a fresh VM per run; the
 * program's own output is discarded. */
static int bench_script(VM *vm, const char *path, int warmup, int reps, FILE *out) {
  FILE *devnull = fopen("/dev/null", "w");
  double *ms = malloc(sizeof *ms * (size_t)reps);
  int st = devnull && ms ? NS_EXIT_OK : NS_EXIT_RUNTIME;
  for (int k = 0; st == NS_EXIT_OK && k < warmup + reps; k++) {
    VM *fresh = ns_new();
    fresh->color = vm->color;
    fresh->out = devnull;
    fresh->err = vm->err;
    double t0 = now_ms();
    st = ns_run_file(fresh, path);
    double t1 = now_ms();
    ns_free(fresh);
    if (k >= warmup) ms[k - warmup] = t1 - t0;
  }
  if (st == NS_EXIT_OK) {
    const char *name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    int width = (int)strlen(name) > 4 ? (int)strlen(name) : 4;
    bench_header(out, width);
    bench_row(out, width, name, ms, reps);
  }
  if (devnull) fclose(devnull);
  free(ms);
  return st;
}

int ns_bench_file(NsVM *vm, const char *path, int warmup, int reps, FILE *out) {
  vm->tc->jit_wait = true; /* warm-up calls compile, timed calls run compiled */
  if (warmup < 0) warmup = 0;
  if (reps < 1) reps = 1;
  int st = load_main_file(vm, path);
  if (st != NS_EXIT_OK) return st;
  int found;
  st = bench_functions(vm, vm->main_module, warmup, reps, out, &found);
  if (st != NS_EXIT_OK || found) return st;
  fflush(vm->out);
  return bench_script(vm, path, warmup, reps, out);
}

int ns_run_string(NsVM *vm, const char *name, const char *text, bool repl, bool *incomplete) {
  if (incomplete) *incomplete = false;
  Source *src = source_new(name, text, strlen(text));
  ObjProto *proto;
  LoadStatus ls = compile_into(vm, vm->main_module, src, repl ? COMPILE_REPL : 0, incomplete != NULL, &proto);
  if (ls == LOAD_INCOMPLETE) {
    *incomplete = true;
    source_free(src);
    return NS_EXIT_OK;
  }
  vm_add_source(vm, src);
  if (ls != LOAD_OK) return NS_EXIT_COMPILE;
  Value result = UNIT_VAL;
  int st = run_chunk(vm, proto, &result);
  if (st != NS_EXIT_OK) return st;
  if (repl) {
    if (!IS_UNIT(result) && !IS_UNDEF(result)) {
      format_print(vm, vm->out, result);
      fflush(vm->out);
    }
    return NS_EXIT_OK;
  }
  return call_main(vm, vm->main_module);
}

int ns_check_file(NsVM *vm, const char *path) {
  Source *src = read_or_report(vm, path);
  if (!src) return NS_EXIT_NOINPUT;
  vm_add_source(vm, src);
  ObjModule *m = module_create(vm, path, path);
  ObjProto *proto;
  return compile_into(vm, m, src, 0, false, &proto) == LOAD_OK ? NS_EXIT_OK : NS_EXIT_COMPILE;
}

/* Print a module's chunk, then its functions and methods. */
static void disasm_module(VM *vm, ObjModule *m, ObjProto *chunk, FILE *out) {
  bc_disasm_proto(out, chunk, true);
  for (uint32_t i = 0; i < m->nglobals; i++) {
    if (m->flags[i] & GLOBAL_BUILTIN) continue;
    Value v = m->values[i];
    if (IS_OBJ_TYPE(v, OBJ_CLOSURE) && AS_CLOSURE(v)->proto->module == m) {
      fputc('\n', out);
      bc_disasm_proto(out, AS_CLOSURE(v)->proto, true);
    } else if (IS_CLASS(v)) {
      ObjClass *cls = AS_CLASS(v);
      for (uint32_t j = 0; j < cls->methods.cap; j++) {
        Value mv = cls->methods.entries[j].value;
        if (cls->methods.entries[j].key && IS_OBJ_TYPE(mv, OBJ_CLOSURE) && AS_CLOSURE(mv)->proto->module == m) {
          fputc('\n', out);
          bc_disasm_proto(out, AS_CLOSURE(mv)->proto, true);
        }
      }
    }
  }
  (void)vm;
}

int ns_disasm_file(NsVM *vm, const char *path, FILE *out) {
  Source *src = read_or_report(vm, path);
  if (!src) return NS_EXIT_NOINPUT;
  vm_add_source(vm, src);
  ObjModule *m = module_create(vm, path, path);
  ObjProto *proto;
  if (compile_into(vm, m, src, 0, false, &proto) != LOAD_OK) return NS_EXIT_COMPILE;
  disasm_module(vm, m, proto, out);
  return NS_EXIT_OK;
}

int ns_disasm_string(NsVM *vm, const char *name, const char *text, FILE *out) {
  Source *src = source_new(name, text, strlen(text));
  vm_add_source(vm, src);
  ObjProto *proto;
  if (compile_into(vm, vm->main_module, src, COMPILE_REPL, false, &proto) != LOAD_OK) return NS_EXIT_COMPILE;
  bc_disasm_proto(out, proto, true);
  return NS_EXIT_OK;
}

int ns_print_type(NsVM *vm, const char *expr, FILE *out) {
  size_t n = strlen(expr) + 32;
  char *text = malloc(n);
  snprintf(text, n, "type_of({\n%s\n})", expr);
  Source *src = source_new("<repl>", text, strlen(text));
  free(text);
  vm_add_source(vm, src);
  ObjProto *proto;
  if (compile_into(vm, vm->main_module, src, COMPILE_REPL, false, &proto) != LOAD_OK) return NS_EXIT_COMPILE;
  Value result = UNIT_VAL;
  int st = run_chunk(vm, proto, &result);
  if (st != NS_EXIT_OK) return st;
  if (IS_STRING(result)) fprintf(out, "%s\n", AS_STRING(result)->chars);
  return NS_EXIT_OK;
}
