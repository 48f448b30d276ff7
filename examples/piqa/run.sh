#!/bin/sh
# nl — see LICENSE. PIQA validation (issue 8, EVAL §3): multiple-choice accuracy (acc: summed
# log-likelihood of each solution; acc_norm: per byte) of checkpoints carrying a tokenizer.
# Usage: sh examples/piqa/run.sh [checkpoint ...]   (default: the small models of
# `sh examples/compare/run.sh small 150 python-doc`, build/compare/python-doc-small/*.tar)
# NL_PIQA (default ../shared/data/piqa) holds valid.jsonl and valid-labels.lst. Output:
# build/piqa/table.tsv (checkpoint, acc, acc_norm, seconds).
set -e
piqa=${NL_PIQA:-../shared/data/piqa}
[ -f "$piqa/valid.jsonl" ] || { echo "piqa: $piqa/valid.jsonl: not found" >&2; exit 1; }
[ $# -gt 0 ] || set -- build/compare/python-doc-small/*.tar
[ -f "$1" ] || { echo "piqa: $1: not found (train the models first)" >&2; exit 1; }
out=build/piqa
mkdir -p "$out"
printf 'checkpoint\tacc\tacc_norm\tseconds\n' > "$out/table.tsv"
for ck in "$@"; do
	start=$(date +%s)
	bin/nl-eval -j 1 -m "$ck" --choice "$piqa/valid.jsonl" --labels "$piqa/valid-labels.lst" \
	    > "$out/$(basename "$ck" .tar).tsv"
	awk -v ck="$ck" -v s=$(($(date +%s) - start)) -F '\t' 'NR == 2 {
	    for (i = 1; i <= NF; i++) v[h[i]] = $i } NR == 1 { for (i = 1; i <= NF; i++) h[i] = $i }
	    END { printf "%s\t%s\t%s\t%s\n", ck, v["acc"], v["acc_norm"], s }' \
	    "$out/$(basename "$ck" .tar).tsv" >> "$out/table.tsv"
done
column -t -s "$(printf '\t')" "$out/table.tsv"
