/* nl — see LICENSE. nl-train: train a model on token streams, with held-out evaluation,
 * checkpoints (nl-checkpoint(5)) and resumption; --check-gradients proves the backward. */
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "eval.h"
#include "model.h"
#include "refresh.h"
#include "train.h"

static void
usage(FILE *fp)
{
	fprintf(fp, "usage: %s [-fqv] [--check-gradients] [--dry-run] [--keep-state] [--partial]"
	    " [-b batch]\n"
	    "       [-c config] [-D key=value] [-e every] [-i checkpoint] [-j threads] [-k tokenizer]\n"
	    "       [-l log] [-M memory] [-n steps] [-o output] [-s seed] [-T seqlen] [--valid file]\n"
	    "       [file ...]\n"
	    "       %s --refresh [-fqv] [--wait] [--history file] [--learn parts] [--watch file]\n"
	    "       [-b batch] [-D key=value] [-j threads] [-l log] [-n steps] [-T seqlen]\n"
	    "       [--tokens budget] -i checkpoint -o output [file ...]\n",
	    nl_cli_progname(), nl_cli_progname());
}

static int
check_gradients(const struct nl_config *cfg)
{
	struct nl_gradcheck *rows;
	size_t n;
	struct nl_err err = { 0, "" };
	const double tol = 1e-5;
	int bad = 0;

	if (nl_model_gradcheck(cfg, 1, &rows, &n, &err)) {
		nl_cli_report("--check-gradients", &err);
		return 1;
	}
	printf("tensor\tnumel\tchecked\tworst_rel\tworst_abs\n");
	for (size_t i = 0; i < n; i++) {
		printf("%s\t%zu\t%zu\t%.3g\t%.3g\n", rows[i].name, rows[i].numel, rows[i].checked,
		    rows[i].worst_rel, rows[i].worst_abs);
		bad += rows[i].worst_rel > tol;
	}
	free(rows);
	if (bad)
		nl_cli_error("--check-gradients: %d of %zu tensors exceed relative error %g", bad, n, tol);
	return nl_cli_fshut(bad ? 1 : 0);
}

/* Read every operand (or stdin) into one stream. */
static int
read_tokens(struct nl_tokens *tk, char **paths, int n, uint32_t vocab)
{
	static char *dash[] = { "-" };
	struct nl_err err = { 0, "" };
	int status = 0;

	if (n == 0) {
		paths = dash;
		n = 1;
	}
	for (int i = 0; i < n; i++) {
		struct nl_io in;
		if (nl_io_open_read(&in, paths[i], 0, &err) || nl_tokens_read(tk, &in, vocab, &err)) {
			nl_cli_report(strcmp(paths[i], "-") ? paths[i] : "(stdin)", &err);
			status = 1;
		}
		nl_io_abort(&in);
	}
	return status;
}

/* The run to path, with the refresh history (NULL: none). */
static int
save(const struct nl_trainer *tr, const char *path, int force, const char *history,
    size_t history_len)
{
	struct nl_ckpt ck;
	struct nl_err err = { 0, "" };

	nl_ckpt_init(&ck);
	int rc = nl_trainer_to_ckpt(tr, &ck, &err) || (history && nl_ckpt_add(&ck, "history.tsv",
	    history, history_len, &err)) || nl_ckpt_write(&ck, path, force, &err);
	nl_ckpt_free(&ck);
	if (rc)
		nl_cli_report(path, &err);
	return rc;
}

/* A refresh (--refresh) under way: what it learns and how, and what its row records. */
struct refresh {
	int memory;                        /* --learn memory: test-time learning alone */
	const char *learn;
	char **names;                      /* the new data's operands */
	int nnames;
	const char *const *watch;          /* the --watch sets, read */
	const struct nl_tokens *watched;
	int nwatch;
	char hash[17];                     /* of the data it learns */
	uint64_t tokens;                   /* tokens it learns from */
	double loss_before;
	struct nl_refresh_keys kept;       /* the model's values of a refresh's own keys */
	char *history;                     /* the checkpoint's history.tsv, and its row */
	size_t history_len;
	const char *history_path;          /* --history */
};

