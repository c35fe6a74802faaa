/* nsc: the NeuralScript driver. Parses the command line and hands each
 * command to the public API (include/neuralscript.h); exit statuses are the
 * NS_EXIT_* values documented in README.md. */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "neuralscript.h"
#include "repl.h"

static const char usage_text[] =
    "usage: nsc [COMMAND] [ARGS...]\n"
    "\n"
    "Commands:\n"
    "  run FILE [ARGS...]   run FILE as the main program; the script's args()\n"
    "                       are ARGS\n"
    "  FILE.ns [ARGS...]    the same as `run FILE.ns`\n"
    "  check FILE...        parse and compile every FILE without running it\n"
    "  disasm FILE          print FILE's bytecode with its source lines\n"
    "  bench FILE [--warmup N] [--reps N] [--compare-interp]\n"
    "                       run FILE's top-level code (not main()), then time\n"
    "                       each function bench_*() with no parameters: N\n"
    "                       warm-up calls (default 2), then N timed calls\n"
    "                       (default 10); prints name, median, min, max in ms\n"
    "                       and the repetitions. Without bench_* functions the\n"
    "                       whole program is timed, each run in a fresh VM with\n"
    "                       its output discarded. --compare-interp: each bench_*\n"
    "                       function with the JIT off and on, interleaved: both\n"
    "                       medians, the speedup, and whether the results agree\n"
    "  repl                 interactive session (prompts when stdin is a terminal)\n"
    "  -e CODE [ARGS...]    run CODE as the main program\n"
    "  (none)               the REPL when stdin is a terminal, otherwise run the\n"
    "                       program read from stdin\n"
    "\n"
    "Options (before the command, or after `run`):\n"
    "  --threads N          threads for tensor kernels and OpenBLAS (default:\n"
    "                       NS_THREADS, else the number of online CPUs)\n"
    "  --stats              at exit, print tensor allocator hits/misses, peak\n"
    "                       and current tensor bytes, garbage collections and\n"
    "                       wall time to stderr\n"
    "  --detect-anomaly     a NaN or Inf produced by a tensor op (or by its\n"
    "                       backward rule) is a runtime error naming the op\n"
    "  --jit=on|off         record elementwise tensor ops into graphs that run\n"
    "                       fused, compiled to native code once a graph repeats\n"
    "                       (default on; off: every op runs at once)\n"
    "  --jit-stats          at exit, print the JIT's graphs, kernels, compile\n"
    "                       and kernel time, and the ops it did not record, why\n"
    "  --verify             check every compiled function with the bytecode\n"
    "                       verifier (always on in debug builds); a rejected\n"
    "                       function is an internal compiler error\n"
    "  -h, --help           show this help\n"
    "  -V, --version        show the version\n"
    "\n"
    "Environment:\n"
    "  NS_THREADS           thread count when --threads is not given\n"
    "  NS_VERIFY            1: the same as --verify\n"
    "  NS_JIT               0: the same as --jit=off; 1: --jit=on\n"
    "  NS_JIT_MIN_ELEMENTS  ops on fewer elements run at once (default 1024)\n"
    "  NS_JIT_WAIT          1: a graph seen again waits for LLVM to load\n"
    "  NS_JIT_DUMP          a directory: each compiled module's LLVM IR (.ll)\n"
    "                       and assembly (.s) are written there\n"
    "  NO_COLOR             when set and not empty, diagnostics are not coloured\n"
    "                       (they are coloured only when stderr is a terminal)\n"
    "\n"
    "Exit status:\n"
    "  0   success\n"
    "  1   runtime error\n"
    "  2   syntax or compile error\n"
    "  64  bad command line\n"
    "  66  a file that cannot be read\n";

static int usage_error(const char *fmt, const char *arg) {
  fputs("nsc: ", stderr);
  fprintf(stderr, fmt, arg);
  fputs("\nTry `nsc --help` for usage.\n", stderr);
  return NS_EXIT_USAGE;
}

/* Options given before the command (or after `run`). */
static struct {
  int threads; /* 0: default */
  bool stats, detect_anomaly, jit_stats;
  int jit; /* -1: default (NS_JIT), 0 off, 1 on */
} opts = {.jit = -1};
static struct timespec t_start;

