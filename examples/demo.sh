#!/bin/sh
# nl — see LICENSE. `make demo` (the Makefile has built everything and installed what the
# build needs): the continual-learning workflow of nl-train(1) REFRESH end to end, in about
# six minutes on two cores.
#  1. two real corpora, Debian packages read straight from their .deb: fortunes (cookies)
#     and the Jargon File (a hacker dictionary), with `apt-get download`, no root; without
#     the archive, the man pages and nl's own C sources stand in
#  2. each as a byte-level token stream, with a 2 KB held-out piece
#  3. a `small` hope trained on the first for a few minutes (NL_DEMO_STEPS steps, default 40)
#  4. held-out loss with and without test-time learning (nl-eval --adapt / --no-adapt)
#  5. one refresh on the second corpus (nl-train --refresh, a token budget, --watch on both
#     held-out pieces), then the forgetting matrix (nl-eval --matrix)
#  6. what the memories did on the held-out text (nl-probe-memory)
#  7. where every output is
# NL_DEMO_OUT sets the output directory (default build/demo).
set -e
PATH="$(pwd)/bin:$PATH"
export PATH
out=${NL_DEMO_OUT:-build/demo}
steps=${NL_DEMO_STEPS:-40}
threads=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)
t0=$(date +%s)
mkdir -p "$out"
say() { printf 'demo [%3ds]: %s\n' $(($(date +%s) - t0)) "$*"; }
# a TSV table, its columns aligned and indented
table() {
	awk -F '\t' '{ for (i = 1; i <= NF; i++) { c[NR, i] = $i; if (length($i) > w[i]) w[i] = length($i) }
	    if (NF > nf) nf = NF } END { for (r = 1; r <= NR; r++) { s = "   "
	    for (i = 1; i <= nf; i++) s = s sprintf(" %-" w[i] "s", c[r, i]); sub(/ +$/, "", s); print s } }'
}

# 1. corpora: a package's .deb (kept in $out), or "" when the archive cannot be reached
deb() {
	[ -f "$(first "$1")" ] || (cd "$out" && apt-get download "$1" >/dev/null 2>&1) || return 0
	first "$1"
}
first() { for f in "$out/$1"_*.deb; do [ -f "$f" ] && echo "$f" && return; done; }
say "1/7 corpora: apt-get download fortunes dict-jargon (into $out, no root)"
fortunes=$(deb fortunes)
jargon=$(deb dict-jargon)
if [ -n "$fortunes" ] && [ -n "$jargon" ]; then
	nl-tokenize -q -S % -I 'usr/share/games/fortunes/*' -X '*.dat' -X '*.u8' "$fortunes" |
	    nl-tokenize -d > "$out/a.txt"
	nl-tokenize -q -I '*jargon.dict.dz' "$jargon" | nl-tokenize -d > "$out/b.txt"
	a=fortunes b=jargon
