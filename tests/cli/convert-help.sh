$NL_EXEC nl-convert --help
