# usage errors exit 2, data errors exit 1 with the position or the source
$NL_EXEC nl-tokenize -K 256 x; echo "K256 $?"
$NL_EXEC nl-tokenize -K 99999999999 x; echo "Khuge $?"
printf '97\n300\n' | $NL_EXEC nl-tokenize -d -t -k bytes; echo " range $?"
printf 'not a tokenizer\n' > bad.nlt
$NL_EXEC nl-tokenize -k bad.nlt /dev/null; echo "badtok $?"
$NL_EXEC nl-tokenize /nonexistent; echo "missing $?"
printf "x\n" | $NL_EXEC nl-tokenize -d; echo "not an id $?"
mkfifo ff
(printf abc > ff &)
$NL_EXEC nl-tokenize -t -P 50 -O h.txt ff; echo "P fifo $?"
printf '65 +3\n' | $NL_EXEC nl-tokenize -d -t; echo "signed flags $?"
