/* nl — see LICENSE. Transformer++ forward and backward (MODEL D1, §1.2, §2.5); compiled
 * twice, see transformer.h. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtype.h"
#include "optim.h"
#include "real.h"
#include "rng.h"
#include "transformer.h"

#define ALIGN 16

static size_t
round_up(size_t n)
{
	return (n + ALIGN - 1) / ALIGN * ALIGN;
}

/* Slot sizes of the activation arena, in elements, for the largest batch. */
struct tf_sizes {
	size_t n, nd, nf, nv, att;
	size_t per_layer, global;
};

static struct tf_sizes
tf_sizes(const struct nl_tf *m)
{
	struct tf_sizes s;
	s.n = round_up((size_t)m->max_batch * m->max_seq);
	s.nd = round_up(s.n * m->d);
	s.nf = round_up(s.n * m->hidden);
	s.nv = round_up(s.n * m->vocab);
	s.att = m->memfam ? 0 : round_up((size_t)m->max_batch * m->heads * m->max_seq * m->max_seq);
	/* per layer: h a q k v o, rstd1, att, and per level in z, rstd, g u s */
	s.per_layer = 6 * s.nd + s.n + s.att + (size_t)m->levels * (2 * s.nd + s.n + 3 * s.nf);
	/* after the layers: h_out z, rstd, probs losses dlogits, backward scratch
	 * (dh dz dm dout dq dk dv dqp dkp da, ds dg du, attention scratch) */
	s.global = 2 * s.nd + s.n + 2 * s.nv + s.n + 10 * s.nd + 3 * s.nf + s.att;
	return s;
}

/* Elements of the snapshots of level v: (layer, sequence, chunk ≥ 1) of the training
 * sequence, when the level steps inside it. */
static size_t
snap_elems(const struct nl_tf *m, int v)
{
	int P = m->period[v];
	if (!m->learns || P <= 0 || P >= m->max_seq)
		return 0;
	size_t chunks = (size_t)(m->max_seq + P - 1) / P;
	return (size_t)m->layers * m->max_batch * (chunks - 1) * m->fast_len;
}

/* A stream's level-sized blocks per (layer, level, sequence): θ, A, the rule's slots. */
static size_t
cms_blocks(const struct nl_tf *m)
{
	return 2 + (size_t)m->rule.slots;
}

/* cms.optim = dmgd: in the blocks after φ0, matrix k's (w_gate, w_up, w_down) W_a
 * [hidden, cols] at dmgd_at(m, k) and its W_b [cols, hidden] right after it. */
static size_t
dmgd_at(const struct nl_tf *m, int k)
{
	return 2 * (size_t)m->rule.hidden * (size_t)m->d * (size_t)k;
}

/* Point each (layer, level, sequence) of s's b sequences at its θ and A. */
static void
stream_tables(const struct nl_tf *m, struct nl_tf_stream *s)
{
	size_t n = (size_t)m->layers * m->levels * s->b, K = cms_blocks(m);
	for (size_t k = 0; k < n; k++) {
		s->tab[k] = (char *)s->cms + K * k * m->fast_len * m->elem;
		s->gtab[k] = (char *)s->cms + (K * k + 1) * m->fast_len * m->elem;
	}
}

#ifndef NLK_F64
static int teach_init(struct nl_tf *m, const struct nl_config *c, const struct nl_layout *lo,
    struct nl_err *err);

/* cms.optim and the keys it reads (the outer optimizer's: nl-config(5)); no weight decay. */
static int
cms_rule(struct nl_tf_cms_rule *r, const struct nl_config *c, struct nl_err *err)
{
	memset(r, 0, sizeof *r);
	r->kind = nl_optim_kind(c->cms_optim);
	r->delta_adam = strcmp(c->delta_precond, "adam") == 0;
	switch (r->kind) {
	case NL_OPTIM_SGD: case NL_OPTIM_DGD: r->slots = 0; break;
	case NL_OPTIM_MOMENTUM: case NL_OPTIM_MUON: r->slots = 1; break;
	case NL_OPTIM_DELTA: r->slots = 1 + r->delta_adam; break;
	case NL_OPTIM_ADAMW: r->slots = 2; break;
	case NL_OPTIM_M3: case NL_OPTIM_M3_EMA: r->slots = 5; break;
	case NL_OPTIM_DMGD: {    /* φ0, then every matrix's W_a and W_b in as many blocks */
		int64_t h = c->dmgd_hidden, f = c->cms_hidden, d = c->d_model;
		r->slots = 1 + (int)((2 * h * (2 * d + f) + 3 * f * d - 1) / (3 * f * d));
		break;
	}
	default:
		return nl_err_set(err, NL_EUSAGE, "cms.optim: %s is not a rule for CMS levels",
		    c->cms_optim);
	}
	r->hidden = (int)c->dmgd_hidden;
	r->ns_steps = (int)c->optim_ns_steps, r->period = c->m3_period;
	r->mu = c->optim_momentum, r->beta1 = c->optim_beta1, r->beta2 = c->optim_beta2;
	r->beta3 = c->m3_beta3, r->alpha = c->m3_alpha, r->eps = c->optim_eps;
	r->lambda = c->delta_lambda;
	return 0;
}

int
nl_tf_init(struct nl_tf *m, const struct nl_config *c, const struct nl_layout *lo,
    int max_batch, int max_seq, size_t elem, struct nl_err *err)
{
	memset(m, 0, sizeof *m);
	m->vocab = (int)c->vocab_size;
	m->d = (int)c->d_model;
	m->layers = (int)c->layers;
	m->heads = (int)c->heads;
	m->hidden = (int)(nl_config_has_cms(c) ? c->cms_hidden : c->mlp_hidden);
	m->levels = 1;
	if (nl_config_has_cms(c)) {
		int64_t per[NL_CMS_MAX_LEVELS];
		m->levels = nl_config_cms_periods(c, per);
		for (int v = 0; v < m->levels; v++) {
			m->period[v] = (int)per[v];
			m->learns |= per[v] > 0 && c->cms_lr > 0;
		}
		m->cms_lr = c->cms_lr;
		m->teach_len = (int)nl_config_cms_teach(c);
		if (cms_rule(&m->rule, c, err))
			return -1;
	}
	m->param_elems = lo->total;
	m->eps = c->norm_eps;
	m->rope_base = c->rope_base;
	m->max_batch = max_batch;
	m->max_seq = max_seq;
	m->elem = elem;
	m->memfam = nl_mem_family(c);

#define OFFSET(dst, ...) do { if (nl_layout_offsetf(lo, &(dst), err, __VA_ARGS__)) { \
		nl_tf_free(m); \
		return -1; } } while (0)
	m->lay = calloc((size_t)m->layers, sizeof *m->lay);
	if (m->lay == NULL)
		return nl_err_set(err, NL_ENOMEM, "out of memory");
	OFFSET(m->embed, "embed.weight");
	OFFSET(m->norm, "norm.weight");
	for (int l = 0; l < m->layers; l++) {
		struct nl_tf_layer *y = &m->lay[l];
		if (!m->memfam) {
			OFFSET(y->attn_norm, "layers.%d.attn.norm.weight", l);
			OFFSET(y->w_qkv, "layers.%d.attn.w_qkv", l);
			OFFSET(y->w_o, "layers.%d.attn.w_o", l);
		}
		for (int v = 0; v < m->levels; v++) {
			char sub[16];
			struct nl_tf_level *lv = &y->lev[v];
			if (nl_config_has_cms(c))
				snprintf(sub, sizeof sub, "cms.%d", v);
			else
				snprintf(sub, sizeof sub, "mlp");
			OFFSET(lv->norm, "layers.%d.%s.norm.weight", l, sub);
			OFFSET(lv->w_gate, "layers.%d.%s.w_gate", l, sub);
			OFFSET(lv->w_up, "layers.%d.%s.w_up", l, sub);
			OFFSET(lv->w_down, "layers.%d.%s.w_down", l, sub);
		}
	}
	m->fast_len = m->lay[0].lev[0].w_down + (size_t)m->d * m->hidden - m->lay[0].lev[0].w_gate;
