/* nl — see LICENSE. Token streams: writer, reader (binary and text forms), tokenizer
 * lookup, and the corpus-to-stream tokenize loop with the held-out split. */
#include "data.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tfile.h"

#define DATA_CHUNK 65536 /* rows converted per write */

struct nl_data_writer {
	struct nl_io *out;
	struct nl_tfile *tf;
	int mode;
	enum nl_dtype dtype;
	uint32_t vocab;
	uint64_t rows;
	unsigned char *buf; /* DATA_CHUNK rows in the file's dtype, or text */
};

void
nl_data_writer_free(struct nl_data_writer *w)
{
	if (w == NULL)
		return;
	nl_tfile_free(w->tf);
	free(w->buf);
	free(w);
}

/* A writer of a stream by tokenizer tok, or with tok NULL of ids below vocab
 * (tokenizer.type=ids, no <eot>). */
static int
writer_open(struct nl_data_writer **wp, struct nl_io *out, const struct nl_tok *tok,
    uint32_t vocab, int mode, const struct nl_meta *extra, int level, struct nl_err *err)
{
	struct nl_data_writer *w = calloc(1, sizeof *w);
	struct nl_meta meta;
	char num[32];

	*wp = NULL;
	nl_meta_init(&meta);
	if (w == NULL)
		return nl_err_set(err, NL_ENOMEM, "out of memory");
	w->out = out;
	w->mode = mode;
	w->vocab = tok ? nl_tok_vocab_size(tok) : vocab;
	w->dtype = w->vocab <= 65536 ? NL_DTYPE_U16 : NL_DTYPE_U32;
	/* text: up to 2 numbers of 10 digits, a space and a newline per row */
	w->buf = malloc(DATA_CHUNK * 24);
	if (w->buf == NULL) {
		nl_err_set(err, NL_ENOMEM, "out of memory");
		goto fail;
	}
	if (mode & NL_DATA_TEXT) {
		*wp = w;
		return 0;
	}
	snprintf(num, sizeof num, "%" PRIu32, w->vocab);
	if ((extra && nl_meta_copy(&meta, extra, err) < 0) ||
	    nl_meta_set(&meta, "kind", "tokens", err) < 0 ||
	    nl_meta_set(&meta, "stream.flags", mode & NL_DATA_RANK2 ? "1" : "0", err) < 0 ||
	    nl_meta_set(&meta, "tokenizer.type", tok ? nl_tok_type(tok) : "ids", err) < 0 ||
	    nl_meta_set(&meta, "tokenizer.vocab_size", num, err) < 0 ||
	    (tok && nl_meta_set(&meta, "tokenizer.eot", "256", err) < 0) ||
	    nl_meta_set(&meta, "tokenizer.hash", tok ? nl_tok_hash(tok) : "ids", err) < 0)
		goto fail;
	struct nl_tinfo ti = { "tokens", w->dtype, mode & NL_DATA_RANK2 ? 2 : 1,
		{ NL_DIM_STREAM, 2 } };
	if (nl_tfile_open_write(&w->tf, out, &meta, level, err) < 0 ||
	    nl_tfile_begin(w->tf, &ti, err) < 0)
		goto fail;
	nl_meta_free(&meta);
	*wp = w;
	return 0;
fail:
	nl_meta_free(&meta);
	nl_data_writer_free(w);
	return -1;
}

int
nl_data_writer_open(struct nl_data_writer **w, struct nl_io *out, const struct nl_tok *tok,
    int mode, const struct nl_meta *extra, int level, struct nl_err *err)
{
	return writer_open(w, out, tok, 0, mode, extra, level, err);
}

int
nl_data_writer_open_ids(struct nl_data_writer **w, struct nl_io *out, uint32_t vocab,
    int mode, const struct nl_meta *extra, int level, struct nl_err *err)
{
	return writer_open(w, out, NULL, vocab, mode, extra, level, err);
}

int
nl_data_put(struct nl_data_writer *w, const uint32_t *ids, const uint8_t *flags, size_t n,
    struct nl_err *err)
{
	int rank2 = (w->mode & NL_DATA_RANK2) != 0;

