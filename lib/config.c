/* nl — see LICENSE. Run configuration, nl-config(5): one schema table drives setting,
 * formatting, metadata and the man page check; presets of MODEL §2.6; `key = value` text. */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io.h"

#define CONFIG_MAX_FILE (1 << 20)
#define CHECKPOINT_MAJOR 1

enum cfg_type { CFG_INT, CFG_FLOAT, CFG_WORD, CFG_STRING, CFG_PERIODS };

/* Float bounds are inclusive unless flagged open here; integer bounds are always inclusive. */
enum { OPEN_MIN = 1, OPEN_MAX = 2 };

struct cfg_key {
	const char *key;
	enum cfg_type type;
	size_t off;
	int64_t idef, imin, imax;
	double fdef, fmin, fmax;
	unsigned open;
	const char *wdef;  /* word and string keys: the default */
	const char *words; /* word keys: the allowed values, '|'-separated */
	const char *desc;
};

#define OFF(f) offsetof(struct nl_config, f)
#define KI(k, f, def, lo, hi, d) { k, CFG_INT, OFF(f), def, lo, hi, 0, 0, 0, 0, NULL, NULL, d }
#define KF(k, f, def, lo, hi, op, d) { k, CFG_FLOAT, OFF(f), 0, 0, 0, def, lo, hi, op, NULL, NULL, d }
#define KW(k, f, def, w, d) { k, CFG_WORD, OFF(f), 0, 0, 0, 0, 0, 0, 0, def, w, d }
#define KP(k, f, def, d) { k, CFG_PERIODS, OFF(f), 0, 0, 0, 0, 0, 0, 0, def, NULL, d }
#define PERIOD_MAX 1048576

