#!/usr/bin/env python3
# nl — see LICENSE. PyTorch peer of nl-train's Transformer++ training step, float32, for bench/train.
#
# The model is nl's (nl-config(5), tests/ref/gen_transformer.py): tied embedding/head, pre-norm RMSNorm
# (eps 1e-6, with weight), fused qkv weight (3d, d) with rows q, k, v, interleaved-pair RoPE (base 10000)
# on q and k, causal softmax attention with scale 1/sqrt(d_h) written with matmuls and a mask (or, with
# --attn sdpa on torch >= 2, F.scaled_dot_product_attention(is_causal=True)), SwiGLU MLP, no biases, no
# dropout.  One step = zero_grad, forward, mean cross-entropy, backward, clip the global grad norm to 1,
# AdamW(lr 1e-3, betas (0.9, 0.95), eps 1e-8, weight decay 0.1 on the embedding and every matrix, none
# on the norm weights) — what one nl-train step does (nl also moves its learning rate along a schedule
# and samples windows of a token stream; here the rate is constant and the batch is random tokens,
# drawn before each step outside the timed region).
#
# Prints '#' comment lines and one TSV row in the format of BENCH.md §5:
#   bench family preset impl threads blas median_ms min_ms max_ms tok_s model_gflop mfu ratio
# model_gflop is nl's model-FLOP count per step (nl_tf_train_flops in lib/transformer.c); mfu is
# model FLOP/s divided by the torch.mm 1024x1024x1024 float32 rate measured here at the same threads.
# Correctness: a wrong model must not be timed, so the loss at initialisation on a fixed batch must
# be within 0.05 + 0.02^2 d of ln(vocab) (the std-0.02 init gives logits of std ~0.02 sqrt(d), which adds
# about their variance / 2: +0.04 at d 128, +0.07 at d 256, as nl's first logged loss shows); the full float64 cross-check against nl lives in tests/ref (not repeated).
import argparse
import math
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F


def parse():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--d", type=int, default=128)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--hidden", type=int, default=608)
    p.add_argument("--vocab", type=int, default=257)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--seq", type=int, default=128)
    p.add_argument("--threads", type=int, default=1, help="threads reported, and torch.set_num_threads")
    p.add_argument("--torch-threads", type=int, default=0,
                   help="torch.set_num_threads value when it differs from --threads (0: same)")
    p.add_argument("--steps", type=int, default=10, help="timed steps")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--foreach", type=int, default=0, help="AdamW foreach implementation (0 or 1)")
    p.add_argument("--attn", choices=["manual", "sdpa"], default="manual")
    p.add_argument("--preset", default="-", help="label for the preset column")
    p.add_argument("--peak-reps", type=int, default=7)
    p.add_argument("--peak-only", action="store_true", help="print the sgemm peak and exit")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--print-times", action="store_true", help="also print '# step_ms' and every timed step")
    return p.parse_args()


def blas_label(tthreads):
    """BLAS flavour as loaded (from /proc/self/maps) and the thread settings."""
    flavour = "?"
    try:
        with open("/proc/self/maps") as f:
            maps = f.read()
        for name in ("openblas-openmp", "openblas-pthread", "openblas-serial", "blis", "libmkl"):
            if name in maps:
                flavour = name.replace("openblas-", "OB-")
                break
    except OSError:
        pass
    ob = os.environ.get("OPENBLAS_NUM_THREADS", "unset")
    omp = os.environ.get("OMP_NUM_THREADS", "unset")
    return "%s,OPENBLAS_NUM_THREADS=%s,OMP_NUM_THREADS=%s,torch=%d" % (flavour, ob, omp, tthreads)


