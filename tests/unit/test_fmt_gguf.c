/* nl — see LICENSE. GGUF reader and writer: round trips, canonical bytes, KV rendering and
 * a corruption matrix of handcrafted files (every prefix of a valid file included). */
#include <stdint.h>
#include <string.h>

#include "formats.h"
#include "t.h"

/* ---- a byte builder for handcrafted files ---- */

static void
b_u8(struct t_buf *b, unsigned v)
{
	unsigned char c = (unsigned char)v;
	t_buf_add(b, &c, 1);
}

static void
b_u32(struct t_buf *b, uint32_t v)
{
	unsigned char c[4];
	nl_put32(c, v);
	t_buf_add(b, c, 4);
}

static void
b_u64(struct t_buf *b, uint64_t v)
{
	unsigned char c[8];
	nl_put64(c, v);
	t_buf_add(b, c, 8);
}

static void
b_str(struct t_buf *b, const char *s)
{
	b_u64(b, strlen(s));
	t_buf_add(b, s, strlen(s));
}

static void
b_pad(struct t_buf *b, size_t align)
{
	while (b->n % align != 0)
		b_u8(b, 0);
}

static void
b_head(struct t_buf *b, uint32_t version, uint64_t n_tensors, uint64_t n_kv)
{
	t_buf_add(b, "GGUF", 4);
	b_u32(b, version);
	b_u64(b, n_tensors);
	b_u64(b, n_kv);
}

/* A tensor info with dims given in GGUF order (innermost first). */
static void
b_tinfo(struct t_buf *b, const char *name, uint32_t n_dims, const uint64_t *ne, uint32_t type,
    uint64_t offset)
{
	b_str(b, name);
	b_u32(b, n_dims);
	for (uint32_t i = 0; i < n_dims; i++)
		b_u64(b, ne[i]);
	b_u32(b, type);
	b_u64(b, offset);
}

/* ---- helpers ---- */

static int
read_bytes(const void *p, size_t n, struct nl_tset *ts, struct nl_err *err)
{
	struct nl_io in;

	nl_io_open_mem_read(&in, p, n);
	int rc = nl_fmt_gguf_read(&in, ts, err);
	nl_io_close(&in, NULL);
	return rc;
}

static unsigned char *
write_set(const struct nl_tset *ts, size_t *n, struct nl_err *err)
{
	struct nl_io out;

	nl_io_open_mem_write(&out);
	if (nl_fmt_gguf_write(&out, ts, err) < 0) {
		nl_io_abort(&out);
		return NULL;
	}
	unsigned char *p = nl_io_mem_take(&out, n);
	nl_io_close(&out, NULL);
	return p;
}

/* Expect reading p to fail with code and a message containing want. */
static void
expect_fail(const struct t_buf *b, int code, const char *want, int line)
{
	struct nl_tset ts;
	struct nl_err err = { 0 };

	nl_tset_init(&ts);
	int rc = read_bytes(b->p, b->n, &ts, &err);
	T_CHECK_MSG(rc < 0, "line %d: read succeeded, wanted '%s'", line, want);
	if (rc < 0) {
		T_CHECK_MSG(err.code == code, "line %d: code %d, wanted %d (%s)", line, err.code, code,
		    err.msg);
		T_CHECK_MSG(strstr(err.msg, want) != NULL, "line %d: message '%s', wanted '%s'", line,
		    err.msg, want);
		T_CHECK(ts.n == 0);
	}
	nl_tset_free(&ts);
}
#define EXPECT_FAIL(b, code, want) expect_fail(b, code, want, __LINE__)

static void
fill(struct nl_tensor *t, unsigned seed)
{
	unsigned char *p = t->data;
	for (size_t i = 0; i < t->nbytes; i++)
		p[i] = (unsigned char)(i * 37 + seed * 101 + (i >> 8));
}

static struct nl_tensor *
add(struct nl_tset *ts, const char *name, enum nl_dtype dtype, int rank, const uint64_t *dims)
{
	struct nl_tinfo ti;
	struct nl_err err;

	memset(&ti, 0, sizeof ti);
	snprintf(ti.name, sizeof ti.name, "%s", name);
	ti.dtype = dtype;
	ti.rank = rank;
	for (int i = 0; i < rank; i++)
		ti.dims[i] = dims[i];
	struct nl_tensor *t = nl_tset_add(ts, &ti, &err);
	if (t == NULL) {
		printf("# add %s: %s\n", name, err.msg);
		abort();
	}
	fill(t, (unsigned)ts->n);
	return t;
}

