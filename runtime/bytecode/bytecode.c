/* The per-opcode tables, generated from opcodes.def. */
#include "bytecode.h"

const char *const bc_opcode_names[BC__NUM] = {
#define OPCODE(name, fmt, operands, effects) #name,
#include "opcodes.def"
#undef OPCODE
};

const OpFormat bc_opcode_formats[BC__NUM] = {
#define OPCODE(name, fmt, operands, effects) FMT_##fmt,
#include "opcodes.def"
#undef OPCODE
};

const char *const bc_opcode_operands[BC__NUM] = {
#define OPCODE(name, fmt, operands, effects) operands,
#include "opcodes.def"
#undef OPCODE
};
