/* nl — see LICENSE. nl-synth: the synthetic tasks of EVAL §4 as rank-2 token streams
 * (DOC on each example's first row, SCORE on its answer). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "data.h"
#include "synth.h"
#include "tfile.h"

static void
usage(FILE *fp)
{
	fprintf(fp, "usage: %s [-fqv] [-k tokenizer] [-n count] [-o output] [-s seed] [-T seqlen] "
	    "task\n       [key=value ...]\n       %s -l\n", nl_cli_progname(), nl_cli_progname());
}

/* -l: every task, its kind, default length and count, and parameters. */
static void
list(void)
{
	const struct nl_synth_task *t;
	for (size_t i = 0; (t = nl_synth_task_at(i)) != NULL; i++) {
		printf("%s\t%s (%s", t->name, t->help, t->text ? "text" : "ids");
		if (t->seqlen)
			printf(", -T %lld%s", t->seqlen, t->text ? " bytes" : "");
		if (t->count == 0)
			printf(", its parameters set the count");
		else if (t->count != 1000)
			printf(", -n %lld", t->count);
		printf(")\n");
		for (const struct nl_synth_param *p = t->params; p->key; p++)
			printf("\t%s=%s\t%s\n", p->key, *p->def ? p->def : "\"\"", p->help);
	}
}

static void
unknown_task(const char *name)
{
	const struct nl_synth_task *t;
	fprintf(stderr, "%s: %s: unknown task; the tasks are", nl_cli_progname(), name);
	for (size_t i = 0; (t = nl_synth_task_at(i)) != NULL; i++)
		fprintf(stderr, "%s %s", i ? "," : "", t->name);
	fprintf(stderr, "\n");
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "force", no_argument, NULL, 'f' }, { "help", no_argument, NULL, 'h' },
		{ "tokenizer", required_argument, NULL, 'k' }, { "list", no_argument, NULL, 'l' },
		{ "count", required_argument, NULL, 'n' }, { "output", required_argument, NULL, 'o' },
		{ "quiet", no_argument, NULL, 'q' }, { "seed", required_argument, NULL, 's' },
		{ "seqlen", required_argument, NULL, 'T' }, { "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, 'V' }, { NULL, 0, NULL, 0 },
	};
	const char *out_path = "-", *tok_spec = NULL;
	long long count = 0, seqlen = 0, seed = 1, written;
	int force = 0, verbose = 0, listing = 0, c;
	struct nl_err err = { 0, "" };

	nl_cli_init(argv[0]);
	while ((c = getopt_long(argc, argv, "fhk:ln:o:qs:T:Vv", longopts, NULL)) != -1) {
		switch (c) {
		case 'f': force = 1; break;
		case 'h': usage(stdout); return nl_cli_fshut(0);
		case 'k': tok_spec = optarg; break;
		case 'l': listing = 1; break;
		case 'n': count = nl_cli_int("-n", "count", optarg, 1, 1ll << 40); break;
		case 'o': out_path = optarg; break;
		case 'q': verbose = -1; break;
		case 's': seed = nl_cli_int("-s", "seed", optarg, 0, 1ll << 62); break;
		case 'T': seqlen = nl_cli_int("-T", "length", optarg, 1, 1ll << 30); break;
		case 'V': nl_cli_version(verbose > 0); return nl_cli_fshut(0);
		case 'v': verbose++; break;
		default: usage(stderr); return 2;
		}
	}
	argc -= optind;
	argv += optind;
	if (listing) {
		if (argc)
			nl_cli_die(2, "-l lists the tasks: no operands");
		list();
		return nl_cli_fshut(0);
	}
	if (argc < 1) {
		usage(stderr);
		return 2;
	}
	const struct nl_synth_task *task = nl_synth_find(argv[0]);
	if (task == NULL) {
		unknown_task(argv[0]);
		return 2;
	}
	struct nl_meta args;
	nl_meta_init(&args);
	for (int i = 1; i < argc; i++) {
		char *eq = strchr(argv[i], '=');
		if (eq == NULL || eq == argv[i])
			nl_cli_die(2, "%s: not key=value", argv[i]);
		*eq = 0;
		if (nl_meta_get(&args, argv[i]))
			nl_cli_die(2, "%s: given twice", argv[i]);
		if (nl_meta_set(&args, argv[i], eq + 1, &err) < 0)
			nl_cli_die(2, "%s: %s", argv[i], err.msg);
	}
	struct nl_tok *tok = NULL;
	if (tok_spec && !task->text)
		nl_cli_die(2, "-k: %s writes ids of its own vocabulary, not text", task->name);
	if (tok_spec && nl_data_load_tokenizer(&tok, tok_spec, &err) < 0)
		nl_cli_die(1, "%s: %s", tok_spec, err.msg);
	nl_io_install_signals();
	struct nl_io out;
	if (nl_io_open_write(&out, out_path, force ? NL_IO_FORCE : 0, &err) < 0) {
		nl_cli_report(out_path, &err);
		return 1;
	}
	struct nl_synth_job job = { task, &args, (uint64_t)seed, count, seqlen, tok,
		NL_TFILE_DEFAULT_LEVEL };
	int status = 0;
	if ((written = nl_synth_write(&job, &out, &err)) < 0) {
		nl_cli_report(task->name, &err);
		nl_io_abort(&out);
		status = err.code == NL_EUSAGE ? 2 : 1;
	} else if (nl_io_close(&out, &err) < 0) {
		nl_cli_report(out_path, &err);
		status = 1;
	} else if (verbose > 0) {
		nl_cli_error("%s: %lld examples of %s", out_path, written, task->name);
	}
	nl_tok_free(tok);
	nl_meta_free(&args);
	return nl_cli_fshut(status);
}
