/* nl — see LICENSE. Parameter layouts by model family (names per MODEL §1.2). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layout.h"
#include "tensor.h"

#define ALIGN 16

static int
add(struct nl_layout *lo, struct nl_err *err, enum nl_init init, int decay, int rank,
    const int64_t *dims, const char *fmt, ...)
{
	if (lo->n == lo->cap) {
		size_t cap = lo->cap ? 2 * lo->cap : 32;
		struct nl_param *p = realloc(lo->p, cap * sizeof *p);
		if (p == NULL)
			return nl_err_set(err, NL_ENOMEM, "out of memory");
		lo->p = p;
		lo->cap = cap;
	}
	struct nl_param *p = &lo->p[lo->n];
	memset(p, 0, sizeof *p);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p->name, sizeof p->name, fmt, ap);
	va_end(ap);
	p->rank = rank;
	p->numel = 1;
	for (int i = 0; i < rank; i++) {
		p->dims[i] = dims[i];
		if ((uint64_t)dims[i] > SIZE_MAX / p->numel)
			return nl_err_set(err, NL_ERANGE, "parameter %s too large", p->name);
		p->numel *= (size_t)dims[i];
	}
	p->init = init;
	p->decay = decay;
	p->offset = lo->total;
	size_t padded = (p->numel + ALIGN - 1) / ALIGN * ALIGN;
	if (padded > SIZE_MAX / 8 - lo->total)
		return nl_err_set(err, NL_ERANGE, "model too large");
	lo->total += padded;
	lo->n++;
	return 0;
}

#define VEC(n) (const int64_t[]){ (n) }
#define MAT(r, c) (const int64_t[]){ (r), (c) }

static int add_mlp(struct nl_layout *lo, const struct nl_config *c, int64_t i,
    struct nl_err *err);

static int
build_transformer(struct nl_layout *lo, const struct nl_config *c, struct nl_err *err)
{
	int64_t v = c->vocab_size, d = c->d_model;

	if (add(lo, err, NL_INIT_NORMAL, 1, 2, MAT(v, d), "embed.weight"))
		return -1;
	for (int64_t i = 0; i < c->layers; i++) {
		if (add(lo, err, NL_INIT_ONES, 0, 1, VEC(d), "layers.%lld.attn.norm.weight",
		    (long long)i) ||
		    add(lo, err, NL_INIT_NORMAL, 1, 2, MAT(3 * d, d), "layers.%lld.attn.w_qkv",
		    (long long)i) ||
		    add(lo, err, NL_INIT_NORMAL_OUT, 1, 2, MAT(d, d), "layers.%lld.attn.w_o",
		    (long long)i) ||
		    add_mlp(lo, c, i, err))
			return -1;
	}
	return add(lo, err, NL_INIT_ONES, 0, 1, VEC(d), "norm.weight");
}

/* The last tensor added gets init_arg. */
static void
arg(struct nl_layout *lo, double v)
{
	lo->p[lo->n - 1].init_arg = v;
}

/* The SwiGLU sub-block after every mixer. */
static int
add_mlp(struct nl_layout *lo, const struct nl_config *c, int64_t i, struct nl_err *err)
{
	int64_t d = c->d_model, f = c->mlp_hidden;
	return add(lo, err, NL_INIT_ONES, 0, 1, VEC(d), "layers.%lld.mlp.norm.weight",
	    (long long)i) ||
	    add(lo, err, NL_INIT_NORMAL, 1, 2, MAT(f, d), "layers.%lld.mlp.w_gate", (long long)i) ||
	    add(lo, err, NL_INIT_NORMAL, 1, 2, MAT(f, d), "layers.%lld.mlp.w_up", (long long)i) ||
	    add(lo, err, NL_INIT_NORMAL_OUT, 1, 2, MAT(d, f), "layers.%lld.mlp.w_down",
	    (long long)i);
}

/* A per-head memory m_<name>: w1 [H, dout, dh] ~ N(0, mem.w1_scale²/dh), w2 [H, dh, dh]
 * ~ N(0, 1/dh) (MODEL §1.1); initial states are not decayed (they are states, not maps). */
