// SPDX-License-Identifier: GPL-2.0
/*
 * timerring: a periodic timer at the smallest interval the uapi allows
 * (interval = resolution = TIMERRING_RES_NS_MIN, 1 us) with nobody
 * consuming, for STORM_NS (10 s).
 *
 * Two instances storm at once, each from its own CPU (the hrtimer of an
 * instance runs where it was armed):
 *   - "big", with the largest ring the module allows (max_cq_entries,
 *     2^20 by default): the timer fires at the rate the machine can take
 *     for the whole run;
 *   - "small", with the smallest ring (TIMERRING_CQ_ENTRIES_MIN): the ring
 *     fills at once and the expiration waits on the overflow list for the
 *     rest of the run.
 * Meanwhile a thread on the big storm's CPU sleeps in steps of 50 ms and
 * records how late it wakes: user space must keep running.
 *
 * Checks:
 *   - no soft lockup: the kernel log check of the bench catches one; for
 *     the run, /proc/sys/kernel/watchdog_thresh is lowered to 2 s (a soft
 *     lockup is reported after twice that), so that a CPU kept out of the
 *     scheduler for 4 s of the 10 shows (restored afterwards);
 *   - every CQE is the timer's (id, user_data, generation, MORE and
 *     PERIODIC), and the periods they stand for (each 1 + overruns) never
 *     exceed the periods due by then: none is early;
 *   - overruns saturate at 255 (TIMERRING_CQE_OVERRUN_MASK): the small
 *     instance's first CQE after its ring is drained, ~10^7 periods late,
 *     says exactly 255; the ring held exactly cq_entries CQEs, the
 *     overflow flag and count said one expiration waits, nothing was
 *     dropped;
 *   - STATS expired_total is exactly the CQEs read;
 *   - afterwards each instance still works: CANCEL of the storming id
 *     returns 0, no CQE follows the cancel, and a one-shot fires.
 * UBSAN (overrun arithmetic near U64 limits) is the kernel log's.
 */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include "kselftest_harness.h"
#include "common.h"

#define STORM_NS	(10 * NSEC_PER_SEC)
#define STEP_NS		(50 * NSEC_PER_MSEC)
#define MAX_LAG_NS	(5 * NSEC_PER_SEC)
#define WATCHDOG	"/proc/sys/kernel/watchdog_thresh"
#define UD_STORM	0x570e0000ULL
#define ID		7

struct storm {
	struct timerring tr;
	__u16 gen;
	int cpu;
	__u64 armed_at;		/* CLOCK_MONOTONIC before the ARM */
};

FIXTURE(storm) {
	struct storm big, small;
	char watchdog[32];	/* the value to restore, "" if none */
};

static void pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

static int ncpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n > 1 ? 2 : 1;
}

static void open_storm(struct __test_metadata *_metadata, struct storm *s,
		       __u32 cq_entries, int cpu)
{
	struct timerring_params p;

	tr_default_params(&p);
	p.max_timers = 64;
	p.cq_entries = cq_entries;
	p.resolution_ns = TIMERRING_RES_NS_MIN;
	s->cpu = cpu;
	pin(cpu);
	TR_OPEN_OR_SKIP(&s->tr, &p);
	if (!(s->tr.params.features & TIMERRING_FEAT_PERIODIC))
		SKIP(return, "no TIMERRING_FEAT_PERIODIC");
	ASSERT_EQ(TIMERRING_RES_NS_MIN, s->tr.params.resolution_ns);
	ASSERT_EQ(cq_entries, s->tr.params.cq_entries);
}

