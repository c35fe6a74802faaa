/* Values and heap objects.
 *
 * A Value is a 16-byte tagged union: immediates (unit, bool, int, float,
 * char) inline, everything else a pointer to a GC-managed Obj. Objects are
 * collected by a mark-sweep collector (gc.c) that runs only at the VM's safe
 * points; see docs/ARCHITECTURE.md "Memory". Large buffers that live outside
 * the GC heap (tensor storage) report their bytes with vm_gc_external() so
 * they count toward the next collection. */
#ifndef NS_VALUE_H
#define NS_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct VM VM;
typedef struct Obj Obj;
typedef struct Source Source;

typedef enum {
  VAL_UNDEF, /* an unset global, a missing argument; never seen by programs */
  VAL_UNIT,  /* () */
  VAL_BOOL,
  VAL_INT,   /* i64, overflow is a runtime error */
  VAL_FLOAT, /* f64 */
  VAL_CHAR,  /* a Unicode code point */
  VAL_OBJ
} ValueType;

typedef struct Value {
  ValueType type;
  union {
    bool b;
    int64_t i;
    double f;
    Obj *o;
  } as;
} Value;

#define UNDEF_VAL ((Value){VAL_UNDEF, {.i = 0}})
#define UNIT_VAL ((Value){VAL_UNIT, {.i = 0}})
#define BOOL_VAL(x) ((Value){VAL_BOOL, {.b = (x)}})
#define INT_VAL(x) ((Value){VAL_INT, {.i = (x)}})
#define FLOAT_VAL(x) ((Value){VAL_FLOAT, {.f = (x)}})
#define CHAR_VAL(x) ((Value){VAL_CHAR, {.i = (x)}})
#define OBJ_VAL(x) ((Value){VAL_OBJ, {.o = (Obj *)(x)}})

#define IS_UNDEF(v) ((v).type == VAL_UNDEF)
#define IS_UNIT(v) ((v).type == VAL_UNIT)
#define IS_BOOL(v) ((v).type == VAL_BOOL)
#define IS_INT(v) ((v).type == VAL_INT)
#define IS_FLOAT(v) ((v).type == VAL_FLOAT)
#define IS_NUM(v) ((v).type == VAL_INT || (v).type == VAL_FLOAT)
#define IS_CHAR(v) ((v).type == VAL_CHAR)
#define IS_OBJ(v) ((v).type == VAL_OBJ)
#define AS_NUM(v) ((v).type == VAL_INT ? (double)(v).as.i : (v).as.f)

typedef enum {
  OBJ_STRING,
  OBJ_LIST,
  OBJ_TUPLE,
  OBJ_RANGE,    /* a..b, a..=b, slices lo:hi:step */
  OBJ_MAP,      /* HashMap: insertion-ordered, keys are any hashable value */
  OBJ_PROTO,    /* compiled function */
  OBJ_CLOSURE,
  OBJ_UPVALUE,
  OBJ_NATIVE,
  OBJ_BOUND,    /* receiver.method taken as a value */
  OBJ_CLASS,    /* a struct, an enum or a built-in type; holds methods */
  OBJ_INSTANCE, /* struct value */
  OBJ_VARIANT,  /* enum value (any variant with a payload; unit variants too) */
  OBJ_CTOR,     /* an enum's tuple/struct variant used as a constructor */
  OBJ_MODULE,
  OBJ_TYPESPEC, /* a checked type annotation */
  OBJ_COMPLEX,
  OBJ_TENSOR,   /* a view of refcounted storage counted through vm_gc_external() (tensor.h) */
  OBJ_GRADNODE, /* an autograd tape entry (tensor.h) */
  OBJ_QUANTITY, /* a value with physical units (units.h) */
  OBJ__COUNT
} ObjType;

struct Obj {
  ObjType type;
  bool marked;
  struct Obj *next; /* all objects, for the sweep */
};

