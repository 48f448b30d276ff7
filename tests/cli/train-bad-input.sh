# bad input: a clear message, exit 1 (data) or 2 (usage), nothing overwritten
seq 1 200 | nl-tokenize -k bytes -o data.nlt
printf 'keep\n' > ck.tar
set -- -q -j 1 -D layers=1 -D d_model=32 -D heads=2 -D mlp.hidden=32 -b 2
nl-train "$@" -T 16 -D vocab_size=100 -o ck.tar data.nlt; echo "vocab $?"
printf '' | nl-tokenize -k bytes -o empty.nlt
nl-train "$@" -T 16 -o ck.tar empty.nlt; echo "empty $?"
seq 1 3 | nl-tokenize -k bytes -o short.nlt
nl-train "$@" -T 16 -D train.valid_percent=0 -o ck.tar short.nlt; echo "short $?"
nl-train "$@" -D optim.lrr=1 -o ck.tar data.nlt; echo "typo $?"
nl-train "$@" -D optim.lr=-1 -o ck.tar data.nlt; echo "range $?"
nl-train "$@" -T 129 -o ck.tar data.nlt; echo "seqlen $?"
nl-train "$@" -D model=hopes -o ck.tar data.nlt; echo "family $?"
nl-train "$@" data.nlt; echo "no output $?"
nl-train "$@" -c nosuch.cfg -o ck.tar data.nlt; echo "config $?"
nl-train "$@" -i data.nlt -o ck.tar data.nlt; echo "not a bundle $?"
cat ck.tar
nl-train "$@" -T 16 -n 2 -o good.tar data.nlt
tar xf good.tar config
sed 's/nl-checkpoint 1/nl-checkpoint 2/' config > config2 && mv config2 config
tar cf newer.tar config
nl-train "$@" -i newer.tar -o ck.tar data.nlt; echo "newer $?"
nl-train "$@" --bogus; echo "bogus $?"
seq 1 300 > text.txt
nl-tokenize -q -K 270 -o tok.nlt text.txt
nl-tokenize -k tok.nlt text.txt > bpe.nlt
nl-train "$@" -T 16 --valid bpe.nlt -o ck.tar data.nlt; echo "valid tokenizer $?"
nl-train "$@" -T 16 -k tok.nlt -o ck.tar data.nlt; echo "k tokenizer $?"
cat ck.tar
