/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Common part of the SIMD batch kernels (batch_avx2.c, batch_avx512.c):
 * the compiler's vector intrinsics, in the kernel as in userspace.
 *
 * In the kernel these files are built with the FPU flags (Kbuild) and run
 * only between kernel_fpu_begin() and kernel_fpu_end() (simd.c). The
 * compiler's <immintrin.h> pulls in <mm_malloc.h>, which needs a libc:
 * its include guard is set first, since nothing here allocates.
 *
 * sparse cannot parse the compiler's intrinsics headers: under sparse
 * (__CHECKER__) the SIMD files are empty, and only their scalar
 * counterparts are checked.
 */
#ifndef _TIMERRING_BATCH_SIMD_H
#define _TIMERRING_BATCH_SIMD_H

#include "batch.h"

#ifndef __CHECKER__
#define _MM_MALLOC_H_INCLUDED
#define __MM_MALLOC_H
#include <immintrin.h>
#endif

/* Offsets of the fields of struct timerring_op, as 64-bit words. */
#define TR_OPW_HDR	0	/* opcode | flags << 8 | resv << 16 | id << 32 */
#define TR_OPW_EXPIRY	1
#define TR_OPW_UDATA	2
#define TR_OPW_IVAL	3

/* Bits of the header word that make an op invalid whatever its opcode. */
#define TR_HDR_BAD	(0xfcULL | ((u64)(0xff & ~TIMERRING_OPF_ALL) << 8) | \
			 0xffff0000ULL)
#define TR_HDR_FLAGS	((u64)TIMERRING_OPF_ALL << 8)
#define TR_HDR_ABS	((u64)TIMERRING_OPF_ABS << 8)

#endif /* _TIMERRING_BATCH_SIMD_H */
