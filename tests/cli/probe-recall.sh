# nl-probe-memory --recall (every mode) and --retention on the tiny preset: rows per head,
# size and distance, the linear delta rule's exact recall of d_h = 32 orthogonal keys, the
# tensors' shapes, and bad input
yes "to be, or not to be, that is the question" | head -c 1025 > text.txt
$NL_EXEC nl-tokenize text.txt > t.nlt
for m in hope titans hope-attention; do
	$NL_EXEC nl-train -q -j 1 -c tiny -D model=$m -D chunk_memory=16 -n 1 -b 2 -T 32 -e 0 \
	    -o $m.tar t.nlt || exit 1
done
# direct: 2 layers × 4 heads × sizes 1 … 256; errors finite, accuracy a share
$NL_EXEC nl-probe-memory -j 1 -s --recall direct -m hope.tar > d.tsv
head -n 1 d.tsv | tr '\t' ' '
awk -F '\t' 'NR > 1 { n++; if ($6 != $6 + 0 || $6 < 0 || $7 < 0 || $7 > 1) bad++; s[$5]++ }
    END { print "direct rows", n, "sizes", length(s), "bad", bad + 0 }' d.tsv
# linear with the delta rule: exact to 32 keys, then not
$NL_EXEC nl-probe-memory -j 1 -s --recall linear --eta 1 -D inner_step=literal -D projector=0 \
    -L 0 -m titans.tar |
    awk -F '\t' 'NR > 1 { if ($5 <= 32 && ($6 > 1e-9 || $7 != 1)) miss++;
    if ($5 > 32 && $6 > 1e-3) worse++; n++ }
    END { print "linear rows", n, "inexact up to 32:", miss + 0, "degraded past 32:", worse }'
# model: sizes are chunks of 16
for m in hope titans; do
	$NL_EXEC nl-probe-memory -j 1 -s --recall model --sizes 16,64 -m $m.tar |
	    awk -F '\t' -v m=$m 'NR > 1 { n[$5]++ } END { for (k in n) print m, "model N", k, n[k] }' |
	    sort -k 4n
done
$NL_EXEC nl-probe-memory -j 1 --recall model --sizes 16,32,48 -L 1 -m hope.tar -o r.nlt &&
    $NL_EXEC nl-convert -l r.nlt | cut -f 2-4
# retention over the text: 5 memories × 4 heads and 2 levels, per distance
$NL_EXEC nl-probe-memory -j 1 -s --retention --distances 0,16,64,1k -L 1 -m hope.tar t.nlt > r.tsv
head -n 1 r.tsv | tr '\t' ' '
awk -F '\t' 'NR > 1 { n[$4]++; if ($6 == $6 + 0 && ($6 < 0 || $6 > 1)) bad++; if ($4 == 0 && $5 != 0) early++ }
    END { for (k in n) print "retention at", k, n[k]; print "held off [0, 1]", bad + 0,
    "trace before any write", early + 0 }' r.tsv | sort -k 3n
$NL_EXEC nl-probe-memory -j 1 --retention --distances 0,100 -m titans.tar -o rt.nlt t.nlt &&
    $NL_EXEC nl-convert -l rt.nlt | cut -f 2-4
# hope-attention: only its levels learn, so only they keep the association
$NL_EXEC nl-probe-memory -j 1 -s --retention --distances 64 -m hope-attention.tar t.nlt | cut -f 1-4
# bad input
p() { $NL_EXEC nl-probe-memory "$@" > /dev/null; echo "$* $?"; }
p --recall bogus -m hope.tar
p --recall direct -m hope.tar t.nlt
p --sizes 4 -m hope.tar t.nlt
p --recall model --sizes 24 -m hope.tar
p --recall direct --sizes 4,2 -m hope.tar
p --recall direct --retention -m hope.tar
p --recall direct --at 5 -m hope.tar
p --retention --eta 0.5 -m hope.tar t.nlt
p --recall linear --alpha 2 -m hope.tar
p --retention --distances 2k -m hope.tar t.nlt
p --recall direct -m hope-attention.tar
p --seed 3 -m hope.tar t.nlt
