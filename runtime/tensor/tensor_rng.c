/* The random number generator behind rand, randn, dropout and shuffling:
 * xoshiro256** (Blackman and Vigna), its 256-bit state filled from the
 * seed by splitmix64. seed(n) resets it; the default seed is 0x5eed. The
 * same seed gives bit-identical streams on every platform: uniform doubles
 * take the top 53 bits, and normals come from the Box-Muller transform,
 * whose second value is kept for the next call (seeding discards it).
 *
 * One generator per process, not per TCtx, like PyTorch's default
 * generator: every interpreter in the process draws from (and seed()
 * resets) the same stream. */
#include <math.h>
#include <string.h>

#include "tensor.h"

static uint64_t state[4];
static bool seeded = false;
static bool have_spare = false;
static double spare;

static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void rng_seed(uint64_t seed) {
  uint64_t x = seed;
  for (int i = 0; i < 4; i++) state[i] = splitmix64(&x);
  seeded = true;
  have_spare = false;
}

uint64_t rng_next(void) {
  if (!seeded) rng_seed(0x5eed);
  uint64_t result = rotl(state[1] * 5, 7) * 9;
  uint64_t t = state[1] << 17;
  state[2] ^= state[0];
  state[3] ^= state[1];
  state[1] ^= state[2];
  state[0] ^= state[3];
  state[2] ^= t;
  state[3] = rotl(state[3], 45);
  return result;
}

double rng_uniform(void) { return (double)(rng_next() >> 11) * 0x1.0p-53; }

double rng_normal(void) {
  if (have_spare) {
    have_spare = false;
    return spare;
  }
  double u1, u2;
  do u1 = rng_uniform();
  while (u1 <= 0.0);
  u2 = rng_uniform();
  double r = sqrt(-2.0 * log(u1)), th = 6.283185307179586477 * u2;
  spare = r * sin(th);
  have_spare = true;
  return r * cos(th);
}

void rng_get_state(RngState *out) {
  if (!seeded) rng_seed(0x5eed);
  memcpy(out->words, state, sizeof state);
  out->have_spare = have_spare;
  out->spare = have_spare ? spare : 0.0;
}

void rng_set_state(const RngState *in) {
  memcpy(state, in->words, sizeof state);
  seeded = true;
  have_spare = in->have_spare;
  spare = in->spare;
}