FIXTURE_SETUP(storm)
{
	struct timerring_version v;
	char buf[32];

	self->big.tr.fd = -1;
	self->small.tr.fd = -1;
	self->watchdog[0] = 0;
	if (timerring_version(-1, &v))
		SKIP(return, "no " TIMERRING_DEV_PATH);
	open_storm(_metadata, &self->big, v.max_cq_entries, 0);
	open_storm(_metadata, &self->small, TIMERRING_CQ_ENTRIES_MIN,
		   ncpus() - 1);
	if (tr_read_text(WATCHDOG, buf, sizeof(buf)) > 0) {
		snprintf(self->watchdog, sizeof(self->watchdog), "%s", buf);
		if (tr_write_file(WATCHDOG, "2"))
			self->watchdog[0] = 0;
	}
	if (!self->watchdog[0])
		TH_LOG("no writable %s: the default soft lockup threshold applies",
		       WATCHDOG);
}

FIXTURE_TEARDOWN(storm)
{
	if (self->watchdog[0])
		tr_write_file(WATCHDOG, self->watchdog);
	if (self->big.tr.fd >= 0)
		timerring_close(&self->big.tr);
	if (self->small.tr.fd >= 0)
		timerring_close(&self->small.tr);
}

/* Arm the storming id of @s from its CPU: every 1 us from now. */
static int arm_storm(struct storm *s)
{
	int r;

	pin(s->cpu);
	s->armed_at = now_ns(CLOCK_MONOTONIC);
	r = tr_arm(&s->tr, ID, 0, 0, UD_STORM + s->cpu,
		   TIMERRING_RES_NS_MIN);
	if (r >= 0)
		s->gen = timerring_res_gen(r);
	return r;
}

struct tally {
	__u64 cqes, periods, saturated, bad;
	unsigned int max_overruns;
};

/* Consume every ready CQE of @s into @t, checking each. */
static void tally_ready(struct storm *s, struct tally *t)
{
	struct io_uring_cqe *cqe;
	unsigned int head, n = 0;
	__u32 want = TIMERRING_CQE_F_MORE | TIMERRING_CQE_F_PERIODIC |
		     (__u32)s->gen << TIMERRING_CQE_GEN_SHIFT;

	timerring_for_each_cqe(&s->tr, head, cqe) {
		unsigned int o = timerring_cqe_overruns(cqe);

		n++;
		t->cqes++;
		t->periods += 1 + o;
		t->saturated += o == TIMERRING_CQE_OVERRUN_MASK;
		if (o > t->max_overruns)
			t->max_overruns = o;
		if (cqe->res != ID || cqe->user_data != UD_STORM + s->cpu ||
		    (cqe->flags & ~(TIMERRING_CQE_OVERRUN_MASK <<
				    TIMERRING_CQE_OVERRUN_SHIFT)) != want)
			t->bad++;
	}
	timerring_cq_advance(&s->tr, n);
}

/* Periods of a 1 us timer armed (due) at @armed that are due by @now. */
static __u64 periods_due(__u64 armed, __u64 now)
{
	return (now - armed) / TIMERRING_RES_NS_MIN + 1;
}

/*
 * Cancel the storm of @s, then drain it: the cancel returns 0 and no CQE
 * follows it.
 */
static void stop_storm(struct __test_metadata *_metadata, struct storm *s,
		       struct tally *t)
{
	struct timerring_stats st;
	__u64 cancelled_at;

	EXPECT_EQ(0, tr_cancel(&s->tr, ID));
	cancelled_at = now_ns(CLOCK_MONOTONIC);
	tally_ready(s, t);
	/* anything posted after the cancel would show now */
	EXPECT_EQ(0, tr_settle(&s->tr, 20 * NSEC_PER_MSEC));
	EXPECT_FALSE(timerring_cq_overflow_pending(&s->tr));
	EXPECT_EQ(0, t->bad);
	EXPECT_GE(periods_due(s->armed_at, cancelled_at), t->periods)
		TH_LOG("more periods delivered than were due");
	ASSERT_EQ(0, timerring_stats(&s->tr, &st));
	EXPECT_EQ(t->cqes, st.expired_total);
	EXPECT_EQ(0, st.dropped_total);
	EXPECT_EQ(0, st.armed_now);
	EXPECT_EQ(0, st.overflow_now);
}

