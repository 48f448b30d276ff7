/* nl — see LICENSE. Parameter layouts by model family (names per MODEL §1.2). */
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

static int
build_transformer(struct nl_layout *lo, const struct nl_config *c, struct nl_err *err)
{
	int64_t v = c->vocab_size, d = c->d_model, f = c->mlp_hidden;

	if (add(lo, err, NL_INIT_NORMAL, 1, 2, MAT(v, d), "embed.weight"))
		return -1;
	for (int64_t i = 0; i < c->layers; i++) {
		if (add(lo, err, NL_INIT_ONES, 0, 1, VEC(d), "layers.%lld.attn.norm.weight",
		    (long long)i) ||
		    add(lo, err, NL_INIT_NORMAL, 1, 2, MAT(3 * d, d), "layers.%lld.attn.w_qkv",
		    (long long)i) ||
		    add(lo, err, NL_INIT_NORMAL_OUT, 1, 2, MAT(d, d), "layers.%lld.attn.w_o",
		    (long long)i) ||
		    add(lo, err, NL_INIT_ONES, 0, 1, VEC(d), "layers.%lld.mlp.norm.weight",
		    (long long)i) ||
		    add(lo, err, NL_INIT_NORMAL, 1, 2, MAT(f, d), "layers.%lld.mlp.w_gate",
		    (long long)i) ||
		    add(lo, err, NL_INIT_NORMAL, 1, 2, MAT(f, d), "layers.%lld.mlp.w_up",
		    (long long)i) ||
		    add(lo, err, NL_INIT_NORMAL_OUT, 1, 2, MAT(d, f), "layers.%lld.mlp.w_down",
		    (long long)i))
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
