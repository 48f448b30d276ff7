/* nl — see LICENSE. Looking inside the memories (nl-probe-memory(1)): a model reads a token
 * stream as one sequence with its memories writing and its CMS levels learning, and every
 * write of every memory and every step of every CMS level is measured as it happens. */
#ifndef NL_PROBE_H
#define NL_PROBE_H
#include <stdint.h>
#include "config.h"
#include "data.h"
#include "err.h"
#include "tensor.h"
#include "transformer.h"

/* Units are the memories (enum NL_MU_* of memmix.h) and, from NL_PROBE_CMS on, CMS level
 * NL_PROBE_CMS + v. */
#define NL_PROBE_CMS NL_MU_COUNT
#define NL_PROBE_UNITS (NL_PROBE_CMS + NL_CMS_MAX_LEVELS)

/* One write. W is a memory head's W1 and W2 together, or a level's three maps. */
struct nl_probe_write {
	int layer, unit, head;     /* head 0 for a CMS level */
	long long pos;             /* tokens the stream had read when it wrote */
	double norm;               /* ‖W‖ after the write (Frobenius) */
	double delta;              /* ‖W after − W before‖ */
	double rel;                /* delta / ‖W before‖ (NaN when that is 0) */
	/* memories: the write gates of the chunk's tokens, mean then the 10th, 50th and 90th
	 * percentiles; NaN for CMS levels */
	double eta[4], alpha[4];
};

/* The unit's name: m_k, m_v, m_eta, m_alpha, m_q, m_mem, or cms.V (buf of 16 bytes). */
const char *nl_probe_unit_name(int unit, char *buf);

/* The spectrum of one matrix of a memory head (matrix 0: W1, 1: W2) or of a CMS level
 * (0: w_gate, 1: w_up, 2: w_down) at a position. */
struct nl_probe_rank {
	int layer, unit, matrix, head;
	long long pos;
	double erank;              /* exp(−Σ p_i ln p_i), p_i = σ_i / Σ σ (Roy and Vetterli) */
	double sigma_max;
};

struct nl_probe {
	uint64_t layers;           /* bit l: report layer l (layers from 64 on are not) */
	int learn;                 /* the CMS levels learn in context (ttl) */
	/* each write, in stream order (per piece: layers, then units, then heads); nonzero
	 * stops the run with that error */
	int (*on_write)(void *ctx, const struct nl_probe_write *w, struct nl_err *err);
	void *ctx;
	/* positions (ascending, each at most the tokens read) where the run stops to measure
	 * every matrix's spectrum (on_rank, if not NULL) and to add the whole fast state to
	 * dump (if not NULL): each tensor of nl_tf_stream_parts as NAME@POS */
	const long long *at;
	int nat;
	int (*on_rank)(void *ctx, const struct nl_probe_rank *r, struct nl_err *err);
	struct nl_tset *dump;
};

/* The singular values of the m × n matrix a (row-major), descending, into s[min(m, n)]
 * (one-sided Jacobi in double precision; NaN when a is not finite); -1 when out of
 * memory. */
int nl_probe_svals(const float *a, int m, int n, double *s);
/* The effective rank of k singular values (0 when all are 0, NaN for NaN). */
double nl_probe_erank(const double *s, int k);

/* How a probe of cfg's model runs: whether its CMS levels learn in context (ttl and a
 * level that learns), and the longest piece its nl_tf must serve (max_seq). NL_EUSAGE when
 * nothing writes as it reads (a transformer; levels that do not learn without memories). */
int nl_probe_plan(const struct nl_config *cfg, int *learn, int *max_seq, struct nl_err *err);

/* Read data (its first token is context only) from the meta-learned state; report every
 * write of the layers asked for. A family with nothing that writes (transformer) is
 * NL_EUSAGE. */
int nl_probe_run(struct nl_tf *tf, const float *params, const struct nl_config *cfg,
    const struct nl_tokens *data, const struct nl_probe *p, struct nl_err *err);

/* Writes and spectra kept for the tensor output: nl_probe_log_add and nl_probe_log_rank
 * serve as on_write and on_rank (ctx the log). */
struct nl_probe_log {
	struct nl_probe_write *w;
	size_t n, cap;
	struct nl_probe_rank *r;
	size_t nr, rcap;
};
int nl_probe_log_add(void *log, const struct nl_probe_write *w, struct nl_err *err);
int nl_probe_log_rank(void *log, const struct nl_probe_rank *r, struct nl_err *err);
/* The matrix's name: w1, w2 (memories) or w_gate, w_up, w_down (CMS levels). */
const char *nl_probe_matrix_name(int unit, int matrix);
/* The log as tensors (HEAD kind=probe), per layer L and memory M in order of appearance:
 * layers.L.mix.M.pos (I64 [n]: the writes' positions), .norm, .delta, .rel (F32 [n, heads])
 * and .eta, .alpha (F32 [n, heads, 4]: mean, 10th, 50th, 90th percentiles); per CMS level V:
 * layers.L.cms.V.pos, .norm, .delta, .rel ([n]); then the spectra, per layer, unit and
 * matrix X: layers.L.mix.M.X.erank and .sigma_max (F32 [positions, heads]) or
 * layers.L.cms.V.X.erank, .sigma_max ([positions]), with probe.at (I64 [positions]). */
