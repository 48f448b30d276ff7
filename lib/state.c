/* nl — see LICENSE. Memory-state files: see state.h. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt.h"
#include "dtype.h"
#include "state.h"
#include "tfile.h"

/* The keys that make two models' fast states interchangeable, for the families whose
 * function they enter: the architecture and the memories' rules (not context: state is
 * context-free; not cms.lr, ttl or training keys: a state may go on learning at another
 * rate). The teach window is compared as memory.teach, the value in effect. */
enum { FOR_ALL = 0, FOR_ATTENTION = 1, FOR_MEMORY = 2, FOR_CMS = 4, FOR_MLP = 8 };
/* absent: what a file written before the key joined means by leaving it out (NULL: none);
 * rule: the key matters only to CMS levels stepping by that cms.optim (NULL: always) */
static const struct {
	const char *key;
	int families;
	const char *absent, *rule;
} state_keys[] = {
	{ "model", FOR_ALL, NULL, NULL }, { "vocab_size", FOR_ALL, NULL, NULL },
	{ "d_model", FOR_ALL, NULL, NULL }, { "layers", FOR_ALL, NULL, NULL },
	{ "heads", FOR_ALL, NULL, NULL }, { "norm_eps", FOR_ALL, NULL, NULL },
	{ "rope.base", FOR_ATTENTION, NULL, NULL },
	{ "mlp.hidden", FOR_MLP, NULL, NULL }, { "cms.hidden", FOR_CMS, NULL, NULL },
	{ "cms.periods", FOR_CMS, NULL, NULL }, { "cms.optim", FOR_CMS, "sgd", NULL },
	{ "delta.precond", FOR_CMS, "none", "delta-momentum" },
	{ "dmgd.hidden", FOR_CMS, "16", "dmgd" },
	{ "chunk_memory", FOR_MEMORY, NULL, NULL },
	{ "chunk_other", FOR_MEMORY, NULL, NULL }, { "inner_momentum", FOR_MEMORY, NULL, NULL },
	{ "inner_step", FOR_MEMORY, NULL, NULL }, { "projector", FOR_MEMORY, NULL, NULL },
	{ "adaptive_q", FOR_MEMORY, NULL, NULL }, { "eta_max", FOR_MEMORY, NULL, NULL },
};
#define NSTATE_KEYS (sizeof state_keys / sizeof *state_keys)

/* Whether key i of state_keys enters the function of cfg's family (and levels' rule). */
static int
key_applies(const struct nl_config *cfg, size_t i)
{
	int memory = nl_mem_family(cfg), cms = nl_config_has_cms(cfg);
	int f = (memory ? FOR_MEMORY : FOR_ATTENTION) | (cms ? FOR_CMS : FOR_MLP);
	if (state_keys[i].rule && strcmp(state_keys[i].rule, cfg->cms_optim) != 0)
		return 0;
	return state_keys[i].families == FOR_ALL || (state_keys[i].families & f);
}

void
nl_state_free(struct nl_state *st)
{
	free(st->data);
	memset(st, 0, sizeof *st);
}

/* A HEAD value as a count in [0, max]. */
static int
head_count(const struct nl_tfile *tf, const char *key, long long max, long long *out,
    struct nl_err *err)
{
	const char *v;
	char *end;
	if (nl_tfile_meta(tf, key, &v) != 1)
		return nl_err_set(err, NL_EFORMAT, "no %s in its HEAD", key);
	long long x = strtoll(v, &end, 10);
	if (end == v || *end || x < 0 || x > max)
		return nl_err_set(err, NL_EFORMAT, "bad %s '%s'", key, v);
	*out = x;
	return 0;
}

