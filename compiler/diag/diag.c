/* Sources and diagnostics: reading files, mapping byte offsets to
 * line:column, collecting diagnostics and printing them with the source
 * line and a caret. */
#define _POSIX_C_SOURCE 200809L /* fileno */
#include "diag.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "arena.h"

#define TAB_WIDTH 4

static void *xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (!p) ns_oom(n);
  return p;
}

static char *xstrdup(const char *s) {
  size_t n = strlen(s) + 1;
  return memcpy(xmalloc(n), s, n);
}

/* ---- sources ---- */

Source *source_new(const char *path, const char *text, size_t len) {
  Source *src = xmalloc(sizeof *src);
  src->path = xstrdup(path ? path : "<input>");
  src->text = xmalloc(len + 1);
  if (len) memcpy(src->text, text, len);
  src->text[len] = '\0';
  src->len = len;
  src->line_starts = NULL;
  src->nlines = 0;
  return src;
}

/* Reads through a growing buffer rather than trusting the file size, so
 * pipes and /dev/stdin work too. Offsets are 32-bit, hence the size cap;
 * what is not a regular file (a pipe, a device) is read up to 256 MiB, so
 * an endless input such as /dev/zero ends with an error. */
Source *source_read_file(const char *path, char *err, size_t errlen) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    if (err) snprintf(err, errlen, "cannot read '%s': %s", path, strerror(errno));
    return NULL;
  }
  struct stat st;
  bool regular = fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode);
  if (!regular && S_ISDIR(st.st_mode)) {
    if (err) snprintf(err, errlen, "cannot read '%s': Is a directory", path);
    fclose(f);
    return NULL;
  }
  size_t cap = 4096, len = 0, limit = regular ? (size_t)UINT32_MAX : (size_t)256 << 20;
  char *buf = xmalloc(cap);
  for (;;) {
    if (len == cap) {
      if (cap >= limit) {
        if (err)
          snprintf(err, errlen, regular ? "cannot read '%s': file is larger than 4 GiB"
                                        : "cannot read '%s': not a regular file and longer than 256 MiB",
                   path);
        free(buf);
        fclose(f);
        return NULL;
      }
      cap *= 2;
      char *nb = realloc(buf, cap);
      if (!nb) ns_oom(cap);
      buf = nb;
    }
    size_t n = fread(buf + len, 1, cap - len, f);
    len += n;
    if (n == 0) break;
  }
  if (ferror(f)) {
    int e = errno;
    if (err) snprintf(err, errlen, "cannot read '%s': %s", path, e ? strerror(e) : "read error");
    free(buf);
    fclose(f);
    return NULL;
  }
  fclose(f);
  if (len >= (size_t)UINT32_MAX) {
    if (err) snprintf(err, errlen, "cannot read '%s': file is larger than 4 GiB", path);
    free(buf);
    return NULL;
  }
  Source *src = source_new(path, buf, len);
  free(buf);
  return src;
}

void source_free(Source *src) {
  if (!src) return;
  free(src->path);
  free(src->text);
  free(src->line_starts);
  free(src);
}

static void build_lines(Source *src) {
  uint32_t n = 1;
  for (const char *p = src->text, *end = src->text + src->len;
       (p = memchr(p, '\n', (size_t)(end - p))) != NULL; p++)
    n++;
  src->line_starts = xmalloc(sizeof(uint32_t) * n);
  src->line_starts[0] = 0;
  uint32_t i = 1;
  for (size_t k = 0; k < src->len; k++)
    if (src->text[k] == '\n') src->line_starts[i++] = (uint32_t)k + 1;
  src->nlines = n;
}

/* A UTF-8 continuation byte does not start a column; every other byte
 * (lead bytes, ASCII, stray invalid bytes) does. */
static int is_cont(unsigned char c) { return (c & 0xC0) == 0x80; }

void source_position(Source *src, uint32_t offset, int *line, int *col) {
  if (!src->line_starts) build_lines(src);
  if (offset > src->len) offset = (uint32_t)src->len;
  uint32_t lo = 0, hi = src->nlines; /* last line start <= offset */
  while (hi - lo > 1) {
    uint32_t mid = lo + (hi - lo) / 2;
    if (src->line_starts[mid] <= offset)
      lo = mid;
    else
      hi = mid;
  }
  int c = 1;
  for (uint32_t k = src->line_starts[lo]; k < offset; k++)
    if (!is_cont((unsigned char)src->text[k])) c++;
  if (line) *line = (int)lo + 1;
  if (col) *col = c;
}

const char *source_line(Source *src, int line, size_t *len) {
  if (!src->line_starts) build_lines(src);
  if (line < 1 || (uint32_t)line > src->nlines) {
    if (len) *len = 0;
    return "";
  }
  uint32_t start = src->line_starts[line - 1];
  uint32_t end = (uint32_t)line < src->nlines ? src->line_starts[line] - 1 : (uint32_t)src->len;
  if (end > start && src->text[end - 1] == '\r') end--;
  if (len) *len = end - start;
  return src->text + start;
}

