#!/usr/bin/env python3
# nl — see LICENSE. Interop with numpy: .npy and .npz written by numpy survive
# nl-convert to .nlt and back, and numpy reads what nl writes.
#
# usage: python3 tests/interop/check_numpy.py BIN_DIR WORKDIR
# Prints "ok N - name" / "not ok N - name"; exits 1 on failure, 77 without numpy.

import io
import os
import subprocess
import sys
import zipfile


try:
    import numpy as np
except ImportError:
    print("skip: numpy not installed")
    sys.exit(77)

if len(sys.argv) != 3:
    print("usage: check_numpy.py BIN_DIR WORKDIR", file=sys.stderr)
    sys.exit(2)

BIN, WORK = sys.argv[1], sys.argv[2]
CONVERT = os.path.join(BIN, "nl-convert")
os.makedirs(WORK, exist_ok=True)

DTYPES = ["<f4", "<f8", "<f2", "|i1", "|u1", "<i2", "<u2", "<i4", "<u4", "<i8", "<u8", "|b1"]
SHAPES = [(), (5,), (2, 3), (2, 1, 3), (2, 3, 1, 4), (3, 0), (0, 2, 2)]

count = 0
failed = 0


def report(ok, name, detail=""):
    global count, failed
    count += 1
    if not ok:
        failed += 1
        for line in str(detail).splitlines():
            print("# " + line)
    print(("ok" if ok else "not ok") + " %d - %s" % (count, name))
    sys.stdout.flush()


