/* The register VM: state, calls, runtime errors and the interpreter loop.
 *
 * Stack shape: one array of NS_STACK_SLOTS Values allocated once, so
 * pointers into it stay valid. A frame's registers R[0..maxregs) start at
 * its base; a call at R[A] puts the callee's base at R[A+1] (its first
 * argument; for a method call at R[A], the receiver) so arguments are never
 * copied, and the result goes back to R[A]. Registers above a call's
 * arguments are dead in the caller. A call from C (vm_call, vm_run) puts
 * the callee just above the top frame's registers.
 *
 * Dispatch is computed goto where GCC extensions exist and a switch
 * otherwise (-DNS_SWITCH_DISPATCH forces it); both hide behind vmdispatch /
 * vmcase / vmbreak as in Lua's lvm.c. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ast.h"
#include "diag.h"
#include "vm.h"

#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)

const char *const vm_opcode_names[BC__NUM] = {
#define OPCODE(name, fmt, operands) #name,
#include "opcodes.def"
#undef OPCODE
};

const OpFormat vm_opcode_formats[BC__NUM] = {
#define OPCODE(name, fmt, operands) FMT_##fmt,
#include "opcodes.def"
#undef OPCODE
};

const char *const vm_opcode_operands[BC__NUM] = {
#define OPCODE(name, fmt, operands) operands,
#include "opcodes.def"
#undef OPCODE
};

/* ---------------------------------------------------------------- VM state */

VM *vm_new(void) {
  VM *vm = calloc(1, sizeof(VM));
  if (!vm) return NULL;
  /* calloc: untouched pages of the big stack cost nothing. */
  vm->stack = calloc(NS_STACK_SLOTS, sizeof(Value));
  vm->frames = calloc(NS_MAX_FRAMES, sizeof(CallFrame));
  if (!vm->stack || !vm->frames) {
    free(vm->stack);
    free(vm->frames);
    free(vm);
    return NULL;
  }
  vm->stack_end = vm->stack + NS_STACK_SLOTS;
  vm->next_gc = (size_t)1 << 20;
  table_init(&vm->strings);
  vm->err = stderr;
  vm->out = stdout;
  vm->last_value = UNIT_VAL;
  vm->gc_pause++;
  vm->modules = map_new(vm);
  builtins_init(vm);
  vm->gc_pause--;
  return vm;
}

void vm_free(VM *vm) {
  if (!vm) return;
  vm_clear_error(vm);
  gc_free_all(vm);
  table_free(vm, &vm->strings);
  for (int i = 0; i < vm->nsources; i++) source_free(vm->sources[i]);
  free(vm->sources);
  free(vm->temp_roots);
  free(vm->script_dir);
  free(vm->stack);
  free(vm->frames);
  free(vm);
}

void vm_add_source(VM *vm, Source *src) {
  if (vm->nsources == vm->capsources) {
    int cap = vm->capsources < 8 ? 8 : vm->capsources * 2;
    Source **s = realloc(vm->sources, sizeof(Source *) * (size_t)cap);
    if (!s) {
      fputs("nsc: out of memory\n", stderr);
      exit(1);
    }
    vm->sources = s;
    vm->capsources = cap;
  }
  vm->sources[vm->nsources++] = src;
}

/* ------------------------------------------------------------------ errors */

bool vm_error(VM *vm, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(vm->error, sizeof vm->error, fmt, ap);
  va_end(ap);
  vm->has_error = true;
  return false;
}

void vm_clear_error(VM *vm) {
  for (int i = 0; i < vm->ntrace; i++) {
    free(vm->trace[i].function);
    free(vm->trace[i].path);
  }
  free(vm->trace);
  vm->trace = NULL;
  vm->ntrace = 0;
  vm->has_error = false;
  vm->error[0] = '\0';
}

static char *dup_cstr(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (!d) {
    fputs("nsc: out of memory\n", stderr);
    exit(1);
  }
  memcpy(d, s, n);
  return d;
}

static void trace_push(VM *vm, const char *function, Source *src, uint32_t offset) {
  /* Capacity is the next power of two >= 8 above ntrace. */
  if (vm->ntrace == 0 || (vm->ntrace >= 8 && (vm->ntrace & (vm->ntrace - 1)) == 0)) {
    size_t cap = vm->ntrace == 0 ? 8 : (size_t)vm->ntrace * 2;
    TraceEntry *t = realloc(vm->trace, sizeof(TraceEntry) * cap);
    if (!t) {
      fputs("nsc: out of memory\n", stderr);
      exit(1);
    }
    vm->trace = t;
  }
  TraceEntry *e = &vm->trace[vm->ntrace++];
  e->function = dup_cstr(function);
  e->src = src;
  e->path = src ? dup_cstr(src->path) : NULL;
  e->line = e->col = 0;
  if (src) source_position(src, offset, &e->line, &e->col);
}

static const char *proto_name(const ObjProto *p) { return p->name ? p->name->chars : "<fn>"; }

/* Append frames [entry, nframes) innermost first; the top frame is at pc. */
static void capture_trace(VM *vm, int entry, const uint32_t *top_pc) {
  for (int f = vm->nframes - 1; f >= entry; f--) {
    CallFrame *fr = &vm->frames[f];
    ObjProto *p = fr->closure->proto;
    const uint32_t *pc = f == vm->nframes - 1 ? top_pc : fr->pc;
    uint32_t at = pc > p->code ? (uint32_t)(pc - p->code - 1) : 0;
    /* A frame waiting for an iterator's next() resumes at its ITERNEXT
     * (state 1 marks the pending call) rather than after it. */
    if (f != vm->nframes - 1 && INS_OP(*pc) == BC_ITERNEXT && fr->base[INS_A(*pc) + 1].type == VAL_INT &&
        fr->base[INS_A(*pc) + 1].as.i == 1)
      at = (uint32_t)(pc - p->code);
    uint32_t offset = at < p->ncode ? p->offsets[at] : 0;
    if (p->src)
      trace_push(vm, proto_name(p), p->src, offset);
    else
      trace_push(vm, proto_name(p), NULL, 0);
  }
}

static bool same_entry(const TraceEntry *a, const TraceEntry *b) {
  if (strcmp(a->function, b->function) != 0) return false;
  if ((a->path == NULL) != (b->path == NULL)) return false;
  if (a->path && strcmp(a->path, b->path) != 0) return false;
  return a->line == b->line && a->col == b->col;
}

static void print_entry(FILE *f, const TraceEntry *e) {
  if (e->path)
    fprintf(f, "  at %s (%s:%d:%d)\n", e->function, e->path, e->line, e->col);
  else
    fprintf(f, "  at %s\n", e->function);
}

/* The source line with a caret under the column, as diagnostics show it. */
static void print_snippet(FILE *f, Source *src, int line, int col, bool color) {
  size_t len;
  const char *text = source_line(src, line, &len);
  if (!text) return;
  fprintf(f, "%5d | %.*s\n", line, (int)len, text);
  fputs("      | ", f);
  int c = 1;
  for (size_t i = 0; i < len && c < col; i++) {
    unsigned char ch = (unsigned char)text[i];
    if ((ch & 0xC0) == 0x80) continue;
    fputc(ch == '\t' ? '\t' : ' ', f);
    c++;
  }
  fprintf(f, "%s^%s\n", color ? "\033[1;31m" : "", color ? "\033[0m" : "");
}

void vm_print_error(VM *vm) {
  FILE *f = vm->err ? vm->err : stderr;
  const char *bold = vm->color ? "\033[1m" : "";
  const char *red = vm->color ? "\033[1;31m" : "";
  const char *reset = vm->color ? "\033[0m" : "";
  const TraceEntry *top = NULL;
  for (int i = 0; i < vm->ntrace && !top; i++)
    if (vm->trace[i].path) top = &vm->trace[i];
  if (top)
    fprintf(f, "%s%s:%d:%d: %sruntime error:%s%s %s%s\n", bold, top->path, top->line, top->col,
            red, reset, bold, vm->error, reset);
  else
    fprintf(f, "%sruntime error:%s%s %s%s\n", red, reset, bold, vm->error, reset);
  if (top && top->src) print_snippet(f, top->src, top->line, top->col, vm->color);
  if (vm->ntrace == 0) return;
  fputs("stack trace:\n", f);
  for (int i = 0; i < vm->ntrace;) {
    int j = i + 1;
    while (j < vm->ntrace && same_entry(&vm->trace[i], &vm->trace[j])) j++;
    int run = j - i, show = run > 4 ? 3 : run;
    for (int s = 0; s < show; s++) print_entry(f, &vm->trace[i]);
    if (run > show) fprintf(f, "  ... %d more frames of %s\n", run - show, vm->trace[i].function);
    i = j;
  }
}

/* ------------------------------------------------------- classes, methods */

ObjClass *vm_class_of(VM *vm, Value v) {
  if (v.type != VAL_OBJ) return vm->class_of_type[v.type];
  switch (OBJ_TYPE(v)) {
  case OBJ_INSTANCE: return AS_INSTANCE(v)->cls;
  case OBJ_VARIANT: return AS_VARIANT(v)->cls;
  default: return vm->class_of_obj[OBJ_TYPE(v)];
  }
}

bool vm_find_method(VM *vm, Value receiver, ObjString *name, Value *out) {
  ObjClass *cls = vm_class_of(vm, receiver);
  if (cls && table_get(&cls->methods, name, out)) return true;
  /* Methods every struct or enum value has (clone, to_string, ...). */
  if (IS_OBJ(receiver) && (OBJ_TYPE(receiver) == OBJ_INSTANCE || OBJ_TYPE(receiver) == OBJ_VARIANT)) {
    ObjClass *generic = vm->class_of_obj[OBJ_TYPE(receiver)];
    if (generic && generic != cls && table_get(&generic->methods, name, out)) return true;
  }
  return false;
}

static const char *class_kind_name(const ObjClass *c) {
  switch (c->kind) {
  case CLASS_STRUCT: return "struct";
  case CLASS_ENUM: return "enum";
  case CLASS_TRAIT: return "trait";
  default: return "type";
  }
}

static int field_index(const ObjClass *cls, const ObjString *name) {
  for (int i = 0; i < cls->nfields; i++)
    if (cls->field_names[i] == name) return i;
  return -1;
}

