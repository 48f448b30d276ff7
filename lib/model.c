/* nl — see LICENSE. Models: parameters by name, checkpoints, threads, the gradient check. */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef NL_BLAS_OPENBLAS
#include <cblas.h>
#endif

#include "model.h"
#include "rng.h"
#include "tfile.h"
#include "transformer.h"

int
nl_model_create(struct nl_model *m, const struct nl_config *cfg, struct nl_err *err)
{
	memset(m, 0, sizeof *m);
	nl_config_init(&m->cfg);
	if (nl_config_copy(&m->cfg, cfg, err) || nl_config_check(&m->cfg, err) ||
	    nl_layout_build(&m->lo, &m->cfg, err))
		goto fail;
	m->params = calloc(m->lo.total, sizeof *m->params);
	if (m->params == NULL) {
		nl_err_set(err, NL_ENOMEM, "out of memory for %zu parameters", m->lo.total);
		goto fail;
	}
	return 0;
fail:
	nl_model_free(m);
	return -1;
}

void
nl_model_free(struct nl_model *m)
{
	nl_config_free(&m->cfg);
	nl_layout_free(&m->lo);
	free(m->params);
	if (m->tok)
		nl_tok_free(m->tok);
	memset(m, 0, sizeof *m);
}

void
nl_model_init_params(struct nl_model *m, uint64_t seed)
{
	struct nl_rng rng;
	double std = m->cfg.init_std;
	double out_std = std / sqrt(2.0 * (double)m->cfg.layers);

	nl_rng_seed(&rng, seed);
	for (size_t i = 0; i < m->lo.n; i++) {
		const struct nl_param *p = &m->lo.p[i];
		float *w = m->params + p->offset;
		for (size_t j = 0; j < p->numel; j++) {
			switch (p->init) {
			case NL_INIT_ONES:
				w[j] = 1.0f;
				break;
			case NL_INIT_NORMAL:
				w[j] = (float)(std * nl_rng_normal(&rng));
				break;
			case NL_INIT_NORMAL_OUT:
				w[j] = (float)(out_std * nl_rng_normal(&rng));
				break;
			case NL_INIT_STD:
				w[j] = p->init_arg > 0 ? (float)(p->init_arg * nl_rng_normal(&rng)) : 0;
				break;
			case NL_INIT_CONST:
				w[j] = (float)p->init_arg;
				break;
			case NL_INIT_CONV:
				w[j] = j / (p->numel / 4) == 3 ? 1.0f : 0.0f;
				break;
			}
		}
	}
}

int
nl_model_export(const struct nl_model *m, struct nl_tset *ts, struct nl_err *err)
{
	if (nl_meta_set(&ts->meta, "kind", "params", err) ||
	    nl_meta_set(&ts->meta, "model", m->cfg.model, err))
		return -1;
	return nl_layout_export(&m->lo, m->params, "", ts, err);
}

int
nl_model_import(struct nl_model *m, const struct nl_tset *ts, int partial, struct nl_err *err)
{
	size_t found = 0;

	for (size_t i = 0; i < ts->n; i++) {
		const struct nl_tensor *t = &ts->t[i];
		const struct nl_param *p = nl_layout_find(&m->lo, t->info.name);
		if (p == NULL) {
			if (partial)
				continue;
			return nl_err_set(err, NL_EFORMAT, "tensor '%s' is not a parameter of this %s model",
			    t->info.name, m->cfg.model);
		}
		int same = t->info.rank == p->rank;
		for (int k = 0; same && k < p->rank; k++)
			same = t->info.dims[k] == (uint64_t)p->dims[k];
		if (!same) {
			char got[128], want[128];
			struct nl_tinfo w = t->info;
			for (int k = 0; k < p->rank; k++)
				w.dims[k] = (uint64_t)p->dims[k];
			w.rank = p->rank;
			nl_tinfo_shape_str(&t->info, got, sizeof got);
			nl_tinfo_shape_str(&w, want, sizeof want);
			return nl_err_set(err, NL_EFORMAT, "tensor '%s' has shape %s, the model needs %s",
			    p->name, got, want);
		}
		if (!nl_dtype_is_float(t->info.dtype))
			return nl_err_set(err, NL_EFORMAT, "tensor '%s' is %s, not a float type", p->name,
			    nl_dtype_name(t->info.dtype));
		if (nl_dtype_convert(m->params + p->offset, NL_DTYPE_F32, t->data, t->info.dtype,
		    p->numel, err)) {
			nl_err_prefix(err, "tensor '%s'", p->name);
			return -1;
		}
		found++;
	}
	if (found < m->lo.n && !partial) {
		for (size_t i = 0; i < m->lo.n; i++)
			if (nl_tset_find(ts, m->lo.p[i].name) == NULL)
				return nl_err_set(err, NL_EFORMAT, "no tensor '%s' (%zu of %zu parameters missing)",
				    m->lo.p[i].name, m->lo.n - found, m->lo.n);
	}
	return 0;
}

