/* SPDX-License-Identifier: GPL-2.0 */
/*
 * splitmix64: the deterministic generator behind the SIMD test batches
 * (simd_gen.h), shared by simd.c's load-time self-test, the KUnit suite
 * and the userspace harness, whose model test and benchmark draw from it
 * too (tr_splitmix64() on a state of their own). Same seed, same batches,
 * everywhere.
 */
#ifndef _TIMERRING_TR_RAND_H
#define _TIMERRING_TR_RAND_H

#include "tr_env.h"

/* One step of splitmix64 on the generator state *@x. */
static inline u64 tr_splitmix64(u64 *x)
{
	u64 z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static u64 tr_rand_state = 0x9e3779b97f4a7c15ULL;

static inline void tr_rand_seed(u64 seed)
{
	tr_rand_state = seed;
}

static inline u64 rnd(void)
{
	return tr_splitmix64(&tr_rand_state);
}

static inline u64 rnd_below(u64 n)
{
	u64 r;

	if (!n)
		return 0;
	div64_u64_rem(rnd(), n, &r);
	return r;
}

#endif /* _TIMERRING_TR_RAND_H */
