// SPDX-License-Identifier: GPL-2.0
/*
 * timerring: "a call that fails changes nothing".
 *
 * User memory that can be read but not written back (SETUP params, SUBMIT
 * results, the SUBMIT struct) fails the call with EFAULT before anything
 * is applied; ops that fault in their second 256-op chunk give a partial
 * but exact batch. Failed ops keep no memory. (Every allocation and user
 * copy failed in turn: failnth_test and usercopy_test.)
 */
#include "kselftest_harness.h"
#include "common.h"

#define HOUR_NS		(3600 * NSEC_PER_SEC)
#define SENT		((__s32)0x5a5a5a5a)
#define CHUNK_OPS	256	/* ops per SUBMIT chunk */
#define TABLE_IDS	128	/* ids per table chunk */
#define CHECK_ID	1	/* never used by a sweep */

FIXTURE(f) {
	struct timerring tr;
};

FIXTURE_SETUP(f)
{
	struct timerring_params p;

	tr_default_params(&p);
	p.cq_entries = 64;
	p.max_timers = 1024;
	TR_OPEN_OR_SKIP(&self->tr, &p);
}

FIXTURE_TEARDOWN(f)
{
	if (self->tr.fd >= 0)
		timerring_close(&self->tr);
}

/* SETUP params readable but not writable: EFAULT, and SETUP can be redone. */
TEST(setup_copy_back_faults)
{
	long pg = getpagesize();
	struct timerring_params *ro, p;
	struct timerring_stats st;
	struct timerring tr;
	char *page;
	void *m;
	int fd;

	TR_OPEN_DEV_OR_SKIP(fd);
	page = tr_map_pages(1);
	ASSERT_NE(NULL, page);
	ro = (struct timerring_params *)page;
	tr_default_params(ro);
	ro->cq_entries = 64;
	ASSERT_EQ(0, mprotect(page, pg, PROT_READ));

	EXPECT_EQ(-EFAULT, tr_ioctl(fd, TIMERRING_IOC_SETUP, ro));
	/* Left not set up. */
	m = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	EXPECT_EQ(MAP_FAILED, m);
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-EINVAL, tr_get_stats(fd, &st));
	/* A second try gives EFAULT again, not EBUSY. */
	EXPECT_EQ(-EFAULT, tr_ioctl(fd, TIMERRING_IOC_SETUP, ro));

	/* With a writable struct SETUP succeeds on the same fd. */
	p = *ro;
	ASSERT_EQ(0, tr_ioctl(fd, TIMERRING_IOC_SETUP, &p));
	EXPECT_NE(0, p.mmap_size);
	EXPECT_EQ(64, p.cq_entries);
	ASSERT_EQ(0, tr_attach(&tr, fd, &p));
	EXPECT_EQ(64, *tr.cq.kring_entries);
	EXPECT_EQ(0, tr_fires(&tr, CHECK_ID));
	ASSERT_EQ(0, tr_get_stats(fd, &st));
	EXPECT_EQ(1, st.armed_total);
	EXPECT_EQ(1, st.batches);
	timerring_close(&tr);
	munmap(page, pg);
}

/* Check that none of ids [first, first + n) is armed. */
static void expect_none_armed(struct __test_metadata *_metadata,
			      struct timerring *tr, __u32 first,
			      unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		EXPECT_EQ(-ENOENT, tr_cancel(tr, first + i))
			TH_LOG("id %u", first + i);
}