int
nl_state_from_bytes(struct nl_state *st, const void *data, size_t len, struct nl_err *err)
{
	struct nl_tfile *tf = NULL;
	struct nl_io in;
	const char *kind;
	long long streams = 0;

	memset(st, 0, sizeof *st);
	nl_io_open_mem_read(&in, data, len);
	int rc = nl_tfile_open_read(&tf, &in, err);
	if (rc == 0 && (nl_tfile_meta(tf, "kind", &kind) != 1 || strcmp(kind, "memory") != 0))
		rc = nl_err_set(err, NL_EFORMAT, "not a memory state file (kind=%s)",
		    nl_tfile_meta(tf, "kind", &kind) == 1 ? kind : "none");
	if (rc == 0)
		rc = head_count(tf, "memory.tokens_seen", INT64_MAX / 2, &st->tokens_seen, err) ||
		    (nl_tfile_meta(tf, "memory.base", &kind) == 1 &&   /* files before it: 0 */
		    head_count(tf, "memory.base", INT64_MAX / 2, &st->base, err)) ||
		    head_count(tf, "memory.streams", 65536, &streams, err);
	if (rc == 0 && st->base > st->tokens_seen)
		rc = nl_err_set(err, NL_EFORMAT, "memory.base %lld after memory.tokens_seen %lld",
		    st->base, st->tokens_seen);
	nl_tfile_free(tf);
	nl_io_abort(&in);
	if (rc == 0 && (st->data = malloc(len ? len : 1)) == NULL)
		rc = nl_err_set(err, NL_ENOMEM, "out of memory");
	if (rc)
		return -1;
	memcpy(st->data, data, len);
	st->len = len;
	st->streams = (int)streams;
	return 0;
}

static int state_read(struct nl_state *st, const char *path, int optional,
    struct nl_err *err);

int
nl_state_read(struct nl_state *st, const char *path, struct nl_err *err)
{
	return state_read(st, path, 0, err);
}

int
nl_state_read_carried(struct nl_state *st, const char *path, struct nl_err *err)
{
	return state_read(st, path, 1, err);
}

static int
state_read(struct nl_state *st, const char *path, int optional, struct nl_err *err)
{
	struct nl_io in;
	const unsigned char *p;
	size_t got, len = 0;
	unsigned char *buf = NULL;
	int rc;

	memset(st, 0, sizeof *st);
	if (nl_io_open_read(&in, path, 0, err))
		return -1;
	if (nl_io_peek(&in, &p, 8, &got, err)) {
		nl_io_abort(&in);
		return -1;
	}
	if (got < 8 || memcmp(p, NL_TFILE_MAGIC, 8) != 0) {   /* a checkpoint bundle */
		struct nl_ckpt ck;
		const struct nl_ckpt_member *mb;
		rc = nl_ckpt_read_io(&ck, &in, NL_CKPT_SKIP_TRAINING, err);
		nl_io_abort(&in);
		if (rc)
			return -1;
		if ((mb = nl_ckpt_find(&ck, "memory.nlt")) == NULL)
			rc = optional ? 0 : nl_err_set(err, NL_EFORMAT, "the checkpoint holds no "
			    "memory state (memory.nlt)");
		else if (nl_state_from_bytes(st, mb->data, mb->len, err)) {
			nl_err_prefix(err, "memory.nlt");
			rc = -1;
		}
		nl_ckpt_free(&ck);
		return rc;
	}
	if ((buf = nl_io_read_all(&in, SIZE_MAX / 2, &len, err)) == NULL) {
		rc = -1;
		goto out;
	}
	rc = nl_state_from_bytes(st, buf, len, err);
out:
	free(buf);
	nl_io_abort(&in);
	return rc;
}

/* The identity keys of cfg into meta as config.<key>, and memory.teach. */
static int
identity_meta(const struct nl_config *cfg, struct nl_meta *meta, struct nl_err *err)
{
	struct nl_meta all;
	char teach[32];
	int rc = 0;
	nl_meta_init(&all);
	if (nl_config_to_meta(cfg, &all, "", err))
		rc = -1;
	for (size_t i = 0; rc == 0 && i < NSTATE_KEYS; i++) {
		char key[64];
		if (!key_applies(cfg, i))
			continue;
		snprintf(key, sizeof key, "config.%s", state_keys[i].key);
		rc = nl_meta_set(meta, key, nl_meta_get(&all, state_keys[i].key), err);
	}
	snprintf(teach, sizeof teach, "%" PRId64, nl_config_has_cms(cfg) ?
	    nl_config_cms_teach(cfg) : 0);
	if (rc == 0)
		rc = nl_meta_set(meta, "memory.teach", teach, err);
	nl_meta_free(&all);
	return rc;
}

