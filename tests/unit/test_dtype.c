/* nl — see LICENSE. dtypes: table, half-precision conversions, checked conversions, shapes. */
#include <float.h>
#include <stdint.h>

#include "dtype.h"
#include "t.h"
#include "tensor.h"

T_TEST(table)
{
	static const char *names[] = { "?", "F32", "F64", "F16", "BF16", "I8", "U8", "I16", "U16",
		"I32", "U32", "I64", "U64", "BOOL" };
	static const size_t sizes[] = { 0, 4, 8, 2, 2, 1, 1, 2, 2, 4, 4, 8, 8, 1 };
	for (int i = 0; i <= NL_DTYPE_MAX; i++) {
		T_CHECK(strcmp(nl_dtype_name(i), names[i]) == 0);
		T_CHECK(nl_dtype_size(i) == sizes[i]);
		if (i > 0)
			T_CHECK((int)nl_dtype_parse(names[i]) == i);
	}
	T_CHECK(nl_dtype_size(14) == 0 && nl_dtype_size(-1) == 0);
	T_CHECK(nl_dtype_parse("f32") == NL_DTYPE_INVALID);
}

T_TEST(f16_exhaustive)
{
	/* every half value goes to float and back unchanged (NaNs stay NaN) */
	int bad = 0;
	for (uint32_t h = 0; h < 65536; h++) {
		float f = nl_f16_to_f32((uint16_t)h);
		uint16_t back = nl_f32_to_f16(f);
		int is_nan = (h & 0x7c00) == 0x7c00 && (h & 0x3ff);
		if (is_nan ? !isnan(f) || (back & 0x7c00) != 0x7c00 || !(back & 0x3ff) : back != h)
			bad++;
	}
	T_CHECK(bad == 0);
	T_CHECK(nl_f16_to_f32(0x3c00) == 1.0f);
	T_CHECK(nl_f16_to_f32(0x0001) == 0x1p-24f);
	T_CHECK(nl_f16_to_f32(0x7bff) == 65504.0f);
	T_CHECK(nl_f32_to_f16(65520.0f) == 0x7c00);        /* rounds to infinity */
	T_CHECK(nl_f32_to_f16(65519.0f) == 0x7bff);
	T_CHECK(nl_f32_to_f16(1.0f + 0x1p-11f) == 0x3c00); /* tie to even (down) */
	T_CHECK(nl_f32_to_f16(1.0f + 3 * 0x1p-11f) == 0x3c02); /* tie to even (up) */
	T_CHECK(nl_f32_to_f16(0x1p-25f) == 0);             /* tie between 0 and the first subnormal */
	T_CHECK(nl_f32_to_f16(0x1.8p-25f) == 1);
	T_CHECK(nl_f32_to_f16(-0.0f) == 0x8000);
}

T_TEST(bf16)
{
	int bad = 0;
	for (uint32_t h = 0; h < 65536; h++) {
		float f = nl_bf16_to_f32((uint16_t)h);
		if (!isnan(f) && nl_f32_to_bf16(f) != h)
			bad++;
	}
	T_CHECK(bad == 0);
	T_CHECK(nl_f32_to_bf16(1.0f) == 0x3f80);
	T_CHECK(nl_f32_to_bf16(1.0f + 0x1p-8f) == 0x3f80);      /* tie to even */
	T_CHECK(nl_f32_to_bf16(1.0f + 3 * 0x1p-8f) == 0x3f82);
	T_CHECK(isnan(nl_bf16_to_f32(nl_f32_to_bf16(NAN))));
}

