/* nl — see LICENSE. Tests of the memory kernels (kernels/memory.c): the read, the inner
 * gradient, the step rules and the sequential write, each backward against central finite
 * differences in double, composed exactly as a chunk write is (so the second-order terms of
 * meta_grad = full are checked), the truncation of meta_grad = first, the proximal step
 * against an explicit solve, and float against double. */
#include <stdint.h>

#include "kernels.h"
#include "t.h"
#include "t_num.h"

static void
report(const char *what, double err)
{
	printf("# fd %-34s %.3g\n", what, err);
	T_CHECK_MSG(err <= T_FD_TOL, "%s: fd error %.3g", what, err);
}

/* ---- read ---- */

struct read_ctx {
	int n, din, hid, dout, resid;
	double *z, *w1, *w2, *r, *y, *hp, *ac;
};

static double
read_loss(void *p)
{
	struct read_ctx *c = p;
	nlk_mem_read_fwd_f64(c->y, c->hp, c->ac, c->z, c->w1, c->w2, c->n, c->din, c->hid,
	    c->dout, c->resid);
	return t_dot(c->y, c->r, (size_t)c->n * c->dout);
}

T_TEST(read_backward)
{
	for (int resid = 0; resid < 2; resid++) {
		struct read_ctx c = { 5, 4, 6, resid ? 4 : 1, resid, 0, 0, 0, 0, 0, 0, 0 };
		c.z = t_dvec((size_t)c.n * c.din, 1);
		c.w1 = t_dvec((size_t)c.dout * c.hid, 0.7);
		c.w2 = t_dvec((size_t)c.hid * c.din, 0.7);
		c.r = t_dvec((size_t)c.n * c.dout, 1);
		c.y = t_dvec((size_t)c.n * c.dout, 0);
		c.hp = t_dvec((size_t)c.n * c.hid, 0);
		c.ac = t_dvec((size_t)c.n * c.hid, 0);
		double *dz = t_dvec((size_t)c.n * c.din, 0), *dw1 = t_dvec((size_t)c.dout * c.hid, 0);
		double *dw2 = t_dvec((size_t)c.hid * c.din, 0), scratch[6];
		read_loss(&c);
		nlk_mem_read_bwd_f64(dz, dw1, dw2, c.r, c.z, c.hp, c.ac, c.w1, c.w2, c.n, c.din,
		    c.hid, c.dout, c.resid, scratch);
		report(resid ? "read dz (residual)" : "read dz (scalar out)",
		    t_fd_err(read_loss, &c, c.z, (size_t)c.n * c.din, dz));
		report("read dw1", t_fd_err(read_loss, &c, c.w1, (size_t)c.dout * c.hid, dw1));
		report("read dw2", t_fd_err(read_loss, &c, c.w2, (size_t)c.hid * c.din, dw2));
		free(dz), free(dw1), free(dw2);
		free(c.z), free(c.w1), free(c.w2), free(c.r), free(c.y), free(c.hp), free(c.ac);
	}
}

/* ---- a whole chunk write: read k at the chunk start, inner gradient, step, write ---- */

struct chunk {
	int n, din, hid, dout, resid, rule, ema, proj;
	/* inputs */
	double *w1, *w2, *s1, *s2;     /* chunk-start states (running) */
	double *f1, *f2;               /* the weights the inner gradient sees (= w1, w2 in full) */
	double *k, *vhat, *eta, *al, *be;
	/* loss weights on the chunk-end states */
	double *r1, *r2, *q1, *q2;
	/* work */
	double *y, *hp, *ac, *e, *dl, *cv, *g, *o1, *o2, *o3, *o4, *scr;
	int tied;                      /* f1, f2 alias w1, w2 (full) */
};

