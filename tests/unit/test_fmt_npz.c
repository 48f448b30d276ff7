/* nl — see LICENSE. Tests for the .npz reader and writer: round trips with metadata,
 * deterministic bytes, numpy-written archives (stored and deflated), zip64 end records,
 * every truncation and the corruptions a zip reader must not ignore. */
#include <stdint.h>

#include <archive.h>
#include <archive_entry.h>

#include "formats.h"
#include "t.h"

/* Written by numpy 2.4: np.savez / np.savez_compressed(a=np.arange(3),
 * **{"w/b": np.ones((2, 2), np.float32)}), and a zipfile with a non-npy member. */
static const char npz_numpy_stored[] =
	    "PK\x03\x04-\x00\x00\x00\x00\x00\x00\x00!\x00\xf7@\x12\xea\xff\xff\xff\xff\xff\xff"
	    "\xff\xff\x05\x00\x14\x00""a.npy\x01\x00\x10\x00\x98\x00\x00\x00\x00\x00\x00\x00\x98"
	    "\x00\x00\x00\x00\x00\x00\x00\x93NUMPY\x01\x00v\x00{'descr': '<i8', 'fortran_orde"
	    "r': False, 'shape': (3,), }                                                     "
	    "       \x0a\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x02\x00"
	    "\x00\x00\x00\x00\x00\x00PK\x03\x04-\x00\x00\x00\x00\x00\x00\x00!\x00L\xfb\xef\x16"
	    "\xff\xff\xff\xff\xff\xff\xff\xff\x07\x00\x14\x00w/b.npy\x01\x00\x10\x00\x90\x00\x00"
	    "\x00\x00\x00\x00\x00\x90\x00\x00\x00\x00\x00\x00\x00\x93NUMPY\x01\x00v\x00{'desc"
	    "r': '<f4', 'fortran_order': False, 'shape': (2, 2), }                           "
	    "                               \x0a\x00\x00\x80?\x00\x00\x80?\x00\x00\x80?\x00\x00"
	    "\x80?PK\x01\x02-\x03-\x00\x00\x00\x00\x00\x00\x00!\x00\xf7@\x12\xea\x98\x00\x00\x00"
	    "\x98\x00\x00\x00\x05\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x01\x00\x00"
	    "\x00\x00""a.npyPK\x01\x02-\x03-\x00\x00\x00\x00\x00\x00\x00!\x00L\xfb\xef\x16\x90"
	    "\x00\x00\x00\x90\x00\x00\x00\x07\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80"
	    "\x01\xcf\x00\x00\x00w/b.npyPK\x05\x06\x00\x00\x00\x00\x02\x00\x02\x00h\x00\x00\x00"
	    "\x98\x01\x00\x00\x00\x00";
static const char npz_numpy_deflated[] =
	    "PK\x03\x04-\x00\x00\x00\x08\x00\x00\x00!\x00\xf7@\x12\xea\xff\xff\xff\xff\xff\xff"
	    "\xff\xff\x05\x00\x14\x00""a.npy\x01\x00\x10\x00\x98\x00\x00\x00\x00\x00\x00\x00L"
	    "\x00\x00\x00\x00\x00\x00\x00\x9b\xec\x17\xea\x1b\x10\xc9\xc8P\xc6P\xad\x9e\x92Z\x9c"
	    "\\\xa4n\xa5\xa0n\x93i\xa1\xae\xa3\xa0\x9e\x96_TR\x94\x98\x17\x9f_\x94\x92\x0a\x12"
	    "wK\xcc)N\x05\x8a\x17g$\x16\xa4\x02\xf9\x1a\xc6:\x9a:\x0a\xb5\x0a\x14\x00.\x06(`\x84"
	    "\xd2LP\x1a\x00PK\x03\x04-\x00\x00\x00\x08\x00\x00\x00!\x00L\xfb\xef\x16\xff\xff\xff"
	    "\xff\xff\xff\xff\xff\x07\x00\x14\x00w/b.npy\x01\x00\x10\x00\x90\x00\x00\x00\x00\x00"
	    "\x00\x00L\x00\x00\x00\x00\x00\x00\x00\x9b\xec\x17\xea\x1b\x10\xc9\xc8P\xc6P\xad\x9e"
	    "\x92Z\x9c\\\xa4n\xa5\xa0n\x93""f\xa2\xae\xa3\xa0\x9e\x96_TR\x94\x98\x17\x9f_\x94"
	    "\x92\x0a\x12wK\xcc)N\x05\x8a\x17g$\x16\xa4\x02\xf9\x1a""F:\x0a""F\x9a:\x0a\xb5\x0a"
	    "d\x03.\x06\x86\x06{d\x0c\x00PK\x01\x02-\x03-\x00\x00\x00\x08\x00\x00\x00!\x00\xf7"
	    "@\x12\xeaL\x00\x00\x00\x98\x00\x00\x00\x05\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
	    "\x00\x80\x01\x00\x00\x00\x00""a.npyPK\x01\x02-\x03-\x00\x00\x00\x08\x00\x00\x00!"
	    "\x00L\xfb\xef\x16L\x00\x00\x00\x90\x00\x00\x00\x07\x00\x00\x00\x00\x00\x00\x00\x00"
	    "\x00\x00\x00\x80\x01\x83\x00\x00\x00w/b.npyPK\x05\x06\x00\x00\x00\x00\x02\x00\x02"
	    "\x00h\x00\x00\x00\x08\x01\x00\x00\x00\x00";
