/* nl — see LICENSE. Multiple choice by likelihood (nl-eval --choice): items from JSON lines,
 * each choice scored by the log-probability the model gives it after the context. */
#ifndef NL_CHOICE_H
#define NL_CHOICE_H
#include <stddef.h>
#include "err.h"
#include "io.h"
#include "tok.h"
#include "transformer.h"

struct nl_choice_item {
	char *context;
	char **choices;
	int nchoices;
	int label;                     /* −1: unknown */
};

struct nl_choice_set {
	struct nl_choice_item *items;
	size_t n, cap;
};

/* Items, one JSON object per line (blank lines skipped): PIQA's {"goal", "sol1", "sol2"}
 * (context "Question: GOAL\nAnswer: ", optional "label"), or {"context": "...",
 * "choices": [...], "label": n}. A bad line is an error naming its number and the reason. */
int nl_choice_read(struct nl_choice_set *set, struct nl_io *in, struct nl_err *err);
/* Labels, one integer per line, one per item (PIQA's valid-labels.lst). */
int nl_choice_read_labels(struct nl_choice_set *set, struct nl_io *in, struct nl_err *err);
void nl_choice_free(struct nl_choice_set *set);

struct nl_choice_result {
	size_t items, labelled;
	size_t correct;                /* the highest summed log-probability is the label */
	size_t correct_norm;           /* the highest per byte of the choice */
};

/* Score every item: each choice's summed log-probability after the context (the window's
 * last tf->max_seq targets, the context cut from its start when longer), through tok. */
int nl_choice_score(struct nl_tf *tf, const float *params, const struct nl_tok *tok,
    const struct nl_choice_set *set, struct nl_choice_result *res, struct nl_err *err);
#endif
