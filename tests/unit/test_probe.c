/* nl — see LICENSE. nl-probe-memory's probe (lib/probe.c): its rows agree with a stream fed
 * one token at a time and measured here — each memory's state norm and the change since its
 * last write, at the positions its chunk ends, the mean of the write gates over the chunk,
 * and each learning CMS level's weights at its period's end; a transformer has nothing to
 * probe. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "t.h"
#include "t_model.h"
#include "config.h"
#include "eval.h"
#include "layout.h"
#include "probe.h"
#include "rng.h"
#include "transformer.h"
#include "kernels.h"

enum { N = 42, V = 11, MAXW = 4096 };   /* 41 tokens read: the last piece has one */

/* retention near 1, so the memories keep what they write and the gates move */
static int
model_make(struct t_model *m, const char *family)
{
	if (t_model_make(m, family, NULL, V, 1, 8, 5))
		return -1;
	for (int l = 0; l < 2; l++) {
		size_t at;
		if (nl_layout_offsetf(&m->lo, &at, NULL, "layers.%d.mix.%s", l,
		    strcmp(family, "model=titans") ? "b_alpha" : "b_a") == 0)
			for (int h = 0; h < 2; h++)
				m->p[at + h] = 4;
	}
	return 0;
}

struct rows {
	struct nl_probe_write w[MAXW];
	int n;
};

static int
keep(void *ctx, const struct nl_probe_write *w, struct nl_err *err)
{
	struct rows *r = ctx;
	(void)err;
	if (r->n < MAXW)
		r->w[r->n++] = *w;
	return 0;
}

static const struct nl_probe_write *
find(const struct rows *r, int layer, int unit, int head, long long pos)
{
	for (int i = 0; i < r->n; i++)
		if (r->w[i].layer == layer && r->w[i].unit == unit && r->w[i].head == head &&
		    r->w[i].pos == pos)
			return &r->w[i];
	return NULL;
}

/* ‖x‖ and ‖x − y‖ over n floats */
static void
two_norms(const float *x, const float *y, size_t n, double *nx, double *nd)
{
	double a = 0, b = 0;
	for (size_t i = 0; i < n; i++)
		a += (double)x[i] * x[i], b += ((double)x[i] - y[i]) * ((double)x[i] - y[i]);
	*nx = sqrt(a), *nd = sqrt(b);
}

/* Memory unit (m_k … m_mem) of layer l, head h in stream s: W1 then W2 copied into out;
 * their length. */
static size_t
unit_state(const struct nl_tf *tf, const struct nl_tf_stream *s, int l, const char *unit,
    int h, float *out)
{
	int np = nl_mem_stream_parts(&tf->mem, &s->mem, NULL);
	struct nl_state_part parts[np];
	nl_mem_stream_parts(&tf->mem, &s->mem, parts);
	size_t n = 0;
	for (int k = 0; k < 2; k++) {
		char name[64];
		snprintf(name, sizeof name, "layers.%d.mix.%s.w%d", l, unit, k + 1);
		for (int i = 0; i < np; i++)
			if (strcmp(parts[i].name, name) == 0) {
				memcpy(out + n, parts[i].base + (size_t)h * parts[i].stride, parts[i].len);
				n += parts[i].len / sizeof(float);
			}
	}
	return n;
}

static size_t
mem_state(const struct nl_tf *tf, const struct nl_tf_stream *s, int l, int h, float *out)
{
	return unit_state(tf, s, l, "m_mem", h, out);
}

