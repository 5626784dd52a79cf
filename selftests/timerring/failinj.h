/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Fault injection for the timerring selftests: the fail-nth plumbing and
 * the per-call sweeps of failnth_test (allocations and user copies) and
 * usercopy_test (user copies only). Include after kselftest_harness.h.
 *
 * /proc/thread-self/fail-nth (CONFIG_FAULT_INJECTION) fails the n-th
 * fault-injection point the thread passes from the moment n is written,
 * whatever the facilities' probability, interval or task filter: every
 * slab allocation (failslab), page allocation (fail_page_alloc) and user
 * copy (fail_usercopy) that its facility does not filter out first. A
 * sweep makes one call with n = 1, 2, ... until the call passes fewer than
 * n points, so each point of the call is failed once (fi_step_end() says
 * how the sweep copes with points that come and go).
 *
 * The filters are debugfs knobs, set for the test and put back after it:
 *  - failslab and fail_page_alloc skip allocations that may sleep
 *    (ignore-gfp-wait, Y by default), fail_page_alloc those of order 0
 *    (min-order 1 by default): failnth_test turns both off, so that every
 *    GFP_KERNEL allocation is a point, and user copies are points too;
 *    usercopy_test keeps them, so that only user copies are (and atomic
 *    allocations, which these paths do not make for the module);
 *  - verbose=0 everywhere: an injected fault prints nothing (by default
 *    each prints a line and a stack dump into the kernel log).
 * A facility with a non-zero probability would fail calls at random
 * outside the sweep: the sweeps skip then.
 *
 * Reading fail-nth back says whether the point was reached: 0 once the
 * fault was injected, the count left if not. The read copies to user
 * memory, a point itself: with a count of 1 left, that copy is the one
 * failed and the read gives EFAULT, which means "not injected" too. The
 * reset (write "0") may pass one more point the same way, harmlessly.
 * Only the call under test runs in between, on memory the test wrote
 * before (so no page fault of the thread allocates there).
 *
 * Not every injected fault fails the call: kvmalloc() falls back to
 * vmalloc(), kmemleak and the debug facilities have pools of their own.
 * Such a fault is "absorbed": the call must then do all it does without
 * faults. A fault that fails the call must give the errno the uapi header
 * documents, change nothing that STATS, the ring or debugfs timerring/
 * users and stats show, and leave the instance working (a short timer
 * armed afterwards fires and its CQE is read). A SUBMIT that fails part
 * way must report in done, failed and the results exactly what it did:
 * the sweep replays those ops on a twin instance without faults (each
 * failed op replaced by an invalid one) and the two must agree in every
 * counter, in mem_bytes and in what is charged to the user.
 */
#ifndef _TIMERRING_SELFTEST_FAILINJ_H
#define _TIMERRING_SELFTEST_FAILINJ_H

#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/eventfd.h>

#include "common.h"

#define FI_FAIL_NTH	"/proc/thread-self/fail-nth"
#define FI_DBG		"/sys/kernel/debug/"
#define FI_TR_USERS	FI_DBG "timerring/users"
#define FI_TR_STATS	FI_DBG "timerring/stats"
/* More points than this in one call: a sweep that does not end. */
#define FI_SWEEP_MAX	3000
#define FI_KNOBS_MAX	8
#define FI_HOUR_NS	(3600 * NSEC_PER_SEC)
#define FI_SENT		((__s32)0x5a5a5a5a)
#define FI_SENT_U32	0xa5a5a5a5U
#define FI_CHUNK_OPS	256	/* ops per SUBMIT chunk */
#define FI_TABLE_IDS	128	/* ids per table chunk */
#define FI_CHECK_ID	1	/* armed by tr_fires(); no sweep uses it */
#define FI_BAD_OPF	0x80	/* an unknown op flag: the op fails, EINVAL */

struct fi_knob {
	const char *file;	/* under FI_DBG */
	const char *value;
};

/* What the points of a sweep are, and what failing them may give. */
struct fi_profile {
	const char *name;		/* in the report lines */
	const struct fi_knob *knobs;
	unsigned int nr_knobs;
	bool enomem;			/* allocations fail too: ENOMEM */
};

struct fi {
	const struct fi_profile *pf;
	int fd;				/* FI_FAIL_NTH, opened once */
	bool restore[FI_KNOBS_MAX];
	char saved[FI_KNOBS_MAX][32];
	bool dbg;			/* timerring's debugfs files readable */
	char why[192];			/* why fi_setup() skips */
};

/*
 * Set @pf's knobs and open fail-nth; NULL, or why the sweeps cannot run
 * here (a SKIP reason). fi_teardown() puts the knobs back.
 */
