/* nl — see LICENSE. nl-tensor container: round trips, canonical bytes, block boundaries,
 * streamed tensors, members, the corruption matrix and every truncated prefix. */
#include <stdint.h>
#include <zlib.h>

#include "io.h"
#include "t.h"
#include "tfile.h"

/* ---- an independent builder of .nlt bytes, record by record ---- */

static void b_u8(struct t_buf *b, unsigned v) { unsigned char c = (unsigned char)v; t_buf_add(b, &c, 1); }
static void b_u16(struct t_buf *b, unsigned v) { unsigned char c[2]; nl_put16(c, (uint16_t)v); t_buf_add(b, c, 2); }
static void b_u32(struct t_buf *b, uint32_t v) { unsigned char c[4]; nl_put32(c, v); t_buf_add(b, c, 4); }
static void b_u64(struct t_buf *b, uint64_t v) { unsigned char c[8]; nl_put64(c, v); t_buf_add(b, c, 8); }
static void b_str(struct t_buf *b, const char *s) { b_u32(b, (uint32_t)strlen(s)); t_buf_add(b, s, strlen(s)); }

static void
b_preamble(struct t_buf *b, unsigned major, unsigned minor)
{
	t_buf_add(b, NL_TFILE_MAGIC, 8);
	b_u16(b, major);
	b_u16(b, minor);
}

/* A record whose payload is pl; crc_xor != 0 corrupts its CRC. */
static void
b_record_x(struct t_buf *b, const char *type, const struct t_buf *pl, uint32_t crc_xor)
{
	uint32_t crc = (uint32_t)crc32_z(0, (const unsigned char *)type, 4);
	crc = (uint32_t)crc32_z(crc, pl->p, pl->n);
	b_u32(b, (uint32_t)pl->n);
	t_buf_add(b, type, 4);
	t_buf_add(b, pl->p, pl->n);
	b_u32(b, crc ^ crc_xor);
}

static void
b_record(struct t_buf *b, const char *type, struct t_buf *pl)
{
	b_record_x(b, type, pl, 0);
	free(pl->p);
	memset(pl, 0, sizeof *pl);
}

static void
b_head(struct t_buf *b, const char *k, const char *v)
{
	struct t_buf pl = { 0 };
	b_u32(&pl, 0);
	b_u32(&pl, k ? 1 : 0);
	if (k) {
		b_str(&pl, k);
		b_str(&pl, v);
	}
	b_record(b, "HEAD", &pl);
}

static void
b_tens(struct t_buf *b, const char *name, unsigned dtype, unsigned rank, uint32_t bs,
    const uint64_t *dims)
{
	struct t_buf pl = { 0 };
	b_str(&pl, name);
	b_u8(&pl, dtype);
	b_u8(&pl, rank);
	b_u16(&pl, 0);
	b_u32(&pl, bs);
	for (unsigned i = 0; i < rank; i++)
		b_u64(&pl, dims[i]);
	b_record(b, "TENS", &pl);
}

static void
b_data(struct t_buf *b, const void *raw, uint32_t n, int zlib)
{
	struct t_buf pl = { 0 };
	b_u32(&pl, n);
	b_u8(&pl, zlib ? 1 : 0);
	b_u8(&pl, 0); b_u8(&pl, 0); b_u8(&pl, 0);
	if (zlib) {
		uLongf zn = compressBound(n);
		unsigned char *z = malloc(zn);
		compress2(z, &zn, raw, n, 6);
		t_buf_add(&pl, z, zn);
		free(z);
	} else {
		t_buf_add(&pl, raw, n);
	}
	b_record(b, "DATA", &pl);
}

static void
b_tend(struct t_buf *b, uint64_t dim0, uint64_t raw, uint32_t crc)
{
	struct t_buf pl = { 0 };
	b_u64(&pl, dim0);
	b_u64(&pl, raw);
	b_u32(&pl, crc);
	b_record(b, "TEND", &pl);
}

static void
b_fend(struct t_buf *b, uint64_t n)
{
	struct t_buf pl = { 0 };
	b_u64(&pl, n);
	b_record(b, "FEND", &pl);
}

static const float w_vals[6] = { 1, 2, 3, 4, 5, 6 };
static const uint64_t w_dims[2] = { 2, 3 };

static uint32_t
crc_of(const void *p, size_t n)
{
	return (uint32_t)crc32_z(0, p, n);
}

/* The reference file: meta a=1, tensor w F32 [2,3] stored in one block. */
static void
b_reference(struct t_buf *b)
{
	b_preamble(b, 1, 0);
	b_head(b, "a", "1");
	b_tens(b, "w", NL_DTYPE_F32, 2, 1u << 20, w_dims);
	b_data(b, w_vals, sizeof w_vals, 0);
	b_tend(b, 2, sizeof w_vals, crc_of(w_vals, sizeof w_vals));
	b_fend(b, 1);
}

/* Read everything; return 0 on success or -1 with err filled. */
static int
read_all(const void *p, size_t n, struct nl_tset *ts, struct nl_err *err)
{
	struct nl_io io;
	nl_io_open_mem_read(&io, p, n);
	nl_tset_init(ts);
	int rc = nl_tfile_read_tset(&io, ts, err);
	nl_io_abort(&io);
	return rc;
}

