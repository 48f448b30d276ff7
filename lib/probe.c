/* nl — see LICENSE. Looking inside the memories (probe.h). */
#include "probe.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval.h"
#include "kernels.h"
#include "rng.h"

static const char *const mem_names[NL_MU_COUNT] = { "m_k", "m_v", "m_eta", "m_alpha", "m_q",
	"m_mem" };

const char *
nl_probe_unit_name(int unit, char *buf)
{
	if (unit < NL_PROBE_CMS)
		return mem_names[unit];
	snprintf(buf, 16, "cms.%d", unit - NL_PROBE_CMS);
	return buf;
}

static long long
gcd(long long a, long long b)
{
	while (b) {
		long long t = a % b;
		a = b, b = t;
	}
	return a;
}

/* The chunk of memory unit u, 0 when the family has no such memory. */
static int
mem_chunk(const struct nl_tf *tf, int u)
{
	const struct nl_mem *mm = &tf->mem;
	if (!tf->memfam)
		return 0;
	if (mm->titans)
		return u == NL_MU_MEM ? mm->chunk : 0;
	if (u == NL_MU_Q && !mm->adaptive_q)
		return 0;
	return u == NL_MU_MEM ? mm->chunk : mm->chunk_other;
}

/* The period of CMS level v when it learns in context, else 0. */
static long long
level_period(const struct nl_tf *tf, int v, int learn)
{
	return learn && tf->learns && tf->period[v] > 0 ? tf->period[v] : 0;
}

int
nl_probe_plan(const struct nl_config *cfg, int *learn, int *max_seq, struct nl_err *err)
{
	const int cms = nl_config_has_cms(cfg);
	*learn = cms && nl_config_cms_teach(cfg) > 0 && cfg->cms_lr > 0 && cfg->ttl;
	if (!nl_mem_family(cfg) && !*learn)
		return nl_err_set(err, NL_EUSAGE, "a %s has no memory that writes as it reads%s",
		    cfg->model, cms ? " (its CMS levels do not learn in context)" : "");
	/* a piece spans at most a memory's chunk or the teach window (piece_len) */
	int64_t seq = cfg->context > cfg->chunk_memory ? cfg->context : cfg->chunk_memory;
	if (cms && nl_config_cms_teach(cfg) > seq)
		seq = nl_config_cms_teach(cfg);
	*max_seq = (int)seq;
	return 0;
}

/* The tokens a probe feeds at a time: every memory's chunk and every learning level's
 * period and the teach window are multiples of it, so that every write ends a piece; 0 when
 * nothing writes. */
static int
piece_len(const struct nl_tf *tf, int learn)
{
	long long g = 0;
	for (int u = 0; u < NL_MU_COUNT; u++)
		g = gcd(g, mem_chunk(tf, u));
	for (int v = 0; v < tf->levels; v++)
		g = gcd(g, level_period(tf, v, learn));
	if (g && tf->teach_len > 0)        /* nl_eval_stream cuts at teach windows, learning or not */
		g = gcd(g, tf->teach_len);
	return (int)g;
}

/* Squared Frobenius norms of a, b and a − b over n floats, added to s[0..3). */
static void
sq_norms(const float *a, const float *b, size_t n, double s[3])
{
	for (size_t i = 0; i < n; i++) {
		s[0] += (double)a[i] * a[i];
		s[1] += (double)b[i] * b[i];
		s[2] += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
	}
}

