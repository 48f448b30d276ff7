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

/* The last tensor added gets init_arg. */
static void
arg(struct nl_layout *lo, double v)
{
	lo->p[lo->n - 1].init_arg = v;
}

/* Causal attention (transformer, hope-attention). */
static int
add_attention(struct nl_layout *lo, const struct nl_config *c, long long i, struct nl_err *err)
{
	int64_t d = c->d_model;
	return add(lo, err, NL_INIT_ONES, 0, 1, VEC(d), "layers.%lld.attn.norm.weight", i) ||
	    add(lo, err, NL_INIT_NORMAL, 1, 2, MAT(3 * d, d), "layers.%lld.attn.w_qkv", i) ||
	    add(lo, err, NL_INIT_NORMAL_OUT, 1, 2, MAT(d, d), "layers.%lld.attn.w_o", i);
}

/* A pre-norm SwiGLU sub-block "layers.<i>.<name>": the MLP after a mixer, or a CMS level
 * (whose fast parameters w_gate, w_up, w_down are adjacent, so an update is one loop). */
static int
add_swiglu(struct nl_layout *lo, const struct nl_config *c, long long i, const char *name,
    int64_t f, struct nl_err *err)
{
	int64_t d = c->d_model;
	return add(lo, err, NL_INIT_ONES, 0, 1, VEC(d), "layers.%lld.%s.norm.weight", i, name) ||
	    add(lo, err, NL_INIT_NORMAL, 1, 2, MAT(f, d), "layers.%lld.%s.w_gate", i, name) ||
	    add(lo, err, NL_INIT_NORMAL, 1, 2, MAT(f, d), "layers.%lld.%s.w_up", i, name) ||
	    add(lo, err, NL_INIT_NORMAL_OUT, 1, 2, MAT(d, f), "layers.%lld.%s.w_down", i, name);
}

/* A per-head memory m_<name>: w1 [H, dout, dh] ~ N(0, mem.w1_scale²/dh), w2 [H, dh, dh]
 * ~ N(0, 1/dh) (MODEL §1.1); initial states are not decayed (they are states, not maps). */
static int
add_memory(struct nl_layout *lo, const struct nl_config *c, long long i, const char *name,
    int64_t dout, struct nl_err *err)
{
	int64_t h = c->heads, dh = c->d_model / c->heads;
	const int64_t w1[3] = { h, dout, dh }, w2[3] = { h, dh, dh };
	if (add(lo, err, NL_INIT_STD, 0, 3, w1, "layers.%lld.mix.m_%s.w1", i, name))
		return -1;
	arg(lo, c->mem_w1_scale / sqrt((double)dh));
	if (add(lo, err, NL_INIT_STD, 0, 3, w2, "layers.%lld.mix.m_%s.w2", i, name))
		return -1;
	arg(lo, 1 / sqrt((double)dh));
	return 0;
}

/* The output side of both memory mixers: W_o (RMSNorm_h(o) ⊙ SiLU(x̃ W_g)). */
static int
add_mixer_out(struct nl_layout *lo, const struct nl_config *c, long long i, struct nl_err *err)
{
	int64_t d = c->d_model;
	return add(lo, err, NL_INIT_NORMAL, 1, 2, MAT(d, d), "layers.%lld.mix.w_g", i) ||
	    add(lo, err, NL_INIT_NORMAL_OUT, 1, 2, MAT(d, d), "layers.%lld.mix.w_o", i) ||
	    add(lo, err, NL_INIT_ONES, 0, 1, VEC(d), "layers.%lld.mix.out_norm.weight", i);
}

/* Titans LMM mixer (MODEL §2.1, §1.2 names). Gates start at η = eta_max/2, β = 0.9,
 * α = 0.98 (D7). */
static int
add_titans_mixer(struct nl_layout *lo, const struct nl_config *c, long long i,
    struct nl_err *err)
{
	int64_t d = c->d_model, h = c->heads;
	static const char *const proj[3] = { "q", "k", "v" };
	static const char *const gate[3] = { "eta", "beta", "a" };
	const double bias[3] = { 0, log(9.0), log(49.0) };
	if (add(lo, err, NL_INIT_ONES, 0, 1, VEC(d), "layers.%lld.mix.norm.weight", i))
		return -1;
	for (int j = 0; j < 3; j++)
		if (add(lo, err, NL_INIT_NORMAL, 1, 2, MAT(d, d), "layers.%lld.mix.w_%s", i, proj[j]))
			return -1;
	for (int j = 0; j < 3; j++)
		if (add(lo, err, NL_INIT_CONV, 0, 2, MAT(4, d), "layers.%lld.mix.conv_%s", i, proj[j]))
			return -1;
	for (int j = 0; j < 3; j++) {
		if (add(lo, err, NL_INIT_NORMAL, 1, 2, MAT(h, d), "layers.%lld.mix.w_%s", i, gate[j]) ||
		    add(lo, err, NL_INIT_CONST, 0, 1, VEC(h), "layers.%lld.mix.b_%s", i, gate[j]))
			return -1;
		arg(lo, bias[j]);
	}
	return add_memory(lo, c, i, "mem", d / h, err) || add_mixer_out(lo, c, i, err);
}

