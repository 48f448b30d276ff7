/* nl — see LICENSE. Precision of a kernel translation unit. Every .c file of kernels/ is compiled
 * twice: in float (the names as written, what training runs) and, with -DNLK_F64, in double
 * (names with an _f64 suffix, what finite-difference gradient checks run), so the checked
 * code is the code that trains. Include this first in every kernel source file. */
#ifndef NLK_REAL_H
#define NLK_REAL_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#ifdef NLK_F64
#define nlk_real double
#define NLK(name) name##_f64
#define NLK_SQRT sqrt
#define NLK_EXP exp
#define NLK_LOG log
#define NLK_COS cos
#define NLK_SIN sin
#define NLK_POW pow
#define NLK_FABS fabs
#else
#define nlk_real float
#define NLK(name) name
#define NLK_SQRT sqrtf
#define NLK_EXP expf
#define NLK_LOG logf
#define NLK_COS cosf
#define NLK_SIN sinf
#define NLK_POW powf
#define NLK_FABS fabsf
#endif

#include <string.h>

/*
 * NLK_WIDE: a kernel built twice, for plain x86-64 and for AVX2 (x86-64-v3), the loader
 * picking the one the CPU runs (GCC's function multiversioning; elsewhere one build).
 * For the per-head loops of the memories, whose vectors no BLAS call covers. Both builds
 * give the same bits: ISO C mode never contracts a*b+c into an FMA, and every sum in them
 * has a fixed order (the wider vectors only hold more of its independent lanes).
 */
/* The eight running partial sums of a vectorisable dot product (a single running sum may
 * not be reordered without -ffast-math, eight independent ones vectorise), added in one
 * fixed pairwise order. */
static inline nlk_real
nlk_sum8(const nlk_real p[8])
{
	return ((p[0] + p[4]) + (p[1] + p[5])) + ((p[2] + p[6]) + (p[3] + p[7]));
}

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define NLK_WIDE __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define NLK_WIDE
#endif

/*
 * NLK_EXPV: the exponential the fast kernels use inside loops. In double it is exp (the
 * gradient checks run libm). In float it is an inline exp that the compiler can vectorise
 * (libm's expf is a call per element and dominated SwiGLU, softmax and cross-entropy):
 * x = n·ln2 + r with |r| ≤ ln2/2, e^r from Cephes' degree-6 polynomial, 2^n from the
 * exponent bits; relative error ≤ 2e-7 (2 ulp). Out of range it saturates like expf, a
 * little early: below −87.34 it returns 0 (expf goes through denormals down to −103.3),
 * above 88.38 +inf (expf at 88.72). x is clamped to [−88, 89] first, which keeps n in
 * [−127, 128], whose exponent bits are exactly 0 and +inf.
 */
static inline float
nlk_expf(float x)
{
	x = x < -88.0f ? -88.0f : x;
	x = x > 89.0f ? 89.0f : x;
	/* adding 1.5·2^23 rounds x·log2(e) to the integer n held in the low mantissa bits */
	float t = x * 1.44269504088896341f + 12582912.0f;
	float n = t - 12582912.0f;
	float r = x - n * 0.693359375f + n * 2.12194440e-4f;
	float p = 1.9875691500e-4f;
	p = p * r + 1.3981999507e-3f;
	p = p * r + 8.3334519073e-3f;
	p = p * r + 4.1665795894e-2f;
	p = p * r + 1.6666665459e-1f;
	p = p * r + 5.0000001201e-1f;
	p = p * r * r + r + 1.0f;
	/* unsigned, so a NaN's garbage exponent shifts without undefined behaviour (p is NaN) */
	uint32_t bits, scale;
	memcpy(&bits, &t, sizeof bits);
	scale = (bits - 0x4b400000u + 127u) << 23;
	float s;
	memcpy(&s, &scale, sizeof s);
	return p * s;
}

#ifdef NLK_F64
#define NLK_EXPV exp
#else
#define NLK_EXPV nlk_expf
#endif

#include "kernels.h"

#endif
