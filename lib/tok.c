/* nl — see LICENSE. Tokenizers: the GPT-2-style pre-tokenizer over bytes, byte-level BPE
 * training (incremental pair counts, a positions index and a lazy max-heap), cached BPE
 * encoding that does not depend on how the text is cut, and the tokenizer.nlt file. */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "tfile.h"
#include "tok.h"

/* A pre-token is at most this long: a longer run is cut here and the rest starts a new
 * pre-token by the same rules. This keeps encoding linear (BPE work per pre-token is
 * bounded) and the streaming hold-back small, even for a 1 GB line without spaces. */
#define PRE_CAP NL_TOK_MAX_PRETOKEN
/* Held-back text plus the piece of new text it is completed with (see stream_feed). */
#define STREAM_BUF 4096
_Static_assert(STREAM_BUF > 2 * PRE_CAP, "a full refill must exceed any held-back tail");
#define NO_RANK UINT32_MAX

/* ---- the pre-tokenizer ---- */

/* Character classes of GPT-2's pattern, decided on bytes alone: ASCII letters, digits and
 * whitespace (space, \t \n \v \f \r) exactly; every byte >= 0x80 counts as a letter, so
 * UTF-8 words (accented, Cyrillic, CJK...) stay whole and invalid bytes stay inside the
 * word they touch instead of splitting text unpredictably. Everything else (punctuation,
 * control bytes, NUL) is "other". */
enum { O, L, D, S };
static const unsigned char tok_class[256] = {
	O, O, O, O, O, O, O, O, O, S, S, S, S, S, O, O,
	O, O, O, O, O, O, O, O, O, O, O, O, O, O, O, O,
	S, O, O, O, O, O, O, O, O, O, O, O, O, O, O, O,
	D, D, D, D, D, D, D, D, D, D, O, O, O, O, O, O,
	O, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L,
	L, L, L, L, L, L, L, L, L, L, L, O, O, O, O, O,
	O, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L,
	L, L, L, L, L, L, L, L, L, L, L, O, O, O, O, O,
	L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L,
	L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L,
	L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L,
	L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L,
	L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L,
	L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L,
	L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L,
	L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L,
};

/* GPT-2's 's|'t|'re|'ve|'m|'ll|'d| ?L+| ?N+| ?[^\sLN]+|\s+(?!\S)|\s+ tried in that
 * order at t[0], then capped at PRE_CAP. With more set, 0 when bytes past n could change
 * the answer; that only happens within PRE_CAP + 1 bytes of t, which bounds what a
 * streaming caller holds back. */
static inline size_t
pretok(const unsigned char *t, size_t n, int more)
{
	size_t i, lim, s = 0;
	int k;

	if (n == 0)
		return 0;
	if (t[0] == '\'') {
		if (n < 2)
			return more ? 0 : 1;
		unsigned c = t[1];
		if (c == 's' || c == 't' || c == 'm' || c == 'd')
			return 2;
		if (c == 'r' || c == 'v' || c == 'l') {
			if (n < 3) {
				if (more)
					return 0;
			} else if (t[2] == (c == 'l' ? 'l' : 'e')) {
				return 3;
			}
		}
		/* not a contraction: the apostrophe starts a run of "other" */
	}
	k = tok_class[t[0]];
	if (t[0] == ' ') {
		if (n < 2)
			return more ? 0 : 1;
		k = tok_class[t[1]];
		if (k != S)
			s = 1; /* the space leads the word, number or punctuation after it */
	}
	if (k != S) {
		lim = n < PRE_CAP ? n : PRE_CAP;
		for (i = s + 1; i < lim && tok_class[t[i]] == k; i++)
			;
		if (i == n && more && i < PRE_CAP)
			return 0;
		return i;
	}
	/* a whitespace run; followed by a non-space it leaves its last byte to what follows
	 * (that byte then joins a word if it is a space, else stands alone) */
	lim = n < PRE_CAP + 1 ? n : PRE_CAP + 1;
	for (i = 1; i < lim && tok_class[t[i]] == S; i++)
		;
	if (i > PRE_CAP)
		return PRE_CAP;
	if (i == n)
		return more ? 0 : i;
	return i > 1 ? i - 1 : 1;
}

size_t
nl_tok_pretoken(const unsigned char *text, size_t n, int more_follows)
{
	return pretok(text, n, more_follows);
}

struct carry {
	unsigned char buf[STREAM_BUF];
	size_t len;
};

/* Feed text through run so that pre-tokens come out as if the whole document had been
 * given at once. The undecided tail (at most PRE_CAP bytes) is copied aside; next time it
 * is completed with up to STREAM_BUF - PRE_CAP new bytes, and as soon as what is left
 * undecided lies entirely in the new text, work goes on in place in the caller's buffer.
 * run consumes as many whole pre-tokens of its bytes as can be decided, setting *used. */
static int
stream_feed(struct carry *c, const unsigned char *t, size_t n, int final,
    int (*run)(void *, const unsigned char *, size_t, int, size_t *), void *ctx)
{
	size_t pos = 0, used, tail;

	if (c->len > 0) {
		size_t k = n < STREAM_BUF - c->len ? n : STREAM_BUF - c->len;
		if (k > 0)
			memcpy(c->buf + c->len, t, k);
		c->len += k;
		pos = k;
		if (run(ctx, c->buf, c->len, pos < n || !final, &used) < 0)
			return -1;
		tail = c->len - used;
		if (tail > k) {
			/* k was all of the text: a full k (>= STREAM_BUF - PRE_CAP) exceeds any tail */
			memmove(c->buf, c->buf + used, tail);
			c->len = tail;
			return 0;
		}
		pos -= tail;
		c->len = 0;
	}
	if (pos == n)
		return 0;
	if (run(ctx, t + pos, n - pos, !final, &used) < 0)
		return -1;
	tail = n - pos - used;
	memcpy(c->buf, t + pos + used, tail);
	c->len = tail;
	return 0;
}

/* ---- hashing ---- */

static inline uint64_t
mix64(uint64_t h)
{
	h ^= h >> 32;
	h *= UINT64_C(0xd6e8feb86659fd93);
	h ^= h >> 32;
	return h;
}

/* Fast hash of a short byte string; only ever used inside one process (tables), so host
 * byte order does not matter. */