/* Sorted bytewise: nl_config_format writes this order (preset aside, see there). */
static const struct cfg_key cfg_keys[] = {
	KI("adaptive_q", adaptive_q, 0, 0, 1,
	    "selfmod: q from a self-modifying memory M_q instead of W_q (D2)"),
	KI("chunk_memory", chunk_memory, 64, 1, 65536,
	    "tokens between writes of M_mem (titans: of its memory)"),
	KI("chunk_other", chunk_other, 8, 1, 65536,
	    "tokens between writes of M_k, M_v, M_eta, M_alpha (selfmod)"),
	KI("cms.hidden", cms_hidden, 256, 1, 1048576, "SwiGLU width of every CMS level"),
	KF("cms.lr", cms_lr, 1e-3, 0, 10, 0,
	    "step size of the CMS levels' in-context updates (0 freezes them)"),
	KW("cms.optim", cms_optim, "sgd", "sgd|momentum|adamw|muon|m3|m3-ema|delta-momentum|dmgd|dgd",
	    "rule of the CMS levels' in-context steps"),
	KP("cms.periods", cms_periods, "8,64",
	    "tokens between updates of each CMS level, fast to slow; 0 = outer-only"),
	KI("cms.teach", cms_teach, 0, 0, PERIOD_MAX,
	    "teach window in tokens, 0 = the smallest finite period (D8)"),
	KI("context", context, 128, 1, 1048576, "longest sequence the model accepts"),
	KI("d_model", d_model, 128, 2, 65536, "model width d"),
	KW("data.align", data_align, "auto", "auto|none|doc",
	    "windows start at examples (doc) or anywhere (none); auto: doc for nl-synth's task "
	    "streams"),
	KF("delta.lambda", delta_lambda, 0.5, 0, 1, 0,
	    "delta-momentum: step on the memory's part along the new gradient"),
	KW("delta.precond", delta_precond, "none", "none|adam",
	    "delta-momentum: P = I, or Adam's diagonal"),
	KI("dmgd.hidden", dmgd_hidden, 16, 1, 4096, "dmgd: hidden width of the momentum memory"),
	KF("eta_max", eta_max, 0.2, 0, 1, OPEN_MIN,
	    "largest inner step size; at most 1 keeps alpha I - eta k k^T contractive"),
	KW("eval.curve", eval_curve, "none", "none|position|token",
	    "nl-eval: also the mean loss per stream position bucket (powers of 2), or per token"),
	KW("eval.mode", eval_mode, "window", "window|stream",
	    "nl-eval: independent windows, or one stream carrying the fast state"),
	KI("heads", heads, 4, 1, 1024, "attention heads; d_model / heads is the head dimension"),
	KF("init.std", init_std, 0.02, 0, 10, OPEN_MIN, "standard deviation of initial matrices"),
	KI("inner_momentum", inner_momentum, 1, 0, 1, "momentum in the memories' writes (D5)"),
	KW("inner_step", inner_step, "prox-chunk+ema",
	    "literal|prox|prox-chunk|mean|ema|prox+ema|prox-chunk+ema|mean+ema",
	    "step rule of the memories' writes (nl(7))"),
	KI("layers", layers, 2, 1, 1024, "number of blocks L"),
	KF("m3.alpha", m3_alpha, 1, 0, 1e6, 0, "m3: weight of the slow momentum"),
	KF("m3.beta3", m3_beta3, 0.9, 0, 1, 0, "m3: slow momentum's gradient weight"),
	KI("m3.period", m3_period, 100, 1, 1000000000, "m3: steps between slow-momentum updates"),
	KF("mem.w1_scale", mem_w1_scale, 0, 0, 100, 0,
	    "initial W1 of every memory ~ N(0, s^2/d_h); 0: memories start as the identity"),
	KW("meta_grad", meta_grad, "full", "full|first|none",
	    "outer gradient through the memories' writes (D6)"),
	KI("mlp.hidden", mlp_hidden, 608, 1, 1048576, "SwiGLU hidden width f"),
	KW("model", model, "transformer", "transformer|titans|selfmod|hope|hope-attention",
	    "model family"),
	KF("norm_eps", norm_eps, 1e-6, 0, 1, OPEN_MIN | OPEN_MAX, "RMSNorm epsilon"),
	KW("optim", optim, "adamw", "sgd|momentum|adamw|muon|m3|m3-ema|delta-momentum|dmgd|dgd",
	    "outer optimizer"),
	KF("optim.beta1", optim_beta1, 0.9, 0, 1, OPEN_MAX, "Adam first-moment decay (m3: fast momentum weight)"),
	KF("optim.beta2", optim_beta2, 0.95, 0, 1, OPEN_MAX, "Adam second-moment decay (m3: weight in V)"),
	KF("optim.clip", optim_clip, 1.0, 0, 1e9, 0, "global gradient-norm clip, 0 = off"),
	KF("optim.eps", optim_eps, 1e-8, 0, 1, OPEN_MIN, "Adam epsilon (also m3, delta.precond adam)"),
	KF("optim.lr", optim_lr, 1e-3, 0, 10, OPEN_MIN, "peak learning rate"),
	KF("optim.lr_min", optim_lr_min, 1e-4, 0, 10, 0, "final learning rate of the cosine"),
	KF("optim.momentum", optim_momentum, 0.9, 0, 1, OPEN_MAX,
	    "momentum decay (momentum, muon, delta-momentum, dmgd)"),
	KI("optim.ns_steps", optim_ns_steps, 5, 0, 100, "Newton-Schulz steps (muon, m3)"),
	KW("optim.schedule", optim_schedule, "cosine", "cosine|constant", "learning-rate schedule"),
	KI("optim.warmup", optim_warmup, 100, 0, 1000000000000, "steps of linear warmup"),
	KF("optim.weight_decay", optim_weight_decay, 0.1, 0, 10, 0, "decoupled weight decay"),
	KW("preset", preset, "tiny", "tiny|small|base", "named size, applied where it is set"),
	KI("projector", projector, 1, 0, 1, "the DGD term -eta (W2 k) k^T in selfmod writes"),
	KW("reset", reset, "never", "never|doc",
	    "streams: back to the meta-learned state at every document start, or never"),
	KF("rope.base", rope_base, 10000, 1, 1e9, OPEN_MIN, "RoPE base frequency"),
	KI("train.batch", train_batch, 16, 1, 65536, "sequences per step"),
	KI("train.eval_tokens", train_eval_tokens, 0, 0, INT64_C(4611686018427387904),
	    "held-out tokens per evaluation, 0 = all"),
	KI("train.every", train_every, 500, 0, 1000000000000,
	    "evaluate and checkpoint every N steps, 0 = only at the end"),
	KI("train.seed", train_seed, 1, 0, INT64_MAX, "random seed"),
	KI("train.seq_len", train_seq_len, 0, 0, 1048576, "training sequence length, 0 = context"),
	KI("train.steps", train_steps, 1000, 1, 1000000000000, "optimizer steps"),
	KF("train.valid_percent", train_valid_percent, 10, 0, 50, 0,
	    "held-out tail of the stream when there is no validation file"),
	KI("ttl", ttl, 1, 0, 1,
	    "nl-eval streams: the CMS levels learn as they go (test-time learning), 0 freezes them"),
	KI("vocab_size", vocab_size, 0, 0, 16777216, "vocabulary size, 0 = from the tokenizer"),
};
#define NKEYS (sizeof cfg_keys / sizeof *cfg_keys)

/* MODEL §2.6; vocab_size is left alone: it follows the tokenizer. The MLP (or CMS level)
 * width depends on the family (equal sizes across families), in the order of
 * preset_families: mlp.hidden for the first three, cms.hidden for the last two. */