static inline const char *fi_setup(struct fi *fi, const struct fi_profile *pf)
{
	static const char * const prob[] = {
		"failslab/probability", "fail_page_alloc/probability",
		"fail_usercopy/probability",
	};
	char path[96];
	unsigned int i;
	uint64_t v;
	int fd;

	memset(fi, 0, sizeof(*fi));
	fi->fd = -1;
	fi->pf = pf;
	if (geteuid())
		return "fault injection needs root";
	if (access(FI_FAIL_NTH, F_OK))
		return "no " FI_FAIL_NTH " (CONFIG_FAULT_INJECTION)";
	for (i = 0; i < pf->nr_knobs; i++) {
		snprintf(path, sizeof(path), FI_DBG "%s", pf->knobs[i].file);
		if (access(path, W_OK)) {
			snprintf(fi->why, sizeof(fi->why), "no %s", path);
			return fi->why;
		}
	}
	for (i = 0; i < ARRAY_SIZE(prob); i++) {
		snprintf(path, sizeof(path), FI_DBG "%s", prob[i]);
		if (tr_read_u64_file(path, &v) || v) {
			snprintf(fi->why, sizeof(fi->why),
				 "%s is not 0: random faults would mix in", path);
			return fi->why;
		}
	}
	fd = tr_open_dev();
	if (fd < 0) {
		snprintf(fi->why, sizeof(fi->why), "no " TIMERRING_DEV_PATH
			 " (%d)", fd);
		return fi->why;
	}
	close(fd);
	fi->fd = open(FI_FAIL_NTH, O_RDWR | O_CLOEXEC);
	if (fi->fd < 0) {
		snprintf(fi->why, sizeof(fi->why), FI_FAIL_NTH ": %s",
			 strerror(errno));
		return fi->why;
	}
	for (i = 0; i < pf->nr_knobs && i < FI_KNOBS_MAX; i++) {
		ssize_t n;

		snprintf(path, sizeof(path), FI_DBG "%s", pf->knobs[i].file);
		n = tr_read_text(path, fi->saved[i], sizeof(fi->saved[i]));
		if (n < 0 || tr_write_file(path, pf->knobs[i].value)) {
			snprintf(fi->why, sizeof(fi->why), "cannot set %s",
				 path);
			return fi->why;
		}
		fi->restore[i] = true;
	}
	fi->dbg = !access(FI_TR_USERS, R_OK) && !access(FI_TR_STATS, R_OK);
	return NULL;
}

static inline void fi_teardown(struct fi *fi)
{
	char path[96];
	unsigned int i;

	for (i = 0; i < FI_KNOBS_MAX; i++) {
		if (!fi->restore[i])
			continue;
		snprintf(path, sizeof(path), FI_DBG "%s", fi->pf->knobs[i].file);
		tr_write_file(path, fi->saved[i]);
		fi->restore[i] = false;
	}
	if (fi->fd >= 0)
		close(fi->fd);
	fi->fd = -1;
}

/* Fail the @n-th point from now on; 0 or -errno. */
static inline int fi_arm(struct fi *fi, unsigned int n)
{
	char buf[16];
	int len = snprintf(buf, sizeof(buf), "%u", n);

	return write(fi->fd, buf, len) == len ? 0 : -errno;
}

/*
 * After the call: 1 if the point was reached (and failed) in it, 0 if
 * not, -errno if fail-nth misbehaves. Disarms it.
 */
static inline int fi_hit(struct fi *fi)
{
	char buf[32];
	ssize_t n;
	int ret;

	n = pread(fi->fd, buf, sizeof(buf) - 1, 0);
	if (n > 0) {
		buf[n] = 0;
		ret = strtoul(buf, NULL, 10) == 0;
	} else {
		/* EFAULT: the read's own copy took the last count */
		ret = n < 0 && errno == EFAULT ? 0 : -EIO;
	}
	if (write(fi->fd, "0", 1) != 1 && errno != EFAULT)
		ret = -errno;
	return ret;
}

/* What an injected fault did to the call. */
enum fi_out {
	FI_ABSORBED,		/* nothing: the call did everything */
	FI_ENOMEM,		/* failed the call with ENOMEM */
	FI_EFAULT,		/* ... with EFAULT */
	FI_OTHER,		/* ... with another errno: a test failure */
	FI_OPS,			/* failed ops of a SUBMIT (ENOMEM results) */
	FI_PARTIAL,		/* ended a SUBMIT early, its done exact */
};

/* What the faults of one sweep did, and where the sweep is. */
struct fi_tally {
	const char *call;
	unsigned int steps;
	unsigned int injected;
	unsigned int enomem, efault, op_fail, partial, absorbed;
	enum fi_out out;	/* of the current step, if injected */
	unsigned int misses;	/* steps in a row that injected nothing */
	bool retried;		/* the current n is run a second time */
	unsigned int advance;	/* to the next n: 1, or 0 to run it again */
};

static inline void fi_step_begin(struct fi_tally *t)
{
	t->steps++;
	t->out = FI_ABSORBED;
}

/*
 * After a step (fail-nth at n, @inj: whether it hit): count it and say
 * whether the sweep is over. Some points come and go from one run of a
 * call to the next (the debug objects' pool refills itself with atomic
 * allocations when it runs low), so a fault that was absorbed is tried
 * once more at the same n, in case it hit such a point instead of the
 * call's own n-th; and the sweep ends after two steps in a row with no
 * fault, or at the first test failure (@failed).
 */
static inline bool fi_step_end(struct fi_tally *t, int inj, bool failed)
{
	t->advance = 1;
	if (failed)
		return true;
	if (!inj) {
		t->retried = false;
		return ++t->misses >= 2;
	}
	t->misses = 0;
	if (t->out == FI_ABSORBED && !t->retried) {
		t->retried = true;
		t->advance = 0;
		return false;
	}
	t->retried = false;
	t->injected++;
	switch (t->out) {
	case FI_ABSORBED:
		t->absorbed++;
		break;
	case FI_ENOMEM:
		t->enomem++;
		break;
	case FI_EFAULT:
		t->efault++;
		break;
	case FI_OPS:
		t->op_fail++;
		break;
	case FI_PARTIAL:
		t->partial++;
		break;
	case FI_OTHER:
		break;
	}
	return false;
}

