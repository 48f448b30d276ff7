#!/usr/bin/env python3
"""Independent float64 PyTorch reference for nl's memory families `titans` and
`selfmod` (Titans LMM and the self-modifying Titans mixer, each followed by a
SwiGLU MLP), written from ../shared/docs/MODEL.md and nl.7's step rules only.

Writes tests/ref/memory/<family>/{config, params.npz, batch.npz, cases,
expected-<case>.npz}.  Regenerate with:

    /usr/bin/python3 tests/ref/gen_memory.py

The inner gradient of every write is taken by torch.autograd.grad with
create_graph=True (per-token copies of the chunk-start weights give the
per-token gradients), so `meta_grad = full` is autograd through the whole inner
loop, second-order terms included.  `first` and `none` are the truncations of
MODEL.md D6, written with detach().  Before writing, the script checks itself
(see tests/ref/README.md) and exits non-zero on failure.  Output is
byte-for-byte deterministic.
"""
import math
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_transformer import random_batch, savez_deterministic  # noqa: E402

torch.set_num_threads(1)
torch.set_default_dtype(torch.float64)

# ---------------------------------------------------------------- settings
V, D, L, H, F = 13, 8, 2, 2, 12
DH = D // H
T, B = 15, 2                 # 15 tokens: both chunk sizes end on a partial chunk
C_OTHER, C_MEM = 2, 4
ETA_MAX = 0.5
EPS = 1e-6
W1_STD = 0.5                 # memories' W1 ~ N(0, (0.5)^2 / d_h): they write from token 0

SEED_PARAMS = {"titans": 2024, "selfmod": 2025}
SEED_TOKENS = 4321
SEED_FD = 777
MASK_ZEROS = [(0, 3), (1, 14), (1, 7)]

HERE = os.path.dirname(os.path.abspath(__file__))

RULES = ["literal", "prox", "prox-chunk", "mean"]

# (file tag, meta_grad, inner_step, extra config overrides)
CASES = []
for _mode in ("full", "first", "none"):
    for _rule in ("literal", "prox-chunk+ema"):
        CASES.append(("%s-%s" % (_mode, _rule), _mode, _rule, {}))
for _rule in ("prox", "prox-chunk", "mean", "ema", "prox+ema", "mean+ema"):
    CASES.append(("full-%s" % _rule, "full", _rule, {}))
# chunk size 1: every write's gradient at the previous token's state, the token recurrence
CASES.append(("full-literal-c1", "full", "literal", {"chunk_memory": "1", "chunk_other": "1"}))
SELFMOD_EXTRA = [
    ("full-prox-chunk+ema-nomomentum", "full", "prox-chunk+ema", {"inner_momentum": "0"}),
    ("first-literal-noprojector", "first", "literal", {"projector": "0"}),
    ("full-prox-chunk+ema-adaptiveq", "full", "prox-chunk+ema", {"adaptive_q": "1"}),
    ("first-literal-adaptiveq", "first", "literal", {"adaptive_q": "1"}),
    ("none-prox-chunk+ema-adaptiveq", "none", "prox-chunk+ema", {"adaptive_q": "1"}),
]


def config_lines(family):
    return [
        ("model", family),
        ("vocab_size", str(V)),
        ("d_model", str(D)),
        ("layers", str(L)),
        ("heads", str(H)),
        ("mlp.hidden", str(F)),
        ("context", "16"),
        ("norm_eps", "1e-06"),
        ("chunk_memory", str(C_MEM)),
        ("chunk_other", str(C_OTHER)),
        ("eta_max", str(ETA_MAX)),
    ]


