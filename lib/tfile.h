/* nl — see LICENSE. The nl-tensor container (.nlt, nl-tensor(5)): streaming reader and
 * writer with per-tensor zlib blocks, CRC'd records and memory bounded by the block size. */
#ifndef NL_TFILE_H
#define NL_TFILE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "io.h"
#include "meta.h"
#include "tensor.h"

#define NL_TFILE_MAGIC "\x89NLT\r\n\x1a\n"
#define NL_TFILE_MAJOR 1
#define NL_TFILE_MINOR 0
#define NL_TFILE_MAX_RECORD (64u << 20)
/* A stored DATA payload is 8 header bytes + the block: keep it within the record cap. */
#define NL_TFILE_MAX_BLOCK (NL_TFILE_MAX_RECORD - 8)
#define NL_TFILE_DEFAULT_BLOCK (1u << 20)
#define NL_TFILE_DEFAULT_LEVEL 1

struct nl_tfile;

/* Reading. open_read consumes the preamble and HEAD of the first member. */
int nl_tfile_open_read(struct nl_tfile **tf, struct nl_io *in, struct nl_err *err);
/* Metadata of the current member: 1 found, 0 absent. */
int nl_tfile_meta(const struct nl_tfile *tf, const char *key, const char **val);
const struct nl_meta *nl_tfile_meta_all(const struct nl_tfile *tf);
/* Advance to the next tensor of the current member (skipping, and verifying, what is left of
 * the previous one): 1 tensor, 0 end of member (FEND verified), -1 error.
 * A streamed dims[0] reads as NL_DIM_STREAM until the tensor's end. */
int nl_tfile_next(struct nl_tfile *tf, struct nl_tinfo *ti, struct nl_err *err);
/* Up to n raw bytes of the current tensor; *got == 0 only once its TEND has been verified. */
int nl_tfile_read(struct nl_tfile *tf, void *buf, size_t n, size_t *got, struct nl_err *err);
/* The current tensor, with dims[0] final once fully read; its content CRC-32 likewise. */
const struct nl_tinfo *nl_tfile_current(const struct nl_tfile *tf);
uint32_t nl_tfile_content_crc(const struct nl_tfile *tf);
/* After nl_tfile_next returned 0: 1 if another member follows (its HEAD now current),
 * 0 at a clean end of input, -1 on error (anything but a member or the end). */
int nl_tfile_next_member(struct nl_tfile *tf, struct nl_err *err);

/* Writing. meta may be NULL. level 0..9 (0 = stored). No seeks; output is canonical. */
int nl_tfile_open_write(struct nl_tfile **tf, struct nl_io *out, const struct nl_meta *meta,
    int level, struct nl_err *err);
/* Raw bytes per DATA block for tensors begun after this call (default 1 MiB); must be a
 * multiple of each tensor's element size and at most NL_TFILE_MAX_BLOCK. */
int nl_tfile_set_block_size(struct nl_tfile *tf, uint32_t block_size, struct nl_err *err);
int nl_tfile_begin(struct nl_tfile *tf, const struct nl_tinfo *ti, struct nl_err *err);
int nl_tfile_write(struct nl_tfile *tf, const void *buf, size_t n, struct nl_err *err);
int nl_tfile_end(struct nl_tfile *tf, struct nl_err *err);
/* Writers: write FEND and free (check it). Readers: free. The io is not closed. */
int nl_tfile_close(struct nl_tfile *tf, struct nl_err *err);
/* Free without writing anything more (after an error). NULL is fine. */
void nl_tfile_free(struct nl_tfile *tf);

/* Whole-set helpers for nl-convert and tests: read every member into ts (duplicate names or
 * conflicting metadata across members are errors); write ts as one member. */
int nl_tfile_read_tset(struct nl_io *in, struct nl_tset *ts, struct nl_err *err);
int nl_tfile_write_tset(struct nl_io *out, const struct nl_tset *ts, int level,
    struct nl_err *err);

#endif
