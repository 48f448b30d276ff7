/* nl — see LICENSE. nl-synth's tasks (EVAL §4): every task writes count examples, each
 * starting at a DOC row with a scored answer, the same bytes for the same seed; and each
 * task's answers are right, checked here by logic of its own (the key's value, the copied
 * token, a language's membership, the pass key in the text, the person's last place). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "t.h"
#include "data.h"
#include "synth.h"

struct ex {                 /* one example: its rows */
	const int32_t *id;
	const uint8_t *fl;
	size_t n;
};

/* The stream of task with the given key=value pairs (NULL-terminated), or NULL with the
 * message in err. */
static unsigned char *
run(const char *task, long long count, long long T, uint64_t seed, const char *const *kv,
    size_t *len, struct nl_err *err)
{
	struct nl_meta args;
	struct nl_io out;
	nl_meta_init(&args);
	for (int i = 0; kv && kv[i]; i++) {
		char key[64];
		const char *eq = strchr(kv[i], '=');
		snprintf(key, sizeof key, "%.*s", (int)(eq - kv[i]), kv[i]);
		nl_meta_set(&args, key, eq + 1, err);
	}
	struct nl_synth_job job = { nl_synth_find(task), &args, seed, count, T, NULL, 1 };
	unsigned char *data = NULL;
	nl_io_open_mem_write(&out);
	if (job.task && nl_synth_write(&job, &out, err) >= 0)
		data = nl_io_mem_take(&out, len);
	nl_io_abort(&out);
	nl_meta_free(&args);
	return data;
}

/* The examples of a stream (at most max). */
static size_t
examples(const struct nl_tokens *tk, struct ex *ex, size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < tk->n; i++) {
		if (tk->flags[i] & NL_DATA_DOC) {
			if (n == max)
				break;
			ex[n++] = (struct ex){ tk->ids + i, tk->flags + i, 0 };
		}
		if (n)
			ex[n - 1].n++;
	}
	return n;
}

static int
load_stream(const unsigned char *data, size_t len, struct nl_tokens *tk)
{
	struct nl_io in;
	struct nl_err err = { 0 };
	nl_tokens_init(tk);
	nl_io_open_mem_read(&in, data, len);
	int rc = nl_tokens_read(tk, &in, 0, &err);
	nl_io_abort(&in);
	if (rc)
		printf("# read: %s\n", err.msg);
	return rc;
}

/* The examples (at most max) of task's stream as run writes it, held in tk (always
 * initialised: free it); their number, 0 when the stream failed (reported). */
static size_t
task_examples(const char *task, long long count, long long T, uint64_t seed,
    const char *const *kv, struct nl_tokens *tk, struct ex *ex, size_t max)
{
	struct nl_err err = { 0 };
	size_t len, n = 0;
	unsigned char *a = run(task, count, T, seed, kv, &len, &err);
	nl_tokens_init(tk);
	if (a == NULL)
		printf("# %s: %s\n", task, err.msg);
	else if (load_stream(a, len, tk) == 0)
		n = examples(tk, ex, max);
	free(a);
	return n;
}

/* An example of a text task as a string (the <eot> row dropped), with the scored bytes
 * apart in ans. */
static void
text_of(const struct ex *e, char *text, size_t cap, char *ans, size_t acap)
{
	size_t t = 0, a = 0;
	for (size_t i = 1; i < e->n; i++) {
		if ((e->fl[i] & NL_DATA_SCORE) && a + 1 < acap)
			ans[a++] = (char)e->id[i];
		else if (!(e->fl[i] & NL_DATA_SCORE) && t + 1 < cap)
			text[t++] = (char)e->id[i];
	}
	text[t] = ans[a] = 0;
}

/* A whole text stream as a string (<eot> rows dropped) and which bytes are scored ('1'). */
static void
text_and_scored(const struct nl_tokens *tk, char *text, char *scored, size_t cap)
{
	size_t t = 0;
	for (size_t i = 0; i < tk->n && t + 1 < cap; i++)
		if (tk->ids[i] < 256) {
			scored[t] = tk->flags[i] & NL_DATA_SCORE ? '1' : '0';
			text[t++] = (char)tk->ids[i];
		}
	text[t] = scored[t] = 0;
}

static size_t
doc_rows(const struct nl_tokens *tk)
{
	size_t n = 0;
	for (size_t i = 0; i < tk->n; i++)
		n += (tk->flags[i] & NL_DATA_DOC) != 0;
	return n;
}

/* Every task: count examples (the parameters' count for intents), each with DOC first and
 * an answer; deterministic per seed. */
