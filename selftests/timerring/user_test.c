// SPDX-License-Identifier: GPL-2.0
/*
 * timerring as an unprivileged user: the access model and the per-uid
 * memory budget (max_user_bytes).
 *
 * The test starts as root and forks children that become uid 65534 (or
 * 65533 for a second user) with, as only supplementary group, the group
 * of /dev/timerring: what the udev rule (group "timerring", mode 0660)
 * lets a member of that group do. Such a user can run 10^6 timers; it
 * cannot pin more than max_user_bytes (ENOSPC at open() or SETUP), and
 * while it sits at its limit another user still gets timers.
 */
#include <grp.h>
#include <linux/capability.h>
#include <sys/syscall.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include "kselftest_harness.h"
#include "common.h"

#define USER1		65534
#define USER2		65533
#ifndef NOFILE
#define NOFILE		65536
#endif
#define PARAM		"/sys/module/timerring/parameters/max_user_bytes"
/*
 * What an fd costs besides what the module charges: struct file, the vma
 * and page tables of its mapping, the fd table. MemAvailable may drop by
 * this much more than the budget.
 */
#define SLACK		(8ULL << 20)
#define INSTANCE_APPROX	(100ULL << 10)	/* "~100 KiB" charged at open() */
#define BUDGET_MIN	(64ULL << 20)
#define MILLION		1000000U
#define BATCH		TIMERRING_BATCH_MAX
#define UD_XOR		0x5a5a000000000000ULL

/* Children report like the tests: "# user_test: ..." on stderr. */
#define CLOG(fmt, ...)	fprintf(stderr, "# user_test: " fmt "\n", ##__VA_ARGS__)

static uint64_t cap_eff(void)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &hdr, d))
		return ~0ULL;
	return d[0].effective | (uint64_t)d[1].effective << 32;
}

/*
 * Become @uid (gid @uid), with @devgid as the only supplementary group if
 * @group, else none, and RLIMIT_NOFILE NOFILE (raised while still root).
 * 0, or the step that failed.
 */
static int drop_privs(uid_t uid, gid_t devgid, bool group)
{
	struct rlimit rl = { .rlim_cur = NOFILE, .rlim_max = NOFILE };

	if (setrlimit(RLIMIT_NOFILE, &rl))
		return 1;
	if (group ? setgroups(1, &devgid) : setgroups(0, NULL))
		return 2;
	if (setgid(uid))
		return 3;
	if (setuid(uid))
		return 4;
	if (getuid() != uid || geteuid() != uid || getgid() != uid)
		return 5;
	/* No CAP_SYS_RESOURCE: charged and limited. */
	if (cap_eff() != 0)
		return 6;
	return 0;
}

typedef int (*child_fn)(void *arg);

/* Fork a child that drops to @uid and exits with fn(arg). */
static pid_t spawn_as(uid_t uid, gid_t devgid, bool group, child_fn fn,
		      void *arg)
{
	pid_t pid = fork();
	int ret;

	if (pid)
		return pid;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	ret = drop_privs(uid, devgid, group);
	if (ret) {
		CLOG("becoming uid %u failed at step %d: %s", uid, ret,
		     strerror(errno));
		_exit(100 + ret);
	}
	_exit(fn(arg));
}

/* Exit status of @pid, or 200 + the signal that killed it. */
static int reap(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid)
		return 255;
	if (WIFSIGNALED(status))
		return 200 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

static int run_as(uid_t uid, gid_t devgid, child_fn fn, void *arg)
{
	pid_t pid = spawn_as(uid, devgid, true, fn, arg);

	return pid < 0 ? 254 : reap(pid);
}

/* Read exactly @len bytes from @fd within @ms; 0 or -1. */
static int read_full(int fd, void *buf, size_t len, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	size_t got = 0;

	while (got < len) {
		ssize_t n;

		if (poll(&pfd, 1, ms) != 1)
			return -1;
		n = read(fd, (char *)buf + got, len - got);
		if (n <= 0)
			return -1;
		got += n;
	}
	return 0;
}

FIXTURE(u) {
	gid_t devgid;
	mode_t mode;
	uint64_t budget;
	char saved[32];
	bool lowered;
	struct timerring_version v;
};

