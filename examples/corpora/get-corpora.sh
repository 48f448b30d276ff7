#!/bin/sh
# nl — see LICENSE. `make data`: real text from Debian packages, without root, into data/:
# `apt-get download` (needs the package lists: run `apt-get update` once as root) and
# `dpkg -x`. The .deb files are kept too: nl-tokenize reads them directly.
#   data/debs/*.deb                     the packages
#   data/fortunes/…/fortunes/<category> 40 categories of cookies, split on '%' lines
#   data/gcide/…/gcide.dict.dz          GCIDE (Webster 1913), dictzip = gzip
#   data/jargon/…/jargon.dict.dz        the Jargon File
#   data/foldoc/…/foldoc.dict.dz        FOLDOC, a computing dictionary
#   data/python-doc/…/_sources/*.rst.txt  Python 3.11 documentation sources (technical English)
#   data/go-src/…/src/**/*.go           Go 1.19 standard library sources (code)
# Usage: examples/corpora/get-corpora.sh [DIR]   (default data)
set -e
dir=${1:-data}
mkdir -p "$dir/debs"
fetch() { # fetch NAME PACKAGE
	deb=$(ls "$dir/debs/$2"_*.deb 2>/dev/null | head -n 1)
	if [ -z "$deb" ]; then
		(cd "$dir/debs" && apt-get download "$2" >/dev/null 2>&1) || {
			echo "get-corpora: apt-get download $2 failed (as root, run apt-get update first)" >&2
			return 1
		}
		deb=$(ls "$dir/debs/$2"_*.deb | head -n 1)
	fi
	if [ ! -d "$dir/$1" ]; then
		mkdir -p "$dir/$1.tmp"
		dpkg -x "$deb" "$dir/$1.tmp"
		mv "$dir/$1.tmp" "$dir/$1"
	fi
	echo "get-corpora: $1: $(du -sh "$dir/$1" | cut -f1) from $(basename "$deb")"
}
status=0
fetch fortunes fortunes || status=1
fetch gcide dict-gcide || status=1
fetch jargon dict-jargon || status=1
fetch foldoc dict-foldoc || status=1
fetch python-doc python3.11-doc || status=1
fetch go-src golang-1.19-src || status=1
exit $status
