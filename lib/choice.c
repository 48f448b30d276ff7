/* nl — see LICENSE. Multiple choice by likelihood (choice.h). */
#include "choice.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

#define CHOICE_MAX ((size_t)1 << 30)   /* bytes of an items or labels file */

void
nl_choice_free(struct nl_choice_set *set)
{
	for (size_t i = 0; i < set->n; i++) {
		free(set->items[i].context);
		for (int k = 0; k < set->items[i].nchoices; k++)
			free(set->items[i].choices[k]);
		free(set->items[i].choices);
	}
	free(set->items);
	memset(set, 0, sizeof *set);
}

static char *
dup_string(const struct nl_json *j)
{
	char *s = malloc(j->len + 1);
	if (s) {
		memcpy(s, j->str, j->len);
		s[j->len] = 0;
	}
	return s;
}

/* One parsed line into item; a reason in err otherwise. */
static int
item_from(const struct nl_json *o, struct nl_choice_item *it, struct nl_err *err)
{
	const struct nl_json *goal = nl_json_get(o, "goal"), *ctx = nl_json_get(o, "context");
	const struct nl_json *choices = nl_json_get(o, "choices"), *label = nl_json_get(o, "label");
	const struct nl_json *sol[2] = { nl_json_get(o, "sol1"), nl_json_get(o, "sol2") };
	memset(it, 0, sizeof *it);
	it->label = -1;
	if (goal) {
		if (goal->type != NL_JSON_STRING || !sol[0] || !sol[1] ||
		    sol[0]->type != NL_JSON_STRING || sol[1]->type != NL_JSON_STRING ||
		    sol[0]->len == 0 || sol[1]->len == 0)
			return nl_err_set(err, NL_EFORMAT, "a PIQA item needs strings goal, sol1 and sol2");
		if ((it->context = malloc(goal->len + 32)) == NULL ||
		    (it->choices = calloc(2, sizeof *it->choices)) == NULL)
			return nl_err_set(err, NL_ENOMEM, "out of memory");
		snprintf(it->context, goal->len + 32, "Question: %s\nAnswer: ", goal->str);
		it->nchoices = 2;
		for (int k = 0; k < 2; k++)
			if ((it->choices[k] = dup_string(sol[k])) == NULL)
				return nl_err_set(err, NL_ENOMEM, "out of memory");
	} else {
		if (!ctx || ctx->type != NL_JSON_STRING || !choices || choices->type != NL_JSON_ARRAY)
			return nl_err_set(err, NL_EFORMAT, "needs \"context\" (a string) and \"choices\" "
			    "(an array), or PIQA's goal, sol1 and sol2");
		if (choices->n < 2)
			return nl_err_set(err, NL_EFORMAT, "fewer than 2 choices");
		if ((it->context = dup_string(ctx)) == NULL ||
		    (it->choices = calloc(choices->n, sizeof *it->choices)) == NULL)
			return nl_err_set(err, NL_ENOMEM, "out of memory");
		it->nchoices = (int)choices->n;
		for (size_t k = 0; k < choices->n; k++) {
			if (choices->items[k].type != NL_JSON_STRING || choices->items[k].len == 0)
				return nl_err_set(err, NL_EFORMAT, "choice %zu is not a string of text", k);
			if ((it->choices[k] = dup_string(&choices->items[k])) == NULL)
				return nl_err_set(err, NL_ENOMEM, "out of memory");
		}
	}
	if (label) {
		uint64_t v;
		if (nl_json_u64(label, &v) || v >= (uint64_t)it->nchoices)
			return nl_err_set(err, NL_EFORMAT, "label is not a choice number 0..%d",
			    it->nchoices - 1);
		it->label = (int)v;
	}
	return 0;
}

