/* nl — see LICENSE. The outer optimizers (MODEL §2.4, D12): every rule's first six steps on a
 * 2×3 matrix and a 3-vector against the independent numpy reference of tests/ref/gen_optim.py;
 * Newton–Schulz's output is orthogonal; DGD's closed form is the exact proximal step; M3's
 * slow momentum moves only at period ends and with α = 0 has no effect; delta momentum with
 * λ = 0 is momentum; the state exported and imported continues bit for bit; DMGD's gemm form
 * is its loops; a frozen parameter keeps its bytes and state under every rule. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "t.h"
#include "t_fixture.h"
#include "kernels.h"
#include "optim.h"
#include "transformer.h"

/* A layout of three tensors: weight-decayed 2×3 and 3×2 projections (matrices to muon and m3;
 * muon scales the tall one by √(3/2)) and a 3-vector norm weight. */
enum { N_OFF = 16, T_OFF = 32, TOTAL = 38 };

static void
toy_layout(struct nl_layout *lo)
{
	static struct nl_param p[3];
	memset(p, 0, sizeof p);
	snprintf(p[0].name, sizeof p[0].name, "layers.0.attn.w_o");
	p[0].rank = 2, p[0].dims[0] = 2, p[0].dims[1] = 3, p[0].numel = 6, p[0].decay = 1;
	snprintf(p[1].name, sizeof p[1].name, "layers.0.attn.norm.weight");
	p[1].rank = 1, p[1].dims[0] = 3, p[1].numel = 3, p[1].offset = N_OFF;
	snprintf(p[2].name, sizeof p[2].name, "layers.0.mlp.w_down");
	p[2].rank = 2, p[2].dims[0] = 3, p[2].dims[1] = 2, p[2].numel = 6, p[2].offset = T_OFF;
	p[2].decay = 1;
	lo->n = lo->cap = 3, lo->p = p, lo->total = TOTAL;
}

static double
hp(const struct nl_tset *ts, const char *key)
{
	char name[32];
	snprintf(name, sizeof name, "hp.%s", key);
	const double *v = f64(ts, name, 1);
	return v ? *v : NAN;
}

/* The fixture's hyperparameters, and optimizer name (a "-adam" suffix: delta.precond adam). */
static void
toy_config(struct nl_config *c, const struct nl_tset *ts, const char *name)
{
	nl_config_init(c);
	snprintf(c->optim, sizeof c->optim, "%s", name);
	char *adam = strstr(c->optim, "-adam");
	if (adam) {
		*adam = '\0';
		snprintf(c->delta_precond, sizeof c->delta_precond, "adam");
	}
	c->optim_weight_decay = hp(ts, "wd"), c->optim_momentum = hp(ts, "mu");
	c->optim_beta1 = hp(ts, "beta1"), c->optim_beta2 = hp(ts, "beta2"), c->optim_eps = hp(ts, "eps");
	c->optim_ns_steps = (int64_t)hp(ts, "ns_steps"), c->m3_period = (int64_t)hp(ts, "period");
	c->m3_beta3 = hp(ts, "beta3"), c->m3_alpha = hp(ts, "alpha3");
	c->delta_lambda = hp(ts, "lam"), c->dmgd_hidden = (int64_t)hp(ts, "hidden");
}

