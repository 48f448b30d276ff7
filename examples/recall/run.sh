#!/bin/sh
# nl — see LICENSE. MQAR recall against the number of pairs (issue 8, EVAL §4.1): each model
# trains on multi-query associative recall with PAIRS pairs in examples of 64 tokens (vocabulary
# 128), then answers held-out examples with 2, 4, 8 and 16 pairs: token accuracy and exact
# match of every answer in an example.
# Usage: sh examples/recall/run.sh [steps] [models ...]   (defaults: 1200, transformer titans hope)
# NL_TRAIN_FLAGS is added to nl-train. Memory families train with chunk_memory=8: at the
# preset's 64 a window of 64 tokens is one chunk, whose reads see only the memory's initial
# state (nl-probe-memory(1), CAVEATS). Outputs in build/recall/: table.tsv, the checkpoints, logs.
set -e
steps=${1:-1200}
[ $# -gt 0 ] && shift
models=${*:-transformer titans hope}
out=build/recall
mkdir -p "$out"
[ -f "$out/train.nlt" ] ||
	bin/nl-synth -s 1 -n 20000 -T 64 -o "$out/train.nlt" mqar pairs=8 vocab=128
for p in 2 4 8 16; do
	[ -f "$out/test$p.nlt" ] ||
		bin/nl-synth -s 2 -n 500 -T 64 -o "$out/test$p.nlt" mqar pairs=$p vocab=128
done
for m in $models; do
	if [ ! -f "$out/$m.tar" ]; then
		start=$(date +%s)
		chunk=
		[ "$m" = transformer ] || chunk="-D chunk_memory=8"
		# shellcheck disable=SC2086
		bin/nl-train -q -j 1 -c tiny -D model=$m $chunk -T 64 -b 32 -n "$steps" -e 0 \
		    -D train.valid_percent=0 -D optim.lr=3e-3 -D optim.warmup=20 $NL_TRAIN_FLAGS \
		    -l "$out/$m.log" -o "$out/$m.tar" "$out/train.nlt"
		echo $(($(date +%s) - start)) > "$out/$m.train_s"
	fi
	for p in 2 4 8 16; do
		bin/nl-eval -j 1 -m "$out/$m.tar" "$out/test$p.nlt" | sed -n 2p |
		    awk -v m=$m -v p=$p -F '\t' '{ printf "%s\t%s\t%s\t%s\n", m, p, $7, $8 }'
	done > "$out/$m.tsv"
done
printf 'model\tpairs\tacc\tem\n' > "$out/table.tsv"
for m in transformer titans selfmod hope hope-attention; do
	[ -f "$out/$m.tsv" ] && cat "$out/$m.tsv" >> "$out/table.tsv"
done
column -t -s "$(printf '\t')" "$out/table.tsv"
