/* The bytecode verifier on hand-built functions: well-formed code passes
 * (straight line, both arms of a branch writing a register, loops, calls,
 * EXTRA operands, a closure capturing a register), and each broken rule is
 * rejected at the right pc: a register read before it is written on one
 * path, jumps outside the code, registers, constants, upvalues and globals
 * out of range, a missing EXTRA, a skip not followed by JMP, code that runs
 * off its end, a read of a register a call clobbered, and writes to a live
 * local (an immutable local overwritten, a mutable one written outside an
 * assignment to it, a call frame below a local); random bytecode never
 * crashes it. */
#include <stdio.h>
#include <string.h>

#include "builtins.h"
#include "verify.h"
#include "vm.h"

static VM *vm;
static ObjModule *mod;
static int failures;

static ObjProto *mk(int nparams, int maxregs) {
  ObjProto *p = proto_new(vm, mod, NULL);
  p->name = str_cstr(vm, "f");
  p->nparams = (uint8_t)nparams;
  p->maxregs = (uint8_t)maxregs;
  return p;
}
#define E(p, ins) proto_emit(vm, p, ins, 0)

static void accept(const char *what, ObjProto *p, const VerifyLocal *l, int nl) {
  VerifyError err;
  if (verify_proto(p, l, nl, &err)) {
    printf("ok   %s: accepted\n", what);
  } else {
    printf("FAIL %s: rejected at pc %u: %s\n", what, err.pc, err.msg);
    failures++;
  }
}

static void reject(const char *what, ObjProto *p, const VerifyLocal *l, int nl, uint32_t want_pc, const char *want) {
  VerifyError err;
  if (verify_proto(p, l, nl, &err)) {
    printf("FAIL %s: accepted, want a rejection (%s)\n", what, want);
    failures++;
  } else if (err.pc != want_pc || !strstr(err.msg, want)) {
    printf("FAIL %s: rejected at pc %u: %s; want pc %u: %s\n", what, err.pc, err.msg, want_pc, want);
    failures++;
  } else {
    printf("ok   %s: pc %u: %s\n", what, err.pc, err.msg);
  }
}

