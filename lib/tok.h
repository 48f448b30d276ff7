/* nl — see LICENSE. Tokenizers: the byte tokenizer (ids 0..255 are bytes, 256 is <eot>) and
 * byte-level BPE (the same 257 base ids, then one id per merge), with a GPT-2-style
 * pre-tokenizer written here, streaming encode/decode, training from word counts in bounded
 * memory, and the tokenizer file tokenizer.nlt. */
#ifndef NL_TOK_H
#define NL_TOK_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "io.h"

#define NL_TOK_EOT 256          /* <eot> in every tokenizer */
#define NL_TOK_BASE 257         /* ids below this are the bytes and <eot> */
#define NL_TOK_MAX_VOCAB (1u << 24)
#define NL_TOK_MAX_PRETOKEN 1024 /* longer runs are cut into pre-tokens of this length */

struct nl_tok;

/* The byte tokenizer (type "bytes", vocab 257). */
int nl_tok_new_bytes(struct nl_tok **tok, struct nl_err *err);
/* Load tokenizer.nlt (HEAD kind=tokenizer; tensors vocab.bytes U8 [total], vocab.offsets
 * U32 [V+1], merges U32 [M,2]); every field is validated. */
int nl_tok_load(struct nl_tok **tok, struct nl_io *in, struct nl_err *err);
/* Write tokenizer.nlt: canonical bytes for the same tokenizer. */
int nl_tok_save(const struct nl_tok *tok, struct nl_io *out, struct nl_err *err);
void nl_tok_free(struct nl_tok *tok);

const char *nl_tok_type(const struct nl_tok *tok);     /* "bytes" or "bpe" */
uint32_t nl_tok_vocab_size(const struct nl_tok *tok);
/* "bytes" for the byte tokenizer, else the CRC-32 of the canonical tokenizer.nlt as 8 hex
 * digits (what token streams record as tokenizer.hash). */
const char *nl_tok_hash(const struct nl_tok *tok);
/* The bytes of one id (NULL, 0 for <eot>); id must be < vocab size. */
const unsigned char *nl_tok_piece(const struct nl_tok *tok, uint32_t id, size_t *len);

/* Streaming encoder for one document at a time: feed pieces of text, collect ids. A
 * pre-token cut by a piece boundary is held back until the next piece or the end, so the
 * ids do not depend on how the text was cut. */
struct nl_tok_enc;
int nl_tok_enc_new(struct nl_tok_enc **enc, const struct nl_tok *tok, struct nl_err *err);
/* Append the ids of text[0..n) to *ids (realloc'd; *n_ids, *cap updated); with final set,
 * flush what was held back (the end of a document). */
int nl_tok_encode(struct nl_tok_enc *enc, const unsigned char *text, size_t n, int final,
    uint32_t **ids, size_t *n_ids, size_t *cap, struct nl_err *err);
void nl_tok_enc_free(struct nl_tok_enc *enc);

/* Training: count pre-tokens of any amount of text (only distinct pre-tokens are kept),
 * then learn merges until vocab_size ids exist (or no pair occurs twice). Deterministic:
 * ties between equally frequent pairs go to the pair whose concatenated bytes sort first
 * (then the smaller left id, then the smaller right id). nl_tok_train ends a document left
 * open, keeps the counts (it may be called again) and may return fewer than vocab_size ids;
 * vocab_size outside 257..NL_TOK_MAX_VOCAB is NL_ERANGE. */
struct nl_tok_trainer;
int nl_tok_trainer_new(struct nl_tok_trainer **tr, struct nl_err *err);
/* Feed document text in pieces; final ends the document (pre-tokens never span documents). */
int nl_tok_trainer_feed(struct nl_tok_trainer *tr, const unsigned char *text, size_t n,
    int final, struct nl_err *err);
int nl_tok_train(struct nl_tok_trainer *tr, uint32_t vocab_size, struct nl_tok **tok,
    struct nl_err *err);
void nl_tok_trainer_free(struct nl_tok_trainer *tr);

/* The pre-tokenizer alone (for tests and the trainer): length of the pre-token starting at
 * text[0..n); with more_follows set, 0 means "cannot tell yet, need more text". */
size_t nl_tok_pretoken(const unsigned char *text, size_t n, int more_follows);

#endif