static int
fails_with(const struct t_buf *b, const char *needle)
{
	struct nl_tset ts;
	struct nl_err err = { 0, "" };
	int rc = read_all(b->p, b->n, &ts, &err);
	nl_tset_free(&ts);
	if (rc == 0) {
		printf("# expected failure '%s', read succeeded\n", needle);
		return 0;
	}
	if (strstr(err.msg, needle) == NULL) {
		printf("# expected '%s', got '%s'\n", needle, err.msg);
		return 0;
	}
	return 1;
}

static unsigned char *
write_set(const struct nl_tset *ts, int level, uint32_t bs, size_t *len)
{
	struct nl_io io;
	struct nl_err err = { 0, "" };
	struct nl_tfile *tf;

	nl_io_open_mem_write(&io);
	if (nl_tfile_open_write(&tf, &io, &ts->meta, level, &err) < 0)
		goto fail;
	if (bs && nl_tfile_set_block_size(tf, bs, &err) < 0)
		goto fail;
	for (size_t i = 0; i < ts->n; i++)
		if (nl_tfile_begin(tf, &ts->t[i].info, &err) < 0 ||
		    nl_tfile_write(tf, ts->t[i].data, ts->t[i].nbytes, &err) < 0 ||
		    nl_tfile_end(tf, &err) < 0)
			goto fail;
	if (nl_tfile_close(tf, &err) < 0)
		goto fail;
	unsigned char *p = nl_io_mem_take(&io, len);
	nl_io_abort(&io);
	return p;
fail:
	printf("# write failed: %s\n", err.msg);
	nl_io_abort(&io);
	*len = 0;
	return NULL;
}

static int
sets_equal(const struct nl_tset *a, const struct nl_tset *b)
{
	if (a->n != b->n || a->meta.n != b->meta.n)
		return 0;
	for (size_t i = 0; i < a->meta.n; i++)
		if (strcmp(a->meta.keys[i], b->meta.keys[i]) || strcmp(a->meta.vals[i], b->meta.vals[i]))
			return 0;
	for (size_t i = 0; i < a->n; i++) {
		const struct nl_tensor *x = &a->t[i], *y = &b->t[i];
		if (strcmp(x->info.name, y->info.name) || x->info.dtype != y->info.dtype ||
		    x->info.rank != y->info.rank || x->nbytes != y->nbytes ||
		    memcmp(x->info.dims, y->info.dims, sizeof x->info.dims) ||
		    (x->nbytes && memcmp(x->data, y->data, x->nbytes)))
			return 0;
	}
	return 1;
}

static uint64_t rng_state = 88172645463325252ull;
static uint64_t
rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void
fill(struct nl_tensor *t, int compressible)
{
	unsigned char *p = t->data;
	for (size_t i = 0; i < t->nbytes; i++)
		p[i] = compressible ? (unsigned char)(i % 7) : (unsigned char)rnd();
	if (t->info.dtype == NL_DTYPE_BOOL)
		for (size_t i = 0; i < t->nbytes; i++)
			p[i] &= 1;
}

static struct nl_tensor *
add(struct nl_tset *ts, const char *name, enum nl_dtype dt, int rank, const uint64_t *dims)
{
	struct nl_tinfo ti;
	struct nl_err err = { 0, "" };
	memset(&ti, 0, sizeof ti);
	snprintf(ti.name, sizeof ti.name, "%s", name);
	ti.dtype = dt;
	ti.rank = rank;
	for (int i = 0; i < rank; i++)
		ti.dims[i] = dims[i];
	struct nl_tensor *t = nl_tset_add(ts, &ti, &err);
	if (t == NULL)
		printf("# add %s: %s\n", name, err.msg);
	return t;
}

/* ---- tests ---- */

T_TEST(writer_matches_independent_builder)
{
	struct t_buf b = { 0 };
	struct nl_tset ts;
	struct nl_err err = { 0, "" };
	size_t n;

	b_reference(&b);
	nl_tset_init(&ts);
	nl_meta_set(&ts.meta, "a", "1", &err);
	struct nl_tensor *t = add(&ts, "w", NL_DTYPE_F32, 2, w_dims);
	memcpy(t->data, w_vals, sizeof w_vals);
	unsigned char *p = write_set(&ts, 0, 0, &n);
	T_CHECK(p != NULL && n == b.n && memcmp(p, b.p, n) == 0);
	free(p);
	/* level 1 on 24 bytes does not shrink: stored, so the same bytes */
	p = write_set(&ts, 1, 0, &n);
	T_CHECK(p != NULL && n == b.n && memcmp(p, b.p, n) == 0);
	free(p);
	struct nl_tset back;
	T_CHECK(read_all(b.p, b.n, &back, &err) == 0);
	T_CHECK(sets_equal(&ts, &back));
	nl_tset_free(&back);
	nl_tset_free(&ts);
	free(b.p);
}

