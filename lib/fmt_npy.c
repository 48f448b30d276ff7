/* nl — see LICENSE. NumPy .npy: writes format 1.0 byte for byte as numpy.save does; reads
 * 1.0, 2.0 and 3.0 with a hand-written parser for the header dict literal.
 *
 * Reader decisions: big-endian ('>') arrays are byte-swapped to little-endian; Fortran-order
 * arrays are transposed to C order (same shape, same values as numpy.load shows them). */
#include "formats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_LEN 6
#define NPY_ALIGN 64          /* numpy's ARRAY_ALIGN */
#define NPY_GROWTH_DIGITS 21  /* numpy's GROWTH_AXIS_MAX_DIGITS: room to grow dims[0] in place */
#define NPY_MAX_HEADER (1u << 20)

/* descr as numpy writes it, indexed by dtype code; NULL = no numpy type */
static const char *const npy_descr_out[NL_DTYPE_MAX + 1] = {
	[NL_DTYPE_F32] = "<f4", [NL_DTYPE_F64] = "<f8", [NL_DTYPE_F16] = "<f2",
	[NL_DTYPE_I8] = "|i1", [NL_DTYPE_U8] = "|u1", [NL_DTYPE_I16] = "<i2",
	[NL_DTYPE_U16] = "<u2", [NL_DTYPE_I32] = "<i4", [NL_DTYPE_U32] = "<u4",
	[NL_DTYPE_I64] = "<i8", [NL_DTYPE_U64] = "<u8", [NL_DTYPE_BOOL] = "|b1",
};

/* kind letter and size for reading; byte order is parsed separately */
static const struct {
	char kind;
	unsigned size;
	enum nl_dtype dtype;
} npy_types[] = {
	{ 'f', 2, NL_DTYPE_F16 }, { 'f', 4, NL_DTYPE_F32 }, { 'f', 8, NL_DTYPE_F64 },
	{ 'i', 1, NL_DTYPE_I8 }, { 'u', 1, NL_DTYPE_U8 }, { 'i', 2, NL_DTYPE_I16 },
	{ 'u', 2, NL_DTYPE_U16 }, { 'i', 4, NL_DTYPE_I32 }, { 'u', 4, NL_DTYPE_U32 },
	{ 'i', 8, NL_DTYPE_I64 }, { 'u', 8, NL_DTYPE_U64 }, { 'b', 1, NL_DTYPE_BOOL },
};

/* The parsed header. */
struct npy_hdr {
	enum nl_dtype dtype;
	int swap;       /* big-endian multi-byte elements */
	int fortran;
	int rank;
	uint64_t dims[NL_MAX_RANK];
};

struct npy_parser {
	const char *start, *p, *end;
	int major;      /* Python 2 era files (1.x, 2.x) may carry 'L' after integers */
	struct nl_err *err;
};

static int
npy_syntax(struct npy_parser *ps, const char *what)
{
	if (ps->p >= ps->end)
		return nl_err_set(ps->err, NL_EFORMAT, "npy header: unterminated dict");
	return nl_err_set(ps->err, NL_EFORMAT, "npy header: %s at offset %zu", what,
	    (size_t)(ps->p - ps->start));
}

static void
npy_skip_ws(struct npy_parser *ps)
{
	while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' ||
	    *ps->p == '\r' || *ps->p == '\f' || *ps->p == '\v'))
		ps->p++;
}

/* Expect character c after optional whitespace. */
static int
npy_expect(struct npy_parser *ps, char c, const char *what)
{
	npy_skip_ws(ps);
	if (ps->p >= ps->end || *ps->p != c)
		return npy_syntax(ps, what);
	ps->p++;
	return 0;
}

