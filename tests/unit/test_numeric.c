/* The scalar rules of numeric.h on their edge values, independent of any
 * interpreter: int ** (0 ** 0, (-2) ** 63, 2 ** 63 and (-2) ** 64
 * overflowing, negative exponents giving floats), / and % at INT64_MIN and
 * by zero, shift counts, float % signs, exact int/float ordering, ∛ on
 * perfect cubes and ≈ (absolute floor, relative tolerance, infinities,
 * NaN). A compiled tier calling the same functions is checked by these;
 * one with its own code should agree with them. */
#include <float.h>
#include <math.h>
#include <stdio.h>

#include "arith_op.h"
#include "numeric.h"

static int failures;

#define CHECK(cond)                                                                                \
  do {                                                                                             \
    if (cond) {                                                                                    \
      printf("ok   %s\n", #cond);                                                                  \
    } else {                                                                                       \
      printf("FAIL %s (line %d)\n", #cond, __LINE__);                                              \
      failures++;                                                                                  \
    }                                                                                              \
  } while (0)

static NumStatus pw(int64_t b, int64_t e, int64_t *r) { return num_int_pow(b, e, r); }

int main(void) {
  int64_t r = 0;

  /* ---- ** on ints ---- */
  CHECK(pw(0, 0, &r) == NUM_OK && r == 1);
  CHECK(pw(0, 5, &r) == NUM_OK && r == 0);
  CHECK(pw(1, INT64_MAX, &r) == NUM_OK && r == 1);
  CHECK(pw(-1, INT64_MAX, &r) == NUM_OK && r == -1);
  CHECK(pw(-1, INT64_MAX - 1, &r) == NUM_OK && r == 1);
  CHECK(pw(2, 62, &r) == NUM_OK && r == INT64_C(4611686018427387904));
  CHECK(pw(2, 63, &r) == NUM_OVERFLOW);
  CHECK(pw(-2, 63, &r) == NUM_OK && r == INT64_MIN);
  CHECK(pw(-2, 64, &r) == NUM_OVERFLOW);
  CHECK(pw(3, 39, &r) == NUM_OK && r == INT64_C(4052555153018976267));
  CHECK(pw(3, 40, &r) == NUM_OVERFLOW);
  CHECK(pw(INT64_MIN, 1, &r) == NUM_OK && r == INT64_MIN);
  CHECK(pw(INT64_MIN, 2, &r) == NUM_OVERFLOW);
  CHECK(pw(10, 18, &r) == NUM_OK && r == INT64_C(1000000000000000000));
  CHECK(pw(10, 19, &r) == NUM_OVERFLOW);
  /* a negative exponent gives a float */
  CHECK(num_int_pow_neg(2, -1) == 0.5);
  CHECK(num_int_pow_neg(-2, -3) == -0.125);
  CHECK(isinf(num_int_pow_neg(0, -1)) && num_int_pow_neg(0, -1) > 0);

  /* ---- / and % ---- */
  CHECK(num_int_div(INT64_MIN, -1, &r) == NUM_OVERFLOW);
  CHECK(num_int_div(INT64_MIN, 1, &r) == NUM_OK && r == INT64_MIN);
  CHECK(num_int_div(7, 0, &r) == NUM_DIV_ZERO);
  CHECK(num_int_div(-7, 2, &r) == NUM_OK && r == -3);
  CHECK(num_int_div(7, -2, &r) == NUM_OK && r == -3);
  CHECK(num_int_mod(INT64_MIN, -1, &r) == NUM_OK && r == 0);
  CHECK(num_int_mod(7, 0, &r) == NUM_DIV_ZERO);
  CHECK(num_int_mod(-7, 2, &r) == NUM_OK && r == -1);
  CHECK(num_int_mod(7, -2, &r) == NUM_OK && r == 1);
  CHECK(num_int_mod(INT64_MIN, INT64_MAX, &r) == NUM_OK && r == -1);

  /* ---- shifts ---- */
  CHECK(num_int_shl(1, 63, &r) == NUM_OK && r == INT64_MIN);
  CHECK(num_int_shl(3, 63, &r) == NUM_OK && r == INT64_MIN);
  CHECK(num_int_shl(1, 64, &r) == NUM_BAD_SHIFT);
  CHECK(num_int_shl(1, -1, &r) == NUM_BAD_SHIFT);
  CHECK(num_int_shr(INT64_MIN, 63, &r) == NUM_OK && r == -1);
  CHECK(num_int_shr(-1, 64, &r) == NUM_BAD_SHIFT);
  CHECK(num_int_shr(-8, 1, &r) == NUM_OK && r == -4);

  /* ---- floats ---- */
  CHECK(num_float_mod(7.5, -2.0) == 1.5);
  CHECK(num_float_mod(-7.5, 2.0) == -1.5);
  CHECK(isnan(num_float_mod(1.0, 0.0)));
  /* 2**53 + 1 is not a double: compared exactly it is above 2.0**53 */
  CHECK(num_less_exact(9007199254740992.0, (long double)INT64_C(9007199254740993), false));
  /* i64::MAX rounds to 2.0**63 as a double, but is below it */
  CHECK(num_less_exact((long double)INT64_MAX, 9223372036854775808.0, false));
  CHECK(!num_less_exact(9223372036854775808.0, (long double)INT64_MAX, true));
  CHECK(num_cbrt(27.0) == 3.0);
  CHECK(num_cbrt(-8.0) == -2.0);
  CHECK(fabs(num_cbrt(2.0) - 1.2599210498948732) < 1e-15);

  /* ---- ≈ ---- */
  CHECK(num_approx(0.0, 1e-13));        /* the absolute floor */
  CHECK(num_approx(1e-13, 0.0));
  CHECK(!num_approx(0.0, 1e-11));
  CHECK(num_approx(0.1 + 0.2, 0.3));
  CHECK(!num_approx(1.0, 1.001));
  CHECK(num_approx(1e20, 1e20 + 1e10)); /* relative 1e-9 */
  CHECK(!num_approx(1e20, 1e20 * (1 + 1e-8)));
  CHECK(num_approx(INFINITY, INFINITY));
  CHECK(num_approx(-INFINITY, -INFINITY));
  CHECK(!num_approx(INFINITY, -INFINITY));
  CHECK(!num_approx(INFINITY, DBL_MAX));
  CHECK(!num_approx(NAN, NAN));
  CHECK(!num_approx(NAN, 0.0));
  CHECK(!num_approx(0.0, NAN));
  CHECK(num_near(1e-12, 0.0));
  CHECK(!num_near(INFINITY, INFINITY));
  CHECK(!num_near(NAN, 1.0));

  /* ---- operator names for messages ---- */
  CHECK(arith_op_name(AOP_POW)[0] == '*' && arith_op_name(AOP_POW)[1] == '*');
  CHECK(arith_op_name(AOP__COUNT)[0] == '?');
  CHECK(arith_op_name(-1)[0] == '?');

  if (failures) printf("%d failed\n", failures);
  else printf("all numeric checks passed\n");
  return failures ? 1 : 0;
}
