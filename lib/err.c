/* nl — see LICENSE. Error reporting helpers. */
#include "err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int
nl_err_set(struct nl_err *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return -1;
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof err->msg, fmt, ap);
	va_end(ap);
	return -1;
}

int
nl_err_sys(struct nl_err *err, const char *fmt, ...)
{
	int saved = errno;
	size_t len;
	va_list ap;

	if (err == NULL)
		return -1;
	err->code = NL_EIO;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof err->msg, fmt, ap);
	va_end(ap);
	len = strlen(err->msg);
	snprintf(err->msg + len, sizeof err->msg - len, "%s%s", len ? ": " : "", strerror(saved));
	return -1;
}

void
nl_err_prefix(struct nl_err *err, const char *fmt, ...)
{
	char pre[256], old[sizeof err->msg];
	va_list ap;

	if (err == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(pre, sizeof pre, fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof old);
	/* compose by hand: snprintf would warn that the two parts may not fit */
	size_t pl = strlen(pre), ol = strlen(old), cap = sizeof err->msg - 1;
	if (pl > cap)
		pl = cap;
	memcpy(err->msg, pre, pl);
	size_t at = pl;
	if (at + 2 <= cap) {
		memcpy(err->msg + at, ": ", 2);
		at += 2;
	}
	if (ol > cap - at)
		ol = cap - at;
	memcpy(err->msg + at, old, ol);
	err->msg[at + ol] = '\0';
}

void
nl_err_clear(struct nl_err *err)
{
	if (err == NULL)
		return;
	err->code = NL_OK;
	err->msg[0] = '\0';
}
