/* nl — see LICENSE. Optimizer leaf kernels (MODEL §2.4, D12): AdamW, momentum, Newton–Schulz,
 * delta momentum, M3's matrix step, DMGD and DGD, each over one parameter's elements. */
#include "real.h"
#include "blas.h"

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

/* The optimizers of MODEL §2.4 / D12 that are elementwise or per matrix. Decoupled weight
 * decay (p −= lr·wd·p, p before the step) is the caller's in the matrix rules; the
 * elementwise ones take it in their one pass over p. */

/* Momentum as a memory of gradients (eq. 33): p −= lr·wd·p; m = μ m − lr g; p += m. m NULL
 * is SGD. */
void
NLK(nlk_momentum_step)(nlk_real *p, nlk_real *m, const nlk_real *g, size_t n, nlk_real lr,
    nlk_real mu, nlk_real wd)
{
	const nlk_real decay = lr * wd;
	if (m == NULL) {
		for (size_t i = 0; i < n; i++) {
			p[i] -= decay * p[i];
			p[i] -= lr * g[i];
		}
		return;
	}
	for (size_t i = 0; i < n; i++) {
		p[i] -= decay * p[i];
		m[i] = mu * m[i] - lr * g[i];
		p[i] += m[i];
	}
}

/*
 * Newton–Schulz orthogonalisation: x [r, c] → o ≈ its polar factor U Vᵀ (every singular
 * value taken to 1). X₀ = x / ‖x‖_F puts the singular values in (0, 1]; then steps times
 * X ← ½ X (3I − XᵀX), the cubic iteration, which takes each singular value σ to
 * ½σ(3 − σ²) and so toward 1 from below. The Gram matrix is formed on the short side
 * (X ← ½ (3I − XXᵀ) X when r < c). x = 0 gives o = 0. o may alias x. work: min(r,c)² + r·c.
 */
/* X₀ = x / ‖x‖_F into o (0 for x = 0); returns ‖x‖_F. */
static double
ns_start(nlk_real *o, const nlk_real *x, size_t n)
{
	double fro = 0;
	for (size_t i = 0; i < n; i++)
		fro += (double)x[i] * x[i];
	fro = sqrt(fro);
	for (size_t i = 0; i < n; i++)
		o[i] = fro > 0 ? (nlk_real)(x[i] / fro) : 0;
	return fro;
}

void
NLK(nlk_ns_ref)(nlk_real *o, const nlk_real *x, int r, int c, int steps, nlk_real *work)
{
	const size_t rc = (size_t)r * c;
	/* the tall view: X (R × C, R ≥ C) is o itself, or its transpose when r < c */
	const int R = r >= c ? r : c, C = r >= c ? c : r;
	const size_t rs = r >= c ? (size_t)c : 1, cs = r >= c ? 1 : (size_t)c;
	nlk_real *a = work, *y = work + (size_t)C * C;
	const double fro = ns_start(o, x, rc);
	for (int it = 0; it < steps && fro > 0; it++) {
		for (int i = 0; i < C; i++)             /* a = XᵀX (C × C) */
			for (int j = 0; j < C; j++) {
				nlk_real t = 0;
				for (int k = 0; k < R; k++)
					t += o[k * rs + i * cs] * o[k * rs + j * cs];
				a[(size_t)i * C + j] = t;
			}
		for (int k = 0; k < R; k++)             /* y = X a, in o's layout */
			for (int j = 0; j < C; j++) {
				nlk_real t = 0;
				for (int i = 0; i < C; i++)
					t += o[k * rs + i * cs] * a[(size_t)i * C + j];
				y[k * rs + j * cs] = t;
			}
		for (size_t i = 0; i < rc; i++)
			o[i] = (nlk_real)1.5 * o[i] - (nlk_real)0.5 * y[i];
	}
}

