/* The random number generator behind rand, randn, dropout and shuffling:
 * xoshiro256** (Blackman and Vigna), its 256-bit state filled from the
 * seed by splitmix64. seed(n) resets it; the default seed is 0x5eed. The
 * same seed gives bit-identical streams on every platform: uniform doubles
 * take the top 53 bits, and normals come from the Box-Muller transform,
 * whose second value is kept for the next call (seeding discards it). */
#include <math.h>
#include <string.h>

#include "builtins.h"
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

/* ---- natives: the state as a value, for checkpoints ----
 * rng_state() -> [s0, s1, s2, s3, has_spare, spare]: the four xoshiro
 * words (as i64 bit patterns), then 1 and the bits of the pending
 * Box-Muller normal, or 0 and 0. set_rng_state(list) takes those six ints
 * back (or only the four words, dropping any pending normal), so a run
 * resumed from a checkpoint draws exactly the numbers it would have. */
static bool nat_rng_state(VM *vm, Value *args, int argc, Value *out) {
  (void)args, (void)argc;
  if (!seeded) rng_seed(0x5eed);
  ObjList *l = list_new(vm, 6);
  for (int i = 0; i < 4; i++) list_push(vm, l, INT_VAL((int64_t)state[i]));
  uint64_t bits = 0;
  if (have_spare) memcpy(&bits, &spare, sizeof bits);
  list_push(vm, l, INT_VAL(have_spare ? 1 : 0));
  list_push(vm, l, INT_VAL((int64_t)bits));
  *out = OBJ_VAL(l);
  return true;
}

static bool nat_set_rng_state(VM *vm, Value *args, int argc, Value *out) {
  (void)argc;
  if (!IS_LIST(args[0]) || (AS_LIST(args[0])->len != 4 && AS_LIST(args[0])->len != 6))
    return vm_error(vm, "set_rng_state expects the list of 6 ints from rng_state(), got %s",
                    value_type_name(args[0]));
  ObjList *l = AS_LIST(args[0]);
  for (uint32_t i = 0; i < l->len; i++)
    if (!IS_INT(l->items[i])) return vm_error(vm, "set_rng_state: element %u is not an int", i);
  uint64_t s[4];
  for (int i = 0; i < 4; i++) s[i] = (uint64_t)l->items[i].as.i;
  if (!(s[0] | s[1] | s[2] | s[3])) return vm_error(vm, "set_rng_state: the all-zero state is not valid");
  memcpy(state, s, sizeof state);
  seeded = true;
  have_spare = l->len == 6 && l->items[4].as.i != 0;
  if (have_spare) {
    uint64_t bits = (uint64_t)l->items[5].as.i;
    memcpy(&spare, &bits, sizeof spare);
  }
  *out = UNIT_VAL;
  return true;
}

void rng_natives_init(VM *vm) {
  lib_global(vm, "rng_state", nat_rng_state, 0, 0);
  lib_global(vm, "set_rng_state", nat_set_rng_state, 1, 1);
}
