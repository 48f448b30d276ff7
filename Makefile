# nl — see README.md. `make` builds libnl.a and bin/*; `make check` runs every test.
.POSIX:
include config.mk

PKG_CFLAGS != $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null || true
PKG_LIBS != $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null || true

# kernels/*.c and the model files are compiled twice: float (x.o) and double (x_f64.o,
# -DNLK_F64); see kernels/real.h
KERNSRC = $(wildcard kernels/*.c)
DUALSRC = $(KERNSRC) lib/transformer.c lib/memmix.c
LIBSRC = $(wildcard lib/*.c) $(KERNSRC)
LIBOBJ = $(LIBSRC:%.c=build/%.o) $(DUALSRC:%.c=build/%_f64.o)
LIBHDR = $(wildcard lib/*.h) $(wildcard kernels/*.h)
BIN = $(patsubst cmd/%.c,bin/%,$(wildcard cmd/*.c))
MAN = $(wildcard man/*.[1-9])
TESTSRC = $(wildcard tests/unit/test_*.c)
TESTBIN = $(TESTSRC:tests/unit/%.c=build/tests/%)

ALL_CFLAGS = $(CFLAGS) $(CPPFLAGS) $(PKG_CFLAGS) -Ilib -Ikernels -MMD -MP
ALL_LIBS = $(PKG_LIBS) -lm -pthread

all: $(BIN) libnl.a

build/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

build/kernels/%.o: kernels/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(KERNEL_CFLAGS) $(ARCH) -c -o $@ $<

build/kernels/%_f64.o: kernels/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(KERNEL_CFLAGS) $(ARCH) -DNLK_F64 -c -o $@ $<

build/lib/%_f64.o: lib/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -DNLK_F64 -c -o $@ $<

# the flags live in config.mk: a change there rebuilds the library
$(LIBOBJ): config.mk

libnl.a: $(LIBOBJ)
	rm -f $@
	$(AR) rcs $@ $(LIBOBJ)

bin/%: build/cmd/%.o libnl.a
	@mkdir -p bin
	$(CC) $(LDFLAGS) -o $@ $< libnl.a $(ALL_LIBS)

build/tests/%: build/tests/unit/%.o libnl.a
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $< libnl.a $(ALL_LIBS)

# small programs on libnl: examples of the API, benchmark helpers
build/examples/%: build/examples/%.o libnl.a
	$(CC) $(LDFLAGS) -o $@ $< libnl.a $(ALL_LIBS)
build/bench/%: build/bench/%.o libnl.a
	$(CC) $(LDFLAGS) -o $@ $< libnl.a $(ALL_LIBS)

tests: $(TESTBIN)

deps:
	@sh tests/deps.sh

check: deps
	@$(MAKE) --no-print-directory all tests
	@LDFLAGS='$(LDFLAGS)' sh tests/run.sh

lint:
	@sh tests/lint.sh

asan:
	@$(MAKE) --no-print-directory clean
	@$(MAKE) --no-print-directory check \
	    CFLAGS='-std=c11 -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all -Wall -Wextra -Wpedantic' \
	    LDFLAGS='-fsanitize=address,undefined'

demo: deps
	@$(MAKE) --no-print-directory all
	@sh examples/demo.sh

data:
	@sh examples/corpora/get-corpora.sh data

# issue 8's experiments (examples/*/README.md): MQAR recall against the number of pairs,
# passkey and S-NIAH-1 past the training length, formal languages at training and longer
# lengths, domain after domain with the forgetting matrix (needs `make data`), and PIQA
# (needs the small models of examples/compare)
recall: all
	@sh examples/recall/run.sh
longctx: all
	@sh examples/longctx/run.sh
formal: all
	@sh examples/formal/run.sh
domains: all
	@sh examples/domains/run.sh
piqa: all
	@sh examples/piqa/run.sh
# refreshes over Debian corpora, hope against transformer, with R as heat maps
# (examples/continual/README.md; needs `make data`, gnuplot for the pictures)
continual: all
	@sh examples/continual/run.sh
# nl-probe-memory's pictures of a hope and a titans (examples/probe/README.md; needs gnuplot)
plots: all
	@sh examples/probe/run.sh

bench: all build/bench/tio
	@sh bench/tensor-io
	@sh bench/train

# libnl is static only, so its dependencies are plain Requires: `pkg-config --libs nl` links.
# libFuzzer over every reader (clang); FUZZ_SECONDS per run, corpus in build/fuzz/corpus
FUZZ_SECONDS = 60
fuzz:
	@mkdir -p build/fuzz/corpus
	clang -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined $(CPPFLAGS) $(PKG_CFLAGS) -Ilib \
	    -o build/fuzz/readers tests/fuzz/fuzz_readers.c $(filter lib/%.c,$(LIBSRC)) $(ALL_LIBS)
	build/fuzz/readers -max_total_time=$(FUZZ_SECONDS) -max_len=65536 build/fuzz/corpus

nl.pc: config.mk
	printf 'prefix=%s\nlibdir=$${prefix}/lib\nincludedir=$${prefix}/include/nl\n\nName: nl\nDescription: Nested Learning toolkit library\nVersion: %s\nRequires: %s\nCflags: -I$${includedir}\nLibs: -L$${libdir} -lnl -lm\n' \
	    '$(PREFIX)' '$(VERSION)' '$(PKGS)' > $@

install: all nl.pc
	mkdir -p $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include/nl
	cp -f $(BIN) $(DESTDIR)$(PREFIX)/bin/
	cp -f libnl.a $(DESTDIR)$(PREFIX)/lib/
	cp -f nl.pc $(DESTDIR)$(PREFIX)/lib/pkgconfig/
	cp -f $(LIBHDR) $(DESTDIR)$(PREFIX)/include/nl/
	for m in $(MAN); do s=$${m##*.}; mkdir -p $(DESTDIR)$(MANPREFIX)/man$$s; \
	    cp -f $$m $(DESTDIR)$(MANPREFIX)/man$$s/; done

uninstall:
	for b in $(BIN); do rm -f $(DESTDIR)$(PREFIX)/bin/$${b#bin/}; done
	rm -f $(DESTDIR)$(PREFIX)/lib/libnl.a $(DESTDIR)$(PREFIX)/lib/pkgconfig/nl.pc
	for h in $(LIBHDR); do rm -f $(DESTDIR)$(PREFIX)/include/nl/$${h##*/}; done
	-rmdir $(DESTDIR)$(PREFIX)/include/nl
	for m in $(MAN); do s=$${m##*.}; rm -f $(DESTDIR)$(MANPREFIX)/man$$s/$${m#man/}; done

clean:
	rm -rf build bin libnl.a nl.pc

.PHONY: all tests deps check lint asan demo bench data recall longctx formal domains piqa plots continual fuzz install uninstall clean
.PRECIOUS: build/%.o build/cmd/%.o build/tests/unit/%.o build/examples/%.o build/bench/%.o

# every object's header dependencies (programs too: a header change must rebuild them)
-include $(LIBOBJ:.o=.d) $(TESTBIN:build/tests/%=build/tests/unit/%.d) \
    $(BIN:bin/%=build/cmd/%.d) $(wildcard build/examples/*.d build/bench/*.d)
