/* nl — see LICENSE. Tests of kernels/rope.c and kernels/attn.c: finite-difference gradient
 * checks in double, fast against reference in float, and the properties of both ops. */
#include <stdint.h>

#include "kernels.h"
#include "t.h"
#include "t_num.h"

/* worst figures seen, printed at the end for the record */
static double worst_rope, worst_attn, worst_attn_ref;

/* ---- RoPE ---- */

/* L(x) = Σ r ⊙ rope(x) */
static double
rope_loss(const double *x, const double *r, double *y, int b, int t, int h, int d, int pos0)
{
	nlk_rope_fwd_f64(y, x, b, t, h, d, pos0, 10000.0);
	return t_dot(y, r, (size_t)b * t * h * d);
}

T_TEST(rope_bwd_fd)
{
	int b = 2, t = 5, h = 2, d = 4, pos0 = 3;
	size_t n = (size_t)b * t * h * d;
	double *x = t_dvec(n, 1), *r = t_dvec(n, 1), *y = t_calloc(n, sizeof *y);
	double *dx = t_calloc(n, sizeof *dx), *num = t_calloc(n, sizeof *num);

	nlk_rope_bwd_f64(dx, r, b, t, h, d, pos0, 10000.0);
	for (size_t i = 0; i < n; i++) {
		double x0 = x[i];
		x[i] = x0 + T_FD_H;
		double lp = rope_loss(x, r, y, b, t, h, d, pos0);
		x[i] = x0 - T_FD_H;
		double lm = rope_loss(x, r, y, b, t, h, d, pos0);
		x[i] = x0;
		num[i] = (lp - lm) / (2 * T_FD_H);
	}
	double e = t_grad_err(dx, num, n);
	if (e > worst_rope)
		worst_rope = e;
	T_CHECK_MSG(e <= T_FD_TOL, "rope dx error %.3g", e);

	/* a second call accumulates: the result doubles */
	double *once = malloc(n * sizeof *once);
	memcpy(once, dx, n * sizeof *dx);
	nlk_rope_bwd_f64(dx, r, b, t, h, d, pos0, 10000.0);
	for (size_t i = 0; i < n; i++)
		once[i] *= 2;
	T_NMSE(dx, once, n, 1e-28);
	free(x), free(r), free(y), free(dx), free(num), free(once);
}

T_TEST(rope_known_angles)
{
	/* one head of 4 at positions 7 and 8 with base 100: pair i turns by pos·100^(−2i/4),
	 * i.e. pos and pos/10; e_0 and e_1 of each pair show the pairing and the sign */
	int t = 2, h = 2, d = 4, pos0 = 7;
	double x[16] = { 1, 0, 0, 1, 0, 1, 1, 0,  1, 0, 0, 1, 0, 1, 1, 0 }, y[16];

	nlk_rope_fwd_f64(y, x, 1, t, h, d, pos0, 100.0);
	for (int ti = 0; ti < t; ti++) {
		double p = pos0 + ti, a0 = p, a1 = p / 10;
		double want[8] = { cos(a0), sin(a0), -sin(a1), cos(a1),
		    -sin(a0), cos(a0), cos(a1), sin(a1) };
		for (int j = 0; j < 8; j++)
			T_NEAR(y[ti * 8 + j], want[j], 1e-15);
	}
}

T_TEST(rope_pos0_identity)
{
	int b = 2, t = 3, h = 3, d = 6;
	size_t c = (size_t)h * d, n = (size_t)b * t * c;
	float *x = t_fvec(n, 1), *y = t_calloc(n, sizeof *y);

	nlk_rope_fwd(y, x, b, t, h, d, 0, 10000.0f);
	/* position 0 is a rotation by angle 0: cos 1 and sin 0 are exact, so y = x bit for bit */
	for (int bi = 0; bi < b; bi++)
		T_CHECK(memcmp(y + (size_t)bi * t * c, x + (size_t)bi * t * c, c * sizeof *x) == 0);
	/* and later positions do move */
	T_CHECK(memcmp(y + c, x + c, c * sizeof *x) != 0);
	free(x), free(y);
}

