/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Running a batch kernel with the FPU held: shared by simd.c and the KUnit
 * suite, so that the tests exercise the very sections the driver uses.
 *
 * A chunk is cut in FPU sections of TR_FPU_OPS ops (4 KiB of ops, about a
 * page of work, a few hundred ns); kernel_fpu_end() between sections
 * re-enables preemption, so a preemptible kernel can switch there. Where
 * the FPU cannot be used (irq_fpu_usable() false) the scalar kernel runs.
 */
#ifndef _TIMERRING_SIMD_RUN_H
#define _TIMERRING_SIMD_RUN_H

#include "batch.h"

#ifdef CONFIG_X86_64
#include <asm/cpufeature.h>
#include <asm/fpu/api.h>
#endif

#define TR_FPU_OPS	128

/* Whether this CPU (and the kernel's XSAVE setup) can run @impl. */
static inline bool tr_simd_cpu_has(u32 impl)
{
#ifdef CONFIG_X86_64
	bool avx2 = boot_cpu_has(X86_FEATURE_AVX2) &&
		    boot_cpu_has(X86_FEATURE_POPCNT) &&
		    cpu_has_xfeatures(XFEATURE_MASK_SSE | XFEATURE_MASK_YMM,
				      NULL);

	switch (impl) {
	case TIMERRING_IMPL_AVX2:
		return avx2;
	case TIMERRING_IMPL_AVX512:
		return avx2 && boot_cpu_has(X86_FEATURE_AVX512F) &&
		       boot_cpu_has(X86_FEATURE_AVX512VL) &&
		       boot_cpu_has(X86_FEATURE_AVX512CD) &&
		       cpu_has_xfeatures(XFEATURE_MASK_SSE | XFEATURE_MASK_YMM |
					 XFEATURE_MASK_AVX512, NULL);
	}
#endif
	return impl == TIMERRING_IMPL_SCALAR;
}

static inline bool tr_simd_usable(const struct tr_batch_impl *im)
{
#ifdef CONFIG_X86_64
	return im->impl != TIMERRING_IMPL_SCALAR && irq_fpu_usable();
#else
	return false;
#endif
}

/*
 * Prepare ops[0, n) with @im, or with the scalar kernel if the FPU is not
 * usable here. Returns the TIMERRING_IMPL_* that ran.
 */
static inline u32 tr_simd_run_prep(const struct tr_batch_impl *im,
				   const struct tr_prep *p,
				   const struct timerring_op *ops, u32 n,
				   struct tr_prep_out *out)
{
	struct tr_recip r;

	tr_recip_init(&r, p->res_ns);
	if (!tr_simd_usable(im) || p->res_ns > U32_MAX) {
		tr_prep_scalar_range(p, &r, ops, 0, n, out);
		return TIMERRING_IMPL_SCALAR;
	}
#ifdef CONFIG_X86_64
	{
		u32 i;

		for (i = 0; i < n; i += TR_FPU_OPS) {
			kernel_fpu_begin();
			im->prep(p, &r, ops, i, min(n, i + TR_FPU_OPS), out);
			kernel_fpu_end();
		}
	}
#endif
	return im->impl;
}

#endif /* _TIMERRING_SIMD_RUN_H */
