/* nl — see LICENSE. Shared command-line plumbing for cmd/ (and the bench/ programs): messages in the
 * "prog: object: reason" form, strict numbers, version lines, checked stdout. */
#ifndef NL_CLI_H
#define NL_CLI_H

#include <stdarg.h>

#include "err.h"

/* Set the program name used in messages (basename of argv[0]). */
void nl_cli_init(const char *argv0);
const char *nl_cli_progname(void);
/* Print "prog: msg" and exit(status). A message ending in ':' gets ": strerror(errno)". */
_Noreturn void nl_cli_die(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Print "prog: warning: msg". */
void nl_cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print "prog: msg" (no exit). */
void nl_cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print "prog: object: err->msg". */
void nl_cli_report(const char *object, const struct nl_err *err);
/* Parse an integer option value in [lo, hi]; on failure print
 * "prog: -z: invalid what: 'x' (must be lo..hi)" and exit 2. */
long long nl_cli_int(const char *opt, const char *what, const char *s, long long lo, long long hi);
/* The same for a real number in [lo, hi]. */
double nl_cli_double(const char *opt, const char *what, const char *s, double lo, double hi);
/* "prog 0.1.0"; verbose adds the zlib, libarchive and OpenBLAS versions. */
void nl_cli_version(int verbose);
/* OpenBLAS picks its kernels in a constructor that runs before main. When it fell back
 * to its SSE3 "Prescott" kernels on a CPU with AVX2 or AVX-512 (a CPU newer than the
 * OpenBLAS build knows), restart the program with OPENBLAS_CORETYPE naming the core its
 * features support; a no-op when the variable is already set (the user's choice, or after
 * the restart) or when the restart fails. Call first in main, before any input is read. */
void nl_cli_blas_core(char **argv);
/* How many of a program's inputs read standard input: the option arguments opts[0..n) that
 * are "-" (NULL: not given), and the operands files[0..nfiles) that are, or the token
 * stream itself when stdin_stream (no operands). */
int nl_cli_stdin_readers(const char *const *opts, int n, char *const *files, int nfiles,
    int stdin_stream);
/* Monotonic seconds, for rates and ETAs. */
double nl_cli_seconds(void);
/* Flush and check stdout (and stderr); returns status, or 1 if stdout failed. */
int nl_cli_fshut(int status);

#endif