T_TEST(first_steps_match_the_reference)
{
	static const char *const names[] = { "sgd", "momentum", "adamw", "muon", "m3", "m3-ema",
		"delta-momentum", "delta-momentum-adam", "dmgd" };
	struct nl_tset ts;
	struct nl_layout lo;
	if (load("tests/ref/optim/expected.npz", &ts)) {
		T_CHECK(0);
		return;
	}
	toy_layout(&lo);
	const double *w0 = f64(&ts, "w0", 6), *n0 = f64(&ts, "n0", 3);
	const double *gw = f64(&ts, "g.w", 36), *gn = f64(&ts, "g.n", 18);
	const double *wa_w = f64(&ts, "dmgd.wa.w", 6), *wa_n = f64(&ts, "dmgd.wa.n", 6);
	const double *t0 = f64(&ts, "t0", 6), *gt = f64(&ts, "g.t", 36);
	const double *wa_t = f64(&ts, "dmgd.wa.t", 4);
	const int have = w0 && n0 && gw && gn && wa_w && wa_n && t0 && gt && wa_t;
	T_CHECK(have);
	for (size_t k = 0; have && k < sizeof names / sizeof *names; k++) {
		char key[64];
		snprintf(key, sizeof key, "%s.w", names[k]);
		const double *ew = f64(&ts, key, 36);
		snprintf(key, sizeof key, "%s.n", names[k]);
		const double *en = f64(&ts, key, 18);
		snprintf(key, sizeof key, "%s.t", names[k]);
		const double *et = f64(&ts, key, 36);
		struct nl_config c;
		struct nl_optim o;
		struct nl_err err = { 0 };
		toy_config(&c, &ts, names[k]);
		if (ew == NULL || en == NULL || et == NULL || nl_optim_init(&o, &c, &lo, 1, &err)) {
			printf("# %s: %s\n", names[k], err.msg);
			T_CHECK(0);
			continue;
		}
		if (o.extra) {   /* the reference's W_a (hidden 2 × cols) */
			for (int e = 0; e < 6; e++) {
				o.extra[o.extra_off[0] + e] = (float)wa_w[e];
				o.extra[o.extra_off[1] + e] = (float)wa_n[e];
			}
			for (int e = 0; e < 4; e++)
				o.extra[o.extra_off[2] + e] = (float)wa_t[e];
		}
		float p[TOTAL] = { 0 }, g[TOTAL] = { 0 };
		for (int e = 0; e < 6; e++)
			p[e] = (float)w0[e], p[T_OFF + e] = (float)t0[e];
		for (int e = 0; e < 3; e++)
			p[N_OFF + e] = (float)n0[e];
		double worst = 0;
		for (int s = 0; s < 6; s++) {
			for (int e = 0; e < 6; e++)
				g[e] = (float)gw[s * 6 + e], g[T_OFF + e] = (float)gt[s * 6 + e];
			for (int e = 0; e < 3; e++)
				g[N_OFF + e] = (float)gn[s * 3 + e];
			nl_optim_step(&o, p, g, hp(&ts, "lr"));
			for (int e = 0; e < 6; e++) {
				worst = fmax(worst, fabs(p[e] - ew[s * 6 + e]) / fmax(1, fabs(ew[s * 6 + e])));
				worst = fmax(worst, fabs(p[T_OFF + e] - et[s * 6 + e]) /
				    fmax(1, fabs(et[s * 6 + e])));
			}
			for (int e = 0; e < 3; e++)
				worst = fmax(worst, fabs(p[N_OFF + e] - en[s * 3 + e]) /
				    fmax(1, fabs(en[s * 3 + e])));
		}
		T_CHECK_MSG(worst < 2e-5, "%s: worst relative difference %.3g", names[k], worst);
		nl_optim_free(&o);
		nl_config_free(&c);
	}
	nl_tset_free(&ts);
}

static void
fill(double *x, size_t n, uint64_t seed)
{
	struct nl_rng r;
	nl_rng_seed(&r, seed);
	for (size_t i = 0; i < n; i++)
		x[i] = nl_rng_normal(&r);
}

/* XᵀX − I (r ≥ c) or XXᵀ − I, largest entry */
static double
orth_error(const double *o, int r, int c)
{
	int s = r < c ? r : c, tall = r >= c;
	double worst = 0;
	for (int i = 0; i < s; i++)
		for (int j = 0; j < s; j++) {
			double t = 0;
			for (int k = 0; k < (tall ? r : c); k++)
				t += tall ? o[k * c + i] * o[k * c + j] : o[i * c + k] * o[j * c + k];
			worst = fmax(worst, fabs(t - (i == j)));
		}
	return worst;
}

