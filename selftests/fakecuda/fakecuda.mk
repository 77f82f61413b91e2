# SPDX-License-Identifier: MIT
# The fake CUDA driver the CUDA backend's unit test loads; the top
# Makefile includes this after its own rules. It adds:
#
#   $(FAKECUDA_SO)   selftests/fakecuda/fakecuda*.c and the kernels' CPU
#                    twins as one shared library named libcuda.so.1,
#                    beside the unit tests ($(O)/selftests/fakecuda/),
#                    built by `make all`
#
# selftests/unit/dev_cuda and cuda_* find it at ../fakecuda/libcuda.so.1
# from their own path ($GL_FAKECUDA overrides) and SKIP when it is
# missing.

FAKECUDA_SO := $(O)/selftests/fakecuda/libcuda.so.1
FAKECUDA_SRC := $(sort $(wildcard $(SRC)/selftests/fakecuda/fakecuda*.c))
# the kernels' CPU twins, which launches run with run_kernels set
FAKECUDA_TWINS := $(patsubst %.o,$(SRC)/%.c,$(kernels-y))

$(FAKECUDA_SO): $(FAKECUDA_SRC) $(FAKECUDA_TWINS) \
		$(wildcard $(SRC)/selftests/fakecuda/*.h) \
		$(wildcard $(SRC)/kernels/*.h)
	@mkdir -p $(dir $@)
	$(quiet) CC $(patsubst $(O)/%,%,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -fPIC -fvisibility=hidden -shared $(LDFLAGS) \
		-o $@ $(FAKECUDA_SRC) $(FAKECUDA_TWINS) -pthread \
		$(KERNELS_LIBS)

all: $(FAKECUDA_SO)
$(filter $(O)/selftests/unit/dev_cuda $(O)/selftests/unit/cuda_%, \
	$(UNIT_TESTS)): | $(FAKECUDA_SO)
