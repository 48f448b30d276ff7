/* nl — see LICENSE. Text corpora for nl-tokenize: operands read as a stream of documents.
 *
 * Layers, each an nl_io so that peek works at every level:
 *   operand   a file, stdin, or (on the second pass of a rewindable corpus) the stdin spool;
 *   gzip      1f 8b 08 at the start is inflated with zlib (15+32); members are decoded one
 *             after another as one stream, NUL padding after the last member is ignored,
 *             anything else after it, a Z_DATA_ERROR or an early end is an error;
 *   archive   the (inflated) operand starting with a tar header (valid checksum; an
 *             empty tar, all zero, is text), "!<arch>\n" or "PK\3\4"/"PK\5\6" goes to
 *             libarchive (tar, zip, ar; all filters). xz, zstd, bzip2, lz4, lzip and
 *             compress(1) magic also goes to libarchive, with its raw format added:
 *             compressed plain text comes back as one "data" entry and is read as one
 *             document, a compressed tar as a tar;
 *   .deb      an ar archive whose first member is debian-binary: only data.tar* is read,
 *             opened as a nested archive over the outer entry (depth 2, no deeper);
 *   member    regular entries only, selected by -I/-X on the stored path with leading "./"
 *             and "/" removed; a member starting with gzip magic is inflated; a member
 *             with a NUL in its first 8 KiB (after inflating) is skipped with a notice.
 *             Operands and raw compressed text are never screened.
 * Anything else is plain text, one document. Archive members are not opened as archives
 * (a tar inside a tar has NULs: skipped as binary), only a .deb's data.tar.
 *
 * Truncation: libarchive ends cleanly at some cuts, so a tar must have its end-of-archive
 * block and an uncompressed ar must be used to its last byte. A zip file is opened by name
 * and read through its central directory (it alone has the entry types, e.g. symlinks); a
 * zip on stdin or inside gzip is read as a stream, where a symlink reads as a file holding
 * its target and a cut between members goes unnoticed.
 *
 * Documents and separators: every operand or member starts a document. With a separator
 * S, a line equal to S ends the document: the line must start the stream or follow a '\n',
 * and end in '\n' or at the end of the stream. The separator line and its own '\n' are
 * dropped; the '\n' before it stays with the preceding document: "text\n%\nmore\n" gives
 * "text\n" and "more\n", and "a\n%" gives "a\n". Bytes are never changed, so a CRLF file
 * has lines "S\r", which match only a separator that ends in '\r'. Empty documents (two
 * separators in a row, an empty file or member) are not returned.
 *
 * Pieces come from one buffer of 1 MiB plus the separator's length and a newline, refilled
 * when less than that lookahead is left or half of it is used, so memory is bounded
 * whatever the line lengths and each byte is moved at most about once.
 *
 * stdin, rewindable: the first "-" is copied to a tmpfile() while read; at rewind the rest
 * is copied too, and the second pass reads the copy. A later "-" reads what is left.
 *
 * Messages: while a member is read, nl_corpus_source is "path:member" (for a .deb
 * "path:data.tar.xz:member"); after an error it is the operand's path and the message
 * names the inner parts: "data.tar.xz: ./usr/x: gzip stream is truncated". */
#include "corpus.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "io.h"

#define PIECE_MAX ((size_t)1 << 20)
#define SCREEN_BYTES 8192
#define SNIFF_BYTES 512

enum sniff { SNIFF_TEXT, SNIFF_ARCHIVE, SNIFF_ZIP, SNIFF_COMPRESSED };

/* zlib inflater as a read-only nl_io backend over another nl_io */
struct gz {
	z_stream zs;
	struct nl_io *src;
	int inited, in_member, src_eof, end, padding;
	unsigned long members;
	unsigned char in[65536];
};

struct nl_corpus {
	char **paths;
	size_t n_paths, next;
	char **include, **exclude;
	size_t n_include, n_exclude;
	char *sep;
	size_t seplen;
	int has_sep;
	void (*notice)(void *, const char *, const char *);
	void *notice_ctx;
	int rewindable;

