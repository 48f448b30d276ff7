/* nl — see LICENSE. Run configuration, nl-config(5): a schema table of every key (type,
 * default, range), the named presets of MODEL §2.6, `key = value` text, -D overrides. */
#ifndef NL_CONFIG_H
#define NL_CONFIG_H
#include <stddef.h>
#include <stdint.h>
#include "err.h"
#include "meta.h"

#define NL_CONFIG_WORD 32
#define NL_CMS_MAX_LEVELS 8

/* One field per key; the key is the field name with the first '_' after a group prefix
 * written as '.' (optim_lr is "optim.lr"). Defaults are the tiny preset's. */
struct nl_config {
	/* model */
	char model[NL_CONFIG_WORD];      /* model: transformer | titans | selfmod | hope | hope-attention */
	char preset[NL_CONFIG_WORD];     /* preset: tiny | small | base (last applied, informative) */
	int64_t vocab_size;              /* 0: take it from the tokenizer of the training stream */
	int64_t d_model, layers, heads;
	int64_t mlp_hidden;              /* mlp.hidden: SwiGLU width f (families without CMS) */
	int64_t context;                 /* longest sequence the model accepts (-T must not exceed it) */
	double norm_eps;
	double rope_base;                /* rope.base */
	double init_std;                 /* init.std: N(0, std²) matrices, output projections / √(2L) */
	/* memories (titans, selfmod; MODEL D3–D7, §1.3) */
	int64_t chunk_memory, chunk_other;
	double eta_max;
	int64_t inner_momentum;          /* 0: S = −γ G, no b_beta */
	char inner_step[NL_CONFIG_WORD]; /* literal | prox | prox-chunk | mean, each optionally +ema */
	char meta_grad[NL_CONFIG_WORD];  /* full | first | none */
	double mem_w1_scale;             /* mem.w1_scale */
	int64_t projector;
	int64_t adaptive_q;
	/* continuum memory system (hope, hope-attention; MODEL D8, §2.3) */
	char cms_periods[NL_CONFIG_WORD]; /* cms.periods: "16,128,1024", fast → slow, 0 outer-only */
	int64_t cms_hidden;              /* cms.hidden: SwiGLU width of every level */
	double cms_lr;                   /* cms.lr: the levels' in-context step size */
	int64_t cms_teach;               /* cms.teach: teach window, 0 = the smallest finite period */
	char cms_optim[NL_CONFIG_WORD];  /* cms.optim: sgd */
	/* evaluation (nl-eval) */
	char eval_mode[NL_CONFIG_WORD];  /* eval.mode: window | stream */
	int64_t ttl;                     /* stream: the CMS levels learn as they go (D10) */
	char eval_curve[NL_CONFIG_WORD]; /* eval.curve: none | position | token */
	char reset[NL_CONFIG_WORD];      /* reset: never | doc (streams, MODEL D9) */
	char data_align[NL_CONFIG_WORD]; /* data.align: auto | none | doc (windows) */
	/* outer optimizer */
	char optim[NL_CONFIG_WORD];      /* optim: sgd | momentum | adamw | muon | m3 | m3-ema | ... */
	char optim_schedule[NL_CONFIG_WORD]; /* optim.schedule: cosine | constant */
	double optim_lr, optim_lr_min, optim_weight_decay, optim_beta1, optim_beta2, optim_eps;
	double optim_clip;               /* global gradient-norm clip, 0 = off */
	int64_t optim_warmup;            /* steps of linear warmup */
	double optim_momentum;           /* optim.momentum: μ / α of the momentum rules */
	int64_t optim_ns_steps;          /* Newton–Schulz steps of muon and m3 */
	double m3_alpha, m3_beta3;       /* m3.*: slow momentum's weight and gradient weight */
	int64_t m3_period;               /* m3.period: steps between slow-momentum updates */
	double delta_lambda;             /* delta.lambda */
	char delta_precond[NL_CONFIG_WORD]; /* delta.precond: none | adam */
	int64_t dmgd_hidden;             /* dmgd.hidden */
	/* training run */
	int64_t train_batch;             /* -b */
	int64_t train_seq_len;           /* -T; 0 = context */
	int64_t train_steps;             /* -n */
	int64_t train_every;             /* -e: evaluate and checkpoint every N steps, 0 = only at the end */
	int64_t train_seed;              /* -s */
	double train_valid_percent;      /* held-out tail of the stream when no --valid, 0 = none */
	int64_t train_eval_tokens;       /* cap of held-out tokens per evaluation, 0 = all */
	/* free-form user keys under "x." (kept and written back, never interpreted) */
	struct nl_meta x;
};

