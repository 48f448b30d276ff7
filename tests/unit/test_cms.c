/* nl — see LICENSE. The continuum memory system of hope and hope-attention (MODEL D8,
 * §2.3, §2.5, §3): parameter counts of MODEL §2.6 (every memory family's); hope-attention
 * with one outer-only level is the transformer bit for bit (§8.9); whole-model finite
 * differences with levels learning in context; the teach signal against differences of
 * each window's loss; the training forward against a learning stream; and the independent
 * PyTorch reference of tests/ref/gen_cms.py. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "t.h"
#include "t_fixture.h"
#include "config.h"
#include "layout.h"
#include "model.h"
#include "rng.h"
#include "transformer.h"

/* MODEL §2.6 (the memory families' too); its counts exclude b_beta, H per layer with inner
 * momentum (the default) */
T_TEST(parameter_counts)
{
	static const struct {
		const char *family, *preset;
		int64_t vocab;
		size_t count;
	} want[] = {
		{ "titans", "tiny", 128, 596888 },
		{ "titans", "small", 256, 8610632 },
		{ "titans", "base", 4096, 18930016 },
		{ "hope", "tiny", 128, 608904 + 2 * 4 },
		{ "hope", "small", 256, 8635160 + 6 * 4 },
		{ "hope", "base", 4096, 18962720 + 8 * 4 },
		{ "hope-attention", "tiny", 128, 590720 },
		{ "hope-attention", "small", 256, 8722688 },
		{ "hope-attention", "base", 4096, 19079424 },
	};
	for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
		struct nl_config c;
		struct nl_layout lo;
		struct nl_err err = { 0 };
		char a[64];
		nl_config_init(&c);
		T_CHECK(nl_config_load(&c, want[i].preset, &err) == 0);
		snprintf(a, sizeof a, "model=%s", want[i].family);
		T_CHECK(nl_config_set_arg(&c, a, &err) == 0);
		c.vocab_size = want[i].vocab;
		T_CHECK(nl_layout_build(&lo, &c, &err) == 0);
		T_CHECK_MSG(nl_layout_count(&lo) == want[i].count, "%s %s: %zu, want %zu",
		    want[i].family, want[i].preset, nl_layout_count(&lo), want[i].count);
		/* a level's fast parameters are one span: w_gate, w_up, w_down in a row */
		const struct nl_param *g = nl_layout_find(&lo, "layers.1.cms.0.w_gate");
		const struct nl_param *u = nl_layout_find(&lo, "layers.1.cms.0.w_up");
		T_CHECK(strncmp(want[i].family, "hope", 4) != 0 || (g != NULL && u != NULL &&
		    u == g + 1 && nl_layout_find(&lo, "layers.1.cms.0.w_down") == g + 2));
		nl_layout_free(&lo);
		nl_config_free(&c);
	}
}

/* A model of family in double with the given settings, random weights; B 2, T 12. */
struct small {
	struct nl_config c;
	struct nl_layout lo;
	struct nl_tf tf;
	double *p, *g;
};

enum { B = 2, T = 12, V = 13 };

static int
small_make(struct small *s, const char *const *sets)
{
	struct nl_err err = { 0 };
	memset(s, 0, sizeof *s);
	nl_config_init(&s->c);
	for (; *sets; sets++)
		if (nl_config_set_arg(&s->c, *sets, &err)) {
			printf("# %s: %s\n", *sets, err.msg);
			return -1;
		}
	s->c.vocab_size = V;
	s->c.context = T;
	if (nl_config_check(&s->c, &err) || nl_layout_build(&s->lo, &s->c, &err) ||
	    nl_tf_init(&s->tf, &s->c, &s->lo, B, T, sizeof(double), &err)) {
		printf("# %s\n", err.msg);
		return -1;
	}
	s->p = calloc(s->lo.total, sizeof *s->p);
	s->g = calloc(s->lo.total, sizeof *s->g);
	t_random_params(&s->lo, s->p, 5, 0.3);
	return 0;
}

static void
small_free(struct small *s)
{
	nl_tf_free(&s->tf);
	nl_layout_free(&s->lo);
	nl_config_free(&s->c);
	free(s->p);
	free(s->g);
}

/* MODEL §8.9: hope-attention with one outer-only level of the transformer's width has the
 * transformer's layout (names aside) and gives its logits, loss and gradients bit for bit. */
