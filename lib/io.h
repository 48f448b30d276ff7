/* nl — see LICENSE. Byte I/O over file descriptors, memory buffers and custom sources
 * (libarchive entries), with peek for format detection on pipes and atomic output files. */
#ifndef NL_IO_H
#define NL_IO_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* A custom byte source or sink. read returns bytes read (0 = end) or -1 with err set;
 * write returns 0 or -1; close may be NULL. */
struct nl_io_ops {
	ptrdiff_t (*read)(void *ctx, void *buf, size_t n, struct nl_err *err);
	int (*write)(void *ctx, const void *buf, size_t n, struct nl_err *err);
	int (*close)(void *ctx, struct nl_err *err);
};

enum nl_io_kind { NL_IO_NONE, NL_IO_FD, NL_IO_MEM, NL_IO_CUSTOM };

/* Open flags for nl_io_open_write. */
enum {
	NL_IO_FORCE = 1 /* allow binary data to or from a terminal */
};

/* Plain struct so callers can keep it on the stack; fields are private to io.c. */
struct nl_io {
	enum nl_io_kind kind;
	char name[1024];          /* for messages: the path, or "(stdin)", "(stdout)", "(memory)" */
	int writing;
	/* fd backend */
	int fd, own_fd;
	char *path, *tmp;         /* atomic output: final path and temporary in the same directory */
	/* memory backend: the bytes read from, or the growing output */
	unsigned char *mem;
	size_t mem_len, mem_cap, mem_pos;
	int mem_owned;
	/* custom backend */
	const struct nl_io_ops *ops;
	void *ctx;
	/* buffer: read-ahead (also serves peek) or pending output */
	unsigned char *buf;
	size_t buf_cap, buf_pos, buf_len;
	int eof;
	uint64_t offset;          /* bytes delivered to the reader / accepted from the writer */
};

/* "-" is stdin (refused on a terminal unless NL_IO_FORCE: binary input is not typed). */
int nl_io_open_read(struct nl_io *io, const char *path, int flags, struct nl_err *err);
/* "-" is stdout (refused on a tty unless NL_IO_FORCE); any other path is written to a
 * temporary file beside it and renamed into place by nl_io_close; nl_io_abort (and
 * SIGINT/SIGTERM, see nl_io_install_signals) removes the temporary. */
int nl_io_open_write(struct nl_io *io, const char *path, int flags, struct nl_err *err);
/* Read from a caller-owned buffer that must outlive io. */
void nl_io_open_mem_read(struct nl_io *io, const void *data, size_t len);
/* Write into a growing buffer; take it with nl_io_mem_take before nl_io_close. */
void nl_io_open_mem_write(struct nl_io *io);
/* Hand over the bytes written so far (caller frees); the io keeps writing into a new buffer. */
unsigned char *nl_io_mem_take(struct nl_io *io, size_t *len);
void nl_io_open_custom(struct nl_io *io, const struct nl_io_ops *ops, void *ctx, const char *name,
    int writing);

/* Up to n bytes; fewer only at end of input. Returns count or -1. */
ptrdiff_t nl_io_read(struct nl_io *io, void *buf, size_t n, struct nl_err *err);
/* Everything left, at most max bytes (more: NL_ERANGE), as a malloc'd buffer with a NUL
 * after its *len bytes; NULL on error. */
unsigned char *nl_io_read_all(struct nl_io *io, size_t max, size_t *len, struct nl_err *err);
/* Exactly n bytes, else NL_EFORMAT "unexpected end of file". */
int nl_io_read_exact(struct nl_io *io, void *buf, size_t n, struct nl_err *err);
/* Make up to n (<= 64 KiB) bytes visible without consuming them; *got < n only at end. */
int nl_io_peek(struct nl_io *io, const unsigned char **p, size_t n, size_t *got, struct nl_err *err);
/* Consume n bytes, erroring at a premature end. */
int nl_io_skip(struct nl_io *io, uint64_t n, struct nl_err *err);
int nl_io_write(struct nl_io *io, const void *buf, size_t n, struct nl_err *err);
int nl_io_flush(struct nl_io *io, struct nl_err *err);
/* Finish: flush, fsync and rename atomic outputs, close owned descriptors. On failure the
 * temporary is removed. Always releases resources. */
int nl_io_close(struct nl_io *io, struct nl_err *err);
/* Give up: remove any temporary output, release resources, keep no error. */
void nl_io_abort(struct nl_io *io);

/* libarchive glue: read archive a from src (archive_read_open with callbacks that keep the
 * nl_io's peeked bytes; src must outlive a), and read the current entry of a as an nl_io. */
struct archive;
int nl_io_archive_open(struct archive *a, struct nl_io *src, struct nl_err *err);
void nl_io_open_archive_entry(struct nl_io *io, struct archive *a, const char *name);

/* Remove pending temporary outputs on SIGINT, SIGTERM and SIGHUP, then die by the signal. */
void nl_io_install_signals(void);

/* Little-endian helpers used by every format. */
static inline uint16_t nl_le16(const unsigned char *p) { return (uint16_t)(p[0] | p[1] << 8); }
static inline uint32_t nl_le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t nl_le64(const unsigned char *p)
{
	return (uint64_t)nl_le32(p) | (uint64_t)nl_le32(p + 4) << 32;
}
static inline void nl_put16(unsigned char *p, uint16_t v) { p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8); }
static inline void nl_put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16); p[3] = (unsigned char)(v >> 24);
}
static inline void nl_put64(unsigned char *p, uint64_t v) { nl_put32(p, (uint32_t)v); nl_put32(p + 4, (uint32_t)(v >> 32)); }

#endif
