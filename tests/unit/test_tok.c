/* nl — see LICENSE. Tokenizers: pre-tokenizer cases, chunking invariance of encoding and
 * training, round trips, training against a naive reference trainer, encoding against a
 * naive reference encoder, tokenizer.nlt round trip, validation of corrupt files, limits. */
#include <stdint.h>
#include <zlib.h>

#include "io.h"
#include "t.h"
#include "tfile.h"
#include "tok.h"

/* ---- helpers ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint32_t
rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 16);
}

static void
buf_str(struct t_buf *b, const char *s)
{
	t_buf_add(b, s, strlen(s));
}

static void
buf_rep(struct t_buf *b, int c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)c;
		t_buf_add(b, &ch, 1);
	}
}

/* English-like text with every kind of pre-token: Zipf-ish words, contractions, numbers,
 * punctuation, several spaces, newlines, tabs, UTF-8, invalid bytes and NUL. */
static void
gen_text(struct t_buf *b, size_t n)
{
	static const char *words[] = { "the", "of", "and", "to", "a", "in", "that", "is", "was",
		"he", "for", "it", "with", "as", "his", "on", "be", "at", "by", "I", "this", "had",
		"not", "are", "but", "from", "or", "have", "an", "they", "which", "one", "you",
		"were", "her", "all", "she", "there", "would", "their", "we", "him", "been", "has",
		"when", "who", "will", "more", "no", "if", "out", "so", "said", "what", "up",
		"its", "about", "into", "than", "them", "can", "only", "other", "new", "some",
		"could", "time", "these", "two", "may", "then", "do", "first", "any", "my", "now",
		"such", "like", "our", "over", "man", "me", "even", "most", "made", "after",
		"also", "did", "many", "before", "must", "through", "back", "years", "where",
		"much", "your", "way", "well", "down", "should", "because", "each", "just",
		"th\xc3\xa9" "\xc3\xa2tre", "\xd0\xbc\xd0\xb8\xd1\x80", "na\xc3\xafve", "caf\xc3\xa9",
		"\xe6\x97\xa5\xe6\x9c\xac", "bad\xff\xfe" "bytes", "x\x80y" };
	static const char *seps[] = { " ", " ", " ", " ", " ", " ", " ", " ", ", ", ". ", ".\n",
		"\n\n", "  ", "   ", "\t", "! ", "? ", " - ", ";\n", " (", ") ", "'s ", "'t ",
		"'re ", "'ve ", "'ll ", "'d ", "'m ", " \"", "\" ", " 1984 ", " 3.14 ", "\r\n", "<NUL>",
		"'S ", "''", " \n ", "\n   " };
	size_t nw = sizeof words / sizeof *words, ns = sizeof seps / sizeof *seps;
	size_t start = b->n;

	while (b->n - start < n) {
		uint32_t r = rng() % 1000;
		size_t w = (size_t)r * r / 1000 * nw / 1000; /* favour the first words */
		buf_str(b, words[w]);
		const char *s = seps[rng() % ns];
		if (strcmp(s, "<NUL>") == 0)
			t_buf_add(b, " \0 ", 3);
		else
			buf_str(b, s);
	}
}

static unsigned char *
save_mem(const struct nl_tok *tok, size_t *len)
{
	struct nl_io io;
	struct nl_err err = { 0 };
	unsigned char *p;

	nl_io_open_mem_write(&io);
	if (nl_tok_save(tok, &io, &err) < 0) {
		printf("# save: %s\n", err.msg);
		nl_io_abort(&io);
		*len = 0;
		return NULL;
	}
	p = nl_io_mem_take(&io, len);
	nl_io_close(&io, &err);
	return p;
}

static struct nl_tok *
load_mem(const unsigned char *p, size_t n, struct nl_err *err)
{
	struct nl_io io;
	struct nl_tok *tok = NULL;

	nl_io_open_mem_read(&io, p, n);
	if (nl_tok_load(&tok, &io, err) < 0)
		tok = NULL;
	nl_io_close(&io, err);
	return tok;
}

/* Train on text fed in pieces of the given size (0 = whole). */
static struct nl_tok *
train(const unsigned char *text, size_t n, size_t piece, uint32_t v)
{
	struct nl_tok_trainer *tr;
	struct nl_tok *tok = NULL;
	struct nl_err err = { 0 };

	if (nl_tok_trainer_new(&tr, &err) < 0)
		return NULL;
	if (piece == 0)
		piece = n ? n : 1;
	for (size_t off = 0; off < n; off += piece)
		if (nl_tok_trainer_feed(tr, text + off, n - off < piece ? n - off : piece, 0, &err) < 0)
			goto out;
	if (nl_tok_trainer_feed(tr, NULL, 0, 1, &err) < 0 || nl_tok_train(tr, v, &tok, &err) < 0)
		printf("# train: %s\n", err.msg);
out:
	nl_tok_trainer_free(tr);
	return tok;
}

/* Encode with pieces of random size 1..maxpiece (1 = byte by byte, 0 = whole). */
static uint32_t *
encode(const struct nl_tok *tok, const unsigned char *text, size_t n, size_t maxpiece,
    size_t *n_ids)
{
	struct nl_tok_enc *enc;
	struct nl_err err = { 0 };
	uint32_t *ids = NULL;
	size_t cap = 0, off = 0;

	*n_ids = 0;
	if (nl_tok_enc_new(&enc, tok, &err) < 0)
		return NULL;
	while (off < n) {
		size_t k = maxpiece == 0 ? n : 1 + rng() % maxpiece;
		if (k > n - off)
			k = n - off;
		if (nl_tok_encode(enc, text + off, k, 0, &ids, n_ids, &cap, &err) < 0)
			printf("# encode: %s\n", err.msg);
		off += k;
	}
	if (nl_tok_encode(enc, NULL, 0, 1, &ids, n_ids, &cap, &err) < 0)
		printf("# encode: %s\n", err.msg);
	nl_tok_enc_free(enc);
	return ids;
}

static int
decodes_to(const struct nl_tok *tok, const uint32_t *ids, size_t n_ids, const unsigned char *text,
    size_t n)
{
	size_t off = 0;

	for (size_t i = 0; i < n_ids; i++) {
		size_t len;
		const unsigned char *p = nl_tok_piece(tok, ids[i], &len);
		if (ids[i] >= nl_tok_vocab_size(tok) || off + len > n || memcmp(text + off, p, len) != 0)
			return 0;
		off += len;
	}
	return off == n;
}

/* Pre-tokens of s[0..n) joined with '|' (a literal '|' never occurs in the inputs). */
static void
split(const char *s, size_t n, char *out)
{
	size_t pos = 0, o = 0;

	while (pos < n) {
		size_t k = nl_tok_pretoken((const unsigned char *)s + pos, n - pos, 0);
		if (k == 0 || k > n - pos) {
			strcpy(out + o, "<BAD>");
			return;
		}
		if (pos > 0)
			out[o++] = '|';
		memcpy(out + o, s + pos, k);
		o += k;
		pos += k;
	}
	out[o] = '\0';
}

