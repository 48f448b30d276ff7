/* nl — see LICENSE. The nl-tensor container: records, blocks, CRCs, streaming. */
#include "tfile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

enum { CODEC_STORED = 0, CODEC_ZLIB = 1 };
enum { REC_HDR = 8, DATA_HDR = 8 };

struct nl_tfile {
	struct nl_io *io;
	int writing, failed;
	/* names of the member's tensors, sorted, for the duplicate check */
	char **names;
	size_t n_names, cap_names;
	uint64_t n_tensors;           /* TENS seen or written in this member */
	struct nl_meta meta;
	/* the current tensor */
	int in_tensor;
	struct nl_tinfo cur;
	uint32_t block_size;
	uint64_t row_bytes;           /* bytes per index of dims[0] */
	uint64_t declared;            /* raw bytes a non-streamed tensor must have */
	uint64_t total;               /* raw bytes written or delivered so far */
	uint32_t crc;                 /* content CRC of those bytes */
	uint32_t final_crc;
	uint64_t n_blocks;
	/* block buffer: raw bytes being gathered (write) or delivered (read) */
	unsigned char *block;
	size_t block_cap, block_len, block_pos;
	int short_block_seen;         /* reader: a block shorter than block_size came already */
	/* record payload buffer */
	unsigned char *payload;
	size_t payload_cap;
	/* writer */
	int level;
	uint32_t next_block_size;
	z_stream z;
	int z_ready;
	/* reader: member state */
	int member_done;
};

static const unsigned char magic[8] = { 0x89, 'N', 'L', 'T', '\r', '\n', 0x1a, '\n' };

static int
grow(unsigned char **buf, size_t *cap, size_t need, struct nl_err *err)
{
	if (need <= *cap)
		return 0;
	unsigned char *p = realloc(*buf, need);
	if (p == NULL)
		return nl_err_set(err, NL_ENOMEM, "out of memory (%zu bytes)", need);
	*buf = p;
	*cap = need;
	return 0;
}

/* Insert name into the sorted list; -1 with an error if it is already there. */
static int
names_add(struct nl_tfile *tf, const char *name, struct nl_err *err)
{
	size_t lo = 0, hi = tf->n_names;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(tf->names[mid], name);
		if (c == 0)
			return nl_err_set(err, NL_EFORMAT, "duplicate tensor name '%s'", name);
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (tf->n_names == tf->cap_names) {
		size_t cap = tf->cap_names ? tf->cap_names * 2 : 16;
		char **p = realloc(tf->names, cap * sizeof *p);
		if (p == NULL)
			return nl_err_set(err, NL_ENOMEM, "out of memory");
		tf->names = p;
		tf->cap_names = cap;
	}
	char *copy = strdup(name);
	if (copy == NULL)
		return nl_err_set(err, NL_ENOMEM, "out of memory");
	memmove(tf->names + lo + 1, tf->names + lo, (tf->n_names - lo) * sizeof *tf->names);
	tf->names[lo] = copy;
	tf->n_names++;
	return 0;
}

static void
names_clear(struct nl_tfile *tf)
{
	for (size_t i = 0; i < tf->n_names; i++)
		free(tf->names[i]);
	tf->n_names = 0;
}

void
nl_tfile_free(struct nl_tfile *tf)
{
	if (tf == NULL)
		return;
	names_clear(tf);
	free(tf->names);
	nl_meta_free(&tf->meta);
	free(tf->block);
	free(tf->payload);
	if (tf->z_ready)
		deflateEnd(&tf->z);
	free(tf);
}

static struct nl_tfile *
tfile_new(struct nl_io *io, int writing, struct nl_err *err)
{
	struct nl_tfile *tf = calloc(1, sizeof *tf);

	if (tf == NULL) {
		nl_err_set(err, NL_ENOMEM, "out of memory");
		return NULL;
	}
	tf->io = io;
	tf->writing = writing;
	nl_meta_init(&tf->meta);
	return tf;
}

/* Row size and declared size of a tensor header; checks everything the format limits. */
static int
check_tinfo(struct nl_tfile *tf, const struct nl_tinfo *ti, uint32_t block_size,
    struct nl_err *err)
{
	size_t es = nl_dtype_size(ti->dtype);
	struct nl_tinfo row = *ti;
	uint64_t bytes;

	if (!nl_tensor_name_valid(ti->name))
		return nl_err_set(err, NL_EFORMAT, "invalid tensor name '%.64s'", ti->name);
	/* size one index of a streamed first dimension; this also checks dtype and rank */
	int streamed = ti->rank > 0 && ti->dims[0] == NL_DIM_STREAM;
	if (streamed)
		row.dims[0] = 1;
	for (int i = 1; i < ti->rank && i < NL_MAX_RANK; i++)
		if (ti->dims[i] == NL_DIM_STREAM)
			return nl_err_set(err, NL_EFORMAT,
			    "tensor '%s': only the first dimension may be streamed", ti->name);
	if (nl_tinfo_size(&row, NULL, &bytes, err) < 0)
		return -1;
	if (block_size == 0 || block_size % es != 0 || block_size > NL_TFILE_MAX_BLOCK)
		return nl_err_set(err, NL_EFORMAT,
		    "tensor '%s': block size %u is not a positive multiple of %zu up to %u",
		    ti->name, block_size, es, NL_TFILE_MAX_BLOCK);
	if (streamed) {
		if (bytes == 0)
			return nl_err_set(err, NL_EFORMAT,
			    "tensor '%s': a streamed tensor needs non-zero inner dimensions", ti->name);
		tf->row_bytes = bytes;
		tf->declared = UINT64_MAX;
	} else {
		tf->row_bytes = ti->rank > 0 && ti->dims[0] > 0 ? bytes / ti->dims[0] : bytes;
		tf->declared = bytes;
	}
	return 0;
}

