/* nl — see LICENSE. A minimal test harness: each test_<module>.c defines T_TEST(name)
 * functions, lists them in main with t_run, and returns t_done(). Output: "ok N - name",
 * "not ok N - name" with the failing check on the following "#" lines. */
#ifndef NL_T_H
#define NL_T_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int t_count, t_failed_total, t_failed_now;
static const char *t_name;

#define T_TEST(name) static void name(void)

#define T_CHECK(cond) do { if (!(cond)) { \
	printf("# %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
	t_failed_now = 1; } } while (0)
#define T_CHECK_MSG(cond, ...) do { if (!(cond)) { \
	printf("# %s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
	printf(__VA_ARGS__); printf("\n"); t_failed_now = 1; } } while (0)
#define T_NEAR(a, b, tol) do { double t_a = (a), t_b = (b); \
	if (!(fabs(t_a - t_b) <= (tol))) { \
	printf("# %s:%d: %s = %.9g, %s = %.9g, tolerance %g\n", __FILE__, __LINE__, \
	    #a, t_a, #b, t_b, (double)(tol)); t_failed_now = 1; } } while (0)
/* normalised mean squared error of n doubles/floats read through get(i) */
#define T_NMSE(x, y, n, tol) do { double t_num = 0, t_den = 0; \
	for (size_t t_i = 0; t_i < (size_t)(n); t_i++) { double t_d = (double)(x)[t_i] - (double)(y)[t_i]; \
	t_num += t_d * t_d; t_den += (double)(y)[t_i] * (double)(y)[t_i]; } \
	double t_e = t_den > 0 ? t_num / t_den : t_num; \
	if (!(t_e <= (tol))) { printf("# %s:%d: nmse(%s, %s) = %.3g > %g\n", __FILE__, __LINE__, \
	    #x, #y, t_e, (double)(tol)); t_failed_now = 1; } } while (0)

/* A growing byte buffer for building test inputs by hand. */
struct t_buf {
	unsigned char *p;
	size_t n, cap;
};

static inline void
t_buf_add(struct t_buf *b, const void *src, size_t n)
{
	if (b->n + n > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->n + n)
			cap *= 2;
		unsigned char *q = realloc(b->p, cap);
		if (q == NULL)
			abort();
		b->p = q;
		b->cap = cap;
	}
	if (n > 0)
		memcpy(b->p + b->n, src, n);
	b->n += n;
}

static void
t_run(void (*fn)(void), const char *name)
{
	t_name = name;
	t_failed_now = 0;
	fn();
	t_count++;
	if (t_failed_now)
		t_failed_total++;
	printf("%s %d - %s\n", t_failed_now ? "not ok" : "ok", t_count, t_name);
	fflush(stdout);
}
#define T_RUN(fn) t_run(fn, #fn)

static int
t_done(void)
{
	return t_failed_total ? 1 : 0;
}

#endif
