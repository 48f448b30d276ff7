#!/bin/sh
# nl — see LICENSE. `make deps`: install the Debian packages the build needs, or say how.
pkgs="build-essential pkg-config libopenblas-dev libarchive-dev zlib1g-dev mandoc"
if pkg-config --exists openblas libarchive zlib 2>/dev/null && command -v mandoc >/dev/null 2>&1; then
	exit 0
fi
if pkg-config --exists openblas libarchive zlib 2>/dev/null; then
	echo "deps: mandoc is missing; man page lint will be skipped (apt-get install mandoc)" >&2
	[ "$(id -u)" = 0 ] || exit 0
fi
cmd="apt-get update && apt-get install -y --no-install-recommends $pkgs"
if [ "$(id -u)" != 0 ]; then
	echo "deps: missing build dependencies; run as root:" >&2
	echo "  $cmd" >&2
	exit 1
fi
echo "deps: $cmd" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq && apt-get install -y -qq --no-install-recommends $pkgs >/dev/null
