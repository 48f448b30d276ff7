/* nl — see LICENSE. Checkpoint bundles: round trips, canonical bytes, member order, every
 * reader rule on tars built here with libarchive, truncation at every block, atomic writes. */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ckpt.h"
#include "t.h"
#include "t_archive.h"

static char dir[] = "/tmp/nl-test-ckpt-XXXXXX";

static const char *
tpath(const char *name)
{
	static char buf[4][512];
	static int k;

	k = (k + 1) % 4;
	snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
	return buf[k];
}

static void
write_file(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");

	if (f == NULL || (n > 0 && fwrite(p, 1, n, f) != n) || fclose(f) != 0) {
		printf("# cannot write %s\n", path);
		exit(99);
	}
}

/* The whole file in a t_buf (p NULL when it does not exist). */
static struct t_buf
slurp(const char *path)
{
	struct t_buf b = { 0 };
	unsigned char tmp[4096];
	size_t k;
	FILE *f = fopen(path, "rb");

	if (f == NULL)
		return b;
	while ((k = fread(tmp, 1, sizeof tmp, f)) > 0)
		t_buf_add(&b, tmp, k);
	fclose(f);
	if (b.p == NULL)
		b.p = malloc(1); /* an empty file is not a missing one */
	return b;
}

static int
same_file(const char *a, const char *b)
{
	struct t_buf x = slurp(a), y = slurp(b);
	int same = x.p != NULL && y.p != NULL && x.n == y.n && memcmp(x.p, y.p, x.n) == 0;

	free(x.p);
	free(y.p);
	return same;
}

/* Names in dir starting with '.': leftover temporaries of atomic writes. */
static int
temporaries(void)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] == '.' && strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

/* ---- members ---- */

static const char cfg_text[] = "format = nl-checkpoint 1\nd_model = 64\nmodel = transformer\n";
static unsigned char params[1500], tokenizer[700], optim[2000];
static const char state_text[] = "step = 10\ntokens_seen = 40960\nrng = 0123456789abcdef\n";

static void
fill(unsigned char *p, size_t n, uint32_t seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1664525u + 1013904223u;
		p[i] = (unsigned char)(seed >> 24);
	}
	if (n > 10)
		p[3] = p[7] = 0; /* binary members hold NULs */
}

/* All six members (memory.nlt empty), or only config and params.nlt. */
static void
make_ck(struct nl_ckpt *ck, int all)
{
	struct nl_err err = { 0, "" };
	int rc = 0;

	nl_ckpt_init(ck);
	rc |= nl_ckpt_add(ck, "config", cfg_text, strlen(cfg_text), &err);
	rc |= nl_ckpt_add(ck, "params.nlt", params, sizeof params, &err);
	if (all) {
		rc |= nl_ckpt_add(ck, "tokenizer.nlt", tokenizer, sizeof tokenizer, &err);
		rc |= nl_ckpt_add(ck, "memory.nlt", "", 0, &err);
		rc |= nl_ckpt_add(ck, "optim.nlt", optim, sizeof optim, &err);
		rc |= nl_ckpt_add(ck, "state", state_text, strlen(state_text), &err);
	}
	if (rc != 0) {
		printf("# make_ck: %s\n", err.msg);
		exit(99);
	}
}

static int
member_is(const struct nl_ckpt *ck, const char *name, const void *data, size_t len)
{
	const struct nl_ckpt_member *m = nl_ckpt_find(ck, name);

	return m != NULL && m->len == len && (len == 0 || memcmp(m->data, data, len) == 0);
}

static int
same_ck(const struct nl_ckpt *a, const struct nl_ckpt *b)
{
	if (a->n != b->n)
		return 0;
	for (int i = 0; i < a->n; i++)
		if (strcmp(a->m[i].name, b->m[i].name) != 0 ||
		    !member_is(b, a->m[i].name, a->m[i].data, a->m[i].len))
			return 0;
	return 1;
}

/* ---- tars built by hand ---- */