#define SPLIT(in, want) do { char t_out[256]; split(in, sizeof in - 1, t_out); \
	T_CHECK_MSG(memcmp(t_out, want, sizeof want) == 0, "'%s' -> '%s'", in, t_out); } while (0)

/* ---- pre-tokenizer ---- */

T_TEST(pretoken_cases)
{
	SPLIT("don't", "don|'t");
	SPLIT("I'll he's we're you've I'm he'd", "I|'ll| he|'s| we|'re| you|'ve| I|'m| he|'d");
	SPLIT("'sam", "'s|am");
	SPLIT("DON'T", "DON|'|T");          /* case-sensitive, as GPT-2 */
	SPLIT("o'clock", "o|'|clock");
	SPLIT("rock''n", "rock|''|n");
	SPLIT("!'s", "!'|s");
	SPLIT(" 's", " '|s");
	SPLIT("'", "'");
	SPLIT("'r", "'|r");
	SPLIT("'l", "'|l");
	SPLIT("hello world", "hello| world");
	SPLIT(" hello", " hello");
	SPLIT("a  b", "a| | b");
	SPLIT("a   b", "a|  | b");
	SPLIT("a  ", "a|  ");
	SPLIT("a \n", "a| \n");
	SPLIT("a\n\nb", "a|\n|\n|b");
	SPLIT("a\n b", "a|\n| b");
	SPLIT("a \n\n b", "a| \n\n| b");
	SPLIT("  \tfoo", "  |\t|foo");
	SPLIT("x\r\ny", "x|\r|\n|y");
	SPLIT("abc123 456 7", "abc|123| 456| 7");
	SPLIT("3.14", "3|.|14");
	SPLIT("hi!!! ?? (x)", "hi|!!!| ??| (|x|)");
	SPLIT("caf\xc3\xa9 na\xc3\xafve", "caf\xc3\xa9| na\xc3\xafve");
	SPLIT("\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e");
	SPLIT("ab\xff\xfe" "cd \x80", "ab\xff\xfe" "cd| \x80");
	SPLIT("a\0\0b", "a|\0\0|b");
	SPLIT(" \0x", " \0|x");
	SPLIT("\0 \0", "\0| \0");
	SPLIT("a.b,c", "a|.|b|,|c");
	SPLIT("", "");
	SPLIT(" ", " ");
	SPLIT("\x7f\x01", "\x7f\x01");
}

T_TEST(pretoken_cap)
{
	unsigned char *s = malloc(5000);
	size_t k;

	/* letters: cut every 1024 bytes */
	memset(s, 'a', 3000);
	T_CHECK(nl_tok_pretoken(s, 3000, 0) == 1024);
	T_CHECK(nl_tok_pretoken(s + 2048, 952, 0) == 952);
	T_CHECK(nl_tok_pretoken(s, 1024, 1) == 1024);   /* known without more text */
	T_CHECK(nl_tok_pretoken(s, 1023, 1) == 0);
	/* a leading space counts toward the cap */
	s[0] = ' ';
	T_CHECK(nl_tok_pretoken(s, 3000, 0) == 1024);
	/* digits and other */
	memset(s, '7', 2000);
	T_CHECK(nl_tok_pretoken(s, 2000, 0) == 1024);
	memset(s, '#', 2000);
	T_CHECK(nl_tok_pretoken(s, 2000, 0) == 1024);
	memset(s, 0, 2000);
	T_CHECK(nl_tok_pretoken(s, 2000, 0) == 1024);
	/* whitespace: 3000 spaces then x -> 1024, 1024, 951, " x" */
	memset(s, ' ', 3000);
	s[3000] = 'x';
	T_CHECK(nl_tok_pretoken(s, 3001, 0) == 1024);
	T_CHECK(nl_tok_pretoken(s, 1025, 1) == 1024);
	T_CHECK(nl_tok_pretoken(s, 1024, 1) == 0);
	T_CHECK(nl_tok_pretoken(s + 2048, 953, 0) == 951);
	T_CHECK(nl_tok_pretoken(s + 2999, 2, 0) == 2);
	/* a whole split sums up */
	size_t pos = 0, count = 0;
	while (pos < 3001) {
		k = nl_tok_pretoken(s + pos, 3001 - pos, 0);
		T_CHECK(k >= 1 && k <= 1024);
		pos += k;
		count++;
	}
	T_CHECK(pos == 3001 && count == 4);
	free(s);
}

T_TEST(pretoken_more_follows)
{
	const unsigned char *u = (const unsigned char *)"hello world'";
	T_CHECK(nl_tok_pretoken(u, 5, 1) == 0);       /* "hello" may go on */
	T_CHECK(nl_tok_pretoken(u, 5, 0) == 5);
	T_CHECK(nl_tok_pretoken(u, 6, 1) == 5);       /* "hello " ends the word */
	T_CHECK(nl_tok_pretoken(u + 5, 1, 1) == 0);   /* " " may lead a word */
	T_CHECK(nl_tok_pretoken(u + 5, 1, 0) == 1);
	T_CHECK(nl_tok_pretoken(u + 5, 3, 1) == 0);
	T_CHECK(nl_tok_pretoken(u + 11, 1, 1) == 0);  /* "'" may be a contraction */
	T_CHECK(nl_tok_pretoken(u + 11, 1, 0) == 1);
	T_CHECK(nl_tok_pretoken((const unsigned char *)"'r", 2, 1) == 0);
	T_CHECK(nl_tok_pretoken((const unsigned char *)"'re", 3, 1) == 3);
	T_CHECK(nl_tok_pretoken((const unsigned char *)"'ll", 3, 1) == 3);
	T_CHECK(nl_tok_pretoken((const unsigned char *)"'s", 2, 1) == 2);
	T_CHECK(nl_tok_pretoken((const unsigned char *)"'x", 2, 1) == 1);  /* "'" then a word */
	T_CHECK(nl_tok_pretoken((const unsigned char *)"'!", 2, 1) == 0);  /* other may go on */
	T_CHECK(nl_tok_pretoken((const unsigned char *)"'!a", 3, 1) == 2);
	T_CHECK(nl_tok_pretoken((const unsigned char *)"  ", 2, 1) == 0); /* run may go on */
	T_CHECK(nl_tok_pretoken((const unsigned char *)"  ", 2, 0) == 2);
	T_CHECK(nl_tok_pretoken((const unsigned char *)"  a", 3, 1) == 1);
	T_CHECK(nl_tok_pretoken((const unsigned char *)"\n", 1, 1) == 0);
	T_CHECK(nl_tok_pretoken((const unsigned char *)"\na", 2, 1) == 1);
	T_CHECK(nl_tok_pretoken((const unsigned char *)"12", 2, 1) == 0);
	T_CHECK(nl_tok_pretoken((const unsigned char *)"12a", 3, 1) == 2);
	T_CHECK(nl_tok_pretoken(u, 0, 1) == 0);
	T_CHECK(nl_tok_pretoken(u, 0, 0) == 0);
}

