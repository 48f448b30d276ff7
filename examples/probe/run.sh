#!/bin/sh
# nl — see LICENSE. nl-probe-memory's pictures (issue 9): a hope and a titans checkpoint read
# held-out MQAR examples (the task they trained on) and every probe runs on both; gnuplot
# draws build/probe/*.png:
#   updates.png    the update norm ‖W' − W‖ of every memory and CMS level over the stream
#   capacity.png   M_mem's recall against the number of associations N, all three modes
#   retention.png  how much of one association each memory and level holds after D tokens
#   gates.png      histograms of the write gates η_t and α_t over M_mem's chunks
# Usage: sh examples/probe/run.sh [hope.tar titans.tar]   (PROBE_OUT: the output directory)
# Default checkpoints: build/recall/hope.tar and titans.tar, trained by examples/recall/run.sh
# (PROBE_STEPS steps, default 400, when missing). Needs gnuplot (Debian gnuplot-nox).
set -e
command -v gnuplot >/dev/null || { echo "probe: needs gnuplot (apt-get install gnuplot-nox)" >&2; exit 1; }
out=${PROBE_OUT:-build/probe}
mkdir -p "$out"
hope=${1:-build/recall/hope.tar}
titans=${2:-build/recall/titans.tar}
if [ ! -f "$hope" ] || [ ! -f "$titans" ]; then
	[ $# -eq 0 ] || { echo "probe: $hope or $titans: no such checkpoint" >&2; exit 1; }
	sh examples/recall/run.sh "${PROBE_STEPS:-400}" hope titans
fi
text=build/recall/test8.nlt
mkdir -p build/recall
[ -f "$text" ] || bin/nl-synth -s 2 -n 500 -T 64 -o "$text" mqar pairs=8 vocab=128
# mean K1 K2 C [D]: the means over layers and heads of columns C (and D) of a probe's TSV per
# value of column K2, as gnuplot data blocks: one per value of column K1, headed by it,
# separated by two blank lines
mean() {
	awk -F '\t' -v k1="$1" -v k2="$2" -v c="$3" -v d="${4:-$3}" 'NR > 1 && $c == $c + 0 {
		key = $k1 SUBSEP $k2; s[key] += $c; t[key] += $d; n[key]++
		if (!($k1 in seen)) { seen[$k1] = 1; order[++nk] = $k1 }
	} END {
		for (i = 1; i <= nk; i++) {
			print order[i], order[i], order[i]
			for (key in s) {
				split(key, p, SUBSEP)
				if (p[1] == order[i]) print p[2], s[key] / n[key], t[key] / n[key] | "sort -g"
			}
			close("sort -g"); print ""; print ""
		}
	}'
}
for m in hope titans; do
	eval ck=\$$m
	echo "probe: $m ($ck)" >&2
	bin/nl-probe-memory -j 1 -s -m "$ck" "$text" > "$out/$m.writes.tsv"
	bin/nl-probe-memory -j 1 -s --recall direct -m "$ck" > "$out/$m.direct.tsv"
	bin/nl-probe-memory -j 1 -s --recall model -m "$ck" > "$out/$m.model.tsv"
	bin/nl-probe-memory -j 1 -s --retention \
	    --distances 1,2,4,8,16,32,64,128,256,512,1k,2k,4k,8k,16k,31k -m "$ck" "$text" \
	    > "$out/$m.retention.tsv"
	# update norms per position, held per distance, recall error and accuracy per N
	mean 2 4 6 < "$out/$m.writes.tsv" > "$out/$m.updates.dat"
	mean 2 4 6 < "$out/$m.retention.tsv" > "$out/$m.retention.dat"
	{ mean 4 5 6 7 < "$out/$m.direct.tsv"; mean 4 5 6 7 < "$out/$m.model.tsv"; } \
	    > "$out/$m.capacity.dat"
	# M_mem's gates: each chunk's mean η_t and α_t
	awk -F '\t' 'NR > 1 && $2 == "m_mem" { print $8, $12 }' "$out/$m.writes.tsv" \
	    > "$out/$m.gates.dat"
done
# the linear memory under the delta rule: the reference every capacity curve is read against
bin/nl-probe-memory -j 1 -s --recall linear --eta 1 -D inner_step=literal -D projector=0 -L 0 \
    -m "$hope" > "$out/linear.tsv"
mean 4 5 6 7 < "$out/linear.tsv" > "$out/linear.capacity.dat"
dh=$(awk -F '\t' 'NR > 1 { n = $5 } END { print n / 8 }' "$out/hope.direct.tsv")
gnuplot -e "out='$out'; dh=$dh" examples/probe/plots.gp
for f in updates capacity retention gates; do echo "$out/$f.png"; done
