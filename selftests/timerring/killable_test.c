// SPDX-License-Identifier: GPL-2.0
/*
 * timerring: a big SUBMIT stops promptly on SIGKILL.
 *
 * A child submits, again and again, batches of 65536 ops that alternate
 * ARM and CANCEL_ALL on the largest instance the module allows; SIGKILL
 * must reap it within 2 s: the batch stops between 256-op chunks, and a
 * CANCEL_ALL costs O(armed timers), not O(max_timers). A second thread
 * waiting for the submit lock of the same instance must be killable as
 * well. Other signals do not interrupt a batch.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include "kselftest_harness.h"
#include "common.h"

#define HOUR_NS		(3600 * NSEC_PER_SEC)
#define NOPS		TIMERRING_BATCH_MAX
#define KILL_AFTER_NS	(200 * NSEC_PER_MSEC)
#define REAP_MAX_NS	(2 * NSEC_PER_SEC)
#define GIVE_UP_NS	(60 * NSEC_PER_SEC)

/* Op i: ARM id i due in an hour (i even), CANCEL_ALL (i odd). */
static struct timerring_op *make_batch(void)
{
	struct timerring_op *ops = calloc(NOPS, sizeof(*ops));
	unsigned int i;

	if (!ops)
		return NULL;
	for (i = 0; i < NOPS; i += 2) {
		timerring_op_arm(&ops[i], i, HOUR_NS, 0, i, 0);
		timerring_op_cancel_all(&ops[i + 1]);
	}
	return ops;
}

/* The largest instance: VERSION's max_timers ids. */
static int open_largest(struct timerring *tr)
{
	struct timerring_params p;
	struct timerring_version v;
	int ret;

	ret = timerring_version(-1, &v);
	if (ret)
		return ret;
	tr_default_params(&p);
	p.cq_entries = 64;
	p.max_timers = v.max_timers;
	return timerring_open(tr, &p);
}

struct submitter {
	int fd;
	const struct timerring_op *ops;
};

static void *submit_forever(void *arg)
{
	struct submitter *sb = arg;
	struct timerring_submit s;

	for (;;)
		tr_raw_submit(sb->fd, &s, sb->ops, NULL, NOPS, 0);
	return NULL;
}

/*
 * Child: set up, say so on @wfd (1 byte: 0 ok, else the failing step),
 * then submit the batch again and again on @threads threads, so that the
 * kill lands inside a SUBMIT however fast one batch is.
 */
static void child_main(int wfd, int threads)
{
	struct submitter sb;
	struct timerring tr;
	pthread_t th;
	char c = 0;

	sb.ops = make_batch();
	if (!sb.ops)
		c = 1;
	else if (open_largest(&tr))
		c = 2;
	if (c) {
		if (write(wfd, &c, 1) != 1)
			_exit(100);
		_exit(c);
	}
	sb.fd = tr.fd;
	if (threads > 1 && pthread_create(&th, NULL, submit_forever, &sb)) {
		c = 3;
		if (write(wfd, &c, 1) != 1)
			_exit(100);
		_exit(c);
	}
	if (write(wfd, &c, 1) != 1)
		_exit(100);
	submit_forever(&sb);
}

/* What the child is doing: the syscall number it is in, from procfs. */
static void log_child_state(struct __test_metadata *_metadata, pid_t pid)
{
	char path[64], buf[128];

	snprintf(path, sizeof(path), "/proc/%d/syscall", pid);
	if (tr_read_text(path, buf, sizeof(buf)) < 0)
		return;
	buf[strcspn(buf, "\n ")] = 0;
	TH_LOG("child in syscall %s at SIGKILL (%d is ioctl)", buf,
	       (int)__NR_ioctl);
}

