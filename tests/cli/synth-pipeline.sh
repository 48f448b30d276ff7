# nl-synth feeds nl-train and nl-eval; the same seed writes the same bytes; every task runs;
# a text task decodes to the same text through bytes or a BPE
$NL_EXEC nl-synth -l | grep -v "^	" > tasks
wc -l < tasks | tr -d ' '
while IFS='	' read -r t help; do
	# -T where the task has a length of its own; intents' parameters set its count
	case $help in
	*"-T "*) $NL_EXEC nl-synth -n 3 -T 200 -o "$t.nlt" "$t" || echo "$t failed" ;;
	*"set the count"*) $NL_EXEC nl-synth -o "$t.nlt" "$t" per_class=1 || echo "$t failed" ;;
	*) $NL_EXEC nl-synth -n 3 -o "$t.nlt" "$t" || echo "$t failed" ;;
	esac
done < tasks
$NL_EXEC nl-synth -s 7 -n 50 -T 32 mqar pairs=4 vocab=64 > a.nlt
$NL_EXEC nl-synth -s 7 -n 50 -T 32 mqar pairs=4 vocab=64 | cmp - a.nlt && echo "same bytes"
$NL_EXEC nl-synth -s 8 -n 50 -T 32 mqar pairs=4 vocab=64 | cmp -s - a.nlt || echo "seed matters"
$NL_EXEC nl-synth -s 1 -n 200 -T 32 mqar pairs=4 vocab=64 |
    $NL_EXEC nl-train -q -j 1 -D model=transformer -n 3 -b 4 -T 32 -e 0 -o m.tar - &&
    $NL_EXEC nl-eval -m m.tar a.nlt | cut -f 1,2
$NL_EXEC nl-synth -n 2 -T 300 passkey | $NL_EXEC nl-tokenize -d > bytes.txt
grep -c "What is the pass key? The pass key is [0-9]*$" bytes.txt
$NL_EXEC nl-tokenize -K 300 -o tok.nlt bytes.txt
$NL_EXEC nl-synth -k tok.nlt -n 2 -T 300 passkey | $NL_EXEC nl-tokenize -d -k tok.nlt |
    cmp - bytes.txt && echo "bpe decodes the same"
# an ids stream read back as text rows: id and flags (DOC 1, SCORE 2)
$NL_EXEC nl-synth -n 1 -T 8 mqar pairs=2 vocab=32 | $NL_EXEC nl-tokenize -d -F | tr '\n' ' '
echo
# rows of a large vocabulary read back from their text
$NL_EXEC nl-synth -n 2 -T 16 mqar pairs=2 vocab=1000 | $NL_EXEC nl-tokenize -d -F > rows.txt
$NL_EXEC nl-tokenize -d -F rows.txt | cmp - rows.txt && echo "rows read back"
$NL_EXEC nl-tokenize -d -F -k bytes rows.txt; echo "-F with -k $?"
