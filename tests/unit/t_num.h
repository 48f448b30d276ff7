/* nl — see LICENSE. Numeric test helpers shared by the kernel tests: a fixed random stream,
 * random vectors, and the finite-difference error metric. Include after t.h. */
#ifndef NL_T_NUM_H
#define NL_T_NUM_H

#include <stdint.h>

/* Central differences use h = 1e-6 in double: the truncation error is O(h²) ≈ 1e-12 and the
 * cancellation error ≈ 1e-16·|L|/h ≈ 1e-10 for |L| ~ 1, so a correct backward lands near
 * 1e-9 and 1e-6 has ample margin, while any wrong term shows up at 1e-2 to 1. */
#define T_FD_H 1e-6
#define T_FD_TOL 1e-6

/* splitmix64 from a fixed seed: every run checks the same numbers */
static uint64_t t_rng_state = 0x243f6a8885a308d3u;

static inline double
t_uniform(void)
{
	uint64_t z = (t_rng_state += 0x9e3779b97f4a7c15u);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	z ^= z >> 31;
	return (double)(z >> 11) * (2.0 / 9007199254740992.0) - 1;	/* [−1, 1) */
}

static inline void *
t_calloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);
	if (p == NULL)
		abort();
	return p;
}

static inline double *
t_dvec(size_t n, double scale)
{
	double *p = t_calloc(n, sizeof *p);
	for (size_t i = 0; i < n; i++)
		p[i] = scale * t_uniform();
	return p;
}

static inline float *
t_fvec(size_t n, double scale)
{
	float *p = t_calloc(n, sizeof *p);
	for (size_t i = 0; i < n; i++)
		p[i] = (float)(scale * t_uniform());
	return p;
}

static inline double
t_dot(const double *a, const double *b, size_t n)
{
	double s = 0;
	for (size_t i = 0; i < n; i++)
		s += a[i] * b[i];
	return s;
}

/* Gradient error: max_i |analytic_i − numeric_i| / max(1e-8, max_i max(|analytic_i|,
 * |numeric_i|)). One number per array, relative to the array's largest gradient: the central
 * difference carries an absolute rounding error on every element, which would swamp a
 * per-element relative error where the true gradient is ~0 (SiLU far left, an unused
 * embedding row). */
static inline double
t_grad_err(const double *an, const double *num, size_t n)
{
	double e = 0, s = 0;
	for (size_t i = 0; i < n; i++) {
		double d = fabs(an[i] - num[i]);
		double m = fabs(an[i]) > fabs(num[i]) ? fabs(an[i]) : fabs(num[i]);
		e = d > e ? d : e;
		s = m > s ? m : s;
	}
	return e / (s > 1e-8 ? s : 1e-8);
}

/* Central differences of loss(ctx) with step h over each element of in[n] (restored after),
 * compared with grad[n] by t_grad_err; t_fd_err uses T_FD_H. */
static inline double
t_fd_err_h(double (*loss)(void *), void *ctx, double *in, size_t n, const double *grad,
    double h)
{
	double *num = t_calloc(n, sizeof *num);
	for (size_t i = 0; i < n; i++) {
		double keep = in[i];
		in[i] = keep + h;
		double lp = loss(ctx);
		in[i] = keep - h;
		double lm = loss(ctx);
		in[i] = keep;
		num[i] = (lp - lm) / (2 * h);
	}
	double e = t_grad_err(grad, num, n);
	free(num);
	return e;
}

static inline double
t_fd_err(double (*loss)(void *), void *ctx, double *in, size_t n, const double *grad)
{
	return t_fd_err_h(loss, ctx, in, n, grad, T_FD_H);
}

/* |a − 2b| ≤ 1e-12 (|a| + 1) everywhere: a second backward call added the same again */
static inline int
t_doubled(const double *a, const double *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!(fabs(a[i] - 2 * b[i]) <= 1e-12 * (fabs(a[i]) + 1)))
			return 0;
	return 1;
}

#endif
