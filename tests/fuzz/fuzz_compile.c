/* libFuzzer target: compile arbitrary bytes and run them when they compile.
 *
 * Each input gets a fresh VM with limits (vm_set_limits): a budget of loop
 * iterations and calls, so an endless loop ends as a runtime error, and a
 * cap on tensor memory, so no input allocates gigabytes. Program output
 * and error messages go to /dev/null. The prelude functions that touch the
 * world outside the VM (files, stdin, exit, raw memory) are replaced by a
 * native that fails, and the FFI is refused in a VM with limits. What is
 * checked: no crash, no leak, no undefined behaviour, no hang in the lexer,
 * parser, compiler, interpreter and runtime library on any input.
 * Build and run: see README.md "Fuzzing". */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "neuralscript.h"
#include "builtins.h" /* vm_set_limits */

#define FUZZ_BUDGET 200000                 /* loop iterations and calls */
#define FUZZ_TENSOR_BYTES ((size_t)64 << 20) /* tensor storage alive at once */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static FILE *devnull;

static const char *const outside[] = {
    "exit",         "input",          "read_file",       "write_file",    "file_exists",
    "load_idx",     "load_npy",       "save_npy",        "load_csv",      "load_safetensors",
    "save_safetensors", "flush",
};

static bool n_outside(VM *vm, Value *args, int argc, Value *out) {
  (void)args, (void)argc, (void)out;
  return vm_error(vm, "`%s` is not available in the fuzz target", vm->native->name->chars);
}

/* Replace a prelude function in the prelude and in the main module (which
 * copied the prelude when it was made; later modules copy the patched one). */
static void shut(VM *vm, const char *name) {
  ObjString *s = str_cstr(vm, name);
  int32_t i = module_find(vm->prelude, s);
  if (i < 0) return;
  Value f = OBJ_VAL(native_new(vm, name, n_outside, 0, -1));
  vm->prelude->values[i] = f;
  int32_t j = module_find(vm->main_module, s);
  if (j >= 0) vm->main_module->values[j] = f;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  devnull = fopen("/dev/null", "w");
  if (!devnull) abort();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = malloc(size + 1);
  if (!text) return 0;
  memcpy(text, data, size);
  text[size] = '\0';

  NsVM *vm = ns_new();
  ns_set_threads(vm, 1);
  vm->out = devnull;
  vm->err = devnull;
  for (size_t i = 0; i < sizeof outside / sizeof outside[0]; i++) shut(vm, outside[i]);
  for (uint32_t i = 0; i < vm->prelude->nglobals; i++) /* ptr_read_f32, ptr_write_i8, ... */
    if (!strncmp(vm->prelude->names[i]->chars, "ptr_", 4)) shut(vm, vm->prelude->names[i]->chars);
  vm_set_limits(vm, FUZZ_BUDGET, FUZZ_TENSOR_BYTES);
  ns_run_string(vm, "<fuzz>", text, false, NULL);
  ns_free(vm);
  free(text);
  return 0;
}
