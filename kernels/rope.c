/* nl — see LICENSE. Rotary position embedding (RoPE), interleaved pairs, per head. */
#include "real.h"

/*
 * RoPE is a rotation of each pair, so the loop below is both the specification and the fast
 * version (kernels_api.h declares no _ref). Pair i of a head, at position p = pos0 + t, turns by
 * θ = p·base^(−2i/D):
 *	y_2i   = x_2i cos θ − x_2i+1 sin θ
 *	y_2i+1 = x_2i sin θ + x_2i+1 cos θ
 * The angle and its cosine and sine are computed in double even in the float build: p·freq
 * reaches thousands of radians at long positions, where a float angle has lost the low bits
 * that decide the rotation, and the two builds should rotate by the same angle.
 */

/* Cosine and sine of the angle of pair i (of d/2) at position pos. */
static void
rope_angle(double *c, double *s, int64_t pos, int i, int d, double base)
{
	double freq = pow(base, -2.0 * i / d);
	double a = (double)pos * freq;

	*c = cos(a);
	*s = sin(a);
}

/* Rotate every pair of x[B,T,C] by its angle (by minus it when inverse), writing y, or adding
 * to y when accumulate; with accumulate unset y may alias x (each pair is read before written). */
static void
rope_apply(nlk_real *y, const nlk_real *x, int b, int t, int h, int d, int64_t pos0, nlk_real base,
    int inverse, int accumulate)
{
	size_t c = (size_t)h * d;

	/* the angle depends on (t, i) only: compute it once for every sequence and head */
	for (int ti = 0; ti < t; ti++) {
		for (int i = 0; i < d / 2; i++) {
			double cd, sd;
			rope_angle(&cd, &sd, pos0 + ti, i, d, base);
			nlk_real cs = (nlk_real)cd, sn = (nlk_real)(inverse ? -sd : sd);
			for (int bi = 0; bi < b; bi++) {
				size_t row = ((size_t)bi * t + ti) * c;
				for (int hh = 0; hh < h; hh++) {
					size_t j = row + (size_t)hh * d + 2 * (size_t)i;
					nlk_real x0 = x[j], x1 = x[j + 1];
					nlk_real r0 = x0 * cs - x1 * sn, r1 = x0 * sn + x1 * cs;
					if (accumulate) {
						y[j] += r0;
						y[j + 1] += r1;
					} else {
						y[j] = r0;
						y[j + 1] = r1;
					}
				}
			}
		}
	}
}

/* y[B,T,C] = rotate(x[B,T,C]), C = h·d, d even; y may alias x (each pair is read before it is
 * written). */
void
NLK(nlk_rope_fwd)(nlk_real *y, const nlk_real *x, int b, int t, int h, int d, int64_t pos0,
    nlk_real base)
{
	rope_apply(y, x, b, t, h, d, pos0, base, 0, 0);
}

/* dx[B,T,C] += Rᵀ dy[B,T,C]: the transpose of a rotation is the rotation by −θ, so this is the
 * forward pass with the sine negated, accumulated. dx must not alias dy. */
void
NLK(nlk_rope_bwd)(nlk_real *dx, const nlk_real *dy, int b, int t, int h, int d, int64_t pos0,
    nlk_real base)
{
	if (dx != NULL)
		rope_apply(dx, dy, b, t, h, d, pos0, base, 1, 1);
}