static double
chunk_loss(void *p)
{
	struct chunk *c = p;
	const int n = c->n;
	const size_t m1 = (size_t)c->dout * c->hid, m2 = (size_t)c->hid * c->din;
	nlk_mem_read_fwd_f64(c->y, c->hp, c->ac, c->k, c->f1, c->f2, n, c->din, c->hid, c->dout,
	    c->resid);
	nlk_mem_igrad_fwd_f64(c->e, c->dl, c->cv, c->y, c->vhat, c->k, c->hp, c->ac, c->f1, n,
	    c->din, c->hid, c->dout);
	nlk_mem_step_fwd_f64(c->g, c->eta, c->cv, c->be, n, c->rule, c->ema);
	memcpy(c->o1, c->w1, m1 * sizeof(double));
	memcpy(c->o2, c->w2, m2 * sizeof(double));
	memcpy(c->o3, c->s1, m1 * sizeof(double));
	memcpy(c->o4, c->s2, m2 * sizeof(double));
	nlk_mem_write_fwd_f64(c->o1, c->o2, c->o3, c->o4, c->k, c->e, c->ac, c->dl, c->g,
	    c->proj ? c->eta : NULL, c->al, c->be, n, c->din, c->hid, c->dout, c->scr);
	return t_dot(c->o1, c->r1, m1) + t_dot(c->o2, c->r2, m2) + t_dot(c->o3, c->q1, m1)
	    + t_dot(c->o4, c->q2, m2);
}

static void
chunk_make(struct chunk *c, int n, int din, int hid, int dout, int tied)
{
	const size_t m1 = (size_t)dout * hid, m2 = (size_t)hid * din;
	c->n = n, c->din = din, c->hid = hid, c->dout = dout, c->resid = dout == din;
	c->w1 = t_dvec(m1, 0.5), c->w2 = t_dvec(m2, 0.6);
	c->s1 = t_dvec(m1, 0.1), c->s2 = t_dvec(m2, 0.1);
	c->tied = tied;
	c->f1 = tied ? c->w1 : t_dvec(m1, 0.5);
	c->f2 = tied ? c->w2 : t_dvec(m2, 0.6);
	c->k = t_dvec((size_t)n * din, 0.6), c->vhat = t_dvec((size_t)n * dout, 1);
	c->eta = t_dvec(n, 0), c->al = t_dvec(n, 0), c->be = t_dvec(n, 0);
	for (int t = 0; t < n; t++) {
		c->eta[t] = 0.3 + 0.2 * t_uniform();
		c->al[t] = 0.9 + 0.05 * t_uniform();
		c->be[t] = 0.6 + 0.2 * t_uniform();
	}
	c->r1 = t_dvec(m1, 1), c->r2 = t_dvec(m2, 1), c->q1 = t_dvec(m1, 1), c->q2 = t_dvec(m2, 1);
	c->y = t_dvec((size_t)n * dout, 0), c->hp = t_dvec((size_t)n * hid, 0);
	c->ac = t_dvec((size_t)n * hid, 0), c->e = t_dvec((size_t)n * dout, 0);
	c->dl = t_dvec((size_t)n * hid, 0), c->cv = t_dvec(n, 0), c->g = t_dvec(n, 0);
	c->o1 = t_dvec(m1, 0), c->o2 = t_dvec(m2, 0), c->o3 = t_dvec(m1, 0), c->o4 = t_dvec(m2, 0);
	c->scr = t_dvec(nlk_mem_write_scratch_f64(n, din, hid, dout) + 5 * hid + dout, 0);
}

static void
chunk_free(struct chunk *c)
{
	double *all[] = { c->w1, c->w2, c->s1, c->s2, c->k, c->vhat, c->eta, c->al, c->be,
	    c->r1, c->r2, c->q1, c->q2, c->y, c->hp, c->ac, c->e, c->dl, c->cv, c->g, c->o1,
	    c->o2, c->o3, c->o4, c->scr };
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		free(all[i]);
	if (!c->tied)
		free(c->f1), free(c->f2);
}

/* Analytic gradients of chunk_loss: write_bwd, then step_bwd, then igrad_bwd (which adds
 * the second-order terms into dw1/dw2 when the inner gradient sees the running weights). */
struct chunk_grads {
	double *dw1, *dw2, *ds1, *ds2, *dk, *dvhat, *deta, *dal, *dbe;
};