/* Consumes the options at argv[*i...]; returns a usage status or -1. */
static int parse_options(int argc, char **argv, int *i) {
  while (*i < argc && !strncmp(argv[*i], "--", 2)) {
    const char *a = argv[*i];
    if (!strcmp(a, "--threads")) {
      char *end;
      if (*i + 1 >= argc) return usage_error("%s needs a number", a);
      long n = strtol(argv[*i + 1], &end, 10);
      if (*end || end == argv[*i + 1] || n < 1 || n > 256)
        return usage_error("--threads needs a number from 1 to 256, got `%s`", argv[*i + 1]);
      opts.threads = (int)n;
      *i += 2;
    } else if (!strcmp(a, "--stats")) {
      opts.stats = true;
      ++*i;
    } else if (!strncmp(a, "--jit=", 6)) {
      if (strcmp(a + 6, "on") && strcmp(a + 6, "off"))
        return usage_error("--jit takes on or off, got `%s`", a + 6);
      opts.jit = !strcmp(a + 6, "on");
      ++*i;
    } else if (!strcmp(a, "--jit-stats")) {
      opts.jit_stats = true;
      ++*i;
    } else if (!strcmp(a, "--detect-anomaly")) {
      opts.detect_anomaly = true;
      ++*i;
    } else if (!strcmp(a, "--verify")) {
      /* the compiler reads it before the first function is verified */
      setenv("NS_VERIFY", "1", 1);
      ++*i;
    } else {
      break;
    }
  }
  return -1;
}

static NsVM *new_vm(void) {
  NsVM *vm = ns_new();
  if (!vm) {
    fputs("nsc: cannot start the virtual machine (out of memory)\n", stderr);
    exit(NS_EXIT_RUNTIME);
  }
  const char *no_color = getenv("NO_COLOR");
  ns_set_color(vm, isatty(STDERR_FILENO) && !(no_color && *no_color));
  if (opts.threads) ns_set_threads(vm, opts.threads);
  ns_set_detect_anomaly(vm, opts.detect_anomaly);
  if (opts.jit >= 0) ns_set_jit(vm, opts.jit == 1);
  return vm;
}

static int finish(NsVM *vm, int status) {
  if (opts.jit_stats) {
    fflush(stdout);
    ns_print_jit_stats(vm, stderr);
  }
  if (opts.stats) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    fflush(stdout);
    ns_print_stats(vm, stderr,
                   (double)(t.tv_sec - t_start.tv_sec) + (double)(t.tv_nsec - t_start.tv_nsec) * 1e-9);
  }
  ns_free(vm);
  if (fflush(stdout) != 0 && status == NS_EXIT_OK) status = NS_EXIT_RUNTIME;
  return status;
}

static int cmd_run(const char *path, int argc, char **argv) {
  NsVM *vm = new_vm();
  ns_set_args(vm, argc, argv);
  return finish(vm, ns_run_file(vm, path));
}

static int cmd_eval(const char *name, const char *code, int argc, char **argv) {
  NsVM *vm = new_vm();
  ns_set_args(vm, argc, argv);
  return finish(vm, ns_run_string(vm, name, code, false, NULL));
}

static int cmd_check(int nfiles, char **files) {
  int status = NS_EXIT_OK;
  for (int i = 0; i < nfiles; i++) {
    NsVM *vm = new_vm();
    int st = ns_check_file(vm, files[i]);
    ns_free(vm);
    if (st != NS_EXIT_OK && status != NS_EXIT_COMPILE)
      status = st == NS_EXIT_NOINPUT ? NS_EXIT_NOINPUT : NS_EXIT_COMPILE;
  }
  return status;
}

static int cmd_disasm(const char *path) {
  NsVM *vm = new_vm();
  return finish(vm, ns_disasm_file(vm, path, stdout));
}

static int parse_count(const char *opt, const char *arg, int min, int *n) {
  char *end;
  long v = arg ? strtol(arg, &end, 10) : 0;
  if (!arg || *end || end == arg || v < min || v > 1000000) {
    fprintf(stderr, "nsc: %s needs a number from %d to 1000000, got `%s`\n", opt, min, arg ? arg : "");
    fputs("Try `nsc --help` for usage.\n", stderr);
    return NS_EXIT_USAGE;
  }
  *n = (int)v;
  return -1;
}

/* nsc bench FILE [--warmup N] [--reps N] [--compare-interp]; the options
 * may come before or after FILE. */
