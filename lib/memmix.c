/* nl — see LICENSE. Memory mixers (see memmix.h); compiled twice like kernels/. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memmix.h"
#include "real.h"
#include "kernels.h"
#include "dtype.h"
#include "optim.h"

#define ALIGN 16

static size_t
round_up(size_t n)
{
	return (n + ALIGN - 1) / ALIGN * ALIGN;
}

/* Elements of one head's state of a memory with output width dout: W1 W2 S1 S2. */
static size_t
unit_state(const struct nl_mem *mm, int dout)
{
	return 2 * ((size_t)dout * mm->dh + (size_t)mm->dh * mm->dh);
}

static int
n_chunks(int t, int c)
{
	return (t + c - 1) / c;
}

/* Whether a family has unit u (in trajectory order: the enum's), and each one's chunk
 * size. */
static int
unit_on(const struct nl_mem *mm, int u)
{
	return mm->titans ? u == NL_MU_MEM : u != NL_MU_Q || mm->adaptive_q;
}

static int
unit_chunk(const struct nl_mem *mm, int u)
{
	return u == NL_MU_MEM ? mm->chunk : mm->chunk_other;
}

/* A (sequence, head)'s trajectory: for each unit, the state at every chunk boundary of the
 * longest sequence (which a stream may start inside a chunk), units one after the other. */
static size_t
unit_offset(const struct nl_mem *mm, const struct nl_mem_layer *w, int u)
{
	size_t off = 0;
	for (int v = 0; v < u; v++) {
		int c = unit_chunk(mm, v);
		if (!unit_on(mm, v))
			continue;
		off += (size_t)(n_chunks(mm->max_seq + c - 1, c) + 1) * unit_state(mm, w->u[v].dout);
	}
	return off;
}

static size_t
traj_size(const struct nl_mem *mm, const struct nl_mem_layer *w)
{
	return round_up(unit_offset(mm, w, NL_MU_COUNT));
}

/* A stream's (sequence, head) block: the units' states, then the pending chunk's K, V
 * [chunk, dh] and η, α, β [chunk]; a layer: b blocks per head, then each conv's context
 * [b, 3, d]. */
static size_t
stream_head_size(const struct nl_mem *mm)
{
	size_t n = 0;
	for (int u = 0; u < NL_MU_COUNT; u++)
		if (unit_on(mm, u))
			n += unit_state(mm, mm->lay[0].u[u].dout);
	return n + (size_t)mm->chunk * (2 * (size_t)mm->dh + 3);
}

/* Slot sizes in elements for the largest batch. */
struct mm_sizes {
	size_t n, nd, nh, per_layer, unit, traj, dstate, shead, pend, scratch;
	int cmax;
};

static struct mm_sizes
mm_sizes(const struct nl_mem *mm)
{
	struct mm_sizes s;
	size_t dh = (size_t)mm->dh;
	s.cmax = mm->chunk > mm->chunk_other ? mm->chunk : mm->chunk_other;
	size_t c = (size_t)s.cmax;
	s.n = round_up((size_t)mm->max_batch * mm->max_seq);
	s.nd = round_up(s.n * mm->d);
	s.nh = round_up(s.n * mm->heads);
	/* titans: 22 nd, rstd, 12 nh; selfmod: 29 nd, rstd, 8 nh (acts_of) */
	s.per_layer = (mm->titans ? 22 : 29) * s.nd + s.n + (mm->titans ? 12 : 8) * s.nh;
	/* one head's chunk work (unit_work_of) */
	s.unit = round_up(12 * c * dh + 6 * c + 6 * dh +
	    NLK(nlk_mem_write_scratch)((int)c, (int)dh, (int)dh, (int)dh));
	s.traj = traj_size(mm, &mm->lay[0]);
	s.dstate = round_up(NL_MU_COUNT * unit_state(mm, mm->dh));
	/* a segment's backward: a copy of a stream's (sequence, head) block, a pending chunk
	 * with the segment's first tokens appended, and its adjoints */
	s.shead = round_up(stream_head_size(mm));
	s.pend = round_up((size_t)mm->chunk * (2 * dh + 3));
	/* backward: 14 nd, 6 nh, then unit work, one trajectory, adjoints of the states, the
	 * segment's slots */
	s.scratch = 14 * s.nd + 6 * s.nh + s.unit + s.traj + s.dstate + s.shead + 2 * s.pend;
	return s;
}

#ifndef NLK_F64
/* Parameter and state names of the memories, in the enum's order. */
static const char *const unit_names[NL_MU_COUNT] = { "k", "v", "eta", "alpha", "q", "mem" };

int
nl_mem_family(const struct nl_config *c)
{
	return strcmp(c->model, "titans") == 0 || strcmp(c->model, "selfmod") == 0 ||
	    strcmp(c->model, "hope") == 0;
}

static int
step_rule(const char *name, int *ema)
{
	static const char *const rules[] = { "literal", "prox", "prox-chunk", "mean" };
	size_t len = strcspn(name, "+");
	*ema = strcmp(name, "ema") == 0 || strcmp(name + len, "+ema") == 0;
	if (strcmp(name, "ema") == 0)
		return NLK_STEP_LITERAL;
	for (int i = 0; i < 4; i++)
		if (strlen(rules[i]) == len && strncmp(name, rules[i], len) == 0)
			return i;
	return -1;
}

int
nl_mem_init(struct nl_mem *mm, const struct nl_config *c, const struct nl_layout *lo,
    int max_batch, int max_seq, size_t elem, struct nl_err *err)
{
	memset(mm, 0, sizeof *mm);
	mm->titans = strcmp(c->model, "titans") == 0;
	mm->d = (int)c->d_model;
	mm->heads = (int)c->heads;
	mm->dh = mm->d / mm->heads;
	mm->layers = (int)c->layers;
	mm->chunk = (int)c->chunk_memory;
	mm->chunk_other = mm->titans ? mm->chunk : (int)c->chunk_other;
	mm->eta_max = c->eta_max;
	mm->eps = c->norm_eps;
	mm->rule = step_rule(c->inner_step, &mm->ema);
	/* titans always has momentum and never the projector (MODEL §1.2) */
	mm->momentum = mm->titans || c->inner_momentum;
	mm->projector = !mm->titans && c->projector;
	mm->adaptive_q = !mm->titans && c->adaptive_q;
	mm->meta = strcmp(c->meta_grad, "first") == 0 ? NL_META_FIRST
	    : strcmp(c->meta_grad, "none") == 0 ? NL_META_NONE : NL_META_FULL;
	mm->max_batch = max_batch;
	mm->max_seq = max_seq;
	mm->elem = elem;
	if (mm->rule < 0)
		return nl_err_set(err, NL_EFORMAT, "unknown inner_step '%s'", c->inner_step);

#define OFFSET(dst, ...) do { if (nl_layout_offsetf(lo, &(dst), err, __VA_ARGS__)) { \
		nl_mem_free(mm); \
		return -1; } } while (0)
	mm->lay = calloc((size_t)mm->layers, sizeof *mm->lay);
	if (mm->lay == NULL)
		return nl_err_set(err, NL_ENOMEM, "out of memory");
	for (int l = 0; l < mm->layers; l++) {
		struct nl_mem_layer *y = &mm->lay[l];
		OFFSET(y->norm, "layers.%d.mix.norm.weight", l);
		if (!mm->adaptive_q)
			OFFSET(y->w_q, "layers.%d.mix.w_q", l);
		OFFSET(y->w_g, "layers.%d.mix.w_g", l);
		OFFSET(y->w_o, "layers.%d.mix.w_o", l);
		OFFSET(y->out_norm, "layers.%d.mix.out_norm.weight", l);
		if (mm->titans) {
			OFFSET(y->w_k, "layers.%d.mix.w_k", l);
			OFFSET(y->w_v, "layers.%d.mix.w_v", l);
			OFFSET(y->conv_q, "layers.%d.mix.conv_q", l);
			OFFSET(y->conv_k, "layers.%d.mix.conv_k", l);
			OFFSET(y->conv_v, "layers.%d.mix.conv_v", l);
			OFFSET(y->w_eta, "layers.%d.mix.w_eta", l);
			OFFSET(y->b_eta, "layers.%d.mix.b_eta", l);
			OFFSET(y->w_beta, "layers.%d.mix.w_beta", l);
			OFFSET(y->b_beta, "layers.%d.mix.b_beta", l);
			OFFSET(y->w_a, "layers.%d.mix.w_a", l);
			OFFSET(y->b_a, "layers.%d.mix.b_a", l);
		} else {
			OFFSET(y->w_x, "layers.%d.mix.w_x", l);
			OFFSET(y->conv, "layers.%d.mix.conv", l);
			OFFSET(y->b_alpha, "layers.%d.mix.b_alpha", l);
			if (mm->momentum)
				OFFSET(y->b_beta, "layers.%d.mix.b_beta", l);
		}
		for (int u = 0; u < NL_MU_COUNT; u++) {
			if (!unit_on(mm, u))
				continue;
			OFFSET(y->u[u].w1, "layers.%d.mix.m_%s.w1", l, unit_names[u]);
			OFFSET(y->u[u].w2, "layers.%d.mix.m_%s.w2", l, unit_names[u]);
			y->u[u].dout = u == NL_MU_ETA || u == NL_MU_ALPHA ? 1 : mm->dh;
			y->u[u].resid = y->u[u].dout == mm->dh;
		}
	}
#undef OFFSET
	struct mm_sizes s = mm_sizes(mm);
	for (int l = 0; l < mm->layers; l++)
		if ((mm->lay[l].acts = malloc(s.per_layer * elem)) == NULL) {
			nl_mem_free(mm);
			return nl_err_set(err, NL_ENOMEM, "out of memory for memory activations");
		}
	if ((mm->scratch = malloc(s.scratch * elem)) == NULL) {
		nl_mem_free(mm);
		return nl_err_set(err, NL_ENOMEM, "out of memory for memory activations");
	}
	return 0;
}

