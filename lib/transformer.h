/* nl — see LICENSE. The Transformer++ baseline (MODEL D1, §2.5): embedding → L × [attention,
 * SwiGLU MLP] pre-norm residual blocks → RMSNorm → tied head, over a flat parameter buffer laid
 * out by lib/layout.c. transformer.c is compiled twice like kernels/ (see kernels/real.h):
 * float for training, double (_f64) for gradient checks, so the checked code is the code
 * that trains. */
#ifndef NL_TRANSFORMER_H
#define NL_TRANSFORMER_H
#include <stddef.h>
#include <stdint.h>
#include "config.h"
#include "err.h"
#include "layout.h"
#include "memmix.h"

/* A pre-norm SwiGLU sub-block: the MLP after the mixer, or one CMS level (parameter
 * offsets; w_gate, w_up, w_down are adjacent: the level's fast parameters, MODEL §2.3). */
struct nl_tf_level {
	size_t norm, w_gate, w_up, w_down;
};

struct nl_tf_layer {
	size_t attn_norm, w_qkv, w_o;      /* parameter offsets */
	struct nl_tf_level lev[NL_CMS_MAX_LEVELS];
};

/* Shapes, parameter offsets and an activation arena for batches of up to max_batch sequences
 * of up to max_seq tokens. Families other than transformer replace the attention sub-block
 * by their memory mixer (mem; MODEL §2.5), and hope and hope-attention the MLP by CMS
 * levels: every family shares the embedding, the SwiGLU sub-blocks and the head. */
struct nl_tf {
	int memfam;                        /* 1: the mixer is mem's */
	struct nl_keylog *keys;            /* optim = dgd: the outer backward's keys (optim.h) */
	struct nl_mem mem;
	int vocab, d, layers, heads, hidden;
	int levels;                        /* SwiGLU sub-blocks per layer: 1 (the MLP) or the CMS's */
	int period[NL_CMS_MAX_LEVELS];     /* CMS level periods (0: outer-only); 0 for the MLP */
	size_t fast_len;                   /* elements of a level's fast parameters (w_gate..w_down) */
	/* In-context CMS weights for a training forward and its backward (NULL: every level
	 * uses the parameters): fast[((l·levels + v)·b + i)·fast_chunks + c] holds level v of
	 * layer l for sequence i in its chunk c (tokens [c·P, (c+1)·P)), laid out as the
	 * parameters from the level's w_gate on, or NULL for the parameters. First-order
	 * (D6): the backward adds every chunk's gradient to the parameters'. */
	const void *const *fast;
	int fast_chunks;                   /* 0: one entry per (layer, level, sequence) (streams) */
	void *const *fast_grad;            /* teach: where each entry's weight gradient goes */
	double cms_lr;
	/* cms.optim, the rule of the levels' steps (nl-config(5)): its state is cms_slots
	 * level-sized slots per (layer, level, sequence) in a stream, its step count per level */
	struct nl_tf_cms_rule {
		int kind;                  /* enum nl_optim_kind (optim.h) */
		int slots, ns_steps, delta_adam, hidden;
		double mu, beta1, beta2, beta3, alpha, eps, lambda;
		int64_t period;
	} rule;
	int teach_len;                     /* cms.teach: the teach window in tokens (D8) */
	int learns;                        /* some CMS level learns in context (finite period) */
	/* Training with CMS levels that step inside max_seq (MODEL §3): a model of one teach
	 * window and its stream run the teach pass over each batch first, leaving every chunk's
	 * fast weights in snap (indexed by fast); the forward and backward then use them. */
	struct nl_tf *teach;
	struct nl_tf_stream *ts;
	void *snap;
	const void **snap_tab;
	int snap_chunks;                   /* entries per (layer, level, sequence) in snap_tab */
	int32_t *teach_ids;                /* a window's ids and targets [max_batch, teach_len] */
	void *delta;                       /* gradient checks: the frozen updates (nl_tf_freeze) */
	void *dgd_work;                    /* cms.optim = dgd: nlk_dgd_keys's scratch */
	size_t param_elems;                /* the layout's total */
	double eps, rope_base;
	int max_batch, max_seq;
	size_t embed, norm;                /* parameter offsets */
	struct nl_tf_layer *lay;
	size_t elem;                       /* sizeof(float) or sizeof(double) */
	void *arena;
	size_t arena_elems;
	/* the batch of the last forward */
	int b, t;
	const int32_t *ids, *targets;
	size_t scored;
};

/* The fast state of b streams (D9) for nl_tf_forward_stream: the memory mixer's, the
 * attention keys (after RoPE) and values of every position so far (up to cap), and per
 * layer, CMS level and sequence the level's fast weights θ and teach accumulator A; pos
 * tokens seen. */
