// SPDX-License-Identifier: GPL-2.0
/*
 * timerring through io_uring: IORING_OP_URING_CMD batches (struct
 * timerring_uring_cmd) and IORING_OP_POLL_ADD on a timerring fd.
 *
 * Every batch sent as a URING_CMD is also sent through TIMERRING_IOC_SUBMIT
 * to a twin instance set up the same way: the CQE's res must equal SUBMIT's
 * done, and every per-op result (generations included) SUBMIT's result.
 * The other tests: registered buffers, the errors of a bad command, an SQE
 * rewritten after (and during) submission, which issues sleep (an inline
 * issue that would allocate runs from the submitter's task work, one of
 * more than 256 ops from an io-wq worker, iou-wrk-*), rings torn down
 * with commands in flight, and multishot poll.
 *
 * The SQE is filled by timerring_prep_uring_cmd() (timerring_liburing.h):
 * Debian 12's liburing (2.3) has no io_uring_prep_cmd().
 */
#include <dirent.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <liburing.h>
#include "kselftest_harness.h"
#include "common.h"
#include "timerring_liburing.h"

#define MAX_IDS		8192
#define HOUR_NS		(3600 * NSEC_PER_SEC)
#define SENTINEL	((__s32)0x5a5a5a5a)
/* The batch as the command describes it: ops[nr], then results[nr]. */
#define BATCH_BYTES(nr)	timerring_uring_batch_size(nr)

static __s32 *batch_results(void *batch, unsigned int nr)
{
	return timerring_uring_results(batch, nr);
}

/* The next SQE; the tests never fill the SQ ring. */
static struct io_uring_sqe *get_sqe(struct io_uring *ring)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

	if (!sqe)
		abort();
	return sqe;
}

/* A URING_CMD SQE for @nr ops at @addr. */
static void prep_ucmd(struct io_uring_sqe *sqe, int fd, const void *addr,
		      unsigned int nr, unsigned int flags)
{
	timerring_prep_uring_cmd(sqe, fd, addr, nr, flags);
}

/* Wait for one CQE; its res, or -ETIME / the wait's error as -EPROTO. */
static int reap_one(struct io_uring *ring, __u64 *user_data)
{
	struct __kernel_timespec ts = { .tv_sec = 30 };
	struct io_uring_cqe *cqe;
	int ret = io_uring_wait_cqe_timeout(ring, &cqe, &ts);

	if (ret)
		return ret == -ETIME ? -ETIME : -EPROTO;
	ret = cqe->res;
	if (user_data)
		*user_data = cqe->user_data;
	io_uring_cqe_seen(ring, cqe);
	return ret;
}

/* Submit one prepared SQE and return its CQE's res. */
static int run_sqe(struct io_uring *ring)
{
	int ret = io_uring_submit(ring);

	if (ret != 1)
		return ret < 0 ? ret : -EPROTO;
	return reap_one(ring, NULL);
}

static int ucmd(struct io_uring *ring, int fd, const void *addr,
		unsigned int nr, unsigned int flags)
{
	struct io_uring_sqe *sqe = get_sqe(ring);

	prep_ucmd(sqe, fd, addr, nr, flags);
	return run_sqe(ring);
}

/* io-wq workers of this process (threads named iou-wrk-*). */
static int iowq_workers(void)
{
	struct dirent *d;
	DIR *dir = opendir("/proc/self/task");
	int n = 0;

	if (!dir)
		return -1;
	while ((d = readdir(dir))) {
		char path[300], comm[32] = "";
		int fd;

		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm",
			 d->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (read(fd, comm, sizeof(comm) - 1) > 0 &&
		    !strncmp(comm, "iou-wrk-", 8))
			n++;
		close(fd);
	}
	closedir(dir);
	return n;
}

/*
 * A mixed batch: arms (some ids twice: -EEXIST), modifies, cancels (some
 * of idle ids: -ENOENT), bad ops (-EINVAL, -ERANGE), periodic arms and
 * a CANCEL_ALL now and then. Nothing is due within the test, so that the
 * twin instances stay alike whenever their timers would fire.
 */
