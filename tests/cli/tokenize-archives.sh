# tar (plain and xz), zip and a Debian package: each regular member is a document
mkdir -p pkg/usr/share/games/fortunes pkg/DEBIAN
printf 'one\n%%\ntwo\n' > pkg/usr/share/games/fortunes/a
printf 'three\n' > pkg/usr/share/games/fortunes/b
printf 'bin\000ary' > pkg/usr/share/games/fortunes/a.dat
printf 'Package: tiny\nVersion: 1\nArchitecture: all\nMaintainer: nl <nl@example.org>\nDescription: test\n' > pkg/DEBIAN/control
dpkg-deb -Zxz --root-owner-group -b pkg tiny.deb >/dev/null || exit 1
$NL_EXEC nl-tokenize -v -S % -I 'usr/share/games/fortunes/*' -X '*.dat' tiny.deb | $NL_EXEC nl-tokenize -d
(cd pkg/usr/share/games/fortunes && tar -cJf "$OLDPWD/f.tar.xz" a b)
$NL_EXEC nl-tokenize -t f.tar.xz | grep -c '^256$'
head -c 300 tiny.deb > cut.deb
$NL_EXEC nl-tokenize cut.deb > /dev/null