/* Add the bytes written to mem as member name; closes mem. */
static int
add_member(struct nl_ckpt *ck, const char *name, struct nl_io *mem, struct nl_err *err)
{
	size_t len;
	unsigned char *data = nl_io_mem_take(mem, &len);
	int rc = data == NULL && len > 0 ? nl_err_set(err, NL_ENOMEM, "out of memory") :
	    nl_ckpt_add(ck, name, data, len, err);
	free(data);
	nl_io_abort(mem);
	return rc;
}

int
nl_model_to_ckpt(const struct nl_model *m, struct nl_ckpt *ck, struct nl_err *err)
{
	char *text = NULL;
	size_t len;
	struct nl_io mem;
	struct nl_tset ts;

	if (nl_config_format(&m->cfg, &text, &len, err))
		return -1;
	size_t head_len = strlen("format = " NL_CKPT_FORMAT "\n");
	char *cfg = malloc(head_len + len);
	if (cfg == NULL) {
		free(text);
		return nl_err_set(err, NL_ENOMEM, "out of memory");
	}
	memcpy(cfg, "format = " NL_CKPT_FORMAT "\n", head_len);
	memcpy(cfg + head_len, text, len);
	free(text);
	int rc = nl_ckpt_add(ck, "config", cfg, head_len + len, err);
	free(cfg);
	if (rc)
		return -1;

	nl_tset_init(&ts);
	nl_io_open_mem_write(&mem);
	if (nl_model_export(m, &ts, err) || nl_tfile_write_tset(&mem, &ts, NL_CKPT_LEVEL, err) ||
	    nl_io_flush(&mem, err)) {
		nl_io_abort(&mem);
		rc = -1;
	} else {
		rc = add_member(ck, "params.nlt", &mem, err);
	}
	nl_tset_free(&ts);
	if (rc || m->tok == NULL)
		return rc;

	nl_io_open_mem_write(&mem);
	if (nl_tok_save(m->tok, &mem, err) || nl_io_flush(&mem, err)) {
		nl_io_abort(&mem);
		return -1;
	}
	return add_member(ck, "tokenizer.nlt", &mem, err);
}

int
nl_ckpt_member_tset(const struct nl_ckpt *ck, const char *name, struct nl_tset *ts,
    struct nl_err *err)
{
	const struct nl_ckpt_member *mb = nl_ckpt_find(ck, name);
	struct nl_io in;

	if (mb == NULL)
		return nl_err_set(err, NL_EFORMAT, "no %s member", name);
	nl_io_open_mem_read(&in, mb->data, mb->len);
	int rc = nl_tfile_read_tset(&in, ts, err);
	nl_io_abort(&in);
	if (rc)
		nl_err_prefix(err, "%s", name);
	return rc;
}

int
nl_ckpt_config(const struct nl_ckpt *ck, struct nl_config *cfg, struct nl_err *err)
{
	const struct nl_ckpt_member *mb = nl_ckpt_find(ck, "config");

	if (mb == NULL)
		return nl_err_set(err, NL_EFORMAT, "no config member");
	if (nl_config_parse(cfg, (const char *)mb->data, mb->len, err)) {
		nl_err_prefix(err, "config");
		return -1;
	}
	return 0;
}

int
nl_model_load_ckpt(struct nl_model *m, const struct nl_ckpt *ck, int partial, struct nl_err *err)
{
	const struct nl_ckpt_member *mb;
	struct nl_tset ts;
	int rc = -1;

	nl_tset_init(&ts);
	if (nl_ckpt_member_tset(ck, "params.nlt", &ts, err))
		goto out;
	const char *kind = nl_meta_get(&ts.meta, "kind");
	if (kind == NULL || strcmp(kind, "params") != 0) {
		nl_err_set(err, NL_EFORMAT, "params.nlt: not a parameter file (kind=%s)",
		    kind ? kind : "none");
		goto out;
	}
	if (nl_model_import(m, &ts, partial, err)) {
		nl_err_prefix(err, "params.nlt");
		goto out;
	}
	if ((mb = nl_ckpt_find(ck, "tokenizer.nlt")) != NULL) {
		struct nl_io in;
		nl_io_open_mem_read(&in, mb->data, mb->len);
		int bad = nl_tok_load(&m->tok, &in, err);
		nl_io_abort(&in);
		if (bad) {
			nl_err_prefix(err, "tokenizer.nlt");
			goto out;
		}
		if (nl_tok_vocab_size(m->tok) > (uint32_t)m->cfg.vocab_size) {
			nl_err_set(err, NL_EFORMAT, "tokenizer.nlt has %u ids, the model %lld",
			    nl_tok_vocab_size(m->tok), (long long)m->cfg.vocab_size);
			goto out;
		}
	}
	rc = 0;
out:
	nl_tset_free(&ts);
	return rc;
}