/* A Python string literal without escapes or prefixes (numpy never writes either). */
static int
npy_parse_str(struct npy_parser *ps, char *out, size_t cap)
{
	size_t n = 0;

	npy_skip_ws(ps);
	if (ps->p >= ps->end || (*ps->p != '\'' && *ps->p != '"'))
		return npy_syntax(ps, "expected a string");
	char q = *ps->p++;
	for (;;) {
		if (ps->p >= ps->end)
			return npy_syntax(ps, "unterminated string");
		char c = *ps->p++;
		if (c == q)
			break;
		if (c == '\\' || c == '\n')
			return npy_syntax(ps, "unsupported character in string");
		if (n + 1 >= cap)
			return npy_syntax(ps, "string too long");
		out[n++] = c;
	}
	out[n] = '\0';
	return 0;
}

/* True or False. */
static int
npy_parse_bool(struct npy_parser *ps, int *out)
{
	npy_skip_ws(ps);
	size_t left = (size_t)(ps->end - ps->p);
	if (left >= 4 && memcmp(ps->p, "True", 4) == 0)
		*out = 1, ps->p += 4;
	else if (left >= 5 && memcmp(ps->p, "False", 5) == 0)
		*out = 0, ps->p += 5;
	else
		return npy_syntax(ps, "fortran_order is not True or False");
	/* "Truex" is a name, not True */
	if (ps->p < ps->end && (*ps->p == '_' || (*ps->p >= 'a' && *ps->p <= 'z') ||
	    (*ps->p >= 'A' && *ps->p <= 'Z') || (*ps->p >= '0' && *ps->p <= '9')))
		return npy_syntax(ps, "fortran_order is not True or False");
	return 0;
}

/* A non-negative decimal integer as Python writes it (no leading zeros). */
static int
npy_parse_dim(struct npy_parser *ps, uint64_t *out)
{
	const char *start = ps->p;
	uint64_t v = 0;

	while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') {
		unsigned d = (unsigned)(*ps->p - '0');
		if (v > (UINT64_MAX - d) / 10)
			return nl_err_set(ps->err, NL_ERANGE, "npy header: dimension too large");
		v = v * 10 + d;
		ps->p++;
	}
	if (ps->p == start)
		return npy_syntax(ps, "bad shape");
	if (*start == '0' && ps->p - start > 1)
		return npy_syntax(ps, "bad integer in shape");
	if (ps->major <= 2 && ps->p < ps->end && *ps->p == 'L')
		ps->p++;
	*out = v;
	return 0;
}

/* A tuple of dimensions: (), (5,), (2, 3), (2, 3,). */
static int
npy_parse_shape(struct npy_parser *ps, struct npy_hdr *h)
{
	int n = 0, comma = 0;

	if (npy_expect(ps, '(', "shape is not a tuple") < 0)
		return -1;
	for (;;) {
		uint64_t d = 0;

		npy_skip_ws(ps);
		if (ps->p < ps->end && *ps->p == ')')
			break;
		if (npy_parse_dim(ps, &d) < 0)
			return -1;
		if (n < NL_MAX_RANK)
			h->dims[n] = d;
		n++;
		comma = 0;
		npy_skip_ws(ps);
		if (ps->p < ps->end && *ps->p == ',') {
			ps->p++;
			comma = 1;
			continue;
		}
		if (ps->p < ps->end && *ps->p == ')')
			break;
		return npy_syntax(ps, "expected ',' or ')' in shape");
	}
	ps->p++;
	/* (5) is the integer 5 in Python, not a tuple */
	if (n == 1 && !comma)
		return npy_syntax(ps, "shape is not a tuple");
	if (n > NL_MAX_RANK)
		return nl_err_set(ps->err, NL_EUNSUPPORTED, "npy array of rank %d exceeds %d", n,
		    NL_MAX_RANK);
	h->rank = n;
	return 0;
}

