/* Field access, indexing and slicing, destructuring, struct literals and
 * the iteration of built-in values: the slow paths of the interpreter's
 * data instructions (see access.h), and the class and type queries of
 * vm.h (vm_class_of, vm_find_method, vm_check_type). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "tensor.h"
#include "units.h"
#include "utf8.h"

/* ------------------------------------------------------- classes, methods */

ObjClass *vm_class_of(VM *vm, Value v) {
  if (v.type != VAL_OBJ) return vm->class_of_type[v.type];
  switch (OBJ_TYPE(v)) {
  case OBJ_INSTANCE: return AS_INSTANCE(v)->cls;
  case OBJ_VARIANT: return AS_VARIANT(v)->cls;
  default: return vm->class_of_obj[OBJ_TYPE(v)];
  }
}

bool vm_find_method(VM *vm, Value receiver, ObjString *name, Value *out) {
  ObjClass *cls = vm_class_of(vm, receiver);
  if (cls && table_get(&cls->methods, name, out)) return true;
  /* Methods every struct or enum value has (clone, to_string, ...). */
  if (IS_OBJ(receiver) &&
      (OBJ_TYPE(receiver) == OBJ_INSTANCE || OBJ_TYPE(receiver) == OBJ_VARIANT)) {
    ObjClass *generic = vm->class_of_obj[OBJ_TYPE(receiver)];
    if (generic && generic != cls && table_get(&generic->methods, name, out)) return true;
  }
  return false;
}

const char *access_class_kind(const ObjClass *c) {
  switch (c->kind) {
  case CLASS_STRUCT: return "struct";
  case CLASS_ENUM: return "enum";
  case CLASS_TRAIT: return "trait";
  default: return "type";
  }
}

static int variant_field_index(const VariantInfo *vi, const ObjString *name) {
  if (!vi->field_names) return -1;
  for (int i = 0; i < vi->nfields; i++)
    if (str_eq(vi->field_names[i], name)) return i;
  return -1;
}

int access_variant_index(const ObjClass *cls, const ObjString *name) {
  for (int i = 0; i < cls->nvariants; i++)
    if (str_eq(cls->variants[i].name, name)) return i;
  return -1;
}