static void fill_mixed(struct timerring_op *ops, unsigned int nr,
		       unsigned int seed)
{
	unsigned int i;

	for (i = 0; i < nr; i++) {
		unsigned int k = (i * 7 + seed) % 16;
		__u32 id = (i * 37 + seed) % (MAX_IDS / 2);

		switch (k) {
		case 0:
			timerring_op_cancel_all(&ops[i]);
			if (i % 64)
				timerring_op_cancel(&ops[i], id);
			break;
		case 1:
			timerring_op_arm(&ops[i], id, HOUR_NS,
					 TIMERRING_OPF_SLACK, i, 0);
			break;
		case 2:
			timerring_op_arm(&ops[i], MAX_IDS + i, HOUR_NS, 0, i, 0);
			break;
		case 3:
			timerring_op_arm(&ops[i], id, HOUR_NS, 0, i, 0);
			ops[i].resv = 1;
			break;
		case 4: case 5:
			timerring_op_cancel(&ops[i], id);
			break;
		case 6: case 7:
			timerring_op_modify(&ops[i], id, HOUR_NS, 0, i, 0);
			break;
		case 8:
			timerring_op_arm(&ops[i], id, HOUR_NS, 0, i,
					 NSEC_PER_SEC);
			break;
		default:
			timerring_op_arm(&ops[i], id, HOUR_NS, 0, i, 0);
			break;
		}
	}
}

FIXTURE(ucmd) {
	struct timerring tr;	/* driven through io_uring */
	struct timerring twin;	/* driven through TIMERRING_IOC_SUBMIT */
	struct io_uring ring;
	bool have_ring;
};

FIXTURE_SETUP(ucmd)
{
	struct timerring_params p;
	int ret;

	tr_default_params(&p);
	p.max_timers = MAX_IDS;
	TR_OPEN_OR_SKIP(&self->tr, &p);
	tr_default_params(&p);
	p.max_timers = MAX_IDS;
	ASSERT_EQ(0, timerring_open(&self->twin, &p));
	ret = io_uring_queue_init(8, &self->ring, 0);
	if (ret == -ENOSYS || ret == -EPERM)
		SKIP(return, "no io_uring (%d)", ret);
	ASSERT_EQ(0, ret);
	self->have_ring = true;
}

FIXTURE_TEARDOWN(ucmd)
{
	if (self->have_ring)
		io_uring_queue_exit(&self->ring);
	timerring_close(&self->twin);
	timerring_close(&self->tr);
}

/*
 * One batch through both paths: the CQE's res is SUBMIT's done, and every
 * result SUBMIT's; results past done are left as they were.
 */
static void same_as_ioctl(struct __test_metadata *_metadata,
			  FIXTURE_DATA(ucmd) *self, unsigned int nr,
			  unsigned int flags, unsigned int seed)
{
	struct timerring_op *ops = calloc(nr, sizeof(*ops));
	void *batch = malloc(BATCH_BYTES(nr));
	__s32 *res = batch_results(batch, nr);
	__s32 *want = malloc(nr * sizeof(*want));
	unsigned int i, done = 0, failed = 0, bad = 0;
	int got, ref;

	ASSERT_NE(NULL, ops);
	ASSERT_NE(NULL, batch);
	ASSERT_NE(NULL, want);
	fill_mixed(ops, nr, seed);
	memcpy(batch, ops, nr * sizeof(*ops));
	for (i = 0; i < nr; i++)
		res[i] = want[i] = SENTINEL;

	ref = timerring_submit(&self->twin, ops, nr, want, flags, &done,
			       &failed);
	got = ucmd(&self->ring, self->tr.fd, batch, nr,
		   flags | TIMERRING_URING_RESULTS);
	EXPECT_EQ(ref, got);
	EXPECT_EQ(done, got);
	for (i = 0; i < nr; i++)
		bad += res[i] != want[i];
	EXPECT_EQ(0, bad) TH_LOG("nr %u: %u results differ", nr, bad);
	EXPECT_EQ(0, memcmp(batch, ops, nr * sizeof(*ops)));
	free(want);
	free(batch);
	free(ops);
}

