# the SYNOPSIS of nl-convert(1) is what --help prints, and its EXAMPLES run
page="$NL_TOP/man/nl-convert.1"
syn=$(man_synopsis "$page")
help=$($NL_EXEC nl-convert --help | sed 's/^usage: //')
[ "$syn" = "$help" ] && echo "synopsis ok" || echo "synopsis '$syn' != help '$help'"
mk_pair a.nlt >/dev/null || exit 1
$NL_EXEC nl-convert a.nlt model.safetensors || exit 1
man_examples "$page" | sed 's/nl-convert/$NL_EXEC nl-convert/g' | while read -r cmd; do
	eval "$cmd" >/dev/null || echo "example failed: $cmd"
done
echo done
