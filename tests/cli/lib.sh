# nl — see LICENSE. Helpers sourced by every CLI test (POSIX sh).

# mk_npy FILE DESCR SHAPE DATA: a .npy file written byte by byte, independent of nl.
# DATA is a printf format string of the raw little-endian bytes.
mk_npy() {
	_hdr="{'descr': '$2', 'fortran_order': False, 'shape': $3, }"
	_len=$((${#_hdr} + 1))
	_pad=$(((64 - (10 + _len) % 64) % 64))
	_tot=$((_len + _pad))
	{
		printf '\223NUMPY\001\000'
		printf "\\$(printf %03o $((_tot % 256)))\\$(printf %03o $((_tot / 256)))"
		printf '%s' "$_hdr"
		printf "%${_pad}s" ''
		printf '\n'
		printf "$4"
	} >"$1"
}

# A small two-tensor, one-member .nlt built through nl-convert from independent .npy files
# (w.nlt and ids.nlt are left behind, one tensor each).
mk_pair() {
	mk_npy w.npy '<f4' '(2, 3)' '\000\000\200\077\000\000\000\100\000\000\100\100\000\000\200\100\000\000\240\100\000\000\300\100'
	mk_npy ids.npy '<i4' '(4,)' '\001\000\000\000\002\000\000\000\003\000\000\000\377\377\377\377'
	$NL_EXEC nl-convert w.npy w.nlt && $NL_EXEC nl-convert ids.npy ids.nlt &&
	    cat w.nlt ids.nlt | $NL_EXEC nl-convert -F npz - pair.npz &&
	    $NL_EXEC nl-convert pair.npz "$1"
}

# man_synopsis PAGE: the SYNOPSIS of an mdoc page as plain text, as usage() prints it
# (Nm, Op, Fl, Ar and Cm macros; one line per .Nm).
man_synopsis() {
	awk '
	/^\.Sh / { insyn = ($2 == "SYNOPSIS"); next }
	!insyn || /^\.\\"/ { next }
	{
		out = ""; open = 0
		for (i = 1; i <= NF; i++) {
			w = $i
			if (w == ".Nm") { if (line != "") print line; line = name; continue }
			if (w == ".Op" || w == "Op") { out = out " ["; open++; glue = 1; continue }
			if (w == ".Fl" || w == "Fl") { out = out (glue ? "" : " ") "-"; glue = 1; continue }
			if ((w == ".Ar" || w == "Ar") && i == NF && (i == 1 || $(i - 1) == "Op" || $(i - 1) == ".Op")) { out = out " file ..."; glue = 0; continue }
			if (w == ".Ar" || w == "Ar" || w == ".Cm" || w == "Cm") { continue }
			out = out (glue ? "" : " ") w; glue = 0
		}
		while (open-- > 0) out = out "]"
		line = line out; glue = 0
	}
	END { if (line != "") print line }
	' name="$(sed -n 's/^\.Nm \(.*\)/\1/p' "$1" | head -1)" "$1" | sed 's/\[ /[/g'
}

# man_examples PAGE: the commands of the EXAMPLES section (.Dl $ lines).
man_examples() {
	sed -n '/^\.Sh EXAMPLES/,/^\.Sh /s/^\.Dl \$ //p' "$1"
}