/* Splitting with more_follows at every possible cut gives the same pre-tokens. */
T_TEST(pretoken_stream_agrees)
{
	struct t_buf b = { 0 };
	gen_text(&b, 3000);
	buf_rep(&b, ' ', 1500);
	buf_str(&b, "x");
	buf_rep(&b, 'q', 1100);
	size_t pos = 0;
	int bad = 0;
	while (pos < b.n) {
		size_t whole = nl_tok_pretoken(b.p + pos, b.n - pos, 0);
		for (size_t cut = 1; cut <= b.n - pos && cut <= 1100; cut++) {
			size_t k = nl_tok_pretoken(b.p + pos, cut, cut < b.n - pos);
			if (k != 0 && k != whole)
				bad++;
			if (k == 0 && cut >= whole + 2)
				bad++; /* should have been decided by now */
		}
		pos += whole;
	}
	T_CHECK_MSG(bad == 0, "%d disagreements", bad);
	free(b.p);
}

/* ---- byte tokenizer ---- */

T_TEST(bytes_tokenizer)
{
	struct nl_tok *tok, *tok2;
	struct nl_err err = { 0 };
	size_t len, n_ids, flen;
	unsigned char raw[4096];

	T_CHECK(nl_tok_new_bytes(&tok, &err) == 0);
	T_CHECK(strcmp(nl_tok_type(tok), "bytes") == 0);
	T_CHECK(strcmp(nl_tok_hash(tok), "bytes") == 0);
	T_CHECK(nl_tok_vocab_size(tok) == 257);
	T_CHECK(nl_tok_piece(tok, 65, &len)[0] == 'A' && len == 1);
	T_CHECK(nl_tok_piece(tok, 0, &len)[0] == 0 && len == 1);
	T_CHECK(nl_tok_piece(tok, NL_TOK_EOT, &len) == NULL && len == 0);
	for (size_t i = 0; i < sizeof raw; i++)
		raw[i] = (unsigned char)rng();
	uint32_t *ids = encode(tok, raw, sizeof raw, 100, &n_ids);
	T_CHECK(n_ids == sizeof raw);
	for (size_t i = 0; i < n_ids && i < sizeof raw; i++)
		if (ids[i] != raw[i]) {
			T_CHECK(ids[i] == raw[i]);
			break;
		}
	T_CHECK(decodes_to(tok, ids, n_ids, raw, sizeof raw));
	free(ids);
	/* its file loads back as the byte tokenizer */
	unsigned char *file = save_mem(tok, &flen);
	tok2 = load_mem(file, flen, &err);
	T_CHECK_MSG(tok2 != NULL, "%s", err.msg);
	if (tok2) {
		T_CHECK(strcmp(nl_tok_type(tok2), "bytes") == 0);
		T_CHECK(strcmp(nl_tok_hash(tok2), "bytes") == 0);
		T_CHECK(nl_tok_vocab_size(tok2) == 257);
	}
	nl_tok_free(tok2);
	free(file);
	nl_tok_free(tok);
}

/* ---- training ---- */

/* The classic example: one word, "aa" first (4 overlapping pairs), then ("aa","a") beats
 * ("a","b") on the byte order of "aaa" < "ab" at equal count 2, then ("aaa","b"); then
 * every pair occurs once and training stops at 260. */
T_TEST(train_hand_example)
{
	const char *s = "aaabdaaabac";
	struct nl_tok *tok = train((const unsigned char *)s, strlen(s), 0, 1000);
	size_t len;

	T_CHECK(tok != NULL);
	if (tok == NULL)
		return;
	T_CHECK(nl_tok_vocab_size(tok) == 260);
	T_CHECK(strcmp(nl_tok_type(tok), "bpe") == 0);
	const unsigned char *p = nl_tok_piece(tok, 257, &len);
	T_CHECK(len == 2 && memcmp(p, "aa", 2) == 0);
	p = nl_tok_piece(tok, 258, &len);
	T_CHECK(len == 3 && memcmp(p, "aaa", 3) == 0);
	p = nl_tok_piece(tok, 259, &len);
	T_CHECK(len == 4 && memcmp(p, "aaab", 4) == 0);
	size_t n_ids;
	uint32_t *ids = encode(tok, (const unsigned char *)s, strlen(s), 0, &n_ids);
	static const uint32_t want[] = { 259, 'd', 259, 'a', 'c' };
	T_CHECK(n_ids == 5 && memcmp(ids, want, sizeof want) == 0);
	free(ids);
	nl_tok_free(tok);
	/* "ab ab": "ab" twice (in "ab" and " ab"), then (" ", "ab") occurs once: stop */
	tok = train((const unsigned char *)"ab ab", 5, 0, 1000);
	T_CHECK(tok != NULL && nl_tok_vocab_size(tok) == 258);
	nl_tok_free(tok);
	tok = train((const unsigned char *)"ab ab ab", 8, 0, 1000);
	T_CHECK(tok != NULL && nl_tok_vocab_size(tok) == 259);
	if (tok) {
		p = nl_tok_piece(tok, 257, &len);
		T_CHECK(len == 2 && memcmp(p, "ab", 2) == 0);
		p = nl_tok_piece(tok, 258, &len);
		T_CHECK(len == 3 && memcmp(p, " ab", 3) == 0);
	}
	nl_tok_free(tok);
}

/* Naive reference: recount every pair of every word at every step. */
struct rword {
	uint32_t *sym;
	size_t len;
	uint64_t count;
};

static const unsigned char *ref_text;

static int
ref_cmp_tok(const void *a, const void *b)
{
	const size_t *x = a, *y = b;
	size_t n = x[1] < y[1] ? x[1] : y[1];
	int c = memcmp(ref_text + x[0], ref_text + y[0], n);
	return c ? c : (x[1] > y[1]) - (x[1] < y[1]);
}

static int
ref_cmp_pair(unsigned char **piece, size_t *plen, uint32_t a1, uint32_t b1, uint32_t a2,
    uint32_t b2)
{
	unsigned char x[4096], y[4096];
	size_t nx = plen[a1] + plen[b1], ny = plen[a2] + plen[b2];

	memcpy(x, piece[a1], plen[a1]);
	memcpy(x + plen[a1], piece[b1], plen[b1]);
	memcpy(y, piece[a2], plen[a2]);
	memcpy(y + plen[a2], piece[b2], plen[b2]);
	int c = memcmp(x, y, nx < ny ? nx : ny);
	if (c != 0)
		return c;
	if (nx != ny)
		return nx < ny ? -1 : 1;
	if (a1 != a2)
		return a1 < a2 ? -1 : 1;
	return b1 < b2 ? -1 : b1 > b2;
}

