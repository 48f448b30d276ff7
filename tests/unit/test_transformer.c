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
#include "t_fixture.h"

#define REF "tests/ref/transformer/"

T_TEST(reference_double) { t_reference_check(REF, "expected.npz", NULL, 0, 1e-10); }
T_TEST(reference_float) { t_reference_check(REF, "expected.npz", NULL, 1, 1e-4); }

/* Five AdamW steps with warmup, cosine decay and clipping give the reference's losses,
 * with the batch on one worker or split over several. */
static void
check_trajectory(int threads)
{
	struct fixture fx;
	struct nl_model m;
	struct nl_trainer tr;
	struct nl_err err = { 0 };

	T_CHECK(t_fixture_load(&fx, REF, "expected.npz", NULL) == 0);
	if (t_failed_now) {
		t_fixture_free(&fx);
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
	t_fixture_free(&fx);
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
/* Windows at documents: a rank-2 stream scored with align_doc gives each example's loss as if
 * it were scored alone, with accuracy counted over its scored targets and exact match over
 * examples; the continual-learning summary matches a hand computation. */
T_TEST(eval_documents)
{
	struct nl_config c;
	struct nl_model m;
	struct nl_err err = { 0 };
	nl_config_init(&c);
	c.vocab_size = 40, c.d_model = 16, c.heads = 2, c.layers = 1, c.mlp_hidden = 16;
	c.context = 16;
	T_CHECK(nl_model_create(&m, &c, &err) == 0);
	nl_model_init_params(&m, 5);
	/* examples of 5, 9, 20 (two windows) and 2 rows; scored rows: each example's last 2 */
	static const int len[] = { 5, 9, 20, 2 };
	struct nl_tokens all, one;
	nl_tokens_init(&all);
	all.n = all.cap = 36;
	all.ids = malloc(all.n * sizeof *all.ids);
	all.flags = calloc(all.n, 1);
	size_t at = 0;
	for (int e = 0; e < 4; e++)
		for (int i = 0; i < len[e]; i++, at++) {
			all.ids[at] = (int32_t)((at * 7 + 3) % 40);
			all.flags[at] = (uint8_t)((i == 0 ? NL_DATA_DOC : 0) |
			    (i >= len[e] - 2 && i > 0 ? NL_DATA_SCORE : 0));
		}
	struct nl_tf tf;
	struct nl_eval_result r = { 0 }, alone = { 0 };
	T_CHECK(nl_tf_init(&tf, &m.cfg, &m.lo, 3, 16, 4, &err) == 0);
	T_CHECK(nl_eval_tokens(&tf, m.params, &all, NULL, 0, 1, &r, &err) == 0);
	T_CHECK(r.tokens == 7 && r.examples == 4 && r.exact <= r.examples && r.correct <= 7);
	double sum = 0, correct = 0, exact = 0;
	at = 0;
	for (int e = 0; e < 4; e++) {
		one = all;
		one.ids = all.ids + at, one.flags = all.flags + at, one.n = (size_t)len[e];
		T_CHECK(nl_eval_tokens(&tf, m.params, &one, NULL, 0, 0, &alone, &err) == 0);
		sum += alone.loss_sum, correct += (double)alone.correct;
		exact += (double)alone.exact;
		T_CHECK(alone.examples == 1 && alone.exact == (alone.correct == alone.tokens));
		at += (size_t)len[e];
	}
	T_NEAR(r.loss_sum, sum, 1e-4 * fabs(sum));
	T_CHECK(r.correct == (uint64_t)correct && r.exact == (uint64_t)exact);
	nl_tf_free(&tf);
	nl_tokens_free(&all);
	nl_model_free(&m);
	nl_config_free(&c);

	const double bpb[9] = { 1.0, 3.0, 3.0, 1.5, 1.2, 2.8, 1.8, 1.4, 1.1 }, init[3] = { 4, 4, 4 };
	struct nl_cl_metrics cl;
	nl_eval_cl_metrics(bpb, init, 3, &cl);
	T_NEAR(cl.acc, -4.3 / 3, 1e-12);
	T_NEAR(cl.bwt, -0.5, 1e-12);
	T_NEAR(cl.fwt, 1.1, 1e-12);
	T_NEAR(cl.forgetting, 0.5, 1e-12);
	T_NEAR(cl.learning, -1.1, 1e-12);
}

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
		struct nl_eval_result r = { 0 };
		T_CHECK(nl_tf_init(&tf, &m.cfg, &m.lo, shapes[s][0], shapes[s][1], 4, &err) == 0);
		T_CHECK(nl_eval_tokens(&tf, m.params, &tk, NULL, 0, 0, &r, &err) == 0);
		T_CHECK_MSG(r.tokens == 100, "batch %d seq %d: %llu targets", shapes[s][0], shapes[s][1],
		    (unsigned long long)r.tokens);
		if (s == 0)
			first = r.loss_sum;
		if (shapes[s][1] == 16)   /* same windows, other batching: same sum to rounding */
			T_NEAR(r.loss_sum, first, 1e-4 * fabs(first));
		T_CHECK(nl_eval_tokens(&tf, m.params, &tk, NULL, 10, 0, &r, &err) == 0);
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
	T_RUN(eval_documents);
	T_RUN(eval_windows);
	return t_done();
}
