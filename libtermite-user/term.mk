# SPDX-License-Identifier: (LGPL-2.1-or-later OR MIT)
#
# Build rules for the term layer of libtermite-user (terms, Preserves
# binary and text syntax, Syndicate patterns) and its host tests.  Include
# it from the top-level Makefile (after TOP and BUILD are set, if they are):
#
#   include $(TOP)/libtermite-user/term.mk
#
#   make $(BUILD)/libtermite-user.a   the static library (TMU_LIB)
#   make host-tests                   build/tests/host/{term,text,pattern,arena}_test
#   make check-host                   run them: well under a second; the
#                                     last line is "N passed, N failed"
#   make fuzz-host                    build/tests/host/fuzz_preserves (clang)
#
# Other parts of the library can add to TMU_SRCS / TMU_HDRS / TMU_TESTS
# (with +=) after the include; the archive takes every object in TMU_OBJS.
#
# The same, by hand, from the repository root:
#
#   mkdir -p build/libtermite-user build/tests/host
#   for f in term preserves text pattern; do
#     gcc -std=gnu11 -O2 -g -Wall -Wextra -Wshadow -Wstrict-prototypes \
#         -Wmissing-prototypes -Ilibtermite-user \
#         -c libtermite-user/$f.c -o build/libtermite-user/$f.o
#   done
#   ar rcs build/libtermite-user.a build/libtermite-user/{term,preserves,text,pattern}.o
#   for t in term text pattern arena; do
#     gcc -std=gnu11 -O2 -g -Wall -Wextra -pthread -Ilibtermite-user \
#         -isystem build/kselftest tests/host/${t}_test.c \
#         build/libtermite-user.a -lm -o build/tests/host/${t}_test
#   done
#   tests/host/run.sh build/tests/host/{term,text,pattern,arena}_test
#
#   clang -std=gnu11 -O1 -g -fsanitize=fuzzer,address,undefined \
#       -fno-sanitize-recover=all -Ilibtermite-user tests/host/fuzz_preserves.c \
#       libtermite-user/{term,preserves,text,pattern}.c -lm \
#       -o build/tests/host/fuzz_preserves
#   build/tests/host/fuzz_preserves -max_total_time=120 CORPUS_DIR
#
# The tests use the kernel's kselftest_harness.h from build/kselftest/
# (the top-level `kselftest-headers` target, $(KSFT_HDR), extracts it).

TMU_TOP		?= $(if $(TOP),$(TOP),.)
TMU_BUILD	?= $(if $(BUILD),$(BUILD),$(TMU_TOP)/build)
TMU_DIR		:= $(TMU_TOP)/libtermite-user
TMU_KSFT_DIR	?= $(TMU_BUILD)/kselftest
TMU_CC		?= gcc
TMU_FUZZ_CC	?= clang

TMU_TERM_SRCS	:= $(addprefix $(TMU_DIR)/,term.c preserves.c text.c pattern.c)
TMU_SRCS	+= $(TMU_TERM_SRCS)
TMU_HDRS	+= $(addprefix $(TMU_DIR)/,term.h pattern.h term_internal.h)
TMU_OBJS	= $(patsubst $(TMU_DIR)/%.c,$(TMU_BUILD)/libtermite-user/%.o,$(TMU_SRCS))
TMU_LIB		:= $(TMU_BUILD)/libtermite-user.a
TMU_CFLAGS	:= -std=gnu11 -O2 -g -Wall -Wextra -Wshadow -Wstrict-prototypes \
		   -Wmissing-prototypes -I$(TMU_DIR)
TMU_TEST_CFLAGS	:= -std=gnu11 -O2 -g -Wall -Wextra -pthread -I$(TMU_DIR) \
		   -isystem $(TMU_KSFT_DIR)

TMU_TESTS	+= term_test text_test pattern_test arena_test
TMU_TEST_BINS	= $(addprefix $(TMU_BUILD)/tests/host/,$(TMU_TESTS))
TMU_TEST_HDRS	:= $(TMU_TOP)/tests/host/tm_test_util.h

$(TMU_BUILD)/libtermite-user/%.o: $(TMU_DIR)/%.c $(TMU_HDRS)
	@mkdir -p $(dir $@)
	$(TMU_CC) $(TMU_CFLAGS) -c $< -o $@

$(TMU_LIB): $(TMU_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

$(TMU_BUILD)/tests/host/%_test: $(TMU_TOP)/tests/host/%_test.c $(TMU_LIB) \
		$(TMU_TEST_HDRS) $(TMU_KSFT_DIR)/kselftest_harness.h
	@mkdir -p $(dir $@)
	$(TMU_CC) $(TMU_TEST_CFLAGS) $< $(TMU_LIB) -lm -o $@

$(TMU_BUILD)/tests/host/fuzz_preserves: $(TMU_TOP)/tests/host/fuzz_preserves.c \
		$(TMU_TERM_SRCS) $(TMU_HDRS)
	@mkdir -p $(dir $@)
	$(TMU_FUZZ_CC) -std=gnu11 -O1 -g -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=all -I$(TMU_DIR) $< $(TMU_TERM_SRCS) -lm -o $@

.PHONY: host-tests check-host fuzz-host
host-tests: $(TMU_TEST_BINS)

check-host: $(TMU_TEST_BINS)
	$(TMU_TOP)/tests/host/run.sh $(TMU_TEST_BINS)

fuzz-host: $(TMU_BUILD)/tests/host/fuzz_preserves
