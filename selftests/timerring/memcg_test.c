// SPDX-License-Identifier: GPL-2.0
/*
 * timerring and the memory cgroup (cgroup v2).
 *
 * The uapi header: "Everything is also accounted to the opener's memory
 * cgroup, whose limit gives ENOMEM." The module allocates with
 * GFP_KERNEL_ACCOUNT and from SLAB_ACCOUNT caches (shard.c, instance.c,
 * memmap.c, table.c; account.c is the per-uid budget, which does not limit root).
 *
 *   limit_gives_enomem   a child in a cgroup with memory.max =
 *                        SMALL_MAX: a SETUP whose ring alone is bigger
 *                        fails with ENOMEM and leaves the fd as it was
 *                        (a smaller SETUP then works on it); ARMs that
 *                        need table chunks fail with ENOMEM once the
 *                        cgroup is full (the first failing op of a batch
 *                        with STOP_ON_ERROR; the chunks that batch
 *                        allocated for ops it did not apply are freed, so
 *                        the ARMs and MODIFYs after it may fit a few more
 *                        chunks, and then fail with ENOMEM too), the ones
 *                        before them are armed, and ids of chunks already
 *                        there still work. No
 *                        task is OOM-killed (memory.events oom_kill 0, the
 *                        child exits normally): the limit gives ENOMEM.
 *                        While the child's cgroup is full, this process,
 *                        outside it, sets up the same big instance and
 *                        arms a timer in every chunk of it.
 *   close_returns_memory a child in a cgroup without a limit arms
 *                        TIMERS (10^6) timers: memory.current grows by at
 *                        least the memory the instance reports
 *                        (STATS mem_bytes, 90 % of it: that is the
 *                        accounting), and after close() it is back to
 *                        where it was before the open, within
 *                        MEMCG_TOLERANCE. The tolerance is the memcg's
 *                        per-CPU charge stock (64 pages per CPU, 512 KiB
 *                        on the VM's two CPUs) plus a few pages of the
 *                        child's own stack; the instance charges ~29 MiB,
 *                        so a leak of one table chunk in 300 would show.
 *
 * memory.current and memory.events are read by this process, outside the
 * cgroups: a file opened inside would be charged there. The children
 * touch only memory set up before fork() (shared mappings) once in their
 * cgroup, so that what is charged there is the module's.
 *
 * Skips without cgroup v2 or its memory controller (where cgroup2 is not
 * mounted on /sys/fs/cgroup, it is mounted there in a mount namespace of
 * the test's own), or without the device.
 */
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include "kselftest_harness.h"
#include "common.h"

#define CGROUP2_MAGIC	0x63677270
#define SMALL_MAX	(6ULL << 20)
#define TIMERS		1000000U
#define BATCH		TIMERRING_BATCH_MAX
#define CHUNK_IDS	128U		/* ids per table chunk */
#define MEMCG_TOLERANCE	(1ULL << 20)
#define HOUR_NS		(3600 * NSEC_PER_SEC)

/* Shared between the test and its child (MAP_SHARED, set up before fork). */
struct ctl {
	int child_step;		/* how far the child got */
	int parent_step;	/* how far the test got */
	int fail;		/* the child's failing step, 0 if none */
	int err;		/* and the errno there */
	unsigned int armed, enomem, other;	/* limit_gives_enomem ARMs */
	__u64 mem_bytes;	/* STATS of the child's instance */
	struct timerring_op ops[BATCH];
	__s32 res[BATCH];
	struct timerring tr, spare;
};

FIXTURE(memcg) {
	char root[256];		/* the cgroup2 mount */
	char cg[320];		/* the test's cgroup */
	struct ctl *ctl;
	pid_t child;
};

static bool is_cgroup2(const char *dir)
{
	struct statfs sf;

	return !statfs(dir, &sf) && sf.f_type == CGROUP2_MAGIC;
}

static int cg_write(const char *cg, const char *file, const char *val)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", cg, file);
	return tr_write_file(path, val);
}

