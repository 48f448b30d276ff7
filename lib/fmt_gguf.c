/* nl — see LICENSE. GGUF interchange for nl-convert: version 3 written, versions 2 and 3 read.
 *
 * Tensors. GGUF lists dimensions innermost first (ne[0] is the contiguous one), the reverse
 * of our C order, so dims are reversed both ways. Element types map one to one where GGUF
 * has them (F32 F16 BF16 F64 I8 I16 I32 I64); U8..U64 and BOOL tensors cannot be written
 * and quantized GGUF types cannot be read (dequantizing would not survive a round trip).
 * A rank-0 tensor is written with n_dims = 0: ggml's reader fills absent dims with 1 and
 * gguf-py reads it as shape (), so a scalar stays a scalar. Ranks 5..8 are written too:
 * gguf-py reads them, ggml itself loads at most 4 dimensions.
 *
 * Metadata. The writer emits each nl meta entry as a STRING KV, in key order, and nothing
 * else; general.alignment is not written (the default 32 applies) and a meta entry of that
 * name is refused, because GGUF readers insist that it is a u32. The reader renders every
 * KV as text: strings as they are, integers in decimal, f32 as %.9g and f64 as %.17g (both
 * round trip), bools as true/false, arrays of those comma-separated ("1,2,3"). A KV whose
 * key is not a valid nl key, or whose text is not a valid nl value (bad UTF-8, NUL, over
 * 64 KiB, nested arrays), is dropped but not silently: gguf.skipped_count is set to how
 * many were dropped and gguf.skipped_keys to their names, comma-separated (a name that is
 * not valid text, or that no longer fits in 64 KiB, is counted but left out of the list).
 * general.alignment is consumed, not copied, so nlt -> gguf -> nlt is byte identical.
 *
 * Streams. The input is read forward only, so pipes work: header, KVs and tensor infos,
 * then the data in offset order. Tensors enter the set in offset order, which is the
 * writer's order. Padding after the last tensor is optional in the spec and is not read.
 */
#include "formats.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GGUF_VERSION 3
#define GGUF_ALIGNMENT 32
#define GGUF_MAX_TENSORS (UINT64_C(1) << 20)
#define GGUF_MAX_KVS (UINT64_C(1) << 20)
#define GGUF_MAX_KEY 65535                      /* the spec's limit on key length */
#define GGUF_MAX_STRING (UINT64_C(1) << 30)
#define GGUF_MAX_ARRAY (UINT64_C(1) << 30)
#define GGUF_MAX_NESTING 4
#define GGUF_MAX_OFFSET (UINT64_C(1) << 62)
#define GGUF_CHUNK ((size_t)16 << 20)          /* tensor buffers grow by this as data arrives */

enum gguf_vtype {
	GGUF_U8, GGUF_I8, GGUF_U16, GGUF_I16, GGUF_U32, GGUF_I32, GGUF_F32, GGUF_BOOL,
	GGUF_STRING, GGUF_ARRAY, GGUF_U64, GGUF_I64, GGUF_F64, GGUF_NVTYPES
};

/* Bytes of the fixed-size value types; 0 for STRING and ARRAY. */
static const unsigned char gguf_vsize[GGUF_NVTYPES] = { 1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8 };

/* ggml_type codes of the element types both sides have (gguf-py GGMLQuantizationType). */
static const struct {
	enum nl_dtype dtype;
	uint32_t ggml;
} gguf_dtypes[] = {
	{ NL_DTYPE_F32, 0 }, { NL_DTYPE_F16, 1 }, { NL_DTYPE_I8, 24 }, { NL_DTYPE_I16, 25 },
	{ NL_DTYPE_I32, 26 }, { NL_DTYPE_I64, 27 }, { NL_DTYPE_F64, 28 }, { NL_DTYPE_BF16, 30 },
};

