/* nl — see LICENSE. nl-probe-memory: run a memory model over a token stream and measure every
 * write of its memories and every step of its CMS levels (probe.h, nl-probe-memory(1)). */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "model.h"
#include "probe.h"
#include "tfile.h"

static void
usage(FILE *fp)
{
	fprintf(fp, "usage: %s [-fqsv] [--at positions [--dump]] [-D key=value] [-j threads] "
	    "[-L layers]\n       -m checkpoint [-o output] [file ...]\n"
	    "       %s [-fqsv] --recall mode [--sizes sizes] [--eta eta] [--alpha alpha]\n"
	    "       [--seed seed] [-D key=value] [-j threads] [-L layers] -m checkpoint\n"
	    "       [-o output]\n"
	    "       %s [-fqsv] --retention [--distances distances] [--seed seed]\n"
	    "       [-D key=value] [-j threads] [-L layers] -m checkpoint [-o output] [file ...]\n",
	    nl_cli_progname(), nl_cli_progname(), nl_cli_progname());
}

/* -s: one TSV row per write, on out. */
static int
print_row(void *ctx, const struct nl_probe_write *w, struct nl_err *err)
{
	char line[512], buf[16];
	int n = snprintf(line, sizeof line, "%d\t%s\t%d\t%lld\t%.6g\t%.6g\t%.6g", w->layer,
	    nl_probe_unit_name(w->unit, buf), w->head, w->pos, w->norm, w->delta, w->rel);
	for (int k = 0; k < 4; k++)
		n += snprintf(line + n, sizeof line - (size_t)n, "\t%.6g", w->eta[k]);
	for (int k = 0; k < 4; k++)
		n += snprintf(line + n, sizeof line - (size_t)n, "\t%.6g", w->alpha[k]);
	line[n++] = '\n';
	return nl_io_write(ctx, line, (size_t)n, err);
}

/* -s: the spectra, kept for a second table after the writes'. */
struct ranks {
	struct nl_probe_log log;
	struct nl_io *out;
};

static int
keep_rank(void *ctx, const struct nl_probe_rank *r, struct nl_err *err)
{
	return nl_probe_log_rank(&((struct ranks *)ctx)->log, r, err);
}

static int
print_write(void *ctx, const struct nl_probe_write *w, struct nl_err *err)
{
	return print_row(((struct ranks *)ctx)->out, w, err);
}

static int
print_ranks(struct nl_io *out, const struct nl_probe_log *log, struct nl_err *err)
{
	static const char header[] = "\n\nlayer\tmemory\tmatrix\thead\tpos\terank\tsigma_max\n";
	if (nl_io_write(out, header, sizeof header - 1, err) < 0)
		return -1;
	for (size_t i = 0; i < log->nr; i++) {
		const struct nl_probe_rank *r = &log->r[i];
		char line[256], buf[16];
		int n = snprintf(line, sizeof line, "%d\t%s\t%s\t%d\t%lld\t%.6g\t%.6g\n", r->layer,
		    nl_probe_unit_name(r->unit, buf), nl_probe_matrix_name(r->unit, r->matrix),
		    r->head, r->pos, r->erank, r->sigma_max);
		if (nl_io_write(out, line, (size_t)n, err) < 0)
			return -1;
	}
	return 0;
}

/* --at 1k,10000 (and --sizes, --distances): ascending numbers from min (k: thousands). */
static int
parse_positions(const char *opt, const char *arg, long long min, long long **out)
{
	int n = 1;
	for (const char *p = arg; *p; p++)
		n += *p == ',';
	long long *at = malloc((size_t)n * sizeof *at);
	if (at == NULL)
		nl_cli_die(1, "out of memory");
	const char *p = arg;
	for (int i = 0; i < n; i++) {
		char *end;
		long long v = strtoll(p, &end, 10);
		if (*end == 'k')
			v *= 1000, end++;
		if (end == p || (*end != ',' && *end) || v < min || (i && v <= at[i - 1]))
			nl_cli_die(2, "%s %s: not ascending numbers from %lld (k: thousands)", opt, arg,
			    min);
		at[i] = v;
		p = end + 1;
	}
	*out = at;
	return n;
}

