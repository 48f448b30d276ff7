/* nl — see LICENSE. Tests of kernels/conv.c and kernels/gate.c (the causal width-4
 * convolution, ℓ2 norm, per-head RMSNorm, sigmoid): central finite differences in double for
 * every backward and every input, the convolution against its formula and cut into streamed
 * pieces, the edge cases (zero rows, the norm floor, saturated sigmoid), float against
 * double. */
#include <stdint.h>

#include "kernels.h"
#include "t.h"
#include "t_num.h"

/* Float against double on the same inputs: every output here is a handful of float roundings
 * (≈ 6e-8 each) from the double result, and the row sums are carried in double, so the
 * largest difference relative to the array's largest value is a few 1e-7; 1e-6 has margin. */
#define F32_TOL 1e-6

static double
fmax_err(const float *f, const double *d, size_t n)
{
	double e = 0, s = 0;
	for (size_t i = 0; i < n; i++) {
		double a = fabs((double)f[i] - d[i]);
		e = a > e ? a : e;
		s = fabs(d[i]) > s ? fabs(d[i]) : s;
	}
	return e / (s > 1e-30 ? s : 1e-30);
}

static double *
dcopy(const double *src, size_t n)
{
	double *p = t_calloc(n, sizeof *p);
	memcpy(p, src, n * sizeof *p);
	return p;
}

static float *
tofloat(const double *src, size_t n)
{
	float *p = t_calloc(n, sizeof *p);
	for (size_t i = 0; i < n; i++)
		p[i] = (float)src[i];
	return p;
}

/* the double values of a float array: the double kernels then see the float inputs exactly */
static double *
todouble(const float *src, size_t n)
{
	double *p = t_calloc(n, sizeof *p);
	for (size_t i = 0; i < n; i++)
		p[i] = src[i];
	return p;
}


static int
all_finite(const double *a, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isfinite(a[i]))
			return 0;
	return 1;
}

static void
report(const char *what, double err)
{
	printf("# fd %-34s %.3g\n", what, err);
	T_CHECK_MSG(err <= T_FD_TOL, "%s: fd error %.3g", what, err);
}

static void
report_f32(const char *what, double err)
{
	printf("# f32 vs f64 %-27s %.3g\n", what, err);
	T_CHECK_MSG(err <= F32_TOL, "%s: float against double %.3g", what, err);
}

/* ---- conv4 ---- */

struct conv_ctx {
	double *x, *c, *ctx, *r, *y;
	int b, t, ch;
};

static double
conv_loss(void *p)
{
	struct conv_ctx *v = p;
	nlk_conv4_fwd_f64(v->y, v->x, v->c, v->ctx, v->b, v->t, v->ch);
	return t_dot(v->r, v->y, (size_t)v->b * v->t * v->ch);
}

/* y[i][p] = Σ_j c[j] ⊙ in[i][p − 3 + j] with in[i][−3..−1] = ctx[i][0..2] (0 if NULL) */
static void
conv_direct(double *y, const double *x, const double *c, const double *ctx, int b, int t,
    int ch)
{
	for (int i = 0; i < b; i++)
		for (int p = 0; p < t; p++)
			for (int k = 0; k < ch; k++) {
				double s = 0;
				for (int j = 0; j < 4; j++) {
					int q = p - 3 + j;
					double in = q >= 0 ? x[((size_t)i * t + q) * ch + k]
					    : ctx ? ctx[((size_t)i * 3 + 3 + q) * ch + k] : 0;
					s += c[(size_t)j * ch + k] * in;
				}
				y[((size_t)i * t + p) * ch + k] = s;
			}
}

/* gradients of every input, with ctx given or NULL; t < 3 has no output reading x with
 * all four taps */