static const char npz_readme[] =
	    "PK\x03\x04\x14\x00\x00\x00\x00\x00\x00\x00!\x00\x99""bw\xdf\x82\x00\x00\x00\x82\x00"
	    "\x00\x00\x05\x00\x00\x00""a.npy\x93NUMPY\x01\x00v\x00{'descr': '|u1', 'fortran_o"
	    "rder': False, 'shape': (2,), }                                                  "
	    "          \x0a\x00\x01PK\x03\x04\x14\x00\x00\x00\x00\x00\x00\x00!\x00 0:6\x06\x00"
	    "\x00\x00\x06\x00\x00\x00\x0a\x00\x00\x00readme.txthello\x0aPK\x01\x02\x14\x03\x14"
	    "\x00\x00\x00\x00\x00\x00\x00!\x00\x99""bw\xdf\x82\x00\x00\x00\x82\x00\x00\x00\x05"
	    "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x01\x00\x00\x00\x00""a.npyPK\x01"
	    "\x02\x14\x03\x14\x00\x00\x00\x00\x00\x00\x00!\x00 0:6\x06\x00\x00\x00\x06\x00\x00"
	    "\x00\x0a\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x01\xa5\x00\x00\x00read"
	    "me.txtPK\x05\x06\x00\x00\x00\x00\x02\x00\x02\x00k\x00\x00\x00\xd3\x00\x00\x00\x00"
	    "\x00";

static unsigned char *
npz_bytes(const struct nl_tset *ts, size_t *len, int *rc, struct nl_err *err)
{
	struct nl_io io;

	nl_io_open_mem_write(&io);
	*rc = nl_fmt_npz_write(&io, ts, err);
	unsigned char *p = nl_io_mem_take(&io, len);
	nl_io_close(&io, NULL);
	return p;
}

/* How often s occurs in p (member names appear in local and central headers). */
static int
find(const unsigned char *p, size_t len, const char *s)
{
	size_t n = strlen(s);
	int c = 0;

	for (size_t i = 0; i + n <= len; i++)
		c += memcmp(p + i, s, n) == 0;
	return c;
}

static int
npz_load(const void *p, size_t n, struct nl_tset *ts, struct nl_err *err)
{
	struct nl_io io;

	nl_io_open_mem_read(&io, p, n);
	int rc = nl_fmt_npz_read(&io, ts, err);
	nl_io_close(&io, NULL);
	return rc;
}