T_TEST(every_task_writes_its_examples)
{
	const struct nl_synth_task *task;
	for (size_t k = 0; (task = nl_synth_task_at(k)) != NULL; k++) {
		struct nl_err err = { 0 };
		size_t len, len2, len3;
		long long T = task->seqlen ? (task->text ? 700 : 64) : 0, count = task->count ? 9 : 0;
		if (count && task->count != 1000)
			count = 0;                  /* ctnl: the default, 1 */
		const char *kv[3] = { NULL, NULL, NULL };
		if (strcmp(task->name, "mad-memorize") == 0)
			kv[0] = "pairs=16";
		else if (strstr(task->name, "icr") || strcmp(task->name, "mqar") == 0)
			kv[0] = "pairs=4";
		else if (strcmp(task->name, "ctnl") == 0)
			kv[0] = "words=20", kv[1] = "examples=10";
		else if (strcmp(task->name, "intents") == 0)
			kv[0] = "per_class=2";         /* 40 examples */
		unsigned char *a = run(task->name, count, T, 3, kv, &len, &err);
		unsigned char *b = run(task->name, count, T, 3, kv, &len2, &err);
		unsigned char *c = run(task->name, count, T, 4, kv, &len3, &err);
		T_CHECK_MSG(a && b && c, "%s: %s", task->name, err.msg);
		if (!a || !b || !c) {
			free(a), free(b), free(c);
			continue;
		}
		T_CHECK_MSG(len == len2 && memcmp(a, b, len) == 0, "%s: not deterministic",
		    task->name);
		T_CHECK_MSG(len != len3 || memcmp(a, c, len) != 0, "%s: the seed changes nothing",
		    task->name);
		struct nl_tokens tk;
		struct ex ex[16];
		T_CHECK(load_stream(a, len, &tk) == 0);
		const size_t want = count ? 9 : task->count ? (size_t)task->count : 40;
		T_CHECK_MSG(doc_rows(&tk) == want, "%s: %zu examples", task->name, doc_rows(&tk));
		const char *name = nl_meta_get(&tk.meta, "task.name");
		const char *written = nl_meta_get(&tk.meta, "task.count");
		T_CHECK(name && strcmp(name, task->name) == 0);
		T_CHECK(written && atoll(written) == (long long)want);
		examples(&tk, ex, 9);
		for (size_t i = 0; i < 9; i++) {
			int scored = 0;
			for (size_t r = 0; r < ex[i].n; r++)
				scored += (ex[i].fl[r] & NL_DATA_SCORE) != 0;
			T_CHECK_MSG(scored > 0, "%s: example %zu has no answer", task->name, i);
			if (!task->text)
				T_CHECK_MSG(ex[i].n <= (size_t)T, "%s: %zu rows", task->name, ex[i].n);
		}
		nl_tokens_free(&tk);
		free(a), free(b), free(c);
	}
}

/* mqar: each query's answer is the value its key had in the context; D queries. */
T_TEST(mqar_answers_are_the_context_values)
{
	struct nl_err err = { 0 };
	size_t len;
	const char *kv[] = { "pairs=8", "vocab=100", NULL };
	struct nl_tokens tk;
	struct ex ex[20];
	size_t got = task_examples("mqar", 20, 64, 9, kv, &tk, ex, 20);
	T_CHECK(got == 20);
	for (size_t i = 0; i < got; i++) {
		int q = 0;
		T_CHECK(ex[i].n == 64);
		for (size_t t = 16; t < ex[i].n; t++) {
			if (!(ex[i].fl[t] & NL_DATA_SCORE))
				continue;
			q++;
			int found = 0;
			for (size_t k = 0; k < 16; k += 2)
				found |= ex[i].id[k] == ex[i].id[t - 1] && ex[i].id[k + 1] == ex[i].id[t];
			T_CHECK_MSG(found, "example %zu position %zu", i, t);
		}
		T_CHECK(q == 8);
	}
	/* impossible: 4 · pairs above the length */
	const char *big[] = { "pairs=17", NULL };
	T_CHECK(run("mqar", 1, 64, 1, big, &len, &err) == NULL && err.code == NL_EUSAGE &&
	    strstr(err.msg, "exceeds the length 64"));
	nl_tokens_free(&tk);
}

