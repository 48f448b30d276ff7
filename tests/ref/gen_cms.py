#!/usr/bin/env python3
"""Independent float64 PyTorch reference for nl's CMS families `hope` (the
self-modifying Titans mixer of gen_memory.py, then CMS levels) and
`hope-attention` (causal attention, then CMS levels), written from
../shared/docs/MODEL.md (D6, D8, §2.3, §2.5, §3) only.

Writes tests/ref/cms/<family>/{config, params.npz, batch.npz, cases,
expected.npz}.  Regenerate with:

    /usr/bin/python3 tests/ref/gen_cms.py

The teach signal is computed by its definition, the naive way: for teach window
w, a forward of each sequence over the whole prefix [0, e_w) in which only
window w's level weights are fresh leaves, and torch.autograd.grad of the
window's summed cross-entropy with respect to them (nothing before the window
depends on them, so this is the gradient with everything carried in held
constant, exact through the window).  A level of period P steps by
-cms.lr times the summed signal at every boundary before T.  The outer loss is
the mean cross-entropy with every window's level weights = initial weights +
the recorded (constant) updates, first-order (D6); its gradient is autograd's.
Before writing, the script checks that gradient against central differences of
that first-order objective and exits non-zero on failure.  Output is
byte-for-byte deterministic.
"""
import math
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_memory as gm  # noqa: E402
from gen_transformer import random_batch, savez_deterministic  # noqa: E402

torch.set_num_threads(1)
torch.set_default_dtype(torch.float64)

V, D, H, DH = gm.V, gm.D, gm.H, gm.DH
L, F, T, B = 3, 12, 16, 2
PERIODS = (4, 8, 0)          # teach window 4: level 0 steps at 4, 8, 12; level 1 at 8
TEACH = 4
CMS_LR = 0.03
ROPE_BASE = 10000.0
SEED_PARAMS = {"hope": 3031, "hope-attention": 3032}
SEED_TOKENS = 8765
SEED_FD = 99
MASK_ZEROS = [(0, 2), (1, 9), (1, 15)]
HERE = os.path.dirname(os.path.abspath(__file__))
OPT = gm.options("full", "prox-chunk+ema", {})


def config_lines(family):
    lines = [("model", family), ("vocab_size", str(V)), ("d_model", str(D)),
             ("layers", str(L)), ("heads", str(H)), ("cms.hidden", str(F)),
             ("cms.periods", ",".join(str(p) for p in PERIODS)), ("cms.lr", repr(CMS_LR)),
             ("context", str(T)), ("norm_eps", "1e-06")]
    if family == "hope":
        lines += [("chunk_memory", str(gm.C_MEM)), ("chunk_other", str(gm.C_OTHER)),
                  ("eta_max", str(gm.ETA_MAX))]
    return lines


def param_specs(family):
    s = [("embed.weight", (V, D), "embed")]
    mem = [x for x in gm.param_specs("selfmod") if x[0].startswith("layers.0.mix.")]
    for i in range(L):
        if family == "hope":
            s += [(n.replace("layers.0.", "layers.%d." % i), sh, k) for n, sh, k in mem]
        else:
            p = "layers.%d.attn." % i
            s += [(p + "norm.weight", (D,), "norm"), (p + "w_qkv", (3 * D, D), "matrix"),
                  (p + "w_o", (D, D), "matrix")]
        for v in range(len(PERIODS)):
            c = "layers.%d.cms.%d." % (i, v)
            s += [(c + "norm.weight", (D,), "norm"), (c + "w_gate", (F, D), "matrix"),
                  (c + "w_up", (F, D), "matrix"), (c + "w_down", (D, F), "matrix")]
    s.append(("norm.weight", (D,), "norm"))
    return s


def make_params(family):
    return gm.init_params(param_specs(family), SEED_PARAMS[family])


