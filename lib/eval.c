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
	size_t pos = 0;   /* next window starts here; targets pos+1 .. pos+t */
	while (pos + 1 < data->n && (max_tokens == 0 || res->tokens < max_tokens)) {
		/* full windows batch together; a shorter last window runs alone */
		int t = data->n - 1 - pos >= (size_t)T ? T : (int)(data->n - 1 - pos);
		int b = 0;
		while (b < B && pos + (size_t)t < data->n && (b == 0 || t == T) &&
		    (max_tokens == 0 || res->tokens < max_tokens)) {
			for (int i = 0; i < t; i++) {
				size_t at = pos + 1 + (size_t)i;
				int32_t *target = &tg[(size_t)b * t + i];
				ids[(size_t)b * t + i] = data->ids[pos + i];
				*target = -1;
				if (nl_tokens_scored(data, at) &&
				    (max_tokens == 0 || res->tokens < max_tokens)) {
					*target = data->ids[at];
					res->tokens++;
					if (tok) {
						size_t len;
						nl_tok_piece(tok, (uint32_t)*target, &len);
						res->bytes += len;
					}
				}
			}
			pos += (size_t)t;
			b++;
			if (t == T && data->n - 1 - pos < (size_t)T)
				break;   /* the shorter remainder goes in its own batch */
		}
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
