/* nl — see LICENSE. The outer training loop. */
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "tfile.h"
#include "train.h"

int
nl_trainer_seq_len(const struct nl_config *c)
{
	return (int)(c->train_seq_len ? c->train_seq_len : c->context);
}

int
nl_trainer_init(struct nl_trainer *tr, struct nl_model *m, int threads, struct nl_err *err)
{
	const struct nl_config *c = &m->cfg;

	memset(tr, 0, sizeof *tr);
	tr->model = m;
	tr->batch = (int)c->train_batch;
	tr->seq = nl_trainer_seq_len(c);
	tr->valid_loss = NAN;
	tr->workers = threads < tr->batch ? threads : tr->batch;
	if (tr->workers < 1)
		tr->workers = 1;
	nl_rng_seed(&tr->rng, (uint64_t)c->train_seed ^ 0x6e6c2d747261696eu);  /* "nl-train" */
	size_t n = m->lo.total, bt = (size_t)tr->batch * tr->seq;
	if (nl_optim_init(&tr->opt, c, &m->lo, (uint64_t)c->train_seed, err))
		return -1;
	tr->grads = calloc(n, sizeof *tr->grads);
	tr->ids = malloc(bt * sizeof *tr->ids);
	tr->targets = malloc(bt * sizeof *tr->targets);
	tr->w = calloc((size_t)tr->workers, sizeof *tr->w);
	if (tr->grads == NULL || tr->ids == NULL || tr->targets == NULL || tr->w == NULL) {
		nl_trainer_free(tr);
		return nl_err_set(err, NL_ENOMEM, "out of memory for the optimizer");
	}
	for (int i = 0; i < tr->workers; i++) {
		struct nl_train_worker *w = &tr->w[i];
		w->tr = tr;
		w->row0 = i * tr->batch / tr->workers;
		w->rows = (i + 1) * tr->batch / tr->workers - w->row0;
		w->grads = i == 0 ? tr->grads : calloc(n, sizeof *w->grads);
		if (w->grads == NULL) {
			nl_trainer_free(tr);
			return nl_err_set(err, NL_ENOMEM, "out of memory for gradients");
		}
		if (nl_tf_init(&w->tf, c, &m->lo, w->rows, tr->seq, sizeof(float), err)) {
			nl_trainer_free(tr);
			return -1;
		}
		if (tr->opt.kind == NL_OPTIM_DGD)
			w->tf.keys = &w->keys;
	}
	if (tr->workers > 1)   /* one BLAS thread per worker: nothing oversubscribes the cores */
		nl_model_set_threads(1);
	return 0;
}

void
nl_trainer_free(struct nl_trainer *tr)
{
	for (int i = 0; tr->w && i < tr->workers; i++) {
		nl_tf_free(&tr->w[i].tf);
		nl_keylog_free(&tr->w[i].keys);
		if (i > 0)
			free(tr->w[i].grads);
	}
	free(tr->w);
	free(tr->grads);
	nl_optim_free(&tr->opt);
	free(tr->ids);
	free(tr->targets);
	free(tr->docs);
	memset(tr, 0, sizeof *tr);
}

double
nl_trainer_lr(const struct nl_config *c, int64_t step)
{
	double lr = c->optim_lr, lo = c->optim_lr_min;
	int64_t w = c->optim_warmup, n = c->train_steps;

	if (step < w)
		return lr * (double)(step + 1) / (double)w;
	if (strcmp(c->optim_schedule, "constant") == 0 || n <= w)
		return lr;
	double progress = (double)(step - w) / (double)(n - w);
	if (progress > 1)
		progress = 1;
	return lo + 0.5 * (lr - lo) * (1 + cos(M_PI * progress));
}

/* The windows of data under data.align = doc, kept while the stream stays the same: every
 * document cut into pieces of seq rows, those with a scored target (docs[2k] the start,
 * docs[2k+1] the document's end). */
