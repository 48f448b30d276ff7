# nl-probe-memory on the tiny preset: a TSV row per write of every memory, head and CMS
# level; the same writes as tensors; models with nothing to probe and bad -L refused
yes "to be, or not to be, that is the question" | head -c 1025 > text.txt
$NL_EXEC nl-tokenize text.txt > t.nlt
for m in hope titans; do
	$NL_EXEC nl-train -q -j 1 -c tiny -D model=$m -D chunk_memory=16 -n 2 -b 2 -T 32 -e 0 \
	    -o $m.tar t.nlt || exit 1
	# 1,025 tokens read: m_mem writes every 16, m_k … every 8, levels every 8 and 64
	$NL_EXEC nl-probe-memory -j 1 -s -m $m.tar t.nlt > $m.tsv
	head -n 1 $m.tsv | tr '\t' ' '
	awk -F '\t' -v m=$m 'NR > 1 { n[$2]++; if ($4 % 8) odd++ }
	    END { for (k in n) print m, k, n[k]; print m, "off-chunk", odd + 0 }' $m.tsv | sort
done
# layer 1 only; tensors (shapes)
$NL_EXEC nl-probe-memory -j 1 -s -L 1 -m hope.tar t.nlt | awk 'NR > 1 && $1 != 1' | wc -l
$NL_EXEC nl-probe-memory -j 1 -m titans.tar -o probe.nlt t.nlt &&
    $NL_EXEC nl-convert -l probe.nlt | cut -f 2-4
$NL_EXEC nl-train -q -j 1 -c tiny -n 1 -b 2 -T 32 -e 0 -o tf.tar t.nlt || exit 1
$NL_EXEC nl-probe-memory -m tf.tar -o probe2.nlt t.nlt; echo "transformer $?"
$NL_EXEC nl-probe-memory -L 2 -m hope.tar -o probe2.nlt t.nlt; echo "-L 2 $?"
$NL_EXEC nl-probe-memory -L 0,x -m hope.tar -o probe2.nlt t.nlt; echo "-L 0,x $?"
$NL_EXEC nl-probe-memory t.nlt; echo "no -m $?"
[ -e probe2.nlt ] || echo "no output left"
# spectra at two positions (TSV: rows per position; tensors), the state dumped; bad positions
$NL_EXEC nl-probe-memory -j 1 -s --at 100,1k -L 0 -m titans.tar t.nlt |
    awk -F '\t' 'NF == 7 && $1 != "layer" { n[$5]++; if ($6 < 1 || $6 > 32) bad++ }
    END { for (p in n) print "rank rows at", p, n[p]; print "erank out of range", bad + 0 }' | sort
$NL_EXEC nl-probe-memory -j 1 --at 512 --dump -m titans.tar -o d.nlt t.nlt &&
    $NL_EXEC nl-convert -l d.nlt | cut -f 2-4 | grep "@512\|probe.at\|erank" | head -n 6
$NL_EXEC nl-probe-memory --at 2k -m titans.tar -o probe2.nlt t.nlt; echo "--at 2k $?"
$NL_EXEC nl-probe-memory --at 9,5 -m titans.tar -o probe2.nlt t.nlt; echo "--at 9,5 $?"
$NL_EXEC nl-probe-memory --dump -m titans.tar -o probe2.nlt t.nlt; echo "--dump alone $?"
[ -e probe2.nlt ] || echo "no output left"
