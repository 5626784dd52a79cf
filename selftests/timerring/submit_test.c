// SPDX-License-Identifier: GPL-2.0
/*
 * timerring: TIMERRING_IOC_SUBMIT, per-op checking and op semantics.
 */
#include <limits.h>
#include <sched.h>
#include <stdlib.h>
#include "kselftest_harness.h"
#include "common.h"

#define HOUR_NS		(3600 * NSEC_PER_SEC)
#define MAXT		1024

FIXTURE(tr) {
	struct timerring tr;
	__u64 res_ns;
};

FIXTURE_SETUP(tr)
{
	struct timerring_params p;

	tr_default_params(&p);
	p.max_timers = MAXT;
	TR_OPEN_OR_SKIP(&self->tr, &p);
	ASSERT_EQ(MAXT, self->tr.params.max_timers);
	self->res_ns = self->tr.params.resolution_ns;
}

FIXTURE_TEARDOWN(tr)
{
	if (self->tr.fd >= 0)
		timerring_close(&self->tr);
}

TEST_F(tr, bad_ids)
{
	static const __u32 ids[] = { MAXT, MAXT + 1, 1U << 30, INT_MAX,
				     UINT_MAX };
	struct timerring_op ops[5 * 3 + 1];
	__s32 res[5 * 3 + 1];
	unsigned int i, n = 0, done = 0, failed = 0;

	for (i = 0; i < 5; i++) {
		timerring_op_arm(&ops[n++], ids[i], HOUR_NS, 0, 0, 0);
		timerring_op_modify(&ops[n++], ids[i], HOUR_NS, 0, 0, 0);
		timerring_op_cancel(&ops[n++], ids[i]);
	}
	/* The last valid id works. */
	timerring_op_arm(&ops[n++], MAXT - 1, HOUR_NS, 0, 0, 0);
	memset(res, 0x55, sizeof(res));
	ASSERT_EQ(n, timerring_submit(&self->tr, ops, n, res, 0, &done,
				      &failed));
	EXPECT_EQ(n, done);
	EXPECT_EQ(n - 1, failed);
	for (i = 0; i < n - 1; i++)
		EXPECT_EQ(-ERANGE, res[i]) TH_LOG("op %u id %u", i, ops[i].id);
	EXPECT_GE(res[n - 1], 0);
	EXPECT_EQ(0, tr_cancel(&self->tr, MAXT - 1));
}

TEST_F(tr, bad_ops_mixed_with_good)
{
	struct timerring_op ops[32];
	__s32 res[32];
	unsigned int n = 0, i, done, failed, nbad;
	int expect[32];

#define GOOD(stmt) do { stmt; expect[n++] = 1; } while (0)
#define BAD(stmt) do { stmt; expect[n++] = -EINVAL; } while (0)
	GOOD(timerring_op_arm(&ops[n], 1, HOUR_NS, 0, 101, 0));
	BAD(timerring_op_prep(&ops[n], TIMERRING_OP_LAST, 2, HOUR_NS, 0, 0, 0));
	BAD(timerring_op_prep(&ops[n], 0xff, 2, HOUR_NS, 0, 0, 0));
	BAD(timerring_op_arm(&ops[n], 2, HOUR_NS, 1U << 2, 0, 0));
	BAD(timerring_op_arm(&ops[n], 2, HOUR_NS, 0x80, 0, 0));
	BAD(timerring_op_modify(&ops[n], 2, HOUR_NS, 0x40, 0, 0));
	BAD({ timerring_op_arm(&ops[n], 2, HOUR_NS, 0, 0, 0);
	      ops[n].resv = 1; });
	BAD({ timerring_op_cancel(&ops[n], 1); ops[n].resv = 0x8000; });
	/* Periodic with an interval below the tick. */
	BAD(timerring_op_arm(&ops[n], 2, HOUR_NS, 0, 0, 1));
	BAD(timerring_op_arm(&ops[n], 2, HOUR_NS, 0, 0, self->res_ns - 1));
	BAD(timerring_op_modify(&ops[n], 2, HOUR_NS, 0, 0, self->res_ns - 1));
	GOOD(timerring_op_arm(&ops[n], 3, HOUR_NS, 0, 103, 0));
	/* CANCEL with anything but an id. */
	BAD({ timerring_op_cancel(&ops[n], 1); ops[n].expiry = 1; });
	BAD({ timerring_op_cancel(&ops[n], 1); ops[n].interval = HOUR_NS; });
	BAD({ timerring_op_cancel(&ops[n], 1);
	      ops[n].flags = TIMERRING_OPF_ABS; });
	BAD({ timerring_op_cancel(&ops[n], 1);
	      ops[n].flags = TIMERRING_OPF_SLACK; });
	/* CANCEL_ALL likewise, and with an id. */
	BAD({ timerring_op_cancel_all(&ops[n]); ops[n].id = 1; });
	BAD({ timerring_op_cancel_all(&ops[n]); ops[n].expiry = 5; });
	BAD({ timerring_op_cancel_all(&ops[n]); ops[n].interval = HOUR_NS; });
	BAD({ timerring_op_cancel_all(&ops[n]);
	      ops[n].flags = TIMERRING_OPF_ABS; });
	/* Periodic at exactly the tick is fine. */
	GOOD(timerring_op_arm(&ops[n], 4, HOUR_NS, 0, 104, self->res_ns));
#undef GOOD
#undef BAD

	memset(res, 0x55, sizeof(res));
	ASSERT_EQ(n, timerring_submit(&self->tr, ops, n, res, 0, &done,
				      &failed));
	nbad = 0;
	for (i = 0; i < n; i++) {
		if (expect[i] > 0) {
			EXPECT_GE(res[i], 0) TH_LOG("op %u", i);
		} else {
			EXPECT_EQ(expect[i], res[i]) TH_LOG("op %u", i);
			nbad++;
		}
	}
	EXPECT_EQ(n, done);
	EXPECT_EQ(nbad, failed);

	/* Failed ops changed nothing, good ones were applied. */
	EXPECT_EQ(0, tr_cancel(&self->tr, 1));
	EXPECT_EQ(-ENOENT, tr_cancel(&self->tr, 2));
	EXPECT_EQ(0, tr_cancel(&self->tr, 3));
	EXPECT_EQ(0, tr_cancel(&self->tr, 4));
	EXPECT_EQ(0, tr_cancel_all(&self->tr));
	EXPECT_EQ(0, timerring_cq_ready(&self->tr));
}