int
nl_state_write(const struct nl_tf *m, const struct nl_config *cfg,
    const struct nl_tf_stream *s, struct nl_io *out, struct nl_err *err)
{
	struct nl_meta meta;
	struct nl_tfile *tf = NULL;
	char num[32];
	int n = nl_tf_stream_parts(m, s, NULL), rc = 0;
	struct nl_state_part *parts = calloc((size_t)n, sizeof *parts);

	nl_meta_init(&meta);
	if (parts == NULL) {
		rc = nl_err_set(err, NL_ENOMEM, "out of memory");
		goto out;
	}
	nl_tf_stream_parts(m, s, parts);
	snprintf(num, sizeof num, "%lld", s->pos);
	rc = nl_meta_set(&meta, "kind", "memory", err) ||
	    nl_meta_set(&meta, "model", cfg->model, err) ||
	    nl_meta_set(&meta, "memory.tokens_seen", num, err) ||
	    identity_meta(cfg, &meta, err);
	snprintf(num, sizeof num, "%d", s->b);
	if (rc == 0)
		rc = nl_meta_set(&meta, "memory.streams", num, err);
	snprintf(num, sizeof num, "%lld", nl_tf_stream_first_key(s));
	if (rc == 0)
		rc = nl_meta_set(&meta, "memory.base", num, err);
	if (rc || nl_tfile_open_write(&tf, out, &meta, NL_TFILE_DEFAULT_LEVEL, err)) {
		rc = -1;
		goto out;
	}
	for (int k = 0; k < n && rc == 0; k++) {
		const struct nl_state_part *p = &parts[k];
		struct nl_tinfo ti;
		memset(&ti, 0, sizeof ti);
		snprintf(ti.name, sizeof ti.name, "%s", p->name);
		ti.dtype = p->dtype;
		ti.rank = p->rank;
		memcpy(ti.dims, p->dims, (size_t)p->rank * sizeof *p->dims);
		rc = nl_tfile_begin(tf, &ti, err);
		for (size_t i = 0; i < p->blocks && p->len > 0 && rc == 0; i++)
			rc = nl_tfile_write(tf, p->base + i * p->stride, p->len, err);
		if (rc == 0)
			rc = nl_tfile_end(tf, err);
	}
	if (rc == 0)
		rc = nl_tfile_close(tf, err);
	else
		nl_tfile_free(tf);
out:
	nl_meta_free(&meta);
	free(parts);
	return rc ? -1 : 0;
}

int
nl_state_save(const struct nl_tf *m, const struct nl_config *cfg,
    const struct nl_tf_stream *s, const char *path, struct nl_err *err)
{
	struct nl_io out;
	if (nl_io_open_write(&out, path, 0, err))
		return -1;
	if (nl_state_write(m, cfg, s, &out, err)) {
		nl_io_abort(&out);
		return -1;
	}
	return nl_io_close(&out, err);
}

/* The file's architecture against cfg's: the first key that differs, named, in the order
 * of state_keys (the family first). */
static int
check_identity(const struct nl_tfile *tf, const struct nl_config *cfg, struct nl_err *err)
{
	struct nl_meta want;
	int rc = 0;
	nl_meta_init(&want);
	if (identity_meta(cfg, &want, err)) {
		nl_meta_free(&want);
		return -1;
	}
	for (size_t i = 0; rc == 0 && i <= NSTATE_KEYS; i++) {
		char key[64];
		const char *have, *name = i < NSTATE_KEYS ? state_keys[i].key : "memory.teach";
		if (i < NSTATE_KEYS && !key_applies(cfg, i))
			continue;
		snprintf(key, sizeof key, i < NSTATE_KEYS ? "config.%s" : "%s", name);
		const char *value = nl_meta_get(&want, key);
		if (nl_tfile_meta(tf, key, &have) != 1 &&
		    (i == NSTATE_KEYS || (have = state_keys[i].absent) == NULL))
			rc = nl_err_set(err, NL_EFORMAT, "no %s in its HEAD", key);
		else if (strcmp(have, value) != 0)
			rc = nl_err_set(err, NL_EFORMAT, "made for a model with %s = %s; this one has "
			    "%s = %s", name, have, name, value);
	}
	nl_meta_free(&want);
	return rc;
}

