/* nl — see LICENSE. A model at the unit tests' size for stream tests (test_state.c,
 * test_probe.c): d 16, 2 heads, 2 layers, hidden 12, CMS levels of periods 4, 8 and
 * outer-only at cms.lr 0.1, memory chunks 8 (M_mem) and 4 (the others), vocabulary vocab;
 * parameters drawn as their init rule's mean (0 or 1) plus N(0, 0.3²) from seed. */
#ifndef NL_T_MODEL_H
#define NL_T_MODEL_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "layout.h"
#include "rng.h"
#include "transformer.h"

struct t_model {
	struct nl_config c;
	struct nl_layout lo;
	struct nl_tf tf;
	float *p;
};

/* family ("model=…") and extra (a key=value, or NULL) over the test size; an nl_tf for b
 * sequences of t tokens. 0, or -1 with the reason printed. */
static int
t_model_make(struct t_model *m, const char *family, const char *extra, int vocab, int b,
    int t, uint64_t seed)
{
	const char *sets[] = { family, "d_model=16", "heads=2", "layers=2", "mlp.hidden=12",
		"cms.hidden=12", "cms.periods=4,8,0", "cms.lr=0.1", "chunk_memory=8",
		"chunk_other=4", "m3.period=3", extra };
	struct nl_err err = { 0 };
	memset(m, 0, sizeof *m);
	nl_config_init(&m->c);
	for (size_t i = 0; i < sizeof sets / sizeof *sets; i++)
		if (sets[i] && nl_config_set_arg(&m->c, sets[i], &err))
			goto fail;
	m->c.vocab_size = vocab;
	if (nl_layout_build(&m->lo, &m->c, &err) ||
	    nl_tf_init(&m->tf, &m->c, &m->lo, b, t, sizeof(float), &err))
		goto fail;
	struct nl_rng rng;
	nl_rng_seed(&rng, seed);
	m->p = calloc(m->lo.total, sizeof *m->p);
	if (m->p == NULL)
		abort();
	for (size_t i = 0; i < m->lo.n; i++)
		for (size_t j = 0; j < m->lo.p[i].numel; j++)
			m->p[m->lo.p[i].offset + j] = (float)((m->lo.p[i].init == NL_INIT_ONES) +
			    0.3 * nl_rng_normal(&rng));
	return 0;
fail:
	printf("# %s: %s\n", family, err.msg);
	return -1;
}

static void
t_model_free(struct t_model *m)
{
	nl_tf_free(&m->tf);
	nl_layout_free(&m->lo);
	nl_config_free(&m->c);
	free(m->p);
}
#endif
