/* Parser tests: each case parses a snippet and compares the S-expression
 * dump of its top-level items (whitespace runs folded to one space), the
 * diagnostics it reports ("line:col: message", one per line), its
 * PARSE_INCOMPLETE status, or the source text a node's span covers. The
 * last part feeds seeded random token soups and bytes to the parser: it
 * must neither crash nor hang. Exit status 0 when every case passes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parser.h"

static int failures, cases;

typedef struct {
  ParseResult result;
  char *dump;   /* items, whitespace folded */
  char *errors; /* "line:col: message" lines */
  int nerrors;
} Parsed;

static char *read_all(FILE *f) {
  long n = ftell(f);
  rewind(f);
  char *s = malloc((size_t)n + 1);
  size_t got = fread(s, 1, (size_t)n, f);
  s[got] = '\0';
  return s;
}

/* Folds every run of whitespace into one space and trims the ends. */
static void fold_spaces(char *s) {
  char *o = s;
  bool space = false;
  for (char *p = s; *p; p++) {
    if (*p == ' ' || *p == '\n' || *p == '\t') {
      space = o > s;
      continue;
    }
    if (space) *o++ = ' ';
    space = false;
    *o++ = *p;
  }
  *o = '\0';
}

/* Span checks: `pick` walks from the first item to a node, whose span is
 * left in picked_span (the arena is gone by the time the check runs). */
typedef Node *(*Pick)(Node *item);
static Span picked_span;

static Parsed parse_with(const char *text, Pick pick) {
  Source *src = source_new("test.ns", text, strlen(text));
  Arena arena;
  arena_init(&arena);
  DiagList diags;
  diag_init(&diags);
  Ast ast;
  Parsed r;
  r.result = parse_module(src, &arena, &diags, &ast);
  FILE *f = tmpfile();
  for (int i = 0; i < ast.items.len; i++) ast_dump(f, ast.items.items[i], 0);
  r.dump = read_all(f);
  fclose(f);
  fold_spaces(r.dump);
  if (pick && ast.items.len > 0) {
    Node *n = pick(ast.items.items[0]);
    picked_span = n ? n->span : (Span){0, 0};
  }
  f = tmpfile();
  r.nerrors = 0;
  for (Diag *d = diags.head; d; d = d->next) {
    int line, col;
    source_position(src, d->span.start, &line, &col);
    fprintf(f, "%d:%d: %s\n", line, col, d->message);
    if (d->hint) fprintf(f, "  hint: %s\n", d->hint);
    r.nerrors++;
  }
  r.errors = read_all(f);
  fclose(f);
  diag_free(&diags);
  arena_free(&arena);
  source_free(src);
  return r;
}

static Parsed parse(const char *text) { return parse_with(text, NULL); }

static void done(Parsed *r) {
  free(r->dump);
  free(r->errors);
}

static void fail(int line, const char *text, const char *what, const char *want, const char *got) {
  failures++;
  fprintf(stderr, "test_parser.c:%d: %s\n  input: %s\n  want:  %s\n  got:   %s\n", line, what,
          text, want, got);
}

/* The snippet parses without errors and dumps as `want`. */
static void check_ast(int line, const char *text, const char *want) {
  cases++;
  Parsed r = parse(text);
  if (r.result != PARSE_OK || r.nerrors)
    fail(line, text, "unexpected errors", "(none)", r.errors);
  else if (strcmp(r.dump, want) != 0)
    fail(line, text, "wrong tree", want, r.dump);
  done(&r);
}
#define AST(text, want) check_ast(__LINE__, text, want)

/* The snippet fails with exactly these diagnostics: "line:col: message"
 * lines, each followed by "  hint: ..." when it has one. */
static void check_errors_as(int line, const char *text, const char *want, ParseResult result) {
  cases++;
  Parsed r = parse(text);
  if (r.result != result) {
    char want_r[64], got[64];
    snprintf(want_r, sizeof want_r, "result %d", (int)result);
    snprintf(got, sizeof got, "result %d", (int)r.result);
    fail(line, text, "wrong parse result", want_r, got);
  } else if (strcmp(r.errors, want) != 0) {
    fail(line, text, "wrong diagnostics", want, r.errors);
  }
  done(&r);
}
static void check_errors(int line, const char *text, const char *want) {
  check_errors_as(line, text, want, PARSE_ERROR);
}
#define ERRORS(text, want) check_errors(__LINE__, text, want)
/* Errors after which the tree is whole: it is compiled for the program's
 * other errors (PARSE_ERROR_SOUND). */