static void
check_family(const char *family)
{
	struct t_model m;
	if (model_make(&m, family)) {
		T_CHECK(0);
		return;
	}
	struct nl_tf *tf = &m.tf;
	int32_t ids[N];
	struct nl_rng rng;
	nl_rng_seed(&rng, 9);
	for (int i = 0; i < N; i++)
		ids[i] = (int32_t)nl_rng_below(&rng, V);
	struct nl_tokens tk;
	nl_tokens_init(&tk);
	tk.ids = ids, tk.n = N, tk.vocab = V;
	static struct rows r;
	r.n = 0;
	struct nl_probe p = { ~UINT64_C(0), 1, keep, &r, NULL, 0, NULL, NULL };
	struct nl_err err = { 0 };
	T_CHECK_MSG(nl_probe_run(tf, m.p, &m.c, &tk, &p, &err) == 0, "%s: %s", family, err.msg);

	/* the same tokens one at a time: M_mem's writes at 8, 16, 24, 32, 40 */
	struct nl_tf_stream s;
	T_CHECK(nl_eval_stream_start(tf, m.p, &s, &m.c, NULL, &err) == 0);
	float before[2][2][2048], now[2048];
	double eta_at[2][2][N], alpha_at[2][2][N];      /* each fed token's gates */
	for (int l = 0; l < 2; l++)
		for (int h = 0; h < 2; h++)
			mem_state(tf, &s, l, h, before[l][h]);
	int writes = 0, cms_writes = 0;
	for (int t = 0; t + 1 < N; t++) {
		float x = nl_tf_forward_stream(tf, m.p, &s, ids + t, ids + t + 1, 1, NULL, 1);
		T_CHECK(isfinite(x));
		for (int l = 0; l < 2; l++)
			for (int h = 0; h < 2; h++)
				nl_mem_gates(&tf->mem, l, 0, h, tf->mem.t - 1, 1, &eta_at[l][h][t],
				    &alpha_at[l][h][t]);
		const long long pos = s.pos;
		if (pos % 8)
			continue;
		for (int l = 0; l < 2; l++)
			for (int h = 0; h < 2; h++) {
				size_t n = mem_state(tf, &s, l, h, now);
				double nn, nd, nb, dummy;
				two_norms(now, before[l][h], n, &nn, &nd);
				two_norms(before[l][h], before[l][h], n, &nb, &dummy);
				const struct nl_probe_write *w = find(&r, l, NL_MU_MEM, h, pos);
				T_CHECK_MSG(w != NULL, "%s: no M_mem row at %lld", family, pos);
				if (w) {
					T_NEAR(w->norm, nn, 1e-9 * nn);
					T_NEAR(w->delta, nd, 1e-9 * nd);
					T_NEAR(w->rel, nd / nb, 1e-9);
					T_CHECK(w->eta[1] <= w->eta[2] && w->eta[2] <= w->eta[3]);
					T_CHECK(w->alpha[1] <= w->alpha[2] && w->alpha[2] <= w->alpha[3]);
					writes++;
				}
				memcpy(before[l][h], now, n * sizeof *now);
			}
		/* CMS level 1 (period 8) of hope: θ's norm */
		for (int l = 0; l < 2 && s.cms; l++) {
			const float *theta = s.tab[(size_t)l * tf->levels + 1];
			double nn, dummy;
			two_norms(theta, theta, tf->fast_len, &nn, &dummy);
			const struct nl_probe_write *w = find(&r, l, NL_PROBE_CMS + 1, 0, pos);
			T_CHECK_MSG(w != NULL && fabs(w->norm - nn) <= 1e-5 * nn && w->delta > 0,
			    "%s: level 1 at %lld", family, pos);
			T_CHECK(w == NULL || isnan(w->eta[0]));
			cms_writes++;
		}
	}
	T_CHECK_MSG(writes == 5 * 4, "%s: %d M_mem writes checked", family, writes);
	/* every memory write's gates: the mean over its chunk's tokens, and the median of 4 */
	for (int i = 0; i < r.n; i++) {
		const struct nl_probe_write *w = &r.w[i];
		if (w->unit >= NL_PROBE_CMS)
			continue;
		const int c = w->unit == NL_MU_MEM ? 8 : 4;
		double se = 0, sa = 0;
		for (long long t = w->pos - c; t < w->pos; t++)
			se += eta_at[w->layer][w->head][t], sa += alpha_at[w->layer][w->head][t];
		T_NEAR(w->eta[0], se / c, 1e-12);
		T_NEAR(w->alpha[0], sa / c, 1e-12);
		if (c == 4) {
			double v[4];
			memcpy(v, &alpha_at[w->layer][w->head][w->pos - 4], sizeof v);
			for (int a = 0; a < 4; a++)        /* sort 4 */
				for (int b = a + 1; b < 4; b++)
					if (v[b] < v[a]) {
						double x = v[a];
						v[a] = v[b], v[b] = x;
					}
			T_NEAR(w->alpha[2], (v[1] + v[2]) / 2, 1e-12);
			T_NEAR(w->alpha[1], v[0] + 0.3 * (v[1] - v[0]), 1e-12);
		}
	}
	/* every row is a write: M_mem 5 per head and layer; selfmod's others every 4 tokens;
	 * CMS levels of periods 4 and 8 */
	int count[NL_PROBE_UNITS] = { 0 };
	for (int i = 0; i < r.n; i++)
		count[r.w[i].unit]++;
	T_CHECK(count[NL_MU_MEM] == 20);
	if (strcmp(family, "model=hope") == 0) {
		T_CHECK(count[NL_MU_K] == 10 * 4 && count[NL_MU_ALPHA] == 10 * 4);
		T_CHECK(count[NL_PROBE_CMS] == 10 * 2 && count[NL_PROBE_CMS + 1] == 5 * 2);
		T_CHECK(count[NL_PROBE_CMS + 2] == 0 && cms_writes == 10);
	} else {
		T_CHECK(count[NL_MU_K] == 0 && count[NL_PROBE_CMS] == 0);
	}
	/* with the levels frozen (ttl 0) the memories write the same */
	if (strcmp(family, "model=hope") == 0) {
		static struct rows f;
		f.n = 0;
		struct nl_probe frozen = { ~UINT64_C(0), 0, keep, &f, NULL, 0, NULL, NULL };
		T_CHECK_MSG(nl_probe_run(tf, m.p, &m.c, &tk, &frozen, &err) == 0, "%s", err.msg);
		int levels = 0;
		for (int i = 0; i < f.n; i++)
			levels += f.w[i].unit >= NL_PROBE_CMS;
		T_CHECK(f.n > 0 && levels == 0);
	}
	/* one layer only */
	r.n = 0;
	p.layers = 2;
	T_CHECK(nl_probe_run(tf, m.p, &m.c, &tk, &p, &err) == 0);
	int other = 0;
	for (int i = 0; i < r.n; i++)
		other += r.w[i].layer != 1;
	T_CHECK(r.n > 0 && other == 0);
	nl_tf_stream_free(&s);
	t_model_free(&m);
}

