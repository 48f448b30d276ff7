/* nl — see LICENSE. Tests for the safetensors reader and writer: round trips, exact bytes,
 * a corrupt-file matrix and every truncated prefix. */
#include "formats.h"
#include "t.h"

static struct nl_err err;

/* A forward-only source that hands out at most 3 bytes per read, like a slow pipe. */
struct trickle {
	const unsigned char *p;
	size_t len, pos;
};

static ptrdiff_t
trickle_read(void *ctx, void *buf, size_t n, struct nl_err *e)
{
	struct trickle *t = ctx;
	size_t k = t->len - t->pos;

	(void)e;
	if (k > n)
		k = n;
	if (k > 3)
		k = 3;
	memcpy(buf, t->p + t->pos, k);
	t->pos += k;
	return (ptrdiff_t)k;
}

static const struct nl_io_ops trickle_ops = { trickle_read, NULL, NULL };

static uint32_t
lcg(uint32_t *s)
{
	*s = *s * 1664525u + 1013904223u;
	return *s >> 8;
}

static struct nl_tensor *
add(struct nl_tset *ts, const char *name, enum nl_dtype dt, int rank, const uint64_t *dims,
    uint32_t *seed)
{
	struct nl_tinfo ti;
	struct nl_tensor *t;

	memset(&ti, 0, sizeof ti);
	snprintf(ti.name, sizeof ti.name, "%s", name);
	ti.dtype = dt;
	ti.rank = rank;
	for (int i = 0; i < rank; i++)
		ti.dims[i] = dims[i];
	t = nl_tset_add(ts, &ti, &err);
	if (t == NULL) {
		printf("# add %s: %s\n", name, err.msg);
		return NULL;
	}
	for (size_t i = 0; i < t->nbytes; i++)
		((unsigned char *)t->data)[i] = dt == NL_DTYPE_BOOL ? (unsigned char)(lcg(seed) & 1) :
		    (unsigned char)lcg(seed);
	return t;
}

/* Every dtype at ranks 0..8, zero-size dims, and metadata with escapes and non-ASCII. */
static int
build_set(struct nl_tset *ts)
{
	static const uint64_t dims[NL_MAX_RANK] = { 2, 3, 1, 2, 1, 1, 2, 1 };
	static const uint64_t zdims[3] = { 4, 0, 3 };
	uint32_t seed = 12345;
	char name[64];

	nl_tset_init(ts);
	for (int dt = 1; dt <= NL_DTYPE_MAX; dt++)
		for (int r = 0; r <= NL_MAX_RANK; r++) {
			snprintf(name, sizeof name, "layers.%d.%s.r%d", dt, nl_dtype_name(dt), r);
			if (add(ts, name, (enum nl_dtype)dt, r, dims, &seed) == NULL)
				return -1;
		}
	if (add(ts, "empty.zero_dim", NL_DTYPE_F32, 3, zdims, &seed) == NULL ||
	    add(ts, "empty.first", NL_DTYPE_I64, 1, zdims + 1, &seed) == NULL ||
	    add(ts, "name with \"quotes\" \\ and caf\xc3\xa9", NL_DTYPE_U8, 1, dims, &seed) == NULL)
		return -1;
	if (nl_meta_set(&ts->meta, "format", "pt", &err) < 0 ||
	    nl_meta_set(&ts->meta, "nl.note", "tab\there \"q\" \xe2\x82\xac\n", &err) < 0)
		return -1;
	return 0;
}

static unsigned char *
write_mem(const struct nl_tset *ts, size_t *len)
{
	struct nl_io io;
	unsigned char *p;

	nl_io_open_mem_write(&io);
	if (nl_fmt_safetensors_write(&io, ts, &err) < 0) {
		printf("# write: %s\n", err.msg);
		nl_io_abort(&io);
		return NULL;
	}
	p = nl_io_mem_take(&io, len);
	nl_io_close(&io, &err);
	return p;
}

static int
read_mem(const unsigned char *p, size_t len, struct nl_tset *ts)
{
	struct nl_io io;
	int rc;

	nl_tset_init(ts);
	nl_io_open_mem_read(&io, p, len);
	err.code = 0;
	err.msg[0] = '\0';
	rc = nl_fmt_safetensors_read(&io, ts, &err);
	nl_io_close(&io, NULL);
	return rc;
}