/* A write's norm, delta and rel from sq_norms of (after, before). */
static void
write_norms(const double s[3], struct nl_probe_write *w)
{
	w->norm = sqrt(s[0]), w->delta = sqrt(s[2]);
	w->rel = s[1] > 0 ? w->delta / sqrt(s[1]) : NAN;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Mean and the 10th, 50th and 90th percentiles (linear between order statistics) of v[n],
 * which is sorted in place. */
static void
summary(double *v, int n, double out[4])
{
	double sum = 0;
	for (int i = 0; i < n; i++)
		sum += v[i];
	qsort(v, (size_t)n, sizeof *v, cmp_double);
	out[0] = sum / n;
	static const double p[3] = { 0.1, 0.5, 0.9 };
	for (int k = 0; k < 3; k++) {
		double at = p[k] * (n - 1);
		int lo = (int)at;
		out[k + 1] = lo + 1 < n ? v[lo] + (at - lo) * (v[lo + 1] - v[lo]) : v[lo];
	}
}

int
nl_probe_svals(const float *a, int m, int n, double *s)
{
	/* Jacobi rotations of the columns of the taller orientation until they are orthogonal:
	 * the singular values are then their norms */
	const int rows = m >= n ? m : n, cols = m >= n ? n : m;
	for (size_t i = 0; i < (size_t)m * n; i++)
		if (!isfinite(a[i])) {
			for (int j = 0; j < cols; j++)
				s[j] = NAN;
			return 0;
		}
	double *u = malloc((size_t)rows * cols * sizeof *u);
	if (u == NULL)
		return -1;
	for (int i = 0; i < m; i++)
		for (int j = 0; j < n; j++)
			u[m >= n ? (size_t)j * rows + i : (size_t)i * rows + j] = a[(size_t)i * n + j];
	for (int sweep = 0; sweep < 60; sweep++) {
		int rotated = 0;
		for (int p = 0; p < cols; p++)
			for (int q = p + 1; q < cols; q++) {
				double *x = u + (size_t)p * rows, *y = u + (size_t)q * rows;
				double al = 0, be = 0, ga = 0;
				for (int i = 0; i < rows; i++)
					al += x[i] * x[i], be += y[i] * y[i], ga += x[i] * y[i];
				if (fabs(ga) <= 1e-15 * sqrt(al * be) || ga == 0)
					continue;
				rotated = 1;
				double zeta = (be - al) / (2 * ga);
				double t = (zeta >= 0 ? 1 : -1) / (fabs(zeta) + sqrt(1 + zeta * zeta));
				double c = 1 / sqrt(1 + t * t), sn = c * t;
				for (int i = 0; i < rows; i++) {
					double xi = x[i], yi = y[i];
					x[i] = c * xi - sn * yi, y[i] = sn * xi + c * yi;
				}
			}
		if (!rotated)
			break;
	}
	for (int j = 0; j < cols; j++) {
		double ss = 0;
		for (int i = 0; i < rows; i++)
			ss += u[(size_t)j * rows + i] * u[(size_t)j * rows + i];
		s[j] = sqrt(ss);
	}
	free(u);
	qsort(s, (size_t)cols, sizeof *s, cmp_double);
	for (int j = 0; j < cols / 2; j++) {            /* descending */
		double t = s[j];
		s[j] = s[cols - 1 - j], s[cols - 1 - j] = t;
	}
	return 0;
}

double
nl_probe_erank(const double *s, int k)
{
	double sum = 0, h = 0;
	for (int i = 0; i < k; i++)
		sum += s[i];
	if (isnan(sum))
		return NAN;
	if (sum <= 0)
		return 0;
	for (int i = 0; i < k; i++)
		if (s[i] > 0)
			h -= s[i] / sum * log(s[i] / sum);
	return exp(h);
}

/* Whether layer l is reported (the set holds layers 0 to 63). */
static int
probed(uint64_t layers, int l)
{
	return l < 64 && (layers >> l & 1);
}

struct probe_run {
	const struct nl_tf *tf;
	const struct nl_probe *p;
	struct nl_state_part *parts;       /* the memories' states in the stream */
	int nparts;
	float *prev_mem;                   /* the memories' stream state after the last piece */
	float *prev_cms;                   /* each (layer, level)'s θ then */
	int ring;                          /* tokens of gates kept per (layer, head) */
	double *eta, *alpha;               /* [layers][heads][ring], by position mod ring */
	double *tmp;
	double *sv;                        /* singular values of one matrix */
};

/* The part of parts[n] named layers.l.mix.<unit>.<what> (what: w1 or w2). */
static const struct nl_state_part *
find_part(const struct nl_state_part *parts, int n, int l, int u, const char *what)
{
	char name[64];
	snprintf(name, sizeof name, "layers.%d.mix.%s.%s", l, mem_names[u], what);
	for (int i = 0; i < n; i++)
		if (strcmp(parts[i].name, name) == 0)
			return &parts[i];
	return NULL;
}

/* Head h's floats of a memory matrix part. */
static float *
part_head(const struct nl_state_part *w, int h)
{
	return (float *)(w->base + (size_t)h * w->stride);
}

/* The writes of memory unit u of layer l that ended at pos (one per head). */
static int
report_memory(struct probe_run *r, const struct nl_tf_stream *s, int l, int u, long long pos,
    struct nl_err *err)
{
	const struct nl_mem *mm = &r->tf->mem;
	const struct nl_state_part *w[2] = { find_part(r->parts, r->nparts, l, u, "w1"),
		find_part(r->parts, r->nparts, l, u, "w2") };
	const int c = mem_chunk(r->tf, u);
	for (int h = 0; h < mm->heads; h++) {
		struct nl_probe_write wr = { l, u, h, pos, 0, 0, 0, { 0 }, { 0 } };
		double sq[3] = { 0, 0, 0 };
		for (int k = 0; k < 2; k++) {
			const float *now = part_head(w[k], h);
			float *was = r->prev_mem + (now - (const float *)s->mem.data);
			const size_t len = w[k]->len / sizeof(float);
			sq_norms(now, was, len, sq);
			memcpy(was, now, len * sizeof *now);    /* the next write's "before" */
		}
		write_norms(sq, &wr);
		/* the gates of the chunk's c tokens, the last ones the ring holds */
		const size_t at = ((size_t)l * mm->heads + h) * (size_t)r->ring;
		for (int k = 0; k < c; k++)
			r->tmp[k] = r->eta[at + (size_t)((pos - c + k) % r->ring)];
		summary(r->tmp, c, wr.eta);
		for (int k = 0; k < c; k++)
			r->tmp[k] = r->alpha[at + (size_t)((pos - c + k) % r->ring)];
		summary(r->tmp, c, wr.alpha);
		if (r->p->on_write(r->p->ctx, &wr, err))
			return -1;
	}
	return 0;
}

/* The step of CMS level v of layer l that ended at pos. */
static int
report_level(struct probe_run *r, const struct nl_tf_stream *s, int l, int v, long long pos,
    struct nl_err *err)
{
	const struct nl_tf *tf = r->tf;
	const float *theta = s->tab[(size_t)l * tf->levels + v];      /* one sequence: b = 1 */
	float *was = r->prev_cms + ((size_t)l * tf->levels + v) * tf->fast_len;
	struct nl_probe_write wr = { l, NL_PROBE_CMS + v, 0, pos, 0, 0, 0,
		{ NAN, NAN, NAN, NAN }, { NAN, NAN, NAN, NAN } };
	double sq[3] = { 0, 0, 0 };
	sq_norms(theta, was, tf->fast_len, sq);
	write_norms(sq, &wr);
	memcpy(was, theta, tf->fast_len * sizeof *theta);
	return r->p->on_write(r->p->ctx, &wr, err);
}

/* One matrix's spectrum (rows × cols at a). */
static int
report_rank(struct probe_run *r, int l, int u, int matrix, int head, long long pos,
    const float *a, int rows, int cols, struct nl_err *err)
{
	if (nl_probe_svals(a, rows, cols, r->sv))
		return nl_err_set(err, NL_ENOMEM, "out of memory");
	struct nl_probe_rank rk = { l, u, matrix, head, pos,
		nl_probe_erank(r->sv, rows < cols ? rows : cols), r->sv[0] };
	return r->p->on_rank(r->p->ctx, &rk, err);
}

/* Every matrix's spectrum at pos: each memory head's W1 and W2, each learning level's maps. */
static int
measure_ranks(struct probe_run *r, const struct nl_tf_stream *s, long long pos,
    struct nl_err *err)
{
	const struct nl_tf *tf = r->tf;
	for (int l = 0; l < tf->layers; l++) {
		if (!probed(r->p->layers, l))
			continue;
		for (int u = 0; u < NL_MU_COUNT; u++) {
			if (!mem_chunk(tf, u))
				continue;
			for (int k = 0; k < 2; k++) {
				const struct nl_state_part *w = find_part(r->parts, r->nparts, l, u,
				    k ? "w2" : "w1");
				for (int h = 0; h < tf->mem.heads; h++)
					if (report_rank(r, l, u, k, h, pos, part_head(w, h),
					    (int)w->dims[2], (int)w->dims[3], err))
						return -1;
			}
		}
		for (int v = 0; v < tf->levels && s->cms; v++) {
			if (tf->period[v] <= 0)
				continue;
			const struct nl_tf_level *lv = &tf->lay[l].lev[v];
			const float *theta = s->tab[(size_t)l * tf->levels + v];
			const int f = tf->hidden, d = tf->d;
			if (report_rank(r, l, NL_PROBE_CMS + v, 0, 0, pos, theta, f, d, err) ||
			    report_rank(r, l, NL_PROBE_CMS + v, 1, 0, pos, theta + (lv->w_up -
			    lv->w_gate), f, d, err) ||
			    report_rank(r, l, NL_PROBE_CMS + v, 2, 0, pos, theta + (lv->w_down -
			    lv->w_gate), d, f, err))
				return -1;
		}
	}
	return 0;
}

/* The whole fast state at pos into dump, each tensor named NAME@POS. */
static int
dump_state(struct nl_tset *dump, const struct nl_tf *tf, const struct nl_tf_stream *s,
    long long pos, struct nl_err *err)
{
	int n = nl_tf_stream_parts(tf, s, NULL);
	struct nl_state_part *parts = calloc((size_t)n, sizeof *parts);
	if (parts == NULL)
		return nl_err_set(err, NL_ENOMEM, "out of memory");
	nl_tf_stream_parts(tf, s, parts);
	int rc = 0;
	for (int i = 0; i < n && rc == 0; i++) {
		const struct nl_state_part *pt = &parts[i];
		struct nl_tinfo ti;
		memset(&ti, 0, sizeof ti);
		snprintf(ti.name, sizeof ti.name, "%s@%lld", pt->name, pos);
		ti.dtype = pt->dtype, ti.rank = pt->rank;
		memcpy(ti.dims, pt->dims, (size_t)pt->rank * sizeof *ti.dims);
		struct nl_tensor *t = nl_tset_add(dump, &ti, err);
		if (t == NULL || t->nbytes != pt->blocks * pt->len) {
			rc = t ? nl_err_set(err, NL_ERANGE, "%s: state of %zu bytes for %zu", ti.name,
			    pt->blocks * pt->len, t->nbytes) : -1;
			break;
		}
		for (size_t b = 0; b < pt->blocks; b++)
			memcpy((char *)t->data + b * pt->len, pt->base + b * pt->stride, pt->len);
	}
	free(parts);
	return rc;
}

/* The state before the first writes; each write then keeps its own (a memory's state and
 * a level's θ change only when they write). */
static void
snapshot(struct probe_run *r, const struct nl_tf_stream *s)
{
	const struct nl_tf *tf = r->tf;
	if (tf->memfam)
		memcpy(r->prev_mem, s->mem.data, (size_t)tf->mem.layers * s->mem.layer_size *
		    sizeof(float));
	if (s->cms)
		for (int l = 0; l < tf->layers; l++)
			for (int v = 0; v < tf->levels; v++)
				if (tf->period[v] > 0)
					memcpy(r->prev_cms + ((size_t)l * tf->levels + v) * tf->fast_len,
					    s->tab[(size_t)l * tf->levels + v], tf->fast_len * sizeof(float));
}

/* Feed tokens [*i0, …) of data to s until it has read end tokens (the first call takes one
 * more: its first token is context only). */
static int
feed_to(struct nl_tf *tf, const float *params, struct nl_tf_stream *s,
    const struct nl_tokens *data, size_t *i0, long long end, int learn, struct nl_err *err)
{
	struct nl_eval_result res;
	memset(&res, 0, sizeof res);
	struct nl_tokens view = *data;
	size_t len = (size_t)(end - s->pos) + (*i0 == 0);
	if (len > data->n - *i0)
		len = data->n - *i0;
	view.ids += *i0;
	if (view.flags)
		view.flags += *i0;
	view.n = len;
	*i0 += len;
	return nl_eval_stream(tf, params, s, &view, NULL, learn, 0, &res, NULL, err);
}

int
nl_probe_run(struct nl_tf *tf, const float *params, const struct nl_config *cfg,
    const struct nl_tokens *data, const struct nl_probe *p, struct nl_err *err)
{
	const int g = piece_len(tf, p->learn);
	if (g == 0)
		return nl_err_set(err, NL_EUSAGE, "a %s has no memory that writes as it reads",
		    cfg->model);
	struct probe_run r;
	struct nl_tf_stream s;
	memset(&r, 0, sizeof r);
	r.tf = tf, r.p = p;
	const long long total = data->n ? (long long)data->n - 1 : 0;   /* tokens fed */
	for (int i = 0; i < p->nat; i++)
		if (p->at[i] < 1 || p->at[i] > total || (i && p->at[i] <= p->at[i - 1]))
			return nl_err_set(err, NL_ERANGE, "position %lld: the stream reads %lld tokens "
			    "(positions ascending, from 1)", p->at[i], total);
	if (g > tf->max_seq)
		return nl_err_set(err, NL_ERANGE, "pieces of %d tokens: the model was set up for %d",
		    g, tf->max_seq);
	if (nl_eval_stream_start(tf, params, &s, cfg, NULL, err))
		return -1;
	int rc = -1;
	const struct nl_mem *mm = &tf->mem;
	if (tf->memfam) {
		r.nparts = nl_mem_stream_parts(mm, &s.mem, NULL);
		r.parts = calloc((size_t)r.nparts, sizeof *r.parts);
		r.prev_mem = malloc((size_t)mm->layers * s.mem.layer_size * sizeof(float));
		r.ring = mm->chunk > mm->chunk_other ? mm->chunk : mm->chunk_other;
		r.eta = calloc((size_t)mm->layers * mm->heads * r.ring, sizeof *r.eta);
		r.alpha = calloc((size_t)mm->layers * mm->heads * r.ring, sizeof *r.alpha);
		r.tmp = malloc((size_t)r.ring * sizeof *r.tmp);
		if (!r.parts || !r.prev_mem || !r.eta || !r.alpha || !r.tmp) {
			nl_err_set(err, NL_ENOMEM, "out of memory");
			goto out;
		}
		nl_mem_stream_parts(mm, &s.mem, r.parts);
	}
	if (s.cms && (r.prev_cms = malloc((size_t)tf->layers * tf->levels * tf->fast_len *
	    sizeof(float))) == NULL) {
		nl_err_set(err, NL_ENOMEM, "out of memory");
		goto out;
	}
	if ((r.sv = malloc((size_t)(tf->hidden + tf->d + mm->dh) * sizeof *r.sv)) == NULL) {
		nl_err_set(err, NL_ENOMEM, "out of memory");
		goto out;
	}
	snapshot(&r, &s);
	/* pieces that end at the next multiple of g or position asked for; the first takes
	 * one more token, its first being context only */
	int next_at = 0;
	for (size_t i0 = 0; s.pos < total; ) {
		long long end = (s.pos / g + 1) * g;
		if (next_at < p->nat && p->at[next_at] < end)
			end = p->at[next_at];
		long long before = s.pos;
		if (feed_to(tf, params, &s, data, &i0, end, p->learn, err))
			goto out;
		const long long pos = s.pos, fed = pos - before;
		if (tf->memfam && fed > mm->t) {        /* g fits every piece nl_eval_stream cuts */
			nl_err_set(err, NL_ERANGE, "a piece of %lld tokens was cut", fed);
			goto out;
		}
		/* this piece's gates: the last fed tokens of the last forward */
		if (tf->memfam && fed > 0)
			for (int l = 0; l < mm->layers; l++)
				for (int h = 0; h < mm->heads; h++) {
					double eta[64], alpha[64];
					const size_t row = ((size_t)l * mm->heads + h) * (size_t)r.ring;
					for (long long k0 = 0; k0 < fed; k0 += 64) {
						int n = (int)(fed - k0 < 64 ? fed - k0 : 64);
						nl_mem_gates(mm, l, 0, h, mm->t - (int)fed + (int)k0, n, eta, alpha);
						for (int k = 0; k < n; k++) {
							size_t slot = (size_t)((before + k0 + k) % r.ring);
							r.eta[row + slot] = eta[k], r.alpha[row + slot] = alpha[k];
						}
					}
				}
		for (int l = 0; l < tf->layers; l++) {
			if (!probed(p->layers, l))
				continue;
			for (int u = 0; u < NL_MU_COUNT; u++) {
				int c = mem_chunk(tf, u);
				if (c && pos / c > before / c &&
				    report_memory(&r, &s, l, u, pos, err))
					goto out;
			}
			for (int v = 0; v < tf->levels; v++) {
				long long P = level_period(tf, v, p->learn);
				if (P && pos / P > before / P && report_level(&r, &s, l, v, pos, err))
					goto out;
			}
		}
		if (next_at < p->nat && pos == p->at[next_at]) {
			if ((p->on_rank && measure_ranks(&r, &s, pos, err)) ||
			    (p->dump && dump_state(p->dump, tf, &s, pos, err)))
				goto out;
			next_at++;
		}
	}
	rc = 0;
out:
	nl_tf_stream_free(&s);
	free(r.parts);
	free(r.prev_mem);
	free(r.prev_cms);
	free(r.eta);
	free(r.alpha);
	free(r.tmp);
	free(r.sv);
	return rc;
}

/* array (n used of *cap elements of elem bytes) with room for one more: itself, a larger
 * copy (*cap updated), or NULL when out of memory (array unchanged). */
static void *
with_room(void *array, size_t n, size_t *cap, size_t elem)
{
	if (n < *cap)
		return array;
	size_t want = *cap ? 2 * *cap : 64;
	void *p = realloc(array, want * elem);
	if (p)
		*cap = want;
	return p;
}

int
nl_probe_log_add(void *ctx, const struct nl_probe_write *w, struct nl_err *err)
{
	struct nl_probe_log *log = ctx;
	struct nl_probe_write *p = with_room(log->w, log->n, &log->cap, sizeof *p);
	if (p == NULL)
		return nl_err_set(err, NL_ENOMEM, "out of memory for the probe's writes");
	log->w = p;
	log->w[log->n++] = *w;
	return 0;
}

int
nl_probe_log_rank(void *ctx, const struct nl_probe_rank *r, struct nl_err *err)
{
	struct nl_probe_log *log = ctx;
	struct nl_probe_rank *p = with_room(log->r, log->nr, &log->rcap, sizeof *p);
	if (p == NULL)
		return nl_err_set(err, NL_ENOMEM, "out of memory for the probe's spectra");
	log->r = p;
	log->r[log->nr++] = *r;
	return 0;
}

/* The stem of a unit's tensor names: layers.L.mix.M or layers.L.cms.V. */
static void
unit_prefix(char *buf, size_t size, int layer, int unit)
{
	if (unit >= NL_PROBE_CMS)
		snprintf(buf, size, "layers.%d.cms.%d", layer, unit - NL_PROBE_CMS);
	else
		snprintf(buf, size, "layers.%d.mix.%s", layer, mem_names[unit]);
}

const char *
nl_probe_matrix_name(int unit, int matrix)
{
	static const char *const mem[2] = { "w1", "w2" }, *const cms[3] = { "w_gate", "w_up",
		"w_down" };
	return unit >= NL_PROBE_CMS ? cms[matrix] : mem[matrix];
}

void
nl_probe_log_free(struct nl_probe_log *log)
{
	free(log->w);
	free(log->r);
	memset(log, 0, sizeof *log);
}

/* A tensor of the set: name prefix.what, dtype, shape n [, heads [, 4]]. */
static void *
add_tensor(struct nl_tset *ts, const char *prefix, const char *what, enum nl_dtype dt,
    int rank, uint64_t n, uint64_t heads, struct nl_err *err)
{
	struct nl_tinfo ti;
	memset(&ti, 0, sizeof ti);
	snprintf(ti.name, sizeof ti.name, "%s.%s", prefix, what);
	ti.dtype = dt, ti.rank = rank;
	ti.dims[0] = n, ti.dims[1] = heads, ti.dims[2] = 4;
	struct nl_tensor *t = nl_tset_add(ts, &ti, err);
	return t ? t->data : NULL;
}

/* The spectra as tensors: positions in order, rows per (layer, unit, matrix) key. */
static int
ranks_tset(const struct nl_probe_log *log, struct nl_tset *ts, struct nl_err *err)
{
	if (log->nr == 0)
		return 0;
	uint64_t npos = 0;
	for (size_t i = 0; i < log->nr; i++)
		if (i == 0 || log->r[i].pos != log->r[i - 1].pos)
			npos++;
	int64_t *at = add_tensor(ts, "probe", "at", NL_DTYPE_I64, 1, npos, 0, err);
	if (at == NULL)
		return -1;
	for (size_t i = 0, k = 0; i < log->nr; i++)
		if (i == 0 || log->r[i].pos != log->r[i - 1].pos)
			at[k++] = log->r[i].pos;
	/* the first position's rows name every key, heads in order */
	for (size_t i = 0; i < log->nr && log->r[i].pos == log->r[0].pos; i++) {
		const struct nl_probe_rank *r0 = &log->r[i];
		if (r0->head != 0)
			continue;
		uint64_t heads = 1;
		while (i + heads < log->nr && log->r[i + heads].head == (int)heads &&
		    log->r[i + heads].unit == r0->unit && log->r[i + heads].matrix == r0->matrix)
			heads++;
		char stem[64], prefix[96];
		unit_prefix(stem, sizeof stem, r0->layer, r0->unit);
		snprintf(prefix, sizeof prefix, "%s.%s", stem,
		    nl_probe_matrix_name(r0->unit, r0->matrix));
		const int rank = r0->unit >= NL_PROBE_CMS ? 1 : 2;
		float *er = add_tensor(ts, prefix, "erank", NL_DTYPE_F32, rank, npos, heads, err);
		float *sm = er ? add_tensor(ts, prefix, "sigma_max", NL_DTYPE_F32, rank, npos, heads,
		    err) : NULL;
		if (sm == NULL)
			return -1;
		size_t k = 0;
		for (size_t j = 0; j < log->nr; j++) {
			const struct nl_probe_rank *r = &log->r[j];
			if (r->layer == r0->layer && r->unit == r0->unit && r->matrix == r0->matrix &&
			    k < npos * heads)
				er[k] = (float)r->erank, sm[k++] = (float)r->sigma_max;
		}
	}
	return 0;
}

int
nl_probe_log_tset(const struct nl_probe_log *log, struct nl_tset *ts, struct nl_err *err)
{
	if (nl_meta_set(&ts->meta, "kind", "probe", err) < 0)
		return -1;
	long long *seen = malloc((log->n + 1) * sizeof *seen);   /* (layer, unit) keys done */
	size_t nseen = 0;
	if (seen == NULL)
		return nl_err_set(err, NL_ENOMEM, "out of memory");
	for (size_t i = 0; i < log->n; i++) {
		const struct nl_probe_write *w0 = &log->w[i];
		const long long key = (long long)w0->layer * NL_PROBE_UNITS + w0->unit;
		const int cms = w0->unit >= NL_PROBE_CMS;
		size_t s = 0;
		while (s < nseen && seen[s] != key)
			s++;
		if (s < nseen)
			continue;
		seen[nseen++] = key;
		/* this (layer, unit)'s writes: n positions of `heads` rows each */
		uint64_t rows = 0, heads = 0;
		for (size_t j = i; j < log->n; j++)
			if (log->w[j].layer == w0->layer && log->w[j].unit == w0->unit) {
				rows++;
				if (log->w[j].head + 1 > (int)heads)
					heads = (uint64_t)log->w[j].head + 1;
			}
		const uint64_t n = rows / heads;
		char prefix[64];
		unit_prefix(prefix, sizeof prefix, w0->layer, w0->unit);
		const int r = cms ? 1 : 2;
		int64_t *pos = add_tensor(ts, prefix, "pos", NL_DTYPE_I64, 1, n, 0, err);
		float *norm = pos ? add_tensor(ts, prefix, "norm", NL_DTYPE_F32, r, n, heads, err) : 0;
		float *delta = norm ? add_tensor(ts, prefix, "delta", NL_DTYPE_F32, r, n, heads, err) : 0;
		float *rel = delta ? add_tensor(ts, prefix, "rel", NL_DTYPE_F32, r, n, heads, err) : 0;
		float *eta = NULL, *alpha = NULL;
		if (rel && !cms) {
			eta = add_tensor(ts, prefix, "eta", NL_DTYPE_F32, 3, n, heads, err);
			alpha = eta ? add_tensor(ts, prefix, "alpha", NL_DTYPE_F32, 3, n, heads, err) : 0;
		}
		if (rel == NULL || (!cms && alpha == NULL)) {
			free(seen);
			return -1;
		}
		/* rows come per write, heads in order */
		size_t k = 0;
		for (size_t j = i; j < log->n; j++) {
			const struct nl_probe_write *w = &log->w[j];
			if (w->layer != w0->layer || w->unit != w0->unit)
				continue;
			pos[k / heads] = w->pos;
			norm[k] = (float)w->norm, delta[k] = (float)w->delta, rel[k] = (float)w->rel;
			for (int q = 0; q < 4 && !cms; q++)
				eta[4 * k + q] = (float)w->eta[q], alpha[4 * k + q] = (float)w->alpha[q];
			k++;
		}
	}
	free(seen);
	return ranks_tset(log, ts, err);
}

/* ---- recall ---- */

const char *
nl_probe_recall_mode_name(enum nl_recall_mode mode)
{
	static const char *const names[] = { "direct", "linear", "model" };
	return names[mode];
}

void
nl_probe_recall_free(struct nl_recall *rc)
{
	free(rc->rows);
	rc->rows = NULL;
	rc->nrows = rc->cap = 0;
}

static int
recall_add(struct nl_recall *rc, int layer, int unit, int head, long long x, double a, double b,
    double a0, double b0, struct nl_err *err)
{
	struct nl_recall_row *p = with_room(rc->rows, rc->nrows, &rc->cap, sizeof *p);
	if (p == NULL)
		return nl_err_set(err, NL_ENOMEM, "out of memory for the probe's rows");
	rc->rows = p;
	rc->rows[rc->nrows++] = (struct nl_recall_row){ layer, unit, head, x, a, b, a0, b0 };
	return 0;
}

int
nl_probe_recall_defaults(const struct nl_tf *tf, int retention, enum nl_recall_mode mode,
    long long last_distance, long long *x, int max)
{
	int n = 0;
	if (retention) {
		if (max > 0 && last_distance >= 0)
			x[n++] = 0;
		for (long long d = 16; n < max && d <= last_distance; d *= 4)
			x[n++] = d;
		return n;
	}
	const long long dh = tf->mem.dh, c = tf->mem.chunk;
	long long last = 8 * dh;
	if (mode == NL_RECALL_MODEL && last < 16 * c)
		last = 16 * c;
	for (long long k = mode == NL_RECALL_MODEL ? c : 1; n < max && k <= last; k *= 2)
		x[n++] = k;
	return n;
}

static void
draw_associations(struct nl_rng *g, int n, int d, float *k, float *v, double *b)
{
	for (int i = 0; i < n; i++) {
		double nk = 0;
		while (nk < 1e-3) {     /* a draw all but inside the basis so far is drawn again */
			for (int j = 0; j < d; j++)
				b[j] = nl_rng_normal(g);
			for (int pass = 0; pass < 2; pass++)
				for (int q = i - i % d; q < i; q++) {
					double p = 0;
					for (int j = 0; j < d; j++)
						p += b[j] * k[(size_t)q * d + j];
					for (int j = 0; j < d; j++)
						b[j] -= p * k[(size_t)q * d + j];
				}
			nk = 0;
			for (int j = 0; j < d; j++)
				nk += b[j] * b[j];
			nk = sqrt(nk);
		}
		for (int j = 0; j < d; j++)
			k[(size_t)i * d + j] = (float)(b[j] / nk);
		double nv = 0;
		for (int j = 0; j < d; j++)
			b[j] = nl_rng_normal(g), nv += b[j] * b[j];
		nv = sqrt(nv);
		for (int j = 0; j < d; j++)
			v[(size_t)i * d + j] = (float)(b[j] / nv);
	}
}

/* Every head its own associations, the same whatever else is probed. */
static uint64_t
assoc_seed(uint64_t seed, int layer, int head)
{
	return seed ^ ((uint64_t)(layer + 1) << 32) ^ (uint64_t)(head + 1);
}

int
nl_probe_associations(uint64_t seed, int layer, int head, int n, int d, float *k, float *v)
{
	double *b = malloc((size_t)d * sizeof *b);
	struct nl_rng g;
	if (b == NULL)
		return -1;
	nl_rng_seed(&g, assoc_seed(seed, layer, head));
	draw_associations(&g, n, d, k, v, b);
	free(b);
	return 0;
}

void
nl_probe_retention_pair(uint64_t seed, int vocab, int32_t *a, int32_t *b)
{
	struct nl_rng g;
	nl_rng_seed(&g, seed);
	for (int i = 0; i < NL_RECALL_ASSOC; i++) {
		a[i] = (int32_t)nl_rng_below(&g, (uint64_t)vocab);
		b[i] = (int32_t)((a[i] + 1 + nl_rng_below(&g, (uint64_t)vocab - 1)) % vocab);
	}
}

/* Recall error and accuracy (struct nl_recall_row) of reads y against targets t, [n, d]. */
static void
recall_score(const float *y, const float *t, int n, int d, double *error, double *accuracy)
{
	double e = 0;
	int hits = 0;
	for (int i = 0; i < n; i++) {
		const float *yi = y + (size_t)i * d;
		double best = INFINITY, own = 0, tt = 0;
		int nearest = -1;
		for (int j = 0; j < n; j++) {
			double s = 0;
			for (int q = 0; q < d; q++) {
				double r = (double)yi[q] - t[(size_t)j * d + q];
				s += r * r;
			}
			if (j == i)
				own = s;
			if (s < best)
				best = s, nearest = j;
		}
		for (int q = 0; q < d; q++)
			tt += (double)t[(size_t)i * d + q] * t[(size_t)i * d + q];
		e += own / tt;
		hits += nearest == i;
	}
	*error = e / n;
	*accuracy = (double)hits / n;
}

/* The state of a stream's memories, looked up by name. */
struct mem_parts {
	struct nl_state_part *p;
	int n;
};

static int
mem_parts_of(const struct nl_mem *mm, const struct nl_mem_stream *s, struct mem_parts *mp,
    struct nl_err *err)
{
	mp->n = nl_mem_stream_parts(mm, s, NULL);
	if ((mp->p = calloc((size_t)mp->n, sizeof *mp->p)) == NULL)
		return nl_err_set(err, NL_ENOMEM, "out of memory");
	nl_mem_stream_parts(mm, s, mp->p);
	return 0;
}

/* M_mem (W1 [dout, dh], W2 [dh, dh]) of head h read at rows z [n, dh] into y. */
static void
mem_read(const struct nl_mem *mm, const struct nl_mem_unit *un, const float *w1,
    const float *w2, const float *z, int n, float *y, float *hp, float *ac)
{
	nlk_mem_read_fwd(y, hp, ac, z, w1, w2, n, mm->dh, mm->dh, un->dout, un->resid);
}

/* direct and linear: one head's writes and reads (buffers of the caller). */
struct assoc_work {
	float *k, *v, *y, *hp, *ac, *w1, *w2, *s1, *s2, *e, *dl, *scr;
	double *lin;                /* linear: W [dh, dh] */
};

/* One association (k, v) into the head's state by M_mem's rule (β = 0: no momentum). */
static void
direct_write(const struct nl_mem *mm, const struct nl_mem_unit *un, struct assoc_work *w,
    const float *k, const float *v, float eta, float alpha)
{
	const int dh = mm->dh;
	const float beta = 0;
	float cv, g;
	if (w->lin == NULL) {
		mem_read(mm, un, w->w1, w->w2, k, 1, w->y, w->hp, w->ac);
		nlk_mem_igrad_fwd(w->e, w->dl, &cv, w->y, v, k, w->hp, w->ac, w->w1, 1, dh, dh,
		    un->dout);
		nlk_mem_step_fwd(&g, &eta, &cv, &beta, 1, mm->rule, mm->ema);
		nlk_mem_write_fwd(w->w1, w->w2, w->s1, w->s2, k, w->e, w->ac, w->dl, &g,
		    mm->projector ? &eta : NULL, &alpha, &beta, 1, dh, dh, un->dout, w->scr);
		return;
	}
	/* W ← αW − p (W k) kᵀ − g (W k − v) kᵀ: the same rule where the Jacobian's squared norm
	 * (the step rules' curvature) is ‖k‖² */
	double *W = w->lin, kk = 0;
	for (int j = 0; j < dh; j++)
		kk += (double)k[j] * k[j];
	cv = (float)kk;
	nlk_mem_step_fwd(&g, &eta, &cv, &beta, 1, mm->rule, mm->ema);
	const double p = mm->projector ? eta : 0;
	for (int i = 0; i < dh; i++) {
		double *row = W + (size_t)i * dh, wk = 0;
		for (int j = 0; j < dh; j++)
			wk += row[j] * k[j];
		const double c = p * wk + g * (wk - v[i]);
		for (int j = 0; j < dh; j++)
			row[j] = alpha * row[j] - c * k[j];
	}
}

/* The head's reads of keys [n, dh] into w->y. */
static void
direct_read(const struct nl_mem *mm, const struct nl_mem_unit *un, struct assoc_work *w,
    const float *k, int n)
{
	const int dh = mm->dh;
	if (w->lin == NULL) {
		mem_read(mm, un, w->w1, w->w2, k, n, w->y, w->hp, w->ac);
		return;
	}
	for (int t = 0; t < n; t++)
		for (int i = 0; i < dh; i++) {
			double s = 0;
			for (int j = 0; j < dh; j++)
				s += w->lin[(size_t)i * dh + j] * k[(size_t)t * dh + j];
			w->y[(size_t)t * dh + i] = (float)s;
		}
}

/* Floats of one head's work for n associations. */
static size_t
assoc_work_size(int n, int dh)
{
	return 5 * (size_t)n * dh + 4 * (size_t)dh * dh + 3 * (size_t)dh;
}

static void
assoc_work_of(float *p, int n, int dh, double *lin, struct assoc_work *w)
{
	const size_t nd = (size_t)n * dh, m2 = (size_t)dh * dh;
	float **rows[] = { &w->k, &w->v, &w->y, &w->hp, &w->ac };
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++, p += nd)
		*rows[i] = p;
	float **mats[] = { &w->w1, &w->w2, &w->s1, &w->s2 };
	for (size_t i = 0; i < sizeof mats / sizeof mats[0]; i++, p += m2)
		*mats[i] = p;
	w->e = p, w->dl = p + dh, w->scr = p + 2 * dh;
	w->lin = lin;
}

