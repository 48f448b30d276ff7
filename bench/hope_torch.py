#!/usr/bin/env python3
# nl — see LICENSE. PyTorch peer of one training step of nl's CMS families (`hope`,
# `hope-attention`), as one would write it in PyTorch from MODEL.md §3 (D8, D13):
#
#   teach pass  the batch runs as a stream, teach window by teach window, every mixer's state
#               (memories, convolution, M_mem's pending tokens, attention's keys) carried from
#               window to window and detached there ("everything carried in held constant");
#               each window's summed cross-entropy is differentiated with torch.autograd.grad
#               with respect to that window's CMS level weights only, the signals are summed
#               per level, and a level steps θ ← θ − cms.lr·A at each of its boundaries before T;
#   outer step  the whole sequence forward with every level chunk's weights = initial weights +
#               the recorded (constant) updates (first order, D6), the mean cross-entropy, and
#               autograd's backward through every memory write (second-order terms included, as
#               bench/memory_torch.py).
#
# The mixers are tests/ref/gen_memory.py's (the float64 references nl is tested against) made
# to carry their state across calls. `--check` runs the tiny float64 shapes of
# tests/ref/gen_cms.py and compares loss and gradients with its naive teach pass (a forward of
# the whole prefix per window); it exits non-zero if they differ.
#
# Prints '#' comment lines and one TSV row: family d layers heads hidden seq batch threads
# median_ms min_ms max_ms tok_s (teach pass + forward + backward, no optimizer step: the phases
# build/bench/step times).
import argparse
import math
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "ref"))
import gen_memory as gm  # noqa: E402
from memory_torch import time_steps  # noqa: E402

S = argparse.Namespace()   # shapes and settings, set in main()


# --------------------------------------------------------------- mixers with state
class SelfmodState:
    """A self-modifying Titans mixer's fast state for B sequences (gen_memory.selfmod_mixer
    cut into calls whose lengths are multiples of chunk_other)."""

    def __init__(self, P, p):
        units = ("k", "v", "eta", "alpha") + (("q",) if S.opt["adaptive_q"] else ())
        self.units = units
        self.mems = {u: gm.Memory(P[p + "m_%s.w1" % u], P[p + "m_%s.w2" % u],
                                  u in ("k", "v", "q", "mem")) for u in units + ("mem",)}
        self.tail = torch.zeros(S.B, 3, S.D)          # the convolution's last 3 inputs
        self.pending = []                              # (k, v, eta, alpha) since M_mem's write
        self.npending = 0

    def detach(self):
        for m in self.mems.values():
            m.w1, m.w2, m.s1, m.s2 = m.w1.detach(), m.w2.detach(), m.s1.detach(), m.s2.detach()
        self.tail = self.tail.detach()
        self.pending = [tuple(z.detach() for z in c) for c in self.pending]

    def run(self, P, p, x):
        opt, co, cm = S.opt, S.opt["chunk_other"], S.opt["chunk_memory"]
        n = x.shape[1]
        xn = gm.rmsnorm(x, P[p + "norm.weight"])
        xw = torch.cat([self.tail, xn @ P[p + "w_x"].t()], dim=1)
        c = P[p + "conv"]
        xc = sum(c[j] * xw[:, j:j + n] for j in range(4))
        self.tail = xw[:, n:]
        X = gm.heads(xc)
        b_alpha = P[p + "b_alpha"].reshape(1, gm.H, 1)
        beta_h = torch.sigmoid(P[p + "b_beta"]).reshape(1, gm.H, 1) if opt["inner_momentum"] \
            else torch.zeros(1, gm.H, 1)
        mems = self.mems
        if opt["adaptive_q"]:
            Q = []
        else:
            q_all = gm.heads(gm.l2norm_heads(xc @ P[p + "w_q"].t()))
        outs = []
        for c0 in range(0, n, co):
            sl = slice(c0, min(c0 + co, n))
            m = sl.stop - c0
            k = gm.l2norm(mems["k"].read(X[:, :, sl]))
            v = gm.l2norm(mems["v"].read(X[:, :, sl]))
            eta = gm.ETA_MAX * torch.sigmoid(mems["eta"].read(X[:, :, sl])[..., 0])
            alpha = torch.sigmoid(mems["alpha"].read(X[:, :, sl])[..., 0] + b_alpha)
            q = gm.l2norm(mems["q"].read(X[:, :, sl])) if opt["adaptive_q"] else q_all[:, :, sl]
            if m == co:
                for u in self.units:
                    gm.write(mems[u], k, v, eta, alpha, beta_h.expand(S.B, gm.H, m), opt, True)
            # M_mem reads with the state of its last write; it writes every chunk_memory tokens
            outs.append(mems["mem"].read(q))
            self.pending.append((k, v, eta, alpha))
            self.npending += m
            if self.npending == cm:
                K, Vv, ETA, ALP = (torch.cat(z, dim=2) for z in zip(*self.pending))
                gm.write(mems["mem"], K, Vv, ETA, ALP, beta_h.expand(S.B, gm.H, cm), opt, True)
                self.pending, self.npending = [], 0
        return gm.out_proj(P, p, xn, torch.cat(outs, dim=2))