int nl_probe_log_tset(const struct nl_probe_log *log, struct nl_tset *ts, struct nl_err *err);
void nl_probe_log_free(struct nl_probe_log *log);

/* ---- Recall: what the memories hold (nl-probe-memory(1) --recall, --retention) ---- */

/* How the capacity probe writes its N associations (k_i, v_i):
 *   direct: random unit keys, in random orthonormal bases of d_h (the first d_h orthogonal),
 *           and random unit values, one write each into M_mem's meta-learned initial state
 *           by M_mem's own rule (the model's step rule and projector, retention α, step η,
 *           no momentum), target v itself;
 *   linear: the same keys, values and rule into a linear memory M(k) = W k, W = 0 at start
 *           (the reference: with inner_step = literal and projector = 0 it is the delta
 *           rule W ← αW − η (W k − v) kᵀ);
 *   model:  N uniformly random tokens read by the model from its meta-learned state: the
 *           associations are the keys and targets its M_mem writes take (v in titans,
 *           M_mem(v) at the chunk-start state in selfmod), written by the model itself;
 *           every N a multiple of chunk_memory. */
enum nl_recall_mode { NL_RECALL_DIRECT, NL_RECALL_LINEAR, NL_RECALL_MODEL };

/* One row of a recall probe, for layer, unit (NL_MU_* or NL_PROBE_CMS + level) and head:
 *   capacity (unit NL_MU_MEM): x = N written, a = recall error, the mean over the N of
 *     ‖M(k_i) − v_i‖² / ‖v_i‖², b = accuracy, the share of keys whose read is nearer their
 *     own value than any other stored value (chance 1/N); a0, b0 the same of the state
 *     before any write (the meta-learned one; W = 0 for linear): what the writes added;
 *   retention: x = D input tokens taken in after the association's, a = trace, the
 *     Frobenius norm of the difference of the unit's state in two streams that differ
 *     only in the association, b = held, the trace over its largest at any D probed;
 *     a0, b0 NaN. */
struct nl_recall_row {
	int layer, unit, head;
	long long x;
	double a, b, a0, b0;
};

struct nl_recall {
	uint64_t layers;               /* as nl_probe's */
	int learn;
	enum nl_recall_mode mode;      /* capacity */
	const long long *x;            /* sizes N or distances D, ascending */
	int nx;
	double eta, alpha;             /* direct and linear writes */
	uint64_t seed;                 /* keys, values, tokens and associations */
	struct nl_recall_row *rows;    /* the results */
	size_t nrows, cap;
};

/* Tokens of the association the retention probe stores (a key and its value). */
#define NL_RECALL_ASSOC 2

/* The associations direct and linear write into layer's head: keys [n, d] in random
 * orthonormal bases of d (Gram–Schmidt of normal draws, in double), values [n, d] random
 * unit vectors; -1 when out of memory. */
int nl_probe_associations(uint64_t seed, int layer, int head, int n, int d, float *k,
    float *v);
/* The retention probe's two associations of NL_RECALL_ASSOC tokens, different in every
 * token (vocab ≥ 2). Model mode's N + 1 tokens are nl_rng_below(vocab) draws from seed. */
void nl_probe_retention_pair(uint64_t seed, int vocab, int32_t *a, int32_t *b);

/* The capacity of every M_mem head of the layers asked for, at every N of rc->x. */
int nl_probe_capacity(struct nl_tf *tf, const float *params, const struct nl_config *cfg,
    struct nl_recall *rc, struct nl_err *err);
/* Retention: the model reads NL_RECALL_ASSOC random tokens then data (the distractor), twice
 * with two different associations; at every distance of rc->x the trace of every memory
 * head and learning CMS level of the layers asked for, D counting the input tokens taken in
 * after the association (at most data->n − 1). A distance past that is NL_ERANGE. */
int nl_probe_retention(struct nl_tf *tf, const float *params, const struct nl_config *cfg,
    const struct nl_tokens *data, struct nl_recall *rc, struct nl_err *err);
/* The default sizes (powers of two from 1, or from chunk_memory for model, up to 8 d_h
 * and at least 16 chunks for model) or distances (0, then powers of four from 16 up to
 * last_distance; none when it is negative) into x[max]; returns how many. Sizes go up to
 * NL_RECALL_MAX_N: reading back N costs N² d_h per head. */
#define NL_RECALL_MAX_N 65536
int nl_probe_recall_defaults(const struct nl_tf *tf, int retention, enum nl_recall_mode mode,
    long long last_distance, long long *x, int max);
/* The rows as tensors (HEAD kind=probe): capacity, per layer L:
 * layers.L.mix.m_mem.recall.MODE.error, .accuracy, .error0, .accuracy0 (F32 [sizes, heads]) with
 * recall.MODE.n (I64 [sizes]); retention, per layer L and unit:
 * layers.L.mix.M.retention.trace and .held (F32 [distances, heads]) or
 * layers.L.cms.V.retention.trace, .held ([distances]) with retention.distance (I64). */
int nl_probe_recall_tset(const struct nl_recall *rc, int retention, struct nl_tset *ts,
    struct nl_err *err);
const char *nl_probe_recall_mode_name(enum nl_recall_mode mode);
void nl_probe_recall_free(struct nl_recall *rc);
#endif
