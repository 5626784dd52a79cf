// SPDX-License-Identifier: GPL-2.0
/*
 * timerring: module unload.
 *
 *   mapping_pins_module    with the fd closed and only the ring mapped,
 *                          rmmod is refused (the mapping holds the file,
 *                          the file the module): delete_module() fails
 *                          with EWOULDBLOCK (or EBUSY), the module stays
 *                          live, the instance works on (a timer armed
 *                          before the close fires into the mapping after
 *                          the refused rmmod). After the munmap the module
 *                          has no reference left and rmmod succeeds:
 *                          /dev/timerring and /sys/module/timerring go.
 *   trace_after_rmmod      the timerring trace events, enabled in a private
 *                          tracefs instance, record a workload; no event
 *                          format has a %p and no record prints anything
 *                          like a kernel pointer; after rmmod, reading the
 *                          trace (which held the module's records) works
 *                          and still prints no pointer, and the events are
 *                          gone from tracefs.
 *
 * Each test unloads the module, so each loads it again (finit_module() of
 * /lib/timerring/timerring.ko, or $TIMERRING_KO, without parameters) and
 * gives /dev/timerring to group timerring with mode 0660, as
 * tools/vm/guest/guest.sh load_main does, so that the programs run after
 * this one (alphabetical order) find the module as the guest left it. The
 * fixture's teardown reloads it whatever happened. Skips without the
 * module loaded, with another reference to it (refcnt, holders), or
 * without the .ko file.
 */
#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include "kselftest_harness.h"
#include "common.h"

#define MOD_NAME	"timerring"
#define MOD_DIR		"/sys/module/" MOD_NAME
#define MOD_KO		"/lib/timerring/timerring.ko"
#define TRACEFS		"/sys/kernel/tracing"
#define TR_INST		TRACEFS "/instances/timerring_rmmod"
#define UD(id)		(0x600d0000ULL + (id))

static const char *ko_path(void)
{
	const char *p = getenv("TIMERRING_KO");

	return p && *p ? p : MOD_KO;
}

static bool mod_loaded(void)
{
	return !access(MOD_DIR, F_OK);
}

static long mod_refcnt(void)
{
	uint64_t v;

	return tr_read_u64_file(MOD_DIR "/refcnt", &v) ? -1 : (long)v;
}

/* Entries of /sys/module/timerring/holders (modules using it). */
static int mod_holders(void)
{
	DIR *d = opendir(MOD_DIR "/holders");
	struct dirent *e;
	int n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static int mod_delete(void)
{
	return syscall(SYS_delete_module, MOD_NAME, O_NONBLOCK) ? -errno : 0;
}

/* The gid of group @name in /etc/group, or -1. */
static gid_t group_gid(const char *name)
{
	char line[512];
	size_t n = strlen(name);
	FILE *f = fopen("/etc/group", "re");
	long gid = -1;

	if (!f)
		return (gid_t)-1;
	while (fgets(line, sizeof(line), f)) {
		char *p;

		if (strncmp(line, name, n) || line[n] != ':')
			continue;
		p = strchr(line + n + 1, ':');	/* past the password */
		if (p)
			gid = strtol(p + 1, NULL, 10);
		break;
	}
	fclose(f);
	return (gid_t)gid;
}

/*
 * Load the module as the guest does: insmod, wait for the device node,
 * group timerring, mode 0660. 0 or -errno.
 */
static int mod_load(void)
{
	int fd = open(ko_path(), O_RDONLY | O_CLOEXEC), i, ret;
	gid_t gid;

	if (fd < 0)
		return -errno;
	ret = syscall(SYS_finit_module, fd, "", 0) ? -errno : 0;
	close(fd);
	if (ret)
		return ret;
	for (i = 0; i < 50 && access(TIMERRING_DEV_PATH, F_OK); i++)
		sleep_ns(100 * NSEC_PER_MSEC);
	if (access(TIMERRING_DEV_PATH, F_OK))
		return -ENODEV;
	gid = group_gid("timerring");
	if (gid != (gid_t)-1 && chown(TIMERRING_DEV_PATH, -1, gid))
		return -errno;
	if (chmod(TIMERRING_DEV_PATH, 0660))
		return -errno;
	return 0;
}

/*
 * The first thing in @s that looks like a kernel pointer: 16 hex digits
 * starting with ffff (a raw address: the VM boots with no_hash_pointers)
 * or with eight zeros and a hex letter among the rest (a hashed %p), with
 * or without 0x. NULL if none.
 */
static const char *find_kptr(const char *s)
{
	const char *p = s;

	while (*p) {
		const char *q = p;
		size_t n;

		if ((p > s && isalnum((unsigned char)p[-1])) ||
		    !isxdigit((unsigned char)*p)) {
			p++;
			continue;
		}
		if (q[0] == '0' && q[1] == 'x')
			q += 2;
		for (n = 0; isxdigit((unsigned char)q[n]); n++)
			;
		if (n == 16 && !isalnum((unsigned char)q[n])) {
			bool letter = false;
			size_t i;

			for (i = 8; i < 16; i++)
				letter |= isalpha((unsigned char)q[i]);
			if (!strncasecmp(q, "ffff", 4) ||
			    (!strncmp(q, "00000000", 8) && letter))
				return p;
		}
		p = q + (n ? n : 1);
	}
	return NULL;
}

static int write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC), ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, s, strlen(s)) != (ssize_t)strlen(s))
		ret = -errno;
	close(fd);
	return ret;
}

