# any bytes, NUL and invalid UTF-8 included, come back exactly through the byte tokenizer
printf 'caf\303\251 \000\377\376 \r\n\n  tabs\there\200' > f.bin
head -c 100000 "$NL_TOP/README.md" >> f.bin
$NL_EXEC nl-tokenize f.bin | $NL_EXEC nl-tokenize -d | cmp - f.bin && echo same
$NL_EXEC nl-tokenize -t f.bin | $NL_EXEC nl-tokenize -d -t -k bytes | cmp - f.bin && echo same text
gzip -c f.bin > f.gz
$NL_EXEC nl-tokenize f.gz | $NL_EXEC nl-tokenize -d | cmp - f.bin && echo same gzip
: > empty
$NL_EXEC nl-tokenize -t empty | wc -l