T_TEST(newton_schulz_orthogonalises)
{
	static const int shapes[][2] = { { 7, 4 }, { 4, 7 }, { 5, 5 } };
	for (size_t k = 0; k < 3; k++) {
		int r = shapes[k][0], c = shapes[k][1], s = r < c ? r : c;
		double x[49], o[49], oref[49], work[25 + 49];
		float xf[49], of[49], wf[25 + 49];
		fill(x, (size_t)r * c, 40 + k);
		/* singular values of x / ‖x‖_F lie in (0, 1]; thirty cubic steps take them to 1 */
		nlk_ns_f64(o, x, r, c, 30, work);
		T_CHECK_MSG(orth_error(o, r, c) < 1e-12, "%dx%d: %.3g", r, c, orth_error(o, r, c));
		nlk_ns_ref_f64(oref, x, r, c, 30, work);
		for (int i = 0; i < r * c; i++)
			T_NEAR(o[i], oref[i], 1e-12);
		/* the default 5 steps: every singular value moved toward 1, none past it */
		nlk_ns_f64(o, x, r, c, 5, work);
		double fro = 0;
		for (int i = 0; i < r * c; i++)
			fro += o[i] * o[i];
		T_CHECK(fro <= s + 1e-12 && fro > 0.5 * s);
		for (int i = 0; i < r * c; i++)
			xf[i] = (float)x[i];
		nlk_ns(of, xf, r, c, 30, wf);
		for (int i = 0; i < r * c; i++)
			o[i] = of[i];
		T_CHECK(orth_error(o, r, c) < 1e-5);
		(void)s;
	}
	double z[6] = { 0 }, oz[6], w[4 + 6];
	nlk_ns_f64(oz, z, 2, 3, 5, w);
	for (int i = 0; i < 6; i++)
		T_CHECK(oz[i] == 0);
}

/* The proximal step solved directly: W (x xᵀ + I/η) = u xᵀ + W_t/η, row by row by Gaussian
 * elimination, against the closed form of eq. 57. */
T_TEST(dgd_is_the_exact_proximal_step)
{
	enum { R = 3, C = 4 };
	for (int k = 0; k < 3; k++) {
		double w[R * C], x[C], u[R], closed[R * C], work[R];
		double eta = k == 0 ? 0.3 : k == 1 ? 1.0 : 5.0;
		fill(w, R * C, 60 + k), fill(x, C, 70 + k), fill(u, R, 80 + k);
		if (k == 1) {           /* unit x: η' = η/(1+η), eq. 57 */
			double nx = 0;
			for (int j = 0; j < C; j++)
				nx += x[j] * x[j];
			for (int j = 0; j < C; j++)
				x[j] /= sqrt(nx);
		}
		memcpy(closed, w, sizeof w);
		nlk_dgd_step_f64(closed, x, u, R, C, eta, work);
		for (int i = 0; i < R; i++) {
			double a[C][C + 1];
			for (int p = 0; p < C; p++) {
				for (int q = 0; q < C; q++)
					a[p][q] = x[p] * x[q] + (p == q) / eta;
				a[p][C] = u[i] * x[p] + w[i * C + p] / eta;
			}
			for (int p = 0; p < C; p++)          /* symmetric positive definite */
				for (int q = p + 1; q < C; q++) {
					double f = a[q][p] / a[p][p];
					for (int e = p; e <= C; e++)
						a[q][e] -= f * a[p][e];
				}
			double sol[C];
			for (int p = C - 1; p >= 0; p--) {
				double t = a[p][C];
				for (int q = p + 1; q < C; q++)
					t -= a[p][q] * sol[q];
				sol[p] = t / a[p][p];
			}
			for (int p = 0; p < C; p++)
				T_NEAR(closed[i * C + p], sol[p], 1e-13);
		}
	}
}