/* Poll a ring that has no fd left until a CQE is ready; the CQEs ready. */
static unsigned int wait_ready(const struct timerring *tr, uint64_t timeout_ns)
{
	uint64_t end = now_ns(CLOCK_MONOTONIC) + timeout_ns;

	while (!timerring_cq_ready(tr) && now_ns(CLOCK_MONOTONIC) < end)
		sleep_ns(5 * NSEC_PER_MSEC);
	return timerring_cq_ready(tr);
}

FIXTURE(unload) {
	bool trace_inst;
};

FIXTURE_SETUP(unload)
{
	int fd;

	self->trace_inst = false;
	if (!mod_loaded())
		SKIP(return, "timerring is not loaded");
	if (access(ko_path(), R_OK))
		SKIP(return, "no %s to load it again", ko_path());
	if (mod_refcnt() != 0 || mod_holders())
		SKIP(return, "timerring is in use (refcnt %ld, %d holders)",
		     mod_refcnt(), mod_holders());
	fd = tr_open_dev();
	if (fd < 0)
		SKIP(return, "no " TIMERRING_DEV_PATH " (%d)", fd);
	close(fd);
}

FIXTURE_TEARDOWN(unload)
{
	if (self->trace_inst)
		rmdir(TR_INST);
	if (!mod_loaded()) {
		int ret = mod_load();

		if (ret)
			TH_LOG("could not load %s again: %s", ko_path(),
			       strerror(-ret));
	}
}

TEST_F_TIMEOUT(unload, mapping_pins_module, 60)
{
	struct timerring_params p;
	struct timerring tr;
	int ret;

	tr_default_params(&p);
	p.max_timers = 64;
	p.cq_entries = 64;
	ASSERT_EQ(0, timerring_open(&tr, &p));
	EXPECT_EQ(1, mod_refcnt());
	/* fires while only the mapping is left, after the refused rmmod */
	ASSERT_LE(0, tr_arm(&tr, 3, 300 * NSEC_PER_MSEC, 0, UD(3), 0));
	ASSERT_EQ(0, close(tr.fd));
	tr.fd = -1;
	EXPECT_EQ(1, mod_refcnt());

	ret = mod_delete();
	EXPECT_TRUE(ret == -EWOULDBLOCK || ret == -EBUSY)
		TH_LOG("rmmod with the ring mapped: %d (%s)", ret,
		       strerror(-ret));
	ASSERT_NE(0, ret);
	ASSERT_TRUE(mod_loaded());
	EXPECT_EQ(0, access(TIMERRING_DEV_PATH, F_OK));
	EXPECT_EQ(1, mod_refcnt());

	/* the instance is alive: its timer fires into the ring */
	ASSERT_EQ(1, wait_ready(&tr, WAIT_LONG_NS));
	EXPECT_EQ(3, tr.cq.cqes[0].res);
	EXPECT_EQ(UD(3), tr.cq.cqes[0].user_data);
	timerring_cq_advance(&tr, 1);

	/* the last reference goes with the mapping */
	ASSERT_EQ(0, munmap(tr.ring_ptr, tr.ring_sz));
	tr.ring_ptr = NULL;
	EXPECT_EQ(0, mod_refcnt());
	ASSERT_EQ(0, mod_delete());
	EXPECT_FALSE(mod_loaded());
	EXPECT_NE(0, access(TIMERRING_DEV_PATH, F_OK));

	/* and it comes back usable */
	ASSERT_EQ(0, mod_load());
	tr_default_params(&p);
	ASSERT_EQ(0, timerring_open(&tr, &p));
	EXPECT_EQ(0, tr_fires(&tr, 1));
	timerring_close(&tr);
	EXPECT_EQ(0, mod_refcnt());
}

/* Every line of @buf that has @what, and no kernel pointer in any line. */
static unsigned int check_lines(struct __test_metadata *_metadata,
				const char *buf, const char *what)
{
	const char *line = buf;
	unsigned int n = 0;

	while (line && *line) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		char one[1024];
		const char *k;

		snprintf(one, sizeof(one), "%.*s", (int)len, line);
		if (one[0] != '#') {
			if (strstr(one, what))
				n++;
			k = find_kptr(one);
			EXPECT_EQ(NULL, k) TH_LOG("kernel pointer in: %s", one);
		}
		line = nl ? nl + 1 : NULL;
	}
	return n;
}

