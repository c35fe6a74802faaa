/* The compiler's emitter: diagnostics, instructions into the current
 * function's proto, its constant pool, register allocation and jump
 * patching. Knows nothing of names or expressions (resolve.c, compiler.c).
 *
 * Registers: locals occupy the low registers of a frame in declaration
 * order; temporaries are taken above them (freereg) and released at the
 * end of each statement (c_free_to). */
#include "cstate.h"

#include <string.h>

/* ---- errors ---- */

Diag *c_error(Compiler *c, Span sp, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  diag_vadd(c->diags, DIAG_ERROR, c->src, sp, fmt, ap);
  va_end(ap);
  return c->diags->tail;
}

Diag *c_note(Compiler *c, Span sp, const char *msg) {
  return diag_add(c->diags, DIAG_NOTE, c->src, sp, "%s", msg);
}

/* ---- emitting ---- */

int c_emit(Compiler *c, uint32_t ins, Span sp) {
  return (int)proto_emit(c->vm, c->fs->proto, ins, sp.start);
}

int c_const(Compiler *c, Value v, Span sp) {
  ObjProto *p = c->fs->proto;
  /* Over the limit (reported once): stop searching the pool, which is linear. */
  if (p->nk > 0x10000) return 0;
  uint32_t k = proto_add_const(c->vm, p, v);
  if (k > 0xffff) {
    c_error(c, sp, "function has too many constants (more than 65535)");
    return 0;
  }
  return (int)k;
}

int c_str_const(Compiler *c, const char *s, Span sp) {
  return c_const(c, OBJ_VAL(str_cstr(c->vm, s)), sp);
}

/* op A B K, with K in operand C (or in a following EXTRA when it is too
 * large for 8 bits). */
void c_emit_k8(Compiler *c, OpCode op, int a, int b, int k, Span sp) {
  if (k < K_EXTRA) {
    c_emit(c, MAKE_ABC(op, a, b, k), sp);
  } else {
    c_emit(c, MAKE_ABC(op, a, b, K_EXTRA), sp);
    c_emit(c, MAKE_Ax(BC_EXTRA, k), sp);
  }
}

int c_locals_top(FuncState *fs) { return fs->nlocals ? fs->locals[fs->nlocals - 1].reg + 1 : 0; }

/* Where temporaries start at a statement boundary. */
int c_active_top(FuncState *fs) {
  int top = c_locals_top(fs);
  return top > fs->floor ? top : fs->floor;
}

int c_alloc_reg(Compiler *c, Span sp) {
  FuncState *fs = c->fs;
  int r = fs->freereg++;
  if (r >= MAX_REGS) {
    /* reported once per function; compiling goes on for other errors */
    if (!fs->out_of_regs)
      c_error(c, sp, "expression or function needs more than %d registers: split it into smaller functions",
              MAX_REGS);
    fs->out_of_regs = true;
    fs->freereg = MAX_REGS - 20;
    return MAX_REGS - 21;
  }
  if (fs->freereg > fs->proto->maxregs) fs->proto->maxregs = (uint8_t)fs->freereg;
  return r;
}

void c_free_to(Compiler *c, int r) {
  FuncState *fs = c->fs;
  int top = c_locals_top(fs);
  fs->freereg = r > top ? r : top;
  if (fs->freereg > MAX_REGS) fs->freereg = MAX_REGS;
  if (fs->freereg > fs->proto->maxregs) fs->proto->maxregs = (uint8_t)fs->freereg;
}

/* A placeholder JMP, patched later. */
int c_jump(Compiler *c, Span sp) { return c_emit(c, MAKE_AsBx(BC_JMP, 0, 0), sp); }

void c_patch_to(Compiler *c, int at, int target) {
  ObjProto *p = c->fs->proto;
  int off = target - (at + 1);
  if (off > SBX_MAX || off < SBX_MIN) {
    c_error(c, (Span){p->offsets[at], p->offsets[at] + 1}, "jump too long: split this function");
    return;
  }
  uint32_t ins = p->code[at];
  OpCode op = INS_OP(ins);
  if (op == BC_JMP && off < 0) op = BC_LOOP; /* a back-edge: the loop's safe point */
  p->code[at] = MAKE_AsBx(op, INS_A(ins), off);
}

int c_here(Compiler *c) { return (int)c->fs->proto->ncode; }

void c_jumps_push(Compiler *c, Jumps *j, int at) {
  if (j->len == j->cap) {
    int cap = j->cap ? j->cap * 2 : 8;
    int *n = arena_alloc(&c->arena, sizeof(int) * cap);
    if (j->len) memcpy(n, j->at, sizeof(int) * j->len);
    j->at = n;
    j->cap = cap;
  }
  j->at[j->len++] = at;
}

void c_patch_here(Compiler *c, Jumps *j) {
  for (int i = 0; i < j->len; i++) c_patch_to(c, j->at[i], c_here(c));
  j->len = 0;
}
