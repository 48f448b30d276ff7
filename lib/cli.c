/* nl — see LICENSE. Command-line plumbing shared by the programs in cmd/. */
#include "cli.h"

#include <archive.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <pmmintrin.h>
#endif
#include <strings.h>
#include <time.h>
#include <unistd.h>
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
	/* Subnormal floats to zero, as ML runtimes do: a memory's state decays by α every
	 * token, so values that are never refreshed sink into the subnormal range, where
	 * each operation costs about a hundred cycles (a hope stream ran 7 times slower by
	 * its 5000th token). Threads created later (nl-train's workers) inherit the mode;
	 * OpenBLAS starts its own before main and keeps IEEE subnormals, which its dense
	 * products rarely meet. */
#if defined(__SSE2__)
	_MM_SET_FLUSH_ZERO_MODE(_MM_FLUSH_ZERO_ON);
	_MM_SET_DENORMALS_ZERO_MODE(_MM_DENORMALS_ZERO_ON);
#endif
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

double
nl_cli_double(const char *opt, const char *what, const char *s, double lo, double hi)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (*s == '\0' || *end != '\0' || errno != 0 || !(v >= lo && v <= hi))
		nl_cli_die(2, "%s: invalid %s: '%s' (must be %g..%g)", opt, what, s, lo, hi);
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
	printf("OpenBLAS %s (core %s)\n", openblas_get_config(), openblas_get_corename());
#else
	printf("BLAS none (naive kernels)\n");
#endif
}

void
nl_cli_blas_core(char **argv)
{
#if defined(NL_BLAS_OPENBLAS) && defined(__x86_64__)
	if (getenv("OPENBLAS_CORETYPE") || strcasecmp(openblas_get_corename(), "prescott") != 0)
		return;
	/* Sapphire/Emerald Rapids (family 6, models 143 and 207) are unknown to Debian's
	 * 0.3.21: measured 3-4x slower GEMMs there (README, Building). */
	__builtin_cpu_init();
	const char *core = NULL;
	if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
	    __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
		core = "SkylakeX";
	else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
		core = "Haswell";
	if (!core)
		return;
	/* The client's own path: under valgrind /proc/self/exe itself names the tool. */
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n <= 0 || (size_t)n >= sizeof self - 1)
		return;
	self[n] = '\0';
	if (setenv("OPENBLAS_CORETYPE", core, 1) != 0)
		return;
	execv(self, argv);
	unsetenv("OPENBLAS_CORETYPE"); /* exec failed: carry on with the slow kernels */
#else
	(void)argv;
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

int
nl_cli_stdin_readers(const char *const *opts, int n, char *const *files, int nfiles,
    int stdin_stream)
{
	int readers = stdin_stream;
	for (int i = 0; i < n; i++)
		readers += opts[i] && strcmp(opts[i], "-") == 0;
	for (int i = 0; i < nfiles; i++)
		readers += strcmp(files[i], "-") == 0;
	return readers;
}
