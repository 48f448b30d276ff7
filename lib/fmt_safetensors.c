/* nl — see LICENSE. The safetensors format: u64 little-endian header length N, N bytes of
 * JSON header (space-padded so the data starts 8-aligned), then the tensors' bytes with no
 * holes. Read from a forward-only stream; every size, offset and name is checked. */
#include "formats.h"
#include "json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The Rust crate refuses larger headers; so do we, and we never allocate more than the
 * stream has actually delivered. */
#define ST_MAX_HEADER UINT64_C(100000000)
#define ST_ALIGN 8

/* One header entry while the header is checked, before any data is read. */
struct st_ent {
	struct nl_tinfo ti;
	uint64_t begin, end;
	size_t idx;            /* position in the header, to keep sorting deterministic */
};

/* dtypes the published format has and nl does not: a clearer error than "unknown" */
static const char *const st_foreign[] = {
	"F4", "F6_E2M3", "F6_E3M2", "F8_E4M3", "F8_E5M2", "F8_E8M0", "C64",
};

/* Copy s into buf for a one-line message: at most 64 bytes, control bytes as '?'. */
static const char *
st_show(const char *s, char *buf, size_t size)
{
	size_t i;

	for (i = 0; s[i] && i + 1 < size && i < 64; i++)
		buf[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
	buf[i] = '\0';
	return buf;
}

static int
st_read_header(struct nl_io *in, uint64_t n, char **out, struct nl_err *err)
{
	size_t cap = n < 65536 ? (size_t)n : 65536, got = 0;
	char *buf = malloc(cap + 1);

	if (buf == NULL)
		return nl_err_set(err, NL_ENOMEM, "out of memory");
	/* grow with what arrives, so a lying length cannot make us allocate 100 MB */
	while (got < n) {
		if (got == cap) {
			size_t c = n - cap < cap ? (size_t)n : cap * 2;
			char *q = realloc(buf, c + 1);
			if (q == NULL) {
				free(buf);
				return nl_err_set(err, NL_ENOMEM, "out of memory");
			}
			buf = q;
			cap = c;
		}
		ptrdiff_t r = nl_io_read(in, buf + got, cap - got, err);
		if (r < 0) {
			free(buf);
			return -1;
		}
		if (r == 0) {
			free(buf);
			return nl_err_set(err, NL_EFORMAT,
			    "unexpected end of file in header (%llu bytes declared, %zu present)",
			    (unsigned long long)n, got);
		}
		got += (size_t)r;
	}
	buf[got] = '\0';
	*out = buf;
	return 0;
}

static int
st_parse_dtype(const char *name, const struct nl_json *v, struct nl_tinfo *ti, struct nl_err *err)
{
	char show[72];

	if (v->type != NL_JSON_STRING)
		return nl_err_set(err, NL_EFORMAT, "tensor '%s': dtype is not a string", name);
	ti->dtype = nl_dtype_parse(v->str);
	if (ti->dtype != NL_DTYPE_INVALID)
		return 0;
	for (size_t i = 0; i < sizeof st_foreign / sizeof st_foreign[0]; i++)
		if (strcmp(v->str, st_foreign[i]) == 0)
			return nl_err_set(err, NL_EUNSUPPORTED, "tensor '%s': dtype %s is not supported",
			    name, v->str);
	return nl_err_set(err, NL_EFORMAT, "tensor '%s': unknown dtype '%s'", name,
	    st_show(v->str, show, sizeof show));
}

static int
st_parse_shape(const char *name, const struct nl_json *v, struct nl_tinfo *ti, struct nl_err *err)
{
	if (v->type != NL_JSON_ARRAY)
		return nl_err_set(err, NL_EFORMAT, "tensor '%s': shape is not an array", name);
	if (v->n > NL_MAX_RANK)
		return nl_err_set(err, NL_EFORMAT, "tensor '%s': rank %zu exceeds %d", name, v->n,
		    NL_MAX_RANK);
	ti->rank = (int)v->n;
	for (size_t i = 0; i < v->n; i++)
		if (nl_json_u64(&v->items[i], &ti->dims[i]) < 0)
			return nl_err_set(err, NL_EFORMAT,
			    "tensor '%s': shape holds something other than a non-negative integer", name);
	return 0;
}

static int
st_parse_offsets(const char *name, const struct nl_json *v, struct st_ent *e, struct nl_err *err)
{
	if (v->type != NL_JSON_ARRAY || v->n != 2 || nl_json_u64(&v->items[0], &e->begin) < 0 ||
	    nl_json_u64(&v->items[1], &e->end) < 0)
		return nl_err_set(err, NL_EFORMAT,
		    "tensor '%s': data_offsets is not a pair of non-negative integers", name);
	if (e->end < e->begin)
		return nl_err_set(err, NL_EFORMAT,
		    "tensor '%s': data_offsets [%llu,%llu] end before they begin", name, (unsigned long long)e->begin, (unsigned long long)e->end);
	return 0;
}

/* One "name": {"dtype":..., "shape":[...], "data_offsets":[b,e]} entry. */
static int
st_parse_entry(const char *name, const struct nl_json *v, struct st_ent *e, struct nl_err *err)
{
	int have_dtype = 0, have_shape = 0, have_offsets = 0;
	uint64_t nbytes;
	char show[72], shape[192];

	if (!nl_tensor_name_valid(name))
		return nl_err_set(err, NL_EFORMAT, "invalid tensor name '%s'",
		    st_show(name, show, sizeof show));
	memset(e, 0, sizeof *e);
	memcpy(e->ti.name, name, strlen(name) + 1);
	if (v->type != NL_JSON_OBJECT)
		return nl_err_set(err, NL_EFORMAT, "tensor '%s': entry is not a json object", name);
	for (size_t i = 0; i < v->n; i++) {
		const char *k = v->keys[i];
		int rc;
		if (strcmp(k, "dtype") == 0) {
			rc = st_parse_dtype(name, &v->items[i], &e->ti, err);
			have_dtype = 1;
		} else if (strcmp(k, "shape") == 0) {
			rc = st_parse_shape(name, &v->items[i], &e->ti, err);
			have_shape = 1;
		} else if (strcmp(k, "data_offsets") == 0) {
			rc = st_parse_offsets(name, &v->items[i], e, err);
			have_offsets = 1;
		} else {
			/* a field we do not know may change the meaning of the bytes */
			rc = nl_err_set(err, NL_EFORMAT, "tensor '%s': unknown field '%s'", name,
			    st_show(k, show, sizeof show));
		}
		if (rc < 0)
			return -1;
	}
	if (!have_dtype || !have_shape || !have_offsets)
		return nl_err_set(err, NL_EFORMAT, "tensor '%s': missing '%s'", name,
		    !have_dtype ? "dtype" : !have_shape ? "shape" : "data_offsets");
	if (nl_tinfo_size(&e->ti, NULL, &nbytes, err) < 0)
		return -1;
	if (nbytes != e->end - e->begin) {
		nl_tinfo_shape_str(&e->ti, shape, sizeof shape);
		return nl_err_set(err, NL_EFORMAT,
		    "tensor '%s': data_offsets [%llu,%llu] hold %llu bytes but %s %s needs %llu", name,
		    (unsigned long long)e->begin, (unsigned long long)e->end,
		    (unsigned long long)(e->end - e->begin), nl_dtype_name(e->ti.dtype), shape,
		    (unsigned long long)nbytes);
	}
	return 0;
}

static int
st_ent_cmp(const void *a, const void *b)
{
	const struct st_ent *x = a, *y = b;

	if (x->begin != y->begin)
		return x->begin < y->begin ? -1 : 1;
	if (x->end != y->end)
		return x->end < y->end ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Sorted by offset, the tensors must tile [0, last end) exactly, as the Rust crate demands. */
static int
st_check_layout(const struct st_ent *es, size_t n, struct nl_err *err)
{
	uint64_t pos = 0;

	for (size_t i = 0; i < n; i++) {
		if (es[i].begin > pos)
			return nl_err_set(err, NL_EFORMAT,
			    "tensor '%s': hole in the data before it (bytes %llu to %llu unused)",
			    es[i].ti.name, (unsigned long long)pos, (unsigned long long)es[i].begin);
		if (es[i].begin < pos)
			return nl_err_set(err, NL_EFORMAT, "tensor '%s': data overlaps tensor '%s'",
			    es[i].ti.name, es[i - 1].ti.name);
		pos = es[i].end;
	}
	return 0;
}

static int
st_read_data(struct nl_io *in, const struct st_ent *es, size_t n, struct nl_tset *ts,
    struct nl_err *err)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t nb = es[i].end - es[i].begin;
		if ((uint64_t)(size_t)nb != nb)
			return nl_err_set(err, NL_ENOMEM, "tensor '%s' does not fit in memory",
			    es[i].ti.name);
		void *data = malloc(nb ? (size_t)nb : 1);
		if (data == NULL)
			return nl_err_set(err, NL_ENOMEM, "out of memory for tensor '%s' (%llu bytes)",
			    es[i].ti.name, (unsigned long long)nb);
		if (nl_io_read_exact(in, data, (size_t)nb, err) < 0) {
			free(data);
			nl_err_prefix(err, "tensor '%s'", es[i].ti.name);
			return -1;
		}
		if (nl_tset_add_owned(ts, &es[i].ti, data, (size_t)nb, err) == NULL)
			return -1;
	}
	return 0;
}