/* direct and linear: every probed layer's M_mem heads, from the meta-learned state. */
static int
capacity_direct(struct nl_tf *tf, const float *params, const struct nl_config *cfg,
    struct nl_recall *rc, struct nl_err *err)
{
	const struct nl_mem *mm = &tf->mem;
	const int dh = mm->dh, N = (int)rc->x[rc->nx - 1];
	const size_t m2 = (size_t)dh * dh;
	struct nl_tf_stream s;
	struct mem_parts mp = { NULL, 0 };
	struct assoc_work w;
	struct nl_rng g;
	double *b = malloc((size_t)dh * sizeof *b);
	float *buf = malloc(assoc_work_size(N, dh) * sizeof *buf);
	double *lin = rc->mode == NL_RECALL_LINEAR ? malloc(m2 * sizeof *lin) : NULL;
	int ret = -1;
	if (b == NULL || buf == NULL || (rc->mode == NL_RECALL_LINEAR && lin == NULL)) {
		free(b), free(buf), free(lin);
		return nl_err_set(err, NL_ENOMEM, "out of memory");
	}
	assoc_work_of(buf, N, dh, lin, &w);
	/* a fresh stream holds the meta-learned initial states */
	if (nl_eval_stream_start(tf, params, &s, cfg, NULL, err))
		goto free_bufs;
	if (mem_parts_of(mm, &s.mem, &mp, err))
		goto out;
	for (int l = 0; l < mm->layers; l++) {
		if (!probed(rc->layers, l))
			continue;
		const struct nl_mem_unit *un = &mm->lay[l].u[NL_MU_MEM];
		const struct nl_state_part *p1 = find_part(mp.p, mp.n, l, NL_MU_MEM, "w1");
		const struct nl_state_part *p2 = find_part(mp.p, mp.n, l, NL_MU_MEM, "w2");
		for (int h = 0; h < mm->heads; h++) {
			nl_rng_seed(&g, assoc_seed(rc->seed, l, h));
			draw_associations(&g, N, dh, w.k, w.v, b);
			memcpy(w.w1, part_head(p1, h), m2 * sizeof *w.w1);
			memcpy(w.w2, part_head(p2, h), m2 * sizeof *w.w2);
			memset(w.s1, 0, 2 * m2 * sizeof *w.s1);
			if (lin)
				memset(lin, 0, m2 * sizeof *lin);
			for (int i = 0, j = 0; j < rc->nx; i++) {
				direct_write(mm, un, &w, w.k + (size_t)i * dh, w.v + (size_t)i * dh,
				    (float)rc->eta, (float)rc->alpha);
				for (; j < rc->nx && rc->x[j] == i + 1; j++) {
					double e, a, e0, a0;
					direct_read(mm, un, &w, w.k, i + 1);
					recall_score(w.y, w.v, i + 1, dh, &e, &a);
					/* the same reads before any write */
					if (lin)
						memset(w.y, 0, (size_t)(i + 1) * dh * sizeof *w.y);
					else
						mem_read(mm, un, part_head(p1, h), part_head(p2, h), w.k, i + 1,
						    w.y, w.hp, w.ac);
					recall_score(w.y, w.v, i + 1, dh, &e0, &a0);
					if (recall_add(rc, l, NL_MU_MEM, h, i + 1, e, a, e0, a0, err))
						goto out;
				}
			}
		}
	}
	ret = 0;
out:
	nl_tf_stream_free(&s);
free_bufs:
	free(mp.p);
	free(b);
	free(buf);
	free(lin);
	return ret;
}

