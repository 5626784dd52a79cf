// SPDX-License-Identifier: GPL-2.0
/*
 * timerring: the mmap()ed completion ring: mapping rules, robustness
 * against userspace scribbling, the overflow list and liburing
 * compatibility.
 */
#include <stdlib.h>
#include "kselftest_harness.h"
#include "common.h"
#include "timerring_liburing.h"

#define HOUR_NS		(3600 * NSEC_PER_SEC)
#define NR_OVF		640
#define CQ_SMALL	64

FIXTURE(ring) {
	struct timerring tr;
	__u64 res_ns;
};

FIXTURE_SETUP(ring)
{
	struct timerring_params p;

	tr_default_params(&p);
	p.cq_entries = CQ_SMALL;
	p.max_timers = 1024;
	TR_OPEN_OR_SKIP(&self->tr, &p);
	ASSERT_EQ(CQ_SMALL, self->tr.params.cq_entries);
	self->res_ns = self->tr.params.resolution_ns;
}

FIXTURE_TEARDOWN(ring)
{
	if (self->tr.fd >= 0)
		timerring_close(&self->tr);
}

/*
 * Arm ids [first, first + n) with distinct, increasing absolute expiries
 * @gap_ticks ticks apart, all in the past: they fire at once, in id order.
 */
static int arm_past_ordered(struct timerring *tr, unsigned int first,
			    unsigned int n, unsigned int gap_ticks)
{
	__u64 gap = gap_ticks * tr->params.resolution_ns;
	__u64 base = timerring_now(tr) - (n + 2) * gap - NSEC_PER_SEC;
	struct timerring_op *ops = calloc(n, sizeof(*ops));
	unsigned int i, failed = 0;
	int ret;

	if (!ops)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		timerring_op_arm(&ops[i], first + i, base + i * gap,
				 TIMERRING_OPF_ABS, 0x1000 + first + i, 0);
	ret = timerring_submit(tr, ops, n, NULL, 0, NULL, &failed);
	free(ops);
	if (ret >= 0 && (ret != (int)n || failed))
		ret = -EPROTO;
	return ret < 0 ? ret : 0;
}

TEST_F(ring, mmap_rules)
{
	struct timerring *tr = &self->tr;
	long pg = getpagesize();
	size_t sz = tr->params.mmap_size;
	off_t off = tr->params.mmap_offset;
	void *p, *q;

	/* Wrong offsets. */
	p = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED, tr->fd,
		 off + pg);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EINVAL, errno);
	if (off) {
		p = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED,
			 tr->fd, 0);
		EXPECT_EQ(MAP_FAILED, p);
		EXPECT_EQ(EINVAL, errno);
	}
	p = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED, tr->fd,
		 off + (1L << 40));
	EXPECT_EQ(MAP_FAILED, p);

	/* Larger than mmap_size. */
	p = mmap(NULL, sz + pg, PROT_READ | PROT_WRITE, MAP_SHARED, tr->fd,
		 off);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EINVAL, errno);

	/* A second, correct mapping shares the ring. */
	p = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED, tr->fd, off);
	ASSERT_NE(MAP_FAILED, p);

	/* Growing it by mremap() fails, in place or moving. */
	q = mremap(p, sz, sz + pg, 0);
	EXPECT_EQ(MAP_FAILED, q);
	q = mremap(p, sz, sz + pg, MREMAP_MAYMOVE);
	EXPECT_EQ(MAP_FAILED, q);
	if (q != MAP_FAILED)
		p = q;

	ASSERT_GE(tr_arm(tr, 1, 0, 0, 1, 0), 0);
	ASSERT_EQ(1, timerring_wait(tr, 1, WAIT_LONG_NS));
	EXPECT_EQ(1, *(unsigned int *)((char *)p + tr->params.cq_off.tail));
	EXPECT_EQ(1, ((struct io_uring_cqe *)((char *)p +
		      tr->params.cq_off.cqes))[0].res);
	munmap(p, sz);
	EXPECT_EQ(1, tr_reap(tr, NULL, 8));
}

