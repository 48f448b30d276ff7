/* nl — see LICENSE. The MLP memory of Titans and self-modifying Titans (MODEL §2.1–2.2, §4,
 * §5), one head at a time: reads, the inner gradient at the chunk-start state, the inner step
 * size, and the sequential write, each with its exact reverse mode (second-order terms of the
 * inner gradient included), so `meta_grad = full` is plain composition of these adjoints.
 *
 * f(z) = [z +] W1 σ(W2 z), σ = SiLU; W2 [hid, din] consumes the input, W1 [dout, hid].
 * Rows are tokens. Loops are plain: per head the matrices are d_h × d_h (≤ 64² at the
 * presets); every loop runs over a contiguous row so the compiler vectorises it. */
#include "real.h"
#include "kernels.h"

static inline nlk_real
sigm(nlk_real x)
{
	return 1 / (1 + NLK_EXPV(-x));
}

/* SiLU and its first two derivatives at x: σ = x s, σ' = s (1 + x (1 − s)),
 * σ'' = s (1 − s) (2 + x (1 − 2 s)), s the logistic sigmoid. */
static inline void
silu3(nlk_real x, nlk_real *f, nlk_real *f1, nlk_real *f2)
{
	nlk_real s = sigm(x);
	*f = x * s;
	*f1 = s * (1 + x * (1 - s));
	*f2 = s * (1 - s) * (2 + x * (1 - 2 * s));
}

/* In eight lanes (nlk_sum8): it vectorises, and the order stays fixed. */
static inline nlk_real
dot(const nlk_real *a, const nlk_real *b, int n)
{
	nlk_real p[8] = { 0 }, s;
	int i = 0;
	for (; i + 8 <= n; i += 8)
		for (int j = 0; j < 8; j++)
			p[j] += a[i + j] * b[i + j];
	s = nlk_sum8(p);
	for (; i < n; i++)
		s += a[i] * b[i];
	return s;
}

/* y += a·x */
static inline void
axpy(nlk_real *y, nlk_real a, const nlk_real *x, int n)
{
	for (int i = 0; i < n; i++)
		y[i] += a * x[i];
}

/* y [n, dout] = [z +] σ(z W2ᵀ) W1ᵀ, keeping hp = z W2ᵀ and ac = σ(hp) [n, hid]. */
NLK_WIDE void
NLK(nlk_mem_read_fwd)(nlk_real *y, nlk_real *hp, nlk_real *ac, const nlk_real *z,
    const nlk_real *w1, const nlk_real *w2, int n, int din, int hid, int dout, int resid)
{
	for (int t = 0; t < n; t++) {
		const nlk_real *zt = z + (size_t)t * din;
		nlk_real *ht = hp + (size_t)t * hid, *at = ac + (size_t)t * hid;
		nlk_real *yt = y + (size_t)t * dout;
		for (int j = 0; j < hid; j++) {
			ht[j] = dot(w2 + (size_t)j * din, zt, din);
			at[j] = ht[j] * sigm(ht[j]);
		}
		for (int i = 0; i < dout; i++)
			yt[i] = (resid ? zt[i] : 0) + dot(w1 + (size_t)i * hid, at, hid);
	}
}

/* Backward of nlk_mem_read_fwd: dz [n, din], dw1, dw2 accumulate (each may be NULL);
 * scratch holds hid elements. */