static inline void fi_report(const struct fi *fi, const struct fi_tally *t)
{
	ksft_print_msg("%s %s: %u faults injected: %u ENOMEM, %u EFAULT, %u failed ops, %u ended SUBMIT early, %u absorbed (%u steps)\n",
		       fi->pf->name, t->call, t->injected, t->enomem, t->efault,
		       t->op_fail, t->partial, t->absorbed, t->steps);
	fflush(stdout);
}

/* A fault failed the call with errno @err: one the header documents. */
#define FI_COUNT_ERR(fi, t, err, n) do {				\
	if ((err) == EFAULT)						\
		(t)->out = FI_EFAULT;					\
	else if ((err) == ENOMEM && (fi)->pf->enomem)			\
		(t)->out = FI_ENOMEM;					\
	else								\
		(t)->out = FI_OTHER;					\
	EXPECT_NE(FI_OTHER, (t)->out)					\
		TH_LOG("%s: fault %u: errno %d (%s)", (t)->call, (n),	\
		       (err), strerror(err));				\
} while (0)

/* The sweep did not end: the call has more points than FI_SWEEP_MAX. */
#define FI_END_SWEEP(fi, t, n, min_faults) do {				\
	ASSERT_LE((n), FI_SWEEP_MAX) TH_LOG("%s: over %u points",	\
					     (t)->call, FI_SWEEP_MAX);	\
	fi_report((fi), (t));						\
	if (!_metadata->exit_code)					\
		EXPECT_LE((min_faults), (t)->injected)			\
			TH_LOG("%s: fewer points than its copies and allocations", \
			       (t)->call);				\
} while (0)

/* The first number after @key in a debugfs file, or -1. */
static inline long long fi_dbg_number(const char *path, const char *key)
{
	char buf[8192], *p;

	if (tr_read_text(path, buf, sizeof(buf)) < 0)
		return -1;
	p = strstr(buf, key);
	return p ? strtoll(p + strlen(key), NULL, 10) : -1;
}

/* Bytes charged to this uid (debugfs timerring/users): 0 if none. */
static inline long long fi_user_bytes(void)
{
	char buf[8192], key[48], *p;

	if (tr_read_text(FI_TR_USERS, buf, sizeof(buf)) < 0)
		return -1;
	snprintf(key, sizeof(key), "\nuid %u bytes ", getuid());
	p = strstr(buf, key);
	return p ? strtoll(p + strlen(key), NULL, 10) : 0;
}

/* Set-up instances open (debugfs timerring/stats). */
static inline long long fi_instances_open(void)
{
	return fi_dbg_number(FI_TR_STATS, "instances_open ");
}

/* Every counter a call could change, and the memory. */
#define FI_EXPECT_STATS_EQ(a, b, what, n) do {				\
	EXPECT_EQ((a)->armed_now, (b)->armed_now)			\
		TH_LOG("%s: fault %u: armed_now", (what), (n));		\
	EXPECT_EQ((a)->armed_total, (b)->armed_total)			\
		TH_LOG("%s: fault %u: armed_total", (what), (n));	\
	EXPECT_EQ((a)->modified_total, (b)->modified_total)		\
		TH_LOG("%s: fault %u: modified_total", (what), (n));	\
	EXPECT_EQ((a)->cancelled_total, (b)->cancelled_total)		\
		TH_LOG("%s: fault %u: cancelled_total", (what), (n));	\
	EXPECT_EQ((a)->expired_total, (b)->expired_total)		\
		TH_LOG("%s: fault %u: expired_total", (what), (n));	\
	EXPECT_EQ((a)->overflowed_total, (b)->overflowed_total)		\
		TH_LOG("%s: fault %u: overflowed_total", (what), (n));	\
	EXPECT_EQ((a)->overflow_now, (b)->overflow_now)			\
		TH_LOG("%s: fault %u: overflow_now", (what), (n));	\
	EXPECT_EQ((a)->batches, (b)->batches)				\
		TH_LOG("%s: fault %u: batches", (what), (n));		\
	EXPECT_EQ((a)->ops_failed, (b)->ops_failed)			\
		TH_LOG("%s: fault %u: ops_failed", (what), (n));	\
	EXPECT_EQ((a)->mem_bytes, (b)->mem_bytes)			\
		TH_LOG("%s: fault %u: mem_bytes", (what), (n));		\
} while (0)

static inline void fi_params(struct timerring_params *p, __u32 max_timers)
{
	tr_default_params(p);
	p->cq_entries = 64;
	p->max_timers = max_timers;
	/* not the current one: SETUP writes it back, the sweeps compare */
	p->numa_node = 0;
}

/*
 * open(): a failure charges nothing and leaves no instance; a success,
 * absorbed faults or not, gives one that works.
 */