/* Fork a submitter with @threads threads, kill it, time the reaping. */
static void kill_and_time(struct __test_metadata *_metadata, int threads)
{
	__u64 t_kill, t, dt;
	int pfd[2], status = 0;
	char c = 99;
	pid_t pid, w;

	ASSERT_EQ(0, pipe2(pfd, O_CLOEXEC));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		/* Never outlive a test that bailed out before the kill. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(pfd[0]);
		child_main(pfd[1], threads);
		_exit(0);
	}
	close(pfd[1]);
	ASSERT_EQ(1, read(pfd[0], &c, 1));
	close(pfd[0]);
	if (c) {
		waitpid(pid, &status, 0);
		ASSERT_EQ(0, c) TH_LOG("child setup failed at step %d", c);
	}
	/* Well inside a batch, on both threads. */
	sleep_ns(KILL_AFTER_NS);
	log_child_state(_metadata, pid);
	ASSERT_EQ(0, kill(pid, SIGKILL));
	t_kill = now_ns(CLOCK_MONOTONIC);
	for (;;) {
		w = waitpid(pid, &status, WNOHANG);
		t = now_ns(CLOCK_MONOTONIC);
		if (w == pid || w < 0 || t - t_kill > GIVE_UP_NS)
			break;
		sleep_ns(NSEC_PER_MSEC);
	}
	dt = t - t_kill;
	TH_LOG("%d submitter thread(s): reaped %llu ms after SIGKILL",
	       threads, (unsigned long long)(dt / NSEC_PER_MSEC));
	ASSERT_EQ(pid, w) TH_LOG("not reaped %llu s after SIGKILL",
				 (unsigned long long)(GIVE_UP_NS / NSEC_PER_SEC));
	EXPECT_TRUE(WIFSIGNALED(status));
	if (WIFSIGNALED(status))
		EXPECT_EQ(SIGKILL, WTERMSIG(status));
	EXPECT_LT(dt, REAP_MAX_NS);
}

static void expect_module_usable(struct __test_metadata *_metadata)
{
	struct timerring tr;

	ASSERT_EQ(0, timerring_open(&tr, NULL));
	EXPECT_EQ(0, tr_fires(&tr, 1));
	timerring_close(&tr);
}

FIXTURE(k) {
	int unused;
};

FIXTURE_SETUP(k)
{
	int fd;

	TR_OPEN_DEV_OR_SKIP(fd);
	close(fd);
}

FIXTURE_TEARDOWN(k)
{
}

TEST_F_TIMEOUT(k, sigkill_during_big_batch, 120)
{
	kill_and_time(_metadata, 1);
	expect_module_usable(_metadata);
}

/* The second thread sleeps on the submit lock: killable too. */
TEST_F_TIMEOUT(k, sigkill_waiting_for_submit_lock, 120)
{
	kill_and_time(_metadata, 2);
	expect_module_usable(_metadata);
}

static int signals_seen;

static void on_usr1(int sig)
{
	__atomic_fetch_add(&signals_seen, 1, __ATOMIC_RELAXED);
}

struct one_batch {
	int fd;
	const struct timerring_op *ops;
	struct timerring_submit s;
	int ret;
	int finished;
};

static void *submit_once(void *arg)
{
	struct one_batch *b = arg;

	/* Raw ioctl: no retry on EINTR. */
	b->ret = tr_raw_submit(b->fd, &b->s, b->ops, NULL, NOPS, 0);
	TR_WRITE_ONCE(b->finished, 1);
	return NULL;
}

/*
 * Non-fatal signals (handler installed without SA_RESTART) hitting a big
 * batch neither cut it short nor fail it.
 */
TEST_F_TIMEOUT(k, other_signals_do_not_interrupt, 120)
{
	struct sigaction sa = { .sa_handler = on_usr1 };
	struct one_batch b = { 0 };
	struct timerring tr;
	struct timerring_op *ops;
	pthread_t th;
	unsigned int sent = 0;

	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
	ops = make_batch();
	ASSERT_NE(NULL, ops);
	ASSERT_EQ(0, open_largest(&tr));
	b.fd = tr.fd;
	b.ops = ops;
	ASSERT_EQ(0, pthread_create(&th, NULL, submit_once, &b));
	while (!TR_READ_ONCE(b.finished) && sent < 100000) {
		pthread_kill(th, SIGUSR1);
		sent++;
		sleep_ns(100 * NSEC_PER_USEC);
	}
	ASSERT_EQ(0, pthread_join(th, NULL));
	TH_LOG("%u signals sent, %d handled during the batch", sent,
	       TR_READ_ONCE(signals_seen));
	EXPECT_EQ(0, b.ret);
	EXPECT_EQ(NOPS, b.s.done);
	EXPECT_EQ(0, b.s.failed);
	EXPECT_EQ(0, tr_cancel_all(&tr));
	timerring_close(&tr);
	free(ops);
}

TEST_HARNESS_MAIN
