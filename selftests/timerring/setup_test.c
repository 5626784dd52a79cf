// SPDX-License-Identifier: GPL-2.0
/*
 * timerring: TIMERRING_IOC_VERSION and TIMERRING_IOC_SETUP parameter
 * checking, struct extensibility and the state of a not-set-up fd.
 */
#include "kselftest_harness.h"
#include "common.h"

static bool is_pow2(__u32 v)
{
	return v && !(v & (v - 1));
}

FIXTURE(dev) {
	int fd;
	struct timerring_version v;
};

FIXTURE_SETUP(dev)
{
	TR_OPEN_DEV_OR_SKIP(self->fd);
	ASSERT_EQ(0, tr_ioctl(self->fd, TIMERRING_IOC_VERSION, &self->v));
}

FIXTURE_TEARDOWN(dev)
{
	if (self->fd >= 0)
		close(self->fd);
}

/* Run SETUP on a fresh fd so that one bad attempt cannot hide another. */
static int setup_fresh(struct timerring_params *p)
{
	int fd = tr_open_dev();
	int ret;

	if (fd < 0)
		return fd;
	ret = tr_ioctl(fd, TIMERRING_IOC_SETUP, p);
	close(fd);
	return ret;
}

TEST_F(dev, version_before_setup)
{
	struct timerring_version *v = &self->v;

	EXPECT_EQ(TIMERRING_API_VERSION, v->api_version);
	EXPECT_GE(v->impl, TIMERRING_IMPL_SCALAR);
	EXPECT_LE(v->impl, TIMERRING_IMPL_AVX512);
	EXPECT_GT(v->max_timers, 0);
	EXPECT_LE(v->max_timers, TIMERRING_MAX_TIMERS_MAX);
	EXPECT_TRUE(is_pow2(v->max_cq_entries));
	EXPECT_GE(v->max_cq_entries, TIMERRING_CQ_ENTRIES_MIN);
	EXPECT_LE(v->max_cq_entries, TIMERRING_CQ_ENTRIES_MAX);
	EXPECT_NE(NULL, memchr(v->module_version, 0,
			       sizeof(v->module_version)));
	EXPECT_NE(0, v->module_version[0]);
	TH_LOG("module %s impl %u max_timers %u max_cq %u",
	       v->module_version, v->impl, v->max_timers, v->max_cq_entries);

	/* The library wrapper, with and without an fd. */
	{
		struct timerring_version v2;

		ASSERT_EQ(0, timerring_version(self->fd, &v2));
		EXPECT_EQ(0, memcmp(&v2, v, sizeof(v2)));
		ASSERT_EQ(0, timerring_version(-1, &v2));
		EXPECT_EQ(0, memcmp(&v2, v, sizeof(v2)));
	}
}

TEST_F(dev, unknown_ioctl)
{
	struct timerring_params p;
	char buf[64] = { 0 };

	/* Unknown commands are ENOTTY, set up or not. */
	EXPECT_EQ(-ENOTTY, tr_ioctl(self->fd,
				    _IOWR(TIMERRING_IOC_MAGIC, 42, buf), buf));
	EXPECT_EQ(-ENOTTY, tr_ioctl(self->fd, _IOWR('x', 1, buf), buf));
	tr_default_params(&p);
	ASSERT_EQ(0, tr_ioctl(self->fd, TIMERRING_IOC_SETUP, &p));
	EXPECT_EQ(-ENOTTY, tr_ioctl(self->fd,
				    _IOWR(TIMERRING_IOC_MAGIC, 42, buf), buf));
	EXPECT_EQ(-ENOTTY, tr_ioctl(self->fd, _IOWR('x', 1, buf), buf));
	EXPECT_EQ(-ENOTTY, tr_ioctl(self->fd, _IO(TIMERRING_IOC_MAGIC, 7),
				    NULL));
	/* SQ_ENTER has no argument: with a size it is another ioctl */
	EXPECT_EQ(-ENOTTY, tr_ioctl(self->fd, _IOC(_IOC_NONE,
				    TIMERRING_IOC_MAGIC, 6, 8), NULL));
}

