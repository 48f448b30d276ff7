/* nl — see LICENSE. Strict RFC 8259 JSON: a recursive-descent parser into a small tree,
 * string escaping for writers, and metadata maps as JSON objects of strings. */
#include "json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSON_MAX_DEPTH 64

struct jp {
	const unsigned char *s;
	size_t len, pos;
	struct nl_err *err;
};

/* A key and where it started, for duplicate detection after the object is complete. */
struct jkey {
	const char *key;
	size_t off;
};

static int
jp_fail(struct jp *p, size_t at, const char *what)
{
	return nl_err_set(p->err, NL_EFORMAT, "json: %s at byte %zu", what, at);
}

static int
jp_nomem(struct jp *p)
{
	return nl_err_set(p->err, NL_ENOMEM, "out of memory");
}

static int
jp_eof(struct jp *p)
{
	return jp_fail(p, p->len, "unexpected end of input");
}

/* Report the byte at p->pos as unexpected, showing it when printable. */
static int
jp_unexpected(struct jp *p, const char *expected)
{
	unsigned c;

	if (p->pos >= p->len)
		return jp_eof(p);
	c = p->s[p->pos];
	if (c > 0x20 && c < 0x7f)
		return nl_err_set(p->err, NL_EFORMAT, "json: unexpected character '%c' at byte %zu%s%s",
		    (int)c, p->pos, expected ? ", expected " : "", expected ? expected : "");
	return nl_err_set(p->err, NL_EFORMAT, "json: unexpected byte 0x%02x at byte %zu%s%s", c,
	    p->pos, expected ? ", expected " : "", expected ? expected : "");
}

static void
jp_ws(struct jp *p)
{
	while (p->pos < p->len) {
		unsigned char c = p->s[p->pos];
		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			break;
		p->pos++;
	}
}

static int
hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Four hex digits at s[at..at+4) below end; -1 if malformed. */
static long
hex4(const unsigned char *s, size_t at, size_t end)
{
	long v = 0;

	if (end - at < 4)
		return -1;
	for (int i = 0; i < 4; i++) {
		int h = hexval(s[at + (size_t)i]);
		if (h < 0)
			return -1;
		v = v << 4 | h;
	}
	return v;
}