T_TEST(probe_rows_match_the_stream)
{
	check_family("model=hope");
	check_family("model=titans");
}

/* Stopping at --at positions changes no write; the spectra come at each position, and the
 * dump holds the stream's state there. */
static int ranks_seen;
static long long rank_pos[8];

static int
count_rank(void *ctx, const struct nl_probe_rank *r, struct nl_err *err)
{
	(void)ctx, (void)err;
	if (ranks_seen < 8 && (ranks_seen == 0 || rank_pos[ranks_seen - 1] != r->pos))
		rank_pos[ranks_seen++] = r->pos;
	return !(r->erank >= 1 - 1e-9 || r->sigma_max == 0);
}

T_TEST(positions_change_no_write)
{
	struct t_model m;
	T_CHECK(model_make(&m, "model=hope") == 0);
	int32_t ids[N];
	for (int i = 0; i < N; i++)
		ids[i] = (int32_t)((i * 7 + 3) % V);
	struct nl_tokens tk;
	nl_tokens_init(&tk);
	tk.ids = ids, tk.n = N, tk.vocab = V;
	static struct rows a, b;
	a.n = b.n = 0;
	struct nl_err err = { 0 };
	struct nl_probe p = { ~UINT64_C(0), 1, keep, &a, NULL, 0, NULL, NULL };
	T_CHECK(nl_probe_run(&m.tf, m.p, &m.c, &tk, &p, &err) == 0);
	const long long at[4] = { 3, 13, 29, N - 1 };
	struct nl_tset dump;
	nl_tset_init(&dump);
	ranks_seen = 0;
	p.ctx = &b, p.at = at, p.nat = 4, p.on_rank = count_rank, p.dump = &dump;
	T_CHECK_MSG(nl_probe_run(&m.tf, m.p, &m.c, &tk, &p, &err) == 0, "%s", err.msg);
	T_CHECK(a.n == b.n && a.n > 0);
	for (int i = 0; i < a.n && a.n == b.n; i++)
		T_CHECK(memcmp(&a.w[i], &b.w[i], sizeof a.w[i]) == 0);
	T_CHECK(ranks_seen == 4 && rank_pos[0] == 3 && rank_pos[1] == 13 && rank_pos[2] == 29 &&
	    rank_pos[3] == N - 1);
	T_CHECK(nl_tset_find(&dump, "stream.next@41") != NULL);
	T_CHECK(nl_tset_find(&dump, "layers.1.mix.m_mem.w1@13") != NULL);
	T_CHECK(nl_tset_find(&dump, "layers.0.cms.0.w_gate@29") != NULL);
	T_CHECK(nl_tset_find(&dump, "stream.next@3") != NULL);
	/* a position past the stream */
	const long long far[1] = { N };
	p.at = far, p.nat = 1;
	T_CHECK(nl_probe_run(&m.tf, m.p, &m.c, &tk, &p, &err) < 0 && err.code == NL_ERANGE &&
	    strstr(err.msg, "reads 41 tokens"));
	nl_tset_free(&dump);
	t_model_free(&m);
}

/* Singular values of U diag(s) Vᵀ for random orthogonal U, V, both orientations; the
 * effective rank of equal and of zero singular values. */
static void
orthonormal(struct nl_rng *rng, double *q, int n)    /* Gram–Schmidt of a normal matrix */
{
	for (int j = 0; j < n; j++) {
		double *c = q + (size_t)j * n;
		for (int i = 0; i < n; i++)
			c[i] = nl_rng_normal(rng);
		for (int k = 0; k < j; k++) {
			double d = 0;
			for (int i = 0; i < n; i++)
				d += c[i] * q[(size_t)k * n + i];
			for (int i = 0; i < n; i++)
				c[i] -= d * q[(size_t)k * n + i];
		}
		double nn = 0;
		for (int i = 0; i < n; i++)
			nn += c[i] * c[i];
		for (int i = 0; i < n; i++)
			c[i] /= sqrt(nn);
	}
}