NLK_WIDE void
NLK(nlk_mem_read_bwd)(nlk_real *dz, nlk_real *dw1, nlk_real *dw2, const nlk_real *dy,
    const nlk_real *z, const nlk_real *hp, const nlk_real *ac, const nlk_real *w1,
    const nlk_real *w2, int n, int din, int hid, int dout, int resid, nlk_real *scratch)
{
	nlk_real *dh = scratch;
	for (int t = 0; t < n; t++) {
		const nlk_real *dyt = dy + (size_t)t * dout, *zt = z + (size_t)t * din;
		const nlk_real *ht = hp + (size_t)t * hid, *at = ac + (size_t)t * hid;
		for (int j = 0; j < hid; j++)
			dh[j] = 0;
		for (int i = 0; i < dout; i++) {
			axpy(dh, dyt[i], w1 + (size_t)i * hid, hid);
			if (dw1)
				axpy(dw1 + (size_t)i * hid, dyt[i], at, hid);
		}
		for (int j = 0; j < hid; j++) {
			nlk_real f, f1, f2;
			silu3(ht[j], &f, &f1, &f2);
			dh[j] *= f1;
		}
		for (int j = 0; j < hid; j++) {
			if (dw2)
				axpy(dw2 + (size_t)j * din, dh[j], zt, din);
			if (dz)
				axpy(dz + (size_t)t * din, dh[j], w2 + (size_t)j * din, din);
		}
		if (dz && resid)
			axpy(dz + (size_t)t * din, 1, dyt, din);
	}
}

/*
 * The inner gradient of ½‖f(k) − v̂‖² at (W1, W2), in factors (MODEL §2.2):
 * G1 = e aᵀ, G2 = δ kᵀ with e = f(k) − v̂, a = σ(h), δ = (W1ᵀ e) ⊙ σ'(h), h = W2 k.
 * Inputs y, hp, ac: nlk_mem_read_fwd of k. Outputs e [n, dout], dl = δ [n, hid] and
 * cv [n] = ‖a‖² + ‖k‖² Σ_j σ'(h_j)² ‖W1[:, j]‖²: the squared Frobenius norm of the
 * token's Jacobian of f(k) with respect to (W1, W2), a bound on the curvature of the
 * linearised inner loss that the step rules normalise by.
 */
NLK_WIDE void
NLK(nlk_mem_igrad_fwd)(nlk_real *e, nlk_real *dl, nlk_real *cv, const nlk_real *y,
    const nlk_real *vhat, const nlk_real *k, const nlk_real *hp, const nlk_real *ac,
    const nlk_real *w1, int n, int din, int hid, int dout)
{
	for (int t = 0; t < n; t++) {
		const nlk_real *kt = k + (size_t)t * din, *ht = hp + (size_t)t * hid;
		const nlk_real *at = ac + (size_t)t * hid;
		nlk_real *et = e + (size_t)t * dout, *dt = dl + (size_t)t * hid;
		for (int i = 0; i < dout; i++)
			et[i] = y[(size_t)t * dout + i] - vhat[(size_t)t * dout + i];
		for (int j = 0; j < hid; j++)
			dt[j] = 0;
		for (int i = 0; i < dout; i++)
			axpy(dt, et[i], w1 + (size_t)i * hid, hid);
		nlk_real jac = 0;
		for (int j = 0; j < hid; j++) {
			nlk_real f, f1, f2, col = 0;
			silu3(ht[j], &f, &f1, &f2);
			dt[j] *= f1;
			for (int i = 0; i < dout; i++)
				col += w1[(size_t)i * hid + j] * w1[(size_t)i * hid + j];
			jac += f1 * f1 * col;
		}
		cv[t] = dot(at, at, hid) + dot(kt, kt, din) * jac;
	}
}

/*
 * Reverse mode of the inner gradient (MODEL §5, "second-order terms"): given the adjoints
 * de, dac, ddl, dcv of e, a, δ and cv (from the write and the step rule; dcv may be NULL),
 * accumulate dk, dvhat and — unless NULL (meta_grad = first) — dw1, dw2.
 * scratch holds 5·hid + dout elements.
 */