int main(void) {
  vm = lang_vm_new();
  vm->heap.gc_pause++;
  mod = module_new(vm, str_cstr(vm, "main"), str_cstr(vm, "t.ns"));
  uint32_t g = module_declare(vm, mod, str_cstr(vm, "g"), 0);

  /* ---- accepted ---- */
  ObjProto *p = mk(1, 3); /* r1 = r0 + 1; return r1 */
  E(p, MAKE_ABC(BC_ADDK, 1, 0, proto_add_const(vm, p, INT_VAL(1))));
  E(p, MAKE_ABC(BC_RETURN, 1, 1, 0));
  accept("straight line", p, NULL, 0);

  p = mk(1, 3); /* if r0 < 2 { r1 = 1 } else { r1 = 2 }; return r1 */
  E(p, MAKE_AsBx(BC_LOADI, 2, 2));
  E(p, MAKE_ABC(BC_JLT, 0, 2, 0));
  E(p, MAKE_AsBx(BC_JMP, 0, 2));
  E(p, MAKE_AsBx(BC_LOADI, 1, 1));
  E(p, MAKE_AsBx(BC_JMP, 0, 1));
  E(p, MAKE_AsBx(BC_LOADI, 1, 2));
  E(p, MAKE_ABC(BC_RETURN, 1, 1, 0));
  accept("both arms write r1", p, NULL, 0);

  p = mk(0, 6); /* s = 0; for i in 0..=9 { s = s + i }; return s */
  E(p, MAKE_AsBx(BC_LOADI, 0, 0));
  E(p, MAKE_AsBx(BC_LOADI, 1, 0));
  E(p, MAKE_AsBx(BC_LOADI, 2, 9));
  E(p, MAKE_AsBx(BC_LOADI, 3, 1));
  E(p, MAKE_AsBx(BC_FORPREPI, 1, 2));
  E(p, MAKE_ABC(BC_ADD, 0, 0, 4));  /* reads r4, written by FORPREPI's fall-through */
  E(p, MAKE_AsBx(BC_FORLOOP, 1, -2));
  E(p, MAKE_ABC(BC_RETURN, 0, 1, 0));
  /* s is assigned at pc 5 (an assignment's code), i is live in the body */
  VerifyLocal loop_locals[] = {{"s", 0, true, false, 1, 8}, {"i", 4, false, false, 5, 6}, {"s", 0, true, true, 5, 6}};
  accept("numeric for loop", p, loop_locals, 3);
  reject("mutable local written outside an assignment", p, loop_locals, 2, 5,
         "overwrites r0, the register of the local `s` (live at pc 1..8), outside an assignment to it");

  p = mk(0, 4); /* r0 = g(1); r0.name(r1) with named args; EXTRA operands */
  ObjTuple *names = tuple_new(vm, 1);
  names->items[0] = OBJ_VAL(str_cstr(vm, "x"));
  for (int i = 0; i < 300; i++) proto_add_const(vm, p, INT_VAL(1000 + i)); /* push K past 255 */
  int kname = (int)proto_add_const(vm, p, OBJ_VAL(str_cstr(vm, "name")));
  int knames = (int)proto_add_const(vm, p, OBJ_VAL(names));
  E(p, MAKE_ABx(BC_GETGLOBAL, 0, g));
  E(p, MAKE_AsBx(BC_LOADI, 1, 1));
  E(p, MAKE_ABC(BC_CALL, 0, 1, 0));
  E(p, MAKE_AsBx(BC_LOADI, 1, 2));
  E(p, MAKE_ABC(BC_INVOKEKW, 0, 1, K_EXTRA));
  E(p, MAKE_Ax(BC_EXTRA, kname));
  E(p, MAKE_Ax(BC_EXTRA, knames));
  E(p, MAKE_ABC(BC_RETURN, 0, 1, 0));
  accept("calls and EXTRA operands", p, NULL, 0);

  ObjProto *child = mk(0, 2);
  E(child, MAKE_ABC(BC_GETUPVAL, 0, 0, 0));
  E(child, MAKE_ABC(BC_RETURN, 0, 1, 0));
  child->nupvals = 1;
  child->upvals = ALLOCATE(vm, UpvalDesc, 1);
  child->upvals[0].in_stack = true;
  child->upvals[0].index = 1;
  accept("closure body", child, NULL, 0);
  p = mk(0, 3); /* a recursive local fn captures its own register before it is written */
  E(p, MAKE_ABx(BC_CLOSURE, 1, proto_add_proto(vm, p, child)));
  E(p, MAKE_ABC(BC_CLOSE, 1, 0, 0));
  E(p, MAKE_ABC(BC_RETURN, 1, 1, 0));
  accept("closure capturing a register", p, NULL, 0);

  /* while r0 < 10 { r0 = r0 + 1 }: the back-edge is a LOOP (a safe point) */
  p = mk(1, 3);
  E(p, MAKE_AsBx(BC_LOADI, 1, 10));
  E(p, MAKE_ABC(BC_JLT, 0, 1, 0));
  E(p, MAKE_AsBx(BC_JMP, 0, 2));
  E(p, MAKE_ABC(BC_ADDK, 0, 0, proto_add_const(vm, p, INT_VAL(1))));
  E(p, MAKE_AsBx(BC_LOOP, 0, -4));
  E(p, MAKE_ABC(BC_RETURN, 0, 1, 0));
  accept("while loop with a LOOP back-edge", p, NULL, 0);
  p->code[4] = MAKE_AsBx(BC_JMP, 0, -4);
  reject("a backward JMP (a loop without a safe point)", p, NULL, 0, 4, "JMP jumps backwards to 1");
  p->code[4] = MAKE_AsBx(BC_LOOP, 0, 0);
  reject("a LOOP that jumps forwards", p, NULL, 0, 4, "LOOP jumps forwards to 5");

  /* ---- rejected ---- */
  p = mk(1, 3); /* r1 is written only when r0 < 2 */
  E(p, MAKE_AsBx(BC_LOADI, 2, 2));
  E(p, MAKE_ABC(BC_JLT, 0, 2, 0));
  E(p, MAKE_AsBx(BC_JMP, 0, 1));
  E(p, MAKE_AsBx(BC_LOADI, 1, 1));
  E(p, MAKE_ABC(BC_RETURN, 1, 1, 0));
  reject("read before write on one path", p, NULL, 0, 4, "reads r1, which is not written on every path");

  p = mk(0, 2);
  E(p, MAKE_AsBx(BC_LOADI, 0, 1));
  E(p, MAKE_AsBx(BC_JMP, 0, 5));
  E(p, MAKE_ABC(BC_RETURN, 0, 1, 0));
  reject("jump past the end", p, NULL, 0, 1, "jump to 7, outside the code");

  p = mk(0, 2);
  E(p, MAKE_AsBx(BC_JMP, 0, -3));
  E(p, MAKE_ABC(BC_RETURN, 0, 0, 0));
  reject("jump before the start", p, NULL, 0, 0, "jump to -2, outside the code");

  p = mk(1, 2);
  E(p, MAKE_ABC(BC_MOVE, 7, 0, 0));
  E(p, MAKE_ABC(BC_RETURN, 0, 1, 0));
  reject("register out of range", p, NULL, 0, 0, "register r7 out of range (2 registers)");

  p = mk(0, 3); /* NEWLIST reads r1..r3, r3 is past maxregs */
  E(p, MAKE_AsBx(BC_LOADI, 1, 1));
  E(p, MAKE_AsBx(BC_LOADI, 2, 1));
  E(p, MAKE_ABC(BC_NEWLIST, 0, 1, 3));
  E(p, MAKE_ABC(BC_RETURN, 0, 1, 0));
  reject("register range of a count", p, NULL, 0, 2, "register r3 out of range (3 registers)");

  child->upvals[0].index = 9;
  p = mk(0, 3);
  E(p, MAKE_ABx(BC_CLOSURE, 1, proto_add_proto(vm, p, child)));
  E(p, MAKE_ABC(BC_RETURN, 1, 1, 0));
  reject("closure capturing a register out of range", p, NULL, 0, 0, "closure captures r9, out of range");

  p = mk(0, 2);
  E(p, MAKE_ABx(BC_LOADK, 0, 3));
  E(p, MAKE_ABC(BC_RETURN, 0, 1, 0));
  reject("constant out of range", p, NULL, 0, 0, "constant K3 out of range (0 constants)");

  p = mk(0, 2);
  E(p, MAKE_ABC(BC_GETUPVAL, 0, 0, 0));
  E(p, MAKE_ABC(BC_RETURN, 0, 1, 0));
  reject("upvalue out of range", p, NULL, 0, 0, "upvalue u0 out of range");

  p = mk(0, 2);
  E(p, MAKE_ABx(BC_GETGLOBAL, 0, 999));
  E(p, MAKE_ABC(BC_RETURN, 0, 1, 0));
  reject("global out of range", p, NULL, 0, 0, "global g999 out of range");

  p = mk(1, 2); /* K operand 255 without the EXTRA after it */
  E(p, MAKE_ABC(BC_GETFIELD, 1, 0, K_EXTRA));
  E(p, MAKE_ABC(BC_RETURN, 1, 1, 0));
  reject("missing EXTRA", p, NULL, 0, 0, "not followed by an EXTRA");

  p = mk(1, 2);
  E(p, MAKE_ABC(BC_TEST, 0, 1, 0));
  E(p, MAKE_AsBx(BC_LOADI, 1, 1));
  E(p, MAKE_ABC(BC_RETURN, 0, 0, 0));
  reject("skip not over a JMP", p, NULL, 0, 0, "which is not a JMP");

  p = mk(0, 1);
  E(p, MAKE_AsBx(BC_LOADI, 0, 1));
  reject("runs off the end", p, NULL, 0, 0, "runs past the end of the code");

  p = mk(1, 1);
  E(p, MAKE_ABC(BC_TEST, 0, 1, 0));
  E(p, MAKE_AsBx(BC_JMP, 0, -2));
  reject("skips past the end", p, NULL, 0, 0, "skipping the JMP runs past the end");

  p = mk(0, 4); /* r2 is a call argument: the callee's frame overwrote it */
  E(p, MAKE_ABx(BC_GETGLOBAL, 1, g));
  E(p, MAKE_AsBx(BC_LOADI, 2, 5));
  E(p, MAKE_ABC(BC_CALL, 1, 1, 0));
  E(p, MAKE_ABC(BC_ADD, 0, 1, 2));
  E(p, MAKE_ABC(BC_RETURN, 0, 1, 0));
  reject("read of a clobbered register", p, NULL, 0, 3, "reads r2");

  p = mk(0, 5); /* for k in 0..3 { if k < 10 {} }: the loop variable k (r3)
                   overwritten by the temporary 10, the shape of a past bug */
  E(p, MAKE_AsBx(BC_LOADI, 0, 0));
  E(p, MAKE_AsBx(BC_LOADI, 1, 3));
  E(p, MAKE_AsBx(BC_LOADI, 2, 1));
  E(p, MAKE_AsBx(BC_FORPREP, 0, 4));
  E(p, MAKE_AsBx(BC_LOADI, 3, 10));
  E(p, MAKE_ABC(BC_JLT, 3, 3, 0));
  E(p, MAKE_AsBx(BC_JMP, 0, 0));
  E(p, MAKE_AsBx(BC_FORLOOP, 0, -4));
  E(p, MAKE_ABC(BC_RETURN, 0, 0, 0));
  VerifyLocal k_local[] = {{"k", 3, false, false, 4, 7}};
  reject("immutable local overwritten", p, k_local, 1, 4, "overwrites r3, the register of the immutable local `k`");

  p = mk(0, 5); /* a call whose frame starts below the live local x (r3) */
  E(p, MAKE_AsBx(BC_LOADI, 3, 1));
  E(p, MAKE_ABx(BC_GETGLOBAL, 2, g));
  E(p, MAKE_ABC(BC_CALL, 2, 0, 0));
  E(p, MAKE_ABC(BC_RETURN, 2, 1, 0));
  VerifyLocal x_local[] = {{"x", 3, true, false, 1, 4}};
  reject("call frame below a live local", p, x_local, 1, 2, "call frame at r3 overwrites r3");

  /* the same code passes without the local ranges: only they show the clobber */
  accept("same code, no local ranges", p, NULL, 0);

  /* random bytecode: every function is accepted or rejected, never a crash
   * (run under ASan), and a rejection names a pc inside the code */
  unsigned seed = 12345;
  int rejected = 0;
  for (int n = 0; n < 3000; n++) {
    p = mk(n % 3, 1 + n % 12);
    int len = 1 + n % 17;
    for (int i = 0; i < n % 5; i++) proto_add_const(vm, p, INT_VAL(i));
    for (int i = 0; i < len; i++) {
      seed = seed * 1103515245u + 12345u;
      uint32_t ins = (seed >> 3) % BC__NUM | (((seed >> 9) % 16) << 8) | (((seed >> 14) % 16) << 16) |
                     ((uint32_t)((seed >> 20) % 16) << 24);
      if (bc_opcode_formats[INS_OP(ins)] == FMT_AsBx) ins = MAKE_AsBx(INS_OP(ins), INS_A(ins), (int)((seed >> 11) % 9) - 4);
      E(p, ins);
    }
    VerifyError err;
    if (!verify_proto(p, NULL, 0, &err)) {
      rejected++;
      if (err.pc >= p->ncode) {
        printf("FAIL random function %d: rejection at pc %u of %u\n", n, err.pc, p->ncode);
        failures++;
      }
    }
  }
  printf("ok   random bytecode: %d of 3000 functions rejected, no crash\n", rejected);

  vm_free(vm);
  if (failures) printf("%d failure(s)\n", failures);
  return failures ? 1 : 0;
}
