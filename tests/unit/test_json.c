/* nl — see LICENSE. Tests for the strict JSON parser, the string writer and metadata maps. */
#include "json.h"
#include "t.h"

struct jcase {
	const char *doc;
	size_t len;          /* 0: strlen(doc) */
	const char *errpart; /* NULL: must parse; else a substring of the error */
};

#define OK(s) { s, sizeof(s) - 1, NULL }
#define BAD(s, e) { s, sizeof(s) - 1, e }

static const struct jcase cases[] = {
	OK("{}"),
	OK("[]"),
	OK(" \t\r\n{ } \n"),
	OK("0"),
	OK("-0"),
	OK("1.5e-3"),
	OK("-12.25E+10"),
	OK("123456789012345678901234567890"),
	OK("true"),
	OK("false"),
	OK("null"),
	OK("\"\""),
	OK("\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\""),
	OK("\"\\u00e9\\u20AC\""),
	OK("\"\\ud83d\\ude00\""),
	OK("\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\""),
	OK("{\"a\":[1,2,{\"b\":null}],\"c\":{}}"),
	OK("[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
	   "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"),
	OK("{\"a\":1,\"A\":2,\"a \":3}"),
	OK("\"\x7f\""),
	BAD("", "unexpected end of input at byte 0"),
	BAD("   ", "unexpected end of input at byte 3"),
	BAD("[1,2,]", "trailing comma at byte 5"),
	BAD("{\"a\":1,}", "trailing comma at byte 7"),
	BAD("[1 2]", "unexpected character '2' at byte 3"),
	BAD("{\"a\" 1}", "unexpected character '1' at byte 5"),
	BAD("{a:1}", "unexpected character 'a' at byte 1"),
	BAD("{\"a\":1 \"b\":2}", "at byte 7"),
	BAD("// c\n{}", "unexpected character '/' at byte 0"),
	BAD("{} /* c */", "trailing data at byte 3"),
	BAD("01", "leading zero in number at byte 0"),
	BAD("-01", "leading zero in number at byte 0"),
	BAD("1.", "invalid number at byte 0"),
	BAD(".5", "unexpected character '.' at byte 0"),
	BAD("+1", "unexpected character '+' at byte 0"),
	BAD("-", "unexpected end of input"),
	BAD("1e", "invalid number at byte 0"),
	BAD("1e+", "invalid number at byte 0"),
	BAD("-x", "invalid number at byte 0"),
	BAD("NaN", "unexpected character 'N' at byte 0"),
	BAD("Infinity", "unexpected character 'I' at byte 0"),
	BAD("tru", "unexpected end of input"),
	BAD("trUe", "invalid literal at byte 0"),
	BAD("nulll", "trailing data at byte 4"),
	BAD("\"abc", "unexpected end of input at byte 4"),
	BAD("\"abc\\", "unexpected end of input"),
	BAD("{\"k\":\"01234567890\\x\"}", "json: invalid escape at byte 17"),
	BAD("\"\\'\"", "invalid escape at byte 1"),
	BAD("\"\\u12\"", "invalid \\u escape at byte 1"),
	BAD("\"\\u12g4\"", "invalid \\u escape at byte 1"),
	BAD("\"\\u0000\"", "\\u0000 in string at byte 1"),
	BAD("\"\\ud83d\"", "unpaired surrogate at byte 1"),
	BAD("\"\\ud83dx\\ude00\"", "unpaired surrogate at byte 1"),
	BAD("\"\\ud83d\\u0041\"", "unpaired surrogate at byte 1"),
	BAD("\"\\ude00\"", "unpaired surrogate at byte 1"),
	BAD("\"a\tb\"", "control character in string at byte 2"),
	BAD("\"a\nb\"", "control character in string at byte 2"),
	BAD("\"a\0b\"", "control character in string at byte 2"),
	BAD("\"\xc3\"", "invalid utf-8 in string at byte 1"),
	BAD("\"\xc0\xaf\"", "invalid utf-8 in string at byte 1"),       /* overlong '/' */
	BAD("\"\xed\xa0\x80\"", "invalid utf-8 in string at byte 1"),   /* encoded surrogate */
	BAD("\"\xf4\x90\x80\x80\"", "invalid utf-8 in string at byte 1"), /* past U+10FFFF */
	BAD("\"\xff\"", "invalid utf-8 in string at byte 1"),
	BAD("\"\x80\"", "invalid utf-8 in string at byte 1"),
	BAD("\xef\xbb\xbf{}", "unexpected byte 0xef at byte 0"),        /* BOM */
	BAD("{\"a\":1,\"b\":2,\"a\":3}", "duplicate key 'a' at byte 13"),
	BAD("{\"x\":{\"k\":1,\"k\":1}}", "duplicate key 'k' at byte 12"),
	BAD("{\"\\u0061\":1,\"a\":2}", "duplicate key 'a' at byte 12"),
	BAD("[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
	    "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
	    "nesting deeper than 64 at byte 64"),
	BAD("[", "unexpected end of input at byte 1"),
	BAD("[1", "unexpected end of input at byte 2"),
	BAD("{\"a\"", "unexpected end of input at byte 4"),
	BAD("{\"a\":", "unexpected end of input at byte 5"),
	BAD("{\"a\":1", "unexpected end of input at byte 6"),
	BAD("[1,]", "trailing comma"),
	BAD("[,1]", "unexpected character ','"),
	BAD("{,}", "unexpected character ','"),
	BAD("1 2", "trailing data at byte 2"),
	BAD("\f1", "unexpected byte 0x0c at byte 0"),
};