/* nl_model_from_ckpt with key=value overrides between the config and the parameters. */
static int
from_ckpt(struct nl_model *m, const struct nl_ckpt *ck, const char *const *defs, int ndefs,
    struct nl_err *err)
{
	struct nl_config cfg;
	int rc = -1;

	memset(m, 0, sizeof *m);
	nl_config_init(&cfg);
	if (nl_ckpt_config(ck, &cfg, err) == 0) {
		int i = 0;
		while (i < ndefs && nl_config_set_arg(&cfg, defs[i], err) == 0)
			i++;
		if (i < ndefs) {
			char why[sizeof err->msg];
			memcpy(why, err->msg, sizeof why);
			nl_err_set(err, NL_EUSAGE, "-D: %.*s", (int)sizeof why - 8, why);
		} else if (nl_model_create(m, &cfg, err) == 0) {
			rc = nl_model_load_ckpt(m, ck, 0, err);
			if (rc)
				nl_model_free(m);
		}
	}
	nl_config_free(&cfg);
	return rc;
}

int
nl_model_from_ckpt(struct nl_model *m, const struct nl_ckpt *ck, struct nl_err *err)
{
	return from_ckpt(m, ck, NULL, 0, err);
}

int
nl_model_open(struct nl_model *m, const char *path, const char *const *defs, int ndefs,
    char *skipped, struct nl_err *err)
{
	struct nl_ckpt ck;
	nl_ckpt_init(&ck);
	memset(m, 0, sizeof *m);
	int rc = nl_ckpt_read(&ck, path, NL_CKPT_SKIP_TRAINING, err);
	if (rc == 0)
		rc = from_ckpt(m, &ck, defs, ndefs, err);
	if (rc == 0 && skipped)
		memcpy(skipped, ck.skipped, sizeof ck.skipped);
	nl_ckpt_free(&ck);
	return rc;
}

int
nl_model_check_stream(const struct nl_model *m, const struct nl_tokens *tk, struct nl_err *err)
{
	uint32_t vocab = tk->vocab ? tk->vocab : m->tok ? nl_tok_vocab_size(m->tok) : 0;
	const char *hash = nl_meta_get(&tk->meta, "tokenizer.hash");

	if (vocab > m->cfg.vocab_size)
		return nl_err_set(err, NL_EFORMAT, "token stream vocabulary %" PRIu32
		    " exceeds the model's %lld", vocab, (long long)m->cfg.vocab_size);
	if (m->tok && hash && strcmp(hash, nl_tok_hash(m->tok)) != 0)
		return nl_err_set(err, NL_EFORMAT, "tokenized with another tokenizer than the model's");
	return 0;
}

void
nl_model_set_threads(int n)
{
#ifdef NL_BLAS_OPENBLAS
	openblas_set_num_threads(n);
#else
	(void)n;
#endif
}

/* The loss of the double model at params (mean over scored targets). */
static double
gradcheck_loss(struct nl_tf *tf, const double *params, const int32_t *ids, const int32_t *tg,
    int b, int t)
{
	double sum = nl_tf_forward_f64(tf, params, ids, tg, b, t, NULL);
	return sum / (double)tf->scored;
}

