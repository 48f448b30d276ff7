# binary output to a terminal is refused without -f (script(1) provides the terminal)
mk_pair a.nlt || exit 1
script -qec "$NL_EXEC nl-convert a.nlt" /dev/null
