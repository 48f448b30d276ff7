#!/bin/sh
# nl — see LICENSE. Memory models on character-level tiny-shakespeare: trains `titans` and
# `selfmod` (and the transformer of the same preset, for scale) with each inner step rule
# given, same data, seed and steps, and prints the held-out loss after every evaluation.
# Usage: sh examples/memory/run.sh [steps] [preset] [rules...]   (from the repository root,
# after make; defaults: 300 steps, tiny, literal prox-chunk+ema)
set -e
steps=${1:-300}
preset=${2:-tiny}
shift 2 2>/dev/null || shift $#
rules=${*:-literal prox-chunk+ema}
text=${NL_SHAKESPEARE:-../shared/data/tinyshakespeare.txt}
out=build/memory
mkdir -p "$out"
[ -f "$text" ] || { echo "run.sh: $text: not found (set NL_SHAKESPEARE)" >&2; exit 1; }
[ -f "$out/train.nlt" ] || bin/nl-tokenize -k bytes -P 90 -O "$out/valid.nlt" "$text" > "$out/train.nlt"
common="-q -j 2 -c $preset -b 8 -n $steps -e $((steps / 6)) -D optim.lr=3e-3 -D optim.warmup=30
    -D train.eval_tokens=32768 --valid $out/valid.nlt"
run() {
	name=$1
	shift
	start=$(date +%s)
	# shellcheck disable=SC2086
	bin/nl-train $common "$@" -l "$out/$name.tsv" -o "$out/$name.tar" "$out/train.nlt" ||
	    echo "$name: nl-train failed"
	end=$(date +%s)
	printf '%-28s %4d s  valid_loss:' "$name" $((end - start))
	awk -F '\t' 'NR > 1 && $7 != "" { printf " %s@%d", $7, $1 }' "$out/$name.tsv"
	echo
}
run "transformer" -D model=transformer
for fam in titans selfmod; do
	for rule in $rules; do
		run "$fam-$rule" -D model=$fam -D inner_step=$rule
	done
done