static int
doc_windows(struct nl_trainer *tr, const struct nl_tokens *data, struct nl_err *err)
{
	if (tr->docs_of == data && tr->docs_len == data->n)
		return 0;
	const int64_t eot = nl_tokens_eot(data);
	size_t cap = 0, start = 0;
	tr->ndocs = 0;
	for (size_t i = 1; i <= data->n; i++) {
		if (i < data->n && !nl_tokens_doc_start(data, i, eot))
			continue;
		for (size_t w = start; w + 1 < i; w += (size_t)tr->seq) {   /* [start, i) */
			int scored = 0;
			for (size_t at = w + 1; at < i && at <= w + (size_t)tr->seq && !scored; at++)
				scored = nl_tokens_scored(data, at);
			if (!scored)
				continue;
			if (tr->ndocs == cap) {
				cap = cap ? 2 * cap : 1024;
				size_t *d = realloc(tr->docs, 2 * cap * sizeof *d);
				if (d == NULL)
					return nl_err_set(err, NL_ENOMEM, "out of memory");
				tr->docs = d;
			}
			tr->docs[2 * tr->ndocs] = w, tr->docs[2 * tr->ndocs + 1] = i;
			tr->ndocs++;
		}
		start = i;
	}
	tr->docs_of = data, tr->docs_len = data->n;
	return 0;
}

int
nl_trainer_step(struct nl_trainer *tr, const struct nl_tokens *data, double *loss,
    double *gnorm, double *lr, struct nl_err *err)
{
	const int B = tr->batch, T = tr->seq;

	if (nl_tokens_align_doc(data, tr->model->cfg.data_align)) {
		/* a window inside one document (its first T rows, or a later piece), padded after
		 * its end */
		if (doc_windows(tr, data, err))
			return -1;
		if (tr->ndocs == 0)
			return nl_err_set(err, NL_EFORMAT, "data.align = doc: no window of a document "
			    "has a scored target");
		for (int b = 0; b < B; b++) {
			size_t k = (size_t)nl_rng_below(&tr->rng, tr->ndocs), off = tr->docs[2 * k];
			size_t end = tr->docs[2 * k + 1];
			for (int i = 0; i < T; i++) {
				size_t src = off + (size_t)i, at = src + 1;
				tr->ids[(size_t)b * T + i] = src < end ? data->ids[src] : 0;
				tr->targets[(size_t)b * T + i] = at < end && nl_tokens_scored(data, at) ?
				    data->ids[at] : -1;
			}
		}
		return nl_trainer_step_batch(tr, tr->ids, tr->targets, loss, gnorm, lr, err);
	}
	if (data->n < (size_t)T + 1)
		return nl_err_set(err, NL_ERANGE, "%zu tokens are too few for windows of %d (need %d)",
		    data->n, T, T + 1);
	for (int b = 0; b < B; b++) {
		size_t off = (size_t)nl_rng_below(&tr->rng, data->n - (size_t)T);
		for (int i = 0; i < T; i++) {
			size_t at = off + 1 + (size_t)i;
			tr->ids[(size_t)b * T + i] = data->ids[off + i];
			tr->targets[(size_t)b * T + i] = nl_tokens_scored(data, at) ? data->ids[at] : -1;
		}
	}
	return nl_trainer_step_batch(tr, tr->ids, tr->targets, loss, gnorm, lr, err);
}

/* One phase of one worker: the forward of its rows, or their backward into its gradients. */
static void *
worker_run(void *arg)
{
	struct nl_train_worker *w = arg;
	const struct nl_trainer *tr = w->tr;
	const float *params = tr->model->params;
	size_t off = (size_t)w->row0 * tr->seq;

	if (!w->backward) {
		w->sum = nl_tf_forward(&w->tf, params, tr->batch_ids + off, tr->batch_targets + off,
		    w->rows, tr->seq, NULL);
	} else {
		memset(w->grads, 0, tr->model->lo.total * sizeof *w->grads);
		nl_keylog_clear(&w->keys);
		if (w->scale > 0)
			nl_tf_backward(&w->tf, params, w->grads, w->scale);
	}
	return NULL;
}

/* Run a phase on every worker: 1.. on threads of their own, 0 in the caller (and any whose
 * thread cannot start, so a failed pthread_create only costs speed). */
