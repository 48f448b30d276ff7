/* nl — see LICENSE. The paper's toy experiments on optimizers (MODEL §2.4), run with nl's own
 * optimizers (lib/optim.c, the code nl-train steps with):
 *
 *   psi        ψ(r, θ) = r² + k (r − θ + a sin ωr)² from (r, θ) = (−3.5, 2) (eq. 53), with
 *              k = 10, a = 0.5, ω = 4 (the paper does not give them): a narrow wiggly valley
 *              down to the minimum at (0, 0). The two coordinates are one 1×2 matrix, so muon
 *              and m3 move along its orthogonalised (here: normalised) momentum.
 *   continual  the orthogonal-task regression of eq. 45: a linear map W (4 × 16) learns four
 *              tasks y = W_i* x + noise in turn, task i's inputs spanning its own 4 of the 16
 *              input directions; 60 steps of 8 samples each; the loss on every task after
 *              every step. dgd takes eq. 57's proximal step per sample with MODEL D12's
 *              u = −∂ℓ/∂y = y − W x (η' = η/(1 + η‖x‖²)), whose fixed point on this loss is
 *              W x = y/2; dgd-target takes it with the target itself, u = W x − ∂ℓ/∂y = y
 *              (the delta rule).
 *
 * Each optimizer runs at every learning rate of a grid and keeps the one with the lowest
 * final objective (ψ; the mean loss over all tasks after the last); weight decay is off.
 * Usage: toys psi|continual OUT.tsv  — writes one row per step of the chosen runs and prints
 * the summary on standard output. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "kernels.h"
#include "layout.h"
#include "optim.h"
#include "rng.h"

static const double lrs[] = { 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1, 1, 3 };
enum { NLR = sizeof lrs / sizeof *lrs };

/* One weight-decayed matrix of r × c: muon's and m3's kind of parameter. */
static void
one_matrix(struct nl_layout *lo, struct nl_param *p, int r, int c)
{
	memset(p, 0, sizeof *p);
	snprintf(p->name, sizeof p->name, "w");
	p->rank = 2, p->dims[0] = r, p->dims[1] = c, p->numel = (size_t)r * c, p->decay = 1;
	lo->n = lo->cap = 1, lo->p = p, lo->total = p->numel;
}

static int
make_optim(struct nl_optim *o, const char *name, const struct nl_layout *lo)
{
	struct nl_config c;
	struct nl_err err = { 0 };
	nl_config_init(&c);
	snprintf(c.optim, sizeof c.optim, "%s", name);
	c.optim_weight_decay = 0;
	c.m3_period = 10;
	int rc = nl_optim_init(o, &c, lo, 1, &err);
	if (rc)
		fprintf(stderr, "toys: %s\n", err.msg);
	nl_config_free(&c);
	return rc;
}

/* ---------------------------------------------------------------- ψ */
enum { PSI_STEPS = 300 };
static const double K = 10, A = 0.5, W = 4;

static double
psi(const float *x, float *g)
{
	double r = x[0], t = x[1], s = r - t + A * sin(W * r);
	if (g)
		g[0] = (float)(2 * r + 2 * K * s * (1 + A * W * cos(W * r))), g[1] = (float)(-2 * K * s);
	return r * r + K * s * s;
}

/* The run of one optimizer at one rate: (r, θ, ψ) after each step into path; final ψ. */
static double
psi_run(const char *name, double lr, float *path)
{
	struct nl_layout lo;
	struct nl_param p;
	struct nl_optim o;
	float x[2] = { -3.5f, 2.0f }, g[2];
	one_matrix(&lo, &p, 1, 2);
	if (make_optim(&o, name, &lo))
		exit(1);
	double f = psi(x, NULL);
	for (int s = 0; s < PSI_STEPS; s++) {
		psi(x, g);
		nl_optim_step(&o, x, g, lr);
		f = psi(x, NULL);
		if (!isfinite(f) || f > 1e12)
			f = INFINITY;
		path[3 * s] = x[0], path[3 * s + 1] = x[1], path[3 * s + 2] = (float)f;
	}
	nl_optim_free(&o);
	return f;
}

