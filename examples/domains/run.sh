#!/bin/sh
# nl — see LICENSE. Domain after domain (issue 8, EVAL §5.4 and §6): each model trains on three
# fortunes categories in turn, resuming its checkpoint with -i, STEPS steps per domain at a
# constant rate, then `nl-eval --matrix` scores every checkpoint (and the initial model) on the
# held-out 10 % of every domain: the matrix R of bits per byte and ACC, BWT, FWT, forgetting.
# Needs `make data` (the fortunes package). Usage: sh examples/domains/run.sh [steps] [models ...]
# (defaults: 150, transformer hope). NL_DOMAINS (default: computers songs-poems definitions)
# names the categories; NL_TRAIN_FLAGS is added to nl-train. Outputs in build/domains/:
# MODEL.matrix.tsv, summary.tsv (the metrics side by side), the checkpoints, logs.
set -e
steps=${1:-150}
[ $# -gt 0 ] && shift
models=${*:-transformer hope}
domains=${NL_DOMAINS:-computers songs-poems definitions}
src=data/fortunes/usr/share/games/fortunes
out=build/domains
[ -d "$src" ] || { echo "domains: $src: missing (run make data)" >&2; exit 1; }
mkdir -p "$out"
tests=
for d in $domains; do
	[ -f "$out/$d.nlt" ] ||
		bin/nl-tokenize -q -k bytes -S % -P 90 -O "$out/$d.test.nlt" -o "$out/$d.nlt" "$src/$d"
	tests="$tests $out/$d.test.nlt"
done
for m in $models; do
	prev= n=0 cks=
	for d in $domains; do
		n=$((n + steps))
		ck="$out/$m.$d.tar"
		if [ ! -f "$ck" ]; then
			# the first domain sets the configuration; the others resume its run
			if [ -z "$prev" ]; then
				from="-c tiny -D model=$m"
			else
				from="-i $prev"
			fi
			# shellcheck disable=SC2086
			bin/nl-train -q -j 1 $from -T 128 -b 16 -n "$n" -e 0 \
			    -D train.valid_percent=0 -D optim.lr=1e-3 -D optim.lr_min=1e-3 \
			    -D optim.warmup=20 $NL_TRAIN_FLAGS -l "$out/$m.$d.log" -o "$ck" "$out/$d.nlt"
		fi
		prev=$ck
		cks="$cks -m $ck"
	done
	# shellcheck disable=SC2086
	bin/nl-eval -j 1 --matrix $cks $tests > "$out/$m.matrix.tsv"
	cat "$out/$m.matrix.tsv"
done
# shellcheck disable=SC2086
sh examples/cl-summary.sh "$out" $models
