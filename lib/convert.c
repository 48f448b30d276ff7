/* nl — see LICENSE. Format detection, whole-file conversion and listing. */
#include "convert.h"

#include <archive.h>
#include <archive_entry.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "config.h"
#include "model.h"
#include "tfile.h"

static const struct {
	enum nl_format fmt;
	const char *name, *ext;
} formats[] = {
	{ NL_FORMAT_NLT, "nlt", ".nlt" },
	{ NL_FORMAT_NPY, "npy", ".npy" },
	{ NL_FORMAT_NPZ, "npz", ".npz" },
	{ NL_FORMAT_SAFETENSORS, "safetensors", ".safetensors" },
	{ NL_FORMAT_GGUF, "gguf", ".gguf" },
	{ NL_FORMAT_TAR, "tar", ".tar" },
};

enum nl_format
nl_format_detect(const unsigned char *p, size_t n)
{
	if (n >= 8 && memcmp(p, NL_TFILE_MAGIC, 8) == 0)
		return NL_FORMAT_NLT;
	if (n >= 6 && memcmp(p, "\x93NUMPY", 6) == 0)
		return NL_FORMAT_NPY;
	if (n >= 4 && (memcmp(p, "PK\x03\x04", 4) == 0 || memcmp(p, "PK\x05\x06", 4) == 0))
		return NL_FORMAT_NPZ;
	if (n >= 4 && memcmp(p, "GGUF", 4) == 0)
		return NL_FORMAT_GGUF;
	if (n >= 262 && memcmp(p + 257, "ustar", 5) == 0)
		return NL_FORMAT_TAR;
	if ((n >= 2 && p[0] == 0x1f && p[1] == 0x8b) ||
	    (n >= 6 && memcmp(p, "\xfd" "7zXZ\0", 6) == 0) ||
	    (n >= 4 && memcmp(p, "\x28\xb5\x2f\xfd", 4) == 0) ||
	    (n >= 3 && memcmp(p, "BZh", 3) == 0))
		return NL_FORMAT_COMPRESSED;
	/* safetensors: a plausible little-endian header length, then a JSON object */
	if (n >= 9 && p[8] == '{' && nl_le64(p) >= 2 && nl_le64(p) <= 100000000)
		return NL_FORMAT_SAFETENSORS;
	return NL_FORMAT_UNKNOWN;
}

enum nl_format
nl_format_parse(const char *name)
{
	for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++)
		if (strcmp(formats[i].name, name) == 0)
			return formats[i].fmt;
	return NL_FORMAT_UNKNOWN;
}

enum nl_format
nl_format_from_path(const char *path)
{
	size_t len = strlen(path);

	for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++) {
		size_t el = strlen(formats[i].ext);
		if (len > el && strcmp(path + len - el, formats[i].ext) == 0)
			return formats[i].fmt;
	}
	return NL_FORMAT_UNKNOWN;
}

const char *
nl_format_name(enum nl_format fmt)
{
	for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++)
		if (formats[i].fmt == fmt)
			return formats[i].name;
	return fmt == NL_FORMAT_COMPRESSED ? "compressed" : "unknown";
}

static int
detect(struct nl_io *in, enum nl_format *fmt, struct nl_err *err)
{
	const unsigned char *p;
	size_t got;

	if (nl_io_peek(in, &p, 512, &got, err) < 0)
		return -1;
	if (got == 0)
		return nl_err_set(err, NL_EFORMAT, "empty input");
	*fmt = nl_format_detect(p, got);
	if (*fmt == NL_FORMAT_UNKNOWN)
		return nl_err_set(err, NL_EFORMAT,
		    "unrecognised format (not nl-tensor, npy, npz, safetensors, GGUF or a tar bundle)");
	return 0;
}

/* The tensor name of a .npy file: its file name without directory and ".npy". */
static void
npy_name(const char *path, char *name, size_t size)
{
	const char *base = strrchr(path, '/');
	size_t len;

	if (strcmp(path, "-") == 0) {
		snprintf(name, size, "tensor");
		return;
	}
	base = base ? base + 1 : path;
	len = strlen(base);
	if (len > 4 && strcmp(base + len - 4, ".npy") == 0)
		len -= 4;
	if (len >= size)
		len = size - 1;
	memcpy(name, base, len);
	name[len] = '\0';
}

