/* nl — see LICENSE. Scoring token streams. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval.h"

/* A scored target's outcome, and a document boundary, for accuracy and exact match. */
static void
ex_target(struct nl_eval_result *r, int right)
{
	r->correct += right != 0;
	r->ex_scored++;
	r->ex_correct += right != 0;
}

void
nl_eval_finish(struct nl_eval_result *r)
{
	struct nl_eval_examples *p = r->per;
	if (r->ex_scored) {
		r->examples++;
		r->exact += r->ex_correct == r->ex_scored;
		if (p && p->n == p->cap && !p->failed) {
			size_t cap = p->cap ? 2 * p->cap : 256;
			struct nl_eval_example *e = realloc(p->ex, cap * sizeof *e);
			if (e == NULL)
				p->failed = 1;
			else
				p->ex = e, p->cap = cap;
		}
		if (p && p->n < p->cap)
			p->ex[p->n++] = (struct nl_eval_example){ r->ex_scored, r->ex_correct };
	}
	r->ex_scored = r->ex_correct = 0;
}

/* The next window from *pos: its first input in *start, and its number of targets (≤ T,
 * within one document with align_doc), or 0 at the end; *pos moves to the next window's first
 * input, this one's last target. */
static int
next_window(const struct nl_tokens *d, int64_t eot, int align_doc, int T, size_t *pos,
    size_t *start)
{
	const size_t n = d->n;
	for (;;) {
		if (*pos + 1 >= n)
			return 0;
		/* the first row past the window: T targets on, or with align_doc a document start
		 * before that (looked for only that far, so long documents cost no more) */
		const size_t lim = n - *pos > (size_t)T + 1 ? *pos + (size_t)T + 1 : n;
		size_t end = lim;
		if (align_doc)
			for (end = *pos + 1; end < lim && !nl_tokens_doc_start(d, end, eot); end++)
				;
		if (end - *pos < 2) {                   /* a document of one row: nothing to predict */
			*pos = end;
			continue;
		}
		int t = (int)(end - 1 - *pos);
		*start = *pos;
		/* the next window starts at this one's last input, or at the next document */
		*pos += (size_t)t;
		if (align_doc && end < n && nl_tokens_doc_start(d, end, eot))
			*pos = end;
		return t;
	}
}

int
nl_eval_tokens(struct nl_tf *tf, const float *params, const struct nl_tokens *data,
    const struct nl_tok *tok, uint64_t max_tokens, int align_doc, struct nl_eval_result *res,
    struct nl_err *err)
{
	const int T = tf->max_seq, B = tf->max_batch;
	const int64_t eot = nl_tokens_eot(data);
	int32_t *ids = malloc((size_t)B * T * sizeof *ids);
	int32_t *tg = malloc((size_t)B * T * sizeof *tg), *pred = malloc((size_t)B * T * sizeof *pred);
	size_t *wstart = malloc((size_t)B * sizeof *wstart);
	int *wlen = malloc((size_t)B * sizeof *wlen);

	struct nl_eval_examples *per = res->per;
	memset(res, 0, sizeof *res);
	res->per = per;
	if (!ids || !tg || !pred || !wstart || !wlen) {
		free(ids), free(tg), free(pred), free(wstart), free(wlen);
		return nl_err_set(err, NL_ENOMEM, "out of memory");
	}
	size_t pos = 0, held = 0;      /* held: a window taken but left for the next batch */
	int held_t = 0;
	while (max_tokens == 0 || res->tokens < max_tokens) {
		/* a batch: windows of one length, or with align_doc any, padded to the longest */
		int b = 0, t = 0;
		while (b < B) {
			size_t st;
			int w;
			if (held_t) {
				st = held, w = held_t, held_t = 0;
			} else if ((w = next_window(data, eot, align_doc, T, &pos, &st)) == 0) {
				break;
			}
			if (b > 0 && !align_doc && w != t) {
				held = st, held_t = w;
				break;
			}
			wstart[b] = st, wlen[b] = w;
			t = w > t ? w : t;
			b++;
		}
		if (b == 0)
			break;
		for (int r = 0; r < b; r++)
			for (int i = 0; i < t; i++) {
				size_t at = wstart[r] + 1 + (size_t)i, k = (size_t)r * t + (size_t)i;
				ids[k] = i < wlen[r] ? data->ids[at - 1] : 0;
				tg[k] = -1;
				if (i >= wlen[r] || !nl_tokens_scored(data, at) ||
				    (max_tokens && res->tokens >= max_tokens))
					continue;
				tg[k] = data->ids[at];
				res->tokens++;
				if (tok) {
					size_t len;
					nl_tok_piece(tok, (uint32_t)tg[k], &len);
					res->bytes += len;
				}
			}
		res->loss_sum += nl_tf_forward(tf, params, ids, tg, b, t, NULL);
		nl_tf_argmax(tf, tg, (size_t)b * t, pred);
		/* outcomes in position order: a document starts at a window's first row or at a
		 * target that is a document start */
		for (int r = 0; r < b; r++) {
			if (nl_tokens_doc_start(data, wstart[r], eot))
				nl_eval_finish(res);
			for (int i = 0; i < wlen[r]; i++) {
				size_t at = wstart[r] + 1 + (size_t)i, k = (size_t)r * t + (size_t)i;
				if (nl_tokens_doc_start(data, at, eot))
					nl_eval_finish(res);
				if (tg[k] >= 0)
					ex_target(res, pred[k] == tg[k]);
			}
		}
	}
	nl_eval_finish(res);
	free(ids), free(tg), free(pred), free(wstart), free(wlen);
	if (!isfinite(res->loss_sum))
		return nl_err_set(err, NL_ERANGE, "loss is not finite");
	return 0;
}

