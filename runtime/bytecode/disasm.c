/* The disassembler: one line per instruction, grouped under the source line
 * it came from.
 *
 *   function fib (1 param, 6 registers, 2 constants, 0 upvalues) fib.ns
 *   ; 2: if n < 2 { return n }
 *      0     2  LOADI      r1 2
 *      1     2  JLT        r0 r1 0
 *      2     2  JMP        -> 4
 *
 * Operands are decoded by the letters of opcodes.def: registers r3,
 * upvalues u1, globals g2(name), constants in their debug form, child
 * protos <fn name>, jumps as absolute targets. Constants are printed here
 * without the VM (no allocation), so a listing never changes the heap. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "bytecode.h"

static void print_string(FILE *out, const char *s, uint32_t len, char quote) {
  fputc(quote, out);
  for (uint32_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    switch (c) {
    case '\n': fputs("\\n", out); break;
    case '\t': fputs("\\t", out); break;
    case '\r': fputs("\\r", out); break;
    case '\\': fputs("\\\\", out); break;
    default:
      if (c == (unsigned char)quote)
        fprintf(out, "\\%c", quote);
      else if (c < 0x20 || c == 0x7f)
        fprintf(out, "\\u{%x}", c);
      else
        fputc(c, out);
    }
  }
  fputc(quote, out);
}

/* Shortest text that reads back as the same double, with a decimal point. */
static void print_float(FILE *out, double d) {
  if (isnan(d)) {
    fputs("NaN", out);
    return;
  }
  if (isinf(d)) {
    fputs(d < 0 ? "-inf" : "inf", out);
    return;
  }
  char buf[40];
  for (int prec = 1; prec <= 17; prec++) {
    snprintf(buf, sizeof buf, "%.*g", prec, d);
    if (strtod(buf, NULL) == d) break;
  }
  fputs(buf, out);
  if (!strpbrk(buf, ".e")) fputs(".0", out);
}

