// SPDX-License-Identifier: GPL-2.0
/*
 * timerring: the rules of uapi/linux/timerring.h that are not about one
 * feature: struct sizes in the ioctl numbers, the user_data rule of the
 * cancel ops, cq_entries rounding and clamping, ERANGE ids, the mmap
 * exec rules and the EVENTFD argument rules. Every failing call is
 * checked to have changed nothing.
 */
#include <limits.h>
#include <poll.h>
#include <unistd.h>
#include <linux/membarrier.h>
#include <sys/eventfd.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include "kselftest_harness.h"
#include "common.h"

#define HOUR_NS		(3600 * NSEC_PER_SEC)
#define BIG_SIZE	4104	/* > 4096: E2BIG even with a zero tail */
#define MAX_SIZE	4096
#define PATTERN		0xa5

/* Sizes below every VER0 size worth trying (each filtered by < VER0). */
static const unsigned int small_sizes[] = {
	0, 1, 4, 8, 12, 16, 20, 23, 24, 40, 47, 104, 128, 135, 312, 319,
};

struct bigbuf {
	unsigned char b[BIG_SIZE];
};

static bool all_bytes(const void *p, int c, size_t n)
{
	const unsigned char *q = p;
	size_t i;

	for (i = 0; i < n; i++)
		if (q[i] != (unsigned char)c)
			return false;
	return true;
}

static void small_params(struct timerring_params *p)
{
	tr_default_params(p);
	p->cq_entries = 64;
}

FIXTURE(ur) {
	struct timerring tr;
};

FIXTURE_SETUP(ur)
{
	struct timerring_params p;

	small_params(&p);
	TR_OPEN_OR_SKIP(&self->tr, &p);
}

FIXTURE_TEARDOWN(ur)
{
	if (self->tr.fd >= 0)
		timerring_close(&self->tr);
}

/* SETUP with a size below TIMERRING_PARAMS_SIZE_VER0: EINVAL, no setup. */
TEST(setup_size_below_ver0)
{
	struct timerring_params p, copy;
	struct timerring_stats st;
	unsigned int i;
	void *m;
	int fd;

	TR_OPEN_DEV_OR_SKIP(fd);
	ASSERT_EQ(136, TIMERRING_PARAMS_SIZE_VER0);
	ASSERT_EQ(184, TIMERRING_PARAMS_SIZE_VER1);
	ASSERT_EQ(200, TIMERRING_PARAMS_SIZE_VER2);
	ASSERT_EQ(TIMERRING_PARAMS_SIZE_VER2, sizeof(p));
	for (i = 0; i < ARRAY_SIZE(small_sizes); i++) {
		unsigned int sz = small_sizes[i];

		if (sz >= TIMERRING_PARAMS_SIZE_VER0)
			continue;
		small_params(&p);
		copy = p;
		EXPECT_EQ(-EINVAL, tr_ioctl(fd, TR_IOC_SIZED(TIMERRING_IOC_SETUP,
							     sz), &p))
			TH_LOG("size %u", sz);
		/* Nothing written back. */
		EXPECT_EQ(0, memcmp(&p, &copy, sizeof(p))) TH_LOG("size %u", sz);
	}
	/* Still not set up: no ring to map, no stats. */
	m = mmap(NULL, getpagesize(), PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		 0);
	EXPECT_EQ(MAP_FAILED, m);
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-EINVAL, tr_get_stats(fd, &st));

	/* The full size succeeds afterwards on the same fd. */
	small_params(&p);
	ASSERT_EQ(0, tr_ioctl(fd, TIMERRING_IOC_SETUP, &p));
	EXPECT_NE(0, p.mmap_size);
	EXPECT_EQ(64, p.cq_entries);
	close(fd);
}

