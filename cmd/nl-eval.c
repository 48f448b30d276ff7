/* nl — see LICENSE. nl-eval: score token streams with a checkpoint: tokens, mean loss,
 * bits per byte, perplexity, throughput, as one TSV row per input. */
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "eval.h"
#include "model.h"
#include "train.h"

static void
usage(FILE *fp)
{
	fprintf(fp, "usage: %s [-qv] [--adapt | --no-adapt] [-b batch] [-D key=value] [-j threads]"
	    "\n       [-T seqlen] -m checkpoint [file ...]\n", nl_cli_progname());
}

/* One input: read, score, print a row; the curve, if asked for, into curve. */
static int
eval_one(struct nl_model *m, struct nl_tf *tf, const char *path, struct nl_eval_curve *curve)
{
	struct nl_tokens tk;
	struct nl_io in;
	struct nl_err err = { 0, "" };
	struct nl_eval_result r;
	const char *name = strcmp(path, "-") ? path : "(stdin)";
	int rc = 0;

	nl_tokens_init(&tk);
	if (nl_io_open_read(&in, path, 0, &err) ||
	    nl_tokens_read(&tk, &in, (uint32_t)m->cfg.vocab_size, &err)) {
		nl_cli_report(name, &err);
		rc = 1;
	}
	nl_io_abort(&in);
	if (rc == 0 && nl_model_check_stream(m, &tk, &err)) {
		nl_cli_report(name, &err);
		rc = 1;
	}
	if (rc == 0 && tk.n < 2) {
		nl_cli_error("%s: %zu tokens are too few to score (need at least 2)", name, tk.n);
		rc = 1;
	}
	double t0 = nl_cli_seconds();
	if (rc == 0 && (strcmp(m->cfg.eval_mode, "stream") == 0
	    ? nl_eval_fresh_stream(tf, m->params, &tk, m->tok, (int)m->cfg.ttl, &r, curve, &err)
	    : nl_eval_tokens(tf, m->params, &tk, m->tok, 0, &r, &err))) {
		nl_cli_report(name, &err);
		rc = 1;
	}
	if (rc == 0) {
		double dt = nl_cli_seconds() - t0, loss = nl_eval_loss(&r);
		printf("%s\t%" PRIu64 "\t%.6f\t", path, r.tokens, loss);
		if (r.bytes)
			printf("%.6f", nl_eval_bpb(&r));
		else
			printf("-");
		printf("\t%.4f\t%.0f\n", exp(loss), (double)r.tokens / dt);
	}
	nl_tokens_free(&tk);
	return rc;
}

