$NL_EXEC nl-convert -z 10 a.nlt b.nlt
