/* nl — see LICENSE. NumPy .npz: a zip of NAME.npy members plus an optional
 * "__metadata__.json". Written by hand (stored entries, fixed timestamps, sizes and CRCs known
 * before each member, no seeks) so the bytes are deterministic and pipes work; read with
 * libarchive's streaming zip reader, then the end records are checked against the members
 * seen, because that reader stops at the central directory and would miss a truncation. */
#include "formats.h"
#include "json.h"

#include <locale.h>
#include <stdlib.h>
#include <string.h>

#include <archive.h>
#include <archive_entry.h>
#include <zlib.h>

#define NPZ_META "__metadata__.json"
#define NPZ_SIG_LOCAL 0x04034b50u
#define NPZ_SIG_CENTRAL 0x02014b50u
#define NPZ_SIG_END 0x06054b50u
#define NPZ_SIG_END64 0x06064b50u
#define NPZ_SIG_LOC64 0x07064b50u
#define NPZ_LOCAL_LEN 30
#define NPZ_CENTRAL_LEN 46
#define NPZ_END_LEN 22
#define NPZ_END64_LEN 56
#define NPZ_LOC64_LEN 20
#define NPZ_DOS_TIME 0x0000     /* 00:00:00 */
#define NPZ_DOS_DATE 0x0021     /* 1980-01-01, the earliest DOS date: no timestamps */
#define NPZ_VERSION 20          /* 2.0 */
#define NPZ_VERSION64 45        /* 4.5: zip64 */
#define NPZ_HOST_UNIX 3
#define NPZ_MODE 0100644        /* regular file rw-r--r--, so unzip creates ordinary files */
#define NPZ_FLAG_UTF8 0x0800
#define NPZ_MAX32 0xFFFFFFFFu   /* also the zip64 sentinel */
#define NPZ_MAX16 0xFFFFu

#define NPZ_BLOCK (64 * 1024)
#define NPZ_TAIL (1024 * 1024)  /* end of input kept for the end records and central directory */
#define NPZ_MAX_META (16 * 1024 * 1024)

/* ---- writer ---- */

struct npz_member {
	char *name;
	size_t name_len;
	uint32_t crc;
	uint64_t size;          /* stored, so compressed = uncompressed */
	uint64_t offset;        /* of the local header */
	const struct nl_tensor *t;      /* NULL: the metadata member */
};

/* Pass one of a member: size and CRC of the bytes the npy writer produces, none kept. */
struct npz_sum {
	uLong crc;
	uint64_t size;
};

static int
npz_sum_write(void *ctx, const void *buf, size_t n, struct nl_err *err)
{
	struct npz_sum *s = ctx;

	(void)err;
	s->crc = crc32_z(s->crc, buf, n);
	s->size += n;
	return 0;
}

static const struct nl_io_ops npz_sum_ops = { NULL, npz_sum_write, NULL };

static int
npz_measure(struct npz_member *m, struct nl_err *err)
{
	struct npz_sum s = { crc32_z(0, NULL, 0), 0 };
	struct nl_io io;

	nl_io_open_custom(&io, &npz_sum_ops, &s, "(crc)", 1);
	if (nl_fmt_npy_write(&io, m->t, err) < 0) {
		nl_io_abort(&io);
		return -1;
	}
	if (nl_io_close(&io, err) < 0)
		return -1;
	m->crc = (uint32_t)s.crc;
	m->size = s.size;
	return 0;
}

static int
npz_flags(const struct npz_member *m)
{
	for (size_t i = 0; i < m->name_len; i++)
		if ((unsigned char)m->name[i] >= 0x80)
			return NPZ_FLAG_UTF8;
	return 0;
}

static int
npz_is64(const struct npz_member *m)
{
	return m->size >= NPZ_MAX32 || m->offset >= NPZ_MAX32;
}

