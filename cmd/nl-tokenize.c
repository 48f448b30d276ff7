/* nl — see LICENSE. nl-tokenize: text (files, stdin, gzip, tar, zip, .deb) to token streams
 * and back, with the byte tokenizer or a byte-level BPE that -K learns. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "corpus.h"
#include "data.h"
#include "tfile.h"
#include "tok.h"

#define MAX_GLOBS 64

static int verbose;

static void
usage(FILE *fp)
{
	fprintf(fp, "usage: %s [-dfqtv] [-F] [-I glob] [-K vocab_size] [-k tokenizer] [-O holdout] [-o output]\n"
	    "       [-P percent] [-S separator] [-X glob] [file ...]\n", nl_cli_progname());
}

static void
notice(void *ctx, const char *source, const char *msg)
{
	(void)ctx;
	if (verbose > 0)
		nl_cli_error("%s: %s", source, msg);
}

/* Open an output ("-" is stdout); binary outputs refuse a terminal unless forced. */
static int
open_out(struct nl_io *io, const char *path, int binary, int force)
{
	struct nl_err err = { 0, "" };
	if (nl_io_open_write(io, path, binary && !force ? 0 : NL_IO_FORCE, &err) < 0) {
		nl_cli_report(path, &err);
		return 1;
	}
	return 0;
}

static int
close_out(struct nl_io *io, const char *path)
{
	struct nl_err err = { 0, "" };
	if (nl_io_close(io, &err) < 0) {
		nl_cli_report(path, &err);
		return 1;
	}
	return 0;
}

/* -K: learn a tokenizer from the corpus and write it. */
static int
learn(struct nl_corpus *corpus, uint32_t vocab_size, const char *path, int force)
{
	struct nl_err err = { 0, "" };
	struct nl_tok *tok;
	struct nl_io out;
	int status = 1;

	if (nl_data_learn(corpus, vocab_size, &tok, &err) < 0) {
		nl_cli_report(nl_corpus_source(corpus), &err);
		return 1;
	}
	if (nl_tok_vocab_size(tok) < vocab_size && verbose >= 0)
		nl_cli_warn("%s: %" PRIu32 " ids, not %" PRIu32 ": no pair of tokens occurs twice more",
		    path, nl_tok_vocab_size(tok), vocab_size);
	if (open_out(&out, path, 1, force) == 0) {
		if (nl_tok_save(tok, &out, &err) < 0) {
			nl_cli_report(path, &err);
			nl_io_abort(&out);
		} else if ((status = close_out(&out, path)) == 0 && verbose > 0) {
			nl_cli_error("%s: %" PRIu32 " ids (%" PRIu32 " merges)", path,
			    nl_tok_vocab_size(tok), nl_tok_vocab_size(tok) - NL_TOK_BASE);
		}
	}
	nl_tok_free(tok);
	return status;
}

/* Encode the corpus to paths[0] and, with -P (n == 2), the held-out part to paths[1]. */
static int
encode(struct nl_corpus *corpus, const struct nl_tok *tok, int mode, const char *const *paths,
    int n, unsigned percent, int force)
{
	struct nl_err err = { 0, "" };
	struct nl_io io[2];
	struct nl_data_writer *w[2] = { NULL, NULL };
	uint64_t split = 0;
	int opened = 0;

	if (n == 2 && nl_data_split_point(corpus, percent, &split, &err) < 0) {
		nl_cli_report(nl_corpus_source(corpus), &err);
		return 1;
	}
	for (; opened < n; opened++) {
		if (open_out(&io[opened], paths[opened], !(mode & NL_DATA_TEXT), force))
			goto fail;
		if (nl_data_writer_open(&w[opened], &io[opened], tok, mode, NULL,
		    NL_TFILE_DEFAULT_LEVEL, &err) < 0) {
			nl_cli_report(paths[opened++], &err);
			goto fail;
		}
	}
	if (nl_data_tokenize(corpus, tok, w[0], w[1], split, &err) < 0) {
		nl_cli_report(nl_corpus_source(corpus), &err);
		goto fail;
	}
	for (int i = 0; i < n; i++) {
		uint64_t rows = nl_data_writer_rows(w[i]);
		int rc = nl_data_writer_close(w[i], &err);
		w[i] = NULL;
		if (rc < 0) {
			nl_cli_report(paths[i], &err);
			goto fail;
		}
		if (verbose > 0)
			nl_cli_error("%s: %" PRIu64 " tokens", paths[i], rows);
	}
	for (int i = 0; i < n; i++)
		if (close_out(&io[i], paths[i])) {
			while (++i < n)
				nl_io_abort(&io[i]);
			return 1;
		}
	return 0;
fail:
	for (int i = 0; i < n; i++)
		nl_data_writer_free(w[i]);
	for (int i = 0; i < opened; i++)
		nl_io_abort(&io[i]);
	return 1;
}