FIXTURE_SETUP(u)
{
	uint64_t avail;
	struct stat st;
	char buf[32];
	int fd;

	if (geteuid())
		SKIP(return, "needs root to start (it drops to uid %u)", USER1);
	if (stat(TIMERRING_DEV_PATH, &st))
		SKIP(return, "no " TIMERRING_DEV_PATH);
	self->devgid = st.st_gid;
	self->mode = st.st_mode & 07777;
	if ((self->mode & 0060) != 0060)
		SKIP(return, "%s is mode %04o: not usable by its group (see access_model)",
		     TIMERRING_DEV_PATH, self->mode);
	ASSERT_EQ(0, timerring_version(-1, &self->v));
	ASSERT_EQ(0, tr_read_u64_file(PARAM, &self->budget))
		TH_LOG("no %s", PARAM);
	ASSERT_GE(self->budget, 1);

	/* Keep the test clear of the OOM killer on a small machine. */
	avail = tr_mem_available();
	if (avail && self->budget + SLACK > avail / 2) {
		uint64_t b = (avail / 4) & ~((1ULL << 20) - 1);

		if (b < BUDGET_MIN)
			SKIP(return, "MemAvailable %llu MiB is too small",
			     (unsigned long long)(avail >> 20));
		fd = open(PARAM, O_RDONLY | O_CLOEXEC);
		ASSERT_LE(0, fd);
		ASSERT_LT(0, read(fd, self->saved, sizeof(self->saved) - 1));
		close(fd);
		snprintf(buf, sizeof(buf), "%llu", (unsigned long long)b);
		ASSERT_EQ(0, tr_write_file(PARAM, buf));
		self->lowered = true;
		self->budget = b;
	}
	TH_LOG("%s: mode %04o gid %u; max_user_bytes %llu MiB%s",
	       TIMERRING_DEV_PATH, self->mode, self->devgid,
	       (unsigned long long)(self->budget >> 20),
	       self->lowered ? " (lowered for this test)" : "");
}

FIXTURE_TEARDOWN(u)
{
	if (self->lowered)
		tr_write_file(PARAM, self->saved);
}

static int try_open(void *arg)
{
	int fd = open(TIMERRING_DEV_PATH, O_RDWR | O_CLOEXEC);

	if (fd >= 0) {
		close(fd);
		return 0;
	}
	return errno == EACCES ? 1 : 2;
}

/*
 * Others have no access; the device's group has (the udev rule, or
 * tools/vm/guest/guest.sh in the test VM, makes it group timerring 0660).
 */
TEST(access_model)
{
	struct stat st;
	mode_t mode;
	pid_t pid;

	if (geteuid())
		SKIP(return, "needs root to start (it drops to uid %u)", USER1);
	if (stat(TIMERRING_DEV_PATH, &st))
		SKIP(return, "no " TIMERRING_DEV_PATH);
	mode = st.st_mode & 07777;
	TH_LOG("%s: mode %04o uid %u gid %u", TIMERRING_DEV_PATH, mode,
	       st.st_uid, st.st_gid);
	EXPECT_EQ(0, st.st_uid);
	EXPECT_EQ(0, mode & 0007) TH_LOG("others may use the device");
	EXPECT_EQ(0060, mode & 0060) TH_LOG("its group may not use it");
	/* Without the group: EACCES. */
	pid = spawn_as(USER1, st.st_gid, false, try_open, NULL);
	ASSERT_LE(0, pid);
	EXPECT_EQ(1, reap(pid)) TH_LOG("open without the group (1: EACCES)");
	/* With it: fine. */
	pid = spawn_as(USER1, st.st_gid, true, try_open, NULL);
	ASSERT_LE(0, pid);
	EXPECT_EQ(0, reap(pid)) TH_LOG("open with the group (1: EACCES)");
}

