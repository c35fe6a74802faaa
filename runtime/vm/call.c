/* Calls: frames, calling closures, natives, bound methods and
 * constructors with argument checking, named arguments and defaults,
 * method invocation, and calls from C (vm_run, vm_call). The interpreter
 * loop inlines the common case (a closure called with exactly its
 * parameters) and comes here for the rest. Stack shape: see vm.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "vm_int.h"

/* ------------------------------------------------------------------- calls */

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
__attribute__((noinline)) static bool bind_args(VM *vm, const ObjProto *p, Value *args, int argc,
                                                const ObjTuple *names, int hidden) {
  int nnamed = names ? (int)names->len : 0;
  int npos = argc - nnamed;
  if (npos < 0 || npos > p->nparams || (nnamed == 0 && argc > p->nparams))
    return arity_error(vm, p, argc, hidden);
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
      if (str_eq(p->param_names[i], name)) idx = i;
    if (idx < 0)
      return vm_error(vm, "`%s` has no parameter named `%s`", proto_name(p), name->chars);
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
  if (UNLIKELY(vm->nframes >= NS_MAX_FRAMES ||
               args + p->maxregs + p->nparams + 1 > vm->stack_end)) {
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

static CallStatus call_native(VM *vm, ObjNative *nat, Value *args, int argc, Value *ret,
                              int hidden) {
  if (argc < nat->min_args || (nat->max_args >= 0 && argc > nat->max_args)) {
    int lo = nat->min_args - hidden, hi = nat->max_args - hidden, got = argc - hidden;
    if (nat->max_args < 0)
      vm_error(vm, "`%s` expects at least %d argument%s, got %d", nat->name->chars, lo, plural(lo),
               got);
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
  vm->gc_unsafe++;
  vm->native = nat;
  bool ok = nat->fn(vm, args, argc, &res);
  vm->gc_unsafe--;
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

/* Named arguments of a native with parameter names (ObjNative.params):
 * each goes to its parameter's position, gaps are unit; a variadic list
 * ("..." first) gets them appended. The caller's args stay rooted. */
static CallStatus call_native_named(VM *vm, ObjNative *nat, Value *args, int argc,
                                    const ObjTuple *names, Value *ret, int hidden) {
  Value buf[16];
  bool set[16] = {false};
  int nnamed = (int)names->len, npos = argc - nnamed, n = npos;
  bool variadic = nat->params[0] && !strcmp(nat->params[0], "...");
  if (npos < 0 || argc > 16) {
    vm_error(vm, "`%s`: too many arguments", nat->name->chars);
    return CALL_ERROR;
  }
  for (int i = 0; i < 16; i++) buf[i] = i < npos ? args[i] : UNIT_VAL;
  for (int j = 0; j < nnamed; j++) {
    ObjString *name = AS_STRING(names->items[j]);
    int idx = -1;
    for (int i = variadic; nat->params[i] && idx < 0; i++)
      if (!strcmp(nat->params[i], name->chars)) idx = i;
    if (idx < 0) {
      vm_error(vm, "`%s` has no parameter named `%s`", nat->name->chars, name->chars);
      return CALL_ERROR;
    }
    if (variadic) idx = n;
    if (idx >= 16 || (!variadic && (idx < npos || set[idx]))) {
      vm_error(vm, "argument `%s` given twice", name->chars);
      return CALL_ERROR;
    }
    set[idx] = true;
    buf[idx] = args[npos + j];
    if (idx + 1 > n) n = idx + 1;
  }
  return call_native(vm, nat, buf, n, ret, hidden);
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
    if (access_is_typespec(cls, i) &&
        !vm_check_type(vm, AS_TYPESPEC(cls->field_types[i]), &in->fields[i]))
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

/* Where a call from C (or a bound method's call) puts an interpreted
 * callee: just above the top frame's registers. The top frame's live
 * registers are all below that. Natives never keep arguments there, so
 * nested calls from C do not overwrite each other. */
static Value *c_call_slot(VM *vm) {
  if (vm->nframes == 0) return vm->stack;
  CallFrame *top = &vm->frames[vm->nframes - 1];
  return top->base + top->closure->proto->maxregs;
}

/* A bound method: the receivers (bound methods may nest) then the
 * arguments, gathered off the stack; an interpreted method gets a frame
 * above the top frame, a native reads them where they are. */
__attribute__((noinline)) static CallStatus call_bound(VM *vm, Value callee, Value *args, int argc,
                                                       const ObjTuple *names, Value *ret) {
  int nrecv = 0;
  for (Value f = callee; IS_OBJ_TYPE(f, OBJ_BOUND); f = AS_BOUND(f)->method) nrecv++;
  int n = nrecv + argc;
  Value small[16];
  Value *buf = n <= 16 ? small : malloc(sizeof(Value) * (size_t)n);
  if (!buf) {
    fputs("nsc: out of memory\n", stderr);
    exit(1);
  }
  int at = 0;
  for (; IS_OBJ_TYPE(callee, OBJ_BOUND); callee = AS_BOUND(callee)->method)
    buf[at++] = AS_BOUND(callee)->receiver;
  for (int j = 0; j < argc; j++) buf[at++] = args[j];
  CallStatus st;
  if (IS_OBJ_TYPE(callee, OBJ_CLOSURE)) {
    Value *slot = c_call_slot(vm);
    if (slot + n + 1 >= vm->stack_end) {
      stack_overflow(vm);
      st = CALL_ERROR;
    } else {
      for (int j = 0; j < n; j++) slot[j] = buf[j];
      st = push_frame(vm, AS_CLOSURE(callee), slot, n, names, ret, nrecv);
    }
  } else {
    st = call_value(vm, callee, buf, n, names, ret, nrecv);
  }
  if (buf != small) free(buf);
  return st;
}

/* Call any callable. A closure's frame starts at args[0], so its arguments
 * must be on the stack; a native reads args[0..argc) wherever they are.
 * `hidden`: 1 when args[0] is a receiver the caller did not write, so
 * arity errors do not count it. */
CallStatus call_value(VM *vm, Value callee, Value *args, int argc, const ObjTuple *names,
                      Value *ret, int hidden) {
  for (;;) {
    if (!IS_OBJ(callee)) break;
    switch (OBJ_TYPE(callee)) {
    case OBJ_CLOSURE: return push_frame(vm, AS_CLOSURE(callee), args, argc, names, ret, hidden);
    case OBJ_NATIVE:
      if (names) {
        if (AS_NATIVE(callee)->params)
          return call_native_named(vm, AS_NATIVE(callee), args, argc, names, ret, hidden);
        vm_error(vm, "`%s` does not take named arguments", AS_NATIVE(callee)->name->chars);
        return CALL_ERROR;
      }
      return call_native(vm, AS_NATIVE(callee), args, argc, ret, hidden);
    case OBJ_BOUND: return call_bound(vm, callee, args, argc, names, ret);
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

/* R[A].name(R[A+1] .. R[A+nargs]) with ra = &R[A]. */
CallStatus call_invoke(VM *vm, Value *ra, ObjString *name, int nargs, const ObjTuple *names) {
  Value recv = ra[0], m;
  if (IS_OBJ(recv)) {
    switch (OBJ_TYPE(recv)) {
    case OBJ_INSTANCE: {
      ObjInstance *in = AS_INSTANCE(recv);
      if (table_get(&in->cls->methods, name, &m))
        return call_value(vm, m, ra, nargs + 1, names, ra, 1);
      int idx = access_field_index(in->cls, name);
      if (idx >= 0 && value_is_callable(in->fields[idx]))
        return call_value(vm, in->fields[idx], ra + 1, nargs, names, ra, 0);
      break;
    }
    case OBJ_MODULE: {
      ObjModule *mod = AS_MODULE(recv);
      int32_t slot = module_find(mod, name);
      if (slot < 0) {
        vm_error(vm, "module %s has no member `%s`", mod->name ? mod->name->chars : "?",
                 name->chars);
        return CALL_ERROR;
      }
      Value fn = mod->values[slot];
      if (IS_UNDEF(fn)) {
        access_undefined(vm, name);
        return CALL_ERROR;
      }
      return call_value(vm, fn, ra + 1, nargs, names, ra, 0);
    }
    case OBJ_CLASS: {
      ObjClass *cls = AS_CLASS(recv);
      if (cls->kind == CLASS_ENUM) {
        int tag = access_variant_index(cls, name);
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
      vm_error(vm, "%s %s has no function `%s`", access_class_kind(cls), cls->name->chars,
               name->chars);
      return CALL_ERROR;
    }
    default: break;
    }
  }
  if (vm_find_method(vm, recv, name, &m)) return call_value(vm, m, ra, nargs + 1, names, ra, 1);
  vm_error(vm, "no method `%s` on %s", name->chars, value_type_name(recv));
  return CALL_ERROR;
}

/* ---------------------------------------------------------- entry from C */

/* A closure runs in a frame just above the top frame; anything else is
 * called with the caller's own argument array. */
static bool call_from_c(VM *vm, Value callee, Value *args, int argc, Value *out) {
  int entry = vm->nframes;
  Value res = UNIT_VAL;
  CallStatus st;
  if (IS_OBJ_TYPE(callee, OBJ_CLOSURE)) {
    Value *slot = c_call_slot(vm);
    if (slot + argc + 2 >= vm->stack_end) return stack_overflow(vm);
    for (int j = 0; j < argc; j++) slot[j] = args[j];
    st = push_frame(vm, AS_CLOSURE(callee), slot, argc, NULL, &res, 0);
  } else {
    st = call_value(vm, callee, args, argc, NULL, &res, 0);
  }
  if (st == CALL_ERROR) return false;
  if (st == CALL_FRAME) {
    vm->frames[entry].stop = true;
    if (!vm_execute(vm, entry)) return false;
  }
  *out = res;
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
      vm->gc_unsafe = 0;
    }
    return NS_RUNTIME_ERROR;
  }
  if (result) *result = out;
  return NS_OK;
}

bool vm_call(VM *vm, Value callee, Value *args, int argc, Value *out) {
  if (vm->native_depth >= NS_MAX_NATIVE_DEPTH)
    return vm_error(vm, "stack overflow: recursion too deep (%d nested calls through native code)",
                    vm->native_depth);
  Value res = UNIT_VAL;
  bool ok = call_from_c(vm, callee, args, argc, &res);
  if (ok && out) *out = res;
  return ok;
}
