/* nl — see LICENSE. The outer optimizers (optim.h). */
#include "optim.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "rng.h"

static const char *const kind_names[] = {
	"sgd", "momentum", "adamw", "muon", "m3", "m3-ema", "delta-momentum", "dmgd",
	"dgd"
};

/* A matrix for muon and m3: 2-D, weight-decayed, not the embedding (MODEL D12). */
static int
is_matrix(const struct nl_param *p)
{
	return p->rank == 2 && p->decay && strcmp(p->name, "embed.weight") != 0;
}

/* The parameter as rows × cols of its last dimension. */
static size_t
cols_of(const struct nl_param *p)
{
	return p->rank ? (size_t)p->dims[p->rank - 1] : 1;
}

static int
uses_adam_fallback(enum nl_optim_kind k)
{
	return k == NL_OPTIM_MUON || k == NL_OPTIM_M3 || k == NL_OPTIM_M3_EMA;
}

int
nl_optim_kind(const char *name)
{
	for (int k = 0; k < (int)(sizeof kind_names / sizeof *kind_names); k++)
		if (strcmp(name, kind_names[k]) == 0)
			return k;
	return -1;
}

int
nl_optim_init(struct nl_optim *o, const struct nl_config *c, const struct nl_layout *lo,
    uint64_t seed, struct nl_err *err)
{
	memset(o, 0, sizeof *o);
	o->lo = lo;
	int k = nl_optim_kind(c->optim);
	if (k < 0)
		return nl_err_set(err, NL_EFORMAT, "optim: unknown optimizer '%s'", c->optim);
	o->kind = (enum nl_optim_kind)k;
	o->beta1 = c->optim_beta1, o->beta2 = c->optim_beta2, o->eps = c->optim_eps;
	o->wd = c->optim_weight_decay, o->mu = c->optim_momentum, o->lambda = c->delta_lambda;
	o->beta3 = c->m3_beta3, o->alpha3 = c->m3_alpha, o->period = c->m3_period;
	o->ns_steps = (int)c->optim_ns_steps, o->hidden = (int)c->dmgd_hidden;
	o->delta_adam = strcmp(c->delta_precond, "adam") == 0;

	static const char *const names[] = { "m", "v", "m2", "g" };
	switch (o->kind) {
	case NL_OPTIM_SGD: case NL_OPTIM_DGD: o->nslots = 0; break;
	case NL_OPTIM_MOMENTUM: case NL_OPTIM_DMGD: o->nslots = 1; break;
	case NL_OPTIM_DELTA: o->nslots = o->delta_adam ? 2 : 1; break;
	case NL_OPTIM_ADAMW: case NL_OPTIM_MUON: o->nslots = 2; break;
	case NL_OPTIM_M3: case NL_OPTIM_M3_EMA: o->nslots = 4; break;
	}
	for (int s = 0; s < o->nslots; s++) {
		o->slot_name[s] = names[s];
		if ((o->slot[s] = calloc(lo->total, sizeof(float))) == NULL)
			goto nomem;
	}
	size_t work = 0, extra = 0, dgd = 0;
	for (size_t i = 0; i < lo->n; i++) {
		const struct nl_param *p = &lo->p[i];
		size_t cc = cols_of(p), r = p->numel / cc, s = r < cc ? r : cc, need = 0;
		if (is_matrix(p) && uses_adam_fallback(o->kind))
			need = s * s + 2 * r * cc;              /* NS's work and its output */
		if (o->kind == NL_OPTIM_DMGD) {
			need = 2 * r * (size_t)o->hidden + 2 * cc * (size_t)o->hidden;
			extra += 2 * cc * (size_t)o->hidden;
		}
		/* a key block is a row range of a linear map (never the embedding) */
		if (o->kind == NL_OPTIM_DGD && p->rank == 2 && strcmp(p->name, "embed.weight") != 0)
			dgd = NLK_DGD_WORK(r, cc) > dgd ? NLK_DGD_WORK(r, cc) : dgd;
		work = need > work ? need : work;
	}
	if ((work && (o->work = malloc(work * sizeof(float))) == NULL) ||
	    (dgd && (o->dgd_work = malloc(dgd * sizeof(float))) == NULL) ||
	    (o->kind == NL_OPTIM_DGD && (o->keyed = calloc(lo->n, 1)) == NULL))
		goto nomem;
	if ((o->kind == NL_OPTIM_M3 || o->kind == NL_OPTIM_M3_EMA) &&
	    (o->o2 = calloc(lo->total, sizeof(float))) == NULL)
		goto nomem;
	if (o->kind == NL_OPTIM_DMGD) {
		if ((o->extra = calloc(extra, sizeof(float))) == NULL ||
		    (o->extra_off = malloc(lo->n * sizeof *o->extra_off)) == NULL)
			goto nomem;
		/* W_a ~ N(0, 1/cols), W_b = 0: the memory starts as momentum (D12) */
		struct nl_rng rng;
		nl_rng_seed(&rng, seed ^ 0x646d6764u);   /* "dmgd" */
		size_t off = 0;
		for (size_t i = 0; i < lo->n; i++) {
			size_t cc = cols_of(&lo->p[i]), hc = cc * (size_t)o->hidden;
			o->extra_off[i] = off;
			for (size_t e = 0; e < hc; e++)
				o->extra[off + e] = (float)(nl_rng_normal(&rng) / sqrt((double)cc));
			off += 2 * hc;
		}
	}
	return 0;
nomem:
	nl_optim_free(o);
	return nl_err_set(err, NL_ENOMEM, "out of memory for the optimizer");
}