	/* stdin spool: 0 none, 1 being written by the first pass, 2 complete */
	FILE *spool;
	int spool_state, stdin_eof, stdin_taken;

	/* the current operand */
	int op_open;
	const char *op_disp;
	struct nl_io top;
	int top_open;
	struct gz *gzt;
	struct nl_io gztop;
	int gztop_open;
	struct archive *outer, *inner;
	struct nl_io *outer_src;     /* what outer reads, unless opened by file name */
	struct nl_io outer_ent;      /* data.tar.* of a .deb, the inner archive's source */
	int outer_ent_open, first_header, deb, data_seen;
	char *inner_name;

	/* the current member */
	struct nl_io ent;
	int ent_open;
	struct gz *gze;
	struct nl_io gzent;
	int gzent_open;
	char *member;
	struct nl_io *doc;

	/* document splitting */
	unsigned char *buf;
	size_t cap, pos, len;
	int eof, at_line_start, need_start;

	char *source;
	int failed;
	struct nl_err saved;
};

/* ---- small helpers ---- */

static char *
dup_str(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = malloc(n);

	if (d != NULL)
		memcpy(d, s, n);
	return d;
}

/* "a:b:c" of the non-NULL parts, or NULL when out of memory */
static char *
join3(const char *a, const char *b, const char *c)
{
	size_t n = strlen(a) + (b ? strlen(b) + 1 : 0) + (c ? strlen(c) + 1 : 0) + 1;
	char *s = malloc(n);

	if (s != NULL)
		snprintf(s, n, "%s%s%s%s%s", a, b ? ":" : "", b ? b : "", c ? ":" : "", c ? c : "");
	return s;
}

static int
set_source(struct nl_corpus *c, const char *inner, const char *member, struct nl_err *err)
{
	char *s = join3(c->op_disp ? c->op_disp : "", inner, member);

	if (s == NULL)
		return nl_err_set(err, NL_ENOMEM, "out of memory");
	free(c->source);
	c->source = s;
	return 0;
}

