# nl-synth feeds nl-train and nl-eval; the same seed writes the same bytes; every task runs;
# a text task decodes to the same text through bytes or a BPE
$NL_EXEC nl-synth -l | grep -v "^	" | cut -f 1 > tasks
wc -l < tasks | tr -d ' '
while read -r t; do
	# intents' parameters set its count
	if [ "$t" = intents ]; then
		$NL_EXEC nl-synth -o "$t.nlt" "$t" per_class=1 || echo "$t failed"
	else
		$NL_EXEC nl-synth -n 3 -T 200 -o "$t.nlt" "$t" || echo "$t failed"
	fi
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