/* The model on (up to train.eval_tokens of) data, named name in a message: its parameters
 * from the meta-learned state, or for --learn memory its memory state. */
static int
refresh_eval(struct nl_trainer *tr, const struct refresh *rf, const struct nl_tokens *data,
    const char *name, struct nl_eval_result *ev)
{
	struct nl_err err = { 0, "" };
	const struct nl_model *m = tr->model;
	const uint64_t limit = (uint64_t)m->cfg.train_eval_tokens;
	memset(ev, 0, sizeof *ev);
	if (rf->memory ? nl_refresh_measure(m, tr->memory, tr->memory_len, data, limit, ev, &err) :
	    nl_eval_tokens(&tr->w[0].tf, m->params, data, m->tok, limit,
	    nl_tokens_align_doc(data, m->cfg.data_align), ev, &err)) {
		nl_cli_error("%s: evaluation: %s", name, err.msg);
		return 1;
	}
	return 0;
}

/* --learn memory's progress: a line kept current on a terminal, else one per tenth. */
static struct {
	double t0;
	int tty;
} reading;
static void
read_progress(size_t done, size_t total)
{
	double dt = nl_cli_seconds() - reading.t0;
	if (reading.tty)
		fprintf(stderr, "\rread %zu/%zu tokens  %.0f tok/s   %s", done, total,
		    (double)done / dt, done == total ? "\n" : "");
	else if (done == total || done / NL_REFRESH_PIECE % (total / NL_REFRESH_PIECE / 10 + 1) == 0)
		fprintf(stderr, "read %zu/%zu tokens tok/s %.0f\n", done, total, (double)done / dt);
}

/* Append "sep item" to buf (size n, used *w) while it fits; the row marks a cut with "…". */
static void
add_item(char *buf, size_t n, size_t *w, const char *sep, const char *item)
{
	if (*w >= n)
		return;
	int k = snprintf(buf + *w, n - *w, "%s%s", sep, item);
	if (k < 0 || (size_t)k >= n - *w) {
		snprintf(buf + (n > 8 ? n - 8 : 0), n > 8 ? 8 : n, ",...");
		*w = n;
		return;
	}
	*w += (size_t)k;
}

/* The end of a refresh of data (steps taken; 0 for --learn memory): the loss after it,
 * bits per byte on every --watch set, the history row, the checkpoint (whole or not at
 * all), and the row on --history. */
static int
refresh_finish(struct nl_trainer *tr, struct refresh *rf, const struct nl_tokens *data,
    int64_t steps, const char *output, int force)
{
	struct nl_model *m = tr->model;
	struct nl_err err = { 0, "" };
	struct nl_eval_result ev;
	if (refresh_eval(tr, rf, data, "new data", &ev))
		return 1;
	const double loss_after = nl_eval_loss(&ev);
	char bpbs[4096] = "-", sources[4096] = "(stdin)", item[4200];
	size_t w = 0, n = 0;
	for (int i = 0; i < rf->nwatch; i++) {
		if (refresh_eval(tr, rf, &rf->watched[i], rf->watch[i], &ev))
			return 1;
		snprintf(item, sizeof item, "%s=%.6g", rf->watch[i], nl_eval_bpb(&ev));
		add_item(bpbs, sizeof bpbs, &w, i ? "," : "", item);
	}
	for (int i = 0; i < rf->nnames; i++)
		add_item(sources, sizeof sources, &n, i ? "," : "", rf->names[i]);
	struct nl_refresh_row row = { (long long)time(NULL), sources, rf->hash,
		(unsigned long long)rf->tokens, (unsigned long long)steps, rf->learn,
		rf->memory ? 0 : nl_trainer_lr(&m->cfg, tr->step - 1), rf->loss_before, loss_after,
		bpbs };
	char *grown;
	size_t glen;
	const char *line;
	if (nl_refresh_history_add(rf->history, rf->history_len, &row, &grown, &glen, &line))
		nl_cli_die(1, "out of memory");
	free(rf->history);
	rf->history = grown, rf->history_len = glen;
	/* the checkpoint keeps the model's values of the refresh's own keys */
	if (nl_refresh_keys_restore(&m->cfg, &rf->kept, &err)) {
		nl_cli_report(output, &err);
		return 1;
	}
	if (save(tr, output, force, grown, glen))
		return 1;
	/* the model is refreshed and its own history has the row: a --history file that
	 * cannot take it is a warning */
	if (rf->history_path) {
		FILE *fp = fopen(rf->history_path, "a");
		int fresh = fp && fseek(fp, 0, SEEK_END) == 0 && ftell(fp) == 0;
		if (fp == NULL || (fresh && fputs(NL_REFRESH_HEADER, fp) < 0) || fputs(line, fp) < 0 ||
		    fclose(fp) != 0)
			nl_cli_warn("%s: the refresh's row could not be appended:", rf->history_path);
	}
	return 0;
}

