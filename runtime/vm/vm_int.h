/* What the interpreter's files share inside runtime/vm/ (vm.c: state and
 * the loop; call.c: calls; error.c: runtime errors and traces). Not part
 * of the VM's interface: code outside runtime/vm/ uses vm.h. */
#ifndef NS_VM_INT_H
#define NS_VM_INT_H

#include "vm.h"

#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)

/* ---- vm.c */

/* Run from the top frame until the frame at index `entry` (which has stop
 * set) returns; false after a runtime error, with frames [entry, top)
 * unwound and their trace appended. */
bool vm_execute(VM *vm, int entry);

/* ---- call.c */

/* How a call went: an error (vm_error set), done (a native or constructor
 * stored its result), or a frame pushed for an interpreted callee, which
 * the loop continues in. */
typedef enum { CALL_ERROR, CALL_DONE, CALL_FRAME } CallStatus;

/* Call any callable with args[0..argc), the last names->len of them named
 * (names may be NULL); the result goes to *ret. A closure's frame starts at
 * args[0], so its arguments must be on the stack. `hidden`: 1 when args[0]
 * is a receiver the caller did not write (not counted in arity errors). */
CallStatus call_value(VM *vm, Value callee, Value *args, int argc, const ObjTuple *names,
                      Value *ret, int hidden);
/* R[A].name(R[A+1] .. R[A+nargs]) with ra = &R[A]; the result to R[A]. */
CallStatus call_invoke(VM *vm, Value *ra, ObjString *name, int nargs, const ObjTuple *names);

/* ---- upvalues: inline, as CLOSURE, CLOSE and RETURN use them */

/* The open upvalue of stack slot `slot`, made on first capture; the open
 * list is sorted by slot, highest first. */
static inline ObjUpvalue *capture_upvalue(VM *vm, Value *slot) {
  ObjUpvalue **link = &vm->open_upvalues;
  while (*link && (*link)->location > slot) link = &(*link)->next_open;
  if (*link && (*link)->location == slot) return *link;
  ObjUpvalue *u = upvalue_new(vm, slot);
  u->next_open = *link;
  *link = u;
  return u;
}

/* Close the open upvalues of slots >= level: they keep the value. */
static inline void close_upvalues(VM *vm, Value *level) {
  while (vm->open_upvalues && vm->open_upvalues->location >= level) {
    ObjUpvalue *u = vm->open_upvalues;
    u->closed = *u->location;
    u->location = &u->closed;
    vm->open_upvalues = u->next_open;
  }
}

/* ---- error.c */

static inline const char *proto_name(const ObjProto *p) {
  return p->name ? p->name->chars : "<fn>";
}
/* Append one entry to the error's trace (src NULL: a native, shown
 * without a position); the interpreter loop adds its frames as it unwinds. */
void trace_push(VM *vm, const char *function, Source *src, uint32_t offset);

#endif