/* Batches of 1 to 1000 ops, inline and from io-wq, as SUBMIT does them. */
TEST_F(ucmd, batches)
{
	static const unsigned int sizes[] = { 1, 17, 256, 257, 1000, 100 };
	struct timerring_stats a, b;
	unsigned int i;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		same_as_ioctl(_metadata, self, sizes[i], 0, i);
		same_as_ioctl(_metadata, self, sizes[i],
			      TIMERRING_SUBMIT_STOP_ON_ERROR, i + 3);
	}
	ASSERT_EQ(0, timerring_stats(&self->tr, &a));
	ASSERT_EQ(0, timerring_stats(&self->twin, &b));
	EXPECT_EQ(b.armed_now, a.armed_now);
	EXPECT_EQ(b.armed_total, a.armed_total);
	EXPECT_EQ(b.batches, a.batches);
	EXPECT_EQ(b.ops_failed, a.ops_failed);

	/* without results, and an empty batch */
	same_as_ioctl(_metadata, self, 0, 0, 0);
	EXPECT_EQ(1, ucmd(&self->ring, self->tr.fd,
			  &(struct timerring_op){ .opcode = TIMERRING_OP_CANCEL_ALL },
			  1, 0));
}

/* In a CQE32 ring, big_cqe[0] is SUBMIT's failed: 0 on a whole failure. */
TEST_F(ucmd, cqe32_failed)
{
	const unsigned int nr = 300;
	struct timerring_op *ops = calloc(nr, sizeof(*ops));
	struct __kernel_timespec ts = { .tv_sec = 30 };
	struct io_uring_cqe *cqe;
	struct io_uring r32;
	unsigned int done, failed, i;

	ASSERT_NE(NULL, ops);
	fill_mixed(ops, nr, 11);
	ASSERT_EQ(nr, timerring_submit(&self->twin, ops, nr, NULL, 0, &done,
				       &failed));
	ASSERT_LT(0, failed);
	ASSERT_EQ(0, io_uring_queue_init(4, &r32, IORING_SETUP_CQE32));
	for (i = 0; i < 2; i++) {
		prep_ucmd(get_sqe(&r32), self->tr.fd, ops, i ? 1U << 20 : nr,
			  0);
		ASSERT_EQ(1, io_uring_submit(&r32));
		ASSERT_EQ(0, io_uring_wait_cqe_timeout(&r32, &cqe, &ts));
		EXPECT_EQ(i ? -EINVAL : (int)done, cqe->res);
		EXPECT_EQ(i ? 0 : failed, cqe->big_cqe[0]);
		io_uring_cqe_seen(&r32, cqe);
	}
	io_uring_queue_exit(&r32);
	free(ops);
}

/* Armed through a URING_CMD, a timer fires into the timerring's ring. */
TEST_F(ucmd, fires)
{
	struct timerring_op ops[4];
	struct io_uring_cqe cqe[4];
	unsigned int i, seen = 0;

	for (i = 0; i < 4; i++)
		timerring_op_arm(&ops[i], 10 + i, NSEC_PER_MSEC * (i + 1), 0,
				 0xabc0 + i, 0);
	ASSERT_EQ(4, ucmd(&self->ring, self->tr.fd, ops, 4, 0));
	ASSERT_EQ(4, tr_collect(&self->tr, cqe, 4, WAIT_LONG_NS));
	for (i = 0; i < 4; i++)
		seen |= 1U << (cqe[i].user_data - 0xabc0);
	EXPECT_EQ(0xf, seen);
}

/*
 * Registered buffers: the ops are read from and the results written to the
 * registered pages; a batch reaching outside the buffer is EFAULT and
 * applies nothing.
 */
