/* nl — see LICENSE. Kernel declarations, included twice by kernels.h (float, then double
 * with the _f64 suffix); no include guard on purpose. R is the element type. */
#define R NLK_API_REAL

/* matmul.c — y[N,out] = x[N,in]·w[out,in]ᵀ (y overwritten); backward: dx[N,in] += dy·w,
 * dw[out,in] += dyᵀ·x. Fast versions are one BLAS gemm each (beta 1 in backward). */
void NLK_API(nlk_matmul_fwd_ref)(R *y, const R *x, const R *w, int n, int in, int out);
void NLK_API(nlk_matmul_fwd)(R *y, const R *x, const R *w, int n, int in, int out);
/* the same, each row's result independent of n and of the other rows (streams) */
void NLK_API(nlk_matmul_rows_fwd)(R *y, const R *x, const R *w, int n, int in, int out);
void NLK_API(nlk_matmul_bwd_ref)(R *dx, R *dw, const R *dy, const R *x, const R *w, int n, int in,
    int out);
void NLK_API(nlk_matmul_bwd)(R *dx, R *dw, const R *dy, const R *x, const R *w, int n, int in,
    int out);

/* embed.c — out[N,C] = table[ids[i],:]; backward: dtable[ids[i],:] += dout[i,:]. */
void NLK_API(nlk_embed_fwd)(R *out, const int32_t *ids, const R *table, int n, int c);
void NLK_API(nlk_embed_bwd)(R *dtable, const R *dout, const int32_t *ids, int n, int c);

/* norm.c — RMSNorm per row: y = x / sqrt(mean(x²) + eps) ⊙ w; rstd[N] saved for backward;
 * backward accumulates dx[N,C] and dw[C]. */
void NLK_API(nlk_rmsnorm_fwd_ref)(R *y, R *rstd, const R *x, const R *w, int n, int c, R eps);
void NLK_API(nlk_rmsnorm_fwd)(R *y, R *rstd, const R *x, const R *w, int n, int c, R eps);
void NLK_API(nlk_rmsnorm_bwd_ref)(R *dx, R *dw, const R *dy, const R *x, const R *w, const R *rstd,
    int n, int c);
void NLK_API(nlk_rmsnorm_bwd)(R *dx, R *dw, const R *dy, const R *x, const R *w, const R *rstd,
    int n, int c);

/* act.c — SiLU y = x·σ(x) and SwiGLU y = SiLU(a) ⊙ b, elementwise over n. */
void NLK_API(nlk_silu_fwd)(R *y, const R *x, size_t n);
void NLK_API(nlk_silu_bwd)(R *dx, const R *dy, const R *x, size_t n);
void NLK_API(nlk_swiglu_fwd)(R *y, const R *a, const R *b, size_t n);
void NLK_API(nlk_swiglu_bwd)(R *da, R *db, const R *dy, const R *a, const R *b, size_t n);

/* rope.c — rotary positions on x[B,T,C] (H heads of D, D even), interleaved pairs
 * (x_2i, x_2i+1) of each head rotated by angle (pos0 + t)·base^(−2i/D); y may alias x.
 * Backward: dx += Rᵀ dy (dx must not alias dy). */
void NLK_API(nlk_rope_fwd)(R *y, const R *x, int b, int t, int h, int d, int64_t pos0, R base);
void NLK_API(nlk_rope_bwd)(R *dx, const R *dy, int b, int t, int h, int d, int64_t pos0,
    R base);

/* attn.c — causal softmax attention per head, scale 1/√D: q, k, v, out are [B,T,C];
 * att[B,H,T,T] holds the probabilities (row i uses columns 0..i; the rest are written 0).
 * Backward accumulates dq, dk, dv; scratch holds B·H·T·T elements (fast version) or is
 * unused (reference). */
void NLK_API(nlk_attn_fwd_ref)(R *out, R *att, const R *q, const R *k, const R *v, int b, int t,
    int h, int d);
void NLK_API(nlk_attn_fwd)(R *out, R *att, const R *q, const R *k, const R *v, int b, int t, int h,
    int d);
void NLK_API(nlk_attn_bwd_ref)(R *dq, R *dk, R *dv, R *scratch, const R *dout, const R *q,
    const R *k, const R *v, const R *att, int b, int t, int h, int d);
void NLK_API(nlk_attn_bwd)(R *dq, R *dk, R *dv, R *scratch, const R *dout, const R *q, const R *k,
    const R *v, const R *att, int b, int t, int h, int d);

/* The same over a cache (streams): t new queries q [B,t,C] at positions p..p+t−1 attend to
 * the rows 0..p+i of kc, vc [B,cap,C] (their own included), or with win > 0 to the last win
 * of them (a sliding window); row: scratch of p + t elements. Backward accumulates dq, and
 * dk, dv [B,t,C] for the window's own keys and values (cache rows p..p+t−1), recomputing
 * the probabilities; the rows before p are held constant. */
void NLK_API(nlk_attn_cache_fwd)(R *out, R *row, const R *q, const R *kc, const R *vc, int b,
    int t, int p, int cap, int win, int h, int d);
