/* nl — see LICENSE. Tests of the dense kernels (matmul, embed, rmsnorm, SiLU/SwiGLU,
 * softmax cross-entropy, AdamW): central finite differences in double for every backward,
 * fast against reference in float, and values known in closed form. */
#include <stdint.h>

#include "kernels.h"
#include "t.h"
#include "t_num.h"

/* Fast against reference in float. A float gemm and the naive loop differ only in
 * summation order; each output's relative error is ~ sqrt(K)·6e-8 for K terms, ≈ 1e-6 at
 * K = 256, so the squared relative error is ~ 1e-12. 1e-10 allows for that with margin and
 * is still ~1e-4 below anything a real indexing or transpose bug produces. */
#define NMSE_TOL 1e-10

static float *
fcopy(const float *src, size_t n)
{
	float *p = t_calloc(n, sizeof *p);
	memcpy(p, src, n * sizeof *p);
	return p;
}


/* normalised squared error of a float array against a reference, for the log */
static double
fnmse(const float *a, const float *ref, size_t n)
{
	double e = 0, d = 0;
	for (size_t i = 0; i < n; i++) {
		e += ((double)a[i] - ref[i]) * ((double)a[i] - ref[i]);
		d += (double)ref[i] * ref[i];
	}
	return d > 0 ? e / d : e;
}

static void
worst(double *acc, double e)
{
	*acc = e > *acc ? e : *acc;
}

static void
report(const char *what, double err)
{
	printf("# fd %-28s %.3g\n", what, err);
	T_CHECK_MSG(err <= T_FD_TOL, "%s: fd error %.3g", what, err);
}

/* ---- matmul ---- */

struct mm_ctx {
	double *x, *w, *r, *y;
	int n, in, out;
	void (*fwd)(double *, const double *, const double *, int, int, int);
};

static double
mm_loss(void *p)
{
	struct mm_ctx *c = p;
	c->fwd(c->y, c->x, c->w, c->n, c->in, c->out);
	return t_dot(c->r, c->y, (size_t)c->n * c->out);
}

static void
mm_fd(int ref)
{
	struct mm_ctx c = { .n = 3, .in = 5, .out = 4 };
	size_t nx = (size_t)c.n * c.in, nw = (size_t)c.out * c.in, ny = (size_t)c.n * c.out;
	void (*bwd)(double *, double *, const double *, const double *, const double *, int, int,
	    int) = ref ? nlk_matmul_bwd_ref_f64 : nlk_matmul_bwd_f64;

	c.fwd = ref ? nlk_matmul_fwd_ref_f64 : nlk_matmul_fwd_f64;
	c.x = t_dvec(nx, 1);
	c.w = t_dvec(nw, 1);
	c.r = t_dvec(ny, 1);
	c.y = t_calloc(ny, sizeof *c.y);
	double *dx = t_calloc(nx, sizeof *dx), *dw = t_calloc(nw, sizeof *dw);
	double *dx2 = t_calloc(nx, sizeof *dx), *dw2 = t_calloc(nw, sizeof *dw);
	double *dw3 = t_calloc(nw, sizeof *dw);

	/* dL/dy = r */
	bwd(dx, dw, c.r, c.x, c.w, c.n, c.in, c.out);
	report(ref ? "matmul_bwd_ref dx" : "matmul_bwd dx", t_fd_err(mm_loss, &c, c.x, nx, dx));
	report(ref ? "matmul_bwd_ref dw" : "matmul_bwd dw", t_fd_err(mm_loss, &c, c.w, nw, dw));

	bwd(dx2, dw2, c.r, c.x, c.w, c.n, c.in, c.out);
	bwd(dx2, dw2, c.r, c.x, c.w, c.n, c.in, c.out);
	T_CHECK(t_doubled(dx2, dx, nx));
	T_CHECK(t_doubled(dw2, dw, nw));
	/* NULL dx is skipped and dw is unaffected by it */
	bwd(NULL, dw3, c.r, c.x, c.w, c.n, c.in, c.out);
	T_NMSE(dw3, dw, nw, 1e-28);
	free(c.x), free(c.w), free(c.r), free(c.y), free(dx), free(dw), free(dx2), free(dw2);
	free(dw3);
}

