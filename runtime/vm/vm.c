/* The register VM: its state and the interpreter loop. Calls are in
 * call.c, runtime errors and traces in error.c, and what they share
 * (with the inline upvalue helpers) in vm_int.h.
 *
 * Stack shape: one array of NS_STACK_SLOTS Values allocated once, so
 * pointers into it stay valid. A frame's registers R[0..maxregs) start at
 * its base. A call at R[A] puts the callee's base at R[A+1], its first
 * argument (a method call's base is R[A], the receiver), so arguments are
 * never copied; the result goes back to R[A]. Registers above a call's
 * arguments are dead in the caller. A call from C (vm_call, vm_run) puts
 * the callee just above the top frame's registers.
 *
 * Dispatch is computed goto where GCC extensions exist and a switch
 * otherwise (-DNS_SWITCH_DISPATCH forces it); both hide behind vmdispatch /
 * vmcase / vmbreak as in Lua's lvm.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "diag.h"
#include "numeric.h"
#include "tensor.h"
#include "vm_int.h"

/* ---------------------------------------------------------------- VM state */

/* The highest register in use: frames overlap (a callee's window starts at
 * its first argument inside the caller's), and a callee's window may end
 * below its caller's, so take the maximum over all frames. */
static Value *stack_extent(VM *vm) {
  Value *top = vm->stack;
  for (int i = 0; i < vm->nframes; i++) {
    CallFrame *f = &vm->frames[i];
    Value *end = f->base + f->closure->proto->maxregs;
    if (end > top) top = end;
  }
  return top;
}

static void report_error(VM *vm, const char *msg) { vm_error(vm, "%s", msg); }

/* The interpreter's roots, marked at the start of every collection (the
 * heap's mark_roots): registers, frames, open upvalues, modules, built-in
 * classes, args and the REPL's last value. */
static void mark_roots(VM *vm) {
  Value *top = stack_extent(vm);
  for (Value *v = vm->stack; v < top; v++) gc_mark_value(vm, *v);
  for (int i = 0; i < vm->nframes; i++) gc_mark_object(vm, (Obj *)vm->frames[i].closure);
  for (ObjUpvalue *u = vm->open_upvalues; u; u = u->next_open) gc_mark_object(vm, (Obj *)u);
  gc_mark_object(vm, (Obj *)vm->prelude);
  gc_mark_object(vm, (Obj *)vm->main_module);
  gc_mark_object(vm, (Obj *)vm->modules);
  for (int i = 0; i <= VAL_OBJ; i++) gc_mark_object(vm, (Obj *)vm->class_of_type[i]);
  for (int i = 0; i < OBJ__COUNT; i++) gc_mark_object(vm, (Obj *)vm->class_of_obj[i]);
  gc_mark_object(vm, (Obj *)vm->option_class);
  gc_mark_object(vm, (Obj *)vm->result_class);
    gc_mark_object(vm, (Obj *)vm->args);
  gc_mark_value(vm, vm->last_value);
}


VM *vm_new(void) {
  VM *vm = calloc(1, sizeof(VM));
  if (!vm) return NULL;
  /* calloc: untouched pages of the big stack cost nothing. */
  vm->stack = calloc(NS_STACK_SLOTS, sizeof(Value));
  vm->frames = calloc(NS_MAX_FRAMES, sizeof(CallFrame));
  vm->heap.mark_roots = mark_roots;
  vm->heap.report = report_error;
  if (!vm->stack || !vm->frames) {
    free(vm->stack);
    free(vm->frames);
    free(vm);
    return NULL;
  }
  vm->stack_end = vm->stack + NS_STACK_SLOTS;
  vm->heap.next_gc = (size_t)1 << 20;
  vm->heap.next_gc_external = GC_EXTERNAL_STEP;
  table_init(&vm->heap.strings);
  vm->err = stderr;
  vm->out = stdout;
  vm->last_value = UNIT_VAL;
  vm->modules = map_new(vm);
  return vm;
}

