/* nl — see LICENSE. Corpus input: files, stdin (spooled for a second pass), gzip, tar,
 * zip, ar and .deb archives built here with libarchive's writer, member selection,
 * binary screening, separator splitting across piece boundaries, errors. */
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "corpus.h"
#include "t.h"
#include "t_archive.h"

#define MIB ((size_t)1 << 20)

static char dir[] = "/tmp/nl-test-corpus.XXXXXX";

static const char *
path(const char *name)
{
	static char s[4][512];
	static int k;
	k = (k + 1) % 4;
	snprintf(s[k], sizeof s[k], "%s/%s", dir, name);
	return s[k];
}

static void
write_file(const char *name, const void *p, size_t n)
{
	FILE *f = fopen(path(name), "wb");
	if (f == NULL || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
		perror(name);
		exit(99);
	}
}

/* ---- reading everything ---- */

struct docs {
	size_t n;
	struct t_buf d[64];
	int rc;
	struct nl_err err;
	size_t max_piece, pieces;
	char source[512];
};

static void
docs_free(struct docs *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->d[i].p);
	memset(r, 0, sizeof *r);
}

/* Read c to the end (or error) into r; documents beyond 64 are counted, not kept. */
static void
drain(struct nl_corpus *c, struct docs *r)
{
	const unsigned char *p;
	size_t len;
	int start;

	memset(r, 0, sizeof *r);
	while ((r->rc = nl_corpus_read(c, &p, &len, &start, &r->err)) == 1) {
		if (start)
			r->n++;
		if (r->n == 0) {
			r->rc = -2; /* a piece before any document start */
			break;
		}
		if (r->n <= 64)
			t_buf_add(&r->d[r->n - 1], p, len);
		r->pieces++;
		if (len > r->max_piece)
			r->max_piece = len;
		if (len == 0)
			r->rc = -3;
	}
	snprintf(r->source, sizeof r->source, "%s", nl_corpus_source(c));
}

struct notes {
	int n;
	char last[512];
};

static void
note(void *ctx, const char *source, const char *msg)
{
	struct notes *ns = ctx;
	ns->n++;
	snprintf(ns->last, sizeof ns->last, "%s: %s", source, msg);
}

static void
run(struct docs *r, const char *const *paths, size_t n, const struct nl_corpus_opts *o)
{
	struct nl_corpus *c;
	struct nl_err err = { 0, "" };

	if (nl_corpus_open(&c, paths, n, o, 0, &err) < 0) {
		memset(r, 0, sizeof *r);
		r->rc = -1;
		r->err = err;
		return;
	}
	drain(c, r);
	nl_corpus_close(c);
}

static void
run1(struct docs *r, const char *name, const struct nl_corpus_opts *o)
{
	const char *p = path(name);
	run(r, &p, 1, o);
}

static int
doc_is(const struct docs *r, size_t i, const char *s)
{
	return i < r->n && r->d[i].n == strlen(s) && memcmp(r->d[i].p, s, r->d[i].n) == 0;
}

/* ---- building inputs ---- */

