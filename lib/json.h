/* nl — see LICENSE. Minimal strict JSON (RFC 8259) for the safetensors header and the npz
 * metadata member; used nowhere else. Parses into a small tree; writes strings escaped. */
#ifndef NL_JSON_H
#define NL_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "meta.h"

enum nl_json_type { NL_JSON_NULL, NL_JSON_FALSE, NL_JSON_TRUE, NL_JSON_NUMBER, NL_JSON_STRING,
	NL_JSON_ARRAY, NL_JSON_OBJECT };

struct nl_json {
	enum nl_json_type type;
	char *str;                 /* STRING: NUL-terminated UTF-8 (a \u0000 escape is rejected);
	                              NUMBER: the literal text as written */
	size_t len;                /* STRING: byte length */
	size_t n;                  /* ARRAY/OBJECT: element count */
	char **keys;               /* OBJECT: keys, in document order (duplicates rejected) */
	struct nl_json *items;     /* ARRAY/OBJECT: values */
};

/* Parse exactly one value from s[0..len) (trailing whitespace allowed); depth <= 64. */
int nl_json_parse(const char *s, size_t len, struct nl_json *out, struct nl_err *err);
void nl_json_free(struct nl_json *j);
/* Member of an object, or NULL. */
const struct nl_json *nl_json_get(const struct nl_json *obj, const char *key);
/* NUMBER that is a non-negative integer fitting in uint64_t: 0 ok, -1 error. */
int nl_json_u64(const struct nl_json *j, uint64_t *out);

/* Append s (len bytes) as a quoted JSON string to a growing buffer (*buf, *used bytes of *cap)
 * (realloc'd). Returns 0 or -1 (NL_ENOMEM). */
int nl_json_put_string(char **buf, size_t *used, size_t *cap, const char *s, size_t len,
    struct nl_err *err);
/* Append raw text. */
int nl_json_put_raw(char **buf, size_t *used, size_t *cap, const char *s, struct nl_err *err);

/* A metadata map as a JSON object of strings, keys sorted: {"a":"1","b.c":"x"} (no spaces).
 * Returns a malloc'd NUL-terminated string and its length, or NULL with err set. */
char *nl_json_meta_encode(const struct nl_meta *m, size_t *len, struct nl_err *err);
/* Decode a JSON object whose values are all strings into m (keys must be valid meta keys). */
int nl_json_meta_decode(const struct nl_json *obj, struct nl_meta *m, struct nl_err *err);

#endif
