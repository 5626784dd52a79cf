// SPDX-License-Identifier: GPL-2.0
/*
 * timerringctl: inspect the timerring module from the command line.
 *
 *	timerringctl [--json] status
 *	timerringctl [--json] hist
 *	timerringctl trace on [EVENT...] | off | clear | show [N] | pipe
 *	timerringctl [--json] top [-n COUNT] [-d SECONDS]
 *
 * Everything comes from /dev/timerring (TIMERRING_IOC_VERSION on a fresh
 * fd), debugfs (/sys/kernel/debug/timerring/), sysfs
 * (/sys/module/timerring/parameters/) and tracefs. See timerringctl(8).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include "timerring.h"

#define CTL_VERSION	"0.1.0"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

/* Paths below sysroot (TIMERRINGCTL_SYSROOT, for tests; default "/"). */
#define DEBUGFS_MNT	sysp("/sys/kernel/debug")
#define DEBUGFS_DIR	sysp("/sys/kernel/debug/timerring")
#define STATS_FILE	sysp("/sys/kernel/debug/timerring/stats")
#define SYSMOD_DIR	sysp("/sys/module/timerring")
#define PARAMS_DIR	sysp("/sys/module/timerring/parameters")

#define DEBUGFS_MAGIC_NR	0x64626720
#define TRACEFS_MAGIC_NR	0x74726163

/* Exit codes. */
#define EX_OK		0
#define EX_FAIL		1	/* the module or a file system is missing */
#define EX_USAGE	2

static bool opt_json;
static const char *prog = "timerringctl";
static const char *sysroot = "";

/* @path under the sysroot; the result lives until 8 more calls. */
static const char *sysp(const char *path)
{
	static char buf[8][256];
	static unsigned int n;
	char *b;

	if (!*sysroot)
		return path;
	b = buf[n++ % 8];
	snprintf(b, sizeof(buf[0]), "%s%s", sysroot, path);
	return b;
}

static void err(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* ------------------------------------------------------------------ */
/* Small file helpers */

/* Read a whole (small, pseudo) file; NULL and errno set on failure. */
static char *read_file(const char *path, size_t *lenp)
{
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap + 1), *nb;
	ssize_t n;
	int fd, e;

	if (!buf)
		return NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		goto fail;
	for (;;) {
		if (len == cap) {
			cap *= 2;
			nb = realloc(buf, cap + 1);
			if (!nb) {
				errno = ENOMEM;
				close(fd);
				goto fail;
			}
			buf = nb;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			e = errno;
			close(fd);
			errno = e;
			goto fail;
		}
		if (!n)
			break;
		len += n;
	}
	close(fd);
	buf[len] = '\0';
	if (lenp)
		*lenp = len;
	return buf;
fail:
	e = errno;
	free(buf);
	errno = e;
	return NULL;
}

static int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	size_t len = strlen(s);
	ssize_t n;
	int e;

	if (fd < 0)
		return -errno;
	n = write(fd, s, len);
	e = errno;
	close(fd);
	if (n < 0)
		return -e;
	return (size_t)n == len ? 0 : -EIO;
}

static bool fs_is(const char *path, long magic)
{
	struct statfs sfs;

	return !statfs(path, &sfs) && (long)sfs.f_type == magic;
}

static bool path_exists(const char *path)
{
	struct stat st;

	return !stat(path, &st);
}

static void strip_nl(char *s)
{
	size_t n = strlen(s);

	while (n && (s[n - 1] == '\n' || s[n - 1] == ' '))
		s[--n] = '\0';
}

/* ------------------------------------------------------------------ */
/* JSON output */

static void json_str(const char *s)
{
	const unsigned char *p;

	putchar('"');
	for (p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"':
			fputs("\\\"", stdout);
			break;
		case '\\':
			fputs("\\\\", stdout);
			break;
		case '\n':
			fputs("\\n", stdout);
			break;
		case '\t':
			fputs("\\t", stdout);
			break;
		default:
			if (*p < 0x20)
				printf("\\u%04x", *p);
			else
				putchar(*p);
		}
	}
	putchar('"');
}

