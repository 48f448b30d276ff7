# the memory families: the gradient check passes in every meta_grad mode, training runs and
# is byte-identical run to run (-j 1 and -j 2) and resumed, and nl-eval reads the checkpoint
for model in titans selfmod; do
	for mode in full first none; do
		$NL_EXEC nl-train --check-gradients -D model=$model -D meta_grad=$mode > out.tsv &&
		    echo "$model $mode check exit $?"
	done
done
seq 1 2000 | $NL_EXEC nl-tokenize -k bytes -o data.nlt
for model in titans selfmod; do
	set -- -q -j 1 -D model=$model -D layers=1 -D d_model=16 -D heads=2 -D mlp.hidden=16 \
	    -D chunk_memory=8 -D chunk_other=4 -T 24 -b 3 -e 3
	$NL_EXEC nl-train "$@" -n 6 -o a.tar data.nlt && echo "$model a $?"
	$NL_EXEC nl-train "$@" -n 6 -o b.tar data.nlt
	cmp a.tar b.tar && echo "$model same"
	$NL_EXEC nl-train "$@" -n 3 -o c.tar data.nlt
	$NL_EXEC nl-train -q -j 1 -i c.tar -n 6 -o c.tar data.nlt
	cmp a.tar c.tar && echo "$model resume same"
	$NL_EXEC nl-train "$@" -j 2 -n 6 -o e.tar data.nlt
	$NL_EXEC nl-train "$@" -j 2 -n 6 -o f.tar data.nlt
	cmp e.tar f.tar && echo "$model two workers same"
	$NL_EXEC nl-eval -m a.tar data.nlt | cut -f 1,2 | sed 1d
done
