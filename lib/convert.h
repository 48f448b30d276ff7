/* nl — see LICENSE. Format detection and whole-file conversion between .nlt and the
 * interchange formats (the logic behind nl-convert, usable by tests and other programs). */
#ifndef NL_CONVERT_H
#define NL_CONVERT_H

#include <stddef.h>
#include <stdint.h>

#include "ckpt.h"
#include "err.h"
#include "formats.h"
#include "io.h"
#include "tensor.h"

/* Format of the bytes at the start of an input (at least 512 when available). */
enum nl_format nl_format_detect(const unsigned char *p, size_t n);
/* "nlt", "npy", "npz", "safetensors", "gguf"; NL_FORMAT_UNKNOWN otherwise. */
enum nl_format nl_format_parse(const char *name);
/* By file name extension; NL_FORMAT_UNKNOWN when none matches. */
enum nl_format nl_format_from_path(const char *path);
const char *nl_format_name(enum nl_format fmt);

/* Read a whole input into ts, detecting its format by magic (*fmt receives it). `path` names
 * a .npy's tensor (its file stem; "tensor" for stdin). */
int nl_convert_load(struct nl_io *in, const char *path, struct nl_tset *ts, enum nl_format *fmt,
    struct nl_err *err);
/* Write ts in format fmt; level applies to .nlt (0..9). */
int nl_convert_save(struct nl_io *out, enum nl_format fmt, const struct nl_tset *ts, int level,
    struct nl_err *err);
/* Re-encode an nl-tensor stream member by member with memory bounded by the block size
 * (streamed first dimensions stay streamed). Returns 0, -1 for an input error or -2 for an
 * output error. */
int nl_convert_nlt_stream(struct nl_io *in, struct nl_io *out, int level, struct nl_err *err);

/* Checkpoint bundles (nl-checkpoint(5)) to and from tensor files. */
/* Read a bundle from in (a tar, plain or compressed), load its model through
 * nl_model_from_ckpt, and put its parameters into ts as float32 tensors named as the layout,
 * with metadata kind=params, model=<family> and every configuration key, prefixed "nl." for
 * fmt NL_FORMAT_GGUF and bare otherwise. Optimizer state, training state, the tokenizer, fast
 * memory and unknown members are not exported: their names go to left_out (comma-separated,
 * "" when none). */
int nl_convert_ckpt_export(struct nl_io *in, enum nl_format fmt, struct nl_tset *ts,
    char *left_out, size_t size, struct nl_err *err);
/* Build a parameters-only bundle (config and params.nlt) in ck from a tensor set: the
 * configuration comes from its metadata (the "nl."-prefixed keys when any key has that prefix,
 * as GGUF files written by nl_convert_ckpt_export have, where an unknown nl.* key is an error;
 * otherwise the keys that are configuration keys, others such as "kind" or "format" ignored),
 * vocab_size must be among them, and a "kind" other than "params" is an error. Every
 * parameter must be present with its shape and no other tensor may be; float64, float16 and
 * bfloat16 are converted to float32 when exact. */
int nl_convert_ckpt_import(const struct nl_tset *ts, struct nl_ckpt *ck, struct nl_err *err);

/* One listing row: member (ordinal for .nlt members, archive entry name for tar bundles,
 * "1" otherwise), the tensor, its raw byte count and content CRC-32. */
typedef int (*nl_list_fn)(void *ctx, const char *member, const struct nl_tinfo *ti,
    uint64_t bytes, uint32_t crc);
/* List every tensor of an input in any supported format (streaming for .nlt and tar). */
int nl_convert_list(struct nl_io *in, const char *path, nl_list_fn fn, void *ctx,
    struct nl_err *err);

#endif