int
main(int argc, char **argv)
{
	enum { OPT_CHECK = 256, OPT_DRY, OPT_KEEP, OPT_PARTIAL, OPT_VALID, OPT_REFRESH, OPT_WAIT,
		OPT_HISTORY, OPT_LEARN, OPT_WATCH, OPT_TOKENS };
	static const struct option longopts[] = {
		{ "batch", required_argument, NULL, 'b' },
		{ "config", required_argument, NULL, 'c' },
		{ "check-gradients", no_argument, NULL, OPT_CHECK },
		{ "define", required_argument, NULL, 'D' },
		{ "dry-run", no_argument, NULL, OPT_DRY },
		{ "every", required_argument, NULL, 'e' },
		{ "force", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ "input", required_argument, NULL, 'i' },
		{ "threads", required_argument, NULL, 'j' },
		{ "keep-state", no_argument, NULL, OPT_KEEP },
		{ "tokenizer", required_argument, NULL, 'k' },
		{ "log", required_argument, NULL, 'l' },
		{ "memory", required_argument, NULL, 'M' },
		{ "steps", required_argument, NULL, 'n' },
		{ "output", required_argument, NULL, 'o' },
		{ "partial", no_argument, NULL, OPT_PARTIAL },
		{ "quiet", no_argument, NULL, 'q' },
		{ "seed", required_argument, NULL, 's' },
		{ "seqlen", required_argument, NULL, 'T' },
		{ "valid", required_argument, NULL, OPT_VALID },
		{ "refresh", no_argument, NULL, OPT_REFRESH },
		{ "wait", no_argument, NULL, OPT_WAIT },
		{ "history", required_argument, NULL, OPT_HISTORY },
		{ "learn", required_argument, NULL, OPT_LEARN },
		{ "watch", required_argument, NULL, OPT_WATCH },
		{ "tokens", required_argument, NULL, OPT_TOKENS },
		{ "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = NULL, *input = NULL, *tokenizer = NULL, *log_path = NULL;
	const char *output = NULL, *valid_path = NULL, *memory_path = NULL;
	const char *defs[argc];   /* -D arguments in order: at most one per argument */
	int ndefs = 0, force = 0, verbose = 0, check = 0, dry = 0, partial = 0, keep = 0, c;
	int refresh = 0, wait = 0, nwatch = 0, refresh_steps = 0;
	long long budget = 0;                   /* --tokens */
	const char *history_path = NULL, *learn = NULL, *watch[argc];
	long threads = sysconf(_SC_NPROCESSORS_ONLN);
	struct nl_err err = { 0, "" };
	struct nl_config cfg;
	struct nl_ckpt ck;

	nl_cli_init(argv[0]);
	nl_cli_blas_core(argv);
	nl_config_init(&cfg);
	nl_ckpt_init(&ck);
	/* options naming train.* keys apply after the -D definitions, in command-line order */
	struct { char opt; const char *key, *value; } opts[argc];
	int nopt = 0;
	while ((c = getopt_long(argc, argv, "b:c:D:e:fhi:j:k:l:M:n:o:qs:T:Vv", longopts, NULL)) != -1) {
		const char *key = NULL;
		switch (c) {
		case 'b': key = "train.batch"; break;
		case 'c': config = optarg; break;
		case OPT_CHECK: check = 1; break;
		case 'D': defs[ndefs++] = optarg; break;
		case OPT_DRY: dry = 1; break;
		case 'e': key = "train.every"; break;
		case 'f': force = 1; break;
		case 'h': usage(stdout); return nl_cli_fshut(0);
		case 'i': input = optarg; break;
		case 'j': threads = nl_cli_int("-j", "thread count", optarg, 1, 1024); break;
		case 'k': tokenizer = optarg; break;
		case OPT_KEEP: keep = 1; break;
		case 'l': log_path = optarg; break;
		case 'M': memory_path = optarg; break;
		case 'n': key = "train.steps"; break;
		case 'o': output = optarg; break;
		case OPT_PARTIAL: partial = 1; break;
		case 'q': verbose = -1; break;
		case 's': key = "train.seed"; break;
		case 'T': key = "train.seq_len"; break;
		case OPT_VALID: valid_path = optarg; break;
		case OPT_REFRESH: refresh = 1; break;
		case OPT_WAIT: wait = 1; break;
		case OPT_HISTORY: history_path = optarg; break;
		case OPT_LEARN: learn = optarg; break;
		case OPT_WATCH: watch[nwatch++] = optarg; break;
		case OPT_TOKENS:
			budget = nl_cli_int("--tokens", "token count", optarg, 1, INT64_MAX);
			break;
		case 'V': nl_cli_version(verbose > 0); return nl_cli_fshut(0);
		case 'v': verbose++; break;
		default: usage(stderr); return 2;
		}
		if (key) {
			opts[nopt].opt = (char)c;
			opts[nopt].key = key;
			opts[nopt++].value = optarg;
		}
	}
	argc -= optind;
	argv += optind;
	if (!refresh && (wait || history_path || learn || nwatch || budget))
		nl_cli_die(2, "--wait, --history, --learn, --tokens and --watch go with --refresh");
	struct refresh rf = { .learn = learn ? learn : "all", .names = argv,
		.nnames = argc, .watch = watch, .nwatch = nwatch,
		.history_path = history_path };
	rf.memory = refresh && strcmp(rf.learn, "memory") == 0;
	if (refresh && (!input || !output || strcmp(output, "-") == 0 || strcmp(input, "-") == 0))
		nl_cli_die(2, "--refresh: give the model as -i FILE and where it goes as -o FILE "
		    "(the same file refreshes it in place)");
	if (refresh && (config || partial || check || memory_path || valid_path))
		nl_cli_die(2, "--refresh goes on from -i: no -c, -M, --partial, --valid or "
		    "--check-gradients");
	/* the lock comes before the model is read: a refresh that waited reads the model the
	 * one before it wrote */
	int lock = -1;
	if (refresh && !dry && nl_refresh_lock(output, wait, &lock, &err))
		nl_cli_die(1, "%s: %s", output, err.msg);
	if (partial && !input) {
		nl_cli_error("--partial needs -i checkpoint");
		return 2;
	}
	const char *readers[] = { input, memory_path, config, valid_path };
	if (!check && nl_cli_stdin_readers(readers, 4, argv, argc, argc == 0 && !dry) > 1) {
		nl_cli_error("standard input can feed only one of -c, -i, -M, --valid and the token "
		    "stream; give the others as files");
		return 2;
	}
	if (keep && !input) {
		nl_cli_error("--keep-state needs -i checkpoint");
		return 2;
	}
	if (config && input) {
		nl_cli_error("-c and -i: a resumed run takes its configuration from the checkpoint");
		return 2;
	}
	if (!check && !dry && output == NULL) {
		nl_cli_error("no output: give -o FILE (or -o - for stdout)");
		usage(stderr);
		return 2;
	}
	if (input && (nl_ckpt_read(&ck, input, 0, &err) || nl_ckpt_config(&ck, &cfg, &err)))
		nl_cli_die(1, "%s: %s", input, err.msg);
	if (config && nl_config_load(&cfg, config, &err))
		nl_cli_die(2, "%s: %s", config, err.msg);
	/* a refresh trains at a constant rate, saves once at its end and holds nothing out
	 * (unless -D says otherwise); the checkpoint keeps the model's own values */
	if (refresh && nl_refresh_keys_apply(&cfg, defs, ndefs, &rf.kept, &err))
		nl_cli_die(1, "%s: %s", input, err.msg);
	for (int i = 0; i < ndefs; i++)
		if (nl_config_set_arg(&cfg, defs[i], &err))
			nl_cli_die(2, "-D: %s", err.msg);
	for (int i = 0; i < nopt; i++) {
		if (rf.memory)
			nl_cli_die(2, "-%c: --learn memory reads one stream and takes no steps (--tokens "
			    "limits what it reads)", opts[i].opt);
		if (refresh && opts[i].opt == 'n') {     /* steps of this refresh, not in total */
			if (budget)
				nl_cli_die(2, "-n: give -n or --tokens, not both");
			refresh_steps = (int)nl_cli_int("-n", "step count", opts[i].value, 1, INT32_MAX);
			continue;
		}
		if (nl_config_set(&cfg, opts[i].key, opts[i].value, &err))
			nl_cli_die(2, "-%c: %s", opts[i].opt, err.msg);
	}
	if (nl_config_check(&cfg, &err))
		nl_cli_die(2, "config: %s", err.msg);
	nl_model_set_threads((int)threads);
	if (check)
		return check_gradients(&cfg);

	/* data: the vocabulary follows the stream unless the config or checkpoint fixes it */
	struct nl_tokens train, valid;
	nl_tokens_init(&train);
	nl_tokens_init(&valid);
	struct nl_tok *tok = NULL;
	if (tokenizer && nl_data_load_tokenizer(&tok, tokenizer, &err))
		nl_cli_die(1, "%s: %s", tokenizer, err.msg);
	/* binary streams carry their vocabulary; text-form ids are checked against -k's */
	uint32_t vocab = tok ? nl_tok_vocab_size(tok) : 0;
	if (!dry || argc > 0) {
		/* read_tokens has reported each failing input */
		if (read_tokens(&train, argv, argc, vocab))
			exit(1);
		if (valid_path && read_tokens(&valid, (char **)&valid_path, 1, vocab))
			exit(1);
	}
	if (cfg.vocab_size == 0)
		cfg.vocab_size = train.vocab ? train.vocab : vocab;
	if (cfg.vocab_size == 0)
		nl_cli_die(1, "vocabulary size unknown: give -D vocab_size or, for text ids, -k");
	const char *hash = nl_meta_get(&train.meta, "tokenizer.hash");
	const char *vhash = nl_meta_get(&valid.meta, "tokenizer.hash");
	if (hash && vhash && strcmp(hash, vhash) != 0)
		nl_cli_die(1, "%s: not tokenized like the training stream", valid_path);
	const char *type = nl_meta_get(&train.meta, "tokenizer.type");
	if (tok == NULL && type && strcmp(type, "bytes") == 0 && nl_tok_new_bytes(&tok, &err))
		nl_cli_die(1, "tokenizer: %s", err.msg);
	if (!valid_path && cfg.train_valid_percent > 0 && !dry &&
	    nl_tokens_split(&train, cfg.train_valid_percent, &valid, &err))
		nl_cli_die(1, "held-out split: %s", err.msg);

	struct nl_model model;
	struct nl_trainer tr;
	if (nl_model_create(&model, &cfg, &err))
		nl_cli_die(1, "model: %s", err.msg);
	/* --partial: the tensors the checkpoint has over a fresh initialisation */
	if (!input || partial)
		nl_model_init_params(&model, (uint64_t)cfg.train_seed);
	if (input && nl_model_load_ckpt(&model, &ck, partial, &err))
		nl_cli_die(1, "%s: %s", input, err.msg);
	if (model.tok == NULL)
		model.tok = tok;
	else if (tok)
		nl_tok_free(tok);
	tok = model.tok;
	if (nl_model_check_stream(&model, &train, &err))
		nl_cli_die(1, "%s: %s", argc ? argv[0] : "(stdin)", err.msg);
	if (valid_path && nl_model_check_stream(&model, &valid, &err))
		nl_cli_die(1, "%s: %s", valid_path, err.msg);
	/* a bundle without optimizer state (nl-convert builds those) starts a new run from its
	 * parameters */
	int resume = input && !partial && nl_ckpt_find(&ck, "optim.nlt") != NULL;
	if (nl_trainer_init(&tr, &model, (int)threads, &err) || (resume &&
	    nl_trainer_resume(&tr, &ck, &err)))
		nl_cli_die(1, "%s: %s", input ? input : "trainer", err.msg);
	/* the memory state the checkpoints carry: -M's, or with --keep-state the input's */
	struct nl_state state = { 0 };
	if (memory_path && nl_state_read(&state, memory_path, &err))
		nl_cli_die(1, "%s: %s", strcmp(memory_path, "-") ? memory_path : "(stdin)", err.msg);
	const struct nl_ckpt_member *kept = input ? nl_ckpt_find(&ck, "memory.nlt") : NULL;
	if (refresh && kept)                 /* a refresh goes on from the model's state */
		keep = 1;
	/* the refresh history goes on with the model */
	const struct nl_ckpt_member *had = input ? nl_ckpt_find(&ck, "history.tsv") : NULL;
	rf.history_len = had ? had->len : 0;
	rf.history = had ? malloc(had->len + 1) : NULL;
	if (had && rf.history == NULL)
		nl_cli_die(1, "out of memory");
	if (had)
		memcpy(rf.history, had->data, had->len);
	if (!memory_path && keep && kept == NULL)
		nl_cli_die(1, "%s: no memory state (memory.nlt) to keep", input);
	if (!memory_path && keep && nl_state_from_bytes(&state, kept->data, kept->len, &err))
		nl_cli_die(1, "%s: memory.nlt: %s", input, err.msg);
	if (!memory_path && !keep && kept && verbose >= 0)
		nl_cli_warn("%s: its memory state is not carried over (--keep-state keeps it)", input);
	if (state.data && nl_state_check(&state, &model.cfg, &model.lo, model.params, &err))
		nl_cli_die(1, "%s: %s", memory_path ? (strcmp(memory_path, "-") ? memory_path :
		    "(stdin)") : input, err.msg);
	tr.memory = state.data;
	tr.memory_len = state.len;
	nl_ckpt_free(&ck);
	unsigned char *frozen = NULL;
	unsigned char *read_state = NULL;       /* --learn memory: the state it leaves */
	struct nl_tokens *watched = NULL;
	int status = 0;
	/* --learn memory reads the first --tokens tokens of the data and learns those; training
	 * draws its windows from all of it */
	struct nl_tokens learned = train;
	if (rf.memory && budget && (unsigned long long)budget < learned.n)
		learned.n = (size_t)budget;
	if (rf.memory && state.data && state.streams != 1)
		nl_cli_die(1, "%s: memory.nlt holds %d streams; --learn memory reads one", input,
		    state.streams);
	if (refresh) {
		if ((frozen = calloc(model.lo.n, 1)) == NULL)
			nl_cli_die(1, "out of memory");
		if (nl_refresh_learn(rf.learn, &model.cfg, &model.lo, frozen, &err))
			nl_cli_die(2, "%s", err.msg);
		nl_refresh_hash(&learned, rf.hash);
		if (!force && rf.history &&
		    nl_refresh_seen(rf.history, rf.history_len, rf.hash, rf.learn)) {
			if (verbose >= 0)
				nl_cli_error("%s: learned already (hash %s, --learn %s in its history); -f "
				    "refreshes again", argc ? argv[0] : "(stdin)", rf.hash, rf.learn);
			goto done;
		}
		tr.frozen = frozen;
		/* one pass over the new data (or --tokens of them) unless -n says otherwise; the
		 * row counts the tokens of the windows trained on, or those read */
		const int64_t window = (int64_t)tr.batch * tr.seq;
		int64_t pass = ((budget ? budget : (int64_t)train.n) + window - 1) / window;
		int64_t refresh_run = rf.memory ? 0 : refresh_steps ? refresh_steps : pass;
		cfg.train_steps = tr.step + refresh_run;
		model.cfg.train_steps = cfg.train_steps;
		rf.tokens = rf.memory ? learned.n : (uint64_t)(refresh_run * window);
		/* the --watch sets, read now: a bad one fails before any step */
		if (nwatch && (watched = calloc((size_t)nwatch, sizeof *watched)) == NULL)
			nl_cli_die(1, "out of memory");
		for (int i = 0; i < nwatch; i++) {
			nl_tokens_init(&watched[i]);
			if (read_tokens(&watched[i], (char **)&watch[i], 1, vocab))
				exit(1);
			if (nl_model_check_stream(&model, &watched[i], &err))
				nl_cli_die(1, "%s: %s", watch[i], err.msg);
		}
		rf.watched = watched;
	}
	if (verbose > 0 || dry) {
		fprintf(stderr, "%s: %s model, %zu parameters, vocab %lld, batch %d x %d tokens\n",
		    nl_cli_progname(), cfg.model, nl_layout_count(&model.lo),
		    (long long)cfg.vocab_size, tr.batch, tr.seq);
	}
	if (dry)
		goto done;
	if (rf.memory && learned.n < 2)
		nl_cli_die(1, "%zu tokens are too few to read (need at least 2)", learned.n);
	if (!rf.memory && train.n < (size_t)tr.seq + 1)
		nl_cli_die(1, "%zu training tokens are too few: windows of %d need at least %d",
		    train.n, tr.seq, tr.seq + 1);
	if (valid_path && valid.n < 2)
		nl_cli_die(1, "%s: %zu tokens are too few to evaluate (need at least 2)", valid_path,
		    valid.n);

	FILE *log = NULL;
	if (log_path && (log = fopen(log_path, "w")) == NULL)
		nl_cli_die(1, "%s:", log_path);
	if (log)
		fprintf(log, "step\tloss\tlr\tgnorm\ttokens\tseconds\tvalid_loss\tvalid_bpb\n");
	int tty = isatty(2);
	if (refresh) {
		struct nl_eval_result ev;
		if (refresh_eval(&tr, &rf, &learned, "new data", &ev))
			exit(1);
		rf.loss_before = nl_eval_loss(&ev);
	}
	if (rf.memory) {
		struct nl_eval_result ev;
		size_t len;
		reading.t0 = nl_cli_seconds(), reading.tty = tty;
		if (nl_refresh_memory(&model, tr.memory, tr.memory_len, &learned, &ev, &read_state,
		    &len, verbose >= 0 ? read_progress : NULL, &err)) {
			nl_cli_error("reading the new data: %s", err.msg);
			status = 1;
		} else {
			tr.memory = read_state, tr.memory_len = len;
		}
	}
	int64_t steps = cfg.train_steps, every = cfg.train_every, first = tr.step;
	int64_t plain = steps / 100 > 0 ? steps / 100 : 1;
	double t0 = nl_cli_seconds(), tokens0 = (double)tr.tokens_seen;
	if (tr.step >= steps && verbose >= 0 && !refresh)
		nl_cli_warn("%s is at step %" PRId64 ", train.steps is %" PRId64 ": nothing to do",
		    input, tr.step, steps);
	while (tr.step < steps) {
		double loss, gnorm, lr;
		if (nl_trainer_step(&tr, &train, &loss, &gnorm, &lr, &err)) {
			nl_cli_error("training stopped: %s%s", err.msg,
			    output && strcmp(output, "-") ? "; the last checkpoint is kept" : "");
			status = 1;
			break;
		}
		double dt = nl_cli_seconds() - t0, tps = ((double)tr.tokens_seen - tokens0) / dt;
		double eta = (double)(steps - tr.step) * dt / (double)(tr.step - first);
		int at_end = tr.step == steps, evaluate = at_end || (every > 0 && tr.step % every == 0);
		struct nl_eval_result ev;
		memset(&ev, 0, sizeof ev);
		if (evaluate && valid.n >= 2) {
			struct nl_tf *tf = &tr.w[0].tf;
			if (nl_eval_tokens(tf, model.params, &valid, tok, (uint64_t)cfg.train_eval_tokens,
			    nl_tokens_align_doc(&valid, cfg.data_align), &ev, &err)) {
				nl_cli_error("evaluation: %s", err.msg);
				status = 1;
				break;
			}
			tr.valid_loss = nl_eval_loss(&ev);
		}
		if (verbose >= 0 && tty)
			fprintf(stderr, "\rstep %" PRId64 "/%" PRId64 "  loss %.4f  lr %.2e  %.0f tok/s  "
			    "eta %.0fs   ", tr.step, steps, loss, lr, tps, eta);
		else if (verbose >= 0 && (tr.step % plain == 0 || at_end))
			fprintf(stderr, "step %" PRId64 "/%" PRId64 " loss %.4f lr %.3e tok/s %.0f eta %.0fs\n",
			    tr.step, steps, loss, lr, tps, eta);
		char bpb[32] = "-";
		if (ev.bytes)
			snprintf(bpb, sizeof bpb, "%.4f", nl_eval_bpb(&ev));
		if (ev.tokens && verbose >= 0)
			fprintf(stderr, "%sstep %" PRId64 " valid_loss %.4f valid_bpb %s tokens %" PRIu64
			    "\n", tty ? "\n" : "", tr.step, nl_eval_loss(&ev), bpb, ev.tokens);
		if (log) {
			fprintf(log, "%" PRId64 "\t%.6f\t%.6g\t%.6g\t%" PRIu64 "\t%.3f\t", tr.step, loss, lr,
			    gnorm, tr.tokens_seen, dt);
			if (ev.tokens)
				fprintf(log, "%.6f\t%s", nl_eval_loss(&ev), ev.bytes ? bpb : "");
			else
				fprintf(log, "\t");
			fprintf(log, "\n");
			fflush(log);
		}
		if (!refresh && evaluate && (at_end || strcmp(output, "-") != 0) &&
		    save(&tr, output, force, rf.history, rf.history_len)) {
			status = 1;
			break;
		}
	}
	if (tty && verbose >= 0 && tr.step > first)
		fputc('\n', stderr);
	if (log && fclose(log) != 0) {
		nl_cli_error("%s: write error", log_path);
		status = 1;
	}
	if (refresh && status == 0)
		status = refresh_finish(&tr, &rf, &learned, tr.step - first, output, force);
done:
	nl_refresh_unlock(lock);
	for (int i = 0; watched && i < nwatch; i++)
		nl_tokens_free(&watched[i]);
	free(watched);
	free(frozen);
	free(read_state);
	free(rf.history);
	nl_state_free(&state);
	nl_trainer_free(&tr);
	nl_model_free(&model);
	nl_tokens_free(&train);
	nl_tokens_free(&valid);
	nl_config_free(&cfg);
	return nl_cli_fshut(status);
}