/* The random tokens [n] of a probe's stream (uniform over the vocabulary). */
static int32_t *
random_tokens(struct nl_rng *g, size_t n, int vocab)
{
	int32_t *ids = malloc(n * sizeof *ids);
	for (size_t i = 0; ids && i < n; i++)
		ids[i] = (int32_t)nl_rng_below(g, (uint64_t)vocab);
	return ids;
}

/* model: N random tokens through the model; every M_mem write's keys and targets kept. */
static int
capacity_model(struct nl_tf *tf, const float *params, const struct nl_config *cfg,
    struct nl_recall *rc, struct nl_err *err)
{
	const struct nl_mem *mm = &tf->mem;
	const int dh = mm->dh, H = mm->heads, c = mm->chunk, g = piece_len(tf, rc->learn);
	const long long N = rc->x[rc->nx - 1];
	const size_t nd = (size_t)N * dh, m2 = (size_t)dh * dh;
	int nl = 0;
	for (int l = 0; l < mm->layers; l++)
		nl += probed(rc->layers, l);
	struct nl_rng rg;
	nl_rng_seed(&rg, rc->seed);
	struct nl_tokens data;
	nl_tokens_init(&data);
	data.n = (size_t)N + 1;
	data.ids = random_tokens(&rg, data.n, tf->vocab);
	/* per probed (layer, head): keys and targets [N, dh], M_mem's state at the last write */
	float *keys = malloc((size_t)nl * H * nd * sizeof *keys);
	float *tgts = malloc((size_t)nl * H * nd * sizeof *tgts);
	float *prev = malloc((size_t)nl * H * 2 * m2 * sizeof *prev);
	float *init = malloc((size_t)nl * H * 2 * m2 * sizeof *init);
	float *y = malloc(3 * nd * sizeof *y);
	struct nl_tf_stream s;
	struct mem_parts mp = { NULL, 0 };
	int ret = -1;
	if (!data.ids || !keys || !tgts || !prev || !init || !y) {
		nl_err_set(err, NL_ENOMEM, "out of memory");
		goto free_bufs;
	}
	if (nl_eval_stream_start(tf, params, &s, cfg, NULL, err))
		goto free_bufs;
	if (mem_parts_of(mm, &s.mem, &mp, err))
		goto out;
	for (int l = 0, li = 0; l < mm->layers; l++) {
		if (!probed(rc->layers, l))
			continue;
		for (int h = 0; h < H; h++)
			for (int m = 0; m < 2; m++)
				memcpy(prev + (((size_t)li * H + h) * 2 + m) * m2, part_head(find_part(mp.p,
				    mp.n, l, NL_MU_MEM, m ? "w2" : "w1"), h), m2 * sizeof *prev);
		li++;
	}
	memcpy(init, prev, (size_t)nl * H * 2 * m2 * sizeof *init);
	size_t i0 = 0;
	for (int j = 0; j < rc->nx; ) {
		const long long before = s.pos;
		if (feed_to(tf, params, &s, &data, &i0, (before / g + 1) * g, rc->learn, err))
			goto out;
		const long long pos = s.pos, fed = pos - before;
		if (fed > mm->t) {
			nl_err_set(err, NL_ERANGE, "a piece of %lld tokens was cut", fed);
			goto out;
		}
		for (int l = 0, li = 0; l < mm->layers; l++) {
			if (!probed(rc->layers, l))
				continue;
			const struct nl_mem_unit *un = &mm->lay[l].u[NL_MU_MEM];
			const struct nl_state_part *p1 = find_part(mp.p, mp.n, l, NL_MU_MEM, "w1");
			const struct nl_state_part *p2 = find_part(mp.p, mp.n, l, NL_MU_MEM, "w2");
			for (int h = 0; h < H; h++, li++) {
				float *K = keys + (size_t)li * nd, *T = tgts + (size_t)li * nd;
				float *w1 = prev + (size_t)li * 2 * m2, *w2 = w1 + m2;
				nl_mem_keys(mm, l, 0, h, mm->t - (int)fed, (int)fed, K + before * dh,
				    T + before * dh);
				if (pos % c)
					continue;
				/* the chunk just written: selfmod's targets are M_mem(v) at the state
				 * it started from */
				if (!mm->titans) {
					float *V = T + (pos - c) * dh;
					mem_read(mm, un, w1, w2, V, c, y, y + nd, y + 2 * nd);
					memcpy(V, y, (size_t)c * dh * sizeof *y);
				}
				memcpy(w1, part_head(p1, h), m2 * sizeof *w1);
				memcpy(w2, part_head(p2, h), m2 * sizeof *w2);
				if (pos != rc->x[j])
					continue;
				double e, a, e0, a0;
				const float *i1 = init + (size_t)li * 2 * m2;
				mem_read(mm, un, w1, w2, K, (int)pos, y, y + nd, y + 2 * nd);
				recall_score(y, T, (int)pos, dh, &e, &a);
				mem_read(mm, un, i1, i1 + m2, K, (int)pos, y, y + nd, y + 2 * nd);
				recall_score(y, T, (int)pos, dh, &e0, &a0);
				if (recall_add(rc, l, NL_MU_MEM, h, pos, e, a, e0, a0, err))
					goto out;
			}
		}
		j += pos == rc->x[j];
	}
	ret = 0;
out:
	nl_tf_stream_free(&s);
free_bufs:
	free(mp.p);
	free(data.ids);
	free(keys);
	free(tgts);
	free(prev);
	free(init);
	free(y);
	return ret;
}

