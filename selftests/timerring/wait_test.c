// SPDX-License-Identifier: GPL-2.0
/*
 * timerring: waiting for expirations: poll(), epoll, TIMERRING_IOC_WAIT
 * and eventfd notification.
 */
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/time.h>
#include "kselftest_harness.h"
#include "common.h"

#define HOUR_NS		(3600 * NSEC_PER_SEC)
#define LONG_MS		5000

FIXTURE(w) {
	struct timerring tr;
};

FIXTURE_SETUP(w)
{
	struct timerring_params p;

	tr_default_params(&p);
	p.cq_entries = 64;
	TR_OPEN_OR_SKIP(&self->tr, &p);
}

FIXTURE_TEARDOWN(w)
{
	if (self->tr.fd >= 0)
		timerring_close(&self->tr);
}

static short poll1(int fd, short events, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	int ret = poll(&pfd, 1, timeout_ms);

	return ret <= 0 ? ret : pfd.revents;
}

TEST_F(w, poll_readiness)
{
	struct timerring *tr = &self->tr;
	__u64 t0;

	/* Nothing armed: not readable, but never an error either. */
	EXPECT_EQ(0, poll1(tr->fd, POLLIN, 0));
	ASSERT_GE(tr_arm(tr, 1, HOUR_NS, 0, 0, 0), 0);
	EXPECT_EQ(0, poll1(tr->fd, POLLIN, 20));

	t0 = now_ns(CLOCK_MONOTONIC);
	ASSERT_GE(tr_arm(tr, 2, 20 * NSEC_PER_MSEC, 0, 0, 0), 0);
	EXPECT_EQ(POLLIN, poll1(tr->fd, POLLIN, LONG_MS) & (POLLIN | POLLERR));
	EXPECT_GE(now_ns(CLOCK_MONOTONIC), t0 + 20 * NSEC_PER_MSEC);
	EXPECT_EQ(1, timerring_cq_ready(tr));
	/* Level-triggered: still readable until consumed. */
	EXPECT_TRUE(poll1(tr->fd, POLLIN, 0) & POLLIN);
	EXPECT_EQ(1, tr_reap(tr, NULL, 8));
	EXPECT_EQ(0, poll1(tr->fd, POLLIN, 0));
	EXPECT_EQ(0, tr_cancel(tr, 1));
}

TEST_F(w, poll_overflow)
{
	struct timerring *tr = &self->tr;
	struct timerring_op ops[100];
	unsigned int i;

	/* Ring full and more waiting: readable; after draining, not. */
	for (i = 0; i < 100; i++)
		timerring_op_arm(&ops[i], i, 0, 0, i, 0);
	ASSERT_EQ(100, timerring_submit(tr, ops, 100, NULL, 0, NULL, NULL));
	EXPECT_TRUE(poll1(tr->fd, POLLIN, LONG_MS) & POLLIN);
	EXPECT_EQ(100, tr_collect(tr, NULL, 100, WAIT_LONG_NS));
	EXPECT_EQ(0, poll1(tr->fd, POLLIN, 0));
}

TEST_F(w, epoll_readiness)
{
	struct timerring *tr = &self->tr;
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = 0x1234 };
	struct epoll_event out[2];
	int ep = epoll_create1(EPOLL_CLOEXEC);

	ASSERT_LE(0, ep);
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, tr->fd, &ev));
	EXPECT_EQ(0, epoll_wait(ep, out, 2, 0));

	ASSERT_GE(tr_arm(tr, 1, 10 * NSEC_PER_MSEC, 0, 0, 0), 0);
	ASSERT_EQ(1, epoll_wait(ep, out, 2, LONG_MS));
	EXPECT_EQ(0x1234, out[0].data.u64);
	EXPECT_TRUE(out[0].events & EPOLLIN);
	EXPECT_EQ(1, tr_reap(tr, NULL, 8));
	EXPECT_EQ(0, epoll_wait(ep, out, 2, 0));

	/* Edge-triggered: one event per new batch of expirations. */
	ev.events = EPOLLIN | EPOLLET;
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_MOD, tr->fd, &ev));
	ASSERT_GE(tr_arm(tr, 2, 10 * NSEC_PER_MSEC, 0, 0, 0), 0);
	ASSERT_EQ(1, epoll_wait(ep, out, 2, LONG_MS));
	EXPECT_EQ(0, epoll_wait(ep, out, 2, 20));
	ASSERT_GE(tr_arm(tr, 3, 10 * NSEC_PER_MSEC, 0, 0, 0), 0);
	ASSERT_EQ(1, epoll_wait(ep, out, 2, LONG_MS));
	EXPECT_EQ(2, tr_reap(tr, NULL, 8));
	close(ep);
}

