# a single 3 MB line (longer than any buffer) round-trips through a BPE and the byte tokenizer
i=0
: > words
while [ $i -lt 200 ]; do printf 'alpha beta gamma%d delta,  ' $i >> words; i=$((i + 1)); done
for k in 1 2 3 4 5 6 7 8 9 10 11 12; do cat words words words words words words words words words words; done > line.txt
while [ $(wc -c < line.txt) -lt 3000000 ]; do cat line.txt line.txt > l2 && mv l2 line.txt; done
$NL_EXEC nl-tokenize -K 1000 -o tok.nlt line.txt || exit 1
$NL_EXEC nl-tokenize -k tok.nlt line.txt | $NL_EXEC nl-tokenize -d -k tok.nlt | cmp - line.txt && echo bpe
$NL_EXEC nl-tokenize line.txt | $NL_EXEC nl-tokenize -d | cmp - line.txt && echo bytes
