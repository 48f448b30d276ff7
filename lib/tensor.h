/* nl — see LICENSE. Named tensors with checked sizes, and tensor sets (a file's worth of
 * tensors plus string metadata) used by the interchange formats. */
#ifndef NL_TENSOR_H
#define NL_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#include "dtype.h"
#include "err.h"
#include "meta.h"

#define NL_MAX_RANK 8
#define NL_MAX_NAME 255
#define NL_DIM_STREAM UINT64_MAX        /* dims[0] of a tensor whose length is known at its end */
#define NL_MAX_TENSOR_BYTES (UINT64_C(1) << 48)

struct nl_tinfo {
	char name[NL_MAX_NAME + 1];
	enum nl_dtype dtype;
	int rank;
	uint64_t dims[NL_MAX_RANK];     /* outermost first (C order) */
};

struct nl_tensor {
	struct nl_tinfo info;
	void *data;
	size_t nbytes;
};

struct nl_tset {
	struct nl_meta meta;
	size_t n, cap;
	struct nl_tensor *t;
	size_t *slots, n_slots;  /* open-addressing index of names: tensor index + 1, 0 = empty */
};

/* a*b with overflow check: 0 ok, -1 overflow. */
int nl_mul_u64(uint64_t a, uint64_t b, uint64_t *out);
/* numel and bytes of a shape: errors (NL_ERANGE) on overflow or above NL_MAX_TENSOR_BYTES;
 * NL_EFORMAT on bad rank or dtype. Either out pointer may be NULL. */
int nl_tinfo_size(const struct nl_tinfo *ti, uint64_t *numel, uint64_t *nbytes, struct nl_err *err);
/* Names: 1..255 bytes, printable (no control characters), valid UTF-8. 1 valid, 0 not. */
int nl_tensor_name_valid(const char *name);
/* "[3,4]" into buf; "[]" for rank 0. */
void nl_tinfo_shape_str(const struct nl_tinfo *ti, char *buf, size_t size);

void nl_tset_init(struct nl_tset *ts);
void nl_tset_free(struct nl_tset *ts);
/* Append a tensor with zeroed data of the right size; rejects invalid or duplicate names. */
struct nl_tensor *nl_tset_add(struct nl_tset *ts, const struct nl_tinfo *ti, struct nl_err *err);
/* Append taking ownership of data (nbytes must match the shape; freed on failure too). */
struct nl_tensor *nl_tset_add_owned(struct nl_tset *ts, const struct nl_tinfo *ti, void *data,
    size_t nbytes, struct nl_err *err);
struct nl_tensor *nl_tset_find(const struct nl_tset *ts, const char *name);
/* Drop the tensors after the first n (a reader undoing a failed load). */
void nl_tset_truncate(struct nl_tset *ts, size_t n);

#endif
