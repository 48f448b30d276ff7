/* nl — see LICENSE. Causal depthwise convolution of width 4 over sequences (MODEL §1.2):
 * out[p] = Σ_{j=0..3} c[j] ⊙ in[p − 3 + j], c[3] weighing the current token; the three
 * inputs before a sequence's first token come from ctx (zeros when NULL), so a stream cut
 * anywhere and carried with nlk_conv4_tail gives the same outputs as one call.
 * Every inner loop runs over the channels (contiguous in x, y, c and ctx), which the compiler
 * vectorises; each loop is its own reference (kernels_api.h declares no _ref). */
#include "real.h"

/* in[i][p] for p ≥ −3: row p of x inside the sequence, row 3 + p of ctx before it; NULL for
 * a zero row (p < 0 with no ctx) */
static inline const nlk_real *
tap(const nlk_real *x, const nlk_real *ctx, int i, int p, int t, int ch)
{
	if (p >= 0)
		return x + ((size_t)i * t + p) * ch;
	return ctx ? ctx + ((size_t)i * 3 + 3 + p) * ch : NULL;
}

/* x, y [b, t, ch], c [4, ch], ctx [b, 3, ch] or NULL -> y overwritten; y must not alias x or
 * ctx (a row of y is cleared before the rows it reads). */
void
NLK(nlk_conv4_fwd)(nlk_real *y, const nlk_real *x, const nlk_real *c, const nlk_real *ctx,
    int b, int t, int ch)
{
	for (int i = 0; i < b; i++)
		for (int p = 0; p < t; p++) {
			nlk_real *restrict yp = y + ((size_t)i * t + p) * ch;
			for (int k = 0; k < ch; k++)
				yp[k] = 0;
			for (int j = 0; j < 4; j++) {
				const nlk_real *restrict in = tap(x, ctx, i, p - 3 + j, t, ch);
				const nlk_real *restrict cj = c + (size_t)j * ch;
				if (in == NULL)
					continue;
				for (int k = 0; k < ch; k++)
					yp[k] += cj[k] * in[k];
			}
		}
}

/*
 * Backward with g = dy: dx[q] += Σ_j c[j] ⊙ g[q + 3 − j] over the outputs inside the call,
 * dc[j] += Σ_p in[p − 3 + j] ⊙ g[p], and dctx (the rows before p = 0) like dx. dctx is the
 * gradient with respect to the context whatever its value, so it is filled even when ctx is
 * NULL (zeros). dx, dc, dctx accumulate; each may be NULL.
 */
void
NLK(nlk_conv4_bwd)(nlk_real *dx, nlk_real *dc, nlk_real *dctx, const nlk_real *dy,
    const nlk_real *x, const nlk_real *c, const nlk_real *ctx, int b, int t, int ch)
{
	for (int i = 0; i < b; i++)
		for (int p = 0; p < t; p++) {
			const nlk_real *restrict dyp = dy + ((size_t)i * t + p) * ch;
			for (int j = 0; j < 4; j++) {
				int q = p - 3 + j;
				const nlk_real *restrict cj = c + (size_t)j * ch;
				nlk_real *restrict din = NULL;
				if (q >= 0 && dx != NULL)
					din = dx + ((size_t)i * t + q) * ch;
				else if (q < 0 && dctx != NULL)
					din = dctx + ((size_t)i * 3 + 3 + q) * ch;
				if (din != NULL)
					for (int k = 0; k < ch; k++)
						din[k] += cj[k] * dyp[k];
				const nlk_real *restrict in = tap(x, ctx, i, q, t, ch);
				if (dc != NULL && in != NULL) {
					nlk_real *restrict dcj = dc + (size_t)j * ch;
					for (int k = 0; k < ch; k++)
						dcj[k] += in[k] * dyp[k];
				}
			}
		}
}

/* x [b, t, ch], ctx [b, 3, ch] or NULL -> ctx_out [b, 3, ch]: the 3 inputs before position t
 * of each sequence, oldest first (from ctx when t < 3; NULL ctx = zeros). ctx_out may alias
 * ctx, so no restrict here. */
void
NLK(nlk_conv4_tail)(nlk_real *ctx_out, const nlk_real *x, const nlk_real *ctx, int b, int t,
    int ch)
{
	for (int i = 0; i < b; i++) {
		nlk_real *o = ctx_out + (size_t)i * 3 * ch;
		/* slots in increasing order are safe when aliased: slot s reads x or ctx slot s + t,
		 * which is s itself (t = 0, an identity copy) or a slot not yet written */
		for (int s = 0; s < 3; s++) {
			const nlk_real *in = tap(x, ctx, i, t - 3 + s, t, ch);
			nlk_real *os = o + (size_t)s * ch;
			if (in == NULL)
				for (int k = 0; k < ch; k++)
					os[k] = 0;
			else
				for (int k = 0; k < ch; k++)
					os[k] = in[k];
		}
	}
}
