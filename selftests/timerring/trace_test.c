// SPDX-License-Identifier: GPL-2.0
/*
 * timerring: the trace events. Enables the timerring events in a private
 * tracefs instance (or the top-level buffer if instances are missing),
 * runs a small known workload, and checks that the records it must leave
 * are there with the right field values. Skips without tracefs or
 * without /dev/timerring.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include "kselftest_harness.h"
#include "common.h"

#define TRACEFS_MAGIC_NR	0x74726163
#define INSTANCE_NAME		"timerring_selftest"
#define UD_TAG			0x7e57da7a00000000ULL	/* user_data tag */
#define MAX_TIMERS		777

static const char *const events[] = {
	"timerring_setup", "timerring_teardown", "timerring_submit",
	"timerring_op", "timerring_expire", "timerring_cascade",
	"timerring_overflow", "timerring_wakeup", "timerring_impl_select",
	"timerring_sq", "timerring_tier",
};

/* Fields of the events (as in their format files). */
static const char *const event_fields[][8] = {
	{ "inst", "max_timers", "cq_entries", "clockid", "res_ns", "node" },
	{ "inst", "armed", "expired" },
	{ "inst", "nr", "done", "failed", "arm", "modify", "cancel", "impl" },
	{ "inst", "id", "tick", "user_data", "res", "opcode" },
	{ "inst", "id", "user_data", "late_ns" },
	{ "inst", "level", "slot", "tick" },
	{ "inst", "pending" },
	{ "inst", "posted" },
	{ "phase", "impl", "forced", "break_even", "scalar_ps", "simd_ps" },
	{ "inst", "applied", "failed", "left" },
	{ "inst", "nr", "way", "breakeven", "ns", "fixed_ns", "inline_ps",
	  "par_ps" },
};

/* The tracefs mount point with the timerring events, or NULL. */
static const char *tracefs_root(void)
{
	static const char *const roots[] = {
		"/sys/kernel/tracing", "/sys/kernel/debug/tracing",
	};
	char path[128];
	unsigned int i;

	for (i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/trace", roots[i]);
		if (!access(path, F_OK))
			return roots[i];
	}
	return NULL;
}

static int write_str(const char *dir, const char *rel, const char *s)
{
	char path[512];
	int fd, ret = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, s, strlen(s)) != (ssize_t)strlen(s))
		ret = -errno;
	close(fd);
	return ret;
}

static char *read_all(const char *dir, const char *rel)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	return tr_read_all(path, NULL);
}

/* Value of "key=" in a trace line, as a number (base 0); -1 if absent. */
static bool field(const char *line, const char *key, long long *v)
{
	char pat[32];
	const char *p;

	snprintf(pat, sizeof(pat), " %s=", key);
	p = strstr(line, pat);
	if (!p) {
		/* The first field follows ": " of the event name. */
		snprintf(pat, sizeof(pat), ": %s=", key);
		p = strstr(line, pat);
		if (!p)
			return false;
	}
	p += strlen(pat);
	*v = (long long)strtoull(p, NULL, 0);
	if (*p == '-')
		*v = strtoll(p, NULL, 0);
	return true;
}

static bool field_str(const char *line, const char *key, const char *want)
{
	char pat[64];

	snprintf(pat, sizeof(pat), " %s=%s ", key, want);
	return strstr(line, pat) != NULL;
}

/* The pid of the task that emitted @line ("comm-PID [cpu] ..."). */
static long line_pid(const char *line)
{
	const char *cpu = strstr(line, " [");
	const char *p;

	if (!cpu)
		return -1;
	for (p = cpu; p > line && p[-1] != '-'; p--)
		;
	return p > line ? strtol(p, NULL, 10) : -1;
}

static bool is_event(const char *line, const char *ev)
{
	char pat[64];

	snprintf(pat, sizeof(pat), " %s: ", ev);
	return strstr(line, pat) != NULL;
}

FIXTURE(trace) {
	char dir[256];		/* the tracefs instance used */
	bool instance;		/* a private instance (to rmdir) */
	bool have_dev;
};

FIXTURE_SETUP(trace)
{
	const char *root = tracefs_root();
	struct statfs sfs;
	char path[512];
	int fd;

	if (!root)
		SKIP(return, "no tracefs (mount -t tracefs none /sys/kernel/tracing)");
	if (!statfs(root, &sfs) && (long)sfs.f_type != TRACEFS_MAGIC_NR)
		TH_LOG("%s is not tracefs itself (debugfs automount?)", root);
	fd = tr_open_dev();
	if (fd == -ENOENT || fd == -ENODEV || fd == -ENXIO)
		SKIP(return, "no " TIMERRING_DEV_PATH " (%d)", fd);
	ASSERT_LE(0, fd);
	close(fd);
	self->have_dev = true;

	snprintf(path, sizeof(path), "%s/events/timerring", root);
	ASSERT_EQ(0, access(path, F_OK))
		TH_LOG("module loaded but no %s", path);

	snprintf(self->dir, sizeof(self->dir), "%s/instances/%s", root,
		 INSTANCE_NAME);
	rmdir(self->dir);
	if (!mkdir(self->dir, 0755)) {
		self->instance = true;
	} else {
		TH_LOG("no tracefs instances (%s), using the main buffer",
		       strerror(errno));
		snprintf(self->dir, sizeof(self->dir), "%s", root);
	}
	ASSERT_EQ(0, write_str(self->dir, "events/timerring/enable", "0"));
	ASSERT_EQ(0, write_str(self->dir, "trace", ""));
}

