/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel's <linux/types.h> and the few kernel helpers the timerring
 * core uses, for building module/'s core in userspace, the way
 * tools/testing/vma builds mm/vma.c: this directory comes first on the
 * include path, and the core includes only kernel headers. The other
 * headers here include this one.
 */
#ifndef _TR_SHIM_LINUX_TYPES_H
#define _TR_SHIM_LINUX_TYPES_H

#include_next <linux/types.h>

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef int8_t s8;
typedef int16_t s16;
typedef int32_t s32;
typedef int64_t s64;

#define U16_MAX		((u16)~0U)
#define U32_MAX		((u32)~0U)
#define U64_MAX		((u64)~0ULL)
#define S64_MAX		((s64)(U64_MAX >> 1))

#define likely(x)	__builtin_expect(!!(x), 1)
#define unlikely(x)	__builtin_expect(!!(x), 0)
#define __aligned(x)	__attribute__((__aligned__(x)))
#ifndef __always_inline
#define __always_inline	inline __attribute__((__always_inline__))
#endif
#define __maybe_unused	__attribute__((__unused__))

#define READ_ONCE(x)	(*(const volatile typeof(x) *)&(x))
#define WRITE_ONCE(x, v) (*(volatile typeof(x) *)&(x) = (v))
#define smp_load_acquire(p)	__atomic_load_n((p), __ATOMIC_ACQUIRE)
#define smp_store_release(p, v)	__atomic_store_n((p), (v), __ATOMIC_RELEASE)

/* Each argument evaluated once, as in the kernel. */
#define min(a, b)	({ typeof(a) _a = (a); typeof(b) _b = (b); \
			   _a < _b ? _a : _b; })
#define max(a, b)	({ typeof(a) _a = (a); typeof(b) _b = (b); \
			   _a > _b ? _a : _b; })
#define min3(a, b, c)	min(min(a, b), c)
#define min_t(t, a, b)	({ t _a = (a); t _b = (b); _a < _b ? _a : _b; })
#define max_t(t, a, b)	({ t _a = (a); t _b = (b); _a > _b ? _a : _b; })
#define DIV_ROUND_UP(n, d)	(((n) + (d) - 1) / (d))
#define DIV_ROUND_UP_ULL(n, d)	DIV_ROUND_UP((unsigned long long)(n), (d))
#define check_add_overflow(a, b, d)	__builtin_add_overflow(a, b, d)
#define check_mul_overflow(a, b, d)	__builtin_mul_overflow(a, b, d)
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

/*
 * As in the kernel (x86: asm volatile): __builtin_prefetch() does not count
 * as a side effect, so GCC's pure-const analysis lets it delete a helper
 * that only loads and prefetches, and with it the prefetches.
 */
#if defined(__x86_64__)
#define prefetch(p)							\
	do {								\
		asm volatile("prefetcht0 %0" : : "m" (*(const char *)(p))); \
	} while (0)
#define prefetchw(p)							\
	do {								\
		asm volatile("prefetchw %0" : : "m" (*(const char *)(p))); \
	} while (0)
#else
#define prefetch(p)	__builtin_prefetch(p)
#define prefetchw(p)	__builtin_prefetch((p), 1)
#endif

static inline int fls64(u64 x)
{
	return x ? 64 - __builtin_clzll(x) : 0;
}

static inline unsigned long __ffs64(u64 x)
{
	return __builtin_ctzll(x);
}

static inline u64 div64_u64(u64 a, u64 b)
{
	return a / b;
}

static inline u64 div_u64(u64 a, u32 b)
{
	return a / b;
}

static inline u64 div64_u64_rem(u64 a, u64 b, u64 *rem)
{
	*rem = a % b;
	return a / b;
}

#define BIT(n)		(1UL << (n))
#define BIT_ULL(n)	(1ULL << (n))

/* mul_u64_u64_shr() of <linux/math64.h> */
static inline u64 mul_u64_u64_shr(u64 a, u64 b, unsigned int shift)
{
	return (u64)(((__uint128_t)a * b) >> shift);
}

#endif /* _TR_SHIM_LINUX_TYPES_H */
