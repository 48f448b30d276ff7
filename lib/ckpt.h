/* nl — see LICENSE. Checkpoint bundles, nl-checkpoint(5): a POSIX restricted-pax tar of
 * flat members (config first, params.nlt, then tokenizer.nlt, memory.nlt, optim.nlt, state),
 * written deterministically and atomically, read from files, pipes and compressed tars. */
#ifndef NL_CKPT_H
#define NL_CKPT_H
#include <stddef.h>
#include "err.h"

#define NL_CKPT_FORMAT "nl-checkpoint 1"  /* first line of config: "format = nl-checkpoint 1" */
#define NL_CKPT_MAX_MEMBERS 16
#define NL_CKPT_LEVEL 0   /* zlib level of the .nlt members: float32 weights shrink by
                           * about 7 % at level 1 for 30 times the time (bench/README.md) */

struct nl_ckpt_member {
	char name[64];
	unsigned char *data;
	size_t len;
};

struct nl_ckpt {
	int n;
	struct nl_ckpt_member m[NL_CKPT_MAX_MEMBERS];
	/* names of unknown members the reader skipped (caller warns), comma-separated */
	char skipped[256];
};

void nl_ckpt_init(struct nl_ckpt *ck);
void nl_ckpt_free(struct nl_ckpt *ck);
/* Append a member (copies data). Names must be one of the known members, in the order of
 * nl-checkpoint(5): config, params.nlt, tokenizer.nlt, memory.nlt, optim.nlt, state,
 * history.tsv. */
int nl_ckpt_add(struct nl_ckpt *ck, const char *name, const void *data, size_t len,
    struct nl_err *err);
const struct nl_ckpt_member *nl_ckpt_find(const struct nl_ckpt *ck, const char *name);
/* Write the bundle to path atomically (temporary beside it, fsync, rename; "-" is stdout,
 * refused on a tty unless force). Entry metadata fixed: mode 0644, uid/gid 0, no user or
 * group names, mtime $SOURCE_DATE_EPOCH or 0 — the same members give the same bytes. */
int nl_ckpt_write(const struct nl_ckpt *ck, const char *path, int force, struct nl_err *err);
enum {
	NL_CKPT_SKIP_TRAINING = 1  /* do not load optim.nlt and state (evaluation) */
};
/* Read a bundle ("-" is stdin; gzip/xz/zstd/bzip2-compressed tars accepted). Errors:
 * not a tar ("not a checkpoint bundle (…)"), truncated ("truncated checkpoint bundle"),
 * config not first, missing config or params.nlt, duplicate member, first line of config
 * not "format = nl-checkpoint N" or N newer than 1 (NL_EUNSUPPORTED). Unknown members are
 * skipped and listed in ck->skipped. */
int nl_ckpt_read(struct nl_ckpt *ck, const char *path, int flags, struct nl_err *err);
/* The same from an open input (which may have been peeked at). ck is (re)initialised:
 * whatever it held is not freed; on error it is left empty. */
struct nl_io;
int nl_ckpt_read_io(struct nl_ckpt *ck, struct nl_io *io, int flags, struct nl_err *err);
#endif