/* A results array that cannot be written: EFAULT, nothing applied. */
TEST_F(f, submit_results_readonly)
{
	long pg = getpagesize();
	unsigned int i, nr = 600;
	struct timerring_stats st0, st1;
	struct timerring_submit s;
	struct timerring_op ops[600];
	char *mem;

	/* Page 0 writable, page 1 read-only. */
	mem = tr_map_pages(2);
	ASSERT_NE(NULL, mem);
	ASSERT_EQ(0, mprotect(mem + pg, pg, PROT_READ));
	for (i = 0; i < nr; i++)
		timerring_op_arm(&ops[i], 100 + i, HOUR_NS, 0, i, 0);
	ASSERT_EQ(0, tr_get_stats(self->tr.fd, &st0));

	/* Wholly read-only. */
	EXPECT_EQ(-EFAULT, tr_raw_submit(self->tr.fd, &s, ops,
					 (__s32 *)(mem + pg), 2, 0));
	/* Read-only from the 301st result on (inside the second chunk). */
	EXPECT_EQ(-EFAULT, tr_raw_submit(self->tr.fd, &s, ops,
					 (__s32 *)(mem + pg) - 300, nr, 0));
	/* Read-only from the 9th result on (inside the first chunk). */
	EXPECT_EQ(-EFAULT, tr_raw_submit(self->tr.fd, &s, ops,
					 (__s32 *)(mem + pg) - 8, nr, 0));

	ASSERT_EQ(0, tr_get_stats(self->tr.fd, &st1));
	expect_stats_same(_metadata, &st0, &st1);
	EXPECT_EQ(0, st1.armed_now);
	EXPECT_EQ(0, st1.armed_total);
	expect_none_armed(_metadata, &self->tr, 100, nr);
	munmap(mem, 2 * pg);
}

/* A struct timerring_submit that cannot be written back: EFAULT. */
TEST_F(f, submit_struct_readonly)
{
	long pg = getpagesize();
	struct timerring_stats st0, st1;
	struct timerring_submit *s;
	struct timerring_op ops[300];
	__s32 res[300];
	unsigned int i;
	char *page;

	page = tr_map_pages(1);
	ASSERT_NE(NULL, page);
	for (i = 0; i < 300; i++)
		timerring_op_arm(&ops[i], 100 + i, HOUR_NS, 0, i, 0);
	s = (struct timerring_submit *)page;
	s->ops = (uintptr_t)ops;
	s->results = (uintptr_t)res;
	s->nr = 300;
	ASSERT_EQ(0, mprotect(page, pg, PROT_READ));
	ASSERT_EQ(0, tr_get_stats(self->tr.fd, &st0));

	EXPECT_EQ(-EFAULT, tr_ioctl(self->tr.fd, TIMERRING_IOC_SUBMIT, s));
	/* Without a results array too. */
	ASSERT_EQ(0, mprotect(page, pg, PROT_READ | PROT_WRITE));
	s->results = 0;
	s->nr = 1;
	ASSERT_EQ(0, mprotect(page, pg, PROT_READ));
	EXPECT_EQ(-EFAULT, tr_ioctl(self->tr.fd, TIMERRING_IOC_SUBMIT, s));

	ASSERT_EQ(0, tr_get_stats(self->tr.fd, &st1));
	expect_stats_same(_metadata, &st0, &st1);
	EXPECT_EQ(0, st1.armed_now);
	expect_none_armed(_metadata, &self->tr, 100, 300);
	munmap(page, pg);
}

/*
 * Ops end at a PROT_NONE page right after the first 256-op chunk: the
 * first chunk is applied, done says 256, its results are written and the
 * rest of the results array is left as it was.
 */
