# binary input from a terminal is refused without -f (script(1) provides the terminal)
script -qec "$NL_EXEC nl-convert -l -" /dev/null