int
nl_probe_capacity(struct nl_tf *tf, const float *params, const struct nl_config *cfg,
    struct nl_recall *rc, struct nl_err *err)
{
	if (!tf->memfam)
		return nl_err_set(err, NL_EUNSUPPORTED, "a %s has no memory to write associations into",
		    cfg->model);
	const int c = tf->mem.chunk;
	for (int i = 0; i < rc->nx; i++) {
		if (rc->x[i] < 1 || (i && rc->x[i] <= rc->x[i - 1]))
			return nl_err_set(err, NL_EUSAGE, "sizes must ascend from 1");
		if (rc->mode == NL_RECALL_MODEL && rc->x[i] % c)
			return nl_err_set(err, NL_EUSAGE, "size %lld: model mode writes chunks of %d "
			    "tokens (chunk_memory), so every size is a multiple of it", rc->x[i], c);
		if (rc->x[i] > NL_RECALL_MAX_N)
			return nl_err_set(err, NL_EUSAGE, "size %lld: at most %d (reading back N costs "
			    "N² d_h per head)", rc->x[i], NL_RECALL_MAX_N);
	}
	if (rc->nx == 0)
		return 0;
	return rc->mode == NL_RECALL_MODEL ? capacity_model(tf, params, cfg, rc, err)
	    : capacity_direct(tf, params, cfg, rc, err);
}

