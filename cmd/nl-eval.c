/* nl — see LICENSE. nl-eval: score token streams with a checkpoint: tokens, mean loss,
 * bits per byte, perplexity, throughput, as one TSV row per input. */
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "choice.h"
#include "cli.h"
#include "eval.h"
#include "model.h"
#include "train.h"

static void
usage(FILE *fp)
{
	fprintf(fp, "usage: %s [-qv] [--adapt | --no-adapt] [-b batch] [-D key=value] [-j threads]"
	    "\n       [-M memory] [-T seqlen] [-W memory_out] -m checkpoint [file ...]\n"
	    "       %s [-qv] [-D key=value] [-j threads] [-T seqlen] --choice items.jsonl\n"
	    "       [--labels labels] -m checkpoint\n"
	    "       %s [-qv] [--adapt | --no-adapt] [-b batch] [-D key=value] [-j threads]\n"
	    "       [-T seqlen] [--own-state] --matrix -m checkpoint -m checkpoint ...\n"
	    "       file file ...\n",
	    nl_cli_progname(), nl_cli_progname(), nl_cli_progname());
}

/* What every input shares. */
struct run {
	struct nl_model m;
	struct nl_tf tf;
	const struct nl_state *from;      /* -M: the state each stream starts from */
	const char *from_name;
	const char *save;                 /* -W: where the stream's state goes */
};

/* The model of checkpoint path with the -D settings, and its engine: batch windows, or one
 * stream in pieces of -T tokens or of the teach window when its model has CMS levels that
 * learn (frozen or not: the same pieces). With reinit, the parameters as training's
 * initialisation drew them (train.seed). Errors end the program. */
static void
open_model(struct run *run, const char *path, const char *const *defs, int ndefs, int seq,
    int batch, int verbose, int reinit)
{
	struct nl_err err = { 0, "" };
	const char *name = strcmp(path, "-") ? path : "(stdin)";
	char skipped[256];
	if (nl_model_open(&run->m, path, defs, ndefs, skipped, &err)) {
		if (err.code == NL_EUSAGE)
			nl_cli_die(2, "%s", err.msg);
		nl_cli_die(1, "%s: %s", name, err.msg);
	}
	if (verbose >= 0 && skipped[0])
		nl_cli_warn("%s: skipped unknown members %s", name, skipped);
	const struct nl_config *cfg = &run->m.cfg;
	if (seq == 0)
		seq = (int)cfg->context;
	if (seq > cfg->context)
		nl_cli_die(2, "-T: %d is longer than the model's context %lld", seq,
		    (long long)cfg->context);
	int stream = strcmp(cfg->eval_mode, "stream") == 0;
	if (stream)
		seq = nl_eval_stream_piece(cfg, seq);
	if (nl_tf_init(&run->tf, cfg, &run->m.lo, stream ? 1 : batch, seq, sizeof(float), &err))
		nl_cli_die(1, "%s: %s", name, err.msg);
	if (reinit)
		nl_model_init_params(&run->m, (uint64_t)cfg->train_seed);
}

static void
close_model(struct run *run)
{
	nl_tf_free(&run->tf);
	nl_model_free(&run->m);
}

/* The state every stream of run starts from: path's (a state file or a checkpoint's
 * memory.nlt), checked against the model. With carried, a checkpoint without one leaves
 * run->from NULL (the meta-learned state). Errors end the program. */
static void
open_state(struct run *run, struct nl_state *st, const char *path, int carried)
{
	struct nl_err err = { 0, "" };
	const struct nl_model *m = &run->m;
	const char *name = strcmp(path, "-") ? path : "(stdin)";
	if ((carried ? nl_state_read_carried(st, path, &err) : nl_state_read(st, path, &err)) ||
	    (st->data && ((st->streams != 1 && nl_err_set(&err, NL_EFORMAT, "memory state "
	    "holds %d streams; nl-eval reads one", st->streams)) ||
	    nl_state_check(st, &m->cfg, &m->lo, m->params, &err))))
		nl_cli_die(1, "%s: %s", name, err.msg);
	if (st->data)
		run->from = st, run->from_name = name;
}

/* Tokens a stream reads at a time, so memory stays flat however long the input. */
#define STREAM_PIECE (1u << 16)

/* A task stream written with depth=sweep (nl-synth(1)): example i sits at depth
 * 10·(i mod 11) %; accuracy and exact match per depth, a table after two blank lines. */
