// SPDX-License-Identifier: GPL-2.0
/*
 * timerring: the lifetime of an instance, its fds and its mappings.
 *
 * The uapi header: "Memory is returned when the last reference to the
 * file goes (close of the last fd and munmap of the last mapping)". Until
 * then the instance lives on, its armed timers keep firing into the ring,
 * and the ring can be read and consumed through any mapping left. So:
 *
 *   fork_shared_ring       a child inherits fd and mapping: the child
 *                          consumes the first CQEs, the parent the rest,
 *                          through the one shared ring; every CQE exactly
 *                          once, in due order
 *   fork_parent_closes     the parent closes its fd and unmaps right after
 *                          fork(): the child's fd and mapping carry on and
 *                          see every CQE
 *   fork_no_fd_left        parent and child both close their fds and keep
 *                          their mappings: the timers still fire into the
 *                          ring, both see the same CQEs, and only the
 *                          second munmap returns the memory
 *   mmap_races_close       one thread mmap()s in a loop while another
 *                          closes the fd: each mmap either gives a ring
 *                          that works (the instance lives while it is
 *                          mapped) or fails with EBADF, nothing in between
 *   munmap_then_close      the fd works without a mapping (WAIT, STATS,
 *                          ARM, a new mmap sees the CQEs); memory returned
 *                          at the close
 *   close_then_munmap      the mapping works without an fd (timers armed
 *                          before the close fire into it, consuming works);
 *                          memory returned at the munmap
 *
 * "Memory returned" is exact: the bytes charged to our uid (debugfs
 * timerring/users), the open instances (debugfs timerring/stats) and the
 * module's reference count (/sys/module/timerring/refcnt: one per open
 * file) are back where they were before the instance was opened. Each of
 * the three is skipped, with a note, where the kernel does not show it.
 */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include "kselftest_harness.h"
#include "common.h"

#define DBG_USERS	"/sys/kernel/debug/timerring/users"
#define DBG_STATS	"/sys/kernel/debug/timerring/stats"
#define MOD_REFCNT	"/sys/module/timerring/refcnt"
#define UD(id)		(0x5eed0000ULL + (id))
#define NR_FORK		8
#define RACE_ITERS	150

/* What an instance holds, as the kernel shows it; -1: not shown. */
struct mem_snap {
	long long user_bytes;	/* charged to our uid */
	long long inst_open;	/* set-up instances */
	long long refcnt;	/* of the module */
};

/* "key N" at the start of a line of @buf, after @key; -1 if absent. */
static long long field_after(const char *buf, const char *key)
{
	const char *p = buf;
	size_t n = strlen(key);

	while (p && *p) {
		if (!strncmp(p, key, n))
			return strtoll(p + n, NULL, 10);
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return -1;
}

static void snap(struct mem_snap *s)
{
	char buf[4096], key[64];
	uint64_t v;

	s->user_bytes = -1;
	s->inst_open = -1;
	s->refcnt = -1;
	if (tr_read_text(DBG_USERS, buf, sizeof(buf)) > 0) {
		/* "uid U bytes B instances N", no line: nothing charged */
		snprintf(key, sizeof(key), "uid %u bytes ", getuid());
		s->user_bytes = field_after(buf, key);
		if (s->user_bytes < 0)
			s->user_bytes = 0;
	}
	if (tr_read_text(DBG_STATS, buf, sizeof(buf)) > 0)
		s->inst_open = field_after(buf, "instances_open ");
	if (!tr_read_u64_file(MOD_REFCNT, &v))
		s->refcnt = v;
}

static bool snap_same(const struct mem_snap *a, const struct mem_snap *b)
{
	return a->user_bytes == b->user_bytes && a->inst_open == b->inst_open &&
	       a->refcnt == b->refcnt;
}

/*
 * The memory of every instance opened since @base is returned: poll for a
 * second (a file's last reference may be dropped by a work item), then
 * compare exactly.
 */
static void expect_returned(struct __test_metadata *_metadata,
			    const struct mem_snap *base)
{
	struct mem_snap now;
	int i;

	for (i = 0; i < 100; i++) {
		snap(&now);
		if (snap_same(base, &now))
			break;
		sleep_ns(10 * NSEC_PER_MSEC);
	}
	if (base->user_bytes < 0)
		TH_LOG("no %s: charged bytes not checked", DBG_USERS);
	if (base->inst_open < 0)
		TH_LOG("no %s: open instances not checked", DBG_STATS);
	if (base->refcnt < 0)
		TH_LOG("no %s: module references not checked", MOD_REFCNT);
	EXPECT_EQ(base->user_bytes, now.user_bytes);
	EXPECT_EQ(base->inst_open, now.inst_open);
	EXPECT_EQ(base->refcnt, now.refcnt);
}

/* The instance still holds its memory and the module. */
static void expect_held(struct __test_metadata *_metadata,
			const struct mem_snap *base)
{
	struct mem_snap now;

	snap(&now);
	if (base->user_bytes >= 0)
		EXPECT_LT(base->user_bytes, now.user_bytes);
	if (base->inst_open >= 0)
		EXPECT_EQ(base->inst_open + 1, now.inst_open);
	if (base->refcnt >= 0)
		EXPECT_EQ(base->refcnt + 1, now.refcnt);
}

static void small_params(struct timerring_params *p)
{
	tr_default_params(p);
	p->max_timers = 64;
	p->cq_entries = 64;
}

/*
 * Arm ids [0, n) relative, id i due at (i + 1) * @step_ns, user_data
 * UD(i); @gen gets each generation. 0 or the failing op's -errno.
 */
static int arm_staggered(struct timerring *tr, unsigned int n,
			 __u64 step_ns, __u16 *gen)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		int r = tr_arm(tr, i, (i + 1) * step_ns, 0, UD(i), 0);

		if (r < 0)
			return r;
		gen[i] = timerring_res_gen(r);
	}
	return 0;
}