static void
run_workers(struct nl_trainer *tr, int backward)
{
	pthread_t th[tr->workers];
	int started[tr->workers];

	for (int i = 0; i < tr->workers; i++) {
		tr->w[i].backward = backward;
		started[i] = i > 0 && pthread_create(&th[i], NULL, worker_run, &tr->w[i]) == 0;
	}
	for (int i = 0; i < tr->workers; i++)
		if (!started[i])
			worker_run(&tr->w[i]);
	for (int i = 1; i < tr->workers; i++)
		if (started[i])
			pthread_join(th[i], NULL);
}

int
nl_trainer_step_batch(struct nl_trainer *tr, const int32_t *ids, const int32_t *targets,
    double *loss, double *gnorm, double *lr, struct nl_err *err)
{
	struct nl_model *md = tr->model;
	const struct nl_config *c = &md->cfg;
	double sum = 0;
	size_t scored = 0;

	tr->batch_ids = ids;
	tr->batch_targets = targets;
	run_workers(tr, 0);
	for (int i = 0; i < tr->workers; i++) {
		sum += tr->w[i].sum;
		scored += tr->w[i].tf.scored;
	}
	*loss = scored ? sum / (double)scored : 0;
	*lr = nl_trainer_lr(c, tr->step);
	for (int i = 0; i < tr->workers; i++)
		tr->w[i].scale = scored ? 1.0 / (double)scored : 0;
	run_workers(tr, 1);
	for (int i = 1; i < tr->workers; i++)
		for (size_t j = 0; j < md->lo.total; j++)
			tr->grads[j] += tr->w[i].grads[j];
	for (size_t i = 0; tr->frozen && i < md->lo.n; i++)
		if (tr->frozen[i])
			memset(tr->grads + md->lo.p[i].offset, 0, md->lo.p[i].numel * sizeof *tr->grads);
	tr->opt.frozen = tr->frozen;
	double sq = 0;
	for (size_t i = 0; i < md->lo.total; i++)
		sq += (double)tr->grads[i] * tr->grads[i];
	*gnorm = sqrt(sq);
	if (!isfinite(*loss) || !isfinite(*gnorm))
		return nl_err_set(err, NL_ERANGE, "step %" PRId64 ": loss %g, gradient norm %g",
		    tr->step + 1, *loss, *gnorm);
	float clip = 1;
	if (c->optim_clip > 0 && *gnorm > c->optim_clip) {
		clip = (float)(c->optim_clip / *gnorm);
		for (size_t i = 0; i < md->lo.total; i++)
			tr->grads[i] *= clip;
	}
	for (int i = 0; i < tr->workers; i++)
		if (tr->w[i].keys.failed)
			return nl_err_set(err, NL_ENOMEM, "step %" PRId64 ": out of memory for dgd's keys",
			    tr->step + 1);
	const struct nl_keylog *logs[tr->workers];
	for (int i = 0; i < tr->workers; i++)
		logs[i] = &tr->w[i].keys;
	nl_optim_set_keys(&tr->opt, logs, tr->workers, clip);
	nl_optim_step(&tr->opt, md->params, tr->grads, *lr);
	nl_optim_set_keys(&tr->opt, NULL, 0, 1);
	tr->step++;
	tr->tokens_seen += scored;
	return 0;
}

/* optim.nlt: the optimizer's name and its state tensors by parameter name (optim.h). */
static int
optim_tset(const struct nl_trainer *tr, struct nl_tset *ts, struct nl_err *err)
{
	if (nl_meta_set(&ts->meta, "kind", "optim", err) ||
	    nl_meta_set(&ts->meta, "optim", tr->model->cfg.optim, err))
		return -1;
	return nl_optim_export(&tr->opt, ts, err);
}