static int
n_convs(const struct nl_mem *mm)
{
	return mm->titans ? 3 : 1;
}

int
nl_mem_stream_init(const struct nl_mem *mm, struct nl_mem_stream *s, int b, struct nl_err *err)
{
	memset(s, 0, sizeof *s);
	if (b < 1 || b > mm->max_batch)
		return nl_err_set(err, NL_ERANGE, "%d streams: 1 to %d", b, mm->max_batch);
	s->b = b;
	s->exact = 1;
	s->head_size = stream_head_size(mm);
	s->layer_size = (size_t)b * mm->heads * s->head_size + (size_t)n_convs(mm) * b * 3 * mm->d;
	if ((s->data = calloc((size_t)mm->layers * s->layer_size, mm->elem)) == NULL)
		return nl_err_set(err, NL_ENOMEM, "out of memory for the memory state");
	return 0;
}

void
nl_mem_stream_free(struct nl_mem_stream *s)
{
	free(s->data);
	memset(s, 0, sizeof *s);
}

int
nl_state_part_add(struct nl_state_part *parts, int n, const char *name, int dtype,
    size_t elem, void *base, size_t blocks, size_t len, size_t stride, int rank,
    const uint64_t *dims)
{
	if (parts == NULL)
		return n + 1;
	struct nl_state_part *p = &parts[n];
	snprintf(p->name, sizeof p->name, "%s", name);
	p->dtype = dtype;
	p->rank = rank;
	memcpy(p->dims, dims, (size_t)rank * sizeof *dims);
	p->base = base;
	p->blocks = blocks;
	p->len = len * elem;
	p->stride = stride * elem;
	return n + 1;
}

int
nl_mem_stream_parts(const struct nl_mem *mm, const struct nl_mem_stream *s,
    struct nl_state_part *parts)
{
	static const char *const what[4] = { "w1", "w2", "s1", "s2" };
	static const char *const pend[5] = { "k", "v", "eta", "alpha", "beta" };
	static const char *const conv[2][3] = { { "conv", "", "" }, { "conv_q", "conv_k", "conv_v" } };
	const size_t e = mm->elem, b = (size_t)s->b, H = (size_t)mm->heads, dh = (size_t)mm->dh;
	const size_t C = (size_t)mm->chunk, np = (size_t)(s->pos % mm->chunk);
	const int dt = e == sizeof(double) ? NL_DTYPE_F64 : NL_DTYPE_F32;
	char name[64];
	int n = 0;
	for (int l = 0; l < mm->layers; l++) {
		char *layer = (char *)s->data + (size_t)l * s->layer_size * e;
		size_t off = 0;                 /* elements into a (sequence, head) block */
		for (int u = 0; u < NL_MU_COUNT; u++) {
			if (!unit_on(mm, u))
				continue;
			size_t rows = (size_t)mm->lay[l].u[u].dout;
			for (int k = 0; k < 4; k++) {
				size_t r = k % 2 ? dh : rows;
				uint64_t dims[4] = { b, H, r, dh };
				snprintf(name, sizeof name, "layers.%d.mix.m_%s.%s", l, unit_names[u],
				    what[k]);
				n = nl_state_part_add(parts, n, name, dt, e, layer + off * e, b * H, r * dh,
				    s->head_size, 4, dims);
				off += r * dh;
			}
		}
		for (int k = 0; k < 5; k++) {
			uint64_t dims[4] = { b, H, np, dh };
			snprintf(name, sizeof name, "layers.%d.mix.pending.%s", l, pend[k]);
			n = nl_state_part_add(parts, n, name, dt, e, layer + off * e, b * H,
			    k < 2 ? np * dh : np, s->head_size, k < 2 ? 4 : 3, dims);
			off += k < 2 ? C * dh : C;
		}
		for (int c = 0; c < n_convs(mm); c++) {
			const size_t ctx = b * 3 * mm->d;       /* as stream_conv_ctx */
			uint64_t dims[3] = { b, 3, (uint64_t)mm->d };
			snprintf(name, sizeof name, "layers.%d.mix.%s.state", l, conv[mm->titans][c]);
			n = nl_state_part_add(parts, n, name, dt, e,
			    layer + (b * H * s->head_size + c * ctx) * e, 1, ctx, 0, 3, dims);
		}
	}
	return n;
}

void
nl_mem_free(struct nl_mem *mm)
{
	if (mm->lay)
		for (int l = 0; l < mm->layers; l++) {
			free(mm->lay[l].acts);
			free(mm->lay[l].frozen);
		}
	free(mm->lay);
	free(mm->scratch);
	memset(mm, 0, sizeof *mm);
}
#endif

/* ---- activations ---- */

struct mm_acts {
	/* both */
	nlk_real *xn, *q, *Qh, *hpq, *acq, *Oh, *o, *on, *gp, *pr, *rstd, *invq, *ostd;
	/* titans */
	nlk_real *pq, *pk, *pv, *cq, *ck, *cv, *sq, *sk, *v, *k, *Kh, *Vh, *invk;
	nlk_real *z[3], *sg[3], *gh[3];
	/* selfmod: x' and the reads of M_k, M_v, M_η, M_α, M_q (head-major) */
	nlk_real *pre, *xc, *qp, *Xh, *RK, *K, *hpk, *ack, *RV, *V, *hpv, *acv, *hpe, *ace, *hpa;
	nlk_real *aca, *invK, *invV, *ZE, *ETA, *ZA, *ALP, *RQ, *hpqm, *acqm;
};

static void
acts_of(const struct nl_mem *mm, int l, struct mm_acts *a)
{
	struct mm_sizes s = mm_sizes(mm);
	nlk_real *p = mm->lay[l].acts;
	memset(a, 0, sizeof *a);
	if (mm->titans) {
		nlk_real **nd[] = { &a->xn, &a->pq, &a->pk, &a->pv, &a->cq, &a->ck, &a->cv, &a->sq,
		    &a->sk, &a->v, &a->q, &a->k, &a->Qh, &a->Kh, &a->Vh, &a->Oh, &a->hpq, &a->acq,
		    &a->o, &a->on, &a->gp, &a->pr };
		for (size_t i = 0; i < sizeof nd / sizeof nd[0]; i++, p += s.nd)
			*nd[i] = p;
		a->rstd = p, p += s.n;
		nlk_real **nh[] = { &a->invq, &a->invk, &a->ostd, &a->z[0], &a->z[1], &a->z[2],
		    &a->sg[0], &a->sg[1], &a->sg[2], &a->gh[0], &a->gh[1], &a->gh[2] };
		for (size_t i = 0; i < sizeof nh / sizeof nh[0]; i++, p += s.nh)
			*nh[i] = p;
		/* the write's keys, targets and gates, named as selfmod's */
		a->K = a->Kh, a->V = a->Vh, a->ETA = a->gh[0], a->ALP = a->gh[2];
		return;
	}
	nlk_real **nd[] = { &a->xn, &a->pre, &a->xc, &a->qp, &a->q, &a->o, &a->on, &a->gp, &a->pr,
	    &a->Xh, &a->Qh, &a->hpq, &a->acq, &a->Oh, &a->RK, &a->K, &a->hpk, &a->ack, &a->RV,
	    &a->V, &a->hpv, &a->acv, &a->hpe, &a->ace, &a->hpa, &a->aca, &a->RQ, &a->hpqm,
	    &a->acqm };
	for (size_t i = 0; i < sizeof nd / sizeof nd[0]; i++, p += s.nd)
		*nd[i] = p;
	a->rstd = p, p += s.n;
	nlk_real **nh[] = { &a->invq, &a->ostd, &a->invK, &a->invV, &a->ZE, &a->ETA, &a->ZA,
	    &a->ALP };
	for (size_t i = 0; i < sizeof nh / sizeof nh[0]; i++, p += s.nh)
		*nh[i] = p;
}

/* [b, t, H·dh] <-> [b, H, t, dh] */
static void
to_heads(nlk_real *dst, const nlk_real *src, int b, int t, int h, int dh)
{
	for (int i = 0; i < b; i++)
		for (int j = 0; j < h; j++)
			for (int p = 0; p < t; p++)
				memcpy(dst + (((size_t)i * h + j) * t + p) * dh,
				    src + ((size_t)i * t + p) * h * dh + (size_t)j * dh,
				    (size_t)dh * sizeof *dst);
}

/* dst += src transposed back */
static void
from_heads_add(nlk_real *dst, const nlk_real *src, int b, int t, int h, int dh)
{
	for (int i = 0; i < b; i++)
		for (int j = 0; j < h; j++)
			for (int p = 0; p < t; p++) {
				nlk_real *o = dst + ((size_t)i * t + p) * h * dh + (size_t)j * dh;
				const nlk_real *x = src + (((size_t)i * h + j) * t + p) * dh;
				for (int c = 0; c < dh; c++)
					o[c] += x[c];
			}
}

/* [b, t, H] <-> [b, H, t] */
static void
gates_to_heads(nlk_real *dst, const nlk_real *src, int b, int t, int h, nlk_real scale)
{
	for (int i = 0; i < b; i++)
		for (int j = 0; j < h; j++)
			for (int p = 0; p < t; p++)
				dst[((size_t)i * h + j) * t + p] = scale * src[((size_t)i * t + p) * h + j];
}

static void
gates_from_heads(nlk_real *dst, const nlk_real *src, int b, int t, int h)
{
	for (int i = 0; i < b; i++)
		for (int j = 0; j < h; j++)
			for (int p = 0; p < t; p++)
				dst[((size_t)i * t + p) * h + j] = src[((size_t)i * h + j) * t + p];
}

