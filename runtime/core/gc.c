/* Mark-sweep collection.
 *
 * The collector runs only at the interpreter's safe points (backward jumps,
 * calls, allocating instructions) with no native function on the C stack,
 * so the roots are exactly: the live register windows of the frames, the
 * frames' closures, open upvalues, the VM's own references (prelude,
 * modules, built-in classes, temp roots, args, the REPL's last value).
 * Marking uses an explicit gray stack; the intern set is weak and loses its
 * unmarked strings before the sweep. */
#include <stdarg.h>
#include <stdlib.h>

#include <stdio.h>

#include "gc.h"
#include "units.h"

#define GC_MIN_HEAP ((size_t)1 << 20)

void gc_register_type(VM *vm, ObjType type, const GcTypeHooks *hooks) {
  Heap *h = HEAP(vm);
  if (h->type_hooks == NULL) {
    h->type_hooks = calloc(OBJ__COUNT, sizeof(GcTypeHooks));
    if (h->type_hooks == NULL) {
      fputs("nsc: out of memory\n", stderr);
      exit(1);
    }
  }
  h->type_hooks[type] = *hooks;
}

void gc_mark_object(VM *vm, Obj *o) {
  if (o == NULL || o->marked) return;
  o->marked = true;
  if (HEAP(vm)->ngray == HEAP(vm)->capgray) {
    size_t cap = HEAP(vm)->capgray < 64 ? 64 : HEAP(vm)->capgray * 2;
    Value *g = realloc(HEAP(vm)->gray, sizeof(Value) * cap);
    if (!g) {
      fputs("nsc: out of memory\n", stderr);
      exit(1);
    }
    HEAP(vm)->gray = g;
    HEAP(vm)->capgray = cap;
  }
  HEAP(vm)->gray[HEAP(vm)->ngray++] = OBJ_VAL(o);
}

void gc_mark_values(VM *vm, const Value *vs, size_t n) {
  for (size_t i = 0; i < n; i++) gc_mark_value(vm, vs[i]);
}

static void mark_table(VM *vm, const Table *t) {
  for (uint32_t i = 0; i < t->cap; i++) {
    const TableEntry *e = &t->entries[i];
    if (e->key == NULL) continue;
    gc_mark_object(vm, (Obj *)e->key);
    gc_mark_value(vm, e->value);
  }
}