T_TEST(rope_preserves_pair_norm)
{
	int b = 2, t = 9, h = 2, d = 8;
	size_t n = (size_t)b * t * h * d;
	double *x = t_dvec(n, 1), *y = t_calloc(n, sizeof *y);
	double worst = 0;

	nlk_rope_fwd_f64(y, x, b, t, h, d, 1000, 500.0);
	for (size_t i = 0; i < n; i += 2) {
		double nx = x[i] * x[i] + x[i + 1] * x[i + 1];
		double ny = y[i] * y[i] + y[i + 1] * y[i + 1];
		double e = fabs(nx - ny) / (nx > 0 ? nx : 1);
		if (e > worst)
			worst = e;
	}
	T_CHECK_MSG(worst <= 1e-14, "pair norm relative change %.3g", worst);
	free(x), free(y);
}

T_TEST(rope_bwd_inverts_fwd)
{
	int b = 2, t = 7, h = 3, d = 4;
	size_t n = (size_t)b * t * h * d;
	double *x = t_dvec(n, 1), *y = t_calloc(n, sizeof *y), *back = t_calloc(n, sizeof *back);
	float *xf = t_calloc(n, sizeof *xf), *yf = t_calloc(n, sizeof *yf);
	float *backf = t_calloc(n, sizeof *backf);

	/* Rᵀ R = I: the backward applied to the output returns the input (into a zero dx) */
	nlk_rope_fwd_f64(y, x, b, t, h, d, 5, 10000.0);
	nlk_rope_bwd_f64(back, y, b, t, h, d, 5, 10000.0);
	T_NMSE(back, x, n, 1e-28);
	for (size_t i = 0; i < n; i++)
		xf[i] = (float)x[i];
	nlk_rope_fwd(yf, xf, b, t, h, d, 5, 10000.0f);
	nlk_rope_bwd(backf, yf, b, t, h, d, 5, 10000.0f);
	T_NMSE(backf, xf, n, 1e-12);
	free(x), free(y), free(back), free(xf), free(yf), free(backf);
}

T_TEST(rope_pos0_shifts_t)
{
	int b = 2, t = 7, h = 2, d = 6, shift = 3;
	size_t c = (size_t)h * d, n = (size_t)b * t * c;
	float *x = t_fvec(n, 1), *y = t_calloc(n, sizeof *y);
	int ts = t - shift;
	float *xs = t_calloc((size_t)b * ts * c, sizeof *xs), *ys = t_calloc((size_t)b * ts * c, sizeof *ys);

	nlk_rope_fwd(y, x, b, t, h, d, 0, 10000.0f);
	/* rows shift.. of each sequence, rotated as a sequence starting at position shift */
	for (int bi = 0; bi < b; bi++)
		memcpy(xs + (size_t)bi * ts * c, x + ((size_t)bi * t + shift) * c, ts * c * sizeof *x);
	nlk_rope_fwd(ys, xs, b, ts, h, d, shift, 10000.0f);
	/* the angle depends only on pos0 + t, computed the same way: equal bit for bit */
	for (int bi = 0; bi < b; bi++)
		T_CHECK(memcmp(ys + (size_t)bi * ts * c, y + ((size_t)bi * t + shift) * c,
		    ts * c * sizeof *y) == 0);
	free(x), free(y), free(xs), free(ys);
}

T_TEST(rope_in_place)
{
	int b = 3, t = 5, h = 2, d = 8;
	size_t n = (size_t)b * t * h * d;
	float *x = t_fvec(n, 1), *y = t_calloc(n, sizeof *y);

	nlk_rope_fwd(y, x, b, t, h, d, 2, 10000.0f);
	nlk_rope_fwd(x, x, b, t, h, d, 2, 10000.0f);
	T_CHECK(memcmp(x, y, n * sizeof *x) == 0);
	free(x), free(y);
}