/* -L 0,2: the layers as a bit set; each must exist. */
static uint64_t
parse_layers(const char *arg, int layers)
{
	uint64_t set = 0;
	const char *p = arg;
	for (;;) {
		char *end;
		long l = strtol(p, &end, 10);
		if (end == p || (*end != ',' && *end))
			nl_cli_die(2, "-L %s: not a list of layer numbers", arg);
		if (l < 0 || l >= layers)
			nl_cli_die(2, "-L %s: the model has %d layers, 0 to %d", arg, layers, layers - 1);
		if (l >= 64)
			nl_cli_die(2, "-L %s: only layers 0 to 63 can be probed", arg);
		set |= UINT64_C(1) << l;
		if (*end == 0)
			return set;
		p = end + 1;
	}
}

/* --recall (data NULL) or --retention over data: the rows as TSV (summary) or tensors; x
 * the sizes or distances asked for (NULL: the defaults). */
static int
run_recall(struct nl_tf *tf, const struct nl_model *m, struct nl_recall *rc,
    const struct nl_tokens *data, long long *x, int nx, const char *out_path, int force,
    int summary, const char *name)
{
	struct nl_err err = { 0, "" };
	long long def[64];
	if (x == NULL)
		nx = nl_probe_recall_defaults(tf, data != NULL, rc->mode,
		    data ? (long long)data->n - 1 : -1, def, 64), x = def;
	rc->x = x, rc->nx = nx;
	if (nx == 0 && data)
		nl_cli_die(1, "%s: the input has no tokens to read after the association", name);
	int run = data ? nl_probe_retention(tf, m->params, &m->cfg, data, rc, &err)
	    : nl_probe_capacity(tf, m->params, &m->cfg, rc, &err);
	if (run) {
		nl_probe_recall_free(rc);
		nl_cli_die(err.code == NL_EUSAGE ? 2 : 1, "%s: %s", name, err.msg);
	}
	struct nl_io out;
	struct nl_tset ts;
	nl_tset_init(&ts);
	if (nl_io_open_write(&out, out_path, force || summary ? NL_IO_FORCE : 0, &err) < 0) {
		nl_cli_report(out_path, &err);
		nl_probe_recall_free(rc);
		return 1;
	}
	int status = 0;
	if (summary) {
		const char *header = data ? "layer\tmemory\thead\tdistance\ttrace\theld\n"
		    : "layer\tmemory\thead\tmode\tn\terror\taccuracy\terror0\taccuracy0\n";
		status = nl_io_write(&out, header, strlen(header), &err) < 0;
		for (size_t i = 0; i < rc->nrows && !status; i++) {
			const struct nl_recall_row *r = &rc->rows[i];
			char line[256], buf[16];
			int n = snprintf(line, sizeof line, "%d\t%s\t%d\t", r->layer,
			    nl_probe_unit_name(r->unit, buf), r->head);
			if (!data)
				n += snprintf(line + n, sizeof line - (size_t)n, "%s\t",
				    nl_probe_recall_mode_name(rc->mode));
			n += snprintf(line + n, sizeof line - (size_t)n, "%lld\t%.6g\t%.6g", r->x, r->a,
			    r->b);
			if (!data)
				n += snprintf(line + n, sizeof line - (size_t)n, "\t%.6g\t%.6g", r->a0,
				    r->b0);
			line[n++] = '\n';
			status = nl_io_write(&out, line, (size_t)n, &err) < 0;
		}
	} else {
		status = nl_probe_recall_tset(rc, data != NULL, &ts, &err) ||
		    nl_tfile_write_tset(&out, &ts, NL_TFILE_DEFAULT_LEVEL, &err) < 0;
	}
	if (status || nl_io_close(&out, &err) < 0) {
		nl_cli_report(err.code == NL_EIO ? out_path : name, &err);
		nl_io_abort(&out);
		status = 1;
	}
	nl_tset_free(&ts);
	nl_probe_recall_free(rc);
	return status;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "at", required_argument, NULL, 'A' }, { "dump", no_argument, NULL, 'P' },
		{ "define", required_argument, NULL, 'D' }, { "force", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' }, { "threads", required_argument, NULL, 'j' },
		{ "layers", required_argument, NULL, 'L' }, { "model", required_argument, NULL, 'm' },
		{ "output", required_argument, NULL, 'o' }, { "quiet", no_argument, NULL, 'q' },
		{ "summary", no_argument, NULL, 's' }, { "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, 'V' }, { "recall", required_argument, NULL, 'R' },
		{ "retention", no_argument, NULL, 'T' }, { "sizes", required_argument, NULL, 'N' },
		{ "distances", required_argument, NULL, 'Z' }, { "eta", required_argument, NULL, 'E' },
		{ "alpha", required_argument, NULL, 'a' }, { "seed", required_argument, NULL, 'S' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *const modes[] = { "direct", "linear", "model", NULL };
	struct nl_recall rc = { ~UINT64_C(0), 0, NL_RECALL_DIRECT, NULL, 0, NAN, NAN, 1, NULL, 0, 0 };
	long long *xs = NULL;
	int mode = -1, retention = 0, sizes = 0, distances = 0, nxs = 0, seeded = 0;
	double eta = NAN;
	const char *model_path = NULL, *out_path = "-", *layers_arg = NULL;
	const char *defs[argc];
	long long *at = NULL;
	int ndefs = 0, force = 0, verbose = 0, summary = 0, dump = 0, nat = 0, c;
	long threads = sysconf(_SC_NPROCESSORS_ONLN);
	struct nl_err err = { 0, "" };

	nl_cli_init(argv[0]);
	nl_cli_blas_core(argv);
	while ((c = getopt_long(argc, argv, "D:fhj:L:m:o:qsVv", longopts, NULL)) != -1) {
		switch (c) {
		case 'A':
			free(at);
			nat = parse_positions("--at", optarg, 1, &at);
			break;
		case 'R':
			for (mode = 0; modes[mode] && strcmp(modes[mode], optarg); mode++)
				;
			if (modes[mode] == NULL)
				nl_cli_die(2, "--recall %s: the modes are direct, linear and model", optarg);
			break;
		case 'T': retention = 1; break;
		case 'N':
			free(xs);
			nxs = parse_positions("--sizes", optarg, 1, &xs);
			sizes = 1;
			break;
		case 'Z':
			free(xs);
			nxs = parse_positions("--distances", optarg, 0, &xs);
			distances = 1;
			break;
		case 'E': eta = nl_cli_double("--eta", "step", optarg, 0, 1e6); break;
		case 'a': rc.alpha = nl_cli_double("--alpha", "retention", optarg, 0, 1); break;
		case 'S':
			rc.seed = (uint64_t)nl_cli_int("--seed", "seed", optarg, 0, INT64_MAX);
			seeded = 1;
			break;
		case 'D': defs[ndefs++] = optarg; break;
		case 'P': dump = 1; break;
		case 'f': force = 1; break;
		case 'h': usage(stdout); return nl_cli_fshut(0);
		case 'j': threads = nl_cli_int("-j", "thread count", optarg, 1, 1024); break;
		case 'L': layers_arg = optarg; break;
		case 'm': model_path = optarg; break;
		case 'o': out_path = optarg; break;
		case 'q': verbose = -1; break;
		case 's': summary = 1; break;
		case 'V': nl_cli_version(verbose > 0); return nl_cli_fshut(0);
		case 'v': verbose++; break;
		default: usage(stderr); return 2;
		}
	}
	argc -= optind;
	argv += optind;
	if (model_path == NULL) {
		usage(stderr);
		return 2;
	}
	if (dump && (nat == 0 || summary))
		nl_cli_die(2, "--dump writes the state at the --at positions as tensors: it needs "
		    "--at and no -s");
	const int recall = mode >= 0 || retention;
	if (mode >= 0 && retention)
		nl_cli_die(2, "--recall and --retention are two probes: one at a time");
	if (recall && nat)
		nl_cli_die(2, "--at and --dump go with the write probe, not with --recall or "
		    "--retention");
	if (sizes && mode < 0)
		nl_cli_die(2, "--sizes goes with --recall");
	if (distances && !retention)
		nl_cli_die(2, "--distances goes with --retention");
	if ((!isnan(eta) || !isnan(rc.alpha)) && mode != NL_RECALL_DIRECT &&
	    mode != NL_RECALL_LINEAR)
		nl_cli_die(2, "--eta and --alpha go with --recall direct or linear");
	if (mode >= 0 && argc)
		nl_cli_die(2, "--recall writes its own associations: it reads no input");
	if (seeded && !recall)
		nl_cli_die(2, "--seed goes with --recall or --retention");
	const char *stdin_opts[1] = { model_path };
	if (nl_cli_stdin_readers(stdin_opts, 1, argv, argc, mode < 0) > 1)
		nl_cli_die(2, "standard input can feed only one of -m and the input");
	nl_model_set_threads((int)threads);

	/* the model, with -D over its configuration */
	struct nl_model m;
	struct nl_tf tf;
	const char *name = strcmp(model_path, "-") ? model_path : "(stdin)";
	if (nl_model_open(&m, model_path, defs, ndefs, NULL, &err)) {
		if (err.code == NL_EUSAGE)
			nl_cli_die(2, "%s", err.msg);
		nl_cli_die(1, "%s: %s", name, err.msg);
	}
	const struct nl_config *cfg = &m.cfg;
	int learn, seq;
	if (nl_probe_plan(cfg, &learn, &seq, &err) ||
	    nl_tf_init(&tf, cfg, &m.lo, 1, seq, sizeof(float), &err))
		nl_cli_die(1, "%s: %s", name, err.msg);
	struct nl_probe probe = { ~UINT64_C(0), learn, NULL, NULL, at, nat, NULL, NULL };
	if (layers_arg)
		probe.layers = parse_layers(layers_arg, (int)cfg->layers);
	if (mode >= 0) {
		rc.layers = probe.layers, rc.learn = learn, rc.mode = (enum nl_recall_mode)mode;
		rc.eta = isnan(eta) ? cfg->eta_max : eta;
		rc.alpha = isnan(rc.alpha) ? 1 : rc.alpha;
		int status = run_recall(&tf, &m, &rc, NULL, xs, nxs, out_path, force, summary, name);
		free(xs);
		nl_tf_free(&tf);
		nl_model_free(&m);
		return nl_cli_fshut(status);
	}

	/* the input, read whole as one stream */
	struct nl_tokens tk;
	nl_tokens_init(&tk);
	for (int i = 0; i < (argc ? argc : 1); i++) {
		const char *path = argc ? argv[i] : "-";
		struct nl_io in;
		if (nl_io_open_read(&in, path, 0, &err) ||
		    nl_tokens_read(&tk, &in, (uint32_t)m.cfg.vocab_size, &err) ||
		    nl_model_check_stream(&m, &tk, &err))
			nl_cli_die(1, "%s: %s", strcmp(path, "-") ? path : "(stdin)", err.msg);
		nl_io_abort(&in);
	}

	if (retention) {
		rc.layers = probe.layers, rc.learn = learn;
		int status = run_recall(&tf, &m, &rc, &tk, xs, nxs, out_path, force, summary, name);
		free(xs);
		nl_tokens_free(&tk);
		nl_tf_free(&tf);
		nl_model_free(&m);
		return nl_cli_fshut(status);
	}

	struct nl_io out;
	struct nl_probe_log log = { NULL, 0, 0, NULL, 0, 0 };
	if (nl_io_open_write(&out, out_path, force || summary ? NL_IO_FORCE : 0, &err) < 0) {
		nl_cli_report(out_path, &err);
		return 1;
	}
	static const char header[] = "layer\tmemory\thead\tpos\tnorm\tdelta\trel\teta_mean\t"
	    "eta_p10\teta_p50\teta_p90\talpha_mean\talpha_p10\talpha_p50\talpha_p90\n";
	struct ranks ranks = { { NULL, 0, 0, NULL, 0, 0 }, &out };
	struct nl_tset ts;
	nl_tset_init(&ts);
	probe.on_write = summary ? print_write : nl_probe_log_add;
	probe.on_rank = summary ? keep_rank : nl_probe_log_rank;
	probe.ctx = summary ? (void *)&ranks : (void *)&log;
	probe.dump = dump ? &ts : NULL;
	int status = 0;
	if ((summary && nl_io_write(&out, header, sizeof header - 1, &err) < 0) ||
	    nl_probe_run(&tf, m.params, cfg, &tk, &probe, &err) ||
	    (summary && nat && print_ranks(&out, &ranks.log, &err)) ||
	    (!summary && (nl_probe_log_tset(&log, &ts, &err) ||
	    nl_tfile_write_tset(&out, &ts, NL_TFILE_DEFAULT_LEVEL, &err) < 0)) ||
	    nl_io_close(&out, &err) < 0) {
		nl_cli_report(err.code == NL_EIO ? out_path : name, &err);
		nl_io_abort(&out);
		status = 1;
	} else if (verbose > 0) {
		nl_cli_error("%s: %zu tokens read", name, tk.n ? tk.n - 1 : 0);
	}
	nl_tset_free(&ts);
	nl_probe_log_free(&log);
	nl_probe_log_free(&ranks.log);
	free(at);
	nl_tokens_free(&tk);
	nl_tf_free(&tf);
	nl_model_free(&m);
	return nl_cli_fshut(status);
}
