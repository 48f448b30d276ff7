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