/* ---- attention ---- */

typedef void attn_fwd_fn(double *, double *, const double *, const double *, const double *, int,
    int, int, int);
typedef void attn_bwd_fn(double *, double *, double *, double *, const double *, const double *,
    const double *, const double *, const double *, int, int, int, int);

/* L(q, k, v) = Σ r ⊙ attn(q, k, v) */
static double
attn_loss(attn_fwd_fn *fwd, const double *q, const double *k, const double *v, const double *r,
    double *out, double *att, int b, int t, int h, int d)
{
	fwd(out, att, q, k, v, b, t, h, d);
	return t_dot(out, r, (size_t)b * t * h * d);
}

static double
attn_fd_check(attn_fwd_fn *fwd, attn_bwd_fn *bwd)
{
	int b = 2, t = 5, h = 2, d = 4;
	size_t n = (size_t)b * t * h * d, na = (size_t)b * h * t * t;
	double *q = t_dvec(n, 1), *k = t_dvec(n, 1), *v = t_dvec(n, 1), *r = t_dvec(n, 1);
	double *out = t_calloc(n, sizeof *out), *att = t_calloc(na, sizeof *att);
	double *scr = t_calloc(na, sizeof *scr), *num = t_calloc(n, sizeof *num);
	double *g[3], *in[3] = { q, k, v };
	const char *name[3] = { "dq", "dk", "dv" };
	double worst = 0;

	/* larger q and k so the softmax is far from uniform and its Jacobian matters */
	for (size_t i = 0; i < n; i++)
		q[i] *= 2, k[i] *= 2;
	for (int j = 0; j < 3; j++)
		g[j] = t_calloc(n, sizeof *g[j]);
	fwd(out, att, q, k, v, b, t, h, d);
	bwd(g[0], g[1], g[2], scr, r, q, k, v, att, b, t, h, d);
	for (int j = 0; j < 3; j++) {
		for (size_t i = 0; i < n; i++) {
			double x0 = in[j][i];
			in[j][i] = x0 + T_FD_H;
			double lp = attn_loss(fwd, q, k, v, r, out, att, b, t, h, d);
			in[j][i] = x0 - T_FD_H;
			double lm = attn_loss(fwd, q, k, v, r, out, att, b, t, h, d);
			in[j][i] = x0;
			num[i] = (lp - lm) / (2 * T_FD_H);
		}
		double e = t_grad_err(g[j], num, n);
		if (e > worst)
			worst = e;
		T_CHECK_MSG(e <= T_FD_TOL, "%s error %.3g", name[j], e);
	}

	/* a second call accumulates: every gradient doubles (to rounding, as the reference
	 * adds term by term into the running total) */
	double *once[3];
	for (int j = 0; j < 3; j++) {
		once[j] = malloc(n * sizeof *once[j]);
		for (size_t i = 0; i < n; i++)
			once[j][i] = 2 * g[j][i];
	}
	fwd(out, att, q, k, v, b, t, h, d);
	bwd(g[0], g[1], g[2], scr, r, q, k, v, att, b, t, h, d);
	for (int j = 0; j < 3; j++)
		T_NMSE(g[j], once[j], n, 1e-28);

	/* NULL outputs are skipped and do not change the others */
	double *dk2 = t_calloc(n, sizeof *dk2), *dv2 = t_calloc(n, sizeof *dv2);
	double *dq3 = t_calloc(n, sizeof *dq3);
	bwd(NULL, dk2, NULL, scr, r, q, k, v, att, b, t, h, d);
	bwd(NULL, NULL, dv2, scr, r, q, k, v, att, b, t, h, d);
	bwd(dq3, NULL, NULL, scr, r, q, k, v, att, b, t, h, d);
	for (size_t i = 0; i < n; i++)
		dq3[i] *= 2, dk2[i] *= 2, dv2[i] *= 2;
	T_NMSE(dq3, g[0], n, 1e-28);
	T_NMSE(dk2, g[1], n, 1e-28);
	T_NMSE(dv2, g[2], n, 1e-28);

	for (int j = 0; j < 3; j++)
		free(g[j]), free(once[j]);
	free(q), free(k), free(v), free(r), free(out), free(att), free(scr), free(num);
	free(dk2), free(dv2), free(dq3);
	return worst;
}