bool vm_check_type(VM *vm, ObjTypeSpec *ts, Value *v) {
  Value x = *v;
  switch (ts->kind) {
  case TS_ANY: return true;
  case TS_INT:
    if (IS_INT(x)) return true;
    break;
  case TS_FLOAT:
    if (IS_FLOAT(x)) return true;
    if (IS_INT(x)) {
      *v = FLOAT_VAL((double)x.as.i);
      return true;
    }
    break;
  case TS_NUMBER:
    if (IS_NUM(x)) return true;
    break;
  case TS_BOOL:
    if (IS_BOOL(x)) return true;
    break;
  case TS_CHAR:
    if (IS_CHAR(x)) return true;
    break;
  case TS_STRING:
    if (IS_STRING(x)) return true;
    break;
  case TS_UNIT:
    if (IS_UNIT(x)) return true;
    break;
  case TS_LIST:
    if (IS_LIST(x)) return true;
    break;
  case TS_TUPLE:
    if (IS_TUPLE(x) && (ts->tuple_len < 0 || AS_TUPLE(x)->len == (uint32_t)ts->tuple_len))
      return true;
    break;
  case TS_MAP:
    if (IS_OBJ_TYPE(x, OBJ_MAP)) return true;
    break;
  case TS_RANGE:
    if (IS_OBJ_TYPE(x, OBJ_RANGE)) return true;
    break;
  case TS_COMPLEX:
    if (IS_OBJ_TYPE(x, OBJ_COMPLEX)) return true;
    break;
  case TS_QUANTITY: {
    if (IS_QUANTITY(x) && (ts->unit_any || !memcmp(AS_QUANTITY(x)->dim, ts->unit_dims, UNIT_NDIMS)))
      return true;
    /* Radian, Angle, Dimensionless: a dimensionless result is a float */
    if (!ts->unit_any && units_dimensionless(ts->unit_dims) && IS_NUM(x)) {
      if (IS_INT(x)) *v = FLOAT_VAL((double)x.as.i);
      return true;
    }
    char want[UNIT_TEXT_MAX + 48] = "";
    if (!ts->unit_any) {
      char dims[UNIT_TEXT_MAX];
      if (units_dimensionless(ts->unit_dims)) snprintf(dims, sizeof dims, "dimensionless");
      else units_dims_text(ts->unit_dims, dims, sizeof dims);
      snprintf(want, sizeof want, " (%s is %s)", ts->text ? ts->text->chars : "the type", dims);
    }
    return vm_error(vm, "%s expects %s, got %s%s", ts->what ? ts->what->chars : "a value",
                    ts->text ? ts->text->chars : "?",
                    IS_QUANTITY(x) ? AS_QUANTITY(x)->unit : value_type_name(x), want);
  }
  case TS_FN:
    if (value_is_callable(x)) return true;
    break;
  case TS_OPTION:
    if (IS_VARIANT(x) && AS_VARIANT(x)->cls == vm->option_class) return true;
    break;
  case TS_RESULT:
    if (IS_VARIANT(x) && AS_VARIANT(x)->cls == vm->result_class) return true;
    break;
  case TS_TENSOR: {
    if (!IS_TENSOR(x)) break;
    ObjTensor *t = AS_TENSOR(x);
    bool ok = (ts->dtype < 0 || ts->dtype == (int)t->dtype) && (ts->ndim < 0 || ts->ndim == t->ndim);
    for (int i = 0; ok && ts->ndim > 0 && i < ts->ndim; i++)
      ok = ts->dims[i] < 0 || ts->dims[i] == t->shape[i];
    if (ok) return true;
    char buf[160];
    int n = snprintf(buf, sizeof buf, "Tensor[%s", tensor_dtype_names[t->dtype]);
    for (int i = 0; i < t->ndim && n < (int)sizeof buf - 24; i++)
      n += snprintf(buf + n, sizeof buf - (size_t)n, "%s%lld", i ? ", " : "; ", (long long)t->shape[i]);
    snprintf(buf + n, sizeof buf - (size_t)n, "]");
    return vm_error(vm, "%s expects %s, got %s", ts->what ? ts->what->chars : "a value",
                    ts->text ? ts->text->chars : "?", buf);
  }
  case TS_CLASS: {
    /* A name that is not (yet) a class here is not checked. */
    if (!ts->module || ts->slot >= ts->module->nglobals) return true;
    Value c = ts->module->values[ts->slot];
    if (!IS_CLASS(c)) return true;
    ObjClass *want = AS_CLASS(c), *have = vm_class_of(vm, x);
    if (have == want) return true;
    Value impl;
    if (want->kind == CLASS_TRAIT && have && table_get(&have->traits, want->name, &impl))
      return true;
    break;
  }
  }
  if (ts->what)
    return vm_error(vm, "%s expects %s, got %s", ts->what->chars, ts->text ? ts->text->chars : "?",
                    value_type_name(x));
  return vm_error(vm, "expected %s, got %s", ts->text ? ts->text->chars : "?", value_type_name(x));
}

bool access_undefined(VM *vm, ObjString *name) {
  return vm_error(vm, "`%s` is used before its definition", name->chars);
}

/* ------------------------------------------------------ fields and indexes */

