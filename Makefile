# SPDX-License-Identifier: MIT
# gpulease build. Object lists are in Kbuild; this file holds rules only.
#
#   make                 build everything into $(O)
#   make V=1             show full commands
#   make O=dir           build out of tree (default: build, or build-san
#                        when SANITIZE is set)
#   make SANITIZE=address,undefined
#   make check           install missing packages, build, run every test
#   make run             install missing packages, build, mount /gpu (CPU)
#   make bench           run the benchmarks
#   make deps-check      list the include and object cycles of daemon/
#   make install         install what make built in $(O): PREFIX=/usr/local,
#                        DESTDIR= (staging); make uninstall, with the same
#   make clean

SANITIZE ?=
ifeq ($(SANITIZE),)
O ?= build
else
O ?= build-san
endif
override O := $(abspath $(O))
SRC := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))

include $(SRC)/Kbuild

ifeq ($(V),1)
Q :=
quiet = @:
else
Q := @
quiet = @printf '  %-7s %s\n'
endif

CC ?= cc
NPROC := $(shell nproc 2>/dev/null || echo 1)
PKG_CONFIG ?= pkg-config
PKGS := fuse3 liburcu-bp liburcu-cds

WARNINGS := -Wall -Wextra -Werror -Wvla -Wshadow -Wformat=2 \
	-Wmissing-prototypes -Wstrict-prototypes -Wno-unused-parameter
CFLAGS ?= -O2 -g
BASE_CFLAGS := -std=gnu11 -D_GNU_SOURCE -pthread $(WARNINGS) -MMD -MP \
	-I$(SRC) -fno-strict-aliasing -fmacro-prefix-map=$(SRC)/=
# OpenBLAS is opened by kernels/blas.c, not linked: only the benches
# that call it themselves link it (BLAS_LIBS)
LDLIBS_BASE := -pthread -lm -ldl
BLAS_LIBS := -lopenblas

ifneq ($(SANITIZE),)
BASE_CFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer \
	-fno-sanitize-recover=all
LDFLAGS += -fsanitize=$(SANITIZE)
endif

PKG_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)
# the model parsers' JSON library, linked only by what links $(model-y)
MODEL_PKGS := jansson
MODEL_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(MODEL_PKGS) 2>/dev/null)
MODEL_LIBS = $(shell $(PKG_CONFIG) --libs $(MODEL_PKGS) 2>/dev/null)
ALL_CFLAGS = $(BASE_CFLAGS) $(PKG_CFLAGS) $(MODEL_CFLAGS) $(CFLAGS)

obj = $(addprefix $(O)/,$(1))