static int cmd_bench(int argc, char **argv) {
  const char *path = NULL;
  int warmup = 2, reps = 10, st;
  bool compare = false;
  for (int i = 0; i < argc;) {
    const char *a = argv[i];
    if (!strcmp(a, "--warmup") || !strcmp(a, "--reps")) {
      if ((st = parse_count(a, i + 1 < argc ? argv[i + 1] : NULL, a[2] == 'w' ? 0 : 1,
                            a[2] == 'w' ? &warmup : &reps)) >= 0)
        return st;
      i += 2;
    } else if (!strcmp(a, "--compare-interp")) {
      compare = true;
      i++;
    } else if (!strncmp(a, "--", 2)) {
      int j = i;
      if ((st = parse_options(argc, argv, &j)) >= 0) return st;
      if (j == i) return usage_error("unknown bench option `%s`", a);
      i = j;
    } else if (path) {
      return usage_error("bench takes one FILE; unexpected `%s`", a);
    } else {
      path = a;
      i++;
    }
  }
  if (!path) return usage_error("%s needs a FILE", "bench");
  NsVM *vm = new_vm();
  if (compare) return finish(vm, ns_bench_compare_file(vm, path, warmup, reps, stdout));
  return finish(vm, ns_bench_file(vm, path, warmup, reps, stdout));
}

static int cmd_repl(void) {
  NsVM *vm = new_vm();
  return finish(vm, repl_run(vm, isatty(STDIN_FILENO)));
}

/* `echo 'println!("hi")' | nsc`: the whole of stdin is the program. */
static int cmd_stdin(void) {
  size_t len = 0, cap = 65536;
  char *text = malloc(cap);
  size_t n;
  while (text && (n = fread(text + len, 1, cap - len - 1, stdin)) > 0) {
    len += n;
    if (cap - len < 2) {
      char *grown = realloc(text, cap *= 2);
      if (!grown) free(text);
      text = grown;
    }
  }
  if (!text) {
    fputs("nsc: out of memory reading stdin\n", stderr);
    return NS_EXIT_RUNTIME;
  }
  if (ferror(stdin)) {
    perror("nsc: stdin");
    free(text);
    return NS_EXIT_NOINPUT;
  }
  text[len] = '\0';
  int status = cmd_eval("<stdin>", text, 0, NULL);
  free(text);
  return status;
}

static bool has_suffix(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && strcmp(s + n - m, suffix) == 0;
}

int main(int argc, char **argv) {
  clock_gettime(CLOCK_MONOTONIC, &t_start);
  /* OpenBLAS always runs on one thread (the tensor pool splits the GEMMs),
   * but when it is opened it starts a server thread per core that spins
   * for about 0.2 s before it sleeps, taking the second core from the
   * interpreter and from LLVM's loading. The variable stops it from
   * starting them; it is set here, before any thread exists, because
   * setenv is not safe beside a getenv on another thread. */
  setenv("OPENBLAS_NUM_THREADS", "1", 1);
  int i = 1, st = parse_options(argc, argv, &i);
  if (st >= 0) return st;
  /* the command and its arguments start at argv[1] as before */
  argc -= i - 1;
  argv += i - 1;
  if (argc < 2) return isatty(STDIN_FILENO) ? cmd_repl() : cmd_stdin();

  const char *cmd = argv[1];
  if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
    fputs(usage_text, stdout);
    return NS_EXIT_OK;
  }
  if (!strcmp(cmd, "-V") || !strcmp(cmd, "--version")) {
    puts("nsc " NS_VERSION " (NeuralScript)");
    return NS_EXIT_OK;
  }
  if (!strcmp(cmd, "run")) {
    int j = 2;
    if ((st = parse_options(argc, argv, &j)) >= 0) return st;
    if (argc <= j) return usage_error("%s needs a FILE", "run");
    return cmd_run(argv[j], argc - j - 1, argv + j + 1);
  }
  if (!strcmp(cmd, "-e")) {
    if (argc < 3) return usage_error("%s needs CODE", "-e");
    return cmd_eval("<-e>", argv[2], argc - 3, argv + 3);
  }
  if (!strcmp(cmd, "check")) {
    if (argc < 3) return usage_error("%s needs at least one FILE", "check");
    return cmd_check(argc - 2, argv + 2);
  }
  if (!strcmp(cmd, "disasm")) {
    if (argc != 3) return usage_error("%s needs exactly one FILE", "disasm");
    return cmd_disasm(argv[2]);
  }
  if (!strcmp(cmd, "bench")) return cmd_bench(argc - 2, argv + 2);
  if (!strcmp(cmd, "repl")) {
    if (argc != 2) return usage_error("unexpected argument `%s` after repl", argv[2]);
    return cmd_repl();
  }
  if (cmd[0] == '-') return usage_error("unknown option `%s`", cmd);
  /* A script path: `nsc train.ns`, or `./train` through a #! line. */
  if (has_suffix(cmd, ".ns") || strchr(cmd, '/')) return cmd_run(cmd, argc - 2, argv + 2);
  return usage_error("unknown command `%s`", cmd);
}
