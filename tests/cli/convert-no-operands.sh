$NL_EXEC nl-convert