T_TEST(every_dtype_and_rank_round_trips)
{
	struct nl_tset ts, back;
	struct nl_err err = { 0, "" };
	char name[32];
	size_t n;

	nl_tset_init(&ts);
	nl_meta_set(&ts.meta, "kind", "params", &err);
	nl_meta_set(&ts.meta, "z.last", "ü ∑ value", &err);
	for (int dt = 1; dt <= NL_DTYPE_MAX; dt++)
		for (int rank = 0; rank <= NL_MAX_RANK; rank++) {
			uint64_t dims[NL_MAX_RANK];
			for (int i = 0; i < rank; i++)
				dims[i] = 1 + (uint64_t)((i + dt) % 3);
			snprintf(name, sizeof name, "t.%s.r%d", nl_dtype_name(dt), rank);
			fill(add(&ts, name, dt, rank, dims), dt % 2);
		}
	for (int level = 0; level <= 9; level += 3) {
		unsigned char *p = write_set(&ts, level, 0, &n);
		T_CHECK(p != NULL);
		T_CHECK(read_all(p, n, &back, &err) == 0);
		T_CHECK_MSG(sets_equal(&ts, &back), "level %d", level);
		/* canonical: rewriting what was read gives the same bytes */
		size_t n2;
		unsigned char *p2 = write_set(&back, level, 0, &n2);
		T_CHECK(p2 != NULL && n2 == n && memcmp(p, p2, n) == 0);
		nl_tset_free(&back);
		free(p);
		free(p2);
	}
	nl_tset_free(&ts);
}

T_TEST(zero_size_dims)
{
	struct nl_tset ts, back;
	struct nl_err err = { 0, "" };
	uint64_t d0[3] = { 0, 5, 2 }, d1[2] = { 4, 0 }, d2[1] = { 0 };
	size_t n;

	nl_tset_init(&ts);
	add(&ts, "a", NL_DTYPE_F32, 3, d0);
	add(&ts, "b", NL_DTYPE_I64, 2, d1);
	add(&ts, "c", NL_DTYPE_BOOL, 1, d2);
	unsigned char *p = write_set(&ts, 1, 0, &n);
	T_CHECK(p != NULL);
	T_CHECK(read_all(p, n, &back, &err) == 0);
	T_CHECK(sets_equal(&ts, &back));
	nl_tset_free(&back);
	nl_tset_free(&ts);
	free(p);
}

T_TEST(block_size_boundaries)
{
	struct nl_err err = { 0, "" };
	static const uint32_t sizes[] = { 1, 63, 64, 65, 127, 128, 129, 64 * 5 };

	for (int level = 0; level <= 1; level++)
		for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
			struct nl_tset ts, back;
			uint64_t dims[1] = { sizes[k] };
			size_t n;
			nl_tset_init(&ts);
			fill(add(&ts, "x", NL_DTYPE_U8, 1, dims), level);
			unsigned char *p = write_set(&ts, level, 64, &n);
			T_CHECK(p != NULL);
			T_CHECK_MSG(read_all(p, n, &back, &err) == 0, "%u bytes: %s", sizes[k], err.msg);
			T_CHECK_MSG(sets_equal(&ts, &back), "%u bytes level %d", sizes[k], level);
			/* count DATA records: ceil(size / 64) */
			size_t blocks = 0;
			for (size_t i = 0; i + 4 <= n; i++)
				if (memcmp(p + i, "DATA", 4) == 0)
					blocks++;
			T_CHECK_MSG(blocks >= (sizes[k] + 63) / 64, "%zu blocks for %u", blocks, sizes[k]);
			nl_tset_free(&back);
			nl_tset_free(&ts);
			free(p);
		}
	/* a block size that is not a multiple of the element size */
	struct nl_io io;
	struct nl_tfile *tf;
	struct nl_tinfo ti = { "f", NL_DTYPE_F32, 1, { 4 } };
	nl_io_open_mem_write(&io);
	T_CHECK(nl_tfile_open_write(&tf, &io, NULL, 1, &err) == 0);
	T_CHECK(nl_tfile_set_block_size(tf, 6, &err) == 0);
	T_CHECK(nl_tfile_begin(tf, &ti, &err) < 0 && strstr(err.msg, "block size") != NULL);
	nl_tfile_free(tf);
	nl_io_abort(&io);
}

T_TEST(incompressible_blocks_are_stored)
{
	struct nl_tset ts;
	uint64_t dims[1] = { 4096 };
	size_t n;

	nl_tset_init(&ts);
	fill(add(&ts, "noise", NL_DTYPE_U8, 1, dims), 0);
	unsigned char *p = write_set(&ts, 9, 1024, &n);
	T_CHECK(p != NULL);
	/* every DATA record: codec byte 0 and payload = 8 + 1024 */
	int stored = 0;
	for (size_t i = 4; i + 9 <= n; i++)
		if (memcmp(p + i, "DATA", 4) == 0 && nl_le32(p + i - 4) == 8 + 1024 && p[i + 8] == 0)
			stored++;
	T_CHECK(stored == 4);
	nl_tset_free(&ts);
	free(p);
}