/* Names of the other ggml types, only for messages (removed ones keep their old names). */
static const char *const gguf_type_names[] = {
	"F32", "F16", "Q4_0", "Q4_1", "Q4_2", "Q4_3", "Q5_0", "Q5_1", "Q8_0", "Q8_1",
	"Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "Q8_K", "IQ2_XXS", "IQ2_XS", "IQ3_XXS", "IQ1_S",
	"IQ4_NL", "IQ3_S", "IQ2_S", "IQ4_XS", "I8", "I16", "I32", "I64", "F64", "IQ1_M",
	"BF16", "Q4_0_4_4", "Q4_0_4_8", "Q4_0_8_8", "TQ1_0", "TQ2_0", "IQ4_NL_4_4", "IQ4_NL_4_8",
	"IQ4_NL_8_8", "MXFP4", "NVFP4", "Q1_0",
};

static int
gguf_from_dtype(enum nl_dtype dtype, uint32_t *ggml)
{
	for (size_t i = 0; i < sizeof gguf_dtypes / sizeof gguf_dtypes[0]; i++)
		if (gguf_dtypes[i].dtype == dtype) {
			*ggml = gguf_dtypes[i].ggml;
			return 0;
		}
	return -1;
}

static enum nl_dtype
gguf_to_dtype(uint32_t ggml)
{
	for (size_t i = 0; i < sizeof gguf_dtypes / sizeof gguf_dtypes[0]; i++)
		if (gguf_dtypes[i].ggml == ggml)
			return gguf_dtypes[i].dtype;
	return NL_DTYPE_INVALID;
}

static uint64_t
gguf_pad(uint64_t x, uint64_t align)
{
	return (align - x % align) % align;
}

/* A copy of s safe to put in a message: anything but printable ASCII (all that GGUF keys
 * may hold) becomes '?', long text is cut. */