void
nl_optim_free(struct nl_optim *o)
{
	for (int s = 0; s < NL_OPTIM_SLOTS; s++)
		free(o->slot[s]);
	free(o->o2);
	free(o->extra);
	free(o->extra_off);
	free(o->work);
	free(o->dgd_work);
	free(o->keyed);
	memset(o, 0, sizeof *o);
}

void
nl_keylog_add(struct nl_keylog *kl, size_t off, int rows, int cols, const void *x,
    const void *dy, int n, size_t elem)
{
	if (kl == NULL || kl->failed || n <= 0)
		return;
	size_t need = (size_t)n * (size_t)(rows + cols);
	if (kl->nblk == kl->blk_cap) {
		size_t cap = kl->blk_cap ? 2 * kl->blk_cap : 64;
		struct nl_keyblock *b = realloc(kl->blk, cap * sizeof *b);
		if (b == NULL) {
			kl->failed = 1;
			return;
		}
		kl->blk = b, kl->blk_cap = cap;
	}
	if (kl->len + need > kl->cap) {
		size_t cap = kl->cap ? kl->cap : 1 << 20;
		while (cap < kl->len + need)
			cap *= 2;
		float *d = realloc(kl->data, cap * sizeof *d);
		if (d == NULL) {
			kl->failed = 1;
			return;
		}
		kl->data = d, kl->cap = cap;
	}
	float *to = kl->data + kl->len;
	size_t nx = (size_t)n * cols;
	if (elem == sizeof(float)) {
		memcpy(to, x, nx * sizeof *to);
		memcpy(to + nx, dy, (size_t)n * rows * sizeof *to);
	} else {                        /* double: the gradient checks' precision */
		for (size_t e = 0; e < nx; e++)
			to[e] = (float)((const double *)x)[e];
		for (size_t e = 0; e < (size_t)n * rows; e++)
			to[nx + e] = (float)((const double *)dy)[e];
	}
	kl->blk[kl->nblk++] = (struct nl_keyblock){ off, kl->len, rows, cols, n };
	kl->len += need;
}

void
nl_keylog_clear(struct nl_keylog *kl)
{
	kl->nblk = kl->len = 0;
	kl->failed = 0;
}

void
nl_keylog_free(struct nl_keylog *kl)
{
	free(kl->blk);
	free(kl->data);
	memset(kl, 0, sizeof *kl);
}

void
nl_optim_set_keys(struct nl_optim *o, const struct nl_keylog *const *logs, int n,
    double scale)
{
	o->keys = logs, o->nkeys = n, o->key_scale = scale;
}