static int variant_field_index(const VariantInfo *vi, const ObjString *name) {
  if (!vi->field_names) return -1;
  for (int i = 0; i < vi->nfields; i++)
    if (vi->field_names[i] == name) return i;
  return -1;
}

static int variant_index(const ObjClass *cls, const ObjString *name) {
  for (int i = 0; i < cls->nvariants; i++)
    if (cls->variants[i].name == name) return i;
  return -1;
}

static bool is_typespec(const ObjClass *cls, int i) {
  return cls->field_types && IS_OBJ_TYPE(cls->field_types[i], OBJ_TYPESPEC);
}

bool vm_check_type(VM *vm, ObjTypeSpec *ts, Value *v) {
  Value x = *v;
  switch (ts->kind) {
  case TS_ANY: return true;
  case TS_INT:
    if (IS_INT(x)) return true;
    break;
  case TS_FLOAT:
    if (IS_FLOAT(x)) return true;
    if (IS_INT(x)) {
      *v = FLOAT_VAL((double)x.as.i);
      return true;
    }
    break;
  case TS_NUMBER:
    if (IS_NUM(x)) return true;
    break;
  case TS_BOOL:
    if (IS_BOOL(x)) return true;
    break;
  case TS_CHAR:
    if (IS_CHAR(x)) return true;
    break;
  case TS_STRING:
    if (IS_STRING(x)) return true;
    break;
  case TS_UNIT:
    if (IS_UNIT(x)) return true;
    break;
  case TS_LIST:
    if (IS_LIST(x)) return true;
    break;
  case TS_TUPLE:
    if (IS_TUPLE(x) && (ts->tuple_len < 0 || AS_TUPLE(x)->len == (uint32_t)ts->tuple_len))
      return true;
    break;
  case TS_MAP:
    if (IS_OBJ_TYPE(x, OBJ_MAP)) return true;
    break;
  case TS_RANGE:
    if (IS_OBJ_TYPE(x, OBJ_RANGE)) return true;
    break;
  case TS_COMPLEX:
    if (IS_OBJ_TYPE(x, OBJ_COMPLEX)) return true;
    break;
  case TS_FN:
    if (value_is_callable(x)) return true;
    break;
  case TS_OPTION:
    if (IS_VARIANT(x) && AS_VARIANT(x)->cls == vm->option_class) return true;
    break;
  case TS_RESULT:
    if (IS_VARIANT(x) && AS_VARIANT(x)->cls == vm->result_class) return true;
    break;
  case TS_CLASS: {
    /* A name that is not (yet) a class here is not checked. */
    if (!ts->module || ts->slot >= ts->module->nglobals) return true;
    Value c = ts->module->values[ts->slot];
    if (!IS_CLASS(c)) return true;
    ObjClass *want = AS_CLASS(c), *have = vm_class_of(vm, x);
    if (have == want) return true;
    Value impl;
    if (want->kind == CLASS_TRAIT && have && table_get(&have->traits, want->name, &impl)) return true;
    break;
  }
  }
  if (ts->what)
    return vm_error(vm, "%s expects %s, got %s", ts->what->chars, ts->text ? ts->text->chars : "?",
                    value_type_name(x));
  return vm_error(vm, "expected %s, got %s", ts->text ? ts->text->chars : "?", value_type_name(x));
}

/* ---------------------------------------------------------------- upvalues */

static ObjUpvalue *capture_upvalue(VM *vm, Value *slot) {
  ObjUpvalue **link = &vm->open_upvalues;
  while (*link && (*link)->location > slot) link = &(*link)->next_open;
  if (*link && (*link)->location == slot) return *link;
  ObjUpvalue *u = upvalue_new(vm, slot);
  u->next_open = *link;
  *link = u;
  return u;
}

static void close_upvalues(VM *vm, Value *level) {
  while (vm->open_upvalues && vm->open_upvalues->location >= level) {
    ObjUpvalue *u = vm->open_upvalues;
    u->closed = *u->location;
    u->location = &u->closed;
    vm->open_upvalues = u->next_open;
  }
}

/* ------------------------------------------------------------------- calls */

typedef enum { CALL_ERROR, CALL_DONE, CALL_FRAME } CallStatus;

static bool stack_overflow(VM *vm) {
  return vm_error(vm, "stack overflow: recursion too deep (%d frames)", vm->nframes);
}

static const char *plural(long n) { return n == 1 ? "" : "s"; }

/* "`f` expects 2 arguments, got 1"; `hidden` receivers are not counted. */
static bool arity_error(VM *vm, const ObjProto *p, int argc, int hidden) {
  int required = 0;
  for (int i = 0; i < p->nparams; i++)
    if (i >= 64 || !(p->has_default >> i & 1)) required = i + 1;
  int most = p->nparams - hidden, least = required - hidden;
  if (least < 0) least = 0;
  if (least == most)
    return vm_error(vm, "`%s` expects %d argument%s, got %d", proto_name(p), most, plural(most),
                    argc - hidden);
  return vm_error(vm, "`%s` expects %d to %d arguments, got %d", proto_name(p), least, most,
                  argc - hidden);
}

static bool has_default(const ObjProto *p, int i) { return i < 64 && (p->has_default >> i & 1); }

/* Put args[0..argc) into parameter order: positional first, then the last
 * names->len arguments by name; absent parameters with defaults get UNDEF
 * (the callee's JUNDEF computes the default). */
__attribute__((noinline)) static bool bind_args(VM *vm, const ObjProto *p, Value *args, int argc, const ObjTuple *names,
                      int hidden) {
  int nnamed = names ? (int)names->len : 0;
  int npos = argc - nnamed;
  if (npos > p->nparams || (nnamed == 0 && argc > p->nparams)) return arity_error(vm, p, argc, hidden);
  if (nnamed == 0) {
    for (int i = argc; i < p->nparams; i++) {
      if (!has_default(p, i)) return arity_error(vm, p, argc, hidden);
      args[i] = UNDEF_VAL;
    }
    return true;
  }
  Value named[256];
  bool set[256];
  memcpy(named, args + npos, sizeof(Value) * (size_t)nnamed);
  for (int i = 0; i < p->nparams; i++) set[i] = i < npos;
  for (int i = npos; i < p->nparams; i++) args[i] = UNDEF_VAL;
  for (int j = 0; j < nnamed; j++) {
    ObjString *name = AS_STRING(names->items[j]);
    int idx = -1;
    for (int i = 0; i < p->nparams && p->param_names; i++)
      if (p->param_names[i] == name) idx = i;
    if (idx < 0) return vm_error(vm, "`%s` has no parameter named `%s`", proto_name(p), name->chars);
    if (set[idx]) return vm_error(vm, "argument `%s` given twice", name->chars);
    args[idx] = named[j];
    set[idx] = true;
  }
  for (int i = npos; i < p->nparams; i++)
    if (!set[i] && !has_default(p, i)) return arity_error(vm, p, argc, hidden);
  return true;
}

static CallStatus push_frame(VM *vm, ObjClosure *cl, Value *args, int argc, const ObjTuple *names,
                             Value *ret, int hidden) {
  ObjProto *p = cl->proto;
  if (UNLIKELY(vm->nframes >= NS_MAX_FRAMES || args + p->maxregs + p->nparams + 1 > vm->stack_end)) {
    stack_overflow(vm);
    return CALL_ERROR;
  }
  if (names || argc != p->nparams) {
    if (!bind_args(vm, p, args, argc, names, hidden)) return CALL_ERROR;
  }
  for (Value *r = args + p->nparams; r < args + p->maxregs; r++) *r = UNIT_VAL;
  CallFrame *f = &vm->frames[vm->nframes++];
  f->closure = cl;
  f->pc = p->code;
  f->base = args;
  f->ret = ret;
  f->stop = false;
  return CALL_FRAME;
}

static CallStatus call_native(VM *vm, ObjNative *nat, Value *args, int argc, Value *ret, int hidden) {
  if (argc < nat->min_args || (nat->max_args >= 0 && argc > nat->max_args)) {
    int lo = nat->min_args - hidden, hi = nat->max_args - hidden, got = argc - hidden;
    if (nat->max_args < 0)
      vm_error(vm, "`%s` expects at least %d argument%s, got %d", nat->name->chars, lo, plural(lo), got);
    else if (lo == hi)
      vm_error(vm, "`%s` expects %d argument%s, got %d", nat->name->chars, lo, plural(lo), got);
    else
      vm_error(vm, "`%s` expects %d to %d arguments, got %d", nat->name->chars, lo, hi, got);
    return CALL_ERROR;
  }
  for (int i = 0; i < argc; i++)
    if (UNLIKELY(IS_UNDEF(args[i]))) {
      vm_error(vm, "argument %d of `%s` has no value", i + 1 - hidden, nat->name->chars);
      return CALL_ERROR;
    }
  Value res = UNIT_VAL;
  vm->native_depth++;
  bool ok = nat->fn(vm, args, argc, &res);
  vm->native_depth--;
  if (!ok) {
    if (!vm->has_error) vm_error(vm, "`%s` failed", nat->name->chars);
    /* A native between two interpreted frames shows in the trace. */
    if (vm->ntrace > 0) trace_push(vm, nat->name->chars, NULL, 0);
    return CALL_ERROR;
  }
  *ret = res;
  return CALL_DONE;
}

static CallStatus construct_tuple_struct(VM *vm, ObjClass *cls, Value *args, int argc, Value *ret) {
  if (argc != cls->nfields) {
    vm_error(vm, "`%s` expects %d argument%s, got %d", cls->name->chars, cls->nfields,
             plural(cls->nfields), argc);
    return CALL_ERROR;
  }
  ObjInstance *in = instance_new(vm, cls);
  for (int i = 0; i < argc; i++) {
    in->fields[i] = args[i];
    if (is_typespec(cls, i) && !vm_check_type(vm, AS_TYPESPEC(cls->field_types[i]), &in->fields[i]))
      return CALL_ERROR;
  }
  *ret = OBJ_VAL(in);
  return CALL_DONE;
}