#define SOUND_ERRORS(text, want) check_errors_as(__LINE__, text, want, PARSE_ERROR_SOUND)

static void check_incomplete(int line, const char *text, bool want) {
  cases++;
  Parsed r = parse(text);
  if ((r.result == PARSE_INCOMPLETE) != want)
    fail(line, text, want ? "expected PARSE_INCOMPLETE" : "expected a complete parse",
         want ? "incomplete" : "not incomplete", r.errors);
  done(&r);
}
#define INCOMPLETE(text) check_incomplete(__LINE__, text, true)
#define NOT_INCOMPLETE(text) check_incomplete(__LINE__, text, false)

static void check_span(int line, const char *text, Pick pick, const char *want) {
  cases++;
  Parsed r = parse_with(text, pick);
  char got[256];
  uint32_t s = picked_span.start, e = picked_span.end;
  if (e > strlen(text) || s > e) snprintf(got, sizeof got, "bad span %u..%u", s, e);
  else snprintf(got, sizeof got, "%.*s", (int)(e - s), text + s);
  if (r.result != PARSE_OK) fail(line, text, "unexpected errors", "(none)", r.errors);
  else if (strcmp(got, want) != 0) fail(line, text, "wrong span", want, got);
  done(&r);
}
#define SPAN(text, pick, want) check_span(__LINE__, text, pick, want)

/* ---- span pickers ---- */

static Node *pick_item(Node *n) { return n; }
static Node *pick_let_init(Node *n) { return n->as.let.init; }
static Node *pick_let_rhs(Node *n) { return n->as.let.init->as.binary.rhs; }
static Node *pick_hole_expr(Node *n) {
  Node *fs = n->as.expr_stmt.expr->as.macro.args.items[0];
  return fs->as.fstring.pieces.items[1]->as.fmt.expr;
}
static Node *pick_fstring_hole(Node *n) {
  return n->as.let.init->as.fstring.pieces.items[0]->as.fmt.expr;
}

/* ---- cases ---- */

static void test_precedence(void) {
  AST("a + b * c", "(stmt (+ a (* b c)))");
  AST("-x²", "(stmt (- (** x (int 2))))");
  AST("2^3^2", "(stmt (** (int 2) (** (int 3) (int 2))))");
  AST("-x**2", "(stmt (- (** x (int 2))))");
  AST("2 ** -1", "(stmt (** (int 2) (- (int 1))))");
  AST("(a + b)³ * x⁻¹", "(stmt (* (** (+ a b) (int 3)) (** x (int -1))))");
  AST("a..b", "(stmt (.. a b))");
  AST("let r = (..5, 3.., .., 1..=n, 0..n + 1)",
      "(let (bind r) (tuple (.. _ (int 5)) (.. (int 3) _) (.. _ _) (..= (int 1) n) "
      "(.. (int 0) (+ n (int 1)))))");
  AST("a || b && c == d | e & f << g + h * i as f32",
      "(stmt (|| a (&& b (== c (| d (& e (<< f (+ g (* h (as i (type f32)))))))))))");
  AST("x = y += 1", "(stmt (= x (+= y (int 1))))");
  AST("w -= lr × g; v ×= 2; m ÷= 3; k %= 2",
      "(stmt; (-= w (* lr g))) (stmt; (*= v (int 2))) (stmt; (/= m (int 3))) (stmt (%= k (int 2)))");
  AST("a ⊙ b @ c ⊗ d ⋅ e", "(stmt (⋅ (⊗ (⊙ (⊙ a b) c) d) e))");
  AST("¬a ∧ b ∨ c ≤ d", "(stmt (|| (&& (! a) b) (<= c d)))");
  AST("(a ≠ b) ≡ c", "(stmt (== (!= a b) c))");
}