T_TEST(streamed_first_dimension)
{
	struct nl_io io;
	struct nl_err err = { 0, "" };
	struct nl_tfile *tf;
	struct nl_tinfo ti = { "tokens", NL_DTYPE_U16, 2, { NL_DIM_STREAM, 2 } }, got;
	uint16_t rows[2 * 1000];
	size_t n, k;

	for (int i = 0; i < 2000; i++)
		rows[i] = (uint16_t)(i * 7);
	nl_io_open_mem_write(&io);
	T_CHECK(nl_tfile_open_write(&tf, &io, NULL, 1, &err) == 0);
	T_CHECK(nl_tfile_set_block_size(tf, 256, &err) == 0);
	T_CHECK(nl_tfile_begin(tf, &ti, &err) == 0);
	for (int i = 0; i < 1000; i += 10)
		T_CHECK(nl_tfile_write(tf, rows + 2 * i, 40, &err) == 0);
	T_CHECK(nl_tfile_end(tf, &err) == 0);
	T_CHECK(nl_tfile_close(tf, &err) == 0);
	unsigned char *p = nl_io_mem_take(&io, &n);
	nl_io_abort(&io);

	nl_io_open_mem_read(&io, p, n);
	T_CHECK(nl_tfile_open_read(&tf, &io, &err) == 0);
	T_CHECK(nl_tfile_next(tf, &got, &err) == 1);
	T_CHECK(got.dims[0] == NL_DIM_STREAM && got.dims[1] == 2);
	uint16_t back[2000];
	size_t total = 0;
	do {
		T_CHECK(nl_tfile_read(tf, (unsigned char *)back + total, 333 < sizeof back - total ? 333 : sizeof back - total + 1, &k, &err) == 0);
		total += k;
	} while (k > 0 && total <= sizeof back);
	T_CHECK(total == sizeof back && memcmp(back, rows, sizeof back) == 0);
	T_CHECK(nl_tfile_current(tf)->dims[0] == 1000);
	T_CHECK(nl_tfile_next(tf, &got, &err) == 0);
	T_CHECK(nl_tfile_next_member(tf, &err) == 0);
	nl_tfile_free(tf);
	nl_io_abort(&io);

	/* a streamed length that is not whole rows is refused by the writer */
	nl_io_open_mem_write(&io);
	T_CHECK(nl_tfile_open_write(&tf, &io, NULL, 1, &err) == 0);
	T_CHECK(nl_tfile_begin(tf, &ti, &err) == 0);
	T_CHECK(nl_tfile_write(tf, rows, 6, &err) == 0);
	T_CHECK(nl_tfile_end(tf, &err) < 0 && strstr(err.msg, "rows") != NULL);
	nl_tfile_free(tf);
	nl_io_abort(&io);
	free(p);
}

T_TEST(several_members)
{
	struct t_buf b = { 0 };
	struct nl_tset ts;
	struct nl_err err = { 0, "" };
	struct nl_tfile *tf;
	struct nl_tinfo ti;
	struct nl_io io;

	b_reference(&b);
	size_t one = b.n;
	unsigned char *copy = malloc(one);
	memcpy(copy, b.p, one); /* b_bytes may move b.p */
	t_buf_add(&b, copy, one);
	free(copy);
	/* the same tensor name twice is fine across members at this level ... */
	nl_io_open_mem_read(&io, b.p, b.n);
	T_CHECK(nl_tfile_open_read(&tf, &io, &err) == 0);
	T_CHECK(nl_tfile_next(tf, &ti, &err) == 1);
	T_CHECK(nl_tfile_next(tf, &ti, &err) == 0);
	T_CHECK(io.offset == one); /* stops exactly at the end of FEND */
	T_CHECK(nl_tfile_next_member(tf, &err) == 1);
	T_CHECK(nl_tfile_next(tf, &ti, &err) == 1 && strcmp(ti.name, "w") == 0);
	T_CHECK(nl_tfile_next(tf, &ti, &err) == 0);
	T_CHECK(nl_tfile_next_member(tf, &err) == 0);
	nl_tfile_free(tf);
	nl_io_abort(&io);
	/* ... but merging them into one set is a duplicate */
	T_CHECK(fails_with(&b, "duplicate tensor name 'w'"));
	/* garbage after a member */
	b.n = one;
	t_buf_add(&b, "junkjunk", 8);
	T_CHECK(fails_with(&b, "unexpected data after the end"));
	/* a partial second magic is a truncation */
	b.n = one;
	t_buf_add(&b, NL_TFILE_MAGIC, 3);
	T_CHECK(fails_with(&b, "unexpected end of file"));
	b.n = one;
	T_CHECK(read_all(b.p, b.n, &ts, &err) == 0 && ts.n == 1);
	nl_tset_free(&ts);
	free(b.p);
}

T_TEST(bad_magic_says_what_it_is)
{
	struct t_buf b = { 0 };
	unsigned char tar[600] = { 0 };

	memcpy(tar + 257, "ustar", 5);
	t_buf_add(&b, tar, sizeof tar);
	T_CHECK(fails_with(&b, "looks like a tar archive; try nl-convert"));
	b.n = 0;
	t_buf_add(&b, "\x93NUMPY\x01\x00", 8);
	T_CHECK(fails_with(&b, "numpy"));
	b.n = 0;
	t_buf_add(&b, "\x1f\x8b\x08\x00\x00\x00\x00\x00", 8);
	T_CHECK(fails_with(&b, "gzip"));
	b.n = 0;
	t_buf_add(&b, "GGUF\x03\x00\x00\x00", 8);
	T_CHECK(fails_with(&b, "GGUF"));
	b.n = 0;
	t_buf_add(&b, "\x10\x00\x00\x00\x00\x00\x00\x00{\"a\":1}", 15);
	T_CHECK(fails_with(&b, "safetensors"));
	b.n = 0;
	t_buf_add(&b, "hello, world\n", 13);
	T_CHECK(fails_with(&b, "not an nl-tensor file (bad magic)"));
	b.n = 0;
	T_CHECK(fails_with(&b, "empty input"));
	free(b.p);
}