static inline uint64_t
hash_bytes(const unsigned char *p, size_t n)
{
	uint64_t h = UINT64_C(0x9e3779b97f4a7c15) ^ ((uint64_t)n * UINT64_C(0xff51afd7ed558ccd));
	uint64_t v;

	while (n >= 8) {
		memcpy(&v, p, 8);
		h = (h ^ v) * UINT64_C(0xbf58476d1ce4e5b9);
		h ^= h >> 31;
		p += 8;
		n -= 8;
	}
	v = 0;
	for (size_t i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	h = (h ^ v) * UINT64_C(0x94d049bb133111eb);
	return mix64(h);
}

/* Open-addressing map from an id pair (left << 32 | right) to a 32-bit value. */
#define PMAP_EMPTY UINT64_MAX

struct pmap {
	uint64_t *keys;
	uint32_t *vals;
	size_t mask, n;
};

static inline uint64_t
pair_key(uint32_t a, uint32_t b)
{
	return (uint64_t)a << 32 | b;
}

static inline size_t
pmap_slot(uint64_t key, size_t mask)
{
	return (size_t)mix64(key * UINT64_C(0x9e3779b97f4a7c15)) & mask;
}

static int
pmap_init(struct pmap *m, size_t want, struct nl_err *err)
{
	size_t cap = 64;

	while (cap < 2 * want)
		cap *= 2;
	m->keys = malloc(cap * sizeof *m->keys);
	m->vals = malloc(cap * sizeof *m->vals);
	if (m->keys == NULL || m->vals == NULL) {
		free(m->keys);
		free(m->vals);
		m->keys = NULL;
		m->vals = NULL;
		return nl_err_set(err, NL_ENOMEM, "out of memory");
	}
	memset(m->keys, 0xff, cap * sizeof *m->keys);
	m->mask = cap - 1;
	m->n = 0;
	return 0;
}

static void
pmap_free(struct pmap *m)
{
	free(m->keys);
	free(m->vals);
	m->keys = NULL;
	m->vals = NULL;
}

static inline uint32_t
pmap_get(const struct pmap *m, uint64_t key)
{
	for (size_t i = pmap_slot(key, m->mask);; i = (i + 1) & m->mask) {
		if (m->keys[i] == key)
			return m->vals[i];
		if (m->keys[i] == PMAP_EMPTY)
			return NO_RANK;
	}
}

static int
pmap_grow(struct pmap *m, struct nl_err *err)
{
	struct pmap nm;

	if (pmap_init(&nm, m->mask + 1, err) < 0)
		return -1;
	for (size_t i = 0; i <= m->mask; i++) {
		if (m->keys[i] == PMAP_EMPTY)
			continue;
		size_t j = pmap_slot(m->keys[i], nm.mask);
		while (nm.keys[j] != PMAP_EMPTY)
			j = (j + 1) & nm.mask;
		nm.keys[j] = m->keys[i];
		nm.vals[j] = m->vals[i];
	}
	nm.n = m->n;
	pmap_free(m);
	*m = nm;
	return 0;
}

/* Find key or insert it with value val; *found says which. Returns the slot's value
 * pointer, NULL when out of memory. */
static uint32_t *
pmap_put(struct pmap *m, uint64_t key, uint32_t val, int *found, struct nl_err *err)
{
	size_t i;

	if (2 * (m->n + 1) > m->mask + 1 && pmap_grow(m, err) < 0)
		return NULL;
	for (i = pmap_slot(key, m->mask); m->keys[i] != PMAP_EMPTY; i = (i + 1) & m->mask) {
		if (m->keys[i] == key) {
			*found = 1;
			return &m->vals[i];
		}
	}
	m->keys[i] = key;
	m->vals[i] = val;
	m->n++;
	*found = 0;
	return &m->vals[i];
}

/* ---- the tokenizer ---- */

struct nl_tok {
	int bpe;
	uint32_t vocab, n_merges;
	unsigned char *bytes;   /* all pieces, concatenated */
	uint32_t *offsets;      /* vocab + 1 */
	uint32_t *merges;       /* left, right of merge k at 2k, 2k + 1 */
	struct pmap ranks;      /* (left, right) -> k */
	char hash[16];
};

void
nl_tok_free(struct nl_tok *tok)
{
	if (tok == NULL)
		return;
	free(tok->bytes);
	free(tok->offsets);
	free(tok->merges);
	pmap_free(&tok->ranks);
	free(tok);
}

const char *
nl_tok_type(const struct nl_tok *tok)
{
	return tok->bpe ? "bpe" : "bytes";
}

uint32_t
nl_tok_vocab_size(const struct nl_tok *tok)
{
	return tok->vocab;
}

const char *
nl_tok_hash(const struct nl_tok *tok)
{
	return tok->hash;
}

const unsigned char *
nl_tok_piece(const struct nl_tok *tok, uint32_t id, size_t *len)
{
	if (id >= tok->vocab || id == NL_TOK_EOT) {
		*len = 0;
		return NULL;
	}
	*len = tok->offsets[id + 1] - tok->offsets[id];
	return tok->bytes + tok->offsets[id];
}

/* CRC-32 of everything written: the hash of the canonical file without keeping it. */
static int
crc_write(void *ctx, const void *buf, size_t n, struct nl_err *err)
{
	(void)err;
	*(uint32_t *)ctx = (uint32_t)crc32_z(*(uint32_t *)ctx, buf, n);
	return 0;
}

static const struct nl_io_ops crc_ops = { NULL, crc_write, NULL };

/* Build a tokenizer from its merges (taking them, freed on failure too): pieces, the rank
 * map and the hash. A pair given twice is an error. */
static int
tok_build(struct nl_tok **out, int bpe, uint32_t *merges, uint32_t m, struct nl_err *err)
{
	struct nl_tok *tok;
	uint64_t total = 256;
	uint32_t v = NL_TOK_BASE + m;

	*out = NULL;
	if ((tok = calloc(1, sizeof *tok)) == NULL) {
		free(merges);
		return nl_err_set(err, NL_ENOMEM, "out of memory");
	}
	tok->bpe = bpe;
	tok->vocab = v;
	tok->n_merges = m;
	tok->merges = merges;
	tok->offsets = malloc(((size_t)v + 1) * sizeof *tok->offsets);
	if (tok->offsets == NULL)
		goto nomem;
	for (uint32_t i = 0; i <= 256; i++)
		tok->offsets[i] = i < 256 ? i : 256;
	tok->offsets[257] = 256;
	for (uint32_t k = 0; k < m; k++) {
		uint32_t a = merges[2 * k], b = merges[2 * k + 1];
		total += (uint64_t)(tok->offsets[a + 1] - tok->offsets[a]) +
		    (tok->offsets[b + 1] - tok->offsets[b]);
		if (total > UINT32_MAX) {
			nl_err_set(err, NL_ERANGE, "tokenizer: pieces exceed 4 GiB in total");
			goto fail;
		}
		tok->offsets[NL_TOK_BASE + k + 1] = (uint32_t)total;
	}
	if ((tok->bytes = malloc(total)) == NULL)
		goto nomem;
	for (uint32_t i = 0; i < 256; i++)
		tok->bytes[i] = (unsigned char)i;
	for (uint32_t k = 0; k < m; k++) {
		uint32_t a = merges[2 * k], b = merges[2 * k + 1];
		uint32_t la = tok->offsets[a + 1] - tok->offsets[a];
		unsigned char *dst = tok->bytes + tok->offsets[NL_TOK_BASE + k];
		memcpy(dst, tok->bytes + tok->offsets[a], la);
		memcpy(dst + la, tok->bytes + tok->offsets[b], tok->offsets[b + 1] - tok->offsets[b]);
	}
	if (pmap_init(&tok->ranks, m, err) < 0)
		goto fail;
	for (uint32_t k = 0; k < m; k++) {
		int found;
		uint32_t *val = pmap_put(&tok->ranks, pair_key(merges[2 * k], merges[2 * k + 1]), k,
		    &found, err);
		if (val == NULL)
			goto fail;
		if (found) {
			nl_err_set(err, NL_EFORMAT, "tokenizer: merge %" PRIu32 " repeats merge %" PRIu32
			    " (ids %" PRIu32 " and %" PRIu32 ")", k, *val, merges[2 * k], merges[2 * k + 1]);
			goto fail;
		}
	}
	if (!bpe) {
		strcpy(tok->hash, "bytes");
	} else {
		struct nl_io io;
		uint32_t crc = 0;
		nl_io_open_custom(&io, &crc_ops, &crc, "(hash)", 1);
		if (nl_tok_save(tok, &io, err) < 0) {
			nl_io_abort(&io);
			goto fail;
		}
		if (nl_io_close(&io, err) < 0)
			goto fail;
		snprintf(tok->hash, sizeof tok->hash, "%08" PRIx32, crc);
	}
	*out = tok;
	return 0;
nomem:
	nl_err_set(err, NL_ENOMEM, "out of memory");
fail:
	nl_tok_free(tok);
	return -1;
}

int
nl_tok_new_bytes(struct nl_tok **tok, struct nl_err *err)
{
	return tok_build(tok, 0, NULL, 0, err);
}

/* ---- tokenizer.nlt ---- */

/* Little-endian U32 values through a small buffer. */
static int
write_u32s(struct nl_tfile *tf, const uint32_t *v, size_t n, struct nl_err *err)
{
	unsigned char buf[4096];

	while (n > 0) {
		size_t k = n < sizeof buf / 4 ? n : sizeof buf / 4;
		for (size_t i = 0; i < k; i++)
			nl_put32(buf + 4 * i, v[i]);
		if (nl_tfile_write(tf, buf, 4 * k, err) < 0)
			return -1;
		v += k;
		n -= k;
	}
	return 0;
}

static int
save_tensor(struct nl_tfile *tf, const char *name, enum nl_dtype dt, int rank, uint64_t d0,
    const void *data, size_t n, struct nl_err *err)
{
	struct nl_tinfo ti;

	memset(&ti, 0, sizeof ti);
	snprintf(ti.name, sizeof ti.name, "%s", name);
	ti.dtype = dt;
	ti.rank = rank;
	ti.dims[0] = d0;
	ti.dims[1] = 2;
	if (nl_tfile_begin(tf, &ti, err) < 0)
		return -1;
	if (dt == NL_DTYPE_U8 ? nl_tfile_write(tf, data, n, err) < 0 :
	    write_u32s(tf, data, n, err) < 0)
		return -1;
	return nl_tfile_end(tf, err);
}

int
nl_tok_save(const struct nl_tok *tok, struct nl_io *out, struct nl_err *err)
{
	struct nl_meta meta;
	struct nl_tfile *tf = NULL;
	char v[32], m[32];

	snprintf(v, sizeof v, "%" PRIu32, tok->vocab);
	snprintf(m, sizeof m, "%" PRIu32, tok->n_merges);
	nl_meta_init(&meta);
	if (nl_meta_set(&meta, "kind", "tokenizer", err) < 0 ||
	    nl_meta_set(&meta, "tokenizer.type", nl_tok_type(tok), err) < 0 ||
	    nl_meta_set(&meta, "tokenizer.vocab_size", v, err) < 0 ||
	    nl_meta_set(&meta, "tokenizer.eot", "256", err) < 0 ||
	    nl_meta_set(&meta, "tokenizer.merges", m, err) < 0 ||
	    nl_tfile_open_write(&tf, out, &meta, 1, err) < 0)
		goto fail;
	if (save_tensor(tf, "vocab.bytes", NL_DTYPE_U8, 1, tok->offsets[tok->vocab], tok->bytes,
	    tok->offsets[tok->vocab], err) < 0 ||
	    save_tensor(tf, "vocab.offsets", NL_DTYPE_U32, 1, (uint64_t)tok->vocab + 1,
	    tok->offsets, (size_t)tok->vocab + 1, err) < 0 ||
	    save_tensor(tf, "merges", NL_DTYPE_U32, 2, tok->n_merges, tok->merges,
	    2 * (size_t)tok->n_merges, err) < 0)
		goto fail;
	nl_meta_free(&meta);
	return nl_tfile_close(tf, err);
fail:
	nl_meta_free(&meta);
	nl_tfile_free(tf);
	return -1;
}

/* A decimal metadata value in lo..hi. */
static int
meta_u32(struct nl_tfile *tf, const char *key, uint32_t lo, uint32_t hi, uint32_t *out,
    struct nl_err *err)
{
	const char *s;
	uint64_t v = 0;

	if (!nl_tfile_meta(tf, key, &s))
		return nl_err_set(err, NL_EFORMAT, "tokenizer: missing metadata '%s'", key);
	if (*s == '\0' || strlen(s) > 10)
		goto bad;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			goto bad;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (v < lo || v > hi)
		goto bad;
	*out = (uint32_t)v;
	return 0;
bad:
	return nl_err_set(err, NL_EFORMAT, "tokenizer: %s '%.40s' is not a number in %" PRIu32
	    "..%" PRIu32, key, s, lo, hi);
}

/* The next tensor, which must be name (dtype, rank, dims[1] == 2 at rank 2), read whole
 * into *data (caller frees). Memory grows with the data actually present, so a corrupt
 * shape cannot make us allocate gigabytes up front. */
static int
load_tensor(struct nl_tfile *tf, const char *name, enum nl_dtype dt, int rank, uint64_t *d0,
    unsigned char **data, struct nl_err *err)
{
	struct nl_tinfo ti;
	uint64_t nbytes;
	size_t cap, used = 0, got;
	unsigned char *buf;
	int r;

	*data = NULL;
	if ((r = nl_tfile_next(tf, &ti, err)) < 0)
		return -1;
	if (r == 0)
		return nl_err_set(err, NL_EFORMAT, "tokenizer: missing tensor '%s'", name);
	if (strcmp(ti.name, name) != 0)
		return nl_err_set(err, NL_EFORMAT, "tokenizer: expected tensor '%s', found '%s'", name,
		    ti.name);
	if (ti.dtype != dt || ti.rank != rank || (rank == 2 && ti.dims[1] != 2))
		return nl_err_set(err, NL_EFORMAT, "tokenizer: tensor '%s' must be %s %s", name,
		    nl_dtype_name(dt), rank == 2 ? "[M,2]" : "of rank 1");
	if (ti.dims[0] == NL_DIM_STREAM)
		return nl_err_set(err, NL_EFORMAT, "tokenizer: tensor '%s' has a streamed length", name);
	if (nl_tinfo_size(&ti, NULL, &nbytes, err) < 0)
		return -1;
	if (nbytes > (uint64_t)UINT32_MAX * 2)
		return nl_err_set(err, NL_ERANGE, "tokenizer: tensor '%s' is too large", name);
	cap = nbytes < (1u << 20) ? (size_t)nbytes : (1u << 20);
	if ((buf = malloc(cap + 1)) == NULL)
		return nl_err_set(err, NL_ENOMEM, "out of memory");
	while (used < nbytes) {
		if (used == cap) {
			size_t ncap = cap * 2 < nbytes ? cap * 2 : (size_t)nbytes;
			unsigned char *nb = realloc(buf, ncap + 1);
			if (nb == NULL) {
				free(buf);
				return nl_err_set(err, NL_ENOMEM, "out of memory");
			}
			buf = nb;
			cap = ncap;
		}
		if (nl_tfile_read(tf, buf + used, cap - used, &got, err) < 0) {
			free(buf);
			return -1;
		}
		if (got == 0) {
			free(buf);
			return nl_err_set(err, NL_EFORMAT, "tokenizer: tensor '%s' is truncated", name);
		}
		used += got;
	}
	*d0 = ti.dims[0];
	*data = buf;
	return 0;
}

int
nl_tok_load(struct nl_tok **out, struct nl_io *in, struct nl_err *err)
{
	struct nl_tfile *tf = NULL;
	struct nl_tok *tok = NULL;
	struct nl_tinfo ti;
	unsigned char *bytes = NULL, *offs_raw = NULL, *merges_raw = NULL;
	uint32_t *offs = NULL, *merges = NULL;
	uint64_t n_bytes, n_offs, n_merges;
	uint32_t v, m, eot;
	const char *s;
	int bpe, r;

	*out = NULL;
	if (nl_tfile_open_read(&tf, in, err) < 0)
		return -1;
	if (!nl_tfile_meta(tf, "kind", &s) || strcmp(s, "tokenizer") != 0) {
		nl_err_set(err, NL_EFORMAT, "not a tokenizer file (kind '%.40s')",
		    nl_tfile_meta(tf, "kind", &s) ? s : "");
		goto fail;
	}
	if (!nl_tfile_meta(tf, "tokenizer.type", &s)) {
		nl_err_set(err, NL_EFORMAT, "tokenizer: missing metadata 'tokenizer.type'");
		goto fail;
	}
	if (strcmp(s, "bpe") != 0 && strcmp(s, "bytes") != 0) {
		nl_err_set(err, NL_EFORMAT, "tokenizer: unknown type '%.40s' (must be bpe or bytes)", s);
		goto fail;
	}
	bpe = strcmp(s, "bpe") == 0;
	if (meta_u32(tf, "tokenizer.vocab_size", NL_TOK_BASE, NL_TOK_MAX_VOCAB, &v, err) < 0 ||
	    meta_u32(tf, "tokenizer.eot", 0, UINT32_MAX, &eot, err) < 0 ||
	    meta_u32(tf, "tokenizer.merges", 0, NL_TOK_MAX_VOCAB, &m, err) < 0)
		goto fail;
	if (eot != NL_TOK_EOT) {
		nl_err_set(err, NL_EFORMAT, "tokenizer: eot is %" PRIu32 " (must be 256)", eot);
		goto fail;
	}
	if (m != v - NL_TOK_BASE) {
		nl_err_set(err, NL_EFORMAT, "tokenizer: %" PRIu32 " merges for vocabulary size %"
		    PRIu32 " (must be %" PRIu32 ")", m, v, v - NL_TOK_BASE);
		goto fail;
	}
	if (!bpe && m != 0) {
		nl_err_set(err, NL_EFORMAT, "tokenizer: type bytes with %" PRIu32 " merges", m);
		goto fail;
	}
	if (load_tensor(tf, "vocab.bytes", NL_DTYPE_U8, 1, &n_bytes, &bytes, err) < 0 ||
	    load_tensor(tf, "vocab.offsets", NL_DTYPE_U32, 1, &n_offs, &offs_raw, err) < 0)
		goto fail;
	if (n_offs != (uint64_t)v + 1) {
		nl_err_set(err, NL_EFORMAT, "tokenizer: vocab.offsets has %" PRIu64 " entries for "
		    "vocabulary size %" PRIu32 " (must be %" PRIu32 ")", n_offs, v, v + 1);
		goto fail;
	}
	if (load_tensor(tf, "merges", NL_DTYPE_U32, 2, &n_merges, &merges_raw, err) < 0)
		goto fail;
	if (n_merges != m) {
		nl_err_set(err, NL_EFORMAT, "tokenizer: merges has %" PRIu64 " rows, metadata says %"
		    PRIu32, n_merges, m);
		goto fail;
	}
	if ((r = nl_tfile_next(tf, &ti, err)) < 0)
		goto fail;
	if (r > 0) {
		nl_err_set(err, NL_EFORMAT, "tokenizer: unexpected tensor '%s'", ti.name);
		goto fail;
	}
	/* decode in place: the raw buffers are at least as large as the arrays */
	offs = (uint32_t *)(void *)offs_raw;
	for (size_t i = 0; i <= v; i++)
		offs[i] = nl_le32(offs_raw + 4 * i);
	merges = (uint32_t *)(void *)merges_raw;
	for (size_t i = 0; i < 2 * (size_t)m; i++)
		merges[i] = nl_le32(merges_raw + 4 * i);
	if (offs[0] != 0) {
		nl_err_set(err, NL_EFORMAT, "tokenizer: vocab.offsets starts at %" PRIu32
		    " (must be 0)", offs[0]);
		goto fail;
	}
	for (uint32_t i = 0; i < v; i++) {
		if (offs[i + 1] < offs[i]) {
			nl_err_set(err, NL_EFORMAT, "tokenizer: vocab.offsets decreases at id %" PRIu32,
			    i + 1);
			goto fail;
		}
	}
	if (offs[v] != n_bytes) {
		nl_err_set(err, NL_EFORMAT, "tokenizer: vocab.offsets ends at %" PRIu32
		    ", vocab.bytes holds %" PRIu64, offs[v], n_bytes);
		goto fail;
	}
	for (uint32_t i = 0; i < 256; i++) {
		if (offs[i + 1] - offs[i] != 1 || bytes[offs[i]] != i) {
			nl_err_set(err, NL_EFORMAT, "tokenizer: id %" PRIu32 " must be the single byte "
			    "0x%02x", i, (unsigned)i);
			goto fail;
		}
	}
	if (offs[257] != offs[256]) {
		nl_err_set(err, NL_EFORMAT, "tokenizer: <eot> (id 256) must have no bytes");
		goto fail;
	}
	for (uint32_t k = 0; k < m; k++) {
		for (int j = 0; j < 2; j++) {
			uint32_t id = merges[2 * k + j];
			if (id >= NL_TOK_BASE + k) {
				nl_err_set(err, NL_EFORMAT, "tokenizer: merge %" PRIu32 " refers to id %"
				    PRIu32 " (must be < %" PRIu32 ")", k, id, NL_TOK_BASE + k);
				goto fail;
			}
			if (id == NL_TOK_EOT) {
				nl_err_set(err, NL_EFORMAT, "tokenizer: merge %" PRIu32 " uses <eot>", k);
				goto fail;
			}
		}
	}
	if (tok_build(&tok, bpe, merges, m, err) < 0) {
		merges_raw = NULL; /* taken by tok_build */
		goto fail;
	}
	merges_raw = NULL;
	for (uint32_t k = 0; k < m; k++) {
		uint32_t id = NL_TOK_BASE + k;
		uint32_t len = tok->offsets[id + 1] - tok->offsets[id];
		if (offs[id + 1] - offs[id] != len ||
		    memcmp(bytes + offs[id], tok->bytes + tok->offsets[id], len) != 0) {
			nl_err_set(err, NL_EFORMAT, "tokenizer: piece %" PRIu32 " is not the "
			    "concatenation of ids %" PRIu32 " and %" PRIu32 " (merge %" PRIu32 ")", id,
			    tok->merges[2 * k], tok->merges[2 * k + 1], k);
			goto fail;
		}
	}
	free(bytes);
	free(offs_raw);
	nl_tfile_free(tf);
	*out = tok;
	return 0;
fail:
	nl_tok_free(tok);
	free(bytes);
	free(offs_raw);
	free(merges_raw);
	nl_tfile_free(tf);
	return -1;
}

/* ---- encoding ---- */

/* Pre-tokens up to this long are merged by rescanning a small rank array (fastest for
 * words); longer ones use a heap over positions so a 1024-byte run costs n log n. */
#define SHORT_WORD 48
/* The cache maps pre-token bytes to ids; cleared when it holds CACHE_MAX entries. */
#define CACHE_SLOTS (1u << 17)
#define CACHE_MAX (1u << 16)
#define CACHE_KEY_MAX 64

struct cslot {
	uint32_t tag;     /* high bits of the hash */
	uint32_t key_off; /* into keys */
	uint32_t ids_off; /* into ids */
	uint16_t key_len; /* 0 = empty */
	uint16_t n_ids;
};

struct nl_tok_enc {
	const struct nl_tok *tok;
	struct carry carry;
	uint32_t *out;    /* the caller's array while nl_tok_encode runs */
	size_t n_out;
	/* cache */
	struct cslot *slots;
	size_t n_cached;
	unsigned char *ckeys;
	uint32_t *cids;
	size_t ckeys_len, cids_len, ckeys_cap, cids_cap;
	/* scratch for long pre-tokens */
	uint32_t *l_ids;
	int32_t *l_prev, *l_next;
	uint64_t *l_heap;
};

int
nl_tok_enc_new(struct nl_tok_enc **out, const struct nl_tok *tok, struct nl_err *err)
{
	struct nl_tok_enc *e;

	*out = NULL;
	if ((e = calloc(1, sizeof *e)) == NULL)
		return nl_err_set(err, NL_ENOMEM, "out of memory");
	e->tok = tok;
	if (tok->n_merges > 0) {
		e->slots = calloc(CACHE_SLOTS, sizeof *e->slots);
		e->l_ids = malloc(PRE_CAP * sizeof *e->l_ids);
		e->l_prev = malloc(PRE_CAP * sizeof *e->l_prev);
		e->l_next = malloc(PRE_CAP * sizeof *e->l_next);
		e->l_heap = malloc(3 * PRE_CAP * sizeof *e->l_heap);
		if (e->slots == NULL || e->l_ids == NULL || e->l_prev == NULL || e->l_next == NULL ||
		    e->l_heap == NULL) {
			nl_tok_enc_free(e);
			return nl_err_set(err, NL_ENOMEM, "out of memory");
		}
	}
	*out = e;
	return 0;
}

void
nl_tok_enc_free(struct nl_tok_enc *e)
{
	if (e == NULL)
		return;
	free(e->slots);
	free(e->ckeys);
	free(e->cids);
	free(e->l_ids);
	free(e->l_prev);
	free(e->l_next);
	free(e->l_heap);
	free(e);
}

static inline uint32_t
rank_of(const struct nl_tok *tok, uint32_t a, uint32_t b)
{
	return pmap_get(&tok->ranks, pair_key(a, b));
}

/* Standard BPE on one short pre-token: repeatedly merge the adjacent pair of lowest rank,
 * leftmost first (the same order the trainer applied the merges in). */
static size_t
bpe_short(const struct nl_tok *tok, const unsigned char *p, size_t n, uint32_t *ids)
{
	uint32_t rk[SHORT_WORD];

	for (size_t i = 0; i < n; i++)
		ids[i] = p[i];
	for (size_t i = 0; i + 1 < n; i++)
		rk[i] = rank_of(tok, ids[i], ids[i + 1]);
	while (n > 1) {
		size_t m = 0;
		uint32_t best = rk[0];
		for (size_t i = 1; i + 1 < n; i++) {
			if (rk[i] < best) {
				best = rk[i];
				m = i;
			}
		}
		if (best == NO_RANK)
			break;
		ids[m] = NL_TOK_BASE + best;
		memmove(ids + m + 1, ids + m + 2, (n - m - 2) * sizeof *ids);
		if (m + 3 < n)
			memmove(rk + m + 1, rk + m + 2, (n - m - 3) * sizeof *rk);
		n--;
		if (m > 0)
			rk[m - 1] = rank_of(tok, ids[m - 1], ids[m]);
		if (m + 1 < n)
			rk[m] = rank_of(tok, ids[m], ids[m + 1]);
	}
	return n;
}

/* Min-heap of (rank << 32 | position): lowest rank first, then leftmost. */
static inline void
heap_push(uint64_t *h, size_t *n, uint64_t v)
{
	size_t i = (*n)++;

	while (i > 0) {
		size_t up = (i - 1) / 2;
		if (h[up] <= v)
			break;
		h[i] = h[up];
		i = up;
	}
	h[i] = v;
}

static inline uint64_t
heap_pop(uint64_t *h, size_t *n)
{
	uint64_t top = h[0], v = h[--*n];
	size_t i = 0, c;

	while ((c = 2 * i + 1) < *n) {
		if (c + 1 < *n && h[c + 1] < h[c])
			c++;
		if (h[c] >= v)
			break;
		h[i] = h[c];
		i = c;
	}
	h[i] = v;
	return top;
}

#define DEAD UINT32_MAX

/* The same merge order for long pre-tokens, in n log n: symbols in a linked list, every
 * adjacent pair that has a rank in the heap, stale entries skipped when popped. */
static size_t
bpe_long(struct nl_tok_enc *e, const unsigned char *p, size_t n, uint32_t *out)
{
	const struct nl_tok *tok = e->tok;
	uint32_t *id = e->l_ids;
	int32_t *pv = e->l_prev, *nx = e->l_next;
	uint64_t *h = e->l_heap;
	size_t hn = 0, k = 0;
	uint32_t r;

	for (size_t i = 0; i < n; i++) {
		id[i] = p[i];
		pv[i] = (int32_t)i - 1;
		nx[i] = i + 1 < n ? (int32_t)i + 1 : -1;
	}
	for (size_t i = 0; i + 1 < n; i++)
		if ((r = rank_of(tok, id[i], id[i + 1])) != NO_RANK)
			heap_push(h, &hn, (uint64_t)r << 32 | i);
	while (hn > 0) {
		uint64_t t = heap_pop(h, &hn);
		int32_t i = (int32_t)(t & 0xffffffffu), j = nx[i];
		r = (uint32_t)(t >> 32);
		if (id[i] == DEAD || j < 0 || id[i] != tok->merges[2 * r] ||
		    id[j] != tok->merges[2 * r + 1])
			continue;
		id[i] = NL_TOK_BASE + r;
		id[j] = DEAD;
		nx[i] = nx[j];
		if (nx[j] >= 0)
			pv[nx[j]] = i;
		if (pv[i] >= 0 && (r = rank_of(tok, id[pv[i]], id[i])) != NO_RANK)
			heap_push(h, &hn, (uint64_t)r << 32 | (uint32_t)pv[i]);
		if (nx[i] >= 0 && (r = rank_of(tok, id[i], id[nx[i]])) != NO_RANK)
			heap_push(h, &hn, (uint64_t)r << 32 | (uint32_t)i);
	}
	for (int32_t i = 0; i >= 0; i = nx[i])
		out[k++] = id[i];
	return k;
}

/* Append the ids of one pre-token at e->out + e->n_out (room is reserved by the caller). */
static inline void
encode_word(struct nl_tok_enc *e, const unsigned char *p, size_t n)
{
	uint32_t *dst = e->out + e->n_out;
	uint64_t h;
	size_t i, k;

	if (n == 1) {
		*dst = p[0];
		e->n_out++;
		return;
	}
	if (n > CACHE_KEY_MAX) {
		e->n_out += n <= SHORT_WORD ? bpe_short(e->tok, p, n, dst) : bpe_long(e, p, n, dst);
		return;
	}
	h = hash_bytes(p, n);
	for (i = h & (CACHE_SLOTS - 1);; i = (i + 1) & (CACHE_SLOTS - 1)) {
		struct cslot *s = &e->slots[i];
		if (s->key_len == 0)
			break;
		if (s->tag == (uint32_t)(h >> 32) && s->key_len == n &&
		    memcmp(e->ckeys + s->key_off, p, n) == 0) {
			memcpy(dst, e->cids + s->ids_off, s->n_ids * sizeof *dst);
			e->n_out += s->n_ids;
			return;
		}
	}
	k = n <= SHORT_WORD ? bpe_short(e->tok, p, n, dst) : bpe_long(e, p, n, dst);
	e->n_out += k;
	if (e->n_cached == CACHE_MAX) {
		/* full: start over (cheap, and the frequent words come back at once) */
		memset(e->slots, 0, CACHE_SLOTS * sizeof *e->slots);
		e->n_cached = e->ckeys_len = e->cids_len = 0;
		for (i = h & (CACHE_SLOTS - 1); e->slots[i].key_len != 0; i = (i + 1) & (CACHE_SLOTS - 1))
			;
	}
	/* the arenas grow as needed; without memory the word is simply not cached */
	if (e->ckeys_cap - e->ckeys_len < n) {
		size_t cap = e->ckeys_cap ? 2 * e->ckeys_cap : 1u << 16;
		unsigned char *nk = realloc(e->ckeys, cap);
		if (nk == NULL)
			return;
		e->ckeys = nk;
		e->ckeys_cap = cap;
	}
	if (e->cids_cap - e->cids_len < k) {
		size_t cap = e->cids_cap ? 2 * e->cids_cap : 1u << 14;
		uint32_t *ni = realloc(e->cids, cap * sizeof *ni);
		if (ni == NULL)
			return;
		e->cids = ni;
		e->cids_cap = cap;
	}
	struct cslot *s = &e->slots[i];
	s->tag = (uint32_t)(h >> 32);
	s->key_len = (uint16_t)n;
	s->n_ids = (uint16_t)k;
	s->key_off = (uint32_t)e->ckeys_len;
	s->ids_off = (uint32_t)e->cids_len;
	memcpy(e->ckeys + e->ckeys_len, p, n);
	memcpy(e->cids + e->cids_len, dst, k * sizeof *dst);
	e->ckeys_len += n;
	e->cids_len += k;
	e->n_cached++;
}

static int
enc_run(void *ctx, const unsigned char *t, size_t n, int more, size_t *used)
{
	struct nl_tok_enc *e = ctx;
	size_t pos = 0, k;

	while (pos < n && (k = pretok(t + pos, n - pos, more)) > 0) {
		encode_word(e, t + pos, k);
		pos += k;
	}
	*used = pos;
	return 0;
}

int
nl_tok_encode(struct nl_tok_enc *enc, const unsigned char *text, size_t n, int final,
    uint32_t **ids, size_t *n_ids, size_t *cap, struct nl_err *err)
{
	size_t need = *n_ids + enc->carry.len + n;

	/* every byte yields at most one id, so reserving here spares checks per pre-token */
	if (need < n || need > SIZE_MAX / sizeof **ids)
		return nl_err_set(err, NL_ERANGE, "token array size overflows");
	if (need > *cap) {
		size_t ncap = *cap > SIZE_MAX / sizeof **ids / 2 ? need : *cap * 2;
		if (ncap < need)
			ncap = need;
		if (ncap < 1024)
			ncap = 1024;
		uint32_t *p = realloc(*ids, ncap * sizeof *p);
		if (p == NULL)
			return nl_err_set(err, NL_ENOMEM, "out of memory");
		*ids = p;
		*cap = ncap;
	}
	if (enc->tok->n_merges == 0) {
		/* nothing to merge: ids are the bytes, no pre-tokens needed */
		uint32_t *dst = *ids + *n_ids;
		for (size_t i = 0; i < n; i++)
			dst[i] = text[i];
		*n_ids += n;
		return 0;
	}
	enc->out = *ids;
	enc->n_out = *n_ids;
	int rc = stream_feed(&enc->carry, text, n, final, enc_run, enc);
	*n_ids = enc->n_out;
	enc->out = NULL;
	return rc;
}

/* ---- training ---- */

/* Distinct pre-tokens and their counts, open addressing; keys live in one arena. */
struct wslot {
	uint64_t hash;
	uint64_t count;
	size_t off;
	uint32_t len;   /* 0 = empty */
};

struct nl_tok_trainer {
	struct carry carry;
	struct wslot *slots;
	size_t mask, n;
	unsigned char *arena;
	size_t arena_len, arena_cap;
	struct nl_err *err;  /* of the feed call in progress */
};

int
nl_tok_trainer_new(struct nl_tok_trainer **out, struct nl_err *err)
{
	struct nl_tok_trainer *tr;

	*out = NULL;
	if ((tr = calloc(1, sizeof *tr)) == NULL ||
	    (tr->slots = calloc(1024, sizeof *tr->slots)) == NULL) {
		free(tr);
		return nl_err_set(err, NL_ENOMEM, "out of memory");
	}
	tr->mask = 1023;
	*out = tr;
	return 0;
}

void
nl_tok_trainer_free(struct nl_tok_trainer *tr)
{
	if (tr == NULL)
		return;
	free(tr->slots);
	free(tr->arena);
	free(tr);
}

static int
words_grow(struct nl_tok_trainer *tr)
{
	size_t cap = 2 * (tr->mask + 1);
	struct wslot *ns = calloc(cap, sizeof *ns);

	if (ns == NULL)
		return nl_err_set(tr->err, NL_ENOMEM, "out of memory counting words");
	for (size_t i = 0; i <= tr->mask; i++) {
		if (tr->slots[i].len == 0)
			continue;
		size_t j = tr->slots[i].hash & (cap - 1);
		while (ns[j].len != 0)
			j = (j + 1) & (cap - 1);
		ns[j] = tr->slots[i];
	}
	free(tr->slots);
	tr->slots = ns;
	tr->mask = cap - 1;
	return 0;
}

static int
word_add(struct nl_tok_trainer *tr, const unsigned char *p, size_t n)
{
	uint64_t h = hash_bytes(p, n);
	size_t i;

	for (i = h & tr->mask; tr->slots[i].len != 0; i = (i + 1) & tr->mask) {
		struct wslot *s = &tr->slots[i];
		if (s->hash == h && s->len == n && memcmp(tr->arena + s->off, p, n) == 0) {
			s->count++;
			return 0;
		}
	}
	if (tr->arena_cap - tr->arena_len < n) {
		size_t cap = tr->arena_cap ? 2 * tr->arena_cap : 1u << 16;
		unsigned char *a = realloc(tr->arena, cap);
		if (a == NULL)
			return nl_err_set(tr->err, NL_ENOMEM, "out of memory counting words");
		tr->arena = a;
		tr->arena_cap = cap;
	}
	memcpy(tr->arena + tr->arena_len, p, n);
	tr->slots[i].hash = h;
	tr->slots[i].count = 1;
	tr->slots[i].off = tr->arena_len;
	tr->slots[i].len = (uint32_t)n;
	tr->arena_len += n;
	if (++tr->n * 2 > tr->mask + 1)
		return words_grow(tr);
	return 0;
}

static int
tr_run(void *ctx, const unsigned char *t, size_t n, int more, size_t *used)
{
	struct nl_tok_trainer *tr = ctx;
	size_t pos = 0, k;

	while (pos < n && (k = pretok(t + pos, n - pos, more)) > 0) {
		if (word_add(tr, t + pos, k) < 0)
			return -1;
		pos += k;
	}
	*used = pos;
	return 0;
}

int
nl_tok_trainer_feed(struct nl_tok_trainer *tr, const unsigned char *text, size_t n, int final,
    struct nl_err *err)
{
	int rc;

	tr->err = err;
	rc = stream_feed(&tr->carry, text, n, final, tr_run, tr);
	tr->err = NULL;
	return rc;
}

/* The merge state: words as symbol arrays with counts, pairs with counts and the words
 * they occur in, and a max-heap of (count, pair). Counts of existing pairs only ever go
 * down (a merge creates only pairs that contain the new id), so the heap may hold stale,
 * too-high counts: a popped entry whose count is out of date is pushed back with the
 * current one, and the first entry that is up to date is the true maximum. */
struct tr_word {
	size_t off;
	uint32_t len;
	uint64_t count;
};

struct tr_pair {
	uint32_t left, right;
	int64_t count;
	uint32_t *words;
	uint32_t n_words, cap_words;
};

struct tr_heapent {
	int64_t count;
	uint32_t pair;
};

struct trs {
	struct tr_word *words;
	size_t n_words;
	uint32_t *syms;
	struct tr_pair *pairs;
	size_t n_pairs, cap_pairs;
	struct pmap index;          /* (left, right) -> pair */
	struct tr_heapent *heap;
	size_t n_heap, cap_heap;
	uint32_t *fresh;            /* pairs created by the current merge */
	size_t n_fresh, cap_fresh;
	unsigned char *pieces;      /* bytes of every id so far, for tie-breaks */
	size_t pieces_len, pieces_cap;
	size_t *piece_off;
	uint32_t *piece_len;
	uint32_t *merges;
	struct nl_err *err;
};

/* Compare the byte strings a1 a2 and b1 b2 (pieces of pair x and pair y). */
static int
cmp_concat(const struct trs *s, const struct tr_pair *x, const struct tr_pair *y)
{
	const unsigned char *xp[2], *yp[2];
	size_t xl[2], yl[2], xo = 0, yo = 0;
	int xi = 0, yi = 0;

	xp[0] = s->pieces + s->piece_off[x->left];
	xl[0] = s->piece_len[x->left];
	xp[1] = s->pieces + s->piece_off[x->right];
	xl[1] = s->piece_len[x->right];
	yp[0] = s->pieces + s->piece_off[y->left];
	yl[0] = s->piece_len[y->left];
	yp[1] = s->pieces + s->piece_off[y->right];
	yl[1] = s->piece_len[y->right];
	for (;;) {
		while (xi < 2 && xo == xl[xi]) {
			xi++;
			xo = 0;
		}
		while (yi < 2 && yo == yl[yi]) {
			yi++;
			yo = 0;
		}
		if (xi == 2 || yi == 2)
			return (yi == 2) - (xi == 2);
		size_t k = xl[xi] - xo < yl[yi] - yo ? xl[xi] - xo : yl[yi] - yo;
		int c = memcmp(xp[xi] + xo, yp[yi] + yo, k);
		if (c != 0)
			return c;
		xo += k;
		yo += k;
	}
}

/* Does a come out of the heap before b? Higher count; then the pair whose bytes sort first;
 * then the smaller left id; then the smaller right id (pieces can repeat). */
static int
heap_before(const struct trs *s, const struct tr_heapent *a, const struct tr_heapent *b)
{
	if (a->count != b->count)
		return a->count > b->count;
	const struct tr_pair *x = &s->pairs[a->pair], *y = &s->pairs[b->pair];
	int c = cmp_concat(s, x, y);
	if (c != 0)
		return c < 0;
	if (x->left != y->left)
		return x->left < y->left;
	return x->right < y->right;
}

static int
tr_push(struct trs *s, uint32_t pair)
{
	struct tr_heapent v = { s->pairs[pair].count, pair };
	size_t i;

	if (s->n_heap == s->cap_heap) {
		size_t cap = s->cap_heap ? 2 * s->cap_heap : 1024;
		struct tr_heapent *h = realloc(s->heap, cap * sizeof *h);
		if (h == NULL)
			return nl_err_set(s->err, NL_ENOMEM, "out of memory training");
		s->heap = h;
		s->cap_heap = cap;
	}
	for (i = s->n_heap++; i > 0; ) {
		size_t up = (i - 1) / 2;
		if (!heap_before(s, &v, &s->heap[up]))
			break;
		s->heap[i] = s->heap[up];
		i = up;
	}
	s->heap[i] = v;
	return 0;
}

static struct tr_heapent
tr_pop(struct trs *s)
{
	struct tr_heapent top = s->heap[0], v = s->heap[--s->n_heap];
	size_t i = 0, c;

	while ((c = 2 * i + 1) < s->n_heap) {
		if (c + 1 < s->n_heap && heap_before(s, &s->heap[c + 1], &s->heap[c]))
			c++;
		if (!heap_before(s, &s->heap[c], &v))
			break;
		s->heap[i] = s->heap[c];
		i = c;
	}
	if (s->n_heap > 0)
		s->heap[i] = v;
	return top;
}

/* Add delta to pair (a, b) in word w, creating it (and noting it as fresh) if new. */
static int
pair_add(struct trs *s, uint32_t a, uint32_t b, int64_t delta, uint32_t w)
{
	int found;
	uint32_t *slot = pmap_put(&s->index, pair_key(a, b), (uint32_t)s->n_pairs, &found, s->err);
	struct tr_pair *p;

	if (slot == NULL)
		return -1;
	if (!found) {
		if (s->n_pairs == UINT32_MAX - 1)
			return nl_err_set(s->err, NL_ERANGE, "too many distinct pairs");
		if (s->n_pairs == s->cap_pairs) {
			size_t cap = s->cap_pairs ? 2 * s->cap_pairs : 4096;
			p = realloc(s->pairs, cap * sizeof *p);
			if (p == NULL)
				return nl_err_set(s->err, NL_ENOMEM, "out of memory training");
			s->pairs = p;
			s->cap_pairs = cap;
		}
		if (s->n_fresh == s->cap_fresh) {
			size_t cap = s->cap_fresh ? 2 * s->cap_fresh : 1024;
			uint32_t *f = realloc(s->fresh, cap * sizeof *f);
			if (f == NULL)
				return nl_err_set(s->err, NL_ENOMEM, "out of memory training");
			s->fresh = f;
			s->cap_fresh = cap;
		}
		s->fresh[s->n_fresh++] = (uint32_t)s->n_pairs;
		p = &s->pairs[s->n_pairs++];
		memset(p, 0, sizeof *p);
		p->left = a;
		p->right = b;
	} else {
		p = &s->pairs[*slot];
	}
	p->count += delta;
	if (delta > 0 && (p->n_words == 0 || p->words[p->n_words - 1] != w)) {
		if (p->n_words == p->cap_words) {
			uint32_t cap = p->cap_words ? 2 * p->cap_words : 4;
			uint32_t *nw = realloc(p->words, (size_t)cap * sizeof *nw);
			if (nw == NULL)
				return nl_err_set(s->err, NL_ENOMEM, "out of memory training");
			p->words = nw;
			p->cap_words = cap;
		}
		p->words[p->n_words++] = w;
	}
	return 0;
}

/* An existing pair loses delta occurrences. */
static inline void
pair_sub(struct trs *s, uint32_t a, uint32_t b, int64_t delta)
{
	uint32_t i = pmap_get(&s->index, pair_key(a, b));

	if (i != NO_RANK)
		s->pairs[i].count -= delta;
}

/* Replace every (a, b) in word w by x, left to right, updating neighbouring pair counts.
 * The left neighbour is read after earlier replacements, so "a b a b" correctly moves
 * its count from (x, a) to (x, x). */
static int
merge_word(struct trs *s, uint32_t w, uint32_t a, uint32_t b, uint32_t x)
{
	struct tr_word *wd = &s->words[w];
	uint32_t *sym = s->syms + wd->off;
	uint32_t len = wd->len, out = 0, i = 0;
	int64_t c = (int64_t)wd->count;

	while (i < len) {
		if (i + 1 < len && sym[i] == a && sym[i + 1] == b) {
			if (out > 0) {
				pair_sub(s, sym[out - 1], a, c);
				if (pair_add(s, sym[out - 1], x, c, w) < 0)
					return -1;
			}
			if (i + 2 < len) {
				pair_sub(s, b, sym[i + 2], c);
				if (pair_add(s, x, sym[i + 2], c, w) < 0)
					return -1;
			}
			sym[out++] = x;
			i += 2;
		} else {
			sym[out++] = sym[i++];
		}
	}
	wd->len = out;
	return 0;
}

static void
trs_free(struct trs *s)
{
	free(s->words);
	free(s->syms);
	for (size_t i = 0; i < s->n_pairs; i++)
		free(s->pairs[i].words);
	free(s->pairs);
	pmap_free(&s->index);
	free(s->heap);
	free(s->fresh);
	free(s->pieces);
	free(s->piece_off);
	free(s->piece_len);
	free(s->merges);
}

/* Words of two or more bytes from the count table, and their initial pairs. */
static int
trs_init(struct trs *s, const struct nl_tok_trainer *tr, uint32_t n_merges)
{
	size_t n_syms = 0, k = 0;
	uint32_t v = NL_TOK_BASE + n_merges;

	for (size_t i = 0; i <= tr->mask; i++) {
		if (tr->slots[i].len >= 2) {
			s->n_words++;
			n_syms += tr->slots[i].len;
		}
	}
	if (s->n_words >= UINT32_MAX)
		return nl_err_set(s->err, NL_ERANGE, "too many distinct words");
	s->words = malloc((s->n_words + 1) * sizeof *s->words);
	s->syms = malloc((n_syms + 1) * sizeof *s->syms);
	s->piece_off = malloc((size_t)v * sizeof *s->piece_off);
	s->piece_len = malloc((size_t)v * sizeof *s->piece_len);
	s->merges = malloc(((size_t)2 * n_merges + 1) * sizeof *s->merges);
	s->pieces_cap = 4096;
	s->pieces = malloc(s->pieces_cap);
	if (s->words == NULL || s->syms == NULL || s->piece_off == NULL || s->piece_len == NULL ||
	    s->merges == NULL || s->pieces == NULL)
		return nl_err_set(s->err, NL_ENOMEM, "out of memory training");
	for (uint32_t i = 0; i < 256; i++) {
		s->pieces[i] = (unsigned char)i;
		s->piece_off[i] = i;
		s->piece_len[i] = 1;
	}
	s->piece_off[256] = 256;
	s->piece_len[256] = 0;
	s->pieces_len = 256;
	n_syms = 0;
	for (size_t i = 0; i <= tr->mask; i++) {
		const struct wslot *ws = &tr->slots[i];
		if (ws->len < 2)
			continue;
		s->words[k].off = n_syms;
		s->words[k].len = ws->len;
		s->words[k].count = ws->count;
		for (uint32_t j = 0; j < ws->len; j++)
			s->syms[n_syms + j] = tr->arena[ws->off + j];
		n_syms += ws->len;
		k++;
	}
	if (pmap_init(&s->index, 1u << 16, s->err) < 0)
		return -1;
	for (size_t w = 0; w < s->n_words; w++) {
		const uint32_t *sym = s->syms + s->words[w].off;
		for (uint32_t j = 0; j + 1 < s->words[w].len; j++)
			if (pair_add(s, sym[j], sym[j + 1], (int64_t)s->words[w].count, (uint32_t)w) < 0)
				return -1;
	}
	s->n_fresh = 0;
	for (size_t i = 0; i < s->n_pairs; i++)
		if (s->pairs[i].count >= 2 && tr_push(s, (uint32_t)i) < 0)
			return -1;
	return 0;
}

int
nl_tok_train(struct nl_tok_trainer *tr, uint32_t vocab_size, struct nl_tok **tok,
    struct nl_err *err)
{
	struct trs s;
	uint32_t want, m = 0, *merges;

	*tok = NULL;
	if (vocab_size < NL_TOK_BASE || vocab_size > NL_TOK_MAX_VOCAB)
		return nl_err_set(err, NL_ERANGE, "vocabulary size %" PRIu32 " is not %u..%u",
		    vocab_size, (unsigned)NL_TOK_BASE, (unsigned)NL_TOK_MAX_VOCAB);
	/* a document left open ends here */
	if (tr->carry.len > 0 && nl_tok_trainer_feed(tr, NULL, 0, 1, err) < 0)
		return -1;
	want = vocab_size - NL_TOK_BASE;
	memset(&s, 0, sizeof s);
	s.err = err;
	if (trs_init(&s, tr, want) < 0)
		goto fail;
	while (m < want && s.n_heap > 0) {
		struct tr_heapent top = tr_pop(&s);
		struct tr_pair *p = &s.pairs[top.pair];
		if (p->count != top.count) {
			if (p->count >= 2 && tr_push(&s, top.pair) < 0)
				goto fail;
			continue;
		}
		uint32_t a = p->left, b = p->right, x = NL_TOK_BASE + m;
		uint32_t *list = p->words, n_list = p->n_words;
		p->words = NULL;
		p->n_words = p->cap_words = 0;
		p->count = 0;
		s.merges[2 * m] = a;
		s.merges[2 * m + 1] = b;
		/* the new piece, for later tie-breaks */
		size_t len = (size_t)s.piece_len[a] + s.piece_len[b];
		if (s.pieces_cap - s.pieces_len < len) {
			size_t cap = 2 * s.pieces_cap + len;
			unsigned char *np = realloc(s.pieces, cap);
			if (np == NULL) {
				free(list);
				nl_err_set(err, NL_ENOMEM, "out of memory training");
				goto fail;
			}
			s.pieces = np;
			s.pieces_cap = cap;
		}
		memcpy(s.pieces + s.pieces_len, s.pieces + s.piece_off[a], s.piece_len[a]);
		memcpy(s.pieces + s.pieces_len + s.piece_len[a], s.pieces + s.piece_off[b],
		    s.piece_len[b]);
		s.piece_off[x] = s.pieces_len;
		s.piece_len[x] = (uint32_t)len;
		s.pieces_len += len;
		m++;
		s.n_fresh = 0;
		for (uint32_t i = 0; i < n_list; i++) {
			if (merge_word(&s, list[i], a, b, x) < 0) {
				free(list);
				goto fail;
			}
		}
		free(list);
		/* the merged pair itself was counted down to zero along the way, or is stale */
		s.pairs[top.pair].count = 0;
		for (size_t i = 0; i < s.n_fresh; i++)
			if (s.pairs[s.fresh[i]].count >= 2 && tr_push(&s, s.fresh[i]) < 0)
				goto fail;
	}
	merges = s.merges;
	s.merges = NULL;
	trs_free(&s);
	return tok_build(tok, 1, merges, m, err);
fail:
	trs_free(&s);
	return -1;
}