/*
 * The CQE of a one-shot id armed by arm_staggered(): 0, or what is wrong
 * with it (> 0).
 */
static int cqe_bad(const struct io_uring_cqe *c, const __u16 *gen,
		   unsigned int n)
{
	__u32 id = (__u32)c->res;

	if (c->res < 0 || id >= n)
		return 1;
	if (c->user_data != UD(id))
		return 2;
	if (c->flags != (__u32)gen[id] << TIMERRING_CQE_GEN_SHIFT)
		return 3;
	return 0;
}

/* Poll a ring we may have no fd for until @want CQEs are ready. */
static unsigned int poll_ready(const struct timerring *tr, unsigned int want,
			       uint64_t timeout_ns)
{
	uint64_t end = now_ns(CLOCK_MONOTONIC) + timeout_ns;
	unsigned int n;

	while ((n = timerring_cq_ready(tr)) < want &&
	       now_ns(CLOCK_MONOTONIC) < end)
		sleep_ns(2 * NSEC_PER_MSEC);
	return n;
}

/* Child of fork_shared_ring: consume NR_FORK / 2 CQEs, send them. */
static int shared_child(struct timerring *tr, int wfd)
{
	struct io_uring_cqe got[NR_FORK / 2];

	if (tr_collect(tr, got, NR_FORK / 2, WAIT_LONG_NS) != NR_FORK / 2)
		return 10;
	if (write(wfd, got, sizeof(got)) != sizeof(got))
		return 11;
	return 0;
}

TEST(fork_shared_ring)
{
	struct io_uring_cqe got[NR_FORK];
	struct timerring_params p;
	struct timerring tr;
	struct mem_snap base;
	__u16 gen[NR_FORK];
	unsigned int i, seen = 0;
	int pfd[2], status;
	pid_t pid;

	snap(&base);
	small_params(&p);
	TR_OPEN_OR_SKIP(&tr, &p);
	ASSERT_EQ(0, pipe(pfd));
	ASSERT_EQ(0, arm_staggered(&tr, NR_FORK, 40 * NSEC_PER_MSEC, gen));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		close(pfd[0]);
		_exit(shared_child(&tr, pfd[1]));
	}
	close(pfd[1]);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status));
	ASSERT_EQ(sizeof(got) / 2, read(pfd[0], got, sizeof(got) / 2));
	close(pfd[0]);
	/* The child's consumption is ours: one ring, shared pages. */
	EXPECT_EQ(NR_FORK / 2, *tr.cq.khead);
	ASSERT_EQ(NR_FORK / 2, tr_collect(&tr, got + NR_FORK / 2, NR_FORK / 2,
					  WAIT_LONG_NS));
	/* Every id exactly once, in the order they were due. */
	for (i = 0; i < NR_FORK; i++) {
		EXPECT_EQ(0, cqe_bad(&got[i], gen, NR_FORK)) TH_LOG("cqe %u", i);
		EXPECT_EQ(i, got[i].res);
		seen |= 1U << (got[i].res & 31);
	}
	EXPECT_EQ((1U << NR_FORK) - 1, seen);
	EXPECT_EQ(0, tr_settle(&tr, 50 * NSEC_PER_MSEC));
	EXPECT_EQ(NR_FORK, timerring_load_acquire(tr.cq.ktail));
	timerring_close(&tr);
	expect_returned(_metadata, &base);
}