/* Self-modifying Titans mixer (MODEL §2.2, §1.2 names) of selfmod and hope. α starts at
 * 0.98, β at 0.9 (D7, §1.1). */
static int
add_selfmod_mixer(struct nl_layout *lo, const struct nl_config *c, long long i,
    struct nl_err *err)
{
	int64_t d = c->d_model, h = c->heads, dh = d / h;
	if (add(lo, err, NL_INIT_ONES, 0, 1, VEC(d), "layers.%lld.mix.norm.weight", i) ||
	    add(lo, err, NL_INIT_NORMAL, 1, 2, MAT(d, d), "layers.%lld.mix.w_x", i) ||
	    add(lo, err, NL_INIT_CONV, 0, 2, MAT(4, d), "layers.%lld.mix.conv", i) ||
	    (!c->adaptive_q &&
	    add(lo, err, NL_INIT_NORMAL, 1, 2, MAT(d, d), "layers.%lld.mix.w_q", i)) ||
	    add_memory(lo, c, i, "k", dh, err) || add_memory(lo, c, i, "v", dh, err) ||
	    add_memory(lo, c, i, "eta", 1, err) || add_memory(lo, c, i, "alpha", 1, err) ||
	    (c->adaptive_q && add_memory(lo, c, i, "q", dh, err)) ||
	    add_memory(lo, c, i, "mem", dh, err) ||
	    add(lo, err, NL_INIT_CONST, 0, 1, VEC(h), "layers.%lld.mix.b_alpha", i))
		return -1;
	arg(lo, log(49.0));
	if (c->inner_momentum) {
		if (add(lo, err, NL_INIT_CONST, 0, 1, VEC(h), "layers.%lld.mix.b_beta", i))
			return -1;
		arg(lo, log(9.0));
	}
	return add_mixer_out(lo, c, i, err);
}

/* MODEL §2.5: embed → L × [mixer, then the SwiGLU MLP or the CMS levels] → RMSNorm →
 * tied head. */
int
nl_layout_build(struct nl_layout *lo, const struct nl_config *c, struct nl_err *err)
{
	memset(lo, 0, sizeof *lo);
	if (c->vocab_size <= 0)
		return nl_err_set(err, NL_ERANGE, "vocabulary size not set");
	int (*mixer)(struct nl_layout *, const struct nl_config *, long long, struct nl_err *);
	if (strcmp(c->model, "transformer") == 0 || strcmp(c->model, "hope-attention") == 0)
		mixer = add_attention;
	else if (strcmp(c->model, "titans") == 0)
		mixer = add_titans_mixer;
	else if (strcmp(c->model, "selfmod") == 0 || strcmp(c->model, "hope") == 0)
		mixer = add_selfmod_mixer;
	else
		return nl_err_set(err, NL_EUNSUPPORTED, "model family '%s' is not built yet",
		    c->model);
	int64_t periods[NL_CMS_MAX_LEVELS];
	int levels = nl_config_has_cms(c) ? nl_config_cms_periods(c, periods) : 0;
	int rc = add(lo, err, NL_INIT_NORMAL, 1, 2, MAT(c->vocab_size, c->d_model),
	    "embed.weight");
	for (long long i = 0; rc == 0 && i < c->layers; i++) {
		rc = mixer(lo, c, i, err);
		if (levels == 0 && rc == 0)
			rc = add_swiglu(lo, c, i, "mlp", c->mlp_hidden, err);
		for (int v = 0; v < levels && rc == 0; v++) {
			char name[16];
			snprintf(name, sizeof name, "cms.%d", v);
			rc = add_swiglu(lo, c, i, name, c->cms_hidden, err);
		}
	}
	if (rc == 0)
		rc = add(lo, err, NL_INIT_ONES, 0, 1, VEC(c->d_model), "norm.weight");
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
