/* nl — see LICENSE. Causal softmax attention per head (scale 1/√D), forward and backward. */
#include "real.h"

#ifdef NL_BLAS_OPENBLAS
#include <cblas.h>
#ifdef NLK_F64
#define GEMM cblas_dgemm
#else
#define GEMM cblas_sgemm
#endif
#endif

/*
 * Per batch element and head, with Q, K, V the head's [T,D] column block and s = 1/√D:
 *	S = s·Q Kᵀ,  P = softmax over j ≤ i of row i (P_ij = 0 for j > i),  O = P V.
 * Backward, from dO:
 *	dP = dO Vᵀ,  dV += Pᵀ dO,  dS_ij = P_ij (dP_ij − Σ_l P_il dP_il),
 *	dQ += s·dS K,  dK += s·dSᵀ Q.
 * Head hh of a [B,T,C] tensor starts at offset b·T·C + hh·D with row stride C, so the fast
 * versions hand gemm the tensors in place (leading dimension C) instead of copying heads out.
 */

static nlk_real
attn_scale(int d)
{
	return (nlk_real)(1.0 / sqrt((double)d));
}

/* Row softmax over columns 0..i of an [T,T] score matrix, in place; columns above the
 * diagonal are set to 0. Max-subtracted so exp never overflows. */
static void
causal_softmax(nlk_real *p, int t)
{
	for (int i = 0; i < t; i++) {
		nlk_real *row = p + (size_t)i * t;
		nlk_real mx = row[0], sum = 0;

		for (int j = 1; j <= i; j++)
			if (row[j] > mx)
				mx = row[j];
		/* exp in a loop of its own so it vectorises; the sum keeps its order */
		for (int j = 0; j <= i; j++)
			row[j] = NLK_EXPV(row[j] - mx);
		for (int j = 0; j <= i; j++)
			sum += row[j];
		/* sum ≥ 1 (the maximum contributes exp 0), so the division is safe */
		for (int j = 0; j <= i; j++)
			row[j] /= sum;
		for (int j = i + 1; j < t; j++)
			row[j] = 0;
	}
}

/* out[B,T,C] (overwritten), att[B,H,T,T] (overwritten) from q, k, v [B,T,C]; C = h·d.
 * Plain loops straight from the definition. */
void
NLK(nlk_attn_fwd_ref)(nlk_real *out, nlk_real *att, const nlk_real *q, const nlk_real *k,
    const nlk_real *v, int b, int t, int h, int d)
{
	size_t c = (size_t)h * d;
	nlk_real scale = attn_scale(d);

	for (int bi = 0; bi < b; bi++) {
		for (int hh = 0; hh < h; hh++) {
			size_t base = (size_t)bi * t * c + (size_t)hh * d;
			nlk_real *p = att + ((size_t)bi * h + hh) * t * t;

			for (int i = 0; i < t; i++)
				for (int j = 0; j < t; j++) {
					nlk_real s = 0;
					if (j <= i)
						for (int e = 0; e < d; e++)
							s += q[base + i * c + e] * k[base + j * c + e];
					p[(size_t)i * t + j] = s * scale;
				}
			causal_softmax(p, t);
			for (int i = 0; i < t; i++)
				for (int e = 0; e < d; e++) {
					nlk_real o = 0;
					for (int j = 0; j <= i; j++)
						o += p[(size_t)i * t + j] * v[base + j * c + e];
					out[base + i * c + e] = o;
				}
		}
	}
}

/* Same shapes and results as nlk_attn_fwd_ref: two gemms per (batch, head). The score gemm
 * computes the upper triangle too, which the softmax then zeroes; skipping it would need
 * T small gemms and costs more than it saves at the sizes trained here. */
void
NLK(nlk_attn_fwd)(nlk_real *out, nlk_real *att, const nlk_real *q, const nlk_real *k,
    const nlk_real *v, int b, int t, int h, int d)
{
#ifdef NL_BLAS_OPENBLAS
	int c = h * d;
	nlk_real scale = attn_scale(d);

	/* cblas rejects a leading dimension of 0, so empty shapes stop here */
	if (t <= 0 || c <= 0)
		return;
	for (int bi = 0; bi < b; bi++) {
		for (int hh = 0; hh < h; hh++) {
			size_t base = (size_t)bi * t * c + (size_t)hh * d;
			nlk_real *p = att + ((size_t)bi * h + hh) * t * t;

			GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, t, t, d, scale, q + base, c,
			    k + base, c, 0, p, t);
			causal_softmax(p, t);
			GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, t, d, t, 1, p, t, v + base, c,
			    0, out + base, c);
		}
	}