bool access_get_field(VM *vm, Value obj, Value key, Value *out) {
  if (IS_INT(key)) {
    int64_t i = key.as.i;
    if (IS_OBJ(obj)) {
      switch (OBJ_TYPE(obj)) {
      case OBJ_TUPLE:
        if (i >= 0 && i < AS_TUPLE(obj)->len) {
          *out = AS_TUPLE(obj)->items[i];
          return true;
        }
        return vm_error(vm, "tuple index %lld out of range for tuple of length %u", (long long)i,
                        AS_TUPLE(obj)->len);
      case OBJ_INSTANCE:
        if (i >= 0 && i < AS_INSTANCE(obj)->cls->nfields) {
          *out = AS_INSTANCE(obj)->fields[i];
          return true;
        }
        return vm_error(vm, "struct %s has no field `%lld`", AS_INSTANCE(obj)->cls->name->chars,
                        (long long)i);
      case OBJ_VARIANT:
        if (i >= 0 && i < AS_VARIANT(obj)->nfields) {
          *out = AS_VARIANT(obj)->fields[i];
          return true;
        }
        break;
      default: break;
      }
    }
    return vm_error(vm, "no field `%lld` on %s", (long long)i, value_type_name(obj));
  }
  ObjString *name = AS_STRING(key);
  Value m;
  if (IS_OBJ(obj)) {
    switch (OBJ_TYPE(obj)) {
    case OBJ_TENSOR: return vm->lang.tensor_get_field(vm, obj, name, out);
    case OBJ_INSTANCE: {
      ObjInstance *in = AS_INSTANCE(obj);
      int idx = access_field_index(in->cls, name);
      if (idx >= 0) {
        *out = in->fields[idx];
        return true;
      }
      if (vm_find_method(vm, obj, name, &m)) {
        *out = OBJ_VAL(bound_new(vm, obj, m));
        return true;
      }
      return vm_error(vm, "struct %s has no field `%s`", in->cls->name->chars, name->chars);
    }
    case OBJ_VARIANT: {
      ObjVariant *v = AS_VARIANT(obj);
      int idx = variant_field_index(&v->cls->variants[v->tag], name);
      if (idx >= 0 && idx < v->nfields) {
        *out = v->fields[idx];
        return true;
      }
      if (vm_find_method(vm, obj, name, &m)) {
        *out = OBJ_VAL(bound_new(vm, obj, m));
        return true;
      }
      return vm_error(vm, "%s::%s has no field `%s`", v->cls->name->chars,
                      v->cls->variants[v->tag].name->chars, name->chars);
    }
    case OBJ_MODULE: {
      ObjModule *mod = AS_MODULE(obj);
      int32_t slot = module_find(mod, name);
      if (slot < 0)
        return vm_error(vm, "module %s has no member `%s`", mod->name ? mod->name->chars : "?",
                        name->chars);
      if (IS_UNDEF(mod->values[slot])) return access_undefined(vm, name);
      *out = mod->values[slot];
      return true;
    }
    case OBJ_CLASS: {
      ObjClass *cls = AS_CLASS(obj);
      if (cls->kind == CLASS_ENUM) {
        int tag = access_variant_index(cls, name);
        if (tag >= 0) {
          VariantInfo *vi = &cls->variants[tag];
          *out = IS_UNDEF(vi->ctor) ? vi->unit_value : vi->ctor;
          return true;
        }
      }
      if (table_get(&cls->methods, name, out)) return true;
      return vm_error(vm, "%s %s has no member `%s`", access_class_kind(cls), cls->name->chars,
                      name->chars);
    }
    case OBJ_QUANTITY:
      if (vm->lang.quantity_get_field(vm, obj, name, out)) return true;
      break;
    case OBJ_COMPLEX:
      if (strcmp(name->chars, "re") == 0) {
        *out = FLOAT_VAL(((ObjComplex *)obj.as.o)->re);
        return true;
      }
      if (strcmp(name->chars, "im") == 0) {
        *out = FLOAT_VAL(((ObjComplex *)obj.as.o)->im);
        return true;
      }
      break;
    default: break;
    }
  }
  if (vm_find_method(vm, obj, name, &m)) {
    *out = OBJ_VAL(bound_new(vm, obj, m));
    return true;
  }
  return vm_error(vm, "no field `%s` on %s", name->chars, value_type_name(obj));
}