else
	say "the Debian archive is out of reach (as root: apt-get update); using the man pages" \
	    "and nl's C sources"
	cat man/*.[1-9] > "$out/a.txt"
	cat lib/*.c > "$out/b.txt"
	a=man-pages b=c-sources
fi
say "  $a: $(wc -c < "$out/a.txt") bytes; $b: $(wc -c < "$out/b.txt") bytes"

# 2. token streams: A's text but 2 KB from its middle, held out; B's 200 KB (past the
# Jargon File's front matter) and the 2 KB after them. Held-out pieces are small because a
# small hope reads a few hundred tokens a second on a CPU.
say "2/7 tokenizing (bytes): $a.nlt, $a.test.nlt, $b.nlt, $b.test.nlt"
half=$(($(wc -c < "$out/a.txt") / 2))
{ head -c $half "$out/a.txt"; tail -c +$((half + 2049)) "$out/a.txt"; } | nl-tokenize -q -o "$out/$a.nlt"
tail -c +$((half + 1)) "$out/a.txt" | head -c 2048 | nl-tokenize -q -o "$out/$a.test.nlt"
tail -c +65537 "$out/b.txt" | head -c 204800 | nl-tokenize -q -o "$out/$b.nlt"
tail -c +270337 "$out/b.txt" | head -c 2048 | nl-tokenize -q -o "$out/$b.test.nlt"
for f in $a $a.test $b $b.test; do
	printf '%s.nlt\t%s tokens\n' "$f" "$(nl-convert -l "$out/$f.nlt" | cut -f 4 | tr -d '[]')"
done | table

# 3. a small hope on A: short and steep (3e-3, 5 warmup steps, cosine down to 1e-4)
say "3/7 training a small hope on $a: $steps steps of 4 x 128 tokens, $threads threads"
nl-train -j "$threads" -c small -D model=hope -b 4 -T 128 -n "$steps" -e 0 \
    -D train.valid_percent=0 -D optim.lr=0.003 -D optim.warmup=5 \
    -l "$out/train.tsv" -o "$out/$a.tar" "$out/$a.nlt"

# 4. held-out loss as a stream, from the meta-learned state, the CMS levels fixed or
# learning as they read
say "4/7 $a held out, without and with test-time learning (nl-eval --no-adapt, --adapt)"
nl-eval -q -j "$threads" --no-adapt -m "$out/$a.tar" "$out/$a.test.nlt" > "$out/ttl.tsv"
nl-eval -q -j "$threads" --adapt -m "$out/$a.tar" "$out/$a.test.nlt" > "$out/ttl.on.tsv"
tail -n 1 "$out/ttl.on.tsv" >> "$out/ttl.tsv"
rm "$out/ttl.on.tsv"
awk -F '\t' -v OFS='\t' 'NR == 1 { print "test-time learning", $3, $4 }
    NR > 1 { print (NR == 2 ? "off" : "on"), $3, $4 }' "$out/ttl.tsv" | table

# 5. one refresh on B, as cron would run it, and the forgetting matrix
# (its losses on the first 2048 tokens of the new data, not 32768: time; the --watch
# sets are read nearly whole, so their figures come close to the matrix's)
say "5/7 refreshing on $b: nl-train --refresh --tokens 8192, --watch both held-out sets"
cp "$out/$a.tar" "$out/model.tar"
rm -f "$out/history.tsv"   # --history appends: this run's row alone
nl-train --refresh -j "$threads" -b 4 -T 128 --tokens 8192 -D train.eval_tokens=2048 \
    --history "$out/history.tsv" \
    --watch "$out/$a.test.nlt" --watch "$out/$b.test.nlt" \
    -i "$out/model.tar" -o "$out/model.tar" "$out/$b.nlt"
cut -f 4-10 "$out/history.tsv" | sed "s|$out/||g" | table
say "  the forgetting matrix, bits per byte (nl-eval --matrix: rows init, after $a, after $b)"
nl-eval -q -j "$threads" --no-adapt --matrix -m "$out/$a.tar" -m "$out/model.tar" \
    "$out/$a.test.nlt" "$out/$b.test.nlt" > "$out/matrix.tsv"
sed "s|$out/||g" "$out/matrix.tsv" | table

# 6. the memories on A's held-out text: how often each kind wrote (in all layers), the size
# of a write against the state it changed (rel), and its step size and retention gates
say "6/7 nl-probe-memory: what the refreshed model's memories wrote reading $a.test.nlt"
nl-probe-memory -s -j "$threads" -m "$out/model.tar" "$out/$a.test.nlt" > "$out/probe.tsv"
{
	printf 'memory\twrites\tmean rel\tmean eta\tmean alpha\n'
	awk -F '\t' 'NR > 1 { n[$2]++; w[$2] += $3 == 0; r[$2] += $7; e[$2] += $8; a[$2] += $12 }
	    END { for (m in n) printf "%s\t%d\t%.3g\t%s\t%s\n", m, w[m], r[m] / n[m],
	    m ~ /^cms/ ? "-" : sprintf("%.3g", e[m] / n[m]), m ~ /^cms/ ? "-" : sprintf("%.3g", a[m] / n[m]) }' \
	    "$out/probe.tsv" | sort
} | table

# 7. outputs
nl-convert "$out/model.tar" "$out/model.safetensors"
say "7/7 done. In $out/:"
table <<EOF
$a.tar	the small hope after training on $a (nl-checkpoint(5))
model.tar	the same model refreshed on $b, its history.tsv inside
model.safetensors	model.tar's parameters, for other tools
train.tsv	the training log (step, loss, rate, ...)
ttl.tsv	held-out loss without and with test-time learning
history.tsv	the refresh's row (nl-train(1) REFRESH)
matrix.tsv	the forgetting matrix, with ACC, BWT, FWT and forgetting
probe.tsv	every write of every memory (nl-probe-memory(1) OUTPUT)
*.nlt, *.deb	the token streams, and the packages they came from
EOF
say "cron keeps it learning: see examples/continual/crontab.example"