static inline nlk_real
sigm(nlk_real x)
{
	return 1 / (1 + NLK_EXP(-x));
}

/* ---- one memory of one head over one chunk ---- */

/* Per-chunk work of one head (the unit slot of the scratch). */
struct unit_work {
	nlk_real *y, *hp, *ac, *e, *dl, *de, *dac, *ddl, *vh, *dvh, *hpv, *acv;
	nlk_real *cv, *g, *dg, *dp, *dcv, *be, *iscr, *wscr;
};

static void
unit_work_of(const struct nl_mem *mm, nlk_real *p, struct unit_work *u)
{
	struct mm_sizes s = mm_sizes(mm);
	size_t c = (size_t)s.cmax, dh = (size_t)mm->dh;
	nlk_real **cd[] = { &u->y, &u->hp, &u->ac, &u->e, &u->dl, &u->de, &u->dac, &u->ddl,
	    &u->vh, &u->dvh, &u->hpv, &u->acv };
	for (size_t i = 0; i < sizeof cd / sizeof cd[0]; i++, p += c * dh)
		*cd[i] = p;
	nlk_real **cc[] = { &u->cv, &u->g, &u->dg, &u->dp, &u->dcv, &u->be };
	for (size_t i = 0; i < sizeof cc / sizeof cc[0]; i++, p += c)
		*cc[i] = p;
	u->iscr = p, p += 6 * dh;
	u->wscr = p;
}

/* The target a write fits: titans' v itself; selfmod's v̂ = f(v) at the weights f (D7), its
 * hp and ac kept for the backward. */
static const nlk_real *
unit_target(const struct nl_mem *mm, struct unit_work *uw, const struct nl_mem_unit *un,
    const nlk_real *f, const nlk_real *V, int n)
{
	const int dh = mm->dh;
	if (mm->titans)
		return V;
	NLK(nlk_mem_read_fwd)(uw->vh, uw->hpv, uw->acv, V, f, f + (size_t)un->dout * dh, n, dh, dh,
	    un->dout, un->resid);
	return uw->vh;
}

/* The inner gradient at f (the chunk-start weights, or their frozen copy) and the steps. */
static void
unit_igrad(const struct nl_mem *mm, struct unit_work *uw, const struct nl_mem_unit *un,
    const nlk_real *f, const nlk_real *K, const nlk_real *vhat, const nlk_real *eta,
    const nlk_real *be, int n)
{
	const int dh = mm->dh;
	NLK(nlk_mem_read_fwd)(uw->y, uw->hp, uw->ac, K, f, f + (size_t)un->dout * dh, n, dh, dh,
	    un->dout, un->resid);
	NLK(nlk_mem_igrad_fwd)(uw->e, uw->dl, uw->cv, uw->y, vhat, K, uw->hp, uw->ac, f, n, dh, dh,
	    un->dout);
	NLK(nlk_mem_step_fwd)(uw->g, eta, uw->cv, be, n, mm->rule, mm->ema);
}

/* Write one chunk of n tokens into nx (a copy of the chunk-start state). */
static void
unit_write(const struct nl_mem *mm, struct unit_work *uw, const struct nl_mem_unit *un,
    nlk_real *nx, const nlk_real *f, const nlk_real *K, const nlk_real *V, const nlk_real *eta,
    const nlk_real *al, const nlk_real *be, int n)
{
	const size_t m1 = (size_t)un->dout * mm->dh, m2 = (size_t)mm->dh * mm->dh;
	unit_igrad(mm, uw, un, f, K, unit_target(mm, uw, un, f, V, n), eta, be, n);
	NLK(nlk_mem_write_fwd)(nx, nx + m1, nx + m1 + m2, nx + 2 * m1 + m2, K, uw->e, uw->ac,
	    uw->dl, uw->g, mm->projector ? eta : NULL, al, be, n, mm->dh, mm->dh, un->dout,
	    uw->wscr);
}

/* Reverse of unit_write: D holds the adjoint of the chunk-end state on entry and of the
 * chunk-start state st on return; per-token adjoints of K, V, η, α, β accumulate. With
 * meta_grad = full the inner gradient's and the target's own-weight terms join D (f is st);
 * with first they are dropped. */
static void
unit_write_bwd(const struct nl_mem *mm, struct unit_work *uw, const struct nl_mem_unit *un,
    nlk_real *D, const nlk_real *st, const nlk_real *f, const nlk_real *K, const nlk_real *V,
    const nlk_real *eta, const nlk_real *al, const nlk_real *be, int n, nlk_real *dK,
    nlk_real *dV, nlk_real *deta, nlk_real *dal, nlk_real *dbe)
{
	const int dh = mm->dh, dout = un->dout, full = mm->meta == NL_META_FULL;
	const size_t m1 = (size_t)dout * dh, m2 = (size_t)dh * dh;
	const nlk_real *vhat = unit_target(mm, uw, un, f, V, n);
	unit_igrad(mm, uw, un, f, K, vhat, eta, be, n);
	memset(uw->de, 0, (size_t)n * dout * sizeof *uw->de);
	memset(uw->dac, 0, (size_t)n * dh * sizeof *uw->dac);
	memset(uw->ddl, 0, (size_t)n * dh * sizeof *uw->ddl);
	memset(uw->dg, 0, (size_t)n * sizeof *uw->dg);
	memset(uw->dp, 0, (size_t)n * sizeof *uw->dp);
	memset(uw->dcv, 0, (size_t)n * sizeof *uw->dcv);
	NLK(nlk_mem_write_bwd)(D, D + m1, D + m1 + m2, D + 2 * m1 + m2, dK, uw->de, uw->dac,
	    uw->ddl, uw->dg, mm->projector ? uw->dp : NULL, dal, dbe, st, st + m1, st + m1 + m2,
	    st + 2 * m1 + m2, K, uw->e, uw->ac, uw->dl, uw->g, mm->projector ? eta : NULL, al, be,
	    n, dh, dh, dout, uw->wscr);
	for (int i = 0; i < n; i++)
		deta[i] += uw->dp[i];
	NLK(nlk_mem_step_bwd)(deta, uw->dcv, dbe, uw->dg, eta, uw->cv, be, n, mm->rule, mm->ema);
	if (mm->titans) {
		NLK(nlk_mem_igrad_bwd)(dK, dV, full ? D : NULL, full ? D + m1 : NULL, uw->de, uw->dac,
		    uw->ddl, uw->dcv, K, uw->e, uw->hp, uw->ac, f, f + m1, n, dh, dh, dout,
		    un->resid, uw->iscr);
		return;
	}
	memset(uw->dvh, 0, (size_t)n * dout * sizeof *uw->dvh);
	NLK(nlk_mem_igrad_bwd)(dK, uw->dvh, full ? D : NULL, full ? D + m1 : NULL, uw->de,
	    uw->dac, uw->ddl, uw->dcv, K, uw->e, uw->hp, uw->ac, f, f + m1, n, dh, dh, dout,
	    un->resid, uw->iscr);
	NLK(nlk_mem_read_bwd)(dV, full ? D : NULL, full ? D + m1 : NULL, uw->dvh, V, uw->hpv,
	    uw->acv, f, f + m1, n, dh, dh, dout, un->resid, uw->iscr);
}

/* Initial state of head h: W1, W2 from the parameters, S = 0. */
static void
state_init(const struct nl_mem *mm, nlk_real *st, const nlk_real *params,
    const struct nl_mem_unit *un, int h)
{
	size_t m1 = (size_t)un->dout * mm->dh, m2 = (size_t)mm->dh * mm->dh;
	memcpy(st, params + un->w1 + h * m1, m1 * sizeof *st);
	memcpy(st + m1, params + un->w2 + h * m2, m2 * sizeof *st);
	memset(st + m1 + m2, 0, (m1 + m2) * sizeof *st);
}

/* With meta_grad = none and a frozen record, the state at boundary j is the initial state
 * plus the recorded increment: W_j = W_0 + sg(W_j − W_0). */
static void
state_replay(const struct nl_mem *mm, nlk_real *st, const nlk_real *st0, const nlk_real *fz0,
    const nlk_real *fzj, int dout)
{
	size_t w = (size_t)dout * mm->dh + (size_t)mm->dh * mm->dh;
	for (size_t e = 0; e < w; e++)
		st[e] = st0[e] + fzj[e] - fz0[e];
}

/* Where sequence-and-head (i, h)'s per-token rows start, and its frozen trajectory. */
struct head_ref {
	int h;
	size_t row;                     /* first token of (i, h) in head-major [b, H, t] */
	nlk_real *traj;
	const nlk_real *fz;
};

/* A stream's (sequence, head): each unit's state and the pending chunk of M_mem, np tokens
 * (the other memories' pending chunk is its last np mod chunk_other). */
struct stream_head {
	nlk_real *state[NL_MU_COUNT];
	nlk_real *K, *V, *ETA, *ALP, *BE;
	int np;
};

static nlk_real *
stream_conv_ctx(const struct nl_mem *mm, struct nl_mem_stream *s, int l, int c)
{
	return (nlk_real *)s->data + (size_t)l * s->layer_size
	    + (size_t)s->b * mm->heads * s->head_size + (size_t)c * s->b * 3 * mm->d;
}

/* The block of stream s for layer l, sequence i, head h. */
static nlk_real *
stream_block(const struct nl_mem *mm, const struct nl_mem_stream *s, int l, int i, int h)
{
	return (nlk_real *)s->data + (size_t)l * s->layer_size
	    + ((size_t)i * mm->heads + h) * s->head_size;
}