/* Defaults (preset tiny). Pair with nl_config_free. */
void nl_config_init(struct nl_config *c);
void nl_config_free(struct nl_config *c);
/* dst is overwritten, not freed first; on error it holds nothing to free. */
int nl_config_copy(struct nl_config *dst, const struct nl_config *src, struct nl_err *err);

/* Set one key from its text value, with type and range checks:
 *   "unknown key 'optim.lrr'", "invalid value for optim.lr: 'x' (must be a number in (0, 10])".
 * "preset" applies the preset's values for every key it names. "format" accepts
 * "nl-checkpoint 1" (the first line of a checkpoint's config member) and ignores it; a newer
 * major is NL_EUNSUPPORTED. */
int nl_config_set(struct nl_config *c, const char *key, const char *value, struct nl_err *err);
/* "key=value" (a -D argument). */
int nl_config_set_arg(struct nl_config *c, const char *arg, struct nl_err *err);
/* nl-config(5) text: `key = value` lines, '#' comments, blank lines; errors carry
 * "line N: ...". Keys apply in order, so later lines override earlier ones. */
int nl_config_parse(struct nl_config *c, const char *text, size_t len, struct nl_err *err);
/* -c: a preset name (tiny, small, base: every key back to its default, then the preset; x.*
 * kept) or a file path ("-" is stdin, "./tiny" a file named tiny; at most 1 MiB) parsed over
 * the current values. Errors name nothing but the reason; the caller prefixes the spec. */
int nl_config_load(struct nl_config *c, const char *spec, struct nl_err *err);
/* Cross-key checks: d_model % heads == 0, even head dim, seq_len <= context, lr_min <= lr,
 * warmup < steps unless warmup is 0. */
int nl_config_check(const struct nl_config *c, struct nl_err *err);
/* Every key, one `key = value` line each: preset first (setting it rewrites the keys it
 * names), then the others sorted, then x.*. Round-trips exactly through parse: doubles in
 * the shortest of %.15g..%.17g that reads back, exponent trimmed. Caller frees *text. */
int nl_config_format(const struct nl_config *c, char **text, size_t *len, struct nl_err *err);
/* The same keys as string metadata (safetensors __metadata__, GGUF KV), prefix + key
 * ("nl." for GGUF, "" otherwise), and back (keys without the prefix are ignored, unknown
 * keys with it are errors; preset is applied before the others). */
int nl_config_to_meta(const struct nl_config *c, struct nl_meta *m, const char *prefix,
    struct nl_err *err);
int nl_config_from_meta(struct nl_config *c, const struct nl_meta *m, const char *prefix,
    struct nl_err *err);
/* The CMS levels' periods (cms.periods; 0 = outer-only) into periods; returns their number. */
int nl_config_cms_periods(const struct nl_config *c, int64_t periods[NL_CMS_MAX_LEVELS]);
/* The teach window in tokens: cms.teach, or the smallest finite period when it is 0; 0 when
 * no level has a finite period (nothing learns in context). */
int64_t nl_config_cms_teach(const struct nl_config *c);
/* Whether c's family ends each block with CMS levels (hope, hope-attention). */
int nl_config_has_cms(const struct nl_config *c);
/* The i-th key of the schema (sorted), NULL past the end: for help texts and tests. */
const char *nl_config_key_at(size_t i);
#endif