/* A number in a cgroup file, or after "key " in it; -1 if unreadable. */
static long long cg_read(const char *cg, const char *file, const char *key)
{
	char path[512], buf[4096], *p = buf;
	size_t n = key ? strlen(key) : 0;

	snprintf(path, sizeof(path), "%s/%s", cg, file);
	if (tr_read_text(path, buf, sizeof(buf)) < 0)
		return -1;
	if (!key)
		return strtoll(buf, NULL, 10);
	while (p && *p) {
		if (!strncmp(p, key, n) && p[n] == ' ')
			return strtoll(p + n + 1, NULL, 10);
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return -1;
}

FIXTURE_SETUP(memcg)
{
	char ctrls[512];
	int fd;

	self->child = 0;
	self->cg[0] = 0;
	self->ctl = MAP_FAILED;
	fd = tr_open_dev();
	if (fd < 0)
		SKIP(return, "no " TIMERRING_DEV_PATH " (%d)", fd);
	close(fd);

	snprintf(self->root, sizeof(self->root), "/sys/fs/cgroup");
	if (!is_cgroup2(self->root)) {
		/*
		 * Mount it in a mount namespace of our own, which goes with
		 * this process: nothing is left mounted.
		 */
		if (unshare(CLONE_NEWNS) ||
		    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
			SKIP(return, "no private mount namespace (%s)",
			     strerror(errno));
		if (access(self->root, F_OK))
			snprintf(self->root, sizeof(self->root), "/tmp");
		if (mount("none", self->root, "cgroup2", 0, NULL))
			SKIP(return, "no cgroup v2 (%s)", strerror(errno));
	}
	snprintf(ctrls, sizeof(ctrls), "%s/cgroup.controllers", self->root);
	if (tr_read_text(ctrls, ctrls, sizeof(ctrls)) < 0 ||
	    !strstr(ctrls, "memory"))
		SKIP(return, "no memory controller in cgroup v2");
	/* the root may already delegate it (systemd does) */
	cg_write(self->root, "cgroup.subtree_control", "+memory");
	snprintf(self->cg, sizeof(self->cg), "%s/timerring_memcg_%d",
		 self->root, getpid());
	ASSERT_EQ(0, mkdir(self->cg, 0755)) TH_LOG("%s: %s", self->cg,
						  strerror(errno));
	ASSERT_LE(0, cg_read(self->cg, "memory.current", NULL))
		TH_LOG("%s has no memory controller", self->cg);

	self->ctl = mmap(NULL, sizeof(*self->ctl), PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->ctl);
	/* fault it all in here, charged outside the test's cgroup */
	memset(self->ctl, 0, sizeof(*self->ctl));
}

FIXTURE_TEARDOWN(memcg)
{
	int i;

	if (self->child > 0) {
		kill(self->child, SIGKILL);
		waitpid(self->child, NULL, 0);
	}
	if (self->cg[0])
		for (i = 0; i < 100 && rmdir(self->cg) && errno == EBUSY; i++)
			sleep_ns(10 * NSEC_PER_MSEC);
	if (self->ctl != MAP_FAILED)
		munmap(self->ctl, sizeof(*self->ctl));
}

/* Wait until *@step reaches @want (the other side's progress). */
static bool wait_step(const int *step, int want, uint64_t timeout_ns)
{
	uint64_t end = now_ns(CLOCK_MONOTONIC) + timeout_ns;

	while (__atomic_load_n(step, __ATOMIC_ACQUIRE) < want) {
		if (now_ns(CLOCK_MONOTONIC) > end)
			return false;
		sleep_ns(NSEC_PER_MSEC);
	}
	return true;
}

/*
 * The test's side of wait_step(): wait for the child's @want, or for the
 * child to end (then *@status has how, and self->child is reaped).
 */
static bool wait_child(FIXTURE_DATA(memcg) *self, int want,
		       uint64_t timeout_ns, int *status)
{
	uint64_t end = now_ns(CLOCK_MONOTONIC) + timeout_ns;

	*status = 0;
	while (__atomic_load_n(&self->ctl->child_step, __ATOMIC_ACQUIRE) < want) {
		if (waitpid(self->child, status, WNOHANG) == self->child) {
			self->child = 0;
			return false;
		}
		if (now_ns(CLOCK_MONOTONIC) > end)
			return false;
		sleep_ns(NSEC_PER_MSEC);
	}
	return true;
}

/* The child ended or hung before @step: say how. */
#define CHILD_LOST(step, status) do {					\
	if (self->child)						\
		ASSERT_TRUE(false) TH_LOG("child hung before step %d", step); \
	ASSERT_TRUE(WIFEXITED(status))					\
		TH_LOG("child killed by signal %d", WTERMSIG(status));	\
	ASSERT_TRUE(false) TH_LOG("child failed at step %d (%s)",	\
				  self->ctl->fail,			\
				  strerror(self->ctl->err));		\
} while (0)

static void set_step(int *step, int v)
{
	__atomic_store_n(step, v, __ATOMIC_RELEASE);
}

/* Fork a child that joins @cg and runs @fn(ctl); its exit code is fn's. */
static pid_t spawn_in(const char *cg, struct ctl *ctl, int (*fn)(struct ctl *))
{
	char procs[512];
	pid_t pid;

	snprintf(procs, sizeof(procs), "%s/cgroup.procs", cg);
	pid = fork();
	if (pid)
		return pid;
	/* "0": the writing process itself */
	if (tr_write_file(procs, "0"))
		_exit(99);
	_exit(fn(ctl));
}

static int child_fail(struct ctl *c, int step, int err)
{
	c->fail = step;
	c->err = err;
	return step;
}

/*
 * Arm one id in each of chunks [0, n); results in ctl->res. @flags:
 * TIMERRING_SUBMIT_*. Returns what timerring_submit() does.
 */
static int arm_chunks(struct timerring *tr, struct ctl *c, unsigned int n,
		      unsigned int flags)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		timerring_op_arm(&c->ops[i], i * CHUNK_IDS, HOUR_NS, 0, i, 0);
		c->res[i] = INT32_MIN;
	}
	return timerring_submit(tr, c->ops, n, c->res, flags, NULL, NULL);
}

