# the memory and CMS families: the gradient check passes (every meta_grad mode; CMS levels
# learning in context), training runs byte-identically run to run (-j 1 and -j 2) and
# resumed, and nl-eval reads the checkpoint; the CMS families also score as a stream with
# and without test-time learning (which differ), and the position curve (every scored
# target in one bucket) needs a stream
for model in titans selfmod; do
	for mode in full first none; do
		$NL_EXEC nl-train --check-gradients -D model=$model -D meta_grad=$mode > out.tsv &&
		    echo "$model $mode check exit $?"
	done
done
for model in hope hope-attention; do
	$NL_EXEC nl-train --check-gradients -D model=$model > out.tsv && echo "$model check exit $?"
done
seq 1 2000 | $NL_EXEC nl-tokenize -k bytes -o data.nlt
for model in titans selfmod hope hope-attention; do
	# the cms.* keys are ignored by titans and selfmod
	set -- -q -j 1 -D model=$model -D layers=1 -D d_model=16 -D heads=2 -D mlp.hidden=16 \
	    -D cms.hidden=16 -D cms.periods=4,8,0 -D cms.lr=0.05 -D chunk_memory=8 \
	    -D chunk_other=4 -T 24 -b 3 -e 3
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
	case $model in hope*) ;; *) continue ;; esac
	$NL_EXEC nl-eval --adapt -m a.tar data.nlt | sed 1d > adapt.tsv
	$NL_EXEC nl-eval --no-adapt -m a.tar data.nlt | sed 1d > frozen.tsv
	cut -f 1,2 adapt.tsv
	cut -f 3 adapt.tsv frozen.tsv | sort -u | wc -l | sed "s/^ */$model adapt and frozen losses: /"
	$NL_EXEC nl-eval --adapt -D eval.curve=position -m a.tar data.nlt | awk -F '\t' \
	    'NF == 6 && $2 ~ /^[0-9]+$/ && $3 ~ /^[0-9]+$/ { n++; t += $4 } END { print n " buckets, " t " tokens" }'
	$NL_EXEC nl-eval -D eval.curve=position -m a.tar data.nlt > /dev/null 2>&1
	echo "$model curve in windows: exit $?"
done