/* sh over the (sequence, head) block p of layer l, with np tokens pending */
/* sh's pending chunk, np tokens of it filled, from p on: K, V [chunk, dh], η, α, β [chunk] */
static void
pending_at(const struct nl_mem *mm, nlk_real *p, int np, struct stream_head *sh)
{
	const size_t c = (size_t)mm->chunk, dh = (size_t)mm->dh;
	sh->K = p, p += c * dh;
	sh->V = p, p += c * dh;
	sh->ETA = p, p += c;
	sh->ALP = p, p += c;
	sh->BE = p;
	sh->np = np;
}

static void
stream_head_at(const struct nl_mem *mm, int l, nlk_real *p, int np, struct stream_head *sh)
{
	memset(sh, 0, sizeof *sh);
	for (int u = 0; u < NL_MU_COUNT; u++) {
		if (!unit_on(mm, u))
			continue;
		sh->state[u] = p;
		p += unit_state(mm, mm->lay[l].u[u].dout);
	}
	pending_at(mm, p, np, sh);
}

static void
stream_head_of(const struct nl_mem *mm, struct nl_mem_stream *s, int l, int i, int h,
    struct stream_head *sh)
{
	stream_head_at(mm, l, stream_block(mm, s, l, i, h), (int)(s->pos % mm->chunk), sh);
}

/* Append tokens [r0, r1) of the call (row hr->row + r, per-token β be or the constant) to
 * the pending chunk after its first np0 tokens. */
static void
stream_pend(const struct nl_mem *mm, struct stream_head *sh, const struct mm_acts *a,
    size_t row, const nlk_real *be, nlk_real bconst, int np0, int r0, int r1)
{
	const size_t dh = (size_t)mm->dh;
	for (int r = r0; r < r1; r++) {
		size_t q = (size_t)(np0 + r - r0), rg = row + r;
		memcpy(sh->K + q * dh, a->K + rg * dh, dh * sizeof *sh->K);
		memcpy(sh->V + q * dh, a->V + rg * dh, dh * sizeof *sh->V);
		sh->ETA[q] = a->ETA[rg];
		sh->ALP[q] = a->ALP[rg];
		sh->BE[q] = be ? be[rg] : bconst;
	}
}

/* Chunk j of a call that starts p tokens into a chunk of c: tokens [c0, c1) of the call,
 * and whether the chunk ends inside the call (and is written). */
static int
chunk_span(int j, int p, int c, int t, int *c0, int *c1)
{
	*c0 = j == 0 ? 0 : j * c - p;
	*c1 = (j + 1) * c - p < t ? (j + 1) * c - p : t;
	return *c1 == (j + 1) * c - p;
}

/* A segment's backward (nl_mem_backward with a stream): the state at its start, whose
 * pending chunk its first write completes, and slots for that chunk with the segment's
 * first tokens appended (pe) and their adjoints (dpe). */
struct segment {
	const struct stream_head *sh0;
	struct stream_head pe, dpe;
};

static void
segment_view(const struct nl_mem *mm, nlk_real *buf, int np, struct stream_head *v)
{
	memset(v, 0, sizeof *v);
	pending_at(mm, buf, np, v);
}

/* The pending chunk of a (sequence, head) (row: its first row; β per token be or bconst):
 * the carried tokens, then the segment's up to the chunk's end; adjoints zeroed. */
static void
segment_fill(const struct nl_mem *mm, struct segment *sg, const struct mm_acts *a,
    size_t row, const nlk_real *be, nlk_real bconst)
{
	const struct stream_head *s0 = sg->sh0;
	const size_t c = (size_t)mm->chunk, dh = (size_t)mm->dh, np = (size_t)s0->np;
	memcpy(sg->pe.K, s0->K, np * dh * sizeof *s0->K);
	memcpy(sg->pe.V, s0->V, np * dh * sizeof *s0->V);
	memcpy(sg->pe.ETA, s0->ETA, np * sizeof *s0->ETA);
	memcpy(sg->pe.ALP, s0->ALP, np * sizeof *s0->ALP);
	memcpy(sg->pe.BE, s0->BE, np * sizeof *s0->BE);
	int r1 = (int)(c - np) < mm->t ? (int)(c - np) : mm->t;
	stream_pend(mm, &sg->pe, a, row, be, bconst, (int)np, 0, r1);
	memset(sg->dpe.K, 0, c * (2 * dh + 3) * sizeof *sg->dpe.K);
}

/* Add the adjoints of the segment's first n tokens from the pending slots to the rows, and
 * clear the slots for the next write. */
static void
segment_scatter(const struct nl_mem *mm, struct segment *sg, size_t row, int n,
    nlk_real *dK, nlk_real *dV, nlk_real *dETA, nlk_real *dALP, nlk_real *dBE)
{
	const size_t dh = (size_t)mm->dh, np = (size_t)sg->sh0->np;
	for (size_t i = 0; i < (size_t)n; i++) {
		for (size_t e = 0; e < dh; e++) {
			dK[(row + i) * dh + e] += sg->dpe.K[(np + i) * dh + e];
			dV[(row + i) * dh + e] += sg->dpe.V[(np + i) * dh + e];
		}
		dETA[row + i] += sg->dpe.ETA[np + i];
		dALP[row + i] += sg->dpe.ALP[np + i];
		dBE[row + i] += sg->dpe.BE[np + i];
	}
	memset(sg->dpe.K, 0, (size_t)mm->chunk * (2 * dh + 3) * sizeof *sg->dpe.K);
}

/* ---- M_mem (titans' only memory): chunks of chunk_memory tokens ---- */

/* The trajectory of M_mem for one (sequence, head): boundary states into hr->traj, and
 * with reads the outputs o of every chunk at its start state. be: per-token β over the
 * sequence (titans) or NULL for the constant uw->be (selfmod). */
static void
mem_loop(const struct nl_mem *mm, const struct nl_mem_layer *w, const nlk_real *params,
    const struct mm_acts *a, struct unit_work *uw, const struct head_ref *hr,
    const nlk_real *be, int reads, struct stream_head *sh)
{
	const struct nl_mem_unit *un = &w->u[NL_MU_MEM];
	const int t = mm->t, dh = mm->dh, C = mm->chunk, p = sh ? sh->np : 0;
	const int nch = n_chunks(t + p, C);
	const size_t us = unit_state(mm, dh), off = unit_offset(mm, w, NL_MU_MEM);
	const size_t m1 = (size_t)dh * dh;
	nlk_real *st0 = hr->traj + off;
	const nlk_real *fz = hr->fz ? hr->fz + off : NULL;

	if (sh)
		memcpy(st0, sh->state[NL_MU_MEM], us * sizeof *st0);
	else
		state_init(mm, st0, params, un, hr->h);
	for (int j = 0; j < nch; j++) {
		int c0, c1, full = chunk_span(j, p, C, t, &c0, &c1), cn = c1 - c0;
		size_t r = (hr->row + c0) * dh, rg = hr->row + c0;
		nlk_real *st = st0 + (size_t)j * us, *nx = st + us;
		if (fz && mm->meta == NL_META_NONE)
			state_replay(mm, st, st0, fz, fz + (size_t)j * us, dh);
		if (reads)
			NLK(nlk_mem_read_fwd)(a->Oh + r, a->hpq + r, a->acq + r, a->Qh + r, st, st + m1,
			    cn, dh, dh, dh, 1);
		memcpy(nx, st, us * sizeof *st);
		if (!full)
			continue;               /* a last partial chunk only reads */
		if (j == 0 && p > 0) {          /* a stream's chunk begun in earlier calls */
			stream_pend(mm, sh, a, hr->row, be, be ? 0 : uw->be[0], p, 0, c1);
			unit_write(mm, uw, un, nx, st, sh->K, sh->V, sh->ETA, sh->ALP, sh->BE, C);
			continue;
		}
		const nlk_real *f = fz && mm->meta == NL_META_FIRST ? fz + (size_t)j * us : st;
		unit_write(mm, uw, un, nx, f, a->K + r, a->V + r, a->ETA + rg, a->ALP + rg,
		    be ? be + rg : uw->be, cn);
	}
	if (sh)
		memcpy(sh->state[NL_MU_MEM], st0 + (size_t)nch * us, us * sizeof *st0);
}

/* Reverse of mem_loop over a recomputed trajectory: D (adjoint of M_mem's state) ends as
 * the gradient of its initial state, which a segment (sg) holds constant. */