/* copy, induction, mad-scopy, mad-compress, the MAD recall tasks. */
T_TEST(id_tasks_answer_right)
{
	struct nl_tokens tk;
	struct ex ex[8];
	const char *delay[] = { "delay=5", NULL };
	T_CHECK(task_examples("copy", 8, 30, 1, delay, &tk, ex, 8) == 8);
	for (size_t i = 0; i < 8; i++)
		for (size_t t = 0; t < ex[i].n; t++)
			T_CHECK(((ex[i].fl[t] & NL_DATA_SCORE) != 0) == (t >= 5) &&
			    (t < 5 || ex[i].id[t] == ex[i].id[t - 5]));
	nl_tokens_free(&tk);

	T_CHECK(task_examples("induction", 8, 30, 1, NULL, &tk, ex, 8) == 8);
	for (size_t i = 0; i < 8; i++) {
		int32_t A = ex[i].id[28], B = ex[i].id[29];
		size_t seen = 0, first = 0;
		for (size_t t = 0; t < 30; t++)
			if (ex[i].id[t] == A && seen++ == 0)
				first = t;
		T_CHECK(seen == 2 && ex[i].id[first + 1] == B && (ex[i].fl[29] & NL_DATA_SCORE));
	}
	nl_tokens_free(&tk);

	const char *copy[] = { "copy=6", NULL };
	T_CHECK(task_examples("mad-scopy", 8, 40, 1, copy, &tk, ex, 8) == 8);
	for (size_t i = 0; i < 8; i++) {
		int32_t shown[6];
		size_t k = 0;
		for (size_t t = 0; t < 33; t++)
			if (ex[i].id[t] >= 2 && k < 6)
				shown[k++] = ex[i].id[t];
		T_CHECK(k == 6 && ex[i].id[33] == 1);
		for (size_t j = 0; j < 6; j++)
			T_CHECK(ex[i].id[34 + j] == shown[j] && (ex[i].fl[34 + j] & NL_DATA_SCORE));
	}
	nl_tokens_free(&tk);

	T_CHECK(task_examples("mad-compress", 8, 21, 1, NULL, &tk, ex, 8) == 8);
	for (size_t i = 0; i < 8; i++)
		for (size_t j = 0; j < 10; j++)
			T_CHECK(ex[i].id[10] == 0 && ex[i].id[11 + j] == ex[i].id[j]);
	nl_tokens_free(&tk);

	/* ficr: the final value motif is the one its key motif had before */
	const char *fz[] = { "vocab=16", "pairs=6", "motif=3", NULL };
	T_CHECK(task_examples("mad-ficr", 8, 60, 3, fz, &tk, ex, 8) == 8);
	for (size_t i = 0; i < 8; i++) {
		size_t q = 0, n = ex[i].n;
		while (q < n && ex[i].id[q] != 16)
			q++;
		size_t kl = 0, vl = 0;                /* the probe key after q, then its value */
		while (q + 1 + kl < n && ex[i].id[q + 1 + kl] < 8)
			kl++;
		vl = n - q - 1 - kl;
		int found = 0;
		for (size_t t = 0; t + kl + vl <= q && !found; t++)
			found = (t == 0 || ex[i].id[t - 1] >= 8) &&
			    memcmp(ex[i].id + t, ex[i].id + q + 1, kl * sizeof *ex[i].id) == 0 &&
			    memcmp(ex[i].id + t + kl, ex[i].id + q + 1 + kl, vl * sizeof *ex[i].id) == 0 &&
			    (t + kl + vl == q || ex[i].id[t + kl + vl] < 8);
		T_CHECK_MSG(found, "ficr example %zu: the probe's value is not its key's", i);
	}
	nl_tokens_free(&tk);
	const char *last[] = { "vocab=16", "pairs=4", "score=last", NULL };
	T_CHECK(task_examples("mad-icr", 4, 40, 3, last, &tk, ex, 4) == 4);
	for (size_t i = 0; i < 4; i++)
		for (size_t t = 0; t < ex[i].n; t++)
			T_CHECK(((ex[i].fl[t] & NL_DATA_SCORE) != 0) == (t + 1 == ex[i].n));
	nl_tokens_free(&tk);

	/* icr: the query token is vocab; every scored value is its key's value in the example */
	static const char *const recall[] = { "mad-icr", "mad-nicr" };
	for (int r = 0; r < 2; r++) {
		const char *kv[] = { "vocab=16", "pairs=4", NULL };
		T_CHECK(task_examples(recall[r], 8, 40, 2, kv, &tk, ex, 8) == 8);
		for (size_t i = 0; i < 8; i++) {
			/* two-token units (a pair, or two noise ids above 16) up to the query token 16 */
			int32_t value[8] = { -1, -1, -1, -1, -1, -1, -1, -1 };
			size_t t = 0;
			for (; t + 1 < ex[i].n && ex[i].id[t] != 16; t += 2) {
				int32_t k = ex[i].id[t], v = ex[i].id[t + 1];
				if (k > 16)
					continue;
				T_CHECK(k < 8 && v >= 8 && v < 16 && !(ex[i].fl[t] & NL_DATA_SCORE));
				T_CHECK(((ex[i].fl[t + 1] & NL_DATA_SCORE) != 0) == (value[k] >= 0));
				T_CHECK(value[k] < 0 || value[k] == v);
				value[k] = v;
			}
			T_CHECK(t + 3 == ex[i].n && (ex[i].fl[t + 2] & NL_DATA_SCORE));
			T_CHECK(value[ex[i].id[t + 1]] == ex[i].id[t + 2]);
		}
		nl_tokens_free(&tk);
	}
}