static inline void fi_sweep_open(struct __test_metadata *_metadata,
				 struct fi *fi, unsigned int min_faults)
{
	struct fi_tally t = { .call = "open" };
	long long base = fi->dbg ? fi_user_bytes() : 0;
	struct timerring_params p;
	struct timerring tr;
	unsigned int n;
	int fd, err, inj;

	/* the same call once unarmed: its code and stack are paged in */
	fd = open(TIMERRING_DEV_PATH, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd);
	close(fd);
	for (n = 1; n <= FI_SWEEP_MAX; n += t.advance) {
		fi_step_begin(&t);
		ASSERT_EQ(0, fi_arm(fi, n));
		fd = open(TIMERRING_DEV_PATH, O_RDWR | O_CLOEXEC);
		err = errno;
		inj = fi_hit(fi);
		ASSERT_LE(0, inj) TH_LOG("fail-nth %u", n);
		if (fd < 0) {
			ASSERT_TRUE(inj) TH_LOG("open failed (%d) with no fault",
						err);
			FI_COUNT_ERR(fi, &t, err, n);
		} else {
			fi_params(&p, 1024);
			ASSERT_EQ(0, timerring_open_fd(&tr, fd, &p))
				TH_LOG("fault %u: SETUP after open", n);
			EXPECT_EQ(0, tr_fires(&tr, FI_CHECK_ID))
				TH_LOG("fault %u", n);
			timerring_close(&tr);
		}
		if (fi->dbg)
			EXPECT_EQ(base, fi_user_bytes())
				TH_LOG("fault %u: charge left behind", n);
		if (fi_step_end(&t, inj, _metadata->exit_code))
			break;
	}
	FI_END_SWEEP(fi, &t, n, min_faults);
}

/*
 * SETUP: a failure leaves the instance not set up (STATS and mmap give
 * EINVAL, SETUP can be redone), charged as after open() and missing from
 * debugfs timerring/stats; a success writes what an unfaulted SETUP
 * writes and counts the instance there.
 */
static inline void fi_sweep_setup(struct __test_metadata *_metadata,
				  struct fi *fi, unsigned int min_faults)
{
	struct fi_tally t = { .call = "SETUP" };
	long long base = 0, opened = 0, inst0 = 0;
	struct timerring_params p, ref;
	struct timerring_stats st;
	struct timerring tr;
	unsigned int n;
	int fd, ret, err, inj;
	void *m;

	fd = tr_open_dev();
	ASSERT_LE(0, fd);
	fi_params(&ref, 1024);
	ASSERT_EQ(0, tr_ioctl(fd, TIMERRING_IOC_SETUP, &ref));
	close(fd);
	if (fi->dbg) {
		base = fi_user_bytes();
		inst0 = fi_instances_open();
		ASSERT_LE(0, inst0);
	}
	for (n = 1; n <= FI_SWEEP_MAX; n += t.advance) {
		fi_step_begin(&t);
		fd = tr_open_dev();
		ASSERT_LE(0, fd);
		if (fi->dbg)
			opened = fi_user_bytes();
		fi_params(&p, 1024);
		ASSERT_EQ(0, fi_arm(fi, n));
		ret = ioctl(fd, TIMERRING_IOC_SETUP, &p);
		err = errno;
		inj = fi_hit(fi);
		ASSERT_LE(0, inj) TH_LOG("fail-nth %u", n);
		if (ret < 0) {
			ASSERT_TRUE(inj) TH_LOG("SETUP failed (%d) with no fault",
						err);
			FI_COUNT_ERR(fi, &t, err, n);
			EXPECT_EQ(-EINVAL, tr_get_stats(fd, &st))
				TH_LOG("fault %u: set up after all", n);
			m = mmap(NULL, ref.mmap_size, PROT_READ | PROT_WRITE,
				 MAP_SHARED, fd, 0);
			EXPECT_EQ(MAP_FAILED, m) TH_LOG("fault %u", n);
			if (m != MAP_FAILED)
				munmap(m, ref.mmap_size);
			if (fi->dbg) {
				EXPECT_EQ(opened, fi_user_bytes())
					TH_LOG("fault %u: charge left behind", n);
				EXPECT_EQ(inst0, fi_instances_open())
					TH_LOG("fault %u: counted as open", n);
			}
			fi_params(&p, 1024);
			ASSERT_EQ(0, tr_ioctl(fd, TIMERRING_IOC_SETUP, &p))
				TH_LOG("fault %u: SETUP again", n);
		}
		EXPECT_EQ(0, memcmp(&ref, &p, sizeof(p)))
			TH_LOG("fault %u: SETUP wrote other parameters", n);
		if (fi->dbg)
			EXPECT_EQ(inst0 + 1, fi_instances_open())
				TH_LOG("fault %u: not in timerring/stats", n);
		ASSERT_EQ(0, tr_attach(&tr, fd, &p)) TH_LOG("fault %u", n);
		EXPECT_EQ(0, tr_fires(&tr, FI_CHECK_ID)) TH_LOG("fault %u", n);
		timerring_close(&tr);
		if (fi->dbg)
			EXPECT_EQ(base, fi_user_bytes())
				TH_LOG("fault %u: charge left after close", n);
		if (fi_step_end(&t, inj, _metadata->exit_code))
			break;
	}
	FI_END_SWEEP(fi, &t, n, min_faults);
}