void NLK_API(nlk_attn_cache_bwd)(R *dq, R *dk, R *dv, R *row, const R *dout, const R *q,
    const R *kc, const R *vc, int b, int t, int p, int cap, int win, int h, int d);

/* softmax_xent.c — per row of logits[N,V]: probs = softmax, loss = −log p[target]; a target
 * < 0 is not scored (loss 0, no gradient). Returns the sum of the scored losses.
 * Backward: dlogits += scale·(probs − onehot(target)) on scored rows. */
double NLK_API(nlk_xent_fwd)(R *losses, R *probs, const R *logits, const int32_t *targets, int n,
    int v);
void NLK_API(nlk_xent_bwd)(R *dlogits, const R *probs, const int32_t *targets, int n, int v,
    R scale);

/* optim_k.c — one AdamW step (t counts from 1; bias-corrected; decoupled weight decay):
 * m = β1 m + (1−β1) g; v = β2 v + (1−β2) g²; p −= lr (m̂ / (√v̂ + eps) + wd·p). */
void NLK_API(nlk_adamw_step_ref)(R *p, R *m, R *v, const R *g, size_t n, R lr, R beta1, R beta2,
    R eps, R wd, int t);
void NLK_API(nlk_adamw_step)(R *p, R *m, R *v, const R *g, size_t n, R lr, R beta1, R beta2, R eps,
    R wd, int t);
/* momentum (eq. 33): p −= lr·wd·p; m = μ m − lr g; p += m (m NULL: SGD, p −= lr g). */
void NLK_API(nlk_momentum_step)(R *p, R *m, const R *g, size_t n, R lr, R mu, R wd);
/* Newton–Schulz: o [r,c] ≈ the polar factor of x, X₀ = x/‖x‖_F, X ← ½X(3I − XᵀX) steps times
 * (Gram on the short side); x = 0 gives 0; o may alias x; work min(r,c)² + r·c. */
void NLK_API(nlk_ns_ref)(R *o, const R *x, int r, int c, int steps, R *work);
void NLK_API(nlk_ns)(R *o, const R *x, int r, int c, int steps, R *work);
/* delta momentum (eq. 49): p −= lr·wd·p; m = α m − λ (m·ĝ) ĝ − lr P g, ĝ = g/‖g‖; p += m;
 * P = I (v NULL)
 * or Adam's diagonal 1/(√v̂ + eps) with v = β2 v + (1−β2) g², v̂ = v/(1−β2^t). */
void NLK_API(nlk_delta_momentum_step)(R *p, R *m, R *v, const R *g, size_t n, R lr, R alpha,
    R lambda, R beta2, R eps, R wd, int t);
/* Muon on a matrix w [r,c]: m = μ m + g; w −= lr √max(1, r/c) NS(m); work min(r,c)² + 2rc. */
void NLK_API(nlk_muon_step)(R *w, R *m, const R *g, int r, int c, R lr, R mu, int ns_steps,
    R *work);
/* M3 on a matrix, step t ≥ 1 (Algorithm 1; ema: the averaged variant): m1 += β1 g, v += β2 g²,
 * gsum += g, w −= lr (NS(m1) + α o2)/(√v + eps); at t % period = 0: m2 += β3 gsum, gsum = 0,
 * o2 = NS(m2). work min(r,c)² + 2rc. */
void NLK_API(nlk_m3_step)(R *w, R *m1, R *v, R *gsum, R *m2, R *o2, const R *g, int r, int c,
    R lr, R beta1, R beta2, R beta3, R alpha, R eps, int ns_steps, int64_t t, int64_t period,
    int ema, R *work);
/* DMGD (eq. 50): φ = (φ0 [r,c], W_a [h,c], W_b [c,h]) steps on Σ_r <φ0_r + W_b σ(W_a g_r), g_r>,
 * φ ← α φ − lr ∇φ; then p_r += φ0_r + W_b σ(W_a g_r). work 2·r·h + 2·c·h. */
void NLK_API(nlk_dmgd_step_ref)(R *p, R *phi0, R *wa, R *wb, const R *g, int r, int c, int h,
    R lr, R alpha, R *work);
void NLK_API(nlk_dmgd_step)(R *p, R *phi0, R *wa, R *wb, const R *g, int r, int c, int h, R lr,
    R alpha, R *work);
/* DGD (eq. 57): w [r,c] ← w (I − η' x xᵀ) + η' u xᵀ, η' = η/(1 + η xᵀx); work r. */
void NLK_API(nlk_dgd_step)(R *w, const R *x, const R *u, int r, int c, R eta, R *work);
/* DGD over the keys of a linear map W [r, c]: its inputs x [n, c] and output gradients dy [n, r],
 * one eq. 57 step per key in order with x̂ = x/‖x‖, u = −scale ‖x‖ dy, η' = η/(1+η) (MODEL D12).
 * work: NLK_DGD_WORK(r, c) (kernels.h). */
void NLK_API(nlk_dgd_keys_ref)(R *w, const R *x, const R *dy, int n, int r, int c, R eta, R scale,
    R *work);
void NLK_API(nlk_dgd_keys)(R *w, const R *x, const R *dy, int n, int r, int c, R eta, R scale,
    R *work);

