#!/usr/bin/env python3
"""Independent float64 PyTorch reference for nl's Transformer++ model.

Writes fixtures to tests/ref/transformer/ (params.npz, batch.npz,
expected.npz, config).  Regenerate with:

    /usr/bin/python3 tests/ref/gen_transformer.py

The model is written from the specification only (see tests/ref/README.md);
no nl code is used.  Before writing, the script checks the autograd
gradients against central finite differences and the torch loss against an
independent numpy-only forward pass.  Output is byte-for-byte deterministic
(the .npz files are written with a fixed zip timestamp).
"""
import math
import os
import sys
import zipfile

import numpy as np
import torch

torch.set_num_threads(1)
torch.set_default_dtype(torch.float64)

# ---------------------------------------------------------------- settings
V, D, L, H, F = 37, 32, 2, 4, 48
DH = D // H
T, B = 16, 3
EPS = 1e-6
ROPE_BASE = 10000.0

S = 5
LR, LR_MIN, WARMUP, CLIP = 1e-2, 1e-3, 2, 1.0
WD, BETA1, BETA2, ADAM_EPS = 0.1, 0.9, 0.95, 1e-8

SEED_PARAMS = 1234      # numpy RandomState seed for the weights
SEED_TOKENS = 5678      # numpy RandomState seed for the tokens
SEED_FD = 91011         # numpy RandomState seed for the finite-difference probes
MASK_ZEROS = [(0, 5), (1, 15), (2, 0), (2, 9)]   # (row, position) not scored

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "transformer")

CONFIG = [
    ("model", "transformer"),
    ("vocab_size", "37"),
    ("d_model", "32"),
    ("layers", "2"),
    ("heads", "4"),
    ("mlp.hidden", "48"),
    ("context", "16"),
    ("norm_eps", "1e-06"),
    ("rope.base", "10000"),
    ("optim.lr", "0.01"),
    ("optim.lr_min", "0.001"),
    ("optim.warmup", "2"),
    ("optim.weight_decay", "0.1"),
    ("optim.beta1", "0.9"),
    ("optim.beta2", "0.95"),
    ("optim.eps", "1e-08"),
    ("optim.clip", "1"),
    ("optim.schedule", "cosine"),
    ("train.steps", "5"),
    ("train.batch", "3"),
    ("train.seq_len", "16"),
]


def param_specs():
    """(name, shape, kind) in the fixed generation order."""
    specs = [("embed.weight", (V, D), "embed")]
    for i in range(L):
        p = "layers.%d." % i
        specs += [
            (p + "attn.norm.weight", (D,), "norm"),
            (p + "attn.w_qkv", (3 * D, D), "matrix"),
            (p + "attn.w_o", (D, D), "matrix"),
            (p + "mlp.norm.weight", (D,), "norm"),
            (p + "mlp.w_gate", (F, D), "matrix"),
            (p + "mlp.w_up", (F, D), "matrix"),
            (p + "mlp.w_down", (D, F), "matrix"),
        ]
    specs.append(("norm.weight", (D,), "norm"))
    return specs


def make_params():
    rs = np.random.RandomState(SEED_PARAMS)
    params = {}
    for name, shape, kind in param_specs():
        z = rs.standard_normal(shape)
        if kind == "embed":
            w = z
        elif kind == "matrix":
            w = z / math.sqrt(shape[1])          # N(0, 1/in_features)
        else:
            w = 1.0 + 0.1 * z
        params[name] = np.ascontiguousarray(w, dtype=np.float64)
    return params


def random_batch(seed, vocab, batch, length, mask_zeros):
    """tokens int32 (batch, length + 1) uniform over the vocabulary; mask uint8
    (batch, length), 1 but at the (row, position) pairs of mask_zeros."""
    rs = np.random.RandomState(seed)
    tokens = rs.randint(0, vocab, size=(batch, length + 1)).astype(np.int32)
    mask = np.ones((batch, length), dtype=np.uint8)
    for r, c in mask_zeros:
        mask[r, c] = 0
    return tokens, mask


def make_batch():
    return random_batch(SEED_TOKENS, V, B, T, MASK_ZEROS)


# ------------------------------------------------------------ torch model
def rmsnorm(x, w):
    return x / torch.sqrt((x * x).mean(dim=-1, keepdim=True) + EPS) * w