static void
mem_loop_bwd(const struct nl_mem *mm, const struct nl_mem_layer *w, nlk_real *grads,
    const struct mm_acts *a, struct unit_work *uw, const struct head_ref *hr,
    const nlk_real *be, nlk_real *D, const nlk_real *dO, nlk_real *dQ, nlk_real *dK,
    nlk_real *dV, nlk_real *dETA, nlk_real *dALP, nlk_real *dBE, struct segment *sg)
{
	const struct nl_mem_unit *un = &w->u[NL_MU_MEM];
	const int t = mm->t, dh = mm->dh, C = mm->chunk, p = sg ? sg->sh0->np : 0;
	const int nch = n_chunks(t + p, C);
	const size_t us = unit_state(mm, dh), off = unit_offset(mm, w, NL_MU_MEM);
	const size_t m1 = (size_t)dh * dh;
	const int none = mm->meta == NL_META_NONE;
	nlk_real *gw1 = grads + un->w1 + hr->h * m1, *gw2 = grads + un->w2 + hr->h * m1;
	const nlk_real *fz = hr->fz ? hr->fz + off : NULL;

	memset(D, 0, us * sizeof *D);
	for (int j = nch - 1; j >= 0; j--) {
		int c0, c1, full = chunk_span(j, p, C, t, &c0, &c1), cn = c1 - c0;
		size_t r = (hr->row + c0) * dh, rg = hr->row + c0;
		const nlk_real *st = hr->traj + off + (size_t)j * us;
		if (full && !none && j == 0 && p > 0) {        /* completes the carried chunk */
			struct stream_head *pe = &sg->pe, *dp = &sg->dpe;
			unit_write_bwd(mm, uw, un, D, st, st, pe->K, pe->V, pe->ETA, pe->ALP, pe->BE, C,
			    dp->K, dp->V, dp->ETA, dp->ALP, dp->BE);
			segment_scatter(mm, sg, hr->row, c1, dK, dV, dETA, dALP, dBE);
		} else if (full && !none) {
			const nlk_real *f = fz && mm->meta == NL_META_FIRST ? fz + (size_t)j * us : st;
			unit_write_bwd(mm, uw, un, D, st, f, a->K + r, a->V + r, a->ETA + rg,
			    a->ALP + rg, be ? be + rg : uw->be, cn, dK + r, dV + r, dETA + rg,
			    dALP + rg, dBE + rg);
		}
		/* the read at the chunk-start state; with none every state is W_0 plus a
		 * constant, so reads go straight to the initial state */
		NLK(nlk_mem_read_bwd)(dQ + r, none ? gw1 : D, none ? gw2 : D + m1, dO + r, a->Qh + r,
		    a->hpq + r, a->acq + r, st, st + m1, cn, dh, dh, dh, 1, uw->iscr);
	}
	if (!none && !sg)
		for (size_t e = 0; e < m1; e++) {
			gw1[e] += D[e];
			gw2[e] += D[m1 + e];
		}
}

/* ---- selfmod's M_k, M_v, M_η, M_α: chunks of chunk_other tokens ---- */

/* Their trajectories for one (sequence, head), and with reads the per-token k, v, η, α of
 * every chunk from its start states (MODEL §2.2 steps 1–2). */
static void
other_loop(const struct nl_mem *mm, const struct nl_mem_layer *w, const nlk_real *params,
    const struct mm_acts *a, struct unit_work *uw, const struct head_ref *hr, int reads,
    struct stream_head *sh)
{
	const int t = mm->t, dh = mm->dh, C = mm->chunk_other, p = sh ? sh->np % C : 0;
	const int nch = n_chunks(t + p, C);
	const nlk_real b_alpha = params[w->b_alpha + hr->h], emax = (nlk_real)mm->eta_max;

	for (int u = NL_MU_K; u <= NL_MU_Q; u++) {
		if (!unit_on(mm, u))
			continue;
		nlk_real *st0 = hr->traj + unit_offset(mm, w, u);
		if (sh)
			memcpy(st0, sh->state[u], unit_state(mm, w->u[u].dout) * sizeof *st0);
		else
			state_init(mm, st0, params, &w->u[u], hr->h);
	}
	for (int j = 0; j < nch; j++) {
		int c0, c1, full = chunk_span(j, p, C, t, &c0, &c1), cn = c1 - c0;
		size_t r = (hr->row + c0) * dh, rg = hr->row + c0;
		nlk_real *st[NL_MU_Q + 1];
		for (int u = NL_MU_K; u <= NL_MU_Q; u++) {
			if (!unit_on(mm, u))
				continue;
			size_t off = unit_offset(mm, w, u), us = unit_state(mm, w->u[u].dout);
			st[u] = hr->traj + off + (size_t)j * us;
			if (hr->fz && mm->meta == NL_META_NONE)
				state_replay(mm, st[u], hr->traj + off, hr->fz + off,
				    hr->fz + off + (size_t)j * us, w->u[u].dout);
		}
		if (reads) {
			size_t m = (size_t)dh * dh, m1 = (size_t)dh;
			NLK(nlk_mem_read_fwd)(a->RK + r, a->hpk + r, a->ack + r, a->Xh + r, st[NL_MU_K],
			    st[NL_MU_K] + m, cn, dh, dh, dh, 1);
			NLK(nlk_l2norm_fwd)(a->K + r, a->invK + rg, a->RK + r, cn, dh);
			NLK(nlk_mem_read_fwd)(a->RV + r, a->hpv + r, a->acv + r, a->Xh + r, st[NL_MU_V],
			    st[NL_MU_V] + m, cn, dh, dh, dh, 1);
			NLK(nlk_l2norm_fwd)(a->V + r, a->invV + rg, a->RV + r, cn, dh);
			NLK(nlk_mem_read_fwd)(a->ZE + rg, a->hpe + r, a->ace + r, a->Xh + r,
			    st[NL_MU_ETA], st[NL_MU_ETA] + m1, cn, dh, dh, 1, 0);
			NLK(nlk_mem_read_fwd)(a->ZA + rg, a->hpa + r, a->aca + r, a->Xh + r,
			    st[NL_MU_ALPHA], st[NL_MU_ALPHA] + m1, cn, dh, dh, 1, 0);
			if (mm->adaptive_q) {   /* q = l2norm(M_q(x')) */
				NLK(nlk_mem_read_fwd)(a->RQ + r, a->hpqm + r, a->acqm + r, a->Xh + r,
				    st[NL_MU_Q], st[NL_MU_Q] + m, cn, dh, dh, dh, 1);
				NLK(nlk_l2norm_fwd)(a->Qh + r, a->invq + rg, a->RQ + r, cn, dh);
			}
			for (int i = 0; i < cn; i++) {
				a->ETA[rg + i] = emax * sigm(a->ZE[rg + i]);
				a->ALP[rg + i] = sigm(a->ZA[rg + i] + b_alpha);
			}
		}
		/* a stream's chunk begun in earlier calls: its first p tokens are pending, the
		 * rest join them */
		const int pend = full && j == 0 && p > 0, q = pend ? sh->np - p : 0;
		if (pend)
			stream_pend(mm, sh, a, hr->row, NULL, uw->be[0], sh->np, 0, c1);
		for (int u = NL_MU_K; u <= NL_MU_Q; u++) {
			if (!unit_on(mm, u))
				continue;
			size_t off = unit_offset(mm, w, u), us = unit_state(mm, w->u[u].dout);
			nlk_real *nx = st[u] + us;
			memcpy(nx, st[u], us * sizeof *nx);
			if (!full)
				continue;
			if (pend) {
				unit_write(mm, uw, &w->u[u], nx, st[u], sh->K + (size_t)q * dh,
				    sh->V + (size_t)q * dh, sh->ETA + q, sh->ALP + q, uw->be, C);
				continue;
			}
			const nlk_real *f = hr->fz && mm->meta == NL_META_FIRST
			    ? hr->fz + off + (size_t)j * us : st[u];
			unit_write(mm, uw, &w->u[u], nx, f, a->K + r, a->V + r, a->ETA + rg,
			    a->ALP + rg, uw->be, cn);
		}
	}
	if (sh)
		for (int u = NL_MU_K; u <= NL_MU_Q; u++) {
			if (!unit_on(mm, u))
				continue;
			size_t us = unit_state(mm, w->u[u].dout);
			memcpy(sh->state[u], hr->traj + unit_offset(mm, w, u) + (size_t)nch * us,
			    us * sizeof *sh->state[u]);
		}
}

/* Reverse of other_loop; dK, dV, dETA, dALP must already hold everything M_mem's writes
 * sent them. Adds into dX (head-major x') and the initial states' and b_alpha's grads. */
