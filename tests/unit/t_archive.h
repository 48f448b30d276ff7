/* nl — see LICENSE. Archives built by hand with libarchive's writer, for the tests of the
 * readers that take them apart (corpus, checkpoints). Include after t.h. */
#ifndef NL_T_ARCHIVE_H
#define NL_T_ARCHIVE_H

#include <archive.h>
#include <archive_entry.h>

struct t_member {
	const char *name;
	const void *data;
	size_t len;
	int type; /* 0 regular, 'd' directory, 'l' symlink */
};

static inline la_ssize_t
t_archive_write(struct archive *a, void *ctx, const void *p, size_t n)
{
	(void)a;
	t_buf_add(ctx, p, n);
	return (la_ssize_t)n;
}

/* fmt: 't' pax tar, 'z' zip, 'a' ar (BSD names, as dpkg writes), 'r' raw; filter: 0, 'g', 'x' */
static inline void
t_archive_build(struct t_buf *out, int fmt, int filter, const struct t_member *m, size_t n)
{
	struct archive *a = archive_write_new();
	int rc = 0;

	memset(out, 0, sizeof *out);
	rc |= fmt == 't' ? archive_write_set_format_pax_restricted(a) :
	    fmt == 'z' ? archive_write_set_format_zip(a) :
	    fmt == 'a' ? archive_write_set_format_ar_bsd(a) : archive_write_set_format_raw(a);
	if (filter == 'g')
		rc |= archive_write_add_filter_gzip(a);
	else if (filter == 'x')
		rc |= archive_write_add_filter_xz(a);
	if (fmt != 'z')
		rc |= archive_write_set_bytes_in_last_block(a, 1);
	rc |= archive_write_open(a, out, NULL, t_archive_write, NULL);
	for (size_t i = 0; i < n; i++) {
		struct archive_entry *e = archive_entry_new();
		archive_entry_set_pathname(e, m[i].name);
		archive_entry_set_mtime(e, 1700000000, 0);
		if (m[i].type == 'd') {
			archive_entry_set_filetype(e, AE_IFDIR);
			archive_entry_set_perm(e, 0755);
		} else if (m[i].type == 'l') {
			archive_entry_set_filetype(e, AE_IFLNK);
			archive_entry_set_symlink(e, (const char *)m[i].data);
			archive_entry_set_perm(e, 0777);
		} else {
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_perm(e, 0644);
			archive_entry_set_size(e, (la_int64_t)m[i].len);
		}
		rc |= archive_write_header(a, e);
		if (m[i].type == 0 && m[i].len > 0 &&
		    archive_write_data(a, m[i].data, m[i].len) != (la_ssize_t)m[i].len)
			rc = -1;
		archive_entry_free(e);
	}
	rc |= archive_write_close(a);
	if (rc != 0) {
		printf("# archive writer: %s\n", archive_error_string(a));
		exit(99);
	}
	archive_write_free(a);
}

#endif