bool access_set_field(VM *vm, Value obj, Value key, Value v) {
  if (IS_TENSOR(obj) && IS_STRING(key)) return vm->lang.tensor_set_field(vm, obj, AS_STRING(key), v);
  if (IS_INSTANCE(obj)) {
    ObjInstance *in = AS_INSTANCE(obj);
    int idx = IS_INT(key) ? (key.as.i >= 0 && key.as.i < in->cls->nfields ? (int)key.as.i : -1)
                          : access_field_index(in->cls, AS_STRING(key));
    if (idx < 0) {
      if (IS_INT(key))
        return vm_error(vm, "struct %s has no field `%lld`", in->cls->name->chars,
                        (long long)key.as.i);
      return vm_error(vm, "struct %s has no field `%s`", in->cls->name->chars,
                      AS_STRING(key)->chars);
    }
    if (access_is_typespec(in->cls, idx) &&
        !access_quick_type_ok(AS_TYPESPEC(in->cls->field_types[idx]), &v) &&
        !vm_check_type(vm, AS_TYPESPEC(in->cls->field_types[idx]), &v))
      return false;
    in->fields[idx] = v;
    return true;
  }
  if (IS_VARIANT(obj)) {
    ObjVariant *var = AS_VARIANT(obj);
    int idx = IS_INT(key) ? (int)key.as.i
                          : variant_field_index(&var->cls->variants[var->tag], AS_STRING(key));
    if (idx >= 0 && idx < var->nfields) {
      var->fields[idx] = v;
      return true;
    }
  }
  if (IS_INT(key))
    return vm_error(vm, "cannot assign to field `%lld` of %s", (long long)key.as.i,
                    value_type_name(obj));
  return vm_error(vm, "cannot assign to field `%s` of %s", AS_STRING(key)->chars,
                  value_type_name(obj));
}

static bool is_char_boundary(const ObjString *s, int64_t i) {
  return i == s->len || (i >= 0 && i < s->len && ((unsigned char)s->chars[i] & 0xC0) != 0x80);
}

/* A range used as an index into a sequence of length len: the first index,
 * how many items, and the step. Bounds outside [0, len] are errors. */
static bool slice_bounds(VM *vm, const ObjRange *r, int64_t len, const char *what, int64_t *start,
                         int64_t *count, int64_t *step) {
  int64_t st = (r->flags & RANGE_HAS_STEP) ? r->step : 1;
  if (st == 0) return vm_error(vm, "slice step cannot be zero");
  bool incl = r->flags & RANGE_INCLUSIVE;
  int64_t lo, hi;
  if (st > 0) {
    lo = (r->flags & RANGE_HAS_LO) ? r->lo : 0;
    hi = (r->flags & RANGE_HAS_HI) ? r->hi + (incl ? 1 : 0) : len;
    if (lo < 0 || hi > len || lo > hi) goto out_of_range;
    *count = (hi - lo + st - 1) / st;
  } else {
    /* Walking down from lo to hi (exclusive unless inclusive). */
    lo = (r->flags & RANGE_HAS_LO) ? r->lo : len - 1;
    hi = (r->flags & RANGE_HAS_HI) ? r->hi - (incl ? 1 : 0) : -1;
    if (len == 0 && !(r->flags & (RANGE_HAS_LO | RANGE_HAS_HI))) {
      *count = 0;
      *start = 0;
      *step = st;
      return true;
    }
    if (lo >= len || hi < -1 || lo < hi) goto out_of_range;
    *count = (lo - hi + (-st) - 1) / (-st);
  }
  *start = lo;
  *step = st;
  return true;
out_of_range:
  return vm_error(vm, "slice %lld..%s%lld out of range for %s of length %lld", (long long)r->lo,
                  incl ? "=" : "", (long long)r->hi, what, (long long)len);
}

