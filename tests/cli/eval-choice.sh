# nl-eval --choice: multiple choice by likelihood on PIQA's format and the generic one; a
# model trained on one document repeated picks its continuations; bad items, labels and models;
# and per-depth results of a depth=sweep task stream
for i in $(seq 1 300); do printf 'the sky is blue. the grass is green. the sun is hot.\n%%\n'; done > t.txt
$NL_EXEC nl-tokenize -S % -o t.nlt t.txt
$NL_EXEC nl-train -q -j 1 -D layers=1 -D d_model=32 -D heads=2 -D mlp.hidden=64 -T 64 -b 8 \
    -n 150 -D optim.lr=0.01 -D optim.warmup=10 -e 0 -D train.valid_percent=0 -o ck.tar t.nlt
cat > items.jsonl <<'ITEMS'
{"context": "the sky is", "choices": [" green", " blue"], "label": 1}
{"context": "the sky is blue. the grass is", "choices": [" green", " hot"], "label": 0}

{"context": "the sky is blue. the grass is green. the sun is", "choices": [" blue", " green", " hot"], "label": 2}
ITEMS
$NL_EXEC nl-eval -m ck.tar --choice items.jsonl
printf '{"goal": "the sky", "sol1": "is blue.", "sol2": "is hot."}\n{"goal": "the sun", "sol1": "a", "sol2": "b"}\n' > piqa.jsonl
printf '0\n1\n' > labels.lst
$NL_EXEC nl-eval -m ck.tar --choice piqa.jsonl --labels labels.lst | cut -f 1-3
printf '0\n' > short.lst
$NL_EXEC nl-eval -m ck.tar --choice piqa.jsonl --labels short.lst; echo "labels short $?"
printf '{"context": "a", "choices": ["b"]}\n' > one.jsonl
$NL_EXEC nl-eval -m ck.tar --choice one.jsonl; echo "one choice $?"
printf '{"context": "a", "choices": ["b", "c"]}\n{"context": "a", "choices": ["b", "c"], "label": 2}\n' > bad.jsonl
$NL_EXEC nl-eval -m ck.tar --choice bad.jsonl; echo "label out of range $?"
printf '{"context": "a", "choices": ["b", "c"]\n' > trunc.jsonl
$NL_EXEC nl-eval -m ck.tar --choice trunc.jsonl; echo "truncated $?"
$NL_EXEC nl-eval -m ck.tar --labels labels.lst t.nlt; echo "labels alone $?"
$NL_EXEC nl-eval -m ck.tar --choice piqa.jsonl t.nlt; echo "choice and a stream $?"
# a depth=sweep task stream also gets accuracy and exact match per depth
$NL_EXEC nl-synth -n 22 -T 200 -o pk.nlt passkey depth=sweep
$NL_EXEC nl-eval -m ck.tar pk.nlt | sed -n '4,$p' | cut -f 2,3 | tr '\t\n' ': '; echo
$NL_EXEC nl-eval -m ck.tar -b 4 --choice piqa.jsonl; echo "choice and -b $?"
$NL_EXEC nl-eval -m ck.tar --adapt --choice piqa.jsonl; echo "choice and --adapt $?"