/* SUBMIT with a size below TIMERRING_SUBMIT_SIZE_VER0: EINVAL, nothing. */
TEST_F(ur, submit_size_below_ver0)
{
	struct timerring_stats st0, st1;
	struct timerring_submit s;
	struct timerring_op op;
	unsigned int i;
	__s32 res;

	ASSERT_EQ(48, TIMERRING_SUBMIT_SIZE_VER0);
	ASSERT_EQ(0, tr_get_stats(self->tr.fd, &st0));
	timerring_op_arm(&op, 7, HOUR_NS, 0, 7, 0);
	for (i = 0; i < ARRAY_SIZE(small_sizes); i++) {
		unsigned int sz = small_sizes[i];

		if (sz >= TIMERRING_SUBMIT_SIZE_VER0)
			continue;
		memset(&s, 0, sizeof(s));
		s.ops = (uintptr_t)&op;
		s.results = (uintptr_t)&res;
		s.nr = 1;
		s.done = 0xdead;
		s.failed = 0xbeef;
		res = 12345;
		EXPECT_EQ(-EINVAL,
			  tr_ioctl(self->tr.fd,
				   TR_IOC_SIZED(TIMERRING_IOC_SUBMIT, sz), &s))
			TH_LOG("size %u", sz);
		EXPECT_EQ(12345, res) TH_LOG("size %u", sz);
		EXPECT_EQ(0xdead, s.done) TH_LOG("size %u", sz);
		EXPECT_EQ(0xbeef, s.failed) TH_LOG("size %u", sz);
	}
	ASSERT_EQ(0, tr_get_stats(self->tr.fd, &st1));
	expect_stats_same(_metadata, &st0, &st1);
	EXPECT_EQ(0, st1.armed_now);
	EXPECT_EQ(-ENOENT, tr_cancel(&self->tr, 7));

	/* The same struct at its real size works. */
	EXPECT_EQ(0, tr_raw_submit(self->tr.fd, &s, &op, &res, 1, 0));
	EXPECT_EQ(1, s.done);
	EXPECT_GE(res, 0);
	EXPECT_EQ(0, tr_cancel(&self->tr, 7));
}

/* WAIT below TIMERRING_WAIT_SIZE_VER0: EINVAL, ready not written. */
TEST_F(ur, wait_size_below_ver0)
{
	struct timerring_wait w;
	unsigned int i;

	ASSERT_EQ(24, TIMERRING_WAIT_SIZE_VER0);
	/* Make ready non-zero so that a written-back ready shows. */
	ASSERT_GE(tr_arm(&self->tr, 3, 0, 0, 3, 0), 0);
	ASSERT_EQ(1, timerring_wait(&self->tr, 1, WAIT_LONG_NS));
	for (i = 0; i < ARRAY_SIZE(small_sizes); i++) {
		unsigned int sz = small_sizes[i];

		if (sz >= TIMERRING_WAIT_SIZE_VER0)
			continue;
		memset(&w, 0, sizeof(w));
		w.ready = 0xdeadbeef;
		EXPECT_EQ(-EINVAL,
			  tr_ioctl(self->tr.fd,
				   TR_IOC_SIZED(TIMERRING_IOC_WAIT, sz), &w))
			TH_LOG("size %u", sz);
		EXPECT_EQ(0xdeadbeef, w.ready) TH_LOG("size %u", sz);
	}
	memset(&w, 0, sizeof(w));
	EXPECT_EQ(0, tr_ioctl(self->tr.fd, TIMERRING_IOC_WAIT, &w));
	EXPECT_EQ(1, w.ready);
	EXPECT_EQ(1, tr_reap(&self->tr, NULL, 8));
}

