/* The quantity class (`.to`, `.value_in`, `.si`, `.value`, `.unit`) and
 * the operators on quantity values: the unit rules of core/units.c applied
 * to values, with their errors raised in the VM. */
#include "lib_units.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "builtins.h"
#include "numeric.h"
#include "units.h"

bool lib_units_binary(VM *vm, ArithOp op, Value a, Value b, Value *out) {
  Qty x, y, r;
  char err[160];
  if (!units_from_value(a, &x) || !units_from_value(b, &y)) {
    if (op == AOP_EQ || op == AOP_NE) {
      *out = BOOL_VAL((op == AOP_NE) != value_equal(a, b));
      return true;
    }
    return vm_error(vm, "cannot apply `%s` to %s and %s", arith_op_name(op),
                    IS_QUANTITY(a) ? AS_QUANTITY(a)->unit : value_type_name(a),
                    IS_QUANTITY(b) ? AS_QUANTITY(b)->unit : value_type_name(b));
  }
  if (!units_apply(op, &x, &y, &r, err, sizeof err)) return vm_error(vm, "%s", err);
  switch (op) {
  case AOP_LT: case AOP_LE: case AOP_GT: case AOP_GE: case AOP_APPROX: case AOP_EQ: case AOP_NE:
    *out = BOOL_VAL(r.value != 0);
    return true;
  default: *out = units_value(vm, &r); return true;
  }
}

bool lib_units_compare(VM *vm, ArithOp op, Value a, Value b, bool *out) {
  Value r;
  if (!lib_units_binary(vm, op, a, b, &r)) return false;
  *out = r.as.b;
  return true;
}

bool lib_units_unary(VM *vm, ArithOp op, Value a, Value *out) {
  Qty q;
  units_from_value(a, &q);
  switch (op) {
  case AOP_NEG:
    q.value = -q.value;
    q.im = -q.im;
    break;
  case AOP_ABS: /* the modulus of a complex quantity */
    q.value = q.cplx ? hypot(q.value, q.im) : fabs(q.value);
    q.im = 0;
    q.cplx = false;
    break;
  case AOP_SQRT:
  case AOP_CBRT: {
    int k = op == AOP_SQRT ? 2 : 3;
    if (q.cplx) return vm_error(vm, "cannot take `%s` of a complex quantity", arith_op_name(op));
    for (int i = 0; i < UNIT_NDIMS; i++) {
      if (q.dim[i] % k)
        return vm_error(vm, "cannot take `%s` of %s: its dimensions are not a %s", arith_op_name(op), q.unit,
                        k == 2 ? "square" : "cube");
      q.dim[i] = (int8_t)(q.dim[i] / k);
    }
    if (k == 2 && q.value < 0) return vm_error(vm, "√ of a negative quantity");
    q.value = k == 2 ? sqrt(q.value) : num_cbrt(q.value);
    units_canonical(&q);
    break;
  }
  default: return vm_error(vm, "cannot apply `%s` to %s", arith_op_name(op), q.unit);
  }
  *out = units_value(vm, &q);
  return true;
}

bool lib_units_get_field(VM *vm, Value v, ObjString *name, Value *out) {
  ObjQuantity *q = AS_QUANTITY(v);
  if (!strcmp(name->chars, "value")) {
    *out = q->cplx ? OBJ_VAL(complex_new(vm, q->value, q->im)) : FLOAT_VAL(q->value);
    return true;
  }
  if (!strcmp(name->chars, "re") || !strcmp(name->chars, "im")) {
    Qty part;
    units_from_value(v, &part);
    if (name->chars[0] == 'i') part.value = part.im;
    part.im = 0;
    part.cplx = false;
    *out = OBJ_VAL(quantity_new(vm, &part));
    return true;
  }
  if (!strcmp(name->chars, "unit")) {
    *out = OBJ_VAL(str_cstr(vm, q->unit));
    return true;
  }
  return false;
}