static void
chunk_backward(struct chunk *c, struct chunk_grads *d)
{
	const int n = c->n;
	const size_t m1 = (size_t)c->dout * c->hid, m2 = (size_t)c->hid * c->din;
	double *de = t_dvec((size_t)n * c->dout, 0), *dac = t_dvec((size_t)n * c->hid, 0);
	double *ddl = t_dvec((size_t)n * c->hid, 0), *dg = t_dvec(n, 0), *dp = t_dvec(n, 0);
	double *dcv = t_dvec(n, 0);
	d->dw1 = t_dvec(m1, 0), d->dw2 = t_dvec(m2, 0), d->ds1 = t_dvec(m1, 0);
	d->ds2 = t_dvec(m2, 0), d->dk = t_dvec((size_t)n * c->din, 0);
	d->dvhat = t_dvec((size_t)n * c->dout, 0), d->deta = t_dvec(n, 0), d->dal = t_dvec(n, 0);
	d->dbe = t_dvec(n, 0);
	chunk_loss(c);
	memcpy(d->dw1, c->r1, m1 * sizeof(double));
	memcpy(d->dw2, c->r2, m2 * sizeof(double));
	memcpy(d->ds1, c->q1, m1 * sizeof(double));
	memcpy(d->ds2, c->q2, m2 * sizeof(double));
	nlk_mem_write_bwd_f64(d->dw1, d->dw2, d->ds1, d->ds2, d->dk, de, dac, ddl, dg,
	    c->proj ? dp : NULL, d->dal, d->dbe, c->w1, c->w2, c->s1, c->s2, c->k, c->e, c->ac,
	    c->dl, c->g, c->proj ? c->eta : NULL, c->al, c->be, n, c->din, c->hid, c->dout,
	    c->scr);
	for (int t = 0; t < n; t++)
		d->deta[t] += dp[t];
	nlk_mem_step_bwd_f64(d->deta, dcv, d->dbe, dg, c->eta, c->cv, c->be, n, c->rule, c->ema);
	nlk_mem_igrad_bwd_f64(d->dk, d->dvhat, c->tied ? d->dw1 : NULL, c->tied ? d->dw2 : NULL,
	    de, dac, ddl, dcv, c->k, c->e, c->hp, c->ac, c->f1, c->f2, n, c->din, c->hid, c->dout,
	    c->resid, c->scr);
	free(de), free(dac), free(ddl), free(dg), free(dp), free(dcv);
}

static void
grads_free(struct chunk_grads *d)
{
	free(d->dw1), free(d->dw2), free(d->ds1), free(d->ds2), free(d->dk), free(d->dvhat);
	free(d->deta), free(d->dal), free(d->dbe);
}

static const char *rule_names[] = { "literal", "prox", "prox-chunk", "mean" };

/* Every input of a chunk write, every rule, with and without ema and the projector, for a
 * residual d→d memory and a scalar-output one. tied = 0 is meta_grad = first: the inner
 * gradient sees a frozen copy, so the finite differences of the running weights are the
 * truncated objective's. */
static void
check_chunk(int tied)
{
	double worst[10] = { 0 };
	const char *names[10] = { "w1", "w2", "s1", "s2", "k", "vhat", "eta", "alpha", "beta" };
	for (int shape = 0; shape < 2; shape++)
		for (int rule = 0; rule < 4; rule++)
			for (int variant = 0; variant < 4; variant++) {
				struct chunk c;
				chunk_make(&c, 5, 4, 4, shape ? 1 : 4, tied);
				c.rule = rule, c.ema = variant & 1, c.proj = variant >> 1;
				struct chunk_grads d;
				chunk_backward(&c, &d);
				const size_t m1 = (size_t)c.dout * c.hid, m2 = (size_t)c.hid * c.din;
				double *in[] = { c.w1, c.w2, c.s1, c.s2, c.k, c.vhat, c.eta, c.al, c.be };
				double *gr[] = { d.dw1, d.dw2, d.ds1, d.ds2, d.dk, d.dvhat, d.deta, d.dal,
				    d.dbe };
				size_t len[] = { m1, m2, m1, m2, (size_t)c.n * c.din,
				    (size_t)c.n * c.dout, c.n, c.n, c.n };
				for (int i = 0; i < 9; i++) {
					double e = t_fd_err(chunk_loss, &c, in[i], len[i], gr[i]);
					if (e > worst[i])
						worst[i] = e;
					T_CHECK_MSG(e <= T_FD_TOL, "%s rule %s ema %d proj %d dout %d: %.3g",
					    names[i], rule_names[rule], c.ema, c.proj, c.dout, e);
				}
				grads_free(&d);
				chunk_free(&c);
			}
	for (int i = 0; i < 9; i++) {
		char what[64];
		snprintf(what, sizeof what, "chunk write d%s (%s)", names[i],
		    tied ? "full" : "first");
		report(what, worst[i]);
	}
}

