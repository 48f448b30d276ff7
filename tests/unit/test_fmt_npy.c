/* nl — see LICENSE. Tests for the .npy reader and writer: round trips of every dtype and
 * rank, bytes identical to numpy.save, every header variant and every malformed header. */
#include <stdint.h>

#include "formats.h"
#include "t.h"

/* Written by numpy 2.4 np.save (tests/interop/numpy.py checks the same property live). */
static const char npy_f32_2x3[] =
	    "\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), "
	    "}                                                          \x0a\x00\x00\x00\x00\x00"
	    "\x00\x80?\x00\x00\x00@\x00\x00@@\x00\x00\x80@\x00\x00\xa0@";
static const char npy_f64_scalar[] =
	    "\x93NUMPY\x01\x00v\x00{'descr': '<f8', 'fortran_order': False, 'shape': (), }   "
	    "                                                           \x0a\x00\x00\x00\x00\x00"
	    "\x00\x0c@";
static const char npy_i16_5[] =
	    "\x93NUMPY\x01\x00v\x00{'descr': '<i2', 'fortran_order': False, 'shape': (5,), } "
	    "                                                           \x0a\x00\x00\x01\x00\x02"
	    "\x00\x03\x00\x04\x00";
static const char npy_u8_0x4[] =
	    "\x93NUMPY\x01\x00v\x00{'descr': '|u1', 'fortran_order': False, 'shape': (0, 4), "
	    "}                                                          \x0a";
static const char npy_bool_rank8[] =
	    "\x93NUMPY\x01\x00v\x00{'descr': '|b1', 'fortran_order': False, 'shape': (1, 1, 1"
	    ", 1, 1, 1, 1, 1), }                                        \x0a\x01";
static const char npy_f16_big_dim[] =
	    "\x93NUMPY\x01\x00v\x00{'descr': '<f2', 'fortran_order': False, 'shape': (1234567"
	    "89012, 0), }                                               \x0a";

static const enum nl_dtype all_dtypes[] = {
	NL_DTYPE_F32, NL_DTYPE_F64, NL_DTYPE_F16, NL_DTYPE_I8, NL_DTYPE_U8, NL_DTYPE_I16,
	NL_DTYPE_U16, NL_DTYPE_I32, NL_DTYPE_U32, NL_DTYPE_I64, NL_DTYPE_U64, NL_DTYPE_BOOL,
};

/* A source that hands out one byte per read, like a slow pipe. */
struct trickle {
	const unsigned char *p;
	size_t len, pos;
};

static ptrdiff_t
trickle_read(void *ctx, void *buf, size_t n, struct nl_err *err)
{
	struct trickle *t = ctx;

	(void)err;
	if (n == 0 || t->pos == t->len)
		return 0;
	memcpy(buf, t->p + t->pos++, 1);
	return 1;
}

static const struct nl_io_ops trickle_ops = { trickle_read, NULL, NULL };

static int
read_npy(const void *p, size_t n, struct nl_tset *ts, struct nl_err *err)
{
	struct nl_io io;

	nl_io_open_mem_read(&io, p, n);
	int rc = nl_fmt_npy_read(&io, "x", ts, err);
	nl_io_close(&io, NULL);
	return rc;
}

static int
read_npy_trickle(const void *p, size_t n, struct nl_tset *ts, struct nl_err *err)
{
	struct trickle t = { p, n, 0 };
	struct nl_io io;

	nl_io_open_custom(&io, &trickle_ops, &t, "(trickle)", 0);
	int rc = nl_fmt_npy_read(&io, "x", ts, err);
	nl_io_close(&io, NULL);
	return rc;
}

static unsigned char *
write_npy(const struct nl_tensor *t, size_t *len, int *rc, struct nl_err *err)
{
	struct nl_io io;

	nl_io_open_mem_write(&io);
	*rc = nl_fmt_npy_write(&io, t, err);
	unsigned char *p = nl_io_mem_take(&io, len);
	nl_io_close(&io, NULL);
	return p;
}

