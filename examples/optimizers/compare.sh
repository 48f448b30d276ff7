#!/bin/sh
# nl — see LICENSE. The outer optimizers on a language model (issue 7): trains each model with
# each optimizer on the same tokens, same seed and steps — tiny-shakespeare's first 90 % as bytes
# — and prints the held-out bits per byte of each (the last 10 %, first eval_bytes of it).
# Usage: sh examples/optimizers/compare.sh [preset] [steps] [batch] [threads] [eval_bytes]
#   (defaults: small 300 8 2 30000). NL_OPTIMS (default "adamw muon m3") and NL_MODELS
#   (default "transformer hope") choose the runs; NL_LRS (e.g. "1e-3 3e-3 1e-2") trains each
#   pair at each peak learning rate instead of the configured one; NL_TRAIN_FLAGS is added to
#   every nl-train (e.g. "-D optim.warmup=10"). Outputs in build/optimizers/<preset>/: table.tsv,
#   the checkpoints and the training logs; a checkpoint there is reused.
#   NL_OUT names the output directory instead of the preset.
set -e
preset=${1:-small}
steps=${2:-300}
batch=${3:-8}
threads=${4:-2}
eval_bytes=${5:-30000}
text=${NL_SHAKESPEARE:-../shared/data/tinyshakespeare.txt}
out=build/optimizers/${NL_OUT:-$preset}
[ -f "$text" ] || { echo "compare.sh: $text: not found (set NL_SHAKESPEARE)" >&2; exit 1; }
mkdir -p "$out"
size=$(wc -c < "$text")
head -c $((size * 9 / 10)) "$text" | bin/nl-tokenize -q -k bytes -o "$out/train.nlt" -
tail -c +$((size * 9 / 10 + 1)) "$text" | head -c "$eval_bytes" |
    bin/nl-tokenize -q -k bytes -o "$out/valid.nlt" -
printf 'model\toptim\tlr\tvalid_bpb\ttrain_s\n' > "$out/table.tsv"
for model in ${NL_MODELS:-transformer hope}; do
	for optim in ${NL_OPTIMS:-adamw muon m3}; do
		for lr in ${NL_LRS:-config}; do
			run=$out/$model-$optim
			lr_flag=
			if [ "$lr" != config ]; then
				run=$run-lr$lr
				lr_flag="-D optim.lr=$lr"
			fi
			if [ ! -f "$run.tar" ]; then
				start=$(date +%s)
				# shellcheck disable=SC2086
				bin/nl-train -q -j "$threads" -c "$preset" -b "$batch" $NL_TRAIN_FLAGS $lr_flag \
				    -D model=$model -D optim=$optim -s 1 -n "$steps" -e 0 \
				    -D train.valid_percent=0 -l "$run.log" -o "$run.tar" "$out/train.nlt"
				echo $(($(date +%s) - start)) > "$run.train_s"
			fi
			bpb=$(bin/nl-eval -j "$threads" -m "$run.tar" "$out/valid.nlt" | sed -n 2p | cut -f 4)
			printf '%s\t%s\t%s\t%s\t%s\n' $model $optim $lr "$bpb" "$(cat "$run.train_s")" \
			    >> "$out/table.tsv"
		done
	done
done
column -t -s "$(printf '\t')" "$out/table.tsv"