static void big_params(struct timerring_params *p, __u32 max_cq)
{
	tr_default_params(p);
	p->max_timers = 1U << 20;	/* 8192 chunks */
	p->cq_entries = max_cq;		/* a ring of 16 MiB at 2^20 */
}

static int enomem_child(struct ctl *c)
{
	struct timerring_params p;
	struct timerring_version v;
	unsigned int i, n, fails[2];
	int fd, r;

	if (timerring_version(-1, &v))
		return child_fail(c, 1, errno);
	/* 1. the big SETUP: its ring alone is over the limit */
	fd = tr_open_dev();
	if (fd < 0)
		return child_fail(c, 2, -fd);
	big_params(&p, v.max_cq_entries);
	r = tr_ioctl(fd, TIMERRING_IOC_SETUP, &p);
	if (r != -ENOMEM)
		return child_fail(c, 3, -r);
	/* the failed SETUP changed nothing: a small one works on the fd */
	tr_default_params(&p);
	p.max_timers = 1U << 20;
	p.cq_entries = 64;
	r = timerring_open_fd(&c->tr, fd, &p);
	if (r)
		return child_fail(c, 4, -r);
	/* some room to give back once the cgroup is full */
	tr_default_params(&p);
	p.cq_entries = 4096;
	r = timerring_open(&c->spare, &p);
	if (r)
		return child_fail(c, 5, -r);

	/* 2. a timer in every chunk, up to the first that fails */
	n = (1U << 20) / CHUNK_IDS;
	r = arm_chunks(&c->tr, c, n, TIMERRING_SUBMIT_STOP_ON_ERROR);
	if (r <= 0 || r == (int)n)
		return child_fail(c, 6, r < 0 ? -r : 0);
	for (i = 0; i < (unsigned int)r; i++) {
		if (c->res[i] >= 0)
			c->armed++;
		else if (c->res[i] == -ENOMEM)
			c->enomem++;
		else
			c->other++;
	}
	/*
	 * The next ones fail too, ARM and MODIFY alike, once the chunks the
	 * batch freed are used up: 2 of each, within at most 256 ops.
	 */
	for (i = 0, fails[0] = fails[1] = 0;
	     i < 256 && (fails[0] < 2 || fails[1] < 2); i++) {
		__u32 id = (n - 1 - i) * CHUNK_IDS + 1;

		r = i % 2 ? tr_modify(&c->tr, id, HOUR_NS, 0, 1, 0) :
			    tr_arm(&c->tr, id, HOUR_NS, 0, 1, 0);
		if (r == -ENOMEM) {
			fails[i % 2]++;
			c->enomem++;
		} else if (r >= 0) {
			c->armed++;
		} else {
			return child_fail(c, 7, -r);
		}
	}
	if (fails[0] < 2 || fails[1] < 2)
		return child_fail(c, 7, 0);
	timerring_close(&c->spare);
	set_step(&c->child_step, 1);

	/* 3. the test sets up its big instance outside, then says go */
	if (!wait_step(&c->parent_step, 1, 120 * NSEC_PER_SEC))
		return child_fail(c, 8, ETIMEDOUT);
	/* ids of chunks already there still work */
	r = tr_fires(&c->tr, 1);
	if (r)
		return child_fail(c, 10 + r, 0);
	timerring_close(&c->tr);
	return 0;
}

