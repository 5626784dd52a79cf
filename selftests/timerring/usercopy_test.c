// SPDX-License-Identifier: GPL-2.0
/*
 * timerring: every user copy of every entry point failed in turn
 * (fail-nth with fail_usercopy only, see failinj.h): open()'s path, SETUP
 * (the struct in and out), SUBMIT (the struct, the ops of each 256-op
 * chunk), WAIT (the struct in), STATS (the struct out). Each must fail
 * with EFAULT as the header documents and change nothing, or, for the ops
 * of a later chunk, end the batch with done exact.
 *
 * fail_usercopy fails copy_{from,to}_user() and the iterators, not
 * get_user()/put_user(): EVENTFD's read of the fd, WAIT's writes of ready,
 * SUBMIT's writes of done, failed and the results are faulted here with
 * memory that cannot be read or written instead (as fault_test does for
 * SETUP's copy back and SUBMIT's results and struct), on every kernel.
 */
#include "kselftest_harness.h"
#include "failinj.h"

static const struct fi_knob knobs[] = {
	{ "failslab/ignore-gfp-wait", "Y" },
	{ "failslab/verbose", "0" },
	{ "fail_page_alloc/ignore-gfp-wait", "Y" },
	{ "fail_page_alloc/min-order", "1" },
	{ "fail_page_alloc/verbose", "0" },
	{ "fail_usercopy/verbose", "0" },
};

static const struct fi_profile profile = {
	.name = "fail_usercopy",
	.knobs = knobs,
	.nr_knobs = ARRAY_SIZE(knobs),
	.enomem = false,
};

FIXTURE(ucopy) {
	struct fi fi;
};

FIXTURE_SETUP(ucopy)
{
	const char *why = fi_setup(&self->fi, &profile);

	if (why)
		SKIP(return, "%s", why);
}

FIXTURE_TEARDOWN(ucopy)
{
	fi_teardown(&self->fi);
}

/* The path. */
TEST_F(ucopy, open)
{
	fi_sweep_open(_metadata, &self->fi, 1);
}

/* The struct in and the struct back. */
TEST_F(ucopy, setup_call)
{
	fi_sweep_setup(_metadata, &self->fi, 2);
}

/* The struct and the one chunk of ops. */
TEST_F(ucopy, submit)
{
	const struct fi_submit_case sc = {
		.name = "SUBMIT(1 op)", .max_timers = 1024,
		.nr = 1, .opcode = TIMERRING_OP_ARM,
		.first = 7 * FI_TABLE_IDS + 9, .pre = 2,
	};

	fi_sweep_submit(_metadata, &self->fi, &sc, 2);
}

/* The struct and three chunks of ops: done 256 and 512 after a fault. */
TEST_F_TIMEOUT(ucopy, submit_op_chunks, 300)
{
	const struct fi_submit_case sc = {
		.name = "SUBMIT(600 ops, 3 op chunks)", .max_timers = 1024,
		.nr = 600, .opcode = TIMERRING_OP_ARM,
		.first = 10, .stride = 1, .pre = 2,
	};

	fi_sweep_submit(_metadata, &self->fi, &sc, 4);
}

TEST_F_TIMEOUT(ucopy, submit_op_chunks_stop, 300)
{
	const struct fi_submit_case sc = {
		.name = "SUBMIT(600 ops, STOP_ON_ERROR)", .max_timers = 1024,
		.flags = TIMERRING_SUBMIT_STOP_ON_ERROR,
		.nr = 600, .opcode = TIMERRING_OP_ARM,
		.first = 10, .stride = 1, .pre = 2,
	};

	fi_sweep_submit(_metadata, &self->fi, &sc, 4);
}

TEST_F(ucopy, wait)
{
	fi_sweep_wait(_metadata, &self->fi, false, 1);
}

/* A failed WAIT does not post the expiration waiting for space. */
TEST_F(ucopy, wait_overflow)
{
	fi_sweep_wait(_metadata, &self->fi, true, 1);
}

/* get_user() only: no point, the sweep ends at once (see below). */
TEST_F(ucopy, eventfd)
{
	fi_sweep_eventfd(_metadata, &self->fi, 0);
}

TEST_F(ucopy, stats)
{
	fi_sweep_stats(_metadata, &self->fi, 1);
}

/* The copies fail_usercopy does not reach, on every kernel. */

FIXTURE(mem) {
	struct timerring tr;
	char *page;		/* one page, PROT_NONE */
	char *ro;		/* one page, PROT_READ */
};

