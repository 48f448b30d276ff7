#!/bin/sh
# nl — see LICENSE. `make check`: unit tests, CLI tests, interop checks with the real readers
# (skipped when absent), man page lint. Every line is ok / not ok / skip; the last line is
# "N passed, N failed, N skipped"; the exit status is non-zero on any failure.
# NL_EXEC prefixes every program and test binary (e.g. NL_EXEC='valgrind -q --error-exitcode=99').
top=$(pwd)
export NL_TOP="$top" NL_BIN="$top/bin" NL_EXEC="${NL_EXEC:-}"
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
# Under a wrapper (valgrind) the programs must not restart themselves to pick OpenBLAS's core
# (nl_cli_blas_core): the restarted program would run outside the wrapper.
[ -n "$NL_EXEC" ] && export OPENBLAS_CORETYPE="${OPENBLAS_CORETYPE-Prescott}"
results=$(mktemp)
trap 'rm -f "$results"' EXIT

# Run one producer of ok/not ok/skip lines; a non-zero exit without a "not ok" counts as one.
run() {
	label=$1
	shift
	out=$("$@" 2>&1)
	rc=$?
	printf '%s\n' "$out"
	printf '%s\n' "$out" | grep -E '^(ok|not ok|skip)( |:|$)' >>"$results"
	if [ $rc -ne 0 ] && [ $rc -ne 77 ] && ! printf '%s\n' "$out" | grep -q '^not ok'; then
		echo "not ok - $label (exit $rc)" | tee -a "$results"
	fi
}

for t in build/tests/test_*; do
	[ -x "$t" ] || continue
	echo "# $t"
	run "$t" $NL_EXEC "$t"
done
echo "# tests/cli"
run "cli" sh tests/cli/run.sh
# interop checks with the real Python readers: the first python3 that has them (PATH's, then
# Debian's /usr/bin/python3 with python3-numpy), else a skip line
for py in tests/interop/*.py; do
	[ -f "$py" ] || continue
	echo "# $py"
	work=$(mktemp -d)
	done_py=""
	for interp in python3 /usr/bin/python3; do
		command -v "$interp" >/dev/null 2>&1 || continue
		"$interp" "$py" "$top/bin" "$work" >"$work/.out" 2>&1
		rc=$?
		[ $rc -eq 77 ] && continue
		done_py=1
		cat "$work/.out"
		grep -E '^(ok|not ok)( |$)' "$work/.out" >>"$results"
		if [ $rc -ne 0 ] && ! grep -q '^not ok' "$work/.out"; then
			echo "not ok - $py (exit $rc)" | tee -a "$results"
		fi
		break
	done
	[ -n "$done_py" ] || echo "skip - $py (no python3 with the package: $(tail -n 1 "$work/.out" 2>/dev/null))" | tee -a "$results"
	rm -rf "$work"
done
echo "# tests/layering.sh"
run "layering" sh tests/layering.sh
echo "# tests/install.sh"
run "install" sh tests/install.sh
echo "# lint"
run "lint" sh tests/lint.sh

pass=$(grep -c '^ok' "$results")
fail=$(grep -c '^not ok' "$results")
skip=$(grep -c '^skip' "$results")
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