/* A value is printed bare if it is a plain unsigned number. */
static bool is_number(const char *s)
{
	if (!*s || (s[0] == '0' && s[1]))
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

static void json_val(const char *s)
{
	if (is_number(s))
		fputs(s, stdout);
	else
		json_str(s);
}

/* ------------------------------------------------------------------ */
/* The module: device and sysfs */

static const char *impl_name(unsigned int impl)
{
	switch (impl) {
	case TIMERRING_IMPL_SCALAR:
		return "scalar";
	case TIMERRING_IMPL_AVX2:
		return "avx2";
	case TIMERRING_IMPL_AVX512:
		return "avx512";
	default:
		return "unknown";
	}
}

static bool module_loaded(void)
{
	return path_exists(SYSMOD_DIR);
}

/* Explain why the device cannot be used; @e is a positive errno. */
static void explain_dev_error(int e)
{
	if (e == ENOENT || e == ENODEV || e == ENXIO) {
		if (module_loaded())
			err("%s: no such device, although the timerring module is loaded (is devtmpfs or udev running?)",
			    TIMERRING_DEV_PATH);
		else
			err("the timerring module is not loaded (no %s): load it with 'modprobe timerring' or 'insmod timerring.ko'",
			    TIMERRING_DEV_PATH);
	} else if (e == EACCES || e == EPERM) {
		err("%s: permission denied: run as root or get access to the device",
		    TIMERRING_DEV_PATH);
	} else {
		err("%s: %s", TIMERRING_DEV_PATH, strerror(e));
	}
}

/* ------------------------------------------------------------------ */
/* debugfs statistics */

#define MAX_STATS	64

struct gstats {
	unsigned int n;
	char key[MAX_STATS][32];
	char val[MAX_STATS][64];
	uint64_t hist[TIMERRING_LATENCY_BUCKETS];
	unsigned int nbuckets;
};

/*
 * Explain why a debugfs or tracefs file cannot be read; @e is a positive
 * errno, @mnt the mount point, @magic its file system magic.
 */
static void explain_fs_error(const char *path, int e, const char *mnt,
			     long magic, const char *fsname)
{
	if (e == EACCES || e == EPERM) {
		err("%s: permission denied: %s is readable by root only; run as root (e.g. sudo %s)",
		    path, fsname, prog);
	} else if (e == ENOENT && path_exists(mnt) && !fs_is(mnt, magic)) {
		err("%s is not mounted on %s: mount it with 'mount -t %s none %s'",
		    fsname, mnt, fsname, mnt);
	} else if (e == ENOENT && !path_exists(mnt)) {
		err("%s: %s is not available (no %s; kernel without it?)",
		    path, fsname, mnt);
	} else if (e == ENOENT && !module_loaded()) {
		err("%s: the timerring module is not loaded", path);
	} else {
		err("%s: %s", path, strerror(e));
	}
}

static int read_gstats(struct gstats *g)
{
	char *buf, *line, *save = NULL;

	memset(g, 0, sizeof(*g));
	buf = read_file(STATS_FILE, NULL);
	if (!buf) {
		explain_fs_error(STATS_FILE, errno, DEBUGFS_MNT,
				 DEBUGFS_MAGIC_NR, "debugfs");
		return -1;
	}
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *sp = strchr(line, ' ');

		if (!sp)
			continue;
		*sp++ = '\0';
		if (!strcmp(line, "lateness_us_log2")) {
			char *end;

			while (*sp && g->nbuckets < TIMERRING_LATENCY_BUCKETS) {
				g->hist[g->nbuckets++] = strtoull(sp, &end, 10);
				if (end == sp)
					break;
				sp = end;
			}
			continue;
		}
		if (g->n == MAX_STATS)
			continue;
		snprintf(g->key[g->n], sizeof(g->key[0]), "%s", line);
		snprintf(g->val[g->n], sizeof(g->val[0]), "%s", sp);
		g->n++;
	}
	free(buf);
	return 0;
}

static const char *gstat(const struct gstats *g, const char *key)
{
	unsigned int i;

	for (i = 0; i < g->n; i++)
		if (!strcmp(g->key[i], key))
			return g->val[i];
	return NULL;
}

static uint64_t gstat_u64(const struct gstats *g, const char *key)
{
	const char *v = gstat(g, key);

	return v ? strtoull(v, NULL, 10) : 0;
}