static void print_utf8_char(FILE *out, int64_t cp) {
  char b[4];
  int n;
  if (cp < 0x80) {
    b[0] = (char)cp;
    n = 1;
  } else if (cp < 0x800) {
    b[0] = (char)(0xC0 | (cp >> 6));
    b[1] = (char)(0x80 | (cp & 0x3F));
    n = 2;
  } else if (cp < 0x10000) {
    b[0] = (char)(0xE0 | (cp >> 12));
    b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    b[2] = (char)(0x80 | (cp & 0x3F));
    n = 3;
  } else {
    b[0] = (char)(0xF0 | (cp >> 18));
    b[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    b[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    b[3] = (char)(0x80 | (cp & 0x3F));
    n = 4;
  }
  print_string(out, b, (uint32_t)n, '\'');
}

static void print_constant(FILE *out, Value v) {
  switch (v.type) {
  case VAL_UNDEF: fputs("<undef>", out); return;
  case VAL_UNIT: fputs("()", out); return;
  case VAL_BOOL: fputs(v.as.b ? "true" : "false", out); return;
  case VAL_INT: fprintf(out, "%lld", (long long)v.as.i); return;
  case VAL_FLOAT: print_float(out, v.as.f); return;
  case VAL_CHAR: print_utf8_char(out, v.as.i); return;
  case VAL_OBJ: break;
  }
  switch (OBJ_TYPE(v)) {
  case OBJ_STRING: print_string(out, AS_STRING(v)->chars, AS_STRING(v)->len, '"'); return;
  case OBJ_TUPLE: {
    ObjTuple *t = AS_TUPLE(v);
    fputc('(', out);
    for (uint32_t i = 0; i < t->len; i++) {
      if (i) fputs(", ", out);
      print_constant(out, t->items[i]);
    }
    fputs(t->len == 1 ? ",)" : ")", out);
    return;
  }
  case OBJ_LIST: {
    /* LISTK's literal: the first items and the count of the rest */
    ObjList *l = AS_LIST(v);
    fputc('[', out);
    for (uint32_t i = 0; i < l->len && i < 8; i++) {
      if (i) fputs(", ", out);
      print_constant(out, l->items[i]);
    }
    if (l->len > 8) fprintf(out, ", ... %u more", l->len - 8);
    fputc(']', out);
    return;
  }
  case OBJ_TYPESPEC:
    fprintf(out, "<type %s>", AS_TYPESPEC(v)->text ? AS_TYPESPEC(v)->text->chars : "?");
    return;
  case OBJ_PROTO:
    fprintf(out, "<fn %s>", AS_PROTO(v)->name ? AS_PROTO(v)->name->chars : "?");
    return;
  case OBJ_COMPLEX: {
    ObjComplex *c = AS_COMPLEX(v);
    print_float(out, c->re);
    fputs(c->im < 0 ? "-" : "+", out);
    print_float(out, fabs(c->im));
    fputc('i', out);
    return;
  }
  case OBJ_CLASS: fprintf(out, "<%s>", AS_CLASS(v)->name ? AS_CLASS(v)->name->chars : "?"); return;
  default: fprintf(out, "<%s>", value_type_name(v)); return;
  }
}

static void print_k(FILE *out, const ObjProto *p, uint32_t idx) {
  if (idx < p->nk)
    print_constant(out, p->k[idx]);
  else
    fprintf(out, "K%u?", idx);
}

/* One operand shown by its letter. `next` is the instruction after, for
 * constants spilled into an EXTRA. Returns true if it consumed that EXTRA. */
static bool print_operand(FILE *out, const ObjProto *p, OpCode op, char letter, uint32_t val,
                          uint32_t pc, uint32_t next, bool has_next) {
  switch (letter) {
  case 'R': fprintf(out, "r%u", val); return false;
  case 'U': fprintf(out, "u%u", val); return false;
  case 'G':
    if (p->module && val < p->module->nglobals)
      fprintf(out, "g%u(%s)", val, p->module->names[val]->chars);
    else
      fprintf(out, "g%u", val);
    return false;
  case 'P':
    if (val < p->nprotos && p->protos[val]->name)
      fprintf(out, "<fn %s>", p->protos[val]->name->chars);
    else
      fprintf(out, "P%u", val);
    return false;
  case 'J': fprintf(out, "-> %d", (int)pc + 1 + (int)val - 32767); return false;
  case 'k':
    /* x != 0 names K[x-1] (CALL: the tuple of argument names). */
    if (val == 0)
      fputc('-', out);
    else if (val == K_EXTRA && has_next && INS_OP(next) == BC_EXTRA) {
      print_k(out, p, INS_Ax(next));
      return true;
    } else
      print_k(out, p, val - 1);
    return false;
  case 'K':
    if (val == K_EXTRA && bc_opcode_formats[op] == FMT_ABC && has_next &&
        INS_OP(next) == BC_EXTRA) {
      print_k(out, p, INS_Ax(next));
      return true;
    }
    print_k(out, p, val);
    return false;
  case 'I':
    if (bc_opcode_formats[op] == FMT_AsBx)
      fprintf(out, "%d", (int)val - 32767);
    else
      fprintf(out, "%u", val);
    return false;
  default: fprintf(out, "%u", val); return false;
  }
}

static void disasm_one(FILE *out, ObjProto *p) {
  fprintf(out, "function %s (%u param%s, %u register%s, %u constant%s, %u upvalue%s)%s%s\n",
          p->name ? p->name->chars : "?", p->nparams, p->nparams == 1 ? "" : "s", p->maxregs,
          p->maxregs == 1 ? "" : "s", p->nk, p->nk == 1 ? "" : "s", p->nupvals,
          p->nupvals == 1 ? "" : "s", p->src ? " " : "", p->src ? p->src->path : "");
  int last_line = -1;
  uint32_t skip_extra = UINT32_MAX; /* index of an EXTRA already shown with its instruction */
  for (uint32_t pc = 0; pc < p->ncode; pc++) {
    uint32_t ins = p->code[pc];
    OpCode op = INS_OP(ins);
    int line = 0, col = 0;
    if (p->src) source_position(p->src, p->offsets[pc], &line, &col);
    if (p->src && line != last_line) {
      size_t len;
      const char *text = source_line(p->src, line, &len);
      if (text) {
        while (len > 0 && (*text == ' ' || *text == '\t')) text++, len--;
        fprintf(out, "; %d: %.*s\n", line, (int)len, text);
      }
      last_line = line;
    }
    if (op >= BC__NUM) {
      fprintf(out, "%5u %5d  <bad opcode %u>\n", pc, line, (unsigned)op);
      continue;
    }
    fprintf(out, "%5u %5d  %-10s", pc, line, bc_opcode_names[op]);
    if (pc == skip_extra) {
      fputs(" (operand above)\n", out);
      continue;
    }
    const char *letters = bc_opcode_operands[op];
    uint32_t vals[3];
    switch (bc_opcode_formats[op]) {
    case FMT_ABC:
      vals[0] = INS_A(ins);
      vals[1] = INS_B(ins);
      vals[2] = INS_C(ins);
      break;
    case FMT_ABx:
    case FMT_AsBx:
      vals[0] = INS_A(ins);
      vals[1] = INS_Bx(ins);
      vals[2] = 0;
      break;
    case FMT_Ax:
      vals[0] = INS_Ax(ins);
      vals[1] = vals[2] = 0;
      break;
    }
    bool has_next = pc + 1 < p->ncode;
    uint32_t next = has_next ? p->code[pc + 1] : 0;
    for (int j = 0; letters[j] && j < 3; j++) {
      if (letters[j] == '-') continue;
      fputc(' ', out);
      if (print_operand(out, p, op, letters[j], vals[j], pc, next, has_next)) skip_extra = pc + 1;
    }
    if (op == BC_INVOKEKW) {
      /* The names tuple is in the EXTRA after (after the name's EXTRA if any). */
      uint32_t at = skip_extra == pc + 1 ? pc + 2 : pc + 1;
      if (at < p->ncode && INS_OP(p->code[at]) == BC_EXTRA) {
        fputs(" names ", out);
        print_k(out, p, INS_Ax(p->code[at]));
      }
    }
    fputc('\n', out);
  }
}

void bc_disasm_proto(FILE *out, ObjProto *p, bool recursive) {
  disasm_one(out, p);
  if (!recursive) return;
  for (uint32_t i = 0; i < p->nprotos; i++) {
    fputc('\n', out);
    bc_disasm_proto(out, p->protos[i], true);
  }
}
