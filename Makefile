# bcast: make (into build/, O= to change) | make check | make install PREFIX=... DESTDIR=... | make demo
# The one version number (the VERSION file): the soname, bcast.pc, the
# tools' --version, bcast.ko's modinfo, dkms.conf, the manual pages and
# debian/changelog (which the package build checks) all take it from there.
VERSION     := $(shell cat VERSION)
VERSION_NUMS := $(subst ., ,$(VERSION))
ifneq ($(words $(VERSION_NUMS)),3)
$(error VERSION must hold MAJOR.MINOR.PATCH, not '$(VERSION)')
endif
SOVERSION   := $(word 1,$(VERSION_NUMS))
PREFIX      ?= /usr/local
LIBDIR      ?= $(PREFIX)/lib
INCLUDEDIR  ?= $(PREFIX)/include
BINDIR      ?= $(PREFIX)/bin
DATADIR     ?= $(PREFIX)/share
MANDIR      ?= $(DATADIR)/man
DOCDIR      ?= $(DATADIR)/doc/bcast
# bcast.ko's sources for DKMS (dkms add DKMSSRCDIR; /usr/src/bcast-VERSION
# with PREFIX=/usr is where dkms looks by itself).
DKMSSRCDIR  ?= $(PREFIX)/src/bcast-$(VERSION)
# udev reads rules from /etc, /run and /usr/lib (or /lib): not from /usr/local.
UDEVRULESDIR ?= /etc/udev/rules.d
# O: where objects, libraries, tools and test programs go; the source
# folders hold sources only (sanitizer builds use their own folder, e.g.
# O=build/asan SAN=address,undefined).
O           ?= build
SAN         ?=
# LDFLAGS: extra flags when linking the programs (tests, tools), e.g. -static;
# LIB_LDFLAGS when linking libbcast.so (e.g. -Wl,-z,relro).
LDFLAGS     ?=
LIB_LDFLAGS ?=

CC          ?= cc
OPT         ?= -O2
# Every C program of the tree: the common part, then what each kind adds.
BASE_CFLAGS := -D_GNU_SOURCE -g -Wall -Wextra -Werror -Wno-unused-parameter \
	       -Iinclude -Iinclude/uapi
CFLAGS_ALL  := -std=c11 $(OPT) $(BASE_CFLAGS) -Wshadow -Wstrict-prototypes $(CPPFLAGS) $(CFLAGS)
ifneq ($(SAN),)
CFLAGS_ALL  += -fsanitize=$(SAN) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS_SAN := -fsanitize=$(SAN)
endif
# The fast paths update a few counters side by side: as plain adds they
# take two instructions, packed into vector registers eight.
NO_SLP      := $(firstword $(foreach f,-fno-tree-slp-vectorize -fno-slp-vectorize,\
		 $(shell $(CC) -Werror $(f) -E -x c /dev/null >/dev/null 2>&1 && echo $(f))))
LIB_CFLAGS  := $(CFLAGS_ALL) $(NO_SLP) -fPIC -fvisibility=hidden
VERSION_DEFS := -DBCAST_BUILD_VERSION='"$(VERSION)"' \
	-DBCAST_BUILD_MAJOR=$(word 1,$(VERSION_NUMS)) \
	-DBCAST_BUILD_MINOR=$(word 2,$(VERSION_NUMS)) \
	-DBCAST_BUILD_PATCH=$(word 3,$(VERSION_NUMS))