struct lag {
	int cpu;
	__u64 end;
	__u64 max_lag;
	unsigned int steps;
};

static void *sleeper(void *arg)
{
	struct lag *l = arg;

	pin(l->cpu);
	while (now_ns(CLOCK_MONOTONIC) < l->end) {
		__u64 t = now_ns(CLOCK_MONOTONIC), lag;

		sleep_ns(STEP_NS);
		lag = now_ns(CLOCK_MONOTONIC) - t - STEP_NS;
		if (lag > l->max_lag)
			l->max_lag = lag;
		l->steps++;
	}
	return NULL;
}

TEST_F_TIMEOUT(storm, no_consumer, 180)
{
	struct tally big = { 0 }, small = { 0 };
	struct io_uring_cqe *cqe;
	struct timerring_stats st;
	struct lag lag = { .cpu = self->big.cpu };
	pthread_t th;
	__u64 t0;

	t0 = now_ns(CLOCK_MONOTONIC);
	lag.end = t0 + STORM_NS;
	ASSERT_LE(0, arm_storm(&self->big));
	ASSERT_LE(0, arm_storm(&self->small));
	ASSERT_EQ(0, pthread_create(&th, NULL, sleeper, &lag));
	ASSERT_EQ(0, pthread_join(th, NULL));
	TH_LOG("%u sleeps of 50 ms on cpu %d during the storm, woken up to %llu ms late",
	       lag.steps, lag.cpu,
	       (unsigned long long)lag.max_lag / NSEC_PER_MSEC);
	EXPECT_GT(MAX_LAG_NS, lag.max_lag);

	/* small: a full ring, one expiration waiting, nothing dropped */
	ASSERT_EQ(0, timerring_stats(&self->small.tr, &st));
	EXPECT_EQ(TIMERRING_CQ_ENTRIES_MIN, timerring_cq_ready(&self->small.tr));
	EXPECT_TRUE(timerring_cq_overflow_pending(&self->small.tr));
	EXPECT_EQ(1, *self->small.tr.cq.koverflow_pending);
	EXPECT_EQ(1, st.overflow_now);
	EXPECT_EQ(0, st.dropped_total);
	EXPECT_EQ(0, *self->small.tr.cq.koverflow);
	EXPECT_EQ(TIMERRING_CQ_ENTRIES_MIN, st.expired_total);
	tally_ready(&self->small, &small);
	EXPECT_EQ(TIMERRING_CQ_ENTRIES_MIN, small.cqes);
	/* posting it now: ~10^7 periods missed, saturated at 255 */
	ASSERT_LE(1, timerring_wait(&self->small.tr, 1, WAIT_LONG_NS));
	cqe = timerring_peek_cqe(&self->small.tr);
	ASSERT_NE(NULL, cqe);
	EXPECT_EQ(TIMERRING_CQE_OVERRUN_MASK, timerring_cqe_overruns(cqe));
	EXPECT_TRUE(timerring_cqe_more(cqe));
	EXPECT_EQ(ID, cqe->res);
	stop_storm(_metadata, &self->small, &small);
	EXPECT_LE(1, small.saturated);

	/* big: the storm ran at whatever rate the machine allowed */
	tally_ready(&self->big, &big);
	stop_storm(_metadata, &self->big, &big);
	TH_LOG("big ring (%u entries): %llu CQEs, %llu periods of %llu due, %llu saturated, overruns up to %u",
	       self->big.tr.params.cq_entries,
	       (unsigned long long)big.cqes, (unsigned long long)big.periods,
	       (unsigned long long)periods_due(self->big.armed_at,
					       now_ns(CLOCK_MONOTONIC)),
	       (unsigned long long)big.saturated, big.max_overruns);
	EXPECT_LT(TIMERRING_CQ_ENTRIES_MIN, big.cqes);

	/* both still work */
	EXPECT_EQ(0, tr_fires(&self->big.tr, 1));
	EXPECT_EQ(0, tr_fires(&self->small.tr, 1));
}

TEST_HARNESS_MAIN
