# wgc: one top-level Makefile. Targets: all (libwgc static+shared, daemon), check, demo, bench, fuzz.
# Outputs go to build/ (plain), build/asan/ (ASan+UBSan) and build/fuzz/.

CC ?= cc
CLANG ?= clang
BUILD := build

# ---- crypto backend: CRYPTO=sodium (default) or CRYPTO=portable (ours, no libsodium) ----
# A backend other than the default builds into its own directory, so objects of two backends
# never meet in one libwgc.a. The portable primitives (crypto/portable/) are compiled into every
# build, so the tests and the benchmark can hold them against libsodium; crypto/$(CRYPTO).c maps
# crypto.h onto one backend.
CRYPTO ?= sodium
CRYPTO_BACKENDS := sodium portable
ifeq ($(filter $(CRYPTO),$(CRYPTO_BACKENDS)),)
$(error CRYPTO=$(CRYPTO): must be one of $(CRYPTO_BACKENDS))
endif
ifneq ($(CRYPTO),sodium)
BUILD := build/$(CRYPTO)
endif
# The libsodium backend dispatches full-size ChaCha20-Poly1305 to OpenSSL where it is faster.
CRYPTO_EXTRA_sodium := crypto/openssl.c
CRYPTO_SRC := crypto/blake2s.c crypto/common.c $(wildcard crypto/portable/*.c) crypto/$(CRYPTO).c \
	$(CRYPTO_EXTRA_$(CRYPTO))
# libcrypto is not linked: crypto/openssl.c opens it on first use (dlopen; libc has it).
LIB_LIBS_sodium := -lsodium
LIB_LIBS := $(LIB_LIBS_$(CRYPTO))
# Unit results of a non-default backend are recorded as unit-plain-portable, and so on.
UNIT_LABEL := $(if $(filter sodium,$(CRYPTO)),,-$(CRYPTO))
# ---- end crypto backend ----

WARN := -Wall -Wextra -Werror -Wshadow -Wvla -Wstrict-prototypes -Wmissing-prototypes \
	-Wcast-align -Wpointer-arith -Wformat=2
# core/ and crypto/ are held to -Wconversion as well (STYLE.md 10).
LIB_WARN := $(WARN) -Wconversion
OPT ?= -O2
# -MMD -MP: every object records the headers it read (build/**/*.d, included below), so a header
# change rebuilds exactly what uses it.
# EXTRA_CFLAGS: the packager's flags (debian/rules passes dpkg-buildflags' CPPFLAGS and CFLAGS).
CFLAGS_COMMON := -std=c11 -g $(OPT) -D_DEFAULT_SOURCE -Iinclude -I. -fPIC -MMD -MP $(EXTRA_CFLAGS)
LIB_CFLAGS := $(CFLAGS_COMMON) $(LIB_WARN) -fvisibility=hidden
APP_CFLAGS := $(CFLAGS_COMMON) $(WARN)
# WGC_DEBUG compiles in WGC_ASSERT (base/assert.h): on in the sanitizer and fuzz builds, off in
# the plain build that the daemon, the benchmarks and the plain unit run use.
DEBUG_FLAGS := -DWGC_DEBUG
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer \
	$(DEBUG_FLAGS)
LIBS := -lsodium
# OpenSSL 3's libcrypto, the faster ChaCha20-Poly1305 backend (crypto/openssl.c; headers from
# libssl-dev), is opened at run time on first use, not linked; only bench_aead links it, to time
# raw EVP beside libwgc.

# The version lives in include/wgc.h alone; the shared library's names come from it (see
# "version, soname and exported symbols" below).
version_part = $(shell sed -n 's/^.define WGC_VERSION_$(1) *\([0-9][0-9]*\)$$/\1/p' include/wgc.h)
VERSION_MAJOR := $(call version_part,MAJOR)
VERSION := $(VERSION_MAJOR).$(call version_part,MINOR).$(call version_part,PATCH)
SONAME := libwgc.so.$(VERSION_MAJOR)
LIB_REALNAME := libwgc.so.$(VERSION)