static void
tensor_reset(struct nl_tfile *tf, const struct nl_tinfo *ti, uint32_t block_size)
{
	tf->cur = *ti;
	tf->in_tensor = 1;
	tf->block_size = block_size;
	tf->total = 0;
	tf->crc = (uint32_t)crc32_z(0, NULL, 0);
	tf->n_blocks = 0;
	tf->block_len = tf->block_pos = 0;
	tf->short_block_seen = 0;
}

/* ---- writing ---- */

/* One record: length, type, the payload in two parts (header and body), crc. */
static int
put_record(struct nl_tfile *tf, const char type[4], const void *head, size_t head_len,
    const void *body, size_t body_len, struct nl_err *err)
{
	unsigned char hdr[REC_HDR], tail[4];
	uint32_t crc;

	nl_put32(hdr, (uint32_t)(head_len + body_len));
	memcpy(hdr + 4, type, 4);
	crc = (uint32_t)crc32_z(0, (const unsigned char *)type, 4);
	crc = (uint32_t)crc32_z(crc, head, head_len);
	if (body_len > 0)
		crc = (uint32_t)crc32_z(crc, body, body_len);
	nl_put32(tail, crc);
	if (nl_io_write(tf->io, hdr, sizeof hdr, err) < 0 ||
	    nl_io_write(tf->io, head, head_len, err) < 0 ||
	    (body_len > 0 && nl_io_write(tf->io, body, body_len, err) < 0) ||
	    nl_io_write(tf->io, tail, sizeof tail, err) < 0) {
		tf->failed = 1;
		return -1;
	}
	return 0;
}

/* Append a length-prefixed string to the payload buffer at *used. */
static int
put_str(struct nl_tfile *tf, size_t *used, const char *s, struct nl_err *err)
{
	size_t len = strlen(s);

	if (grow(&tf->payload, &tf->payload_cap, *used + 4 + len, err) < 0)
		return -1;
	nl_put32(tf->payload + *used, (uint32_t)len);
	memcpy(tf->payload + *used + 4, s, len);
	*used += 4 + len;
	return 0;
}

int
nl_tfile_open_write(struct nl_tfile **out, struct nl_io *io, const struct nl_meta *meta,
    int level, struct nl_err *err)
{
	struct nl_tfile *tf;
	unsigned char pre[12];
	size_t used = 8;

	*out = NULL;
	if (level < 0 || level > 9)
		return nl_err_set(err, NL_ERANGE, "compression level %d is not 0..9", level);
	if ((tf = tfile_new(io, 1, err)) == NULL)
		return -1;
	tf->level = level;
	tf->next_block_size = NL_TFILE_DEFAULT_BLOCK;
	memcpy(pre, magic, 8);
	nl_put16(pre + 8, NL_TFILE_MAJOR);
	nl_put16(pre + 10, NL_TFILE_MINOR);
	if (grow(&tf->payload, &tf->payload_cap, 8, err) < 0)
		goto fail;
	nl_put32(tf->payload, 0); /* flags */
	nl_put32(tf->payload + 4, meta ? (uint32_t)meta->n : 0);
	/* struct nl_meta is kept sorted, so the keys go out sorted */
	for (size_t i = 0; meta && i < meta->n; i++) {
		if (!nl_meta_key_valid(meta->keys[i]) ||
		    !nl_meta_value_valid(meta->vals[i], strlen(meta->vals[i]))) {
			nl_err_set(err, NL_EFORMAT, "invalid metadata entry '%.64s'", meta->keys[i]);
			goto fail;
		}
		if (put_str(tf, &used, meta->keys[i], err) < 0 ||
		    put_str(tf, &used, meta->vals[i], err) < 0)
			goto fail;
	}
	if (used > NL_TFILE_MAX_RECORD) {
		nl_err_set(err, NL_ERANGE, "metadata exceeds the 64 MiB record limit");
		goto fail;
	}
	if (nl_io_write(io, pre, sizeof pre, err) < 0 ||
	    put_record(tf, "HEAD", tf->payload, used, NULL, 0, err) < 0)
		goto fail;
	if (meta && nl_meta_copy(&tf->meta, meta, err) < 0)
		goto fail;
	*out = tf;
	return 0;
fail:
	nl_tfile_free(tf);
	return -1;
}

