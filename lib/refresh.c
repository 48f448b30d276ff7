/* nl — see LICENSE. Continual-learning refreshes (refresh.h). */
#include "refresh.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "probe.h"

int
nl_refresh_lock(const char *output, int wait, int *fd, struct nl_err *err)
{
	char path[4096];
	if (snprintf(path, sizeof path, "%s.lock", output) >= (int)sizeof path)
		return nl_err_set(err, NL_ERANGE, "path too long");
	int f = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (f < 0)
		return nl_err_sys(err, "%s", path);
	struct flock fl;
	memset(&fl, 0, sizeof fl);
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	while (fcntl(f, wait ? F_SETLKW : F_SETLK, &fl) < 0) {
		if (errno == EINTR && wait)
			continue;
		if (errno != EACCES && errno != EAGAIN) {
			nl_err_sys(err, "%s", path);
			close(f);
			return -1;
		}
		/* who holds it: the pid the lock knows (0 if it was freed meanwhile) */
		long pid = 0;
		struct flock who = fl;
		if (fcntl(f, F_GETLK, &who) == 0 && who.l_type != F_UNLCK)
			pid = (long)who.l_pid;
		close(f);
		return nl_err_set(err, NL_EUSAGE, "locked by pid %ld (another refresh; --wait waits "
		    "for it)", pid);
	}
	char buf[32];
	int n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
	if (ftruncate(f, 0) < 0 || pwrite(f, buf, (size_t)n, 0) != n) {
		nl_err_sys(err, "%s", path);
		close(f);
		return -1;
	}
	*fd = f;
	return 0;
}

void
nl_refresh_unlock(int fd)
{
	if (fd >= 0)
		close(fd);         /* closing releases the fcntl lock */
}

void
nl_refresh_hash(const struct nl_tokens *tk, char out[17])
{
	uint64_t h = UINT64_C(14695981039346656037);
	for (size_t i = 0; i < tk->n; i++) {
		uint32_t v = (uint32_t)tk->ids[i];
		for (int b = 0; b < 4; b++) {
			h ^= (v >> (8 * b)) & 0xff;
			h *= UINT64_C(1099511628211);
		}
	}
	snprintf(out, 17, "%016llx", (unsigned long long)h);
}

/* Whether field k (0-based) of the line [p, end) is s. */
static int
field_is(const char *p, const char *end, int k, const char *s)
{
	for (int tab = 0; tab < k && p; tab++) {
		p = memchr(p, '\t', (size_t)(end - p));
		if (p)
			p++;
	}
	const size_t n = strlen(s);
	return p && (size_t)(end - p) >= n && memcmp(p, s, n) == 0 && (p + n == end || p[n] == '\t');
}

int
nl_refresh_seen(const char *history, size_t len, const char *hash, const char *learn)
{
	/* the header's fields are "hash" and "learn", never a hash */
	const char *p = history, *end = history + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *line_end = nl ? nl : end;
		if (field_is(p, line_end, 2, hash) && field_is(p, line_end, 5, learn))
			return 1;
		p = line_end + 1;
	}
	return 0;
}

