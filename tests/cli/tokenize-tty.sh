printf 'x' > x.txt
script -qec "$NL_EXEC nl-tokenize x.txt" /dev/null