static const char *const preset_families[] = { "transformer", "titans", "selfmod", "hope",
	"hope-attention" };
#define NFAMILIES (sizeof preset_families / sizeof *preset_families)
#define FIRST_CMS_FAMILY 3
static const struct {
	const char *name;
	int64_t d_model, layers, heads, context;
	int64_t hidden[NFAMILIES];
	const char *periods;
} cfg_presets[] = {
	{ "tiny", 128, 2, 4, 128, { 608, 512, 512, 256, 288 }, "8,64" },
	{ "small", 256, 6, 4, 512, { 1504, 1376, 1376, 448, 512 }, "16,128,1024" },
	{ "base", 256, 8, 4, 512, { 2560, 2432, 2432, 800, 864 }, "16,128,1024" },
};
#define NPRESETS (sizeof cfg_presets / sizeof *cfg_presets)

const char *
nl_config_key_at(size_t i)
{
	return i < NKEYS ? cfg_keys[i].key : NULL;
}

static const struct cfg_key *
cfg_find(const char *key)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (strcmp(cfg_keys[i].key, key) == 0)
			return &cfg_keys[i];
	return NULL;
}

static int64_t *
field_int(struct nl_config *c, const struct cfg_key *k)
{
	return (int64_t *)(void *)((char *)c + k->off);
}

static double *
field_float(struct nl_config *c, const struct cfg_key *k)
{
	return (double *)(void *)((char *)c + k->off);
}

static char *
field_word(struct nl_config *c, const struct cfg_key *k)
{
	return (char *)c + k->off;
}

static void
config_defaults(struct nl_config *c)
{
	for (size_t i = 0; i < NKEYS; i++) {
		const struct cfg_key *k = &cfg_keys[i];
		switch (k->type) {
		case CFG_INT:
			*field_int(c, k) = k->idef;
			break;
		case CFG_FLOAT:
			*field_float(c, k) = k->fdef;
			break;
		case CFG_WORD:
		case CFG_STRING:
		case CFG_PERIODS:
			snprintf(field_word(c, k), NL_CONFIG_WORD, "%s", k->wdef);
			break;
		}
	}
}

void
nl_config_init(struct nl_config *c)
{
	memset(c, 0, sizeof *c);
	config_defaults(c);
	nl_meta_init(&c->x);
}

void
nl_config_free(struct nl_config *c)
{
	nl_meta_free(&c->x);
}

int
nl_config_copy(struct nl_config *dst, const struct nl_config *src, struct nl_err *err)
{
	*dst = *src;
	nl_meta_init(&dst->x);
	if (nl_meta_copy(&dst->x, &src->x, err) < 0) {
		nl_meta_free(&dst->x);
		return -1;
	}
	return 0;
}

/* ---- values as text ---- */

/* The shortest of %.15g..%.17g that reads back bit for bit, with the exponent trimmed
 * ("1e-08" -> "1e-8", "1e+09" -> "1e9"): short for people, exact for parse. */
static void
fmt_double(char *buf, size_t size, double v)
{
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(buf, size, "%.*g", prec, v);
		double back = strtod(buf, NULL);
		if (memcmp(&back, &v, sizeof v) == 0)
			break;
	}
	char *e = strchr(buf, 'e');
	if (e == NULL)
		return;
	char *src = e + 1, *dst = e + 1;
	if (*src == '+')
		src++;
	else if (*src == '-')
		*dst++ = *src++;
	while (*src == '0' && src[1] != '\0')
		src++;
	memmove(dst, src, strlen(src) + 1);
}

static void
fmt_value(const struct nl_config *c, const struct cfg_key *k, char *buf, size_t size)
{
	const void *f = (const char *)c + k->off;

	switch (k->type) {
	case CFG_INT:
		snprintf(buf, size, "%lld", (long long)*(const int64_t *)f);
		break;
	case CFG_FLOAT:
		fmt_double(buf, size, *(const double *)f);
		break;
	case CFG_WORD:
	case CFG_STRING:
	case CFG_PERIODS:
		snprintf(buf, size, "%s", (const char *)f);
		break;
	}
}

/* For bounds in messages: the shorter of fmt_double and the fewest digits that read back,
 * so 1e9 is "1e9" rather than "1000000000". */
static void
fmt_bound(char *buf, size_t size, double v)
{
	char alt[40];

	fmt_double(buf, size, v);
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(alt, sizeof alt, "%.*g", prec, v);
		if (strtod(alt, NULL) == v)
			break;
	}
	char *e = strstr(alt, "e+");
	if (e != NULL) {
		char *d = e + 2;
		while (*d == '0' && d[1] != '\0')
			d++;
		memmove(e + 1, d, strlen(d) + 1);
	}
	if (strlen(alt) < strlen(buf))
		snprintf(buf, size, "%s", alt);
}

