/* nl — see LICENSE. Run configuration: defaults, presets, every error message, parse and
 * format round trips, -D arguments, x.* keys, cross-key checks, metadata, and the man page
 * naming every key of the schema with its default. */
#include <stdint.h>
#include <unistd.h>

#include "config.h"
#include "t.h"

/* ---- helpers ---- */

static uint64_t rng_state = 0x2545f4914f6cdd1du;

static uint64_t
rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static int
same_double(double a, double b)
{
	return memcmp(&a, &b, sizeof a) == 0;
}

/* Field by field: the struct has padding-free but pointer-holding members. */
static int
cfg_equal(const struct nl_config *a, const struct nl_config *b)
{
	if (strcmp(a->model, b->model) || strcmp(a->preset, b->preset) ||
	    strcmp(a->optim, b->optim) || strcmp(a->optim_schedule, b->optim_schedule))
		return 0;
	if (a->vocab_size != b->vocab_size || a->d_model != b->d_model || a->layers != b->layers ||
	    a->heads != b->heads || a->mlp_hidden != b->mlp_hidden || a->context != b->context ||
	    a->optim_warmup != b->optim_warmup || a->train_batch != b->train_batch ||
	    a->train_seq_len != b->train_seq_len || a->train_steps != b->train_steps ||
	    a->train_every != b->train_every || a->train_seed != b->train_seed ||
	    a->train_eval_tokens != b->train_eval_tokens)
		return 0;
	if (!same_double(a->norm_eps, b->norm_eps) || !same_double(a->rope_base, b->rope_base) ||
	    !same_double(a->init_std, b->init_std) || !same_double(a->optim_lr, b->optim_lr) ||
	    !same_double(a->optim_lr_min, b->optim_lr_min) ||
	    !same_double(a->optim_weight_decay, b->optim_weight_decay) ||
	    !same_double(a->optim_beta1, b->optim_beta1) ||
	    !same_double(a->optim_beta2, b->optim_beta2) ||
	    !same_double(a->optim_eps, b->optim_eps) || !same_double(a->optim_clip, b->optim_clip) ||
	    !same_double(a->train_valid_percent, b->train_valid_percent))
		return 0;
	if (a->x.n != b->x.n)
		return 0;
	for (size_t i = 0; i < a->x.n; i++)
		if (strcmp(a->x.keys[i], b->x.keys[i]) || strcmp(a->x.vals[i], b->x.vals[i]))
			return 0;
	return 1;
}

/* format, parse into defaults, compare, and format again to the same text */
static void
check_round_trip(const struct nl_config *c)
{
	struct nl_err err = { 0 };
	struct nl_config back;
	char *text = NULL, *text2 = NULL;
	size_t len = 0, len2 = 0;

	T_CHECK(nl_config_format(c, &text, &len, &err) == 0);
	T_CHECK(text != NULL && strlen(text) == len);
	nl_config_init(&back);
	T_CHECK_MSG(nl_config_parse(&back, text, len, &err) == 0, "%s", err.msg);
	T_CHECK_MSG(cfg_equal(c, &back), "%s", text);
	T_CHECK(nl_config_format(&back, &text2, &len2, &err) == 0);
	T_CHECK(len2 == len && memcmp(text, text2, len) == 0);
	free(text);
	free(text2);
	nl_config_free(&back);
}

/* Expect set(key, value) to fail with code and exactly msg, leaving c as it was. */
static void
set_fails(const char *key, const char *value, int code, const char *msg)
{
	struct nl_config c, before;
	struct nl_err err = { 0 };

	nl_config_init(&c);
	nl_config_init(&before);
	T_CHECK_MSG(nl_config_set(&c, key, value, &err) == -1, "%s = %s", key, value);
	T_CHECK_MSG(err.code == code, "%s = %s: code %d", key, value, err.code);
	T_CHECK_MSG(strcmp(err.msg, msg) == 0, "got '%s', want '%s'", err.msg, msg);
	T_CHECK(cfg_equal(&c, &before));
	nl_config_free(&c);
	nl_config_free(&before);
}

static void
parse_fails(const char *text, int code, const char *msg)
{
	struct nl_config c;
	struct nl_err err = { 0 };

	nl_config_init(&c);
	T_CHECK_MSG(nl_config_parse(&c, text, strlen(text), &err) == -1, "%s", text);
	T_CHECK_MSG(err.code == code, "code %d for '%s'", err.code, text);
	T_CHECK_MSG(strcmp(err.msg, msg) == 0, "got '%s', want '%s'", err.msg, msg);
	nl_config_free(&c);
}

static void
check_set(struct nl_config *c, const char *key, const char *value)
{
	struct nl_err err = { 0 };

	T_CHECK_MSG(nl_config_set(c, key, value, &err) == 0, "%s = %s: %s", key, value, err.msg);
}

/* ---- tests ---- */