/* Child of fork_parent_closes: every CQE through its own fd and mapping. */
static int parent_closes_child(struct timerring *tr, const __u16 *gen,
			       int rfd)
{
	struct io_uring_cqe got[NR_FORK];
	unsigned int i;
	char c;

	/* the parent has closed its fd and unmapped */
	if (read(rfd, &c, 1) != 1)
		return 10;
	if (tr_collect(tr, got, NR_FORK, WAIT_LONG_NS) != NR_FORK)
		return 11;
	for (i = 0; i < NR_FORK; i++)
		if (cqe_bad(&got[i], gen, NR_FORK) || got[i].res != (__s32)i)
			return 20 + i;
	if (tr_settle(tr, 50 * NSEC_PER_MSEC))
		return 12;
	/* and the instance still takes ops */
	if (tr_fires(tr, NR_FORK))
		return 13;
	timerring_close(tr);
	return 0;
}

TEST(fork_parent_closes)
{
	struct timerring_params p;
	struct timerring tr;
	struct mem_snap base;
	__u16 gen[NR_FORK];
	int pfd[2], status;
	pid_t pid;

	snap(&base);
	small_params(&p);
	TR_OPEN_OR_SKIP(&tr, &p);
	ASSERT_EQ(0, pipe(pfd));
	ASSERT_EQ(0, arm_staggered(&tr, NR_FORK, 40 * NSEC_PER_MSEC, gen));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		close(pfd[1]);
		_exit(parent_closes_child(&tr, gen, pfd[0]));
	}
	close(pfd[0]);
	timerring_close(&tr);
	expect_held(_metadata, &base);
	ASSERT_EQ(1, write(pfd[1], "x", 1));
	close(pfd[1]);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status)) TH_LOG("child failed at step %d",
						 WEXITSTATUS(status));
	expect_returned(_metadata, &base);
}

/*
 * Child of fork_no_fd_left: close the inherited fd, then, with only the
 * mappings left, see every CQE and consume them.
 */
static int no_fd_child(struct timerring *tr, const __u16 *gen, int rfd,
		       int wfd)
{
	unsigned int i, head;
	char c;

	close(tr->fd);
	tr->fd = -1;
	/* both fds are closed now */
	if (write(wfd, "c", 1) != 1 || read(rfd, &c, 1) != 1)
		return 10;
	if (poll_ready(tr, NR_FORK, WAIT_LONG_NS) != NR_FORK)
		return 11;
	head = *tr->cq.khead;
	for (i = 0; i < NR_FORK; i++) {
		const struct io_uring_cqe *cqe =
			&tr->cq.cqes[(head + i) & tr->cq.ring_mask];

		if (cqe_bad(cqe, gen, NR_FORK) || cqe->res != (__s32)i)
			return 20 + i;
	}
	timerring_cq_advance(tr, NR_FORK);
	munmap(tr->ring_ptr, tr->ring_sz);
	return 0;
}

TEST(fork_no_fd_left)
{
	struct timerring_params p;
	struct timerring tr;
	struct mem_snap base;
	__u16 gen[NR_FORK];
	int to_child[2], to_parent[2], status;
	char c;
	pid_t pid;

	snap(&base);
	small_params(&p);
	TR_OPEN_OR_SKIP(&tr, &p);
	ASSERT_EQ(0, pipe(to_child));
	ASSERT_EQ(0, pipe(to_parent));
	ASSERT_EQ(0, arm_staggered(&tr, NR_FORK, 40 * NSEC_PER_MSEC, gen));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		_exit(no_fd_child(&tr, gen, to_child[0], to_parent[1]));
	close(tr.fd);
	tr.fd = -1;
	ASSERT_EQ(1, read(to_parent[0], &c, 1));
	/* No fd anywhere: the two mappings hold the instance. */
	expect_held(_metadata, &base);
	ASSERT_EQ(1, write(to_child[1], "p", 1));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status)) TH_LOG("child failed at step %d",
						 WEXITSTATUS(status));
	/* What the child consumed shows in our mapping; nothing more came. */
	EXPECT_EQ(NR_FORK, *tr.cq.khead);
	EXPECT_EQ(NR_FORK, timerring_load_acquire(tr.cq.ktail));
	/* The child's munmap was not the last one. */
	expect_held(_metadata, &base);
	munmap(tr.ring_ptr, tr.ring_sz);
	expect_returned(_metadata, &base);
}