/* Keep one scored target of a stream in the curve. */
static int
curve_add(struct nl_eval_curve *c, long long pos, int32_t id, double loss, size_t bytes)
{
	int k = 0;
	for (long long q = pos; q > 1; q >>= 1)
		k++;
	struct nl_eval_result *bk = &c->bucket[k < NL_EVAL_BUCKETS ? k : NL_EVAL_BUCKETS - 1];
	bk->loss_sum += loss;
	bk->tokens++;
	bk->bytes += bytes;
	if (!c->keep_tokens)
		return 0;
	if (c->n == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 1024;
		struct nl_eval_point *p = realloc(c->pt, cap * sizeof *p);
		if (p == NULL)
			return -1;
		c->pt = p;
		c->cap = cap;
	}
	c->pt[c->n++] = (struct nl_eval_point){ pos, id, (float)loss };
	return 0;
}

void
nl_eval_curve_free(struct nl_eval_curve *c)
{
	free(c->pt);
	c->pt = NULL;
	c->n = c->cap = 0;
}

int
nl_eval_stream(struct nl_tf *tf, const float *params, struct nl_tf_stream *s,
    const struct nl_tokens *data, const struct nl_tok *tok, int learn, int reset_doc,
    struct nl_eval_result *res, struct nl_eval_curve *curve, struct nl_err *err)
{
	const int T = tf->max_seq, W = tf->teach_len;
	int rc = 0;