static void
other_loop_bwd(const struct nl_mem *mm, const struct nl_mem_layer *w, nlk_real *grads,
    const struct mm_acts *a, struct unit_work *uw, const struct head_ref *hr, nlk_real *D,
    nlk_real *dX, nlk_real *dQ, nlk_real *dK, nlk_real *dV, nlk_real *dETA, nlk_real *dALP,
    nlk_real *dBE, struct segment *sg)
{
	const int t = mm->t, dh = mm->dh, C = mm->chunk_other, np = sg ? sg->sh0->np : 0;
	const int p = np % C, nch = n_chunks(t + p, C);
	const int none = mm->meta == NL_META_NONE;
	const nlk_real emax = (nlk_real)mm->eta_max;
	nlk_real *Du[NL_MU_Q + 1];
	size_t ds = 0;

	for (int u = NL_MU_K; u <= NL_MU_Q; u++) {
		if (!unit_on(mm, u))
			continue;
		Du[u] = D + ds;
		ds += unit_state(mm, w->u[u].dout);
	}
	memset(D, 0, ds * sizeof *D);
	for (int j = nch - 1; j >= 0; j--) {
		int c0, c1, full = chunk_span(j, p, C, t, &c0, &c1), cn = c1 - c0;
		/* a segment's first chunk completes the carried one: its write reads the
		 * pending slots from token np − p on */
		const int carried = full && j == 0 && p > 0, q = np - p;
		size_t r = (hr->row + c0) * dh, rg = hr->row + c0;
		const nlk_real *st[NL_MU_Q + 1];
		for (int u = NL_MU_K; u <= NL_MU_Q; u++) {
			if (!unit_on(mm, u))
				continue;
			size_t off = unit_offset(mm, w, u), us = unit_state(mm, w->u[u].dout);
			st[u] = hr->traj + off + (size_t)j * us;
			if (!full || none)
				continue;
			if (carried) {
				struct stream_head *pe = &sg->pe, *dp = &sg->dpe;
				size_t qd = (size_t)q * dh;
				unit_write_bwd(mm, uw, &w->u[u], Du[u], st[u], st[u], pe->K + qd, pe->V + qd,
				    pe->ETA + q, pe->ALP + q, uw->be, C, dp->K + qd, dp->V + qd,
				    dp->ETA + q, dp->ALP + q, dp->BE + q);
				continue;
			}
			const nlk_real *f = hr->fz && mm->meta == NL_META_FIRST
			    ? hr->fz + off + (size_t)j * us : st[u];
			unit_write_bwd(mm, uw, &w->u[u], Du[u], st[u], f, a->K + r, a->V + r,
			    a->ETA + rg, a->ALP + rg, uw->be, cn, dK + r, dV + r, dETA + rg, dALP + rg,
			    dBE + rg);
		}
		if (carried && !none) {
			/* these writes take β = σ(b_β) for the carried tokens too (uw->be): their β
			 * adjoints reach b_β, which sums the head's, so fold them into the first */
			for (int k = q; k < np; k++)
				dBE[hr->row] += sg->dpe.BE[k];
			segment_scatter(mm, sg, hr->row, c1, dK, dV, dETA, dALP, dBE);
		}
		/* the reads of chunk j: k = l2norm(M_k(x')), v = l2norm(M_v(x')),
		 * (q = l2norm(M_q(x'))), η = eta_max σ(M_η(x')), α = σ(M_α(x') + b_α) */
		const size_t m = (size_t)dh * dh, m1 = (size_t)dh;
		nlk_real *dr = uw->dvh, *dz = uw->dcv;
		const struct {
			int u;
			const nlk_real *dn, *nrm, *inv, *hp, *ac;
		} kv[3] = {
			{ NL_MU_K, dK, a->K, a->invK, a->hpk, a->ack },
			{ NL_MU_V, dV, a->V, a->invV, a->hpv, a->acv },
			{ NL_MU_Q, dQ, a->Qh, a->invq, a->hpqm, a->acqm },
		};
		for (int i = 0; i < (mm->adaptive_q ? 3 : 2); i++) {
			int u = kv[i].u;
			memset(dr, 0, (size_t)cn * dh * sizeof *dr);
			NLK(nlk_l2norm_bwd)(dr, kv[i].dn + r, kv[i].nrm + r, kv[i].inv + rg, cn, dh);
			nlk_real *g1 = none ? grads + w->u[u].w1 + hr->h * m : Du[u];
			nlk_real *g2 = none ? grads + w->u[u].w2 + hr->h * m : Du[u] + m;
			NLK(nlk_mem_read_bwd)(dX + r, g1, g2, dr, a->Xh + r, kv[i].hp + r, kv[i].ac + r,
			    st[u], st[u] + m, cn, dh, dh, dh, 1, uw->iscr);
		}
		for (int i = 0; i < cn; i++)    /* η = eta_max σ(z): dη/dz = η (1 − η/eta_max) */
			dz[i] = dETA[rg + i] * a->ETA[rg + i] * (1 - a->ETA[rg + i] / emax);
		NLK(nlk_mem_read_bwd)(dX + r, none ? grads + w->u[NL_MU_ETA].w1 + hr->h * m1
		    : Du[NL_MU_ETA], none ? grads + w->u[NL_MU_ETA].w2 + hr->h * m : Du[NL_MU_ETA] + m1,
		    dz, a->Xh + r, a->hpe + r, a->ace + r, st[NL_MU_ETA], st[NL_MU_ETA] + m1, cn, dh,
		    dh, 1, 0, uw->iscr);
		for (int i = 0; i < cn; i++) {
			dz[i] = dALP[rg + i] * a->ALP[rg + i] * (1 - a->ALP[rg + i]);
			grads[w->b_alpha + hr->h] += dz[i];
		}
		NLK(nlk_mem_read_bwd)(dX + r, none ? grads + w->u[NL_MU_ALPHA].w1 + hr->h * m1
		    : Du[NL_MU_ALPHA], none ? grads + w->u[NL_MU_ALPHA].w2 + hr->h * m
		    : Du[NL_MU_ALPHA] + m1, dz, a->Xh + r, a->hpa + r, a->aca + r, st[NL_MU_ALPHA],
		    st[NL_MU_ALPHA] + m1, cn, dh, dh, 1, 0, uw->iscr);
	}
	if (none || sg)
		return;
	for (int u = NL_MU_K; u <= NL_MU_Q; u++) {
		if (!unit_on(mm, u))
			continue;
		size_t m1 = (size_t)w->u[u].dout * dh, m2 = (size_t)dh * dh;
		for (size_t e = 0; e < m1; e++)
			grads[w->u[u].w1 + hr->h * m1 + e] += Du[u][e];
		for (size_t e = 0; e < m2; e++)
			grads[w->u[u].w2 + hr->h * m2 + e] += Du[u][m1 + e];
	}
}

/* ---- the mixers ---- */

/* β of head h for every token of a selfmod chunk: σ(b_β), or 0 without inner momentum. */
static void
fill_beta(const struct nl_mem *mm, const struct nl_mem_layer *w, const nlk_real *params,
    struct unit_work *uw, int h)
{
	struct mm_sizes s = mm_sizes(mm);
	nlk_real b = mm->momentum ? sigm(params[w->b_beta + h]) : 0;
	for (int i = 0; i < s.cmax; i++)
		uw->be[i] = b;
}

static struct head_ref
head_ref(const struct nl_mem *mm, const struct nl_mem_layer *w, nlk_real *traj, int i, int h)
{
	struct head_ref hr;
	hr.h = h;
	hr.row = ((size_t)i * mm->heads + h) * mm->t;
	hr.traj = traj;
	hr.fz = w->frozen ? (const nlk_real *)w->frozen
	    + ((size_t)i * mm->heads + h) * traj_size(mm, w) : NULL;
	return hr;
}

/* Scratch of the backward; the unit work and one trajectory follow the named slots. */
struct mm_scratch {
	nlk_real *dpr, *dgp, *don, *do_, *dO, *dQ, *dK, *dV, *dxn, *t1, *t2, *t3, *t4, *t5;
	nlk_real *dETA, *dALP, *dBE, *z1, *z2, *z3;
	nlk_real *traj, *D, *shead, *pend, *dpend;
	struct unit_work uw;
};

static void
scratch_of(const struct nl_mem *mm, struct mm_scratch *sc)
{
	struct mm_sizes s = mm_sizes(mm);
	nlk_real *p = mm->scratch;
	nlk_real **nd[] = { &sc->dpr, &sc->dgp, &sc->don, &sc->do_, &sc->dO, &sc->dQ, &sc->dK,
	    &sc->dV, &sc->dxn, &sc->t1, &sc->t2, &sc->t3, &sc->t4, &sc->t5 };
	for (size_t i = 0; i < sizeof nd / sizeof nd[0]; i++, p += s.nd)
		*nd[i] = p;
	nlk_real **nh[] = { &sc->dETA, &sc->dALP, &sc->dBE, &sc->z1, &sc->z2, &sc->z3 };
	for (size_t i = 0; i < sizeof nh / sizeof nh[0]; i++, p += s.nh)
		*nh[i] = p;
	unit_work_of(mm, p, &sc->uw);
	p += s.unit;
	sc->traj = p, p += s.traj;
	sc->D = p, p += s.dstate;
	sc->shead = p, p += s.shead;
	sc->pend = p, p += s.pend;
	sc->dpend = p;
}

/* All memories of (sequence i, head h) forward: trajectories into traj, reads with reads;
 * from and into a stream's state with sh. */
static void
head_forward(const struct nl_mem *mm, const struct nl_mem_layer *w, const nlk_real *params,
    const struct mm_acts *a, struct unit_work *uw, nlk_real *traj, int i, int h, int reads,
    struct stream_head *sh)
{
	struct head_ref hr = head_ref(mm, w, traj, i, h);
	const nlk_real *be = mm->titans ? a->gh[1] : NULL;
	if (!mm->titans) {
		fill_beta(mm, w, params, uw, h);
		other_loop(mm, w, params, a, uw, &hr, reads, sh);
	}
	mem_loop(mm, w, params, a, uw, &hr, be, reads, sh);
	if (sh == NULL)
		return;
	/* what follows M_mem's last boundary stays pending */
	int np = sh->np, t = mm->t, left = (np + t) % mm->chunk;
	nlk_real bc = mm->titans ? 0 : uw->be[0];
	if (np + t < mm->chunk)
		stream_pend(mm, sh, a, hr.row, be, bc, np, 0, t);
	else
		stream_pend(mm, sh, a, hr.row, be, bc, 0, t - left, t);
}

/* The dense products of a forward: a stream's rows must round alike however it is cut. */
typedef void matmul_fn(nlk_real *, const nlk_real *, const nlk_real *, int, int, int);

static matmul_fn *
matmul_for(const struct nl_mem_stream *s)
{
	return s && s->exact ? NLK(nlk_matmul_rows_fwd) : NLK(nlk_matmul_fwd);
}

/* y = W_o (RMSNorm_h(o) ⊙ SiLU(x̃ W_g)) from the memory's reads Oh. */
static void
out_forward(const struct nl_mem *mm, const struct nl_mem_layer *w, const nlk_real *params,
    const struct mm_acts *a, nlk_real *y, const struct nl_mem_stream *s)
{
	matmul_fn *mul = matmul_for(s);
	const int b = mm->b, t = mm->t, d = mm->d, H = mm->heads, n = b * t;
	const size_t nd = (size_t)n * d;
	memset(a->o, 0, nd * sizeof *a->o);
	from_heads_add(a->o, a->Oh, b, t, H, mm->dh);
	NLK(nlk_rmsnorm_heads_fwd)(a->on, a->ostd, a->o, params + w->out_norm, n, H, mm->dh,
	    (nlk_real)mm->eps);
	mul(a->gp, a->xn, params + w->w_g, n, d, d);
	NLK(nlk_swiglu_fwd)(a->pr, a->gp, a->on, nd);
	mul(y, a->pr, params + w->w_o, n, d, d);
}