class AttentionState:
    """Causal attention with RoPE over every earlier key of the sequence (a K/V cache)."""

    def __init__(self, P, p):
        self.k = torch.zeros(S.B, gm.H, 0, gm.DH)
        self.v = torch.zeros(S.B, gm.H, 0, gm.DH)

    def detach(self):
        self.k, self.v = self.k.detach(), self.v.detach()

    def run(self, P, p, x):
        n, p0 = x.shape[1], self.k.shape[2]
        a = gm.rmsnorm(x, P[p + "norm.weight"])
        qkv = a @ P[p + "w_qkv"].t()
        q, k, v = (gm.heads(qkv[..., j * S.D:(j + 1) * S.D]) for j in range(3))
        pos = torch.arange(p0, p0 + n, dtype=q.dtype)[:, None]
        ang = pos * torch.pow(torch.tensor(10000.0, dtype=q.dtype),
                              -2.0 * torch.arange(gm.DH // 2, dtype=q.dtype)[None, :] / gm.DH)
        cos, sin = torch.cos(ang), torch.sin(ang)

        def rope(z):
            z0, z1 = z[..., 0::2], z[..., 1::2]
            return torch.stack((z0 * cos - z1 * sin, z0 * sin + z1 * cos), dim=-1).reshape(z.shape)
        self.k = torch.cat([self.k, rope(k)], dim=2)
        self.v = torch.cat([self.v, v], dim=2)
        s = rope(q) @ self.k.transpose(-1, -2) / math.sqrt(gm.DH)
        mask = torch.ones(n, p0 + n, dtype=torch.bool).tril(p0)
        s = s.masked_fill(~mask, float("-inf"))
        return gm.unheads(torch.softmax(s, dim=-1) @ self.v) @ P[p + "w_o"].t()


# --------------------------------------------------------------- the model
def level_names(i, v):
    c = "layers.%d.cms.%d." % (i, v)
    return (c + "w_gate", c + "w_up", c + "w_down")


def level(z, wg, wu, wd):
    """SwiGLU with per-sequence weights wg, wu [B, F, D], wd [B, D, F]."""
    g = torch.einsum("bnd,bfd->bnf", z, wg)
    u = torch.einsum("bnd,bfd->bnf", z, wu)
    return torch.einsum("bnf,bdf->bnd", gm.silu(g) * u, wd)


def run_layers(P, states, ids, weights, c0):
    """Tokens [c0, c0 + n) of every sequence through the model; weights(i, v, c) gives level v
    of layer i for the level chunk starting at token c (one per period, or one for the whole
    call if the level is outer-only). Returns logits [B, n, V]."""
    n = ids.shape[1]
    h = torch.nn.functional.one_hot(ids, S.V).to(torch.get_default_dtype()) @ P["embed.weight"]
    for i in range(S.L):
        pre = "layers.%d.%s." % (i, "mix" if S.family == "hope" else "attn")
        h = h + states[i].run(P, pre, h)
        for v, per in enumerate(S.periods):
            z = gm.rmsnorm(h, P["layers.%d.cms.%d.norm.weight" % (i, v)])
            step = per if per > 0 else n
            rows = []
            for a in range(0, n, step):
                start = c0 + a if per > 0 else 0
                rows.append(level(z[:, a:a + step], *weights(i, v, start)))
            h = h + torch.cat(rows, dim=1)
    return gm.rmsnorm(h, P["norm.weight"]) @ P["embed.weight"].t()


def new_states(P):
    cls = SelfmodState if S.family == "hope" else AttentionState
    return [cls(P, "layers.%d.%s." % (i, "mix" if S.family == "hope" else "attn"))
            for i in range(S.L)]


def teach_pass(P, tokens, mask):
    """The levels' weights of every level chunk, {(i, v, c): (wg, wu, wd)} [B, ...], by
    streaming the batch window by window (MODEL §3, D8)."""
    W = S.teach
    with torch.no_grad():
        Pc = {k: t.detach() for k, t in P.items()}
    cur = {(i, v): [Pc[n].unsqueeze(0).expand(S.B, *Pc[n].shape).clone()
                    for n in level_names(i, v)]
           for i in range(S.L) for v, per in enumerate(S.periods) if per > 0}
    acc = {key: [torch.zeros_like(x) for x in val] for key, val in cur.items()}
    chunks = {(i, v, 0): tuple(val) for (i, v), val in cur.items()}
    last = max([e for per in S.periods if per > 0 for e in range(per, S.T, per)], default=0)
    states = new_states(Pc)
    for w0 in range(0, last, W):
        for st in states:
            st.detach()
        leaves = {key: [x.detach().requires_grad_() for x in val] for key, val in cur.items()}

        def weights(i, v, c):
            if S.periods[v] > 0:
                return leaves[(i, v)]
            return [Pc[nm].unsqueeze(0).expand(S.B, *Pc[nm].shape) for nm in level_names(i, v)]
        logits = run_layers(Pc, states, tokens[:, w0:w0 + W], weights, w0)
        ce = torch.nn.functional.cross_entropy(logits.reshape(-1, S.V),
                                               tokens[:, w0 + 1:w0 + W + 1].reshape(-1),
                                               reduction="none")
        loss_w = (ce * mask[:, w0:w0 + W].reshape(-1).to(ce.dtype)).sum()
        keys = sorted(leaves)
        grads = torch.autograd.grad(loss_w, [x for key in keys for x in leaves[key]],
                                    allow_unused=True)
        for j, key in enumerate(keys):
            for m in range(3):
                if grads[3 * j + m] is not None:
                    acc[key][m] += grads[3 * j + m]
        e = w0 + W
        for (i, v), val in cur.items():
            per = S.periods[v]
            if e % per == 0 and e < S.T:
                for m in range(3):
                    val[m] = val[m] - S.cms_lr * acc[(i, v)][m]
                    acc[(i, v)][m] = torch.zeros_like(acc[(i, v)][m])
                chunks[(i, v, e)] = tuple(x.clone() for x in val)
    return chunks


def outer_loss(P, tokens, mask, chunks):
    """The mean cross-entropy of the batch with every level chunk's weights the initial weights
    plus its recorded update (a constant: first order, D6)."""
    def weights(i, v, c):
        base = [P[nm].unsqueeze(0).expand(S.B, *P[nm].shape) for nm in level_names(i, v)]
        if S.periods[v] <= 0 or (i, v, c) not in chunks:
            return base
        return [b + (w - b).detach() for b, w in zip(base, chunks[(i, v, c)])]
    logits = run_layers(P, new_states(P), tokens[:, :S.T], weights, 0)
    ce = torch.nn.functional.cross_entropy(logits.reshape(-1, S.V), tokens[:, 1:].reshape(-1),
                                           reduction="none")
    m = mask.reshape(-1).to(ce.dtype)
    return (ce * m).sum() / m.sum()


def step(P, tokens, mask):
    chunks = teach_pass(P, tokens, mask)
    loss = outer_loss(P, tokens, mask, chunks)
    grads = torch.autograd.grad(loss, list(P.values()), allow_unused=True)
    return loss, grads


# --------------------------------------------------------------- the two modes
def setup(family, vocab, d, layers, heads, hidden, seq, batch, periods, teach, cms_lr,
          chunk_memory, chunk_other, eta_max):
    S.family, S.V, S.D, S.L, S.H, S.F, S.T, S.B = family, vocab, d, layers, heads, hidden, seq, \
        batch
    S.periods, S.cms_lr = periods, cms_lr
    S.teach = teach or min(p for p in periods if p > 0)
    gm.V, gm.D, gm.L, gm.H, gm.F = vocab, d, layers, heads, hidden
    gm.DH, gm.T, gm.B, gm.ETA_MAX = d // heads, seq, batch, eta_max
    S.opt = gm.options("full", "prox-chunk+ema", {})
    S.opt.update(chunk_memory=chunk_memory, chunk_other=chunk_other)


def check():
    """Against tests/ref/gen_cms.py's naive teach pass, float64, its tiny shapes."""
    import gen_cms as gc
    torch.set_default_dtype(torch.float64)
    tokens, mask = gc.random_batch(gc.SEED_TOKENS, gc.V, gc.B, gc.T, gc.MASK_ZEROS)
    tokens_t, mask_t = torch.tensor(tokens.astype(np.int64)), torch.tensor(mask)
    ok = True
    for family in ("hope", "hope-attention"):
        params = gc.make_params(family)
        deltas = gc.teach(family, params, tokens_t, mask_t)
        P0, loss0, _ = gc.outer(family, params, tokens_t, mask_t, deltas, True)
        names = list(P0)
        g0 = torch.autograd.grad(loss0, [P0[n] for n in names], allow_unused=True)
        setup(family, gc.V, gc.D, gc.L, gc.H, gc.F, gc.T, gc.B, gc.PERIODS, gc.TEACH, gc.CMS_LR,
              gm.C_MEM, gm.C_OTHER, gm.ETA_MAX)
        P = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
        loss, g = step(P, tokens_t, mask_t)
        worst = 0.0
        for n, a, b in zip(names, g0, g):
            if (a is None) != (b is None):
                sys.exit("hope_torch: %s: gradient missing on one side" % n)
            if a is not None:
                worst = max(worst, float((a - b).abs().max() / max(1.0, float(a.abs().max()))))
        diff = abs(loss.item() - loss0.item())
        print("# %s: loss %.12f (naive %.12f), largest gradient difference %.2e"
              % (family, loss.item(), loss0.item(), worst))
        ok = ok and diff < 1e-12 and worst < 1e-10
    if not ok:
        sys.exit("hope_torch: the streamed teach pass differs from the naive one")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("family", choices=["hope", "hope-attention"])
    p.add_argument("--d", type=int, default=256)
    p.add_argument("--layers", type=int, default=6)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--hidden", type=int, default=448)
    p.add_argument("--vocab", type=int, default=257)
    p.add_argument("--seq", type=int, default=512)
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--periods", default="16,128,1024")
    p.add_argument("--teach", type=int, default=0)
    p.add_argument("--cms-lr", type=float, default=1e-3)
    p.add_argument("--chunk-memory", type=int, default=64)
    p.add_argument("--chunk-other", type=int, default=8)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--check", action="store_true", help="compare with tests/ref/gen_cms.py")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    if a.check:
        check()
        return
    import gen_cms as gc      # (its import sets float64)
    torch.set_default_dtype(torch.float32)
    periods = tuple(int(x) for x in a.periods.split(","))
    setup(a.family, a.vocab, a.d, a.layers, a.heads, a.hidden, a.seq, a.batch, periods, a.teach,
          a.cms_lr, a.chunk_memory, a.chunk_other, 0.2)
    gc.V, gc.D, gc.H, gc.DH, gc.L, gc.F = a.vocab, a.d, a.heads, a.d // a.heads, a.layers, \
        a.hidden
    gc.PERIODS = periods
    params = {k: torch.tensor(v, dtype=torch.float32, requires_grad=True)
              for k, v in gc.make_params(a.family).items()}
    time_steps(a, params, step)

if __name__ == "__main__":
    main()