static void
add(struct nl_tset *ts, const char *name, enum nl_dtype dt, int rank, const uint64_t *dims)
{
	struct nl_tinfo ti = { .dtype = dt, .rank = rank };
	struct nl_err err = { 0 };

	snprintf(ti.name, sizeof ti.name, "%s", name);
	if (rank > 0)
		memcpy(ti.dims, dims, (size_t)rank * sizeof *dims);
	struct nl_tensor *t = nl_tset_add(ts, &ti, &err);
	if (t == NULL) {
		printf("# add %s: %s\n", name, err.msg);
		abort();
	}
	unsigned char *p = t->data;
	for (size_t i = 0; i < t->nbytes; i++)
		p[i] = dt == NL_DTYPE_BOOL ? (unsigned char)(i & 1) : (unsigned char)(i * 31 + 7);
}

/* Several dtypes and ranks, a zero-size tensor, names with '/' and non-ASCII, metadata. */
static void
sample(struct nl_tset *ts, int with_meta)
{
	struct nl_err err = { 0 };

	nl_tset_init(ts);
	add(ts, "embed.weight", NL_DTYPE_F32, 2, (const uint64_t[]){ 3, 4 });
	add(ts, "layers.0/b", NL_DTYPE_I64, 1, (const uint64_t[]){ 5 });
	add(ts, "flag", NL_DTYPE_BOOL, 0, NULL);
	add(ts, "empty", NL_DTYPE_U16, 2, (const uint64_t[]){ 0, 3 });
	add(ts, "caf\xc3\xa9.w", NL_DTYPE_F16, 3, (const uint64_t[]){ 2, 1, 2 });
	if (with_meta) {
		T_CHECK(nl_meta_set(&ts->meta, "tokenizer.kind", "bytes \"q\"\n", &err) == 0);
		T_CHECK(nl_meta_set(&ts->meta, "a.b", "1", &err) == 0);
	}
}

static int
same_set(const struct nl_tset *a, const struct nl_tset *b)
{
	if (a->n != b->n || a->meta.n != b->meta.n)
		return 0;
	for (size_t i = 0; i < a->n; i++) {
		const struct nl_tinfo *x = &a->t[i].info, *y = &b->t[i].info;
		if (strcmp(x->name, y->name) != 0 || x->dtype != y->dtype || x->rank != y->rank ||
		    memcmp(x->dims, y->dims, (size_t)x->rank * sizeof x->dims[0]) != 0 ||
		    a->t[i].nbytes != b->t[i].nbytes ||
		    memcmp(a->t[i].data, b->t[i].data, a->t[i].nbytes) != 0)
			return 0;
	}
	for (size_t i = 0; i < a->meta.n; i++) {
		const char *v = nl_meta_get(&b->meta, a->meta.keys[i]);
		if (v == NULL || strcmp(v, a->meta.vals[i]) != 0)
			return 0;
	}
	return 1;
}

T_TEST(npz_roundtrip_with_meta)
{
	for (int meta = 0; meta <= 1; meta++) {
		struct nl_tset ts, back;
		struct nl_err err = { 0 };
		size_t len;
		int rc;

		sample(&ts, meta);
		unsigned char *p = npz_bytes(&ts, &len, &rc, &err);
		T_CHECK_MSG(rc == 0, "%s", err.msg);
		nl_tset_init(&back);
		rc = npz_load(p, len, &back, &err);
		T_CHECK_MSG(rc == 0, "%s", err.msg);
		T_CHECK(same_set(&ts, &back));
		/* the metadata member is last and only present when there is metadata */
		T_CHECK(memcmp(p + len - 22, "PK\005\006", 4) == 0);
		T_CHECK(find(p, len, "__metadata__.json") == (meta ? 2 : 0));
		free(p);
		nl_tset_free(&ts);
		nl_tset_free(&back);
	}
}

/* Same set, same bytes: write, read, write again. No timestamps anywhere. */
T_TEST(npz_rewrite_identical)
{
	struct nl_tset ts, back;
	struct nl_err err = { 0 };
	size_t l1, l2;
	int rc;

	sample(&ts, 1);
	unsigned char *p1 = npz_bytes(&ts, &l1, &rc, &err);
	nl_tset_init(&back);
	T_CHECK_MSG(npz_load(p1, l1, &back, &err) == 0, "%s", err.msg);
	unsigned char *p2 = npz_bytes(&back, &l2, &rc, &err);
	T_CHECK(l1 == l2 && memcmp(p1, p2, l1) == 0);
	/* first local header: version 2.0, stored, 00:00 1980-01-01 */
	T_CHECK(memcmp(p1, "PK\003\004\024\000\000\000\000\000\000\000\041\000", 14) == 0);
	free(p1);
	free(p2);
	nl_tset_free(&ts);
	nl_tset_free(&back);
}

