# SPDX-License-Identifier: MIT
# tools/: libgpulease (static and shared) and the gpulease command.
# Included by the top Makefile; the object lists libgpulease-y and
# gpulease-y are in Kbuild. Uses the top Makefile's O, SRC, Q, quiet,
# ALL_CFLAGS, LDFLAGS, LDLIBS_BASE and obj.
#
#   make tools                   the library, the command, the header check
#   make install-tools [DESTDIR=] [PREFIX=/usr/local]

GL_LIB_VERSION := 0.1.0
GL_LIB_SONAME := libgpulease.so.0
GL_LIB_DIR := $(O)/tools/lib
GL_LIB_A := $(GL_LIB_DIR)/libgpulease.a
GL_LIB_SO := $(GL_LIB_DIR)/libgpulease.so
GL_LIB_MAP := $(SRC)/tools/lib/libgpulease.map
GL_CLI := $(O)/tools/gpulease/gpulease
GL_HDR_STAMP := $(GL_LIB_DIR)/gpulease.h.stamp
# The command needs libc and pthreads only, not the daemon's BLAS.
GL_CLI_LIBS := $(filter-out -lopenblas -ldl,$(LDLIBS_BASE))

PREFIX ?= /usr/local
CXX ?= c++

.PHONY: tools install-tools
all: tools
tools: $(GL_LIB_A) $(GL_LIB_SO) $(GL_CLI) $(GL_HDR_STAMP)

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

install-tools: tools
	$(quiet) INSTALL $(DESTDIR)$(PREFIX)
	$(Q)install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib \
		$(DESTDIR)$(PREFIX)/include/gpulease/uapi \
		$(DESTDIR)$(PREFIX)/share/man/man1 \
		$(DESTDIR)$(PREFIX)/share/man/man3 \
		$(DESTDIR)$(PREFIX)/share/man/man8
	$(Q)install -m755 $(GL_CLI) $(DESTDIR)$(PREFIX)/bin/
	$(Q)install -m644 $(GL_LIB_A) $(DESTDIR)$(PREFIX)/lib/
	$(Q)install -m755 $(GL_LIB_DIR)/libgpulease.so.$(GL_LIB_VERSION) \
		$(DESTDIR)$(PREFIX)/lib/
	$(Q)ln -sf libgpulease.so.$(GL_LIB_VERSION) \
		$(DESTDIR)$(PREFIX)/lib/$(GL_LIB_SONAME)
	$(Q)ln -sf libgpulease.so.$(GL_LIB_VERSION) \
		$(DESTDIR)$(PREFIX)/lib/libgpulease.so
	$(Q)install -m644 $(SRC)/tools/lib/gpulease.h \
		$(DESTDIR)$(PREFIX)/include/gpulease/
	$(Q)install -m644 $(SRC)/uapi/*.h \
		$(DESTDIR)$(PREFIX)/include/gpulease/uapi/
	$(Q)install -m644 $(SRC)/Documentation/man/*.1 \
		$(DESTDIR)$(PREFIX)/share/man/man1/
	$(Q)install -m644 $(SRC)/Documentation/man/*.3 \
		$(DESTDIR)$(PREFIX)/share/man/man3/
	$(Q)install -m644 $(SRC)/Documentation/man/*.8 \
		$(DESTDIR)$(PREFIX)/share/man/man8/

# selftests/fs/libring.c tests the library, live_map.c uses its ring API:
# they link libgpulease.a on top of the fs tests' usual objects (their
# rule's $^ takes this too).
$(O)/selftests/fs/libring $(O)/selftests/fs/live_map: $(GL_LIB_A)