/* What a value must be, for messages: "an integer in 1..65536", "a number in (0, 10]". */
static void
fmt_domain(const struct cfg_key *k, char *buf, size_t size)
{
	char lo[40], hi[40];

	switch (k->type) {
	case CFG_INT:
		snprintf(buf, size, "an integer in %lld..%lld", (long long)k->imin,
		    (long long)k->imax);
		break;
	case CFG_FLOAT:
		fmt_bound(lo, sizeof lo, k->fmin);
		fmt_bound(hi, sizeof hi, k->fmax);
		snprintf(buf, size, "a number in %c%s, %s%c", k->open & OPEN_MIN ? '(' : '[', lo,
		    hi, k->open & OPEN_MAX ? ')' : ']');
		break;
	case CFG_WORD:
		if (strchr(k->words, '|') == NULL) {
			snprintf(buf, size, "%s", k->words);
		} else {
			size_t n = (size_t)snprintf(buf, size, "one of ");
			for (const char *w = k->words; *w && n + 2 < size; w++) {
				if (*w == '|') {
					buf[n++] = ',';
					buf[n++] = ' ';
				} else {
					buf[n++] = *w;
				}
			}
			buf[n < size ? n : size - 1] = '\0';
		}
		break;
	case CFG_STRING:
		snprintf(buf, size, "text of at most %d bytes", NL_CONFIG_WORD - 1);
		break;
	case CFG_PERIODS:
		snprintf(buf, size, "1 to %d comma-separated integers in 0..%d, 0 or inf = outer-only",
		    NL_CMS_MAX_LEVELS, PERIOD_MAX);
		break;
	}
}

/* Digits with an optional leading '-', nothing else (no '+', blanks or exponent).
 * 0 ok, -1 not an integer, -2 does not fit in int64_t. */
static int
parse_int(const char *s, int64_t *out)
{
	const char *p = s;
	uint64_t v = 0, lim;
	int neg = *p == '-';

	p += neg;
	if (*p == '\0')
		return -1;
	lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		unsigned d = (unsigned)(*p - '0');
		if (v > (lim - d) / 10)
			return -2;
		v = v * 10 + d;
	}
	/* -(INT64_MAX + 1) without overflowing: negate INT64_MAX, then step once more */
	if (neg)
		*out = v == 0 ? 0 : -(int64_t)(v - 1) - 1;
	else
		*out = (int64_t)v;
	return 0;
}

/* Fully consumed by strtod and finite; leading blanks, which strtod skips, are refused. */
static int
parse_double(const char *s, double *out)
{
	char *end;

	if (*s == '\0' || *s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' || *s == '\v' ||
	    *s == '\f')
		return -1;
	double v = strtod(s, &end);
	if (*end != '\0' || !isfinite(v))
		return -1;
	*out = v;
	return 0;
}

/* "16,128,1024": 1..NL_CMS_MAX_LEVELS periods, each an integer in 0..PERIOD_MAX or "inf"
 * (stored 0). Returns their number, -1 malformed, -2 out of range. */
static int
parse_periods(const char *s, int64_t out[NL_CMS_MAX_LEVELS])
{
	int n = 0;
	for (const char *p = s;; p++) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		char item[24];
		int64_t v;
		if (n == NL_CMS_MAX_LEVELS)
			return -2;
		if (len == 0 || len >= sizeof item)
			return -1;
		memcpy(item, p, len);
		item[len] = '\0';
		if (strcmp(item, "inf") == 0)
			v = 0;
		else if (item[0] == '-' || parse_int(item, &v) < 0)
			return -1;
		if (v > PERIOD_MAX)
			return -2;
		out[n++] = v;
		if (comma == NULL)
			return n;
		p = comma;
	}
}

/* The canonical text of n periods into buf (NL_CONFIG_WORD bytes); -1 when it does not fit. */
static int
format_periods(char *buf, const int64_t *per, int n)
{
	char text[NL_CMS_MAX_LEVELS * 24];
	size_t len = 0;
	for (int i = 0; i < n; i++)
		len += (size_t)snprintf(text + len, sizeof text - len, "%s%lld", i ? "," : "",
		    (long long)per[i]);
	if (len >= NL_CONFIG_WORD)
		return -1;
	memcpy(buf, text, len + 1);
	return 0;
}

int
nl_config_cms_periods(const struct nl_config *c, int64_t periods[NL_CMS_MAX_LEVELS])
{
	int n = parse_periods(c->cms_periods, periods);
	return n < 0 ? 0 : n;
}