struct nl_tf_stream {
	int b, cap;
	/* 1 (the default): every row rounds alike however the stream is cut (the dense
	 * products sum in one fixed order); 0: BLAS, for the training teach pass, which needs
	 * the stream's function, not its bits */
	int exact;
	long long pos;
	struct nl_mem_stream mem, mem0;    /* mem0: the state before the window being taught */
	/* attention: each query sees the last span keys (0: every one); the cache holds the
	 * keys from position base on, and drops the ones no query will see when it fills */
	int span;
	long long base;
	void *kv;                          /* per layer: K then V [b, cap, d] */
	void *att;                         /* a query's attention probabilities [cap] (scratch) */
	void *dkv;                         /* teach: adjoints of a window's K, V [b, t, d] each */
	void *cms;                         /* per layer, level, sequence: θ, A, then the rule's
	                                    * slots (fast_len each) */
	int64_t cms_steps[NL_CMS_MAX_LEVELS]; /* steps each level has taken (the rule's t) */
	void *owork;                       /* the rule's scratch (muon, m3) */
	void *grads;                       /* teach: the memories' gradients (never read) */
	const void **tab;                  /* θ of each (layer, level, sequence), for nl_tf.fast */
	void **gtab;                       /* A of each, for nl_tf.fast_grad */
	/* CMS families: the teach window's first nwin tokens, ids [b, W] then targets [b, W]
	 * (−1: none), and mem0 the memories' state before them; a call that ends the window
	 * runs it whole from there (D8) */
	int32_t *win;
	int nwin;
	/* for callers that feed token streams: per sequence the token after the last one
	 * fed (the last target), −1 none; state files keep it (lib/state.c) */
	int32_t *next;
};

/* elem is sizeof(float) or sizeof(double): the precision the arena serves. */
int nl_tf_init(struct nl_tf *m, const struct nl_config *c, const struct nl_layout *lo,
    int max_batch, int max_seq, size_t elem, struct nl_err *err);
void nl_tf_free(struct nl_tf *m);
/* A stream of b ≤ max_batch sequences, with an attention cache of cap positions (memory
 * families have none): with win 0 the stream holds at most cap tokens; with a sliding
 * window (s->span, set after init) any number when cap ≥ span + max_seq. Calls on it take
 * t ≤ max_seq tokens. Reset before use. */
int nl_tf_stream_init(const struct nl_tf *m, struct nl_tf_stream *s, int b, int cap,
    struct nl_err *err);
void nl_tf_stream_free(struct nl_tf_stream *s);
/* The tensors of stream s (memory.nlt, nl-eval(1)) into parts (NULL: count them); returns
 * their number. With a teach window under way they hold the state before it and its
 * tokens (nl_state_load runs them again): the memories' (nl_mem_stream_parts), the
 * attention keys and values from nl_tf_stream_first_key on as layers.L.attn.k, .v
 * (b, positions, d), each CMS level V
 * that learns: θ as layers.L.cms.V.w_gate, .w_up (b, f, d), .w_down (b, d, f) and A as
 * layers.L.cms.V.acc.w_gate …, stream.next (b), and window.ids, window.targets (b, k). */
int nl_tf_stream_parts(const struct nl_tf *m, const struct nl_tf_stream *s,
    struct nl_state_part *parts);
/* The first position whose attention key a query may still see (with the teach window
 * under way run again): the keys a state file keeps. */
long long nl_tf_stream_first_key(const struct nl_tf_stream *s);

/* Forward over ids[b·t] with targets[b·t] (−1: not scored, targets may be NULL: no loss).
 * Returns the summed cross-entropy of the scored targets (m->scored of them) and keeps the
 * activations for backward. logits, if not NULL, receives the b·t·vocab logits.
 * Backward: grads += ∂(scale · summed loss)/∂params; grads must not alias params. */
#define NL_TF_DECLARE(R, SUFFIX) \
	double nl_tf_forward##SUFFIX(struct nl_tf *m, const R *params, const int32_t *ids, \
	    const int32_t *targets, int b, int t, R *logits); \
	void nl_tf_backward##SUFFIX(struct nl_tf *m, const R *params, R *grads, double scale); \
	/* The next t ≤ max_seq tokens of the s->b streams of s (ids, targets, logits as \
	 * above): a stream cut anywhere gives the losses and logits of one call over the \
	 * whole. With learn, the CMS levels learn as they go (D8, D10: each teach window \
	 * is scored, then taught, then the levels whose period ends there step). With a \
	 * teach window a call stays inside one (t ≤ W − pos mod W), and attention needs \
	 * room in its cache: else NaN, nothing done. nl_tf_losses then holds the call's \
	 * b·t losses. The activations serve no backward. */ \
	double nl_tf_forward_stream##SUFFIX(struct nl_tf *m, const R *params, \
	    struct nl_tf_stream *s, const int32_t *ids, const int32_t *targets, int t, \
	    R *logits, int learn); \
	/* Every state of s to the meta-learned one (params), nothing pending, pos 0. */ \
	void nl_tf_stream_reset##SUFFIX(const struct nl_tf *m, struct nl_tf_stream *s, \
	    const R *params); \
	/* Gradient checks of CMS families: record the in-context updates the last forward \
	 * made (params as then); later forwards apply those updates instead of teaching, so \
	 * differences measure the first-order objective (D6) the backward differentiates. \
	 * Returns -1 when out of memory. */ \
	int nl_tf_freeze##SUFFIX(struct nl_tf *m, const R *params);
NL_TF_DECLARE(float, )
NL_TF_DECLARE(double, _f64)
#undef NL_TF_DECLARE

/* The per-target losses of the last float forward (b·t of them, 0 where not scored). */
const float *nl_tf_losses(const struct nl_tf *m);
/* The most probable id at each of the last float training forward's n = b·t positions,
 * for the scored ones (targets[i] ≥ 0; −1 elsewhere); ties go to the lower id. */
void nl_tf_argmax(const struct nl_tf *m, const int32_t *targets, size_t n, int32_t *out);

/* Model FLOPs of one training step on b sequences of t tokens (BENCH §5.1: 6·N per token
 * with N the matmul parameters incl. the tied head once, plus 6·L·t·d causal attention). */
double nl_tf_train_flops(const struct nl_tf *m, int b, int t);
#endif