T_TEST(singular_values)
{
	enum { M = 7, K = 4 };
	const double s[K] = { 5, 2, 0.5, 0.125 };
	double u[M * M], v[K * K], got[K];
	float a[M * K], at[K * M];
	struct nl_rng rng;
	nl_rng_seed(&rng, 11);
	orthonormal(&rng, u, M);
	orthonormal(&rng, v, K);
	for (int i = 0; i < M; i++)
		for (int j = 0; j < K; j++) {
			double x = 0;
			for (int k = 0; k < K; k++)
				x += u[(size_t)k * M + i] * s[k] * v[(size_t)k * K + j];
			a[i * K + j] = at[j * M + i] = (float)x;
		}
	T_CHECK(nl_probe_svals(a, M, K, got) == 0);
	for (int k = 0; k < K; k++)
		T_NEAR(got[k], s[k], 1e-5);
	T_CHECK(nl_probe_svals(at, K, M, got) == 0);
	for (int k = 0; k < K; k++)
		T_NEAR(got[k], s[k], 1e-5);
	const double two[3] = { 3, 3, 0 }, none[2] = { 0, 0 };
	T_NEAR(nl_probe_erank(two, 3), 2, 1e-12);
	T_NEAR(nl_probe_erank(none, 2), 0, 0);
	a[5] = NAN;
	T_CHECK(nl_probe_svals(a, M, K, got) == 0 && isnan(got[0]) && isnan(nl_probe_erank(got, K)));
	double p[K], h = 0, sum = 5 + 2 + 0.5 + 0.125;
	for (int k = 0; k < K; k++)
		p[k] = s[k] / sum, h -= p[k] * log(p[k]);
	T_NEAR(nl_probe_erank(s, K), exp(h), 1e-12);
}

T_TEST(nothing_to_probe)
{
	struct t_model m;
	T_CHECK(model_make(&m, "model=transformer") == 0);
	int32_t ids[N] = { 0 };
	struct nl_tokens tk;
	nl_tokens_init(&tk);
	tk.ids = ids, tk.n = N, tk.vocab = V;
	static struct rows r;
	struct nl_probe p = { ~UINT64_C(0), 1, keep, &r, NULL, 0, NULL, NULL };
	struct nl_err err = { 0 };
	T_CHECK(nl_probe_run(&m.tf, m.p, &m.c, &tk, &p, &err) < 0 && err.code == NL_EUSAGE &&
	    strstr(err.msg, "transformer has no memory"));
	t_model_free(&m);
}

/* ---- recall ---- */

enum { DH = 8, NMAX = 3 * DH };         /* the test model's heads are 8 wide */

/* Recall error and accuracy of reads y against targets t [n, DH] (the probe's definitions). */
static void
score(const double *y, const double *t, int n, double *error, double *accuracy)
{
	double e = 0;
	int hits = 0;
	for (int i = 0; i < n; i++) {
		double own = 0, best = INFINITY, tt = 0;
		int nearest = -1;
		for (int j = 0; j < n; j++) {
			double s = 0;
			for (int q = 0; q < DH; q++)
				s += (y[i * DH + q] - t[j * DH + q]) * (y[i * DH + q] - t[j * DH + q]);
			if (j == i)
				own = s;
			if (s < best)
				best = s, nearest = j;
		}
		for (int q = 0; q < DH; q++)
			tt += t[i * DH + q] * t[i * DH + q];
		e += own / tt;
		hits += nearest == i;
	}
	*error = e / n, *accuracy = (double)hits / n;
}

static const struct nl_recall_row *
row_at(const struct nl_recall *rc, int layer, int unit, int head, long long x)
{
	for (size_t i = 0; i < rc->nrows; i++)
		if (rc->rows[i].layer == layer && rc->rows[i].unit == unit &&
		    rc->rows[i].head == head && rc->rows[i].x == x)
			return &rc->rows[i];
	return NULL;
}

/* Linear memory, W = 0, written by W ← αW − p (Wk) kᵀ − g (Wk − v) kᵀ with g = step(η) the
 * step rule's at ‖k‖² = 1 (literal: η; prox: η / (1 + η)); every N checked. */
