/* nl — see LICENSE. Byte I/O: buffered reads with peek, buffered writes, atomic outputs. */
#include "io.h"

#include <archive.h>

#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define IO_BUF_SIZE (64 * 1024)
#define IO_MAX_TEMPS 64

/* Temporary outputs to remove if a signal arrives; written before the signal handler can
 * see them and read-only in the handler (the one mutable global besides progname). */
static char *volatile io_temps[IO_MAX_TEMPS];

static int
io_temps_add(char *path)
{
	for (int i = 0; i < IO_MAX_TEMPS; i++)
		if (io_temps[i] == NULL) {
			io_temps[i] = path;
			return 0;
		}
	return -1;
}

static void
io_temps_remove(const char *path)
{
	for (int i = 0; i < IO_MAX_TEMPS; i++)
		if (io_temps[i] == path)
			io_temps[i] = NULL;
}

static void
io_on_signal(int sig)
{
	for (int i = 0; i < IO_MAX_TEMPS; i++)
		if (io_temps[i] != NULL)
			unlink(io_temps[i]);
	signal(sig, SIG_DFL);
	raise(sig);
}

void
nl_io_install_signals(void)
{
	struct sigaction sa;

	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP };

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = io_on_signal;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
		struct sigaction old;
		/* a signal ignored by the caller (nohup, background jobs) stays ignored */
		if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN)
			continue;
		sigaction(sigs[i], &sa, NULL);
	}
}

static void
io_init(struct nl_io *io, enum nl_io_kind kind, const char *name, int writing)
{
	memset(io, 0, sizeof *io);
	io->kind = kind;
	io->fd = -1;
	io->writing = writing;
	snprintf(io->name, sizeof io->name, "%s", name);
}

static int
io_alloc_buf(struct nl_io *io, struct nl_err *err)
{
	if (io->buf != NULL)
		return 0;
	io->buf = malloc(IO_BUF_SIZE);
	if (io->buf == NULL)
		return nl_err_set(err, NL_ENOMEM, "out of memory");
	io->buf_cap = IO_BUF_SIZE;
	return 0;
}

int
nl_io_open_read(struct nl_io *io, const char *path, int flags, struct nl_err *err)
{
	if (strcmp(path, "-") == 0) {
		io_init(io, NL_IO_FD, "(stdin)", 0);
		if (!(flags & NL_IO_FORCE) && isatty(STDIN_FILENO))
			return nl_err_set(err, NL_EUSAGE,
			    "refusing to read binary data from a terminal (use -f to force)");
		io->fd = STDIN_FILENO;
	} else {
		struct stat st;

		io_init(io, NL_IO_FD, path, 0);
		io->fd = open(path, O_RDONLY | O_CLOEXEC);
		if (io->fd < 0)
			return nl_err_sys(err, "%s", "");
		io->own_fd = 1;
		if (fstat(io->fd, &st) == 0 && S_ISDIR(st.st_mode)) {
			close(io->fd);
			io->fd = -1;
			errno = EISDIR;
			return nl_err_sys(err, "%s", "");
		}
	}
	return io_alloc_buf(io, err);
}

int
nl_io_open_write(struct nl_io *io, const char *path, int flags, struct nl_err *err)
{
	struct stat st;
	char *real = NULL;

	if (strcmp(path, "-") == 0) {
		io_init(io, NL_IO_FD, "(stdout)", 1);
		if (!(flags & NL_IO_FORCE) && isatty(STDOUT_FILENO))
			return nl_err_set(err, NL_EUSAGE,
			    "refusing to write binary data to a terminal (use -f to force)");
		io->fd = STDOUT_FILENO;
		return io_alloc_buf(io, err);
	}
	io_init(io, NL_IO_FD, path, 1);
	if (io_alloc_buf(io, err) < 0)
		return -1;
	/* a link is followed: the file it names is replaced, the link stays */
	if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode) && (real = realpath(path, NULL)) != NULL)
		path = real;
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		/* devices, fifos (/dev/null, /dev/stdout): write in place, never replace them */
		io->fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
		free(real);
		if (io->fd < 0) {
			int saved = errno;
			nl_io_abort(io);
			errno = saved;
			return nl_err_sys(err, "%s", "");
		}
		io->own_fd = 1;
		return 0;
	}
	size_t len = strlen(path);
	const char *slash = strrchr(path, '/');
	size_t dirlen = slash ? (size_t)(slash - path) + 1 : 0;
	io->path = strdup(path);
	io->tmp = malloc(len + 16);
	free(real);
	if (io->path == NULL || io->tmp == NULL) {
		nl_io_abort(io);
		return nl_err_set(err, NL_ENOMEM, "out of memory");
	}
	/* ".name.XXXXXX" beside the target so rename stays on one file system */
	memcpy(io->tmp, io->path, dirlen);
	snprintf(io->tmp + dirlen, len + 16 - dirlen, ".%s.XXXXXX", io->path + dirlen);
	/* no signal may come between creating the temporary and registering it */
	sigset_t block, old;
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	sigprocmask(SIG_BLOCK, &block, &old);
	io->fd = mkstemp(io->tmp);
	int saved = errno, registered = io->fd >= 0 && io_temps_add(io->tmp) == 0;
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (io->fd < 0) {
		free(io->tmp); /* nothing was created */
		io->tmp = NULL;
		nl_io_abort(io);
		errno = saved;
		return nl_err_sys(err, "%s", "");
	}
	io->own_fd = 1;
	if (!registered) {
		nl_io_abort(io);
		return nl_err_set(err, NL_ERANGE, "more than %d outputs open at once", IO_MAX_TEMPS);
	}
	/* mkstemp makes 0600; give the file the mode a plain creat() would */
	mode_t mask = umask(0);
	umask(mask);
	fchmod(io->fd, 0666 & ~mask);
	return 0;
}

