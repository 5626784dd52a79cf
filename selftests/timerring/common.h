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
#include <stdlib.h>
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

/*
 * Consume up to @max ready CQEs into @out (may be NULL: discard), from
 * every shard's ring in turn (ring 0 first).
 */
static inline unsigned int tr_reap(struct timerring *tr,
				   struct io_uring_cqe *out, unsigned int max)
{
	struct io_uring_cqe tmp[64];
	unsigned int k, n = 0, got, want;

	for (k = 0; k < timerring_nr_shards(tr) && n < max; k++) {
		struct timerring_cq *cq = timerring_shard_cq(tr, k);

		do {
			want = max - n;
			if (!out && want > 64)
				want = 64;
			got = timerring_ring_copy(cq, out ? out + n : tmp, want);
			n += got;
		} while (got == want && n < max);
	}
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

/* Plain shared variables between threads and signal handlers. */
#define TR_READ_ONCE(x)		__atomic_load_n(&(x), __ATOMIC_RELAXED)
#define TR_WRITE_ONCE(x, v)	__atomic_store_n(&(x), (v), __ATOMIC_RELAXED)

/* @cmd with the struct size in its number replaced by @size. */
#define TR_IOC_SIZED(cmd, size)						\
	_IOC(_IOC_DIR(cmd), _IOC_TYPE(cmd), _IOC_NR(cmd), (size))

/* Raw STATS into a zeroed @st; 0 or -errno. */
static inline int tr_get_stats(int fd, struct timerring_stats *st)
{
	memset(st, 0, sizeof(*st));
	return tr_ioctl(fd, TIMERRING_IOC_STATS, st);
}

/*
 * Read up to @len - 1 bytes of a (proc, sysfs) file into @buf, NUL
 * terminated; the bytes read, or -errno (-ENODATA if it is empty).
 */
static inline ssize_t tr_read_text(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	if (n < 0)
		n = -errno;
	close(fd);
	if (n <= 0)
		return n < 0 ? n : -ENODATA;
	buf[n] = 0;
	return n;
}

/*
 * The whole of a file of any length (a trace, a tracefs format), NUL
 * terminated, its length in *@len if @len; NULL on error. free() it.
 */
static inline char *tr_read_all(const char *path, size_t *len)
{
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap + 1);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t r;

	if (fd < 0 || !buf) {
		if (fd >= 0)
			close(fd);
		free(buf);
		return NULL;
	}
	while ((r = read(fd, buf + n, cap - n)) > 0) {
		n += r;
		if (n == cap) {
			char *nb = realloc(buf, 2 * cap + 1);

			if (!nb)
				break;
			buf = nb;
			cap *= 2;
		}
	}
	close(fd);
	buf[n] = 0;
	if (len)
		*len = n;
	return buf;
}

/* Read the first unsigned number of a (proc, sysfs) file; 0 or -errno. */
static inline int tr_read_u64_file(const char *path, uint64_t *val)
{
	char buf[64];
	ssize_t n = tr_read_text(path, buf, sizeof(buf));

	if (n < 0)
		return n;
	errno = 0;
	*val = strtoull(buf, NULL, 0);
	return errno ? -errno : 0;
}

/* Write @s to @path; 0 or -errno. */
static inline int tr_write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n, len = strlen(s);

	if (fd < 0)
		return -errno;
	n = write(fd, s, len);
	if (n < 0)
		n = -errno;
	close(fd);
	return n == len ? 0 : (n < 0 ? (int)n : -EIO);
}

/* MemAvailable of /proc/meminfo, in bytes (0 if unknown). */
static inline uint64_t tr_mem_available(void)
{
	char buf[4096], *p;

	if (tr_read_text("/proc/meminfo", buf, sizeof(buf)) < 0)
		return 0;
	p = strstr(buf, "MemAvailable:");
	if (!p)
		return 0;
	return strtoull(p + strlen("MemAvailable:"), NULL, 10) * 1024;
}

/*
 * @npages fresh anonymous read-write pages, or NULL. Callers mprotect()
 * some of them to build faulting layouts.
 */
static inline char *tr_map_pages(size_t npages)
{
	char *p = mmap(NULL, npages * getpagesize(), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/*
 * Fill @tr for @fd, set up with @p, whose ring the caller mapped at @ptr
 * (all of p->mmap_size); @tr then owns @fd and the mapping.
 */
static inline void tr_attach_mapped(struct timerring *tr, int fd,
				    const struct timerring_params *p,
				    char *ptr)
{
	const struct timerring_cq_offsets *o = &p->cq_off;

	memset(tr, 0, sizeof(*tr));
	tr->fd = fd;
	tr->params = *p;
	tr->ring_ptr = ptr;
	tr->ring_sz = p->mmap_size;
	tr->cq.khead = (unsigned int *)(ptr + o->head);
	tr->cq.ktail = (unsigned int *)(ptr + o->tail);
	tr->cq.kring_mask = (unsigned int *)(ptr + o->ring_mask);
	tr->cq.kring_entries = (unsigned int *)(ptr + o->ring_entries);
	tr->cq.koverflow = (unsigned int *)(ptr + o->overflow);
	tr->cq.cqes = (struct io_uring_cqe *)(ptr + o->cqes);
	tr->cq.uflags = (unsigned int *)(ptr + o->flags);
	tr->cq.kflags = (unsigned int *)(ptr + o->kflags);
	tr->cq.koverflow_pending = (unsigned int *)(ptr + o->overflow_pending);
	tr->cq.ring_entries = p->cq_entries;
	tr->cq.ring_mask = p->cq_entries - 1;
}

/*
 * Map the ring of @fd, already set up with @p by the caller, into @tr as
 * timerring_open_fd() does after its own SETUP. On success @tr owns @fd;
 * 0 or -errno.
 */
static inline int tr_attach(struct timerring *tr, int fd,
			    const struct timerring_params *p)
{
	char *ptr;

	memset(tr, 0, sizeof(*tr));
	tr->fd = -1;
	ptr = mmap(NULL, p->mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		   fd, (off_t)p->mmap_offset);
	if (ptr == MAP_FAILED)
		return -errno;
	tr_attach_mapped(tr, fd, p, ptr);
	return 0;
}

/*
 * The instance still works: a one-shot @id due in 1 ms fires, and its
 * CQE is the next one. 0, or the step that failed (> 0).
 */
static inline int tr_fires(struct timerring *tr, __u32 id)
{
	struct io_uring_cqe cqe;

	if (tr_arm(tr, id, NSEC_PER_MSEC, 0, 0xf1e5 + (__u64)id, 0) < 0)
		return 1;
	if (tr_collect(tr, &cqe, 1, WAIT_LONG_NS) != 1)
		return 2;
	if (cqe.res != (__s32)id || cqe.user_data != 0xf1e5 + (__u64)id)
		return 3;
	return 0;
}

/* The counters a failed call must leave alone. */
static inline void expect_stats_same(struct __test_metadata *_metadata,
			      const struct timerring_stats *a,
			      const struct timerring_stats *b)
{
	EXPECT_EQ(a->armed_now, b->armed_now);
	EXPECT_EQ(a->armed_total, b->armed_total);
	EXPECT_EQ(a->modified_total, b->modified_total);
	EXPECT_EQ(a->cancelled_total, b->cancelled_total);
	EXPECT_EQ(a->expired_total, b->expired_total);
	EXPECT_EQ(a->batches, b->batches);
	EXPECT_EQ(a->ops_failed, b->ops_failed);
	EXPECT_EQ(a->mem_bytes, b->mem_bytes);
}

#endif /* _TIMERRING_SELFTEST_COMMON_H */
