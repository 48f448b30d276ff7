#!/usr/bin/env python3
# nl — see LICENSE. GGUF interop: gguf-py writes a file, nl-convert takes it to .nlt and back
# to .gguf, gguf-py reads the result; tensors must match exactly and KVs survive as strings.
# Usage: check_gguf.py BIN_DIR WORKDIR. Exit 0 pass, 1 fail, 77 skip (no gguf package).
import os
import subprocess
import sys

try:
    import numpy as np
    import gguf
except ImportError:
    print("skip: gguf python package not installed")
    sys.exit(77)

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
        if detail:
            for line in str(detail).splitlines():
                print(f"# {line}")


def convert(bin_dir, src, dst):
    r = subprocess.run([os.path.join(bin_dir, "nl-convert"), src, dst],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return r.returncode, r.stderr.strip()


def make_tensors(with_bf16):
    """(name, array to write, ggml type, raw type or None) in file order, ranks 0..4."""
    rng = np.random.default_rng(7)
    out = [
        ("tok_embd.weight", rng.standard_normal((5,)).astype(np.float32),
         gguf.GGMLQuantizationType.F32, None),
        ("blk.0.attn_q.weight", rng.standard_normal((3, 4)).astype(np.float16),
         gguf.GGMLQuantizationType.F16, None),
        ("blk.0.ids", rng.integers(-2**31, 2**31 - 1, (2, 3, 4), dtype=np.int32),
         gguf.GGMLQuantizationType.I32, None),
        ("blk.0.ffn.weight", rng.standard_normal((2, 1, 3, 2)).astype(np.float32),
         gguf.GGMLQuantizationType.F32, None),
        ("blk.0.scale", np.array(1.5, dtype=np.float32), gguf.GGMLQuantizationType.F32, None),
        ("blk.0.bytes", rng.integers(-128, 127, (7,), dtype=np.int8),
         gguf.GGMLQuantizationType.I8, None),
        ("blk.0.f64", rng.standard_normal((3, 3)), gguf.GGMLQuantizationType.F64, None),
    ]
    if with_bf16:
        # BF16 goes through raw_dtype with the bits in a uint16 array
        bits = (rng.standard_normal((4, 3)).astype(np.float32).view(np.uint32) >> 16)
        out.append(("blk.0.bf16", bits.astype(np.uint16), gguf.GGMLQuantizationType.BF16,
                    gguf.GGMLQuantizationType.BF16))
    return out


KVS_STRING = {"nl.test.name": "hello w\u00f6rld, again", "general.name": "interop"}


def write_input(path, tensors, alignment=None):
    w = gguf.GGUFWriter(path, arch="nltest")
    if alignment is not None:
        w.add_custom_alignment(alignment)
    for k, v in KVS_STRING.items():
        w.add_string(k, v)
    w.add_uint32("nl.test.count", 42)
    w.add_float32("nl.test.scale", 0.1)
    w.add_bool("nl.test.flag", True)
    w.add_array("nl.test.list", [1, 2, 3])
    w.add_array("nl.test.words", ["a", "b"])
    for name, arr, _, raw in tensors:
        w.add_tensor(name, arr, raw_dtype=raw)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


# What every KV of the input becomes: a STRING with this text.
EXPECT_KV = dict(KVS_STRING, **{
    "general.architecture": "nltest",
    "nl.test.count": "42",
    "nl.test.scale": "0.100000001",
    "nl.test.flag": "true",
    "nl.test.list": "1,2,3",
    "nl.test.words": "a,b",
})


def compare(path, tensors, tag):
    try:
        r = gguf.GGUFReader(path)
    except Exception as e:  # noqa: BLE001 - any failure to parse is the finding
        check(False, f"{tag}: gguf-py reads the result", e)
        return
    check(True, f"{tag}: gguf-py reads the result")
    got = [t.name for t in r.tensors]
    check(got == [t[0] for t in tensors], f"{tag}: tensor names and order", got)
    byname = {t.name: t for t in r.tensors}
    for name, arr, gtype, _ in tensors:
        t = byname.get(name)
        if t is None:
            check(False, f"{tag}: {name}", "missing")
            continue
        problems = []
        if t.tensor_type != gtype:
            problems.append(f"type {t.tensor_type!r}, want {gtype!r}")
        # gguf-py reports dims innermost first
        shape = tuple(int(x) for x in reversed(t.shape.tolist()))
        if shape != arr.shape:
            problems.append(f"shape {shape}, want {arr.shape}")
        data = np.asarray(t.data)
        if data.tobytes() != np.ascontiguousarray(arr).tobytes():
            problems.append("data differs")
        check(not problems, f"{tag}: {name} {gtype.name} {arr.shape}", "\n".join(problems))
    fields = {k: f for k, f in r.fields.items() if not k.startswith("GGUF.")}
    check("general.alignment" not in fields, f"{tag}: no general.alignment written")
    kv = {}
    for k, f in fields.items():
        if f.types != [gguf.GGUFValueType.STRING]:
            kv[k] = f"(type {f.types})"
        else:
            kv[k] = bytes(f.parts[f.data[0]]).decode("utf-8")
    check(kv == EXPECT_KV, f"{tag}: KVs come back as strings", f"got {kv}\nwant {EXPECT_KV}")


def round_trip(bin_dir, work, tag, tensors, alignment=None):
    src = os.path.join(work, f"{tag}.in.gguf")
    mid = os.path.join(work, f"{tag}.nlt")
    dst = os.path.join(work, f"{tag}.back.gguf")
    write_input(src, tensors, alignment)
    rc, err = convert(bin_dir, src, mid)
    check(rc == 0, f"{tag}: nl-convert gguf -> nlt", err)
    if rc != 0:
        return
    rc, err = convert(bin_dir, mid, dst)
    check(rc == 0, f"{tag}: nl-convert nlt -> gguf", err)
    if rc != 0:
        return
    compare(dst, tensors, tag)
    # the first conversion must be lossless too: nlt -> gguf -> nlt is byte identical
    again = os.path.join(work, f"{tag}.again.nlt")
    rc, err = convert(bin_dir, dst, again)
    same = rc == 0 and open(mid, "rb").read() == open(again, "rb").read()
    check(same, f"{tag}: nlt -> gguf -> nlt byte identical", err)


def canonical(bin_dir, work):
    """With only string KVs already in key order, our writer's bytes equal gguf-py's."""
    src = os.path.join(work, "canon.in.gguf")
    mid = os.path.join(work, "canon.nlt")
    dst = os.path.join(work, "canon.back.gguf")
    w = gguf.GGUFWriter(src, arch="nltest")  # general.architecture sorts first
    w.add_string("nl.a", "x")
    w.add_string("nl.b", "yy")
    w.add_tensor("a", np.arange(5, dtype=np.float32))
    w.add_tensor("s", np.array(2.5, dtype=np.float32))
    w.add_tensor("b", np.arange(6, dtype=np.int16).reshape(2, 3))
    w.add_tensor("e", np.zeros((0, 3), dtype=np.float32))
    w.add_tensor("c", np.arange(3, dtype=np.float64))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    rc1, err1 = convert(bin_dir, src, mid)
    rc2, err2 = convert(bin_dir, mid, dst) if rc1 == 0 else (1, "")
    same = rc2 == 0 and open(src, "rb").read() == open(dst, "rb").read()
    check(same, "canonical: same bytes as gguf-py", err1 or err2)


def main():
    if len(sys.argv) != 3:
        print("usage: check_gguf.py BIN_DIR WORKDIR", file=sys.stderr)
        return 2
    bin_dir, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    if not os.access(os.path.join(bin_dir, "nl-convert"), os.X_OK):
        check(False, "nl-convert exists", f"{bin_dir}/nl-convert is not executable")
        return 1
    has_bf16 = hasattr(gguf.GGMLQuantizationType, "BF16")
    if not has_bf16:
        print("# gguf package lacks BF16; not testing it")
    tensors = make_tensors(has_bf16)
    round_trip(bin_dir, work, "gguf", tensors)
    # a file with general.alignment = 64: offsets honoured, the key consumed
    round_trip(bin_dir, work, "gguf-align64", tensors, alignment=64)
    canonical(bin_dir, work)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
