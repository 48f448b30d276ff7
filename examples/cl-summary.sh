#!/bin/sh
# nl — see LICENSE. The continual-learning metrics of `nl-eval --matrix` side by side, one
# column per model: reads DIR/MODEL.matrix.tsv, writes DIR/summary.tsv and prints it.
# Usage: sh examples/cl-summary.sh DIR MODEL ...   (examples/domains, examples/continual)
set -e
out=$1
shift
{
	printf 'metric'
	for m in "$@"; do printf '\t%s' "$m"; done
	echo
	for k in ACC BWT FWT forgetting learning_accuracy; do
		printf '%s' "$k"
		for m in "$@"; do
			awk -v k=$k '$1 == "#" && $2 == k { printf "\t%s", $NF }' "$out/$m.matrix.tsv"
		done
		echo
	done
} > "$out/summary.tsv"
column -t -s "$(printf '\t')" "$out/summary.tsv"
