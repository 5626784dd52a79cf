/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The batch kernel implementations this harness binary has and this CPU
 * runs: scalar always, AVX2 and AVX-512 where they were linked in
 * (TR_HAVE_SIMD) and the CPU has their features, as simd_run.h checks
 * them in the kernel.
 */
#ifndef _TR_IMPLS_H
#define _TR_IMPLS_H

#include <string.h>
#include "batch.h"

static inline const struct tr_batch_impl *tr_harness_impl(const char *name)
{
	if (!strcmp(name, "scalar"))
		return &tr_batch_scalar;
#if defined(__x86_64__) && defined(TR_HAVE_SIMD)
	__builtin_cpu_init();
	if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("popcnt"))
		return NULL;
	if (!strcmp(name, "avx2"))
		return &tr_batch_avx2;
	if (!strcmp(name, "avx512") && __builtin_cpu_supports("avx512f") &&
	    __builtin_cpu_supports("avx512vl") &&
	    __builtin_cpu_supports("avx512cd"))
		return &tr_batch_avx512;
#endif
	return NULL;
}

#endif /* _TR_IMPLS_H */
