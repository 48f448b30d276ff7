#!/usr/bin/env python3
# nl — see LICENSE. Interop: a file written by the Python safetensors package goes through
# nl-convert to .nlt and back, and the package reads back the same tensors and metadata.
# Usage: check_safetensors.py BIN_DIR WORKDIR; exit 0 pass, 1 fail, 77 skip, 2 usage.
import os
import struct
import subprocess
import sys

count = 0
failed = 0


def check(cond, name, detail=""):
    global count, failed
    count += 1
    if cond:
        print(f"ok {count} - {name}")
    else:
        failed += 1
        print(f"not ok {count} - {name}")
        for line in str(detail).splitlines():
            print(f"# {line}")
    sys.stdout.flush()
    return cond


def run(argv):
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return p.returncode, p.stderr.decode("utf-8", "replace")


def tensors(np):
    """Several dtypes, ranks 0..4, awkward values; compared bit for bit."""
    rng = np.random.default_rng(20240601)
    half = np.array([0.0, -0.0, 1.0, -2.5, 65504.0, np.inf, -np.inf, np.nan, 6e-8],
                    dtype=np.float16)
    return {
        "scalar.f32": np.array(3.25, dtype=np.float32),
        "scalar.bool": np.array(True),
        "vec.f16": half,
        "vec.f64": np.array([np.pi, -0.0, 1e308, 5e-324], dtype=np.float64),
        "mat.i64": np.array([[np.iinfo(np.int64).min, -1, 0],
                             [1, 2, np.iinfo(np.int64).max]], dtype=np.int64),
        "mat.f32": rng.standard_normal((4, 5)).astype(np.float32),
        "cube.u8": rng.integers(0, 256, size=(2, 3, 4), dtype=np.uint8),
        "cube.i8": rng.integers(-128, 128, size=(3, 1, 2), dtype=np.int8),
        "t4.bool": rng.integers(0, 2, size=(2, 1, 3, 2)).astype(np.bool_),
        "t4.i16": rng.integers(-32768, 32768, size=(1, 2, 2, 3), dtype=np.int16),
        "layers.0.i32": rng.integers(-2**31, 2**31, size=(7,), dtype=np.int32),
        "layers.0.u16": rng.integers(0, 2**16, size=(3, 3), dtype=np.uint16),
        "layers.0.u32": rng.integers(0, 2**32, size=(5,), dtype=np.uint32),
        "layers.0.u64": np.array([0, 2**64 - 1, 12345678901234567890], dtype=np.uint64),
        "empty.f32": np.zeros((0, 3), dtype=np.float32),
    }


def compare(np, want, got, label):
    ok = check(sorted(want) == sorted(got), f"{label}: same tensor names",
               f"want {sorted(want)}\ngot  {sorted(got)}")
    if not ok:
        return
    bad = []
    for name, a in want.items():
        b = got[name]
        if a.dtype != b.dtype or a.shape != b.shape:
            bad.append(f"{name}: {a.dtype}{a.shape} became {b.dtype}{b.shape}")
        elif a.tobytes() != b.tobytes():
            bad.append(f"{name}: values differ")
    check(not bad, f"{label}: dtypes, shapes and values identical", "\n".join(bad))


def header(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        return n, f.read(n)


def main():
    if len(sys.argv) != 3:
        print("usage: check_safetensors.py BIN_DIR WORKDIR", file=sys.stderr)
        return 2
    try:
        import numpy as np
        import safetensors.numpy as stn
        from safetensors import safe_open
    except ImportError:
        print("skip: safetensors python package not installed")
        return 77
    bindir, work = sys.argv[1], sys.argv[2]
    conv = os.path.join(bindir, "nl-convert")
    if not check(os.access(conv, os.X_OK), "nl-convert is built", f"{conv} missing"):
        return 1
    os.makedirs(work, exist_ok=True)
    src = os.path.join(work, "in.safetensors")
    mid = os.path.join(work, "mid.nlt")
    out = os.path.join(work, "out.safetensors")
    for p in (mid, out):
        if os.path.exists(p):
            os.unlink(p)

    want = tensors(np)
    meta = {"format": "np", "nl.note": "caf\u00e9 \u20ac \"quoted\" back\\slash\nnew line"}
    stn.save_file(want, src, metadata=meta)

    rc, err = run([conv, src, mid])
    check(rc == 0 and os.path.exists(mid), "nl-convert safetensors -> nlt", err)
    rc, err = run([conv, mid, out])
    check(rc == 0 and os.path.exists(out), "nl-convert nlt -> safetensors", err)
    if not os.path.exists(out):
        return 1

    try:
        got = stn.load_file(out)
    except Exception as e:  # the package's own validation is part of the test
        check(False, "safetensors.numpy.load_file accepts the output", repr(e))
        return 1
    check(True, "safetensors.numpy.load_file accepts the output")
    compare(np, want, got, "round trip")

    with safe_open(out, framework="np") as f:
        got_meta = f.metadata()
    check(got_meta == meta, "metadata survives", f"want {meta!r}\ngot  {got_meta!r}")

    n, hdr = header(out)
    check((8 + n) % 8 == 0 and hdr.rstrip(b" ").endswith(b"}"),
          "header space-padded to an 8-byte boundary", f"header length {n}")

    # One metadata key, so the package's unordered map cannot reorder it: then nl writes
    # exactly the bytes the reference implementation wrote.
    src1 = os.path.join(work, "one.safetensors")
    mid1 = os.path.join(work, "one.nlt")
    out1 = os.path.join(work, "one.out.safetensors")
    stn.save_file(want, src1, metadata={"format": "np"})
    rc1, err1 = run([conv, src1, mid1])
    rc2, err2 = run([conv, mid1, out1])
    same = False
    if rc1 == 0 and rc2 == 0:
        with open(src1, "rb") as a, open(out1, "rb") as b:
            same = a.read() == b.read()
    check(same, "re-export is byte-identical to the package's file", err1 + err2)

    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
