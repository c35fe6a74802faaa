/* The bytecode verifier (see verify.h). Each instruction is decoded once
 * from the operand and effect columns of opcodes.def into the registers it
 * reads, writes and clobbers and the instructions that may follow it; the
 * checks then run on that decoded form:
 *
 *   decode      operand ranges, EXTRA operands, successors
 *   dataflow    registers written on every path into each instruction
 *               (intersection over predecessors, iterated to a fixpoint)
 *   reads       every read register is in that set
 *   locals      no write to an immutable live local, no call frame below
 *               a live local
 */
#include "verify.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bytecode.h"

/* ---- the effect column, parsed once ---- */

typedef struct {
  char kind;  /* r w m j f k */
  char slot;  /* A B C */
  int off;
  char count; /* 0: one register; '0'-'9', 'A', 'B', 'C' or 'T' */
  int add;
  char cond;  /* ?S: operand letter, or 0 */
  char mask;  /* %S: operand letter, or 0 */
} Token;

typedef struct {
  Token tok[6];
  int ntok;
  bool skip, noflow, extra, back; /* back: L, a loop back-edge */
} Effects;

static const char *const effect_text[BC__NUM] = {
#define OPCODE(name, fmt, operands, effects) effects,
#include "opcodes.def"
#undef OPCODE
};

static Effects effects[BC__NUM];
static bool effects_ready;

/* The effect strings are part of the source: a malformed one is a bug in
 * opcodes.def, found by the unit tests on the first verification. */
static bool parse_effects(void) {
  for (int op = 0; op < BC__NUM; op++) {
    Effects *e = &effects[op];
    memset(e, 0, sizeof *e);
    const char *s = effect_text[op];
    while (*s) {
      if (*s == ' ') {
        s++;
        continue;
      }
      if (*s == 'S' || *s == 'X' || *s == 'E' || *s == 'L') {
        if (*s == 'S') e->skip = true;
        else if (*s == 'X') e->noflow = true;
        else if (*s == 'L') e->back = true;
        else e->extra = true;
        s++;
        continue;
      }
      if (!strchr("rwmjfk", *s) || e->ntok == 6) return false;
      Token *t = &e->tok[e->ntok++];
      memset(t, 0, sizeof *t);
      t->kind = *s++;
      if (!strchr("ABC", *s) || !*s) return false;
      t->slot = *s++;
      if (*s == '+') t->off = s[1] - '0', s += 2;
      if (*s == '*') {
        t->count = s[1];
        s += 2;
        if (*s == '+') t->add = s[1] - '0', s += 2;
      }
      if (*s == '?') t->cond = s[1], s += 2;
      if (*s == '%') t->mask = s[1], s += 2;
      if (*s && *s != ' ') return false;
    }
  }
  return true;
}

/* ---- register sets ---- */

typedef struct {
  uint64_t w[4];
} RegSet;

static inline void rs_add(RegSet *s, int r) { s->w[r >> 6] |= (uint64_t)1 << (r & 63); }
static inline bool rs_has(const RegSet *s, int r) { return (s->w[r >> 6] >> (r & 63)) & 1; }
static void rs_clear_from(RegSet *s, int r) {
  for (int i = r; i < 256; i++) s->w[i >> 6] &= ~((uint64_t)1 << (i & 63));
}
static bool rs_meet(RegSet *into, const RegSet *with) {
  bool changed = false;
  for (int i = 0; i < 4; i++) {
    uint64_t n = into->w[i] & with->w[i];
    if (n != into->w[i]) into->w[i] = n, changed = true;
  }
  return changed;
}

/* ---- decoding ---- */

typedef struct {
  RegSet reads, writes, jwrites, fwrites; /* fwrites: fall-through only; jwrites: jump only */
  int clobber;     /* first register a call frame overwrites, or -1 */
  int next;        /* fall-through successor, or -1 */
  int target;      /* jump target, or -1 */
  int skip;        /* the instruction after a skipped JMP, or -1 */
  int nextras;     /* EXTRA operands that follow it */
  bool is_operand; /* an EXTRA read by the instruction before it */
} Decoded;

typedef struct {
  const ObjProto *p;
  VerifyError *err;
} Ctx;