# ------------------------------------------------------------- parameters
def param_specs(family):
    """(name, shape, kind) in the fixed generation order."""
    s = [("embed.weight", (V, D), "embed")]
    for i in range(L):
        p = "layers.%d.mix." % i
        s.append((p + "norm.weight", (D,), "norm"))
        if family == "titans":
            for x in "qkv":
                s.append((p + "w_" + x, (D, D), "matrix"))
            for x in "qkv":
                s.append((p + "conv_" + x, (4, D), "conv"))
            s += [(p + "w_eta", (H, D), "matrix"), (p + "b_eta", (H,), "bias:0"),
                  (p + "w_beta", (H, D), "matrix"), (p + "b_beta", (H,), "bias:%r" % math.log(9)),
                  (p + "w_a", (H, D), "matrix"), (p + "b_a", (H,), "bias:%r" % math.log(49))]
            s += [(p + "m_mem.w1", (H, DH, DH), "w1"), (p + "m_mem.w2", (H, DH, DH), "w2")]
        else:
            s += [(p + "w_x", (D, D), "matrix"), (p + "conv", (4, D), "conv"),
                  (p + "w_q", (D, D), "matrix")]
            for u, dout in (("k", DH), ("v", DH), ("eta", 1), ("alpha", 1), ("mem", DH)):
                s += [(p + "m_%s.w1" % u, (H, dout, DH), "w1"),
                      (p + "m_%s.w2" % u, (H, DH, DH), "w2")]
            s += [(p + "b_alpha", (H,), "bias:%r" % math.log(49)),
                  (p + "b_beta", (H,), "bias:%r" % math.log(9))]
        s += [(p + "w_g", (D, D), "matrix"), (p + "w_o", (D, D), "matrix"),
              (p + "out_norm.weight", (D,), "norm")]
        m = "layers.%d.mlp." % i
        s += [(m + "norm.weight", (D,), "norm"), (m + "w_gate", (F, D), "matrix"),
              (m + "w_up", (F, D), "matrix"), (m + "w_down", (D, F), "matrix")]
    s.append(("norm.weight", (D,), "norm"))
    if family == "selfmod":     # M_q (adaptive_q = 1) last, so the draws above stay put
        for i in range(L):
            p = "layers.%d.mix." % i
            s += [(p + "m_q.w1", (H, DH, DH), "w1"), (p + "m_q.w2", (H, DH, DH), "w2")]
    return s


def write_inputs(out, params, tokens, mask, config):
    """A fixture directory's inputs: params.npz, batch.npz and the config lines."""
    savez_deterministic(os.path.join(out, "params.npz"), params)
    savez_deterministic(os.path.join(out, "batch.npz"), {"tokens": tokens, "mask": mask})
    with open(os.path.join(out, "config"), "w") as fh:
        for k, v in config:
            fh.write("%s = %s\n" % (k, v))


def finish(ok, wrote):
    """Exit non-zero when a self-check failed, else say where the fixtures went."""
    if not ok:
        print("SELF-CHECK FAILED", file=sys.stderr)
        sys.exit(1)
    print("wrote", wrote)


def init_params(specs, seed):
    """Draws in spec order from one RandomState: each kind around its initial value."""
    rs = np.random.RandomState(seed)
    out = {}
    for name, shape, kind in specs:
        z = rs.standard_normal(shape)
        if kind == "embed":
            w = z
        elif kind == "matrix":
            w = z / math.sqrt(shape[-1])
        elif kind == "norm":
            w = 1.0 + 0.1 * z
        elif kind == "conv":              # near identity: c[3] weighs the current token
            w = 0.3 * z
            w[3] += 1.0
        elif kind == "w1":
            w = z * W1_STD / math.sqrt(DH)
        elif kind == "w2":
            w = z / math.sqrt(DH)
        else:                             # gate bias around its initial value
            w = float(kind.split(":")[1]) + 0.5 * z
        out[name] = np.ascontiguousarray(w, dtype=np.float64)
    return out


def make_params(family):
    return init_params(param_specs(family), SEED_PARAMS[family])


def make_batch():
    return random_batch(SEED_TOKENS, V, B, T, MASK_ZEROS)


# ------------------------------------------------------------ building blocks
def silu(x):
    return x * torch.sigmoid(x)


def rmsnorm(x, w):
    return x / torch.sqrt((x * x).mean(dim=-1, keepdim=True) + EPS) * w


