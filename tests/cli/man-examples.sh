# the EXAMPLES of every man page run on small files of the names they use
mk_pair a.nlt >/dev/null || exit 1
cp a.nlt x.nlt && cp a.nlt weights.nlt && cp w.nlt b.nlt
$NL_EXEC nl-convert a.nlt model.safetensors && $NL_EXEC nl-convert a.nlt weights.npz || exit 1
cat "$NL_TOP"/man/*.[1-9] > shakespeare.txt
mkdir -p pkg/usr/share/games/fortunes pkg/DEBIAN
printf 'one\n%%\ntwo\n' > pkg/usr/share/games/fortunes/a
printf 'Package: f\nVersion: 1\nArchitecture: all\nMaintainer: nl <nl@example.org>\nDescription: t\n' > pkg/DEBIAN/control
dpkg-deb --root-owner-group -b pkg fortunes.deb >/dev/null || exit 1
# a small training checkpoint and streams for nl-eval(1), whose page runs before nl-train(1)'s
$NL_EXEC nl-tokenize -P 90 -O valid.nlt shakespeare.txt > train.nlt || exit 1
$NL_EXEC nl-train -q -j 1 -n 2 -b 2 -T 16 -D layers=1 -o ck.tar train.nlt || exit 1
echo "To be, or not to be" | $NL_EXEC nl-tokenize -o part1.nlt && echo "that is the question" | $NL_EXEC nl-tokenize -o part2.nlt
for page in "$NL_TOP"/man/*.[1-9]; do
	man_examples "$page" | sed 's/nl-convert/$NL_EXEC nl-convert/g' | while read -r cmd; do
		eval "$cmd" >/dev/null || echo "$(basename "$page"): failed: $cmd"
	done
done
echo done
