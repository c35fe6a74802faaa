#define _POSIX_C_SOURCE 200809L
/* VM unit tests on hand-assembled bytecode: loops, calls, closures and
 * upvalues, named arguments with defaults, iteration with a collecting
 * GC, and the runtime errors (overflow, division by zero, bad condition,
 * index, stack overflow), with the VM reused after each error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builtins.h"
#include "ast.h"
#include "diag.h"
#include "vm.h"

static Source *src;
static VM *vm;
static ObjModule *mod;

static ObjProto *mkproto(const char *name, int nparams, int maxregs) {
  ObjProto *p = proto_new(vm, mod, src);
  p->name = str_cstr(vm, name);
  p->nparams = nparams;
  p->maxregs = maxregs;
  if (nparams) {
    p->param_names = ALLOCATE(vm, ObjString *, nparams);
    for (int i = 0; i < nparams; i++) {
      char b[8];
      snprintf(b, sizeof b, "p%d", i);
      p->param_names[i] = str_cstr(vm, b);
    }
  }
  return p;
}
#define E(p, ins) proto_emit(vm, p, ins, 0)
#define EL(p, ins, off) proto_emit(vm, p, ins, off)

static int failures = 0;
static void expect_int(const char *what, Value v, int64_t want) {
  if (!IS_INT(v) || v.as.i != want) {
    printf("FAIL %s: got type %d value %lld, want %lld\n", what, v.type, (long long)v.as.i, (long long)want);
    failures++;
  } else {
    printf("ok   %s = %lld\n", what, (long long)want);
  }
}

static Value run(ObjProto *p, const char *what) {
  ObjClosure *cl = closure_new(vm, p);
  Value r = UNIT_VAL;
  NsStatus st = vm_run(vm, cl, &r);
  if (st != NS_OK) {
    printf("[%s: runtime error]\n", what);
    vm_print_error(vm);
    vm_clear_error(vm);
    return UNDEF_VAL;
  }
  return r;
}

static Value run_err(ObjProto *p, const char *what, const char *want_msg) {
  ObjClosure *cl = closure_new(vm, p);
  Value r = UNIT_VAL;
  NsStatus st = vm_run(vm, cl, &r);
  if (st == NS_OK) {
    printf("FAIL %s: expected error `%s`\n", what, want_msg);
    failures++;
    return r;
  }
  if (!strstr(vm->error, want_msg)) {
    printf("FAIL %s: error `%s`, want `%s`\n", what, vm->error, want_msg);
    failures++;
  } else {
    printf("ok   %s: error `%s`\n", what, vm->error);
  }
  vm_clear_error(vm);
  return UNDEF_VAL;
}

int main(int argc, char **argv) {
  (void)argc; (void)argv;
#ifdef NS_GC_STRESS
  /* Every loop iteration and call collects (each marking the whole heap):
   * smaller sizes keep the test quick. */
  const int64_t sum_n = 1000, fib_n = 18, alloc_n = 3000;
#else
  const int64_t sum_n = 10000000, fib_n = 30, alloc_n = 200000;