def l2norm(x):
    return x / torch.clamp(torch.linalg.norm(x, dim=-1, keepdim=True), min=1e-12)


def conv4(x, c):
    """Causal depthwise conv: out[t] = sum_j c[j] * x[t-3+j], zeros before 0."""
    b, t, d = x.shape
    xp = torch.cat([torch.zeros(b, 3, d), x], dim=1)
    return sum(c[j] * xp[:, j:j + t] for j in range(4))


def heads(x):                 # [B, T, D] -> [B, H, T, DH]
    return x.reshape(x.shape[0], x.shape[1], H, DH).transpose(1, 2)


def unheads(x):               # [B, H, T, DH] -> [B, T, D]
    return x.transpose(1, 2).reshape(x.shape[0], x.shape[2], D)


def mem_apply(w1, w2, z, resid):
    """M(z) = [z +] W1 silu(W2 z); w1 [B,H,dout,hid], w2 [B,H,hid,din], z [B,H,n,din]."""
    a = silu(torch.einsum("bhjd,bhnd->bhnj", w2, z))
    y = torch.einsum("bhij,bhnj->bhni", w1, a)
    return z + y if resid else y


class Memory:
    """One memory of every (sequence, head): state W1, W2, S1, S2 and its initial W."""

    def __init__(self, w1, w2, resid):
        self.w1 = w1.unsqueeze(0).expand(B, *w1.shape)
        self.w2 = w2.unsqueeze(0).expand(B, *w2.shape)
        self.w1_0, self.w2_0 = self.w1, self.w2
        self.s1 = torch.zeros_like(self.w1)
        self.s2 = torch.zeros_like(self.w2)
        self.resid = resid

    def read(self, z):
        return mem_apply(self.w1, self.w2, z, self.resid)


def inner_grads(w1, w2, k, vhat, resid):
    """Per-token gradients of 1/2 |M(k_t) - vhat_t|^2 at (w1, w2), by autograd on
    per-token copies of the weights, with the graph kept (second order); vhat is a
    constant inside the inner gradient but stays in the graph."""
    n = k.shape[2]
    with torch.enable_grad():                  # also inside the no-grad evaluations
        w1r = w1.unsqueeze(2).repeat(1, 1, n, 1, 1)
        w2r = w2.unsqueeze(2).repeat(1, 1, n, 1, 1)
        if not w1r.requires_grad:              # detached weights (first, or no grad)
            w1r.requires_grad_(True)
            w2r.requires_grad_(True)
        a = silu(torch.einsum("bhnjd,bhnd->bhnj", w2r, k))
        y = torch.einsum("bhnij,bhnj->bhni", w1r, a)
        if resid:
            y = y + k
        loss = 0.5 * ((y - vhat) ** 2).sum()
        g1, g2 = torch.autograd.grad(loss, (w1r, w2r), create_graph=torch.is_grad_enabled())
    return g1, g2


def curvature(w1, w2, k):
    """c_t = |a|^2 + |k|^2 sum_j silu'(h_j)^2 |W1[:, j]|^2 (nl.7), h = W2 k."""
    h = torch.einsum("bhjd,bhnd->bhnj", w2, k)
    s = torch.sigmoid(h)
    d1 = s * (1 + h * (1 - s))
    col = (w1 * w1).sum(dim=2)                                     # [B,H,hid]
    return (silu(h) ** 2).sum(-1) + (k * k).sum(-1) * (d1 * d1 * col.unsqueeze(2)).sum(-1)


def steps(rule, eta, cv, beta):
    base, ema = rule.split("+")[0], rule.endswith("ema")
    if base == "ema":
        base = "literal"
    n = eta.shape[2]
    if base == "literal":
        gam = eta
    elif base == "prox":
        gam = eta / (1 + eta * cv)
    elif base == "prox-chunk":
        gam = eta / (1 + (eta * cv).sum(dim=2, keepdim=True))
    elif base == "mean":
        gam = eta / n
    else:
        raise ValueError(rule)
    return (1 - beta) * gam if ema else gam