/* 10^6 timers as an ordinary user, each firing exactly once. */
static int million(void *arg)
{
	const struct timerring_version *v = arg;
	unsigned int base, i, n, done, failed, got = 0, dup = 0, bad = 0;
	unsigned int early = 0, missing = 0;
	struct timerring_params p;
	struct timerring_stats st;
	struct timerring_op *ops;
	struct io_uring_cqe *cqe;
	struct timerring tr;
	__u64 t0, t1, now, deadline;
	unsigned char *seen;
	unsigned int head;
	__s32 *res;
	int ret;

	tr_default_params(&p);
	p.max_timers = 1U << 20;
	p.cq_entries = v->max_cq_entries < (1U << 17) ? v->max_cq_entries :
		       1U << 17;
	ret = timerring_open(&tr, &p);
	if (ret) {
		CLOG("10^6 timers: open/SETUP: %s", strerror(-ret));
		return 1;
	}
	ops = calloc(BATCH, sizeof(*ops));
	res = calloc(BATCH, sizeof(*res));
	seen = calloc(MILLION, 1);
	if (!ops || !res || !seen)
		return 2;

	/* Due 1 to 2 s after their batch. */
	t0 = now_ns(CLOCK_MONOTONIC);
	for (base = 0; base < MILLION; base += BATCH) {
		n = MILLION - base < BATCH ? MILLION - base : BATCH;
		for (i = 0; i < n; i++) {
			__u32 id = base + i;

			timerring_op_arm(&ops[i], id,
					 NSEC_PER_SEC + (id % 1000) * NSEC_PER_MSEC,
					 0, id ^ UD_XOR, 0);
		}
		ret = timerring_submit(&tr, ops, n, res, 0, &done, &failed);
		if (ret != (int)n || failed) {
			for (i = 0; i < done && res[i] >= 0; i++)
				;
			CLOG("10^6 timers: batch at %u: ret %d done %u failed %u, first failure %d",
			     base, ret, done, failed, i < done ? res[i] : 0);
			return 3;
		}
	}
	t1 = now_ns(CLOCK_MONOTONIC);
	CLOG("10^6 timers: armed in %llu ms",
	     (unsigned long long)((t1 - t0) / NSEC_PER_MSEC));

	deadline = t1 + 120 * NSEC_PER_SEC;
	while (got < MILLION) {
		n = 0;
		timerring_for_each_cqe(&tr, head, cqe) {
			__u32 id = timerring_cqe_id(cqe);

			n++;
			if (id >= MILLION || cqe->user_data != (id ^ UD_XOR))
				bad++;
			else if (seen[id]++)
				dup++;
		}
		timerring_cq_advance(&tr, n);
		got += n;
		now = now_ns(CLOCK_MONOTONIC);
		if (n && now < t0 + NSEC_PER_SEC)
			early += n;
		if (got >= MILLION || now > deadline)
			break;
		/* Posts what waits for ring space, then sleeps for more. */
		timerring_wait(&tr, 1, NSEC_PER_SEC);
	}
	for (i = 0; i < MILLION; i++)
		missing += !seen[i];
	CLOG("10^6 timers: %u CQEs in %llu ms after arming: %u missing, %u twice, %u bad, %u early",
	     got, (unsigned long long)((now_ns(CLOCK_MONOTONIC) - t1) /
				       NSEC_PER_MSEC),
	     missing, dup, bad, early);
	if (got != MILLION || missing || dup || bad)
		return 4;
	if (early)
		return 5;
	/* Nothing more comes. */
	if (tr_settle(&tr, 50 * NSEC_PER_MSEC))
		return 6;
	if (timerring_stats(&tr, &st))
		return 7;
	if (st.armed_now || st.expired_total != MILLION || st.dropped_total) {
		CLOG("10^6 timers: stats armed_now %llu expired_total %llu",
		     (unsigned long long)st.armed_now,
		     (unsigned long long)st.expired_total);
		return 8;
	}
	timerring_close(&tr);
	return 0;
}

TEST_F_TIMEOUT(u, million_timers, 240)
{
	EXPECT_EQ(0, run_as(USER1, self->devgid, million, &self->v))
		TH_LOG("uid %u: 10^6 timers: see the step above", USER1);
}

struct exhaust_report {
	unsigned int n;		/* instances set up and mapped */
	int err;		/* errno of the call that failed */
	int where;		/* 0 open, 1 SETUP, 2 mmap, 3 none failed */
	uint64_t avail0, avail1;
};

struct exhaust_arg {
	int rep, hold;
	__u32 max_timers, max_cq;
};

static const char * const where_name[] = { "open", "SETUP", "mmap", "none" };

/*
 * As many of the largest instances as the budget allows, all kept; the
 * report goes to @rep, then wait on @hold, close everything, and check
 * that the memory came back.
 */
