#!/bin/sh
# nl — see LICENSE. Continual refreshes over a stream of domains (issue 10): each model trains
# on the first domain, then `nl-train --refresh` learns every next one in place, as a cron job
# would (crontab.example), recording each refresh with --history and the bits per byte on
# every domain's held-out tenth with --watch. A copy after each domain feeds `nl-eval
# --matrix`: the matrix R, ACC, BWT, FWT, forgetting; gnuplot draws R as a heat map per model.
# Domains are Debian corpora from `make data`: the Jargon File, FOLDOC, the Python
# documentation sources and the Go standard library (NL_DOMAINS to choose), the first
# NL_BYTES (default 2 MB) of each. Usage: sh examples/continual/run.sh [steps] [models ...]
# (defaults: 150 steps per domain, transformer hope). NL_TRAIN_FLAGS is added to nl-train,
# NL_LEARN (default all) is --learn. With NL_LEARN=memory the refreshes take no step: each
# reads as many tokens as the steps would train on (--tokens steps x 16 x 128) into the
# model's memory state, and the matrix reads each checkpoint from its state (nl-eval
# --no-adapt --own-state); a transformer has no such state, so the default is hope alone.
# Outputs in build/continual/ (NL_OUT): MODEL.matrix.tsv, MODEL.history.tsv,
# MODEL.matrix.png, summary.tsv.
set -e
steps=${1:-150}
[ $# -gt 0 ] && shift
learn=${NL_LEARN:-all}
if [ "$learn" = memory ]; then
	models=${*:-hope}
	case " $models " in *" transformer "*)
		echo "continual: NL_LEARN=memory: a transformer has no memory state to learn in" >&2
		exit 2 ;;
	esac
else
	models=${*:-transformer hope}
fi
domains=${NL_DOMAINS:-jargon foldoc python-doc go-src}
out=${NL_OUT:-build/continual}
bytes=${NL_BYTES:-2000000}
mkdir -p "$out"
# one domain's text: its files, in a fixed order, cut at NL_BYTES
text() {
	case $1 in
	jargon | foldoc | gcide) find "data/$1" -name "$1.dict.dz" ;;
	python-doc) find data/python-doc -path '*_sources*' -name '*.rst.txt' ;;
	go-src) find data/go-src -name '*.go' ! -name '*_test.go' ;;
	*) echo "continual: $1: no such domain" >&2; exit 1 ;;
	esac | LC_ALL=C sort | while read -r f; do
		case $f in *.dz | *.gz) gzip -dc "$f" ;; *) cat "$f" ;; esac
	done | head -c "$bytes"
}
tests=
for d in $domains; do
	[ -d "data/$d" ] || { echo "continual: data/$d: missing (run make data)" >&2; exit 1; }
	if [ ! -f "$out/$d.nlt" ]; then
		text "$d" > "$out/$d.txt"
		bin/nl-tokenize -q -k bytes -P 90 -O "$out/$d.test.nlt" -o "$out/$d.nlt" "$out/$d.txt"
		rm -f "$out/$d.txt"
	fi
	tests="$tests $out/$d.test.nlt"
done
watch=$(for t in $tests; do printf ' --watch %s' "$t"; done)
if [ "$learn" = memory ]; then
	refresh="--tokens $((steps * 16 * 128))" scoring="--no-adapt --own-state"
else
	refresh="-T 128 -b 16 -n $steps" scoring=''
fi
for m in $models; do
	model="$out/$m.tar" cks='' first=1
	rm -f "$model" "$out/$m.history.tsv"
	for d in $domains; do
		echo "continual: $m learns $d" >&2
		if [ $first = 1 ]; then
			# shellcheck disable=SC2086
			bin/nl-train -q -j 1 -c tiny -D model=$m -T 128 -b 16 -n "$steps" -e 0 \
			    -D train.valid_percent=0 -D optim.schedule=constant -D optim.warmup=20 \
			    $NL_TRAIN_FLAGS -o "$model" "$out/$d.nlt"
			first=0
		else
			# shellcheck disable=SC2086
			bin/nl-train --refresh --wait -q -j 1 $refresh \
			    --learn "$learn" --history "$out/$m.history.tsv" $watch \
			    $NL_TRAIN_FLAGS -i "$model" -o "$model" "$out/$d.nlt"
		fi
		cp "$model" "$out/$m.$d.tar"
		cks="$cks -m $out/$m.$d.tar"
	done
	# shellcheck disable=SC2086
	bin/nl-eval -j 1 $scoring --matrix $cks $tests > "$out/$m.matrix.tsv"
	cat "$out/$m.matrix.tsv"
	if command -v gnuplot >/dev/null; then
		# R without its header and comments: rows (init) and after each domain
		awk -F '\t' 'NR > 1 && $1 !~ /^#/ { for (j = 2; j <= NF; j++) print NR - 2, j - 2, $j; print "" }' \
		    "$out/$m.matrix.tsv" > "$out/$m.matrix.dat"
		gnuplot -e "in='$out/$m.matrix.dat'; out='$out/$m.matrix.png'; model='$m'; domains='$domains'" \
		    examples/continual/heatmap.gp
	fi
done
# shellcheck disable=SC2086
sh examples/cl-summary.sh "$out" $models
