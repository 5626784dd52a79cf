// SPDX-License-Identifier: GPL-2.0
/*
 * timerring: no lost wakeup.
 *
 * Round after round, one timer due at once or in a few us is armed and
 * the main thread sleeps in epoll_wait(-1) until its CQE is there, then
 * consumes it (head advanced with a store-release) and goes again. The
 * arming is done by the main thread itself, or by a second thread while
 * the main thread goes to sleep. A wakeup lost between the CQE being
 * posted and the waiter being queued shows as a hang, which a SIGALRM
 * watchdog turns into a failure.
 *
 * poll_spin: poll(0) in a tight loop on one CPU while periodic timers fire
 * from the other: once the ring shows a CQE that only this thread could
 * consume, poll must report the fd readable. It also keeps poll's
 * lockless reads racing the pass's writes, for KCSAN: on a KCSAN kernel
 * it sets 8x the watchpoints and 5x their window for its spin only
 * (KCSAN_BOOST; with KCSAN's defaults a planted plain read of the
 * published tail in poll was not reported in two runs, with these it
 * was).
 */
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <poll.h>
#include <sched.h>
#include <sys/epoll.h>
#include "kselftest_harness.h"
#include "common.h"

#define ROUNDS		20000
#define RUN_NS		(10 * NSEC_PER_SEC)
#define HANG_S		5	/* no round may take this long */
#define ID		0

/* Shared with the SIGALRM handler: lock-free atomics. */
static int progress;	/* rounds completed */
static int hung;
static int last_progress;

static void on_alarm(int sig)
{
	int p = TR_READ_ONCE(progress);

	if (p == last_progress)
		TR_WRITE_ONCE(hung, 1);
	last_progress = p;
	/* Again: a hang also interrupts the wait it is in, if any. */
	alarm(HANG_S);
}

/* Round r: due at once, or 2, 4, 6 us from now. */
static __u64 round_expiry(unsigned int r)
{
	return (r % 4) * 2 * NSEC_PER_USEC;
}

/* The arming thread of the threaded variant. */
struct armer {
	struct timerring *tr;
	sem_t go;		/* posted once per round (and to stop) */
	int stop;
	int err;
	unsigned int round;
};

FIXTURE(ps) {
	struct timerring tr;
	int ep;
	struct armer a;
};

FIXTURE_VARIANT(ps) {
	bool threaded;
	bool edge;
};

FIXTURE_VARIANT_ADD(ps, self_armed) {
	.threaded = false,
	.edge = false,
};

FIXTURE_VARIANT_ADD(ps, self_armed_edge) {
	.threaded = false,
	.edge = true,
};

FIXTURE_VARIANT_ADD(ps, other_thread_arms) {
	.threaded = true,
	.edge = false,
};

FIXTURE_SETUP(ps)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = 0x7e57 };
	struct sigaction sa = { .sa_handler = on_alarm };
	struct timerring_params p;

	tr_default_params(&p);
	p.cq_entries = 64;
	p.max_timers = 64;
	p.resolution_ns = TIMERRING_RES_NS_MIN;
	TR_OPEN_OR_SKIP(&self->tr, &p);
	self->ep = epoll_create1(EPOLL_CLOEXEC);
	ASSERT_LE(0, self->ep);
	if (variant->edge)
		ev.events |= EPOLLET;
	ASSERT_EQ(0, epoll_ctl(self->ep, EPOLL_CTL_ADD, self->tr.fd, &ev));
	/* No SA_RESTART: the watchdog interrupts epoll_wait(). */
	ASSERT_EQ(0, sigaction(SIGALRM, &sa, NULL));
	self->a.tr = &self->tr;
	ASSERT_EQ(0, sem_init(&self->a.go, 0, 0));
}

FIXTURE_TEARDOWN(ps)
{
	alarm(0);
	if (self->ep >= 0)
		close(self->ep);
	if (self->tr.fd >= 0)
		timerring_close(&self->tr);
}

/* The watchdog fired, or the arming thread gave up. */
static bool stuck(struct armer *a)
{
	return TR_READ_ONCE(hung) || TR_READ_ONCE(a->err);
}

