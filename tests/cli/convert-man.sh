# the SYNOPSIS of nl-convert(1) is what --help prints
syn=$(man_synopsis "$NL_TOP/man/nl-convert.1")
help=$($NL_EXEC nl-convert --help | sed 's/^usage: //')
[ "$syn" = "$help" ] && echo "synopsis ok" || echo "synopsis '$syn' != help '$help'"