/* The same with the two products per step as gemms. */
void
NLK(nlk_ns)(nlk_real *o, const nlk_real *x, int r, int c, int steps, nlk_real *work)
{
#ifdef NL_BLAS_OPENBLAS
	const size_t rc = (size_t)r * c;
	const int s = r < c ? r : c;
	nlk_real *a = work, *y = work + (size_t)s * s;
	const double fro = ns_start(o, x, rc);
	if (rc == 0)
		return;
	for (int it = 0; it < steps && fro > 0; it++) {
		if (r >= c) {
			NLK_GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, c, c, r, 1, o, c, o, c, 0, a, c);
			NLK_GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, r, c, c, 1, o, c, a, c, 0, y, c);
		} else {
			NLK_GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, r, r, c, 1, o, c, o, c, 0, a, r);
			NLK_GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, r, c, r, 1, a, r, o, c, 0, y, c);
		}
		for (size_t i = 0; i < rc; i++)
			o[i] = (nlk_real)1.5 * o[i] - (nlk_real)0.5 * y[i];
	}
#else
	NLK(nlk_ns_ref)(o, x, r, c, steps, work);
#endif
}

/*
 * Delta momentum (eq. 49, D12, A13) on a flattened parameter: ĝ = g/‖g‖,
 *	p −= lr·wd·p;  m = α m − λ (m·ĝ) ĝ − lr P g;  p += m,
 * P = I (v NULL) or Adam's diagonal (v: v = β2 v + (1−β2) g², P g = g / (√v̂ + eps),
 * v̂ = v/(1−β2^t)). The projection erases the part of the memory along the new gradient
 * (the delta rule on m); λ = 0 is momentum.
 */
void
NLK(nlk_delta_momentum_step)(nlk_real *p, nlk_real *m, nlk_real *v, const nlk_real *g,
    size_t n, nlk_real lr, nlk_real alpha, nlk_real lambda, nlk_real beta2, nlk_real eps,
    nlk_real wd, int t)
{
	const nlk_real decay = lr * wd;
	double gg = 0, mg = 0;
	for (size_t i = 0; i < n; i++) {
		gg += (double)g[i] * g[i];
		mg += (double)m[i] * g[i];
	}
	/* λ (m·ĝ) ĝ = λ (m·g)/‖g‖² g */
	const nlk_real proj = gg > 0 ? (nlk_real)(lambda * mg / gg) : 0;
	const nlk_real ic2 = (nlk_real)(1 / (1 - pow((double)beta2, t)));
	for (size_t i = 0; i < n; i++) {
		nlk_real pg = g[i];
		if (v) {
			v[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i];
			pg = g[i] / (NLK_SQRT(v[i] * ic2) + eps);
		}
		p[i] -= decay * p[i];
		m[i] = alpha * m[i] - proj * g[i] - lr * pg;
		p[i] += m[i];
	}
}

/* Muon on one matrix w [r, c]: m = μ m + g; w −= lr √max(1, r/c) NS(m). */
void
NLK(nlk_muon_step)(nlk_real *w, nlk_real *m, const nlk_real *g, int r, int c, nlk_real lr,
    nlk_real mu, int ns_steps, nlk_real *work)
{
	const size_t n = (size_t)r * c;
	nlk_real *o = work;
	for (size_t j = 0; j < n; j++)
		m[j] = mu * m[j] + g[j];
	NLK(nlk_ns)(o, m, r, c, ns_steps, work + n);
	const nlk_real s = lr * (nlk_real)sqrt(r > c ? (double)r / c : 1.0);
	for (size_t j = 0; j < n; j++)
		w[j] -= s * o[j];
}

/*
 * M3 on one matrix (Algorithm 1), step t ≥ 1:
 *	m1 += β1 g;  v += β2 g²;  gsum += g;  w −= lr (NS(m1) + α o2) / (√v + eps);
 * and when t ends a period, m2 += β3 gsum, gsum = 0, o2 = NS(m2) for the next period. ema:
 * the labelled variant, m1 = β1 m1 + (1−β1) g, v = β2 v + (1−β2) g² read bias-corrected,
 * m2 = β3 m2 + (1−β3) gsum/period.
 */