#define OBJ_TYPE(v) ((v).as.o->type)
#define IS_OBJ_TYPE(v, t) (IS_OBJ(v) && (v).as.o->type == (t))
#define IS_STRING(v) IS_OBJ_TYPE(v, OBJ_STRING)
#define IS_LIST(v) IS_OBJ_TYPE(v, OBJ_LIST)
#define IS_TUPLE(v) IS_OBJ_TYPE(v, OBJ_TUPLE)
#define IS_CLASS(v) IS_OBJ_TYPE(v, OBJ_CLASS)
#define IS_INSTANCE(v) IS_OBJ_TYPE(v, OBJ_INSTANCE)
#define IS_VARIANT(v) IS_OBJ_TYPE(v, OBJ_VARIANT)
#define AS_STRING(v) ((ObjString *)(v).as.o)
#define AS_LIST(v) ((ObjList *)(v).as.o)
#define AS_TUPLE(v) ((ObjTuple *)(v).as.o)
#define AS_RANGE(v) ((ObjRange *)(v).as.o)
#define AS_MAP(v) ((ObjMap *)(v).as.o)
#define AS_PROTO(v) ((ObjProto *)(v).as.o)
#define AS_CLOSURE(v) ((ObjClosure *)(v).as.o)
#define AS_NATIVE(v) ((ObjNative *)(v).as.o)
#define AS_BOUND(v) ((ObjBound *)(v).as.o)
#define AS_CLASS(v) ((ObjClass *)(v).as.o)
#define AS_INSTANCE(v) ((ObjInstance *)(v).as.o)
#define AS_VARIANT(v) ((ObjVariant *)(v).as.o)
#define AS_CTOR(v) ((ObjCtor *)(v).as.o)
#define AS_MODULE(v) ((ObjModule *)(v).as.o)
#define AS_TYPESPEC(v) ((ObjTypeSpec *)(v).as.o)
#define AS_COMPLEX(v) ((ObjComplex *)(v).as.o)

/* Immutable UTF-8. Names and literals (str_copy, up to STR_INTERN_MAX
 * bytes) are interned: equal interned strings are the same object, so
 * names compare by pointer. Strings a program builds at run time
 * (str_new: concatenation, formatting) and long strings are not: probing
 * the intern set for every intermediate string costs more than it saves.
 * Compare with str_eq. */
#define STR_INTERN_MAX 64

typedef struct ObjString {
  Obj obj;
  uint32_t len; /* bytes */
  uint32_t hash;
  bool interned;
  char chars[]; /* NUL-terminated */
} ObjString;

static inline bool str_eq(const ObjString *a, const ObjString *b) {
  return a == b || ((!a->interned || !b->interned) && a->len == b->len && a->hash == b->hash &&
                    memcmp(a->chars, b->chars, a->len) == 0);
}

typedef struct ObjList {
  Obj obj;
  uint32_t len, cap;
  Value *items;
} ObjList;

typedef struct ObjTuple {
  Obj obj;
  uint32_t len;
  Value items[];
} ObjTuple;

enum {
  RANGE_INCLUSIVE = 1, /* ..= */
  RANGE_HAS_LO = 2,
  RANGE_HAS_HI = 4,
  RANGE_HAS_STEP = 8
};

typedef struct ObjRange {
  Obj obj;
  int64_t lo, hi, step; /* step defaults to 1 */
  int flags;            /* RANGE_* */
} ObjRange;

/* Open-addressing hash table keyed by interned strings (methods, module
 * members, the intern set). */
typedef struct {
  ObjString *key; /* NULL: empty (value UNDEF) or tombstone (value UNIT) */
  Value value;
} TableEntry;

typedef struct Table {
  uint32_t count, cap; /* count includes tombstones */
  TableEntry *entries;
} Table;

void table_init(Table *t);
void table_free(VM *vm, Table *t);
bool table_get(const Table *t, ObjString *key, Value *out);
bool table_set(VM *vm, Table *t, ObjString *key, Value v); /* true if new */
bool table_delete(Table *t, ObjString *key);
/* Look up a string by content in the intern set (whose values are the
 * strings' hashes). */
ObjString *table_find_string(const Table *t, const char *chars, uint32_t len, uint32_t hash);

/* HashMap<K, V> of the language: keys are ints, floats, bools, chars,
 * strings or tuples of those; insertion-ordered iteration. */
typedef struct ObjMap {
  Obj obj;
  uint32_t count, cap;   /* live entries / slots in index */
  uint32_t nentries;     /* used prefix of keys/values (incl. deleted) */
  int32_t *index;        /* cap slots: -1 empty, -2 deleted, else entry */
  Value *keys, *values;  /* dense, insertion order; deleted keys are UNDEF */
  uint32_t entries_cap;
} ObjMap;

/* How a closure captures a variable of an enclosing function. */
typedef struct {
  uint8_t in_stack; /* 1: register `index` of the enclosing frame */
  uint8_t index;    /* 0: upvalue `index` of the enclosing closure */
} UpvalDesc;

typedef struct ObjModule ObjModule;

typedef struct ObjProto {
  Obj obj;
  uint32_t *code;
  uint32_t *offsets; /* source byte offset of each instruction (errors, disasm) */
  uint32_t ncode, capcode;
  Value *k;
  uint32_t nk, capk;
  struct ObjProto **protos; /* nested functions, for BC_CLOSURE */
  uint32_t nprotos, capprotos;
  UpvalDesc *upvals;
  uint8_t nupvals;
  uint8_t nparams;        /* including self for methods */
  uint8_t maxregs;        /* registers the frame needs */
  bool is_method;         /* first param is self */
  uint64_t has_default;   /* bit i: param i has a default value */
  ObjString **param_names;/* nparams names, for named arguments and errors */
  ObjString *name;        /* "main", "Point::new", "<closure>", "<module>" */
  Source *src;
  ObjModule *module;      /* globals for BC_GETGLOBAL / BC_SETGLOBAL */
} ObjProto;

