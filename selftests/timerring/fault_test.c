// SPDX-License-Identifier: GPL-2.0
/*
 * timerring: "a call that fails changes nothing".
 *
 * User memory that can be read but not written back (SETUP params, SUBMIT
 * results, the SUBMIT struct) fails the call with EFAULT before anything
 * is applied; ops that fault in their second 256-op chunk give a partial
 * but exact batch. Then a fail-nth sweep: every allocation and user copy
 * of SETUP and of SUBMITs that allocate table chunks and interval arrays
 * is failed in turn, and each time the call must fail cleanly (or report
 * exactly what it did) and leave a working instance.
 */
#include "kselftest_harness.h"
#include "common.h"

#define HOUR_NS		(3600 * NSEC_PER_SEC)
#define SENT		((__s32)0x5a5a5a5a)
#define CHUNK_OPS	256	/* ops per SUBMIT chunk */
#define TABLE_IDS	128	/* ids per table chunk */
#define CHECK_ID	1	/* never used by a sweep */

FIXTURE(f) {
	struct timerring tr;
};

FIXTURE_SETUP(f)
{
	struct timerring_params p;

	tr_default_params(&p);
	p.cq_entries = 64;
	p.max_timers = 1024;
	TR_OPEN_OR_SKIP(&self->tr, &p);
}

FIXTURE_TEARDOWN(f)
{
	if (self->tr.fd >= 0)
		timerring_close(&self->tr);
}

/* SETUP params readable but not writable: EFAULT, and SETUP can be redone. */
TEST(setup_copy_back_faults)
{
	long pg = getpagesize();
	struct timerring_params *ro, p;
	struct timerring_stats st;
	struct timerring tr;
	char *page;
	void *m;
	int fd;

	TR_OPEN_DEV_OR_SKIP(fd);
	page = tr_map_pages(1);
	ASSERT_NE(NULL, page);
	ro = (struct timerring_params *)page;
	tr_default_params(ro);
	ro->cq_entries = 64;
	ASSERT_EQ(0, mprotect(page, pg, PROT_READ));

	EXPECT_EQ(-EFAULT, tr_ioctl(fd, TIMERRING_IOC_SETUP, ro));
	/* Left not set up. */
	m = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	EXPECT_EQ(MAP_FAILED, m);
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-EINVAL, tr_get_stats(fd, &st));
	/* A second try gives EFAULT again, not EBUSY. */
	EXPECT_EQ(-EFAULT, tr_ioctl(fd, TIMERRING_IOC_SETUP, ro));

	/* With a writable struct SETUP succeeds on the same fd. */
	p = *ro;
	ASSERT_EQ(0, tr_ioctl(fd, TIMERRING_IOC_SETUP, &p));
	EXPECT_NE(0, p.mmap_size);
	EXPECT_EQ(64, p.cq_entries);
	ASSERT_EQ(0, tr_attach(&tr, fd, &p));
	EXPECT_EQ(64, *tr.cq.kring_entries);
	EXPECT_EQ(0, tr_fires(&tr, CHECK_ID));
	ASSERT_EQ(0, tr_get_stats(fd, &st));
	EXPECT_EQ(1, st.armed_total);
	EXPECT_EQ(1, st.batches);
	timerring_close(&tr);
	munmap(page, pg);
}

/* Check that none of ids [first, first + n) is armed. */
static void expect_none_armed(struct __test_metadata *_metadata,
			      struct timerring *tr, __u32 first,
			      unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		EXPECT_EQ(-ENOENT, tr_cancel(tr, first + i))
			TH_LOG("id %u", first + i);
}