static CallStatus construct_variant(VM *vm, ObjCtor *ctor, Value *args, int argc, Value *ret) {
  VariantInfo *vi = &ctor->cls->variants[ctor->tag];
  if (argc != vi->nfields) {
    vm_error(vm, "`%s` expects %d argument%s, got %d", vi->name->chars, vi->nfields,
             plural(vi->nfields), argc);
    return CALL_ERROR;
  }
  ObjVariant *v = variant_new(vm, ctor->cls, ctor->tag, vi->nfields);
  for (int i = 0; i < argc; i++) v->fields[i] = args[i];
  *ret = OBJ_VAL(v);
  return CALL_DONE;
}

/* Call any callable with args[0..argc) on the stack; args[argc] must be
 * writable (a bound method shifts the arguments up to prepend its
 * receiver). `hidden`: 1 when args[0] is a receiver the caller did not
 * write, so arity errors do not count it. */
static CallStatus call_value(VM *vm, Value callee, Value *args, int argc, const ObjTuple *names,
                             Value *ret, int hidden) {
  for (;;) {
    if (!IS_OBJ(callee)) break;
    switch (OBJ_TYPE(callee)) {
    case OBJ_CLOSURE: return push_frame(vm, AS_CLOSURE(callee), args, argc, names, ret, hidden);
    case OBJ_NATIVE:
      if (names) {
        vm_error(vm, "`%s` does not take named arguments", AS_NATIVE(callee)->name->chars);
        return CALL_ERROR;
      }
      return call_native(vm, AS_NATIVE(callee), args, argc, ret, hidden);
    case OBJ_BOUND: {
      ObjBound *b = AS_BOUND(callee);
      if (args + argc + 1 >= vm->stack_end) {
        stack_overflow(vm);
        return CALL_ERROR;
      }
      memmove(args + 1, args, sizeof(Value) * (size_t)argc);
      args[0] = b->receiver;
      argc++;
      hidden = 1;
      callee = b->method;
      continue;
    }
    case OBJ_CLASS: {
      ObjClass *cls = AS_CLASS(callee);
      if (cls->kind != CLASS_STRUCT || !cls->is_tuple_struct) break;
      if (names) {
        vm_error(vm, "`%s` does not take named arguments", cls->name->chars);
        return CALL_ERROR;
      }
      return construct_tuple_struct(vm, cls, args, argc, ret);
    }
    case OBJ_CTOR:
      if (names) {
        vm_error(vm, "`%s` does not take named arguments",
                 AS_CTOR(callee)->cls->variants[AS_CTOR(callee)->tag].name->chars);
        return CALL_ERROR;
      }
      return construct_variant(vm, AS_CTOR(callee), args, argc, ret);
    default: break;
    }
    break;
  }
  vm_error(vm, "cannot call a value of type %s", value_type_name(callee));
  return CALL_ERROR;
}

static bool used_before_definition(VM *vm, ObjString *name) {
  return vm_error(vm, "`%s` is used before its definition", name->chars);
}

/* R[A].name(R[A+1] .. R[A+nargs]) with ra = &R[A]. */
static CallStatus invoke(VM *vm, Value *ra, ObjString *name, int nargs, const ObjTuple *names) {
  Value recv = ra[0], m;
  if (IS_OBJ(recv)) {
    switch (OBJ_TYPE(recv)) {
    case OBJ_INSTANCE: {
      ObjInstance *in = AS_INSTANCE(recv);
      if (table_get(&in->cls->methods, name, &m)) return call_value(vm, m, ra, nargs + 1, names, ra, 1);
      int idx = field_index(in->cls, name);
      if (idx >= 0 && value_is_callable(in->fields[idx]))
        return call_value(vm, in->fields[idx], ra + 1, nargs, names, ra, 0);
      break;
    }
    case OBJ_MODULE: {
      ObjModule *mod = AS_MODULE(recv);
      int32_t slot = module_find(mod, name);
      if (slot < 0) {
        vm_error(vm, "module %s has no member `%s`", mod->name ? mod->name->chars : "?", name->chars);
        return CALL_ERROR;
      }
      Value fn = mod->values[slot];
      if (IS_UNDEF(fn)) {
        used_before_definition(vm, name);
        return CALL_ERROR;
      }
      return call_value(vm, fn, ra + 1, nargs, names, ra, 0);
    }
    case OBJ_CLASS: {
      ObjClass *cls = AS_CLASS(recv);
      if (cls->kind == CLASS_ENUM) {
        int tag = variant_index(cls, name);
        if (tag >= 0) {
          Value ctor = cls->variants[tag].ctor;
          if (IS_UNDEF(ctor)) {
            vm_error(vm, "`%s::%s` is not a function", cls->name->chars, name->chars);
            return CALL_ERROR;
          }
          return call_value(vm, ctor, ra + 1, nargs, names, ra, 0);
        }
      }
      if (table_get(&cls->methods, name, &m)) return call_value(vm, m, ra + 1, nargs, names, ra, 0);
      vm_error(vm, "%s %s has no function `%s`", class_kind_name(cls), cls->name->chars, name->chars);
      return CALL_ERROR;
    }
    default: break;
    }
  }
  if (vm_find_method(vm, recv, name, &m)) return call_value(vm, m, ra, nargs + 1, names, ra, 1);
  vm_error(vm, "no method `%s` on %s", name->chars, value_type_name(recv));
  return CALL_ERROR;
}

/* ------------------------------------------------------ fields and indexes */

static bool get_field(VM *vm, Value obj, Value key, Value *out) {
  if (IS_INT(key)) {
    int64_t i = key.as.i;
    if (IS_OBJ(obj)) {
      switch (OBJ_TYPE(obj)) {
      case OBJ_TUPLE:
        if (i >= 0 && i < AS_TUPLE(obj)->len) {
          *out = AS_TUPLE(obj)->items[i];
          return true;
        }
        return vm_error(vm, "tuple index %lld out of range for tuple of length %u", (long long)i,
                        AS_TUPLE(obj)->len);
      case OBJ_INSTANCE:
        if (i >= 0 && i < AS_INSTANCE(obj)->cls->nfields) {
          *out = AS_INSTANCE(obj)->fields[i];
          return true;
        }
        return vm_error(vm, "struct %s has no field `%lld`", AS_INSTANCE(obj)->cls->name->chars,
                        (long long)i);
      case OBJ_VARIANT:
        if (i >= 0 && i < AS_VARIANT(obj)->nfields) {
          *out = AS_VARIANT(obj)->fields[i];
          return true;
        }
        break;
      default: break;
      }
    }
    return vm_error(vm, "no field `%lld` on %s", (long long)i, value_type_name(obj));
  }
  ObjString *name = AS_STRING(key);
  Value m;
  if (IS_OBJ(obj)) {
    switch (OBJ_TYPE(obj)) {
    case OBJ_INSTANCE: {
      ObjInstance *in = AS_INSTANCE(obj);
      int idx = field_index(in->cls, name);
      if (idx >= 0) {
        *out = in->fields[idx];
        return true;
      }
      if (vm_find_method(vm, obj, name, &m)) {
        *out = OBJ_VAL(bound_new(vm, obj, m));
        return true;
      }
      return vm_error(vm, "struct %s has no field `%s`", in->cls->name->chars, name->chars);
    }
    case OBJ_VARIANT: {
      ObjVariant *v = AS_VARIANT(obj);
      int idx = variant_field_index(&v->cls->variants[v->tag], name);
      if (idx >= 0 && idx < v->nfields) {
        *out = v->fields[idx];
        return true;
      }
      if (vm_find_method(vm, obj, name, &m)) {
        *out = OBJ_VAL(bound_new(vm, obj, m));
        return true;
      }
      return vm_error(vm, "%s::%s has no field `%s`", v->cls->name->chars,
                      v->cls->variants[v->tag].name->chars, name->chars);
    }
    case OBJ_MODULE: {
      ObjModule *mod = AS_MODULE(obj);
      int32_t slot = module_find(mod, name);
      if (slot < 0)
        return vm_error(vm, "module %s has no member `%s`", mod->name ? mod->name->chars : "?",
                        name->chars);
      if (IS_UNDEF(mod->values[slot])) return used_before_definition(vm, name);
      *out = mod->values[slot];
      return true;
    }
    case OBJ_CLASS: {
      ObjClass *cls = AS_CLASS(obj);
      if (cls->kind == CLASS_ENUM) {
        int tag = variant_index(cls, name);
        if (tag >= 0) {
          VariantInfo *vi = &cls->variants[tag];
          *out = IS_UNDEF(vi->ctor) ? vi->unit_value : vi->ctor;
          return true;
        }
      }
      if (table_get(&cls->methods, name, out)) return true;
      return vm_error(vm, "%s %s has no member `%s`", class_kind_name(cls), cls->name->chars,
                      name->chars);
    }
    case OBJ_COMPLEX:
      if (strcmp(name->chars, "re") == 0) {
        *out = FLOAT_VAL(((ObjComplex *)obj.as.o)->re);
        return true;
      }
      if (strcmp(name->chars, "im") == 0) {
        *out = FLOAT_VAL(((ObjComplex *)obj.as.o)->im);
        return true;
      }
      break;
    default: break;
    }
  }
  if (vm_find_method(vm, obj, name, &m)) {
    *out = OBJ_VAL(bound_new(vm, obj, m));
    return true;
  }
  return vm_error(vm, "no field `%s` on %s", name->chars, value_type_name(obj));
}

static bool set_field(VM *vm, Value obj, Value key, Value v) {
  if (IS_INSTANCE(obj)) {
    ObjInstance *in = AS_INSTANCE(obj);
    int idx = IS_INT(key) ? (key.as.i >= 0 && key.as.i < in->cls->nfields ? (int)key.as.i : -1)
                          : field_index(in->cls, AS_STRING(key));
    if (idx < 0) {
      if (IS_INT(key))
        return vm_error(vm, "struct %s has no field `%lld`", in->cls->name->chars, (long long)key.as.i);
      return vm_error(vm, "struct %s has no field `%s`", in->cls->name->chars, AS_STRING(key)->chars);
    }
    if (is_typespec(in->cls, idx) && !vm_check_type(vm, AS_TYPESPEC(in->cls->field_types[idx]), &v))
      return false;
    in->fields[idx] = v;
    return true;
  }
  if (IS_VARIANT(obj)) {
    ObjVariant *var = AS_VARIANT(obj);
    int idx = IS_INT(key) ? (int)key.as.i : variant_field_index(&var->cls->variants[var->tag], AS_STRING(key));
    if (idx >= 0 && idx < var->nfields) {
      var->fields[idx] = v;
      return true;
    }
  }
  if (IS_INT(key))
    return vm_error(vm, "cannot assign to field `%lld` of %s", (long long)key.as.i, value_type_name(obj));
  return vm_error(vm, "cannot assign to field `%s` of %s", AS_STRING(key)->chars, value_type_name(obj));
}