#undef OFFSET
	if (m->memfam) {
		int rc = nl_mem_init(&m->mem, c, lo, max_batch, max_seq, elem, err);
		m->memfam = rc == 0;
		if (rc) {
			nl_tf_free(m);
			return -1;
		}
	}

	struct tf_sizes s = tf_sizes(m);
	/* sizes are products of config values bounded by nl_config; check the total anyway */
	double total = ((double)s.per_layer * m->layers + s.global) * elem;
	if (total > (double)SIZE_MAX / 2) {
		nl_tf_free(m);
		return nl_err_set(err, NL_ERANGE, "activation memory too large");
	}
	m->arena_elems = s.per_layer * m->layers + s.global;
	m->arena = malloc(m->arena_elems * elem);
	int big = m->hidden > m->d ? m->hidden : m->d;
	if (m->learns && m->rule.kind == NL_OPTIM_DGD &&
	    (m->dgd_work = malloc(NLK_DGD_WORK(big, big) * elem)) == NULL) {
		nl_tf_free(m);
		return nl_err_set(err, NL_ENOMEM, "out of memory");
	}
	if (m->arena == NULL) {
		nl_tf_free(m);
		return nl_err_set(err, NL_ENOMEM, "out of memory for activations (%.0f MiB)",
		    total / 1048576);
	}
	if (teach_init(m, c, lo, err)) {
		nl_tf_free(m);
		return -1;
	}
	return 0;
}

/* The teach pass of training (MODEL §3) when some level steps inside max_seq: a model of one
 * teach window over the same layout, its stream, and the chunks' fast weights. */
static int
teach_init(struct nl_tf *m, const struct nl_config *c, const struct nl_layout *lo,
    struct nl_err *err)
{
	size_t total = 0;
	m->snap_chunks = 1;
	for (int v = 0; v < m->levels; v++) {
		total += snap_elems(m, v);
		if (snap_elems(m, v) > 0 && (m->max_seq + m->period[v] - 1) / m->period[v] >
		    m->snap_chunks)
			m->snap_chunks = (m->max_seq + m->period[v] - 1) / m->period[v];
	}
	if (total == 0)
		return 0;
	double bytes = (double)total * m->elem;
	if ((m->teach = calloc(1, sizeof *m->teach)) == NULL ||
	    (m->ts = calloc(1, sizeof *m->ts)) == NULL ||
	    (m->snap = malloc(total * m->elem)) == NULL ||
	    (m->snap_tab = calloc((size_t)m->layers * m->levels * m->max_batch * m->snap_chunks,
	    sizeof *m->snap_tab)) == NULL ||
	    (m->teach_ids = malloc(2 * (size_t)m->max_batch * m->teach_len *
	    sizeof *m->teach_ids)) == NULL)
		return nl_err_set(err, NL_ENOMEM, "out of memory for the CMS levels' chunk weights "
		    "(%.0f MiB)", bytes / 1048576);
	if (nl_tf_init(m->teach, c, lo, m->max_batch, m->teach_len, m->elem, err) ||
	    nl_tf_stream_init(m->teach, m->ts, m->max_batch, m->max_seq, err))
		return -1;
	m->ts->exact = m->ts->mem.exact = 0;
	return 0;
}

int
nl_tf_stream_init(const struct nl_tf *m, struct nl_tf_stream *s, int b, int cap,
    struct nl_err *err)
{
	const size_t e = m->elem, d = (size_t)m->d;
	memset(s, 0, sizeof *s);
	if (b < 1 || b > m->max_batch)
		return nl_err_set(err, NL_ERANGE, "%d streams: 1 to %d", b, m->max_batch);
	s->b = b;
	s->cap = cap;
	s->exact = 1;
	if (m->memfam) {
		if (nl_mem_stream_init(&m->mem, &s->mem, b, err) ||
		    nl_mem_stream_init(&m->mem, &s->mem0, b, err)) {
			nl_tf_stream_free(s);
			return -1;
		}
	} else if ((s->kv = malloc((size_t)m->layers * 2 * b * cap * d * e)) == NULL ||
	    (s->att = malloc((size_t)cap * e)) == NULL ||
	    (s->dkv = malloc(2 * (size_t)b * m->max_seq * d * e)) == NULL) {
		nl_tf_stream_free(s);
		return nl_err_set(err, NL_ENOMEM, "out of memory for the attention cache");
	}
	if ((s->next = malloc((size_t)b * sizeof *s->next)) == NULL ||
	    (m->teach_len > 0 && (s->win = malloc(2 * (size_t)b * m->teach_len *
	    sizeof *s->win)) == NULL)) {
		nl_tf_stream_free(s);
		return nl_err_set(err, NL_ENOMEM, "out of memory");
	}
	if (m->levels > 1 || m->period[0] > 0) {     /* CMS levels: per-sequence fast weights */
		size_t n = (size_t)m->layers * m->levels * b, f = (size_t)m->hidden, d0 = (size_t)d;
		size_t small = f < d0 ? f : d0;
		size_t big = f > d0 ? f : d0, work = 0;
		if (m->rule.kind == NL_OPTIM_MUON || m->rule.kind == NL_OPTIM_M3 ||
		    m->rule.kind == NL_OPTIM_M3_EMA)
			work = small * small + 2 * f * d0;
		if (m->rule.kind == NL_OPTIM_DMGD)
			work = 4 * big * (size_t)m->rule.hidden;
		if ((s->cms = malloc(cms_blocks(m) * n * m->fast_len * e)) == NULL ||
		    (work && (s->owork = malloc(work * e)) == NULL) ||
		    (m->memfam && (s->grads = calloc(m->param_elems, e)) == NULL) ||
		    (s->tab = calloc(n, sizeof *s->tab)) == NULL ||
		    (s->gtab = calloc(n, sizeof *s->gtab)) == NULL) {
			nl_tf_stream_free(s);
			return nl_err_set(err, NL_ENOMEM, "out of memory for the CMS state");
		}
		stream_tables(m, s);
	}
	return 0;
}

void
nl_tf_stream_free(struct nl_tf_stream *s)
{
	nl_mem_stream_free(&s->mem);
	nl_mem_stream_free(&s->mem0);
	free(s->kv);
	free(s->att);
	free(s->dkv);
	free(s->cms);
	free(s->owork);
	free(s->grads);
	free(s->tab);
	free(s->gtab);
	free(s->win);
	free(s->next);
	memset(s, 0, sizeof *s);
}

long long
nl_tf_stream_first_key(const struct nl_tf_stream *s)
{
	long long from = s->pos - s->nwin + 1 - s->span;     /* a window may run again */
	return s->kv && s->span > 0 && from > s->base ? from : s->base;
}