/* Returns the merges (2 per row), *m their number. */
static uint32_t *
ref_train(const unsigned char *text, size_t n, uint32_t v, uint32_t *m_out)
{
	size_t (*toks)[2] = malloc((n + 1) * sizeof *toks), nt = 0, pos = 0, nw = 0;
	struct rword *w = malloc((n + 1) * sizeof *w);
	unsigned char **piece = calloc(v, sizeof *piece);
	size_t *plen = calloc(v, sizeof *plen);
	int64_t *cnt = calloc((size_t)v * v, sizeof *cnt);
	uint32_t *touched = malloc((size_t)v * v * sizeof *touched), nt_pairs;
	uint32_t *merges = malloc(2 * (size_t)v * sizeof *merges), m = 0;

	while (pos < n) {
		size_t k = nl_tok_pretoken(text + pos, n - pos, 0);
		toks[nt][0] = pos;
		toks[nt][1] = k;
		nt++;
		pos += k;
	}
	ref_text = text;
	qsort(toks, nt, sizeof *toks, ref_cmp_tok);
	for (size_t i = 0; i < nt; ) {
		size_t j = i;
		while (j < nt && ref_cmp_tok(toks[i], toks[j]) == 0)
			j++;
		if (toks[i][1] >= 2) {
			w[nw].len = toks[i][1];
			w[nw].count = j - i;
			w[nw].sym = malloc(toks[i][1] * sizeof *w[nw].sym);
			for (size_t q = 0; q < toks[i][1]; q++)
				w[nw].sym[q] = text[toks[i][0] + q];
			nw++;
		}
		i = j;
	}
	for (uint32_t i = 0; i < 256; i++) {
		piece[i] = malloc(1);
		piece[i][0] = (unsigned char)i;
		plen[i] = 1;
	}
	while (257 + m < v) {
		nt_pairs = 0;
		for (size_t i = 0; i < nw; i++) {
			for (size_t q = 0; q + 1 < w[i].len; q++) {
				size_t key = (size_t)w[i].sym[q] * v + w[i].sym[q + 1];
				if (cnt[key] == 0)
					touched[nt_pairs++] = (uint32_t)key;
				cnt[key] += (int64_t)w[i].count;
			}
		}
		int64_t best = 0;
		uint32_t ba = 0, bb = 0;
		for (uint32_t i = 0; i < nt_pairs; i++) {
			uint32_t a = touched[i] / v, b = touched[i] % v;
			int64_t c = cnt[touched[i]];
			if (c > best || (c == best && ref_cmp_pair(piece, plen, a, b, ba, bb) < 0)) {
				best = c;
				ba = a;
				bb = b;
			}
			cnt[touched[i]] = 0;
		}
		if (best < 2)
			break;
		uint32_t x = 257 + m;
		merges[2 * m] = ba;
		merges[2 * m + 1] = bb;
		m++;
		plen[x] = plen[ba] + plen[bb];
		piece[x] = malloc(plen[x]);
		memcpy(piece[x], piece[ba], plen[ba]);
		memcpy(piece[x] + plen[ba], piece[bb], plen[bb]);
		for (size_t i = 0; i < nw; i++) {
			size_t o = 0;
			for (size_t q = 0; q < w[i].len; ) {
				if (q + 1 < w[i].len && w[i].sym[q] == ba && w[i].sym[q + 1] == bb) {
					w[i].sym[o++] = x;
					q += 2;
				} else {
					w[i].sym[o++] = w[i].sym[q++];
				}
			}
			w[i].len = o;
		}
	}
	for (size_t i = 0; i < nw; i++)
		free(w[i].sym);
	for (uint32_t i = 0; i < v; i++)
		free(piece[i]);
	free(toks);
	free(w);
	free(piece);
	free(plen);
	free(cnt);
	free(touched);
	*m_out = m;
	return merges;
}

/* The merges of a tokenizer, read back from its file. */
static uint32_t *
tok_merges(const struct nl_tok *tok, uint32_t *m)
{
	size_t n;
	unsigned char *file = save_mem(tok, &n);
	struct nl_io io;
	struct nl_tset ts;
	struct nl_err err = { 0 };
	uint32_t *out = NULL;

	*m = 0;
	nl_tset_init(&ts);
	nl_io_open_mem_read(&io, file, n);
	if (nl_tfile_read_tset(&io, &ts, &err) == 0) {
		struct nl_tensor *t = nl_tset_find(&ts, "merges");
		*m = (uint32_t)t->info.dims[0];
		out = malloc(2 * (size_t)*m * sizeof *out + 1);
		for (size_t i = 0; i < 2 * (size_t)*m; i++)
			out[i] = nl_le32((unsigned char *)t->data + 4 * i);
	}
	nl_io_close(&io, &err);
	nl_tset_free(&ts);
	free(file);
	return out;
}

T_TEST(train_matches_reference)
{
	for (int round = 0; round < 3; round++) {
		struct t_buf b = { 0 };
		uint32_t v = round == 0 ? 300 : round == 1 ? 600 : 2000, m_ref, m_got;
		gen_text(&b, round == 2 ? 6000 : 20000);
		if (round == 1) /* random bytes too: many ties at low counts */
			for (int i = 0; i < 3000; i++) {
				unsigned char c = (unsigned char)(rng() % 6 + 'a');
				t_buf_add(&b, &c, 1);
			}
		struct nl_tok *tok = train(b.p, b.n, 0, v);
		uint32_t *ref = ref_train(b.p, b.n, v, &m_ref);
		uint32_t *got = tok ? tok_merges(tok, &m_got) : NULL;
		T_CHECK(got != NULL);
		if (got != NULL) {
			T_CHECK_MSG(m_got == m_ref, "round %d: %u merges, reference %u", round, m_got, m_ref);
			for (uint32_t k = 0; k < m_got && k < m_ref; k++) {
				if (got[2 * k] != ref[2 * k] || got[2 * k + 1] != ref[2 * k + 1]) {
					T_CHECK_MSG(0, "round %d: merge %u is (%u,%u), reference (%u,%u)", round,
					    k, got[2 * k], got[2 * k + 1], ref[2 * k], ref[2 * k + 1]);
					break;
				}
			}
			if (round == 2) /* stopped early: no pair left that occurs twice */
				T_CHECK(m_got < 2000 - 257);
		}
		free(got);
		free(ref);
		nl_tok_free(tok);
		free(b.p);
	}
}

/* Merges stay inside pre-tokens: every piece is an optional leading space and then bytes
 * of one class (or all whitespace), for text without apostrophes. */