static void blacken(VM *vm, Obj *o) {
  switch (o->type) {
  case OBJ_STRING:
  case OBJ_RANGE:
  case OBJ_COMPLEX:
  case OBJ_QUANTITY: break;
  case OBJ_LIST: {
    ObjList *l = (ObjList *)o;
    gc_mark_values(vm, l->items, l->len);
    break;
  }
  case OBJ_TUPLE: {
    ObjTuple *t = (ObjTuple *)o;
    gc_mark_values(vm, t->items, t->len);
    break;
  }
  case OBJ_MAP: {
    ObjMap *m = (ObjMap *)o;
    gc_mark_values(vm, m->keys, m->nentries);
    gc_mark_values(vm, m->values, m->nentries);
    break;
  }
  case OBJ_PROTO: {
    ObjProto *p = (ObjProto *)o;
    gc_mark_values(vm, p->k, p->nk);
    for (uint32_t i = 0; i < p->nprotos; i++) gc_mark_object(vm, (Obj *)p->protos[i]);
    if (p->param_names)
      for (uint32_t i = 0; i < p->nparams; i++) gc_mark_object(vm, (Obj *)p->param_names[i]);
    gc_mark_object(vm, (Obj *)p->name);
    gc_mark_object(vm, (Obj *)p->module);
    break;
  }
  case OBJ_CLOSURE: {
    ObjClosure *c = (ObjClosure *)o;
    gc_mark_object(vm, (Obj *)c->proto);
    for (uint32_t i = 0; i < c->nupvals; i++) gc_mark_object(vm, (Obj *)c->upvals[i]);
    break;
  }
  case OBJ_UPVALUE: gc_mark_value(vm, ((ObjUpvalue *)o)->closed); break;
  case OBJ_NATIVE: gc_mark_object(vm, (Obj *)((ObjNative *)o)->name); break;
  case OBJ_BOUND: {
    ObjBound *b = (ObjBound *)o;
    gc_mark_value(vm, b->receiver);
    gc_mark_value(vm, b->method);
    break;
  }
  case OBJ_CLASS: {
    ObjClass *c = (ObjClass *)o;
    gc_mark_object(vm, (Obj *)c->name);
    for (uint16_t i = 0; i < c->nfields; i++) {
      if (c->field_names) gc_mark_object(vm, (Obj *)c->field_names[i]);
      if (c->field_types) gc_mark_value(vm, c->field_types[i]);
      if (c->field_defaults) gc_mark_value(vm, c->field_defaults[i]);
    }
    for (uint16_t i = 0; i < c->nvariants; i++) {
      VariantInfo *v = &c->variants[i];
      gc_mark_object(vm, (Obj *)v->name);
      if (v->field_names)
        for (uint16_t j = 0; j < v->nfields; j++) gc_mark_object(vm, (Obj *)v->field_names[j]);
      gc_mark_value(vm, v->unit_value);
      gc_mark_value(vm, v->ctor);
    }
    mark_table(vm, &c->methods);
    mark_table(vm, &c->traits);
    break;
  }
  case OBJ_INSTANCE: {
    ObjInstance *in = (ObjInstance *)o;
    gc_mark_object(vm, (Obj *)in->cls);
    gc_mark_values(vm, in->fields, in->cls->nfields);
    break;
  }
  case OBJ_VARIANT: {
    ObjVariant *v = (ObjVariant *)o;
    gc_mark_object(vm, (Obj *)v->cls);
    gc_mark_values(vm, v->fields, v->nfields);
    break;
  }
  case OBJ_CTOR: gc_mark_object(vm, (Obj *)((ObjCtor *)o)->cls); break;
  case OBJ_MODULE: {
    ObjModule *m = (ObjModule *)o;
    gc_mark_object(vm, (Obj *)m->name);
    gc_mark_object(vm, (Obj *)m->path);
    mark_table(vm, &m->index);
    for (uint32_t i = 0; i < m->nglobals; i++) gc_mark_object(vm, (Obj *)m->names[i]);
    gc_mark_values(vm, m->values, m->nglobals);
    gc_mark_object(vm, (Obj *)m->chunk);
    break;
  }
  case OBJ_TYPESPEC: {
    ObjTypeSpec *t = (ObjTypeSpec *)o;
    gc_mark_object(vm, (Obj *)t->text);
    gc_mark_object(vm, (Obj *)t->what);
    gc_mark_object(vm, (Obj *)t->module);
    break;
  }
  default: {
    GcTypeHooks *t = &HEAP(vm)->type_hooks[o->type];
    if (t->blacken) t->blacken(vm, o, t->ud);
    break;
  }
  }
}

