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

#include "kernels.h"

#endif