void
NLK(nlk_m3_step)(nlk_real *w, nlk_real *m1, nlk_real *v, nlk_real *gsum, nlk_real *m2,
    nlk_real *o2, const nlk_real *g, int r, int c, nlk_real lr, nlk_real beta1, nlk_real beta2,
    nlk_real beta3, nlk_real alpha, nlk_real eps, int ns_steps, int64_t t, int64_t period,
    int ema, nlk_real *work)
{
	const size_t n = (size_t)r * c;
	nlk_real *o1 = work;
	for (size_t j = 0; j < n; j++) {
		m1[j] = ema ? beta1 * m1[j] + (1 - beta1) * g[j] : m1[j] + beta1 * g[j];
		v[j] = ema ? beta2 * v[j] + (1 - beta2) * g[j] * g[j] : v[j] + beta2 * g[j] * g[j];
		gsum[j] += g[j];
	}
	NLK(nlk_ns)(o1, m1, r, c, ns_steps, work + n);
	const nlk_real vscale = ema ? (nlk_real)(1 / (1 - pow((double)beta2, (double)t))) : 1;
	for (size_t j = 0; j < n; j++)
		w[j] -= lr * (o1[j] + alpha * o2[j]) / (NLK_SQRT(v[j] * vscale) + eps);
	if (t % period != 0)
		return;
	const nlk_real mean = (nlk_real)(1.0 / (double)period);
	for (size_t j = 0; j < n; j++) {
		m2[j] = ema ? beta3 * m2[j] + (1 - beta3) * gsum[j] * mean : m2[j] + beta3 * gsum[j];
		gsum[j] = 0;
	}
	NLK(nlk_ns)(o2, m2, r, c, ns_steps, work);
}

/*
 * DMGD (eq. 50, D12): the momentum is a memory m_φ(u) = φ0_r + W_b σ(W_a u), σ = SiLU, read
 * on each gradient row u = g_r of a parameter [r, c] (φ0 [r, c], W_a [h, c], W_b [c, h]). Its
 * inner objective L(φ) = Σ_r <m_φ(g_r), g_r> takes one step φ ← α φ − lr ∇_φ L:
 *	∇φ0_r = g_r,  ∇W_b = Σ_r g_r a_rᵀ,  ∇W_a = Σ_r ((W_bᵀ g_r) ⊙ σ'(z_r)) g_rᵀ,
 *	z_r = W_a g_r, a_r = σ(z_r)  (both gradients at φ before the step);
 * then p_r += m_φ(g_r) with the new φ. With W_b = 0 and α = μ this is momentum until W_b
 * moves. work: 2·r·h + 2·c·h.
 */
static nlk_real
silu_d(nlk_real z, nlk_real *a)
{
	nlk_real s = 1 / (1 + NLK_EXP(-z));
	*a = z * s;
	return s * (1 + z * (1 - s));
}

void
NLK(nlk_dmgd_step_ref)(nlk_real *p, nlk_real *phi0, nlk_real *wa, nlk_real *wb,
    const nlk_real *g, int r, int c, int h, nlk_real lr, nlk_real alpha, nlk_real *work)
{
	nlk_real *a = work, *ds = work + (size_t)r * h;            /* a_r, (W_bᵀg_r)⊙σ'(z_r) */
	nlk_real *gwa = ds + (size_t)r * h, *gwb = gwa + (size_t)h * c;
	for (int i = 0; i < r; i++) {
		const nlk_real *gr = g + (size_t)i * c;
		for (int j = 0; j < h; j++) {
			nlk_real z = 0, bg = 0;
			for (int k = 0; k < c; k++) {
				z += wa[(size_t)j * c + k] * gr[k];
				bg += wb[(size_t)k * h + j] * gr[k];
			}
			nlk_real d = silu_d(z, &a[(size_t)i * h + j]);
			ds[(size_t)i * h + j] = bg * d;
		}
	}
	for (int j = 0; j < h; j++)
		for (int k = 0; k < c; k++) {
			nlk_real sa = 0, sb = 0;
			for (int i = 0; i < r; i++) {
				sa += ds[(size_t)i * h + j] * g[(size_t)i * c + k];
				sb += g[(size_t)i * c + k] * a[(size_t)i * h + j];
			}
			gwa[(size_t)j * c + k] = sa;
			gwb[(size_t)k * h + j] = sb;
		}
	for (size_t e = 0; e < (size_t)h * c; e++) {
		wa[e] = alpha * wa[e] - lr * gwa[e];
		wb[e] = alpha * wb[e] - lr * gwb[e];
	}
	for (size_t e = 0; e < (size_t)r * c; e++)
		phi0[e] = alpha * phi0[e] - lr * g[e];
	/* p_r += φ0_r + W_b σ(W_a g_r), the memory read after its step */
	for (int i = 0; i < r; i++) {
		const nlk_real *gr = g + (size_t)i * c;
		nlk_real *ar = a + (size_t)i * h;
		for (int j = 0; j < h; j++) {
			nlk_real z = 0;
			for (int k = 0; k < c; k++)
				z += wa[(size_t)j * c + k] * gr[k];
			silu_d(z, &ar[j]);
		}
		for (int k = 0; k < c; k++) {
			nlk_real y = phi0[(size_t)i * c + k];
			for (int j = 0; j < h; j++)
				y += wb[(size_t)k * h + j] * ar[j];
			p[(size_t)i * c + k] += y;
		}
	}
}

