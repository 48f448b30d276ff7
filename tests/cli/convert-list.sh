# -l: member, tensor, dtype, shape, bytes, crc32 (checksums computed independently)
mk_pair a.nlt || exit 1
$NL_EXEC nl-convert -l a.nlt
$NL_EXEC nl-convert -F safetensors a.nlt - | $NL_EXEC nl-convert -l -
cat w.nlt ids.nlt | $NL_EXEC nl-convert -l -
