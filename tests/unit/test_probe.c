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

/* M_mem of layer l, head h in stream s: W1 then W2 copied into out; their length. */
static size_t
mem_state(const struct nl_tf *tf, const struct nl_tf_stream *s, int l, int h, float *out)
{
	int np = nl_mem_stream_parts(&tf->mem, &s->mem, NULL);
	struct nl_state_part parts[np];
	nl_mem_stream_parts(&tf->mem, &s->mem, parts);
	size_t n = 0;
	for (int k = 0; k < 2; k++) {
		char name[64];
		snprintf(name, sizeof name, "layers.%d.mix.m_mem.w%d", l, k + 1);
		for (int i = 0; i < np; i++)
			if (strcmp(parts[i].name, name) == 0) {
				memcpy(out + n, parts[i].base + (size_t)h * parts[i].stride, parts[i].len);
				n += parts[i].len / sizeof(float);
			}
	}
	return n;
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

int
main(void)
{
	t_run(probe_rows_match_the_stream, "probe rows match a stream fed token by token");
	t_run(positions_change_no_write, "--at positions change no write");
	t_run(singular_values, "singular values and effective rank");
	t_run(nothing_to_probe, "a transformer has nothing to probe");
	return t_done();
}
