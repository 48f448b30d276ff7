/* nl — see LICENSE. Continual-learning refreshes (nl-train --refresh, nl-train(1) REFRESH):
 * the lock that keeps two refreshes of one model apart, the identity of the data a refresh
 * learns, the history a checkpoint carries of its refreshes, and which parameters learn. */
#ifndef NL_REFRESH_H
#define NL_REFRESH_H
#include <stddef.h>
#include <stdint.h>
#include "config.h"
#include "data.h"
#include "err.h"
#include "eval.h"
#include "layout.h"
#include "model.h"

/* Take the exclusive lock of output: an fcntl write lock on output.lock (created beside it,
 * left in place), held until nl_refresh_unlock or the process ends, with the holder's pid
 * written in it. wait: block until it is free; else a held lock is NL_EUSAGE, "locked by
 * pid N". *fd receives the lock's descriptor. */
int nl_refresh_lock(const char *output, int wait, int *fd, struct nl_err *err);
void nl_refresh_unlock(int fd);

/* The data's identity: 64-bit FNV-1a of its token ids (little-endian int32), as 16 hex
 * digits plus NUL. */
void nl_refresh_hash(const struct nl_tokens *tk, char out[17]);

/* The history a checkpoint carries (member history.tsv): its header, and whether a history
 * of len bytes records a refresh of data with this hash (its third column) learned as
 * learn says (its sixth). */
#define NL_REFRESH_HEADER "time\tdata\thash\ttokens\tsteps\tlearn\tlr\tloss_before\t" \
	"loss_after\twatch_bpb\n"
int nl_refresh_seen(const char *history, size_t len, const char *hash, const char *learn);

/* A refresh's own keys: those it sets for its run (a constant rate, no warmup, no
 * evaluation during it, nothing held out, its losses and --watch measured on the first
 * 32768 tokens) unless a -D definition names them, and those a -D definition or an option
 * may set for this refresh alone (optim.lr, train.batch, train.seq_len, ttl, reset). The
 * values they had are kept, and nl_refresh_keys_restore puts them back before the
 * checkpoint is written. Other keys given with -D change the model's configuration, as in
 * any resumed run (optim.name, say, must stay with the optimizer state written). */
#define NL_REFRESH_KEYS 10
struct nl_refresh_keys {
	int set[NL_REFRESH_KEYS];
	char was[NL_REFRESH_KEYS][64];
};
int nl_refresh_keys_apply(struct nl_config *c, const char *const *defs, int ndefs,
    struct nl_refresh_keys *k, struct nl_err *err);
int nl_refresh_keys_restore(struct nl_config *c, const struct nl_refresh_keys *k,
    struct nl_err *err);

/* One refresh, as a history row. */
struct nl_refresh_row {
	long long time;            /* seconds since the epoch, UTC */
	const char *data;          /* the inputs' names, comma-separated (tabs and line ends
	                            * become '_' in the row) */
	const char *hash;          /* nl_refresh_hash */
	unsigned long long tokens, steps;
	const char *learn;
	double lr, loss_before, loss_after;
	const char *watch;         /* "file=bpb,…", or "-" */
};
/* history (len bytes; empty: a new one, given its header) with row appended, in a new
 * buffer *out of *outlen bytes; -1 when out of memory. The row alone (no header) goes to
 * *line (static storage). */
int nl_refresh_history_add(const char *history, size_t len, const struct nl_refresh_row *row,
    char **out, size_t *outlen, const char **line);

/* --learn: which parameters a refresh trains; frozen[i] is set for the others of lo's
 * parameters. spec: "all" (every one), "cms" (every CMS level: layers.L.cms.V.*, the
 * paper's level stacking on a frozen backbone), "cms:V[,V...]" (those levels) or "memory"
 * (none: test-time learning alone, nl_refresh_memory). NL_EUSAGE for a bad spec, a model
 * without CMS levels, a level it does not have, or memory for a model with nothing that
 * writes as it reads (a transformer). */
int nl_refresh_learn(const char *spec, const struct nl_config *cfg, const struct nl_layout *lo,
    unsigned char *frozen, struct nl_err *err);

/* --learn memory: m reads data as one stream (nl_eval_stream, as nl-eval(1) --adapt does)
 * from the memory state of len bytes (a memory.nlt member; len 0: the meta-learned state),
 * its memories writing and, unless cfg.ttl is 0, its CMS levels learning as they go. The
 * loss goes to res, the state the stream ends in to *out (memory.nlt bytes, *outlen; the
 * caller frees). progress, if not NULL, hears the tokens read so far and in all after each
 * piece of NL_REFRESH_PIECE tokens (a stream read in pieces equals one read). */
#define NL_REFRESH_PIECE 8192
int nl_refresh_memory(const struct nl_model *m, const unsigned char *state, size_t len,
    const struct nl_tokens *data, struct nl_eval_result *res, unsigned char **out,
    size_t *outlen, void (*progress)(size_t done, size_t total), struct nl_err *err);
/* What a memory refresh measures: the loss of m reading the first limit tokens of data
 * (0: all) from that state with its CMS levels fixed (nl-eval --no-adapt -M), into res. */
int nl_refresh_measure(const struct nl_model *m, const unsigned char *state, size_t len,
    const struct nl_tokens *data, uint64_t limit, struct nl_eval_result *res,
    struct nl_err *err);
#endif