/* Frobenius norm of a − b over n floats. */
static double
diff_norm(const float *a, const float *b, size_t n)
{
	double s = 0;
	for (size_t i = 0; i < n; i++)
		s += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
	return sqrt(s);
}

/* The traces of every probed unit between streams a and b at distance x. */
static int
measure_traces(const struct nl_tf *tf, struct nl_recall *rc, const struct nl_tf_stream *sa,
    const struct nl_tf_stream *sb, const struct mem_parts *pa, const struct mem_parts *pb,
    long long x, struct nl_err *err)
{
	for (int l = 0; l < tf->layers; l++) {
		if (!probed(rc->layers, l))
			continue;
		for (int u = 0; u < NL_MU_COUNT; u++) {
			if (!mem_chunk(tf, u))
				continue;
			for (int h = 0; h < tf->mem.heads; h++) {
				double sq = 0;
				for (int m = 0; m < 2; m++) {
					const char *what = m ? "w2" : "w1";
					const struct nl_state_part *wa = find_part(pa->p, pa->n, l, u, what);
					const struct nl_state_part *wb = find_part(pb->p, pb->n, l, u, what);
					double t = diff_norm(part_head(wa, h), part_head(wb, h),
					    wa->len / sizeof(float));
					sq += t * t;
				}
				if (recall_add(rc, l, u, h, x, sqrt(sq), 0, NAN, NAN, err))
					return -1;
			}
		}
		for (int v = 0; v < tf->levels; v++) {
			if (!level_period(tf, v, rc->learn))
				continue;
			const size_t at = (size_t)l * tf->levels + v;
			if (recall_add(rc, l, NL_PROBE_CMS + v, 0, x, diff_norm(sa->tab[at], sb->tab[at],
			    tf->fast_len), 0, NAN, NAN, err))
				return -1;
		}
	}
	return 0;
}