/* '<f4' and friends to a dtype. */
static int
npy_map_descr(const char *descr, struct npy_hdr *h, struct nl_err *err)
{
	const char *d = descr;
	char order = '=';
	unsigned size = 0;

	if (*d == '<' || *d == '>' || *d == '|' || *d == '=')
		order = *d++;
	if (d[0] == 'O')
		return nl_err_set(err, NL_EUNSUPPORTED, "npy object arrays are not supported");
	if (d[0] != '\0' && d[1] >= '1' && d[1] <= '9') {
		const char *q = d + 1;
		while (*q >= '0' && *q <= '9' && size < 1000)
			size = size * 10 + (unsigned)(*q++ - '0');
		if (*q != '\0')
			size = 0;
	}
	for (size_t i = 0; i < sizeof npy_types / sizeof npy_types[0]; i++)
		if (npy_types[i].kind == d[0] && npy_types[i].size == size) {
			h->dtype = npy_types[i].dtype;
			h->swap = order == '>' && size > 1;
			return 0;
		}
	return nl_err_set(err, NL_EUNSUPPORTED, "npy dtype '%.32s' is not supported", descr);
}

static int
npy_parse_header(const char *text, size_t len, int major, struct npy_hdr *h, struct nl_err *err)
{
	struct npy_parser ps = { text, text, text + len, major, err };
	int seen_descr = 0, seen_fortran = 0, seen_shape = 0;
	char key[32], descr[64];

	memset(h, 0, sizeof *h);
	if (npy_expect(&ps, '{', "header is not a dict") < 0)
		return -1;
	for (;;) {
		npy_skip_ws(&ps);
		if (ps.p < ps.end && *ps.p == '}')
			break;
		if (npy_parse_str(&ps, key, sizeof key) < 0)
			return -1;
		if (npy_expect(&ps, ':', "expected ':'") < 0)
			return -1;
		npy_skip_ws(&ps);
		if (strcmp(key, "descr") == 0) {
			if (seen_descr++)
				return nl_err_set(err, NL_EFORMAT,
				    "npy header: duplicate key 'descr'");
			if (ps.p < ps.end && *ps.p == '[')
				return nl_err_set(err, NL_EUNSUPPORTED,
				    "npy structured dtypes are not supported");
			if (npy_parse_str(&ps, descr, sizeof descr) < 0)
				return -1;
		} else if (strcmp(key, "fortran_order") == 0) {
			if (seen_fortran++)
				return nl_err_set(err, NL_EFORMAT,
				    "npy header: duplicate key 'fortran_order'");
			if (npy_parse_bool(&ps, &h->fortran) < 0)
				return -1;
		} else if (strcmp(key, "shape") == 0) {
			if (seen_shape++)
				return nl_err_set(err, NL_EFORMAT,
				    "npy header: duplicate key 'shape'");
			if (npy_parse_shape(&ps, h) < 0)
				return -1;
		} else {
			return nl_err_set(err, NL_EFORMAT, "npy header: unexpected key '%s'", key);
		}
		npy_skip_ws(&ps);
		if (ps.p < ps.end && *ps.p == ',') {
			ps.p++;
			continue;
		}
		if (ps.p < ps.end && *ps.p == '}')
			break;
		return npy_syntax(&ps, "expected ',' or '}'");
	}
	ps.p++;
	npy_skip_ws(&ps);
	if (ps.p != ps.end)
		return nl_err_set(err, NL_EFORMAT, "npy header: unexpected text after the dict");
	if (!seen_descr)
		return nl_err_set(err, NL_EFORMAT, "npy header: missing key 'descr'");
	if (!seen_fortran)
		return nl_err_set(err, NL_EFORMAT, "npy header: missing key 'fortran_order'");
	if (!seen_shape)
		return nl_err_set(err, NL_EFORMAT, "npy header: missing key 'shape'");
	return npy_map_descr(descr, h, err);
}

static void
npy_swap(unsigned char *p, size_t es, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++, p += es)
		for (size_t a = 0, b = es - 1; a < b; a++, b--) {
			unsigned char c = p[a];
			p[a] = p[b];
			p[b] = c;
		}
}

