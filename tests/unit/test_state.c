/* nl — see LICENSE. Memory-state files (lib/state.c, MODEL §8.5): two streams of every
 * family cut anywhere — inside a teach window, inside a memory chunk — and fed in pieces
 * smaller than a teach window (MODEL §8.16: the base chunk changes nothing), with the
 * state saved and loaded in between, give the logits of one run of whole windows bit for
 * bit and the same final state file; a state refuses another architecture or stream
 * count. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "t.h"
#include "t_model.h"
#include "config.h"
#include "convert.h"
#include "layout.h"
#include "rng.h"
#include "state.h"
#include "tfile.h"
#include "transformer.h"

/* attention streams see the last SPAN keys from a cache of CAP rows, so they drop keys as
 * they go (and state files keep only what the cache holds) */
enum { B = 2, N = 40, V = 11, W = 4, SPAN = 6, CAP = SPAN + W };

static int
model_make(struct t_model *m, const char *family, const char *extra)
{
	return t_model_make(m, family, extra, V, B, W, 3);
}

/* Feed tokens [from, to) of both streams in pieces that stay inside teach windows, of
 * whole windows (whole) or of 1 to 3 tokens, learning, the logits of position j into
 * logits[(i·N + j)·V]. */
static int
feed(struct t_model *m, struct nl_tf_stream *s, const int32_t *ids, const int32_t *tg,
    int from, int to, int whole, float *logits)
{
	int32_t pi[B * W], pt[B * W];
	float out[B * W * V];
	for (int j = from, k = 0; j < to; k++) {
		int t = whole ? W : 1 + k % 3;
		if (t > W - (int)(s->pos % W))
			t = W - (int)(s->pos % W);
		if (t > to - j)
			t = to - j;
		for (int i = 0; i < B; i++)
			for (int r = 0; r < t; r++) {
				pi[i * t + r] = ids[i * N + j + r];
				pt[i * t + r] = tg[i * N + j + r];
			}
		if (isnan(nl_tf_forward_stream(&m->tf, m->p, s, pi, pt, t, out, 1)))
			return -1;
		for (int i = 0; i < B; i++)
			memcpy(logits + ((size_t)i * N + j) * V, out + (size_t)i * t * V,
			    (size_t)t * V * sizeof *out);
		j += t;
	}
	return 0;
}

static int
stream_make(struct t_model *m, struct nl_tf_stream *s)
{
	struct nl_err err = { 0 };
	if (nl_tf_stream_init(&m->tf, s, B, CAP, &err))
		return -1;
	s->span = SPAN;
	return 0;
}

/* The state of s as file bytes. */
static unsigned char *
state_bytes(struct t_model *m, struct nl_tf_stream *s, size_t *len)
{
	struct nl_io io;
	struct nl_err err = { 0 };
	nl_io_open_mem_write(&io);
	unsigned char *data = NULL;
	if (nl_state_write(&m->tf, &m->c, s, &io, &err) == 0 && nl_io_flush(&io, &err) == 0)
		data = nl_io_mem_take(&io, len);
	else
		printf("# write: %s\n", err.msg);
	nl_io_abort(&io);
	return data;
}

T_TEST(split_streams_equal_one)
{
	/* every family, and the levels stepping by other rules (their state in the file) */
	static const char *const families[][2] = { { "model=hope", NULL },
		{ "model=hope-attention", NULL }, { "model=titans", NULL }, { "model=selfmod", NULL },
		{ "model=transformer", NULL }, { "model=hope", "cms.optim=m3" },
		{ "model=hope-attention", "cms.optim=adamw" },
		{ "model=hope-attention", "cms.optim=muon" }, { "model=hope", "cms.optim=dgd" },
		{ "model=hope-attention", "cms.optim=dmgd" } };
	int32_t ids[B * N], tg[B * N];
	for (int i = 0; i < B * N; i++) {
		ids[i] = (i * 7 + 3) % V;
		tg[i] = i % 5 == 2 ? -1 : (i * 5 + 1) % V;
	}
	for (size_t f = 0; f < sizeof families / sizeof *families; f++) {
		struct t_model m;
		struct nl_tf_stream one, a, b;
		struct nl_err err = { 0 };
		static float whole[B * N * V], split[B * N * V];
		size_t len1 = 0, len2 = 0;
		if (model_make(&m, families[f][0], families[f][1]) || stream_make(&m, &one)) {
			T_CHECK(0);
			continue;
		}
		nl_tf_stream_reset(&m.tf, &one, m.p);
		T_CHECK(feed(&m, &one, ids, tg, 0, N, 1, whole) == 0);
		unsigned char *end1 = state_bytes(&m, &one, &len1);
		for (int cut = 1; cut < N; cut += 6) {
			struct nl_state st;
			size_t len;
			T_CHECK(stream_make(&m, &a) == 0 && stream_make(&m, &b) == 0);
			nl_tf_stream_reset(&m.tf, &a, m.p);
			memset(split, 0, sizeof split);
			T_CHECK(feed(&m, &a, ids, tg, 0, cut, 0, split) == 0);
			unsigned char *mid = state_bytes(&m, &a, &len);
			T_CHECK(mid && nl_state_from_bytes(&st, mid, len, &err) == 0);
			T_CHECK_MSG(nl_state_load(&st, &m.tf, &m.c, m.p, &b, &err) == 0, "%s", err.msg);
			T_CHECK(feed(&m, &b, ids, tg, cut, N, 0, split) == 0);
			unsigned char *end2 = state_bytes(&m, &b, &len2);
			T_CHECK_MSG(memcmp(whole, split, sizeof whole) == 0,
			    "%s %s cut at %d: logits differ", families[f][0], families[f][1], cut);
			T_CHECK_MSG(end1 && end2 && len1 == len2 && memcmp(end1, end2, len1) == 0,
			    "%s %s cut at %d: final states differ", families[f][0], families[f][1], cut);
			free(mid);
			free(end2);
			nl_state_free(&st);
			nl_tf_stream_free(&a);
			nl_tf_stream_free(&b);
		}
		free(end1);
		nl_tf_stream_free(&one);
		t_model_free(&m);
	}
}

