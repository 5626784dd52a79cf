// SPDX-License-Identifier: GPL-2.0
/*
 * The submission ring (TIMERRING_SETUP_SQ): setup, the doorbell, error
 * CQEs, polling without a syscall and NEED_WAKEUP, a full CQ ring holding
 * the SQ ring back, ops that need memory, and a scribbled ring.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include <liburing.h>

#include "kselftest_harness.h"
#include "common.h"

#define SQ_IDLE_MS	100

static void sq_params(struct timerring_params *p, __u32 cq, __u32 sq,
		      __u32 max)
{
	tr_default_params(p);
	p->flags = TIMERRING_SETUP_SQ;
	p->cq_entries = cq;
	p->sq_entries = sq;
	p->max_timers = max;
	p->sq_idle_ms = SQ_IDLE_MS;
}

/* Publish @n ops built by @fill, without a doorbell. */
static unsigned int sq_put(struct timerring *tr, const struct timerring_op *ops,
			   unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		struct timerring_op *op = timerring_get_op(tr);

		if (!op)
			break;
		*op = ops[i];
	}
	timerring_sq_flush(tr);
	return i;
}

static unsigned int sq_head(const struct timerring *tr)
{
	return __atomic_load_n(tr->sq.khead, __ATOMIC_ACQUIRE);
}

/* Wait until the kernel's head reaches the local tail (or @ns pass). */
static bool sq_drained(const struct timerring *tr, uint64_t ns)
{
	uint64_t end = now_ns(CLOCK_MONOTONIC) + ns;

	while (sq_head(tr) != tr->sq.tail) {
		if (now_ns(CLOCK_MONOTONIC) > end)
			return false;
		sleep_ns(NSEC_PER_MSEC);
	}
	return true;
}

