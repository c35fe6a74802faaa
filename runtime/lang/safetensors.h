/* The safetensors format's dtypes, shared by its writer (save_safetensors,
 * lib_checkpoint.c) and its reader (safetensors.c, whose in-memory entry
 * point lib_checkpoint_parse_safetensors is declared in lib_data.h). */
#ifndef NS_SAFETENSORS_H
#define NS_SAFETENSORS_H

#include "tensor.h"

/* By DType: the header's "dtype" names ("F32", "F64", "I64", "BOOL") and
 * the bytes of one element in the data. */
extern const char *const st_dtype_names[DT__COUNT];
extern const size_t st_dtype_sizes[DT__COUNT];

#endif