/* Decode one UTF-8 code point of s[0..len); returns its byte length. */
static int utf8_decode(const unsigned char *s, uint32_t len, int64_t *cp) {
  unsigned c = s[0];
  if (c < 0x80) {
    *cp = c;
    return 1;
  }
  int n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
  if (n == 1 || (uint32_t)n > len) {
    *cp = 0xFFFD;
    return 1;
  }
  int64_t v = c & (0x3F >> (n - 1));
  for (int j = 1; j < n; j++) v = (v << 6) | (s[j] & 0x3F);
  *cp = v;
  return n;
}

static bool is_char_boundary(const ObjString *s, int64_t i) {
  return i == s->len || (i >= 0 && i < s->len && ((unsigned char)s->chars[i] & 0xC0) != 0x80);
}

/* A range used as an index into a sequence of length len: the first index,
 * how many items, and the step. Bounds outside [0, len] are errors. */
static bool slice_bounds(VM *vm, const ObjRange *r, int64_t len, const char *what, int64_t *start,
                         int64_t *count, int64_t *step) {
  int64_t st = (r->flags & RANGE_HAS_STEP) ? r->step : 1;
  if (st == 0) return vm_error(vm, "slice step cannot be zero");
  bool incl = r->flags & RANGE_INCLUSIVE;
  int64_t lo, hi;
  if (st > 0) {
    lo = (r->flags & RANGE_HAS_LO) ? r->lo : 0;
    hi = (r->flags & RANGE_HAS_HI) ? r->hi + (incl ? 1 : 0) : len;
    if (lo < 0 || hi > len || lo > hi)
      goto out_of_range;
    *count = (hi - lo + st - 1) / st;
  } else {
    /* Walking down from lo to hi (exclusive unless inclusive). */
    lo = (r->flags & RANGE_HAS_LO) ? r->lo : len - 1;
    hi = (r->flags & RANGE_HAS_HI) ? r->hi - (incl ? 1 : 0) : -1;
    if (len == 0 && !(r->flags & (RANGE_HAS_LO | RANGE_HAS_HI))) {
      *count = 0;
      *start = 0;
      *step = st;
      return true;
    }
    if (lo >= len || hi < -1 || lo < hi) goto out_of_range;
    *count = (lo - hi + (-st) - 1) / (-st);
  }
  *start = lo;
  *step = st;
  return true;
out_of_range:
  return vm_error(vm, "slice %lld..%s%lld out of range for %s of length %lld", (long long)r->lo,
                  incl ? "=" : "", (long long)r->hi, what, (long long)len);
}

static bool key_not_found(VM *vm, Value key) {
  ObjString *s = format_value(vm, key, true);
  return vm_error(vm, "key not found: %s", s ? s->chars : "?");
}

static bool get_index(VM *vm, Value obj, Value idx, Value *out) {
  if (IS_OBJ(obj)) {
    switch (OBJ_TYPE(obj)) {
    case OBJ_LIST: {
      ObjList *l = AS_LIST(obj);
      if (IS_INT(idx)) {
        if (idx.as.i < 0 || idx.as.i >= l->len)
          return vm_error(vm, "index %lld out of range for list of length %u", (long long)idx.as.i, l->len);
        *out = l->items[idx.as.i];
        return true;
      }
      if (IS_OBJ_TYPE(idx, OBJ_RANGE)) {
        int64_t start, count, step;
        if (!slice_bounds(vm, AS_RANGE(idx), l->len, "list", &start, &count, &step)) return false;
        ObjList *r = list_new(vm, (uint32_t)count);
        for (int64_t j = 0; j < count; j++) r->items[j] = l->items[start + j * step];
        r->len = (uint32_t)count;
        *out = OBJ_VAL(r);
        return true;
      }
      break;
    }
    case OBJ_TUPLE: {
      ObjTuple *t = AS_TUPLE(obj);
      if (IS_INT(idx)) {
        if (idx.as.i < 0 || idx.as.i >= t->len)
          return vm_error(vm, "index %lld out of range for tuple of length %u", (long long)idx.as.i, t->len);
        *out = t->items[idx.as.i];
        return true;
      }
      break;
    }
    case OBJ_STRING: {
      ObjString *s = AS_STRING(obj);
      if (IS_INT(idx)) {
        int64_t i = idx.as.i;
        if (i < 0 || i >= s->len)
          return vm_error(vm, "index %lld out of range for string of length %u", (long long)i, s->len);
        if (!is_char_boundary(s, i))
          return vm_error(vm, "byte index %lld is not a char boundary", (long long)i);
        int64_t cp;
        utf8_decode((const unsigned char *)s->chars + i, s->len - (uint32_t)i, &cp);
        *out = CHAR_VAL(cp);
        return true;
      }
      if (IS_OBJ_TYPE(idx, OBJ_RANGE)) {
        int64_t start, count, step;
        if (!slice_bounds(vm, AS_RANGE(idx), s->len, "string", &start, &count, &step)) return false;
        if (step != 1) return vm_error(vm, "string slices cannot have a step");
        if (!is_char_boundary(s, start)) return vm_error(vm, "byte index %lld is not a char boundary", (long long)start);
        if (!is_char_boundary(s, start + count))
          return vm_error(vm, "byte index %lld is not a char boundary", (long long)(start + count));
        *out = OBJ_VAL(str_copy(vm, s->chars + start, (size_t)count));
        return true;
      }
      break;
    }
    case OBJ_MAP:
      if (map_get(AS_MAP(obj), idx, out)) return true;
      return key_not_found(vm, idx);
    default: break;
    }
  }
  if (IS_TUPLE(idx))
    return vm_error(vm, "cannot index %s with several indices (only tensors are multi-dimensional)",
                    value_type_name(obj));
  if (IS_OBJ(obj) && (OBJ_TYPE(obj) == OBJ_LIST || OBJ_TYPE(obj) == OBJ_TUPLE || OBJ_TYPE(obj) == OBJ_STRING))
    return vm_error(vm, "%s indices must be integers or ranges, got %s", value_type_name(obj),
                    value_type_name(idx));
  return vm_error(vm, "cannot index a value of type %s", value_type_name(obj));
}

static bool set_index(VM *vm, Value obj, Value idx, Value v) {
  if (IS_LIST(obj)) {
    ObjList *l = AS_LIST(obj);
    if (!IS_INT(idx)) return vm_error(vm, "list indices must be integers, got %s", value_type_name(idx));
    if (idx.as.i < 0 || idx.as.i >= l->len)
      return vm_error(vm, "index %lld out of range for list of length %u", (long long)idx.as.i, l->len);
    l->items[idx.as.i] = v;
    return true;
  }
  if (IS_OBJ_TYPE(obj, OBJ_MAP)) return map_set(vm, AS_MAP(obj), idx, v);
  if (IS_STRING(obj) || IS_TUPLE(obj))
    return vm_error(vm, "cannot assign to an element of a %s (it is immutable)", value_type_name(obj));
  return vm_error(vm, "cannot index a value of type %s", value_type_name(obj));
}

static bool unpack(VM *vm, Value v, uint32_t n, Value *out) {
  if (IS_OBJ(v)) {
    switch (OBJ_TYPE(v)) {
    case OBJ_TUPLE:
      if (n < AS_TUPLE(v)->len) {
        *out = AS_TUPLE(v)->items[n];
        return true;
      }
      break;
    case OBJ_VARIANT:
      if (n < AS_VARIANT(v)->nfields) {
        *out = AS_VARIANT(v)->fields[n];
        return true;
      }
      break;
    case OBJ_INSTANCE:
      if (n < AS_INSTANCE(v)->cls->nfields) {
        *out = AS_INSTANCE(v)->fields[n];
        return true;
      }
      break;
    case OBJ_LIST:
      if (n < AS_LIST(v)->len) {
        *out = AS_LIST(v)->items[n];
        return true;
      }
      break;
    default: break;
    }
  }
  return vm_error(vm, "cannot take element %u of %s", n, value_type_name(v));
}