T_TEST(matmul_fd)
{
	mm_fd(0);
	mm_fd(1);
}

/* ---- embed ---- */

struct emb_ctx {
	double *table, *r, *out;
	const int32_t *ids;
	int n, c;
};

static double
emb_loss(void *p)
{
	struct emb_ctx *e = p;
	nlk_embed_fwd_f64(e->out, e->ids, e->table, e->n, e->c);
	return t_dot(e->r, e->out, (size_t)e->n * e->c);
}

T_TEST(embed_fd)
{
	/* id 2 repeats (its gradient is the sum), id 4 and 6 are unused (gradient 0) */
	static const int32_t ids[] = { 2, 0, 5, 2, 1, 3 };
	struct emb_ctx e = { .ids = ids, .n = 6, .c = 6 };
	int v = 7;
	size_t nt = (size_t)v * e.c, no = (size_t)e.n * e.c;

	e.table = t_dvec(nt, 1);
	e.r = t_dvec(no, 1);
	e.out = t_calloc(no, sizeof *e.out);
	double *dt = t_calloc(nt, sizeof *dt), *dt2 = t_calloc(nt, sizeof *dt);
	nlk_embed_bwd_f64(dt, e.r, ids, e.n, e.c);
	report("embed_bwd dtable", t_fd_err(emb_loss, &e, e.table, nt, dt));
	nlk_embed_bwd_f64(dt2, e.r, ids, e.n, e.c);
	nlk_embed_bwd_f64(dt2, e.r, ids, e.n, e.c);
	T_CHECK(t_doubled(dt2, dt, nt));
	for (int j = 0; j < e.c; j++)
		T_CHECK(dt[4 * e.c + j] == 0 && dt[6 * e.c + j] == 0);
	/* forward copies rows exactly */
	nlk_embed_fwd_f64(e.out, ids, e.table, e.n, e.c);
	T_CHECK(memcmp(e.out + 3 * e.c, e.table + 2 * e.c, (size_t)e.c * sizeof *e.out) == 0);
	nlk_embed_bwd_f64(NULL, e.r, ids, e.n, e.c);
	free(e.table), free(e.r), free(e.out), free(dt), free(dt2);
}

/* ---- rmsnorm ---- */

struct rms_ctx {
	double *x, *w, *r, *y, *rstd;
	int n, c;
	double eps;
	void (*fwd)(double *, double *, const double *, const double *, int, int, double);
};

static double
rms_loss(void *p)
{
	struct rms_ctx *c = p;
	c->fwd(c->y, c->rstd, c->x, c->w, c->n, c->c, c->eps);
	return t_dot(c->r, c->y, (size_t)c->n * c->c);
}

static void
rms_fd(int ref, double eps, const char *name_dx, const char *name_dw)
{
	struct rms_ctx c = { .n = 3, .c = 6, .eps = eps };
	size_t nx = (size_t)c.n * c.c;
	void (*bwd)(double *, double *, const double *, const double *, const double *,
	    const double *, int, int) = ref ? nlk_rmsnorm_bwd_ref_f64 : nlk_rmsnorm_bwd_f64;

	c.fwd = ref ? nlk_rmsnorm_fwd_ref_f64 : nlk_rmsnorm_fwd_f64;
	c.x = t_dvec(nx, 1);
	c.w = t_dvec((size_t)c.c, 1);
	c.r = t_dvec(nx, 1);
	c.y = t_calloc(nx, sizeof *c.y);
	c.rstd = t_calloc((size_t)c.n, sizeof *c.rstd);
	double *dx = t_calloc(nx, sizeof *dx), *dw = t_calloc((size_t)c.c, sizeof *dw);
	double *dx2 = t_calloc(nx, sizeof *dx), *dw2 = t_calloc((size_t)c.c, sizeof *dw);

	/* rstd comes from the unperturbed forward, as in training */
	c.fwd(c.y, c.rstd, c.x, c.w, c.n, c.c, c.eps);
	bwd(dx, dw, c.r, c.x, c.w, c.rstd, c.n, c.c);
	double *rstd0 = c.rstd;
	c.rstd = t_calloc((size_t)c.n, sizeof *c.rstd);
	report(name_dx, t_fd_err(rms_loss, &c, c.x, nx, dx));
	report(name_dw, t_fd_err(rms_loss, &c, c.w, (size_t)c.c, dw));
	bwd(dx2, dw2, c.r, c.x, c.w, rstd0, c.n, c.c);
	bwd(dx2, dw2, c.r, c.x, c.w, rstd0, c.n, c.c);
	T_CHECK(t_doubled(dx2, dx, nx));
	T_CHECK(t_doubled(dw2, dw, (size_t)c.c));
	bwd(NULL, NULL, c.r, c.x, c.w, rstd0, c.n, c.c);
	free(c.x), free(c.w), free(c.r), free(c.y), free(c.rstd), free(rstd0);
	free(dx), free(dw), free(dx2), free(dw2);
}

