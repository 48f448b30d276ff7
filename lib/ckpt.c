/* nl — see LICENSE. Checkpoint bundles, nl-checkpoint(5): deterministic restricted-pax tar
 * writing through an atomic nl_io, and a strict reader of plain or compressed tars. */
#include "ckpt.h"

#include <archive.h>
#include <archive_entry.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert.h"
#include "io.h"

#define CKPT_MAX_MEMBER ((uint64_t)1 << 40)
/* largest mtime a ustar header holds (11 octal digits); beyond it libarchive would add a
 * pax extended header, so such a $SOURCE_DATE_EPOCH counts as invalid */
#define CKPT_MAX_MTIME 077777777777LL

/* The members of nl-checkpoint(5) in bundle order; the index is the order. */
static const char *const ckpt_names[] = {
	"config", "params.nlt", "tokenizer.nlt", "memory.nlt", "optim.nlt", "state",
	"history.tsv",
};
enum { CKPT_N_NAMES = sizeof ckpt_names / sizeof ckpt_names[0] };

static int
ckpt_index(const char *name)
{
	for (int i = 0; i < CKPT_N_NAMES; i++)
		if (strcmp(ckpt_names[i], name) == 0)
			return i;
	return -1;
}

void
nl_ckpt_init(struct nl_ckpt *ck)
{
	memset(ck, 0, sizeof *ck);
}

void
nl_ckpt_free(struct nl_ckpt *ck)
{
	for (int i = 0; i < ck->n; i++)
		free(ck->m[i].data);
	nl_ckpt_init(ck);
}

const struct nl_ckpt_member *
nl_ckpt_find(const struct nl_ckpt *ck, const char *name)
{
	for (int i = 0; i < ck->n; i++)
		if (strcmp(ck->m[i].name, name) == 0)
			return &ck->m[i];
	return NULL;
}

/* Append a member that takes data (malloc'd by the caller), without order checks. */
static int
ckpt_append(struct nl_ckpt *ck, const char *name, unsigned char *data, size_t len,
    struct nl_err *err)
{
	struct nl_ckpt_member *m;

	if (ck->n >= NL_CKPT_MAX_MEMBERS)
		return nl_err_set(err, NL_ERANGE, "more than %d members", NL_CKPT_MAX_MEMBERS);
	m = &ck->m[ck->n++];
	snprintf(m->name, sizeof m->name, "%s", name);
	m->data = data;
	m->len = len;
	return 0;
}

int
nl_ckpt_add(struct nl_ckpt *ck, const char *name, const void *data, size_t len,
    struct nl_err *err)
{
	int idx = ckpt_index(name);

	if (idx < 0)
		return nl_err_set(err, NL_EUSAGE, "unknown checkpoint member '%s'", name);
	if (nl_ckpt_find(ck, name) != NULL)
		return nl_err_set(err, NL_EUSAGE, "duplicate member '%s'", name);
	if (ck->n > 0) {
		int last = ckpt_index(ck->m[ck->n - 1].name);
		if (last > idx)
			return nl_err_set(err, NL_EUSAGE,
			    "member '%s' out of order: it comes before '%s' (config, params.nlt, "
			    "tokenizer.nlt, memory.nlt, optim.nlt, state, history.tsv)", name,
			    ck->m[ck->n - 1].name);
	}
	if ((uint64_t)len > CKPT_MAX_MEMBER)
		return nl_err_set(err, NL_ERANGE, "member '%s' is too large (%zu bytes, at most 2^40)",
		    name, len);
	unsigned char *copy = malloc(len ? len : 1);
	if (copy == NULL)
		return nl_err_set(err, NL_ENOMEM, "out of memory (member '%s', %zu bytes)", name, len);
	if (len > 0)
		memcpy(copy, data, len);
	if (ckpt_append(ck, name, copy, len, err) < 0) {
		free(copy);
		return -1;
	}
	return 0;
}

/* The version in a config's first line "format = nl-checkpoint N": 1 for N = 1, 2 for any
 * larger N (its digits in num), 0 when the line is not of that form. */
