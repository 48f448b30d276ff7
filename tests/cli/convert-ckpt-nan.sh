# a bundle built from parameters with one NaN weight (written into an exported safetensors
# file by hand) is accepted by nl-convert, which checks names, shapes and dtypes, not values;
# nl-eval then fails on it with "loss is not finite"
seq 1 500 | $NL_EXEC nl-tokenize -k bytes -o d.nlt
$NL_EXEC nl-train -q -j 1 -D layers=1 -D d_model=32 -D heads=2 -D mlp.hidden=32 -T 16 -b 4 -n 3 -o ck.tar d.nlt
$NL_EXEC nl-convert ck.tar m.safetensors || exit 1
# the data starts after the 8-byte header length and the header: embed.weight[0][0] = NaN
n=$(od -An -tu8 -N8 m.safetensors | tr -d ' ')
printf '\000\000\300\177' | dd of=m.safetensors bs=1 seek=$((8 + n)) conv=notrunc 2>/dev/null
$NL_EXEC nl-convert m.safetensors nan.tar; echo "import $?"
$NL_EXEC nl-eval -j 1 -m nan.tar d.nlt; echo "eval $?"
# training from it stops at the first step, says why, and leaves the existing output alone
printf 'keep\n' > out.tar
$NL_EXEC nl-train -q -j 1 -i nan.tar -n 2 -o out.tar d.nlt; echo "train $?"
cat out.tar