/* mad-memorize: one map across examples and seeds; share 1 ignores map_seed, share 0 does not. */
T_TEST(memorize_keeps_one_map)
{
	struct nl_err err = { 0 };
	int32_t map[3][8];
	const char *kv[3][5] = { { "pairs=8", "vocab=50", NULL }, { "pairs=8", "vocab=50",
		"map_seed=5", NULL }, { "pairs=8", "vocab=50", "map_seed=5", "share=0", NULL } };
	for (int m = 0; m < 3; m++) {
		for (int k = 0; k < 8; k++)
			map[m][k] = -1;
		for (uint64_t seed = 1; seed <= 2; seed++) {
			size_t len;
			struct nl_tokens tk;
			unsigned char *a = run("mad-memorize", 10, 20, seed, kv[m], &len, &err);
			T_CHECK(a && load_stream(a, len, &tk) == 0);
			for (size_t t = 0; a && t + 1 < tk.n; t += 2) {
				int32_t k = tk.ids[t];
				T_CHECK(k < 8 && (tk.flags[t + 1] & NL_DATA_SCORE));
				if (map[m][k] < 0)
					map[m][k] = tk.ids[t + 1];
				T_CHECK(map[m][k] == tk.ids[t + 1]);
			}
			nl_tokens_free(&tk);
		}
	}
	T_CHECK(memcmp(map[0], map[1], sizeof map[0]) == 0);
	T_CHECK(memcmp(map[0], map[2], sizeof map[0]) != 0);
}

/* The formal languages, recognised here independently. */
static int
member(const char *lang, const char *x)
{
	size_t n = strlen(x);
	if (strcmp(lang, "parity") == 0) {
		size_t ones = 0;
		for (size_t i = 0; i < n; i++)
			ones += x[i] == '1';
		return strspn(x, "01") == n && ones % 2 == 0;
	}
	if (strcmp(lang, "aa") == 0)
		return n > 0 && strspn(x, "a") == n && n % 2 == 0;
	if (strcmp(lang, "abab") == 0) {
		if (n == 0 || n % 4)
			return 0;
		for (size_t i = 0; i < n; i += 4)
			if (strncmp(x + i, "abab", 4))
				return 0;
		return 1;
	}
	if (strcmp(lang, "anbn") == 0 || strcmp(lang, "anbncn") == 0) {
		size_t k = strspn(x, "a"), parts = strcmp(lang, "anbncn") == 0 ? 3 : 2;
		if (k == 0 || n != parts * k)
			return 0;
		for (size_t i = 0; i < n; i++)
			if (x[i] != "abc"[i / k])
				return 0;
		return 1;
	}
	int depth[2] = { 0, 0 };                     /* shuffle2 */
	for (size_t i = 0; i < n; i++) {
		const char *p = strchr("()[]", x[i]);
		if (p == NULL)
			return 0;
		int k = (int)(p - "()[]");
		if ((depth[k / 2] += k % 2 ? -1 : 1) < 0)
			return 0;
	}
	return n > 0 && depth[0] == 0 && depth[1] == 0;
}

T_TEST(formal_language_labels_are_right)
{
	static const char *const langs[] = { "parity", "aa", "abab", "anbn", "anbncn", "shuffle2" };
	for (size_t l = 0; l < 6; l++) {
		struct nl_tokens tk;
		static struct ex ex[200];
		const char *kv[] = { "minlen=3", "maxlen=40", NULL };
		size_t got = task_examples(langs[l], 200, 0, 5, kv, &tk, ex, 200);
		T_CHECK(got == 200);
		int pos = 0, neg = 0;
		for (size_t i = 0; i < got; i++) {
			char text[128], ans[8];
			text_of(&ex[i], text, sizeof text, ans, sizeof ans);
			size_t n = strlen(text);
			T_CHECK(n > 1 && text[n - 1] == '=');
			text[n - 1] = 0;
			T_CHECK_MSG(strlen(ans) == 1 && (ans[0] == '1') == member(langs[l], text),
			    "%s: %s labelled %s", langs[l], text, ans);
			pos += ans[0] == '1';
			/* a negative keeps a member's length in range, but for (aa)*, edited by length */
			neg += ans[0] == '0' && n - 1 >= 3 && n - 1 <= 40;
			/* and a member's length: length alone does not tell it */
			static const int period[] = { 1, 2, 4, 2, 3, 2 };
			if (ans[0] == '0' && l != 1)
				T_CHECK_MSG((n - 1) % (size_t)period[l] == 0, "%s: %s", langs[l], text);
		}
		T_CHECK_MSG(pos == 100 && neg == 100, "%s: %d positives, %d negatives", langs[l], pos,
		    neg);
		nl_tokens_free(&tk);
	}
}

/* passkey and S-NIAH: the scored answer is the value the text hid; the length is -T bytes
 * (within the garbage's cut) */