TEST_F(ring, mapping_outlives_fd)
{
	struct timerring *tr = &self->tr;
	unsigned int tail;

	ASSERT_GE(tr_arm(tr, 2, 0, 0, 2, 0), 0);
	ASSERT_GE(tr_arm(tr, 3, HOUR_NS, 0, 3, 0), 0);
	ASSERT_EQ(1, timerring_wait(tr, 1, WAIT_LONG_NS));
	close(tr->fd);
	tr->fd = -1;
	/* The instance lives on while mapped; reading is fine. */
	tail = timerring_load_acquire(tr->cq.ktail);
	EXPECT_EQ(1, tail);
	EXPECT_EQ(2, tr->cq.cqes[0].res);
	*tr->cq.khead = tail;
	munmap(tr->ring_ptr, tr->ring_sz);
	tr->ring_ptr = NULL;
}

TEST_F(ring, kernel_uses_own_mask)
{
	struct timerring *tr = &self->tr;
	unsigned int i, head, round;

	/* A bogus shared mask/size: the kernel must index with its own. */
	*tr->cq.kring_mask = 0;
	*tr->cq.kring_entries = 1;
	ASSERT_EQ(0, arm_past_ordered(tr, 0, 10, 2));
	ASSERT_LE(10, timerring_wait(tr, 10, WAIT_LONG_NS));
	head = *tr->cq.khead;
	for (i = 0; i < 10; i++)
		EXPECT_EQ(i, tr->cq.cqes[(head + i) & tr->cq.ring_mask].res);
	timerring_cq_advance(tr, 10);

	/* A huge mask: writes must stay inside the ring, several laps. */
	*tr->cq.kring_mask = 0xffffffffU;
	*tr->cq.kring_entries = 0x7fffffffU;
	for (round = 0; round < 5; round++) {
		struct io_uring_cqe cqe[50];

		ASSERT_EQ(0, arm_past_ordered(tr, 100, 50, 2));
		ASSERT_EQ(50, tr_collect(tr, cqe, 50, WAIT_LONG_NS));
		for (i = 0; i < 50; i++)
			EXPECT_EQ(100 + i, cqe[i].res);
	}
	EXPECT_EQ(10 + 5 * 50, *tr->cq.ktail);

	/* A bogus shared tail is overwritten by the next publication. */
	head = *tr->cq.khead;
	*tr->cq.ktail = head + 12345;
	ASSERT_EQ(0, arm_past_ordered(tr, 200, 5, 2));
	ASSERT_LE(5, timerring_wait(tr, 5, WAIT_LONG_NS));
	sleep_ns(10 * NSEC_PER_MSEC);
	EXPECT_EQ(head + 5, timerring_load_acquire(tr->cq.ktail));
	for (i = 0; i < 5; i++)
		EXPECT_EQ(200 + i, tr->cq.cqes[(head + i) & tr->cq.ring_mask].res);
	timerring_cq_advance(tr, 5);
}

TEST_F(ring, scribbled_head)
{
	struct timerring *tr = &self->tr;
	unsigned int tail, n, i, seen;
	struct io_uring_cqe cqe[64];
	bool found[5] = { };
	int ret;

	/* The consumer index far ahead of the tail (ring "over-consumed"). */
	tail = *tr->cq.ktail;
	*tr->cq.khead = tail + 0x40000000U;
	*tr->cq.koverflow = 77;
	*tr->cq.koverflow_pending = 999;
	*tr->cq.kflags = 0xffffffffU;
	ASSERT_EQ(0, arm_past_ordered(tr, 0, 100, 1));
	sleep_ns(20 * NSEC_PER_MSEC);
	/* Must not hang or crash. */
	ret = timerring_wait(tr, 0, 0);
	EXPECT_TRUE(ret >= 0 || ret == -ETIME) TH_LOG("wait %d", ret);
	ret = timerring_wait(tr, 1, 10 * NSEC_PER_MSEC);
	EXPECT_TRUE(ret >= 0 || ret == -ETIME) TH_LOG("wait %d", ret);

	/* Behind the tail by more than the ring ("over-full"). */
	*tr->cq.khead = *tr->cq.ktail - 1000;
	ret = timerring_wait(tr, 0, 0);
	EXPECT_TRUE(ret >= 0 || ret == -ETIME) TH_LOG("wait %d", ret);
	ret = timerring_wait(tr, 1, 10 * NSEC_PER_MSEC);
	EXPECT_TRUE(ret >= 0 || ret == -ETIME) TH_LOG("wait %d", ret);

	/* Repaired: new expirations are delivered again. */
	*tr->cq.khead = timerring_load_acquire(tr->cq.ktail);
	ASSERT_LE(0, tr_cancel_all(tr));
	for (i = 0; i < 5; i++)
		ASSERT_GE(tr_arm(tr, 500 + i, 0, 0, 0, 0), 0);
	seen = 0;
	for (n = 0; n < 20 && seen < 5; n++) {
		unsigned int got = tr_collect(tr, cqe, 64, 50 * NSEC_PER_MSEC);

		for (i = 0; i < got; i++) {
			__u32 id = timerring_cqe_id(&cqe[i]);

			if (id >= 500 && id < 505) {
				EXPECT_FALSE(found[id - 500]);
				found[id - 500] = true;
				seen++;
			} else {
				EXPECT_LT(id, 100);
			}
		}
	}
	EXPECT_EQ(5, seen);
}

