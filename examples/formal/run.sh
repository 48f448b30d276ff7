#!/bin/sh
# nl — see LICENSE. Formal languages (issue 8, EVAL §4.6, the paper's Table 5): each model trains
# on strings of length 1–50 (string, '=', label 1 or 0: member or not, half the negatives near
# misses), then labels new draws of the training lengths (Bin0; (aa)* has few strings of them,
# so its Bin0 strings were all in training) and strings of lengths 51–100 (Bin1). Accuracy is
# on the label; chance is 0.5.
# Usage: sh examples/formal/run.sh [steps] [models ...]   (defaults: 400, transformer hope)
# NL_TASKS (default: parity aa) chooses the languages; NL_TRAIN_FLAGS is added to nl-train.
# Memory families train with chunk_memory=8: an example is shorter than the preset's 64, and
# inside its first chunk a memory reads only its initial state (nl-probe-memory(1), CAVEATS).
# Outputs in build/formal/: table.tsv, the checkpoints, logs.
set -e
steps=${1:-400}
[ $# -gt 0 ] && shift
models=${*:-transformer hope}
tasks=${NL_TASKS:-parity aa}
out=build/formal
mkdir -p "$out"
for task in $tasks; do
	[ -f "$out/train-$task.nlt" ] || bin/nl-synth -s 1 -n 20000 -o "$out/train-$task.nlt" $task
	[ -f "$out/$task-bin0.nlt" ] || bin/nl-synth -s 2 -n 1000 -o "$out/$task-bin0.nlt" $task
	[ -f "$out/$task-bin1.nlt" ] ||
		bin/nl-synth -s 3 -n 1000 -o "$out/$task-bin1.nlt" $task minlen=51 maxlen=100
done
for task in $tasks; do
	for m in $models; do
		ck="$out/$task-$m.tar"
		if [ ! -f "$ck" ]; then
			start=$(date +%s)
			chunk=
			[ "$m" = transformer ] || chunk="-D chunk_memory=8"
			# shellcheck disable=SC2086
			bin/nl-train -q -j 1 -c tiny -D model=$m $chunk -T 64 -b 32 -n "$steps" -e 0 \
			    -D train.valid_percent=0 -D optim.lr=3e-3 -D optim.warmup=20 \
			    $NL_TRAIN_FLAGS -l "$out/$task-$m.log" -o "$ck" "$out/train-$task.nlt"
			echo $(($(date +%s) - start)) > "$out/$task-$m.train_s"
		fi
		# windows of the context (128) hold a whole Bin1 example
		for bin in bin0 bin1; do
			bin/nl-eval -j 1 -m "$ck" "$out/$task-$bin.nlt" > "$out/$task-$m.$bin.out"
			sed -n 2p "$out/$task-$m.$bin.out" |
			    awk -v t=$task -v m=$m -v b=$bin -F '\t' '{ printf "%s\t%s\t%s\t%s\n", t, m, b, $7 }'
		done > "$out/$task-$m.tsv"
	done
done
# every language and model run so far
printf 'task\tmodel\tbin\tacc\n' > "$out/table.tsv"
cat "$out"/*-*.tsv >> "$out/table.tsv"
column -t -s "$(printf '\t')" "$out/table.tsv"
