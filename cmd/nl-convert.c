/* nl — see LICENSE. nl-convert: convert tensor files between .nlt, .npy, .npz, .safetensors
 * and .gguf, export checkpoint bundles to them and build bundles from them, or list the
 * tensors of any of them (and of checkpoint bundles). */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "convert.h"
#include "tfile.h"

static void
usage(FILE *fp)
{
	fprintf(fp, "usage: %s [-flqv] [-F format] [-z level] input [output]\n",
	    nl_cli_progname());
}

static int
list_row(void *ctx, const char *member, const struct nl_tinfo *ti, uint64_t bytes, uint32_t crc)
{
	char shape[NL_MAX_RANK * 21 + 3];

	(void)ctx;
	nl_tinfo_shape_str(ti, shape, sizeof shape);
	printf("%s\t%s\t%s\t%s\t%" PRIu64 "\t%08" PRIx32 "\n", member, ti->name,
	    nl_dtype_name(ti->dtype), shape, bytes, crc);
	return 0;
}

/* A tensor file to a parameters-only checkpoint bundle; the exit status. */
static int
to_bundle(struct nl_io *in, const char *in_path, const char *out_path, int force, int verbose)
{
	struct nl_err err = { 0, "" };
	enum nl_format in_fmt;
	struct nl_tset ts;
	struct nl_ckpt ck;
	int rc = 1;

	nl_tset_init(&ts);
	nl_ckpt_init(&ck);
	if (nl_convert_load(in, in_path, &ts, &in_fmt, &err) < 0 ||
	    nl_convert_ckpt_import(&ts, &ck, &err) < 0)
		nl_cli_report(in_path, &err);
	else if (nl_ckpt_write(&ck, out_path, force, &err) < 0)
		nl_cli_report(out_path, &err);
	else {
		if (verbose > 0)
			nl_cli_error("%s: %zu parameter tensors, %s to checkpoint (config, params.nlt)",
			    in_path, ts.n, nl_format_name(in_fmt));
		rc = 0;
	}
	nl_io_abort(in);
	nl_ckpt_free(&ck);
	nl_tset_free(&ts);
	return rc;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "format", required_argument, NULL, 'F' },
		{ "force", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ "list", no_argument, NULL, 'l' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, 'V' },
		{ "level", required_argument, NULL, 'z' },
		{ NULL, 0, NULL, 0 },
	};
	enum nl_format out_fmt = NL_FORMAT_UNKNOWN, in_fmt;
	int force = 0, list = 0, verbose = 0, level = NL_TFILE_DEFAULT_LEVEL, c;
	const char *in_path, *out_path;
	struct nl_err err = { 0, "" };
	struct nl_io in, out;
	struct nl_tset ts;

	nl_cli_init(argv[0]);
	nl_cli_blas_core(argv);
	while ((c = getopt_long(argc, argv, "F:fhlqVvz:", longopts, NULL)) != -1) {
		switch (c) {
		case 'F':
			out_fmt = nl_format_parse(optarg);
			if (out_fmt == NL_FORMAT_UNKNOWN) {
				nl_cli_error("-F: unknown format '%s' (nlt, npy, npz, safetensors, gguf, tar)",
				    optarg);
				return 2;
			}
			break;
		case 'f': force = 1; break;
		case 'h': usage(stdout); return nl_cli_fshut(0);
		case 'l': list = 1; break;
		case 'q': verbose = -1; break;
		case 'V': nl_cli_version(verbose > 0); return nl_cli_fshut(0);
		case 'v': verbose++; break;
		case 'z': level = (int)nl_cli_int("-z", "compression level", optarg, 0, 9); break;
		default: usage(stderr); return 2;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1 || argc > (list ? 1 : 2)) {
		usage(stderr);
		return 2;
	}
	in_path = argv[0];
	out_path = argc > 1 ? argv[1] : "-";
	if (!list && out_fmt == NL_FORMAT_UNKNOWN) {
		out_fmt = strcmp(out_path, "-") == 0 ? NL_FORMAT_NLT : nl_format_from_path(out_path);
		if (out_fmt == NL_FORMAT_UNKNOWN) {
			nl_cli_error("%s: cannot tell the output format from the name (use -F)", out_path);
			return 2;
		}
	}

	nl_io_install_signals();
	if (nl_io_open_read(&in, in_path, force ? NL_IO_FORCE : 0, &err) < 0) {
		nl_cli_report(in_path, &err);
		return 1;
	}
	if (list) {
		int rc = nl_convert_list(&in, in_path, list_row, NULL, &err);
		if (rc < 0)
			nl_cli_report(in_path, &err);
		nl_io_abort(&in);
		return nl_cli_fshut(rc < 0 ? 1 : 0);
	}
	if (out_fmt == NL_FORMAT_TAR)
		return nl_cli_fshut(to_bundle(&in, in_path, out_path, force, verbose));
	if (nl_io_open_write(&out, out_path, force ? NL_IO_FORCE : 0, &err) < 0) {
		nl_cli_report(out_path, &err);
		nl_io_abort(&in);
		return 1;
	}

	const unsigned char *p;
	size_t got;
	int rc;
	if (nl_io_peek(&in, &p, 512, &got, &err) < 0) {
		nl_cli_report(in_path, &err);
		nl_io_abort(&in);
		nl_io_abort(&out);
		return 1;
	}
	in_fmt = nl_format_detect(p, got);
	if (out_fmt == NL_FORMAT_NLT && in_fmt == NL_FORMAT_NLT) {
		/* .nlt to .nlt streams, in bounded memory; errors can come from either side */
		rc = nl_convert_nlt_stream(&in, &out, level, &err);
		if (rc < 0)
			nl_cli_report(rc == -2 ? out_path : in_path, &err);
		else if (verbose > 0)
			nl_cli_error("%s: re-encoded to %s", in_path, out_path);
	} else {
		char left_out[256];
		int bundle = in_fmt == NL_FORMAT_TAR || in_fmt == NL_FORMAT_COMPRESSED;
		nl_tset_init(&ts);
		rc = bundle ? nl_convert_ckpt_export(&in, out_fmt, &ts, left_out, sizeof left_out, &err) :
		    nl_convert_load(&in, in_path, &ts, &in_fmt, &err);
		if (rc < 0)
			nl_cli_report(in_path, &err);
		else if ((rc = nl_convert_save(&out, out_fmt, &ts, level, &err)) < 0)
			nl_cli_report(out_path, &err);
		else if (verbose > 0 && bundle)
			nl_cli_error("%s: %zu parameter tensors, %zu metadata entries, checkpoint to %s%s%s",
			    in_path, ts.n, ts.meta.n, nl_format_name(out_fmt),
			    *left_out ? "; left out: " : "", left_out);
		else if (verbose > 0)
			nl_cli_error("%s: %zu tensors, %zu metadata entries, %s to %s", in_path, ts.n,
			    ts.meta.n, nl_format_name(in_fmt), nl_format_name(out_fmt));
		nl_tset_free(&ts);
	}
	nl_io_abort(&in);
	if (rc < 0) {
		nl_io_abort(&out);
		return 1;
	}
	if (nl_io_close(&out, &err) < 0) {
		nl_cli_report(out_path, &err);
		return 1;
	}
	return nl_cli_fshut(0);
}