int
nl_tfile_set_block_size(struct nl_tfile *tf, uint32_t block_size, struct nl_err *err)
{
	if (block_size == 0 || block_size > NL_TFILE_MAX_BLOCK)
		return nl_err_set(err, NL_ERANGE, "block size %u is not 1..%u", block_size,
		    NL_TFILE_MAX_BLOCK);
	tf->next_block_size = block_size;
	return 0;
}

int
nl_tfile_begin(struct nl_tfile *tf, const struct nl_tinfo *ti, struct nl_err *err)
{
	size_t used, len = strlen(ti->name);

	if (tf->failed)
		return nl_err_set(err, NL_EIO, "writer already failed");
	if (tf->in_tensor)
		return nl_err_set(err, NL_EUSAGE, "tensor '%s' begun before '%s' ended", ti->name,
		    tf->cur.name);
	if (check_tinfo(tf, ti, tf->next_block_size, err) < 0 || names_add(tf, ti->name, err) < 0)
		return -1;
	used = 4 + len + 8 + 8 * (size_t)ti->rank;
	if (grow(&tf->payload, &tf->payload_cap, used, err) < 0)
		return -1;
	unsigned char *p = tf->payload;
	nl_put32(p, (uint32_t)len);
	memcpy(p + 4, ti->name, len);
	p += 4 + len;
	p[0] = (unsigned char)ti->dtype;
	p[1] = (unsigned char)ti->rank;
	nl_put16(p + 2, 0);
	nl_put32(p + 4, tf->next_block_size);
	for (int i = 0; i < ti->rank; i++)
		nl_put64(p + 8 + 8 * i, ti->dims[i]);
	if (put_record(tf, "TENS", tf->payload, used, NULL, 0, err) < 0)
		return -1;
	if (grow(&tf->block, &tf->block_cap, tf->next_block_size, err) < 0)
		return -1;
	tensor_reset(tf, ti, tf->next_block_size);
	tf->n_tensors++;
	return 0;
}

/* Emit the gathered block as a DATA record, deflated when that makes it smaller. */
static int
flush_block(struct nl_tfile *tf, struct nl_err *err)
{
	unsigned char hdr[DATA_HDR] = { 0 };
	const unsigned char *body = tf->block;
	size_t body_len = tf->block_len;

	nl_put32(hdr, (uint32_t)tf->block_len);
	hdr[4] = CODEC_STORED;
	if (tf->level > 0) {
		if (!tf->z_ready) {
			memset(&tf->z, 0, sizeof tf->z);
			if (deflateInit(&tf->z, tf->level) != Z_OK)
				return nl_err_set(err, NL_ENOMEM, "zlib initialisation failed");
			tf->z_ready = 1;
		} else if (deflateReset(&tf->z) != Z_OK) {
			return nl_err_set(err, NL_EIO, "zlib reset failed");
		}
		size_t bound = deflateBound(&tf->z, (uLong)tf->block_len);
		if (grow(&tf->payload, &tf->payload_cap, bound, err) < 0)
			return -1;
		tf->z.next_in = tf->block;
		tf->z.avail_in = (uInt)tf->block_len;
		tf->z.next_out = tf->payload;
		tf->z.avail_out = (uInt)bound;
		if (deflate(&tf->z, Z_FINISH) != Z_STREAM_END)
			return nl_err_set(err, NL_EIO, "zlib compression failed");
		if (tf->z.total_out < tf->block_len) {
			hdr[4] = CODEC_ZLIB;
			body = tf->payload;
			body_len = tf->z.total_out;
		}
	}
	if (put_record(tf, "DATA", hdr, sizeof hdr, body, body_len, err) < 0)
		return -1;
	tf->n_blocks++;
	tf->block_len = 0;
	return 0;
}

int
nl_tfile_write(struct nl_tfile *tf, const void *buf, size_t n, struct nl_err *err)
{
	const unsigned char *p = buf;

	if (tf->failed)
		return nl_err_set(err, NL_EIO, "writer already failed");
	if (!tf->in_tensor)
		return nl_err_set(err, NL_EUSAGE, "data written outside a tensor");
	if (n > tf->declared - tf->total) {
		tf->failed = 1;
		return nl_err_set(err, NL_ERANGE, "tensor '%s': more data than its shape holds (%llu bytes)",
		    tf->cur.name, (unsigned long long)tf->declared);
	}
	if (tf->declared == UINT64_MAX && n > NL_MAX_TENSOR_BYTES - tf->total) {
		tf->failed = 1;
		return nl_err_set(err, NL_ERANGE, "tensor '%s': size exceeds 2^48 bytes", tf->cur.name);
	}
	tf->crc = (uint32_t)crc32_z(tf->crc, p, n);
	tf->total += n;
	while (n > 0) {
		size_t k = tf->block_size - tf->block_len;
		if (k > n)
			k = n;
		memcpy(tf->block + tf->block_len, p, k);
		tf->block_len += k;
		p += k;
		n -= k;
		if (tf->block_len == tf->block_size && flush_block(tf, err) < 0) {
			tf->failed = 1;
			return -1;
		}
	}
	return 0;
}