	while (n > 0) {
		size_t k = n < DATA_CHUNK ? n : DATA_CHUNK, used = 0;
		for (size_t i = 0; i < k; i++)
			if (ids[i] >= w->vocab)
				return nl_err_set(err, NL_ERANGE,
				    "token %" PRIu32 " at position %" PRIu64 " is out of range (vocab %" PRIu32 ")",
				    ids[i], w->rows + i, w->vocab);
		if (w->mode & NL_DATA_TEXT) {
			for (size_t i = 0; i < k; i++)
				used += (size_t)(rank2 ?
				    sprintf((char *)w->buf + used, "%" PRIu32 " %u\n", ids[i], flags ? flags[i] : 0u) :
				    sprintf((char *)w->buf + used, "%" PRIu32 "\n", ids[i]));
			if (nl_io_write(w->out, w->buf, used, err) < 0)
				return -1;
		} else {
			size_t per = rank2 ? 2 : 1;
			for (size_t i = 0; i < k; i++)
				for (size_t j = 0; j < per; j++) {
					uint32_t v = j == 0 ? ids[i] : flags ? flags[i] : 0u;
					if (w->dtype == NL_DTYPE_U16) {
						uint16_t h = (uint16_t)v;
						memcpy(w->buf + 2 * (i * per + j), &h, 2);
					} else {
						memcpy(w->buf + 4 * (i * per + j), &v, 4);
					}
				}
			if (nl_tfile_write(w->tf, w->buf, k * per * nl_dtype_size(w->dtype), err) < 0)
				return -1;
		}
		w->rows += k;
		ids += k;
		if (flags)
			flags += k;
		n -= k;
	}
	return 0;
}

uint64_t
nl_data_writer_rows(const struct nl_data_writer *w)
{
	return w->rows;
}

int
nl_data_writer_close(struct nl_data_writer *w, struct nl_err *err)
{
	int rc = 0;

	if (w->tf != NULL) {
		rc = nl_tfile_end(w->tf, err);
		if (rc == 0)
			rc = nl_tfile_close(w->tf, err);
		else
			nl_tfile_free(w->tf);
		w->tf = NULL;
	}
	nl_data_writer_free(w);
	return rc;
}

/* ---- reading ---- */

struct nl_data_reader {
	struct nl_io *in;
	struct nl_tfile *tf;    /* NULL: the text form */
	struct nl_meta meta;    /* the first member's HEAD */
	uint32_t vocab;
	int rank2;
	enum nl_dtype dtype;
	uint64_t rows;
	unsigned char buf[8 * DATA_CHUNK];
	char line[64];
};

void
nl_data_reader_free(struct nl_data_reader *r)
{
	if (r == NULL)
		return;
	nl_tfile_free(r->tf);
	nl_meta_free(&r->meta);
	free(r);
}

/* The tokens tensor of the current member, checked against the first member's HEAD. */
static int
reader_member(struct nl_data_reader *r, int first, struct nl_err *err)
{
	static const char *const same[] = { "tokenizer.type", "tokenizer.vocab_size",
		"tokenizer.hash", "stream.flags" };
	const struct nl_meta *m = nl_tfile_meta_all(r->tf);
	const char *kind = nl_meta_get(m, "kind");
	struct nl_tinfo ti;
	int rc;

	if (kind == NULL || strcmp(kind, "tokens") != 0)
		return nl_err_set(err, NL_EFORMAT, "not a token stream (kind=%s)", kind ? kind : "none");
	if (first) {
		const char *v = nl_meta_get(m, "tokenizer.vocab_size");
		char *end;
		errno = 0;
		unsigned long long vs = v ? strtoull(v, &end, 10) : 0;
		/* text tokenizers hold the 256 bytes and <eot>; a task's ids may be fewer */
		const char *type = nl_meta_get(m, "tokenizer.type");
		unsigned long long least = type && strcmp(type, "ids") == 0 ? 1 : NL_TOK_BASE;
		if (v == NULL || *end || errno || vs < least || vs > NL_TOK_MAX_VOCAB)
			return nl_err_set(err, NL_EFORMAT, "token stream: bad tokenizer.vocab_size '%s'",
			    v ? v : "");
		if (r->vocab != 0 && r->vocab != vs)
			return nl_err_set(err, NL_EFORMAT,
			    "token stream has vocab %llu, the tokenizer %" PRIu32, vs, r->vocab);
		r->vocab = (uint32_t)vs;
		if (nl_meta_copy(&r->meta, m, err) < 0)
			return -1;
	} else {
		for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
			const char *a = nl_meta_get(&r->meta, same[i]), *b = nl_meta_get(m, same[i]);
			if ((a == NULL) != (b == NULL) || (a && strcmp(a, b) != 0))
				return nl_err_set(err, NL_EFORMAT, "concatenated token streams differ in %s",
				    same[i]);
		}
	}
	if ((rc = nl_tfile_next(r->tf, &ti, err)) < 0)
		return -1;
	if (rc == 0 || strcmp(ti.name, "tokens") != 0)
		return nl_err_set(err, NL_EFORMAT, "token stream without a 'tokens' tensor first");
	int rank2 = ti.rank == 2 && ti.dims[1] == 2;
	if ((ti.dtype != NL_DTYPE_U16 && ti.dtype != NL_DTYPE_U32) || !(ti.rank == 1 || rank2))
		return nl_err_set(err, NL_EFORMAT, "'tokens' is %s %d-d: want U16 or U32, (n) or (n,2)",
		    nl_dtype_name(ti.dtype), ti.rank);
	if (!first && rank2 != r->rank2)
		return nl_err_set(err, NL_EFORMAT, "concatenated token streams differ in rank");
	r->rank2 = rank2;
	r->dtype = ti.dtype;
	return 0;
}