/* An npy file from header text, with the length field of the version's width. */
static unsigned char *
mk_npy(int major, int minor, const char *hdr, const void *data, size_t dlen, size_t *len)
{
	size_t hl = strlen(hdr), pl = major == 1 ? 10 : 12;
	unsigned char *p = malloc(pl + hl + dlen + 1);

	if (p == NULL)
		abort();
	memcpy(p, "\x93NUMPY", 6);
	p[6] = (unsigned char)major;
	p[7] = (unsigned char)minor;
	if (pl == 10)
		nl_put16(p + 8, (uint16_t)hl);
	else
		nl_put32(p + 8, (uint32_t)hl);
	memcpy(p + pl, hdr, hl);
	if (dlen > 0)
		memcpy(p + pl + hl, data, dlen);
	*len = pl + hl + dlen;
	return p;
}

static void
fill(struct nl_tensor *t, unsigned seed)
{
	unsigned char *p = t->data;

	for (size_t i = 0; i < t->nbytes; i++)
		p[i] = t->info.dtype == NL_DTYPE_BOOL ? (unsigned char)((i + seed) & 1) :
		    (unsigned char)(i * 7 + seed * 13 + 1);
}

static int
same_info(const struct nl_tinfo *a, const struct nl_tinfo *b)
{
	if (strcmp(a->name, b->name) != 0 || a->dtype != b->dtype || a->rank != b->rank)
		return 0;
	for (int i = 0; i < a->rank; i++)
		if (a->dims[i] != b->dims[i])
			return 0;
	return 1;
}

static void
roundtrip_one(const struct nl_tinfo *ti, unsigned seed)
{
	struct nl_tset src, dst;
	struct nl_err err = { 0 };
	size_t len;
	int rc;

	nl_tset_init(&src);
	nl_tset_init(&dst);
	struct nl_tensor *t = nl_tset_add(&src, ti, &err);
	T_CHECK_MSG(t != NULL, "%s", err.msg);
	if (t == NULL)
		return;
	fill(t, seed);
	unsigned char *p = write_npy(t, &len, &rc, &err);
	T_CHECK_MSG(rc == 0, "%s", err.msg);
	T_CHECK(len >= t->nbytes && (len - t->nbytes) % 64 == 0);
	T_CHECK(memcmp(p, "\x93NUMPY\x01\x00", 8) == 0);
	rc = read_npy(p, len, &dst, &err);
	T_CHECK_MSG(rc == 0, "dtype %s rank %d: %s", nl_dtype_name(ti->dtype), ti->rank, err.msg);
	if (rc == 0) {
		T_CHECK(dst.n == 1 && same_info(&dst.t[0].info, ti));
		T_CHECK(dst.t[0].nbytes == t->nbytes);
		T_CHECK(t->nbytes == 0 || memcmp(dst.t[0].data, t->data, t->nbytes) == 0);
	}
	free(p);
	nl_tset_free(&src);
	nl_tset_free(&dst);
}

T_TEST(npy_roundtrip_dtypes_ranks)
{
	for (size_t d = 0; d < sizeof all_dtypes / sizeof all_dtypes[0]; d++)
		for (int r = 0; r <= NL_MAX_RANK; r++) {
			struct nl_tinfo ti = { .name = "x", .dtype = all_dtypes[d], .rank = r };
			for (int i = 0; i < r; i++)
				ti.dims[i] = (uint64_t)(i % 3) + 1;
			roundtrip_one(&ti, (unsigned)(d * 9 + (size_t)r));
		}
}

T_TEST(npy_roundtrip_zero_size)
{
	static const uint64_t shapes[][NL_MAX_RANK] = {
		{ 0 }, { 3, 0, 2 }, { 0, 0, 0, 0, 0, 0, 0, 0 }, { 5, 4, 3, 2, 1, 0, 1, 2 },
	};
	static const int ranks[] = { 1, 3, 8, 8 };

	for (size_t s = 0; s < 4; s++)
		for (size_t d = 0; d < sizeof all_dtypes / sizeof all_dtypes[0]; d++) {
			struct nl_tinfo ti = { .name = "x", .dtype = all_dtypes[d],
				.rank = ranks[s] };
			memcpy(ti.dims, shapes[s], sizeof ti.dims);
			roundtrip_one(&ti, 0);
		}
}

