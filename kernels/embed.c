/* nl — see LICENSE. Token embedding lookup (a row gather) and its scatter-add backward. */
#include "real.h"

/* A gather has no faster form than the copy itself, so this is also its own reference
 * (kernels_api.h declares no _ref). Ids are trusted to lie in [0, V): checking them is the
 * caller's job, which knows V and can report an error. */

/* ids (N), table (V, C) -> out (N, C) */
void
NLK(nlk_embed_fwd)(nlk_real *out, const int32_t *ids, const nlk_real *table, int n, int c)
{
	for (int i = 0; i < n; i++) {
		const nlk_real *row = table + (size_t)ids[i] * c;
		nlk_real *o = out + (size_t)i * c;
		for (int j = 0; j < c; j++)
			o[j] = row[j];
	}
}

/* dout (N, C), ids (N) -> dtable (V, C) += scatter; a repeated id adds every occurrence. */
void
NLK(nlk_embed_bwd)(nlk_real *dtable, const nlk_real *dout, const int32_t *ids, int n, int c)
{
	if (dtable == NULL)
		return;
	for (int i = 0; i < n; i++) {
		nlk_real *row = dtable + (size_t)ids[i] * c;
		const nlk_real *d = dout + (size_t)i * c;
		for (int j = 0; j < c; j++)
			row[j] += d[j];
	}
}
