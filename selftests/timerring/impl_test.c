// SPDX-License-Identifier: GPL-2.0
/*
 * The impl module parameter: forcing each batch implementation (scalar,
 * avx2, avx512) really runs that implementation, for a full chunk and for
 * a single op (no break-even applies when forced), as reported by
 * TIMERRING_IOC_STATS (impl of the last batch) and TIMERRING_IOC_VERSION
 * (impl in use), and for the expiry path's drain steps, as reported by
 * TIMERRING_IOC_STATS (drain_impl of the last step); forcing one the CPU
 * lacks fails with EOPNOTSUPP; bad
 * values fail with EINVAL; auto picks one the CPU has. The parameter is
 * restored afterwards. Needs root (the parameter file is 0644).
 */
#include <stdio.h>
#include <stdlib.h>

#include "kselftest_harness.h"
#include "common.h"

#define IMPL_PARAM	"/sys/module/timerring/parameters/impl"

static const char *const impl_names[] = { "scalar", "avx2", "avx512" };

static int param_write(const char *v)
{
	int fd = open(IMPL_PARAM, O_WRONLY);
	int ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, v, strlen(v)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

static int param_read(char *buf, size_t len)
{
	int fd = open(IMPL_PARAM, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	if (n && buf[n - 1] == '\n')
		buf[n - 1] = 0;
	return 0;
}

/* The kernel's view of the CPU flags (what the module tests). */
static bool cpu_flag(const char *flag)
{
	char line[8192], pat[64];
	bool found = false;
	FILE *f = fopen("/proc/cpuinfo", "r");

	if (!f)
		return false;
	snprintf(pat, sizeof(pat), " %s ", flag);
	while (fgets(line, sizeof(line), f)) {
		size_t n = strlen(line);

		if (strncmp(line, "flags", 5))
			continue;
		if (n && line[n - 1] == '\n')
			line[n - 1] = ' ';
		found = strstr(line, pat);
		break;
	}
	fclose(f);
	return found;
}

static bool cpu_has(unsigned int impl)
{
	bool avx2 = cpu_flag("avx2") && cpu_flag("popcnt");

	switch (impl) {
	case TIMERRING_IMPL_AVX2:
		return avx2;
	case TIMERRING_IMPL_AVX512:
		return avx2 && cpu_flag("avx512f") && cpu_flag("avx512vl") &&
		       cpu_flag("avx512cd");
	}
	return true;
}

FIXTURE(impl) {
	struct timerring tr;
	char saved[32];
};

FIXTURE_SETUP(impl)
{
	struct timerring_params p;

	self->tr.fd = -1;
	if (param_read(self->saved, sizeof(self->saved)))
		SKIP(return, "no %s", IMPL_PARAM);
	if (geteuid())
		SKIP(return, "needs root");
	tr_default_params(&p);
	p.max_timers = 4096;
	TR_OPEN_OR_SKIP(&self->tr, &p);
}

FIXTURE_TEARDOWN(impl)
{
	if (self->saved[0])
		param_write(self->saved);
	if (self->tr.fd >= 0)
		timerring_close(&self->tr);
}

/* Arm then cancel n ids; returns the impl the last batch used. */
static unsigned int run_batch(struct __test_metadata *_metadata,
			      struct timerring *tr, unsigned int n)
{
	static struct timerring_op ops[256];
	struct timerring_stats st;
	unsigned int i;

	for (i = 0; i < n; i++)
		timerring_op_arm(&ops[i], i, 3600 * NSEC_PER_SEC, 0, i, 0);
	EXPECT_EQ((int)n, timerring_submit(tr, ops, n, NULL, 0, NULL, NULL));
	for (i = 0; i < n; i++)
		timerring_op_cancel(&ops[i], i);
	EXPECT_EQ((int)n, timerring_submit(tr, ops, n, NULL, 0, NULL, NULL));
	EXPECT_EQ(0, timerring_stats(tr, &st));
	return st.impl;
}

/*
 * Arm n timers due within a few ms, let them fire and consume them;
 * returns the impl of the last drain step.
 */
static unsigned int run_expiry(struct __test_metadata *_metadata,
			       struct timerring *tr, unsigned int n)
{
	static struct timerring_op ops[256];
	struct timerring_stats st;
	unsigned int i;

	for (i = 0; i < n; i++)
		timerring_op_arm(&ops[i], i, (1 + i % 4) * NSEC_PER_MSEC, 0,
				 i, 0);
	EXPECT_EQ((int)n, timerring_submit(tr, ops, n, NULL, 0, NULL, NULL));
	EXPECT_LE((int)n, timerring_wait(tr, n, 10 * NSEC_PER_SEC));
	timerring_cq_advance(tr, timerring_cq_ready(tr));
	EXPECT_EQ(0, timerring_stats(tr, &st));
	EXPECT_EQ(0, st.armed_now);
	return st.drain_impl;
}

TEST_F(impl, forcing_runs_it)
{
	struct timerring_version v;
	char buf[32];
	unsigned int i;

	for (i = 0; i < 3; i++) {
		int ret = param_write(impl_names[i]);

		if (!cpu_has(i)) {
			EXPECT_EQ(-EOPNOTSUPP, ret);
			TH_LOG("%s: not on this CPU, refused", impl_names[i]);
			continue;
		}
		ASSERT_EQ(0, ret);
		ASSERT_EQ(0, param_read(buf, sizeof(buf)));
		EXPECT_STREQ(impl_names[i], buf);
		ASSERT_EQ(0, timerring_version(self->tr.fd, &v));
		EXPECT_EQ(i, v.impl);
		EXPECT_EQ(i, run_batch(_metadata, &self->tr, 256));
		EXPECT_EQ(i, run_batch(_metadata, &self->tr, 1));
		EXPECT_EQ(i, run_batch(_metadata, &self->tr, 17));
		EXPECT_EQ(i, run_expiry(_metadata, &self->tr, 256));
		EXPECT_EQ(i, run_expiry(_metadata, &self->tr, 1));
	}
}

TEST_F(impl, auto_and_bad_values)
{
	struct timerring_version v;
	char buf[32];

	EXPECT_EQ(-EINVAL, param_write("avx1024"));
	EXPECT_EQ(-EINVAL, param_write("\n"));
	ASSERT_EQ(0, param_write("auto\n"));
	ASSERT_EQ(0, param_read(buf, sizeof(buf)));
	EXPECT_STREQ("auto", buf);
	ASSERT_EQ(0, timerring_version(self->tr.fd, &v));
	EXPECT_TRUE(cpu_has(v.impl));
	TH_LOG("auto picked %s", v.impl < 3 ? impl_names[v.impl] : "?");
	/* a full chunk is at or above any break-even auto uses */
	EXPECT_EQ(v.impl, run_batch(_metadata, &self->tr, 256));
}

TEST_HARNESS_MAIN