LIB_SRCS    := $(wildcard lib/*.c)
LIB_OBJS    := $(patsubst %.c,$(O)/%.o,$(LIB_SRCS))
LIB_A       := $(O)/lib/libbcast.a
LIB_SO      := $(O)/lib/libbcast.so.$(VERSION)
HDRS        := include/bcast.h include/uapi/linux/bcast.h $(wildcard lib/*.h)

TEST_SRCS   := $(wildcard tests/test-*.c)
TEST_BINS   := $(patsubst tests/%.c,$(O)/tests/%,$(TEST_SRCS))
TOOL_SRCS   := $(wildcard tools/*.c)
TOOL_BINS   := $(patsubst tools/%.c,$(O)/tools/%,$(TOOL_SRCS))
LDLIBS      := -lpthread -lm

.PHONY: all lib tests tools examples check install uninstall clean fuzz module module-clean vmtests demo vm-demo

all: lib tools examples module

# bcast.ko against installed kernel headers (kbuild gets none of this
# Makefile's variables: O, CC, SAN mean other things there): KVER (default: the running
# kernel if its headers are installed, else the newest installed Debian
# headers) or KDIR directly.
KVER ?= $(shell r=$$(uname -r); if [ -d /lib/modules/$$r/build ]; then echo $$r; \
	else ls -d /lib/modules/*/build 2>/dev/null | sort -V | tail -n 1 | cut -d/ -f4; fi)
KDIR ?= /lib/modules/$(KVER)/build