NLK_WIDE void
NLK(nlk_mem_igrad_bwd)(nlk_real *dk, nlk_real *dvhat, nlk_real *dw1, nlk_real *dw2,
    const nlk_real *de, const nlk_real *dac, const nlk_real *ddl, const nlk_real *dcv,
    const nlk_real *k, const nlk_real *e, const nlk_real *hp, const nlk_real *ac,
    const nlk_real *w1, const nlk_real *w2, int n, int din, int hid, int dout, int resid,
    nlk_real *scratch)
{
	nlk_real *r = scratch, *rbar = r + hid, *hbar = rbar + hid, *s1 = hbar + hid;
	nlk_real *col = s1 + hid, *ebar = col + hid;
	for (int j = 0; j < hid; j++) {
		col[j] = 0;
		for (int i = 0; i < dout; i++)
			col[j] += w1[(size_t)i * hid + j] * w1[(size_t)i * hid + j];
	}
	for (int t = 0; t < n; t++) {
		const nlk_real *kt = k + (size_t)t * din, *et = e + (size_t)t * dout;
		const nlk_real *ht = hp + (size_t)t * hid, *at = ac + (size_t)t * hid;
		const nlk_real *dat = dac + (size_t)t * hid, *ddt = ddl + (size_t)t * hid;
		nlk_real *dkt = dk + (size_t)t * din;
		nlk_real cbar = dcv ? dcv[t] : 0, kk = dot(kt, kt, din), jac = 0;

		for (int j = 0; j < hid; j++)
			r[j] = 0;
		for (int i = 0; i < dout; i++)
			axpy(r, et[i], w1 + (size_t)i * hid, hid);       /* r = W1ᵀ e */
		for (int j = 0; j < hid; j++) {
			nlk_real f, f1, f2;
			silu3(ht[j], &f, &f1, &f2);
			s1[j] = f1;
			jac += f1 * f1 * col[j];
			rbar[j] = ddt[j] * f1;                            /* δ = r ⊙ σ'(h) */
			hbar[j] = ddt[j] * r[j] * f2                      /* ... through σ'(h) */
			    + cbar * kk * 2 * f1 * f2 * col[j];           /* cv through σ'(h) */
		}
		/* e feeds G1 directly (de) and δ through r = W1ᵀ e; y = [k +] W1 a with ȳ = ē */
		for (int i = 0; i < dout; i++)
			ebar[i] = de[(size_t)t * dout + i] + dot(w1 + (size_t)i * hid, rbar, hid);
		for (int j = 0; j < hid; j++) {
			nlk_real abar = dat[j] + 2 * cbar * at[j];        /* G1 = e aᵀ, cv's ‖a‖² */
			for (int i = 0; i < dout; i++)
				abar += w1[(size_t)i * hid + j] * ebar[i];
			hbar[j] += abar * s1[j];                          /* a = σ(h) */
		}
		for (int i = 0; i < dout; i++) {
			dvhat[(size_t)t * dout + i] -= ebar[i];
			if (resid)
				dkt[i] += ebar[i];
			if (dw1) {
				nlk_real *g = dw1 + (size_t)i * hid;
				const nlk_real *w1i = w1 + (size_t)i * hid;
				axpy(g, et[i], rbar, hid);
				axpy(g, ebar[i], at, hid);
				for (int j = 0; j < hid; j++)     /* cv through ‖W1[:, j]‖² */
					g[j] += 2 * cbar * kk * s1[j] * s1[j] * w1i[j];
			}
		}
		axpy(dkt, 2 * cbar * jac, kt, din);                       /* cv through ‖k‖² */
		for (int j = 0; j < hid; j++) {                           /* h = W2 k */
			if (dw2)
				axpy(dw2 + (size_t)j * din, hbar[j], kt, din);
			axpy(dkt, hbar[j], w2 + (size_t)j * din, din);
		}
	}
}

/*
 * The step γ_t that multiplies token t's inner gradient (MODEL §1.3; nl.7 derives the
 * rules), from η [n], the curvature bounds cv [n] of nlk_mem_igrad_fwd and β [n]:
 *	literal     γ = η
 *	prox        γ = η / (1 + η cv)              each token's linearised proximal step
 *	prox-chunk  γ = η / (1 + Σ_s η_s cv_s)     the chunk's summed loss as one proximal step
 *	mean        γ = η / n                       the chunk's gradients averaged
 * With ema the momentum is an average, S ← β S − (1 − β) γ G: g = (1 − β) γ; else g = γ.
 * The n tokens are one write's chunk.
 */