T_TEST(rmsnorm_fd)
{
	rms_fd(0, 1e-6, "rmsnorm_bwd dx", "rmsnorm_bwd dw");
	rms_fd(1, 1e-6, "rmsnorm_bwd_ref dx", "rmsnorm_bwd_ref dw");
	/* a large eps makes its term visible in the gradient */
	rms_fd(0, 0.5, "rmsnorm_bwd dx (eps 0.5)", "rmsnorm_bwd dw (eps 0.5)");
}

/* ---- SiLU, SwiGLU ---- */

struct act_ctx {
	double *a, *b, *r, *y;
	size_t n;
	int glu;
};

static double
act_loss(void *p)
{
	struct act_ctx *c = p;
	if (c->glu)
		nlk_swiglu_fwd_f64(c->y, c->a, c->b, c->n);
	else
		nlk_silu_fwd_f64(c->y, c->a, c->n);
	return t_dot(c->r, c->y, c->n);
}

T_TEST(act_fd)
{
	struct act_ctx c = { .n = 12 };

	c.a = t_dvec(c.n, 6);	/* [−6, 6): both tails and the bend of σ */
	c.a[0] = 0;
	c.a[1] = -20;
	c.a[2] = 20;
	c.b = t_dvec(c.n, 1);
	c.r = t_dvec(c.n, 1);
	c.y = t_calloc(c.n, sizeof *c.y);
	double *da = t_calloc(c.n, sizeof *da), *db = t_calloc(c.n, sizeof *db);
	double *da2 = t_calloc(c.n, sizeof *da), *db2 = t_calloc(c.n, sizeof *db);

	nlk_silu_bwd_f64(da, c.r, c.a, c.n);
	report("silu_bwd dx", t_fd_err(act_loss, &c, c.a, c.n, da));
	nlk_silu_bwd_f64(da2, c.r, c.a, c.n);
	nlk_silu_bwd_f64(da2, c.r, c.a, c.n);
	T_CHECK(t_doubled(da2, da, c.n));
	nlk_silu_bwd_f64(NULL, c.r, c.a, c.n);

	c.glu = 1;
	memset(da, 0, c.n * sizeof *da);
	memset(da2, 0, c.n * sizeof *da);
	nlk_swiglu_bwd_f64(da, db, c.r, c.a, c.b, c.n);
	report("swiglu_bwd da", t_fd_err(act_loss, &c, c.a, c.n, da));
	report("swiglu_bwd db", t_fd_err(act_loss, &c, c.b, c.n, db));
	nlk_swiglu_bwd_f64(da2, db2, c.r, c.a, c.b, c.n);
	nlk_swiglu_bwd_f64(da2, db2, c.r, c.a, c.b, c.n);
	T_CHECK(t_doubled(da2, da, c.n));
	T_CHECK(t_doubled(db2, db, c.n));
	nlk_swiglu_bwd_f64(NULL, NULL, c.r, c.a, c.b, c.n);
	free(c.a), free(c.b), free(c.r), free(c.y), free(da), free(db), free(da2), free(db2);
}