const char *access_debug_text(VM *vm, Value v) {
  vm->native_depth++;
  vm->gc_unsafe++;
  ObjString *s = vm->lang.format_value(vm, v, true);
  vm->gc_unsafe--;
  vm->native_depth--;
  if (!s) {
    vm_clear_error(vm);
    return value_type_name(v);
  }
  return s->chars;
}

static bool key_not_found(VM *vm, Value key) {
  return vm_error(vm, "key not found: %s", access_debug_text(vm, key));
}

bool access_get_index(VM *vm, Value obj, Value idx, Value *out) {
  if (IS_OBJ(obj)) {
    switch (OBJ_TYPE(obj)) {
    case OBJ_TENSOR: return vm->lang.tensor_get_index(vm, obj, idx, out);
    case OBJ_LIST: {
      ObjList *l = AS_LIST(obj);
      if (IS_INT(idx)) {
        if (idx.as.i < 0 || idx.as.i >= l->len)
          return vm_error(vm, "index %lld out of range for list of length %u", (long long)idx.as.i,
                          l->len);
        *out = l->items[idx.as.i];
        return true;
      }
      if (IS_OBJ_TYPE(idx, OBJ_RANGE)) {
        int64_t start, count, step;
        if (!slice_bounds(vm, AS_RANGE(idx), l->len, "list", &start, &count, &step)) return false;
        ObjList *r = list_new(vm, (uint32_t)count);
        for (int64_t j = 0; j < count; j++) r->items[j] = l->items[start + j * step];
        r->len = (uint32_t)count;
        *out = OBJ_VAL(r);
        return true;
      }
      break;
    }
    case OBJ_TUPLE: {
      ObjTuple *t = AS_TUPLE(obj);
      if (IS_INT(idx)) {
        if (idx.as.i < 0 || idx.as.i >= t->len)
          return vm_error(vm, "index %lld out of range for tuple of length %u", (long long)idx.as.i,
                          t->len);
        *out = t->items[idx.as.i];
        return true;
      }
      break;
    }
    case OBJ_STRING: {
      ObjString *s = AS_STRING(obj);
      if (IS_INT(idx)) {
        int64_t i = idx.as.i;
        if (i < 0 || i >= s->len)
          return vm_error(vm, "index %lld out of range for string of length %u", (long long)i,
                          s->len);
        if (!is_char_boundary(s, i))
          return vm_error(vm, "byte index %lld is not a char boundary", (long long)i);
        int64_t cp;
        utf8_decode(s->chars + i, s->len - (size_t)i, &cp);
        *out = CHAR_VAL(cp);
        return true;
      }
      if (IS_OBJ_TYPE(idx, OBJ_RANGE)) {
        int64_t start, count, step;
        if (!slice_bounds(vm, AS_RANGE(idx), s->len, "string", &start, &count, &step)) return false;
        if (step != 1) return vm_error(vm, "string slices cannot have a step");
        if (!is_char_boundary(s, start))
          return vm_error(vm, "byte index %lld is not a char boundary", (long long)start);
        if (!is_char_boundary(s, start + count))
          return vm_error(vm, "byte index %lld is not a char boundary", (long long)(start + count));
        *out = OBJ_VAL(str_copy(vm, s->chars + start, (size_t)count));
        return true;
      }
      break;
    }
    case OBJ_MAP:
      if (map_get(AS_MAP(obj), idx, out)) return true;
      return key_not_found(vm, idx);
    default: break;
    }
  }
  if (arith_user_method(vm, obj, "Index", "index", out)) { /* the prelude's Index trait */
    Value args[2] = {obj, idx};
    return arith_call_user(vm, *out, args, 2, out);
  }
  if (IS_TUPLE(idx))
    return vm_error(vm, "cannot index %s with several indices (only tensors are multi-dimensional)",
                    value_type_name(obj));
  if (IS_OBJ(obj) &&
      (OBJ_TYPE(obj) == OBJ_LIST || OBJ_TYPE(obj) == OBJ_TUPLE || OBJ_TYPE(obj) == OBJ_STRING))
    return vm_error(vm, "%s indices must be integers or ranges, got %s", value_type_name(obj),
                    value_type_name(idx));
  return vm_error(vm, "cannot index a value of type %s", value_type_name(obj));
}