/* memory.c — the MLP memory f(z) = [z +] W1 σ(W2 z), σ = SiLU, of one head (MODEL §2.2, §5):
 * W2 [hid, din], W1 [dout, hid]; rows are tokens. Reads y = f(z) keep hp = z W2ᵀ and
 * ac = σ(hp); the inner gradient of ½‖f(k) − v̂‖² at the chunk-start state in factors
 * G1 = e aᵀ, G2 = dl kᵀ with the curvature bound cv; the step rule g (enum nlk_step); the
 * sequential write of a chunk (momentum S, retention α, projector p) and its reverse mode,
 * which recomputes the per-token states into scratch (nlk_mem_write_scratch elements).
 * Scratch sizes: read_bwd hid, igrad_bwd 5·hid + dout, write_fwd hid. */
void NLK_API(nlk_mem_read_fwd)(R *y, R *hp, R *ac, const R *z, const R *w1, const R *w2, int n,
    int din, int hid, int dout, int resid);
void NLK_API(nlk_mem_read_bwd)(R *dz, R *dw1, R *dw2, const R *dy, const R *z, const R *hp,
    const R *ac, const R *w1, const R *w2, int n, int din, int hid, int dout, int resid,
    R *scratch);
void NLK_API(nlk_mem_igrad_fwd)(R *e, R *dl, R *cv, const R *y, const R *vhat, const R *k,
    const R *hp, const R *ac, const R *w1, int n, int din, int hid, int dout);
void NLK_API(nlk_mem_igrad_bwd)(R *dk, R *dvhat, R *dw1, R *dw2, const R *de, const R *dac,
    const R *ddl, const R *dcv, const R *k, const R *e, const R *hp, const R *ac, const R *w1,
    const R *w2, int n, int din, int hid, int dout, int resid, R *scratch);
void NLK_API(nlk_mem_step_fwd)(R *g, const R *eta, const R *cv, const R *beta, int n, int rule,
    int ema);
void NLK_API(nlk_mem_step_bwd)(R *deta, R *dcv, R *dbeta, const R *dg, const R *eta, const R *cv,
    const R *beta, int n, int rule, int ema);
void NLK_API(nlk_mem_write_fwd)(R *w1, R *w2, R *s1, R *s2, const R *k, const R *e, const R *ac,
    const R *dl, const R *g, const R *p, const R *al, const R *be, int n, int din, int hid,
    int dout, R *scratch);
size_t NLK_API(nlk_mem_write_scratch)(int n, int din, int hid, int dout);
void NLK_API(nlk_mem_write_bwd)(R *dw1, R *dw2, R *ds1, R *ds2, R *dk, R *de, R *dac, R *ddl,
    R *dg, R *dp, R *dal, R *dbe, const R *w1, const R *w2, const R *s1, const R *s2,
    const R *k, const R *e, const R *ac, const R *dl, const R *g, const R *p, const R *al,
    const R *be, int n, int din, int hid, int dout, R *scratch);

/* conv.c — causal depthwise convolution of width 4: x, y [B,T,C], c [4,C] (c[3] weighs the
 * current token), ctx [B,3,C] the three inputs before each sequence, oldest first (NULL:
 * zeros); y must not alias x. Backward accumulates dx, dc and dctx (each NULL skipped; dctx
 * is filled even when ctx is NULL). tail: the 3 inputs before position T, the context to
 * carry into the next call (may alias ctx). */
void NLK_API(nlk_conv4_fwd)(R *y, const R *x, const R *c, const R *ctx, int b, int t, int ch);
void NLK_API(nlk_conv4_bwd)(R *dx, R *dc, R *dctx, const R *dy, const R *x, const R *c,
    const R *ctx, int b, int t, int ch);
void NLK_API(nlk_conv4_tail)(R *ctx_out, const R *x, const R *ctx, int b, int t, int ch);

/* gate.c — ℓ2 norm of n rows of d (inv = 1/max(‖x‖, 1e-12); y must not alias x; the
 * backward takes a row whose inv is exactly (R)1e12 as floored: dx += inv·dy); RMSNorm of
 * each D slice of x [N, H·D] with one weight per channel (rstd [N·H], may be NULL in the
 * forward); the logistic sigmoid (y may alias x). Backward accumulates; NULL outputs are
 * skipped. */
void NLK_API(nlk_l2norm_fwd)(R *y, R *inv, const R *x, int n, int d);
void NLK_API(nlk_l2norm_bwd)(R *dx, const R *dy, const R *y, const R *inv, int n, int d);
void NLK_API(nlk_rmsnorm_heads_fwd)(R *y, R *rstd, const R *x, const R *w, int n, int h, int dh,
    R eps);
void NLK_API(nlk_rmsnorm_heads_bwd)(R *dx, R *dw, const R *dy, const R *x, const R *w,
    const R *rstd, int n, int h, int dh);
void NLK_API(nlk_sigmoid_fwd)(R *y, const R *x, size_t n);
void NLK_API(nlk_sigmoid_bwd)(R *dx, const R *dy, const R *y, size_t n);

#undef R
