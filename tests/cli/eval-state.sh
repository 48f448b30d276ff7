# memory-state files: a stream cut in two (mid teach window, mid memory chunk) and scored
# with -W then -M gives the one run's losses token by token and its final state byte for
# byte, for every family; reset = doc reads each document from the meta-learned state;
# nl-train carries a state into checkpoints (-M, --keep-state); states of another
# architecture, files of another kind and misuse are refused
seq 1 500 | head -c 1083 | $NL_EXEC nl-tokenize -k bytes -o a.nlt
seq 1 500 | tail -c +1084 | $NL_EXEC nl-tokenize -k bytes -o b.nlt
cat a.nlt b.nlt > ab.nlt
losses() { awk -F '\t' 'NF == 4 && $2 ~ /^[0-9]+$/ { print $2, $3, $4 }'; }
for model in transformer titans selfmod hope hope-attention; do
	$NL_EXEC nl-train -q -j 1 -D model=$model -D layers=1 -D d_model=16 -D heads=2 \
	    -D mlp.hidden=16 -D cms.hidden=16 -D cms.periods=4,8,0 -D cms.lr=0.05 \
	    -D chunk_memory=8 -D chunk_other=4 -T 24 -b 3 -n 4 -o $model.tar ab.nlt
	for mode in --adapt --no-adapt; do
		set -- -j 1 $mode -D eval.curve=token -m $model.tar
		$NL_EXEC nl-eval "$@" -W whole.nlt ab.nlt | losses > whole.txt
		$NL_EXEC nl-eval "$@" -W half.nlt a.nlt | losses > split.txt
		$NL_EXEC nl-eval "$@" -M half.nlt -W rest.nlt b.nlt | losses >> split.txt
		echo "$model $mode: $(wc -l < whole.txt) targets," \
		    "$(cmp -s whole.txt split.txt && echo same losses)," \
		    "$(cmp -s whole.nlt rest.nlt && echo same state)"
		case $model in hope*) ;; *) break ;; esac
	done
done
# an input longer than nl-eval's reading piece (65536 tokens), cut elsewhere
seq 1 14000 | head -c 40001 | $NL_EXEC nl-tokenize -k bytes -o big1.nlt
seq 1 14000 | tail -c +40002 | $NL_EXEC nl-tokenize -k bytes -o big2.nlt
cat big1.nlt big2.nlt > big.nlt
set -- -j 1 --adapt -D eval.curve=token -m selfmod.tar
$NL_EXEC nl-eval "$@" big.nlt | losses | sed -n '40002,$p' > whole.txt
$NL_EXEC nl-eval "$@" -W half.nlt big1.nlt > /dev/null
$NL_EXEC nl-eval "$@" -M half.nlt big2.nlt | losses > split.txt
echo "long input: $(wc -l < whole.txt) targets, $(cmp -s whole.txt split.txt && echo same losses)"
# a window longer than the pieces (-T 2 with frozen levels) runs again in pieces
for model in hope hope-attention; do
	set -- -j 1 --no-adapt -D cms.lr=0 -T 2 -D eval.curve=token -m $model.tar
	$NL_EXEC nl-eval "$@" ab.nlt | losses > whole.txt
	$NL_EXEC nl-eval "$@" -W half.nlt a.nlt | losses > split.txt
	$NL_EXEC nl-eval "$@" -M half.nlt b.nlt | losses >> split.txt
	echo "$model pieces of 2: $(wc -l < whole.txt) targets," \
	    "$(cmp -s whole.txt split.txt && echo same losses)"
