/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the timerring selftests. Include after
 * kselftest_harness.h.
 */
#ifndef _TIMERRING_SELFTEST_COMMON_H
#define _TIMERRING_SELFTEST_COMMON_H

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "timerring.h"

#define NSEC_PER_USEC	1000ULL
#define NSEC_PER_MSEC	1000000ULL
#define NSEC_PER_SEC	1000000000ULL

/* Generous: the VM is TCG-emulated and may be very slow. */
#define WAIT_LONG_NS	(5 * NSEC_PER_SEC)

static inline uint64_t now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

static inline void sleep_ns(uint64_t ns)
{
	struct timespec ts = {
		.tv_sec = ns / NSEC_PER_SEC,
		.tv_nsec = ns % NSEC_PER_SEC,
	};

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* Open the device, or -errno. */
static inline int tr_open_dev(void)
{
	int fd = open(TIMERRING_DEV_PATH, O_RDWR | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

/* Raw ioctl returning 0/positive or -errno. */
static inline int tr_ioctl(int fd, unsigned long cmd, void *arg)
{
	int ret = ioctl(fd, cmd, arg);

	return ret < 0 ? -errno : ret;
}

static inline void tr_default_params(struct timerring_params *p)
{
	memset(p, 0, sizeof(*p));
	p->max_timers = 1024;
	p->clockid = CLOCK_MONOTONIC;
	p->numa_node = TIMERRING_NODE_CURRENT;
}

/* Raw submit; returns the ioctl result, fills *s. */
static inline int tr_raw_submit(int fd, struct timerring_submit *s,
				const void *ops, __s32 *results,
				unsigned int nr, unsigned int flags)
{
	memset(s, 0, sizeof(*s));
	s->ops = (__u64)(uintptr_t)ops;
	s->results = (__u64)(uintptr_t)results;
	s->nr = nr;
	s->flags = flags;
	return tr_ioctl(fd, TIMERRING_IOC_SUBMIT, s);
}

/* Submit one op, return its result (or the ioctl error). */
static inline int tr_one(struct timerring *tr, const struct timerring_op *op)
{
	__s32 res = INT32_MIN;
	int ret = timerring_submit(tr, op, 1, &res, 0, NULL, NULL);

	if (ret < 0)
		return ret;
	if (ret != 1)
		return -EPROTO;
	return res;
}

static inline int tr_arm(struct timerring *tr, __u32 id, __u64 expiry,
			 __u8 flags, __u64 user_data, __u64 interval)
{
	struct timerring_op op;

	timerring_op_arm(&op, id, expiry, flags, user_data, interval);
	return tr_one(tr, &op);
}

static inline int tr_modify(struct timerring *tr, __u32 id, __u64 expiry,
			    __u8 flags, __u64 user_data, __u64 interval)
{
	struct timerring_op op;

	timerring_op_modify(&op, id, expiry, flags, user_data, interval);
	return tr_one(tr, &op);
}

static inline int tr_cancel(struct timerring *tr, __u32 id)
{
	struct timerring_op op;

	timerring_op_cancel(&op, id);
	return tr_one(tr, &op);
}

static inline int tr_cancel_all(struct timerring *tr)
{
	struct timerring_op op;

	timerring_op_cancel_all(&op);
	return tr_one(tr, &op);
}

/* Consume up to @max ready CQEs into @out (may be NULL: discard). */
static inline unsigned int tr_reap(struct timerring *tr,
				   struct io_uring_cqe *out, unsigned int max)
{
	struct io_uring_cqe *cqe;
	unsigned int head, n = 0;

	timerring_for_each_cqe(tr, head, cqe) {
		if (n == max)
			break;
		if (out)
			out[n] = *cqe;
		n++;
	}
	timerring_cq_advance(tr, n);
	return n;
}

/*
 * Collect exactly @want CQEs (flushing the overflow list as needed) within
 * @timeout_ns; returns how many were collected.
 */
static inline unsigned int tr_collect(struct timerring *tr,
				      struct io_uring_cqe *out,
				      unsigned int want, uint64_t timeout_ns)
{
	uint64_t end = now_ns(CLOCK_MONOTONIC) + timeout_ns;
	unsigned int got = 0;

	while (got < want) {
		uint64_t now;

		got += tr_reap(tr, out ? out + got : NULL, want - got);
		if (got == want)
			break;
		now = now_ns(CLOCK_MONOTONIC);
		if (now >= end)
			break;
		timerring_wait(tr, 1, end - now);
	}
	return got;
}

/* Wait @ns, then return how many CQEs are ready (after a flush). */
static inline unsigned int tr_settle(struct timerring *tr, uint64_t ns)
{
	sleep_ns(ns);
	timerring_wait(tr, 0, 0);
	return timerring_cq_ready(tr);
}

/* Open an instance; SKIP the test if the device is not there. */
#define TR_OPEN_OR_SKIP(trp, params) do {				\
	int __r = timerring_open((trp), (params));			\
	if (__r == -ENOENT || __r == -ENODEV || __r == -ENXIO)		\
		SKIP(return, "no " TIMERRING_DEV_PATH " (%d)", __r);	\
	ASSERT_EQ(0, __r);						\
} while (0)

#define TR_OPEN_DEV_OR_SKIP(fdvar) do {					\
	(fdvar) = tr_open_dev();					\
	if ((fdvar) == -ENOENT || (fdvar) == -ENODEV || (fdvar) == -ENXIO) \
		SKIP(return, "no " TIMERRING_DEV_PATH " (%d)", (fdvar));	\
	ASSERT_LE(0, (fdvar));						\
} while (0)

#endif /* _TIMERRING_SELFTEST_COMMON_H */