int
nl_probe_retention(struct nl_tf *tf, const float *params, const struct nl_config *cfg,
    const struct nl_tokens *data, struct nl_recall *rc, struct nl_err *err)
{
	const int g = piece_len(tf, rc->learn), R = NL_RECALL_ASSOC;
	if (g == 0)
		return nl_err_set(err, NL_EUSAGE, "a %s has no memory that writes as it reads",
		    cfg->model);
	for (int i = 0; i < rc->nx; i++)
		if (rc->x[i] < 0 || (i && rc->x[i] <= rc->x[i - 1]) || rc->x[i] >= (long long)data->n)
			return nl_err_set(err, NL_ERANGE, "distance %lld: the input holds %zu tokens, "
			    "the last taken in at %zu (distances ascending, from 0)", rc->x[i], data->n,
			    data->n ? data->n - 1 : 0);
	if (g > tf->max_seq)
		return nl_err_set(err, NL_ERANGE, "pieces of %d tokens: the model was set up for %d",
		    g, tf->max_seq);
	if (tf->vocab < 2)
		return nl_err_set(err, NL_EUNSUPPORTED, "a vocabulary of one token holds no "
		    "association");
	/* two streams, the association then the whole input: S and S' differ in every token */
	struct nl_tokens ta = *data, tb = *data;
	const size_t n = (size_t)R + data->n;
	ta.flags = tb.flags = NULL;
	ta.n = tb.n = n;
	ta.ids = malloc(n * sizeof *ta.ids);
	tb.ids = malloc(n * sizeof *tb.ids);
	struct nl_tf_stream sa, sb;
	struct mem_parts pa = { NULL, 0 }, pb = { NULL, 0 };
	int ret = -1, started = 0;
	if (ta.ids == NULL || tb.ids == NULL) {
		nl_err_set(err, NL_ENOMEM, "out of memory");
		goto out;
	}
	nl_probe_retention_pair(rc->seed, tf->vocab, ta.ids, tb.ids);
	memcpy(ta.ids + R, data->ids, data->n * sizeof *ta.ids);
	memcpy(tb.ids + R, data->ids, data->n * sizeof *tb.ids);
	if (nl_eval_stream_start(tf, params, &sa, cfg, NULL, err))
		goto out;
	if (nl_eval_stream_start(tf, params, &sb, cfg, NULL, err)) {
		nl_tf_stream_free(&sa);
		goto out;
	}
	started = 1;
	if (tf->memfam && (mem_parts_of(&tf->mem, &sa.mem, &pa, err) ||
	    mem_parts_of(&tf->mem, &sb.mem, &pb, err)))
		goto out;
	size_t ia = 0, ib = 0;
	for (int j = 0; j < rc->nx; ) {
		const long long at = R + rc->x[j];  /* stream position: inputs taken in so far */
		long long end = (sa.pos / g + 1) * g;
		if (at < end)
			end = at;
		if (end > sa.pos && (feed_to(tf, params, &sa, &ta, &ia, end, rc->learn, err) ||
		    feed_to(tf, params, &sb, &tb, &ib, end, rc->learn, err)))
			goto out;
		if (sa.pos != at)
			continue;
		if (measure_traces(tf, rc, &sa, &sb, &pa, &pb, rc->x[j], err))
			goto out;
		j++;
	}
	/* held: each trace over its unit's largest */
	for (size_t i = 0; i < rc->nrows; i++) {
		struct nl_recall_row *r = &rc->rows[i];
		double top = 0;
		for (size_t k = 0; k < rc->nrows; k++) {
			const struct nl_recall_row *o = &rc->rows[k];
			if (o->layer == r->layer && o->unit == r->unit && o->head == r->head &&
			    o->a > top)
				top = o->a;
		}
		r->b = top > 0 ? r->a / top : NAN;
	}
	ret = 0;
out:
	if (started) {
		nl_tf_stream_free(&sa);
		nl_tf_stream_free(&sb);
	}
	free(pa.p);
	free(pb.p);
	free(ta.ids);
	free(tb.ids);
	return ret;
}

