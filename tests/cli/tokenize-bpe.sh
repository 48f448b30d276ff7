# -K learns a deterministic BPE; its streams decode exactly; -k accepts a checkpoint bundle
cat "$NL_TOP"/man/*.[1-9] "$NL_TOP/README.md" > corpus.txt
$NL_EXEC nl-tokenize -K 400 -o tok.nlt corpus.txt || exit 1
$NL_EXEC nl-tokenize -K 400 -o tok2.nlt - < corpus.txt || exit 1
cmp tok.nlt tok2.nlt && echo deterministic
$NL_EXEC nl-convert -l tok.nlt | cut -f2,3
$NL_EXEC nl-convert -l tok.nlt | cut -f4 | sed -n 2,3p
$NL_EXEC nl-tokenize -k tok.nlt corpus.txt > s.nlt || exit 1
$NL_EXEC nl-tokenize -d -k tok.nlt s.nlt | cmp - corpus.txt && echo decodes
bytes=$($NL_EXEC nl-tokenize -t corpus.txt | wc -l)
bpe=$($NL_EXEC nl-tokenize -t -k tok.nlt corpus.txt | wc -l)
[ "$bpe" -lt $((bytes * 2 / 3)) ] && echo shorter
mkdir b && cp tok.nlt b/tokenizer.nlt && (cd b && tar --format=ustar -cf ../ck.tar tokenizer.nlt)
$NL_EXEC nl-tokenize -k ck.tar corpus.txt | cmp - s.nlt && echo bundle
$NL_EXEC nl-tokenize -d s.nlt
