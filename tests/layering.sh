#!/bin/sh
# nl — see LICENSE. The layering rules of DESIGN §6–8, checked: kernels/ includes nothing from
# lib/ (only its own headers and system ones), and the library never prints or exits.
bad=""
for f in kernels/*.c kernels/*.h; do
	[ -f "$f" ] || continue
	for inc in $(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f"); do
		[ -f "kernels/$inc" ] || bad="$bad $f:$inc"
	done
done
[ -z "$bad" ] && echo "ok - kernels/ includes only kernels/ headers" ||
    echo "not ok - kernels/ includes from elsewhere:$bad"
# cli.c is the one lib module for cmd/ only: it prints and exits by design
calls=$(grep -nE '\b(printf|fprintf|puts|perror|exit|abort)\s*\(' lib/*.c | grep -v '^lib/cli.c:' |
    grep -vE 'snprintf|vsnprintf' || true)
[ -z "$calls" ] && echo "ok - lib/ neither prints nor exits (cli.c aside)" ||
    { printf '%s\n' "$calls" | sed 's/^/# /'; echo "not ok - lib/ prints or exits"; }