int
nl_probe_recall_tset(const struct nl_recall *rc, int retention, struct nl_tset *ts,
    struct nl_err *err)
{
	if (nl_meta_set(&ts->meta, "kind", "probe", err) < 0)
		return -1;
	char what[64];
	if (retention)
		snprintf(what, sizeof what, "retention");
	else
		snprintf(what, sizeof what, "recall.%s", nl_probe_recall_mode_name(rc->mode));
	const uint64_t nx = (uint64_t)rc->nx;
	int64_t *xs = add_tensor(ts, what, retention ? "distance" : "n", NL_DTYPE_I64, 1, nx, 0,
	    err);
	if (xs == NULL)
		return -1;
	for (uint64_t i = 0; i < nx; i++)
		xs[i] = rc->x[i];
	/* one tensor pair per (layer, unit) in order of appearance, [nx, heads] */
	for (size_t i = 0; i < rc->nrows; i++) {
		const struct nl_recall_row *r0 = &rc->rows[i];
		size_t k = 0;
		while (k < i && (rc->rows[k].layer != r0->layer || rc->rows[k].unit != r0->unit))
			k++;
		if (k < i)
			continue;
		uint64_t heads = 0;
		for (size_t j = i; j < rc->nrows; j++)
			if (rc->rows[j].layer == r0->layer && rc->rows[j].unit == r0->unit &&
			    rc->rows[j].head + 1 > (int)heads)
				heads = (uint64_t)rc->rows[j].head + 1;
		char stem[64], prefix[128];
		unit_prefix(stem, sizeof stem, r0->layer, r0->unit);
		snprintf(prefix, sizeof prefix, "%s.%s", stem, what);
		const int rank = r0->unit >= NL_PROBE_CMS ? 1 : 2;
		float *a = add_tensor(ts, prefix, retention ? "trace" : "error", NL_DTYPE_F32, rank,
		    nx, heads, err);
		float *b = a ? add_tensor(ts, prefix, retention ? "held" : "accuracy", NL_DTYPE_F32,
		    rank, nx, heads, err) : NULL;
		float *a0 = NULL, *b0 = NULL;
		if (b && !retention) {
			a0 = add_tensor(ts, prefix, "error0", NL_DTYPE_F32, rank, nx, heads, err);
			b0 = a0 ? add_tensor(ts, prefix, "accuracy0", NL_DTYPE_F32, rank, nx, heads,
			    err) : NULL;
		}
		if (b == NULL || (!retention && b0 == NULL))
			return -1;
		for (size_t j = i; j < rc->nrows; j++) {
			const struct nl_recall_row *r = &rc->rows[j];
			if (r->layer != r0->layer || r->unit != r0->unit)
				continue;
			uint64_t xi = 0;
			while (xi < nx && xs[xi] != r->x)
				xi++;
			if (xi == nx)
				continue;
			const uint64_t at = xi * heads + (uint64_t)r->head;
			a[at] = (float)r->a, b[at] = (float)r->b;
			if (!retention)
				a0[at] = (float)r->a0, b0[at] = (float)r->b0;
		}
	}
	return 0;
}