struct race_iter {
	int fd;
	size_t len;
	int ready;
	int go;
	int closed;
	void *maps[64];
	unsigned int nmaps;
	int err;		/* errno of the failed mmap */
};

static void *mapper(void *arg)
{
	struct race_iter *r = arg;

	TR_WRITE_ONCE(r->ready, 1);
	while (!TR_READ_ONCE(r->go))
		;
	while (r->nmaps < 64) {
		void *m = mmap(NULL, r->len, PROT_READ | PROT_WRITE,
			       MAP_SHARED, r->fd, 0);

		if (m == MAP_FAILED) {
			r->err = errno;
			break;
		}
		r->maps[r->nmaps++] = m;
		if (TR_READ_ONCE(r->closed) && r->nmaps >= 2)
			break;
	}
	return NULL;
}

/*
 * One thread mmap()s the instance in a loop while another closes its fd.
 * An mmap that succeeds holds the instance: its ring has the right
 * layout, and a timer armed before the close fires into it. One that fails
 * does so with EBADF (mmap(2): not an open fd).
 */
FIXTURE(race) {
	int unused;
};

FIXTURE_SETUP(race)
{
}

FIXTURE_TEARDOWN(race)
{
}

TEST_F_TIMEOUT(race, mmap_races_close, 120)
{
	unsigned int it, mapped_iters = 0, failed_first = 0, spin;
	struct timerring_params p;
	struct mem_snap base;

	snap(&base);
	for (it = 0; it < RACE_ITERS; it++) {
		struct race_iter r = { .err = 0 };
		struct timerring tr;
		pthread_t th;
		unsigned int i;

		small_params(&p);
		r.fd = tr_open_dev();
		if (r.fd == -ENOENT || r.fd == -ENODEV || r.fd == -ENXIO)
			SKIP(return, "no " TIMERRING_DEV_PATH);
		ASSERT_LE(0, r.fd);
		ASSERT_EQ(0, tr_ioctl(r.fd, TIMERRING_IOC_SETUP, &p));
		r.len = p.mmap_size;
		/* a timer due right after the race, with no fd left to WAIT */
		ASSERT_EQ(0, tr_attach(&tr, r.fd, &p));
		ASSERT_LE(0, tr_arm(&tr, 1, 20 * NSEC_PER_MSEC, 0, UD(1), 0));
		munmap(tr.ring_ptr, tr.ring_sz);

		ASSERT_EQ(0, pthread_create(&th, NULL, mapper, &r));
		while (!TR_READ_ONCE(r.ready))
			;
		TR_WRITE_ONCE(r.go, 1);
		/* let the mapper get 0 to a few mmaps in before the close */
		for (spin = 0; spin < (it % 32) * 300; spin++)
			__asm__ volatile("" ::: "memory");
		ASSERT_EQ(0, close(r.fd));
		TR_WRITE_ONCE(r.closed, 1);
		ASSERT_EQ(0, pthread_join(th, NULL));

		EXPECT_TRUE(r.err == 0 || r.err == EBADF)
			TH_LOG("iteration %u: mmap failed with %s", it,
			       strerror(r.err));
		if (!r.nmaps)
			failed_first++;
		else
			mapped_iters++;
		for (i = 0; i < r.nmaps; i++) {
			const char *m = r.maps[i];

			EXPECT_EQ(p.cq_entries,
				  *(const __u32 *)(m + p.cq_off.ring_entries));
			EXPECT_EQ(p.cq_entries - 1,
				  *(const __u32 *)(m + p.cq_off.ring_mask));
		}
		if (r.nmaps) {
			/* the instance lives on: its timer fires into the ring */
			const char *m = r.maps[r.nmaps - 1];
			const __u32 *tail = (const __u32 *)(m + p.cq_off.tail);
			const struct io_uring_cqe *cqe =
				(const void *)(m + p.cq_off.cqes);
			uint64_t end = now_ns(CLOCK_MONOTONIC) + WAIT_LONG_NS;

			while (!timerring_load_acquire(tail) &&
			       now_ns(CLOCK_MONOTONIC) < end)
				sleep_ns(NSEC_PER_MSEC);
			EXPECT_EQ(1, timerring_load_acquire(tail));
			EXPECT_EQ(1, cqe[0].res);
			EXPECT_EQ(UD(1), cqe[0].user_data);
			/* every mapping is the same ring */
			for (i = 0; i < r.nmaps; i++)
				EXPECT_EQ(1, *(const __u32 *)((const char *)
					  r.maps[i] + p.cq_off.tail));
		}
		for (i = 0; i < r.nmaps; i++)
			munmap(r.maps[i], r.len);
		if (_metadata->exit_code)
			break;
	}
	TH_LOG("%u iterations mapped the ring, %u lost the race at once",
	       mapped_iters, failed_first);
	expect_returned(_metadata, &base);
}