T_TEST(train_within_pretokens)
{
	struct t_buf b = { 0 };
	static const char *parts[] = { "ab", "ab ", "12", "34 ", ".,", "!? ", "  ", "\n", "ba",
		" x1", "y.", "\t\t" };

	for (int i = 0; i < 20000; i++)
		buf_str(&b, parts[rng() % (sizeof parts / sizeof *parts)]);
	struct nl_tok *tok = train(b.p, b.n, 0, 2000);
	T_CHECK(tok != NULL);
	if (tok == NULL) {
		free(b.p);
		return;
	}
	T_CHECK(nl_tok_vocab_size(tok) > 300);
	int bad = 0;
	for (uint32_t id = NL_TOK_BASE; id < nl_tok_vocab_size(tok); id++) {
		size_t len, s = 0;
		const unsigned char *p = nl_tok_piece(tok, id, &len);
		int allspace = 1;
		for (size_t i = 0; i < len; i++)
			if (!strchr(" \t\n", p[i]))
				allspace = 0;
		if (allspace)
			continue;
		if (p[0] == ' ')
			s = 1;
		for (size_t i = s + 1; i < len; i++) {
			int c1 = p[i - 1], c2 = p[i];
			int k1 = c1 >= '0' && c1 <= '9' ? 1 : (c1 | 32) >= 'a' && (c1 | 32) <= 'z' ? 2 :
			    strchr(" \t\n", c1) ? 3 : 4;
			int k2 = c2 >= '0' && c2 <= '9' ? 1 : (c2 | 32) >= 'a' && (c2 | 32) <= 'z' ? 2 :
			    strchr(" \t\n", c2) ? 3 : 4;
			if (k1 != k2)
				bad++;
		}
	}
	T_CHECK_MSG(bad == 0, "%d pieces cross pre-token boundaries", bad);
	nl_tok_free(tok);
	free(b.p);
}

/* ---- chunking, determinism, round trips ---- */

static void
gen_hard_text(struct t_buf *b)
{
	gen_text(b, 40000);
	buf_rep(b, 'z', 5000);      /* beyond the cap and the hold-back buffer */
	buf_rep(b, ' ', 3000);
	buf_str(b, "x");
	buf_rep(b, '9', 2100);
	buf_rep(b, '\n', 1500);
	buf_rep(b, 0, 1100);
	gen_text(b, 5000);
	buf_str(b, "end'");         /* a contraction cut at the very end */
}

T_TEST(train_chunking_and_determinism)
{
	struct t_buf b = { 0 };
	size_t n0, n1, n2, n3;

	gen_hard_text(&b);
	struct nl_tok *t0 = train(b.p, b.n, 0, 600);
	struct nl_tok *t1 = train(b.p, b.n, 1, 600);
	struct nl_tok *t2 = train(b.p, b.n, 777, 600);
	struct nl_tok *t3 = train(b.p, b.n, 0, 600);
	T_CHECK(t0 && t1 && t2 && t3);
	if (t0 && t1 && t2 && t3) {
		unsigned char *f0 = save_mem(t0, &n0), *f1 = save_mem(t1, &n1);
		unsigned char *f2 = save_mem(t2, &n2), *f3 = save_mem(t3, &n3);
		T_CHECK_MSG(nl_tok_vocab_size(t0) == 600, "vocab %u", nl_tok_vocab_size(t0));
		T_CHECK(n0 == n1 && memcmp(f0, f1, n0) == 0);
		T_CHECK(n0 == n2 && memcmp(f0, f2, n0) == 0);
		T_CHECK(n0 == n3 && memcmp(f0, f3, n0) == 0);
		T_CHECK(strcmp(nl_tok_hash(t0), nl_tok_hash(t1)) == 0);
		char h[16];
		snprintf(h, sizeof h, "%08lx", (unsigned long)crc32_z(0, f0, n0));
		T_CHECK_MSG(strcmp(h, nl_tok_hash(t0)) == 0, "hash %s, crc of file %s", nl_tok_hash(t0), h);
		free(f0);
		free(f1);
		free(f2);
		free(f3);
	}
	nl_tok_free(t0);
	nl_tok_free(t1);
	nl_tok_free(t2);
	nl_tok_free(t3);
	free(b.p);
}

/* Documents end at final: pre-tokens (and so merges) never span two documents. */
T_TEST(train_documents)
{
	struct nl_tok_trainer *tr;
	struct nl_tok *tok;
	struct nl_err err = { 0 };

	T_CHECK(nl_tok_trainer_new(&tr, &err) == 0);
	/* nothing fed: a BPE without merges */
	T_CHECK(nl_tok_train(tr, 1000, &tok, &err) == 0 && nl_tok_vocab_size(tok) == 257);
	nl_tok_free(tok);
	for (int i = 0; i < 10; i++) {
		nl_tok_trainer_feed(tr, (const unsigned char *)"xy", 2, 1, &err);
		nl_tok_trainer_feed(tr, (const unsigned char *)"z", 1, 1, &err);
	}
	T_CHECK(nl_tok_train(tr, 1000, &tok, &err) == 0);
	T_CHECK(nl_tok_vocab_size(tok) == 258); /* only "xy"; "yz" never formed */
	nl_tok_free(tok);
	/* an unfinished document is ended by training, and the trainer can train again */
	nl_tok_trainer_feed(tr, (const unsigned char *)"qq qq qq", 8, 0, &err);
	T_CHECK(nl_tok_train(tr, 1000, &tok, &err) == 0);
	T_CHECK(nl_tok_vocab_size(tok) == 260); /* xy, qq, " qq" */
	nl_tok_free(tok);
	nl_tok_trainer_free(tr);
}

/* Reference encoder: per pre-token, merge the lowest-ranked adjacent pair until none. */
static uint32_t *
ref_encode(const uint32_t *merges, uint32_t m, const unsigned char *text, size_t n, size_t *n_ids)
{
	uint32_t v = 257 + m, *rank = malloc((size_t)v * v * sizeof *rank);
	uint32_t *out = malloc((n + 1) * sizeof *out);
	size_t pos = 0, k = 0;

	memset(rank, 0xff, (size_t)v * v * sizeof *rank);
	for (uint32_t i = 0; i < m; i++)
		rank[(size_t)merges[2 * i] * v + merges[2 * i + 1]] = i;
	while (pos < n) {
		size_t len = nl_tok_pretoken(text + pos, n - pos, 0), w = k;
		for (size_t i = 0; i < len; i++)
			out[k++] = text[pos + i];
		for (;;) {
			size_t best_i = 0;
			uint32_t best = UINT32_MAX;
			for (size_t i = w; i + 1 < k; i++) {
				uint32_t r = rank[(size_t)out[i] * v + out[i + 1]];
				if (r < best) {
					best = r;
					best_i = i;
				}
			}
			if (best == UINT32_MAX)
				break;
			out[best_i] = 257 + best;
			memmove(out + best_i + 1, out + best_i + 2, (k - best_i - 2) * sizeof *out);
			k--;
		}
		pos += len;
	}
	free(rank);
	*n_ids = k;
	return out;
}

