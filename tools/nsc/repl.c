/* The REPL: reads an entry (one line, or several while the text ends inside
 * an open bracket, block or string), runs it in the session's main module
 * and lets the API print the value of a final expression. Lines starting
 * with ':' are REPL commands. On a terminal, libedit gives line editing and
 * a history kept in ~/.nsc_history. Its readline() is a layer over the
 * wide-character el_wgets(), which decodes keystrokes with the LC_CTYPE
 * locale: input_locale() makes that UTF-8. */
#define _POSIX_C_SOURCE 200809L

#include <langinfo.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <editline/readline.h>

#include "repl.h"

#define PROMPT "ns> "
#define CONTINUE_PROMPT "..> "
#define HISTORY_FILE ".nsc_history"
#define HISTORY_MAX 1000
#define ENTRY_NAME "<repl>"

static const char help_text[] =
    "REPL commands:\n"
    "  :help          show this help\n"
    "  :type EXPR     show the type of EXPR's value\n"
    "  :time EXPR     evaluate EXPR, print its value and the time it took\n"
    "  :load FILE     run FILE in this session; its definitions stay\n"
    "  :disasm CODE   show the bytecode CODE compiles to\n"
    "  :quit, :q      leave (so does Ctrl-D)\n"
    "Definitions (let, fn, struct, ...) stay for the rest of the session and\n"
    "the value of an expression is printed. An entry that ends inside a\n"
    "bracket, block or string continues on the next line (prompt ..>); two\n"
    "empty lines end it anyway.\n";

typedef struct {
  char *data;
  size_t len, cap;
} Text;

static bool text_append(Text *t, const char *s, size_t n) {
  if (t->len + n + 1 > t->cap) {
    size_t cap = t->cap ? t->cap : 256;
    while (t->len + n + 1 > cap) cap *= 2;
    char *grown = realloc(t->data, cap);
    if (!grown) return false;
    t->data = grown;
    t->cap = cap;
  }
  memcpy(t->data + t->len, s, n);
  t->len += n;
  t->data[t->len] = '\0';
  return true;
}

static char *history_path(void) {
  const char *home = getenv("HOME");
  if (!home || !*home) return NULL;
  size_t n = strlen(home) + sizeof "/" HISTORY_FILE;
  char *path = malloc(n);
  if (path) snprintf(path, n, "%s/%s", home, HISTORY_FILE);
  return path;
}

/* libedit decodes keystrokes (and encodes the line it returns) with the
 * LC_CTYPE locale; in the "C" locale every program starts in, it drops
 * every byte above 127, so `θ` never reached the parser. Take the user's
 * locale when it is UTF-8; otherwise (LANG=C, POSIX, or an 8-bit
 * locale) read UTF-8 anyway through C.UTF-8, since source text is UTF-8.
 * Only LC_CTYPE changes: numbers keep formatting with '.' whatever
 * LC_NUMERIC says, and in any UTF-8 locale the <ctype.h> functions treat
 * single bytes as in "C". */
static void input_locale(void) {
  if (setlocale(LC_CTYPE, "") && !strcmp(nl_langinfo(CODESET), "UTF-8")) return;
  if (!setlocale(LC_CTYPE, "C.UTF-8")) setlocale(LC_CTYPE, "C"); /* ASCII input only */
}

/* One line without its newline (malloc'd), or NULL at end of input. */
static char *read_line(bool interactive, const char *prompt) {
  if (interactive) return readline(prompt);
  char *line = NULL;
  size_t cap = 0;
  ssize_t n = getline(&line, &cap, stdin);
  if (n < 0) {
    free(line);
    return NULL;
  }
  while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = '\0';
  return line;
}

static const char *skip_space(const char *s) {
  while (*s == ' ' || *s == '\t') s++;
  return s;
}

static bool is_blank(const char *s) { return *skip_space(s) == '\0'; }

static char *read_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  Text t = {0};
  char chunk[8192];
  size_t n;
  bool ok = text_append(&t, "", 0);
  while (ok && (n = fread(chunk, 1, sizeof chunk, f)) > 0) ok = text_append(&t, chunk, n);
  if (ferror(f)) ok = false;
  fclose(f);
  if (!ok) {
    free(t.data);
    return NULL;
  }
  return t.data;
}

