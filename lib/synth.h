/* nl — see LICENSE. The synthetic tasks of nl-synth(1) (EVAL §4): each writes examples as
 * rows of (id, flags) — DOC on an example's first row, SCORE on the rows of its answer — from
 * a seed and key=value parameters, the same bytes for the same arguments. */
#ifndef NL_SYNTH_H
#define NL_SYNTH_H
#include <stddef.h>
#include <stdint.h>
#include "err.h"
#include "io.h"
#include "meta.h"
#include "tok.h"

struct nl_synth_param {
	const char *key, *def, *help;
};

struct nl_synth_task {
	const char *name, *help;
	int text;                             /* 1: text through a tokenizer; 0: ids */
	long long seqlen;                     /* default -T (0: the parameters set the lengths) */
	long long count;                      /* default -n (0: the parameters set the count) */
	const struct nl_synth_param *params;  /* up to a NULL key */
};

/* The tasks in -l order; NULL past the last. */
const struct nl_synth_task *nl_synth_task_at(size_t i);
const struct nl_synth_task *nl_synth_find(const char *name);

/* One run: args are the key=value pairs given (others take their defaults); count and
 * seqlen 0 are the task's defaults; tok is the text tasks' tokenizer (NULL: bytes). */
struct nl_synth_job {
	const struct nl_synth_task *task;
	const struct nl_meta *args;
	uint64_t seed;
	long long count, seqlen;
	const struct nl_tok *tok;
	int level;                            /* zlib level of the .nlt */
};

/* Write count examples to out as a rank-2 token stream with HEAD task.name, task.seed,
 * task.count, task.seqlen and task.<key> for every parameter; the number of examples. An
 * unknown key or a bad value is NL_EUSAGE naming it; parameters that cannot make an example
 * (mqar with 4·pairs above the length) are NL_EUSAGE with the reason, as is a count for a
 * task whose parameters set it; a haystack or keys file that cannot be read is the file's
 * error. */
long long nl_synth_write(const struct nl_synth_job *job, struct nl_io *out, struct nl_err *err);
#endif