static int
ckpt_format_version(const unsigned char *p, size_t n, char *num, size_t numsize)
{
	static const char pre[] = "format = nl-checkpoint ";
	size_t pl = sizeof pre - 1, end = pl;

	if (n < pl || memcmp(p, pre, pl) != 0)
		return 0;
	while (end < n && p[end] >= '0' && p[end] <= '9')
		end++;
	if (end == pl || (end < n && p[end] != '\n') || p[pl] == '0')
		return 0; /* no digits, a leading zero, or something after them on the line */
	snprintf(num, numsize, "%.*s", (int)(end - pl), (const char *)p + pl);
	return end - pl == 1 && p[pl] == '1' ? 1 : 2;
}

static int
ckpt_check_config(const struct nl_ckpt_member *cfg, struct nl_err *err)
{
	char num[32];
	int v = ckpt_format_version(cfg->data, cfg->len, num, sizeof num);

	if (v == 2)
		return nl_err_set(err, NL_EUNSUPPORTED,
		    "checkpoint format %s is newer than this nl (1)", num);
	if (v != 1)
		return nl_err_set(err, NL_EFORMAT,
		    "config does not start with 'format = " NL_CKPT_FORMAT "'");
	return 0;
}

/* ---- writing ---- */

struct ckpt_sink {
	struct nl_io *io;
	struct nl_err err;
	int failed;
};

static la_ssize_t
ckpt_sink_write(struct archive *a, void *ctx, const void *buf, size_t n)
{
	struct ckpt_sink *s = ctx;

	if (s->failed || nl_io_write(s->io, buf, n, &s->err) < 0) {
		s->failed = 1;
		archive_set_error(a, -1, "%s", s->err.msg);
		return -1;
	}
	return (la_ssize_t)n;
}

/* $SOURCE_DATE_EPOCH when it is a plain decimal that fits a ustar header, else 0. */
static long long
ckpt_mtime(void)
{
	const char *s = getenv("SOURCE_DATE_EPOCH");
	long long v = 0;

	if (s == NULL || *s == '\0')
		return 0;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return 0;
		v = v * 10 + (*s - '0');
		if (v > CKPT_MAX_MTIME)
			return 0;
	}
	return v;
}

static int
ckpt_write_member(struct archive *a, const struct nl_ckpt_member *m, long long mtime)
{
	struct archive_entry *e = archive_entry_new();
	int rc = 0;

	if (e == NULL)
		return -1;
	/* only the fields set here reach the header: no names, no atime, ctime, birthtime */
	archive_entry_set_pathname(e, m->name);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_uid(e, 0);
	archive_entry_set_gid(e, 0);
	archive_entry_set_mtime(e, (time_t)mtime, 0);
	archive_entry_set_size(e, (la_int64_t)m->len);
	if (archive_write_header(a, e) != ARCHIVE_OK)
		rc = -1;
	for (size_t off = 0; rc == 0 && off < m->len;) {
		size_t k = m->len - off < (1u << 20) ? m->len - off : (1u << 20);
		la_ssize_t w = archive_write_data(a, m->data + off, k);
		if (w <= 0)
			rc = -1;
		else
			off += (size_t)w;
	}
	archive_entry_free(e);
	return rc;
}

