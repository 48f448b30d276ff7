/* nl — see LICENSE. Benchmark helper for bench/tensor-io: `tio write LEVEL DTYPE` turns raw
 * little-endian elements on stdin into a one-tensor .nlt (first dimension streamed) on
 * stdout; `tio read` decodes an .nlt from stdin (verifying every CRC) to raw bytes on stdout. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io.h"
#include "tfile.h"

static int
fail(const char *what, const struct nl_err *err)
{
	fprintf(stderr, "tio: %s: %s\n", what, err->msg);
	return 1;
}

int
main(int argc, char **argv)
{
	struct nl_err err = { 0, "" };
	struct nl_io in, out;
	struct nl_tfile *tf;
	struct nl_tinfo ti;
	static unsigned char buf[1 << 20];
	size_t got;

	if (argc == 4 && strcmp(argv[1], "write") == 0) {
		memset(&ti, 0, sizeof ti);
		snprintf(ti.name, sizeof ti.name, "data");
		ti.dtype = nl_dtype_parse(argv[3]);
		ti.rank = 1;
		ti.dims[0] = NL_DIM_STREAM;
		if (nl_io_open_read(&in, "-", NL_IO_FORCE, &err) < 0 || nl_io_open_write(&out, "-", NL_IO_FORCE, &err) < 0 ||
		    nl_tfile_open_write(&tf, &out, NULL, atoi(argv[2]), &err) < 0 ||
		    nl_tfile_begin(tf, &ti, &err) < 0)
			return fail("write", &err);
		ptrdiff_t n;
		while ((n = nl_io_read(&in, buf, sizeof buf, &err)) > 0)
			if (nl_tfile_write(tf, buf, (size_t)n, &err) < 0)
				return fail("write", &err);
		if (n < 0 || nl_tfile_end(tf, &err) < 0 || nl_tfile_close(tf, &err) < 0 ||
		    nl_io_close(&out, &err) < 0)
			return fail("write", &err);
		return 0;
	}
	if (argc == 2 && strcmp(argv[1], "read") == 0) {
		if (nl_io_open_read(&in, "-", NL_IO_FORCE, &err) < 0 || nl_io_open_write(&out, "-", NL_IO_FORCE, &err) < 0 ||
		    nl_tfile_open_read(&tf, &in, &err) < 0)
			return fail("read", &err);
		int r;
		while ((r = nl_tfile_next(tf, &ti, &err)) == 1)
			do {
				if (nl_tfile_read(tf, buf, sizeof buf, &got, &err) < 0 ||
				    nl_io_write(&out, buf, got, &err) < 0)
					return fail("read", &err);
			} while (got > 0);
		if (r < 0 || nl_io_close(&out, &err) < 0)
			return fail("read", &err);
		nl_tfile_free(tf);
		return 0;
	}
	fprintf(stderr, "usage: tio write level dtype < raw > out.nlt | tio read < in.nlt > raw\n");
	return 2;
}