/* R[B] { names...: R[B+1..] } with an optional `..base` as the last value. */
static bool new_struct(VM *vm, Value *rb, const ObjTuple *names, Value *out) {
  Value target = rb[0];
  uint32_t n = names->len;
  bool has_base = n > 0 && AS_STRING(names->items[n - 1])->len == 2 &&
                  memcmp(AS_STRING(names->items[n - 1])->chars, "..", 2) == 0;
  uint32_t nnamed = has_base ? n - 1 : n;
  if (IS_CLASS(target) && AS_CLASS(target)->kind == CLASS_STRUCT) {
    ObjClass *cls = AS_CLASS(target);
    ObjInstance *in = instance_new(vm, cls);
    for (uint32_t j = 0; j < nnamed; j++) {
      ObjString *name = AS_STRING(names->items[j]);
      int idx = field_index(cls, name);
      if (idx < 0) return vm_error(vm, "struct %s has no field `%s`", cls->name->chars, name->chars);
      in->fields[idx] = rb[1 + j];
    }
    if (has_base) {
      Value b = rb[1 + nnamed];
      if (!IS_INSTANCE(b) || AS_INSTANCE(b)->cls != cls)
        return vm_error(vm, "the base of a struct update must be a %s, got %s", cls->name->chars,
                        value_type_name(b));
      for (int i = 0; i < cls->nfields; i++)
        if (IS_UNDEF(in->fields[i])) in->fields[i] = AS_INSTANCE(b)->fields[i];
    }
    for (int i = 0; i < cls->nfields; i++) {
      if (IS_UNDEF(in->fields[i])) {
        if (!cls->field_defaults || IS_UNDEF(cls->field_defaults[i]))
          return vm_error(vm, "missing field `%s` in struct %s", cls->field_names[i]->chars, cls->name->chars);
        in->fields[i] = cls->field_defaults[i];
      }
      if (is_typespec(cls, i) && !vm_check_type(vm, AS_TYPESPEC(cls->field_types[i]), &in->fields[i]))
        return false;
    }
    *out = OBJ_VAL(in);
    return true;
  }
  if (IS_OBJ_TYPE(target, OBJ_CTOR)) {
    ObjCtor *ctor = AS_CTOR(target);
    VariantInfo *vi = &ctor->cls->variants[ctor->tag];
    ObjVariant *var = variant_new(vm, ctor->cls, ctor->tag, vi->nfields);
    for (int i = 0; i < vi->nfields; i++) var->fields[i] = UNDEF_VAL;
    for (uint32_t j = 0; j < nnamed; j++) {
      ObjString *name = AS_STRING(names->items[j]);
      int idx = variant_field_index(vi, name);
      if (idx < 0)
        return vm_error(vm, "%s::%s has no field `%s`", ctor->cls->name->chars, vi->name->chars, name->chars);
      var->fields[idx] = rb[1 + j];
    }
    if (has_base) {
      Value b = rb[1 + nnamed];
      if (!IS_VARIANT(b) || AS_VARIANT(b)->cls != ctor->cls || AS_VARIANT(b)->tag != ctor->tag)
        return vm_error(vm, "the base of a struct update must be a %s::%s, got %s",
                        ctor->cls->name->chars, vi->name->chars, value_type_name(b));
      for (int i = 0; i < vi->nfields; i++)
        if (IS_UNDEF(var->fields[i])) var->fields[i] = AS_VARIANT(b)->fields[i];
    }
    for (int i = 0; i < vi->nfields; i++)
      if (IS_UNDEF(var->fields[i]))
        return vm_error(vm, "missing field `%s` in %s::%s",
                        vi->field_names ? vi->field_names[i]->chars : "?", ctor->cls->name->chars,
                        vi->name->chars);
    *out = OBJ_VAL(var);
    return true;
  }
  return vm_error(vm, "%s is not a struct", value_type_name(target));
}

/* Option/Result: true for Some/Ok (the payload continues), false for
 * None/Err (`?` returns the value). */
static bool is_success_variant(const ObjVariant *v) {
  const char *n = v->cls->variants[v->tag].name->chars;
  return strcmp(n, "Some") == 0 || strcmp(n, "Ok") == 0;
}

static bool variant_matches(Value v, Value pattern) {
  if (!IS_OBJ(pattern)) return false;
  switch (OBJ_TYPE(pattern)) {
  case OBJ_VARIANT:
    return IS_VARIANT(v) && AS_VARIANT(v)->cls == AS_VARIANT(pattern)->cls &&
           AS_VARIANT(v)->tag == AS_VARIANT(pattern)->tag;
  case OBJ_CTOR:
    return IS_VARIANT(v) && AS_VARIANT(v)->cls == AS_CTOR(pattern)->cls &&
           AS_VARIANT(v)->tag == AS_CTOR(pattern)->tag;
  case OBJ_CLASS:
    return (IS_INSTANCE(v) && AS_INSTANCE(v)->cls == AS_CLASS(pattern)) ||
           (IS_VARIANT(v) && AS_VARIANT(v)->cls == AS_CLASS(pattern));
  default: return false;
  }
}

static bool concat(VM *vm, const Value *vs, int n, Value *out) {
  size_t total = 0;
  for (int i = 0; i < n; i++) {
    if (!IS_STRING(vs[i])) return vm_error(vm, "cannot concatenate a %s to a string", value_type_name(vs[i]));
    total += AS_STRING(vs[i])->len;
  }
  char small[512];
  char *buf = total <= sizeof small ? small : malloc(total);
  if (!buf) {
    fputs("nsc: out of memory\n", stderr);
    exit(1);
  }
  size_t at = 0;
  for (int i = 0; i < n; i++) {
    memcpy(buf + at, AS_STRING(vs[i])->chars, AS_STRING(vs[i])->len);
    at += AS_STRING(vs[i])->len;
  }
  *out = OBJ_VAL(str_copy(vm, buf, total));
  if (buf != small) free(buf);
  return true;
}

static bool int_pow(VM *vm, int64_t b, int64_t e, int64_t *out) {
  int64_t r = 1;
  while (e > 0) {
    if (e & 1)
      if (__builtin_mul_overflow(r, b, &r)) return vm_error(vm, "integer overflow in `**`");
    e >>= 1;
    if (e && __builtin_mul_overflow(b, b, &b)) return vm_error(vm, "integer overflow in `**`");
  }
  *out = r;
  return true;
}

static bool approx_equal(double a, double b) {
  double d = fabs(a - b), m = fmax(fabs(a), fabs(b));
  return a == b || d <= 1e-9 * m || d <= 1e-12;
}

/* --------------------------------------------------------------- iteration */

static bool iter_prepare(VM *vm, Value it) {
  if (IS_OBJ(it)) {
    switch (OBJ_TYPE(it)) {
    case OBJ_LIST:
    case OBJ_TUPLE:
    case OBJ_STRING:
    case OBJ_MAP: return true;
    case OBJ_RANGE:
      if (!(AS_RANGE(it)->flags & RANGE_HAS_LO)) return vm_error(vm, "cannot iterate over a range without a start");
      if (AS_RANGE(it)->step == 0) return vm_error(vm, "range step cannot be zero");
      return true;
    default: break;
    }
  }
  Value m;
  if (vm_find_method(vm, it, str_cstr(vm, "next"), &m)) return true;
  return vm_error(vm, "cannot iterate over a value of type %s", value_type_name(it));
}

/* The built-in iterables: item number `*state`. 1: an item, 0: done. */
static int iter_builtin(VM *vm, Value it, Value *state, Value *item) {
  switch (OBJ_TYPE(it)) {
  case OBJ_TUPLE: {
    ObjTuple *t = AS_TUPLE(it);
    if (state->as.i >= t->len) return 0;
    *item = t->items[state->as.i++];
    return 1;
  }
  case OBJ_STRING: {
    ObjString *s = AS_STRING(it);
    int64_t at = state->as.i, cp;
    if (at >= s->len) return 0;
    state->as.i += utf8_decode((const unsigned char *)s->chars + at, s->len - (uint32_t)at, &cp);
    *item = CHAR_VAL(cp);
    return 1;
  }
  case OBJ_RANGE: {
    ObjRange *r = AS_RANGE(it);
    int64_t x, off;
    if (__builtin_mul_overflow(state->as.i, r->step, &off) || __builtin_add_overflow(r->lo, off, &x)) return 0;
    if (r->flags & RANGE_HAS_HI) {
      bool incl = r->flags & RANGE_INCLUSIVE;
      if (r->step > 0 ? (incl ? x > r->hi : x >= r->hi) : (incl ? x < r->hi : x <= r->hi)) return 0;
    }
    state->as.i++;
    *item = INT_VAL(x);
    return 1;
  }
  case OBJ_MAP: {
    ObjMap *m = AS_MAP(it);
    int64_t e = state->as.i;
    while (e < m->nentries && IS_UNDEF(m->keys[e])) e++;
    if (e >= m->nentries) {
      state->as.i = e;
      return 0;
    }
    ObjTuple *pair = tuple_new(vm, 2);
    pair->items[0] = m->keys[e];
    pair->items[1] = m->values[e];
    state->as.i = e + 1;
    *item = OBJ_VAL(pair);
    return 1;
  }
  default: return 0;
  }
}

/* ------------------------------------------------------------ interpreter */

#if defined(__GNUC__) && !defined(NS_SWITCH_DISPATCH)
#define NS_COMPUTED_GOTO 1
#define vmdispatch(o) goto *disptab[o];
#define vmcase(l) L_##l:
#define vmbreak                                                                \
  do {                                                                         \
    i = *pc++;                                                                 \
    goto *disptab[INS_OP(i)];                                                  \
  } while (0)
#else
#define vmdispatch(o) switch (o)
#define vmcase(l) case BC_##l:
#define vmbreak break
#endif

#ifdef NS_GC_STRESS
#define GC_WANTED() true
#else
#define GC_WANTED() UNLIKELY(vm->gc_requested)
#endif

/* A safe point: every live value is in a register or reachable from one. */
#define checkGC()                                                              \
  do {                                                                         \
    if (GC_WANTED() && vm->native_depth == 0 && vm->gc_pause == 0) gc_collect(vm); \
  } while (0)

#define RA (base + INS_A(i))
#define RB (base + INS_B(i))
#define RC (base + INS_C(i))
/* An 8-bit constant operand; 255 means the index is in the EXTRA after. */
#define KOPERAND(x) ((x) == K_EXTRA ? k[INS_Ax(*pc++)] : k[x])
#define THROW() goto on_error
#define CHECK(expr)                                                            \
  do {                                                                         \
    if (UNLIKELY(!(expr))) THROW();                                            \
  } while (0)
#define LOAD_FRAME()                                                           \
  do {                                                                         \
    frame = &vm->frames[vm->nframes - 1];                                      \
    cl = frame->closure;                                                       \
    pc = frame->pc;                                                            \
    base = frame->base;                                                        \
    k = cl->proto->k;                                                          \
  } while (0)
/* Execute the JMP that follows a conditional instruction. */
#define DO_NEXT_JUMP()                                                         \
  do {                                                                         \
    int32_t off_ = INS_sBx(*pc);                                               \
    pc += off_ + 1;                                                            \
    if (off_ < 0) checkGC();                                                   \
  } while (0)
#define COND_JUMP(cond, want)                                                  \
  do {                                                                         \
    if ((cond) != (want))                                                      \
      pc++;                                                                    \
    else                                                                       \
      DO_NEXT_JUMP();                                                          \
  } while (0)

/* Arithmetic with int (overflow-checked), float and mixed fast paths; every
 * other combination goes to arith_binary. */