T_TEST(needles_are_answered)
{
	static const char *const tasks[] = { "passkey", "sniah1", "sniah2", "sniah3" };
	for (size_t k = 0; k < 4; k++) {
		struct nl_tokens tk;
		struct ex ex[6];
		size_t got = task_examples(tasks[k], 6, 1500, 7, NULL, &tk, ex, 6);
		T_CHECK(got == 6);
		for (size_t i = 0; i < got; i++) {
			static char text[4096];
			char ans[64], want[64] = "", key[128] = "";
			text_of(&ex[i], text, sizeof text, ans, sizeof ans);
			if (k == 0) {
				const char *p = strstr(text, "The pass key is ");
				T_CHECK(p && sscanf(p, "The pass key is %63[0-9].", want) == 1);
				T_CHECK_MSG(ex[i].n - 1 >= 1480 && ex[i].n - 1 <= 1500, "%zu bytes",
				    ex[i].n - 1);
			} else {
				const char *q = strstr(text, "What is the special magic ");
				T_CHECK(q && sscanf(q, "What is the special magic %*s for %127s", key) == 1);
				char needle[200];
				snprintf(needle, sizeof needle, " for %s is: ", key);
				const char *p = strstr(text, needle);
				T_CHECK(p && sscanf(p + strlen(needle), "%63[0-9a-f-]", want) == 1);
				T_CHECK(ex[i].n - 1 <= 1500 && ex[i].n - 1 > 1200);
			}
			T_CHECK_MSG(strcmp(ans, want) == 0, "%s: answer %s, text says %s", tasks[k], ans,
			    want);
		}
		nl_tokens_free(&tk);
	}
	/* depth 0 and 100: the needle opens and closes the haystack */
	struct nl_err err = { 0 };
	size_t la, lb;
	const char *d0[] = { "depth=0", NULL }, *d100[] = { "depth=100", NULL };
	unsigned char *a = run("sniah2", 1, 800, 1, d0, &la, &err);
	unsigned char *b = run("sniah2", 1, 800, 1, d100, &lb, &err);
	struct nl_tokens ta, tb;
	struct ex ea, eb;
	T_CHECK(a && b && load_stream(a, la, &ta) == 0 && examples(&ta, &ea, 1) == 1);
	T_CHECK(load_stream(b, lb, &tb) == 0 && examples(&tb, &eb, 1) == 1);
	static char text[2048], ans[64];
	text_of(&ea, text, sizeof text, ans, sizeof ans);
	T_CHECK(strstr(text, "afterwards.\nOne of the special magic numbers") != NULL);
	text_of(&eb, text, sizeof text, ans, sizeof ans);
	T_CHECK(strstr(text, ".\nWhat is the special") && strstr(strstr(text, "One of the special"),
	    "\nWhat") && !strstr(strstr(text, "One of the special") + 10, ". The "));
	nl_tokens_free(&ta), nl_tokens_free(&tb), free(a), free(b);
}

/* A haystack file fills the length: examples within 2 % under -T. */
T_TEST(haystack_files_fill_the_length)
{
	char path[] = "/tmp/nl-hay-XXXXXX";
	int fd = mkstemp(path);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	T_CHECK(f != NULL);
	if (f == NULL)
		return;
	for (int i = 0; i < 400; i++)   /* long sentences, some longer than what is left */
		fprintf(f, "Sentence %d goes on%s. ", i, i % 7 ? "" : " and on and on and on and on "
		    "and on and on and on and on and on and on and on and on and on and on and on");
	fclose(f);
	char kv0[64];
	snprintf(kv0, sizeof kv0, "haystack=%s", path);
	const char *kv[] = { kv0, NULL };
	static const char *const tasks[] = { "sniah2", "babi2" };
	for (int k = 0; k < 2; k++) {
		struct nl_err err = { 0 };
		size_t len;
		struct nl_tokens tk;
		struct ex ex[20];
		unsigned char *a = run(tasks[k], 20, 1000, 4, kv, &len, &err);
		T_CHECK_MSG(a && load_stream(a, len, &tk) == 0 && examples(&tk, ex, 20) == 20, "%s: %s",
		    tasks[k], err.msg);
		for (size_t i = 0; a && i < 20; i++)
			T_CHECK_MSG(ex[i].n - 1 >= 980 && ex[i].n - 1 <= 1000, "%s: %zu bytes", tasks[k],
			    ex[i].n - 1);
		if (a)
			nl_tokens_free(&tk);
		free(a);
	}
	unlink(path);
}

/* bAbI qa1: replaying the moves in the text gives the answer. */
T_TEST(babi_answers_follow_the_story)
{
	static const char *const who[] = { "Mary", "John", "Daniel", "Sandra" };
	struct nl_tokens tk;
	struct ex ex[10];
	size_t got = task_examples("babi1", 10, 2000, 3, NULL, &tk, ex, 10);
	T_CHECK(got == 10);
	for (size_t i = 0; i < got; i++) {
		static char text[4096];
		char ans[32], place[4][32] = { "", "", "", "" }, person[32] = "";
		int facts = 0;
		text_of(&ex[i], text, sizeof text, ans, sizeof ans);
		/* "Name ... to the place." sentences */
		for (char *p = text; *p; p++)
			for (int w = 0; w < 4; w++) {
				size_t n = strlen(who[w]);
				char *end = strchr(p, '.'), *to = strstr(p, " to the ");
				if (strncmp(p, who[w], n) == 0 && p[n] == ' ' && (p == text || p[-1] == ' ')
				    && end && to && to < end && end - to - 8 < 32) {
					snprintf(place[w], sizeof place[w], "%.*s", (int)(end - to - 8), to + 8);
					facts++;
				}
			}
		const char *q = strstr(text, "\nWhere is ");
		T_CHECK(q && sscanf(q, "\nWhere is %31[A-Za-z]?", person) == 1);
		for (int w = 0; w < 4; w++)
			if (strcmp(person, who[w]) == 0)
				T_CHECK_MSG(strcmp(place[w], ans) == 0, "%s: %s, story says %s", person, ans,
				    place[w]);
		T_CHECK(facts == 8);
	}
	nl_tokens_free(&tk);
}

