/* Quantity values in the language: the `quantity` class and the operators
 * on quantities (the rules are core's units.h). */
#ifndef NS_LIB_UNITS_H
#define NS_LIB_UNITS_H

#include "units.h"
#include "vm.h"

bool lib_units_binary(VM *vm, ArithOp op, Value a, Value b, Value *out);
bool lib_units_unary(VM *vm, ArithOp op, Value a, Value *out);
bool lib_units_compare(VM *vm, ArithOp op, Value a, Value b, bool *out);
/* q.value and q.unit; false if name is neither. */
bool lib_units_get_field(VM *vm, Value q, ObjString *name, Value *out);
void lib_units_init(VM *vm);

#endif
