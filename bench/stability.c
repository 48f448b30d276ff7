/* nl — see LICENSE. The stability grid of MODEL §1.3 / §8.15, one configuration per run:
 * a memory model at a preset with every memory's W1 ~ N(0, s²/d_h), forward only (no outer
 * updates) over 4,096 bytes of real text, as sequences of T tokens (state reset per
 * sequence) or, with T = 4096, as one stream. Prints one TSV row: the configuration, the
 * first token whose logits are not finite (-1: none), the mean loss, and the largest
 * Frobenius norms of W1 and W2 of every memory at any write boundary.
 * Usage: stability TEXT FAMILY PRESET S ETA_MAX RULE T (bench/stability.sh runs the grid). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "model.h"
#include "transformer.h"

int
main(int argc, char **argv)
{
	nl_cli_blas_core(argv);
	enum { N = 4096 };
	if (argc != 8) {
		fprintf(stderr, "usage: stability text family preset s eta_max rule T\n");
		return 2;
	}
	unsigned char text[N + 1];
	FILE *f = fopen(argv[1], "rb");
	if (f == NULL || fread(text, 1, sizeof text, f) != sizeof text) {
		fprintf(stderr, "stability: %s: cannot read %d bytes\n", argv[1], N + 1);
		return 1;
	}
	fclose(f);
	int t = atoi(argv[7]), b = N / t;
	struct nl_config c;
	struct nl_err err = { 0 };
	char kv[5][96];
	nl_config_init(&c);
	snprintf(kv[0], sizeof kv[0], "model=%s", argv[2]);
	snprintf(kv[1], sizeof kv[1], "mem.w1_scale=%s", argv[4]);
	snprintf(kv[2], sizeof kv[2], "eta_max=%s", argv[5]);
	snprintf(kv[3], sizeof kv[3], "inner_step=%s", argv[6]);
	snprintf(kv[4], sizeof kv[4], "context=%d", t);
	if (nl_config_load(&c, argv[3], &err))
		goto fail;
	for (int i = 0; i < 5; i++)
		if (nl_config_set_arg(&c, kv[i], &err))
			goto fail;
	c.vocab_size = 257;
	struct nl_model m;
	struct nl_tf tf;
	if (nl_model_create(&m, &c, &err))
		goto fail;
	nl_model_init_params(&m, 1);
	if (nl_tf_init(&tf, &m.cfg, &m.lo, b, t, sizeof(float), &err))
		goto fail;
	int32_t *ids = malloc(sizeof *ids * N), *tg = malloc(sizeof *tg * N);
	float *logits = malloc(sizeof *logits * (size_t)N * 257);
	for (int i = 0; i < N; i++) {
		ids[i] = text[i];
		tg[i] = text[i + 1];
	}
	double loss = nl_tf_forward(&tf, m.params, ids, tg, b, t, logits) / N;
	int first = -1;
	for (int i = 0; i < N && first < 0; i++)
		for (int v = 0; v < 257; v++)
			if (!isfinite(logits[(size_t)i * 257 + v])) {
				first = i;
				break;
			}
	double w1[NL_MU_COUNT], w2[NL_MU_COUNT];
	nl_mem_norms(&tf.mem, m.params, w1, w2);
	printf("%s\t%s\t%s\t%s\t%s\t%d\t%d\t%.4f", argv[2], argv[3], argv[4], argv[5], argv[6], t,
	    first, loss);
	for (int u = 0; u < NL_MU_COUNT; u++)   /* M_q (adaptive_q) is not in the grid */
		if (u != NL_MU_Q)
			printf("\t%.4g\t%.4g", w1[u], w2[u]);
	printf("\n");
	free(ids);
	free(tg);
	free(logits);
	nl_tf_free(&tf);
	nl_model_free(&m);
	nl_config_free(&c);
	return 0;
fail:
	fprintf(stderr, "stability: %s\n", err.msg);
	return 1;
}
