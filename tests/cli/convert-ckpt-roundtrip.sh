# a checkpoint exported to every tensor format and built back gives params.nlt and config
# byte for byte, only those two members, and the same evaluation (bits per byte aside: the
# tokenizer is not exported); pipes and compressed bundles work too
seq 1 500 | $NL_EXEC nl-tokenize -k bytes -o d.nlt
$NL_EXEC nl-train -q -j 1 -D layers=1 -D d_model=32 -D heads=2 -D mlp.hidden=32 -T 16 -b 4 -n 3 -o ck.tar d.nlt
mkdir orig && (cd orig && tar xf ../ck.tar) || exit 1
$NL_EXEC nl-eval -j 1 -m ck.tar d.nlt | cut -f 1-3,5 > orig.tsv
check() { # bundle label
	rm -rf x && mkdir x && (cd x && tar xf "../$1") || return 1
	echo "$2: members $(tar tf "$1" | tr '\n' ' ')"
	cmp orig/params.nlt x/params.nlt && cmp orig/config x/config && echo "$2: params.nlt and config identical"
	$NL_EXEC nl-eval -j 1 -m "$1" d.nlt > e.tsv
	cut -f 1-3,5 e.tsv | cmp - orig.tsv && echo "$2: same loss and perplexity, bpb $(sed -n 2p e.tsv | cut -f 4)"
}
for f in safetensors npz gguf nlt; do
	$NL_EXEC nl-convert ck.tar "m.$f" && $NL_EXEC nl-convert "m.$f" "ck-$f.tar" && check "ck-$f.tar" "$f"
done
gzip -c ck.tar | $NL_EXEC nl-convert -F gguf - - | $NL_EXEC nl-convert -F tar - - > piped.tar && check piped.tar pipe
# a GGUF from another format keeps bare keys; they are read as well
$NL_EXEC nl-convert m.safetensors bare.gguf && $NL_EXEC nl-convert bare.gguf bare.tar && check bare.tar bare-gguf
$NL_EXEC nl-convert -v ck.tar m2.npz 2>&1 | sed 's/^/v: /'
