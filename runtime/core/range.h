/* Range arithmetic on ObjRange (a..b, a..=b, with a step): every count
 * and element of a range of ints comes from here, so `for`, len(),
 * collect(), ∑ and rev() agree up to the ends of the int range. */
#ifndef NS_RANGE_H
#define NS_RANGE_H

#include "value.h"

/* Ranges step up for step > 0 and down for step < 0; hi is excluded
 * unless inclusive. */
/* Elements of lo..hi (lo..=hi) by step != 0: exact, up to 2^64. */
unsigned __int128 range_count(int64_t lo, int64_t hi, int64_t step, bool inclusive);
/* The element count of r as an int: a runtime error naming `who` for a
 * range without both ends or with more elements than an int holds. */
bool range_len(VM *vm, const ObjRange *r, const char *who, int64_t *out);
/* n in decimal (a range count may be 2^64): out holds at least 40 chars. */
void u128_text(unsigned __int128 n, char *out);
/* Element i (below the count) of a bounded range. */
int64_t range_at(const ObjRange *r, uint64_t i);
/* Iteration state before the first element, then the next element:
 * 1 with *item set, 0 at the end, -1 on an error (an endless range that
 * runs past the largest int). */
Value range_first(const ObjRange *r);
int range_next(VM *vm, const ObjRange *r, Value *state, Value *item);

#endif
