# nl-train --refresh --learn memory: test-time learning alone. The memory state it saves is
# the one nl-eval --adapt -W leaves after reading the same data (and goes on from the
# model's own state the next time), every parameter and the optimizer keep their bytes,
# its losses and --watch bits per byte are nl-eval --no-adapt's from the states before and
# after, and --tokens limits what it reads; nl-eval --matrix --own-state; --tokens as a
# training refresh's budget; a full disk; usage
yes "to be, or not to be, that is the question" | head -c 2000 > old.txt
yes "all the world's a stage, and all the men and women merely players" | head -c 2000 > new.txt
yes "now is the winter of our discontent made glorious summer" | head -c 1500 > more.txt
for f in old new more; do $NL_EXEC nl-tokenize $f.txt > $f.nlt || exit 1; done
$NL_EXEC nl-train -q -j 1 -c tiny -D model=hope -n 2 -b 2 -T 32 -e 0 -o hope.tar old.nlt || exit 1
cp hope.tar m.tar
$NL_EXEC nl-train --refresh -q -j 1 --learn memory --history h.tsv --watch old.nlt -i m.tar \
    -o m.tar new.nlt; echo "refresh $?"
# the state: nl-eval's after the same stream
$NL_EXEC nl-eval -q --adapt -j 1 -W s1.nlt -m hope.tar new.nlt > /dev/null || exit 1
tar -xOf m.tar memory.nlt | cmp - s1.nlt && echo "memory.nlt is nl-eval -W's"
# nothing else moved
for f in params.nlt optim.nlt state config; do
	tar -xOf m.tar $f | cmp -s - "$(tar -xf hope.tar $f && echo $f)" && echo "$f unchanged"
done
# the row: no steps, no rate; its measures are nl-eval --no-adapt's before and after
field() { awk -F '\t' -v f="$2" 'NR > 1 { r = $f } END { print r }' "$1"; }
echo "tokens $(field h.tsv 4) steps $(field h.tsv 5) learn $(field h.tsv 6) lr $(field h.tsv 7)"
loss() { $NL_EXEC nl-eval -q --no-adapt -j 1 "$@" | awk 'NR == 2 { printf "%.6f", $3 }'; }
bpb() { $NL_EXEC nl-eval -q --no-adapt -j 1 "$@" | awk 'NR == 2 { printf "%.6g", $4 }'; }
[ "$(field h.tsv 8)" = "$(loss -m hope.tar new.nlt)" ] && echo "loss_before: from the meta-learned state"
[ "$(field h.tsv 9)" = "$(loss -M m.tar -m hope.tar new.nlt)" ] && echo "loss_after: from the new state"
[ "$(field h.tsv 10)" = "old.nlt=$(bpb -M m.tar -m hope.tar old.nlt)" ] && echo "watch: from the new state"
# the next refresh goes on from the state the model carries
$NL_EXEC nl-train --refresh -q -j 1 --learn memory --history h.tsv -i m.tar -o m.tar more.nlt
$NL_EXEC nl-eval -q --adapt -j 1 -M s1.nlt -W s2.nlt -m hope.tar more.nlt > /dev/null || exit 1
tar -xOf m.tar memory.nlt | cmp - s2.nlt && echo "second refresh goes on from the first's state"
[ "$(field h.tsv 8)" = "$(loss -M s1.nlt -m hope.tar more.nlt)" ] && echo "its loss_before: from the carried state"
# nl-eval --matrix --own-state: a checkpoint is its parameters and the state it carries
# (each row as nl-eval -M reads it); without it the refreshed model is the one before
$NL_EXEC nl-eval -q -j 1 --no-adapt --own-state --matrix -m hope.tar -m m.tar old.nlt \
    new.nlt > own.tsv || exit 1
$NL_EXEC nl-eval -q -j 1 --no-adapt --matrix -m hope.tar -m m.tar old.nlt new.nlt \
    > plain.tsv || exit 1
row() { awk -F '\t' -v m="$2" '$1 == m { print $2, $3 }' "$1"; }
each() { for f in old new; do $NL_EXEC nl-eval -q --no-adapt -j 1 "$@" -m hope.tar $f.nlt |
    awk 'NR == 2 { printf "%s", $4 }'; [ $f = old ] && printf ' '; done; echo; }
[ "$(row own.tsv m.tar)" = "$(each -M m.tar)" ] && echo "--own-state: m.tar's row from its state"
[ "$(row own.tsv hope.tar)" = "$(each)" ] && echo "--own-state: hope.tar has none"
[ "$(row plain.tsv m.tar)" = "$(row plain.tsv hope.tar)" ] && echo "without it: the same rows"
# a training refresh keeps the state the model carries; data a memory refresh read is new
# to it
$NL_EXEC nl-train --refresh -q -j 1 -b 2 -T 32 -n 2 -i m.tar -o t.tar more.nlt
tar -xOf t.tar memory.nlt | cmp - s2.nlt && echo "a training refresh carries it"
echo "learned by: $(tar -xOf t.tar history.tsv | tail -n +2 | cut -f 2,6 | tr '\t\n' ': ')"
# --tokens: it reads the first 500 tokens (the bytes tokenizer's first 499 bytes after the
# stream's first token), and the history knows those, not the whole data
$NL_EXEC nl-train --refresh -q -j 1 --learn memory --tokens 500 --history b.tsv -i hope.tar \
    -o b.tar new.nlt