typedef struct ObjUpvalue {
  Obj obj;
  Value *location; /* points into the stack while open, at `closed` after */
  Value closed;
  struct ObjUpvalue *next_open; /* sorted by location, highest first */
} ObjUpvalue;

typedef struct ObjClosure {
  Obj obj;
  ObjProto *proto;
  uint32_t nupvals;
  ObjUpvalue *upvals[];
} ObjClosure;

/* A function written in C. args[0..argc) are the arguments (for methods,
 * args[0] is the receiver). On success it stores the result in *out and
 * returns true; on failure it calls vm_error() and returns false. */
typedef bool (*NativeFn)(VM *vm, Value *args, int argc, Value *out);

typedef struct ObjNative {
  Obj obj;
  NativeFn fn;
  ObjString *name;
  int16_t min_args, max_args; /* max_args -1: variadic */
  void *data;                 /* for natives made at run time (FFI) */
  void (*free_data)(void *data); /* releases data when the native is freed, or NULL */
  /* Parameter names (NULL-terminated; NULL: positional only). Named
   * arguments go to their parameter's position, gaps are unit; a list
   * starting with "..." (variadic) gets them appended in order. */
  const char *const *params;
} ObjNative;

typedef struct ObjBound {
  Obj obj;
  Value receiver;
  Value method; /* closure or native */
} ObjBound;

typedef enum { CLASS_STRUCT, CLASS_ENUM, CLASS_BUILTIN, CLASS_TRAIT } ClassKind;

typedef struct {
  ObjString *name;
  uint16_t nfields;
  ObjString **field_names; /* struct variants; NULL for tuple variants */
  Value unit_value;        /* the shared value of a unit variant (OBJ_VARIANT) */
  Value ctor;              /* OBJ_CTOR for tuple/struct variants, else UNDEF */
  int64_t discriminant;    /* `A = 5` (or the previous one + 1): `Level::A as int` */
} VariantInfo;

typedef struct ObjClass {
  Obj obj;
  ClassKind kind;
  ObjString *name;
  /* structs */
  uint16_t nfields;
  ObjString **field_names;
  Value *field_types;    /* OBJ_TYPESPEC or UNDEF (unchecked) per field */
  Value *field_defaults; /* default value per field or UNDEF */
  bool is_tuple_struct;
  /* enums */
  uint16_t nvariants;
  VariantInfo *variants;
  /* methods and associated functions (impl blocks, trait defaults) */
  Table methods;
  Table traits; /* trait name -> the trait's class (CLASS_TRAIT) */
} ObjClass;

typedef struct ObjInstance {
  Obj obj;
  ObjClass *cls;
  Value fields[]; /* cls->nfields */
} ObjInstance;

typedef struct ObjVariant {
  Obj obj;
  ObjClass *cls; /* the enum */
  uint16_t tag;  /* index into cls->variants */
  uint16_t nfields;
  Value fields[];
} ObjVariant;

typedef struct ObjCtor {
  Obj obj;
  ObjClass *cls;
  uint16_t tag;
} ObjCtor;

struct ObjModule {
  Obj obj;
  ObjString *name;
  ObjString *path;   /* canonical file path, or "<stdlib>/name" */
  Table index;       /* name -> INT_VAL(global slot) */
  ObjString **names; /* slot -> name */
  Value *values;     /* slot -> value (UNDEF until defined) */
  uint8_t *flags;    /* slot -> GLOBAL_* */
  uint32_t nglobals, cap;
  struct ObjProto *chunk; /* compiled top-level code, run once by BC_IMPORT */
  enum { MODULE_NEW, MODULE_COMPILING, MODULE_COMPILED, MODULE_LOADING,
         MODULE_LOADED } state;
};

enum { GLOBAL_MUTABLE = 1, GLOBAL_PUBLIC = 2, GLOBAL_BUILTIN = 4 };

/* A type annotation checked at run time. */
typedef enum {
  TS_ANY,     /* unchecked (generic parameter, unknown) */
  TS_INT, TS_FLOAT, TS_NUMBER, TS_BOOL, TS_CHAR, TS_STRING, TS_UNIT,
  TS_LIST, TS_TUPLE, TS_MAP, TS_RANGE, TS_FN, TS_COMPLEX,
  TS_OPTION,  /* Option<T>: the prelude's Option enum */
  TS_RESULT,
  TS_CLASS,   /* a struct or enum: the value of module global `slot` */
  TS_TENSOR,  /* Tensor<f32, [3, 4]>, Matrix<f32, M, N>, Vector<f64, N>: dtype and dims */
  TS_QUANTITY /* Meter, Newton, Kilogram*Meter/Second^2: unit_dims */
} TypeSpecKind;

