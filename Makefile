# wgc: one top-level Makefile. Targets: all (libwgc static+shared, daemon), check, demo, bench, fuzz.
# Outputs go to build/ (plain), build/asan/ (ASan+UBSan) and build/fuzz/.

CC ?= cc
CLANG ?= clang
BUILD := build

WARN := -Wall -Wextra -Werror -Wshadow -Wvla -Wstrict-prototypes -Wmissing-prototypes \
	-Wcast-align -Wpointer-arith -Wformat=2
# core/ and crypto/ are held to -Wconversion as well (STYLE.md 10).
LIB_WARN := $(WARN) -Wconversion
OPT ?= -O2
# -MMD -MP: every object records the headers it read (build/**/*.d, included below), so a header
# change rebuilds exactly what uses it.
CFLAGS_COMMON := -std=c11 -g $(OPT) -D_DEFAULT_SOURCE -Iinclude -I. -fPIC -MMD -MP
LIB_CFLAGS := $(CFLAGS_COMMON) $(LIB_WARN) -fvisibility=hidden
APP_CFLAGS := $(CFLAGS_COMMON) $(WARN)
# WGC_DEBUG compiles in WGC_ASSERT (base/assert.h): on in the sanitizer and fuzz builds, off in
# the plain build that the daemon, the benchmarks and the plain unit run use.
DEBUG_FLAGS := -DWGC_DEBUG
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer \
	$(DEBUG_FLAGS)
LIBS := -lsodium

LIB_SRC := $(wildcard crypto/*.c) $(wildcard core/*.c)
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
LIB_OBJ_SAN := $(LIB_SRC:%.c=$(BUILD)/asan/%.o)

TEST_SRC := $(wildcard tests/unit/test_*.c)
TEST_LIB_SRC := $(wildcard tests/unit/lib_*.c)
TEST_BIN := $(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/%)
TEST_BIN_SAN := $(TEST_SRC:tests/unit/%.c=$(BUILD)/asan/tests/%)

.PHONY: all lib check unit unit-asan freestanding no-malloc fuzz fuzz-build bench demo clean deps \
	example daemon netns proxy

all: lib example daemon proxy

lib: $(BUILD)/libwgc.a $(BUILD)/libwgc.so

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

$(BUILD)/libwgc.so: $(LIB_OBJ)
	$(CC) -shared -Wl,-soname,libwgc.so.0 -o $@ $^ $(LIBS)

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
test_icmp_DAEMON := icmp
test_sandbox_DAEMON := sandbox syscall_filter log
test_workers_DAEMON := workers
test_loop_DAEMON := loop log

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

unit: $(TEST_BIN)
	@scripts/run-unit.sh plain $(TEST_BIN)

unit-asan: $(TEST_BIN_SAN)
	@scripts/run-unit.sh asan $(TEST_BIN_SAN)

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
	$(CC) -o $@ $(DAEMON_OBJ) $(BUILD)/libwgc.a $(LIBS) -lseccomp -lpthread

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
netns: $(BUILD)/wgc $(BUILD)/wgc-proxy
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

# ---- check: everything that must pass ----

check: deps
	@rm -rf $(BUILD)/results
	$(MAKE) lib example
	$(MAKE) freestanding
	$(MAKE) no-malloc
	$(MAKE) daemon-deps
	$(MAKE) unit
	$(MAKE) unit-asan
	$(MAKE) netns
	$(MAKE) fuzz FUZZ_SECONDS=$${FUZZ_SECONDS:-10}
	@scripts/summary.sh

# ---- bench ----

BENCH_SRC := $(wildcard bench/bench_*.c)
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

$(BUILD)/bench/%: bench/%.c $(BUILD)/libwgc.a
	@mkdir -p $(dir $@)
	$(CC) $(APP_CFLAGS) -O2 -o $@ $< $(BUILD)/libwgc.a $(LIBS) -lm

bench: $(BENCH_BIN)
	@for b in $(BENCH_BIN); do $$b || exit 1; done
	@if [ "$${BENCH_TUNNEL:-0}" = 1 ]; then $(MAKE) bench-tunnel; fi

# ---- bench-tunnel: wgc vs wireguard-go through two network namespaces (root, minutes) ----
# bench/tunnel.sh reads RUNS, DURATION, QUICK=1 ... from the environment; `make bench` runs it
# only when BENCH_TUNNEL=1. Results: bench/results/latest.md.

.PHONY: bench-tunnel
bench-tunnel: all
	@bench/tunnel.sh

# ---- demo ----

demo: deps $(BUILD)/wgc
	@scripts/demo.sh

clean:
	rm -rf $(BUILD)