T_TEST(test_defaults)
{
	struct nl_config c;
	struct nl_err err = { 0 };

	nl_config_init(&c);
	T_CHECK(strcmp(c.model, "transformer") == 0);
	T_CHECK(strcmp(c.preset, "tiny") == 0);
	T_CHECK(c.vocab_size == 0 && c.d_model == 128 && c.layers == 2 && c.heads == 4);
	T_CHECK(c.mlp_hidden == 608 && c.context == 128);
	T_CHECK(c.norm_eps == 1e-6 && c.rope_base == 10000 && c.init_std == 0.02);
	T_CHECK(strcmp(c.optim, "adamw") == 0 && strcmp(c.optim_schedule, "cosine") == 0);
	T_CHECK(c.optim_lr == 1e-3 && c.optim_lr_min == 1e-4 && c.optim_weight_decay == 0.1);
	T_CHECK(c.optim_beta1 == 0.9 && c.optim_beta2 == 0.95 && c.optim_eps == 1e-8);
	T_CHECK(c.optim_clip == 1.0 && c.optim_warmup == 100);
	T_CHECK(c.train_batch == 16 && c.train_seq_len == 0 && c.train_steps == 1000);
	T_CHECK(c.train_every == 500 && c.train_seed == 1 && c.train_valid_percent == 10);
	T_CHECK(c.train_eval_tokens == 0 && c.x.n == 0);
	T_CHECK_MSG(nl_config_check(&c, &err) == 0, "%s", err.msg);
	nl_config_free(&c);
}

T_TEST(test_schema)
{
	size_t n = 0;

	/* sorted bytewise, unique, valid keys, and exactly the documented ones */
	for (const char *k; (k = nl_config_key_at(n)) != NULL; n++) {
		T_CHECK_MSG(nl_meta_key_valid(k), "%s", k);
		if (n > 0)
			T_CHECK_MSG(strcmp(nl_config_key_at(n - 1), k) < 0, "%s", k);
	}
	T_CHECK(n == 55);
	T_CHECK(nl_config_key_at(n) == NULL && nl_config_key_at((size_t)-1) == NULL);
}

T_TEST(test_presets)
{
	static const struct {
		const char *name;
		int64_t d, l, h, f, t;
	} want[] = {
		{ "tiny", 128, 2, 4, 608, 128 },
		{ "small", 256, 6, 4, 1504, 512 },
		{ "base", 256, 8, 4, 2560, 512 },
	};
	struct nl_err err = { 0 };

	for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
		struct nl_config c, d;
		nl_config_init(&c);
		check_set(&c, "vocab_size", "300");
		check_set(&c, "optim.lr", "0.5");
		check_set(&c, "d_model", "64");
		check_set(&c, "preset", want[i].name);
		T_CHECK(strcmp(c.preset, want[i].name) == 0);
		T_CHECK(c.d_model == want[i].d && c.layers == want[i].l && c.heads == want[i].h);
		T_CHECK(c.mlp_hidden == want[i].f && c.context == want[i].t);
		/* a preset names only the model sizes */
		T_CHECK(c.vocab_size == 300 && c.optim_lr == 0.5);
		T_CHECK_MSG(nl_config_check(&c, &err) == 0, "%s", err.msg);
		check_round_trip(&c);

		/* -c NAME: defaults, then the preset; x.* survives */
		nl_config_init(&d);
		check_set(&d, "optim.lr", "0.5");
		check_set(&d, "x.keep", "yes");
		T_CHECK_MSG(nl_config_load(&d, want[i].name, &err) == 0, "%s", err.msg);
		T_CHECK(d.optim_lr == 1e-3 && d.vocab_size == 0 && d.d_model == want[i].d);
		T_CHECK(d.layers == want[i].l && d.mlp_hidden == want[i].f && d.context == want[i].t);
		T_CHECK(strcmp(d.preset, want[i].name) == 0);
		T_CHECK(nl_meta_get(&d.x, "x.keep") != NULL);
		nl_config_free(&c);
		nl_config_free(&d);
	}

	/* later keys override the preset, earlier ones are overridden by it */
	struct nl_config c;
	const char *text = "d_model = 64\npreset = small\nlayers = 3\n";
	nl_config_init(&c);
	T_CHECK(nl_config_parse(&c, text, strlen(text), &err) == 0);
	T_CHECK(c.d_model == 256 && c.layers == 3 && c.mlp_hidden == 1504);
	T_CHECK(strcmp(c.preset, "small") == 0);
	check_round_trip(&c); /* preset is written first, so layers = 3 survives */

	/* the CMS families: cms.hidden and cms.periods per preset (MODEL §2.6), widths that
	 * follow the family while they hold the preset's, periods and the teach window */
	int64_t per[NL_CMS_MAX_LEVELS];
	check_set(&c, "model", "hope");
	T_CHECK(c.cms_hidden == 448 && c.mlp_hidden == 1504);
	T_CHECK(strcmp(c.cms_periods, "16,128,1024") == 0 && nl_config_cms_teach(&c) == 16);
	check_set(&c, "model", "hope-attention");
	T_CHECK(c.cms_hidden == 512);
	check_set(&c, "cms.hidden", "100");
	check_set(&c, "model", "hope");
	T_CHECK(c.cms_hidden == 100);
	check_set(&c, "preset", "tiny");
	T_CHECK(c.cms_hidden == 256 && strcmp(c.cms_periods, "8,64") == 0);
	check_set(&c, "cms.periods", "inf,32,0");
	T_CHECK(strcmp(c.cms_periods, "0,32,0") == 0 && nl_config_cms_periods(&c, per) == 3);
	T_CHECK(per[0] == 0 && per[1] == 32 && per[2] == 0 && nl_config_cms_teach(&c) == 32);
	check_set(&c, "cms.periods", "0");
	T_CHECK(nl_config_cms_teach(&c) == 0);
	check_set(&c, "cms.periods", "8,64");
	check_set(&c, "cms.teach", "16");
	T_CHECK(nl_config_check(&c, &err) == -1 && strcmp(err.msg, "cms.periods: period 8 is not "
	    "a multiple of the teach window cms.teach 16") == 0);
	check_set(&c, "cms.teach", "4");
	T_CHECK(nl_config_check(&c, &err) == 0 && nl_config_cms_teach(&c) == 4);
	check_round_trip(&c);
	nl_config_free(&c);
}