TEST_F(w, wait_timeout)
{
	struct timerring *tr = &self->tr;
	__u64 t0, t1;
	int ret;

	/* Poll: nothing ready. */
	EXPECT_EQ(0, timerring_wait(tr, 0, 0));
	t0 = now_ns(CLOCK_MONOTONIC);
	ret = timerring_wait(tr, 1, 0);
	t1 = now_ns(CLOCK_MONOTONIC);
	EXPECT_TRUE(ret == -ETIME || ret == 0) TH_LOG("ret %d", ret);
	EXPECT_LT(t1 - t0, NSEC_PER_SEC);

	/* Timeout with nothing armed: -ETIME, not early. */
	t0 = now_ns(CLOCK_MONOTONIC);
	EXPECT_EQ(-ETIME, timerring_wait(tr, 1, 30 * NSEC_PER_MSEC));
	t1 = now_ns(CLOCK_MONOTONIC);
	EXPECT_GE(t1 - t0, 30 * NSEC_PER_MSEC);

	/* Timeout before the timer: -ETIME. */
	ASSERT_GE(tr_arm(tr, 1, HOUR_NS, 0, 0, 0), 0);
	EXPECT_EQ(-ETIME, timerring_wait(tr, 1, 20 * NSEC_PER_MSEC));
	/* min_complete not reached: -ETIME although one is ready. */
	ASSERT_GE(tr_arm(tr, 2, 0, 0, 0, 0), 0);
	EXPECT_EQ(1, timerring_wait(tr, 1, WAIT_LONG_NS));
	EXPECT_EQ(-ETIME, timerring_wait(tr, 2, 20 * NSEC_PER_MSEC));
	EXPECT_EQ(1, timerring_wait(tr, 0, 0));
	EXPECT_EQ(1, tr_reap(tr, NULL, 8));
	EXPECT_EQ(0, tr_cancel(tr, 1));
}

TEST_F(w, wait_min_complete)
{
	struct timerring *tr = &self->tr;
	__u64 t0;
	int ret;

	t0 = now_ns(CLOCK_MONOTONIC);
	ASSERT_GE(tr_arm(tr, 1, 10 * NSEC_PER_MSEC, 0, 1, 0), 0);
	ASSERT_GE(tr_arm(tr, 2, 20 * NSEC_PER_MSEC, 0, 2, 0), 0);
	ASSERT_GE(tr_arm(tr, 3, 40 * NSEC_PER_MSEC, 0, 3, 0), 0);
	ret = timerring_wait(tr, 3, WAIT_LONG_NS);
	EXPECT_EQ(3, ret);
	EXPECT_GE(now_ns(CLOCK_MONOTONIC), t0 + 40 * NSEC_PER_MSEC);
	EXPECT_EQ(3, tr_reap(tr, NULL, 8));

	/* Forever (timeout < 0). */
	ASSERT_GE(tr_arm(tr, 4, 10 * NSEC_PER_MSEC, 0, 4, 0), 0);
	EXPECT_EQ(1, timerring_wait(tr, 1, -1));
	EXPECT_EQ(1, tr_reap(tr, NULL, 8));
}

TEST_F(w, wait_struct_checks)
{
	struct timerring_wait wt;

	memset(&wt, 0, sizeof(wt));
	wt.flags = 1;
	EXPECT_EQ(-EINVAL, tr_ioctl(self->tr.fd, TIMERRING_IOC_WAIT, &wt));
	memset(&wt, 0, sizeof(wt));
	wt.resv = 1;
	EXPECT_EQ(-EINVAL, tr_ioctl(self->tr.fd, TIMERRING_IOC_WAIT, &wt));
	EXPECT_EQ(-EFAULT, tr_ioctl(self->tr.fd, TIMERRING_IOC_WAIT, NULL));
	memset(&wt, 0, sizeof(wt));
	wt.ready = 77;
	EXPECT_EQ(0, tr_ioctl(self->tr.fd, TIMERRING_IOC_WAIT, &wt));
	EXPECT_EQ(0, wt.ready);
}

static void on_alarm(int sig)
{
}

TEST_F(w, wait_interrupted)
{
	struct sigaction sa = { .sa_handler = on_alarm };
	struct itimerval it = { .it_value = { .tv_usec = 30000 } };
	__u64 t0;

	sigemptyset(&sa.sa_mask);
	ASSERT_EQ(0, sigaction(SIGALRM, &sa, NULL));	/* no SA_RESTART */
	t0 = now_ns(CLOCK_MONOTONIC);
	ASSERT_EQ(0, setitimer(ITIMER_REAL, &it, NULL));
	EXPECT_EQ(-EINTR, timerring_wait(&self->tr, 1, 10 * WAIT_LONG_NS));
	EXPECT_LT(now_ns(CLOCK_MONOTONIC) - t0, 5 * NSEC_PER_SEC);
}