int
nl_refresh_learn(const char *spec, const struct nl_config *cfg, const struct nl_layout *lo,
    unsigned char *frozen, struct nl_err *err)
{
	int want[NL_CMS_MAX_LEVELS] = { 0 };
	int64_t periods[NL_CMS_MAX_LEVELS];
	const int levels = nl_config_has_cms(cfg) ? nl_config_cms_periods(cfg, periods) : 0;
	if (strcmp(spec, "all") == 0) {
		memset(frozen, 0, lo->n);
		return 0;
	}
	if (strcmp(spec, "memory") == 0) {
		int learn, max_seq;
		char why[sizeof err->msg];
		if (nl_probe_plan(cfg, &learn, &max_seq, err)) {
			snprintf(why, sizeof why, "%s", err->msg);
			return nl_err_set(err, NL_EUSAGE, "--learn memory: %s", why);
		}
		memset(frozen, 1, lo->n);
		return 0;
	}
	if (strncmp(spec, "cms", 3) != 0 || (spec[3] != 0 && spec[3] != ':'))
		return nl_err_set(err, NL_EUSAGE, "--learn %s: all, memory, cms or cms:LEVELS",
		    spec);
	if (levels == 0)
		return nl_err_set(err, NL_EUSAGE, "--learn %s: a %s has no CMS levels", spec,
		    cfg->model);
	if (spec[3] == 0)
		for (int v = 0; v < levels; v++)
			want[v] = 1;
	for (const char *p = spec + 4; spec[3] == ':';) {
		char *end;
		long v = strtol(p, &end, 10);
		if (end == p || (*end != ',' && *end))
			return nl_err_set(err, NL_EUSAGE, "--learn %s: levels are a list of numbers",
			    spec);
		if (v < 0 || v >= levels)
			return nl_err_set(err, NL_EUSAGE, "--learn %s: the model has levels 0 to %d",
			    spec, levels - 1);
		want[v] = 1;
		if (*end == 0)
			break;
		p = end + 1;
	}
	for (size_t i = 0; i < lo->n; i++) {
		int l, v, n = 0;
		frozen[i] = 1;
		if (sscanf(lo->p[i].name, "layers.%d.cms.%d.%n", &l, &v, &n) == 2 && n > 0 &&
		    v >= 0 && v < levels && want[v])
			frozen[i] = 0;
	}
	return 0;
}

/* a refresh's own keys, and the values it runs with unless -D names them (NULL: the
 * model's) */
static const char *const refresh_keys[NL_REFRESH_KEYS][2] = {
	{ "optim.schedule", "constant" }, { "optim.warmup", "0" }, { "train.every", "0" },
	{ "train.valid_percent", "0" }, { "train.eval_tokens", "32768" }, { "optim.lr", NULL },
	{ "train.batch", NULL }, { "train.seq_len", NULL }, { "ttl", NULL }, { "reset", NULL },
};

int
nl_refresh_keys_apply(struct nl_config *c, const char *const *defs, int ndefs,
    struct nl_refresh_keys *k, struct nl_err *err)
{
	char *text;
	size_t len;
	memset(k, 0, sizeof *k);
	if (nl_config_format(c, &text, &len, err))
		return -1;
	for (int i = 0; i < NL_REFRESH_KEYS; i++) {
		const char *key = refresh_keys[i][0];
		const size_t kl = strlen(key);
		int named = 0;
		for (int d = 0; d < ndefs; d++)
			named |= strncmp(defs[d], key, kl) == 0 && defs[d][kl] == '=';
		/* its line "key = value" in the config's text */
		for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
			if (strncmp(p, key, kl) == 0 && strncmp(p + kl, " = ", 3) == 0) {
				const char *v = p + kl + 3, *e = strchr(v, '\n');
				size_t vl = e ? (size_t)(e - v) : strlen(v);
				if (vl >= sizeof k->was[i])
					vl = sizeof k->was[i] - 1;
				memcpy(k->was[i], v, vl);
				k->was[i][vl] = 0;
				k->set[i] = 1;
			}
		if (k->set[i] && !named && refresh_keys[i][1] &&
		    nl_config_set(c, key, refresh_keys[i][1], err)) {
			free(text);
			return -1;
		}
	}
	free(text);
	return 0;
}

int
nl_refresh_keys_restore(struct nl_config *c, const struct nl_refresh_keys *k,
    struct nl_err *err)
{
	for (int i = 0; i < NL_REFRESH_KEYS; i++)
		if (k->set[i] && nl_config_set(c, refresh_keys[i][0], k->was[i], err))
			return -1;
	return 0;
}

/* s with tabs and line ends as '_', into buf of size n. */
static const char *
one_field(const char *s, char *buf, size_t n)
{
	snprintf(buf, n, "%s", s);
	for (char *p = buf; *p; p++)
		if (*p == '\t' || *p == '\n' || *p == '\r')
			*p = '_';
	return buf;
}