#endif
  const char *text =
      "let s = 0\n"
      "for i in 1..=10000000 { s += i }\n"
      "fn fib(n) { if n < 2 { return n } fib(n-1) + fib(n-2) }\n"
      "fn make() { let x = 10; |y| x + y }\n"
      "fn deep(n) { deep(n + 1) }\n";
  src = source_new("smoke.ns", text, strlen(text));
  vm = lang_vm_new();
  vm_add_source(vm, src);
  vm->heap.gc_pause++;
  mod = module_new(vm, str_cstr(vm, "main"), str_cstr(vm, "smoke.ns"));
  vm->main_module = mod;

  /* 1. numeric loop: s = 0; for i in 1..sum_n+1 { s = s + i } */
  ObjProto *loop = mkproto("<module>", 0, 8);
  {
    E(loop, MAKE_AsBx(BC_LOADI, 0, 0));          /* s */
    E(loop, MAKE_AsBx(BC_LOADI, 1, 1));          /* start */
    E(loop, MAKE_ABx(BC_LOADK, 2, proto_add_const(vm, loop, INT_VAL(sum_n + 1))));
    E(loop, MAKE_AsBx(BC_LOADI, 3, 1));          /* step */
    EL(loop, MAKE_AsBx(BC_FORPREP, 1, 2), 10);    /* -> after FORLOOP */
    EL(loop, MAKE_ABC(BC_ADD, 0, 0, 4), 25);      /* body: s += i (R4) */
    EL(loop, MAKE_AsBx(BC_FORLOOP, 1, -2), 10);   /* back to ADD */
    E(loop, MAKE_ABC(BC_RETURN, 0, 1, 0));
  }
  /* 2. fib via GETGLOBAL/CALL */
  uint32_t gfib = module_declare(vm, mod, str_cstr(vm, "fib"), 0);
  ObjProto *fib = mkproto("fib", 1, 4);
  {
    uint32_t base_off = 56;
    EL(fib, MAKE_AsBx(BC_LOADI, 1, 2), base_off + 14);
    EL(fib, MAKE_ABC(BC_JLT, 0, 1, 0), base_off + 14); /* if (n<2) != 0 skip */
    EL(fib, MAKE_AsBx(BC_JMP, 0, 1), base_off + 14);
    EL(fib, MAKE_ABC(BC_RETURN, 0, 1, 0), base_off + 20);
    EL(fib, MAKE_ABx(BC_GETGLOBAL, 1, gfib), base_off + 34);
    EL(fib, MAKE_ABC(BC_SUBK, 2, 0, proto_add_const(vm, fib, INT_VAL(1))), base_off + 38);
    EL(fib, MAKE_ABC(BC_CALL, 1, 1, 0), base_off + 34);
    EL(fib, MAKE_ABx(BC_GETGLOBAL, 2, gfib), base_off + 45);
    EL(fib, MAKE_ABC(BC_SUBK, 3, 0, proto_add_const(vm, fib, INT_VAL(2))), base_off + 49);
    EL(fib, MAKE_ABC(BC_CALL, 2, 1, 0), base_off + 45);
    EL(fib, MAKE_ABC(BC_ADD, 1, 1, 2), base_off + 43);
    EL(fib, MAKE_ABC(BC_RETURN, 1, 1, 0), base_off + 43);
  }
  ObjProto *fibmain = mkproto("<module>", 0, 4);
  {
    E(fibmain, MAKE_ABx(BC_CLOSURE, 0, proto_add_proto(vm, fibmain, fib)));
    E(fibmain, MAKE_ABx(BC_SETGLOBAL, 0, gfib));
    E(fibmain, MAKE_ABx(BC_GETGLOBAL, 0, gfib));
    E(fibmain, MAKE_AsBx(BC_LOADI, 1, (int)fib_n));
    E(fibmain, MAKE_ABC(BC_CALL, 0, 1, 0));
    E(fibmain, MAKE_ABC(BC_RETURN, 0, 1, 0));
  }
  /* 3. closure with upvalue: make() returns |y| x + y; make()(5) == 15,
   * and a counter closure mutating a shared upvalue. */
  ObjProto *inner = mkproto("<closure>", 1, 3);
  {
    inner->nupvals = 1;
    inner->upvals = ALLOCATE(vm, UpvalDesc, 1);
    inner->upvals[0] = (UpvalDesc){1, 0};
    E(inner, MAKE_ABC(BC_GETUPVAL, 1, 0, 0));
    E(inner, MAKE_ABC(BC_ADD, 1, 1, 0));
    E(inner, MAKE_ABC(BC_SETUPVAL, 1, 0, 0)); /* x = x + y */
    E(inner, MAKE_ABC(BC_RETURN, 1, 1, 0));
  }
  ObjProto *make = mkproto("make", 0, 3);
  {
    E(make, MAKE_AsBx(BC_LOADI, 0, 10));
    E(make, MAKE_ABx(BC_CLOSURE, 1, proto_add_proto(vm, make, inner)));
    E(make, MAKE_ABC(BC_RETURN, 1, 1, 0));
  }
  ObjProto *clmain = mkproto("<module>", 0, 6);
  {
    E(clmain, MAKE_ABx(BC_CLOSURE, 0, proto_add_proto(vm, clmain, make)));
    E(clmain, MAKE_ABC(BC_CALL, 0, 0, 0)); /* r0 = make() */
    E(clmain, MAKE_ABC(BC_MOVE, 1, 0, 0));
    E(clmain, MAKE_AsBx(BC_LOADI, 2, 5));
    E(clmain, MAKE_ABC(BC_CALL, 1, 1, 0)); /* r1 = f(5) = 15 */
    E(clmain, MAKE_ABC(BC_MOVE, 2, 0, 0));
    E(clmain, MAKE_AsBx(BC_LOADI, 3, 7));
    E(clmain, MAKE_ABC(BC_CALL, 2, 1, 0)); /* r2 = f(7) = 22 (x is now 15) */
    E(clmain, MAKE_ABC(BC_ADD, 1, 1, 2));  /* 37 */
    E(clmain, MAKE_ABC(BC_RETURN, 1, 1, 0));
  }
  /* 4. deep recursion: stack overflow error, not a crash */
  uint32_t gdeep = module_declare(vm, mod, str_cstr(vm, "deep"), 0);
  ObjProto *deep = mkproto("deep", 1, 3);
  {
    uint32_t o = (uint32_t)(strstr(text, "deep(n + 1)") - text);
    EL(deep, MAKE_ABx(BC_GETGLOBAL, 1, gdeep), o);
    EL(deep, MAKE_ABC(BC_ADDK, 2, 0, proto_add_const(vm, deep, INT_VAL(1))), o);
    EL(deep, MAKE_ABC(BC_CALL, 1, 1, 0), o);
    EL(deep, MAKE_ABC(BC_RETURN, 1, 1, 0), o);
  }
  ObjProto *deepmain = mkproto("<module>", 0, 3);
  {
    E(deepmain, MAKE_ABx(BC_CLOSURE, 0, proto_add_proto(vm, deepmain, deep)));
    E(deepmain, MAKE_ABx(BC_SETGLOBAL, 0, gdeep));
    E(deepmain, MAKE_ABx(BC_GETGLOBAL, 0, gdeep));
    E(deepmain, MAKE_AsBx(BC_LOADI, 1, 0));
    E(deepmain, MAKE_ABC(BC_CALL, 0, 1, 0));
    E(deepmain, MAKE_ABC(BC_RETURN, 0, 1, 0));
  }
  /* 5. allocation-heavy loop (GC): build garbage tuples of 8 values and a
   * growing list, sum the list by ITERPREP/ITERNEXT. The tuples are many
   * times the collection threshold, so the collector must run. */
  ObjProto *alloc = mkproto("<module>", 0, 16);
  {
    E(alloc, MAKE_ABC(BC_NEWLIST, 0, 0, 0));     /* r0 = [] */
    E(alloc, MAKE_AsBx(BC_LOADI, 1, 0));
    E(alloc, MAKE_ABx(BC_LOADK, 2, proto_add_const(vm, alloc, INT_VAL(alloc_n))));
    E(alloc, MAKE_AsBx(BC_LOADI, 3, 1));
    E(alloc, MAKE_AsBx(BC_FORPREP, 1, 11));
    for (int r = 6; r < 14; r++) E(alloc, MAKE_ABC(BC_MOVE, r, 4, 0));
    E(alloc, MAKE_ABC(BC_NEWTUPLE, 5, 6, 8));    /* garbage tuple (i, ..., i) */
    E(alloc, MAKE_ABC(BC_APPENDN, 0, 4, 1));     /* r0.push(i) */
    E(alloc, MAKE_AsBx(BC_FORLOOP, 1, -11));
    E(alloc, MAKE_AsBx(BC_LOADI, 8, 0));         /* sum */
    E(alloc, MAKE_ABC(BC_MOVE, 9, 0, 0));
    E(alloc, MAKE_AsBx(BC_ITERPREP, 9, 1));
    E(alloc, MAKE_ABC(BC_ADD, 8, 8, 11));
    E(alloc, MAKE_AsBx(BC_ITERNEXT, 9, -2));
    E(alloc, MAKE_ABC(BC_RETURN, 8, 1, 0));
  }
  /* 6. errors: int overflow, division by zero, condition not bool, index */
  ObjProto *ovf = mkproto("<module>", 0, 3);
  {
    E(ovf, MAKE_ABx(BC_LOADK, 0, proto_add_const(vm, ovf, INT_VAL(INT64_MAX))));
    E(ovf, MAKE_AsBx(BC_LOADI, 1, 1));
    E(ovf, MAKE_ABC(BC_ADD, 2, 0, 1));
    E(ovf, MAKE_ABC(BC_RETURN, 2, 1, 0));
  }
  ObjProto *dz = mkproto("<module>", 0, 3);
  {
    E(dz, MAKE_AsBx(BC_LOADI, 0, 1));
    E(dz, MAKE_AsBx(BC_LOADI, 1, 0));
    E(dz, MAKE_ABC(BC_MOD, 2, 0, 1));
    E(dz, MAKE_ABC(BC_RETURN, 2, 1, 0));
  }
  ObjProto *cond = mkproto("<module>", 0, 3);
  {
    E(cond, MAKE_AsBx(BC_LOADI, 0, 1));
    E(cond, MAKE_ABC(BC_TEST, 0, 0, 0));
    E(cond, MAKE_AsBx(BC_JMP, 0, 0));
    E(cond, MAKE_ABC(BC_RETURN, 0, 1, 0));
  }
  ObjProto *idx = mkproto("<module>", 0, 6);
  {
    E(idx, MAKE_AsBx(BC_LOADI, 1, 1));
    E(idx, MAKE_AsBx(BC_LOADI, 2, 2));
    E(idx, MAKE_AsBx(BC_LOADI, 3, 3));
    E(idx, MAKE_ABC(BC_NEWLIST, 0, 1, 3));
    E(idx, MAKE_AsBx(BC_LOADI, 4, 5));
    E(idx, MAKE_ABC(BC_GETINDEX, 5, 0, 4));
    E(idx, MAKE_ABC(BC_RETURN, 5, 1, 0));
  }
  /* 7. named args: fn f(a, b = default) called f(b: 5, a: 2) -> a*10+b */
  ObjProto *fk = mkproto("f", 2, 4);
  {
    fk->param_names[0] = str_cstr(vm, "a");
    fk->param_names[1] = str_cstr(vm, "b");
    fk->has_default = 2;
    E(fk, MAKE_AsBx(BC_JUNDEF, 1, 1));
    E(fk, MAKE_AsBx(BC_LOADI, 1, 7));
    E(fk, MAKE_ABC(BC_MULK, 2, 0, proto_add_const(vm, fk, INT_VAL(10))));
    E(fk, MAKE_ABC(BC_ADD, 2, 2, 1));
    E(fk, MAKE_ABC(BC_RETURN, 2, 1, 0));
  }
  ObjProto *kwmain = mkproto("<module>", 0, 8);
  {
    ObjTuple *names = tuple_new(vm, 2);
    names->items[0] = OBJ_VAL(str_cstr(vm, "b"));
    names->items[1] = OBJ_VAL(str_cstr(vm, "a"));
    uint32_t kn = proto_add_const(vm, kwmain, OBJ_VAL(names));
    E(kwmain, MAKE_ABx(BC_CLOSURE, 0, proto_add_proto(vm, kwmain, fk)));
    E(kwmain, MAKE_ABC(BC_MOVE, 4, 0, 0));
    E(kwmain, MAKE_AsBx(BC_LOADI, 5, 5));
    E(kwmain, MAKE_AsBx(BC_LOADI, 6, 2));
    E(kwmain, MAKE_ABC(BC_CALL, 4, 2, kn + 1)); /* f(b: 5, a: 2) = 25 */
    E(kwmain, MAKE_ABC(BC_MOVE, 5, 0, 0));
    E(kwmain, MAKE_AsBx(BC_LOADI, 6, 3));
    E(kwmain, MAKE_ABC(BC_CALL, 5, 1, 0));      /* f(3) = 37 */
    E(kwmain, MAKE_ABC(BC_ADD, 4, 4, 5));       /* 62 */
    E(kwmain, MAKE_ABC(BC_RETURN, 4, 1, 0));
  }
  vm->heap.gc_pause--;
  /* keep the protos alive across collections */
  ObjProto *all[] = {loop, fibmain, clmain, deepmain, alloc, ovf, dz, cond, idx, kwmain};
  for (size_t j = 0; j < sizeof all / sizeof all[0]; j++) vm_push_root(vm, OBJ_VAL(all[j]));


  char fib_name[32];
  snprintf(fib_name, sizeof fib_name, "fib(%lld)", (long long)fib_n);
  int64_t fib_want = fib_n == 30 ? 832040 : 2584; /* fib(18) */
  expect_int("sum loop", run(loop, "loop"), sum_n * (sum_n + 1) / 2);
  expect_int(fib_name, run(fibmain, fib_name), fib_want);
  expect_int("closure", run(clmain, "closure"), 37);
  uint64_t collections = vm->heap.gc_collections;
  size_t before = vm->heap.bytes_allocated;
  expect_int("alloc+iter", run(alloc, "alloc"), alloc_n * (alloc_n - 1) / 2);
  /* The loop made alloc_n dead tuples; the heap has grown by the list
   * (16 bytes an item, twice that at most with its spare capacity) but
   * not by most of them (16 + 8 * 16 bytes each). */
  size_t tuples = (size_t)alloc_n * (sizeof(ObjTuple) + 8 * sizeof(Value));
  size_t held = vm->heap.bytes_allocated > before ? vm->heap.bytes_allocated - before : 0;
  if (vm->heap.gc_collections == collections || held > tuples / 2) {
    printf("FAIL alloc GC: %llu collections, %zu bytes more held after %zu bytes of tuples\n",
           (unsigned long long)(vm->heap.gc_collections - collections), held, tuples);
    failures++;
  } else {
    printf("ok   alloc GC: %llu collections, %zu bytes more held after %zu bytes of tuples\n",
           (unsigned long long)(vm->heap.gc_collections - collections), held, tuples);
  }
  expect_int("named args", run(kwmain, "named"), 62);
  run_err(deepmain, "deep", "stack overflow: recursion too deep (20000 frames)");
  run_err(ovf, "overflow", "integer overflow in `+`");
  run_err(dz, "mod zero", "division by zero");
  run_err(cond, "cond", "condition must be bool, got int");
  run_err(idx, "index", "index 5 out of range for list of length 3");
  /* the VM is usable after errors */
  expect_int("fib again", run(fibmain, "fib again"), fib_want);
  printf("bytes allocated %zu, next_gc %zu\n", vm->heap.bytes_allocated, vm->heap.next_gc);
  vm_pop_root(vm, (int)(sizeof all / sizeof all[0]));
  vm_free(vm);
  printf(failures ? "FAILURES: %d\n" : "all passed\n", failures);
  return failures != 0;
}