/* ---- diagnostic list ---- */

void diag_init(DiagList *dl) {
  dl->head = dl->tail = NULL;
  dl->nerrors = 0;
  dl->max_errors = 0;
}

void diag_free(DiagList *dl) {
  Diag *d = dl->head;
  while (d) {
    Diag *next = d->next;
    free(d->message);
    free(d->hint);
    free(d);
    d = next;
  }
  dl->head = dl->tail = NULL;
  dl->nerrors = 0;
}

static char *vformat(const char *fmt, va_list ap) {
  va_list ap2;
  va_copy(ap2, ap);
  int n = vsnprintf(NULL, 0, fmt, ap2);
  va_end(ap2);
  if (n < 0) n = 0;
  char *s = xmalloc((size_t)n + 1);
  s[0] = '\0';
  vsnprintf(s, (size_t)n + 1, fmt, ap);
  return s;
}

static int stored_errors(const DiagList *dl) {
  int n = 0;
  for (const Diag *d = dl->head; d; d = d->next) n += d->level == DIAG_ERROR;
  return n;
}

static Diag *append(DiagList *dl, DiagLevel level, Source *src, Span span, char *msg) {
  int max = dl->max_errors > 0 ? dl->max_errors : 100;
  if (level == DIAG_ERROR) dl->nerrors++;
  /* Past the limit errors are only counted; notes and warnings that follow
   * belong to dropped errors, so they go too. */
  if (dl->nerrors > max) {
    free(msg);
    return NULL;
  }
  Diag *d = xmalloc(sizeof *d);
  d->level = level;
  d->src = src;
  d->span = span;
  d->message = msg;
  d->hint = NULL;
  d->next = NULL;
  if (dl->tail)
    dl->tail->next = d;
  else
    dl->head = d;
  dl->tail = d;
  return d;
}

void diag_vadd(DiagList *dl, DiagLevel level, Source *src, Span span,
               const char *fmt, va_list ap) {
  append(dl, level, src, span, vformat(fmt, ap));
}

Diag *diag_add(DiagList *dl, DiagLevel level, Source *src, Span span, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *msg = vformat(fmt, ap);
  va_end(ap);
  return append(dl, level, src, span, msg);
}

void diag_hint(Diag *d, const char *fmt, ...) {
  if (!d) return; /* the diagnostic was over the limit */
  va_list ap;
  va_start(ap, fmt);
  free(d->hint);
  d->hint = vformat(fmt, ap);
  va_end(ap);
}

/* ---- printing ---- */

#define C_RESET "\x1b[0m"
#define C_BOLD "\x1b[1m"
#define C_GUTTER "\x1b[1;34m"
#define C_HINT "\x1b[1;36m"

static const char *level_name(DiagLevel l) {
  return l == DIAG_ERROR ? "error" : l == DIAG_WARNING ? "warning" : "note";
}

static const char *level_color(DiagLevel l) {
  return l == DIAG_ERROR ? "\x1b[1;31m" : l == DIAG_WARNING ? "\x1b[1;33m" : "\x1b[1;36m";
}

/* Display width of the code point starting at p (tabs expand, control
 * bytes print as one space). */
static int cp_width(unsigned char c) { return c == '\t' ? TAB_WIDTH : 1; }

/* A source line longer than this many bytes is shown as a window around the
 * caret ("..." marking the cut ends), so a minified or generated file does
 * not print its whole length once per diagnostic. */
#define LINE_SHOWN_MAX 200
#define LINE_SHOWN_BEFORE 80

static void print_line_text(FILE *out, const char *s, size_t len) {
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '\t')
      fputs("    ", out);
    else if (c < 0x20 || c == 0x7F)
      fputc(' ', out);
    else
      fputc(c, out);
  }
}