/* mmap() of the ring: a failure maps nothing and changes nothing. */
static inline void fi_sweep_mmap(struct __test_metadata *_metadata,
				 struct fi *fi, unsigned int min_faults)
{
	struct fi_tally t = { .call = "mmap" };
	struct timerring_stats st0, st1;
	struct timerring_params p;
	struct timerring tr;
	long long charged = 0;
	unsigned int n;
	int fd, err, inj;
	char *m;

	for (n = 1; n <= FI_SWEEP_MAX; n += t.advance) {
		fi_step_begin(&t);
		fd = tr_open_dev();
		ASSERT_LE(0, fd);
		fi_params(&p, 1024);
		ASSERT_EQ(0, tr_ioctl(fd, TIMERRING_IOC_SETUP, &p));
		ASSERT_EQ(0, tr_get_stats(fd, &st0));
		if (fi->dbg)
			charged = fi_user_bytes();
		ASSERT_EQ(0, fi_arm(fi, n));
		m = mmap(NULL, p.mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED,
			 fd, 0);
		err = errno;
		inj = fi_hit(fi);
		ASSERT_LE(0, inj) TH_LOG("fail-nth %u", n);
		if (m == MAP_FAILED) {
			ASSERT_TRUE(inj) TH_LOG("mmap failed (%d) with no fault",
						err);
			FI_COUNT_ERR(fi, &t, err, n);
			ASSERT_EQ(0, tr_get_stats(fd, &st1));
			FI_EXPECT_STATS_EQ(&st0, &st1, t.call, n);
			if (fi->dbg)
				EXPECT_EQ(charged, fi_user_bytes())
					TH_LOG("fault %u", n);
			m = mmap(NULL, p.mmap_size, PROT_READ | PROT_WRITE,
				 MAP_SHARED, fd, 0);
			ASSERT_NE(MAP_FAILED, m) TH_LOG("fault %u: mmap again",
							n);
		}
		tr_attach_mapped(&tr, fd, &p, m);
		EXPECT_EQ(0, *tr.cq.khead) TH_LOG("fault %u", n);
		EXPECT_EQ(0, *tr.cq.ktail) TH_LOG("fault %u", n);
		EXPECT_EQ(p.cq_entries, *tr.cq.kring_entries)
			TH_LOG("fault %u", n);
		EXPECT_EQ(0, tr_fires(&tr, FI_CHECK_ID)) TH_LOG("fault %u", n);
		timerring_close(&tr);
		if (fi_step_end(&t, inj, _metadata->exit_code))
			break;
	}
	FI_END_SWEEP(fi, &t, n, min_faults);
}

/*
 * One SUBMIT on an instance that has @pre armed (a one-shot in an hour)
 * if pre >= 0: op i is @opcode on id first + i * stride, due in an hour,
 * periodic if interval is set.
 */
struct fi_submit_case {
	const char *name;
	__u32 max_timers;
	__u32 flags;		/* TIMERRING_SUBMIT_* */
	unsigned int nr;
	__u8 opcode;
	__u32 first, stride;
	__u64 interval;
	__s64 pre;
};

static inline void fi_case_open(struct __test_metadata *_metadata,
				struct timerring *tr,
				const struct fi_submit_case *sc)
{
	struct timerring_params p;

	fi_params(&p, sc->max_timers);
	ASSERT_EQ(0, timerring_open(tr, &p));
	if (sc->pre >= 0)
		ASSERT_LE(0, tr_arm(tr, sc->pre, FI_HOUR_NS, 0, 0, 0));
}

struct fi_submit_bufs {
	struct timerring_op *ops, *rops, *cops;
	__s32 *res, *rres, *cres;
};

/*
 * SUBMIT with each point failed in turn. A failed SUBMIT applied nothing:
 * STATS, the ring, the results and the ids are as before. One that
 * returns 0 did exactly what done, failed and the results say: ops before
 * done applied or failed with ENOMEM (and STOP_ON_ERROR stops at the
 * first), results past done untouched, and a twin instance that gets
 * those ops without faults (each failed one replaced by an invalid op)
 * ends with the same results, counters, mem_bytes and charge.
 */
