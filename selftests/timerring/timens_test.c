// SPDX-License-Identifier: GPL-2.0
/*
 * timerring in time namespaces (time_namespaces(7)).
 *
 * The contract (timerring.4, NOTES): with TIMERRING_FEAT_TIMENS an
 * absolute expiry is read on the instance clock as the submitting task
 * sees it in its time namespace, and converted to the host's clock when
 * the op is applied; relative expiries and intervals do not depend on the
 * namespace. The code under test is tr_timens_offset() in module/submit.c
 * and the conversion in batch.c.
 *
 * Each variant makes a time namespace (unshare(CLONE_NEWTIME)), writes
 * its offsets to /proc/self/timens_offsets before any process is in it,
 * and forks a child into it. The child, for CLOCK_MONOTONIC and for
 * CLOCK_BOOTTIME instances:
 *   - checks that its clocks are shifted by the offsets (so that the
 *     namespace is really in effect);
 *   - arms an absolute expiry 300 ms ahead on the namespace clock, a
 *     relative one of 300 ms, and a periodic one (absolute first expiry,
 *     100 ms interval, three periods), and an absolute expiry in the
 *     namespace's past (fires at once);
 *   - checks, on the namespace clock, that no CQE is there before its due
 *     time (the ring is looked at before due, and a CQE seen at a clock
 *     reading before due is early) and that each is seen at most
 *     TIMENS_LATE_NS after due.
 * The documented lateness is one tick (a timer "fires at the first tick
 * at or after its due time"); TIMENS_LATE_NS adds the wake-up latency of
 * a TCG guest. An offset taken wrongly moves an expiry by the offset:
 * seconds, far outside it.
 *
 * shared_fd: the instance is opened by the parent, outside the
 * namespace; the child inside submits absolute expiries on its clock and
 * the parent sees them fire at the matching host time: the offset is the
 * submitter's, not the opener's.
 *
 * Skips without CONFIG_TIME_NS (unshare fails), without
 * TIMERRING_FEAT_TIMENS, or when the host clock is too young for the
 * negative offset a variant needs.
 */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include "kselftest_harness.h"
#include "common.h"

#define AHEAD_NS	(300 * NSEC_PER_MSEC)
#define IVAL_NS		(100 * NSEC_PER_MSEC)
#define PERIODS		3
#define TIMENS_LATE_NS	(250 * NSEC_PER_MSEC)
/* exit codes of the child */
#define SKIP_NO_FEAT	200
#define BOOT_STEPS	100
#define SHARED_AHEAD_NS	(2 * NSEC_PER_SEC)

/*
 * Offsets in seconds. A negative one is taken as "that much, or the
 * clock's age less 2 s if it is younger", and skipped below 2 s: a
 * namespace clock cannot go below 0.
 */
FIXTURE(timens) {
	long long mono_s, boot_s;	/* the offsets in effect */
};

FIXTURE_VARIANT(timens) {
	long long mono_s;
	long long boot_s;
};

/* Behind the host: a wrong sign or a missing offset fires early. */
FIXTURE_VARIANT_ADD(timens, mono_negative) {
	.mono_s = -40,
	.boot_s = 0,
};

/* Boottime ahead, monotonic behind: mixing up the clocks shows. */
FIXTURE_VARIANT_ADD(timens, boot_positive) {
	.mono_s = -20,
	.boot_s = 1000,
};

/* Boottime behind, monotonic ahead. */
FIXTURE_VARIANT_ADD(timens, boot_negative) {
	.mono_s = 500,
	.boot_s = -30,
};

static long long clamp_negative(long long off_s, clockid_t clk)
{
	long long age = now_ns(clk) / NSEC_PER_SEC;

	if (off_s >= 0)
		return off_s;
	if (-off_s > age - 2)
		off_s = -(age - 2);
	return off_s;
}

/* Make the time namespace of our children; 0, or SKIP-worthy -errno. */
static int make_timens(long long mono_s, long long boot_s)
{
	char buf[128];
	int len;

	if (unshare(CLONE_NEWTIME))
		return -errno;
	len = snprintf(buf, sizeof(buf), "monotonic %lld 0\nboottime %lld 0\n",
		       mono_s, boot_s);
	if (len <= 0 || len >= (int)sizeof(buf))
		return -EINVAL;
	return tr_write_file("/proc/self/timens_offsets", buf);
}