static void check_drain_ordered(struct __test_metadata *_metadata,
				struct timerring *tr, unsigned int n,
				const bool *skip)
{
	unsigned int got = 0, i, expect_next = 0, total = n;
	uint64_t end = now_ns(CLOCK_MONOTONIC) + 4 * WAIT_LONG_NS;
	unsigned char *count = calloc(n, 1);
	bool saw_flag = false;

	ASSERT_NE(NULL, count);
	for (i = 0; skip && i < n; i++)
		total -= skip[i];
	while (now_ns(CLOCK_MONOTONIC) < end) {
		struct io_uring_cqe *cqe;
		unsigned int head, seen = 0;
		bool pending = timerring_cq_overflow_pending(tr);

		if (pending)
			saw_flag = true;
		timerring_for_each_cqe(tr, head, cqe) {
			__u32 id = timerring_cqe_id(cqe);

			seen++;
			ASSERT_LT(id, n);
			ASSERT_EQ(0x1000 + id, cqe->user_data);
			count[id]++;
			while (expect_next < n && skip && skip[expect_next])
				expect_next++;
			EXPECT_EQ(expect_next, id) TH_LOG("position %u", got);
			expect_next = id + 1;
			got++;
		}
		timerring_cq_advance(tr, seen);
		if (got >= total && !pending && timerring_cq_ready(tr) == 0)
			break;
		/* Flush the overflow list into the freed space. */
		if (timerring_wait(tr, 0, 0) == 0 && !seen)
			timerring_wait(tr, 1, 20 * NSEC_PER_MSEC);
	}
	EXPECT_TRUE(saw_flag);
	for (i = 0; i < n; i++)
		EXPECT_EQ(skip && skip[i] ? 0 : 1, count[i]) TH_LOG("id %u", i);
	EXPECT_FALSE(timerring_cq_overflow_pending(tr));
	EXPECT_EQ(0, *tr->cq.koverflow_pending);
	EXPECT_EQ(0, *tr->cq.koverflow);
	free(count);
}

TEST_F(ring, overflow_in_order)
{
	struct timerring *tr = &self->tr;
	struct timerring_stats st;

	ASSERT_EQ(0, arm_past_ordered(tr, 0, NR_OVF, 3));
	ASSERT_LE(CQ_SMALL, timerring_wait(tr, CQ_SMALL, WAIT_LONG_NS));
	/* Let every expiration happen without consuming anything. */
	sleep_ns(20 * self->res_ns + 20 * NSEC_PER_MSEC);
	EXPECT_EQ(CQ_SMALL, timerring_cq_ready(tr));
	EXPECT_TRUE(timerring_cq_overflow_pending(tr));
	EXPECT_EQ(NR_OVF - CQ_SMALL, *tr->cq.koverflow_pending);
	ASSERT_EQ(0, timerring_stats(tr, &st));
	EXPECT_EQ(NR_OVF - CQ_SMALL, st.overflow_now);
	EXPECT_EQ(CQ_SMALL, st.expired_total);

	check_drain_ordered(_metadata, tr, NR_OVF, NULL);

	ASSERT_EQ(0, timerring_stats(tr, &st));
	EXPECT_EQ(0, st.overflow_now);
	EXPECT_EQ(NR_OVF, st.expired_total);
	EXPECT_GE(st.overflowed_total, NR_OVF - CQ_SMALL);
	EXPECT_EQ(0, st.dropped_total);
	EXPECT_EQ(0, st.armed_now);
}