# Kbuild works in $(O)/module, a tree of links to the sources, so that its
# objects stay out of kmod/ (DKMS builds the source tree itself: Kbuild at
# the top).  bcast.ko lands in $(O)/module/kmod/.
MODULE_DIR  := $(abspath $(O))/module
KMOD_SRCS   := $(wildcard kmod/*.c kmod/*.h) kmod/Kbuild

module:
	@if [ -d "$(KDIR)" ]; then \
		mkdir -p "$(MODULE_DIR)/kmod" && \
		ln -sfn "$(CURDIR)/include" "$(MODULE_DIR)/include" && \
		ln -sf "$(CURDIR)/Kbuild" "$(MODULE_DIR)/Kbuild" && \
		ln -sf "$(CURDIR)/VERSION" "$(MODULE_DIR)/VERSION" && \
		for f in $(KMOD_SRCS); do ln -sf "$(CURDIR)/$$f" "$(MODULE_DIR)/$$f"; done && \
		env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL $(MAKE) -C "$(KDIR)" M="$(MODULE_DIR)" $(if $(C),C=$(C)) modules; \
	else \
		echo "module: no kernel headers in '$(KDIR)' (install linux-headers-amd64 or set KVER/KDIR); skipping bcast.ko"; \
	fi

module-clean:
	rm -rf "$(MODULE_DIR)"

lib: $(LIB_A) $(LIB_SO)

$(O)/lib/%.o: lib/%.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(LIB_CFLAGS) -c -o $@ $<

$(O)/lib/version.o: VERSION
$(O)/lib/version.o: LIB_CFLAGS += $(VERSION_DEFS)

$(LIB_A): $(LIB_OBJS)
	rm -f $@
	ar rcs $@ $^

$(LIB_SO): $(LIB_OBJS) lib/libbcast.map
	$(CC) -shared -Wl,-soname,libbcast.so.$(SOVERSION) \
		-Wl,--version-script=lib/libbcast.map $(LDFLAGS_SAN) $(LIB_LDFLAGS) \
		-o $@ $(LIB_OBJS)
	ln -sf libbcast.so.$(VERSION) $(O)/lib/libbcast.so.$(SOVERSION)
	ln -sf libbcast.so.$(SOVERSION) $(O)/lib/libbcast.so

# What the tests share (tests/helpers/), compiled once; every test program
# links it, the VM's device tests too.
HELPER_SRCS := $(wildcard tests/helpers/*.c)
HELPER_HDRS := $(wildcard tests/helpers/*.h)
HELPER_OBJS := $(patsubst %.c,$(O)/%.o,$(HELPER_SRCS))
HELPERS_A   := $(O)/tests/helpers/libhelpers.a
TEST_CFLAGS := $(CFLAGS_ALL) -Itests/helpers

# bcast-bridge's tests: its packet format alone (a host test), and both
# ends of a bridged stream (tests/bridge/test-bridge.sh).
BRIDGE_TESTS := $(O)/tests/test-bridge-wire $(O)/tests/bridge/bridge-check

tests: $(TEST_BINS) $(BRIDGE_TESTS)

$(O)/tests/test-bridge-wire: tests/bridge/test-wire.c tools/bridge/wire.c tools/bridge/wire.h $(HELPER_HDRS) $(HELPERS_A) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -Itools/bridge -o $@ tests/bridge/test-wire.c \
		tools/bridge/wire.c $(HELPERS_A) $(LIB_A) $(LDFLAGS_SAN) $(LDFLAGS) $(LDLIBS)

$(O)/tests/helpers/%.o: tests/helpers/%.c $(HELPER_HDRS) include/bcast.h include/uapi/linux/bcast.h
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -c -o $@ $<

$(HELPERS_A): $(HELPER_OBJS)
	rm -f $@
	ar rcs $@ $^

$(O)/tests/%: tests/%.c $(HELPER_HDRS) $(HELPERS_A) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -o $@ $< $(HELPERS_A) $(LIB_A) $(LDFLAGS_SAN) $(LDFLAGS) $(LDLIBS)

# What every tool links: tools/common/ (cli.c, json.c), one archive.
TOOL_CFLAGS := $(CFLAGS_ALL) -Itools/common
COMMON_SRCS := $(wildcard tools/common/*.c)
COMMON_HDRS := $(wildcard tools/common/*.h)
COMMON_A    := $(O)/tools/common/libtools.a
TOOL_LIBS   := $(COMMON_A) $(LIB_A) $(LDFLAGS_SAN) $(LDFLAGS) $(LDLIBS)

# bcastctl is a folder: a file per command and the parts they share.
CTL_SRCS    := $(wildcard tools/bcastctl/*.c)
CTL_BIN     := $(O)/tools/bcastctl

# bcast-bench is several files; ZeroMQ is a baseline when its headers exist.
BENCH_SRCS  := $(wildcard tools/bench/*.c)
BENCH_BIN   := $(O)/tools/bcast-bench
ZMQ_FLAGS   := $(if $(wildcard /usr/include/zmq.h),-DBCAST_HAVE_ZMQ)
ZMQ_LIBS    := $(if $(wildcard /usr/include/zmq.h),-lzmq)
# ... and its io_uring wake-up rows use liburing when its headers exist.
URING_FLAGS := $(if $(wildcard /usr/include/liburing.h),-DBCAST_HAVE_LIBURING)
URING_LIBS  := $(if $(wildcard /usr/include/liburing.h),-luring)

# bcast-bridge needs nats.c (libnats-dev): built where its header is;
# bcast-bench's bridge test too.
NATS_FLAGS  := $(if $(wildcard /usr/include/nats/nats.h),-DBCAST_HAVE_NATS)
NATS_LIBS   := $(if $(wildcard /usr/include/nats/nats.h),-lnats)
BRIDGE_SRCS := $(wildcard tools/bridge/*.c)
BRIDGE_BIN  := $(if $(wildcard /usr/include/nats/nats.h),$(O)/tools/bcast-bridge)

tools: $(TOOL_BINS) $(CTL_BIN) $(BENCH_BIN) $(BRIDGE_BIN)

# README.md's examples, whole (tests/tools/test-examples.sh runs them and
# checks that README.md shows them as they are); the io_uring one needs
# liburing.
EXAMPLE_SRCS := $(filter-out $(if $(URING_LIBS),,examples/uring-%.c),$(wildcard examples/*.c))
EXAMPLE_BINS := $(patsubst examples/%.c,$(O)/examples/%,$(EXAMPLE_SRCS))

examples: $(EXAMPLE_BINS)

$(O)/examples/uring-%: EXAMPLE_LIBS := $(URING_LIBS)
$(O)/examples/%: examples/%.c include/bcast.h include/uapi/linux/bcast.h $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ $< $(LIB_A) $(LDFLAGS_SAN) $(LDFLAGS) $(EXAMPLE_LIBS) $(LDLIBS)

$(O)/tools/common/%.o: tools/common/%.c $(COMMON_HDRS) include/bcast.h
	@mkdir -p $(dir $@)
	$(CC) $(TOOL_CFLAGS) -c -o $@ $<

$(COMMON_A): $(patsubst %.c,$(O)/%.o,$(COMMON_SRCS))
	rm -f $@
	ar rcs $@ $^

$(CTL_BIN): $(CTL_SRCS) tools/bcastctl/bcastctl.h $(COMMON_HDRS) $(COMMON_A) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(TOOL_CFLAGS) -o $@ $(CTL_SRCS) $(TOOL_LIBS)

$(BENCH_BIN): $(BENCH_SRCS) $(wildcard tools/bench/*.h) $(COMMON_HDRS) $(COMMON_A) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(TOOL_CFLAGS) $(ZMQ_FLAGS) $(URING_FLAGS) $(NATS_FLAGS) -o $@ $(BENCH_SRCS) \
		$(TOOL_LIBS) $(ZMQ_LIBS) $(URING_LIBS) $(NATS_LIBS)

$(O)/tools/bcast-bridge: $(BRIDGE_SRCS) $(wildcard tools/bridge/*.h) $(COMMON_HDRS) $(COMMON_A) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(TOOL_CFLAGS) -o $@ $(BRIDGE_SRCS) $(TOOL_LIBS) -lnats

$(O)/tools/%: tools/%.c $(COMMON_HDRS) $(COMMON_A) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(TOOL_CFLAGS) -o $@ $< $(TOOL_LIBS)

# libFuzzer target over arbitrary ring memory (clang, ASan + UBSan).  The
# helpers it calls are not what is fuzzed: they are built without coverage
# (their loops over payload bytes would cost more than the library), and
# with the target's work bounds, so that the reader calls the read-style
# drivers make are bounded too.
FUZZ_BIN     := build/fuzz/fuzz-reader
FUZZ_SRCS    := tests/fuzz/fuzz-reader.c tests/fuzz/fuzz-input.c
FUZZ_HDRS    := $(wildcard tests/fuzz/*.h)
FUZZ_HELPERS := $(patsubst %,build/fuzz/helpers/%.o,failure payload process reading)
FUZZ_CFLAGS  := -std=c11 -O1 $(BASE_CFLAGS) -Itests/helpers -DBCAST_COUNT_FRAMES \
		-fno-sanitize-recover=all $(VERSION_DEFS)
fuzz: $(FUZZ_BIN)
build/fuzz/helpers/%.o: tests/helpers/%.c $(HELPER_HDRS) $(FUZZ_HDRS) $(HDRS)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -fsanitize=address,undefined \
		-include tests/fuzz/work-bounds.h -c -o $@ $<
$(FUZZ_BIN): $(FUZZ_SRCS) $(FUZZ_HDRS) $(FUZZ_HELPERS) $(LIB_SRCS) $(HELPER_HDRS) $(HDRS)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer,address,undefined \
		-o $@ $(FUZZ_SRCS) $(FUZZ_HELPERS) $(LIB_SRCS) -lpthread

# The fuzzer's seed corpus (tests/fuzz/run.sh --make-corpus): rings made by
# the library, encoded in the target's input format, each run through the
# target once (built here without libFuzzer).
CORPUS_BIN := $(O)/tests/fuzz/make-corpus
.PHONY: make-corpus
make-corpus: $(CORPUS_BIN)
$(CORPUS_BIN): tests/fuzz/make-corpus.c $(FUZZ_SRCS) $(FUZZ_HDRS) $(HELPER_HDRS) $(HELPERS_A) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -o $@ tests/fuzz/make-corpus.c $(FUZZ_SRCS) \
		$(HELPERS_A) $(LIB_A) $(LDFLAGS_SAN) $(LDFLAGS) $(LDLIBS)

# Device tests for the VM: kselftest harness from Debian's linux-source-6.1.
KSELFTEST_TAR ?= /usr/src/linux-source-6.1.tar.xz
VM_SRCS  := $(wildcard tests/vm/device/test-*.c)
VM_BINS  := $(patsubst tests/vm/device/%.c,build/vm/%,$(VM_SRCS))
# (the kselftest harness's macros need GNU C and compare signed to unsigned)
VM_CFLAGS := -std=gnu11 -O2 $(BASE_CFLAGS) -Wno-empty-body -Wno-sign-compare \
	-Ibuild/kselftest -Itests/vm/device -Itests/helpers

vmtests: $(VM_BINS)

build/kselftest/kselftest_harness.h:
	@test -f $(KSELFTEST_TAR) || { echo "vmtests: $(KSELFTEST_TAR) missing (apt-get install linux-source-6.1)"; exit 1; }
	@mkdir -p build/kselftest
	tar -xf $(KSELFTEST_TAR) -C build/kselftest --strip-components=4 \
		linux-source-6.1/tools/testing/selftests/kselftest_harness.h \
		linux-source-6.1/tools/testing/selftests/kselftest.h
	touch $@

# The io_uring tests link liburing (Debian's liburing-dev); the others not.
VM_URING_BINS := $(filter build/vm/test-uring-%,$(VM_BINS))
$(VM_URING_BINS): VM_LIBS := -luring
$(VM_URING_BINS): tests/vm/device/uring.h

build/vm/%: tests/vm/device/%.c tests/vm/device/common.h $(HELPER_HDRS) build/kselftest/kselftest_harness.h $(HELPERS_A) $(LIB_A)
	@mkdir -p build/vm
	clang $(VM_CFLAGS) -o $@ $< $(HELPERS_A) $(LIB_A) $(VM_LIBS) -lpthread

check:
	bash tests/check.sh

# The main job on a fresh machine: a publisher, two subscribers, figures.
demo: lib tools
	BCAST_TOOLS=$(O)/tools sh tools/demo.sh

# The same inside the VM, on a device ring of bcast.ko (emulated CPUs: a
# lower rate).  VM_KERNEL=6.1 or 6.12.
VM_KERNEL ?= 6.1
vm-demo: lib tools
	bash tests/vm/run.sh --kernel $(VM_KERNEL) --add $(O)/tools/bcastctl \
		--add $(O)/tools/bcast-pub --add $(O)/tools/bcast-sub --add tools/demo.sh \
		-- "BCAST_TOOLS=/opt BCAST_DEMO_RATE=$${BCAST_DEMO_RATE:-20k} \
		    BCAST_DEMO_SECONDS=$${BCAST_DEMO_SECONDS:-5} \
		    BCAST_DEMO_SIZE=$${BCAST_DEMO_SIZE:-64} sh /opt/demo.sh"

# make install / make uninstall: uninstall removes exactly what install
# put there (the same lists), and the directories that are bcast's own.
# bcast-bridge and its page only where libnats-dev is
MAN_PAGES     := $(filter-out $(if $(BRIDGE_BIN),,man/man1/bcast-bridge.1),\
	$(wildcard man/man*/*.[1-8]))
