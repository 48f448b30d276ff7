#!/usr/bin/env python3
# nl — see LICENSE. The Hugging Face `tokenizers` side of bench/tokenize: byte-level BPE trained,
# encoded and decoded on one thread, timed with time.perf_counter around the library calls only.
# Usage: tokenize_hf.py TEXT VOCAB WORKDIR
# Prints one line on stdout: hf VOCAB train_s encode_MBps decode_MBps bytes_per_token tokens
# decoded_bytes, then "#"-lines saying what was timed; progress goes to stderr.
#
# TEXT is read as bytes; the library only takes Python str (Rust String), so invalid UTF-8 is
# replaced by U+FFFD (errors="replace") and the result, written to WORKDIR/text.utf8, is what the
# trainer reads. Rates are counted on the original byte count of TEXT.
import os
import sys
import time

os.environ.setdefault("RAYON_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers  # noqa: E402
import tokenizers  # noqa: E402


def best_of(fn, slow=20.0):
    """Run fn; if it took under `slow` seconds, twice more. Return (best seconds, last result)."""
    t = time.perf_counter()
    r = fn()
    best = time.perf_counter() - t
    if best < slow:
        for _ in range(2):
            t = time.perf_counter()
            r = fn()
            best = min(best, time.perf_counter() - t)
    return best, r


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: tokenize_hf.py TEXT VOCAB WORKDIR")
    path, vocab, work = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    raw = open(path, "rb").read()
    nbytes = len(raw)
    text = raw.decode("utf-8", errors="replace")
    bad = text.count("\ufffd") - raw.decode("utf-8", errors="ignore").count("\ufffd")
    utf8 = os.path.join(work, "text.utf8")
    with open(utf8, "w", encoding="utf-8", newline="") as f:
        f.write(text)
    notes = []
    if bad:
        notes.append("hf: %d invalid UTF-8 sequence(s) replaced by U+FFFD (the library takes str only)" % bad)

    # training, from the file, as ByteLevelBPETokenizer does it: 256 byte symbols + <eot> + merges
    def train():
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(vocab_size=vocab, show_progress=False,
                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                      special_tokens=["<eot>"])
        tok.train([utf8], trainer)
        return tok

    print("hf %d: training" % vocab, file=sys.stderr)
    train_s, tok = best_of(train)
    tok.save(os.path.join(work, "hf%d.json" % vocab))
    if tok.get_vocab_size() != vocab:
        notes.append("hf: vocabulary came out at %d ids, not %d" % (tok.get_vocab_size(), vocab))

    # encoding: three ways of calling the library on the same text, each excluding file reading;
    # the fastest gives the encode MB/s
    lines = text.splitlines(keepends=True)
    chunks, cur, size = [], [], 0
    for line in lines:  # about 1 MB pieces, cut after a line end
        cur.append(line)
        size += len(line)
        if size >= 1 << 20:
            chunks.append("".join(cur))
            cur, size = [], 0
    if cur:
        chunks.append("".join(cur))
    ways = {
        "encode_batch(lines)": lambda: tok.encode_batch(lines, add_special_tokens=False),
        "encode(1MB chunks)": lambda: [tok.encode(c, add_special_tokens=False) for c in chunks],
    }
    if hasattr(tok, "encode_batch_fast"):
        ways["encode_batch_fast(lines)"] = lambda: tok.encode_batch_fast(lines, add_special_tokens=False)
    times = {}
    for name, fn in ways.items():  # best of 3 each; keep the ids of two of them
        print("hf %d: %s" % (vocab, name), file=sys.stderr)
        times[name], r = best_of(fn)
        if name == "encode_batch(lines)":
            line_ids = [e.ids for e in r]
        elif name == "encode(1MB chunks)":
            chunk_ids = [e.ids for e in r]
        del r
    fastest = min(times, key=times.get)
    tokens = sum(map(len, line_ids))

    # decoding: MB of text produced per second
    dways = {
        "decode_batch(lines)": lambda: tok.decode_batch(line_ids, skip_special_tokens=False),
        "decode(1MB chunks)": lambda: [tok.decode(ids, skip_special_tokens=False) for ids in chunk_ids],
    }
    dtimes, dout = {}, {}
    for name, fn in dways.items():
        print("hf %d: %s" % (vocab, name), file=sys.stderr)
        dtimes[name], dout[name] = best_of(fn)
    dfast = min(dtimes, key=dtimes.get)
    decoded = "".join(dout[dfast])
    dbytes = len(decoded.encode("utf-8"))
    if decoded != text:
        notes.append("hf %d: decode(encode(text)) differs from the (U+FFFD-cleaned) text" % vocab)

    mb = nbytes / 1e6
    print("hf\t%d\t%.2f\t%.2f\t%.1f\t%.3f\t%d\t%d" % (
        vocab, train_s, mb / times[fastest], dbytes / 1e6 / dtimes[dfast], nbytes / tokens, tokens, dbytes))
    notes.append("hf %d (tokenizers %s): train = Tokenizer.train([file]) %.2f s; encode MB/s from the "
                 "fastest call, %s; all: %s; decode from %s: %s" % (
                     vocab, tokenizers.__version__, train_s, fastest,
                     ", ".join("%s %.2f s" % (k, v) for k, v in times.items()), dfast,
                     ", ".join("%s %.2f s" % (k, v) for k, v in dtimes.items())))
    for n in notes:
        print("# " + n)


if __name__ == "__main__":
    main()