def write(mem, k, v, eta, alpha, beta, opt, target_is_self):
    """One chunk's write (MODEL §2.2 steps 4-5) of n = k.shape[2] tokens.
    k, v [B,H,n,DH]; eta, alpha, beta [B,H,n]."""
    mode, tape = opt["meta_grad"], opt.get("tape")
    # the chunk-start weights where the inner gradient (and selfmod's target) is taken
    if mode == "full":
        f1, f2 = mem.w1, mem.w2
    elif tape is not None and opt["replay"]:
        f1, f2 = tape[opt["idx"][0]][0:2]
    else:
        f1, f2 = mem.w1.detach(), mem.w2.detach()
    vhat = mem_apply(f1, f2, v, mem.resid) if target_is_self else v
    g1, g2 = inner_grads(f1, f2, k, vhat, mem.resid)
    cv = curvature(f1, f2, k)
    g = steps(opt["inner_step"], eta, cv, beta)
    w1, w2, s1, s2 = mem.w1, mem.w2, mem.s1, mem.s2
    for t in range(k.shape[2]):
        gt, at, bt, kt = g[:, :, t, None, None], alpha[:, :, t, None, None], \
            beta[:, :, t, None, None], k[:, :, t]
        s1 = bt * s1 - gt * g1[:, :, t]
        s2 = bt * s2 - gt * g2[:, :, t]
        proj = 0
        if opt["projector"]:
            w2k = torch.einsum("bhjd,bhd->bhj", w2, kt)
            proj = eta[:, :, t, None, None] * w2k.unsqueeze(-1) * kt.unsqueeze(-2)
        w1 = at * w1 + s1
        w2 = at * w2 - proj + s2
    if tape is not None:      # the recorded trajectory (see frozen_loss)
        if opt["replay"]:
            rec = tape[opt["idx"][0]]
        else:
            rec = (f1.detach(), f2.detach(), (w1 - mem.w1_0).detach(), (w2 - mem.w2_0).detach())
            tape.append(rec)
        opt["idx"][0] += 1
    if mode == "none":        # W_j = W_0 + sg(W_j - W_0)
        d1, d2 = (rec[2], rec[3]) if tape is not None and opt["replay"] else \
            ((w1 - mem.w1_0).detach(), (w2 - mem.w2_0).detach())
        w1, w2 = mem.w1_0 + d1, mem.w2_0 + d2
        s1, s2 = s1.detach(), s2.detach()
    mem.w1, mem.w2, mem.s1, mem.s2 = w1, w2, s1, s2


def out_proj(P, p, xn, o):
    on = unheads(rmsnorm(o, P[p + "out_norm.weight"].reshape(H, 1, DH)))
    gate = silu(xn @ P[p + "w_g"].t())
    return (on * gate) @ P[p + "w_o"].t()


def titans_mixer(P, p, x, opt):
    xn = rmsnorm(x, P[p + "norm.weight"])
    act = {c: silu(conv4(xn @ P[p + "w_" + c].t(), P[p + "conv_" + c])) for c in "qkv"}
    q, k, v = heads(l2norm_heads(act["q"])), heads(l2norm_heads(act["k"])), heads(act["v"])

    def gate(w, b):
        return torch.sigmoid(xn @ P[p + w].t() + P[p + b]).transpose(1, 2)   # [B,H,T]
    eta = ETA_MAX * gate("w_eta", "b_eta")
    beta = gate("w_beta", "b_beta")
    alpha = gate("w_a", "b_a")
    mem = Memory(P[p + "m_mem.w1"], P[p + "m_mem.w2"], True)
    outs = []
    titans_opt = dict(opt, projector=0)
    cm = opt["chunk_memory"]
    for c0 in range(0, T, cm):
        sl = slice(c0, min(c0 + cm, T))
        outs.append(mem.read(q[:, :, sl]))
        if sl.stop - c0 == cm:
            write(mem, k[:, :, sl], v[:, :, sl], eta[:, :, sl], alpha[:, :, sl],
                  beta[:, :, sl], titans_opt, False)
    return out_proj(P, p, xn, torch.cat(outs, dim=2))