DKMS_FILES    := Kbuild VERSION include/uapi/linux/bcast.h $(KMOD_SRCS)
INSTALL_TOOLS := $(notdir $(TOOL_BINS) $(CTL_BIN) $(BENCH_BIN) $(BRIDGE_BIN))
INSTALLED     := $(INCLUDEDIR)/bcast.h $(INCLUDEDIR)/bcast/linux/bcast.h \
	$(addprefix $(LIBDIR)/,libbcast.a libbcast.so.$(VERSION) \
	  libbcast.so.$(SOVERSION) libbcast.so pkgconfig/bcast.pc) \
	$(addprefix $(BINDIR)/,$(INSTALL_TOOLS)) \
	$(foreach p,$(MAN_PAGES),$(MANDIR)/$(notdir $(patsubst %/,%,$(dir $(p))))/$(notdir $(p))) \
	$(UDEVRULESDIR)/60-bcast.rules $(DOCDIR)/examples/modprobe.d/bcast.conf \
	$(addprefix $(DKMSSRCDIR)/,dkms.conf $(DKMS_FILES))
# bcast's own directories, deepest first.
OWN_DIRS      := $(INCLUDEDIR)/bcast/linux $(INCLUDEDIR)/bcast \
	$(DOCDIR)/examples/modprobe.d $(DOCDIR)/examples $(DOCDIR) \
	$(addprefix $(DKMSSRCDIR)/,include/uapi/linux include/uapi include kmod) \
	$(DKMSSRCDIR)

