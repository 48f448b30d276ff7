# -F picks the output format; input formats are detected by magic, not by name
mk_pair a.nlt || exit 1
$NL_EXEC nl-convert -F npz a.nlt weights.bin &&
$NL_EXEC nl-convert weights.bin c.nlt && cmp a.nlt c.nlt &&
$NL_EXEC nl-convert a.nlt weights.unknown