/* Reverse of out_forward: sc->dxn gets the gate's share, sc->dO (head-major) the reads'. */
static void
out_backward(const struct nl_mem *mm, const struct nl_mem_layer *w, const nlk_real *params,
    nlk_real *grads, const struct mm_acts *a, const nlk_real *dy, struct mm_scratch *sc)
{
	const int b = mm->b, t = mm->t, d = mm->d, H = mm->heads, n = b * t;
	const size_t nd = (size_t)n * d;
	NLK(nlk_matmul_bwd)(sc->dpr, grads + w->w_o, dy, a->pr, params + w->w_o, n, d, d);
	nl_keylog_add(mm->keys, w->w_o, d, d, a->pr, dy, n, sizeof *dy);
	NLK(nlk_swiglu_bwd)(sc->dgp, sc->don, sc->dpr, a->gp, a->on, nd);
	NLK(nlk_matmul_bwd)(sc->dxn, grads + w->w_g, sc->dgp, a->xn, params + w->w_g, n, d, d);
	nl_keylog_add(mm->keys, w->w_g, d, d, a->xn, sc->dgp, n, sizeof *dy);
	NLK(nlk_rmsnorm_heads_bwd)(sc->do_, grads + w->out_norm, sc->don, a->o,
	    params + w->out_norm, a->ostd, n, H, mm->dh);
	to_heads(sc->dO, sc->do_, b, t, H, mm->dh);
}

/* conv4 over x [b, t, d] with a stream's context c of layer l (none: a sequence start),
 * which then moves on by t tokens */
static void
conv_step(const struct nl_mem *mm, struct nl_mem_stream *s, int l, int c, nlk_real *y,
    const nlk_real *x, const nlk_real *taps)
{
	nlk_real *ctx = s ? stream_conv_ctx(mm, s, l, c) : NULL;
	NLK(nlk_conv4_fwd)(y, x, taps, ctx, mm->b, mm->t, mm->d);
	if (ctx)
		NLK(nlk_conv4_tail)(ctx, x, ctx, mm->b, mm->t, mm->d);
}

static void
titans_inputs(const struct nl_mem *mm, const struct nl_mem_layer *w, const nlk_real *params,
    const struct mm_acts *a, const nlk_real *x, struct nl_mem_stream *s, int l)
{
	matmul_fn *mul = matmul_for(s);
	const int b = mm->b, t = mm->t, d = mm->d, H = mm->heads, dh = mm->dh, n = b * t;
	const size_t nd = (size_t)n * d, nh = (size_t)n * H;

	/* q, k, v = SiLU(conv(x̃ W)); q, k ℓ2-normalised per head */
	NLK(nlk_rmsnorm_fwd)(a->xn, a->rstd, x, params + w->norm, n, d, (nlk_real)mm->eps);
	mul(a->pq, a->xn, params + w->w_q, n, d, d);
	mul(a->pk, a->xn, params + w->w_k, n, d, d);
	mul(a->pv, a->xn, params + w->w_v, n, d, d);
	conv_step(mm, s, l, 0, a->cq, a->pq, params + w->conv_q);
	conv_step(mm, s, l, 1, a->ck, a->pk, params + w->conv_k);
	conv_step(mm, s, l, 2, a->cv, a->pv, params + w->conv_v);
	NLK(nlk_silu_fwd)(a->sq, a->cq, nd);
	NLK(nlk_silu_fwd)(a->sk, a->ck, nd);
	NLK(nlk_silu_fwd)(a->v, a->cv, nd);
	NLK(nlk_l2norm_fwd)(a->q, a->invq, a->sq, n * H, dh);
	NLK(nlk_l2norm_fwd)(a->k, a->invk, a->sk, n * H, dh);
	to_heads(a->Qh, a->q, b, t, H, dh);
	to_heads(a->Kh, a->k, b, t, H, dh);
	to_heads(a->Vh, a->v, b, t, H, dh);

	/* gates per token and head: η = eta_max σ(·), β = σ(·), α = σ(·) */
	const size_t gw[3] = { w->w_eta, w->w_beta, w->w_a };
	const size_t gb[3] = { w->b_eta, w->b_beta, w->b_a };
	for (int i = 0; i < 3; i++) {
		mul(a->z[i], a->xn, params + gw[i], n, d, H);
		for (size_t j = 0; j < nh; j++)
			a->z[i][j] += params[gb[i] + j % H];
		NLK(nlk_sigmoid_fwd)(a->sg[i], a->z[i], nh);
		gates_to_heads(a->gh[i], a->sg[i], b, t, H,
		    i == 0 ? (nlk_real)mm->eta_max : (nlk_real)1);
	}
}

static void
selfmod_inputs(const struct nl_mem *mm, const struct nl_mem_layer *w, const nlk_real *params,
    const struct mm_acts *a, const nlk_real *x, struct nl_mem_stream *s, int l)
{
	matmul_fn *mul = matmul_for(s);
	const int b = mm->b, t = mm->t, d = mm->d, H = mm->heads, dh = mm->dh, n = b * t;

	/* x' = conv(x̃ W_x), q = l2norm(x' W_q) per head (static q, D2; adaptive_q reads q
	 * from M_q in other_loop) */
	NLK(nlk_rmsnorm_fwd)(a->xn, a->rstd, x, params + w->norm, n, d, (nlk_real)mm->eps);
	mul(a->pre, a->xn, params + w->w_x, n, d, d);
	conv_step(mm, s, l, 0, a->xc, a->pre, params + w->conv);
	to_heads(a->Xh, a->xc, b, t, H, dh);
	if (mm->adaptive_q)
		return;
	mul(a->qp, a->xc, params + w->w_q, n, d, d);
	NLK(nlk_l2norm_fwd)(a->q, a->invq, a->qp, n * H, dh);
	to_heads(a->Qh, a->q, b, t, H, dh);
}

void
NLK(nl_mem_forward)(struct nl_mem *mm, int l, const nlk_real *params, const nlk_real *x,
    nlk_real *y, int b, int t, struct nl_mem_stream *s)
{
	const struct nl_mem_layer *w = &mm->lay[l];
	struct mm_acts a;
	struct mm_scratch sc;

	mm->b = b;
	mm->t = t;
	acts_of(mm, l, &a);
	scratch_of(mm, &sc);
	if (mm->titans)
		titans_inputs(mm, w, params, &a, x, s, l);
	else
		selfmod_inputs(mm, w, params, &a, x, s, l);
	for (int i = 0; i < b; i++)
		for (int h = 0; h < mm->heads; h++) {
			struct stream_head sh;
			if (s)
				stream_head_of(mm, s, l, i, h, &sh);
			head_forward(mm, w, params, &a, &sc.uw, sc.traj, i, h, 1, s ? &sh : NULL);
		}
	out_forward(mm, w, params, &a, y, s);
}

void
NLK(nl_mem_stream_reset)(const struct nl_mem *mm, struct nl_mem_stream *s,
    const nlk_real *params)
{
	memset(s->data, 0, (size_t)mm->layers * s->layer_size * sizeof(nlk_real));
	s->pos = 0;
	for (int l = 0; l < mm->layers; l++)
		for (int i = 0; i < s->b; i++)
			for (int h = 0; h < mm->heads; h++) {
				struct stream_head sh;
				stream_head_of(mm, s, l, i, h, &sh);
				for (int u = 0; u < NL_MU_COUNT; u++)
					if (unit_on(mm, u))
						state_init(mm, sh.state[u], params, &mm->lay[l].u[u], h);
			}
}

int
NLK(nl_mem_freeze)(struct nl_mem *mm, const nlk_real *params)
{
	struct mm_scratch sc;
	scratch_of(mm, &sc);
	for (int l = 0; l < mm->layers; l++) {
		struct nl_mem_layer *w = &mm->lay[l];
		size_t ts = traj_size(mm, w);
		nlk_real *rec = malloc((size_t)mm->b * mm->heads * ts * sizeof *rec);
		struct mm_acts a;
		if (rec == NULL)
			return -1;
		free(w->frozen);
		w->frozen = NULL;
		acts_of(mm, l, &a);
		for (int i = 0; i < mm->b; i++)
			for (int h = 0; h < mm->heads; h++)
				head_forward(mm, w, params, &a, &sc.uw,
				    rec + ((size_t)i * mm->heads + h) * ts, i, h, 0, NULL);
		w->frozen = rec;
	}
	return 0;
}

void
NLK(nl_mem_norms)(struct nl_mem *mm, const nlk_real *params, double w1[NL_MU_COUNT],
    double w2[NL_MU_COUNT])
{
	struct mm_scratch sc;
	scratch_of(mm, &sc);
	for (int u = 0; u < NL_MU_COUNT; u++)
		w1[u] = w2[u] = 0;
	for (int l = 0; l < mm->layers; l++) {
		const struct nl_mem_layer *w = &mm->lay[l];
		struct mm_acts a;
		acts_of(mm, l, &a);
		for (int i = 0; i < mm->b; i++)
			for (int h = 0; h < mm->heads; h++) {
				head_forward(mm, w, params, &a, &sc.uw, sc.traj, i, h, 0, NULL);
				for (int u = 0; u < NL_MU_COUNT; u++) {
					if (!unit_on(mm, u))
						continue;
					size_t m1 = (size_t)w->u[u].dout * mm->dh, m2 = (size_t)mm->dh * mm->dh;
					size_t us = unit_state(mm, w->u[u].dout);
					int nb = n_chunks(mm->t, unit_chunk(mm, u)) + 1;
					const nlk_real *st = sc.traj + unit_offset(mm, w, u);
					for (int j = 0; j < nb; j++, st += us) {
						double s1 = 0, s2 = 0;
						for (size_t e = 0; e < m1; e++)
							s1 += (double)st[e] * st[e];
						for (size_t e = 0; e < m2; e++)
							s2 += (double)st[m1 + e] * st[m1 + e];
						/* fmax drops NaN: keep it visible */
						w1[u] = isnan(s1) || isnan(w1[u]) ? NAN : fmax(w1[u], sqrt(s1));
						w2[u] = isnan(s2) || isnan(w2[u]) ? NAN : fmax(w2[u], sqrt(s2));
					}
				}
			}
	}
}