T_TEST(conversions)
{
	struct nl_err err = { 0, "" };
	float f[4] = { 1.5f, -2.75f, 127.9f, -128.0f };
	int8_t i8[4];
	double d[4];
	T_CHECK(nl_dtype_convert(i8, NL_DTYPE_I8, f, NL_DTYPE_F32, 4, &err) == 0);
	T_CHECK(i8[0] == 1 && i8[1] == -2 && i8[2] == 127 && i8[3] == -128);
	T_CHECK(nl_dtype_convert(d, NL_DTYPE_F64, i8, NL_DTYPE_I8, 4, &err) == 0);
	T_CHECK(d[1] == -2 && d[3] == -128);
	float over = 128.0f;
	T_CHECK(nl_dtype_convert(i8, NL_DTYPE_I8, &over, NL_DTYPE_F32, 1, &err) < 0 &&
	    strstr(err.msg, "out of range for I8"));
	float nan = NAN;
	T_CHECK(nl_dtype_convert(i8, NL_DTYPE_I32, &nan, NL_DTYPE_F32, 1, &err) < 0 &&
	    strstr(err.msg, "NaN"));
	int64_t neg = -1;
	uint64_t u;
	T_CHECK(nl_dtype_convert(&u, NL_DTYPE_U64, &neg, NL_DTYPE_I64, 1, &err) < 0);
	uint64_t big = UINT64_MAX;
	int64_t s;
	T_CHECK(nl_dtype_convert(&s, NL_DTYPE_I64, &big, NL_DTYPE_U64, 1, &err) < 0);
	T_CHECK(nl_dtype_convert(&u, NL_DTYPE_U64, &big, NL_DTYPE_U64, 1, &err) == 0 && u == big);
	double two64 = 18446744073709551616.0;
	T_CHECK(nl_dtype_convert(&u, NL_DTYPE_U64, &two64, NL_DTYPE_F64, 1, &err) < 0);
	unsigned char b = 2, ok = 1;
	uint16_t h;
	T_CHECK(nl_dtype_convert(&h, NL_DTYPE_F16, &b, NL_DTYPE_BOOL, 1, &err) < 0);
	T_CHECK(nl_dtype_convert(&h, NL_DTYPE_F16, &ok, NL_DTYPE_BOOL, 1, &err) == 0 && h == 0x3c00);
	float half = 0.5f;
	T_CHECK(nl_dtype_convert(&b, NL_DTYPE_BOOL, &half, NL_DTYPE_F32, 1, &err) < 0);
	/* no double rounding: just above a tie rounds up, even through wide sources */
	double above = 1.0 + 0x1p-11 + 0x1p-40;
	T_CHECK(nl_dtype_convert(&h, NL_DTYPE_F16, &above, NL_DTYPE_F64, 1, &err) == 0 && h == 0x3c01);
	double above_bf = 1.0 + 0x1p-8 + 0x1p-40;
	T_CHECK(nl_dtype_convert(&h, NL_DTYPE_BF16, &above_bf, NL_DTYPE_F64, 1, &err) == 0 &&
	    h == 0x3f81);
	int64_t wide = (INT64_C(1) << 60) + (INT64_C(1) << 36) + 1;
	float wf;
	T_CHECK(nl_dtype_convert(&wf, NL_DTYPE_F32, &wide, NL_DTYPE_I64, 1, &err) == 0 &&
	    wf == 0x1p60f + 0x1p37f);
	uint64_t umax = UINT64_MAX; /* rounds up to 2^64 */
	T_CHECK(nl_dtype_convert(&wf, NL_DTYPE_F32, &umax, NL_DTYPE_U64, 1, &err) == 0 && wf == 0x1p64f);
	int64_t tie = (INT64_C(1) << 40) + (INT64_C(1) << 16); /* exact tie, rounds to even */
	T_CHECK(nl_dtype_convert(&wf, NL_DTYPE_F32, &tie, NL_DTYPE_I64, 1, &err) == 0 && wf == 0x1p40f);
	int64_t bf_tie = (INT64_C(1) << 40) + (INT64_C(1) << 32) + 1; /* just above a BF16 tie */
	T_CHECK(nl_dtype_convert(&h, NL_DTYPE_BF16, &bf_tie, NL_DTYPE_I64, 1, &err) == 0 &&
	    h == nl_f32_to_bf16(0x1p40f + 0x1p33f));
	int64_t neg_tie = -(int64_t)((UINT64_C(1) << 40) + (UINT64_C(1) << 32) + 1);
	T_CHECK(nl_dtype_convert(&h, NL_DTYPE_BF16, &neg_tie, NL_DTYPE_I64, 1, &err) == 0 &&
	    h == nl_f32_to_bf16(-(0x1p40f + 0x1p33f)));
	double huge = 1e300;
	T_CHECK(nl_dtype_convert(&h, NL_DTYPE_F16, &huge, NL_DTYPE_F64, 1, &err) == 0 && h == 0x7c00);
	T_CHECK(nl_dtype_convert(&h, NL_DTYPE_BF16, &huge, NL_DTYPE_F64, 1, &err) == 0 && h == 0x7f80);
	uint16_t bf = 0x3fc0; /* 1.5 */
	T_CHECK(nl_dtype_convert(f, NL_DTYPE_F32, &bf, NL_DTYPE_BF16, 1, &err) == 0 && f[0] == 1.5f);
}