def l2norm_heads(x):
    return unheads(l2norm(heads(x)))


def selfmod_mixer(P, p, x, opt):
    xn = rmsnorm(x, P[p + "norm.weight"])
    xc = conv4(xn @ P[p + "w_x"].t(), P[p + "conv"])
    X = heads(xc)
    units = ("k", "v", "eta", "alpha") + (("q",) if opt["adaptive_q"] else ())
    mems = {u: Memory(P[p + "m_%s.w1" % u], P[p + "m_%s.w2" % u], u in ("k", "v", "q", "mem"))
            for u in units + ("mem",)}
    co, cm = opt["chunk_other"], opt["chunk_memory"]
    b_alpha = P[p + "b_alpha"].reshape(1, H, 1)
    beta_h = torch.sigmoid(P[p + "b_beta"]).reshape(1, H, 1) if opt["inner_momentum"] \
        else torch.zeros(1, H, 1)
    # step 1-2 and the writes of M_k, M_v, M_eta, M_alpha every C_OTHER tokens
    K, Vv, ETA, ALP, Q = [], [], [], [], []
    for c0 in range(0, T, co):
        sl = slice(c0, min(c0 + co, T))
        n = sl.stop - c0
        k = l2norm(mems["k"].read(X[:, :, sl]))
        v = l2norm(mems["v"].read(X[:, :, sl]))
        eta = ETA_MAX * torch.sigmoid(mems["eta"].read(X[:, :, sl])[..., 0])
        alpha = torch.sigmoid(mems["alpha"].read(X[:, :, sl])[..., 0] + b_alpha)
        K.append(k), Vv.append(v), ETA.append(eta), ALP.append(alpha)
        if opt["adaptive_q"]:       # q = l2norm(M_q(x')), MODEL §1.2 switches
            Q.append(l2norm(mems["q"].read(X[:, :, sl])))
        if n == co:
            beta = beta_h.expand(B, H, n)
            for u in units:
                write(mems[u], k, v, eta, alpha, beta, opt, True)
    K, Vv, ETA, ALP = (torch.cat(z, dim=2) for z in (K, Vv, ETA, ALP))
    q = torch.cat(Q, dim=2) if opt["adaptive_q"] else heads(l2norm_heads(xc @ P[p + "w_q"].t()))
    # M_mem: reads of q at its chunk-start state, writes every C_MEM tokens
    outs = []
    for c0 in range(0, T, cm):
        sl = slice(c0, min(c0 + cm, T))
        n = sl.stop - c0
        outs.append(mems["mem"].read(q[:, :, sl]))
        if n == cm:
            write(mems["mem"], K[:, :, sl], Vv[:, :, sl], ETA[:, :, sl], ALP[:, :, sl],
                  beta_h.expand(B, H, n), opt, True)
    return out_proj(P, p, xn, torch.cat(outs, dim=2))


def forward(family, P, inputs, opt):
    # a one-hot product rather than indexing: the embedding's backward then sums in a
    # fixed order and the fixtures are byte-identical on rerun
    h = torch.nn.functional.one_hot(inputs, V).to(torch.get_default_dtype()) @ P["embed.weight"]
    mixer = titans_mixer if family == "titans" else selfmod_mixer
    for i in range(L):
        h = h + mixer(P, "layers.%d.mix." % i, h, opt)
        m = "layers.%d.mlp." % i
        z = rmsnorm(h, P[m + "norm.weight"])
        h = h + (silu(z @ P[m + "w_gate"].t()) * (z @ P[m + "w_up"].t())) @ P[m + "w_down"].t()
    return rmsnorm(h, P["norm.weight"]) @ P["embed.weight"].t()


def loss_fn(family, P, tokens, mask, opt):
    logits = forward(family, P, tokens[:, :T], opt)
    ce = torch.nn.functional.cross_entropy(logits.reshape(-1, V), tokens[:, 1:].reshape(-1),
                                           reduction="none")
    m = mask.reshape(-1).to(torch.get_default_dtype())
    return (ce * m).sum() / m.sum(), logits