int
nl_tfile_end(struct nl_tfile *tf, struct nl_err *err)
{
	unsigned char p[20];
	uint64_t dim0;

	if (tf->failed)
		return nl_err_set(err, NL_EIO, "writer already failed");
	if (!tf->in_tensor)
		return nl_err_set(err, NL_EUSAGE, "no tensor to end");
	if (tf->declared != UINT64_MAX && tf->total != tf->declared) {
		tf->failed = 1;
		return nl_err_set(err, NL_EFORMAT, "tensor '%s': %llu bytes written, shape needs %llu",
		    tf->cur.name, (unsigned long long)tf->total, (unsigned long long)tf->declared);
	}
	if (tf->declared == UINT64_MAX && tf->total % tf->row_bytes != 0) {
		tf->failed = 1;
		return nl_err_set(err, NL_EFORMAT,
		    "tensor '%s': %llu bytes written, not a whole number of %llu-byte rows",
		    tf->cur.name, (unsigned long long)tf->total, (unsigned long long)tf->row_bytes);
	}
	if (tf->block_len > 0 && flush_block(tf, err) < 0) {
		tf->failed = 1;
		return -1;
	}
	dim0 = tf->cur.rank == 0 ? 1 : tf->declared == UINT64_MAX ? tf->total / tf->row_bytes :
	    tf->cur.dims[0];
	nl_put64(p, dim0);
	nl_put64(p + 8, tf->total);
	nl_put32(p + 16, tf->crc);
	if (put_record(tf, "TEND", p, sizeof p, NULL, 0, err) < 0)
		return -1;
	if (tf->cur.rank > 0)
		tf->cur.dims[0] = dim0;
	tf->final_crc = tf->crc;
	tf->in_tensor = 0;
	return 0;
}

static int
write_close(struct nl_tfile *tf, struct nl_err *err)
{
	unsigned char p[8];

	if (tf->failed)
		return nl_err_set(err, NL_EIO, "writer already failed");
	if (tf->in_tensor)
		return nl_err_set(err, NL_EUSAGE, "tensor '%s' was not ended", tf->cur.name);
	nl_put64(p, tf->n_tensors);
	return put_record(tf, "FEND", p, sizeof p, NULL, 0, err);
}

int
nl_tfile_close(struct nl_tfile *tf, struct nl_err *err)
{
	int rc = 0;

	if (tf == NULL)
		return 0;
	if (tf->writing)
		rc = write_close(tf, err);
	nl_tfile_free(tf);
	return rc;
}

/* ---- reading ---- */

/* What a non-nlt input looks like, for the bad-magic message. */
static const char *
looks_like(const unsigned char *p, size_t n)
{
	if (n >= 262 && memcmp(p + 257, "ustar", 5) == 0)
		return "a tar archive";
	if (n >= 6 && memcmp(p, "\x93NUMPY", 6) == 0)
		return "a numpy .npy file";
	if (n >= 2 && p[0] == 0x1f && p[1] == 0x8b)
		return "gzip data";
	if (n >= 4 && memcmp(p, "GGUF", 4) == 0)
		return "a GGUF file";
	if (n >= 4 && memcmp(p, "PK\x03\x04", 4) == 0)
		return "a zip archive (npz?)";
	if (n >= 9 && p[8] == '{')
		return "a safetensors file";
	return NULL;
}

/* Read the 12-byte preamble of a member. */
static int
read_preamble(struct nl_tfile *tf, struct nl_err *err)
{
	const unsigned char *p;
	size_t got;
	unsigned char pre[12];

	if (nl_io_peek(tf->io, &p, 512, &got, err) < 0)
		return -1;
	if (got == 0)
		return nl_err_set(err, NL_EFORMAT, "empty input (not an nl-tensor file)");
	if (got < 8 ? memcmp(p, magic, got) != 0 : memcmp(p, magic, 8) != 0) {
		const char *what = looks_like(p, got);
		if (what != NULL)
			return nl_err_set(err, NL_EFORMAT,
			    "not an nl-tensor file (looks like %s; try nl-convert)", what);
		return nl_err_set(err, NL_EFORMAT, "not an nl-tensor file (bad magic)");
	}
	if (nl_io_read_exact(tf->io, pre, sizeof pre, err) < 0)
		return -1;
	unsigned major = nl_le16(pre + 8);
	if (major == 0x0100)
		return nl_err_set(err, NL_EUNSUPPORTED, "format version 256.x: byte-swapped?");
	if (major > NL_TFILE_MAJOR)
		return nl_err_set(err, NL_EUNSUPPORTED,
		    "written by a newer nl (format %u.x; this reader knows 1.x)", major);
	if (major != NL_TFILE_MAJOR)
		return nl_err_set(err, NL_EFORMAT, "format version %u.x does not exist", major);
	return 0;
}

