/* nl — see LICENSE. Memory-state files (memory.nlt, DESIGN §3, nl-eval(1) -M/-W): the whole
 * fast state of a model's streams — memories, pending chunks, conv contexts, attention keys
 * and values, CMS fast weights and accumulators, the teach window's tokens — as an nl-tensor
 * file apart from the base model, so a stream split across runs equals one run. */
#ifndef NL_STATE_H
#define NL_STATE_H
#include <stddef.h>
#include "config.h"
#include "err.h"
#include "io.h"
#include "transformer.h"

/* A state file's bytes and the HEAD fields a caller needs before loading it. */
struct nl_state {
	unsigned char *data;
	size_t len;
	long long tokens_seen;        /* memory.tokens_seen: tokens fed to each stream */
	long long base;               /* memory.base: the first position of its attention keys */
	int streams;                  /* memory.streams */
};

/* Read path ("-" is stdin): a state file (HEAD kind=memory), or a checkpoint bundle's
 * memory.nlt member. Errors name the reason only; the caller prefixes the path. */
int nl_state_read(struct nl_state *st, const char *path, struct nl_err *err);
/* The same, except that a checkpoint without a memory.nlt is not an error: st->data is
 * then NULL (the model carries no state). */
int nl_state_read_carried(struct nl_state *st, const char *path, struct nl_err *err);
/* The same from bytes in memory (a checkpoint member): copies them. */
int nl_state_from_bytes(struct nl_state *st, const void *data, size_t len,
    struct nl_err *err);
void nl_state_free(struct nl_state *st);

/* Load st into stream s of model m (configuration cfg, parameters params): s must have
 * st->streams sequences and room for its attention keys (tokens_seen − base positions). The file must come from a
 * model of the same architecture (else the first key that differs is named) and hold
 * exactly the tensors s has, in shape. A teach window under way is run again from the
 * state before it (the file keeps that state and the window's tokens), so s ends as the
 * saved stream was, bit for bit. Float models only (elem sizeof(float)). */
int nl_state_load(const struct nl_state *st, struct nl_tf *m, const struct nl_config *cfg,
    const float *params, struct nl_tf_stream *s, struct nl_err *err);
/* Whether st loads into a model of configuration cfg, layout lo and parameters params
 * (nl_state_load into a stream of its own). */
int nl_state_check(const struct nl_state *st, const struct nl_config *cfg,
    const struct nl_layout *lo, const float *params, struct nl_err *err);
/* Write stream s of model m (configuration cfg) to out as one nl-tensor member. */
int nl_state_write(const struct nl_tf *m, const struct nl_config *cfg,
    const struct nl_tf_stream *s, struct nl_io *out, struct nl_err *err);
/* The same into the file path, atomically (temporary beside it, then renamed). */
int nl_state_save(const struct nl_tf *m, const struct nl_config *cfg,
    const struct nl_tf_stream *s, const char *path, struct nl_err *err);
#endif