T_TEST(chunk_write_full)
{
	check_chunk(1);
}

T_TEST(chunk_write_first)
{
	check_chunk(0);
}

/* With W1 = 0 at the chunk start, one token, β = 0, α = 1 and no projector, the prox rule's
 * write of W1 is the exact proximal step of the token's inner loss in W1,
 *	argmin_W ½‖k + W a − v̂‖² + 1/(2η)‖W‖²  =  (v̂ − k) aᵀ (a aᵀ + I/η)⁻¹,
 * solved here by Gaussian elimination (the DGD identity of MODEL §8 test 1). */
T_TEST(prox_is_the_proximal_solve)
{
	enum { D = 4 };
	struct chunk c;
	chunk_make(&c, 1, D, D, D, 1);
	memset(c.w1, 0, sizeof(double) * D * D);
	memset(c.s1, 0, sizeof(double) * D * D);
	memset(c.s2, 0, sizeof(double) * D * D);
	c.eta[0] = 0.7, c.al[0] = 1, c.be[0] = 0;
	c.rule = NLK_STEP_PROX, c.ema = 0, c.proj = 0;
	chunk_loss(&c);
	/* X (a aᵀ + I/η) = (v̂ − k) aᵀ, row by row: (a aᵀ + I/η) is symmetric */
	double m[D][D + 1], worst = 0;
	for (int row = 0; row < D; row++) {
		for (int i = 0; i < D; i++) {
			for (int j = 0; j < D; j++)
				m[i][j] = c.ac[i] * c.ac[j] + (i == j ? 1 / c.eta[0] : 0);
			m[i][D] = (c.vhat[row] - c.k[row]) * c.ac[i];
		}
		for (int p = 0; p < D; p++)
			for (int i = p + 1; i < D; i++) {
				double f = m[i][p] / m[p][p];
				for (int j = p; j <= D; j++)
					m[i][j] -= f * m[p][j];
			}
		double x[D];
		for (int i = D - 1; i >= 0; i--) {
			x[i] = m[i][D];
			for (int j = i + 1; j < D; j++)
				x[i] -= m[i][j] * x[j];
			x[i] /= m[i][i];
		}
		for (int j = 0; j < D; j++)
			worst = fmax(worst, fabs(c.o1[row * D + j] - x[j]));
	}
	printf("# prox step vs explicit proximal solve: max |diff| %.3g\n", worst);
	T_CHECK(worst < 1e-14);
	chunk_free(&c);
}

/* With momentum off (β = 0), α = 1, p = η and one token, the write of W2 is the DGD update
 * W2 (I − η k kᵀ) − γ δ kᵀ (MODEL eq. 88 for the input-side matrix, D4). */