static int exhaust(void *arg)
{
	const struct exhaust_arg *a = arg;
	struct exhaust_report r = { .where = 3 };
	struct timerring_params p;
	void **maps;
	size_t *lens;
	int *fds, fd, i, ret = 0;
	char c;

	fds = calloc(NOFILE, sizeof(*fds));
	maps = calloc(NOFILE, sizeof(*maps));
	lens = calloc(NOFILE, sizeof(*lens));
	if (!fds || !maps || !lens)
		return 1;
	/* Touch them now, not while measuring. */
	memset(fds, 0xff, NOFILE * sizeof(*fds));
	memset(maps, 0, NOFILE * sizeof(*maps));
	memset(lens, 0, NOFILE * sizeof(*lens));

	r.avail0 = tr_mem_available();
	for (r.n = 0; r.n < NOFILE; r.n++) {
		void *m;

		fd = open(TIMERRING_DEV_PATH, O_RDWR | O_CLOEXEC);
		if (fd < 0) {
			r.err = errno;
			r.where = 0;
			break;
		}
		tr_default_params(&p);
		p.cq_entries = a->max_cq;
		p.max_timers = a->max_timers;
		if (ioctl(fd, TIMERRING_IOC_SETUP, &p)) {
			r.err = errno;
			r.where = 1;
			close(fd);
			break;
		}
		m = mmap(NULL, p.mmap_size, PROT_READ | PROT_WRITE,
			 MAP_SHARED, fd, p.mmap_offset);
		if (m == MAP_FAILED) {
			r.err = errno;
			r.where = 2;
			close(fd);
			break;
		}
		fds[r.n] = fd;
		maps[r.n] = m;
		lens[r.n] = p.mmap_size;
	}
	r.avail1 = tr_mem_available();
	if (write(a->rep, &r, sizeof(r)) != sizeof(r))
		return 2;
	if (read(a->hold, &c, 1) != 1)
		return 3;
	for (i = 0; i < (int)r.n; i++) {
		munmap(maps[i], lens[i]);
		close(fds[i]);
	}
	/* All returned: one more of the same size fits again. */
	for (i = 0; i < 100; i++) {
		fd = open(TIMERRING_DEV_PATH, O_RDWR | O_CLOEXEC);
		if (fd >= 0) {
			tr_default_params(&p);
			p.cq_entries = a->max_cq;
			p.max_timers = a->max_timers;
			ret = ioctl(fd, TIMERRING_IOC_SETUP, &p) ? errno : 0;
			close(fd);
		} else {
			ret = errno;
		}
		if (ret != ENOSPC)
			break;
		sleep_ns(10 * NSEC_PER_MSEC);
	}
	if (ret) {
		CLOG("budget: after closing everything: %s", strerror(ret));
		return 4;
	}
	if (i)
		CLOG("budget: the memory came back only after %d ms", i * 10);
	return 0;
}

#define OTHER_N		1000

/* The second user: 1000 timers due in 10 ms, every CQE delivered. */
static int other_user(void *arg)
{
	struct timerring_op ops[OTHER_N];
	struct io_uring_cqe *cqe;
	struct timerring_params p;
	struct timerring tr;
	unsigned char seen[OTHER_N] = { 0 };
	unsigned int i, failed, got;
	int ret;

	cqe = calloc(OTHER_N, sizeof(*cqe));
	if (!cqe)
		return 1;
	tr_default_params(&p);
	p.max_timers = OTHER_N;
	ret = timerring_open(&tr, &p);
	if (ret) {
		CLOG("uid %u: open/SETUP: %s", USER2, strerror(-ret));
		return 2;
	}
	for (i = 0; i < OTHER_N; i++)
		timerring_op_arm(&ops[i], i, 10 * NSEC_PER_MSEC, 0, i + 1, 0);
	ret = timerring_submit(&tr, ops, OTHER_N, NULL, 0, NULL, &failed);
	if (ret != OTHER_N || failed) {
		CLOG("uid %u: SUBMIT %d, %u failed", USER2, ret, failed);
		return 3;
	}
	got = tr_collect(&tr, cqe, OTHER_N, 10 * WAIT_LONG_NS);
	if (got != OTHER_N) {
		CLOG("uid %u: %u of %u CQEs", USER2, got, OTHER_N);
		return 4;
	}
	for (i = 0; i < OTHER_N; i++) {
		__u32 id = timerring_cqe_id(&cqe[i]);

		if (id >= OTHER_N || cqe[i].user_data != id + 1 || seen[id]++)
			return 5;
	}
	timerring_close(&tr);
	free(cqe);
	return 0;
}

