/* nl — see LICENSE. Elementwise activations: SiLU and the SwiGLU gate. */
#include "real.h"

/*
 * σ(x) = 1 / (1 + e^−x) is accurate to relative rounding for every x: for large negative x
 * e^−x overflows to +inf and σ becomes 0 (never NaN); for large positive x it is exactly 1.
 * Only 1 − σ loses accuracy there, and it is only used multiplied by x in σ', where the lost
 * part is below the rounding of the result.
 *	SiLU(x) = x σ(x),  SiLU'(x) = σ(x) (1 + x (1 − σ(x))).
 * Each loop is its own reference (kernels_api.h declares no _ref): there is nothing to fuse.
 */

static inline nlk_real
sigmoid(nlk_real x)
{
	return 1 / (1 + NLK_EXPV(-x));
}

/* x (n) -> y (n); y may alias x. */
void
NLK(nlk_silu_fwd)(nlk_real *y, const nlk_real *x, size_t n)
{
	for (size_t i = 0; i < n; i++)
		y[i] = x[i] * sigmoid(x[i]);
}

/* dy (n), x (n) -> dx (n) += dy · SiLU'(x); NULL dx is skipped. */
void
NLK(nlk_silu_bwd)(nlk_real *dx, const nlk_real *dy, const nlk_real *x, size_t n)
{
	if (dx == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		nlk_real s = sigmoid(x[i]);
		dx[i] += dy[i] * s * (1 + x[i] * (1 - s));
	}
}

/* a (n), b (n) -> y (n) = SiLU(a) ⊙ b */
void
NLK(nlk_swiglu_fwd)(nlk_real *y, const nlk_real *a, const nlk_real *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		y[i] = a[i] * sigmoid(a[i]) * b[i];
}

/* dy (n), a (n), b (n) -> da (n) += dy · b · SiLU'(a), db (n) += dy · SiLU(a); either may be
 * NULL. */
void
NLK(nlk_swiglu_bwd)(nlk_real *da, nlk_real *db, const nlk_real *dy, const nlk_real *a,
    const nlk_real *b, size_t n)
{
	/* one loop per case: a test inside the loop would keep it from vectorising */
	if (da != NULL && db != NULL) {
		for (size_t i = 0; i < n; i++) {
			nlk_real s = sigmoid(a[i]);
			da[i] += dy[i] * b[i] * s * (1 + a[i] * (1 - s));
			db[i] += dy[i] * a[i] * s;
		}
	} else if (da != NULL) {
		for (size_t i = 0; i < n; i++) {
			nlk_real s = sigmoid(a[i]);
			da[i] += dy[i] * b[i] * s * (1 + a[i] * (1 - s));
		}
	} else if (db != NULL) {
		for (size_t i = 0; i < n; i++)
			db[i] += dy[i] * a[i] * sigmoid(a[i]);
	}
}