int
nl_choice_read(struct nl_choice_set *set, struct nl_io *in, struct nl_err *err)
{
	size_t len;
	char *text = (char *)nl_io_read_all(in, CHOICE_MAX, &len, err);
	if (text == NULL)
		return -1;
	size_t line = 0;
	int rc = 0;
	for (char *p = text; rc == 0 && p < text + len; ) {
		char *nl = memchr(p, '\n', (size_t)(text + len - p)), *end = nl ? nl : text + len;
		line++;
		size_t n = (size_t)(end - p);
		while (n > 0 && (p[n - 1] == '\r' || p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		if (n > 0) {
			struct nl_json j;
			if (nl_json_parse(p, n, &j, err)) {
				rc = -1;
			} else {
				if (j.type != NL_JSON_OBJECT)
					rc = nl_err_set(err, NL_EFORMAT, "not a JSON object");
				else if (set->n == set->cap) {
					size_t cap = set->cap ? 2 * set->cap : 256;
					struct nl_choice_item *it = realloc(set->items, cap * sizeof *it);
					if (it == NULL)
						rc = nl_err_set(err, NL_ENOMEM, "out of memory");
					else
						set->items = it, set->cap = cap;
				}
				if (rc == 0) {
					rc = item_from(&j, &set->items[set->n], err);
					set->n++;     /* freed with the set, complete or not */
				}
				nl_json_free(&j);
			}
			if (rc)
				nl_err_prefix(err, "line %zu", line);
		}
		p = nl ? nl + 1 : text + len;
	}
	free(text);
	if (rc == 0 && set->n == 0)
		rc = nl_err_set(err, NL_EFORMAT, "no items");
	return rc;
}

int
nl_choice_read_labels(struct nl_choice_set *set, struct nl_io *in, struct nl_err *err)
{
	size_t len, n = 0, line = 0;
	char *text = (char *)nl_io_read_all(in, CHOICE_MAX, &len, err);
	if (text == NULL)
		return -1;
	int rc = 0;
	for (char *p = text; rc == 0 && *p; ) {
		char *nl = strchr(p, '\n'), *end;
		line++;
		if (nl)
			*nl = 0;
		errno = 0;
		long v = strtol(p, &end, 10);
		while (*end == ' ' || *end == '\r' || *end == '\t')
			end++;
		if (end == p || *end || errno)
			rc = nl_err_set(err, NL_EFORMAT, "line %zu: not a label", line);
		else if (n >= set->n)
			rc = nl_err_set(err, NL_EFORMAT, "more labels than the %zu items", set->n);
		else if (v < 0 || v >= set->items[n].nchoices)
			rc = nl_err_set(err, NL_EFORMAT, "line %zu: label %ld is not a choice of item %zu",
			    line, v, n + 1);
		else
			set->items[n++].label = (int)v;
		p = nl ? nl + 1 : p + strlen(p);
	}
	free(text);
	if (rc == 0 && n != set->n)
		rc = nl_err_set(err, NL_EFORMAT, "%zu labels for %zu items", n, set->n);
	return rc;
}

/* Summed log-probability of choice after context. */
static int
choice_logprob(struct nl_tf *tf, const float *params, struct nl_tok_enc *enc,
    const char *context, const char *choice, double *lp, struct nl_err *err)
{
	uint32_t *ids = NULL;
	size_t n = 0, cap = 0;
	if (nl_tok_encode(enc, (const unsigned char *)context, strlen(context), 1, &ids, &n, &cap,
	    err))
		return -1;
	size_t nc = n;                               /* the choice's ids follow the context's */
	if (nl_tok_encode(enc, (const unsigned char *)choice, strlen(choice), 1, &ids, &n, &cap,
	    err)) {
		free(ids);
		return -1;
	}
	/* <eot> then the ids: the window's last max_seq targets */
	size_t total = n + 1, T = (size_t)tf->max_seq;
	size_t first = total - 1 > T ? total - 1 - T : 0;     /* the window's first input */
	int t = (int)(total - 1 - first);
	int32_t *in = malloc((size_t)t * sizeof *in), *tg = malloc((size_t)t * sizeof *tg);
	if (in == NULL || tg == NULL) {
		free(ids), free(in), free(tg);
		return nl_err_set(err, NL_ENOMEM, "out of memory");
	}
	for (int i = 0; i < t; i++) {
		size_t p = first + (size_t)i;            /* position in <eot> ids */
		in[i] = p == 0 ? NL_TOK_EOT : (int32_t)ids[p - 1];
		tg[i] = p >= nc ? (int32_t)ids[p] : -1;      /* position p + 1 is ids[p] */
	}
	double loss = nc < n ? nl_tf_forward(tf, params, in, tg, 1, t, NULL) : 0;
	free(ids), free(in), free(tg);
	if (!isfinite(loss))
		return nl_err_set(err, NL_ERANGE, "loss is not finite");
	*lp = -loss;
	return 0;
}

int
nl_choice_score(struct nl_tf *tf, const float *params, const struct nl_tok *tok,
    const struct nl_choice_set *set, struct nl_choice_result *res, struct nl_err *err)
{
	struct nl_tok_enc *enc;
	memset(res, 0, sizeof *res);
	if (nl_tok_enc_new(&enc, tok, err))
		return -1;
	for (size_t i = 0; i < set->n; i++) {
		const struct nl_choice_item *it = &set->items[i];
		int best = 0, best_norm = 0;
		double top = -INFINITY, top_norm = -INFINITY;
		for (int k = 0; k < it->nchoices; k++) {
			double lp = 0;
			if (choice_logprob(tf, params, enc, it->context, it->choices[k], &lp, err)) {
				nl_err_prefix(err, "item %zu", i + 1);
				nl_tok_enc_free(enc);
				return -1;
			}
			size_t bytes = strlen(it->choices[k]);
			double norm = lp / (double)(bytes ? bytes : 1);
			if (lp > top)
				top = lp, best = k;
			if (norm > top_norm)
				top_norm = norm, best_norm = k;
		}
		res->items++;
		if (it->label >= 0) {
			res->labelled++;
			res->correct += best == it->label;
			res->correct_norm += best_norm == it->label;
		}
	}
	nl_tok_enc_free(enc);
	return 0;
}