static inline void fi_sweep_submit(struct __test_metadata *_metadata,
				   struct fi *fi,
				   const struct fi_submit_case *sc,
				   unsigned int min_faults)
{
	struct fi_tally t = { .call = sc->name };
	const unsigned int nr = sc->nr;
	struct fi_submit_bufs b;
	long long base = 0;
	unsigned int n, i;

	b.ops = calloc(nr, sizeof(*b.ops));
	b.rops = calloc(nr, sizeof(*b.rops));
	b.cops = calloc(nr, sizeof(*b.cops));
	b.res = calloc(nr, sizeof(*b.res));
	b.rres = calloc(nr, sizeof(*b.rres));
	b.cres = calloc(nr, sizeof(*b.cres));
	ASSERT_TRUE(b.ops && b.rops && b.cops && b.res && b.rres && b.cres);
	for (i = 0; i < nr; i++) {
		__u32 id = sc->first + i * sc->stride;

		ASSERT_NE(FI_CHECK_ID, id);
		ASSERT_NE(sc->pre, id);
		ASSERT_LT(id, sc->max_timers);
		timerring_op_prep(&b.ops[i], sc->opcode, id, FI_HOUR_NS, 0,
				  0x1000 + i, sc->interval);
		timerring_op_cancel(&b.cops[i], id);
	}
	if (fi->dbg)
		base = fi_user_bytes();

	for (n = 1; n <= FI_SWEEP_MAX; n += t.advance) {
		struct timerring_stats st0, sta, stb;
		struct timerring_submit s;
		struct timerring a, tw;
		unsigned int done, bad = 0, tail0;
		long long both = 0, one;
		int ret, err, inj;

		fi_step_begin(&t);
		fi_case_open(_metadata, &a, sc);
		ASSERT_EQ(0, tr_get_stats(a.fd, &st0));
		tail0 = *a.cq.ktail;
		for (i = 0; i < nr; i++)
			b.res[i] = FI_SENT;
		memset(&s, 0, sizeof(s));
		s.ops = (uintptr_t)b.ops;
		s.results = (uintptr_t)b.res;
		s.nr = nr;
		s.flags = sc->flags;
		s.done = FI_SENT_U32;
		s.failed = FI_SENT_U32;

		ASSERT_EQ(0, fi_arm(fi, n));
		ret = ioctl(a.fd, TIMERRING_IOC_SUBMIT, &s);
		err = errno;
		inj = fi_hit(fi);
		ASSERT_LE(0, inj) TH_LOG("fail-nth %u", n);
		ASSERT_EQ(0, tr_get_stats(a.fd, &sta));

		if (ret < 0) {
			ASSERT_TRUE(inj) TH_LOG("%s: SUBMIT failed (%d) with no fault",
						sc->name, err);
			FI_COUNT_ERR(fi, &t, err, n);
			FI_EXPECT_STATS_EQ(&st0, &sta, sc->name, n);
			EXPECT_EQ(tail0, *a.cq.ktail) TH_LOG("fault %u", n);
			for (i = 0; i < nr; i++)
				EXPECT_EQ(FI_SENT, b.res[i])
					TH_LOG("%s: fault %u: result %u written",
					       sc->name, n, i);
			done = 0;
		} else {
			ASSERT_EQ(0, ret);
			done = s.done;
			ASSERT_LT(0, done) TH_LOG("%s: fault %u", sc->name, n);
			ASSERT_LE(done, nr) TH_LOG("%s: fault %u", sc->name, n);
			for (i = 0; i < done; i++) {
				if (b.res[i] >= 0)
					continue;
				bad++;
				EXPECT_TRUE(fi->pf->enomem && b.res[i] == -ENOMEM)
					TH_LOG("%s: fault %u: op %u gave %d",
					       sc->name, n, i, b.res[i]);
			}
			for (; i < nr; i++)
				EXPECT_EQ(FI_SENT, b.res[i])
					TH_LOG("%s: fault %u: result %u past done %u",
					       sc->name, n, i, done);
			EXPECT_EQ(bad, s.failed) TH_LOG("%s: fault %u", sc->name,
							n);
			if (!inj) {
				EXPECT_EQ(nr, done) TH_LOG("%s", sc->name);
				EXPECT_EQ(0, bad) TH_LOG("%s", sc->name);
			}
			if (sc->flags & TIMERRING_SUBMIT_STOP_ON_ERROR) {
				EXPECT_LE(bad, 1) TH_LOG("%s: fault %u",
							 sc->name, n);
				if (bad)
					EXPECT_GT(0, b.res[done - 1])
						TH_LOG("%s: fault %u: not stopped at the failure",
						       sc->name, n);
			}
			/* ended early without a failed op: a copy fault */
			if (done < nr && !bad)
				EXPECT_EQ(0, done % FI_CHUNK_OPS)
					TH_LOG("%s: fault %u: done %u", sc->name,
					       n, done);
			if (bad)
				t.out = FI_OPS;
			else if (done < nr)
				t.out = FI_PARTIAL;
		}

		/* the twin: what SUBMIT says it did, without faults */
		fi_case_open(_metadata, &tw, sc);
		for (i = 0; i < done; i++) {
			b.rops[i] = b.ops[i];
			if (b.res[i] < 0)
				b.rops[i].flags = FI_BAD_OPF;
			b.rres[i] = FI_SENT;
		}
		if (done) {
			ASSERT_EQ(done, timerring_submit(&tw, b.rops, done,
							 b.rres, sc->flags,
							 NULL, NULL));
			for (i = 0; i < done; i++)
				EXPECT_EQ(b.res[i] < 0 ? -EINVAL : b.res[i],
					  b.rres[i])
					TH_LOG("%s: fault %u: op %u, its twin",
					       sc->name, n, i);
		}
		ASSERT_EQ(0, tr_get_stats(tw.fd, &stb));
		FI_EXPECT_STATS_EQ(&stb, &sta, sc->name, n);
		if (fi->dbg)
			both = fi_user_bytes();
		timerring_close(&tw);
		if (fi->dbg) {
			one = fi_user_bytes();
			EXPECT_EQ(both - one, one - base)
				TH_LOG("%s: fault %u: charged %lld, its twin %lld",
				       sc->name, n, one - base, both - one);
		}

		/* each id is armed exactly if its result says so */
		for (i = 0; i < nr; i++)
			b.cres[i] = FI_SENT;
		ASSERT_EQ(nr, timerring_submit(&a, b.cops, nr, b.cres, 0, NULL,
					       NULL));
		for (i = 0; i < nr; i++)
			EXPECT_EQ(i < done && b.res[i] >= 0 ? 0 : -ENOENT,
				  b.cres[i])
				TH_LOG("%s: fault %u: id %u (op %u, done %u, result %d)",
				       sc->name, n, b.cops[i].id, i, done,
				       b.res[i]);
		if (sc->pre >= 0)
			EXPECT_EQ(0, tr_cancel(&a, sc->pre));
		EXPECT_EQ(0, tr_fires(&a, FI_CHECK_ID))
			TH_LOG("%s: fault %u", sc->name, n);
		timerring_close(&a);
		if (fi->dbg)
			EXPECT_EQ(base, fi_user_bytes())
				TH_LOG("%s: fault %u: charge left after close",
				       sc->name, n);
		if (fi_step_end(&t, inj, _metadata->exit_code))
			break;
	}
	FI_END_SWEEP(fi, &t, n, min_faults);
	free(b.ops);
	free(b.rops);
	free(b.cops);
	free(b.res);
	free(b.rres);
	free(b.cres);
}