/* fmt 't' pax tar or 'z' zip; filter 0 or 'g' (gzip) */
static void
build(const char *path, int fmt, int filter, const struct t_member *m, size_t n)
{
	struct t_buf out;

	t_archive_build(&out, fmt, filter, m, n);
	write_file(path, out.p, out.n);
	free(out.p);
}

#define CFG { "config", cfg_text, sizeof cfg_text - 1, 0 }
#define PARAMS { "params.nlt", params, sizeof params, 0 }

/* Reading path fails with code and a message containing want; ck is left empty. */
static int
read_fails(const char *path, int flags, int code, const char *want)
{
	struct nl_ckpt ck;
	struct nl_err err = { 0, "" };
	int rc = nl_ckpt_read(&ck, path, flags, &err);
	int ok = rc < 0 && err.code == code && strstr(err.msg, want) != NULL && ck.n == 0;

	if (!ok)
		printf("# %s: rc %d, code %d, '%s' (wanted code %d, '%s')\n", path, rc, err.code,
		    err.msg, code, want);
	nl_ckpt_free(&ck);
	return ok;
}

/* ---- tests ---- */

T_TEST(round_trip)
{
	struct nl_ckpt ck, back;
	struct nl_err err = { 0, "" };
	const char *p = tpath("rt.tar");

	make_ck(&ck, 1);
	T_CHECK_MSG(nl_ckpt_write(&ck, p, 0, &err) == 0, "%s", err.msg);
	T_CHECK_MSG(nl_ckpt_read(&back, p, 0, &err) == 0, "%s", err.msg);
	T_CHECK(same_ck(&ck, &back));
	T_CHECK(back.n == 6 && back.skipped[0] == '\0');
	T_CHECK(strcmp(back.m[0].name, "config") == 0 && strcmp(back.m[5].name, "state") == 0);
	nl_ckpt_free(&back);

	/* the entries as libarchive sees them: fixed metadata, canonical order */
	static const char *const order[] = { "config", "params.nlt", "tokenizer.nlt",
		"memory.nlt", "optim.nlt", "state" };
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	int i = 0;
	archive_read_support_format_tar(a);
	T_CHECK(archive_read_open_filename(a, p, 10240) == ARCHIVE_OK);
	while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
		T_CHECK(i < 6 && strcmp(archive_entry_pathname(e), order[i]) == 0);
		T_CHECK(archive_entry_filetype(e) == AE_IFREG && archive_entry_perm(e) == 0644);
		T_CHECK(archive_entry_uid(e) == 0 && archive_entry_gid(e) == 0);
		T_CHECK(archive_entry_uname(e) == NULL || *archive_entry_uname(e) == '\0');
		T_CHECK(archive_entry_gname(e) == NULL || *archive_entry_gname(e) == '\0');
		T_CHECK(archive_entry_mtime(e) == 0 && !archive_entry_atime_is_set(e) &&
		    !archive_entry_ctime_is_set(e) && !archive_entry_birthtime_is_set(e));
		i++;
	}
	T_CHECK(i == 6);
	T_CHECK(archive_format(a) == ARCHIVE_FORMAT_TAR_USTAR);
	archive_read_free(a);

	/* plain ustar ending in exactly two zero blocks */
	struct t_buf b = slurp(p);
	static const unsigned char zero[1024];
	T_CHECK(b.n % 512 == 0 && b.n >= 1024 && memcmp(b.p + b.n - 1024, zero, 1024) == 0);
	T_CHECK(b.n == 6 * 512 + 512 + 1536 + 1024 + 0 + 2048 + 512 + 1024);
	free(b.p);
	if (access("/usr/bin/tar", X_OK) == 0) {
		char cmd[700];
		snprintf(cmd, sizeof cmd, "/usr/bin/tar tf %s > %s 2>&1", p, tpath("list"));
		T_CHECK(system(cmd) == 0);
		struct t_buf l = slurp(tpath("list"));
		t_buf_add(&l, "", 1);
		T_CHECK_MSG(strcmp((char *)l.p,
		    "config\nparams.nlt\ntokenizer.nlt\nmemory.nlt\noptim.nlt\nstate\n") == 0,
		    "%s", l.p);
		free(l.p);
		unlink(tpath("list"));
	}

	/* the minimal bundle, and "-" both ways */
	nl_ckpt_free(&ck);
	make_ck(&ck, 0);
	T_CHECK(nl_ckpt_write(&ck, tpath("min.tar"), 0, &err) == 0);
	fflush(stdout);
	int saved = dup(STDOUT_FILENO), fd = open(tpath("stdout.tar"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	dup2(fd, STDOUT_FILENO);
	close(fd);
	int rc = nl_ckpt_write(&ck, "-", 0, &err);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	T_CHECK(rc == 0 && same_file(tpath("min.tar"), tpath("stdout.tar")));
	saved = dup(STDIN_FILENO);
	fd = open(tpath("min.tar"), O_RDONLY);
	dup2(fd, STDIN_FILENO);
	close(fd);
	rc = nl_ckpt_read(&back, "-", 0, &err);
	dup2(saved, STDIN_FILENO);
	close(saved);
	T_CHECK_MSG(rc == 0 && same_ck(&ck, &back), "%s", err.msg);
	nl_ckpt_free(&back);
	nl_ckpt_free(&ck);
	unlink(tpath("min.tar"));
	unlink(tpath("stdout.tar"));
	unlink(p);
}

static long long
first_mtime(const char *path)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	long long t = -1;

	archive_read_support_format_tar(a);
	if (archive_read_open_filename(a, path, 10240) == ARCHIVE_OK &&
	    archive_read_next_header(a, &e) == ARCHIVE_OK)
		t = (long long)archive_entry_mtime(e);
	archive_read_free(a);
	return t;
}