static void
check_linear(const char *what, int rule, int projector, double g, int exact_to_d)
{
	struct t_model m;
	if (model_make(&m, "model=hope")) {
		T_CHECK(0);
		return;
	}
	m.tf.mem.rule = rule, m.tf.mem.projector = projector;
	long long sizes[NMAX];
	for (int i = 0; i < NMAX; i++)
		sizes[i] = i + 1;
	struct nl_recall rc = { ~UINT64_C(0), 1, NL_RECALL_LINEAR, sizes, NMAX, 1, 1, 5, NULL, 0,
		0 };
	struct nl_err err = { 0 };
	T_CHECK_MSG(nl_probe_capacity(&m.tf, m.p, &m.c, &rc, &err) == 0, "%s", err.msg);
	T_CHECK(rc.nrows == 2 * 2 * NMAX);
	for (int l = 0; l < 2; l++)
		for (int h = 0; h < 2; h++) {
			float kf[NMAX * DH], vf[NMAX * DH];
			double k[NMAX * DH], v[NMAX * DH], W[DH * DH] = { 0 }, y[NMAX * DH];
			T_CHECK(nl_probe_associations(5, l, h, NMAX, DH, kf, vf) == 0);
			for (int i = 0; i < NMAX * DH; i++)
				k[i] = kf[i], v[i] = vf[i];
			/* each block of DH keys is orthonormal */
			double worst = 0;
			for (int i = 0; i < NMAX; i++)
				for (int j = i - i % DH; j <= i; j++) {
					double d = 0;
					for (int q = 0; q < DH; q++)
						d += k[i * DH + q] * k[j * DH + q];
					worst = fmax(worst, fabs(d - (i == j)));
				}
			T_CHECK_MSG(worst < 1e-6, "keys off orthonormal by %g", worst);
			for (int n = 1; n <= NMAX; n++) {
				const double *kn = k + (n - 1) * DH, *vn = v + (n - 1) * DH;
				for (int r = 0; r < DH; r++) {
					double wk = 0;
					for (int q = 0; q < DH; q++)
						wk += W[r * DH + q] * kn[q];
					double c = projector * wk + g * (wk - vn[r]);
					for (int q = 0; q < DH; q++)
						W[r * DH + q] -= c * kn[q];
				}
				for (int i = 0; i < n; i++)
					for (int r = 0; r < DH; r++) {
						double s = 0;
						for (int q = 0; q < DH; q++)
							s += W[r * DH + q] * k[i * DH + q];
						y[i * DH + r] = s;
					}
				double e, a;
				score(y, v, n, &e, &a);
				const struct nl_recall_row *row = row_at(&rc, l, NL_MU_MEM, h, n);
				T_CHECK_MSG(row != NULL, "%s: no row for N = %d", what, n);
				if (row == NULL)
					continue;
				T_NEAR(row->a, e, 1e-5 * (1 + e));
				T_NEAR(row->b, a, 1e-12);
				T_NEAR(row->a0, 1, 1e-6);      /* W = 0 reads 0 */
				/* the analytic behaviour: up to d orthogonal keys every one is
				 * recalled, (1 − g)² off with a step short of 1; the next key
				 * disturbs the ones before it */
				if (n <= DH && exact_to_d)
					T_CHECK_MSG(row->a < 1e-10 && row->b == 1, "%s: N %d error %g",
					    what, n, row->a);
				if (n <= DH && !exact_to_d)
					T_NEAR(row->a, (1 - g) * (1 - g), 1e-6);
				if (n == DH + 1 && exact_to_d)
					T_CHECK_MSG(row->a > 1e-3, "%s: N %d error %g", what, n, row->a);
				if (n == 2 * DH && exact_to_d && !projector)  /* the second basis */
					T_CHECK(row->b >= 0.5);
			}
		}
	nl_probe_recall_free(&rc);
	t_model_free(&m);
}

T_TEST(linear_memory_recalls_d_orthogonal_keys)
{
	check_linear("delta rule", NLK_STEP_LITERAL, 0, 1, 1);
	check_linear("delta rule with projector", NLK_STEP_LITERAL, 1, 1, 1);
	check_linear("proximal step", NLK_STEP_PROX, 0, 0.5, 0);
}

static double
silu(double x)
{
	return x / (1 + exp(-x));
}

static double
dsilu(double x)
{
	double s = 1 / (1 + exp(-x));
	return s * (1 + x * (1 - s));
}

/* y = z + W1 σ(W2 z) (W1, W2 [DH, DH]), keeping h = W2 z. */
static void
mlp_read(const double *w1, const double *w2, const double *z, double *y, double *h)
{
	for (int j = 0; j < DH; j++) {
		h[j] = 0;
		for (int q = 0; q < DH; q++)
			h[j] += w2[j * DH + q] * z[q];
	}
	for (int i = 0; i < DH; i++) {
		y[i] = z[i];
		for (int j = 0; j < DH; j++)
			y[i] += w1[i * DH + j] * silu(h[j]);
	}
}

/* direct: M_mem's rule (proximal step over the chunk of one, projector, α) on its
 * meta-learned state, against the same written out in double here. */