/* VERSION and STATS below their VER0: EINVAL, the buffer untouched. */
TEST_F(ur, out_structs_below_ver0)
{
	struct bigbuf b;
	unsigned int i;

	ASSERT_EQ(48, TIMERRING_VERSION_SIZE_VER0);
	ASSERT_EQ(320, TIMERRING_STATS_SIZE_VER0);
	ASSERT_EQ(TIMERRING_VERSION_SIZE_VER0,
		  sizeof(struct timerring_version));
	ASSERT_EQ(352, TIMERRING_STATS_SIZE_VER1);
	ASSERT_EQ(360, TIMERRING_STATS_SIZE_VER2);
	ASSERT_EQ(408, TIMERRING_STATS_SIZE_VER3);
	ASSERT_EQ(TIMERRING_STATS_SIZE_VER3, sizeof(struct timerring_stats));
	for (i = 0; i < ARRAY_SIZE(small_sizes); i++) {
		unsigned int sz = small_sizes[i];

		if (sz < TIMERRING_VERSION_SIZE_VER0) {
			memset(&b, PATTERN, sizeof(b));
			EXPECT_EQ(-EINVAL,
				  tr_ioctl(self->tr.fd,
					   TR_IOC_SIZED(TIMERRING_IOC_VERSION,
							sz), &b))
				TH_LOG("VERSION size %u", sz);
			EXPECT_TRUE(all_bytes(&b, PATTERN, sizeof(b)))
				TH_LOG("VERSION size %u wrote", sz);
		}
		if (sz < TIMERRING_STATS_SIZE_VER0) {
			memset(&b, PATTERN, sizeof(b));
			EXPECT_EQ(-EINVAL,
				  tr_ioctl(self->tr.fd,
					   TR_IOC_SIZED(TIMERRING_IOC_STATS,
							sz), &b))
				TH_LOG("STATS size %u", sz);
			EXPECT_TRUE(all_bytes(&b, PATTERN, sizeof(b)))
				TH_LOG("STATS size %u wrote", sz);
		}
	}
	/* VERSION also on a fresh fd (it needs no SETUP). */
	{
		int fd = tr_open_dev();

		ASSERT_LE(0, fd);
		memset(&b, PATTERN, sizeof(b));
		EXPECT_EQ(-EINVAL,
			  tr_ioctl(fd, TR_IOC_SIZED(TIMERRING_IOC_VERSION, 32),
				   &b));
		EXPECT_TRUE(all_bytes(&b, PATTERN, sizeof(b)));
		close(fd);
	}
}

/* Sizes above 4096 are E2BIG even with a zero tail; 4096 is fine. */
TEST(sizes_above_4096)
{
	struct timerring_params *p;
	struct timerring_submit *s;
	struct timerring_wait *w;
	struct timerring_stats st;
	struct timerring_op op;
	struct bigbuf *b;
	struct timerring tr;
	__s32 res;
	int fd;

	TR_OPEN_DEV_OR_SKIP(fd);
	b = calloc(1, sizeof(*b));
	ASSERT_NE(NULL, b);

	/* SETUP: E2BIG, and the fd can be set up afterwards. */
	p = (struct timerring_params *)b->b;
	small_params(p);
	EXPECT_EQ(-E2BIG, tr_ioctl(fd, TR_IOC_SIZED(TIMERRING_IOC_SETUP,
						    BIG_SIZE), b));
	EXPECT_EQ(0, p->mmap_size);
	EXPECT_TRUE(all_bytes(b->b + sizeof(*p), 0, BIG_SIZE - sizeof(*p)));
	EXPECT_EQ(-EINVAL, tr_get_stats(fd, &st));
	/* 4096 with a zero tail is accepted; the tail is not written. */
	EXPECT_EQ(0, tr_ioctl(fd, TR_IOC_SIZED(TIMERRING_IOC_SETUP, MAX_SIZE),
			      b));
	EXPECT_NE(0, p->mmap_size);
	EXPECT_TRUE(all_bytes(b->b + sizeof(*p), 0, BIG_SIZE - sizeof(*p)));
	small_params(p);
	EXPECT_EQ(-EBUSY, tr_ioctl(fd, TIMERRING_IOC_SETUP, p));
	close(fd);

	/* The others on a set-up instance. */
	memset(b, 0, sizeof(*b));
	small_params(p);
	TR_OPEN_OR_SKIP(&tr, p);
	fd = tr.fd;

	timerring_op_arm(&op, 9, HOUR_NS, 0, 9, 0);
	memset(b, 0, sizeof(*b));
	s = (struct timerring_submit *)b->b;
	s->ops = (uintptr_t)&op;
	s->results = (uintptr_t)&res;
	s->nr = 1;
	res = 777;
	EXPECT_EQ(-E2BIG, tr_ioctl(fd, TR_IOC_SIZED(TIMERRING_IOC_SUBMIT,
						    BIG_SIZE), b));
	EXPECT_EQ(777, res);
	EXPECT_EQ(0, s->done);
	ASSERT_EQ(0, tr_get_stats(fd, &st));
	EXPECT_EQ(0, st.armed_total);
	EXPECT_EQ(0, st.batches);
	EXPECT_EQ(-ENOENT, tr_cancel(&tr, 9));
	EXPECT_EQ(0, tr_ioctl(fd, TR_IOC_SIZED(TIMERRING_IOC_SUBMIT, MAX_SIZE),
			      b));
	EXPECT_EQ(1, s->done);
	EXPECT_GE(res, 0);
	EXPECT_EQ(0, tr_cancel(&tr, 9));

	memset(b, 0, sizeof(*b));
	w = (struct timerring_wait *)b->b;
	w->ready = 0xdeadbeef;
	EXPECT_EQ(-E2BIG, tr_ioctl(fd, TR_IOC_SIZED(TIMERRING_IOC_WAIT,
						    BIG_SIZE), b));
	EXPECT_EQ(0xdeadbeef, w->ready);
	w->ready = 0xdeadbeef;
	EXPECT_EQ(0, tr_ioctl(fd, TR_IOC_SIZED(TIMERRING_IOC_WAIT, MAX_SIZE),
			      b));
	EXPECT_EQ(0, w->ready);

	memset(b, 0, sizeof(*b));
	EXPECT_EQ(-E2BIG, tr_ioctl(fd, TR_IOC_SIZED(TIMERRING_IOC_VERSION,
						    BIG_SIZE), b));
	EXPECT_TRUE(all_bytes(b, 0, sizeof(*b)));
	EXPECT_EQ(0, tr_ioctl(fd, TR_IOC_SIZED(TIMERRING_IOC_VERSION,
					       MAX_SIZE), b));
	EXPECT_EQ(TIMERRING_API_VERSION,
		  ((struct timerring_version *)b->b)->api_version);
	EXPECT_TRUE(all_bytes(b->b + sizeof(struct timerring_version), 0,
			      BIG_SIZE - sizeof(struct timerring_version)));

	memset(b, 0, sizeof(*b));
	EXPECT_EQ(-E2BIG, tr_ioctl(fd, TR_IOC_SIZED(TIMERRING_IOC_STATS,
						    BIG_SIZE), b));
	EXPECT_TRUE(all_bytes(b, 0, sizeof(*b)));
	EXPECT_EQ(0, tr_ioctl(fd, TR_IOC_SIZED(TIMERRING_IOC_STATS, MAX_SIZE),
			      b));
	EXPECT_EQ(64, ((struct timerring_stats *)b->b)->cq_entries);
	EXPECT_TRUE(all_bytes(b->b + sizeof(struct timerring_stats), 0,
			      BIG_SIZE - sizeof(struct timerring_stats)));
	timerring_close(&tr);
	free(b);
}