TEST_F(ring, overflow_same_expiry)
{
	struct timerring *tr = &self->tr;
	struct timerring_op *ops = calloc(NR_OVF, sizeof(*ops));
	unsigned char count[NR_OVF] = { };
	struct io_uring_cqe *cqe = calloc(NR_OVF + 1, sizeof(*cqe));
	__u64 when = timerring_now(tr) + 20 * NSEC_PER_MSEC;
	struct timerring_stats st;
	unsigned int i, got;

	ASSERT_NE(NULL, ops);
	ASSERT_NE(NULL, cqe);
	for (i = 0; i < NR_OVF; i++)
		timerring_op_arm(&ops[i], i, when, TIMERRING_OPF_ABS, i, 0);
	ASSERT_EQ(NR_OVF, timerring_submit(tr, ops, NR_OVF, NULL, 0, NULL,
					   NULL));
	/*
	 * The ring fills and, with nothing consumed, every other one goes
	 * to the overflow list: at once, or in the work items that go on
	 * with an expiry pass cut short by its time bound.
	 */
	ASSERT_EQ(CQ_SMALL, timerring_wait(tr, CQ_SMALL, WAIT_LONG_NS));
	for (i = 0; i < 200; i++) {
		ASSERT_EQ(0, timerring_stats(tr, &st));
		if (st.overflow_now >= NR_OVF - CQ_SMALL)
			break;
		sleep_ns(10 * NSEC_PER_MSEC);
	}
	EXPECT_EQ(NR_OVF - CQ_SMALL, st.overflow_now);
	EXPECT_EQ(NR_OVF - CQ_SMALL, st.overflowed_total);
	EXPECT_EQ(CQ_SMALL, st.expired_total);
	EXPECT_TRUE(timerring_cq_overflow_pending(tr));
	EXPECT_EQ(NR_OVF - CQ_SMALL, *tr->cq.koverflow_pending);
	got = tr_collect(tr, cqe, NR_OVF, 4 * WAIT_LONG_NS);
	EXPECT_EQ(NR_OVF, got);
	ASSERT_EQ(0, timerring_stats(tr, &st));
	EXPECT_EQ(NR_OVF - CQ_SMALL, st.overflowed_total);
	EXPECT_EQ(NR_OVF, st.expired_total);
	for (i = 0; i < got; i++) {
		ASSERT_LT(cqe[i].res, NR_OVF);
		EXPECT_EQ(cqe[i].res, cqe[i].user_data);
		count[cqe[i].res]++;
	}
	for (i = 0; i < NR_OVF; i++)
		EXPECT_EQ(1, count[i]) TH_LOG("id %u", i);
	/* Nothing more. */
	EXPECT_EQ(0, tr_settle(tr, 5 * self->res_ns));
	EXPECT_FALSE(timerring_cq_overflow_pending(tr));
	free(ops);
	free(cqe);
}

TEST_F(ring, ops_on_overflowed_ids)
{
	struct timerring *tr = &self->tr;
	bool skip[NR_OVF] = { };
	__s32 r;

	ASSERT_EQ(0, arm_past_ordered(tr, 0, NR_OVF, 3));
	ASSERT_LE(CQ_SMALL, timerring_wait(tr, CQ_SMALL, WAIT_LONG_NS));
	sleep_ns(20 * self->res_ns + 20 * NSEC_PER_MSEC);
	ASSERT_TRUE(timerring_cq_overflow_pending(tr));

	/* Ids whose expiration waits for ring space. */
	EXPECT_EQ(0, tr_cancel(tr, NR_OVF - 1));
	skip[NR_OVF - 1] = true;
	r = tr_modify(tr, NR_OVF - 2, HOUR_NS, 0, 0x1000 + NR_OVF - 2, 0);
	EXPECT_GE(r, 0);
	EXPECT_TRUE(r & TIMERRING_RES_REARMED);
	skip[NR_OVF - 2] = true;
	EXPECT_EQ(-EEXIST, tr_arm(tr, NR_OVF - 3, 0, 0, 0, 0));
	/* Cancelled twice: the second finds nothing. */
	EXPECT_EQ(0, tr_cancel(tr, NR_OVF - 4));
	EXPECT_EQ(-ENOENT, tr_cancel(tr, NR_OVF - 4));
	skip[NR_OVF - 4] = true;
	EXPECT_EQ(NR_OVF - CQ_SMALL - 3, *tr->cq.koverflow_pending);

	check_drain_ordered(_metadata, tr, NR_OVF, skip);
	/* The re-armed one is still armed, the delivered ones are not. */
	EXPECT_EQ(0, tr_cancel(tr, NR_OVF - 2));
	EXPECT_EQ(-ENOENT, tr_cancel(tr, NR_OVF - 3));
	EXPECT_EQ(0, tr_cancel_all(tr));
}