/* Several dtypes, ranks 0..8, an empty tensor, odd sizes that need padding, metadata. */
static void
make_set(struct nl_tset *ts)
{
	static const uint64_t d[8] = { 2, 3, 1, 2, 1, 3, 1, 2 };
	static const enum nl_dtype types[] = { NL_DTYPE_F32, NL_DTYPE_F16, NL_DTYPE_BF16,
		NL_DTYPE_I8, NL_DTYPE_I16, NL_DTYPE_I32, NL_DTYPE_I64, NL_DTYPE_F64 };
	struct nl_err err;
	char name[32];

	nl_tset_init(ts);
	add(ts, "scalar", NL_DTYPE_F32, 0, d);
	for (int r = 1; r <= 8; r++) {
		snprintf(name, sizeof name, "layers.%d.w", r);
		add(ts, name, types[r - 1], r, d);
	}
	add(ts, "empty", NL_DTYPE_F32, 2, (const uint64_t[]){ 0, 5 });
	add(ts, "big", NL_DTYPE_I8, 2, (const uint64_t[]){ 7, 13 });
	T_CHECK(nl_meta_set(&ts->meta, "general.name", "tiny test", &err) == 0);
	T_CHECK(nl_meta_set(&ts->meta, "kind", "params", &err) == 0);
	T_CHECK(nl_meta_set(&ts->meta, "cms.periods", "16, 128, 1024", &err) == 0);
	T_CHECK(nl_meta_set(&ts->meta, "x.empty", "", &err) == 0);
	T_CHECK(nl_meta_set(&ts->meta, "x.utf8", "caf\xc3\xa9 \xe2\x88\x82", &err) == 0);
}

static int
same_set(const struct nl_tset *a, const struct nl_tset *b)
{
	if (a->n != b->n || a->meta.n != b->meta.n)
		return 0;
	for (size_t i = 0; i < a->meta.n; i++)
		if (strcmp(a->meta.keys[i], b->meta.keys[i]) != 0 ||
		    strcmp(a->meta.vals[i], b->meta.vals[i]) != 0)
			return 0;
	for (size_t i = 0; i < a->n; i++) {
		const struct nl_tensor *x = &a->t[i], *y = &b->t[i];
		if (strcmp(x->info.name, y->info.name) != 0 || x->info.dtype != y->info.dtype ||
		    x->info.rank != y->info.rank || x->nbytes != y->nbytes ||
		    memcmp(x->info.dims, y->info.dims, sizeof x->info.dims) != 0 ||
		    (x->nbytes && memcmp(x->data, y->data, x->nbytes) != 0))
			return 0;
	}
	return 1;
}

/* ---- tests ---- */

T_TEST(test_round_trip)
{
	struct nl_tset a, b;
	struct nl_err err = { 0 };
	size_t n1 = 0, n2 = 0;

	make_set(&a);
	unsigned char *p1 = write_set(&a, &n1, &err);
	T_CHECK_MSG(p1 != NULL, "%s", err.msg);
	nl_tset_init(&b);
	if (p1 != NULL) {
		int rc = read_bytes(p1, n1, &b, &err);
		T_CHECK_MSG(rc == 0, "%s", err.msg);
		T_CHECK(same_set(&a, &b));
		unsigned char *p2 = write_set(&b, &n2, &err);
		T_CHECK(p2 != NULL && n1 == n2 && memcmp(p1, p2, n1) == 0);
		free(p2);
	}
	free(p1);
	nl_tset_free(&a);
	nl_tset_free(&b);
}