static const char *
record_place(struct nl_tfile *tf, const char type[4], char *buf, size_t size)
{
	if (memcmp(type, "DATA", 4) == 0)
		snprintf(buf, size, "DATA record %llu of tensor '%s'",
		    (unsigned long long)tf->n_blocks + 1, tf->cur.name);
	else if (memcmp(type, "TEND", 4) == 0)
		snprintf(buf, size, "TEND record of tensor '%s'", tf->cur.name);
	else if (memcmp(type, "TENS", 4) == 0)
		snprintf(buf, size, "TENS record %llu", (unsigned long long)tf->n_tensors + 1);
	else
		snprintf(buf, size, "%.4s record", type);
	return buf;
}

/* Read one record into tf->payload; verifies the type bytes, the cap and the CRC.
 * Ancillary records are skipped here, after their CRC is checked. */
static int
read_record_any(struct nl_tfile *tf, char type[4], size_t *len, int skip_ancillary,
    struct nl_err *err)
{
	unsigned char hdr[REC_HDR], tail[4];
	char where[320];

	for (;;) {
		if (nl_io_read_exact(tf->io, hdr, sizeof hdr, err) < 0)
			return -1;
		uint32_t n = nl_le32(hdr);
		memcpy(type, hdr + 4, 4);
		for (int i = 0; i < 4; i++)
			if (!((type[i] >= 'A' && type[i] <= 'Z') || (type[i] >= 'a' && type[i] <= 'z')))
				return nl_err_set(err, NL_EFORMAT, "invalid record type at offset %llu",
				    (unsigned long long)(tf->io->offset - 4));
		if (n > NL_TFILE_MAX_RECORD)
			return nl_err_set(err, NL_EFORMAT, "%.4s record of %u bytes exceeds the 64 MiB limit",
			    type, n);
		if (grow(&tf->payload, &tf->payload_cap, n ? n : 1, err) < 0 ||
		    nl_io_read_exact(tf->io, tf->payload, n, err) < 0 ||
		    nl_io_read_exact(tf->io, tail, sizeof tail, err) < 0)
			return -1;
		uint32_t crc = (uint32_t)crc32_z(0, (const unsigned char *)type, 4);
		crc = (uint32_t)crc32_z(crc, tf->payload, n);
		if (crc != nl_le32(tail))
			return nl_err_set(err, NL_ECRC, "crc mismatch in %s",
			    record_place(tf, type, where, sizeof where));
		if (skip_ancillary && type[0] >= 'a' && type[0] <= 'z')
			continue; /* ancillary: understood by nobody here, harmless */
		*len = n;
		return 0;
	}
}

static int
read_record(struct nl_tfile *tf, char type[4], size_t *len, struct nl_err *err)
{
	return read_record_any(tf, type, len, 1, err);
}

static int
unknown_critical(const char type[4], struct nl_err *err)
{
	return nl_err_set(err, NL_EFORMAT, "unknown critical record '%.4s'", type);
}

/* A length-prefixed string from the payload into a fresh NUL-terminated buffer:
 * 0, -1 malformed, -2 out of memory. */
static int
get_str(const unsigned char *p, size_t len, size_t *at, size_t max, char **out, size_t *out_len)
{
	if (len - *at < 4)
		return -1;
	uint32_t n = nl_le32(p + *at);
	if (n > max || len - *at - 4 < n)
		return -1;
	char *s = malloc((size_t)n + 1);
	if (s == NULL)
		return -2;
	memcpy(s, p + *at + 4, n);
	s[n] = '\0';
	*at += 4 + (size_t)n;
	*out = s;
	*out_len = n;
	return 0;
}

static int
read_head(struct nl_tfile *tf, struct nl_err *err)
{
	char type[4];
	size_t len, at = 8;

	if (read_record_any(tf, type, &len, 0, err) < 0) /* HEAD comes first, before any ancillary */
		return -1;
	if (memcmp(type, "HEAD", 4) != 0)
		return nl_err_set(err, NL_EFORMAT, "expected HEAD record, found %.4s", type);
	const unsigned char *p = tf->payload;
	if (len < 8 || nl_le32(p) != 0)
		return nl_err_set(err, NL_EFORMAT, "malformed HEAD record");
	uint32_t n = nl_le32(p + 4);
	nl_meta_free(&tf->meta);
	for (uint32_t i = 0; i < n; i++) {
		char *k = NULL, *v = NULL;
		size_t kl, vl;
		int g = get_str(p, len, &at, NL_META_MAX_KEY, &k, &kl);
		if (g == 0)
			g = get_str(p, len, &at, NL_META_MAX_VALUE, &v, &vl);
		if (g < 0) {
			free(k);
			return g == -2 ? nl_err_set(err, NL_ENOMEM, "out of memory") :
			    nl_err_set(err, NL_EFORMAT, "malformed HEAD record (entry %u)", i + 1);
		}
		/* an embedded NUL would make the C string disagree with the stored length */
		int rc = strlen(k) != kl || strlen(v) != vl ?
		    nl_err_set(err, NL_EFORMAT, "malformed HEAD record (NUL in entry %u)", i + 1) :
		    nl_meta_add(&tf->meta, k, v, err);
		free(k);
		free(v);
		if (rc < 0)
			return -1;
	}
	if (at != len)
		return nl_err_set(err, NL_EFORMAT, "malformed HEAD record (%zu trailing bytes)", len - at);
	tf->member_done = 0;
	tf->n_tensors = 0;
	names_clear(tf);
	return 0;
}