/* Local header; returns its length or -1. The zip64 extra carries both sizes when needed. */
static ptrdiff_t
npz_put_local(struct nl_io *out, const struct npz_member *m, struct nl_err *err)
{
	unsigned char h[NPZ_LOCAL_LEN], x[20];
	int big = m->size >= NPZ_MAX32;
	uint32_t size32 = big ? NPZ_MAX32 : (uint32_t)m->size;

	nl_put32(h, NPZ_SIG_LOCAL);
	nl_put16(h + 4, npz_is64(m) ? NPZ_VERSION64 : NPZ_VERSION);
	nl_put16(h + 6, (uint16_t)npz_flags(m));
	nl_put16(h + 8, 0);     /* stored */
	nl_put16(h + 10, NPZ_DOS_TIME);
	nl_put16(h + 12, NPZ_DOS_DATE);
	nl_put32(h + 14, m->crc);
	nl_put32(h + 18, size32);
	nl_put32(h + 22, size32);
	nl_put16(h + 26, (uint16_t)m->name_len);
	nl_put16(h + 28, big ? sizeof x : 0);
	nl_put16(x, 1);
	nl_put16(x + 2, 16);
	nl_put64(x + 4, m->size);
	nl_put64(x + 12, m->size);
	if (nl_io_write(out, h, sizeof h, err) < 0 ||
	    nl_io_write(out, m->name, m->name_len, err) < 0 ||
	    (big && nl_io_write(out, x, sizeof x, err) < 0))
		return -1;
	return (ptrdiff_t)(sizeof h + m->name_len + (big ? sizeof x : 0));
}

/* Central directory header; the zip64 extra holds exactly the fields that overflowed. */
static ptrdiff_t
npz_put_central(struct nl_io *out, const struct npz_member *m, struct nl_err *err)
{
	unsigned char h[NPZ_CENTRAL_LEN], x[4 + 24];
	int big = m->size >= NPZ_MAX32, far = m->offset >= NPZ_MAX32;
	uint32_t size32 = big ? NPZ_MAX32 : (uint32_t)m->size;
	size_t xl = 4;
	int ver = npz_is64(m) ? NPZ_VERSION64 : NPZ_VERSION;

	if (big) {
		nl_put64(x + xl, m->size);
		nl_put64(x + xl + 8, m->size);
		xl += 16;
	}
	if (far) {
		nl_put64(x + xl, m->offset);
		xl += 8;
	}
	nl_put16(x, 1);
	nl_put16(x + 2, (uint16_t)(xl - 4));
	if (xl == 4)
		xl = 0;
	nl_put32(h, NPZ_SIG_CENTRAL);
	nl_put16(h + 4, (uint16_t)(NPZ_HOST_UNIX << 8 | ver));
	nl_put16(h + 6, (uint16_t)ver);
	nl_put16(h + 8, (uint16_t)npz_flags(m));
	nl_put16(h + 10, 0);
	nl_put16(h + 12, NPZ_DOS_TIME);
	nl_put16(h + 14, NPZ_DOS_DATE);
	nl_put32(h + 16, m->crc);
	nl_put32(h + 20, size32);
	nl_put32(h + 24, size32);
	nl_put16(h + 28, (uint16_t)m->name_len);
	nl_put16(h + 30, (uint16_t)xl);
	nl_put16(h + 32, 0);    /* comment */
	nl_put16(h + 34, 0);    /* disk */
	nl_put16(h + 36, 0);    /* internal attributes */
	nl_put32(h + 38, (uint32_t)NPZ_MODE << 16);
	nl_put32(h + 42, far ? NPZ_MAX32 : (uint32_t)m->offset);
	if (nl_io_write(out, h, sizeof h, err) < 0 ||
	    nl_io_write(out, m->name, m->name_len, err) < 0 ||
	    (xl > 0 && nl_io_write(out, x, xl, err) < 0))
		return -1;
	return (ptrdiff_t)(sizeof h + m->name_len + xl);
}

static int
npz_put_end(struct nl_io *out, uint64_t n, uint64_t cd_off, uint64_t cd_size, struct nl_err *err)
{
	unsigned char e[NPZ_END64_LEN + NPZ_LOC64_LEN + NPZ_END_LEN], *p = e;

	if (n >= NPZ_MAX16 || cd_off >= NPZ_MAX32 || cd_size >= NPZ_MAX32) {
		nl_put32(p, NPZ_SIG_END64);
		nl_put64(p + 4, NPZ_END64_LEN - 12);
		nl_put16(p + 12, NPZ_HOST_UNIX << 8 | NPZ_VERSION64);
		nl_put16(p + 14, NPZ_VERSION64);
		nl_put32(p + 16, 0);
		nl_put32(p + 20, 0);
		nl_put64(p + 24, n);
		nl_put64(p + 32, n);
		nl_put64(p + 40, cd_size);
		nl_put64(p + 48, cd_off);
		p += NPZ_END64_LEN;
		nl_put32(p, NPZ_SIG_LOC64);
		nl_put32(p + 4, 0);
		nl_put64(p + 8, cd_off + cd_size);
		nl_put32(p + 16, 1);
		p += NPZ_LOC64_LEN;
	}
	nl_put32(p, NPZ_SIG_END);
	nl_put16(p + 4, 0);
	nl_put16(p + 6, 0);
	nl_put16(p + 8, (uint16_t)(n >= NPZ_MAX16 ? NPZ_MAX16 : n));
	nl_put16(p + 10, (uint16_t)(n >= NPZ_MAX16 ? NPZ_MAX16 : n));
	nl_put32(p + 12, cd_size >= NPZ_MAX32 ? NPZ_MAX32 : (uint32_t)cd_size);
	nl_put32(p + 16, cd_off >= NPZ_MAX32 ? NPZ_MAX32 : (uint32_t)cd_off);
	nl_put16(p + 20, 0);
	p += NPZ_END_LEN;
	return nl_io_write(out, e, (size_t)(p - e), err);
}