T_TEST(attn_bwd_fd)
{
	worst_attn = attn_fd_check(nlk_attn_fwd_f64, nlk_attn_bwd_f64);
}

T_TEST(attn_bwd_ref_fd)
{
	worst_attn_ref = attn_fd_check(nlk_attn_fwd_ref_f64, nlk_attn_bwd_ref_f64);
}

/*
 * Fast against reference in float. Both evaluate the same sums in a different order (gemm
 * blocks and may use FMA), so each entry differs by a few units of float rounding,
 * ε = 6e-8, times about √k for k-term sums (k ≤ 128 here): relative errors near 1e-6 at worst,
 * NMSE near 1e-12. The backward's dS = P ⊙ (dP − rowsum) subtracts close numbers and can lose
 * a digit or two more. A tolerance of 1e-10 keeps two orders of margin over that and is still
 * ten orders below what a wrong index, transpose or missed term produces (NMSE of order 1).
 */
#define FAST_TOL 1e-10

static double worst_nmse;

static double
nmse(const float *x, const float *y, size_t n)
{
	double num = 0, den = 0;
	for (size_t i = 0; i < n; i++) {
		double e = (double)x[i] - y[i];
		num += e * e;
		den += (double)y[i] * y[i];
	}
	double r = den > 0 ? num / den : num;
	if (r > worst_nmse)
		worst_nmse = r;
	return r;
}

static void
fast_vs_ref(int b, int t, int h, int d)
{
	size_t n = (size_t)b * t * h * d, na = (size_t)b * h * t * t;
	float *q = t_fvec(n, 1), *k = t_fvec(n, 1), *v = t_fvec(n, 1), *go = t_fvec(n, 1);
	float *o1 = t_calloc(n, sizeof *o1), *o2 = t_calloc(n, sizeof *o2);
	float *a1 = t_calloc(na, sizeof *a1), *a2 = t_calloc(na, sizeof *a2);
	float *scr = t_calloc(na, sizeof *scr);
	float *g1[3], *g2[3];

	for (int j = 0; j < 3; j++) {
		g1[j] = t_calloc(n, sizeof *g1[j]);
		g2[j] = t_calloc(n, sizeof *g2[j]);
	}
	for (size_t i = 0; i < n; i++)
		q[i] *= 2, k[i] *= 2;
	nlk_attn_fwd(o1, a1, q, k, v, b, t, h, d);
	nlk_attn_fwd_ref(o2, a2, q, k, v, b, t, h, d);
	nlk_attn_bwd(g1[0], g1[1], g1[2], scr, go, q, k, v, a1, b, t, h, d);
	nlk_attn_bwd_ref(g2[0], g2[1], g2[2], NULL, go, q, k, v, a2, b, t, h, d);

	double e[5] = { nmse(o1, o2, n), nmse(a1, a2, na), nmse(g1[0], g2[0], n),
	    nmse(g1[1], g2[1], n), nmse(g1[2], g2[2], n) };
	printf("# b %d t %d h %d d %d: nmse out %.2g att %.2g dq %.2g dk %.2g dv %.2g\n", b, t, h,
	    d, e[0], e[1], e[2], e[3], e[4]);
	T_NMSE(o1, o2, n, FAST_TOL);
	T_NMSE(a1, a2, na, FAST_TOL);
	for (int j = 0; j < 3; j++)
		T_NMSE(g1[j], g2[j], n, FAST_TOL);
	for (int j = 0; j < 3; j++)
		free(g1[j]), free(g2[j]);
	free(q), free(k), free(v), free(go), free(o1), free(o2), free(a1), free(a2), free(scr);
}