# ------------------------------------------------------------------ model
def attention_mixer(P, i, x):
    t = x.shape[1]
    p = "layers.%d.attn." % i
    a = gm.rmsnorm(x, P[p + "norm.weight"])
    qkv = a @ P[p + "w_qkv"].t()
    q, k, v = (gm.heads(qkv[..., j * D:(j + 1) * D]) for j in range(3))
    pos = torch.arange(t, dtype=torch.float64)[:, None]
    ang = pos * torch.pow(torch.tensor(ROPE_BASE), -2.0 * torch.arange(DH // 2)[None, :] / DH)
    cos, sin = torch.cos(ang), torch.sin(ang)

    def rope(z):
        z0, z1 = z[..., 0::2], z[..., 1::2]
        return torch.stack((z0 * cos - z1 * sin, z0 * sin + z1 * cos), dim=-1).reshape(z.shape)
    q, k = rope(q), rope(k)
    s = q @ k.transpose(-1, -2) / math.sqrt(DH)
    s = s.masked_fill(~torch.ones(t, t, dtype=torch.bool).tril(), float("-inf"))
    return gm.unheads(torch.softmax(s, dim=-1) @ v) @ P[p + "w_o"].t()


def forward_one(family, P, ids, weights):
    """One sequence: ids (t,) long; weights(i, v, w) -> (w_gate, w_up, w_down) of level v
    of layer i in teach window w.  Returns logits (t, V)."""
    t = ids.shape[0]
    gm.T, gm.B = t, 1
    h = torch.nn.functional.one_hot(ids[None], V).to(torch.float64) @ P["embed.weight"]
    for i in range(L):
        if family == "hope":
            h = h + gm.selfmod_mixer(P, "layers.%d.mix." % i, h, OPT)
        else:
            h = h + attention_mixer(P, i, h)
        for v in range(len(PERIODS)):
            z = gm.rmsnorm(h, P["layers.%d.cms.%d.norm.weight" % (i, v)])
            rows = []
            for w0 in range(0, t, TEACH):
                wg, wu, wd = weights(i, v, w0 // TEACH)
                zz = z[:, w0:w0 + TEACH]
                rows.append((gm.silu(zz @ wg.t()) * (zz @ wu.t())) @ wd.t())
            h = h + torch.cat(rows, dim=1)
    return (gm.rmsnorm(h, P["norm.weight"]) @ P["embed.weight"].t())[0]


def level_names(i, v):
    c = "layers.%d.cms.%d." % (i, v)
    return (c + "w_gate", c + "w_up", c + "w_down")


def teach(family, params, tokens, mask):
    """Every sequence's level updates: delta[b][w][(i, v)] = the (constant) update in use in
    window w, by the naive definition of the teach signal."""
    P = {k: torch.tensor(v) for k, v in params.items()}
    J = T // TEACH
    deltas = []
    for b in range(B):
        ids = tokens[b, :T]
        cur = {(i, v): [torch.zeros_like(P[n]) for n in level_names(i, v)]
               for i in range(L) for v in range(len(PERIODS))}
        acc = {key: [torch.zeros_like(x) for x in val] for key, val in cur.items()}
        hist = []
        for w in range(J):
            hist.append({key: [x.clone() for x in val] for key, val in cur.items()})
            e = (w + 1) * TEACH
            leaves = {key: [(P[n] + d).detach().requires_grad_()
                            for n, d in zip(level_names(*key), hist[w][key])]
                      for key in cur}

            def weights(i, v, u):
                if u == w:
                    return leaves[(i, v)]
                return [(P[n] + d) for n, d in zip(level_names(i, v), hist[u][(i, v)])]
            logits = forward_one(family, P, ids[:e], weights)
            ce = torch.nn.functional.cross_entropy(logits[e - TEACH:e], tokens[b, e - TEACH + 1:e + 1],
                                                   reduction="none")
            loss_w = (ce * mask[b, e - TEACH:e].to(torch.float64)).sum()
            flat = [x for key in sorted(leaves) for x in leaves[key]]
            grads = torch.autograd.grad(loss_w, flat, allow_unused=True)
            k = 0
            for key in sorted(leaves):
                for j in range(3):
                    if grads[k] is not None:
                        acc[key][j] += grads[k]
                    k += 1
            for (i, v) in cur:
                P_v = PERIODS[v]
                if P_v > 0 and e % P_v == 0 and e < T:
                    for j in range(3):
                        cur[(i, v)][j] = cur[(i, v)][j] - CMS_LR * acc[(i, v)][j]
                        acc[(i, v)][j] = torch.zeros_like(acc[(i, v)][j])
        deltas.append(hist)
    return deltas


def outer(family, params, tokens, mask, deltas, with_grad):
    P = {k: torch.tensor(v, requires_grad=with_grad) for k, v in params.items()}
    logits, ce = [], []
    for b in range(B):
        def weights(i, v, u):
            return [P[n] + d for n, d in zip(level_names(i, v), deltas[b][u][(i, v)])]
        lg = forward_one(family, P, tokens[b, :T], weights)
        logits.append(lg)
        ce.append(torch.nn.functional.cross_entropy(lg, tokens[b, 1:], reduction="none"))
    m = mask.to(torch.float64)
    loss = (torch.stack(ce) * m).sum() / m.sum()
    return P, loss, torch.stack(logits)


def main():
    ok = True
    tokens, mask = random_batch(SEED_TOKENS, V, B, T, MASK_ZEROS)
    tokens_t = torch.tensor(tokens.astype(np.int64))
    mask_t = torch.tensor(mask)
    for family in ("hope", "hope-attention"):
        out = os.path.join(HERE, "cms", family)
        os.makedirs(out, exist_ok=True)
        specs = param_specs(family)
        params = make_params(family)
        deltas = teach(family, params, tokens_t, mask_t)
        P, loss, logits = outer(family, params, tokens_t, mask_t, deltas, True)
        names = [n for n, _, _ in specs]
        gr = torch.autograd.grad(loss, [P[n] for n in names], allow_unused=True)
        grads = {n: (np.zeros_like(params[n]) if g is None else g.numpy().copy())
                 for n, g in zip(names, gr)}
        # the updates are not zero, and the gradient is that of the first-order objective
        moved = max(float(d.abs().max()) for hist in deltas for key, val in hist[-1].items()
                    for d in val)
        rs = np.random.RandomState(SEED_FD)
        worst = 0.0
        for n in names:
            g = grads[n].reshape(-1)
            for _ in range(2):
                j = rs.randint(g.size)
                vals = []
                for sgn in (1, -1):
                    q = {k: v.copy() for k, v in params.items()}
                    q[n].reshape(-1)[j] += sgn * 1e-6
                    with torch.no_grad():
                        vals.append(outer(family, q, tokens_t, mask_t, deltas, False)[1].item())
                fd = (vals[0] - vals[1]) / 2e-6
                worst = max(worst, abs(fd - g[j]) / max(1.0, abs(g[j])))
        print("%s: loss %.12f, largest update %.3g, first-order FD worst %.2e"
              % (family, loss.item(), moved, worst))
        ok = ok and worst < 1e-7 and moved > 1e-3
        exp = {"loss": np.array(loss.item(), dtype=np.float64),
               "logits": logits.detach().numpy().copy()}
        for n in names:
            exp["grad." + n] = grads[n]
        savez_deterministic(os.path.join(out, "expected.npz"), exp)
        gm.write_inputs(out, params, tokens, mask, config_lines(family))
    gm.finish(ok, os.path.join(HERE, "cms"))


if __name__ == "__main__":
    main()