int
nl_fmt_npz_write(struct nl_io *out, const struct nl_tset *ts, struct nl_err *err)
{
	size_t n = ts->n + (ts->meta.n > 0);
	struct npz_member *m = calloc(n ? n : 1, sizeof *m);
	char *meta = NULL;
	size_t meta_len = 0;
	uint64_t off = 0, cd_size = 0;
	int rc = -1;

	if (m == NULL)
		return nl_err_set(err, NL_ENOMEM, "out of memory");
	for (size_t i = 0; i < ts->n; i++) {
		const char *name = ts->t[i].info.name;
		size_t len = strlen(name);

		if (!nl_tensor_name_valid(name)) {
			nl_err_set(err, NL_EFORMAT, "invalid tensor name '%.64s'", name);
			goto done;
		}
		m[i].t = &ts->t[i];
		m[i].name_len = len + 4;
		m[i].name = malloc(len + 5);
		if (m[i].name == NULL) {
			nl_err_set(err, NL_ENOMEM, "out of memory");
			goto done;
		}
		memcpy(m[i].name, name, len);
		memcpy(m[i].name + len, ".npy", 5);
		if (npz_measure(&m[i], err) < 0)
			goto done;
	}
	if (ts->meta.n > 0) {
		struct npz_member *mm = &m[ts->n];
		meta = nl_json_meta_encode(&ts->meta, &meta_len, err);
		if (meta == NULL)
			goto done;
		mm->name = strdup(NPZ_META);
		if (mm->name == NULL) {
			nl_err_set(err, NL_ENOMEM, "out of memory");
			goto done;
		}
		mm->name_len = strlen(NPZ_META);
		mm->crc = (uint32_t)crc32_z(crc32_z(0, NULL, 0), (const Bytef *)meta, meta_len);
		mm->size = meta_len;
	}
	for (size_t i = 0; i < n; i++) {
		ptrdiff_t hl;

		m[i].offset = off;
		if ((hl = npz_put_local(out, &m[i], err)) < 0)
			goto done;
		if (m[i].t != NULL ? nl_fmt_npy_write(out, m[i].t, err) < 0 :
		    nl_io_write(out, meta, meta_len, err) < 0)
			goto done;
		off += (uint64_t)hl + m[i].size;
	}
	for (size_t i = 0; i < n; i++) {
		ptrdiff_t cl = npz_put_central(out, &m[i], err);
		if (cl < 0)
			goto done;
		cd_size += (uint64_t)cl;
	}
	if (npz_put_end(out, n, off, cd_size, err) < 0)
		goto done;
	rc = 0;
done:
	for (size_t i = 0; i < n; i++)
		free(m[i].name);
	free(m);
	free(meta);
	return rc;
}

/* ---- reader ---- */

/* The input as libarchive sees it, with the last bytes kept for npz_check_end. */
struct npz_src {
	struct nl_io *in;
	struct nl_err ioerr;
	int failed, eof;
	uint64_t total;                 /* bytes read from in */
	unsigned char *block;           /* NPZ_BLOCK, handed to libarchive */
	unsigned char *tail;            /* 2 * NPZ_TAIL; holds input [total - tail_len, total) */
	size_t tail_len;
};

