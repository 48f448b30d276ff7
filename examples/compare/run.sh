#!/bin/sh
# nl — see LICENSE. The HOPE comparison of issue 6: transformer, titans, hope-attention and hope
# trained on the same tokens with the same seed at one preset, then scored on the held-out
# text in windows of the training length, and as one stream with the CMS levels learning
# (--adapt) and frozen (--no-adapt); one table of bits per byte, and the loss by position
# ("context usage") of every stream.
# Usage: sh examples/compare/run.sh [preset] [steps] [corpus] [eval_bytes] [threads] [batch]
#   preset  tiny | small | base (default tiny)
#   steps   optimizer steps of each model (default 300)
#   corpus  shakespeare: ../shared/data/tinyshakespeare.txt, bytes, nanoGPT's 90/10 split;
#           python-doc: the Python documentation of `make data`, a 1024-id BPE learned on
#           its training part (default shakespeare)
#   eval_bytes  held-out bytes scored (default 30000)
#   batch   sequences per step (default: the preset's train.batch)
# NL_TRAIN_FLAGS, if set, is added to every nl-train command (e.g. "-D optim.warmup=30").
# Outputs in build/compare/<corpus>-<preset>/: table.tsv, curves.tsv (gnuplot index per
# model and mode), the checkpoints and the training logs.
set -e
preset=${1:-tiny}
steps=${2:-300}
corpus=${3:-shakespeare}
eval_bytes=${4:-30000}
threads=${5:-2}
batch=${6:+-b $6}
out=build/compare/$corpus-$preset
mkdir -p "$out"
case $corpus in
shakespeare)
	text=${NL_SHAKESPEARE:-../shared/data/tinyshakespeare.txt}
	[ -f "$text" ] || { echo "run.sh: $text: not found" >&2; exit 1; }
	head -c $(($(wc -c < "$text") * 9 / 10)) "$text" > "$out/train.txt"
	tail -c +$(($(wc -c < "$text") * 9 / 10 + 1)) "$text" | head -c "$eval_bytes" \
	    > "$out/valid.txt"
	tok=bytes ;;
python-doc)
	src=$(find data/python-doc -name '*.rst.txt' 2>/dev/null | sort)
	[ -n "$src" ] || { echo "run.sh: no data/python-doc: run make data" >&2; exit 1; }
	# every tenth file held out, whole
	echo "$src" | awk 'NR % 10 != 0' | xargs cat > "$out/train.txt"
	echo "$src" | awk 'NR % 10 == 0' | xargs cat > "$out/held-out.txt"
	head -c "$eval_bytes" "$out/held-out.txt" > "$out/valid.txt"
	[ -f "$out/bpe.nlt" ] || bin/nl-tokenize -q -K 1024 -o "$out/bpe.nlt" "$out/train.txt"
	tok=$out/bpe.nlt ;;
*)	echo "run.sh: unknown corpus $corpus" >&2; exit 2 ;;
esac
bin/nl-tokenize -q -k "$tok" -o "$out/train.nlt" "$out/train.txt"
bin/nl-tokenize -q -k "$tok" -o "$out/valid.nlt" "$out/valid.txt"
printf 'model\tparams\twindow_bpb\tadapt_bpb\tno_adapt_bpb\ttrain_s\n' > "$out/table.tsv"
: > "$out/curves.tsv"
for model in transformer titans hope-attention hope; do
	if [ ! -f "$out/$model.tar" ]; then   # a checkpoint there is reused
		start=$(date +%s)
		bin/nl-train -q -j "$threads" -c "$preset" $batch $NL_TRAIN_FLAGS -D model=$model -s 1 -n "$steps" -e 0 \
		    -D train.valid_percent=0 -k "$tok" -l "$out/$model.log" -o "$out/$model.tar" \
		    "$out/train.nlt"
		echo $(($(date +%s) - start)) > "$out/$model.train_s"
	fi
	train_s=$(cat "$out/$model.train_s" 2>/dev/null || echo -)
	params=$(bin/nl-train -v --dry-run -i "$out/$model.tar" 2>&1 | sed -n 's/.*model, \([0-9]*\) parameters.*/\1/p')
	window=$(bin/nl-eval -j "$threads" -m "$out/$model.tar" "$out/valid.nlt" | cut -f 4 | sed 1d)
	row="$model\t$params\t$window"
	for mode in adapt no-adapt; do
		bin/nl-eval -j 1 --$mode -D eval.curve=position -m "$out/$model.tar" \
		    "$out/valid.nlt" > "$out/$model-$mode.tsv"
		row="$row\t$(sed -n 2p "$out/$model-$mode.tsv" | cut -f 4)"
		printf '# %s %s\n' $model $mode >> "$out/curves.tsv"
		awk -F '\t' 'blank >= 2 && $2 ~ /^[0-9]+$/; /^$/ { blank++ }' "$out/$model-$mode.tsv" \
		    >> "$out/curves.tsv"
		printf '\n\n' >> "$out/curves.tsv"
	done
	printf "$row\t$train_s\n" >> "$out/table.tsv"
done
column -t -s "$(printf '\t')" "$out/table.tsv"
if command -v gnuplot > /dev/null; then
	gnuplot -e "dir='$out'" examples/compare/plot.gp
	echo "curves: $out/curves.tsv, $out/curves.png"
else
	echo "curves: $out/curves.tsv (no gnuplot: no picture)"
fi