done
# attention slides over the last `context` keys: a state of a shorter context has too few
$NL_EXEC nl-eval -j 1 --adapt -D context=24 -W short.nlt -m hope-attention.tar a.nlt > /dev/null
$NL_EXEC nl-eval -j 1 --adapt -M short.nlt -m hope-attention.tar b.nlt > /dev/null
echo "shorter context $?"
# the teach window under way at the cut, and the pending chunk of the memory
$NL_EXEC nl-eval -q -j 1 --adapt -W half.nlt -m hope.tar a.nlt > /dev/null
$NL_EXEC nl-convert -l half.nlt | cut -f 2,4 | grep -E 'window|pending.k|stream'
# reset = doc: the second document of ab.nlt is read as if alone (positions from 1 again)
for reset in doc never; do
	$NL_EXEC nl-eval -j 1 --adapt -D reset=$reset -D eval.curve=token -m hope.tar ab.nlt |
	    losses > docs.txt
	$NL_EXEC nl-eval -j 1 --adapt -D eval.curve=token -m hope.tar b.nlt | losses > b.txt
	tail -n "$(wc -l < b.txt)" docs.txt | cmp -s - b.txt && echo "reset=$reset: b alone"
done
# a state carried by checkpoints
$NL_EXEC nl-train -q -j 1 -i hope.tar -M half.nlt -n 5 -o kept.tar ab.nlt && echo "-M $?"
$NL_EXEC nl-train -q -j 1 -i kept.tar --keep-state -n 6 -o kept2.tar ab.nlt
$NL_EXEC nl-convert -l kept2.tar | cut -f 1 | grep -c memory.nlt | sed 's/^/kept tensors: /'
$NL_EXEC nl-train -j 1 -i kept.tar -n 6 -o dropped.tar ab.nlt 2> err.txt
grep warning err.txt
$NL_EXEC nl-convert -l dropped.tar | grep -c memory.nlt
$NL_EXEC nl-eval -j 1 --adapt -M kept2.tar -m kept2.tar b.nlt | cut -f 2 | sed 1d
$NL_EXEC nl-eval -j 1 --adapt -M half.nlt -m kept2.tar b.nlt | cut -f 2 | sed 1d
# a model that differs only in its context takes the state
$NL_EXEC nl-train -q -j 1 -D model=hope -D layers=1 -D d_model=16 -D heads=2 \
    -D cms.hidden=16 -D cms.periods=4,8,0 -D cms.lr=0.05 -D chunk_memory=8 \
    -D chunk_other=4 -D context=40 -T 24 -b 3 -n 2 -o long.tar ab.nlt
$NL_EXEC nl-eval -j 1 --adapt -M half.nlt -m long.tar b.nlt > /dev/null && echo "context $?"
# refused
$NL_EXEC nl-eval --adapt -M half.nlt -m titans.tar b.nlt; echo "other family $?"
$NL_EXEC nl-eval --adapt -M kept.tar -m hope.tar -D cms.periods=4,16,0 b.nlt
echo "other periods $?"
$NL_EXEC nl-eval --adapt -M a.nlt -m hope.tar b.nlt; echo "tokens as state $?"
$NL_EXEC nl-eval --adapt -M hope.tar -m hope.tar b.nlt; echo "checkpoint without $?"
head -c 2000 half.nlt > cut.nlt
$NL_EXEC nl-eval --adapt -M cut.nlt -m hope.tar b.nlt; echo "truncated $?"
$NL_EXEC nl-eval -M half.nlt -m hope.tar b.nlt; echo "no stream $?"
$NL_EXEC nl-eval --adapt -W x.nlt -m hope.tar a.nlt b.nlt; echo "two inputs $?"
$NL_EXEC nl-eval --adapt -W - -m hope.tar a.nlt; echo "stdout $?"
$NL_EXEC nl-eval --adapt -M - -m - b.nlt < half.nlt; echo "stdin twice $?"
$NL_EXEC nl-train -q -i hope.tar --keep-state -n 5 -o x.tar ab.nlt; echo "nothing kept $?"
$NL_EXEC nl-train -q --keep-state -n 5 -o x.tar ab.nlt; echo "keep without -i $?"
$NL_EXEC nl-train -q -i titans.tar -M half.nlt -n 5 -o x.tar ab.nlt; echo "train other $?"
ls x.nlt x.tar 2> /dev/null || echo "nothing written"
