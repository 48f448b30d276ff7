#!/bin/sh
# nl — see LICENSE. `make demo`. Until nl-train lands this runs the conversion pipeline:
# a seeded weight set written through the libnl API, listed, carried through safetensors,
# GGUF and npz and back, and compared byte for byte with the original; then a token stream
# whose length is known only at its end, concatenated with the weights as a second member.
set -e
top=$(pwd)
export PATH="$top/bin:$PATH"
out=build/demo
mkdir -p "$out"
echo "demo: writing $out/weights.nlt (seeded 2-layer transformer-shaped weights)"
build/examples/make-weights > "$out/weights.nlt"
echo "demo: nl-convert -l $out/weights.nlt   (member, tensor, dtype, shape, bytes, crc32)"
nl-convert -l "$out/weights.nlt" | sed 's/^/  /'
for f in safetensors gguf npz; do
	nl-convert "$out/weights.nlt" "$out/weights.$f"
	nl-convert "$out/weights.$f" "$out/back.nlt"
	if cmp -s "$out/weights.nlt" "$out/back.nlt"; then same=identical; else same=DIFFERENT; fi
	echo "demo: nlt -> $f ($(wc -c < "$out/weights.$f") bytes) -> nlt: $same to the original (cmp)"
	[ $same = identical ]
done
nl-convert -z 9 "$out/weights.nlt" "$out/weights.z9.nlt"
echo "demo: .nlt size at zlib level 1: $(wc -c < "$out/weights.nlt") bytes; at level 9: $(wc -c < "$out/weights.z9.nlt")"
text=examples/make-weights.c
[ -f ../shared/data/tinyshakespeare.txt ] && text=../shared/data/tinyshakespeare.txt
echo "demo: streaming the bytes of $text as U16 token ids, then two members through one pipe:"
build/examples/make-weights "$text" > "$out/tokens.nlt"
cat "$out/weights.nlt" "$out/tokens.nlt" | nl-convert -l - | tail -n 2 | sed 's/^/  /'
echo "demo: done (files in $out/)"