T_TEST(encode_chunking_and_reference)
{
	struct t_buf b = { 0 };
	size_t n_whole, n_ref, n_c;
	uint32_t m;

	gen_hard_text(&b);
	/* long words (SHORT_WORD < len <= cap) to exercise the heap path and bypass the cache */
	for (int i = 0; i < 200; i++) {
		buf_str(&b, " ");
		size_t len = 40 + rng() % 300;
		for (size_t j = 0; j < len; j++) {
			unsigned char c = "theandofing"[rng() % 11];
			t_buf_add(&b, &c, 1);
		}
	}
	struct nl_tok *tok = train(b.p, b.n, 0, 1500);
	T_CHECK(tok != NULL);
	if (tok == NULL) {
		free(b.p);
		return;
	}
	uint32_t *merges = tok_merges(tok, &m);
	uint32_t *whole = encode(tok, b.p, b.n, 0, &n_whole);
	uint32_t *ref = ref_encode(merges, m, b.p, b.n, &n_ref);
	T_CHECK_MSG(n_whole == n_ref && memcmp(whole, ref, n_ref * sizeof *ref) == 0,
	    "%zu ids, reference %zu", n_whole, n_ref);
	T_CHECK(n_whole < b.n / 2);
	T_CHECK(decodes_to(tok, whole, n_whole, b.p, b.n));
	static const size_t pieces[] = { 1, 2, 3, 7, 64, 1000, 5000, 20000 };
	for (size_t i = 0; i < sizeof pieces / sizeof *pieces; i++) {
		uint32_t *c = encode(tok, b.p, b.n, pieces[i], &n_c);
		T_CHECK_MSG(n_c == n_whole && memcmp(c, whole, n_c * sizeof *c) == 0,
		    "pieces of up to %zu bytes: %zu ids, whole %zu", pieces[i], n_c, n_whole);
		free(c);
	}
	free(ref);
	free(whole);
	free(merges);
	nl_tok_free(tok);
	free(b.p);
}

/* More distinct pre-tokens than the cache holds: it is cleared and results stay right. */
T_TEST(encode_cache_overflow)
{
	struct t_buf b = { 0 }, w = { 0 };
	size_t n_got, n_ref;
	uint32_t m;

	gen_text(&b, 30000);
	struct nl_tok *tok = train(b.p, b.n, 0, 800);
	T_CHECK(tok != NULL);
	if (tok == NULL) {
		free(b.p);
		return;
	}
	for (int i = 0; i < 70000; i++) {
		char word[16];
		snprintf(word, sizeof word, " %c%c%c%c%c", 'a' + i % 26, 'a' + i / 26 % 26,
		    'a' + i / 676 % 26, 'e' + i / 17576 % 4, "tnhs"[i % 4]);
		buf_str(&w, word);
		if (i % 3 == 0)
			buf_str(&w, " the");
	}
	uint32_t *merges = tok_merges(tok, &m);
	uint32_t *got = encode(tok, w.p, w.n, 0, &n_got);
	uint32_t *ref = ref_encode(merges, m, w.p, w.n, &n_ref);
	T_CHECK(n_got == n_ref && memcmp(got, ref, n_ref * sizeof *ref) == 0);
	free(got);
	free(ref);
	free(merges);
	nl_tok_free(tok);
	free(b.p);
	free(w.p);
}

T_TEST(round_trip_random_bytes)
{
	struct t_buf b = { 0 }, r = { 0 };
	size_t n_ids;
	struct nl_tok *bytes;
	struct nl_err err = { 0 };

	gen_text(&b, 30000);
	struct nl_tok *tok = train(b.p, b.n, 0, 1000);
	T_CHECK(tok != NULL && nl_tok_new_bytes(&bytes, &err) == 0);
	if (tok == NULL) {
		free(b.p);
		return;
	}
	/* random bytes, biased toward the interesting ones */
	for (int i = 0; i < 30000; i++) {
		unsigned char c = (unsigned char)rng();
		if (i % 3 == 0)
			c = (unsigned char)"\0 \n'e\xff\x80\xc3 t"[rng() % 10];
		t_buf_add(&r, &c, 1);
	}
	const struct nl_tok *toks[2] = { tok, bytes };
	for (int t = 0; t < 2; t++) {
		uint32_t *ids = encode(toks[t], r.p, r.n, 50, &n_ids);
		T_CHECK(decodes_to(toks[t], ids, n_ids, r.p, r.n));
		free(ids);
		ids = encode(toks[t], b.p, b.n, 0, &n_ids);
		T_CHECK(decodes_to(toks[t], ids, n_ids, b.p, b.n));
		free(ids);
		ids = encode(toks[t], NULL, 0, 0, &n_ids);
		T_CHECK(n_ids == 0);
		free(ids);
	}
	/* several documents through one encoder: each ends with final */
	struct nl_tok_enc *enc;
	uint32_t *ids = NULL;
	size_t cap = 0;
	n_ids = 0;
	T_CHECK(nl_tok_enc_new(&enc, tok, &err) == 0);
	nl_tok_encode(enc, (const unsigned char *)"hello wor", 9, 0, &ids, &n_ids, &cap, &err);
	nl_tok_encode(enc, (const unsigned char *)"ld", 2, 1, &ids, &n_ids, &cap, &err);
	size_t first = n_ids;
	nl_tok_encode(enc, (const unsigned char *)"hello world", 11, 1, &ids, &n_ids, &cap, &err);
	T_CHECK(n_ids == 2 * first && memcmp(ids, ids + first, first * sizeof *ids) == 0);
	nl_tok_enc_free(enc);
	free(ids);
	free(r.p);
	free(b.p);
	nl_tok_free(tok);
	nl_tok_free(bytes);
}

/* ---- tokenizer.nlt ---- */

T_TEST(save_load_round_trip)
{
	struct t_buf b = { 0 };
	struct nl_err err = { 0 };
	size_t n1, n2;

	gen_text(&b, 20000);
	struct nl_tok *tok = train(b.p, b.n, 0, 500);
	T_CHECK(tok != NULL);
	if (tok == NULL) {
		free(b.p);
		return;
	}
	unsigned char *f1 = save_mem(tok, &n1);
	struct nl_tok *tok2 = load_mem(f1, n1, &err);
	T_CHECK_MSG(tok2 != NULL, "%s", err.msg);
	if (tok2 != NULL) {
		unsigned char *f2 = save_mem(tok2, &n2);
		T_CHECK(n1 == n2 && memcmp(f1, f2, n1) == 0);
		T_CHECK(strcmp(nl_tok_hash(tok), nl_tok_hash(tok2)) == 0);
		T_CHECK(strcmp(nl_tok_type(tok2), "bpe") == 0);
		T_CHECK_MSG(nl_tok_vocab_size(tok2) == 500, "vocab %u", nl_tok_vocab_size(tok2));
		for (uint32_t id = 0; id < 500; id++) {
			size_t l1, l2;
			const unsigned char *p1 = nl_tok_piece(tok, id, &l1), *p2 = nl_tok_piece(tok2, id, &l2);
			if (l1 != l2 || (l1 && memcmp(p1, p2, l1) != 0)) {
				T_CHECK_MSG(0, "piece %u differs", id);
				break;
			}
		}
		free(f2);
		/* the same tokenizer encodes the same */
		size_t na, nb;
		uint32_t *a = encode(tok, b.p, b.n, 0, &na), *c = encode(tok2, b.p, b.n, 0, &nb);
		T_CHECK(na == nb && memcmp(a, c, na * sizeof *a) == 0);
		free(a);
		free(c);
	}
	/* the HEAD says what it is */
	struct nl_io io;
	struct nl_tfile *tf;
	const char *val;
	nl_io_open_mem_read(&io, f1, n1);
	T_CHECK(nl_tfile_open_read(&tf, &io, &err) == 0);
	T_CHECK(nl_tfile_meta(tf, "kind", &val) && strcmp(val, "tokenizer") == 0);
	T_CHECK(nl_tfile_meta(tf, "tokenizer.type", &val) && strcmp(val, "bpe") == 0);
	T_CHECK(nl_tfile_meta(tf, "tokenizer.vocab_size", &val) && strcmp(val, "500") == 0);
	T_CHECK(nl_tfile_meta(tf, "tokenizer.eot", &val) && strcmp(val, "256") == 0);
	T_CHECK(nl_tfile_meta(tf, "tokenizer.merges", &val) && strcmp(val, "243") == 0);
	nl_tfile_free(tf);
	nl_io_close(&io, &err);
	nl_tok_free(tok2);
	nl_tok_free(tok);
	free(f1);
	free(b.p);
}

