/* nl — see LICENSE. String-to-string metadata maps, kept sorted by key (bytewise). */
#ifndef NL_META_H
#define NL_META_H

#include <stddef.h>

#include "err.h"

#define NL_META_MAX_KEY 255
#define NL_META_MAX_VALUE 65536

struct nl_meta {
	size_t n, cap;
	char **keys, **vals;
};

void nl_meta_init(struct nl_meta *m);
void nl_meta_free(struct nl_meta *m);
/* Insert or replace; checks key syntax and value size (NL_EFORMAT). */
int nl_meta_set(struct nl_meta *m, const char *key, const char *val, struct nl_err *err);
/* Insert; a key already present is an error "duplicate metadata key". */
int nl_meta_add(struct nl_meta *m, const char *key, const char *val, struct nl_err *err);
const char *nl_meta_get(const struct nl_meta *m, const char *key);
int nl_meta_copy(struct nl_meta *dst, const struct nl_meta *src, struct nl_err *err);
/* Keys are [a-z0-9_]+(\.[a-z0-9_]+)*, at most 255 bytes. 1 valid, 0 not. */
int nl_meta_key_valid(const char *key);
/* Length of the well-formed UTF-8 sequence at s[0..avail) (avail >= 1): 1..4, or 0 for an
 * invalid, overlong, surrogate or truncated one. */
size_t nl_utf8_seq(const unsigned char *s, size_t avail);
/* UTF-8 without NUL, at most NL_META_MAX_VALUE bytes. 1 valid, 0 not. */
int nl_meta_value_valid(const char *val, size_t len);

/* Foreign metadata (GGUF KVs, safetensors __metadata__) whose key or value nl cannot hold is
 * dropped, but not silently: readers note each name and finally record
 * "<format>.skipped_count" and "<format>.skipped_keys" (names comma-separated; a name that
 * is not valid text, or no longer fits in 64 KiB, is counted but left out of the list). */
struct nl_meta_skips {
	char *names;
	size_t len;
	unsigned long long count;
};
void nl_meta_skips_note(struct nl_meta_skips *sk, const char *key);
/* Records the two keys into m when anything was noted; frees sk either way. */
int nl_meta_skips_record(struct nl_meta_skips *sk, struct nl_meta *m, const char *format,
    struct nl_err *err);

#endif
