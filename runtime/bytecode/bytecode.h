/* The bytecode: opcodes (one row each in opcodes.def), the instruction
 * encoding, and the per-opcode tables the disassembler and the verifier
 * read. Shared by the compiler that writes bytecode and the VM that runs
 * it; knows nothing of either. */
#ifndef NS_BYTECODE_H
#define NS_BYTECODE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "value.h"

/* Opcodes are BC_<name> (as in LuaJIT); operators are AOP_<name>
 * (arith_op.h), and the parser's operator kinds are the compiler's own. */
typedef enum {
#define OPCODE(name, fmt, operands, effects) BC_##name,
#include "opcodes.def"
#undef OPCODE
  BC__NUM
} OpCode;

typedef enum { FMT_ABC, FMT_ABx, FMT_AsBx, FMT_Ax } OpFormat;
extern const char *const bc_opcode_names[BC__NUM];
extern const OpFormat bc_opcode_formats[BC__NUM];
extern const char *const bc_opcode_operands[BC__NUM];

/* Instruction encoding. */
#define INS_OP(i) ((OpCode)((i)&0xff))
#define INS_A(i) (((i) >> 8) & 0xff)
#define INS_B(i) (((i) >> 16) & 0xff)
#define INS_C(i) (((i) >> 24) & 0xff)
#define INS_Bx(i) ((i) >> 16)
#define INS_sBx(i) ((int32_t)((i) >> 16) - 32767)
#define INS_Ax(i) ((i) >> 8)
#define MAKE_ABC(op, a, b, c) \
  ((uint32_t)(op) | ((uint32_t)(a) << 8) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 24))
#define MAKE_ABx(op, a, bx) ((uint32_t)(op) | ((uint32_t)(a) << 8) | ((uint32_t)(bx) << 16))
#define MAKE_AsBx(op, a, sbx) MAKE_ABx(op, a, (uint32_t)((sbx) + 32767))
#define MAKE_Ax(op, ax) ((uint32_t)(op) | ((uint32_t)(ax) << 8))
#define SBX_MAX 32767
#define SBX_MIN (-32767)
#define K_EXTRA 255 /* an 8-bit constant operand of 255: see the EXTRA that follows */

/* The disassembler (disasm.c): `nsc disasm`, one instruction per line
 * with its source line and decoded operands; recursive: nested protos too. */
void bc_disasm_proto(FILE *out, ObjProto *p, bool recursive);

#endif