/* The levels' rules on a learning stream: momentum with μ = 0 is sgd bit for bit; the
 * others are not (and stay finite). */
T_TEST(level_rules)
{
	static const char *const rules[] = { "cms.optim=sgd", "cms.optim=adamw", "cms.optim=muon",
		"cms.optim=m3", "cms.optim=m3-ema", "cms.optim=delta-momentum", "cms.optim=dgd",
		"cms.optim=dmgd" };
	static float base[B * N * V], out[B * N * V];
	int32_t ids[B * N], tg[B * N];
	for (int i = 0; i < B * N; i++)
		ids[i] = (i * 3 + 1) % V, tg[i] = (i * 7 + 2) % V;
	for (size_t r = 0; r <= sizeof rules / sizeof *rules; r++) {
		struct t_model m;
		struct nl_tf_stream s;
		const char *rule = r < sizeof rules / sizeof *rules ? rules[r] : "cms.optim=momentum";
		if (model_make(&m, "model=hope-attention", rule) || stream_make(&m, &s)) {
			T_CHECK(0);
			continue;
		}
		if (r == sizeof rules / sizeof *rules)
			m.tf.rule.mu = 0;       /* optim.momentum = 0 */
		nl_tf_stream_reset(&m.tf, &s, m.p);
		T_CHECK(feed(&m, &s, ids, tg, 0, N, 1, r ? out : base) == 0);
		if (r == sizeof rules / sizeof *rules)
			T_CHECK_MSG(memcmp(base, out, sizeof out) == 0, "momentum 0 is not sgd");
		else if (r > 0) {
			int finite = 1;
			for (size_t e = 0; e < sizeof out / sizeof *out; e++)
				finite &= isfinite(out[e]) != 0;
			T_CHECK_MSG(finite && memcmp(base, out, sizeof out) != 0, "%s", rule);
		}
		nl_tf_stream_free(&s);
		t_model_free(&m);
	}
}