def rope_tables(t):
    pos = torch.arange(t, dtype=torch.float64)[:, None]                  # (T,1)
    i = torch.arange(DH // 2, dtype=torch.float64)[None, :]              # (1,DH/2)
    theta = pos * torch.pow(torch.tensor(ROPE_BASE), -2.0 * i / DH)      # (T,DH/2)
    return torch.cos(theta), torch.sin(theta)


def rope(x, cos, sin):
    # x: (B, H, T, DH); pairs (x[2i], x[2i+1])
    x0 = x[..., 0::2]
    x1 = x[..., 1::2]
    y0 = x0 * cos - x1 * sin
    y1 = x0 * sin + x1 * cos
    return torch.stack((y0, y1), dim=-1).reshape(x.shape)


def attention(q, k, v):
    # q, k, v: (B, H, T, DH)
    t = q.shape[2]
    scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(DH)
    causal = torch.ones(t, t, dtype=torch.bool).tril()
    scores = scores.masked_fill(~causal, float("-inf"))
    return torch.matmul(torch.softmax(scores, dim=-1), v)


def forward(P, inputs):
    """P: dict name->tensor; inputs: (B,T) long.  Returns logits (B,T,V)."""
    b, t = inputs.shape
    h = P["embed.weight"][inputs]
    cos, sin = rope_tables(t)
    for i in range(L):
        p = "layers.%d." % i
        a = rmsnorm(h, P[p + "attn.norm.weight"])
        qkv = a @ P[p + "attn.w_qkv"].t()
        q, k, v = qkv[..., :D], qkv[..., D:2 * D], qkv[..., 2 * D:]
        split = lambda x: x.reshape(b, t, H, DH).transpose(1, 2)   # (B,H,T,DH)
        q, k, v = split(q), split(k), split(v)
        q, k = rope(q, cos, sin), rope(k, cos, sin)
        o = attention(q, k, v).transpose(1, 2).reshape(b, t, D)
        h = h + o @ P[p + "attn.w_o"].t()
        m = rmsnorm(h, P[p + "mlp.norm.weight"])
        g = m @ P[p + "mlp.w_gate"].t()
        u = m @ P[p + "mlp.w_up"].t()
        h = h + (g * torch.sigmoid(g) * u) @ P[p + "mlp.w_down"].t()
    z = rmsnorm(h, P["norm.weight"])
    return z @ P["embed.weight"].t()


def loss_fn(P, tokens, mask):
    inputs, targets = tokens[:, :T], tokens[:, 1:]
    logits = forward(P, inputs)
    ce = torch.nn.functional.cross_entropy(
        logits.reshape(-1, V), targets.reshape(-1), reduction="none")
    m = mask.reshape(-1).to(torch.float64)
    return (ce * m).sum() / m.sum(), logits


def loss_and_grad(params_np, tokens_t, mask_t):
    P = {k: torch.tensor(v, requires_grad=True) for k, v in params_np.items()}
    loss, logits = loss_fn(P, tokens_t, mask_t)
    names = list(P)
    grads = torch.autograd.grad(loss, [P[k] for k in names])
    return (loss.item(), logits.detach().numpy().copy(),
            {k: g.numpy().copy() for k, g in zip(names, grads)})


def loss_only(params_np, tokens_t, mask_t):
    with torch.no_grad():
        P = {k: torch.tensor(v) for k, v in params_np.items()}
        return loss_fn(P, tokens_t, mask_t)[0].item()


# ------------------------------------------- independent numpy-only forward
def np_loss(params, tokens, mask):
    """Written differently on purpose: RoPE as complex rotation, per-head and
    per-position loops for attention, explicit log-sum-exp."""
    inputs = tokens[:, :T].astype(np.int64)
    targets = tokens[:, 1:].astype(np.int64)
    E = params["embed.weight"]

    def norm(x, w):
        return x * (1.0 / np.sqrt(np.mean(np.square(x), axis=-1, keepdims=True) + EPS)) * w

    freqs = np.array([ROPE_BASE ** (-(2.0 * i) / DH) for i in range(DH // 2)])

    def rot(x, pos):                       # x: (DH,), pos int
        c = x[0::2] + 1j * x[1::2]
        c = c * np.exp(1j * pos * freqs)
        y = np.empty(DH)
        y[0::2], y[1::2] = c.real, c.imag
        return y

    total, count = 0.0, 0
    for bi in range(B):
        h = np.stack([E[tok] for tok in inputs[bi]])          # (T, D)
        for li in range(L):
            p = "layers.%d." % li
            a = norm(h, params[p + "attn.norm.weight"])
            W = params[p + "attn.w_qkv"]
            q = np.einsum("td,od->to", a, W[:D])
            k = np.einsum("td,od->to", a, W[D:2 * D])
            v = np.einsum("td,od->to", a, W[2 * D:])
            o = np.zeros((T, D))
            for hj in range(H):
                cols = slice(hj * DH, (hj + 1) * DH)
                qh = np.stack([rot(q[t, cols], t) for t in range(T)])
                kh = np.stack([rot(k[t, cols], t) for t in range(T)])
                vh = v[:, cols]
                for t in range(T):
                    s = np.array([qh[t] @ kh[u] for u in range(t + 1)]) / np.sqrt(DH)
                    w = np.exp(s - s.max())
                    w = w / w.sum()
                    o[t, cols] = w @ vh[:t + 1]
            h = h + np.einsum("ti,oi->to", o, params[p + "attn.w_o"])
            m = norm(h, params[p + "mlp.norm.weight"])
            g = np.einsum("ti,oi->to", m, params[p + "mlp.w_gate"])
            u = np.einsum("ti,oi->to", m, params[p + "mlp.w_up"])
            act = g / (1.0 + np.exp(-g)) * u
            h = h + np.einsum("ti,oi->to", act, params[p + "mlp.w_down"])
        z = norm(h, params["norm.weight"])
        logits = np.einsum("ti,vi->tv", z, E)
        for t in range(T):
            if mask[bi, t]:
                row = logits[t]
                mx = row.max()
                lse = mx + np.log(np.sum(np.exp(row - mx)))
                total += lse - row[targets[bi, t]]
                count += 1
    return total / count


# --------------------------------------------------------------- optimizer
def lr_at(s):
    if s < WARMUP:
        return LR * (s + 1) / WARMUP
    return LR_MIN + 0.5 * (LR - LR_MIN) * (1.0 + math.cos(math.pi * (s - WARMUP) / (S - WARMUP)))


def train(params0, tokens_t, mask_t, kinds):
    p = {k: v.copy() for k, v in params0.items()}
    m = {k: np.zeros_like(v) for k, v in p.items()}
    v2 = {k: np.zeros_like(v) for k, v in p.items()}
    traj = np.zeros(S + 1)
    for s in range(S):
        loss, _, g = loss_and_grad(p, tokens_t, mask_t)
        traj[s] = loss
        gnorm = math.sqrt(sum(float(np.sum(gi * gi)) for gi in g.values()))
        if gnorm > CLIP:
            sc = CLIP / gnorm
            g = {k: gi * sc for k, gi in g.items()}
        lr = lr_at(s)
        t = s + 1
        for k in p:
            m[k] = BETA1 * m[k] + (1.0 - BETA1) * g[k]
            v2[k] = BETA2 * v2[k] + (1.0 - BETA2) * g[k] * g[k]
            mhat = m[k] / (1.0 - BETA1 ** t)
            vhat = v2[k] / (1.0 - BETA2 ** t)
            wd = WD if p[k].ndim == 2 else 0.0
            p[k] = p[k] - lr * (mhat / (np.sqrt(vhat) + ADAM_EPS) + wd * p[k])
        print("  step %d: loss %.12f  |g| %.6f  lr %.6g" % (s, loss, gnorm, lr))
    traj[S] = loss_only(p, tokens_t, mask_t)
    return traj


# -------------------------------------------------------------- file output
def savez_deterministic(path, arrays):
    """Same layout as np.savez (ZIP_STORED, zip64 forced, <name>.npy members)
    but with a fixed timestamp so the output is byte-identical on rerun."""
    with zipfile.ZipFile(path, mode="w", compression=zipfile.ZIP_STORED,
                         allowZip64=True) as zf:
        for name, val in arrays.items():
            zi = zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            zi.compress_type = zipfile.ZIP_STORED
            zi.external_attr = 0o644 << 16
            with zf.open(zi, "w", force_zip64=True) as fid:
                np.lib.format.write_array(fid, np.asanyarray(val), allow_pickle=False)


def main():
    os.makedirs(OUT, exist_ok=True)
    params = make_params()
    tokens, mask = make_batch()
    kinds = {n: k for n, _, k in param_specs()}
    tokens_t = torch.tensor(tokens.astype(np.int64))
    mask_t = torch.tensor(mask)

    loss, logits, grads = loss_and_grad(params, tokens_t, mask_t)
    print("torch %s  numpy %s" % (torch.__version__, np.__version__))
    print("loss = %.17g  (N = %d scored positions)" % (loss, int(mask.sum())))

    # --- check 1: numpy-only forward
    nloss = np_loss(params, tokens, mask)
    rel_np = abs(nloss - loss) / abs(loss)
    print("numpy forward loss = %.17g   rel err %.3e" % (nloss, rel_np))

    # --- check 2: central finite differences on random coordinates
    rs = np.random.RandomState(SEED_FD)
    hstep = 1e-5
    worst_rel, worst_abs = 0.0, 0.0
    for name, shape, _ in param_specs():
        n = int(np.prod(shape))
        idxs = rs.choice(n, size=min(6, n), replace=False)
        for flat in idxs:
            idx = np.unravel_index(flat, shape)
            pp = {k: v.copy() for k, v in params.items()}
            pp[name][idx] += hstep
            lp = loss_only(pp, tokens_t, mask_t)
            pp[name][idx] -= 2 * hstep
            lm = loss_only(pp, tokens_t, mask_t)
            fd = (lp - lm) / (2 * hstep)
            g = grads[name][idx]
            ae = abs(fd - g)
            re = ae / max(abs(fd), abs(g), 1e-6)
            worst_abs = max(worst_abs, ae)
            worst_rel = max(worst_rel, re)
    print("finite differences (6 coords/param, h=%g): worst abs err %.3e, worst rel err %.3e"
          % (hstep, worst_abs, worst_rel))
    # directional derivative along a random direction over all parameters
    dirs = {k: rs.standard_normal(v.shape) for k, v in params.items()}
    dnorm = math.sqrt(sum(float(np.sum(x * x)) for x in dirs.values()))
    dirs = {k: x / dnorm for k, x in dirs.items()}          # unit direction
    dd = sum(float(np.sum(grads[k] * dirs[k])) for k in params)
    pp = {k: params[k] + hstep * dirs[k] for k in params}
    pm = {k: params[k] - hstep * dirs[k] for k in params}
    fdd = (loss_only(pp, tokens_t, mask_t) - loss_only(pm, tokens_t, mask_t)) / (2 * hstep)
    rel_dir = abs(fdd - dd) / max(abs(dd), 1e-12)
    print("directional derivative: autograd %.12g  fd %.12g  rel err %.3e" % (dd, fdd, rel_dir))

    # torch.autograd.gradcheck w.r.t. all norm weights (others held fixed)
    norm_names = [n for n, _, k in param_specs() if k == "norm"]

    def f_norms(*ws):
        P = {k: torch.tensor(v) for k, v in params.items()}
        P.update(dict(zip(norm_names, ws)))
        return loss_fn(P, tokens_t, mask_t)[0]

    gc_ok = torch.autograd.gradcheck(
        f_norms, tuple(torch.tensor(params[n], requires_grad=True) for n in norm_names),
        eps=1e-6, atol=1e-7, rtol=1e-6)
    print("torch.autograd.gradcheck (all %d norm weights): %s" % (len(norm_names), gc_ok))

    ok = gc_ok and rel_np < 1e-12 and worst_rel < 1e-5 and rel_dir < 1e-6
    if not ok:
        print("SELF-CHECK FAILED", file=sys.stderr)
        sys.exit(1)

    # --- training trajectory
    print("AdamW trajectory:")
    traj = train(params, tokens_t, mask_t, kinds)
    print("traj =", " ".join("%.12f" % x for x in traj))

    # --- write
    savez_deterministic(os.path.join(OUT, "params.npz"), params)
    savez_deterministic(os.path.join(OUT, "batch.npz"), {"tokens": tokens, "mask": mask})
    exp = {"loss": np.array(loss, dtype=np.float64), "logits": logits}
    for name, _, _ in param_specs():
        exp["grad." + name] = grads[name]
    exp["traj"] = traj
    savez_deterministic(os.path.join(OUT, "expected.npz"), exp)
    with open(os.path.join(OUT, "config"), "w") as f:
        for k, v in CONFIG:
            f.write("%s = %s\n" % (k, v))
    print("wrote", OUT)


if __name__ == "__main__":
    main()
