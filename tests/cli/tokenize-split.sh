# -P/-O: a single document splits exactly at floor(p*n/100); several split at a document start
printf '0123456789' > one.txt
$NL_EXEC nl-tokenize -t -P 50 -O hold.txt one.txt | tr '\n' ' '; echo
tr '\n' ' ' < hold.txt; echo
printf 'aaaa\n%%\nbbbb\n%%\ncc\n' | $NL_EXEC nl-tokenize -t -S % -P 30 -O hold2.txt | tr '\n' ' '; echo
tr '\n' ' ' < hold2.txt; echo
$NL_EXEC nl-tokenize -P 50 one.txt
