/* NeuralScript embedding API: the one public header.
 *
 *   NsVM *vm = ns_new();
 *   int status = ns_run_file(vm, "train.ns");   // NS_OK, NS_RUNTIME_ERROR, ...
 *   ns_free(vm);
 *
 * Diagnostics and runtime errors are printed to stderr in the standard
 * format (file:line:col: error: ...); the status says what happened. */
#ifndef NEURALSCRIPT_H
#define NEURALSCRIPT_H

#include <stdbool.h>
#include <stdio.h>

#define NS_VERSION "0.1.0"

typedef struct VM NsVM;

/* Exit statuses of `nsc` (documented in README.md). */
enum {
  NS_EXIT_OK = 0,
  NS_EXIT_RUNTIME = 1, /* runtime error */
  NS_EXIT_COMPILE = 2, /* syntax or compile error */
  NS_EXIT_USAGE = 64,  /* bad command line */
  NS_EXIT_NOINPUT = 66 /* a file that cannot be read */
};

NsVM *ns_new(void);
void ns_free(NsVM *vm);
/* Arguments the script sees through args(). */
void ns_set_args(NsVM *vm, int argc, char **argv);
void ns_set_color(NsVM *vm, bool color);
/* Threads for tensor kernels and OpenBLAS (process-wide); n <= 0: the
 * NS_THREADS environment variable, else the number of online CPUs. */
void ns_set_threads(NsVM *vm, int n);
/* --detect-anomaly: after every tensor op and every backward rule, a NaN
 * or Inf in a floating-point result is a runtime error naming the op. */
void ns_set_detect_anomaly(NsVM *vm, bool on);
/* --jit=on|off (the default is on unless NS_JIT=0): record elementwise
 * tensor ops into graphs, fused and compiled to native code when a graph
 * repeats; off runs every op at once through the C kernels. */
void ns_set_jit(NsVM *vm, bool on);
/* --jit-stats: graphs run, compiled and reused, kernels, ops per kernel,
 * compile and kernel time, and the ops that did not wait, with the reason. */
void ns_print_jit_stats(NsVM *vm, FILE *out);
/* --stats: tensor allocator hits/misses, peak and current tensor bytes,
 * garbage collections, and `seconds` of wall time, to out. */
void ns_print_stats(NsVM *vm, FILE *out, double seconds);

/* Run a file as the main module: top-level statements in order, then
 * main() if the file defines it. Returns an NS_EXIT_* status. */
int ns_run_file(NsVM *vm, const char *path);
/* `nsc bench`: run a file's top-level code (main() is not called), then
 * time each parameterless function named bench_*: `warmup` untimed calls,
 * then `reps` timed ones, and print a table (name, median, min, max in ms,
 * reps) to out. Without bench_* functions the whole file, main() included,
 * is timed instead, each run in a fresh VM with its output discarded.
 * Returns an NS_EXIT_* status; a runtime error stops the timing. */
int ns_bench_file(NsVM *vm, const char *path, int warmup, int reps, FILE *out);
/* nsc bench --compare-interp: every bench_* function timed with the JIT off
 * and on (interleaved): medians, the speedup, and whether the results
 * agree (within 1e-5 relative); a disagreement is NS_EXIT_RUNTIME. */
int ns_bench_compare_file(NsVM *vm, const char *path, int warmup, int reps, FILE *out);
/* Run source text as (part of) the main module. `name` is shown in
 * diagnostics. With repl = true, definitions persist across calls and the
 * value of a final expression statement is printed. *incomplete (may be
 * NULL) is set when the text ends inside an open bracket or string: nothing
 * is reported or run, the caller should read more input. */
int ns_run_string(NsVM *vm, const char *name, const char *text, bool repl,
                  bool *incomplete);
/* Parse and compile without running; every diagnostic is printed. */
int ns_check_file(NsVM *vm, const char *path);
/* Print the bytecode of a file (or of text) with source lines. */
int ns_disasm_file(NsVM *vm, const char *path, FILE *out);
int ns_disasm_string(NsVM *vm, const char *name, const char *text, FILE *out);
/* Evaluate an expression in the REPL's main module and print its type
 * name (:type). */
int ns_print_type(NsVM *vm, const char *expr, FILE *out);

#endif
