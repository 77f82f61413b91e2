# SPDX-License-Identifier: MIT
# tools/: libgpulease (static and shared), the gpulease command and
# gpulease-gateway (HTTP over the model rings, Documentation/gateway.md).
# Included by the top Makefile; the object lists libgpulease-y and
# gpulease-y are in Kbuild. Uses the top Makefile's O, SRC, Q, quiet,
# ALL_CFLAGS, LDFLAGS, LDLIBS_BASE, obj and the install directories.
#
#   make tools                   the library, the command, the header check
#   make install-tools           the library, its headers and libgpulease.pc,
#                                the command (part of make install; the
#                                directories are the top Makefile's)

GL_LIB_VERSION := 0.1.0
GL_LIB_SONAME := libgpulease.so.0
GL_LIB_DIR := $(O)/tools/lib
GL_LIB_A := $(GL_LIB_DIR)/libgpulease.a
GL_LIB_SO := $(GL_LIB_DIR)/libgpulease.so
GL_LIB_MAP := $(SRC)/tools/lib/libgpulease.map
GL_CLI := $(O)/tools/gpulease/gpulease
GL_HDR_STAMP := $(GL_LIB_DIR)/gpulease.h.stamp
# The command needs libc and pthreads only, not the daemon's BLAS.
GL_CLI_LIBS := $(filter-out -ldl,$(LDLIBS_BASE))
# the gateway: libmicrohttpd and jansson on top of libgpulease.a
GL_GW := $(O)/tools/gateway/gpulease-gateway
GL_GW_BENCH := $(O)/tools/bench/gateway
GW_LIBS = $(shell $(PKG_CONFIG) --libs libmicrohttpd 2>/dev/null || \
	echo -lmicrohttpd) $(MODEL_LIBS) -lm -pthread

CXX ?= c++

.PHONY: tools install-tools uninstall-tools
all: tools
tools: $(GL_LIB_A) $(GL_LIB_SO) $(GL_CLI) $(GL_HDR_STAMP) $(GL_GW) \
	$(GL_GW_BENCH)

# Library objects: position independent, nothing visible unless GL_EXPORT.
$(call obj,$(libgpulease-y)): ALL_CFLAGS += -fPIC -fvisibility=hidden

$(GL_LIB_A): $(call obj,$(libgpulease-y))
	$(quiet) AR $(patsubst $(O)/%,%,$@)
	$(Q)rm -f $@
	$(Q)$(AR) rcs $@ $^

$(GL_LIB_SO): $(GL_LIB_DIR)/libgpulease.so.$(GL_LIB_VERSION)
	$(Q)ln -sf $(notdir $<) $(GL_LIB_DIR)/$(GL_LIB_SONAME)
	$(Q)ln -sf $(notdir $<) $@

$(GL_LIB_DIR)/libgpulease.so.$(GL_LIB_VERSION): \
		$(call obj,$(libgpulease-y)) $(GL_LIB_MAP)
	$(quiet) LD $(patsubst $(O)/%,%,$@)
	$(Q)$(CC) $(LDFLAGS) -shared -Wl,-soname,$(GL_LIB_SONAME) \
		-Wl,--version-script=$(GL_LIB_MAP) -o $@ \
		$(call obj,$(libgpulease-y)) -pthread