static void cmd_load(NsVM *vm, const char *path) {
  char *text = read_file(path);
  if (!text) {
    fprintf(stderr, "error: cannot read %s\n", path);
    return;
  }
  ns_run_string(vm, path, text, true, NULL);
  free(text);
}

static void cmd_time(NsVM *vm, const char *code) {
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  ns_run_string(vm, ENTRY_NAME, code, true, NULL);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
  printf("time: %.3f ms\n", ms);
}

/* Runs a `:command arg` line; false means leave the REPL. */
static bool run_command(NsVM *vm, const char *line) {
  const char *name = line + 1;
  size_t n = strcspn(name, " \t");
  const char *arg = skip_space(name + n);
  char *argcopy = strdup(arg);
  if (!argcopy) return true;
  size_t alen = strlen(argcopy);
  while (alen > 0 && (argcopy[alen - 1] == ' ' || argcopy[alen - 1] == '\t')) argcopy[--alen] = '\0';

#define IS(s) (n == sizeof(s) - 1 && strncmp(name, s, n) == 0)
  bool keep_going = true;
  bool needs_arg = IS("type") || IS("time") || IS("load") || IS("disasm");
  if (needs_arg && alen == 0) {
    fprintf(stderr, "usage: :%.*s %s\n", (int)n, name, IS("load") ? "FILE" : IS("disasm") ? "CODE" : "EXPR");
  } else if (IS("help") || IS("h") || IS("?")) {
    fputs(help_text, stdout);
  } else if (IS("quit") || IS("q") || IS("exit")) {
    keep_going = false;
  } else if (IS("type")) {
    ns_print_type(vm, argcopy, stdout);
  } else if (IS("time")) {
    cmd_time(vm, argcopy);
  } else if (IS("load")) {
    cmd_load(vm, argcopy);
  } else if (IS("disasm")) {
    ns_disasm_string(vm, ENTRY_NAME, argcopy, stdout);
  } else {
    fprintf(stderr, "unknown command :%.*s (:help lists the commands)\n", (int)n, name);
  }
#undef IS
  free(argcopy);
  return keep_going;
}

int repl_run(NsVM *vm, bool interactive) {
  char *hist = NULL;
  if (interactive) {
    input_locale();
    rl_readline_name = "nsc";
    rl_bind_key('\t', rl_insert); /* indent rather than complete file names */
    using_history();
    stifle_history(HISTORY_MAX);
    hist = history_path();
    if (hist) read_history(hist);
    printf("NeuralScript %s. Type :help for help, :quit or Ctrl-D to leave.\n", NS_VERSION);
  }

  Text entry = {0};
  int empty_lines = 0;
  for (;;) {
    fflush(stdout);
    char *line = read_line(interactive, entry.len ? CONTINUE_PROMPT : PROMPT);
    if (!line) {
      /* End of input inside an entry: run it without the incomplete flag
       * so the parser reports what is missing. */
      if (interactive) {
        putchar('\n');
        fflush(stdout);
      }
      if (entry.len) ns_run_string(vm, ENTRY_NAME, entry.data, true, NULL);
      break;
    }
    if (interactive && !is_blank(line)) add_history(line);

    if (entry.len == 0) {
      const char *p = skip_space(line);
      if (*p == '\0') {
        free(line);
        continue;
      }
      if (*p == ':') {
        bool go = run_command(vm, p);
        free(line);
        if (!go) break;
        continue;
      }
    }

    empty_lines = is_blank(line) ? empty_lines + 1 : 0;
    bool ok = text_append(&entry, line, strlen(line)) && text_append(&entry, "\n", 1);
    free(line);
    if (!ok) {
      fputs("error: out of memory\n", stderr);
      entry.len = 0;
      continue;
    }
    bool incomplete = false;
    ns_run_string(vm, ENTRY_NAME, entry.data, true, empty_lines >= 2 ? NULL : &incomplete);
    if (!incomplete) {
      entry.len = 0;
      empty_lines = 0;
    }
  }
  fflush(stdout);
  free(entry.data);
  if (hist) {
    write_history(hist);
    free(hist);
  }
  return NS_EXIT_OK;
}
