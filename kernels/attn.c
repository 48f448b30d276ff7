/* nl — see LICENSE. Causal softmax attention per head (scale 1/√D), forward and backward. */
#include "real.h"
#include "blas.h"

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

/* Reductions over a row in 8 interleaved partial results, which the compiler keeps in vector
 * registers: a single running maximum or sum is a chain of dependent operations that
 * neither vectorises nor pipelines (floating-point addition may not be reordered). */
#define LANES 8

static nlk_real
row_max(const nlk_real *x, int n)
{
	nlk_real m[LANES];
	int j = 0;

	for (int l = 0; l < LANES; l++)
		m[l] = x[0];
	for (; j + LANES <= n; j += LANES)
		for (int l = 0; l < LANES; l++)
			m[l] = x[j + l] > m[l] ? x[j + l] : m[l];
	for (; j < n; j++)
		m[0] = x[j] > m[0] ? x[j] : m[0];
	for (int l = 1; l < LANES; l++)
		m[0] = m[l] > m[0] ? m[l] : m[0];
	return m[0];
}

/* Σ x[j]·y[j] */
static nlk_real
row_dot(const nlk_real *x, const nlk_real *y, int n)
{
	nlk_real s[LANES] = { 0 };
	int j = 0;

	for (; j + LANES <= n; j += LANES)
		for (int l = 0; l < LANES; l++)
			s[l] += x[j + l] * y[j + l];
	for (; j < n; j++)
		s[0] += x[j] * y[j];
	for (int l = 1; l < LANES; l++)
		s[0] += s[l];
	return s[0];
}

/* x[j] = e^(x[j] − mx), returning their sum */
static nlk_real
row_exp(nlk_real *x, int n, nlk_real mx)
{
	nlk_real s[LANES] = { 0 };
	int j = 0;

	for (; j + LANES <= n; j += LANES)
		for (int l = 0; l < LANES; l++)
			s[l] += x[j + l] = NLK_EXPV(x[j + l] - mx);
	for (; j < n; j++)
		s[0] += x[j] = NLK_EXPV(x[j] - mx);
	for (int l = 1; l < LANES; l++)
		s[0] += s[l];
	return s[0];
}

/* Row softmax of rows [r0, r1) of a [T,T] score matrix whose block starts at p (row r0),
 * over columns 0..i of row i, in place; the columns above the diagonal are set to 0.
 * Max-subtracted so exp never overflows. */
static void
causal_softmax_rows(nlk_real *p, int r0, int r1, int t)
{
	for (int i = r0; i < r1; i++) {
		nlk_real *row = p + (size_t)(i - r0) * t;
		nlk_real sum = row_exp(row, i + 1, row_max(row, i + 1));
		/* sum ≥ 1 (the maximum contributes exp 0), so the division is safe */
		nlk_real inv = 1 / sum;
		for (int j = 0; j <= i; j++)
			row[j] *= inv;
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
			causal_softmax_rows(p, 0, t, t);
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

/* Query rows are taken in blocks of ATTN_BLOCK: block [r0, r1) attends to keys [0, r1) only,
 * so the gemms skip the upper triangle beyond the block (about half the work at long T) at
 * the price of T/ATTN_BLOCK gemms per head instead of one. */
#define ATTN_BLOCK 128

/* Same shapes and results as nlk_attn_fwd_ref: per (batch, head) and block of query rows,
 * one gemm for the scores, the row softmax, one gemm for the output. */
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

			for (int r0 = 0; r0 < t; r0 += ATTN_BLOCK) {
				int r1 = r0 + ATTN_BLOCK < t ? r0 + ATTN_BLOCK : t, m = r1 - r0;
				nlk_real *pb = p + (size_t)r0 * t;
				NLK_GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, m, r1, d, scale,
				    q + base + (size_t)r0 * c, c, k + base, c, 0, pb, t);
				causal_softmax_rows(pb, r0, r1, t);
				NLK_GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, d, r1, 1, pb, t,
				    v + base, c, 0, out + base + (size_t)r0 * c, c);
			}
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

/* Same as nlk_attn_bwd_ref, by four gemms per (batch, head) and block of query rows (the
 * blocks of the forward); scratch [B,H,T,T] holds dP and then, in place, dS. */
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

			for (int r0 = 0; r0 < t; r0 += ATTN_BLOCK) {
				int r1 = r0 + ATTN_BLOCK < t ? r0 + ATTN_BLOCK : t, m = r1 - r0;
				const nlk_real *pb = p + (size_t)r0 * t, *gob = dout + base + (size_t)r0 * c;
				nlk_real *db = ds + (size_t)r0 * t;

				if (dv != NULL)
					NLK_GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, r1, d, m, 1, pb, t,
					    gob, c, 1, dv + base, c);
				if (dq == NULL && dk == NULL)
					continue;
				NLK_GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, m, r1, d, 1, gob, c,
				    v + base, c, 0, db, t);
				for (int i = r0; i < r1; i++) {
					const nlk_real *pi = p + (size_t)i * t;
					nlk_real *di = ds + (size_t)i * t;
					nlk_real rs = row_dot(pi, di, i + 1);

					for (int j = 0; j <= i; j++)
						di[j] = pi[j] * (di[j] - rs);
					/* dP above the diagonal (up to r1) is finite but meaningless;
					 * zero it rather than trust P = 0 there to cancel it */
					for (int j = i + 1; j < r1; j++)
						di[j] = 0;
				}
				if (dq != NULL)
					NLK_GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, d, r1, scale, db, t,
					    k + base, c, 1, dq + base + (size_t)r0 * c, c);
				if (dk != NULL)
					NLK_GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, r1, d, m, scale, db, t,
					    q + base + (size_t)r0 * c, c, 1, dk + base, c);
			}
		}
	}
