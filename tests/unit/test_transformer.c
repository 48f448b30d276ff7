/* nl — see LICENSE. The Transformer++ model: against the independent PyTorch reference of
 * tests/ref (loss, logits, every gradient, a 5-step AdamW trajectory), whole-model finite
 * differences, parameter counts of the presets, evaluation windows. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "t.h"
#include "config.h"
#include "convert.h"
#include "eval.h"
#include "layout.h"
#include "model.h"
#include "train.h"
#include "transformer.h"

#define REF "tests/ref/transformer/"

static int
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

static double *
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

static int
fixture_load(struct fixture *fx)
{
	struct nl_err err = { 0 };
	FILE *f = fopen(REF "config", "rb");
	char text[4096];
	size_t n = f ? fread(text, 1, sizeof text, f) : 0;

	memset(fx, 0, sizeof *fx);
	if (f)
		fclose(f);
	nl_config_init(&fx->cfg);
	if (n == 0 || nl_config_parse(&fx->cfg, text, n, &err) || nl_layout_build(&fx->lo, &fx->cfg, &err)) {
		printf("# config: %s\n", err.msg);
		return -1;
	}
	if (load(REF "params.npz", &fx->params) || load(REF "batch.npz", &fx->batch) ||
	    load(REF "expected.npz", &fx->expected))
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

static void
fixture_free(struct fixture *fx)
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
static double
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

/* Loss, logits and all gradients, in double (tolerance tol64) and in float (1e-4). */
static void
check_against_reference(int use_float)
{
	struct fixture fx;
	struct nl_tf tf;
	struct nl_err err = { 0 };

	T_CHECK(fixture_load(&fx) == 0);
	if (t_failed_now) {
		fixture_free(&fx);
		return;
	}
	size_t nl = (size_t)fx.b * fx.t * fx.cfg.vocab_size;
	double tol = use_float ? 1e-4 : 1e-10;
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
	printf("# %s: loss %.12g, worst gradient relative error %.3g\n",
	    use_float ? "float" : "double", loss, worst);
	free(grads);
	free(logits);
	nl_tf_free(&tf);
	fixture_free(&fx);
}

T_TEST(reference_double) { check_against_reference(0); }
T_TEST(reference_float) { check_against_reference(1); }

/* Five AdamW steps with warmup, cosine decay and clipping give the reference's losses,
 * with the batch on one worker or split over several. */
static void
check_trajectory(int threads)
{
	struct fixture fx;
	struct nl_model m;
	struct nl_trainer tr;
	struct nl_err err = { 0 };

	T_CHECK(fixture_load(&fx) == 0);
	if (t_failed_now) {
		fixture_free(&fx);
		return;
	}
	T_CHECK(nl_model_create(&m, &fx.cfg, &err) == 0);
	for (size_t i = 0; i < fx.lo.total; i++)
		m.params[i] = (float)fx.p[i];
	T_CHECK(nl_trainer_init(&tr, &m, threads, &err) == 0);
	const double *traj = f64(&fx.expected, "traj", (size_t)fx.cfg.train_steps + 1);
	T_CHECK(traj != NULL);
	for (int s = 0; traj && s < fx.cfg.train_steps; s++) {
		double loss, gnorm, lr;
		T_CHECK(nl_trainer_step_batch(&tr, fx.ids, fx.tg, &loss, &gnorm, &lr, &err) == 0);
		T_CHECK_MSG(fabs(loss - traj[s]) <= 1e-4 * traj[s], "step %d: loss %.9g, reference %.9g",
		    s, loss, traj[s]);
	}
	if (traj) {
		struct nl_tf tf;
		T_CHECK(nl_tf_init(&tf, &m.cfg, &m.lo, fx.b, fx.t, sizeof(float), &err) == 0);
		double sum = nl_tf_forward(&tf, m.params, fx.ids, fx.tg, fx.b, fx.t, NULL);
		double last = sum / (double)tf.scored;
		nl_tf_free(&tf);
		int s = (int)fx.cfg.train_steps;
		T_CHECK_MSG(fabs(last - traj[s]) <= 1e-4 * traj[s], "after: loss %.9g, reference %.9g",
		    last, traj[s]);
	}
	nl_trainer_free(&tr);
	nl_model_free(&m);
	fixture_free(&fx);
}

T_TEST(reference_trajectory) { check_trajectory(1); }
T_TEST(reference_trajectory_2_workers) { check_trajectory(2); }
T_TEST(reference_trajectory_3_workers) { check_trajectory(3); }

/* Whole-model central differences in double (what nl-train --check-gradients runs). */
T_TEST(gradcheck)
{
	struct nl_config c;
	struct nl_gradcheck *rows;
	size_t n;
	struct nl_err err = { 0 };

	nl_config_init(&c);
	T_CHECK(nl_model_gradcheck(&c, 7, &rows, &n, &err) == 0);
	T_CHECK(n == 1 + 2 * 7 + 1);
	double worst = 0;
	for (size_t i = 0; i < n; i++) {
		T_CHECK_MSG(rows[i].worst_rel < 1e-6, "%s: %.3g", rows[i].name, rows[i].worst_rel);
		T_CHECK(rows[i].checked > 0);
		if (rows[i].worst_rel > worst)
			worst = rows[i].worst_rel;
	}
	printf("# worst relative error over %zu tensors: %.3g\n", n, worst);
	free(rows);
	nl_config_free(&c);
}

