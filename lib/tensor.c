/* nl — see LICENSE. Tensor shapes with checked sizes; tensor sets. */
#include "tensor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
nl_mul_u64(uint64_t a, uint64_t b, uint64_t *out)
{
	if (a != 0 && b > UINT64_MAX / a)
		return -1;
	*out = a * b;
	return 0;
}

int
nl_tinfo_size(const struct nl_tinfo *ti, uint64_t *numel, uint64_t *nbytes, struct nl_err *err)
{
	size_t es = nl_dtype_size(ti->dtype);
	uint64_t n = 1, b;

	if (es == 0)
		return nl_err_set(err, NL_EFORMAT, "tensor '%s': unknown dtype %d", ti->name,
		    (int)ti->dtype);
	if (ti->rank < 0 || ti->rank > NL_MAX_RANK)
		return nl_err_set(err, NL_EFORMAT, "tensor '%s': rank %d exceeds %d", ti->name,
		    ti->rank, NL_MAX_RANK);
	for (int i = 0; i < ti->rank; i++)
		if (nl_mul_u64(n, ti->dims[i], &n) < 0)
			return nl_err_set(err, NL_ERANGE, "tensor '%s': shape overflows", ti->name);
	if (nl_mul_u64(n, es, &b) < 0 || b > NL_MAX_TENSOR_BYTES)
		return nl_err_set(err, NL_ERANGE, "tensor '%s': size exceeds 2^48 bytes", ti->name);
	if (numel)
		*numel = n;
	if (nbytes)
		*nbytes = b;
	return 0;
}

int
nl_tensor_name_valid(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > NL_MAX_NAME || !nl_meta_value_valid(name, len))
		return 0;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return 0;
	return 1;
}

void
nl_tinfo_shape_str(const struct nl_tinfo *ti, char *buf, size_t size)
{
	size_t used = 0;

	used += (size_t)snprintf(buf, size, "[");
	for (int i = 0; i < ti->rank && used < size; i++)
		used += (size_t)snprintf(buf + used, size - used, "%s%llu", i ? "," : "",
		    (unsigned long long)ti->dims[i]);
	if (used < size)
		snprintf(buf + used, size - used, "]");
}

void
nl_tset_init(struct nl_tset *ts)
{
	memset(ts, 0, sizeof *ts);
	nl_meta_init(&ts->meta);
}

void
nl_tset_free(struct nl_tset *ts)
{
	for (size_t i = 0; i < ts->n; i++)
		free(ts->t[i].data);
	free(ts->t);
	free(ts->slots);
	nl_meta_free(&ts->meta);
	nl_tset_init(ts);
}

/* FNV-1a: names are short; the index keeps loading n tensors O(n), not O(n^2). */
static size_t
name_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
	return (size_t)h;
}

/* Slot holding name, or the empty slot where it would go (n_slots is a power of two). */
static size_t
slot_of(const struct nl_tset *ts, const char *name)
{
	size_t mask = ts->n_slots - 1, i = name_hash(name) & mask;
	while (ts->slots[i] != 0 && strcmp(ts->t[ts->slots[i] - 1].info.name, name) != 0)
		i = (i + 1) & mask;
	return i;
}

static int
index_grow(struct nl_tset *ts)
{
	size_t n = ts->n_slots ? ts->n_slots * 2 : 64;
	size_t *old = ts->slots, old_n = ts->n_slots;

	if ((ts->slots = calloc(n, sizeof *ts->slots)) == NULL) {
		ts->slots = old;
		return -1;
	}
	ts->n_slots = n;
	for (size_t i = 0; i < old_n; i++)
		if (old[i] != 0)
			ts->slots[slot_of(ts, ts->t[old[i] - 1].info.name)] = old[i];
	free(old);
	return 0;
}

struct nl_tensor *
nl_tset_find(const struct nl_tset *ts, const char *name)
{
	if (ts->n_slots == 0)
		return NULL;
	size_t i = slot_of(ts, name);
	return ts->slots[i] ? &ts->t[ts->slots[i] - 1] : NULL;
}

void
nl_tset_truncate(struct nl_tset *ts, size_t n)
{
	while (ts->n > n) {
		struct nl_tensor *t = &ts->t[ts->n - 1];
		/* linear probing: removing an entry means re-placing the rest of its cluster */
		size_t mask = ts->n_slots - 1, i = slot_of(ts, t->info.name);
		ts->slots[i] = 0;
		for (size_t j = (i + 1) & mask; ts->slots[j] != 0; j = (j + 1) & mask) {
			size_t v = ts->slots[j];
			ts->slots[j] = 0;
			ts->slots[slot_of(ts, ts->t[v - 1].info.name)] = v;
		}
		free(t->data);
		ts->n--;
	}
}

struct nl_tensor *
nl_tset_add_owned(struct nl_tset *ts, const struct nl_tinfo *ti, void *data, size_t nbytes,
    struct nl_err *err)
{
	uint64_t want;

	if (!nl_tensor_name_valid(ti->name)) {
		nl_err_set(err, NL_EFORMAT, "invalid tensor name '%.64s'", ti->name);
		goto fail;
	}
	if (nl_tset_find(ts, ti->name) != NULL) {
		nl_err_set(err, NL_EFORMAT, "duplicate tensor name '%s'", ti->name);
		goto fail;
	}
	if (nl_tinfo_size(ti, NULL, &want, err) < 0)
		goto fail;
	if (want != nbytes || (uint64_t)(size_t)want != want) {
		nl_err_set(err, NL_EFORMAT, "tensor '%s': %zu bytes of data for a shape of %llu",
		    ti->name, nbytes, (unsigned long long)want);
		goto fail;
	}
	/* keep the index at most half full */
	if (2 * (ts->n + 1) > ts->n_slots && index_grow(ts) < 0) {
		nl_err_set(err, NL_ENOMEM, "out of memory");
		goto fail;
	}
	if (ts->n == ts->cap) {
		size_t cap = ts->cap ? ts->cap * 2 : 8;
		struct nl_tensor *t = realloc(ts->t, cap * sizeof *t);
		if (t == NULL) {
			nl_err_set(err, NL_ENOMEM, "out of memory");
			goto fail;
		}
		ts->t = t;
		ts->cap = cap;
	}
	struct nl_tensor *t = &ts->t[ts->n++];
	memset(t, 0, sizeof *t);
	t->info = *ti;
	for (int i = ti->rank; i < NL_MAX_RANK; i++)
		t->info.dims[i] = 0;
	t->data = data;
	t->nbytes = nbytes;
	ts->slots[slot_of(ts, t->info.name)] = ts->n;
	return t;
fail:
	free(data);
	return NULL;
}

struct nl_tensor *
nl_tset_add(struct nl_tset *ts, const struct nl_tinfo *ti, struct nl_err *err)
{
	uint64_t nbytes;

	if (nl_tinfo_size(ti, NULL, &nbytes, err) < 0)
		return NULL;
	if ((uint64_t)(size_t)nbytes != nbytes) {
		nl_err_set(err, NL_ENOMEM, "tensor '%s' does not fit in memory", ti->name);
		return NULL;
	}
	/* calloc(…, 1) of at least one byte so empty tensors still have a pointer */
	void *data = calloc(nbytes ? (size_t)nbytes : 1, 1);
	if (data == NULL) {
		nl_err_set(err, NL_ENOMEM, "out of memory for tensor '%s' (%llu bytes)", ti->name,
		    (unsigned long long)nbytes);
		return NULL;
	}
	return nl_tset_add_owned(ts, ti, data, (size_t)nbytes, err);
}