TEST_F(f, submit_ops_second_chunk_unmapped)
{
	long pg = getpagesize();
	size_t chunk_bytes = CHUNK_OPS * sizeof(struct timerring_op);
	unsigned int i, nr = 2 * CHUNK_OPS, armed = 0;
	struct timerring_stats st;
	struct timerring_submit s;
	struct timerring_op *ops;
	__s32 res[2 * CHUNK_OPS];
	size_t npages;
	char *mem;

	if (chunk_bytes % pg)
		SKIP(return, "page size %ld does not divide a chunk", pg);
	npages = chunk_bytes / pg;
	mem = tr_map_pages(npages + 1);
	ASSERT_NE(NULL, mem);
	ASSERT_EQ(0, mprotect(mem + npages * pg, pg, PROT_NONE));
	ops = (struct timerring_op *)mem;
	for (i = 0; i < CHUNK_OPS; i++)
		timerring_op_arm(&ops[i], i, HOUR_NS, 0, i, 0);
	for (i = 0; i < nr; i++)
		res[i] = SENT;

	ASSERT_EQ(0, tr_raw_submit(self->tr.fd, &s, ops, res, nr, 0));
	EXPECT_EQ(CHUNK_OPS, s.done);
	EXPECT_EQ(0, s.failed);
	for (i = 0; i < CHUNK_OPS; i++) {
		EXPECT_GE(res[i], 0) TH_LOG("result %u", i);
		armed += res[i] >= 0;
	}
	for (; i < nr; i++)
		EXPECT_EQ(SENT, res[i]) TH_LOG("result %u", i);
	ASSERT_EQ(0, tr_get_stats(self->tr.fd, &st));
	EXPECT_EQ(CHUNK_OPS, st.armed_now);
	EXPECT_EQ(CHUNK_OPS, st.armed_total);
	EXPECT_EQ(1, st.batches);
	EXPECT_EQ(CHUNK_OPS, armed);
	EXPECT_EQ(CHUNK_OPS, tr_cancel_all(&self->tr));
	munmap(mem, (npages + 1) * pg);
}

/*
 * An op that fails keeps no memory: an invalid ARM, a CANCEL of an idle
 * id, an ARM of an armed id, and a STOP_ON_ERROR batch whose ARM in a new
 * table chunk is never applied, each after every ARM of a growing set of
 * timers, so that some of them come when the ref pool is full.
 */
TEST_F(f, failed_ops_keep_no_memory)
{
	struct timerring_stats st0, st1;
	struct timerring_op ops[2];
	__s32 res[2] = { SENT, SENT };
	unsigned int k, done, failed;

	for (k = 0; k < 200; k++) {
		__u32 id = 2 + k;

		ASSERT_LE(0, tr_arm(&self->tr, id, HOUR_NS, 0, 0, 0));
		ASSERT_EQ(0, tr_get_stats(self->tr.fd, &st0));

		timerring_op_arm(&ops[0], id + 1, HOUR_NS, 0, 0, 0);
		ops[0].flags = 0x80;
		EXPECT_EQ(-EINVAL, tr_one(&self->tr, &ops[0]));
		EXPECT_EQ(-ENOENT, tr_cancel(&self->tr, id + 1));
		EXPECT_EQ(-EEXIST, tr_arm(&self->tr, id, HOUR_NS, 0, 0, 0));
		timerring_op_arm(&ops[1], 1000, HOUR_NS, 0, 0, 0);
		EXPECT_EQ(1, timerring_submit(&self->tr, ops, 2, res,
					      TIMERRING_SUBMIT_STOP_ON_ERROR,
					      &done, &failed));
		EXPECT_EQ(1, failed);
		EXPECT_EQ(-EINVAL, res[0]);
		EXPECT_EQ(SENT, res[1]);

		ASSERT_EQ(0, tr_get_stats(self->tr.fd, &st1));
		EXPECT_EQ(st0.armed_now, st1.armed_now);
		EXPECT_EQ(st0.armed_total, st1.armed_total);
		EXPECT_EQ(st0.mem_bytes, st1.mem_bytes)
			TH_LOG("with %u armed: %llu bytes, then %llu", k + 1,
			       (unsigned long long)st0.mem_bytes,
			       (unsigned long long)st1.mem_bytes);
		if (st0.mem_bytes != st1.mem_bytes)
			break;
	}
	EXPECT_EQ(-ENOENT, tr_cancel(&self->tr, 1000));
	EXPECT_EQ(k < 200 ? k + 1 : 200, tr_cancel_all(&self->tr));
}

TEST_HARNESS_MAIN
