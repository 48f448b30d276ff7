#!/bin/sh
# nl — see LICENSE. Multi-query associative recall (examples/memory/mqar.c, the Zoology
# recipe): trains transformer, titans and selfmod of one preset on the same MQAR stream
# (only the answers are scored) and prints the held-out loss on the answers after every
# evaluation; ln 128 = 4.85 is a uniform guess among the values, 0 perfect recall.
# Usage: sh examples/memory/mqar.sh [steps] [preset] [length] [pairs]   (from the repository
# root; defaults: 400 steps, tiny, 128 tokens, 16 pairs)
set -e
steps=${1:-400}
preset=${2:-tiny}
len=${3:-128}
pairs=${4:-16}
out=build/mqar
mkdir -p "$out"
make -s build/examples/memory/mqar
build/examples/memory/mqar -L "$len" -D "$pairs" -n 20000 -s 1 "$out/train-$len-$pairs.nlt"
build/examples/memory/mqar -L "$len" -D "$pairs" -n 500 -s 2 "$out/valid-$len-$pairs.nlt"
for fam in transformer titans selfmod; do
	start=$(date +%s)
	bin/nl-train -q -j "${NL_THREADS:-2}" -c "$preset" -D model=$fam -T "$len" -b 16 \
	    -n "$steps" -e $((steps / 8)) -D optim.lr=3e-3 -D optim.warmup=30 \
	    -D train.eval_tokens=$((len * 500)) --valid "$out/valid-$len-$pairs.nlt" \
	    -l "$out/$fam.tsv" -o "$out/$fam.tar" "$out/train-$len-$pairs.nlt" ||
	    echo "$fam: nl-train failed"
	printf '%-12s %4d s  valid_loss:' $fam $(($(date +%s) - start))
	awk -F '\t' 'NR > 1 && $7 != "" { printf " %s@%d", $7, $1 }' "$out/$fam.tsv"
	echo
done
