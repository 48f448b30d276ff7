/* nl — see LICENSE. Reference fixtures of tests/ref/<model>/ (written by the PyTorch
 * generators there): loading a fixture, and checking loss, logits and every gradient of
 * the model against it. Include after t.h. */
#ifndef NL_T_FIXTURE_H
#define NL_T_FIXTURE_H

#include "config.h"
#include "convert.h"
#include "layout.h"
#include "rng.h"
#include "transformer.h"

static inline int
load(const char *path, struct nl_tset *ts)
{
	struct nl_io in;
	struct nl_err err = { 0 };
	enum nl_format fmt;

	nl_tset_init(ts);
	if (nl_io_open_read(&in, path, 0, &err) || nl_convert_load(&in, path, ts, &fmt, &err)) {
		printf("# %s: %s\n", path, err.msg);
		return -1;
	}
	nl_io_abort(&in);
	return 0;
}

static inline double *
f64(const struct nl_tset *ts, const char *name, size_t n)
{
	const struct nl_tensor *t = nl_tset_find(ts, name);
	if (t == NULL || t->info.dtype != NL_DTYPE_F64 || t->nbytes != n * sizeof(double)) {
		printf("# %s missing or not %zu float64\n", name, n);
		return NULL;
	}
	return t->data;
}

/* The fixture: config, parameters (double), batch as ids/targets, expectations. */
struct fixture {
	struct nl_config cfg;
	struct nl_layout lo;
	struct nl_tset params, batch, expected;
	double *p;                 /* lo.total */
	int32_t *ids, *tg;
	int b, t;
};

static inline int
t_fixture_load(struct fixture *fx, const char *dir, const char *expected,
    const char *const *overrides)
{
	char path[512];
	struct nl_err err = { 0 };
	snprintf(path, sizeof path, "%sconfig", dir);
	FILE *f = fopen(path, "rb");
	char text[4096];
	size_t n = f ? fread(text, 1, sizeof text, f) : 0;

	memset(fx, 0, sizeof *fx);
	if (f)
		fclose(f);
	nl_config_init(&fx->cfg);
	if (n == 0 || nl_config_parse(&fx->cfg, text, n, &err)) {
		printf("# %s: %s\n", path, err.msg);
		return -1;
	}
	for (; overrides && *overrides; overrides++)
		if (nl_config_set_arg(&fx->cfg, *overrides, &err)) {
			printf("# %s: %s\n", *overrides, err.msg);
			return -1;
		}
	if (nl_layout_build(&fx->lo, &fx->cfg, &err)) {
		printf("# layout: %s\n", err.msg);
		return -1;
	}
	char pp[512], bp[512], ep[512];
	snprintf(pp, sizeof pp, "%sparams.npz", dir);
	snprintf(bp, sizeof bp, "%sbatch.npz", dir);
	snprintf(ep, sizeof ep, "%s%s", dir, expected);
	if (load(pp, &fx->params) || load(bp, &fx->batch) || load(ep, &fx->expected))
		return -1;
	fx->p = calloc(fx->lo.total, sizeof *fx->p);
	for (size_t i = 0; i < fx->lo.n; i++) {
		const struct nl_param *pr = &fx->lo.p[i];
		const double *src = f64(&fx->params, pr->name, pr->numel);
		if (src == NULL)
			return -1;
		memcpy(fx->p + pr->offset, src, pr->numel * sizeof *src);
	}
	const struct nl_tensor *tok = nl_tset_find(&fx->batch, "tokens");
	const struct nl_tensor *mask = nl_tset_find(&fx->batch, "mask");
	if (tok == NULL || mask == NULL || tok->info.dtype != NL_DTYPE_I32 || tok->info.rank != 2)
		return -1;
	fx->b = (int)tok->info.dims[0];
	fx->t = (int)tok->info.dims[1] - 1;
	fx->ids = malloc((size_t)fx->b * fx->t * sizeof *fx->ids);
	fx->tg = malloc((size_t)fx->b * fx->t * sizeof *fx->tg);
	const int32_t *tk = tok->data;
	const uint8_t *mk = mask->data;
	for (int b = 0; b < fx->b; b++)
		for (int i = 0; i < fx->t; i++) {
			fx->ids[b * fx->t + i] = tk[b * (fx->t + 1) + i];
			fx->tg[b * fx->t + i] = mk[b * fx->t + i] ? tk[b * (fx->t + 1) + i + 1] : -1;
		}
	return 0;
}

/* Random weights for a model laid out by lo: norm weights around 1, everything else around
 * 0, each N(centre, scale²), in layout order from nl_rng seed. */