TEST_F_TIMEOUT(memcg, limit_gives_enomem, 240)
{
	struct timerring_params p;
	struct timerring_version v;
	struct timerring host;
	struct ctl *c = self->ctl;
	unsigned int n = (1U << 20) / CHUNK_IDS, i;
	char max[32];
	int status;

	ASSERT_EQ(0, timerring_version(-1, &v));
	/* the big ring alone must be over the limit */
	ASSERT_LT(SMALL_MAX, (__u64)v.max_cq_entries * 16)
		TH_LOG("max_cq_entries %u: no SETUP is big enough",
		       v.max_cq_entries);
	snprintf(max, sizeof(max), "%llu", SMALL_MAX);
	ASSERT_EQ(0, cg_write(self->cg, "memory.max", max));
	cg_write(self->cg, "memory.swap.max", "0");

	self->child = spawn_in(self->cg, c, enomem_child);
	ASSERT_LT(0, self->child);
	if (!wait_child(self, 1, 120 * NSEC_PER_SEC, &status))
		CHILD_LOST(1, status);
	TH_LOG("in %llu bytes: %u chunks armed, then %u ARM/MODIFY failed with ENOMEM, memory.current %lld",
	       SMALL_MAX, c->armed, c->enomem,
	       cg_read(self->cg, "memory.current", NULL));
	/* the first ARM that failed did with ENOMEM, the ones before worked */
	EXPECT_LT(0, c->armed);
	EXPECT_LE(5, c->enomem);
	EXPECT_EQ(0, c->other);
	EXPECT_LT(0, cg_read(self->cg, "memory.events", "max"));

	/* the host, with the cgroup full: the same big instance works */
	big_params(&p, v.max_cq_entries);
	ASSERT_EQ(0, timerring_open(&host, &p));
	ASSERT_EQ(n, arm_chunks(&host, c, n, 0));
	for (i = 0; i < n; i++)
		if (c->res[i] < 0) {
			EXPECT_LE(0, c->res[i]) TH_LOG("host ARM %u", i);
			break;
		}
	EXPECT_EQ(0, tr_fires(&host, 1));
	timerring_close(&host);
	set_step(&c->parent_step, 1);

	ASSERT_EQ(self->child, waitpid(self->child, &status, 0));
	self->child = 0;
	ASSERT_TRUE(WIFEXITED(status)) TH_LOG("child killed by signal %d",
					      WTERMSIG(status));
	EXPECT_EQ(0, WEXITSTATUS(status)) TH_LOG("child failed at step %d (%s)",
						 c->fail, strerror(c->err));
	/* the limit gave ENOMEM, not the OOM killer */
	EXPECT_EQ(0, cg_read(self->cg, "memory.events", "oom_kill"));
	TH_LOG("memory.events: max %lld oom %lld oom_kill %lld",
	       cg_read(self->cg, "memory.events", "max"),
	       cg_read(self->cg, "memory.events", "oom"),
	       cg_read(self->cg, "memory.events", "oom_kill"));
}

