#!/bin/sh
# nl — see LICENSE. `make lint`: mandoc -Tlint on every page (run inside man/ so that the
# pages' cross-references to each other resolve). Prints one ok/not ok/skip line.
if ! command -v mandoc >/dev/null 2>&1; then
	echo "skip - mandoc lint (mandoc not installed)"
	exit 0
fi
out=$(cd man && mandoc -Tlint -Wstyle ./*.[1-9] 2>&1)
if [ -n "$out" ]; then
	printf '%s\n' "$out" | sed 's/^/# /'
	echo "not ok - mandoc lint"
	exit 1
fi
echo "ok - mandoc lint"
