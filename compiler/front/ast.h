/* The abstract syntax tree. One Node type for items, statements,
 * expressions, patterns and types; every node has a source span. Nodes and
 * their lists live in the compilation's arena. */
#ifndef NS_AST_H
#define NS_AST_H

#include <stdbool.h>
#include <stdint.h>

#include "arena.h"
#include "diag.h"

typedef struct Node Node;

typedef struct NodeList {
  Node **items;
  int len, cap;
} NodeList;

void nodelist_push(Arena *a, NodeList *l, Node *n);

/* NODE(name) -- the fields each kind uses are documented in struct Node. */
#define NS_NODES(NODE)                                                         \
  /* items */                                                                  \
  NODE(FN) NODE(STRUCT) NODE(ENUM) NODE(VARIANT) NODE(IMPL) NODE(TRAIT)        \
  NODE(CONST) NODE(USE) NODE(TYPE_ALIAS) NODE(MOD) NODE(EXTERN)                \
  NODE(PARAM) NODE(FIELD_DEF) NODE(GENERIC_PARAM) NODE(ATTR)                   \
  /* statements */                                                             \
  NODE(LET) NODE(EXPR_STMT)                                                    \
  /* expressions */                                                            \
  NODE(INT) NODE(FLOAT) NODE(IMAG) NODE(QUANTITY) NODE(STRING) NODE(FSTRING)   \
  NODE(FMT_PIECE) NODE(CHAR) NODE(BOOL) NODE(UNIT)                             \
  NODE(IDENT) NODE(PATH) NODE(SELF)                                            \
  NODE(UNARY) NODE(BINARY) NODE(ASSIGN)                                        \
  NODE(CALL) NODE(ARG) NODE(METHOD_CALL) NODE(FIELD) NODE(INDEX) NODE(SLICE)   \
  NODE(TUPLE) NODE(LIST) NODE(LIST_REPEAT) NODE(STRUCT_LIT) NODE(FIELD_INIT)   \
  NODE(RANGE) NODE(BLOCK) NODE(IF) NODE(WHILE) NODE(LOOP) NODE(FOR)            \
  NODE(MATCH) NODE(ARM) NODE(BREAK) NODE(CONTINUE) NODE(RETURN)                \
  NODE(CLOSURE) NODE(MACRO) NODE(REF) NODE(TRY) NODE(AWAIT) NODE(CAST)         \
  NODE(ABS) NODE(BIG_OP) NODE(NO_GRAD)                                         \
  /* patterns */                                                               \
  NODE(PAT_WILD) NODE(PAT_BIND) NODE(PAT_LIT) NODE(PAT_RANGE) NODE(PAT_TUPLE)  \
  NODE(PAT_VARIANT) NODE(PAT_STRUCT) NODE(PAT_OR) NODE(PAT_PATH) NODE(PAT_REST)\
  /* types */                                                                  \
  NODE(TYPE_NAME) NODE(TYPE_TUPLE) NODE(TYPE_REF) NODE(TYPE_ARRAY)             \
  NODE(TYPE_FN) NODE(TYPE_BINARY) NODE(TYPE_INFER)

typedef enum {
#define NODE(name) N_##name,
  NS_NODES(NODE)
#undef NODE
  N__COUNT
} NodeKind;

extern const char *const ns_node_names[N__COUNT];

/* Operators of UNARY / BINARY / ASSIGN nodes. ASSIGN uses OP_NONE for plain
 * '=' and the arithmetic op for compound forms ('+=' is OP_ADD). */
#define NS_OPS(OP)                                                             \
  OP(NONE, "")                                                                 \
  OP(ADD, "+") OP(SUB, "-") OP(MUL, "*") OP(DIV, "/") OP(MOD, "%")             \
  OP(POW, "**") OP(MATMUL, "⊙") OP(OUTER, "⊗") OP(DOT, "⋅")                    \
  OP(BITAND, "&") OP(BITOR, "|") OP(SHL, "<<") OP(SHR, ">>")                   \
  OP(AND, "&&") OP(OR, "||")                                                   \
  OP(EQ, "==") OP(NE, "!=") OP(LT, "<") OP(GT, ">") OP(LE, "<=") OP(GE, ">=")  \
  OP(APPROX, "≈") OP(IN, "∈") OP(NOT_IN, "∉")                                  \
  /* unary */                                                                  \
  OP(NEG, "-") OP(NOT, "!") OP(SQRT, "√") OP(CBRT, "∛") OP(GRAD, "∇")          \
  OP(PARTIAL, "∂") OP(DEREF, "*") OP(SUM, "∑") OP(PROD, "∏") OP(ABS, "|x|")

