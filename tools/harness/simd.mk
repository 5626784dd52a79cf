# SPDX-License-Identifier: GPL-2.0
#
# SIMD batch kernels in userspace: equivalence test and benchmark.
#   make -f simd.mk simd_test simd_test_san simd_bench
#   make -f simd.mk check-simd     (runs the test, plain and sanitized)
# Meant to be included from tools/harness/Makefile as well.

SIMD_ROOT ?= ../..
SIMD_CC ?= gcc
# -funsigned-char as the kernel (6.2+) builds: it changes what some
# intrinsics compile to (GCC 12 _mm256_blendv_epi8 turns into a no-op).
SIMD_CFLAGS ?= -O2 -g -Wall -Wextra -Wno-unused-parameter \
	-Wno-sign-compare -funsigned-char -fno-strict-aliasing \
	-I. -I$(SIMD_ROOT)/module -I$(SIMD_ROOT)/uapi
SIMD_AVX2 := -mavx2 -mpopcnt
SIMD_AVX512 := -mavx2 -mpopcnt -mavx512f -mavx512vl -mavx512cd
SIMD_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer
SIMD_SRC := $(SIMD_ROOT)/module/batch.c
SIMD_DEPS := $(SIMD_ROOT)/module/batch.c $(SIMD_ROOT)/module/batch.h \
	$(SIMD_ROOT)/module/batch_simd.h $(SIMD_ROOT)/module/batch_avx2.c \
	$(SIMD_ROOT)/module/batch_avx512.c $(SIMD_ROOT)/module/core.h \
	simd_common.h

# $(1): output, $(2): main source, $(3): extra flags, $(4): extra sources
define simd_link
	$(SIMD_CC) $(SIMD_CFLAGS) $(3) -c $(SIMD_ROOT)/module/batch.c -o $(1).b.o
	$(SIMD_CC) $(SIMD_CFLAGS) $(3) $(SIMD_AVX2) \
		-c $(SIMD_ROOT)/module/batch_avx2.c -o $(1).a2.o
	$(SIMD_CC) $(SIMD_CFLAGS) $(3) $(SIMD_AVX512) \
		-c $(SIMD_ROOT)/module/batch_avx512.c -o $(1).a5.o
	$(SIMD_CC) $(SIMD_CFLAGS) $(3) $(2) $(4) $(1).b.o $(1).a2.o $(1).a5.o \
		-o $(1)
	rm -f $(1).b.o $(1).a2.o $(1).a5.o
endef

simd_test: simd_test.c $(SIMD_DEPS)
	$(call simd_link,$@,simd_test.c,,)

simd_test_san: simd_test.c $(SIMD_DEPS)
	$(call simd_link,$@,simd_test.c,$(SIMD_SAN),)

simd_bench: simd_bench.c $(SIMD_DEPS) $(SIMD_ROOT)/module/wheel.c \
		$(SIMD_ROOT)/module/table.c $(SIMD_ROOT)/module/cq.c
	$(call simd_link,$@,simd_bench.c,-O2,$(SIMD_ROOT)/module/wheel.c \
		$(SIMD_ROOT)/module/table.c $(SIMD_ROOT)/module/cq.c)

check-simd: simd_test simd_test_san
	./simd_test
	./simd_test_san 500



# Static, for the VM's libc-less initramfs (tools/vm/mkinitramfs.sh -t).
simd_bench_static: simd_bench.c $(SIMD_DEPS) $(SIMD_ROOT)/module/wheel.c \
		$(SIMD_ROOT)/module/table.c $(SIMD_ROOT)/module/cq.c
	$(call simd_link,$@,simd_bench.c,-O2 -static,$(SIMD_ROOT)/module/wheel.c \
		$(SIMD_ROOT)/module/table.c $(SIMD_ROOT)/module/cq.c)
.PHONY: check-simd

simd_test_static: simd_test.c $(SIMD_DEPS)
	$(call simd_link,$@,simd_test.c,-static,)