static void test_unary_and_postfix(void) {
  AST("√x + ∛y - ∇loss * ∂f", "(stmt (- (+ (√ x) (∛ y)) (* (∇ loss) (∂ f))))");
  AST("*p = &x; &mut y", "(stmt; (= (* p) (& x))) (stmt (&mut y))");
  AST("-x as f32", "(stmt (as (- x) (type f32)))");
  AST("i as usize < n", "(stmt (< (as i (type usize)) n))");
  AST("x ∈ 1..5 && y ∉ 0..=n - 1 || z ∈ ..3",
      "(stmt (|| (&& (∈ x (.. (int 1) (int 5))) (∉ y (..= (int 0) (- n (int 1))))) (∈ z (.. _ (int 3)))))");
  AST("if x ∈ 1..=3 { }", "(stmt (if (∈ x (..= (int 1) (int 3))) (block)))");
  AST("x ∈ s && y ∉ t && a ≈ b",
      "(stmt (&& (&& (∈ x s) (∉ y t)) (≈ a b)))");
  AST("∑ i in 1..=n { i² }", "(stmt (∑ (bind i) (..= (int 1) n) (block (tail (** i (int 2))))))");
  AST("∑(xs) + ∏xs", "(stmt (+ (∑ xs) (∏ xs)))");
  AST("∏ (i, j) in pairs { i * j }",
      "(stmt (∏ (ptuple (bind i) (bind j)) pairs (block (tail (* i j)))))");
  AST("train(d, epochs: 100)", "(stmt (call train d (arg epochs (int 100))))");
  AST("x.m(1).f.0.await?", "(stmt (? (await (field (field (method m x (int 1)) f) 0))))");
  AST("t.0.1", "(stmt (field (field t 0) 1))");
  AST("a[i, j]", "(stmt (index a i j))");
  AST("x[0:32, :]", "(stmt (index x (slice (int 0) (int 32) _) (slice _ _ _)))");
  AST("a[1:3] + a[::2] + a[1:10:2] + a[:, 0]",
      "(stmt (+ (+ (+ (index a (slice (int 1) (int 3) _)) (index a (slice _ _ (int 2)))) "
      "(index a (slice (int 1) (int 10) (int 2)))) (index a (slice _ _ _) (int 0))))");
  AST("v.iter().collect::<Vec<Vec<f64>>>()", "(stmt (method collect (method iter v)))");
  AST("Vec::<i32>::new()", "(stmt (call Vec::new))");
}

static void test_literals(void) {
  AST("let a = (1u8, 2.5f32, 0x_ff, 2.8i, 9.8_m/s², 100_kg, ½)",
      "(let (bind a) (tuple (int 1 u8) (float 2.5 f32) (int 255) (imag 2.8) (qty 9.8 m/s²) "
      "(qty 100 kg) (float 0.5)))");
  AST("let s = (\"a\\n\\\"b\", r\"c\\d\", 'x', 'θ', true, false, ())",
      "(let (bind s) (tuple (str \"a\\n\\\"b\") (str \"c\\\\d\") (char 'x') (char 'θ') true "
      "false ()))");
  AST("let t = ((a,), (a, b), [1, 2], [0; n], [])",
      "(let (bind t) (tuple (tuple a) (tuple a b) (list (int 1) (int 2)) (repeat (int 0) n) (list)))");
  AST("let z = 3.5+2.8i", "(let (bind z) (+ (float 3.5) (imag 2.8)))");
  AST("let q = 777777777777777777777777777777_m", "(let (bind q) (qty 7.777777777777778e+29 m))");
  AST("self.x + Self::ZERO + a::b::C", "(stmt (+ (+ (field self x) Self::ZERO) a::b::C))");
}

static void test_closures(void) {
  AST("let f = |x, y| x + y", "(let (bind f) (closure (params (param (bind x)) (param (bind y))) (+ x y)))");
  AST("let f = |x: f64| -> f64 { x * 2.0 }",
      "(let (bind f) (closure (params (param (bind x) (type f64))) (ret (type f64)) "
      "(block (tail (* x (float 2.0))))))");
  AST("let f = || 42", "(let (bind f) (closure (params) (int 42)))");
  AST("let f = move |x| x", "(let (bind f) (closure move (params (param (bind x))) x))");
  AST("xs.map(|(a, b)| a * b)", "(stmt (method map xs (closure (params (param (ptuple (bind a) (bind b)))) (* a b))))");
  AST("let n = |z| + |a - b| / 2", "(let (bind n) (+ (abs z) (/ (abs (- a b)) (int 2))))");
  AST("let g = |x| -x", "(let (bind g) (closure (params (param (bind x))) (- x)))");
  AST("f(|x| {\n  let y = x\n  y * 2\n})",
      "(stmt (call f (closure (params (param (bind x))) (block (let (bind y) x) (tail (* y (int 2)))))))");
}