T_TEST(outer_only_is_transformer)
{
	const char *tf_sets[] = { "model=transformer", "d_model=16", "heads=2", "layers=2",
		"mlp.hidden=20", NULL };
	const char *ha_sets[] = { "model=hope-attention", "d_model=16", "heads=2", "layers=2",
		"cms.hidden=20", "cms.periods=0", NULL };
	struct small a, h;
	if (small_make(&a, tf_sets) || small_make(&h, ha_sets)) {
		T_CHECK(0);
		small_free(&a);
		small_free(&h);
		return;
	}
	T_CHECK(a.lo.n == h.lo.n && a.lo.total == h.lo.total);
	for (size_t i = 0; i < a.lo.n && i < h.lo.n; i++)
		T_CHECK_MSG(a.lo.p[i].offset == h.lo.p[i].offset && a.lo.p[i].numel ==
		    h.lo.p[i].numel, "%s / %s", a.lo.p[i].name, h.lo.p[i].name);
	int32_t ids[B * T], tg[B * T];
	for (int i = 0; i < B * T; i++) {
		ids[i] = (i * 5 + 1) % V;
		tg[i] = i % 7 == 3 ? -1 : (i * 3 + 2) % V;
	}
	static double la[B * T * V], lh[B * T * V];
	double ea = nl_tf_forward_f64(&a.tf, a.p, ids, tg, B, T, la);
	double eh = nl_tf_forward_f64(&h.tf, a.p, ids, tg, B, T, lh);
	nl_tf_backward_f64(&a.tf, a.p, a.g, 0.5);
	nl_tf_backward_f64(&h.tf, a.p, h.g, 0.5);
	T_CHECK(ea == eh);
	T_CHECK(memcmp(la, lh, sizeof la) == 0);
	T_CHECK(a.lo.total == h.lo.total && memcmp(a.g, h.g, a.lo.total * sizeof *a.g) == 0);
	small_free(&a);
	small_free(&h);
}

/* Every tensor of hope and hope-attention within 1e-5 of central differences of the
 * first-order objective (nl_model_gradcheck: levels of periods 2, 4 that learn in context,
 * their updates held at the base point's, and an outer-only one). */
static void
gradcheck(const char *family)
{
	struct nl_config c;
	struct nl_gradcheck *rows = NULL;
	struct nl_err err = { 0 };
	size_t n = 0;
	char a[64];
	nl_config_init(&c);
	snprintf(a, sizeof a, "model=%s", family);
	T_CHECK(nl_config_set_arg(&c, a, &err) == 0);
	T_CHECK_MSG(nl_model_gradcheck(&c, 3, &rows, &n, &err) == 0, "%s", err.msg);
	double worst = 0;
	int levels = 0;
	for (size_t i = 0; i < n; i++) {
		T_CHECK_MSG(rows[i].worst_rel <= 1e-5, "%s %s: rel %.3g abs %.3g", family,
		    rows[i].name, rows[i].worst_rel, rows[i].worst_abs);
		worst = fmax(worst, rows[i].worst_rel);
		levels += strstr(rows[i].name, ".cms.") != NULL && rows[i].grad_norm > 0;
	}
	T_CHECK_MSG(levels == 2 * 3 * 4, "%s: %d CMS tensors learn", family, levels);
	printf("# gradcheck %-14s %zu tensors, worst relative error %.3g\n", family, n, worst);
	free(rows);
	nl_config_free(&c);
}

T_TEST(gradcheck_levels)
{
	gradcheck("hope");
	gradcheck("hope-attention");
}

/* ---- learning in context ---- */

static const char *const cms_sets[2][10] = {
	{ "model=hope", "d_model=16", "heads=2", "layers=3", "cms.hidden=12", "cms.periods=4,8",
	  "cms.lr=0.3", "chunk_memory=4", "chunk_other=2", NULL },
	{ "model=hope-attention", "d_model=16", "heads=2", "layers=3", "cms.hidden=12",
	  "cms.periods=4,8", "cms.lr=0.3", NULL },
};

/* A model of one teach window (4 tokens) over s's layout, for streams. */
static int
window_model(struct small *s, struct nl_tf *w)
{
	struct nl_err err = { 0 };
	if (nl_tf_init(w, &s->c, &s->lo, B, 4, sizeof(double), &err)) {
		printf("# %s\n", err.msg);
		return -1;
	}
	return 0;
}

static void
stream_copy(const struct nl_tf *m, struct nl_tf_stream *dst, const struct nl_tf_stream *src)
{
	if (m->memfam)
		memcpy(dst->mem.data, src->mem.data, (size_t)m->layers * src->mem.layer_size *
		    sizeof(double));
	else
		memcpy(dst->kv, src->kv, (size_t)m->layers * 2 * src->b * src->cap * m->d *
		    sizeof(double));
	memcpy(dst->cms, src->cms, (2 + (size_t)m->rule.slots) * m->layers * m->levels * src->b *
	    m->fast_len * sizeof(double));
	memcpy(dst->cms_steps, src->cms_steps, sizeof dst->cms_steps);
	dst->pos = src->pos;
	dst->mem.pos = src->mem.pos;
}