/* The bytes follow the spec field by field. */
T_TEST(test_layout)
{
	struct nl_tset ts;
	struct nl_err err = { 0 };
	struct t_buf want = { 0 };
	size_t n = 0;

	nl_tset_init(&ts);
	struct nl_tensor *w = add(&ts, "w", NL_DTYPE_F32, 2, (const uint64_t[]){ 2, 3 });
	struct nl_tensor *s = add(&ts, "s", NL_DTYPE_I16, 0, NULL);
	struct nl_tensor *e = add(&ts, "e", NL_DTYPE_BF16, 1, (const uint64_t[]){ 0 });
	struct nl_tensor *v = add(&ts, "v", NL_DTYPE_I64, 1, (const uint64_t[]){ 5 });
	T_CHECK(nl_meta_set(&ts.meta, "b.key", "two", &err) == 0);
	T_CHECK(nl_meta_set(&ts.meta, "a", "one", &err) == 0);

	b_head(&want, 3, 4, 2);
	b_str(&want, "a");
	b_u32(&want, 8);
	b_str(&want, "one");
	b_str(&want, "b.key");
	b_u32(&want, 8);
	b_str(&want, "two");
	b_tinfo(&want, "w", 2, (const uint64_t[]){ 3, 2 }, 0, 0);
	b_tinfo(&want, "s", 0, NULL, 25, 32);
	b_tinfo(&want, "e", 1, (const uint64_t[]){ 0 }, 30, 64);
	b_tinfo(&want, "v", 1, (const uint64_t[]){ 5 }, 27, 64);
	b_pad(&want, 32);
	t_buf_add(&want, w->data, 24);
	b_pad(&want, 32);
	t_buf_add(&want, s->data, 2);
	b_pad(&want, 32);
	(void)e;
	t_buf_add(&want, v->data, 40);
	b_pad(&want, 32);

	unsigned char *p = write_set(&ts, &n, &err);
	T_CHECK_MSG(p != NULL, "%s", err.msg);
	T_CHECK_MSG(p != NULL && n == want.n && memcmp(p, want.p, n) == 0, "%zu vs %zu bytes", n,
	    want.n);
	free(p);
	free(want.p);
	nl_tset_free(&ts);
}

T_TEST(test_unsupported_dtypes)
{
	static const enum nl_dtype bad[] = { NL_DTYPE_U8, NL_DTYPE_U16, NL_DTYPE_U32, NL_DTYPE_U64,
		NL_DTYPE_BOOL };
	char want[64];

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct nl_tset ts;
		struct nl_err err = { 0 };
		size_t n;

		nl_tset_init(&ts);
		add(&ts, "ok", NL_DTYPE_F32, 1, (const uint64_t[]){ 2 });
		add(&ts, "x", bad[i], 1, (const uint64_t[]){ 3 });
		struct nl_io out;
		nl_io_open_mem_write(&out);
		int rc = nl_fmt_gguf_write(&out, &ts, &err);
		T_CHECK(rc < 0 && err.code == NL_EUNSUPPORTED);
		snprintf(want, sizeof want, "tensor 'x': dtype %s has no GGUF type",
		    nl_dtype_name(bad[i]));
		T_CHECK_MSG(strcmp(err.msg, want) == 0, "'%s'", err.msg);
		/* checked before anything is written */
		unsigned char *p = nl_io_mem_take(&out, &n);
		T_CHECK(n == 0);
		free(p);
		nl_io_close(&out, NULL);
		nl_tset_free(&ts);
	}
}

T_TEST(test_reserved_alignment_key)
{
	struct nl_tset ts;
	struct nl_err err = { 0 };
	size_t n;

	nl_tset_init(&ts);
	T_CHECK(nl_meta_set(&ts.meta, "general.alignment", "64", &err) == 0);
	unsigned char *p = write_set(&ts, &n, &err);
	T_CHECK(p == NULL && err.code == NL_EUNSUPPORTED &&
	    strstr(err.msg, "general.alignment") != NULL);
	free(p);
	nl_tset_free(&ts);
}

/* A minimal valid file: one F32 tensor of 8 elements (32 bytes, so no trailing padding). */
static void
valid_small(struct t_buf *b, uint32_t version)
{
	b_head(b, version, 1, 1);
	b_str(b, "k");
	b_u32(b, 8);
	b_str(b, "v");
	b_tinfo(b, "t", 2, (const uint64_t[]){ 4, 2 }, 0, 0);
	b_pad(b, 32);
	for (int i = 0; i < 8; i++) {
		float f = (float)i + 0.5f;
		t_buf_add(b, &f, 4);
	}
}