/* The writer must reproduce numpy.save byte for byte; the reader must read it back. */
static void
check_numpy_bytes(const char *lit, size_t len, enum nl_dtype dt, int rank, const uint64_t *dims)
{
	struct nl_tinfo ti = { .name = "x", .dtype = dt, .rank = rank };
	struct nl_tset ts;
	struct nl_err err = { 0 };
	uint64_t nbytes;
	size_t olen;
	int rc;

	memcpy(ti.dims, dims, (size_t)rank * sizeof *dims);
	T_CHECK(nl_tinfo_size(&ti, NULL, &nbytes, &err) == 0);
	struct nl_tensor t = { ti, (void *)(lit + len - nbytes), (size_t)nbytes };
	unsigned char *p = write_npy(&t, &olen, &rc, &err);
	T_CHECK_MSG(rc == 0, "%s", err.msg);
	T_CHECK_MSG(olen == len && memcmp(p, lit, len) == 0, "shape of rank %d differs from numpy",
	    rank);
	free(p);
	nl_tset_init(&ts);
	rc = read_npy(lit, len, &ts, &err);
	T_CHECK_MSG(rc == 0, "%s", err.msg);
	if (rc == 0)
		T_CHECK(same_info(&ts.t[0].info, &ti) &&
		    memcmp(ts.t[0].data, lit + len - nbytes, (size_t)nbytes) == 0);
	nl_tset_free(&ts);
}

T_TEST(npy_bytes_match_numpy)
{
	check_numpy_bytes(npy_f32_2x3, sizeof npy_f32_2x3 - 1, NL_DTYPE_F32, 2,
	    (const uint64_t[]){ 2, 3 });
	check_numpy_bytes(npy_f64_scalar, sizeof npy_f64_scalar - 1, NL_DTYPE_F64, 0,
	    (const uint64_t[]){ 0 });
	check_numpy_bytes(npy_i16_5, sizeof npy_i16_5 - 1, NL_DTYPE_I16, 1,
	    (const uint64_t[]){ 5 });
	check_numpy_bytes(npy_u8_0x4, sizeof npy_u8_0x4 - 1, NL_DTYPE_U8, 2,
	    (const uint64_t[]){ 0, 4 });
	check_numpy_bytes(npy_bool_rank8, sizeof npy_bool_rank8 - 1, NL_DTYPE_BOOL, 8,
	    (const uint64_t[]){ 1, 1, 1, 1, 1, 1, 1, 1 });
	check_numpy_bytes(npy_f16_big_dim, sizeof npy_f16_big_dim - 1, NL_DTYPE_F16, 2,
	    (const uint64_t[]){ UINT64_C(123456789012), 0 });
}

T_TEST(npy_values_survive_trickle)
{
	struct nl_tset ts;
	struct nl_err err = { 0 };

	nl_tset_init(&ts);
	int rc = read_npy_trickle(npy_f32_2x3, sizeof npy_f32_2x3 - 1, &ts, &err);
	T_CHECK_MSG(rc == 0, "%s", err.msg);
	if (rc == 0) {
		const float *f = ts.t[0].data;
		for (int i = 0; i < 6; i++)
			T_CHECK(f[i] == (float)i);
	}
	nl_tset_free(&ts);
}

T_TEST(npy_bf16_rejected)
{
	struct nl_tinfo ti = { .name = "w", .dtype = NL_DTYPE_BF16, .rank = 1, .dims = { 2 } };
	uint16_t d[2] = { 0 };
	struct nl_tensor t = { ti, d, sizeof d };
	struct nl_err err = { 0 };
	size_t len;
	int rc;

	unsigned char *p = write_npy(&t, &len, &rc, &err);
	T_CHECK(rc < 0 && err.code == NL_EUNSUPPORTED);
	T_CHECK_MSG(strcmp(err.msg,
	    "tensor 'w': dtype BF16 has no numpy type (convert to F32 first)") == 0, "%s", err.msg);
	free(p);
}

