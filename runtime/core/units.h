/* Physical quantities: a value in SI base units, the exponents of the seven
 * SI dimensions, and the unit it is shown in.
 *
 * `3_km` is stored as 3000 (metres) with dim {1,0,0,0,0,0,0} and display
 * unit "km" (scale 1000), so arithmetic never converts and printing divides
 * by the scale. The unit parser and the operator rules work on plain `Qty`
 * records so the compiler can fold literals and report a dimension mismatch
 * before running, with the same messages as the VM. */
#ifndef NS_UNITS_H
#define NS_UNITS_H

#include "arith_op.h"
#include "value.h"

/* m kg s A K mol cd */
#define UNIT_NDIMS 7
#define UNIT_TEXT_MAX 32

typedef struct ObjQuantity {
  Obj obj;
  double value;                /* in SI base units */
  double im;                   /* imaginary part, SI: -1.0i * 1_J⋅s */
  bool cplx;                   /* complex, even when im is 0 */
  double scale;                /* SI value of one display unit */
  int8_t dim[UNIT_NDIMS];
  char unit[UNIT_TEXT_MAX];    /* display unit: "km", "m/s²", "N" */
} ObjQuantity;

#define IS_QUANTITY(v) IS_OBJ_TYPE(v, OBJ_QUANTITY)
#define AS_QUANTITY(v) ((ObjQuantity *)(v).as.o)

/* An operand of a unit rule: a quantity, or a plain number (`number` set,
 * `unit` holds its type name "int"/"float"/"complex"). `cplx` marks a
 * complex one (a complex number or a complex quantity), `im` its
 * imaginary part. */
typedef struct {
  double value, im, scale;
  int8_t dim[UNIT_NDIMS];
  bool number, cplx;
  char unit[UNIT_TEXT_MAX];
} Qty;

/* Parse unit text ("km", "m/s²", "kg⋅m^2/s^2", "J⋅s"): after the first `/`
 * every factor divides. On failure writes a message naming the unknown
 * unit into err and returns false. */
bool units_parse(const char *text, size_t len, double *scale, int8_t dim[UNIT_NDIMS], char *err,
                 size_t errlen);
/* A literal: value written in `unit`. */
bool units_literal(double value, const char *unit, Qty *out, char *err, size_t errlen);
/* The rules of + - * / % ** and comparisons; comparisons set out->value
 * to 1 or 0. False with a message in err. */
bool units_apply(ArithOp op, const Qty *a, const Qty *b, Qty *out, char *err, size_t errlen);
/* Canonical SI text of dimensions: "kg⋅m/s²", or a derived name ("N"). */
void units_dims_text(const int8_t dim[UNIT_NDIMS], char *buf, size_t n);
bool units_dimensionless(const int8_t dim[UNIT_NDIMS]);
/* Dimensions of a unit type name (Meter, Newton, MeterPerSecond). */
bool units_type_dims(const char *name, int8_t dim[UNIT_NDIMS]);

/* Show q in SI base units (or a derived unit): scale 1, canonical text. */
void units_canonical(Qty *q);

/* ---- quantity values ---- */
ObjQuantity *quantity_new(VM *vm, const Qty *q);
/* A Qty as a value: a float (or a complex number) when dimensionless,
 * else a quantity. */
Value units_value(VM *vm, const Qty *q);
/* A quantity or a number as a Qty; false for anything else. */
bool units_from_value(Value v, Qty *q);

#endif