/* Fortran order (first index fastest) to C order: walk the C index like an odometer and
 * keep the matching Fortran offset alongside. */
static void
npy_transpose(unsigned char *dst, const unsigned char *src, size_t es, const struct npy_hdr *h,
    uint64_t numel)
{
	uint64_t stride[NL_MAX_RANK], idx[NL_MAX_RANK] = { 0 }, off = 0;
	int r = h->rank;

	stride[0] = 1;
	for (int k = 1; k < r; k++)
		stride[k] = stride[k - 1] * h->dims[k - 1];
	for (uint64_t i = 0; i < numel; i++) {
		memcpy(dst + i * es, src + off * es, es);
		for (int k = r - 1; k >= 0; k--) {
			off += stride[k];
			if (++idx[k] < h->dims[k])
				break;
			off -= stride[k] * h->dims[k];
			idx[k] = 0;
		}
	}
}

int
nl_fmt_npy_read(struct nl_io *in, const char *name, struct nl_tset *ts, struct nl_err *err)
{
	unsigned char pre[12];
	struct npy_hdr h;
	struct nl_tinfo ti;
	uint64_t numel, nbytes;
	size_t hlen, plen;
	const unsigned char *peek;
	size_t got;

	if (strlen(name) > NL_MAX_NAME)
		return nl_err_set(err, NL_EFORMAT, "tensor name '%.64s...' is longer than %d bytes",
		    name, NL_MAX_NAME);
	if (nl_io_read_exact(in, pre, NPY_MAGIC_LEN + 2, err) < 0)
		return -1;
	if (memcmp(pre, NPY_MAGIC, NPY_MAGIC_LEN) != 0)
		return nl_err_set(err, NL_EFORMAT, "not an npy file (bad magic)");
	int major = pre[6], minor = pre[7];
	if (major < 1 || major > 3 || minor != 0)
		return nl_err_set(err, NL_EUNSUPPORTED, "npy format version %d.%d is not supported",
		    major, minor);
	plen = major == 1 ? 2 : 4;
	if (nl_io_read_exact(in, pre + 8, plen, err) < 0)
		return -1;
	hlen = major == 1 ? nl_le16(pre + 8) : nl_le32(pre + 8);
	if (hlen > NPY_MAX_HEADER)
		return nl_err_set(err, NL_ERANGE, "npy header of %zu bytes exceeds %u", hlen,
		    NPY_MAX_HEADER);
	char *text = malloc(hlen ? hlen : 1);
	if (text == NULL)
		return nl_err_set(err, NL_ENOMEM, "out of memory");
	if (nl_io_read_exact(in, text, hlen, err) < 0 ||
	    npy_parse_header(text, hlen, major, &h, err) < 0) {
		free(text);
		return -1;
	}
	free(text);

	memset(&ti, 0, sizeof ti);
	memcpy(ti.name, name, strlen(name) + 1);
	ti.dtype = h.dtype;
	ti.rank = h.rank;
	memcpy(ti.dims, h.dims, sizeof h.dims);
	if (nl_tinfo_size(&ti, &numel, &nbytes, err) < 0)
		return -1;
	if ((uint64_t)(size_t)nbytes != nbytes)
		return nl_err_set(err, NL_ENOMEM, "tensor '%s' does not fit in memory", name);
	size_t es = nl_dtype_size(ti.dtype);
	unsigned char *data = malloc(nbytes ? (size_t)nbytes : 1);
	if (data == NULL)
		return nl_err_set(err, NL_ENOMEM, "out of memory for tensor '%s' (%llu bytes)",
		    name, (unsigned long long)nbytes);
	if (nl_io_read_exact(in, data, (size_t)nbytes, err) < 0)
		goto fail;
	/* a file is one array: anything after it is corruption, not padding */
	if (nl_io_peek(in, &peek, 1, &got, err) < 0)
		goto fail;
	if (got > 0) {
		nl_err_set(err, NL_EFORMAT, "trailing data after the npy array");
		goto fail;
	}
	if (ti.dtype == NL_DTYPE_BOOL)
		for (size_t i = 0; i < (size_t)nbytes; i++)
			if (data[i] > 1) {
				nl_err_set(err, NL_EFORMAT,
				    "npy bool array holds a byte other than 0 or 1");
				goto fail;
			}
	if (h.swap)
		npy_swap(data, es, numel);
	if (h.fortran && h.rank > 1 && numel > 1) {
		unsigned char *c = malloc((size_t)nbytes);
		if (c == NULL) {
			nl_err_set(err, NL_ENOMEM, "out of memory for tensor '%s' (%llu bytes)",
			    name, (unsigned long long)nbytes);
			goto fail;
		}
		npy_transpose(c, data, es, &h, numel);
		free(data);
		data = c;
	}
	return nl_tset_add_owned(ts, &ti, data, (size_t)nbytes, err) ? 0 : -1;
fail:
	free(data);
	return -1;
}