/*
 * Unmapped, the instance works through its fd: WAIT counts the CQEs, a
 * new mapping shows them, the memory stays charged until the close.
 */
TEST(munmap_then_close)
{
	struct timerring_params p;
	struct timerring_stats st;
	struct timerring tr;
	struct mem_snap base;
	struct io_uring_cqe *cqe;
	int fd;

	snap(&base);
	small_params(&p);
	TR_OPEN_OR_SKIP(&tr, &p);
	ASSERT_LE(0, tr_arm(&tr, 1, 0, 0, UD(1), 0));
	ASSERT_EQ(1, timerring_wait(&tr, 1, WAIT_LONG_NS));
	fd = tr.fd;
	ASSERT_EQ(0, munmap(tr.ring_ptr, tr.ring_sz));
	expect_held(_metadata, &base);

	/* ARM and WAIT need no mapping */
	ASSERT_LE(0, tr_arm(&tr, 2, 10 * NSEC_PER_MSEC, 0, UD(2), 0));
	ASSERT_EQ(2, timerring_wait(&tr, 2, WAIT_LONG_NS));
	ASSERT_EQ(0, tr_get_stats(fd, &st));
	EXPECT_EQ(2, st.expired_total);
	EXPECT_EQ(0, st.armed_now);

	/* a new mapping is the same ring, both CQEs unconsumed */
	ASSERT_EQ(0, tr_attach(&tr, fd, &p));
	EXPECT_EQ(0, *tr.cq.khead);
	ASSERT_EQ(2, timerring_cq_ready(&tr));
	cqe = &tr.cq.cqes[0];
	EXPECT_EQ(1, cqe[0].res);
	EXPECT_EQ(UD(1), cqe[0].user_data);
	EXPECT_EQ(2, cqe[1].res);
	EXPECT_EQ(UD(2), cqe[1].user_data);
	timerring_cq_advance(&tr, 2);
	ASSERT_EQ(0, munmap(tr.ring_ptr, tr.ring_sz));
	expect_held(_metadata, &base);
	ASSERT_EQ(0, close(fd));
	expect_returned(_metadata, &base);
}

/*
 * Closed, the instance works through its mapping: timers armed before
 * the close fire into it, never early, and the ring can be consumed; the
 * memory stays charged until the munmap.
 */
TEST(close_then_munmap)
{
	const __u64 step = 100 * NSEC_PER_MSEC;
	struct timerring_params p;
	struct timerring tr;
	struct mem_snap base;
	__u16 gen[3];
	uint64_t t0, seen_at[3] = { 0 };
	unsigned int i, n = 0;

	snap(&base);
	small_params(&p);
	TR_OPEN_OR_SKIP(&tr, &p);
	t0 = now_ns(CLOCK_MONOTONIC);
	ASSERT_EQ(0, arm_staggered(&tr, 3, step, gen));
	ASSERT_EQ(0, close(tr.fd));
	tr.fd = -1;
	expect_held(_metadata, &base);

	/* consume them one by one as they come, with no fd */
	while (n < 3) {
		unsigned int ready = poll_ready(&tr, 1, WAIT_LONG_NS);
		uint64_t t = now_ns(CLOCK_MONOTONIC);
		const struct io_uring_cqe *cqe;

		ASSERT_LE(1, ready);
		while ((cqe = timerring_peek_cqe(&tr)) && n < 3) {
			EXPECT_EQ(0, cqe_bad(cqe, gen, 3));
			EXPECT_EQ(n, cqe->res);
			seen_at[n++] = t;
			timerring_cqe_seen(&tr);
		}
	}
	for (i = 0; i < 3; i++)
		EXPECT_LE(t0 + (i + 1) * step, seen_at[i]) TH_LOG("id %u early", i);
	sleep_ns(50 * NSEC_PER_MSEC);
	EXPECT_EQ(3, timerring_load_acquire(tr.cq.ktail));
	EXPECT_EQ(3, *tr.cq.khead);
	expect_held(_metadata, &base);
	ASSERT_EQ(0, munmap(tr.ring_ptr, tr.ring_sz));
	expect_returned(_metadata, &base);
}

TEST_HARNESS_MAIN