.PHONY: install-files
install: lib tools
	$(MAKE) --no-print-directory install-files

install-files:
	install -d $(DESTDIR)$(INCLUDEDIR)/bcast/linux $(DESTDIR)$(LIBDIR)/pkgconfig \
		$(DESTDIR)$(BINDIR) $(DESTDIR)$(UDEVRULESDIR) \
		$(DESTDIR)$(DOCDIR)/examples/modprobe.d \
		$(DESTDIR)$(DKMSSRCDIR)/kmod $(DESTDIR)$(DKMSSRCDIR)/include/uapi/linux \
		$(addprefix $(DESTDIR),$(sort $(dir $(filter $(MANDIR)/%,$(INSTALLED)))))
	install -m 644 include/bcast.h $(DESTDIR)$(INCLUDEDIR)/bcast.h
	install -m 644 include/uapi/linux/bcast.h $(DESTDIR)$(INCLUDEDIR)/bcast/linux/bcast.h
	install -m 644 $(LIB_A) $(DESTDIR)$(LIBDIR)/
	install -m 644 $(LIB_SO) $(DESTDIR)$(LIBDIR)/
	ln -sf libbcast.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libbcast.so.$(SOVERSION)
	ln -sf libbcast.so.$(SOVERSION) $(DESTDIR)$(LIBDIR)/libbcast.so
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
	    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(VERSION)|' \
	    lib/bcast.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/bcast.pc
	install -m 755 $(TOOL_BINS) $(CTL_BIN) $(BENCH_BIN) $(BRIDGE_BIN) $(DESTDIR)$(BINDIR)/
	for p in $(MAN_PAGES); do \
		s=$$(basename $$(dirname $$p)); \
		install -m 644 $$p $(DESTDIR)$(MANDIR)/$$s/ || exit 1; \
	done
	install -m 644 udev/60-bcast.rules $(DESTDIR)$(UDEVRULESDIR)/
	install -m 644 udev/modprobe-bcast.conf $(DESTDIR)$(DOCDIR)/examples/modprobe.d/bcast.conf
	for f in $(DKMS_FILES); do \
		install -m 644 $$f $(DESTDIR)$(DKMSSRCDIR)/$$f || exit 1; \
	done
	sed -e 's|@VERSION@|$(VERSION)|' kmod/dkms.conf.in > $(DESTDIR)$(DKMSSRCDIR)/dkms.conf