TEST_F(ring, cancel_all_withdraws_overflow)
{
	struct timerring *tr = &self->tr;
	struct io_uring_cqe cqe[CQ_SMALL];
	unsigned int i;

	ASSERT_EQ(0, arm_past_ordered(tr, 0, NR_OVF, 1));
	ASSERT_GE(tr_arm(tr, 1000, HOUR_NS, 0, 0, 0), 0);
	ASSERT_LE(CQ_SMALL, timerring_wait(tr, CQ_SMALL, WAIT_LONG_NS));
	ASSERT_TRUE(timerring_cq_overflow_pending(tr));
	/* The waiting expirations and the armed timer. */
	EXPECT_EQ(NR_OVF - CQ_SMALL + 1, tr_cancel_all(tr));
	EXPECT_FALSE(timerring_cq_overflow_pending(tr));
	EXPECT_EQ(0, *tr->cq.koverflow_pending);
	/* The posted ones stay; nothing follows them. */
	ASSERT_EQ(CQ_SMALL, tr_reap(tr, cqe, CQ_SMALL));
	for (i = 0; i < CQ_SMALL; i++)
		EXPECT_EQ(i, cqe[i].res);
	EXPECT_EQ(0, tr_settle(tr, 5 * self->res_ns));
	for (i = 0; i < NR_OVF; i++)
		EXPECT_EQ(-ENOENT, tr_cancel(tr, i));
}

TEST_F(ring, liburing_compat)
{
	struct timerring *tr = &self->tr;
	struct io_uring ring;
	struct io_uring_cqe *cqe;
	unsigned int head, n, i;
	int ret;

	timerring_fill_io_uring_cq(tr, &ring);
	EXPECT_EQ(0, io_uring_cq_ready(&ring));
	EXPECT_EQ(-EAGAIN, io_uring_peek_cqe(&ring, &cqe));

	/*
	 * user_data -1 is LIBURING_UDATA_TIMEOUT: must not be filtered. Due
	 * long ago, so that it comes before the nine that follow.
	 */
	ASSERT_GE(tr_arm(tr, 0, 1, TIMERRING_OPF_ABS, ~0ULL, 0), 0);
	ASSERT_EQ(0, arm_past_ordered(tr, 1, 9, 2));
	ASSERT_LE(10, timerring_wait(tr, 10, WAIT_LONG_NS));
	EXPECT_EQ(10, io_uring_cq_ready(&ring));

	ret = io_uring_peek_cqe(&ring, &cqe);
	ASSERT_EQ(0, ret);
	EXPECT_EQ(0, cqe->res);
	EXPECT_EQ(~0ULL, cqe->user_data);
	io_uring_cqe_seen(&ring, cqe);
	EXPECT_EQ(9, io_uring_cq_ready(&ring));
	EXPECT_EQ(9, timerring_cq_ready(tr));

	n = 0;
	io_uring_for_each_cqe(&ring, head, cqe) {
		EXPECT_EQ(1 + n, cqe->res);
		EXPECT_EQ(0x1000 + 1 + n, cqe->user_data);
		n++;
	}
	EXPECT_EQ(9, n);
	io_uring_cq_advance(&ring, n);
	EXPECT_EQ(0, io_uring_cq_ready(&ring));

	/* Several laps of the 64-entry ring through liburing only. */
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(0, arm_past_ordered(tr, 100, 50, 1));
		n = 0;
		while (n < 50) {
			ret = io_uring_peek_cqe(&ring, &cqe);
			if (ret == -EAGAIN) {
				ASSERT_LE(0, timerring_wait(tr, 1, WAIT_LONG_NS));
				continue;
			}
			ASSERT_EQ(0, ret);
			EXPECT_EQ(100 + n, cqe->res);
			io_uring_cqe_seen(&ring, cqe);
			n++;
		}
	}
	EXPECT_EQ(10 + 150, *ring.cq.khead);

	/* The eventfd toggle writes the word timerring reads. */
	EXPECT_TRUE(io_uring_cq_eventfd_enabled(&ring));
	ASSERT_EQ(0, io_uring_cq_eventfd_toggle(&ring, false));
	EXPECT_EQ(TIMERRING_CQ_F_EVENTFD_DISABLED, *tr->cq.uflags);
	ASSERT_EQ(0, io_uring_cq_eventfd_toggle(&ring, true));
	EXPECT_EQ(0, *tr->cq.uflags);
}

TEST_HARNESS_MAIN