TEST_F(ucmd, fixed_buffers)
{
	const unsigned int nr = 300, small = 40;
	size_t len = 4 * getpagesize() * 4;
	struct timerring_stats st0, st1;
	struct timerring_op *ops = calloc(nr, sizeof(*ops));
	__s32 *want = calloc(nr, sizeof(*want));
	char *buf = tr_map_pages(16);
	struct io_uring_sqe *sqe;
	struct iovec iov;
	unsigned int i, bad = 0;
	void *at;
	int ret;

	ASSERT_NE(NULL, buf);
	ASSERT_NE(NULL, ops);
	ASSERT_NE(NULL, want);
	iov.iov_base = buf;
	iov.iov_len = len;
	ASSERT_EQ(0, io_uring_register_buffers(&self->ring, &iov, 1));

	/* 300 ops (io-wq) and 40 (inline), at an offset in the buffer */
	for (at = buf + 100, i = 0; i < 2; i++) {
		unsigned int n = i ? small : nr, k;
		__s32 *res = batch_results(at, n);

		fill_mixed(ops, n, 5 + i);
		memcpy(at, ops, n * sizeof(*ops));
		for (k = 0; k < n; k++)
			res[k] = SENTINEL;
		ASSERT_EQ(n, timerring_submit(&self->twin, ops, n, want, 0,
					      NULL, NULL));
		sqe = get_sqe(&self->ring);
		prep_ucmd(sqe, self->tr.fd, at, n, TIMERRING_URING_RESULTS);
		sqe->uring_cmd_flags = IORING_URING_CMD_FIXED;
		sqe->buf_index = 0;
		ASSERT_EQ(n, run_sqe(&self->ring));
		for (k = 0; k < n; k++)
			bad += res[k] != want[k];
		EXPECT_EQ(0, bad);
	}

	/*
	 * The results end 4 bytes past the buffer; the ops (no results) 32
	 * bytes past it; the ops start before it. Zeroed ops there would be
	 * ARMs of id 0.
	 */
	ASSERT_LE(0, tr_cancel_all(&self->tr));
	ASSERT_EQ(0, timerring_stats(&self->tr, &st0));
	memset(buf, 0, len);
	for (i = 0; i < 3; i++) {
		static const unsigned int n = 64;
		char *a = buf + len - BATCH_BYTES(n) + 4;
		unsigned int fl = TIMERRING_URING_RESULTS;

		if (i == 1) {
			a = buf + len - (n - 1) * sizeof(*ops);
			fl = 0;
		} else if (i == 2) {
			a = buf - sizeof(*ops);
		}
		sqe = get_sqe(&self->ring);
		prep_ucmd(sqe, self->tr.fd, a, n, fl);
		sqe->uring_cmd_flags = IORING_URING_CMD_FIXED;
		EXPECT_EQ(-EFAULT, run_sqe(&self->ring)) TH_LOG("case %u", i);
	}
	/* a buffer index that is not registered: io_uring's own EFAULT */
	sqe = get_sqe(&self->ring);
	prep_ucmd(sqe, self->tr.fd, buf, 1, 0);
	sqe->uring_cmd_flags = IORING_URING_CMD_FIXED;
	sqe->buf_index = 1;
	EXPECT_EQ(-EFAULT, run_sqe(&self->ring));
	ASSERT_EQ(0, timerring_stats(&self->tr, &st1));
	expect_stats_same(_metadata, &st0, &st1);

	ret = io_uring_unregister_buffers(&self->ring);
	EXPECT_EQ(0, ret);
	munmap(buf, 16 * getpagesize());
	free(want);
	free(ops);
}