/* CANCEL and CANCEL_ALL take no user_data: -EINVAL, nothing cancelled. */
TEST_F(ur, cancel_user_data)
{
	struct timerring_stats st0, st1;
	struct timerring_op ops[4];
	unsigned int done = 0, failed = 0;
	__s32 res[4];

	ASSERT_GE(tr_arm(&self->tr, 11, HOUR_NS, 0, 11, 0), 0);
	ASSERT_EQ(0, tr_get_stats(self->tr.fd, &st0));

	timerring_op_cancel(&ops[0], 11);
	ops[0].user_data = 1;
	timerring_op_cancel(&ops[1], 11);
	ops[1].user_data = 1ULL << 63;
	timerring_op_cancel_all(&ops[2]);
	ops[2].user_data = 11;
	timerring_op_cancel_all(&ops[3]);
	ops[3].user_data = ~0ULL;
	memset(res, 0x55, sizeof(res));
	ASSERT_EQ(4, timerring_submit(&self->tr, ops, 4, res, 0, &done,
				      &failed));
	EXPECT_EQ(4, done);
	EXPECT_EQ(4, failed);
	EXPECT_EQ(-EINVAL, res[0]);
	EXPECT_EQ(-EINVAL, res[1]);
	EXPECT_EQ(-EINVAL, res[2]);
	EXPECT_EQ(-EINVAL, res[3]);

	ASSERT_EQ(0, tr_get_stats(self->tr.fd, &st1));
	EXPECT_EQ(st0.cancelled_total, st1.cancelled_total);
	EXPECT_EQ(1, st1.armed_now);
	EXPECT_EQ(st0.ops_failed + 4, st1.ops_failed);
	/* Still armed. */
	EXPECT_EQ(-EEXIST, tr_arm(&self->tr, 11, HOUR_NS, 0, 0, 0));
	EXPECT_EQ(0, tr_cancel(&self->tr, 11));
	EXPECT_EQ(0, tr_cancel_all(&self->tr));
}