/* All tensors at once: the derivative along the gradient direction equals ‖g‖². */
T_TEST(directional_derivative)
{
	struct nl_config c;
	struct nl_layout lo;
	struct nl_tf tf;
	struct nl_err err = { 0 };
	int32_t ids[8] = { 1, 2, 3, 4, 5, 6, 7, 8 }, tg[8] = { 2, 3, 4, 5, 6, 7, 8, 9 };

	nl_config_init(&c);
	c.vocab_size = 11;
	c.d_model = 8;
	c.heads = 2;
	c.layers = 1;
	c.mlp_hidden = 8;
	c.context = 8;
	T_CHECK(nl_layout_build(&lo, &c, &err) == 0);
	T_CHECK(nl_tf_init(&tf, &c, &lo, 1, 8, 8, &err) == 0);
	double *p = calloc(lo.total, 8), *g = calloc(lo.total, 8);
	for (size_t i = 0; i < lo.total; i++)
		p[i] = sin((double)i);
	double base = nl_tf_forward_f64(&tf, p, ids, tg, 1, 8, NULL);
	nl_tf_backward_f64(&tf, p, g, 1.0);
	/* directional derivative along the gradient = ‖g‖² */
	double gg = 0, h = 1e-6;
	for (size_t i = 0; i < lo.total; i++)
		gg += g[i] * g[i];
	double *q = malloc(lo.total * 8);
	for (size_t i = 0; i < lo.total; i++)
		q[i] = p[i] + h * g[i];
	double up = nl_tf_forward_f64(&tf, q, ids, tg, 1, 8, NULL);
	for (size_t i = 0; i < lo.total; i++)
		q[i] = p[i] - h * g[i];
	double down = nl_tf_forward_f64(&tf, q, ids, tg, 1, 8, NULL);
	T_CHECK_MSG(fabs((up - down) / (2 * h) - gg) <= 1e-6 * gg, "fd %.12g, ‖g‖² %.12g",
	    (up - down) / (2 * h), gg);
	(void)base;
	free(p);
	free(g);
	free(q);
	nl_tf_free(&tf);
	nl_layout_free(&lo);
	nl_config_free(&c);
}

/* MODEL §2.6: transformer presets at V = 128 (tiny), 256 (small), 4096 (base). */
T_TEST(parameter_counts)
{
	static const struct { const char *preset; int64_t vocab; size_t count; } want[] = {
		{ "tiny", 128, 615040 }, { "small", 256, 8572160 }, { "base", 4096, 18878720 },
	};
	struct nl_err err = { 0 };
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		struct nl_config c;
		struct nl_layout lo;
		nl_config_init(&c);
		T_CHECK(nl_config_set(&c, "preset", want[i].preset, &err) == 0);
		c.vocab_size = want[i].vocab;
		T_CHECK(nl_layout_build(&lo, &c, &err) == 0);
		T_CHECK_MSG(nl_layout_count(&lo) == want[i].count, "%s: %zu parameters, MODEL says %zu",
		    want[i].preset, nl_layout_count(&lo), want[i].count);
		nl_layout_free(&lo);
		nl_config_free(&c);
	}
}

/* Evaluation scores every target exactly once, whatever the window and batch sizes. */
T_TEST(eval_windows)
{
	struct nl_config c;
	struct nl_model m;
	struct nl_tokens tk;
	struct nl_err err = { 0 };
	double first = 0;

	nl_config_init(&c);
	c.vocab_size = 300;
	c.d_model = 16;
	c.heads = 2;
	c.layers = 1;
	c.mlp_hidden = 16;
	c.context = 16;
	T_CHECK(nl_model_create(&m, &c, &err) == 0);
	nl_model_init_params(&m, 3);
	nl_tokens_init(&tk);
	tk.n = tk.cap = 101;
	tk.ids = malloc(tk.n * sizeof *tk.ids);
	for (size_t i = 0; i < tk.n; i++)
		tk.ids[i] = (int32_t)((i * 37) % 300);
	static const int shapes[][2] = { { 1, 16 }, { 3, 16 }, { 4, 7 }, { 2, 100 }, { 5, 1 } };
	for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
		struct nl_tf tf;
		struct nl_eval_result r;
		T_CHECK(nl_tf_init(&tf, &m.cfg, &m.lo, shapes[s][0], shapes[s][1], 4, &err) == 0);
		T_CHECK(nl_eval_tokens(&tf, m.params, &tk, NULL, 0, &r, &err) == 0);
		T_CHECK_MSG(r.tokens == 100, "batch %d seq %d: %llu targets", shapes[s][0], shapes[s][1],
		    (unsigned long long)r.tokens);
		if (s == 0)
			first = r.loss_sum;
		if (shapes[s][1] == 16)   /* same windows, other batching: same sum to rounding */
			T_NEAR(r.loss_sum, first, 1e-4 * fabs(first));
		T_CHECK(nl_eval_tokens(&tf, m.params, &tk, NULL, 10, &r, &err) == 0);
		T_CHECK(r.tokens == 10);
		nl_tf_free(&tf);
	}
	nl_tokens_free(&tk);
	nl_model_free(&m);
	nl_config_free(&c);
}

int
main(void)
{
	T_RUN(reference_double);
	T_RUN(reference_float);
	T_RUN(reference_trajectory);
	T_RUN(reference_trajectory_2_workers);
	T_RUN(reference_trajectory_3_workers);
	T_RUN(gradcheck);
	T_RUN(directional_derivative);
	T_RUN(parameter_counts);
	T_RUN(eval_windows);
	return t_done();
}