void
nl_io_open_mem_read(struct nl_io *io, const void *data, size_t len)
{
	io_init(io, NL_IO_MEM, "(memory)", 0);
	io->mem = (unsigned char *)data;
	io->mem_len = len;
}

void
nl_io_open_mem_write(struct nl_io *io)
{
	io_init(io, NL_IO_MEM, "(memory)", 1);
	io->mem_owned = 1;
}

unsigned char *
nl_io_mem_take(struct nl_io *io, size_t *len)
{
	unsigned char *p = io->mem;

	*len = io->mem_len;
	if (p == NULL)
		p = malloc(1); /* an empty output is still a buffer the caller frees */
	io->mem = NULL;
	io->mem_len = io->mem_cap = 0;
	return p;
}

void
nl_io_open_custom(struct nl_io *io, const struct nl_io_ops *ops, void *ctx, const char *name,
    int writing)
{
	io_init(io, NL_IO_CUSTOM, name, writing);
	io->ops = ops;
	io->ctx = ctx;
}

/* Raw read from the backend, retrying on EINTR; returns 0 at end. */
static ptrdiff_t
io_raw_read(struct nl_io *io, void *buf, size_t n, struct nl_err *err)
{
	switch (io->kind) {
	case NL_IO_FD:
		for (;;) {
			ssize_t r = read(io->fd, buf, n);
			if (r >= 0)
				return r;
			if (errno != EINTR)
				return nl_err_sys(err, "read error");
		}
	case NL_IO_MEM: {
		size_t k = io->mem_len - io->mem_pos;
		if (k > n)
			k = n;
		memcpy(buf, io->mem + io->mem_pos, k);
		io->mem_pos += k;
		return (ptrdiff_t)k;
	}
	case NL_IO_CUSTOM:
		return io->ops->read(io->ctx, buf, n, err);
	default:
		return nl_err_set(err, NL_EIO, "read from a closed stream");
	}
}

/* Fill the read-ahead buffer so that at least want bytes are buffered, unless at end. */
static int
io_fill(struct nl_io *io, size_t want, struct nl_err *err)
{
	if (io->kind == NL_IO_MEM)
		return 0; /* memory readers are served in place */
	if (io_alloc_buf(io, err) < 0)
		return -1;
	if (io->buf_pos > 0) {
		memmove(io->buf, io->buf + io->buf_pos, io->buf_len - io->buf_pos);
		io->buf_len -= io->buf_pos;
		io->buf_pos = 0;
	}
	while (io->buf_len < want && !io->eof) {
		ptrdiff_t r = io_raw_read(io, io->buf + io->buf_len, io->buf_cap - io->buf_len, err);
		if (r < 0)
			return -1;
		if (r == 0)
			io->eof = 1;
		io->buf_len += (size_t)r;
	}
	return 0;
}

unsigned char *
nl_io_read_all(struct nl_io *io, size_t max, size_t *len, struct nl_err *err)
{
	size_t n = 0, cap = 0;
	unsigned char *buf = NULL;
	for (;;) {
		if (n == cap) {
			cap = cap ? 2 * cap : 1 << 16;
			if (cap > max + 1)
				cap = max + 1;
			unsigned char *b = realloc(buf, cap + 1);
			if (b == NULL) {
				free(buf);
				nl_err_set(err, NL_ENOMEM, "out of memory");
				return NULL;
			}
			buf = b;
		}
		ptrdiff_t got = nl_io_read(io, buf + n, cap - n, err);
		if (got < 0) {
			free(buf);
			return NULL;
		}
		if (got == 0)
			break;
		n += (size_t)got;
		if (n > max) {
			free(buf);
			nl_err_set(err, NL_ERANGE, "larger than %zu bytes", max);
			return NULL;
		}
	}
	buf[n] = 0;
	*len = n;
	return buf;
}