/* The parameter holding offset off (the layout is in offset order). */
static size_t
param_at(const struct nl_layout *lo, size_t off)
{
	size_t a = 0, b = lo->n;
	while (b - a > 1) {
		size_t m = (a + b) / 2;
		if (lo->p[m].offset <= off)
			a = m;
		else
			b = m;
	}
	return a;
}

/* dgd: weight decay, then the keys in order for the parameters that have them; the others
 * step as sgd. */
static void
dgd_step(struct nl_optim *o, float *params, const float *grads, float lr)
{
	const struct nl_layout *lo = o->lo;
	memset(o->keyed, 0, lo->n);
	for (int k = 0; k < o->nkeys; k++)
		for (size_t j = 0; j < o->keys[k]->nblk; j++)
			o->keyed[param_at(lo, o->keys[k]->blk[j].off)] = 1;
	for (size_t i = 0; i < lo->n; i++) {
		const struct nl_param *p = &lo->p[i];
		const float wd = p->decay ? (float)o->wd : 0.0f;
		float *w = params + p->offset;
		if (o->frozen && o->frozen[i])
			continue;
		if (!o->keyed[i])
			nlk_momentum_step(w, NULL, grads + p->offset, p->numel, lr, 0, wd);
		else
			for (size_t j = 0; wd > 0 && j < p->numel; j++)
				w[j] -= lr * wd * w[j];
	}
	for (int k = 0; k < o->nkeys; k++)
		for (size_t j = 0; j < o->keys[k]->nblk; j++) {
			const struct nl_keyblock *b = &o->keys[k]->blk[j];
			const float *x = o->keys[k]->data + b->at;
			if (o->frozen && o->frozen[param_at(lo, b->off)])
				continue;
			nlk_dgd_keys(params + b->off, x, x + (size_t)b->n * b->cols, b->n, b->rows,
			    b->cols, lr, (float)o->key_scale, o->dgd_work);
		}
}

/* Muon or M3 on one matrix parameter. */
static void
matrix_step(struct nl_optim *o, const struct nl_param *p, float *w, const float *g, float lr)
{
	const int r = (int)p->dims[0], c = (int)p->dims[1];
	float *m = o->slot[0] + p->offset;
	if (o->kind == NL_OPTIM_MUON)
		nlk_muon_step(w, m, g, r, c, lr, (float)o->mu, o->ns_steps, o->work);
	else
		nlk_m3_step(w, m, o->slot[1] + p->offset, o->slot[3] + p->offset,
		    o->slot[2] + p->offset, o->o2 + p->offset, g, r, c, lr, (float)o->beta1,
		    (float)o->beta2, (float)o->beta3, (float)o->alpha3, (float)o->eps, o->ns_steps,
		    o->t, o->period, o->kind == NL_OPTIM_M3_EMA, o->work);
}

void
nl_optim_step(struct nl_optim *o, float *params, const float *grads, double lr_d)
{
	const struct nl_layout *lo = o->lo;
	const float lr = (float)lr_d;
	o->t++;
	if (o->kind == NL_OPTIM_DGD) {
		dgd_step(o, params, grads, lr);
		return;
	}
	for (size_t i = 0; i < lo->n; i++) {
		const struct nl_param *p = &lo->p[i];
		float *w = params + p->offset;
		const float *g = grads + p->offset;
		if (o->frozen && o->frozen[i])
			continue;
		float *m = o->nslots > 0 ? o->slot[0] + p->offset : NULL;
		float *v = o->nslots > 1 ? o->slot[1] + p->offset : NULL;
		const float wd = p->decay ? (float)o->wd : 0.0f;
		const int adam = o->kind == NL_OPTIM_ADAMW ||
		    (uses_adam_fallback(o->kind) && !is_matrix(p));
		if (adam) {
			nlk_adamw_step(w, m, v, g, p->numel, lr, (float)o->beta1, (float)o->beta2,
			    (float)o->eps, wd, (int)o->t);
			continue;
		}
		if (o->kind == NL_OPTIM_SGD || o->kind == NL_OPTIM_MOMENTUM) {
			nlk_momentum_step(w, m, g, p->numel, lr, (float)o->mu, wd);
			continue;
		}
		if (o->kind == NL_OPTIM_DELTA) {
			nlk_delta_momentum_step(w, m, o->delta_adam ? v : NULL, g, p->numel, lr,
			    (float)o->mu, (float)o->lambda, (float)o->beta2, (float)o->eps, wd, (int)o->t);
			continue;
		}
		for (size_t j = 0; wd > 0 && j < p->numel; j++)   /* the matrix rules and dmgd */
			w[j] -= lr * wd * w[j];
		const size_t c = cols_of(p);
		switch (o->kind) {
		case NL_OPTIM_DMGD: {
			float *wa = o->extra + o->extra_off[i], *wb = wa + c * (size_t)o->hidden;
			nlk_dmgd_step(w, m, wa, wb, g, (int)(p->numel / c), (int)c, o->hidden, lr,
			    (float)o->mu, o->work);
			break;
		}
		default:
			matrix_step(o, p, w, g, lr);
		}
	}
}