int
nl_refresh_history_add(const char *history, size_t len, const struct nl_refresh_row *row,
    char **out, size_t *outlen, const char **line)
{
	static char buf[8192];
	char when[32];
	time_t t = (time_t)row->time;
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
	char data[2048], learn[256], watch[4096];
	int n = snprintf(buf, sizeof buf, "%s\t%s\t%s\t%llu\t%llu\t%s\t%.6g\t%.6f\t%.6f\t%s\n",
	    when, one_field(row->data, data, sizeof data), row->hash, row->tokens, row->steps,
	    one_field(row->learn, learn, sizeof learn), row->lr, row->loss_before, row->loss_after,
	    one_field(row->watch, watch, sizeof watch));
	if (n < 0 || (size_t)n >= sizeof buf)   /* the fields are bounded well below buf */
		return -1;
	const char *head = len ? history : NL_REFRESH_HEADER;
	const size_t hl = len ? len : strlen(NL_REFRESH_HEADER);
	char *o = malloc(hl + (size_t)n + 1);
	if (o == NULL)
		return -1;
	memcpy(o, head, hl);
	memcpy(o + hl, buf, (size_t)n + 1);
	*out = o;
	*outlen = hl + (size_t)n;
	*line = buf;
	return 0;
}

/* Read the first limit tokens of data (0: all) as nl_refresh_memory does, CMS levels
 * learning with learn; the state after it to *out when out is not NULL. */
static int
read_stream(const struct nl_model *m, const unsigned char *state, size_t len,
    const struct nl_tokens *data, uint64_t limit, int learn, struct nl_eval_result *res,
    unsigned char **out, size_t *outlen, void (*progress)(size_t done, size_t total),
    struct nl_err *err)
{
	const struct nl_config *cfg = &m->cfg;
	struct nl_state from = { 0 };
	struct nl_tf tf;
	struct nl_tf_stream s;
	struct nl_io io;
	const size_t total = limit && limit < data->n ? (size_t)limit : data->n;
	memset(res, 0, sizeof *res);
	if (len && nl_state_from_bytes(&from, state, len, err))
		return -1;
	if (nl_tf_init(&tf, cfg, &m->lo, 1, nl_eval_stream_piece(cfg, 0), sizeof(float), err)) {
		nl_state_free(&from);
		return -1;
	}
	int rc = nl_eval_stream_start(&tf, m->params, &s, cfg, len ? &from : NULL, err);
	nl_state_free(&from);
	if (rc) {
		nl_tf_free(&tf);
		return -1;
	}
	for (size_t at = 0; rc == 0 && at < total; at += NL_REFRESH_PIECE) {
		struct nl_tokens piece = *data;      /* a view of data's storage */
		piece.ids += at;
		piece.flags = data->flags ? data->flags + at : NULL;
		piece.n = total - at < NL_REFRESH_PIECE ? total - at : NL_REFRESH_PIECE;
		rc = nl_eval_stream(&tf, m->params, &s, &piece, m->tok, learn && cfg->ttl,
		    strcmp(cfg->reset, "doc") == 0, res, NULL, err);
		if (rc == 0 && progress)
			progress(at + piece.n, total);
	}
	nl_eval_finish(res);
	if (rc == 0 && out) {
		nl_io_open_mem_write(&io);
		rc = nl_state_write(&tf, cfg, &s, &io, err) || nl_io_flush(&io, err) ? -1 : 0;
		if (rc == 0 && (*out = nl_io_mem_take(&io, outlen)) == NULL)
			rc = nl_err_set(err, NL_ENOMEM, "out of memory for the memory state");
		nl_io_abort(&io);
	}
	nl_tf_stream_free(&s);
	nl_tf_free(&tf);
	return rc;
}

int
nl_refresh_memory(const struct nl_model *m, const unsigned char *state, size_t len,
    const struct nl_tokens *data, struct nl_eval_result *res, unsigned char **out,
    size_t *outlen, void (*progress)(size_t done, size_t total), struct nl_err *err)
{
	return read_stream(m, state, len, data, 0, 1, res, out, outlen, progress, err);
}

int
nl_refresh_measure(const struct nl_model *m, const unsigned char *state, size_t len,
    const struct nl_tokens *data, uint64_t limit, struct nl_eval_result *res,
    struct nl_err *err)
{
	return read_stream(m, state, len, data, limit, 0, res, NULL, NULL, NULL, err);
}