bool access_set_index(VM *vm, Value obj, Value idx, Value v) {
  if (IS_TENSOR(obj)) return vm->lang.tensor_set_index(vm, obj, idx, v);
  if (IS_LIST(obj)) {
    ObjList *l = AS_LIST(obj);
    if (!IS_INT(idx))
      return vm_error(vm, "list indices must be integers, got %s", value_type_name(idx));
    if (idx.as.i < 0 || idx.as.i >= l->len)
      return vm_error(vm, "index %lld out of range for list of length %u", (long long)idx.as.i,
                      l->len);
    l->items[idx.as.i] = v;
    return true;
  }
  if (IS_OBJ_TYPE(obj, OBJ_MAP)) return map_set(vm, AS_MAP(obj), idx, v);
  Value f;
  if (arith_user_method(vm, obj, "IndexMut", "index_set", &f)) {
    Value args[3] = {obj, idx, v};
    return arith_call_user(vm, f, args, 3, &f);
  }
  if (IS_STRING(obj) || IS_TUPLE(obj))
    return vm_error(vm, "cannot assign to an element of a %s (it is immutable)",
                    value_type_name(obj));
  return vm_error(vm, "cannot index a value of type %s", value_type_name(obj));
}

bool access_unpack(VM *vm, Value v, uint32_t n, Value *out) {
  if (IS_OBJ(v)) {
    switch (OBJ_TYPE(v)) {
    case OBJ_TUPLE:
      if (n < AS_TUPLE(v)->len) {
        *out = AS_TUPLE(v)->items[n];
        return true;
      }
      break;
    case OBJ_VARIANT:
      if (n < AS_VARIANT(v)->nfields) {
        *out = AS_VARIANT(v)->fields[n];
        return true;
      }
      break;
    case OBJ_INSTANCE:
      if (n < AS_INSTANCE(v)->cls->nfields) {
        *out = AS_INSTANCE(v)->fields[n];
        return true;
      }
      break;
    case OBJ_LIST:
      if (n < AS_LIST(v)->len) {
        *out = AS_LIST(v)->items[n];
        return true;
      }
      break;
    default: break;
    }
  }
  return vm_error(vm, "cannot take element %u of %s", n, value_type_name(v));
}