int
nl_trainer_to_ckpt(const struct nl_trainer *tr, struct nl_ckpt *ck, struct nl_err *err)
{
	struct nl_tset ts;
	struct nl_io mem;
	size_t len;
	char state[512], rng[NL_RNG_STATE_LEN + 1];
	int rc;

	if (nl_model_to_ckpt(tr->model, ck, err) || (tr->memory &&
	    nl_ckpt_add(ck, "memory.nlt", tr->memory, tr->memory_len, err)))
		return -1;
	nl_tset_init(&ts);
	nl_io_open_mem_write(&mem);
	rc = optim_tset(tr, &ts, err) || nl_tfile_write_tset(&mem, &ts, NL_CKPT_LEVEL, err) ||
	    nl_io_flush(&mem, err) ? -1 : 0;
	nl_tset_free(&ts);
	if (rc == 0) {
		unsigned char *data = nl_io_mem_take(&mem, &len);
		rc = data ? nl_ckpt_add(ck, "optim.nlt", data, len, err) :
		    nl_err_set(err, NL_ENOMEM, "out of memory");
		free(data);
	}
	nl_io_abort(&mem);
	if (rc)
		return -1;
	nl_rng_format(&tr->rng, rng);
	int n = snprintf(state, sizeof state,
	    "optim.t = %" PRId64 "\nrng = %s\nstep = %" PRId64 "\ntokens_seen = %" PRIu64
	    "\nvalid_loss = %.17g\n", tr->step, rng, tr->step, tr->tokens_seen, tr->valid_loss);
	return nl_ckpt_add(ck, "state", state, (size_t)n, err);
}

/* The value of key in `key = value` lines, or NULL. */
static const char *
state_get(const char *text, size_t len, const char *key, char *buf, size_t size)
{
	size_t klen = strlen(key);
	const char *p = text, *end = text + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;
		if ((size_t)(eol - p) > klen + 3 && memcmp(p, key, klen) == 0 &&
		    memcmp(p + klen, " = ", 3) == 0) {
			size_t n = (size_t)(eol - p) - klen - 3;
			if (n >= size)
				return NULL;
			memcpy(buf, p + klen + 3, n);
			buf[n] = '\0';
			return buf;
		}
		p = eol + 1;
	}
	return NULL;
}

int
nl_trainer_resume(struct nl_trainer *tr, const struct nl_ckpt *ck, struct nl_err *err)
{
	const struct nl_ckpt_member *st = nl_ckpt_find(ck, "state");
	struct nl_tset ts;
	char buf[128];
	char *end;

	if (st == NULL || nl_ckpt_find(ck, "optim.nlt") == NULL)
		return nl_err_set(err, NL_EFORMAT, "no optimizer state to resume (optim.nlt, state)");
	const char *step = state_get((const char *)st->data, st->len, "step", buf, sizeof buf);
	long long s = step ? strtoll(step, &end, 10) : -1;
	if (step == NULL || *end || s < 0)
		return nl_err_set(err, NL_EFORMAT, "state: bad or missing step");
	tr->step = s;
	const char *tok = state_get((const char *)st->data, st->len, "tokens_seen", buf, sizeof buf);
	unsigned long long ts_n = tok ? strtoull(tok, &end, 10) : 0;
	if (tok == NULL || *end)
		return nl_err_set(err, NL_EFORMAT, "state: bad or missing tokens_seen");
	tr->tokens_seen = ts_n;
	const char *rng = state_get((const char *)st->data, st->len, "rng", buf, sizeof buf);
	if (rng == NULL)
		return nl_err_set(err, NL_EFORMAT, "state: no rng");
	if (nl_rng_parse(&tr->rng, rng, err)) {
		nl_err_prefix(err, "state");
		return -1;
	}
	const char *vl = state_get((const char *)st->data, st->len, "valid_loss", buf, sizeof buf);
	tr->valid_loss = vl ? strtod(vl, NULL) : NAN;

	nl_tset_init(&ts);
	if (nl_ckpt_member_tset(ck, "optim.nlt", &ts, err)) {
		nl_tset_free(&ts);
		return -1;
	}
	const char *was = nl_meta_get(&ts.meta, "optim");
	if (was && strcmp(was, tr->model->cfg.optim) != 0) {
		nl_err_set(err, NL_EFORMAT, "optim.nlt: state of optim %s, not %s (the run's "
		    "optimizer cannot change on resume)", was, tr->model->cfg.optim);
		nl_tset_free(&ts);
		return -1;
	}
	if (nl_optim_import(&tr->opt, &ts, tr->step, err)) {
		nl_tset_free(&ts);
		return -1;
	}
	nl_tset_free(&ts);
	return 0;
}