/* What a bad command gets, and that it changes nothing. */
TEST_F(ucmd, bad_commands)
{
	struct timerring_op op, *ro;
	struct timerring_stats st0, st1;
	struct io_uring_sqe *sqe;
	struct io_uring r128;
	char *pages;
	int fd, ret;

	timerring_op_arm(&op, 1, HOUR_NS, 0, 1, 0);
	ASSERT_EQ(0, timerring_stats(&self->tr, &st0));

	ASSERT_EQ(TIMERRING_URING_CMD_SIZE, sizeof(struct timerring_uring_cmd));
	ASSERT_EQ(16, TIMERRING_URING_CMD_SIZE);
	/* the cmd_op is no ioctl */
	EXPECT_EQ(-ENOTTY, tr_ioctl(self->tr.fd, TIMERRING_URING_CMD_SUBMIT,
				    &op));

	/* unknown cmd_op: ENOTTY, like an unknown ioctl */
	sqe = get_sqe(&self->ring);
	prep_ucmd(sqe, self->tr.fd, &op, 1, 0);
	sqe->cmd_op = TIMERRING_URING_CMD_SUBMIT + 1;
	EXPECT_EQ(-ENOTTY, run_sqe(&self->ring));
	sqe = get_sqe(&self->ring);
	prep_ucmd(sqe, self->tr.fd, &op, 1, 0);
	sqe->cmd_op = TIMERRING_IOC_SUBMIT;
	EXPECT_EQ(-ENOTTY, run_sqe(&self->ring));

	/* unknown flags, too many ops */
	EXPECT_EQ(-EINVAL, ucmd(&self->ring, self->tr.fd, &op, 1, 1U << 31));
	EXPECT_EQ(-EINVAL, ucmd(&self->ring, self->tr.fd, &op, 1, 1U << 1));
	EXPECT_EQ(-EINVAL, ucmd(&self->ring, self->tr.fd, &op,
				TIMERRING_BATCH_MAX + 1, 0));

	/* unreadable ops, unwritable results (inline and from io-wq) */
	pages = tr_map_pages(4);
	ASSERT_NE(NULL, pages);
	ASSERT_EQ(0, munmap(pages + 3 * getpagesize(), getpagesize()));
	EXPECT_EQ(-EFAULT, ucmd(&self->ring, self->tr.fd,
				pages + 3 * getpagesize(), 1, 0));
	ro = (struct timerring_op *)(pages + 2 * getpagesize()) - 1;
	*ro = op;
	ASSERT_EQ(0, mprotect(pages + 2 * getpagesize(), getpagesize(),
			      PROT_READ));
	EXPECT_EQ(-EFAULT, ucmd(&self->ring, self->tr.fd, ro, 1,
				TIMERRING_URING_RESULTS));
	memcpy(pages, &op, sizeof(op));
	EXPECT_EQ(-EFAULT, ucmd(&self->ring, self->tr.fd,
				pages + 2 * getpagesize() - 8 * sizeof(op),
				300, TIMERRING_URING_RESULTS));
	ASSERT_EQ(0, timerring_stats(&self->tr, &st1));
	expect_stats_same(_metadata, &st0, &st1);

	/* SQE128: the 64 bytes after the command must be zero */
	ASSERT_EQ(0, io_uring_queue_init(4, &r128, IORING_SETUP_SQE128));
	sqe = get_sqe(&r128);
	memset(sqe, 0, 128);
	prep_ucmd(sqe, self->tr.fd, &op, 1, 0);
	((__u8 *)sqe)[127] = 1;
	EXPECT_EQ(-EINVAL, run_sqe(&r128));
	sqe = get_sqe(&r128);
	memset(sqe, 0, 128);
	prep_ucmd(sqe, self->tr.fd, &op, 1, 0);
	EXPECT_EQ(1, run_sqe(&r128));
	io_uring_queue_exit(&r128);

	/* an instance not set up */
	TR_OPEN_DEV_OR_SKIP(fd);
	EXPECT_EQ(-EINVAL, ucmd(&self->ring, fd, &op, 1, 0));
	close(fd);
	/* IOPOLL rings: io_uring refuses a file without uring_cmd_iopoll */
	ret = io_uring_queue_init(4, &r128, IORING_SETUP_IOPOLL);
	if (!ret) {
		EXPECT_EQ(-EOPNOTSUPP, ucmd(&r128, self->tr.fd, &op, 1, 0));
		io_uring_queue_exit(&r128);
	}
	munmap(pages, 3 * getpagesize());
}

/*
 * The inline issue never sleeps: a batch that needs nothing runs inline,
 * one of at most 256 ops that needs a table chunk or pool page runs from
 * the submitter's task work (no io-wq worker appears), and a batch of
 * more than 256 ops goes to an io-wq worker (one appears). The results
 * are the same either way.
 */