T_TEST(direct_writes_follow_the_memory_rule)
{
	struct t_model m;
	T_CHECK(model_make(&m, "model=hope") == 0);
	const double eta = 0.7, alpha = 0.9;
	long long sizes[] = { 1, 2, 5, 8, 13, 24 };
	struct nl_recall rc = { ~UINT64_C(0), 1, NL_RECALL_DIRECT, sizes, 6, eta, alpha, 3, NULL,
		0, 0 };
	struct nl_err err = { 0 };
	T_CHECK(m.tf.mem.projector && m.tf.mem.rule == NLK_STEP_PROX_CHUNK);
	T_CHECK_MSG(nl_probe_capacity(&m.tf, m.p, &m.c, &rc, &err) == 0, "%s", err.msg);
	struct nl_tf_stream s;
	T_CHECK(nl_eval_stream_start(&m.tf, m.p, &s, &m.c, NULL, &err) == 0);
	for (int l = 0; l < 2; l++)
		for (int h = 0; h < 2; h++) {
			float st[2 * DH * DH], kf[NMAX * DH], vf[NMAX * DH];
			double w1[DH * DH], w2[DH * DH], k[NMAX * DH], v[NMAX * DH], y[NMAX * DH];
			T_CHECK(mem_state(&m.tf, &s, l, h, st) == 2 * DH * DH);
			for (int i = 0; i < DH * DH; i++)
				w1[i] = st[i], w2[i] = st[DH * DH + i];
			double w10[DH * DH], w20[DH * DH];
			memcpy(w10, w1, sizeof w10);
			memcpy(w20, w2, sizeof w20);
			T_CHECK(nl_probe_associations(3, l, h, NMAX, DH, kf, vf) == 0);
			for (int i = 0; i < NMAX * DH; i++)
				k[i] = kf[i], v[i] = vf[i];
			for (int n = 1, j = 0; n <= NMAX; n++) {
				const double *kn = k + (n - 1) * DH, *vn = v + (n - 1) * DH;
				double hh[DH], yy[DH], e[DH], dl[DH], a[DH], cv = 0, kk = 0;
				mlp_read(w1, w2, kn, yy, hh);
				for (int i = 0; i < DH; i++)
					e[i] = yy[i] - vn[i], kk += kn[i] * kn[i];
				for (int c = 0; c < DH; c++) {
					double back = 0, col = 0;
					for (int i = 0; i < DH; i++)
						back += w1[i * DH + c] * e[i], col += w1[i * DH + c] * w1[i * DH + c];
					a[c] = silu(hh[c]);
					dl[c] = back * dsilu(hh[c]);
					cv += a[c] * a[c] + kk * dsilu(hh[c]) * dsilu(hh[c]) * col;
				}
				const double g = eta / (1 + eta * cv);
				for (int i = 0; i < DH; i++)
					for (int c = 0; c < DH; c++)
						w1[i * DH + c] = alpha * w1[i * DH + c] - g * e[i] * a[c];
				for (int c = 0; c < DH; c++) {
					double u = 0;
					for (int q = 0; q < DH; q++)
						u += w2[c * DH + q] * kn[q];
					for (int q = 0; q < DH; q++)
						w2[c * DH + q] = alpha * w2[c * DH + q] - eta * u * kn[q] -
						    g * dl[c] * kn[q];
				}
				if (n != sizes[j])
					continue;
				j++;
				for (int i = 0; i < n; i++)
					mlp_read(w1, w2, k + i * DH, y + i * DH, hh);
				double er, ac, er0, ac0;
				score(y, v, n, &er, &ac);
				for (int i = 0; i < n; i++)
					mlp_read(w10, w20, k + i * DH, y + i * DH, hh);
				score(y, v, n, &er0, &ac0);
				const struct nl_recall_row *row = row_at(&rc, l, NL_MU_MEM, h, n);
				T_CHECK(row != NULL);
				if (row) {
					T_NEAR(row->a, er, 1e-4 * er);
					T_NEAR(row->b, ac, 1e-12);
					T_NEAR(row->a0, er0, 1e-5 * er0);
					T_NEAR(row->b0, ac0, 1e-12);
				}
			}
		}
	nl_tf_stream_free(&s);
	nl_probe_recall_free(&rc);
	/* sizes ascend from 1 */
	long long bad[] = { 2, 2 };
	rc.x = bad, rc.nx = 2;
	T_CHECK(nl_probe_capacity(&m.tf, m.p, &m.c, &rc, &err) < 0 && err.code == NL_EUSAGE);
	t_model_free(&m);
}

/* model: N random tokens read token by token here, every M_mem write's keys and targets
 * (v in titans, M_mem(v) at the chunk-start state in selfmod) read back at N. */