int
nl_tfile_open_read(struct nl_tfile **out, struct nl_io *io, struct nl_err *err)
{
	struct nl_tfile *tf;

	*out = NULL;
	if ((tf = tfile_new(io, 0, err)) == NULL)
		return -1;
	if (read_preamble(tf, err) < 0 || read_head(tf, err) < 0) {
		nl_tfile_free(tf);
		return -1;
	}
	*out = tf;
	return 0;
}

int
nl_tfile_meta(const struct nl_tfile *tf, const char *key, const char **val)
{
	*val = nl_meta_get(&tf->meta, key);
	return *val != NULL;
}

const struct nl_meta *
nl_tfile_meta_all(const struct nl_tfile *tf)
{
	return &tf->meta;
}

const struct nl_tinfo *
nl_tfile_current(const struct nl_tfile *tf)
{
	return &tf->cur;
}

uint32_t
nl_tfile_content_crc(const struct nl_tfile *tf)
{
	return tf->final_crc;
}

static int
parse_tens(struct nl_tfile *tf, size_t len, struct nl_tinfo *ti, struct nl_err *err)
{
	const unsigned char *p = tf->payload;
	unsigned long long ord = (unsigned long long)tf->n_tensors + 1;

	if (len < 4)
		return nl_err_set(err, NL_EFORMAT, "malformed TENS record %llu", ord);
	uint32_t nl = nl_le32(p);
	if (nl == 0 || nl > NL_MAX_NAME)
		return nl_err_set(err, NL_EFORMAT, "TENS record %llu: name of %u bytes (must be 1..255)",
		    ord, nl);
	if (len < 4 + (size_t)nl + 8)
		return nl_err_set(err, NL_EFORMAT, "malformed TENS record %llu", ord);
	memset(ti, 0, sizeof *ti);
	memcpy(ti->name, p + 4, nl);
	if (strlen(ti->name) != nl || !nl_tensor_name_valid(ti->name))
		return nl_err_set(err, NL_EFORMAT, "TENS record %llu: invalid tensor name", ord);
	p += 4 + nl;
	ti->dtype = (enum nl_dtype)p[0];
	ti->rank = p[1];
	if (nl_dtype_size(p[0]) == 0)
		return nl_err_set(err, NL_EFORMAT, "tensor '%s': unknown dtype %u", ti->name, p[0]);
	if (ti->rank > NL_MAX_RANK)
		return nl_err_set(err, NL_EFORMAT, "tensor '%s': rank %d exceeds %d", ti->name,
		    ti->rank, NL_MAX_RANK);
	if (nl_le16(p + 2) != 0)
		return nl_err_set(err, NL_EFORMAT, "tensor '%s': reserved field is not zero", ti->name);
	uint32_t bs = nl_le32(p + 4);
	if (len != 4 + (size_t)nl + 8 + 8 * (size_t)ti->rank)
		return nl_err_set(err, NL_EFORMAT, "tensor '%s': malformed TENS record", ti->name);
	for (int i = 0; i < ti->rank; i++)
		ti->dims[i] = nl_le64(p + 8 + 8 * i);
	if (check_tinfo(tf, ti, bs, err) < 0 || names_add(tf, ti->name, err) < 0)
		return -1;
	tensor_reset(tf, ti, bs);
	return 0;
}

/* Verify a TEND against what was delivered; the tensor is finished after it. */
static int
check_tend(struct nl_tfile *tf, size_t len, struct nl_err *err)
{
	const unsigned char *p = tf->payload;
	const char *name = tf->cur.name;

	if (len != 20)
		return nl_err_set(err, NL_EFORMAT, "tensor '%s': malformed TEND record", name);
	uint64_t dim0 = nl_le64(p), raw = nl_le64(p + 8);
	uint32_t crc = nl_le32(p + 16);
	int streamed = tf->declared == UINT64_MAX;
	uint64_t expect_dim0 = tf->cur.rank == 0 ? 1 : streamed ? tf->total / tf->row_bytes :
	    tf->cur.dims[0];

	if (raw != tf->total)
		return nl_err_set(err, NL_EFORMAT, "tensor '%s': TEND says %llu bytes, data holds %llu",
		    name, (unsigned long long)raw, (unsigned long long)tf->total);
	if ((streamed && tf->total % tf->row_bytes != 0) || (!streamed && raw != tf->declared))
		return nl_err_set(err, NL_EFORMAT, "tensor '%s': %llu bytes of data for its shape",
		    name, (unsigned long long)raw);
	if (dim0 != expect_dim0)
		return nl_err_set(err, NL_EFORMAT, "tensor '%s': TEND dims[0] %llu disagrees with %llu",
		    name, (unsigned long long)dim0, (unsigned long long)expect_dim0);
	if (crc != tf->crc)
		return nl_err_set(err, NL_ECRC, "tensor '%s': content crc mismatch", name);
	if (tf->cur.rank > 0)
		tf->cur.dims[0] = dim0;
	tf->final_crc = crc;
	tf->in_tensor = 0;
	tf->n_tensors++;
	return 0;
}