TEST_F(dev, good_setup_defaults)
{
	struct timerring_params p;

	tr_default_params(&p);
	ASSERT_EQ(0, tr_ioctl(self->fd, TIMERRING_IOC_SETUP, &p));
	EXPECT_EQ(1024, p.max_timers);
	EXPECT_EQ(CLOCK_MONOTONIC, p.clockid);
	EXPECT_EQ(0, p.flags);
	EXPECT_EQ(TIMERRING_RES_NS_DEFAULT, p.resolution_ns);
	EXPECT_TRUE(is_pow2(p.cq_entries));
	if (self->v.max_cq_entries >= TIMERRING_CQ_ENTRIES_DEFAULT)
		EXPECT_EQ(TIMERRING_CQ_ENTRIES_DEFAULT, p.cq_entries);
	EXPECT_NE(0, p.mmap_size);
	EXPECT_EQ(0, p.mmap_offset % getpagesize());
	EXPECT_EQ(0, p.mmap_size % getpagesize());
	EXPECT_GE(p.numa_node, 0);
	EXPECT_EQ(0, p.features & ~(TIMERRING_FEAT_PERIODIC |
				    TIMERRING_FEAT_SLACK |
				    TIMERRING_FEAT_TIMENS |
				    TIMERRING_FEAT_EVENTFD |
				    TIMERRING_FEAT_NODROP |
				    TIMERRING_FEAT_SQ |
				    TIMERRING_FEAT_SHARDS));
	EXPECT_TRUE(p.features & TIMERRING_FEAT_NODROP);
	EXPECT_TRUE(p.features & TIMERRING_FEAT_SHARDS);
	EXPECT_EQ(1, p.shards);
	EXPECT_EQ(0, p.cq_stride % getpagesize());
	EXPECT_TRUE(p.features & TIMERRING_FEAT_PERIODIC);
	EXPECT_TRUE(p.features & TIMERRING_FEAT_EVENTFD);
	EXPECT_EQ(0, p.cq_off.user_addr);
	EXPECT_EQ(0, p.cq_off.resv1);
	EXPECT_EQ(0, p.cq_off.resv2);
	EXPECT_LE((__u64)p.cq_off.cqes + (__u64)p.cq_entries * 16,
		  p.mmap_size);
	EXPECT_EQ(0, p.cq_off.cqes % 16);
	EXPECT_EQ(0, p.resv[0] | p.resv[1] | p.resv[2] | p.resv[3]);

	/* Second setup on the same fd. */
	tr_default_params(&p);
	EXPECT_EQ(-EBUSY, tr_ioctl(self->fd, TIMERRING_IOC_SETUP, &p));
}

TEST_F(dev, boottime_clock)
{
	struct timerring_params p;

	tr_default_params(&p);
	p.clockid = CLOCK_BOOTTIME;
	ASSERT_EQ(0, tr_ioctl(self->fd, TIMERRING_IOC_SETUP, &p));
	EXPECT_EQ(CLOCK_BOOTTIME, p.clockid);
}

TEST_F(dev, bad_reserved)
{
	struct timerring_params p;
	int i;

	for (i = 0; i < 4; i++) {
		tr_default_params(&p);
		p.resv[i] = 1ULL << (i * 13);
		EXPECT_EQ(-EINVAL, setup_fresh(&p)) TH_LOG("resv[%d]", i);
	}
	/* A failed SETUP changes nothing: the fd can still be set up. */
	tr_default_params(&p);
	p.resv[3] = 1;
	EXPECT_EQ(-EINVAL, tr_ioctl(self->fd, TIMERRING_IOC_SETUP, &p));
	tr_default_params(&p);
	EXPECT_EQ(0, tr_ioctl(self->fd, TIMERRING_IOC_SETUP, &p));
}

TEST_F(dev, bad_flags)
{
	struct timerring_params p;
	int bit;

	for (bit = 1; bit < 32; bit++) {
		if (TIMERRING_SETUP_ALL & (1U << bit))
			continue;
		tr_default_params(&p);
		p.flags = 1U << bit;
		EXPECT_EQ(-EINVAL, setup_fresh(&p)) TH_LOG("flag bit %d", bit);
	}
	tr_default_params(&p);
	p.flags = TIMERRING_SETUP_CLAMP | (1U << 31);
	EXPECT_EQ(-EINVAL, setup_fresh(&p));
	tr_default_params(&p);
	p.flags = TIMERRING_SETUP_ALL;
	EXPECT_EQ(0, setup_fresh(&p));
}