static void test_struct_literals(void) {
  AST("let p = P { a: 1, b, ..base }", "(let (bind p) (struct-lit P (a (int 1)) (b) (.. base)))");
  AST("let e = Shape::Circle { r: 1.0 }", "(let (bind e) (struct-lit Shape::Circle (r (float 1.0))))");
  AST("let u = Unit {}", "(let (bind u) (struct-lit Unit))");
  AST("let p = P {\n  x: 1\n  y: 2\n}", "(let (bind p) (struct-lit P (x (int 1)) (y (int 2))))");
  /* heads of if/while/for/match never take `Name {` as a literal */
  AST("if x == y { z }", "(stmt (if (== x y) (block (tail z))))");
  AST("while n < limit { n += 1 }", "(stmt (while (< n limit) (block (tail (+= n (int 1))))))");
  AST("for p in points { }", "(stmt (for (bind p) points (block)))");
  AST("match s { _ => 1 }", "(stmt (match s (arm _ (int 1))))");
  AST("if p == (P { x: 1 }) { }", "(stmt (if (== p (struct-lit P (x (int 1)))) (block)))");
  /* elsewhere `Name {` needs a field-like start */
  AST("let a = b\n{ c }", "(let (bind a) b) (stmt (block (tail c)))");
}

static void test_macros_and_formats(void) {
  AST("vec![0; 10]", "(stmt (vec! (repeat (int 0) (int 10))))");
  AST("tensor![[1, 2], [3, 4]]", "(stmt (tensor! (list (int 1) (int 2)) (list (int 3) (int 4))))");
  AST("m!{a, b}", "(stmt (m! a b))");
  AST("println!(\"x = {x:.2f} and {} {{}}\", y)",
      "(stmt (println! (fstr (str \"x = \") (hole x \".2f\") (str \" and \") (hole y) (str \" {}\"))))");
  AST("println!(\"{1} {0:?}\", a, b)", "(stmt (println! (fstr (hole b) (str \" \") (hole a \"?\"))))");
  AST("println!(\"tab\\t{}\\n\", a)", "(stmt (println! (fstr (str \"tab\\t\") (hole a) (str \"\\n\"))))");
  AST("print!(r\"{x}\\n\")", "(stmt (print! (fstr (hole x) (str \"\\\\n\"))))");
  AST("let s = format!(\"{n} = {}\", n = 3, v)",
      "(let (bind s) (format! (fstr (hole (int 3)) (str \" = \") (hole v))))");
  AST("write!(f, \"{}\", x)", "(stmt (write! f (fstr (hole x))))");
  AST("assert!(ok, \"bad {}\", v)", "(stmt (assert! ok (fstr (str \"bad \") (hole v))))");
  AST("let s = f\"{a + 1:>8} {{x}} {p.name}\"",
      "(let (bind s) (fstr (hole (+ a (int 1)) \">8\") (str \" {x} \") (hole (field p name))))");
  AST("let s = f\"{m[\"k\"]}\"", "(let (bind s) (fstr (hole (index m (str \"k\")))))");
  AST("let s = f\"{a::b}{c:?}\"", "(let (bind s) (fstr (hole a::b) (hole c \"?\")))");
  AST("panic!(\"done\")", "(stmt (panic! (fstr (str \"done\"))))");
}

static void test_control_flow(void) {
  AST("let v = if a { 1 } else if b { 2 } else { 3 }",
      "(let (bind v) (if a (block (tail (int 1))) (if b (block (tail (int 2))) (block (tail (int 3))))))");
  AST("if let Some(x) = y { x }", "(stmt (if-let (pvariant Some (bind x)) y (block (tail x))))");
  AST("while let Some(t) = st.pop() { }", "(stmt (while-let (pvariant Some (bind t)) (method pop st) (block)))");
  AST("'outer: for i in 0..n { loop { break 'outer } }",
      "(stmt (for 'outer (bind i) (.. (int 0) n) (block (tail (loop (block (tail (break 'outer))))))))");
  AST("'a: while x { continue 'a }", "(stmt (while 'a x (block (tail (continue 'a)))))");
  AST("let v = loop { break 5 }", "(let (bind v) (loop (block (tail (break (int 5))))))");
  AST("fn f() { return }", "(fn f (params) (block (tail (return))))");
  AST("fn f() { return x + 1 }", "(fn f (params) (block (tail (return (+ x (int 1))))))");
  AST("unsafe { f() }\nno_grad { g() }\nasync { h() }",
      "(stmt (unsafe-block (tail (call f)))) (stmt (no_grad (block (tail (call g))))) "
      "(stmt (block (tail (call h))))");
  AST("if c {\n  a\n}\nelse {\n  b\n}", "(stmt (if c (block (tail a)) (block (tail b))))");
}