/* Decode a DATA record into the block buffer. */
static int
load_block(struct nl_tfile *tf, size_t len, struct nl_err *err)
{
	const unsigned char *p = tf->payload;
	const char *name = tf->cur.name;
	unsigned long long idx = (unsigned long long)tf->n_blocks + 1;

	if (len < DATA_HDR)
		return nl_err_set(err, NL_EFORMAT, "malformed DATA record %llu of tensor '%s'", idx, name);
	uint32_t raw = nl_le32(p);
	unsigned codec = p[4];
	if (p[5] || p[6] || p[7])
		return nl_err_set(err, NL_EFORMAT, "DATA record %llu of tensor '%s': reserved bytes set",
		    idx, name);
	if (raw == 0 || raw > tf->block_size)
		return nl_err_set(err, NL_EFORMAT,
		    "DATA record %llu of tensor '%s': raw length %u (block size %u)", idx, name, raw,
		    tf->block_size);
	if (tf->short_block_seen)
		return nl_err_set(err, NL_EFORMAT,
		    "DATA record %llu of tensor '%s' follows a short block", idx, name);
	if (raw > tf->declared - tf->total)
		return nl_err_set(err, NL_EFORMAT, "tensor '%s': more data than its shape holds", name);
	if (raw > NL_MAX_TENSOR_BYTES - tf->total) /* reachable only when streamed */
		return nl_err_set(err, NL_ERANGE, "tensor '%s': size exceeds 2^48 bytes", name);
	if (raw < tf->block_size)
		tf->short_block_seen = 1;
	if (grow(&tf->block, &tf->block_cap, tf->block_size, err) < 0)
		return -1;
	if (codec == CODEC_STORED) {
		if (len - DATA_HDR != raw)
			return nl_err_set(err, NL_EFORMAT,
			    "DATA record %llu of tensor '%s': %zu stored bytes for raw length %u", idx,
			    name, len - DATA_HDR, raw);
		memcpy(tf->block, p + DATA_HDR, raw);
	} else if (codec == CODEC_ZLIB) {
		z_stream z;
		memset(&z, 0, sizeof z);
		if (inflateInit(&z) != Z_OK)
			return nl_err_set(err, NL_ENOMEM, "zlib initialisation failed");
		z.next_in = (unsigned char *)p + DATA_HDR;
		z.avail_in = (uInt)(len - DATA_HDR);
		z.next_out = tf->block;
		z.avail_out = raw;
		int zr = inflate(&z, Z_FINISH);
		uLong out = z.total_out;
		uInt left_in = z.avail_in;
		inflateEnd(&z);
		if (zr == Z_STREAM_END && (out != raw || left_in != 0))
			zr = Z_DATA_ERROR;
		if (zr != Z_STREAM_END)
			return nl_err_set(err, NL_EFORMAT,
			    "DATA record %llu of tensor '%s': zlib block does not inflate to %u bytes",
			    idx, name, raw);
	} else {
		return nl_err_set(err, NL_EUNSUPPORTED, "DATA record %llu of tensor '%s': unknown codec %u",
		    idx, name, codec);
	}
	tf->n_blocks++;
	tf->block_len = raw;
	tf->block_pos = 0;
	return 0;
}

int
nl_tfile_read(struct nl_tfile *tf, void *buf, size_t n, size_t *got, struct nl_err *err)
{
	unsigned char *out = buf;
	char type[4];
	size_t len;

	*got = 0;
	if (n == 0) /* got == 0 must keep meaning "the tensor has ended" */
		return nl_err_set(err, NL_EUSAGE, "read of 0 bytes");
	while (*got < n && tf->in_tensor) {
		if (tf->block_pos < tf->block_len) {
			size_t k = tf->block_len - tf->block_pos;
			if (k > n - *got)
				k = n - *got;
			memcpy(out + *got, tf->block + tf->block_pos, k);
			tf->crc = (uint32_t)crc32_z(tf->crc, tf->block + tf->block_pos, k);
			tf->block_pos += k;
			tf->total += k;
			*got += k;
			continue;
		}
		if (read_record(tf, type, &len, err) < 0)
			return -1;
		if (memcmp(type, "DATA", 4) == 0) {
			if (load_block(tf, len, err) < 0)
				return -1;
		} else if (memcmp(type, "TEND", 4) == 0) {
			if (check_tend(tf, len, err) < 0)
				return -1;
		} else if (memcmp(type, "TENS", 4) == 0 || memcmp(type, "FEND", 4) == 0 ||
		    memcmp(type, "HEAD", 4) == 0) {
			return nl_err_set(err, NL_EFORMAT, "tensor '%s': %.4s record before its TEND",
			    tf->cur.name, type);
		} else {
			return unknown_critical(type, err);
		}
	}
	return 0;
}

