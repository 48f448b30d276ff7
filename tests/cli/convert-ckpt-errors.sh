# exporting what is not a checkpoint and building a bundle from tensors that do not make the
# model are errors naming the input; an existing output stays as it was
seq 1 500 | $NL_EXEC nl-tokenize -k bytes -o d.nlt
$NL_EXEC nl-train -q -j 1 -D layers=1 -D d_model=32 -D heads=2 -D mlp.hidden=32 -T 16 -b 4 -n 3 -o ck.tar d.nlt
$NL_EXEC nl-convert ck.tar m.safetensors || exit 1
mk_pair pair.nlt >/dev/null || exit 1
echo keep > keep && cp keep out.tar && cp keep out.npz
echo hello > hello.txt && tar cf plain.tar hello.txt
try() { # label input output
	$NL_EXEC nl-convert "$2" "$3"
	echo "$1: $?, $3 $(cmp -s keep "$3" && echo intact || echo changed)"
}
try "plain tar" plain.tar out.npz
gzip -c pair.nlt > pair.nlt.gz
try "gzip, not a tar" pair.nlt.gz out.npz
try "bundle to bundle" ck.tar out.tar
try "no configuration" pair.nlt out.tar
tar xf ck.tar params.nlt
try "params.nlt alone" params.nlt out.tar
# the safetensors header is JSON: edit values of the same length in place
LC_ALL=C sed 's/"layers":"1"/"layers":"2"/' m.safetensors > missing.safetensors
try "missing tensors" missing.safetensors out.tar
LC_ALL=C sed 's/"mlp.hidden":"32"/"mlp.hidden":"16"/' m.safetensors > shape.safetensors
try "wrong shape" shape.safetensors out.tar
$NL_EXEC nl-convert m.safetensors m.nlt && cat m.nlt w.nlt > extra.nlt
try "extra tensor" extra.nlt out.tar
LC_ALL=C sed 's/"kind":"params"/"kind":"memory"/' m.safetensors > kind.safetensors
try "not parameters" kind.safetensors out.tar
LC_ALL=C sed 's/"heads":"2"/"heads":"3"/' m.safetensors > heads.safetensors
try "bad configuration" heads.safetensors out.tar
$NL_EXEC nl-convert ck.tar ok.gguf && LC_ALL=C sed 's/nl\.heads/nl.headz/' ok.gguf > key.gguf
try "unknown nl key" key.gguf out.tar
ls .*.tar.* .*.npz.* 2>/dev/null; echo "no temporaries left"