static void
check_model_capacity(const char *family)
{
	struct t_model m;
	if (model_make(&m, family)) {
		T_CHECK(0);
		return;
	}
	enum { NT = 32 };
	long long sizes[] = { 8, 16, 32 };
	struct nl_recall rc = { ~UINT64_C(0), 1, NL_RECALL_MODEL, sizes, 3, 0, 0, 77, NULL, 0,
		0 };
	struct nl_err err = { 0 };
	T_CHECK_MSG(nl_probe_capacity(&m.tf, m.p, &m.c, &rc, &err) == 0, "%s", err.msg);
	T_CHECK(rc.nrows == 3 * 2 * 2);
	int32_t ids[NT + 1];
	struct nl_rng g;
	nl_rng_seed(&g, 77);
	for (int i = 0; i <= NT; i++)
		ids[i] = (int32_t)nl_rng_below(&g, V);
	const int titans = strcmp(family, "model=titans") == 0;
	struct nl_tf_stream s;
	T_CHECK(nl_eval_stream_start(&m.tf, m.p, &s, &m.c, NULL, &err) == 0);
	static double K[2][2][NT * DH], T[2][2][NT * DH], prev[2][2][2 * DH * DH],
	    init[2][2][2 * DH * DH];
	float st[2 * DH * DH];
	for (int l = 0; l < 2; l++)
		for (int h = 0; h < 2; h++) {
			mem_state(&m.tf, &s, l, h, st);
			for (int i = 0; i < 2 * DH * DH; i++)
				prev[l][h][i] = init[l][h][i] = st[i];
		}
	for (int t = 0; t < NT; t++) {
		T_CHECK(isfinite(nl_tf_forward_stream(&m.tf, m.p, &s, ids + t, ids + t + 1, 1, NULL,
		    1)));
		for (int l = 0; l < 2; l++)
			for (int h = 0; h < 2; h++) {
				float kf[DH], vf[DH];
				nl_mem_keys(&m.tf.mem, l, 0, h, m.tf.mem.t - 1, 1, kf, vf);
				double kk = 0;
				for (int q = 0; q < DH; q++)
					K[l][h][t * DH + q] = kf[q], T[l][h][t * DH + q] = vf[q],
					kk += (double)kf[q] * kf[q];
				T_NEAR(kk, 1, 1e-5);            /* keys are l2-normalised */
			}
		const int pos = t + 1;
		if (pos % 8)
			continue;
		for (int l = 0; l < 2; l++)
			for (int h = 0; h < 2; h++) {
				double *w1 = prev[l][h], *w2 = w1 + DH * DH, hh[DH], y[NT * DH];
				for (int i = pos - 8; i < pos && !titans; i++) {
					double tv[DH];
					mlp_read(w1, w2, &T[l][h][i * DH], tv, hh);
					memcpy(&T[l][h][i * DH], tv, sizeof tv);
				}
				mem_state(&m.tf, &s, l, h, st);
				for (int i = 0; i < 2 * DH * DH; i++)
					w1[i] = st[i];
				if (pos != 8 && pos != 16 && pos != 32)
					continue;
				for (int i = 0; i < pos; i++)
					mlp_read(w1, w2, &K[l][h][i * DH], y + i * DH, hh);
				double er, ac, er0, ac0;
				score(y, T[l][h], pos, &er, &ac);
				for (int i = 0; i < pos; i++)
					mlp_read(init[l][h], init[l][h] + DH * DH, &K[l][h][i * DH],
					    y + i * DH, hh);
				score(y, T[l][h], pos, &er0, &ac0);
				const struct nl_recall_row *row = row_at(&rc, l, NL_MU_MEM, h, pos);
				T_CHECK_MSG(row != NULL, "%s: no row at %d", family, pos);
				if (row) {
					T_NEAR(row->a, er, 1e-4 * er);
					T_NEAR(row->b, ac, 1e-12);
					T_NEAR(row->a0, er0, 1e-4 * er0);
					T_NEAR(row->b0, ac0, 1e-12);
				}
			}
	}
	nl_tf_stream_free(&s);
	nl_probe_recall_free(&rc);
	/* a size off the chunk */
	long long off[] = { 12 };
	rc.x = off, rc.nx = 1;
	T_CHECK(nl_probe_capacity(&m.tf, m.p, &m.c, &rc, &err) < 0 && err.code == NL_EUSAGE &&
	    strstr(err.msg, "multiple"));
	t_model_free(&m);
}

T_TEST(model_writes_are_read_back)
{
	check_model_capacity("model=hope");
	check_model_capacity("model=titans");
}