/* "1.5 MiB" style, into @buf. */
static const char *human_bytes(uint64_t b, char *buf, size_t len)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)b;
	unsigned int u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	if (!u)
		snprintf(buf, len, "%llu B", (unsigned long long)b);
	else
		snprintf(buf, len, "%.1f %s", v, unit[u]);
	return buf;
}

/* Lower bound of bucket @i as text: 1us, 2us, ..., 1ms (1024 us), ... */
static const char *bucket_label(unsigned int i, char *buf, size_t len)
{
	uint64_t us = 1ULL << i;

	if (us < 1024)
		snprintf(buf, len, "%lluus", (unsigned long long)us);
	else if (us < 1024 * 1024)
		snprintf(buf, len, "%llums", (unsigned long long)(us >> 10));
	else
		snprintf(buf, len, "%llus", (unsigned long long)(us >> 20));
	return buf;
}

/*
 * Bucket holding quantile @q (0..1) of @h, as its upper bound in us, or 0
 * if @h is empty.
 */
static uint64_t hist_quantile(const uint64_t *h, unsigned int n, double q)
{
	uint64_t total = 0, acc = 0;
	unsigned int i;

	for (i = 0; i < n; i++)
		total += h[i];
	if (!total)
		return 0;
	for (i = 0; i < n; i++) {
		acc += h[i];
		if ((double)acc >= q * (double)total)
			return 1ULL << (i + 1);
	}
	return 1ULL << n;
}

/* ------------------------------------------------------------------ */
/* status */

/* Print every regular file of @dir (except @skip) as name: contents. */
static void print_dir_files(const char *dir, const char *skip, bool json,
			    const char *indent)
{
	struct dirent **ents;
	bool first = true;
	int n, i;

	n = scandir(dir, &ents, NULL, alphasort);
	if (n < 0) {
		if (json)
			fputs("null", stdout);
		return;
	}
	if (json)
		putchar('{');
	for (i = 0; i < n; i++) {
		char path[512];
		struct stat st;
		char *buf;

		if (ents[i]->d_name[0] == '.' ||
		    (skip && !strcmp(ents[i]->d_name, skip)))
			goto next;
		snprintf(path, sizeof(path), "%s/%s", dir, ents[i]->d_name);
		if (stat(path, &st) || !S_ISREG(st.st_mode) ||
		    !(st.st_mode & 0444))
			goto next;
		buf = read_file(path, NULL);
		if (json) {
			printf("%s", first ? "" : ",");
			json_str(ents[i]->d_name);
			putchar(':');
			if (buf) {
				strip_nl(buf);
				json_val(buf);
			} else {
				fputs("null", stdout);
			}
		} else if (!buf) {
			printf("%s%s: (%s)\n", indent, ents[i]->d_name,
			       strerror(errno));
		} else if (!strchr((strip_nl(buf), buf), '\n')) {
			printf("%s%-22s %s\n", indent, ents[i]->d_name, buf);
		} else {
			char *line, *save = NULL;

			printf("%s%s:\n", indent, ents[i]->d_name);
			for (line = strtok_r(buf, "\n", &save); line;
			     line = strtok_r(NULL, "\n", &save))
				printf("%s    %s\n", indent, line);
		}
		first = false;
		free(buf);
next:
		free(ents[i]);
	}
	free(ents);
	if (json)
		putchar('}');
}