static void test_match_and_patterns(void) {
  AST("match x {\n"
      "  0 => \"zero\",\n"
      "  1 | 2 => \"small\"\n"
      "  3..=9 if x > 5 => { \"mid\" }\n"
      "  -1 => \"neg\"\n"
      "  'a'..='z' => \"c\"\n"
      "  0..10 => \"r\"\n"
      "  _ => \"other\",\n"
      "}",
      "(stmt (match x (arm (lit (int 0)) (str \"zero\")) (arm (por (lit (int 1)) (lit (int 2))) "
      "(str \"small\")) (arm (prange..= (int 3) (int 9)) (if (> x (int 5))) (block (tail (str \"mid\")))) "
      "(arm (lit (int -1)) (str \"neg\")) (arm (prange..= (char 'a') (char 'z')) (str \"c\")) "
      "(arm (prange.. (int 0) (int 10)) (str \"r\")) (arm _ (str \"other\"))))");
  AST("match s { Point { x, y: 0, .. } => 1, (a, _, ..) => 2, Some(r) => 3 }",
      "(stmt (match s (arm (pstruct Point (x) (y (lit (int 0))) ..) (int 1)) "
      "(arm (ptuple (bind a) _ ..) (int 2)) (arm (pvariant Some (bind r)) (int 3))))");
  AST("match c { Shape::Circle(r) => r, None => 0, Color::Red => 1, n @ 1..=5 => n, ref mut m => m }",
      "(stmt (match c (arm (pvariant Shape::Circle (bind r)) r) (arm (bind None) (int 0)) "
      "(arm (ppath Color::Red) (int 1)) (arm (bind n (@ (prange..= (int 1) (int 5)))) n) "
      "(arm (bind mut m) m)))");
  AST("match v { true => 1, \"s\" => 2, -2.5 => 3, () => 4 }",
      "(stmt (match v (arm (lit true) (int 1)) (arm (lit (str \"s\")) (int 2)) "
      "(arm (lit (float -2.5)) (int 3)) (arm (ptuple) (int 4))))");
  AST("let (mut a, b): (i64, f64) = t", "(let (ptuple (bind mut a) (bind b)) (tuple-type (type i64) (type f64)) t)");
  AST("let x\nlet y: i32", "(let (bind x)) (let (bind y) (type i32))");
}