int
nl_ckpt_write(const struct nl_ckpt *ck, const char *path, int force, struct nl_err *err)
{
	const struct nl_ckpt_member *cfg = nl_ckpt_find(ck, "config");
	struct ckpt_sink sink;
	struct nl_io io;
	struct archive *a;
	long long mtime = ckpt_mtime();
	int rc = 0;

	if (cfg == NULL)
		return nl_err_set(err, NL_EUSAGE, "no config member");
	if (nl_ckpt_find(ck, "params.nlt") == NULL)
		return nl_err_set(err, NL_EUSAGE, "no params.nlt member");
	if (ckpt_check_config(cfg, err) < 0)
		return -1;
	if (nl_io_open_write(&io, path, force ? NL_IO_FORCE : 0, err) < 0)
		return -1;
	if ((a = archive_write_new()) == NULL) {
		nl_io_abort(&io);
		return nl_err_set(err, NL_ENOMEM, "out of memory");
	}
	sink.io = &io;
	sink.failed = 0;
	nl_err_clear(&sink.err);
	/* no filter: members are compressed already; the last block is not padded to the
	 * 10240-byte record, so the bundle ends right after its two zero blocks */
	if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK ||
	    archive_write_open(a, &sink, NULL, ckpt_sink_write, NULL) != ARCHIVE_OK)
		rc = -1;
	/* canonical order whatever the order in ck */
	for (int i = 0; rc == 0 && i < CKPT_N_NAMES; i++) {
		const struct nl_ckpt_member *m = nl_ckpt_find(ck, ckpt_names[i]);
		if (m != NULL && ckpt_write_member(a, m, mtime) < 0)
			rc = -1;
	}
	if (rc == 0 && archive_write_close(a) != ARCHIVE_OK)
		rc = -1;
	if (rc < 0) {
		if (sink.failed)
			*err = sink.err;
		else
			nl_err_set(err, NL_EIO, "cannot write checkpoint bundle: %s",
			    archive_error_string(a) ? archive_error_string(a) : "unknown error");
		sink.failed = 1; /* archive_write_free must not write to the aborted io */
		archive_write_free(a);
		nl_io_abort(&io);
		return -1;
	}
	archive_write_free(a);
	return nl_io_close(&io, err);
}

/* ---- reading ---- */

/* A member name made safe for a message: printable ASCII, at most 64 bytes. */
static void
ckpt_show_name(char *out, size_t size, const char *name)
{
	size_t i;

	for (i = 0; name[i] != '\0' && i + 1 < size && i < 64; i++)
		out[i] = name[i] >= 0x20 && name[i] < 0x7f ? name[i] : '?';
	out[i] = '\0';
}

/* What input that is not a tar (nor compressed) looks like, for the message. */
static const char *
ckpt_describe(const unsigned char *p, size_t n)
{
	size_t i;

	switch (nl_format_detect(p, n)) {
	case NL_FORMAT_NLT: return "nl-tensor file";
	case NL_FORMAT_NPY: return "npy file";
	case NL_FORMAT_NPZ: return "zip archive";
	case NL_FORMAT_GGUF: return "GGUF file";
	case NL_FORMAT_SAFETENSORS: return "safetensors file";
	default: break;
	}
	if (n >= 8 && memcmp(p, "!<arch>\n", 8) == 0)
		return "ar archive";
	for (i = 0; i < n; i++)
		if (p[i] < 0x20 && p[i] != '\n' && p[i] != '\t' && p[i] != '\r')
			break;
	return i == n ? "text" : NULL;
}

/* Whether a short input could be the start of a bundle's first header: the name "config",
 * NUL padding, and octal digits in the mode field. Asked when fewer than 512 bytes came. */
static int
ckpt_tar_prefix(const unsigned char *p, size_t n)
{
	static const char first[] = "config";
	size_t i;

	for (i = 0; i < n && i < sizeof first - 1; i++)
		if (p[i] != (unsigned char)first[i])
			return 0;
	for (; i < n && i < 100; i++)
		if (p[i] != 0)
			return 0;
	for (; i < n && i < 108; i++)
		if (!(p[i] >= '0' && p[i] <= '7') && p[i] != ' ' && p[i] != 0)
			return 0;
	return 1;
}

/* Turn a libarchive failure into the checkpoint's message; libarchive says "Truncated …"
 * for a cut in a header or in data, the gzip filter "truncated …". */
static int
ckpt_archive_error(struct archive *a, const char *member, struct nl_err *err)
{
	const char *s = archive_error_string(a);
	char where[100] = "";

	if (s == NULL)
		s = "unknown error";
	if (member != NULL)
		snprintf(where, sizeof where, " (in member '%s')", member);
	if (strstr(s, "runcated") != NULL)
		return nl_err_set(err, NL_EFORMAT, "truncated checkpoint bundle%s", where);
	/* libarchive capitalises its messages; ours are lower case */
	return nl_err_set(err, NL_EFORMAT, "damaged checkpoint bundle%s: %c%s", where,
	    *s >= 'A' && *s <= 'Z' ? *s - 'A' + 'a' : *s, *s ? s + 1 : "");
}

