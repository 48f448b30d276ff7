/* nl — see LICENSE. One training step taken apart: milliseconds of the forward, the backward
 * and the AdamW update, and model GFLOP/s, at a given shape, family and thread count. The
 * phase breakdown `bench/train` cannot see (it times whole steps).
 * Usage: build/bench/step threads [d_model layers mlp.hidden seq batch [model [steps [optim]]]]
 * (default: nanoGPT's baby shape 128 4 344 64 12, transformer, adamw; 4 heads, vocabulary 257;
 * mlp.hidden is also the CMS levels' width). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "kernels.h"
#include "model.h"
#include "optim.h"
#include "transformer.h"

int
main(int argc, char **argv)
{
	nl_cli_blas_core(argv);
	int threads = argc > 1 ? atoi(argv[1]) : 1;
	int d = 128, layers = 4, hidden = 344, t = 64, b = 12, steps = 30;
	struct nl_config c;
	struct nl_model m;
	struct nl_tf tf;
	struct nl_err err = { 0, "" };

	if (argc > 6) {
		d = atoi(argv[2]), layers = atoi(argv[3]), hidden = atoi(argv[4]);
		t = atoi(argv[5]), b = atoi(argv[6]);
		steps = argc > 8 ? atoi(argv[8]) : 5;
	}
	nl_config_init(&c);
	if ((argc > 7 && nl_config_set(&c, "model", argv[7], &err)) ||
	    (argc > 9 && nl_config_set(&c, "optim", argv[9], &err))) {
		fprintf(stderr, "step: %s\n", err.msg);
		return 1;
	}
	c.vocab_size = 257, c.d_model = d, c.layers = layers, c.heads = 4, c.mlp_hidden = hidden;
	c.cms_hidden = hidden;   /* the CMS families' level width */
	c.context = t;
	if (nl_model_create(&m, &c, &err) || nl_tf_init(&tf, &m.cfg, &m.lo, b, t, sizeof(float), &err)) {
		fprintf(stderr, "step: %s\n", err.msg);
		return 1;
	}
	nl_model_init_params(&m, 1);
	nl_model_set_threads(threads);
	int32_t *ids = malloc((size_t)b * t * sizeof *ids), *tg = malloc((size_t)b * t * sizeof *tg);
	float *g = calloc(m.lo.total, sizeof *g);
	struct nl_optim o;
	if (nl_optim_init(&o, &m.cfg, &m.lo, 1, &err)) {
		fprintf(stderr, "step: %s\n", err.msg);
		return 1;
	}
	struct nl_keylog keys = { 0 };
	const struct nl_keylog *logs[1] = { &keys };
	if (o.kind == NL_OPTIM_DGD)      /* dgd steps by the keys the backward records */
		tf.keys = &keys;
	for (int i = 0; i < b * t; i++)
		ids[i] = i * 7 % 257, tg[i] = i * 13 % 257;
	double fwd = 0, bwd = 0, opt = 0;
	for (int s = 0; s < steps + 3; s++) {
		double t0 = nl_cli_seconds();
		nl_tf_forward(&tf, m.params, ids, tg, b, t, NULL);
		double t1 = nl_cli_seconds();
		memset(g, 0, m.lo.total * sizeof *g);
		nl_keylog_clear(&keys);
		nl_tf_backward(&tf, m.params, g, 1.0 / (b * t));
		double t2 = nl_cli_seconds();
		nl_optim_set_keys(&o, logs, 1, 1);
		nl_optim_step(&o, m.params, g, 1e-4);
		double t3 = nl_cli_seconds();
		if (s >= 3)   /* warm-up steps left out */
			fwd += t1 - t0, bwd += t2 - t1, opt += t3 - t2;
	}
	double step = (fwd + bwd + opt) / steps;
	printf("threads %d d %d L %d f %d T %d B %d: forward %.2f ms, backward %.2f ms, %s %.2f ms, "
	    "step %.2f ms, %.1f model GFLOP/s\n", threads, d, layers, hidden, t, b, fwd / steps * 1e3,
	    bwd / steps * 1e3, m.cfg.optim, opt / steps * 1e3, step * 1e3,
	    nl_tf_train_flops(&tf, b, t) / step / 1e9);
	free(ids), free(tg), free(g);
	nl_optim_free(&o);
	nl_keylog_free(&keys);
	nl_tf_free(&tf);
	nl_model_free(&m);
	nl_config_free(&c);
	return 0;
}