T_TEST(npy_writer_checks_size)
{
	struct nl_tinfo ti = { .name = "w", .dtype = NL_DTYPE_F32, .rank = 1, .dims = { 3 } };
	float d[2] = { 0 };
	struct nl_tensor t = { ti, d, sizeof d };
	struct nl_err err = { 0 };
	size_t len;
	int rc;

	free(write_npy(&t, &len, &rc, &err));
	T_CHECK(rc < 0 && err.code == NL_EFORMAT);
}

/* Header variants numpy's reader accepts (and we do). */
T_TEST(npy_header_variants)
{
	static const struct {
		int major;
		const char *hdr;
		enum nl_dtype dtype;
		int rank;
		uint64_t dims[2];
	} v[] = {
		{ 2, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }\n",
		    NL_DTYPE_F32, 1, { 2 } },
		{ 3, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }\n",
		    NL_DTYPE_F32, 1, { 2 } },
		{ 1, "{'shape': (2,), 'fortran_order': False, 'descr': '<f4'}",
		    NL_DTYPE_F32, 1, { 2 } },
		{ 1, "{\"descr\": \"<u4\", \"fortran_order\": False, \"shape\": (2,)}",
		    NL_DTYPE_U32, 1, { 2 } },
		{ 1, " { 'descr' :'<i4' ,\t'fortran_order':False,\n'shape':( 2 , ) , }\r\n \n",
		    NL_DTYPE_I32, 1, { 2 } },
		{ 1, "{'descr': '=f4', 'fortran_order': False, 'shape': (1, 2,), }",
		    NL_DTYPE_F32, 2, { 1, 2 } },
		{ 1, "{'descr': '|i4', 'fortran_order': False, 'shape': (2, 1), }",
		    NL_DTYPE_I32, 2, { 2, 1 } },
		{ 1, "{'descr': 'i2', 'fortran_order': False, 'shape': (4,), }",
		    NL_DTYPE_I16, 1, { 4 } },
		{ 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (), }",
		    NL_DTYPE_F64, 0, { 0 } },
		{ 1, "{'descr': '<f2', 'fortran_order': False, 'shape': (1L, 4L), }",
		    NL_DTYPE_F16, 2, { 1, 4 } },
		{ 1, "{'descr': '|u1', 'fortran_order': True, 'shape': (8,), }",
		    NL_DTYPE_U8, 1, { 8 } },
		{ 1, "{'descr':'|b1','fortran_order':False,'shape':(8,)}",
		    NL_DTYPE_BOOL, 1, { 8 } },
	};
	static const unsigned char data[8] = { 1, 0, 1, 1, 0, 0, 1, 0 };

	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		struct nl_tset ts;
		struct nl_err err = { 0 };
		size_t len;

		unsigned char *p = mk_npy(v[i].major, 0, v[i].hdr, data, sizeof data, &len);
		nl_tset_init(&ts);
		int rc = read_npy(p, len, &ts, &err);
		T_CHECK_MSG(rc == 0, "variant %zu: %s", i, err.msg);
		if (rc == 0) {
			const struct nl_tinfo *ti = &ts.t[0].info;
			T_CHECK_MSG(ti->dtype == v[i].dtype && ti->rank == v[i].rank &&
			    (ti->rank < 1 || ti->dims[0] == v[i].dims[0]) &&
			    (ti->rank < 2 || ti->dims[1] == v[i].dims[1]), "variant %zu", i);
			T_CHECK(memcmp(ts.t[0].data, data, ts.t[0].nbytes) == 0);
		}
		free(p);
		nl_tset_free(&ts);
	}
}