static int cmd_status(void)
{
	struct timerring_version v;
	struct gstats g;
	bool have_stats = false;
	int fd, ret, rc = EX_OK;
	unsigned int i;

	fd = open(TIMERRING_DEV_PATH, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		explain_dev_error(errno);
		if (opt_json)
			printf("{\"loaded\":%s,\"error\":\"%s\"}\n",
			       module_loaded() ? "true" : "false",
			       strerror(errno));
		return EX_FAIL;
	}
	memset(&v, 0, sizeof(v));
	ret = timerring_version(fd, &v);
	close(fd);
	if (ret < 0) {
		err("TIMERRING_IOC_VERSION: %s", strerror(-ret));
		return EX_FAIL;
	}
	v.module_version[sizeof(v.module_version) - 1] = '\0';

	/* debugfs is optional for status: say why it is missing, go on. */
	if (!read_gstats(&g))
		have_stats = true;

	if (opt_json) {
		printf("{\"loaded\":true,\"module_version\":");
		json_str(v.module_version);
		printf(",\"api_version\":%u,\"impl\":\"%s\",\"max_timers\":%u,\"max_cq_entries\":%u",
		       v.api_version, impl_name(v.impl), v.max_timers,
		       v.max_cq_entries);
		printf(",\"parameters\":");
		print_dir_files(PARAMS_DIR, NULL, true, "");
		printf(",\"stats\":");
		if (have_stats) {
			putchar('{');
			for (i = 0; i < g.n; i++) {
				printf("%s", i ? "," : "");
				json_str(g.key[i]);
				putchar(':');
				json_val(g.val[i]);
			}
			printf("%s\"lateness_us_log2\":[", g.n ? "," : "");
			for (i = 0; i < g.nbuckets; i++)
				printf("%s%llu", i ? "," : "",
				       (unsigned long long)g.hist[i]);
			printf("]}");
		} else {
			fputs("null", stdout);
		}
		printf(",\"debugfs\":");
		print_dir_files(DEBUGFS_DIR, "stats", true, "");
		printf("}\n");
		return rc;
	}

	printf("timerring module %s (API %u)\n", v.module_version,
	       v.api_version);
	printf("  batch implementation  %s\n", impl_name(v.impl));
	printf("  max timers/instance   %u\n", v.max_timers);
	printf("  max CQ entries        %u\n", v.max_cq_entries);
	if (path_exists(PARAMS_DIR)) {
		printf("\nmodule parameters (%s):\n", PARAMS_DIR);
		print_dir_files(PARAMS_DIR, NULL, false, "  ");
	}
	if (have_stats) {
		char hb[32];

		printf("\nglobal statistics (%s):\n", STATS_FILE);
		for (i = 0; i < g.n; i++) {
			if (!strcmp(g.key[i], "mem_bytes"))
				printf("  %-22s %s (%s)\n", g.key[i], g.val[i],
				       human_bytes(strtoull(g.val[i], NULL, 10),
						   hb, sizeof(hb)));
			else
				printf("  %-22s %s\n", g.key[i], g.val[i]);
		}
		printf("  %-22s p50 <%lluus p99 <%lluus (see 'timerringctl hist')\n",
		       "lateness",
		       (unsigned long long)hist_quantile(g.hist, g.nbuckets, 0.5),
		       (unsigned long long)hist_quantile(g.hist, g.nbuckets, 0.99));
		printf("\nother debugfs files (%s):\n", DEBUGFS_DIR);
		print_dir_files(DEBUGFS_DIR, "stats", false, "  ");
	}
	return rc;
}

/* ------------------------------------------------------------------ */
/* hist */

#define BAR_WIDTH	50

static int cmd_hist(void)
{
	uint64_t total = 0, max = 0, acc = 0;
	unsigned int i, lo = 0, hi = 0;
	struct gstats g;
	char lb[16], hb[16];

	if (read_gstats(&g))
		return EX_FAIL;
	if (!g.nbuckets) {
		err("%s has no lateness_us_log2 line", STATS_FILE);
		return EX_FAIL;
	}
	for (i = 0; i < g.nbuckets; i++) {
		total += g.hist[i];
		if (g.hist[i] > max)
			max = g.hist[i];
	}
	if (opt_json) {
		printf("{\"unit\":\"us\",\"total\":%llu,\"buckets\":[",
		       (unsigned long long)total);
		for (i = 0; i < g.nbuckets; i++)
			printf("%s{\"lo_us\":%llu,\"hi_us\":%llu,\"count\":%llu}",
			       i ? "," : "", 1ULL << i, 1ULL << (i + 1),
			       (unsigned long long)g.hist[i]);
		printf("]}\n");
		return EX_OK;
	}

	printf("expiration lateness, all instances (%llu expirations)\n",
	       (unsigned long long)total);
	if (!total) {
		printf("  (no expirations yet)\n");
		return EX_OK;
	}
	/* Show the range of non-empty buckets. */
	for (i = 0; i < g.nbuckets; i++) {
		if (g.hist[i]) {
			if (!hi)
				lo = i;
			hi = i + 1;
		}
	}
	printf("  %-16s %12s %6s %6s\n", "late by", "count", "%", "cum%");
	for (i = lo; i < hi; i++) {
		unsigned int w = (unsigned int)((g.hist[i] * BAR_WIDTH + max - 1) / max);
		char range[40];

		acc += g.hist[i];
		bucket_label(i, lb, sizeof(lb));
		bucket_label(i + 1, hb, sizeof(hb));
		/* Bucket 0 also holds what was less than 1 us late. */
		if (i)
			snprintf(range, sizeof(range), "%s..%s", lb, hb);
		else
			snprintf(range, sizeof(range), "<%s", hb);
		printf("  %-16s %12llu %6.2f %6.2f |", range,
		       (unsigned long long)g.hist[i],
		       100.0 * (double)g.hist[i] / (double)total,
		       100.0 * (double)acc / (double)total);
		while (w--)
			putchar('#');
		putchar('\n');
	}
	return EX_OK;
}

