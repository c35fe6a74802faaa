/* libFuzzer target: parse arbitrary bytes as a NumPy .npy file with the loader's
 * in-memory entry point (runtime/lang/lib_data.h). What is checked: no crash, no
 * out-of-bounds access or leak (ASan), and that the loader either returns a
 * tensor (or map) with no error pending or fails with an error message.
 * Build and run: see README.md "Fuzzing". */
#include <stdint.h>
#include <stdlib.h>

#include "builtins.h"
#include "lib_data.h"
#include "vm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static VM *vm;
  if (!vm) vm = lang_vm_new();
  Value v = UNIT_VAL;
  bool ok = lib_data_parse_npy(vm, "<fuzz>", data, size, &v);
  if (ok == vm->has_error || (ok && IS_UNIT(v)) || (!ok && !vm->error[0])) abort();
  vm_clear_error(vm);
  /* Nothing is rooted between inputs: collect the results now and then,
   * or they pile up (no interpreter runs to trigger the collector). */
  static unsigned runs;
  if (++runs % 256 == 0) gc_collect(vm);
  return 0;
}
