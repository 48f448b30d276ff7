#!/usr/bin/env python3
# nl — see LICENSE. PyTorch peer of one training step of nl's memory families (`titans`, `selfmod`):
# the model of tests/ref/gen_memory.py — the float64 reference nl is tested against — at a given shape
# in float32: forward, mean cross-entropy, backward through every write (meta_grad full: autograd with
# create_graph through the inner gradients). Its writes loop over tokens in Python, as the published
# PyTorch implementations of Titans-style memories do outside their fused kernels.
#
# Prints '#' comment lines and one TSV row: family d layers heads hidden seq batch threads median_ms
# min_ms max_ms tok_s (forward + backward, no optimizer step; bench/memory compares it with the same
# phases of build/bench/step).
import argparse
import os
import statistics
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "ref"))
import gen_memory as ref  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("family", choices=["titans", "selfmod"])
    p.add_argument("--d", type=int, default=256)
    p.add_argument("--layers", type=int, default=6)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--hidden", type=int, default=1376)
    p.add_argument("--vocab", type=int, default=257)
    p.add_argument("--seq", type=int, default=512)
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--chunk-memory", type=int, default=64)
    p.add_argument("--chunk-other", type=int, default=8)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--steps", type=int, default=3)
    a = p.parse_args()

    torch.set_num_threads(a.threads)
    torch.set_default_dtype(torch.float32)
    # the reference reads its shapes from module globals
    ref.V, ref.D, ref.L, ref.H, ref.F = a.vocab, a.d, a.layers, a.heads, a.hidden
    ref.DH, ref.T, ref.B, ref.ETA_MAX = a.d // a.heads, a.seq, a.batch, 0.2
    params = {k: torch.tensor(v, dtype=torch.float32, requires_grad=True)
              for k, v in ref.make_params(a.family).items()}
    opt = ref.options("full", "prox-chunk+ema", {})
    opt.update(chunk_memory=a.chunk_memory, chunk_other=a.chunk_other)

    def step(params, tokens, mask):
        loss, _ = ref.loss_fn(a.family, params, tokens, mask, opt)
        return loss, torch.autograd.grad(loss, list(params.values()), allow_unused=True)
    time_steps(a, params, step)


def time_steps(a, params, step):
    """Times a.steps calls of step(params, tokens, mask) -> (loss, grads) after a warm-up
    call, on a seeded batch of a.batch × a.seq tokens, and prints the TSV row."""
    rs = np.random.RandomState(1)
    tokens = torch.tensor(rs.randint(0, a.vocab, size=(a.batch, a.seq + 1)).astype(np.int64))
    mask = torch.ones(a.batch, a.seq, dtype=torch.uint8)
    times = []
    for s in range(a.steps + 1):
        t0 = time.perf_counter()
        loss, grads = step(params, tokens, mask)
        dt = (time.perf_counter() - t0) * 1e3
        if s == 0:
            print("# warm-up step: loss %.4f (ln V = %.4f), %.0f ms" % (loss.item(),
                  np.log(a.vocab), dt))
            if not all(torch.isfinite(g).all() for g in grads if g is not None):
                sys.exit("%s: non-finite gradient" % os.path.basename(sys.argv[0]))
            continue
        times.append(dt)
    med = statistics.median(times)
    print("\t".join(str(x) for x in (a.family, a.d, a.layers, a.heads, a.hidden, a.seq, a.batch,
                                      a.threads, "%.0f" % med, "%.0f" % min(times),
                                      "%.0f" % max(times), "%.0f" % (a.seq * a.batch / med * 1e3))))

if __name__ == "__main__":
    main()