NLK_WIDE void
NLK(nlk_mem_step_fwd)(nlk_real *g, const nlk_real *eta, const nlk_real *cv,
    const nlk_real *beta, int n, int rule, int ema)
{
	nlk_real z = 1;
	if (rule == NLK_STEP_PROX_CHUNK)
		for (int t = 0; t < n; t++)
			z += eta[t] * cv[t];
	for (int t = 0; t < n; t++) {
		nlk_real gam = rule == NLK_STEP_PROX ? eta[t] / (1 + eta[t] * cv[t])
		    : rule == NLK_STEP_PROX_CHUNK ? eta[t] / z
		    : rule == NLK_STEP_MEAN ? eta[t] / n : eta[t];
		g[t] = ema ? (1 - beta[t]) * gam : gam;
	}
}

/* Backward of nlk_mem_step_fwd: deta, dcv, dbeta accumulate (dcv, dbeta may be NULL when
 * the rule does not use them). */
NLK_WIDE void
NLK(nlk_mem_step_bwd)(nlk_real *deta, nlk_real *dcv, nlk_real *dbeta, const nlk_real *dg,
    const nlk_real *eta, const nlk_real *cv, const nlk_real *beta, int n, int rule, int ema)
{
	nlk_real z = 1, dz = 0;
	if (rule == NLK_STEP_PROX_CHUNK)
		for (int t = 0; t < n; t++)
			z += eta[t] * cv[t];
	for (int t = 0; t < n; t++) {
		nlk_real dgam = ema ? (1 - beta[t]) * dg[t] : dg[t];
		if (rule == NLK_STEP_PROX) {
			nlk_real q = 1 + eta[t] * cv[t];
			if (ema && dbeta)
				dbeta[t] -= dg[t] * eta[t] / q;
			deta[t] += dgam / (q * q);
			if (dcv)
				dcv[t] -= dgam * eta[t] * eta[t] / (q * q);
		} else if (rule == NLK_STEP_PROX_CHUNK) {
			if (ema && dbeta)
				dbeta[t] -= dg[t] * eta[t] / z;
			deta[t] += dgam / z;
			dz -= dgam * eta[t] / (z * z);
		} else {
			nlk_real s = rule == NLK_STEP_MEAN ? (nlk_real)1 / n : 1;
			if (ema && dbeta)
				dbeta[t] -= dg[t] * eta[t] * s;
			deta[t] += dgam * s;
		}
	}
	if (rule == NLK_STEP_PROX_CHUNK)
		for (int t = 0; t < n; t++) {
			deta[t] += dz * cv[t];
			if (dcv)
				dcv[t] += dz * eta[t];
		}
}

/* One token of the write: S1 ← β S1 − g e aᵀ, W1 ← α W1 + S1, S2 ← β S2 − g δ kᵀ,
 * W2 ← α W2 − p (W2 k) kᵀ + S2 (the projector with the old W2; p = 0 without it).
 * u: hid elements of scratch. */
static void
write_token(nlk_real *w1, nlk_real *w2, nlk_real *s1, nlk_real *s2, nlk_real *u,
    const nlk_real *k, const nlk_real *e, const nlk_real *a, const nlk_real *dl, nlk_real g,
    nlk_real p, nlk_real al, nlk_real be, int din, int hid, int dout)
{
	for (int i = 0; i < dout; i++) {
		nlk_real *s = s1 + (size_t)i * hid, *w = w1 + (size_t)i * hid, ge = g * e[i];
		for (int j = 0; j < hid; j++) {
			s[j] = be * s[j] - ge * a[j];
			w[j] = al * w[j] + s[j];
		}
	}
	for (int j = 0; j < hid; j++) {
		nlk_real *s = s2 + (size_t)j * din, *w = w2 + (size_t)j * din, gd = g * dl[j];
		u[j] = p != 0 ? p * dot(w, k, din) : 0;
		for (int i = 0; i < din; i++) {
			s[i] = be * s[i] - gd * k[i];
			w[i] = al * w[i] - u[j] * k[i] + s[i];
		}
	}
}

