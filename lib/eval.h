/* nl — see LICENSE. Scoring a token stream: mean loss, bits per byte, perplexity. */
#ifndef NL_EVAL_H
#define NL_EVAL_H
#include <stdint.h>
#include "data.h"
#include "err.h"
#include "tok.h"
#include "state.h"
#include "transformer.h"

/* Each document's outcome, in order (nl_eval_result.per). */
struct nl_eval_examples {
	struct nl_eval_example {
		uint32_t scored, correct;
	} *ex;
	size_t n, cap;
	int failed;              /* out of memory: the list is short */
	int sweep;               /* for nl-eval: the stream's examples sweep depths (nl-synth) */
};

struct nl_eval_result {
	double loss_sum;         /* nats, summed over scored targets */
	uint64_t tokens;         /* scored targets */
	uint64_t bytes;          /* their text bytes (0 without a tokenizer) */
	uint64_t correct;        /* scored targets whose most probable id is the target */
	uint64_t examples;       /* documents with a scored target (after nl_eval_finish) */
	uint64_t exact;          /* those whose every scored target is right */
	uint32_t ex_scored, ex_correct;   /* the document under way */
	struct nl_eval_examples *per;     /* if not NULL: each document's outcome appended */
};

/* Score every target of data exactly once in windows of at most tf->max_seq targets,
 * batched by tf->max_batch: consecutive ones (the last shorter), or with align_doc one run
 * per document, from its first row on (longer documents go on in further windows), padded
 * in a batch. A window's first token is context only, so the target at position i is
 * predicted from the tokens before it in its window. Stops after max_tokens targets when
 * max_tokens > 0. tok (may be NULL) gives bytes per id. res is reset but for res->per, which
 * the caller sets (NULL: no per-document outcomes). Finishes res (nl_eval_finish). */
int nl_eval_tokens(struct nl_tf *tf, const float *params, const struct nl_tokens *data,
    const struct nl_tok *tok, uint64_t max_tokens, int align_doc, struct nl_eval_result *res,
    struct nl_err *err);
/* Close the document under way in res (streams: after the last piece). */
void nl_eval_finish(struct nl_eval_result *res);
/* The loss by stream position: bucket k holds the targets at positions [2^k, 2^(k+1)) of
 * the stream (the first target is at position 1); with keep_tokens also every scored
 * target on its own (pt[0..n)). */
#define NL_EVAL_BUCKETS 48
struct nl_eval_point {
	long long pos;
	int32_t id;
	float loss;
};
struct nl_eval_curve {
	struct nl_eval_result bucket[NL_EVAL_BUCKETS];
	int keep_tokens;
	struct nl_eval_point *pt;
	size_t n, cap;
};
void nl_eval_curve_free(struct nl_eval_curve *c);

/* Score data as the next tokens of stream s (one sequence), which carries every fast state
 * (D9) from call to call, in pieces of at most tf->max_seq tokens that never cross a teach
 * window's end. The token an earlier call left pending (s->next) comes first, so every
 * token of data is a target; on a fresh stream data's first token is context only. With
 * learn the CMS levels learn as they go: each teach window is scored, then taught (D10);
 * memories always write. With reset_doc every document start of data (nl_tokens_doc_start)
 * meets the meta-learned state, at stream position 0 (MODEL D9). curve, if not NULL, accumulates the loss by position. Results
 * add to res. */
int nl_eval_stream(struct nl_tf *tf, const float *params, struct nl_tf_stream *s,
    const struct nl_tokens *data, const struct nl_tok *tok, int learn, int reset_doc,
    struct nl_eval_result *res, struct nl_eval_curve *curve, struct nl_err *err);
/* The longest piece a stream of cfg's model reads at a time (its nl_tf's max_seq): seq
 * (0: the context), or the teach window when CMS levels learn (frozen or not: the same
 * pieces, so that a stream's state does not depend on ttl's setting). */
int nl_eval_stream_piece(const struct nl_config *cfg, int seq);
/* A stream of one sequence whose attention sees the last cfg->context keys (so its memory
 * does not grow), from the meta-learned state or from a state file's (nl_state_load; cfg
 * the model's). */
int nl_eval_stream_start(struct nl_tf *tf, const float *params, struct nl_tf_stream *s,
    const struct nl_config *cfg, const struct nl_state *from, struct nl_err *err);
/* Continual-learning summary of T tasks (EVAL §6) from bits per byte: bpb[i·T + j] of the
 * model after task i (0-based) on task j, init[j] the initialised model's; computed on
 * S = −bpb (higher is better): ACC = mean_j S[T−1][j]; BWT = mean_{j<T−1} S[T−1][j] − S[j][j];
 * FWT = mean_{j≥1} S[j−1][j] − S_init[j]; forgetting = mean_{j<T−1} max_{l<T−1} S[l][j] −
 * S[T−1][j]; learning = mean_j S[j][j]. T ≥ 2. */
struct nl_cl_metrics {
	double acc, bwt, fwt, forgetting, learning;
};
void nl_eval_cl_metrics(const double *bpb, const double *init, int T, struct nl_cl_metrics *m);
/* loss per token, bits per byte (NAN without bytes), perplexity */
double nl_eval_loss(const struct nl_eval_result *r);
double nl_eval_bpb(const struct nl_eval_result *r);
#endif
