# -l reads a checkpoint-style tar bundle, plain or compressed, and lists its .nlt members
mk_pair params.nlt >/dev/null || exit 1
printf 'format = nl-checkpoint 1\n' > config
tar --format=posix -cf ck.tar config params.nlt w.nlt
$NL_EXEC nl-convert -l ck.tar
gzip -c ck.tar | $NL_EXEC nl-convert -l - | tail -n 1
xz -c ck.tar | $NL_EXEC nl-convert -l - | tail -n 1
gzip -c params.nlt | $NL_EXEC nl-convert -l -