T_TEST(test_set_errors)
{
	/* keys */
	set_fails("foo.bar", "1", NL_EFORMAT, "unknown key 'foo.bar'");
	set_fails("optim.lrr", "1", NL_EFORMAT, "unknown key 'optim.lrr'; did you mean 'optim.lr'?");
	set_fails("optim.rl", "1", NL_EFORMAT, "unknown key 'optim.rl'; did you mean 'optim.lr'?");
	set_fails("d_modle", "1", NL_EFORMAT, "unknown key 'd_modle'; did you mean 'd_model'?");
	set_fails("train.sead", "1", NL_EFORMAT,
	    "unknown key 'train.sead'; did you mean 'train.seed'?");
	set_fails("x", "1", NL_EFORMAT, "unknown key 'x'");
	set_fails("Optim.lr", "1", NL_EFORMAT, "invalid key 'Optim.lr'");
	set_fails("optim..lr", "1", NL_EFORMAT, "invalid key 'optim..lr'");
	set_fails("x.", "1", NL_EFORMAT, "invalid key 'x.'");
	set_fails("", "1", NL_EFORMAT, "invalid key ''");

	/* integers: digits only, optional '-', in range, no overflow */
	static const char *bad_ints[] = { "abc", "1e3", "12 ", " 12", "+5", "", "-", "0x10",
		"1.0", "12a" };
	for (size_t i = 0; i < sizeof bad_ints / sizeof *bad_ints; i++) {
		char msg[200];
		snprintf(msg, sizeof msg,
		    "invalid value for d_model: '%s' (must be an integer in 2..65536)", bad_ints[i]);
		set_fails("d_model", bad_ints[i], NL_EFORMAT, msg);
	}
	set_fails("d_model", "1", NL_ERANGE,
	    "invalid value for d_model: '1' (must be an integer in 2..65536)");
	set_fails("d_model", "65537", NL_ERANGE,
	    "invalid value for d_model: '65537' (must be an integer in 2..65536)");
	set_fails("d_model", "-4", NL_ERANGE,
	    "invalid value for d_model: '-4' (must be an integer in 2..65536)");
	set_fails("train.seed", "9223372036854775808", NL_ERANGE,
	    "invalid value for train.seed: '9223372036854775808' (must be an integer in "
	    "0..9223372036854775807)");
	set_fails("train.seed", "-9223372036854775808", NL_ERANGE,
	    "invalid value for train.seed: '-9223372036854775808' (must be an integer in "
	    "0..9223372036854775807)");
	set_fails("train.seed", "99999999999999999999999", NL_ERANGE,
	    "invalid value for train.seed: '99999999999999999999999' (must be an integer in "
	    "0..9223372036854775807)");
	set_fails("train.eval_tokens", "4611686018427387905", NL_ERANGE,
	    "invalid value for train.eval_tokens: '4611686018427387905' (must be an integer in "
	    "0..4611686018427387904)");
	set_fails("train.steps", "0", NL_ERANGE,
	    "invalid value for train.steps: '0' (must be an integer in 1..1000000000000)");
	set_fails("vocab_size", "16777217", NL_ERANGE,
	    "invalid value for vocab_size: '16777217' (must be an integer in 0..16777216)");

	/* floats: strtod fully consumed, finite, inside the stated interval */
	static const char *bad_floats[] = { "abc", "", " 1", "1 ", "1e-3x", "nan", "inf",
		"-inf", "1e999", "0.1.2", "1,5" };
	for (size_t i = 0; i < sizeof bad_floats / sizeof *bad_floats; i++) {
		char msg[200];
		snprintf(msg, sizeof msg,
		    "invalid value for optim.lr: '%s' (must be a number in (0, 10])", bad_floats[i]);
		set_fails("optim.lr", bad_floats[i], NL_EFORMAT, msg);
	}
	set_fails("optim.lr", "0", NL_ERANGE,
	    "invalid value for optim.lr: '0' (must be a number in (0, 10])");
	set_fails("optim.lr", "10.000001", NL_ERANGE,
	    "invalid value for optim.lr: '10.000001' (must be a number in (0, 10])");
	set_fails("optim.beta1", "1", NL_ERANGE,
	    "invalid value for optim.beta1: '1' (must be a number in [0, 1))");
	set_fails("optim.beta2", "-0.1", NL_ERANGE,
	    "invalid value for optim.beta2: '-0.1' (must be a number in [0, 1))");
	set_fails("norm_eps", "0", NL_ERANGE,
	    "invalid value for norm_eps: '0' (must be a number in (0, 1))");
	set_fails("rope.base", "1", NL_ERANGE,
	    "invalid value for rope.base: '1' (must be a number in (1, 1e9])");
	set_fails("optim.clip", "2e9", NL_ERANGE,
	    "invalid value for optim.clip: '2e9' (must be a number in [0, 1e9])");
	set_fails("optim.eps", "0", NL_ERANGE,
	    "invalid value for optim.eps: '0' (must be a number in (0, 1])");
	set_fails("init.std", "11", NL_ERANGE,
	    "invalid value for init.std: '11' (must be a number in (0, 10])");
	set_fails("train.valid_percent", "50.5", NL_ERANGE,
	    "invalid value for train.valid_percent: '50.5' (must be a number in [0, 50])");

	/* words */
	set_fails("optim.schedule", "linear", NL_EFORMAT,
	    "invalid value for optim.schedule: 'linear' (must be one of cosine, constant)");
	set_fails("preset", "huge", NL_EFORMAT,
	    "invalid value for preset: 'huge' (must be one of tiny, small, base)");
	set_fails("preset", "Tiny", NL_EFORMAT,
	    "invalid value for preset: 'Tiny' (must be one of tiny, small, base)");
	set_fails("model", "hopes", NL_EFORMAT, "invalid value for model: 'hopes' (must be one of "
	    "transformer, titans, selfmod, hope, hope-attention)");
	set_fails("cms.periods", "8,,64", NL_EFORMAT, "invalid value for cms.periods: '8,,64' "
	    "(must be 1 to 8 comma-separated integers in 0..1048576, 0 or inf = outer-only)");
	set_fails("cms.periods", "-8", NL_EFORMAT, "invalid value for cms.periods: '-8' "
	    "(must be 1 to 8 comma-separated integers in 0..1048576, 0 or inf = outer-only)");
	set_fails("cms.periods", "1,2,3,4,5,6,7,8,9", NL_ERANGE, "invalid value for cms.periods: "
	    "'1,2,3,4,5,6,7,8,9' (must be 1 to 8 comma-separated integers in 0..1048576, 0 or inf "
	    "= outer-only)");
	set_fails("cms.periods", "1000000,1000000,1000000,1000000,1000000,1000000", NL_ERANGE,
	    "invalid value for cms.periods: '1000000,1000000,1000000,1000000,1000000,1000000' "
	    "(longer than 31 characters once written)");
	set_fails("cms.periods", "2097152", NL_ERANGE, "invalid value for cms.periods: '2097152' "
	    "(must be 1 to 8 comma-separated integers in 0..1048576, 0 or inf = outer-only)");
	set_fails("optim", "adam", NL_EFORMAT, "invalid value for optim: 'adam' (must be one of "
	    "sgd, momentum, adamw, muon, m3, m3-ema, delta-momentum, dmgd, dgd)");

	/* the format line */
	set_fails("format", "nl-checkpoint 2", NL_EUNSUPPORTED,
	    "checkpoint format 2 is newer than this nl (1)");
	set_fails("format", "nl-checkpoint 10", NL_EUNSUPPORTED,
	    "checkpoint format 10 is newer than this nl (1)");
	set_fails("format", "nl-checkpoint 0", NL_EFORMAT,
	    "invalid value for format: 'nl-checkpoint 0' (must be nl-checkpoint 1)");
	set_fails("format", "nl-checkpoint 1.1", NL_EFORMAT,
	    "invalid value for format: 'nl-checkpoint 1.1' (must be nl-checkpoint 1)");
	set_fails("format", "nl-tensor 1", NL_EFORMAT,
	    "invalid value for format: 'nl-tensor 1' (must be nl-checkpoint 1)");
	set_fails("format", "", NL_EFORMAT,
	    "invalid value for format: '' (must be nl-checkpoint 1)");

	/* long values are cut in messages, not overflowing them */
	char big[4096];
	memset(big, '7', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	struct nl_config c;
	struct nl_err err = { 0 };
	nl_config_init(&c);
	T_CHECK(nl_config_set(&c, "d_model", big, &err) == -1 && err.code == NL_ERANGE);
	T_CHECK(strlen(err.msg) < 200);
	nl_config_free(&c);
}

T_TEST(test_set_values)
{
	struct nl_config c, before;
	struct nl_err err = { 0 };

	nl_config_init(&c);
	nl_config_init(&before);
	check_set(&c, "format", "nl-checkpoint 1");
	T_CHECK(cfg_equal(&c, &before));
	check_set(&c, "train.seed", "9223372036854775807");
	T_CHECK(c.train_seed == INT64_MAX);
	check_set(&c, "train.eval_tokens", "4611686018427387904");
	T_CHECK(c.train_eval_tokens == INT64_C(4611686018427387904));
	check_set(&c, "train.steps", "007");
	T_CHECK(c.train_steps == 7);
	check_set(&c, "optim.lr", "10");
	T_CHECK(c.optim_lr == 10);
	check_set(&c, "optim.lr", "0x1p-3");
	T_CHECK(c.optim_lr == 0.125);
	check_set(&c, "optim.beta1", "0");
	check_set(&c, "optim.clip", "0");
	check_set(&c, "rope.base", "1e9");
	T_CHECK(c.rope_base == 1e9);
	check_set(&c, "optim.schedule", "constant");
	T_CHECK(strcmp(c.optim_schedule, "constant") == 0);
	check_set(&c, "train.valid_percent", "50");
	check_set(&c, "optim.weight_decay", "-0");
	T_CHECK(signbit(c.optim_weight_decay));
	check_round_trip(&c);
	(void)err;
	nl_config_free(&c);
	nl_config_free(&before);
}

T_TEST(test_parse)
{
	static const char text[] =
	    "# a comment\n"
	    "\n"
	    "   # an indented comment\n"
	    "optim.lr = 3e-4\n"
	    "\toptim.lr_min=1e-5   \t\n"
	    "train.batch = 8 # trailing comment\r\n"
	    "train.batch = 32\r\n"
	    "x.tag = a#b c  # the comment, not the '#' inside\n"
	    "x.note = two  words\n"
	    "format = nl-checkpoint 1\n"
	    "   \t  \r\n"
	    "layers = 5";
	struct nl_config c;
	struct nl_err err = { 0 };

	nl_config_init(&c);
	T_CHECK_MSG(nl_config_parse(&c, text, strlen(text), &err) == 0, "%s", err.msg);
	T_CHECK(c.optim_lr == 3e-4 && c.optim_lr_min == 1e-5);
	T_CHECK(c.train_batch == 32); /* duplicates: the later wins */
	T_CHECK(c.layers == 5);
	const char *tag = nl_meta_get(&c.x, "x.tag"), *note = nl_meta_get(&c.x, "x.note");
	T_CHECK(tag != NULL && strcmp(tag, "a#b c") == 0);
	T_CHECK(note != NULL && strcmp(note, "two  words") == 0);
	T_CHECK(nl_config_parse(&c, "", 0, &err) == 0);
	nl_config_free(&c);

	parse_fails("\n\noptim.lrr = 1\n", NL_EFORMAT,
	    "line 3: unknown key 'optim.lrr'; did you mean 'optim.lr'?");
	parse_fails("# c\r\nbogus = 1\r\n", NL_EFORMAT, "line 2: unknown key 'bogus'");
	parse_fails("d_model = 128\njust words\n", NL_EFORMAT, "line 2: expected 'key = value'");
	parse_fails(" = 3\n", NL_EFORMAT, "line 1: missing key before '='");
	parse_fails("optim lr = 3\n", NL_EFORMAT, "line 1: invalid key 'optim lr'");
	parse_fails("a\n\n\noptim.lr = abc\n", NL_EFORMAT, "line 1: expected 'key = value'");
	parse_fails("layers = 2\noptim.lr = abc\n", NL_EFORMAT,
	    "line 2: invalid value for optim.lr: 'abc' (must be a number in (0, 10])");
	parse_fails("optim.lr =\n", NL_EFORMAT,
	    "line 1: invalid value for optim.lr: '' (must be a number in (0, 10])");
	parse_fails("optim.lr = 1e-3#x\n", NL_EFORMAT,
	    "line 1: invalid value for optim.lr: '1e-3#x' (must be a number in (0, 10])");
	parse_fails("format = nl-checkpoint 2\nd_model = 64\n", NL_EUNSUPPORTED,
	    "line 1: checkpoint format 2 is newer than this nl (1)");
	parse_fails("x.bad = \xff\n", NL_EFORMAT,
	    "line 1: invalid value for metadata key 'x.bad'");

	/* a NUL byte inside the text */
	nl_config_init(&c);
	T_CHECK(nl_config_parse(&c, "layers = 3\nla\0yers = 2\n", 23, &err) == -1);
	T_CHECK(err.code == NL_EFORMAT && strcmp(err.msg, "line 2: NUL byte") == 0);
	T_CHECK(c.layers == 3); /* lines before the error are applied */
	nl_config_free(&c);
}

T_TEST(test_set_arg)
{
	struct nl_config c;
	struct nl_err err = { 0 };

	nl_config_init(&c);
	T_CHECK(nl_config_set_arg(&c, "optim.lr=3e-4", &err) == 0 && c.optim_lr == 3e-4);
	T_CHECK(nl_config_set_arg(&c, " train.batch = 4 ", &err) == 0 && c.train_batch == 4);
	T_CHECK(nl_config_set_arg(&c, "x.eq=a=b", &err) == 0);
	T_CHECK(strcmp(nl_meta_get(&c.x, "x.eq"), "a=b") == 0);
	T_CHECK(nl_config_set_arg(&c, "preset=base", &err) == 0 && c.layers == 8);

	T_CHECK(nl_config_set_arg(&c, "bad", &err) == -1);
	T_CHECK(err.code == NL_EUSAGE && strcmp(err.msg, "'bad' is not key=value") == 0);
	T_CHECK(nl_config_set_arg(&c, "=x", &err) == -1);
	T_CHECK(err.code == NL_EUSAGE && strcmp(err.msg, "missing key in '=x'") == 0);
	T_CHECK(nl_config_set_arg(&c, "a=b", &err) == -1);
	T_CHECK(err.code == NL_EFORMAT && strcmp(err.msg, "unknown key 'a'") == 0);
	T_CHECK(nl_config_set_arg(&c, "layers=", &err) == -1);
	T_CHECK(strcmp(err.msg,
	    "invalid value for layers: '' (must be an integer in 1..1024)") == 0);
	nl_config_free(&c);
}

T_TEST(test_x_keys)
{
	struct nl_config c, d;
	struct nl_err err = { 0 };
	char *text;
	size_t len;

	nl_config_init(&c);
	check_set(&c, "x.b", "2");
	check_set(&c, "x.a.deep_key", "anything at all: 1e-3, \xc3\xa9");
	check_set(&c, "x.b", "3"); /* replaced */
	T_CHECK(c.x.n == 2 && strcmp(nl_meta_get(&c.x, "x.b"), "3") == 0);
	T_CHECK(nl_config_format(&c, &text, &len, &err) == 0);
	/* after every schema key, sorted */
	const char *xa = strstr(text, "\nx.a.deep_key = "), *xb = strstr(text, "\nx.b = 3\n");
	const char *vs = strstr(text, "\nvocab_size = 0\n");
	T_CHECK(xa != NULL && xb != NULL && vs != NULL && vs < xa && xa < xb);
	T_CHECK(text[len - 1] == '\n');
	free(text);
	check_round_trip(&c);

	T_CHECK(nl_config_copy(&d, &c, &err) == 0);
	T_CHECK(cfg_equal(&c, &d));
	check_set(&d, "x.b", "4");
	T_CHECK(strcmp(nl_meta_get(&c.x, "x.b"), "3") == 0); /* deep copy */
	nl_config_free(&d);
	nl_config_free(&c);
}

T_TEST(test_format)
{
	struct nl_config c;
	struct nl_err err = { 0 };
	char *text;
	size_t len;

	nl_config_init(&c);
	T_CHECK(nl_config_format(&c, &text, &len, &err) == 0);
	static const char want[] =
	    "preset = tiny\n"
	    "adaptive_q = 0\n"
	    "chunk_memory = 64\n"
	    "chunk_other = 8\n"
	    "cms.hidden = 256\n"
	    "cms.lr = 0.001\n"
	    "cms.optim = sgd\n"
	    "cms.periods = 8,64\n"
	    "cms.teach = 0\n"
	    "context = 128\n"
	    "d_model = 128\n"
	    "data.align = auto\n"
	    "delta.lambda = 0.5\n"
	    "delta.precond = none\n"
	    "dmgd.hidden = 16\n"
	    "eta_max = 0.2\n"
	    "eval.curve = none\n"
	    "eval.mode = window\n"
	    "heads = 4\n"
	    "init.std = 0.02\n"
	    "inner_momentum = 1\n"
	    "inner_step = prox-chunk+ema\n"
	    "layers = 2\n"
	    "m3.alpha = 1\n"
	    "m3.beta3 = 0.9\n"
	    "m3.period = 100\n"
	    "mem.w1_scale = 0\n"
	    "meta_grad = full\n"
	    "mlp.hidden = 608\n"
	    "model = transformer\n"
	    "norm_eps = 1e-6\n"
	    "optim = adamw\n"
	    "optim.beta1 = 0.9\n"
	    "optim.beta2 = 0.95\n"
	    "optim.clip = 1\n"
	    "optim.eps = 1e-8\n"
	    "optim.lr = 0.001\n"
	    "optim.lr_min = 0.0001\n"
	    "optim.momentum = 0.9\n"
	    "optim.ns_steps = 5\n"
	    "optim.schedule = cosine\n"
	    "optim.warmup = 100\n"
	    "optim.weight_decay = 0.1\n"
	    "projector = 1\n"
	    "reset = never\n"
	    "rope.base = 10000\n"
	    "train.batch = 16\n"
	    "train.eval_tokens = 0\n"
	    "train.every = 500\n"
	    "train.seed = 1\n"
	    "train.seq_len = 0\n"
	    "train.steps = 1000\n"
	    "train.valid_percent = 10\n"
	    "ttl = 1\n"
	    "vocab_size = 0\n";
	T_CHECK_MSG(len == sizeof want - 1 && strcmp(text, want) == 0, "%s", text);
	free(text);
	check_round_trip(&c);

	/* odd values: shortest forms, 17-digit ones, subnormals, extremes */
	check_set(&c, "optim.lr", "0.30000000000000004");
	check_set(&c, "optim.lr_min", "0.1");
	check_set(&c, "optim.eps", "4.9406564584124654e-324");
	check_set(&c, "norm_eps", "0.99999999999999989");
	check_set(&c, "optim.clip", "1e9");
	check_set(&c, "rope.base", "1.0000000000000002");
	check_set(&c, "init.std", "2.2250738585072014e-308");
	check_set(&c, "train.seed", "9223372036854775807");
	check_set(&c, "train.eval_tokens", "4611686018427387904");
	check_set(&c, "train.valid_percent", "33.333333333333336");
	check_set(&c, "optim.beta2", "0.123456789012345678");
	check_round_trip(&c);
	T_CHECK(nl_config_format(&c, &text, &len, &err) == 0);
	T_CHECK(strstr(text, "\noptim.lr = 0.30000000000000004\n") != NULL);
	T_CHECK(strstr(text, "\noptim.eps = 4.94065645841247e-324\n") != NULL);
	T_CHECK(strstr(text, "\noptim.clip = 1000000000\n") != NULL);
	T_CHECK(strstr(text, "\ntrain.seed = 9223372036854775807\n") != NULL);
	free(text);

	/* random doubles in every float key's range */
	for (int it = 0; it < 2000; it++) {
		double u = (double)(rng() >> 11) / 9007199254740992.0; /* [0, 1) */
		double v = ldexp(u, -(int)(rng() % 60));
		char buf[64];
		snprintf(buf, sizeof buf, "%.17g", v * 0.999 + 1e-300);
		check_set(&c, "optim.lr", buf);
		check_set(&c, "optim.beta1", buf);
		check_set(&c, "norm_eps", buf);
		snprintf(buf, sizeof buf, "%.17g", u * 10);
		check_set(&c, "optim.weight_decay", buf);
		snprintf(buf, sizeof buf, "%a", 1 + u * 1e6);
		check_set(&c, "rope.base", buf);
		snprintf(buf, sizeof buf, "%lld", (long long)(rng() >> 1));
		check_set(&c, "train.seed", buf);
		check_round_trip(&c);
		if (t_failed_now)
			break;
	}
	nl_config_free(&c);
}

T_TEST(test_check)
{
	static const struct {
		const char *text, *msg;
	} cases[] = {
		{ "d_model = 130\n", "d_model 130 is not a multiple of heads 4" },
		{ "d_model = 68\n", "head dimension 17 (d_model 68 / heads 4) must be even for rope" },
		{ "heads = 3\nd_model = 99\n",
		    "head dimension 33 (d_model 99 / heads 3) must be even for rope" },
		{ "train.seq_len = 129\n", "train.seq_len 129 exceeds context 128" },
		{ "optim.lr_min = 0.01\n", "optim.lr_min 0.01 exceeds optim.lr 0.001" },
	};
	struct nl_err err = { 0 };

	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		struct nl_config c;
		nl_config_init(&c);
		T_CHECK(nl_config_parse(&c, cases[i].text, strlen(cases[i].text), &err) == 0);
		T_CHECK_MSG(nl_config_check(&c, &err) == -1, "%s", cases[i].text);
		T_CHECK_MSG(strcmp(err.msg, cases[i].msg) == 0, "got '%s', want '%s'", err.msg,
		    cases[i].msg);
		T_CHECK(err.code == NL_ERANGE);
		nl_config_free(&c);
	}
	static const char *ok[] = {
		"train.seq_len = 128\n",
		"optim.lr_min = 0.001\n",
		"optim.warmup = 999\n",
		"optim.warmup = 0\ntrain.steps = 1\n",
		"d_model = 8\nheads = 4\n",
		"heads = 1\nd_model = 2\n",
	};
	for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
		struct nl_config c;
		nl_config_init(&c);
		T_CHECK(nl_config_parse(&c, ok[i], strlen(ok[i]), &err) == 0);
		T_CHECK_MSG(nl_config_check(&c, &err) == 0, "%s: %s", ok[i], err.msg);
		nl_config_free(&c);
	}
}