/* Poll the ring until @ready CQEs are there and @pending overflowed. */
static inline bool fi_ring_settles(struct timerring *tr, unsigned int ready,
				   unsigned int pending)
{
	uint64_t end = now_ns(CLOCK_MONOTONIC) + WAIT_LONG_NS;
	struct timerring_stats st;

	do {
		if (timerring_cq_ready(tr) == ready &&
		    !tr_get_stats(tr->fd, &st) && st.overflow_now == pending)
			return true;
		sleep_ns(NSEC_PER_MSEC);
	} while (now_ns(CLOCK_MONOTONIC) < end);
	return false;
}

/*
 * WAIT. Plain: one CQE ready, WAIT for 1 with no timeout. With @overflow:
 * a 64-entry ring holds 64 CQEs and one expiration waits for space, one
 * CQE is consumed, and WAIT for 0 posts the waiting one. A failure changes
 * neither the ring nor STATS and writes no ready.
 */
static inline void fi_sweep_wait(struct __test_metadata *_metadata,
				 struct fi *fi, bool overflow,
				 unsigned int min_faults)
{
	struct fi_tally t = { .call = overflow ? "WAIT(overflow)" : "WAIT" };
	struct timerring_op ops[65];
	struct timerring_stats st0, st1;
	struct timerring_params p;
	struct timerring_wait w;
	struct timerring tr;
	unsigned int n, i, nr = overflow ? 65 : 1, ready;
	int ret, err, inj;

	for (i = 0; i < nr; i++)
		timerring_op_arm(&ops[i], 100 + i, NSEC_PER_MSEC, 0, i, 0);
	for (n = 1; n <= FI_SWEEP_MAX; n += t.advance) {
		unsigned int head0, tail0;

		fi_step_begin(&t);
		fi_params(&p, 1024);
		ASSERT_EQ(0, timerring_open(&tr, &p));
		ASSERT_EQ(nr, timerring_submit(&tr, ops, nr, NULL, 0, NULL,
					       NULL));
		ASSERT_TRUE(fi_ring_settles(&tr, overflow ? 64 : 1, overflow))
			TH_LOG("%s: the timers did not fire", t.call);
		if (overflow)
			timerring_cq_advance(&tr, 1);
		ready = overflow ? 64 : 1;
		ASSERT_EQ(0, tr_get_stats(tr.fd, &st0));
		head0 = *tr.cq.khead;
		tail0 = *tr.cq.ktail;
		memset(&w, 0, sizeof(w));
		w.min_complete = overflow ? 0 : 1;
		w.ready = FI_SENT_U32;

		ASSERT_EQ(0, fi_arm(fi, n));
		ret = ioctl(tr.fd, TIMERRING_IOC_WAIT, &w);
		err = errno;
		inj = fi_hit(fi);
		ASSERT_LE(0, inj) TH_LOG("fail-nth %u", n);
		ASSERT_EQ(0, tr_get_stats(tr.fd, &st1));
		if (ret < 0) {
			ASSERT_TRUE(inj) TH_LOG("%s failed (%d) with no fault",
						t.call, err);
			FI_COUNT_ERR(fi, &t, err, n);
			FI_EXPECT_STATS_EQ(&st0, &st1, t.call, n);
			EXPECT_EQ(head0, *tr.cq.khead) TH_LOG("fault %u", n);
			EXPECT_EQ(tail0, *tr.cq.ktail) TH_LOG("fault %u", n);
			EXPECT_EQ(FI_SENT_U32, w.ready) TH_LOG("fault %u", n);
			/* the call works once the fault is gone */
			memset(&w, 0, sizeof(w));
			w.min_complete = overflow ? 0 : 1;
			ASSERT_EQ(0, tr_ioctl(tr.fd, TIMERRING_IOC_WAIT, &w))
				TH_LOG("fault %u: WAIT again", n);
		} else {
			ASSERT_EQ(0, ret);
		}
		EXPECT_EQ(ready, w.ready) TH_LOG("%s: fault %u", t.call, n);
		EXPECT_EQ(ready, timerring_cq_ready(&tr))
			TH_LOG("%s: fault %u", t.call, n);
		ASSERT_EQ(0, tr_get_stats(tr.fd, &st1));
		EXPECT_EQ(0, st1.overflow_now) TH_LOG("%s: fault %u", t.call, n);
		EXPECT_EQ(nr, st1.expired_total) TH_LOG("%s: fault %u", t.call,
							n);
		tr_reap(&tr, NULL, ready);
		EXPECT_EQ(0, tr_fires(&tr, FI_CHECK_ID)) TH_LOG("fault %u", n);
		timerring_close(&tr);
		if (fi_step_end(&t, inj, _metadata->exit_code))
			break;
	}
	FI_END_SWEEP(fi, &t, n, min_faults);
}