def options(mode, rule, extra):
    opt = {"meta_grad": mode, "inner_step": rule, "inner_momentum": 1, "projector": 1,
           "adaptive_q": 0, "chunk_memory": C_MEM, "chunk_other": C_OTHER}
    for k, v in extra.items():
        opt[k] = int(v)
    return opt


# ------------------------------------------------- the truncated objectives
def loss_and_grad(family, params, tokens, mask, opt):
    P = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    loss, logits = loss_fn(family, P, tokens, mask, opt)
    names = list(P)
    grads = torch.autograd.grad(loss, [P[k] for k in names], allow_unused=True)
    return loss.item(), logits.detach().numpy().copy(), \
        {k: np.zeros_like(params[k]) if g is None else g.numpy().copy()
         for k, g in zip(names, grads)}


def loss_only(family, params, tokens, mask, opt):
    with torch.no_grad():
        P = {k: torch.tensor(v) for k, v in params.items()}
        return loss_fn(family, P, tokens, mask, opt)[0].item()


def frozen_objective(family, params0, tokens, mask, opt):
    """The truncated objective of meta_grad = first / none as a plain function of the
    parameters: every stop-gradient value is recorded once at params0 and replayed, so
    its finite differences are the truncated gradient's (for full, the loss itself)."""
    tape = []
    rec = dict(opt, tape=tape, replay=False, idx=[0])
    with torch.no_grad():
        P = {k: torch.tensor(v) for k, v in params0.items()}
        loss_fn(family, P, tokens, mask, rec)

    def f(params):
        return loss_only(family, params, tokens, mask, dict(opt, tape=tape, replay=True, idx=[0]))
    return f, tape


def check_inner_grads():
    """Autograd's per-token inner gradients equal the closed form of MODEL §2.2:
    G1 = e a^T, G2 = delta k^T, delta = (W1^T e) * silu'(h)."""
    rs = np.random.RandomState(5)
    w1 = torch.tensor(rs.standard_normal((B, H, DH, DH)))
    w2 = torch.tensor(rs.standard_normal((B, H, DH, DH)))
    k = torch.tensor(rs.standard_normal((B, H, 3, DH)))
    vh = torch.tensor(rs.standard_normal((B, H, 3, DH)))
    g1, g2 = inner_grads(w1, w2, k, vh, True)
    h = torch.einsum("bhjd,bhnd->bhnj", w2, k)
    a, s = silu(h), torch.sigmoid(h)
    e = k + torch.einsum("bhij,bhnj->bhni", w1, a) - vh
    delta = torch.einsum("bhij,bhni->bhnj", w1, e) * s * (1 + h * (1 - s))
    c1 = e.unsqueeze(-1) * a.unsqueeze(-2)
    c2 = delta.unsqueeze(-1) * k.unsqueeze(-2)
    return max(float((g1 - c1).abs().max()), float((g2 - c2).abs().max()))


# names that only feed writes: with meta_grad = none their gradient is exactly zero
def write_only(family, name):
    if family == "titans":
        return any(name.endswith(x) for x in ("w_k", "w_v", "conv_k", "conv_v", "w_eta",
                                                "b_eta", "w_beta", "b_beta", "w_a", "b_a"))
    return any(x in name for x in ("m_k.", "m_v.", "m_eta.", "m_alpha.", "b_alpha", "b_beta"))