/* Read the current tensor of tf into part p, checking its type and shape. */
static int
read_part(struct nl_tfile *tf, const struct nl_tinfo *ti, const struct nl_state_part *p,
    struct nl_err *err)
{
	char want[96], have[96];
	struct nl_tinfo pi = { .dtype = p->dtype, .rank = p->rank };
	memcpy(pi.dims, p->dims, (size_t)p->rank * sizeof *p->dims);
	int same = ti->dtype == (enum nl_dtype)p->dtype && ti->rank == p->rank;
	for (int r = 0; same && r < p->rank; r++)
		same = ti->dims[r] == p->dims[r];
	if (!same) {
		nl_tinfo_shape_str(&pi, want, sizeof want);
		nl_tinfo_shape_str(ti, have, sizeof have);
		return nl_err_set(err, NL_EFORMAT, "tensor %s: %s %s, expected %s %s", ti->name,
		    nl_dtype_name(ti->dtype), have, nl_dtype_name(p->dtype), want);
	}
	for (size_t i = 0; i < p->blocks && p->len > 0; i++) {
		size_t got;
		if (nl_tfile_read(tf, p->base + i * p->stride, p->len, &got, err))
			return -1;
		if (got != p->len)
			return nl_err_set(err, NL_EFORMAT, "tensor %s: truncated", ti->name);
	}
	return 0;
}