/* ---------------------------------------------------------------- eq. 45 */
enum { DIN = 16, DOUT = 4, TASKS = 4, SUB = DIN / TASKS, STEPS_PER = 60, BATCH = 8, TEST = 256 };
enum { CSTEPS = TASKS * STEPS_PER };

struct tasks {
	double wstar[TASKS][DOUT * DIN];
	float test_x[TASKS][TEST * DIN], test_y[TASKS][TEST * DOUT];
};

static void
sample(const struct tasks *tk, int i, struct nl_rng *rng, float *x, float *y)
{
	memset(x, 0, DIN * sizeof *x);
	for (int j = 0; j < SUB; j++)        /* task i's inputs: its own coordinates */
		x[i * SUB + j] = (float)nl_rng_normal(rng);
	for (int o = 0; o < DOUT; o++) {
		double t = 0.1 * nl_rng_normal(rng);
		for (int j = 0; j < DIN; j++)
			t += tk->wstar[i][o * DIN + j] * x[j];
		y[o] = (float)t;
	}
}

static double
task_loss(const struct tasks *tk, int i, const float *w)
{
	double sum = 0;
	for (int n = 0; n < TEST; n++)
		for (int o = 0; o < DOUT; o++) {
			double e = -tk->test_y[i][n * DOUT + o];
			for (int j = 0; j < DIN; j++)
				e += w[o * DIN + j] * tk->test_x[i][n * DIN + j];
			sum += 0.5 * e * e;
		}
	return sum / TEST;
}

/* One optimizer at one rate over the four tasks: the loss on each task after each step into
 * trace (CSTEPS × TASKS); returns the mean over the tasks at the end. */
static double
continual_run(const struct tasks *tk, const char *name, double lr, float *trace)
{
	struct nl_layout lo;
	struct nl_param p;
	struct nl_optim o;
	struct nl_rng rng;
	float w[DOUT * DIN] = { 0 }, g[DOUT * DIN], x[DIN], y[DOUT], u[DOUT], work[DOUT];
	const int dgd = strncmp(name, "dgd", 3) == 0, target = strcmp(name, "dgd-target") == 0;
	one_matrix(&lo, &p, DOUT, DIN);
	if (!dgd && make_optim(&o, name, &lo))
		exit(1);
	nl_rng_seed(&rng, 11);
	for (int s = 0; s < CSTEPS; s++) {
		int i = s / STEPS_PER;
		memset(g, 0, sizeof g);
		for (int b = 0; b < BATCH; b++) {
			sample(tk, i, &rng, x, y);
			for (int r = 0; r < DOUT; r++) {
				float e = -y[r];
				for (int j = 0; j < DIN; j++)
					e += w[r * DIN + j] * x[j];
				u[r] = target ? y[r] : -e;
				for (int j = 0; j < DIN; j++)
					g[r * DIN + j] += e * x[j] / BATCH;
			}
			if (dgd)             /* eq. 57, sample by sample */
				nlk_dgd_step(w, x, u, DOUT, DIN, (float)lr, work);
		}
		if (!dgd)
			nl_optim_step(&o, w, g, lr);
		for (int t = 0; t < TASKS; t++)
			trace[s * TASKS + t] = (float)task_loss(tk, t, w);
	}
	if (!dgd)
		nl_optim_free(&o);
	double mean = 0;
	for (int t = 0; t < TASKS; t++)
		mean += trace[(CSTEPS - 1) * TASKS + t] / TASKS;
	return isfinite(mean) ? mean : INFINITY;
}

