/* nl — see LICENSE. The outer optimizers of MODEL §2.4 / D12 over a model's layout: each
 * parameter's update by the rule of `optim`, its state kept in slots that share the layout's
 * offsets and travel in optim.nlt by name, so a resumed run continues bit for bit.
 *
 * Matrices, for muon and m3, are the 2-D parameters that weight decay applies to other than
 * the embedding (the dense projections and the CMS levels); every other parameter takes AdamW's
 * step there. dmgd views every parameter as rows of its last dimension. All rules apply
 * decoupled weight decay, p −= lr·wd·p, to the parameters flagged for it. */
#ifndef NL_OPTIM_H
#define NL_OPTIM_H
#include <stdint.h>
#include "config.h"
#include "err.h"
#include "layout.h"
#include "tensor.h"

enum nl_optim_kind {
	NL_OPTIM_SGD, NL_OPTIM_MOMENTUM, NL_OPTIM_ADAMW, NL_OPTIM_MUON, NL_OPTIM_M3,
	NL_OPTIM_M3_EMA, NL_OPTIM_DELTA, NL_OPTIM_DMGD, NL_OPTIM_DGD
};

/* dgd's keys (MODEL D12): for each linear map an outer backward ran, in the order it ran them,
 * a block of n keys — the map's inputs x [n, cols] and output gradients dy [n, rows] — for
 * the rows of the parameter from offset off on. */
struct nl_keylog {
	struct nl_keyblock {
		size_t off, at;               /* at: x's start in data, dy follows it */
		int rows, cols, n;
	} *blk;
	size_t nblk, blk_cap;
	float *data;
	size_t len, cap;
	int failed;                       /* a block did not fit in memory */
};

enum { NL_OPTIM_SLOTS = 4 };

struct nl_optim {
	enum nl_optim_kind kind;
	const struct nl_layout *lo;
	double beta1, beta2, eps, wd, mu, lambda, beta3, alpha3;
	int ns_steps, hidden, delta_adam;
	int64_t period;
	int nslots;
	const char *slot_name[NL_OPTIM_SLOTS];
	float *slot[NL_OPTIM_SLOTS];  /* layout-sized: "m", "v", "m2", "g" as the rule needs */
	float *o2;                    /* m3: NS(M2) of each matrix, recomputed from M2 */
	float *extra;                 /* dmgd: W_a, W_b of each parameter, at extra_off[i] */
	size_t *extra_off;
	float *work;
	int64_t t;                    /* steps taken */
	/* dgd: the keys of the step to come (nl_optim_set_keys) and their work */
	const struct nl_keylog *const *keys;
	int nkeys;
	double key_scale;
	float *dgd_work;
	unsigned char *keyed;         /* per parameter: it has keys this step */
	const unsigned char *frozen;  /* per parameter: never stepped (NULL: none), its state
	                               * untouched (nl-train --learn) */
};

/* The kind named name, or -1. */
int nl_optim_kind(const char *name);

/* The optimizer c->optim over lo (lo must outlive it); state zero, as at step 0. */
int nl_optim_init(struct nl_optim *o, const struct nl_config *c, const struct nl_layout *lo,
    uint64_t seed, struct nl_err *err);
void nl_optim_free(struct nl_optim *o);
/* Record a block of keys (no-op when kl is NULL); x and dy hold reals of elem bytes. */
void nl_keylog_add(struct nl_keylog *kl, size_t off, int rows, int cols, const void *x,
    const void *dy, int n, size_t elem);
void nl_keylog_clear(struct nl_keylog *kl);
void nl_keylog_free(struct nl_keylog *kl);
/* dgd: the next step takes the n logs' keys in order, their output gradients times scale
 * (the clip factor); parameters with no key in them step as sgd. */
void nl_optim_set_keys(struct nl_optim *o, const struct nl_keylog *const *logs, int n,
    double scale);
/* One step of every parameter at learning rate lr. */
void nl_optim_step(struct nl_optim *o, float *params, const float *grads, double lr);
/* The state as tensors "<slot>.<param>" (and dmgd's "dmgd.wa.<param>", "dmgd.wb.<param>"). */
int nl_optim_export(const struct nl_optim *o, struct nl_tset *ts, struct nl_err *err);
/* Read it back (t steps taken); a missing or misshapen tensor is an error naming it. */
int nl_optim_import(struct nl_optim *o, const struct nl_tset *ts, int64_t t, struct nl_err *err);
#endif