static void
window_of(const int32_t *all, int32_t *w, int w0)
{
	for (int i = 0; i < B; i++)
		for (int j = 0; j < 4; j++)
			w[i * 4 + j] = all[i * T + w0 + j];
}

/* MODEL D8: the teach signal of a window is the gradient of its summed cross-entropy with
 * respect to the levels' fast weights, with everything carried in from earlier windows held
 * constant: level 1 (period 8) accumulates it over the window [8, 12) without stepping, so
 * its accumulator must equal central differences of that window's loss in its fast weights,
 * the stream restored before each. The level of period 4 steps only at multiples of 4, the
 * one of period 8 only at 8 (§8.4). */
T_TEST(teach_signal)
{
	for (int f = 0; f < 2; f++) {
		struct small s;
		struct nl_tf w;
		struct nl_tf_stream st, saved;
		struct nl_err err = { 0 };
		if (small_make(&s, cms_sets[f]) || window_model(&s, &w)) {
			T_CHECK(0);
			continue;
		}
		T_CHECK(nl_tf_stream_init(&w, &st, B, T, &err) == 0 &&
		    nl_tf_stream_init(&w, &saved, B, T, &err) == 0);
		int32_t ids[B * T], tg[B * T], wi[B * 4], wt[B * 4];
		for (int i = 0; i < B * T; i++) {
			ids[i] = (i * 7 + 2) % V;
			tg[i] = i % 5 == 4 ? -1 : (i * 5 + 1) % V;
		}
		nl_tf_stream_reset_f64(&w, &st, s.p);
		const size_t k1 = ((size_t)0 * w.levels + 1) * B + 0;   /* layer 0, level 1, seq 0 */
		const size_t k0 = ((size_t)1 * w.levels + 0) * B + 1;   /* layer 1, level 0, seq 1 */
		double *th1 = (double *)st.tab[k1], *th0 = (double *)st.tab[k0];
		double first1 = th1[5], first0 = th0[5];
		window_of(ids, wi, 0);
		window_of(tg, wt, 0);
		nl_tf_forward_stream_f64(&w, s.p, &st, wi, wt, 4, NULL, 1);
		T_CHECK_MSG(th1[5] == first1 && th0[5] != first0, "pos 4: level 1 stepped or level 0 "
		    "did not");
		window_of(ids, wi, 4);
		window_of(tg, wt, 4);
		nl_tf_forward_stream_f64(&w, s.p, &st, wi, wt, 4, NULL, 1);
		T_CHECK_MSG(th1[5] != first1, "pos 8: level 1 did not step");
		stream_copy(&w, &saved, &st);
		window_of(ids, wi, 8);
		window_of(tg, wt, 8);
		nl_tf_forward_stream_f64(&w, s.p, &st, wi, wt, 4, NULL, 1);
		/* level 1's accumulator after [8, 12), for two (layer, sequence) pairs (the lowest
		 * layer's signal crosses two attention or memory backwards), copied first:
		 * restoring the stream overwrites it */
		double worst = 0, scale = 0, *A[2];
		size_t kk[2];
		for (int pair = 0; pair < 2; pair++) {
			kk[pair] = ((size_t)pair * w.levels + 1) * B + pair;
			A[pair] = malloc(w.fast_len * sizeof *A[pair]);
			memcpy(A[pair], st.gtab[kk[pair]], w.fast_len * sizeof *A[pair]);
		}
		for (int pair = 0; pair < 2; pair++) {
			for (size_t j = 0; j < w.fast_len; j += 37) {
				double g[2];
				for (int sgn = 0; sgn < 2; sgn++) {
					stream_copy(&w, &st, &saved);
					double *th = (double *)st.tab[kk[pair]];
					th[j] += sgn ? -1e-6 : 1e-6;
					g[sgn] = nl_tf_forward_stream_f64(&w, s.p, &st, wi, wt, 4, NULL, 0);
				}
				double fd = (g[0] - g[1]) / 2e-6;
				worst = fmax(worst, fabs(fd - A[pair][j]));
				scale = fmax(scale, fabs(A[pair][j]));
			}
			free(A[pair]);
		}
		T_CHECK_MSG(scale > 1e-3 && worst / scale < 1e-6, "%s: teach signal off by %.3g of %.3g",
		    cms_sets[f][0], worst, scale);
		printf("# %s: teach signal vs differences %.2g (largest %.2g)\n", cms_sets[f][0],
		    worst / scale, scale);
		nl_tf_stream_free(&st);
		nl_tf_stream_free(&saved);
		nl_tf_free(&w);
		small_free(&s);
	}
}