T_TEST(deterministic_bytes)
{
	struct nl_ckpt ck;
	struct nl_err err = { 0, "" };
	const char *a = tpath("a.tar"), *b = tpath("b.tar"), *c = tpath("c.tar");

	unsetenv("SOURCE_DATE_EPOCH");
	make_ck(&ck, 1);
	T_CHECK(nl_ckpt_write(&ck, a, 0, &err) == 0);
	T_CHECK(nl_ckpt_write(&ck, b, 0, &err) == 0);
	T_CHECK(same_file(a, b));
	T_CHECK(first_mtime(a) == 0);

	setenv("SOURCE_DATE_EPOCH", "1700000000", 1);
	T_CHECK(nl_ckpt_write(&ck, c, 0, &err) == 0);
	T_CHECK(first_mtime(c) == 1700000000 && !same_file(a, c));
	T_CHECK(nl_ckpt_write(&ck, b, 0, &err) == 0);
	T_CHECK(same_file(b, c));

	/* not a plain decimal, or beyond a ustar header: ignored */
	static const char *const bad[] = { "17x", "-5", " 1", "", "1e9", "99999999999999999999",
		"8589934592" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		setenv("SOURCE_DATE_EPOCH", bad[i], 1);
		T_CHECK(nl_ckpt_write(&ck, b, 0, &err) == 0);
		T_CHECK_MSG(same_file(a, b), "SOURCE_DATE_EPOCH=%s", bad[i]);
	}
	setenv("SOURCE_DATE_EPOCH", "8589934591", 1);
	T_CHECK(nl_ckpt_write(&ck, b, 0, &err) == 0 && first_mtime(b) == 8589934591LL);
	unsetenv("SOURCE_DATE_EPOCH");
	nl_ckpt_free(&ck);
	unlink(a);
	unlink(b);
	unlink(c);
}

