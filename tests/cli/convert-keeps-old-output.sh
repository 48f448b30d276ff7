# a failed conversion leaves an existing output untouched and no temporary behind
hdr='{"x":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]}}'
pad=$(( (8 - ${#hdr} % 8) % 8 ))
len=$(( ${#hdr} + pad ))
{ printf "\\$(printf %03o $len)\\000\\000\\000\\000\\000\\000\\000"; printf '%s' "$hdr"; printf "%${pad}s" ''; printf '\200\077\000\100'; } > bf.safetensors
echo old > out.npy
$NL_EXEC nl-convert bf.safetensors out.npy
rc=$?
[ "$(cat out.npy)" = old ] || echo "output clobbered"
ls -A | grep -v -e '^bf.safetensors$' -e '^out.npy$' -e '^\.std' && echo "temporary left"
$NL_EXEC nl-convert -l bf.safetensors
exit $rc
