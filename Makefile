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
CFLAGS_COMMON := -std=c11 -g $(OPT) -D_DEFAULT_SOURCE -Iinclude -I. -fPIC
LIB_CFLAGS := $(CFLAGS_COMMON) $(LIB_WARN) -fvisibility=hidden
APP_CFLAGS := $(CFLAGS_COMMON) $(WARN)
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
LIBS := -lsodium

LIB_SRC := $(wildcard crypto/*.c) $(wildcard core/*.c)
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
LIB_OBJ_SAN := $(LIB_SRC:%.c=$(BUILD)/asan/%.o)
HEADERS := $(wildcard include/*.h crypto/*.h core/*.h)

TEST_SRC := $(wildcard tests/unit/test_*.c)
TEST_LIB_SRC := $(wildcard tests/unit/lib_*.c)
TEST_BIN := $(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/%)
TEST_BIN_SAN := $(TEST_SRC:tests/unit/%.c=$(BUILD)/asan/tests/%)

.PHONY: all lib check unit unit-asan freestanding no-malloc fuzz fuzz-build bench demo clean deps \
	example daemon netns

all: lib example daemon

lib: $(BUILD)/libwgc.a $(BUILD)/libwgc.so

deps:
	@scripts/install-deps.sh

$(BUILD)/%.o: %.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(LIB_CFLAGS) -c $< -o $@

$(BUILD)/asan/%.o: %.c $(HEADERS)
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

# ---- unit tests (cmocka), plain and under ASan+UBSan ----

$(BUILD)/tests/%: tests/unit/%.c $(TEST_LIB_SRC) $(wildcard tests/unit/*.h) $(BUILD)/libwgc.a
	@mkdir -p $(dir $@)
	$(CC) $(APP_CFLAGS) -Itests/unit -o $@ $< $(TEST_LIB_SRC) $(BUILD)/libwgc.a -lcmocka $(LIBS)

$(BUILD)/asan/tests/%: tests/unit/%.c $(TEST_LIB_SRC) $(wildcard tests/unit/*.h) $(BUILD)/asan/libwgc.a
	@mkdir -p $(dir $@)
	$(CC) $(APP_CFLAGS) $(SAN_FLAGS) -Itests/unit -o $@ $< $(TEST_LIB_SRC) \
		$(BUILD)/asan/libwgc.a -lcmocka $(LIBS)

# ---- unit tests of daemon code: test_offload also links the daemon's offload.o ----
# (explicit rules, so they win over the libwgc-only pattern rules above)

$(BUILD)/tests/test_offload: tests/unit/test_offload.c $(BUILD)/daemon/offload.o daemon/offload.h
	@mkdir -p $(dir $@)
	$(CC) $(APP_CFLAGS) -o $@ $< $(BUILD)/daemon/offload.o -lcmocka

$(BUILD)/asan/daemon/offload.o: daemon/offload.c daemon/offload.h
	@mkdir -p $(dir $@)
	$(CC) $(APP_CFLAGS) -D_GNU_SOURCE $(SAN_FLAGS) -c $< -o $@

$(BUILD)/asan/tests/test_offload: tests/unit/test_offload.c $(BUILD)/asan/daemon/offload.o \
		daemon/offload.h
	@mkdir -p $(dir $@)
	$(CC) $(APP_CFLAGS) $(SAN_FLAGS) -o $@ $< $(BUILD)/asan/daemon/offload.o -lcmocka

# ---- test_workers: the crypto worker pool (daemon/workers.o) over real libwgc endpoints ----
# (explicit rules, as for test_offload; the asan variant links an asan-built workers.o)

$(BUILD)/tests/test_workers: tests/unit/test_workers.c $(TEST_LIB_SRC) $(wildcard tests/unit/*.h) \
		$(BUILD)/daemon/workers.o daemon/workers.h $(BUILD)/libwgc.a
	@mkdir -p $(dir $@)
	$(CC) $(APP_CFLAGS) -Itests/unit -o $@ $< $(TEST_LIB_SRC) $(BUILD)/daemon/workers.o \
		$(BUILD)/libwgc.a -lcmocka $(LIBS) -lpthread

$(BUILD)/asan/daemon/workers.o: daemon/workers.c daemon/workers.h include/wgc.h
	@mkdir -p $(dir $@)
	$(CC) $(APP_CFLAGS) -D_GNU_SOURCE $(SAN_FLAGS) -c $< -o $@

$(BUILD)/asan/tests/test_workers: tests/unit/test_workers.c $(TEST_LIB_SRC) \
		$(wildcard tests/unit/*.h) $(BUILD)/asan/daemon/workers.o daemon/workers.h $(BUILD)/asan/libwgc.a
	@mkdir -p $(dir $@)
	$(CC) $(APP_CFLAGS) $(SAN_FLAGS) -Itests/unit -o $@ $< $(TEST_LIB_SRC) \
		$(BUILD)/asan/daemon/workers.o $(BUILD)/asan/libwgc.a -lcmocka $(LIBS) -lpthread

# The same test under ThreadSanitizer (clang; libwgc built from source with it). Not in check.
.PHONY: tsan-workers
tsan-workers:
	@mkdir -p $(BUILD)/tsan
	$(CLANG) -std=c11 -g -O1 -fsanitize=thread -D_DEFAULT_SOURCE -D_GNU_SOURCE -Iinclude -I. \
		-Itests/unit -o $(BUILD)/tsan/test_workers tests/unit/test_workers.c $(TEST_LIB_SRC) \
		daemon/workers.c $(LIB_SRC) -lcmocka $(LIBS) -lpthread
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

# ---- example (the embedding demo) ----

example: $(BUILD)/example-two-endpoints

$(BUILD)/example-two-endpoints: examples/two_endpoints.c $(BUILD)/libwgc.a
	$(CC) $(APP_CFLAGS) -o $@ $< $(BUILD)/libwgc.a $(LIBS)

# ---- daemon: the Linux program wgc (daemon/), linked against libwgc.a ----

DAEMON_SRC := $(wildcard daemon/*.c)
DAEMON_OBJ := $(DAEMON_SRC:%.c=$(BUILD)/%.o)
DAEMON_HEADERS := $(wildcard daemon/*.h) include/wgc.h
# recvmmsg/sendmmsg, accept4, pipe2 are GNU extensions.
DAEMON_CFLAGS := $(APP_CFLAGS) -D_GNU_SOURCE

daemon: $(BUILD)/wgc

$(BUILD)/daemon/%.o: daemon/%.c $(DAEMON_HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(DAEMON_CFLAGS) -c $< -o $@

$(BUILD)/wgc: $(DAEMON_OBJ) $(BUILD)/libwgc.a
	$(CC) -o $@ $(DAEMON_OBJ) $(BUILD)/libwgc.a $(LIBS) -lpthread

# The UAPI parser's fuzz target links the parser from daemon/ (run by make fuzz with the others).
FUZZ_UAPI_SRC := daemon/uapi_parse.c daemon/udp.c daemon/log.c daemon/offload.c

$(BUILD)/fuzz/fuzz_uapi: tests/fuzz/fuzz_uapi.c $(FUZZ_UAPI_SRC) $(DAEMON_HEADERS)
	@mkdir -p $(dir $@)
	$(CLANG) $(FUZZ_FLAGS) -D_GNU_SOURCE -o $@ $< $(FUZZ_UAPI_SRC) $(LIBS)

# End-to-end tests in network namespaces (root): wgc<->wgc and wgc<->wireguard-go.
netns: $(BUILD)/wgc
	@tests/netns/run.sh

# ---- fuzzing (clang libFuzzer) ----

FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/fuzz/%)
FUZZ_FLAGS := -std=c11 -g -O1 -D_DEFAULT_SOURCE -Iinclude -I. -fsanitize=fuzzer,address,undefined
FUZZ_SECONDS ?= 20

$(BUILD)/fuzz/%: tests/fuzz/%.c $(LIB_SRC) $(HEADERS)
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