T_TEST(test_read_handcrafted)
{
	struct t_buf b = { 0 };
	struct nl_tset ts;
	struct nl_err err = { 0 };

	for (uint32_t v = 2; v <= 3; v++) {
		b.n = 0;
		valid_small(&b, v);
		nl_tset_init(&ts);
		T_CHECK_MSG(read_bytes(b.p, b.n, &ts, &err) == 0, "v%u: %s", v, err.msg);
		T_CHECK(ts.n == 1 && ts.t[0].info.rank == 2 && ts.t[0].info.dims[0] == 2 &&
		    ts.t[0].info.dims[1] == 4 && ts.t[0].info.dtype == NL_DTYPE_F32);
		T_CHECK(ts.n == 1 && ((float *)ts.t[0].data)[7] == 7.5f);
		T_CHECK(ts.meta.n == 1 && strcmp(nl_meta_get(&ts.meta, "k"), "v") == 0);
		nl_tset_free(&ts);
	}
	/* the reader appends to a set and leaves it untouched on failure */
	nl_tset_init(&ts);
	add(&ts, "t", NL_DTYPE_F32, 1, (const uint64_t[]){ 1 });
	T_CHECK(read_bytes(b.p, b.n, &ts, &err) < 0 && strstr(err.msg, "duplicate") != NULL);
	T_CHECK(ts.n == 1 && ts.meta.n == 0);
	nl_tset_free(&ts);
	free(b.p);
}

/* A forward-only source that hands out a few bytes at a time, like a pipe. */
struct trickle {
	const unsigned char *p;
	size_t n, pos;
};

static ptrdiff_t
trickle_read(void *ctx, void *buf, size_t n, struct nl_err *err)
{
	struct trickle *t = ctx;
	size_t k = t->n - t->pos;

	(void)err;
	if (k > n)
		k = n;
	if (k > 7)
		k = 7;
	memcpy(buf, t->p + t->pos, k);
	t->pos += k;
	return (ptrdiff_t)k;
}

T_TEST(test_pipe)
{
	static const struct nl_io_ops ops = { trickle_read, NULL, NULL };
	struct nl_tset a, b;
	struct nl_err err = { 0 };
	struct nl_io in;
	size_t n = 0;

	make_set(&a);
	unsigned char *p = write_set(&a, &n, &err);
	struct trickle t = { p, n, 0 };
	nl_tset_init(&b);
	nl_io_open_custom(&in, &ops, &t, "(pipe)", 0);
	T_CHECK_MSG(nl_fmt_gguf_read(&in, &b, &err) == 0, "%s", err.msg);
	nl_io_close(&in, NULL);
	T_CHECK(same_set(&a, &b));
	free(p);
	nl_tset_free(&a);
	nl_tset_free(&b);
}

T_TEST(test_every_prefix)
{
	struct t_buf b = { 0 };
	struct nl_tset ts;
	struct nl_err err;

	valid_small(&b, 3);
	for (size_t n = 0; n < b.n; n++) {
		nl_tset_init(&ts);
		err.code = 0;
		int rc = read_bytes(b.p, n, &ts, &err);
		T_CHECK_MSG(rc < 0 && err.code == NL_EFORMAT &&
		    strcmp(err.msg, "unexpected end of file") == 0, "prefix %zu: rc %d '%s'", n, rc,
		    rc < 0 ? err.msg : "");
		T_CHECK(ts.n == 0);
		nl_tset_free(&ts);
	}
	/* the writer's own output, with its optional trailing padding removed */
	struct nl_tset a;
	size_t len = 0;
	make_set(&a);
	unsigned char *p = write_set(&a, &len, &err);
	size_t cut = 0;
	for (size_t n = 0; n + 31 < len; n++) {
		nl_tset_init(&ts);
		if (read_bytes(p, n, &ts, &err) == 0)
			cut++;
		nl_tset_free(&ts);
	}
	T_CHECK_MSG(cut == 0, "%zu short prefixes accepted", cut);
	free(p);
	nl_tset_free(&a);
	free(b.p);
}

/* Padding after the last tensor is optional: ggml and gguf-py write it, the spec does not
 * require it. */
T_TEST(test_trailing_padding_optional)
{
	struct t_buf b = { 0 };
	struct nl_tset ts;
	struct nl_err err = { 0 };

	b_head(&b, 3, 1, 0);
	b_tinfo(&b, "t", 1, (const uint64_t[]){ 3 }, 24, 0);
	b_pad(&b, 32);
	t_buf_add(&b, "abc", 3);
	nl_tset_init(&ts);
	T_CHECK_MSG(read_bytes(b.p, b.n, &ts, &err) == 0, "%s", err.msg);
	T_CHECK(ts.n == 1 && ts.t[0].info.dtype == NL_DTYPE_I8 && memcmp(ts.t[0].data, "abc", 3) == 0);
	nl_tset_free(&ts);
	free(b.p);
}

