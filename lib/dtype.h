/* nl — see LICENSE. Element types: numbering (never renumbered), names as in safetensors,
 * half-precision conversions and checked conversions between any two types. */
#ifndef NL_DTYPE_H
#define NL_DTYPE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

enum nl_dtype {
	NL_DTYPE_INVALID = 0,
	NL_DTYPE_F32 = 1,
	NL_DTYPE_F64 = 2,
	NL_DTYPE_F16 = 3,
	NL_DTYPE_BF16 = 4,
	NL_DTYPE_I8 = 5,
	NL_DTYPE_U8 = 6,
	NL_DTYPE_I16 = 7,
	NL_DTYPE_U16 = 8,
	NL_DTYPE_I32 = 9,
	NL_DTYPE_U32 = 10,
	NL_DTYPE_I64 = 11,
	NL_DTYPE_U64 = 12,
	NL_DTYPE_BOOL = 13 /* one byte, 0 or 1 */
};
#define NL_DTYPE_MAX 13

/* Bytes per element; 0 for an unknown code. */
size_t nl_dtype_size(int dtype);
/* "F32", ...; "?" for an unknown code. */
const char *nl_dtype_name(int dtype);
/* Code for a name ("F32"), NL_DTYPE_INVALID if unknown. */
enum nl_dtype nl_dtype_parse(const char *name);
int nl_dtype_is_float(int dtype);

float nl_f16_to_f32(uint16_t h);
uint16_t nl_f32_to_f16(float f);   /* round to nearest even; overflow gives inf */
float nl_bf16_to_f32(uint16_t h);
uint16_t nl_f32_to_bf16(float f);  /* round to nearest even; NaN stays NaN */

/* Convert n elements (little-endian host assumed). Float to integer rounds toward zero and
 * fails with NL_ERANGE on NaN or out-of-range values; integer to integer fails when the
 * value does not fit; BOOL accepts only 0/1 on input and yields 0/1 on output. */
int nl_dtype_convert(void *dst, enum nl_dtype dst_type, const void *src, enum nl_dtype src_type,
    size_t n, struct nl_err *err);

#endif