/* The gemm form of DMGD's step against its loops, two steps in a row (W_b moves in the first) */
T_TEST(dmgd_fast_matches_reference)
{
	static const int shapes[][3] = { { 7, 5, 3 }, { 1, 9, 16 }, { 12, 4, 2 } };
	for (size_t k = 0; k < 3; k++) {
		int r = shapes[k][0], c = shapes[k][1], h = shapes[k][2];
		double g[108], p[2][108], phi[2][108], wa[2][144], wb[2][144], work[2 * 12 * 16 + 2 * 9 * 16];
		fill(p[0], (size_t)r * c, 90 + k), fill(phi[0], (size_t)r * c, 91 + k);
		fill(wa[0], (size_t)h * c, 92 + k), fill(wb[0], (size_t)h * c, 93 + k);
		memcpy(p[1], p[0], sizeof p[0]), memcpy(phi[1], phi[0], sizeof phi[0]);
		memcpy(wa[1], wa[0], sizeof wa[0]), memcpy(wb[1], wb[0], sizeof wb[0]);
		for (int s = 0; s < 2; s++) {
			fill(g, (size_t)r * c, 94 + k + 10 * (uint64_t)s);
			nlk_dmgd_step_ref_f64(p[0], phi[0], wa[0], wb[0], g, r, c, h, 0.1, 0.9, work);
			nlk_dmgd_step_f64(p[1], phi[1], wa[1], wb[1], g, r, c, h, 0.1, 0.9, work);
		}
		for (int e = 0; e < r * c; e++) {
			T_NEAR(p[1][e], p[0][e], 1e-12);
			T_NEAR(phi[1][e], phi[0][e], 1e-12);
		}
		for (int e = 0; e < h * c; e++) {
			T_NEAR(wa[1][e], wa[0][e], 1e-12);
			T_NEAR(wb[1][e], wb[0][e], 1e-12);
		}
	}
}

/* DGD over keys: the blocked form (several blocks, a partial one, a key of norm 0) equals one
 * eq. 57 step per key; and to first order in η its step is −η' (Σ W x̂ x̂ᵀ + scale Σ dy xᵀ):
 * the decay of every key plus sgd's step. */
T_TEST(dgd_keys_blocked_matches_sequential)
{
	enum { R = 5, C = 7, N = 150 };
	static double w0[R * C], x[N * C], dy[N * R], w[2][R * C], work[NLK_DGD_WORK(R, C)];
	fill(w0, R * C, 100), fill(x, N * C, 101), fill(dy, N * R, 102);
	memset(x + 17 * C, 0, C * sizeof *x);
	memcpy(w[0], w0, sizeof w0), memcpy(w[1], w0, sizeof w0);
	nlk_dgd_keys_ref_f64(w[0], x, dy, N, R, C, 0.2, 0.7, work);
	nlk_dgd_keys_f64(w[1], x, dy, N, R, C, 0.2, 0.7, work);
	double moved = 0;
	for (int e = 0; e < R * C; e++) {
		T_NEAR(w[1][e], w[0][e], 1e-12);
		moved += fabs(w[0][e] - w0[e]);
	}
	T_CHECK(moved > 0.1);
	const double eta = 1e-7, ep = eta / (1 + eta);
	memcpy(w[1], w0, sizeof w0);
	nlk_dgd_keys_f64(w[1], x, dy, N, R, C, eta, 0.7, work);
	for (int i = 0; i < R; i++)
		for (int k = 0; k < C; k++) {
			double g = 0;
			for (int t = 0; t < N; t++) {
				double xx = 0, wx = 0;
				for (int j = 0; j < C; j++)
					xx += x[t * C + j] * x[t * C + j], wx += w0[i * C + j] * x[t * C + j];
				g += 0.7 * dy[t * R + i] * x[t * C + k] + (xx > 0 ? wx * x[t * C + k] / xx : 0);
			}
			T_NEAR((w[1][i * C + k] - w0[i * C + k]) / ep, -g, 1e-4 * (1 + fabs(g)));
		}
}

/* The dgd rule: each parameter with keys decays, then takes its keys in order with their
 * gradients times the clip factor; one without keys steps as sgd on its gradient. */