T_TEST(npy_big_endian_swapped)
{
	static const unsigned char be[] = { 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xfe };
	static const unsigned char be16[] = { 0x3c, 0x00 }; /* F16 1.0 */
	struct nl_tset ts;
	struct nl_err err = { 0 };
	size_t len;

	nl_tset_init(&ts);
	unsigned char *p = mk_npy(1, 0, "{'descr': '>i4', 'fortran_order': False, 'shape': (2,), }",
	    be, sizeof be, &len);
	T_CHECK_MSG(read_npy(p, len, &ts, &err) == 0, "%s", err.msg);
	if (ts.n == 1) {
		const int32_t *v = ts.t[0].data;
		T_CHECK(v[0] == 1 && v[1] == -2);
	}
	free(p);
	nl_tset_free(&ts);
	p = mk_npy(1, 0, "{'descr': '>f2', 'fortran_order': False, 'shape': (), }", be16,
	    sizeof be16, &len);
	T_CHECK_MSG(read_npy(p, len, &ts, &err) == 0, "%s", err.msg);
	if (ts.n == 1)
		T_CHECK(nl_f16_to_f32(*(const uint16_t *)ts.t[0].data) == 1.0f);
	free(p);
	nl_tset_free(&ts);
}

/* Fortran order is transposed into C order: same shape, same values as numpy.load shows. */
T_TEST(npy_fortran_transposed)
{
	int16_t f[24];
	struct nl_tset ts;
	struct nl_err err = { 0 };
	size_t len;

	/* element (i, j, k) of a C-order arange(24).reshape(2, 3, 4) sits at i + 2j + 6k */
	for (int i = 0; i < 2; i++)
		for (int j = 0; j < 3; j++)
			for (int k = 0; k < 4; k++)
				f[i + 2 * j + 6 * k] = (int16_t)(i * 12 + j * 4 + k);
	nl_tset_init(&ts);
	unsigned char *p = mk_npy(1, 0,
	    "{'descr': '<i2', 'fortran_order': True, 'shape': (2, 3, 4), }", f, sizeof f, &len);
	T_CHECK_MSG(read_npy(p, len, &ts, &err) == 0, "%s", err.msg);
	if (ts.n == 1) {
		const int16_t *c = ts.t[0].data;
		T_CHECK(ts.t[0].info.rank == 3 && ts.t[0].info.dims[0] == 2 &&
		    ts.t[0].info.dims[1] == 3 && ts.t[0].info.dims[2] == 4);
		for (int i = 0; i < 24; i++)
			T_CHECK_MSG(c[i] == i, "element %d is %d", i, c[i]);
	}
	free(p);
	nl_tset_free(&ts);
}