def self_check(family, specs, params, tokens, mask, tag, opt, loss, grads, rs):
    """Finite differences of the (truncated) objective against autograd; returns ok."""
    f, _ = frozen_objective(family, params, tokens, mask, opt)
    base = f(params)
    ok = abs(base - loss) <= 1e-13 * abs(loss)
    hstep, worst, nz = 1e-5, 0.0, []
    ncoord = 3 if tag in ("full-literal", "first-literal", "none-literal",
                          "full-prox-chunk+ema") else 1
    for name, shape, _ in specs:
        n = int(np.prod(shape))
        for flat in rs.choice(n, size=min(ncoord, n), replace=False):
            idx = np.unravel_index(flat, shape)
            pp = {k: v.copy() for k, v in params.items()}
            pp[name][idx] += hstep
            lp = f(pp)
            pp[name][idx] -= 2 * hstep
            lm = f(pp)
            fd = (lp - lm) / (2 * hstep)
            g = grads[name][idx]
            # relative, with a floor: FD's rounding noise (~1e-11) swamps tiny gradients
            worst = max(worst, abs(fd - g) / max(abs(fd), abs(g), 1e-4))
    # directional derivative over all parameters
    dirs = {k: rs.standard_normal(v.shape) for k, v in params.items()}
    dn = math.sqrt(sum(float(np.sum(x * x)) for x in dirs.values()))
    dd = sum(float(np.sum(grads[k] * dirs[k])) for k in params) / dn
    fdd = (f({k: params[k] + hstep * dirs[k] / dn for k in params})
           - f({k: params[k] - hstep * dirs[k] / dn for k in params})) / (2 * hstep)
    rel_dir = abs(fdd - dd) / max(abs(dd), 1e-12)
    for name, _, _ in specs:
        zero = not np.any(grads[name])
        unused = (not opt["inner_momentum"] and name.endswith("b_beta")) or \
            (opt["adaptive_q"] and name.endswith("w_q")) or \
            (not opt["adaptive_q"] and ".m_q." in name)
        if unused:                         # not in nl's layout for this case
            wrong = not zero
        elif opt["meta_grad"] == "none":
            wrong = write_only(family, name) != zero
        else:
            wrong = opt["meta_grad"] == "full" and zero
        if wrong:
            nz.append(name)
    ok = ok and worst < 1e-5 and rel_dir < 1e-7 and not nz
    print("  %-32s loss %.15f  fd worst rel %.2e  directional rel %.2e%s"
          % (tag, loss, worst, rel_dir, "  ZERO/NONZERO WRONG: %s" % nz if nz else ""))
    return ok


def main():
    ok = True
    err = check_inner_grads()
    print("torch %s numpy %s; autograd inner gradients vs closed form: max abs %.2e"
          % (torch.__version__, np.__version__, err))
    ok = ok and err < 1e-12
    tokens, mask = make_batch()
    tokens_t = torch.tensor(tokens.astype(np.int64))
    mask_t = torch.tensor(mask)
    for family in ("titans", "selfmod"):
        out = os.path.join(HERE, "memory", family)
        os.makedirs(out, exist_ok=True)
        specs = param_specs(family)
        params = make_params(family)
        rs = np.random.RandomState(SEED_FD)
        cases = CASES + (SELFMOD_EXTRA if family == "selfmod" else [])
        print(family)
        index, first_logits = [], None
        for tag, mode, rule, extra in cases:
            opt = options(mode, rule, extra)
            loss, logits, grads = loss_and_grad(family, params, tokens_t, mask_t, opt)
            ok = self_check(family, specs, params, tokens_t, mask_t, tag, opt, loss, grads,
                            rs) and ok
            if not extra and rule == "literal":
                # the forward does not depend on meta_grad
                if first_logits is None:
                    first_logits = logits
                ok = ok and np.allclose(first_logits, logits, rtol=1e-12, atol=1e-12)
            exp = {"loss": np.array(loss, dtype=np.float64), "logits": logits}
            for name, _, _ in specs:
                exp["grad." + name] = grads[name]
            fname = "expected-%s.npz" % tag
            savez_deterministic(os.path.join(out, fname), exp)
            ov = ["meta_grad=" + mode, "inner_step=" + rule] + \
                ["%s=%s" % kv for kv in sorted(extra.items())]
            index.append(fname + " " + " ".join(ov))
        write_inputs(out, params, tokens, mask, config_lines(family))
        with open(os.path.join(out, "cases"), "w") as fh:
            fh.write("\n".join(index) + "\n")
    finish(ok, os.path.join(HERE, "memory"))


if __name__ == "__main__":
    main()
