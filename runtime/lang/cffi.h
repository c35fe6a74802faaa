/* The C FFI: natives that call C functions through libffi.
 *
 * `extern "libm.so.6" { fn hypot(a: f64, b: f64) -> f64; }` is compiled
 * (compiler/codegen/extern.c) into a signature string per function and turned
 * here into an ObjNative whose `data` is the function's address, parsed
 * signature and libffi call interface. Libraries are opened and symbols
 * resolved while the block compiles, so a missing one is a compile error.
 *
 * Signature strings: one letter per parameter, an optional '.' (variadic),
 * ':' and one letter for the result.
 *   v  void (results only)      z  bool (C _Bool)
 *   b h i l  i8 i16 i32 i64     B H I L  u8 u16 u32 u64
 *   f d  f32 f64                s  C string (`*const u8`, `*const c_char`, `&str`)
 *   p  any other raw pointer (an int address, or any contiguous tensor)
 *   F D Q  pointers to f32, f64, i64: an address or a tensor of that dtype
 *   c(SIG)  a callback: a NeuralScript function called from C
 * e.g. "dd:d" (hypot), "s.:i" (printf), "pLLc(pp:i):v" (qsort). */
#ifndef NS_CFFI_H
#define NS_CFFI_H

#include <stddef.h>

#include "vm.h"

/* dlopen a library once per name ("C": the running process). NULL with a
 * message in err on failure. Handles are never closed: natives keep
 * pointers into them. */
void *cffi_open(const char *lib, char *err, size_t errlen);


#define CFFI_MAX_ARGS 32 /* parameters of a C function, and arguments of a call */

/* A native calling symbol `name` of `handle` with signature `sig`; NULL
 * with a message in err if the symbol is missing or sig is malformed.
 * `lib` names the library in messages; params[0..nparams) are the fixed
 * parameters as declared ("b: f64"), which argument errors quote. */
ObjNative *cffi_native_new(VM *vm, void *handle, const char *lib, const char *name, const char *sig,
                           const char *const *params, int nparams, char *err, size_t errlen);

/* Releases the FFI data of a native (gc.c, when the native is freed). */
void cffi_free_data(void *data);

/* The prelude's raw memory access: ptr_read_f64(addr, i?), ptr_write_f64(addr, i?, v), ... */
void lib_ffi_init(VM *vm);

#endif