/* MODEL §3: the training forward (the teach pass, then one forward with every chunk's
 * fast weights) gives the loss of a stream that learns window by window, up to rounding;
 * and a change of the last window's targets leaves the earlier windows' losses alone
 * (score-first, §8.11). */
T_TEST(training_is_the_stream)
{
	for (int f = 0; f < 2; f++) {
		struct small s;
		struct nl_tf w;
		struct nl_tf_stream st;
		struct nl_err err = { 0 };
		if (small_make(&s, cms_sets[f]) || window_model(&s, &w) ||
		    nl_tf_stream_init(&w, &st, B, T, &err)) {
			T_CHECK(0);
			continue;
		}
		int32_t ids[B * T], tg[B * T], wi[B * 4], wt[B * 4];
		for (int i = 0; i < B * T; i++) {
			ids[i] = (i * 3 + 1) % V;
			tg[i] = (i * 11 + 4) % V;
		}
		double train = nl_tf_forward_f64(&s.tf, s.p, ids, tg, B, T, NULL), stream = 0;
		double loss[2][3];
		for (int pass = 0; pass < 2; pass++) {
			nl_tf_stream_reset_f64(&w, &st, s.p);
			for (int w0 = 0; w0 < T; w0 += 4) {
				window_of(ids, wi, w0);
				window_of(tg, wt, w0);
				if (pass == 1 && w0 == 8)
					wt[1] = (wt[1] + 1) % V;
				loss[pass][w0 / 4] = nl_tf_forward_stream_f64(&w, s.p, &st, wi, wt, 4, NULL,
				    1);
				if (pass == 0)
					stream += loss[pass][w0 / 4];
			}
		}
		T_CHECK_MSG(fabs(train - stream) < 1e-10 * fabs(train), "%s: training %.15g, stream "
		    "%.15g", cms_sets[f][0], train, stream);
		T_CHECK(loss[0][0] == loss[1][0] && loss[0][1] == loss[1][1] &&
		    loss[0][2] != loss[1][2]);
		/* and the in-context updates matter */
		nl_config_set_arg(&s.c, "cms.lr=0", &err);
		struct nl_tf frozen;
		T_CHECK(nl_tf_init(&frozen, &s.c, &s.lo, B, T, sizeof(double), &err) == 0);
		double still = nl_tf_forward_f64(&frozen, s.p, ids, tg, B, T, NULL);
		T_CHECK_MSG(fabs(still - train) > 1e-6, "%s: updates change nothing", cms_sets[f][0]);
		printf("# %s: training %.12g, stream %.12g, frozen levels %.12g\n", cms_sets[f][0],
		    train, stream, still);
		nl_tf_free(&frozen);
		nl_tf_stream_free(&st);
		nl_tf_free(&w);
		small_free(&s);
	}
}

/* The independent PyTorch reference (tests/ref/gen_cms.py: the teach signal by its naive
 * definition, a backward over each window's whole prefix; the outer gradient by autograd
 * of the first-order objective) on 3 layers, 16 tokens, levels of periods 4, 8 and 0:
 * loss, logits and every gradient. */
T_TEST(reference_hope_double)
{
	t_reference_check("tests/ref/cms/hope/", "expected.npz", NULL, 0, 1e-9);
}
T_TEST(reference_hope_float)
{
	t_reference_check("tests/ref/cms/hope/", "expected.npz", NULL, 1, 1e-4);
}
T_TEST(reference_attention_double)
{
	t_reference_check("tests/ref/cms/hope-attention/", "expected.npz", NULL, 0, 1e-9);
}
T_TEST(reference_attention_float)
{
	t_reference_check("tests/ref/cms/hope-attention/", "expected.npz", NULL, 1, 1e-4);
}

int
main(void)
{
	t_run(parameter_counts, "parameter counts of MODEL §2.6");
	t_run(outer_only_is_transformer, "hope-attention, one outer-only level = transformer");
	t_run(gradcheck_levels, "finite differences, levels learning in context");
	t_run(teach_signal, "teach signal = differences of the window's loss (D8)");
	t_run(training_is_the_stream, "training forward = a learning stream; score-first");
	t_run(reference_hope_double, "hope = the PyTorch reference (double, 1e-9)");
	t_run(reference_hope_float, "hope = the PyTorch reference (float, 1e-4)");
	t_run(reference_attention_double, "hope-attention = the PyTorch reference (double, 1e-9)");
	t_run(reference_attention_float, "hope-attention = the PyTorch reference (float, 1e-4)");
	return t_done();
}