T_TEST(json_table)
{
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct jcase *c = &cases[i];
		struct nl_json j;
		struct nl_err err = { 0, "" };
		int rc = nl_json_parse(c->doc, c->len, &j, &err);
		if (c->errpart == NULL) {
			T_CHECK_MSG(rc == 0, "case %zu '%s': %s", i, c->doc, err.msg);
		} else {
			T_CHECK_MSG(rc < 0, "case %zu '%s' parsed", i, c->doc);
			T_CHECK_MSG(rc < 0 && err.code == NL_EFORMAT && strncmp(err.msg, "json: ", 6) == 0 &&
			    strstr(err.msg, c->errpart) != NULL, "case %zu '%s': got '%s', want '%s'", i,
			    c->doc, err.msg, c->errpart);
			/* a failed parse leaves an empty tree that is safe to free again */
			T_CHECK(j.type == NL_JSON_NULL && j.n == 0 && j.items == NULL && j.str == NULL);
		}
		nl_json_free(&j);
	}
	T_CHECK(sizeof cases / sizeof cases[0] >= 30);
}

T_TEST(json_tree)
{
	const char *doc = "{\"name\":\"caf\\u00e9\\ud83d\\ude00\",\"list\":[0,18446744073709551615,"
	    "18446744073709551616,-1,1.0,1e2],\"t\":true,\"f\":false,\"z\":null}";
	struct nl_json j;
	struct nl_err err = { 0, "" };
	const struct nl_json *v;
	uint64_t u;

	T_CHECK(nl_json_parse(doc, strlen(doc), &j, &err) == 0);
	T_CHECK(j.type == NL_JSON_OBJECT && j.n == 5);
	T_CHECK(strcmp(j.keys[0], "name") == 0 && strcmp(j.keys[4], "z") == 0);
	v = nl_json_get(&j, "name");
	T_CHECK(v && v->type == NL_JSON_STRING && v->len == 9 &&
	    memcmp(v->str, "caf\xc3\xa9\xf0\x9f\x98\x80", 10) == 0);
	v = nl_json_get(&j, "list");
	T_CHECK(v && v->type == NL_JSON_ARRAY && v->n == 6);
	if (v && v->n == 6) {
		T_CHECK(nl_json_u64(&v->items[0], &u) == 0 && u == 0);
		T_CHECK(nl_json_u64(&v->items[1], &u) == 0 && u == UINT64_MAX);
		T_CHECK(nl_json_u64(&v->items[2], &u) < 0);
		T_CHECK(nl_json_u64(&v->items[3], &u) < 0);
		T_CHECK(nl_json_u64(&v->items[4], &u) < 0);
		T_CHECK(nl_json_u64(&v->items[5], &u) < 0);
		T_CHECK(strcmp(v->items[4].str, "1.0") == 0);
	}
	T_CHECK(nl_json_get(&j, "t")->type == NL_JSON_TRUE);
	T_CHECK(nl_json_get(&j, "f")->type == NL_JSON_FALSE);
	T_CHECK(nl_json_get(&j, "z")->type == NL_JSON_NULL);
	T_CHECK(nl_json_get(&j, "missing") == NULL);
	T_CHECK(nl_json_get(&j.items[1], "x") == NULL); /* not an object */
	nl_json_free(&j);

	/* input is bounded by len, not by a NUL */
	T_CHECK(nl_json_parse("[1]xyz", 3, &j, &err) == 0);
	nl_json_free(&j);
}

T_TEST(json_many_keys)
{
	/* enough keys to take the sorted duplicate check; then one duplicate at the end */
	char *buf = NULL;
	size_t used = 0, cap = 0;
	struct nl_err err = { 0, "" };
	struct nl_json j;
	char key[32];

	T_CHECK(nl_json_put_raw(&buf, &used, &cap, "{", &err) == 0);
	for (int i = 0; i < 3000; i++) {
		snprintf(key, sizeof key, "%s\"k%d\":%d", i ? "," : "", i, i);
		T_CHECK(nl_json_put_raw(&buf, &used, &cap, key, &err) == 0);
	}
	T_CHECK(nl_json_put_raw(&buf, &used, &cap, "}", &err) == 0);
	T_CHECK(nl_json_parse(buf, used, &j, &err) == 0 && j.n == 3000);
	T_CHECK(nl_json_get(&j, "k2999") == &j.items[2999]);
	nl_json_free(&j);
	used--;
	T_CHECK(nl_json_put_raw(&buf, &used, &cap, ",\"k1500\":0}", &err) == 0);
	T_CHECK(nl_json_parse(buf, used, &j, &err) < 0 && strstr(err.msg, "duplicate key 'k1500'"));
	free(buf);
}

