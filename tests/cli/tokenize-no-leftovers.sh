# a failure on either output leaves neither output nor temporary behind
printf 'some text\n' > x.txt
$NL_EXEC nl-tokenize -P 50 -O /nonexistent/h.nlt -o main.nlt x.txt; echo "holdout $?"
printf '\377\376' > bad.txt
$NL_EXEC nl-tokenize -t -k bytes -o main.nlt -d bad.txt; echo "decode $?"
ls -A | grep -v -e '^x.txt$' -e '^bad.txt$' -e '^\.std'
echo end