/* Corruption: read a good file into a tensor set, change it, write it back, load. */
static struct nl_tset good_set;

static void
set_u32(const char *name, size_t i, uint32_t v)
{
	struct nl_tensor *t = nl_tset_find(&good_set, name);
	nl_put32((unsigned char *)t->data + 4 * i, v);
}

static uint32_t
get_u32(const char *name, size_t i)
{
	struct nl_tensor *t = nl_tset_find(&good_set, name);
	return nl_le32((unsigned char *)t->data + 4 * i);
}

/* Load ts; expect failure whose message contains want (NULL: expect success). */
static int
load_set(const struct nl_tset *ts, const char *want, char *msg, size_t msg_size)
{
	struct nl_io io;
	struct nl_err err = { 0 };
	size_t n;
	unsigned char *p;
	struct nl_tok *tok;

	nl_io_open_mem_write(&io);
	if (nl_tfile_write_tset(&io, ts, 1, &err) < 0) {
		snprintf(msg, msg_size, "write: %s", err.msg);
		nl_io_abort(&io);
		return 0;
	}
	p = nl_io_mem_take(&io, &n);
	nl_io_close(&io, &err);
	tok = load_mem(p, n, &err);
	free(p);
	snprintf(msg, msg_size, "%s", tok ? "(loaded)" : err.msg);
	nl_tok_free(tok);
	if (want == NULL)
		return tok != NULL;
	return tok == NULL && strstr(err.msg, want) != NULL && err.code != NL_OK;
}

static size_t
n_bytes_of(const struct nl_tset *ts)
{
	return nl_tset_find(ts, "vocab.bytes")->nbytes;
}

/* good_set with its tensors in another order, or fewer of them. */
static void
reorder(const int *order, int n)
{
	struct nl_tset ts;
	struct nl_err err = { 0 };

	nl_tset_init(&ts);
	nl_meta_copy(&ts.meta, &good_set.meta, &err);
	for (int i = 0; i < n; i++) {
		const struct nl_tensor *t = &good_set.t[order[i]];
		void *copy = malloc(t->nbytes + 1);
		memcpy(copy, t->data, t->nbytes);
		nl_tset_add_owned(&ts, &t->info, copy, t->nbytes, &err);
	}
	nl_tset_free(&good_set);
	good_set = ts;
}

static void
reload_good(const unsigned char *file, size_t n)
{
	struct nl_io io;
	struct nl_err err = { 0 };

	nl_tset_free(&good_set);
	nl_tset_init(&good_set);
	nl_io_open_mem_read(&io, file, n);
	nl_tfile_read_tset(&io, &good_set, &err);
	nl_io_close(&io, &err);
}

#define CORRUPT(change, want) do { char t_msg[600]; reload_good(file, n); change; \
	T_CHECK_MSG(load_set(&good_set, want, t_msg, sizeof t_msg), "want '%s', got '%s'", \
	    want, t_msg); } while (0)

