/* The file loaders' C entry points (runtime/lang/lib_data.c and
 * runtime/lang/safetensors.c): each parses a whole file held in memory, so
 * the natives, the tests and the fuzz targets (tests/fuzz/) share one
 * code path. NAME is the path shown in error messages; every malformed
 * input is a vm_error ("load_npy: NAME: ...") and a false return, never a
 * crash and never an allocation larger than the input can fill. */
#ifndef NS_LIB_DATA_H
#define NS_LIB_DATA_H

#include <stddef.h>

#include "vm.h"

/* Inputs that are not regular files (pipes, FIFOs, character devices such
 * as /dev/stdin) are read up to this many bytes; more is an error, which
 * is what endless inputs such as /dev/zero get. */
#define LIB_INPUT_LIMIT ((size_t)256 << 20)

/* A whole input file, NUL-terminated (data[len] == 0). */
typedef struct {
  unsigned char *data;
  size_t len;
} LibBytes;

/* Read the file at path into out. On failure out is empty and err holds
 * "cannot open PATH: REASON", "PATH: is a directory", "PATH: not a regular
 * file and longer than 256 MiB" or "cannot read PATH: REASON". */
bool lib_read_input(const char *path, LibBytes *out, char *err, size_t errlen);

/* The element count of a shape, or -1 when its nonzero dims times
 * itemsize exceed INT64_MAX (a zero dim does not make [0, 2^63-1]
 * acceptable: strides and offsets into it would overflow). */
int64_t lib_shape_numel(const int64_t *shape, int ndim, size_t itemsize);
/* "[2, 3]" */
void lib_shape_str(const int64_t *shape, int ndim, char *buf, size_t n);

/* Where an atomic save to path writes (tmp file + rename): path itself, or
 * for a symbolic link the file it resolves to, so the link stays and its
 * target is replaced. False with err when path exists and is not a regular
 * file (a directory, a device such as /dev/full, a FIFO, a socket) or is a
 * link to a missing file. */
bool lib_save_target(const char *path, char *target, size_t n, char *err, size_t errlen);

bool lib_data_parse_npy(VM *vm, const char *name, const unsigned char *buf, size_t len, Value *out);
/* Plain or gzip-compressed IDX; float values are divided by divisor (1.0
 * keeps the raw values). */
bool lib_data_parse_idx(VM *vm, const char *name, const unsigned char *buf, size_t len, double divisor,
                        Value *out);
bool lib_data_parse_csv(VM *vm, const char *name, const char *buf, size_t len, bool header, Value *out);
bool lib_checkpoint_parse_safetensors(VM *vm, const char *name, const unsigned char *buf, size_t len, Value *out);

#endif