static int
read_trickle(const unsigned char *p, size_t len, struct nl_tset *ts)
{
	struct trickle tr = { p, len, 0 };
	struct nl_io io;
	int rc;

	nl_tset_init(ts);
	nl_io_open_custom(&io, &trickle_ops, &tr, "(trickle)", 0);
	err.code = 0;
	err.msg[0] = '\0';
	rc = nl_fmt_safetensors_read(&io, ts, &err);
	nl_io_close(&io, NULL);
	return rc;
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

T_TEST(st_roundtrip)
{
	struct nl_tset a, b, c;
	unsigned char *p, *q;
	size_t len, len2;

	T_CHECK(build_set(&a) == 0);
	T_CHECK(a.n == NL_DTYPE_MAX * (NL_MAX_RANK + 1) + 3);
	p = write_mem(&a, &len);
	T_CHECK(p != NULL);
	if (p == NULL) {
		nl_tset_free(&a);
		return;
	}
	/* 8 + N is a multiple of 8 and the padding is spaces */
	uint64_t n = nl_le64(p);
	T_CHECK((8 + n) % 8 == 0 && 8 + n <= len);
	T_CHECK(p[8] == '{');
	T_CHECK_MSG(read_mem(p, len, &b) == 0, "%s", err.msg);
	T_CHECK(same_set(&a, &b));
	/* byte-identical re-write */
	q = write_mem(&b, &len2);
	T_CHECK(q != NULL && len2 == len && memcmp(p, q, len) == 0);
	free(q);
	/* the same through a source that delivers 3 bytes at a time */
	T_CHECK_MSG(read_trickle(p, len, &c) == 0, "%s", err.msg);
	T_CHECK(same_set(&a, &c));
	nl_tset_free(&c);
	nl_tset_free(&b);
	nl_tset_free(&a);
	free(p);
}

T_TEST(st_exact_bytes)
{
	static const char want_hdr[] =
	    "{\"__metadata__\":{\"k\":\"v\"},\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
	    "\"s\":{\"dtype\":\"BF16\",\"shape\":[],\"data_offsets\":[8,10]}}";
	static const float fa[2] = { 1.0f, -2.5f };
	struct nl_tset ts;
	struct nl_tinfo ti;
	struct nl_tensor *t;
	unsigned char *p;
	size_t len, hl = sizeof want_hdr - 1, padded = (hl + 7) / 8 * 8;

	nl_tset_init(&ts);
	memset(&ti, 0, sizeof ti);
	strcpy(ti.name, "a");
	ti.dtype = NL_DTYPE_F32;
	ti.rank = 1;
	ti.dims[0] = 2;
	t = nl_tset_add(&ts, &ti, &err);
	T_CHECK(t != NULL);
	if (t)
		memcpy(t->data, fa, sizeof fa);
	strcpy(ti.name, "s");
	ti.dtype = NL_DTYPE_BF16;
	ti.rank = 0;
	t = nl_tset_add(&ts, &ti, &err);
	T_CHECK(t != NULL);
	if (t)
		memcpy(t->data, "\x80\x3f", 2);
	T_CHECK(nl_meta_set(&ts.meta, "k", "v", &err) == 0);
	p = write_mem(&ts, &len);
	T_CHECK(p && len == 8 + padded + 10);
	if (p && len == 8 + padded + 10) {
		T_CHECK(nl_le64(p) == padded);
		T_CHECK(memcmp(p + 8, want_hdr, hl) == 0);
		for (size_t i = hl; i < padded; i++)
			T_CHECK(p[8 + i] == ' ');
		T_CHECK(memcmp(p + 8 + padded, fa, 8) == 0 && memcmp(p + 8 + padded + 8, "\x80\x3f", 2) == 0);
	}
	free(p);
	nl_tset_free(&ts);

	/* an empty set: "{}" padded to 8, no data */
	nl_tset_init(&ts);
	p = write_mem(&ts, &len);
	T_CHECK(p && len == 16 && nl_le64(p) == 8 && memcmp(p + 8, "{}      ", 8) == 0);
	struct nl_tset back;
	T_CHECK(p && read_mem(p, len, &back) == 0 && back.n == 0 && back.meta.n == 0);
	nl_tset_free(&back);
	free(p);
	nl_tset_free(&ts);
}

/* len (u64 LE) + header + data bytes 0,1,2,...; hlen_override < 0 means the true length. */
static unsigned char *
mkfile(const char *hdr, long long hlen_override, size_t datalen, size_t *outlen)
{
	size_t hl = strlen(hdr);
	unsigned char *p = malloc(8 + hl + datalen + 1);

	if (p == NULL)
		return NULL;
	nl_put64(p, hlen_override < 0 ? (uint64_t)hl : (uint64_t)hlen_override);
	memcpy(p + 8, hdr, hl);
	for (size_t i = 0; i < datalen; i++)
		p[8 + hl + i] = (unsigned char)i;
	*outlen = 8 + hl + datalen;
	return p;
}

T_TEST(st_accept_order)
{
	/* header order differs from data order; zero-size tensors share offsets; padding kept */
	const char *hdr = "  {\"b\":{\"shape\":[2],\"dtype\":\"U8\",\"data_offsets\":[4,6]},"
	    "\"z2\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]},"
	    "\"a\":{\"dtype\":\"I16\",\"shape\":[2,1],\"data_offsets\":[0,4]},"
	    "\"z1\":{\"dtype\":\"F64\",\"shape\":[3,0],\"data_offsets\":[0,0]},"
	    "\"__metadata__\":{}}    \n";
	struct nl_tset ts;
	size_t len;
	unsigned char *p = mkfile(hdr, -1, 6, &len);

	T_CHECK_MSG(read_mem(p, len, &ts) == 0, "%s", err.msg);
	T_CHECK(ts.n == 4);
	if (ts.n == 4) {
		T_CHECK(strcmp(ts.t[0].info.name, "z1") == 0);
		T_CHECK(strcmp(ts.t[1].info.name, "a") == 0);
		T_CHECK(strcmp(ts.t[2].info.name, "z2") == 0);
		T_CHECK(strcmp(ts.t[3].info.name, "b") == 0);
		T_CHECK(ts.t[1].info.rank == 2 && ts.t[1].info.dims[0] == 2 && ts.t[1].nbytes == 4);
		T_CHECK(memcmp(ts.t[1].data, "\0\1\2\3", 4) == 0);
		T_CHECK(memcmp(ts.t[3].data, "\4\5", 2) == 0);
		T_CHECK(ts.t[0].nbytes == 0 && ts.t[0].info.rank == 2);
	}
	T_CHECK(ts.meta.n == 0);
	nl_tset_free(&ts);
	free(p);
}

T_TEST(st_foreign_metadata_recorded)
{
	/* keys nl metadata cannot hold are dropped and named, never fatal or silent */
	const char *hdr = "{\"__metadata__\":{\"Author\":\"me\",\"format\":\"pt\","
	    "\"Bad Key\":\"x\"}}";
	struct nl_tset ts;
	size_t len;
	unsigned char *p = mkfile(hdr, -1, 0, &len);

	T_CHECK_MSG(read_mem(p, len, &ts) == 0, "%s", err.msg);
	T_CHECK(ts.meta.n == 3);
	const char *f = nl_meta_get(&ts.meta, "format");
	const char *c = nl_meta_get(&ts.meta, "safetensors.skipped_count");
	const char *k = nl_meta_get(&ts.meta, "safetensors.skipped_keys");
	T_CHECK(f != NULL && strcmp(f, "pt") == 0);
	T_CHECK(c != NULL && strcmp(c, "2") == 0);
	T_CHECK(k != NULL && strcmp(k, "Author,Bad Key") == 0);
	nl_tset_free(&ts);
	free(p);
}

struct bad {
	const char *hdr;
	long long hlen;      /* -1: true length */
	size_t datalen;
	const char *errpart;
	int code;
};

#define T1 "\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}"

static const struct bad bads[] = {
	{ "{" T1 "}", 100000001, 8, "header length 100000001 exceeds 100000000", NL_EFORMAT },
	{ "{" T1 "}", 1000, 8, "unexpected end of file in header", NL_EFORMAT },
	{ "{" T1 "}", 0, 8, "header: json: unexpected end of input at byte 0", NL_EFORMAT },
	{ "hello", -1, 0, "header: json: unexpected character 'h' at byte 0", NL_EFORMAT },
	{ "{" T1 ",}", -1, 8, "header: json: trailing comma", NL_EFORMAT },
	{ "[]", -1, 0, "header is not a json object", NL_EFORMAT },
	{ "{\"t\":{\"dtype\":\"F99\",\"shape\":[2],\"data_offsets\":[0,8]}}", -1, 8,
	    "tensor 't': unknown dtype 'F99'", NL_EFORMAT },
	{ "{\"t\":{\"dtype\":\"F8_E4M3\",\"shape\":[2],\"data_offsets\":[0,2]}}", -1, 2,
	    "tensor 't': dtype F8_E4M3 is not supported", NL_EUNSUPPORTED },
	{ "{\"t\":{\"dtype\":\"f32\",\"shape\":[2],\"data_offsets\":[0,8]}}", -1, 8,
	    "unknown dtype 'f32'", NL_EFORMAT },
	{ "{\"t\":{\"dtype\":32,\"shape\":[2],\"data_offsets\":[0,8]}}", -1, 8,
	    "tensor 't': dtype is not a string", NL_EFORMAT },
	{ "{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", -1, 4,
	    "tensor 't': data_offsets [0,4] hold 4 bytes but F32 [2] needs 8", NL_EFORMAT },
	{ "{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,12]}}", -1, 12,
	    "hold 12 bytes but F32 [2] needs 8", NL_EFORMAT },
	{ "{" T1 ",\"u\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[12,16]}}", -1, 16,
	    "tensor 'u': hole in the data before it (bytes 8 to 12 unused)", NL_EFORMAT },
	{ "{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", -1, 12,
	    "tensor 't': hole in the data before it (bytes 0 to 4 unused)", NL_EFORMAT },
	{ "{" T1 ",\"u\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[4,8]}}", -1, 8,
	    "tensor 'u': data overlaps tensor 't'", NL_EFORMAT },
	{ "{" T1 ",\"u\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", -1, 8,
	    "data overlaps tensor", NL_EFORMAT },
	{ "{" T1 "," T1 "}", -1, 8, "header: json: duplicate key 't' at byte 54", NL_EFORMAT },
	{ "{" T1 "}", -1, 9, "trailing data after the last tensor", NL_EFORMAT },
	{ "{}", -1, 1, "trailing data after the last tensor", NL_EFORMAT },
	{ "{" T1 "}", -1, 7, "tensor 't': unexpected end of file", NL_EFORMAT },
	{ "{\"__metadata__\":{\"k\":1}," T1 "}", -1, 8,
	    "__metadata__: metadata value for key 'k' is not a string", NL_EFORMAT },
	{ "{\"__metadata__\":{\"k\":[\"v\"]}}", -1, 0, "is not a string", NL_EFORMAT },
	{ "{\"__metadata__\":\"k\"}", -1, 0, "__metadata__: metadata is not a json object",
	    NL_EFORMAT },
	{ "{\"x\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,1]}}", -1, 1,
	    "tensor 'x': rank 9 exceeds 8", NL_EFORMAT },
	{ "{\"t\":{\"shape\":[2],\"data_offsets\":[0,8]}}", -1, 8, "tensor 't': missing 'dtype'",
	    NL_EFORMAT },
	{ "{\"t\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", -1, 8, "missing 'shape'", NL_EFORMAT },
	{ "{\"t\":{\"dtype\":\"F32\",\"shape\":[2]}}", -1, 8, "missing 'data_offsets'", NL_EFORMAT },
	{ "{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"x\":1}}", -1, 8,
	    "tensor 't': unknown field 'x'", NL_EFORMAT },
	{ "{\"t\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", -1, 8,
	    "shape holds something other than a non-negative integer", NL_EFORMAT },
	{ "{\"t\":{\"dtype\":\"F32\",\"shape\":[2.0],\"data_offsets\":[0,8]}}", -1, 8,
	    "shape holds", NL_EFORMAT },
	{ "{\"t\":{\"dtype\":\"F32\",\"shape\":2,\"data_offsets\":[0,8]}}", -1, 8,
	    "shape is not an array", NL_EFORMAT },
	{ "{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", -1, 8,
	    "data_offsets [8,0] end before they begin", NL_EFORMAT },
	{ "{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", -1, 8,
	    "data_offsets is not a pair", NL_EFORMAT },
	{ "{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8,9]}}", -1, 8,
	    "data_offsets is not a pair", NL_EFORMAT },
	{ "{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,18446744073709551616]}}", -1,
	    8, "data_offsets is not a pair", NL_EFORMAT },
	{ "{\"t\":{\"dtype\":\"U8\",\"shape\":[4294967296,4294967296,2],\"data_offsets\":[0,8]}}", -1,
	    8, "tensor 't': shape overflows", NL_ERANGE },
	{ "{\"t\":{\"dtype\":\"F64\",\"shape\":[4294967296,65536],\"data_offsets\":[0,8]}}", -1, 8,
	    "tensor 't': size exceeds 2^48 bytes", NL_ERANGE },
	{ "{\"t\":[]}", -1, 0, "tensor 't': entry is not a json object", NL_EFORMAT },
	{ "{\"\":{\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[0,1]}}", -1, 1,
	    "invalid tensor name ''", NL_EFORMAT },
	{ "{\"a\\nb\":{\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[0,1]}}", -1, 1,
	    "invalid tensor name 'a?b'", NL_EFORMAT },
	{ "{\"a\xff\":{\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[0,1]}}", -1, 1,
	    "header: json: invalid utf-8 in string at byte 3", NL_EFORMAT },
	{ "{\"__metadata__\":{},\"__metadata__\":{}}", -1, 0, "duplicate key '__metadata__'",
	    NL_EFORMAT },
};

T_TEST(st_corrupt_matrix)
{
	for (size_t i = 0; i < sizeof bads / sizeof bads[0]; i++) {
		const struct bad *b = &bads[i];
		struct nl_tset ts;
		size_t len = 0;
		unsigned char *p = mkfile(b->hdr, b->hlen, b->datalen, &len);
		int rc = read_mem(p, len, &ts);
		T_CHECK_MSG(rc < 0 && strstr(err.msg, b->errpart) != NULL && err.code == b->code,
		    "case %zu: rc %d code %d '%s', want '%s'", i, rc, err.code, err.msg, b->errpart);
		nl_tset_free(&ts);
		/* the trickling source must agree */
		rc = read_trickle(p, len, &ts);
		T_CHECK_MSG(rc < 0 && strstr(err.msg, b->errpart) != NULL, "trickle case %zu: '%s'", i,
		    err.msg);
		nl_tset_free(&ts);
		free(p);
	}
}

T_TEST(st_tiny_inputs)
{
	static const unsigned char zeros[8] = { 0 };
	struct nl_tset ts;

	T_CHECK(read_mem(zeros, 0, &ts) < 0 && strcmp(err.msg, "unexpected end of file") == 0);
	nl_tset_free(&ts);
	T_CHECK(read_mem(zeros, 7, &ts) < 0 && strcmp(err.msg, "unexpected end of file") == 0);
	nl_tset_free(&ts);
	/* largest length the cap allows, but nothing behind it: no 100 MB allocation either */
	unsigned char big[8];
	nl_put64(big, 100000000);
	T_CHECK(read_mem(big, 8, &ts) < 0 && strstr(err.msg, "unexpected end of file in header"));
	nl_tset_free(&ts);
	nl_put64(big, UINT64_MAX);
	T_CHECK(read_mem(big, 8, &ts) < 0 && strstr(err.msg, "exceeds 100000000"));
	nl_tset_free(&ts);
}

T_TEST(st_every_prefix)
{
	struct nl_tset a, b;
	static const uint64_t d2[2] = { 2, 3 }, d1[1] = { 5 };
	uint32_t seed = 7;
	unsigned char *p;
	size_t len;

	nl_tset_init(&a);
	add(&a, "w", NL_DTYPE_F32, 2, d2, &seed);
	add(&a, "b", NL_DTYPE_U8, 1, d1, &seed);
	add(&a, "e", NL_DTYPE_F16, 1, d2 + 1, &seed);
	T_CHECK(nl_meta_set(&a.meta, "k", "v", &err) == 0);
	p = write_mem(&a, &len);
	T_CHECK(p != NULL);
	for (size_t cut = 0; p && cut < len; cut++) {
		int rc = read_mem(p, cut, &b);
		T_CHECK_MSG(rc < 0 && strstr(err.msg, "unexpected end of file") != NULL &&
		    err.code == NL_EFORMAT, "prefix %zu of %zu: '%s'", cut, len, err.msg);
		nl_tset_free(&b);
		rc = read_trickle(p, cut, &b);
		T_CHECK_MSG(rc < 0 && strstr(err.msg, "unexpected end of file") != NULL,
		    "trickle prefix %zu: '%s'", cut, err.msg);
		nl_tset_free(&b);
	}
	T_CHECK(p && read_mem(p, len, &b) == 0 && same_set(&a, &b));
	nl_tset_free(&b);
	free(p);
	nl_tset_free(&a);
}

T_TEST(st_write_errors)
{
	struct nl_tset ts;
	struct nl_tinfo ti;
	struct nl_io io;

	nl_tset_init(&ts);
	memset(&ti, 0, sizeof ti);
	strcpy(ti.name, "__metadata__");
	ti.dtype = NL_DTYPE_U8;
	T_CHECK(nl_tset_add(&ts, &ti, &err) != NULL);
	nl_io_open_mem_write(&io);
	T_CHECK(nl_fmt_safetensors_write(&io, &ts, &err) < 0 && strstr(err.msg, "reserved"));
	nl_io_abort(&io);
	nl_tset_free(&ts);
}

int
main(void)
{
	T_RUN(st_roundtrip);
	T_RUN(st_exact_bytes);
	T_RUN(st_accept_order);
	T_RUN(st_foreign_metadata_recorded);
	T_RUN(st_corrupt_matrix);
	T_RUN(st_tiny_inputs);
	T_RUN(st_every_prefix);
	T_RUN(st_write_errors);
	return t_done();
}
