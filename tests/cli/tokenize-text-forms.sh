# -t writes decimal ids (eot 256 before each document); -F adds flags (DOC 1, SCORE 2)
printf 'ab' | $NL_EXEC nl-tokenize -t
printf 'ab' | $NL_EXEC nl-tokenize -F -t
printf 'a\n%%\nb\n%%\n%%\n' | $NL_EXEC nl-tokenize -t -S % | tr '\n' ' '
echo
# the text form decodes with the default byte tokenizer
printf 'ab' | $NL_EXEC nl-tokenize -t | $NL_EXEC nl-tokenize -d
echo