/* ---- softmax cross-entropy ---- */

struct xent_ctx {
	double *logits, *probs, *losses;
	const int32_t *targets;
	int n, v;
	double scale;
};

static double
xent_loss(void *p)
{
	struct xent_ctx *c = p;
	return c->scale * nlk_xent_fwd_f64(c->losses, c->probs, c->logits, c->targets, c->n, c->v);
}

T_TEST(xent_fd)
{
	/* row 2 is not scored */
	static const int32_t targets[] = { 3, 0, -1, 6 };
	struct xent_ctx c = { .targets = targets, .n = 4, .v = 7, .scale = 0.7 };
	size_t nl = (size_t)c.n * c.v;

	c.logits = t_dvec(nl, 3);
	c.probs = t_calloc(nl, sizeof *c.probs);
	c.losses = t_calloc((size_t)c.n, sizeof *c.losses);
	double *d = t_calloc(nl, sizeof *d), *d2 = t_calloc(nl, sizeof *d);

	xent_loss(&c);
	nlk_xent_bwd_f64(d, c.probs, targets, c.n, c.v, c.scale);
	report("xent_bwd dlogits", t_fd_err(xent_loss, &c, c.logits, nl, d));
	xent_loss(&c);
	nlk_xent_bwd_f64(d2, c.probs, targets, c.n, c.v, c.scale);
	nlk_xent_bwd_f64(d2, c.probs, targets, c.n, c.v, c.scale);
	T_CHECK(t_doubled(d2, d, nl));
	nlk_xent_bwd_f64(NULL, c.probs, targets, c.n, c.v, c.scale);
	free(c.logits), free(c.probs), free(c.losses), free(d), free(d2);
}

/* ---- fast against reference, float ---- */

static const int shapes[][3] = {	/* n, in, out */
	{ 1, 1, 1 }, { 1, 7, 3 }, { 5, 1, 9 }, { 3, 5, 4 }, { 33, 65, 17 }, { 17, 33, 65 },
	{ 128, 256, 192 },
};
#define NSHAPES (sizeof shapes / sizeof shapes[0])

T_TEST(matmul_fast_vs_ref)
{
	double ey = 0, edx = 0, edw = 0;

	for (size_t s = 0; s < NSHAPES; s++) {
		int n = shapes[s][0], in = shapes[s][1], out = shapes[s][2];
		size_t nx = (size_t)n * in, nw = (size_t)out * in, ny = (size_t)n * out;
		float *x = t_fvec(nx, 1), *w = t_fvec(nw, 1), *dy = t_fvec(ny, 1);
		/* y starts as garbage the forward must overwrite; dx, dw start nonzero because
		 * the backward accumulates */
		float *y0 = t_fvec(ny, 1), *y1 = fcopy(y0, ny);
		float *dx0 = t_fvec(nx, 1), *dx1 = fcopy(dx0, nx);
		float *dw0 = t_fvec(nw, 1), *dw1 = fcopy(dw0, nw);

		nlk_matmul_fwd_ref(y0, x, w, n, in, out);
		nlk_matmul_fwd(y1, x, w, n, in, out);
		nlk_matmul_bwd_ref(dx0, dw0, dy, x, w, n, in, out);
		nlk_matmul_bwd(dx1, dw1, dy, x, w, n, in, out);
		T_NMSE(y1, y0, ny, NMSE_TOL);
		T_NMSE(dx1, dx0, nx, NMSE_TOL);
		T_NMSE(dw1, dw0, nw, NMSE_TOL);
		worst(&ey, fnmse(y1, y0, ny));
		worst(&edx, fnmse(dx1, dx0, nx));
		worst(&edw, fnmse(dw1, dw0, nw));
		free(x), free(w), free(dy), free(y0), free(y1), free(dx0), free(dx1), free(dw0);
		free(dw1);
	}
	printf("# worst nmse matmul: y %.3g, dx %.3g, dw %.3g\n", ey, edx, edw);
}

/* The row-invariant product: the reference's result up to summation order, and each row
 * bit for bit the same whether computed alone, in a group, or at any place of a batch. */