static void test_items(void) {
  AST("#[autodiff(forward)]\n@differentiable\n"
      "pub async fn train<T: Numeric + Clone, const N: usize>(&mut self, d: &Tensor<f32, [3, 4]>, "
      "lr: f64 = 1e-3) -> Result<(), String> where T: Clone { }",
      "(fn train pub async (attrs (attr autodiff \"forward\") (attr differentiable)) "
      "(generics (tparam T (type Numeric) (type Clone)) (const N (type usize))) "
      "(params (&mut self) (param (bind d) (&type (type Tensor (type f32) (list (int 3) (int 4))))) "
      "(param (bind lr) (type f64) (default (float 0.001)))) "
      "(ret (type Result (tuple-type) (type String))) (block))");
  AST("fn m(self, &self, mut self) {}", "(fn m (params (self) (&self) (self)) (block))");
  AST("unsafe fn f() {}\n@jit(level = 2) fn g(x) -> f64 { x }",
      "(fn f unsafe (params) (block)) (fn g (attrs (attr jit \"level = 2\")) (params (param (bind x))) "
      "(ret (type f64)) (block (tail x)))");
  AST("struct Point { x: f64 = 0.0, pub y: f64 }",
      "(struct Point (field x (type f64) (default (float 0.0))) (field y pub (type f64)))");
  AST("struct P(f64, f64);\nstruct U;\npub struct N<T> {\n  w: Matrix<f64, 784, 128>\n  v: Vec<T>\n}",
      "(struct P tuple (field 0 (type f64)) (field 1 (type f64))) (struct U) "
      "(struct N pub (generics (tparam T)) (field w (type Matrix (type f64) (int 784) (int 128))) "
      "(field v (type Vec (type T))))");
  AST("actor Counter { n: i64 }", "(struct Counter (field n (type i64)))");
  AST("impl<T> Stack<T> { fn new() -> Self { Self { items: [] } } }",
      "(impl (generics (tparam T)) (type Stack (type T)) (fn new (params) (ret (type Self)) "
      "(block (tail (struct-lit Self (items (list)))))))");
  AST("impl Display for Point { fn fmt(&self) -> String { \"p\" } }",
      "(impl (type Point) (trait (type Display)) (fn fmt (params (&self)) (ret (type String)) "
      "(block (tail (str \"p\")))))");
  AST("trait Shape: Clone + Debug { fn area(&self) -> f64; fn name(&self) -> String { \"s\" } }",
      "(trait Shape (supertraits (type Clone) (type Debug)) (fn area (params (&self)) (ret (type f64))) "
      "(fn name (params (&self)) (ret (type String)) (block (tail (str \"s\")))))");
  AST("enum E { A, B = 5, C(u8, u8), D { x: i32 } }",
      "(enum E (variant A) (variant B (= (int 5))) (variant C tuple (field 0 (type u8)) (field 1 (type u8))) "
      "(variant D struct (field x (type i32))))");
  AST("const PI: f64 = 3.14\nstatic mut N: i64 = 0",
      "(const PI (type f64) (float 3.14)) (const N (type i64) (int 0))");
  AST("type Newton = Kilogram*Meter/(Second*Second)\ntype A = Meter/Second²\ntype J = Second^2",
      "(type-alias Newton (unit/ (unit* (type Kilogram) (type Meter)) (unit* (type Second) (type Second)))) "
      "(type-alias A (unit/ (type Meter) (unit** (type Second) (int 2)))) "
      "(type-alias J (unit** (type Second) (int 2)))");
  AST("mod geo { pub fn f() {} struct Q; }", "(mod geo (fn f pub (params) (block)) (struct Q))");
  AST("use a::b::c;\nuse a::{b, c as d};\nuse a::*;\nuse a as b\nimport \"file.ns\";\nimport np",
      "(use a::b::c) (use a (names b (as c d))) (use a *) (use a (as b)) (use \"file.ns\") (use np)");
  AST("extern \"C\" { fn cos(x: f64) -> f64; fn printf(fmt: *const u8, ...) -> i32; }",
      "(extern \"C\" (fn cos (params (param (bind x) (type f64))) (ret (type f64))) "
      "(fn printf unsafe (params (param (bind fmt) (type *const (type u8)))) (ret (type i32))))");
  AST("fn f() { fn g() {} struct S; let s = S }",
      "(fn f (params) (block (fn g (params) (block)) (struct S) (let (bind s) S)))");
}

static void test_types(void) {
  AST("let a: &mut [f64; 3] = x", "(let (bind a) (&mut-type (array-type (type f64) (int 3))) x)");
  AST("let a: ([f32], &str, ()) = x",
      "(let (bind a) (tuple-type (array-type (type f32)) (&type (type str)) (tuple-type)) x)");
  AST("let f: fn(f64, f64) -> f64 = g", "(let (bind f) (fn-type (params (type f64) (type f64)) (ret (type f64))) g)");
  AST("fn k(a: impl Fn(f64) -> f64, b: Box<dyn Shape>, c: _) {}",
      "(fn k (params (param (bind a) (fn-type (params (type f64)) (ret (type f64)))) "
      "(param (bind b) (type Box (type Shape))) (param (bind c) (type _))) (block))");
  AST("let m: Vec<Vec<i32>>= v", "(let (bind m) (type Vec (type Vec (type i32))) v)");
  AST("let t: Tensor<f32, [N, 4]> = z", "(let (bind t) (type Tensor (type f32) (list N (int 4))) z)");
}

static void test_newlines(void) {
  AST("let a = b\n(c, d) = (1, 2)", "(let (bind a) b) (stmt (= (tuple c d) (tuple (int 1) (int 2))))");
  AST("let x = foo\n  .bar()\n  .baz()?", "(let (bind x) (? (method baz (method bar foo))))");
  AST("let y = 1 +\n  2\nlet z = 1\n  * 2", "(let (bind y) (+ (int 1) (int 2))) (let (bind z) (* (int 1) (int 2)))");
  AST("let w = a\n-1", "(let (bind w) a) (stmt (- (int 1)))");
  AST("f\n[1]\ng\n(2)\nh\n!k", "(stmt f) (stmt (list (int 1))) (stmt g) (stmt (int 2)) (stmt h) (stmt (! k))");
  AST("let v = f(1,\n  2,\n  3)\nlet l = [\n  1\n  , 2]",
      "(let (bind v) (call f (int 1) (int 2) (int 3))) (let (bind l) (list (int 1) (int 2)))");
  AST("a; b\n;\nc", "(stmt; a) (stmt; b) (stmt c)");
  AST("a\n;;\nb", "(stmt; a) (stmt b)");
  AST("fn f() {\n  let a = 1\n  a\n}", "(fn f (params) (block (let (bind a) (int 1)) (tail a)))");
  AST("fn f() { g(); }", "(fn f (params) (block (stmt; (call g))))");
  AST("let r = 0..\nn", "(let (bind r) (.. (int 0) _)) (stmt n)");
  /* a token that can also start an expression continues the previous line
   * only from a deeper indentation */
  AST("fn make() {\n    let base = 10\n    || base + 1\n}",
      "(fn make (params) (block (let (bind base) (int 10)) (tail (closure (params) (+ base (int 1))))))");
  AST("let ok = a\n    || b\nlet c = d\n*p = 5",
      "(let (bind ok) (|| a b)) (let (bind c) d) (stmt (= (* p) (int 5)))");
  AST("match n {\n  0 => a\n  ..=5 => b\n}", "(stmt (match n (arm (lit (int 0)) a) (arm (prange..= _ (int 5)) b)))");
  AST("let p = P {\n  a: 1\n  ..base\n}", "(let (bind p) (struct-lit P (a (int 1)) (.. base)))");
}

