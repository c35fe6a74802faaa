/* ns_test_runner: runs one language test and checks the expectations
 * written inline in it (in the style of Wren's and clox's test suites).
 *
 *   ns_test_runner NSC FILE.ns        runs `NSC run FILE.ns [args]`
 *   ns_test_runner --repl NSC FILE.in runs `NSC repl < FILE.in` and compares
 *                                     stdout with FILE.out exactly
 *
 * Annotations, anywhere on a line (usually after the code):
 *   // expect: TEXT                 the next line of stdout is exactly TEXT;
 *                                   stdout has no lines beyond the last one
 *   // expect error: L:C: MESSAGE   compile error: exit 2, stderr contains
 *                                   "FILE:L:C: error: MESSAGE"
 *   // expect error: MESSAGE        stderr contains "error: MESSAGE"
 *   // expect runtime error: MSG    exit 1, stderr contains "runtime error: MSG"
 *   // expect stack: FNAME          stderr contains "at FNAME ("
 *   // expect stderr: TEXT          stderr contains TEXT, anywhere
 * Error and stack expectations are looked for in stderr without the source
 * lines a diagnostic quotes, so one written on the failing line cannot
 * match its own echo.
 *   // args: a b c                  script arguments (whitespace-separated)
 *   // stdin: TEXT                  one line of standard input (each line
 *                                   is fed followed by "\n")
 *   // exit: N                      expected exit status
 * Without an error, stack or stderr expectation the program must exit 0 and
 * write nothing to stderr. A run longer than 60 s is killed and fails.
 * A failure report names NS_JIT's value when it is set (the JIT mode).
 * Exit status: 0 pass, 1 fail, 2 bad usage or unreadable test. */
#define _POSIX_C_SOURCE 200809L

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef TIMEOUT_SECONDS
#define TIMEOUT_SECONDS 60
#endif
#define MAX_SHOWN 20 /* mismatching lines listed in a failure report */

typedef struct {
  char *data;
  size_t len, cap;
} Buf;

typedef struct {
  char *text;
  int line; /* annotation's line in the test file */
} Expect;

typedef struct {
  Expect *v;
  int n, cap;
} ExpectList;

typedef struct {
  ExpectList out;     /* // expect: */
  ExpectList needles; /* strings stderr's diagnostics must contain */
  ExpectList raw;     /* strings stderr must contain, quoted source included */
  bool compile_error, runtime_error, stderr_allowed;
  char **args;
  int nargs;
  Buf input;
  int exit_status; /* -1: not given */
} Spec;

typedef struct {
  Buf out, err;
  int status;    /* exit status, or -1 when killed by a signal */
  int signal;
  bool timed_out;
} RunResult;

static const char *test_path;
static int failures;

static void *xrealloc(void *p, size_t n) {
  p = realloc(p, n ? n : 1);
  if (!p) {
    fprintf(stderr, "ns_test_runner: out of memory\n");
    exit(2);
  }
  return p;
}

static char *xstrdup(const char *s) {
  size_t n = strlen(s) + 1;
  return memcpy(xrealloc(NULL, n), s, n);
}

static void buf_append(Buf *b, const char *s, size_t n) {
  if (b->len + n + 1 > b->cap) {
    while (b->len + n + 1 > b->cap) b->cap = b->cap ? b->cap * 2 : 4096;
    b->data = xrealloc(b->data, b->cap);
  }
  memcpy(b->data + b->len, s, n);
  b->len += n;
  b->data[b->len] = '\0';
}

static void buf_puts(Buf *b, const char *s) { buf_append(b, s, strlen(s)); }

static void expect_add(ExpectList *l, const char *text, int line) {
  if (l->n == l->cap) {
    l->cap = l->cap ? l->cap * 2 : 16;
    l->v = xrealloc(l->v, sizeof(Expect) * (size_t)l->cap);
  }
  l->v[l->n].text = xstrdup(text);
  l->v[l->n].line = line;
  l->n++;
}

static void expects_free(ExpectList *l) {
  for (int i = 0; i < l->n; i++) free(l->v[i].text);
  free(l->v);
}

static void spec_free(Spec *spec) {
  expects_free(&spec->out);
  expects_free(&spec->needles);
  expects_free(&spec->raw);
  for (int i = 0; i < spec->nargs; i++) free(spec->args[i]);
  free(spec->args);
  free(spec->input.data);
}

static void lines_free(char **lines, int n) {
  for (int i = 0; i < n; i++) free(lines[i]);
  free(lines);
}

