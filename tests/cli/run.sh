#!/bin/sh
# nl — see LICENSE. CLI tests: each tests/cli/NAME.sh runs in a fresh directory with bin/ on
# PATH and tests/cli/lib.sh sourced; NAME.exit holds the expected status (default 0),
# NAME.stdout.exact / NAME.stdout.glob and NAME.stderr.exact / NAME.stderr.glob the expected
# output (a glob is a shell case pattern matched against the whole output).
# Programs are invoked as "$NL_EXEC nl-…" so the suite can run under valgrind.
top=${NL_TOP:-$(pwd)}
dir="$top/tests/cli"
export PATH="${NL_BIN:-$top/bin}:$PATH" NL_CLI_DIR="$dir" NL_TOP="$top"
n=0
status=0
for t in "$dir"/*.sh; do
	name=$(basename "$t" .sh)
	case $name in run | lib) continue ;; esac
	n=$((n + 1))
	work=$(mktemp -d)
	(cd "$work" && . "$dir/lib.sh" && . "$t") >"$work/.stdout" 2>"$work/.stderr" </dev/null
	rc=$?
	want=0
	[ -f "$dir/$name.exit" ] && want=$(cat "$dir/$name.exit")
	why=""
	[ "$rc" = "$want" ] || why="exit $rc, expected $want"
	for s in stdout stderr; do
		if [ -f "$dir/$name.$s.exact" ] && ! cmp -s "$dir/$name.$s.exact" "$work/.$s"; then
			why="$why${why:+; }$s differs"
		fi
		if [ -f "$dir/$name.$s.glob" ]; then
			pat=$(cat "$dir/$name.$s.glob")
			got=$(cat "$work/.$s")
			# shellcheck disable=SC2254
			case $got in $pat) ;; *) why="$why${why:+; }$s does not match" ;; esac
		fi
	done
	if [ -z "$why" ]; then
		echo "ok $n - cli/$name"
	else
		echo "not ok $n - cli/$name ($why)"
		sed 's/^/# stdout: /' "$work/.stdout" | head -20
		sed 's/^/# stderr: /' "$work/.stderr" | head -20
		status=1
	fi
	rm -rf "$work"
done
exit $status
