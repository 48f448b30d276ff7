/* nl — see LICENSE. A model: its configuration, parameter layout and float parameters, with
 * initialisation, loading and saving by name (params.nlt, checkpoints), the family dispatch
 * and the whole-model gradient check of `nl-train --check-gradients`. */
#ifndef NL_MODEL_H
#define NL_MODEL_H
#include <stddef.h>
#include <stdint.h>
#include "ckpt.h"
#include "config.h"
#include "data.h"
#include "err.h"
#include "io.h"
#include "layout.h"
#include "tensor.h"
#include "tok.h"

struct nl_model {
	struct nl_config cfg;
	struct nl_layout lo;
	float *params;             /* lo.total elements, padding zero */
	struct nl_tok *tok;        /* the training stream's tokenizer, or NULL */
};

/* Build the layout of cfg (vocab_size set) and zeroed parameters. */
int nl_model_create(struct nl_model *m, const struct nl_config *cfg, struct nl_err *err);
void nl_model_free(struct nl_model *m);
/* Parameters by the layout's init rules (nl-config(5) init.std), drawn in layout order from
 * a generator seeded with seed. */
void nl_model_init_params(struct nl_model *m, uint64_t seed);

/* The parameters as named float32 tensors (HEAD kind=params, model=<family>). */
int nl_model_export(const struct nl_model *m, struct nl_tset *ts, struct nl_err *err);
/* Load tensors by name: shapes must match; float64/float16/bfloat16 are converted when every
 * value survives the round trip to float32 exactly, others are errors. Unknown or missing
 * tensors are errors unless partial. */
int nl_model_import(struct nl_model *m, const struct nl_tset *ts, int partial,
    struct nl_err *err);

/* Checkpoint members config, params.nlt and (when m->tok) tokenizer.nlt. */
int nl_model_to_ckpt(const struct nl_model *m, struct nl_ckpt *ck, struct nl_err *err);
/* Create m from a checkpoint's config, params.nlt and tokenizer.nlt; or in two steps, so a
 * caller can override keys between them: the config (parsed over cfg), then the parameters
 * and tokenizer into a model created from it (partial: as nl_model_import). */
int nl_model_from_ckpt(struct nl_model *m, const struct nl_ckpt *ck, struct nl_err *err);
/* The model of the checkpoint file at path (its training state skipped), with the key=value
 * overrides defs[0..ndefs) over its configuration: a bad one is NL_EUSAGE, its message
 * starting "-D: ". skipped (256 bytes), if not NULL, receives the names of the members the
 * reader did not know, comma-separated (empty: none). */
int nl_model_open(struct nl_model *m, const char *path, const char *const *defs, int ndefs,
    char *skipped, struct nl_err *err);
int nl_ckpt_config(const struct nl_ckpt *ck, struct nl_config *cfg, struct nl_err *err);
int nl_model_load_ckpt(struct nl_model *m, const struct nl_ckpt *ck, int partial,
    struct nl_err *err);
/* A member's bytes as an nl_tset (nl-tensor(5)). */
int nl_ckpt_member_tset(const struct nl_ckpt *ck, const char *name, struct nl_tset *ts,
    struct nl_err *err);

/* Whether m can read the stream tk: its vocabulary (for text ids, the tokenizer's) fits the
 * model's, and when the model carries a tokenizer the stream was tokenized with it. */
int nl_model_check_stream(const struct nl_model *m, const struct nl_tokens *tk,
    struct nl_err *err);

/* BLAS and engine threads (nl-train -j): never more than asked. */
void nl_model_set_threads(int n);

/* The whole-model gradient check: cfg's family at a tiny size (vocab 11, d_model 16, 2 heads,
 * at most 2 layers, hidden 24, batch 2 of 8 tokens with two unscored targets; memory
 * families: 12 tokens, chunk_memory 4, chunk_other 2; CMS families: levels of periods 2, 4
 * and 0 (outer-only), cms.lr 0.1, the in-context updates held at the base point's) in double
 * precision, random parameters; per tensor up to 48 coordinates (all when smaller) compared
 * with central differences (h = 1e-5). worst_rel = max |analytic − fd| / max(max |analytic|,
 * max |fd|, 1e-8) over the tensor's checked coordinates. */
struct nl_gradcheck {
	char name[64];
	size_t numel, checked;
	double worst_rel, worst_abs;
	double grad_norm;          /* of the whole analytic gradient of the tensor */
};
int nl_model_gradcheck(const struct nl_config *cfg, uint64_t seed, struct nl_gradcheck **rows,
    size_t *n, struct nl_err *err);
#endif