int
nl_tfile_next(struct nl_tfile *tf, struct nl_tinfo *ti, struct nl_err *err)
{
	char type[4];
	size_t len;

	if (tf->member_done)
		return 0;
	if (tf->in_tensor) {
		unsigned char sink[16384];
		size_t got;
		do {
			if (nl_tfile_read(tf, sink, sizeof sink, &got, err) < 0)
				return -1;
		} while (got > 0);
	}
	if (read_record(tf, type, &len, err) < 0)
		return -1;
	if (memcmp(type, "TENS", 4) == 0) {
		if (parse_tens(tf, len, ti, err) < 0)
			return -1;
		return 1;
	}
	if (memcmp(type, "FEND", 4) == 0) {
		if (len != 8)
			return nl_err_set(err, NL_EFORMAT, "malformed FEND record");
		uint64_t n = nl_le64(tf->payload);
		if (n != tf->n_tensors)
			return nl_err_set(err, NL_EFORMAT, "FEND counts %llu tensors, the file holds %llu",
			    (unsigned long long)n, (unsigned long long)tf->n_tensors);
		tf->member_done = 1;
		return 0;
	}
	if (memcmp(type, "DATA", 4) == 0 || memcmp(type, "TEND", 4) == 0 ||
	    memcmp(type, "HEAD", 4) == 0)
		return nl_err_set(err, NL_EFORMAT, "unexpected %.4s record outside a tensor", type);
	return unknown_critical(type, err);
}

int
nl_tfile_next_member(struct nl_tfile *tf, struct nl_err *err)
{
	const unsigned char *p;
	size_t got;

	if (!tf->member_done)
		return nl_err_set(err, NL_EUSAGE, "the current member has not ended");
	if (nl_io_peek(tf->io, &p, 8, &got, err) < 0)
		return -1;
	if (got == 0)
		return 0;
	if (memcmp(p, magic, got) != 0)
		return nl_err_set(err, NL_EFORMAT, "unexpected data after the end of the nl-tensor file");
	if (read_preamble(tf, err) < 0 || read_head(tf, err) < 0)
		return -1;
	return 1;
}

/* ---- whole sets ---- */

int
nl_tfile_read_tset(struct nl_io *in, struct nl_tset *ts, struct nl_err *err)
{
	struct nl_tfile *tf;
	struct nl_tinfo ti;
	int r;

	if (nl_tfile_open_read(&tf, in, err) < 0)
		return -1;
	do {
		const struct nl_meta *m = nl_tfile_meta_all(tf);
		for (size_t i = 0; i < m->n; i++) {
			const char *old = nl_meta_get(&ts->meta, m->keys[i]);
			if (old != NULL && strcmp(old, m->vals[i]) != 0) {
				nl_err_set(err, NL_EFORMAT, "members disagree on metadata '%s'", m->keys[i]);
				goto fail;
			}
			if (nl_meta_set(&ts->meta, m->keys[i], m->vals[i], err) < 0)
				goto fail;
		}
		while ((r = nl_tfile_next(tf, &ti, err)) == 1) {
			/* exact allocation when the shape says; a streamed tensor grows as it comes */
			uint64_t nbytes = 0;
			int streamed = ti.rank > 0 && ti.dims[0] == NL_DIM_STREAM;
			if (!streamed && nl_tinfo_size(&ti, NULL, &nbytes, err) < 0)
				goto fail;
			size_t cap = streamed ? 0 : (size_t)nbytes + 1, used = 0, got;
			unsigned char *data = streamed ? NULL : malloc(cap);
			if (!streamed && data == NULL) {
				nl_err_set(err, NL_ENOMEM, "out of memory reading '%s'", ti.name);
				goto fail;
			}
			do {
				if (streamed && cap - used < 65536) {
					size_t ncap = cap ? cap * 2 : 65536;
					unsigned char *nd = realloc(data, ncap);
					if (nd == NULL) {
						free(data);
						nl_err_set(err, NL_ENOMEM, "out of memory reading '%s'", ti.name);
						goto fail;
					}
					data = nd;
					cap = ncap;
				}
				if (nl_tfile_read(tf, data + used, cap - used, &got, err) < 0) {
					free(data);
					goto fail;
				}
				used += got;
			} while (got > 0);
			if (nl_tset_add_owned(ts, nl_tfile_current(tf), data, used, err) == NULL)
				goto fail;
		}
		if (r < 0)
			goto fail;
	} while ((r = nl_tfile_next_member(tf, err)) == 1);
	if (r < 0)
		goto fail;
	nl_tfile_free(tf);
	return 0;
fail:
	nl_tfile_free(tf);
	return -1;
}

int
nl_tfile_write_tset(struct nl_io *out, const struct nl_tset *ts, int level, struct nl_err *err)
{
	struct nl_tfile *tf;

	if (nl_tfile_open_write(&tf, out, &ts->meta, level, err) < 0)
		return -1;
	for (size_t i = 0; i < ts->n; i++) {
		if (nl_tfile_begin(tf, &ts->t[i].info, err) < 0 ||
		    nl_tfile_write(tf, ts->t[i].data, ts->t[i].nbytes, err) < 0 ||
		    nl_tfile_end(tf, err) < 0) {
			nl_tfile_free(tf);
			return -1;
		}
	}
	return nl_tfile_close(tf, err);
}