/* dmgd's memories of matrix k in stream 0's block as layers.L.cms.V.opt.dmgd.wa.<mat>
 * (b, hidden, cols) and .wb.<mat> (b, cols, hidden). */
static int
dmgd_parts(const struct nl_tf *m, const struct nl_tf_stream *s, int l, int v, int k,
    char *block, struct nl_state_part *parts, int n)
{
	static const char *const mat[3] = { "w_gate", "w_up", "w_down" };
	const size_t e = m->elem, h = (size_t)m->rule.hidden;
	const uint64_t cols = k < 2 ? (uint64_t)m->d : (uint64_t)m->hidden;
	const int dt = e == sizeof(double) ? NL_DTYPE_F64 : NL_DTYPE_F32;
	for (int ab = 0; ab < 2; ab++) {
		char name[80];
		uint64_t dims[3] = { (uint64_t)s->b, ab ? cols : h, ab ? h : cols };
		snprintf(name, sizeof name, "layers.%d.cms.%d.opt.dmgd.w%c.%s", l, v, ab ? 'b' : 'a',
		    mat[k]);
		n = nl_state_part_add(parts, n, name, dt, e, block + (dmgd_at(m, k) + ab * h * cols)
		    * e, (size_t)s->b, h * cols, cms_blocks(m) * m->fast_len, 3, dims);
	}
	return n;
}

int
nl_tf_stream_parts(const struct nl_tf *m, const struct nl_tf_stream *s,
    struct nl_state_part *parts)
{
	const size_t e = m->elem, b = (size_t)s->b, d = (size_t)m->d, f = (size_t)m->hidden;
	const long long first = nl_tf_stream_first_key(s);
	const size_t seen = (size_t)(s->pos - s->nwin - first), W = (size_t)m->teach_len;
	const int dt = e == sizeof(double) ? NL_DTYPE_F64 : NL_DTYPE_F32;
	char name[64];
	int n = 0;
	if (m->memfam)
		n = nl_mem_stream_parts(&m->mem, s->nwin ? &s->mem0 : &s->mem, parts);
	for (int l = 0; l < m->layers && !m->memfam; l++)
		for (int kv = 0; kv < 2; kv++) {
			uint64_t dims[3] = { b, seen, d };
			char *base = (char *)s->kv + (((size_t)l * 2 + kv) * b * s->cap +
			    (size_t)(first - s->base)) * d * e;
			snprintf(name, sizeof name, "layers.%d.attn.%s", l, kv ? "v" : "k");
			n = nl_state_part_add(parts, n, name, dt, e, base, b, seen * d,
			    (size_t)s->cap * d, 3, dims);
		}
	for (int l = 0; l < m->layers && s->cms; l++)
		for (int v = 0; v < m->levels; v++) {
			const struct nl_tf_level *w = &m->lay[l].lev[v];
			const size_t at[3] = { 0, w->w_up - w->w_gate, w->w_down - w->w_gate };
			static const char *const mat[3] = { "w_gate", "w_up", "w_down" };
			char *theta = (char *)s->tab[((size_t)l * m->levels + v) * b];
			if (m->period[v] <= 0)          /* outer-only: the parameters themselves */
				continue;
			/* θ, the teach accumulator A, then the rule's slots */
			/* the rule's slots in optim.nlt's order (nl-checkpoint(5)), then m3's O2 */
			static const char *const slot[] = { "", "acc.", "opt.m.", "opt.v.", "opt.m2.",
				"opt.g.", "opt.o2." };
			for (size_t acc = 0; acc < cms_blocks(m); acc++)
				for (int k = 0; k < 3; k++) {
					if (m->rule.kind == NL_OPTIM_DMGD && acc >= 3) {
						if (acc == 3)
							n = dmgd_parts(m, s, l, v, k, theta + 3 * m->fast_len * e,
							    parts, n);
						continue;
					}
					uint64_t dims[3] = { b, k < 2 ? f : d, k < 2 ? d : f };
					snprintf(name, sizeof name, "layers.%d.cms.%d.%s%s", l, v, slot[acc],
					    mat[k]);
					n = nl_state_part_add(parts, n, name, dt, e, theta + (acc * m->fast_len +
					    at[k]) * e, b, f * d, cms_blocks(m) * m->fast_len, 3, dims);
				}
		}
	if (s->cms && m->rule.slots > 0) {      /* the rule's step count t of each level */
		uint64_t dims[1] = { (uint64_t)m->levels };
		n = nl_state_part_add(parts, n, "cms.steps", NL_DTYPE_I64, sizeof(int64_t),
		    (void *)s->cms_steps, 1, (size_t)m->levels, 0, 1, dims);
	}
	uint64_t dims[2] = { b, (uint64_t)s->nwin };
	n = nl_state_part_add(parts, n, "stream.next", NL_DTYPE_I32, sizeof(int32_t), s->next, 1, b, 0,
	    1, dims);
	if (W > 0) {
		n = nl_state_part_add(parts, n, "window.ids", NL_DTYPE_I32, sizeof(int32_t), s->win, b,
		    (size_t)s->nwin, W, 2, dims);
		n = nl_state_part_add(parts, n, "window.targets", NL_DTYPE_I32, sizeof(int32_t),
		    s->win + b * W, b, (size_t)s->nwin, W, 2, dims);
	}
	return n;
}

void
nl_tf_free(struct nl_tf *m)
{
	if (m->memfam)
		nl_mem_free(&m->mem);
	if (m->ts)
		nl_tf_stream_free(m->ts);
	if (m->teach)
		nl_tf_free(m->teach);
	free(m->ts);
	free(m->teach);
	free(m->snap);
	free(m->snap_tab);
	free(m->teach_ids);
	free(m->delta);
	free(m->dgd_work);
	free(m->lay);
	free(m->arena);
	memset(m, 0, sizeof *m);
}

double
nl_tf_train_flops(const struct nl_tf *m, int b, int t)
{
	double d = m->d, f = m->hidden, h = m->heads, tokens = (double)b * t;
	if (m->memfam) {
		/* matmuls: q k v g o and the gates; memory per token and head, forward: the read
		 * (2 dh² MACs), the inner gradient's read and δ (3 dh²), the write (4 dh²), and
		 * the backward at twice that */
		double dh = d / h;
		double matmul_params = (double)m->vocab * d + m->layers * (5 * d * d + 3 * d * h
		    + 3 * d * f);
		return 6 * matmul_params * tokens + 3 * 2 * 9 * dh * dh * h * m->layers * tokens;
	}
	double matmul_params = (double)m->vocab * d + m->layers * (4 * d * d + 3 * d * f);
	return 6 * matmul_params * tokens + 6.0 * m->layers * t * d * tokens;
}
#endif

/* Pointers into the arena for layer l (l == layers: the global block). lev[v].in is the
 * residual stream entering level v (lev[0].in: after the mixer). */
struct tf_level_acts {
	nlk_real *in, *z, *rstd, *g, *u, *s;
};
struct tf_layer_acts {
	nlk_real *h, *a, *q, *k, *v, *o, *rstd1, *att;
	struct tf_level_acts lev[NL_CMS_MAX_LEVELS];
};
struct tf_global {
	nlk_real *h, *z, *rstd, *probs, *losses, *dlogits;
	nlk_real *dh, *dz, *dm, *dout, *dq, *dk, *dv, *dqp, *dkp, *da, *ds, *dg, *du, *scratch;
};

