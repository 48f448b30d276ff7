/* nl — see LICENSE. Dense layer product y = x·Wᵀ with W stored (out, in), and its backward. */
#include "real.h"
#include "blas.h"

/* x (N, in), w (out, in) -> y (N, out), overwritten. The sum is carried in nlk_real, as a
 * gemm does, so the reference and the fast version round alike up to summation order. */
void
NLK(nlk_matmul_fwd_ref)(nlk_real *y, const nlk_real *x, const nlk_real *w, int n, int in, int out)
{
	for (int i = 0; i < n; i++) {
		const nlk_real *xi = x + (size_t)i * in;
		for (int o = 0; o < out; o++) {
			const nlk_real *wo = w + (size_t)o * in;
			nlk_real s = 0;
			for (int k = 0; k < in; k++)
				s += xi[k] * wo[k];
			y[(size_t)i * out + o] = s;
		}
	}
}

/* x (N, in), w (out, in) -> y (N, out): one gemm, w read transposed in place. */
void
NLK(nlk_matmul_fwd)(nlk_real *y, const nlk_real *x, const nlk_real *w, int n, int in, int out)
{
#ifdef NL_BLAS_OPENBLAS
	/* BLAS rejects a leading dimension of 0, and an empty product has nothing to write */
	if (n <= 0 || out <= 0)
		return;
	if (in <= 0) {
		for (size_t j = 0; j < (size_t)n * out; j++)
			y[j] = 0;
		return;
	}
	NLK_GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, n, out, in, 1, x, in, w, in, 0, y, out);
#else
	NLK(nlk_matmul_fwd_ref)(y, x, w, n, in, out);
#endif
}

/* The same product with every row's result independent of n and of the other rows, for
 * inference over a stream: a gemm picks its blocking and kernels by the shape, so a row
 * rounds differently in calls of different n, and a stream cut in two would not give the
 * logits of one call. Here y[i][o] is the dot product of x_i and w_o summed the same way
 * for every row: LANES running partial sums over k, added pairwise, then the tail. Rows go
 * four at a time so each row of w is read once per four rows; a short last group repeats
 * its first row, so every row takes the same arithmetic path. */
enum { LANES = 8, ROWS = 4 };      /* LANES: nlk_sum8's */

void
NLK(nlk_matmul_rows_fwd)(nlk_real *y, const nlk_real *x, const nlk_real *w, int n, int in,
    int out)
{
	for (int i = 0; i < n; i += ROWS) {
		const nlk_real *xr[ROWS];
		int nr = n - i < ROWS ? n - i : ROWS;
		for (int r = 0; r < ROWS; r++)
			xr[r] = x + (size_t)(i + (r < nr ? r : 0)) * in;
		for (int o = 0; o < out; o++) {
			const nlk_real *wo = w + (size_t)o * in;
			nlk_real acc[ROWS][LANES] = { { 0 } };
			int k = 0;
			for (; k + LANES <= in; k += LANES)
				for (int r = 0; r < ROWS; r++)
					for (int j = 0; j < LANES; j++)
						acc[r][j] += xr[r][k + j] * wo[k + j];
			for (int r = 0; r < nr; r++) {
				nlk_real s = nlk_sum8(acc[r]);
				for (int kk = k; kk < in; kk++)
					s += xr[r][kk] * wo[kk];
				y[(size_t)(i + r) * out + o] = s;
			}
		}
	}
}

/* dy (N, out), x (N, in), w (out, in) -> dx (N, in) += dy·w, dw (out, in) += dyᵀ·x; either
 * output may be NULL. */
void
NLK(nlk_matmul_bwd_ref)(nlk_real *dx, nlk_real *dw, const nlk_real *dy, const nlk_real *x,
    const nlk_real *w, int n, int in, int out)
{
	if (dx != NULL) {
		for (int i = 0; i < n; i++) {
			const nlk_real *dyi = dy + (size_t)i * out;
			for (int k = 0; k < in; k++) {
				nlk_real s = 0;
				for (int o = 0; o < out; o++)
					s += dyi[o] * w[(size_t)o * in + k];
				dx[(size_t)i * in + k] += s;
			}
		}
	}
	if (dw != NULL) {
		for (int o = 0; o < out; o++) {
			for (int k = 0; k < in; k++) {
				nlk_real s = 0;
				for (int i = 0; i < n; i++)
					s += dy[(size_t)i * out + o] * x[(size_t)i * in + k];
				dw[(size_t)o * in + k] += s;
			}
		}
	}
}

/* Same shapes as the reference: two gemms with beta 1, so the results accumulate. */
void
NLK(nlk_matmul_bwd)(nlk_real *dx, nlk_real *dw, const nlk_real *dy, const nlk_real *x,
    const nlk_real *w, int n, int in, int out)
{
#ifdef NL_BLAS_OPENBLAS
	/* with any dimension 0 there is nothing to add (and BLAS would reject the strides) */
	if (n <= 0 || in <= 0 || out <= 0)
		return;
	if (dx != NULL)
		NLK_GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, in, out, 1, dy, out, w, in,
		    1, dx, in);
	if (dw != NULL)
		NLK_GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, out, in, n, 1, dy, out, x, in, 1,
		    dw, in);
#else
	NLK(nlk_matmul_bwd_ref)(dx, dw, dy, x, w, n, in, out);
#endif
}
