/* nl — see LICENSE. The continuum memory system of hope and hope-attention (MODEL D8,
 * §2.3, §2.5): parameter counts of MODEL §2.6, hope-attention with one outer-only level is
 * the transformer bit for bit (§8.9), and whole-model finite differences of both families
 * with outer-only levels. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "t.h"
#include "config.h"
#include "layout.h"
#include "model.h"
#include "rng.h"
#include "transformer.h"

/* MODEL §2.6 counts exclude b_beta, H per layer with inner momentum (the default) */
T_TEST(parameter_counts)
{
	static const struct {
		const char *family, *preset;
		int64_t vocab;
		size_t count;
	} want[] = {
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
		T_CHECK(g != NULL && u != NULL && u == g + 1 && nl_layout_find(&lo,
		    "layers.1.cms.0.w_down") == g + 2);
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
	struct nl_rng rng;
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
	nl_rng_seed(&rng, 5);
	for (size_t i = 0; i < s->lo.n; i++)
		for (size_t j = 0; j < s->lo.p[i].numel; j++)
			s->p[s->lo.p[i].offset + j] = (s->lo.p[i].init == NL_INIT_ONES ? 1.0 : 0.0) +
			    0.3 * nl_rng_normal(&rng);
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

/* Every tensor of hope and hope-attention with outer-only levels within 1e-5 of central
 * differences (nl_model_gradcheck). */
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
	T_CHECK(nl_config_set_arg(&c, "cms.periods=0,0", &err) == 0);
	T_CHECK_MSG(nl_model_gradcheck(&c, 3, &rows, &n, &err) == 0, "%s", err.msg);
	double worst = 0;
	int levels = 0;
	for (size_t i = 0; i < n; i++) {
		T_CHECK_MSG(rows[i].worst_rel <= 1e-5, "%s %s: rel %.3g abs %.3g", family,
		    rows[i].name, rows[i].worst_rel, rows[i].worst_abs);
		worst = fmax(worst, rows[i].worst_rel);
		levels += strstr(rows[i].name, ".cms.1.w_down") != NULL && rows[i].grad_norm > 0;
	}
	T_CHECK_MSG(levels == 2, "%s: %d layers' second level learn", family, levels);
	printf("# gradcheck %-14s %zu tensors, worst relative error %.3g\n", family, n, worst);
	free(rows);
	nl_config_free(&c);
}

T_TEST(gradcheck_outer_only)
{
	gradcheck("hope");
	gradcheck("hope-attention");
}

int
main(void)
{
	t_run(parameter_counts, "parameter counts of MODEL §2.6");
	t_run(outer_only_is_transformer, "hope-attention, one outer-only level = transformer");
	t_run(gradcheck_outer_only, "finite differences with outer-only levels");
	return t_done();
}
