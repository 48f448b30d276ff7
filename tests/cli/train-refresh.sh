# nl-train --refresh: in place, with its history in the checkpoint and on --history, data
# already learned skipped (-f again), --learn cms leaving every other parameter's bytes,
# two refreshes at once (one refused, one waiting), SIGKILL and SIGTERM mid-refresh leaving
# the old model whole, and bad usage
yes "to be, or not to be, that is the question" | head -c 2000 > old.txt
yes "all the world's a stage, and all the men and women merely players" | head -c 2000 > new.txt
$NL_EXEC nl-tokenize old.txt > old.nlt && $NL_EXEC nl-tokenize new.txt > new.nlt || exit 1
$NL_EXEC nl-train -q -j 1 -c tiny -D model=hope -n 2 -b 2 -T 32 -e 0 -o hope.tar old.nlt || exit 1
cp hope.tar m.tar
$NL_EXEC nl-train --refresh -q -j 1 -b 2 -T 32 --history h.tsv --watch old.nlt -i m.tar -o m.tar \
    new.nlt; echo "refresh $?"
head -n 1 h.tsv | tr '\t' ' '
awk -F '\t' 'NR > 1 { print NF, $2, $4, $5, $6, ($8 > $9 ? "loss fell" : "loss rose"), ($10 ~ /^old.nlt=[0-9.]+$/) }' h.tsv
# the checkpoint holds the same history
# the model keeps its own schedule in its config, not the refresh's constant rate
tar -xOf m.tar config | grep -E '^optim\.(schedule|warmup) '
tar -xOf m.tar history.tsv | cmp - h.tsv && echo "history.tsv in the checkpoint"
# the same data again: skipped, then -f
$NL_EXEC nl-train --refresh -j 1 -b 2 -T 32 --history h.tsv -i m.tar -o m.tar new.nlt 2> skip.err
echo "again $? rows $(($(wc -l < h.tsv) - 1))"
sed 's/hash [0-9a-f]*/hash H/' skip.err
$NL_EXEC nl-train --refresh -f -q -j 1 -b 2 -T 32 -n 3 --history h.tsv -i m.tar -o m.tar new.nlt
echo "forced $? rows $(($(wc -l < h.tsv) - 1)) steps $(tail -n 1 h.tsv | cut -f 5)"
# --learn cms: every parameter outside the CMS levels keeps its bytes
$NL_EXEC nl-train --refresh -q -j 1 -b 2 -T 32 -n 5 --learn cms -i hope.tar -o cms.tar new.nlt
$NL_EXEC nl-convert -l hope.tar | grep '^params' | sort > a.lst
$NL_EXEC nl-convert -l cms.tar | grep '^params' | sort > b.lst
echo "non-CMS tensors changed: $(diff a.lst b.lst | grep '^>' | grep -vc '\.cms\.')"
echo "CMS tensors changed: $(diff a.lst b.lst | grep '^>' | grep -c '\.cms\.[0-9]*\.w_')"
$NL_EXEC nl-train --refresh -q -j 1 -b 2 -T 32 -n 5 --learn cms:1 -i hope.tar -o cms1.tar new.nlt
$NL_EXEC nl-convert -l cms1.tar | grep '^params' | sort > c.lst
echo "cms:1 changed: $(diff a.lst c.lst | grep '^>' | cut -f 2 | sed 's/layers\.[0-9]*\.//' | sort -u | tr '\n' ' ')"
# two at once: a transformer refresh long enough to be caught holding the lock
$NL_EXEC nl-train -q -j 1 -c tiny -n 1 -b 2 -T 32 -e 0 -o tf.tar old.nlt || exit 1
cp tf.tar tf0.tar
long() { exec $NL_EXEC nl-train --refresh -q -j 1 -b 8 -T 64 -n 400 "$@" -i tf.tar -o tf.tar new.nlt; }
held() { for i in $(seq 1 200); do [ -s tf.tar.lock ] && [ "$(cat tf.tar.lock)" = "$1" ] && return 0; sleep 0.05; done; return 1; }
long & a=$!
held $a || echo "no lock seen"
$NL_EXEC nl-train --refresh -q -j 1 -b 2 -T 32 -n 1 -f -i tf.tar -o tf.tar old.nlt 2> busy.err
echo "second $?"
sed "s/pid $a/pid A/" busy.err
$NL_EXEC nl-train --refresh -q -j 1 -b 2 -T 32 -n 1 --wait -i tf.tar -o tf.tar old.nlt
echo "waited $?"
wait $a; echo "first $?"
echo "refreshes recorded: $(tar -xOf tf.tar history.tsv | tail -n +2 | cut -f 2 | tr '\n' ' ')"
# SIGKILL and SIGTERM mid-refresh: the model is the one before, whole
for sig in KILL TERM; do
	cp tf.tar before.tar
	long -f & a=$!
	held $a || echo "no lock seen"
	sleep 0.3
	kill -$sig $a; wait $a; echo "$sig exit $?"
	cmp -s tf.tar before.tar && echo "$sig: model unchanged"
	$NL_EXEC nl-eval -j 1 -m tf.tar old.nlt > /dev/null && echo "$sig: model loads"
	ls -a | grep -c '^\.tf\.tar\.' | sed "s/^/$sig: temporaries left /"
done
# a --watch set that cannot be read fails before any step, the model untouched
cp m.tar m0.tar
$NL_EXEC nl-train --refresh -f -q -j 1 -b 2 -T 32 --watch nothere.nlt -i m.tar -o m.tar new.nlt 2> w.err
echo "bad watch $?"; cat w.err; cmp -s m.tar m0.tar && echo "model untouched"
# bad usage
r() { $NL_EXEC nl-train "$@" > /dev/null 2> r.err; echo "$* $?"; cat r.err; }
r --refresh -o m.tar new.nlt
r --refresh -i m.tar -o - new.nlt
r --refresh --learn bogus -i m.tar -o m.tar new.nlt
r --refresh --learn cms:7 -f -i m.tar -o m.tar new.nlt
r --refresh --learn cms -f -i tf.tar -o tf.tar new.nlt
r --wait -i m.tar -o m.tar new.nlt
r --refresh -c tiny -i m.tar -o m.tar new.nlt
