# .nlt -> .nlt re-encodes at another level; back at the default level the bytes are canonical
mk_pair a.nlt || exit 1
$NL_EXEC nl-convert -z 9 a.nlt b.nlt &&
$NL_EXEC nl-convert -z 0 b.nlt c.nlt &&
$NL_EXEC nl-convert c.nlt d.nlt &&
cmp a.nlt d.nlt
