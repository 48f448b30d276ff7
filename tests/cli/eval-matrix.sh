# nl-eval --matrix: checkpoints trained domain after domain, each on every domain's stream,
# with the initialised model's row and the continual summary; mismatched counts are usage
seq 1 400 | $NL_EXEC nl-tokenize -o a.nlt
seq 1 400 | tr '0-9' 'a-j' | $NL_EXEC nl-tokenize -o b.nlt
set -- -q -j 1 -D layers=1 -D d_model=32 -D heads=2 -D mlp.hidden=32 -T 16 -b 4 -e 0 \
    -D train.valid_percent=0
$NL_EXEC nl-train "$@" -n 20 -o A.tar a.nlt
$NL_EXEC nl-train "$@" -i A.tar -n 40 -o B.tar b.nlt
$NL_EXEC nl-eval -j 1 --matrix -m A.tar -m B.tar a.nlt b.nlt > m.tsv && echo "matrix $?"
cut -f 1 m.tsv
awk -F '\t' '!/^#/ { print NF }' m.tsv | sort -u
# the summary is EVAL's formulas on the table's -bpb, recomputed here for two tasks
awk -F '\t' '
$1 == "(init)" { i2 = $3 } $1 == "A.tar" { a1 = $2; a2 = $3 } $1 == "B.tar" { b1 = $2; b2 = $3 }
/^# / { got[$1] = $2 }
END {
	want["# ACC"] = -(b1 + b2) / 2; want["# BWT"] = -b1 + a1; want["# FWT"] = -a2 + i2
	want["# forgetting"] = -a1 + b1; want["# learning_accuracy"] = -(a1 + b2) / 2
	for (k in want) { d = got[k] - want[k]; if (d < 0) d = -d; if (d > 2e-6) print k, "differs" }
	print "summary checked"
}' m.tsv
$NL_EXEC nl-eval --matrix -m A.tar a.nlt b.nlt; echo "one checkpoint $?"
$NL_EXEC nl-eval --matrix -m A.tar -m B.tar a.nlt; echo "counts differ $?"
$NL_EXEC nl-eval -m A.tar -m B.tar a.nlt; echo "two -m without --matrix $?"
$NL_EXEC nl-eval --no-adapt -D eval.curve=position --matrix -m A.tar -m B.tar a.nlt b.nlt; echo "matrix and a curve $?"
