/* AST construction and the S-expression dump used by `nsc parse` and the
 * parser tests.
 *
 * The dump is built as a small tree of S-expressions first, then printed:
 * a list that fits in the line width prints on one line, otherwise its head
 * and leading atoms stay on the first line and each further element goes on
 * its own line, indented two spaces. Shapes, by example:
 *   (fn main (params) (block (let (bind x) (int 1)) (tail x)))
 *   (+ a (* b c))   (- (** x (int 2)))   (call f (int 1) (arg epochs (int 2)))
 * Names and paths print bare; literals are tagged: (int 1) (float 2.5)
 * (str "a\n") (char 'x'). A missing optional part prints as `_`. */
#include "ast.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *const ns_node_names[N__COUNT] = {
#define NODE(name) #name,
    NS_NODES(NODE)
#undef NODE
};

const char *const ns_op_names[OP__COUNT] = {
#define OP(name, str) str,
    NS_OPS(OP)
#undef OP
};

Node *ast_new(Arena *a, NodeKind kind, Span span) {
  Node *n = arena_alloc(a, sizeof *n);
  n->kind = kind;
  n->span = span;
  return n;
}

void nodelist_push(Arena *a, NodeList *l, Node *n) {
  if (l->len == l->cap) {
    int cap = l->cap ? l->cap * 2 : 4;
    Node **items = arena_alloc(a, sizeof(Node *) * (size_t)cap);
    if (l->len) memcpy(items, l->items, sizeof(Node *) * (size_t)l->len);
    l->items = items;
    l->cap = cap;
  }
  l->items[l->len++] = n;
}

/* ---- S-expressions ---- */

enum { DUMP_WIDTH = 80 };

typedef struct Sx Sx;
struct Sx {
  const char *text; /* an atom, or the head of a list */
  bool list;
  Sx **kids;
  int n, cap;
  size_t width;     /* one-line length, computed on demand */
};

static Sx *sx_atom(Arena *a, const char *text) {
  Sx *s = arena_alloc(a, sizeof *s);
  s->text = text;
  return s;
}

static Sx *sx_list(Arena *a, const char *head) {
  Sx *s = sx_atom(a, head);
  s->list = true;
  return s;
}

static void sx_add(Arena *a, Sx *s, Sx *kid) {
  if (s->n == s->cap) {
    int cap = s->cap ? s->cap * 2 : 4;
    Sx **kids = arena_alloc(a, sizeof(Sx *) * (size_t)cap);
    if (s->n) memcpy(kids, s->kids, sizeof(Sx *) * (size_t)s->n);
    s->kids = kids;
    s->cap = cap;
  }
  s->kids[s->n++] = kid;
}

static void sx_word(Arena *a, Sx *s, const char *text) { sx_add(a, s, sx_atom(a, text)); }

static size_t sx_width(Sx *s) {
  if (s->width) return s->width;
  size_t w = strlen(s->text);
  if (s->list) {
    w += 2;
    for (int i = 0; i < s->n; i++) w += 1 + sx_width(s->kids[i]);
  }
  s->width = w;
  return w;
}

static void sx_flat(FILE *out, const Sx *s) {
  if (!s->list) {
    fputs(s->text, out);
    return;
  }
  fputc('(', out);
  fputs(s->text, out);
  for (int i = 0; i < s->n; i++) {
    fputc(' ', out);
    sx_flat(out, s->kids[i]);
  }
  fputc(')', out);
}

static void sx_print(FILE *out, Sx *s, int col) {
  if (!s->list || col + sx_width(s) <= DUMP_WIDTH) {
    sx_flat(out, s);
    return;
  }
  fputc('(', out);
  fputs(s->text, out);
  int i = 0;
  for (; i < s->n && !s->kids[i]->list; i++) {
    fputc(' ', out);
    fputs(s->kids[i]->text, out);
  }
  for (; i < s->n; i++) {
    fprintf(out, "\n%*s", col + 2, "");
    sx_print(out, s->kids[i], col + 2);
  }
  fputc(')', out);
}

/* ---- node to S-expression ---- */

static Sx *sx_node(Arena *a, const Node *n);