T_TEST(write_is_dgd)
{
	enum { D = 4 };
	struct chunk c;
	chunk_make(&c, 1, D, D, D, 1);
	memset(c.s1, 0, sizeof(double) * D * D);
	memset(c.s2, 0, sizeof(double) * D * D);
	c.al[0] = 1, c.be[0] = 0;
	c.rule = NLK_STEP_LITERAL, c.ema = 0, c.proj = 1;
	chunk_loss(&c);
	double worst = 0, eta = c.eta[0];
	for (int j = 0; j < D; j++) {
		double u = t_dot(c.w2 + j * D, c.k, D);
		for (int i = 0; i < D; i++) {
			double want = c.w2[j * D + i] - eta * u * c.k[i] - eta * c.dl[j] * c.k[i];
			worst = fmax(worst, fabs(c.o2[j * D + i] - want));
		}
	}
	printf("# write vs DGD formula: max |diff| %.3g\n", worst);
	T_CHECK(worst < 1e-15);
	chunk_free(&c);
}

/* The float build against the double build on one chunk write (all rules): same code, so
 * only rounding separates them. */
T_TEST(float_matches_double)
{
	enum { N = 8, D = 16 };
	const size_t m = (size_t)D * D;
	double worst = 0;
	for (int rule = 0; rule < 4; rule++) {
		struct chunk c;
		chunk_make(&c, N, D, D, D, 1);
		c.rule = rule, c.ema = 1, c.proj = 1;
		chunk_loss(&c);
		float *w1 = t_calloc(m, 4), *w2 = t_calloc(m, 4), *s1 = t_calloc(m, 4);
		float *s2 = t_calloc(m, 4), *f1 = t_calloc(m, 4), *f2 = t_calloc(m, 4);
		float *k = t_calloc(N * D, 4), *v = t_calloc(N * D, 4), *y = t_calloc(N * D, 4);
		float *hp = t_calloc(N * D, 4), *ac = t_calloc(N * D, 4), *e = t_calloc(N * D, 4);
		float *dl = t_calloc(N * D, 4), *cv = t_calloc(N, 4), *g = t_calloc(N, 4);
		float *eta = t_calloc(N, 4), *al = t_calloc(N, 4), *be = t_calloc(N, 4);
		float *scr = t_calloc(D, 4);
		for (size_t i = 0; i < m; i++) {
			w1[i] = f1[i] = (float)c.w1[i], w2[i] = f2[i] = (float)c.w2[i];
			s1[i] = (float)c.s1[i], s2[i] = (float)c.s2[i];
		}
		for (int i = 0; i < N * D; i++)
			k[i] = (float)c.k[i], v[i] = (float)c.vhat[i];
		for (int t = 0; t < N; t++)
			eta[t] = (float)c.eta[t], al[t] = (float)c.al[t], be[t] = (float)c.be[t];
		nlk_mem_read_fwd(y, hp, ac, k, f1, f2, N, D, D, D, 1);
		nlk_mem_igrad_fwd(e, dl, cv, y, v, k, hp, ac, f1, N, D, D, D);
		nlk_mem_step_fwd(g, eta, cv, be, N, rule, 1);
		nlk_mem_write_fwd(w1, w2, s1, s2, k, e, ac, dl, g, eta, al, be, N, D, D, D, scr);
		double num = 0, den = 0;
		for (size_t i = 0; i < m; i++) {
			num += (w1[i] - c.o1[i]) * (w1[i] - c.o1[i]) + (w2[i] - c.o2[i]) * (w2[i] - c.o2[i]);
			den += c.o1[i] * c.o1[i] + c.o2[i] * c.o2[i];
		}
		worst = fmax(worst, sqrt(num / den));
		void *all[] = { w1, w2, s1, s2, f1, f2, k, v, y, hp, ac, e, dl, cv, g, eta, al, be,
		    scr };
		for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
			free(all[i]);
		chunk_free(&c);
	}
	printf("# float vs double chunk write: relative error %.3g\n", worst);
	T_CHECK(worst < 1e-5);
}

int
main(void)
{
	t_run(read_backward, "read: backward against finite differences");
	t_run(chunk_write_full, "chunk write, full: every input against finite differences");
	t_run(chunk_write_first, "chunk write, first: the truncated objective's differences");
	t_run(prox_is_the_proximal_solve, "prox step equals the explicit proximal solve");
	t_run(write_is_dgd, "token write equals the DGD update of eq. 88");
	t_run(float_matches_double, "float build matches double");
	return t_done();
}
