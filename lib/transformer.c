/* nl — see LICENSE. Transformer++ forward and backward (MODEL D1, §1.2, §2.5); compiled
 * twice, see transformer.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "real.h"
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

#ifndef NLK_F64
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
			if (per[v] > 0 && c->cms_lr > 0) {
				nl_tf_free(m);
				return nl_err_set(err, NL_EUNSUPPORTED, "CMS levels that learn in "
				    "context are not built yet: set cms.periods to 0 (outer-only "
				    "levels) or cms.lr to 0");
			}
		}
	}
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
	if (m->arena == NULL) {
		nl_tf_free(m);
		return nl_err_set(err, NL_ENOMEM, "out of memory for activations (%.0f MiB)",
		    total / 1048576);
	}
	return 0;
}

void
nl_tf_free(struct nl_tf *m)
{
	if (m->memfam)
		nl_mem_free(&m->mem);
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
 * chunk's fast weights, as a base from which the level's offsets minus w_gate index. */
static const nlk_real *
level_base(const struct nl_tf *m, const nlk_real *params, int l, int v, int i, int c)
{
	const nlk_real *p = NULL;
	if (m->fast && c > 0)
		p = m->fast[(((size_t)l * m->levels + v) * m->b + i) * m->fast_chunks + c];
	return p ? p : params + m->lay[l].lev[v].w_gate;
}

/* Whether level v runs in blocks of its period (rows of one sequence and chunk each). */
static int
level_blocked(const struct nl_tf *m, int v)
{
	return m->fast && m->period[v] > 0 && m->period[v] < m->t;
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

static double
tf_forward(struct nl_tf *m, const nlk_real *params, const int32_t *ids,
    const int32_t *targets, int b, int t, nlk_real *logits, struct nl_mem_stream *stream)
{
	const int d = m->d, h = m->heads, dh = d / h, n = b * t;
	const nlk_real eps = (nlk_real)m->eps, base = (nlk_real)m->rope_base;
	struct tf_layer_acts a;
	struct tf_global g;
	/* a stream's rows must round alike however it is cut (nlk_matmul_rows_fwd) */
	matmul_fn *mul = stream ? NLK(nlk_matmul_rows_fwd) : NLK(nlk_matmul_fwd);

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
			NLK(nl_mem_forward)(&m->mem, l, params, a.h, hm, b, t, stream);
			goto residual;
		}
		/* attention sub-block: hm = h + W_o Attn(RoPE q, RoPE k, v) of RMSNorm(h) */
		NLK(nlk_rmsnorm_fwd)(a.a, a.rstd1, a.h, params + w->attn_norm, n, d, eps);
		mul(a.q, a.a, qkv, n, d, d);
		mul(a.k, a.a, qkv + (size_t)d * d, n, d, d);
		mul(a.v, a.a, qkv + 2 * (size_t)d * d, n, d, d);
		NLK(nlk_rope_fwd)(a.q, a.q, b, t, h, dh, 0, base);
		NLK(nlk_rope_fwd)(a.k, a.k, b, t, h, dh, 0, base);
		NLK(nlk_attn_fwd)(a.o, a.att, a.q, a.k, a.v, b, t, h, dh);
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

double
NLK(nl_tf_forward)(struct nl_tf *m, const nlk_real *params, const int32_t *ids,
    const int32_t *targets, int b, int t, nlk_real *logits)
{
	return tf_forward(m, params, ids, targets, b, t, logits, NULL);
}

double
NLK(nl_tf_forward_stream)(struct nl_tf *m, const nlk_real *params, struct nl_mem_stream *s,
    const int32_t *ids, const int32_t *targets, int t, nlk_real *logits)
{
	double loss = tf_forward(m, params, ids, targets, s->b, t, logits, s);
	s->pos += t;
	return loss;
}

/* Reverse of level_forward: g->dh (∂loss/∂out) becomes ∂loss/∂in, reaching it directly and
 * through the block; every chunk's weight gradient goes to the parameters' (first-order). */
static void
level_backward(const struct nl_tf *m, const nlk_real *params, nlk_real *grads, int l, int v,
    const struct tf_level_acts *e, const struct tf_global *g)
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
			size_t r = (size_t)i * m->t + (size_t)c * P;
			int rn = blocked ? (m->t - c * P < P ? m->t - c * P : P) : n;
			NLK(nlk_matmul_bwd)(g->ds + r * f, grads + w->w_down, g->dh + r * d, e->s + r * f,
			    wb + down, rn, f, d);
			NLK(nlk_swiglu_bwd)(g->dg + r * f, g->du + r * f, g->ds + r * f, e->g + r * f,
			    e->u + r * f, (size_t)rn * f);
			NLK(nlk_matmul_bwd)(g->dm + r * d, grads + w->w_gate, g->dg + r * f, e->z + r * d,
			    wb, rn, d, f);
			NLK(nlk_matmul_bwd)(g->dm + r * d, grads + w->w_up, g->du + r * f, e->z + r * d,
			    wb + up, rn, d, f);
		}
	NLK(nlk_rmsnorm_bwd)(g->dh, grads + w->norm, g->dm, e->in, params + w->norm, e->rstd, n, d);
}

