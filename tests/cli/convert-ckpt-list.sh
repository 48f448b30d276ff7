# -l lists every .nlt member of a real checkpoint and its tensors; the parameters exported
# from it have the same names, dtypes, shapes, sizes and CRCs
seq 1 500 | $NL_EXEC nl-tokenize -k bytes -o d.nlt
$NL_EXEC nl-train -q -j 1 -D layers=1 -D d_model=32 -D heads=2 -D mlp.hidden=32 -T 16 -b 4 -n 3 -o ck.tar d.nlt
$NL_EXEC nl-convert -l ck.tar > list.tsv && echo "list $?"
cut -f 1-5 list.tsv
$NL_EXEC nl-convert ck.tar m.npz && $NL_EXEC nl-convert -l m.npz | cut -f 2- > exported.tsv
grep '^params\.nlt' list.tsv | cut -f 2- | cmp - exported.tsv && echo "exported parameters match"
