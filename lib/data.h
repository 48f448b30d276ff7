/* nl — see LICENSE. Token streams (DESIGN §4): HEAD kind=tokens, one tensor "tokens" with a
 * streamed first dimension, rank 1 (ids; <eot> before every document) or rank 2 (rows of
 * id and flags). Writers, readers, the text form of nl-tokenize -t, and the tokenize loop. */
#ifndef NL_DATA_H
#define NL_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "corpus.h"
#include "err.h"
#include "io.h"
#include "meta.h"
#include "tok.h"

#define NL_DATA_DOC 1u    /* flag bit 0: this row starts a document */
#define NL_DATA_SCORE 2u  /* flag bit 1: this row's prediction is scored */

enum {
	NL_DATA_RANK2 = 1, /* write (id, flags) rows: stream.flags=1 */
	NL_DATA_TEXT = 2   /* write decimal ids one per line ("id flags" for rank 2) */
};

struct nl_data_writer;
/* extra: more HEAD metadata (task.*), may be NULL. level: zlib level of the .nlt. */
int nl_data_writer_open(struct nl_data_writer **w, struct nl_io *out, const struct nl_tok *tok,
    int mode, const struct nl_meta *extra, int level, struct nl_err *err);
/* The same for ids of a task's own vocabulary 0..vocab−1: tokenizer.type=ids, hash "ids", no
 * <eot> (documents start at DOC rows). */
int nl_data_writer_open_ids(struct nl_data_writer **w, struct nl_io *out, uint32_t vocab,
    int mode, const struct nl_meta *extra, int level, struct nl_err *err);
/* Rows of ids; flags may be NULL (0 each). Ids are checked against the vocabulary. */
int nl_data_put(struct nl_data_writer *w, const uint32_t *ids, const uint8_t *flags, size_t n,
    struct nl_err *err);
uint64_t nl_data_writer_rows(const struct nl_data_writer *w);
/* Ends the tensor and the member; frees w either way. */
int nl_data_writer_close(struct nl_data_writer *w, struct nl_err *err);
void nl_data_writer_free(struct nl_data_writer *w);

struct nl_data_reader;
/* A token stream: .nlt members (concatenated members must agree on the tokenizer) or, when
 * the input does not start with the nl-tensor magic, the text form (one "id" or "id flags"
 * per line). Ids are checked against tokenizer.vocab_size (text form: against vocab_size). */
int nl_data_reader_open(struct nl_data_reader **r, struct nl_io *in, uint32_t vocab_size,
    struct nl_err *err);
/* The first member's HEAD (empty for the text form). */
const struct nl_meta *nl_data_reader_meta(const struct nl_data_reader *r);
/* Up to max rows; *got == 0 only at the end. flags may be NULL. */
int nl_data_read(struct nl_data_reader *r, uint32_t *ids, uint8_t *flags, size_t max,
    size_t *got, struct nl_err *err);
void nl_data_reader_free(struct nl_data_reader *r);

/* The tokenizer named by spec: "bytes", a tokenizer.nlt, or a checkpoint bundle (tar,
 * possibly compressed) holding a tokenizer.nlt member. */
int nl_data_load_tokenizer(struct nl_tok **tok, const char *spec, struct nl_err *err);

/* Encode every document of c to w: <eot> then the document's ids (rank 2: DOC on the <eot>
 * row, SCORE on every row). With holdout set, the text from byte `split` of the corpus on
 * goes to holdout instead (a document cut there continues in holdout as a new document). */
int nl_data_tokenize(struct nl_corpus *c, const struct nl_tok *tok, struct nl_data_writer *w,
    struct nl_data_writer *holdout, uint64_t split, struct nl_err *err);
/* -K: learn a BPE of vocab_size ids from every document of c. */
int nl_data_learn(struct nl_corpus *c, uint32_t vocab_size, struct nl_tok **tok,
    struct nl_err *err);
/* The -P split of a rewindable corpus, by a first pass: with n document bytes and
 * cut = floor(percent * n / 100), the first document start at or after cut, else cut itself
 * (a single document splits exactly there). Rewinds c. */
int nl_data_split_point(struct nl_corpus *c, unsigned percent, uint64_t *split,
    struct nl_err *err);

/* A whole token stream in memory (training and evaluation read their windows from it). */
struct nl_tokens {
	int32_t *ids;
	uint8_t *flags;        /* NULL for rank-1 streams: every target scored */
	size_t n, cap;
	uint32_t vocab;        /* tokenizer.vocab_size of the stream (0: text form, unknown) */
	struct nl_meta meta;   /* HEAD of the first stream read */
};
void nl_tokens_init(struct nl_tokens *tk);
void nl_tokens_free(struct nl_tokens *tk);
/* Append the stream read from in (vocab as for nl_data_reader_open). Streams appended to
 * one another must agree on their tokenizer (tokenizer.hash). */
int nl_tokens_read(struct nl_tokens *tk, struct nl_io *in, uint32_t vocab, struct nl_err *err);
/* The same in steps: open the stream of in (checking and taking its HEAD as read does),
 * then append up to max rows at a time (0: all; *got 0 at the end). */
int nl_tokens_open(struct nl_data_reader **r, struct nl_tokens *tk, struct nl_io *in,
    uint32_t vocab, struct nl_err *err);
int nl_tokens_fill(struct nl_tokens *tk, struct nl_data_reader *r, size_t max, size_t *got,
    struct nl_err *err);
/* Move the last percent % of tk (from the first document start at or after that point, else
 * exactly there) into tail, which must be empty. */
int nl_tokens_split(struct nl_tokens *tk, double percent, struct nl_tokens *tail,
    struct nl_err *err);
/* Whether position i starts a document: the DOC flag of a rank-2 stream, else the
 * end-of-text token eot (−1: none). */
static inline int
nl_tokens_doc_start(const struct nl_tokens *tk, size_t i, int64_t eot)
{
	return tk->flags ? (tk->flags[i] & NL_DATA_DOC) != 0 : tk->ids[i] == eot;
}
/* Whether windows over tk start at documents under data.align = align (nl-config(5);
 * auto: for a task stream, whose HEAD has task.name). */
int nl_tokens_align_doc(const struct nl_tokens *tk, const char *align);
/* The stream's end-of-text id (HEAD tokenizer.eot), −1 when it has none. */
int64_t nl_tokens_eot(const struct nl_tokens *tk);
/* Whether the target at position i (predicting ids[i]) is scored. */
static inline int
nl_tokens_scored(const struct nl_tokens *tk, size_t i)
{
	return tk->flags == NULL || (tk->flags[i] & NL_DATA_SCORE);
}
#endif
