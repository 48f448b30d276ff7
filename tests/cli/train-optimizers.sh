# every outer optimizer trains, resumes bit for bit from its optim.nlt, and moves the weights
# its own way; a checkpoint's optimizer cannot change on resume
seq 1 2000 | $NL_EXEC nl-tokenize -k bytes -o data.nlt
set -- -q -j 1 -D layers=1 -D d_model=32 -D heads=2 -D mlp.hidden=32 -T 16 -b 4 -e 3 \
    -D m3.period=2 -D optim.schedule=constant -D optim.warmup=0 -D optim.lr=0.01
for o in sgd momentum adamw muon m3 m3-ema delta-momentum dmgd dgd; do
	$NL_EXEC nl-train "$@" -D optim=$o -n 6 -o $o.tar data.nlt
	$NL_EXEC nl-train "$@" -D optim=$o -n 3 -o r.tar data.nlt
	$NL_EXEC nl-train -q -j 1 -i r.tar -n 6 -o r.tar data.nlt
	cmp $o.tar r.tar && echo "$o resumes"
	$NL_EXEC nl-convert $o.tar $o.npz
done
# the Adam-preconditioned delta momentum and a hope model (its CMS levels are matrices to m3)
$NL_EXEC nl-train "$@" -D optim=delta-momentum -D delta.precond=adam -n 6 -o da.tar data.nlt
$NL_EXEC nl-train "$@" -D optim=delta-momentum -D delta.precond=adam -n 3 -o r.tar data.nlt
$NL_EXEC nl-train -q -j 1 -i r.tar -n 6 -o r.tar data.nlt
cmp da.tar r.tar && echo "delta-momentum adam resumes"
$NL_EXEC nl-train "$@" -D model=hope -D cms.periods=8,0 -D optim=m3 -n 6 -o h.tar data.nlt
$NL_EXEC nl-train "$@" -D model=hope -D cms.periods=8,0 -D optim=m3 -n 3 -o r.tar data.nlt
$NL_EXEC nl-train -q -j 1 -i r.tar -n 6 -o r.tar data.nlt
cmp h.tar r.tar && echo "hope m3 resumes"
# levels stepping by dgd and by dmgd, under the outer dgd
for rule in dgd dmgd; do
	$NL_EXEC nl-train "$@" -D model=hope -D cms.periods=8,0 -D optim=dgd -D cms.optim=$rule \
	    -n 6 -o h.tar data.nlt
	$NL_EXEC nl-train "$@" -D model=hope -D cms.periods=8,0 -D optim=dgd -D cms.optim=$rule \
	    -n 3 -o r.tar data.nlt
	$NL_EXEC nl-train -q -j 1 -i r.tar -n 6 -o r.tar data.nlt
	cmp h.tar r.tar && echo "hope dgd with $rule levels resumes"
done
# nine rules, nine different sets of weights
for o in sgd momentum adamw muon m3 m3-ema delta-momentum dmgd dgd; do
	cksum < $o.npz
done | sort -u | wc -l | tr -d ' '
$NL_EXEC nl-train -q -j 1 -i adamw.tar -D optim=muon -n 8 -o x.tar data.nlt
echo "switch $?"
