echo 'hello, world' | $NL_EXEC nl-convert - out.nlt