int64_t
nl_config_cms_teach(const struct nl_config *c)
{
	int64_t per[NL_CMS_MAX_LEVELS], teach = 0;
	int n = nl_config_cms_periods(c, per);
	if (c->cms_teach > 0)
		return c->cms_teach;
	for (int i = 0; i < n; i++)
		if (per[i] > 0 && (teach == 0 || per[i] < teach))
			teach = per[i];
	return teach;
}

int
nl_config_has_cms(const struct nl_config *c)
{
	return strcmp(c->model, "hope") == 0 || strcmp(c->model, "hope-attention") == 0;
}

static int
word_allowed(const char *words, const char *w)
{
	size_t len = strlen(w);

	for (const char *p = words; *p;) {
		const char *bar = strchr(p, '|');
		size_t n = bar ? (size_t)(bar - p) : strlen(p);
		if (n == len && memcmp(p, w, n) == 0)
			return 1;
		p += n + (bar != NULL);
	}
	return 0;
}

static int
invalid_value(const struct cfg_key *k, const char *value, int code, struct nl_err *err)
{
	char dom[128];

	fmt_domain(k, dom, sizeof dom);
	return nl_err_set(err, code, "invalid value for %s: '%.64s' (must be %s)", k->key, value,
	    dom);
}

/* ---- setting keys ---- */

/* Optimal string alignment distance: edits plus swaps of neighbours ("optim.rl"). */
static size_t
edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t rows[3][NL_META_MAX_KEY + 1];
	size_t *p2 = rows[0], *p1 = rows[1], *cur = rows[2];

	if (la > NL_META_MAX_KEY || lb > NL_META_MAX_KEY)
		return SIZE_MAX;
	for (size_t j = 0; j <= lb; j++)
		p1[j] = j;
	for (size_t i = 1; i <= la; i++) {
		cur[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t v = p1[j - 1] + (a[i - 1] != b[j - 1]);
			if (p1[j] + 1 < v)
				v = p1[j] + 1;
			if (cur[j - 1] + 1 < v)
				v = cur[j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    p2[j - 2] + 1 < v)
				v = p2[j - 2] + 1;
			cur[j] = v;
		}
		size_t *t = p2;
		p2 = p1;
		p1 = cur;
		cur = t;
	}
	return p1[lb];
}

static int
unknown_key(const char *key, struct nl_err *err)
{
	const char *best = NULL;
	size_t best_d = 3;

	for (size_t i = 0; i < NKEYS; i++) {
		size_t dist = edit_distance(key, cfg_keys[i].key);
		if (dist < best_d) {
			best_d = dist;
			best = cfg_keys[i].key;
		}
	}
	if (best != NULL)
		return nl_err_set(err, NL_EFORMAT, "unknown key '%.64s'; did you mean '%s'?", key,
		    best);
	return nl_err_set(err, NL_EFORMAT, "unknown key '%.64s'", key);
}

/* "nl-checkpoint 1" is the first line of a checkpoint's config member; it says which bundle
 * layout the rest belongs to, so a newer major must not be read as if it were ours. */
static int
set_format(const char *value, struct nl_err *err)
{
	static const char tag[] = "nl-checkpoint ";
	const char *v = value + sizeof tag - 1;

	if (strncmp(value, tag, sizeof tag - 1) == 0 && v[0] >= '1' && v[0] <= '9' &&
	    strspn(v, "0123456789") == strlen(v)) {
		if (strcmp(v, "1") == 0)
			return 0;
		return nl_err_set(err, NL_EUNSUPPORTED,
		    "checkpoint format %.32s is newer than this nl (%d)", v, CHECKPOINT_MAJOR);
	}
	return nl_err_set(err, NL_EFORMAT,
	    "invalid value for format: '%.64s' (must be nl-checkpoint %d)", value,
	    CHECKPOINT_MAJOR);
}

static size_t
family_index(const char *model)
{
	for (size_t i = 0; i < NFAMILIES; i++)
		if (strcmp(preset_families[i], model) == 0)
			return i;
	return 0;
}

/* A preset's widths for a family: its own column for mlp.hidden or cms.hidden, the
 * transformer's and hope's for the key the family does not use. */
static void
set_hidden(struct nl_config *c, size_t p, const char *model)
{
	size_t f = family_index(model);
	c->mlp_hidden = cfg_presets[p].hidden[f < FIRST_CMS_FAMILY ? f : 0];
	c->cms_hidden = cfg_presets[p].hidden[f >= FIRST_CMS_FAMILY ? f : FIRST_CMS_FAMILY];
}