static int
export_extra(const struct nl_optim *o, struct nl_tset *ts, struct nl_err *err)
{
	for (size_t i = 0; i < o->lo->n; i++) {
		const struct nl_param *p = &o->lo->p[i];
		const uint64_t c = cols_of(p), h = (uint64_t)o->hidden;
		for (int ab = 0; ab < 2; ab++) {
			struct nl_tinfo ti;
			memset(&ti, 0, sizeof ti);
			snprintf(ti.name, sizeof ti.name, "dmgd.w%c.%s", ab ? 'b' : 'a', p->name);
			ti.dtype = NL_DTYPE_F32;
			ti.rank = 2;
			ti.dims[0] = ab ? c : h, ti.dims[1] = ab ? h : c;
			struct nl_tensor *t = nl_tset_add(ts, &ti, err);
			if (t == NULL)
				return -1;
			memcpy(t->data, o->extra + o->extra_off[i] + ab * c * h, c * h * sizeof(float));
		}
	}
	return 0;
}

int
nl_optim_export(const struct nl_optim *o, struct nl_tset *ts, struct nl_err *err)
{
	char prefix[16];
	for (int s = 0; s < o->nslots; s++) {
		snprintf(prefix, sizeof prefix, "%s.", o->slot_name[s]);
		if (nl_layout_export(o->lo, o->slot[s], prefix, ts, err))
			return -1;
	}
	return o->kind == NL_OPTIM_DMGD ? export_extra(o, ts, err) : 0;
}

/* Copy the F32 tensor name of exactly n elements into dst. */
static int
import_one(const struct nl_tset *ts, const char *name, float *dst, size_t n, struct nl_err *err)
{
	const struct nl_tensor *t = nl_tset_find(ts, name);
	if (t == NULL || t->info.dtype != NL_DTYPE_F32 || t->nbytes != n * sizeof(float))
		return nl_err_set(err, NL_EFORMAT, "optim.nlt: %s missing or of the wrong shape", name);
	memcpy(dst, t->data, t->nbytes);
	return 0;
}

int
nl_optim_import(struct nl_optim *o, const struct nl_tset *ts, int64_t t, struct nl_err *err)
{
	const struct nl_layout *lo = o->lo;
	char name[96];
	for (size_t i = 0; i < lo->n; i++) {
		const struct nl_param *p = &lo->p[i];
		for (int s = 0; s < o->nslots; s++) {
			snprintf(name, sizeof name, "%s.%s", o->slot_name[s], p->name);
			if (import_one(ts, name, o->slot[s] + p->offset, p->numel, err))
				return -1;
		}
		if (o->kind == NL_OPTIM_DMGD) {
			size_t hc = cols_of(p) * (size_t)o->hidden;
			for (int ab = 0; ab < 2; ab++) {
				snprintf(name, sizeof name, "dmgd.w%c.%s", ab ? 'b' : 'a', p->name);
				if (import_one(ts, name, o->extra + o->extra_off[i] + ab * hc, hc, err))
					return -1;
			}
		}
		/* O2 is a function of M2: recomputed, the same bits */
		if (o->o2 && is_matrix(p))
			nlk_ns(o->o2 + p->offset, o->slot[2] + p->offset, (int)p->dims[0],
			    (int)p->dims[1], o->ns_steps, o->work);
	}
	o->t = t;
	return 0;
}