T_TEST(add_and_write_errors)
{
	struct nl_ckpt ck;
	struct nl_err err = { 0, "" };
	const char *p = tpath("bad.tar");

	nl_ckpt_init(&ck);
	T_CHECK(nl_ckpt_add(&ck, "notes", "x", 1, &err) < 0 && strstr(err.msg, "'notes'"));
	T_CHECK(nl_ckpt_add(&ck, "params.nlt", params, sizeof params, &err) == 0);
	T_CHECK(nl_ckpt_add(&ck, "config", cfg_text, strlen(cfg_text), &err) < 0 &&
	    strstr(err.msg, "'config' out of order") != NULL);
	/* without config */
	T_CHECK(nl_ckpt_write(&ck, p, 0, &err) < 0 && strcmp(err.msg, "no config member") == 0);
	nl_ckpt_free(&ck);

	T_CHECK(nl_ckpt_add(&ck, "config", cfg_text, strlen(cfg_text), &err) == 0);
	T_CHECK(nl_ckpt_add(&ck, "config", cfg_text, strlen(cfg_text), &err) < 0 &&
	    strcmp(err.msg, "duplicate member 'config'") == 0);
	T_CHECK(nl_ckpt_write(&ck, p, 0, &err) < 0 && strcmp(err.msg, "no params.nlt member") == 0);
	T_CHECK(nl_ckpt_add(&ck, "state", "", 0, &err) == 0);
	T_CHECK(nl_ckpt_add(&ck, "optim.nlt", "", 0, &err) < 0 &&
	    strstr(err.msg, "'optim.nlt' out of order: it comes before 'state'") != NULL);
	T_CHECK(nl_ckpt_add(&ck, "params.nlt", params, sizeof params, &err) < 0);
	T_CHECK(ck.n == 2);
	nl_ckpt_free(&ck);

	/* the first line of config */
	static const char *const lines[] = { "model = transformer\n", "format = nl-checkpoint 0\n",
		"format = nl-checkpoint 01\n", "format = nl-checkpoint 1 \n", "format=nl-checkpoint 1\n",
		"# nl\nformat = nl-checkpoint 1\n", "", "format = nl-checkpoint\n",
		"format = nl-checkpoint 1\r\n" };
	for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
		T_CHECK(nl_ckpt_add(&ck, "config", lines[i], strlen(lines[i]), &err) == 0);
		T_CHECK(nl_ckpt_add(&ck, "params.nlt", params, sizeof params, &err) == 0);
		T_CHECK_MSG(nl_ckpt_write(&ck, p, 0, &err) < 0 && err.code == NL_EFORMAT &&
		    strcmp(err.msg, "config does not start with 'format = nl-checkpoint 1'") == 0,
		    "line %zu: %s", i, err.msg);
		nl_ckpt_free(&ck);
	}
	T_CHECK(nl_ckpt_add(&ck, "config", "format = nl-checkpoint 2\n", 25, &err) == 0);
	T_CHECK(nl_ckpt_add(&ck, "params.nlt", params, sizeof params, &err) == 0);
	T_CHECK(nl_ckpt_write(&ck, p, 0, &err) < 0 && err.code == NL_EUNSUPPORTED);
	nl_ckpt_free(&ck);
	/* a config of the one line, without a newline, is fine */
	T_CHECK(nl_ckpt_add(&ck, "config", "format = nl-checkpoint 1", 24, &err) == 0);
	T_CHECK(nl_ckpt_add(&ck, "params.nlt", "", 0, &err) == 0);
	T_CHECK_MSG(nl_ckpt_write(&ck, p, 0, &err) == 0, "%s", err.msg);
	nl_ckpt_free(&ck);
	T_CHECK(nl_ckpt_read(&ck, p, 0, &err) == 0 && ck.n == 2);
	nl_ckpt_free(&ck);
	unlink(p);
	T_CHECK(temporaries() == 0);
}