/* Empty a tracefs file (the buffer, a pid filter): open with O_TRUNC. */
static int trunc_file(const char *path)
{
	int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

static bool need_wakeup(const struct timerring *tr)
{
	return __atomic_load_n(tr->sq.kflags, __ATOMIC_ACQUIRE) &
	       TIMERRING_SQ_NEED_WAKEUP;
}

TEST(setup_fields)
{
	struct timerring_params p;
	struct timerring tr;
	int fd;

	TR_OPEN_DEV_OR_SKIP(fd);
	/* SQ fields without the flag, and the flag with a VER0 struct */
	tr_default_params(&p);
	p.sq_entries = 64;
	EXPECT_EQ(-EINVAL, tr_ioctl(fd, TIMERRING_IOC_SETUP, &p));
	tr_default_params(&p);
	p.sq_idle_ms = 5;
	EXPECT_EQ(-EINVAL, tr_ioctl(fd, TIMERRING_IOC_SETUP, &p));
	tr_default_params(&p);
	p.flags = TIMERRING_SETUP_SQ;
	EXPECT_EQ(-EINVAL, tr_ioctl(fd, TR_IOC_SIZED(TIMERRING_IOC_SETUP,
			TIMERRING_PARAMS_SIZE_VER0), &p));
	/* out of range, and clamped */
	sq_params(&p, 0, TIMERRING_SQ_ENTRIES_MAX + 1, 1024);
	EXPECT_EQ(-EINVAL, tr_ioctl(fd, TIMERRING_IOC_SETUP, &p));
	sq_params(&p, 0, 8, 1024);
	EXPECT_EQ(-EINVAL, tr_ioctl(fd, TIMERRING_IOC_SETUP, &p));
	sq_params(&p, 0, 64, 1024);
	p.sq_idle_ms = TIMERRING_SQ_IDLE_MS_MAX + 1;
	EXPECT_EQ(-EINVAL, tr_ioctl(fd, TIMERRING_IOC_SETUP, &p));
	close(fd);

	sq_params(&p, 0, 8, 1024);
	p.flags |= TIMERRING_SETUP_CLAMP;
	p.sq_idle_ms = 0;
	TR_OPEN_OR_SKIP(&tr, &p);
	EXPECT_EQ(TIMERRING_SQ_ENTRIES_MIN, tr.params.sq_entries);
	EXPECT_EQ(TIMERRING_SQ_IDLE_MS_DEFAULT, tr.params.sq_idle_ms);
	EXPECT_TRUE(tr.params.features & TIMERRING_FEAT_SQ);
	timerring_close(&tr);

	/* default: as many as the CQ ring, rounded up */
	sq_params(&p, 100, 0, 1024);
	TR_OPEN_OR_SKIP(&tr, &p);
	EXPECT_EQ(128, tr.params.cq_entries);
	EXPECT_EQ(128, tr.params.sq_entries);
	EXPECT_EQ(SQ_IDLE_MS, tr.params.sq_idle_ms);
	EXPECT_EQ(0, tr.params.sq_off.user_addr);
	EXPECT_GE(tr.params.sq_off.head, tr.params.cq_off.cqes +
		  128 * sizeof(struct io_uring_cqe));
	EXPECT_LE(tr.params.sq_off.ops + 128 * sizeof(struct timerring_op),
		  tr.params.mmap_size);
	EXPECT_EQ(127, *(unsigned int *)((char *)tr.ring_ptr +
					 tr.params.sq_off.ring_mask));
	EXPECT_EQ(128, *(unsigned int *)((char *)tr.ring_ptr +
					 tr.params.sq_off.ring_entries));
	/* not polling yet */
	EXPECT_TRUE(need_wakeup(&tr));
	EXPECT_EQ(0, sq_head(&tr));
	timerring_close(&tr);

	/* without the flag: no SQ ring, the doorbell is EINVAL */
	tr_default_params(&p);
	TR_OPEN_OR_SKIP(&tr, &p);
	EXPECT_EQ(0, tr.params.sq_entries);
	EXPECT_EQ(0, tr.params.sq_off.ops);
	EXPECT_EQ(-EINVAL, timerring_sq_enter(&tr));
	timerring_close(&tr);

	TR_OPEN_DEV_OR_SKIP(fd);
	EXPECT_EQ(-EINVAL, tr_ioctl(fd, TIMERRING_IOC_SQ_ENTER, NULL));
	close(fd);
}

FIXTURE(sq) {
	struct timerring tr;
};

FIXTURE_SETUP(sq)
{
	struct timerring_params p;

	self->tr.fd = -1;
	sq_params(&p, 256, 256, 1 << 16);
	TR_OPEN_OR_SKIP(&self->tr, &p);
}

FIXTURE_TEARDOWN(sq)
{
	if (self->tr.fd >= 0)
		timerring_close(&self->tr);
}

/* Ops through the doorbell fire exactly once each, never early. */
TEST_F(sq, doorbell_exactly_once)
{
	enum { N = 200 };
	struct timerring *tr = &self->tr;
	struct timerring_op ops[N];
	struct io_uring_cqe cqe[N + 8];
	struct timerring_stats st;
	uint64_t t0 = timerring_now(tr), t1;
	unsigned char seen[N] = { 0 };
	unsigned int i, got;

	for (i = 0; i < N; i++)
		timerring_op_arm(&ops[i], i * 7, t0 + (20 + i % 10) *
				 NSEC_PER_MSEC, TIMERRING_OPF_ABS, 1000 + i, 0);
	ASSERT_EQ(N, sq_put(tr, ops, N));
	/* polling passes, started by its first op, may apply some */
	ASSERT_GE(N, timerring_sq_enter(tr));
	EXPECT_EQ(tr->sq.tail, sq_head(tr));
	EXPECT_FALSE(need_wakeup(tr));

	got = tr_collect(tr, cqe, N, WAIT_LONG_NS);
	t1 = timerring_now(tr);
	ASSERT_EQ(N, got);
	for (i = 0; i < got; i++) {
		unsigned int k = cqe[i].user_data - 1000;

		ASSERT_LT(k, N);
		EXPECT_FALSE(cqe[i].flags & TIMERRING_CQE_F_SQ_ERR);
		EXPECT_EQ(k * 7, cqe[i].res);
		EXPECT_EQ(0, seen[k]);
		seen[k]++;
	}
	EXPECT_GE(t1, t0 + 29 * NSEC_PER_MSEC);
	/* nothing more */
	EXPECT_EQ(0, tr_settle(tr, 30 * NSEC_PER_MSEC));
	ASSERT_EQ(0, timerring_stats(tr, &st));
	EXPECT_EQ(N, st.sq_ops_total);
	EXPECT_EQ(0, st.sq_failed_total);
	EXPECT_EQ(1, st.sq_enter_total);
	EXPECT_EQ(N, st.armed_total);
	EXPECT_EQ(N, st.expired_total);
	EXPECT_EQ(0, st.armed_now);
}

/* A relative expiry counts from when the kernel applies the op. */
TEST_F(sq, relative_never_early)
{
	struct timerring *tr = &self->tr;
	struct timerring_op op;
	struct io_uring_cqe cqe;
	uint64_t t0, t1;

	timerring_op_arm(&op, 5, 30 * NSEC_PER_MSEC, 0, 77, 0);
	t0 = timerring_now(tr);
	ASSERT_EQ(1, sq_put(tr, &op, 1));
	ASSERT_EQ(1, timerring_sq_enter(tr));
	ASSERT_EQ(1, tr_collect(tr, &cqe, 1, WAIT_LONG_NS));
	t1 = timerring_now(tr);
	EXPECT_EQ(77, cqe.user_data);
	EXPECT_GE(t1 - t0, 30 * NSEC_PER_MSEC);
}

/* Failed ops post error CQEs; malformed ones count in dropped. */
TEST_F(sq, error_cqes)
{
	struct timerring *tr = &self->tr;
	struct timerring_op ops[6];
	struct io_uring_cqe cqe[8];
	struct timerring_stats st;
	unsigned int i, head0 = sq_head(tr);
	static const int want[6] = { 0, -EEXIST, -ERANGE, -EINVAL, -ENOENT,
				     -EINVAL };

	timerring_op_arm(&ops[0], 1, NSEC_PER_SEC * 3600, 0, 10, 0);
	timerring_op_arm(&ops[1], 1, NSEC_PER_SEC * 3600, 0, 11, 0);
	timerring_op_arm(&ops[2], 1 << 20, NSEC_PER_SEC, 0, 12, 0);
	timerring_op_arm(&ops[3], 2, NSEC_PER_SEC, 0, 13, 0);
	ops[3].opcode = 99;
	timerring_op_cancel(&ops[4], 3);
	ops[4].user_data = 0;
	timerring_op_arm(&ops[5], 2, NSEC_PER_SEC, 0, 15, 0);
	ops[5].resv = 1;
	ASSERT_EQ(6, sq_put(tr, ops, 6));
	ASSERT_GE(6, timerring_sq_enter(tr));
	ASSERT_EQ(tr->sq.tail, sq_head(tr));
	ASSERT_EQ(5, tr_reap(tr, cqe, 8));
	for (i = 0; i < 5; i++) {
		unsigned int k = i + 1;

		EXPECT_TRUE(timerring_cqe_is_sq_err(&cqe[i]));
		EXPECT_EQ(want[k], cqe[i].res) TH_LOG("op %u", k);
		EXPECT_EQ(ops[k].user_data, cqe[i].user_data);
		EXPECT_EQ(ops[k].opcode, (cqe[i].flags >>
					  TIMERRING_CQE_OPCODE_SHIFT) & 0xff);
		EXPECT_EQ((head0 + k) & 0xffff, cqe[i].flags >>
			  TIMERRING_CQE_GEN_SHIFT);
	}
	EXPECT_EQ(3, *tr->sq.kdropped);
	ASSERT_EQ(0, timerring_stats(tr, &st));
	EXPECT_EQ(6, st.sq_ops_total);
	EXPECT_EQ(5, st.sq_failed_total);
	EXPECT_EQ(5, st.ops_failed);
	EXPECT_EQ(1, st.armed_now);
	EXPECT_EQ(0, st.expired_total);
}

/*
 * With ops coming, the kernel polls: ops are consumed without a doorbell.
 * sq_idle_ms after the last one it sets NEED_WAKEUP, and then ops wait.
 */
TEST_F(sq, polling_and_need_wakeup)
{
	struct timerring *tr = &self->tr;
	struct timerring_op op;
	struct timerring_stats st;
	struct io_uring_cqe cqe[4];
	unsigned int i, head;

	/* a doorbell starts the polling */
	timerring_op_arm(&op, 1, NSEC_PER_SEC * 3600, 0, 1, 0);
	ASSERT_EQ(1, sq_put(tr, &op, 1));
	ASSERT_EQ(1, timerring_sq_enter(tr));
	EXPECT_FALSE(need_wakeup(tr));
	for (i = 2; i < 12; i++) {
		timerring_op_arm(&op, i, NSEC_PER_SEC * 3600, 0, i, 0);
		ASSERT_EQ(1, sq_put(tr, &op, 1));
		ASSERT_FALSE(timerring_sq_needs_enter(tr));
		ASSERT_TRUE(sq_drained(tr, 2 * SQ_IDLE_MS * NSEC_PER_MSEC))
			TH_LOG("op %u not consumed while polling", i);
	}
	ASSERT_EQ(0, timerring_stats(tr, &st));
	EXPECT_EQ(11, st.sq_ops_total);
	EXPECT_EQ(1, st.sq_enter_total);
	EXPECT_LE(10, st.sq_pass_total);
	EXPECT_EQ(11, st.armed_now);

	/* idle: NEED_WAKEUP within sq_idle_ms plus slack */
	for (i = 0; i < 100 && !need_wakeup(tr); i++)
		sleep_ns(20 * NSEC_PER_MSEC);
	ASSERT_TRUE(need_wakeup(tr));
	/* an op now waits for the doorbell (no timer is due) */
	timerring_op_arm(&op, 20, 5 * NSEC_PER_MSEC, 0, 20, 0);
	ASSERT_EQ(1, sq_put(tr, &op, 1));
	EXPECT_TRUE(timerring_sq_needs_enter(tr));
	head = sq_head(tr);
	sleep_ns(50 * NSEC_PER_MSEC);
	EXPECT_EQ(head, sq_head(tr));
	EXPECT_EQ(1, timerring_sq_submit(tr));
	EXPECT_FALSE(need_wakeup(tr));
	ASSERT_EQ(1, tr_collect(tr, cqe, 1, WAIT_LONG_NS));
	EXPECT_EQ(20, cqe[0].user_data);
}

/*
 * A busy stack makes no syscall: a periodic timer keeps passes coming,
 * and ops written into the ring are all applied by them. Counted with
 * the instance's doorbells, and with the raw_syscalls tracepoint where
 * tracefs is there.
 */
TEST_F(sq, busy_stack_no_syscall)
{
	enum { ROUNDS = 200, PER = 8, SPIN = 20000 };
	const char *ev = "/sys/kernel/tracing/events/raw_syscalls/sys_enter/enable";
	struct timerring *tr = &self->tr;
	struct timerring_op op;
	struct timerring_stats st;
	unsigned int r, i, id, fired = 0, syscalls = 0;
	unsigned long spin;
	char buf[64], text0[64], *text, *p, *first, *last;
	bool traced;
	size_t len;

	/* the periodic timer, and a first doorbell to start polling */
	timerring_op_arm(&op, 0, NSEC_PER_MSEC, 0, 1, NSEC_PER_MSEC);
	ASSERT_EQ(1, sq_put(tr, &op, 1));
	ASSERT_EQ(1, timerring_sq_enter(tr));

	snprintf(buf, sizeof(buf), "%d", getpid());
	/* events go to the buffer only with no tracer (a latency tracer's
	 * buffer holds its worst section) and with tracing on
	 */
	traced = tr_read_text("/sys/kernel/tracing/current_tracer", text0,
			      sizeof(text0)) > 0 && !strncmp(text0, "nop", 3) &&
		 !tr_write_file("/sys/kernel/tracing/tracing_on", "1") &&
		 !tr_write_file("/sys/kernel/tracing/set_event_pid", buf) &&
		 !trunc_file("/sys/kernel/tracing/trace") &&
		 !tr_write_file(ev, "1");
	/* markers around the loop: getppid() is NR 110 on x86-64 */
	syscall(SYS_getppid);
	for (r = 0; r < ROUNDS; r++) {
		for (i = 0; i < PER; i++) {
			struct timerring_op *o;

			id = 1 + (r * PER + i) % 1000;
			/*
			 * A full SQ ring: keep consuming CQEs, or a full CQ
			 * ring would hold the SQ ring back for good.
			 */
			while (!(o = timerring_get_op(tr))) {
				fired += timerring_cq_ready(tr);
				timerring_cq_advance(tr,
						     timerring_cq_ready(tr));
			}
			timerring_op_modify(o, id, NSEC_PER_SEC * 3600, 0, id,
					    0);
		}
		timerring_sq_flush(tr);
		/* no clock: under TCG clock_gettime() may be a syscall */
		for (spin = 0; spin < SPIN; spin++)
			__asm__ volatile("" ::: "memory");
		fired += timerring_cq_ready(tr);
		timerring_cq_advance(tr, timerring_cq_ready(tr));
	}
	syscall(SYS_getppid);
	if (traced)
		tr_write_file(ev, "0");
	/* the pid filter would hide every later test's events */
	trunc_file("/sys/kernel/tracing/set_event_pid");
	/* the last ops are consumed by the next passes */
	for (i = 0; i < 5000 && sq_head(tr) != tr->sq.tail; i++)
		sleep_ns(NSEC_PER_MSEC);
	ASSERT_EQ(0, timerring_stats(tr, &st));
	ASSERT_EQ(tr->sq.tail, sq_head(tr))
		TH_LOG("head %u tail %u: ops %llu passes %llu, need_wakeup %d",
		       sq_head(tr), tr->sq.tail,
		       (unsigned long long)st.sq_ops_total,
		       (unsigned long long)st.sq_pass_total, need_wakeup(tr));
	EXPECT_EQ(1 + ROUNDS * PER, st.sq_ops_total);
	EXPECT_EQ(1, st.sq_enter_total);
	EXPECT_EQ(0, st.sq_failed_total);
	EXPECT_LT(0, st.sq_pass_total);
	EXPECT_LT(0, fired);
	if (!traced) {
		TH_LOG("no raw_syscalls in tracefs: doorbells counted only");
		return;
	}
	text = tr_read_all("/sys/kernel/tracing/trace", &len);
	ASSERT_NE(NULL, text);
	ASSERT_LT(0, len);
	first = strstr(text, "NR 110 ");
	ASSERT_NE(NULL, first) TH_LOG("no marker in the trace");
	for (last = first; (p = strstr(last + 1, "NR 110 ")); last = p)
		;
	ASSERT_NE(first, last);
	/* every sys_enter line has "NR "; the last marker's is at last */
	for (p = first + 1; (p = strstr(p, "NR ")) && p < last; p++)
		syscalls++;
	EXPECT_EQ(0, syscalls) TH_LOG("syscalls between the markers: %u",
				      syscalls);
	free(text);
}

/* The doorbell as an io_uring URING_CMD; its command area must be zero. */
TEST_F(sq, uring_cmd_doorbell)
{
	struct timerring *tr = &self->tr;
	struct __kernel_timespec ts = { .tv_sec = 30 };
	struct timerring_op ops[3];
	struct io_uring_cqe *cqe;
	struct io_uring_sqe *sqe;
	struct timerring_stats st;
	struct io_uring ring;
	unsigned int i;
	int ret;

	ret = io_uring_queue_init(8, &ring, 0);
	if (ret)
		SKIP(return, "no io_uring (%d)", ret);
	for (i = 0; i < 3; i++)
		timerring_op_arm(&ops[i], i, NSEC_PER_SEC * 3600, 0, i, 0);
	ASSERT_EQ(3, sq_put(tr, ops, 3));
	for (i = 0; i < 2; i++) {
		sqe = io_uring_get_sqe(&ring);
		ASSERT_NE(NULL, sqe);
		memset(sqe, 0, sizeof(*sqe));
		sqe->opcode = IORING_OP_URING_CMD;
		sqe->fd = tr->fd;
		sqe->cmd_op = TIMERRING_URING_CMD_SQ_ENTER;
		sqe->user_data = i;
		/* the second one with a byte of its command area set */
		sqe->cmd[15] = i;
		ASSERT_EQ(1, io_uring_submit(&ring));
		ASSERT_EQ(0, io_uring_wait_cqe_timeout(&ring, &cqe, &ts));
		EXPECT_EQ(i, cqe->user_data);
		if (!i && cqe->res == -EOPNOTSUPP) {
			io_uring_queue_exit(&ring);
			SKIP(return, "no URING_CMD on this kernel");
		}
		/* polling, started by the inline issue, may apply them */
		if (i) {
			EXPECT_EQ(-EINVAL, cqe->res);
		} else {
			EXPECT_GE(3, cqe->res);
		}
		io_uring_cqe_seen(&ring, cqe);
		if (!i)
			EXPECT_TRUE(sq_drained(tr, 2 * NSEC_PER_SEC));
	}
	/* no registered buffer to name (6.1's io_uring says EFAULT first) */
	sqe = io_uring_get_sqe(&ring);
	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = tr->fd;
	sqe->cmd_op = TIMERRING_URING_CMD_SQ_ENTER;
	sqe->uring_cmd_flags = IORING_URING_CMD_FIXED;
	ASSERT_EQ(1, io_uring_submit(&ring));
	ASSERT_EQ(0, io_uring_wait_cqe_timeout(&ring, &cqe, &ts));
	EXPECT_TRUE(cqe->res == -EINVAL || cqe->res == -EFAULT)
		TH_LOG("res %d", cqe->res);
	io_uring_cqe_seen(&ring, cqe);
	/* an unknown cmd_op next to it */
	sqe = io_uring_get_sqe(&ring);
	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = tr->fd;
	sqe->cmd_op = TIMERRING_URING_CMD_SQ_ENTER + 1;
	ASSERT_EQ(1, io_uring_submit(&ring));
	ASSERT_EQ(0, io_uring_wait_cqe_timeout(&ring, &cqe, &ts));
	EXPECT_EQ(-ENOTTY, cqe->res);
	io_uring_cqe_seen(&ring, cqe);
	io_uring_queue_exit(&ring);
	ASSERT_EQ(0, timerring_stats(tr, &st));
	EXPECT_EQ(3, st.sq_ops_total);
	EXPECT_EQ(3, st.armed_now);
	/* the second doorbell failed before anything else */
	EXPECT_EQ(1, st.sq_enter_total);
	EXPECT_EQ(tr->sq.tail, sq_head(tr));
	/* the ioctl is no URING_CMD and vice versa */
	EXPECT_EQ(-ENOTTY, tr_ioctl(tr->fd, TIMERRING_URING_CMD_SQ_ENTER,
				    NULL));
}

/* A full CQ ring holds the SQ ring back; nothing is lost. */
TEST(cq_full_holds_sq)
{
	struct timerring_params p;
	struct timerring tr;
	struct timerring_op ops[70];
	struct io_uring_cqe cqe[80];
	unsigned int i, head;
	uint64_t t0;

	sq_params(&p, 64, 128, 1024);
	TR_OPEN_OR_SKIP(&tr, &p);
	/* 64 expirations fill the CQ ring (none before the doorbell ends) */
	t0 = timerring_now(&tr) + 300 * NSEC_PER_MSEC;
	for (i = 0; i < 64; i++)
		timerring_op_arm(&ops[i], i, t0, TIMERRING_OPF_ABS, i, 0);
	ASSERT_EQ(64, sq_put(&tr, ops, 64));
	ASSERT_GE(64, timerring_sq_enter(&tr));
	ASSERT_EQ(tr.sq.tail, sq_head(&tr));
	sleep_ns(20 * NSEC_PER_MSEC);
	ASSERT_EQ(64, timerring_wait(&tr, 64, WAIT_LONG_NS));
	ASSERT_EQ(64, timerring_cq_ready(&tr));
	/* 6 bad ops wait: no room for their error CQEs */
	for (i = 0; i < 6; i++)
		timerring_op_cancel(&ops[i], 500 + i);
	head = sq_head(&tr);
	ASSERT_EQ(6, sq_put(&tr, ops, 6));
	EXPECT_EQ(0, timerring_sq_enter(&tr));
	sleep_ns(30 * NSEC_PER_MSEC);
	EXPECT_EQ(head, sq_head(&tr));
	/* room for 4: 4 are consumed */
	ASSERT_EQ(4, tr_reap(&tr, cqe, 4));
	/* by the doorbell, or by a polling pass first */
	EXPECT_GE(4, timerring_sq_enter(&tr));
	for (i = 0; i < 100 && sq_head(&tr) != head + 4; i++)
		sleep_ns(NSEC_PER_MSEC);
	EXPECT_EQ(head + 4, sq_head(&tr));
	ASSERT_EQ(64, tr_reap(&tr, cqe, 80));
	for (i = 60; i < 64; i++) {
		EXPECT_TRUE(timerring_cqe_is_sq_err(&cqe[i]));
		EXPECT_EQ(-ENOENT, cqe[i].res);
	}
	/* the consumer (doorbell or poll) goes on */
	EXPECT_GE(2, timerring_sq_enter(&tr));
	ASSERT_EQ(2, tr_collect(&tr, cqe, 2, WAIT_LONG_NS));
	EXPECT_EQ(-ENOENT, cqe[0].res);
	EXPECT_EQ(-ENOENT, cqe[1].res);
	timerring_close(&tr);
}

/*
 * Ops that need memory (new table chunks, interval arrays) and a
 * CANCEL_ALL, consumed by polling passes: applied from the work item, in
 * order, each exactly once.
 */
TEST_F(sq, memory_ops_by_polling)
{
	enum { N = 64 };
	struct timerring *tr = &self->tr;
	struct timerring_op ops[N + 2];
	struct io_uring_cqe cqe[N + 8];
	struct timerring_stats st;
	uint64_t t0;
	unsigned int i;

	/* start polling */
	timerring_op_arm(&ops[0], 0, NSEC_PER_SEC * 3600, 0, 0, 0);
	ASSERT_EQ(1, sq_put(tr, ops, 1));
	ASSERT_EQ(1, timerring_sq_enter(tr));

	t0 = timerring_now(tr);
	/* every id in a chunk of its own; every 4th periodic */
	for (i = 0; i < N; i++)
		timerring_op_arm(&ops[i], 128 * (i + 1), t0 + 40 * NSEC_PER_MSEC,
				 TIMERRING_OPF_ABS, 100 + i,
				 i % 4 ? 0 : 1000 * NSEC_PER_MSEC);
	ASSERT_EQ(N, sq_put(tr, ops, N));
	ASSERT_TRUE(sq_drained(tr, 2 * NSEC_PER_SEC));
	ASSERT_EQ(N, tr_collect(tr, cqe, N, WAIT_LONG_NS));
	for (i = 0; i < N; i++) {
		EXPECT_FALSE(timerring_cqe_is_sq_err(&cqe[i]));
		EXPECT_EQ(128 * (cqe[i].user_data - 99), cqe[i].res);
	}
	EXPECT_GE(timerring_now(tr), t0 + 40 * NSEC_PER_MSEC);
	/* a CANCEL_ALL and an ARM after it, by polling too */
	timerring_op_cancel_all(&ops[0]);
	timerring_op_arm(&ops[1], 3, NSEC_PER_SEC * 3600, 0, 3, 0);
	ASSERT_EQ(2, sq_put(tr, ops, 2));
	ASSERT_TRUE(sq_drained(tr, 2 * NSEC_PER_SEC));
	ASSERT_EQ(0, timerring_stats(tr, &st));
	EXPECT_EQ(1, st.armed_now);
	EXPECT_EQ(N + 1 + 2, st.sq_ops_total);
	EXPECT_EQ(0, st.sq_failed_total);
	EXPECT_EQ(1, st.sq_enter_total);
	EXPECT_EQ(0, tr_settle(tr, 20 * NSEC_PER_MSEC));
}

/*
 * A scribbled ring: head, mask and entries rewritten, a tail far ahead,
 * garbage ops. No op applied twice, no crash, and the ring recovers.
 */
TEST_F(sq, scribbled_ring)
{
	struct timerring *tr = &self->tr;
	unsigned int *mask = (unsigned int *)((char *)tr->ring_ptr +
					      tr->params.sq_off.ring_mask);
	unsigned int *ents = (unsigned int *)((char *)tr->ring_ptr +
					      tr->params.sq_off.ring_entries);
	unsigned int n = tr->sq.ring_entries, head, i, got, total = 0;
	struct io_uring_cqe *cqe = calloc(n + 8, sizeof(*cqe));
	struct timerring_stats st;
	struct timerring_op op;
	int ret;

	ASSERT_NE(NULL, cqe);
	/* garbage everywhere, a scribbled head, mask and size */
	memset(tr->sq.ops, 0xa5, n * sizeof(struct timerring_op));
	*mask = 0xffffffff;
	*ents = 0;
	*tr->sq.khead = 12345;
	head = 0;
	/*
	 * tail far ahead: counts as exactly ring_entries ops, all applied
	 * in the doorbell's first step; their error CQEs fill the CQ ring
	 * (256), which then holds the polling passes back.
	 */
	__atomic_store_n(tr->sq.ktail, 0x80000000u, __ATOMIC_RELEASE);
	total = timerring_sq_enter(tr);
	EXPECT_EQ(n, total);
	sleep_ns(20 * NSEC_PER_MSEC);
	EXPECT_EQ(head + n, sq_head(tr));
	/* recover while the full CQ ring holds the consumer back */
	tr->sq.tail = sq_head(tr);
	timerring_sq_flush(tr);
	got = tr_reap(tr, cqe, n + 8);
	EXPECT_EQ(n, got);
	for (i = 0; i < got; i++) {
		EXPECT_TRUE(timerring_cqe_is_sq_err(&cqe[i]));
		EXPECT_EQ(-EINVAL, cqe[i].res);
	}
	EXPECT_EQ(n, *tr->sq.kdropped);
	/* the kernel's view of mask and size did not change */
	ASSERT_EQ(0, timerring_stats(tr, &st));
	EXPECT_EQ(n, st.sq_ops_total);
	EXPECT_EQ(0, st.armed_now);
	/* then real ops work */
	*mask = n - 1;
	*ents = n;
	timerring_op_arm(&op, 9, NSEC_PER_MSEC, 0, 99, 0);
	ASSERT_EQ(1, sq_put(tr, &op, 1));
	ASSERT_GE(1, timerring_sq_enter(tr));
	ASSERT_EQ(1, tr_collect(tr, cqe, 1, WAIT_LONG_NS));
	EXPECT_EQ(99, cqe[0].user_data);
	EXPECT_EQ(9, cqe[0].res);
	/* a tail gone backwards: a whole ring again, no crash */
	head = sq_head(tr);
	__atomic_store_n(tr->sq.ktail, head - 1, __ATOMIC_RELEASE);
	memset(tr->sq.ops, 0, n * sizeof(struct timerring_op));
	ret = timerring_sq_enter(tr);
	EXPECT_LE(0, ret);
	sleep_ns(20 * NSEC_PER_MSEC);
	EXPECT_NE(head, sq_head(tr));
	free(cqe);
}

/*
 * The SQ ring's producer, SUBMIT from another thread and doorbells from a
 * third, at once, on ids in fresh table chunks: every timer fires exactly
 * once, never early, and no op fails.
 */
enum { RACE_N = 12000, RACE_BATCH = 50 };

struct race {
	struct timerring *tr;
	uint64_t t0;
	int stop;
};

static void race_op(struct timerring_op *op, struct race *r, __u32 id)
{
	timerring_op_arm(op, id, r->t0 + (30 + id % 50) * NSEC_PER_MSEC,
			 TIMERRING_OPF_ABS, id, 0);
}

static void *race_submit(void *arg)
{
	struct race *r = arg;
	struct timerring_op ops[RACE_BATCH];
	unsigned int id, i, failed = 0, f;

	for (id = RACE_N; id < 2 * RACE_N; id += RACE_BATCH) {
		for (i = 0; i < RACE_BATCH; i++)
			race_op(&ops[i], r, id + i);
		if (timerring_submit(r->tr, ops, RACE_BATCH, NULL, 0, NULL,
				     &f) != RACE_BATCH)
			failed += RACE_BATCH;
		failed += f;
	}
	return (void *)(uintptr_t)failed;
}

static void *race_bell(void *arg)
{
	struct race *r = arg;

	while (!TR_READ_ONCE(r->stop))
		if (timerring_sq_enter(r->tr) < 0)
			return (void *)1;
	return NULL;
}

TEST(concurrent_paths)
{
	struct timerring_params p;
	struct timerring tr;
	struct race r = { .tr = &tr };
	struct io_uring_cqe *cqe = calloc(2 * RACE_N, sizeof(*cqe));
	unsigned char *seen = calloc(2 * RACE_N, 1);
	struct timerring_stats st;
	pthread_t ts, tb;
	void *rs, *rb;
	unsigned int id, i, got;
	uint64_t end;

	ASSERT_NE(NULL, cqe);
	ASSERT_NE(NULL, seen);
	sq_params(&p, 1 << 15, 1024, 2 * RACE_N);
	TR_OPEN_OR_SKIP(&tr, &p);
	r.t0 = timerring_now(&tr) + 400 * NSEC_PER_MSEC;
	ASSERT_EQ(0, pthread_create(&ts, NULL, race_submit, &r));
	ASSERT_EQ(0, pthread_create(&tb, NULL, race_bell, &r));
	for (id = 0; id < RACE_N; id++) {
		struct timerring_op *op;

		while (!(op = timerring_get_op(&tr)))
			timerring_sq_flush(&tr);
		race_op(op, &r, id);
		if (id % 7 == 0)
			timerring_sq_flush(&tr);
	}
	timerring_sq_flush(&tr);
	end = now_ns(CLOCK_MONOTONIC) + 20 * NSEC_PER_SEC;
	while (sq_head(&tr) != tr.sq.tail && now_ns(CLOCK_MONOTONIC) < end)
		sleep_ns(NSEC_PER_MSEC);
	TR_WRITE_ONCE(r.stop, 1);
	ASSERT_EQ(0, pthread_join(ts, &rs));
	ASSERT_EQ(0, pthread_join(tb, &rb));
	EXPECT_EQ(NULL, rs);
	EXPECT_EQ(NULL, rb);
	ASSERT_EQ(tr.sq.tail, sq_head(&tr));

	/* each CQE is seen at or after its due time */
	end = now_ns(CLOCK_MONOTONIC) + 15 * NSEC_PER_SEC;
	for (got = 0; got < 2 * RACE_N && now_ns(CLOCK_MONOTONIC) < end;) {
		unsigned int n = tr_reap(&tr, cqe + got, 2 * RACE_N - got);
		uint64_t t = timerring_now(&tr);

		for (i = got; i < got + n; i++)
			EXPECT_LE(r.t0 + (30 + cqe[i].res % 50) * NSEC_PER_MSEC,
				  t) TH_LOG("id %d early", cqe[i].res);
		got += n;
		if (!n)
			timerring_wait(&tr, 1, 100 * NSEC_PER_MSEC);
	}
	EXPECT_EQ(2 * RACE_N, got);
	for (i = 0; i < got; i++) {
		ASSERT_FALSE(timerring_cqe_is_sq_err(&cqe[i]))
			TH_LOG("op of id %llu failed: %d",
			       (unsigned long long)cqe[i].user_data,
			       cqe[i].res);
		ASSERT_LT(cqe[i].res, 2 * RACE_N);
		EXPECT_EQ(cqe[i].res, cqe[i].user_data);
		EXPECT_EQ(0, seen[cqe[i].res]) TH_LOG("id %d twice", cqe[i].res);
		seen[cqe[i].res] = 1;
	}
	EXPECT_GE(timerring_now(&tr), r.t0 + 79 * NSEC_PER_MSEC);
	EXPECT_EQ(0, tr_settle(&tr, 50 * NSEC_PER_MSEC));
	ASSERT_EQ(0, timerring_stats(&tr, &st));
	EXPECT_EQ(RACE_N, st.sq_ops_total);
	EXPECT_EQ(0, st.sq_failed_total);
	EXPECT_EQ(0, st.ops_failed);
	EXPECT_EQ(2 * RACE_N, st.expired_total);
	EXPECT_EQ(0, st.armed_now);
	timerring_close(&tr);
	free(seen);
	free(cqe);
}

TEST_HARNESS_MAIN
