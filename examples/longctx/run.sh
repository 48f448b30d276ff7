#!/bin/sh
# nl — see LICENSE. Long context (issue 8, EVAL §4.2–4.3): one model per family trains on passkey
# and S-NIAH-1 examples of 512 bytes (context 512), then reads held-out examples of 512, 1K, 2K,
# 4K and 8K bytes as streams (--adapt, reset=doc), the needle at depths 0, 10, ..., 100 %.
# Attention keeps a sliding window of the context (512): past it a transformer cannot see the
# needle, and only a memory can carry it.
# Usage: sh examples/longctx/run.sh [steps] [models ...]   (defaults: 400, transformer hope)
# NL_TRAIN_FLAGS is added to nl-train. Outputs in build/longctx/: table.tsv (token accuracy and
# exact match per task, model and length), depth.tsv (per depth), the checkpoints, logs.
set -e
steps=${1:-400}
[ $# -gt 0 ] && shift
models=${*:-transformer hope}
out=build/longctx
lengths="512 1024 2048 4096 8192"
mkdir -p "$out"
for task in passkey sniah1; do
	[ -f "$out/train-$task.nlt" ] ||
		bin/nl-synth -s 1 -n 10000 -T 512 -o "$out/train-$task.nlt" $task
	for L in $lengths; do
		[ -f "$out/$task-$L.nlt" ] ||
			bin/nl-synth -s 2 -n 22 -T "$L" -o "$out/$task-$L.nlt" $task depth=sweep
	done
done
for m in $models; do
	if [ ! -f "$out/$m.tar" ]; then
		start=$(date +%s)
		# shellcheck disable=SC2086
		bin/nl-train -q -j 1 -c tiny -D model=$m -D context=512 -T 512 -b 8 -n "$steps" \
		    -e 0 -D train.valid_percent=0 -D optim.lr=3e-3 -D optim.warmup=20 $NL_TRAIN_FLAGS \
		    -l "$out/$m.log" -o "$out/$m.tar" "$out/train-passkey.nlt" "$out/train-sniah1.nlt"
		echo $(($(date +%s) - start)) > "$out/$m.train_s"
	fi
	: > "$out/$m.tsv"
	: > "$out/$m.depth.tsv"
	for task in passkey sniah1; do
		for L in $lengths; do
			bin/nl-eval -j 1 --adapt -D reset=doc -m "$out/$m.tar" "$out/$task-$L.nlt" \
			    > "$out/$m.$task-$L.out"
			sed -n 2p "$out/$m.$task-$L.out" | awk -v m=$m -v t=$task -v L=$L -F '\t' \
			    '{ printf "%s\t%s\t%s\t%s\t%s\n", t, m, L, $7, $8 }' >> "$out/$m.tsv"
			# the per-depth table: after the blank lines, its header, then one row per depth
			awk -v m=$m -v t=$task -v L=$L -F '\t' 'NF == 0 { blank = 1; next }
			    blank && $1 != "input" { printf "%s\t%s\t%s\t%s\t%s\t%s\n", t, m, L, $2, $4, $5 }' \
			    "$out/$m.$task-$L.out" >> "$out/$m.depth.tsv"
		done
	done
done
# every model run so far
printf 'task\tmodel\tlength\tacc\tem\n' > "$out/table.tsv"
printf 'task\tmodel\tlength\tdepth\tacc\tem\n' > "$out/depth.tsv"
for f in "$out"/*.depth.tsv; do
	m=$(basename "$f" .depth.tsv)
	cat "$out/$m.tsv" >> "$out/table.tsv"
	cat "$f" >> "$out/depth.tsv"
done
{ sed 1q; sed 1d | sort -s -k1,1; } < "$out/table.tsv" | column -t -s "$(printf '\t')"
