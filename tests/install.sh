#!/bin/sh
# nl — see LICENSE. `make install DESTDIR=…` puts programs, pages, libnl.a, headers and nl.pc
# in place; a program builds against the installed library through pkg-config; `make
# uninstall` removes everything it installed.
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
prefix=/usr/local
make -s install DESTDIR="$dest" PREFIX=$prefix >/dev/null 2>&1 || { echo "not ok - make install"; exit 1; }
root="$dest$prefix"
missing=""
for f in bin/nl-convert lib/libnl.a lib/pkgconfig/nl.pc include/nl/tfile.h share/man/man1/nl-convert.1 \
    share/man/man5/nl-tensor.5 share/man/man7/nl.7; do
	[ -f "$root/$f" ] || missing="$missing $f"
done
[ -z "$missing" ] && echo "ok - make install DESTDIR (programs, pages, library, headers, nl.pc)" ||
    echo "not ok - make install DESTDIR: missing$missing"
# the .pc file names the installed prefix; point pkg-config at the staged copy
sed "s|^prefix=.*|prefix=$root|" "$root/lib/pkgconfig/nl.pc" > "$dest/nl.pc"
if ${CC:-cc} -std=c11 -D_POSIX_C_SOURCE=200809L $LDFLAGS -o "$dest/mw" examples/make-weights.c \
    $(PKG_CONFIG_PATH="$dest" pkg-config --cflags --libs nl) 2>"$dest/cc.log" &&
    "$dest/mw" | "$root/bin/nl-convert" -l - | grep -q 'embed.weight'; then
	echo "ok - a program builds against the installed libnl through pkg-config"
else
	sed 's/^/# /' "$dest/cc.log"
	echo "not ok - a program builds against the installed libnl through pkg-config"
fi
make -s uninstall DESTDIR="$dest" PREFIX=$prefix >/dev/null 2>&1
left=$(find "$root" -type f | sed "s|^$root/||")
[ -z "$left" ] && echo "ok - make uninstall removes every installed file" ||
    echo "not ok - make uninstall leaves: $left"