int
main(int argc, char **argv)
{
	enum { OPT_ADAPT = 256, OPT_NO_ADAPT };
	static const struct option longopts[] = {
		{ "adapt", no_argument, NULL, OPT_ADAPT },
		{ "no-adapt", no_argument, NULL, OPT_NO_ADAPT },
		{ "batch", required_argument, NULL, 'b' },
		{ "define", required_argument, NULL, 'D' },
		{ "help", no_argument, NULL, 'h' },
		{ "threads", required_argument, NULL, 'j' },
		{ "model", required_argument, NULL, 'm' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "seqlen", required_argument, NULL, 'T' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *model_path = NULL;
	const char *defs[2 * argc];   /* -D arguments in order: at most two per argument */
	int ndefs = 0, verbose = 0, batch = 16, seq = 0, c;
	long threads = sysconf(_SC_NPROCESSORS_ONLN);
	struct nl_err err = { 0, "" };
	struct nl_config cfg;
	struct nl_ckpt ck;
	struct nl_model m;
	struct nl_tf tf;

	nl_cli_init(argv[0]);
	nl_cli_blas_core(argv);
	while ((c = getopt_long(argc, argv, "b:D:hj:m:qT:Vv", longopts, NULL)) != -1) {
		switch (c) {
		case 'b': batch = (int)nl_cli_int("-b", "batch size", optarg, 1, 65536); break;
		case 'D': defs[ndefs++] = optarg; break;
		case 'h': usage(stdout); return nl_cli_fshut(0);
		case 'j': threads = nl_cli_int("-j", "thread count", optarg, 1, 1024); break;
		case 'm': model_path = optarg; break;
		case 'q': verbose = -1; break;
		case 'T': seq = (int)nl_cli_int("-T", "sequence length", optarg, 1, 1 << 20); break;
		case 'V': nl_cli_version(verbose > 0); return nl_cli_fshut(0);
		case 'v': verbose++; break;
		case OPT_ADAPT:
			defs[ndefs++] = "eval.mode=stream";
			defs[ndefs++] = "ttl=1";
			break;
		case OPT_NO_ADAPT:
			defs[ndefs++] = "eval.mode=stream";
			defs[ndefs++] = "ttl=0";
			break;
		default: usage(stderr); return 2;
		}
	}
	argc -= optind;
	argv += optind;
	if (model_path == NULL) {
		nl_cli_error("no model: give -m checkpoint");
		usage(stderr);
		return 2;
	}
	nl_model_set_threads((int)threads);
	nl_ckpt_init(&ck);
	nl_config_init(&cfg);
	if (nl_ckpt_read(&ck, model_path, NL_CKPT_SKIP_TRAINING, &err) ||
	    nl_ckpt_config(&ck, &cfg, &err))
		nl_cli_die(1, "%s: %s", strcmp(model_path, "-") ? model_path : "(stdin)", err.msg);
	if (verbose >= 0 && ck.skipped[0])
		nl_cli_warn("%s: skipped unknown members %s", model_path, ck.skipped);
	for (int i = 0; i < ndefs; i++)
		if (nl_config_set_arg(&cfg, defs[i], &err))
			nl_cli_die(2, "-D: %s", err.msg);
	if (seq == 0)
		seq = (int)cfg.context;
	if (seq > cfg.context)
		nl_cli_die(2, "-T: %d is longer than the model's context %lld", seq,
		    (long long)cfg.context);
	/* a stream runs one sequence in pieces of -T tokens, or of the teach window when its
	 * model has CMS levels that learn (frozen or not: the same pieces) */
	int stream = strcmp(cfg.eval_mode, "stream") == 0;
	if (!stream && strcmp(cfg.eval_curve, "position") == 0)
		nl_cli_die(2, "-D eval.curve=position: needs eval.mode=stream (--adapt or --no-adapt)");
	if (stream && nl_config_has_cms(&cfg) && nl_config_cms_teach(&cfg) > 0 && cfg.cms_lr > 0)
		seq = (int)nl_config_cms_teach(&cfg);
	if (nl_model_create(&m, &cfg, &err) || nl_model_load_ckpt(&m, &ck, 0, &err) ||
	    nl_tf_init(&tf, &m.cfg, &m.lo, stream ? 1 : batch, seq, sizeof(float), &err))
		nl_cli_die(1, "%s: %s", model_path, err.msg);
	nl_ckpt_free(&ck);
	nl_config_free(&cfg);

	static char *dash[] = { "-" };
	if (argc == 0 && strcmp(model_path, "-") == 0)
		nl_cli_die(2, "-m -: standard input holds the checkpoint; give the token stream as a file");
	if (argc == 0) {
		argv = dash;
		argc = 1;
	}
	int status = 0, want_curve = strcmp(m.cfg.eval_curve, "position") == 0;
	struct nl_eval_curve *curves = calloc((size_t)argc, sizeof *curves);
	if (curves == NULL)
		nl_cli_die(1, "out of memory");
	printf("input\ttokens\tloss\tbpb\tppl\ttok_s\n");
	for (int i = 0; i < argc; i++)
		status |= eval_one(&m, &tf, argv[i], want_curve ? &curves[i] : NULL);
	/* the curve: a second table after two blank lines (gnuplot's index 1) */
	if (want_curve)
		printf("\n\ninput\tfrom\tto\ttokens\tloss\tbpb\n");
	for (int i = 0; want_curve && i < argc; i++)
		for (int k = 0; k < NL_EVAL_BUCKETS; k++) {
			const struct nl_eval_result *bk = &curves[i].bucket[k];
			if (bk->tokens == 0)
				continue;
			printf("%s\t%llu\t%llu\t%" PRIu64 "\t%.6f\t", argv[i], 1ULL << k,
			    (2ULL << k) - 1, bk->tokens, nl_eval_loss(bk));
			if (bk->bytes)
				printf("%.6f\n", nl_eval_bpb(bk));
			else
				printf("-\n");
		}
	free(curves);
	nl_tf_free(&tf);
	nl_model_free(&m);
	return nl_cli_fshut(status);
}