#define ARITH(b, c, iop, fop, opk, sym)                                        \
  do {                                                                         \
    Value *ra_ = RA;                                                           \
    if (LIKELY((b)->type == VAL_INT && (c)->type == VAL_INT)) {                \
      int64_t r_;                                                              \
      if (UNLIKELY(iop((b)->as.i, (c)->as.i, &r_))) {                          \
        vm_error(vm, "integer overflow in `" sym "`");                         \
        THROW();                                                               \
      }                                                                        \
      ra_->type = VAL_INT;                                                     \
      ra_->as.i = r_;                                                          \
    } else if ((b)->type == VAL_FLOAT && (c)->type == VAL_FLOAT) {             \
      double r_ = (b)->as.f fop (c)->as.f;                                     \
      ra_->type = VAL_FLOAT;                                                   \
      ra_->as.f = r_;                                                          \
    } else if (IS_NUM(*(b)) && IS_NUM(*(c))) {                                 \
      double r_ = AS_NUM(*(b)) fop AS_NUM(*(c));                               \
      *ra_ = FLOAT_VAL(r_);                                                    \
    } else {                                                                   \
      Value r_;                                                                \
      CHECK(arith_binary(vm, opk, *(b), *(c), &r_));                           \
      *ra_ = r_;                                                               \
    }                                                                          \
  } while (0)

#define DIVIDE(b, c)                                                           \
  do {                                                                         \
    Value *ra_ = RA;                                                           \
    if ((b)->type == VAL_INT && (c)->type == VAL_INT) {                        \
      int64_t x_ = (b)->as.i, y_ = (c)->as.i;                                  \
      if (UNLIKELY(y_ == 0)) {                                                 \
        vm_error(vm, "division by zero");                                      \
        THROW();                                                               \
      }                                                                        \
      if (UNLIKELY(y_ == -1 && x_ == INT64_MIN)) {                             \
        vm_error(vm, "integer overflow in `/`");                               \
        THROW();                                                               \
      }                                                                        \
      *ra_ = INT_VAL(x_ / y_);                                                 \
    } else if (IS_NUM(*(b)) && IS_NUM(*(c))) {                                 \
      double r_ = AS_NUM(*(b)) / AS_NUM(*(c));                                 \
      *ra_ = FLOAT_VAL(r_);                                                    \
    } else {                                                                   \
      Value r_;                                                                \
      CHECK(arith_binary(vm, OP_DIV, *(b), *(c), &r_));                        \
      *ra_ = r_;                                                               \
    }                                                                          \
  } while (0)

#define MODULO(b, c)                                                           \
  do {                                                                         \
    Value *ra_ = RA;                                                           \
    if ((b)->type == VAL_INT && (c)->type == VAL_INT) {                        \
      int64_t x_ = (b)->as.i, y_ = (c)->as.i;                                  \
      if (UNLIKELY(y_ == 0)) {                                                 \
        vm_error(vm, "division by zero");                                      \
        THROW();                                                               \
      }                                                                        \
      *ra_ = INT_VAL(y_ == -1 ? 0 : x_ % y_);                                  \
    } else if (IS_NUM(*(b)) && IS_NUM(*(c))) {                                 \
      double r_ = fmod(AS_NUM(*(b)), AS_NUM(*(c)));                            \
      *ra_ = FLOAT_VAL(r_);                                                    \
    } else {                                                                   \
      Value r_;                                                                \
      CHECK(arith_binary(vm, OP_MOD, *(b), *(c), &r_));                        \
      *ra_ = r_;                                                               \
    }                                                                          \
  } while (0)

/* Integer-only operators with a fast path; the rest (bools, tensors,
 * errors) in arith_binary. */
#define INT_BINOP(expr, opk, guard)                                            \
  do {                                                                         \
    Value *b_ = RB, *c_ = RC;                                                  \
    if (b_->type == VAL_INT && c_->type == VAL_INT && (guard)) {               \
      int64_t x = b_->as.i, y = c_->as.i;                                      \
      *RA = INT_VAL(expr);                                                     \
    } else {                                                                   \
      Value r_;                                                                \
      CHECK(arith_binary(vm, opk, *b_, *c_, &r_));                             \
      *RA = r_;                                                                \
    }                                                                          \
  } while (0)

/* Numeric comparison fast paths; strings, tuples and the rest go to
 * arith_compare (OP_LT / OP_LE). */
#define COMPARE(b, c, op, opk, out)                                            \
  do {                                                                         \
    if ((b)->type == VAL_INT && (c)->type == VAL_INT)                          \
      out = (b)->as.i op (c)->as.i;                                            \
    else if ((b)->type == VAL_FLOAT && (c)->type == VAL_FLOAT)                 \
      out = (b)->as.f op (c)->as.f;                                            \
    else if (IS_NUM(*(b)) && IS_NUM(*(c)))                                     \
      out = AS_NUM(*(b)) op AS_NUM(*(c));                                      \
    else                                                                       \
      CHECK(arith_compare(vm, opk, *(b), *(c), &out));                         \
  } while (0)

static inline bool fast_equal(const Value *a, const Value *b) {
  if (a->type == VAL_INT && b->type == VAL_INT) return a->as.i == b->as.i;
  if (a->type == VAL_FLOAT && b->type == VAL_FLOAT) return a->as.f == b->as.f;
  return value_equal(*a, *b);
}

/* Run from the top frame until the frame at index `entry` (which has
 * stop set) returns. On an error, append the trace of frames [entry, top),
 * unwind them and return false. */