static void
conv_fd(int t, int with_ctx)
{
	struct conv_ctx v = { .b = 2, .t = t, .ch = 3 };
	size_t nx = (size_t)v.b * t * v.ch, nc = 4 * (size_t)v.ch, nk = (size_t)v.b * 3 * v.ch;
	char name[64];

	v.x = t_dvec(nx, 1);
	v.c = t_dvec(nc, 1);
	v.ctx = t_dvec(nk, 1);
	v.r = t_dvec(nx, 1);
	v.y = t_calloc(nx, sizeof *v.y);
	if (!with_ctx)
		memset(v.ctx, 0, nk * sizeof *v.ctx);
	const double *ctx = with_ctx ? v.ctx : NULL;
	double *dx = t_calloc(nx, sizeof *dx), *dc = t_calloc(nc, sizeof *dc);
	double *dk = t_calloc(nk, sizeof *dk);
	double *dx2 = t_calloc(nx, sizeof *dx), *dc2 = t_calloc(nc, sizeof *dc);
	double *dk2 = t_calloc(nk, sizeof *dk), *dc3 = t_calloc(nc, sizeof *dc);

	/* dL/dy = r; with ctx NULL the loss is taken at a zero ctx array, and dctx is still its
	 * gradient there */
	nlk_conv4_bwd_f64(dx, dc, dk, v.r, v.x, v.c, ctx, v.b, t, v.ch);
	snprintf(name, sizeof name, "conv4 dx (t %d%s)", t, with_ctx ? "" : ", ctx NULL");
	report(name, t_fd_err(conv_loss, &v, v.x, nx, dx));
	snprintf(name, sizeof name, "conv4 dc (t %d%s)", t, with_ctx ? "" : ", ctx NULL");
	report(name, t_fd_err(conv_loss, &v, v.c, nc, dc));
	snprintf(name, sizeof name, "conv4 dctx (t %d%s)", t, with_ctx ? "" : ", ctx NULL");
	report(name, t_fd_err(conv_loss, &v, v.ctx, nk, dk));

	nlk_conv4_bwd_f64(dx2, dc2, dk2, v.r, v.x, v.c, ctx, v.b, t, v.ch);
	nlk_conv4_bwd_f64(dx2, dc2, dk2, v.r, v.x, v.c, ctx, v.b, t, v.ch);
	T_CHECK(t_doubled(dx2, dx, nx));
	T_CHECK(t_doubled(dc2, dc, nc));
	T_CHECK(t_doubled(dk2, dk, nk));
	/* NULL outputs are skipped and the others are unaffected */
	nlk_conv4_bwd_f64(NULL, dc3, NULL, v.r, v.x, v.c, ctx, v.b, t, v.ch);
	T_CHECK(memcmp(dc3, dc, nc * sizeof *dc) == 0);
	nlk_conv4_bwd_f64(NULL, NULL, NULL, v.r, v.x, v.c, ctx, v.b, t, v.ch);
	free(v.x), free(v.c), free(v.ctx), free(v.r), free(v.y), free(dx), free(dc), free(dk);
	free(dx2), free(dc2), free(dk2), free(dc3);
}

T_TEST(conv4_fd)
{
	conv_fd(6, 1);
	conv_fd(6, 0);
	conv_fd(2, 1);
	conv_fd(1, 0);
}

T_TEST(conv4_direct)
{
	int b = 3, t = 7, ch = 5;
	size_t nx = (size_t)b * t * ch, nk = (size_t)b * 3 * ch;
	double *x = t_dvec(nx, 1), *c = t_dvec(4 * (size_t)ch, 1), *ctx = t_dvec(nk, 1);
	double *y = t_dvec(nx, 1), *yd = t_calloc(nx, sizeof *yd);	/* y starts as garbage */

	for (int with = 0; with < 2; with++) {
		const double *k = with ? ctx : NULL;
		nlk_conv4_fwd_f64(y, x, c, k, b, t, ch);
		conv_direct(yd, x, c, k, b, t, ch);
		for (size_t i = 0; i < nx; i++)
			T_NEAR(y[i], yd[i], 1e-15);
	}
	/* by hand: one channel, c = (1, 10, 100, 1000), ctx = (1, 2, 3), x = (4, 5) ->
	 * y0 = 1·1 + 10·2 + 100·3 + 1000·4, y1 = 1·2 + 10·3 + 100·4 + 1000·5 */
	double hc[4] = { 1, 10, 100, 1000 }, hk[3] = { 1, 2, 3 }, hx[2] = { 4, 5 }, hy[2];
	nlk_conv4_fwd_f64(hy, hx, hc, hk, 1, 2, 1);
	T_NEAR(hy[0], 4321, 0);
	T_NEAR(hy[1], 5432, 0);
	nlk_conv4_fwd_f64(hy, hx, hc, NULL, 1, 2, 1);
	T_NEAR(hy[0], 4000, 0);
	T_NEAR(hy[1], 5400, 0);
	/* the float build computes the same formula */
	float *xf = tofloat(x, nx), *cf = tofloat(c, 4 * (size_t)ch), *kf = tofloat(ctx, nk);
	float *yf = t_calloc(nx, sizeof *yf);
	double *xd = todouble(xf, nx), *cd = todouble(cf, 4 * (size_t)ch), *kd = todouble(kf, nk);
	nlk_conv4_fwd(yf, xf, cf, kf, b, t, ch);
	conv_direct(yd, xd, cd, kd, b, t, ch);
	report_f32("conv4_fwd y", fmax_err(yf, yd, nx));
	free(x), free(c), free(ctx), free(y), free(yd), free(xf), free(cf), free(kf), free(yf);
	free(xd), free(cd), free(kd);
}