static void
layer_acts(const struct nl_tf *m, int l, struct tf_layer_acts *a)
{
	struct tf_sizes s = tf_sizes(m);
	nlk_real *p = (nlk_real *)m->arena + (size_t)l * s.per_layer;
	nlk_real **nd[] = { &a->h, &a->a, &a->q, &a->k, &a->v, &a->o };
	for (size_t i = 0; i < sizeof nd / sizeof nd[0]; i++, p += s.nd)
		*nd[i] = p;
	a->rstd1 = p, p += s.n;
	a->att = p, p += s.att;
	for (int v = 0; v < m->levels; v++) {
		struct tf_level_acts *e = &a->lev[v];
		e->in = p, p += s.nd;
		e->z = p, p += s.nd;
		e->rstd = p, p += s.n;
		e->g = p, p += s.nf;
		e->u = p, p += s.nf;
		e->s = p, p += s.nf;
	}
}

/* The weights level v of layer l applies to sequence i's chunk c: the parameters, or that
 * chunk's fast weights (a stream's: the sequence's, whatever the chunk), as a base from
 * which the level's offsets minus w_gate index. */
static size_t
fast_index(const struct nl_tf *m, int l, int v, int i, int c)
{
	size_t k = ((size_t)l * m->levels + v) * m->b + i;
	return m->fast_chunks ? k * m->fast_chunks + c : k;
}

static const nlk_real *
level_base(const struct nl_tf *m, const nlk_real *params, int l, int v, int i, int c)
{
	const nlk_real *p = m->fast && m->period[v] > 0 ? m->fast[fast_index(m, l, v, i, c)] : NULL;
	return p ? p : params + m->lay[l].lev[v].w_gate;
}

/* Whether level v runs in blocks of its period (rows of one sequence and chunk each): in a
 * stream always (each sequence has its own weights), in training when it steps inside the
 * sequence (else one product over the batch with the parameters). */
static int
level_blocked(const struct nl_tf *m, int v)
{
	return m->fast && m->period[v] > 0 && (m->fast_chunks == 0 || m->period[v] < m->t);
}

typedef void matmul_fn(nlk_real *, const nlk_real *, const nlk_real *, int, int, int);

/* out = in + W_down (SiLU(W_gate z) ⊙ W_up z), z = RMSNorm(in): level v of layer l over the
 * batch, block by block when it learns in context. */
static void
level_forward(const struct nl_tf *m, const nlk_real *params, int l, int v,
    const struct tf_level_acts *e, nlk_real *out, matmul_fn *mul)
{
	const struct nl_tf_level *w = &m->lay[l].lev[v];
	const int d = m->d, f = m->hidden, n = m->b * m->t;
	const int blocked = level_blocked(m, v), P = blocked ? m->period[v] : m->t;
	const size_t up = w->w_up - w->w_gate, down = w->w_down - w->w_gate;
	NLK(nlk_rmsnorm_fwd)(e->z, e->rstd, e->in, params + w->norm, n, d, (nlk_real)m->eps);
	for (int i = 0; i < (blocked ? m->b : 1); i++)
		for (int c = 0; c * P < m->t; c++) {
			const nlk_real *wb = level_base(m, params, l, v, i, c);
			size_t r = (size_t)i * m->t + (size_t)c * P;
			int rn = blocked ? (m->t - c * P < P ? m->t - c * P : P) : n;
			mul(e->g + r * f, e->z + r * d, wb, rn, d, f);
			mul(e->u + r * f, e->z + r * d, wb + up, rn, d, f);
			NLK(nlk_swiglu_fwd)(e->s + r * f, e->g + r * f, e->u + r * f, (size_t)rn * f);
			mul(out + r * d, e->s + r * f, wb + down, rn, f, d);
		}
	for (size_t i = 0; i < (size_t)n * d; i++)
		out[i] += e->in[i];
}

static void
global_acts(const struct nl_tf *m, struct tf_global *g)
{
	struct tf_sizes s = tf_sizes(m);
	nlk_real *p = (nlk_real *)m->arena + (size_t)m->layers * s.per_layer;
	g->h = p, p += s.nd;
	g->z = p, p += s.nd;
	g->rstd = p, p += s.n;
	g->probs = p, p += s.nv;
	g->dlogits = p, p += s.nv;
	g->losses = p, p += s.n;
	nlk_real **nd[] = { &g->dh, &g->dz, &g->dm, &g->dout, &g->dq, &g->dk, &g->dv, &g->dqp,
	    &g->dkp, &g->da };
	for (size_t i = 0; i < sizeof nd / sizeof nd[0]; i++, p += s.nd)
		*nd[i] = p;
	g->ds = p, p += s.nf;
	g->dg = p, p += s.nf;
	g->du = p, p += s.nf;
	g->scratch = p;
}

#ifndef NLK_F64
const float *
nl_tf_losses(const struct nl_tf *m)
{
	struct tf_global g;
	global_acts(m, &g);
	return g.losses;
}

void
nl_tf_argmax(const struct nl_tf *m, const int32_t *targets, size_t n, int32_t *out)
{
	struct tf_global g;
	global_acts(m, &g);
	for (size_t i = 0; i < n; i++) {
		const float *p = g.probs + i * (size_t)m->vocab;
		int32_t best = 0;
		for (int32_t v = 1; targets[i] >= 0 && v < m->vocab; v++)
			if (p[v] > p[best])
				best = v;
		out[i] = targets[i] >= 0 ? best : -1;
	}
}
#endif

/* g + off, or NULL: a gradient nobody wants */
static nlk_real *
at(nlk_real *g, size_t off)
{
	return g ? g + off : NULL;
}

/* Layer l's cached keys (kv 0) or values (kv 1) of a stream: [b, cap, d]. */
static nlk_real *
stream_kv(const struct nl_tf *m, const struct nl_tf_stream *s, int l, int kv)
{
	return (nlk_real *)s->kv + ((size_t)l * 2 + kv) * s->b * s->cap * m->d;
}

