/* nl — see LICENSE. Memory mixers: the token mixers whose state is a set of MLP memories
 * written inside the context — the Titans LMM mixer of `titans` (MODEL §2.1) and the
 * self-modifying Titans mixer of `selfmod` (§2.2; `hope` adds the continuum after it) —
 * forward over a batch of sequences (fast state reset from the meta-learned initial state
 * per sequence, D9) and the exact reverse sweep over chunks for meta_grad = full | first |
 * none (D6, §5). Compiled twice like kernels/ (float for training, _f64 for gradient checks).
 *
 * A mixer maps x [b, t, d] to its output y [b, t, d] (the caller adds the residual); its
 * backward takes the same x again and accumulates dx (which may alias dy: dy is read whole
 * first) and the parameter gradients. The forward keeps per-token activations only; the
 * backward recomputes each (sequence, head)'s trajectory of chunk-boundary states from the
 * kept keys, values and gates (one more pass of the writes) and each chunk's per-token
 * states from its boundary, so memory does not grow with the number of chunks. */
#ifndef NL_MEMMIX_H
#define NL_MEMMIX_H
#include <stddef.h>
#include <stdint.h>
#include "config.h"
#include "err.h"
#include "layout.h"

enum nl_meta_grad { NL_META_FULL, NL_META_FIRST, NL_META_NONE };

/* One memory of a layer: parameter offsets of its initial state (per head: w1 [dout, dh],
 * w2 [dh, dh]), its output width and whether it is residual (z + W1 σ(W2 z)). */
struct nl_mem_unit {
	size_t w1, w2;
	int dout, resid;
};

/* The memories of a layer: selfmod's generators (M_q only with adaptive_q), then M_mem,
 * titans' only one. */
enum { NL_MU_K, NL_MU_V, NL_MU_ETA, NL_MU_ALPHA, NL_MU_Q, NL_MU_MEM, NL_MU_COUNT };

struct nl_mem_layer {
	size_t norm, w_q, w_g, w_o, out_norm;          /* both */
	size_t w_k, w_v, conv_q, conv_k, conv_v, w_eta, b_eta, w_beta, b_beta, w_a, b_a; /* titans */
	size_t w_x, conv, b_alpha;                      /* selfmod (b_beta shared) */
	struct nl_mem_unit u[NL_MU_COUNT];
	void *acts;                     /* this layer's activations */
	void *frozen;                   /* gradient checks: trajectories of a base run */
};

struct nl_keylog;

struct nl_mem {
	int titans;                     /* 1: titans mixer; 0: self-modifying */
	struct nl_keylog *keys;         /* optim = dgd: the outer backward's keys go here */
	int d, heads, dh, layers;
	int chunk, chunk_other;         /* chunk_memory (M_mem), chunk_other (the others) */
	double eta_max, eps;
	int rule, ema, momentum, projector, adaptive_q;
	enum nl_meta_grad meta;
	int max_batch, max_seq;
	size_t elem;
	struct nl_mem_layer *lay;
	void *scratch;                  /* shared by all layers' backward */
	int b, t;                       /* the batch of the last forward */
};

/* The fast state of b streams, carried from call to call in inference (D9; training
 * starts every sequence afresh): per layer, sequence and head every memory's W1 W2 S1 S2
 * and the keys, values and gates of the tokens since M_mem's last chunk boundary (its
 * pending chunk), per layer the last 3 inputs of each conv, and the tokens seen. Elements
 * are the mixer's (float, or double for the _f64 functions). */
struct nl_mem_stream {
	int b;
	int exact;                      /* rows round alike however a stream is cut (default 1) */
	long long pos;
	size_t head_size, layer_size;   /* elements */
	void *data;
};

/* One tensor of a stream's fast state as a state file holds it (lib/state.c): blocks of
 * len bytes, stride bytes apart from base, one after another. */
struct nl_state_part {
	char name[64];
	int dtype;                      /* enum nl_dtype */
	int rank;
	uint64_t dims[4];
	char *base;
	size_t blocks, len, stride;
};
/* parts[n] (when parts is not NULL): the tensor name of the given shape over blocks of len
 * elements of elem bytes, stride elements apart; returns n + 1. */