TEST_F(ucmd, nonblock_goes_to_iowq)
{
	struct timerring_op ops[300];
	unsigned int i;

	/* back ids 0..7 (chunk 0) and the pool, then idle them again */
	for (i = 0; i < 8; i++)
		timerring_op_arm(&ops[i], i, HOUR_NS, 0, i, 0);
	ASSERT_EQ(8, timerring_submit(&self->tr, ops, 8, NULL, 0, NULL, NULL));
	ASSERT_EQ(8, tr_cancel_all(&self->tr));
	ASSERT_EQ(0, iowq_workers());

	ASSERT_EQ(8, ucmd(&self->ring, self->tr.fd, ops, 8, 0));
	EXPECT_EQ(0, iowq_workers()) TH_LOG("a batch needing nothing slept");

	/* id 4000: a table chunk not allocated yet */
	timerring_op_arm(&ops[0], 4000, HOUR_NS, 0, 4000, 0);
	ASSERT_EQ(1, ucmd(&self->ring, self->tr.fd, ops, 1, 0));
	EXPECT_EQ(0, iowq_workers()) TH_LOG("a batch of 1 op went to io-wq");
	EXPECT_EQ(-EEXIST, tr_arm(&self->tr, 4000, HOUR_NS, 0, 0, 0));

	/* 300 ops in new chunks: io-wq */
	for (i = 0; i < 300; i++)
		timerring_op_arm(&ops[i], 5000 + i, HOUR_NS, 0, i, 0);
	ASSERT_EQ(300, ucmd(&self->ring, self->tr.fd, ops, 300, 0));
	EXPECT_LE(1, iowq_workers()) TH_LOG("300 ops ran inline");
	EXPECT_EQ(-EEXIST, tr_arm(&self->tr, 5299, HOUR_NS, 0, 0, 0));
}

/*
 * An SQE rewritten after io_uring_submit() returned does not change the
 * command. Here the command went to io-wq (more than 256 ops), and io-wq
 * has one worker, busy with a batch of 65536 ops before it: the command
 * runs after the rewrite. io_uring 6.12 retries it from the SQ ring, so
 * this holds only because the driver kept its copy.
 */
TEST_F_TIMEOUT(ucmd, sqe_rewritten_after_submit, 120)
{
	unsigned int workers[2] = { 1, 1 };
	struct timerring_op a[300], b[300], *big;
	struct timerring_uring_cmd *c;
	struct io_uring_sqe *sqe;
	__u64 ud;
	unsigned int i;
	int res;

	big = calloc(TIMERRING_BATCH_MAX, sizeof(*big));
	ASSERT_NE(NULL, big);
	for (i = 0; i < TIMERRING_BATCH_MAX; i++)
		timerring_op_cancel(&big[i], i % MAX_IDS);
	for (i = 0; i < 300; i++) {
		timerring_op_arm(&a[i], 1000 + i, HOUR_NS, 0, 0xa, 0);
		timerring_op_arm(&b[i], 3000 + i, HOUR_NS, 0, 0xb, 0);
	}
	ASSERT_EQ(0, io_uring_register_iowq_max_workers(&self->ring, workers));

	sqe = get_sqe(&self->ring);
	prep_ucmd(sqe, self->tr.fd, big, TIMERRING_BATCH_MAX, 0);
	sqe->user_data = 1;
	sqe = get_sqe(&self->ring);
	prep_ucmd(sqe, self->tr.fd, a, 300, 0);
	sqe->user_data = 2;
	ASSERT_EQ(2, io_uring_submit(&self->ring));
	c = (void *)sqe->cmd;
	c->addr = (__u64)(uintptr_t)b;
	c->nr = 2;

	for (i = 0; i < 2; i++) {
		res = reap_one(&self->ring, &ud);
		EXPECT_EQ(ud == 1 ? TIMERRING_BATCH_MAX : 300, res);
	}
	for (i = 0; i < 300; i++) {
		EXPECT_EQ(0, tr_cancel(&self->tr, 1000 + i));
		EXPECT_EQ(-ENOENT, tr_cancel(&self->tr, 3000 + i));
	}
	free(big);
}

struct flipper {
	volatile __u32 *nr;
	__u32 a, b;
	int stop;
	unsigned long flips;
};

static void *flip(void *arg)
{
	struct flipper *f = arg;

	while (!TR_READ_ONCE(f->stop)) {
		*f->nr = f->a;
		*f->nr = f->b;
		f->flips++;
	}
	return NULL;
}

/*
 * An SQE rewritten while the command is issued: another thread flips its
 * nr between 255 and 256. Each field is read once, so a command is one of
 * the two batches, whole: res is 255 or 256 and the res results sit right
 * after res ops (nr places them), the ops untouched and nothing written
 * after the results. A command that read nr twice would mix them.
 */
