/* nl — see LICENSE. Element types, half-precision conversions, checked conversions. */
#include "dtype.h"

#include <float.h>
#include <math.h>
#include <string.h>

static const struct {
	const char *name;
	size_t size;
} dtypes[NL_DTYPE_MAX + 1] = {
	[NL_DTYPE_F32] = { "F32", 4 },  [NL_DTYPE_F64] = { "F64", 8 },
	[NL_DTYPE_F16] = { "F16", 2 },  [NL_DTYPE_BF16] = { "BF16", 2 },
	[NL_DTYPE_I8] = { "I8", 1 },    [NL_DTYPE_U8] = { "U8", 1 },
	[NL_DTYPE_I16] = { "I16", 2 },  [NL_DTYPE_U16] = { "U16", 2 },
	[NL_DTYPE_I32] = { "I32", 4 },  [NL_DTYPE_U32] = { "U32", 4 },
	[NL_DTYPE_I64] = { "I64", 8 },  [NL_DTYPE_U64] = { "U64", 8 },
	[NL_DTYPE_BOOL] = { "BOOL", 1 },
};

size_t
nl_dtype_size(int dtype)
{
	return dtype > 0 && dtype <= NL_DTYPE_MAX ? dtypes[dtype].size : 0;
}

const char *
nl_dtype_name(int dtype)
{
	return dtype > 0 && dtype <= NL_DTYPE_MAX ? dtypes[dtype].name : "?";
}

enum nl_dtype
nl_dtype_parse(const char *name)
{
	for (int i = 1; i <= NL_DTYPE_MAX; i++)
		if (strcmp(dtypes[i].name, name) == 0)
			return (enum nl_dtype)i;
	return NL_DTYPE_INVALID;
}

int
nl_dtype_is_float(int dtype)
{
	return dtype == NL_DTYPE_F32 || dtype == NL_DTYPE_F64 || dtype == NL_DTYPE_F16 ||
	    dtype == NL_DTYPE_BF16;
}

static uint32_t
f32_bits(float f)
{
	uint32_t u;
	memcpy(&u, &f, 4);
	return u;
}

static float
bits_f32(uint32_t u)
{
	float f;
	memcpy(&f, &u, 4);
	return f;
}

float
nl_f16_to_f32(uint16_t h)
{
	uint32_t sign = (uint32_t)(h & 0x8000) << 16;
	uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ff;

	if (exp == 0x1f)
		return bits_f32(sign | 0x7f800000 | man << 13);
	if (exp == 0) {
		/* subnormal or zero: value = man * 2^-24 exactly */
		float v = (float)man * 0x1p-24f;
		return sign ? -v : v;
	}
	return bits_f32(sign | (exp + 112) << 23 | man << 13);
}

uint16_t
nl_f32_to_f16(float f)
{
	uint32_t u = f32_bits(f);
	uint16_t sign = (uint16_t)((u >> 16) & 0x8000);
	uint32_t absu = u & 0x7fffffff;

	if (absu > 0x7f800000) /* NaN: keep it quiet and non-zero */
		return (uint16_t)(sign | 0x7e00 | ((absu >> 13) & 0x3ff));
	if (absu >= 0x477ff000) /* rounds to >= 65520: infinity */
		return (uint16_t)(sign | 0x7c00);
	if (absu < 0x38800000) {
		/* result is subnormal in f16: round |f| * 2^24 to an integer, ties to even */
		float a = bits_f32(absu) * 0x1p24f;
		return (uint16_t)(sign | (uint16_t)nearbyintf(a));
	}
	/* normal: rebias exponent and round the 13 dropped bits to nearest even */
	uint32_t r = absu + 0xfff + ((absu >> 13) & 1);
	return (uint16_t)(sign | (uint16_t)((r - 0x38000000) >> 13));
}

float
nl_bf16_to_f32(uint16_t h)
{
	return bits_f32((uint32_t)h << 16);
}

uint16_t
nl_f32_to_bf16(float f)
{
	uint32_t u = f32_bits(f);

	if ((u & 0x7fffffff) > 0x7f800000)
		return (uint16_t)((u >> 16) | 0x40);
	u += 0x7fff + ((u >> 16) & 1);
	return (uint16_t)(u >> 16);
}

