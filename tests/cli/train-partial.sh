# --partial grows a model from a checkpoint: the tensors it has are kept, the new layer is
# initialised, and the run starts at step 0; without --partial the missing layer is an error
seq 1 500 | $NL_EXEC nl-tokenize -k bytes -o data.nlt
set -- -q -j 1 -D d_model=32 -D heads=2 -D mlp.hidden=32 -T 16 -b 2
$NL_EXEC nl-train "$@" -D layers=1 -n 3 -o one.tar data.nlt
$NL_EXEC nl-train "$@" -i one.tar -D layers=2 -n 2 -o two.tar data.nlt; echo "strict $?"
$NL_EXEC nl-train "$@" -i one.tar -D layers=2 --partial -n 2 -o two.tar data.nlt; echo "partial $?"
tar xf two.tar state && grep '^step' state
nl-convert -l two.tar | cut -f 2 | grep -c '^layers\.1\.'
$NL_EXEC nl-train "$@" --partial -o x.tar data.nlt; echo "no -i $?"