/* Our archives are ordinary zips: libarchive lists the members with the right sizes. */
T_TEST(npz_layout_is_plain_zip)
{
	struct nl_tset ts;
	struct nl_err err = { 0 };
	size_t len;
	int rc, n = 0;

	sample(&ts, 1);
	unsigned char *p = npz_bytes(&ts, &len, &rc, &err);
	struct archive *a = archive_read_new();
	archive_read_support_format_zip_seekable(a);
	T_CHECK(archive_read_open_memory(a, p, len) == ARCHIVE_OK);
	struct archive_entry *e;
	/* WARN: the non-ASCII name may not convert to this test's C locale */
	while ((rc = archive_read_next_header(a, &e)) == ARCHIVE_OK || rc == ARCHIVE_WARN) {
		char want[300];
		const char *got = archive_entry_pathname_utf8(e);
		if ((size_t)n < ts.n)
			snprintf(want, sizeof want, "%s.npy", ts.t[n].info.name);
		else
			snprintf(want, sizeof want, "__metadata__.json");
		T_CHECK_MSG(got == NULL || strcmp(got, want) == 0, "%s", got);
		T_CHECK(archive_entry_size(e) > 0);
		T_CHECK(archive_entry_mtime(e) > 0);
		n++;
	}
	T_CHECK(n == (int)ts.n + 1);
	archive_read_free(a);
	free(p);
	nl_tset_free(&ts);
}

T_TEST(npz_empty_set)
{
	struct nl_tset ts, back;
	struct nl_err err = { 0 };
	size_t len;
	int rc;

	nl_tset_init(&ts);
	unsigned char *p = npz_bytes(&ts, &len, &rc, &err);
	T_CHECK(rc == 0 && len == 22 && memcmp(p, "PK\005\006", 4) == 0);
	nl_tset_init(&back);
	rc = npz_load(p, len, &back, &err);
	T_CHECK_MSG(rc == 0 && back.n == 0, "%s", err.msg);
	free(p);
	nl_tset_free(&back);
}

static void
check_numpy_archive(const char *lit, size_t len)
{
	struct nl_tset ts;
	struct nl_err err = { 0 };

	nl_tset_init(&ts);
	int rc = npz_load(lit, len, &ts, &err);
	T_CHECK_MSG(rc == 0, "%s", err.msg);
	T_CHECK(ts.n == 2);
	if (ts.n == 2) {
		const int64_t *a = ts.t[0].data;
		const float *b = ts.t[1].data;
		T_CHECK(strcmp(ts.t[0].info.name, "a") == 0 && ts.t[0].info.dtype == NL_DTYPE_I64 &&
		    ts.t[0].info.rank == 1 && ts.t[0].info.dims[0] == 3);
		T_CHECK(a[0] == 0 && a[1] == 1 && a[2] == 2);
		T_CHECK(strcmp(ts.t[1].info.name, "w/b") == 0 &&
		    ts.t[1].info.dtype == NL_DTYPE_F32 && ts.t[1].info.rank == 2 &&
		    ts.t[1].info.dims[0] == 2 && ts.t[1].info.dims[1] == 2);
		T_CHECK(b[0] == 1 && b[1] == 1 && b[2] == 1 && b[3] == 1);
	}
	nl_tset_free(&ts);
}

T_TEST(npz_reads_numpy_savez)
{
	check_numpy_archive(npz_numpy_stored, sizeof npz_numpy_stored - 1);
}

T_TEST(npz_reads_numpy_savez_compressed)
{
	check_numpy_archive(npz_numpy_deflated, sizeof npz_numpy_deflated - 1);
}

T_TEST(npz_non_npy_member)
{
	struct nl_tset ts;
	struct nl_err err = { 0 };

	nl_tset_init(&ts);
	T_CHECK(npz_load(npz_readme, sizeof npz_readme - 1, &ts, &err) < 0);
	T_CHECK_MSG(strcmp(err.msg, "npz member 'readme.txt' is not an .npy file") == 0, "%s",
	    err.msg);
	nl_tset_free(&ts);
}