T_TEST(reader_errors)
{
	const char *p = tpath("r.tar");
	static const char v2[] = "format = nl-checkpoint 2\nd_model = 64\n";
	static const char v12[] = "format = nl-checkpoint 12345678901234567890\n";

	{
		struct t_member m[] = { PARAMS, CFG };
		build(p, 't', 0, m, 2);
		T_CHECK(read_fails(p, 0, NL_EFORMAT, "first member is 'params.nlt', not 'config'"));
	}
	{
		struct t_member m[] = { CFG, PARAMS, PARAMS };
		build(p, 't', 0, m, 3);
		T_CHECK(read_fails(p, 0, NL_EFORMAT, "duplicate member 'params.nlt'"));
	}
	{
		struct t_member m[] = { CFG, CFG, PARAMS };
		build(p, 't', 0, m, 3);
		T_CHECK(read_fails(p, 0, NL_EFORMAT, "duplicate member 'config'"));
	}
	{
		struct t_member m[] = { CFG, PARAMS, { "notes", "a", 1, 0 }, { "notes", "b", 1, 0 } };
		build(p, 't', 0, m, 4);
		T_CHECK(read_fails(p, 0, NL_EFORMAT, "duplicate member 'notes'"));
	}
	{
		struct t_member m[] = { CFG, { "sub", NULL, 0, 'd' }, PARAMS };
		build(p, 't', 0, m, 3);
		T_CHECK(read_fails(p, 0, NL_EFORMAT, "member 'sub/' is not a regular file"));
	}
	{
		struct t_member m[] = { { "config", NULL, 0, 'd' }, PARAMS };
		build(p, 't', 0, m, 2);
		T_CHECK(read_fails(p, 0, NL_EFORMAT, "first member is 'config/', not 'config'"));
	}
	{
		struct t_member m[] = { CFG, { "tokenizer.nlt", tokenizer, sizeof tokenizer, 0 } };
		build(p, 't', 0, m, 2);
		T_CHECK(read_fails(p, 0, NL_EFORMAT, "no params.nlt member"));
	}
	{
		build(p, 't', 0, NULL, 0);
		T_CHECK(read_fails(p, 0, NL_EFORMAT, "no config member"));
	}
	{
		struct t_member m[] = { { "config", v2, sizeof v2 - 1, 0 }, PARAMS };
		build(p, 't', 0, m, 2);
		T_CHECK(read_fails(p, 0, NL_EUNSUPPORTED, "checkpoint format 2 is newer than this nl (1)"));
	}
	{
		/* reported before the rest of the bundle is looked at */
		struct t_member m[] = { { "config", v12, sizeof v12 - 1, 0 }, { "x", NULL, 0, 'd' } };
		build(p, 't', 0, m, 2);
		T_CHECK(read_fails(p, 0, NL_EUNSUPPORTED,
		    "checkpoint format 12345678901234567890 is newer than this nl (1)"));
	}
	static const char *const lines[] = { "model = x\n", "format = nl-checkpoint 0\n",
		"format = nl-checkpoint 01\n", "format = nl-checkpoint 1x\n",
		"format = nl-checkpoint -1\n", "format = nl-checkpoint \n", "", "Format = nl-checkpoint 1\n" };
	for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
		struct t_member m[] = { { "config", lines[i], strlen(lines[i]), 0 }, PARAMS };
		build(p, 't', 0, m, 2);
		T_CHECK_MSG(read_fails(p, 0, NL_EFORMAT,
		    "config does not start with 'format = nl-checkpoint 1'"), "line %zu", i);
	}

	/* not tars */
	write_file(p, "", 0);
	T_CHECK(read_fails(p, 0, NL_EFORMAT, "empty input, not a checkpoint bundle"));
	write_file(p, "hello, world\n", 13);
	T_CHECK(read_fails(p, 0, NL_EFORMAT, "not a checkpoint bundle (text)"));
	char text[2000];
	memset(text, 'a', sizeof text);
	write_file(p, text, sizeof text);
	T_CHECK(read_fails(p, 0, NL_EFORMAT, "not a checkpoint bundle (text)"));
	write_file(p, "\x89NLT\r\n\x1a\n\1\0\0\0", 12);
	T_CHECK(read_fails(p, 0, NL_EFORMAT, "not a checkpoint bundle (nl-tensor file)"));
	write_file(p, "!<arch>\ndebian-binary   ", 24);
	T_CHECK(read_fails(p, 0, NL_EFORMAT, "not a checkpoint bundle (ar archive)"));
	write_file(p, params, sizeof params);
	T_CHECK(read_fails(p, 0, NL_EFORMAT, "not a checkpoint bundle"));
	{
		struct t_member m[] = { CFG, PARAMS };
		build(p, 'z', 0, m, 2);
		T_CHECK(read_fails(p, 0, NL_EFORMAT, "not a checkpoint bundle (zip archive)"));
	}
	{
		/* gzip around something that is not a tar */
		struct archive *a = archive_write_new();
		struct t_buf out = { 0 };
		struct archive_entry *e = archive_entry_new();
		archive_write_set_format_raw(a);
		archive_write_add_filter_gzip(a);
		archive_write_open(a, &out, NULL, t_archive_write, NULL);
		archive_entry_set_filetype(e, AE_IFREG);
		archive_write_header(a, e);
		archive_write_data(a, text, sizeof text);
		archive_write_close(a);
		archive_write_free(a);
		archive_entry_free(e);
		write_file(p, out.p, out.n);
		free(out.p);
		T_CHECK(read_fails(p, 0, NL_EFORMAT, "not a checkpoint bundle (compressed"));
	}
	T_CHECK(read_fails(tpath("nonexistent.tar"), 0, NL_EIO, "No such file or directory"));
	T_CHECK(read_fails(dir, 0, NL_EIO, "Is a directory"));
	unlink(p);
}