/* The target of .to / .value_in, checked against the receiver. */
static bool target_unit(VM *vm, Value self, Value arg, const char *who, Qty *out) {
  ObjString *s;
  if (!lib_str_arg(vm, arg, who, &s)) return false;
  char err[160];
  if (!units_literal(1.0, s->chars, out, err, sizeof err)) return vm_error(vm, "%s", err);
  ObjQuantity *q = AS_QUANTITY(self);
  if (memcmp(q->dim, out->dim, UNIT_NDIMS))
    return vm_error(vm, "cannot convert %s to %s", q->unit, s->chars);
  out->value = q->value;
  out->im = q->im;
  out->cplx = q->cplx;
  return true;
}

static bool q_to(VM *vm, Value *args, int argc, Value *out) {
  (void)argc;
  Qty t;
  if (!target_unit(vm, args[0], args[1], "to", &t)) return false;
  *out = OBJ_VAL(quantity_new(vm, &t));
  return true;
}

static bool q_value_in(VM *vm, Value *args, int argc, Value *out) {
  (void)argc;
  Qty t;
  if (!target_unit(vm, args[0], args[1], "value_in", &t)) return false;
  *out = t.cplx ? OBJ_VAL(complex_new(vm, t.value / t.scale, t.im / t.scale)) : FLOAT_VAL(t.value / t.scale);
  return true;
}

static bool q_si(VM *vm, Value *args, int argc, Value *out) {
  (void)argc;
  Qty t;
  units_from_value(args[0], &t);
  units_canonical(&t);
  *out = OBJ_VAL(quantity_new(vm, &t));
  return true;
}

static bool q_abs(VM *vm, Value *args, int argc, Value *out) {
  (void)argc;
  return lib_units_unary(vm, AOP_ABS, args[0], out);
}

static bool q_sqrt(VM *vm, Value *args, int argc, Value *out) {
  (void)argc;
  return lib_units_unary(vm, AOP_SQRT, args[0], out);
}

/* floor, ceil, round, trunc: of the number in the display unit, which
 * stays (2.7_km.floor() is 2.0 km). */
static bool q_rounding(VM *vm, Value *args, double (*f)(double), Value *out) {
  Qty q;
  units_from_value(args[0], &q);
  q.value = f(q.value / q.scale) * q.scale;
  q.im = f(q.im / q.scale) * q.scale;
  *out = units_value(vm, &q);
  return true;
}

static bool q_floor(VM *vm, Value *args, int argc, Value *out) {
  (void)argc;
  return q_rounding(vm, args, floor, out);
}

static bool q_ceil(VM *vm, Value *args, int argc, Value *out) {
  (void)argc;
  return q_rounding(vm, args, ceil, out);
}

static bool q_round(VM *vm, Value *args, int argc, Value *out) {
  (void)argc;
  return q_rounding(vm, args, round, out);
}

static bool q_trunc(VM *vm, Value *args, int argc, Value *out) {
  (void)argc;
  return q_rounding(vm, args, trunc, out);
}

void lib_units_init(VM *vm) {
  ObjClass *cls = lib_class(vm, "quantity");
  vm->class_of_obj[OBJ_QUANTITY] = cls;
  lib_add_common(vm, cls);
  lib_method(vm, cls, "to", q_to, 2, 2);
  lib_method(vm, cls, "value_in", q_value_in, 2, 2);
  lib_method(vm, cls, "si", q_si, 1, 1);
  lib_method(vm, cls, "abs", q_abs, 1, 1);
  lib_method(vm, cls, "magnitude", q_abs, 1, 1);
  lib_method(vm, cls, "sqrt", q_sqrt, 1, 1);
  lib_method(vm, cls, "floor", q_floor, 1, 1);
  lib_method(vm, cls, "ceil", q_ceil, 1, 1);
  lib_method(vm, cls, "round", q_round, 1, 1);
  lib_method(vm, cls, "trunc", q_trunc, 1, 1);
}
