# memory settings outside their valid range are usage errors naming the key and the range
try() {
	$NL_EXEC nl-train --dry-run -c tiny -D vocab_size=256 "$@"
	echo "exit $?"
}
try -D model=selfmod -D eta_max=1.5
try -D model=titans -D eta_max=0
try -D model=selfmod -D chunk_memory=12 -D chunk_other=8
try -D model=titans -D heads=5
try -D model=selfmod -D chunk_other=0
try -D model=selfmod -D inner_step=fast
try -D model=selfmod -D meta_grad=second
try -D model=titans -D adaptive_q=1