T_TEST(test_corrupt)
{
	struct t_buf b = { 0 };

	b.n = 0;
	valid_small(&b, 3);
	b.p[1] = 'X';
	EXPECT_FAIL(&b, NL_EFORMAT, "bad GGUF magic");

	b.n = 0;
	valid_small(&b, 1);
	EXPECT_FAIL(&b, NL_EUNSUPPORTED, "GGUF version 1 is not supported");
	b.n = 0;
	valid_small(&b, 4);
	EXPECT_FAIL(&b, NL_EUNSUPPORTED, "GGUF version 4 is not supported");
	b.n = 0;
	valid_small(&b, 0x03000000);
	EXPECT_FAIL(&b, NL_EUNSUPPORTED, "big-endian");

	b.n = 0;
	b_head(&b, 3, UINT64_C(1) << 40, 0);
	EXPECT_FAIL(&b, NL_ERANGE, "tensor count");
	b.n = 0;
	b_head(&b, 3, 0, UINT64_MAX);
	EXPECT_FAIL(&b, NL_ERANGE, "key count");
	/* a huge but capped count meets the end of the input without allocating for it */
	b.n = 0;
	b_head(&b, 3, UINT64_C(1) << 20, UINT64_C(1) << 20);
	EXPECT_FAIL(&b, NL_EFORMAT, "unexpected end of file");

	b.n = 0;
	b_head(&b, 3, 0, 1);
	b_u64(&b, UINT64_C(1) << 62);
	EXPECT_FAIL(&b, NL_ERANGE, "GGUF key of");
	b.n = 0;
	b_head(&b, 3, 0, 1);
	b_str(&b, "s");
	b_u32(&b, 8);
	b_u64(&b, UINT64_MAX);
	EXPECT_FAIL(&b, NL_ERANGE, "key 's': GGUF string of");
	b.n = 0;
	b_head(&b, 3, 0, 1);
	b_str(&b, "a");
	b_u32(&b, 9);
	b_u32(&b, 4);
	b_u64(&b, UINT64_C(1) << 60);
	EXPECT_FAIL(&b, NL_ERANGE, "key 'a': GGUF array of");
	b.n = 0;
	b_head(&b, 3, 0, 1);
	b_str(&b, "a");
	b_u32(&b, 13);
	EXPECT_FAIL(&b, NL_EFORMAT, "key 'a': unknown GGUF value type 13");
	b.n = 0;
	b_head(&b, 3, 0, 1);
	b_str(&b, "a");
	b_u32(&b, 9);
	b_u32(&b, 99);
	b_u64(&b, 1);
	EXPECT_FAIL(&b, NL_EFORMAT, "unknown GGUF value type 99");
	b.n = 0;
	b_head(&b, 3, 0, 1);
	b_str(&b, "flag");
	b_u32(&b, 7);
	b_u8(&b, 2);
	EXPECT_FAIL(&b, NL_EFORMAT, "key 'flag': bad GGUF bool value 2");
	b.n = 0;
	b_head(&b, 3, 0, 1);
	b_u64(&b, 3);
	t_buf_add(&b, "a\0b", 3);
	b_u32(&b, 4);
	b_u32(&b, 1);
	EXPECT_FAIL(&b, NL_EFORMAT, "NUL");
	b.n = 0;
	b_head(&b, 3, 0, 2);
	b_str(&b, "k");
	b_u32(&b, 4);
	b_u32(&b, 1);
	b_str(&b, "k");
	b_u32(&b, 8);
	b_str(&b, "x");
	EXPECT_FAIL(&b, NL_EFORMAT, "duplicate GGUF key 'k'");
	/* nested arrays deeper than the cap */
	b.n = 0;
	b_head(&b, 3, 0, 1);
	b_str(&b, "n");
	b_u32(&b, 9);
	for (int i = 0; i < 6; i++) {
		b_u32(&b, 9);
		b_u64(&b, 1);
	}
	EXPECT_FAIL(&b, NL_ERANGE, "nested too deeply");

	/* tensor infos */
	b.n = 0;
	b_head(&b, 3, 1, 0);
	b_tinfo(&b, "w", 9, (const uint64_t[]){ 1, 1, 1, 1, 1, 1, 1, 1, 1 }, 0, 0);
	EXPECT_FAIL(&b, NL_EFORMAT, "tensor 'w': rank 9 exceeds 8");
	b.n = 0;
	b_head(&b, 3, 1, 0);
	b_tinfo(&b, "q", 2, (const uint64_t[]){ 32, 2 }, 2, 0);
	EXPECT_FAIL(&b, NL_EUNSUPPORTED, "tensor 'q': GGUF type Q4_0 (2) is not supported");
	b.n = 0;
	b_head(&b, 3, 1, 0);
	b_tinfo(&b, "q", 1, (const uint64_t[]){ 256 }, 12, 0);
	EXPECT_FAIL(&b, NL_EUNSUPPORTED, "GGUF type Q4_K (12)");
	b.n = 0;
	b_head(&b, 3, 1, 0);
	b_tinfo(&b, "q", 1, (const uint64_t[]){ 1 }, 999, 0);
	EXPECT_FAIL(&b, NL_EUNSUPPORTED, "tensor 'q': unknown GGUF type 999");
	b.n = 0;
	b_head(&b, 3, 1, 0);
	b_tinfo(&b, "o", 3, (const uint64_t[]){ UINT64_C(1) << 30, UINT64_C(1) << 30, 1 << 20 }, 0, 0);
	EXPECT_FAIL(&b, NL_ERANGE, "tensor 'o'");
	b.n = 0;
	b_head(&b, 3, 1, 0);
	b_tinfo(&b, "o", 2, (const uint64_t[]){ 0, UINT64_MAX }, 0, 0);
	EXPECT_FAIL(&b, NL_ERANGE, "tensor 'o': dimension");
	b.n = 0;
	b_head(&b, 3, 1, 0);
	b_u64(&b, 0);
	EXPECT_FAIL(&b, NL_EFORMAT, "name of 0 bytes");
	b.n = 0;
	b_head(&b, 3, 1, 0);
	b_u64(&b, 1000);
	EXPECT_FAIL(&b, NL_EFORMAT, "name of 1000 bytes");
	b.n = 0;
	b_head(&b, 3, 1, 0);
	b_tinfo(&b, "bad\x01name", 1, (const uint64_t[]){ 1 }, 0, 0);
	EXPECT_FAIL(&b, NL_EFORMAT, "invalid name 'bad?name'");

	b.n = 0;
	b_head(&b, 3, 2, 0);
	b_tinfo(&b, "d", 1, (const uint64_t[]){ 8 }, 0, 0);
	b_tinfo(&b, "d", 1, (const uint64_t[]){ 8 }, 0, 32);
	b_pad(&b, 32);
	t_buf_add(&b, (unsigned char[64]){ 0 }, 64);
	EXPECT_FAIL(&b, NL_EFORMAT, "duplicate tensor name 'd'");

	b.n = 0;
	b_head(&b, 3, 1, 0);
	b_tinfo(&b, "m", 1, (const uint64_t[]){ 1 }, 0, 4);
	b_pad(&b, 32);
	t_buf_add(&b, (unsigned char[64]){ 0 }, 64);
	EXPECT_FAIL(&b, NL_EFORMAT, "tensor 'm': offset 4 is not a multiple of the alignment 32");

	b.n = 0;
	b_head(&b, 3, 1, 0);
	b_tinfo(&b, "f", 1, (const uint64_t[]){ 8 }, 0, 64);
	b_pad(&b, 32);
	t_buf_add(&b, (unsigned char[64]){ 0 }, 64);
	EXPECT_FAIL(&b, NL_EFORMAT, "unexpected end of file");
	b.n = 0;
	b_head(&b, 3, 1, 0);
	b_tinfo(&b, "f", 1, (const uint64_t[]){ 8 }, 0, UINT64_MAX - 31);
	b_pad(&b, 32);
	EXPECT_FAIL(&b, NL_ERANGE, "tensor 'f': offset");

	b.n = 0;
	b_head(&b, 3, 2, 0);
	b_tinfo(&b, "a", 1, (const uint64_t[]){ 16 }, 0, 0);
	b_tinfo(&b, "b", 1, (const uint64_t[]){ 8 }, 0, 32);
	b_pad(&b, 32);
	t_buf_add(&b, (unsigned char[128]){ 0 }, 128);
	EXPECT_FAIL(&b, NL_EFORMAT, "overlapping tensors 'a' and 'b'");

	/* general.alignment: wrong type, not a power of two */
	b.n = 0;
	b_head(&b, 3, 0, 1);
	b_str(&b, "general.alignment");
	b_u32(&b, 8);
	b_str(&b, "64");
	EXPECT_FAIL(&b, NL_EFORMAT, "general.alignment is not a u32");
	b.n = 0;
	b_head(&b, 3, 0, 1);
	b_str(&b, "general.alignment");
	b_u32(&b, 4);
	b_u32(&b, 48);
	EXPECT_FAIL(&b, NL_EFORMAT, "general.alignment 48 is not a power of two");
	free(b.p);
}