/* Every proper prefix fails, and says the file ended early. */
static void
check_prefixes(const unsigned char *p, size_t len)
{
	int bad = 0;

	for (size_t k = 0; k < len; k++) {
		struct nl_tset ts;
		struct nl_err err = { 0 };
		unsigned char *q = malloc(k ? k : 1);

		memcpy(q, p, k);
		nl_tset_init(&ts);
		int rc = npz_load(q, k, &ts, &err);
		if (rc == 0 || strstr(err.msg, "unexpected end of file") == NULL) {
			if (bad++ < 5)
				printf("# prefix %zu of %zu: rc %d, '%s'\n", k, len, rc, err.msg);
			t_failed_now = 1;
		}
		nl_tset_free(&ts);
		free(q);
	}
}

T_TEST(npz_truncated_every_prefix)
{
	struct nl_tset ts;
	struct nl_err err = { 0 };
	size_t len;
	int rc;

	sample(&ts, 1);
	unsigned char *p = npz_bytes(&ts, &len, &rc, &err);
	check_prefixes(p, len);
	free(p);
	nl_tset_free(&ts);
}

T_TEST(npz_truncated_numpy_archives)
{
	check_prefixes((const unsigned char *)npz_numpy_stored, sizeof npz_numpy_stored - 1);
	check_prefixes((const unsigned char *)npz_numpy_deflated, sizeof npz_numpy_deflated - 1);
}

/* Byte positions of the first local header's fields. */
#define LH_CRC 14
#define LH_NAME 30

T_TEST(npz_corruptions)
{
	struct nl_tset ts, back;
	struct nl_err err = { 0 };
	size_t len;
	int rc;

	nl_tset_init(&ts);
	add(&ts, "a", NL_DTYPE_U8, 1, (const uint64_t[]){ 4 });
	add(&ts, "b", NL_DTYPE_U8, 1, (const uint64_t[]){ 4 });
	unsigned char *p = npz_bytes(&ts, &len, &rc, &err);
	unsigned char *q = malloc(len + 8);

	/* a flipped data byte: crc mismatch */
	memcpy(q, p, len);
	q[LH_NAME + 5 + 128 + 1] ^= 1;
	nl_tset_init(&back);
	T_CHECK(npz_load(q, len, &back, &err) < 0);
	T_CHECK_MSG(err.code == NL_ECRC && strstr(err.msg, "CRC") != NULL, "%d %s", err.code,
	    err.msg);
	nl_tset_free(&back);

	/* "b.npy" renamed "a.npy" in both headers: a duplicate tensor */
	memcpy(q, p, len);
	for (size_t i = 0; i + 5 <= len; i++)
		if (memcmp(q + i, "b.npy", 5) == 0)
			q[i] = 'a';
	T_CHECK(npz_load(q, len, &back, &err) < 0);
	T_CHECK_MSG(strstr(err.msg, "duplicate tensor name 'a'") != NULL, "%s", err.msg);
	nl_tset_free(&back);

	/* renamed in the central directory only: caught by the end check */
	memcpy(q, p, len);
	for (size_t i = len / 2; i + 5 <= len; i++)
		if (memcmp(q + i, "b.npy", 5) == 0)
			q[i] = 'c';
	T_CHECK(npz_load(q, len, &back, &err) < 0);
	T_CHECK_MSG(strstr(err.msg, "central directory does not match") != NULL, "%s", err.msg);
	nl_tset_free(&back);

	/* bytes after the end record */
	memcpy(q, p, len);
	memcpy(q + len, "garbage!", 8);
	T_CHECK(npz_load(q, len + 8, &back, &err) < 0 && back.n == 0 ? 1 : back.n == 2);
	T_CHECK_MSG(strstr(err.msg, "after the zip end record") != NULL, "%s", err.msg);
	nl_tset_free(&back);

	/* the member count in the end record disagrees */
	memcpy(q, p, len);
	q[len - 22 + 8] = 3;
	q[len - 22 + 10] = 3;
	T_CHECK(npz_load(q, len, &back, &err) < 0);
	T_CHECK_MSG(strstr(err.msg, "lists 3 members") != NULL, "%s", err.msg);
	nl_tset_free(&back);

	/* not a zip at all */
	T_CHECK(npz_load("\x93NUMPY\x01\x00", 8, &back, &err) < 0);
	T_CHECK_MSG(strcmp(err.msg, "not a zip archive") == 0, "%s", err.msg);
	nl_tset_free(&back);

	free(p);
	free(q);
	nl_tset_free(&ts);
}