FIXTURE_SETUP(timens)
{
	int fd, ret;

	fd = tr_open_dev();
	if (fd < 0)
		SKIP(return, "no " TIMERRING_DEV_PATH " (%d)", fd);
	close(fd);
	self->mono_s = clamp_negative(variant->mono_s, CLOCK_MONOTONIC);
	self->boot_s = clamp_negative(variant->boot_s, CLOCK_BOOTTIME);
	if ((variant->mono_s < 0 && self->mono_s > -2) ||
	    (variant->boot_s < 0 && self->boot_s > -2))
		SKIP(return, "the clocks are too young for negative offsets");
	ret = make_timens(self->mono_s, self->boot_s);
	if (ret == -EINVAL || ret == -ENOSYS || ret == -ENOENT)
		SKIP(return, "no time namespaces (%s)", strerror(-ret));
	ASSERT_EQ(0, ret) TH_LOG("time namespace, monotonic %+llds, boottime %+llds: %s",
				 self->mono_s, self->boot_s, strerror(-ret));
}

FIXTURE_TEARDOWN(timens)
{
}

/* Set in the child. */
static long long child_off_ns[2];	/* [0] monotonic, [1] boottime */
static __u64 host_before[2];		/* host clocks read before fork() */

static int clk_index(clockid_t clk)
{
	return clk == CLOCK_BOOTTIME;
}

/*
 * Wait until @want CQEs are ready, looking at the ring before @due too:
 * returns 0, or an error code for the child's exit status. The ring is
 * looked at first and the clock read after, so a CQE seen with a reading
 * before @due was posted early. *@seen gets that reading.
 */
static int wait_due(struct timerring *tr, clockid_t clk, unsigned int want,
		    __u64 due, __u64 *seen)
{
	__u64 end = now_ns(clk) + WAIT_LONG_NS, t;
	bool ready;

	for (;;) {
		ready = timerring_cq_ready(tr) >= want;
		t = now_ns(clk);
		if (ready)
			break;
		if (t >= end)
			return 1;		/* never came */
		timerring_wait(tr, want, t < due ? due - t : 5 * NSEC_PER_MSEC);
	}
	*seen = t;
	if (t < due)
		return 2;			/* early */
	if (t - due > TIMENS_LATE_NS)
		return 3;			/* late */
	return 0;
}

/* One-shot @id due at @due on the namespace clock: check its CQE. */
static int check_one(struct timerring *tr, clockid_t clk, __u32 id,
		     __u64 due)
{
	struct io_uring_cqe cqe;
	__u64 seen;
	int r = wait_due(tr, clk, 1, due, &seen);

	if (r)
		return r;
	if (tr_reap(tr, &cqe, 1) != 1 || cqe.res != (__s32)id ||
	    cqe.user_data != id)
		return 4;
	return 0;
}

/* The checks of one clock, in the namespace; 0 or a step code. */
static int child_clock(clockid_t clk)
{
	struct timerring_params p;
	struct timerring tr;
	struct io_uring_cqe cqe;
	__u64 t, due, first, seen;
	long long off = child_off_ns[clk_index(clk)];
	int r, k;

	tr_default_params(&p);
	p.clockid = clk;
	if (timerring_open(&tr, &p))
		return 1;
	if (!(tr.params.features & TIMERRING_FEAT_TIMENS))
		return SKIP_NO_FEAT;
	/* the namespace is in effect: our clock is the host's + offset */
	t = now_ns(clk);
	if ((long long)(t - host_before[clk_index(clk)]) < off ||
	    (long long)(t - host_before[clk_index(clk)]) > off +
	    (long long)(10 * NSEC_PER_SEC))
		return 2;

	/* absolute, ahead */
	due = now_ns(clk) + AHEAD_NS;
	if (tr_arm(&tr, 1, due, TIMERRING_OPF_ABS, 1, 0) < 0)
		return 3;
	r = check_one(&tr, clk, 1, due);
	if (r)
		return 10 + r;

	/* relative */
	due = now_ns(clk) + AHEAD_NS;
	if (tr_arm(&tr, 2, AHEAD_NS, 0, 2, 0) < 0)
		return 4;
	r = check_one(&tr, clk, 2, due);
	if (r)
		return 20 + r;

	/* absolute in the namespace's past: at once */
	due = now_ns(clk);
	if (tr_arm(&tr, 3, due - (due > NSEC_PER_SEC ? NSEC_PER_SEC : 0),
		   TIMERRING_OPF_ABS, 3, 0) < 0)
		return 5;
	r = check_one(&tr, clk, 3, due);
	if (r)
		return 30 + r;

	/* periodic, absolute first expiry: period k due at first + k * ival */
	first = now_ns(clk) + AHEAD_NS;
	if (tr_arm(&tr, 4, first, TIMERRING_OPF_ABS, 4, IVAL_NS) < 0)
		return 6;
	for (k = 0; k < PERIODS; k++) {
		r = wait_due(&tr, clk, 1, first + k * IVAL_NS, &seen);
		if (r)
			return 40 + 4 * k + r;
		if (tr_reap(&tr, &cqe, 1) != 1 || cqe.res != 4 ||
		    !timerring_cqe_more(&cqe))
			return 39;
		/*
		 * A CQE posted late by more than an interval stands for the
		 * periods it missed too (overruns), the last of them due by
		 * the time it was posted.
		 */
		k += timerring_cqe_overruns(&cqe);
		if (seen < first + k * IVAL_NS)
			return 38;
	}
	if (tr_cancel(&tr, 4))
		return 7;
	timerring_close(&tr);
	return 0;
}

