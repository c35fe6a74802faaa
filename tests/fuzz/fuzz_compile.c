/* libFuzzer target: parse arbitrary bytes and, when they parse, compile them
 * into a fresh VM. The code is never run (it may loop forever); what is
 * checked is that the lexer, parser and compiler neither crash nor leak on
 * any input. Build and run: see README.md "Fuzzing". */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "compiler.h"
#include "parser.h"
#include "vm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = malloc(size + 1);
  if (!text) return 0;
  memcpy(text, data, size);
  text[size] = '\0';
  Source *src = source_new("<fuzz>", text, size);
  free(text);
  if (!src) return 0;

  Arena arena;
  arena_init(&arena);
  DiagList diags;
  diag_init(&diags);
  Ast ast;
  VM *vm = NULL;
  if (parse_module(src, &arena, &diags, &ast) == PARSE_OK) {
    vm = vm_new();
    vm_add_source(vm, src); /* protos point into it; freed with the VM */
    ObjModule *mod = module_new(vm, str_cstr(vm, "main"), str_cstr(vm, "<fuzz>"));
    compile_module(vm, mod, src, &ast, &diags, 0);
  }
  diag_free(&diags);
  arena_free(&arena);
  if (vm) vm_free(vm);
  else source_free(src);
  return 0;
}