/* ------------------------------------------------------------------ */
/* trace */

static const char *const trace_dirs[] = {
	"/sys/kernel/tracing",
	"/sys/kernel/debug/tracing",
};

/* Find the tracefs directory holding the timerring events. */
static const char *trace_dir(void)
{
	static char path[256], found[256];
	int first_err = 0;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(trace_dirs); i++) {
		snprintf(path, sizeof(path), "%s/events/timerring/enable",
			 sysp(trace_dirs[i]));
		if (!access(path, F_OK)) {
			snprintf(found, sizeof(found), "%s",
				 sysp(trace_dirs[i]));
			return found;
		}
		if (!first_err && errno != ENOENT)
			first_err = errno;
	}
	if (first_err == EACCES || first_err == EPERM) {
		err("%s: permission denied: tracefs is root only; run as root",
		    sysp(trace_dirs[0]));
		return NULL;
	}
	for (i = 0; i < ARRAY_SIZE(trace_dirs); i++) {
		snprintf(path, sizeof(path), "%s/trace", sysp(trace_dirs[i]));
		if (!access(path, F_OK))
			break;
	}
	if (i == ARRAY_SIZE(trace_dirs)) {
		if (!geteuid() || !path_exists(DEBUGFS_MNT))
			err("tracefs is not mounted: mount it with 'mount -t tracefs none /sys/kernel/tracing' (needs CONFIG_EVENT_TRACING)");
		else
			err("tracefs not found: run as root, and mount it with 'mount -t tracefs none /sys/kernel/tracing' if needed");
	} else if (!module_loaded()) {
		err("no timerring trace events: the timerring module is not loaded");
	} else {
		err("no timerring trace events under %s/events (module built without tracepoints?)",
		    sysp(trace_dirs[i]));
	}
	return NULL;
}

static int trace_write(const char *dir, const char *rel, const char *val)
{
	char path[256];
	int ret;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	ret = write_file(path, val);
	if (ret < 0) {
		if (ret == -EACCES || ret == -EPERM)
			err("%s: permission denied: run as root", path);
		else
			err("%s: %s", path, strerror(-ret));
	}
	return ret;
}

static int trace_on_off(const char *dir, bool on, int argc, char **argv)
{
	char rel[128];
	int i;

	if (!on || !argc) {
		if (trace_write(dir, "events/timerring/enable", on ? "1" : "0"))
			return EX_FAIL;
	} else {
		for (i = 0; i < argc; i++) {
			const char *ev = argv[i];

			if (strncmp(ev, "timerring_", 10))
				snprintf(rel, sizeof(rel),
					 "events/timerring/timerring_%s/enable",
					 ev);
			else
				snprintf(rel, sizeof(rel),
					 "events/timerring/%s/enable", ev);
			if (trace_write(dir, rel, "1"))
				return EX_FAIL;
		}
	}
	if (on && trace_write(dir, "tracing_on", "1"))
		return EX_FAIL;
	printf("timerring events %s (%s/events/timerring)\n",
	       on ? "enabled" : "disabled", dir);
	if (on)
		printf("read them with: %s trace show, or %s trace pipe\n",
		       prog, prog);
	return EX_OK;
}