static void
print_depths(const char *path, const struct nl_eval_examples *per)
{
	printf("\n\ninput\tdepth\texamples\tacc\tem\n");
	for (size_t k = 0; k < 11; k++) {
		uint64_t n = 0, scored = 0, correct = 0, exact = 0;
		for (size_t i = k; i < per->n; i += 11) {
			n++, scored += per->ex[i].scored, correct += per->ex[i].correct;
			exact += per->ex[i].correct == per->ex[i].scored;
		}
		if (n)
			printf("%s\t%zu\t%" PRIu64 "\t%.6f\t%.6f\n", path, 10 * k, n,
			    (double)correct / (double)scored, (double)exact / (double)n);
	}
}

/* One input: read, score, print a row (unless out: the result goes there); the curve, if
 * asked for, into curve; a depth=sweep task's outcomes by depth into per. */
static int
eval_one(struct run *run, const char *path, struct nl_eval_curve *curve,
    struct nl_eval_result *out, struct nl_eval_examples *per)
{
	struct nl_model *m = &run->m;
	struct nl_tf *tf = &run->tf;
	struct nl_tokens tk;
	struct nl_data_reader *rd = NULL;
	struct nl_io in;
	struct nl_err err = { 0, "" };
	struct nl_eval_result r;
	struct nl_tf_stream s;
	const char *name = strcmp(path, "-") ? path : "(stdin)";
	const int stream = strcmp(m->cfg.eval_mode, "stream") == 0;
	const size_t piece = stream ? STREAM_PIECE : 0;
	size_t got = 0;
	int rc = 0, started = 0;

	memset(&r, 0, sizeof r);
	r.per = per;
	nl_tokens_init(&tk);
	if (nl_io_open_read(&in, path, 0, &err) ||
	    nl_tokens_open(&rd, &tk, &in, (uint32_t)m->cfg.vocab_size, &err) ||
	    nl_tokens_fill(&tk, rd, piece, &got, &err) || nl_model_check_stream(m, &tk, &err)) {
		nl_cli_report(name, &err);
		rc = 1;
	}
	if (rc == 0 && stream) {
		if (nl_eval_stream_start(tf, m->params, &s, &m->cfg, run->from, &err))
			nl_cli_die(1, "%s: %s", run->from ? run->from_name : name, err.msg);
		started = 1;
	}
	/* a stream that goes on from a state has a token to feed first; a short first piece
	 * is the whole input */
	size_t lead = started && s.next[0] >= 0;
	if (rc == 0 && lead + tk.n < 2) {
		nl_cli_error("%s: %zu tokens are too few to score (need at least 2)", name, tk.n);
		rc = 1;
	}
	double t0 = nl_cli_seconds();
	while (rc == 0 && tk.n > 0) {
		if (stream ? nl_eval_stream(tf, m->params, &s, &tk, m->tok, (int)m->cfg.ttl,
		    strcmp(m->cfg.reset, "doc") == 0, &r, curve, &err) :
		    nl_eval_tokens(tf, m->params, &tk, m->tok, 0,
		    nl_tokens_align_doc(&tk, m->cfg.data_align), &r, &err)) {
			nl_cli_report(name, &err);
			rc = 1;
		}
		if (rc || piece == 0)
			break;
		tk.n = 0;
		if (nl_tokens_fill(&tk, rd, piece, &got, &err)) {
			nl_cli_report(name, &err);
			rc = 1;
		}
	}
	double dt = nl_cli_seconds() - t0;
	nl_eval_finish(&r);
	if (rc == 0 && run->save && nl_state_save(tf, &m->cfg, &s, run->save, &err)) {
		nl_cli_report(run->save, &err);
		rc = 1;
	}
	const char *depth = nl_meta_get(&tk.meta, "task.depth");
	if (per)
		per->sweep = depth && strcmp(depth, "sweep") == 0;
	if (rc == 0 && out)
		*out = r;
	if (rc == 0 && !out) {
		double loss = nl_eval_loss(&r);
		printf("%s\t%" PRIu64 "\t%.6f\t", path, r.tokens, loss);
		if (r.bytes)
			printf("%.6f", nl_eval_bpb(&r));
		else
			printf("-");
		printf("\t%.4f\t%.0f\t", exp(loss), (double)r.tokens / dt);
		if (r.tokens)
			printf("%.6f\t", (double)r.correct / (double)r.tokens);
		else
			printf("-\t");
		/* exact match: examples are a rank-2 stream's (DOC rows) */
		if (tk.flags && r.examples)
			printf("%.6f\n", (double)r.exact / (double)r.examples);
		else
			printf("-\n");
	}
	if (started)
		nl_tf_stream_free(&s);
	nl_data_reader_free(rd);
	nl_io_abort(&in);
	nl_tokens_free(&tk);
	return rc;
}