int
nl_convert_load(struct nl_io *in, const char *path, struct nl_tset *ts, enum nl_format *fmt,
    struct nl_err *err)
{
	char name[NL_MAX_NAME + 1];

	if (detect(in, fmt, err) < 0)
		return -1;
	switch (*fmt) {
	case NL_FORMAT_NLT:
		return nl_tfile_read_tset(in, ts, err);
	case NL_FORMAT_NPY:
		npy_name(path, name, sizeof name);
		return nl_fmt_npy_read(in, name, ts, err);
	case NL_FORMAT_NPZ:
		return nl_fmt_npz_read(in, ts, err);
	case NL_FORMAT_SAFETENSORS:
		return nl_fmt_safetensors_read(in, ts, err);
	case NL_FORMAT_GGUF:
		return nl_fmt_gguf_read(in, ts, err);
	case NL_FORMAT_COMPRESSED:
		return nl_err_set(err, NL_EUNSUPPORTED,
		    "compressed data: decompress it first (zcat, xzcat, zstdcat)");
	case NL_FORMAT_TAR:
		return nl_err_set(err, NL_EUNSUPPORTED,
		    "a checkpoint bundle converts to a tensor format only");
	default:
		return nl_err_set(err, NL_EUNSUPPORTED, "%s input cannot be converted",
		    nl_format_name(*fmt));
	}
}

int
nl_convert_save(struct nl_io *out, enum nl_format fmt, const struct nl_tset *ts, int level,
    struct nl_err *err)
{
	switch (fmt) {
	case NL_FORMAT_NLT:
		return nl_tfile_write_tset(out, ts, level, err);
	case NL_FORMAT_NPY:
		if (ts->n != 1)
			return nl_err_set(err, NL_EUNSUPPORTED,
			    "npy holds exactly one tensor, the input has %zu (use npz)", ts->n);
		if (ts->meta.n > 0)
			return nl_err_set(err, NL_EUNSUPPORTED,
			    "npy cannot hold the input's %zu metadata entries (use npz)", ts->meta.n);
		return nl_fmt_npy_write(out, &ts->t[0], err);
	case NL_FORMAT_NPZ:
		return nl_fmt_npz_write(out, ts, err);
	case NL_FORMAT_SAFETENSORS:
		return nl_fmt_safetensors_write(out, ts, err);
	case NL_FORMAT_GGUF:
		return nl_fmt_gguf_write(out, ts, err);
	default:
		return nl_err_set(err, NL_EUNSUPPORTED, "cannot write %s", nl_format_name(fmt));
	}
}

int
nl_convert_nlt_stream(struct nl_io *in, struct nl_io *out, int level, struct nl_err *err)
{
	struct nl_tfile *rd, *wr = NULL;
	struct nl_tinfo ti;
	unsigned char *buf = NULL;
	const size_t bufsize = 1u << 20;
	int r, side = -1;

	if (nl_tfile_open_read(&rd, in, err) < 0)
		return -1;
	if ((buf = malloc(bufsize)) == NULL) {
		nl_err_set(err, NL_ENOMEM, "out of memory");
		goto fail;
	}
	/* side: -1 while an error would be the input's, -2 around output calls */
	do {
		side = -2;
		if (nl_tfile_open_write(&wr, out, nl_tfile_meta_all(rd), level, err) < 0)
			goto fail;
		side = -1;
		while ((r = nl_tfile_next(rd, &ti, err)) == 1) {
			size_t got;
			side = -2;
			if (nl_tfile_begin(wr, &ti, err) < 0)
				goto fail;
			do {
				side = -1;
				if (nl_tfile_read(rd, buf, bufsize, &got, err) < 0)
					goto fail;
				side = -2;
				if (nl_tfile_write(wr, buf, got, err) < 0)
					goto fail;
			} while (got > 0);
			if (nl_tfile_end(wr, err) < 0)
				goto fail;
			side = -1;
		}
		if (r < 0)
			goto fail;
		side = -2;
		r = nl_tfile_close(wr, err);
		wr = NULL;
		if (r < 0)
			goto fail;
		side = -1;
	} while ((r = nl_tfile_next_member(rd, err)) == 1);
	if (r < 0)
		goto fail;
	nl_tfile_free(rd);
	free(buf);
	return 0;
fail:
	nl_tfile_free(wr);
	nl_tfile_free(rd);
	free(buf);
	return side;
}