void vm_free(VM *vm) {
  if (!vm) return;
  vm_clear_error(vm);
  gc_free_all(vm);
  if (vm->lang.free) vm->lang.free(vm);
  table_free(vm, &vm->heap.strings);
  for (int i = 0; i < vm->nsources; i++) source_free(vm->sources[i]);
  free(vm->sources);
  free(vm->heap.temp_roots);
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

/* ------------------------------------------------------- loops, literals */

/* FORPREP/FORPREPI: R[A], R[A+1], R[A+2] = start, limit, step. Leaves in
 * R[A+1] the iterations after the first (as a 64-bit count), or () when
 * the loop runs zero times; R[A+3] = the first index. */
static bool for_prepare(VM *vm, Value *ra, bool inclusive) {
  if (!IS_INT(ra[0]) || !IS_INT(ra[1]) || !IS_INT(ra[2])) return vm_error(vm, "for-range bounds must be integers");
  if (ra[2].as.i == 0) return vm_error(vm, "for-range step cannot be zero");
  unsigned __int128 n = range_count(ra[0].as.i, ra[1].as.i, ra[2].as.i, inclusive);
  if (n == 0) {
    ra[1] = UNIT_VAL;
    return true;
  }
  ra[1] = INT_VAL((int64_t)(uint64_t)(n - 1));
  ra[3] = ra[0];
  return true;
}

/* LISTK: a fresh copy of a literal list constant, and of the lists in it
 * (tuples, strings and numbers are immutable and shared). */
static ObjList *copy_list_literal(VM *vm, const ObjList *src) {
  ObjList *l = list_new(vm, src->len);
  for (uint32_t i = 0; i < src->len; i++) {
    Value v = src->items[i];
    l->items[i] = IS_LIST(v) ? OBJ_VAL(copy_list_literal(vm, AS_LIST(v))) : v;
  }
  l->len = src->len;
  return l;
}

/* ----------------------------------------------------- numeric fast paths */

/* b ** e for e >= 0 (numeric.h), an overflow as the VM's error. */
static bool int_pow(VM *vm, int64_t b, int64_t e, int64_t *out) {
  if (num_int_pow(b, e, out) == NUM_OK) return true;
  return vm_error(vm, "integer overflow in `**`");
}

/* ------------------------------------------------------------ error trace */

/* Append the trace of frames [entry, nframes) for an error unwinding them,
 * innermost first; the top frame is at pc. */
static void capture_trace(VM *vm, int entry, const uint32_t *top_pc) {
  for (int f = vm->nframes - 1; f >= entry; f--) {
    CallFrame *fr = &vm->frames[f];
    ObjProto *p = fr->closure->proto;
    const uint32_t *pc = f == vm->nframes - 1 ? top_pc : fr->pc;
    uint32_t at = pc > p->code ? (uint32_t)(pc - p->code - 1) : 0;
    /* A frame waiting for an iterator's next() resumes at its ITERNEXT
     * (state 1 marks the pending call) rather than after it. */
    if (f != vm->nframes - 1 && INS_OP(*pc) == BC_ITERNEXT &&
        fr->base[INS_A(*pc) + 1].type == VAL_INT && fr->base[INS_A(*pc) + 1].as.i == 1)
      at = (uint32_t)(pc - p->code);
    uint32_t offset = at < p->ncode ? p->offsets[at] : 0;
    if (p->src)
      trace_push(vm, proto_name(p), p->src, offset);
    else
      trace_push(vm, proto_name(p), NULL, 0);
  }
}

/* ------------------------------------------------------------ interpreter */

#if defined(__GNUC__) && !defined(NS_SWITCH_DISPATCH)
#define NS_COMPUTED_GOTO 1
#define vmdispatch(o) goto *disptab[o];
#define vmcase(l) L_##l:
#define vmbreak                                                                                    \
  do {                                                                                             \
    i = *pc++;                                                                                     \
    goto *disptab[INS_OP(i)];                                                                      \
  } while (0)
#else
/* vmbreak is a plain break: never use it inside a nested switch or loop. */
#define vmdispatch(o) switch ((int)(o))
#define vmcase(l) case BC_##l:
#define vmbreak break
#endif

#ifdef NS_GC_STRESS
#define GC_WANTED() true
#else
#define GC_WANTED() UNLIKELY(vm->heap.gc_requested)
#endif

/* A safe point: every live value is in a register or reachable from one.
 * Every loop iteration and every call passes one, so it is also where the
 * limits of vm_set_limits (builtins.h) are checked. */
#define checkGC()                                                                                  \
  do {                                                                                             \
    if (UNLIKELY(vm->limited) && !check_limits(vm)) THROW();                                       \
    if (GC_WANTED() && vm->gc_unsafe == 0 && vm->heap.gc_pause == 0) gc_collect(vm);                 \
  } while (0)

static __attribute__((noinline)) bool check_limits(VM *vm) {
  if (vm->budget && ++vm->steps > vm->budget)
    return vm_error(vm, "instruction budget exhausted (%llu loop iterations and calls)",
                    (unsigned long long)vm->budget);
  if (vm->max_tensor_bytes && vm->heap.external_bytes > vm->max_tensor_bytes) {
    if (vm->gc_unsafe == 0 && vm->heap.gc_pause == 0) gc_collect(vm);
    if (vm->heap.external_bytes > vm->max_tensor_bytes)
      return vm_error(vm, "tensor memory limit exceeded: %zu bytes alive, the limit is %zu",
                      vm->heap.external_bytes, vm->max_tensor_bytes);
  }
  return true;
}

/* Copy a Value field by field: a whole-struct copy is a 16-byte load, which
 * stalls when the source was just written as two smaller stores (the usual
 * case for a register an arithmetic instruction produced). */
#define setv(d, s)                                                                                 \
  do {                                                                                             \
    Value *d_ = (d);                                                                               \
    const Value *s_ = (s);                                                                         \
    d_->as.i = s_->as.i;                                                                           \
    d_->type = s_->type;                                                                           \
  } while (0)

#define RA (base + INS_A(i))
#define RB (base + INS_B(i))
#define RC (base + INS_C(i))
/* An 8-bit constant operand; 255 means the index is in the EXTRA after. */
#define KOPERAND(x) ((x) == K_EXTRA ? k[INS_Ax(*pc++)] : k[x])
#define THROW() goto on_error
#define CHECK(expr)                                                                                \
  do {                                                                                             \
    if (UNLIKELY(!(expr))) THROW();                                                                \
  } while (0)
#define LOAD_FRAME()                                                                               \
  do {                                                                                             \
    frame = &vm->frames[vm->nframes - 1];                                                          \
    cl = frame->closure;                                                                           \
    pc = frame->pc;                                                                                \
    base = frame->base;                                                                            \
    k = cl->proto->k;                                                                              \
  } while (0)
/* Execute the JMP that follows a conditional instruction. */
#define DO_NEXT_JUMP()                                                                             \
  do {                                                                                             \
    int32_t off_ = INS_sBx(*pc);                                                                   \
    pc += off_ + 1;                                                                                \
    if (off_ < 0) checkGC();                                                                       \
  } while (0)
#define COND_JUMP(cond, want)                                                                      \
  do {                                                                                             \
    if ((cond) != (want))                                                                          \
      pc++;                                                                                        \
    else                                                                                           \
      DO_NEXT_JUMP();                                                                              \
  } while (0)

/* Push a frame for closure `ncl` (proto p) with registers at nb, result to
 * ret, and continue in it: the inline fast path of CALL and INVOKE. */
#define ENTER_FRAME(ncl, p, nb, ret_)                                                              \
  do {                                                                                             \
    frame = &vm->frames[vm->nframes++];                                                            \
    frame->closure = (ncl);                                                                        \
    frame->base = (nb);                                                                            \
    frame->ret = (ret_);                                                                           \
    frame->stop = false;                                                                           \
    cl = (ncl);                                                                                    \
    base = (nb);                                                                                   \
    k = (p)->k;                                                                                    \
    pc = (p)->code;                                                                                \
    checkGC();                                                                                     \
  } while (0)

/* Arithmetic with int (overflow-checked), float and mixed fast paths; every
 * other combination goes to arith_binary. */
#define ARITH(b, c, iop, fop, opk, sym) ARITH_VIA(arith_binary, b, c, iop, fop, opk, sym)
#define ARITH_VIA(slow, b, c, iop, fop, opk, sym)                                                  \
  do {                                                                                             \
    Value *ra_ = RA;                                                                               \
    if (LIKELY((b)->type == VAL_INT && (c)->type == VAL_INT)) {                                    \
      int64_t r_;                                                                                  \
      if (UNLIKELY(iop((b)->as.i, (c)->as.i, &r_))) {                                              \
        vm_error(vm, "integer overflow in `" sym "`");                                             \
        THROW();                                                                                   \
      }                                                                                            \
      ra_->type = VAL_INT;                                                                         \
      ra_->as.i = r_;                                                                              \
    } else if ((b)->type == VAL_FLOAT && (c)->type == VAL_FLOAT) {                                 \
      double r_ = (b)->as.f fop(c)->as.f;                                                          \
      ra_->type = VAL_FLOAT;                                                                       \
      ra_->as.f = r_;                                                                              \
    } else if (IS_NUM(*(b)) && IS_NUM(*(c))) {                                                     \
      double r_ = AS_NUM(*(b)) fop AS_NUM(*(c));                                                   \
      *ra_ = FLOAT_VAL(r_);                                                                        \
    } else {                                                                                       \
      Value r_;                                                                                    \
      CHECK(slow(vm, opk, *(b), *(c), &r_));                                                       \
      *ra_ = r_;                                                                                   \
    }                                                                                              \
  } while (0)

#define DIVIDE(b, c) DIVIDE_VIA(arith_binary, b, c)
#define DIVIDE_VIA(slow, b, c)                                                                     \
  do {                                                                                             \
    Value *ra_ = RA;                                                                               \
    if ((b)->type == VAL_INT && (c)->type == VAL_INT) {                                            \
      int64_t q_;                                                                                  \
      NumStatus st_ = num_int_div((b)->as.i, (c)->as.i, &q_);                                      \
      if (UNLIKELY(st_ != NUM_OK)) {                                                               \
        vm_error(vm, "%s", st_ == NUM_DIV_ZERO ? "division by zero" : "integer overflow in `/`");  \
        THROW();                                                                                   \
      }                                                                                            \
      *ra_ = INT_VAL(q_);                                                                          \
    } else if (IS_NUM(*(b)) && IS_NUM(*(c))) {                                                     \
      double r_ = AS_NUM(*(b)) / AS_NUM(*(c));                                                     \
      *ra_ = FLOAT_VAL(r_);                                                                        \
    } else {                                                                                       \
      Value r_;                                                                                    \
      CHECK(slow(vm, AOP_DIV, *(b), *(c), &r_));                                                   \
      *ra_ = r_;                                                                                   \
    }                                                                                              \
  } while (0)

#define MODULO(b, c)                                                                               \
  do {                                                                                             \
    Value *ra_ = RA;                                                                               \
    if ((b)->type == VAL_INT && (c)->type == VAL_INT) {                                            \
      int64_t m_;                                                                                  \
      if (UNLIKELY(num_int_mod((b)->as.i, (c)->as.i, &m_) != NUM_OK)) {                            \
        vm_error(vm, "division by zero");                                                          \
        THROW();                                                                                   \
      }                                                                                            \
      *ra_ = INT_VAL(m_);                                                                          \
    } else if (IS_NUM(*(b)) && IS_NUM(*(c))) {                                                     \
      double r_ = num_float_mod(AS_NUM(*(b)), AS_NUM(*(c)));                                       \
      *ra_ = FLOAT_VAL(r_);                                                                        \
    } else {                                                                                       \
      Value r_;                                                                                    \
      CHECK(arith_binary(vm, AOP_MOD, *(b), *(c), &r_));                                           \
      *ra_ = r_;                                                                                   \
    }                                                                                              \
  } while (0)

/* Integer-only operators with a fast path; the rest (bools, tensors,
 * errors) in arith_binary. */
#define INT_BINOP(expr, opk, guard)                                                                \
  do {                                                                                             \
    Value *b_ = RB, *c_ = RC;                                                                      \
    if (b_->type == VAL_INT && c_->type == VAL_INT && (guard)) {                                   \
      int64_t x = b_->as.i, y = c_->as.i;                                                          \
      *RA = INT_VAL(expr);                                                                         \
    } else {                                                                                       \
      Value r_;                                                                                    \
      CHECK(arith_binary(vm, opk, *b_, *c_, &r_));                                                 \
      *RA = r_;                                                                                    \
    }                                                                                              \
  } while (0)

/* Numeric comparison fast paths; an int against a float (compared exactly,
 * not through double), strings, tuples and the rest go to arith_compare. */
#define COMPARE(b, c, op, opk, out)                                                                \
  do {                                                                                             \
    if ((b)->type == VAL_INT && (c)->type == VAL_INT)                                              \
      out = (b)->as.i op(c)->as.i;                                                                 \
    else if ((b)->type == VAL_FLOAT && (c)->type == VAL_FLOAT)                                     \
      out = (b)->as.f op(c)->as.f;                                                                 \
    else                                                                                           \
      CHECK(arith_compare(vm, opk, *(b), *(c), &out));                                             \
  } while (0)

/* A comparison with a tensor operand gives a bool tensor (elementwise). */
#define TENSOR_COMPARE(opk)                                                                        \
  if (UNLIKELY(IS_TENSOR(*RB) || IS_TENSOR(*RC))) {                                                \
    Value r_;                                                                                      \
    CHECK(arith_binary(vm, opk, *RB, *RC, &r_));                                                   \
    *RA = r_;                                                                                      \
    vmbreak;                                                                                       \
  }

/* == on numbers inline; struct and enum values through their `eq` method */
#define EQUAL(a, b, out)                                                                           \
  do {                                                                                             \
    if ((a)->type == VAL_INT && (b)->type == VAL_INT)                                              \
      out = (a)->as.i == (b)->as.i;                                                                \
    else if ((a)->type == VAL_FLOAT && (b)->type == VAL_FLOAT)                                     \
      out = (a)->as.f == (b)->as.f;                                                                \
    else                                                                                           \
      CHECK(arith_user_equal(vm, *(a), *(b), &out));                                               \
  } while (0)

/* (vm_int.h) */
bool vm_execute(VM *vm, int entry) {
#ifdef NS_COMPUTED_GOTO
  static const void *const disptab[BC__NUM] = {
#define OPCODE(name, fmt, operands, effects) &&L_##name,
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
        setv(RA, RB);
        vmbreak;
      }
      vmcase(LOADK) {
        setv(RA, &k[INS_Bx(i)]);
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
        setv(RA, cl->upvals[INS_B(i)]->location);
        vmbreak;
      }
      vmcase(SETUPVAL) {
        setv(cl->upvals[INS_B(i)]->location, RA);
        vmbreak;
      }
      vmcase(GETGLOBAL) {
        ObjModule *m = cl->proto->module;
        const Value *v = &m->values[INS_Bx(i)];
        if (UNLIKELY(v->type == VAL_UNDEF)) {
          access_undefined(vm, m->names[INS_Bx(i)]);
          THROW();
        }
        setv(RA, v);
        vmbreak;
      }
      vmcase(SETGLOBAL) {
        setv(&cl->proto->module->values[INS_Bx(i)], RA);
        vmbreak;
      }
      vmcase(GETFIELD) {
        Value key = KOPERAND(INS_C(i)), v;
        Value obj = *RB;
        if (IS_INSTANCE(obj) && IS_STRING(key)) {
          ObjInstance *in = AS_INSTANCE(obj);
          int idx = access_field_index(in->cls, AS_STRING(key));
          if (idx >= 0) {
            *RA = in->fields[idx];
            vmbreak;
          }
        }
        CHECK(access_get_field(vm, obj, key, &v));
        *RA = v;
        vmbreak;
      }
      vmcase(SETFIELD) {
        Value key = KOPERAND(INS_B(i));
        CHECK(access_set_field(vm, *RA, key, *RC));
        vmbreak;
      }
      vmcase(GETINDEX) {
        const Value *ob = RB, *ix = RC;
        if (ob->type == VAL_OBJ && ob->as.o->type == OBJ_LIST && ix->type == VAL_INT &&
            (uint64_t)ix->as.i < ((ObjList *)ob->as.o)->len) {
          setv(RA, &((ObjList *)ob->as.o)->items[ix->as.i]);
          vmbreak;
        }
        Value v;
        CHECK(access_get_index(vm, *ob, *ix, &v));
        *RA = v;
        checkGC();
        vmbreak;
      }
      vmcase(SETINDEX) {
        const Value *ob = RA, *ix = RB;
        if (ob->type == VAL_OBJ && ob->as.o->type == OBJ_LIST && ix->type == VAL_INT &&
            (uint64_t)ix->as.i < ((ObjList *)ob->as.o)->len) {
          setv(&((ObjList *)ob->as.o)->items[ix->as.i], RC);
          vmbreak;
        }
        CHECK(access_set_index(vm, *ob, *ix, *RC));
        vmbreak;
      }
      vmcase(UNPACK) {
        Value v;
        CHECK(access_unpack(vm, *RB, INS_C(i), &v));
        *RA = v;
        vmbreak;
      }

      vmcase(ADD) {
        ARITH(RB, RC, __builtin_add_overflow, +, AOP_ADD, "+");
        vmbreak;
      }
      vmcase(SUB) {
        ARITH(RB, RC, __builtin_sub_overflow, -, AOP_SUB, "-");
        vmbreak;
      }
      vmcase(MUL) {
        ARITH(RB, RC, __builtin_mul_overflow, *, AOP_MUL, "*");
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
      vmcase(IADD) {
        ARITH_VIA(arith_inplace, RB, RC, __builtin_add_overflow, +, AOP_ADD, "+");
        vmbreak;
      }
      vmcase(ISUB) {
        ARITH_VIA(arith_inplace, RB, RC, __builtin_sub_overflow, -, AOP_SUB, "-");
        vmbreak;
      }
      vmcase(IMUL) {
        ARITH_VIA(arith_inplace, RB, RC, __builtin_mul_overflow, *, AOP_MUL, "*");
        vmbreak;
      }
      vmcase(IDIV) {
        DIVIDE_VIA(arith_inplace, RB, RC);
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
          CHECK(arith_binary(vm, AOP_POW, *b, *c, &r));
          *RA = r;
        }
        vmbreak;
      }
      vmcase(ADDK) {
        Value kc = KOPERAND(INS_C(i));
        ARITH(RB, &kc, __builtin_add_overflow, +, AOP_ADD, "+");
        vmbreak;
      }
      vmcase(SUBK) {
        Value kc = KOPERAND(INS_C(i));
        ARITH(RB, &kc, __builtin_sub_overflow, -, AOP_SUB, "-");
        vmbreak;
      }
      vmcase(MULK) {
        Value kc = KOPERAND(INS_C(i));
        ARITH(RB, &kc, __builtin_mul_overflow, *, AOP_MUL, "*");
        vmbreak;
      }
      vmcase(DIVK) {
        Value kc = KOPERAND(INS_C(i));
        DIVIDE(RB, &kc);
        vmbreak;
      }
      vmcase(IADDK) {
        Value kc = KOPERAND(INS_C(i));
        ARITH_VIA(arith_inplace, RB, &kc, __builtin_add_overflow, +, AOP_ADD, "+");
        vmbreak;
      }
      vmcase(ISUBK) {
        Value kc = KOPERAND(INS_C(i));
        ARITH_VIA(arith_inplace, RB, &kc, __builtin_sub_overflow, -, AOP_SUB, "-");
        vmbreak;
      }
      vmcase(IMULK) {
        Value kc = KOPERAND(INS_C(i));
        ARITH_VIA(arith_inplace, RB, &kc, __builtin_mul_overflow, *, AOP_MUL, "*");
        vmbreak;
      }
      vmcase(IDIVK) {
        Value kc = KOPERAND(INS_C(i));
        DIVIDE_VIA(arith_inplace, RB, &kc);
        vmbreak;
      }
      vmcase(MODK) {
        Value kc = KOPERAND(INS_C(i));
        MODULO(RB, &kc);
        vmbreak;
      }
      vmcase(MATMUL) {
        Value r;
        CHECK(arith_binary(vm, AOP_MATMUL, *RB, *RC, &r));
        *RA = r;
        checkGC();
        vmbreak;
      }
      vmcase(OUTER) {
        Value r;
        CHECK(arith_binary(vm, AOP_OUTER, *RB, *RC, &r));
        *RA = r;
        checkGC();
        vmbreak;
      }
      vmcase(DOT) {
        Value *b = RB, *c = RC;
        if (IS_NUM(*b) && IS_NUM(*c)) {
          ARITH(b, c, __builtin_mul_overflow, *, AOP_MUL, "*");
        } else {
          Value r;
          CHECK(arith_binary(vm, AOP_DOT, *b, *c, &r));
          *RA = r;
          checkGC();
        }
        vmbreak;
      }
      vmcase(BAND) {
        INT_BINOP(x & y, AOP_BITAND, true);
        vmbreak;
      }
      vmcase(BOR) {
        INT_BINOP(x | y, AOP_BITOR, true);
        vmbreak;
      }
      vmcase(SHL) {
        INT_BINOP((int64_t)((uint64_t)x << y), AOP_SHL, num_shift_ok(c_->as.i));
        vmbreak;
      }
      vmcase(SHR) {
        INT_BINOP(x >> y, AOP_SHR, num_shift_ok(c_->as.i));
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
          CHECK(arith_unary(vm, AOP_NEG, *b, &r));
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
          CHECK(arith_unary(vm, AOP_NOT, *b, &r));
          *RA = r;
        }
        vmbreak;
      }
      vmcase(UNOP) {
        Value r;
        CHECK(arith_unary(vm, (ArithOp)INS_C(i), *RB, &r));
        *RA = r;
        checkGC();
        vmbreak;
      }

      vmcase(EQ) {
        TENSOR_COMPARE(AOP_EQ);
        bool r;
        EQUAL(RB, RC, r);
        *RA = BOOL_VAL(r);
        vmbreak;
      }
      vmcase(NE) {
        TENSOR_COMPARE(AOP_NE);
        bool r;
        EQUAL(RB, RC, r);
        *RA = BOOL_VAL(!r);
        vmbreak;
      }
      vmcase(LT) {
        TENSOR_COMPARE(AOP_LT);
        bool r;
        COMPARE(RB, RC, <, AOP_LT, r);
        *RA = BOOL_VAL(r);
        vmbreak;
      }
      vmcase(LE) {
        TENSOR_COMPARE(AOP_LE);
        bool r;
        COMPARE(RB, RC, <=, AOP_LE, r);
        *RA = BOOL_VAL(r);
        vmbreak;
      }
      vmcase(APPROX) {
        Value *b = RB, *c = RC;
        if (IS_NUM(*b) && IS_NUM(*c)) {
          *RA = BOOL_VAL(num_approx(AS_NUM(*b), AS_NUM(*c)));
        } else {
          Value r;
          CHECK(arith_binary(vm, AOP_APPROX, *b, *c, &r));
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
                    (!(r->flags & RANGE_HAS_HI) ||
                     ((r->flags & RANGE_INCLUSIVE) ? x <= r->hi : x < r->hi));
          *RA = BOOL_VAL(in);
        } else {
          Value r;
          CHECK(arith_binary(vm, AOP_IN, *b, *c, &r));
          *RA = r;
        }
        vmbreak;
      }

      vmcase(JMP) {
        pc += INS_sBx(i);
        vmbreak;
      }
      vmcase(LOOP) {
        pc += INS_sBx(i);
        checkGC();
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
        if (UNLIKELY(IS_TENSOR(*RA) || IS_TENSOR(*RB))) {
          vm_error(vm, "condition must be bool, got Tensor");
          THROW();
        }
        bool r;
        EQUAL(RA, RB, r);
        COND_JUMP(r, INS_C(i) != 0);
        vmbreak;
      }
      vmcase(JLT) {
        bool r;
        COMPARE(RA, RB, <, AOP_LT, r);
        COND_JUMP(r, INS_C(i) != 0);
        vmbreak;
      }
      vmcase(JLE) {
        bool r;
        COMPARE(RA, RB, <=, AOP_LE, r);
        COND_JUMP(r, INS_C(i) != 0);
        vmbreak;
      }
      vmcase(JUNDEF) {
        if (!IS_UNDEF(*RA)) pc += INS_sBx(i);
        vmbreak;
      }
      vmcase(FORPREP) {
        CHECK(for_prepare(vm, RA, false));
        if (RA[1].type == VAL_UNIT) pc += INS_sBx(i);
        vmbreak;
      }
      vmcase(FORPREPI) {
        CHECK(for_prepare(vm, RA, true));
        if (RA[1].type == VAL_UNIT) pc += INS_sBx(i);
        vmbreak;
      }
      vmcase(FORLOOP) {
        /* R[A+1] counts the iterations left, so the index never passes an
         * end of the int range: the add below cannot overflow */
        Value *ra = RA;
        if (ra[1].as.i != 0) {
          ra[1].as.i = (int64_t)((uint64_t)ra[1].as.i - 1);
          ra[0].as.i = (int64_t)((uint64_t)ra[0].as.i + (uint64_t)ra[2].as.i);
          ra[3].as.i = ra[0].as.i;
          ra[3].type = VAL_INT;
          pc += INS_sBx(i);
          checkGC();
        }
        vmbreak;
      }
      vmcase(ITERPREP) {
        Value *ra = RA;
        CHECK(access_iter_prepare(vm, ra[0]));
        ra[1] = IS_OBJ_TYPE(ra[0], OBJ_RANGE) ? range_first(AS_RANGE(ra[0])) : INT_VAL(0);
        pc += INS_sBx(i);
        vmbreak;
      }
      vmcase(ITERNEXT) {
        Value *ra = RA, it = ra[0];
        if (IS_LIST(it)) {
          ObjList *l = AS_LIST(it);
          if ((uint64_t)ra[1].as.i < l->len) {
            setv(&ra[2], &l->items[ra[1].as.i++]);
            pc += INS_sBx(i);
            checkGC();
          }
          vmbreak;
        }
        /* OBJ_STRING .. OBJ_MAP: the built-in sequences (value.h order). */
        if (IS_OBJ(it) && OBJ_TYPE(it) <= OBJ_MAP) {
          Value item;
          int got = access_iter_next(vm, it, &ra[1], &item);
          if (UNLIKELY(got < 0)) THROW();
          if (got) {
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
          Value self[1] = {it};
          Value *args = self;
          if (IS_OBJ_TYPE(m, OBJ_CLOSURE)) {
            args = base + cl->proto->maxregs;
            args[0] = it;
          }
          frame->pc = pc - 1;
          CallStatus st = call_value(vm, m, args, 1, NULL, &ra[2], 1);
          if (st == CALL_ERROR) THROW();
          if (st == CALL_FRAME) {
            LOAD_FRAME();
            checkGC();
            vmbreak;
          }
        }
        ra[1].as.i = 0;
        Value r = ra[2];
        if (!IS_VARIANT(r) || AS_VARIANT(r)->cls != vm->option_class) {
          vm_error(vm, "next() must return an Option, got %s", value_type_name(r));
          THROW();
        }
        if (access_is_success(AS_VARIANT(r))) {
          ra[2] = AS_VARIANT(r)->nfields ? AS_VARIANT(r)->fields[0] : UNIT_VAL;
          pc += INS_sBx(i);
          checkGC();
        }
        vmbreak;
      }

      vmcase(CALL) {
        Value *ra = RA;
        uint32_t nargs = INS_B(i), c = INS_C(i);
        if (LIKELY(c == 0 && ra->type == VAL_OBJ && ra->as.o->type == OBJ_CLOSURE)) {
          ObjClosure *ncl = (ObjClosure *)ra->as.o;
          ObjProto *p = ncl->proto;
          if (LIKELY(nargs == p->nparams && vm->nframes < NS_MAX_FRAMES &&
                     ra + 2 + p->maxregs <= vm->stack_end)) {
            Value *nb = ra + 1;
            for (Value *r = nb + nargs; r < nb + p->maxregs; r++) *r = UNIT_VAL;
            frame->pc = pc;
            ENTER_FRAME(ncl, p, nb, ra);
            vmbreak;
          }
        }
        const ObjTuple *names = NULL;
        if (c != 0) names = AS_TUPLE(c == K_EXTRA ? k[INS_Ax(*pc++)] : k[c - 1]);
        frame->pc = pc;
        switch (call_value(vm, *ra, ra + 1, (int)nargs, names, ra, 0)) {
        case CALL_ERROR: THROW();
        case CALL_FRAME: LOAD_FRAME(); break;
        case CALL_DONE: break;
        }
        checkGC();
        vmbreak;
      }
      vmcase(INVOKE) {
        ObjString *name = AS_STRING(KOPERAND(INS_C(i)));
        Value *ra = RA;
        frame->pc = pc;
        /* A struct's own method with exactly its arguments: a new frame
         * whose base is the receiver. */
        if (ra->type == VAL_OBJ && ra->as.o->type == OBJ_INSTANCE) {
          Value m;
          if (table_get(&((ObjInstance *)ra->as.o)->cls->methods, name, &m) &&
              IS_OBJ_TYPE(m, OBJ_CLOSURE)) {
            ObjClosure *ncl = AS_CLOSURE(m);
            ObjProto *p = ncl->proto;
            if (INS_B(i) + 1 == p->nparams && vm->nframes < NS_MAX_FRAMES &&
                ra + 2 + p->maxregs <= vm->stack_end) {
              for (Value *r = ra + p->nparams; r < ra + p->maxregs; r++) *r = UNIT_VAL;
              ENTER_FRAME(ncl, p, ra, ra);
              vmbreak;
            }
          }
        }
        switch (call_invoke(vm, RA, name, (int)INS_B(i), NULL)) {
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
        switch (call_invoke(vm, RA, name, (int)INS_B(i), names)) {
        case CALL_ERROR: THROW();
        case CALL_FRAME: LOAD_FRAME(); break;
        case CALL_DONE: break;
        }
        checkGC();
        vmbreak;
      }
      vmcase(RETURN) {
        if (INS_B(i))
          setv(&retval, RA);
        else
          retval = UNIT_VAL;
      do_return:
        if (vm->open_upvalues && vm->open_upvalues->location >= base) close_upvalues(vm, base);
        setv(frame->ret, &retval);
        vm->nframes--;
        if (frame->stop) return true;
        LOAD_FRAME();
        vmbreak;
      }
      vmcase(TRY) {
        Value v = *RB;
        if (IS_VARIANT(v) &&
            (AS_VARIANT(v)->cls == vm->option_class || AS_VARIANT(v)->cls == vm->result_class)) {
          if (access_is_success(AS_VARIANT(v))) {
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
        if (n) memcpy(l->items, RB, sizeof(Value) * n);
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
        if (n) memcpy(t->items, RB, sizeof(Value) * n);
        *RA = OBJ_VAL(t);
        checkGC();
        vmbreak;
      }
      vmcase(TUPLEOF) {
        ObjList *l = AS_LIST(*RB);
        ObjTuple *t = tuple_new(vm, l->len);
        if (l->len) memcpy(t->items, l->items, sizeof(Value) * l->len);
        *RA = OBJ_VAL(t);
        checkGC();
        vmbreak;
      }
      vmcase(LISTK) {
        *RA = OBJ_VAL(copy_list_literal(vm, AS_LIST(k[INS_Bx(i)])));
        checkGC();
        vmbreak;
      }
      vmcase(REPEAT) {
        Value v = *RB, n = *RC;
        if (!IS_INT(n) || n.as.i < 0 || n.as.i > UINT32_MAX) {
          if (IS_INT(n))
            vm_error(vm, "repeat count must be a non-negative int, got %lld", (long long)n.as.i);
          else
            vm_error(vm, "repeat count must be a non-negative int, got %s", value_type_name(n));
          THROW();
        }
        ObjList *l = list_new(vm, (uint32_t)n.as.i);
        /* As vec![x; n]: n - 1 clones and the value itself last, so
         * [[0; 2]; 2] has two distinct rows. */
        bool shared = !IS_OBJ(v) || OBJ_TYPE(v) == OBJ_STRING;
        for (int64_t j = 0; j < n.as.i; j++)
          l->items[j] = shared || j == n.as.i - 1 ? v : vm->lang.clone(vm, v);
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
        CHECK(access_new_struct(vm, RB, names, &v));
        *RA = v;
        checkGC();
        vmbreak;
      }
      vmcase(FORMAT) {
        ObjString *spec = AS_STRING(KOPERAND(INS_C(i)));
        Value v = *RB;
        ObjString *s;
        /* A to_string method may run; the formatter's C locals are not
         * roots, so no collection until it is done. */
        vm->native_depth++;
        vm->gc_unsafe++;
        if (spec->len == 0)
          s = vm->lang.format_value(vm, v, false);
        else if (spec->len == 1 && spec->chars[0] == '?')
          s = vm->lang.format_value(vm, v, true);
        else
          s = vm->lang.format_spec(vm, v, spec->chars, spec->len);
        vm->gc_unsafe--;
        vm->native_depth--;
        CHECK(s != NULL);
        *RA = OBJ_VAL(s);
        checkGC();
        vmbreak;
      }
      vmcase(CONCAT) {
        Value v;
        CHECK(access_concat(vm, RB, (int)INS_C(i), &v));
        *RA = v;
        checkGC();
        vmbreak;
      }

      vmcase(CHECKTYPE) {
        ObjTypeSpec *ts = AS_TYPESPEC(k[INS_Bx(i)]);
        Value *a = RA;
        if (LIKELY(access_quick_type_ok(ts, a))) vmbreak;
        CHECK(vm_check_type(vm, ts, a));
        vmbreak;
      }
      vmcase(CAST) {
        ObjString *type = AS_STRING(KOPERAND(INS_C(i)));
        const Value *b = RB;
        /* Numbers to f64, the common cast in numeric loops. */
        if ((b->type == VAL_INT || b->type == VAL_FLOAT) && type->len == 3 &&
            memcmp(type->chars, "f64", 3) == 0) {
          double d = b->type == VAL_INT ? (double)b->as.i : b->as.f;
          Value *a = RA;
          a->as.f = d;
          a->type = VAL_FLOAT;
          vmbreak;
        }
        Value v;
        CHECK(arith_cast(vm, *b, type, &v));
        *RA = v;
        vmbreak;
      }
      vmcase(IMPORT) {
        Value v;
        frame->pc = pc;
        if (UNLIKELY(!vm->import)) {
          vm_error(vm, "cannot import `%s`: this VM has no module loader", AS_STRING(k[INS_Bx(i)])->chars);
          THROW();
        }
        CHECK(vm->import(vm, AS_STRING(k[INS_Bx(i)]), cl->proto->module, &v));
        *RA = v;
        checkGC();
        vmbreak;
      }
      vmcase(MATCHFAIL) {
        vm_error(vm, "no match arm matches %s", access_debug_text(vm, *RA));
        THROW();
      }
      vmcase(JVARIANT) {
        bool r = access_variant_matches(*RA, *RB);
        COND_JUMP(r, INS_C(i) != 0);
        vmbreak;
      }
      vmcase(JTUPLE) {
        bool r = IS_TUPLE(*RA) && AS_TUPLE(*RA)->len == INS_B(i);
        COND_JUMP(r, INS_C(i) != 0);
        vmbreak;
      }
      vmcase(EXTRA) { vmbreak; }
    }
  }

on_error:
  if (!vm->has_error) vm_error(vm, "internal error");
  if (vm->lang.error_unwind) vm->lang.error_unwind(vm); /* an error leaves any no_grad block */
  capture_trace(vm, entry, pc);
  close_upvalues(vm, vm->frames[entry].base);
  vm->nframes = entry;
  return false;
}