int
nl_state_load(const struct nl_state *st, struct nl_tf *m, const struct nl_config *cfg,
    const float *params, struct nl_tf_stream *s, struct nl_err *err)
{
	struct nl_tfile *tf = NULL;
	struct nl_io in;
	struct nl_tinfo ti;
	struct nl_state_part *parts = NULL;
	unsigned char *seen = NULL;
	int32_t *win = NULL;
	long long window = 0;
	const long long W = m->teach_len;
	const int span = s->span;
	int n = 0, rc;

	if (m->elem != sizeof(float))
		return nl_err_set(err, NL_EUSAGE, "state files hold float models only");
	nl_io_open_mem_read(&in, st->data, st->len);
	rc = nl_tfile_open_read(&tf, &in, err) || check_identity(tf, cfg, err);
	if (rc == 0 && st->streams != s->b)
		rc = nl_err_set(err, NL_EFORMAT, "holds %d streams; this run has %d", st->streams,
		    s->b);
	window = W > 0 ? st->tokens_seen % W : 0;
	if (rc == 0 && st->base > st->tokens_seen - window)
		rc = nl_err_set(err, NL_EFORMAT, "memory.base %lld inside the teach window", st->base);
	/* attention keys dropped by a stream of a shorter context than this one's */
	if (rc == 0 && !m->memfam && span > 0 && st->base > 0 &&
	    st->base > st->tokens_seen - window + 1 - span)
		rc = nl_err_set(err, NL_EFORMAT, "keeps the attention keys from position %lld on, "
		    "too few for this stream's window of %d (a state of a shorter context)",
		    st->base, span);
	if (rc == 0 && !m->memfam && st->tokens_seen - st->base > s->cap)
		rc = nl_err_set(err, NL_ERANGE, "%lld attention keys do not fit the cache of %d",
		    st->tokens_seen - st->base, s->cap);
	if (rc)
		goto out;

	/* the stream as the file describes it: at tokens_seen, its window's tokens kept and the
	 * memories' state before them in mem0 (nl_tf_stream_parts) */
	nl_tf_stream_reset(m, s, params);
	s->span = 0;                    /* every key the file has: from base on */
	s->base = m->memfam ? 0 : st->base;
	s->pos = st->tokens_seen;
	s->nwin = (int)window;
	s->mem.pos = s->mem0.pos = st->tokens_seen - window;
	n = nl_tf_stream_parts(m, s, NULL);
	parts = calloc((size_t)n, sizeof *parts);
	seen = calloc((size_t)n, 1);
	if (parts == NULL || seen == NULL) {
		rc = nl_err_set(err, NL_ENOMEM, "out of memory");
		goto out;
	}
	nl_tf_stream_parts(m, s, parts);
	s->span = span;
	while ((rc = nl_tfile_next(tf, &ti, err)) == 1) {
		int k = 0;
		while (k < n && strcmp(parts[k].name, ti.name) != 0)
			k++;
		if (k == n) {
			rc = nl_err_set(err, NL_EFORMAT, "tensor %s: not part of this model's state",
			    ti.name);
			goto out;
		}
		if (seen[k]) {
			rc = nl_err_set(err, NL_EFORMAT, "tensor %s: twice", ti.name);
			goto out;
		}
		seen[k] = 1;
		if ((rc = read_part(tf, &ti, &parts[k], err)) != 0)
			goto out;
	}
	if (rc < 0)
		goto out;
	for (int k = 0; k < n; k++)
		if (!seen[k]) {
			rc = nl_err_set(err, NL_EFORMAT, "no tensor %s", parts[k].name);
			goto out;
		}
	/* a level's step count (the rule's t) is at most the steps its tokens allow */
	for (int v = 0; v < m->levels; v++)
		if (s->cms_steps[v] < 0 || (m->period[v] > 0 &&
		    s->cms_steps[v] > (int64_t)(st->tokens_seen / m->period[v]))) {
			rc = nl_err_set(err, NL_EFORMAT, "cms.steps: level %d cannot have taken %lld "
			    "steps", v, (long long)s->cms_steps[v]);
			goto out;
		}
	/* the token ids the stream will feed and score */
	for (int i = 0; i < s->b; i++) {
		int bad = s->next[i] < -1 || s->next[i] >= m->vocab;
		for (long long j = 0; j < window; j++) {
			int32_t id = s->win[i * W + j], target = s->win[(s->b + i) * W + j];
			bad |= id < 0 || id >= m->vocab || target < -1 || target >= m->vocab;
		}
		if (bad) {
			rc = nl_err_set(err, NL_EFORMAT, "a token id out of the vocabulary of %d",
			    m->vocab);
			goto out;
		}
	}
	/* run the window again from the state before it: the stream then stands where it was */
	if (window > 0) {
		size_t k = (size_t)s->b * window;
		if ((win = malloc((2 * k + 2 * (size_t)s->b * m->max_seq) * sizeof *win)) == NULL) {
			rc = nl_err_set(err, NL_ENOMEM, "out of memory");
			goto out;
		}
		for (int i = 0; i < s->b; i++)
			for (long long j = 0; j < window; j++) {
				win[i * window + j] = s->win[i * W + j];
				win[k + i * window + j] = s->win[(s->b + i) * W + j];
			}
		if (m->memfam)
			memcpy(s->mem.data, s->mem0.data, (size_t)m->layers * s->mem.layer_size *
			    m->elem);
		s->pos -= window;
		s->nwin = 0;
		/* in pieces the model's arena holds (a stream may be cut anywhere) */
		int32_t *pi = win + 2 * k, *pt = pi + (size_t)s->b * m->max_seq;
		for (long long j0 = 0; j0 < window && rc == 0; j0 += m->max_seq) {
			int t = window - j0 < m->max_seq ? (int)(window - j0) : m->max_seq;
			for (int i = 0; i < s->b; i++)
				for (int j = 0; j < t; j++) {
					pi[i * t + j] = win[i * window + j0 + j];
					pt[i * t + j] = win[k + i * window + j0 + j];
				}
			if (isnan(nl_tf_forward_stream(m, params, s, pi, pt, t, NULL, 0)))
				rc = nl_err_set(err, NL_ERANGE, "the teach window's tokens do not run");
		}
	}
out:
	if (rc == 0 && nl_tfile_next_member(tf, err) != 0)
		rc = nl_err_set(err, NL_EFORMAT, "more than one member");
	free(win);
	free(parts);
	free(seen);
	nl_tfile_free(tf);
	nl_io_abort(&in);
	if (rc)
		nl_tf_stream_reset(m, s, params);
	s->span = span;
	return rc ? -1 : 0;
}

int
nl_state_check(const struct nl_state *st, const struct nl_config *cfg,
    const struct nl_layout *lo, const float *params, struct nl_err *err)
{
	struct nl_tf tf;
	struct nl_tf_stream s;
	int64_t teach = nl_config_has_cms(cfg) ? nl_config_cms_teach(cfg) : 0;
	long long keys = st->tokens_seen - st->base;
	int cap = keys < INT32_MAX ? (int)keys : INT32_MAX;
	if (st->streams < 1)
		return nl_err_set(err, NL_EFORMAT, "holds no stream");
	if (nl_tf_init(&tf, cfg, lo, st->streams, teach > 0 ? (int)teach : 1, sizeof(float),
	    err))
		return -1;
	int rc = nl_tf_stream_init(&tf, &s, st->streams, cap, err);
	s.span = (int)cfg->context;             /* as nl_eval_stream_start's */
	if (rc == 0) {
		rc = nl_state_load(st, &tf, cfg, params, &s, err);
		nl_tf_stream_free(&s);
	}
	nl_tf_free(&tf);
	return rc;
}