T_TEST(unknown_members_skipped)
{
	struct nl_ckpt ck;
	struct nl_err err = { 0, "" };
	const char *p = tpath("u.tar");
	struct t_member m[] = { CFG, { "notes.txt", "hi", 2, 0 }, PARAMS,
		{ "x.future", tokenizer, sizeof tokenizer, 0 }, { "state", state_text, 5, 0 } };

	build(p, 't', 0, m, 5);
	T_CHECK_MSG(nl_ckpt_read(&ck, p, 0, &err) == 0, "%s", err.msg);
	T_CHECK(ck.n == 3 && strcmp(ck.skipped, "notes.txt,x.future") == 0);
	T_CHECK(member_is(&ck, "params.nlt", params, sizeof params));
	T_CHECK(member_is(&ck, "state", state_text, 5));
	nl_ckpt_free(&ck);

	/* a long list ends in "..." rather than overflowing */
	struct t_member many[40];
	char names[40][64];
	many[0] = (struct t_member)CFG;
	many[1] = (struct t_member)PARAMS;
	for (int i = 2; i < 40; i++) {
		snprintf(names[i], sizeof names[i], "an-unknown-member-with-a-long-name-%02d", i);
		many[i] = (struct t_member){ names[i], "", 0, 0 };
	}
	build(p, 't', 0, many, 40);
	T_CHECK_MSG(nl_ckpt_read(&ck, p, 0, &err) == 0, "%s", err.msg);
	size_t len = strlen(ck.skipped);
	T_CHECK(ck.n == 2 && len < sizeof ck.skipped && len > 3 &&
	    strcmp(ck.skipped + len - 3, "...") == 0 &&
	    strncmp(ck.skipped, "an-unknown-member-with-a-long-name-02,", 38) == 0);
	nl_ckpt_free(&ck);
	unlink(p);
}

T_TEST(skip_training)
{
	struct nl_ckpt ck, back;
	struct nl_err err = { 0, "" };
	const char *p = tpath("s.tar");

	make_ck(&ck, 1);
	T_CHECK(nl_ckpt_write(&ck, p, 0, &err) == 0);
	T_CHECK_MSG(nl_ckpt_read(&back, p, NL_CKPT_SKIP_TRAINING, &err) == 0, "%s", err.msg);
	T_CHECK(back.n == 4 && back.skipped[0] == '\0');
	T_CHECK(nl_ckpt_find(&back, "optim.nlt") == NULL && nl_ckpt_find(&back, "state") == NULL);
	T_CHECK(member_is(&back, "tokenizer.nlt", tokenizer, sizeof tokenizer));
	T_CHECK(member_is(&back, "memory.nlt", "", 0));
	nl_ckpt_free(&back);
	nl_ckpt_free(&ck);

	/* skipped members are still checked for duplicates */
	struct t_member m[] = { CFG, PARAMS, { "state", "a", 1, 0 }, { "state", "b", 1, 0 } };
	build(p, 't', 0, m, 4);
	T_CHECK(read_fails(p, NL_CKPT_SKIP_TRAINING, NL_EFORMAT, "duplicate member 'state'"));
	unlink(p);
}