static bool execute(VM *vm, int entry) {
#ifdef NS_COMPUTED_GOTO
  static const void *const disptab[BC__NUM] = {
#define OPCODE(name, fmt, operands) &&L_##name,
#include "opcodes.def"
#undef OPCODE
  };
#endif
  CallFrame *frame;
  ObjClosure *cl;
  const uint32_t *pc;
  Value *base;
  Value *k;
  uint32_t i;
  Value retval;

  LOAD_FRAME();
  for (;;) {
    i = *pc++;
    vmdispatch(INS_OP(i)) {
      vmcase(MOVE) {
        *RA = *RB;
        vmbreak;
      }
      vmcase(LOADK) {
        *RA = k[INS_Bx(i)];
        vmbreak;
      }
      vmcase(LOADI) {
        *RA = INT_VAL(INS_sBx(i));
        vmbreak;
      }
      vmcase(LOADUNIT) {
        *RA = UNIT_VAL;
        vmbreak;
      }
      vmcase(LOADBOOL) {
        *RA = BOOL_VAL(INS_B(i) != 0);
        vmbreak;
      }
      vmcase(LOADUNDEF) {
        *RA = UNDEF_VAL;
        vmbreak;
      }
      vmcase(GETUPVAL) {
        *RA = *cl->upvals[INS_B(i)]->location;
        vmbreak;
      }
      vmcase(SETUPVAL) {
        *cl->upvals[INS_B(i)]->location = *RA;
        vmbreak;
      }
      vmcase(GETGLOBAL) {
        ObjModule *m = cl->proto->module;
        Value v = m->values[INS_Bx(i)];
        if (UNLIKELY(IS_UNDEF(v))) {
          used_before_definition(vm, m->names[INS_Bx(i)]);
          THROW();
        }
        *RA = v;
        vmbreak;
      }
      vmcase(SETGLOBAL) {
        cl->proto->module->values[INS_Bx(i)] = *RA;
        vmbreak;
      }
      vmcase(GETFIELD) {
        Value key = KOPERAND(INS_C(i)), v;
        Value obj = *RB;
        if (IS_INSTANCE(obj) && IS_STRING(key)) {
          ObjInstance *in = AS_INSTANCE(obj);
          int idx = field_index(in->cls, AS_STRING(key));
          if (idx >= 0) {
            *RA = in->fields[idx];
            vmbreak;
          }
        }
        CHECK(get_field(vm, obj, key, &v));
        *RA = v;
        vmbreak;
      }
      vmcase(SETFIELD) {
        Value key = KOPERAND(INS_B(i));
        CHECK(set_field(vm, *RA, key, *RC));
        vmbreak;
      }
      vmcase(GETINDEX) {
        Value obj = *RB, idx = *RC, v;
        if (IS_LIST(obj) && IS_INT(idx) && (uint64_t)idx.as.i < AS_LIST(obj)->len) {
          *RA = AS_LIST(obj)->items[idx.as.i];
          vmbreak;
        }
        CHECK(get_index(vm, obj, idx, &v));
        *RA = v;
        checkGC();
        vmbreak;
      }
      vmcase(SETINDEX) {
        Value obj = *RA, idx = *RB;
        if (IS_LIST(obj) && IS_INT(idx) && (uint64_t)idx.as.i < AS_LIST(obj)->len) {
          AS_LIST(obj)->items[idx.as.i] = *RC;
          vmbreak;
        }
        CHECK(set_index(vm, obj, idx, *RC));
        vmbreak;
      }
      vmcase(UNPACK) {
        Value v;
        CHECK(unpack(vm, *RB, INS_C(i), &v));
        *RA = v;
        vmbreak;
      }

      vmcase(ADD) {
        ARITH(RB, RC, __builtin_add_overflow, +, OP_ADD, "+");
        vmbreak;
      }
      vmcase(SUB) {
        ARITH(RB, RC, __builtin_sub_overflow, -, OP_SUB, "-");
        vmbreak;
      }
      vmcase(MUL) {
        ARITH(RB, RC, __builtin_mul_overflow, *, OP_MUL, "*");
        vmbreak;
      }
      vmcase(DIV) {
        DIVIDE(RB, RC);
        vmbreak;
      }
      vmcase(MOD) {
        MODULO(RB, RC);
        vmbreak;
      }
      vmcase(POW) {
        Value *b = RB, *c = RC;
        if (b->type == VAL_INT && c->type == VAL_INT && c->as.i >= 0) {
          int64_t r = 0;
          CHECK(int_pow(vm, b->as.i, c->as.i, &r));
          *RA = INT_VAL(r);
        } else if (IS_NUM(*b) && IS_NUM(*c)) {
          *RA = FLOAT_VAL(pow(AS_NUM(*b), AS_NUM(*c)));
        } else {
          Value r;
          CHECK(arith_binary(vm, OP_POW, *b, *c, &r));
          *RA = r;
        }
        vmbreak;
      }
      vmcase(ADDK) {
        Value kc = KOPERAND(INS_C(i));
        ARITH(RB, &kc, __builtin_add_overflow, +, OP_ADD, "+");
        vmbreak;
      }
      vmcase(SUBK) {
        Value kc = KOPERAND(INS_C(i));
        ARITH(RB, &kc, __builtin_sub_overflow, -, OP_SUB, "-");
        vmbreak;
      }
      vmcase(MULK) {
        Value kc = KOPERAND(INS_C(i));
        ARITH(RB, &kc, __builtin_mul_overflow, *, OP_MUL, "*");
        vmbreak;
      }
      vmcase(DIVK) {
        Value kc = KOPERAND(INS_C(i));
        DIVIDE(RB, &kc);
        vmbreak;
      }
      vmcase(MODK) {
        Value kc = KOPERAND(INS_C(i));
        MODULO(RB, &kc);
        vmbreak;
      }
      vmcase(MATMUL) {
        Value r;
        CHECK(arith_binary(vm, OP_MATMUL, *RB, *RC, &r));
        *RA = r;
        checkGC();
        vmbreak;
      }
      vmcase(OUTER) {
        Value r;
        CHECK(arith_binary(vm, OP_OUTER, *RB, *RC, &r));
        *RA = r;
        checkGC();
        vmbreak;
      }
      vmcase(DOT) {
        Value *b = RB, *c = RC;
        if (IS_NUM(*b) && IS_NUM(*c)) {
          ARITH(b, c, __builtin_mul_overflow, *, OP_MUL, "*");
        } else {
          Value r;
          CHECK(arith_binary(vm, OP_DOT, *b, *c, &r));
          *RA = r;
          checkGC();
        }
        vmbreak;
      }
      vmcase(BAND) {
        INT_BINOP(x & y, OP_BITAND, true);
        vmbreak;
      }
      vmcase(BOR) {
        INT_BINOP(x | y, OP_BITOR, true);
        vmbreak;
      }
      vmcase(SHL) {
        INT_BINOP((int64_t)((uint64_t)x << y), OP_SHL, (uint64_t)c_->as.i < 64);
        vmbreak;
      }
      vmcase(SHR) {
        INT_BINOP(x >> y, OP_SHR, (uint64_t)c_->as.i < 64);
        vmbreak;
      }
      vmcase(UNM) {
        Value *b = RB;
        if (b->type == VAL_INT && b->as.i != INT64_MIN) {
          *RA = INT_VAL(-b->as.i);
        } else if (b->type == VAL_FLOAT) {
          *RA = FLOAT_VAL(-b->as.f);
        } else if (b->type == VAL_INT) {
          vm_error(vm, "integer overflow in `-`");
          THROW();
        } else {
          Value r;
          CHECK(arith_unary(vm, OP_NEG, *b, &r));
          *RA = r;
        }
        vmbreak;
      }
      vmcase(NOT) {
        Value *b = RB;
        if (b->type == VAL_BOOL) {
          *RA = BOOL_VAL(!b->as.b);
        } else if (b->type == VAL_INT) {
          *RA = INT_VAL(~b->as.i);
        } else {
          Value r;
          CHECK(arith_unary(vm, OP_NOT, *b, &r));
          *RA = r;
        }
        vmbreak;
      }
      vmcase(UNOP) {
        Value r;
        CHECK(arith_unary(vm, (int)INS_C(i), *RB, &r));
        *RA = r;
        checkGC();
        vmbreak;
      }

      vmcase(EQ) {
        bool r = fast_equal(RB, RC);
        *RA = BOOL_VAL(r);
        vmbreak;
      }
      vmcase(NE) {
        bool r = !fast_equal(RB, RC);
        *RA = BOOL_VAL(r);
        vmbreak;
      }
      vmcase(LT) {
        bool r;
        COMPARE(RB, RC, <, OP_LT, r);
        *RA = BOOL_VAL(r);
        vmbreak;
      }
      vmcase(LE) {
        bool r;
        COMPARE(RB, RC, <=, OP_LE, r);
        *RA = BOOL_VAL(r);
        vmbreak;
      }
      vmcase(APPROX) {
        Value *b = RB, *c = RC;
        if (IS_NUM(*b) && IS_NUM(*c)) {
          *RA = BOOL_VAL(approx_equal(AS_NUM(*b), AS_NUM(*c)));
        } else {
          Value r;
          CHECK(arith_binary(vm, OP_APPROX, *b, *c, &r));
          *RA = r;
        }
        vmbreak;
      }
      vmcase(IN) {
        Value *b = RB, *c = RC;
        if (IS_INT(*b) && IS_OBJ_TYPE(*c, OBJ_RANGE) && !(AS_RANGE(*c)->flags & RANGE_HAS_STEP)) {
          ObjRange *r = AS_RANGE(*c);
          int64_t x = b->as.i;
          bool in = (!(r->flags & RANGE_HAS_LO) || x >= r->lo) &&
                    (!(r->flags & RANGE_HAS_HI) || ((r->flags & RANGE_INCLUSIVE) ? x <= r->hi : x < r->hi));
          *RA = BOOL_VAL(in);
        } else {
          Value r;
          CHECK(arith_binary(vm, OP_IN, *b, *c, &r));
          *RA = r;
        }
        vmbreak;
      }

      vmcase(JMP) {
        int32_t off = INS_sBx(i);
        pc += off;
        if (off < 0) checkGC();
        vmbreak;
      }
      vmcase(TEST) {
        Value *a = RA;
        if (UNLIKELY(a->type != VAL_BOOL)) {
          vm_error(vm, "condition must be bool, got %s", value_type_name(*a));
          THROW();
        }
        COND_JUMP(a->as.b, INS_B(i) != 0);
        vmbreak;
      }
      vmcase(JEQ) {
        bool r = fast_equal(RA, RB);
        COND_JUMP(r, INS_C(i) != 0);
        vmbreak;
      }
      vmcase(JLT) {
        bool r;
        COMPARE(RA, RB, <, OP_LT, r);
        COND_JUMP(r, INS_C(i) != 0);
        vmbreak;
      }
      vmcase(JLE) {
        bool r;
        COMPARE(RA, RB, <=, OP_LE, r);
        COND_JUMP(r, INS_C(i) != 0);
        vmbreak;
      }
      vmcase(JUNDEF) {
        if (!IS_UNDEF(*RA)) pc += INS_sBx(i);
        vmbreak;
      }
      vmcase(FORPREP) {
        Value *ra = RA;
        if (UNLIKELY(!IS_INT(ra[0]) || !IS_INT(ra[1]) || !IS_INT(ra[2]))) {
          vm_error(vm, "for-range bounds must be integers");
          THROW();
        }
        int64_t step = ra[2].as.i;
        if (UNLIKELY(step == 0)) {
          vm_error(vm, "for-range step cannot be zero");
          THROW();
        }
        if (step > 0 ? ra[0].as.i >= ra[1].as.i : ra[0].as.i <= ra[1].as.i)
          pc += INS_sBx(i);
        else
          ra[3] = ra[0];
        vmbreak;
      }
      vmcase(FORLOOP) {
        Value *ra = RA;
        int64_t step = ra[2].as.i, idx;
        if (LIKELY(!__builtin_add_overflow(ra[0].as.i, step, &idx)) &&
            (step > 0 ? idx < ra[1].as.i : idx > ra[1].as.i)) {
          ra[0].as.i = idx;
          ra[3] = INT_VAL(idx);
          pc += INS_sBx(i);
          checkGC();
        }
        vmbreak;
      }
      vmcase(ITERPREP) {
        Value *ra = RA;
        CHECK(iter_prepare(vm, ra[0]));
        ra[1] = INT_VAL(0);
        pc += INS_sBx(i);
        vmbreak;
      }
      vmcase(ITERNEXT) {
        Value *ra = RA, it = ra[0];
        if (IS_LIST(it)) {
          ObjList *l = AS_LIST(it);
          if ((uint64_t)ra[1].as.i < l->len) {
            ra[2] = l->items[ra[1].as.i++];
            pc += INS_sBx(i);
            checkGC();
          }
          vmbreak;
        }
        if (IS_OBJ(it) && OBJ_TYPE(it) <= OBJ_MAP) {
          Value item;
          if (iter_builtin(vm, it, &ra[1], &item)) {
            ra[2] = item;
            pc += INS_sBx(i);
            checkGC();
          }
          vmbreak;
        }
        /* A value with a next() method. State 0: call it; 1: the call
         * returned into R[A+2], look at the Option. */
        if (ra[1].as.i == 0) {
          Value m;
          if (!vm_find_method(vm, it, str_cstr(vm, "next"), &m)) {
            vm_error(vm, "cannot iterate over a value of type %s", value_type_name(it));
            THROW();
          }
          ra[1].as.i = 1;
          /* An interpreted next() runs as a frame above ours and returns
           * to this instruction. */
          Value *slot = base + cl->proto->maxregs;
          slot[0] = it;
          frame->pc = pc - 1;
          switch (call_value(vm, m, slot, 1, NULL, &ra[2], 1)) {
          case CALL_ERROR: THROW();
          case CALL_FRAME:
            LOAD_FRAME();
            checkGC();
            vmbreak;
          case CALL_DONE: break;
          }
        }
        ra[1].as.i = 0;
        Value r = ra[2];
        if (!IS_VARIANT(r) || AS_VARIANT(r)->cls != vm->option_class) {
          vm_error(vm, "next() must return an Option, got %s", value_type_name(r));
          THROW();
        }
        if (is_success_variant(AS_VARIANT(r))) {
          ra[2] = AS_VARIANT(r)->nfields ? AS_VARIANT(r)->fields[0] : UNIT_VAL;
          pc += INS_sBx(i);
          checkGC();
        }
        vmbreak;
      }

      vmcase(CALL) {
        Value *ra = RA;
        Value fn = *ra;
        uint32_t nargs = INS_B(i), c = INS_C(i);
        if (LIKELY(c == 0 && IS_OBJ_TYPE(fn, OBJ_CLOSURE))) {
          ObjClosure *ncl = AS_CLOSURE(fn);
          ObjProto *p = ncl->proto;
          if (LIKELY(nargs == p->nparams && vm->nframes < NS_MAX_FRAMES &&
                     ra + 2 + p->maxregs <= vm->stack_end)) {
            Value *nb = ra + 1;
            for (Value *r = nb + nargs; r < nb + p->maxregs; r++) *r = UNIT_VAL;
            frame->pc = pc;
            frame = &vm->frames[vm->nframes++];
            frame->closure = ncl;
            frame->base = nb;
            frame->ret = ra;
            frame->stop = false;
            cl = ncl;
            base = nb;
            k = p->k;
            pc = p->code;
            checkGC();
            vmbreak;
          }
        }
        const ObjTuple *names = NULL;
        if (c != 0) names = AS_TUPLE(c == K_EXTRA ? k[INS_Ax(*pc++)] : k[c - 1]);
        frame->pc = pc;
        switch (call_value(vm, fn, ra + 1, (int)nargs, names, ra, 0)) {
        case CALL_ERROR: THROW();
        case CALL_FRAME: LOAD_FRAME(); break;
        case CALL_DONE: break;
        }
        checkGC();
        vmbreak;
      }
      vmcase(INVOKE) {
        ObjString *name = AS_STRING(KOPERAND(INS_C(i)));
        frame->pc = pc;
        switch (invoke(vm, RA, name, (int)INS_B(i), NULL)) {
        case CALL_ERROR: THROW();
        case CALL_FRAME: LOAD_FRAME(); break;
        case CALL_DONE: break;
        }
        checkGC();
        vmbreak;
      }
      vmcase(INVOKEKW) {
        ObjString *name = AS_STRING(KOPERAND(INS_C(i)));
        const ObjTuple *names = AS_TUPLE(k[INS_Ax(*pc++)]);
        frame->pc = pc;
        switch (invoke(vm, RA, name, (int)INS_B(i), names)) {
        case CALL_ERROR: THROW();
        case CALL_FRAME: LOAD_FRAME(); break;
        case CALL_DONE: break;
        }
        checkGC();
        vmbreak;
      }
      vmcase(RETURN) {
        retval = INS_B(i) ? *RA : UNIT_VAL;
      do_return:
        if (vm->open_upvalues && vm->open_upvalues->location >= base) close_upvalues(vm, base);
        *frame->ret = retval;
        vm->nframes--;
        if (frame->stop) return true;
        LOAD_FRAME();
        vmbreak;
      }
      vmcase(TRY) {
        Value v = *RB;
        if (IS_VARIANT(v) && (AS_VARIANT(v)->cls == vm->option_class || AS_VARIANT(v)->cls == vm->result_class)) {
          if (is_success_variant(AS_VARIANT(v))) {
            *RA = AS_VARIANT(v)->nfields ? AS_VARIANT(v)->fields[0] : UNIT_VAL;
            vmbreak;
          }
          retval = v;
          goto do_return;
        }
        vm_error(vm, "the `?` operator needs an Option or Result, got %s", value_type_name(v));
        THROW();
      }
      vmcase(CLOSURE) {
        ObjProto *p = cl->proto->protos[INS_Bx(i)];
        ObjClosure *ncl = closure_new(vm, p);
        for (uint32_t u = 0; u < p->nupvals; u++) {
          UpvalDesc d = p->upvals[u];
          ncl->upvals[u] = d.in_stack ? capture_upvalue(vm, base + d.index) : cl->upvals[d.index];
        }
        *RA = OBJ_VAL(ncl);
        checkGC();
        vmbreak;
      }
      vmcase(CLOSE) {
        close_upvalues(vm, RA);
        vmbreak;
      }

      vmcase(NEWLIST) {
        uint32_t n = INS_C(i);
        ObjList *l = list_new(vm, n);
        memcpy(l->items, RB, sizeof(Value) * n);
        l->len = n;
        *RA = OBJ_VAL(l);
        checkGC();
        vmbreak;
      }
      vmcase(APPENDN) {
        Value target = *RA;
        if (!IS_LIST(target)) {
          vm_error(vm, "cannot append to a %s", value_type_name(target));
          THROW();
        }
        Value *src = RB;
        for (uint32_t j = 0; j < INS_C(i); j++) list_push(vm, AS_LIST(target), src[j]);
        checkGC();
        vmbreak;
      }
      vmcase(NEWTUPLE) {
        uint32_t n = INS_C(i);
        ObjTuple *t = tuple_new(vm, n);
        memcpy(t->items, RB, sizeof(Value) * n);
        *RA = OBJ_VAL(t);
        checkGC();
        vmbreak;
      }
      vmcase(REPEAT) {
        Value v = *RB, n = *RC;
        if (!IS_INT(n) || n.as.i < 0 || n.as.i > UINT32_MAX) {
          vm_error(vm, "repeat count must be a non-negative int, got %s",
                   IS_INT(n) ? "a negative int" : value_type_name(n));
          THROW();
        }
        ObjList *l = list_new(vm, (uint32_t)n.as.i);
        for (int64_t j = 0; j < n.as.i; j++) l->items[j] = v;
        l->len = (uint32_t)n.as.i;
        *RA = OBJ_VAL(l);
        checkGC();
        vmbreak;
      }
      vmcase(NEWRANGE) {
        Value *rb = RB;
        int flags = (int)INS_C(i);
        int64_t bounds[3] = {0, 0, 1};
        static const int present[3] = {RANGE_HAS_LO, RANGE_HAS_HI, RANGE_HAS_STEP};
        for (int j = 0; j < 3; j++) {
          if (!(flags & present[j])) continue;
          if (!IS_INT(rb[j])) {
            vm_error(vm, "range bounds must be integers, got %s", value_type_name(rb[j]));
            THROW();
          }
          bounds[j] = rb[j].as.i;
        }
        if (bounds[2] == 0) {
          vm_error(vm, "range step cannot be zero");
          THROW();
        }
        *RA = OBJ_VAL(range_new(vm, bounds[0], bounds[1], bounds[2], flags));
        checkGC();
        vmbreak;
      }
      vmcase(NEWSTRUCT) {
        const ObjTuple *names = AS_TUPLE(KOPERAND(INS_C(i)));
        Value v;
        CHECK(new_struct(vm, RB, names, &v));
        *RA = v;
        checkGC();
        vmbreak;
      }
      vmcase(FORMAT) {
        ObjString *spec = AS_STRING(KOPERAND(INS_C(i)));
        Value v = *RB;
        ObjString *s;
        if (spec->len == 0)
          s = format_value(vm, v, false);
        else if (spec->len == 1 && spec->chars[0] == '?')
          s = format_value(vm, v, true);
        else
          s = format_spec(vm, v, spec->chars, spec->len);
        CHECK(s != NULL);
        *RA = OBJ_VAL(s);
        checkGC();
        vmbreak;
      }
      vmcase(CONCAT) {
        Value v;
        CHECK(concat(vm, RB, (int)INS_C(i), &v));
        *RA = v;
        checkGC();
        vmbreak;
      }

      vmcase(CHECKTYPE) {
        CHECK(vm_check_type(vm, AS_TYPESPEC(k[INS_Bx(i)]), RA));
        vmbreak;
      }
      vmcase(CAST) {
        ObjString *type = AS_STRING(KOPERAND(INS_C(i)));
        Value v;
        CHECK(arith_cast(vm, *RB, type, &v));
        *RA = v;
        vmbreak;
      }
      vmcase(IMPORT) {
        Value v;
        frame->pc = pc;
        CHECK(vm_import(vm, AS_STRING(k[INS_Bx(i)]), cl->proto->module, &v));
        *RA = v;
        checkGC();
        vmbreak;
      }
      vmcase(MATCHFAIL) {
        ObjString *s = format_value(vm, *RA, true);
        vm_error(vm, "no match arm matches %s", s ? s->chars : value_type_name(*RA));
        THROW();
      }
      vmcase(JVARIANT) {
        bool r = variant_matches(*RA, *RB);
        COND_JUMP(r, INS_C(i) != 0);
        vmbreak;
      }
      vmcase(JTUPLE) {
        bool r = IS_TUPLE(*RA) && AS_TUPLE(*RA)->len == INS_B(i);
        COND_JUMP(r, INS_C(i) != 0);
        vmbreak;
      }
      vmcase(EXTRA) {
        vmbreak;
      }
    }
  }

on_error:
  if (!vm->has_error) vm_error(vm, "internal error");
  capture_trace(vm, entry, pc);
  close_upvalues(vm, vm->frames[entry].base);
  vm->nframes = entry;
  return false;
}