static void free_object(VM *vm, Obj *o) {
  switch (o->type) {
  case OBJ_STRING: {
    ObjString *s = (ObjString *)o;
    vm_realloc(vm, s, sizeof(ObjString) + s->len + 1, 0);
    break;
  }
  case OBJ_LIST: {
    ObjList *l = (ObjList *)o;
    FREE_ARRAY(vm, Value, l->items, l->cap);
    vm_realloc(vm, l, sizeof(ObjList), 0);
    break;
  }
  case OBJ_TUPLE: {
    ObjTuple *t = (ObjTuple *)o;
    vm_realloc(vm, t, sizeof(ObjTuple) + sizeof(Value) * t->len, 0);
    break;
  }
  case OBJ_RANGE: vm_realloc(vm, o, sizeof(ObjRange), 0); break;
  case OBJ_MAP: {
    ObjMap *m = (ObjMap *)o;
    FREE_ARRAY(vm, int32_t, m->index, m->cap);
    FREE_ARRAY(vm, Value, m->keys, m->entries_cap);
    FREE_ARRAY(vm, Value, m->values, m->entries_cap);
    vm_realloc(vm, m, sizeof(ObjMap), 0);
    break;
  }
  case OBJ_PROTO: {
    ObjProto *p = (ObjProto *)o;
    FREE_ARRAY(vm, uint32_t, p->code, p->capcode);
    FREE_ARRAY(vm, uint32_t, p->offsets, p->capcode);
    FREE_ARRAY(vm, Value, p->k, p->capk);
    FREE_ARRAY(vm, ObjProto *, p->protos, p->capprotos);
    FREE_ARRAY(vm, UpvalDesc, p->upvals, p->nupvals);
    FREE_ARRAY(vm, ObjString *, p->param_names, p->nparams);
    vm_realloc(vm, p, sizeof(ObjProto), 0);
    break;
  }
  case OBJ_CLOSURE: {
    ObjClosure *c = (ObjClosure *)o;
    vm_realloc(vm, c, sizeof(ObjClosure) + sizeof(ObjUpvalue *) * c->nupvals, 0);
    break;
  }
  case OBJ_UPVALUE: vm_realloc(vm, o, sizeof(ObjUpvalue), 0); break;
  case OBJ_NATIVE: {
    ObjNative *n = (ObjNative *)o;
    if (n->free_data) n->free_data(n->data);
    vm_realloc(vm, o, sizeof(ObjNative), 0);
    break;
  }
  case OBJ_BOUND: vm_realloc(vm, o, sizeof(ObjBound), 0); break;
  case OBJ_CLASS: {
    ObjClass *c = (ObjClass *)o;
    FREE_ARRAY(vm, ObjString *, c->field_names, c->nfields);
    FREE_ARRAY(vm, Value, c->field_types, c->nfields);
    FREE_ARRAY(vm, Value, c->field_defaults, c->nfields);
    for (uint16_t i = 0; i < c->nvariants; i++)
      FREE_ARRAY(vm, ObjString *, c->variants[i].field_names, c->variants[i].nfields);
    FREE_ARRAY(vm, VariantInfo, c->variants, c->nvariants);
    table_free(vm, &c->methods);
    table_free(vm, &c->traits);
    vm_realloc(vm, c, sizeof(ObjClass), 0);
    break;
  }
  case OBJ_INSTANCE: {
    /* Its class is still allocated: classes are freed after everything
     * else (see free_list). */
    ObjInstance *in = (ObjInstance *)o;
    vm_realloc(vm, in, sizeof(ObjInstance) + sizeof(Value) * in->cls->nfields, 0);
    break;
  }
  case OBJ_VARIANT: {
    ObjVariant *v = (ObjVariant *)o;
    vm_realloc(vm, v, sizeof(ObjVariant) + sizeof(Value) * v->nfields, 0);
    break;
  }
  case OBJ_CTOR: vm_realloc(vm, o, sizeof(ObjCtor), 0); break;
  case OBJ_MODULE: {
    ObjModule *m = (ObjModule *)o;
    table_free(vm, &m->index);
    FREE_ARRAY(vm, ObjString *, m->names, m->cap);
    FREE_ARRAY(vm, Value, m->values, m->cap);
    FREE_ARRAY(vm, uint8_t, m->flags, m->cap);
    vm_realloc(vm, m, sizeof(ObjModule), 0);
    break;
  }
  case OBJ_TYPESPEC: vm_realloc(vm, o, sizeof(ObjTypeSpec), 0); break;
  case OBJ_COMPLEX: vm_realloc(vm, o, sizeof(ObjComplex), 0); break;
  case OBJ_QUANTITY: vm_realloc(vm, o, sizeof(ObjQuantity), 0); break;
  default: {
    GcTypeHooks *t = &HEAP(vm)->type_hooks[o->type];
    t->free(vm, o, t->ud);
    break;
  }
  }
}

/* Drop the unmarked strings from the intern set. Tombstones make every
 * miss (every new string) probe further, so when they pile up the set is
 * rebuilt from its live entries. */
static void remove_white_strings(VM *vm) {
  Table *t = &HEAP(vm)->strings;
  uint32_t live = 0;
  for (uint32_t i = 0; i < t->cap; i++) {
    TableEntry *e = &t->entries[i];
    if (!e->key) continue;
    if (!e->key->obj.marked) {
      e->key = NULL;
      e->value = UNIT_VAL;
    } else {
      live++;
    }
  }
  if (t->count - live <= t->cap / 4) return;
  Table fresh;
  table_init(&fresh);
  for (uint32_t i = 0; i < t->cap; i++)
    if (t->entries[i].key) table_set(vm, &fresh, t->entries[i].key, t->entries[i].value);
  table_free(vm, t);
  *t = fresh;
}

/* Free a chain of objects; classes go last because an instance's size is
 * read from its class. */
static void free_list(VM *vm, Obj *o) {
  Obj *classes = NULL;
  while (o) {
    Obj *next = o->next;
    if (o->type == OBJ_CLASS) {
      o->next = classes;
      classes = o;
    } else {
      free_object(vm, o);
    }
    o = next;
  }
  while (classes) {
    Obj *next = classes->next;
    free_object(vm, classes);
    classes = next;
  }
}

static void sweep(VM *vm) {
  Obj **link = &HEAP(vm)->objects, *dead = NULL;
  while (*link) {
    Obj *o = *link;
    if (o->marked) {
      o->marked = false;
      link = &o->next;
    } else {
      *link = o->next;
      o->next = dead;
      dead = o;
    }
  }
  free_list(vm, dead);
}