static bool read_file(const char *path, Buf *out) {
  FILE *f = fopen(path, "rb");
  if (!f) return false;
  char chunk[8192];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) buf_append(out, chunk, n);
  bool ok = !ferror(f);
  fclose(f);
  if (!out->data) buf_append(out, "", 0);
  return ok;
}

/* Split text into lines; a final newline does not start another line. */
static char **split_lines(const char *text, size_t len, int *count) {
  char **lines = NULL;
  int n = 0, cap = 0;
  size_t i = 0;
  while (i < len) {
    size_t j = i;
    while (j < len && text[j] != '\n') j++;
    if (n == cap) {
      cap = cap ? cap * 2 : 64;
      lines = xrealloc(lines, sizeof(char *) * (size_t)cap);
    }
    lines[n] = xrealloc(NULL, j - i + 1);
    memcpy(lines[n], text + i, j - i);
    lines[n][j - i] = '\0';
    n++;
    i = j + 1;
  }
  *count = n;
  return lines;
}

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...) {
  if (failures++ == 0) {
    /* The JIT mode is part of how the test ran: the same file is run with
     * NS_JIT=1 and NS_JIT=0, and a failure is reproduced with the same. */
    const char *jit = getenv("NS_JIT");
    if (jit)
      fprintf(stderr, "FAIL %s (NS_JIT=%s)\n", test_path, jit);
    else
      fprintf(stderr, "FAIL %s\n", test_path);
  }
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
}

/* A line as a C-style quoted string, so trailing spaces and control
 * characters show. */
static void print_quoted(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
    else if (c == '\t') fputs("\\t", f);
    else if (c == '\r') fputs("\\r", f);
    else if (c < 0x20 || c == 0x7f) fprintf(f, "\\x%02x", c);
    else fputc(c, f);
  }
  fputc('"', f);
}

/* ---- annotations ---------------------------------------------------------- */

/* Text after `marker` in line, skipping one space, or NULL. */
static const char *after(const char *line, const char *marker) {
  const char *p = strstr(line, marker);
  if (!p) return NULL;
  p += strlen(marker);
  if (*p == ' ') p++;
  return p;
}

static char *trimmed(const char *s) {
  while (*s == ' ' || *s == '\t') s++;
  size_t n = strlen(s);
  while (n > 0 && isspace((unsigned char)s[n - 1])) n--;
  char *r = xrealloc(NULL, n + 1);
  memcpy(r, s, n);
  r[n] = '\0';
  return r;
}

/* "12:5: message" -> true with the position's length in *poslen. */
static bool has_position(const char *s, size_t *poslen) {
  const char *p = s;
  for (int part = 0; part < 2; part++) {
    if (!isdigit((unsigned char)*p)) return false;
    while (isdigit((unsigned char)*p)) p++;
    if (*p++ != ':') return false;
  }
  if (*p != ' ') return false;
  *poslen = (size_t)(p - s - 1);
  return true;
}

