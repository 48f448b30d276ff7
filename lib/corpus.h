/* nl — see LICENSE. Text corpora for nl-tokenize: files, stdin, gzip (dictzip too), and
 * archives through libarchive (tar with any filter, zip, Debian .deb whose data.tar.* is
 * opened as a nested archive), read as a stream of documents in bounded memory. */
#ifndef NL_CORPUS_H
#define NL_CORPUS_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct nl_corpus;

struct nl_corpus_opts {
	/* Copied by nl_corpus_open. Globs match the member path with leading "./" and "/"
	 * removed (a .deb's "./usr/share/x" is matched as "usr/share/x"). */
	const char *const *include;   /* -I globs on archive member paths (fnmatch, no flags) */
	size_t n_include;
	const char *const *exclude;   /* -X globs */
	size_t n_exclude;
	const char *separator;        /* -S: a line equal to this ends a document (dropped) */
	/* Called for notices worth a -v line ("skipping binary member x"); may be NULL. */
	void (*notice)(void *ctx, const char *source, const char *msg);
	void *notice_ctx;
};

/* Operands in order; none, or "-", is stdin. With rewindable set, stdin is spooled to a
 * temporary file so that nl_corpus_rewind can read everything again (for -P, which needs
 * the total size first). */
int nl_corpus_open(struct nl_corpus **c, const char *const *paths, size_t n_paths,
    const struct nl_corpus_opts *opts, int rewindable, struct nl_err *err);
/* Next piece of document text: 1 with (*data, *len) valid until the next call and
 * *doc_start set on the first piece of each document; 0 at the end of all input; -1 on
 * error. Documents: each plain file, stdin, gzip stream or archive member, further split
 * at separator lines; empty documents are not returned. Pieces are at most 1 MiB. */
int nl_corpus_read(struct nl_corpus *c, const unsigned char **data, size_t *len, int *doc_start,
    struct nl_err *err);
/* The file or "archive:member" being read, for messages ("(stdin)" for stdin; a .deb
 * member is "pkg.deb:data.tar.xz:./usr/x"). After nl_corpus_read fails it is the operand
 * alone, and the message names the parts inside it ("data.tar.xz: ./usr/x: reason"), so
 * that "prog: source: message" names everything once. */
const char *nl_corpus_source(const struct nl_corpus *c);
/* Start again from the first operand (only when opened rewindable). */
int nl_corpus_rewind(struct nl_corpus *c, struct nl_err *err);
void nl_corpus_close(struct nl_corpus *c);

#endif