/* ctnl: every line of a language is the word-by-word translation of its dictionary (the
 * one-word lines); only the queries' translations are scored (all lines' with score=all);
 * language 1 and its queries are the same with langs=1 as after language 2 with query=1. */
static void
ctnl_lines(const char *text, const char *scored, int *nlines, int *nscored_lines, int *bad)
{
	char dict[4][64][8], src[8], dst[8];
	int ndict[4] = { 0 };
	const char *p = text;
	*nlines = *nscored_lines = *bad = 0;
	while (*p) {
		const char *eol = strchr(p, '\n');
		if (eol == NULL)
			break;
		int lang = p[1] - '0', k = 0, off;
		const char *eq = strstr(p, " = ");
		if (p[0] != 'L' || lang < 1 || lang > 3 || eq == NULL || eq > eol) {
			(*bad)++;
			break;
		}
		/* its answer is scored as a whole or not at all */
		const char *s0 = scored + (eq + 2 - text);
		size_t alen = (size_t)(eol + 1 - (eq + 2));
		int all = strspn(s0, "1") >= alen, none = strspn(s0, "0") >= alen;
		*bad += !all && !none;
		*nscored_lines += all;
		const char *a = p + 3, *b = eq + 3;
		int words = 0, unknown = 0;
		while (a < eq && sscanf(a, "%7s%n", src, &off) == 1) {
			a += off;
			if (sscanf(b, "%7s%n", dst, &off) != 1) {
				(*bad)++;
				break;
			}
			b += off;
			words++;
			for (k = 0; k < ndict[lang] && strcmp(dict[lang][k], src) != 0; k++)
				;
			if (k < ndict[lang])
				*bad += strcmp(dict[lang][64 - 1 - k], dst) != 0;
			else
				unknown++;
		}
		if (words == 1 && unknown == 1 && ndict[lang] < 32) {   /* a dictionary line */
			strcpy(dict[lang][ndict[lang]], src);
			strcpy(dict[lang][64 - 1 - ndict[lang]++], dst);
		} else if (unknown) {
			(*bad)++;              /* a word no dictionary line gave */
		}
		(*nlines)++;
		p = eol + 1;
	}
}

T_TEST(ctnl_translates_by_its_dictionaries)
{
	static char text[3][20000], scored[3][20000];
	const char *two[] = { "words=30", "examples=20", "queries=15", NULL, NULL };
	const char *one[] = { "words=30", "examples=20", "queries=15", "langs=1", NULL };
	const char *two_q1[] = { "words=30", "examples=20", "queries=15", "query=1", NULL };
	const char *const *kv[3] = { two, one, two_q1 };
	int lines, scored_lines, bad;
	for (int r = 0; r < 3; r++) {
		struct nl_tokens tk;
		struct ex ex[2];
		T_CHECK(task_examples("ctnl", 1, 0, 5, kv[r], &tk, ex, 2) == 1);
		text_and_scored(&tk, text[r], scored[r], sizeof text[r]);
		nl_tokens_free(&tk);
	}
	ctnl_lines(text[0], scored[0], &lines, &scored_lines, &bad);
	T_CHECK_MSG(bad == 0 && lines == 2 * (30 + 20 + 15) && scored_lines == 30,
	    "%d lines, %d scored, %d bad", lines, scored_lines, bad);
	/* language 2's lines out of two_q1 leave exactly the langs=1 stream */
	char kept[20000] = "", kept_scored[20000] = "";
	for (const char *p = text[2]; *p; ) {
		const char *eol = strchr(p, '\n');
		size_t n = (size_t)(eol + 1 - p);
		if (strncmp(p, "L2:", 3) != 0) {
			strncat(kept, p, n);
			strncat(kept_scored, scored[2] + (p - text[2]), n);
		}
		p = eol + 1;
	}
	T_CHECK(strcmp(kept, text[1]) == 0 && strcmp(kept_scored, scored[1]) == 0);
	T_CHECK(strstr(text[2], "L2:") != NULL);
	/* score=all scores every line's translation */
	const char *all[] = { "words=30", "examples=20", "queries=15", "score=all", NULL };
	struct nl_tokens tk;
	struct ex ex[2];
	T_CHECK(task_examples("ctnl", 1, 0, 5, all, &tk, ex, 2) == 1);
	text_and_scored(&tk, text[0], scored[0], sizeof text[0]);
	nl_tokens_free(&tk);
	ctnl_lines(text[0], scored[0], &lines, &scored_lines, &bad);
	T_CHECK(bad == 0 && scored_lines == lines && lines == 130);
}