static bool parse_spec(const char *path, Spec *spec) {
  memset(spec, 0, sizeof *spec);
  spec->exit_status = -1;
  Buf src = {0};
  if (!read_file(path, &src)) {
    fprintf(stderr, "ns_test_runner: cannot read %s: %s\n", path, strerror(errno));
    free(src.data);
    return false;
  }
  int nlines;
  char **lines = split_lines(src.data, src.len, &nlines);
  bool ok = true;
  for (int i = 0; i < nlines; i++) {
    char *line = lines[i];
    size_t n = strlen(line);
    if (n > 0 && line[n - 1] == '\r') line[n - 1] = '\0';
    int lineno = i + 1;
    const char *t;
    Buf needle = {0};
    if ((t = after(line, "// expect runtime error:"))) {
      char *msg = trimmed(t);
      buf_puts(&needle, "runtime error: ");
      buf_puts(&needle, msg);
      free(msg);
      expect_add(&spec->needles, needle.data, lineno);
      spec->runtime_error = true;
    } else if ((t = after(line, "// expect error:"))) {
      char *msg = trimmed(t);
      size_t poslen;
      if (has_position(msg, &poslen)) {
        buf_puts(&needle, path);
        buf_puts(&needle, ":");
        buf_append(&needle, msg, poslen);
        buf_puts(&needle, ": error: ");
        buf_puts(&needle, msg + poslen + 2);
      } else {
        buf_puts(&needle, "error: ");
        buf_puts(&needle, msg);
      }
      free(msg);
      expect_add(&spec->needles, needle.data, lineno);
      spec->compile_error = true;
    } else if ((t = after(line, "// expect stack:"))) {
      char *fname = trimmed(t);
      buf_puts(&needle, "at ");
      buf_puts(&needle, fname);
      buf_puts(&needle, " (");
      free(fname);
      expect_add(&spec->needles, needle.data, lineno);
      spec->stderr_allowed = true;
    } else if ((t = after(line, "// expect stderr:"))) {
      char *text = trimmed(t);
      expect_add(&spec->raw, text, lineno);
      free(text);
      spec->stderr_allowed = true;
    } else if ((t = after(line, "// expect:"))) {
      expect_add(&spec->out, t, lineno);
    } else if ((t = strstr(line, "// expect")) && (t[9] == ' ' || t[9] == ':')) {
      fprintf(stderr, "%s:%d: unknown annotation: %s\n", path, lineno, t);
      ok = false;
    } else if ((t = after(line, "// args:"))) {
      char *copy = xstrdup(t);
      for (char *a = strtok(copy, " \t"); a; a = strtok(NULL, " \t")) {
        spec->args = xrealloc(spec->args, sizeof(char *) * (size_t)(spec->nargs + 1));
        spec->args[spec->nargs++] = xstrdup(a);
      }
      free(copy);
    } else if ((t = after(line, "// stdin:"))) {
      buf_puts(&spec->input, t);
      buf_puts(&spec->input, "\n");
    } else if ((t = after(line, "// exit:"))) {
      char *end;
      long v = strtol(t, &end, 10);
      if (end == t || v < 0 || v > 255) {
        fprintf(stderr, "%s:%d: bad exit status: %s\n", path, lineno, t);
        ok = false;
      }
      spec->exit_status = (int)v;
    }
    free(needle.data);
    free(line);
  }
  free(lines);
  free(src.data);
  if (spec->compile_error || spec->runtime_error) spec->stderr_allowed = true;
  return ok;
}

/* ---- running the program ---------------------------------------------------- */

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void cloexec(int fd) { fcntl(fd, F_SETFD, fcntl(fd, F_GETFD) | FD_CLOEXEC); }

/* Runs argv with `input` on its stdin, collecting stdout and stderr, for at
 * most TIMEOUT_SECONDS. The child leads its own process group, so a timeout
 * also ends anything it started. */