/* rows [p0, p0 + n) of each sequence of x [b, t, ch] into out [b, n, ch] */
static void
slice_t(double *out, const double *x, int b, int t, int ch, int p0, int n)
{
	for (int i = 0; i < b; i++)
		memcpy(out + (size_t)i * n * ch, x + ((size_t)i * t + p0) * ch,
		    (size_t)n * ch * sizeof *out);
}

T_TEST(conv4_stream)
{
	int b = 2, t = 7, ch = 5;
	static const int cuts[] = { 0, 1, 2, 3, 5, 7 };
	size_t nx = (size_t)b * t * ch, nk = (size_t)b * 3 * ch;
	double *x = t_dvec(nx, 1), *c = t_dvec(4 * (size_t)ch, 1), *ctx0 = t_dvec(nk, 1);
	double *y = t_calloc(nx, sizeof *y), *ys = t_calloc(nx, sizeof *ys);
	double *xa = t_calloc(nx, sizeof *xa), *xb = t_calloc(nx, sizeof *xb);
	double *ya = t_calloc(nx, sizeof *ya), *yb = t_calloc(nx, sizeof *yb);
	double *k1 = t_calloc(nk, sizeof *k1), *k2 = t_calloc(nk, sizeof *k2);
	double *kend = t_calloc(nk, sizeof *kend);

	for (int with = 0; with < 2; with++) {
		const double *ctx = with ? ctx0 : NULL;
		nlk_conv4_fwd_f64(y, x, c, ctx, b, t, ch);
		nlk_conv4_tail_f64(kend, x, ctx, b, t, ch);
		for (size_t s = 0; s < sizeof cuts / sizeof cuts[0]; s++) {
			int t1 = cuts[s], t2 = t - t1;
			slice_t(xa, x, b, t, ch, 0, t1);
			slice_t(xb, x, b, t, ch, t1, t2);
			nlk_conv4_fwd_f64(ya, xa, c, ctx, b, t1, ch);
			nlk_conv4_tail_f64(k1, xa, ctx, b, t1, ch);
			nlk_conv4_fwd_f64(yb, xb, c, k1, b, t2, ch);
			/* the same context in place (ctx_out aliasing ctx) */
			if (ctx != NULL)
				memcpy(k2, ctx, nk * sizeof *k2);
			else
				memset(k2, 0, nk * sizeof *k2);
			nlk_conv4_tail_f64(k2, xa, k2, b, t1, ch);
			T_CHECK_MSG(memcmp(k1, k2, nk * sizeof *k1) == 0, "t1 %d: aliased tail", t1);
			/* the context after both pieces is the context after one call */
			nlk_conv4_tail_f64(k2, xb, k2, b, t2, ch);
			T_CHECK_MSG(memcmp(k2, kend, nk * sizeof *k2) == 0, "t1 %d: final tail", t1);
			for (int i = 0; i < b; i++) {
				memcpy(ys + (size_t)i * t * ch, ya + (size_t)i * t1 * ch,
				    (size_t)t1 * ch * sizeof *ys);
				memcpy(ys + ((size_t)i * t + t1) * ch, yb + (size_t)i * t2 * ch,
				    (size_t)t2 * ch * sizeof *ys);
			}
			/* the same products summed in the same order: equal to the bit */
			T_CHECK_MSG(memcmp(ys, y, nx * sizeof *y) == 0, "t1 %d, ctx %s: streamed",
			    t1, with ? "given" : "NULL");
		}
	}
	/* a tail shorter than 3 keeps the older context: ctx (a, b, c) and x (d) -> (b, c, d) */
	double tk[3] = { 1, 2, 3 }, tx[1] = { 4 };
	nlk_conv4_tail_f64(tk, tx, tk, 1, 1, 1);
	T_CHECK(tk[0] == 2 && tk[1] == 3 && tk[2] == 4);
	nlk_conv4_tail_f64(tk, tx, NULL, 1, 1, 1);
	T_CHECK(tk[0] == 0 && tk[1] == 0 && tk[2] == 4);
	free(x), free(c), free(ctx0), free(y), free(ys), free(xa), free(xb), free(ya), free(yb);
	free(k1), free(k2), free(kend);
}