static size_t
utf8_put(unsigned char *o, unsigned long cp)
{
	if (cp < 0x80) {
		o[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (unsigned char)(0xc0 | cp >> 6);
		o[1] = (unsigned char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (unsigned char)(0xe0 | cp >> 12);
		o[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		o[2] = (unsigned char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (unsigned char)(0xf0 | cp >> 18);
	o[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
	o[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
	o[3] = (unsigned char)(0x80 | (cp & 0x3f));
	return 4;
}

/* A string at p->pos (which is '"') into a malloc'd NUL-terminated buffer. */
static int
jp_string(struct jp *p, char **out, size_t *outlen)
{
	const unsigned char *s = p->s;
	size_t start = p->pos + 1, end = start, j, n = 0;
	unsigned char *o;

	/* find the closing quote first: the decoded text is never longer than the raw text */
	for (;;) {
		if (end >= p->len)
			return jp_eof(p);
		if (s[end] == '"')
			break;
		end += s[end] == '\\' ? 2 : 1;
	}
	o = malloc(end - start + 1);
	if (o == NULL)
		return jp_nomem(p);
	for (j = start; j < end;) {
		unsigned char c = s[j];
		if (c < 0x20) {
			free(o);
			return jp_fail(p, j, "control character in string");
		}
		if (c >= 0x80) {
			size_t k = nl_utf8_seq(s + j, end - j);
			if (k == 0) {
				free(o);
				return jp_fail(p, j, "invalid utf-8 in string");
			}
			memcpy(o + n, s + j, k);
			n += k;
			j += k;
			continue;
		}
		if (c != '\\') {
			o[n++] = c;
			j++;
			continue;
		}
		switch (s[j + 1]) {
		case '"': o[n++] = '"'; break;
		case '\\': o[n++] = '\\'; break;
		case '/': o[n++] = '/'; break;
		case 'b': o[n++] = '\b'; break;
		case 'f': o[n++] = '\f'; break;
		case 'n': o[n++] = '\n'; break;
		case 'r': o[n++] = '\r'; break;
		case 't': o[n++] = '\t'; break;
		case 'u': {
			long cp = hex4(s, j + 2, end), lo;
			if (cp < 0) {
				free(o);
				return jp_fail(p, j, "invalid \\u escape");
			}
			if (cp == 0) {
				free(o);
				return jp_fail(p, j, "\\u0000 in string");
			}
			if (cp >= 0xdc00 && cp <= 0xdfff) {
				free(o);
				return jp_fail(p, j, "unpaired surrogate");
			}
			if (cp >= 0xd800 && cp <= 0xdbff) {
				/* a high surrogate must be followed at once by a low one */
				if (end - j < 12 || s[j + 6] != '\\' || s[j + 7] != 'u' ||
				    (lo = hex4(s, j + 8, end)) < 0xdc00 || lo > 0xdfff) {
					free(o);
					return jp_fail(p, j, "unpaired surrogate");
				}
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				j += 6;
			}
			n += utf8_put(o + n, (unsigned long)cp);
			j += 6;
			continue;
		}
		default:
			free(o);
			return jp_fail(p, j, "invalid escape");
		}
		j += 2;
	}
	o[n] = '\0';
	*out = (char *)o;
	*outlen = n;
	p->pos = end + 1;
	return 0;
}

static int
isdigit_(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static int
jp_number(struct jp *p, struct nl_json *v)
{
	const unsigned char *s = p->s;
	size_t start = p->pos, i = start;

	if (s[i] == '-')
		i++;
	if (i >= p->len)
		return jp_eof(p);
	if (s[i] == '0') {
		i++;
		if (i < p->len && isdigit_(s[i]))
			return jp_fail(p, start, "leading zero in number");
	} else if (isdigit_(s[i])) {
		while (i < p->len && isdigit_(s[i]))
			i++;
	} else {
		return jp_fail(p, start, "invalid number");
	}
	if (i < p->len && s[i] == '.') {
		i++;
		if (i >= p->len || !isdigit_(s[i]))
			return jp_fail(p, start, "invalid number");
		while (i < p->len && isdigit_(s[i]))
			i++;
	}
	if (i < p->len && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < p->len && (s[i] == '+' || s[i] == '-'))
			i++;
		if (i >= p->len || !isdigit_(s[i]))
			return jp_fail(p, start, "invalid number");
		while (i < p->len && isdigit_(s[i]))
			i++;
	}
	v->str = malloc(i - start + 1);
	if (v->str == NULL)
		return jp_nomem(p);
	memcpy(v->str, s + start, i - start);
	v->str[i - start] = '\0';
	v->len = i - start;
	v->type = NL_JSON_NUMBER;
	p->pos = i;
	return 0;
}

static int
jp_literal(struct jp *p, const char *word, enum nl_json_type type, struct nl_json *v)
{
	size_t n = strlen(word);

	if (p->len - p->pos < n) {
		if (memcmp(p->s + p->pos, word, p->len - p->pos) == 0)
			return jp_eof(p);
		return jp_fail(p, p->pos, "invalid literal");
	}
	if (memcmp(p->s + p->pos, word, n) != 0)
		return jp_fail(p, p->pos, "invalid literal");
	p->pos += n;
	v->type = type;
	return 0;
}

/* Grow an array of elements of size sz to hold at least n+1 entries. */
static int
grow(void **arr, size_t *cap, size_t n, size_t sz)
{
	size_t c;
	void *q;

	if (n < *cap)
		return 0;
	c = *cap ? *cap * 2 : 4;
	if (c > (size_t)-1 / sz)
		return -1;
	q = realloc(*arr, c * sz);
	if (q == NULL)
		return -1;
	*arr = q;
	*cap = c;
	return 0;
}

static int jp_value(struct jp *p, struct nl_json *v, int depth);

static int
jp_array(struct jp *p, struct nl_json *v, int depth)
{
	size_t cap = 0;
	void *items = NULL;

	v->type = NL_JSON_ARRAY;
	p->pos++;
	jp_ws(p);
	if (p->pos < p->len && p->s[p->pos] == ']') {
		p->pos++;
		return 0;
	}
	for (;;) {
		items = v->items;
		if (grow(&items, &cap, v->n, sizeof *v->items) < 0)
			return jp_nomem(p);
		v->items = items;
		memset(&v->items[v->n], 0, sizeof *v->items);
		/* count it before parsing so a partial element is freed with the tree */
		v->n++;
		if (jp_value(p, &v->items[v->n - 1], depth) < 0)
			return -1;
		jp_ws(p);
		if (p->pos >= p->len)
			return jp_eof(p);
		if (p->s[p->pos] == ']') {
			p->pos++;
			return 0;
		}
		if (p->s[p->pos] != ',')
			return jp_unexpected(p, "',' or ']'");
		p->pos++;
		jp_ws(p);
		if (p->pos < p->len && p->s[p->pos] == ']')
			return jp_fail(p, p->pos, "trailing comma");
	}
}

static int
jkey_cmp(const void *a, const void *b)
{
	const struct jkey *x = a, *y = b;
	int c = strcmp(x->key, y->key);

	if (c != 0)
		return c;
	return x->off < y->off ? -1 : x->off > y->off;
}

/* Sort the keys: O(n log n) even for headers with many thousands of tensors. */
static int
jp_check_dups(struct jp *p, struct jkey *ks, size_t n)
{
	size_t first = 0;
	const char *key = NULL;

	if (n < 2)
		return 0;
	qsort(ks, n, sizeof *ks, jkey_cmp);
	for (size_t i = 1; i < n; i++)
		if (strcmp(ks[i - 1].key, ks[i].key) == 0 && (key == NULL || ks[i].off < first)) {
			first = ks[i].off;
			key = ks[i].key;
		}
	if (key != NULL)
		return nl_err_set(p->err, NL_EFORMAT, "json: duplicate key '%.64s' at byte %zu", key,
		    first);
	return 0;
}

static int
jp_object(struct jp *p, struct nl_json *v, int depth)
{
	size_t cap = 0, kcap = 0, klen;
	struct jkey *ks = NULL;
	void *arr;
	char *key;
	int rc = -1;

	v->type = NL_JSON_OBJECT;
	p->pos++;
	jp_ws(p);
	if (p->pos < p->len && p->s[p->pos] == '}') {
		p->pos++;
		return 0;
	}
	for (;;) {
		size_t koff = p->pos;
		if (p->pos >= p->len) {
			jp_eof(p);
			goto out;
		}
		if (p->s[p->pos] != '"') {
			jp_unexpected(p, "a string key");
			goto out;
		}
		/* keys and items grow together; cap is shared */
		size_t oldcap = cap;
		arr = v->items;
		if (grow(&arr, &cap, v->n, sizeof *v->items) < 0) {
			jp_nomem(p);
			goto out;
		}
		v->items = arr;
		if (cap != oldcap) {
			char **nk = realloc(v->keys, cap * sizeof *nk);
			if (nk == NULL) {
				jp_nomem(p);
				goto out;
			}
			v->keys = nk;
		}
		arr = ks;
		if (grow(&arr, &kcap, v->n, sizeof *ks) < 0) {
			jp_nomem(p);
			goto out;
		}
		ks = arr;
		if (jp_string(p, &key, &klen) < 0)
			goto out;
		v->keys[v->n] = key;
		memset(&v->items[v->n], 0, sizeof *v->items);
		ks[v->n].key = key;
		ks[v->n].off = koff;
		v->n++;
		jp_ws(p);
		if (p->pos >= p->len) {
			jp_eof(p);
			goto out;
		}
		if (p->s[p->pos] != ':') {
			jp_unexpected(p, "':'");
			goto out;
		}
		p->pos++;
		if (jp_value(p, &v->items[v->n - 1], depth) < 0)
			goto out;
		jp_ws(p);
		if (p->pos >= p->len) {
			jp_eof(p);
			goto out;
		}
		if (p->s[p->pos] == '}') {
			p->pos++;
			break;
		}
		if (p->s[p->pos] != ',') {
			jp_unexpected(p, "',' or '}'");
			goto out;
		}
		p->pos++;
		jp_ws(p);
		if (p->pos < p->len && p->s[p->pos] == '}') {
			jp_fail(p, p->pos, "trailing comma");
			goto out;
		}
	}
	rc = jp_check_dups(p, ks, v->n);
out:
	free(ks);
	return rc;
}

static int
jp_value(struct jp *p, struct nl_json *v, int depth)
{
	jp_ws(p);
	if (p->pos >= p->len)
		return jp_eof(p);
	switch (p->s[p->pos]) {
	case '{':
	case '[':
		if (depth >= JSON_MAX_DEPTH)
			return jp_fail(p, p->pos, "nesting deeper than 64");
		if (p->s[p->pos] == '{')
			return jp_object(p, v, depth + 1);
		return jp_array(p, v, depth + 1);
	case '"':
		v->type = NL_JSON_STRING;
		return jp_string(p, &v->str, &v->len);
	case 't':
		return jp_literal(p, "true", NL_JSON_TRUE, v);
	case 'f':
		return jp_literal(p, "false", NL_JSON_FALSE, v);
	case 'n':
		return jp_literal(p, "null", NL_JSON_NULL, v);
	default:
		if (p->s[p->pos] == '-' || isdigit_(p->s[p->pos]))
			return jp_number(p, v);
		return jp_unexpected(p, NULL);
	}
}

int
nl_json_parse(const char *s, size_t len, struct nl_json *out, struct nl_err *err)
{
	struct jp p = { (const unsigned char *)s, len, 0, err };

	memset(out, 0, sizeof *out);
	if (jp_value(&p, out, 0) < 0)
		goto fail;
	jp_ws(&p);
	if (p.pos < p.len) {
		jp_fail(&p, p.pos, "trailing data");
		goto fail;
	}
	return 0;
fail:
	nl_json_free(out);
	return -1;
}

void
nl_json_free(struct nl_json *j)
{
	if (j == NULL)
		return;
	for (size_t i = 0; i < j->n; i++) {
		if (j->keys)
			free(j->keys[i]);
		if (j->items)
			nl_json_free(&j->items[i]);
	}
	free(j->keys);
	free(j->items);
	free(j->str);
	memset(j, 0, sizeof *j);
}

const struct nl_json *
nl_json_get(const struct nl_json *obj, const char *key)
{
	if (obj == NULL || obj->type != NL_JSON_OBJECT)
		return NULL;
	for (size_t i = 0; i < obj->n; i++)
		if (strcmp(obj->keys[i], key) == 0)
			return &obj->items[i];
	return NULL;
}

int
nl_json_u64(const struct nl_json *j, uint64_t *out)
{
	uint64_t v = 0;

	if (j == NULL || j->type != NL_JSON_NUMBER || j->len == 0)
		return -1;
	/* digits only: a minus sign, fraction or exponent is not an integer here */
	for (size_t i = 0; i < j->len; i++) {
		unsigned d = (unsigned char)j->str[i] - '0';
		if (d > 9 || v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

/* Room for add more bytes plus the NUL we keep after the text. */
static int
buf_reserve(char **buf, size_t *used, size_t *cap, size_t add, struct nl_err *err)
{
	size_t need, c;
	char *q;

	if (add > (size_t)-1 - *used - 1)
		return nl_err_set(err, NL_ENOMEM, "out of memory");
	need = *used + add + 1;
	if (need <= *cap && *buf != NULL)
		return 0;
	c = *cap ? *cap : 64;
	while (c < need)
		c = c > (size_t)-1 / 2 ? need : c * 2;
	q = realloc(*buf, c);
	if (q == NULL)
		return nl_err_set(err, NL_ENOMEM, "out of memory");
	*buf = q;
	*cap = c;
	return 0;
}

int
nl_json_put_raw(char **buf, size_t *used, size_t *cap, const char *s, struct nl_err *err)
{
	size_t n = strlen(s);

	if (buf_reserve(buf, used, cap, n, err) < 0)
		return -1;
	memcpy(*buf + *used, s, n);
	*used += n;
	(*buf)[*used] = '\0';
	return 0;
}

int
nl_json_put_string(char **buf, size_t *used, size_t *cap, const char *s, size_t len,
    struct nl_err *err)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 2;
	char *o;

	if (len > ((size_t)-1 - 2) / 6)
		return nl_err_set(err, NL_ENOMEM, "out of memory");
	/* exact size first, so the loop below cannot fail halfway */
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		n += c == '"' || c == '\\' || c == '\b' || c == '\f' || c == '\n' || c == '\r' ||
		    c == '\t' ? 2 : c < 0x20 ? 6 : 1;
	}
	if (buf_reserve(buf, used, cap, n, err) < 0)
		return -1;
	o = *buf + *used;
	*o++ = '"';
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		switch (c) {
		case '"': *o++ = '\\'; *o++ = '"'; break;
		case '\\': *o++ = '\\'; *o++ = '\\'; break;
		case '\b': *o++ = '\\'; *o++ = 'b'; break;
		case '\f': *o++ = '\\'; *o++ = 'f'; break;
		case '\n': *o++ = '\\'; *o++ = 'n'; break;
		case '\r': *o++ = '\\'; *o++ = 'r'; break;
		case '\t': *o++ = '\\'; *o++ = 't'; break;
		default:
			if (c < 0x20) {
				memcpy(o, "\\u00", 4);
				o[4] = hex[c >> 4];
				o[5] = hex[c & 15];
				o += 6;
			} else {
				*o++ = (char)c;
			}
		}
	}
	*o++ = '"';
	*o = '\0';
	*used += n;
	return 0;
}

char *
nl_json_meta_encode(const struct nl_meta *m, size_t *len, struct nl_err *err)
{
	char *buf = NULL;
	size_t used = 0, cap = 0;

	if (nl_json_put_raw(&buf, &used, &cap, "{", err) < 0)
		goto fail;
	/* nl_meta keeps keys sorted bytewise, which is the order we promise */
	for (size_t i = 0; i < m->n; i++) {
		if ((i > 0 && nl_json_put_raw(&buf, &used, &cap, ",", err) < 0) ||
		    nl_json_put_string(&buf, &used, &cap, m->keys[i], strlen(m->keys[i]), err) < 0 ||
		    nl_json_put_raw(&buf, &used, &cap, ":", err) < 0 ||
		    nl_json_put_string(&buf, &used, &cap, m->vals[i], strlen(m->vals[i]), err) < 0)
			goto fail;
	}
	if (nl_json_put_raw(&buf, &used, &cap, "}", err) < 0)
		goto fail;
	if (len)
		*len = used;
	return buf;
fail:
	free(buf);
	return NULL;
}

int
nl_json_meta_decode(const struct nl_json *obj, struct nl_meta *m, struct nl_err *err)
{
	if (obj == NULL || obj->type != NL_JSON_OBJECT)
		return nl_err_set(err, NL_EFORMAT, "metadata is not a json object");
	for (size_t i = 0; i < obj->n; i++) {
		const struct nl_json *v = &obj->items[i];
		if (v->type != NL_JSON_STRING)
			return nl_err_set(err, NL_EFORMAT, "metadata value for key '%.64s' is not a string",
			    obj->keys[i]);
		/* a string holding NUL cannot come from the parser, but trees may be built by hand */
		if (strlen(v->str) != v->len)
			return nl_err_set(err, NL_EFORMAT, "metadata value for key '%.64s' contains nul",
			    obj->keys[i]);
		if (nl_meta_add(m, obj->keys[i], v->str, err) < 0)
			return -1;
	}
	return 0;
}