T_TEST(dgd_rule_steps_by_the_keys)
{
	struct nl_layout lo;
	struct nl_config c;
	struct nl_optim o;
	struct nl_keylog kl = { 0 };
	struct nl_err err = { 0 };
	toy_layout(&lo);
	nl_config_init(&c);
	snprintf(c.optim, sizeof c.optim, "dgd");
	c.optim_weight_decay = 0.3;
	T_CHECK(nl_optim_init(&o, &c, &lo, 1, &err) == 0);
	double x[2][5 * 3], dy[2][5 * 3], wd0[TOTAL], work[NLK_DGD_WORK(3, 3)];
	float xf[2][5 * 3], dyf[2][5 * 3], p[TOTAL], g[TOTAL];
	fill(wd0, TOTAL, 110);
	for (int e = 0; e < TOTAL; e++)
		p[e] = (float)wd0[e], wd0[e] = p[e], g[e] = (float)(0.1 * (e % 7) - 0.3);
	/* five keys of the 2×3 map (x 3 wide, dy 2), four of the 3×2 one (x 2, dy 3) */
	const int rows[2] = { 2, 3 }, cols[2] = { 3, 2 }, n[2] = { 5, 4 };
	const size_t off[2] = { 0, T_OFF };
	for (int k = 0; k < 2; k++) {
		fill(x[k], (size_t)n[k] * cols[k], 111 + k), fill(dy[k], (size_t)n[k] * rows[k], 113 + k);
		for (int e = 0; e < n[k] * cols[k]; e++)
			xf[k][e] = (float)x[k][e], x[k][e] = xf[k][e];
		for (int e = 0; e < n[k] * rows[k]; e++)
			dyf[k][e] = (float)dy[k][e], dy[k][e] = dyf[k][e];
		nl_keylog_add(&kl, off[k], rows[k], cols[k], xf[k], dyf[k], n[k], sizeof(float));
	}
	const struct nl_keylog *logs[1] = { &kl };
	const double lr = 0.05, clip = 0.5;
	nl_optim_set_keys(&o, logs, 1, clip);
	nl_optim_step(&o, p, g, lr);
	for (int k = 0; k < 2; k++) {
		double w[6];
		for (int e = 0; e < 6; e++)
			w[e] = wd0[off[k] + e] * (1 - lr * 0.3);
		nlk_dgd_keys_ref_f64(w, x[k], dy[k], n[k], rows[k], cols[k], lr, clip, work);
		for (int e = 0; e < 6; e++)
			T_NEAR(p[off[k] + e], w[e], 1e-6);
	}
	for (int e = 0; e < 3; e++)             /* the norm weight: sgd, not decayed */
		T_NEAR(p[N_OFF + e], wd0[N_OFF + e] - lr * g[N_OFF + e], 1e-6);
	nl_keylog_free(&kl);
	nl_optim_free(&o);
	nl_config_free(&c);
}

/* dgd's key log is complete: in every family, for each parameter an outer backward records
 * keys for, Σ dyᵀ x over its blocks is its whole gradient; every linear map of a layer has
 * keys (attention's or the mixer's, and the MLP's or each CMS level's three). */