T_TEST(attn_fast_vs_ref)
{
	fast_vs_ref(2, 5, 2, 4);
	fast_vs_ref(1, 1, 1, 4);	/* t 1: one score, P = 1 */
	fast_vs_ref(2, 1, 3, 8);
	fast_vs_ref(2, 7, 3, 2);	/* d 2: tiny inner dimension */
	fast_vs_ref(3, 33, 3, 16);	/* t not a multiple of any block size */
	fast_vs_ref(2, 128, 4, 32);
	fast_vs_ref(1, 300, 2, 16);	/* several query blocks, the last one short */
	fast_vs_ref(1, 256, 1, 8);	/* blocks that end exactly at t */
}

T_TEST(attn_properties)
{
	int b = 2, t = 6, h = 3, d = 4;
	size_t c = (size_t)h * d, n = (size_t)b * t * c, na = (size_t)b * h * t * t;
	float *q = t_fvec(n, 1), *k = t_fvec(n, 1), *v = t_fvec(n, 1);
	float *out = t_calloc(n, sizeof *out), *att = t_calloc(na, sizeof *att);

	for (int pass = 0; pass < 2; pass++) {
		if (pass == 0)
			nlk_attn_fwd(out, att, q, k, v, b, t, h, d);
		else
			nlk_attn_fwd_ref(out, att, q, k, v, b, t, h, d);
		/* row 0 sees only itself: P_00 = exp(0)/1 = 1 exactly, so out row 0 = v row 0 */
		for (int bi = 0; bi < b; bi++)
			T_CHECK(memcmp(out + (size_t)bi * t * c, v + (size_t)bi * t * c,
			    c * sizeof *v) == 0);
		/* rows are distributions over j ≤ i, exactly 0 above the diagonal */
		double worst = 0;
		int upper_ok = 1, nonneg = 1;
		for (size_t m = 0; m < (size_t)b * h; m++)
			for (int i = 0; i < t; i++) {
				const float *row = att + (m * t + i) * t;
				double s = 0;
				for (int j = 0; j < t; j++) {
					if (j > i && row[j] != 0)
						upper_ok = 0;
					if (row[j] < 0)
						nonneg = 0;
					s += row[j];
				}
				if (fabs(s - 1) > worst)
					worst = fabs(s - 1);
			}
		T_CHECK(upper_ok);
		T_CHECK(nonneg);
		T_CHECK_MSG(worst <= 1e-6, "row sum off by %.3g", worst);
	}
	free(q), free(k), free(v), free(out), free(att);
}

T_TEST(attn_large_scores_stable)
{
	int b = 1, t = 8, h = 2, d = 4;
	size_t n = (size_t)b * t * h * d, na = (size_t)b * h * t * t;
	float *q = t_fvec(n, 1), *k = t_fvec(n, 1), *v = t_fvec(n, 1), *go = t_fvec(n, 1);
	float *out = t_calloc(n, sizeof *out), *att = t_calloc(na, sizeof *att);
	float *scr = t_calloc(na, sizeof *scr), *dq = t_calloc(n, sizeof *dq);

	/* scores in the thousands: exp would overflow without the max subtraction */
	for (size_t i = 0; i < n; i++)
		q[i] *= 100, k[i] *= 100;
	nlk_attn_fwd(out, att, q, k, v, b, t, h, d);
	nlk_attn_bwd(dq, NULL, NULL, scr, go, q, k, v, att, b, t, h, d);
	int finite = 1;
	for (size_t i = 0; i < na; i++)
		finite &= isfinite(att[i]) != 0;
	for (size_t i = 0; i < n; i++)
		finite &= isfinite(out[i]) && isfinite(dq[i]);
	T_CHECK(finite);
	free(q), free(k), free(v), free(go), free(out), free(att), free(scr), free(dq);
}

/* A window of t queries at positions p.. over a cache of the p + t keys (and spare rows)
 * equals those rows of full causal attention over p + t tokens, forward and backward (the
 * full backward with no gradient on the first p outputs; the window's own keys and values
 * get theirs, the earlier ones are constants). */