int
nl_data_reader_open(struct nl_data_reader **rp, struct nl_io *in, uint32_t vocab_size,
    struct nl_err *err)
{
	struct nl_data_reader *r = calloc(1, sizeof *r);
	const unsigned char *p;
	size_t got;

	*rp = NULL;
	if (r == NULL)
		return nl_err_set(err, NL_ENOMEM, "out of memory");
	r->in = in;
	r->vocab = vocab_size;
	nl_meta_init(&r->meta);
	if (nl_io_peek(in, &p, 8, &got, err) < 0)
		goto fail;
	if (got == 8 && memcmp(p, NL_TFILE_MAGIC, 8) == 0) {
		if (nl_tfile_open_read(&r->tf, in, err) < 0 || reader_member(r, 1, err) < 0)
			goto fail;
	} else if (vocab_size == 0) {
		nl_err_set(err, NL_EFORMAT, "text ids need a tokenizer to check them against");
		goto fail;
	}
	*rp = r;
	return 0;
fail:
	nl_data_reader_free(r);
	return -1;
}

const struct nl_meta *
nl_data_reader_meta(const struct nl_data_reader *r)
{
	return &r->meta;
}

/* A decimal number at *p (digits only, no sign), advancing *p; -1 if none or too large. */
static int
parse_uint(const char **p, unsigned long long max, unsigned long long *out)
{
	unsigned long long v = 0;
	const char *s = *p;

	if (*s < '0' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (v > (max - (unsigned)(*s - '0')) / 10)
			return -1;
		v = v * 10 + (unsigned)(*s - '0');
	}
	*p = s;
	*out = v;
	return 0;
}

/* One text row: "id" or "id flags" (one space or tab between, an optional CR at the end);
 * returns 1, 0 at end, -1 on error. */
static int
read_text_row(struct nl_data_reader *r, uint32_t *id, uint8_t *flag, struct nl_err *err)
{
	size_t n = 0;
	char c;
	ptrdiff_t k;

	while ((k = nl_io_read(r->in, &c, 1, err)) == 1 && c != '\n') {
		if (n + 1 >= sizeof r->line || c == '\0')
			return nl_err_set(err, NL_EFORMAT, "line %" PRIu64 ": %s", r->rows + 1,
			    c == '\0' ? "NUL byte" : "too long");
		r->line[n++] = c;
	}
	if (k < 0)
		return -1;
	if (k == 0 && n == 0)
		return 0;
	if (n > 0 && r->line[n - 1] == '\r')
		n--;
	r->line[n] = '\0';
	const char *p = r->line;
	unsigned long long v, f = 0;
	if (parse_uint(&p, UINT32_MAX, &v) < 0 ||
	    ((*p == ' ' || *p == '\t') && (p++, parse_uint(&p, 255, &f) < 0)) || *p != '\0' ||
	    (f & ~(unsigned long long)(NL_DATA_DOC | NL_DATA_SCORE)) != 0)
		return nl_err_set(err, NL_EFORMAT, "line %" PRIu64 ": not an id: '%s'", r->rows + 1,
		    r->line);
	if (v >= r->vocab)
		return nl_err_set(err, NL_ERANGE,
		    "token %llu at position %" PRIu64 " is out of range (vocab %" PRIu32 ")", v,
		    r->rows, r->vocab);
	*id = (uint32_t)v;
	*flag = (uint8_t)f;
	return 1;
}