/* ---- l2norm ---- */

struct l2_ctx {
	double *x, *r, *y, *inv;
	int n, d;
};

static double
l2_loss(void *p)
{
	struct l2_ctx *v = p;
	nlk_l2norm_fwd_f64(v->y, v->inv, v->x, v->n, v->d);
	return t_dot(v->r, v->y, (size_t)v->n * v->d);
}


/* one row of x = random direction with norm nrm (nrm ≤ 0: the random row as drawn) */
static void
l2_case(const char *what, double nrm, double h)
{
	struct l2_ctx v = { .n = 3, .d = 5 };
	size_t nx = (size_t)v.n * v.d;

	v.x = t_dvec(nx, 1);
	v.r = t_dvec(nx, 1);
	v.y = t_calloc(nx, sizeof *v.y);
	v.inv = t_calloc((size_t)v.n, sizeof *v.inv);
	if (nrm > 0)
		for (int i = 0; i < v.n; i++) {
			double *xi = v.x + (size_t)i * v.d;
			double s = sqrt(t_dot(xi, xi, (size_t)v.d));
			for (int k = 0; k < v.d; k++)
				xi[k] *= nrm / s;
		}
	double *dx = t_calloc(nx, sizeof *dx), *dx2 = t_calloc(nx, sizeof *dx);

	/* inv from the unperturbed forward, as in training */
	l2_loss(&v);
	double *inv0 = dcopy(v.inv, (size_t)v.n), *y0 = dcopy(v.y, nx);
	nlk_l2norm_bwd_f64(dx, v.r, y0, inv0, v.n, v.d);
	report(what, t_fd_err_h(l2_loss, &v, v.x, nx, dx, h));
	nlk_l2norm_bwd_f64(dx2, v.r, y0, inv0, v.n, v.d);
	nlk_l2norm_bwd_f64(dx2, v.r, y0, inv0, v.n, v.d);
	T_CHECK(t_doubled(dx2, dx, nx));
	nlk_l2norm_bwd_f64(NULL, v.r, y0, inv0, v.n, v.d);
	free(v.x), free(v.r), free(v.y), free(v.inv), free(dx), free(dx2), free(inv0), free(y0);
}

T_TEST(l2norm_fd)
{
	l2_case("l2norm dx", 0, T_FD_H);
	/* just above and just below the floor 1e-12: the branch taken must be the right one
	 * (the second is where ‖y‖ = 0.9, which a test on ‖y‖ would misread). Steps of 1e-6 of
	 * the norm keep each row on its side: truncation (h/‖x‖)² ≈ 1e-12, cancellation
	 * 1e-16 / (h · 1e12) ≈ 1e-10 */
	l2_case("l2norm dx (norm 1.1e-12)", 1.1e-12, 1e-18);
	l2_case("l2norm dx (norm 0.9e-12, floored)", 0.9e-12, 1e-18);
	l2_case("l2norm dx (norm 1e-14, floored)", 1e-14, 1e-20);
}

