/* Include after expanding tensor_scalar.def: forgets every primitive a
 * reader defined for it (an #undef of a name not defined is harmless), so
 * the next expansion, or the rest of the file, starts clean. No include
 * guard: it is meant to be included once per expansion. */
#undef ELEM
#undef X0
#undef X1
#undef X2
#undef A0
#undef A1
#undef S_K
#undef S_ADD
#undef S_SUB
#undef S_MUL
#undef S_DIV
#undef S_NEG
#undef S_POW
#undef S_MAX
#undef S_MIN
#undef S_ABS
#undef S_EXP
#undef S_LOG
#undef S_SQRT
#undef S_SIN
#undef S_COS
#undef S_TANH
#undef S_EQ
#undef S_NE
#undef S_LT
#undef S_LE
#undef S_GT
#undef S_GE
#undef S_SELECT
#undef S_CONVERT
