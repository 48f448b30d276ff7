/* nl — see LICENSE. A multi-query associative recall stream (MQAR, the Zoology recipe of
 * EVAL.md §4.1) for the memory examples until nl-synth(1) exists: n examples of L byte
 * tokens over the first V byte values, each D key–value pairs (keys from [1, V/2), values from
 * [V/2, V), drawn without replacement) followed by a query region where every key appears once, at a gap drawn with
 * p(g) ∝ (g + 1)^(a − 1), a = 0.01, and is followed by its value, flagged SCORE; the other
 * query-region tokens are uniform in [0, V), or with -z the placeholder 0 (Zoology's
 * random_non_queries = False: with a small V, uniform fillers repeat keys and blur the task). The first token of each example is flagged DOC.
 * Written as a rank-2 byte-tokenizer stream (nl-tensor(5)), so nl-train scores the answers
 * only.
 *
 * usage: mqar [-z] [-L length] [-D pairs] [-V vocab] [-n examples] [-s seed] output.nlt */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data.h"
#include "io.h"
#include "meta.h"
#include "rng.h"
#include "tok.h"

static void
usage(void)
{
	fprintf(stderr, "usage: mqar [-z] [-L length] [-D pairs] [-V vocab] [-n examples] [-s seed] "
	    "output.nlt\n");
	exit(2);
}

/* k distinct values of [lo, hi) */
static void
distinct(struct nl_rng *r, uint32_t *out, int k, uint32_t lo, uint32_t hi)
{
	for (int i = 0; i < k; i++) {
again:
		out[i] = lo + (uint32_t)nl_rng_below(r, hi - lo);
		for (int j = 0; j < i; j++)
			if (out[j] == out[i])
				goto again;
	}
}

int
main(int argc, char **argv)
{
	long len = 64, pairs = 4, vocab = 256, count = 1000, seed = 1;
	int ch, zeros = 0;
	while ((ch = getopt(argc, argv, "zD:L:V:n:s:")) != -1) {
		char *end;
		if (ch == 'z') {
			zeros = 1;
			continue;
		}
		long v = strtol(optarg, &end, 10);
		if (*end != '\0' || v < 1)
			usage();
		if (ch == 'D')
			pairs = v;
		else if (ch == 'L')
			len = v;
		else if (ch == 'V')
			vocab = v;
		else if (ch == 'n')
			count = v;
		else if (ch == 's')
			seed = v;
		else
			usage();
	}
	if (argc - optind != 1)
		usage();
	if (len % 2 || 4 * pairs > len || vocab % 2 || vocab > 256 || pairs >= vocab / 2) {
		fprintf(stderr, "mqar: need an even length, 4 pairs <= length, an even vocab <= 256 "
		    "and pairs < vocab/2\n");
		return 2;
	}

	struct nl_err err = { 0 };
	struct nl_tok *tok = NULL;
	struct nl_data_writer *w = NULL;
	struct nl_io out;
	struct nl_meta meta;
	char buf[32];
	nl_meta_init(&meta);
	char vbuf[32];
	snprintf(buf, sizeof buf, "%ld", pairs);
	snprintf(vbuf, sizeof vbuf, "%ld", vocab);
	if (nl_meta_set(&meta, "task.name", "mqar", &err) < 0 ||
	    nl_meta_set(&meta, "task.pairs", buf, &err) < 0 ||
	    nl_meta_set(&meta, "task.vocab", vbuf, &err) < 0 ||
	    nl_tok_new_bytes(&tok, &err) < 0 ||
	    nl_io_open_write(&out, argv[optind], 0, &err) < 0) {
		fprintf(stderr, "mqar: %s: %s\n", argv[optind], err.msg);
		return 1;
	}
	if (nl_data_writer_open(&w, &out, tok, NL_DATA_RANK2, &meta, 6, &err) < 0) {
		fprintf(stderr, "mqar: %s: %s\n", argv[optind], err.msg);
		nl_io_abort(&out);
		return 1;
	}

	struct nl_rng rng;
	nl_rng_seed(&rng, (uint64_t)seed);
	uint32_t *ids = malloc((size_t)len * sizeof *ids), keys[127], vals[127];
	uint8_t *flags = malloc((size_t)len);
	int space = (int)(len - 2 * pairs) / 2;
	double *cdf = malloc((size_t)space * sizeof *cdf), tot = 0;
	int *used = malloc((size_t)space * sizeof *used);
	if (ids == NULL || flags == NULL || cdf == NULL || used == NULL) {
		fprintf(stderr, "mqar: out of memory\n");
		return 1;
	}
	for (int g = 0; g < space; g++)
		cdf[g] = tot += 0.01 * pow(g + 1, 0.01 - 1);
	for (long e = 0; e < count; e++) {
		distinct(&rng, keys, (int)pairs, 1, (uint32_t)vocab / 2);
		distinct(&rng, vals, (int)pairs, (uint32_t)vocab / 2, (uint32_t)vocab);
		memset(flags, 0, (size_t)len);
		for (long i = 0; i < len; i++)
			ids[i] = zeros ? 0 : (uint32_t)nl_rng_below(&rng, (uint64_t)vocab);
		for (int i = 0; i < pairs; i++) {
			ids[2 * i] = keys[i];
			ids[2 * i + 1] = vals[i];
		}
		/* distinct gaps, each key at offset 2g of the query region, its value after it */
		memset(used, 0, (size_t)space * sizeof *used);
		for (int i = 0; i < pairs; i++) {
			int g;
			do {
				double u = nl_rng_uniform(&rng) * tot;
				for (g = 0; g < space - 1 && cdf[g] < u; g++)
					;
			} while (used[g]);
			used[g] = 1;
			long at = 2 * pairs + 2 * g;
			ids[at] = keys[i];
			ids[at + 1] = vals[i];
			flags[at + 1] = NL_DATA_SCORE;
		}
		flags[0] |= NL_DATA_DOC;
		if (nl_data_put(w, ids, flags, (size_t)len, &err) < 0)
			break;
	}
	int rc = 0;
	if (err.msg[0] != '\0') {              /* a failed put: drop the half-written output */
		nl_data_writer_free(w);
		nl_io_abort(&out);
		rc = 1;
	} else if (nl_data_writer_close(w, &err) < 0) {
		nl_io_abort(&out);
		rc = 1;
	} else if (nl_io_close(&out, &err) < 0) {  /* which removes the temporary itself */
		rc = 1;
	}
	if (rc)
		fprintf(stderr, "mqar: %s: %s\n", argv[optind], err.msg);
	free(ids), free(flags), free(cdf), free(used);
	nl_meta_free(&meta);
	nl_tok_free(tok);
	return rc;
}
