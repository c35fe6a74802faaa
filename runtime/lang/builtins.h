/* What the files of the built-in library share: a growable byte buffer,
 * UTF-8 decoding, formatting into a buffer, Option/Result construction and
 * the registration of natives.
 *
 * The library is split by concern: builtins.c (the prelude's global
 * functions and constants), lib_num.c (methods of unit, bool, int, float,
 * char and complex), lib_string.c, lib_list.c (lists, tuples, ranges) and
 * lib_map.c. Each lib_*_init creates its built-in classes and is called by
 * builtins_init.
 *
 * Methods of built-in classes are natives whose args[0] is the receiver;
 * their min_args/max_args count the receiver. Associated functions called
 * on the class (`Vec::new()`, `String::from(x)`) live in the same method
 * table and take no receiver. */
#ifndef NS_BUILTINS_H
#define NS_BUILTINS_H

#include <stdarg.h>

#include "strbuf.h"
#include "utf8.h"
#include "vm.h"

/* A VM with the language's built-ins: the prelude module, the built-in
 * classes' methods and the hooks the interpreter calls (LangHooks). What
 * every program runs in. builtins_init adds them to a bare vm_new(). */
VM *lang_vm_new(void);
void builtins_init(VM *vm);
/* Stop programs that run or allocate too much: past `budget` loop
 * iterations and calls a runtime error "instruction budget exhausted"; with
 * more than `max_tensor_bytes` of tensor storage alive, "tensor memory
 * limit exceeded" (and shapes asking for more are refused before they are
 * allocated: the tensor engine's own limit, tc->max_bytes). 0 turns a
 * limit off. */
void vm_set_limits(VM *vm, uint64_t budget, size_t max_tensor_bytes);

/* ---- formatting (format.c) ---- */
/* Display form (println!("{}")); debug = true gives the {:?} form. NULL
 * (vm_error set) if a struct's to_string method fails. */
ObjString *format_value(VM *vm, Value v, bool debug);
/* Apply a format spec such as ">8", ".4f", "?", "08.3e", "x" (NULL if the
 * spec is invalid for the value: vm_error is set). */
ObjString *format_spec(VM *vm, Value v, const char *spec, size_t speclen);
/* Print a value as the REPL shows it (strings quoted), then a newline. */
void format_print(VM *vm, FILE *out, Value v);

/* glibc's <complex.h> defines CMPLX only for GCC >= 4.7, and clang reports
 * itself as GCC 4.2; the files that include <complex.h> get it here. */
#if defined(_Complex_I) && !defined(CMPLX)
#define CMPLX(x, y) __builtin_complex((double)(x), (double)(y))
#endif


/* ---- formatting (format.c) ---- */
/* Append the Display (debug = false) or Debug form of v; false if a
 * to_string method failed (vm_error is set). */
bool format_append(VM *vm, StrBuf *sb, Value v, bool debug);
/* Shortest round-trip form of a float: "1.0", "0.1", "1e+20", "NaN". */
void format_float(char *buf, size_t size, double d);

/* ---- registration and shared values (builtins.c) ---- */
ObjClass *lib_class(VM *vm, const char *name);
void lib_method(VM *vm, ObjClass *cls, const char *name, NativeFn fn, int min_args, int max_args);
void lib_global(VM *vm, const char *name, NativeFn fn, int min_args, int max_args);
/* to_string, clone and type_of, which every built-in class has (lib_num.c). */
void lib_add_common(VM *vm, ObjClass *cls);

/* Option and Result values of the prelude's enums; false (vm_error) if
 * the prelude has not defined them. */
bool lib_some(VM *vm, Value v, Value *out);
bool lib_none(VM *vm, Value *out);
bool lib_ok(VM *vm, Value v, Value *out);
bool lib_err(VM *vm, Value v, Value *out);
/* Err(message) with a formatted message. */
bool lib_err_msg(VM *vm, Value *out, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The elements of an iterable: a list as it is, a tuple, a bounded range,
 * a string (its chars) or a map (its (key, value) tuples) as a new list.
 * `who` names the caller in the error for anything else. */
bool lib_to_list(VM *vm, Value v, const char *who, ObjList **out);
/* A number argument as a double, or vm_error "who expects a number, got T". */
bool lib_num_arg(VM *vm, Value v, const char *who, double *out);
bool lib_int_arg(VM *vm, Value v, const char *who, int64_t *out);
bool lib_str_arg(VM *vm, Value v, const char *who, ObjString **out);
/* A callback's result as a bool, or vm_error naming `who`. */
bool lib_bool_result(VM *vm, Value v, const char *who, bool *out);
/* Three-way order of two values (<0, 0, >0) as the language's < defines
 * it; false (vm_error) for values that cannot be compared. */
bool lib_order(VM *vm, Value a, Value b, int *out);
/* Deep copy of lists, tuples, maps, instances and variants (sharing and
 * cycles are kept). */
Value lib_clone(VM *vm, Value v);
/* Parse decimal text (surrounding whitespace allowed) as an int, or as a
 * float ("1.5", "1e-3", "inf", "NaN") when as_float; false if malformed. */
bool lib_parse_number(const char *s, size_t len, bool as_float, Value *out);
/* Stable in-place sort (lib_list.c). cmp: UNDEF for the natural order; a
 * function (a, b) returning an int (<0, 0, >0) or a bool (a before b); with
 * by_key, a function x -> key compared in natural order. */
bool lib_sort(VM *vm, ObjList *l, Value cmp, bool by_key);

/* Unicode classification and case mapping of chars (lib_num.c): full for
 * ASCII, Latin-1, Latin Extended-A, Greek and Cyrillic; letters of other
 * common scripts are alphabetic without case. */
bool lib_char_is_alpha(int64_t c);
bool lib_char_is_space(int64_t c);
int64_t lib_char_upper(int64_t c);
int64_t lib_char_lower(int64_t c);

void lib_num_init(VM *vm);
void lib_string_init(VM *vm);
void lib_list_init(VM *vm);
void lib_map_init(VM *vm);

#endif