static double
tf_forward(struct nl_tf *m, const nlk_real *params, const int32_t *ids,
    const int32_t *targets, int b, int t, nlk_real *logits, struct nl_tf_stream *stream)
{
	const int d = m->d, h = m->heads, dh = d / h, n = b * t;
	const nlk_real eps = (nlk_real)m->eps, base = (nlk_real)m->rope_base;
	struct tf_layer_acts a;
	struct tf_global g;
	/* a stream's rows must round alike however it is cut (nlk_matmul_rows_fwd) */
	matmul_fn *mul = stream && stream->exact ? NLK(nlk_matmul_rows_fwd) : NLK(nlk_matmul_fwd);

	m->b = b;
	m->t = t;
	m->ids = ids;
	m->targets = targets;
	layer_acts(m, 0, &a);
	NLK(nlk_embed_fwd)(a.h, ids, params + m->embed, n, d);
	for (int l = 0; l < m->layers; l++) {
		const struct nl_tf_layer *w = &m->lay[l];
		const nlk_real *qkv = params + w->w_qkv;
		layer_acts(m, l, &a);

		nlk_real *hm = a.lev[0].in;
		if (m->memfam) {
			NLK(nl_mem_forward)(&m->mem, l, params, a.h, hm, b, t,
			    stream ? &stream->mem : NULL);
			goto residual;
		}
		/* attention sub-block: hm = h + W_o Attn(RoPE q, RoPE k, v) of RMSNorm(h) */
		NLK(nlk_rmsnorm_fwd)(a.a, a.rstd1, a.h, params + w->attn_norm, n, d, eps);
		mul(a.q, a.a, qkv, n, d, d);
		mul(a.k, a.a, qkv + (size_t)d * d, n, d, d);
		mul(a.v, a.a, qkv + 2 * (size_t)d * d, n, d, d);
		if (stream) {      /* t tokens at stream position pos, cache row pos − base */
			int64_t p0 = stream->pos;
			int pc = (int)(stream->pos - stream->base);
			NLK(nlk_rope_fwd)(a.q, a.q, b, t, h, dh, p0, base);
			NLK(nlk_rope_fwd)(a.k, a.k, b, t, h, dh, p0, base);
			nlk_real *kc = stream_kv(m, stream, l, 0), *vc = stream_kv(m, stream, l, 1);
			for (int i = 0; i < b; i++) {
				size_t at = ((size_t)i * stream->cap + pc) * d, from = (size_t)i * t * d;
				memcpy(kc + at, a.k + from, (size_t)t * d * sizeof *kc);
				memcpy(vc + at, a.v + from, (size_t)t * d * sizeof *vc);
			}
			NLK(nlk_attn_cache_fwd)(a.o, stream->att, a.q, kc, vc, b, t, pc, stream->cap,
			    stream->span, h, dh);
		} else {
			NLK(nlk_rope_fwd)(a.q, a.q, b, t, h, dh, 0, base);
			NLK(nlk_rope_fwd)(a.k, a.k, b, t, h, dh, 0, base);
			NLK(nlk_attn_fwd)(a.o, a.att, a.q, a.k, a.v, b, t, h, dh);
		}
		mul(hm, a.o, params + w->w_o, n, d, d);
residual:
		for (size_t i = 0; i < (size_t)n * d; i++)
			hm[i] += a.h[i];

		/* the MLP, or the CMS levels fast to slow, each into the next one's input */
		struct tf_layer_acts next;
		nlk_real *out;
		if (l + 1 < m->layers) {
			layer_acts(m, l + 1, &next);
			out = next.h;
		} else {
			global_acts(m, &g);
			out = g.h;
		}
		for (int v = 0; v < m->levels; v++)
			level_forward(m, params, l, v, &a.lev[v], v + 1 < m->levels ? a.lev[v + 1].in
			    : out, mul);
	}
	global_acts(m, &g);
	NLK(nlk_rmsnorm_fwd)(g.z, g.rstd, g.h, params + m->norm, n, d, eps);
	nlk_real *lg = logits ? logits : g.dlogits;   /* dlogits is free until backward */
	mul(lg, g.z, params + m->embed, n, d, m->vocab);
	m->scored = 0;
	if (targets == NULL)
		return 0;
	for (int i = 0; i < n; i++)
		m->scored += targets[i] >= 0;
	return NLK(nlk_xent_fwd)(g.losses, g.probs, lg, targets, n, m->vocab);
}

static void teach_pass(struct nl_tf *m, const nlk_real *params, const int32_t *ids,
    const int32_t *targets, int b, int t);
static void level_backward(const struct nl_tf *m, const nlk_real *params, nlk_real *grads,
    int l, int v, const struct tf_level_acts *e, const struct tf_global *g,
    struct nl_keylog *kl);

double
NLK(nl_tf_forward)(struct nl_tf *m, const nlk_real *params, const int32_t *ids,
    const int32_t *targets, int b, int t, nlk_real *logits)
{
	m->fast = NULL;
	m->fast_grad = NULL;
	if (m->teach)
		teach_pass(m, params, ids, targets, b, t);
	return tf_forward(m, params, ids, targets, b, t, logits, NULL);
}

/* dmgd's memories of level v of layer l as at step 0 (nl_optim_init's): W_a ~ N(0, 1/cols),
 * the same draw in every stream, and W_b = 0. */
static void
dmgd_reset(const struct nl_tf *m, nlk_real *block, int l, int v)
{
	const size_t h = (size_t)m->rule.hidden;
	for (int k = 0; k < 3; k++) {
		const size_t cols = k < 2 ? (size_t)m->d : (size_t)m->hidden;
		nlk_real *wa = block + dmgd_at(m, k);
		struct nl_rng rng;
		nl_rng_seed(&rng, 0x646d6764u ^ ((uint64_t)l << 16 | (uint64_t)v << 8 | (uint64_t)k));
		for (size_t e = 0; e < h * cols; e++)
			wa[e] = (nlk_real)(nl_rng_normal(&rng) / sqrt((double)cols));
		memset(wa + h * cols, 0, h * cols * sizeof *wa);
	}
}

void
NLK(nl_tf_stream_reset)(const struct nl_tf *m, struct nl_tf_stream *s, const nlk_real *params)
{
	s->pos = 0;
	s->base = 0;
	s->nwin = 0;
	for (int i = 0; i < s->b; i++)
		s->next[i] = -1;
	if (m->memfam)
		NLK(nl_mem_stream_reset)(&m->mem, &s->mem, params);
	if (s->cms == NULL)
		return;
	for (int l = 0; l < m->layers; l++)
		for (int v = 0; v < m->levels; v++)
			for (int i = 0; i < s->b; i++) {
				size_t k = ((size_t)l * m->levels + v) * s->b + i;
				memcpy((void *)s->tab[k], params + m->lay[l].lev[v].w_gate,
				    m->fast_len * sizeof *params);
				/* A and the rule's state start at zero; dgd's pending weights at θ */
				memset(s->gtab[k], 0, (cms_blocks(m) - 1) * m->fast_len * sizeof *params);
				if (m->rule.kind == NL_OPTIM_DGD)
					memcpy(s->gtab[k], s->tab[k], m->fast_len * sizeof *params);
				if (m->rule.kind == NL_OPTIM_DMGD)
					dmgd_reset(m, (nlk_real *)s->gtab[k] + 2 * m->fast_len, l, v);
			}
	memset(s->cms_steps, 0, sizeof s->cms_steps);
}

/* One step of cms.optim on the level v of layer l with weights th, teach signal A and the
 * rule's slots st (fast_len each), t the level's step count. */
static void
cms_rule_step(const struct nl_tf *m, struct nl_tf_stream *s, int l, int v, nlk_real *th,
    const nlk_real *A, nlk_real *st, int64_t t)
{
	const struct nl_tf_cms_rule *r = &m->rule;
	const nlk_real lr = (nlk_real)m->cms_lr, mu = (nlk_real)r->mu;
	const size_t L = m->fast_len;
	const struct nl_tf_level *w = &m->lay[l].lev[v];
	const size_t at[3] = { 0, w->w_up - w->w_gate, w->w_down - w->w_gate };
	const int f = m->hidden, d = m->d;
	switch (r->kind) {
	case NL_OPTIM_MOMENTUM:
		NLK(nlk_momentum_step)(th, st, A, L, lr, mu, 0);
		return;
	case NL_OPTIM_ADAMW:
		NLK(nlk_adamw_step)(th, st, st + L, A, L, lr, (nlk_real)r->beta1, (nlk_real)r->beta2,
		    (nlk_real)r->eps, 0, (int)t);
		return;
	default:
		break;
	}
	for (int k = 0; k < 3; k++) {           /* the matrix rules, one matrix at a time */
		const size_t o = at[k];
		const int rows = k < 2 ? f : d, cols = k < 2 ? d : f;
		const size_t n = (size_t)f * d;
		if (r->kind == NL_OPTIM_DMGD) {
			nlk_real *wa = st + L + dmgd_at(m, k), *wb = wa + (size_t)r->hidden * cols;
			NLK(nlk_dmgd_step)(th + o, st + o, wa, wb, A + o, rows, cols, r->hidden, lr, mu,
			    s->owork);
		} else if (r->kind == NL_OPTIM_DELTA)
			NLK(nlk_delta_momentum_step)(th + o, st + o, r->delta_adam ? st + L + o : NULL,
			    A + o, n, lr, mu, (nlk_real)r->lambda, (nlk_real)r->beta2, (nlk_real)r->eps, 0,
			    (int)t);
		else if (r->kind == NL_OPTIM_MUON)
			NLK(nlk_muon_step)(th + o, st + o, A + o, rows, cols, lr, mu, r->ns_steps,
			    s->owork);
		else
			NLK(nlk_m3_step)(th + o, st + o, st + L + o, st + 3 * L + o, st + 2 * L + o,
			    st + 4 * L + o, A + o, rows, cols, lr, (nlk_real)r->beta1,
			    (nlk_real)r->beta2, (nlk_real)r->beta3, (nlk_real)r->alpha, (nlk_real)r->eps,
			    r->ns_steps, t, r->period, r->kind == NL_OPTIM_M3_EMA, s->owork);
	}
}