int
nl_data_read(struct nl_data_reader *r, uint32_t *ids, uint8_t *flags, size_t max, size_t *got,
    struct nl_err *err)
{
	*got = 0;
	if (r->tf == NULL) {
		while (*got < max) {
			uint8_t f = 0;
			int k = read_text_row(r, &ids[*got], &f, err);
			if (k < 0)
				return -1;
			if (k == 0)
				break;
			if (flags)
				flags[*got] = f;
			(*got)++;
			r->rows++;
		}
		return 0;
	}
	size_t es = nl_dtype_size(r->dtype), per = r->rank2 ? 2 : 1;
	while (*got == 0) {
		size_t want = max < DATA_CHUNK ? max : DATA_CHUNK, n;
		if (nl_tfile_read(r->tf, r->buf, want * per * es, &n, err) < 0)
			return -1;
		if (n == 0) {
			int k = nl_tfile_next(r->tf, &(struct nl_tinfo){ 0 }, err);
			if (k < 0)
				return -1;
			if (k == 1)
				return nl_err_set(err, NL_EFORMAT, "token stream with a second tensor");
			if ((k = nl_tfile_next_member(r->tf, err)) < 0)
				return -1;
			if (k == 0)
				return 0;
			if (reader_member(r, 0, err) < 0)
				return -1;
			continue;
		}
		if (n % (per * es) != 0) {
			/* rows straddle a read: top up to a whole row */
			size_t more = per * es - n % (per * es), m;
			if (nl_tfile_read(r->tf, r->buf + n, more, &m, err) < 0)
				return -1;
			if (m != more)
				return nl_err_set(err, NL_EFORMAT, "token stream ends inside a row");
			n += m;
		}
		size_t rows = n / (per * es);
		for (size_t i = 0; i < rows; i++) {
			uint32_t v[2] = { 0, 0 };
			for (size_t j = 0; j < per; j++) {
				if (es == 2) {
					uint16_t h;
					memcpy(&h, r->buf + 2 * (i * per + j), 2);
					v[j] = h;
				} else {
					memcpy(&v[j], r->buf + 4 * (i * per + j), 4);
				}
			}
			if (v[1] & ~(uint32_t)(NL_DATA_DOC | NL_DATA_SCORE))
				return nl_err_set(err, NL_EFORMAT,
				    "row %" PRIu64 ": flags %" PRIu32 " set reserved bits", r->rows + i, v[1]);
			if (v[0] >= r->vocab)
				return nl_err_set(err, NL_ERANGE,
				    "token %" PRIu32 " at position %" PRIu64 " is out of range (vocab %" PRIu32 ")",
				    v[0], r->rows + i, r->vocab);
			ids[i] = v[0];
			if (flags)
				flags[i] = (uint8_t)v[1];
		}
		*got = rows;
		r->rows += rows;
	}
	return 0;
}

/* ---- tokenizer lookup ---- */

