/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared by simd_test.c and simd_bench.c: the implementations this CPU can
 * run, and a small deterministic PRNG.
 */
#ifndef _TR_SIMD_COMMON_H
#define _TR_SIMD_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include "core.h"
#include "batch.h"

static inline bool simd_cpu_has(u32 impl)
{
	__builtin_cpu_init();
	switch (impl) {
	case TIMERRING_IMPL_AVX2:
		return __builtin_cpu_supports("avx2") &&
		       __builtin_cpu_supports("popcnt");
	case TIMERRING_IMPL_AVX512:
		return __builtin_cpu_supports("avx512f") &&
		       __builtin_cpu_supports("avx512vl") &&
		       __builtin_cpu_supports("avx512cd") &&
		       __builtin_cpu_supports("popcnt");
	default:
		return true;
	}
}

static const struct tr_batch_impl *const simd_impls[] = {
	&tr_batch_scalar, &tr_batch_avx2, &tr_batch_avx512,
};

#include "tests/tr_rand.h"

static inline void *xaligned(size_t align, size_t size)
{
	void *p = aligned_alloc(align, (size + align - 1) / align * align);

	if (!p) {
		perror("aligned_alloc");
		exit(1);
	}
	return p;
}

#endif /* _TR_SIMD_COMMON_H */