TEST_F(tr, stop_on_error)
{
	struct timerring_op ops[4];
	__s32 res[4];
	unsigned int done, failed;

	timerring_op_arm(&ops[0], 10, HOUR_NS, 0, 0, 0);
	timerring_op_arm(&ops[1], 10, HOUR_NS, 0, 0, 0);	/* -EEXIST */
	timerring_op_arm(&ops[2], 11, HOUR_NS, 0, 0, 0);
	timerring_op_arm(&ops[3], 12, HOUR_NS, 0, 0, 0);
	ASSERT_EQ(2, timerring_submit(&self->tr, ops, 4, res,
				      TIMERRING_SUBMIT_STOP_ON_ERROR, &done,
				      &failed));
	EXPECT_EQ(2, done);
	EXPECT_EQ(1, failed);
	EXPECT_GE(res[0], 0);
	EXPECT_EQ(-EEXIST, res[1]);
	/* res[2] and res[3] are beyond done: unspecified. */
	EXPECT_EQ(-ENOENT, tr_cancel(&self->tr, 11));
	EXPECT_EQ(-ENOENT, tr_cancel(&self->tr, 12));
	EXPECT_EQ(1, tr_cancel_all(&self->tr));
}

TEST_F(tr, submit_struct_checks)
{
	struct timerring_submit s;
	struct timerring_op op;
	__s32 res;
	struct {
		struct timerring_submit s;
		__u64 extra[2];
	} big;

	timerring_op_arm(&op, 5, HOUR_NS, 0, 0, 0);

	/* nr == 0: nothing done, success. */
	EXPECT_EQ(0, tr_raw_submit(self->tr.fd, &s, &op, &res, 0, 0));
	EXPECT_EQ(0, s.done);
	EXPECT_EQ(0, s.failed);

	/* nr > TIMERRING_BATCH_MAX. */
	EXPECT_EQ(-EINVAL, tr_raw_submit(self->tr.fd, &s, &op, &res,
					 TIMERRING_BATCH_MAX + 1, 0));
	EXPECT_EQ(-EINVAL, tr_raw_submit(self->tr.fd, &s, &op, &res,
					 UINT_MAX, 0));

	/* Unknown submit flags. */
	EXPECT_EQ(-EINVAL, tr_raw_submit(self->tr.fd, &s, &op, &res, 1,
					 1U << 1));
	EXPECT_EQ(-EINVAL, tr_raw_submit(self->tr.fd, &s, &op, &res, 1,
					 1U << 31));

	/* Reserved fields. */
	memset(&s, 0, sizeof(s));
	s.ops = (uintptr_t)&op;
	s.nr = 1;
	s.resv[0] = 1;
	EXPECT_EQ(-EINVAL, tr_ioctl(self->tr.fd, TIMERRING_IOC_SUBMIT, &s));
	s.resv[0] = 0;
	s.resv[1] = 1ULL << 63;
	EXPECT_EQ(-EINVAL, tr_ioctl(self->tr.fd, TIMERRING_IOC_SUBMIT, &s));

	/* NULL or bogus ops pointer. */
	EXPECT_EQ(-EFAULT, tr_raw_submit(self->tr.fd, &s, NULL, &res, 1, 0));
	EXPECT_EQ(-EFAULT, tr_raw_submit(self->tr.fd, &s, (void *)8, &res,
					 1, 0));
	EXPECT_EQ(-EFAULT, tr_ioctl(self->tr.fd, TIMERRING_IOC_SUBMIT, NULL));

	/* Bigger struct: zero tail fine, non-zero tail E2BIG. */
	memset(&big, 0, sizeof(big));
	big.s.ops = (uintptr_t)&op;
	big.s.nr = 1;
	big.extra[1] = 1;
	EXPECT_EQ(-E2BIG, tr_ioctl(self->tr.fd,
				   _IOC(_IOC_READ | _IOC_WRITE,
					TIMERRING_IOC_MAGIC, 2, sizeof(big)),
				   &big));
	/* None of the failures above applied anything. */
	EXPECT_EQ(-ENOENT, tr_cancel(&self->tr, 5));

	big.extra[1] = 0;
	EXPECT_EQ(0, tr_ioctl(self->tr.fd,
			      _IOC(_IOC_READ | _IOC_WRITE,
				   TIMERRING_IOC_MAGIC, 2, sizeof(big)),
			      &big));
	EXPECT_EQ(1, big.s.done);
	EXPECT_EQ(0, big.extra[0] | big.extra[1]);
	EXPECT_EQ(0, tr_cancel(&self->tr, 5));

	/* No results array at all is fine. */
	EXPECT_EQ(0, tr_raw_submit(self->tr.fd, &s, &op, NULL, 1, 0));
	EXPECT_EQ(1, s.done);
	EXPECT_EQ(0, s.failed);
	EXPECT_EQ(0, tr_raw_submit(self->tr.fd, &s, &op, NULL, 1, 0));
	EXPECT_EQ(1, s.done);
	EXPECT_EQ(1, s.failed);
	EXPECT_EQ(0, tr_cancel(&self->tr, 5));
}

