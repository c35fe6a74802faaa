/* The GC heap: every object of one interpreter, the intern set, and the
 * mark-sweep collector's state.
 *
 * A VM begins with its Heap (struct VM's first member), so core code gets
 * the heap from the VM pointer the rest of the runtime passes around
 * (HEAP(vm)) without seeing the VM: the interpreter's own roots (registers,
 * frames, modules) are marked by the mark_roots function it installs, and
 * each object type defined above core (tensors, graph nodes) brings its own
 * mark and free functions (gc_register_type). */
#ifndef NS_GC_H
#define NS_GC_H

#include <stdarg.h>

#include "value.h"

#define GC_EXTERNAL_STEP ((size_t)8 << 20) /* tensor bytes between collections (gc.c) */

typedef struct Heap {
  Obj *objects;             /* every object, for the sweep */
  size_t bytes_allocated, next_gc;
  size_t external_bytes;    /* buffers outside the GC heap (tensor storage) */
  size_t next_gc_external;  /* collect when external_bytes passes this */
  int gc_pause;             /* > 0 while compiling: no collection */
  bool gc_requested;        /* a budget was passed: collect at the next safe point */
  uint64_t gc_collections;  /* completed collections, for --stats */
  Table strings;            /* the intern set */
  Value *gray;              /* mark stack */
  size_t ngray, capgray;
  Value *temp_roots;        /* values C code keeps alive across allocations */
  int ntemp, captemp;
  void (*mark_roots)(VM *vm); /* the owner's roots (the interpreter's) */
  void (*report)(VM *vm, const char *msg); /* records a runtime error (vm_error) */
  struct GcTypeHooks *type_hooks; /* [OBJ__COUNT], for types defined above core */
} Heap;

#define HEAP(vm) ((Heap *)(vm))

/* Mark and free functions of an object type defined above core, with the
 * owner's data (the tensor engine's context). blacken marks what the
 * object references (gc_mark_object/gc_mark_value); free releases its
 * memory through vm_realloc; after_collect (may be NULL) runs once at the
 * end of every collection. */
typedef struct GcTypeHooks {
  void (*blacken)(VM *vm, Obj *o, void *ud);
  void (*free)(VM *vm, Obj *o, void *ud);
  void (*after_collect)(VM *vm, void *ud);
  void *ud;
  /* may be NULL: marks objects of this type that the owner holds outside
   * the heap's reach (the tensor engine's pending graph); runs with the
   * roots at the start of every collection */
  void (*mark_roots)(VM *vm, void *ud);
} GcTypeHooks;
void gc_register_type(VM *vm, ObjType type, const GcTypeHooks *hooks);

void gc_mark_object(VM *vm, Obj *o);
static inline void gc_mark_value(VM *vm, Value v) {
  if (IS_OBJ(v)) gc_mark_object(vm, v.as.o);
}
void gc_mark_values(VM *vm, const Value *vs, size_t n);

/* A runtime error from code below the VM (an unhashable map key, a
 * tensor kernel): formatted and handed to the heap's report function;
 * returns false. */
bool heap_error(VM *vm, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool heap_verror(VM *vm, const char *fmt, va_list ap);

void gc_collect(VM *vm);
void gc_free_all(VM *vm);

/* Bytes held outside the heap (tensor storage): they count toward the next
 * collection (see gc_collect for the budget). */
void vm_gc_external(VM *vm, ptrdiff_t delta_bytes);
/* Values C code keeps alive across allocations, popped in LIFO order. */
void vm_push_root(VM *vm, Value v);
void vm_pop_root(VM *vm, int n);
/* How many temp roots are pushed, and dropping back to such a count: for
 * code that unwinds past pushes without their pops (tensor_protected). */
size_t vm_root_count(VM *vm);
void vm_roots_reset(VM *vm, size_t n);

#endif