T_TEST(versions)
{
	struct t_buf b = { 0 };
	struct nl_tset ts;
	struct nl_err err = { 0, "" };

	b_preamble(&b, 2, 0);
	b_head(&b, NULL, NULL);
	b_fend(&b, 0);
	T_CHECK(fails_with(&b, "newer nl (format 2.x"));
	b.n = 0;
	b_preamble(&b, 0x0100, 0);
	T_CHECK(fails_with(&b, "byte-swapped"));
	b.n = 0;
	b_preamble(&b, 0, 0);
	T_CHECK(fails_with(&b, "format version 0.x does not exist"));
	b.n = 0;
	b_preamble(&b, 1, 7); /* a newer minor version is read */
	b_head(&b, NULL, NULL);
	b_fend(&b, 0);
	T_CHECK(read_all(b.p, b.n, &ts, &err) == 0 && ts.n == 0);
	nl_tset_free(&ts);
	free(b.p);
}

/* Rebuild the reference file with one record replaced by a callback's. */
enum part { P_HEAD, P_TENS, P_DATA, P_TEND, P_FEND };

T_TEST(crc_flip_per_record_type)
{
	static const struct { const char *type, *msg; } cases[] = {
		{ "HEAD", "crc mismatch in HEAD record" },
		{ "TENS", "crc mismatch in TENS record 1" },
		{ "DATA", "crc mismatch in DATA record 1 of tensor 'w'" },
		{ "TEND", "crc mismatch in TEND record of tensor 'w'" },
		{ "FEND", "crc mismatch in FEND record" },
	};
	struct t_buf ref = { 0 };

	b_reference(&ref);
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		struct t_buf b = { 0 };
		t_buf_add(&b, ref.p, ref.n);
		/* find the record and flip one bit of its CRC */
		size_t at = 12;
		while (at < b.n && memcmp(b.p + at + 4, cases[c].type, 4) != 0)
			at += 8 + nl_le32(b.p + at) + 4;
		size_t crc_at = at + 8 + nl_le32(b.p + at);
		b.p[crc_at] ^= 0x01;
		T_CHECK_MSG(fails_with(&b, cases[c].msg), "%s", cases[c].type);
		/* a flipped payload byte is caught the same way */
		b.p[crc_at] ^= 0x01;
		b.p[crc_at - 1] ^= 0x40;
		T_CHECK_MSG(fails_with(&b, "crc mismatch"), "%s payload", cases[c].type);
		free(b.p);
	}
	free(ref.p);
}

T_TEST(critical_and_ancillary_records)
{
	struct t_buf b = { 0 }, pl = { 0 };
	struct nl_tset ts;
	struct nl_err err = { 0, "" };

	b_preamble(&b, 1, 0);
	b_head(&b, "a", "1");
	b_str(&pl, "a note nobody needs");
	b_record(&b, "note", &pl);
	b_tens(&b, "w", NL_DTYPE_F32, 2, 1u << 20, w_dims);
	b_str(&pl, "in the middle");
	b_record(&b, "xtra", &pl);
	b_data(&b, w_vals, sizeof w_vals, 1);
	b_tend(&b, 2, sizeof w_vals, crc_of(w_vals, sizeof w_vals));
	b_fend(&b, 1);
	T_CHECK(read_all(b.p, b.n, &ts, &err) == 0 && ts.n == 1 &&
	    memcmp(ts.t[0].data, w_vals, sizeof w_vals) == 0);
	nl_tset_free(&ts);
	/* the same with a critical unknown record */
	b.n = 0;
	b_preamble(&b, 1, 0);
	b_head(&b, "a", "1");
	b_str(&pl, "?");
	b_record(&b, "ABCD", &pl);
	b_fend(&b, 0);
	T_CHECK(fails_with(&b, "unknown critical record 'ABCD'"));
	/* a record type that is not letters */
	b.n = 0;
	b_preamble(&b, 1, 0);
	b_head(&b, "a", "1");
	b_str(&pl, "?");
	b_record(&b, "A1CD", &pl);
	T_CHECK(fails_with(&b, "invalid record type"));
	/* the first record must be HEAD, even an ancillary one may not come before it */
	b.n = 0;
	b_preamble(&b, 1, 0);
	b_fend(&b, 0);
	T_CHECK(fails_with(&b, "expected HEAD record"));
	b.n = 0;
	b_preamble(&b, 1, 0);
	b_str(&pl, "early");
	b_record(&b, "note", &pl);
	b_head(&b, NULL, NULL);
	b_fend(&b, 0);
	T_CHECK(fails_with(&b, "expected HEAD record, found note"));
	free(b.p);
}

T_TEST(oversized_record)
{
	struct t_buf b = { 0 };

	b_preamble(&b, 1, 0);
	b_u32(&b, (64u << 20) + 1);
	t_buf_add(&b, "HEAD", 4);
	T_CHECK(fails_with(&b, "exceeds the 64 MiB limit"));
	free(b.p);
}

/* A file with one tensor header given by the arguments and no data. */
static void
b_one_tens(struct t_buf *b, const char *name, unsigned dtype, unsigned rank, uint32_t bs,
    const uint64_t *dims)
{
	b->n = 0;
	b_preamble(b, 1, 0);
	b_head(b, NULL, NULL);
	b_tens(b, name, dtype, rank, bs, dims);
	b_tend(b, 0, 0, 0);
	b_fend(b, 1);
}