static inline void
t_random_params(const struct nl_layout *lo, double *p, uint64_t seed, double scale)
{
	struct nl_rng rng;
	nl_rng_seed(&rng, seed);
	for (size_t i = 0; i < lo->n; i++)
		for (size_t j = 0; j < lo->p[i].numel; j++)
			p[lo->p[i].offset + j] = (lo->p[i].init == NL_INIT_ONES ? 1.0 : 0.0) +
			    scale * nl_rng_normal(&rng);
}

static inline void
t_fixture_free(struct fixture *fx)
{
	nl_config_free(&fx->cfg);
	nl_layout_free(&fx->lo);
	nl_tset_free(&fx->params);
	nl_tset_free(&fx->batch);
	nl_tset_free(&fx->expected);
	free(fx->p);
	free(fx->ids);
	free(fx->tg);
}

/* ‖a − b‖ / ‖b‖ */
static inline double
rel_err(const void *a, int a_is_float, const double *b, size_t n)
{
	double num = 0, den = 0;
	for (size_t i = 0; i < n; i++) {
		double x = a_is_float ? ((const float *)a)[i] : ((const double *)a)[i];
		num += (x - b[i]) * (x - b[i]);
		den += b[i] * b[i];
	}
	return sqrt(num / (den > 0 ? den : 1));
}

/* Loss, logits and all gradients of the fixture in dir with the expectations of file
 * expected (config keys overridden by "key=value" strings), in double or float, each within
 * relative error tol. */
static inline void
t_reference_check(const char *dir, const char *expected, const char *const *overrides,
    int use_float, double tol)
{
	struct fixture fx;
	struct nl_tf tf;
	struct nl_err err = { 0 };

	T_CHECK(t_fixture_load(&fx, dir, expected, overrides) == 0);
	if (t_failed_now) {
		t_fixture_free(&fx);
		return;
	}
	size_t nl = (size_t)fx.b * fx.t * fx.cfg.vocab_size;
	T_CHECK(nl_tf_init(&tf, &fx.cfg, &fx.lo, fx.b, fx.t, use_float ? 4 : 8, &err) == 0);
	double loss;
	void *grads, *logits;
	if (use_float) {
		float *p = malloc(fx.lo.total * sizeof *p);
		for (size_t i = 0; i < fx.lo.total; i++)
			p[i] = (float)fx.p[i];
		logits = malloc(nl * sizeof(float));
		grads = calloc(fx.lo.total, sizeof(float));
		loss = nl_tf_forward(&tf, p, fx.ids, fx.tg, fx.b, fx.t, logits) / (double)tf.scored;
		nl_tf_backward(&tf, p, grads, 1.0 / (double)tf.scored);
		free(p);
	} else {
		logits = malloc(nl * sizeof(double));
		grads = calloc(fx.lo.total, sizeof(double));
		loss = nl_tf_forward_f64(&tf, fx.p, fx.ids, fx.tg, fx.b, fx.t, logits) /
		    (double)tf.scored;
		nl_tf_backward_f64(&tf, fx.p, grads, 1.0 / (double)tf.scored);
	}
	const double *want = f64(&fx.expected, "loss", 1);
	T_CHECK(want != NULL);
	if (want) {
		T_CHECK_MSG(fabs(loss - *want) <= tol * fabs(*want), "loss %.12g, reference %.12g", loss,
		    *want);
	}
	const double *wl = f64(&fx.expected, "logits", nl);
	T_CHECK(wl != NULL);
	if (wl) {
		double e = rel_err(logits, use_float, wl, nl);
		T_CHECK_MSG(e <= tol, "logits: relative error %.3g", e);
	}
	double worst = 0;
	for (size_t i = 0; i < fx.lo.n; i++) {
		const struct nl_param *pr = &fx.lo.p[i];
		char name[80];
		snprintf(name, sizeof name, "grad.%s", pr->name);
		const double *wg = f64(&fx.expected, name, pr->numel);
		T_CHECK(wg != NULL);
		if (wg == NULL)
			continue;
		const char *base = (const char *)grads + pr->offset * (use_float ? 4 : 8);
		double e = rel_err(base, use_float, wg, pr->numel);
		T_CHECK_MSG(e <= tol, "%s: relative error %.3g", name, e);
		if (e > worst)
			worst = e;
	}
	printf("# %s%s %s: loss %.12g, worst gradient relative error %.3g\n", dir, expected,
	    use_float ? "float" : "double", loss, worst);
	free(grads);
	free(logits);
	nl_tf_free(&tf);
	t_fixture_free(&fx);
}

#endif
