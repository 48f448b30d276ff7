/* nl — see LICENSE. Example of the libnl tensor API: write a small, seeded set of
 * transformer-shaped F32 weights as .nlt, or with a text file, its bytes as a streamed
 * U16 token tensor. Usage: make-weights > weights.nlt; make-weights text > tokens.nlt */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io.h"
#include "tfile.h"

static uint64_t seed = 0x2545f4914f6cdd1dull;

static float
normal(float std)
{
	double u[2];
	for (int i = 0; i < 2; i++) {
		seed ^= seed << 13;
		seed ^= seed >> 7;
		seed ^= seed << 17;
		u[i] = ((seed >> 11) + 0.5) / 9007199254740992.0;
	}
	return (float)(std * sqrt(-2 * log(u[0])) * cos(6.283185307179586 * u[1]));
}

static int
put(struct nl_tfile *tf, const char *name, int rank, uint64_t d0, uint64_t d1, float std,
    struct nl_err *err)
{
	struct nl_tinfo ti = { "", NL_DTYPE_F32, rank, { d0, d1 } };
	snprintf(ti.name, sizeof ti.name, "%s", name);
	if (nl_tfile_begin(tf, &ti, err) < 0)
		return -1;
	for (uint64_t i = 0; i < d0 * (rank > 1 ? d1 : 1); i++) {
		float v = std > 0 ? normal(std) : 1.0f;
		if (nl_tfile_write(tf, &v, sizeof v, err) < 0)
			return -1;
	}
	return nl_tfile_end(tf, err);
}

/* The text's bytes as U16 ids, streamed: the length is known only at the end. */
static int
write_tokens(const char *path)
{
	struct nl_err err = { 0, "" };
	struct nl_tinfo ti = { "tokens", NL_DTYPE_U16, 1, { NL_DIM_STREAM } };
	struct nl_meta meta;
	struct nl_io out;
	struct nl_tfile *tf;
	FILE *f = fopen(path, "rb");
	int c;

	if (f == NULL) {
		perror(path);
		return 1;
	}
	nl_meta_init(&meta);
	if (nl_meta_set(&meta, "kind", "tokens", &err) < 0 ||
	    nl_meta_set(&meta, "tokenizer.type", "bytes", &err) < 0 ||
	    nl_io_open_write(&out, "-", 0, &err) < 0 ||
	    nl_tfile_open_write(&tf, &out, &meta, 1, &err) < 0 || nl_tfile_begin(tf, &ti, &err) < 0)
		goto fail;
	while ((c = getc(f)) != EOF) {
		uint16_t id = (uint16_t)c;
		if (nl_tfile_write(tf, &id, sizeof id, &err) < 0)
			goto fail;
	}
	fclose(f);
	if (nl_tfile_end(tf, &err) < 0 || nl_tfile_close(tf, &err) < 0 || nl_io_close(&out, &err) < 0)
		goto fail;
	nl_meta_free(&meta);
	return 0;
fail:
	fprintf(stderr, "make-weights: %s\n", err.msg);
	return 1;
}

int
main(int argc, char **argv)
{
	struct nl_err err = { 0, "" };
	struct nl_meta meta;
	struct nl_io out;
	struct nl_tfile *tf;
	char name[64];
	const int d = 64, layers = 2, vocab = 257;

	nl_meta_init(&meta);
	if (argc > 1)
		return write_tokens(argv[1]);
	if (nl_meta_set(&meta, "kind", "params", &err) < 0 ||
	    nl_meta_set(&meta, "model.d_model", "64", &err) < 0 ||
	    nl_meta_set(&meta, "model.n_layers", "2", &err) < 0 ||
	    nl_io_open_write(&out, "-", 0, &err) < 0 ||
	    nl_tfile_open_write(&tf, &out, &meta, 1, &err) < 0)
		goto fail;
	if (put(tf, "embed.weight", 2, vocab, d, 0.02f, &err) < 0)
		goto fail;
	for (int l = 0; l < layers; l++) {
		snprintf(name, sizeof name, "layers.%d.attn.w_qkv", l);
		if (put(tf, name, 2, 3 * d, d, 0.02f, &err) < 0)
			goto fail;
		snprintf(name, sizeof name, "layers.%d.mlp.w_up", l);
		if (put(tf, name, 2, 4 * d, d, 0.02f, &err) < 0)
			goto fail;
		snprintf(name, sizeof name, "layers.%d.norm.weight", l);
		if (put(tf, name, 1, d, 0, 0, &err) < 0)
			goto fail;
	}
	if (nl_tfile_close(tf, &err) < 0 || nl_io_close(&out, &err) < 0)
		goto fail;
	nl_meta_free(&meta);
	return 0;
fail:
	fprintf(stderr, "make-weights: %s\n", err.msg);
	return 1;
}