static unsigned char *
gzip_mem(const void *p, size_t n, size_t *out)
{
	z_stream zs;
	memset(&zs, 0, sizeof zs);
	if (deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		exit(99);
	size_t cap = deflateBound(&zs, (uLong)n) + 64;
	unsigned char *o = malloc(cap);
	if (o == NULL)
		exit(99);
	zs.next_in = (Bytef *)(uintptr_t)p;
	zs.avail_in = (uInt)n;
	zs.next_out = o;
	zs.avail_out = (uInt)cap;
	if (deflate(&zs, Z_FINISH) != Z_STREAM_END)
		exit(99);
	*out = cap - zs.avail_out;
	deflateEnd(&zs);
	return o;
}

static void
build_file(const char *name, int fmt, int filter, const struct t_member *m, size_t n)
{
	struct t_buf b;
	t_archive_build(&b, fmt, filter, m, n);
	write_file(name, b.p, b.n);
	free(b.p);
}

/* ---- tests ---- */

T_TEST(plain_files)
{
	struct docs r;
	const char text[] = "hello\r\nworld\n\xff\xfe invalid utf-8\n";

	write_file("a.txt", text, sizeof text - 1);
	write_file("b.txt", "second", 6);
	write_file("empty.txt", "", 0);
	run1(&r, "a.txt", NULL);
	T_CHECK(r.rc == 0 && r.n == 1 && doc_is(&r, 0, text));
	docs_free(&r);

	const char *ops[] = { path("empty.txt"), path("b.txt"), path("a.txt") };
	run(&r, ops, 3, NULL);
	T_CHECK(r.rc == 0 && r.n == 2 && doc_is(&r, 0, "second") && doc_is(&r, 1, text));
	docs_free(&r);

	run1(&r, "empty.txt", NULL);
	T_CHECK(r.rc == 0 && r.n == 0);
	docs_free(&r);

	run1(&r, "missing.txt", NULL);
	T_CHECK_MSG(r.rc == -1 && strcmp(r.err.msg, "No such file or directory") == 0, "%s", r.err.msg);
	T_CHECK(strcmp(r.source, path("missing.txt")) == 0);
	docs_free(&r);

	/* a binary file named explicitly is read whole */
	const unsigned char bin[] = { 'a', 0, 'b', 0, 0, 'c' };
	write_file("bin", bin, sizeof bin);
	run1(&r, "bin", NULL);
	T_CHECK(r.rc == 0 && r.n == 1 && r.d[0].n == 6 && memcmp(r.d[0].p, bin, 6) == 0);
	docs_free(&r);
	/* NULs only (an empty tar looks like this) are still text when named */
	static const unsigned char zeros[2048];
	write_file("zeros", zeros, sizeof zeros);
	run1(&r, "zeros", NULL);
	T_CHECK(r.rc == 0 && r.n == 1 && r.d[0].n == sizeof zeros);
	docs_free(&r);
}

T_TEST(gzip_inputs)
{
	struct docs r;
	size_t n1, n2;
	const char *t1 = "first member\n", *t2 = "second member\n";
	unsigned char *g1 = gzip_mem(t1, strlen(t1), &n1), *g2 = gzip_mem(t2, strlen(t2), &n2);
	struct t_buf b = { 0 };

	write_file("one.gz", g1, n1);
	run1(&r, "one.gz", NULL);
	T_CHECK(r.rc == 0 && r.n == 1 && doc_is(&r, 0, t1));
	docs_free(&r);

	/* concatenated members are one document, NUL padding after them is ignored */
	t_buf_add(&b, g1, n1);
	t_buf_add(&b, g2, n2);
	write_file("two.gz", b.p, b.n);
	run1(&r, "two.gz", NULL);
	T_CHECK(r.rc == 0 && r.n == 1 && doc_is(&r, 0, "first member\nsecond member\n"));
	docs_free(&r);
	t_buf_add(&b, "\0\0\0\0", 4);
	write_file("pad.gz", b.p, b.n);
	run1(&r, "pad.gz", NULL);
	T_CHECK(r.rc == 0 && r.n == 1 && doc_is(&r, 0, "first member\nsecond member\n"));
	docs_free(&r);
	t_buf_add(&b, "junk", 4);
	write_file("junk.gz", b.p, b.n);
	run1(&r, "junk.gz", NULL);
	T_CHECK_MSG(r.rc == -1 && strcmp(r.err.msg, "trailing garbage after gzip data") == 0, "%s",
	    r.err.msg);
	docs_free(&r);

	/* truncated: in the trailer, in the data, and after the header */
	size_t cuts[] = { n1 - 1, n1 - 6, 11 };
	for (size_t i = 0; i < 3; i++) {
		write_file("cut.gz", g1, cuts[i]);
		run1(&r, "cut.gz", NULL);
		T_CHECK_MSG(r.rc == -1 && strcmp(r.err.msg, "gzip stream is truncated") == 0, "cut %zu: %s",
		    cuts[i], r.err.msg);
		T_CHECK(strcmp(r.source, path("cut.gz")) == 0);
		docs_free(&r);
	}
	/* the second of two members truncated */
	write_file("cut2.gz", b.p, n1 + n2 - 3);
	run1(&r, "cut2.gz", NULL);
	T_CHECK_MSG(r.rc == -1 && strcmp(r.err.msg, "gzip stream is truncated") == 0, "%s", r.err.msg);
	docs_free(&r);

	/* corrupt: a wrong CRC, and a bad block type */
	unsigned char *bad = malloc(n1);
	T_CHECK(bad != NULL);
	memcpy(bad, g1, n1);
	bad[n1 - 8] ^= 0x55;
	write_file("crc.gz", bad, n1);
	run1(&r, "crc.gz", NULL);
	T_CHECK_MSG(r.rc == -1 && strncmp(r.err.msg, "gzip data is corrupt", 20) == 0, "%s", r.err.msg);
	docs_free(&r);
	memcpy(bad, g1, n1);
	bad[10] |= 0x06; /* BTYPE 11: reserved */
	write_file("bad.gz", bad, n1);
	run1(&r, "bad.gz", NULL);
	T_CHECK_MSG(r.rc == -1 && strcmp(r.err.msg, "gzip data is corrupt (invalid block type)") == 0,
	    "%s", r.err.msg);
	docs_free(&r);
	free(bad);

	/* dictzip: FEXTRA with an "RA" subfield before the deflate data */
	const char *t3 = "dictzip text\n";
	unsigned char raw[256];
	z_stream zs;
	memset(&zs, 0, sizeof zs);
	T_CHECK(deflateInit2(&zs, 9, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) == Z_OK);
	zs.next_in = (Bytef *)(uintptr_t)t3;
	zs.avail_in = (uInt)strlen(t3);
	zs.next_out = raw;
	zs.avail_out = sizeof raw;
	T_CHECK(deflate(&zs, Z_FINISH) == Z_STREAM_END);
	size_t rawn = sizeof raw - zs.avail_out;
	deflateEnd(&zs);
	const unsigned char hdr[] = { 0x1f, 0x8b, 8, 4 | 8, 0, 0, 0, 0, 2, 3,
		10, 0, 'R', 'A', 6, 0, 1, 0, 0x58, 0xe3, 1, 0 };
	struct t_buf dz = { 0 };
	unsigned char tail[8];
	uLong crc = crc32(0, (const Bytef *)t3, (uInt)strlen(t3));
	for (int i = 0; i < 4; i++) {
		tail[i] = (unsigned char)(crc >> (8 * i));
		tail[4 + i] = (unsigned char)(strlen(t3) >> (8 * i));
	}
	t_buf_add(&dz, hdr, sizeof hdr);
	t_buf_add(&dz, "gcide.dict\0", 11); /* FNAME */
	t_buf_add(&dz, raw, rawn);
	t_buf_add(&dz, tail, 8);
	write_file("x.dict.dz", dz.p, dz.n);
	run1(&r, "x.dict.dz", NULL);
	T_CHECK_MSG(r.rc == 0 && r.n == 1 && doc_is(&r, 0, t3), "%d %s", r.rc, r.err.msg);
	docs_free(&r);

	/* gzip of nothing: no documents, no error */
	size_t ne;
	unsigned char *ge = gzip_mem("", 0, &ne);
	write_file("empty.gz", ge, ne);
	run1(&r, "empty.gz", NULL);
	T_CHECK(r.rc == 0 && r.n == 0);
	docs_free(&r);
	free(ge);
	free(dz.p);
	free(b.p);
	free(g1);
	free(g2);
}

static const char art[] = "A fortune.\n%\nAnother one,\n  with two lines.\n%\n";

T_TEST(archives)
{
	struct docs r;
	const struct t_member m[] = {
		{ "./docs/", NULL, 0, 'd' },
		{ "./docs/a.txt", "alpha\n", 6, 0 },
		{ "./docs/link", "a.txt", 0, 'l' },
		{ "./docs/b.txt", "beta\n", 5, 0 },
		{ "./docs/empty", "", 0, 0 },
	};

	build_file("t.tar", 't', 0, m, 5);
	build_file("t.tar.xz", 't', 'x', m, 5);
	build_file("t.tgz", 't', 'g', m, 5);
	build_file("t.zip", 'z', 0, m, 5);
	const char *names[] = { "t.tar", "t.tar.xz", "t.tgz", "t.zip" };
	for (size_t i = 0; i < 4; i++) {
		run1(&r, names[i], NULL);
		T_CHECK_MSG(r.rc == 0 && r.n == 2 && doc_is(&r, 0, "alpha\n") && doc_is(&r, 1, "beta\n"),
		    "%s: rc %d n %zu %s", names[i], r.rc, r.n, r.err.msg);
		docs_free(&r);
	}

	/* a plain ar archive: every member is a document */
	const struct t_member am[] = { { "one", "1\n", 2, 0 }, { "two", "2\n", 2, 0 } };
	build_file("x.a", 'a', 0, am, 2);
	run1(&r, "x.a", NULL);
	T_CHECK_MSG(r.rc == 0 && r.n == 2 && doc_is(&r, 0, "1\n") && doc_is(&r, 1, "2\n"), "%s", r.err.msg);
	docs_free(&r);

	/* GNU ar -D writes modes as "644", without a file type; cut inside a header: an error */
	struct t_buf gar = { 0 };
	t_buf_add(&gar, "!<arch>\n", 8);
	for (int k = 0; k < 2; k++) {
		char h[61];
		snprintf(h, sizeof h, "%-16s%-12s%-6s%-6s%-8s%-10s`\n", k ? "two/" : "one/", "0", "0", "0",
		    "644", "4");
		t_buf_add(&gar, h, 60);
		t_buf_add(&gar, k ? "two\n" : "one\n", 4);
	}
	write_file("gnu.a", gar.p, gar.n);
	run1(&r, "gnu.a", NULL);
	T_CHECK_MSG(r.rc == 0 && r.n == 2 && doc_is(&r, 0, "one\n") && doc_is(&r, 1, "two\n"), "%s",
	    r.err.msg);
	docs_free(&r);
	write_file("gnu-cut.a", gar.p, 100);
	run1(&r, "gnu-cut.a", NULL);
	T_CHECK_MSG(r.rc == -1 && strcmp(r.err.msg, "truncated ar archive (incomplete member header)") == 0,
	    "%s", r.err.msg);
	docs_free(&r);
	free(gar.p);

	/* a zip on stdin is read as a stream */
	build_file("plain.zip", 'z', 0, am, 2);
	int zfd = open(path("plain.zip"), O_RDONLY), zsaved = dup(0);
	T_CHECK(zfd >= 0 && zsaved >= 0 && dup2(zfd, 0) == 0);
	run(&r, NULL, 0, NULL);
	T_CHECK_MSG(r.rc == 0 && r.n == 2 && doc_is(&r, 0, "1\n") && doc_is(&r, 1, "2\n"), "%s", r.err.msg);
	docs_free(&r);
	dup2(zsaved, 0);
	close(zsaved);
	close(zfd);

	/* the same archive on stdin */
	int fd = open(path("t.tar.xz"), O_RDONLY), saved = dup(0);
	T_CHECK(fd >= 0 && saved >= 0 && dup2(fd, 0) == 0);
	run(&r, NULL, 0, NULL);
	T_CHECK(r.rc == 0 && r.n == 2 && doc_is(&r, 1, "beta\n"));
	docs_free(&r);
	dup2(saved, 0);
	close(saved);
	close(fd);

	/* operands in order, then archive order; -S applies inside members */
	const struct t_member fm[] = { { "art", art, sizeof art - 1, 0 }, { "z", "zed", 3, 0 } };
	build_file("f.tar", 't', 0, fm, 2);
	write_file("pre.txt", "pre\n", 4);
	const char *ops[] = { path("pre.txt"), path("f.tar"), path("pre.txt") };
	struct nl_corpus_opts o = { NULL, 0, NULL, 0, "%", NULL, NULL };
	run(&r, ops, 3, &o);
	T_CHECK(r.rc == 0 && r.n == 5 && doc_is(&r, 0, "pre\n") && doc_is(&r, 1, "A fortune.\n") &&
	    doc_is(&r, 2, "Another one,\n  with two lines.\n") && doc_is(&r, 3, "zed") &&
	    doc_is(&r, 4, "pre\n"));
	docs_free(&r);

	/* compressed plain text goes through libarchive's raw format */
	const struct t_member rm[] = { { "data", "xz text\n", 8, 0 } };
	build_file("plain.xz", 'r', 'x', rm, 1);
	run1(&r, "plain.xz", NULL);
	T_CHECK_MSG(r.rc == 0 && r.n == 1 && doc_is(&r, 0, "xz text\n"), "%s", r.err.msg);
	docs_free(&r);
	/* gzip-compressed text inside a tar member is inflated */
	size_t gn;
	unsigned char *g = gzip_mem("inflated\n", 9, &gn);
	const struct t_member gm[] = { { "changelog.gz", g, gn, 0 } };
	build_file("g.tar", 't', 0, gm, 1);
	run1(&r, "g.tar", NULL);
	T_CHECK(r.rc == 0 && r.n == 1 && doc_is(&r, 0, "inflated\n"));
	docs_free(&r);
	free(g);
}

/* A package as dpkg-deb builds it: debian-binary, control.tar.xz, data.tar.xz. */
static void
build_deb(const char *name, size_t cut)
{
	size_t gn;
	unsigned char *g = gzip_mem("fortune-mod (1:1.99) unstable\n", 30, &gn);
	unsigned char dat[64] = { 0, 0, 0, 2, 'x' };
	const struct t_member data[] = {
		{ "./", NULL, 0, 'd' },
		{ "./usr/share/games/fortunes/", NULL, 0, 'd' },
		{ "./usr/share/games/fortunes/art", art, sizeof art - 1, 0 },
		{ "./usr/share/games/fortunes/art.dat", dat, sizeof dat, 0 },
		{ "./usr/share/games/fortunes/art.u8", "art", 0, 'l' },
		{ "./usr/share/games/fortunes/science", "E=mc2\n%\n", 8, 0 },
		{ "./usr/share/doc/fortunes/changelog.Debian.gz", g, gn, 0 },
	};
	const struct t_member control[] = { { "./control", "Package: fortunes\n", 18, 0 } };
	struct t_buf d, c, out;
	t_archive_build(&d, 't', 'x', data, 7);
	t_archive_build(&c, 't', 'x', control, 1);
	const struct t_member deb[] = {
		{ "debian-binary", "2.0\n", 4, 0 },
		{ "control.tar.xz", c.p, c.n, 0 },
		{ "data.tar.xz", d.p, d.n, 0 },
	};
	t_archive_build(&out, 'a', 0, deb, 3);
	write_file(name, out.p, cut ? out.n - cut : out.n);
	free(d.p);
	free(c.p);
	free(out.p);
	free(g);
}

T_TEST(debian_package)
{
	struct docs r;
	struct notes ns = { 0, "" };
	const char *inc[] = { "usr/share/games/fortunes/*" }, *exc[] = { "*/science" };
	struct nl_corpus_opts o = { inc, 1, NULL, 0, "%", note, &ns };
	char want[600];

	build_deb("f.deb", 0);
	run1(&r, "f.deb", &o);
	T_CHECK_MSG(r.rc == 0 && r.n == 3 && doc_is(&r, 0, "A fortune.\n") &&
	    doc_is(&r, 1, "Another one,\n  with two lines.\n") && doc_is(&r, 2, "E=mc2\n"),
	    "rc %d n %zu %s", r.rc, r.n, r.err.msg);
	snprintf(want, sizeof want,
	    "%s:data.tar.xz:./usr/share/games/fortunes/art.dat: skipping binary member", path("f.deb"));
	T_CHECK_MSG(ns.n == 1 && strcmp(ns.last, want) == 0, "%d %s", ns.n, ns.last);
	docs_free(&r);

	/* -X excludes; without -I everything regular and textual, the changelog inflated */
	o.exclude = exc;
	o.n_exclude = 1;
	run1(&r, "f.deb", &o);
	T_CHECK(r.rc == 0 && r.n == 2);
	docs_free(&r);
	o.n_include = 0;
	o.separator = NULL;
	run1(&r, "f.deb", &o);
	T_CHECK(r.rc == 0 && r.n == 2 && doc_is(&r, 0, art) &&
	    doc_is(&r, 1, "fortune-mod (1:1.99) unstable\n"));
	docs_free(&r);

	/* truncated inside data.tar.xz: the message names it, the source is the package */
	build_deb("cut.deb", 100);
	run1(&r, "cut.deb", &o);
	T_CHECK_MSG(r.rc == -1 && strncmp(r.err.msg, "data.tar.xz: ", 13) == 0, "%s", r.err.msg);
	T_CHECK(strcmp(r.source, path("cut.deb")) == 0);
	printf("# truncated .deb: %s\n", r.err.msg);
	docs_free(&r);
}

T_TEST(member_selection_and_binary)
{
	struct docs r;
	struct notes ns = { 0, "" };
	static unsigned char late[10000];
	unsigned char early[200];

	memset(late, 'x', sizeof late);
	late[9000] = 0; /* beyond the first 8 KiB: kept */
	memset(early, 'y', sizeof early);
	early[100] = 0;
	const struct t_member m[] = {
		{ "src/a.c", "int a;\n", 7, 0 },
		{ "src/b.h", "int b;\n", 7, 0 },
		{ "doc/readme", "read me\n", 8, 0 },
		{ "late", late, sizeof late, 0 },
		{ "early", early, sizeof early, 0 },
	};
	build_file("sel.tar", 't', 0, m, 5);
	const char *inc[] = { "src/*", "doc/*" }, *exc[] = { "*.h" };
	struct nl_corpus_opts o = { inc, 2, exc, 1, NULL, note, &ns };
	run1(&r, "sel.tar", &o);
	T_CHECK(r.rc == 0 && r.n == 2 && doc_is(&r, 0, "int a;\n") && doc_is(&r, 1, "read me\n"));
	T_CHECK(ns.n == 0);
	docs_free(&r);

	o.n_include = o.n_exclude = 0;
	run1(&r, "sel.tar", &o);
	T_CHECK(r.rc == 0 && r.n == 4 && r.d[3].n == sizeof late && memcmp(r.d[3].p, late, sizeof late) == 0);
	char want[600];
	snprintf(want, sizeof want, "%s:early: skipping binary member", path("sel.tar"));
	T_CHECK_MSG(ns.n == 1 && strcmp(ns.last, want) == 0, "%s", ns.last);
	docs_free(&r);
}

/* The rule of corpus.c, written the obvious way: lines, a line equal to sep is dropped and
 * ends the document, empty documents vanish. Appends the documents' bytes to all and their
 * start offsets in all to starts (up to max); returns the number of documents. */
static size_t
split_ref(const unsigned char *p, size_t n, const char *sep, struct t_buf *all, size_t *starts,
    size_t max)
{
	size_t nd = 0, L = strlen(sep), i = 0, cur = 0;

	while (i < n) {
		const unsigned char *nl = memchr(p + i, '\n', n - i);
		size_t end = nl ? (size_t)(nl - p) : n, next = nl ? end + 1 : n;
		if (end - i == L && memcmp(p + i, sep, L) == 0) {
			cur = 0;
		} else {
			if (cur == 0 && nd++ < max)
				starts[nd - 1] = all->n;
			t_buf_add(all, p + i, next - i);
			cur += next - i;
		}
		i = next;
	}
	return nd;
}

#define MAX_DOCS 100000

struct all {
	struct t_buf b;
	size_t at[MAX_DOCS], n, max_piece;
	int rc;
};

/* Read c to the end into a: the bytes, and where each document starts. */
static void
slurp(struct nl_corpus *c, struct all *a)
{
	const unsigned char *d;
	size_t len;
	int start;
	struct nl_err err = { 0, "" };

	a->b.n = a->n = a->max_piece = 0;
	while ((a->rc = nl_corpus_read(c, &d, &len, &start, &err)) == 1) {
		if (start && a->n++ < MAX_DOCS)
			a->at[a->n - 1] = a->b.n;
		t_buf_add(&a->b, d, len);
		if (len > a->max_piece)
			a->max_piece = len;
	}
}

/* a holds the documents split_ref finds in p */
static int
same_split(const struct all *a, const unsigned char *p, size_t n, const char *sep)
{
	static size_t want_at[MAX_DOCS];
	struct t_buf want = { 0 };
	size_t nd = split_ref(p, n, sep, &want, want_at, MAX_DOCS);
	int same = a->rc == 0 && a->n == nd && a->b.n == want.n && memcmp(a->b.p, want.p, want.n) == 0 &&
	    memcmp(a->at, want_at, (nd < MAX_DOCS ? nd : MAX_DOCS) * sizeof *want_at) == 0;

	if (!same)
		printf("# rc %d, %zu documents (want %zu), %zu bytes (want %zu)\n", a->rc, a->n, nd, a->b.n,
		    want.n);
	free(want.p);
	return same;
}

/* Every byte and every document boundary as split_ref has them. */
static void
check_split(const char *name, const unsigned char *p, size_t n, const char *sep)
{
	static struct all a;
	struct nl_corpus_opts o = { NULL, 0, NULL, 0, sep, NULL, NULL };
	struct nl_corpus *c;
	struct nl_err err = { 0, "" };
	const char *fp = path(name);

	write_file(name, p, n);
	T_CHECK(nl_corpus_open(&c, &fp, 1, &o, 0, &err) == 0);
	slurp(c, &a);
	nl_corpus_close(c);
	T_CHECK_MSG(same_split(&a, p, n, sep), "%s", name);
	T_CHECK(a.max_piece <= MIB && a.max_piece > 0);
	free(a.b.p);
	a.b.p = NULL;
	a.b.cap = 0;
}

T_TEST(separators)
{
	struct docs r;
	struct nl_corpus_opts o = { NULL, 0, NULL, 0, "%", NULL, NULL };
	static const struct {
		const char *in, *out[4];
	} cases[] = {
		{ "text\n%\nmore\n", { "text\n", "more\n" } },
		{ "%\n%\na\n%\n%\n", { "a\n" } },
		{ "a\n%", { "a\n" } },
		{ "a\n%%\nb\n%x\n% \nc%\n", { "a\n%%\nb\n%x\n% \nc%\n" } },
		{ "a\r\n%\r\nb", { "a\r\n%\r\nb" } },
		{ "%", { NULL } },
		{ "\n%\n\n", { "\n", "\n" } },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		write_file("s.txt", cases[i].in, strlen(cases[i].in));
		run1(&r, "s.txt", &o);
		size_t want = 0;
		while (want < 4 && cases[i].out[want] != NULL)
			want++;
		T_CHECK_MSG(r.rc == 0 && r.n == want, "case %zu: rc %d, %zu documents", i, r.rc, r.n);
		for (size_t k = 0; k < want; k++)
			T_CHECK_MSG(doc_is(&r, k, cases[i].out[k]), "case %zu document %zu", i, k);
		docs_free(&r);
	}

	/* a longer separator, and separators straddling the piece and refill boundaries */
	size_t n = 3 * MIB + 4096;
	unsigned char *p = malloc(n);
	T_CHECK(p != NULL);
	static const size_t at[] = { MIB / 2 - 3, MIB / 2 - 1, MIB / 2, MIB - 2, MIB - 1, MIB, MIB + 1,
		3 * MIB / 2, 2 * MIB - 1, 2 * MIB + 1, 5 * MIB / 2 - 2 };
	for (int variant = 0; variant < 3; variant++) {
		const char *sep = variant == 2 ? "-- end --" : "%";
		size_t L = strlen(sep);
		memset(p, 'a', n);
		for (size_t i = 0; i < n; i += 61 + (i % 7) * 1000)
			p[i] = '\n'; /* lines of varied length, a few very long */
		for (size_t k = 0; k < sizeof at / sizeof at[0]; k++) {
			size_t q = at[k] + (size_t)variant; /* shift the second round by one byte */
			p[q - 1] = '\n';
			memcpy(p + q, sep, L);
			p[q + L] = '\n';
			if (k % 3 == 0) { /* and right after it another one */
				memcpy(p + q + L + 1, sep, L);
				p[q + 2 * L + 1] = '\n';
			}
		}
		/* near misses */
		memcpy(p + MIB - 40, "\n%%\n", 4);
		memcpy(p + MIB + 40, "\n-- end -\n", 10);
		/* the last line a separator without a newline */
		p[n - L - 1] = '\n';
		memcpy(p + n - L, sep, L);
		check_split(variant == 2 ? "long-sep.txt" : "boundary.txt", p, n, sep);
	}
	/* a separator line at every position around the end of the first buffer fill (1 MiB
	 * plus the separator and a newline), after a leading separator so that the first piece
	 * does not start at 0 */
	for (int lead = 0; lead < 2; lead++)
		for (int v = 0; v < 2; v++) {
			const char *sep = v ? "-- end --" : "%";
			size_t L = strlen(sep), m = MIB + 64;
			for (size_t q = MIB - 2; q <= MIB + L + 3; q++) {
				memset(p, 'b', m);
				if (lead) {
					memcpy(p, sep, L);
					p[L] = '\n';
				}
				p[q - 1] = '\n';
				memcpy(p + q, sep, L);
				p[q + L] = '\n';
				check_split("edge.txt", p, m, sep);
			}
		}

	/* random lines, some of them separators or near misses, some very long */
	uint32_t seed = 12345;
	for (size_t i = 0; i < n;) {
		seed = seed * 1103515245u + 12345u;
		uint32_t x = seed >> 8;
		size_t len = x % 100 == 0 ? 200000 + x % 900000 : x % 120;
		if (len > n - i)
			len = n - i;
		memset(p + i, 'a' + (int)(x % 26), len);
		if (x % 5 == 0 && len >= 1)
			p[i] = '%';
		if (x % 5 == 1 && len >= 1) {
			len = 1;
			p[i] = '%';
		}
		i += len;
		if (i < n)
			p[i++] = '\n';
	}
	check_split("random.txt", p, n, "%");

	/* one 3 MiB line without separators streams in pieces of at most 1 MiB */
	memset(p, 'z', n);
	write_file("line.txt", p, n);
	run1(&r, "line.txt", &o);
	T_CHECK(r.rc == 0 && r.n == 1 && r.d[0].n == n && r.max_piece <= MIB && r.pieces >= 4);
	docs_free(&r);
	free(p);
}

/* Feed data to our stdin from a child process; returns the saved stdin to restore. */
static int
feed_stdin(const void *p, size_t n, pid_t *pid)
{
	int fds[2], saved = dup(0);

	if (saved < 0 || pipe(fds) < 0)
		exit(99);
	fflush(stdout);
	*pid = fork();
	if (*pid < 0)
		exit(99);
	if (*pid == 0) {
		close(fds[0]);
		const unsigned char *q = p;
		while (n > 0) {
			ssize_t w = write(fds[1], q, n);
			if (w <= 0)
				_exit(1);
			q += w;
			n -= (size_t)w;
		}
		_exit(0);
	}
	close(fds[1]);
	dup2(fds[0], 0);
	close(fds[0]);
	return saved;
}

static void
restore_stdin(int saved, pid_t pid)
{
	int st;
	dup2(saved, 0);
	close(saved);
	waitpid(pid, &st, 0);
}

T_TEST(stdin_and_rewind)
{
	static struct all a1, a2;
	struct docs r1, r2;
	struct nl_corpus *c;
	struct nl_err err = { 0, "" };
	size_t n = 700000;
	unsigned char *p = malloc(n);
	pid_t pid;
	T_CHECK(p != NULL);
	for (size_t i = 0; i < n; i++) /* lines of 50, every 37th a separator */
		p[i] = i % 50 == 49 ? '\n' : i % 1850 == 0 ? '%' : i % 1850 < 50 ? '\n' :
		    (unsigned char)('a' + i % 26);
	struct nl_corpus_opts o = { NULL, 0, NULL, 0, "%", NULL, NULL };

	/* two passes over a pipe give the same documents */
	int saved = feed_stdin(p, n, &pid);
	const char *dash[] = { "-" };
	T_CHECK(nl_corpus_open(&c, dash, 1, &o, 1, &err) == 0);
	slurp(c, &a1);
	T_CHECK(strcmp(nl_corpus_source(c), "(stdin)") == 0);
	T_CHECK(nl_corpus_rewind(c, &err) == 0);
	slurp(c, &a2);
	nl_corpus_close(c);
	restore_stdin(saved, pid);
	T_CHECK(a1.n > 300);
	T_CHECK(same_split(&a1, p, n, "%") && same_split(&a2, p, n, "%"));
	free(a1.b.p);
	free(a2.b.p);

	/* a rewind after reading only the first piece still sees everything */
	saved = feed_stdin(p, n, &pid);
	T_CHECK(nl_corpus_open(&c, NULL, 0, NULL, 1, &err) == 0);
	const unsigned char *d;
	size_t len;
	int start;
	T_CHECK(nl_corpus_read(c, &d, &len, &start, &err) == 1 && start == 1);
	T_CHECK(nl_corpus_rewind(c, &err) == 0);
	drain(c, &r1);
	nl_corpus_close(c);
	restore_stdin(saved, pid);
	T_CHECK(r1.rc == 0 && r1.n == 1 && r1.d[0].n == n && memcmp(r1.d[0].p, p, n) == 0);
	docs_free(&r1);

	/* gzip through a pipe, then an empty pipe */
	size_t gn;
	unsigned char *g = gzip_mem(p, n, &gn);
	saved = feed_stdin(g, gn, &pid);
	run(&r1, dash, 1, NULL);
	restore_stdin(saved, pid);
	T_CHECK(r1.rc == 0 && r1.n == 1 && r1.d[0].n == n && memcmp(r1.d[0].p, p, n) == 0);
	docs_free(&r1);
	saved = feed_stdin("", 0, &pid);
	run(&r1, dash, 1, NULL);
	restore_stdin(saved, pid);
	T_CHECK(r1.rc == 0 && r1.n == 0);
	docs_free(&r1);

	/* files are reopened; a corpus not opened rewindable refuses */
	write_file("r.txt", "again\n", 6);
	const char *rp[] = { path("r.txt") };
	T_CHECK(nl_corpus_open(&c, rp, 1, NULL, 1, &err) == 0);
	drain(c, &r1);
	T_CHECK(nl_corpus_rewind(c, &err) == 0);
	drain(c, &r2);
	T_CHECK(r1.n == 1 && r2.n == 1 && doc_is(&r2, 0, "again\n"));
	nl_corpus_close(c);
	docs_free(&r1);
	docs_free(&r2);
	T_CHECK(nl_corpus_open(&c, rp, 1, NULL, 0, &err) == 0);
	T_CHECK(nl_corpus_rewind(c, &err) < 0);
	nl_corpus_close(c);
	free(g);
	free(p);
}

T_TEST(truncated_archives)
{
	struct docs r;
	static char body[3000];
	memset(body, 'q', sizeof body);
	const struct t_member m[] = { { "a.txt", body, sizeof body, 0 }, { "b.txt", "b\n", 2, 0 } };
	struct t_buf t, x;

	t_archive_build(&t, 't', 0, m, 2);
	/* inside a member's data, inside a header, and exactly at a member boundary */
	size_t cuts[] = { 1500, 512 * 7 + 100, 512 * 8, 512 * 9 };
	for (size_t i = 0; i < 4; i++) {
		write_file("cut.tar", t.p, cuts[i]);
		run1(&r, "cut.tar", NULL);
		T_CHECK_MSG(r.rc == -1 && r.err.msg[0] != '\0', "cut at %zu: rc %d", cuts[i], r.rc);
		printf("# tar cut at %zu: %s\n", cuts[i], r.err.msg);
		docs_free(&r);
	}
	t_archive_build(&x, 't', 'x', m, 2);
	write_file("cut.tar.xz", x.p, x.n - 20);
	run1(&r, "cut.tar.xz", NULL);
	T_CHECK(r.rc == -1 && r.err.msg[0] != '\0');
	printf("# tar.xz cut: %s\n", r.err.msg);
	docs_free(&r);
	/* a whole tar is fine */
	write_file("whole.tar", t.p, t.n);
	run1(&r, "whole.tar", NULL);
	T_CHECK(r.rc == 0 && r.n == 2);
	docs_free(&r);
	free(t.p);
	free(x.p);
}

int
main(void)
{
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 99;
	}
	T_RUN(plain_files);
	T_RUN(gzip_inputs);
	T_RUN(archives);
	T_RUN(debian_package);
	T_RUN(member_selection_and_binary);
	T_RUN(separators);
	T_RUN(stdin_and_rewind);
	T_RUN(truncated_archives);
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", dir);
	return t_done();
}