/* Append name to the comma-separated list of skipped members, "..." once it is full. */
static void
ckpt_note_skipped(struct nl_ckpt *ck, const char *name)
{
	size_t len = strlen(ck->skipped), nl = strlen(name), cap = sizeof ck->skipped;
	size_t sep = len > 0;

	if (len >= 3 && strcmp(ck->skipped + len - 3, "...") == 0)
		return;
	if (len + sep + nl + 1 <= cap - 4) {
		snprintf(ck->skipped + len, cap - len, "%s%s", sep ? "," : "", name);
		return;
	}
	snprintf(ck->skipped + len, cap - len, "%s...", sep ? "," : "");
}

/* Whether name is already in the skipped list. */
static int
ckpt_was_skipped(const struct nl_ckpt *ck, const char *name)
{
	size_t nl = strlen(name);

	for (const char *p = ck->skipped; *p;) {
		const char *c = strchr(p, ',');
		size_t k = c ? (size_t)(c - p) : strlen(p);
		if (k == nl && memcmp(p, name, nl) == 0)
			return 1;
		p += k + (c != NULL);
	}
	return 0;
}

/* Read the current entry's len bytes; a short entry is a truncated bundle. */
static int
ckpt_read_member(struct archive *a, const char *name, size_t len, unsigned char **out,
    struct nl_err *err)
{
	unsigned char *buf = malloc(len ? len : 1);
	size_t got = 0;

	if (buf == NULL)
		return nl_err_set(err, NL_ENOMEM, "out of memory (member '%s', %zu bytes)", name, len);
	while (got < len) {
		size_t want = len - got < (1u << 20) ? len - got : (1u << 20);
		la_ssize_t r = archive_read_data(a, buf + got, want);
		if (r < 0) {
			free(buf);
			return ckpt_archive_error(a, name, err);
		}
		if (r == 0) {
			free(buf);
			return nl_err_set(err, NL_EFORMAT,
			    "truncated checkpoint bundle (member '%s' ends after %zu of %zu bytes)",
			    name, got, len);
		}
		got += (size_t)r;
	}
	*out = buf;
	return 0;
}

/* Identify the input before libarchive sees it: empty, another format, a cut tar header. */
static int
ckpt_sniff(struct nl_io *io, int *compressed, struct nl_err *err)
{
	const unsigned char *p;
	size_t got;
	const char *what;

	if (nl_io_peek(io, &p, 512, &got, err) < 0)
		return -1;
	if (got == 0)
		return nl_err_set(err, NL_EFORMAT, "empty input, not a checkpoint bundle");
	switch (nl_format_detect(p, got)) {
	case NL_FORMAT_TAR:
		return got < 512 ? nl_err_set(err, NL_EFORMAT, "truncated checkpoint bundle") : 0;
	case NL_FORMAT_COMPRESSED:
		*compressed = 1;
		return 0;
	default:
		break;
	}
	if (got < 512 && ckpt_tar_prefix(p, got))
		return nl_err_set(err, NL_EFORMAT, "truncated checkpoint bundle");
	if ((what = ckpt_describe(p, got)) != NULL)
		return nl_err_set(err, NL_EFORMAT, "not a checkpoint bundle (%s)", what);
	return 0; /* perhaps an old tar without the ustar magic: libarchive decides */
}