typedef struct ObjTypeSpec {
  Obj obj;
  TypeSpecKind kind;
  ObjString *text;  /* the annotation as written, "Matrix<f64, 784, 128>" */
  ObjString *what;  /* "argument `x` of `f`", "return value of `f`", "field `w` of `Net`" */
  ObjModule *module;/* TS_CLASS: where to find the type */
  uint32_t slot;
  int16_t tuple_len;/* TS_TUPLE: element count, -1 any */
  /* TS_TENSOR: DType (tensor.h) or -1 any; dimension count or -1 any; each
   * dimension or -1 (a generic name such as `N`) */
  int8_t dtype;
  int8_t ndim;
  int64_t dims[8];
  /* TS_QUANTITY: SI exponents (m kg s A K mol cd); unit_any: any quantity */
  int8_t unit_dims[7];
  bool unit_any;
} ObjTypeSpec;

typedef struct ObjComplex {
  Obj obj;
  double re, im;
} ObjComplex;

/* ---- object creation (object.c). Every allocation goes through
 * vm_realloc, which counts bytes for the collector. ---- */
void *vm_realloc(VM *vm, void *ptr, size_t old_size, size_t new_size);
#define ALLOCATE(vm, T, n) ((T *)vm_realloc(vm, NULL, 0, sizeof(T) * (n)))
#define FREE_ARRAY(vm, T, p, n) vm_realloc(vm, p, sizeof(T) * (n), 0)

ObjString *str_copy(VM *vm, const char *chars, size_t len); /* interned if short */
ObjString *str_new(VM *vm, const char *chars, size_t len);  /* never interned */
ObjString *str_cstr(VM *vm, const char *chars);
ObjString *str_printf(VM *vm, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
uint32_t str_hash(const char *chars, size_t len);

ObjList *list_new(VM *vm, uint32_t cap);
void list_push(VM *vm, ObjList *l, Value v);
ObjTuple *tuple_new(VM *vm, uint32_t len); /* items set to UNIT */
ObjRange *range_new(VM *vm, int64_t lo, int64_t hi, int64_t step, int flags);
ObjMap *map_new(VM *vm);
bool map_get(ObjMap *m, Value key, Value *out);
bool map_set(VM *vm, ObjMap *m, Value key, Value v); /* false: key unhashable (heap_error) */
bool map_delete(ObjMap *m, Value key);

ObjProto *proto_new(VM *vm, ObjModule *module, Source *src);
/* Append an instruction / a constant; return its index. */
uint32_t proto_emit(VM *vm, ObjProto *p, uint32_t ins, uint32_t offset);
uint32_t proto_add_const(VM *vm, ObjProto *p, Value v); /* dedups strings and numbers */
uint32_t proto_add_proto(VM *vm, ObjProto *p, ObjProto *child);

ObjClosure *closure_new(VM *vm, ObjProto *proto);
ObjUpvalue *upvalue_new(VM *vm, Value *slot);
ObjNative *native_new(VM *vm, const char *name, NativeFn fn, int min_args, int max_args);
ObjBound *bound_new(VM *vm, Value receiver, Value method);
ObjClass *class_new(VM *vm, ClassKind kind, ObjString *name);
ObjInstance *instance_new(VM *vm, ObjClass *cls); /* fields UNDEF */
ObjVariant *variant_new(VM *vm, ObjClass *enm, uint16_t tag, uint16_t nfields);
ObjCtor *ctor_new(VM *vm, ObjClass *enm, uint16_t tag);
ObjModule *module_new(VM *vm, ObjString *name, ObjString *path);
/* Slot of `name` in the module, adding it (as UNDEF) if absent. */
uint32_t module_declare(VM *vm, ObjModule *m, ObjString *name, uint8_t flags);
/* Slot of `name`, or -1. */
int32_t module_find(ObjModule *m, ObjString *name);
void module_define(VM *vm, ObjModule *m, const char *name, Value v, uint8_t flags);
ObjTypeSpec *typespec_new(VM *vm, TypeSpecKind kind, ObjString *text, ObjString *what);
ObjComplex *complex_new(VM *vm, double re, double im);
/* A fresh, unmarked object of `size` bytes linked for the sweep (for object
 * kinds defined outside object.c: tensors, grad nodes). */
Obj *obj_alloc(VM *vm, size_t size, ObjType type);

/* ---- value helpers (value.c) ---- */
const char *value_type_name(Value v); /* "int", "list", struct/enum name, ... */
bool value_truthy(Value v);            /* only bool is allowed in conditions; see vm.c */
bool value_equal(Value a, Value b);    /* structural */
uint32_t value_hash(Value v, bool *ok);
bool value_is_callable(Value v);

#endif
