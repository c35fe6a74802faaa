#define _POSIX_C_SOURCE 200809L
/* Literals and calls of every size the compiler accepts, on programs built
 * here (a 100,000-element literal would be a 2 MB test file): list, tuple,
 * nested-list, tensor and HashMap literals of any length compile and hold
 * their values; format strings with hundreds of pieces; calls up to the
 * documented 200 arguments, and one clear error above that. Each program
 * checks its own results with assert_eq!, so it must exit with status 0. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "neuralscript.h"

typedef struct {
  char *s;
  size_t len, cap;
} Buf;

static void put(Buf *b, const char *fmt, ...) {
  va_list ap;
  for (;;) {
    va_start(ap, fmt);
    int n = vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if ((size_t)n < b->cap - b->len) {
      b->len += (size_t)n;
      return;
    }
    b->cap = b->cap * 2 + (size_t)n + 64;
    b->s = realloc(b->s, b->cap);
    if (!b->s) abort();
  }
}

static int failures;

/* Run text in a fresh VM with stderr captured; check the status and how
 * many lines of stderr contain "error:". */
static void check(const char *name, Buf *b, int want_status, int want_errors) {
  fflush(stderr);
  char path[] = "/tmp/ns_limits_XXXXXX";
  int fd = mkstemp(path);
  int saved = dup(2);
  dup2(fd, 2);
  NsVM *vm = ns_new();
  int st = ns_run_string(vm, name, b->s, false, NULL);
  ns_free(vm);
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  FILE *f = fopen(path, "r");
  int errors = 0;
  char line[4096];
  char first[512] = "";
  while (f && fgets(line, sizeof line, f)) {
    if (strstr(line, "error:")) {
      if (!errors) snprintf(first, sizeof first, "%.500s", line);
      errors++;
    }
  }
  if (f) fclose(f);
  close(fd);
  unlink(path);
  if (st != want_status || errors != want_errors) {
    printf("FAIL %s: status %d (want %d), %d error lines (want %d)%s%s", name, st, want_status, errors, want_errors,
           errors ? ": " : "\n", first);
    failures++;
  } else {
    printf("ok   %s\n", name);
  }
  b->len = 0;
  b->s[0] = 0;
}