/* general.alignment is honoured (offsets and the data start) and consumed. */
T_TEST(test_alignment_kv)
{
	struct t_buf b = { 0 };
	struct nl_tset ts;
	struct nl_err err = { 0 };

	b_head(&b, 3, 2, 2);
	b_str(&b, "general.alignment");
	b_u32(&b, 4);
	b_u32(&b, 128);
	b_str(&b, "general.name");
	b_u32(&b, 8);
	b_str(&b, "x");
	/* file order differs from data order: the set follows the data */
	b_tinfo(&b, "second", 1, (const uint64_t[]){ 2 }, 26, 128);
	b_tinfo(&b, "first", 1, (const uint64_t[]){ 3 }, 26, 0);
	b_pad(&b, 128);
	b_u32(&b, 1);
	b_u32(&b, 2);
	b_u32(&b, 3);
	b_pad(&b, 128);
	b_u32(&b, 0xfffffffe);
	b_u32(&b, 5);
	nl_tset_init(&ts);
	T_CHECK_MSG(read_bytes(b.p, b.n, &ts, &err) == 0, "%s", err.msg);
	T_CHECK(ts.n == 2 && strcmp(ts.t[0].info.name, "first") == 0 &&
	    strcmp(ts.t[1].info.name, "second") == 0);
	if (ts.n == 2) {
		const int32_t *x = ts.t[0].data, *y = ts.t[1].data;
		T_CHECK(x[0] == 1 && x[1] == 2 && x[2] == 3 && y[0] == -2 && y[1] == 5);
	}
	T_CHECK(ts.meta.n == 1 && nl_meta_get(&ts.meta, "general.alignment") == NULL);
	nl_tset_free(&ts);

	/* with the default alignment the same offsets are misaligned data */
	b.n = 0;
	b_head(&b, 3, 1, 1);
	b_str(&b, "general.alignment");
	b_u32(&b, 4);
	b_u32(&b, 8);
	b_tinfo(&b, "t", 1, (const uint64_t[]){ 1 }, 0, 8);
	b_pad(&b, 8);
	b_u32(&b, 0);
	b_u32(&b, 0);
	b_u32(&b, 0x3f800000);
	nl_tset_init(&ts);
	T_CHECK_MSG(read_bytes(b.p, b.n, &ts, &err) == 0, "%s", err.msg);
	T_CHECK(ts.n == 1 && ((float *)ts.t[0].data)[0] == 1.0f);
	nl_tset_free(&ts);
	free(b.p);
}