T_TEST(state_refuses_others)
{
	struct t_model m, wide, mlp;
	struct nl_tf_stream s, t;
	struct nl_state st;
	struct nl_err err = { 0 };
	size_t len;
	if (model_make(&m, "model=hope", NULL) || model_make(&wide, "model=hope", "d_model=24") ||
	    model_make(&mlp, "model=hope", "mlp.hidden=40")) {
		T_CHECK(0);
		return;
	}
	T_CHECK(nl_tf_stream_init(&m.tf, &s, B, N, &err) == 0);
	nl_tf_stream_reset(&m.tf, &s, m.p);
	int32_t ids[B * 3] = { 1, 2, 3, 4, 5, 6 };
	T_CHECK(!isnan(nl_tf_forward_stream(&m.tf, m.p, &s, ids, ids, 3, NULL, 1)));
	unsigned char *data = state_bytes(&m, &s, &len);
	T_CHECK(data && nl_state_from_bytes(&st, data, len, &err) == 0);
	T_CHECK(st.tokens_seen == 3 && st.streams == B && s.nwin == 3);
	/* another width: named */
	T_CHECK(nl_tf_stream_init(&wide.tf, &t, B, N, &err) == 0);
	T_CHECK(nl_state_load(&st, &wide.tf, &wide.c, wide.p, &t, &err) != 0);
	T_CHECK_MSG(strstr(err.msg, "d_model = 16") && strstr(err.msg, "d_model = 24"), "%s",
	    err.msg);
	nl_tf_stream_free(&t);
	/* levels of another rule: named */
	struct t_model adam;
	T_CHECK(model_make(&adam, "model=hope", "cms.optim=adamw") == 0);
	T_CHECK(nl_tf_stream_init(&adam.tf, &t, B, N, &err) == 0);
	T_CHECK(nl_state_load(&st, &adam.tf, &adam.c, adam.p, &t, &err) != 0);
	T_CHECK_MSG(strstr(err.msg, "cms.optim = sgd") && strstr(err.msg, "cms.optim = adamw"),
	    "%s", err.msg);
	nl_tf_stream_free(&t);
	t_model_free(&adam);
	/* a file from before cms.optim, delta.precond and dmgd.hidden joined its HEAD: sgd
	 * levels */
	{
		struct nl_tset ts;
		struct nl_io in, out;
		struct nl_meta keep;
		enum nl_format fmt;
		size_t olen = 0;
		unsigned char *old = NULL;
		nl_tset_init(&ts);
		nl_meta_init(&keep);
		nl_io_open_mem_read(&in, data, len);
		T_CHECK(nl_convert_load(&in, "state", &ts, &fmt, &err) == 0);
		for (size_t k = 0; k < ts.meta.n; k++)
			if (strcmp(ts.meta.keys[k], "config.cms.optim") &&
			    strcmp(ts.meta.keys[k], "config.delta.precond") &&
			    strcmp(ts.meta.keys[k], "config.dmgd.hidden"))
				T_CHECK(nl_meta_set(&keep, ts.meta.keys[k], ts.meta.vals[k], &err) == 0);
		nl_meta_free(&ts.meta);
		ts.meta = keep;
		nl_io_open_mem_write(&out);
		if (nl_tfile_write_tset(&out, &ts, 1, &err) == 0 && nl_io_flush(&out, &err) == 0)
			old = nl_io_mem_take(&out, &olen);
		nl_io_abort(&out);
		struct nl_state ost;
		T_CHECK(old && nl_state_from_bytes(&ost, old, olen, &err) == 0);
		T_CHECK(nl_tf_stream_init(&m.tf, &t, B, N, &err) == 0);
		T_CHECK_MSG(nl_state_load(&ost, &m.tf, &m.c, m.p, &t, &err) == 0, "%s", err.msg);
		nl_tf_stream_free(&t);
		nl_state_free(&ost);
		free(old);
		nl_tset_free(&ts);
	}
	/* a key hope does not use: the same state */
	T_CHECK(nl_tf_stream_init(&mlp.tf, &t, B, N, &err) == 0);
	T_CHECK_MSG(nl_state_load(&st, &mlp.tf, &mlp.c, m.p, &t, &err) == 0, "%s", err.msg);
	nl_tf_stream_free(&t);
	/* one stream where the file has two */
	T_CHECK(nl_tf_stream_init(&m.tf, &t, 1, N, &err) == 0);
	T_CHECK(nl_state_load(&st, &m.tf, &m.c, m.p, &t, &err) != 0 &&
	    strstr(err.msg, "2 streams") != NULL);
	nl_tf_stream_free(&t);
	/* token ids out of the vocabulary (a file written by hand) */
	for (int which = 0; which < 2; which++) {
		int32_t saved = which ? s.next[1] : s.win[W + 1];
		if (which)
			s.next[1] = V + 5;
		else
			s.win[W + 1] = -7;
		size_t blen;
		struct nl_state bad;
		unsigned char *b = state_bytes(&m, &s, &blen);
		T_CHECK(b && nl_state_from_bytes(&bad, b, blen, &err) == 0);
		T_CHECK(nl_tf_stream_init(&m.tf, &t, B, N, &err) == 0);
		T_CHECK(nl_state_load(&bad, &m.tf, &m.c, m.p, &t, &err) != 0);
		T_CHECK_MSG(strstr(err.msg, "out of the vocabulary") != NULL, "%s", err.msg);
		nl_tf_stream_free(&t);
		nl_state_free(&bad);
		free(b);
		if (which)
			s.next[1] = saved;
		else
			s.win[W + 1] = saved;
	}
	/* a flipped byte: the CRC catches it */
	data[len / 2] ^= 1;
	struct nl_state bad;
	if (nl_state_from_bytes(&bad, data, len, &err) == 0) {
		T_CHECK(nl_tf_stream_init(&m.tf, &t, B, N, &err) == 0);
		T_CHECK(nl_state_load(&bad, &m.tf, &m.c, m.p, &t, &err) != 0);
		nl_tf_stream_free(&t);
		nl_state_free(&bad);
	}
	printf("# flipped byte: %s\n", err.msg);
	nl_state_free(&st);
	free(data);
	nl_tf_stream_free(&s);
	t_model_free(&m);
	t_model_free(&wide);
	t_model_free(&mlp);
}

int
main(void)
{
	t_run(split_streams_equal_one, "a stream cut anywhere, state saved and loaded = one run");
	t_run(state_refuses_others, "another architecture or stream count is refused");
	t_run(level_rules, "the levels' rules: momentum 0 is sgd, the others step otherwise");
	return t_done();
}