#else
	NLK(nlk_attn_fwd_ref)(out, att, q, k, v, b, t, h, d);
#endif
}

/* dq, dk, dv [B,T,C] += gradients from dout [B,T,C], given q, k, v and the forward's
 * att [B,H,T,T]; NULL outputs are skipped; scratch is unused. dP_ij is recomputed where it is
 * needed (once for the row sum, once for dS) instead of being stored. */
void
NLK(nlk_attn_bwd_ref)(nlk_real *dq, nlk_real *dk, nlk_real *dv, nlk_real *scratch,
    const nlk_real *dout, const nlk_real *q, const nlk_real *k, const nlk_real *v,
    const nlk_real *att, int b, int t, int h, int d)
{
	size_t c = (size_t)h * d;
	nlk_real scale = attn_scale(d);

	(void)scratch;
	for (int bi = 0; bi < b; bi++) {
		for (int hh = 0; hh < h; hh++) {
			size_t base = (size_t)bi * t * c + (size_t)hh * d;
			const nlk_real *p = att + ((size_t)bi * h + hh) * t * t;

			for (int i = 0; i < t; i++) {
				const nlk_real *pi = p + (size_t)i * t;
				const nlk_real *go = dout + base + i * c;
				nlk_real rs = 0;

				if (dv != NULL)
					for (int j = 0; j <= i; j++)
						for (int e = 0; e < d; e++)
							dv[base + j * c + e] += pi[j] * go[e];
				if (dq == NULL && dk == NULL)
					continue;
				for (int j = 0; j <= i; j++) {
					nlk_real dp = 0;
					for (int e = 0; e < d; e++)
						dp += go[e] * v[base + j * c + e];
					rs += pi[j] * dp;
				}
				for (int j = 0; j <= i; j++) {
					nlk_real dp = 0;
					for (int e = 0; e < d; e++)
						dp += go[e] * v[base + j * c + e];
					nlk_real ds = pi[j] * (dp - rs) * scale;
					for (int e = 0; e < d; e++) {
						if (dq != NULL)
							dq[base + i * c + e] += ds * k[base + j * c + e];
						if (dk != NULL)
							dk[base + j * c + e] += ds * q[base + i * c + e];
					}
				}
			}
		}
	}
}

/* Same as nlk_attn_bwd_ref, by four gemms per (batch, head); scratch [B,H,T,T] holds dP and
 * then, in place, dS. */
void
NLK(nlk_attn_bwd)(nlk_real *dq, nlk_real *dk, nlk_real *dv, nlk_real *scratch,
    const nlk_real *dout, const nlk_real *q, const nlk_real *k, const nlk_real *v,
    const nlk_real *att, int b, int t, int h, int d)
{
#ifdef NL_BLAS_OPENBLAS
	int c = h * d;
	nlk_real scale = attn_scale(d);

	/* cblas rejects a leading dimension of 0, so empty shapes stop here */
	if (t <= 0 || c <= 0)
		return;
	for (int bi = 0; bi < b; bi++) {
		for (int hh = 0; hh < h; hh++) {
			size_t base = (size_t)bi * t * c + (size_t)hh * d;
			const nlk_real *p = att + ((size_t)bi * h + hh) * t * t;
			nlk_real *ds = scratch + ((size_t)bi * h + hh) * t * t;

			if (dv != NULL)
				GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, t, d, t, 1, p, t,
				    dout + base, c, 1, dv + base, c);
			if (dq == NULL && dk == NULL)
				continue;
			GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, t, t, d, 1, dout + base, c,
			    v + base, c, 0, ds, t);
			for (int i = 0; i < t; i++) {
				const nlk_real *pi = p + (size_t)i * t;
				nlk_real *di = ds + (size_t)i * t;
				nlk_real rs = 0;

				for (int j = 0; j <= i; j++)
					rs += pi[j] * di[j];
				for (int j = 0; j <= i; j++)
					di[j] = pi[j] * (di[j] - rs);
				/* dP above the diagonal is finite but meaningless; zero it rather
				 * than trust P = 0 there to cancel it */
				for (int j = i + 1; j < t; j++)
					di[j] = 0;
			}
			if (dq != NULL)
				GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, t, d, t, scale, ds, t,
				    k + base, c, 1, dq + base, c);
			if (dk != NULL)
				GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, t, d, t, scale, ds, t,
				    q + base, c, 1, dk + base, c);
		}
	}
#else
	NLK(nlk_attn_bwd_ref)(dq, dk, dv, scratch, dout, q, k, v, att, b, t, h, d);
#endif
}