int nl_state_part_add(struct nl_state_part *parts, int n, const char *name, int dtype,
    size_t elem, void *base, size_t blocks, size_t len, size_t stride, int rank,
    const uint64_t *dims);

/* Whether cfg's family mixes tokens with memories. */
int nl_mem_family(const struct nl_config *c);
int nl_mem_init(struct nl_mem *mm, const struct nl_config *c, const struct nl_layout *lo,
    int max_batch, int max_seq, size_t elem, struct nl_err *err);
void nl_mem_free(struct nl_mem *mm);
/* Allocate a stream of b ≤ max_batch sequences; reset it before use. */
int nl_mem_stream_init(const struct nl_mem *mm, struct nl_mem_stream *s, int b,
    struct nl_err *err);
void nl_mem_stream_free(struct nl_mem_stream *s);
/* The tensors of stream s into parts (NULL: count them); returns their number. Per layer L:
 * every memory's W1 W2 S1 S2 as layers.L.mix.m_<unit>.w1 … (b, heads, rows, dh), the
 * tokens pending since M_mem's last write as layers.L.mix.pending.k, .v (b, heads, np, dh)
 * and .eta, .alpha, .beta (b, heads, np), each conv's last 3 inputs as
 * layers.L.mix.conv[_q|_k|_v].state (b, 3, d). */
int nl_mem_stream_parts(const struct nl_mem *mm, const struct nl_mem_stream *s,
    struct nl_state_part *parts);

#define NL_MEM_DECLARE(R, SUFFIX) \
	/* s NULL: b fresh sequences (training). Else the next t tokens of stream s \
	 * (b = s->b), from and into its state; the caller advances s->pos by t after the last \
	 * layer. Cut anywhere, a stream gives the outputs of one call over the whole. */ \
	void nl_mem_forward##SUFFIX(struct nl_mem *mm, int l, const R *params, const R *x, R *y, \
	    int b, int t, struct nl_mem_stream *s); \
	/* Every state of s to the meta-learned initial one, nothing pending, pos 0. */ \
	void nl_mem_stream_reset##SUFFIX(const struct nl_mem *mm, struct nl_mem_stream *s, \
	    const R *params); \
	/* s0 NULL: the training backward of the last forward (fresh sequences). Else the \
	 * last forward was the next tokens of a stream whose state before it s0 holds (a \
	 * copy): the backward of that segment with the carried state held constant, exact \
	 * through the segment's own writes whatever meta_grad says (MODEL D8's teach \
	 * signal); the initial states get nothing. */ \
	void nl_mem_backward##SUFFIX(struct nl_mem *mm, int l, const R *params, R *grads, \
	    const R *x, const R *dy, R *dx, const struct nl_mem_stream *s0); \
	/* Record every layer's trajectories of the last forward (params as then); later \
	 * forwards take the stop-gradient quantities of meta_grad = first | none from this \
	 * record, so finite differences measure the truncated objective whose gradient the \
	 * backward computes. Returns -1 when out of memory. */ \
	int nl_mem_freeze##SUFFIX(struct nl_mem *mm, const R *params); \
	/* The largest Frobenius norms of every memory's W1 and W2 at any chunk boundary of \
	 * the last forward (params as then), per unit (enum above; max over layers, \
	 * sequences and heads; NaN when a state was not finite). */ \
	void nl_mem_norms##SUFFIX(struct nl_mem *mm, const R *params, \
	    double w1[NL_MU_COUNT], double w2[NL_MU_COUNT]); \
	/* The write gates of tokens [t0, t0 + n) of the last forward's sequence i, head h, \
	 * in layer l: the step size η_t and the retention α_t (the share of the state a \
	 * write keeps) as every memory's write takes them. */ \
	void nl_mem_gates##SUFFIX(const struct nl_mem *mm, int l, int i, int h, int t0, int n, \
	    double *eta, double *alpha); \
	/* The keys and values [n, dh] of the same tokens as M_mem's writes take them (its \
	 * target is the value itself in titans, M_mem(v) in selfmod). */ \
	void nl_mem_keys##SUFFIX(const struct nl_mem *mm, int l, int i, int h, int t0, int n, \
	    R *k, R *v);
NL_MEM_DECLARE(float, )
NL_MEM_DECLARE(double, _f64)
#undef NL_MEM_DECLARE
#endif