static int trace_show(const char *dir, long nlines)
{
	char path[256], *buf, *line, *save = NULL, **ring;
	long n = 0, i, start;

	snprintf(path, sizeof(path), "%s/trace", dir);
	buf = read_file(path, NULL);
	if (!buf) {
		explain_fs_error(path, errno, sysp(trace_dirs[0]), TRACEFS_MAGIC_NR,
				 "tracefs");
		return EX_FAIL;
	}
	ring = calloc(nlines, sizeof(*ring));
	if (!ring) {
		free(buf);
		return EX_FAIL;
	}
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (!strstr(line, " timerring_"))
			continue;
		ring[n % nlines] = line;
		n++;
	}
	if (!n)
		printf("(no timerring records in %s; enable them with '%s trace on')\n",
		       path, prog);
	start = n > nlines ? n - nlines : 0;
	for (i = start; i < n; i++)
		printf("%s\n", ring[i % nlines]);
	free(ring);
	free(buf);
	return EX_OK;
}

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* Stream timerring records from trace_pipe until interrupted. */
static int trace_pipe(const char *dir)
{
	char path[256], line[4096];
	struct sigaction sa;
	FILE *f;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	snprintf(path, sizeof(path), "%s/trace_pipe", dir);
	f = fopen(path, "re");
	if (!f) {
		explain_fs_error(path, errno, sysp(trace_dirs[0]), TRACEFS_MAGIC_NR,
				 "tracefs");
		return EX_FAIL;
	}
	while (!stop && fgets(line, sizeof(line), f)) {
		if (strstr(line, " timerring_")) {
			fputs(line, stdout);
			fflush(stdout);
		}
	}
	fclose(f);
	return EX_OK;
}

static int cmd_trace(int argc, char **argv)
{
	const char *dir, *sub;
	long n = 50;

	if (argc < 1) {
		err("trace: expected on, off, clear, show or pipe");
		return EX_USAGE;
	}
	sub = argv[0];
	if (strcmp(sub, "on") && strcmp(sub, "off") && strcmp(sub, "show") &&
	    strcmp(sub, "clear") && strcmp(sub, "pipe")) {
		err("trace: unknown subcommand '%s' (on, off, clear, show, pipe)",
		    sub);
		return EX_USAGE;
	}
	if (!strcmp(sub, "show") && argc > 1) {
		char *end;

		n = strtol(argv[1], &end, 10);
		if (*end || n <= 0) {
			err("trace show: N must be a positive number");
			return EX_USAGE;
		}
	}
	dir = trace_dir();
	if (!dir)
		return EX_FAIL;
	if (!strcmp(sub, "on"))
		return trace_on_off(dir, true, argc - 1, argv + 1);
	if (!strcmp(sub, "off"))
		return trace_on_off(dir, false, 0, NULL);
	if (!strcmp(sub, "clear"))
		return trace_write(dir, "trace", "") ? EX_FAIL : EX_OK;
	if (!strcmp(sub, "pipe"))
		return trace_pipe(dir);
	return trace_show(dir, n);
}

/* ------------------------------------------------------------------ */
/* top */

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double rate(const struct gstats *a, const struct gstats *b,
		   const char *key, double dt)
{
	uint64_t x = gstat_u64(a, key), y = gstat_u64(b, key);

	return y >= x && dt > 0 ? (double)(y - x) / dt : 0;
}

static const char *const top_rates[] = {
	"armed_total", "modified_total", "cancelled_total", "expired_total",
	"overflowed_total", "batches", "ops_failed", "cascades", "wakeups",
};

static const char *const top_rate_names[] = {
	"arms/s", "modifies/s", "cancels/s", "expirations/s",
	"overflows/s", "batches/s", "failed ops/s", "cascades/s", "wakeups/s",
};

#define N_RATES	ARRAY_SIZE(top_rates)

/*
 * The submission ring's counters (TIMERRING_SETUP_SQ): shown when the
 * stats file has them, as null in JSON when it does not.
 */
static const char *const top_sq_rates[] = {
	"sq_ops_total", "sq_failed_total", "sq_enter_total", "sq_pass_total",
};

static const char *const top_sq_rate_names[] = {
	"sq ops/s", "sq failed/s", "sq doorbells/s", "sq passes/s",
};

#define N_SQ_RATES	ARRAY_SIZE(top_sq_rates)

