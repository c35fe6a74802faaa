/* Complex arithmetic shared by complex numbers (vm/arith.c) and complex
 * quantities (units.c), so the two give the same bits. */
#ifndef NS_NUM_COMPLEX_H
#define NS_NUM_COMPLEX_H

#include <complex.h>
#include <stdbool.h>
#include <stdint.h>

/* z ** n by repeated squaring for integer exponents (exact for small
 * Gaussian integers: (1+2i)**2 is -3+4i, not -3.0000000000000004+4i). */
static inline double complex num_cpow_int(double complex z, int64_t n) {
  bool neg = n < 0;
  uint64_t e = neg ? -(uint64_t)n : (uint64_t)n;
  double complex r = 1.0;
  while (e) {
    if (e & 1) r *= z;
    e >>= 1;
    if (e) z *= z;
  }
  return neg ? 1.0 / r : r;
}

#endif