int main(void) {
  Buf b = {malloc(1024), 0, 1024};
  b.s[0] = 0;

  /* 100,000 floats pasted as one literal: every value kept, summed in order */
  srand(7);
  double sum = 0, first = 0, last = 0;
  put(&b, "let mut xs = [");
  for (int i = 0; i < 100000; i++) {
    double v = (double)(rand() % 2000001 - 1000000) / 1024.0;
    put(&b, "%s%.17g", i ? ", " : "", v);
    sum += v;
    if (i == 0) first = v;
    last = v;
  }
  put(&b, "]\nassert_eq!(xs.len(), 100000)\nassert_eq!(xs[0], %.17g)\nassert_eq!(xs[99999], %.17g)\n", first, last);
  put(&b, "let mut s = 0.0\nfor x in xs { s += x }\nassert_eq!(s, %.17g)\n", sum);
  put(&b, "xs[5] = 1.0\nlet again = || [1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5, 8.5, 9.5, 10.5, 11.5, 12.5, 13.5, 14.5, 15.5, 16.5]\n"
          "let mut a = again()\na[0] = 0.0\nassert_eq!(again()[0], 1.5)\n");
  check("100000 floats", &b, NS_EXIT_OK, 0);

  /* 20,000 elements that are not literals: built in chunks */
  put(&b, "let a = 2\nlet xs = [");
  for (int i = 0; i < 20000; i++) put(&b, "%sa * %d", i ? ", " : "", i % 7);
  long isum = 0;
  for (int i = 0; i < 20000; i++) isum += 2 * (i % 7);
  put(&b, "]\nassert_eq!(xs.len(), 20000)\nassert_eq!(xs[19998], %d)\nassert_eq!(xs.sum(), %ld)\n", 2 * (19998 % 7),
      isum);
  check("20000 computed elements", &b, NS_EXIT_OK, 0);

  /* nested lists of lists, and a tensor from a 300x3 literal */
  put(&b, "let mut m = [");
  for (int i = 0; i < 1000; i++) put(&b, "%s[%d, %d, -%d]", i ? ", " : "", i, i * 2, i);
  put(&b, "]\nassert_eq!(m.len(), 1000)\nassert_eq!(m[999], [999, 1998, -999])\nm[0][0] = 5\n");
  put(&b, "let t = tensor([");
  double tsum = 0;
  for (int i = 0; i < 300; i++) {
    put(&b, "%s[%d.5, 1.0, -2.0]", i ? ", " : "", i);
    tsum += i + 0.5 - 1.0;
  }
  put(&b, "])\nassert_eq!(t.shape, [300, 3])\nassert_eq!(t.sum().item(), %.17g)\n", tsum);
  put(&b, "let v = 0.25\nlet u = tensor([");
  for (int i = 0; i < 300; i++) put(&b, "%s[v, v, %d.0]", i ? ", " : "", i);
  put(&b, "])\nassert_eq!(u.shape, [300, 3])\nassert_eq!(u.sum().item(), %.17g)\n", 300 * 0.5 + 299 * 300 / 2.0);
  check("nested lists, tensor 300x3", &b, NS_EXIT_OK, 0);

  /* tuples and HashMap::from of 500 pairs */
  put(&b, "let t = (");
  for (int i = 0; i < 1000; i++) put(&b, "%s%d", i ? ", " : "", i);
  put(&b, ")\nassert_eq!(t.len(), 1000)\nassert_eq!(t.999, 999)\nlet k = 3\nlet u = (");
  for (int i = 0; i < 700; i++) put(&b, "%sk + %d", i ? ", " : "", i);
  put(&b, ")\nassert_eq!(u.len(), 700)\nassert_eq!(u.699, 702)\nlet h = HashMap::from([");
  for (int i = 0; i < 500; i++) put(&b, "%s(\"key%d\", %d)", i ? ", " : "", i, i * 3);
  put(&b, "])\nassert_eq!(h.len(), 500)\nassert_eq!(h[\"key499\"], 1497)\n");
  check("tuples, HashMap of 500 pairs", &b, NS_EXIT_OK, 0);

  /* a format string with 300 placeholders */
  put(&b, "let x = 1\nlet s = format!(\"");
  for (int i = 0; i < 300; i++) put(&b, "{}");
  put(&b, "\"");
  for (int i = 0; i < 300; i++) put(&b, ", x");
  put(&b, ")\nassert_eq!(s.len(), 300)\n");
  check("format string with 300 pieces", &b, NS_EXIT_OK, 0);

  /* calls: 200 arguments work (also nested in an expression); 201 or 1000
   * are one error each */
  put(&b, "let m = max(");
  for (int i = 0; i < 200; i++) put(&b, "%s%d", i ? ", " : "", i);
  put(&b, ")\nassert_eq!(m, 199)\nlet n = [1, 2, min(");
  for (int i = 0; i < 200; i++) put(&b, "%s%d", i ? ", " : "", i + 5);
  put(&b, ")]\nassert_eq!(n, [1, 2, 5])\n");
  check("call with 200 arguments", &b, NS_EXIT_OK, 0);
  put(&b, "let m = max(");
  for (int i = 0; i < 201; i++) put(&b, "%s%d", i ? ", " : "", i);
  put(&b, ")\n");
  check("call with 201 arguments", &b, NS_EXIT_COMPILE, 1);
  put(&b, "fn f() { let m = max(");
  for (int i = 0; i < 1000; i++) put(&b, "%s%d", i ? ", " : "", i);
  put(&b, ") }\n");
  check("call with 1000 arguments", &b, NS_EXIT_COMPILE, 1);

  free(b.s);
  if (failures) printf("%d failure(s)\n", failures);
  return failures ? 1 : 0;
}