T_TEST(dgd_keys_are_the_whole_gradient)
{
	enum { B = 2, T = 16, V = 11 };
	static const char *const family[] = { "model=transformer", "model=titans",
		"model=selfmod", "model=hope", "model=hope-attention" };
	/* blocks per layer: q k v and w_o; the titans mixer's q k v projections, three gates, gate
	 * and output; the self-modifying mixer's w_x, w_q, gate and output; the MLP's three maps,
	 * or each CMS level's three per sequence and chunk of its period (4: B · T/4 = 8 chunks,
	 * 0: one) */
	static const int maps_per_layer[] = { 4 + 3, 8 + 3, 4 + 3, 4 + 3 * 8 + 3, 4 + 3 * 8 + 3 };
	for (size_t f = 0; f < sizeof family / sizeof *family; f++) {
		const char *sets[] = { family[f], "d_model=16", "heads=2", "layers=2",
			"mlp.hidden=12", "cms.hidden=12", "cms.periods=4,0", "cms.lr=0.1",
			"chunk_memory=8", "chunk_other=4" };
		struct nl_config c;
		struct nl_layout lo;
		struct nl_tf tf;
		struct nl_keylog kl = { 0 };
		struct nl_err err = { 0 };
		nl_config_init(&c);
		for (size_t i = 0; i < sizeof sets / sizeof *sets; i++)
			T_CHECK(nl_config_set_arg(&c, sets[i], &err) == 0);
		c.vocab_size = V;
		if (nl_layout_build(&lo, &c, &err) ||
		    nl_tf_init(&tf, &c, &lo, B, T, sizeof(float), &err)) {
			printf("# %s: %s\n", family[f], err.msg);
			T_CHECK(0);
			continue;
		}
		float *p = calloc(lo.total, sizeof *p), *g = calloc(lo.total, sizeof *g);
		double *sum = calloc(lo.total, sizeof *sum);
		unsigned char *keyed = calloc(lo.total, 1);
		struct nl_rng rng;
		nl_rng_seed(&rng, 5 + f);
		for (size_t i = 0; i < lo.n; i++)
			for (size_t j = 0; j < lo.p[i].numel; j++)
				p[lo.p[i].offset + j] = (float)((lo.p[i].init == NL_INIT_ONES) +
				    0.3 * nl_rng_normal(&rng));
		int32_t ids[B * T], tg[B * T];
		for (int i = 0; i < B * T; i++)
			ids[i] = (int32_t)nl_rng_below(&rng, V), tg[i] = (int32_t)nl_rng_below(&rng, V);
		tf.keys = &kl;
		nl_tf_forward(&tf, p, ids, tg, B, T, NULL);
		nl_tf_backward(&tf, p, g, 1.0 / (B * T));
		T_CHECK(!kl.failed);
		for (size_t j = 0; j < kl.nblk; j++) {
			const struct nl_keyblock *b = &kl.blk[j];
			const float *x = kl.data + b->at, *dy = x + (size_t)b->n * b->cols;
			for (int r = 0; r < b->rows; r++)
				for (int k = 0; k < b->cols; k++) {
					size_t e = b->off + (size_t)r * b->cols + k;
					keyed[e] = 1;
					for (int t = 0; t < b->n; t++)
						sum[e] += (double)dy[(size_t)t * b->rows + r] *
						    x[(size_t)t * b->cols + k];
				}
		}
		int bad = 0;
		for (size_t i = 0; i < lo.n; i++) {
			const struct nl_param *q = &lo.p[i];
			size_t n_keyed = 0;
			for (size_t j = 0; j < q->numel; j++)
				n_keyed += keyed[q->offset + j];
			if (n_keyed == 0)
				continue;
			if (n_keyed != q->numel)
				printf("# %s: %s: %zu of %zu keyed\n", family[f], q->name, n_keyed,
				    q->numel), bad++;
			double gmax = 0;
			for (size_t j = 0; j < q->numel; j++)
				gmax = fmax(gmax, fabs(g[q->offset + j]));
			for (size_t j = 0; j < q->numel; j++) {
				double want = g[q->offset + j], got = sum[q->offset + j];
				if (fabs(got - want) > 1e-5 * gmax + 1e-4 * fabs(want))
					bad++;
			}
		}
		T_CHECK(bad == 0);
		T_CHECK(kl.nblk == (size_t)(maps_per_layer[f] * c.layers));
		if (kl.nblk != (size_t)(maps_per_layer[f] * c.layers))
			printf("# %s: %zu key blocks\n", family[f], kl.nblk);
		nl_keylog_free(&kl);
		nl_tf_free(&tf);
		nl_layout_free(&lo);
		nl_config_free(&c);
		free(p), free(g), free(sum), free(keyed);
	}
}

/* Runs optimizer c over the toy layout for n steps of seeded gradients; the parameters after
 * each step go to trace (n × TOTAL), M3's M2 after each step to m2 (n × 6) when not NULL. */
static void
toy_run(const struct nl_config *c, int n, float *trace, float *m2)
{
	struct nl_layout lo;
	struct nl_optim o;
	struct nl_err err = { 0 };
	double g64[TOTAL];
	float p[TOTAL] = { 0 }, g[TOTAL] = { 0 };
	toy_layout(&lo);
	if (nl_optim_init(&o, c, &lo, 1, &err)) {
		printf("# %s\n", err.msg);
		T_CHECK(0);
		return;
	}
	fill(g64, TOTAL, 5);
	for (int e = 0; e < TOTAL; e++)
		p[e] = (float)g64[e];
	for (int s = 0; s < n; s++) {
		fill(g64, TOTAL, 100 + (uint64_t)s);
		for (int e = 0; e < TOTAL; e++)
			g[e] = (float)g64[e];
		nl_optim_step(&o, p, g, 0.05);
		memcpy(trace + s * TOTAL, p, sizeof p);
		if (m2)
			memcpy(m2 + s * 6, o.slot[2], 6 * sizeof *m2);
	}
	nl_optim_free(&o);
}

