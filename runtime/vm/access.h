/* The data side of the interpreter: field access, indexing and slicing,
 * destructuring, struct literals, string building and the iteration of
 * built-in values (access.c). vm.c inlines the common cases and calls
 * these for the rest; each returns false with vm_error set on an error. */
#ifndef NS_ACCESS_H
#define NS_ACCESS_H

#include "vm.h"

/* Field `name` of a struct, or -1 (names are interned: pointers compare). */
static inline int access_field_index(const ObjClass *cls, const ObjString *name) {
  for (int i = 0; i < cls->nfields; i++)
    if (cls->field_names[i] == name) return i;
  return -1;
}

/* Field i of cls has a checked annotation. */
static inline bool access_is_typespec(const ObjClass *cls, int i) {
  return cls->field_types && IS_OBJ_TYPE(cls->field_types[i], OBJ_TYPESPEC);
}

/* The type checks that need no conversion and cannot fail. */
static inline bool access_quick_type_ok(const ObjTypeSpec *ts, const Value *v) {
  return ts->kind == TS_ANY || (ts->kind == TS_INT && v->type == VAL_INT) ||
         (ts->kind == TS_FLOAT && v->type == VAL_FLOAT);
}

/* Variant `name` of an enum, or -1. */
int access_variant_index(const ObjClass *cls, const ObjString *name);
/* "struct", "enum", "trait" or "type", for messages. */
const char *access_class_kind(const ObjClass *c);
/* v in its {:?} form for an error message (its type name if a to_string
 * method fails; that failure is dropped). */
const char *access_debug_text(VM *vm, Value v);
/* The error "`x` is used before its definition". */
bool access_undefined(VM *vm, ObjString *name);

/* obj.key: key is a name (string) or a position (int): struct fields,
 * tuple elements, module members, enum variants and associated functions
 * of a class, methods bound to their receiver. */
bool access_get_field(VM *vm, Value obj, Value key, Value *out);
bool access_set_field(VM *vm, Value obj, Value key, Value v);
/* obj[idx]: lists, tuples and strings by int or range, maps by key. */
bool access_get_index(VM *vm, Value obj, Value idx, Value *out);
bool access_set_index(VM *vm, Value obj, Value idx, Value v);
/* Element n of a tuple, variant payload, struct (by position) or list. */
bool access_unpack(VM *vm, Value v, uint32_t n, Value *out);
/* rb[0] { names[0]: rb[1], ... } where rb[0] is a struct class or the ctor
 * of a struct variant; a last name ".." makes the last value the base. */
bool access_new_struct(VM *vm, Value *rb, const ObjTuple *names, Value *out);
/* v is the variant, struct or enum value `pattern` describes (a unit
 * variant's value, a ctor or a class). */
bool access_variant_matches(Value v, Value pattern);
/* Some(x) or Ok(x) (as opposed to None or Err(e)). */
bool access_is_success(const ObjVariant *v);
/* The concatenation of n values (strings as they are, others in Display form). */
bool access_concat(VM *vm, const Value *vs, int n, Value *out);

/* Iteration: access_iter_prepare checks that `it` can be iterated (a
 * built-in sequence, or a value with a next() method). For lists, tuples,
 * strings, ranges and maps, access_iter_next yields the item at *state
 * (an int, starting at 0, advanced; for a range, range_first's state)
 * and returns 1, or returns 0 at the end, -1 on an error;
 * other values return 0 (their next() is called by the interpreter). */
bool access_iter_prepare(VM *vm, Value it);
int access_iter_next(VM *vm, Value it, Value *state, Value *item);

#endif