int
nl_fmt_npy_write(struct nl_io *out, const struct nl_tensor *t, struct nl_err *err)
{
	const struct nl_tinfo *ti = &t->info;
	char dict[512], pre[640];
	uint64_t nbytes;
	size_t n, hlen, pad, plen;

	if (ti->dtype == NL_DTYPE_BF16)
		return nl_err_set(err, NL_EUNSUPPORTED,
		    "tensor '%s': dtype BF16 has no numpy type (convert to F32 first)", ti->name);
	if (nl_tinfo_size(ti, NULL, &nbytes, err) < 0)
		return -1;
	if (nbytes != t->nbytes)
		return nl_err_set(err, NL_EFORMAT,
		    "tensor '%s': %zu bytes of data for a shape of %llu", ti->name, t->nbytes,
		    (unsigned long long)nbytes);
	/* the dict exactly as numpy's _write_array_header prints it: keys sorted, repr values */
	n = (size_t)snprintf(dict, sizeof dict,
	    "{'descr': '%s', 'fortran_order': False, 'shape': (", npy_descr_out[ti->dtype]);
	for (int i = 0; i < ti->rank; i++)
		n += (size_t)snprintf(dict + n, sizeof dict - n, "%s%llu", i ? ", " : "",
		    (unsigned long long)ti->dims[i]);
	n += (size_t)snprintf(dict + n, sizeof dict - n, "%s), }", ti->rank == 1 ? "," : "");
	if (ti->rank > 0) {
		char d0[24];
		int w = snprintf(d0, sizeof d0, "%llu", (unsigned long long)ti->dims[0]);
		for (; w < NPY_GROWTH_DIGITS; w++)
			dict[n++] = ' ';
	}
	/* version 1.0 has a u16 length; numpy switches to 2.0 only when that overflows */
	plen = NPY_MAGIC_LEN + 2 + 2;
	hlen = n + 1;
	pad = NPY_ALIGN - (plen + hlen) % NPY_ALIGN;
	if (hlen + pad > 0xFFFF) {
		plen += 2;
		pad = NPY_ALIGN - (plen + hlen) % NPY_ALIGN;
	}
	memcpy(pre, NPY_MAGIC, NPY_MAGIC_LEN);
	pre[6] = plen == 10 ? 1 : 2;
	pre[7] = 0;
	if (plen == 10)
		nl_put16((unsigned char *)pre + 8, (uint16_t)(hlen + pad));
	else
		nl_put32((unsigned char *)pre + 8, (uint32_t)(hlen + pad));
	memcpy(pre + plen, dict, n);
	memset(pre + plen + n, ' ', pad);
	pre[plen + n + pad] = '\n';
	if (nl_io_write(out, pre, plen + n + pad + 1, err) < 0)
		return -1;
	if (nbytes > 0 && nl_io_write(out, t->data, (size_t)nbytes, err) < 0)
		return -1;
	return 0;
}
