# every program's man page SYNOPSIS is what its --help prints (whitespace aside)
for src in "$NL_TOP"/cmd/*.c; do
	prog=$(basename "$src" .c)
	syn=$(man_synopsis "$NL_TOP/man/$prog.1" | tr -s ' \n' '  ' | sed 's/ $//')
	help=$($NL_EXEC "$prog" --help | sed 's/^usage: //' | tr -s ' \n' '  ' | sed 's/^ //; s/ $//')
	[ "$syn" = "$help" ] && echo "$prog ok" || echo "$prog: synopsis '$syn' != help '$help'"
done