def sgemm_peak(reps):
    """Median GFLOP/s of torch.mm on 1024x1024 @ 1024x1024 float32 (each sample >= 0.1 s)."""
    n = 1024
    g = torch.Generator().manual_seed(0)
    a = torch.randn(n, n, generator=g)
    b = torch.randn(n, n, generator=g)
    c = torch.empty(n, n)
    for _ in range(3):
        torch.mm(a, b, out=c)
    t0 = time.perf_counter()
    torch.mm(a, b, out=c)
    one = time.perf_counter() - t0
    inner = max(1, int(0.1 / max(one, 1e-6)))
    rates = []
    for _ in range(max(5, reps)):
        t0 = time.perf_counter()
        for _ in range(inner):
            torch.mm(a, b, out=c)
        dt = time.perf_counter() - t0
        rates.append(2.0 * n ** 3 * inner / dt / 1e9)
    return statistics.median(rates)


class Model(torch.nn.Module):
    def __init__(self, V, d, L, H, f, T, std=0.02):
        super().__init__()
        assert d % H == 0 and (d // H) % 2 == 0
        self.V, self.d, self.L, self.H, self.dh, self.f = V, d, L, H, d // H, f
        P = torch.nn.Parameter
        so = std / math.sqrt(2 * L)
        self.embed = P(torch.randn(V, d) * std)
        self.attn_norm = torch.nn.ParameterList([P(torch.ones(d)) for _ in range(L)])
        self.w_qkv = torch.nn.ParameterList([P(torch.randn(3 * d, d) * std) for _ in range(L)])
        self.w_o = torch.nn.ParameterList([P(torch.randn(d, d) * so) for _ in range(L)])
        self.mlp_norm = torch.nn.ParameterList([P(torch.ones(d)) for _ in range(L)])
        self.w_gate = torch.nn.ParameterList([P(torch.randn(f, d) * std) for _ in range(L)])
        self.w_up = torch.nn.ParameterList([P(torch.randn(f, d) * std) for _ in range(L)])
        self.w_down = torch.nn.ParameterList([P(torch.randn(d, f) * so) for _ in range(L)])
        self.norm = P(torch.ones(d))
        # RoPE tables: pair i of a head rotates by pos * base^(-2i/dh)
        pos = torch.arange(T, dtype=torch.float64)[:, None]
        i = torch.arange(self.dh // 2, dtype=torch.float64)[None, :]
        theta = pos * torch.pow(torch.tensor(10000.0, dtype=torch.float64), -2.0 * i / self.dh)
        self.register_buffer("cos", torch.cos(theta).float())
        self.register_buffer("sin", torch.sin(theta).float())
        self.register_buffer("causal", torch.ones(T, T, dtype=torch.bool).tril().logical_not())
        self.sdpa = False

    @staticmethod
    def rmsnorm(x, w):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * w

    def rope(self, x, t):
        # x: (B, H, T, dh); pairs (x[2i], x[2i+1])
        xs = x.unflatten(-1, (self.dh // 2, 2))
        x0, x1 = xs[..., 0], xs[..., 1]
        c, s = self.cos[:t], self.sin[:t]
        return torch.stack((x0 * c - x1 * s, x0 * s + x1 * c), dim=-1).flatten(-2)

    def forward(self, inputs):
        b, t = inputs.shape
        d, H, dh = self.d, self.H, self.dh
        h = F.embedding(inputs, self.embed)
        scale = 1.0 / math.sqrt(dh)
        for l in range(self.L):
            a = self.rmsnorm(h, self.attn_norm[l])
            qkv = (a @ self.w_qkv[l].t()).view(b, t, 3, H, dh).permute(2, 0, 3, 1, 4)
            q, k, v = self.rope(qkv[0], t), self.rope(qkv[1], t), qkv[2]
            if self.sdpa:
                o = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            else:
                s = (q @ k.transpose(-1, -2)) * scale
                s = s.masked_fill(self.causal[:t, :t], float("-inf"))
                o = torch.softmax(s, dim=-1) @ v
            h = h + o.transpose(1, 2).reshape(b, t, d) @ self.w_o[l].t()
            m = self.rmsnorm(h, self.mlp_norm[l])
            g = m @ self.w_gate[l].t()
            u = m @ self.w_up[l].t()
            h = h + (F.silu(g) * u) @ self.w_down[l].t()
        return self.rmsnorm(h, self.norm) @ self.embed.t()


def nl_model_flops(V, d, L, f, b, t):
    """nl_tf_train_flops: 6 N tokens + 6 L T d tokens, N = V d + L (4 d^2 + 3 d f)."""
    n = V * d + L * (4 * d * d + 3 * d * f)
    tokens = b * t
    return 6.0 * n * tokens + 6.0 * L * t * d * tokens


def main():
    a = parse()
    tthreads = a.torch_threads or a.threads
    torch.set_num_threads(tthreads)
    torch.manual_seed(a.seed)
    peak = sgemm_peak(a.peak_reps)
    blas = blas_label(tthreads)
    print("# torch %s, python %s, torch.get_num_threads() %d, %s"
          % (torch.__version__, sys.version.split()[0], torch.get_num_threads(), blas))
    print("# sgemm_peak_gflops %.1f (torch.mm 1024^3 float32, median of %d)" % (peak, max(5, a.peak_reps)))
    if a.peak_only:
        return
    if a.attn == "sdpa" and not hasattr(F, "scaled_dot_product_attention"):
        print("# skip: torch %s has no scaled_dot_product_attention" % torch.__version__)
        return

    model = Model(a.vocab, a.d, a.layers, a.heads, a.hidden, a.seq)
    model.sdpa = a.attn == "sdpa"
    params = [p for p in model.parameters()]
    decay = [p for p in params if p.dim() == 2]
    no_decay = [p for p in params if p.dim() != 2]
    nparams = sum(p.numel() for p in params)
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=1e-3, betas=(0.9, 0.95), eps=1e-8, foreach=bool(a.foreach))

    gen = torch.Generator().manual_seed(1234)

    def batch():
        x = torch.randint(0, a.vocab, (a.batch, a.seq + 1), generator=gen)
        return x[:, :-1].contiguous(), x[:, 1:].contiguous()

    # sanity: loss at initialisation on a fixed batch is close to ln(vocab)
    inp, tgt = batch()
    with torch.no_grad():
        loss0 = F.cross_entropy(model(inp).view(-1, a.vocab), tgt.view(-1)).item()
    lnv = math.log(a.vocab)
    print("# params %d; init loss %.4f, ln(vocab) %.4f, diff %.2e" % (nparams, loss0, lnv, loss0 - lnv))
    if not abs(loss0 - lnv) < 0.05 + 0.02 ** 2 * a.d:
        print("train_torch.py: loss at initialisation %.4f is not close to ln(%d) = %.4f: not timing"
              % (loss0, a.vocab, lnv), file=sys.stderr)
        sys.exit(1)

    def step(inp, tgt):
        opt.zero_grad(set_to_none=True)
        logits = model(inp)
        loss = F.cross_entropy(logits.view(-1, a.vocab), tgt.view(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        return loss

    times = []
    for i in range(a.warmup + a.steps):
        inp, tgt = batch()
        t0 = time.perf_counter()
        loss = step(inp, tgt)
        dt = time.perf_counter() - t0
        if not math.isfinite(loss.item()):
            print("train_torch.py: loss not finite at step %d" % i, file=sys.stderr)
            sys.exit(1)
        if i >= a.warmup:
            times.append(dt)
    print("# last loss %.4f after %d steps" % (loss.item(), a.warmup + a.steps))

    if a.print_times:
        print("# step_ms " + " ".join("%.3f" % (x * 1e3) for x in times))
    med = statistics.median(times)
    flops = nl_model_flops(a.vocab, a.d, a.layers, a.hidden, a.batch, a.seq)
    impl = "torch-%s%s%s" % (torch.__version__, "-sdpa" if model.sdpa else "",
                             "-foreach" if a.foreach else "")
    print("\t".join([
        "train", "transformer", a.preset, impl, str(a.threads), blas,
        "%.2f" % (med * 1e3), "%.2f" % (min(times) * 1e3), "%.2f" % (max(times) * 1e3),
        "%.0f" % (a.batch * a.seq / med), "%.3f" % (flops / 1e9),
        "%.3f" % (flops / med / 1e9 / peak), "-"]))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
