/* nl — see LICENSE. The outer training loop of nl-train: batch sampling, forward/backward,
 * global-norm clipping, the learning-rate schedule, the outer optimizer (optim.h), and the
 * optimizer and run state that checkpoints carry so a resumed run continues bit for bit. */
#ifndef NL_TRAIN_H
#define NL_TRAIN_H
#include <stdint.h>
#include "ckpt.h"
#include "data.h"
#include "err.h"
#include "model.h"
#include "optim.h"
#include "rng.h"
#include "transformer.h"

/* The batch is split by rows over workers, each with its own activations and gradients
 * (worker 0 writes straight into the trainer's), summed in worker order: a fixed -j gives
 * the same bits every run. */
struct nl_train_worker {
	struct nl_trainer *tr;
	struct nl_tf tf;
	float *grads;
	int row0, rows;
	int backward;                /* the phase to run: forward, or backward */
	double sum, scale;
	struct nl_keylog keys;       /* optim = dgd: the keys of its rows' backward */
};

struct nl_trainer {
	struct nl_model *model;
	int workers;                 /* min(threads, batch) */
	struct nl_train_worker *w;   /* w[0].tf also serves evaluation */
	int batch, seq;
	const int32_t *batch_ids, *batch_targets;
	float *grads;                /* the layout's offsets */
	struct nl_optim opt;         /* the outer optimizer and its state */
	int64_t step;                /* optimizer steps done */
	uint64_t tokens_seen;        /* scored targets trained on */
	struct nl_rng rng;           /* batch sampling */
	double valid_loss;           /* last held-out loss, NAN before the first evaluation */
	int32_t *ids, *targets;
	/* data.align = doc: the windows (start, document end) of the stream last sampled from */
	const struct nl_tokens *docs_of;
	size_t docs_len, ndocs, *docs;
	/* a memory state carried into every checkpoint as memory.nlt (nl-train --keep-state,
	 * -M), or NULL: training never writes one (D9) */
	const unsigned char *memory;
	size_t memory_len;
	/* per parameter of the layout: it does not learn (nl-train --learn), its gradient
	 * zeroed before the norm and its optimizer state untouched; NULL: all learn */
	const unsigned char *frozen;
};

/* threads: engine threads; with more than one, each worker runs BLAS on one thread. */
int nl_trainer_init(struct nl_trainer *tr, struct nl_model *m, int threads, struct nl_err *err);
void nl_trainer_free(struct nl_trainer *tr);
/* The learning rate of step s (0-based): linear warmup lr·(s+1)/warmup, then cosine from lr
 * to lr_min over the remaining steps (or constant lr). */
double nl_trainer_lr(const struct nl_config *c, int64_t step);
/* Sequence length the run uses: train.seq_len, or context when 0. */
int nl_trainer_seq_len(const struct nl_config *c);
/* One step on a batch of windows drawn uniformly from data (which needs ≥ seq + 1 tokens).
 * *loss is the batch's mean loss before the update, *gnorm the gradient norm before
 * clipping, *lr the rate used. A non-finite loss or gradient leaves the parameters and
 * optimizer state untouched and returns -1 with NL_ERANGE. */
int nl_trainer_step(struct nl_trainer *tr, const struct nl_tokens *data, double *loss,
    double *gnorm, double *lr, struct nl_err *err);
/* The same on a given batch of train.batch × seq ids and targets (−1: not scored). */
int nl_trainer_step_batch(struct nl_trainer *tr, const int32_t *ids, const int32_t *targets,
    double *loss, double *gnorm, double *lr, struct nl_err *err);
/* The whole run as checkpoint members: the model's, memory.nlt if kept, optim.nlt and
 * state. */
int nl_trainer_to_ckpt(const struct nl_trainer *tr, struct nl_ckpt *ck, struct nl_err *err);
/* Continue from a checkpoint's optim.nlt and state (the model already loaded from it). */
int nl_trainer_resume(struct nl_trainer *tr, const struct nl_ckpt *ck, struct nl_err *err);
#endif