void gc_collect(VM *vm) {
  if (HEAP(vm)->mark_roots) HEAP(vm)->mark_roots(vm);
  for (int t = 0; HEAP(vm)->type_hooks && t < OBJ__COUNT; t++) {
    GcTypeHooks *h = &HEAP(vm)->type_hooks[t];
    if (h->mark_roots) h->mark_roots(vm, h->ud);
  }
  gc_mark_values(vm, HEAP(vm)->temp_roots, (size_t)HEAP(vm)->ntemp);
  while (HEAP(vm)->ngray > 0) blacken(vm, HEAP(vm)->gray[--HEAP(vm)->ngray].as.o);
  remove_white_strings(vm);
  sweep(vm);
  for (int t = 0; HEAP(vm)->type_hooks && t < OBJ__COUNT; t++) {
    GcTypeHooks *h = &HEAP(vm)->type_hooks[t];
    if (h->after_collect) h->after_collect(vm, h->ud);
  }
  HEAP(vm)->gc_collections++;
  /* Two budgets. The heap's is the classic one: collect again when it has
   * doubled. Tensor storage gets a fixed allowance instead: the cost of a
   * collection follows the heap, not the megabytes a tensor owns, so
   * waiting for storage to double would let a step's dead activations pile
   * up to the size of the dataset held alive beside them (a 190 MB training
   * set meant 400 MB of garbage). After GC_EXTERNAL_STEP bytes of new
   * storage (or as many bytes as the heap holds, if more) dead tensors
   * are released: peak memory stays near live + the allowance, and a
   * training step reuses the blocks the previous steps freed while they
   * are still in cache. 8 MiB was the fastest of 1-64 MiB on the PyTorch
   * benchmarks' MLPs (docs/BENCHMARKS.md): 64 MiB was 20 % slower on
   * small batches, 1 MiB collected too often. */
  HEAP(vm)->next_gc = HEAP(vm)->bytes_allocated * 2 > GC_MIN_HEAP ? HEAP(vm)->bytes_allocated * 2 : GC_MIN_HEAP;
  size_t step = HEAP(vm)->bytes_allocated > GC_EXTERNAL_STEP ? HEAP(vm)->bytes_allocated : GC_EXTERNAL_STEP;
  HEAP(vm)->next_gc_external = HEAP(vm)->external_bytes + step;
  HEAP(vm)->gc_requested = false;
}

void gc_free_all(VM *vm) {
  free_list(vm, HEAP(vm)->objects);
  HEAP(vm)->objects = NULL;
  free(HEAP(vm)->type_hooks);
  HEAP(vm)->type_hooks = NULL;
  free(HEAP(vm)->gray);
  HEAP(vm)->gray = NULL;
  HEAP(vm)->ngray = HEAP(vm)->capgray = 0;
}

bool heap_verror(VM *vm, const char *fmt, va_list ap) {
  char msg[1024];
  vsnprintf(msg, sizeof msg, fmt, ap);
  HEAP(vm)->report(vm, msg);
  return false;
}

bool heap_error(VM *vm, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  heap_verror(vm, fmt, ap);
  va_end(ap);
  return false;
}

void vm_gc_external(VM *vm, ptrdiff_t delta_bytes) {
  HEAP(vm)->external_bytes += (size_t)delta_bytes;
  if (HEAP(vm)->external_bytes > HEAP(vm)->next_gc_external) HEAP(vm)->gc_requested = true;
}

void vm_push_root(VM *vm, Value v) {
  if (HEAP(vm)->ntemp == HEAP(vm)->captemp) {
    int cap = HEAP(vm)->captemp < 16 ? 16 : HEAP(vm)->captemp * 2;
    Value *r = realloc(HEAP(vm)->temp_roots, sizeof(Value) * (size_t)cap);
    if (!r) {
      fputs("nsc: out of memory\n", stderr);
      exit(1);
    }
    HEAP(vm)->temp_roots = r;
    HEAP(vm)->captemp = cap;
  }
  HEAP(vm)->temp_roots[HEAP(vm)->ntemp++] = v;
}

void vm_pop_root(VM *vm, int n) { HEAP(vm)->ntemp -= n; }

size_t vm_root_count(VM *vm) { return (size_t)HEAP(vm)->ntemp; }

void vm_roots_reset(VM *vm, size_t n) { HEAP(vm)->ntemp = (int)n; }