static void run(char **argv, const Buf *input, RunResult *r) {
  memset(r, 0, sizeof *r);
  buf_append(&r->out, "", 0);
  buf_append(&r->err, "", 0);
  int in[2], out[2], err[2];
  if (pipe(in) || pipe(out) || pipe(err)) {
    perror("ns_test_runner: pipe");
    exit(2);
  }
  int fds[] = {in[0], in[1], out[0], out[1], err[0], err[1]};
  for (int i = 0; i < 6; i++) cloexec(fds[i]);

  pid_t pid = fork();
  if (pid < 0) {
    perror("ns_test_runner: fork");
    exit(2);
  }
  if (pid == 0) {
    setpgid(0, 0);
    dup2(in[0], 0);
    dup2(out[1], 1);
    dup2(err[1], 2);
    execvp(argv[0], argv);
    fprintf(stderr, "ns_test_runner: cannot run %s: %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  setpgid(pid, pid);
  close(in[0]);
  close(out[1]);
  close(err[1]);
  fcntl(in[1], F_SETFL, fcntl(in[1], F_GETFL) | O_NONBLOCK);

  size_t written = 0, inlen = input->len;
  int infd = in[1];
  if (inlen == 0) {
    close(infd);
    infd = -1;
  }
  int outfd = out[0], errfd = err[0];
  double deadline = now_seconds() + TIMEOUT_SECONDS;
  char chunk[65536];
  while (outfd >= 0 || errfd >= 0) {
    double left = deadline - now_seconds();
    if (left <= 0) {
      r->timed_out = true;
      break;
    }
    struct pollfd p[3];
    int np = 0;
    if (outfd >= 0) p[np++] = (struct pollfd){.fd = outfd, .events = POLLIN};
    if (errfd >= 0) p[np++] = (struct pollfd){.fd = errfd, .events = POLLIN};
    if (infd >= 0) p[np++] = (struct pollfd){.fd = infd, .events = POLLOUT};
    int ready = poll(p, (nfds_t)np, (int)(left * 1000) + 1);
    if (ready < 0) {
      if (errno == EINTR) continue;
      perror("ns_test_runner: poll");
      exit(2);
    }
    for (int i = 0; i < np; i++) {
      if (!p[i].revents) continue;
      if (p[i].fd == infd) {
        ssize_t w = write(infd, input->data + written, inlen - written);
        if (w > 0) written += (size_t)w;
        if (w < 0 && errno != EAGAIN && errno != EINTR) written = inlen; /* EPIPE: it stopped reading */
        if (written == inlen) {
          close(infd);
          infd = -1;
        }
        continue;
      }
      ssize_t got = read(p[i].fd, chunk, sizeof chunk);
      if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (got <= 0) {
        close(p[i].fd);
        if (p[i].fd == outfd) outfd = -1;
        else errfd = -1;
        continue;
      }
      buf_append(p[i].fd == outfd ? &r->out : &r->err, chunk, (size_t)got);
    }
  }
  if (infd >= 0) close(infd);

  int wstatus = 0;
  while (!r->timed_out) {
    pid_t w = waitpid(pid, &wstatus, WNOHANG);
    if (w == pid) break;
    if (w < 0 && errno != EINTR) break;
    if (now_seconds() >= deadline) r->timed_out = true;
    else poll(NULL, 0, 10);
  }
  if (r->timed_out) {
    kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
    waitpid(pid, &wstatus, 0);
  }
  if (outfd >= 0) close(outfd);
  if (errfd >= 0) close(errfd);
  if (WIFEXITED(wstatus)) {
    r->status = WEXITSTATUS(wstatus);
  } else {
    r->status = -1;
    r->signal = WIFSIGNALED(wstatus) ? WTERMSIG(wstatus) : 0;
  }
}

/* ---- checks --------------------------------------------------------------- */

static bool check_status(const RunResult *r, int expected) {
  if (r->timed_out) {
    fail("  timed out after %d s (killed)\n", TIMEOUT_SECONDS);
    return false;
  }
  if (r->status < 0) {
    fail("  killed by signal %d (%s), expected exit status %d\n", r->signal,
         strsignal(r->signal), expected);
    return false;
  }
  if (r->status != expected) {
    fail("  exit status %d, expected %d\n", r->status, expected);
    return false;
  }
  return true;
}

/* Line-by-line comparison; `where` gives the source of each expected line
 * (annotation line numbers) or is NULL (a .out file). */
static void check_lines(const char *what, char **want, const int *where, int nwant,
                        const Buf *actual) {
  int ngot;
  char **got = split_lines(actual->data, actual->len, &ngot);
  int n = nwant > ngot ? nwant : ngot, shown = 0, bad = 0;
  for (int i = 0; i < n; i++) {
    bool same = i < nwant && i < ngot && strcmp(want[i], got[i]) == 0;
    if (same) continue;
    if (bad++ == 0) fail("  %s differs (line: expected / actual):\n", what);
    if (shown++ >= MAX_SHOWN) continue;
    fprintf(stderr, "  %4d  expected ", i + 1);
    if (i < nwant) print_quoted(stderr, want[i]);
    else fputs("(nothing: extra output)", stderr);
    if (where && i < nwant) fprintf(stderr, "  [%s:%d]", test_path, where[i]);
    fprintf(stderr, "\n        actual   ");
    if (i < ngot) print_quoted(stderr, got[i]);
    else fputs("(missing)", stderr);
    fputc('\n', stderr);
  }
  if (shown > MAX_SHOWN) fprintf(stderr, "  ... %d more differing lines\n", shown - MAX_SHOWN);
  lines_free(got, ngot);
}

/* stderr without the source lines a diagnostic quotes ("   12 | code",
 * "      |   ^"): an expectation written on the failing line itself would
 * otherwise always find its own text there. */
static void diagnostics_only(const Buf *err, Buf *out) {
  const char *p = err->data ? err->data : "";
  while (*p) {
    const char *nl = strchr(p, '\n');
    size_t n = nl ? (size_t)(nl - p + 1) : strlen(p);
    const char *q = p;
    while (q < p + n && *q == ' ') q++;
    while (q < p + n && isdigit((unsigned char)*q)) q++;
    bool quoted = q > p && q + 1 < p + n && (q[0] == '|' || (q[0] == ' ' && q[1] == '|'));
    if (!quoted) buf_append(out, p, n);
    p += n;
  }
  buf_append(out, "", 0);
}

static void show_output(const char *name, const Buf *b) {
  if (b->len == 0) return;
  const size_t limit = 4000;
  fprintf(stderr, "  --- %s%s ---\n", name, b->len > limit ? " (first 4000 bytes)" : "");
  fwrite(b->data, 1, b->len > limit ? limit : b->len, stderr);
  if (b->data[(b->len > limit ? limit : b->len) - 1] != '\n') fputc('\n', stderr);
}

static int run_test(const char *nsc, const char *path) {
  Spec spec;
  if (!parse_spec(path, &spec)) {
    spec_free(&spec);
    return 2;
  }

  char **argv = xrealloc(NULL, sizeof(char *) * (size_t)(spec.nargs + 4));
  int argc = 0;
  argv[argc++] = (char *)nsc;
  argv[argc++] = "run";
  argv[argc++] = (char *)path;
  for (int i = 0; i < spec.nargs; i++) argv[argc++] = spec.args[i];
  argv[argc] = NULL;
  RunResult r;
  run(argv, &spec.input, &r);

  int expected = spec.exit_status >= 0 ? spec.exit_status
                 : spec.compile_error  ? 2
                 : spec.runtime_error  ? 1
                                       : 0;
  check_status(&r, expected);

  char **want = xrealloc(NULL, sizeof(char *) * (size_t)(spec.out.n + 1));
  int *where = xrealloc(NULL, sizeof(int) * (size_t)(spec.out.n + 1));
  for (int i = 0; i < spec.out.n; i++) {
    want[i] = spec.out.v[i].text;
    where[i] = spec.out.v[i].line;
  }
  check_lines("stdout", want, where, spec.out.n, &r.out);

  Buf diag = {0};
  diagnostics_only(&r.err, &diag);
  for (int i = 0; i < spec.needles.n; i++) {
    if (!strstr(diag.data ? diag.data : "", spec.needles.v[i].text)) {
      fail("  stderr lacks ");
      print_quoted(stderr, spec.needles.v[i].text);
      fprintf(stderr, "  [%s:%d]\n", path, spec.needles.v[i].line);
    }
  }
  free(diag.data);
  for (int i = 0; i < spec.raw.n; i++) {
    if (!strstr(r.err.data ? r.err.data : "", spec.raw.v[i].text)) {
      fail("  stderr lacks ");
      print_quoted(stderr, spec.raw.v[i].text);
      fprintf(stderr, "  [%s:%d]\n", path, spec.raw.v[i].line);
    }
  }
  if (!spec.stderr_allowed && r.err.len > 0) fail("  unexpected output on stderr\n");

  if (failures) {
    show_output("stdout", &r.out);
    show_output("stderr", &r.err);
  }
  free(want);
  free(where);
  free(argv);
  free(r.out.data);
  free(r.err.data);
  spec_free(&spec);
  return failures ? 1 : 0;
}

static int run_repl_test(const char *nsc, const char *path) {
  Buf input = {0}, want = {0};
  if (!read_file(path, &input)) {
    fprintf(stderr, "ns_test_runner: cannot read %s: %s\n", path, strerror(errno));
    free(input.data);
    return 2;
  }
  size_t n = strlen(path);
  char *outpath = xrealloc(NULL, n + 5);
  memcpy(outpath, path, n + 1);
  if (n > 3 && strcmp(path + n - 3, ".in") == 0) outpath[n - 3] = '\0';
  strcat(outpath, ".out");
  if (!read_file(outpath, &want)) {
    fprintf(stderr, "ns_test_runner: cannot read %s: %s\n", outpath, strerror(errno));
    free(input.data);
    free(outpath);
    return 2;
  }

  char *argv[] = {(char *)nsc, "repl", NULL};
  RunResult r;
  run(argv, &input, &r);
  check_status(&r, 0);
  int nwant;
  char **lines = split_lines(want.data, want.len, &nwant);
  check_lines("stdout", lines, NULL, nwant, &r.out);
  if (failures) {
    fprintf(stderr, "  (expected output: %s)\n", outpath);
    show_output("stdout", &r.out);
    show_output("stderr", &r.err);
  }
  lines_free(lines, nwant);
  free(r.out.data);
  free(r.err.data);
  free(input.data);
  free(want.data);
  free(outpath);
  return failures ? 1 : 0;
}

int main(int argc, char **argv) {
  signal(SIGPIPE, SIG_IGN);
  setenv("NO_COLOR", "1", 1);
  bool repl = argc == 4 && strcmp(argv[1], "--repl") == 0;
  if (!repl && argc != 3) {
    fprintf(stderr,
            "usage: ns_test_runner NSC FILE.ns\n"
            "       ns_test_runner --repl NSC FILE.in\n");
    return 2;
  }
  const char *nsc = argv[repl ? 2 : 1];
  test_path = argv[repl ? 3 : 2];
  return repl ? run_repl_test(nsc, test_path) : run_test(nsc, test_path);
}
