#!/usr/bin/env python3
"""Independent float64 numpy reference for nl's outer optimizers (MODEL.md §2.4, D12),
written from the equations only: six steps of each rule on a 2×3 matrix and a 3×2 one
(weight-decayed dense projections: muon and m3 orthogonalise them, and muon scales the tall
one by √(3/2)) and a 3-vector (a norm weight: no decay, AdamW's step in muon and m3), from
fixed gradients.

Writes tests/ref/optim/expected.npz.  Regenerate with:

    /usr/bin/python3 tests/ref/gen_optim.py

Output is byte-for-byte deterministic.
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_transformer import savez_deterministic  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
STEPS = 6
HP = dict(lr=0.1, wd=0.1, mu=0.9, beta1=0.9, beta2=0.95, eps=1e-8, ns_steps=5, period=2,
          beta3=0.9, alpha3=1.0, lam=0.5, hidden=2)
NAMES = ["sgd", "momentum", "adamw", "muon", "m3", "m3-ema", "delta-momentum",
         "delta-momentum-adam", "dmgd"]


def ns(x, steps):
    """Cubic Newton-Schulz after Frobenius normalisation."""
    f = np.linalg.norm(x)
    if f == 0:
        return np.zeros_like(x)
    X = x / f
    for _ in range(steps):
        X = 1.5 * X - 0.5 * X @ X.T @ X
    return X


def silu(z):
    return z / (1 + np.exp(-z))


def dsilu(z):
    s = 1 / (1 + np.exp(-z))
    return s * (1 + z * (1 - s))


class Adam:
    def __init__(self, shape):
        self.m, self.v = np.zeros(shape), np.zeros(shape)

    def step(self, w, g, t, wd):
        h = HP
        self.m = h["beta1"] * self.m + (1 - h["beta1"]) * g
        self.v = h["beta2"] * self.v + (1 - h["beta2"]) * g * g
        mh = self.m / (1 - h["beta1"] ** t)
        vh = self.v / (1 - h["beta2"] ** t)
        return w - h["lr"] * (mh / (np.sqrt(vh) + h["eps"]) + wd * w)


def run(name, w0, g_seq, wa0, is_matrix):
    """Parameters after each step of rule `name` on one tensor."""
    h = HP
    lr, wd = h["lr"], (h["wd"] if is_matrix else 0.0)
    w = w0.copy()
    W = w.reshape(-1, w.shape[-1])
    out = []
    m = np.zeros_like(W)
    v = np.zeros_like(W)
    m2 = np.zeros_like(W)
    gsum = np.zeros_like(W)
    o2 = np.zeros_like(W)
    adam = Adam(W.shape)
    wa, wb = wa0.copy(), np.zeros((W.shape[1], h["hidden"]))
    for t in range(1, STEPS + 1):
        g = g_seq[t - 1].reshape(W.shape)
        fallback = name in ("muon", "m3", "m3-ema") and not is_matrix
        if name == "adamw" or fallback:
            W = adam.step(W, g, t, wd)
            out.append(W.reshape(w0.shape).copy())
            continue
        W = W - lr * wd * W                      # decoupled weight decay
        if name == "sgd":
            W = W - lr * g
        elif name == "momentum":
            m = h["mu"] * m - lr * g
            W = W + m
        elif name == "muon":
            m = h["mu"] * m + g
            r, c = W.shape
            W = W - lr * np.sqrt(max(1.0, r / c)) * ns(m, h["ns_steps"])
        elif name in ("m3", "m3-ema"):
            if name == "m3":                     # Algorithm 1: sums
                m = m + h["beta1"] * g
                v = v + h["beta2"] * g * g
                vh = v
            else:                                # EMA variant, V bias-corrected
                m = h["beta1"] * m + (1 - h["beta1"]) * g
                v = h["beta2"] * v + (1 - h["beta2"]) * g * g
                vh = v / (1 - h["beta2"] ** t)
            gsum = gsum + g
            o1 = ns(m, h["ns_steps"])
            W = W - lr * (o1 + h["alpha3"] * o2) / (np.sqrt(vh) + h["eps"])
            if t % h["period"] == 0:             # the slow momentum, used in the next period
                if name == "m3":
                    m2 = m2 + h["beta3"] * gsum
                else:
                    m2 = h["beta3"] * m2 + (1 - h["beta3"]) * gsum / h["period"]
                gsum = np.zeros_like(W)
                o2 = ns(m2, h["ns_steps"])
        elif name.startswith("delta-momentum"):
            gf, mf = g.reshape(-1), m.reshape(-1)
            gh = gf / np.linalg.norm(gf)
            pg = gf
            if name.endswith("adam"):
                vf = v.reshape(-1)
                vf = h["beta2"] * vf + (1 - h["beta2"]) * gf * gf
                v = vf.reshape(W.shape)
                pg = gf / (np.sqrt(vf / (1 - h["beta2"] ** t)) + h["eps"])
            # m(αI − λ ĝĝᵀ) − η P g on the flattened parameter
            mf = h["mu"] * mf - h["lam"] * (mf @ gh) * gh - lr * pg
            m = mf.reshape(W.shape)
            W = W + m
        elif name == "dmgd":
            # inner objective Σ_r <φ0_r + W_b σ(W_a g_r), g_r>, one step on φ, then read
            z = g @ wa.T                          # [r, h]
            a = silu(z)
            d_wb = g.T @ a                        # Σ_r g_r a_rᵀ        [c, h]
            d_wa = ((g @ wb) * dsilu(z)).T @ g    # Σ_r (W_bᵀg_r ⊙ σ') g_rᵀ  [h, c]
            m = h["mu"] * m - lr * g              # φ0
            wa = h["mu"] * wa - lr * d_wa
            wb = h["mu"] * wb - lr * d_wb
            W = W + m + silu(g @ wa.T) @ wb.T
        else:
            raise ValueError(name)
        out.append(W.reshape(w0.shape).copy())
    return np.stack(out)


def main():
    rs = np.random.RandomState(2718)
    w0 = rs.standard_normal((2, 3))
    n0 = 1 + 0.1 * rs.standard_normal(3)
    gw = rs.standard_normal((STEPS, 2, 3))
    gn = rs.standard_normal((STEPS, 3))
    wa_w = rs.standard_normal((HP["hidden"], 3)) / np.sqrt(3)
    wa_n = rs.standard_normal((HP["hidden"], 3)) / np.sqrt(3)
    t0 = rs.standard_normal((3, 2))
    gt = rs.standard_normal((STEPS, 3, 2))
    wa_t = rs.standard_normal((HP["hidden"], 2)) / np.sqrt(2)
    exp = {"w0": w0, "n0": n0, "g.w": gw, "g.n": gn, "dmgd.wa.w": wa_w, "dmgd.wa.n": wa_n,
           "t0": t0, "g.t": gt, "dmgd.wa.t": wa_t}
    for k, v in HP.items():
        exp["hp." + k] = np.array(float(v))
    for name in NAMES:
        exp[name + ".w"] = run(name, w0, gw, wa_w, True)
        exp[name + ".n"] = run(name, n0, gn, wa_n, False)
        exp[name + ".t"] = run(name, t0, gt, wa_t, True)
    # self-checks: NS output is orthogonal; delta momentum with λ = 0 is momentum
    o = ns(rs.standard_normal((5, 3)), 30)
    ok = np.abs(o.T @ o - np.eye(3)).max() < 1e-12
    lam, HP["lam"] = HP["lam"], 0.0
    ok = ok and np.allclose(run("delta-momentum", w0, gw, wa_w, True),
                            run("momentum", w0, gw, wa_w, True), rtol=0, atol=1e-15)
    HP["lam"] = lam
    if not ok:
        sys.exit("SELF-CHECK FAILED")
    out = os.path.join(HERE, "optim")
    os.makedirs(out, exist_ok=True)
    savez_deterministic(os.path.join(out, "expected.npz"), exp)
    print("wrote", out)


if __name__ == "__main__":
    main()
