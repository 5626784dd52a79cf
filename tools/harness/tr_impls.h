/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The batch kernel implementations of the harness, in one table: scalar
 * always, AVX2 and AVX-512 where they were linked in (TR_HAVE_SIMD) and
 * this CPU has their features, as simd_run.h checks them in the kernel.
 */
#ifndef _TR_IMPLS_H
#define _TR_IMPLS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "batch.h"
#include "tr_rand.h"

static const struct tr_batch_impl *const tr_harness_impls[] = {
	&tr_batch_scalar,
#if defined(__x86_64__) && defined(TR_HAVE_SIMD)
	&tr_batch_avx2, &tr_batch_avx512,
#endif
};

#define TR_NR_HARNESS_IMPLS	ARRAY_SIZE(tr_harness_impls)

/* Whether this CPU runs @im (the features simd_run.h checks). */
static inline bool tr_harness_runs(const struct tr_batch_impl *im)
{
#if defined(__x86_64__)
	__builtin_cpu_init();
	switch (im->impl) {
	case TIMERRING_IMPL_AVX2:
		return __builtin_cpu_supports("avx2") &&
		       __builtin_cpu_supports("popcnt");
	case TIMERRING_IMPL_AVX512:
		return __builtin_cpu_supports("avx512f") &&
		       __builtin_cpu_supports("avx512vl") &&
		       __builtin_cpu_supports("avx512cd") &&
		       __builtin_cpu_supports("popcnt");
	}
#endif
	return im->impl == TIMERRING_IMPL_SCALAR;
}

/* The implementation called @name, if this CPU runs it. */
static inline const struct tr_batch_impl *tr_harness_impl(const char *name)
{
	unsigned int i;

	for (i = 0; i < TR_NR_HARNESS_IMPLS; i++)
		if (!strcmp(tr_harness_impls[i]->name, name))
			return tr_harness_runs(tr_harness_impls[i]) ?
			       tr_harness_impls[i] : NULL;
	return NULL;
}

static inline void *xaligned(size_t align, size_t size)
{
	void *p = aligned_alloc(align, (size + align - 1) / align * align);

	if (!p) {
		perror("aligned_alloc");
		exit(1);
	}
	return p;
}

#endif /* _TR_IMPLS_H */