static void add_node(Arena *a, Sx *s, const Node *n) { sx_add(a, s, sx_node(a, n)); }

static void add_opt(Arena *a, Sx *s, const Node *n) {
  if (n) add_node(a, s, n);
  else sx_word(a, s, "_");
}

static void add_all(Arena *a, Sx *s, const NodeList *l) {
  for (int i = 0; i < l->len; i++) add_node(a, s, l->items[i]);
}

/* (head items...) as one child, even when empty: (params) */
static void add_group(Arena *a, Sx *s, const char *head, const NodeList *l) {
  Sx *g = sx_list(a, head);
  add_all(a, g, l);
  sx_add(a, s, g);
}

static void add_tagged(Arena *a, Sx *s, const char *tag, const Node *n) {
  if (!n) return;
  Sx *g = sx_list(a, tag);
  add_node(a, g, n);
  sx_add(a, s, g);
}

static const char *quoted(Arena *a, const char *str, size_t len, char q) {
  size_t cap = len * 4 + 3;
  char *o = arena_alloc(a, cap), *p = o;
  *p++ = q;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)str[i];
    if (c == (unsigned char)q || c == '\\') {
      *p++ = '\\';
      *p++ = (char)c;
    } else if (c == '\n') {
      *p++ = '\\', *p++ = 'n';
    } else if (c == '\t') {
      *p++ = '\\', *p++ = 't';
    } else if (c == '\r') {
      *p++ = '\\', *p++ = 'r';
    } else if (c < 0x20 || c == 0x7F) {
      p += snprintf(p, 5, "\\x%02X", c);
    } else {
      *p++ = (char)c;
    }
  }
  *p++ = q;
  *p = '\0';
  return o;
}

