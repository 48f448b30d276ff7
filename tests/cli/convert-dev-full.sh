mk_pair a.nlt || exit 1
$NL_EXEC nl-convert a.nlt - >/dev/full