T_TEST(matmul_rows)
{
	double ey = 0;
	for (size_t s = 0; s < NSHAPES; s++) {
		int n = shapes[s][0], in = shapes[s][1], out = shapes[s][2];
		size_t ny = (size_t)n * out;
		float *x = t_fvec((size_t)n * in, 1), *w = t_fvec((size_t)out * in, 1);
		float *y0 = t_fvec(ny, 1), *y1 = t_fvec(ny, 1), *yr = t_fvec((size_t)out, 1);
		nlk_matmul_fwd_ref(y0, x, w, n, in, out);
		nlk_matmul_rows_fwd(y1, x, w, n, in, out);
		T_NMSE(y1, y0, ny, NMSE_TOL);
		worst(&ey, fnmse(y1, y0, ny));
		int same = 1;
		for (int i = 0; i < n; i++) {
			nlk_matmul_rows_fwd(yr, x + (size_t)i * in, w, 1, in, out);
			same &= memcmp(yr, y1 + (size_t)i * out, (size_t)out * sizeof *yr) == 0;
			if (i + 3 <= n) {       /* rows i.. as the first of a group of three */
				float *y3 = t_fvec((size_t)3 * out, 1);
				nlk_matmul_rows_fwd(y3, x + (size_t)i * in, w, 3, in, out);
				same &= memcmp(y3, y1 + (size_t)i * out, (size_t)3 * out * sizeof *y3) == 0;
				free(y3);
			}
		}
		T_CHECK_MSG(same, "shape %d %d %d: a row's result depends on its batch", n, in, out);
		free(x), free(w), free(y0), free(y1), free(yr);
	}
	printf("# worst nmse matmul_rows: %.3g\n", ey);
}

T_TEST(rmsnorm_fast_vs_ref)
{
	double ey = 0, er = 0, edx = 0, edw = 0;

	for (size_t s = 0; s < NSHAPES; s++) {
		int n = shapes[s][0], c = shapes[s][1];
		size_t nx = (size_t)n * c;
		float *x = t_fvec(nx, 2), *w = t_fvec((size_t)c, 1), *dy = t_fvec(nx, 1);
		float *y0 = t_calloc(nx, sizeof *y0), *y1 = t_calloc(nx, sizeof *y1);
		float *r0 = t_calloc((size_t)n, sizeof *r0), *r1 = t_calloc((size_t)n, sizeof *r1);
		float *dx0 = t_fvec(nx, 1), *dx1 = fcopy(dx0, nx);
		float *dw0 = t_fvec((size_t)c, 1), *dw1 = fcopy(dw0, (size_t)c);

		nlk_rmsnorm_fwd_ref(y0, r0, x, w, n, c, 1e-6f);
		nlk_rmsnorm_fwd(y1, r1, x, w, n, c, 1e-6f);
		nlk_rmsnorm_bwd_ref(dx0, dw0, dy, x, w, r0, n, c);
		nlk_rmsnorm_bwd(dx1, dw1, dy, x, w, r0, n, c);
		T_NMSE(y1, y0, nx, NMSE_TOL);
		T_NMSE(r1, r0, (size_t)n, NMSE_TOL);
		T_NMSE(dx1, dx0, nx, NMSE_TOL);
		T_NMSE(dw1, dw0, (size_t)c, NMSE_TOL);
		worst(&ey, fnmse(y1, y0, nx));
		worst(&er, fnmse(r1, r0, (size_t)n));
		worst(&edx, fnmse(dx1, dx0, nx));
		worst(&edw, fnmse(dw1, dw0, (size_t)c));
		free(x), free(w), free(dy), free(y0), free(y1), free(r0), free(r1), free(dx0);
		free(dx1), free(dw0), free(dw1);
	}
	printf("# worst nmse rmsnorm: y %.3g, rstd %.3g, dx %.3g, dw %.3g\n", ey, er, edx, edw);
}

