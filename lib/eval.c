/* nl — see LICENSE. Scoring token streams. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval.h"

int
nl_eval_tokens(struct nl_tf *tf, const float *params, const struct nl_tokens *data,
    const struct nl_tok *tok, uint64_t max_tokens, struct nl_eval_result *res,
    struct nl_err *err)
{
	const int T = tf->max_seq, B = tf->max_batch;
	int32_t *ids = malloc((size_t)B * T * sizeof *ids);
	int32_t *tg = malloc((size_t)B * T * sizeof *tg);

	memset(res, 0, sizeof *res);
	if (ids == NULL || tg == NULL) {
		free(ids);
		free(tg);
		return nl_err_set(err, NL_ENOMEM, "out of memory");
	}
	size_t pos = 0, n = data->n;   /* the next window starts at pos, its targets at pos + 1 */
	while (pos + 1 < n && (max_tokens == 0 || res->tokens < max_tokens)) {
		/* full windows fill a batch; a shorter last window runs alone */
		int t = n - 1 - pos >= (size_t)T ? T : (int)(n - 1 - pos), b = 0;
		do {
			for (int i = 0; i < t; i++) {
				size_t at = pos + 1 + (size_t)i, k = (size_t)b * t + (size_t)i;
				ids[k] = data->ids[pos + i];
				tg[k] = -1;
				if (!nl_tokens_scored(data, at) || (max_tokens && res->tokens >= max_tokens))
					continue;
				tg[k] = data->ids[at];
				res->tokens++;
				if (tok) {
					size_t len;
					nl_tok_piece(tok, (uint32_t)tg[k], &len);
					res->bytes += len;
				}
			}
			pos += (size_t)t;
			b++;
		} while (b < B && t == T && n - 1 - pos >= (size_t)T &&
		    (max_tokens == 0 || res->tokens < max_tokens));
		res->loss_sum += nl_tf_forward(tf, params, ids, tg, b, t, NULL);
	}
	free(ids);
	free(tg);
	if (!isfinite(res->loss_sum))
		return nl_err_set(err, NL_ERANGE, "loss is not finite");
	return 0;
}

int
nl_eval_stream(struct nl_tf *tf, const float *params, struct nl_tf_stream *s,
    const struct nl_tokens *data, const struct nl_tok *tok, int learn,
    struct nl_eval_result *res, struct nl_eval_curve *curve, struct nl_err *err)
{
	const int W = tf->max_seq;
	int rc = 0;

	learn = learn && tf->learns;
	if (learn && (W != tf->teach_len || s->pos % W != 0))
		return nl_err_set(err, NL_ERANGE, "a learning stream runs whole teach windows of %d "
		    "tokens from a multiple of %d (it stands at %lld)", tf->teach_len,
		    tf->teach_len, s->pos);
	int32_t *ids = malloc((size_t)W * sizeof *ids), *tg = malloc((size_t)W * sizeof *tg);
	size_t *bytes = malloc((size_t)W * sizeof *bytes);
	if (ids == NULL || tg == NULL || bytes == NULL) {
		rc = nl_err_set(err, NL_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t pos = 0; pos + 1 < data->n;) {
		int t = data->n - 1 - pos >= (size_t)W ? W : (int)(data->n - 1 - pos);
		if (!tf->memfam && s->pos + t > s->cap) {
			rc = nl_err_set(err, NL_ERANGE, "the stream outgrows its attention cache of "
			    "%d tokens", s->cap);
			goto out;
		}
		for (int i = 0; i < t; i++) {
			size_t at = pos + 1 + (size_t)i;
			ids[i] = data->ids[pos + i];
			tg[i] = nl_tokens_scored(data, at) ? data->ids[at] : -1;
			bytes[i] = 0;
			if (tok && tg[i] >= 0)
				nl_tok_piece(tok, (uint32_t)tg[i], &bytes[i]);
		}
		long long p0 = s->pos;
		double sum = nl_tf_forward_stream(tf, params, s, ids, tg, t, NULL, learn && t == W);
		if (!isfinite(sum)) {
			rc = nl_err_set(err, NL_ERANGE, "loss is not finite at token %lld", p0);
			goto out;
		}
		res->loss_sum += sum;
		const float *loss = nl_tf_losses(tf);
		for (int i = 0; i < t; i++) {
			if (tg[i] < 0)
				continue;
			res->tokens++;
			res->bytes += bytes[i];
			if (curve == NULL)
				continue;
			int k = 0;
			for (long long q = p0 + i + 1; q > 1; q >>= 1)
				k++;
			struct nl_eval_result *bk = &curve->bucket[k < NL_EVAL_BUCKETS ? k :
			    NL_EVAL_BUCKETS - 1];
			bk->loss_sum += loss[i];
			bk->tokens++;
			bk->bytes += bytes[i];
		}
		pos += (size_t)t;
	}
out:
	free(ids);
	free(tg);
	free(bytes);
	return rc;
}

int
nl_eval_fresh_stream(struct nl_tf *tf, const float *params, const struct nl_tokens *data,
    const struct nl_tok *tok, int learn, struct nl_eval_result *res,
    struct nl_eval_curve *curve, struct nl_err *err)
{
	struct nl_tf_stream s;
	int cap = data->n < (size_t)INT32_MAX ? (int)data->n : INT32_MAX;
	memset(res, 0, sizeof *res);
	if (nl_tf_stream_init(tf, &s, 1, cap, err))
		return -1;
	nl_tf_stream_reset(tf, &s, params);
	int rc = nl_eval_stream(tf, params, &s, data, tok, learn, res, curve, err);
	nl_tf_stream_free(&s);
	return rc;
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
