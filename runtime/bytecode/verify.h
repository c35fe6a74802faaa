/* The bytecode verifier: checks a compiled function before it can run.
 *
 * For one proto (not its children) it checks, driven by the operand and
 * effect columns of opcodes.def:
 *   - every operand in range: registers below maxregs, constants below nk,
 *     upvalues, globals, child protos; jump targets inside the code; an
 *     EXTRA where an operand says one follows; skips land on a JMP; the
 *     code cannot run off its end;
 *   - every register read is written first on every path to the read
 *     (definite assignment over the control-flow graph; the parameters are
 *     written on entry; a call clobbers the registers above its base);
 *   - no instruction overwrites the register of a live local that must
 *     keep its value: a named local is written while live only by the
 *     code of an assignment to it (never, if immutable), and no call's
 *     frame starts at or below any live local.
 * The local ranges come from the compiler (VerifyLocal); with none given
 * only the first two groups are checked. */
#ifndef NS_VERIFY_H
#define NS_VERIFY_H

#include <stdbool.h>
#include <stdint.h>

#include "value.h"

/* A local variable's home register and where it is live, or (assigns) the
 * code of an assignment to a mutable local: the only instructions that may
 * write a live local's register. */
typedef struct {
  const char *name;  /* NULL for the compiler's hidden slots */
  uint8_t reg;
  bool is_mut;       /* assignments may write it while live */
  bool assigns;      /* an assignment's code, not a local */
  uint32_t startpc;  /* first instruction after its initialization (of the assignment) */
  uint32_t endpc;    /* first instruction after its scope (after the assignment) */
} VerifyLocal;

typedef struct {
  uint32_t pc;       /* the offending instruction */
  char msg[240];     /* the broken rule, e.g. "reads r4, not written on every path" */
} VerifyError;

/* True if p passes every check; else false with the first problem in err. */
bool verify_proto(const ObjProto *p, const VerifyLocal *locals, int nlocals, VerifyError *err);

/* Whether compiled code is verified: always in builds without NDEBUG,
 * else when NS_VERIFY=1 is in the environment (nsc --verify sets it). */
bool verify_enabled(void);

#endif