struct waker {
	struct timerring *tr;
	int ret;
};

static void *waiter(void *arg)
{
	struct waker *w = arg;

	w->ret = timerring_wait(w->tr, 2, 2 * WAIT_LONG_NS);
	return NULL;
}

TEST_F(w, wait_from_other_thread)
{
	struct waker wk = { .tr = &self->tr, .ret = -1000 };
	pthread_t th;

	ASSERT_EQ(0, pthread_create(&th, NULL, waiter, &wk));
	sleep_ns(20 * NSEC_PER_MSEC);
	ASSERT_GE(tr_arm(&self->tr, 1, 0, 0, 0, 0), 0);
	sleep_ns(20 * NSEC_PER_MSEC);
	ASSERT_GE(tr_arm(&self->tr, 2, 10 * NSEC_PER_MSEC, 0, 0, 0), 0);
	ASSERT_EQ(0, pthread_join(th, NULL));
	EXPECT_EQ(2, wk.ret);
}

static __u64 efd_read(int efd)
{
	__u64 v = 0;

	if (read(efd, &v, sizeof(v)) != sizeof(v))
		return 0;
	return v;
}

TEST_F(w, eventfd)
{
	struct timerring *tr = &self->tr;
	int efd, efd2;

	if (!(tr->params.features & TIMERRING_FEAT_EVENTFD))
		SKIP(return, "no TIMERRING_FEAT_EVENTFD");
	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ASSERT_LE(0, efd);
	ASSERT_EQ(0, timerring_register_eventfd(tr, efd));

	ASSERT_GE(tr_arm(tr, 1, 10 * NSEC_PER_MSEC, 0, 0, 0), 0);
	EXPECT_TRUE(poll1(efd, POLLIN, LONG_MS) & POLLIN);
	EXPECT_GE(efd_read(efd), 1);
	EXPECT_EQ(1, tr_reap(tr, NULL, 8));

	/* Disabled through the ring flag: no signal, CQE still posted. */
	timerring_cq_eventfd_toggle(tr, false);
	ASSERT_GE(tr_arm(tr, 2, 0, 0, 0, 0), 0);
	EXPECT_EQ(1, timerring_wait(tr, 1, WAIT_LONG_NS));
	sleep_ns(10 * NSEC_PER_MSEC);
	EXPECT_EQ(0, poll1(efd, POLLIN, 0));
	EXPECT_EQ(1, tr_reap(tr, NULL, 8));
	timerring_cq_eventfd_toggle(tr, true);

	/* Replace the registration: the new eventfd is signalled. */
	efd2 = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ASSERT_LE(0, efd2);
	ASSERT_EQ(0, timerring_unregister_eventfd(tr));
	ASSERT_EQ(0, timerring_register_eventfd(tr, efd2));
	ASSERT_GE(tr_arm(tr, 3, 0, 0, 0, 0), 0);
	EXPECT_TRUE(poll1(efd2, POLLIN, LONG_MS) & POLLIN);
	EXPECT_GE(efd_read(efd2), 1);
	EXPECT_EQ(0, poll1(efd, POLLIN, 0));
	EXPECT_EQ(1, tr_collect(tr, NULL, 1, WAIT_LONG_NS));

	/* Unregistered: nothing signalled any more. */
	ASSERT_EQ(0, timerring_unregister_eventfd(tr));
	ASSERT_GE(tr_arm(tr, 4, 0, 0, 0, 0), 0);
	EXPECT_EQ(1, tr_collect(tr, NULL, 1, WAIT_LONG_NS));
	sleep_ns(10 * NSEC_PER_MSEC);
	EXPECT_EQ(0, poll1(efd, POLLIN, 0));
	EXPECT_EQ(0, poll1(efd2, POLLIN, 0));

	/* Bad descriptors. */
	EXPECT_EQ(-EBADF, timerring_register_eventfd(tr, 12345));
	EXPECT_NE(0, timerring_register_eventfd(tr, tr->fd));
	EXPECT_EQ(-EFAULT, tr_ioctl(tr->fd, TIMERRING_IOC_EVENTFD, NULL));

	/* Closing the eventfd while registered is harmless. */
	ASSERT_EQ(0, timerring_register_eventfd(tr, efd));
	close(efd);
	ASSERT_GE(tr_arm(tr, 5, 0, 0, 0, 0), 0);
	EXPECT_EQ(1, tr_collect(tr, NULL, 1, WAIT_LONG_NS));
	close(efd2);
}

TEST_HARNESS_MAIN