/* ---------------------------------------------------------- entry from C */

/* Where a call from C puts its callee: just above the top frame's
 * registers (its live registers are all below that). */
static Value *c_call_slot(VM *vm) {
  if (vm->nframes == 0) return vm->stack;
  CallFrame *top = &vm->frames[vm->nframes - 1];
  return top->base + top->closure->proto->maxregs;
}

static bool call_from_c(VM *vm, Value callee, const Value *args, int argc, Value *out) {
  Value *slot = c_call_slot(vm);
  if (slot + argc + 2 >= vm->stack_end) return stack_overflow(vm);
  slot[0] = callee;
  for (int j = 0; j < argc; j++) slot[1 + j] = args[j];
  int entry = vm->nframes;
  switch (call_value(vm, callee, slot + 1, argc, NULL, slot, 0)) {
  case CALL_ERROR: return false;
  case CALL_DONE: *out = slot[0]; return true;
  case CALL_FRAME: break;
  }
  vm->frames[entry].stop = true;
  if (!execute(vm, entry)) return false;
  *out = slot[0];
  return true;
}

NsStatus vm_run(VM *vm, ObjClosure *chunk, Value *result) {
  bool outermost = vm->nframes == 0;
  if (outermost) vm_clear_error(vm);
  Value out = UNIT_VAL;
  bool ok = call_from_c(vm, OBJ_VAL(chunk), NULL, 0, &out);
  if (!ok) {
    if (outermost) {
      close_upvalues(vm, vm->stack);
      vm->nframes = 0;
      vm->native_depth = 0;
    }
    return NS_RUNTIME_ERROR;
  }
  if (result) *result = out;
  return NS_OK;
}

bool vm_call(VM *vm, Value callee, Value *args, int argc, Value *out) {
  if (vm->native_depth >= NS_MAX_NATIVE_DEPTH)
    return vm_error(vm, "stack overflow: too many nested calls through native functions (%d)",
                    vm->native_depth);
  Value res = UNIT_VAL;
  bool ok = call_from_c(vm, callee, args, argc, &res);
  if (ok && out) *out = res;
  return ok;
}