int
nl_data_load_tokenizer(struct nl_tok **tok, const char *spec, struct nl_err *err)
{
	struct nl_io in;
	const unsigned char *p;
	size_t got;
	int rc = -1;

	if (strcmp(spec, "bytes") == 0)
		return nl_tok_new_bytes(tok, err);
	if (nl_io_open_read(&in, spec, NL_IO_FORCE, err) < 0)
		return -1;
	if (nl_io_peek(&in, &p, 8, &got, err) < 0)
		goto out;
	if (got == 8 && memcmp(p, NL_TFILE_MAGIC, 8) == 0) {
		rc = nl_tok_load(tok, &in, err);
		goto out;
	}
	/* a checkpoint bundle: find its tokenizer.nlt member */
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	int r;
	if (a == NULL) {
		nl_err_set(err, NL_ENOMEM, "out of memory");
		goto out;
	}
	archive_read_support_format_tar(a);
	archive_read_support_filter_all(a);
	if (nl_io_archive_open(a, &in, err) < 0) {
		nl_err_set(err, NL_EFORMAT, "not a tokenizer file or a checkpoint bundle");
		archive_read_free(a);
		goto out;
	}
	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		const char *name = archive_entry_pathname(e);
		if (name == NULL || strcmp(name, "tokenizer.nlt") != 0)
			continue;
		struct nl_io entry;
		nl_io_open_archive_entry(&entry, a, name);
		rc = nl_tok_load(tok, &entry, err);
		nl_io_abort(&entry);
		if (rc < 0)
			nl_err_prefix(err, "tokenizer.nlt");
		break;
	}
	if (r == ARCHIVE_EOF)
		nl_err_set(err, NL_EFORMAT, "checkpoint bundle without a tokenizer.nlt member");
	else if (r != ARCHIVE_OK)
		nl_err_set(err, NL_EFORMAT, "not a tokenizer file or a checkpoint bundle (%s)",
		    archive_error_string(a));
	archive_read_free(a);
out:
	nl_io_abort(&in);
	return rc;
}

/* ---- the tokenize loop ---- */

struct tokenize_state {
	struct nl_tok_enc *enc;
	uint32_t *ids;
	uint8_t *flags;
	size_t n, cap, flags_cap;
	int rank2;
};

/* Encode a piece of the current document (final ends it) and write the ids. */
static int
emit(struct tokenize_state *s, struct nl_data_writer *w, int doc_start, const unsigned char *text,
    size_t len, int final, struct nl_err *err)
{
	s->n = 0;
	if (doc_start) {
		if (s->cap < 1) {
			uint32_t *p = realloc(s->ids, 1024 * sizeof *p);
			if (p == NULL)
				return nl_err_set(err, NL_ENOMEM, "out of memory");
			s->ids = p;
			s->cap = 1024;
		}
		s->ids[s->n++] = NL_TOK_EOT;
	}
	if ((len > 0 || final) && nl_tok_encode(s->enc, text, len, final, &s->ids, &s->n, &s->cap, err) < 0)
		return -1;
	if (s->n == 0)
		return 0;
	uint8_t *fl = NULL;
	if (s->rank2) {
		if (s->flags_cap < s->n) {
			uint8_t *p = realloc(s->flags, s->cap);
			if (p == NULL)
				return nl_err_set(err, NL_ENOMEM, "out of memory");
			s->flags = p;
			s->flags_cap = s->cap;
		}
		for (size_t i = 0; i < s->n; i++)
			s->flags[i] = NL_DATA_SCORE;
		if (doc_start)
			s->flags[0] |= NL_DATA_DOC;
		fl = s->flags;
	}
	return nl_data_put(w, s->ids, fl, s->n, err);
}

int
nl_data_tokenize(struct nl_corpus *c, const struct nl_tok *tok, struct nl_data_writer *w,
    struct nl_data_writer *holdout, uint64_t split, struct nl_err *err)
{
	struct tokenize_state s;
	const unsigned char *data;
	size_t len;
	int doc_start, r, open_doc = 0, rc = -1;
	uint64_t pos = 0;
	struct nl_data_writer *cur = w;

	memset(&s, 0, sizeof s);
	s.rank2 = (w->mode & NL_DATA_RANK2) != 0;
	if (nl_tok_enc_new(&s.enc, tok, err) < 0)
		return -1;
	while ((r = nl_corpus_read(c, &data, &len, &doc_start, err)) == 1) {
		if (doc_start && open_doc && emit(&s, cur, 0, NULL, 0, 1, err) < 0)
			goto out;
		open_doc = 1;
		if (holdout != NULL && cur == w && pos + len > split) {
			/* the split lies in this piece (or at its start): finish the part before it
			 * as a document of w, go on in holdout as a new document */
			size_t head = (size_t)(split > pos ? split - pos : 0);
			if (head > 0 || !doc_start) {
				if (emit(&s, w, doc_start, data, head, 1, err) < 0)
					goto out;
				doc_start = 1;
			}
			cur = holdout;
			data += head;
			len -= head;
			pos += head;
		}
		if (emit(&s, cur, doc_start, data, len, 0, err) < 0)
			goto out;
		pos += len;
	}
	if (r < 0)
		goto out;
	if (open_doc && emit(&s, cur, 0, NULL, 0, 1, err) < 0)
		goto out;
	rc = 0;
out:
	nl_tok_enc_free(s.enc);
	free(s.ids);
	free(s.flags);
	return rc;
}

