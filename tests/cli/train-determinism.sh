# the same run twice at -j 1 gives byte-identical checkpoints, and so does a run resumed from
# its intermediate checkpoint
seq 1 2000 | $NL_EXEC nl-tokenize -k bytes -o data.nlt
set -- -q -j 1 -D layers=1 -D d_model=32 -D heads=2 -D mlp.hidden=32 -T 16 -b 4 -e 4
$NL_EXEC nl-train "$@" -n 8 -o a.tar data.nlt && echo "a $?"
$NL_EXEC nl-train "$@" -n 8 -o b.tar data.nlt && echo "b $?"
cmp a.tar b.tar && echo same
$NL_EXEC nl-train "$@" -n 4 -o c.tar data.nlt && echo "c $?"
$NL_EXEC nl-train -q -j 1 -i c.tar -n 8 -o c.tar data.nlt && echo "resumed $?"
cmp a.tar c.tar && echo "resume same"
$NL_EXEC nl-train "$@" -n 8 -s 2 -o d.tar data.nlt
cmp -s a.tar d.tar || echo "other seed differs"
# two workers: the same bits every run too
$NL_EXEC nl-train "$@" -j 2 -n 8 -o e.tar data.nlt
$NL_EXEC nl-train "$@" -j 2 -n 8 -o f.tar data.nlt
cmp e.tar f.tar && echo "two workers same"
