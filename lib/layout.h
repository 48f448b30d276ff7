/* nl — see LICENSE. The parameter layout of a model: every tensor's name, shape and offset
 * in one flat buffer. Parameters, gradients and optimizer state share the offsets, so a
 * whole-model update is one loop and a tensor is found by name (checkpoints, nl-convert). */
#ifndef NL_LAYOUT_H
#define NL_LAYOUT_H
#include <stddef.h>
#include <stdint.h>
#include "config.h"
#include "err.h"

#define NL_LAYOUT_MAX_RANK 4

enum nl_init {
	NL_INIT_ONES,      /* norm weights */
	NL_INIT_NORMAL,    /* N(0, init.std²): matrices and the embedding */
	NL_INIT_NORMAL_OUT, /* N(0, (init.std/√(2L))²): projections into the residual stream */
	NL_INIT_STD,       /* N(0, init_arg²): memory states (MODEL §1.1) */
	NL_INIT_CONST,     /* every element init_arg: gate biases */
	NL_INIT_CONV       /* causal conv taps as the identity: c[3] = 1, c[0..2] = 0 */
};

struct nl_param {
	char name[64];
	int rank;
	int64_t dims[NL_LAYOUT_MAX_RANK];
	size_t offset, numel;
	enum nl_init init;
	double init_arg;           /* NL_INIT_STD: the std; NL_INIT_CONST: the value */
	int decay;                 /* weight decay applies (matrices and the embedding) */
};

struct nl_layout {
	size_t n, cap;
	struct nl_param *p;
	size_t total;              /* elements of the flat buffer */
};

/* The layout of c's model family (vocab_size must be set). Offsets are in elements, each
 * tensor aligned to 16 elements so rows start on cache-line boundaries. */
int nl_layout_build(struct nl_layout *lo, const struct nl_config *c, struct nl_err *err);
void nl_layout_free(struct nl_layout *lo);
const struct nl_param *nl_layout_find(const struct nl_layout *lo, const char *name);
/* The offset of the tensor named by the format, or -1 with "layout has no NAME". */
int nl_layout_offsetf(const struct nl_layout *lo, size_t *offset, struct nl_err *err,
    const char *fmt, ...);
/* Add every tensor of a buffer laid out by lo to ts as float32, named prefix + name. */
struct nl_tset;
int nl_layout_export(const struct nl_layout *lo, const float *buf, const char *prefix,
    struct nl_tset *ts, struct nl_err *err);
/* Parameters that count (numel summed, padding excluded). */
size_t nl_layout_count(const struct nl_layout *lo);
#endif