static const char *
gguf_show(const char *s, char *buf, size_t size)
{
	size_t i;

	for (i = 0; s[i] != '\0' && i + 1 < size; i++)
		buf[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
	buf[i] = '\0';
	return buf;
}

/* ---- writer ---- */

struct gguf_wr {
	struct nl_io *out;
	uint64_t pos;   /* bytes written since the magic, for the alignment of the data */
	struct nl_err *err;
};

static int
wr_bytes(struct gguf_wr *w, const void *p, size_t n)
{
	if (n == 0)
		return 0;
	w->pos += n;
	return nl_io_write(w->out, p, n, w->err);
}

static int
wr_u32(struct gguf_wr *w, uint32_t v)
{
	unsigned char b[4];

	nl_put32(b, v);
	return wr_bytes(w, b, sizeof b);
}

static int
wr_u64(struct gguf_wr *w, uint64_t v)
{
	unsigned char b[8];

	nl_put64(b, v);
	return wr_bytes(w, b, sizeof b);
}

static int
wr_str(struct gguf_wr *w, const char *s)
{
	size_t n = strlen(s);

	if (wr_u64(w, n) < 0)
		return -1;
	return wr_bytes(w, s, n);
}

static int
wr_zeros(struct gguf_wr *w, uint64_t n)
{
	static const unsigned char zeros[GGUF_ALIGNMENT];

	return wr_bytes(w, zeros, (size_t)n);
}

int
nl_fmt_gguf_write(struct nl_io *out, const struct nl_tset *ts, struct nl_err *err)
{
	struct gguf_wr w = { out, 0, err };
	uint64_t off = 0;

	/* everything is checked before the first byte goes out */
	if (nl_meta_get(&ts->meta, "general.alignment") != NULL)
		return nl_err_set(err, NL_EUNSUPPORTED,
		    "metadata key 'general.alignment' is reserved by GGUF");
	for (size_t i = 0; i < ts->n; i++) {
		const struct nl_tensor *t = &ts->t[i];
		uint32_t type;
		uint64_t nbytes;

		if (gguf_from_dtype(t->info.dtype, &type) < 0)
			return nl_err_set(err, NL_EUNSUPPORTED, "tensor '%s': dtype %s has no GGUF type",
			    t->info.name, nl_dtype_name(t->info.dtype));
		if (nl_tinfo_size(&t->info, NULL, &nbytes, err) < 0)
			return -1;
		if (nbytes != t->nbytes)
			return nl_err_set(err, NL_EFORMAT, "tensor '%s': %zu bytes of data for a shape of %"
			    PRIu64, t->info.name, t->nbytes, nbytes);
	}

	if (wr_bytes(&w, "GGUF", 4) < 0 || wr_u32(&w, GGUF_VERSION) < 0 ||
	    wr_u64(&w, ts->n) < 0 || wr_u64(&w, ts->meta.n) < 0)
		return -1;
	/* nl_meta keeps its keys sorted, so the KVs come out in key order */
	for (size_t i = 0; i < ts->meta.n; i++)
		if (wr_str(&w, ts->meta.keys[i]) < 0 || wr_u32(&w, GGUF_STRING) < 0 ||
		    wr_str(&w, ts->meta.vals[i]) < 0)
			return -1;
	for (size_t i = 0; i < ts->n; i++) {
		const struct nl_tensor *t = &ts->t[i];
		uint32_t type = 0;

		gguf_from_dtype(t->info.dtype, &type);
		/* rank 0 is n_dims 0 (see the top); dims go innermost first */
		if (wr_str(&w, t->info.name) < 0 || wr_u32(&w, (uint32_t)t->info.rank) < 0)
			return -1;
		for (int d = t->info.rank - 1; d >= 0; d--)
			if (wr_u64(&w, t->info.dims[d]) < 0)
				return -1;
		if (wr_u32(&w, type) < 0 || wr_u64(&w, off) < 0)
			return -1;
		off += t->nbytes + gguf_pad(t->nbytes, GGUF_ALIGNMENT);
	}
	if (wr_zeros(&w, gguf_pad(w.pos, GGUF_ALIGNMENT)) < 0)
		return -1;
	/* every tensor is padded, the last one too, as ggml and gguf-py do */
	for (size_t i = 0; i < ts->n; i++) {
		const struct nl_tensor *t = &ts->t[i];

		if (wr_bytes(&w, t->data, t->nbytes) < 0 ||
		    wr_zeros(&w, gguf_pad(t->nbytes, GGUF_ALIGNMENT)) < 0)
			return -1;
	}
	return 0;
}

/* ---- reader ---- */

struct gguf_rd {
	struct nl_io *in;
	uint64_t pos;   /* bytes consumed since the magic, for the alignment of the data */
	struct nl_err *err;
};

static int
rd_bytes(struct gguf_rd *r, void *p, size_t n)
{
	if (nl_io_read_exact(r->in, p, n, r->err) < 0)
		return -1;
	r->pos += n;
	return 0;
}

static int
rd_u32(struct gguf_rd *r, uint32_t *v)
{
	unsigned char b[4];

	if (rd_bytes(r, b, sizeof b) < 0)
		return -1;
	*v = nl_le32(b);
	return 0;
}

static int
rd_u64(struct gguf_rd *r, uint64_t *v)
{
	unsigned char b[8];

	if (rd_bytes(r, b, sizeof b) < 0)
		return -1;
	*v = nl_le64(b);
	return 0;
}

static int
rd_skip(struct gguf_rd *r, uint64_t n)
{
	if (nl_io_skip(r->in, n, r->err) < 0)
		return -1;
	r->pos += n;
	return 0;
}

/* Text of one KV value, built in a buffer of NL_META_MAX_VALUE + 1 bytes; bad once the
 * value cannot become an nl meta value (too long, nested arrays). */
struct gguf_text {
	char *s;
	size_t len;
	int bad;
};

static void
text_add(struct gguf_text *t, const char *s, size_t n)
{
	if (t->bad)
		return;
	if (n > NL_META_MAX_VALUE - t->len) {
		t->bad = 1;
		return;
	}
	memcpy(t->s + t->len, s, n);
	t->len += n;
}

/* Read one value of the scalar type vt (STRING included) and append its text. */
static int
gguf_read_scalar(struct gguf_rd *r, uint32_t vt, struct gguf_text *t, const char *key)
{
	unsigned char b[8];
	char num[64], show[80];
	int n = 0;

	if (vt == GGUF_STRING) {
		uint64_t len;

		if (rd_u64(r, &len) < 0)
			return -1;
		if (len > GGUF_MAX_STRING)
			return nl_err_set(r->err, NL_ERANGE, "key '%s': GGUF string of %" PRIu64
			    " bytes exceeds 2^30", gguf_show(key, show, sizeof show), len);
		if (t->bad || len > NL_META_MAX_VALUE - t->len) {
			t->bad = 1;
			return rd_skip(r, len);
		}
		if (rd_bytes(r, t->s + t->len, (size_t)len) < 0)
			return -1;
		t->len += (size_t)len;
		return 0;
	}
	if (rd_bytes(r, b, gguf_vsize[vt]) < 0)
		return -1;
	switch (vt) {
	case GGUF_U8:
		n = snprintf(num, sizeof num, "%u", (unsigned)b[0]);
		break;
	case GGUF_I8: {
		int8_t v;
		memcpy(&v, b, 1);
		n = snprintf(num, sizeof num, "%d", (int)v);
		break;
	}
	case GGUF_U16:
		n = snprintf(num, sizeof num, "%u", (unsigned)nl_le16(b));
		break;
	case GGUF_I16: {
		uint16_t u = nl_le16(b);
		int16_t v;
		memcpy(&v, &u, sizeof v);
		n = snprintf(num, sizeof num, "%d", (int)v);
		break;
	}
	case GGUF_U32:
		n = snprintf(num, sizeof num, "%" PRIu32, nl_le32(b));
		break;
	case GGUF_I32: {
		uint32_t u = nl_le32(b);
		int32_t v;
		memcpy(&v, &u, sizeof v);
		n = snprintf(num, sizeof num, "%" PRId32, v);
		break;
	}
	case GGUF_F32: {
		uint32_t u = nl_le32(b);
		float v;
		memcpy(&v, &u, sizeof v);
		n = snprintf(num, sizeof num, "%.9g", (double)v);
		break;
	}
	case GGUF_BOOL:
		if (b[0] > 1)
			return nl_err_set(r->err, NL_EFORMAT, "key '%s': bad GGUF bool value %u",
			    gguf_show(key, show, sizeof show), (unsigned)b[0]);
		n = snprintf(num, sizeof num, "%s", b[0] ? "true" : "false");
		break;
	case GGUF_U64:
		n = snprintf(num, sizeof num, "%" PRIu64, nl_le64(b));
		break;
	case GGUF_I64: {
		uint64_t u = nl_le64(b);
		int64_t v;
		memcpy(&v, &u, sizeof v);
		n = snprintf(num, sizeof num, "%" PRId64, v);
		break;
	}
	case GGUF_F64: {
		uint64_t u = nl_le64(b);
		double v;
		memcpy(&v, &u, sizeof v);
		n = snprintf(num, sizeof num, "%.17g", v);
		break;
	}
	}
	text_add(t, num, (size_t)n);
	return 0;
}

/* Read an array (its element type, count and elements) and append "a,b,c". */
static int
gguf_read_array(struct gguf_rd *r, struct gguf_text *t, const char *key, int depth)
{
	uint32_t vt;
	uint64_t n;
	char show[80];

	if (rd_u32(r, &vt) < 0 || rd_u64(r, &n) < 0)
		return -1;
	if (vt >= GGUF_NVTYPES)
		return nl_err_set(r->err, NL_EFORMAT, "key '%s': unknown GGUF value type %" PRIu32,
		    gguf_show(key, show, sizeof show), vt);
	if (n > GGUF_MAX_ARRAY)
		return nl_err_set(r->err, NL_ERANGE, "key '%s': GGUF array of %" PRIu64
		    " elements exceeds 2^30", gguf_show(key, show, sizeof show), n);
	if (vt == GGUF_ARRAY) {
		/* legal in the spec, but there is no flat text for it: consume and drop */
		if (depth >= GGUF_MAX_NESTING)
			return nl_err_set(r->err, NL_ERANGE, "key '%s': GGUF arrays nested too deeply",
			    gguf_show(key, show, sizeof show));
		t->bad = 1;
		for (uint64_t i = 0; i < n; i++)
			if (gguf_read_array(r, t, key, depth + 1) < 0)
				return -1;
		return 0;
	}
	for (uint64_t i = 0; i < n; i++) {
		/* once the text is lost, fixed-size elements (bools still get checked) go in one skip;
		 * n * 8 < 2^34 cannot overflow */
		if (t->bad && gguf_vsize[vt] != 0 && vt != GGUF_BOOL)
			return rd_skip(r, (n - i) * gguf_vsize[vt]);
		if (i > 0)
			text_add(t, ",", 1);
		if (gguf_read_scalar(r, vt, t, key) < 0)
			return -1;
	}
	return 0;
}

/* A tensor info as read; index is its place in the file. */
struct gguf_tensor {
	struct nl_tinfo info;
	uint64_t offset, nbytes;
	size_t index;
};

/* Everything the reader holds besides the tensor set. */
struct gguf_state {
	struct gguf_rd r;
	struct nl_meta meta;
	char *keybuf;                   /* GGUF_MAX_KEY + 1 */
	struct gguf_text text;          /* NL_META_MAX_VALUE + 1 */
	char **keys;                    /* every key seen, for the duplicate check */
	size_t nkeys, capkeys;
	struct nl_meta_skips skipped;   /* dropped KVs */
	uint32_t alignment;
	struct gguf_tensor *ti;
	size_t nti, capti;
};

static int
gguf_cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
gguf_read_kv(struct gguf_state *s)
{
	struct gguf_rd *r = &s->r;
	uint64_t len;
	uint32_t vt;
	char show[80], *key = s->keybuf;

	if (rd_u64(r, &len) < 0)
		return -1;
	if (len > GGUF_MAX_KEY)
		return nl_err_set(r->err, NL_ERANGE, "GGUF key of %" PRIu64 " bytes exceeds %d", len,
		    GGUF_MAX_KEY);
	if (rd_bytes(r, key, (size_t)len) < 0)
		return -1;
	key[len] = '\0';
	if (strlen(key) != len)
		return nl_err_set(r->err, NL_EFORMAT, "GGUF key '%s' contains a NUL byte",
		    gguf_show(key, show, sizeof show));
	if (s->nkeys == s->capkeys) {
		/* grown as keys arrive, so a bogus count costs nothing before the input ends */
		size_t cap = s->capkeys ? s->capkeys * 2 : 16;
		char **p = realloc(s->keys, cap * sizeof *p);
		if (p == NULL)
			return nl_err_set(r->err, NL_ENOMEM, "out of memory");
		s->keys = p;
		s->capkeys = cap;
	}
	if ((s->keys[s->nkeys] = strdup(key)) == NULL)
		return nl_err_set(r->err, NL_ENOMEM, "out of memory");
	s->nkeys++;

	if (rd_u32(r, &vt) < 0)
		return -1;
	if (vt >= GGUF_NVTYPES)
		return nl_err_set(r->err, NL_EFORMAT, "key '%s': unknown GGUF value type %" PRIu32,
		    gguf_show(key, show, sizeof show), vt);
	if (strcmp(key, "general.alignment") == 0) {
		uint32_t a;

		if (vt != GGUF_U32)
			return nl_err_set(r->err, NL_EFORMAT, "general.alignment is not a u32");
		if (rd_u32(r, &a) < 0)
			return -1;
		if (a == 0 || (a & (a - 1)) != 0)
			return nl_err_set(r->err, NL_EFORMAT,
			    "general.alignment %" PRIu32 " is not a power of two", a);
		s->alignment = a;
		return 0;
	}

	s->text.len = 0;
	s->text.bad = 0;
	if ((vt == GGUF_ARRAY ? gguf_read_array(r, &s->text, key, 0) :
	    gguf_read_scalar(r, vt, &s->text, key)) < 0)
		return -1;
	if (!nl_meta_key_valid(key) || s->text.bad ||
	    !nl_meta_value_valid(s->text.s, s->text.len)) {
		nl_meta_skips_note(&s->skipped, key);
		return 0;
	}
	s->text.s[s->text.len] = '\0';
	/* duplicates are reported for all keys together, after the last KV */
	return nl_meta_set(&s->meta, key, s->text.s, r->err);
}

static int
gguf_read_kvs(struct gguf_state *s, uint64_t n)
{
	char show[80];

	s->keybuf = malloc(GGUF_MAX_KEY + 1);
	s->text.s = malloc(NL_META_MAX_VALUE + 1);
	if (s->keybuf == NULL || s->text.s == NULL)
		return nl_err_set(s->r.err, NL_ENOMEM, "out of memory");
	for (uint64_t i = 0; i < n; i++)
		if (gguf_read_kv(s) < 0)
			return -1;
	if (s->nkeys > 0)
		qsort(s->keys, s->nkeys, sizeof *s->keys, gguf_cmp_str);
	for (size_t i = 1; i < s->nkeys; i++)
		if (strcmp(s->keys[i - 1], s->keys[i]) == 0)
			return nl_err_set(s->r.err, NL_EFORMAT, "duplicate GGUF key '%s'",
			    gguf_show(s->keys[i], show, sizeof show));
	return nl_meta_skips_record(&s->skipped, &s->meta, "gguf", s->r.err);
}

static int
gguf_read_tinfo(struct gguf_state *s, size_t index)
{
	struct gguf_rd *r = &s->r;
	struct gguf_tensor *g;
	uint64_t len, ne[NL_MAX_RANK];
	uint32_t n_dims, type;
	char show[80];

	if (s->nti == s->capti) {
		/* grown as infos arrive, so a bogus count costs nothing before the input ends */
		size_t cap = s->capti ? s->capti * 2 : 16;
		struct gguf_tensor *p = realloc(s->ti, cap * sizeof *p);
		if (p == NULL)
			return nl_err_set(r->err, NL_ENOMEM, "out of memory");
		s->ti = p;
		s->capti = cap;
	}
	g = &s->ti[s->nti];
	memset(g, 0, sizeof *g);
	g->index = index;
	if (rd_u64(r, &len) < 0)
		return -1;
	if (len == 0 || len > NL_MAX_NAME)
		return nl_err_set(r->err, NL_EFORMAT, "tensor %zu: name of %" PRIu64
		    " bytes (must be 1..%d)", index, len, NL_MAX_NAME);
	if (rd_bytes(r, g->info.name, (size_t)len) < 0)
		return -1;
	g->info.name[len] = '\0';
	if (strlen(g->info.name) != len || !nl_tensor_name_valid(g->info.name))
		return nl_err_set(r->err, NL_EFORMAT, "tensor %zu: invalid name '%s'", index,
		    gguf_show(g->info.name, show, sizeof show));
	if (rd_u32(r, &n_dims) < 0)
		return -1;
	if (n_dims > NL_MAX_RANK)
		return nl_err_set(r->err, NL_EFORMAT, "tensor '%s': rank %" PRIu32 " exceeds %d",
		    g->info.name, n_dims, NL_MAX_RANK);
	g->info.rank = (int)n_dims;
	for (uint32_t d = 0; d < n_dims; d++) {
		if (rd_u64(r, &ne[d]) < 0)
			return -1;
		/* ggml reads dims as int64 */
		if (ne[d] > (uint64_t)INT64_MAX)
			return nl_err_set(r->err, NL_ERANGE, "tensor '%s': dimension %" PRIu64
			    " out of range", g->info.name, ne[d]);
		g->info.dims[n_dims - 1 - d] = ne[d];
	}
	if (rd_u32(r, &type) < 0 || rd_u64(r, &g->offset) < 0)
		return -1;
	g->info.dtype = gguf_to_dtype(type);
	if (g->info.dtype == NL_DTYPE_INVALID) {
		if (type < sizeof gguf_type_names / sizeof gguf_type_names[0])
			return nl_err_set(r->err, NL_EUNSUPPORTED,
			    "tensor '%s': GGUF type %s (%" PRIu32 ") is not supported", g->info.name,
			    gguf_type_names[type], type);
		return nl_err_set(r->err, NL_EUNSUPPORTED, "tensor '%s': unknown GGUF type %" PRIu32,
		    g->info.name, type);
	}
	if (nl_tinfo_size(&g->info, NULL, &g->nbytes, r->err) < 0)
		return -1;
	s->nti++;
	return 0;
}

static int
gguf_cmp_name(const void *a, const void *b)
{
	const struct gguf_tensor *x = *(const struct gguf_tensor *const *)a;
	const struct gguf_tensor *y = *(const struct gguf_tensor *const *)b;

	return strcmp(x->info.name, y->info.name);
}

/* Data order: by offset; at equal offsets empty tensors first, then file order. This
 * reproduces the writer's order, which places an empty tensor where the next one starts. */
static int
gguf_cmp_offset(const void *a, const void *b)
{
	const struct gguf_tensor *x = a, *y = b;
	uint64_t xe = x->offset + x->nbytes, ye = y->offset + y->nbytes;

	if (x->offset != y->offset)
		return x->offset < y->offset ? -1 : 1;
	if (xe != ye)
		return xe < ye ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

static int
gguf_check_tinfos(struct gguf_state *s)
{
	struct nl_err *err = s->r.err;
	struct gguf_tensor **byname;

	for (size_t i = 0; i < s->nti; i++) {
		struct gguf_tensor *g = &s->ti[i];
		if (g->offset > GGUF_MAX_OFFSET)
			return nl_err_set(err, NL_ERANGE, "tensor '%s': offset %" PRIu64
			    " out of range", g->info.name, g->offset);
		if (g->offset % s->alignment != 0)
			return nl_err_set(err, NL_EFORMAT, "tensor '%s': offset %" PRIu64
			    " is not a multiple of the alignment %" PRIu32, g->info.name, g->offset,
			    s->alignment);
	}
	byname = malloc((s->nti ? s->nti : 1) * sizeof *byname);
	if (byname == NULL)
		return nl_err_set(err, NL_ENOMEM, "out of memory");
	for (size_t i = 0; i < s->nti; i++)
		byname[i] = &s->ti[i];
	qsort(byname, s->nti, sizeof *byname, gguf_cmp_name);
	for (size_t i = 1; i < s->nti; i++)
		if (strcmp(byname[i - 1]->info.name, byname[i]->info.name) == 0) {
			nl_err_set(err, NL_EFORMAT, "duplicate tensor name '%s'", byname[i]->info.name);
			free(byname);
			return -1;
		}
	free(byname);
	if (s->nti > 0) /* s->ti is NULL then, which qsort must not see */
		qsort(s->ti, s->nti, sizeof *s->ti, gguf_cmp_offset);
	return 0;
}

/* Read n bytes of tensor data into a new buffer that grows as data arrives, so a size
 * claimed by a truncated or corrupt file is never allocated up front. */
static int
gguf_read_data(struct gguf_rd *r, const char *name, uint64_t nbytes, void **out)
{
	size_t n = (size_t)nbytes, cap, got = 0;
	unsigned char *p;

	if ((uint64_t)n != nbytes)
		return nl_err_set(r->err, NL_ENOMEM, "tensor '%s' does not fit in memory", name);
	cap = n < GGUF_CHUNK ? n : GGUF_CHUNK;
	p = malloc(cap ? cap : 1);
	if (p == NULL)
		return nl_err_set(r->err, NL_ENOMEM, "out of memory for tensor '%s'", name);
	while (got < n) {
		if (got == cap) {
			size_t ncap = cap > n / 2 ? n : cap * 2;
			unsigned char *q = realloc(p, ncap);
			if (q == NULL) {
				free(p);
				return nl_err_set(r->err, NL_ENOMEM, "out of memory for tensor '%s'", name);
			}
			p = q;
			cap = ncap;
		}
		if (rd_bytes(r, p + got, cap - got) < 0) {
			free(p);
			return -1;
		}
		got = cap;
	}
	*out = p;
	return 0;
}

static int
gguf_read_all(struct gguf_state *s, struct nl_tset *ts)
{
	struct gguf_rd *r = &s->r;
	struct nl_err *err = r->err;
	unsigned char b[4];
	uint32_t version;
	uint64_t n_tensors, n_kv, cur = 0;
	const char *prev = NULL;

	if (rd_bytes(r, b, 4) < 0)
		return -1;
	if (memcmp(b, "GGUF", 4) != 0)
		return nl_err_set(err, NL_EFORMAT, "bad GGUF magic");
	if (rd_u32(r, &version) < 0)
		return -1;
	/* v2 and v3 share the little-endian layout; v3 only added big-endian files */
	if (version != 2 && version != 3) {
		if (version != 0 && (version & 0xffff) == 0)
			return nl_err_set(err, NL_EUNSUPPORTED,
			    "big-endian GGUF files are not supported");
		return nl_err_set(err, NL_EUNSUPPORTED, "GGUF version %" PRIu32 " is not supported",
		    version);
	}
	if (rd_u64(r, &n_tensors) < 0 || rd_u64(r, &n_kv) < 0)
		return -1;
	if (n_tensors > GGUF_MAX_TENSORS)
		return nl_err_set(err, NL_ERANGE, "GGUF tensor count %" PRIu64 " exceeds %" PRIu64,
		    n_tensors, GGUF_MAX_TENSORS);
	if (n_kv > GGUF_MAX_KVS)
		return nl_err_set(err, NL_ERANGE, "GGUF key count %" PRIu64 " exceeds %" PRIu64,
		    n_kv, GGUF_MAX_KVS);
	if (gguf_read_kvs(s, n_kv) < 0)
		return -1;
	for (uint64_t i = 0; i < n_tensors; i++)
		if (gguf_read_tinfo(s, (size_t)i) < 0)
			return -1;
	if (gguf_check_tinfos(s) < 0)
		return -1;
	if (s->nti > 0 && rd_skip(r, gguf_pad(r->pos, s->alignment)) < 0)
		return -1;
	for (size_t i = 0; i < s->nti; i++) {
		struct gguf_tensor *g = &s->ti[i];
		void *data = NULL;

		if (g->offset < cur)
			return nl_err_set(err, NL_EFORMAT, "overlapping tensors '%s' and '%s'", prev,
			    g->info.name);
		if (rd_skip(r, g->offset - cur) < 0 ||
		    gguf_read_data(r, g->info.name, g->nbytes, &data) < 0)
			return -1;
		if (nl_tset_add_owned(ts, &g->info, data, (size_t)g->nbytes, err) == NULL)
			return -1;
		cur = g->offset + g->nbytes;
		prev = g->info.name;
	}
	return nl_meta_copy(&ts->meta, &s->meta, err);
}

int
nl_fmt_gguf_read(struct nl_io *in, struct nl_tset *ts, struct nl_err *err)
{
	struct gguf_state s;
	size_t n0 = ts->n;
	int rc;

	memset(&s, 0, sizeof s);
	s.r.in = in;
	s.r.err = err;
	s.alignment = GGUF_ALIGNMENT;
	nl_meta_init(&s.meta);
	rc = gguf_read_all(&s, ts);
	if (rc < 0) {
		/* leave the set as it was (metadata is merged last, so only tensors to undo) */
		nl_tset_truncate(ts, n0);
	}
	for (size_t i = 0; i < s.nkeys; i++)
		free(s.keys[i]);
	free(s.keys);
	free(s.keybuf);
	free(s.text.s);
	free(s.skipped.names);
	free(s.ti);
	nl_meta_free(&s.meta);
	return rc;
}