/* x rounded to a float with round-to-odd: truncate, and set the last mantissa bit when
 * inexact. Rounding that float again to 11 or 8 mantissa bits then equals rounding x
 * directly, which a nearest-even float would not (double rounding). */
static float
odd_from_double(double x)
{
	float f = (float)x;

	if (isnan(f) || (double)f == x)
		return f;
	if (isinf(f))
		return copysignf(FLT_MAX, f); /* FLT_MAX is odd; halves overflow to inf from it */
	if (fabs((double)f) > fabs(x))
		f = nextafterf(f, 0.0f);
	return bits_f32(f32_bits(f) | 1);
}

/* A 64-bit integer (|value| = mag) as a float, rounded to nearest even or, with odd set,
 * to odd, in integer arithmetic: no wider float is needed, and none is trusted (valgrind
 * converts 64-bit integers to float through double). */
static float
float_from_int(uint64_t mag, int negative, int odd)
{
	int bits = 0;
	for (uint64_t m = mag; m != 0; m >>= 1)
		bits++;
	int shift = bits > 24 ? bits - 24 : 0;
	uint64_t top = mag >> shift;
	if (shift > 0) {
		uint64_t rem = mag & ((UINT64_C(1) << shift) - 1), half = UINT64_C(1) << (shift - 1);
		if (odd)
			top |= rem != 0;
		else if (rem > half || (rem == half && (top & 1)))
			top++; /* may reach 2^24: still exact */
	}
	float f = ldexpf((float)top, shift);
	return negative ? -f : f;
}

/* One element as a double or as a 64-bit integer, whichever represents it exactly. */
struct value {
	int is_float, is_unsigned;
	double f;
	int64_t i;
	uint64_t u;
};

static struct value
load(const unsigned char *p, enum nl_dtype t)
{
	struct value v = { 0, 0, 0, 0, 0 };
	uint16_t h;
	float f;

	switch (t) {
	case NL_DTYPE_F32: memcpy(&f, p, 4); v.is_float = 1; v.f = f; break;
	case NL_DTYPE_F64: memcpy(&v.f, p, 8); v.is_float = 1; break;
	case NL_DTYPE_F16: memcpy(&h, p, 2); v.is_float = 1; v.f = nl_f16_to_f32(h); break;
	case NL_DTYPE_BF16: memcpy(&h, p, 2); v.is_float = 1; v.f = nl_bf16_to_f32(h); break;
	case NL_DTYPE_I8: { int8_t x; memcpy(&x, p, 1); v.i = x; break; }
	case NL_DTYPE_I16: { int16_t x; memcpy(&x, p, 2); v.i = x; break; }
	case NL_DTYPE_I32: { int32_t x; memcpy(&x, p, 4); v.i = x; break; }
	case NL_DTYPE_I64: memcpy(&v.i, p, 8); break;
	case NL_DTYPE_U8: case NL_DTYPE_BOOL: v.is_unsigned = 1; v.u = p[0]; break;
	case NL_DTYPE_U16: { uint16_t x; memcpy(&x, p, 2); v.is_unsigned = 1; v.u = x; break; }
	case NL_DTYPE_U32: { uint32_t x; memcpy(&x, p, 4); v.is_unsigned = 1; v.u = x; break; }
	case NL_DTYPE_U64: v.is_unsigned = 1; memcpy(&v.u, p, 8); break;
	default: break;
	}
	return v;
}

/* Integer bounds of each integer type, as [lo, hi] in a signed/unsigned pair. */
static int
int_bounds(enum nl_dtype t, int64_t *lo, uint64_t *hi)
{
	switch (t) {
	case NL_DTYPE_I8: *lo = INT8_MIN; *hi = INT8_MAX; return 0;
	case NL_DTYPE_I16: *lo = INT16_MIN; *hi = INT16_MAX; return 0;
	case NL_DTYPE_I32: *lo = INT32_MIN; *hi = INT32_MAX; return 0;
	case NL_DTYPE_I64: *lo = INT64_MIN; *hi = INT64_MAX; return 0;
	case NL_DTYPE_U8: *lo = 0; *hi = UINT8_MAX; return 0;
	case NL_DTYPE_U16: *lo = 0; *hi = UINT16_MAX; return 0;
	case NL_DTYPE_U32: *lo = 0; *hi = UINT32_MAX; return 0;
	case NL_DTYPE_U64: *lo = 0; *hi = UINT64_MAX; return 0;
	case NL_DTYPE_BOOL: *lo = 0; *hi = 1; return 0;
	default: return -1;
	}
}