TEST_F(dev, bad_clockid)
{
	static const __u32 bad[] = {
		CLOCK_REALTIME, CLOCK_PROCESS_CPUTIME_ID,
		CLOCK_THREAD_CPUTIME_ID, CLOCK_MONOTONIC_RAW,
		CLOCK_REALTIME_COARSE, CLOCK_MONOTONIC_COARSE,
		CLOCK_REALTIME_ALARM, CLOCK_BOOTTIME_ALARM, CLOCK_TAI,
		64, 0x80000000U, 0xffffffffU,
	};
	struct timerring_params p;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		tr_default_params(&p);
		p.clockid = bad[i];
		EXPECT_EQ(-EINVAL, setup_fresh(&p)) TH_LOG("clockid %u", bad[i]);
	}
	/* Still settable afterwards. */
	tr_default_params(&p);
	p.clockid = CLOCK_REALTIME;
	EXPECT_EQ(-EINVAL, tr_ioctl(self->fd, TIMERRING_IOC_SETUP, &p));
	tr_default_params(&p);
	EXPECT_EQ(0, tr_ioctl(self->fd, TIMERRING_IOC_SETUP, &p));
}

TEST_F(dev, max_timers_limits)
{
	__u32 cap = self->v.max_timers;
	struct timerring_params p;

	tr_default_params(&p);
	p.max_timers = 0;
	EXPECT_EQ(-EINVAL, setup_fresh(&p));

	tr_default_params(&p);
	p.max_timers = 0xffffffffU;
	EXPECT_EQ(-EINVAL, setup_fresh(&p));

	tr_default_params(&p);
	p.max_timers = TIMERRING_MAX_TIMERS_MAX + 1;
	EXPECT_EQ(-EINVAL, setup_fresh(&p));

	tr_default_params(&p);
	p.max_timers = cap + 1;
	EXPECT_EQ(-EINVAL, setup_fresh(&p));

	/* One id. */
	tr_default_params(&p);
	p.max_timers = 1;
	EXPECT_EQ(0, setup_fresh(&p));
	EXPECT_GE(p.max_timers, 1);

	/* Clamped to the cap. */
	tr_default_params(&p);
	p.max_timers = 0xffffffffU;
	p.flags = TIMERRING_SETUP_CLAMP;
	EXPECT_EQ(0, setup_fresh(&p));
	EXPECT_EQ(cap, p.max_timers);
}

TEST_F(dev, cq_entries_limits)
{
	__u32 cap = self->v.max_cq_entries;
	struct timerring_params p;

	/* Rounded up to a power of two and reported. */
	tr_default_params(&p);
	p.cq_entries = 100;
	ASSERT_EQ(0, setup_fresh(&p));
	EXPECT_EQ(128, p.cq_entries);

	tr_default_params(&p);
	p.cq_entries = TIMERRING_CQ_ENTRIES_MIN + 1;
	ASSERT_EQ(0, setup_fresh(&p));
	EXPECT_EQ(TIMERRING_CQ_ENTRIES_MIN * 2, p.cq_entries);

	tr_default_params(&p);
	p.cq_entries = TIMERRING_CQ_ENTRIES_MIN;
	ASSERT_EQ(0, setup_fresh(&p));
	EXPECT_EQ(TIMERRING_CQ_ENTRIES_MIN, p.cq_entries);

	/* Below the minimum: either refused or raised to it. */
	tr_default_params(&p);
	p.cq_entries = 1;
	if (setup_fresh(&p) == 0)
		EXPECT_EQ(TIMERRING_CQ_ENTRIES_MIN, p.cq_entries);

	tr_default_params(&p);
	p.cq_entries = cap + 1;
	EXPECT_EQ(-EINVAL, setup_fresh(&p));

	tr_default_params(&p);
	p.cq_entries = 0xffffffffU;
	EXPECT_EQ(-EINVAL, setup_fresh(&p));

	tr_default_params(&p);
	p.cq_entries = cap + 1;
	p.flags = TIMERRING_SETUP_CLAMP;
	EXPECT_EQ(0, setup_fresh(&p));
	EXPECT_EQ(cap, p.cq_entries);

	tr_default_params(&p);
	p.cq_entries = 0xffffffffU;
	p.flags = TIMERRING_SETUP_CLAMP;
	EXPECT_EQ(0, setup_fresh(&p));
	EXPECT_EQ(cap, p.cq_entries);
}

