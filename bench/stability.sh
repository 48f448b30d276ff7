#!/bin/sh
# nl — see LICENSE. The stability grid (MODEL §1.3, §8.15): every memory family, preset,
# initial W1 scale s, eta_max, step rule, as sequences (T of the preset) and as one 4,096-token
# stream; writes bench/stability.tsv and prints, per family and rule, how many runs stayed
# finite and the worst memory norm among them. small selfmod runs take ~25 s each: it gets
# s ∈ {1, 4} and the main rules only.
# Usage: sh bench/stability.sh [text] (from the repository root, after make build/bench/stability)
set -e
text=${1:-../shared/data/tinyshakespeare.txt}
out=bench/stability.tsv
rules="literal prox prox-chunk mean ema prox+ema prox-chunk+ema mean+ema"
{
	for fam in titans selfmod; do
		for preset in tiny small; do
			T=128; [ $preset = small ] && T=512
			for s in 0.5 1 2 4; do
				for eta in 0.2 1.0; do
					for rule in $rules; do
						if [ $fam.$preset = selfmod.small ]; then
							case $s in 0.5 | 2) continue ;; esac
							case $rule in mean | ema) continue ;; esac
						fi
						for len in $T 4096; do
							echo "$text $fam $preset $s $eta $rule $len"
						done
					done
				done
			done
		done
	done
} | xargs -P 2 -L 1 build/bench/stability > "$out.tmp"
{
	printf 'family\tpreset\ts\teta_max\trule\tT\tfirst_nonfinite\tloss'
	for m in k v eta alpha mem; do printf '\tw1_%s\tw2_%s' $m $m; done
	printf '\n'
	sort "$out.tmp"
} > "$out"
rm -f "$out.tmp"
# per family and rule: runs that stayed finite, as sequences and as a stream, and the largest
# memory norm of the finite runs with s = 1 (initially |W1| ≈ |W2| ≈ sqrt(d_h): 5.7 tiny, 8 small)
awk -F '\t' 'NR > 1 {
	key = $1 "\t" $5; mode = $6 == 4096 ? "stream" : "seq"
	n[key, mode]++; keys[key] = 1
	if ($7 == -1) {
		ok[key, mode]++
		if ($3 == 1) for (i = 9; i <= 18; i++) if ($i + 0 > worst[key]) worst[key] = $i + 0
	}
}
END {
	printf "family\trule\tfinite_seq\tfinite_stream\tmax_norm_s1\n"
	for (k in keys)
		printf "%s\t%d/%d\t%d/%d\t%s\n", k, ok[k, "seq"], n[k, "seq"], ok[k, "stream"],
		    n[k, "stream"], (k in worst) ? sprintf("%.4g", worst[k]) : "-"
}' "$out" | sort