/* A results array that cannot be written: EFAULT, nothing applied. */
TEST_F(f, submit_results_readonly)
{
	long pg = getpagesize();
	unsigned int i, nr = 600;
	struct timerring_stats st0, st1;
	struct timerring_submit s;
	struct timerring_op ops[600];
	char *mem;

	/* Page 0 writable, page 1 read-only. */
	mem = tr_map_pages(2);
	ASSERT_NE(NULL, mem);
	ASSERT_EQ(0, mprotect(mem + pg, pg, PROT_READ));
	for (i = 0; i < nr; i++)
		timerring_op_arm(&ops[i], 100 + i, HOUR_NS, 0, i, 0);
	ASSERT_EQ(0, tr_get_stats(self->tr.fd, &st0));

	/* Wholly read-only. */
	EXPECT_EQ(-EFAULT, tr_raw_submit(self->tr.fd, &s, ops,
					 (__s32 *)(mem + pg), 2, 0));
	/* Read-only from the 301st result on (inside the second chunk). */
	EXPECT_EQ(-EFAULT, tr_raw_submit(self->tr.fd, &s, ops,
					 (__s32 *)(mem + pg) - 300, nr, 0));
	/* Read-only from the 9th result on (inside the first chunk). */
	EXPECT_EQ(-EFAULT, tr_raw_submit(self->tr.fd, &s, ops,
					 (__s32 *)(mem + pg) - 8, nr, 0));

	ASSERT_EQ(0, tr_get_stats(self->tr.fd, &st1));
	expect_stats_same(_metadata, &st0, &st1);
	EXPECT_EQ(0, st1.armed_now);
	EXPECT_EQ(0, st1.armed_total);
	expect_none_armed(_metadata, &self->tr, 100, nr);
	munmap(mem, 2 * pg);
}

/* A struct timerring_submit that cannot be written back: EFAULT. */
TEST_F(f, submit_struct_readonly)
{
	long pg = getpagesize();
	struct timerring_stats st0, st1;
	struct timerring_submit *s;
	struct timerring_op ops[300];
	__s32 res[300];
	unsigned int i;
	char *page;

	page = tr_map_pages(1);
	ASSERT_NE(NULL, page);
	for (i = 0; i < 300; i++)
		timerring_op_arm(&ops[i], 100 + i, HOUR_NS, 0, i, 0);
	s = (struct timerring_submit *)page;
	s->ops = (uintptr_t)ops;
	s->results = (uintptr_t)res;
	s->nr = 300;
	ASSERT_EQ(0, mprotect(page, pg, PROT_READ));
	ASSERT_EQ(0, tr_get_stats(self->tr.fd, &st0));

	EXPECT_EQ(-EFAULT, tr_ioctl(self->tr.fd, TIMERRING_IOC_SUBMIT, s));
	/* Without a results array too. */
	ASSERT_EQ(0, mprotect(page, pg, PROT_READ | PROT_WRITE));
	s->results = 0;
	s->nr = 1;
	ASSERT_EQ(0, mprotect(page, pg, PROT_READ));
	EXPECT_EQ(-EFAULT, tr_ioctl(self->tr.fd, TIMERRING_IOC_SUBMIT, s));

	ASSERT_EQ(0, tr_get_stats(self->tr.fd, &st1));
	expect_stats_same(_metadata, &st0, &st1);
	EXPECT_EQ(0, st1.armed_now);
	expect_none_armed(_metadata, &self->tr, 100, 300);
	munmap(page, pg);
}

/*
 * Ops end at a PROT_NONE page right after the first 256-op chunk: the
 * first chunk is applied, done says 256, its results are written and the
 * rest of the results array is left as it was.
 */
TEST_F(f, submit_ops_second_chunk_unmapped)
{
	long pg = getpagesize();
	size_t chunk_bytes = CHUNK_OPS * sizeof(struct timerring_op);
	unsigned int i, nr = 2 * CHUNK_OPS, armed = 0;
	struct timerring_stats st;
	struct timerring_submit s;
	struct timerring_op *ops;
	__s32 res[2 * CHUNK_OPS];
	size_t npages;
	char *mem;

	if (chunk_bytes % pg)
		SKIP(return, "page size %ld does not divide a chunk", pg);
	npages = chunk_bytes / pg;
	mem = tr_map_pages(npages + 1);
	ASSERT_NE(NULL, mem);
	ASSERT_EQ(0, mprotect(mem + npages * pg, pg, PROT_NONE));
	ops = (struct timerring_op *)mem;
	for (i = 0; i < CHUNK_OPS; i++)
		timerring_op_arm(&ops[i], i, HOUR_NS, 0, i, 0);
	for (i = 0; i < nr; i++)
		res[i] = SENT;

	ASSERT_EQ(0, tr_raw_submit(self->tr.fd, &s, ops, res, nr, 0));
	EXPECT_EQ(CHUNK_OPS, s.done);
	EXPECT_EQ(0, s.failed);
	for (i = 0; i < CHUNK_OPS; i++) {
		EXPECT_GE(res[i], 0) TH_LOG("result %u", i);
		armed += res[i] >= 0;
	}
	for (; i < nr; i++)
		EXPECT_EQ(SENT, res[i]) TH_LOG("result %u", i);
	ASSERT_EQ(0, tr_get_stats(self->tr.fd, &st));
	EXPECT_EQ(CHUNK_OPS, st.armed_now);
	EXPECT_EQ(CHUNK_OPS, st.armed_total);
	EXPECT_EQ(1, st.batches);
	EXPECT_EQ(CHUNK_OPS, armed);
	EXPECT_EQ(CHUNK_OPS, tr_cancel_all(&self->tr));
	munmap(mem, (npages + 1) * pg);
}