T_TEST(load_corrupt)
{
	struct t_buf b = { 0 };
	struct nl_err err = { 0 };
	size_t n;
	char msg[600];

	gen_text(&b, 5000);
	struct nl_tok *tok = train(b.p, b.n, 0, 300);
	T_CHECK(tok != NULL && nl_tok_vocab_size(tok) == 300);
	if (tok == NULL) {
		free(b.p);
		return;
	}
	unsigned char *file = save_mem(tok, &n);
	nl_tset_init(&good_set);
	reload_good(file, n);
	T_CHECK(load_set(&good_set, NULL, msg, sizeof msg));

	CORRUPT(nl_meta_set(&good_set.meta, "kind", "tokens", &err), "not a tokenizer file");
	CORRUPT(nl_meta_set(&good_set.meta, "tokenizer.type", "wordpiece", &err), "unknown type");
	CORRUPT(nl_meta_set(&good_set.meta, "tokenizer.vocab_size", "301", &err), "merges for vocabulary size 301");
	CORRUPT(nl_meta_set(&good_set.meta, "tokenizer.vocab_size", "12x", &err), "is not a number");
	CORRUPT(nl_meta_set(&good_set.meta, "tokenizer.vocab_size", "99999999999", &err), "is not a number");
	CORRUPT(nl_meta_set(&good_set.meta, "tokenizer.eot", "0", &err), "eot is 0");
	CORRUPT(nl_meta_set(&good_set.meta, "tokenizer.merges", "42", &err), "42 merges");
	CORRUPT(nl_meta_set(&good_set.meta, "tokenizer.type", "bytes", &err), "type bytes with 43 merges");
	CORRUPT((nl_meta_set(&good_set.meta, "tokenizer.vocab_size", "299", &err),
	    nl_meta_set(&good_set.meta, "tokenizer.merges", "42", &err)),
	    "vocab.offsets has 301 entries for vocabulary size 299 (must be 300)");
	CORRUPT(set_u32("vocab.offsets", 0, 1), "vocab.offsets starts at 1");
	CORRUPT(set_u32("vocab.offsets", 270, get_u32("vocab.offsets", 269) - 1),
	    "vocab.offsets decreases at id 270");
	CORRUPT(set_u32("vocab.offsets", 300, get_u32("vocab.offsets", 300) - 1), "vocab.bytes holds");
	CORRUPT(((unsigned char *)nl_tset_find(&good_set, "vocab.bytes")->data)[65] = 'B',
	    "id 65 must be the single byte 0x41");
	CORRUPT((set_u32("vocab.offsets", 66, 67), set_u32("vocab.offsets", 67, 67)),
	    "id 65 must be the single byte");
	CORRUPT(set_u32("vocab.offsets", 257, get_u32("vocab.offsets", 256) + 1),
	    "<eot> (id 256) must have no bytes");
	CORRUPT(set_u32("merges", 24, 400), "tokenizer: merge 12 refers to id 400 (must be < 269)");
	CORRUPT(set_u32("merges", 25, 269), "merge 12 refers to id 269 (must be < 269)");
	CORRUPT(set_u32("merges", 25, 256), "merge 12 uses <eot>");
	CORRUPT((set_u32("merges", 24, get_u32("merges", 10)), set_u32("merges", 25, get_u32("merges", 11))),
	    "merge 12 repeats merge 5");
	CORRUPT(set_u32("merges", 24, get_u32("merges", 24) == 'a' ? 'b' : 'a'),
	    "piece 269 is not the concatenation");
	CORRUPT(((unsigned char *)nl_tset_find(&good_set, "vocab.bytes")->data)[n_bytes_of(&good_set) - 1] ^= 1,
	    "piece 299 is not the concatenation");
	static const int swapped[] = { 0, 2, 1 }, first[] = { 2, 0, 1 }, two[] = { 0, 1 };
	CORRUPT(reorder(swapped, 3), "expected tensor 'vocab.offsets', found 'merges'");
	CORRUPT(reorder(first, 3), "expected tensor 'vocab.bytes', found 'merges'");
	CORRUPT(reorder(two, 2), "missing tensor 'merges'");
	CORRUPT(nl_tset_add(&good_set, &(struct nl_tinfo){ .name = "extra", .dtype = NL_DTYPE_U8,
	    .rank = 1, .dims = { 1 } }, &err), "unexpected tensor 'extra'");
	CORRUPT(nl_tset_find(&good_set, "vocab.offsets")->info.dtype = NL_DTYPE_I32,
	    "tensor 'vocab.offsets' must be U32 of rank 1");
	CORRUPT((nl_tset_find(&good_set, "merges")->info.rank = 1,
	    nl_tset_find(&good_set, "merges")->info.dims[0] = 86), "tensor 'merges' must be U32 [M,2]");
	CORRUPT(nl_meta_set(&good_set.meta, "tokenizer.vocab_size", "16777217", &err),
	    "tokenizer.vocab_size '16777217' is not a number in 257..16777216");

	/* every truncation and every flipped byte is caught (the container's CRCs) */
	int loaded = 0;
	for (size_t cut = 0; cut < n; cut++) {
		struct nl_tok *t = load_mem(file, cut, &err);
		loaded += t != NULL;
		nl_tok_free(t);
	}
	T_CHECK_MSG(loaded == 0, "%d truncated files loaded", loaded);
	for (size_t i = 0; i < n; i++) {
		file[i] ^= 0x10;
		struct nl_tok *t = load_mem(file, n, &err);
		if (t != NULL && i != 10 && i != 11) /* the minor version may grow */
			loaded++;
		nl_tok_free(t);
		file[i] ^= 0x10;
	}
	T_CHECK_MSG(loaded == 0, "%d corrupted files loaded", loaded);
	/* not a tensor file at all; a tensor file of another kind */
	T_CHECK(load_mem((const unsigned char *)"hello world\n", 12, &err) == NULL);
	struct nl_tset other;
	nl_tset_init(&other);
	nl_meta_set(&other.meta, "kind", "tokens", &err);
	T_CHECK(!load_set(&other, NULL, msg, sizeof msg) && strstr(msg, "not a tokenizer file"));
	nl_tset_free(&other);
	free(file);
	nl_tset_free(&good_set);
	nl_tok_free(tok);
	free(b.p);
}

T_TEST(vocab_limits)
{
	struct nl_tok_trainer *tr;
	struct nl_tok *tok = NULL;
	struct nl_err err = { 0 };
	const unsigned char *s = (const unsigned char *)"aaaa bbbb aaaa bbbb";

	T_CHECK(nl_tok_trainer_new(&tr, &err) == 0);
	T_CHECK(nl_tok_trainer_feed(tr, s, strlen((const char *)s), 1, &err) == 0);
	T_CHECK(nl_tok_train(tr, 256, &tok, &err) < 0 && err.code == NL_ERANGE && tok == NULL);
	T_CHECK(nl_tok_train(tr, 0, &tok, &err) < 0 && err.code == NL_ERANGE);
	T_CHECK(nl_tok_train(tr, NL_TOK_MAX_VOCAB + 1, &tok, &err) < 0 && err.code == NL_ERANGE);
	T_CHECK(nl_tok_train(tr, UINT32_MAX, &tok, &err) < 0 && err.code == NL_ERANGE);
	/* 257: a BPE without merges (encodes like bytes, has its own hash) */
	T_CHECK(nl_tok_train(tr, 257, &tok, &err) == 0);
	if (tok) {
		T_CHECK(nl_tok_vocab_size(tok) == 257 && strcmp(nl_tok_type(tok), "bpe") == 0);
		T_CHECK(strlen(nl_tok_hash(tok)) == 8 && strcmp(nl_tok_hash(tok), "bytes") != 0);
		size_t n_ids;
		uint32_t *ids = encode(tok, s, 4, 0, &n_ids);
		T_CHECK(n_ids == 4 && ids[0] == 'a');
		free(ids);
	}
	nl_tok_free(tok);
	/* the maximum is accepted; training stops when pairs run out */
	T_CHECK(nl_tok_train(tr, NL_TOK_MAX_VOCAB, &tok, &err) == 0);
	/* words "aaaa" 1, " aaaa" 1, " bbbb" 2: "aa" ties "bb" at 6 and sorts first; then
	 * " bb", " bbbb" and "aaaa" all occur twice and go in byte order (space first) */
	static const char *want[] = { "aa", "bb", " bb", " bbbb", "aaaa" };
	T_CHECK(tok && nl_tok_vocab_size(tok) == 262);
	for (uint32_t i = 0; tok && i < 5 && i + 257 < nl_tok_vocab_size(tok); i++) {
		size_t len;
		const unsigned char *p = nl_tok_piece(tok, 257 + i, &len);
		T_CHECK_MSG(len == strlen(want[i]) && memcmp(p, want[i], len) == 0, "piece %u", 257 + i);
	}
	nl_tok_free(tok);
	nl_tok_trainer_free(tr);
}

int
main(void)
{
	T_RUN(pretoken_cases);
	T_RUN(pretoken_cap);
	T_RUN(pretoken_more_follows);
	T_RUN(pretoken_stream_agrees);
	T_RUN(bytes_tokenizer);
	T_RUN(train_hand_example);
	T_RUN(train_matches_reference);
	T_RUN(train_within_pretokens);
	T_RUN(train_chunking_and_determinism);
	T_RUN(train_documents);
	T_RUN(encode_chunking_and_reference);
	T_RUN(encode_cache_overflow);
	T_RUN(round_trip_random_bytes);
	T_RUN(save_load_round_trip);
	T_RUN(load_corrupt);
	T_RUN(vocab_limits);
	return t_done();
}