static void top_print(const struct gstats *a, const struct gstats *b,
		      double dt, unsigned long iter)
{
	uint64_t dh[TIMERRING_LATENCY_BUCKETS];
	char hb[32];
	unsigned int i;
	time_t now = time(NULL);
	struct tm tm;

	for (i = 0; i < TIMERRING_LATENCY_BUCKETS; i++)
		dh[i] = b->hist[i] >= a->hist[i] ? b->hist[i] - a->hist[i] : 0;
	localtime_r(&now, &tm);

	if (opt_json) {
		printf("{\"time\":%lld,\"iteration\":%lu,\"interval_s\":%.3f",
		       (long long)now, iter, dt);
		for (i = 0; i < N_RATES; i++)
			printf(",\"%s_per_s\":%.1f", top_rates[i],
			       rate(a, b, top_rates[i], dt));
		for (i = 0; i < N_SQ_RATES; i++) {
			if (gstat(b, top_sq_rates[i]))
				printf(",\"%s_per_s\":%.1f", top_sq_rates[i],
				       rate(a, b, top_sq_rates[i], dt));
			else
				printf(",\"%s_per_s\":null", top_sq_rates[i]);
		}
		printf(",\"armed_now\":%llu,\"overflow_now\":%llu,\"mem_bytes\":%llu,\"instances_open\":%llu",
		       (unsigned long long)gstat_u64(b, "armed_now"),
		       (unsigned long long)gstat_u64(b, "overflow_now"),
		       (unsigned long long)gstat_u64(b, "mem_bytes"),
		       (unsigned long long)gstat_u64(b, "instances_open"));
		printf(",\"lateness_p50_us\":%llu,\"lateness_p99_us\":%llu,\"impl\":",
		       (unsigned long long)hist_quantile(dh, b->nbuckets, 0.5),
		       (unsigned long long)hist_quantile(dh, b->nbuckets, 0.99));
		json_str(gstat(b, "impl") ?: "unknown");
		printf(",\"drain_impl\":");
		json_str(gstat(b, "drain_impl") ?: "unknown");
		printf("}\n");
		fflush(stdout);
		return;
	}

	if (isatty(STDOUT_FILENO))
		fputs("\033[H\033[2J", stdout);
	printf("timerringctl top - %02d:%02d:%02d  refresh %lu, every %.1fs  (Ctrl-C quits)\n\n",
	       tm.tm_hour, tm.tm_min, tm.tm_sec, iter, dt);
	printf("  instances open  %-12llu impl        %s, drain %s\n",
	       (unsigned long long)gstat_u64(b, "instances_open"),
	       gstat(b, "impl") ?: "?", gstat(b, "drain_impl") ?: "?");
	printf("  armed now       %-12llu overflow    %llu\n",
	       (unsigned long long)gstat_u64(b, "armed_now"),
	       (unsigned long long)gstat_u64(b, "overflow_now"));
	printf("  memory          %s\n\n",
	       human_bytes(gstat_u64(b, "mem_bytes"), hb, sizeof(hb)));
	printf("  %-16s %14s %16s\n", "", "per second", "total");
	for (i = 0; i < N_RATES; i++)
		printf("  %-16s %14.1f %16llu\n", top_rate_names[i],
		       rate(a, b, top_rates[i], dt),
		       (unsigned long long)gstat_u64(b, top_rates[i]));
	for (i = 0; i < N_SQ_RATES; i++)
		if (gstat(b, top_sq_rates[i]))
			printf("  %-16s %14.1f %16llu\n", top_sq_rate_names[i],
			       rate(a, b, top_sq_rates[i], dt),
			       (unsigned long long)gstat_u64(b, top_sq_rates[i]));
	if (hist_quantile(dh, b->nbuckets, 0.5))
		printf("\n  lateness in this interval: p50 <%lluus  p99 <%lluus\n",
		       (unsigned long long)hist_quantile(dh, b->nbuckets, 0.5),
		       (unsigned long long)hist_quantile(dh, b->nbuckets, 0.99));
	else
		printf("\n  lateness in this interval: (no expirations)\n");
	fflush(stdout);
}