/* intents: per_class queries of each class, block after block, each class's queries in its
 * block only; a sentence holds a word that only its class's sentences have (a keyword);
 * the classes depend on map_seed, not on -s; seen=1 writes every class up to the block. */
static int
intent_stream(uint64_t seed, const char *const *kv, char (*label)[16], char (*sent)[96],
    size_t max)
{
	static char text[1 << 17], scored[1 << 17];
	struct nl_tokens tk;
	struct ex ex[1];
	task_examples("intents", 0, 0, seed, kv, &tk, ex, 1);
	text_and_scored(&tk, text, scored, sizeof text);
	nl_tokens_free(&tk);
	size_t n = 0;
	for (const char *p = text; *p && n < max; n++) {
		const char *nl = strchr(p, '\n'), *end = strchr(nl + 1, '\n');
		if (nl == NULL || end == NULL || strncmp(nl + 1, "intent: ", 8) != 0)
			return -1;
		snprintf(sent[n], 96, "%.*s", (int)(nl - p), p);
		snprintf(label[n], 16, "%.*s", (int)(end - nl - 9), nl + 9);
		/* the scored bytes are exactly " name\n" */
		for (const char *q = p; q <= end; q++)
			if ((scored[q - text] == '1') != (q >= nl + 8))
				return -1;
		p = end + 1;
	}
	return (int)n;
}

