#!/bin/sh
# nl — see LICENSE. Character-level tiny-shakespeare with nanoGPT's "baby" configuration:
# nanoGPT's 90/10 split, train, evaluate; prints the held-out loss curve and the wall time.
# Usage: sh examples/shakespeare/run.sh [threads]   (from the repository root, after make)
set -e
threads=${1:-2}
text=${NL_SHAKESPEARE:-../shared/data/tinyshakespeare.txt}
out=build/shakespeare
mkdir -p "$out"
[ -f "$text" ] || { echo "run.sh: $text: not found (set NL_SHAKESPEARE)" >&2; exit 1; }
bin/nl-tokenize -k bytes -P 90 -O "$out/valid.nlt" "$text" > "$out/train.nlt"
start=$(date +%s.%N)
bin/nl-train -j "$threads" -c examples/shakespeare/baby.cfg --valid "$out/valid.nlt" \
    -l "$out/log.tsv" -o "$out/ck.tar" "$out/train.nlt"
end=$(date +%s.%N)
bin/nl-eval -j "$threads" -m "$out/ck.tar" "$out/valid.nlt"
awk -F '\t' 'NR > 1 && $7 != "" { printf "step %d valid_loss %.4f at %.1f s\n", $1, $7, $6 }' "$out/log.tsv"
echo "$start $end" | awk '{ printf "wall time %.1f s on %s threads (tokenize excluded)\n", $2 - $1, '"$threads"' }'
awk -F '\t' 'NR > 1 && $7 != "" && $7 <= 1.874 { printf "nanoGPT'\''s 1.874 reached at step %d, %.1f s\n", $1, $6; exit }' "$out/log.tsv"