static void
apply_preset(struct nl_config *c, size_t p)
{
	c->d_model = cfg_presets[p].d_model;
	c->layers = cfg_presets[p].layers;
	c->heads = cfg_presets[p].heads;
	set_hidden(c, p, c->model);
	snprintf(c->cms_periods, sizeof c->cms_periods, "%s", cfg_presets[p].periods);
	c->context = cfg_presets[p].context;
	snprintf(c->preset, sizeof c->preset, "%s", cfg_presets[p].name);
}

static ptrdiff_t preset_find(const char *name);

/* Changing the family keeps a preset's sizes equal across families: mlp.hidden and
 * cms.hidden follow while they still hold the preset's width for the old family. */
static void
set_model(struct nl_config *c, const char *model)
{
	ptrdiff_t p = preset_find(c->preset);
	if (p >= 0) {
		struct nl_config old = *c;
		set_hidden(&old, (size_t)p, c->model);
		int64_t mlp = c->mlp_hidden, cms = c->cms_hidden;
		set_hidden(c, (size_t)p, model);
		if (mlp != old.mlp_hidden)
			c->mlp_hidden = mlp;
		if (cms != old.cms_hidden)
			c->cms_hidden = cms;
	}
	snprintf(c->model, sizeof c->model, "%s", model);
}

static ptrdiff_t
preset_find(const char *name)
{
	for (size_t i = 0; i < NPRESETS; i++)
		if (strcmp(cfg_presets[i].name, name) == 0)
			return (ptrdiff_t)i;
	return -1;
}

int
nl_config_set(struct nl_config *c, const char *key, const char *value, struct nl_err *err)
{
	const struct cfg_key *k;
	int64_t iv;
	double fv;
	int rc;

	if (!nl_meta_key_valid(key))
		return nl_err_set(err, NL_EFORMAT, "invalid key '%.64s'", key);
	if (strcmp(key, "format") == 0)
		return set_format(value, err);
	if (strncmp(key, "x.", 2) == 0)
		return nl_meta_set(&c->x, key, value, err);
	if ((k = cfg_find(key)) == NULL)
		return unknown_key(key, err);
	switch (k->type) {
	case CFG_INT:
		if ((rc = parse_int(value, &iv)) < 0)
			return invalid_value(k, value, rc == -2 ? NL_ERANGE : NL_EFORMAT, err);
		if (iv < k->imin || iv > k->imax)
			return invalid_value(k, value, NL_ERANGE, err);
		*field_int(c, k) = iv;
		break;
	case CFG_FLOAT:
		if (parse_double(value, &fv) < 0)
			return invalid_value(k, value, NL_EFORMAT, err);
		if (fv < k->fmin || fv > k->fmax || ((k->open & OPEN_MIN) && fv == k->fmin) ||
		    ((k->open & OPEN_MAX) && fv == k->fmax))
			return invalid_value(k, value, NL_ERANGE, err);
		*field_float(c, k) = fv;
		break;
	case CFG_WORD:
		if (!word_allowed(k->words, value))
			return invalid_value(k, value, NL_EFORMAT, err);
		if (strcmp(k->key, "preset") == 0)
			apply_preset(c, (size_t)preset_find(value));
		else if (strcmp(k->key, "model") == 0)
			set_model(c, value);
		else
			snprintf(field_word(c, k), NL_CONFIG_WORD, "%s", value);
		break;
	case CFG_STRING:
		if (strlen(value) >= NL_CONFIG_WORD || !nl_meta_value_valid(value, strlen(value)))
			return invalid_value(k, value, NL_EFORMAT, err);
		snprintf(field_word(c, k), NL_CONFIG_WORD, "%s", value);
		break;
	case CFG_PERIODS: {
		int64_t per[NL_CMS_MAX_LEVELS];
		int n = parse_periods(value, per);
		if (n < 0)
			return invalid_value(k, value, n == -2 ? NL_ERANGE : NL_EFORMAT, err);
		/* canonical: "inf" is written 0 */
		if (format_periods(field_word(c, k), per, n) < 0)
			return nl_err_set(err, NL_ERANGE, "invalid value for %s: '%.64s' (longer than "
			    "%d characters once written)", k->key, value, NL_CONFIG_WORD - 1);
		break;
	}
	}
	return 0;
}

static int
is_blank(int ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r';
}

/* Trim blanks (and the CR of CRLF) at both ends, in place. */
static char *
trim(char *s, char *end)
{
	while (s < end && is_blank((unsigned char)*s))
		s++;
	while (end > s && is_blank((unsigned char)end[-1]))
		end--;
	*end = '\0';
	return s;
}

