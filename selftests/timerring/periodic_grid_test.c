// SPDX-License-Identifier: GPL-2.0
/*
 * timerring: periodic timers keep a nanosecond grid.
 *
 * Period k of a timer armed at expiry E with interval I is due at
 * E + k * I exactly, whatever the tick, fires at the first tick at or
 * after that, and periods missed in between are counted as overruns. So
 * over a run the periods delivered (the sum over CQEs of 1 + overruns)
 * match the time elapsed, and no CQE is there before its due time. A
 * timer re-armed one interval after the tick it fired on instead drifts:
 * 10 ms on a 7 ms tick fires every 14 ms.
 */
#include <stdlib.h>
#include "kselftest_harness.h"
#include "common.h"

#define ID		3
#define UDATA		0x9e51
#define RUN_MIN_NS	NSEC_PER_SEC
#define RUN_MIN_PERIODS	100
#define WINDOW		16	/* rate: best of the last 16 samples */

FIXTURE(pg) {
	struct timerring tr;
};

FIXTURE_VARIANT(pg) {
	__u64 res_ns;
	__u64 iv_ns;
};

FIXTURE_VARIANT_ADD(pg, tick_7ms_every_10ms) {
	.res_ns = 7 * NSEC_PER_MSEC,
	.iv_ns = 10 * NSEC_PER_MSEC,
};

FIXTURE_VARIANT_ADD(pg, tick_1ms_every_1500us) {
	.res_ns = NSEC_PER_MSEC,
	.iv_ns = 1500 * NSEC_PER_USEC,
};

FIXTURE_VARIANT_ADD(pg, tick_100us_every_250us) {
	.res_ns = 100 * NSEC_PER_USEC,
	.iv_ns = 250 * NSEC_PER_USEC,
};

FIXTURE_VARIANT_ADD(pg, tick_3ms_every_5ms) {
	.res_ns = 3 * NSEC_PER_MSEC,
	.iv_ns = 5 * NSEC_PER_MSEC,
};

FIXTURE_SETUP(pg)
{
	struct timerring_params p;

	tr_default_params(&p);
	p.cq_entries = 64;
	p.max_timers = 64;
	p.resolution_ns = variant->res_ns;
	TR_OPEN_OR_SKIP(&self->tr, &p);
	if (!(self->tr.params.features & TIMERRING_FEAT_PERIODIC))
		SKIP(return, "no TIMERRING_FEAT_PERIODIC");
	/* The actual tick may differ from the one asked for. */
	ASSERT_LE(self->tr.params.resolution_ns, variant->iv_ns);
	if (variant->iv_ns % self->tr.params.resolution_ns == 0)
		TH_LOG("tick %llu ns divides the interval: no drift to catch",
		       (unsigned long long)self->tr.params.resolution_ns);
}

FIXTURE_TEARDOWN(pg)
{
	if (self->tr.fd >= 0)
		timerring_close(&self->tr);
}

/* Periods due at or before @now: floor((now - first) / iv) + 1. */
static __u64 periods_due(__u64 first, __u64 iv, __u64 now)
{
	return now < first ? 0 : (now - first) / iv + 1;
}

TEST_F_TIMEOUT(pg, long_run_rate, 60)
{
	struct timerring *tr = &self->tr;
	__u64 iv = variant->iv_ns, first, end, run, now = 0;
	__u64 count = 0, overruns = 0, due = 0, ncqe = 0;
	__u64 early = 0, early_count = 0, early_due = 0, early_at = 0;
	__u64 bad = 0, saturated = 0, samples = 0;
	__s64 win[WINDOW], best;
	unsigned int i, nwin;
	__s32 gen;

	run = RUN_MIN_PERIODS * iv;
	if (run < RUN_MIN_NS)
		run = RUN_MIN_NS;
	first = timerring_now(tr) + iv;
	end = first + run;
	gen = tr_arm(tr, ID, first, TIMERRING_OPF_ABS, UDATA, iv);
	ASSERT_GE(gen, 0);

	do {
		struct io_uring_cqe cqe[64];
		unsigned int n;

		timerring_wait(tr, 1, NSEC_PER_SEC);
		n = tr_reap(tr, cqe, 64);
		/* Seen: only now read the clock. */
		now = now_ns(CLOCK_MONOTONIC);
		if (!n)
			continue;
		for (i = 0; i < n; i++) {
			unsigned int ov = timerring_cqe_overruns(&cqe[i]);

			if (cqe[i].res != ID || cqe[i].user_data != UDATA ||
			    !timerring_cqe_more(&cqe[i]) ||
			    timerring_cqe_is_stale(&cqe[i], gen))
				bad++;
			saturated += ov == TIMERRING_CQE_OVERRUN_MASK;
			overruns += ov;
			count += 1 + ov;
			ncqe++;
		}
		due = periods_due(first, iv, now);
		if (count > due && !early++) {
			early_count = count;
			early_due = due;
			early_at = now;
		}
		win[samples++ % WINDOW] = (__s64)(due - count);
	} while (now < end);
	EXPECT_EQ(0, tr_cancel(tr, ID));

	TH_LOG("tick %llu us, interval %llu us: %llu periods in %llu CQEs (%llu overruns) in %llu ms, %llu due",
	       (unsigned long long)(tr->params.resolution_ns / NSEC_PER_USEC),
	       (unsigned long long)(iv / NSEC_PER_USEC),
	       (unsigned long long)count, (unsigned long long)ncqe,
	       (unsigned long long)overruns,
	       (unsigned long long)((now - first) / NSEC_PER_MSEC),
	       (unsigned long long)due);
	ASSERT_LT(0, ncqe);
	EXPECT_EQ(0, bad);
	EXPECT_EQ(0, saturated) TH_LOG("overruns saturated: counts are low");
	/* No period before its due time. */
	EXPECT_EQ(0, early)
		TH_LOG("%llu periods read %llu ns after the first was due: only %llu were due",
		       (unsigned long long)early_count,
		       (unsigned long long)(early_at - first),
		       (unsigned long long)early_due);
	/*
	 * The rate: periods delivered == periods due, +-1. The best of the
	 * last WINDOW samples discounts the wake-up latency of one read
	 * (an emulated guest can be late by several intervals of 250 us);
	 * a drifting grid falls behind by ever more periods and no sample
	 * of the end of the run is close.
	 */
	nwin = samples < WINDOW ? samples : WINDOW;
	best = win[0];
	for (i = 1; i < nwin; i++)
		if (llabs(win[i]) < llabs(best))
			best = win[i];
	TH_LOG("best of the last %u samples: %lld periods behind", nwin,
	       (long long)best);
	EXPECT_GE(nwin, 2);
	EXPECT_LE(llabs(best), 1);
}

TEST_HARNESS_MAIN