static void *arm_thread(void *arg)
{
	struct armer *a = arg;
	unsigned int r;

	for (r = 0;; r++) {
		while (sem_wait(&a->go) && errno == EINTR)
			;
		if (TR_READ_ONCE(a->stop))
			break;
		TR_WRITE_ONCE(a->round, r);
		if (tr_arm(a->tr, ID, round_expiry(r), 0, r, 0) < 0) {
			TR_WRITE_ONCE(a->err, 1);
			break;
		}
	}
	return NULL;
}

TEST_F_TIMEOUT(ps, no_lost_wakeup, 120)
{
	struct timerring *tr = &self->tr;
	struct timerring_stats st;
	struct epoll_event ev;
	struct io_uring_cqe *cqe;
	unsigned int r, ready = 0, bad_ready = 0, bad_cqe = 0, spurious = 0;
	sigset_t alrm, old;
	pthread_t th;
	__u64 t0, dt;
	int n = 0;

	sigemptyset(&alrm);
	sigaddset(&alrm, SIGALRM);
	if (variant->threaded) {
		/* The watchdog signal goes to the waiting thread only. */
		ASSERT_EQ(0, pthread_sigmask(SIG_BLOCK, &alrm, &old));
		ASSERT_EQ(0, pthread_create(&th, NULL, arm_thread, &self->a));
		ASSERT_EQ(0, pthread_sigmask(SIG_SETMASK, &old, NULL));
	}
	alarm(HANG_S);
	t0 = now_ns(CLOCK_MONOTONIC);
	for (r = 0; r < ROUNDS; r++) {
		if (variant->threaded)
			sem_post(&self->a.go);
		else
			ASSERT_LE(0, tr_arm(tr, ID, round_expiry(r), 0, r, 0))
				TH_LOG("round %u", r);
		for (;;) {
			n = -1;
			errno = EINTR;
			if (!stuck(&self->a))
				n = epoll_wait(self->ep, &ev, 1, -1);
			if (n < 0 && errno == EINTR && !stuck(&self->a))
				continue;
			if (n != 1)
				break;
			ready = timerring_cq_ready(tr);
			if (ready)
				break;
			/* Reported readable without a CQE. */
			spurious++;
		}
		if (n != 1)
			break;
		EXPECT_EQ(0x7e57, ev.data.u64);
		/* One timer armed: one CQE. */
		if (ready != 1)
			bad_ready++;
		cqe = timerring_peek_cqe(tr);
		if (cqe->res != ID || cqe->user_data != r)
			bad_cqe++;
		/* Consume: head store-release after reading the CQE. */
		__atomic_store_n(tr->cq.khead, *tr->cq.khead + ready,
				 __ATOMIC_RELEASE);
		TR_WRITE_ONCE(progress, r + 1);
		if (now_ns(CLOCK_MONOTONIC) - t0 > RUN_NS) {
			r++;
			break;
		}
	}
	dt = now_ns(CLOCK_MONOTONIC) - t0;
	alarm(0);
	if (variant->threaded) {
		TR_WRITE_ONCE(self->a.stop, 1);
		sem_post(&self->a.go);
		pthread_join(th, NULL);
	}
	TH_LOG("%d rounds in %llu ms", progress,
	       (unsigned long long)(dt / NSEC_PER_MSEC));
	ASSERT_FALSE(hung)
		TH_LOG("hang in round %d: %u CQE(s) in the ring (%s)",
		       progress, timerring_cq_ready(tr),
		       timerring_cq_ready(tr) ? "lost wakeup" :
		       "timer never fired");
	ASSERT_FALSE(self->a.err) TH_LOG("ARM failed in round %u",
					 self->a.round);
	ASSERT_EQ(1, n) TH_LOG("epoll_wait: %s", strerror(errno));
	EXPECT_EQ(0, bad_ready);
	EXPECT_EQ(0, spurious);
	EXPECT_EQ(0, bad_cqe);
	EXPECT_EQ(r, progress);
	/* A sane number of rounds: at least one per 5 ms. */
	EXPECT_GE(progress, 100);
	ASSERT_EQ(0, timerring_stats(tr, &st));
	EXPECT_EQ(progress, st.expired_total);
	EXPECT_EQ(0, st.armed_now);
	EXPECT_EQ(0, timerring_cq_ready(tr));
}