T_TEST(l2norm_known)
{
	/* a zero row gives zeros, inv = 1e12, and a finite backward dx = 1e12 dy */
	double x[6] = { 0, 0, 0, 3, 0, -4 }, y[6], inv[2], dy[6] = { 1, -2, 0.5, 1, 1, 1 };
	double dx[6] = { 0 };
	nlk_l2norm_fwd_f64(y, inv, x, 2, 3);
	T_CHECK(y[0] == 0 && y[1] == 0 && y[2] == 0);
	T_NEAR(inv[0], 1e12, 1e-3);
	T_NEAR(inv[1], 0.2, 1e-15);
	T_NEAR(y[3], 0.6, 1e-15);
	T_NEAR(y[5], -0.8, 1e-15);
	nlk_l2norm_bwd_f64(dx, dy, y, inv, 2, 3);
	T_CHECK(all_finite(dx, 6));
	for (int k = 0; k < 3; k++)
		T_NEAR(dx[k], 1e12 * dy[k], 1e-3);
	/* dx ⟂ y on a normalised row: moving along x changes nothing */
	T_NEAR(dx[3] * y[3] + dx[4] * y[4] + dx[5] * y[5], 0, 1e-16);

	float xf[6] = { 0, 0, 0, 3, 0, -4 }, yf[6], invf[2], dyf[6] = { 1, -2, 0.5, 1, 1, 1 };
	float dxf[6] = { 0 };
	nlk_l2norm_fwd(yf, invf, xf, 2, 3);
	T_CHECK(yf[0] == 0 && yf[1] == 0 && yf[2] == 0);
	T_NEAR(invf[0], 1e12, 1e5);
	nlk_l2norm_bwd(dxf, dyf, yf, invf, 2, 3);
	for (int k = 0; k < 6; k++)
		T_CHECK(isfinite(dxf[k]));
	T_NEAR(dxf[1], -2e12, 1e6);

	/* every normalised row has norm 1 */
	int n = 17, d = 33;
	double *xr = t_dvec((size_t)n * d, 3), *yr = t_calloc((size_t)n * d, sizeof *yr);
	double *ir = t_calloc((size_t)n, sizeof *ir);
	nlk_l2norm_fwd_f64(yr, ir, xr, n, d);
	for (int i = 0; i < n; i++) {
		const double *yi = yr + (size_t)i * d;
		T_NEAR(t_dot(yi, yi, (size_t)d), 1, 1e-14);
	}
	free(xr), free(yr), free(ir);
}

/* ---- rmsnorm_heads ---- */

struct rh_ctx {
	double *x, *w, *r, *y, *rstd;
	int n, h, dh;
	double eps;
};

static double
rh_loss(void *p)
{
	struct rh_ctx *v = p;
	nlk_rmsnorm_heads_fwd_f64(v->y, v->rstd, v->x, v->w, v->n, v->h, v->dh, v->eps);
	return t_dot(v->r, v->y, (size_t)v->n * v->h * v->dh);
}

static void
rh_fd(double eps)
{
	struct rh_ctx v = { .n = 3, .h = 2, .dh = 4, .eps = eps };
	size_t nx = (size_t)v.n * v.h * v.dh, nw = (size_t)v.h * v.dh, nr = (size_t)v.n * v.h;
	char name[64];

	v.x = t_dvec(nx, 1);
	v.w = t_dvec(nw, 1);
	v.r = t_dvec(nx, 1);
	v.y = t_calloc(nx, sizeof *v.y);
	v.rstd = t_calloc(nr, sizeof *v.rstd);
	double *dx = t_calloc(nx, sizeof *dx), *dw = t_calloc(nw, sizeof *dw);
	double *dx2 = t_calloc(nx, sizeof *dx), *dw2 = t_calloc(nw, sizeof *dw);
	double *dw3 = t_calloc(nw, sizeof *dw);

	rh_loss(&v);
	double *rstd0 = dcopy(v.rstd, nr);
	nlk_rmsnorm_heads_bwd_f64(dx, dw, v.r, v.x, v.w, rstd0, v.n, v.h, v.dh);
	snprintf(name, sizeof name, "rmsnorm_heads dx (eps %g)", eps);
	report(name, t_fd_err(rh_loss, &v, v.x, nx, dx));
	snprintf(name, sizeof name, "rmsnorm_heads dw (eps %g)", eps);
	report(name, t_fd_err(rh_loss, &v, v.w, nw, dw));
	nlk_rmsnorm_heads_bwd_f64(dx2, dw2, v.r, v.x, v.w, rstd0, v.n, v.h, v.dh);
	nlk_rmsnorm_heads_bwd_f64(dx2, dw2, v.r, v.x, v.w, rstd0, v.n, v.h, v.dh);
	T_CHECK(t_doubled(dx2, dx, nx));
	T_CHECK(t_doubled(dw2, dw, nw));
	nlk_rmsnorm_heads_bwd_f64(NULL, dw3, v.r, v.x, v.w, rstd0, v.n, v.h, v.dh);
	T_CHECK(memcmp(dw3, dw, nw * sizeof *dw) == 0);
	nlk_rmsnorm_heads_bwd_f64(NULL, NULL, v.r, v.x, v.w, rstd0, v.n, v.h, v.dh);
	free(v.x), free(v.w), free(v.r), free(v.y), free(v.rstd), free(rstd0);
	free(dx), free(dw), free(dx2), free(dw2), free(dw3);
}