/* Append name to the comma-separated list out (size bytes), "..." once it is full. */
static void
note_member(char *out, size_t size, const char *name)
{
	size_t len = strlen(out);

	if (len >= 3 && strcmp(out + len - 3, "...") == 0)
		return;
	if (len + 1 + strlen(name) + 4 < size)
		snprintf(out + len, size - len, "%s%s", len ? "," : "", name);
	else if (len + 5 <= size)
		snprintf(out + len, size - len, "%s...", len ? "," : "");
}

int
nl_convert_ckpt_export(struct nl_io *in, enum nl_format fmt, struct nl_tset *ts,
    char *left_out, size_t size, struct nl_err *err)
{
	struct nl_ckpt ck;
	struct nl_model m;
	int rc = -1;

	enum nl_format got;

	if (size > 0)
		left_out[0] = '\0';
	if (detect(in, &got, err) < 0)
		return -1;
	if (got != NL_FORMAT_TAR && got != NL_FORMAT_COMPRESSED)
		return nl_err_set(err, NL_EFORMAT, "not a checkpoint bundle (%s file)",
		    nl_format_name(got));
	if (nl_ckpt_read_io(&ck, in, 0, err) < 0)
		return -1;
	for (int i = 0; i < ck.n; i++)
		if (strcmp(ck.m[i].name, "config") != 0 && strcmp(ck.m[i].name, "params.nlt") != 0)
			note_member(left_out, size, ck.m[i].name);
	if (ck.skipped[0])
		note_member(left_out, size, ck.skipped);
	if (nl_model_from_ckpt(&m, &ck, err) == 0) {
		rc = nl_model_export(&m, ts, err) || nl_config_to_meta(&m.cfg, &ts->meta,
		    fmt == NL_FORMAT_GGUF ? "nl." : "", err) ? -1 : 0;
		nl_model_free(&m);
	}
	nl_ckpt_free(&ck);
	return rc;
}

/* Whether key is a configuration key of nl-config(5) (x.* included). */
static int
config_key(const char *key)
{
	const char *k;

	if (strncmp(key, "x.", 2) == 0)
		return 1;
	for (size_t i = 0; (k = nl_config_key_at(i)) != NULL; i++)
		if (strcmp(k, key) == 0)
			return 1;
	return 0;
}

int
nl_convert_ckpt_import(const struct nl_tset *ts, struct nl_ckpt *ck, struct nl_err *err)
{
	const char *prefix = "";
	const char *kind = nl_meta_get(&ts->meta, "kind");
	struct nl_config cfg;
	struct nl_meta keys;
	struct nl_model m;
	char vocab[16];
	size_t n = 0;
	int rc = -1;

	if (kind != NULL && strcmp(kind, "params") != 0)
		return nl_err_set(err, NL_EFORMAT, "not model parameters (kind=%.64s)", kind);
	/* GGUF's "nl." keys, also after a conversion to another format */
	for (size_t i = 0; i < ts->meta.n && *prefix == '\0'; i++)
		if (strncmp(ts->meta.keys[i], "nl.", 3) == 0)
			prefix = "nl.";
	/* the configuration keys, prefixed as found */
	nl_meta_init(&keys);
	nl_config_init(&cfg);
	for (size_t i = 0; i < ts->meta.n; i++) {
		const char *key = ts->meta.keys[i];
		if (*prefix ? strncmp(key, prefix, 3) != 0 : !config_key(key))
			continue;
		if (nl_meta_set(&keys, key, ts->meta.vals[i], err) < 0)
			goto out;
		n++;
	}
	snprintf(vocab, sizeof vocab, "%svocab_size", prefix);
	if (n == 0) {
		nl_err_set(err, NL_EFORMAT, "no model configuration in metadata");
		goto out;
	}
	if (nl_meta_get(&keys, vocab) == NULL) {
		nl_err_set(err, NL_EFORMAT, "no model configuration in metadata (no %s)", vocab);
		goto out;
	}
	if (nl_config_from_meta(&cfg, &keys, prefix, err) < 0)
		goto out;
	if (cfg.vocab_size == 0) {
		nl_err_set(err, NL_EFORMAT, "metadata key '%s' is 0: the model needs a vocabulary size",
		    vocab);
		goto out;
	}
	if (nl_model_create(&m, &cfg, err) < 0)
		goto out;
	rc = nl_model_import(&m, ts, 0, err) || nl_model_to_ckpt(&m, ck, err) ? -1 : 0;
	nl_model_free(&m);
out:
	nl_config_free(&cfg);
	nl_meta_free(&keys);
	return rc;
}

