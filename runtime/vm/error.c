/* Runtime errors: the pending message (vm_error), the stack trace entries
 * (trace_push: the interpreter loop adds its frames as an error unwinds
 * them, call.c the natives in between), and printing both as
 * "file:line:col: runtime error: ..." with the source line and the trace
 * (recursion folded into "... N more frames"). */
#define _POSIX_C_SOURCE 200809L /* fileno */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "diag.h"
#include "vm_int.h"

bool vm_error(VM *vm, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(vm->error, sizeof vm->error, fmt, ap);
  va_end(ap);
  vm->has_error = true;
  return false;
}

void vm_clear_error(VM *vm) {
  for (int i = 0; i < vm->ntrace; i++) {
    free(vm->trace[i].function);
    free(vm->trace[i].path);
  }
  free(vm->trace);
  vm->trace = NULL;
  vm->ntrace = 0;
  vm->has_error = false;
  vm->error[0] = '\0';
}

static char *dup_cstr(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (!d) {
    fputs("nsc: out of memory\n", stderr);
    exit(1);
  }
  memcpy(d, s, n);
  return d;
}

void trace_push(VM *vm, const char *function, Source *src, uint32_t offset) {
  /* Capacity is the next power of two >= 8 above ntrace. */
  if (vm->ntrace == 0 || (vm->ntrace >= 8 && (vm->ntrace & (vm->ntrace - 1)) == 0)) {
    size_t cap = vm->ntrace == 0 ? 8 : (size_t)vm->ntrace * 2;
    TraceEntry *t = realloc(vm->trace, sizeof(TraceEntry) * cap);
    if (!t) {
      fputs("nsc: out of memory\n", stderr);
      exit(1);
    }
    vm->trace = t;
  }
  TraceEntry *e = &vm->trace[vm->ntrace++];
  e->function = dup_cstr(function);
  e->src = src;
  e->path = src ? dup_cstr(src->path) : NULL;
  e->line = e->col = 0;
  if (src) source_position(src, offset, &e->line, &e->col);
}

static bool same_entry(const TraceEntry *a, const TraceEntry *b) {
  if (strcmp(a->function, b->function) != 0) return false;
  if ((a->path == NULL) != (b->path == NULL)) return false;
  if (a->path && strcmp(a->path, b->path) != 0) return false;
  return a->line == b->line && a->col == b->col;
}

static void print_entry(FILE *f, const TraceEntry *e) {
  if (e->path)
    fprintf(f, "  at %s (%s:%d:%d)\n", e->function, e->path, e->line, e->col);
  else
    fprintf(f, "  at %s\n", e->function);
}

/* The source line with a caret under the column, as diagnostics show it. */
static void print_snippet(FILE *f, Source *src, int line, int col, bool color) {
  size_t len;
  const char *text = source_line(src, line, &len);
  if (!text) return;
  fprintf(f, "%5d | %.*s\n", line, (int)len, text);
  fputs("      | ", f);
  int c = 1;
  for (size_t i = 0; i < len && c < col; i++) {
    unsigned char ch = (unsigned char)text[i];
    if ((ch & 0xC0) == 0x80) continue;
    fputc(ch == '\t' ? '\t' : ' ', f);
    c++;
  }
  fprintf(f, "%s^%s\n", color ? "\033[1;31m" : "", color ? "\033[0m" : "");
}

void vm_print_error(VM *vm) {
  FILE *f = vm->err ? vm->err : stderr;
  vm_end_output_line(vm, f); /* the program's output first, when both go to one place */
  const char *bold = vm->color ? "\033[1m" : "";
  const char *red = vm->color ? "\033[1;31m" : "";
  const char *reset = vm->color ? "\033[0m" : "";
  /* The headline points at the innermost frame of the user's code: an
   * unwrap() failing inside the prelude is reported where it was called. */
  const TraceEntry *top = NULL;
  for (int i = 0; i < vm->ntrace && !top; i++)
    if (vm->trace[i].path && strncmp(vm->trace[i].path, "<stdlib>/", 9) != 0) top = &vm->trace[i];
  for (int i = 0; i < vm->ntrace && !top; i++)
    if (vm->trace[i].path) top = &vm->trace[i];
  if (top)
    fprintf(f, "%s%s:%d:%d: %sruntime error:%s%s %s%s\n", bold, top->path, top->line, top->col, red,
            reset, bold, vm->error, reset);
  else
    fprintf(f, "%sruntime error:%s%s %s%s\n", red, reset, bold, vm->error, reset);
  if (top && top->src) print_snippet(f, top->src, top->line, top->col, vm->color);
  if (vm->ntrace == 0) return;
  fputs("stack trace:\n", f);
  /* Recursion shows as a block of 1-4 entries repeated: print it (a single
   * frame three times) and count the rest. */
  const TraceEntry *t = vm->trace;
  int n = vm->ntrace;
  for (int i = 0; i < n;) {
    int period = 1, reps = 1;
    for (int p = 1; p <= 4 && i + p <= n; p++) {
      int r = 1;
      while (i + (r + 1) * p <= n) {
        bool same = true;
        for (int q = 0; q < p && same; q++) same = same_entry(&t[i + q], &t[i + r * p + q]);
        if (!same) break;
        r++;
      }
      if (r >= 4) {
        period = p;
        reps = r;
        break;
      }
    }
    if (reps < 4) {
      print_entry(f, &t[i]);
      i++;
      continue;
    }
    int show = period == 1 ? 3 : 1;
    for (int s = 0; s < show; s++)
      for (int q = 0; q < period; q++) print_entry(f, &t[i + q]);
    int more = (reps - show) * period;
    if (period == 1)
      fprintf(f, "  ... %d more frames of %s\n", more, t[i].function);
    else
      fprintf(f, "  ... %d more frames repeating the %d above\n", more, period);
    i += reps * period;
  }
}

/* (vm.h) out_midline is kept by the print natives (runtime/lang). */
void vm_end_output_line(VM *vm, FILE *to) {
  if (!vm->out) return;
  fflush(vm->out);
  if (!vm->out_midline) return;
  struct stat a, b;
  if (fstat(fileno(vm->out), &a) == 0 && fstat(fileno(to), &b) == 0 && a.st_dev == b.st_dev &&
      a.st_ino == b.st_ino) {
    fputc('\n', to);
    vm->out_midline = false;
  }
}