static void
store_int(unsigned char *p, enum nl_dtype t, uint64_t bits)
{
	size_t n = nl_dtype_size(t);
	/* little-endian host: the low n bytes of the two's-complement value */
	memcpy(p, &bits, n);
}

int
nl_dtype_convert(void *dst, enum nl_dtype dst_type, const void *src, enum nl_dtype src_type,
    size_t n, struct nl_err *err)
{
	size_t ss = nl_dtype_size(src_type), ds = nl_dtype_size(dst_type);
	const unsigned char *s = src;
	unsigned char *d = dst;

	if (ss == 0 || ds == 0)
		return nl_err_set(err, NL_EUNSUPPORTED, "unknown dtype");
	if (src_type == dst_type) {
		memmove(dst, src, n * ss);
		return 0;
	}
	for (size_t k = 0; k < n; k++, s += ss, d += ds) {
		struct value v = load(s, src_type);
		if (src_type == NL_DTYPE_BOOL && v.u > 1)
			return nl_err_set(err, NL_ERANGE, "element %zu: BOOL value %u is not 0 or 1",
			    k, (unsigned)v.u);
		if (nl_dtype_is_float(dst_type)) {
			/* each conversion rounds once: C's integer and double conversions round
			 * correctly, and halves go through a round-to-odd float */
			float f, odd;
			double g;
			uint16_t h;
			if (v.is_float) {
				f = (float)v.f;
				g = v.f;
				odd = odd_from_double(v.f);
			} else {
				int neg = !v.is_unsigned && v.i < 0;
				uint64_t mag = v.is_unsigned ? v.u : neg ? 0 - (uint64_t)v.i : (uint64_t)v.i;
				f = float_from_int(mag, neg, 0);
				g = v.is_unsigned ? (double)v.u : (double)v.i;
				odd = float_from_int(mag, neg, 1);
			}
			switch (dst_type) {
			case NL_DTYPE_F32: memcpy(d, &f, 4); break;
			case NL_DTYPE_F64: memcpy(d, &g, 8); break;
			case NL_DTYPE_F16: h = nl_f32_to_f16(odd); memcpy(d, &h, 2); break;
			default: h = nl_f32_to_bf16(odd); memcpy(d, &h, 2); break;
			}
			continue;
		}
		int64_t lo = 0;
		uint64_t hi = 0;
		int_bounds(dst_type, &lo, &hi);
		if (v.is_float) {
			if (isnan(v.f))
				return nl_err_set(err, NL_ERANGE, "element %zu: NaN has no %s value", k,
				    nl_dtype_name(dst_type));
			double t = trunc(v.f);
			/* compare in double: bounds up to 2^64 are exact powers or rounded up */
			if (t < (double)lo || t >= (double)hi + 1.0 ||
			    (dst_type == NL_DTYPE_BOOL && t != v.f))
				return nl_err_set(err, NL_ERANGE, "element %zu: %g out of range for %s", k,
				    v.f, nl_dtype_name(dst_type));
			if (t < 0)
				store_int(d, dst_type, (uint64_t)(int64_t)t);
			else
				store_int(d, dst_type, (uint64_t)t);
		} else if (v.is_unsigned) {
			if (v.u > hi)
				return nl_err_set(err, NL_ERANGE, "element %zu: %llu out of range for %s",
				    k, (unsigned long long)v.u, nl_dtype_name(dst_type));
			store_int(d, dst_type, v.u);
		} else {
			if (v.i < lo || (v.i > 0 && (uint64_t)v.i > hi))
				return nl_err_set(err, NL_ERANGE, "element %zu: %lld out of range for %s",
				    k, (long long)v.i, nl_dtype_name(dst_type));
			store_int(d, dst_type, (uint64_t)v.i);
		}
	}
	return 0;
}