head -c 499 new.txt | $NL_EXEC nl-tokenize > first.nlt || exit 1
$NL_EXEC nl-eval -q --adapt -j 1 -W first.st -m hope.tar first.nlt > /dev/null || exit 1
tar -xOf b.tar memory.nlt | cmp - first.st && echo "--tokens 500: the state after 500 tokens"
echo "tokens $(field b.tsv 4)"
[ "$(field b.tsv 8)" = "$(loss -m hope.tar first.nlt)" ] && echo "--tokens 500: loss_before on those"
$NL_EXEC nl-train --refresh -j 1 --learn memory --tokens 500 -i b.tar -o b.tar new.nlt 2>&1 |
    sed 's/hash [0-9a-f]*/hash H/'
$NL_EXEC nl-train --refresh -q -j 1 --learn memory --tokens 1000 -i b.tar -o b.tar new.nlt
echo "1000 tokens: $?, refreshes $(tar -xOf b.tar history.tsv | tail -n +2 | cut -f 4 | tr '\n' ' ')"
# --tokens as a training refresh's budget: 300 tokens in windows of 2 x 32 are 5 steps
$NL_EXEC nl-train --refresh -q -j 1 -b 2 -T 32 --tokens 300 --history c.tsv -i hope.tar \
    -D train.eval_tokens=1000 -D optim.warmup=7 -o c.tar new.nlt
echo "training budget: steps $(field c.tsv 5), tokens $(field c.tsv 4)"
# keys the refresh sets for itself go back to the model's values, -D or not
tar -xOf c.tar config | grep -E '^(train\.eval_tokens|optim\.(warmup|schedule)) '

# -D ttl=0 holds for the refresh alone: the CMS levels read without learning (the state is
# nl-eval --no-adapt's), and the model keeps ttl = 1
$NL_EXEC nl-train --refresh -q -j 1 --learn memory -D ttl=0 -i hope.tar -o z.tar new.nlt
$NL_EXEC nl-eval -q --no-adapt -j 1 -W fixed.st -m hope.tar new.nlt > /dev/null || exit 1
tar -xOf z.tar memory.nlt | cmp - fixed.st && echo "-D ttl=0: the CMS levels did not learn"
tar -xOf z.tar config | grep '^ttl '
# reset = doc, with a document starting at the last token of a piece of 8192: the state is
# still the one nl-eval leaves reading it all at once
head -c 8190 /dev/zero | tr '\0' 'x' > d1.txt
yes "a short second document" | head -c 300 > d2.txt
$NL_EXEC nl-tokenize d1.txt d2.txt > docs.nlt || exit 1
$NL_EXEC nl-train --refresh -q -j 1 --learn memory -D reset=doc -D train.eval_tokens=16 \
    -i hope.tar -o d.tar docs.nlt
$NL_EXEC nl-eval -q --adapt -D reset=doc -j 1 -W docs.st -m hope.tar docs.nlt > /dev/null || exit 1
tar -xOf d.tar memory.nlt | cmp - docs.st && echo "reset=doc across pieces: nl-eval's state"
# short data is read as it is (no training windows to fill)
printf 'tiny input' > short.txt; $NL_EXEC nl-tokenize short.txt > short.nlt
$NL_EXEC nl-train --refresh -q -j 1 --learn memory -i hope.tar -o s.tar short.nlt
echo "short data $?, tokens $(tar -xOf s.tar history.tsv | tail -n 1 | cut -f 4)"
# a full disk (a file size limit of 1 MiB here) leaves the model as it was, and no temporary
cp m.tar full.tar
(ulimit -f 1024; trap '' XFSZ; exec $NL_EXEC nl-train --refresh -q -j 1 -f --learn memory \
    -i full.tar -o full.tar new.nlt) 2> full.err
echo "disk full $?"; sed 's/\.full\.tar\.[A-Za-z0-9]*/TEMP/' full.err
cmp -s full.tar m.tar && echo "model unchanged"
ls -a | grep -c '^\.full\.tar\.' | sed 's/^/temporaries left /'
# bad usage
r() { $NL_EXEC nl-train "$@" > /dev/null 2> r.err; echo "$* $?"; cat r.err; }
$NL_EXEC nl-train -q -j 1 -c tiny -n 1 -b 2 -T 32 -e 0 -o tf.tar old.nlt || exit 1
r --refresh --learn memory -i tf.tar -o tf.tar new.nlt
r --refresh --learn memory -n 3 -i m.tar -o m.tar new.nlt
r --refresh --learn memory -T 16 -i m.tar -o m.tar new.nlt
r --refresh --tokens 100 -n 3 -i m.tar -o m.tar new.nlt
r --refresh --tokens 0 -i m.tar -o m.tar new.nlt
r --tokens 100 -i m.tar -o m.tar new.nlt
e() { $NL_EXEC nl-eval "$@" > /dev/null 2> r.err; echo "nl-eval $* $?"; cat r.err; }
e --own-state --matrix -m hope.tar -m m.tar old.nlt new.nlt
e --own-state --no-adapt -m m.tar old.nlt
