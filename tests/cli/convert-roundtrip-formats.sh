# a.nlt -> b.FORMAT -> c.nlt is byte-identical for every multi-tensor format
mk_pair a.nlt || exit 1
for f in npz safetensors gguf; do
	$NL_EXEC nl-convert a.nlt b.$f || exit 1
	$NL_EXEC nl-convert b.$f c.nlt || exit 1
	cmp a.nlt c.nlt || exit 1
	echo "$f ok"
done
