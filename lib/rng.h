/* nl — see LICENSE. A small deterministic random generator (xoshiro256**, seeded through
 * splitmix64) whose whole state fits a checkpoint line, so a resumed run draws what the
 * uninterrupted run would have drawn. */
#ifndef NL_RNG_H
#define NL_RNG_H
#include <stdint.h>
#include "err.h"

struct nl_rng {
	uint64_t s[4];
};

#define NL_RNG_STATE_LEN 64   /* hex digits of nl_rng_format */

void nl_rng_seed(struct nl_rng *r, uint64_t seed);
uint64_t nl_rng_next(struct nl_rng *r);
/* Uniform in [0, n), n > 0, without modulo bias. */
uint64_t nl_rng_below(struct nl_rng *r, uint64_t n);
/* Uniform double in [0, 1), 53 bits. */
double nl_rng_uniform(struct nl_rng *r);
/* Standard normal (Box–Muller, one draw per call: no cached second value in the state). */
double nl_rng_normal(struct nl_rng *r);
/* The state as 64 lower-case hex digits plus NUL, and back. */
void nl_rng_format(const struct nl_rng *r, char out[NL_RNG_STATE_LEN + 1]);
int nl_rng_parse(struct nl_rng *r, const char *text, struct nl_err *err);
#endif