T_TEST(shapes)
{
	struct nl_err err = { 0, "" };
	struct nl_tinfo ti = { "x", NL_DTYPE_F32, 2, { 3, 5 } };
	uint64_t numel, bytes, out;

	T_CHECK(nl_tinfo_size(&ti, &numel, &bytes, &err) == 0 && numel == 15 && bytes == 60);
	ti.rank = 0;
	T_CHECK(nl_tinfo_size(&ti, &numel, &bytes, &err) == 0 && numel == 1 && bytes == 4);
	ti.rank = 3;
	ti.dims[0] = 1ull << 32; ti.dims[1] = 1ull << 32; ti.dims[2] = 2;
	T_CHECK(nl_tinfo_size(&ti, NULL, NULL, &err) < 0 && strstr(err.msg, "overflows"));
	ti.rank = 1;
	ti.dims[0] = 1ull << 47;
	T_CHECK(nl_tinfo_size(&ti, NULL, NULL, &err) < 0 && strstr(err.msg, "2^48"));
	ti.rank = 9;
	T_CHECK(nl_tinfo_size(&ti, NULL, NULL, &err) < 0 && strstr(err.msg, "rank 9"));
	T_CHECK(nl_mul_u64(UINT64_MAX, 2, &out) < 0);
	T_CHECK(nl_mul_u64(0, UINT64_MAX, &out) == 0 && out == 0);
	char buf[64];
	struct nl_tinfo s = { "s", NL_DTYPE_U8, 3, { 1, 22, 333 } };
	nl_tinfo_shape_str(&s, buf, sizeof buf);
	T_CHECK(strcmp(buf, "[1,22,333]") == 0);
	s.rank = 0;
	nl_tinfo_shape_str(&s, buf, sizeof buf);
	T_CHECK(strcmp(buf, "[]") == 0);
	T_CHECK(nl_tensor_name_valid("layers.3.mix.m_k.w1"));
	T_CHECK(nl_tensor_name_valid("ünïcode name"));
	T_CHECK(!nl_tensor_name_valid(""));
	T_CHECK(!nl_tensor_name_valid("tab\there"));
	T_CHECK(!nl_tensor_name_valid("\xff\xfe"));
}

T_TEST(meta_maps)
{
	struct nl_meta m;
	struct nl_err err = { 0, "" };

	nl_meta_init(&m);
	T_CHECK(nl_meta_set(&m, "z.b", "2", &err) == 0);
	T_CHECK(nl_meta_set(&m, "a", "1", &err) == 0);
	T_CHECK(nl_meta_set(&m, "m_1.x", "3", &err) == 0);
	T_CHECK(m.n == 3 && strcmp(m.keys[0], "a") == 0 && strcmp(m.keys[2], "z.b") == 0);
	T_CHECK(nl_meta_set(&m, "a", "one", &err) == 0 && strcmp(nl_meta_get(&m, "a"), "one") == 0);
	T_CHECK(nl_meta_add(&m, "a", "x", &err) < 0 && strstr(err.msg, "duplicate"));
	T_CHECK(nl_meta_get(&m, "nope") == NULL);
	static const char *bad[] = { "", "A", "a..b", ".a", "a.", "a-b", "a b" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		T_CHECK_MSG(!nl_meta_key_valid(bad[i]), "'%s'", bad[i]);
	char longkey[300];
	memset(longkey, 'k', 256);
	longkey[256] = 0;
	T_CHECK(!nl_meta_key_valid(longkey));
	longkey[255] = 0;
	T_CHECK(nl_meta_key_valid(longkey));
	T_CHECK(nl_meta_set(&m, "v", "\xc0\x80", &err) < 0);   /* overlong NUL */
	T_CHECK(nl_meta_set(&m, "v", "\xed\xa0\x80", &err) < 0); /* surrogate */
	T_CHECK(nl_meta_set(&m, "v", "caf\xc3\xa9", &err) == 0);
	nl_meta_free(&m);
}

T_TEST(tset_index)
{
	struct nl_tset ts;
	struct nl_err err = { 0, "" };
	struct nl_tinfo ti = { "", NL_DTYPE_U8, 1, { 1 } };
	int ok = 1;

	nl_tset_init(&ts);
	for (int i = 0; i < 5000; i++) {
		snprintf(ti.name, sizeof ti.name, "layers.%d.w", i);
		ok &= nl_tset_add(&ts, &ti, &err) != NULL;
	}
	T_CHECK(ok && ts.n == 5000);
	T_CHECK(nl_tset_add(&ts, &ti, &err) == NULL && strstr(err.msg, "duplicate tensor name"));
	snprintf(ti.name, sizeof ti.name, "layers.%d.w", 1234);
	T_CHECK(nl_tset_find(&ts, ti.name) == &ts.t[1234]);
	nl_tset_truncate(&ts, 100);
	T_CHECK(ts.n == 100 && nl_tset_find(&ts, ti.name) == NULL);
	for (int i = 0; i < 100; i++) {
		snprintf(ti.name, sizeof ti.name, "layers.%d.w", i);
		ok &= nl_tset_find(&ts, ti.name) == &ts.t[i];
	}
	T_CHECK(ok);
	snprintf(ti.name, sizeof ti.name, "layers.%d.w", 4999);
	T_CHECK(nl_tset_add(&ts, &ti, &err) != NULL && nl_tset_find(&ts, ti.name) == &ts.t[100]);
	nl_tset_free(&ts);
}

int
main(void)
{
	T_RUN(table);
	T_RUN(f16_exhaustive);
	T_RUN(bf16);
	T_RUN(conversions);
	T_RUN(shapes);
	T_RUN(meta_maps);
	T_RUN(tset_index);
	return t_done();
}