int
main(int argc, char **argv)
{
	static const char *const psi_opts[] = { "sgd", "momentum", "delta-momentum", "dmgd", "muon",
		"m3" };
	static const char *const cont_opts[] = { "sgd", "momentum", "delta-momentum", "dmgd",
		"dgd", "dgd-target", "muon", "m3" };
	if (argc != 3 || (strcmp(argv[1], "psi") && strcmp(argv[1], "continual"))) {
		fprintf(stderr, "usage: toys psi|continual OUT.tsv\n");
		return 2;
	}
	FILE *out = fopen(argv[2], "w");
	if (out == NULL) {
		perror(argv[2]);
		return 1;
	}
	if (strcmp(argv[1], "psi") == 0) {
		static float path[PSI_STEPS * 3], best[PSI_STEPS * 3];
		fprintf(out, "optim\tlr\tstep\tr\ttheta\tpsi\n");
		printf("optim\tbest_lr\tfinal_psi\tsteps_to_psi<0.01\n");
		for (size_t k = 0; k < sizeof psi_opts / sizeof *psi_opts; k++) {
			double fbest = INFINITY, lbest = lrs[0];
			for (int l = 0; l < NLR; l++) {
				double f = psi_run(psi_opts[k], lrs[l], path);
				if (l == 0 || f < fbest)   /* all diverged: the smallest rate */
					fbest = f, lbest = lrs[l], memcpy(best, path, sizeof path);
			}
			int hit = -1;
			for (int s = 0; s < PSI_STEPS && hit < 0; s++)
				if (best[3 * s + 2] < 0.01)
					hit = s + 1;
			fprintf(out, "%s\t%g\t0\t-3.5\t2\t%.9g\n", psi_opts[k], lbest,
			    psi((const float[]){ -3.5f, 2.0f }, NULL));
			for (int s = 0; s < PSI_STEPS; s++)
				fprintf(out, "%s\t%g\t%d\t%.9g\t%.9g\t%.9g\n", psi_opts[k], lbest, s + 1,
				    best[3 * s], best[3 * s + 1], best[3 * s + 2]);
			fprintf(out, "\n\n");
			printf("%s\t%g\t%.4g\t%d\n", psi_opts[k], lbest, fbest, hit);
		}
	} else {
		static struct tasks tk;
		static float trace[CSTEPS * TASKS], best[CSTEPS * TASKS];
		struct nl_rng rng;
		nl_rng_seed(&rng, 7);
		for (int i = 0; i < TASKS; i++)
			for (int e = 0; e < DOUT * DIN; e++)
				tk.wstar[i][e] = nl_rng_normal(&rng) / sqrt((double)SUB);
		for (int i = 0; i < TASKS; i++)
			for (int n = 0; n < TEST; n++)
				sample(&tk, i, &rng, tk.test_x[i] + n * DIN, tk.test_y[i] + n * DOUT);
		fprintf(out, "optim\tlr\tstep\ttask1\ttask2\ttask3\ttask4\n");
		printf("optim\tbest_lr\tfinal_mean_loss\ttask1_after_task1\ttask1_at_end\t"
		    "forgetting\n");
		for (size_t k = 0; k < sizeof cont_opts / sizeof *cont_opts; k++) {
			double fbest = INFINITY, lbest = lrs[0];
			for (int l = 0; l < NLR; l++) {
				double f = continual_run(&tk, cont_opts[k], lrs[l], trace);
				if (l == 0 || f < fbest)
					fbest = f, lbest = lrs[l], memcpy(best, trace, sizeof trace);
			}
			for (int s = 0; s < CSTEPS; s++)
				fprintf(out, "%s\t%g\t%d\t%.9g\t%.9g\t%.9g\t%.9g\n", cont_opts[k], lbest, s + 1,
				    best[s * TASKS], best[s * TASKS + 1], best[s * TASKS + 2],
				    best[s * TASKS + 3]);
			fprintf(out, "\n\n");
			/* forgetting: each earlier task's loss at the end minus just after its own
			 * training, averaged over tasks 1..3 */
			double forget = 0;
			for (int t = 0; t < TASKS - 1; t++)
				forget += (best[(CSTEPS - 1) * TASKS + t] -
				    best[((t + 1) * STEPS_PER - 1) * TASKS + t]) / (TASKS - 1);
			printf("%s\t%g\t%.4g\t%.4g\t%.4g\t%.4g\n", cont_opts[k], lbest, fbest,
			    best[(STEPS_PER - 1) * TASKS], best[(CSTEPS - 1) * TASKS], forget);
		}
	}
	if (fclose(out)) {
		perror(argv[2]);
		return 1;
	}
	return 0;
}