/* The same with its six products as gemms: G W_aᵀ and G W_b (r × h), the two weight
 * gradients, and the read after the step, G W_aᵀ again then A W_bᵀ (r × c) added to p. */
void
NLK(nlk_dmgd_step)(nlk_real *p, nlk_real *phi0, nlk_real *wa, nlk_real *wb, const nlk_real *g,
    int r, int c, int h, nlk_real lr, nlk_real alpha, nlk_real *work)
{
#ifdef NL_BLAS_OPENBLAS
	if (r <= 0 || c <= 0 || h <= 0)
		return;
	nlk_real *a = work, *ds = work + (size_t)r * h;
	nlk_real *gwa = ds + (size_t)r * h, *gwb = gwa + (size_t)h * c;
	const size_t rh = (size_t)r * h, hc = (size_t)h * c, rc = (size_t)r * c;
	NLK_GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, r, h, c, 1, g, c, wa, c, 0, a, h);
	NLK_GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, r, h, c, 1, g, c, wb, h, 0, ds, h);
	for (size_t e = 0; e < rh; e++) {
		nlk_real z = a[e];
		ds[e] *= silu_d(z, &a[e]);
	}
	NLK_GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, h, c, r, 1, ds, h, g, c, 0, gwa, c);
	NLK_GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, c, h, r, 1, g, c, a, h, 0, gwb, h);
	for (size_t e = 0; e < hc; e++) {
		wa[e] = alpha * wa[e] - lr * gwa[e];
		wb[e] = alpha * wb[e] - lr * gwb[e];
	}
	for (size_t e = 0; e < rc; e++) {
		phi0[e] = alpha * phi0[e] - lr * g[e];
		p[e] += phi0[e];
	}
	NLK_GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, r, h, c, 1, g, c, wa, c, 0, a, h);
	for (size_t e = 0; e < rh; e++)
		silu_d(a[e], &a[e]);
	NLK_GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, r, c, h, 1, a, h, wb, h, 1, p, c);
#else
	NLK(nlk_dmgd_step_ref)(p, phi0, wa, wb, g, r, c, h, lr, alpha, work);
#endif
}

/*
 * DGD (eqs. 56–57): one proximal step of W [r, c] on ½‖W x − u‖² + 1/(2η)‖W − W_t‖²,
 *	W ← W (I − η' x xᵀ) + η' u xᵀ,  η' = η / (1 + η xᵀx)
 * (η/(1+η) for a unit x): the exact minimiser. work: r.
 */
void
NLK(nlk_dgd_step)(nlk_real *w, const nlk_real *x, const nlk_real *u, int r, int c, nlk_real eta,
    nlk_real *work)
{
	double xx = 0;
	for (int k = 0; k < c; k++)
		xx += (double)x[k] * x[k];
	const nlk_real e = (nlk_real)(eta / (1 + eta * xx));
	for (int i = 0; i < r; i++) {
		nlk_real wx = 0;
		for (int k = 0; k < c; k++)
			wx += w[(size_t)i * c + k] * x[k];
		work[i] = e * (u[i] - wx);
	}
	for (int i = 0; i < r; i++)
		for (int k = 0; k < c; k++)
			w[(size_t)i * c + k] += work[i] * x[k];
}