static ptrdiff_t
npz_pull(struct npz_src *src)
{
	if (src->failed)
		return -1;
	ptrdiff_t r = nl_io_read(src->in, src->block, NPZ_BLOCK, &src->ioerr);
	if (r < 0) {
		src->failed = 1;
		return -1;
	}
	if (r == 0)
		src->eof = 1;
	if (src->tail_len + (size_t)r > 2 * NPZ_TAIL) {
		memmove(src->tail, src->tail + src->tail_len - NPZ_TAIL, NPZ_TAIL);
		src->tail_len = NPZ_TAIL;
	}
	memcpy(src->tail + src->tail_len, src->block, (size_t)r);
	src->tail_len += (size_t)r;
	src->total += (uint64_t)r;
	return r;
}

static la_ssize_t
npz_read_cb(struct archive *a, void *ctx, const void **buf)
{
	struct npz_src *src = ctx;
	ptrdiff_t r = npz_pull(src);

	if (r < 0) {
		archive_set_error(a, -1, "%s", src->ioerr.msg);
		return -1;
	}
	*buf = src->block;
	return r;
}

/* libarchive's failure in our terms; our own read errors come back unchanged. */
static int
npz_archive_err(struct npz_src *src, struct archive *a, struct nl_err *err)
{
	const char *msg = archive_error_string(a);

	if (src->failed) {
		if (err != NULL)
			*err = src->ioerr;
		return -1;
	}
	/* at end of input, libarchive's ways of saying it wanted more bytes: no message (a short
	 * read-ahead), "Truncated ...", "Premature end ...", zlib's Z_BUF_ERROR */
	if (src->eof && (msg == NULL || strstr(msg, "runcated") != NULL ||
	    strstr(msg, "remature") != NULL || strstr(msg, "failed (-5)") != NULL))
		return nl_err_set(err, NL_EFORMAT, "unexpected end of file");
	if (msg == NULL)
		msg = "unknown error";
	return nl_err_set(err, strstr(msg, "CRC") != NULL ? NL_ECRC : NL_EFORMAT, "zip: %s", msg);
}

/* A zip member as an nl_io, so the npy reader parses it in place. */
struct npz_entry {
	struct archive *a;
	struct npz_src *src;
};

static ptrdiff_t
npz_entry_read(void *ctx, void *buf, size_t n, struct nl_err *err)
{
	struct npz_entry *e = ctx;
	la_ssize_t r = archive_read_data(e->a, buf, n);

	if (r < 0)
		return npz_archive_err(e->src, e->a, err);
	return (ptrdiff_t)r;
}

static const struct nl_io_ops npz_entry_ops = { npz_entry_read, NULL, NULL };

