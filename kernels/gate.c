/* nl — see LICENSE. Normalisations and gates of the memory mixers: ℓ2 norm per head row,
 * RMSNorm per head with a weight per channel, the logistic sigmoid. Sums over a row are
 * carried in double even in the float build (as norm.c); the per-element work is in nlk_real
 * with the row constants hoisted, so the inner loops vectorise. Each loop is its own reference
 * (kernels_api.h declares no _ref). */
#include "real.h"

/* the floor of the ℓ2 norm, and the inv it gives: stored by the forward where the floor was
 * taken, and recognised by the backward by exact comparison (both round the same double) */
#define L2_FLOOR 1e-12
#define L2_INV_MAX ((nlk_real)(1 / L2_FLOOR))

/* x [n, d] -> y [n, d], inv [n]: each row i of d, inv[i] = 1 / max(‖x_i‖, 1e-12),
 * y_i = x_i · inv[i] (MODEL §1.2). A zero row gives y = 0. y must not alias x. */
void
NLK(nlk_l2norm_fwd)(nlk_real *y, nlk_real *inv, const nlk_real *x, int n, int d)
{
	for (int i = 0; i < n; i++) {
		const nlk_real *restrict xi = x + (size_t)i * d;
		nlk_real *restrict yi = y + (size_t)i * d;
		double ss = 0;
		for (int k = 0; k < d; k++)
			ss += (double)xi[k] * xi[k];
		double nrm = sqrt(ss);
		nlk_real r = nrm > L2_FLOOR ? (nlk_real)(1 / nrm) : L2_INV_MAX;
		for (int k = 0; k < d; k++)
			yi[k] = xi[k] * r;
		inv[i] = r;
	}
}

/*
 * dy, y, inv from the forward -> dx [n, d] +=. Where ‖x‖ > 1e-12, y = x/‖x‖ and
 *	dx += inv (dy − y (y·dy));
 * where the floor was taken the divisor is the constant 1e-12 and dx += inv dy. The branch is
 * read from the saved inv: the floor stores exactly L2_INV_MAX, and a norm above the floor
 * stores less, except a norm within rounding of the floor (relative 6e-8 in float, 1e-16 in
 * double), where inv rounds to the same value. That is the kink of max(), where the two
 * one-sided derivatives differ anyway; it is treated as floored. (Testing ‖y‖ < 1 instead
 * cannot tell a norm just under the floor from a normalised row.) NULL dx is skipped.
 */
void
NLK(nlk_l2norm_bwd)(nlk_real *dx, const nlk_real *dy, const nlk_real *y, const nlk_real *inv,
    int n, int d)
{
	if (dx == NULL)
		return;
	for (int i = 0; i < n; i++) {
		const nlk_real *restrict yi = y + (size_t)i * d;
		const nlk_real *restrict dyi = dy + (size_t)i * d;
		nlk_real *restrict dxi = dx + (size_t)i * d;
		nlk_real r = inv[i], proj = 0;
		if (r != L2_INV_MAX) {
			double ydy = 0;
			for (int k = 0; k < d; k++)
				ydy += (double)yi[k] * dyi[k];
			proj = (nlk_real)ydy;
		}
		for (int k = 0; k < d; k++)
			dxi[k] += r * (dyi[k] - yi[k] * proj);
	}
}

/* x [n, h·dh], w [h·dh] -> y [n, h·dh], rstd [n·h] (may be NULL when no backward follows):
 * each dh slice (one head of one row) divided by its own RMS, sqrt(mean(x²) + eps), then
 * multiplied by the weights of its channels. y must not alias x. */
void
NLK(nlk_rmsnorm_heads_fwd)(nlk_real *y, nlk_real *rstd, const nlk_real *x, const nlk_real *w,
    int n, int h, int dh, nlk_real eps)
{
	double inv_dh = dh > 0 ? 1.0 / dh : 0;

	for (int i = 0; i < n; i++)
		for (int g = 0; g < h; g++) {
			size_t s = (size_t)i * h + g;
			const nlk_real *restrict xs = x + s * dh;
			const nlk_real *restrict ws = w + (size_t)g * dh;
			nlk_real *restrict ys = y + s * dh;
			double ss = 0;
			for (int k = 0; k < dh; k++)
				ss += (double)xs[k] * xs[k];
			nlk_real r = (nlk_real)(1.0 / sqrt(ss * inv_dh + (double)eps));
			for (int k = 0; k < dh; k++)
				ys[k] = xs[k] * r * ws[k];
			if (rstd != NULL)
				rstd[s] = r;
		}
}

/* Backward per slice, as norm.c with C = dh (r = rstd of the slice):
 *	dx_k += r dy_k w_k − x_k r³ (1/dh) Σ_j dy_j w_j x_j,  dw_k += Σ_slices dy_k x_k r.
 * dx [n, h·dh] and dw [h·dh] accumulate; either may be NULL. */
void
NLK(nlk_rmsnorm_heads_bwd)(nlk_real *dx, nlk_real *dw, const nlk_real *dy, const nlk_real *x,
    const nlk_real *w, const nlk_real *rstd, int n, int h, int dh)
{
	for (int i = 0; i < n; i++)
		for (int g = 0; g < h; g++) {
			size_t s = (size_t)i * h + g;
			const nlk_real *restrict xs = x + s * dh;
			const nlk_real *restrict dys = dy + s * dh;
			const nlk_real *restrict ws = w + (size_t)g * dh;
			nlk_real r = rstd[s];
			if (dw != NULL) {
				nlk_real *restrict dws = dw + (size_t)g * dh;
				for (int k = 0; k < dh; k++)
					dws[k] += dys[k] * xs[k] * r;
			}
			if (dx == NULL)
				continue;
			double dot = 0;
			for (int k = 0; k < dh; k++)
				dot += (double)dys[k] * ws[k] * xs[k];
			nlk_real rk = (nlk_real)(dh > 0 ? (double)r * r * r * dot / dh : 0);
			nlk_real *restrict dxs = dx + s * dh;
			for (int k = 0; k < dh; k++)
				dxs[k] += r * dys[k] * ws[k] - xs[k] * rk;
		}
}

/* x (n) -> y (n) = 1 / (1 + e^−x); y may alias x. Safe for every x, as act.c's σ: for large
 * negative x, e^−x overflows to +inf and y = 0 (never NaN); for large positive x, e^−x
 * underflows to 0 and y = 1. NLK_EXPV (the inline exp in float) keeps the loop vectorised. */
void
NLK(nlk_sigmoid_fwd)(nlk_real *y, const nlk_real *x, size_t n)
{
	for (size_t i = 0; i < n; i++)
		y[i] = 1 / (1 + NLK_EXPV(-x[i]));
}

/* dy (n), y = σ(x) (n) from the forward -> dx (n) += dy · y (1 − y); NULL dx is skipped.
 * Where y has rounded to 1 (x > 17 in float, 37 in double) the factor is 0 instead of
 * ≈ e^−x, an absolute error below the rounding of y; it never becomes NaN. */
void
NLK(nlk_sigmoid_bwd)(nlk_real *dx, const nlk_real *dy, const nlk_real *y, size_t n)
{
	if (dx == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		dx[i] += dy[i] * y[i] * (1 - y[i]);
}