static const char *char_text(Arena *a, int64_t cp) {
  char buf[8];
  int n = 0;
  uint32_t c = cp < 0 || cp > 0x10FFFF ? 0xFFFD : (uint32_t)cp;
  if (c < 0x80) {
    buf[n++] = (char)c;
  } else if (c < 0x800) {
    buf[n++] = (char)(0xC0 | (c >> 6));
    buf[n++] = (char)(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    buf[n++] = (char)(0xE0 | (c >> 12));
    buf[n++] = (char)(0x80 | ((c >> 6) & 0x3F));
    buf[n++] = (char)(0x80 | (c & 0x3F));
  } else {
    buf[n++] = (char)(0xF0 | (c >> 18));
    buf[n++] = (char)(0x80 | ((c >> 12) & 0x3F));
    buf[n++] = (char)(0x80 | ((c >> 6) & 0x3F));
    buf[n++] = (char)(0x80 | (c & 0x3F));
  }
  return quoted(a, buf, (size_t)n, '\'');
}

/* Shortest text that reads back as the same double, with a '.' or an
 * exponent so it reads as a float. */
static const char *float_text(Arena *a, double v) {
  char buf[40];
  int prec = 1;
  for (; prec <= 17; prec++) {
    snprintf(buf, sizeof buf, "%.*g", prec, v);
    if (strtod(buf, NULL) == v) break;
  }
  /* %g writes 100.0 as 1e+02: keep plain notation for moderate exponents */
  char *e = strchr(buf, 'e');
  if (e) {
    int exp = atoi(e + 1);
    if (exp >= -5 && exp < 17)
      snprintf(buf, sizeof buf, "%.*f", exp < prec - 1 ? prec - 1 - exp : 0, v);
  }
  if (!strpbrk(buf, ".eEnN") && !strchr(buf, 'i')) strcat(buf, ".0");
  return arena_strndup(a, buf, strlen(buf));
}

static const char *int_text(Arena *a, int64_t v) {
  return arena_sprintf(a, "%lld", (long long)v);
}

/* The text of an IDENT or PATH node, segments joined with "::". */
static const char *path_text(Arena *a, const Node *n) {
  if (!n) return "_";
  if (n->kind == N_IDENT) return n->as.ident.name ? n->as.ident.name : "?";
  if (n->kind != N_PATH) return ns_node_names[n->kind];
  size_t len = 0;
  const NodeList *segs = &n->as.path.segments;
  for (int i = 0; i < segs->len; i++) len += strlen(path_text(a, segs->items[i])) + 2;
  char *o = arena_alloc(a, len + 1);
  for (int i = 0; i < segs->len; i++) {
    if (i) strcat(o, "::");
    strcat(o, path_text(a, segs->items[i]));
  }
  return o;
}

static void add_flag(Arena *a, Sx *s, bool on, const char *word) {
  if (on) sx_word(a, s, word);
}

static Sx *sx_node(Arena *a, const Node *n) {
  if (!n) return sx_atom(a, "_");
  Sx *s;
  switch (n->kind) {
  /* items */
  case N_FN:
    s = sx_list(a, "fn");
    sx_word(a, s, n->as.fn.name ? n->as.fn.name : "?");
    add_flag(a, s, n->as.fn.is_pub, "pub");
    add_flag(a, s, n->as.fn.is_async, "async");
    add_flag(a, s, n->as.fn.is_unsafe, "unsafe");
    if (n->as.fn.attrs.len) add_group(a, s, "attrs", &n->as.fn.attrs);
    if (n->as.fn.generics.len) add_group(a, s, "generics", &n->as.fn.generics);
    add_group(a, s, "params", &n->as.fn.params);
    add_tagged(a, s, "ret", n->as.fn.ret);
    if (n->as.fn.body) add_node(a, s, n->as.fn.body);
    return s;
  case N_STRUCT:
    s = sx_list(a, "struct");
    sx_word(a, s, n->as.strct.name);
    add_flag(a, s, n->as.strct.is_pub, "pub");
    add_flag(a, s, n->as.strct.is_tuple, "tuple");
    if (n->as.strct.attrs.len) add_group(a, s, "attrs", &n->as.strct.attrs);
    if (n->as.strct.generics.len) add_group(a, s, "generics", &n->as.strct.generics);
    add_all(a, s, &n->as.strct.fields);
    return s;
  case N_ENUM:
    s = sx_list(a, "enum");
    sx_word(a, s, n->as.enm.name);
    add_flag(a, s, n->as.enm.is_pub, "pub");
    if (n->as.enm.attrs.len) add_group(a, s, "attrs", &n->as.enm.attrs);
    if (n->as.enm.generics.len) add_group(a, s, "generics", &n->as.enm.generics);
    add_all(a, s, &n->as.enm.variants);
    return s;
  case N_VARIANT:
    s = sx_list(a, "variant");
    sx_word(a, s, n->as.variant.name);
    add_flag(a, s, n->as.variant.shape == VARIANT_TUPLE, "tuple");
    add_flag(a, s, n->as.variant.shape == VARIANT_STRUCT, "struct");
    add_all(a, s, &n->as.variant.fields);
    add_tagged(a, s, "=", n->as.variant.value);
    return s;
  case N_IMPL:
    s = sx_list(a, "impl");
    if (n->as.impl.attrs.len) add_group(a, s, "attrs", &n->as.impl.attrs);
    if (n->as.impl.generics.len) add_group(a, s, "generics", &n->as.impl.generics);
    add_node(a, s, n->as.impl.self_type);
    add_tagged(a, s, "trait", n->as.impl.trait);
    add_all(a, s, &n->as.impl.items);
    return s;
  case N_TRAIT:
    s = sx_list(a, "trait");
    sx_word(a, s, n->as.trait.name);
    add_flag(a, s, n->as.trait.is_pub, "pub");
    if (n->as.trait.attrs.len) add_group(a, s, "attrs", &n->as.trait.attrs);
    if (n->as.trait.generics.len) add_group(a, s, "generics", &n->as.trait.generics);
    if (n->as.trait.supertraits.len) add_group(a, s, "supertraits", &n->as.trait.supertraits);
    add_all(a, s, &n->as.trait.items);
    return s;
  case N_CONST:
    s = sx_list(a, "const");
    sx_word(a, s, n->as.cnst.name);
    add_flag(a, s, n->as.cnst.is_pub, "pub");
    if (n->as.cnst.attrs.len) add_group(a, s, "attrs", &n->as.cnst.attrs);
    add_opt(a, s, n->as.cnst.type);
    add_opt(a, s, n->as.cnst.value);
    return s;
  case N_USE: {
    s = sx_list(a, "use");
    add_flag(a, s, n->as.use.is_pub, "pub");
    if (n->as.use.file) {
      sx_word(a, s, quoted(a, n->as.use.file, strlen(n->as.use.file), '"'));
    } else {
      Node path = {.kind = N_PATH};
      path.as.path.segments = n->as.use.path;
      sx_word(a, s, path_text(a, &path));
    }
    if (n->as.use.glob) sx_word(a, s, "*");
    if (n->as.use.names.len) {
      Sx *g = sx_list(a, "names");
      for (int i = 0; i < n->as.use.names.len; i++) {
        const Node *leaf = n->as.use.names.items[i];
        if (leaf->as.ident.alias) {
          Sx *al = sx_list(a, "as");
          sx_word(a, al, leaf->as.ident.name);
          sx_word(a, al, leaf->as.ident.alias);
          sx_add(a, g, al);
        } else {
          sx_word(a, g, leaf->as.ident.name);
        }
      }
      sx_add(a, s, g);
    }
    if (n->as.use.alias) {
      Sx *al = sx_list(a, "as");
      sx_word(a, al, n->as.use.alias);
      sx_add(a, s, al);
    }
    return s;
  }
  case N_TYPE_ALIAS:
    s = sx_list(a, "type-alias");
    sx_word(a, s, n->as.alias.name);
    add_flag(a, s, n->as.alias.is_pub, "pub");
    if (n->as.alias.generics.len) add_group(a, s, "generics", &n->as.alias.generics);
    add_opt(a, s, n->as.alias.type);
    return s;
  case N_MOD:
    s = sx_list(a, "mod");
    sx_word(a, s, n->as.mod.name);
    add_flag(a, s, n->as.mod.is_pub, "pub");
    add_all(a, s, &n->as.mod.items);
    return s;
  case N_EXTERN:
    s = sx_list(a, "extern");
    sx_word(a, s, quoted(a, n->as.ext.abi, strlen(n->as.ext.abi), '"'));
    add_all(a, s, &n->as.ext.items);
    return s;
  case N_PARAM: {
    static const char *const self_names[] = {"", "self", "&self", "&mut self"};
    int k = n->as.param.self_kind;
    s = sx_list(a, k > 0 && k <= 3 ? self_names[k] : "param");
    if (!k) add_opt(a, s, n->as.param.pattern);
    if (n->as.param.type) add_node(a, s, n->as.param.type);
    add_tagged(a, s, "default", n->as.param.deflt);
    return s;
  }
  case N_FIELD_DEF:
    s = sx_list(a, "field");
    sx_word(a, s, n->as.field_def.name);
    add_flag(a, s, n->as.field_def.is_pub, "pub");
    add_opt(a, s, n->as.field_def.type);
    add_tagged(a, s, "default", n->as.field_def.deflt);
    return s;
  case N_GENERIC_PARAM:
    s = sx_list(a, n->as.generic.is_const ? "const" : "tparam");
    sx_word(a, s, n->as.generic.name);
    if (n->as.generic.type) add_node(a, s, n->as.generic.type);
    add_all(a, s, &n->as.generic.bounds);
    return s;
  case N_ATTR:
    s = sx_list(a, "attr");
    sx_word(a, s, n->as.attr.name);
    if (n->as.attr.args)
      sx_word(a, s, quoted(a, n->as.attr.args, strlen(n->as.attr.args), '"'));
    return s;

  /* statements */
  case N_LET:
    s = sx_list(a, "let");
    add_node(a, s, n->as.let.pattern);
    if (n->as.let.type) add_node(a, s, n->as.let.type);
    if (n->as.let.init) add_node(a, s, n->as.let.init);
    return s;
  case N_EXPR_STMT:
    s = sx_list(a, n->as.expr_stmt.has_semi ? "stmt;" : "stmt");
    add_node(a, s, n->as.expr_stmt.expr);
    return s;

  /* expressions */
  case N_INT:
    s = sx_list(a, "int");
    sx_word(a, s, int_text(a, n->as.int_lit.value));
    if (n->as.int_lit.suffix) sx_word(a, s, n->as.int_lit.suffix);
    return s;
  case N_FLOAT: case N_IMAG:
    s = sx_list(a, n->kind == N_FLOAT ? "float" : "imag");
    sx_word(a, s, float_text(a, n->as.float_lit.value));
    if (n->as.float_lit.suffix) sx_word(a, s, n->as.float_lit.suffix);
    return s;
  case N_QUANTITY:
    s = sx_list(a, "qty");
    if (n->as.quantity.is_int && fabs(n->as.quantity.value) < 9e18)
      sx_word(a, s, int_text(a, (int64_t)n->as.quantity.value));
    else
      sx_word(a, s, float_text(a, n->as.quantity.value));
    sx_word(a, s, n->as.quantity.unit ? n->as.quantity.unit : "?");
    return s;
  case N_STRING:
    s = sx_list(a, "str");
    sx_word(a, s, quoted(a, n->as.str.value ? n->as.str.value : "", n->as.str.len, '"'));
    return s;
  case N_FSTRING:
    s = sx_list(a, "fstr");
    add_all(a, s, &n->as.fstring.pieces);
    return s;
  case N_FMT_PIECE:
    s = sx_list(a, "hole");
    add_opt(a, s, n->as.fmt.expr);
    if (n->as.fmt.spec) sx_word(a, s, quoted(a, n->as.fmt.spec, strlen(n->as.fmt.spec), '"'));
    return s;
  case N_CHAR:
    s = sx_list(a, "char");
    sx_word(a, s, char_text(a, n->as.char_lit.value));
    return s;
  case N_BOOL:
    return sx_atom(a, n->as.bool_lit.value ? "true" : "false");
  case N_UNIT:
    return sx_atom(a, "()");
  case N_IDENT: case N_PATH:
    return sx_atom(a, path_text(a, n));
  case N_SELF:
    return sx_atom(a, "self");
  case N_UNARY:
    s = sx_list(a, ns_op_names[n->as.unary.op]);
    add_node(a, s, n->as.unary.operand);
    return s;
  case N_BINARY:
    s = sx_list(a, ns_op_names[n->as.binary.op]);
    add_node(a, s, n->as.binary.lhs);
    add_node(a, s, n->as.binary.rhs);
    return s;
  case N_ASSIGN:
    s = sx_list(a, arena_sprintf(a, "%s=", ns_op_names[n->as.assign.op]));
    add_node(a, s, n->as.assign.target);
    add_node(a, s, n->as.assign.value);
    return s;
  case N_CALL:
    s = sx_list(a, "call");
    add_node(a, s, n->as.call.callee);
    add_all(a, s, &n->as.call.args);
    return s;
  case N_ARG:
    if (!n->as.arg.name) return sx_node(a, n->as.arg.value);
    s = sx_list(a, "arg");
    sx_word(a, s, n->as.arg.name);
    add_node(a, s, n->as.arg.value);
    return s;
  case N_METHOD_CALL:
    s = sx_list(a, "method");
    sx_word(a, s, n->as.method.name);
    add_node(a, s, n->as.method.receiver);
    add_all(a, s, &n->as.method.args);
    return s;
  case N_FIELD:
    s = sx_list(a, "field");
    add_node(a, s, n->as.field.object);
    sx_word(a, s, n->as.field.name);
    return s;
  case N_INDEX:
    s = sx_list(a, "index");
    add_node(a, s, n->as.index.object);
    add_all(a, s, &n->as.index.indices);
    return s;
  case N_SLICE:
    s = sx_list(a, "slice");
    add_opt(a, s, n->as.slice.lo);
    add_opt(a, s, n->as.slice.hi);
    add_opt(a, s, n->as.slice.step);
    return s;
  case N_TUPLE:
    s = sx_list(a, "tuple");
    add_all(a, s, &n->as.tuple.elems);
    return s;
  case N_LIST:
    s = sx_list(a, "list");
    add_all(a, s, &n->as.list.elems);
    return s;
  case N_LIST_REPEAT:
    s = sx_list(a, "repeat");
    add_node(a, s, n->as.repeat.value);
    add_node(a, s, n->as.repeat.count);
    return s;
  case N_STRUCT_LIT:
    s = sx_list(a, "struct-lit");
    sx_word(a, s, path_text(a, n->as.struct_lit.path));
    add_all(a, s, &n->as.struct_lit.fields);
    add_tagged(a, s, "..", n->as.struct_lit.base);
    return s;
  case N_FIELD_INIT:
    s = sx_list(a, n->as.field_init.name);
    if (n->as.field_init.value) add_node(a, s, n->as.field_init.value);
    return s;
  case N_RANGE:
    s = sx_list(a, n->as.range.inclusive ? "..=" : "..");
    add_opt(a, s, n->as.range.lo);
    add_opt(a, s, n->as.range.hi);
    return s;
  case N_BLOCK:
    s = sx_list(a, n->as.block.is_unsafe ? "unsafe-block" : "block");
    add_all(a, s, &n->as.block.stmts);
    add_tagged(a, s, "tail", n->as.block.tail);
    return s;
  case N_IF:
    s = sx_list(a, n->as.if_.pattern ? "if-let" : "if");
    if (n->as.if_.pattern) add_node(a, s, n->as.if_.pattern);
    add_node(a, s, n->as.if_.cond);
    add_node(a, s, n->as.if_.then);
    if (n->as.if_.els) add_node(a, s, n->as.if_.els);
    return s;
  case N_WHILE: case N_LOOP:
    s = sx_list(a, n->kind == N_LOOP ? "loop" : n->as.loop.pattern ? "while-let" : "while");
    if (n->as.loop.label) sx_word(a, s, arena_sprintf(a, "'%s", n->as.loop.label));
    if (n->as.loop.pattern) add_node(a, s, n->as.loop.pattern);
    if (n->kind == N_WHILE) add_node(a, s, n->as.loop.cond);
    add_node(a, s, n->as.loop.body);
    return s;
  case N_FOR:
    s = sx_list(a, "for");
    if (n->as.for_.label) sx_word(a, s, arena_sprintf(a, "'%s", n->as.for_.label));
    add_node(a, s, n->as.for_.pattern);
    add_node(a, s, n->as.for_.iter);
    add_node(a, s, n->as.for_.body);
    return s;
  case N_MATCH:
    s = sx_list(a, "match");
    add_node(a, s, n->as.match.scrutinee);
    add_all(a, s, &n->as.match.arms);
    return s;
  case N_ARM:
    s = sx_list(a, "arm");
    add_node(a, s, n->as.arm.pattern);
    add_tagged(a, s, "if", n->as.arm.guard);
    add_node(a, s, n->as.arm.body);
    return s;
  case N_BREAK: case N_CONTINUE: case N_RETURN:
    s = sx_list(a, n->kind == N_BREAK ? "break" : n->kind == N_CONTINUE ? "continue" : "return");
    if (n->as.brk.label) sx_word(a, s, arena_sprintf(a, "'%s", n->as.brk.label));
    if (n->as.brk.value) add_node(a, s, n->as.brk.value);
    return s;
  case N_CLOSURE:
    s = sx_list(a, "closure");
    add_flag(a, s, n->as.closure.is_move, "move");
    add_group(a, s, "params", &n->as.closure.params);
    add_tagged(a, s, "ret", n->as.closure.ret);
    add_node(a, s, n->as.closure.body);
    return s;
  case N_MACRO:
    s = sx_list(a, arena_sprintf(a, "%s!", n->as.macro.name));
    add_all(a, s, &n->as.macro.args);
    return s;
  case N_REF:
    s = sx_list(a, n->as.ref.is_mut ? "&mut" : "&");
    add_node(a, s, n->as.ref.operand);
    return s;
  case N_TRY: case N_AWAIT: case N_ABS:
    s = sx_list(a, n->kind == N_TRY ? "?" : n->kind == N_AWAIT ? "await" : "abs");
    add_node(a, s, n->as.postfix.operand);
    return s;
  case N_CAST:
    s = sx_list(a, "as");
    add_node(a, s, n->as.cast.operand);
    add_node(a, s, n->as.cast.type);
    return s;
  case N_BIG_OP:
    s = sx_list(a, ns_op_names[n->as.big_op.op]);
    add_node(a, s, n->as.big_op.pattern);
    add_node(a, s, n->as.big_op.iter);
    add_node(a, s, n->as.big_op.body);
    return s;
  case N_NO_GRAD:
    s = sx_list(a, "no_grad");
    add_node(a, s, n->as.no_grad.body);
    return s;

  /* patterns */
  case N_PAT_WILD:
    return sx_atom(a, "_");
  case N_PAT_BIND:
    s = sx_list(a, "bind");
    add_flag(a, s, n->as.pat_bind.is_mut, "mut");
    sx_word(a, s, n->as.pat_bind.name);
    add_tagged(a, s, "@", n->as.pat_bind.sub);
    return s;
  case N_PAT_LIT:
    s = sx_list(a, "lit");
    add_node(a, s, n->as.pat_lit.value);
    return s;
  case N_PAT_RANGE:
    s = sx_list(a, n->as.pat_range.inclusive ? "prange..=" : "prange..");
    add_opt(a, s, n->as.pat_range.lo);
    add_opt(a, s, n->as.pat_range.hi);
    return s;
  case N_PAT_TUPLE:
    s = sx_list(a, "ptuple");
    add_all(a, s, &n->as.pat_tuple.elems);
    return s;
  case N_PAT_VARIANT:
    s = sx_list(a, "pvariant");
    sx_word(a, s, path_text(a, n->as.pat_variant.path));
    add_all(a, s, &n->as.pat_variant.elems);
    return s;
  case N_PAT_STRUCT:
    s = sx_list(a, "pstruct");
    sx_word(a, s, path_text(a, n->as.pat_struct.path));
    add_all(a, s, &n->as.pat_struct.fields);
    add_flag(a, s, n->as.pat_struct.rest, "..");
    return s;
  case N_PAT_OR:
    s = sx_list(a, "por");
    add_all(a, s, &n->as.pat_or.alts);
    return s;
  case N_PAT_PATH:
    s = sx_list(a, "ppath");
    sx_word(a, s, path_text(a, n->as.pat_path.path));
    return s;
  case N_PAT_REST:
    return sx_atom(a, "..");

  /* types */
  case N_TYPE_NAME:
    s = sx_list(a, "type");
    sx_word(a, s, path_text(a, n->as.type_name.path));
    add_all(a, s, &n->as.type_name.args);
    return s;
  case N_TYPE_TUPLE:
    s = sx_list(a, "tuple-type");
    add_all(a, s, &n->as.type_tuple.elems);
    return s;
  case N_TYPE_REF:
    s = sx_list(a, n->as.type_ref.is_mut ? "&mut-type" : "&type");
    add_node(a, s, n->as.type_ref.inner);
    return s;
  case N_TYPE_ARRAY:
    s = sx_list(a, "array-type");
    add_node(a, s, n->as.type_array.elem);
    if (n->as.type_array.len) add_node(a, s, n->as.type_array.len);
    return s;
  case N_TYPE_FN:
    s = sx_list(a, "fn-type");
    add_group(a, s, "params", &n->as.type_fn.params);
    add_tagged(a, s, "ret", n->as.type_fn.ret);
    return s;
  case N_TYPE_BINARY:
    s = sx_list(a, arena_sprintf(a, "unit%s", ns_op_names[n->as.type_binary.op]));
    add_node(a, s, n->as.type_binary.lhs);
    add_node(a, s, n->as.type_binary.rhs);
    return s;
  case N_TYPE_INFER:
    return sx_atom(a, "(type _)");
  case N__COUNT:
    break;
  }
  return sx_atom(a, ns_node_names[n->kind < N__COUNT ? n->kind : 0]);
}

void ast_dump(FILE *out, const Node *n, int indent) {
  Arena a;
  arena_init(&a);
  Sx *s = sx_node(&a, n);
  fprintf(out, "%*s", indent, "");
  sx_print(out, s, indent);
  fputc('\n', out);
  arena_free(&a);
}