/* Each malformed header fails with the right code and a message naming the problem. */
T_TEST(npy_bad_headers)
{
	static const struct {
		int major, minor;
		const char *hdr;
		size_t dlen;
		int code;
		const char *msg;
	} b[] = {
		{ 0, 0, "{'descr': '<f4', 'fortran_order': False, 'shape': (), }",
		    4, NL_EUNSUPPORTED, "version 0.0" },
		{ 4, 0, "{'descr': '<f4', 'fortran_order': False, 'shape': (), }",
		    4, NL_EUNSUPPORTED, "version 4.0" },
		{ 1, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (), }",
		    4, NL_EUNSUPPORTED, "version 1.1" },
		{ 1, 0, "{'descr': '<f4', 'fortran_order': False, 'shape': (), ",
		    4, NL_EFORMAT, "unterminated dict" },
		{ 1, 0, "{'descr': '<f4', 'fortran_order': False, 'shape': (",
		    4, NL_EFORMAT, "unterminated dict" },
		{ 1, 0, "{'descr': '<f4", 4, NL_EFORMAT, "unterminated dict" },
		{ 1, 0, "", 4, NL_EFORMAT, "unterminated dict" },
		{ 1, 0, "{'descr': '<f4', 'fortran_order': False}",
		    4, NL_EFORMAT, "missing key 'shape'" },
		{ 1, 0, "{'shape': (), 'fortran_order': False}",
		    4, NL_EFORMAT, "missing key 'descr'" },
		{ 1, 0, "{'shape': (), 'descr': '<f4'}",
		    4, NL_EFORMAT, "missing key 'fortran_order'" },
		{ 1, 0, "{'descr': '<f4', 'fortran_order': False, 'shape': (), 'x': 1}",
		    4, NL_EFORMAT, "unexpected key 'x'" },
		{ 1, 0, "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': ()}",
		    4, NL_EFORMAT, "duplicate key 'descr'" },
		{ 1, 0, "{'descr': '<c8', 'fortran_order': False, 'shape': (), }",
		    8, NL_EUNSUPPORTED, "dtype '<c8' is not supported" },
		{ 1, 0, "{'descr': '<f3', 'fortran_order': False, 'shape': (), }",
		    4, NL_EUNSUPPORTED, "dtype '<f3'" },
		{ 1, 0, "{'descr': '<U4', 'fortran_order': False, 'shape': (), }",
		    16, NL_EUNSUPPORTED, "dtype '<U4'" },
		{ 1, 0, "{'descr': '', 'fortran_order': False, 'shape': (), }",
		    4, NL_EUNSUPPORTED, "dtype ''" },
		{ 1, 0, "{'descr': '|O', 'fortran_order': False, 'shape': (), }",
		    8, NL_EUNSUPPORTED, "object arrays" },
		{ 1, 0, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (), }",
		    4, NL_EUNSUPPORTED, "structured" },
		{ 1, 0, "{'descr': '<f4', 'fortran_order': 0, 'shape': (), }",
		    4, NL_EFORMAT, "True or False" },
		{ 1, 0, "{'descr': '<f4', 'fortran_order': Falsey, 'shape': (), }",
		    4, NL_EFORMAT, "True or False" },
		{ 1, 0, "{'descr': '<f4', 'fortran_order': False, "
		    "'shape': (1, 1, 1, 1, 1, 1, 1, 1, 1), }",
		    4, NL_EUNSUPPORTED, "rank 9 exceeds 8" },
		{ 1, 0, "{'descr': '<f4', 'fortran_order': False, "
		    "'shape': (4294967296, 4294967296), }",
		    4, NL_ERANGE, "overflows" },
		{ 1, 0, "{'descr': '<f4', 'fortran_order': False, "
		    "'shape': (65536, 65536, 65536), }",
		    4, NL_ERANGE, "2^48" },
		{ 1, 0, "{'descr': '<f4', 'fortran_order': False, "
		    "'shape': (18446744073709551616,), }",
		    4, NL_ERANGE, "dimension too large" },
		{ 1, 0, "{'descr': '<f4', 'fortran_order': False, 'shape': (5), }",
		    4, NL_EFORMAT, "not a tuple" },
		{ 1, 0, "{'descr': '<f4', 'fortran_order': False, 'shape': [1], }",
		    4, NL_EFORMAT, "not a tuple" },
		{ 1, 0, "{'descr': '<f4', 'fortran_order': False, 'shape': (01,), }",
		    4, NL_EFORMAT, "bad integer" },
		{ 1, 0, "{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }",
		    4, NL_EFORMAT, "bad shape" },
		{ 1, 0, "{'descr': '<f4', 'fortran_order': False, 'shape': (1 2), }",
		    4, NL_EFORMAT, "expected ',' or ')'" },
		{ 3, 0, "{'descr': '<f4', 'fortran_order': False, 'shape': (1L,), }",
		    4, NL_EFORMAT, "expected ',' or ')'" },
		{ 1, 0, "{'descr': '<f4', 'fortran_order': False, 'shape': () 'x'}",
		    4, NL_EFORMAT, "expected ',' or '}'" },
		{ 1, 0, "{'descr': '<f4', 'fortran_order': False, 'shape': (), } x",
		    4, NL_EFORMAT, "after the dict" },
		{ 1, 0, "{'descr': '<f4', 'fortran_order': False, 'shape': (), }}",
		    4, NL_EFORMAT, "after the dict" },
		{ 1, 0, "{'descr': '<\\x66\\x34', 'fortran_order': False, 'shape': (), }",
		    4, NL_EFORMAT, "unsupported character" },
		{ 1, 0, "{descr: '<f4', 'fortran_order': False, 'shape': (), }",
		    4, NL_EFORMAT, "expected a string" },
		{ 1, 0, "{'descr' '<f4', 'fortran_order': False, 'shape': (), }",
		    4, NL_EFORMAT, "expected ':'" },
		{ 1, 0, "['descr', '<f4']", 4, NL_EFORMAT, "not a dict" },
		{ 1, 0, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }",
		    7, NL_EFORMAT, "unexpected end of file" },
		{ 1, 0, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }",
		    9, NL_EFORMAT, "trailing data" },
		{ 1, 0, "{'descr': '|b1', 'fortran_order': False, 'shape': (2,), }",
		    2, NL_EFORMAT, "bool" },
	};
	static const unsigned char data[16] = {
		1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
	};

	for (size_t i = 0; i < sizeof b / sizeof b[0]; i++) {
		struct nl_tset ts;
		struct nl_err err = { 0 };
		size_t len;

		unsigned char *p = mk_npy(b[i].major, b[i].minor, b[i].hdr, data, b[i].dlen, &len);
		nl_tset_init(&ts);
		int rc = read_npy(p, len, &ts, &err);
		T_CHECK_MSG(rc < 0 && ts.n == 0, "case %zu accepted", i);
		T_CHECK_MSG(err.code == b[i].code && strstr(err.msg, b[i].msg) != NULL,
		    "case %zu: code %d, message '%s', wanted '%s'", i, err.code, err.msg, b[i].msg);
		free(p);
		nl_tset_free(&ts);
	}
}