/* R[B] { names...: R[B+1..] } with an optional `..base` as the last value. */
bool access_new_struct(VM *vm, Value *rb, const ObjTuple *names, Value *out) {
  Value target = rb[0];
  uint32_t n = names->len;
  bool has_base = n > 0 && AS_STRING(names->items[n - 1])->len == 2 &&
                  memcmp(AS_STRING(names->items[n - 1])->chars, "..", 2) == 0;
  uint32_t nnamed = has_base ? n - 1 : n;
  if (IS_CLASS(target) && AS_CLASS(target)->kind == CLASS_STRUCT) {
    ObjClass *cls = AS_CLASS(target);
    ObjInstance *in = instance_new(vm, cls);
    for (uint32_t j = 0; j < nnamed; j++) {
      ObjString *name = AS_STRING(names->items[j]);
      int idx = access_field_index(cls, name);
      if (idx < 0)
        return vm_error(vm, "struct %s has no field `%s`", cls->name->chars, name->chars);
      in->fields[idx] = rb[1 + j];
    }
    if (has_base) {
      Value b = rb[1 + nnamed];
      if (!IS_INSTANCE(b) || AS_INSTANCE(b)->cls != cls)
        return vm_error(vm, "the base of a struct update must be a %s, got %s", cls->name->chars,
                        value_type_name(b));
      for (int i = 0; i < cls->nfields; i++)
        if (IS_UNDEF(in->fields[i])) in->fields[i] = AS_INSTANCE(b)->fields[i];
    }
    for (int i = 0; i < cls->nfields; i++) {
      if (IS_UNDEF(in->fields[i])) {
        if (!cls->field_defaults || IS_UNDEF(cls->field_defaults[i]))
          return vm_error(vm, "missing field `%s` in struct %s", cls->field_names[i]->chars,
                          cls->name->chars);
        in->fields[i] = cls->field_defaults[i];
      }
      if (access_is_typespec(cls, i) &&
          !vm_check_type(vm, AS_TYPESPEC(cls->field_types[i]), &in->fields[i]))
        return false;
    }
    *out = OBJ_VAL(in);
    return true;
  }
  if (IS_OBJ_TYPE(target, OBJ_CTOR)) {
    ObjCtor *ctor = AS_CTOR(target);
    VariantInfo *vi = &ctor->cls->variants[ctor->tag];
    ObjVariant *var = variant_new(vm, ctor->cls, ctor->tag, vi->nfields);
    for (int i = 0; i < vi->nfields; i++) var->fields[i] = UNDEF_VAL;
    for (uint32_t j = 0; j < nnamed; j++) {
      ObjString *name = AS_STRING(names->items[j]);
      int idx = variant_field_index(vi, name);
      if (idx < 0)
        return vm_error(vm, "%s::%s has no field `%s`", ctor->cls->name->chars, vi->name->chars,
                        name->chars);
      var->fields[idx] = rb[1 + j];
    }
    if (has_base) {
      Value b = rb[1 + nnamed];
      if (!IS_VARIANT(b) || AS_VARIANT(b)->cls != ctor->cls || AS_VARIANT(b)->tag != ctor->tag)
        return vm_error(vm, "the base of a struct update must be a %s::%s, got %s",
                        ctor->cls->name->chars, vi->name->chars, value_type_name(b));
      for (int i = 0; i < vi->nfields; i++)
        if (IS_UNDEF(var->fields[i])) var->fields[i] = AS_VARIANT(b)->fields[i];
    }
    for (int i = 0; i < vi->nfields; i++)
      if (IS_UNDEF(var->fields[i]))
        return vm_error(vm, "missing field `%s` in %s::%s",
                        vi->field_names ? vi->field_names[i]->chars : "?", ctor->cls->name->chars,
                        vi->name->chars);
    *out = OBJ_VAL(var);
    return true;
  }
  return vm_error(vm, "%s is not a struct", value_type_name(target));
}

/* Option/Result: true for Some/Ok (the payload continues), false for
 * None/Err (`?` returns the value). */
bool access_is_success(const ObjVariant *v) {
  const char *n = v->cls->variants[v->tag].name->chars;
  return strcmp(n, "Some") == 0 || strcmp(n, "Ok") == 0;
}

bool access_variant_matches(Value v, Value pattern) {
  if (!IS_OBJ(pattern)) return false;
  switch (OBJ_TYPE(pattern)) {
  case OBJ_VARIANT:
    return IS_VARIANT(v) && AS_VARIANT(v)->cls == AS_VARIANT(pattern)->cls &&
           AS_VARIANT(v)->tag == AS_VARIANT(pattern)->tag;
  case OBJ_CTOR:
    return IS_VARIANT(v) && AS_VARIANT(v)->cls == AS_CTOR(pattern)->cls &&
           AS_VARIANT(v)->tag == AS_CTOR(pattern)->tag;
  case OBJ_CLASS:
    return (IS_INSTANCE(v) && AS_INSTANCE(v)->cls == AS_CLASS(pattern)) ||
           (IS_VARIANT(v) && AS_VARIANT(v)->cls == AS_CLASS(pattern));
  default: return false;
  }
}

/* Decimal digits of v into buf (at least 21 bytes); returns the length.
 * snprintf costs more than the rest of a small concatenation. */