static int
add_memory(struct nl_layout *lo, const struct nl_config *c, int64_t i, const char *name,
    int64_t dout, struct nl_err *err)
{
	int64_t h = c->heads, dh = c->d_model / c->heads;
	const int64_t w1[3] = { h, dout, dh }, w2[3] = { h, dh, dh };
	if (add(lo, err, NL_INIT_STD, 0, 3, w1, "layers.%lld.mix.m_%s.w1", (long long)i, name))
		return -1;
	arg(lo, c->mem_w1_scale / sqrt((double)dh));
	if (add(lo, err, NL_INIT_STD, 0, 3, w2, "layers.%lld.mix.m_%s.w2", (long long)i, name))
		return -1;
	arg(lo, 1 / sqrt((double)dh));
	return 0;
}

/* Titans LMM mixer (MODEL §2.1, §1.2 names) → SwiGLU MLP. Gates start at η = eta_max/2,
 * β = 0.9, α = 0.98 (D7). */
static int
build_titans(struct nl_layout *lo, const struct nl_config *c, struct nl_err *err)
{
	int64_t v = c->vocab_size, d = c->d_model, h = c->heads;

	if (add(lo, err, NL_INIT_NORMAL, 1, 2, MAT(v, d), "embed.weight"))
		return -1;
	for (int64_t i = 0; i < c->layers; i++) {
		long long li = (long long)i;
		static const char *const proj[3] = { "q", "k", "v" };
		static const char *const gate[3] = { "eta", "beta", "a" };
		const double bias[3] = { 0, log(9.0), log(49.0) };
		if (add(lo, err, NL_INIT_ONES, 0, 1, VEC(d), "layers.%lld.mix.norm.weight", li))
			return -1;
		for (int j = 0; j < 3; j++)
			if (add(lo, err, NL_INIT_NORMAL, 1, 2, MAT(d, d), "layers.%lld.mix.w_%s", li,
			    proj[j]))
				return -1;
		for (int j = 0; j < 3; j++)
			if (add(lo, err, NL_INIT_CONV, 0, 2, MAT(4, d), "layers.%lld.mix.conv_%s", li,
			    proj[j]))
				return -1;
		for (int j = 0; j < 3; j++) {
			if (add(lo, err, NL_INIT_NORMAL, 1, 2, MAT(h, d), "layers.%lld.mix.w_%s", li,
			    gate[j]) ||
			    add(lo, err, NL_INIT_CONST, 0, 1, VEC(h), "layers.%lld.mix.b_%s", li,
			    gate[j]))
				return -1;
			arg(lo, bias[j]);
		}
		if (add_memory(lo, c, i, "mem", d / h, err) ||
		    add(lo, err, NL_INIT_NORMAL, 1, 2, MAT(d, d), "layers.%lld.mix.w_g", li) ||
		    add(lo, err, NL_INIT_NORMAL_OUT, 1, 2, MAT(d, d), "layers.%lld.mix.w_o", li) ||
		    add(lo, err, NL_INIT_ONES, 0, 1, VEC(d), "layers.%lld.mix.out_norm.weight", li) ||
		    add_mlp(lo, c, i, err))
			return -1;
	}
	return add(lo, err, NL_INIT_ONES, 0, 1, VEC(d), "norm.weight");
}

/* Self-modifying Titans mixer (MODEL §2.2, §1.2 names) → SwiGLU MLP: the `hope` block
 * without the continuum. α starts at 0.98, β at 0.9 (D7, §1.1). */
