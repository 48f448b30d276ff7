/* nl — see LICENSE. Numerical leaves: pure functions over raw pointers with explicit sizes;
 * no I/O, no allocation (the caller passes scratch), no globals; they may call cblas.
 *
 * Shape legend: B batch, T time, C channels (d_model), H heads, D head dim (C = H·D),
 * V vocabulary, F hidden width, N rows (usually B·T). Tensors are row-major (C order);
 * matrices are stored (out, in) and applied y = x·Wᵀ; heads are contiguous column blocks
 * (head h owns columns [h·D, (h+1)·D) of C).
 *
 * Conventions: each op is nlk_<op>_fwd / nlk_<op>_bwd, with its naive reference
 * nlk_<op>_fwd_ref / _bwd_ref directly above the fast version in the same file (the reference
 * is the specification; tests compare the two). Backward functions ACCUMULATE into their
 * gradient outputs (+=); a NULL gradient output is skipped. Outputs never alias inputs
 * unless the declaration says so.
 *
 * Every function exists in float (names as below) and in double (suffix _f64): kernels.h
 * declares both by including kernels_api.h twice. */
#ifndef NLK_KERNELS_H
#define NLK_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/* Inner step rules of the memories (memory.c, MODEL §1.3). */
enum nlk_step { NLK_STEP_LITERAL, NLK_STEP_PROX, NLK_STEP_PROX_CHUNK, NLK_STEP_MEAN };

/* nlk_dgd_keys: keys per block, and the work either form needs for W [r, c] */
#define NLK_DGD_BLOCK 64
#define NLK_DGD_WORK(r, c) ((size_t)NLK_DGD_BLOCK * ((r) + (c) + NLK_DGD_BLOCK) + 2 * (size_t)(r) \
	+ (size_t)(c))

#define NLK_API_REAL float
#define NLK_API(name) name
#include "kernels_api.h"
#undef NLK_API_REAL
#undef NLK_API

#define NLK_API_REAL double
#define NLK_API(name) name##_f64
#include "kernels_api.h"
#undef NLK_API_REAL
#undef NLK_API

#endif