FIXTURE_SETUP(mem)
{
	long pg = getpagesize();
	struct timerring_params p;

	fi_params(&p, 1024);
	TR_OPEN_OR_SKIP(&self->tr, &p);
	self->page = tr_map_pages(2);
	ASSERT_NE(NULL, self->page);
	self->ro = self->page + pg;
	ASSERT_EQ(0, mprotect(self->page, pg, PROT_NONE));
}

FIXTURE_TEARDOWN(mem)
{
	if (self->page)
		munmap(self->page, 2 * getpagesize());
	if (self->tr.fd >= 0)
		timerring_close(&self->tr);
}

/* EVENTFD's fd unreadable: EFAULT, the registered eventfd stays. */
TEST_F(mem, eventfd_arg_unreadable)
{
	int e1 = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	__s32 arg = e1;

	ASSERT_LE(0, e1);
	ASSERT_EQ(0, tr_ioctl(self->tr.fd, TIMERRING_IOC_EVENTFD, &arg));
	EXPECT_EQ(-EFAULT, tr_ioctl(self->tr.fd, TIMERRING_IOC_EVENTFD,
				    self->page));
	EXPECT_EQ(-EFAULT, tr_ioctl(self->tr.fd, TIMERRING_IOC_EVENTFD, NULL));
	EXPECT_EQ(0, tr_fires(&self->tr, FI_CHECK_ID));
	EXPECT_TRUE(fi_efd_signalled(e1, WAIT_LONG_NS));
	close(e1);
}

/*
 * WAIT's struct readable but not writable: EFAULT before it posts the
 * expiration that waits for ring space, which WAIT then posts once the
 * struct is writable.
 */
TEST_F(mem, wait_readonly_posts_nothing)
{
	long pg = getpagesize();
	struct timerring_wait *w = (struct timerring_wait *)self->ro;
	struct timerring_stats st0, st1;
	struct timerring_op ops[65];
	unsigned int i, head, tail;

	for (i = 0; i < 65; i++)
		timerring_op_arm(&ops[i], 100 + i, NSEC_PER_MSEC, 0, i, 0);
	ASSERT_EQ(65, timerring_submit(&self->tr, ops, 65, NULL, 0, NULL, NULL));
	ASSERT_TRUE(fi_ring_settles(&self->tr, 64, 1));
	timerring_cq_advance(&self->tr, 1);
	ASSERT_EQ(0, tr_get_stats(self->tr.fd, &st0));
	head = *self->tr.cq.khead;
	tail = *self->tr.cq.ktail;
	memset(w, 0, sizeof(*w));
	ASSERT_EQ(0, mprotect(self->ro, pg, PROT_READ));

	EXPECT_EQ(-EFAULT, tr_ioctl(self->tr.fd, TIMERRING_IOC_WAIT, w));
	EXPECT_EQ(-EFAULT, tr_ioctl(self->tr.fd, TIMERRING_IOC_WAIT, self->page));
	ASSERT_EQ(0, tr_get_stats(self->tr.fd, &st1));
	FI_EXPECT_STATS_EQ(&st0, &st1, "WAIT", 0);
	EXPECT_EQ(head, *self->tr.cq.khead);
	EXPECT_EQ(tail, *self->tr.cq.ktail);

	ASSERT_EQ(0, mprotect(self->ro, pg, PROT_READ | PROT_WRITE));
	EXPECT_EQ(0, tr_ioctl(self->tr.fd, TIMERRING_IOC_WAIT, w));
	EXPECT_EQ(64, w->ready);
	ASSERT_EQ(0, tr_get_stats(self->tr.fd, &st1));
	EXPECT_EQ(0, st1.overflow_now);
	EXPECT_EQ(65, st1.expired_total);
}

/* STATS into memory that cannot be written: EFAULT, nothing else. */
TEST_F(mem, stats_readonly)
{
	long pg = getpagesize();
	struct timerring_stats st0, st1;

	ASSERT_LE(0, tr_arm(&self->tr, 200, FI_HOUR_NS, 0, 0, 0));
	ASSERT_EQ(0, tr_get_stats(self->tr.fd, &st0));
	ASSERT_EQ(0, mprotect(self->ro, pg, PROT_READ));
	EXPECT_EQ(-EFAULT, tr_ioctl(self->tr.fd, TIMERRING_IOC_STATS, self->ro));
	EXPECT_EQ(-EFAULT, tr_ioctl(self->tr.fd, TIMERRING_IOC_STATS,
				    self->page));
	ASSERT_EQ(0, tr_get_stats(self->tr.fd, &st1));
	FI_EXPECT_STATS_EQ(&st0, &st1, "STATS", 0);
	EXPECT_EQ(0, tr_cancel(&self->tr, 200));
}

TEST_HARNESS_MAIN