T_TEST(attn_cache_is_rows_of_full)
{
	enum { b = 2, p = 4, t = 5, T = p + t, cap = 11, h = 2, d = 3, c = h * d };
	double *q = t_dvec((size_t)b * T * c, 1), *k = t_dvec((size_t)b * T * c, 1);
	double *v = t_dvec((size_t)b * T * c, 1), *go = t_dvec((size_t)b * T * c, 1);
	static double o[b * T * c], att[b * h * T * T], dq[b * T * c], dk[b * T * c], dv[b * T * c];
	static double kc[b * cap * c], vc[b * cap * c], qw[b * t * c], gw[b * t * c];
	static double ow[b * t * c], row[cap], dqw[b * t * c], dkw[b * t * c];
	static double dvw[b * t * c];
	for (int i = 0; i < b; i++)
		for (int r = 0; r < T; r++)
			for (int e = 0; e < c; e++) {
				size_t f = ((size_t)i * T + r) * c + e, cc = ((size_t)i * cap + r) * c + e;
				kc[cc] = k[f], vc[cc] = v[f];
				if (r < p)
					go[f] = 0;
				else
					qw[((size_t)i * t + r - p) * c + e] = q[f], gw[((size_t)i * t + r - p) * c + e] = go[f];
			}
	nlk_attn_fwd_ref_f64(o, att, q, k, v, b, T, h, d);
	nlk_attn_bwd_ref_f64(dq, dk, dv, NULL, go, q, k, v, att, b, T, h, d);
	nlk_attn_cache_fwd_f64(ow, row, qw, kc, vc, b, t, p, cap, 0, h, d);
	nlk_attn_cache_bwd_f64(dqw, dkw, dvw, row, gw, qw, kc, vc, b, t, p, cap, 0, h, d);
	double worst = 0;
	for (int i = 0; i < b; i++)
		for (int r = 0; r < t; r++) {
			for (int e = 0; e < c; e++) {
				size_t f = ((size_t)i * T + p + r) * c + e, w = ((size_t)i * t + r) * c + e;
				worst = fmax(worst, fabs(o[f] - ow[w]));
				worst = fmax(worst, fabs(dq[f] - dqw[w]));
			}
		}
	for (int i = 0; i < b; i++)
		for (int r = 0; r < t; r++)
			for (int e = 0; e < c; e++) {
				size_t f = ((size_t)i * T + p + r) * c + e, w = ((size_t)i * t + r) * c + e;
				worst = fmax(worst, fabs(dk[f] - dkw[w]));
				worst = fmax(worst, fabs(dv[f] - dvw[w]));
			}
	T_CHECK_MSG(worst < 1e-13, "worst %.3g", worst);
	free(q), free(k), free(v), free(go);
}

/* A sliding window of win keys: each query equals the last row of full causal attention
 * over the win tokens that end at it, forward and backward (its keys and values before p
 * constants, the window's own accumulating every query's share). */