/* The levels whose period ends at the stream's position take their step (D8): by default
 * (cms.optim = sgd) θ ← θ − cms.lr · A; then A ← 0. Under dgd, A holds the weights the
 * period's keys have stepped to (level_backward), and θ takes them. */
static void
cms_step(const struct nl_tf *m, struct nl_tf_stream *s)
{
	const nlk_real lr = (nlk_real)m->cms_lr;
	for (int v = 0; v < m->levels; v++) {
		if (m->period[v] <= 0 || s->pos % m->period[v] != 0)
			continue;
		const int64_t t = ++s->cms_steps[v];
		for (int l = 0; l < m->layers; l++)
			for (int i = 0; i < s->b; i++) {
				size_t k = ((size_t)l * m->levels + v) * s->b + i;
				nlk_real *th = (nlk_real *)s->tab[k], *A = s->gtab[k];
				if (m->rule.kind == NL_OPTIM_DGD) {
					memcpy(th, A, m->fast_len * sizeof *A);
					continue;
				}
				if (m->rule.kind == NL_OPTIM_SGD)
					for (size_t e = 0; e < m->fast_len; e++)
						th[e] -= lr * A[e];
				else
					cms_rule_step(m, s, l, v, th, A, A + m->fast_len, t);
				memset(A, 0, m->fast_len * sizeof *A);
			}
	}
}

/* The teach signal of the window just run forward on stream s (D8): the backward of its
 * summed cross-entropy with everything carried in from before it held constant, exact
 * through the window itself, down to the lowest layer's levels; the learning levels' weight
 * gradients go to their accumulators, the memories' to a buffer nothing reads, and no
 * other weight gradient is formed. */
static void tf_backward(struct nl_tf *m, const nlk_real *params, nlk_real *grads,
    double scale, const struct nl_tf_stream *s);

static void
teach_backward(struct nl_tf *m, const nlk_real *params, struct nl_tf_stream *s)
{
	m->fast_grad = s->gtab;
	tf_backward(m, params, s->grads, 1, s);
	m->fast_grad = NULL;
}

/* After a window's forward from its start: the rows of the call's last t tokens — their
 * losses moved to the front, as a call of t tokens leaves them, their logits into logits
 * (if not NULL); returns their summed loss. */
static double
window_tail(struct nl_tf *m, nlk_real *logits, int t)
{
	struct tf_global g;
	const int W = m->t, k = W - t;
	const size_t V = (size_t)m->vocab;
	double sum = 0;
	global_acts(m, &g);
	m->scored = 0;
	for (int i = 0; i < m->b; i++) {
		if (logits)
			memcpy(logits + (size_t)i * t * V, g.dlogits + ((size_t)i * W + k) * V,
			    (size_t)t * V * sizeof *logits);
		for (int j = 0; j < t; j++) {
			size_t r = (size_t)i * W + k + j;
			g.losses[(size_t)i * t + j] = g.losses[r];
			sum += g.losses[r];
			m->scored += m->targets[r] >= 0;
		}
	}
	return sum;
}

/* Whether the cache of s holds positions [from, from + t) with the keys before them that
 * their queries see, dropping (moving out) the keys no query will see again when needed. */
static int
cache_room(const struct nl_tf *m, struct nl_tf_stream *s, long long from, int t)
{
	if (from + t - s->base <= s->cap)
		return 1;
	long long keep = nl_tf_stream_first_key(s);
	if (keep == s->base || from + t - keep > s->cap)
		return 0;
	const size_t row = (size_t)m->d * m->elem, rows = (size_t)(s->pos - keep);
	for (int l = 0; l < m->layers; l++)
		for (int kv = 0; kv < 2; kv++)
			for (int i = 0; i < s->b; i++) {
				char *c = (char *)s->kv + (((size_t)l * 2 + kv) * s->b + i) * s->cap * row;
				memmove(c, c + (size_t)(keep - s->base) * row, rows * row);
			}
	s->base = keep;
	return 1;
}

/* Keep the window's first tokens (ids, targets; −1 where none) after the nwin already kept. */
static void
window_append(const struct nl_tf *m, struct nl_tf_stream *s, const int32_t *ids,
    const int32_t *targets, int t)
{
	const int W = m->teach_len;
	for (int i = 0; i < s->b; i++)
		for (int j = 0; j < t; j++) {
			s->win[(size_t)i * W + s->nwin + j] = ids[(size_t)i * t + j];
			s->win[((size_t)s->b + i) * W + s->nwin + j] = targets ?
			    targets[(size_t)i * t + j] : -1;
		}
}

double
NLK(nl_tf_forward_stream)(struct nl_tf *m, const nlk_real *params, struct nl_tf_stream *s,
    const int32_t *ids, const int32_t *targets, int t, nlk_real *logits, int learn)
{
	const int b = s->b, W = m->teach_len, k = s->nwin;
	const int ends = W > 0 && (s->pos + t) % W == 0;   /* the call ends a teach window */
	double loss;
	learn = learn && m->learns && ends;
	/* pieces stay inside a teach window, which the arena must hold when it is taught;
	 * attention needs room in its cache for what the call runs (a taught window, whole) */
	if (t > m->max_seq || (learn && W > m->max_seq) || (W > 0 && s->pos % W + t > W) ||
	    (!m->memfam && !cache_room(m, s, learn ? s->pos - k : s->pos, learn ? W : t)))
		return NAN;
	m->fast = s->cms ? s->tab : NULL;
	m->fast_chunks = 0;
	m->fast_grad = NULL;
	/* the state a window starts from, when it will be taught or run again */
	if (W > 0 && k == 0 && m->memfam && (learn || !ends)) {
		memcpy(s->mem0.data, s->mem.data, (size_t)m->layers * s->mem.layer_size * m->elem);
		s->mem0.pos = s->mem.pos;
	}
	if (!learn) {
		loss = tf_forward(m, params, ids, targets, b, t, logits, s);
		if (W > 0 && !ends)
			window_append(m, s, ids, targets, t);
		if (W > 0)
			s->nwin = ends ? 0 : k + t;
	} else {
		/* the whole window again from its start (its first k tokens came in earlier
		 * calls; cut anywhere, the same bits), then its teach signal */
		window_append(m, s, ids, targets, t);
		if (k > 0 && m->memfam) {
			memcpy(s->mem.data, s->mem0.data, (size_t)m->layers * s->mem.layer_size *
			    m->elem);
			s->mem.pos = s->mem0.pos;
		}
		s->pos -= k;
		const int32_t *wtg = s->win + (size_t)b * W;
		loss = tf_forward(m, params, s->win, wtg, b, W, k ? NULL : logits, s);
		if (k > 0)
			loss = window_tail(m, logits, t);
		teach_backward(m, params, s);
		s->pos += k;
		s->mem.pos += k;
		s->nwin = 0;
	}
	s->pos += t;
	s->mem.pos += t;
	if (learn)
		cms_step(m, s);
	m->fast = NULL;
	return loss;
}