T_TEST(npz_bf16_rejected)
{
	struct nl_tset ts;
	struct nl_err err = { 0 };
	size_t len;
	int rc;

	nl_tset_init(&ts);
	add(&ts, "h", NL_DTYPE_BF16, 1, (const uint64_t[]){ 2 });
	free(npz_bytes(&ts, &len, &rc, &err));
	T_CHECK(rc < 0 && err.code == NL_EUNSUPPORTED && strstr(err.msg, "BF16") != NULL);
	nl_tset_free(&ts);
}

T_TEST(npz_bad_metadata)
{
	struct nl_tset ts, back;
	struct nl_err err = { 0 };
	size_t len;
	int rc;

	nl_tset_init(&ts);
	T_CHECK(nl_meta_set(&ts.meta, "k", "v", &err) == 0);
	unsigned char *p = npz_bytes(&ts, &len, &rc, &err);
	/* {"k":"v"} becomes {"k":"v"] in place; the CRC is patched so only the JSON is wrong */
	for (size_t i = 0; i + 9 <= len; i++)
		if (memcmp(p + i, "{\"k\":\"v\"}", 9) == 0) {
			p[i + 8] = ']';
			uint32_t crc = 0xffffffffu;
			for (int j = 0; j < 9; j++) {
				crc ^= p[i + j];
				for (int b = 0; b < 8; b++)
					crc = crc >> 1 ^ (0xedb88320u & -(crc & 1));
			}
			crc ^= 0xffffffffu;
			nl_put32(p + LH_CRC, crc);
			for (size_t c = i + 9; c + 4 <= len; c++)
				if (memcmp(p + c, "PK\001\002", 4) == 0)
					nl_put32(p + c + 16, crc);
			break;
		}
	nl_tset_init(&back);
	T_CHECK(npz_load(p, len, &back, &err) < 0);
	T_CHECK_MSG(strstr(err.msg, "npz member '__metadata__.json'") == err.msg, "%s", err.msg);
	free(p);
	nl_tset_free(&ts);
	nl_tset_free(&back);
}

/* Rewrite an archive's end record into zip64 form (as a writer of big archives would). */
T_TEST(npz_reads_zip64_end)
{
	struct nl_tset ts, back;
	struct nl_err err = { 0 };
	size_t len;
	int rc;

	sample(&ts, 1);
	unsigned char *p = npz_bytes(&ts, &len, &rc, &err);
	unsigned char *q = malloc(len + 76);
	const unsigned char *e = p + len - 22;
	uint64_t n = nl_le16(e + 10), cd_size = nl_le32(e + 12), cd_off = nl_le32(e + 16);
	size_t at = len - 22;

	memcpy(q, p, at);
	nl_put32(q + at, 0x06064b50);
	nl_put64(q + at + 4, 44);
	nl_put16(q + at + 12, 45);
	nl_put16(q + at + 14, 45);
	nl_put32(q + at + 16, 0);
	nl_put32(q + at + 20, 0);
	nl_put64(q + at + 24, n);
	nl_put64(q + at + 32, n);
	nl_put64(q + at + 40, cd_size);
	nl_put64(q + at + 48, cd_off);
	nl_put32(q + at + 56, 0x07064b50);
	nl_put32(q + at + 60, 0);
	nl_put64(q + at + 64, at);
	nl_put32(q + at + 72, 1);
	memcpy(q + at + 76, e, 22);
	nl_put16(q + at + 76 + 8, 0xffff);
	nl_put16(q + at + 76 + 10, 0xffff);
	nl_put32(q + at + 76 + 16, 0xffffffffu);
	nl_tset_init(&back);
	rc = npz_load(q, len + 76, &back, &err);
	T_CHECK_MSG(rc == 0 && same_set(&ts, &back), "%s", err.msg);
	nl_tset_free(&back);
	/* and a zip64 record that points at the wrong place */
	nl_put64(q + at + 64, at - 1);
	T_CHECK(npz_load(q, len + 76, &back, &err) < 0);
	nl_tset_free(&back);
	free(p);
	free(q);
	nl_tset_free(&ts);
}