T_TEST(m3_slow_momentum_moves_at_period_ends_only)
{
	struct nl_config c;
	float tr[7 * TOTAL], m2[7 * 6], tr2[7 * TOTAL];
	nl_config_init(&c);
	snprintf(c.optim, sizeof c.optim, "m3");
	c.m3_period = 3;
	toy_run(&c, 7, tr, m2);
	for (int s = 1; s < 7; s++) {
		int moved = memcmp(m2 + s * 6, m2 + (s - 1) * 6, 6 * sizeof *m2) != 0;
		T_CHECK_MSG(moved == ((s + 1) % 3 == 0), "step %d: M2 %s", s + 1,
		    moved ? "moved" : "still");
	}
	/* α = 0: the slow momentum has no effect, whatever β3 */
	c.m3_alpha = 0;
	toy_run(&c, 7, tr, NULL);
	c.m3_beta3 = 0.3;
	toy_run(&c, 7, tr2, NULL);
	T_CHECK(memcmp(tr, tr2, sizeof tr) == 0);
	/* with α = 1 the first period (O2 = 0) is the same; the next is not */
	c.m3_alpha = 1;
	toy_run(&c, 7, tr2, NULL);
	T_CHECK(memcmp(tr, tr2, 3 * TOTAL * sizeof *tr) == 0);
	T_CHECK(memcmp(tr + 3 * TOTAL, tr2 + 3 * TOTAL, TOTAL * sizeof *tr) != 0);
	nl_config_free(&c);
}

T_TEST(delta_momentum_with_lambda_0_is_momentum)
{
	struct nl_config c;
	float a[5 * TOTAL], b[5 * TOTAL];
	nl_config_init(&c);
	snprintf(c.optim, sizeof c.optim, "momentum");
	toy_run(&c, 5, a, NULL);
	snprintf(c.optim, sizeof c.optim, "delta-momentum");
	c.delta_lambda = 0;
	toy_run(&c, 5, b, NULL);
	T_CHECK(memcmp(a, b, sizeof a) == 0);
	c.delta_lambda = 0.5;
	toy_run(&c, 5, b, NULL);
	T_CHECK(memcmp(a + TOTAL, b + TOTAL, TOTAL * sizeof *a) != 0);
	nl_config_free(&c);
}

/* Four steps (M3 of period 3 past its first period end: M2 and O2 not zero), the state
 * through export and import into a fresh optimizer, three more: the same bits as seven steps
 * in one. */
T_TEST(state_round_trip_is_bit_exact)
{
	static const char *const names[] = { "sgd", "momentum", "adamw", "muon", "m3", "m3-ema",
		"delta-momentum", "delta-momentum-adam", "dmgd" };
	struct nl_layout lo;
	toy_layout(&lo);
	for (size_t k = 0; k < sizeof names / sizeof *names; k++) {
		struct nl_config c;
		struct nl_optim a, b;
		struct nl_tset ts;
		struct nl_err err = { 0 };
		double g64[TOTAL];
		float pa[TOTAL], pb[TOTAL], g[TOTAL];
		nl_config_init(&c);
		snprintf(c.optim, sizeof c.optim, "%s", names[k]);
		char *adam = strstr(c.optim, "-adam");
		if (adam)
			*adam = '\0', snprintf(c.delta_precond, sizeof c.delta_precond, "adam");
		c.m3_period = 3;
		nl_tset_init(&ts);
		T_CHECK(nl_optim_init(&a, &c, &lo, 7, &err) == 0);
		fill(g64, TOTAL, 5);
		for (int e = 0; e < TOTAL; e++)
			pa[e] = (float)g64[e];
		for (int s = 0; s < 7; s++) {
			if (s == 4) {
				memcpy(pb, pa, sizeof pa);
				T_CHECK(nl_optim_export(&a, &ts, &err) == 0);
				/* another seed: dmgd's W_a must come from the file */
				T_CHECK(nl_optim_init(&b, &c, &lo, 8, &err) == 0);
				T_CHECK_MSG(nl_optim_import(&b, &ts, 4, &err) == 0, "%s", err.msg);
			}
			fill(g64, TOTAL, 200 + (uint64_t)s);
			for (int e = 0; e < TOTAL; e++)
				g[e] = (float)g64[e];
			nl_optim_step(&a, pa, g, 0.05);
			if (s >= 4)
				nl_optim_step(&b, pb, g, 0.05);
		}
		T_CHECK_MSG(memcmp(pa, pb, sizeof pa) == 0, "%s", names[k]);
		/* a state missing a tensor is refused by name */
		if (a.nslots > 0) {
			struct nl_tset empty;
			nl_tset_init(&empty);
			T_CHECK(nl_optim_import(&b, &empty, 2, &err) != 0 &&
			    strstr(err.msg, "optim.nlt: m.layers.0.attn.w_o missing") != NULL);
			nl_tset_free(&empty);
		}
		nl_optim_free(&a);
		nl_optim_free(&b);
		nl_tset_free(&ts);
		nl_config_free(&c);
	}
}