int
nl_data_split_point(struct nl_corpus *c, unsigned percent, uint64_t *split, struct nl_err *err)
{
	const unsigned char *data;
	size_t len;
	int doc_start, r;
	uint64_t total = 0, n_starts = 0, cap = 0, *starts = NULL;

	/* document start offsets, then the first at or after the cut */
	while ((r = nl_corpus_read(c, &data, &len, &doc_start, err)) == 1) {
		if (doc_start) {
			if (n_starts == cap) {
				cap = cap ? cap * 2 : 1024;
				uint64_t *p = realloc(starts, cap * sizeof *p);
				if (p == NULL) {
					free(starts);
					return nl_err_set(err, NL_ENOMEM, "out of memory");
				}
				starts = p;
			}
			starts[n_starts++] = total;
		}
		total += len;
	}
	if (r < 0) {
		free(starts);
		return -1;
	}
	uint64_t cut = total / 100 * percent + total % 100 * percent / 100;
	*split = cut;
	for (uint64_t i = 0; i < n_starts; i++)
		if (starts[i] >= cut) {
			*split = starts[i];
			break;
		}
	free(starts);
	return nl_corpus_rewind(c, err);
}

int
nl_data_learn(struct nl_corpus *c, uint32_t vocab_size, struct nl_tok **tok, struct nl_err *err)
{
	struct nl_tok_trainer *tr;
	const unsigned char *data;
	size_t len;
	int doc_start, r, open_doc = 0;

	if (nl_tok_trainer_new(&tr, err) < 0)
		return -1;
	while ((r = nl_corpus_read(c, &data, &len, &doc_start, err)) == 1) {
		if (doc_start && open_doc && nl_tok_trainer_feed(tr, NULL, 0, 1, err) < 0)
			break;
		if (nl_tok_trainer_feed(tr, data, len, 0, err) < 0)
			break;
		open_doc = 1;
	}
	if (r == 0 && open_doc && nl_tok_trainer_feed(tr, NULL, 0, 1, err) < 0)
		r = -1;
	if (r == 0)
		r = nl_tok_train(tr, vocab_size, tok, err);
	nl_tok_trainer_free(tr);
	return r == 0 ? 0 : -1;
}

int
nl_tokens_align_doc(const struct nl_tokens *tk, const char *align)
{
	if (strcmp(align, "auto") == 0)     /* examples of a task (nl-synth) */
		return tk->flags != NULL && nl_meta_get(&tk->meta, "task.name") != NULL;
	return strcmp(align, "doc") == 0;
}

int64_t
nl_tokens_eot(const struct nl_tokens *tk)
{
	const char *v = nl_meta_get(&tk->meta, "tokenizer.eot");
	char *end;
	if (v == NULL)
		return -1;
	long long x = strtoll(v, &end, 10);
	return end != v && *end == 0 && x >= 0 ? x : -1;
}

void
nl_tokens_init(struct nl_tokens *tk)
{
	memset(tk, 0, sizeof *tk);
	nl_meta_init(&tk->meta);
}

void
nl_tokens_free(struct nl_tokens *tk)
{
	free(tk->ids);
	free(tk->flags);
	nl_meta_free(&tk->meta);
	memset(tk, 0, sizeof *tk);
}

static int
tokens_reserve(struct nl_tokens *tk, size_t more, int with_flags, struct nl_err *err)
{
	if (tk->n + more <= tk->cap && (!with_flags || tk->flags))
		return 0;
	size_t cap = tk->cap ? tk->cap : 1 << 16;
	while (cap < tk->n + more)
		cap *= 2;
	int32_t *ids = realloc(tk->ids, cap * sizeof *ids);
	if (ids == NULL)
		return nl_err_set(err, NL_ENOMEM, "out of memory for %zu tokens", cap);
	tk->ids = ids;
	if (with_flags || tk->flags) {
		uint8_t *fl = realloc(tk->flags, cap);
		if (fl == NULL)
			return nl_err_set(err, NL_ENOMEM, "out of memory for %zu tokens", cap);
		if (tk->flags == NULL)   /* a rank-2 stream after rank-1 ones: those were all scored */
			memset(fl, NL_DATA_SCORE, tk->n);
		tk->flags = fl;
	}
	tk->cap = cap;
	return 0;
}