T_TEST(tensor_header_limits)
{
	struct t_buf b = { 0 };
	uint64_t dims[9] = { 2, 2, 2, 2, 2, 2, 2, 2, 2 };
	uint64_t big[3] = { 1ull << 40, 1ull << 40, 1 };
	uint64_t huge[2] = { 1ull << 46, 8 };
	uint64_t one[1] = { 0 };
	char longname[300];

	b_one_tens(&b, "r", NL_DTYPE_U8, 9, 64, dims);
	T_CHECK(fails_with(&b, "rank 9 exceeds 8"));
	b_one_tens(&b, "", NL_DTYPE_U8, 1, 64, one);
	T_CHECK(fails_with(&b, "name of 0 bytes"));
	memset(longname, 'n', 256);
	longname[256] = '\0';
	b_one_tens(&b, longname, NL_DTYPE_U8, 1, 64, one);
	T_CHECK(fails_with(&b, "name of 256 bytes"));
	b_one_tens(&b, "bad\001name", NL_DTYPE_U8, 1, 64, one);
	T_CHECK(fails_with(&b, "invalid tensor name"));
	b_one_tens(&b, "d", 99, 1, 64, one);
	T_CHECK(fails_with(&b, "unknown dtype 99"));
	b_one_tens(&b, "d", 0, 1, 64, one);
	T_CHECK(fails_with(&b, "unknown dtype 0"));
	b_one_tens(&b, "b", NL_DTYPE_F32, 1, 0, one);
	T_CHECK(fails_with(&b, "block size 0"));
	b_one_tens(&b, "b", NL_DTYPE_F32, 1, 6, one);
	T_CHECK(fails_with(&b, "block size 6"));
	b_one_tens(&b, "b", NL_DTYPE_U8, 1, NL_TFILE_MAX_BLOCK + 1, one);
	T_CHECK(fails_with(&b, "block size"));
	b_one_tens(&b, "o", NL_DTYPE_F32, 3, 64, big);
	T_CHECK(fails_with(&b, "shape overflows"));
	b_one_tens(&b, "h", NL_DTYPE_F64, 2, 64, huge);
	T_CHECK(fails_with(&b, "exceeds 2^48 bytes"));
	uint64_t inner_stream[2] = { 2, NL_DIM_STREAM };
	b_one_tens(&b, "s", NL_DTYPE_U8, 2, 64, inner_stream);
	T_CHECK(fails_with(&b, "only the first dimension may be streamed"));
	/* duplicate name within a member */
	b.n = 0;
	b_preamble(&b, 1, 0);
	b_head(&b, NULL, NULL);
	b_tens(&b, "x", NL_DTYPE_U8, 1, 64, one);
	b_tend(&b, 0, 0, 0);
	b_tens(&b, "x", NL_DTYPE_U8, 1, 64, one);
	b_tend(&b, 0, 0, 0);
	b_fend(&b, 2);
	T_CHECK(fails_with(&b, "duplicate tensor name 'x'"));
	/* reserved bits set */
	struct t_buf pl = { 0 };
	b.n = 0;
	b_preamble(&b, 1, 0);
	b_head(&b, NULL, NULL);
	b_str(&pl, "r");
	b_u8(&pl, NL_DTYPE_U8);
	b_u8(&pl, 1);
	b_u16(&pl, 1);
	b_u32(&pl, 64);
	b_u64(&pl, 0);
	b_record(&b, "TENS", &pl);
	T_CHECK(fails_with(&b, "reserved field"));
	free(b.p);
}

T_TEST(head_rules)
{
	struct t_buf b = { 0 }, pl = { 0 };

	/* duplicate key */
	b_preamble(&b, 1, 0);
	b_u32(&pl, 0);
	b_u32(&pl, 2);
	b_str(&pl, "k");
	b_str(&pl, "1");
	b_str(&pl, "k");
	b_str(&pl, "2");
	b_record(&b, "HEAD", &pl);
	b_fend(&b, 0);
	T_CHECK(fails_with(&b, "duplicate metadata key 'k'"));
	/* invalid key */
	b.n = 0;
	b_preamble(&b, 1, 0);
	b_head(&b, "Bad.Key", "v");
	b_fend(&b, 0);
	T_CHECK(fails_with(&b, "invalid metadata key"));
	/* count larger than the payload */
	b.n = 0;
	b_preamble(&b, 1, 0);
	b_u32(&pl, 0);
	b_u32(&pl, 1000000);
	b_record(&b, "HEAD", &pl);
	T_CHECK(fails_with(&b, "malformed HEAD record"));
	/* flags must be zero */
	b.n = 0;
	b_preamble(&b, 1, 0);
	b_u32(&pl, 1);
	b_u32(&pl, 0);
	b_record(&b, "HEAD", &pl);
	T_CHECK(fails_with(&b, "malformed HEAD record"));
	/* trailing bytes */
	b.n = 0;
	b_preamble(&b, 1, 0);
	b_u32(&pl, 0);
	b_u32(&pl, 0);
	b_u8(&pl, 0);
	b_record(&b, "HEAD", &pl);
	T_CHECK(fails_with(&b, "trailing bytes"));
	free(b.p);
}