/* Stream the tensors of every member of an nl-tensor input to fn. */
static int
list_nlt(struct nl_io *in, const char *entry, nl_list_fn fn, void *ctx, struct nl_err *err)
{
	struct nl_tfile *tf;
	struct nl_tinfo ti;
	unsigned char buf[65536];
	unsigned member = 1;
	char label[1100];
	int r;

	if (nl_tfile_open_read(&tf, in, err) < 0)
		return -1;
	do {
		if (entry != NULL)
			snprintf(label, sizeof label, "%s", entry);
		else
			snprintf(label, sizeof label, "%u", member);
		while ((r = nl_tfile_next(tf, &ti, err)) == 1) {
			size_t got;
			uint64_t bytes = 0;
			do {
				if (nl_tfile_read(tf, buf, sizeof buf, &got, err) < 0)
					goto fail;
				bytes += got;
			} while (got > 0);
			if (fn(ctx, label, nl_tfile_current(tf), bytes, nl_tfile_content_crc(tf)) < 0)
				goto fail;
		}
		if (r < 0)
			goto fail;
		member++;
	} while ((r = nl_tfile_next_member(tf, err)) == 1);
	if (r < 0)
		goto fail;
	nl_tfile_free(tf);
	return 0;
fail:
	nl_tfile_free(tf);
	return -1;
}

static int
list_tar(struct nl_io *in, nl_list_fn fn, void *ctx, struct nl_err *err)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	int rc = -1, r;

	if (a == NULL) {
		nl_err_set(err, NL_ENOMEM, "out of memory");
		goto out;
	}
	archive_read_support_format_tar(a);
	archive_read_support_filter_all(a);
	if (nl_io_archive_open(a, in, err) < 0) {
		nl_err_prefix(err, "tar bundle");
		goto out;
	}
	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		const char *name = archive_entry_pathname(e);
		size_t len = name ? strlen(name) : 0; /* NULL: a name not decodable in this locale */
		if (archive_entry_filetype(e) != AE_IFREG || len < 4 || strcmp(name + len - 4, ".nlt") != 0)
			continue;
		struct nl_io entry;
		nl_io_open_archive_entry(&entry, a, name);
		r = list_nlt(&entry, name, fn, ctx, err);
		nl_io_abort(&entry);
		if (r < 0) {
			nl_err_prefix(err, "%s", name);
			goto out;
		}
	}
	if (r != ARCHIVE_EOF) {
		nl_err_set(err, NL_EFORMAT, "tar bundle: %s", archive_error_string(a));
		goto out;
	}
	/* libarchive also reports a clean end when the input stops at an entry boundary; a
	 * complete archive has its end-of-archive zero blocks after the last header position */
	if (archive_filter_bytes(a, 0) < archive_read_header_position(a) + 512) {
		nl_err_set(err, NL_EFORMAT, "tar bundle: truncated (no end-of-archive blocks)");
		goto out;
	}
	rc = 0;
out:
	if (a != NULL)
		archive_read_free(a);
	return rc;
}

int
nl_convert_list(struct nl_io *in, const char *path, nl_list_fn fn, void *ctx, struct nl_err *err)
{
	enum nl_format fmt;
	struct nl_tset ts;

	if (detect(in, &fmt, err) < 0)
		return -1;
	if (fmt == NL_FORMAT_NLT)
		return list_nlt(in, NULL, fn, ctx, err);
	if (fmt == NL_FORMAT_TAR || fmt == NL_FORMAT_COMPRESSED)
		return list_tar(in, fn, ctx, err);
	nl_tset_init(&ts);
	if (nl_convert_load(in, path, &ts, &fmt, err) < 0) {
		nl_tset_free(&ts);
		return -1;
	}
	for (size_t i = 0; i < ts.n; i++) {
		uint32_t crc = (uint32_t)crc32_z(0, ts.t[i].data, ts.t[i].nbytes);
		if (fn(ctx, "1", &ts.t[i].info, ts.t[i].nbytes, crc) < 0) {
			nl_tset_free(&ts);
			return -1;
		}
	}
	nl_tset_free(&ts);
	return 0;
}
