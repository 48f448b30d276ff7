/* nl — see LICENSE. RMSNorm over the last axis, y = x / sqrt(mean(x²) + eps) ⊙ w, no bias. */
#include "real.h"

/*
 * Backward, per row with r = rstd = (mean(x²) + eps)^(−1/2) and y_j = w_j x_j r:
 *	∂r/∂x_k = −r³ x_k / C, so
 *	dx_k = r (dy_k w_k − x_k r² · (1/C) Σ_j dy_j w_j x_j),
 *	dw_j = Σ_rows dy_j x_j r.
 * Sums over a row are carried in double even in the float build: C reaches thousands and the
 * sum of squares decides the scale of every output of the row.
 */

/* x (N, C), w (C) -> y (N, C), rstd (N); rstd may be NULL when no backward follows. */
void
NLK(nlk_rmsnorm_fwd_ref)(nlk_real *y, nlk_real *rstd, const nlk_real *x, const nlk_real *w, int n,
    int c, nlk_real eps)
{
	for (int i = 0; i < n; i++) {
		const nlk_real *xi = x + (size_t)i * c;
		double ss = 0;
		for (int j = 0; j < c; j++)
			ss += (double)xi[j] * xi[j];
		double mean = c > 0 ? ss / c : 0;
		nlk_real r = (nlk_real)(1.0 / sqrt(mean + (double)eps));
		for (int j = 0; j < c; j++)
			y[(size_t)i * c + j] = xi[j] * r * w[j];
		if (rstd != NULL)
			rstd[i] = r;
	}
}

/* Same shapes as the reference. One read of the row for the sum, one fused scale pass with
 * restrict pointers the compiler can vectorise; the rounding matches the reference. */
void
NLK(nlk_rmsnorm_fwd)(nlk_real *y, nlk_real *rstd, const nlk_real *x, const nlk_real *w, int n,
    int c, nlk_real eps)
{
	double inv_c = c > 0 ? 1.0 / c : 0;

	for (int i = 0; i < n; i++) {
		const nlk_real *restrict xi = x + (size_t)i * c;
		nlk_real *restrict yi = y + (size_t)i * c;
		const nlk_real *restrict wi = w;
		double ss = 0;
		for (int j = 0; j < c; j++)
			ss += (double)xi[j] * xi[j];
		nlk_real r = (nlk_real)(1.0 / sqrt(ss * inv_c + (double)eps));
		for (int j = 0; j < c; j++)
			yi[j] = xi[j] * r * wi[j];
		if (rstd != NULL)
			rstd[i] = r;
	}
}

/* dy (N, C), x (N, C), w (C), rstd (N) from the forward -> dx (N, C) +=, dw (C) +=; either
 * output may be NULL. */
void
NLK(nlk_rmsnorm_bwd_ref)(nlk_real *dx, nlk_real *dw, const nlk_real *dy, const nlk_real *x,
    const nlk_real *w, const nlk_real *rstd, int n, int c)
{
	for (int i = 0; i < n; i++) {
		const nlk_real *xi = x + (size_t)i * c;
		const nlk_real *dyi = dy + (size_t)i * c;
		double r = rstd[i];
		if (dw != NULL)
			for (int j = 0; j < c; j++)
				dw[j] += (nlk_real)((double)dyi[j] * xi[j] * r);
		if (dx == NULL)
			continue;
		double dot = 0;
		for (int j = 0; j < c; j++)
			dot += (double)dyi[j] * w[j] * xi[j];
		double k = c > 0 ? r * r * dot / c : 0;
		nlk_real *dxi = dx + (size_t)i * c;
		for (int j = 0; j < c; j++)
			dxi[j] += (nlk_real)(r * ((double)dyi[j] * w[j] - xi[j] * k));
	}
}

/* Same shapes as the reference; the per-element work is done in nlk_real with the row
 * constants r and r·k hoisted, so the inner loops vectorise. */
void
NLK(nlk_rmsnorm_bwd)(nlk_real *dx, nlk_real *dw, const nlk_real *dy, const nlk_real *x,
    const nlk_real *w, const nlk_real *rstd, int n, int c)
{
	for (int i = 0; i < n; i++) {
		const nlk_real *restrict xi = x + (size_t)i * c;
		const nlk_real *restrict dyi = dy + (size_t)i * c;
		const nlk_real *restrict wi = w;
		nlk_real r = rstd[i];
		if (dw != NULL) {
			nlk_real *restrict dwi = dw;
			for (int j = 0; j < c; j++)
				dwi[j] += dyi[j] * xi[j] * r;
		}
		if (dx == NULL)
			continue;
		double dot = 0;
		for (int j = 0; j < c; j++)
			dot += (double)dyi[j] * wi[j] * xi[j];
		nlk_real rk = (nlk_real)(c > 0 ? (double)r * r * r * dot / c : 0);
		nlk_real *restrict dxi = dx + (size_t)i * c;
		for (int j = 0; j < c; j++)
			dxi[j] += r * dyi[j] * wi[j] - xi[j] * rk;
	}
}
