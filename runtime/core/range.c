/* Range arithmetic. Every count and element of a range of ints comes from
 * here, so `for`, len(), collect(), ∑ and rev() agree up to the ends of the
 * int range (counts are exact up to 2^64, in 128 bits). */
#include "gc.h"
#include "range.h"

unsigned __int128 range_count(int64_t lo, int64_t hi, int64_t step, bool inclusive) {
  __int128 l = lo, h = hi, s = step ? step : 1;
  if (s < 0) { /* counting down: the same as counting up from -lo to -hi */
    l = -l;
    h = -h;
    s = -s;
  }
  if (inclusive) return h < l ? 0 : (unsigned __int128)((h - l) / s) + 1;
  return h <= l ? 0 : (unsigned __int128)((h - l - 1) / s) + 1;
}

void u128_text(unsigned __int128 n, char *out) {
  char digits[40];
  int len = 0;
  do {
    digits[len++] = (char)('0' + (int)(n % 10));
    n /= 10;
  } while (n);
  for (int i = 0; i < len; i++) out[i] = digits[len - 1 - i];
  out[len] = '\0';
}

bool range_len(VM *vm, const ObjRange *r, const char *who, int64_t *out) {
  if ((r->flags & (RANGE_HAS_LO | RANGE_HAS_HI)) != (RANGE_HAS_LO | RANGE_HAS_HI))
    return heap_error(vm, "%s of an unbounded range", who);
  unsigned __int128 n = range_count(r->lo, r->hi, r->step, r->flags & RANGE_INCLUSIVE);
  if (n > INT64_MAX) {
    char count[48];
    u128_text(n, count);
    return heap_error(vm, "%s: the range has %s elements, more than an int holds", who, count);
  }
  *out = (int64_t)n;
  return true;
}

int64_t range_at(const ObjRange *r, uint64_t i) {
  return (int64_t)((__int128)r->lo + (__int128)i * (r->step ? r->step : 1));
}

/* The iteration state is the next element (an int), () after the last,
 * or false once an endless range has passed the largest int. */
Value range_first(const ObjRange *r) {
  if ((r->flags & RANGE_HAS_HI) && range_count(r->lo, r->hi, r->step, r->flags & RANGE_INCLUSIVE) == 0)
    return UNIT_VAL;
  return INT_VAL(r->lo);
}

int range_next(VM *vm, const ObjRange *r, Value *state, Value *item) {
  if (IS_UNIT(*state)) return 0;
  if (!IS_INT(*state)) {
    heap_error(vm, "the range %lld.. runs past the largest int", (long long)r->lo);
    return -1;
  }
  int64_t x = state->as.i, step = r->step ? r->step : 1, next;
  *item = INT_VAL(x);
  if (__builtin_add_overflow(x, step, &next)) {
    *state = (r->flags & RANGE_HAS_HI) ? UNIT_VAL : BOOL_VAL(false);
  } else if (r->flags & RANGE_HAS_HI) {
    bool incl = r->flags & RANGE_INCLUSIVE;
    bool past = step > 0 ? (incl ? next > r->hi : next >= r->hi) : (incl ? next < r->hi : next <= r->hi);
    *state = past ? UNIT_VAL : INT_VAL(next);
  } else {
    state->as.i = next;
  }
  return 1;
}