/* Every value type becomes text; what cannot is listed under gguf.skipped_*. */
T_TEST(test_kv_rendering)
{
	struct t_buf b = { 0 };
	struct nl_tset ts;
	struct nl_err err = { 0 };
	float f32 = 0.1f;
	double f64 = 0.1;

	b_head(&b, 3, 0, 22);
	b_str(&b, "u8"); b_u32(&b, 0); b_u8(&b, 200);
	b_str(&b, "i8"); b_u32(&b, 1); b_u8(&b, 0xfb);
	b_str(&b, "u16"); b_u32(&b, 2); b_u8(&b, 0xff); b_u8(&b, 0xff);
	b_str(&b, "i16"); b_u32(&b, 3); b_u8(&b, 0x00); b_u8(&b, 0x80);
	b_str(&b, "u32"); b_u32(&b, 4); b_u32(&b, 4000000000u);
	b_str(&b, "i32"); b_u32(&b, 5); b_u32(&b, (uint32_t)-7);
	b_str(&b, "f32"); b_u32(&b, 6); t_buf_add(&b, &f32, 4);
	b_str(&b, "yes"); b_u32(&b, 7); b_u8(&b, 1);
	b_str(&b, "no"); b_u32(&b, 7); b_u8(&b, 0);
	b_str(&b, "u64"); b_u32(&b, 10); b_u64(&b, UINT64_MAX);
	b_str(&b, "i64"); b_u32(&b, 11); b_u64(&b, UINT64_C(1) << 63);
	b_str(&b, "f64"); b_u32(&b, 12); t_buf_add(&b, &f64, 8);
	b_str(&b, "arr.i32"); b_u32(&b, 9); b_u32(&b, 5); b_u64(&b, 3);
	b_u32(&b, 1); b_u32(&b, 2); b_u32(&b, (uint32_t)-3);
	b_str(&b, "arr.str"); b_u32(&b, 9); b_u32(&b, 8); b_u64(&b, 2); b_str(&b, "a"); b_str(&b, "b c");
	b_str(&b, "arr.bool"); b_u32(&b, 9); b_u32(&b, 7); b_u64(&b, 2); b_u8(&b, 0); b_u8(&b, 1);
	b_str(&b, "arr.empty"); b_u32(&b, 9); b_u32(&b, 6); b_u64(&b, 0);
	/* skipped: a nested array, a bad key, bad UTF-8, an array over 64 KiB, a long string */
	b_str(&b, "arr.nested"); b_u32(&b, 9); b_u32(&b, 9); b_u64(&b, 2);
	b_u32(&b, 4); b_u64(&b, 1); b_u32(&b, 1);
	b_u32(&b, 8); b_u64(&b, 1); b_str(&b, "x");
	b_str(&b, "General.Name"); b_u32(&b, 8); b_str(&b, "x");
	b_str(&b, "latin1"); b_u32(&b, 8); b_str(&b, "caf\xe9");
	b_str(&b, "tokenizer.scores"); b_u32(&b, 9); b_u32(&b, 6); b_u64(&b, 20000);
	for (int i = 0; i < 20000; i++)
		t_buf_add(&b, &f32, 4);
	b_str(&b, "long"); b_u32(&b, 8); b_u64(&b, 70000);
	for (int i = 0; i < 70000; i++)
		b_u8(&b, 'a');
	b_str(&b, "after"); b_u32(&b, 8); b_str(&b, "still read");

	nl_tset_init(&ts);
	T_CHECK_MSG(read_bytes(b.p, b.n, &ts, &err) == 0, "%s", err.msg);
	static const char *const want[][2] = {
		{ "u8", "200" }, { "i8", "-5" }, { "u16", "65535" }, { "i16", "-32768" },
		{ "u32", "4000000000" }, { "i32", "-7" }, { "f32", "0.100000001" }, { "yes", "true" },
		{ "no", "false" }, { "u64", "18446744073709551615" },
		{ "i64", "-9223372036854775808" }, { "f64", "0.10000000000000001" },
		{ "arr.i32", "1,2,-3" }, { "arr.str", "a,b c" }, { "arr.bool", "false,true" },
		{ "arr.empty", "" }, { "after", "still read" }, { "gguf.skipped_count", "5" },
		{ "gguf.skipped_keys", "arr.nested,General.Name,latin1,tokenizer.scores,long" },
	};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		const char *v = nl_meta_get(&ts.meta, want[i][0]);
		T_CHECK_MSG(v != NULL && strcmp(v, want[i][1]) == 0, "%s = '%s', want '%s'",
		    want[i][0], v ? v : "(absent)", want[i][1]);
	}
	T_CHECK_MSG(ts.meta.n == sizeof want / sizeof want[0], "%zu keys", ts.meta.n);
	nl_tset_free(&ts);
	free(b.p);
}

int
main(void)
{
	T_RUN(test_round_trip);
	T_RUN(test_layout);
	T_RUN(test_unsupported_dtypes);
	T_RUN(test_reserved_alignment_key);
	T_RUN(test_read_handcrafted);
	T_RUN(test_pipe);
	T_RUN(test_every_prefix);
	T_RUN(test_trailing_padding_optional);
	T_RUN(test_corrupt);
	T_RUN(test_alignment_kv);
	T_RUN(test_kv_rendering);
	return t_done();
}