/* Whether eventfd @efd gets signalled within @ns. */
static inline bool fi_efd_signalled(int efd, uint64_t ns)
{
	struct pollfd pfd = { .fd = efd, .events = POLLIN };
	uint64_t v;

	if (poll(&pfd, 1, ns / NSEC_PER_MSEC) != 1)
		return false;
	return read(efd, &v, sizeof(v)) == sizeof(v) && v;
}

/*
 * EVENTFD: replace a registered eventfd with another. A failure keeps the
 * first one registered: it is the one a later CQE signals.
 */
static inline void fi_sweep_eventfd(struct __test_metadata *_metadata,
				    struct fi *fi, unsigned int min_faults)
{
	struct fi_tally t = { .call = "EVENTFD" };
	struct timerring_params p;
	struct timerring tr;
	unsigned int n;
	int e1, e2, ret, err, inj;
	__s32 arg;

	for (n = 1; n <= FI_SWEEP_MAX; n += t.advance) {
		fi_step_begin(&t);
		e1 = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		e2 = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		ASSERT_LE(0, e1);
		ASSERT_LE(0, e2);
		fi_params(&p, 1024);
		ASSERT_EQ(0, timerring_open(&tr, &p));
		arg = e1;
		ASSERT_EQ(0, tr_ioctl(tr.fd, TIMERRING_IOC_EVENTFD, &arg));
		arg = e2;

		ASSERT_EQ(0, fi_arm(fi, n));
		ret = ioctl(tr.fd, TIMERRING_IOC_EVENTFD, &arg);
		err = errno;
		inj = fi_hit(fi);
		ASSERT_LE(0, inj) TH_LOG("fail-nth %u", n);
		if (ret < 0) {
			ASSERT_TRUE(inj) TH_LOG("EVENTFD failed (%d) with no fault",
						err);
			FI_COUNT_ERR(fi, &t, err, n);
		}
		EXPECT_EQ(0, tr_fires(&tr, FI_CHECK_ID)) TH_LOG("fault %u", n);
		EXPECT_TRUE(fi_efd_signalled(ret < 0 ? e1 : e2, WAIT_LONG_NS))
			TH_LOG("fault %u: the %s eventfd was not signalled", n,
			       ret < 0 ? "old" : "new");
		EXPECT_FALSE(fi_efd_signalled(ret < 0 ? e2 : e1, 0))
			TH_LOG("fault %u: the %s eventfd was signalled", n,
			       ret < 0 ? "new" : "old");
		timerring_close(&tr);
		close(e1);
		close(e2);
		if (fi_step_end(&t, inj, _metadata->exit_code))
			break;
	}
	FI_END_SWEEP(fi, &t, n, min_faults);
}

/* STATS: a failure writes nothing and changes nothing. */
static inline void fi_sweep_stats(struct __test_metadata *_metadata,
				  struct fi *fi, unsigned int min_faults)
{
	struct fi_tally t = { .call = "STATS" };
	struct timerring_stats st0, st1, out;
	struct timerring_params p;
	struct timerring tr;
	unsigned int n;
	int ret, err, inj;

	fi_params(&p, 1024);
	ASSERT_EQ(0, timerring_open(&tr, &p));
	ASSERT_LE(0, tr_arm(&tr, 200, FI_HOUR_NS, 0, 0, 0));
	for (n = 1; n <= FI_SWEEP_MAX; n += t.advance) {
		fi_step_begin(&t);
		ASSERT_EQ(0, tr_get_stats(tr.fd, &st0));
		memset(&out, 0x5a, sizeof(out));

		ASSERT_EQ(0, fi_arm(fi, n));
		ret = ioctl(tr.fd, TIMERRING_IOC_STATS, &out);
		err = errno;
		inj = fi_hit(fi);
		ASSERT_LE(0, inj) TH_LOG("fail-nth %u", n);
		ASSERT_EQ(0, tr_get_stats(tr.fd, &st1));
		FI_EXPECT_STATS_EQ(&st0, &st1, t.call, n);
		if (ret < 0) {
			ASSERT_TRUE(inj) TH_LOG("STATS failed (%d) with no fault",
						err);
			FI_COUNT_ERR(fi, &t, err, n);
		} else {
			FI_EXPECT_STATS_EQ(&st0, &out, t.call, n);
		}
		if (fi_step_end(&t, inj, _metadata->exit_code))
			break;
	}
	EXPECT_EQ(0, tr_cancel(&tr, 200));
	EXPECT_EQ(0, tr_fires(&tr, FI_CHECK_ID));
	timerring_close(&tr);
	FI_END_SWEEP(fi, &t, n, min_faults);
}

#endif /* _TIMERRING_SELFTEST_FAILINJ_H */