TEST_F_TIMEOUT(ucmd, sqe_rewritten_during_issue, 120)
{
	const unsigned int na = 255, nb = 256;
	struct timerring_op *ops;
	struct io_uring ring1;
	struct io_uring_sqe *sqe;
	struct flipper f = { .a = na, .b = nb };
	unsigned long seen[2] = { 0, 0 }, mixed = 0, iters = 0;
	uint64_t end = now_ns(CLOCK_MONOTONIC) + 3 * NSEC_PER_SEC;
	char *batch;
	pthread_t t;
	unsigned int i;

	/* one SQ entry: every command uses the same slot */
	ASSERT_EQ(0, io_uring_queue_init(1, &ring1, 0));
	batch = calloc(1, BATCH_BYTES(nb) + 64);
	ops = calloc(nb, sizeof(*ops));
	ASSERT_NE(NULL, batch);
	ASSERT_NE(NULL, ops);
	/* CANCELs of idle ids: -ENOENT each, no state, no allocation */
	for (i = 0; i < nb; i++)
		timerring_op_cancel(&ops[i], i);

	sqe = get_sqe(&ring1);
	ASSERT_NE(NULL, sqe);
	f.nr = &((struct timerring_uring_cmd *)sqe->cmd)->nr;
	io_uring_submit(&ring1);
	reap_one(&ring1, NULL);
	ASSERT_EQ(0, pthread_create(&t, NULL, flip, &f));

	while (now_ns(CLOCK_MONOTONIC) < end) {
		unsigned int k, r, bad = 0;
		__s32 *res;
		int got;

		memcpy(batch, ops, nb * sizeof(*ops));
		memset(batch + nb * sizeof(*ops), 0x5a, nb * 4 + 64);
		sqe = get_sqe(&ring1);
		prep_ucmd(sqe, self->tr.fd, batch, nb, TIMERRING_URING_RESULTS);
		got = run_sqe(&ring1);
		iters++;
		if (got != (int)na && got != (int)nb) {
			if (!mixed++)
				TH_LOG("res %d", got);
			continue;
		}
		r = got;
		seen[r == nb]++;
		res = batch_results(batch, r);
		for (k = 0; k < r; k++)
			bad += res[k] != -ENOENT;
		bad += res[r] != SENTINEL;
		bad += memcmp(batch, ops, r * sizeof(*ops)) != 0;
		if (bad && !mixed++)
			TH_LOG("res %d: results[0] %d, results[%u] %d, ops %s", r,
			       res[0], r, res[r],
			       memcmp(batch, ops, r * sizeof(*ops)) ? "changed" :
			       "intact");
	}
	TR_WRITE_ONCE(f.stop, 1);
	pthread_join(t, NULL);
	TH_LOG("%lu commands: %lu of 255 ops, %lu of 256, %lu mixed; %lu flips",
	       iters, seen[0], seen[1], mixed, f.flips);
	EXPECT_EQ(0, mixed);
	EXPECT_LT(0, seen[0] + seen[1]);
	io_uring_queue_exit(&ring1);
	free(ops);
	free(batch);
}

/*
 * A child with commands in flight exits, or closes its ring first: 4
 * batches of 65536 ops in io-wq, and a batch linked behind a 60 s timeout.
 * It is reaped promptly, and the instance (shared with the parent) is
 * intact: what was armed is counted and cancelled, and it still fires.
 */
