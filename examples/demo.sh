#!/bin/sh
# nl — see LICENSE. `make demo`: the conversion pipeline (a seeded weight set written
# through the libnl API, carried through safetensors, GGUF and npz and back, compared byte
# for byte), then a real corpus tokenized with a BPE learned from it, a transformer trained
# on 90 % of it (examples/demo.cfg) and evaluated on the other 10 %.
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

# a real corpus: the fortunes package read straight from its .deb, one document per cookie
corpus=""
if [ -f "$out/fortunes.deb" ] || (cd "$out" && apt-get download fortunes >/dev/null 2>&1 && mv fortunes_*.deb fortunes.deb); then
	corpus="$out/fortunes.deb"
	echo "demo: tokenizing the Debian package fortunes (downloaded with apt-get download, no root)"
	nl-tokenize -v -S % -I 'usr/share/games/fortunes/*' -X '*.dat' "$corpus" > "$out/fortunes.nlt"
	text="$out/fortunes.txt"
	nl-tokenize -d "$out/fortunes.nlt" > "$text"
elif [ -f ../shared/data/tinyshakespeare.txt ]; then
	text=../shared/data/tinyshakespeare.txt
	echo "demo: apt-get download fortunes failed (no apt lists?); using $text"
else
	text="$out/manpages.txt"
	cat man/*.[1-9] > "$text"
	echo "demo: no corpus reachable; using the man pages ($text)"
fi
nl-tokenize -K 4096 -o "$out/tok.nlt" "$text"
nl-tokenize -k "$out/tok.nlt" -P 90 -O "$out/valid.nlt" "$text" > "$out/train.nlt"
bytes=$(wc -c < "$text")
ids=$(nl-tokenize -t -k "$out/tok.nlt" "$text" | grep -vc '^256$')
echo "demo: BPE of 4096 ids learned from $bytes bytes: $ids tokens, $(echo "$bytes $ids" | awk '{ printf "%.2f", $1 / $2 }') bytes per token"
nl-convert -l "$out/train.nlt" | sed 's/^/  train: /'
nl-convert -l "$out/valid.nlt" | sed 's/^/  valid: /'
{ nl-tokenize -d -k "$out/tok.nlt" "$out/train.nlt"; nl-tokenize -d -k "$out/tok.nlt" "$out/valid.nlt"; } | cmp -s - "$text" &&
    echo "demo: train + valid decode back to the exact text (cmp)"
threads=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)
echo "demo: training a transformer (examples/demo.cfg) on train.nlt with $threads threads; progress below"
nl-train -j "$threads" -c examples/demo.cfg -k "$out/tok.nlt" --valid "$out/valid.nlt" \
    -l "$out/train.tsv" -o "$out/model.tar" "$out/train.nlt"
echo "demo: nl-eval on the held-out 10 %:"
nl-eval -j "$threads" -m "$out/model.tar" "$out/valid.nlt" | sed 's/^/  /'
nl-convert "$out/model.tar" "$out/model.safetensors"
echo "demo: the trained parameters exported to $out/model.safetensors ($(wc -c < "$out/model.safetensors") bytes)"
echo "demo: done. Files in $out/: tok.nlt (BPE), train.nlt and valid.nlt (token streams),"
echo "      model.tar (checkpoint), train.tsv (training log), model.safetensors (exported weights)"