/*
 * DGD over a layer's keys (MODEL D12): the inputs x_i [n, c] of a linear map W [r, c] and the
 * gradients dy_i [n, r] of its outputs, taken one after another as eq. 57 with the unit key
 * x̂ = x/‖x‖ and the value u = −scale ‖x‖ dy, so that Σ u x̂ᵀ = −scale ∇_W: to first order the
 * step is sgd's with η' = η/(1 + η) plus every key's decay −η' W x̂ x̂ᵀ. Keys of norm 0 carry
 * nothing and are skipped.
 * work: c + 2r.
 */
/* Key i as x̂ (c) and sign · u = −sign · scale ‖x‖ dy (r); 0 for a key of norm 0. */
static int
unit_key(const nlk_real *xi, const nlk_real *gi, int r, int c, nlk_real scale, nlk_real sign,
    nlk_real *xh, nlk_real *u)
{
	double xx = 0;
	for (int k = 0; k < c; k++)
		xx += (double)xi[k] * xi[k];
	if (xx == 0)
		return 0;
	const nlk_real norm = (nlk_real)sqrt(xx);
	for (int k = 0; k < c; k++)
		xh[k] = xi[k] / norm;
	for (int j = 0; j < r; j++)
		u[j] = -sign * scale * norm * gi[j];
	return 1;
}

void
NLK(nlk_dgd_keys_ref)(nlk_real *w, const nlk_real *x, const nlk_real *dy, int n, int r, int c,
    nlk_real eta, nlk_real scale, nlk_real *work)
{
	nlk_real *xh = work, *u = work + c, *wk = work + c + r;
	for (int i = 0; i < n; i++)
		if (unit_key(x + (size_t)i * c, dy + (size_t)i * r, r, c, scale, 1, xh, u))
			NLK(nlk_dgd_step)(w, xh, u, r, c, eta, wk);
}

/*
 * The same in blocks of NLK_DGD_BLOCK keys. Within a block, the error e_i = W_{i−1} x̂_i − u_i
 * of each key against the weights its predecessors left satisfies
 *	(I + η' tril(X̂ X̂ᵀ, −1)) E = X̂ W_0ᵀ − U,
 * solved by forward substitution; then W ← W_0 − η' Eᵀ X̂: two gemms of the block against W and
 * one of the block with itself. work: NLK_DGD_BLOCK · (r + c + NLK_DGD_BLOCK).
 */
void
NLK(nlk_dgd_keys)(nlk_real *w, const nlk_real *x, const nlk_real *dy, int n, int r, int c,
    nlk_real eta, nlk_real scale, nlk_real *work)
{
#ifdef NL_BLAS_OPENBLAS
	const int B = NLK_DGD_BLOCK;
	const nlk_real ep = eta / (1 + eta);
	nlk_real *xh = work, *e = xh + (size_t)B * c, *gram = e + (size_t)B * r;
	for (int i0 = 0; i0 < n; ) {
		int b = 0;                    /* the block's keys, unit, with their values −U in e */
		for (; b < B && i0 < n; i0++)
			b += unit_key(x + (size_t)i0 * c, dy + (size_t)i0 * r, r, c, scale, -1,
			    xh + (size_t)b * c, e + (size_t)b * r);
		if (b == 0)
			break;
		NLK_GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, b, r, c, 1, xh, c, w, c, 1, e, r);
		NLK_GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, b, b, c, 1, xh, c, xh, c, 0, gram, b);
		for (int i = 1; i < b; i++) {
			nlk_real *ei = e + (size_t)i * r;
			for (int j = 0; j < i; j++) {
				const nlk_real gij = ep * gram[(size_t)i * b + j];
				const nlk_real *ej = e + (size_t)j * r;
				for (int k = 0; k < r; k++)
					ei[k] -= gij * ej[k];
			}
		}
		NLK_GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, r, c, b, -ep, e, r, xh, c, 1, w, c);
	}
#else
	NLK(nlk_dgd_keys_ref)(w, x, dy, n, r, c, eta, scale, work);
#endif
}