static int setup_fd(int fd, __u32 cq_entries, __u32 flags, __u32 *out)
{
	struct timerring_params p;
	int ret;

	tr_default_params(&p);
	p.cq_entries = cq_entries;
	p.flags = flags;
	ret = tr_ioctl(fd, TIMERRING_IOC_SETUP, &p);
	if (!ret)
		*out = p.cq_entries;
	return ret;
}

static int setup_cq(__u32 cq_entries, __u32 flags, __u32 *out)
{
	int fd = tr_open_dev();
	int ret;

	if (fd < 0)
		return fd;
	ret = setup_fd(fd, cq_entries, flags, out);
	close(fd);
	return ret;
}

/* Below TIMERRING_CQ_ENTRIES_MIN: EINVAL, or 64 with CLAMP. */
TEST(cq_entries_rules)
{
	__u32 out = 0;
	int fd;

	TR_OPEN_DEV_OR_SKIP(fd);
	EXPECT_EQ(-EINVAL, setup_cq(1, 0, &out));
	EXPECT_EQ(-EINVAL, setup_cq(63, 0, &out));
	EXPECT_EQ(-EINVAL, setup_cq(2, 0, &out));
	out = 0;
	EXPECT_EQ(0, setup_cq(1, TIMERRING_SETUP_CLAMP, &out));
	EXPECT_EQ(64, out);
	out = 0;
	EXPECT_EQ(0, setup_cq(63, TIMERRING_SETUP_CLAMP, &out));
	EXPECT_EQ(64, out);
	out = 0;
	EXPECT_EQ(0, setup_cq(64, 0, &out));
	EXPECT_EQ(64, out);
	out = 0;
	EXPECT_EQ(0, setup_cq(65, 0, &out));
	EXPECT_EQ(128, out);
	out = 0;
	EXPECT_EQ(0, setup_cq(100, 0, &out));
	EXPECT_EQ(128, out);
	out = 0;
	EXPECT_EQ(0, setup_cq(100, TIMERRING_SETUP_CLAMP, &out));
	EXPECT_EQ(128, out);

	/* A refused size leaves the fd settable. */
	EXPECT_EQ(-EINVAL, setup_fd(fd, 63, 0, &out));
	out = 0;
	EXPECT_EQ(0, setup_fd(fd, 100, 0, &out));
	EXPECT_EQ(128, out);
	close(fd);
}

/* id >= max_timers: -ERANGE for ARM, MODIFY and CANCEL, per op. */
TEST(erange_ids)
{
	struct timerring_params p;
	struct timerring_stats st;
	struct timerring tr;
	struct timerring_op ops[7 * 3 + 2];
	__s32 res[7 * 3 + 2];
	__u32 ids[7], max;
	unsigned int i, n = 0, done = 0, failed = 0;

	tr_default_params(&p);
	p.cq_entries = 64;
	p.max_timers = 1000;	/* not a multiple of a 128-id table chunk */
	TR_OPEN_OR_SKIP(&tr, &p);
	max = tr.params.max_timers;
	ASSERT_GE(max, 1000);
	ids[0] = max;
	ids[1] = max + 1;
	ids[2] = (max | 127) + 1;
	ids[3] = max + 4096;
	ids[4] = 1U << 30;
	ids[5] = INT_MAX;
	ids[6] = UINT_MAX;
	for (i = 0; i < 7; i++) {
		timerring_op_arm(&ops[n++], ids[i], HOUR_NS, 0, 0, 0);
		timerring_op_modify(&ops[n++], ids[i], HOUR_NS, 0, 0, 0);
		timerring_op_cancel(&ops[n++], ids[i]);
	}
	/* The last valid id, around them. */
	timerring_op_arm(&ops[n++], max - 1, HOUR_NS, 0, 0, 0);
	timerring_op_cancel(&ops[n++], max - 1);
	memset(res, 0x55, sizeof(res));
	ASSERT_EQ(n, timerring_submit(&tr, ops, n, res, 0, &done, &failed));
	EXPECT_EQ(n, done);
	EXPECT_EQ(n - 2, failed);
	for (i = 0; i < n - 2; i++)
		EXPECT_EQ(-ERANGE, res[i])
			TH_LOG("op %u (opcode %u id %u)", i, ops[i].opcode,
			       ops[i].id);
	EXPECT_GE(res[n - 2], 0);
	EXPECT_EQ(0, res[n - 1]);
	ASSERT_EQ(0, tr_get_stats(tr.fd, &st));
	EXPECT_EQ(0, st.armed_now);
	EXPECT_EQ(1, st.armed_total);
	EXPECT_EQ(0, st.modified_total);
	EXPECT_EQ(1, st.cancelled_total);
	EXPECT_EQ(n - 2, st.ops_failed);
	timerring_close(&tr);
}