static char **
dup_list(const char *const *v, size_t n, int *bad)
{
	char **d;

	if (n == 0)
		return NULL;
	d = calloc(n, sizeof *d);
	if (d == NULL) {
		*bad = 1;
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		if ((d[i] = dup_str(v[i])) == NULL)
			*bad = 1;
	return d;
}

static void
free_list(char **v, size_t n)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* ---- gzip ---- */

static ptrdiff_t
gz_read(void *ctx, void *buf, size_t n, struct nl_err *err)
{
	struct gz *g = ctx;
	size_t done = 0;

	if (n > UINT_MAX)
		n = UINT_MAX;
	while (done < n && !g->end) {
		if (g->zs.avail_in == 0 && !g->src_eof) {
			ptrdiff_t r = nl_io_read(g->src, g->in, sizeof g->in, err);
			if (r < 0)
				return -1;
			if (r == 0)
				g->src_eof = 1;
			g->zs.next_in = g->in;
			g->zs.avail_in = (uInt)r;
			continue;
		}
		if (!g->in_member) {
			/* between members: another member, NUL padding, or the end */
			while (g->zs.avail_in > 0 && *g->zs.next_in == 0) {
				g->zs.next_in++;
				g->zs.avail_in--;
				g->padding = 1;
			}
			if (g->zs.avail_in == 0) {
				if (g->src_eof)
					g->end = 1;
				continue;
			}
			if (g->padding || *g->zs.next_in != 0x1f)
				return nl_err_set(err, NL_EFORMAT, "trailing garbage after gzip data");
			if (g->members > 0 && inflateReset(&g->zs) != Z_OK)
				return nl_err_set(err, NL_EFORMAT, "gzip: cannot reset the inflater");
			g->in_member = 1;
		}
		g->zs.next_out = (Bytef *)buf + done;
		g->zs.avail_out = (uInt)(n - done);
		int zr = inflate(&g->zs, Z_NO_FLUSH);
		done = n - g->zs.avail_out;
		switch (zr) {
		case Z_STREAM_END:
			g->in_member = 0;
			g->members++;
			break;
		case Z_OK:
			break;
		case Z_BUF_ERROR: /* no progress: more input needed */
			if (g->zs.avail_in == 0 && g->src_eof)
				return nl_err_set(err, NL_EFORMAT, "gzip stream is truncated");
			break;
		case Z_MEM_ERROR:
			return nl_err_set(err, NL_ENOMEM, "out of memory");
		default:
			return nl_err_set(err, NL_EFORMAT, "gzip data is corrupt (%s)",
			    g->zs.msg ? g->zs.msg : "invalid stream");
		}
	}
	return (ptrdiff_t)done;
}

static const struct nl_io_ops gz_ops = { gz_read, NULL, NULL };

static void
gz_free(struct gz *g)
{
	if (g == NULL)
		return;
	if (g->inited)
		inflateEnd(&g->zs);
	free(g);
}

/* Open *io as the inflated bytes of src. */
static int
gz_open(struct gz **gp, struct nl_io *io, struct nl_io *src, struct nl_err *err)
{
	struct gz *g = calloc(1, sizeof *g);

	if (g == NULL)
		return nl_err_set(err, NL_ENOMEM, "out of memory");
	g->src = src;
	if (inflateInit2(&g->zs, 15 + 32) != Z_OK) {
		free(g);
		return nl_err_set(err, NL_ENOMEM, "out of memory (zlib)");
	}
	g->inited = 1;
	*gp = g;
	nl_io_open_custom(io, &gz_ops, g, "gzip", 0);
	return 0;
}

static int
is_gzip(const unsigned char *p, size_t n)
{
	return n >= 3 && p[0] == 0x1f && p[1] == 0x8b && p[2] == 8;
}

/* ---- format sniffing ---- */

/* A tar header: the checksum field matches the block's byte sum (unsigned, or signed as
 * some old writers did). An all-zero block (an empty tar) is not taken for one: a file of
 * NULs named explicitly is text like any other bytes. */
static int
is_tar(const unsigned char *p, size_t n)
{
	unsigned long want = 0, usum = 0;
	long ssum = 0;
	size_t i = 148;
	int digits = 0;

	if (n < 512)
		return 0;
	while (i < 156 && p[i] == ' ')
		i++;
	for (; i < 156 && p[i] >= '0' && p[i] <= '7'; i++, digits++)
		want = want * 8 + (unsigned long)(p[i] - '0');
	for (; i < 156; i++)
		if (p[i] != ' ' && p[i] != '\0')
			return 0;
	if (digits == 0)
		return 0;
	for (size_t k = 0; k < 512; k++) {
		unsigned char b = k >= 148 && k < 156 ? ' ' : p[k];
		usum += b;
		ssum += (signed char)b;
	}
	return want == usum || (long)want == ssum;
}

static enum sniff
sniff(const unsigned char *p, size_t n)
{
	if (n >= 4 && (memcmp(p, "PK\3\4", 4) == 0 || memcmp(p, "PK\5\6", 4) == 0))
		return SNIFF_ZIP;
	if ((n >= 8 && memcmp(p, "!<arch>\n", 8) == 0) || is_tar(p, n))
		return SNIFF_ARCHIVE;
	if ((n >= 6 && memcmp(p, "\xfd" "7zXZ\0", 6) == 0) ||
	    (n >= 4 && memcmp(p, "\x28\xb5\x2f\xfd", 4) == 0) ||
	    (n >= 10 && memcmp(p, "BZh", 3) == 0 && p[3] >= '1' && p[3] <= '9' &&
	    (memcmp(p + 4, "\x31\x41\x59\x26\x53\x59", 6) == 0 ||
	    memcmp(p + 4, "\x17\x72\x45\x38\x50\x90", 6) == 0)) ||
	    (n >= 4 && (memcmp(p, "\x04\x22\x4d\x18", 4) == 0 || memcmp(p, "\x02\x21\x4c\x18", 4) == 0)) ||
	    (n >= 4 && memcmp(p, "LZIP", 4) == 0) ||
	    (n >= 3 && p[0] == 0x1f && p[1] == 0x9d))
		return SNIFF_COMPRESSED;
	return SNIFF_TEXT;
}

/* ---- stdin: plain, spooled, or replayed ---- */

static ptrdiff_t
stdin_tee_read(void *ctx, void *buf, size_t n, struct nl_err *err)
{
	struct nl_corpus *c = ctx;
	ssize_t r;

	if (c->stdin_eof)
		return 0;
	while ((r = read(STDIN_FILENO, buf, n)) < 0)
		if (errno != EINTR)
			return nl_err_sys(err, "read error");
	if (r == 0)
		c->stdin_eof = 1;
	else if (fwrite(buf, 1, (size_t)r, c->spool) != (size_t)r)
		return nl_err_sys(err, "cannot spool standard input");
	return (ptrdiff_t)r;
}

static ptrdiff_t
spool_read(void *ctx, void *buf, size_t n, struct nl_err *err)
{
	struct nl_corpus *c = ctx;
	size_t r = fread(buf, 1, n, c->spool);

	if (r < n && ferror(c->spool))
		return nl_err_sys(err, "cannot read the standard input spool");
	return (ptrdiff_t)r;
}

static const struct nl_io_ops stdin_tee_ops = { stdin_tee_read, NULL, NULL };
static const struct nl_io_ops spool_ops = { spool_read, NULL, NULL };

/* Copy what the first pass left unread on stdin, so the spool holds all of it. */
static int
spool_drain(struct nl_corpus *c, struct nl_err *err)
{
	unsigned char tmp[65536];
	ptrdiff_t r;

	while ((r = stdin_tee_read(c, tmp, sizeof tmp, err)) > 0)
		;
	if (r < 0)
		return -1;
	if (fflush(c->spool) != 0)
		return nl_err_sys(err, "cannot spool standard input");
	return 0;
}

static int
open_stdin(struct nl_corpus *c, struct nl_err *err)
{
	if (c->stdin_taken)
		return nl_io_open_read(&c->top, "-", NL_IO_FORCE, err);
	c->stdin_taken = 1;
	if (c->spool_state == 2) {
		if (fseek(c->spool, 0, SEEK_SET) != 0)
			return nl_err_sys(err, "cannot read the standard input spool");
		nl_io_open_custom(&c->top, &spool_ops, c, "(stdin)", 0);
		return 0;
	}
	if (!c->rewindable)
		return nl_io_open_read(&c->top, "-", NL_IO_FORCE, err);
	if (c->spool == NULL && (c->spool = tmpfile()) == NULL)
		return nl_err_sys(err, "cannot create a temporary file for standard input");
	c->spool_state = 1;
	nl_io_open_custom(&c->top, &stdin_tee_ops, c, "(stdin)", 0);
	return 0;
}

/* ---- operands, archives, members ---- */

static void
close_member(struct nl_corpus *c)
{
	if (c->gzent_open)
		nl_io_abort(&c->gzent);
	c->gzent_open = 0;
	gz_free(c->gze);
	c->gze = NULL;
	if (c->ent_open)
		nl_io_abort(&c->ent);
	c->ent_open = 0;
	free(c->member);
	c->member = NULL;
	c->doc = NULL;
}

static void
close_inner(struct nl_corpus *c)
{
	if (c->inner != NULL)
		archive_read_free(c->inner);
	c->inner = NULL;
	if (c->outer_ent_open)
		nl_io_abort(&c->outer_ent);
	c->outer_ent_open = 0;
	free(c->inner_name);
	c->inner_name = NULL;
}

static void
close_operand(struct nl_corpus *c)
{
	close_member(c);
	close_inner(c);
	if (c->outer != NULL)
		archive_read_free(c->outer);
	c->outer = NULL;
	c->outer_src = NULL;
	if (c->gztop_open)
		nl_io_abort(&c->gztop);
	c->gztop_open = 0;
	gz_free(c->gzt);
	c->gzt = NULL;
	if (c->top_open)
		nl_io_abort(&c->top);
	c->top_open = 0;
	c->op_open = 0;
	c->deb = c->data_seen = 0;
}

static const char *
archive_reason(struct archive *a)
{
	const char *s = archive_error_string(a);

	return s != NULL ? s : "unreadable archive";
}

static struct archive *
new_archive(int raw, struct nl_err *err)
{
	struct archive *a = archive_read_new();

	if (a == NULL) {
		nl_err_set(err, NL_ENOMEM, "out of memory");
		return NULL;
	}
	archive_read_support_format_tar(a);
	archive_read_support_format_zip(a);
	archive_read_support_format_ar(a);
	if (raw)
		archive_read_support_format_raw(a);
	archive_read_support_filter_all(a);
	return a;
}

/* Sets c->doc for a plain or gzip text operand, c->outer for an archive, neither for an
 * empty one. */
static int
open_operand(struct nl_corpus *c, struct nl_err *err)
{
	const char *path = c->paths[c->next++];
	const unsigned char *p;
	size_t got;
	struct nl_io *src;

	c->op_open = 1;
	c->op_disp = strcmp(path, "-") == 0 ? "(stdin)" : path;
	if (set_source(c, NULL, NULL, err) < 0)
		return -1;
	c->top_open = 1; /* safe to abort even when the open fails */
	if (strcmp(path, "-") == 0 ? open_stdin(c, err) < 0 :
	    nl_io_open_read(&c->top, path, NL_IO_FORCE, err) < 0)
		return -1;
	/* a rewindable corpus reads named operands twice: only regular files can be */
	struct stat st;
	if (c->rewindable && strcmp(path, "-") != 0 &&
	    (fstat(c->top.fd, &st) < 0 || !S_ISREG(st.st_mode)))
		return nl_err_set(err, NL_EUNSUPPORTED,
		    "not a regular file, so it cannot be read twice for -P (give it as standard input)");
	src = &c->top;
	if (nl_io_peek(src, &p, SNIFF_BYTES, &got, err) < 0)
		return -1;
	if (got == 0)
		return 0;
	if (is_gzip(p, got)) {
		if (gz_open(&c->gzt, &c->gztop, src, err) < 0)
			return -1;
		c->gztop_open = 1;
		src = &c->gztop;
		if (nl_io_peek(src, &p, SNIFF_BYTES, &got, err) < 0)
			return -1;
	}
	enum sniff kind = sniff(p, got);
	if (kind == SNIFF_TEXT) {
		c->doc = src;
		return 0;
	}
	if ((c->outer = new_archive(kind == SNIFF_COMPRESSED, err)) == NULL)
		return -1;
	c->first_header = 1;
	if (kind == SNIFF_ZIP && src == &c->top && strcmp(path, "-") != 0) {
		/* a zip file is read by its central directory, which alone has the entry types
		 * (symlinks); stdin and gzip-wrapped zips are read as a stream */
		if (archive_read_open_filename(c->outer, path, 65536) != ARCHIVE_OK)
			return nl_err_set(err, NL_EFORMAT, "%s", archive_reason(c->outer));
		return 0;
	}
	c->outer_src = src;
	return nl_io_archive_open(c->outer, src, err);
}

/* The member path with leading "./" and "/" removed, for -I/-X. */
static const char *
norm_path(const char *s)
{
	for (;;) {
		if (s[0] == '.' && s[1] == '/')
			s += 2;
		else if (s[0] == '/')
			s++;
		else
			return s;
	}
}

static int
selected(const struct nl_corpus *c, const char *name)
{
	const char *s = norm_path(name);
	int in = c->n_include == 0;

	for (size_t i = 0; i < c->n_include && !in; i++)
		in = fnmatch(c->include[i], s, 0) == 0;
	for (size_t i = 0; i < c->n_exclude && in; i++)
		in = fnmatch(c->exclude[i], s, 0) != 0;
	return in;
}

/* libarchive reports a clean end when a tar stops at a block boundary; a whole one has
 * its end-of-archive zero block after the last header position. */
static int
tar_cut_short(struct archive *a)
{
	if ((archive_format(a) & ARCHIVE_FORMAT_BASE_MASK) != ARCHIVE_FORMAT_TAR)
		return 0;
	return archive_filter_bytes(a, 0) < archive_read_header_position(a) + 512;
}

/* libarchive's ar reader also ends cleanly when fewer than 60 bytes of a member header
 * are left; when nothing decompresses the ar, every byte of the source must be used. */
static int
ar_cut_short(struct nl_corpus *c, struct nl_err *err)
{
	struct archive *a = c->outer;
	unsigned char tmp[4096];
	ptrdiff_t r;

	if ((archive_format(a) & ARCHIVE_FORMAT_BASE_MASK) != ARCHIVE_FORMAT_AR ||
	    c->outer_src == NULL || archive_filter_count(a) != 1)
		return 0;
	while ((r = nl_io_read(c->outer_src, tmp, sizeof tmp, err)) > 0)
		;
	if (r < 0)
		return -1;
	if (c->outer_src->offset > (uint64_t)archive_filter_bytes(a, 0))
		return nl_err_set(err, NL_EFORMAT, "truncated ar archive (incomplete member header)");
	return 0;
}

/* Open the current entry of a as the document: inflated if gzip, and with screen set,
 * skipped (returns 0) when binary. */
static int
open_member(struct nl_corpus *c, struct archive *a, int screen, struct nl_err *err)
{
	const unsigned char *p;
	size_t got;

	nl_io_open_archive_entry(&c->ent, a, c->member ? c->member : "data");
	c->ent_open = 1;
	c->doc = &c->ent;
	if (nl_io_peek(&c->ent, &p, 3, &got, err) < 0)
		return -1;
	if (screen && is_gzip(p, got)) {
		if (gz_open(&c->gze, &c->gzent, &c->ent, err) < 0)
			return -1;
		c->gzent_open = 1;
		c->doc = &c->gzent;
	}
	if (!screen)
		return 1;
	if (nl_io_peek(c->doc, &p, SCREEN_BYTES, &got, err) < 0)
		return -1;
	if (memchr(p, 0, got) != NULL) {
		if (c->notice != NULL)
			c->notice(c->notice_ctx, c->source, "skipping binary member");
		close_member(c);
		return 0;
	}
	return 1;
}

/* 1 with c->doc set to the next selected member, 0 at the end of the archive. */
static int
next_member(struct nl_corpus *c, struct nl_err *err)
{
	for (;;) {
		struct archive *a = c->inner ? c->inner : c->outer;
		struct archive_entry *e;
		int r = archive_read_next_header(a, &e);

		if (r == ARCHIVE_EOF) {
			if (tar_cut_short(a))
				return nl_err_set(err, NL_EFORMAT,
				    "truncated tar archive (no end-of-archive block)");
			if (c->inner != NULL) {
				close_inner(c);
				continue;
			}
			if (ar_cut_short(c, err) < 0)
				return -1;
			if (c->deb && !c->data_seen)
				return nl_err_set(err, NL_EFORMAT,
				    "Debian package without a data.tar member");
			return 0;
		}
		if (r < ARCHIVE_WARN)
			return nl_err_set(err, NL_EFORMAT, "%s", archive_reason(a));
		const char *name = archive_entry_pathname(e);
		if (name == NULL)
			name = archive_entry_pathname_utf8(e);
		if (c->first_header) {
			c->first_header = 0;
			if (archive_format(a) == ARCHIVE_FORMAT_RAW)
				return open_member(c, a, 0, err); /* compressed text: the operand itself */
			if ((archive_format(a) & ARCHIVE_FORMAT_BASE_MASK) == ARCHIVE_FORMAT_AR &&
			    name != NULL && strcmp(name, "debian-binary") == 0) {
				c->deb = 1;
				continue;
			}
		}
		if (c->deb && c->inner == NULL) {
			if (name == NULL || strncmp(name, "data.tar", 8) != 0)
				continue; /* debian-binary, control.tar.*, signatures */
			if ((c->inner_name = dup_str(name)) == NULL)
				return nl_err_set(err, NL_ENOMEM, "out of memory");
			c->data_seen = 1;
			nl_io_open_archive_entry(&c->outer_ent, c->outer, name);
			c->outer_ent_open = 1;
			if ((c->inner = archive_read_new()) == NULL)
				return nl_err_set(err, NL_ENOMEM, "out of memory");
			archive_read_support_format_tar(c->inner);
			archive_read_support_filter_all(c->inner);
			if (nl_io_archive_open(c->inner, &c->outer_ent, err) < 0)
				return -1;
			continue;
		}
		mode_t type = archive_entry_filetype(e);
		if (type == 0 && (archive_format(a) & ARCHIVE_FORMAT_BASE_MASK) == ARCHIVE_FORMAT_AR)
			type = AE_IFREG; /* GNU ar -D writes the mode as "644": ar members are files */
		if (type != AE_IFREG || name == NULL || !selected(c, name))
			continue;
		if ((c->member = dup_str(name)) == NULL)
			return nl_err_set(err, NL_ENOMEM, "out of memory");
		if (set_source(c, c->inner_name, c->member, err) < 0)
			return -1;
		r = open_member(c, a, 1, err);
		if (r != 0)
			return r;
	}
}

/* 1 with c->doc set to the next document stream, 0 at the end of all input. */
static int
next_doc(struct nl_corpus *c, struct nl_err *err)
{
	for (;;) {
		if (c->outer != NULL) {
			int r = next_member(c, err);
			if (r != 0)
				return r;
		}
		if (c->op_open)
			close_operand(c);
		if (c->next == c->n_paths)
			return 0;
		if (open_operand(c, err) < 0)
			return -1;
		if (c->doc != NULL)
			return 1;
	}
}

/* ---- document splitting ---- */

/* Is there a separator line at q (a line start)? -1: not decidable before more input. */
static int
sep_at(const struct nl_corpus *c, size_t q)
{
	size_t m = c->len - q, L = c->seplen;

	if (m > L)
		return c->buf[q + L] == '\n' && memcmp(c->buf + q, c->sep, L) == 0;
	if (memcmp(c->buf + q, c->sep, m) != 0)
		return 0;
	if (!c->eof)
		return -1;
	return m == L;
}

/* Next piece of the current document stream: 1, or 0 at its end. */
static int
next_piece(struct nl_corpus *c, const unsigned char **data, size_t *n, struct nl_err *err)
{
	size_t need = c->has_sep ? c->seplen + 1 : 1;

	for (;;) {
		size_t avail = c->len - c->pos;
		if (!c->eof && (avail < need || c->pos >= PIECE_MAX / 2)) {
			memmove(c->buf, c->buf + c->pos, avail);
			c->pos = 0;
			c->len = avail;
			ptrdiff_t r = nl_io_read(c->doc, c->buf + c->len, c->cap - c->len, err);
			if (r < 0)
				return -1;
			if ((size_t)r < c->cap - c->len)
				c->eof = 1; /* nl_io_read is short only at the end */
			c->len += (size_t)r;
			continue;
		}
		if (avail == 0)
			return 0;
		size_t e = c->pos + (avail < PIECE_MAX ? avail : PIECE_MAX);
		if (c->has_sep) {
			size_t q = c->pos;
			int line = c->at_line_start, s = 0;
			for (;;) {
				if (line && (s = sep_at(c, q)) != 0) {
					e = q; /* a separator (s > 0) or undecidable (s < 0; q > pos) */
					break;
				}
				const unsigned char *nl = memchr(c->buf + q, '\n', e - q);
				if (nl == NULL)
					break;
				q = (size_t)(nl - c->buf) + 1;
				line = 1;
				if (q >= e)
					break;
			}
			if (s > 0 && e == c->pos) {
				/* drop the separator line with its newline; a new document follows */
				c->pos += c->seplen + (c->pos + c->seplen < c->len);
				c->at_line_start = 1;
				c->need_start = 1;
				continue;
			}
			c->at_line_start = c->buf[e - 1] == '\n';
		}
		*data = c->buf + c->pos;
		*n = e - c->pos;
		c->pos = e;
		return 1;
	}
}

/* ---- public ---- */

int
nl_corpus_open(struct nl_corpus **cp, const char *const *paths, size_t n_paths,
    const struct nl_corpus_opts *opts, int rewindable, struct nl_err *err)
{
	static const char *const dash[] = { "-" };
	struct nl_corpus *c = calloc(1, sizeof *c);
	int bad = 0;

	*cp = NULL;
	if (c == NULL)
		return nl_err_set(err, NL_ENOMEM, "out of memory");
	if (n_paths == 0) {
		paths = dash;
		n_paths = 1;
	}
	c->n_paths = n_paths;
	c->paths = dup_list(paths, n_paths, &bad);
	c->rewindable = rewindable;
	if (opts != NULL) {
		c->n_include = opts->n_include;
		c->n_exclude = opts->n_exclude;
		c->include = dup_list(opts->include, opts->n_include, &bad);
		c->exclude = dup_list(opts->exclude, opts->n_exclude, &bad);
		c->notice = opts->notice;
		c->notice_ctx = opts->notice_ctx;
		if (opts->separator != NULL) {
			c->has_sep = 1;
			c->seplen = strlen(opts->separator);
			if ((c->sep = dup_str(opts->separator)) == NULL)
				bad = 1;
		}
	}
	if (c->seplen > SIZE_MAX - PIECE_MAX - 1)
		bad = 1;
	else
		c->cap = PIECE_MAX + c->seplen + 1;
	if (!bad && (c->buf = malloc(c->cap)) == NULL)
		bad = 1;
	if (!bad && (c->source = dup_str(strcmp(c->paths[0], "-") == 0 ? "(stdin)" : c->paths[0])) == NULL)
		bad = 1;
	if (bad) {
		nl_corpus_close(c);
		return nl_err_set(err, NL_ENOMEM, "out of memory");
	}
	*cp = c;
	return 0;
}

int
nl_corpus_read(struct nl_corpus *c, const unsigned char **data, size_t *len, int *doc_start,
    struct nl_err *err)
{
	if (c->failed) {
		if (err != NULL)
			*err = c->saved;
		return -1;
	}
	for (;;) {
		if (c->doc == NULL) {
			int r = next_doc(c, err);
			if (r < 0)
				goto fail;
			if (r == 0)
				return 0;
			c->pos = c->len = 0;
			c->eof = 0;
			c->at_line_start = 1;
			c->need_start = 1;
		}
		int r = next_piece(c, data, len, err);
		if (r < 0)
			goto fail;
		if (r > 0) {
			*doc_start = c->need_start;
			c->need_start = 0;
			return 1;
		}
		if (c->outer != NULL)
			close_member(c);
		else
			c->doc = NULL; /* a text operand: next_doc closes it */
	}
fail:
	/* the caller prints the operand; the parts inside it go into the message */
	if (err != NULL) {
		if (c->member != NULL)
			nl_err_prefix(err, "%s", c->member);
		if (c->inner_name != NULL)
			nl_err_prefix(err, "%s", c->inner_name);
	}
	set_source(c, NULL, NULL, NULL);
	c->failed = 1;
	if (err != NULL)
		c->saved = *err;
	else
		nl_err_set(&c->saved, NL_EIO, "read failed");
	return -1;
}

const char *
nl_corpus_source(const struct nl_corpus *c)
{
	return c->source != NULL ? c->source : "";
}

int
nl_corpus_rewind(struct nl_corpus *c, struct nl_err *err)
{
	if (!c->rewindable)
		return nl_err_set(err, NL_EUSAGE, "corpus was not opened for a second pass");
	close_operand(c);
	c->pos = c->len = 0;
	c->eof = 0;
	c->failed = 0;
	c->next = 0;
	c->stdin_taken = 0;
	c->op_disp = NULL;
	if (c->spool_state == 1) {
		if (spool_drain(c, err) < 0)
			return -1;
		c->spool_state = 2;
	}
	return 0;
}

void
nl_corpus_close(struct nl_corpus *c)
{
	if (c == NULL)
		return;
	close_operand(c);
	if (c->spool != NULL)
		fclose(c->spool);
	free_list(c->paths, c->n_paths);
	free_list(c->include, c->n_include);
	free_list(c->exclude, c->n_exclude);
	free(c->sep);
	free(c->buf);
	free(c->source);
	free(c);
}
