# sealmail build. `make` builds build/sealmail; see README for run/test.
# BUILD selects the output folder (helpers and sanitizer builds use their own);
# SANITIZE=1 builds with ASan+UBSan. SANDBOX=0 builds children without
# their seccomp/Landlock sandbox, SANDBOX=log with seccomp logging instead
# of killing (debugging only: use another BUILD, objects are not rebuilt).

BUILD    ?= build
CC       ?= cc
SANITIZE ?=
SANDBOX  ?= 1
# libcurl is not linked: src/net/https.c loads it at the first HTTPS request
# (its header comes from libcurl4-openssl-dev). Nor is libxml2 (with ICU):
# src/report/xmllib.c loads it for the first report read or written
# (headers from libxml2-dev, hence its cflags).
PKGS      = libevent libevent_openssl openssl libunbound sqlite3 inih libcrypt json-c zlib \
            libseccomp icu-uc icu-i18n libidn2 libpq
PYTHON    = /usr/bin/python3

WARN     = -Wall -Wextra -Werror -Wstrict-prototypes -Wmissing-prototypes \
           -Wshadow -Wpointer-arith -Wsign-compare -Wformat=2 -Wvla
# CFLAGS (optimisation, extra flags) may be set on the command line; the
# flags the code needs are kept apart in ALL_CFLAGS so they always apply.
CFLAGS  ?= -O2 -g
ALL_CFLAGS = -std=c17 -D_GNU_SOURCE $(WARN) -Isrc $(shell pkg-config --cflags libxml-2.0 libpq 2>/dev/null) -fno-strict-aliasing $(CFLAGS)
LDLIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -pthread
# Unit tests and fuzz targets check the XML we write with libxml2 itself
# (schema validation), so they link it; the daemon loads it (above).
XML_LIBS = $(shell pkg-config --libs libxml-2.0 2>/dev/null)
ifeq ($(SANDBOX),0)
ALL_CFLAGS += -DSEALMAIL_NO_SANDBOX
endif
ifeq ($(SANDBOX),log)
ALL_CFLAGS += -DSEALMAIL_SANDBOX_LOG
endif
ifeq ($(SANITIZE),1)
ALL_CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif

ALL_C    := $(shell find src -name '*.c' | sort)
TEST_C   := $(filter %_test.c,$(ALL_C))
MAIN_C   := src/cli/main.c
LIB_C    := $(filter-out $(TEST_C) $(MAIN_C),$(ALL_C))
LIB_O    := $(LIB_C:%.c=$(BUILD)/obj/%.o)
TEST_BIN := $(TEST_C:src/%_test.c=$(BUILD)/test/%_test)
# Helpers the unit tests share (tests/c), linked into every test binary.
TESTLIB_O := $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard tests/c/*.c))
FUZZ_C   := $(wildcard fuzz/fuzz_*.c)

.PHONY: all deps test-deps run test test-unit test-integration check-sanitize \
        fuzz fuzz-build fuzz-long fuzz-check bench install clean headers deb test-package

all: $(BUILD)/sealmail

deps:
	@scripts/install-deps.sh build
test-deps:
	@scripts/install-deps.sh test

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libsealmail.a: $(LIB_O)
	@rm -f $@
	@ar rcs $@ $^

$(BUILD)/sealmail: $(BUILD)/obj/$(MAIN_C:.c=.o) $(BUILD)/libsealmail.a
	@echo "  LD      $@"
	@$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/obj/src/%_test.o: ALL_CFLAGS += -Itests/c

$(BUILD)/test/%_test: $(BUILD)/obj/src/%_test.o $(TESTLIB_O) $(BUILD)/libsealmail.a
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(XML_LIBS) -lcmocka

# Test-only programs the integration tests run (tests/helpers), never
# installed: they use the daemon's library the way the daemon does.
HELPER_BIN := $(patsubst tests/helpers/%.c,$(BUILD)/test/helpers/%,$(wildcard tests/helpers/*.c))

$(BUILD)/test/helpers/%: $(BUILD)/obj/tests/helpers/%.o $(BUILD)/libsealmail.a
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# Every header must compile on its own (STYLE.md §9).
headers:
	@for h in $$(find src -name '*.h'); do \
		echo "#include \"$${h#src/}\"" | $(CC) $(ALL_CFLAGS) -x c -fsyntax-only - || exit 1; \
	done

test-unit: $(TEST_BIN) fuzz-check
	@fail=0; for t in $(TEST_BIN); do $$t || fail=1; done; exit $$fail

# The fuzz targets still compile against today's headers (a few seconds;
# building and running them needs clang: make fuzz). Without this a
# change to a struct they use breaks them unseen.
fuzz-check:
	@for f in $(FUZZ_C); do $(CC) -std=c17 -D_GNU_SOURCE -Isrc \
	  $(shell pkg-config --cflags libxml-2.0 2>/dev/null) -Wall -Wextra \
	  -Werror -fsyntax-only $$f || exit 1; done

# The integration suite runs in a network namespace that has only loopback.
test-integration: $(BUILD)/sealmail $(HELPER_BIN)
	SEALMAIL_BIN=$(abspath $(BUILD)/sealmail) SEALMAIL_SANITIZE=$(SANITIZE) \
	  unshare --net sh -c 'ip link set lo up && exec $(PYTHON) -m pytest -q -p no:cacheprovider tests/integration tests/auth tests/outbound tests/store tests/cluster'

test: test-deps
	$(MAKE) all headers
	$(MAKE) test-unit
	$(MAKE) test-integration

check-sanitize: test-deps
	$(MAKE) BUILD=build/asan SANITIZE=1 CC=gcc test-unit test-integration

# FUZZ_TARGETS="a b": only those (for fuzz-build and fuzz-long).
FUZZ_BUILD_C = $(if $(FUZZ_TARGETS),$(foreach t,$(FUZZ_TARGETS),fuzz/fuzz_$(t:fuzz_%=%).c),$(FUZZ_C))
FUZZ_CFLAGS = -std=c17 -D_GNU_SOURCE -Isrc $(shell pkg-config --cflags libxml-2.0 2>/dev/null) -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
fuzz-build:
	@scripts/install-deps.sh fuzz
	$(MAKE) BUILD=build/fuzz CC=clang CFLAGS="-O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined" \
	  build/fuzz/libsealmail.a
	@mkdir -p build/fuzz/bin
	@for f in $(FUZZ_BUILD_C); do n=$$(basename $$f .c); \
	  echo "fuzz: $$n"; \
	  clang $(FUZZ_CFLAGS) $$f build/fuzz/libsealmail.a $(LDLIBS) $(XML_LIBS) -o build/fuzz/bin/$$n || exit 1; done

# A short smoke run of every target over its seed corpus; FUZZ_TIME per target.
FUZZ_TIME ?= 20
fuzz: fuzz-build
	@for f in $(FUZZ_BUILD_C); do n=$$(basename $$f .c); c=fuzz/corpus/$${n#fuzz_}; \
	  mkdir -p build/fuzz/corpus/$$n; \
	  d=""; [ -f fuzz/$${n#fuzz_}.dict ] && d="-dict=fuzz/$${n#fuzz_}.dict"; \
	  echo "== $$n"; \
	  build/fuzz/bin/$$n $$d -max_total_time=$(FUZZ_TIME) -print_final_stats=0 \
	    -artifact_prefix=build/fuzz/$$n- \
	    build/fuzz/corpus/$$n $$c > build/fuzz/$$n.log 2>&1 || \
	    { tail -40 build/fuzz/$$n.log; echo "fuzz: $$n FAILED"; exit 1; }; \
	  tail -1 build/fuzz/$$n.log; done

# The campaign: FUZZ_TIME per target (120 s unless given) with corpus
# merging and a table (scripts/fuzz-long.sh); FUZZ_TARGETS for a subset.
fuzz-long: fuzz-build
	@FUZZ_TIME=$(if $(filter file,$(origin FUZZ_TIME)),120,$(FUZZ_TIME)) \
	  FUZZ_TARGETS="$(FUZZ_TARGETS)" scripts/fuzz-long.sh

run: deps all
	@if [ ! -f var/sealmail.conf ]; then \
	  $(BUILD)/sealmail init -d var --dev && echo "created dev config in var/"; fi
	@scripts/dev-banner.sh var/sealmail.conf
	exec $(BUILD)/sealmail serve -c var/sealmail.conf

# `make install` (PREFIX, DESTDIR): the binary and its sendmail, mailq and
# newaliases links (where Debian's MTAs put them), the man pages, the
# systemd unit and the certbot deploy hook (certbot reads only /etc, the
# place for PREFIX /usr or /usr/local; any other PREFIX, e.g. one a user
# without root owns, gets PREFIX/etc: pass SYSCONFDIR=/etc to change it).
PREFIX     ?= /usr/local
SBINDIR    ?= $(PREFIX)/sbin
BINDIR     ?= $(PREFIX)/bin
MANDIR     ?= $(PREFIX)/share/man
UNITDIR    ?= $(PREFIX)/lib/systemd/system
SYSCONFDIR ?= $(if $(filter /usr /usr/local,$(PREFIX)),/etc,$(PREFIX)/etc)
HOOKDIR    ?= $(SYSCONFDIR)/letsencrypt/renewal-hooks/deploy

install: all
	install -D -m 0755 $(BUILD)/sealmail $(DESTDIR)$(SBINDIR)/sealmail
	ln -sf sealmail $(DESTDIR)$(SBINDIR)/sendmail
	install -d $(DESTDIR)$(BINDIR)
	ln -sfr $(DESTDIR)$(SBINDIR)/sealmail $(DESTDIR)$(BINDIR)/mailq
	ln -sfr $(DESTDIR)$(SBINDIR)/sealmail $(DESTDIR)$(BINDIR)/newaliases
	install -D -m 0644 man/sealmail.8 $(DESTDIR)$(MANDIR)/man8/sealmail.8
	install -D -m 0644 man/sealmail.conf.5 $(DESTDIR)$(MANDIR)/man5/sealmail.conf.5
	install -d $(DESTDIR)$(UNITDIR) $(DESTDIR)$(HOOKDIR)
	sed 's|/usr/sbin/sealmail|$(SBINDIR)/sealmail|' dist/sealmail.service \
	  > $(DESTDIR)$(UNITDIR)/sealmail.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/sealmail.service
	sed 's|/usr/sbin/sealmail|$(SBINDIR)/sealmail|' dist/certbot-deploy-hook \
	  > $(DESTDIR)$(HOOKDIR)/sealmail
	chmod 0755 $(DESTDIR)$(HOOKDIR)/sealmail

# The one version: SEALMAIL_VERSION in src/core/version.h. debian/changelog
# must say the same (native package), `make deb` checks it.
VERSION  := $(shell sed -n 's/^\#define SEALMAIL_VERSION[[:space:]]*"\(.*\)"/\1/p' src/core/version.h)
DEB_ARCH  = $(shell dpkg --print-architecture)
DEB_OUT   = $(abspath build/deb-out)

# `make deb`: build/sealmail_VERSION_ARCH.deb. dpkg-buildpackage is told to
# write the .deb, .buildinfo and .changes under build/, not in the parent
# folder (the tree may be anywhere); the last two are then removed, and
# so is what debhelper leaves in debian/.
deb:
	@scripts/install-deps.sh package
	@cv=$$(dpkg-parsechangelog -S Version); [ "$$cv" = "$(VERSION)" ] || \
	  { echo "make deb: debian/changelog says $$cv, src/core/version.h says $(VERSION)" >&2; exit 1; }
	rm -rf $(DEB_OUT) && mkdir -p $(DEB_OUT)
	SEALMAIL_DEB_DESTDIR=$(DEB_OUT) DEB_BUILD_OPTIONS="noautodbgsym parallel=2 $(DEB_BUILD_OPTIONS)" \
	  dpkg-buildpackage -us -uc -b \
	  --buildinfo-file=$(DEB_OUT)/sealmail.buildinfo --buildinfo-option=-u$(DEB_OUT) \
	  --changes-file=$(DEB_OUT)/sealmail.changes --changes-option=-u$(DEB_OUT)
	mv $(DEB_OUT)/sealmail_$(VERSION)_$(DEB_ARCH).deb build/
	rm -rf $(DEB_OUT)
	dh_clean	# debian/sealmail/ and the like; build/deb stays for the next time
	@ls -l build/sealmail_$(VERSION)_$(DEB_ARCH).deb

# `make test-package`: the .deb installed into a debootstrapped Debian 12
# root under build/ (needs the Debian mirror, so not part of `make test`;
# .ci/run runs both). tests/package/conftest.py says how the root is made,
# test_package.py what is checked; bounded by PACKAGE_TIMEOUT seconds.
PACKAGE_TIMEOUT ?= 1200
test-package: deb
	SEALMAIL_DEB=build/sealmail_$(VERSION)_$(DEB_ARCH).deb timeout -k 30 $(PACKAGE_TIMEOUT) \
	  $(PYTHON) -m pytest -q -s -p no:cacheprovider tests/package

clean:
	rm -rf build

# `make bench`: the load generator, then bench/run.py starts sealmail, Postfix
# and Exim (dpkg -x into build/bench/peers) on loopback and compares them
# (bench/README.md). BENCH_QUICK=1 runs a reduced matrix in ~3 minutes.
$(BUILD)/smtpload: bench/smtpload.c
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	@$(CC) $(ALL_CFLAGS) $(LDFLAGS) -pthread $< -o $@ $(shell pkg-config --libs openssl)

bench: $(BUILD)/sealmail $(BUILD)/smtpload
	SEALMAIL_BIN=$(abspath $(BUILD)/sealmail) SMTPLOAD_BIN=$(abspath $(BUILD)/smtpload) \
	  $(PYTHON) bench/run.py