/* The ring can never be mapped executable. */
TEST_F(ur, mmap_exec)
{
	struct timerring *tr = &self->tr;
	size_t sz = tr->params.mmap_size;
	off_t off = tr->params.mmap_offset;
	struct statvfs sv;
	char *p;

	if (!statvfs(TIMERRING_DEV_PATH, &sv) && (sv.f_flag & ST_NOEXEC))
		TH_LOG("note: %s is on a noexec mount, which gives EPERM too",
		       TIMERRING_DEV_PATH);

	p = mmap(NULL, sz, PROT_READ | PROT_EXEC, MAP_SHARED, tr->fd, off);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EPERM, errno);
	p = mmap(NULL, sz, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_SHARED,
		 tr->fd, off);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EPERM, errno);
	p = mmap(NULL, getpagesize(), PROT_EXEC, MAP_SHARED, tr->fd, off);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EPERM, errno);

	p = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED, tr->fd, off);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(-1, mprotect(p, sz, PROT_READ | PROT_EXEC));
	EXPECT_EQ(EACCES, errno);
	EXPECT_EQ(-1, mprotect(p, getpagesize(), PROT_EXEC));
	EXPECT_EQ(EACCES, errno);
	EXPECT_EQ(-1, mprotect(p, sz, PROT_READ | PROT_WRITE | PROT_EXEC));
	EXPECT_EQ(EACCES, errno);

	/* The mapping still works after the refusals. */
	ASSERT_GE(tr_arm(tr, 1, 0, 0, 1, 0), 0);
	ASSERT_EQ(1, timerring_wait(tr, 1, WAIT_LONG_NS));
	EXPECT_EQ(1, __atomic_load_n((unsigned int *)(p + tr->params.cq_off.tail),
				     __ATOMIC_ACQUIRE));
	munmap(p, sz);
	EXPECT_EQ(1, tr_reap(tr, NULL, 8));
}

/* A private mapping would hide head from the kernel: refused. */
TEST_F(ur, mmap_private)
{
	struct timerring *tr = &self->tr;
	char *p;

	p = mmap(NULL, tr->params.mmap_size, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE, tr->fd, tr->params.mmap_offset);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EINVAL, errno);
	p = mmap(NULL, tr->params.mmap_size, PROT_READ, MAP_PRIVATE, tr->fd,
		 tr->params.mmap_offset);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EINVAL, errno);
}

static short efd_poll(int efd, int timeout_ms)
{
	struct pollfd pfd = { .fd = efd, .events = POLLIN };

	return poll(&pfd, 1, timeout_ms) > 0 ? pfd.revents : 0;
}

/*
 * Post a CQE and tell whether @efd got signalled (and drain it). @expect
 * only picks how long to look: up to 5 s for a signal that must come,
 * 20 ms for one that must not.
 */
static bool efd_signalled_by_cqe(struct timerring *tr, __u32 id, int efd,
				 bool expect)
{
	__u64 v;
	bool sig;

	if (tr_arm(tr, id, 0, 0, id, 0) < 0)
		return !expect;
	if (tr_collect(tr, NULL, 1, WAIT_LONG_NS) != 1)
		return !expect;
	sig = efd_poll(efd, expect ? 5000 : 20) & POLLIN;
	if (sig && read(efd, &v, sizeof(v)) != sizeof(v))
		return !expect;
	return sig;
}

#define EVENTFD_SZ(sz)	TR_IOC_SIZED(TIMERRING_IOC_EVENTFD, (sz))