int
nl_tokens_open(struct nl_data_reader **r, struct nl_tokens *tk, struct nl_io *in,
    uint32_t vocab, struct nl_err *err)
{
	if (nl_data_reader_open(r, in, vocab, err) < 0)
		return -1;
	const struct nl_meta *m = nl_data_reader_meta(*r);
	const char *hash = nl_meta_get(m, "tokenizer.hash");
	const char *have = nl_meta_get(&tk->meta, "tokenizer.hash");
	if (hash && have && strcmp(hash, have) != 0) {
		nl_err_set(err, NL_EFORMAT,
		    "token stream uses another tokenizer than the first (hash %s, not %s)", hash, have);
		goto fail;
	}
	if (tk->meta.n == 0 && m->n > 0) {
		if (nl_meta_copy(&tk->meta, m, err) < 0)
			goto fail;
		const char *v = nl_meta_get(m, "tokenizer.vocab_size");
		tk->vocab = v ? (uint32_t)strtoul(v, NULL, 10) : 0;
	}
	return 0;
fail:
	nl_data_reader_free(*r);
	*r = NULL;
	return -1;
}

int
nl_tokens_fill(struct nl_tokens *tk, struct nl_data_reader *r, size_t max, size_t *got,
    struct nl_err *err)
{
	const struct nl_meta *m = nl_data_reader_meta(r);
	const char *flags = nl_meta_get(m, "stream.flags");
	int rank2 = flags && strcmp(flags, "1") == 0;
	uint32_t buf[4096];
	uint8_t fl[4096];
	*got = 0;
	while (max == 0 || *got < max) {
		size_t want = sizeof buf / sizeof buf[0], n;
		if (max && max - *got < want)
			want = max - *got;
		if (nl_data_read(r, buf, rank2 ? fl : NULL, want, &n, err) < 0)
			return -1;
		if (n == 0)
			break;
		if (tokens_reserve(tk, n, rank2, err) < 0)
			return -1;
		for (size_t i = 0; i < n; i++)
			tk->ids[tk->n + i] = (int32_t)buf[i];
		if (tk->flags)
			for (size_t i = 0; i < n; i++)
				tk->flags[tk->n + i] = rank2 ? fl[i] : NL_DATA_SCORE;
		tk->n += n;
		*got += n;
	}
	return 0;
}

int
nl_tokens_read(struct nl_tokens *tk, struct nl_io *in, uint32_t vocab, struct nl_err *err)
{
	struct nl_data_reader *r;
	size_t got;
	if (nl_tokens_open(&r, tk, in, vocab, err) < 0)
		return -1;
	int rc = nl_tokens_fill(tk, r, 0, &got, err);
	nl_data_reader_free(r);
	return rc;
}

int
nl_tokens_split(struct nl_tokens *tk, double percent, struct nl_tokens *tail, struct nl_err *err)
{
	size_t cut = (size_t)((double)tk->n * (100.0 - percent) / 100.0);
	size_t at = cut;

	/* a document start: <eot> in rank-1 streams, the DOC flag in rank-2 ones */
	while (at < tk->n && !(tk->flags ? (tk->flags[at] & NL_DATA_DOC) : tk->ids[at] == NL_TOK_EOT))
		at++;
	if (at == tk->n)
		at = cut;
	size_t n = tk->n - at;
	if (tokens_reserve(tail, n, tk->flags != NULL, err) < 0 ||
	    nl_meta_copy(&tail->meta, &tk->meta, err) < 0)
		return -1;
	if (n > 0) {
		memcpy(tail->ids, tk->ids + at, n * sizeof *tk->ids);
		if (tk->flags)
			memcpy(tail->flags, tk->flags + at, n);
	}
	tail->n = n;
	tail->vocab = tk->vocab;
	tk->n = at;
	return 0;
}