static bool fail(Ctx *x, uint32_t pc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static bool fail(Ctx *x, uint32_t pc, const char *fmt, ...) {
  x->err->pc = pc;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(x->err->msg, sizeof x->err->msg, fmt, ap);
  va_end(ap);
  return false;
}

static uint32_t operand(uint32_t ins, char slot) {
  switch (slot) {
  case 'A': return INS_A(ins);
  case 'B': return INS_B(ins);
  default: return INS_C(ins);
  }
}

/* The constant an 8-bit K operand names, taking the EXTRA after pc when it
 * is 255. *extras counts the EXTRAs consumed so far. */
static bool const_operand(Ctx *x, uint32_t pc, uint32_t val, bool minus_one, int *extras, uint32_t *idx) {
  const ObjProto *p = x->p;
  if (val == K_EXTRA) {
    uint32_t at = pc + 1 + (uint32_t)*extras;
    if (at >= p->ncode || INS_OP(p->code[at]) != BC_EXTRA)
      return fail(x, pc, "constant operand 255 is not followed by an EXTRA");
    (*extras)++;
    *idx = INS_Ax(p->code[at]);
  } else {
    *idx = minus_one ? val - 1 : val;
  }
  if (*idx >= p->nk) return fail(x, pc, "constant K%u out of range (%u constants)", *idx, p->nk);
  return true;
}

static bool decode(Ctx *x, uint32_t pc, Decoded *d, const ObjModule *mod) {
  const ObjProto *p = x->p;
  uint32_t ins = p->code[pc];
  OpCode op = INS_OP(ins);
  memset(d, 0, sizeof *d);
  d->clobber = d->next = d->target = d->skip = -1;
  if (op >= BC__NUM) return fail(x, pc, "unknown opcode %u", (unsigned)op);
  if (op == BC_EXTRA) return fail(x, pc, "EXTRA where an instruction is expected");
  const char *letters = bc_opcode_operands[op];
  OpFormat fmt = bc_opcode_formats[op];
  uint32_t vals[3] = {INS_A(ins), INS_B(ins), INS_C(ins)};
  if (fmt == FMT_ABx || fmt == FMT_AsBx) vals[1] = INS_Bx(ins), vals[2] = 0;
  if (fmt == FMT_Ax) vals[0] = INS_Ax(ins);
  int extras = 0;
  uint32_t tuple_len = 0;
  bool have_tuple = false;
  for (int j = 0; j < 3 && letters[j]; j++) {
    uint32_t v = vals[j], idx;
    switch (letters[j]) {
    case 'K':
      if (fmt == FMT_ABC) {
        if (!const_operand(x, pc, v, false, &extras, &idx)) return false;
      } else {
        idx = v;
        if (idx >= p->nk) return fail(x, pc, "constant K%u out of range (%u constants)", idx, p->nk);
      }
      if (IS_TUPLE(p->k[idx])) tuple_len = AS_TUPLE(p->k[idx])->len, have_tuple = true;
      break;
    case 'k':
      if (v != 0 && !const_operand(x, pc, v, true, &extras, &idx)) return false;
      break;
    case 'U':
      if (v >= p->nupvals) return fail(x, pc, "upvalue u%u out of range (%u upvalues)", v, p->nupvals);
      break;
    case 'G':
      if (mod && v >= mod->nglobals) return fail(x, pc, "global g%u out of range (%u globals)", v, mod->nglobals);
      break;
    case 'P': {
      if (v >= p->nprotos) return fail(x, pc, "child function P%u out of range (%u)", v, p->nprotos);
      const ObjProto *child = p->protos[v];
      for (int u = 0; u < child->nupvals; u++) {
        const UpvalDesc *ud = &child->upvals[u];
        if (ud->in_stack ? ud->index >= p->maxregs : ud->index >= p->nupvals)
          return fail(x, pc, "closure captures %s%u, out of range", ud->in_stack ? "r" : "u", ud->index);
      }
      break;
    }
    case 'J': {
      int64_t t = (int64_t)pc + 1 + INS_sBx(ins);
      if (t < 0 || t >= (int64_t)p->ncode) return fail(x, pc, "jump to %lld, outside the code (0..%u)", (long long)t, p->ncode);
      /* Only back-edges (L) pass a safe point: a backward jump of any
       * other opcode would make a loop the collector and the instruction
       * budget never see. */
      if (effects[op].back != (t <= (int64_t)pc))
        return fail(x, pc, "%s jumps %s to %lld", bc_opcode_names[op], t <= (int64_t)pc ? "backwards" : "forwards",
                    (long long)t);
      d->target = (int)t;
      break;
    }
    default: break;
    }
  }
  const Effects *e = &effects[op];
  if (e->extra) {
    uint32_t at = pc + 1 + (uint32_t)extras;
    if (at >= p->ncode || INS_OP(p->code[at]) != BC_EXTRA) return fail(x, pc, "%s is not followed by its EXTRA", bc_opcode_names[op]);
    if (INS_Ax(p->code[at]) >= p->nk) return fail(x, pc, "constant K%u out of range (%u constants)", INS_Ax(p->code[at]), p->nk);
    extras++;
  }
  for (int t = 0; t < e->ntok; t++) {
    const Token *k = &e->tok[t];
    if (k->cond && operand(ins, k->cond) == 0) continue;
    int first = (int)operand(ins, k->slot) + k->off, n = 1;
    if (k->count == 'T') {
      if (!have_tuple) return fail(x, pc, "%s needs a tuple constant", bc_opcode_names[op]);
      n = (int)tuple_len;
    } else if (k->count >= '0' && k->count <= '9') {
      n = k->count - '0';
    } else if (k->count) {
      n = (int)operand(ins, k->count);
    }
    n += k->add;
    if (k->kind == 'k') {
      if (first > p->maxregs) return fail(x, pc, "call frame at r%d, beyond the %u registers", first, p->maxregs);
      d->clobber = first;
      continue;
    }
    for (int i = 0; i < n; i++) {
      if (k->mask && !((operand(ins, k->mask) >> (i + 1)) & 1)) continue;
      int r = first + i;
      if (r >= p->maxregs) return fail(x, pc, "register r%d out of range (%u registers)", r, p->maxregs);
      switch (k->kind) {
      case 'r': rs_add(&d->reads, r); break;
      case 'w': rs_add(&d->writes, r); break;
      case 'm': rs_add(&d->reads, r), rs_add(&d->writes, r); break;
      case 'j': rs_add(&d->jwrites, r); break;
      default: rs_add(&d->fwrites, r); break;
      }
    }
  }
  d->nextras = extras;
  int next = (int)pc + 1 + extras;
  if (e->skip) {
    if (next >= (int)p->ncode || INS_OP(p->code[next]) != BC_JMP)
      return fail(x, pc, "%s may skip the next instruction, which is not a JMP", bc_opcode_names[op]);
    if (next + 1 >= (int)p->ncode) return fail(x, pc, "skipping the JMP runs past the end of the code");
    d->skip = next + 1;
  }
  if (!e->noflow) {
    if (next >= (int)p->ncode) return fail(x, pc, "execution runs past the end of the code");
    d->next = next;
  }
  if (op == BC_JMP || op == BC_ITERPREP) d->next = -1; /* unconditional: only the target follows */
  return true;
}

/* ---- the checks ---- */

/* Is pc inside the code of an assignment to register reg? */
static bool assigned_at(const VerifyLocal *locals, int nlocals, uint8_t reg, uint32_t pc) {
  for (int i = 0; i < nlocals; i++)
    if (locals[i].assigns && locals[i].reg == reg && pc >= locals[i].startpc && pc < locals[i].endpc) return true;
  return false;
}

static bool check_locals(Ctx *x, const Decoded *d, const VerifyLocal *locals, int nlocals) {
  const ObjProto *p = x->p;
  for (int i = 0; i < nlocals; i++) {
    const VerifyLocal *l = &locals[i];
    if (!l->name || l->assigns) continue;
    uint32_t end = l->endpc < p->ncode ? l->endpc : p->ncode;
    for (uint32_t pc = l->startpc; pc < end; pc++) {
      const Decoded *di = &d[pc];
      if (di->is_operand) continue;
      if (di->clobber >= 0 && di->clobber <= l->reg)
        return fail(x, pc, "the call frame at r%d overwrites r%u, the register of the live local `%s`",
                    di->clobber, l->reg, l->name);
      if (!(rs_has(&di->writes, l->reg) || rs_has(&di->jwrites, l->reg) || rs_has(&di->fwrites, l->reg))) continue;
      if (!l->is_mut)
        return fail(x, pc, "overwrites r%u, the register of the immutable local `%s` (live at pc %u..%u)", l->reg,
                    l->name, l->startpc, end);
      if (!assigned_at(locals, nlocals, l->reg, pc))
        return fail(x, pc, "overwrites r%u, the register of the local `%s` (live at pc %u..%u), outside an assignment to it",
                    l->reg, l->name, l->startpc, end);
    }
  }
  return true;
}

static void propagate(RegSet *in, bool *seen, int *work, int *nwork, int to, const RegSet *state) {
  if (to < 0) return;
  if (!seen[to]) {
    seen[to] = true;
    in[to] = *state;
    work[(*nwork)++] = to;
  } else if (rs_meet(&in[to], state)) {
    work[(*nwork)++] = to;
  }
}

bool verify_proto(const ObjProto *p, const VerifyLocal *locals, int nlocals, VerifyError *err) {
  Ctx x = {p, err};
  if (!effects_ready) {
    if (!parse_effects()) return fail(&x, 0, "opcodes.def has a malformed effect column");
    effects_ready = true;
  }
  if (p->ncode == 0) return fail(&x, 0, "the function has no code");
  if (p->nparams > p->maxregs) return fail(&x, 0, "%u parameters but %u registers", p->nparams, p->maxregs);
  Decoded *d = calloc(p->ncode, sizeof *d);
  RegSet *in = calloc(p->ncode, sizeof *in);
  bool *seen = calloc(p->ncode, sizeof *seen);
  /* the work list (a stack) grows when states keep shrinking */
  int *work = malloc(sizeof(int) * ((size_t)p->ncode * 3 + 1));
  bool ok = d && in && seen && work;
  if (!ok) fail(&x, 0, "out of memory");

  /* decode in code order, marking the EXTRAs that are operands */
  for (uint32_t pc = 0; ok && pc < p->ncode; pc++) {
    if (d[pc].is_operand) continue;
    ok = decode(&x, pc, &d[pc], p->module);
    if (!ok) break;
    for (int q = 1; q <= d[pc].nextras; q++) d[pc + q].is_operand = true;
  }
  for (uint32_t pc = 0; ok && pc < p->ncode; pc++) {
    const Decoded *di = &d[pc];
    if (di->is_operand) continue;
    int succ[3] = {di->next, di->target, di->skip};
    for (int s = 0; s < 3; s++)
      if (succ[s] >= 0 && d[succ[s]].is_operand) {
        ok = fail(&x, pc, "control reaches pc %d, an EXTRA operand", succ[s]);
        break;
      }
  }

  /* registers written on every path: a forward fixpoint */
  if (ok) {
    int nwork = 0;
    RegSet entry = {{0, 0, 0, 0}};
    for (int r = 0; r < p->nparams; r++) rs_add(&entry, r);
    propagate(in, seen, work, &nwork, 0, &entry);
    size_t cap = (size_t)p->ncode * 3 + 1;
    while (nwork > 0) {
      int pc = work[--nwork];
      const Decoded *di = &d[pc];
      RegSet out = in[pc];
      if (di->clobber >= 0) rs_clear_from(&out, di->clobber);
      for (int i = 0; i < 4; i++) out.w[i] |= di->writes.w[i];
      RegSet fall = out, jump = out;
      for (int i = 0; i < 4; i++) fall.w[i] |= di->fwrites.w[i], jump.w[i] |= di->jwrites.w[i];
      if ((size_t)nwork + 3 > cap) {
        cap *= 2;
        int *grown = realloc(work, sizeof(int) * cap);
        if (!grown) {
          ok = fail(&x, (uint32_t)pc, "out of memory");
          break;
        }
        work = grown;
      }
      propagate(in, seen, work, &nwork, di->next, &fall);
      propagate(in, seen, work, &nwork, di->skip, &fall);
      propagate(in, seen, work, &nwork, di->target, &jump);
    }
  }
  for (uint32_t pc = 0; ok && pc < p->ncode; pc++) {
    if (!seen[pc]) continue;
    for (int r = 0; r < p->maxregs; r++)
      if (rs_has(&d[pc].reads, r) && !rs_has(&in[pc], r)) {
        ok = fail(&x, pc, "reads r%d, which is not written on every path to it", r);
        break;
      }
  }
  if (ok) ok = check_locals(&x, d, locals, nlocals);
  free(d);
  free(in);
  free(seen);
  free(work);
  return ok;
}

/* ---- when to verify ---- */

bool verify_enabled(void) {
#ifndef NDEBUG
  return true;
#else
  static int env = -1;
  if (env < 0) {
    const char *v = getenv("NS_VERIFY");
    env = v && v[0] && strcmp(v, "0") != 0;
  }
  return env;
#endif
}
