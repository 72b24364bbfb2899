# SPDX-License-Identifier: GPL-2.0
#
# termite: build the kernel module, the selftests and the examples, and run
# the tests in a QEMU VM.  `make help` lists the targets.
#
# The module is built against the kernel the test VM boots (the newest
# /lib/modules/*-amd64/build that has a /boot/vmlinuz), which is usually not
# the kernel this machine runs.  Override with KVER=... or KDIR=..., e.g.
#   make module KDIR=/lib/modules/$(uname -r)/build

ifneq ($(KERNELRELEASE),)
# Read by kbuild only if there is no top-level Kbuild file.
obj-m += kmod/
else

TOP := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
BUILD := $(TOP)/build

ifeq ($(origin KVER),undefined)
KVER := $(shell $(TOP)/scripts/kver.sh 2>/dev/null)
endif
KDIR ?= /lib/modules/$(KVER)/build

# User-space programs (selftests, examples).  The kselftest headers are a
# system include directory so that -Wextra does not flag their macros.
comma := ,
USER_CFLAGS := -O2 -g -Wall -Wextra -pthread -I$(TOP)/uapi \
	-isystem $(BUILD)/kselftest
# liburing is linked in when it is installed (only where used: --as-needed).
USER_LDLIBS := $(if $(filter /%,$(shell $(CC) -print-file-name=liburing.so)),-Wl$(comma)--as-needed -luring)

KSFT_HDR := $(BUILD)/kselftest/kselftest_harness.h

# libtermite-user (build/libtermite-user.a) and its host tests
# (build/tests/host/*_test, run on this machine, no VM): the term layer's
# rules, plus the green-thread core (fiber.c and its x86-64 context switch).
include $(TOP)/libtermite-user/term.mk
TMU_SRCS += $(TOP)/libtermite-user/fiber.c $(TOP)/libtermite-user/proc.c \
	$(TOP)/libtermite-user/behaviour.c
TMU_HDRS += $(TOP)/libtermite-user/fiber.h $(TOP)/libtermite-user/termite.h \
	$(TOP)/libtermite-user/behaviour.h
TMU_TESTS += fiber_test fiber_snapshot_test fiber_mem_test
host-tests check-host: $(addprefix $(BUILD)/tests/host/,fiber_test fiber_snapshot_test fiber_mem_test)
TMU_TEST_CFLAGS += -fstack-protector-strong
TMU_CTX_OBJ := $(BUILD)/libtermite-user/ctx_x86_64.o
# (term.mk expands its prerequisites when read: name the fiber objects here.)
$(TMU_LIB): $(TMU_CTX_OBJ) $(BUILD)/libtermite-user/fiber.o \
	$(BUILD)/libtermite-user/proc.o $(BUILD)/libtermite-user/behaviour.o
# proc.c talks to the kernel: it needs the uapi header.
$(BUILD)/libtermite-user/proc.o: TMU_CFLAGS += -I$(TOP)/uapi
$(TMU_CTX_OBJ): $(TOP)/libtermite-user/ctx_x86_64.S
	@mkdir -p $(dir $@)
	$(CC) -c $< -o $@
# Host benchmarks of the library (no VM): fibers, arenas.
$(BUILD)/bench/fiber_bench $(BUILD)/bench/arena_bench: $(BUILD)/bench/%: \
		$(TOP)/bench/%.c $(TMU_LIB)
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -g -Wall -Wextra -I$(TOP)/libtermite-user $< $(TMU_LIB) -o $@

# ---- make bench (not part of `make check`) ------------------------------
# bench/*.c and bench/erl/*.erl -> build/bench/; scripts/bench.sh runs them
# all in one VM run and writes bench/results/ (RESULTS.md, PNGs, CSV).
BENCH_CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -I$(TOP)/libtermite-user \
	-I$(TOP)/uapi
BENCH_PROGS := $(addprefix $(BUILD)/bench/,ipc_bench binder_bench lib_ipc_bench \
	paper_bench) $(BUILD)/bench/erl/paper_bench.beam

# ipc_bench has its termite-uring mechanism only where liburing is installed.
$(BUILD)/bench/ipc_bench $(BUILD)/bench/binder_bench: $(BUILD)/bench/%: \
		$(TOP)/bench/%.c $(TOP)/bench/bench_proto.h
	@mkdir -p $(dir $@)
	$(CC) $(BENCH_CFLAGS) $< -o $@ $(USER_LDLIBS)