static void test_spans(void) {
  SPAN("fn main() { let x = 1 }", pick_item, "fn main() { let x = 1 }");
  SPAN("let v = (a + b)² * c", pick_let_init, "(a + b)² * c");
  SPAN("let v = a + (b)", pick_let_rhs, "(b)");
  SPAN("println!(\"a {b + c:>4} d\")", pick_hole_expr, "b + c");
  SPAN("let s = f\"{ x.y }\"", pick_fstring_hole, "x.y");
}

static void test_errors(void) {
  ERRORS("let x = 1 2", "1:11: expected ';' or a new line after the statement, found '2'\n");
  /* three independent errors, one run */
  ERRORS("let a = 1 +\nlet b = (2, 3\nlet c = 3 3\nfn ok() {}\nlet d = ]\nlet e = 5",
         "2:1: expected an expression, found 'let'\n"
         "3:1: expected ')' to close the tuple, found 'let'\n"
         "  hint: the '(' on line 2 is not closed\n"
         "3:11: expected ';' or a new line after the statement, found '3'\n"
         "5:9: expected an expression, found ']'\n");
  ERRORS("fn f() {\n  let x = (1 + 2\n  let y = 3\n}\nfn g() { h( }\nstruct S { x: f64 y: f64 }\nlet ok = 1",
         "3:3: expected ')' to close '(', found 'let'\n"
         "  hint: the '(' on line 2 is not closed\n"
         "5:13: expected an expression, found '}'\n"
         "6:19: expected ',' or '}' after a field, found 'y'\n");
  ERRORS("if x = 5 { }", "1:6: expected '{' after the if condition, found '='\n"
                         "  hint: use '==' to compare\n");
  ERRORS("a < b < c", "1:7: comparison operators cannot be chained\n"
                      "  hint: write `a < b && b < c`, or add parentheses\n");
  SOUND_ERRORS("println!(\"{}\", 1, 2)", "1:10: format string uses 1 argument but 2 were given\n");
  SOUND_ERRORS("println!(\"{} {}\", 1)", "1:10: format string uses 2 arguments but 1 was given\n");
  ERRORS("println!(\"{x\")\nprintln!(\"y}\")",
         "1:11: unclosed '{' in format string\n  hint: write '{{' for a literal brace\n"
         "2:12: unmatched '}' in format string\n  hint: write '}}' for a literal brace\n");
  ERRORS("let s = f\"{}\"", "1:11: f-string placeholder needs an expression\n"
                            "  hint: write the value inside the braces: f\"{x}\"\n");
  ERRORS("let s = f\"{a +}\"", "1:15: expected an expression, found the end of the placeholder\n");
  ERRORS("fn f(a b) { }", "1:8: expected ')' to close the parameter list, found 'b'\n");
  ERRORS("}\nlet x = 1", "1:1: unexpected '}' with no block to close\n");
  ERRORS("let = 5", "1:5: expected a pattern, found '='\n");
  ERRORS("match x {\n  1 => 2 3\n}\nlet y = 2", "2:10: expected ',' or '}' after the match arm, found '3'\n");
  ERRORS("let x = 1 +\n", "2:1: expected an expression, found end of file\n");
  ERRORS("let s = \"abc\" 5\nlet t = 1", "1:15: expected ';' or a new line after the statement, found '5'\n");
  ERRORS("x.(y)", "1:3: expected a field or method name after '.', found '('\n");
  ERRORS("'a: 5", "1:5: expected 'loop', 'while' or 'for' after a label, found '5'\n");
  ERRORS("fn f() -> { }", "1:11: expected a type, found '{'\n");

  char deep[3000];
  strcpy(deep, "let x = ");
  for (int i = 0; i < 1000; i++) strcat(deep, "(");
  strcat(deep, "1");
  ERRORS(deep, "1:265: expression nests too deeply\n");
  strcpy(deep, "let x = 1");
  for (int i = 0; i < 1200; i++) strcat(deep, "+1");
  ERRORS(deep, "1:2055: expression nests too deeply\n");
}