T_TEST(data_and_tend_rules)
{
	struct t_buf b = { 0 }, pl = { 0 };
	const uint32_t crc = crc_of(w_vals, sizeof w_vals);

#define START() do { b.n = 0; b_preamble(&b, 1, 0); b_head(&b, NULL, NULL); \
	b_tens(&b, "w", NL_DTYPE_F32, 2, 1u << 20, w_dims); } while (0)
	/* short inflation: the zlib block holds fewer bytes than raw_len claims */
	START();
	{
		uLongf zn = 64;
		unsigned char z[64];
		compress2(z, &zn, (const unsigned char *)w_vals, 20, 6);
		b_u32(&pl, 24);
		b_u8(&pl, 1); b_u8(&pl, 0); b_u8(&pl, 0); b_u8(&pl, 0);
		t_buf_add(&pl, z, zn);
		b_record(&b, "DATA", &pl);
	}
	T_CHECK(fails_with(&b, "does not inflate to 24 bytes"));
	/* long inflation */
	START();
	{
		float more[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
		uLongf zn = 128;
		unsigned char z[128];
		compress2(z, &zn, (const unsigned char *)more, sizeof more, 6);
		b_u32(&pl, 24);
		b_u8(&pl, 1); b_u8(&pl, 0); b_u8(&pl, 0); b_u8(&pl, 0);
		t_buf_add(&pl, z, zn);
		b_record(&b, "DATA", &pl);
	}
	T_CHECK(fails_with(&b, "does not inflate to 24 bytes"));
	/* trailing bytes after the zlib stream */
	START();
	{
		uLongf zn = 64;
		unsigned char z[64];
		compress2(z, &zn, (const unsigned char *)w_vals, 24, 6);
		b_u32(&pl, 24);
		b_u8(&pl, 1); b_u8(&pl, 0); b_u8(&pl, 0); b_u8(&pl, 0);
		t_buf_add(&pl, z, zn);
		b_u8(&pl, 0);
		b_record(&b, "DATA", &pl);
	}
	T_CHECK(fails_with(&b, "does not inflate"));
	/* garbage instead of zlib */
	START();
	b_u32(&pl, 24);
	b_u8(&pl, 1); b_u8(&pl, 0); b_u8(&pl, 0); b_u8(&pl, 0);
	t_buf_add(&pl, "not zlib at all!", 16);
	b_record(&b, "DATA", &pl);
	T_CHECK(fails_with(&b, "does not inflate"));
	/* wrong raw_len for stored data */
	START();
	b_u32(&pl, 20);
	b_u8(&pl, 0); b_u8(&pl, 0); b_u8(&pl, 0); b_u8(&pl, 0);
	t_buf_add(&pl, w_vals, 24);
	b_record(&b, "DATA", &pl);
	T_CHECK(fails_with(&b, "stored bytes for raw length 20"));
	/* more data than the shape */
	b.n = 0;
	b_preamble(&b, 1, 0);
	b_head(&b, NULL, NULL);
	b_tens(&b, "w", NL_DTYPE_F32, 2, 8, w_dims);
	for (int i = 0; i < 3; i++)
		b_data(&b, w_vals + 2 * i, 8, 0);
	b_data(&b, w_vals, 4, 0);
	T_CHECK(fails_with(&b, "more data than its shape holds"));
	/* unknown codec */
	START();
	b_u32(&pl, 24);
	b_u8(&pl, 2); b_u8(&pl, 0); b_u8(&pl, 0); b_u8(&pl, 0);
	t_buf_add(&pl, w_vals, 24);
	b_record(&b, "DATA", &pl);
	T_CHECK(fails_with(&b, "unknown codec 2"));
	/* a short block followed by another */
	b.n = 0;
	b_preamble(&b, 1, 0);
	b_head(&b, NULL, NULL);
	b_tens(&b, "w", NL_DTYPE_F32, 2, 16, w_dims);
	b_data(&b, w_vals, 8, 0);
	b_data(&b, w_vals + 2, 16, 0);
	T_CHECK(fails_with(&b, "follows a short block"));
	/* TEND disagreements */
	START();
	b_data(&b, w_vals, sizeof w_vals, 0);
	b_tend(&b, 2, sizeof w_vals, crc ^ 1);
	b_fend(&b, 1);
	T_CHECK(fails_with(&b, "content crc mismatch"));
	START();
	b_data(&b, w_vals, sizeof w_vals, 0);
	b_tend(&b, 3, sizeof w_vals, crc);
	b_fend(&b, 1);
	T_CHECK(fails_with(&b, "TEND dims[0] 3 disagrees"));
	START();
	b_data(&b, w_vals, sizeof w_vals, 0);
	b_tend(&b, 2, 28, crc);
	b_fend(&b, 1);
	T_CHECK(fails_with(&b, "TEND says 28 bytes"));
	START();
	b_data(&b, w_vals, 20, 0);
	b_tend(&b, 2, 20, crc_of(w_vals, 20));
	b_fend(&b, 1);
	T_CHECK(fails_with(&b, "20 bytes of data for its shape"));
	/* missing TEND, missing FEND, wrong FEND count, stray TEND */
	START();
	b_data(&b, w_vals, sizeof w_vals, 0);
	b_fend(&b, 1);
	T_CHECK(fails_with(&b, "FEND record before its TEND"));
	START();
	b_data(&b, w_vals, sizeof w_vals, 0);
	b_tend(&b, 2, sizeof w_vals, crc);
	T_CHECK(fails_with(&b, "unexpected end of file"));
	START();
	b_data(&b, w_vals, sizeof w_vals, 0);
	b_tend(&b, 2, sizeof w_vals, crc);
	b_fend(&b, 2);
	T_CHECK(fails_with(&b, "FEND counts 2 tensors, the file holds 1"));
	b.n = 0;
	b_preamble(&b, 1, 0);
	b_head(&b, NULL, NULL);
	b_tend(&b, 0, 0, 0);
	T_CHECK(fails_with(&b, "unexpected TEND record outside a tensor"));
#undef START
	free(b.p);
}