def convert(*args, stdin=None):
    """Run nl-convert; returns (ok, stdout bytes, stderr text)."""
    p = subprocess.run([CONVERT, *args], input=stdin, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    return p.returncode == 0, p.stdout, p.stderr.decode(errors="replace")


def sample(descr, shape, seed):
    """Awkward values: extremes, NaN and infinities, -0.0, random bits."""
    rng = np.random.default_rng(seed)
    dt = np.dtype(descr)
    n = int(np.prod(shape, dtype=np.int64))
    if dt.kind == "b":
        a = rng.integers(0, 2, n).astype(bool)
    elif dt.kind == "f":
        a = rng.standard_normal(n).astype(dt) * dt.type(100)
        special = np.array([np.nan, np.inf, -np.inf, -0.0, np.finfo(dt).max, np.finfo(dt).tiny],
                           dtype=dt)
        k = min(n, len(special))
        a[:k] = special[:k]
    else:
        info = np.iinfo(dt)
        a = rng.integers(info.min, info.max, n, dtype=dt, endpoint=True)
        if n >= 2:
            a[0], a[1] = info.min, info.max
    return a.reshape(shape)


def same_array(a, b):
    """Dtype, shape and every bit (NaNs included) equal, as little-endian C order."""
    if a.shape != b.shape or a.dtype.newbyteorder("<") != b.dtype.newbyteorder("<"):
        return False, "got %s %s, wanted %s %s" % (b.dtype, b.shape, a.dtype, a.shape)
    le = a.dtype.newbyteorder("<")
    if np.ascontiguousarray(a, le).tobytes() != np.ascontiguousarray(b, le).tobytes():
        return False, "values differ"
    return True, ""


def npy_roundtrip(tag, a, expect_same_bytes):
    x = os.path.join(WORK, tag + ".npy")
    t = os.path.join(WORK, tag + ".nlt")
    y = os.path.join(WORK, tag + ".out.npy")
    np.save(x, a)
    ok, _, msg = convert(x, t)
    if ok:
        ok, _, msg = convert(t, y)
    if not ok:
        report(False, "npy %s" % tag, msg)
        return
    b = np.load(y)
    ok, msg = same_array(a, b)
    if ok and expect_same_bytes:
        with open(x, "rb") as f1, open(y, "rb") as f2:
            if f1.read() != f2.read():
                ok, msg = False, "bytes differ from numpy.save"
    report(ok, "npy %s" % tag, msg)
    for p in (x, t, y):
        os.unlink(p)


# (1) every dtype and rank: numpy -> nlt -> npy -> numpy, byte-identical to numpy.save
seed = 0
for descr in DTYPES:
    for shape in SHAPES:
        seed += 1
        tag = "%s_%s" % (np.dtype(descr).name, "x".join(map(str, shape)) or "scalar")
        npy_roundtrip(tag, sample(descr, shape, seed), True)

# arrays numpy stores differently: big-endian and Fortran order come back as C-order
# little-endian with the same values (not the same bytes)
npy_roundtrip("bigendian_i4", sample("<i4", (3, 4), 101).astype(">i4"), False)
npy_roundtrip("bigendian_f8", sample("<f8", (2, 5), 102).astype(">f8"), False)
npy_roundtrip("fortran_f4", np.asfortranarray(sample("<f4", (3, 4, 2), 103)), False)

# unsupported numpy dtypes are refused with a message, not mangled
for descr, want in (("<c8", "not supported"), ("<U3", "not supported")):
    x = os.path.join(WORK, "bad.npy")
    np.save(x, np.zeros(2, dtype=descr))
    ok, _, msg = convert(x, os.path.join(WORK, "bad.nlt"))
    report(not ok and want in msg, "npy %s refused" % descr, msg)
    os.unlink(x)

# through pipes: numpy bytes on stdin, npy on stdout (no seeking on either side)
buf = io.BytesIO()
a = sample("<f4", (4, 3), 200)
np.save(buf, a)
ok, nlt, msg = convert("-F", "nlt", "-", stdin=buf.getvalue())
if ok:
    ok, out, msg = convert("-F", "npy", "-", stdin=nlt)
if ok:
    ok = out == buf.getvalue()
    msg = "bytes differ from numpy.save"
report(ok, "npy through pipes", msg)


# (2) npz: savez and savez_compressed -> nlt -> npz -> numpy
def npz_arrays(seed):
    return {
        "embed.weight": sample("<f4", (4, 3), seed),
        "layers.0/w_q": sample("<f2", (2, 2, 2), seed + 1),
        "tokens": sample("<u2", (7,), seed + 2),
        "step": sample("<i8", (), seed + 3),
        "mask": sample("|b1", (3, 2), seed + 4),
        "empty": sample("<f8", (0, 3), seed + 5),
        "bytes": sample("|u1", (5,), seed + 6),
    }


def npz_check(tag, save):
    arrays = npz_arrays(300 + count)
    x = os.path.join(WORK, tag + ".npz")
    t = os.path.join(WORK, tag + ".nlt")
    y = os.path.join(WORK, tag + ".out.npz")
    z = os.path.join(WORK, tag + ".again.npz")
    save(x, **arrays)
    ok, _, msg = convert(x, t)
    if ok:
        ok, _, msg = convert(t, y)
    if not ok:
        report(False, "npz %s" % tag, msg)
        return
    with zipfile.ZipFile(y) as zf:
        bad = zf.testzip()
    if bad is not None:
        report(False, "npz %s" % tag, "zipfile: bad CRC in %s" % bad)
        return
    with np.load(y) as f:
        names = [n for n in f.files if n != "__metadata__.json"]
        ok, msg = names == list(arrays), "names %s, wanted %s" % (names, list(arrays))
        for n in arrays if ok else []:
            ok, msg = same_array(arrays[n], f[n])
            if not ok:
                msg = "%s: %s" % (n, msg)
                break
    # and nl's own output converts to the same bytes again
    if ok:
        ok, _, msg = convert(y, z)
    if ok:
        with open(y, "rb") as f1, open(z, "rb") as f2:
            ok, msg = f1.read() == f2.read(), "rewriting the npz changed its bytes"
    report(ok, "npz %s" % tag, msg)
    for p in (x, t, y, z):
        if os.path.exists(p):
            os.unlink(p)


npz_check("savez", np.savez)
npz_check("savez_compressed", np.savez_compressed)

# npz through pipes in both directions
buf = io.BytesIO()
arrays = npz_arrays(400)
np.savez_compressed(buf, **arrays)
ok, nlt, msg = convert("-F", "nlt", "-", stdin=buf.getvalue())
if ok:
    ok, out, msg = convert("-F", "npz", "-", stdin=nlt)
if ok:
    with np.load(io.BytesIO(out)) as f:
        for n in arrays:
            ok, msg = same_array(arrays[n], f[n])
            if not ok:
                break
report(ok, "npz through pipes", msg)



class Unseekable:
    """A pipe-like sink: zipfile then writes data descriptors after each member."""

    def __init__(self):
        self.buf = io.BytesIO()

    def write(self, b):
        return self.buf.write(b)

    def flush(self):
        pass

    def read(self, n=-1):  # numpy only checks that it exists
        raise OSError("write-only")

    def tell(self):
        raise OSError("unseekable")


for tag, save in (("savez", np.savez), ("savez_compressed", np.savez_compressed)):
    sink = Unseekable()
    arrays = npz_arrays(450)
    save(sink, **arrays)
    ok, nlt, msg = convert("-F", "nlt", "-", stdin=sink.buf.getvalue())
    if ok:
        ok, out, msg = convert("-F", "npz", "-", stdin=nlt)
    if ok:
        with np.load(io.BytesIO(out)) as f:
            for n in arrays:
                ok, msg = same_array(arrays[n], f[n])
                if not ok:
                    break
    report(ok, "npz %s to a pipe (data descriptors)" % tag, msg)

# a truncated npz is an error that says so
buf = io.BytesIO()
np.savez(buf, **npz_arrays(500))
data = buf.getvalue()
results = []
for cut in (10, len(data) // 2, len(data) - 30, len(data) - 1):
    ok, _, msg = convert("-F", "nlt", "-", stdin=data[:cut])
    results.append((ok, msg))
report(all(not ok and "unexpected end of file" in msg for ok, msg in results),
       "npz truncated", "\n".join(m for _, m in results))

print("%d passed, %d failed" % (count - failed, failed))
sys.exit(1 if failed else 0)
