#!/bin/sh
# nl — see LICENSE. Multi-query associative recall (examples/memory/mqar.c, the Zoology
# recipe with placeholder fillers and a small vocabulary): trains transformer, titans and
# selfmod of one preset on the same MQAR stream (only the answers are scored) and prints
# the held-out loss on the answers after every evaluation; ln(vocab/2) is a uniform guess
# among the values (2.77 at the default vocabulary 32), 0 perfect recall.
# The memories write every 8 tokens (chunk_memory 8: the pairs of the first 8 tokens are
# written before the first query reads) with eta_max 1; at the default learning rate and
# eta_max 0.2 they stayed at chance for 2,000 steps.
# Usage: sh examples/memory/mqar.sh [steps] [preset] [length] [pairs] [vocab]   (from the
# repository root; defaults: 4000 steps, tiny, 32 tokens, 4 pairs, vocabulary 32);
# NL_THREADS (default 2) threads per run.
set -e
steps=${1:-4000}
preset=${2:-tiny}
len=${3:-32}
pairs=${4:-4}
vocab=${5:-32}
out=build/mqar
mkdir -p "$out"
make -s build/examples/memory/mqar
tag=$len-$pairs-$vocab
build/examples/memory/mqar -z -L "$len" -D "$pairs" -V "$vocab" -n 60000 -s 1 "$out/train-$tag.nlt"
build/examples/memory/mqar -z -L "$len" -D "$pairs" -V "$vocab" -n 500 -s 2 "$out/valid-$tag.nlt"
for fam in transformer titans selfmod; do
	start=$(date +%s)
	bin/nl-train -q -j "${NL_THREADS:-2}" -c "$preset" -D model=$fam -D chunk_memory=8 \
	    -D eta_max=1 -T "$len" -b 64 -n "$steps" -e $((steps / 8)) -D optim.lr=1e-2 \
	    -D optim.warmup=$((steps / 20)) -D train.eval_tokens=16000 \
	    --valid "$out/valid-$tag.nlt" -l "$out/$fam.tsv" -o "$out/$fam.tar" \
	    "$out/train-$tag.nlt" || echo "$fam: nl-train failed"
	printf '%-12s %4d s  valid_loss:' $fam $(($(date +%s) - start))
	awk -F '\t' 'NR > 1 && $7 != "" { printf " %s@%d", $7, $1 }' "$out/$fam.tsv"
	echo
done