void diag_print(FILE *out, const Diag *d, bool color) {
  const char *lc = level_color(d->level);
  if (!d->src) {
    fprintf(out, "%s%s:%s %s%s%s\n", color ? lc : "", level_name(d->level), color ? C_RESET : "",
            color ? C_BOLD : "", d->message, color ? C_RESET : "");
  } else {
    Source *src = d->src;
    int line, col;
    source_position(src, d->span.start, &line, &col);
    fprintf(out, "%s%s:%d:%d:%s %s%s:%s %s%s%s\n", color ? C_BOLD : "", src->path, line, col,
            color ? C_RESET : "", color ? lc : "", level_name(d->level), color ? C_RESET : "",
            color ? C_BOLD : "", d->message, color ? C_RESET : "");

    size_t len;
    const char *text = source_line(src, line, &len);
    size_t first = d->span.start - (uint32_t)(text - src->text);
    size_t last = d->span.end > d->span.start ? d->span.end - (uint32_t)(text - src->text) : first;
    bool cut_before = false, cut_after = false;
    if (len > LINE_SHOWN_MAX) {
      size_t lo = first > LINE_SHOWN_BEFORE ? first - LINE_SHOWN_BEFORE : 0;
      if (lo > len) lo = len;
      while (lo > 0 && lo < len && is_cont((unsigned char)text[lo])) lo++;
      size_t hi = lo + LINE_SHOWN_MAX < len ? lo + LINE_SHOWN_MAX : len;
      while (hi < len && hi > lo && is_cont((unsigned char)text[hi])) hi--;
      cut_before = lo > 0;
      cut_after = hi < len;
      text += lo;
      len = hi - lo;
      first = first > lo ? first - lo : 0;
      last = last > lo ? last - lo : 0;
    }
    if (last > len) last = len;
    int width = 5;
    for (int n = line; n >= 100000; n /= 10) width++;
    fprintf(out, "%s%*d |%s", color ? C_GUTTER : "", width, line, color ? C_RESET : "");
    if (len) fputc(' ', out);
    if (cut_before) fputs("...", out);
    print_line_text(out, text, len);
    if (cut_after) fputs("...", out);
    fputc('\n', out);

    /* Caret under the first code point of the span, '~' under the rest of
     * the span as far as this line goes. */
    fprintf(out, "%s%*s |%s ", color ? C_GUTTER : "", width, "", color ? C_RESET : "");
    if (cut_before) fputs("   ", out);
    for (size_t i = 0; i < first && i < len; i++) {
      unsigned char c = (unsigned char)text[i];
      if (is_cont(c)) continue;
      for (int k = cp_width(c); k > 0; k--) fputc(' ', out);
    }
    fputs(color ? lc : "", out);
    fputc('^', out);
    int rest = first < len ? cp_width((unsigned char)text[first]) - 1 : 0;
    for (size_t i = first + 1; i < last; i++) {
      unsigned char c = (unsigned char)text[i];
      if (!is_cont(c)) rest += cp_width(c);
    }
    for (; rest > 0; rest--) fputc('~', out);
    fputs(color ? C_RESET : "", out);
    fputc('\n', out);
  }
  if (d->hint)
    fprintf(out, "%shint:%s %s\n", color ? C_HINT : "", color ? C_RESET : "", d->hint);
}

void diag_print_all(FILE *out, const DiagList *dl, bool color) {
  for (const Diag *d = dl->head; d; d = d->next) diag_print(out, d, color);
  int hidden = dl->nerrors - stored_errors(dl);
  if (hidden > 0)
    fprintf(out, "%snote:%s %d more error%s not shown\n", color ? level_color(DIAG_NOTE) : "",
            color ? C_RESET : "", hidden, hidden == 1 ? "" : "s");
}

/* ---- "did you mean" ---- */

#define NAME_MAX_CPS 64

/* Code points of s (invalid bytes count as one each); at most max. */
static int to_cps(const char *s, uint32_t *out, int max) {
  int n = 0;
  const unsigned char *p = (const unsigned char *)s;
  while (*p && n < max) {
    uint32_t c = *p++;
    if (c >= 0xC0) {
      int extra = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : 1;
      c &= 0x3F >> extra;
      for (; extra > 0 && is_cont(*p); extra--) c = (c << 6) | (*p++ & 0x3F);
    }
    out[n++] = c;
  }
  return *p ? -1 : n;
}

/* Levenshtein distance with adjacent transpositions counted as one edit
 * (optimal string alignment), so "lenght" finds "length". */
static int edit_distance(const uint32_t *a, int n, const uint32_t *b, int m) {
  int rows[3][NAME_MAX_CPS + 1];
  int *prev2 = rows[0], *prev = rows[1], *cur = rows[2];
  for (int j = 0; j <= m; j++) prev[j] = j;
  for (int i = 1; i <= n; i++) {
    cur[0] = i;
    for (int j = 1; j <= m; j++) {
      int cost = a[i - 1] != b[j - 1];
      int v = prev[j - 1] + cost;
      if (prev[j] + 1 < v) v = prev[j] + 1;
      if (cur[j - 1] + 1 < v) v = cur[j - 1] + 1;
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && prev2[j - 2] + 1 < v)
        v = prev2[j - 2] + 1;
      cur[j] = v;
    }
    int *t = prev2;
    prev2 = prev;
    prev = cur;
    cur = t;
  }
  return prev[m];
}

const char *diag_closest(const char *name, const char *const *names, int n) {
  uint32_t a[NAME_MAX_CPS], b[NAME_MAX_CPS];
  int na = to_cps(name, a, NAME_MAX_CPS);
  if (na <= 0) return NULL;
  int limit = na / 3 > 1 ? na / 3 : 1;
  const char *best = NULL;
  int best_d = limit + 1;
  for (int i = 0; i < n; i++) {
    if (!names[i]) continue;
    int nb = to_cps(names[i], b, NAME_MAX_CPS);
    if (nb < 0 || abs(nb - na) >= best_d) continue;
    int d = edit_distance(a, na, b, nb);
    if (d < best_d) {
      best_d = d;
      best = names[i];
    }
  }
  return best;
}
