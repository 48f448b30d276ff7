# an independently written .npy survives .npy -> .nlt -> .npy byte for byte, and back again
mk_npy w.npy '<f4' '(2, 3)' '\000\000\200\077\000\000\000\100\000\000\100\100\000\000\200\100\000\000\240\100\000\000\300\100'
$NL_EXEC nl-convert w.npy w.nlt &&
mkdir back &&
$NL_EXEC nl-convert w.nlt back/w.npy &&
cmp w.npy back/w.npy &&
$NL_EXEC nl-convert back/w.npy w2.nlt &&
cmp w.nlt w2.nlt