T_TEST(adamw_fast_vs_ref)
{
	size_t n = 1001;
	float *p0 = t_fvec(n, 1), *p1 = fcopy(p0, n);
	float *m0 = t_calloc(n, sizeof *m0), *m1 = t_calloc(n, sizeof *m1);
	float *v0 = t_calloc(n, sizeof *v0), *v1 = t_calloc(n, sizeof *v1);

	for (int t = 1; t <= 5; t++) {
		float *g = t_fvec(n, 0.1);
		g[t] = 0;	/* a zero gradient: m̂ = 0 on the first step, no 0/0 */
		nlk_adamw_step_ref(p0, m0, v0, g, n, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.1f, t);
		nlk_adamw_step(p1, m1, v1, g, n, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.1f, t);
		free(g);
	}
	T_NMSE(p1, p0, n, NMSE_TOL);
	T_NMSE(m1, m0, n, NMSE_TOL);
	T_NMSE(v1, v0, n, NMSE_TOL);
	printf("# nmse adamw: p %.3g, m %.3g, v %.3g\n", fnmse(p1, p0, n), fnmse(m1, m0, n),
	    fnmse(v1, v0, n));
	for (size_t i = 0; i < n; i++)
		T_CHECK(isfinite(p1[i]));
	free(p0), free(p1), free(m0), free(m1), free(v0), free(v1);
}

/* ---- known values ---- */

T_TEST(rmsnorm_known)
{
	/* a constant row k normalises to k / sqrt(k² + eps), times w */
	double x[] = { 3, 3, 3, 3, -0.5, -0.5, -0.5, -0.5 }, w[] = { 1, 2, -1, 0.25 };
	double y[8], rstd[2];

	nlk_rmsnorm_fwd_f64(y, rstd, x, w, 2, 4, 1e-6);
	T_NEAR(rstd[0], 1 / sqrt(9 + 1e-6), 1e-15);
	T_NEAR(rstd[1], 1 / sqrt(0.25 + 1e-6), 1e-14);
	for (int j = 0; j < 4; j++) {
		T_NEAR(y[j], 3 / sqrt(9 + 1e-6) * w[j], 1e-14);
		T_NEAR(y[4 + j], -0.5 / sqrt(0.25 + 1e-6) * w[j], 1e-14);
	}
	/* scaling the row leaves y unchanged (up to eps) */
	float xf[5] = { 1, -2, 3, -4, 5 }, xs[5], wf[5] = { 1, 1, 1, 1, 1 }, y0[5], y1[5], r;
	for (int j = 0; j < 5; j++)
		xs[j] = 1000 * xf[j];
	nlk_rmsnorm_fwd(y0, &r, xf, wf, 1, 5, 1e-6f);
	nlk_rmsnorm_fwd(y1, &r, xs, wf, 1, 5, 1e-6f);
	T_NMSE(y1, y0, 5, 1e-12);
}

T_TEST(xent_known)
{
	/* uniform logits: p = 1/V, loss = log V; the row with target −1 adds nothing */
	enum { N = 3, V = 7 };
	float logits[N * V], probs[N * V], losses[N], d[N * V] = { 0 };
	int32_t targets[N] = { 2, -1, 6 };

	for (int i = 0; i < N * V; i++)
		logits[i] = 4.25f;
	double sum = nlk_xent_fwd(losses, probs, logits, targets, N, V);
	T_NEAR(sum, 2 * log(V), 1e-6);
	T_NEAR(losses[0], log(V), 1e-6);
	T_NEAR(losses[1], 0, 0);
	for (int i = 0; i < N * V; i++)
		T_NEAR(probs[i], 1.0 / V, 1e-7);
	nlk_xent_bwd(d, probs, targets, N, V, 1);
	for (int j = 0; j < V; j++)
		T_NEAR(d[V + j], 0, 0);
	T_NEAR(d[2], 1.0 / V - 1, 1e-7);
	/* every scored row of the gradient sums to 0 */
	double s = 0;
	for (int j = 0; j < V; j++)
		s += d[2 * V + j];
	T_NEAR(s, 0, 1e-6);

	/* huge logits neither overflow nor give a NaN; a confidently wrong row costs the gap */
	float big[2] = { 1e30f, 0 }, pb[2], lb;
	int32_t tb = 1;
	double lsum = nlk_xent_fwd(&lb, pb, big, &tb, 1, 2);
	T_CHECK(isfinite(lsum) && lsum > 1e29);
	T_CHECK(pb[0] == 1 && pb[1] == 0);
	float mid[2] = { 200, 0 };
	lsum = nlk_xent_fwd(&lb, pb, mid, &tb, 1, 2);
	T_NEAR(lsum, 200, 1e-4);
}