T_TEST(every_prefix_of_a_valid_file_fails)
{
	struct nl_tset ts;
	struct nl_err err = { 0, "" };
	uint64_t d1[1] = { 300 }, d2[2] = { 100, 3 };
	size_t n;

	nl_tset_init(&ts);
	nl_meta_set(&ts.meta, "kind", "test", &err);
	fill(add(&ts, "a", NL_DTYPE_U8, 1, d1), 1);
	fill(add(&ts, "b", NL_DTYPE_I16, 2, d2), 0);
	ts.t[1].info.dims[0] = NL_DIM_STREAM; /* written streamed below */
	struct nl_io io;
	struct nl_tfile *tf;
	nl_io_open_mem_write(&io);
	nl_tfile_open_write(&tf, &io, &ts.meta, 1, &err);
	nl_tfile_set_block_size(tf, 64, &err);
	nl_tfile_begin(tf, &ts.t[0].info, &err);
	nl_tfile_write(tf, ts.t[0].data, ts.t[0].nbytes, &err);
	nl_tfile_end(tf, &err);
	nl_tfile_begin(tf, &ts.t[1].info, &err);
	nl_tfile_write(tf, ts.t[1].data, ts.t[1].nbytes, &err);
	nl_tfile_end(tf, &err);
	T_CHECK(nl_tfile_close(tf, &err) == 0);
	unsigned char *p = nl_io_mem_take(&io, &n);
	nl_io_abort(&io);
	nl_tset_free(&ts);

	T_CHECK(read_all(p, n, &ts, &err) == 0);
	nl_tset_free(&ts);
	int bad = 0;
	for (size_t k = 0; k < n; k++) {
		if (read_all(p, k, &ts, &err) == 0) {
			printf("# prefix of %zu bytes read without error\n", k);
			bad++;
		}
		nl_tset_free(&ts);
	}
	T_CHECK(bad == 0);
	free(p);
}

T_TEST(writer_misuse)
{
	struct nl_io io;
	struct nl_err err = { 0, "" };
	struct nl_tfile *tf;
	struct nl_tinfo ti = { "x", NL_DTYPE_F32, 1, { 2 } };
	float v[3] = { 1, 2, 3 };

	nl_io_open_mem_write(&io);
	T_CHECK(nl_tfile_open_write(&tf, &io, NULL, 10, &err) < 0);
	T_CHECK(nl_tfile_open_write(&tf, &io, NULL, 1, &err) == 0);
	T_CHECK(nl_tfile_begin(tf, &ti, &err) == 0);
	T_CHECK(nl_tfile_write(tf, v, sizeof v, &err) < 0 && strstr(err.msg, "more data") != NULL);
	nl_tfile_free(tf);
	nl_io_abort(&io);

	nl_io_open_mem_write(&io);
	T_CHECK(nl_tfile_open_write(&tf, &io, NULL, 1, &err) == 0);
	T_CHECK(nl_tfile_begin(tf, &ti, &err) == 0);
	T_CHECK(nl_tfile_write(tf, v, 4, &err) == 0);
	T_CHECK(nl_tfile_end(tf, &err) < 0 && strstr(err.msg, "4 bytes written, shape needs 8"));
	nl_tfile_free(tf);
	nl_io_abort(&io);

	nl_io_open_mem_write(&io);
	T_CHECK(nl_tfile_open_write(&tf, &io, NULL, 1, &err) == 0);
	T_CHECK(nl_tfile_begin(tf, &ti, &err) == 0);
	T_CHECK(nl_tfile_close(tf, &err) < 0 && strstr(err.msg, "not ended"));
	nl_io_abort(&io);

	nl_io_open_mem_write(&io);
	T_CHECK(nl_tfile_open_write(&tf, &io, NULL, 1, &err) == 0);
	T_CHECK(nl_tfile_begin(tf, &ti, &err) == 0);
	T_CHECK(nl_tfile_write(tf, v, 8, &err) == 0 && nl_tfile_end(tf, &err) == 0);
	T_CHECK(nl_tfile_begin(tf, &ti, &err) < 0 && strstr(err.msg, "duplicate tensor name"));
	nl_tfile_free(tf);
	nl_io_abort(&io);
}

int
main(void)
{
	T_RUN(writer_matches_independent_builder);
	T_RUN(every_dtype_and_rank_round_trips);
	T_RUN(zero_size_dims);
	T_RUN(block_size_boundaries);
	T_RUN(incompressible_blocks_are_stored);
	T_RUN(streamed_first_dimension);
	T_RUN(several_members);
	T_RUN(bad_magic_says_what_it_is);
	T_RUN(versions);
	T_RUN(crc_flip_per_record_type);
	T_RUN(critical_and_ancillary_records);
	T_RUN(oversized_record);
	T_RUN(tensor_header_limits);
	T_RUN(head_rules);
	T_RUN(data_and_tend_rules);
	T_RUN(every_prefix_of_a_valid_file_fails);
	T_RUN(writer_misuse);
	return t_done();
}