TEST_F(ur, eventfd_rules)
{
	struct timerring *tr = &self->tr;
	static const unsigned int bad_sizes[] = { 0, 1, 2, 3, 5, 8, 16, 4096 };
	int efd, efd2, pfd[2], closed;
	unsigned int i;
	__s32 v;

	if (!(tr->params.features & TIMERRING_FEAT_EVENTFD))
		SKIP(return, "no TIMERRING_FEAT_EVENTFD");
	ASSERT_EQ(4, _IOC_SIZE(TIMERRING_IOC_EVENTFD));
	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	efd2 = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ASSERT_LE(0, efd);
	ASSERT_LE(0, efd2);
	ASSERT_EQ(0, pipe2(pfd, O_CLOEXEC));

	/* A size other than 4 in the number: EINVAL, nothing registered. */
	for (i = 0; i < ARRAY_SIZE(bad_sizes); i++) {
		__s32 buf[1024] = { efd };

		EXPECT_EQ(-EINVAL, tr_ioctl(tr->fd, EVENTFD_SZ(bad_sizes[i]),
					    buf))
			TH_LOG("size %u", bad_sizes[i]);
	}
	EXPECT_FALSE(efd_signalled_by_cqe(tr, 1, efd, false));

	/* Bad descriptors. */
	v = -2;
	EXPECT_EQ(-EBADF, tr_ioctl(tr->fd, TIMERRING_IOC_EVENTFD, &v));
	v = INT_MIN;
	EXPECT_EQ(-EBADF, tr_ioctl(tr->fd, TIMERRING_IOC_EVENTFD, &v));
	closed = dup(efd);
	ASSERT_LE(0, closed);
	close(closed);
	v = closed;
	EXPECT_EQ(-EBADF, tr_ioctl(tr->fd, TIMERRING_IOC_EVENTFD, &v));
	v = pfd[0];
	EXPECT_EQ(-EINVAL, tr_ioctl(tr->fd, TIMERRING_IOC_EVENTFD, &v));
	v = pfd[1];
	EXPECT_EQ(-EINVAL, tr_ioctl(tr->fd, TIMERRING_IOC_EVENTFD, &v));
	v = tr->fd;
	EXPECT_EQ(-EINVAL, tr_ioctl(tr->fd, TIMERRING_IOC_EVENTFD, &v));
	EXPECT_EQ(-EFAULT, tr_ioctl(tr->fd, TIMERRING_IOC_EVENTFD, NULL));
	EXPECT_FALSE(efd_signalled_by_cqe(tr, 2, efd, false));

	/* A failed registration keeps the previous one. */
	ASSERT_EQ(0, timerring_register_eventfd(tr, efd));
	v = pfd[0];
	EXPECT_EQ(-EINVAL, tr_ioctl(tr->fd, TIMERRING_IOC_EVENTFD, &v));
	v = -2;
	EXPECT_EQ(-EBADF, tr_ioctl(tr->fd, TIMERRING_IOC_EVENTFD, &v));
	v = efd2;
	EXPECT_EQ(-EINVAL, tr_ioctl(tr->fd, EVENTFD_SZ(8), &v));
	EXPECT_TRUE(efd_signalled_by_cqe(tr, 3, efd, true));
	EXPECT_FALSE(efd_poll(efd2, 0) & POLLIN);
	ASSERT_EQ(0, timerring_unregister_eventfd(tr));
	EXPECT_FALSE(efd_signalled_by_cqe(tr, 4, efd, false));

	close(pfd[0]);
	close(pfd[1]);
	close(efd);
	close(efd2);
}

/* EVENTFD works before SETUP, and the registration is kept by SETUP. */
TEST(eventfd_before_setup)
{
	struct timerring tr;
	int fd, efd;
	__s32 v;

	TR_OPEN_DEV_OR_SKIP(fd);
	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ASSERT_LE(0, efd);
	v = -2;
	EXPECT_EQ(-EBADF, tr_ioctl(fd, TIMERRING_IOC_EVENTFD, &v));
	v = efd;
	ASSERT_EQ(0, tr_ioctl(fd, TIMERRING_IOC_EVENTFD, &v));
	ASSERT_EQ(0, timerring_open_fd(&tr, fd, NULL));
	if (!(tr.params.features & TIMERRING_FEAT_EVENTFD))
		SKIP(goto out, "no TIMERRING_FEAT_EVENTFD");
	EXPECT_TRUE(efd_signalled_by_cqe(&tr, 1, efd, true));
out:
	timerring_close(&tr);
	close(efd);
}

