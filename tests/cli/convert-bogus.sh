$NL_EXEC nl-convert --bogus x.nlt