T_TEST(test_meta)
{
	struct nl_config c, d;
	struct nl_meta m;
	struct nl_err err = { 0 };
	size_t nkeys = 0;

	while (nl_config_key_at(nkeys) != NULL)
		nkeys++;
	nl_config_init(&c);
	check_set(&c, "preset", "small");
	check_set(&c, "layers", "3");
	check_set(&c, "optim.lr", "0.30000000000000004");
	check_set(&c, "x.run", "first");
	nl_meta_init(&m);
	T_CHECK(nl_meta_set(&m, "general.name", "other things are ignored", &err) == 0);
	T_CHECK_MSG(nl_config_to_meta(&c, &m, "nl.", &err) == 0, "%s", err.msg);
	T_CHECK(m.n == nkeys + 2);
	T_CHECK(strcmp(nl_meta_get(&m, "nl.optim.lr"), "0.30000000000000004") == 0);
	T_CHECK(strcmp(nl_meta_get(&m, "nl.preset"), "small") == 0);
	T_CHECK(strcmp(nl_meta_get(&m, "nl.x.run"), "first") == 0);
	nl_config_init(&d);
	T_CHECK_MSG(nl_config_from_meta(&d, &m, "nl.", &err) == 0, "%s", err.msg);
	T_CHECK(cfg_equal(&c, &d)); /* layers = 3 survives preset = small */
	nl_config_free(&d);

	/* unknown and invalid keys under the prefix are errors */
	T_CHECK(nl_meta_set(&m, "nl.optim.lrr", "1", &err) == 0);
	nl_config_init(&d);
	T_CHECK(nl_config_from_meta(&d, &m, "nl.", &err) == -1);
	T_CHECK_MSG(strcmp(err.msg, "metadata key 'nl.optim.lrr': unknown key 'optim.lrr'; "
	    "did you mean 'optim.lr'?") == 0, "%s", err.msg);
	nl_config_free(&d);
	nl_meta_free(&m);

	/* no prefix (safetensors __metadata__) */
	nl_meta_init(&m);
	T_CHECK(nl_config_to_meta(&c, &m, "", &err) == 0);
	T_CHECK(m.n == nkeys + 1 && nl_meta_get(&m, "optim.lr") != NULL);
	nl_config_init(&d);
	T_CHECK(nl_config_from_meta(&d, &m, "", &err) == 0 && cfg_equal(&c, &d));
	nl_config_free(&d);
	T_CHECK(nl_meta_set(&m, "d_model", "x", &err) == 0);
	nl_config_init(&d);
	T_CHECK(nl_config_from_meta(&d, &m, "", &err) == -1);
	T_CHECK_MSG(strcmp(err.msg, "metadata key 'd_model': invalid value for d_model: 'x' "
	    "(must be an integer in 2..65536)") == 0, "%s", err.msg);
	nl_config_free(&d);
	nl_meta_free(&m);
	nl_config_free(&c);
}