int
nl_model_gradcheck(const struct nl_config *cfg, uint64_t seed, struct nl_gradcheck **rows,
    size_t *nrows, struct nl_err *err)
{
	enum { B = 2, TMAX = 12 };
	struct nl_config c;
	struct nl_layout lo;
	struct nl_tf tf;
	struct nl_rng rng;
	int32_t ids[B * TMAX], tg[B * TMAX];
	double *p = NULL, *g = NULL;
	int rc = -1;

	*rows = NULL;
	*nrows = 0;
	memset(&lo, 0, sizeof lo);
	memset(&tf, 0, sizeof tf);
	nl_config_init(&c);
	if (nl_config_copy(&c, cfg, err))
		goto out;
	c.vocab_size = 11;
	c.d_model = 16;
	c.heads = 2;
	c.layers = c.layers < 2 ? c.layers : 2;
	c.mlp_hidden = 24;
	c.cms_hidden = 24;
	/* CMS: two levels that step inside the sequence (teach window 2) and an outer-only one,
	 * with a step large enough that the updates matter */
	snprintf(c.cms_periods, sizeof c.cms_periods, "2,4,0");
	c.cms_teach = 0;
	c.cms_lr = 0.1;
	/* memories: three chunks, so a write carries momentum into the next write; selfmod
	 * writes its other memories twice per M_mem chunk */
	int T = nl_mem_family(&c) ? 12 : 8;
	if (nl_mem_family(&c)) {
		c.chunk_memory = 4;
		c.chunk_other = 2;
	}
	c.context = T;
	c.train_seq_len = T;
	if (nl_config_check(&c, err) || nl_layout_build(&lo, &c, err) ||
	    nl_tf_init(&tf, &c, &lo, B, T, sizeof(double), err))
		goto out;
	p = calloc(lo.total, sizeof *p);
	g = calloc(lo.total, sizeof *g);
	*rows = calloc(lo.n, sizeof **rows);
	if (p == NULL || g == NULL || *rows == NULL) {
		nl_err_set(err, NL_ENOMEM, "out of memory");
		goto out;
	}
	/* weights well away from their initialisation so every path carries signal; gate
	 * biases stay near theirs, so the memories retain (α ≈ 0.98) what later chunks read */
	nl_rng_seed(&rng, seed);
	for (size_t i = 0; i < lo.n; i++) {
		const struct nl_param *pr = &lo.p[i];
		double centre = pr->init == NL_INIT_ONES ? 1.0 : pr->init == NL_INIT_CONST ?
		    pr->init_arg : 0.0;
		for (size_t j = 0; j < pr->numel; j++)
			p[pr->offset + j] = centre + 0.4 * nl_rng_normal(&rng);
	}
	for (int i = 0; i < B * T; i++) {
		ids[i] = (int32_t)nl_rng_below(&rng, (uint64_t)c.vocab_size);
		tg[i] = (int32_t)nl_rng_below(&rng, (uint64_t)c.vocab_size);
	}
	tg[3] = tg[B * T - 1] = -1;

	gradcheck_loss(&tf, p, ids, tg, B, T);
	nl_tf_backward_f64(&tf, p, g, 1.0 / (double)tf.scored);
	/* first | none: differences of the truncated objective (memmix.h); CMS levels are
	 * first-order in every mode (D6): their in-context updates held at the base run's */
	if ((tf.memfam && tf.mem.meta != NL_META_FULL && nl_mem_freeze_f64(&tf.mem, p)) ||
	    nl_tf_freeze_f64(&tf, p)) {
		nl_err_set(err, NL_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < lo.n; i++) {
		const struct nl_param *pr = &lo.p[i];
		struct nl_gradcheck *r = &(*rows)[i];
		snprintf(r->name, sizeof r->name, "%s", pr->name);
		r->numel = pr->numel;
		for (size_t j = 0; j < pr->numel; j++)
			r->grad_norm += g[pr->offset + j] * g[pr->offset + j];
		r->grad_norm = sqrt(r->grad_norm);
		size_t k = pr->numel < 48 ? pr->numel : 48;
		double scale = 0;
		for (size_t s = 0; s < k; s++) {
			size_t j = pr->offset + (k == pr->numel ? s : nl_rng_below(&rng, pr->numel));
			const double h = 1e-5;
			double keep = p[j];
			p[j] = keep + h;
			double up = gradcheck_loss(&tf, p, ids, tg, B, T);
			p[j] = keep - h;
			double down = gradcheck_loss(&tf, p, ids, tg, B, T);
			p[j] = keep;
			double fd = (up - down) / (2 * h), an = g[j];
			scale = fmax(scale, fmax(fabs(an), fabs(fd)));
			r->worst_abs = fmax(r->worst_abs, fabs(an - fd));
		}
		/* relative to the tensor's largest derivative: the differences carry an absolute
		 * rounding error (~1e-10 here) on every coordinate, which would swamp a
		 * per-coordinate ratio where a derivative is near 0 */
		r->worst_rel = r->worst_abs / fmax(scale, 1e-8);
		r->checked = k;
	}
	*nrows = lo.n;
	rc = 0;
out:
	if (rc) {
		free(*rows);
		*rows = NULL;
	}
	free(p);
	free(g);
	nl_tf_free(&tf);
	nl_layout_free(&lo);
	nl_config_free(&c);
	return rc;
}