TEST_F_TIMEOUT(u, budget_exhaustion, 120)
{
	struct exhaust_arg a = {
		.max_timers = self->v.max_timers,
		.max_cq = self->v.max_cq_entries,
	};
	struct exhaust_report r;
	int rep[2], hold[2], st;
	uint64_t drop;
	pid_t pid;

	ASSERT_EQ(0, pipe2(rep, O_CLOEXEC));
	ASSERT_EQ(0, pipe2(hold, O_CLOEXEC));
	a.rep = rep[1];
	a.hold = hold[0];
	pid = spawn_as(USER1, self->devgid, true, exhaust, &a);
	ASSERT_LE(0, pid);
	close(rep[1]);
	close(hold[0]);
	if (read_full(rep[0], &r, sizeof(r), 100000)) {
		close(hold[1]);
		st = reap(pid);
		ASSERT_EQ(0, st) TH_LOG("uid %u died before reporting", USER1);
		ASSERT_TRUE(0) TH_LOG("no report from uid %u", USER1);
	}
	drop = r.avail1 < r.avail0 ? r.avail0 - r.avail1 : 0;
	TH_LOG("uid %u: %u instances of %u timers / %u CQEs, then %s: %s; MemAvailable -%llu MiB (budget %llu MiB)",
	       USER1, r.n, a.max_timers, a.max_cq, where_name[r.where],
	       strerror(r.err), (unsigned long long)(drop >> 20),
	       (unsigned long long)(self->budget >> 20));
	EXPECT_GE(r.n, 1);
	EXPECT_LT(r.n, NOFILE);
	EXPECT_TRUE(r.where == 0 || r.where == 1) TH_LOG("stopped at %s",
							 where_name[r.where]);
	EXPECT_EQ(ENOSPC, r.err);
	EXPECT_NE(0, r.avail0);
	EXPECT_LE(drop, self->budget + SLACK);

	/* While uid USER1 holds its whole budget, USER2 is not affected. */
	EXPECT_EQ(0, run_as(USER2, self->devgid, other_user, NULL))
		TH_LOG("uid %u while uid %u is at its limit", USER2, USER1);

	ASSERT_EQ(1, write(hold[1], "x", 1));
	close(hold[1]);
	close(rep[0]);
	EXPECT_EQ(0, reap(pid)) TH_LOG("uid %u: closing, then SETUP again",
				       USER1);
}

struct open_report {
	unsigned int n;
	int err;
};

/* open() alone until it fails. */
static int open_loop(void *arg)
{
	struct open_report r = { 0 };
	int *rep = arg;

	for (;;) {
		int fd = open(TIMERRING_DEV_PATH, O_RDWR | O_CLOEXEC);

		if (fd < 0) {
			r.err = errno;
			break;
		}
		r.n++;
	}
	return write(*rep, &r, sizeof(r)) == sizeof(r) ? 0 : 1;
}

/* Even instances never set up count: ENOSPC long before RLIMIT_NOFILE. */
TEST_F_TIMEOUT(u, open_only_budget, 120)
{
	struct open_report r = { 0 };
	int rep[2], wfd;
	pid_t pid;

	if (self->budget / INSTANCE_APPROX >= NOFILE - 64)
		SKIP(return, "a budget of %llu MiB allows %llu instances: RLIMIT_NOFILE comes first",
		     (unsigned long long)(self->budget >> 20),
		     (unsigned long long)(self->budget / INSTANCE_APPROX));
	ASSERT_EQ(0, pipe2(rep, O_CLOEXEC));
	wfd = rep[1];
	pid = spawn_as(USER1, self->devgid, true, open_loop, &wfd);
	ASSERT_LE(0, pid);
	close(rep[1]);
	EXPECT_EQ(0, read_full(rep[0], &r, sizeof(r), 100000));
	close(rep[0]);
	EXPECT_EQ(0, reap(pid));
	TH_LOG("uid %u: %u open()s, then %s (%llu KiB per instance)", USER1,
	       r.n, strerror(r.err),
	       r.n ? (unsigned long long)(self->budget / r.n >> 10) : 0ULL);
	EXPECT_EQ(ENOSPC, r.err);
	EXPECT_GE(r.n, 1);
	EXPECT_LT(r.n, NOFILE - 16);
	/* "~100 KiB" each: anything from 16 KiB to 1 MiB is plausible. */
	EXPECT_LE(r.n, self->budget / (16 << 10));
	EXPECT_GE(r.n, self->budget / (1 << 20));
}

TEST_HARNESS_MAIN