TEST_F_TIMEOUT(ucmd, exit_with_commands_in_flight, 180)
{
	unsigned int way;

	for (way = 0; way < 2; way++) {
		struct timerring_stats st;
		uint64_t t0;
		int status = 0, n;
		pid_t pid = fork();

		ASSERT_LE(0, pid);
		if (!pid) {
			struct __kernel_timespec ts = { .tv_sec = 60 };
			struct timerring_op *ops;
			struct io_uring ring;
			struct io_uring_sqe *sqe;
			unsigned int i, k;

			if (io_uring_queue_init(16, &ring, 0))
				_exit(1);
			ops = calloc(TIMERRING_BATCH_MAX, sizeof(*ops));
			if (!ops)
				_exit(2);
			for (i = 0; i < TIMERRING_BATCH_MAX; i++)
				timerring_op_modify(&ops[i], i % MAX_IDS,
						    HOUR_NS, 0, i, 0);
			sqe = get_sqe(&ring);
			io_uring_prep_timeout(sqe, &ts, 0, 0);
			sqe->flags |= IOSQE_IO_LINK;
			sqe = get_sqe(&ring);
			prep_ucmd(sqe, self->tr.fd, ops, 8, 0);
			for (k = 0; k < 4; k++) {
				sqe = get_sqe(&ring);
				prep_ucmd(sqe, self->tr.fd, ops,
					  TIMERRING_BATCH_MAX, 0);
			}
			if (io_uring_submit(&ring) != 6)
				_exit(3);
			if (way)
				io_uring_queue_exit(&ring);
			_exit(0);
		}
		t0 = now_ns(CLOCK_MONOTONIC);
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		EXPECT_TRUE(WIFEXITED(status));
		EXPECT_EQ(0, WEXITSTATUS(status));
		TH_LOG("way %u: reaped after %llu ms", way,
		       (unsigned long long)((now_ns(CLOCK_MONOTONIC) - t0) /
					    NSEC_PER_MSEC));
		EXPECT_GT(30 * NSEC_PER_SEC, now_ns(CLOCK_MONOTONIC) - t0);

		/* the batches that ran are whole or cut between chunks */
		ASSERT_EQ(0, timerring_stats(&self->tr, &st));
		EXPECT_GE(MAX_IDS, st.armed_now);
		n = tr_cancel_all(&self->tr);
		EXPECT_EQ((int)st.armed_now, n);
		EXPECT_EQ(0, tr_fires(&self->tr, 7));
	}
}

/*
 * IORING_OP_POLL_ADD multishot on the timerring fd: each expiration wakes
 * it (a CQE with IORING_CQE_F_MORE and POLLIN), nothing else does, and it
 * stays armed across expirations.
 */
TEST_F(ucmd, poll_multishot)
{
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	struct __kernel_timespec ts = { .tv_sec = 0, .tv_nsec = 100000000 };
	unsigned int i;
	int ret;

	sqe = get_sqe(&self->ring);
	io_uring_prep_poll_multishot(sqe, self->tr.fd, POLLIN);
	sqe->user_data = 0x9011;
	ASSERT_EQ(1, io_uring_submit(&self->ring));

	for (i = 0; i < 3; i++) {
		struct __kernel_timespec wait = { .tv_sec = 10 };
		struct io_uring_cqe tcqe;

		/* nothing is due: no wake-up */
		ret = io_uring_wait_cqe_timeout(&self->ring, &cqe, &ts);
		EXPECT_EQ(-ETIME, ret) TH_LOG("round %u: woke with nothing due", i);
		if (!ret)
			io_uring_cqe_seen(&self->ring, cqe);

		ASSERT_LE(0, tr_arm(&self->tr, 20 + i, 20 * NSEC_PER_MSEC, 0,
				    0x70 + i, 0));
		ASSERT_EQ(0, io_uring_wait_cqe_timeout(&self->ring, &cqe, &wait));
		EXPECT_EQ(0x9011, cqe->user_data);
		EXPECT_TRUE(cqe->res & POLLIN);
		EXPECT_TRUE(cqe->flags & IORING_CQE_F_MORE);
		io_uring_cqe_seen(&self->ring, cqe);
		ASSERT_EQ(1, tr_reap(&self->tr, &tcqe, 1));
		EXPECT_EQ(20 + i, tcqe.res);
		/* a wake-up already queued for this expiration */
		while (!io_uring_peek_cqe(&self->ring, &cqe))
			io_uring_cqe_seen(&self->ring, cqe);
	}

	sqe = get_sqe(&self->ring);
	io_uring_prep_poll_remove(sqe, 0x9011);
	sqe->user_data = 0x9012;
	ASSERT_EQ(1, io_uring_submit(&self->ring));
	for (i = 0; i < 2; i++) {
		struct __kernel_timespec wait = { .tv_sec = 10 };

		ASSERT_EQ(0, io_uring_wait_cqe_timeout(&self->ring, &cqe, &wait));
		if (cqe->user_data == 0x9011) {
			EXPECT_EQ(-ECANCELED, cqe->res);
			EXPECT_FALSE(cqe->flags & IORING_CQE_F_MORE);
		} else {
			EXPECT_EQ(0, cqe->res);
		}
		io_uring_cqe_seen(&self->ring, cqe);
	}
}

TEST_HARNESS_MAIN