/* The spec makes __metadata__ a str->str map; entries whose key or value nl metadata cannot
 * hold (upper case keys, values over 64 KiB) are dropped and recorded as
 * safetensors.skipped_count / safetensors.skipped_keys instead of failing the file. */
static int
st_read_meta(const struct nl_json *obj, struct nl_meta *m, struct nl_err *err)
{
	struct nl_meta_skips sk = { NULL, 0, 0 };

	if (obj->type != NL_JSON_OBJECT)
		return nl_err_set(err, NL_EFORMAT, "metadata is not a json object");
	for (size_t i = 0; i < obj->n; i++) {
		const struct nl_json *v = &obj->items[i];
		if (v->type != NL_JSON_STRING) {
			free(sk.names);
			return nl_err_set(err, NL_EFORMAT, "metadata value for key '%.64s' is not a string",
			    obj->keys[i]);
		}
		if (!nl_meta_key_valid(obj->keys[i]) || !nl_meta_value_valid(v->str, v->len))
			nl_meta_skips_note(&sk, obj->keys[i]);
		else if (nl_meta_add(m, obj->keys[i], v->str, err) < 0) {
			free(sk.names);
			return -1;
		}
	}
	return nl_meta_skips_record(&sk, m, "safetensors", err);
}

int
nl_fmt_safetensors_read(struct nl_io *in, struct nl_tset *ts, struct nl_err *err)
{
	unsigned char lenbuf[8], extra;
	uint64_t hlen;
	char *hdr = NULL;
	struct nl_json root;
	struct st_ent *es = NULL;
	size_t n = 0;
	ptrdiff_t r;
	int rc = -1;

	memset(&root, 0, sizeof root);
	if (nl_io_read_exact(in, lenbuf, sizeof lenbuf, err) < 0)
		return -1;
	hlen = nl_le64(lenbuf);
	if (hlen > ST_MAX_HEADER)
		return nl_err_set(err, NL_EFORMAT, "header length %llu exceeds %llu bytes",
		    (unsigned long long)hlen, (unsigned long long)ST_MAX_HEADER);
	if (st_read_header(in, hlen, &hdr, err) < 0)
		return -1;
	if (nl_json_parse(hdr, (size_t)hlen, &root, err) < 0) {
		nl_err_prefix(err, "header");
		goto out;
	}
	if (root.type != NL_JSON_OBJECT) {
		nl_err_set(err, NL_EFORMAT, "header is not a json object");
		goto out;
	}
	es = malloc((root.n ? root.n : 1) * sizeof *es);
	if (es == NULL) {
		nl_err_set(err, NL_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < root.n; i++) {
		if (strcmp(root.keys[i], "__metadata__") == 0) {
			if (st_read_meta(&root.items[i], &ts->meta, err) < 0) {
				nl_err_prefix(err, "__metadata__");
				goto out;
			}
			continue;
		}
		if (st_parse_entry(root.keys[i], &root.items[i], &es[n], err) < 0)
			goto out;
		es[n].idx = i;
		n++;
	}
	/* the header is no longer needed; free it before the data arrives */
	nl_json_free(&root);
	free(hdr);
	hdr = NULL;
	qsort(es, n, sizeof *es, st_ent_cmp);
	if (st_check_layout(es, n, err) < 0 || st_read_data(in, es, n, ts, err) < 0)
		goto out;
	/* the data region is exactly the tensors: nothing may follow the last one */
	r = nl_io_read(in, &extra, 1, err);
	if (r < 0)
		goto out;
	if (r > 0) {
		nl_err_set(err, NL_EFORMAT, "trailing data after the last tensor");
		goto out;
	}
	rc = 0;
out:
	nl_json_free(&root);
	free(hdr);
	free(es);
	return rc;
}

/* The JSON header, space-padded so that 8 + its length is a multiple of 8. */
static char *
st_build_header(const struct nl_tset *ts, size_t *len, struct nl_err *err)
{
	char *buf = NULL, num[64];
	size_t used = 0, cap = 0;
	uint64_t off = 0;
	int first = 1;

	if (nl_json_put_raw(&buf, &used, &cap, "{", err) < 0)
		goto fail;
	if (ts->meta.n > 0) {
		char *m = nl_json_meta_encode(&ts->meta, NULL, err);
		if (m == NULL)
			goto fail;
		int bad = nl_json_put_raw(&buf, &used, &cap, "\"__metadata__\":", err) < 0 ||
		    nl_json_put_raw(&buf, &used, &cap, m, err) < 0;
		free(m);
		if (bad)
			goto fail;
		first = 0;
	}
	for (size_t i = 0; i < ts->n; i++) {
		const struct nl_tensor *t = &ts->t[i];
		uint64_t nbytes;
		if (strcmp(t->info.name, "__metadata__") == 0) {
			nl_err_set(err, NL_EUNSUPPORTED,
			    "tensor '__metadata__': the name is reserved in safetensors");
			goto fail;
		}
		if (nl_tinfo_size(&t->info, NULL, &nbytes, err) < 0)
			goto fail;
		if (nbytes != t->nbytes) {
			nl_err_set(err, NL_EFORMAT, "tensor '%s': %zu bytes of data for a shape of %llu",
			    t->info.name, t->nbytes, (unsigned long long)nbytes);
			goto fail;
		}
		if ((!first && nl_json_put_raw(&buf, &used, &cap, ",", err) < 0) ||
		    nl_json_put_string(&buf, &used, &cap, t->info.name, strlen(t->info.name), err) < 0 ||
		    nl_json_put_raw(&buf, &used, &cap, ":{\"dtype\":", err) < 0 ||
		    nl_json_put_string(&buf, &used, &cap, nl_dtype_name(t->info.dtype),
			strlen(nl_dtype_name(t->info.dtype)), err) < 0 ||
		    nl_json_put_raw(&buf, &used, &cap, ",\"shape\":[", err) < 0)
			goto fail;
		first = 0;
		for (int d = 0; d < t->info.rank; d++) {
			snprintf(num, sizeof num, "%s%llu", d ? "," : "",
			    (unsigned long long)t->info.dims[d]);
			if (nl_json_put_raw(&buf, &used, &cap, num, err) < 0)
				goto fail;
		}
		snprintf(num, sizeof num, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)off,
		    (unsigned long long)(off + nbytes));
		if (nl_json_put_raw(&buf, &used, &cap, num, err) < 0)
			goto fail;
		off += nbytes; /* each term is below 2^48 and each one is in memory */
	}
	if (nl_json_put_raw(&buf, &used, &cap, "}", err) < 0)
		goto fail;
	while (used % ST_ALIGN != 0)
		if (nl_json_put_raw(&buf, &used, &cap, " ", err) < 0)
			goto fail;
	*len = used;
	return buf;
fail:
	free(buf);
	return NULL;
}

int
nl_fmt_safetensors_write(struct nl_io *out, const struct nl_tset *ts, struct nl_err *err)
{
	unsigned char lenbuf[8];
	size_t hlen;
	char *hdr = st_build_header(ts, &hlen, err);
	int rc;

	if (hdr == NULL)
		return -1;
	if ((uint64_t)hlen > ST_MAX_HEADER) {
		free(hdr);
		return nl_err_set(err, NL_ERANGE, "header of %zu bytes exceeds %llu", hlen,
		    (unsigned long long)ST_MAX_HEADER);
	}
	nl_put64(lenbuf, (uint64_t)hlen);
	rc = nl_io_write(out, lenbuf, sizeof lenbuf, err);
	if (rc == 0)
		rc = nl_io_write(out, hdr, hlen, err);
	free(hdr);
	for (size_t i = 0; rc == 0 && i < ts->n; i++)
		if (ts->t[i].nbytes > 0)
			rc = nl_io_write(out, ts->t[i].data, ts->t[i].nbytes, err);
	return rc;
}
