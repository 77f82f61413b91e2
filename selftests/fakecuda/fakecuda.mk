# SPDX-License-Identifier: MIT
# The fake CUDA driver the CUDA backend's unit test loads; the top
# Makefile includes this after its own rules. It adds:
#
#   $(FAKECUDA_SO)   selftests/fakecuda/fakecuda.c as a shared library
#                    named libcuda.so.1, beside the unit tests
#                    ($(O)/selftests/fakecuda/), built by `make all`
#
# selftests/unit/dev_cuda finds it at ../fakecuda/libcuda.so.1 from its
# own path ($GL_FAKECUDA overrides) and SKIPs when it is missing.

FAKECUDA_SO := $(O)/selftests/fakecuda/libcuda.so.1

$(FAKECUDA_SO): $(SRC)/selftests/fakecuda/fakecuda.c
	@mkdir -p $(dir $@)
	$(quiet) CC $(patsubst $(O)/%,%,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -fPIC -fvisibility=hidden -shared $(LDFLAGS) \
		-o $@ $< -pthread

all: $(FAKECUDA_SO)
$(O)/selftests/unit/dev_cuda: | $(FAKECUDA_SO)
