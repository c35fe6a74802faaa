/* rng_state() and set_rng_state(): the generator's state (tensor_rng.c) as
 * a value, for checkpoints.
 *
 * rng_state() -> [s0, s1, s2, s3, has_spare, spare]: the four xoshiro
 * words (as i64 bit patterns), then 1 and the bits of the pending
 * Box-Muller normal, or 0 and 0. set_rng_state(list) takes those six ints
 * back (or only the four words, dropping any pending normal), so a run
 * resumed from a checkpoint draws exactly the numbers it would have. */
#include <string.h>

#include "builtins.h"
#include "lib_tensor.h"

static bool nat_rng_state(VM *vm, Value *args, int argc, Value *out) {
  (void)args, (void)argc;
  RngState st;
  rng_get_state(&st);
  ObjList *l = list_new(vm, 6);
  for (int i = 0; i < 4; i++) list_push(vm, l, INT_VAL((int64_t)st.words[i]));
  uint64_t bits = 0;
  if (st.have_spare) memcpy(&bits, &st.spare, sizeof bits);
  list_push(vm, l, INT_VAL(st.have_spare ? 1 : 0));
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
  RngState st = {0};
  for (int i = 0; i < 4; i++) st.words[i] = (uint64_t)l->items[i].as.i;
  if (!(st.words[0] | st.words[1] | st.words[2] | st.words[3]))
    return vm_error(vm, "set_rng_state: the all-zero state is not valid");
  st.have_spare = l->len == 6 && l->items[4].as.i != 0;
  if (st.have_spare) {
    uint64_t bits = (uint64_t)l->items[5].as.i;
    memcpy(&st.spare, &bits, sizeof st.spare);
  }
  rng_set_state(&st);
  *out = UNIT_VAL;
  return true;
}

void rng_natives_init(VM *vm) {
  lib_global(vm, "rng_state", nat_rng_state, 0, 0);
  lib_global(vm, "set_rng_state", nat_set_rng_state, 1, 1);
}