/* fail-nth: fail the n-th fault-injection point of this task. */

#define FAIL_NTH	"/proc/thread-self/fail-nth"
#define DBG		"/sys/kernel/debug/"
#define SWEEP_MAX	5000

static const char * const knob_files[] = {
	DBG "failslab/ignore-gfp-wait",
	DBG "fail_page_alloc/ignore-gfp-wait",
	DBG "failslab/verbose",
	DBG "fail_page_alloc/verbose",
	DBG "fail_usercopy/verbose",
};

static const char * const knob_values[] = { "N", "N", "0", "0", "0" };
#define NR_KNOBS	ARRAY_SIZE(knob_files)

/* Arm fail-nth for the n-th point from now; the fd to pass to _end(). */
static int fail_nth_begin(unsigned int n)
{
	char buf[16];
	int fd, len;

	fd = open(FAIL_NTH, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	len = snprintf(buf, sizeof(buf), "%u", n);
	if (write(fd, buf, len) != len) {
		close(fd);
		return -EIO;
	}
	return fd;
}

/*
 * Disarm fail-nth; 1 if the fault was injected in between (fail-nth reads
 * back 0), 0 if not, -errno on trouble. Reading copies to user memory,
 * which is a point itself: if the count is still 1 the read fails with
 * EFAULT, and that also means the call got no fault.
 */
static int fail_nth_end(int fd)
{
	char buf[32];
	ssize_t n;
	int ret;

	n = pread(fd, buf, sizeof(buf) - 1, 0);
	if (n > 0) {
		buf[n] = 0;
		ret = strtoul(buf, NULL, 10) == 0;
	} else {
		ret = n < 0 && errno == EFAULT ? 0 : -EIO;
	}
	/* Reset. The write's own user copy may eat a count of 1: then 0. */
	if (write(fd, "0", 1) != 1 && write(fd, "0", 1) != 1)
		ret = -EIO;
	close(fd);
	return ret;
}

FIXTURE(fnth) {
	char saved[NR_KNOBS][16];
	bool have[NR_KNOBS];
};

FIXTURE_SETUP(fnth)
{
	unsigned int i;
	int fd;

	if (access(FAIL_NTH, F_OK))
		SKIP(return, "no " FAIL_NTH " (CONFIG_FAULT_INJECTION)");
	if (access(DBG "fail_usercopy", F_OK))
		SKIP(return, "no " DBG "fail_usercopy");
	if (geteuid())
		SKIP(return, "fault injection knobs need root");
	fd = tr_open_dev();
	if (fd < 0)
		SKIP(return, "no " TIMERRING_DEV_PATH " (%d)", fd);
	close(fd);
	/* Let GFP_KERNEL allocations fail too; no stack dump per fault. */
	for (i = 0; i < NR_KNOBS; i++) {
		ssize_t n;

		fd = open(knob_files[i], O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		n = read(fd, self->saved[i], sizeof(self->saved[i]) - 1);
		close(fd);
		if (n <= 0)
			continue;
		self->saved[i][n] = 0;
		self->have[i] = true;
		ASSERT_EQ(0, tr_write_file(knob_files[i], knob_values[i]))
			TH_LOG("%s", knob_files[i]);
	}
}

FIXTURE_TEARDOWN(fnth)
{
	unsigned int i;

	for (i = 0; i < NR_KNOBS; i++)
		if (self->have[i])
			tr_write_file(knob_files[i], self->saved[i]);
}

static void report(const char *call, unsigned int faults)
{
	printf("# fault_test: %s: %u faults injected\n", call, faults);
	fflush(stdout);
}

/* SETUP on a fresh fd, every point failed in turn. */
TEST_F_TIMEOUT(fnth, setup_sweep, 300)
{
	unsigned int n, faults = 0, failed_calls = 0;
	struct timerring_params p;
	struct timerring_stats st;
	struct timerring tr;
	int fd, fn, inj, ret;

	for (n = 1; n <= SWEEP_MAX; n++) {
		fd = tr_open_dev();
		ASSERT_LE(0, fd);
		tr_default_params(&p);
		p.cq_entries = 64;
		p.max_timers = 1024;

		fn = fail_nth_begin(n);
		ASSERT_LE(0, fn);
		ret = tr_ioctl(fd, TIMERRING_IOC_SETUP, &p);
		inj = fail_nth_end(fn);
		ASSERT_LE(0, inj) TH_LOG("fail-nth %u", n);

		if (!inj) {
			/* Past the last point: a plain, successful SETUP. */
			ASSERT_EQ(0, ret) TH_LOG("fail-nth %u, not injected", n);
		} else {
			faults++;
		}
		if (ret) {
			failed_calls++;
			ASSERT_TRUE(ret == -ENOMEM || ret == -EFAULT)
				TH_LOG("fail-nth %u: SETUP gave %d", n, ret);
			/* Not set up, and SETUP can be done again. */
			EXPECT_EQ(-EINVAL, tr_get_stats(fd, &st))
				TH_LOG("fail-nth %u", n);
			tr_default_params(&p);
			p.cq_entries = 64;
			p.max_timers = 1024;
			ASSERT_EQ(0, tr_ioctl(fd, TIMERRING_IOC_SETUP, &p))
				TH_LOG("fail-nth %u: SETUP after the failure", n);
		}
		EXPECT_EQ(64, p.cq_entries);
		EXPECT_EQ(1024, p.max_timers);
		ASSERT_EQ(0, tr_attach(&tr, fd, &p)) TH_LOG("fail-nth %u", n);
		EXPECT_EQ(0, tr_fires(&tr, CHECK_ID)) TH_LOG("fail-nth %u", n);
		timerring_close(&tr);
		if (!inj)
			break;
	}
	ASSERT_LE(n, SWEEP_MAX) TH_LOG("SETUP has over %u fault points",
				       SWEEP_MAX);
	report("SETUP", faults);
	TH_LOG("%u of them failed SETUP", failed_calls);
	EXPECT_GT(faults, 0);
}

struct sweep {
	const char *name;
	__u8 opcode;		/* ARM or MODIFY */
	unsigned int nr;	/* ops in the SUBMIT */
	__u32 first, stride;	/* op i works on id first + i * stride */
	__u64 interval;		/* non-zero: periodic */
	__s64 pre_id;		/* armed before the sweep call, or -1 */
	__u32 max_timers;
};

/*
 * One SUBMIT of sw->nr ops on a fresh instance, with every fault point in
 * it failed in turn. A failed SUBMIT must have applied nothing; a
 * successful one must say in done, failed and results exactly what it
 * applied (per-op -ENOMEM allowed), which STATS and the ids confirm.
 */
static void run_sweep(struct __test_metadata *_metadata,
		      const struct sweep *sw)
{
	unsigned int n, i, faults = 0, partial = 0, failed_calls = 0;
	unsigned int nr = sw->nr;
	struct timerring_stats st0, st1;
	struct timerring_params p;
	struct timerring_submit s;
	struct timerring_op *ops, *cops;
	struct timerring tr;
	__s32 *res, *cres;
	int fn, inj, ret;

	ops = calloc(nr, sizeof(*ops));
	cops = calloc(nr, sizeof(*cops));
	res = calloc(nr, sizeof(*res));
	cres = calloc(nr, sizeof(*cres));
	ASSERT_TRUE(ops && cops && res && cres);
	for (i = 0; i < nr; i++) {
		__u32 id = sw->first + i * sw->stride;

		ASSERT_NE(CHECK_ID, id);
		ASSERT_NE(sw->pre_id, id);
		ASSERT_LT(id, sw->max_timers);
		timerring_op_prep(&ops[i], sw->opcode, id, HOUR_NS, 0, id,
				  sw->interval);
		timerring_op_cancel(&cops[i], id);
	}

	for (n = 1; n <= SWEEP_MAX; n++) {
		unsigned int ok = 0, bad = 0, pre = sw->pre_id >= 0;

		tr_default_params(&p);
		p.cq_entries = 64;
		p.max_timers = sw->max_timers;
		ASSERT_EQ(0, timerring_open(&tr, &p));
		if (pre)
			ASSERT_GE(tr_arm(&tr, sw->pre_id, HOUR_NS, 0, 0, 0), 0);
		ASSERT_EQ(0, tr_get_stats(tr.fd, &st0));
		for (i = 0; i < nr; i++)
			res[i] = SENT;
		memset(&s, 0, sizeof(s));
		s.ops = (uintptr_t)ops;
		s.results = (uintptr_t)res;
		s.nr = nr;
		s.done = 0xdead;
		s.failed = 0xdead;

		fn = fail_nth_begin(n);
		ASSERT_LE(0, fn);
		ret = tr_ioctl(tr.fd, TIMERRING_IOC_SUBMIT, &s);
		inj = fail_nth_end(fn);
		ASSERT_LE(0, inj) TH_LOG("%s: fail-nth %u", sw->name, n);
		faults += inj;

		ASSERT_EQ(0, tr_get_stats(tr.fd, &st1));
		if (ret < 0) {
			/* Failed: nothing processed, nothing changed. */
			failed_calls++;
			ASSERT_TRUE(inj) TH_LOG("%s: fail-nth %u: %d without a fault",
						sw->name, n, ret);
			ASSERT_TRUE(ret == -ENOMEM || ret == -EFAULT)
				TH_LOG("%s: fail-nth %u: SUBMIT gave %d",
				       sw->name, n, ret);
			expect_stats_same(_metadata, &st0, &st1);
			s.done = 0;
		} else {
			ASSERT_EQ(0, ret);
			ASSERT_LE(s.done, nr) TH_LOG("%s: fail-nth %u", sw->name, n);
			ASSERT_LT(0, s.done) TH_LOG("%s: fail-nth %u", sw->name, n);
			if (!inj)
				ASSERT_EQ(nr, s.done)
					TH_LOG("%s: fail-nth %u", sw->name, n);
			partial += s.done < nr;
			for (i = 0; i < s.done; i++) {
				if (res[i] >= 0) {
					ok++;
					continue;
				}
				bad++;
				EXPECT_EQ(-ENOMEM, res[i])
					TH_LOG("%s: fail-nth %u: op %u", sw->name,
					       n, i);
			}
			for (; i < nr; i++)
				EXPECT_EQ(SENT, res[i])
					TH_LOG("%s: fail-nth %u: result %u past done %u",
					       sw->name, n, i, s.done);
			EXPECT_EQ(bad, s.failed) TH_LOG("%s: fail-nth %u",
							sw->name, n);
			if (!inj)
				EXPECT_EQ(0, bad) TH_LOG("%s: fail-nth %u",
							 sw->name, n);
			/* STATS shows exactly what done and results say. */
			EXPECT_EQ(st0.armed_now + ok, st1.armed_now)
				TH_LOG("%s: fail-nth %u: done %u ok %u", sw->name,
				       n, s.done, ok);
			if (sw->opcode == TIMERRING_OP_ARM) {
				EXPECT_EQ(st0.armed_total + ok, st1.armed_total)
					TH_LOG("%s: fail-nth %u", sw->name, n);
			} else {
				/* Whether a MODIFY counts as an arm is open. */
				EXPECT_EQ(st0.modified_total + ok,
					  st1.modified_total)
					TH_LOG("%s: fail-nth %u", sw->name, n);
				EXPECT_TRUE(st1.armed_total == st0.armed_total ||
					    st1.armed_total == st0.armed_total + ok)
					TH_LOG("%s: fail-nth %u", sw->name, n);
			}
			EXPECT_EQ(st0.batches + 1, st1.batches)
				TH_LOG("%s: fail-nth %u", sw->name, n);
			EXPECT_EQ(st0.ops_failed + bad, st1.ops_failed)
				TH_LOG("%s: fail-nth %u", sw->name, n);
		}
		/* And each id is armed exactly if its result says so. */
		for (i = 0; i < nr; i++)
			cres[i] = SENT;
		ASSERT_EQ(nr, timerring_submit(&tr, cops, nr, cres, 0, NULL,
					       NULL));
		for (i = 0; i < nr; i++)
			EXPECT_EQ(i < s.done && res[i] >= 0 ? 0 : -ENOENT,
				  cres[i])
				TH_LOG("%s: fail-nth %u: id %u (op %u, done %u, result %d)",
				       sw->name, n, cops[i].id, i, s.done,
				       res[i]);
		if (pre)
			EXPECT_EQ(0, tr_cancel(&tr, sw->pre_id));
		/* Still a working instance. */
		EXPECT_EQ(0, tr_fires(&tr, CHECK_ID))
			TH_LOG("%s: fail-nth %u", sw->name, n);
		timerring_close(&tr);
		if (!inj || _metadata->exit_code)
			break;
	}
	ASSERT_LE(n, SWEEP_MAX) TH_LOG("%s has over %u fault points",
				       sw->name, SWEEP_MAX);
	report(sw->name, faults);
	TH_LOG("%s: %u calls failed, %u partial", sw->name, failed_calls,
	       partial);
	EXPECT_GT(faults, 0);
	free(ops);
	free(cops);
	free(res);
	free(cres);
}

/* One ARM, the first of its table chunk: allocates the chunk. */
TEST_F_TIMEOUT(fnth, submit_arm_new_chunk, 300)
{
	const struct sweep sw = {
		.name = "SUBMIT 1 ARM (new table chunk)",
		.opcode = TIMERRING_OP_ARM,
		.nr = 1, .first = 3 * TABLE_IDS, .stride = 0,
		.pre_id = -1, .max_timers = 1024,
	};

	run_sweep(_metadata, &sw);
}

/* The same as a MODIFY of an idle id. */
TEST_F_TIMEOUT(fnth, submit_modify_new_chunk, 300)
{
	const struct sweep sw = {
		.name = "SUBMIT 1 MODIFY (new table chunk)",
		.opcode = TIMERRING_OP_MODIFY,
		.nr = 1, .first = 5 * TABLE_IDS + 7, .stride = 0,
		.pre_id = -1, .max_timers = 1024,
	};

	run_sweep(_metadata, &sw);
}

/*
 * 300 ARMs, each the first of its own table chunk (ids 0, 128, 256, ...),
 * over two 256-op SUBMIT chunks.
 */
TEST_F_TIMEOUT(fnth, submit_300_arms_many_chunks, 600)
{
	const struct sweep sw = {
		.name = "SUBMIT 300 ARM (300 table chunks, 2 op chunks)",
		.opcode = TIMERRING_OP_ARM,
		.nr = 300, .first = 0, .stride = TABLE_IDS,
		.pre_id = -1, .max_timers = 65536,
	};

	run_sweep(_metadata, &sw);
}

/* A periodic ARM in a fresh table chunk: chunk and interval array. */
TEST_F_TIMEOUT(fnth, submit_periodic_new_chunk, 300)
{
	const struct sweep sw = {
		.name = "SUBMIT 1 periodic ARM (new table chunk)",
		.opcode = TIMERRING_OP_ARM,
		.nr = 1, .first = 5 * TABLE_IDS, .stride = 0,
		.interval = 10 * NSEC_PER_MSEC,
		.pre_id = -1, .max_timers = 1024,
	};

	run_sweep(_metadata, &sw);
}

/* A periodic ARM in a chunk that has one: only the interval array. */
TEST_F_TIMEOUT(fnth, submit_periodic_ival_array, 300)
{
	const struct sweep sw = {
		.name = "SUBMIT 1 periodic ARM (interval array only)",
		.opcode = TIMERRING_OP_ARM,
		.nr = 1, .first = 5 * TABLE_IDS, .stride = 0,
		.interval = 10 * NSEC_PER_MSEC,
		.pre_id = 5 * TABLE_IDS + 1, .max_timers = 1024,
	};

	run_sweep(_metadata, &sw);
}

TEST_HARNESS_MAIN