static int
npz_read_meta(struct archive *a, struct npz_src *src, struct nl_meta *meta, struct nl_err *err)
{
	char *buf = NULL;
	size_t len = 0, cap = 0;
	struct nl_json j;
	int rc = -1;

	for (;;) {
		if (cap - len < 4096) {
			cap = cap ? cap * 2 : 8192;
			char *nb = cap > NPZ_MAX_META + 8192 ? NULL : realloc(buf, cap);
			if (nb == NULL) {
				if (cap > NPZ_MAX_META + 8192)
					nl_err_set(err, NL_ERANGE, "larger than %d bytes",
					    NPZ_MAX_META);
				else
					nl_err_set(err, NL_ENOMEM, "out of memory");
				goto done;
			}
			buf = nb;
		}
		la_ssize_t r = archive_read_data(a, buf + len, cap - len);
		if (r < 0) {
			npz_archive_err(src, a, err);
			goto done;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	if (nl_json_parse(buf, len, &j, err) < 0)
		goto done;
	rc = nl_json_meta_decode(&j, meta, err);
	nl_json_free(&j);
done:
	free(buf);
	return rc;
}

/* The end of central directory record (and its zip64 form) must close the input exactly,
 * describe a directory that ends where it starts, and list the members libarchive returned. */
static int
npz_check_end(const struct npz_src *src, char *const *names, size_t n, struct nl_err *err)
{
	const unsigned char *t = src->tail, *r;
	size_t len = src->tail_len, pos = 0;
	uint64_t base = src->total - len, n_disk, n_total, cd_size, cd_off, cd_end;
	uint32_t disk, cd_disk;
	int found = 0, stray = 0;

	for (size_t i = len >= NPZ_END_LEN ? len - NPZ_END_LEN + 1 : 0;
	    i-- > 0 && len - i <= NPZ_END_LEN + NPZ_MAX16;) {
		if (nl_le32(t + i) != NPZ_SIG_END)
			continue;
		if (i + NPZ_END_LEN + nl_le16(t + i + 20) == len) {
			pos = i;
			found = 1;
			break;
		}
		stray = 1;
	}
	if (!found && stray)
		return nl_err_set(err, NL_EFORMAT, "trailing data after the zip end record");
	if (!found)
		return nl_err_set(err, NL_EFORMAT, "unexpected end of file (no zip end record)");
	r = t + pos;
	disk = nl_le16(r + 4);
	cd_disk = nl_le16(r + 6);
	n_disk = nl_le16(r + 8);
	n_total = nl_le16(r + 10);
	cd_size = nl_le32(r + 12);
	cd_off = nl_le32(r + 16);
	cd_end = base + pos;
	if (n_disk == NPZ_MAX16 || n_total == NPZ_MAX16 || cd_size == NPZ_MAX32 ||
	    cd_off == NPZ_MAX32) {
		uint64_t off64;

		if (pos < NPZ_LOC64_LEN || nl_le32(r - NPZ_LOC64_LEN) != NPZ_SIG_LOC64)
			return nl_err_set(err, NL_EFORMAT, "zip64 end locator missing");
		r -= NPZ_LOC64_LEN;
		off64 = nl_le64(r + 8);
		if (nl_le32(r + 4) != 0 || nl_le32(r + 16) > 1)
			return nl_err_set(err, NL_EUNSUPPORTED,
			    "multi-disk zip archives are not supported");
		if (off64 < base || off64 > base + pos - NPZ_LOC64_LEN - NPZ_END64_LEN)
			return nl_err_set(err, NL_EFORMAT, "zip64 end record offset is wrong");
		r = t + (off64 - base);
		if (nl_le32(r) != NPZ_SIG_END64 ||
		    nl_le64(r + 4) != base + pos - NPZ_LOC64_LEN - off64 - 12)
			return nl_err_set(err, NL_EFORMAT, "bad zip64 end record");
		disk = nl_le32(r + 16);
		cd_disk = nl_le32(r + 20);
		n_disk = nl_le64(r + 24);
		n_total = nl_le64(r + 32);
		cd_size = nl_le64(r + 40);
		cd_off = nl_le64(r + 48);
		cd_end = off64;
	}
	if (disk != 0 || cd_disk != 0 || n_disk != n_total)
		return nl_err_set(err, NL_EUNSUPPORTED,
		    "multi-disk zip archives are not supported");
	if (cd_off > cd_end || cd_end - cd_off != cd_size)
		return nl_err_set(err, NL_EFORMAT, "zip central directory size or offset is wrong");
	if (n_total != n)
		return nl_err_set(err, NL_EFORMAT,
		    "zip central directory lists %llu members, the archive holds %zu",
		    (unsigned long long)n_total, n);
	if (cd_off < base)
		return 0; /* a directory beyond the window: counts checked, names not */
	size_t p = (size_t)(cd_off - base), stop = (size_t)(cd_end - base);
	for (size_t i = 0; i < n; i++) {
		size_t nl, skip;

		if (stop - p < NPZ_CENTRAL_LEN || nl_le32(t + p) != NPZ_SIG_CENTRAL)
			return nl_err_set(err, NL_EFORMAT, "bad zip central directory");
		nl = nl_le16(t + p + 28);
		skip = NPZ_CENTRAL_LEN + nl + nl_le16(t + p + 30) + nl_le16(t + p + 32);
		if (stop - p < skip)
			return nl_err_set(err, NL_EFORMAT, "bad zip central directory");
		if (nl != strlen(names[i]) || memcmp(t + p + NPZ_CENTRAL_LEN, names[i], nl) != 0)
			return nl_err_set(err, NL_EFORMAT,
			    "zip central directory does not match member '%s'", names[i]);
		p += skip;
	}
	if (p != stop)
		return nl_err_set(err, NL_EFORMAT, "bad zip central directory");
	return 0;
}

/* Why libarchive refused the input before any member. */
static int
npz_open_err(struct npz_src *src, struct archive *a, struct nl_err *err)
{
	static const char *const sigs[] = { "PK\003\004", "PK\005\006" };

	if (src->failed)
		return npz_archive_err(src, a, err);
	if (src->eof && src->total < 4)
		for (size_t i = 0; i < 2; i++)
			if (memcmp(src->tail, sigs[i], src->tail_len) == 0)
				return nl_err_set(err, NL_EFORMAT, "unexpected end of file");
	return nl_err_set(err, NL_EFORMAT, "not a zip archive");
}

int
nl_fmt_npz_read(struct nl_io *in, struct nl_tset *ts, struct nl_err *err)
{
	/* libarchive converts UTF-8 member names to the locale's charset and gives up on
	 * non-ASCII names in the C locale; a thread-local UTF-8 locale keeps them intact
	 * without touching the program's locale */
	locale_t utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
	locale_t saved = utf8 != (locale_t)0 ? uselocale(utf8) : (locale_t)0;
	struct npz_src *src = calloc(1, sizeof *src);
	struct archive *a = archive_read_new();
	char **names = NULL;
	size_t n = 0, cap = 0;
	int rc = -1, seen_meta = 0;

	if (src == NULL || a == NULL || (src->block = malloc(NPZ_BLOCK)) == NULL ||
	    (src->tail = malloc(2 * NPZ_TAIL)) == NULL) {
		nl_err_set(err, NL_ENOMEM, "out of memory");
		goto done;
	}
	src->in = in;
	/* the streaming reader: no seeks, so pipes work */
	if (archive_read_support_format_zip_streamable(a) != ARCHIVE_OK) {
		nl_err_set(err, NL_EUNSUPPORTED, "libarchive: %s", archive_error_string(a));
		goto done;
	}
	if (archive_read_open(a, src, NULL, npz_read_cb, NULL) != ARCHIVE_OK) {
		npz_open_err(src, a, err);
		goto done;
	}
	for (;;) {
		struct archive_entry *e;
		int r = archive_read_next_header(a, &e);

		if (r == ARCHIVE_EOF)
			break;
		if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
			npz_archive_err(src, a, err);
			goto done;
		}
		const char *path = archive_entry_pathname_utf8(e);
		if (path == NULL)
			path = archive_entry_pathname(e);
		if (path == NULL) {
			nl_err_set(err, NL_EFORMAT, "npz member %zu has no usable name", n + 1);
			goto done;
		}
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 16;
			char **nn = realloc(names, nc * sizeof *nn);
			if (nn == NULL) {
				nl_err_set(err, NL_ENOMEM, "out of memory");
				goto done;
			}
			names = nn;
			cap = nc;
		}
		if ((names[n] = strdup(path)) == NULL) {
			nl_err_set(err, NL_ENOMEM, "out of memory");
			goto done;
		}
		path = names[n++];
		size_t len = strlen(path);
		int regular = archive_entry_filetype(e) == AE_IFREG;
		if (regular && strcmp(path, NPZ_META) == 0) {
			if (seen_meta++) {
				nl_err_set(err, NL_EFORMAT, "duplicate npz member '%s'", path);
				goto done;
			}
			if (npz_read_meta(a, src, &ts->meta, err) < 0) {
				nl_err_prefix(err, "npz member '%s'", path);
				goto done;
			}
		} else if (regular && len > 4 && strcmp(path + len - 4, ".npy") == 0) {
			struct npz_entry ectx = { a, src };
			struct nl_io eio;
			char tname[NL_MAX_NAME + 2];

			/* "a/b.npy" is tensor "a/b", as numpy.load names it */
			if (len - 4 > NL_MAX_NAME) {
				nl_err_set(err, NL_EFORMAT,
				    "npz member '%.64s...' has a name longer than %d bytes", path,
				    NL_MAX_NAME);
				goto done;
			}
			memcpy(tname, path, len - 4);
			tname[len - 4] = '\0';
			nl_io_open_custom(&eio, &npz_entry_ops, &ectx, path, 0);
			int rr = nl_fmt_npy_read(&eio, tname, ts, err);
			nl_io_abort(&eio);
			if (rr < 0) {
				nl_err_prefix(err, "npz member '%s'", path);
				goto done;
			}
		} else {
			nl_err_set(err, NL_EFORMAT, "npz member '%s' is not an .npy file", path);
			goto done;
		}
	}
	/* libarchive stops at the central directory; the rest is ours to check */
	for (;;) {
		ptrdiff_t r = npz_pull(src);
		if (r < 0) {
			if (err != NULL)
				*err = src->ioerr;
			goto done;
		}
		if (r == 0)
			break;
	}
	rc = npz_check_end(src, names, n, err);
done:
	if (a != NULL)
		archive_read_free(a);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	if (src != NULL) {
		free(src->block);
		free(src->tail);
	}
	free(src);
	if (utf8 != (locale_t)0) {
		uselocale(saved);
		freelocale(utf8);
	}
	return rc;
}