static size_t i64_to_chars(char *buf, int64_t v) {
  char tmp[24];
  int n = 0;
  uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
  do {
    tmp[n++] = (char)('0' + u % 10);
    u /= 10;
  } while (u);
  size_t len = 0;
  if (v < 0) buf[len++] = '-';
  while (n) buf[len++] = tmp[--n];
  return len;
}

bool access_concat(VM *vm, const Value *vs, int n, Value *out) {
  char small[512];
  char *buf = small;
  size_t len = 0, cap = sizeof small;
  bool ok = true;
  for (int i = 0; i < n && ok; i++) {
    const char *p;
    size_t l;
    char num[32];
    if (IS_STRING(vs[i])) {
      p = AS_STRING(vs[i])->chars;
      l = AS_STRING(vs[i])->len;
    } else if (IS_INT(vs[i])) {
      l = i64_to_chars(num, vs[i].as.i);
      p = num;
    } else {
      ObjString *s = vm->lang.format_value(vm, vs[i], false);
      if (!s) {
        ok = false;
        break;
      }
      p = s->chars;
      l = s->len;
    }
    if (len + l > cap) {
      while (len + l > cap) cap *= 2;
      char *nb = buf == small ? malloc(cap) : realloc(buf, cap);
      if (!nb) {
        fputs("nsc: out of memory\n", stderr);
        exit(1);
      }
      if (buf == small) memcpy(nb, small, len);
      buf = nb;
    }
    memcpy(buf + len, p, l);
    len += l;
  }
  if (ok) *out = OBJ_VAL(str_new(vm, buf, len));
  if (buf != small) free(buf);
  return ok;
}

/* --------------------------------------------------------------- iteration */

bool access_iter_prepare(VM *vm, Value it) {
  if (IS_OBJ(it)) {
    switch (OBJ_TYPE(it)) {
    case OBJ_LIST:
    case OBJ_TUPLE:
    case OBJ_STRING:
    case OBJ_MAP: return true;
    case OBJ_RANGE:
      if (!(AS_RANGE(it)->flags & RANGE_HAS_LO))
        return vm_error(vm, "cannot iterate over a range without a start");
      if (AS_RANGE(it)->step == 0) return vm_error(vm, "range step cannot be zero");
      return true;
    default: break;
    }
  }
  Value m;
  if (vm_find_method(vm, it, str_cstr(vm, "next"), &m)) return true;
  return vm_error(vm, "cannot iterate over a value of type %s", value_type_name(it));
}

/* The built-in iterables: item number `*state`. 1: an item, 0: done. */
int access_iter_next(VM *vm, Value it, Value *state, Value *item) {
  switch (OBJ_TYPE(it)) {
  case OBJ_TUPLE: {
    ObjTuple *t = AS_TUPLE(it);
    if (state->as.i >= t->len) return 0;
    *item = t->items[state->as.i++];
    return 1;
  }
  case OBJ_STRING: {
    ObjString *s = AS_STRING(it);
    int64_t at = state->as.i, cp;
    if (at >= s->len) return 0;
    state->as.i += utf8_decode(s->chars + at, s->len - (size_t)at, &cp);
    *item = CHAR_VAL(cp);
    return 1;
  }
  case OBJ_RANGE: return range_next(vm, AS_RANGE(it), state, item);
  case OBJ_MAP: {
    ObjMap *m = AS_MAP(it);
    int64_t e = state->as.i;
    while (e < m->nentries && IS_UNDEF(m->keys[e])) e++;
    if (e >= m->nentries) {
      state->as.i = e;
      return 0;
    }
    ObjTuple *pair = tuple_new(vm, 2);
    pair->items[0] = m->keys[e];
    pair->items[1] = m->values[e];
    state->as.i = e + 1;
    *item = OBJ_VAL(pair);
    return 1;
  }
  default: return 0;
  }
}