/* @bytes of memory (rounded up to pages) followed by an unmapped page. */
static char *map_guarded(size_t bytes, size_t *len)
{
	long pg = getpagesize();
	size_t sz = (bytes + pg - 1) / pg * pg;
	char *p = mmap(NULL, sz + pg, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	munmap(p + sz, pg);
	*len = sz;
	return p;
}

/*
 * Ops [0, done) must be applied and ops [done, nr) not: ids are
 * first + index, each armed for an hour.
 */
static void check_applied(struct __test_metadata *_metadata,
			  struct timerring *tr, __u32 first, unsigned int nr,
			  unsigned int done)
{
	unsigned int i;

	for (i = 0; i < nr; i++)
		EXPECT_EQ(i < done ? 0 : -ENOENT, tr_cancel(tr, first + i))
			TH_LOG("id %u (done %u)", first + i, done);
}

TEST_F(tr, faulting_results)
{
	unsigned int i, k, nr = 600;
	struct timerring_submit s;
	struct timerring_op ops[600];
	size_t len;
	char *mem;
	__s32 *res;
	int ret;

	mem = map_guarded(4096, &len);
	ASSERT_NE(NULL, mem);

	/* Results entirely unmapped: EFAULT, and nothing applied. */
	timerring_op_arm(&ops[0], 5, HOUR_NS, 0, 0, 0);
	EXPECT_EQ(-EFAULT, tr_raw_submit(self->tr.fd, &s, ops,
					 (__s32 *)(mem + len), 1, 0));
	EXPECT_EQ(-EFAULT, tr_raw_submit(self->tr.fd, &s, ops,
					 (__s32 *)8, 1, 0));
	EXPECT_EQ(-ENOENT, tr_cancel(&self->tr, 5));

	/*
	 * Results fault part way, at several positions: the ioctl returns 0
	 * if some ops were processed (else EFAULT), the ops before done are
	 * applied, none after, and done never covers the unwritable part.
	 */
	for (k = 8; k < nr; k += 290) {
		for (i = 0; i < nr; i++)
			timerring_op_arm(&ops[i], 100 + i, HOUR_NS, 0, 0, 0);
		res = (__s32 *)(mem + len) - k;
		ret = tr_raw_submit(self->tr.fd, &s, ops, res, nr, 0);
		TH_LOG("results fault after %u: ret %d done %u", k, ret,
		       s.done);
		if (ret == 0) {
			EXPECT_GT(s.done, 0);
			EXPECT_LE(s.done, k);
			EXPECT_EQ(0, s.failed);
		} else {
			EXPECT_EQ(-EFAULT, ret);
			s.done = 0;
		}
		for (i = 0; i < s.done; i++)
			EXPECT_GE(res[i], 0);
		check_applied(_metadata, &self->tr, 100, nr, s.done);
	}
	munmap(mem, len);
}

TEST_F(tr, faulting_ops)
{
	unsigned int i, k, nr = 600;
	struct timerring_submit s;
	struct timerring_op *ops;
	__s32 res[600];
	size_t len;
	char *mem;
	int ret;

	mem = map_guarded(nr * sizeof(*ops), &len);
	ASSERT_NE(NULL, mem);

	/* Ops entirely unmapped. */
	EXPECT_EQ(-EFAULT, tr_raw_submit(self->tr.fd, &s, mem + len, res, 1,
					 0));

	for (k = 16; k < nr; k += 290) {
		ops = (struct timerring_op *)(mem + len) - k;
		for (i = 0; i < k; i++)
			timerring_op_arm(&ops[i], 100 + i, HOUR_NS, 0, 0, 0);
		ret = tr_raw_submit(self->tr.fd, &s, ops, res, nr, 0);
		TH_LOG("ops fault after %u: ret %d done %u", k, ret, s.done);
		if (ret == 0) {
			EXPECT_GT(s.done, 0);
			EXPECT_LE(s.done, k);
			EXPECT_EQ(0, s.failed);
		} else {
			EXPECT_EQ(-EFAULT, ret);
			s.done = 0;
		}
		check_applied(_metadata, &self->tr, 100, k, s.done);
	}
	munmap(mem, len);
}

TEST_F(tr, arm_modify_cancel_semantics)
{
	__s32 g1, g2, g3, r;

	g1 = tr_arm(&self->tr, 7, HOUR_NS, 0, 1, 0);
	ASSERT_GE(g1, 0);
	EXPECT_EQ(0, g1 & ~TIMERRING_RES_GEN_MASK);
	EXPECT_EQ(-EEXIST, tr_arm(&self->tr, 7, HOUR_NS, 0, 1, 0));

	/* MODIFY of a pending arm: re-arms, next generation. */
	g2 = tr_modify(&self->tr, 7, HOUR_NS, 0, 2, 0);
	ASSERT_GE(g2, 0);
	EXPECT_TRUE(g2 & TIMERRING_RES_REARMED);
	EXPECT_EQ((g1 + 1) & TIMERRING_RES_GEN_MASK, timerring_res_gen(g2));

	EXPECT_EQ(0, tr_cancel(&self->tr, 7));
	EXPECT_EQ(-ENOENT, tr_cancel(&self->tr, 7));

	/* MODIFY of an idle id arms it, no REARMED. */
	g3 = tr_modify(&self->tr, 7, HOUR_NS, 0, 3, 0);
	ASSERT_GE(g3, 0);
	EXPECT_FALSE(g3 & TIMERRING_RES_REARMED);
	EXPECT_EQ((timerring_res_gen(g2) + 1) & TIMERRING_RES_GEN_MASK,
		  timerring_res_gen(g3));
	/* A failed ARM does not bump the generation. */
	EXPECT_EQ(-EEXIST, tr_arm(&self->tr, 7, HOUR_NS, 0, 1, 0));
	EXPECT_EQ(0, tr_cancel(&self->tr, 7));
	r = tr_arm(&self->tr, 7, HOUR_NS, 0, 1, 0);
	EXPECT_EQ((timerring_res_gen(g3) + 1) & TIMERRING_RES_GEN_MASK, r);

	/* Never-armed id. */
	EXPECT_EQ(-ENOENT, tr_cancel(&self->tr, 8));
	EXPECT_EQ(1, tr_cancel_all(&self->tr));
	EXPECT_EQ(0, tr_cancel_all(&self->tr));

	/* None of that produced a CQE. */
	EXPECT_EQ(0, tr_settle(&self->tr, 3 * self->res_ns));
}

TEST_F(tr, generation_per_id)
{
	struct timerring_op ops[2];
	__s32 res[2], prev, other;
	unsigned int i;

	prev = tr_arm(&self->tr, 9, HOUR_NS, 0, 0, 0);
	ASSERT_GE(prev, 0);
	other = tr_arm(&self->tr, 10, HOUR_NS, 0, 0, 0);
	ASSERT_GE(other, 0);
	for (i = 0; i < 300; i++) {
		timerring_op_cancel(&ops[0], 9);
		timerring_op_arm(&ops[1], 9, HOUR_NS, 0, 0, 0);
		ASSERT_EQ(2, timerring_submit(&self->tr, ops, 2, res, 0, NULL,
					      NULL));
		ASSERT_EQ(0, res[0]);
		ASSERT_EQ((prev + 1) & TIMERRING_RES_GEN_MASK, res[1])
			TH_LOG("iteration %u", i);
		prev = res[1];
	}
	/* Another id's generation moved by one only. */
	EXPECT_EQ(0, tr_cancel(&self->tr, 10));
	EXPECT_EQ((other + 1) & TIMERRING_RES_GEN_MASK,
		  tr_arm(&self->tr, 10, HOUR_NS, 0, 0, 0));
	EXPECT_EQ(2, tr_cancel_all(&self->tr));
}

TEST_F(tr, duplicates_in_batch)
{
	struct timerring_op ops[8];
	__s32 res[8];
	unsigned int done, failed;

	timerring_op_arm(&ops[0], 20, 50 * NSEC_PER_MSEC, 0, 20, 0);
	timerring_op_arm(&ops[1], 20, 50 * NSEC_PER_MSEC, 0, 20, 0);
	timerring_op_arm(&ops[2], 21, 50 * NSEC_PER_MSEC, 0, 21, 0);
	timerring_op_cancel(&ops[3], 21);
	timerring_op_cancel(&ops[4], 20);
	timerring_op_modify(&ops[5], 22, 50 * NSEC_PER_MSEC, 0, 22, 0);
	timerring_op_modify(&ops[6], 22, 50 * NSEC_PER_MSEC, 0, 22, 0);
	timerring_op_cancel(&ops[7], 22);
	ASSERT_EQ(8, timerring_submit(&self->tr, ops, 8, res, 0, &done,
				      &failed));
	EXPECT_EQ(1, failed);
	EXPECT_GE(res[0], 0);
	EXPECT_EQ(-EEXIST, res[1]);
	EXPECT_GE(res[2], 0);
	EXPECT_EQ(0, res[3]);
	EXPECT_EQ(0, res[4]);
	EXPECT_GE(res[5], 0);
	EXPECT_FALSE(res[5] & TIMERRING_RES_REARMED);
	EXPECT_TRUE(res[6] & TIMERRING_RES_REARMED);
	EXPECT_EQ((res[5] + 1) & TIMERRING_RES_GEN_MASK,
		  timerring_res_gen(res[6]));
	EXPECT_EQ(0, res[7]);
	/* Everything was cancelled: no CQE ever. */
	EXPECT_EQ(0, tr_settle(&self->tr, 100 * NSEC_PER_MSEC));
}

static void check_immediate(struct __test_metadata *_metadata,
			    struct timerring *tr, __u64 expiry, __u8 flags)
{
	struct io_uring_cqe cqe;
	__s32 gen;

	gen = tr_arm(tr, 30, expiry, flags, 0xdeadbeefcafeULL, 0);
	ASSERT_GE(gen, 0);
	ASSERT_EQ(1, tr_collect(tr, &cqe, 1, WAIT_LONG_NS));
	EXPECT_EQ(30, timerring_cqe_id(&cqe));
	EXPECT_EQ(30, cqe.res);
	EXPECT_EQ(0xdeadbeefcafeULL, cqe.user_data);
	EXPECT_EQ(timerring_res_gen(gen), timerring_cqe_gen(&cqe));
	EXPECT_FALSE(timerring_cqe_is_stale(&cqe, gen));
	EXPECT_FALSE(timerring_cqe_more(&cqe));
	EXPECT_EQ(0, cqe.flags & TIMERRING_CQE_F_PERIODIC);
	EXPECT_EQ(0, timerring_cqe_overruns(&cqe));
	/* Fired once only; the id is idle again. */
	EXPECT_EQ(0, tr_settle(tr, 5 * tr->params.resolution_ns));
	EXPECT_EQ(-ENOENT, tr_cancel(tr, 30));
}

TEST_F(tr, expiry_zero_relative)
{
	check_immediate(_metadata, &self->tr, 0, 0);
}

TEST_F(tr, expiry_past_absolute)
{
	__u64 now = timerring_now(&self->tr);

	check_immediate(_metadata, &self->tr, now - NSEC_PER_SEC,
			TIMERRING_OPF_ABS);
	check_immediate(_metadata, &self->tr, 0, TIMERRING_OPF_ABS);
	check_immediate(_metadata, &self->tr, 1, TIMERRING_OPF_ABS);
	check_immediate(_metadata, &self->tr, now - 1,
			TIMERRING_OPF_ABS | TIMERRING_OPF_SLACK);
	check_immediate(_metadata, &self->tr, 0, TIMERRING_OPF_SLACK);
}

TEST_F(tr, expiry_far_future)
{
	/* Absolute U64_MAX never fires: no wrap. */
	ASSERT_GE(tr_arm(&self->tr, 40, UINT64_MAX, TIMERRING_OPF_ABS, 0, 0),
		  0);
	ASSERT_GE(tr_arm(&self->tr, 41, UINT64_MAX - 1,
			 TIMERRING_OPF_ABS | TIMERRING_OPF_SLACK, 0, 0), 0);
	/* Neither does relative U64_MAX (now + U64_MAX must not wrap). */
	ASSERT_GE(tr_arm(&self->tr, 42, UINT64_MAX, 0, 0, 0), 0);
	ASSERT_GE(tr_arm(&self->tr, 43, UINT64_MAX / 2, 0, 0, 0), 0);
	ASSERT_GE(tr_arm(&self->tr, 44, INT64_MAX, 0, 0, 0), 0);
	ASSERT_GE(tr_arm(&self->tr, 45, UINT64_MAX, TIMERRING_OPF_SLACK, 0,
			 0), 0);
	ASSERT_GE(tr_arm(&self->tr, 46, (__u64)INT64_MAX + 1,
			 TIMERRING_OPF_ABS, 0, 0), 0);
	EXPECT_EQ(0, tr_settle(&self->tr, 50 * NSEC_PER_MSEC));
	EXPECT_EQ(0, tr_cancel(&self->tr, 40));
	EXPECT_EQ(0, tr_cancel(&self->tr, 41));
	EXPECT_EQ(0, tr_cancel(&self->tr, 42));
	EXPECT_EQ(0, tr_cancel(&self->tr, 43));
	EXPECT_EQ(0, tr_cancel(&self->tr, 44));
	EXPECT_EQ(0, tr_cancel(&self->tr, 45));
	EXPECT_EQ(0, tr_cancel(&self->tr, 46));
}

TEST_F(tr, never_early)
{
	struct io_uring_cqe cqe[4];
	struct timerring_op ops[3];
	__u64 t0, t1, abs_exp;
	unsigned int i;

	/*
	 * One batch: the relative expiries count from a clock read after
	 * t0, so the absolute one at t0 + 30 ms is due first.
	 */
	t0 = now_ns(CLOCK_MONOTONIC);
	abs_exp = t0 + 30 * NSEC_PER_MSEC;
	timerring_op_arm(&ops[0], 50, 50 * NSEC_PER_MSEC, 0, 50, 0);
	timerring_op_arm(&ops[1], 51, 50 * NSEC_PER_MSEC, TIMERRING_OPF_SLACK,
			 51, 0);
	timerring_op_arm(&ops[2], 52, abs_exp, TIMERRING_OPF_ABS, 52, 0);
	ASSERT_EQ(3, timerring_submit(&self->tr, ops, 3, NULL, 0, NULL,
				      NULL));

	for (i = 0; i < 3; i++) {
		ASSERT_EQ(1, tr_collect(&self->tr, &cqe[i], 1, WAIT_LONG_NS));
		t1 = now_ns(CLOCK_MONOTONIC);
		if (cqe[i].user_data == 52) {
			EXPECT_GE(t1, abs_exp);
		} else {
			EXPECT_GE(t1, t0 + 50 * NSEC_PER_MSEC)
				TH_LOG("id %u early by %lld ns", cqe[i].res,
				       (long long)(t0 + 50 * NSEC_PER_MSEC - t1));
		}
		EXPECT_EQ(cqe[i].user_data, (__u64)cqe[i].res);
	}
	EXPECT_EQ(52, cqe[0].res);
}

TEST_F(tr, modify_replaces_pending)
{
	struct io_uring_cqe cqe;
	__s32 g1, g2;

	g1 = tr_arm(&self->tr, 60, 30 * NSEC_PER_MSEC, 0, 1, 0);
	ASSERT_GE(g1, 0);
	g2 = tr_modify(&self->tr, 60, 60 * NSEC_PER_MSEC, 0, 2, 0);
	ASSERT_TRUE(g2 & TIMERRING_RES_REARMED);
	ASSERT_EQ(1, tr_collect(&self->tr, &cqe, 1, WAIT_LONG_NS));
	EXPECT_EQ(2, cqe.user_data);
	EXPECT_EQ(timerring_res_gen(g2), timerring_cqe_gen(&cqe));
	EXPECT_TRUE(timerring_cqe_is_stale(&cqe, g1));
	EXPECT_EQ(0, tr_settle(&self->tr, 50 * NSEC_PER_MSEC));
}

TEST_F(tr, stale_cqe_detection)
{
	struct io_uring_cqe cqe;
	__s32 g1, g2;

	g1 = tr_arm(&self->tr, 61, 0, 0, 1, 0);
	ASSERT_GE(g1, 0);
	/* Wait for the CQE to be posted, but do not consume it. */
	ASSERT_LE(1, timerring_wait(&self->tr, 1, WAIT_LONG_NS));
	/* Fired: the id is idle and can be armed again. */
	g2 = tr_arm(&self->tr, 61, HOUR_NS, 0, 2, 0);
	ASSERT_GE(g2, 0);
	EXPECT_FALSE(g2 & TIMERRING_RES_REARMED);
	ASSERT_EQ(1, tr_reap(&self->tr, &cqe, 1));
	EXPECT_EQ(1, cqe.user_data);
	EXPECT_TRUE(timerring_cqe_is_stale(&cqe, g2));
	EXPECT_FALSE(timerring_cqe_is_stale(&cqe, g1));
	EXPECT_EQ(0, tr_cancel(&self->tr, 61));
}

TEST_F(tr, periodic)
{
	__u64 iv = 10 * NSEC_PER_MSEC, t0, t1;
	struct io_uring_cqe cqe[4];
	unsigned int i, extra;
	__s32 gen;

	if (!(self->tr.params.features & TIMERRING_FEAT_PERIODIC))
		SKIP(return, "no TIMERRING_FEAT_PERIODIC");
	t0 = now_ns(CLOCK_MONOTONIC);
	gen = tr_arm(&self->tr, 70, iv, 0, 0x70, iv);
	ASSERT_GE(gen, 0);
	ASSERT_EQ(3, tr_collect(&self->tr, cqe, 3, WAIT_LONG_NS));
	t1 = now_ns(CLOCK_MONOTONIC);
	/* Three periods (counting overruns) cannot pass in < 3 * iv. */
	EXPECT_GE(t1 - t0, 3 * iv);
	for (i = 0; i < 3; i++) {
		EXPECT_EQ(70, cqe[i].res);
		EXPECT_EQ(0x70, cqe[i].user_data);
		EXPECT_TRUE(timerring_cqe_more(&cqe[i]));
		EXPECT_EQ(timerring_res_gen(gen), timerring_cqe_gen(&cqe[i]));
	}
	/* Still armed. */
	EXPECT_EQ(-EEXIST, tr_arm(&self->tr, 70, iv, 0, 0, 0));
	EXPECT_EQ(0, tr_cancel(&self->tr, 70));
	/* CQEs posted before the cancel may still be there; then none. */
	extra = tr_reap(&self->tr, NULL, ~0U);
	EXPECT_LE(extra, 1 + (now_ns(CLOCK_MONOTONIC) - t1) / iv + 1);
	EXPECT_EQ(0, tr_settle(&self->tr, 5 * iv));
	EXPECT_EQ(-ENOENT, tr_cancel(&self->tr, 70));
}

TEST(periodic_overruns)
{
	struct timerring_params p;
	struct timerring tr;
	struct io_uring_cqe cqe[65];
	__u64 iv = 2 * NSEC_PER_MSEC;
	unsigned int i, n;
	__s32 gen;

	/*
	 * A periodic expiration that waits for ring space for many periods
	 * reports the periods it missed when it is finally posted.
	 */
	tr_default_params(&p);
	p.cq_entries = 64;
	TR_OPEN_OR_SKIP(&tr, &p);
	if (iv < tr.params.resolution_ns)
		iv = tr.params.resolution_ns;
	for (i = 0; i < 64; i++)
		ASSERT_GE(tr_arm(&tr, 100 + i, 1, TIMERRING_OPF_ABS, 0, 0), 0);
	ASSERT_EQ(64, timerring_wait(&tr, 64, WAIT_LONG_NS));
	gen = tr_arm(&tr, 1, iv, 0, 1, iv);
	ASSERT_GE(gen, 0);
	sleep_ns(20 * iv);
	ASSERT_TRUE(timerring_cq_overflow_pending(&tr));
	ASSERT_EQ(64, tr_reap(&tr, cqe, 64));
	n = tr_collect(&tr, cqe, 1, WAIT_LONG_NS);
	ASSERT_EQ(1, n);
	EXPECT_EQ(1, cqe[0].res);
	EXPECT_TRUE(timerring_cqe_more(&cqe[0]));
	EXPECT_EQ(timerring_res_gen(gen), timerring_cqe_gen(&cqe[0]));
	TH_LOG("overruns %u", timerring_cqe_overruns(&cqe[0]));
	EXPECT_GE(timerring_cqe_overruns(&cqe[0]), 10);
	/* The next one is on schedule again. */
	n = tr_collect(&tr, cqe, 1, WAIT_LONG_NS);
	ASSERT_EQ(1, n);
	EXPECT_TRUE(timerring_cqe_more(&cqe[0]));
	EXPECT_EQ(0, tr_cancel(&tr, 1));
	timerring_close(&tr);
}

TEST_F(tr, cancel_all_counts)
{
	unsigned int i;

	for (i = 0; i < 100; i++)
		ASSERT_GE(tr_arm(&self->tr, i * 3, HOUR_NS, 0, 0, 0), 0);
	EXPECT_EQ(100, tr_cancel_all(&self->tr));
	EXPECT_EQ(0, tr_cancel_all(&self->tr));
	for (i = 0; i < 100; i++)
		EXPECT_EQ(-ENOENT, tr_cancel(&self->tr, i * 3));
}

TEST_F(tr, stats)
{
	struct timerring_stats st;
	__u64 sum = 0;
	int i;

	ASSERT_GE(tr_arm(&self->tr, 1, HOUR_NS, 0, 0, 0), 0);
	ASSERT_GE(tr_arm(&self->tr, 2, HOUR_NS, 0, 0, 0), 0);
	ASSERT_EQ(-EEXIST, tr_arm(&self->tr, 2, HOUR_NS, 0, 0, 0));
	ASSERT_GE(tr_modify(&self->tr, 2, HOUR_NS, 0, 0, 0), 0);
	ASSERT_EQ(0, tr_cancel(&self->tr, 1));
	ASSERT_GE(tr_arm(&self->tr, 3, 0, 0, 0, 0), 0);
	ASSERT_EQ(1, tr_collect(&self->tr, NULL, 1, WAIT_LONG_NS));

	ASSERT_EQ(0, timerring_stats(&self->tr, &st));
	TH_LOG("armed_total %llu modified_total %llu cancelled_total %llu",
	       (unsigned long long)st.armed_total,
	       (unsigned long long)st.modified_total,
	       (unsigned long long)st.cancelled_total);
	EXPECT_EQ(1, st.armed_now);
	/* Whether a MODIFY also counts as an arm/cancel is unspecified. */
	EXPECT_GE(st.armed_total, 3);
	EXPECT_LE(st.armed_total, 4);
	EXPECT_EQ(1, st.modified_total);
	EXPECT_GE(st.cancelled_total, 1);
	EXPECT_LE(st.cancelled_total, 2);
	EXPECT_EQ(1, st.expired_total);
	EXPECT_EQ(0, st.dropped_total);
	EXPECT_EQ(0, st.overflow_now);
	EXPECT_EQ(6, st.batches);
	EXPECT_EQ(1, st.ops_failed);
	EXPECT_EQ(self->res_ns, st.resolution_ns);
	EXPECT_EQ(MAXT, st.max_timers);
	EXPECT_EQ(self->tr.params.cq_entries, st.cq_entries);
	EXPECT_LE(st.impl, TIMERRING_IMPL_AVX512);
	EXPECT_GT(st.mem_bytes, 0);
	EXPECT_LE(st.drain_impl, TIMERRING_IMPL_AVX512);
	/* Every expiration lands in one lateness bucket. */
	for (i = 0; i < TIMERRING_LATENCY_BUCKETS; i++)
		sum += st.lateness_hist[i];
	EXPECT_EQ(st.expired_total, sum);
}

FIXTURE(big) {
	struct timerring tr;
};

FIXTURE_SETUP(big)
{
	struct timerring_params p;

	tr_default_params(&p);
	p.max_timers = TIMERRING_BATCH_MAX;
	TR_OPEN_OR_SKIP(&self->tr, &p);
}

FIXTURE_TEARDOWN(big)
{
	if (self->tr.fd >= 0)
		timerring_close(&self->tr);
}

TEST_F(big, full_batch)
{
	unsigned int n = TIMERRING_BATCH_MAX, i, done, failed;
	struct timerring_op *ops;
	struct timerring_stats st;
	__s32 *res;

	ops = calloc(n, sizeof(*ops));
	res = calloc(n, sizeof(*res));
	ASSERT_NE(NULL, ops);
	ASSERT_NE(NULL, res);
	for (i = 0; i < n; i++)
		timerring_op_arm(&ops[i], i, HOUR_NS + i * NSEC_PER_USEC, 0, i,
				 0);
	ASSERT_EQ(n, timerring_submit(&self->tr, ops, n, res, 0, &done,
				      &failed));
	EXPECT_EQ(n, done);
	EXPECT_EQ(0, failed);
	for (i = 0; i < n; i++) {
		if (res[i] < 0) {
			EXPECT_GE(res[i], 0) TH_LOG("op %u", i);
			break;
		}
	}
	ASSERT_EQ(0, timerring_stats(&self->tr, &st));
	EXPECT_EQ(n, st.armed_now);

	/* The same batch again: every op fails with -EEXIST. */
	ASSERT_EQ(n, timerring_submit(&self->tr, ops, n, res, 0, &done,
				      &failed));
	EXPECT_EQ(n, failed);
	EXPECT_EQ(-EEXIST, res[0]);
	EXPECT_EQ(-EEXIST, res[n - 1]);

	/* A full batch of cancels. */
	for (i = 0; i < n; i++)
		timerring_op_cancel(&ops[i], i);
	ASSERT_EQ(n, timerring_submit(&self->tr, ops, n, res, 0, &done,
				      &failed));
	EXPECT_EQ(0, failed);
	EXPECT_EQ(0, tr_cancel_all(&self->tr));
	free(ops);
	free(res);
}

/* CLOCK_BOOTTIME instances take absolute expiries on that clock. */
TEST(boottime_absolute)
{
	struct timerring_params p;
	struct timerring tr;
	struct io_uring_cqe cqe;
	__u64 t0, t, when;

	tr_default_params(&p);
	p.clockid = CLOCK_BOOTTIME;
	TR_OPEN_OR_SKIP(&tr, &p);
	/* the instance's clock is CLOCK_BOOTTIME: read between two reads */
	t0 = now_ns(CLOCK_BOOTTIME);
	t = timerring_now(&tr);
	when = now_ns(CLOCK_BOOTTIME);
	EXPECT_LE(t0, t);
	EXPECT_LE(t, when);
	when += 30 * NSEC_PER_MSEC;
	ASSERT_GE(tr_arm(&tr, 1, when, TIMERRING_OPF_ABS, 1, 0), 0);
	ASSERT_EQ(1, tr_collect(&tr, &cqe, 1, WAIT_LONG_NS));
	EXPECT_GE(now_ns(CLOCK_BOOTTIME), when);
	timerring_close(&tr);
}

#define TIMENS_OFFSET_S	1000

/*
 * In a time namespace, absolute expiries are on the namespace's clock:
 * one "30 ms from now" must neither fire at once nor 1000 s late, and
 * one in the namespace's past fires at once.
 */
static int timens_child(void)
{
	struct timerring tr;
	struct io_uring_cqe cqe;
	__u64 t0, when;

	if (timerring_open(&tr, NULL))
		return 10;
	if (!(tr.params.features & TIMERRING_FEAT_TIMENS))
		return 100;
	t0 = now_ns(CLOCK_MONOTONIC);
	if (t0 < TIMENS_OFFSET_S * NSEC_PER_SEC)
		return 11;	/* the offset did not apply */
	when = t0 + 30 * NSEC_PER_MSEC;
	if (tr_arm(&tr, 1, when, TIMERRING_OPF_ABS, 1, 0) < 0)
		return 12;
	if (tr_collect(&tr, &cqe, 1, 3 * NSEC_PER_SEC) != 1)
		return 13;	/* taken as host time: 1000 s late */
	if (now_ns(CLOCK_MONOTONIC) < when)
		return 14;	/* early */
	/* Past in the namespace (but future on the host clock). */
	when = now_ns(CLOCK_MONOTONIC) - (TIMENS_OFFSET_S / 2) * NSEC_PER_SEC;
	if (tr_arm(&tr, 2, when, TIMERRING_OPF_ABS, 2, 0) < 0)
		return 15;
	if (tr_collect(&tr, &cqe, 1, 3 * NSEC_PER_SEC) != 1)
		return 16;
	/* Relative expiries do not care. */
	if (tr_arm(&tr, 3, 20 * NSEC_PER_MSEC, 0, 3, 0) < 0)
		return 17;
	if (tr_collect(&tr, &cqe, 1, 3 * NSEC_PER_SEC) != 1)
		return 18;
	timerring_close(&tr);
	return 0;
}

TEST(timens_absolute)
{
	char buf[64];
	int fd, status, len;
	pid_t pid;

	fd = tr_open_dev();
	if (fd < 0)
		SKIP(return, "no " TIMERRING_DEV_PATH);
	close(fd);
	if (unshare(CLONE_NEWTIME))
		SKIP(return, "no time namespaces (%s)", strerror(errno));
	fd = open("/proc/self/timens_offsets", O_WRONLY);
	ASSERT_LE(0, fd);
	len = snprintf(buf, sizeof(buf), "monotonic %d 0\n", TIMENS_OFFSET_S);
	ASSERT_EQ(len, write(fd, buf, len));
	close(fd);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		_exit(timens_child());
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	if (WEXITSTATUS(status) == 100)
		SKIP(return, "no TIMERRING_FEAT_TIMENS");
	EXPECT_EQ(0, WEXITSTATUS(status)) TH_LOG("failed at step %d",
						 WEXITSTATUS(status));
}

TEST_HARNESS_MAIN