/* The loop over entries; a is open on the input. */
static int
ckpt_read_entries(struct nl_ckpt *ck, struct archive *a, int flags, struct nl_err *err)
{
	struct archive_entry *e;
	unsigned seen = 0;
	int first = 1, r;

	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
		const char *raw = archive_entry_pathname(e);
		char name[80];
		int idx;

		if (raw == NULL)
			raw = archive_entry_pathname_utf8(e);
		if (raw == NULL)
			return nl_err_set(err, NL_EFORMAT, "member with an undecodable name");
		ckpt_show_name(name, sizeof name, raw);
		if (first) {
			int fmt = archive_format(a) & ARCHIVE_FORMAT_BASE_MASK;
			if (fmt != ARCHIVE_FORMAT_TAR)
				return nl_err_set(err, NL_EFORMAT, "not a checkpoint bundle (%s)",
				    archive_format_name(a));
			if (strcmp(raw, "config") != 0)
				return nl_err_set(err, NL_EFORMAT,
				    "first member is '%s', not 'config'", name);
			first = 0;
		}
		if (archive_entry_filetype(e) != AE_IFREG)
			return nl_err_set(err, NL_EFORMAT, "member '%s' is not a regular file", name);
		idx = ckpt_index(raw);
		if ((idx >= 0 && (seen & 1u << idx)) || (idx < 0 && ckpt_was_skipped(ck, raw)))
			return nl_err_set(err, NL_EFORMAT, "duplicate member '%s'", name);
		if (idx >= 0)
			seen |= 1u << idx;
		if (idx < 0 || ((flags & NL_CKPT_SKIP_TRAINING) &&
		    (strcmp(raw, "optim.nlt") == 0 || strcmp(raw, "state") == 0))) {
			if (idx < 0)
				ckpt_note_skipped(ck, name);
			if (archive_read_data_skip(a) != ARCHIVE_OK)
				return ckpt_archive_error(a, name, err);
			continue;
		}
		la_int64_t size = archive_entry_size(e);
		if (size < 0 || (uint64_t)size > CKPT_MAX_MEMBER || (uint64_t)size > SIZE_MAX)
			return nl_err_set(err, NL_ERANGE,
			    "member '%s' is too large (%lld bytes, at most 2^40)", name, (long long)size);
		unsigned char *data = NULL;
		if (ckpt_read_member(a, raw, (size_t)size, &data, err) < 0)
			return -1;
		if (ckpt_append(ck, raw, data, (size_t)size, err) < 0) {
			free(data);
			return -1;
		}
		/* a newer format is reported before anything else about the bundle */
		if (idx == 0 && ckpt_check_config(&ck->m[ck->n - 1], err) < 0)
			return -1;
	}
	if (r != ARCHIVE_EOF)
		return ckpt_archive_error(a, NULL, err);
	/* libarchive ends cleanly when the input stops at a block boundary; a whole bundle has
	 * both end-of-archive zero blocks after the last header position */
	if (archive_filter_bytes(a, 0) < archive_read_header_position(a) + 1024)
		return nl_err_set(err, NL_EFORMAT,
		    "truncated checkpoint bundle (no end-of-archive blocks)");
	if (first)
		return nl_err_set(err, NL_EFORMAT, "no config member (empty tar archive)");
	if (!(seen & 2u))
		return nl_err_set(err, NL_EFORMAT, "no params.nlt member");
	return 0;
}

int
nl_ckpt_read_io(struct nl_ckpt *ck, struct nl_io *io, int flags, struct nl_err *err)
{
	struct archive *a = NULL;
	int rc = -1, compressed = 0;

	nl_ckpt_init(ck);
	if (ckpt_sniff(io, &compressed, err) < 0)
		goto out;
	if ((a = archive_read_new()) == NULL) {
		nl_err_set(err, NL_ENOMEM, "out of memory");
		goto out;
	}
	archive_read_support_format_tar(a);
	archive_read_support_filter_all(a);
	if (nl_io_archive_open(a, io, err) < 0) {
		/* the tar reader bids only with a whole header block */
		if (strstr(err->msg, "runcated") != NULL)
			nl_err_set(err, NL_EFORMAT, "truncated checkpoint bundle");
		else
			nl_err_set(err, NL_EFORMAT, "not a checkpoint bundle (%s)",
			    compressed ? "compressed, but not a tar archive" : "not a tar archive");
		goto out;
	}
	rc = ckpt_read_entries(ck, a, flags, err);
out:
	if (a != NULL)
		archive_read_free(a);
	if (rc < 0)
		nl_ckpt_free(ck);
	return rc;
}

int
nl_ckpt_read(struct nl_ckpt *ck, const char *path, int flags, struct nl_err *err)
{
	struct nl_io io;
	int rc = -1;

	nl_ckpt_init(ck);
	if (nl_io_open_read(&io, path, 0, err) == 0)
		rc = nl_ckpt_read_io(ck, &io, flags, err);
	nl_io_abort(&io);
	return rc;
}