T_TEST(rmsnorm_heads_fd)
{
	rh_fd(1e-6);
	rh_fd(0.5);	/* a large eps makes its term visible */
}

/* each slice is norm.c's RMSNorm of one row of dh with the slice's weights */
T_TEST(rmsnorm_heads_vs_rmsnorm)
{
	int n = 5, h = 3, dh = 8;
	size_t nx = (size_t)n * h * dh, nw = (size_t)h * dh;
	double *x = t_dvec(nx, 2), *w = t_dvec(nw, 1), *dy = t_dvec(nx, 1);
	double *y = t_calloc(nx, sizeof *y), *rstd = t_calloc((size_t)n * h, sizeof *rstd);
	double *dx = t_calloc(nx, sizeof *dx), *dw = t_calloc(nw, sizeof *dw);
	double *ys = t_calloc((size_t)dh, sizeof *ys), *dxs = t_calloc((size_t)dh, sizeof *dxs);
	double *dws = t_calloc(nw, sizeof *dws), rs;

	nlk_rmsnorm_heads_fwd_f64(y, rstd, x, w, n, h, dh, 1e-6);
	nlk_rmsnorm_heads_bwd_f64(dx, dw, dy, x, w, rstd, n, h, dh);
	for (int i = 0; i < n; i++)
		for (int g = 0; g < h; g++) {
			size_t s = (size_t)i * h + g;
			memset(dxs, 0, (size_t)dh * sizeof *dxs);
			nlk_rmsnorm_fwd_f64(ys, &rs, x + s * dh, w + (size_t)g * dh, 1, dh, 1e-6);
			nlk_rmsnorm_bwd_f64(dxs, dws + (size_t)g * dh, dy + s * dh, x + s * dh,
			    w + (size_t)g * dh, &rs, 1, dh);
			T_NEAR(rstd[s], rs, 1e-15 * rs);
			for (int k = 0; k < dh; k++) {
				T_NEAR(y[s * dh + k], ys[k], 1e-14);
				T_NEAR(dx[s * dh + k], dxs[k], 1e-13);
			}
		}
	for (size_t k = 0; k < nw; k++)
		T_NEAR(dw[k], dws[k], 1e-13);
	/* rstd may be NULL */
	nlk_rmsnorm_heads_fwd_f64(dx, NULL, x, w, n, h, dh, 1e-6);
	T_CHECK(memcmp(dx, y, nx * sizeof *y) == 0);
	free(x), free(w), free(dy), free(y), free(rstd), free(dx), free(dw), free(ys), free(dxs);
	free(dws);
}

/* ---- sigmoid ---- */

struct sg_ctx {
	double *x, *r, *y;
	size_t n;
};

static double
sg_loss(void *p)
{
	struct sg_ctx *v = p;
	nlk_sigmoid_fwd_f64(v->y, v->x, v->n);
	return t_dot(v->r, v->y, v->n);
}

T_TEST(sigmoid_fd)
{
	struct sg_ctx v = { .n = 12 };

	v.x = t_dvec(v.n, 6);	/* [−6, 6): both tails and the bend */
	v.x[0] = 0;
	v.x[1] = -20;
	v.x[2] = 20;
	v.r = t_dvec(v.n, 1);
	v.y = t_calloc(v.n, sizeof *v.y);
	double *dx = t_calloc(v.n, sizeof *dx), *dx2 = t_calloc(v.n, sizeof *dx);

	sg_loss(&v);
	double *y0 = dcopy(v.y, v.n);
	nlk_sigmoid_bwd_f64(dx, v.r, y0, v.n);
	report("sigmoid dx", t_fd_err(sg_loss, &v, v.x, v.n, dx));
	nlk_sigmoid_bwd_f64(dx2, v.r, y0, v.n);
	nlk_sigmoid_bwd_f64(dx2, v.r, y0, v.n);
	T_CHECK(t_doubled(dx2, dx, v.n));
	nlk_sigmoid_bwd_f64(NULL, v.r, y0, v.n);
	free(v.x), free(v.r), free(v.y), free(y0), free(dx), free(dx2);
}