/* retention: the traces are the differences of two streams read here one at a time. */
static void
check_retention(const char *family)
{
	struct t_model m;
	if (model_make(&m, family)) {
		T_CHECK(0);
		return;
	}
	int32_t data[N];
	struct nl_rng g;
	nl_rng_seed(&g, 21);
	for (int i = 0; i < N; i++)
		data[i] = (int32_t)nl_rng_below(&g, V);
	struct nl_tokens tk;
	nl_tokens_init(&tk);
	tk.ids = data, tk.n = N, tk.vocab = V;
	long long dist[] = { 0, 3, 9, 20, N - 1 };
	struct nl_recall rc = { ~UINT64_C(0), 1, 0, dist, 5, 0, 0, 8, NULL, 0, 0 };
	struct nl_err err = { 0 };
	T_CHECK_MSG(nl_probe_retention(&m.tf, m.p, &m.c, &tk, &rc, &err) == 0, "%s", err.msg);
	/* the two streams, each alone */
	enum { R = NL_RECALL_ASSOC };
	int32_t a[R + N], b[R + N];
	nl_probe_retention_pair(8, V, a, b);
	for (int i = 0; i < R; i++)
		T_CHECK(a[i] != b[i]);
	memcpy(a + R, data, sizeof data);
	memcpy(b + R, data, sizeof data);
	struct nl_tf_stream sa, sb;
	T_CHECK(nl_eval_stream_start(&m.tf, m.p, &sa, &m.c, NULL, &err) == 0);
	T_CHECK(nl_eval_stream_start(&m.tf, m.p, &sb, &m.c, NULL, &err) == 0);
	static const char *const units[] = { "m_k", "m_v", "m_eta", "m_alpha", "m_q", "m_mem" };
	const int hope = strcmp(family, "model=hope") == 0;
	int checked = 0, rising = 0;
	for (int t = 0, j = 0; j < 5; t++) {
		if (t == R + dist[j]) {         /* the stream has taken in t tokens */
			for (int l = 0; l < 2; l++) {
				for (int u = 0; u < NL_MU_COUNT; u++) {
					if ((hope ? u == NL_MU_Q : u != NL_MU_MEM))
						continue;
					for (int h = 0; h < 2; h++) {
						float x[2 * DH * DH], y[2 * DH * DH];
						size_t n = unit_state(&m.tf, &sa, l, units[u], h, x);
						unit_state(&m.tf, &sb, l, units[u], h, y);
						double nx, nd;
						two_norms(x, y, n, &nx, &nd);
						const struct nl_recall_row *r = row_at(&rc, l, u, h, dist[j]);
						T_CHECK_MSG(r != NULL && fabs(r->a - nd) <= 1e-9 * (1 + nd),
						    "%s: layer %d %s head %d at %lld: %g, here %g", family, l,
						    units[u], h, dist[j], r ? r->a : NAN, nd);
						T_CHECK(r == NULL || (r->b >= 0 && r->b <= 1) || r->a == 0);
						checked++;
					}
				}
				for (int v = 0; v < 2 && hope; v++) {
					const size_t at = (size_t)l * m.tf.levels + v;
					double nx, nd;
					two_norms(sa.tab[at], sb.tab[at], m.tf.fast_len, &nx, &nd);
					const struct nl_recall_row *r = row_at(&rc, l, NL_PROBE_CMS + v, 0,
					    dist[j]);
					T_CHECK(r != NULL && fabs(r->a - nd) <= 1e-9 * (1 + nd));
					rising += r && dist[j] == N - 1 && r->a > 0;
					checked++;
				}
			}
			j++;
		}
		if (t + 1 < R + N) {
			nl_tf_forward_stream(&m.tf, m.p, &sa, a + t, a + t + 1, 1, NULL, 1);
			nl_tf_forward_stream(&m.tf, m.p, &sb, b + t, b + t + 1, 1, NULL, 1);
		}
	}
	T_CHECK_MSG(checked == (hope ? 5 * 2 * (5 * 2 + 2) : 5 * 2 * 2), "%s: %d", family,
	    checked);
	T_CHECK(!hope || rising == 4);
	/* the outer-only level and the transformer's MLP are no rows; a distance past the
	 * input is refused */
	for (size_t i = 0; i < rc.nrows; i++)
		T_CHECK(rc.rows[i].unit != NL_PROBE_CMS + 2);
	nl_probe_recall_free(&rc);
	long long far[] = { N };
	rc.x = far, rc.nx = 1;
	T_CHECK(nl_probe_retention(&m.tf, m.p, &m.c, &tk, &rc, &err) < 0 && err.code == NL_ERANGE);
	nl_tf_stream_free(&sa);
	nl_tf_stream_free(&sb);
	t_model_free(&m);
}

T_TEST(retention_is_two_streams_apart)
{
	check_retention("model=hope");
	check_retention("model=titans");
}

int
main(void)
{
	t_run(probe_rows_match_the_stream, "probe rows match a stream fed token by token");
	t_run(positions_change_no_write, "--at positions change no write");
	t_run(singular_values, "singular values and effective rank");
	t_run(nothing_to_probe, "a transformer has nothing to probe");
	t_run(linear_memory_recalls_d_orthogonal_keys, "a linear memory recalls d orthogonal keys");
	t_run(direct_writes_follow_the_memory_rule, "direct writes follow M_mem's rule");
	t_run(model_writes_are_read_back, "model mode reads back the model's writes");
	t_run(retention_is_two_streams_apart, "retention traces are two streams apart");
	return t_done();
}
