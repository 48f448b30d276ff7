# nl-eval scores every target once and reads the bundle from a file or stdin; a truncated
# bundle is an error
seq 1 500 | $NL_EXEC nl-tokenize -k bytes -o data.nlt
$NL_EXEC nl-train -q -j 1 -D layers=1 -D d_model=32 -D heads=2 -D mlp.hidden=32 -T 16 -b 4 -n 3 -o ck.tar data.nlt
$NL_EXEC nl-eval -j 1 -m ck.tar data.nlt > a.tsv && echo "file $?"
$NL_EXEC nl-eval -j 1 -m - data.nlt < ck.tar > b.tsv && echo "stdin $?"
head -1 a.tsv
cut -f 1-5 a.tsv | sed 1d
cut -f 1-5 b.tsv | sed 1d
head -c 300 ck.tar | $NL_EXEC nl-eval -m - data.nlt; echo "truncated $?"
$NL_EXEC nl-eval -T 129 -m ck.tar data.nlt; echo "T $?"
$NL_EXEC nl-eval data.nlt; echo "no model $?"
