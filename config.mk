# nl — build configuration (edit here or override on the make command line)
VERSION = 0.1.0

PREFIX = /usr/local
MANPREFIX = $(PREFIX)/share/man

CC = cc
AR = ar
PKG_CONFIG = pkg-config

# BLAS = openblas | none (none: naive kernels everywhere, no OpenBLAS needed)
BLAS = openblas

PKGS = zlib libarchive
ifeq ($(BLAS),openblas)
PKGS += openblas
BLAS_CPPFLAGS = -DNL_BLAS_OPENBLAS
endif

WERROR =
ifeq ($(CI),true)
WERROR = -Werror
endif

CFLAGS = -std=c11 -O2 -g -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes $(WERROR)
CPPFLAGS = -D_XOPEN_SOURCE=700 -DNL_VERSION=\"$(VERSION)\" $(BLAS_CPPFLAGS)
LDFLAGS =