TEST_F(dev, resolution_limits)
{
	static const __u64 bad[] = {
		1, TIMERRING_RES_NS_MIN - 1, TIMERRING_RES_NS_MAX + 1,
		~0ULL, 1ULL << 63,
	};
	static const __u64 good[] = {
		TIMERRING_RES_NS_MIN, 10000, TIMERRING_RES_NS_DEFAULT,
		TIMERRING_RES_NS_MAX,
	};
	struct timerring_params p;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		tr_default_params(&p);
		p.resolution_ns = bad[i];
		EXPECT_EQ(-EINVAL, setup_fresh(&p))
			TH_LOG("resolution %llu", (unsigned long long)bad[i]);
		/* CLAMP is about cq_entries and max_timers only. */
		p.flags = TIMERRING_SETUP_CLAMP;
		EXPECT_EQ(-EINVAL, setup_fresh(&p))
			TH_LOG("resolution %llu + CLAMP",
			       (unsigned long long)bad[i]);
	}
	for (i = 0; i < ARRAY_SIZE(good); i++) {
		tr_default_params(&p);
		p.resolution_ns = good[i];
		EXPECT_EQ(0, setup_fresh(&p))
			TH_LOG("resolution %llu", (unsigned long long)good[i]);
		/* The actual tick: in range, and within 2x of the request. */
		EXPECT_GE(p.resolution_ns, TIMERRING_RES_NS_MIN);
		EXPECT_LE(p.resolution_ns, TIMERRING_RES_NS_MAX);
		EXPECT_LE(p.resolution_ns, good[i] * 2);
		EXPECT_GE(p.resolution_ns * 2, good[i]);
	}
	tr_default_params(&p);
	p.resolution_ns = 0;
	EXPECT_EQ(0, setup_fresh(&p));
	EXPECT_EQ(TIMERRING_RES_NS_DEFAULT, p.resolution_ns);
}

TEST_F(dev, numa_node)
{
	struct timerring_params p;

	tr_default_params(&p);
	p.numa_node = 0;
	EXPECT_EQ(0, setup_fresh(&p));
	EXPECT_EQ(0, p.numa_node);

	tr_default_params(&p);
	p.numa_node = 1 << 20;
	EXPECT_EQ(-EINVAL, setup_fresh(&p));

	tr_default_params(&p);
	p.numa_node = -2;
	EXPECT_EQ(-EINVAL, setup_fresh(&p));
}

#define BIG_EXTRA	64

struct big_params {
	struct timerring_params p;
	unsigned char tail[BIG_EXTRA];
};

#define TIMERRING_IOC_SETUP_SZ(sz) \
	_IOC(_IOC_READ | _IOC_WRITE, TIMERRING_IOC_MAGIC, 1, (sz))

TEST_F(dev, bigger_struct)
{
	struct big_params b;
	int i;

	/* Non-zero bytes the kernel does not know: E2BIG. */
	for (i = 0; i < BIG_EXTRA; i += 21) {
		memset(&b, 0, sizeof(b));
		tr_default_params(&b.p);
		b.tail[i] = 0x5a;
		EXPECT_EQ(-E2BIG, tr_ioctl(self->fd,
					   TIMERRING_IOC_SETUP_SZ(sizeof(b)),
					   &b)) TH_LOG("tail byte %d", i);
	}
	/* Zero tail: accepted; the tail is not written. */
	memset(&b, 0, sizeof(b));
	tr_default_params(&b.p);
	ASSERT_EQ(0, tr_ioctl(self->fd, TIMERRING_IOC_SETUP_SZ(sizeof(b)), &b));
	EXPECT_NE(0, b.p.mmap_size);
	EXPECT_EQ(1024, b.p.max_timers);
	for (i = 0; i < BIG_EXTRA; i++)
		EXPECT_EQ(0, b.tail[i]);
}

TEST_F(dev, smaller_struct)
{
	const size_t sz = offsetof(struct timerring_params, resv);
	const size_t ver0 = TIMERRING_PARAMS_SIZE_VER0;
	struct timerring_params p, copy;
	struct timerring_submit s;
	struct timerring_op op;
	__s32 res = -1;

	/*
	 * A struct smaller than TIMERRING_PARAMS_SIZE_VER0 (here one without
	 * resv[]) is refused with EINVAL, and nothing is written back.
	 */
	memset(&p, 0xa5, sizeof(p));
	memset(&p, 0, sz);
	p.max_timers = 512;
	p.clockid = CLOCK_MONOTONIC;
	p.numa_node = TIMERRING_NODE_CURRENT;
	copy = p;
	EXPECT_EQ(-EINVAL, tr_ioctl(self->fd, TIMERRING_IOC_SETUP_SZ(sz), &p));
	EXPECT_EQ(0, memcmp(&p, &copy, sizeof(p)));
	EXPECT_EQ(-EINVAL, tr_ioctl(self->fd, TIMERRING_IOC_SETUP_SZ(ver0 - 1),
				    &p));

	/* The fd is still not set up: the VER0 size works. */
	tr_default_params(&p);
	p.max_timers = 512;
	ASSERT_EQ(0, tr_ioctl(self->fd, TIMERRING_IOC_SETUP_SZ(ver0), &p));
	EXPECT_EQ(512, p.max_timers);
	EXPECT_NE(0, p.mmap_size);
	EXPECT_TRUE(is_pow2(p.cq_entries));

	/* And the instance works. */
	timerring_op_arm(&op, 3, NSEC_PER_SEC * 3600, 0, 0, 0);
	EXPECT_EQ(0, tr_raw_submit(self->fd, &s, &op, &res, 1, 0));
	EXPECT_EQ(1, s.done);
	EXPECT_GE(res, 0);
}

