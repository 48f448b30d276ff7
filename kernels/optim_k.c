/* nl — see LICENSE. Optimizer leaf kernels: one AdamW step over a flat parameter array. */
#include "real.h"

/*
 * AdamW with bias correction and decoupled weight decay, t counting from 1:
 *	m = β1 m + (1−β1) g,  v = β2 v + (1−β2) g²,
 *	p −= lr (m̂ / (√v̂ + eps) + wd p),  m̂ = m / (1−β1^t),  v̂ = v / (1−β2^t).
 * The decay uses p before the step. The corrections are computed in double: β2^t is
 * 0.999^t, and in float 1 − β2^t has lost most of its digits for small t.
 */

/* p, m, v, g (n) -> p, m, v updated in place */
void
NLK(nlk_adamw_step_ref)(nlk_real *p, nlk_real *m, nlk_real *v, const nlk_real *g, size_t n,
    nlk_real lr, nlk_real beta1, nlk_real beta2, nlk_real eps, nlk_real wd, int t)
{
	nlk_real c1 = (nlk_real)(1 - pow((double)beta1, t));
	nlk_real c2 = (nlk_real)(1 - pow((double)beta2, t));

	for (size_t i = 0; i < n; i++) {
		m[i] = beta1 * m[i] + (1 - beta1) * g[i];
		v[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i];
		nlk_real mhat = m[i] / c1;
		nlk_real vhat = v[i] / c2;
		p[i] -= lr * (mhat / (NLK_SQRT(vhat) + eps) + wd * p[i]);
	}
}

/* Same as the reference, written for vectorisation: restrict pointers, no branches, the
 * divisions by the corrections turned into multiplications by hoisted reciprocals. */
void
NLK(nlk_adamw_step)(nlk_real *p, nlk_real *m, nlk_real *v, const nlk_real *g, size_t n,
    nlk_real lr, nlk_real beta1, nlk_real beta2, nlk_real eps, nlk_real wd, int t)
{
	nlk_real *restrict pp = p, *restrict mm = m, *restrict vv = v;
	const nlk_real *restrict gg = g;
	nlk_real ic1 = (nlk_real)(1 / (1 - pow((double)beta1, t)));
	nlk_real ic2 = (nlk_real)(1 / (1 - pow((double)beta2, t)));
	nlk_real a1 = 1 - beta1, a2 = 1 - beta2;

	for (size_t i = 0; i < n; i++) {
		nlk_real gi = gg[i];
		nlk_real mi = beta1 * mm[i] + a1 * gi;
		nlk_real vi = beta2 * vv[i] + a2 * gi * gi;
		mm[i] = mi;
		vv[i] = vi;
		pp[i] -= lr * (mi * ic1 / (NLK_SQRT(vi * ic2) + eps) + wd * pp[i]);
	}
}