T_TEST(test_load)
{
	char path[] = "/tmp/nl-test-config.XXXXXX";
	struct nl_config c;
	struct nl_err err = { 0 };
	int fd = mkstemp(path);

	T_CHECK(fd >= 0);
	if (fd < 0)
		return;
	const char *text = "format = nl-checkpoint 1\npreset = base\ntrain.steps = 77\n";
	T_CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	close(fd);
	nl_config_init(&c);
	check_set(&c, "optim.lr", "0.5");
	T_CHECK_MSG(nl_config_load(&c, path, &err) == 0, "%s", err.msg);
	/* a file applies over the current values */
	T_CHECK(c.layers == 8 && c.train_steps == 77 && c.optim_lr == 0.5);
	T_CHECK(strcmp(c.preset, "base") == 0);

	/* too big */
	FILE *f = fopen(path, "w");
	T_CHECK(f != NULL);
	if (f != NULL) {
		for (int i = 0; i < (1 << 20) / 16; i++)
			fputs("# padding line \n", f);
		fclose(f);
	}
	T_CHECK_MSG(nl_config_load(&c, path, &err) == 0, "exactly 1 MiB: %s", err.msg);
	f = fopen(path, "a");
	if (f != NULL) {
		fputc('\n', f);
		fclose(f);
	}
	T_CHECK(nl_config_load(&c, path, &err) == -1);
	T_CHECK(err.code == NL_ERANGE &&
	    strcmp(err.msg, "configuration larger than 1 MiB") == 0);

	/* errors in the file carry the line */
	f = fopen(path, "w");
	if (f != NULL) {
		fputs("layers = 2\nlayers = 0\n", f);
		fclose(f);
	}
	T_CHECK(nl_config_load(&c, path, &err) == -1);
	T_CHECK(strcmp(err.msg,
	    "line 2: invalid value for layers: '0' (must be an integer in 1..1024)") == 0);
	unlink(path);
	T_CHECK(nl_config_load(&c, path, &err) == -1);
	T_CHECK(err.code == NL_EIO && strcmp(err.msg, "No such file or directory") == 0);
	T_CHECK(nl_config_load(&c, "/tmp", &err) == -1 && err.code == NL_EIO);
	nl_config_free(&c);
}