#define EVENTFD_LOOPS	3001
#define GP_LOOPS	20

/*
 * The cost of one RCU grace period, as seen from userspace:
 * membarrier(MEMBARRIER_CMD_GLOBAL) is one synchronize_rcu() on a
 * machine with more than one online CPU (kernel/sched/membarrier.c).
 * Returns 0 where it cannot tell (one CPU, or nohz_full).
 */
static __u64 grace_period_ns(void)
{
	__u64 t0;
	int i;

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		return 0;
	t0 = now_ns(CLOCK_MONOTONIC);
	for (i = 0; i < GP_LOOPS; i++)
		if (syscall(__NR_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0))
			return 0;
	return (now_ns(CLOCK_MONOTONIC) - t0) / GP_LOOPS;
}

/* The cost of one TIMERRING_IOC_STATS call (a copy of 408 bytes out). */
static __u64 stats_call_ns(struct timerring *tr)
{
	struct timerring_stats st;
	__u64 t0 = now_ns(CLOCK_MONOTONIC);
	int i;

	for (i = 0; i < GP_LOOPS * 10; i++)
		if (timerring_stats(tr, &st))
			return 0;
	return (now_ns(CLOCK_MONOTONIC) - t0) / (GP_LOOPS * 10);
}

/*
 * Replacing or removing an eventfd never waits for an RCU grace period:
 * a call costs less than a quarter of one grace period, both measured in
 * this run. Where membarrier(2) cannot measure one (a kernel without
 * CONFIG_MEMBARRIER, as the test kernel), it costs less than 50 STATS
 * calls instead: a grace period is some ms (jiffies), a call of either
 * kind some us (on the debug test kernel under TCG, 0.3 ms and 0.05 ms).
 */
TEST_F_TIMEOUT(ur, eventfd_replace_fast, 120)
{
	struct timerring *tr = &self->tr;
	__u64 t0, call_ns, gp_ns;
	int efd[2], i, ret = 0;
	__s32 v;

	if (!(tr->params.features & TIMERRING_FEAT_EVENTFD))
		SKIP(return, "no TIMERRING_FEAT_EVENTFD");
	efd[0] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	efd[1] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ASSERT_LE(0, efd[0]);
	ASSERT_LE(0, efd[1]);

	t0 = now_ns(CLOCK_MONOTONIC);
	for (i = 0; i < EVENTFD_LOOPS && !ret; i++) {
		/* register efd[0], replace it by efd[1], remove. */
		switch (i % 3) {
		case 0:
			v = efd[0];
			break;
		case 1:
			v = efd[1];
			break;
		default:
			v = -1;
			break;
		}
		ret = tr_ioctl(tr->fd, TIMERRING_IOC_EVENTFD, &v);
	}
	call_ns = (now_ns(CLOCK_MONOTONIC) - t0) / EVENTFD_LOOPS;
	ASSERT_EQ(0, ret) TH_LOG("call %d", i - 1);
	gp_ns = grace_period_ns();
	TH_LOG("eventfd call %llu us, grace period %llu us",
	       (unsigned long long)(call_ns / 1000),
	       (unsigned long long)(gp_ns / 1000));
	if (gp_ns) {
		EXPECT_LT(call_ns * 4, gp_ns);
	} else {
		__u64 st_ns = stats_call_ns(tr);

		TH_LOG("no grace period to measure: STATS call %llu us",
		       (unsigned long long)(st_ns / 1000));
		EXPECT_LT(0, st_ns);
		EXPECT_LT(call_ns, 50 * st_ns);
	}

	/* The last call (i = 3000, 3000 % 3 == 0) registered efd[0]. */
	EXPECT_TRUE(efd_signalled_by_cqe(tr, 1, efd[0], true));
	EXPECT_FALSE(efd_poll(efd[1], 0) & POLLIN);
	ASSERT_EQ(0, timerring_register_eventfd(tr, efd[1]));
	EXPECT_TRUE(efd_signalled_by_cqe(tr, 2, efd[1], true));
	EXPECT_FALSE(efd_poll(efd[0], 0) & POLLIN);
	close(efd[0]);
	close(efd[1]);
}

TEST_HARNESS_MAIN