T_TEST(compressed_bundle)
{
	struct nl_ckpt ck;
	struct nl_err err = { 0, "" };
	const char *p = tpath("c.tar.gz");
	struct t_member m[] = { CFG, PARAMS, { "tokenizer.nlt", tokenizer, sizeof tokenizer, 0 },
		{ "optim.nlt", optim, sizeof optim, 0 } };

	build(p, 't', 'g', m, 4);
	T_CHECK_MSG(nl_ckpt_read(&ck, p, 0, &err) == 0, "%s", err.msg);
	T_CHECK(ck.n == 4 && member_is(&ck, "config", cfg_text, strlen(cfg_text)) &&
	    member_is(&ck, "params.nlt", params, sizeof params) &&
	    member_is(&ck, "tokenizer.nlt", tokenizer, sizeof tokenizer) &&
	    member_is(&ck, "optim.nlt", optim, sizeof optim));
	nl_ckpt_free(&ck);

	/* every prefix of the compressed bundle is an error, never a crash */
	struct t_buf b = slurp(p);
	const char *cut = tpath("cut.tar.gz");
	int bad = 0;
	for (size_t n = 0; n < b.n; n++) {
		write_file(cut, b.p, n);
		int rc = nl_ckpt_read(&ck, cut, 0, &err);
		if (rc == 0 || err.code != NL_EFORMAT) {
			if (bad++ < 5)
				printf("# cut at %zu of %zu: rc %d, '%s'\n", n, b.n, rc, err.msg);
		}
		nl_ckpt_free(&ck);
	}
	T_CHECK(bad == 0);
	free(b.p);
	unlink(cut);
	unlink(p);
}

T_TEST(truncated_bundles)
{
	struct nl_ckpt ck, back;
	struct nl_err err = { 0, "" };
	const char *p = tpath("t.tar"), *cut = tpath("cut.tar");

	make_ck(&ck, 1);
	T_CHECK(nl_ckpt_write(&ck, p, 0, &err) == 0);
	nl_ckpt_free(&ck);
	struct t_buf b = slurp(p);
	int bad = 0, tested = 0;
	for (size_t n = 0; n < b.n; n++) {
		/* every block boundary and its neighbours, and a spread of cuts inside members */
		if (n % 512 != 0 && n % 512 != 1 && n % 512 != 511 && n % 29 != 0 && n != 300)
			continue;
		for (int flags = 0; flags <= NL_CKPT_SKIP_TRAINING; flags++) {
			write_file(cut, b.p, n);
			int rc = nl_ckpt_read(&back, cut, flags, &err);
			const char *want = n == 0 ? "empty input" : "truncated";
			if (rc == 0 || err.code != NL_EFORMAT || strstr(err.msg, want) == NULL ||
			    back.n != 0) {
				if (bad++ < 5)
					printf("# cut at %zu of %zu (flags %d): rc %d, '%s'\n", n, b.n,
					    flags, rc, err.msg);
			}
			nl_ckpt_free(&back);
			tested++;
		}
	}
	T_CHECK(bad == 0 && tested > 100);
	/* the whole file reads */
	write_file(cut, b.p, b.n);
	T_CHECK(nl_ckpt_read(&back, cut, 0, &err) == 0 && back.n == 6);
	nl_ckpt_free(&back);
	/* a damaged header (its checksum no longer matches) */
	b.p[512 + 512 + 10] ^= 1;
	write_file(cut, b.p, b.n);
	T_CHECK(read_fails(cut, 0, NL_EFORMAT, "damaged checkpoint bundle"));
	b.p[512 + 512 + 10] ^= 1;
	/* padding after the end-of-archive blocks, as tar(1) writes, is fine */
	unsigned char zero[8192] = { 0 };
	t_buf_add(&b, zero, sizeof zero);
	write_file(cut, b.p, b.n);
	T_CHECK(nl_ckpt_read(&back, cut, 0, &err) == 0 && back.n == 6);
	nl_ckpt_free(&back);
	free(b.p);
	unlink(cut);
	unlink(p);
}