# Into a DESTDIR (a staging tree), the directories install made are
# removed too once empty; on the live system only bcast's own.
uninstall:
	rm -f $(addprefix $(DESTDIR),$(INSTALLED))
	for d in $(addprefix $(DESTDIR),$(OWN_DIRS)); do \
		[ ! -d $$d ] || rmdir --ignore-fail-on-non-empty $$d || exit 1; \
	done
	$(if $(DESTDIR),for f in $(INSTALLED); do \
		d=$$(dirname $$f); \
		while [ "$$d" != / ]; do \
			if [ -d "$(DESTDIR)$$d" ]; then \
				rmdir "$(DESTDIR)$$d" 2>/dev/null || break; \
			fi; \
			d=$$(dirname $$d); \
		done; \
	done)


# Debian packages (debian/): built in a copy of the tree, so that the
# package's clean step leaves this build/ alone; the .deb files land in
# build/deb/.
DEB_DIR := build/deb
.PHONY: deb
deb:
	rm -rf $(DEB_DIR) && mkdir -p $(DEB_DIR)/bcast-$(VERSION)
	tar -cf - --exclude=./build --exclude=./.git . | tar -xf - -C $(DEB_DIR)/bcast-$(VERSION)
	cd $(DEB_DIR)/bcast-$(VERSION) && dpkg-buildpackage -us -uc -b
	@ls $(DEB_DIR)/*.deb

clean:
	rm -rf $(O) build