T_TEST(sigmoid_known)
{
	enum { N = 9 };
	double xd[N] = { 0, 100, -100, 1000, -1000, 1e300, -1e300, INFINITY, -INFINITY };
	float xf[N] = { 0, 100, -100, 1000, -1000, 1e30f, -1e30f, INFINITY, -INFINITY };
	double yd[N], dxd[N] = { 0 }, oned[N];
	float yf[N], dxf[N] = { 0 }, onef[N];

	for (int i = 0; i < N; i++)
		oned[i] = onef[i] = 1;
	nlk_sigmoid_fwd_f64(yd, xd, N);
	nlk_sigmoid_fwd(yf, xf, N);
	nlk_sigmoid_bwd_f64(dxd, oned, yd, N);
	nlk_sigmoid_bwd(dxf, onef, yf, N);
	for (int i = 0; i < N; i++) {
		T_CHECK_MSG(isfinite(yd[i]) && isfinite(dxd[i]), "double x = %g", xd[i]);
		T_CHECK_MSG(isfinite(yf[i]) && isfinite(dxf[i]), "float x = %g", (double)xf[i]);
		/* positive x: 1 to rounding; negative: 0 to within e^x (≤ e^−100 ≈ 3.7e-44) */
		double want = xd[i] > 0 ? 1 : xd[i] < 0 ? 0 : 0.5;
		T_NEAR(yd[i], want, 4e-44);
		T_NEAR(yf[i], want, 4e-44);
		T_NEAR(dxd[i], xd[i] == 0 ? 0.25 : 0, 4e-44);
		T_NEAR(dxf[i], xf[i] == 0 ? 0.25f : 0, 4e-44);
	}
	T_NEAR(yd[2], exp(-100), 1e-58);	/* e^−100 / (1 + e^−100) */
	/* y may alias x */
	double d[3] = { -1, 0, 2 };
	nlk_sigmoid_fwd_f64(d, d, 3);
	T_NEAR(d[0], 1 / (1 + exp(1)), 1e-16);
	T_NEAR(d[2], 1 / (1 + exp(-2)), 1e-16);
}

/* ---- float against double ---- */

