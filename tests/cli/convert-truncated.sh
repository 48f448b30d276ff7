mk_pair a.nlt || exit 1
head -c 100 a.nlt | $NL_EXEC nl-convert -l -