/* Where level v's fast weights of (layer l, sequence i, chunk c ≥ 1) are kept in snap. */
static nlk_real *
snap_at(const struct nl_tf *m, int l, int v, int i, int c)
{
	nlk_real *p = m->snap;
	for (int u = 0; u < v; u++)
		p += snap_elems(m, u);
	int P = m->period[v], chunks = (m->max_seq + P - 1) / P;
	return p + ((((size_t)l * m->max_batch + i) * (chunks - 1)) + (c - 1)) * m->fast_len;
}

/* The training forward's chunk weights (MODEL §3): a stream over the batch, teach window
 * by window, keeps each level's fast weights at every boundary before t; with frozen
 * updates (nl_tf_freeze) they are the parameters plus the recorded updates instead. */
static void
teach_pass(struct nl_tf *m, const nlk_real *params, const int32_t *ids,
    const int32_t *targets, int b, int t)
{
	struct nl_tf *tm = m->teach;
	struct nl_tf_stream *s = m->ts;
	const int W = m->teach_len;
	int last = 0;                   /* the last boundary before t of any level */
	for (int v = 0; v < m->levels; v++)
		if (snap_elems(m, v) > 0)
			for (int e = m->period[v]; e < t; e += m->period[v])
				last = e > last ? e : last;
	m->b = b;
	m->fast_chunks = m->snap_chunks;
	for (int l = 0; l < m->layers; l++)
		for (int v = 0; v < m->levels; v++)
			for (int i = 0; i < b; i++)
				for (int c = 0; c < m->snap_chunks; c++)
					m->snap_tab[fast_index(m, l, v, i, c)] = snap_elems(m, v) > 0 && c > 0 &&
					    c * m->period[v] < t ? snap_at(m, l, v, i, c) : NULL;
	m->fast = m->snap_tab;
	if (m->delta) {         /* frozen: snap and delta share offsets */
		for (int v = 0; v < m->levels; v++)
			for (int l = 0; l < m->layers; l++)
				for (int i = 0; i < b; i++)
					for (int c = 1; snap_elems(m, v) > 0 && c * m->period[v] < t; c++) {
						nlk_real *q = snap_at(m, l, v, i, c);
						const nlk_real *dq = (const nlk_real *)m->delta +
						    (q - (nlk_real *)m->snap);
						const nlk_real *th = params + m->lay[l].lev[v].w_gate;
						for (size_t e = 0; e < m->fast_len; e++)
							q[e] = th[e] + dq[e];
					}
		return;
	}
	if (s->b != b) {                /* a smaller batch: its first b sequences */
		s->b = b;
		stream_tables(tm, s);
	}
	NLK(nl_tf_stream_reset)(tm, s, params);
	int32_t *wid = m->teach_ids, *wtg = m->teach_ids + (size_t)b * W;
	for (int w0 = 0; w0 < last; w0 += W) {
		for (int i = 0; i < b; i++)
			for (int j = 0; j < W; j++) {
				wid[i * W + j] = ids[(size_t)i * t + w0 + j];
				wtg[i * W + j] = targets ? targets[(size_t)i * t + w0 + j] : -1;
			}
		NLK(nl_tf_forward_stream)(tm, params, s, wid, wtg, W, NULL, 1);
		int e = w0 + W;
		for (int v = 0; v < m->levels; v++) {
			if (snap_elems(m, v) == 0 || e % m->period[v] != 0 || e >= t)
				continue;
			for (int l = 0; l < m->layers; l++)
				for (int i = 0; i < b; i++)
					memcpy(snap_at(m, l, v, i, e / m->period[v]),
					    s->tab[((size_t)l * m->levels + v) * b + i],
					    m->fast_len * sizeof(nlk_real));
		}
	}
}

int
NLK(nl_tf_freeze)(struct nl_tf *m, const nlk_real *params)
{
	if (m->teach == NULL)
		return 0;
	size_t total = 0;
	for (int v = 0; v < m->levels; v++)
		total += snap_elems(m, v);
	free(m->delta);
	/* the chunks the last forward did not reach stay zero: no update */
	if ((m->delta = calloc(total, sizeof(nlk_real))) == NULL)
		return -1;
	/* the last forward's chunk weights minus the parameters they started from */
	nlk_real *dl = m->delta;
	for (int v = 0; v < m->levels; v++)
		for (int l = 0; l < m->layers; l++)
			for (int i = 0; i < m->b; i++)
				for (int c = 1; snap_elems(m, v) > 0 && c * m->period[v] < m->t; c++) {
					const nlk_real *q = snap_at(m, l, v, i, c);
					const nlk_real *th = params + m->lay[l].lev[v].w_gate;
					size_t off = (size_t)(q - (const nlk_real *)m->snap);
					for (size_t e = 0; e < m->fast_len; e++)
						dl[off + e] = q[e] - th[e];
				}
	return 0;
}

/* Reverse of level_forward: g->dh (∂loss/∂out) becomes ∂loss/∂in, reaching it directly and
 * through the block; every chunk's weight gradient goes to the parameters' (first-order, its
 * keys to kl), or in a teach pass a learning level's to its accumulator (grads NULL: none
 * formed) — under cms.optim = dgd, its keys step the accumulator's pending weights instead. */
