# the whole-model gradient check of the default configuration passes and lists every tensor
$NL_EXEC nl-train --check-gradients > out.tsv && echo "exit $?"
head -1 out.tsv
cut -f 1 out.tsv | sed 1d | tr '\n' ' '; echo