int
nl_config_set_arg(struct nl_config *c, const char *arg, struct nl_err *err)
{
	const char *eq = strchr(arg, '=');
	size_t len = strlen(arg);

	if (eq == NULL)
		return nl_err_set(err, NL_EUSAGE, "'%.64s' is not key=value", arg);
	char *copy = malloc(len + 1);
	if (copy == NULL)
		return nl_err_set(err, NL_ENOMEM, "out of memory");
	memcpy(copy, arg, len + 1);
	char *mid = copy + (eq - arg);
	char *key = trim(copy, mid), *value = trim(mid + 1, copy + len);
	int rc = *key == '\0' ? nl_err_set(err, NL_EUSAGE, "missing key in '%.64s'", arg) :
	    nl_config_set(c, key, value, err);
	free(copy);
	return rc;
}

int
nl_config_parse(struct nl_config *c, const char *text, size_t len, struct nl_err *err)
{
	char *buf = malloc(len + 1);
	size_t lineno = 0;
	int rc = 0;

	if (buf == NULL)
		return nl_err_set(err, NL_ENOMEM, "out of memory");
	memcpy(buf, text, len);
	buf[len] = '\0';
	for (char *line = buf; line < buf + len && rc == 0; lineno++) {
		char *nl = memchr(line, '\n', (size_t)(buf + len - line));
		char *end = nl ? nl : buf + len, *next = nl ? nl + 1 : buf + len;

		if (memchr(line, '\0', (size_t)(end - line)) != NULL) {
			rc = nl_err_set(err, NL_EFORMAT, "line %zu: NUL byte", lineno + 1);
			break;
		}
		/* '#' at the start or after a blank begins a comment: "a#b" stays a value */
		for (char *p = line; p < end; p++)
			if (*p == '#' && (p == line || is_blank((unsigned char)p[-1]))) {
				end = p;
				break;
			}
		char *s = trim(line, end);
		line = next;
		if (*s == '\0')
			continue;
		char *eq = strchr(s, '=');
		if (eq == NULL) {
			rc = nl_err_set(err, NL_EFORMAT, "line %zu: expected 'key = value'",
			    lineno + 1);
			break;
		}
		char *value = trim(eq + 1, eq + 1 + strlen(eq + 1)), *key = trim(s, eq);
		if (*key == '\0') {
			rc = nl_err_set(err, NL_EFORMAT, "line %zu: missing key before '='",
			    lineno + 1);
			break;
		}
		if ((rc = nl_config_set(c, key, value, err)) < 0)
			nl_err_prefix(err, "line %zu", lineno + 1);
	}
	free(buf);
	return rc;
}

int
nl_config_load(struct nl_config *c, const char *spec, struct nl_err *err)
{
	ptrdiff_t p = preset_find(spec);
	struct nl_io io;
	char *text = NULL;
	size_t len = 0;
	int rc = -1;

	if (p >= 0) {
		/* a preset name stands for a whole configuration: defaults, then the preset */
		config_defaults(c);
		apply_preset(c, (size_t)p);
		return 0;
	}
	if (nl_io_open_read(&io, spec, NL_IO_FORCE, err) < 0)
		return -1;
	text = (char *)nl_io_read_all(&io, CONFIG_MAX_FILE, &len, err);
	if (text == NULL) {
		if (err->code == NL_ERANGE)
			nl_err_set(err, NL_ERANGE, "configuration larger than 1 MiB");
		goto out;
	}
	if (nl_io_close(&io, err) < 0) {
		free(text);
		return -1;
	}
	rc = nl_config_parse(c, text, len, err);
	free(text);
	return rc;
out:
	nl_io_abort(&io);
	free(text);
	return rc;
}

int
nl_config_check(const struct nl_config *c, struct nl_err *err)
{
	char a[40], b[40];

	if (c->d_model % c->heads != 0)
		return nl_err_set(err, NL_ERANGE, "d_model %lld is not a multiple of heads %lld",
		    (long long)c->d_model, (long long)c->heads);
	/* RoPE rotates pairs of coordinates within each head */
	if ((c->d_model / c->heads) % 2 != 0)
		return nl_err_set(err, NL_ERANGE,
		    "head dimension %lld (d_model %lld / heads %lld) must be even for rope",
		    (long long)(c->d_model / c->heads), (long long)c->d_model,
		    (long long)c->heads);
	if (c->train_seq_len > c->context)
		return nl_err_set(err, NL_ERANGE, "train.seq_len %lld exceeds context %lld",
		    (long long)c->train_seq_len, (long long)c->context);
	int selfmod = strcmp(c->model, "selfmod") == 0 || strcmp(c->model, "hope") == 0;
	if (c->adaptive_q && !selfmod)
		return nl_err_set(err, NL_ERANGE,
		    "adaptive_q = 1 needs model selfmod or hope, not %s", c->model);
	if (nl_config_has_cms(c)) {
		int64_t per[NL_CMS_MAX_LEVELS], teach = nl_config_cms_teach(c);
		int n = nl_config_cms_periods(c, per);
		for (int i = 0; i < n; i++)
			if (per[i] > 0 && per[i] % teach != 0)
				return nl_err_set(err, NL_ERANGE,
				    "cms.periods: period %lld is not a multiple of the teach window "
				    "cms.teach %lld", (long long)per[i], (long long)teach);
	}
	if (selfmod && c->chunk_memory % c->chunk_other != 0)
		return nl_err_set(err, NL_ERANGE,
		    "chunk_memory %lld is not a multiple of chunk_other %lld",
		    (long long)c->chunk_memory, (long long)c->chunk_other);
	if (c->optim_lr_min > c->optim_lr) {
		fmt_double(a, sizeof a, c->optim_lr_min);
		fmt_double(b, sizeof b, c->optim_lr);
		return nl_err_set(err, NL_ERANGE, "optim.lr_min %s exceeds optim.lr %s", a, b);
	}
	return 0;
}