/* The sequential write of one chunk (MODEL §2.2 step 5, D5): for t = 0..n−1 the token step
 * above with k [n, din], e [n, dout], ac [n, hid], dl [n, hid] from nlk_mem_igrad_fwd at the
 * chunk-start state, and per-token g (nlk_mem_step_fwd), p (NULL: no projector), α, β.
 * States w1, w2, s1, s2 are updated in place. scratch: hid elements. */
NLK_WIDE void
NLK(nlk_mem_write_fwd)(nlk_real *w1, nlk_real *w2, nlk_real *s1, nlk_real *s2,
    const nlk_real *k, const nlk_real *e, const nlk_real *ac, const nlk_real *dl,
    const nlk_real *g, const nlk_real *p, const nlk_real *al, const nlk_real *be, int n,
    int din, int hid, int dout, nlk_real *scratch)
{
	for (int t = 0; t < n; t++)
		write_token(w1, w2, s1, s2, scratch, k + (size_t)t * din, e + (size_t)t * dout,
		    ac + (size_t)t * hid, dl + (size_t)t * hid, g[t], p ? p[t] : 0, al[t], be[t],
		    din, hid, dout);
}

/* One row of a matrix's step W ← α W + S, S ← β S − …, reversed: the momentum's adjoint b
 * takes the weight's a, and α, β collect a·W and b·S over the states before the token. */
static inline void
row_adjoints(const nlk_real *a, nlk_real *b, const nlk_real *w, const nlk_real *sm, int n,
    nlk_real *dalpha, nlk_real *dbeta)
{
	for (int i = 0; i < n; i++)
		b[i] += a[i];
	*dalpha += dot(a, w, n);
	*dbeta += dot(b, sm, n);
}

/* Elements of scratch nlk_mem_write_bwd needs. */
size_t
NLK(nlk_mem_write_scratch)(int n, int din, int hid, int dout)
{
	return (size_t)n * 2 * ((size_t)dout * hid + (size_t)hid * din) + (size_t)hid;
}

/*
 * Reverse mode of nlk_mem_write_fwd (MODEL §5, linear memory with momentum, applied to W2
 * with the projector and to W1 without). w1..s2 are the chunk-start states; the states
 * before every token are recomputed into scratch (nlk_mem_write_scratch elements).
 * dw1, dw2, ds1, ds2 hold the adjoints of the chunk-end states on entry and of the
 * chunk-start states (through the recurrence only) on return. Per-token adjoints dk, de,
 * dac, ddl, dg, dal, dbe and dp (when p is not NULL) accumulate.
 */
