/* The runtime's operators: what arith_binary / arith_unary / arith_compare,
 * the quantity rules (units.h), the scalar rules (numeric.h) and the tensor
 * natives are asked to apply, and the C operand of the UNOP instruction.
 *
 * The compiler maps its parser's operator kinds onto these in one place
 * (c_arith_op in compiler/codegen), so nothing under runtime/ sees parser
 * types. The header sits in core, beside values, because the core modules
 * numeric and units take an ArithOp and core is below bytecode and the VM.
 *
 * Each row: name, spelling in error messages. */
#ifndef NS_ARITH_OP_H
#define NS_ARITH_OP_H

#define NS_ARITH_OPS(X)                                                        \
  X(NONE, "") /* no operator: a plain copy (tensor `copy_`, `fill_`) */        \
  /* binary */                                                                 \
  X(ADD, "+") X(SUB, "-") X(MUL, "*") X(DIV, "/") X(MOD, "%") X(POW, "**")     \
  X(MATMUL, "⊙") X(OUTER, "⊗") X(DOT, "⋅")                                     \
  X(BITAND, "&") X(BITOR, "|") X(SHL, "<<") X(SHR, ">>")                       \
  X(EQ, "==") X(NE, "!=") X(LT, "<") X(GT, ">") X(LE, "<=") X(GE, ">=")        \
  X(APPROX, "≈") X(IN, "∈")                                                    \
  /* unary */                                                                  \
  X(NEG, "-") X(NOT, "!") X(SQRT, "√") X(CBRT, "∛") X(GRAD, "∇")               \
  X(PARTIAL, "∂") X(SUM, "∑") X(PROD, "∏") X(ABS, "|x|")

typedef enum {
#define X(name, text) AOP_##name,
  NS_ARITH_OPS(X)
#undef X
  AOP__COUNT
} ArithOp;

/* The spelling of op for messages ("?" out of range). */
static inline const char *arith_op_name(int op) {
  static const char *const names[AOP__COUNT] = {
#define X(name, text) text,
    NS_ARITH_OPS(X)
#undef X
  };
  return op >= 0 && op < AOP__COUNT ? names[op] : "?";
}

#endif
