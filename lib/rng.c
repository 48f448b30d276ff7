/* nl — see LICENSE. xoshiro256** (Blackman and Vigna), seeded by splitmix64. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "rng.h"

static uint64_t
splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15u);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

void
nl_rng_seed(struct nl_rng *r, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&seed);
}

static uint64_t
rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t
nl_rng_next(struct nl_rng *r)
{
	uint64_t *s = r->s;
	uint64_t out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return out;
}

uint64_t
nl_rng_below(struct nl_rng *r, uint64_t n)
{
	/* reject the top partial copy of [0, n) so every residue is equally likely */
	uint64_t limit = UINT64_MAX - UINT64_MAX % n;
	uint64_t x;
	do
		x = nl_rng_next(r);
	while (x >= limit);
	return x % n;
}

double
nl_rng_uniform(struct nl_rng *r)
{
	return (double)(nl_rng_next(r) >> 11) * 0x1p-53;
}

double
nl_rng_normal(struct nl_rng *r)
{
	double u1 = 1.0 - nl_rng_uniform(r);   /* (0, 1]: log stays finite */
	double u2 = nl_rng_uniform(r);
	return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

void
nl_rng_format(const struct nl_rng *r, char out[NL_RNG_STATE_LEN + 1])
{
	for (int i = 0; i < 4; i++)
		snprintf(out + 16 * i, 17, "%016llx", (unsigned long long)r->s[i]);
}

int
nl_rng_parse(struct nl_rng *r, const char *text, struct nl_err *err)
{
	if (strlen(text) != NL_RNG_STATE_LEN)
		return nl_err_set(err, NL_EFORMAT, "random state is not %d hex digits",
		    NL_RNG_STATE_LEN);
	struct nl_rng v = { { 0 } };
	for (int i = 0; i < NL_RNG_STATE_LEN; i++) {
		int c = text[i], x;
		if (c >= '0' && c <= '9')
			x = c - '0';
		else if (c >= 'a' && c <= 'f')
			x = c - 'a' + 10;
		else
			return nl_err_set(err, NL_EFORMAT, "random state is not hex");
		v.s[i / 16] = v.s[i / 16] << 4 | (uint64_t)x;
	}
	if ((v.s[0] | v.s[1] | v.s[2] | v.s[3]) == 0)
		return nl_err_set(err, NL_EFORMAT, "random state is all zero");
	*r = v;
	return 0;
}