#define SPIN_IDS	8
#define SPIN_NS		(4 * NSEC_PER_SEC)
#define SPIN_IVAL_NS	(100 * NSEC_PER_USEC)
#define KCSAN_PARAM	"/sys/module/kcsan/parameters/"

/* KCSAN's sampling, as it was before kcsan_boost() (if it was set). */
struct kcsan_saved {
	char skip[32], udelay[32];
	bool set;
};

static void kcsan_boost(struct kcsan_saved *k)
{
	k->set = tr_read_text(KCSAN_PARAM "skip_watch", k->skip,
			      sizeof(k->skip)) > 0 &&
		 tr_read_text(KCSAN_PARAM "udelay_task", k->udelay,
			      sizeof(k->udelay)) > 0 &&
		 !tr_write_file(KCSAN_PARAM "skip_watch", "500") &&
		 !tr_write_file(KCSAN_PARAM "udelay_task", "400");
}

static void kcsan_restore(struct kcsan_saved *k)
{
	if (!k->set)
		return;
	tr_write_file(KCSAN_PARAM "skip_watch", k->skip);
	tr_write_file(KCSAN_PARAM "udelay_task", k->udelay);
}

static void pin_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

TEST(poll_spin)
{
	struct timerring tr;
	struct timerring_params p;
	struct pollfd pfd;
	struct io_uring_cqe *cqe;
	unsigned long polls = 0, readable = 0, missed = 0, cqes = 0, bad = 0;
	unsigned int head, i, tries, n;
	struct kcsan_saved ks;
	__u64 t0;

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		SKIP(return, "needs two CPUs");
	tr_default_params(&p);
	p.cq_entries = 256;
	p.max_timers = SPIN_IDS;
	p.resolution_ns = TIMERRING_RES_NS_MIN;
	TR_OPEN_OR_SKIP(&tr, &p);
	/* armed from cpu1: the instance's hrtimer fires there */
	pin_cpu(1);
	for (i = 0; i < SPIN_IDS; i++)
		ASSERT_LE(0, tr_arm(&tr, i, SPIN_IVAL_NS, 0, 0x5000 + i,
				    SPIN_IVAL_NS));
	pin_cpu(0);
	pfd.fd = tr.fd;
	kcsan_boost(&ks);
	t0 = now_ns(CLOCK_MONOTONIC);
	while (now_ns(CLOCK_MONOTONIC) - t0 < SPIN_NS) {
		unsigned int ready = timerring_cq_ready(&tr);

		/*
		 * A CQE visible in the ring was published by a pass whose
		 * poll-side store follows within the same lock hold: poll
		 * sees it at once or very soon (a few tries).
		 */
		for (tries = 0; tries < 1000; tries++) {
			pfd.events = POLLIN;
			pfd.revents = 0;
			if (poll(&pfd, 1, 0) < 0) {
				bad++;
				break;
			}
			polls++;
			if (pfd.revents & POLLIN || !ready)
				break;
		}
		EXPECT_EQ(0, pfd.revents & ~(POLLIN | POLLRDNORM));
		if (pfd.revents & POLLIN)
			readable++;
		else if (ready)
			missed++;
		if (!ready || polls % 16)
			continue;
		n = 0;
		timerring_for_each_cqe(&tr, head, cqe) {
			if (cqe->res >= SPIN_IDS ||
			    cqe->user_data != 0x5000 + (__u64)cqe->res ||
			    !timerring_cqe_more(cqe))
				bad++;
			n++;
		}
		timerring_cq_advance(&tr, n);
		cqes += n;
		if (timerring_cq_overflow_pending(&tr))
			timerring_wait(&tr, 0, 0);
	}
	kcsan_restore(&ks);
	TH_LOG("%lu polls, %lu readable, %lu CQEs%s", polls, readable, cqes,
	       ks.set ? " (KCSAN sampling boosted)" : "");
	EXPECT_EQ(0, missed);
	EXPECT_EQ(0, bad);
	EXPECT_LT(0, readable);
	EXPECT_LT(0, cqes);
	EXPECT_EQ(SPIN_IDS, tr_cancel_all(&tr));
	timerring_close(&tr);
}

TEST_HARNESS_MAIN
