/* nl — see LICENSE. Sorted string maps. */
#include "meta.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
nl_meta_init(struct nl_meta *m)
{
	memset(m, 0, sizeof *m);
}

void
nl_meta_free(struct nl_meta *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free(m->keys[i]);
		free(m->vals[i]);
	}
	free(m->keys);
	free(m->vals);
	nl_meta_init(m);
}

int
nl_meta_key_valid(const char *key)
{
	size_t len = strlen(key);
	int need_char = 1; /* at start and after each dot */

	if (len == 0 || len > NL_META_MAX_KEY)
		return 0;
	for (const char *p = key; *p; p++) {
		if (*p == '.') {
			if (need_char)
				return 0;
			need_char = 1;
		} else if ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_') {
			need_char = 0;
		} else {
			return 0;
		}
	}
	return !need_char;
}

size_t
nl_utf8_seq(const unsigned char *s, size_t avail)
{
	unsigned c = s[0], cp;
	size_t k;

	if (c < 0x80)
		return 1;
	if ((c & 0xe0) == 0xc0) {
		k = 1;
		cp = c & 0x1f;
	} else if ((c & 0xf0) == 0xe0) {
		k = 2;
		cp = c & 0x0f;
	} else if ((c & 0xf8) == 0xf0) {
		k = 3;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (avail <= k)
		return 0;
	for (size_t i = 1; i <= k; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	/* overlong forms, surrogates and values past U+10FFFF are not UTF-8 */
	if ((k == 1 && cp < 0x80) || (k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return k + 1;
}

int
nl_meta_value_valid(const char *val, size_t len)
{
	const unsigned char *p = (const unsigned char *)val, *end = p + len;

	if (len > NL_META_MAX_VALUE)
		return 0;
	while (p < end) {
		size_t k = *p ? nl_utf8_seq(p, (size_t)(end - p)) : 0;
		if (k == 0)
			return 0;
		p += k;
	}
	return 1;
}

/* Index of key, or -(insertion point) - 1. */
static ptrdiff_t
meta_find(const struct nl_meta *m, const char *key)
{
	size_t lo = 0, hi = m->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(m->keys[mid], key);
		if (c == 0)
			return (ptrdiff_t)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -(ptrdiff_t)lo - 1;
}

static int
meta_put(struct nl_meta *m, const char *key, const char *val, int replace, struct nl_err *err)
{
	if (!nl_meta_key_valid(key))
		return nl_err_set(err, NL_EFORMAT, "invalid metadata key '%.64s'", key);
	if (!nl_meta_value_valid(val, strlen(val)))
		return nl_err_set(err, NL_EFORMAT, "invalid value for metadata key '%s'", key);
	ptrdiff_t at = meta_find(m, key);
	char *v = strdup(val);
	if (v == NULL)
		return nl_err_set(err, NL_ENOMEM, "out of memory");
	if (at >= 0) {
		if (!replace) {
			free(v);
			return nl_err_set(err, NL_EFORMAT, "duplicate metadata key '%s'", key);
		}
		free(m->vals[at]);
		m->vals[at] = v;
		return 0;
	}
	size_t pos = (size_t)(-at - 1);
	char *k = strdup(key);
	if (k == NULL) {
		free(v);
		return nl_err_set(err, NL_ENOMEM, "out of memory");
	}
	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 8;
		char **nk = realloc(m->keys, cap * sizeof *nk);
		if (nk != NULL)
			m->keys = nk;
		char **nv = nk ? realloc(m->vals, cap * sizeof *nv) : NULL;
		if (nv == NULL) {
			free(k);
			free(v);
			return nl_err_set(err, NL_ENOMEM, "out of memory");
		}
		m->vals = nv;
		m->cap = cap;
	}
	memmove(m->keys + pos + 1, m->keys + pos, (m->n - pos) * sizeof *m->keys);
	memmove(m->vals + pos + 1, m->vals + pos, (m->n - pos) * sizeof *m->vals);
	m->keys[pos] = k;
	m->vals[pos] = v;
	m->n++;
	return 0;
}

int
nl_meta_set(struct nl_meta *m, const char *key, const char *val, struct nl_err *err)
{
	return meta_put(m, key, val, 1, err);
}

int
nl_meta_add(struct nl_meta *m, const char *key, const char *val, struct nl_err *err)
{
	return meta_put(m, key, val, 0, err);
}

const char *
nl_meta_get(const struct nl_meta *m, const char *key)
{
	ptrdiff_t at = meta_find(m, key);
	return at >= 0 ? m->vals[at] : NULL;
}

int
nl_meta_copy(struct nl_meta *dst, const struct nl_meta *src, struct nl_err *err)
{
	for (size_t i = 0; i < src->n; i++)
		if (nl_meta_set(dst, src->keys[i], src->vals[i], err) < 0)
			return -1;
	return 0;
}

void
nl_meta_skips_note(struct nl_meta_skips *sk, const char *key)
{
	size_t len = strlen(key), sep = sk->len > 0;

	sk->count++;
	if (!nl_meta_value_valid(key, len) || len + sep > NL_META_MAX_VALUE - sk->len)
		return;
	char *p = realloc(sk->names, sk->len + sep + len + 1);
	if (p == NULL)
		return; /* counted; the list is best effort */
	sk->names = p;
	if (sep)
		sk->names[sk->len++] = ',';
	memcpy(sk->names + sk->len, key, len + 1);
	sk->len += len;
}

int
nl_meta_skips_record(struct nl_meta_skips *sk, struct nl_meta *m, const char *format,
    struct nl_err *err)
{
	char key[64], num[32];
	int rc = 0;

	if (sk->count > 0) {
		snprintf(num, sizeof num, "%llu", sk->count);
		snprintf(key, sizeof key, "%s.skipped_count", format);
		rc = nl_meta_set(m, key, num, err);
		snprintf(key, sizeof key, "%s.skipped_keys", format);
		if (rc == 0)
			rc = nl_meta_set(m, key, sk->names ? sk->names : "", err);
	}
	free(sk->names);
	memset(sk, 0, sizeof *sk);
	return rc;
}