LIB_SRC := $(CRYPTO_SRC) $(wildcard core/*.c)
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
LIB_OBJ_SAN := $(LIB_SRC:%.c=$(BUILD)/asan/%.o)

# test_aead_backends holds the libsodium build's AEAD implementations against each other: it has
# nothing to test in another backend's build.
TEST_SKIP_portable := tests/unit/test_aead_backends.c
TEST_SRC := $(filter-out $(TEST_SKIP_$(CRYPTO)),$(wildcard tests/unit/test_*.c))
TEST_LIB_SRC := $(wildcard tests/unit/lib_*.c)
TEST_BIN := $(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/%)
TEST_BIN_SAN := $(TEST_SRC:tests/unit/%.c=$(BUILD)/asan/tests/%)

.PHONY: all lib check unit unit-asan freestanding no-malloc fuzz fuzz-build bench demo clean deps \
	example daemon netns proxy

all: lib example daemon tools proxy

lib: $(BUILD)/libwgc.a $(BUILD)/libwgc.so $(BUILD)/$(SONAME)

deps:
	@scripts/install-deps.sh

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(LIB_CFLAGS) -c $< -o $@

$(BUILD)/asan/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(LIB_CFLAGS) $(SAN_FLAGS) -c $< -o $@

$(BUILD)/libwgc.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/asan/libwgc.a: $(LIB_OBJ_SAN)
	@rm -f $@
	ar rcs $@ $^

# ---- version, soname and exported symbols (one source: include/wgc.h, abi/) ----
# libwgc.so.MAJOR.MINOR.PATCH is the file, libwgc.so.MAJOR its soname (and the link the loader
# follows), libwgc.so the link -lwgc finds. abi/libwgc.map exports only wgc_* under one version
# node; abi/libwgc.sym is the committed list that check-abi compares the built library with.
# LDFLAGS (empty here; hardening flags from dpkg-buildflags in debian/rules) goes on the links
# of libwgc.so and wgc.

$(BUILD)/$(LIB_REALNAME): $(LIB_OBJ) abi/libwgc.map
	$(CC) -shared -Wl,-soname,$(SONAME) -Wl,--version-script=abi/libwgc.map -Wl,--no-undefined \
		$(LDFLAGS) -o $@ $(LIB_OBJ) $(LIB_LIBS)

$(BUILD)/$(SONAME) $(BUILD)/libwgc.so: $(BUILD)/$(LIB_REALNAME)
	ln -sf $(LIB_REALNAME) $@

.PHONY: version check-abi abi-update
version:
	@echo $(VERSION)

# The exported symbols (name@@node) must equal abi/libwgc.sym: an accidental ABI change fails.
check-abi: $(BUILD)/$(LIB_REALNAME)
	@scripts/check-abi.sh $(BUILD)/$(LIB_REALNAME)

# After a deliberate ABI change: regenerate the list (and commit it with the change).
abi-update: $(BUILD)/$(LIB_REALNAME)
	@scripts/check-abi.sh --list $(BUILD)/$(LIB_REALNAME) >abi/libwgc.sym

# ---- daemon objects (plain and ASan+UBSan builds; recvmmsg, accept4, pipe2 are GNU) ----

DAEMON_SRC := $(wildcard daemon/*.c)
DAEMON_OBJ := $(DAEMON_SRC:%.c=$(BUILD)/%.o)
DAEMON_CFLAGS := $(APP_CFLAGS) -D_GNU_SOURCE

# (The stem is shorter than for $(BUILD)/%.o, so these rules win for daemon/ sources.)
$(BUILD)/daemon/%.o: daemon/%.c
	@mkdir -p $(dir $@)
	$(CC) $(DAEMON_CFLAGS) -c $< -o $@

$(BUILD)/asan/daemon/%.o: daemon/%.c
	@mkdir -p $(dir $@)
	$(CC) $(DAEMON_CFLAGS) $(SAN_FLAGS) -c $< -o $@

# ---- unit tests (cmocka), plain and under ASan+UBSan ----
#
# One rule builds every test: tests/unit/test_X.c, the harness, libwgc, and the daemon objects
# listed in test_X_DAEMON (tests of daemon code over the real objects, nothing re-implemented).

test_offload_DAEMON := offload
test_aqm_DAEMON := aqm
test_icmp_DAEMON := icmp
test_sandbox_DAEMON := sandbox syscall_filter log
test_workers_DAEMON := workers
test_loop_DAEMON := loop log
test_hsqueue_DAEMON := hsqueue log
test_notify_DAEMON := notify log
test_inbox_DAEMON := inbox log syscall_filter
test_reuseport_DAEMON := reuseport log

$(BUILD)/tests/lib_%.o: tests/unit/lib_%.c
	@mkdir -p $(dir $@)
	$(CC) $(APP_CFLAGS) -Itests/unit -c $< -o $@

$(BUILD)/asan/tests/lib_%.o: tests/unit/lib_%.c
	@mkdir -p $(dir $@)
	$(CC) $(APP_CFLAGS) $(SAN_FLAGS) -Itests/unit -c $< -o $@

TEST_LIB_OBJ := $(TEST_LIB_SRC:tests/unit/%.c=$(BUILD)/tests/%.o)
TEST_LIB_OBJ_SAN := $(TEST_LIB_SRC:tests/unit/%.c=$(BUILD)/asan/tests/%.o)

# Keep the intermediate objects (lib_harness.o, daemon objects of tests) between runs.
.SECONDARY:
.SECONDEXPANSION:
$(BUILD)/tests/test_%: tests/unit/test_%.c $(TEST_LIB_OBJ) \
		$$(addprefix $(BUILD)/daemon/,$$(addsuffix .o,$$(test_$$*_DAEMON))) $(BUILD)/libwgc.a
	@mkdir -p $(dir $@)
	$(CC) $(APP_CFLAGS) -Itests/unit -o $@ $(filter %.c %.o,$^) $(BUILD)/libwgc.a \
		-lcmocka $(LIBS) -lseccomp -lpthread

$(BUILD)/asan/tests/test_%: tests/unit/test_%.c $(TEST_LIB_OBJ_SAN) \
		$$(addprefix $(BUILD)/asan/daemon/,$$(addsuffix .o,$$(test_$$*_DAEMON))) $(BUILD)/asan/libwgc.a
	@mkdir -p $(dir $@)
	$(CC) $(APP_CFLAGS) $(SAN_FLAGS) -Itests/unit -o $@ $(filter %.c %.o,$^) \
		$(BUILD)/asan/libwgc.a -lcmocka $(LIBS) -lseccomp -lpthread

# The worker test under ThreadSanitizer (clang; libwgc built from source with it). Not in check.
.PHONY: tsan-workers
tsan-workers:
	@mkdir -p $(BUILD)/tsan
	$(CLANG) -std=c11 -g -O1 -fsanitize=thread $(DEBUG_FLAGS) -D_DEFAULT_SOURCE -D_GNU_SOURCE \
		-Iinclude -I. -Itests/unit -o $(BUILD)/tsan/test_workers tests/unit/test_workers.c \
		$(TEST_LIB_SRC) daemon/workers.c $(LIB_SRC) -lcmocka $(LIBS) -lpthread
	$(BUILD)/tsan/test_workers

# The inbox's threaded stress under ThreadSanitizer (its sandbox case is left out there: the
# runtime's own calls are not on the allow-list). Not in check.
.PHONY: tsan-inbox
tsan-inbox:
	@mkdir -p $(BUILD)/tsan
	$(CLANG) -std=c11 -g -O1 -fsanitize=thread $(DEBUG_FLAGS) -D_DEFAULT_SOURCE \
		$(WARN) -Iinclude -I. -Itests/unit -o $(BUILD)/tsan/test_inbox tests/unit/test_inbox.c \
		daemon/inbox.c daemon/log.c -lcmocka -lpthread
	$(BUILD)/tsan/test_inbox

# The daemon under ThreadSanitizer (clang; libwgc built from source with it), for the lanes'
# netns scenario: tsan-lanes runs it with forced lane counts; a race report fails the run (the
# daemon exits 66 and the scenario's checks fail). clang warns of the netlink macros' casts
# (RTA_NEXT), which gcc does not: -Wno-cast-align. In check.
$(BUILD)/tsan/wgc: $(DAEMON_SRC) $(LIB_SRC) $(wildcard daemon/*.h core/*.h crypto/*.h include/*.h)
	@mkdir -p $(dir $@)
	$(CLANG) -std=c11 -g -O1 -fsanitize=thread $(DEBUG_FLAGS) -D_DEFAULT_SOURCE -D_GNU_SOURCE \
		$(WARN) -Wno-cast-align -Iinclude -I. -o $@ $(DAEMON_SRC) $(LIB_SRC) $(LIBS) -lseccomp \
		-lpthread -ldl

.PHONY: tsan-lanes
tsan-lanes: $(BUILD)/tsan/wgc $(BUILD)/wgc
	WGC=$(abspath $(BUILD)/tsan/wgc) TSAN_OPTIONS="halt_on_error=1 exitcode=66" \
		LANES_TEST_MB=$${LANES_TEST_MB:-64} OFFLOAD_BOTH="" NETNS_RESULT=netns-tsan-lanes \
		tests/netns/run.sh lanes

unit: $(TEST_BIN)
	@scripts/run-unit.sh plain$(UNIT_LABEL) $(TEST_BIN)

unit-asan: $(TEST_BIN_SAN)
	@scripts/run-unit.sh asan$(UNIT_LABEL) $(TEST_BIN_SAN)

# ---- the freestanding wall and the no-allocation proof ----

freestanding:
	@scripts/check-freestanding.sh "$(CC)"

no-malloc: $(LIB_OBJ)
	@scripts/check-no-malloc.sh $(LIB_OBJ)

# The daemon's include graph has no cycle and no daemon/ file outgrows STYLE.md's size.
.PHONY: daemon-deps
daemon-deps:
	@scripts/check-daemon-deps.py

# ---- example (the embedding demo) ----

example: $(BUILD)/example-two-endpoints

$(BUILD)/example-two-endpoints: examples/two_endpoints.c $(BUILD)/libwgc.a
	$(CC) $(APP_CFLAGS) -o $@ $< $(BUILD)/libwgc.a $(LIBS)

# ---- daemon: the Linux program wgc (daemon/), linked against libwgc.a ----

daemon: $(BUILD)/wgc

$(BUILD)/wgc: $(DAEMON_OBJ) $(BUILD)/libwgc.a
	$(CC) $(LDFLAGS) -o $@ $(DAEMON_OBJ) $(BUILD)/libwgc.a $(LIBS) -lseccomp -lpthread

# ---- tools: programs the benchmarks and netns tests drive (not installed) ----

.PHONY: tools
tools: $(BUILD)/tools/wgc-flood

$(BUILD)/tools/wgc-flood: tools/flood.c $(BUILD)/libwgc.a
	@mkdir -p $(dir $@)
	$(CC) $(APP_CFLAGS) -o $@ $< $(BUILD)/libwgc.a $(LIBS)

# The UAPI parser's fuzz target links only what the parser uses: itself, the address helpers and
# the log (run by make fuzz with the others).
FUZZ_UAPI_SRC := daemon/uapi_parse.c daemon/addr.c daemon/log.c

$(BUILD)/fuzz/fuzz_uapi: tests/fuzz/fuzz_uapi.c $(FUZZ_UAPI_SRC)
	@mkdir -p $(dir $@)
	$(CLANG) $(FUZZ_FLAGS) -D_GNU_SOURCE -o $@ $< $(FUZZ_UAPI_SRC) $(LIBS)

# ==== wgc-proxy: netif/ (libwgc as an lwIP network interface) and proxy/ (the rootless proxy) ====
#
# lwIP is Debian's liblwip-dev (NO_SYS=0 build, but we drive it from one thread through the raw API
# and never start its tcpip thread). Its headers are included as system headers: our warning set
# applies to our code, not to theirs. netif/ is portable lwIP code; proxy/ is the Linux program.

LWIP_CFLAGS := $(patsubst -I%,-isystem %,$(shell pkg-config --cflags-only-I lwip 2>/dev/null || \
	echo -I/usr/include/lwip))
LWIP_LIBS := -llwip
NETIF_SRC := $(wildcard netif/*.c)
PROXY_SRC := $(wildcard proxy/*.c)
NETIF_CFLAGS := $(APP_CFLAGS) $(LWIP_CFLAGS)
PROXY_CFLAGS := $(APP_CFLAGS) -D_GNU_SOURCE $(LWIP_CFLAGS)
NETIF_OBJ := $(NETIF_SRC:%.c=$(BUILD)/%.o)
NETIF_OBJ_SAN := $(NETIF_SRC:%.c=$(BUILD)/asan/%.o)
PROXY_OBJ := $(PROXY_SRC:%.c=$(BUILD)/%.o)
PROXY_OBJ_SAN := $(PROXY_SRC:%.c=$(BUILD)/asan/%.o)
# Named here so that make counts them as files that "ought to exist" and picks the test_proxy_%
# rules below over the generic test rule even before they are built.
.PHONY: proxy-objects
proxy-objects: $(PROXY_OBJ) $(PROXY_OBJ_SAN)

$(BUILD)/netif/%.o: netif/%.c
	@mkdir -p $(dir $@)
	$(CC) $(NETIF_CFLAGS) -c $< -o $@

$(BUILD)/asan/netif/%.o: netif/%.c
	@mkdir -p $(dir $@)
	$(CC) $(NETIF_CFLAGS) $(SAN_FLAGS) -c $< -o $@

$(BUILD)/proxy/%.o: proxy/%.c
	@mkdir -p $(dir $@)
	$(CC) $(PROXY_CFLAGS) -c $< -o $@

$(BUILD)/asan/proxy/%.o: proxy/%.c
	@mkdir -p $(dir $@)
	$(CC) $(PROXY_CFLAGS) $(SAN_FLAGS) -c $< -o $@

proxy: $(BUILD)/wgc-proxy

$(BUILD)/wgc-proxy: $(PROXY_OBJ) $(NETIF_OBJ) $(BUILD)/libwgc.a
	$(CC) -o $@ $(PROXY_OBJ) $(NETIF_OBJ) $(BUILD)/libwgc.a $(LWIP_LIBS) $(LIBS)

# The proxy under ASan+UBSan, for running the netns test with WGC_PROXY=build/asan/wgc-proxy.
.PHONY: proxy-asan
proxy-asan: $(BUILD)/asan/wgc-proxy

$(BUILD)/asan/wgc-proxy: $(PROXY_OBJ_SAN) $(NETIF_OBJ_SAN) $(BUILD)/asan/libwgc.a
	$(CC) $(SAN_FLAGS) -o $@ $(PROXY_OBJ_SAN) $(NETIF_OBJ_SAN) $(BUILD)/asan/libwgc.a \
		$(LWIP_LIBS) $(LIBS)

# Unit tests of netif/ and proxy/: test_netif runs the interface over the real lwIP; each
# test_proxy_X links the proxy objects listed in test_proxy_X_PROXY. These rules have shorter
# stems than the generic test rule above, so they win for these names.
test_proxy_config_PROXY := config
test_proxy_socks5_PROXY := socks5
test_proxy_http_PROXY := http
test_proxy_dns_PROXY := dns

$(BUILD)/tests/test_netif: tests/unit/test_netif.c $(NETIF_OBJ) $(BUILD)/libwgc.a
	@mkdir -p $(dir $@)
	$(CC) $(NETIF_CFLAGS) -o $@ $< $(NETIF_OBJ) $(BUILD)/libwgc.a -lcmocka $(LWIP_LIBS) $(LIBS)

$(BUILD)/asan/tests/test_netif: tests/unit/test_netif.c $(NETIF_OBJ_SAN) $(BUILD)/asan/libwgc.a
	@mkdir -p $(dir $@)
	$(CC) $(NETIF_CFLAGS) $(SAN_FLAGS) -o $@ $< $(NETIF_OBJ_SAN) $(BUILD)/asan/libwgc.a \
		-lcmocka $(LWIP_LIBS) $(LIBS)

$(BUILD)/tests/test_proxy_%: tests/unit/test_proxy_%.c \
		$$(addprefix $(BUILD)/proxy/,$$(addsuffix .o,$$(test_proxy_$$*_PROXY)))
	@mkdir -p $(dir $@)
	$(CC) $(PROXY_CFLAGS) -Itests/unit -o $@ $(filter %.c %.o,$^) -lcmocka $(LIBS)

$(BUILD)/asan/tests/test_proxy_%: tests/unit/test_proxy_%.c \
		$$(addprefix $(BUILD)/asan/proxy/,$$(addsuffix .o,$$(test_proxy_$$*_PROXY)))
	@mkdir -p $(dir $@)
	$(CC) $(PROXY_CFLAGS) $(SAN_FLAGS) -Itests/unit -o $@ $(filter %.c %.o,$^) -lcmocka $(LIBS)

# The config parser's fuzz target (run by make fuzz with the others).
$(BUILD)/fuzz/fuzz_proxy_config: tests/fuzz/fuzz_proxy_config.c proxy/config.c
	@mkdir -p $(dir $@)
	$(CLANG) $(FUZZ_FLAGS) -D_GNU_SOURCE -o $@ $< proxy/config.c $(LIBS)

# wgc-proxy's figures (root, a minute): bench/proxy.sh. Figures, not asserts.
.PHONY: bench-proxy
bench-proxy: $(BUILD)/wgc-proxy $(BUILD)/wgc
	@bench/proxy.sh

$(BUILD)/fuzz/fuzz_proxy_dns: tests/fuzz/fuzz_proxy_dns.c proxy/dns.c
	@mkdir -p $(dir $@)
	$(CLANG) $(FUZZ_FLAGS) -D_GNU_SOURCE -o $@ $< proxy/dns.c

# ==== end of wgc-proxy ====

# End-to-end tests in network namespaces (root): wgc<->wgc and wgc<->wireguard-go.
netns: $(BUILD)/wgc $(BUILD)/tools/wgc-flood $(BUILD)/wgc-proxy
	@tests/netns/run.sh

# ---- fuzzing (clang libFuzzer) ----

FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/fuzz/%)
FUZZ_FLAGS := -std=c11 -g -O1 -D_DEFAULT_SOURCE -Iinclude -I. -MMD -MP $(DEBUG_FLAGS) \
	-fsanitize=fuzzer,address,undefined
FUZZ_SECONDS ?= 20

$(BUILD)/fuzz/%: tests/fuzz/%.c $(LIB_SRC)
	@mkdir -p $(dir $@)
	$(CLANG) $(FUZZ_FLAGS) -o $@ $< $(LIB_SRC) $(LIBS)

fuzz-build: $(FUZZ_BIN)

# Each target runs for FUZZ_SECONDS; its log goes to build/fuzz/NAME.log and is shown only on a
# failure. The totals land in build/results/fuzz.txt for the summary line.
fuzz: fuzz-build
	@mkdir -p $(BUILD)/results; passed=0; failed=0; \
	for f in $(FUZZ_BIN); do \
		name=$$(basename $$f); mkdir -p $(BUILD)/fuzz/corpus-$$name; \
		if $$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
			$(BUILD)/fuzz/corpus-$$name > $(BUILD)/fuzz/$$name.log 2>&1; then \
			echo "fuzz $$name: ok, $$(grep -o 'Done [0-9]* runs' $(BUILD)/fuzz/$$name.log)" \
				"in $(FUZZ_SECONDS)s"; passed=$$((passed + 1)); \
		else \
			echo "fuzz $$name: FAILED"; tail -40 $(BUILD)/fuzz/$$name.log; \
			failed=$$((failed + 1)); \
		fi; \
	done; echo "$$passed $$failed" > $(BUILD)/results/fuzz.txt; [ $$failed -eq 0 ]

# ---- portable crypto: differential test, constant-time check, slow vectors (issue 11) ----
#
# crypto-diff: the portable primitives against libsodium, CRYPTO_DIFF_CASES (100,000) random
#   cases per primitive; WGC_DIFF_SEED replays a run.
# ct: the portable backend under valgrind memcheck with secrets marked undefined, built at -O2
#   and -Os with gcc and at -O2 with clang; any report fails it, and a deliberately leaky run
#   must be caught.
# unit-portable: the whole unit suite again on CRYPTO=portable in its own build directory, plus
#   the proof that that libwgc references no libsodium symbol.
# unit-small-window: the replay window's tests with WGC_REPLAY_BITS 512 and 1024.
# check-slow: the X25519 iterated test to 1,000,000 (minutes).
.PHONY: crypto-diff ct unit-portable no-sodium check-slow unit-small-window

CT_SRC := crypto/blake2s.c crypto/common.c $(wildcard crypto/portable/*.c) crypto/portable.c
CT_BIN := $(BUILD)/tests/ct-O2 $(BUILD)/tests/ct-Os
VALGRIND := valgrind -q --error-exitcode=1 --exit-on-first-error=no

$(BUILD)/tests/crypto-diff: tests/crypto/diff.c $(BUILD)/libwgc.a
	@mkdir -p $(dir $@)
	$(CC) $(APP_CFLAGS) -o $@ $< $(BUILD)/libwgc.a $(LIBS)

crypto-diff: $(BUILD)/tests/crypto-diff
	@$< $${CRYPTO_DIFF_CASES:-100000}

# (A static pattern: a plain one would also match the ct-O2.d file the build writes.)
$(CT_BIN): $(BUILD)/tests/ct-%: tests/crypto/ct.c $(CT_SRC)
	@mkdir -p $(dir $@)
	$(CC) $(LIB_CFLAGS) -$* -o $@ $< $(CT_SRC)

# And once with clang (DWARF 4: this valgrind cannot read clang's DWARF 5).
$(BUILD)/tests/ct-clang-O2: tests/crypto/ct.c $(CT_SRC)
	@mkdir -p $(dir $@)
	$(CLANG) -std=c11 -gdwarf-4 -O2 -D_DEFAULT_SOURCE -Iinclude -I. $(LIB_WARN) -o $@ $< $(CT_SRC)

ct: $(CT_BIN) $(BUILD)/tests/ct-clang-O2
	@mkdir -p build/results; status=0; \
	for b in $(CT_BIN) $(BUILD)/tests/ct-clang-O2; do \
		if $(VALGRIND) $$b > $$b.log 2>&1; then \
			echo "ct: $$(basename $$b): no secret-dependent branch or address (valgrind)"; \
		else \
			echo "ct: $$(basename $$b): FAILED"; cat $$b.log; status=1; \
		fi; \
	done; \
	if $(VALGRIND) $(BUILD)/tests/ct-O2 --leak > /dev/null 2>&1; then \
		echo "ct: the deliberate leak was NOT caught: the check is broken"; status=1; \
	else \
		echo "ct: the deliberate leak was caught"; \
	fi; \
	if [ $$status -eq 0 ]; then echo "4 0"; else echo "0 1"; fi > build/results/ct.txt; \
	exit $$status

no-sodium: $(LIB_OBJ)
	@bad=$$(nm -u $(LIB_OBJ) | awk '{print $$2}' | grep -E '^(sodium_|crypto_|randombytes)' | sort -u); \
	if [ -n "$$bad" ]; then echo "no-sodium: libwgc ($(CRYPTO)) references: $$bad"; exit 1; fi; \
	echo "no-sodium: libwgc ($(CRYPTO)) references no libsodium symbol"

unit-portable:
	$(MAKE) CRYPTO=portable BUILD=$(BUILD)/portable no-sodium unit

# The replay window's own tests again with smaller rings: 512 bits (the smallest the table of
# cases fits) and the embedded build's 1024.
SMALL_WINDOW_BIN := $(BUILD)/tests/test_replay-512 $(BUILD)/tests/test_replay-1024

$(SMALL_WINDOW_BIN): $(BUILD)/tests/test_replay-%: tests/unit/test_replay.c core/replay.c
	@mkdir -p $(dir $@)
	$(CC) $(APP_CFLAGS) $(SAN_FLAGS) -DWGC_REPLAY_BITS=$* -DWGC_TEST_SMALL_WINDOW -Itests/unit \
		-o $@ $^ -lcmocka

unit-small-window: $(SMALL_WINDOW_BIN)
	@scripts/run-unit.sh small-window $(SMALL_WINDOW_BIN)

check-slow: $(BUILD)/tests/test_portable
	WGC_X25519_ITERATIONS=1000000 $(BUILD)/tests/test_portable

# ---- end portable crypto ----

# ---- embedded: libwgc for a Cortex-M4 and the firmware under qemu (issue 11 part 2) ----
#
# make embedded cross-compiles core/ and the portable backend with gcc-arm-none-eabi and
# picolibc (no libsodium, no allocator: the no-malloc and freestanding checks run on these
# objects too), prints their sizes, links examples/embedded/ into a firmware image for the MPS2
# AN386 board and runs it under qemu-system-arm with semihosting; the firmware's exit status is
# the result. EMB_REPLAY_BITS is the replay window of this build (docs/EMBEDDING.md).
.PHONY: embedded embedded-build embedded-size embedded-run

ARM_CC := arm-none-eabi-gcc
ARM_SIZE := arm-none-eabi-size
EMB_BUILD := $(BUILD)/embedded
EMB_REPLAY_BITS ?= 1024
EMB_ARCH := --specs=picolibc.specs -mcpu=cortex-m4 -mthumb
EMB_CFLAGS := $(EMB_ARCH) -Os -g -std=c11 -Iinclude -I. -ffunction-sections -fdata-sections \
	-DWGC_REPLAY_BITS=$(EMB_REPLAY_BITS) -MMD -MP
EMB_CRYPTO_SRC := crypto/blake2s.c crypto/common.c $(wildcard crypto/portable/*.c) crypto/portable.c
EMB_CORE_SRC := $(wildcard core/*.c)
EMB_CRYPTO_OBJ := $(EMB_CRYPTO_SRC:%.c=$(EMB_BUILD)/%.o)
EMB_CORE_OBJ := $(EMB_CORE_SRC:%.c=$(EMB_BUILD)/%.o)
EMB_FW_SRC := $(wildcard examples/embedded/*.c)
EMB_FW_OBJ := $(EMB_FW_SRC:%.c=$(EMB_BUILD)/%.o)
# MPS2 AN386: 4 MiB of code memory at 0, 4 MiB of data memory at 0x20000000; a 16 KiB stack.
EMB_LDFLAGS := $(EMB_ARCH) --oslib=semihost --crt0=semihost -Wl,--gc-sections \
	-Wl,--defsym=__flash=0x0 -Wl,--defsym=__flash_size=0x400000 \
	-Wl,--defsym=__ram=0x20000000 -Wl,--defsym=__ram_size=0x400000 \
	-Wl,--defsym=__stack_size=0x4000 -Wl,-Map=$(EMB_BUILD)/firmware.map
QEMU_ARM := qemu-system-arm -M mps2-an386 -nographic -monitor none -serial none \
	-semihosting-config enable=on,target=native -icount shift=0

$(EMB_BUILD)/crypto/%.o $(EMB_BUILD)/core/%.o: EMB_WARN := $(LIB_WARN)
$(EMB_BUILD)/examples/%.o: EMB_WARN := $(WARN)
$(EMB_BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(ARM_CC) $(EMB_CFLAGS) $(EMB_WARN) -c $< -o $@

$(EMB_BUILD)/libwgc.a: $(EMB_CRYPTO_OBJ) $(EMB_CORE_OBJ)
	@rm -f $@
	arm-none-eabi-ar rcs $@ $^

$(EMB_BUILD)/firmware.elf: $(EMB_FW_OBJ) $(EMB_BUILD)/libwgc.a
	$(ARM_CC) $(EMB_LDFLAGS) -o $@ $(EMB_FW_OBJ) $(EMB_BUILD)/libwgc.a

embedded-build: $(EMB_BUILD)/firmware.elf
	@RESULT=freestanding-embedded SKIP="crypto/sodium.c crypto/openssl.c" scripts/check-freestanding.sh "$(ARM_CC) $(EMB_ARCH)"
	@NM=arm-none-eabi-nm RESULT=no-malloc-embedded scripts/check-no-malloc.sh \
		$(EMB_CRYPTO_OBJ) $(EMB_CORE_OBJ)

# Sizes of libwgc's objects for this target (every function, before the firmware's
# --gc-sections), and of what the firmware keeps of it.
embedded-size: embedded-build
	@scripts/embedded-size.sh $(ARM_SIZE) $(EMB_BUILD)

embedded-run: embedded-size
	@mkdir -p build/results; \
	if timeout 300 $(QEMU_ARM) -kernel $(EMB_BUILD)/firmware.elf; then \
		echo "1 0" > build/results/embedded.txt; \
	else \
		echo "embedded: the firmware FAILED under qemu"; echo "0 1" > build/results/embedded.txt; \
		exit 1; \
	fi

embedded: embedded-run

# ---- end embedded ----

# ---- check: everything that must pass ----

check: deps
	@rm -rf $(BUILD)/results
	$(MAKE) lib example
	$(MAKE) freestanding
	$(MAKE) no-malloc
	$(MAKE) daemon-deps
	$(MAKE) check-abi check-install check-man check-systemd check-python check-chart
	$(MAKE) unit
	$(MAKE) unit-asan
	$(MAKE) unit-portable
	$(MAKE) unit-small-window
	$(MAKE) crypto-diff
	$(MAKE) ct
	$(MAKE) embedded
	$(MAKE) netns
	$(MAKE) tsan-inbox tsan-lanes
	$(MAKE) check-deb
	$(MAKE) fuzz FUZZ_SECONDS=$${FUZZ_SECONDS:-10}
	@scripts/summary.sh

# ---- bench ----

BENCH_SRC := $(wildcard bench/bench_*.c)
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

$(BUILD)/bench/%: bench/%.c $(BUILD)/libwgc.a
	@mkdir -p $(dir $@)
	$(CC) $(APP_CFLAGS) -O2 -o $@ $< $(BUILD)/libwgc.a $(LIBS) -lcrypto -lm

bench: $(BENCH_BIN)
	@for b in $(BENCH_BIN); do $$b || exit 1; done
	@if [ "$${BENCH_TUNNEL:-0}" = 1 ]; then $(MAKE) bench-tunnel; fi

# ---- bench-tunnel: wgc vs wireguard-go through two network namespaces (root, minutes) ----
# bench/tunnel.sh reads RUNS, DURATION, QUICK=1 ... from the environment; `make bench` runs it
# only when BENCH_TUNNEL=1. Results: bench/results/latest.md.

.PHONY: bench-tunnel
bench-tunnel: all
	@bench/tunnel.sh
	@$(MAKE) --no-print-directory bench-chart

# The README's bar chart, from the latest report (bench/chart.py, gnuplot).
BENCH_RESULTS ?= $${RESULTS_DIR:-bench/results}
.PHONY: bench-chart check-chart
bench-chart:
	@python3 bench/chart.py $(BENCH_RESULTS)/latest.md $(BENCH_RESULTS)/latest.png

# The chart script still reads the committed reports (into a temporary file).
check-chart:
	@scripts/check-chart.sh

# ---- bench-profile: where each daemon's time goes during one TCP flow (perf, by category) ----
# bench/profile.sh [IMPL] reads DURATION, OFFLOADS, REVERSE, TOP, OUT (see its header).

.PHONY: bench-profile
bench-profile: all
	@bench/profile.sh $(PROFILE_IMPL)

# ---- bench-flood: goodput and handshakes under a handshake flood, wgc vs wireguard-go ----
# bench/flood.sh reads RUNS, DURATION, RATES, MODES, WGGO ... (see its header). Results:
# bench/results/latest-flood.md.

.PHONY: bench-flood
bench-flood: all
	@bench/flood.sh

# ---- demo ----

demo: deps $(BUILD)/wgc
	@scripts/demo.sh

clean:
	rm -rf $(BUILD)

# ---- install / uninstall (PREFIX, DESTDIR; the directories below may each be overridden) ----
# What goes where is listed once, in README.md "Install". debian/rules passes LIBDIR (multiarch)
# and SYSTEMDUNITDIR. Nothing is stripped here (dh_strip does that for the packages).

PREFIX ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
BINDIR ?= $(PREFIX)/bin
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
MANDIR ?= $(PREFIX)/share/man
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
INSTALL ?= install
# Relative to PREFIX, for check-install: what install adds beyond program, library and header.
INSTALL_EXTRA := share/man/man8/wgc.8 share/man/man3/libwgc.3 lib/systemd/system/wgc@.service \
	lib/systemd/system/wg-quick@.service.d/wgc.conf

.PHONY: install uninstall check-install install-systemd
install: lib daemon proxy install-systemd
	$(INSTALL) -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) \
		$(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(PKGCONFIGDIR)
	$(INSTALL) -m 0755 $(BUILD)/wgc $(DESTDIR)$(SBINDIR)/wgc
	$(INSTALL) -m 0755 $(BUILD)/wgc-proxy $(DESTDIR)$(BINDIR)/wgc-proxy
	$(INSTALL) -m 0644 $(BUILD)/$(LIB_REALNAME) $(DESTDIR)$(LIBDIR)/$(LIB_REALNAME)
	ln -sf $(LIB_REALNAME) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(LIB_REALNAME) $(DESTDIR)$(LIBDIR)/libwgc.so
	$(INSTALL) -m 0644 $(BUILD)/libwgc.a $(DESTDIR)$(LIBDIR)/libwgc.a
	$(INSTALL) -m 0644 include/wgc.h $(DESTDIR)$(INCLUDEDIR)/wgc.h
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
		-e 's|@VERSION@|$(VERSION)|' abi/wgc.pc.in >$(DESTDIR)$(PKGCONFIGDIR)/wgc.pc
	chmod 0644 $(DESTDIR)$(PKGCONFIGDIR)/wgc.pc
	$(INSTALL) -d $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(MANDIR)/man3
	$(INSTALL) -m 0644 man/wgc.8 $(DESTDIR)$(MANDIR)/man8/wgc.8
	$(INSTALL) -m 0644 man/libwgc.3 $(DESTDIR)$(MANDIR)/man3/libwgc.3

# The units name the installed wgc (SBINDIR).
install-systemd:
	$(INSTALL) -d $(DESTDIR)$(SYSTEMDUNITDIR)/wg-quick@.service.d
	sed 's|@SBINDIR@|$(SBINDIR)|' systemd/wgc@.service.in >$(DESTDIR)$(SYSTEMDUNITDIR)/wgc@.service
	sed 's|@SBINDIR@|$(SBINDIR)|' systemd/wg-quick@.service.d/wgc.conf.in \
		>$(DESTDIR)$(SYSTEMDUNITDIR)/wg-quick@.service.d/wgc.conf
	chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/wgc@.service \
		$(DESTDIR)$(SYSTEMDUNITDIR)/wg-quick@.service.d/wgc.conf

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/wgc $(DESTDIR)$(BINDIR)/wgc-proxy $(DESTDIR)$(LIBDIR)/$(LIB_REALNAME) \
		$(DESTDIR)$(LIBDIR)/$(SONAME) $(DESTDIR)$(LIBDIR)/libwgc.so $(DESTDIR)$(LIBDIR)/libwgc.a \
		$(DESTDIR)$(INCLUDEDIR)/wgc.h $(DESTDIR)$(PKGCONFIGDIR)/wgc.pc \
		$(DESTDIR)$(MANDIR)/man8/wgc.8 $(DESTDIR)$(MANDIR)/man3/libwgc.3 \
		$(DESTDIR)$(SYSTEMDUNITDIR)/wgc@.service \
		$(DESTDIR)$(SYSTEMDUNITDIR)/wg-quick@.service.d/wgc.conf
	-rmdir $(DESTDIR)$(SYSTEMDUNITDIR)/wg-quick@.service.d 2>/dev/null

# Installs into a temporary DESTDIR and builds examples/two_endpoints.c against it with nothing
# but pkg-config (shared and static), runs both, checks the ABI of the installed library, then
# uninstalls and checks nothing is left.
check-install: lib daemon
	@scripts/check-install.sh

# The manual pages lint clean and match the program (`wgc --help`, the environment it reads).
.PHONY: check-man
check-man: $(BUILD)/wgc
	@scripts/check-man.sh $(BUILD)/wgc

# The Debian packages: build from a copy of the tree, lintian, apt-get install ./*.deb, the demo
# against /usr/sbin/wgc, purge (root; about a minute).
.PHONY: check-deb
check-deb:
	@scripts/check-deb.sh

# The Python bindings (bindings/python, ctypes over libwgc.so.0): pytest, including one Python
# endpoint against a real wgc in a network namespace (root).
.PHONY: check-python
check-python: lib $(BUILD)/wgc
	@scripts/check-python.sh

# The systemd units verify and keep their sandboxing (readiness: tests/netns/notify.sh).
.PHONY: check-systemd
check-systemd: $(BUILD)/wgc
	@scripts/check-systemd.sh

# Files beyond the library and program that install puts under PREFIX (for check-install).
.PHONY: install-list-extra
install-list-extra:
	@echo $(INSTALL_EXTRA)