/* --choice: multiple choice by likelihood, one TSV row. */
static int
choice(struct run *run, const char *model_path, const char *items_path,
    const char *labels_path)
{
	struct nl_err err = { 0, "" };
	struct nl_choice_set set = { 0 };
	struct nl_choice_result res;
	struct nl_io in;
	const char *paths[] = { model_path, items_path, labels_path };
	if (nl_cli_stdin_readers(paths, 3, NULL, 0, 0) > 1)
		nl_cli_die(2, "standard input can feed only one of -m, --choice and --labels");
	if (run->m.tok == NULL)
		nl_cli_die(1, "%s: has no tokenizer: --choice scores text", model_path);
	if (nl_io_open_read(&in, items_path, 0, &err) || nl_choice_read(&set, &in, &err))
		nl_cli_die(1, "%s: %s", items_path, err.msg);
	nl_io_abort(&in);
	if (labels_path && (nl_io_open_read(&in, labels_path, 0, &err) ||
	    nl_choice_read_labels(&set, &in, &err)))
		nl_cli_die(1, "%s: %s", labels_path, err.msg);
	if (labels_path)
		nl_io_abort(&in);
	if (nl_choice_score(&run->tf, run->m.params, run->m.tok, &set, &res, &err))
		nl_cli_die(1, "%s: %s", items_path, err.msg);
	printf("input\titems\tlabelled\tacc\tacc_norm\n%s\t%zu\t%zu\t", items_path, res.items,
	    res.labelled);
	if (res.labelled)
		printf("%.6f\t%.6f\n", (double)res.correct / (double)res.labelled,
		    (double)res.correct_norm / (double)res.labelled);
	else
		printf("-\t-\n");
	nl_choice_free(&set);
	return 0;
}

/* --matrix: checkpoints in training order, each on every domain's stream, as R (bits per
 * byte), the initialised model's row, and the continual-learning summary (EVAL §6) as
 * comment lines. With own_state each checkpoint's streams start from the memory state it
 * carries, if any. */
static int
matrix(const char *const *models, int nm, char **files, int nf, const char *const *defs,
    int ndefs, int seq, int batch, int verbose, int own_state)
{
	if (nm < 2 || nf != nm)
		nl_cli_die(2, "--matrix: give the checkpoints in training order (at least 2, -m each) "
		    "and one token stream per domain, as many as checkpoints (%d and %d given)",
		    nm, nf);
	for (int i = 0; i < nm + nf; i++)      /* every input is read once per model */
		if (strcmp(i < nm ? models[i] : files[i - nm], "-") == 0)
			nl_cli_die(2, "--matrix reads its inputs several times: give files, not -");
	double *R = calloc((size_t)(nm + 1) * (size_t)nf, sizeof *R);
	if (R == NULL)
		nl_cli_die(1, "out of memory");
	/* row 0: the first checkpoint's configuration as training initialised it */
	for (int i = 0; i <= nm; i++) {
		struct run run = { .from = NULL };
		struct nl_state carried = { 0 };
		open_model(&run, models[i ? i - 1 : 0], defs, ndefs, seq, batch, verbose, i == 0);
		if (strcmp(run.m.cfg.eval_curve, "none") != 0)
			nl_cli_die(2, "--matrix prints bits per byte only: no eval.curve");
		if (own_state && strcmp(run.m.cfg.eval_mode, "stream") != 0)
			nl_cli_die(2, "--own-state: a memory state belongs to a stream: give --adapt or "
			    "--no-adapt (eval.mode=stream)");
		if (own_state && i > 0)
			open_state(&run, &carried, models[i - 1], 1);
		for (int j = 0; j < nf; j++) {
			struct nl_eval_result r = { 0 };
			if (eval_one(&run, files[j], NULL, &r, NULL))
				exit(1);
			if (r.bytes == 0)
				nl_cli_die(1, "%s: no text bytes (ids, or a checkpoint without a tokenizer): "
				    "--matrix compares bits per byte", files[j]);
			R[(size_t)i * nf + j] = nl_eval_bpb(&r);
		}
		nl_state_free(&carried);
		close_model(&run);
	}
	struct nl_cl_metrics cl;
	nl_eval_cl_metrics(R + nf, R, nm, &cl);
	printf("after");
	for (int j = 0; j < nf; j++)
		printf("\t%s", files[j]);
	printf("\n");
	for (int i = 0; i <= nm; i++) {
		printf("%s", i ? models[i - 1] : "(init)");
		for (int j = 0; j < nf; j++)
			printf("\t%.6f", R[(size_t)i * nf + j]);
		printf("\n");
	}
	printf("# on -bpb, higher is better (EVAL §6)\n# ACC\t%.6f\n# BWT\t%.6f\n# FWT\t%.6f\n"
	    "# forgetting\t%.6f\n# learning_accuracy\t%.6f\n", cl.acc, cl.bwt, cl.fwt,
	    cl.forgetting, cl.learning);
	free(R);
	return 0;
}