/* 65536 members need zip64 end records; libarchive's own reader must agree. */
T_TEST(npz_writes_zip64_for_many_members)
{
	enum { N = 65536 };
	struct nl_tset ts;
	struct nl_err err = { 0 };
	static unsigned char one[N];
	size_t len;
	int rc;

	nl_tset_init(&ts);
	ts.t = calloc(N, sizeof *ts.t);
	if (ts.t == NULL)
		abort();
	ts.n = ts.cap = N;
	for (size_t i = 0; i < N; i++) {
		struct nl_tensor *t = &ts.t[i];
		snprintf(t->info.name, sizeof t->info.name, "t%05zu", i);
		t->info.dtype = NL_DTYPE_U8;
		t->info.rank = 0;
		one[i] = (unsigned char)i;
		t->data = &one[i];
		t->nbytes = 1;
	}
	unsigned char *p = npz_bytes(&ts, &len, &rc, &err);
	T_CHECK_MSG(rc == 0, "%s", err.msg);
	const unsigned char *e = p + len - 22, *loc = e - 20, *e64 = loc - 56;
	T_CHECK(nl_le32(e) == 0x06054b50 && nl_le16(e + 8) == 0xffff && nl_le16(e + 10) == 0xffff);
	T_CHECK(nl_le32(loc) == 0x07064b50 && nl_le64(loc + 8) == (uint64_t)(e64 - p));
	T_CHECK(nl_le32(e64) == 0x06064b50 && nl_le64(e64 + 32) == N);
	T_CHECK(nl_le64(e64 + 48) + nl_le64(e64 + 40) == (uint64_t)(e64 - p));
	/* the seekable reader uses the central directory, so it checks the end records */
	struct archive *a = archive_read_new();
	archive_read_support_format_zip_seekable(a);
	T_CHECK(archive_read_open_memory(a, p, len) == ARCHIVE_OK);
	struct archive_entry *ae;
	size_t n = 0;
	while (archive_read_next_header(a, &ae) == ARCHIVE_OK) {
		if (n == N - 1)
			T_CHECK(strcmp(archive_entry_pathname(ae), "t65535.npy") == 0);
		n++;
	}
	T_CHECK_MSG(n == N, "libarchive listed %zu members", n);
	archive_read_free(a);
	/* and our streaming reader, whose end check then takes the zip64 path */
	struct nl_tset back;
	nl_tset_init(&back);
	rc = npz_load(p, len, &back, &err);
	T_CHECK_MSG(rc == 0 && back.n == N, "%s", err.msg);
	if (back.n == N)
		T_CHECK(strcmp(back.t[N - 1].info.name, "t65535") == 0 &&
		    *(unsigned char *)back.t[N - 1].data == (unsigned char)(N - 1));
	nl_tset_free(&back);
	free(p);
	free(ts.t);
}

int
main(void)
{
	T_RUN(npz_roundtrip_with_meta);
	T_RUN(npz_rewrite_identical);
	T_RUN(npz_layout_is_plain_zip);
	T_RUN(npz_empty_set);
	T_RUN(npz_reads_numpy_savez);
	T_RUN(npz_reads_numpy_savez_compressed);
	T_RUN(npz_non_npy_member);
	T_RUN(npz_truncated_every_prefix);
	T_RUN(npz_truncated_numpy_archives);
	T_RUN(npz_corruptions);
	T_RUN(npz_bf16_rejected);
	T_RUN(npz_bad_metadata);
	T_RUN(npz_reads_zip64_end);
	T_RUN(npz_writes_zip64_for_many_members);
	return t_done();
}