T_TEST(attn_cache_sliding_window)
{
	enum { b = 2, p = 6, t = 5, T = p + t, cap = 12, win = 4, h = 2, d = 3, c = h * d };
	double *k = t_dvec((size_t)b * T * c, 2), *v = t_dvec((size_t)b * T * c, 3);
	double *qw = t_dvec((size_t)b * t * c, 4), *gw = t_dvec((size_t)b * t * c, 5);
	static double kc[b * cap * c], vc[b * cap * c], ow[b * t * c], row[cap];
	static double dqw[b * t * c], dkw[b * t * c], dvw[b * t * c];
	static double rdq[b * t * c], rdk[b * t * c], rdv[b * t * c], ro[b * t * c];
	for (int i = 0; i < b; i++)
		for (int r = 0; r < T; r++)
			for (int e = 0; e < c; e++) {
				kc[((size_t)i * cap + r) * c + e] = k[((size_t)i * T + r) * c + e];
				vc[((size_t)i * cap + r) * c + e] = v[((size_t)i * T + r) * c + e];
			}
	nlk_attn_cache_fwd_f64(ow, row, qw, kc, vc, b, t, p, cap, win, h, d);
	nlk_attn_cache_bwd_f64(dqw, dkw, dvw, row, gw, qw, kc, vc, b, t, p, cap, win, h, d);
	/* the reference: full attention over each query's slice, the query in its last row */
	for (int i = 0; i < b; i++)
		for (int r = 0; r < t; r++) {
			int P = p + r, s0 = P + 1 - win > 0 ? P + 1 - win : 0, L = P + 1 - s0;
			static double sq[win * c], sk[win * c], sv[win * c], sg[win * c], so[win * c];
			static double sa[h * win * win], sdq[win * c], sdk[win * c], sdv[win * c];
			memset(sq, 0, sizeof sq), memset(sg, 0, sizeof sg);
			memset(sdq, 0, sizeof sdq), memset(sdk, 0, sizeof sdk), memset(sdv, 0, sizeof sdv);
			for (int j = 0; j < L; j++)
				for (int e = 0; e < c; e++) {
					sk[j * c + e] = k[((size_t)i * T + s0 + j) * c + e];
					sv[j * c + e] = v[((size_t)i * T + s0 + j) * c + e];
				}
			for (int e = 0; e < c; e++) {
				sq[(L - 1) * c + e] = qw[((size_t)i * t + r) * c + e];
				sg[(L - 1) * c + e] = gw[((size_t)i * t + r) * c + e];
			}
			nlk_attn_fwd_ref_f64(so, sa, sq, sk, sv, 1, L, h, d);
			nlk_attn_bwd_ref_f64(sdq, sdk, sdv, NULL, sg, sq, sk, sv, sa, 1, L, h, d);
			for (int e = 0; e < c; e++) {
				ro[((size_t)i * t + r) * c + e] = so[(L - 1) * c + e];
				rdq[((size_t)i * t + r) * c + e] = sdq[(L - 1) * c + e];
			}
			for (int j = 0; j < L; j++)
				for (int e = 0; e < c; e++)
					if (s0 + j >= p) {
						rdk[((size_t)i * t + s0 + j - p) * c + e] += sdk[j * c + e];
						rdv[((size_t)i * t + s0 + j - p) * c + e] += sdv[j * c + e];
					}
		}
	double worst = 0;
	for (size_t e = 0; e < (size_t)b * t * c; e++) {
		worst = fmax(worst, fabs(ow[e] - ro[e]));
		worst = fmax(worst, fabs(dqw[e] - rdq[e]));
		worst = fmax(worst, fabs(dkw[e] - rdk[e]));
		worst = fmax(worst, fabs(dvw[e] - rdv[e]));
	}
	T_CHECK_MSG(worst < 1e-13, "worst %.3g", worst);
	free(k), free(v), free(qw), free(gw);
}

int
main(void)
{
	T_RUN(rope_bwd_fd);
	T_RUN(attn_cache_sliding_window);
	T_RUN(rope_known_angles);
	T_RUN(rope_pos0_identity);
	T_RUN(rope_preserves_pair_norm);
	T_RUN(rope_bwd_inverts_fwd);
	T_RUN(rope_pos0_shifts_t);
	T_RUN(rope_in_place);
	T_RUN(attn_bwd_fd);
	T_RUN(attn_bwd_ref_fd);
	T_RUN(attn_fast_vs_ref);
	T_RUN(attn_properties);
	T_RUN(attn_cache_is_rows_of_full);
	T_RUN(attn_large_scores_stable);
	printf("# worst FD relative error: rope_bwd %.3g, attn_bwd %.3g, attn_bwd_ref %.3g\n",
	    worst_rope, worst_attn, worst_attn_ref);
	printf("# worst fast-vs-ref NMSE (float): %.3g\n", worst_nmse);
	return t_done();
}