/* -d: token streams (binary or text ids) back to bytes; <eot> is dropped. With rows (-F),
 * every row as "id flags" text instead: any stream, ids ones too. */
static int
decode(char **files, int n, const char *tok_spec, const char *out_path, int force, int rows)
{
	struct nl_err err = { 0, "" };
	struct nl_tok *tok = NULL;
	struct nl_io out;
	static uint32_t ids[65536];
	static uint8_t flags[65536];
	static char line[1 << 20];
	int status = 0;

	/* without -k, bytes: a bpe stream then fails on its tokenizer.hash */
	if (nl_data_load_tokenizer(&tok, tok_spec ? tok_spec : "bytes", &err) < 0) {
		nl_cli_report(tok_spec ? tok_spec : "bytes", &err);
		return 1;
	}
	if (open_out(&out, out_path, 0, force)) {
		nl_tok_free(tok);
		return 1;
	}
	/* several inputs: report each failing one and go on; an output error stops */
	int out_failed = 0;
	for (int i = 0; i < (n ? n : 1) && !out_failed; i++) {
		const char *path = n ? files[i] : "-";
		struct nl_io in;
		struct nl_data_reader *r = NULL;
		size_t got;
		const unsigned char *magic;
		size_t seen;
		if (nl_io_open_read(&in, path, force ? NL_IO_FORCE : 0, &err) < 0 ||
		    nl_io_peek(&in, &magic, 8, &seen, &err) < 0)
			goto fail;
		/* without -k a binary stream keeps its own vocabulary, so that a bpe stream is
		 * reported as needing its tokenizer rather than as too large */
		int binary = seen == 8 && memcmp(magic, NL_TFILE_MAGIC, 8) == 0;
		/* rows of any vocabulary: text ids are checked against none */
		uint32_t vocab = rows ? (binary ? 0 : UINT32_MAX) :
		    binary && !tok_spec ? 0 : nl_tok_vocab_size(tok);
		if (nl_data_reader_open(&r, &in, vocab, &err) < 0)
			goto fail;
		const char *type = nl_meta_get(nl_data_reader_meta(r), "tokenizer.type");
		const char *hash = nl_meta_get(nl_data_reader_meta(r), "tokenizer.hash");
		if (!rows && hash && strcmp(hash, nl_tok_hash(tok)) != 0) {   /* rows need none */
			if (tok_spec == NULL)
				nl_err_set(&err, NL_EUSAGE, "a %s stream needs its tokenizer (-k)",
				    type ? type : "bpe");
			else
				nl_err_set(&err, NL_EFORMAT, "stream was made by tokenizer %s, -k gives %s",
				    hash, nl_tok_hash(tok));
			goto fail;
		}
		do {
			if (nl_data_read(r, ids, flags, sizeof ids / sizeof ids[0], &got, &err) < 0)
				goto fail;
			/* each id's bytes, or with rows its "id flags" line, gathered in line */
			size_t len = 0;
			for (size_t k = 0; k <= got && !out_failed; k++) {
				char row[32];
				size_t plen = 0;
				const void *piece = row;
				if (k < got && rows)
					plen = (size_t)snprintf(row, sizeof row, "%u %u\n", (unsigned)ids[k],
					    (unsigned)flags[k]);
				else if (k < got)
					piece = nl_tok_piece(tok, ids[k], &plen);
				if ((k == got || len + plen > sizeof line) && len) {
					if (nl_io_write(&out, line, len, &err) < 0) {
						nl_cli_report(out_path, &err);
						out_failed = 1;
					}
					len = 0;
				}
				if (plen > sizeof line) {         /* a piece longer than the buffer */
					if (nl_io_write(&out, piece, plen, &err) < 0) {
						nl_cli_report(out_path, &err);
						out_failed = 1;
					}
				} else if (plen) {
					memcpy(line + len, piece, plen);
					len += plen;
				}
			}
		} while (got > 0 && !out_failed);
		nl_data_reader_free(r);
		nl_io_abort(&in);
		continue;
fail:
		nl_cli_report(path, &err);
		nl_data_reader_free(r);
		nl_io_abort(&in);
		status = 1;
	}
	if (out_failed)
		status = 1;
	nl_tok_free(tok);
	if (status) {
		nl_io_abort(&out);
		return status;
	}
	return close_out(&out, out_path);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "decode", no_argument, NULL, 'd' }, { "flags", no_argument, NULL, 'F' },
		{ "force", no_argument, NULL, 'f' }, { "help", no_argument, NULL, 'h' },
		{ "include", required_argument, NULL, 'I' }, { "learn", required_argument, NULL, 'K' },
		{ "tokenizer", required_argument, NULL, 'k' }, { "holdout", required_argument, NULL, 'O' },
		{ "output", required_argument, NULL, 'o' }, { "percent", required_argument, NULL, 'P' },
		{ "quiet", no_argument, NULL, 'q' }, { "separator", required_argument, NULL, 'S' },
		{ "text", no_argument, NULL, 't' }, { "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, 'V' }, { "exclude", required_argument, NULL, 'X' },
		{ NULL, 0, NULL, 0 },
	};
	const char *include[MAX_GLOBS], *exclude[MAX_GLOBS];
	struct nl_corpus_opts opts = { include, 0, exclude, 0, NULL, notice, NULL };
	const char *tok_spec = NULL, *out_path = "-", *holdout_path = NULL;
	int decode_mode = 0, force = 0, text = 0, rank2 = 0, percent = -1, c;
	long long learn_size = 0;
	struct nl_err err = { 0, "" };

	nl_cli_init(argv[0]);
	while ((c = getopt_long(argc, argv, "dFfhI:K:k:O:o:P:qS:tVvX:", longopts, NULL)) != -1) {
		switch (c) {
		case 'd': decode_mode = 1; break;
		case 'F': rank2 = 1; break;
		case 'f': force = 1; break;
		case 'h': usage(stdout); return nl_cli_fshut(0);
		case 'I':
		case 'X':
			if ((c == 'I' ? opts.n_include : opts.n_exclude) == MAX_GLOBS)
				nl_cli_die(2, "-%c: at most %d patterns", c, MAX_GLOBS);
			if (c == 'I')
				include[opts.n_include++] = optarg;
			else
				exclude[opts.n_exclude++] = optarg;
			break;
		case 'K': learn_size = nl_cli_int("-K", "vocabulary size", optarg, NL_TOK_BASE, NL_TOK_MAX_VOCAB); break;
		case 'k': tok_spec = optarg; break;
		case 'O': holdout_path = optarg; break;
		case 'o': out_path = optarg; break;
		case 'P': percent = (int)nl_cli_int("-P", "percentage", optarg, 0, 100); break;
		case 'q': verbose = -1; break;
		case 'S': opts.separator = optarg; break;
		case 't': text = 1; break;
		case 'V': nl_cli_version(verbose > 0); return nl_cli_fshut(0);
		case 'v': verbose++; break;
		default: usage(stderr); return 2;
		}
	}
	argc -= optind;
	argv += optind;
	if ((percent >= 0) != (holdout_path != NULL))
		nl_cli_die(2, "-P and -O go together");
	if (learn_size && (decode_mode || text || rank2 || tok_spec || holdout_path))
		nl_cli_die(2, "-K learns a tokenizer: -d, -t, -F, -k, -P and -O do not apply");
	if (decode_mode && (holdout_path || opts.n_include || opts.n_exclude || opts.separator))
		nl_cli_die(2, "-d decodes token streams: -I, -X, -P, -O and -S do not apply");
	if (decode_mode && rank2 && tok_spec)
		nl_cli_die(2, "-d -F writes ids and flags: -k does not apply");
	nl_io_install_signals();
	if (decode_mode)
		return nl_cli_fshut(decode(argv, argc, tok_spec, out_path, force, rank2));

	struct nl_corpus *corpus;
	if (nl_corpus_open(&corpus, (const char *const *)argv, (size_t)argc, &opts,
	    holdout_path != NULL, &err) < 0) {
		nl_cli_report(argc ? argv[0] : "-", &err);
		return 1;
	}
	struct nl_tok *tok = NULL;
	const char *paths[2] = { out_path, holdout_path };
	int status;
	if (learn_size)
		status = learn(corpus, (uint32_t)learn_size, out_path, force);
	else if (nl_data_load_tokenizer(&tok, tok_spec ? tok_spec : "bytes", &err) < 0) {
		nl_cli_report(tok_spec, &err);
		status = 1;
	} else {
		status = encode(corpus, tok, (rank2 ? NL_DATA_RANK2 : 0) | (text ? NL_DATA_TEXT : 0),
		    paths, holdout_path ? 2 : 1, (unsigned)percent, force);
	}
	nl_tok_free(tok);
	nl_corpus_close(corpus);
	return nl_cli_fshut(status);
}