static int close_child(struct ctl *c)
{
	struct timerring_params p;
	struct timerring_stats st;
	unsigned int done = 0, i, n;
	int r;

	set_step(&c->child_step, 1);
	/* the test reads the baseline */
	if (!wait_step(&c->parent_step, 1, 60 * NSEC_PER_SEC))
		return child_fail(c, 1, ETIMEDOUT);
	tr_default_params(&p);
	p.max_timers = TIMERS;
	r = timerring_open(&c->tr, &p);
	if (r)
		return child_fail(c, 2, -r);
	while (done < TIMERS) {
		n = TIMERS - done < BATCH ? TIMERS - done : BATCH;
		for (i = 0; i < n; i++)
			timerring_op_arm(&c->ops[i], done + i,
					 HOUR_NS + (done + i) * NSEC_PER_USEC,
					 0, done + i, 0);
		r = timerring_submit(&c->tr, c->ops, n, NULL, 0, NULL, &i);
		if (r != (int)n || i)
			return child_fail(c, 3, r < 0 ? -r : 0);
		done += n;
	}
	if (timerring_stats(&c->tr, &st) || st.armed_now != TIMERS)
		return child_fail(c, 4, 0);
	c->mem_bytes = st.mem_bytes;
	set_step(&c->child_step, 2);
	/* the test reads the peak */
	if (!wait_step(&c->parent_step, 2, 60 * NSEC_PER_SEC))
		return child_fail(c, 5, ETIMEDOUT);
	timerring_close(&c->tr);
	set_step(&c->child_step, 3);
	/* stay, with our own pages, until the test has read the end */
	if (!wait_step(&c->parent_step, 3, 60 * NSEC_PER_SEC))
		return child_fail(c, 6, ETIMEDOUT);
	return 0;
}

TEST_F_TIMEOUT(memcg, close_returns_memory, 600)
{
	struct ctl *c = self->ctl;
	long long base, peak, end;
	uint64_t t0, t1;
	int status;

	ASSERT_EQ(0, cg_write(self->cg, "memory.max", "max"));
	self->child = spawn_in(self->cg, c, close_child);
	ASSERT_LT(0, self->child);
	if (!wait_child(self, 1, 60 * NSEC_PER_SEC, &status))
		CHILD_LOST(1, status);
	base = cg_read(self->cg, "memory.current", NULL);
	ASSERT_LE(0, base);
	t0 = now_ns(CLOCK_MONOTONIC);
	set_step(&c->parent_step, 1);
	if (!wait_child(self, 2, 500 * NSEC_PER_SEC, &status))
		CHILD_LOST(2, status);
	t1 = now_ns(CLOCK_MONOTONIC);
	peak = cg_read(self->cg, "memory.current", NULL);
	set_step(&c->parent_step, 2);
	if (!wait_child(self, 3, 120 * NSEC_PER_SEC, &status))
		CHILD_LOST(3, status);
	end = cg_read(self->cg, "memory.current", NULL);
	TH_LOG("memory.current: %lld before, %lld with %u timers armed (STATS mem_bytes %llu; armed in %llu ms), %lld after close",
	       base, peak, TIMERS, (unsigned long long)c->mem_bytes,
	       (unsigned long long)(t1 - t0) / NSEC_PER_MSEC, end);
	set_step(&c->parent_step, 3);
	ASSERT_EQ(self->child, waitpid(self->child, &status, 0));
	self->child = 0;
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status)) TH_LOG("child failed at step %d (%s)",
						 c->fail, strerror(c->err));

	/* what the instance holds is charged to the cgroup */
	EXPECT_LE(c->mem_bytes / 10 * 9, (__u64)(peak - base));
	/* and all of it is given back by close() */
	EXPECT_GE(base + (long long)MEMCG_TOLERANCE, end);
}

TEST_HARNESS_MAIN
