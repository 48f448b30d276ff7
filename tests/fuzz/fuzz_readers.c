/* nl — see LICENSE. libFuzzer entry point for every reader: the first byte picks the
 * format, the rest is the input. Build and run with `make fuzz` (clang). Readers must
 * return an error, never crash, hang or leak. */
#include <stddef.h>
#include <stdint.h>

#include "convert.h"
#include "tfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
list_row(void *ctx, const char *member, const struct nl_tinfo *ti, uint64_t bytes, uint32_t crc)
{
	(void)ctx, (void)member, (void)ti, (void)bytes, (void)crc;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nl_err err = { 0, "" };
	struct nl_tset ts;
	struct nl_io in;

	if (size < 1)
		return 0;
	nl_io_open_mem_read(&in, data + 1, size - 1);
	nl_tset_init(&ts);
	switch (data[0] % 7) {
	case 0: nl_tfile_read_tset(&in, &ts, &err); break;
	case 1: nl_fmt_npy_read(&in, "x", &ts, &err); break;
	case 2: nl_fmt_npz_read(&in, &ts, &err); break;
	case 3: nl_fmt_safetensors_read(&in, &ts, &err); break;
	case 4: nl_fmt_gguf_read(&in, &ts, &err); break;
	case 5: nl_convert_list(&in, "x", list_row, NULL, &err); break;
	default: {
		struct nl_io out;
		nl_io_open_mem_write(&out);
		nl_convert_nlt_stream(&in, &out, 1, &err);
		nl_io_abort(&out);
	}
	}
	nl_tset_free(&ts);
	nl_io_abort(&in);
	return 0;
}