ptrdiff_t
nl_io_read(struct nl_io *io, void *buf, size_t n, struct nl_err *err)
{
	unsigned char *out = buf;
	size_t done = 0;

	if (io->writing)
		return nl_err_set(err, NL_EIO, "stream is open for writing");
	if (io->kind == NL_IO_MEM) {
		ptrdiff_t r = io_raw_read(io, buf, n, err);
		io->offset += (uint64_t)r;
		return r;
	}
	while (done < n) {
		size_t avail = io->buf_len - io->buf_pos;
		if (avail > 0) {
			size_t k = avail < n - done ? avail : n - done;
			memcpy(out + done, io->buf + io->buf_pos, k);
			io->buf_pos += k;
			done += k;
			continue;
		}
		if (io->eof)
			break;
		if (n - done >= IO_BUF_SIZE) {
			/* large reads bypass the buffer */
			ptrdiff_t r = io_raw_read(io, out + done, n - done, err);
			if (r < 0)
				return -1;
			if (r == 0)
				io->eof = 1;
			done += (size_t)r;
		} else {
			io->buf_pos = io->buf_len = 0;
			if (io_fill(io, 1, err) < 0)
				return -1;
		}
	}
	io->offset += done;
	return (ptrdiff_t)done;
}

int
nl_io_read_exact(struct nl_io *io, void *buf, size_t n, struct nl_err *err)
{
	ptrdiff_t r = nl_io_read(io, buf, n, err);

	if (r < 0)
		return -1;
	if ((size_t)r < n)
		return nl_err_set(err, NL_EFORMAT, "unexpected end of file");
	return 0;
}

int
nl_io_peek(struct nl_io *io, const unsigned char **p, size_t n, size_t *got, struct nl_err *err)
{
	if (n > IO_BUF_SIZE)
		return nl_err_set(err, NL_ERANGE, "peek of %zu bytes is too large", n);
	if (io->kind == NL_IO_MEM) {
		size_t avail = io->mem_len - io->mem_pos;
		*p = io->mem + io->mem_pos;
		*got = avail < n ? avail : n;
		return 0;
	}
	if (io->buf_len - io->buf_pos < n && io_fill(io, n, err) < 0)
		return -1;
	*p = io->buf + io->buf_pos;
	*got = io->buf_len - io->buf_pos < n ? io->buf_len - io->buf_pos : n;
	return 0;
}

int
nl_io_skip(struct nl_io *io, uint64_t n, struct nl_err *err)
{
	unsigned char tmp[4096];

	while (n > 0) {
		size_t k = n < sizeof tmp ? (size_t)n : sizeof tmp;
		if (nl_io_read_exact(io, tmp, k, err) < 0)
			return -1;
		n -= k;
	}
	return 0;
}

static int
io_raw_write(struct nl_io *io, const void *buf, size_t n, struct nl_err *err)
{
	const unsigned char *p = buf;

	switch (io->kind) {
	case NL_IO_FD:
		while (n > 0) {
			ssize_t w = write(io->fd, p, n);
			if (w < 0) {
				if (errno == EINTR)
					continue;
				return nl_err_sys(err, "write error");
			}
			p += w;
			n -= (size_t)w;
		}
		return 0;
	case NL_IO_MEM:
		if (n > io->mem_cap - io->mem_len) {
			size_t cap = io->mem_cap ? io->mem_cap : 4096;
			while (cap - io->mem_len < n) {
				if (cap > SIZE_MAX / 2)
					return nl_err_set(err, NL_ENOMEM, "out of memory");
				cap *= 2;
			}
			unsigned char *m = realloc(io->mem, cap);
			if (m == NULL)
				return nl_err_set(err, NL_ENOMEM, "out of memory");
			io->mem = m;
			io->mem_cap = cap;
		}
		if (n > 0)
			memcpy(io->mem + io->mem_len, p, n);
		io->mem_len += n;
		return 0;
	case NL_IO_CUSTOM:
		return io->ops->write(io->ctx, buf, n, err);
	default:
		return nl_err_set(err, NL_EIO, "write to a closed stream");
	}
}

int
nl_io_flush(struct nl_io *io, struct nl_err *err)
{
	if (!io->writing || io->buf_len == 0)
		return 0;
	size_t n = io->buf_len;
	io->buf_len = 0;
	return io_raw_write(io, io->buf, n, err);
}