typedef enum {
#define OP(name, str) OP_##name,
  NS_OPS(OP)
#undef OP
  OP__COUNT
} OpKind;

extern const char *const ns_op_names[OP__COUNT];

enum {
  SELF_NONE = 0, /* param is not self */
  SELF_VALUE,    /* self */
  SELF_REF,      /* &self */
  SELF_MUT_REF   /* &mut self */
};

enum { VARIANT_UNIT, VARIANT_TUPLE, VARIANT_STRUCT };

struct Node {
  NodeKind kind;
  Span span;
  union {
    /* ---- items ---- */
    struct { /* FN: also trait method signatures (body == NULL) and extern fns */
      const char *name;
      NodeList generics; /* GENERIC_PARAM */
      NodeList params;   /* PARAM */
      Node *ret;         /* type or NULL */
      Node *body;        /* BLOCK or NULL */
      NodeList attrs;    /* ATTR */
      bool is_pub, is_async, is_unsafe;
    } fn;
    struct { /* STRUCT: `struct P { x: f64 }`, tuple struct `struct P(f64)`, unit `struct P;` */
      const char *name;
      NodeList generics;
      NodeList fields; /* FIELD_DEF; tuple structs name fields "0","1",.. */
      NodeList attrs;
      bool is_pub, is_tuple;
    } strct;
    struct { /* ENUM */
      const char *name;
      NodeList generics;
      NodeList variants; /* VARIANT */
      NodeList attrs;
      bool is_pub;
    } enm;
    struct { /* VARIANT: Red | Some(T) | Move { x: i32 } */
      const char *name;
      int shape;       /* VARIANT_UNIT / _TUPLE / _STRUCT */
      NodeList fields; /* FIELD_DEF (tuple variants: names "0","1",..) */
      Node *value;     /* explicit discriminant `A = 3`, or NULL */
    } variant;
    struct { /* IMPL: impl<T> Trait for Type<T> { items } */
      NodeList generics;
      Node *trait;     /* TYPE_NAME or NULL */
      Node *self_type; /* TYPE_NAME */
      NodeList items;  /* FN, CONST, TYPE_ALIAS */
      NodeList attrs;
    } impl;
    struct { /* TRAIT */
      const char *name;
      NodeList generics;
      NodeList supertraits; /* TYPE_NAME */
      NodeList items;       /* FN (body may be NULL), CONST, TYPE_ALIAS */
      NodeList attrs;
      bool is_pub;
    } trait;
    struct { /* CONST (also `static`) */
      const char *name;
      Node *type;  /* or NULL */
      Node *value;
      NodeList attrs;
      bool is_pub;
    } cnst;
    struct { /* USE: `use a::b::c;` `use a::b::{c, d as e};` `use a::*;`
                `import "file.ns";` `use a::b as m;` */
      NodeList path;    /* IDENT segments; empty for a string import */
      const char *file; /* `import "x.ns"`: the string, else NULL */
      NodeList names;   /* IDENT leaves of a {..} list; .ident.alias for `as` */
      const char *alias;/* `as m` on the whole path, or NULL */
      bool glob;        /* ::* */
      bool is_pub;
    } use;
    struct { /* TYPE_ALIAS: type Newton = Kilogram*Meter/(Second*Second) */
      const char *name;
      NodeList generics;
      Node *type;
      bool is_pub;
    } alias;
    struct { /* MOD: mod name { items } */
      const char *name;
      NodeList items;
      bool is_pub;
    } mod;
    struct { /* EXTERN: extern "libm.so.6" { fn cosf(x: f32) -> f32; } */
      const char *abi; /* the string ("C" or a library name) */
      NodeList items;  /* FN with body == NULL; fn.is_unsafe marks variadic `...` */
    } ext;
    struct { /* PARAM: `mut x: T = default`, `self`, `&self`, `&mut self` */
      Node *pattern;   /* PAT_BIND usually; NULL for self params */
      Node *type;      /* or NULL */
      Node *deflt;     /* default value or NULL */
      int self_kind;   /* SELF_* */
    } param;
    struct { /* FIELD_DEF */
      const char *name;
      Node *type; /* or NULL */
      Node *deflt;/* `x: f64 = 0.0` default in struct defs, or NULL */
      bool is_pub;
    } field_def;
    struct { /* GENERIC_PARAM: `T: Numeric + Clone`, `const N: usize` */
      const char *name;
      NodeList bounds; /* TYPE_NAME */
      Node *type;      /* const generics: the type; else NULL */
      bool is_const;
    } generic;
    struct { /* ATTR: #[name(args...)] or @name; args kept as raw text */
      const char *name;
      const char *args; /* text inside the parentheses, or NULL */
    } attr;