TEST_F(dev, ops_before_setup)
{
	struct timerring_submit s;
	struct timerring_wait w;
	struct timerring_op op;
	struct timerring_params p;
	__s32 res = 12345;
	void *ptr;

	timerring_op_arm(&op, 0, NSEC_PER_MSEC, 0, 0, 0);
	EXPECT_EQ(-EINVAL, tr_raw_submit(self->fd, &s, &op, &res, 1, 0));
	EXPECT_EQ(12345, res);

	memset(&w, 0, sizeof(w));
	EXPECT_EQ(-EINVAL, tr_ioctl(self->fd, TIMERRING_IOC_WAIT, &w));
	w.min_complete = 1;
	w.timeout_ns = 1000;
	EXPECT_EQ(-EINVAL, tr_ioctl(self->fd, TIMERRING_IOC_WAIT, &w));

	ptr = mmap(NULL, getpagesize(), PROT_READ | PROT_WRITE, MAP_SHARED,
		   self->fd, 0);
	EXPECT_EQ(MAP_FAILED, ptr);
	EXPECT_EQ(EINVAL, errno);
	if (ptr != MAP_FAILED)
		munmap(ptr, getpagesize());

	/* VERSION still works; and a valid SETUP still does. */
	EXPECT_EQ(0, tr_ioctl(self->fd, TIMERRING_IOC_VERSION, &self->v));
	tr_default_params(&p);
	ASSERT_EQ(0, tr_ioctl(self->fd, TIMERRING_IOC_SETUP, &p));
	res = -1;
	EXPECT_EQ(0, tr_raw_submit(self->fd, &s, &op, &res, 1, 0));
	EXPECT_GE(res, 0);
}

TEST_F(dev, bad_setup_pointer)
{
	struct timerring_params p;

	EXPECT_EQ(-EFAULT, tr_ioctl(self->fd, TIMERRING_IOC_SETUP, NULL));
	EXPECT_EQ(-EFAULT, tr_ioctl(self->fd, TIMERRING_IOC_SETUP,
				    (void *)16));
	tr_default_params(&p);
	EXPECT_EQ(0, tr_ioctl(self->fd, TIMERRING_IOC_SETUP, &p));
}

TEST(lib_open_defaults)
{
	struct timerring tr;

	TR_OPEN_OR_SKIP(&tr, NULL);
	EXPECT_EQ(TIMERRING_LIB_DEFAULT_MAX_TIMERS, tr.params.max_timers);
	EXPECT_EQ(CLOCK_MONOTONIC, tr.params.clockid);
	EXPECT_NE(NULL, tr.ring_ptr);
	EXPECT_EQ(tr.params.cq_entries, tr.cq.ring_entries);
	EXPECT_EQ(tr.params.cq_entries - 1, tr.cq.ring_mask);
	EXPECT_EQ(tr.cq.ring_entries, *tr.cq.kring_entries);
	EXPECT_EQ(tr.cq.ring_mask, *tr.cq.kring_mask);
	EXPECT_EQ(0, *tr.cq.khead);
	EXPECT_EQ(0, *tr.cq.ktail);
	EXPECT_EQ(0, *tr.cq.koverflow);
	EXPECT_EQ(0, *tr.cq.kflags);
	EXPECT_EQ(0, *tr.cq.uflags);
	EXPECT_EQ(0, *tr.cq.koverflow_pending);
	EXPECT_EQ(0, timerring_cq_ready(&tr));
	EXPECT_EQ(NULL, timerring_peek_cqe(&tr));
	EXPECT_FALSE(timerring_cq_overflow_pending(&tr));
	timerring_close(&tr);
	EXPECT_EQ(-1, tr.fd);
}

TEST_HARNESS_MAIN