static int child_main(void)
{
	int r = child_clock(CLOCK_MONOTONIC);

	if (r)
		return r;
	r = child_clock(CLOCK_BOOTTIME);
	return r ? (r == SKIP_NO_FEAT ? r : BOOT_STEPS + r) : 0;
}

static int run_child(struct __test_metadata *_metadata,
		     FIXTURE_DATA(timens) *self, int (*fn)(void))
{
	int status;
	pid_t pid;

	child_off_ns[0] = self->mono_s * (long long)NSEC_PER_SEC;
	child_off_ns[1] = self->boot_s * (long long)NSEC_PER_SEC;
	host_before[0] = now_ns(CLOCK_MONOTONIC);
	host_before[1] = now_ns(CLOCK_BOOTTIME);
	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid)
		_exit(fn());
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

TEST_F_TIMEOUT(timens, expiries, 60)
{
	int r = run_child(_metadata, self, child_main);

	if (r == SKIP_NO_FEAT)
		SKIP(return, "no TIMERRING_FEAT_TIMENS");
	EXPECT_EQ(0, r) TH_LOG("monotonic %+llds, boottime %+llds: failed at step %d (%s)",
			       self->mono_s, self->boot_s, r,
			       r >= BOOT_STEPS ? "CLOCK_BOOTTIME" : "CLOCK_MONOTONIC");
}

/* shared_fd: the instance of the parent, opened outside the namespace. */
static struct timerring shared[2];

static int child_shared(void)
{
	int i;

	for (i = 0; i < 2; i++) {
		clockid_t clk = i ? CLOCK_BOOTTIME : CLOCK_MONOTONIC;

		/* due SHARED_AHEAD_NS from now on our clock, 1 s in our past */
		if (tr_arm(&shared[i], 1, now_ns(clk) + SHARED_AHEAD_NS,
			   TIMERRING_OPF_ABS, 1, 0) < 0)
			return 1 + i;
		if (tr_arm(&shared[i], 2, now_ns(clk) - NSEC_PER_SEC,
			   TIMERRING_OPF_ABS, 2, 0) < 0)
			return 3 + i;
	}
	return 0;
}

TEST_F_TIMEOUT(timens, shared_fd, 60)
{
	struct timerring_params p;
	struct io_uring_cqe cqe[2];
	__u64 armed[2], seen;
	int i, r;

	for (i = 0; i < 2; i++) {
		tr_default_params(&p);
		p.clockid = i ? CLOCK_BOOTTIME : CLOCK_MONOTONIC;
		ASSERT_EQ(0, timerring_open(&shared[i], &p));
		if (!(shared[i].params.features & TIMERRING_FEAT_TIMENS))
			SKIP(return, "no TIMERRING_FEAT_TIMENS");
	}
	armed[0] = now_ns(CLOCK_MONOTONIC);
	armed[1] = now_ns(CLOCK_BOOTTIME);
	r = run_child(_metadata, self, child_shared);
	ASSERT_EQ(0, r) TH_LOG("child failed at step %d", r);
	for (i = 0; i < 2; i++) {
		clockid_t clk = i ? CLOCK_BOOTTIME : CLOCK_MONOTONIC;
		__u64 due = armed[i] + SHARED_AHEAD_NS;

		/* the one in the child's past: at once, before the other */
		ASSERT_EQ(1, tr_collect(&shared[i], &cqe[0], 1, WAIT_LONG_NS));
		EXPECT_EQ(2, cqe[0].res) TH_LOG("clock %d", clk);
		/* the other, on the host clock, not before the child armed it */
		ASSERT_EQ(1, tr_collect(&shared[i], &cqe[1], 1, WAIT_LONG_NS));
		seen = now_ns(clk);
		EXPECT_EQ(1, cqe[1].res);
		EXPECT_LE(due, seen) TH_LOG("clock %d: early", clk);
		/* the child ran for less than a second after armed[] */
		EXPECT_GE(due + TIMENS_LATE_NS + NSEC_PER_SEC, seen)
			TH_LOG("clock %d: %llu ms late", clk,
			       (unsigned long long)(seen - due) / NSEC_PER_MSEC);
		timerring_close(&shared[i]);
	}
}

TEST_HARNESS_MAIN