T_TEST(json_put_string)
{
	char *buf = NULL;
	size_t used = 0, cap = 0;
	struct nl_err err = { 0, "" };
	const char in[] = "a\"b\\c\b\f\n\r\t\x01\x1f/\x7f\xc3\xa9";
	const char want[] = "\"a\\\"b\\\\c\\b\\f\\n\\r\\t\\u0001\\u001f/\x7f\xc3\xa9\"";
	struct nl_json j;

	T_CHECK(nl_json_put_string(&buf, &used, &cap, in, sizeof in - 1, &err) == 0);
	T_CHECK_MSG(used == sizeof want - 1 && strcmp(buf, want) == 0, "got %s", buf);
	T_CHECK(strlen(buf) == used);
	/* and it parses back to the same bytes */
	T_CHECK(nl_json_parse(buf, used, &j, &err) == 0);
	T_CHECK(j.type == NL_JSON_STRING && j.len == sizeof in - 1 && memcmp(j.str, in, j.len) == 0);
	nl_json_free(&j);
	free(buf);

	buf = NULL;
	used = cap = 0;
	T_CHECK(nl_json_put_string(&buf, &used, &cap, "", 0, &err) == 0 && strcmp(buf, "\"\"") == 0);
	free(buf);
}

T_TEST(json_meta_roundtrip)
{
	struct nl_meta m, back;
	struct nl_err err = { 0, "" };
	struct nl_json j;
	size_t len;
	char *s;

	nl_meta_init(&m);
	nl_meta_init(&back);
	T_CHECK(nl_meta_set(&m, "b.c", "x", &err) == 0);
	T_CHECK(nl_meta_set(&m, "a", "1", &err) == 0);
	T_CHECK(nl_meta_set(&m, "quote", "say \"hi\"\\ \n\ttab \x01 / caf\xc3\xa9 \xe2\x82\xac "
	    "\xf0\x9f\x98\x80", &err) == 0);
	T_CHECK(nl_meta_set(&m, "empty", "", &err) == 0);
	s = nl_json_meta_encode(&m, &len, &err);
	T_CHECK(s != NULL && strlen(s) == len);
	T_CHECK_MSG(s && strcmp(s, "{\"a\":\"1\",\"b.c\":\"x\",\"empty\":\"\",\"quote\":\"say \\\"hi\\\"\\\\ "
	    "\\n\\ttab \\u0001 / caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"}") == 0, "%s", s);
	T_CHECK(nl_json_parse(s, len, &j, &err) == 0);
	T_CHECK(nl_json_meta_decode(&j, &back, &err) == 0);
	T_CHECK(back.n == m.n);
	for (size_t i = 0; i < m.n && i < back.n; i++)
		T_CHECK(strcmp(m.keys[i], back.keys[i]) == 0 && strcmp(m.vals[i], back.vals[i]) == 0);
	nl_json_free(&j);
	free(s);

	/* empty map */
	nl_meta_free(&m);
	s = nl_json_meta_encode(&m, &len, &err);
	T_CHECK(s && len == 2 && strcmp(s, "{}") == 0);
	free(s);
	nl_meta_free(&back);
}

T_TEST(json_meta_decode_errors)
{
	static const struct {
		const char *doc, *errpart;
	} bad[] = {
		{ "[]", "not a json object" },
		{ "\"x\"", "not a json object" },
		{ "{\"a\":1}", "value for key 'a' is not a string" },
		{ "{\"a\":null}", "is not a string" },
		{ "{\"a\":{}}", "is not a string" },
		{ "{\"Bad Key\":\"v\"}", "invalid metadata key" },
		{ "{\"\":\"v\"}", "invalid metadata key" },
	};
	struct nl_err err = { 0, "" };

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct nl_json j;
		struct nl_meta m;
		nl_meta_init(&m);
		T_CHECK(nl_json_parse(bad[i].doc, strlen(bad[i].doc), &j, &err) == 0);
		T_CHECK_MSG(nl_json_meta_decode(&j, &m, &err) < 0 && strstr(err.msg, bad[i].errpart),
		    "'%s': '%s'", bad[i].doc, err.msg);
		nl_json_free(&j);
		nl_meta_free(&m);
	}
}

int
main(void)
{
	T_RUN(json_table);
	T_RUN(json_tree);
	T_RUN(json_many_keys);
	T_RUN(json_put_string);
	T_RUN(json_meta_roundtrip);
	T_RUN(json_meta_decode_errors);
	return t_done();
}