    /* ---- statements ---- */
    struct { /* LET: let mut (a, b): T = init else { ... } */
      Node *pattern;
      Node *type; /* or NULL */
      Node *init; /* or NULL */
    } let;
    struct { /* EXPR_STMT */
      Node *expr;
      bool has_semi;
    } expr_stmt;

    /* ---- expressions ---- */
    struct { int64_t value; const char *suffix; } int_lit;       /* INT */
    struct { double value; const char *suffix; } float_lit;      /* FLOAT, IMAG */
    struct { double value; const char *unit; bool is_int; } quantity; /* QUANTITY */
    struct { const char *value; uint32_t len; } str;             /* STRING */
    struct { NodeList pieces; } fstring; /* FSTRING: STRING and FMT_PIECE nodes */
    struct { /* FMT_PIECE: {expr:spec} or a positional {} filled by an arg */
      Node *expr;
      const char *spec; /* text after ':', or NULL */
    } fmt;
    struct { int64_t value; } char_lit;  /* CHAR: code point */
    struct { bool value; } bool_lit;     /* BOOL */
    struct { /* IDENT, also used for path segments and use-list leaves */
      const char *name;
      const char *alias; /* use-lists: `d as e` */
    } ident;
    struct { /* PATH: a::b::C (segments are IDENT nodes; generic args dropped) */
      NodeList segments;
    } path;
    struct { /* UNARY. ∇ψ written without a space (∇ψ, ∇ψ.x, ∇ψ[0]) also
              * has name "∇ψ" and as_name, the same expression read with
              * ∇ψ as a variable, compiled instead where one is in scope */
      OpKind op;
      Node *operand;
      const char *name;
      Node *as_name;
    } unary;
    struct { OpKind op; Node *lhs, *rhs; } binary;  /* BINARY */
    struct { OpKind op; Node *target, *value; } assign; /* ASSIGN */
    struct { /* CALL */
      Node *callee;
      NodeList args; /* ARG */
    } call;
    struct { /* ARG: positional (name == NULL) or named `epochs: 100` */
      const char *name;
      Node *value;
    } arg;
    struct { /* METHOD_CALL: recv.name(args) */
      Node *receiver;
      const char *name;
      Span name_span;
      NodeList args; /* ARG */
    } method;
    struct { /* FIELD: obj.name, tuple index obj.0 (name "0") */
      Node *object;
      const char *name;
      Span name_span;
    } field;
    struct { /* INDEX: obj[i], obj[i, j], obj[1:3, :] */
      Node *object;
      NodeList indices; /* expressions or SLICE */
    } index;
    struct { /* SLICE: lo:hi:step inside [], any part NULL */
      Node *lo, *hi, *step;
    } slice;
    struct { NodeList elems; } tuple;  /* TUPLE (len >= 2, or 1 with trailing comma) */
    struct { NodeList elems; } list;   /* LIST: [a, b], vec![a, b] */
    struct { Node *value, *count; } repeat; /* LIST_REPEAT: [0; n], vec![0; n] */
    struct { /* STRUCT_LIT: Path { a: 1, b, ..base } */
      Node *path;      /* IDENT or PATH */
      NodeList fields; /* FIELD_INIT */
      Node *base;      /* ..base or NULL */
    } struct_lit;
    struct { const char *name; Node *value; } field_init; /* FIELD_INIT (value NULL: shorthand) */
    struct { Node *lo, *hi; bool inclusive; } range;     /* RANGE: lo/hi may be NULL */
    struct { /* BLOCK: { stmts; tail } */
      NodeList stmts; /* LET, EXPR_STMT and items */
      Node *tail;     /* final expression without ';', or NULL */
      bool is_unsafe;
    } block;
    struct { /* IF: if cond {..} else ..; `if let PAT = cond` sets pattern */
      Node *pattern; /* NULL unless if-let */
      Node *cond;
      Node *then;    /* BLOCK */
      Node *els;     /* BLOCK, IF or NULL */
    } if_;
    struct { /* WHILE (while-let sets pattern), LOOP (cond NULL) */
      Node *pattern;
      Node *cond;
      Node *body;
      const char *label; /* 'outer: or NULL */
    } loop;
    struct { /* FOR: for pat in iter { body } */
      Node *pattern;
      Node *iter;
      Node *body;
      const char *label;
    } for_;
    struct { /* MATCH */
      Node *scrutinee;
      NodeList arms; /* ARM */
    } match;
    struct { /* ARM: pat if guard => body */
      Node *pattern;
      Node *guard; /* or NULL */
      Node *body;
    } arm;
    struct { Node *value; const char *label; } brk; /* BREAK, CONTINUE, RETURN (value) */
    struct { /* CLOSURE: |a, b: T| -> R expr */
      NodeList params; /* PARAM */
      Node *ret;
      Node *body;
      bool is_move;
    } closure;
    struct { /* MACRO: println!(...), vec![...], tensor![...], format!(...) */
      const char *name; /* without '!' */
      NodeList args;    /* expressions; a format string's pieces are parsed
                           into an FSTRING as args.items[0] */
      bool bracketed;   /* used [..] */
    } macro;
    struct { Node *operand; bool is_mut; } ref; /* REF: &x, &mut x */
    struct { Node *operand; } postfix;           /* TRY (x?), AWAIT (x.await), ABS |x| */
    struct { Node *operand; Node *type; } cast;  /* CAST: x as f32 */
    struct { /* BIG_OP: ∑ i in 1..=n { i² }, ∏ x in xs { x } */
      OpKind op;      /* OP_SUM or OP_PROD */
      Node *pattern;  /* binding */
      Node *iter;
      Node *body;     /* BLOCK */
    } big_op;
    struct { Node *body; } no_grad; /* NO_GRAD: no_grad { ... } */