/* ---- text and metadata out ---- */

struct sbuf {
	char *p;
	size_t n, cap;
};

static int
sbuf_line(struct sbuf *b, const char *key, const char *val, struct nl_err *err)
{
	size_t kl = strlen(key), vl = strlen(val), need = kl + vl + 4;

	if (b->n + need + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 1024;
		while (cap < b->n + need + 1)
			cap *= 2;
		char *q = realloc(b->p, cap);
		if (q == NULL)
			return nl_err_set(err, NL_ENOMEM, "out of memory");
		b->p = q;
		b->cap = cap;
	}
	memcpy(b->p + b->n, key, kl);
	memcpy(b->p + b->n + kl, " = ", 3);
	memcpy(b->p + b->n + kl + 3, val, vl);
	b->n += need;
	b->p[b->n - 1] = '\n';
	b->p[b->n] = '\0';
	return 0;
}

int
nl_config_format(const struct nl_config *c, char **text, size_t *len, struct nl_err *err)
{
	struct sbuf b = { 0 };
	char val[64];
	const struct cfg_key *pk = cfg_find("preset");

	/* preset first: setting it rewrites the keys it names, which sort before it */
	fmt_value(c, pk, val, sizeof val);
	if (sbuf_line(&b, pk->key, val, err) < 0)
		goto fail;
	for (size_t i = 0; i < NKEYS; i++) {
		if (&cfg_keys[i] == pk)
			continue;
		fmt_value(c, &cfg_keys[i], val, sizeof val);
		if (sbuf_line(&b, cfg_keys[i].key, val, err) < 0)
			goto fail;
	}
	for (size_t i = 0; i < c->x.n; i++)
		if (sbuf_line(&b, c->x.keys[i], c->x.vals[i], err) < 0)
			goto fail;
	*text = b.p;
	*len = b.n;
	return 0;
fail:
	free(b.p);
	return -1;
}

static int
meta_put(struct nl_meta *m, const char *prefix, const char *key, const char *val,
    struct nl_err *err)
{
	char full[NL_META_MAX_KEY + 2];

	if ((size_t)snprintf(full, sizeof full, "%s%s", prefix, key) >= sizeof full)
		return nl_err_set(err, NL_ERANGE, "metadata key '%s%.64s...' too long", prefix,
		    key);
	return nl_meta_set(m, full, val, err);
}

int
nl_config_to_meta(const struct nl_config *c, struct nl_meta *m, const char *prefix,
    struct nl_err *err)
{
	char val[64];

	for (size_t i = 0; i < NKEYS; i++) {
		fmt_value(c, &cfg_keys[i], val, sizeof val);
		if (meta_put(m, prefix, cfg_keys[i].key, val, err) < 0)
			return -1;
	}
	for (size_t i = 0; i < c->x.n; i++)
		if (meta_put(m, prefix, c->x.keys[i], c->x.vals[i], err) < 0)
			return -1;
	return 0;
}

int
nl_config_from_meta(struct nl_config *c, const struct nl_meta *m, const char *prefix,
    struct nl_err *err)
{
	size_t pl = strlen(prefix);

	/* the map is sorted, but preset must come first so the keys after it override it */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < m->n; i++) {
			const char *key = m->keys[i];
			if (strncmp(key, prefix, pl) != 0)
				continue;
			if ((strcmp(key + pl, "preset") == 0) != (pass == 0))
				continue;
			if (nl_config_set(c, key + pl, m->vals[i], err) < 0) {
				nl_err_prefix(err, "metadata key '%.64s'", key);
				return -1;
			}
		}
	}
	return 0;
}