int
main(int argc, char **argv)
{
	enum { OPT_ADAPT = 256, OPT_NO_ADAPT, OPT_CHOICE, OPT_LABELS, OPT_MATRIX, OPT_OWN };
	static const struct option longopts[] = {
		{ "adapt", no_argument, NULL, OPT_ADAPT },
		{ "no-adapt", no_argument, NULL, OPT_NO_ADAPT },
		{ "choice", required_argument, NULL, OPT_CHOICE },
		{ "labels", required_argument, NULL, OPT_LABELS },
		{ "matrix", no_argument, NULL, OPT_MATRIX },
		{ "own-state", no_argument, NULL, OPT_OWN },
		{ "batch", required_argument, NULL, 'b' },
		{ "define", required_argument, NULL, 'D' },
		{ "help", no_argument, NULL, 'h' },
		{ "threads", required_argument, NULL, 'j' },
		{ "model", required_argument, NULL, 'm' },
		{ "memory", required_argument, NULL, 'M' },
		{ "memory-out", required_argument, NULL, 'W' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "seqlen", required_argument, NULL, 'T' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *model_path = NULL, *memory_path = NULL, *save_path = NULL;
	const char *choice_path = NULL, *labels_path = NULL;
	const char *models[argc];     /* every -m, for --matrix */
	int nmodels = 0, matrix_mode = 0, own_state = 0;
	const char *defs[2 * argc];   /* -D arguments in order: at most two per argument */
	int ndefs = 0, verbose = 0, batch = 16, seq = 0, batch_given = 0, c;
	long threads = sysconf(_SC_NPROCESSORS_ONLN);
	struct nl_state from;
	struct run run = { .from = NULL };
	struct nl_model *m = &run.m;

	nl_cli_init(argv[0]);
	nl_cli_blas_core(argv);
	while ((c = getopt_long(argc, argv, "b:D:hj:M:m:qT:VvW:", longopts, NULL)) != -1) {
		switch (c) {
		case 'b':
			batch = (int)nl_cli_int("-b", "batch size", optarg, 1, 65536);
			batch_given = 1;
			break;
		case 'D': defs[ndefs++] = optarg; break;
		case 'h': usage(stdout); return nl_cli_fshut(0);
		case 'j': threads = nl_cli_int("-j", "thread count", optarg, 1, 1024); break;
		case 'M': memory_path = optarg; break;
		case 'm': model_path = models[nmodels++] = optarg; break;
		case 'q': verbose = -1; break;
		case 'T': seq = (int)nl_cli_int("-T", "sequence length", optarg, 1, 1 << 20); break;
		case 'V': nl_cli_version(verbose > 0); return nl_cli_fshut(0);
		case 'v': verbose++; break;
		case 'W': save_path = optarg; break;
		case OPT_ADAPT:
			defs[ndefs++] = "eval.mode=stream";
			defs[ndefs++] = "ttl=1";
			break;
		case OPT_NO_ADAPT:
			defs[ndefs++] = "eval.mode=stream";
			defs[ndefs++] = "ttl=0";
			break;
		case OPT_CHOICE: choice_path = optarg; break;
		case OPT_LABELS: labels_path = optarg; break;
		case OPT_MATRIX: matrix_mode = 1; break;
		case OPT_OWN: own_state = 1; break;
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
	if (labels_path && !choice_path)
		nl_cli_die(2, "--labels goes with --choice");
	if (choice_path && (argc || memory_path || save_path || batch_given))
		nl_cli_die(2, "--choice scores its items one by one: no token streams, -b, -M or -W");
	if (matrix_mode && (choice_path || memory_path || save_path))
		nl_cli_die(2, "--matrix scores token streams: no --choice, -M or -W");
	if (own_state && !matrix_mode)
		nl_cli_die(2, "--own-state goes with --matrix (one checkpoint: -M checkpoint)");
	if (nmodels > 1 && !matrix_mode)
		nl_cli_die(2, "-m given %d times: only --matrix takes several", nmodels);
	nl_model_set_threads((int)threads);
	if (matrix_mode)
		return nl_cli_fshut(matrix(models, nmodels, argv, argc, defs, ndefs, seq, batch,
		    verbose, own_state));
	if (choice_path) {
		open_model(&run, model_path, defs, ndefs, seq, 1, verbose, 0);
		if (strcmp(run.m.cfg.eval_mode, "stream") == 0)
			nl_cli_die(2, "--choice scores each item in a window of its own: no --adapt, "
			    "--no-adapt or eval.mode=stream");
		int rc = choice(&run, model_path, choice_path, labels_path);
		close_model(&run);
		return nl_cli_fshut(rc);
	}
	const char *readers[] = { model_path, memory_path };
	if (nl_cli_stdin_readers(readers, 2, argv, argc, argc == 0) > 1)
		nl_cli_die(2, "standard input can feed only one of -m, -M and the token stream; give "
		    "the others as files");
	open_model(&run, model_path, defs, ndefs, seq, batch, verbose, 0);
	const struct nl_config *cf = &m->cfg;
	int stream = strcmp(cf->eval_mode, "stream") == 0;
	if (!stream && strcmp(cf->eval_curve, "none") != 0)
		nl_cli_die(2, "-D eval.curve=%s: needs eval.mode=stream (--adapt or --no-adapt)",
		    cf->eval_curve);
	if (!stream && (memory_path || save_path))
		nl_cli_die(2, "%s: a memory state belongs to a stream: give --adapt or --no-adapt "
		    "(eval.mode=stream)", memory_path ? "-M" : "-W");
	if (save_path && (argc > 1 || strcmp(save_path, "-") == 0))
		nl_cli_die(2, "-W: %s", argc > 1 ? "saves one stream's state: give one input" :
		    "standard output holds the table; give a file");
	if (memory_path)
		open_state(&run, &from, memory_path, 0);
	run.save = save_path;

	static char *dash[] = { "-" };
	if (argc == 0) {
		argv = dash;
		argc = 1;
	}
	int status = 0, want_curve = strcmp(m->cfg.eval_curve, "none") != 0;
	int by_token = strcmp(m->cfg.eval_curve, "token") == 0;
	struct nl_eval_curve *curves = calloc((size_t)argc, sizeof *curves);
	struct nl_eval_examples *per = calloc((size_t)argc, sizeof *per);
	if (curves == NULL || per == NULL)
		nl_cli_die(1, "out of memory");
	printf("input\ttokens\tloss\tbpb\tppl\ttok_s\tacc\tem\n");
	for (int i = 0; i < argc; i++) {
		curves[i].keep_tokens = by_token;
		status |= eval_one(&run, argv[i], want_curve ? &curves[i] : NULL, NULL, &per[i]);
	}
	/* the curve: a second table after two blank lines (gnuplot's index 1) */
	if (by_token)
		printf("\n\ninput\tposition\ttoken\tloss\n");
	else if (want_curve)
		printf("\n\ninput\tfrom\tto\ttokens\tloss\tbpb\n");
	for (int i = 0; by_token && i < argc; i++)
		for (size_t k = 0; k < curves[i].n; k++)
			printf("%s\t%lld\t%" PRId32 "\t%.9g\n", argv[i], curves[i].pt[k].pos,
			    curves[i].pt[k].id, curves[i].pt[k].loss);
	for (int i = 0; want_curve && !by_token && i < argc; i++)
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
	for (int i = 0; i < argc; i++)
		if (per[i].sweep && !per[i].failed)
			print_depths(argv[i], &per[i]);
	for (int i = 0; i < argc; i++) {
		nl_eval_curve_free(&curves[i]);
		free(per[i].ex);
	}
	free(curves);
	free(per);
	if (run.from)
		nl_state_free(&from);
	close_model(&run);
	return nl_cli_fshut(status);
}