int
nl_io_write(struct nl_io *io, const void *buf, size_t n, struct nl_err *err)
{
	if (!io->writing)
		return nl_err_set(err, NL_EIO, "stream is open for reading");
	io->offset += n;
	if (io->kind == NL_IO_MEM)
		return io_raw_write(io, buf, n, err);
	if (io_alloc_buf(io, err) < 0)
		return -1;
	if (n > io->buf_cap - io->buf_len) {
		if (nl_io_flush(io, err) < 0)
			return -1;
		if (n >= io->buf_cap)
			return io_raw_write(io, buf, n, err);
	}
	memcpy(io->buf + io->buf_len, buf, n);
	io->buf_len += n;
	return 0;
}

static void
io_release(struct nl_io *io)
{
	if (io->own_fd && io->fd >= 0)
		close(io->fd);
	if (io->tmp != NULL)
		io_temps_remove(io->tmp);
	free(io->tmp);
	free(io->path);
	free(io->buf);
	if (io->mem_owned)
		free(io->mem);
	io->kind = NL_IO_NONE;
	io->fd = -1;
	io->own_fd = 0;
	io->tmp = io->path = NULL;
	io->buf = NULL;
	io->mem = NULL;
}

void
nl_io_abort(struct nl_io *io)
{
	if (io->tmp != NULL)
		unlink(io->tmp);
	if (io->kind == NL_IO_CUSTOM && io->ops != NULL && io->ops->close != NULL)
		io->ops->close(io->ctx, NULL);
	io_release(io);
}

int
nl_io_close(struct nl_io *io, struct nl_err *err)
{
	int rc = 0;

	if (io->writing && nl_io_flush(io, err) < 0)
		rc = -1;
	if (io->kind == NL_IO_CUSTOM && io->ops->close != NULL) {
		if (io->ops->close(io->ctx, rc == 0 ? err : NULL) < 0)
			rc = -1;
		io->ops = NULL;
	}
	if (rc == 0 && io->tmp != NULL) {
		if (fsync(io->fd) < 0)
			rc = nl_err_sys(err, "fsync");
		if (close(io->fd) < 0 && rc == 0)
			rc = nl_err_sys(err, "close");
		io->own_fd = 0;
		if (rc == 0 && rename(io->tmp, io->path) < 0)
			rc = nl_err_sys(err, "rename");
	} else if (rc == 0 && io->own_fd && io->writing) {
		/* a device or fifo written in place */
		if (close(io->fd) < 0)
			rc = nl_err_sys(err, "close");
		io->own_fd = 0;
	}
	if (rc < 0) {
		nl_io_abort(io);
		return -1;
	}
	io_release(io);
	return 0;
}

/* ---- libarchive glue ---- */

struct io_archive_src {
	struct nl_io *io;
	struct nl_err err;
	unsigned char buf[65536];
};

static la_ssize_t
io_archive_read(struct archive *a, void *ctx, const void **out)
{
	struct io_archive_src *src = ctx;
	ptrdiff_t r = nl_io_read(src->io, src->buf, sizeof src->buf, &src->err);

	if (r < 0) {
		archive_set_error(a, -1, "%s", src->err.msg);
		return -1;
	}
	*out = src->buf;
	return r;
}

static int
io_archive_close(struct archive *a, void *ctx)
{
	(void)a;
	free(ctx);
	return ARCHIVE_OK;
}

int
nl_io_archive_open(struct archive *a, struct nl_io *src, struct nl_err *err)
{
	struct io_archive_src *ctx = malloc(sizeof *ctx);

	if (ctx == NULL)
		return nl_err_set(err, NL_ENOMEM, "out of memory");
	ctx->io = src;
	nl_err_clear(&ctx->err);
	/* on failure libarchive calls the closer, which frees ctx */
	if (archive_read_open(a, ctx, NULL, io_archive_read, io_archive_close) != ARCHIVE_OK)
		return nl_err_set(err, NL_EFORMAT, "%s", archive_error_string(a));
	return 0;
}

static ptrdiff_t
io_entry_read(void *ctx, void *buf, size_t n, struct nl_err *err)
{
	struct archive *a = ctx;
	la_ssize_t r = archive_read_data(a, buf, n);

	if (r < 0)
		return nl_err_set(err, NL_EFORMAT, "%s", archive_error_string(a));
	return (ptrdiff_t)r;
}

static const struct nl_io_ops io_entry_ops = { io_entry_read, NULL, NULL };

void
nl_io_open_archive_entry(struct nl_io *io, struct archive *a, const char *name)
{
	nl_io_open_custom(io, &io_entry_ops, a, name, 0);
}