	if (s->b != 1)
		return nl_err_set(err, NL_ERANGE, "a stream of %d sequences: token streams feed one",
		    s->b);
	/* the inputs: the token the stream left pending (from an earlier call), then data's;
	 * every token after them is a target */
	const size_t lead = s->next[0] >= 0, n = lead + data->n;
	int32_t *ids = malloc((size_t)T * sizeof *ids), *tg = malloc((size_t)T * sizeof *tg);
	size_t *bytes = malloc((size_t)T * sizeof *bytes);
	float *logits = malloc((size_t)T * (size_t)tf->vocab * sizeof *logits);
	if (ids == NULL || tg == NULL || bytes == NULL || logits == NULL) {
		rc = nl_err_set(err, NL_ENOMEM, "out of memory");
		goto out;
	}
	const int64_t eot = nl_tokens_eot(data);
	for (size_t pos = 0; pos + 1 < n;) {
		/* a document's first input meets the meta-learned state (reset_doc) */
		if (reset_doc && pos >= lead && s->pos > 0 &&
		    nl_tokens_doc_start(data, pos - lead, eot))
			nl_tf_stream_reset(tf, s, params);
		/* pieces of at most T tokens that never cross a teach window's end, nor with
		 * reset_doc a document start */
		int t = n - 1 - pos >= (size_t)T ? T : (int)(n - 1 - pos);
		if (W > 0 && W - (int)(s->pos % W) < t)
			t = W - (int)(s->pos % W);
		for (int i = 1; reset_doc && i < t; i++)
			if (nl_tokens_doc_start(data, pos + i - lead, eot))
				t = i;
		for (int i = 0; i < t; i++) {
			size_t at = pos + 1 + (size_t)i - lead;     /* the target's index in data */
			ids[i] = pos + i < lead ? s->next[0] : data->ids[pos + i - lead];
			tg[i] = nl_tokens_scored(data, at) ? data->ids[at] : -1;
			bytes[i] = 0;
			if (tok && tg[i] >= 0)
				nl_tok_piece(tok, (uint32_t)tg[i], &bytes[i]);
		}
		long long p0 = s->pos;
		double sum = nl_tf_forward_stream(tf, params, s, ids, tg, t, logits, learn);
		if (!isfinite(sum)) {
			rc = nl_err_set(err, NL_ERANGE, "loss is not finite at token %lld", p0);
			goto out;
		}
		res->loss_sum += sum;
		const float *loss = nl_tf_losses(tf);
		for (int i = 0; i < t; i++) {
			if (nl_tokens_doc_start(data, pos + 1 + (size_t)i - lead, eot))
				nl_eval_finish(res);
			if (tg[i] < 0)
				continue;
			const float *z = logits + (size_t)i * tf->vocab;
			int32_t best = 0;
			for (int32_t v = 1; v < tf->vocab; v++)
				if (z[v] > z[best])
					best = v;
			ex_target(res, best == tg[i]);
			res->tokens++;
			res->bytes += bytes[i];
			if (curve && curve_add(curve, p0 + i + 1, tg[i], loss[i], bytes[i])) {
				rc = nl_err_set(err, NL_ENOMEM, "out of memory for the loss curve");
				goto out;
			}
		}
		pos += (size_t)t;
	}
	if (data->n > 0) {
		/* the pending token is the next call's first input: when it starts a document the
		 * stream meets it from the meta-learned state, as it would in one call */
		if (reset_doc && s->pos > 0 && nl_tokens_doc_start(data, data->n - 1, eot))
			nl_tf_stream_reset(tf, s, params);
		s->next[0] = data->ids[data->n - 1];
	}
out:
	free(ids);
	free(tg);
	free(bytes);
	free(logits);
	return rc;
}

int
nl_eval_stream_piece(const struct nl_config *cfg, int seq)
{
	if (nl_config_has_cms(cfg) && nl_config_cms_teach(cfg) > 0 && cfg->cms_lr > 0)
		return (int)nl_config_cms_teach(cfg);
	return seq ? seq : (int)cfg->context;
}

int
nl_eval_stream_start(struct nl_tf *tf, const float *params, struct nl_tf_stream *s,
    const struct nl_config *cfg, const struct nl_state *from, struct nl_err *err)
{
	/* attention sees the last context keys: the cache holds them, the keys a state file
	 * brings and a call's */
	long long keys = from ? from->tokens_seen - from->base : 0;
	int piece = tf->max_seq > tf->teach_len ? tf->max_seq : tf->teach_len;
	size_t cap = (size_t)keys + (size_t)cfg->context + (size_t)piece;
	if (cap > INT32_MAX)
		cap = INT32_MAX;
	if (nl_tf_stream_init(tf, s, 1, (int)cap, err))
		return -1;
	s->span = (int)cfg->context;
	if (from == NULL) {
		nl_tf_stream_reset(tf, s, params);
		return 0;
	}
	if (nl_state_load(from, tf, cfg, params, s, err)) {
		nl_tf_stream_free(s);
		return -1;
	}
	return 0;
}

double
nl_eval_loss(const struct nl_eval_result *r)
{
	return r->tokens ? r->loss_sum / (double)r->tokens : NAN;
}

double
nl_eval_bpb(const struct nl_eval_result *r)
{
	return r->bytes ? r->loss_sum / log(2.0) / (double)r->bytes : NAN;
}

void
nl_eval_cl_metrics(const double *bpb, const double *init, int T, struct nl_cl_metrics *m)
{
#define S(i, j) (-bpb[(size_t)(i) * (size_t)T + (size_t)(j)])
	memset(m, 0, sizeof *m);
	for (int j = 0; j < T; j++) {
		m->acc += S(T - 1, j) / T;
		m->learning += S(j, j) / T;
		if (j < T - 1) {
			double best = S(0, j);
			for (int l = 1; l < T - 1; l++)
				best = S(l, j) > best ? S(l, j) : best;
			m->bwt += (S(T - 1, j) - S(j, j)) / (T - 1);
			m->forgetting += (best - S(T - 1, j)) / (T - 1);
		}
		if (j >= 1)
			m->fwt += (S(j - 1, j) - (-init[j])) / (T - 1);
	}
#undef S
}