/* man/nl-config.5 has an item ".It Cm KEY" for every key whose text says "Default VALUE". */
T_TEST(test_man_keys)
{
	FILE *f = fopen("man/nl-config.5", "r");
	struct nl_config c;
	struct nl_err err = { 0 };
	char *man = NULL, *text = NULL;
	size_t len = 0, tlen;

	T_CHECK_MSG(f != NULL, "man/nl-config.5 (run from the top directory)");
	if (f == NULL)
		return;
	man = malloc(1 << 20);
	if (man != NULL)
		len = fread(man, 1, (1 << 20) - 1, f);
	fclose(f);
	if (man == NULL)
		return;
	man[len] = '\0';
	nl_config_init(&c);
	T_CHECK(nl_config_format(&c, &text, &tlen, &err) == 0);
	for (size_t i = 0; nl_config_key_at(i) != NULL; i++) {
		const char *key = nl_config_key_at(i);
		char item[300], line[300];
		snprintf(item, sizeof item, "\n.It Cm %s ", key);
		const char *at = strstr(man, item);
		T_CHECK_MSG(at != NULL, "no '.It Cm %s' item in man/nl-config.5", key);
		if (at == NULL)
			continue;
		/* the default as nl_config_format writes it */
		snprintf(line, sizeof line, "\n%s = ", key);
		const char *v = NULL;
		if (text != NULL && strncmp(text, line + 1, strlen(line + 1)) == 0)
			v = text - 1; /* the first line */
		else if (text != NULL)
			v = strstr(text, line);
		T_CHECK(v != NULL);
		if (v == NULL)
			continue;
		v += strlen(line);
		char want[300];
		int n = snprintf(want, sizeof want, "\nDefault %.*s", (int)strcspn(v, "\n"), v);
		const char *next = strstr(at + 1, "\n.It ");
		const char *d = strstr(at + 1, want);
		T_CHECK_MSG(d != NULL && (next == NULL || d < next) && strchr(".,; \n", d[n]),
		    "man/nl-config.5: item %s does not say '%s'", key, want + 1);
	}
	free(text);
	free(man);
	nl_config_free(&c);
}

int
main(void)
{
	T_RUN(test_defaults);
	T_RUN(test_schema);
	T_RUN(test_presets);
	T_RUN(test_set_errors);
	T_RUN(test_set_values);
	T_RUN(test_parse);
	T_RUN(test_set_arg);
	T_RUN(test_x_keys);
	T_RUN(test_format);
	T_RUN(test_check);
	T_RUN(test_meta);
	T_RUN(test_load);
	T_RUN(test_man_keys);
	return t_done();
}