#else
	NLK(nlk_attn_bwd_ref)(dq, dk, dv, scratch, dout, q, k, v, att, b, t, h, d);
#endif
}

/*
 * Attention of t new queries per sequence over a key/value cache (streams): query i sits at
 * position p + i and attends to cache rows 0..p+i. Plain loops straight from the definition
 * (one window of a stream at a time: t is a teach window, small next to the cache); the
 * backward recomputes each query's probabilities, so nothing of size t × cap is kept.
 */

/* row[0..n) = the probabilities of query qi over keys kb[0..n) (row stride c) */
static void
cache_row(nlk_real *row, const nlk_real *qi, const nlk_real *kb, int n, size_t c, int d,
    nlk_real scale)
{
	for (int j = 0; j < n; j++) {
		nlk_real s = 0;
		for (int e = 0; e < d; e++)
			s += qi[e] * kb[j * c + e];
		row[j] = s * scale;
	}
	nlk_real inv = 1 / row_exp(row, n, row_max(row, n));
	for (int j = 0; j < n; j++)
		row[j] *= inv;
}

/* The first cache row query i of a call at p sees. */
static int
cache_first(int p, int i, int win)
{
	return win > 0 && p + i + 1 > win ? p + i + 1 - win : 0;
}

void
NLK(nlk_attn_cache_fwd)(nlk_real *out, nlk_real *row, const nlk_real *q, const nlk_real *kc,
    const nlk_real *vc, int b, int t, int p, int cap, int win, int h, int d)
{
	const size_t c = (size_t)h * d;
	const nlk_real scale = attn_scale(d);

	for (int bi = 0; bi < b; bi++)
		for (int hh = 0; hh < h; hh++) {
			const nlk_real *qb = q + (size_t)bi * t * c + (size_t)hh * d;
			const nlk_real *kb = kc + (size_t)bi * cap * c + (size_t)hh * d;
			const nlk_real *vb = vc + (size_t)bi * cap * c + (size_t)hh * d;
			nlk_real *ob = out + (size_t)bi * t * c + (size_t)hh * d;
			for (int i = 0; i < t; i++) {
				int j0 = cache_first(p, i, win), n = p + i + 1 - j0;
				const nlk_real *kw = kb + (size_t)j0 * c, *vw = vb + (size_t)j0 * c;
				cache_row(row, qb + i * c, kw, n, c, d, scale);
				/* each output sums over j in order, a value row at a time (contiguous) */
				nlk_real *o = ob + i * c;
				for (int e = 0; e < d; e++)
					o[e] = 0;
				for (int j = 0; j < n; j++)
					for (int e = 0; e < d; e++)
						o[e] += row[j] * vw[j * c + e];
			}
		}
}

void
NLK(nlk_attn_cache_bwd)(nlk_real *dq, nlk_real *dk, nlk_real *dv, nlk_real *row,
    const nlk_real *dout, const nlk_real *q, const nlk_real *kc, const nlk_real *vc, int b,
    int t, int p, int cap, int win, int h, int d)
{
	const size_t c = (size_t)h * d;
	const nlk_real scale = attn_scale(d);

	for (int bi = 0; bi < b; bi++)
		for (int hh = 0; hh < h; hh++) {
			size_t qo = (size_t)bi * t * c + (size_t)hh * d;
			size_t ko = (size_t)bi * cap * c + (size_t)hh * d;
			for (int i = 0; i < t; i++) {
				const nlk_real *go = dout + qo + i * c;
				int j0 = cache_first(p, i, win), n = p + i + 1 - j0;
				const nlk_real *kw = kc + ko + (size_t)j0 * c, *vw = vc + ko + (size_t)j0 * c;
				cache_row(row, q + qo + i * c, kw, n, c, d, scale);
				/* dP_j = dO·v_j, dS_j = P_j (dP_j − Σ P dP); the keys and values before p
				 * are constants */
				nlk_real pdp = 0;
				for (int j = 0; j < n; j++) {
					nlk_real dp = 0;
					for (int e = 0; e < d; e++)
						dp += go[e] * vw[j * c + e];
					pdp += row[j] * dp;
				}
				for (int j = 0; j < n; j++) {
					nlk_real dp = 0;
					for (int e = 0; e < d; e++)
						dp += go[e] * vw[j * c + e];
					nlk_real ds = row[j] * (dp - pdp) * scale;
					for (int e = 0; e < d; e++)
						dq[qo + i * c + e] += ds * kw[j * c + e];
					if (j0 + j < p)
						continue;
					size_t wo = qo + (size_t)(j0 + j - p) * c;
					for (int e = 0; e < d; e++) {
						dv[wo + e] += row[j] * go[e];
						dk[wo + e] += ds * q[qo + i * c + e];
					}
				}
			}
		}
}