void
NLK(nl_mem_gates)(const struct nl_mem *mm, int l, int i, int h, int t0, int n, double *eta,
    double *alpha)
{
	struct mm_acts a;
	acts_of(mm, l, &a);
	const size_t row = ((size_t)i * mm->heads + h) * mm->t + (size_t)t0;
	for (int k = 0; k < n; k++) {
		eta[k] = (double)a.ETA[row + k];
		alpha[k] = (double)a.ALP[row + k];
	}
}

void
NLK(nl_mem_keys)(const struct nl_mem *mm, int l, int i, int h, int t0, int n, nlk_real *k,
    nlk_real *v)
{
	struct mm_acts a;
	acts_of(mm, l, &a);
	const size_t row = ((size_t)i * mm->heads + h) * mm->t + (size_t)t0, dh = (size_t)mm->dh;
	memcpy(k, a.K + row * dh, (size_t)n * dh * sizeof *k);
	memcpy(v, a.V + row * dh, (size_t)n * dh * sizeof *v);
}

/* The context conv c of layer l had at the start of a segment (the stream's state then). */
static const nlk_real *
conv_ctx0(const struct nl_mem *mm, const struct nl_mem_stream *s0, int l, int c)
{
	return stream_conv_ctx(mm, (struct nl_mem_stream *)s0, l, c);
}

void
NLK(nl_mem_backward)(struct nl_mem *mm, int l, const nlk_real *params, nlk_real *grads,
    const nlk_real *x, const nlk_real *dy, nlk_real *dx, const struct nl_mem_stream *s0)
{
	struct nl_mem_layer *w = &mm->lay[l];
	const int b = mm->b, t = mm->t, d = mm->d, H = mm->heads, dh = mm->dh, n = b * t;
	const size_t nd = (size_t)n * d, nh = (size_t)n * H;
	struct mm_sizes s = mm_sizes(mm);
	struct mm_acts a;
	struct mm_scratch sc;
	/* a segment's backward is exact through its own writes whatever meta_grad says, and
	 * never frozen (D8: the teach signal) */
	const enum nl_meta_grad meta = mm->meta;
	void *frozen = w->frozen;
	if (s0) {
		mm->meta = NL_META_FULL;
		w->frozen = NULL;
	}

	acts_of(mm, l, &a);
	scratch_of(mm, &sc);
	memset(mm->scratch, 0, (14 * s.nd + 6 * s.nh) * mm->elem);
	out_backward(mm, w, params, grads, &a, dy, &sc);

	/* the memories in reverse, one (sequence, head) at a time over its recomputed
	 * trajectory: M_mem first (its writes send adjoints to every token's k, v, η, α),
	 * then selfmod's other memories, which produced them */
	for (int i = 0; i < b; i++)
		for (int h = 0; h < H; h++) {
			struct head_ref hr = head_ref(mm, w, sc.traj, i, h);
			struct stream_head sh0, sh;
			struct segment seg, *sg = NULL;
			nlk_real bconst = 0;
			if (s0) {       /* recompute from a copy of the carried state */
				stream_head_of(mm, (struct nl_mem_stream *)s0, l, i, h, &sh0);
				memcpy(sc.shead, stream_block(mm, s0, l, i, h), s0->head_size * mm->elem);
				stream_head_at(mm, l, sc.shead, sh0.np, &sh);
				seg.sh0 = &sh0;
				segment_view(mm, sc.pend, sh0.np, &seg.pe);
				segment_view(mm, sc.dpend, sh0.np, &seg.dpe);
				sg = &seg;
			}
			head_forward(mm, w, params, &a, &sc.uw, sc.traj, i, h, 0, s0 ? &sh : NULL);
			if (sg) {
				if (!mm->titans)
					fill_beta(mm, w, params, &sc.uw, h);
				bconst = mm->titans ? 0 : sc.uw.be[0];
				segment_fill(mm, sg, &a, hr.row, mm->titans ? a.gh[1] : NULL, bconst);
			}
			mem_loop_bwd(mm, w, grads, &a, &sc.uw, &hr, mm->titans ? a.gh[1] : NULL, sc.D,
			    sc.dO, sc.dQ, sc.dK, sc.dV, sc.dETA, sc.dALP, sc.dBE, sg);
			if (mm->titans)
				continue;
			other_loop_bwd(mm, w, grads, &a, &sc.uw, &hr, sc.D, sc.t1, sc.dQ, sc.dK, sc.dV,
			    sc.dETA, sc.dALP, sc.dBE, sg);
			if (mm->momentum) {             /* β = σ(b_β), shared by the head's tokens */
				nlk_real bsum = 0, be = sc.uw.be[0];
				for (int p = 0; p < t; p++)
					bsum += sc.dBE[hr.row + p];
				grads[w->b_beta + h] += bsum * be * (1 - be);
			}
		}

	if (mm->titans) {
		/* q, k, v back through ℓ2 norm, SiLU, conv and the projections */
		const struct {
			nlk_real *dhm, *act, *inv, *pre, *conv_in;
			size_t wproj, wconv;
		} path[3] = {
			{ sc.dQ, a.q, a.invq, a.cq, a.pq, w->w_q, w->conv_q },
			{ sc.dK, a.k, a.invk, a.ck, a.pk, w->w_k, w->conv_k },
			{ sc.dV, a.v, NULL, a.cv, a.pv, w->w_v, w->conv_v },
		};
		for (int i = 0; i < 3; i++) {
			memset(sc.t1, 0, nd * sizeof *sc.t1);
			from_heads_add(sc.t1, path[i].dhm, b, t, H, dh);
			nlk_real *ds = sc.t1;
			if (path[i].inv) {
				memset(sc.t2, 0, nd * sizeof *sc.t2);
				NLK(nlk_l2norm_bwd)(sc.t2, sc.t1, path[i].act, path[i].inv, n * H, dh);
				ds = sc.t2;
			}
			memset(sc.t3, 0, nd * sizeof *sc.t3);
			NLK(nlk_silu_bwd)(sc.t3, ds, path[i].pre, nd);
			memset(sc.t1, 0, nd * sizeof *sc.t1);
			NLK(nlk_conv4_bwd)(sc.t1, grads + path[i].wconv, NULL, sc.t3, path[i].conv_in,
			    params + path[i].wconv, s0 ? conv_ctx0(mm, s0, l, i) : NULL, b, t, d);
			NLK(nlk_matmul_bwd)(sc.dxn, grads + path[i].wproj, sc.t1, a.xn,
			    params + path[i].wproj, n, d, d);
			nl_keylog_add(mm->keys, path[i].wproj, d, d, a.xn, sc.t1, n, sizeof *sc.t1);
		}
		/* gates: η = eta_max σ(z), β = σ(z), α = σ(z) */
		nlk_real *dg[3] = { sc.dETA, sc.dBE, sc.dALP };
		const size_t gw[3] = { w->w_eta, w->w_beta, w->w_a };
		const size_t gb[3] = { w->b_eta, w->b_beta, w->b_a };
		for (int i = 0; i < 3; i++) {
			gates_from_heads(sc.z1, dg[i], b, t, H);
			nlk_real scale = i == 0 ? (nlk_real)mm->eta_max : (nlk_real)1;
			for (size_t j = 0; j < nh; j++)
				sc.z1[j] *= scale;
			memset(sc.z2, 0, nh * sizeof *sc.z2);
			NLK(nlk_sigmoid_bwd)(sc.z2, sc.z1, a.sg[i], nh);
			for (size_t j = 0; j < nh; j++)
				grads[gb[i] + j % H] += sc.z2[j];
			NLK(nlk_matmul_bwd)(sc.dxn, grads + gw[i], sc.z2, a.xn, params + gw[i], n, d, H);
			nl_keylog_add(mm->keys, gw[i], H, d, a.xn, sc.z2, n, sizeof *sc.z2);
		}
	} else {
		/* q = l2norm(x' W_q); x' = conv(x̃ W_x) also fed every memory read (sc.t1) */
		from_heads_add(sc.t4, sc.t1, b, t, H, dh);
		if (!mm->adaptive_q) {
			memset(sc.t2, 0, nd * sizeof *sc.t2);
			from_heads_add(sc.t2, sc.dQ, b, t, H, dh);
			NLK(nlk_l2norm_bwd)(sc.t3, sc.t2, a.q, a.invq, n * H, dh);
			NLK(nlk_matmul_bwd)(sc.t4, grads + w->w_q, sc.t3, a.xc, params + w->w_q, n, d,
			    d);
			nl_keylog_add(mm->keys, w->w_q, d, d, a.xc, sc.t3, n, sizeof *sc.t3);
		}
		NLK(nlk_conv4_bwd)(sc.t5, grads + w->conv, NULL, sc.t4, a.pre, params + w->conv,
		    s0 ? conv_ctx0(mm, s0, l, 0) : NULL, b, t, d);
		NLK(nlk_matmul_bwd)(sc.dxn, grads + w->w_x, sc.t5, a.xn, params + w->w_x, n, d, d);
		nl_keylog_add(mm->keys, w->w_x, d, d, a.xn, sc.t5, n, sizeof *sc.t5);
	}
	NLK(nlk_rmsnorm_bwd)(dx, grads + w->norm, sc.dxn, x, params + w->norm, a.rstd, n, d);
	mm->meta = meta;
	w->frozen = frozen;
}