$(BUILD)/bench/%: $(TOP)/bench/%.c $(TOP)/bench/bench_proto.h $(TMU_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(BENCH_CFLAGS) $< $(TMU_LIB) -o $@ $(USER_LDLIBS)
$(BUILD)/bench/erl/%.beam: $(TOP)/bench/erl/%.erl
	@mkdir -p $(dir $@)
	erlc -Wall -o $(dir $@) $<

.PHONY: bench bench-build
bench-build: $(BENCH_PROGS)

bench:
	@$(TOP)/scripts/deps.sh
	@$(TOP)/scripts/bench-deps.sh
	@$(MAKE) --no-print-directory module bench-build
	@$(TOP)/scripts/bench.sh

EXAMPLE_SRCS := $(wildcard $(TOP)/examples/*.c)
EXAMPLES := $(patsubst $(TOP)/examples/%.c,$(BUILD)/examples/%,$(EXAMPLE_SRCS))

# Guest command line for `make vm-run CMD=...`, and the selftest filters
# passed to selftests/run.sh by `make check` (SUITES=..., SUITE_TIMEOUT=...).
CMD ?=
SUITES ?=
SUITE_TIMEOUT ?= 300

.PHONY: all module selftests examples kselftest-headers deps check demo \
	vm-run clean help lib

all: module selftests examples lib host-tests $(BUILD)/bench/fiber_bench \
	$(BUILD)/bench/arena_bench

lib: $(TMU_LIB)

help:
	@echo 'make deps        install the Debian packages needed (scripts/deps.sh, root)'
	@echo 'make module      build kmod/termite.ko against KDIR=$(KDIR)'
	@echo 'make selftests   build selftests/termite/*.c into build/selftests/'
	@echo 'make examples    build examples/*.c into build/examples/'
	@echo 'make lib         build build/libtermite-user.a'
	@echo 'make check-host  build and run the host tests of libtermite-user (no VM)'
	@echo 'make check       deps + build + every selftest in the VM; last line: N passed, N failed'
	@echo '                 (SUITES="a_test b.sh" to run some; SUITE_TIMEOUT=seconds per suite)'
	@echo 'make demo        deps + build + build/examples/demo in the VM'
	@echo 'make vm-run CMD="..."   run a command in the VM with the module loaded'
	@echo 'make bench       benchmarks in the VM (termite, pipes, sockets, mqueues, Erlang):'
	@echo '                 bench/results/RESULTS.md and PNGs; about 20 minutes'
	@echo 'make clean       remove build/ and the module build products'

deps:
	@$(TOP)/scripts/deps.sh

module:
	@test -d "$(KDIR)" || { echo "no kernel build tree at '$(KDIR)': run 'make deps' (as root), or pass KDIR=/lib/modules/VERSION/build"; exit 1; }
	sh scripts/kmod-probe.sh $(KDIR) kmod/compat-probed.h
	$(MAKE) -C $(KDIR) M=$(TOP) modules

kselftest-headers: $(KSFT_HDR)

# kselftest.h and kselftest_harness.h from the Debian kernel source tarball
# (linux-source-6.1), extracted once; decompressing takes ~10 s.
$(KSFT_HDR):
	@src=$$(ls /usr/src/linux-source-*.tar.xz 2>/dev/null | sort -V | tail -n 1); \
	test -n "$$src" || { echo "no /usr/src/linux-source-*.tar.xz: run 'make deps' (as root)"; exit 1; }; \
	echo "  EXTRACT kselftest headers from $$src"; \
	rm -rf $(BUILD)/kselftest.tmp && mkdir -p $(BUILD)/kselftest.tmp && \
	tar -xJf "$$src" -C $(BUILD)/kselftest.tmp --strip-components=4 \
		--wildcards '*/kselftest*.h' && \
	test -f $(BUILD)/kselftest.tmp/kselftest_harness.h && \
	rm -rf $(BUILD)/kselftest && mv $(BUILD)/kselftest.tmp $(BUILD)/kselftest

selftests: $(KSFT_HDR) $(TMU_LIB)
	@$(MAKE) --no-print-directory -C $(TOP)/selftests TOP=$(TOP) \
		CC="$(CC)" USER_CFLAGS="$(USER_CFLAGS)" USER_LDLIBS="$(USER_LDLIBS)"

examples: $(EXAMPLES)
	@# Drop programs whose source is gone.
	@for f in $(BUILD)/examples/*; do \
		[ -f "$$f" ] && [ ! -f "$(TOP)/examples/$${f##*/}.c" ] && rm -f "$$f"; \
	done; true

$(BUILD)/examples/%: $(TOP)/examples/%.c
	@mkdir -p $(dir $@)
	$(CC) $(USER_CFLAGS) -MMD -MP -MF $(BUILD)/examples/.$*.d $< -o $@ $(USER_LDLIBS)

-include $(wildcard $(BUILD)/examples/.*.d)

# `check` and `demo` install what is missing first, then build in a fresh
# make (so that KVER is found once the kernel packages exist).
# A failed build still ends `make check` with the summary line.
check:
	@$(TOP)/scripts/deps.sh
	@$(MAKE) --no-print-directory module selftests examples host-tests || { \
		echo "check: the build failed"; mkdir -p $(BUILD); \
		echo "0 passed, 1 failed" | tee $(BUILD)/check-summary; exit 1; }
	@SUITES="$(SUITES)" SUITE_TIMEOUT="$(SUITE_TIMEOUT)" $(TOP)/scripts/check.sh

demo:
	@$(TOP)/scripts/deps.sh
	@$(MAKE) --no-print-directory module examples
	@test -x $(BUILD)/examples/demo || { echo "demo: no build/examples/demo (examples/demo.c not written yet)"; exit 1; }
	@$(TOP)/scripts/vm-run.sh -- build/examples/demo

vm-run:
	@test -n '$(CMD)' || { echo 'usage: make vm-run CMD="command args"'; exit 2; }
	@$(TOP)/scripts/vm-run.sh -- sh -c '$(CMD)'

clean:
	@if [ -d "$(KDIR)" ]; then $(MAKE) -C $(KDIR) M=$(TOP) clean; fi
	rm -rf $(BUILD)

endif