TEST_F_TIMEOUT(unload, trace_after_rmmod, 60)
{
	static const char *const selftest[] = {
		"ffff888003a4b000", "0xffffffffc0a01234", "00000000deadbeef",
	};
	struct timerring_params p;
	struct timerring tr;
	struct dirent *e;
	unsigned int i, nfmt = 0;
	char *buf;
	DIR *d;

	/* the pointer check itself */
	for (i = 0; i < ARRAY_SIZE(selftest); i++)
		ASSERT_TRUE(find_kptr(selftest[i]) == selftest[i]);
	ASSERT_EQ(NULL, find_kptr("inst=3 id=1 tick=123456789012 user_data=0x600d0001"));

	if (access(TRACEFS "/instances", F_OK))
		SKIP(return, "no tracefs instances at " TRACEFS);
	if (mkdir(TR_INST, 0755) && errno != EEXIST)
		SKIP(return, "cannot make a tracefs instance: %s",
		     strerror(errno));
	self->trace_inst = true;
	if (access(TR_INST "/events/timerring/enable", F_OK))
		SKIP(return, "no timerring trace events");

	/* no event format prints a pointer */
	d = opendir(TR_INST "/events/timerring");
	ASSERT_NE(NULL, d);
	while ((e = readdir(d))) {
		char path[512];
		const char *fmt;

		if (strncmp(e->d_name, "timerring_", 10))
			continue;
		snprintf(path, sizeof(path), TR_INST "/events/timerring/%s/format",
			 e->d_name);
		buf = tr_read_all(path, NULL);
		ASSERT_NE(NULL, buf) TH_LOG("%s", path);
		fmt = strstr(buf, "print fmt:");
		ASSERT_NE(NULL, fmt) TH_LOG("%s", path);
		EXPECT_EQ(NULL, strstr(fmt, "%p")) TH_LOG("%s: %s", e->d_name, fmt);
		nfmt++;
		free(buf);
	}
	closedir(d);
	EXPECT_LE(5, nfmt);

	ASSERT_EQ(0, write_str(TR_INST "/trace", ""));
	ASSERT_EQ(0, write_str(TR_INST "/events/timerring/enable", "1"));
	ASSERT_EQ(0, write_str(TR_INST "/tracing_on", "1"));

	/* setup, submit, op, expire, wakeup, overflow, teardown */
	tr_default_params(&p);
	p.max_timers = 256;
	p.cq_entries = 64;
	ASSERT_EQ(0, timerring_open(&tr, &p));
	for (i = 0; i < 80; i++)
		ASSERT_LE(0, tr_arm(&tr, i, 0, 0, UD(i), 0));
	ASSERT_EQ(64, tr_collect(&tr, NULL, 64, WAIT_LONG_NS));
	ASSERT_EQ(16, tr_collect(&tr, NULL, 16, WAIT_LONG_NS));
	ASSERT_LE(0, tr_arm(&tr, 100, NSEC_PER_SEC, 0, UD(100), 0));
	ASSERT_LE(0, tr_modify(&tr, 100, 2 * NSEC_PER_SEC, 0, UD(101), 0));
	ASSERT_EQ(0, tr_cancel(&tr, 100));
	timerring_close(&tr);

	buf = tr_read_all(TR_INST "/trace", NULL);
	ASSERT_NE(NULL, buf);
	EXPECT_LE(80 + 3, check_lines(_metadata, buf, "timerring_op:"));
	EXPECT_LE(80, check_lines(_metadata, buf, "timerring_expire:"));
	EXPECT_LE(1, check_lines(_metadata, buf, "timerring_teardown:"));
	free(buf);

	/* unload with the records in the buffer and the events enabled */
	ASSERT_EQ(0, mod_refcnt());
	ASSERT_EQ(0, mod_delete());
	EXPECT_FALSE(mod_loaded());
	EXPECT_NE(0, access(TR_INST "/events/timerring", F_OK));
	for (i = 0; i < 2; i++) {
		size_t len;

		buf = tr_read_all(TR_INST "/trace", &len);
		ASSERT_NE(NULL, buf);
		check_lines(_metadata, buf, "timerring_");
		free(buf);
	}
	buf = tr_read_all(TRACEFS "/trace", NULL);
	ASSERT_NE(NULL, buf);
	check_lines(_metadata, buf, "timerring_");
	free(buf);

	ASSERT_EQ(0, mod_load());
	/* the events are back */
	EXPECT_EQ(0, access(TR_INST "/events/timerring/enable", F_OK));
	tr_default_params(&p);
	ASSERT_EQ(0, timerring_open(&tr, &p));
	EXPECT_EQ(0, tr_fires(&tr, 1));
	timerring_close(&tr);
}

TEST_HARNESS_MAIN