$(GL_CLI): $(call obj,$(gpulease-y)) $(GL_LIB_A)
	$(quiet) LD $(patsubst $(O)/%,%,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(GL_CLI_LIBS)

$(GL_GW): $(call obj,$(gateway-y)) $(GL_LIB_A)
	$(quiet) LD $(patsubst $(O)/%,%,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(GW_LIBS)

$(GL_GW_BENCH): $(call obj,$(bench-gateway-y)) $(GL_LIB_A)
	$(quiet) LD $(patsubst $(O)/%,%,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ -pthread -lm

# The public header compiles alone, in C and in C++, as uapi/ headers do.
$(GL_HDR_STAMP): $(SRC)/tools/lib/gpulease.h $(wildcard $(SRC)/uapi/*.h)
	@mkdir -p $(dir $@)
	$(quiet) HDRCHK tools/lib/gpulease.h
	$(Q)echo '#include "tools/lib/gpulease.h"' | \
		$(CC) -std=c11 -Wall -Wextra -Werror -pedantic -I$(SRC) \
		-fsyntax-only -x c -
	$(Q)echo '#include "tools/lib/gpulease.h"' | \
		$(CXX) -std=c++11 -Wall -Wextra -Werror -I$(SRC) \
		-fsyntax-only -x c++ -
	$(Q)touch $@

# The library's public headers, installed as <gpulease/gpulease.h> and
# <gpulease/uapi/*.h>: the header's "uapi/x.h" includes find the uapi/
# next to it when installed, and $(SRC)/uapi through -I$(SRC) in the tree.
GL_UAPI_HDRS := $(notdir $(wildcard $(SRC)/uapi/*.h))
GL_INC := $(DESTDIR)$(INCLUDEDIR)/gpulease

install-tools: tools
	$(quiet) INSTALL $(DESTDIR)$(LIBDIR)/libgpulease.so.$(GL_LIB_VERSION)
	$(Q)install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) \
		$(DESTDIR)$(PKGCONFIGDIR) $(GL_INC)/uapi
	$(Q)install -m755 $(GL_CLI) $(GL_GW) $(DESTDIR)$(BINDIR)/
	$(Q)install -m644 $(GL_LIB_A) $(DESTDIR)$(LIBDIR)/
	$(Q)install -m755 $(GL_LIB_DIR)/libgpulease.so.$(GL_LIB_VERSION) \
		$(DESTDIR)$(LIBDIR)/
	$(Q)ln -sf libgpulease.so.$(GL_LIB_VERSION) \
		$(DESTDIR)$(LIBDIR)/$(GL_LIB_SONAME)
	$(Q)ln -sf libgpulease.so.$(GL_LIB_VERSION) \
		$(DESTDIR)$(LIBDIR)/libgpulease.so
	$(Q)install -m644 $(SRC)/tools/lib/gpulease.h $(GL_INC)/
	$(Q)install -m644 $(addprefix $(SRC)/uapi/,$(GL_UAPI_HDRS)) \
		$(GL_INC)/uapi/
	$(Q)sed -e 's#@PREFIX@#$(PREFIX)#' -e 's#@LIBDIR@#$(LIBDIR)#' \
		-e 's#@INCLUDEDIR@#$(INCLUDEDIR)#' \
		-e 's#@VERSION@#$(GL_LIB_VERSION)#' \
		$(SRC)/tools/lib/libgpulease.pc.in \
		>$(DESTDIR)$(PKGCONFIGDIR)/libgpulease.pc
	$(Q)chmod 644 $(DESTDIR)$(PKGCONFIGDIR)/libgpulease.pc

uninstall-tools:
	$(quiet) UNINST $(DESTDIR)$(LIBDIR)/libgpulease.so.$(GL_LIB_VERSION)
	$(Q)rm -f $(DESTDIR)$(BINDIR)/gpulease \
		$(DESTDIR)$(BINDIR)/gpulease-gateway \
		$(addprefix $(DESTDIR)$(LIBDIR)/,libgpulease.a \
			libgpulease.so.$(GL_LIB_VERSION) $(GL_LIB_SONAME) \
			libgpulease.so) \
		$(DESTDIR)$(PKGCONFIGDIR)/libgpulease.pc \
		$(GL_INC)/gpulease.h $(addprefix $(GL_INC)/uapi/,$(GL_UAPI_HDRS))
	$(Q)rmdir $(GL_INC)/uapi $(GL_INC) 2>/dev/null || true

# selftests/fs/libring.c, model_ring.c, model_ring_mt.c and
# model_restart.c test the library; live_map.c, model_pressure.c and
# soak.c drive rings through its API: they link libgpulease.a on top of
# the fs tests' usual objects (their rule's $^ takes this too).
$(O)/selftests/fs/libring $(O)/selftests/fs/live_map \
		$(O)/selftests/fs/model_pressure $(O)/selftests/fs/model_restart \
		$(O)/selftests/fs/model_ring $(O)/selftests/fs/model_ring_mt \
		$(O)/selftests/fs/soak: $(GL_LIB_A)
