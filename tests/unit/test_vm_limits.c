/* vm_set_limits: the instruction budget ends endless loops and runaway
 * recursion with a runtime error, the tensor memory limit refuses huge
 * shapes up front and stops a program that keeps too many tensors alive,
 * `extern` blocks are refused, and without limits the same programs run.
 * One line per check; exit status 1 on any failure. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "neuralscript.h"
#include "builtins.h" /* vm_set_limits */

static int failures;

/* Runs `code` in a fresh VM with the given limits; the error messages go
 * to a buffer, returned in *err (free it). */
static int run(const char *code, uint64_t budget, size_t tensor_bytes, char **err) {
  size_t len = 0;
  FILE *e = open_memstream(err, &len);
  FILE *out = fopen("/dev/null", "w");
  NsVM *vm = ns_new();
  vm->err = e;
  vm->out = out;
  vm_set_limits(vm, budget, tensor_bytes);
  int st = ns_run_string(vm, "<test>", code, false, NULL);
  ns_free(vm);
  fclose(out);
  fclose(e);
  return st;
}

static void expect(const char *what, const char *code, uint64_t budget, size_t bytes, int status,
                   const char *needle) {
  char *err = NULL;
  int st = run(code, budget, bytes, &err);
  bool ok = st == status && (!needle || strstr(err, needle));
  printf("%s %s\n", ok ? "ok  " : "FAIL", what);
  if (!ok) {
    printf("  status %d (want %d), stderr:\n%s\n", st, status, err);
    failures++;
  }
  free(err);
}

int main(void) {
  const char *loop = "let mut i = 0\nwhile true { i += 1 }\n";
  expect("an endless loop ends", loop, 100000, 0, NS_EXIT_RUNTIME, "instruction budget exhausted");
  expect("the trace names the looping function", "fn spin() { while true { } }\nspin()\n", 1000, 0,
         NS_EXIT_RUNTIME, "at spin (<test>:1:");

  const char *fib = "fn f(n: int) -> int { if n < 2 { n } else { f(n - 1) + f(n - 2) } }\n"
                    "println!(\"{}\", f(40))\n";
  expect("exponential recursion ends", fib, 100000, 0, NS_EXIT_RUNTIME, "instruction budget exhausted");
  expect("a for loop over a range counts", "for i in 0..1000000000 { }\n", 5000, 0, NS_EXIT_RUNTIME,
         "instruction budget exhausted");
  expect("a for loop over a list counts",
         "let xs = [1, 2, 3]\nlet mut n = 0\nwhile true { for x in xs { n += x } }\n", 5000, 0,
         NS_EXIT_RUNTIME, "instruction budget exhausted");

  const char *small = "let mut s = 0\nfor i in 0..1000 { s += i }\nassert_eq!(s, 499500)\n";
  expect("a program within the budget runs", small, 5000, 0, NS_EXIT_OK, NULL);
  expect("the same program without limits runs", small, 0, 0, NS_EXIT_OK, NULL);
  expect("a budget too small for it stops it", small, 500, 0, NS_EXIT_RUNTIME, "instruction budget exhausted");

  size_t mb = (size_t)1 << 20;
  expect("a huge shape is refused before allocating", "let t = zeros([10000, 10000, 10])\n", 0, 16 * mb,
         NS_EXIT_RUNTIME, "shape [10000, 10000, 10] needs 4000000000 bytes, more than the tensor memory limit of 16777216 bytes");
  expect("an overflowing shape is refused", "let t = ones([4294967296, 4294967296, 16])\n", 0, 16 * mb,
         NS_EXIT_RUNTIME, "shape [4294967296, 4294967296, 16] has too many elements");
  expect("arange is limited", "let t = arange(0, 1000000000)\n", 0, 16 * mb, NS_EXIT_RUNTIME,
         "shape [1000000000] needs 8000000000 bytes, more than the tensor memory limit");
  expect("eye is limited", "let t = eye(100000)\n", 0, 16 * mb, NS_EXIT_RUNTIME,
         "shape [100000, 100000] needs 40000000000 bytes, more than the tensor memory limit");
  expect("a result sized by its operands is limited too",
         "let a = ones(4096, 1)\nlet b = ones(1, 4096)\nlet c = a ⊙ b\n", 0, 16 * mb, NS_EXIT_RUNTIME,
         "shape [4096, 4096] needs 67108864 bytes, more than the tensor memory limit");
  expect("so is a broadcast", "let c = ones(4096, 1) + ones(4096)\n", 0, 16 * mb, NS_EXIT_RUNTIME,
         "more than the tensor memory limit");
  expect("tensors kept alive past the limit stop the program",
         "let mut xs = []\nfor i in 0..100 { xs.push(zeros(1000, 1000)) }\n", 0, 16 * mb, NS_EXIT_RUNTIME,
         "tensor memory limit exceeded");
  expect("garbage tensors are collected, not counted",
         "for i in 0..100 { let t = zeros(1000, 1000) }\n", 0, 16 * mb, NS_EXIT_OK, NULL);
  expect("extern blocks are refused", "extern \"libm.so.6\" { fn cos(x: f64) -> f64; }\n", 1000, 0,
         NS_EXIT_COMPILE, "`extern` blocks are not available in a VM with limits");

  printf("%s\n", failures ? "FAILED" : "all passed");
  return failures ? 1 : 0;
}