NLK_WIDE void
NLK(nlk_mem_write_bwd)(nlk_real *dw1, nlk_real *dw2, nlk_real *ds1, nlk_real *ds2,
    nlk_real *dk, nlk_real *de, nlk_real *dac, nlk_real *ddl, nlk_real *dg, nlk_real *dp,
    nlk_real *dal, nlk_real *dbe, const nlk_real *w1, const nlk_real *w2, const nlk_real *s1,
    const nlk_real *s2, const nlk_real *k, const nlk_real *e, const nlk_real *ac,
    const nlk_real *dl, const nlk_real *g, const nlk_real *p, const nlk_real *al,
    const nlk_real *be, int n, int din, int hid, int dout, nlk_real *scratch)
{
	const size_t m1 = (size_t)dout * hid, m2 = (size_t)hid * din, per = 2 * (m1 + m2);
	nlk_real *u = scratch + (size_t)n * per;

	/* states before each token: [W1 S1 W2 S2] per token */
	memcpy(scratch, w1, m1 * sizeof *w1);
	memcpy(scratch + m1, s1, m1 * sizeof *s1);
	memcpy(scratch + 2 * m1, w2, m2 * sizeof *w2);
	memcpy(scratch + 2 * m1 + m2, s2, m2 * sizeof *s2);
	for (int t = 0; t + 1 < n; t++) {
		nlk_real *cur = scratch + (size_t)t * per, *nx = cur + per;
		memcpy(nx, cur, per * sizeof *cur);
		write_token(nx, nx + 2 * m1, nx + m1, nx + 2 * m1 + m2, u, k + (size_t)t * din,
		    e + (size_t)t * dout, ac + (size_t)t * hid, dl + (size_t)t * hid, g[t],
		    p ? p[t] : 0, al[t], be[t], din, hid, dout);
	}
	for (int t = n - 1; t >= 0; t--) {
		const nlk_real *st = scratch + (size_t)t * per;
		const nlk_real *pw1 = st, *ps1 = st + m1, *pw2 = st + 2 * m1, *ps2 = pw2 + m2;
		const nlk_real *kt = k + (size_t)t * din, *et = e + (size_t)t * dout;
		const nlk_real *at = ac + (size_t)t * hid, *dt = dl + (size_t)t * hid;
		nlk_real *dkt = dk + (size_t)t * din, *det = de + (size_t)t * dout;
		nlk_real *dat = dac + (size_t)t * hid, *ddt = ddl + (size_t)t * hid;
		nlk_real gt = g[t], pt = p ? p[t] : 0, dgt = 0;

		nlk_real dalt = 0, dbet = 0, dpt = 0;
		/* one pass per row of each matrix (it stays in L1): the momentum takes the
		 * weight's adjoint, α and β take theirs, G1 = e aᵀ, then the decays */
		for (int i = 0; i < dout; i++) {
			nlk_real *a1 = dw1 + (size_t)i * hid, *b1 = ds1 + (size_t)i * hid;
			row_adjoints(a1, b1, pw1 + (size_t)i * hid, ps1 + (size_t)i * hid, hid, &dalt,
			    &dbet);
			nlk_real e1a = dot(b1, at, hid);
			dgt -= et[i] * e1a;
			det[i] -= gt * e1a;
			axpy(dat, -gt * et[i], b1, hid);
			for (int j = 0; j < hid; j++) {
				a1[j] *= al[t];
				b1[j] *= be[t];
			}
		}
		/* G2 = δ kᵀ and the projector −p (W2 k) kᵀ: ū_j = −p (D2 k)_j; W2_{t−1} gets ū kᵀ,
		 * k gets W2_{t−1}ᵀ ū − p D2ᵀ u with u = W2_{t−1} k */
		for (int j = 0; j < hid; j++) {
			nlk_real *a2 = dw2 + (size_t)j * din, *b2 = ds2 + (size_t)j * din;
			const nlk_real *w = pw2 + (size_t)j * din;
			row_adjoints(a2, b2, w, ps2 + (size_t)j * din, din, &dalt, &dbet);
			nlk_real e2k = dot(b2, kt, din);
			dgt -= dt[j] * e2k;
			ddt[j] -= gt * e2k;
			axpy(dkt, -gt * dt[j], b2, din);
			if (p != NULL) {
				nlk_real d2k = dot(a2, kt, din), uj = dot(w, kt, din), ubar = -pt * d2k;
				dpt -= d2k * uj;
				axpy(dkt, ubar, w, din);
				axpy(dkt, -pt * uj, a2, din);
				for (int i = 0; i < din; i++)
					a2[i] = al[t] * a2[i] + ubar * kt[i];
			} else {
				for (int i = 0; i < din; i++)
					a2[i] *= al[t];
			}
			for (int i = 0; i < din; i++)
				b2[i] *= be[t];
		}
		dal[t] += dalt;
		dbe[t] += dbet;
		dg[t] += dgt;
		if (p != NULL)
			dp[t] += dpt;
	}
}