FIXTURE_TEARDOWN(trace)
{
	if (!self->have_dev)
		return;
	write_str(self->dir, "events/timerring/enable", "0");
	if (self->instance)
		rmdir(self->dir);
}

/* Every event exists, with the fields doc/TRACING.md documents. */
TEST_F(trace, formats)
{
	unsigned int i, j;
	char rel[128];

	for (i = 0; i < ARRAY_SIZE(events); i++) {
		char *fmt;

		snprintf(rel, sizeof(rel), "events/timerring/%s/format",
			 events[i]);
		fmt = read_all(self->dir, rel);
		ASSERT_NE(NULL, fmt) TH_LOG("no %s", rel);
		for (j = 0; j < 8 && event_fields[i][j]; j++) {
			char pat[64];

			snprintf(pat, sizeof(pat), " %s;", event_fields[i][j]);
			EXPECT_NE(NULL, strstr(fmt, pat))
				TH_LOG("%s: no field %s", events[i],
				       event_fields[i][j]);
		}
		free(fmt);
	}
}

/*
 * Arm ids 3, 5, 7, 9; cancel 5 and the idle 11 (fails) in a second
 * batch; let 3, 7, 9 expire; close. Then look for every record.
 */
TEST_F(trace, workload_records)
{
	static const unsigned int ids[] = { 3, 5, 7, 9 };
	struct timerring_params p;
	struct timerring_op ops[4];
	struct timerring tr;
	__s32 res[4], gen[16] = { 0 };
	unsigned int i, got;
	int expired[16] = { 0 }, armed_seen[16] = { 0 };
	int setup = 0, teardown = 0, submit_arm = 0, submit_cancel = 0;
	int cancel5 = 0, cancel11 = 0, wakeups = 0;
	long long inst = -1, v;
	char *buf, *line, *save = NULL;

	ASSERT_EQ(0, write_str(self->dir, "events/timerring/enable", "1"));
	ASSERT_EQ(0, write_str(self->dir, "tracing_on", "1"));

	tr_default_params(&p);
	p.max_timers = MAX_TIMERS;
	ASSERT_EQ(0, timerring_open(&tr, &p));
	for (i = 0; i < 4; i++)
		timerring_op_arm(&ops[i], ids[i], (20 + 10 * i) * NSEC_PER_MSEC,
				 0, UD_TAG | ids[i], 0);
	ASSERT_EQ(4, timerring_submit(&tr, ops, 4, res, 0, NULL, NULL));
	for (i = 0; i < 4; i++) {
		ASSERT_LE(0, res[i]);
		gen[ids[i]] = res[i];
	}
	timerring_op_cancel(&ops[0], 5);
	timerring_op_cancel(&ops[1], 11);
	ASSERT_EQ(2, timerring_submit(&tr, ops, 2, res, 0, NULL, NULL));
	ASSERT_EQ(0, res[0]);
	ASSERT_EQ(-ENOENT, res[1]);
	got = tr_collect(&tr, NULL, 3, WAIT_LONG_NS);
	ASSERT_EQ(3, got);
	timerring_close(&tr);

	ASSERT_EQ(0, write_str(self->dir, "events/timerring/enable", "0"));
	buf = read_all(self->dir, "trace");
	ASSERT_NE(NULL, buf);

	/* Our instance: the setup record our pid left with our params. */
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == '#')
			continue;
		if (is_event(line, "timerring_setup") &&
		    line_pid(line) == getpid() &&
		    field(line, "max_timers", &v) && v == p.max_timers) {
			EXPECT_TRUE(field(line, "inst", &inst));
			EXPECT_TRUE(field(line, "cq_entries", &v) &&
				    v == p.cq_entries) TH_LOG("%s", line);
			EXPECT_TRUE(field(line, "res_ns", &v) &&
				    v == (long long)p.resolution_ns)
				TH_LOG("%s", line);
			EXPECT_TRUE(field(line, "clockid", &v) &&
				    v == CLOCK_MONOTONIC) TH_LOG("%s", line);
			setup++;
			continue;
		}
		if (inst < 0 || !field(line, "inst", &v) || v != inst)
			continue;
		if (is_event(line, "timerring_op")) {
			long long id, ud, r;

			ASSERT_TRUE(field(line, "id", &id)) TH_LOG("%s", line);
			ASSERT_TRUE(field(line, "res", &r)) TH_LOG("%s", line);
			ASSERT_TRUE(id < 16) TH_LOG("%s", line);
			if (field_str(line, "op", "arm")) {
				EXPECT_TRUE(field(line, "user_data", &ud) &&
					    (__u64)ud == (UD_TAG | id))
					TH_LOG("%s", line);
				EXPECT_EQ(gen[id], r) TH_LOG("%s", line);
				armed_seen[id]++;
			} else if (field_str(line, "op", "cancel")) {
				if (id == 5) {
					EXPECT_EQ(0, r) TH_LOG("%s", line);
					cancel5++;
				} else {
					EXPECT_EQ(11, id) TH_LOG("%s", line);
					EXPECT_EQ(-ENOENT, r) TH_LOG("%s", line);
					cancel11++;
				}
			} else {
				EXPECT_TRUE(false) TH_LOG("unexpected: %s", line);
			}
		} else if (is_event(line, "timerring_submit")) {
			long long nr, done, failed, arm, cancel;

			ASSERT_TRUE(field(line, "nr", &nr) &&
				    field(line, "done", &done) &&
				    field(line, "failed", &failed) &&
				    field(line, "arm", &arm) &&
				    field(line, "cancel", &cancel))
				TH_LOG("%s", line);
			EXPECT_EQ(nr, done) TH_LOG("%s", line);
			EXPECT_NE(NULL, strstr(line, " impl=")) TH_LOG("%s", line);
			if (nr == 4 && arm == 4 && !failed)
				submit_arm++;
			else if (nr == 2 && cancel == 2 && failed == 1)
				submit_cancel++;
			else
				EXPECT_TRUE(false) TH_LOG("unexpected: %s", line);
		} else if (is_event(line, "timerring_expire")) {
			long long id, ud;

			ASSERT_TRUE(field(line, "id", &id) && id < 16)
				TH_LOG("%s", line);
			EXPECT_TRUE(field(line, "user_data", &ud) &&
				    (__u64)ud == (UD_TAG | id))
				TH_LOG("%s", line);
			EXPECT_TRUE(field(line, "late_ns", &v) && v >= 0)
				TH_LOG("%s", line);
			expired[id]++;
		} else if (is_event(line, "timerring_wakeup")) {
			wakeups++;
		} else if (is_event(line, "timerring_teardown")) {
			EXPECT_TRUE(field(line, "armed", &v) && !v)
				TH_LOG("%s", line);
			EXPECT_TRUE(field(line, "expired", &v) && v == 3)
				TH_LOG("%s", line);
			teardown++;
		}
	}
	free(buf);

	ASSERT_EQ(1, setup) TH_LOG("no timerring_setup record of pid %d",
				   getpid());
	TH_LOG("our instance is inst=%lld", inst);
	for (i = 0; i < 4; i++)
		EXPECT_EQ(1, armed_seen[ids[i]]) TH_LOG("op=arm id=%u", ids[i]);
	EXPECT_EQ(1, cancel5);
	EXPECT_EQ(1, cancel11);
	EXPECT_EQ(1, submit_arm);
	EXPECT_EQ(1, submit_cancel);
	EXPECT_EQ(1, expired[3]);
	EXPECT_EQ(0, expired[5]);
	EXPECT_EQ(1, expired[7]);
	EXPECT_EQ(1, expired[9]);
	EXPECT_LE(1, wakeups);
	EXPECT_EQ(1, teardown);
}

/* Disabled events leave nothing behind. */
TEST_F(trace, disabled_is_silent)
{
	struct timerring tr;
	struct timerring_op op;
	char *buf;

	ASSERT_EQ(0, timerring_open(&tr, NULL));
	timerring_op_arm(&op, 1, NSEC_PER_MSEC, 0, UD_TAG, 0);
	ASSERT_EQ(1, timerring_submit(&tr, &op, 1, NULL, 0, NULL, NULL));
	ASSERT_EQ(1, tr_collect(&tr, NULL, 1, WAIT_LONG_NS));
	timerring_close(&tr);
	buf = read_all(self->dir, "trace");
	ASSERT_NE(NULL, buf);
	EXPECT_EQ(NULL, strstr(buf, " timerring_")) TH_LOG("%.300s", buf);
	free(buf);
}

int main(int argc, char **argv)
{
	/* Without tracefs there is nothing to test: skip the whole program. */
	if (!tracefs_root()) {
		printf("TAP version 13\n1..0 # SKIP no tracefs (mount -t tracefs none /sys/kernel/tracing)\n");
		return KSFT_SKIP;
	}
	return test_harness_run(argc, argv);
}