    /* ---- patterns ---- */
    struct { /* PAT_BIND: mut name @ sub, ref name */
      const char *name;
      bool is_mut;
      Node *sub; /* or NULL */
    } pat_bind;
    struct { Node *value; } pat_lit;                      /* PAT_LIT: literal expr (INT FLOAT STRING CHAR BOOL, negated numbers) */
    struct { Node *lo, *hi; bool inclusive; } pat_range;  /* PAT_RANGE: 1..=5, 'a'..='z' (bounds are PAT_LIT values' exprs) */
    struct { NodeList elems; } pat_tuple;                 /* PAT_TUPLE, may contain PAT_REST */
    struct { Node *path; NodeList elems; } pat_variant;   /* PAT_VARIANT: Some(x), Shape::Circle(r) */
    struct { Node *path; NodeList fields; bool rest; } pat_struct; /* PAT_STRUCT: P { x, y: 0, .. } fields are FIELD_INIT (value = pattern or NULL) */
    struct { NodeList alts; } pat_or;                     /* PAT_OR: a | b */
    struct { Node *path; } pat_path;                      /* PAT_PATH: None, Color::Red (IDENT or PATH) */

    /* ---- types ---- */
    struct { /* TYPE_NAME: Matrix<f64, 784, 128>, Vec<T>, a::B */
      Node *path;    /* IDENT or PATH */
      NodeList args; /* types or const expressions ([784, 128] is a LIST) */
    } type_name;
    struct { NodeList elems; } type_tuple;              /* TYPE_TUPLE: (A, B), () */
    struct { Node *inner; bool is_mut; } type_ref;      /* TYPE_REF: &T, &mut T */
    struct { Node *elem; Node *len; } type_array;       /* TYPE_ARRAY: [T; N] or [T] (len NULL) */
    struct { NodeList params; Node *ret; } type_fn;     /* TYPE_FN: fn(A, B) -> C */
    struct { OpKind op; Node *lhs, *rhs; } type_binary; /* TYPE_BINARY: unit algebra Kilogram*Meter, Meter/Second, Second^2 (OP_MUL/OP_DIV/OP_POW) */
  } as;
};

Node *ast_new(Arena *a, NodeKind kind, Span span);

/* A parsed module: the top-level items and statements in source order. */
typedef struct {
  NodeList items; /* items, LET and EXPR_STMT nodes */
} Ast;

/* Print a tree as an indented S-expression (nsc parse, tests). */
#include <stdio.h>
void ast_dump(FILE *out, const Node *n, int indent);

#endif