static int cmd_top(int argc, char **argv)
{
	struct gstats a, b;
	unsigned long count = 0, iter = 0;
	double interval = 1.0, t0, t1;
	struct sigaction sa;
	int c;

	optind = 0;	/* glibc and musl: restart the scan */
	while ((c = getopt(argc, argv, "+n:d:")) != -1) {
		char *end;

		switch (c) {
		case 'n':
			count = strtoul(optarg, &end, 10);
			if (*end || !count) {
				err("top: -n needs a positive count");
				return EX_USAGE;
			}
			break;
		case 'd':
			interval = strtod(optarg, &end);
			if (*end || interval < 0.1 || interval > 3600) {
				err("top: -d needs seconds in [0.1, 3600]");
				return EX_USAGE;
			}
			break;
		default:
			return EX_USAGE;
		}
	}
	if (optind < argc) {
		err("top: unexpected argument '%s'", argv[optind]);
		return EX_USAGE;
	}
	if (read_gstats(&a))
		return EX_FAIL;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	t0 = mono_s();
	while (!stop) {
		struct timespec ts = {
			.tv_sec = (time_t)interval,
			.tv_nsec = (long)((interval - (time_t)interval) * 1e9),
		};

		if (nanosleep(&ts, NULL) && stop)
			break;
		if (read_gstats(&b))
			return EX_FAIL;
		t1 = mono_s();
		top_print(&a, &b, t1 - t0, ++iter);
		if (count && iter >= count)
			break;
		a = b;
		t0 = t1;
	}
	return EX_OK;
}

/* ------------------------------------------------------------------ */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: %s [--json] COMMAND [ARGS]\n"
		"\n"
		"Inspect the timerring kernel module (/dev/timerring).\n"
		"\n"
		"commands:\n"
		"  status               module version, API, batch implementation,\n"
		"                       module parameters, global statistics and the\n"
		"                       other debugfs files of the module\n"
		"  hist                 expiration lateness histogram (log2 us buckets)\n"
		"  top [-n COUNT] [-d SECONDS]\n"
		"                       live rates of arms, cancels, expirations and\n"
		"                       submission ring ops, refreshed every SECONDS\n"
		"                       (default 1), COUNT times (default: until\n"
		"                       Ctrl-C)\n"
		"  trace on [EVENT...]  enable the timerring trace events (all, or the\n"
		"                       EVENTs named: setup teardown submit op expire\n"
		"                       cascade overflow wakeup sq impl_select)\n"
		"  trace off            disable them\n"
		"  trace show [N]       print the last N (default 50) timerring records\n"
		"  trace pipe           stream records as they come (Ctrl-C stops)\n"
		"  trace clear          empty the trace buffer\n"
		"\n"
		"options:\n"
		"  -j, --json           machine-readable output for status, hist and top\n"
		"                       (one JSON object per line)\n"
		"  -h, --help           this help\n"
		"  -V, --version        print the version of %s\n"
		"\n"
		"status and hist read debugfs, trace needs tracefs: both need root.\n"
		"Exit status: 0 ok, 1 failure (module not loaded, no permission,\n"
		"file system not mounted), 2 usage error. See timerringctl(8).\n",
		prog, prog);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd;
	int c, i, j;

	if (getenv("TIMERRINGCTL_SYSROOT"))
		sysroot = getenv("TIMERRINGCTL_SYSROOT");
	/* --json may come anywhere: pull the global options out first. */
	for (i = 1, j = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json") || !strcmp(argv[i], "-j"))
			opt_json = true;
		else
			argv[j++] = argv[i];
	}
	argc = j;
	argv[argc] = NULL;

	while ((c = getopt_long(argc, argv, "+hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'h':
			usage(stdout);
			return EX_OK;
		case 'V':
			printf("%s %s (timerring API %d)\n", prog, CTL_VERSION,
			       TIMERRING_API_VERSION);
			return EX_OK;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EX_USAGE;
	}
	cmd = argv[optind];
	argc -= optind;
	argv += optind;
	if (!strcmp(cmd, "status"))
		return argc == 1 ? cmd_status() : (usage(stderr), EX_USAGE);
	if (!strcmp(cmd, "hist"))
		return argc == 1 ? cmd_hist() : (usage(stderr), EX_USAGE);
	if (!strcmp(cmd, "top"))
		return cmd_top(argc, argv);
	if (!strcmp(cmd, "trace")) {
		if (opt_json) {
			err("trace: --json is not supported");
			return EX_USAGE;
		}
		return cmd_trace(argc - 1, argv + 1);
	}
	if (!strcmp(cmd, "help")) {
		usage(stdout);
		return EX_OK;
	}
	err("unknown command '%s' (try --help)", cmd);
	return EX_USAGE;
}