static void
level_backward(const struct nl_tf *m, const nlk_real *params, nlk_real *grads, int l, int v,
    const struct tf_level_acts *e, const struct tf_global *g, struct nl_keylog *kl)
{
	const struct nl_tf_level *w = &m->lay[l].lev[v];
	const int d = m->d, f = m->hidden, n = m->b * m->t;
	const int blocked = level_blocked(m, v), P = blocked ? m->period[v] : m->t;
	const size_t nd = (size_t)n * d, nf = (size_t)n * f;
	const size_t up = w->w_up - w->w_gate, down = w->w_down - w->w_gate;
	memset(g->ds, 0, nf * sizeof *g->ds);
	memset(g->dg, 0, nf * sizeof *g->dg);
	memset(g->du, 0, nf * sizeof *g->du);
	memset(g->dm, 0, nd * sizeof *g->dm);
	for (int i = 0; i < (blocked ? m->b : 1); i++)
		for (int c = 0; c * P < m->t; c++) {
			const nlk_real *wb = level_base(m, params, l, v, i, c);
			/* the teach pass sends a learning level's gradient to its accumulator */
			const int teach = m->fast_grad && m->period[v] > 0;
			nlk_real *gb = teach ? m->fast_grad[fast_index(m, l, v, i, c)]
			    : at(grads, w->w_gate);
			/* dgd: the keys step the pending weights in gb, no gradient is formed */
			nlk_real *pending = teach && m->rule.kind == NL_OPTIM_DGD ? gb : NULL;
			if (pending)
				gb = NULL;
			size_t r = (size_t)i * m->t + (size_t)c * P;
			int rn = blocked ? (m->t - c * P < P ? m->t - c * P : P) : n;
			/* the three maps' keys: inputs x [rn, cols] and output gradients dy [rn, rows] */
			const struct { size_t at; int rows, cols; const nlk_real *x, *dy; } map[3] = {
				{ down, d, f, e->s + r * f, g->dh + r * d },
				{ 0, f, d, e->z + r * d, g->dg + r * f },
				{ up, f, d, e->z + r * d, g->du + r * f },
			};
			NLK(nlk_matmul_bwd)(g->ds + r * f, at(gb, down), g->dh + r * d,
			    e->s + r * f, wb + down, rn, f, d);
			NLK(nlk_swiglu_bwd)(g->dg + r * f, g->du + r * f, g->ds + r * f, e->g + r * f,
			    e->u + r * f, (size_t)rn * f);
			NLK(nlk_matmul_bwd)(g->dm + r * d, gb, g->dg + r * f, e->z + r * d, wb, rn, d, f);
			NLK(nlk_matmul_bwd)(g->dm + r * d, at(gb, up), g->du + r * f,
			    e->z + r * d, wb + up, rn, d, f);
			for (int k = 0; k < 3; k++) {
				if (pending)
					NLK(nlk_dgd_keys)(pending + map[k].at, map[k].x, map[k].dy, rn,
					    map[k].rows, map[k].cols, (nlk_real)m->cms_lr, 1,
					    (nlk_real *)m->dgd_work);
				else if (!teach)
					nl_keylog_add(kl, w->w_gate + map[k].at, map[k].rows, map[k].cols,
					    map[k].x, map[k].dy, rn, sizeof *map[k].x);
			}
		}
	NLK(nlk_rmsnorm_bwd)(g->dh, at(grads, w->norm), g->dm, e->in, params + w->norm, e->rstd, n,
	    d);
}

/* The backward of the last forward: of a training forward (s NULL), or of a stream window
 * with everything carried in from before it held constant (s: the stream, its state before
 * the window in s->mem0, attention's earlier keys and values in its cache). */
static void
tf_backward(struct nl_tf *m, const nlk_real *params, nlk_real *grads, double scale,
    const struct nl_tf_stream *s)
{
	const int b = m->b, t = m->t, d = m->d, h = m->heads, dh = d / h;
	const int n = b * t, pc = s ? (int)(s->pos - s->base) : 0;
	const int64_t p0 = s ? s->pos : 0;
	const size_t nd = (size_t)n * d;
	const nlk_real base = (nlk_real)m->rope_base;
	/* a teach pass wants the levels' gradients only: the dense ones are skipped (NULL) and
	 * the memories' go to the stream's scratch */
	nlk_real *dense = s ? NULL : grads;
	struct nl_keylog *kl = s ? NULL : m->keys;
	struct tf_global g;
	struct tf_layer_acts a;

	global_acts(m, &g);
	/* head: logits = z·Eᵀ, z = RMSNorm(h_L) */
	memset(g.dlogits, 0, (size_t)n * m->vocab * sizeof *g.dlogits);
	NLK(nlk_xent_bwd)(g.dlogits, g.probs, m->targets, n, m->vocab, (nlk_real)scale);
	memset(g.dz, 0, nd * sizeof *g.dz);
	NLK(nlk_matmul_bwd)(g.dz, at(dense, m->embed), g.dlogits, g.z, params + m->embed, n, d,
	    m->vocab);
	memset(g.dh, 0, nd * sizeof *g.dh);
	NLK(nlk_rmsnorm_bwd)(g.dh, at(dense, m->norm), g.dz, g.h, params + m->norm, g.rstd, n, d);

	/* g.dh carries ∂loss/∂(residual stream) down through the layers */
	for (int l = m->layers - 1; l >= 0; l--) {
		const struct nl_tf_layer *w = &m->lay[l];
		const nlk_real *qkv = params + w->w_qkv;
		nlk_real *dqkv = at(dense, w->w_qkv);
		layer_acts(m, l, &a);

		for (int v = m->levels - 1; v >= 0; v--)
			level_backward(m, params, dense, l, v, &a.lev[v], &g, kl);
		if (s && l == 0)
			break;          /* no level below learns */

		if (m->memfam) {
			/* g.dh is read whole by the mixer's first step before it accumulates dx */
			m->mem.keys = kl;
			NLK(nl_mem_backward)(&m->mem, l, params, grads, a.h, g.dh, g.dh,
			    s ? &s->mem0 : NULL);
			continue;
		}
		/* attention; in a stream window the keys and values before it are constants */
		nlk_real *dk = s ? s->dkv : g.dk, *dv = s ? (nlk_real *)s->dkv + nd : g.dv;
		memset(g.dout, 0, nd * sizeof *g.dout);
		NLK(nlk_matmul_bwd)(g.dout, at(dense, w->w_o), g.dh, a.o, params + w->w_o, n, d, d);
		nl_keylog_add(kl, w->w_o, d, d, a.o, g.dh, n, sizeof *g.dh);
		memset(g.dq, 0, nd * sizeof *g.dq);
		memset(dk, 0, nd * sizeof *dk);
		memset(dv, 0, nd * sizeof *dv);
		if (s)
			NLK(nlk_attn_cache_bwd)(g.dq, dk, dv, s->att, g.dout, a.q, stream_kv(m, s, l, 0),
			    stream_kv(m, s, l, 1), b, t, pc, s->cap, s->span, h, dh);
		else
			NLK(nlk_attn_bwd)(g.dq, dk, dv, g.scratch, g.dout, a.q, a.k, a.v, a.att, b, t, h,
			    dh);
		memset(g.dqp, 0, nd * sizeof *g.dqp);
		memset(g.dkp, 0, nd * sizeof *g.dkp);
		NLK(nlk_rope_bwd)(g.dqp, g.dq, b, t, h, dh, p0, base);
		NLK(nlk_rope_bwd)(g.dkp, dk, b, t, h, dh, p0, base);
		memset(g.da, 0, nd * sizeof *g.da);
		NLK(nlk_matmul_bwd)(g.da, dqkv, g.dqp, a.a, qkv, n, d, d);
		NLK(nlk_matmul_bwd)(g.da, at(dqkv, (size_t)d * d), g.dkp, a.a, qkv + (size_t)d * d,
		    n, d, d);
		NLK(nlk_matmul_bwd)(g.da, at(dqkv, 2 * (size_t)d * d), dv, a.a,
		    qkv + 2 * (size_t)d * d, n, d, d);
		const nlk_real *dys[3] = { g.dqp, g.dkp, dv };       /* rows q, k, v of w_qkv */
		for (int k = 0; k < 3; k++)
			nl_keylog_add(kl, w->w_qkv + (size_t)k * d * d, d, d, a.a, dys[k], n,
			    sizeof *a.a);
		NLK(nlk_rmsnorm_bwd)(g.dh, at(dense, w->attn_norm), g.da, a.h, params + w->attn_norm,
		    a.rstd1, n, d);
	}
	if (s == NULL)
		NLK(nlk_embed_bwd)(grads + m->embed, g.dh, m->ids, n, d);
}

void
NLK(nl_tf_backward)(struct nl_tf *m, const nlk_real *params, nlk_real *grads, double scale)
{
	tf_backward(m, params, grads, scale, NULL);
}
