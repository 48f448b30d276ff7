/* nl — see LICENSE. Row softmax with cross-entropy against integer targets. */
#include "real.h"

/*
 * Numerically stable: with m = max_j z_j and S = Σ_j e^(z_j − m) (every term ≤ 1, one term
 * = 1, so S ∈ [1, V] never overflows or underflows to 0),
 *	p_j = e^(z_j − m) / S,   loss = −log p_t = log S + m − z_t.
 * The loss is taken from that identity rather than from log p_t, which would underflow to
 * −inf for a confidently wrong row. S and the loss are carried in double even in the float
 * build: V reaches tens of thousands of terms, and the returned sum runs over N rows.
 * There is no faster formulation than this single pass per row, so these are also the
 * references (kernels_api.h declares no _ref).
 */

/* logits (N, V), targets (N) in [0, V) or < 0 -> probs (N, V), losses (N); returns Σ scored
 * losses (targets ≥ V are the caller's error, not checked here). Rows
 * with target < 0 still get probs but loss 0. probs or losses may be NULL. */
double
NLK(nlk_xent_fwd)(nlk_real *losses, nlk_real *probs, const nlk_real *logits,
    const int32_t *targets, int n, int v)
{
	double total = 0;

	for (int i = 0; i < n; i++) {
		const nlk_real *z = logits + (size_t)i * v;
		nlk_real m = v > 0 ? z[0] : 0;
		for (int j = 1; j < v; j++)
			m = z[j] > m ? z[j] : m;
		double s = 0;
		if (probs != NULL) {
			nlk_real *p = probs + (size_t)i * v;
			for (int j = 0; j < v; j++)
				p[j] = NLK_EXPV(z[j] - m);
			for (int j = 0; j < v; j++)
				s += p[j];
			nlk_real inv = (nlk_real)(1.0 / s);
			for (int j = 0; j < v; j++)
				p[j] *= inv;
		} else {
			for (int j = 0; j < v; j++)
				s += NLK_EXPV(z[j] - m);
		}
		double loss = 0;
		if (targets[i] >= 0)
			loss = log(s) + (double)m - (double)z[targets[i]];
		if (losses != NULL)
			losses[i] = (nlk_real)loss;
		total += loss;
	}
	return total;
}

/* probs (N, V), targets (N) -> dlogits (N, V) += scale · (probs − onehot(target)) on rows
 * with target ≥ 0; NULL dlogits is skipped. */
void
NLK(nlk_xent_bwd)(nlk_real *dlogits, const nlk_real *probs, const int32_t *targets, int n, int v,
    nlk_real scale)
{
	if (dlogits == NULL)
		return;
	for (int i = 0; i < n; i++) {
		if (targets[i] < 0)
			continue;
		nlk_real *restrict d = dlogits + (size_t)i * v;
		const nlk_real *restrict p = probs + (size_t)i * v;
		for (int j = 0; j < v; j++)
			d[j] += scale * p[j];
		d[targets[i]] -= scale;
	}
}