T_TEST(silu_known)
{
	float x[5] = { 0, 100, -100, 1e30f, -1e30f }, y[5], dx[5] = { 0 };
	float one[5] = { 1, 1, 1, 1, 1 };

	nlk_silu_fwd(y, x, 5);
	T_NEAR(y[0], 0, 0);
	T_NEAR(y[1], 100, 0);
	T_NEAR(y[2], 0, 1e-30);
	T_CHECK(y[3] == 1e30f);
	T_CHECK(y[4] == 0);
	nlk_silu_bwd(dx, one, x, 5);
	T_NEAR(dx[0], 0.5, 0);	/* σ(0) (1 + 0) */
	T_NEAR(dx[1], 1, 1e-6);
	T_NEAR(dx[2], 0, 1e-30);
	for (int i = 0; i < 5; i++)
		T_CHECK(isfinite(y[i]) && isfinite(dx[i]));
	/* SwiGLU with b = 1 is SiLU */
	float ys[5];
	nlk_swiglu_fwd(ys, x, one, 3);
	T_CHECK(memcmp(ys, y, 3 * sizeof *y) == 0);
	/* y may alias x */
	double d[3] = { -1, 0, 2 };
	nlk_silu_fwd_f64(d, d, 3);
	T_NEAR(d[0], -1 / (1 + exp(1)), 1e-16);
	T_NEAR(d[2], 2 / (1 + exp(-2)), 1e-15);
}

T_TEST(adamw_known)
{
	/* first step: m̂ = g, v̂ = g², so p moves by lr (g / (|g| + eps) + wd p) ≈ lr (sign g + wd p) */
	enum { N = 6 };
	double p[N] = { 1, -2, 0.5, 0, 3, -1 }, g[N] = { 0.3, -0.01, 2, -5, 1e-3, 0 };
	double p0[N], m[N] = { 0 }, v[N] = { 0 }, lr = 1e-2, wd = 0.1;

	memcpy(p0, p, sizeof p);
	nlk_adamw_step_f64(p, m, v, g, N, lr, 0.9, 0.999, 1e-8, wd, 1);
	for (int i = 0; i < N; i++) {
		double sg = g[i] > 0 ? 1 : g[i] < 0 ? -1 : 0;
		/* |g| / (|g| + eps) differs from 1 by ≤ eps / |g| = 1e-5 for the smallest g */
		T_NEAR(p[i], p0[i] - lr * (sg + wd * p0[i]), lr * 1e-5);
		T_NEAR(m[i], 0.1 * g[i], 1e-15);
		T_NEAR(v[i], 0.001 * g[i] * g[i], 1e-15);
	}
	/* with g = 0 and wd = 0 nothing moves */
	double q = 1.5, mq = 0, vq = 0, gq = 0;
	nlk_adamw_step_f64(&q, &mq, &vq, &gq, 1, lr, 0.9, 0.999, 1e-8, 0, 1);
	T_NEAR(q, 1.5, 0);
}

int
main(void)
{
	T_RUN(matmul_fd);
	T_RUN(embed_fd);
	T_RUN(rmsnorm_fd);
	T_RUN(act_fd);
	T_RUN(xent_fd);
	T_RUN(matmul_fast_vs_ref);
	T_RUN(matmul_rows);
	T_RUN(rmsnorm_fast_vs_ref);
	T_RUN(adamw_fast_vs_ref);
	T_RUN(rmsnorm_known);
	T_RUN(xent_known);
	T_RUN(silu_known);
	T_RUN(adamw_known);
	return t_done();
}
