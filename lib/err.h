/* nl — see LICENSE. Error reporting: the library fills a struct nl_err, never prints or exits. */
#ifndef NL_ERR_H
#define NL_ERR_H

enum nl_errcode {
	NL_OK = 0,
	NL_EIO,          /* read/write failure of the OS */
	NL_EFORMAT,      /* malformed or truncated input */
	NL_ECRC,         /* checksum mismatch */
	NL_ENOMEM,       /* allocation failed */
	NL_ERANGE,       /* value or size out of range, overflow */
	NL_EUNSUPPORTED, /* valid but not handled (newer version, dtype a format lacks) */
	NL_EUSAGE        /* caller asked for something impossible (tty output without force) */
};

/* msg is the "reason" part of "prog: object: reason": lower case, no period, no file name. */
struct nl_err {
	int code;
	char msg[512];
};

/* Set code and a printf-style message; returns -1 so callers can `return nl_err_set(...)`. */
int nl_err_set(struct nl_err *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Like nl_err_set with NL_EIO, appending ": strerror(errno)". */
int nl_err_sys(struct nl_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prefix the current message with "prefix: " (adds context on the way up). */
void nl_err_prefix(struct nl_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void nl_err_clear(struct nl_err *err);

#endif