static int
build_selfmod(struct nl_layout *lo, const struct nl_config *c, struct nl_err *err)
{
	int64_t v = c->vocab_size, d = c->d_model, h = c->heads, dh = d / h;

	if (add(lo, err, NL_INIT_NORMAL, 1, 2, MAT(v, d), "embed.weight"))
		return -1;
	for (int64_t i = 0; i < c->layers; i++) {
		long long li = (long long)i;
		if (add(lo, err, NL_INIT_ONES, 0, 1, VEC(d), "layers.%lld.mix.norm.weight", li) ||
		    add(lo, err, NL_INIT_NORMAL, 1, 2, MAT(d, d), "layers.%lld.mix.w_x", li) ||
		    add(lo, err, NL_INIT_CONV, 0, 2, MAT(4, d), "layers.%lld.mix.conv", li) ||
		    (!c->adaptive_q &&
		    add(lo, err, NL_INIT_NORMAL, 1, 2, MAT(d, d), "layers.%lld.mix.w_q", li)) ||
		    add_memory(lo, c, i, "k", dh, err) || add_memory(lo, c, i, "v", dh, err) ||
		    add_memory(lo, c, i, "eta", 1, err) || add_memory(lo, c, i, "alpha", 1, err) ||
		    (c->adaptive_q && add_memory(lo, c, i, "q", dh, err)) ||
		    add_memory(lo, c, i, "mem", dh, err) ||
		    add(lo, err, NL_INIT_CONST, 0, 1, VEC(h), "layers.%lld.mix.b_alpha", li))
			return -1;
		arg(lo, log(49.0));
		if (c->inner_momentum) {
			if (add(lo, err, NL_INIT_CONST, 0, 1, VEC(h), "layers.%lld.mix.b_beta", li))
				return -1;
			arg(lo, log(9.0));
		}
		if (add(lo, err, NL_INIT_NORMAL, 1, 2, MAT(d, d), "layers.%lld.mix.w_g", li) ||
		    add(lo, err, NL_INIT_NORMAL_OUT, 1, 2, MAT(d, d), "layers.%lld.mix.w_o", li) ||
		    add(lo, err, NL_INIT_ONES, 0, 1, VEC(d), "layers.%lld.mix.out_norm.weight", li) ||
		    add_mlp(lo, c, i, err))
			return -1;
	}
	return add(lo, err, NL_INIT_ONES, 0, 1, VEC(d), "norm.weight");
}

int
nl_layout_build(struct nl_layout *lo, const struct nl_config *c, struct nl_err *err)
{
	memset(lo, 0, sizeof *lo);
	if (c->vocab_size <= 0)
		return nl_err_set(err, NL_ERANGE, "vocabulary size not set");
	int rc;
	if (strcmp(c->model, "transformer") == 0)
		rc = build_transformer(lo, c, err);
	else if (strcmp(c->model, "titans") == 0)
		rc = build_titans(lo, c, err);
	else if (strcmp(c->model, "selfmod") == 0)
		rc = build_selfmod(lo, c, err);
	else
		rc = nl_err_set(err, NL_EUNSUPPORTED, "model family '%s' is not built yet", c->model);
	if (rc)
		nl_layout_free(lo);
	return rc;
}

void
nl_layout_free(struct nl_layout *lo)
{
	free(lo->p);
	memset(lo, 0, sizeof *lo);
}

const struct nl_param *
nl_layout_find(const struct nl_layout *lo, const char *name)
{
	for (size_t i = 0; i < lo->n; i++)
		if (strcmp(lo->p[i].name, name) == 0)
			return &lo->p[i];
	return NULL;
}

int
nl_layout_offsetf(const struct nl_layout *lo, size_t *offset, struct nl_err *err,
    const char *fmt, ...)
{
	char name[64];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(name, sizeof name, fmt, ap);
	va_end(ap);
	const struct nl_param *p = nl_layout_find(lo, name);
	if (p == NULL)
		return nl_err_set(err, NL_EFORMAT, "layout has no %s", name);
	*offset = p->offset;
	return 0;
}

size_t
nl_layout_count(const struct nl_layout *lo)
{
	size_t n = 0;
	for (size_t i = 0; i < lo->n; i++)
		n += lo->p[i].numel;
	return n;
}

int
nl_layout_export(const struct nl_layout *lo, const float *buf, const char *prefix,
    struct nl_tset *ts, struct nl_err *err)
{
	for (size_t i = 0; i < lo->n; i++) {
		const struct nl_param *p = &lo->p[i];
		struct nl_tinfo ti;
		memset(&ti, 0, sizeof ti);
		snprintf(ti.name, sizeof ti.name, "%s%s", prefix, p->name);
		ti.dtype = NL_DTYPE_F32;
		ti.rank = p->rank;
		for (int k = 0; k < p->rank; k++)
			ti.dims[k] = (uint64_t)p->dims[k];
		struct nl_tensor *t = nl_tset_add(ts, &ti, err);
		if (t == NULL)
			return -1;
		memcpy(t->data, buf + p->offset, p->numel * sizeof *buf);
	}
	return 0;
}