static void test_incomplete(void) {
  INCOMPLETE("fn f() {");
  INCOMPLETE("let x = (1 +");
  INCOMPLETE("let v = [1,\n  2,");
  INCOMPLETE("let s = \"abc");
  INCOMPLETE("let s = \"abc\" \"d\nlet t = 1");
  INCOMPLETE("match x {\n  1 => {");
  INCOMPLETE("/* comment");
  NOT_INCOMPLETE("let x = 1 +");
  NOT_INCOMPLETE("let x = ) (");
  NOT_INCOMPLETE("fn f() { 1 2");
}

/* ---- robustness ---- */

static uint64_t rng = 0x9E3779B97F4A7C15u;
static uint32_t next_rand(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (uint32_t)(rng >> 16);
}

static void test_random_inputs(void) {
  static const char *const words[] = {
      "fn", "let", "mut", "struct", "enum", "impl", "trait", "match", "if", "else", "for", "in",
      "while", "loop", "break", "continue", "return", "=>", "->", "::", "..", "..=", "|", "||",
      "{", "}", "(", ")", "[", "]", "<", ">", ">>", "\n", ";", ",", ":", "=", "+", "-", "*",
      "**", "^", "²", "∑", "∇", "√", "@", "#[", "'a", "x", "y", "P", "1", "2.5", "\"s{x}\"",
      "f\"{a}\"", "println!", "vec!", "&", "&mut", "self", "Self", "as", "where", "type",
      "use", "import", "mod", "pub", "const", "extern", "\"C\"", "...", "?", "_", "move",
      "no_grad", "async", "unsafe", ".", "!", "≤", "⊙", "'c'", "/*", "*/", "\"", "r\"",
  };
  int nwords = (int)(sizeof words / sizeof words[0]);
  char buf[4096];
  for (int iter = 0; iter < 3000; iter++) {
    size_t len = 0;
    if (iter % 4 == 3) {
      int n = (int)(next_rand() % 200);
      for (int i = 0; i < n; i++) buf[len++] = (char)(next_rand() % 256);
    } else {
      int n = (int)(next_rand() % 120);
      for (int i = 0; i < n && len < sizeof buf - 16; i++) {
        const char *w = words[next_rand() % (uint32_t)nwords];
        size_t wl = strlen(w);
        memcpy(buf + len, w, wl);
        len += wl;
        if (next_rand() % 3) buf[len++] = ' ';
      }
    }
    buf[len] = '\0';
    Source *src = source_new("fuzz.ns", buf, len);
    Arena arena;
    arena_init(&arena);
    DiagList diags;
    diag_init(&diags);
    Ast ast;
    ParseResult r = parse_module(src, &arena, &diags, &ast);
    if (r == PARSE_OK && diags.nerrors) fail(__LINE__, buf, "PARSE_OK with errors", "0 errors", "some");
    if (r == PARSE_ERROR && !diags.nerrors) fail(__LINE__, buf, "PARSE_ERROR without errors", "errors", "none");
    FILE *null = tmpfile();
    for (int i = 0; i < ast.items.len; i++) ast_dump(null, ast.items.items[i], 0);
    fclose(null);
    diag_free(&diags);
    arena_free(&arena);
    source_free(src);
  }
  cases++;
}

int main(void) {
  test_precedence();
  test_unary_and_postfix();
  test_literals();
  test_closures();
  test_struct_literals();
  test_macros_and_formats();
  test_control_flow();
  test_match_and_patterns();
  test_items();
  test_types();
  test_newlines();
  test_spans();
  test_errors();
  test_incomplete();
  test_random_inputs();
  if (failures) {
    fprintf(stderr, "test_parser: %d of %d cases failed\n", failures, cases);
    return 1;
  }
  printf("test_parser: %d cases passed\n", cases);
  return 0;
}