T_TEST(failed_write_keeps_old_file)
{
	struct nl_ckpt ck, big, back;
	struct nl_err err = { 0, "" };
	const char *p = tpath("keep.tar");

	make_ck(&ck, 0);
	T_CHECK(nl_ckpt_write(&ck, p, 0, &err) == 0);
	struct t_buf before = slurp(p);

	/* a directory that does not exist */
	char missing[600];
	snprintf(missing, sizeof missing, "%s/no/such/dir/ck.tar", dir);
	T_CHECK(nl_ckpt_write(&ck, missing, 0, &err) < 0 && err.code == NL_EIO &&
	    strstr(err.msg, "No such file or directory") != NULL);

	/* a device that is always full */
	if (access("/dev/full", W_OK) == 0)
		T_CHECK_MSG(nl_ckpt_write(&ck, "/dev/full", 0, &err) < 0 && err.code == NL_EIO &&
		    strstr(err.msg, "No space left on device") != NULL, "%s", err.msg);

	/* an output that fails midway (file size limit) over an existing bundle */
	static unsigned char huge[300000];
	fill(huge, sizeof huge, 7);
	nl_ckpt_init(&big);
	T_CHECK(nl_ckpt_add(&big, "config", cfg_text, strlen(cfg_text), &err) == 0);
	T_CHECK(nl_ckpt_add(&big, "params.nlt", huge, sizeof huge, &err) == 0);
	struct rlimit old, lim;
	void (*oldsig)(int) = signal(SIGXFSZ, SIG_IGN);
	getrlimit(RLIMIT_FSIZE, &old);
	lim = old;
	lim.rlim_cur = 100000;
	if (setrlimit(RLIMIT_FSIZE, &lim) == 0) {
		int rc = nl_ckpt_write(&big, p, 0, &err);
		setrlimit(RLIMIT_FSIZE, &old);
		T_CHECK_MSG(rc < 0 && err.code == NL_EIO, "rc %d: %s", rc, err.msg);
	}
	signal(SIGXFSZ, oldsig);
	struct t_buf after = slurp(p);
	T_CHECK(after.p != NULL && after.n == before.n && memcmp(after.p, before.p, before.n) == 0);
	T_CHECK(temporaries() == 0);
	T_CHECK(nl_ckpt_read(&back, p, 0, &err) == 0 && same_ck(&ck, &back));
	nl_ckpt_free(&back);

	/* a write that succeeds replaces it */
	T_CHECK(nl_ckpt_write(&big, p, 0, &err) == 0);
	T_CHECK(nl_ckpt_read(&back, p, 0, &err) == 0 && same_ck(&big, &back));
	nl_ckpt_free(&back);
	free(before.p);
	free(after.p);
	nl_ckpt_free(&big);
	nl_ckpt_free(&ck);
	unlink(p);
}

int
main(void)
{
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 99;
	}
	fill(params, sizeof params, 1);
	fill(tokenizer, sizeof tokenizer, 2);
	fill(optim, sizeof optim, 3);
	T_RUN(round_trip);
	T_RUN(deterministic_bytes);
	T_RUN(add_and_write_errors);
	T_RUN(reader_errors);
	T_RUN(unknown_members_skipped);
	T_RUN(skip_training);
	T_RUN(compressed_bundle);
	T_RUN(truncated_bundles);
	T_RUN(failed_write_keeps_old_file);
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", dir);
	return t_done();
}
