# -l reads a checkpoint-style tar bundle, plain or compressed, and lists its .nlt members
mk_pair params.nlt >/dev/null || exit 1
printf 'format = nl-checkpoint 1\n' > config
tar --format=posix -cf ck.tar config params.nlt w.nlt
$NL_EXEC nl-convert -l ck.tar
gzip -c ck.tar | $NL_EXEC nl-convert -l - | tail -n 1
xz -c ck.tar | $NL_EXEC nl-convert -l - | tail -n 1
gzip -c params.nlt | $NL_EXEC nl-convert -l - 2>err.txt
echo "gzip not tar: $? $(cat err.txt)"
# a bundle cut at an entry boundary (after config and params.nlt) is truncated, not shorter
tar --format=ustar -cf u.tar config params.nlt w.nlt
size=$(wc -c < params.nlt)
head -c $((1024 + 512 + (size + 511) / 512 * 512)) u.tar | $NL_EXEC nl-convert -l - >/dev/null 2>err.txt
echo "cut: $? $(cat err.txt)"