void
NLK(nl_tf_backward)(struct nl_tf *m, const nlk_real *params, nlk_real *grads, double scale)
{
	const int b = m->b, t = m->t, d = m->d, h = m->heads, dh = d / h;
	const int n = b * t;
	const size_t nd = (size_t)n * d;
	const nlk_real base = (nlk_real)m->rope_base;
	struct tf_global g;
	struct tf_layer_acts a;

	global_acts(m, &g);
	/* head: logits = z·Eᵀ, z = RMSNorm(h_L) */
	memset(g.dlogits, 0, (size_t)n * m->vocab * sizeof *g.dlogits);
	NLK(nlk_xent_bwd)(g.dlogits, g.probs, m->targets, n, m->vocab, (nlk_real)scale);
	memset(g.dz, 0, nd * sizeof *g.dz);
	NLK(nlk_matmul_bwd)(g.dz, grads + m->embed, g.dlogits, g.z, params + m->embed, n, d,
	    m->vocab);
	memset(g.dh, 0, nd * sizeof *g.dh);
	NLK(nlk_rmsnorm_bwd)(g.dh, grads + m->norm, g.dz, g.h, params + m->norm, g.rstd, n, d);

	/* g.dh carries ∂loss/∂(residual stream) down through the layers */
	for (int l = m->layers - 1; l >= 0; l--) {
		const struct nl_tf_layer *w = &m->lay[l];
		const nlk_real *qkv = params + w->w_qkv;
		nlk_real *dqkv = grads + w->w_qkv;
		layer_acts(m, l, &a);

		for (int v = m->levels - 1; v >= 0; v--)
			level_backward(m, params, grads, l, v, &a.lev[v], &g);

		if (m->memfam) {
			/* g.dh is read whole by the mixer's first step before it accumulates dx */
			NLK(nl_mem_backward)(&m->mem, l, params, grads, a.h, g.dh, g.dh, NULL);
			continue;
		}
		/* attention */
		memset(g.dout, 0, nd * sizeof *g.dout);
		NLK(nlk_matmul_bwd)(g.dout, grads + w->w_o, g.dh, a.o, params + w->w_o, n, d, d);
		memset(g.dq, 0, nd * sizeof *g.dq);
		memset(g.dk, 0, nd * sizeof *g.dk);
		memset(g.dv, 0, nd * sizeof *g.dv);
		NLK(nlk_attn_bwd)(g.dq, g.dk, g.dv, g.scratch, g.dout, a.q, a.k, a.v, a.att, b, t, h,
		    dh);
		memset(g.dqp, 0, nd * sizeof *g.dqp);
		memset(g.dkp, 0, nd * sizeof *g.dkp);
		NLK(nlk_rope_bwd)(g.dqp, g.dq, b, t, h, dh, 0, base);
		NLK(nlk_rope_bwd)(g.dkp, g.dk, b, t, h, dh, 0, base);
		memset(g.da, 0, nd * sizeof *g.da);
		NLK(nlk_matmul_bwd)(g.da, dqkv, g.dqp, a.a, qkv, n, d, d);
		NLK(nlk_matmul_bwd)(g.da, dqkv + (size_t)d * d, g.dkp, a.a, qkv + (size_t)d * d, n,
		    d, d);
		NLK(nlk_matmul_bwd)(g.da, dqkv + 2 * (size_t)d * d, g.dv, a.a,
		    qkv + 2 * (size_t)d * d, n, d, d);
		NLK(nlk_rmsnorm_bwd)(g.dh, grads + w->attn_norm, g.da, a.h, params + w->attn_norm,
		    a.rstd1, n, d);
	}
	NLK(nlk_embed_bwd)(grads + m->embed, g.dh, m->ids, n, d);
}