T_TEST(npy_bad_magic_and_sizes)
{
	struct nl_tset ts;
	struct nl_err err = { 0 };
	unsigned char big[12] = "\x93NUMPY\x02\x00";
	char name[300];

	nl_tset_init(&ts);
	T_CHECK(read_npy("\x93NUMPX\x01\x00\x00\x00", 10, &ts, &err) < 0);
	T_CHECK_MSG(strstr(err.msg, "not an npy file") != NULL, "%s", err.msg);
	T_CHECK(read_npy("PK\x03\x04\x01\x00\x00\x00\x00\x00", 10, &ts, &err) < 0);
	T_CHECK(strstr(err.msg, "bad magic") != NULL);
	/* a 2 GiB header length is refused before any allocation */
	nl_put32(big + 8, 0x7fffffffu);
	T_CHECK(read_npy(big, sizeof big, &ts, &err) < 0 && err.code == NL_ERANGE);
	/* names too long for a tensor are refused, not cut */
	memset(name, 'n', sizeof name - 1);
	name[sizeof name - 1] = '\0';
	struct nl_io io;
	nl_io_open_mem_read(&io, npy_i16_5, sizeof npy_i16_5 - 1);
	T_CHECK(nl_fmt_npy_read(&io, name, &ts, &err) < 0 && ts.n == 0);
	nl_io_close(&io, NULL);
	nl_tset_free(&ts);
}

/* Every proper prefix of a valid file: an error saying so, never a crash or a tensor. */
T_TEST(npy_truncated_every_prefix)
{
	size_t len = sizeof npy_f32_2x3 - 1;

	for (size_t k = 0; k < len; k++) {
		struct nl_tset ts;
		struct nl_err err = { 0 };
		unsigned char *p = malloc(k ? k : 1);

		memcpy(p, npy_f32_2x3, k);
		nl_tset_init(&ts);
		int rc = read_npy(p, k, &ts, &err);
		T_CHECK_MSG(rc < 0 && ts.n == 0 && strcmp(err.msg, "unexpected end of file") == 0,
		    "prefix %zu: '%s'", k, err.msg);
		rc = read_npy_trickle(p, k, &ts, &err);
		T_CHECK_MSG(rc < 0 && ts.n == 0, "prefix %zu (trickle)", k);
		nl_tset_free(&ts);
		free(p);
	}
}

int
main(void)
{
	T_RUN(npy_roundtrip_dtypes_ranks);
	T_RUN(npy_roundtrip_zero_size);
	T_RUN(npy_bytes_match_numpy);
	T_RUN(npy_values_survive_trickle);
	T_RUN(npy_bf16_rejected);
	T_RUN(npy_writer_checks_size);
	T_RUN(npy_header_variants);
	T_RUN(npy_big_endian_swapped);
	T_RUN(npy_fortran_transposed);
	T_RUN(npy_bad_headers);
	T_RUN(npy_bad_magic_and_sizes);
	T_RUN(npy_truncated_every_prefix);
	return t_done();
}
