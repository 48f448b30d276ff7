/* nl — see LICENSE. Command-line plumbing shared by the programs in cmd/. */
#include "cli.h"

#include <archive.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>
#ifdef NL_BLAS_OPENBLAS
#include <cblas.h>
#endif

#ifndef NL_VERSION
#define NL_VERSION "0.0.0"
#endif

static const char *progname = "nl";

void
nl_cli_init(const char *argv0)
{
	const char *slash = strrchr(argv0, '/');
	progname = slash ? slash + 1 : argv0;
}

const char *
nl_cli_progname(void)
{
	return progname;
}

static void
vmessage(const char *prefix, const char *fmt, va_list ap)
{
	int saved = errno;
	size_t len = strlen(fmt);

	fprintf(stderr, "%s: %s", progname, prefix);
	vfprintf(stderr, fmt, ap);
	if (len > 0 && fmt[len - 1] == ':')
		fprintf(stderr, " %s", strerror(saved));
	fputc('\n', stderr);
}

void
nl_cli_die(int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmessage("", fmt, ap);
	va_end(ap);
	exit(status);
}

void
nl_cli_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmessage("warning: ", fmt, ap);
	va_end(ap);
}

void
nl_cli_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmessage("", fmt, ap);
	va_end(ap);
}

void
nl_cli_report(const char *object, const struct nl_err *err)
{
	fprintf(stderr, "%s: %s: %s\n", progname, object, err->msg[0] ? err->msg : "unknown error");
}

long long
nl_cli_int(const char *opt, const char *what, const char *s, long long lo, long long hi)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0 || v < lo || v > hi)
		nl_cli_die(2, "%s: invalid %s: '%s' (must be %lld..%lld)", opt, what, s, lo, hi);
	return v;
}

void
nl_cli_version(int verbose)
{
	printf("%s %s\n", progname, NL_VERSION);
	if (!verbose)
		return;
	printf("zlib %s\n%s\n", zlibVersion(), archive_version_details());
#ifdef NL_BLAS_OPENBLAS
	printf("OpenBLAS %s\n", openblas_get_config());
#else
	printf("BLAS none (naive kernels)\n");
#endif
}

int
nl_cli_fshut(int status)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		nl_cli_error("(stdout): write error: %s", strerror(errno));
		status = 1;
	}
	if (fclose(stdout) != 0 && status == 0) {
		nl_cli_error("(stdout): write error: %s", strerror(errno));
		status = 1;
	}
	return status;
}

double
nl_cli_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
