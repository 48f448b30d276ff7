/* nl — see LICENSE. The synthetic tasks of nl-synth (synth.h; recipes of EVAL §4). */
#include "synth.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "corpus.h"
#include "data.h"
#include "rng.h"
#include "tfile.h"

#define MAXP 8                     /* parameters of one task */
#define HAY_MAX (64u << 20)        /* haystack bytes kept from a file */

/* A growing text. */
struct sbuf {
	char *p;
	size_t n, cap;
	int failed;
};

static void
sb_add(struct sbuf *b, const char *s, size_t n)
{
	if (b->failed)
		return;
	if (b->n + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->n + n + 1)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (p == NULL) {
			b->failed = 1;
			return;
		}
		b->p = p, b->cap = cap;
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = 0;
}

static void
sb_str(struct sbuf *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

static void __attribute__((format(printf, 2, 3)))
sb_fmt(struct sbuf *b, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	sb_add(b, tmp, n < 0 ? 0 : (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

typedef char word8[8];                  /* a made-up word (ctnl, intents) */

struct synth {
	const struct nl_synth_task *task;
	struct nl_rng rng;
	const char *str[MAXP];             /* each parameter's value as text */
	double num[MAXP];                  /* and as a number (NAN when it is not one) */
	uint64_t seed;                     /* the job's */
	long long T, index, count;         /* example length, example number, examples */
	const struct nl_tok *tok;          /* text tasks: NULL is bytes */
	struct nl_tok_enc *enc;
	uint32_t *tmp;
	size_t tmp_n, tmp_cap;
	char *hay;                         /* haystack=: its text, whitespace collapsed */
	size_t hay_len;
	char **words;                      /* keys=: its words, in words_buf */
	char *words_buf;
	size_t nwords;
	uint32_t *map;                     /* mad-memorize: the global map */
	word8 *made;                       /* ctnl, intents: made-up words */
	uint16_t *cls;                     /* intents: each example's class */
	uint32_t *ids;                     /* the example under construction */
	uint8_t *flags;
	size_t n, cap;
	int failed;
	struct sbuf text;                  /* scratch for text tasks */
};

struct task_impl {
	struct nl_synth_task pub;
	/* the stream's vocabulary (ids tasks), after check */
	uint32_t (*vocab)(const struct synth *s);
	/* parameters that cannot make an example: the reason */
	int (*check)(struct synth *s, struct nl_err *err);
	int (*gen)(struct synth *s, struct nl_err *err);
};

/* ---- parameters ---- */

static int
pidx(const struct synth *s, const char *key)
{
	for (int i = 0; s->task->params[i].key; i++)
		if (strcmp(s->task->params[i].key, key) == 0)
			return i;
	return -1;
}

static double
P(const struct synth *s, const char *key)
{
	return s->num[pidx(s, key)];
}

static long long
PI(const struct synth *s, const char *key)
{
	return (long long)P(s, key);
}

/* Integer parameters in [lo, hi]. */
static int
want_int(const struct synth *s, const char *key, long long lo, long long hi, struct nl_err *err)
{
	double v = P(s, key);
	if (isnan(v) || v != floor(v) || v < (double)lo || v > (double)hi)
		return nl_err_set(err, NL_EUSAGE, "%s: %s is not an integer in %lld..%lld", key,
		    s->str[pidx(s, key)], lo, hi);
	return 0;
}

static int
want_real(const struct synth *s, const char *key, double lo, double hi, struct nl_err *err)
{
	double v = P(s, key);
	if (isnan(v) || v < lo || v > hi)
		return nl_err_set(err, NL_EUSAGE, "%s: %s is not a number in %g..%g", key,
		    s->str[pidx(s, key)], lo, hi);
	return 0;
}

/* -T at least min. */
static int
want_length(const struct synth *s, long long min, struct nl_err *err)
{
	if (s->T < min)
		return nl_err_set(err, NL_EUSAGE, "the length must be at least %lld", min);
	return 0;
}

/* depth=: rand, sweep (example i at 10·(i mod 11) %) or a percentage. */
static int
want_depth(const struct synth *s, struct nl_err *err)
{
	const char *v = s->str[pidx(s, "depth")];
	if (strcmp(v, "rand") == 0 || strcmp(v, "sweep") == 0)
		return 0;
	return want_real(s, "depth", 0, 100, err);
}

/* The depth of this example as a fraction in [0, 1], or −1 for a uniform draw. */
static double
depth_of(const struct synth *s)
{
	const char *v = s->str[pidx(s, "depth")];
	if (strcmp(v, "rand") == 0)
		return -1;
	if (strcmp(v, "sweep") == 0)
		return (double)(s->index % 11) / 10;
	return P(s, "depth") / 100;
}

/* ---- randomness ---- */

static long long
rnd(struct synth *s, long long lo, long long hi)       /* uniform in [lo, hi] */
{
	return lo + (long long)nl_rng_below(&s->rng, (uint64_t)(hi - lo + 1));
}

/* k distinct values of [lo, hi) into out, in random order (a partial shuffle). */
static int
distinct(struct synth *s, uint32_t *out, size_t k, uint32_t lo, uint32_t hi)
{
	size_t n = hi - lo;
	uint32_t *all = malloc(n * sizeof *all);
	if (all == NULL)
		return -1;
	for (size_t i = 0; i < n; i++)
		all[i] = lo + (uint32_t)i;
	for (size_t i = 0; i < k; i++) {
		size_t j = i + (size_t)nl_rng_below(&s->rng, n - i);
		uint32_t t = all[i];
		all[i] = all[j], all[j] = t;
		out[i] = all[i];
	}
	free(all);
	return 0;
}

/* ---- the example ---- */

static void
put(struct synth *s, uint32_t id, int score)
{
	if (s->failed)
		return;
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 1024;
		uint32_t *ids = realloc(s->ids, cap * sizeof *ids);
		uint8_t *fl = ids ? realloc(s->flags, cap) : NULL;
		if (ids)
			s->ids = ids;
		if (fl == NULL) {
			s->failed = 1;
			return;
		}
		s->flags = fl, s->cap = cap;
	}
	s->ids[s->n] = id;
	s->flags[s->n] = (uint8_t)((s->n == 0 ? NL_DATA_DOC : 0) | (score ? NL_DATA_SCORE : 0));
	s->n++;
}

/* Text through the tokenizer (bytes, or a BPE: each piece encoded on its own, so an answer
 * is its own tokens), every row scored or none. */
static void
put_text(struct synth *s, const char *p, size_t n, int score)
{
	if (s->tok == NULL) {
		for (size_t i = 0; i < n; i++)
			put(s, (unsigned char)p[i], score);
		return;
	}
	struct nl_err err;
	s->tmp_n = 0;
	if (nl_tok_encode(s->enc, (const unsigned char *)p, n, 1, &s->tmp, &s->tmp_n, &s->tmp_cap,
	    &err) < 0) {
		s->failed = 1;
		return;
	}
	for (size_t i = 0; i < s->tmp_n; i++)
		put(s, s->tmp[i], score);
}

static void
put_str(struct synth *s, const char *p, int score)
{
	put_text(s, p, strlen(p), score);
}

/* ---- id tasks ---- */

static uint32_t
vocab_param(const struct synth *s)
{
	return (uint32_t)PI(s, "vocab");
}

/* mqar: Zoology's multi-query associative recall (EVAL §4.1). */
static int
mqar_check(struct synth *s, struct nl_err *err)
{
	if (want_int(s, "vocab", 4, 1 << 24, err) || want_int(s, "pairs", 1, 1 << 20, err) ||
	    want_real(s, "power_a", 1e-9, 1, err) || want_int(s, "random_non_queries", 0, 1, err))
		return -1;
	long long V = PI(s, "vocab"), D = PI(s, "pairs");
	if (4 * D > s->T)
		return nl_err_set(err, NL_EUSAGE, "4 · pairs = %lld exceeds the length %lld",
		    4 * D, s->T);
	if (D > V / 2 - 1)
		return nl_err_set(err, NL_EUSAGE, "%lld pairs need a vocabulary above %lld",
		    D, 2 * D + 1);
	return 0;
}

static int
mqar_gen(struct synth *s, struct nl_err *err)
{
	const uint32_t V = (uint32_t)PI(s, "vocab");
	const size_t D = (size_t)PI(s, "pairs"), T = (size_t)s->T, space = (T - 2 * D) / 2;
	const double a = P(s, "power_a");
	uint32_t *key = malloc(D * sizeof *key), *val = malloc(D * sizeof *val);
	uint32_t *seq = calloc(T, sizeof *seq);
	uint8_t *ans = calloc(T, 1);
	double *p = malloc(space * sizeof *p);
	if (!key || !val || !seq || !ans || !p || distinct(s, key, D, 1, V / 2) ||
	    distinct(s, val, D, V / 2, V)) {
		free(key), free(val), free(seq), free(ans), free(p);
		return nl_err_set(err, NL_ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < D; i++)
		seq[2 * i] = key[i], seq[2 * i + 1] = val[i];
	/* D distinct gaps, p(g) ∝ a (g+1)^(a−1), drawn one by one without replacement */
	for (size_t g = 0; g < space; g++)
		p[g] = a * pow((double)g + 1, a - 1);
	for (size_t i = 0; i < D; i++) {
		double total = 0, u;
		for (size_t g = 0; g < space; g++)
			total += p[g];
		u = nl_rng_uniform(&s->rng) * total;
		size_t g = 0;
		while (g + 1 < space && (u -= p[g]) >= 0)
			g++;
		for (size_t k = 0; p[g] == 0 && k < space; k++)   /* rounding: a free gap */
			g = (g + 1) % space;
		p[g] = 0;
		size_t at = 2 * D + 2 * g;
		seq[at] = key[i], seq[at + 1] = val[i], ans[at + 1] = 1;
	}
	for (size_t t = 2 * D; t < T; t++)
		if (seq[t] == 0 && PI(s, "random_non_queries") && !ans[t])
			seq[t] = (uint32_t)nl_rng_below(&s->rng, V);
	for (size_t t = 0; t < T; t++)
		put(s, seq[t], ans[t]);
	free(key), free(val), free(seq), free(ans), free(p);
	return 0;
}

/* copy: every token from delay on repeats the one delay before it. */
static int
copy_check(struct synth *s, struct nl_err *err)
{
	if (want_int(s, "vocab", 2, 1 << 24, err) || want_int(s, "delay", 1, 1 << 24, err))
		return -1;
	if (PI(s, "delay") >= s->T)
		return nl_err_set(err, NL_EUSAGE, "delay %lld leaves nothing to copy in %lld "
		    "tokens", PI(s, "delay"), s->T);
	return 0;
}

static int
copy_gen(struct synth *s, struct nl_err *err)
{
	const long long d = PI(s, "delay");
	uint32_t *seq = malloc((size_t)s->T * sizeof *seq);
	if (seq == NULL)
		return nl_err_set(err, NL_ENOMEM, "out of memory");
	for (long long t = 0; t < s->T; t++) {
		seq[t] = t < d ? (uint32_t)rnd(s, 1, PI(s, "vocab") - 1) : seq[t - d];
		put(s, seq[t], t >= d);
	}
	free(seq);
	return 0;
}

/* induction: ... A B ... A → B, A nowhere else. */
static int
induction_check(struct synth *s, struct nl_err *err)
{
	return want_int(s, "vocab", 4, 1 << 24, err) || want_length(s, 6, err);
}

static int
induction_gen(struct synth *s, struct nl_err *err)
{
	(void)err;
	const long long V = PI(s, "vocab"), T = s->T, at = rnd(s, 0, T - 5);
	const uint32_t A = (uint32_t)rnd(s, 1, V - 1);
	uint32_t B = (uint32_t)rnd(s, 1, V - 2);
	B += B >= A;
	for (long long t = 0; t < T; t++) {
		uint32_t x;
		if (t == at || t == T - 2)
			x = A;
		else if (t == at + 1 || t == T - 1)
			x = B;
		else {
			x = (uint32_t)rnd(s, 1, V - 2);
			x += x >= A;
		}
		put(s, x, t == T - 1);
	}
	return 0;
}

/* The MAD recall family (EVAL §4.5): keys [0, V/2), values [V/2, V), the query token V,
 * noise tokens [V + 1, V + 1 + V/2) (mad-nicr). A motif is 1..motif tokens (mad-ficr). */
static uint32_t
mad_vocab(const struct synth *s)
{
	uint32_t V = vocab_param(s);
	return strcmp(s->task->name, "mad-nicr") == 0 ? V + 1 + V / 2 : V + 1;
}

static int
mad_recall_check(struct synth *s, struct nl_err *err)
{
	int fuzzy = strcmp(s->task->name, "mad-ficr") == 0;
	if (want_int(s, "vocab", 4, 1 << 20, err) || want_int(s, "pairs", 1, 1 << 20, err) ||
	    (pidx(s, "frac_noise") >= 0 && want_real(s, "frac_noise", 0, 0.9, err)) ||
	    (fuzzy && want_int(s, "motif", 1, 16, err)))
		return -1;
	long long V = PI(s, "vocab"), m = fuzzy ? PI(s, "motif") : 1, motifs = 0;
	for (long long l = 1, p = 1; l <= m && motifs < 1 << 20; l++)
		motifs += p *= V / 2;
	const char *score = s->str[pidx(s, "score")];
	if (strcmp(score, "all") != 0 && strcmp(score, "last") != 0)
		return nl_err_set(err, NL_EUSAGE, "score: %s is neither all nor last", score);
	if (PI(s, "pairs") > motifs)
		return nl_err_set(err, NL_EUSAGE, "%lld pairs need a vocabulary of %lld",
		    PI(s, "pairs"), 2 * PI(s, "pairs"));
	return want_length(s, 4 * m + 1, err);
}

/* One motif of 1..m tokens of [lo, lo + span) into out; its length. */
static int
motif(struct synth *s, uint32_t *out, int m, uint32_t lo, uint32_t span)
{
	int len = (int)rnd(s, 1, m);
	for (int i = 0; i < len; i++)
		out[i] = lo + (uint32_t)nl_rng_below(&s->rng, span);
	return len;
}

static int
mad_recall_gen(struct synth *s, struct nl_err *err)
{
	const uint32_t V = vocab_param(s), H = V / 2;
	const int fuzzy = strcmp(s->task->name, "mad-ficr") == 0;
	const int m = fuzzy ? (int)PI(s, "motif") : 1;
	const double noise = pidx(s, "frac_noise") >= 0 ? P(s, "frac_noise") : 0;
	const size_t K = (size_t)PI(s, "pairs");
	/* the example's map: K keys (motifs for ficr) and their values */
	uint32_t (*key)[16] = malloc(K * sizeof *key), (*val)[16] = malloc(K * sizeof *val);
	int *klen = malloc(K * sizeof *klen), *vlen = malloc(K * sizeof *vlen);
	char *seen = calloc(K, 1);
	if (!key || !val || !klen || !vlen || !seen) {
		free(key), free(val), free(klen), free(vlen), free(seen);
		return nl_err_set(err, NL_ENOMEM, "out of memory");
	}
	if (fuzzy) {
		for (size_t k = 0; k < K; k++) {
			/* keys are distinct motifs, so that a key has one value */
			int same;
			do {
				klen[k] = motif(s, key[k], m, 0, H);
				same = 0;
				for (size_t j = 0; j < k && !same; j++)
					same = klen[j] == klen[k] &&
					    memcmp(key[j], key[k], (size_t)klen[k] * sizeof **key) == 0;
			} while (same);
			vlen[k] = motif(s, val[k], m, H, V - H);
		}
	} else {
		uint32_t *kp = malloc(K * sizeof *kp);
		if (kp == NULL || distinct(s, kp, K, 0, H)) {
			free(kp), free(key), free(val), free(klen), free(vlen), free(seen);
			return nl_err_set(err, NL_ENOMEM, "out of memory");
		}
		for (size_t k = 0; k < K; k++) {
			key[k][0] = kp[k], klen[k] = 1;
			val[k][0] = H + (uint32_t)nl_rng_below(&s->rng, V - H), vlen[k] = 1;
		}
		free(kp);
	}
	/* pairs while a pair and the query still fit; a value is scored once its key has
	 * been seen before in the example */
	long long used = 0;
	const long long query = 1 + 2 * (long long)m;
	for (;;) {
		size_t k = (size_t)nl_rng_below(&s->rng, K);
		if (used + klen[k] + vlen[k] + query > s->T)
			break;
		if (noise > 0 && nl_rng_uniform(&s->rng) < noise) {   /* a noise pair instead */
			put(s, V + 1 + (uint32_t)nl_rng_below(&s->rng, H), 0);
			put(s, V + 1 + (uint32_t)nl_rng_below(&s->rng, H), 0);
			used += 2;
			continue;
		}
		for (int i = 0; i < klen[k]; i++)
			put(s, key[k][i], 0);
		for (int i = 0; i < vlen[k]; i++)
			put(s, val[k][i], seen[k] && strcmp(s->str[pidx(s, "score")], "all") == 0);
		seen[k] = 1;
		used += klen[k] + vlen[k];
	}
	size_t probe = 0, nseen = 0;         /* a key that was seen, uniformly */
	for (size_t k = 0; k < K; k++)
		if (seen[k] && nl_rng_below(&s->rng, ++nseen) == 0)
			probe = k;
	if (nseen == 0)                      /* all noise: show one pair first */
		for (int i = 0; i < klen[probe] + vlen[probe]; i++)
			put(s, i < klen[probe] ? key[probe][i] : val[probe][i - klen[probe]], 0);
	put(s, V, 0);
	for (int i = 0; i < klen[probe]; i++)
		put(s, key[probe][i], 0);
	for (int i = 0; i < vlen[probe]; i++)
		put(s, val[probe][i], 1);
	free(key), free(val), free(klen), free(vlen), free(seen);
	return 0;
}

/* mad-scopy: copy tokens [2, V) scattered among blanks (0), the copy token 1, then the
 * tokens in order. */
static int
scopy_check(struct synth *s, struct nl_err *err)
{
	if (want_int(s, "vocab", 3, 1 << 24, err) || want_int(s, "copy", 1, 1 << 20, err))
		return -1;
	if (2 * PI(s, "copy") + 1 > s->T)
		return nl_err_set(err, NL_EUSAGE, "copying %lld tokens needs a length of "
		    "%lld", PI(s, "copy"), 2 * PI(s, "copy") + 1);
	return 0;
}

static int
scopy_gen(struct synth *s, struct nl_err *err)
{
	const long long c = PI(s, "copy"), room = s->T - c - 1;
	uint32_t *tok = malloc((size_t)c * sizeof *tok), *pos = malloc((size_t)room * sizeof *pos);
	char *is = calloc((size_t)room, 1);
	if (!tok || !pos || !is || distinct(s, pos, (size_t)c, 0, (uint32_t)room)) {
		free(tok), free(pos), free(is);
		return nl_err_set(err, NL_ENOMEM, "out of memory");
	}
	for (long long i = 0; i < c; i++)
		is[pos[i]] = 1;
	long long k = 0;
	for (long long t = 0; t < room; t++) {
		uint32_t x = 0;
		if (is[t])
			x = tok[k++] = (uint32_t)rnd(s, 2, PI(s, "vocab") - 1);
		put(s, x, 0);
	}
	put(s, 1, 0);
	for (long long i = 0; i < c; i++)
		put(s, tok[i], 1);
	free(tok), free(pos), free(is);
	return 0;
}

/* mad-compress: a sequence of [1, V), the token 0, the sequence again. */
static int
compress_check(struct synth *s, struct nl_err *err)
{
	return want_int(s, "vocab", 2, 1 << 24, err) || want_length(s, 3, err);
}

static int
compress_gen(struct synth *s, struct nl_err *err)
{
	const long long n = (s->T - 1) / 2;
	uint32_t *seq = malloc((size_t)n * sizeof *seq);
	if (seq == NULL)
		return nl_err_set(err, NL_ENOMEM, "out of memory");
	for (long long i = 0; i < n; i++)
		put(s, seq[i] = (uint32_t)rnd(s, 1, PI(s, "vocab") - 1), 0);
	put(s, 0, 0);
	for (long long i = 0; i < n; i++)
		put(s, seq[i], 1);
	free(seq);
	return 0;
}

/* mad-memorize: pairs from one global map, keys [0, pairs), values [pairs, pairs + vocab).
 * The map is base_seed's; with share < 1 a key keeps it with probability share and takes
 * map_seed's value otherwise (a drifting phase). -s chooses only which pairs are shown. */
static uint32_t
memorize_vocab(const struct synth *s)
{
	return (uint32_t)(PI(s, "pairs") + PI(s, "vocab"));
}

static int
memorize_check(struct synth *s, struct nl_err *err)
{
	if (want_int(s, "vocab", 1, 1 << 20, err) || want_int(s, "pairs", 1, 1 << 20, err) ||
	    want_int(s, "map_seed", 0, (1ll << 53), err) ||
	    want_int(s, "base_seed", 0, (1ll << 53), err) || want_real(s, "share", 0, 1, err))
		return -1;
	if (want_length(s, 2, err))
		return -1;
	const size_t K = (size_t)PI(s, "pairs");
	if ((s->map = malloc(K * sizeof *s->map)) == NULL)
		return nl_err_set(err, NL_ENOMEM, "out of memory");
	struct nl_rng base, drift;
	nl_rng_seed(&base, (uint64_t)PI(s, "base_seed") ^ 0x6d656d6fu);   /* "memo" */
	nl_rng_seed(&drift, (uint64_t)PI(s, "map_seed") ^ 0x64726966u);   /* "drif" */
	for (size_t k = 0; k < K; k++) {
		uint32_t b = (uint32_t)nl_rng_below(&base, (uint64_t)PI(s, "vocab"));
		uint32_t d = (uint32_t)nl_rng_below(&drift, (uint64_t)PI(s, "vocab"));
		int keep = nl_rng_uniform(&drift) < P(s, "share");
		s->map[k] = (uint32_t)K + (keep ? b : d);
	}
	return 0;
}

static int
memorize_gen(struct synth *s, struct nl_err *err)
{
	(void)err;
	for (long long t = 0; t + 1 < s->T; t += 2) {
		uint32_t k = (uint32_t)nl_rng_below(&s->rng, (uint64_t)PI(s, "pairs"));
		put(s, k, 0);
		put(s, s->map[k], 1);
	}
	return 0;
}

/* ---- formal languages (EVAL §4.6): string, '=', label '1' or '0' (scored) ---- */

static const char *
lang_alphabet(const char *name)
{
	return strcmp(name, "parity") == 0 ? "01" : strcmp(name, "aa") == 0 ? "a" :
	    strcmp(name, "anbncn") == 0 ? "abc" : strcmp(name, "shuffle2") == 0 ? "()[]" : "ab";
}

/* Whether a string of length n can be in the language. */
static int
lang_len_ok(const char *name, long long n)
{
	if (strcmp(name, "parity") == 0)
		return 1;
	if (strcmp(name, "abab") == 0)
		return n % 4 == 0;
	if (strcmp(name, "anbncn") == 0)
		return n % 3 == 0;
	return n % 2 == 0;               /* aa, anbn, shuffle2 */
}

static int
lang_member(const char *name, const char *x, long long n)
{
	if (!lang_len_ok(name, n))
		return 0;
	if (strcmp(name, "parity") == 0) {
		int ones = 0;
		for (long long i = 0; i < n; i++)
			ones += x[i] == '1';
		return ones % 2 == 0;
	}
	if (strcmp(name, "aa") == 0)
		return 1;                        /* only 'a' exists and the length is even */
	if (strcmp(name, "abab") == 0) {
		for (long long i = 0; i < n; i++)
			if (x[i] != "ab"[i % 2])
				return 0;
		return 1;
	}
	if (strcmp(name, "shuffle2") == 0) {
		int b[2] = { 0, 0 };
		for (long long i = 0; i < n; i++) {
			int k = x[i] == '[' || x[i] == ']';
			b[k] += x[i] == '(' || x[i] == '[' ? 1 : -1;
			if (b[k] < 0)
				return 0;
		}
		return b[0] == 0 && b[1] == 0;
	}
	long long k = strcmp(name, "anbncn") == 0 ? n / 3 : n / 2;   /* a^k b^k (c^k) */
	for (long long i = 0; i < n; i++)
		if (x[i] != "abc"[i / k])
			return 0;
	return 1;
}

/* A member of length n (lang_len_ok). */
static void
lang_positive(struct synth *s, const char *name, char *x, long long n)
{
	if (strcmp(name, "parity") == 0) {
		int ones = 0;
		for (long long i = 0; i < n; i++)
			ones += (x[i] = (char)('0' + rnd(s, 0, 1))) == '1';
		if (n > 0 && ones % 2)
			x[n - 1] = x[n - 1] == '1' ? '0' : '1';
	} else if (strcmp(name, "shuffle2") == 0) {
		/* two Dyck-1 words, of p and q pairs, interleaved at random */
		long long p = rnd(s, 0, n / 2), q = n / 2 - p, open[2] = { p, q }, bal[2] = { 0, 0 };
		long long left[2] = { 2 * p, 2 * q };
		for (long long i = 0; i < n; i++) {
			int k = (long long)nl_rng_below(&s->rng, (uint64_t)(left[0] + left[1])) >= left[0];
			int opening = open[k] > 0 && (bal[k] == 0 || rnd(s, 0, 1));
			x[i] = "()[]"[2 * k + !opening];
			open[k] -= opening, bal[k] += opening ? 1 : -1, left[k]--;
		}
	} else {
		for (long long i = 0; i < n; i++)
			x[i] = strcmp(name, "aa") == 0 ? 'a' : strcmp(name, "abab") == 0 ? "ab"[i % 2] :
			    "abc"[i / (strcmp(name, "anbncn") == 0 ? n / 3 : n / 2)];
	}
}

/* One random edit of x; the new length. A substitution when the alphabet has two letters
 * or more, so that a negative keeps a member's length and length alone tells nothing; else
 * ((aa)*) an insertion or a deletion, within lo..hi when there is room. */
static long long
lang_edit(struct synth *s, const char *alpha, char *x, long long n, long long lo, long long hi)
{
	const long long a = (long long)strlen(alpha);
	if (a > 1 && n > 0) {
		long long i = rnd(s, 0, n - 1);
		char c;
		do
			c = alpha[rnd(s, 0, a - 1)];
		while (c == x[i]);
		x[i] = c;
		return n;
	}
	if (n == 0 || (n < hi && (n <= lo || rnd(s, 0, 1)))) {
		long long i = rnd(s, 0, n);
		memmove(x + i + 1, x + i, (size_t)(n - i));
		x[i] = alpha[rnd(s, 0, a - 1)];
		return n + 1;
	}
	long long i = rnd(s, 0, n - 1);
	memmove(x + i, x + i + 1, (size_t)(n - i - 1));
	return n - 1;
}

static int
lang_check(struct synth *s, struct nl_err *err)
{
	if (want_int(s, "minlen", 0, 1 << 20, err) || want_int(s, "maxlen", 0, 1 << 20, err) ||
	    want_real(s, "near_miss", 0, 1, err))
		return -1;
	long long lo = PI(s, "minlen"), hi = PI(s, "maxlen");
	if (lo > hi)
		return nl_err_set(err, NL_EUSAGE, "minlen %lld exceeds maxlen %lld", lo, hi);
	for (long long n = lo; n <= hi; n++)
		if (lang_len_ok(s->task->name, n) && (n > 0 || strcmp(s->task->name, "parity") == 0))
			return 0;
	return nl_err_set(err, NL_EUSAGE, "no string of the language has a length in "
	    "%lld..%lld", lo, hi);
}

static int
lang_gen(struct synth *s, struct nl_err *err)
{
	const char *name = s->task->name, *alpha = lang_alphabet(name);
	const long long lo = PI(s, "minlen"), hi = PI(s, "maxlen");
	const int positive = s->index % 2 == 0;         /* balanced classes */
	char *x = malloc((size_t)hi + 3);
	if (x == NULL)
		return nl_err_set(err, NL_ENOMEM, "out of memory");
	long long n = rnd(s, lo, hi);
	/* a member's length: the nearest one in range that the language has */
	long long m = n;
	const int empty_ok = strcmp(name, "parity") == 0;   /* the others' members are ≥ 1 long */
	for (long long d = 0; d <= hi - lo; d++) {
		if (n + d <= hi && lang_len_ok(name, n + d) && (n + d > 0 || empty_ok)) {
			m = n + d;
			break;
		}
		if (n - d >= lo && lang_len_ok(name, n - d) && (n - d > 0 || empty_ok)) {
			m = n - d;
			break;
		}
	}
	/* a member's length: a member, one to edit into a near miss, or a uniform string */
	n = m;
	if (positive || nl_rng_uniform(&s->rng) < P(s, "near_miss"))
		lang_positive(s, name, x, m);
	else
		for (long long i = 0; i < n; i++)
			x[i] = alpha[rnd(s, 0, (long long)strlen(alpha) - 1)];
	while (!positive && lang_member(name, x, n))
		n = lang_edit(s, alpha, x, n, lo, hi);
	put(s, NL_TOK_EOT, 0);
	put_text(s, x, (size_t)n, 0);
	put_str(s, "=", 0);
	put_str(s, positive ? "1" : "0", 1);
	free(x);
	return 0;
}

/* ---- text in a haystack: passkey, S-NIAH, bAbI ---- */

static const char garbage[] = "The grass is green. The sky is blue. The sun is yellow. "
    "Here we go. There and back again.";

static const char *const adjectives[] = { "ancient", "bright", "calm", "curious", "distant",
	"eager", "fierce", "gentle", "golden", "hidden", "humble", "jolly", "lively", "lonely",
	"mighty", "narrow", "patient", "quiet", "rapid", "silent", "steady", "swift", "tender",
	"vivid" };
static const char *const nouns[] = { "anchor", "badger", "candle", "canyon", "falcon",
	"garden", "harbor", "island", "lantern", "meadow", "mirror", "orchard", "pebble", "river",
	"saddle", "temple", "thistle", "tower", "valley", "violin", "wagon", "willow", "window",
	"harvest" };
static const char *const verbs[] = { "watches", "follows", "remembers", "carries", "finds",
	"greets", "passes", "paints", "guards", "answers" };
#define NELEM(a) (sizeof (a) / sizeof *(a))

/* A generated sentence (the default haystack: hermetic, no file needed). */
static void
filler_sentence(struct synth *s, struct sbuf *b)
{
	sb_fmt(b, "The %s %s %s the %s %s.", adjectives[rnd(s, 0, NELEM(adjectives) - 1)],
	    nouns[rnd(s, 0, NELEM(nouns) - 1)], verbs[rnd(s, 0, NELEM(verbs) - 1)],
	    adjectives[rnd(s, 0, NELEM(adjectives) - 1)], nouns[rnd(s, 0, NELEM(nouns) - 1)]);
}

/* haystack=FILE: the text of every document of the file or archive, whitespace collapsed. */
static int
load_haystack(struct synth *s, const char *path, struct nl_err *err)
{
	struct nl_corpus_opts opts = { NULL, 0, NULL, 0, NULL, NULL, NULL };
	struct nl_corpus *c;
	struct sbuf b = { 0 };
	const unsigned char *data;
	size_t len;
	int doc, rc;
	if (nl_corpus_open(&c, &path, 1, &opts, 0, err) < 0)
		return -1;
	int space = 1;
	while ((rc = nl_corpus_read(c, &data, &len, &doc, err)) == 1 && b.n < HAY_MAX)
		for (size_t i = 0; i < len && b.n < HAY_MAX; i++) {
			int ws = data[i] == ' ' || data[i] == '\n' || data[i] == '\t' ||
			    data[i] == '\r' || data[i] == '\f' || data[i] == '\v';
			if (ws && !space)
				sb_add(&b, " ", 1);
			else if (!ws)
				sb_add(&b, (const char *)data + i, 1);
			space = ws;
		}
	if (rc < 0)
		nl_err_prefix(err, nl_corpus_source(c));
	nl_corpus_close(c);
	if (rc < 0) {
		free(b.p);
		return -1;
	}
	if (b.failed) {
		free(b.p);
		return nl_err_set(err, NL_ENOMEM, "out of memory");
	}
	if (b.n < 2) {
		free(b.p);
		return nl_err_set(err, NL_EFORMAT, "%s: the haystack has no text", path);
	}
	s->hay = b.p, s->hay_len = b.n;
	return 0;
}

/* keys=FILE: its words (whitespace-separated), at least one. */
static int
load_words(struct synth *s, const char *path, struct nl_err *err)
{
	struct nl_io in;
	struct sbuf b = { 0 };
	if (nl_io_open_read(&in, path, NL_IO_FORCE, err) < 0)
		return -1;
	b.p = (char *)nl_io_read_all(&in, HAY_MAX, &b.n, err);
	nl_io_abort(&in);
	if (b.p == NULL) {
		nl_err_prefix(err, "%s", path);
		return -1;
	}
	size_t cap = 0;
	for (char *p = b.p ? strtok(b.p, " \t\r\n") : NULL; p; p = strtok(NULL, " \t\r\n")) {
		if (s->nwords == cap) {
			cap = cap ? 2 * cap : 256;
			char **w = realloc(s->words, cap * sizeof *w);
			if (w == NULL) {
				s->words_buf = b.p;
				return nl_err_set(err, NL_ENOMEM, "out of memory");
			}
			s->words = w;
		}
		s->words[s->nwords++] = p;
	}
	s->words_buf = b.p;
	if (s->nwords == 0)
		return nl_err_set(err, NL_EFORMAT, "%s: no words", path);
	return 0;
}

/* The key of a needle: a word of keys=, else an adjective-noun pair. */
static void
needle_key(struct synth *s, char *out, size_t n)
{
	if (s->nwords)
		snprintf(out, n, "%s", s->words[rnd(s, 0, (long long)s->nwords - 1)]);
	else
		snprintf(out, n, "%s-%s", adjectives[rnd(s, 0, NELEM(adjectives) - 1)],
		    nouns[rnd(s, 0, NELEM(nouns) - 1)]);
}

/* Haystack sentences until about budget bytes: from haystack= (a random place, wrapping
 * round; cut at sentence ends), or the repeated garbage (sniah1), or generated ones. The
 * sentence starts go to starts (n_starts of them). */
static void
haystack(struct synth *s, struct sbuf *b, long long budget, int repeated, size_t **starts,
    size_t *n_starts)
{
	size_t cap = 0;
	*n_starts = 0;
	long long pos = s->hay ? rnd(s, 0, (long long)s->hay_len - 1) : 0;
	if (s->hay)        /* start at a sentence start */
		while (pos < (long long)s->hay_len && !(pos > 1 && s->hay[pos - 2] == '.' &&
		    s->hay[pos - 1] == ' '))
			pos++;
	for (;;) {
		struct sbuf one = { 0 };
		if (repeated)
			sb_str(&one, garbage);
		else if (s->hay) {
			if (pos >= (long long)s->hay_len)
				pos = 0;
			long long e = pos;
			while (e < (long long)s->hay_len && !(s->hay[e] == '.' && (e + 1 ==
			    (long long)s->hay_len || s->hay[e + 1] == ' ')) && e - pos < 2000)
				e++;
			if (e < (long long)s->hay_len)
				e++;
			sb_add(&one, s->hay + pos, (size_t)(e - pos));
			pos = e + 1;
		} else
			filler_sentence(s, &one);
		long long add = (long long)one.n + (b->n > 0);
		int last = 0;
		if (!one.failed && (long long)b->n + add > budget) {
			/* fill the room left with the sentence's head, cut after a word */
			long long room = budget - (long long)b->n - (b->n > 0);
			while (room > 0 && one.p[room - 1] != ' ')
				room--;
			if (room < 8) {
				free(one.p);
				break;
			}
			one.n = (size_t)room - 1, one.p[one.n] = 0;
			add = (long long)one.n + (b->n > 0), last = 1;
		}
		if (one.failed) {
			free(one.p);
			break;
		}
		if (*n_starts == cap) {
			cap = cap ? 2 * cap : 64;
			size_t *p = realloc(*starts, cap * sizeof *p);
			if (p == NULL) {
				free(one.p);
				b->failed = 1;
				break;
			}
			*starts = p;
		}
		if (b->n > 0)
			sb_str(b, repeated ? "\n" : " ");
		(*starts)[(*n_starts)++] = b->n;
		sb_add(b, one.p, one.n);
		free(one.p);
		if (last)
			break;
	}
}

/* Where a needle goes among n sentence starts: depth= (as a fraction of them) or uniform. */
static size_t
needle_slot(struct synth *s, size_t n)
{
	double d = depth_of(s);
	if (d < 0)
		return (size_t)rnd(s, 0, (long long)n);
	return (size_t)llround(d * (double)n);
}

static int
passkey_check(struct synth *s, struct nl_err *err)
{
	return want_depth(s, err) || want_int(s, "keymax", 1, 1000000000, err);
}

/* passkey (EVAL §4.2): the garbage cut to fit -T bytes around the pass key. */
static int
passkey_gen(struct synth *s, struct nl_err *err)
{
	static const char task[] = "There is an important info hidden inside a lot of irrelevant "
	    "text. Find it and memorize them. I will quiz you about the important information "
	    "there.";
	static const char question[] = "What is the pass key? The pass key is";
	char info[160], answer[32];
	long long key = rnd(s, 1, PI(s, "keymax"));
	snprintf(info, sizeof info, "The pass key is %lld. Remember it. %lld is the pass key.", key,
	    key);
	snprintf(answer, sizeof answer, "%lld", key);
	long long fixed = (long long)(strlen(task) + strlen(info) + strlen(question) + 4 +
	    1 + strlen(answer));
	long long n_garbage = s->T - fixed > 0 ? s->T - fixed : 0;
	double d = depth_of(s);
	long long n_prefix = d < 0 ? rnd(s, 0, n_garbage) : llround(d * (double)n_garbage);
	struct sbuf G = { 0 };
	while ((long long)G.n < n_garbage && !G.failed) {
		if (G.n)
			sb_str(&G, " ");
		sb_str(&G, garbage);
	}
	if (G.failed) {
		free(G.p);
		return nl_err_set(err, NL_ENOMEM, "out of memory");
	}
	struct sbuf *b = &s->text;
	b->n = 0;
	sb_str(b, task);
	sb_str(b, "\n");
	sb_add(b, G.p ? G.p : "", (size_t)n_prefix);
	sb_str(b, "\n");
	sb_str(b, info);
	sb_str(b, "\n");
	sb_add(b, G.p ? G.p : "", (size_t)(n_garbage - n_prefix));
	sb_str(b, "\n");
	sb_str(b, question);
	sb_str(b, " ");
	free(G.p);
	if (b->failed)
		return nl_err_set(err, NL_ENOMEM, "out of memory");
	put(s, NL_TOK_EOT, 0);
	put_text(s, b->p, b->n, 0);
	put_str(s, answer, 1);
	return 0;
}

static int
sniah_check(struct synth *s, struct nl_err *err)
{
	if (want_depth(s, err))
		return -1;
	const char *hay = s->str[pidx(s, "haystack")], *keys = s->str[pidx(s, "keys")];
	if (*hay && strcmp(s->task->name, "sniah1") == 0)
		return nl_err_set(err, NL_EUSAGE, "its haystack is the repeated noise "
		    "sentence; haystack= is for sniah2 and sniah3");
	if (*hay && load_haystack(s, hay, err))
		return -1;
	return *keys ? load_words(s, keys, err) : 0;
}

/* 128 random bits as a version-4 UUID. */
static void
uuid4(struct synth *s, char *out)
{
	unsigned char b[16];
	for (int i = 0; i < 16; i++)
		b[i] = (unsigned char)nl_rng_below(&s->rng, 256);
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	sprintf(out, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
	    b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
	    b[14], b[15]);
}

/* S-NIAH-1/2/3 (EVAL §4.3, RULER's niah_single_1..3). */
static int
sniah_gen(struct synth *s, struct nl_err *err)
{
	const int kind = s->task->name[5] - '0';
	const char *what = kind == 3 ? "uuid" : "number";
	char key[128], value[48], needle[320], head[320], tail[480];
	needle_key(s, key, sizeof key);
	if (kind == 3)
		uuid4(s, value);
	else
		snprintf(value, sizeof value, "%lld", rnd(s, 1000000, 9999999));
	snprintf(needle, sizeof needle, "One of the special magic %ss for %s is: %s.", what, key,
	    value);
	snprintf(head, sizeof head, "A special magic %s is hidden within the following text. "
	    "Make sure to memorize it. I will quiz you about the %s afterwards.\n", what, what);
	snprintf(tail, sizeof tail, "\nWhat is the special magic %s for %s mentioned in the "
	    "provided text? The special magic %s for %s mentioned in the provided text is ", what,
	    key, what, key);
	long long budget = s->T - (long long)(strlen(head) + strlen(tail) + strlen(needle) + 1 +
	    strlen(value));
	struct sbuf hay = { 0 };
	size_t *starts = NULL, n = 0;
	haystack(s, &hay, budget, kind == 1, &starts, &n);
	/* before sentence slot (each sentence start follows its separator), or after the last */
	const char *sep = kind == 1 ? "\n" : " ";
	size_t slot = needle_slot(s, n), at = slot < n ? starts[slot] : hay.n;
	struct sbuf *b = &s->text;
	b->n = 0;
	sb_str(b, head);
	sb_add(b, hay.p ? hay.p : "", at);
	if (slot == n && n > 0)
		sb_str(b, sep);
	sb_str(b, needle);
	if (slot < n)
		sb_str(b, sep);
	sb_add(b, hay.p ? hay.p + at : "", hay.n - at);
	sb_str(b, tail);
	int failed = hay.failed || b->failed;
	free(hay.p);
	free(starts);
	if (failed)
		return nl_err_set(err, NL_ENOMEM, "out of memory");
	put(s, NL_TOK_EOT, 0);
	put_text(s, b->p, b->n, 0);
	put_str(s, value, 1);
	return 0;
}

/* bAbI qa1–qa3 facts among haystack sentences (EVAL §4.4). */
static const char *const people[] = { "Mary", "John", "Daniel", "Sandra" };
static const char *const places[] = { "bathroom", "hallway", "garden", "office", "bedroom",
	"kitchen" };
static const char *const objects[] = { "football", "apple", "milk" };
static const char *const move_verbs[] = { "moved to", "went to", "journeyed to",
	"travelled to", "went back to" };
static const char *const take_verbs[] = { "got", "grabbed", "picked up", "took" };
static const char *const drop_verbs[] = { "dropped", "discarded", "put down", "left" };

static int
babi_check(struct synth *s, struct nl_err *err)
{
	const int kind = s->task->name[4] - '0';
	if (want_int(s, "facts", kind == 3 ? 4 : kind == 2 ? 3 : 1, 1000, err))
		return -1;
	const char *hay = s->str[pidx(s, "haystack")];
	return *hay ? load_haystack(s, hay, err) : 0;
}

/* A story of facts sentences into facts (one sbuf, sentence starts in at), the question and
 * its answer. */
static int
babi_story(struct synth *s, int kind, struct sbuf *facts, size_t *at, char *question,
    char *answer)
{
	const int F = (int)PI(s, "facts");
	int where[NELEM(people)], holder[NELEM(objects)], oplace[NELEM(objects)];
	int hist[NELEM(objects)][1024], nhist[NELEM(objects)] = { 0 };
	for (size_t i = 0; i < NELEM(people); i++)
		where[i] = -1;
	for (size_t o = 0; o < NELEM(objects); o++)
		holder[o] = -1, oplace[o] = -1;
	for (int f = 0; f < F; f++) {
		at[f] = facts->n;
		int p = (int)rnd(s, 0, NELEM(people) - 1);
		int o = (int)rnd(s, 0, NELEM(objects) - 1);
		/* bAbI 1 moves only; 2 and 3 also take and drop when the story allows */
		int act = kind == 1 ? 0 : (int)rnd(s, 0, 2);
		if (act == 1 && (where[p] < 0 || holder[o] >= 0 ||
		    (oplace[o] >= 0 && oplace[o] != where[p])))
			act = 0;
		if (act == 2 && holder[o] != p)
			act = 0;
		if (act == 0) {
			int to;
			do
				to = (int)rnd(s, 0, NELEM(places) - 1);
			while (to == where[p]);
			where[p] = to;
			sb_fmt(facts, "%s %s the %s.", people[p],
			    move_verbs[rnd(s, 0, NELEM(move_verbs) - 1)], places[to]);
			for (size_t k = 0; k < NELEM(objects); k++)
				if (holder[k] == p && nhist[k] < 1024)
					oplace[k] = to, hist[k][nhist[k]++] = to;
		} else if (act == 1) {
			holder[o] = p;
			if (oplace[o] < 0 && nhist[o] < 1024)
				hist[o][nhist[o]++] = where[p];
			oplace[o] = where[p];
			sb_fmt(facts, "%s %s the %s.", people[p],
			    take_verbs[rnd(s, 0, NELEM(take_verbs) - 1)], objects[o]);
		} else {
			holder[o] = -1;
			sb_fmt(facts, "%s %s the %s.", people[p],
			    drop_verbs[rnd(s, 0, NELEM(drop_verbs) - 1)], objects[o]);
		}
	}
	if (kind == 1) {
		int cand[NELEM(people)], n = 0;
		for (size_t i = 0; i < NELEM(people); i++)
			if (where[i] >= 0)
				cand[n++] = (int)i;
		int p = cand[rnd(s, 0, n - 1)];
		sprintf(question, "Where is %s?", people[p]);
		strcpy(answer, places[where[p]]);
		return 0;
	}
	/* an object with a known place (qa2), or with a place in its history that occurs once
	 * and has one before it (qa3); none: the story is drawn again */
	int cand[NELEM(objects) * 1024][2], nc = 0;       /* (object, history index) */
	for (size_t o = 0; o < NELEM(objects); o++) {
		if (kind == 2 && oplace[o] >= 0)
			cand[nc][0] = (int)o, cand[nc++][1] = -1;
		for (int j = 1; kind == 3 && j < nhist[o]; j++) {
			int once = 1;
			for (int i = 0; i < nhist[o]; i++)
				once &= i == j || hist[o][i] != hist[o][j];
			if (once)
				cand[nc][0] = (int)o, cand[nc++][1] = j;
		}
	}
	if (nc == 0)
		return 1;
	long long pick = rnd(s, 0, nc - 1);
	int best = cand[pick][0], idx = cand[pick][1];
	if (kind == 2) {
		sprintf(question, "Where is the %s?", objects[best]);
		strcpy(answer, places[oplace[best]]);
	} else {
		sprintf(question, "Where was the %s before the %s?", objects[best],
		    places[hist[best][idx]]);
		strcpy(answer, places[hist[best][idx - 1]]);
	}
	return 0;
}

static int
babi_gen(struct synth *s, struct nl_err *err)
{
	const int kind = s->task->name[4] - '0', F = (int)PI(s, "facts");
	char question[128], answer[32];
	struct sbuf facts = { 0 };
	size_t *at = malloc(((size_t)F + 1) * sizeof *at);
	if (at == NULL)
		return nl_err_set(err, NL_ENOMEM, "out of memory");
	for (int tries = 0;; tries++) {
		facts.n = 0;
		if (babi_story(s, kind, &facts, at, question, answer) == 0)
			break;
		if (tries == 1000) {
			free(at), free(facts.p);
			return nl_err_set(err, NL_EUSAGE, "%d facts rarely make a question; give "
			    "more", F);
		}
	}
	at[F] = facts.n;
	long long budget = s->T - (long long)(facts.n + (size_t)F + strlen(question) + 2 +
	    strlen(answer));
	struct sbuf hay = { 0 };
	size_t *starts = NULL, n = 0;
	haystack(s, &hay, budget, 0, &starts, &n);
	/* the facts in order at sorted uniform sentence slots */
	size_t *slot = malloc((size_t)F * sizeof *slot);
	if (slot == NULL) {
		free(at), free(facts.p), free(hay.p), free(starts);
		return nl_err_set(err, NL_ENOMEM, "out of memory");
	}
	for (int f = 0; f < F; f++)
		slot[f] = (size_t)rnd(s, 0, (long long)n);
	for (int i = 1; i < F; i++)                    /* insertion sort */
		for (int j = i; j > 0 && slot[j - 1] > slot[j]; j--) {
			size_t t = slot[j];
			slot[j] = slot[j - 1], slot[j - 1] = t;
		}
	struct sbuf *b = &s->text;
	b->n = 0;
	int f = 0;
	for (size_t k = 0; k <= n; k++) {
		for (; f < F && slot[f] == k; f++) {
			if (b->n)
				sb_str(b, " ");
			sb_add(b, facts.p + at[f], at[f + 1] - at[f]);
		}
		if (k < n) {
			size_t end = k + 1 < n ? starts[k + 1] - 1 : hay.n;
			if (b->n)
				sb_str(b, " ");
			sb_add(b, hay.p + starts[k], end - starts[k]);
		}
	}
	sb_fmt(b, "\n%s ", question);
	int failed = b->failed || hay.failed || facts.failed;
	free(at), free(facts.p), free(hay.p), free(starts), free(slot);
	if (failed)
		return nl_err_set(err, NL_ENOMEM, "out of memory");
	put(s, NL_TOK_EOT, 0);
	put_text(s, b->p, b->n, 0);
	put_str(s, answer, 1);
	return 0;
}

/* ---- continual-learning streams (EVAL §5) ---- */

/* A pronounceable made-up word: two or three consonant-vowel syllables. */
static void
made_word(struct synth *s, char *out)
{
	static const char cons[] = "bdfgklmnprstvz", vow[] = "aeiou";
	int n = 0;
	for (long long k = rnd(s, 2, 3); k > 0; k--) {
		out[n++] = cons[rnd(s, 0, (long long)sizeof cons - 2)];
		out[n++] = vow[rnd(s, 0, (long long)sizeof vow - 2)];
	}
	out[n] = 0;
}

/* n distinct made-up words (the caps on the parameters keep n far below the 348,000 there
 * are, so the redraws end quickly). */
static void
made_words(struct synth *s, word8 *w, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		size_t j;
		do {
			made_word(s, w[i]);
			for (j = 0; j < i && strcmp(w[j], w[i]) != 0; j++)
				;
		} while (j < i);
	}
}

/* s->rng from the job's seed, the example and a part of it, so that a part is the same
 * whatever the parameters that add or drop other parts (ctnl: language 1 is the same with
 * langs=1 as with langs=2). */
static void
reseed(struct synth *s, uint64_t part)
{
	nl_rng_seed(&s->rng, s->seed ^ (uint64_t)(s->index + 1) * 0x9e3779b97f4a7c15u ^
	    (part + 1) * 0xc2b2ae3d27d4eb4fu);
}

/* ctnl (EVAL §5.2): languages in turn, each a made-up word for every source word, taught by
 * its dictionary (one-word lines) and example sentences, then queries of the languages
 * chosen. Every line is "L<l>: source words = target words"; the answer is what follows '='. */
static int
ctnl_check(struct synth *s, struct nl_err *err)
{
	if (want_int(s, "langs", 1, 9, err) || want_int(s, "words", 1, 5000, err) ||
	    want_int(s, "examples", 0, 1000000, err) || want_int(s, "queries", 0, 1000000, err))
		return -1;
	const char *q = s->str[pidx(s, "query")], *sc = s->str[pidx(s, "score")];
	const double ql = P(s, "query");
	if (strcmp(q, "all") != 0 && (isnan(ql) || ql != floor(ql) || ql < 1 ||
	    ql > (double)PI(s, "langs")))
		return nl_err_set(err, NL_EUSAGE, "query: %s is not all or a language in 1..%lld", q,
		    PI(s, "langs"));
	if (strcmp(sc, "queries") != 0 && strcmp(sc, "all") != 0)
		return nl_err_set(err, NL_EUSAGE, "score: %s is not queries or all", sc);
	if (PI(s, "queries") == 0 && strcmp(sc, "queries") == 0)
		return nl_err_set(err, NL_EUSAGE, "queries=0 with score=queries scores nothing");
	const size_t W = (size_t)PI(s, "words");
	if ((s->made = malloc(W * (size_t)(PI(s, "langs") + 1) * sizeof *s->made)) == NULL)
		return nl_err_set(err, NL_ENOMEM, "out of memory");
	return 0;
}

/* One line of language l: the words idx[0..k) of src, then their translations (scored or
 * not). */
static void
ctnl_line(struct synth *s, int l, const uint32_t *idx, int k, word8 *src,
    word8 *tgt, int score)
{
	struct sbuf *b = &s->text;
	b->n = 0;
	sb_fmt(b, "L%d:", l);
	for (int i = 0; i < k; i++)
		sb_fmt(b, " %s", src[idx[i]]);
	sb_str(b, " =");
	put_text(s, b->p, b->n, 0);
	b->n = 0;
	for (int i = 0; i < k; i++)
		sb_fmt(b, " %s", tgt[idx[i]]);
	sb_str(b, "\n");
	put_text(s, b->p, b->n, score);
	s->failed |= b->failed;
}

static int
ctnl_gen(struct synth *s, struct nl_err *err)
{
	const int L = (int)PI(s, "langs"), W = (int)PI(s, "words");
	const int score_all = strcmp(s->str[pidx(s, "score")], "all") == 0;
	const char *q = s->str[pidx(s, "query")];
	word8 *src = s->made;
	uint32_t *order = malloc((size_t)W * sizeof *order), idx[6];
	if (order == NULL)
		return nl_err_set(err, NL_ENOMEM, "out of memory");
	reseed(s, 0);
	made_words(s, s->made, (size_t)W);
	put(s, NL_TOK_EOT, 0);
	for (int l = 1; l <= L; l++) {
		word8 *tgt = s->made + (size_t)l * (size_t)W;
		reseed(s, (uint64_t)l);
		made_words(s, tgt, (size_t)W);
		if (distinct(s, order, (size_t)W, 0, (uint32_t)W) < 0) {
			free(order);
			return nl_err_set(err, NL_ENOMEM, "out of memory");
		}
		for (int i = 0; i < W; i++)
			ctnl_line(s, l, order + i, 1, src, tgt, score_all);
		for (long long e = 0; e < PI(s, "examples"); e++) {
			int k = (int)rnd(s, 2, 6);
			for (int i = 0; i < k; i++)
				idx[i] = (uint32_t)rnd(s, 0, W - 1);
			ctnl_line(s, l, idx, k, src, tgt, score_all);
		}
	}
	for (int l = 1; l <= L; l++) {
		if (strcmp(q, "all") != 0 && l != PI(s, "query"))
			continue;
		reseed(s, 100 + (uint64_t)l);
		for (long long e = 0; e < PI(s, "queries"); e++) {
			int k = (int)rnd(s, 1, 3);
			for (int i = 0; i < k; i++)
				idx[i] = (uint32_t)rnd(s, 0, W - 1);
			ctnl_line(s, l, idx, k, src, s->made + (size_t)l * (size_t)W, 1);
		}
	}
	free(order);
	return 0;
}

/* intents (EVAL §5.3): made-up intent classes, each a name and three keywords, fixed by
 * map_seed; a query is a sentence of filler words holding one or two of its class's
 * keywords, then "intent:" and the name (scored), one example per query. Classes arrive in
 * blocks, per_class queries of each class of a block in random order. */
#define INTENT_KEYWORDS 3
#define INTENT_FILLER 64

static void
shuffle_classes(struct synth *s, long long lo, long long hi)
{
	for (long long i = lo; i + 1 < hi; i++) {
		long long j = rnd(s, i, hi - 1);
		uint16_t t = s->cls[i];
		s->cls[i] = s->cls[j], s->cls[j] = t;
	}
}

static int
intents_check(struct synth *s, struct nl_err *err)
{
	if (want_int(s, "classes", 2, 1000, err) || want_int(s, "per_class", 1, 100000, err) ||
	    want_int(s, "blocks", 1, PI(s, "classes"), err) ||
	    want_int(s, "block", 0, PI(s, "blocks"), err) || want_int(s, "seen", 0, 1, err) ||
	    want_int(s, "map_seed", 0, (1ll << 53), err))
		return -1;
	if (s->count)
		return nl_err_set(err, NL_EUSAGE, "-n does not apply: the stream has per_class "
		    "examples of each class of its blocks");
	const long long C = PI(s, "classes"), B = PI(s, "blocks"), k = PI(s, "block");
	const long long per = PI(s, "per_class");
	/* the blocks written: all, block k, or (seen=1) blocks 1..k; block b holds the classes
	 * [(b−1)C/B, bC/B) */
	const long long b0 = k == 0 || PI(s, "seen") ? 1 : k, b1 = k == 0 ? B : k;
	const long long first = (b0 - 1) * C / B, last = b1 * C / B;
	s->count = (last - first) * per;
	/* the queries from the seed, block and seen (the stream's one "example" is 0 here), so
	 * that a block's test (seen=1) is not its training stream again under the same -s */
	reseed(s, (uint64_t)(2 * k + PI(s, "seen")));
	const size_t nw = (size_t)C * (1 + INTENT_KEYWORDS) + INTENT_FILLER;
	s->made = malloc(nw * sizeof *s->made);
	s->cls = malloc((size_t)s->count * sizeof *s->cls);
	if (s->made == NULL || s->cls == NULL)
		return nl_err_set(err, NL_ENOMEM, "out of memory");
	/* names [0, C), keywords [C, C + 3C), filler after: all distinct, the same in every
	 * stream of one map_seed */
	struct nl_rng keep = s->rng;
	nl_rng_seed(&s->rng, (uint64_t)PI(s, "map_seed") ^ 0x696e74656e74u);   /* "intent" */
	made_words(s, s->made, nw);
	s->rng = keep;
	/* the examples' classes: per of each, shuffled within each block (within all the
	 * blocks with seen=1: a test of every class seen so far) */
	for (long long i = 0; i < s->count; i++)
		s->cls[i] = (uint16_t)(first + i / per);
	if (PI(s, "seen"))
		shuffle_classes(s, 0, s->count);
	else
		for (long long b = b0; b <= b1; b++)
			shuffle_classes(s, ((b - 1) * C / B - first) * per, (b * C / B - first) * per);
	return 0;
}

static int
intents_gen(struct synth *s, struct nl_err *err)
{
	const size_t C = (size_t)PI(s, "classes"), c = s->cls[s->index];
	word8 *keyword = s->made + C + INTENT_KEYWORDS * c;
	word8 *filler = s->made + C * (1 + INTENT_KEYWORDS);
	const int n = (int)rnd(s, 4, 8), k = (int)rnd(s, 1, 2);
	int at[2] = { (int)rnd(s, 0, n - 1), -1 };
	if (k == 2)
		do
			at[1] = (int)rnd(s, 0, n - 1);
		while (at[1] == at[0]);
	struct sbuf *b = &s->text;
	b->n = 0;
	for (int i = 0; i < n; i++)
		sb_fmt(b, "%s%s", i ? " " : "", i == at[0] || i == at[1] ?
		    keyword[rnd(s, 0, INTENT_KEYWORDS - 1)] : filler[rnd(s, 0, INTENT_FILLER - 1)]);
	sb_str(b, "\nintent:");
	if (b->failed)
		return nl_err_set(err, NL_ENOMEM, "out of memory");
	put(s, NL_TOK_EOT, 0);
	put_text(s, b->p, b->n, 0);
	b->n = 0;
	sb_fmt(b, " %s\n", s->made[c]);
	put_text(s, b->p, b->n, 1);
	return 0;
}

/* ---- the table ---- */

static const struct nl_synth_param p_mqar[] = {
	{ "vocab", "8192", "ids: keys [1, vocab/2), values [vocab/2, vocab), 0 the placeholder" },
	{ "pairs", "16", "key-value pairs, each queried once (4 · pairs ≤ length)" },
	{ "power_a", "0.01", "query gaps g drawn with p(g) ∝ power_a (g+1)^(power_a − 1)" },
	{ "random_non_queries", "1", "1: the query region's other positions are random ids" },
	{ NULL, NULL, NULL } };
static const struct nl_synth_param p_copy[] = {
	{ "vocab", "64", "ids 1..vocab−1" },
	{ "delay", "8", "each token from delay on repeats the one delay before (scored)" },
	{ NULL, NULL, NULL } };
static const struct nl_synth_param p_induction[] = {
	{ "vocab", "64", "ids 1..vocab−1; A B once, then A at the end: B is scored" },
	{ NULL, NULL, NULL } };
#define P_SCORE { "score", "all", "all: every value whose key came before (training); last: " \
	"the final query's only (MAD's test)" }
static const struct nl_synth_param p_icr[] = {
	{ "vocab", "64", "keys [0, vocab/2), values [vocab/2, vocab), the query token vocab" },
	{ "pairs", "32", "keys of the example's map" }, P_SCORE, { NULL, NULL, NULL } };
static const struct nl_synth_param p_nicr[] = {
	{ "vocab", "64", "as mad-icr; noise ids [vocab + 1, vocab + 1 + vocab/2)" },
	{ "pairs", "32", "keys of the example's map" },
	{ "frac_noise", "0.2", "fraction of pairs replaced by two noise tokens" }, P_SCORE,
	{ NULL, NULL, NULL } };
static const struct nl_synth_param p_ficr[] = {
	{ "vocab", "64", "as mad-icr" }, { "pairs", "32", "keys of the example's map" },
	{ "motif", "3", "keys and values are motifs of 1..motif tokens, keys distinct" }, P_SCORE,
	{ NULL, NULL, NULL } };
static const struct nl_synth_param p_scopy[] = {
	{ "vocab", "16", "tokens 2..vocab−1 among blanks 0; 1 is the copy token" },
	{ "copy", "16", "tokens to copy" }, { NULL, NULL, NULL } };
static const struct nl_synth_param p_compress[] = {
	{ "vocab", "16", "ids 1..vocab−1; 0 is the compression token" }, { NULL, NULL, NULL } };
static const struct nl_synth_param p_memorize[] = {
	{ "vocab", "256", "values [pairs, pairs + vocab)" },
	{ "pairs", "256", "keys [0, pairs) of the one global map" },
	{ "map_seed", "0", "seed of the drifted values" },
	{ "base_seed", "0", "seed of the base map" },
	{ "share", "1.0", "fraction of keys that keep the base map's value" },
	{ NULL, NULL, NULL } };
static const struct nl_synth_param p_lang[] = {
	{ "minlen", "1", "shortest string (Bin1: 51)" },
	{ "maxlen", "50", "longest string (Bin1: 100)" },
	{ "near_miss", "0.5", "fraction of negatives made by editing a member" },
	{ NULL, NULL, NULL } };
static const struct nl_synth_param p_passkey[] = {
	{ "depth", "rand", "where the key sits in the garbage: rand, sweep (example i at "
	    "10·(i mod 11) %) or a percentage" },
	{ "keymax", "50000", "the pass key is uniform in 1..keymax" }, { NULL, NULL, NULL } };
static const struct nl_synth_param p_sniah[] = {
	{ "depth", "rand", "the needle's sentence: rand, sweep or a percentage" },
	{ "haystack", "", "file or archive of haystack text (default: generated sentences)" },
	{ "keys", "", "file of key words (default: adjective-noun pairs)" },
	{ NULL, NULL, NULL } };
static const struct nl_synth_param p_ctnl[] = {
	{ "langs", "2", "languages taught in turn, each a made-up word for every source word" },
	{ "words", "200", "source words; each language's dictionary has a line for each" },
	{ "examples", "400", "translated sentences of 2–6 words after each dictionary" },
	{ "queries", "50", "sentences of 1–3 words to translate per language queried" },
	{ "query", "all", "the languages queried after the last one is taught: all or one" },
	{ "score", "queries", "queries: only the queries' translations; all: every line's" },
	{ NULL, NULL, NULL } };
static const struct nl_synth_param p_intents[] = {
	{ "classes", "20", "made-up intents, each a name and three keywords" },
	{ "per_class", "50", "queries of each class written" },
	{ "blocks", "5", "class blocks; block b holds classes [(b−1)·classes/blocks, "
	    "b·classes/blocks)" },
	{ "block", "0", "the block written, 0 for all in turn" },
	{ "seen", "0", "1: every class of blocks 1..block, shuffled together (the test after a "
	    "block)" },
	{ "map_seed", "0", "seed of the classes' names and keywords (-s draws the queries)" },
	{ NULL, NULL, NULL } };
static const struct nl_synth_param p_babi[] = {
	{ "facts", "8", "story sentences hidden in the haystack" },
	{ "haystack", "", "file or archive of haystack text (default: generated sentences)" },
	{ NULL, NULL, NULL } };

#define ID_TASK(name, help, T, params, vocab, check, gen) \
	{ { name, help, 0, T, 1000, params }, vocab, check, gen }
#define TEXT_TASK(name, help, T, params, check, gen) \
	{ { name, help, 1, T, 1000, params }, NULL, check, gen }

static const struct task_impl tasks[] = {
	ID_TASK("mqar", "multi-query associative recall (Zoology)", 256, p_mqar, vocab_param,
	    mqar_check, mqar_gen),
	ID_TASK("copy", "copy with a delay", 64, p_copy, vocab_param, copy_check, copy_gen),
	ID_TASK("induction", "induction head: ... A B ... A -> B", 64, p_induction, vocab_param,
	    induction_check, induction_gen),
	ID_TASK("mad-icr", "MAD in-context recall", 128, p_icr, mad_vocab, mad_recall_check,
	    mad_recall_gen),
	ID_TASK("mad-nicr", "MAD noisy in-context recall", 128, p_nicr, mad_vocab,
	    mad_recall_check, mad_recall_gen),
	ID_TASK("mad-ficr", "MAD fuzzy in-context recall (motifs)", 128, p_ficr, mad_vocab,
	    mad_recall_check, mad_recall_gen),
	ID_TASK("mad-scopy", "MAD selective copying", 128, p_scopy, vocab_param, scopy_check,
	    scopy_gen),
	ID_TASK("mad-compress", "MAD compression: a sequence, then again", 64, p_compress,
	    vocab_param, compress_check, compress_gen),
	ID_TASK("mad-memorize", "MAD memorization of one global key-value map", 64, p_memorize,
	    memorize_vocab, memorize_check, memorize_gen),
	TEXT_TASK("passkey", "pass key in garbage text (length in bytes)", 1024, p_passkey,
	    passkey_check, passkey_gen),
	TEXT_TASK("sniah1", "RULER S-NIAH-1: number in repeated noise", 1024, p_sniah,
	    sniah_check, sniah_gen),
	TEXT_TASK("sniah2", "RULER S-NIAH-2: number in text", 1024, p_sniah, sniah_check,
	    sniah_gen),
	TEXT_TASK("sniah3", "RULER S-NIAH-3: UUID in text", 1024, p_sniah, sniah_check,
	    sniah_gen),
	TEXT_TASK("babi1", "bAbI qa1 in a haystack: where is a person", 1024, p_babi, babi_check,
	    babi_gen),
	TEXT_TASK("babi2", "bAbI qa2 in a haystack: where is an object", 1024, p_babi, babi_check,
	    babi_gen),
	TEXT_TASK("babi3", "bAbI qa3 in a haystack: where was an object before", 1024, p_babi,
	    babi_check, babi_gen),
	TEXT_TASK("parity", "binary strings with an even number of 1s", 0, p_lang, lang_check,
	    lang_gen),
	TEXT_TASK("aa", "(aa)*", 0, p_lang, lang_check, lang_gen),
	TEXT_TASK("abab", "(abab)*", 0, p_lang, lang_check, lang_gen),
	TEXT_TASK("anbn", "a^n b^n", 0, p_lang, lang_check, lang_gen),
	TEXT_TASK("anbncn", "a^n b^n c^n", 0, p_lang, lang_check, lang_gen),
	TEXT_TASK("shuffle2", "shuffle of two Dyck-1 languages", 0, p_lang, lang_check,
	    lang_gen),
	/* one stream per count: languages taught in turn, then queries */
	{ { "ctnl", "in-context continual translation of made-up languages", 1, 0, 1, p_ctnl },
	    NULL, ctnl_check, ctnl_gen },
	{ { "intents", "class-incremental intents in blocks", 1, 0, 0, p_intents }, NULL,
	    intents_check, intents_gen },
};

const struct nl_synth_task *
nl_synth_task_at(size_t i)
{
	return i < NELEM(tasks) ? &tasks[i].pub : NULL;
}

const struct nl_synth_task *
nl_synth_find(const char *name)
{
	for (size_t i = 0; i < NELEM(tasks); i++)
		if (strcmp(tasks[i].pub.name, name) == 0)
			return &tasks[i].pub;
	return NULL;
}

static void
synth_free(struct synth *s)
{
	nl_tok_enc_free(s->enc);
	free(s->tmp);
	free(s->hay);
	free(s->words_buf);
	free(s->words);
	free(s->map);
	free(s->made);
	free(s->cls);
	free(s->ids);
	free(s->flags);
	free(s->text.p);
}

/* The job's parameter values into s; an unknown key names the valid ones. */
static int
parse_args(struct synth *s, const struct nl_meta *args, struct nl_err *err)
{
	const struct nl_synth_param *p = s->task->params;
	int np = 0;
	while (p[np].key)
		np++;
	for (size_t i = 0; args && i < args->n; i++) {
		int k = pidx(s, args->keys[i]);
		if (k < 0) {
			char valid[256] = "";
			for (int j = 0; j < np; j++)
				snprintf(valid + strlen(valid), sizeof valid - strlen(valid), "%s%s",
				    j ? ", " : "", p[j].key);
			return nl_err_set(err, NL_EUSAGE, "unknown parameter '%s' (%s has %s)",
			    args->keys[i], s->task->name, np ? valid : "none");
		}
	}
	for (int k = 0; k < np; k++) {
		const char *v = args ? nl_meta_get(args, p[k].key) : NULL;
		char *end;
		s->str[k] = v ? v : p[k].def;
		s->num[k] = strtod(s->str[k], &end);
		if (end == s->str[k] || *end)
			s->num[k] = NAN;
	}
	return 0;
}

long long
nl_synth_write(const struct nl_synth_job *job, struct nl_io *out, struct nl_err *err)
{
	const struct task_impl *impl = (const struct task_impl *)job->task;
	struct synth s;
	struct nl_meta head;
	struct nl_data_writer *w = NULL;
	struct nl_tok *bytes = NULL;
	char num[32];
	long long rc = -1;

	memset(&s, 0, sizeof s);
	nl_meta_init(&head);
	s.task = job->task;
	s.tok = job->tok;
	if (job->seqlen && job->task->seqlen == 0) {
		nl_err_set(err, NL_EUSAGE, "-T does not apply: the parameters set the lengths");
		goto out;
	}
	s.T = job->seqlen ? job->seqlen : job->task->seqlen;
	s.seed = job->seed;
	s.count = job->count;           /* a task whose parameters set the count sets it */
	nl_rng_seed(&s.rng, job->seed ^ 0x73796e7468u);       /* "synth" */
	if (parse_args(&s, job->args, err) || impl->check(&s, err))
		goto out;
	if (s.count == 0)
		s.count = job->task->count;
	if (s.tok && nl_tok_enc_new(&s.enc, s.tok, err))
		goto out;
	if (nl_meta_set(&head, "task.name", job->task->name, err) < 0)
		goto out;
	snprintf(num, sizeof num, "%llu", (unsigned long long)job->seed);
	if (nl_meta_set(&head, "task.seed", num, err) < 0)
		goto out;
	snprintf(num, sizeof num, "%lld", s.count);
	if (nl_meta_set(&head, "task.count", num, err) < 0)
		goto out;
	snprintf(num, sizeof num, "%lld", s.T);
	if (nl_meta_set(&head, "task.seqlen", num, err) < 0)
		goto out;
	for (int k = 0; job->task->params[k].key; k++) {
		char key[80];
		snprintf(key, sizeof key, "task.%s", job->task->params[k].key);
		if (nl_meta_set(&head, key, s.str[k], err) < 0)
			goto out;
	}
	/* text tasks without a tokenizer write bytes */
	if (job->task->text && s.tok == NULL && nl_tok_new_bytes(&bytes, err) < 0)
		goto out;
	if ((job->task->text ? nl_data_writer_open(&w, out, s.tok ? s.tok : bytes,
	    NL_DATA_RANK2, &head, job->level, err) : nl_data_writer_open_ids(&w, out,
	    impl->vocab(&s), NL_DATA_RANK2, &head, job->level, err)) < 0)
		goto out;
	for (s.index = 0; s.index < s.count; s.index++) {
		s.n = 0;
		if (impl->gen(&s, err))
			goto out;
		if (s.failed) {
			nl_err_set(err, NL_ENOMEM, "out of memory");
			goto out;
		}
		if (nl_data_put(w, s.ids, s.flags, s.n, err) < 0)
			goto out;
	}
	rc = nl_data_writer_close(w, err);
	w = NULL;
	if (rc == 0)
		rc = s.count;
out:
	nl_data_writer_free(w);
	nl_tok_free(bytes);
	nl_meta_free(&head);
	synth_free(&s);
	return rc;
}
