/* nl — see LICENSE. Interchange formats for nl-convert and fixtures: every reader fills a
 * struct nl_tset (tensors in file order, metadata as str->str), every writer takes one.
 * Readers check every count, size, offset and duplicate; writers follow the published specs. */
#ifndef NL_FORMATS_H
#define NL_FORMATS_H

#include "err.h"
#include "io.h"
#include "tensor.h"

enum nl_format {
	NL_FORMAT_UNKNOWN = 0,
	NL_FORMAT_NLT,
	NL_FORMAT_NPY,
	NL_FORMAT_NPZ,
	NL_FORMAT_SAFETENSORS,
	NL_FORMAT_GGUF,
	NL_FORMAT_TAR,  /* checkpoint bundles (nl-checkpoint(5)) */
	NL_FORMAT_COMPRESSED, /* gzip, xz, zstd or bzip2: listed as a compressed tar bundle */
	NL_FORMAT_ZIP   /* a zip that is not an npz */
};

/* .npy: one tensor, numpy format 1.0 (2.0/3.0 read). The reader names the tensor `name`. */
int nl_fmt_npy_read(struct nl_io *in, const char *name, struct nl_tset *ts, struct nl_err *err);
int nl_fmt_npy_write(struct nl_io *out, const struct nl_tensor *t, struct nl_err *err);
/* .npz: a zip of NAME.npy members (stored or deflated); metadata travels in a
 * "__metadata__.json" member (a JSON object of strings), written only when non-empty. */
int nl_fmt_npz_read(struct nl_io *in, struct nl_tset *ts, struct nl_err *err);
int nl_fmt_npz_write(struct nl_io *out, const struct nl_tset *ts, struct nl_err *err);
/* .safetensors: tensors ordered by data offset on read, in set order on write;
 * metadata is "__metadata__". */
int nl_fmt_safetensors_read(struct nl_io *in, struct nl_tset *ts, struct nl_err *err);
int nl_fmt_safetensors_write(struct nl_io *out, const struct nl_tset *ts, struct nl_err *err);
/* .gguf (v3; v2 read): dims reversed to C order; metadata as string KVs on write, every KV
 * rendered as a string on read. */
int nl_fmt_gguf_read(struct nl_io *in, struct nl_tset *ts, struct nl_err *err);
int nl_fmt_gguf_write(struct nl_io *out, const struct nl_tset *ts, struct nl_err *err);

#endif
