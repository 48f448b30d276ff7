$NL_EXEC nl-convert /nonexistent out.nlt