UNIT_SRC := $(sort $(wildcard $(SRC)/selftests/unit/*.c))
FS_SRC := $(sort $(wildcard $(SRC)/selftests/fs/*.c))
UNIT_TESTS := $(patsubst $(SRC)/%.c,$(O)/%,$(UNIT_SRC))
FS_TESTS := $(patsubst $(SRC)/%.c,$(O)/%,$(FS_SRC))

PROGS := $(O)/gpuleased $(O)/tools/bench/lease-ops $(O)/tools/bench/launch \
	$(O)/tools/bench/cuda $(O)/tools/bench/expiry $(O)/tools/bench/lookup \
	$(O)/tools/bench/metrics $(O)/tools/bench/ring $(O)/tools/bench/llama \
	$(O)/tools/bench/generate $(O)/tools/bench/mlp
TESTS = $(UNIT_TESTS) $(FS_TESTS) $(KERNEL_TESTS)
# run by the shell tests: adopts a background daemon (selftests/sh/lib.sh)
SELFTEST_HELPERS := $(O)/selftests/lib/subreap

.DELETE_ON_ERROR:
.PHONY: all check run bench deps deps-check clean tests install uninstall

# Where make install puts things (Documentation/admin-guide.md, "Installing").
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
SBINDIR ?= $(PREFIX)/sbin
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MANDIR ?= $(PREFIX)/share/man
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
# systemd reads /usr/local/lib/systemd/system and /usr/lib/systemd/system
UNITDIR ?= $(PREFIX)/lib/systemd/system
MAN_PAGES := $(notdir $(wildcard $(SRC)/Documentation/man/*.[138]))

all: $(PROGS) $(TESTS) $(SELFTEST_HELPERS)

$(O)/%.o: $(SRC)/%.c
	@mkdir -p $(dir $@)
	$(quiet) CC $(patsubst $(O)/%,%,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(O)/gpuleased: $(call obj,$(gpuleased-y))
	$(quiet) LD $(patsubst $(O)/%,%,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(MODEL_LIBS) $(LDLIBS_BASE)

$(O)/tools/bench/lease-ops: $(call obj,$(bench-lease-ops-y))
	$(quiet) LD $(patsubst $(O)/%,%,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(LDLIBS_BASE) -lm

# in process on the broker core: needs a GPU (scripts/gpu-check.sh)
$(O)/tools/bench/cuda: $(call obj,$(bench-cuda-y))
	$(quiet) LD $(patsubst $(O)/%,%,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(MODEL_LIBS) $(LDLIBS_BASE)

$(O)/tools/bench/launch: $(call obj,$(bench-launch-y))
	$(quiet) LD $(patsubst $(O)/%,%,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(BLAS_LIBS) $(LDLIBS_BASE)

$(O)/tools/bench/expiry: $(call obj,$(bench-expiry-y))
	$(quiet) LD $(patsubst $(O)/%,%,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS_BASE)

# the model computation in process (daemon/model/), jansson for the parsers
$(O)/tools/bench/llama: $(call obj,$(bench-llama-y))
	$(quiet) LD $(patsubst $(O)/%,%,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(MODEL_LIBS) $(KERNELS_LIBS) \
		$(BLAS_LIBS) $(LDLIBS_BASE)

# a daemon, the model computation in process, and the baseline: a plain
# forward pass built as llama2.c's run.c is (-Ofast -march=native -fopenmp)
$(O)/tools/bench/plain.o: CFLAGS += -Ofast -march=native -fopenmp
$(O)/tools/bench/generate: $(call obj,$(bench-generate-y))
	$(quiet) LD $(patsubst $(O)/%,%,$@)
	$(Q)$(CC) $(LDFLAGS) -fopenmp -o $@ $^ $(MODEL_LIBS) $(KERNELS_LIBS) \
		$(LDLIBS_BASE)

# the daemon's lease table in process; the wrap counts the locks it takes
BENCH_LOOKUP_WRAP := -Wl,--wrap=pthread_mutex_lock \
	-Wl,--wrap=pthread_mutex_trylock -Wl,--wrap=pthread_rwlock_rdlock \
	-Wl,--wrap=pthread_rwlock_wrlock
$(O)/tools/bench/lookup: $(call obj,$(bench-lookup-y))
	$(quiet) LD $(patsubst $(O)/%,%,$@)
	$(Q)$(CC) $(LDFLAGS) $(BENCH_LOOKUP_WRAP) -o $@ $^ $(PKG_LIBS) \
		$(MODEL_LIBS) $(LDLIBS_BASE)

# a daemon, and the mlp computation in process for the answers and passes
$(O)/tools/bench/mlp: $(call obj,$(bench-mlp-y))
	$(quiet) LD $(patsubst $(O)/%,%,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(MODEL_LIBS) $(KERNELS_LIBS) \
		$(LDLIBS_BASE)

$(O)/tools/bench/metrics: $(call obj,$(bench-metrics-y))
	$(quiet) LD $(patsubst $(O)/%,%,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS_BASE)

# the ring bench is a libgpulease client (tools/tools.mk builds the library)
$(O)/tools/bench/ring: $(call obj,$(bench-ring-y)) \
		$(O)/tools/lib/libgpulease.a
	$(quiet) LD $(patsubst $(O)/%,%,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ -pthread

# what unit test $(1) links besides its own object: unit-$(1)-y (Kbuild)
# where there is one, else the whole core
unit-objs = $(call obj,$(or $(unit-$(1)-y),$(daemon-y) $(kernels-y) \
	$(model-y) kernels/fatbin.o))

$(UNIT_TESTS): $(O)/selftests/unit/%: $(O)/selftests/unit/%.o
	$(quiet) LD $(patsubst $(O)/%,%,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(MODEL_LIBS) $(LDLIBS_BASE)
$(foreach t,$(UNIT_TESTS),$(eval $(t): $(call unit-objs,$(notdir $(t)))))

# the front end's node table, alone (no FUSE session, no class of ours)
$(O)/selftests/unit/fs_nodes: $(O)/fusefs/node.o

# the model tests (and cuda_broker's model cases) run selftests/fixtures/
# scripts from the source tree
FIXTURE_CFLAGS = -DGL_FIXTURES='"$(SRC)/selftests/fixtures"' \
	-DGL_NPM='"$(SRC)/selftests/npm"'
$(O)/selftests/unit/model_%.o: BASE_CFLAGS += $(FIXTURE_CFLAGS)
$(O)/selftests/unit/cuda_broker.o: BASE_CFLAGS += $(FIXTURE_CFLAGS)
$(O)/selftests/fs/model_%.o: BASE_CFLAGS += $(FIXTURE_CFLAGS)

$(FS_TESTS): $(O)/selftests/fs/%: $(O)/selftests/fs/%.o \
		$(call obj,$(selftests-lib-y))
	$(quiet) LD $(patsubst $(O)/%,%,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS_BASE)

$(SELFTEST_HELPERS): $(O)/selftests/lib/%: $(O)/selftests/lib/%.o \
		$(call obj,$(selftests-lib-y))
	$(quiet) LD $(patsubst $(O)/%,%,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS_BASE)

include $(SRC)/kernels/kernels.mk
include $(SRC)/selftests/fakecuda/fakecuda.mk
include $(SRC)/tools/tools.mk
# the fragments' lists exist only now: prerequisites expand when read
all: $(KERNEL_TESTS)

# libFuzzer targets (clang): make fuzz builds them; selftests run them for
# FUZZ_SECONDS each from the seeds in selftests/fuzz/corpus/.
FUZZ_CC ?= clang
FUZZ_CFLAGS := -std=gnu11 -D_GNU_SOURCE -g -O1 -I$(SRC) $(WARNINGS) \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZERS := $(O)/fuzz/launch $(O)/fuzz/ctl $(O)/fuzz/ring $(O)/fuzz/chain
FUZZERS += $(O)/fuzz/llama2c $(O)/fuzz/safetensors $(O)/fuzz/hfconfig \
	$(O)/fuzz/tokbin $(O)/fuzz/tokjson $(O)/fuzz/ask $(O)/fuzz/gateway
fuzz-launch-src := selftests/fuzz/launch.c daemon/launch-parse.c \
	daemon/parse.c
fuzz-ctl-src := selftests/fuzz/ctl.c daemon/parse.c
fuzz-chain-src := selftests/fuzz/chain.c daemon/chain-parse.c \
	daemon/launch-parse.c daemon/parse.c
# the ring target runs a whole broker in process
fuzz-ring-src := selftests/fuzz/ring.c $(daemon-y:.o=.c) $(kernels-y:.o=.c)
fuzz-ring-libs = $(PKG_CFLAGS) $(PKG_LIBS) $(MODEL_CFLAGS) $(MODEL_LIBS) \
	-lm -ldl -pthread
# the model file parsers (daemon/model/)
fuzz-llama2c-src := selftests/fuzz/llama2c.c daemon/model/llama2c.c \
	daemon/model/why.c
fuzz-safetensors-src := selftests/fuzz/safetensors.c \
	daemon/model/safetensors.c daemon/model/half.c daemon/model/why.c
fuzz-safetensors-libs = $(MODEL_CFLAGS) $(MODEL_LIBS)
fuzz-hfconfig-src := selftests/fuzz/hfconfig.c daemon/model/hfconfig.c \
	daemon/model/safetensors.c daemon/model/why.c
fuzz-hfconfig-libs = $(MODEL_CFLAGS) $(MODEL_LIBS) -lm
fuzz-tokbin-src := selftests/fuzz/tokbin.c daemon/model/tokbin.c \
	daemon/model/tokbin-run.c daemon/model/bpe.c daemon/model/why.c
fuzz-tokbin-libs = -lm
fuzz-tokjson-src := selftests/fuzz/tokjson.c daemon/model/tokjson.c \
	daemon/model/tokjson-measure.c daemon/model/tokjson-run.c \
	daemon/model/tokjson-stream.c \
	daemon/model/bpe.c daemon/model/why.c
fuzz-tokjson-libs = $(MODEL_CFLAGS) $(MODEL_LIBS)
# a language model's request, both forms (daemon/model-ask.c)
fuzz-ask-src := selftests/fuzz/ask.c daemon/model-ask.c daemon/parse.c \
	daemon/model/tokenizer.c daemon/model/tokbin.c \
	daemon/model/tokbin-run.c daemon/model/tokjson.c \
	daemon/model/tokjson-measure.c daemon/model/tokjson-run.c \
	daemon/model/tokjson-stream.c \
	daemon/model/bpe.c daemon/model/why.c selftests/fuzz/ask-lease.c \
	daemon/stopstr.c
fuzz-ask-libs = $(MODEL_CFLAGS) $(MODEL_LIBS) -lm

# the gateway's translations (tools/gateway/xlate.c, text.c)
fuzz-gateway-src := selftests/fuzz/gateway.c tools/gateway/text.c \
	tools/gateway/xlate.c daemon/stopstr.c
fuzz-gateway-libs = $(MODEL_CFLAGS) $(MODEL_LIBS) -lm
.PHONY: fuzz
fuzz: $(FUZZERS)

$(O)/fuzz/%: $(SRC)/selftests/fuzz/%.c $(SRC)/daemon/parse.c \
		$(SRC)/daemon/launch-parse.c
	@mkdir -p $(dir $@)
	$(quiet) FUZZ $(patsubst $(O)/%,%,$@)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ \
		$(addprefix $(SRC)/,$(fuzz-$*-src)) $(fuzz-$*-libs)

$(O)/fuzz/ring: $(addprefix $(SRC)/,$(fuzz-ring-src))
$(O)/fuzz/chain: $(addprefix $(SRC)/,$(fuzz-chain-src))
$(O)/fuzz/llama2c: $(addprefix $(SRC)/,$(fuzz-llama2c-src))
$(O)/fuzz/safetensors: $(addprefix $(SRC)/,$(fuzz-safetensors-src))
$(O)/fuzz/hfconfig: $(addprefix $(SRC)/,$(fuzz-hfconfig-src))
$(O)/fuzz/tokbin: $(addprefix $(SRC)/,$(fuzz-tokbin-src))
$(O)/fuzz/tokjson: $(addprefix $(SRC)/,$(fuzz-tokjson-src))
$(O)/fuzz/ask: $(addprefix $(SRC)/,$(fuzz-ask-src))
$(O)/fuzz/gateway: $(addprefix $(SRC)/,$(fuzz-gateway-src)) \
	$(SRC)/tools/gateway/gateway.h

deps:
	$(Q)$(SRC)/scripts/install-deps.sh

# Every include or object cycle between the modules of daemon/; exit 1
# if there is one (Documentation/architecture.md).
deps-check: $(call obj,$(daemon-y) $(model-y))
	$(Q)$(SRC)/scripts/deps-check.sh $(O) $(SRC)

# The build takes every CPU (make check is what CI runs, with no -j).
# The plain run also runs the fs tests with the daemon under valgrind
# (which cannot watch a sanitizer build), the background pass and the
# fuzz targets (themselves ASan+UBSan builds: a SANITIZE run would only
# repeat them).
check: deps
	$(Q)$(MAKE) -j$(NPROC) -f $(SRC)/Makefile all $(if $(SANITIZE),,fuzz)
	$(Q)$(MAKE) -C $(SRC)/selftests run_tests O=$(O) SANITIZE=$(SANITIZE) \
		VALGRIND=$(if $(SANITIZE),0,1) BACKGROUND=$(if $(SANITIZE),0,1) \
		FUZZ=$(if $(SANITIZE),0,1)

run: deps
	$(Q)$(MAKE) -f $(SRC)/Makefile $(O)/gpuleased
	$(Q)$(SRC)/scripts/run.sh $(O)/gpuleased

bench: all
	$(Q)$(O)/tools/bench/lease-ops
	$(Q)$(O)/tools/bench/launch
	$(Q)$(O)/tools/bench/lookup
	$(Q)$(O)/tools/bench/metrics
	$(Q)$(O)/tools/bench/ring
	$(Q)$(O)/tools/bench/expiry
	$(Q)$(O)/tools/bench/llama
	$(Q)$(O)/tools/bench/generate
	$(Q)$(O)/tools/bench/mlp
	$(Q)GPULEASED=$(O)/gpuleased $(SRC)/tools/bench/gateway.sh

# install takes the files from $(O) as they are (make; then make install as
# root builds nothing). The unit's ExecStart names $(SBINDIR)/gpuleased.
install: install-tools $(O)/gpuleased
	$(quiet) INSTALL $(DESTDIR)$(SBINDIR)/gpuleased
	$(Q)install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(UNITDIR) \
		$(addprefix $(DESTDIR)$(MANDIR)/man,1 3 8)
	$(Q)install -m755 $(O)/gpuleased $(DESTDIR)$(SBINDIR)/
	$(Q)sed 's#/usr/local/sbin/gpuleased#$(SBINDIR)/gpuleased#' \
		$(SRC)/tools/systemd/gpuleased.service \
		>$(DESTDIR)$(UNITDIR)/gpuleased.service
	$(Q)chmod 644 $(DESTDIR)$(UNITDIR)/gpuleased.service
	$(Q)sed 's#/usr/local/bin/gpulease-gateway#$(BINDIR)/gpulease-gateway#' \
		$(SRC)/tools/systemd/gpulease-gateway.service \
		>$(DESTDIR)$(UNITDIR)/gpulease-gateway.service
	$(Q)chmod 644 $(DESTDIR)$(UNITDIR)/gpulease-gateway.service
	$(Q)for p in $(MAN_PAGES); do \
		install -m644 $(SRC)/Documentation/man/$$p \
			$(DESTDIR)$(MANDIR)/man$${p##*.}/ || exit; \
	done

# Removes exactly what install put there, and no directory but ours.
uninstall: uninstall-tools
	$(quiet) UNINST $(DESTDIR)$(SBINDIR)/gpuleased
	$(Q)rm -f $(DESTDIR)$(SBINDIR)/gpuleased \
		$(DESTDIR)$(UNITDIR)/gpuleased.service \
		$(DESTDIR)$(UNITDIR)/gpulease-gateway.service
	$(Q)for p in $(MAN_PAGES); do \
		rm -f $(DESTDIR)$(MANDIR)/man$${p##*.}/$$p; \
	done

clean:
	$(quiet) CLEAN $(O)
	$(Q)rm -rf $(O)

-include $(shell find $(O) -name '*.d' 2>/dev/null)