T_TEST(float_vs_double)
{
	int b = 2, t = 9, ch = 37, n = b * t, h = 3, dh = 16;
	size_t nx = (size_t)b * t * ch, nc = 4 * (size_t)ch, nk = (size_t)b * 3 * ch;

	/* conv4: y, dx, dc, dctx, tail */
	float *xf = t_fvec(nx, 1), *cf = t_fvec(nc, 1), *kf = t_fvec(nk, 1), *gf = t_fvec(nx, 1);
	float *yf = t_calloc(nx, sizeof *yf), *dxf = t_calloc(nx, sizeof *dxf);
	float *dcf = t_calloc(nc, sizeof *dcf), *dkf = t_calloc(nk, sizeof *dkf);
	float *tf = t_calloc(nk, sizeof *tf);
	double *xd = todouble(xf, nx), *cd = todouble(cf, nc), *kd = todouble(kf, nk);
	double *gd = todouble(gf, nx), *yd = t_calloc(nx, sizeof *yd);
	double *dxd = t_calloc(nx, sizeof *dxd), *dcd = t_calloc(nc, sizeof *dcd);
	double *dkd = t_calloc(nk, sizeof *dkd), *td = t_calloc(nk, sizeof *td);
	nlk_conv4_fwd(yf, xf, cf, kf, b, t, ch);
	nlk_conv4_fwd_f64(yd, xd, cd, kd, b, t, ch);
	nlk_conv4_bwd(dxf, dcf, dkf, gf, xf, cf, kf, b, t, ch);
	nlk_conv4_bwd_f64(dxd, dcd, dkd, gd, xd, cd, kd, b, t, ch);
	nlk_conv4_tail(tf, xf, kf, b, 2, ch);
	nlk_conv4_tail_f64(td, xd, kd, b, 2, ch);
	report_f32("conv4 y", fmax_err(yf, yd, nx));
	report_f32("conv4 dx", fmax_err(dxf, dxd, nx));
	report_f32("conv4 dc", fmax_err(dcf, dcd, nc));
	report_f32("conv4 dctx", fmax_err(dkf, dkd, nk));
	report_f32("conv4 tail", fmax_err(tf, td, nk));
	free(xf), free(cf), free(kf), free(gf), free(yf), free(dxf), free(dcf), free(dkf), free(tf);
	free(xd), free(cd), free(kd), free(gd), free(yd), free(dxd), free(dcd), free(dkd), free(td);

	/* l2norm and rmsnorm_heads on x [n, h·dh] */
	size_t m = (size_t)n * h * dh, nw = (size_t)h * dh, nr = (size_t)n * h;
	float *x = t_fvec(m, 2), *w = t_fvec(nw, 1), *g = t_fvec(m, 1);
	float *y = t_calloc(m, sizeof *y), *r = t_calloc(nr, sizeof *r);
	float *dx = t_calloc(m, sizeof *dx), *dw = t_calloc(nw, sizeof *dw);
	double *x2 = todouble(x, m), *w2 = todouble(w, nw), *g2 = todouble(g, m);
	double *y2 = t_calloc(m, sizeof *y2), *r2 = t_calloc(nr, sizeof *r2);
	double *dx2 = t_calloc(m, sizeof *dx2), *dw2 = t_calloc(nw, sizeof *dw2);
	nlk_l2norm_fwd(y, r, x, n * h, dh);
	nlk_l2norm_fwd_f64(y2, r2, x2, n * h, dh);
	nlk_l2norm_bwd(dx, g, y, r, n * h, dh);
	nlk_l2norm_bwd_f64(dx2, g2, y2, r2, n * h, dh);
	report_f32("l2norm y", fmax_err(y, y2, m));
	report_f32("l2norm inv", fmax_err(r, r2, nr));
	report_f32("l2norm dx", fmax_err(dx, dx2, m));
	memset(dx, 0, m * sizeof *dx);
	memset(dx2, 0, m * sizeof *dx2);
	nlk_rmsnorm_heads_fwd(y, r, x, w, n, h, dh, 1e-6f);
	nlk_rmsnorm_heads_fwd_f64(y2, r2, x2, w2, n, h, dh, (double)1e-6f);
	nlk_rmsnorm_heads_bwd(dx, dw, g, x, w, r, n, h, dh);
	nlk_rmsnorm_heads_bwd_f64(dx2, dw2, g2, x2, w2, r2, n, h, dh);
	report_f32("rmsnorm_heads y", fmax_err(y, y2, m));
	report_f32("rmsnorm_heads rstd", fmax_err(r, r2, nr));
	report_f32("rmsnorm_heads dx", fmax_err(dx, dx2, m));
	report_f32("rmsnorm_heads dw", fmax_err(dw, dw2, nw));

	/* sigmoid over [−30, 30) (the float exp is inline, libm's in double); the backward is
	 * fed each build's own forward */
	float *sx = t_fvec(m, 30);
	double *sx2 = todouble(sx, m);
	memset(dx, 0, m * sizeof *dx);
	memset(dx2, 0, m * sizeof *dx2);
	nlk_sigmoid_fwd(y, sx, m);
	nlk_sigmoid_fwd_f64(y2, sx2, m);
	nlk_sigmoid_bwd(dx, g, y, m);
	nlk_sigmoid_bwd_f64(dx2, g2, y2, m);
	report_f32("sigmoid y", fmax_err(y, y2, m));
	report_f32("sigmoid dx", fmax_err(dx, dx2, m));
	/* elementwise relative error of σ where it is not tiny */
	double er = 0;
	for (size_t i = 0; i < m; i++)
		if (y2[i] > 1e-30) {
			double e = fabs(y[i] - y2[i]) / y2[i];
			er = e > er ? e : er;
		}
	report_f32("sigmoid y (elementwise)", er);
	free(x), free(w), free(g), free(y), free(r), free(dx), free(dw), free(x2), free(w2);
	free(g2), free(y2), free(r2), free(dx2), free(dw2), free(sx), free(sx2);
}

int
main(void)
{
	T_RUN(conv4_fd);
	T_RUN(conv4_direct);
	T_RUN(conv4_stream);
	T_RUN(l2norm_fd);
	T_RUN(l2norm_known);
	T_RUN(rmsnorm_heads_fd);
	T_RUN(rmsnorm_heads_vs_rmsnorm);
	T_RUN(sigmoid_fd);
	T_RUN(sigmoid_known);
	T_RUN(float_vs_double);
	printf("%d passed, %d failed\n", t_count - t_failed_total, t_failed_total);
	return t_done();
}