/* A frozen parameter (nl-train --learn) keeps its bytes and its state under every rule,
 * weight decay and m3's period ends included, while the others move. */
T_TEST(frozen_parameters_keep_their_bytes)
{
	static const char *const names[] = { "sgd", "momentum", "adamw", "muon", "m3", "m3-ema",
		"delta-momentum", "dmgd", "dgd" };
	struct nl_layout lo;
	toy_layout(&lo);
	const unsigned char frozen[3] = { 1, 0, 0 };
	for (size_t k = 0; k < sizeof names / sizeof *names; k++) {
		struct nl_config c;
		struct nl_optim o;
		struct nl_err err = { 0 };
		nl_config_init(&c);
		char arg[64];
		snprintf(arg, sizeof arg, "optim=%s", names[k]);
		if (nl_config_set_arg(&c, arg, &err) || nl_config_set_arg(&c, "m3.period=2", &err) ||
		    nl_optim_init(&o, &c, &lo, 1, &err)) {
			printf("# %s: %s\n", names[k], err.msg);
			T_CHECK(0);
			nl_config_free(&c);
			continue;
		}
		o.frozen = frozen;
		float w[TOTAL], w0[TOTAL], g[TOTAL];
		struct nl_rng rng;
		nl_rng_seed(&rng, 3);
		for (int i = 0; i < TOTAL; i++)
			w[i] = w0[i] = (float)nl_rng_normal(&rng);
		for (int step = 0; step < 5; step++) {
			for (int i = 0; i < TOTAL; i++)
				g[i] = (float)nl_rng_normal(&rng);
			nl_optim_step(&o, w, g, 1e-2);
		}
		T_CHECK_MSG(memcmp(w, w0, 6 * sizeof *w) == 0, "%s moved a frozen parameter",
		    names[k]);
		int zero = 1;
		for (int s = 0; s < o.nslots; s++)
			for (int i = 0; i < 6; i++)
				zero &= o.slot[s][i] == 0;
		T_CHECK_MSG(zero, "%s moved a frozen parameter's state", names[k]);
		T_CHECK_MSG(memcmp(w + T_OFF, w0 + T_OFF, 6 * sizeof *w) != 0,
		    "%s did not move a learning parameter", names[k]);
		nl_optim_free(&o);
		nl_config_free(&c);
	}
}

int
main(void)
{
	t_run(first_steps_match_the_reference, "first_steps_match_the_reference");
	t_run(newton_schulz_orthogonalises, "newton_schulz_orthogonalises");
	t_run(dgd_is_the_exact_proximal_step, "dgd_is_the_exact_proximal_step");
	t_run(dgd_keys_blocked_matches_sequential, "dgd_keys_blocked_matches_sequential");
	t_run(dgd_rule_steps_by_the_keys, "dgd_rule_steps_by_the_keys");
	t_run(dgd_keys_are_the_whole_gradient, "dgd_keys_are_the_whole_gradient");
	t_run(m3_slow_momentum_moves_at_period_ends_only, "m3_slow_momentum_moves_at_period_ends_only");
	t_run(delta_momentum_with_lambda_0_is_momentum, "delta_momentum_with_lambda_0_is_momentum");
	t_run(state_round_trip_is_bit_exact, "state_round_trip_is_bit_exact");
	t_run(frozen_parameters_keep_their_bytes, "frozen_parameters_keep_their_bytes");
	t_run(dmgd_fast_matches_reference, "dmgd_fast_matches_reference");
	return t_done();
}