T_TEST(intents_arrive_in_blocks)
{
	static char label[2][400][16], sent[2][400][96];
	const char *kv[] = { "classes=6", "blocks=3", "per_class=40", NULL };
	T_CHECK(intent_stream(1, kv, label[0], sent[0], 400) == 240);
	/* block b: examples [80(b-1), 80b), two classes 40 times each, not seen elsewhere */
	for (int b = 0; b < 3; b++) {
		const char *c0 = label[0][80 * b], *c1 = NULL;
		int n0 = 0;
		for (int i = 80 * b; i < 80 * (b + 1); i++) {
			if (strcmp(label[0][i], c0) == 0)
				n0++;
			else if (c1 == NULL)
				c1 = label[0][i];
			else
				T_CHECK(strcmp(label[0][i], c1) == 0);
			for (int j = 0; j < 240; j++)
				if (j / 80 != b)
					T_CHECK(strcmp(label[0][i], label[0][j]) != 0);
		}
		T_CHECK(n0 == 40 && c1 != NULL);
	}
	/* each sentence has a word no other class's sentence has */
	for (int i = 0; i < 240; i++) {
		char words[96], *save, *w;
		int own = 0;
		memcpy(words, sent[0][i], sizeof words);
		for (w = strtok_r(words, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
			int other = 0;
			for (int j = 0; j < 240 && !other; j++) {
				if (strcmp(label[0][j], label[0][i]) == 0)
					continue;
				const char *at = strstr(sent[0][j], w);
				size_t wl = strlen(w);
				other = at && (at == sent[0][j] || at[-1] == ' ') &&
				    (at[wl] == ' ' || at[wl] == 0);
			}
			own |= !other;
		}
		T_CHECK_MSG(own, "no keyword in '%s' (%s)", sent[0][i], label[0][i]);
	}
	/* another seed: the same classes in the same blocks, other sentences */
	T_CHECK(intent_stream(2, kv, label[1], sent[1], 400) == 240);
	int same_sentences = 0;
	for (int b = 0; b < 3; b++)
		for (int i = 80 * b; i < 80 * (b + 1); i++) {
			int found = 0;
			for (int j = 80 * b; j < 80 * (b + 1); j++)
				found |= strcmp(label[1][i], label[0][j]) == 0;
			T_CHECK(found);
			same_sentences += strcmp(sent[0][i], sent[1][i]) == 0;
		}
	T_CHECK(same_sentences < 10);
	/* block 2 alone; blocks 1–2 mixed (seen=1); another map_seed: other names */
	const char *b2[] = { "classes=6", "blocks=3", "per_class=40", "block=2", NULL };
	const char *upto2[] = { "classes=6", "blocks=3", "per_class=40", "block=2", "seen=1", NULL };
	const char *other[] = { "classes=6", "blocks=3", "per_class=40", "map_seed=1", NULL };
	T_CHECK(intent_stream(1, b2, label[1], sent[1], 400) == 80);
	for (int i = 0; i < 80; i++) {
		int found = 0;
		for (int j = 80; j < 160; j++)
			found |= strcmp(label[1][i], label[0][j]) == 0;
		T_CHECK(found);
	}
	T_CHECK(intent_stream(1, upto2, label[1], sent[1], 400) == 160);
	int first_half_b2 = 0;
	for (int i = 0; i < 80; i++)
		for (int j = 80; j < 160; j++)
			if (strcmp(label[1][i], label[0][j]) == 0) {
				first_half_b2++;
				break;
			}
	T_CHECK(first_half_b2 > 20 && first_half_b2 < 60);      /* shuffled together */
	T_CHECK(intent_stream(1, other, label[1], sent[1], 400) == 240);
	int shared = 0;
	for (int i = 0; i < 240; i++)
		shared += strcmp(label[1][i], label[0][i]) == 0;
	T_CHECK(shared < 240);
	/* a block's test is not its training stream under the same seed */
	const char *b1[] = { "classes=6", "blocks=3", "per_class=40", "block=1", NULL };
	const char *t1[] = { "classes=6", "blocks=3", "per_class=40", "block=1", "seen=1", NULL };
	T_CHECK(intent_stream(1, b1, label[0], sent[0], 400) == 80);
	T_CHECK(intent_stream(1, t1, label[1], sent[1], 400) == 80);
	same_sentences = 0;
	for (int i = 0; i < 80; i++)
		same_sentences += strcmp(sent[0][i], sent[1][i]) == 0;
	T_CHECK(same_sentences < 5);
	/* 7 classes in 3 blocks: 2, 2 and 3 classes */
	const char *seven[] = { "classes=7", "blocks=3", "per_class=10", NULL };
	T_CHECK(intent_stream(1, seven, label[0], sent[0], 400) == 70);
	for (int b = 0, at = 0; b < 3; b++) {
		int n = b < 2 ? 20 : 30, distinct_labels = 0;
		for (int i = at; i < at + n; i++) {
			int first = 1;
			for (int j = at; j < i; j++)
				first &= strcmp(label[0][j], label[0][i]) != 0;
			distinct_labels += first;
		}
		T_CHECK_MSG(distinct_labels == n / 10, "block %d: %d classes", b + 1, distinct_labels);
		at += n;
	}
}

/* Bad parameters name themselves. */
T_TEST(bad_parameters)
{
	struct nl_err err = { 0 };
	size_t len;
	const char *unknown[] = { "pair=3", NULL }, *bad[] = { "vocab=12x", NULL };
	const char *hay[] = { "haystack=/nonexistent/hay.txt", NULL };
	T_CHECK(run("mqar", 1, 64, 1, unknown, &len, &err) == NULL && err.code == NL_EUSAGE &&
	    strstr(err.msg, "unknown parameter 'pair'") && strstr(err.msg, "vocab, pairs"));
	T_CHECK(run("copy", 1, 64, 1, bad, &len, &err) == NULL && err.code == NL_EUSAGE &&
	    strstr(err.msg, "vocab: 12x is not an integer"));
	T_CHECK(run("sniah2", 1, 900, 1, hay, &len, &err) == NULL && err.code != NL_EUSAGE &&
	    strstr(err.msg, "/nonexistent/hay.txt"));
	const char *minmax[] = { "minlen=5", "maxlen=7", NULL };
	T_CHECK(run("abab", 1, 0, 1, minmax, &len, &err) == NULL &&
	    strstr(err.msg, "no string of the language"));
	const char *q3[] = { "query=3", NULL }, *noscore[] = { "queries=0", NULL };
	const char *qfrac[] = { "query=1.5", NULL };
	T_CHECK(run("ctnl", 1, 0, 1, qfrac, &len, &err) == NULL &&
	    strstr(err.msg, "query: 1.5 is not all or a language"));
	T_CHECK(run("parity", 1, 64, 1, NULL, &len, &err) == NULL && err.code == NL_EUSAGE &&
	    strstr(err.msg, "-T does not apply"));
	T_CHECK(run("ctnl", 1, 0, 1, q3, &len, &err) == NULL && err.code == NL_EUSAGE &&
	    strstr(err.msg, "query: 3 is not all or a language in 1..2"));
	T_CHECK(run("ctnl", 1, 0, 1, noscore, &len, &err) == NULL &&
	    strstr(err.msg, "scores nothing"));
	T_CHECK(run("intents", 5, 0, 1, NULL, &len, &err) == NULL && err.code == NL_EUSAGE &&
	    strstr(err.msg, "-n does not apply"));
	const char *blocks[] = { "classes=4", "blocks=5", NULL };
	T_CHECK(run("intents", 0, 0, 1, blocks, &len, &err) == NULL &&
	    strstr(err.msg, "blocks: 5 is not an integer in 1..4"));
}

int
main(void)
{
	t_run(every_task_writes_its_examples, "every task writes its examples, per seed");
	t_run(mqar_answers_are_the_context_values, "mqar answers are the context's values");
	t_run(id_tasks_answer_right, "copy, induction, MAD answers");
	t_run(memorize_keeps_one_map, "mad-memorize keeps one map");
	t_run(formal_language_labels_are_right, "formal language labels");
	t_run(needles_are_answered, "passkey and S-NIAH answers");
	t_run(haystack_files_fill_the_length, "haystack files fill the length");
	t_run(babi_answers_follow_the_story, "bAbI qa1 answers follow the story");
	t_run(ctnl_translates_by_its_dictionaries, "ctnl translates by its dictionaries");
	t_run(intents_arrive_in_blocks, "intents arrive in blocks");
	t_run(bad_parameters, "bad parameters name themselves");
	return t_done();
}
