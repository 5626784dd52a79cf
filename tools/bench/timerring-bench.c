// SPDX-License-Identifier: GPL-2.0
/*
 * timerring-bench: the same timer workloads through /dev/timerring,
 * io_uring timeouts (liburing) and timerfd + epoll, in one run, so that
 * the ratios between the three hold on a noisy machine (or under QEMU TCG,
 * where absolute times mean little).
 *
 * Workloads (see tools/bench/README.md for the exact definitions):
 *   arm, modify, cancel	ns/op with --live timers, per batch size
 *   herd			--live timers due at the same instant
 *   spread			--live timers spread over --spread-s seconds
 *   conn			idle + retransmit timer per connection
 *   memory			bytes per armed timer
 *
 * Results: one JSON document (--json FILE, or stdout between the lines
 * "##### BENCH-JSON-BEGIN" / "##### BENCH-JSON-END"), progress on stderr.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/klog.h>
#include <sys/resource.h>
#include <sys/timerfd.h>
#include <sys/utsname.h>

#include <liburing.h>
#include "timerring.h"

#define NSEC	1000000000LL
#define SYS_TR	0
#define SYS_UR	1
#define SYS_TFD	2
#define NSYS	3
static const char *const sys_name[NSYS] = { "timerring", "io_uring", "timerfd" };

/* Expiries of arm/modify: far away, so nothing fires while measuring. */
#define FAR_MIN_NS	(600 * NSEC)
#define FAR_SPAN_NS	(600 * NSEC)
#define CONN_IDLE_NS	(120 * NSEC)
#define CONN_RTX_NS	(60 * NSEC)

static struct {
	unsigned int live;		/* live timers per workload */
	unsigned int tfd_max;		/* cap for timerfd (0: RLIMIT_NOFILE) */
	unsigned int batches[8];
	unsigned int nbatches;
	unsigned int conn_batch;
	unsigned int sample;		/* io_uring modify/cancel sample */
	unsigned int conn_sample;	/* io_uring conn events per batch */
	double spread_s;
	double conn_s;
	double conn_rate;		/* events/s, 0 = as fast as possible */
	unsigned int cq_entries;
	unsigned int systems;		/* bit mask */
	const char *workloads;		/* comma list or "all" */
	const char *json;
	const char *label;
	unsigned int seed;
	bool summary;			/* print the side-by-side table */
	bool quick;			/* no waiting for memory to settle */
} cfg = {
	.live = 1 << 20,
	.batches = { 256, 1024, 4096, 8192 },
	.nbatches = 4,
	.conn_batch = 1024,
	.sample = 32,
	.conn_sample = 16,
	.spread_s = 10,
	.conn_s = 2,
	.cq_entries = 65536,
	.systems = 7,
	.workloads = "all",
	.seed = 12345,
};

/* ---------------------------------------------------------------- utils */

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * NSEC + ts.tv_nsec;
}

static int64_t cpu_ns(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * NSEC +
	       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000LL;
}

/* Busy time of all CPUs from /proc/stat (everything but idle, iowait). */
static int64_t sys_busy_ns(void)
{
	unsigned long long v[10] = { 0 };
	FILE *f = fopen("/proc/stat", "r");
	long hz = sysconf(_SC_CLK_TCK);
	int64_t busy;

	if (!f)
		return 0;
	if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0],
		   &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) < 8) {
		fclose(f);
		return 0;
	}
	fclose(f);
	busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
	return busy * (NSEC / hz);
}

static void sleep_until(int64_t t)
{
	struct timespec ts = { t / NSEC, t % NSEC };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

static void msleep(unsigned int ms)
{
	sleep_until(now_ns() + ms * 1000000LL);
}

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "timerring-bench: ");
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void *xcalloc(size_t n, size_t sz)
{
	void *p = calloc(n, sz);

	if (!p)
		die("out of memory (%zu x %zu)", n, sz);
	memset(p, 0, n * sz);	/* touch: user memory outside the deltas */
	return p;
}

static uint64_t rng_state;
static uint64_t rnd(void)
{
	/* xorshift64* */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ULL;
}

static void log_msg(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "# [%8.3f] ", now_ns() / 1e9);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static bool want(const char *w)
{
	const char *p = cfg.workloads;
	size_t n = strlen(w);

	if (!strcmp(p, "all"))
		return true;
	while (*p) {
		if (!strncmp(p, w, n) && (p[n] == ',' || !p[n]))
			return true;
		p = strchr(p, ',');
		if (!p)
			break;
		p++;
	}
	return false;
}

static void rec_num(const char *k, double v);

/*
 * Kernel complaints so far (soft lockups, RCU stalls, hung tasks) in the
 * kernel log, to attribute them to the phase that caused them. -1 if the
 * log cannot be read (not root).
 */
static int kcomplaints(void)
{
	static const char *const pat[] = { "soft lockup", "detected stalls",
					   "blocked for more than",
					   "hard LOCKUP" };
	int len = klogctl(10, NULL, 0), n, count = 0;	/* SIZE_BUFFER */
	unsigned int i;
	char *buf, *p;

	if (len <= 0)
		return -1;
	buf = malloc(len + 1);
	if (!buf)
		return -1;
	n = klogctl(3, buf, len);	/* READ_ALL */
	if (n < 0) {
		free(buf);
		return -1;
	}
	buf[n] = 0;
	for (i = 0; i < sizeof(pat) / sizeof(pat[0]); i++)
		for (p = buf; (p = strstr(p, pat[i])); p++)
			count++;
	free(buf);
	return count;
}

static void rec_kc(int before)
{
	int now = kcomplaints();

	if (before >= 0 && now >= 0)
		rec_num("kernel_complaints", now - before);
}

/* ------------------------------------------------------------- memory */

struct memsnap {
	long long memfree, slab, sunreclaim, vmalloc, pagetables, percpu;
	int nslab;
	struct slabent { char name[64]; long long bytes; } *slabs;
};

static void slab_read(struct memsnap *m)
{
	char line[512];
	FILE *f = fopen("/proc/slabinfo", "r");
	int cap = 0;

	m->nslab = 0;
	m->slabs = NULL;
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char name[64];
		long long active, num, objsize;

		if (line[0] == '#' || !strncmp(line, "slabinfo", 8))
			continue;
		if (sscanf(line, "%63s %lld %lld %lld", name, &active, &num,
			   &objsize) != 4)
			continue;
		if (m->nslab == cap) {
			cap = cap ? cap * 2 : 256;
			m->slabs = realloc(m->slabs, cap * sizeof(*m->slabs));
			if (!m->slabs)
				die("out of memory");
		}
		snprintf(m->slabs[m->nslab].name, sizeof(m->slabs[0].name),
			 "%s", name);
		m->slabs[m->nslab].bytes = num * objsize;
		m->nslab++;
	}
	fclose(f);
}

/* Active objects of slab cache @name, -1 if unknown. */
static long long slab_active(const char *name)
{
	char line[512], n[64];
	long long active = -1, a;
	FILE *f = fopen("/proc/slabinfo", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%63s %lld", n, &a) == 2 && !strcmp(n, name)) {
			active = a;
			break;
		}
	fclose(f);
	return active;
}

static void mem_snap(struct memsnap *m)
{
	char line[256];
	FILE *f = fopen("/proc/meminfo", "r");

	memset(m, 0, sizeof(*m));
	if (f) {
		while (fgets(line, sizeof(line), f)) {
			long long v;
			char k[64];

			if (sscanf(line, "%63[^:]: %lld", k, &v) != 2)
				continue;
			v *= 1024;
			if (!strcmp(k, "MemFree"))
				m->memfree = v;
			else if (!strcmp(k, "Slab"))
				m->slab = v;
			else if (!strcmp(k, "SUnreclaim"))
				m->sunreclaim = v;
			else if (!strcmp(k, "VmallocUsed"))
				m->vmalloc = v;
			else if (!strcmp(k, "PageTables"))
				m->pagetables = v;
			else if (!strcmp(k, "Percpu"))
				m->percpu = v;
		}
		fclose(f);
	}
	slab_read(m);
}

static void mem_free(struct memsnap *m)
{
	free(m->slabs);
	m->slabs = NULL;
}

/* Wait until freed kernel memory (deferred frees, RCU) settles. */
static void mem_settle(void)
{
	struct memsnap m;
	long long last = -1;
	int stable = 0, i;

	for (i = 0; i < 150 && stable < 3 && !cfg.quick; i++) {
		mem_snap(&m);
		mem_free(&m);
		if (last >= 0 && llabs(m.memfree - last) < (1LL << 20))
			stable++;
		else
			stable = 0;
		last = m.memfree;
		msleep(200);
	}
}

/* ---------------------------------------------------------------- JSON */

static FILE *js;
static char *js_buf;
static size_t js_len;
static int js_nrec;
static int js_nfield;

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", *s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

/*
 * The side-by-side of --summary: per system, arm / re-arm / cancel ns per
 * op at the first batch size, expiry ns per timer of the herd, and bytes
 * per timer (the module's own count for timerring, slab growth for the
 * others), picked from the records as they are made.
 */
enum { SUM_ARM, SUM_MODIFY, SUM_CANCEL, SUM_EXPIRE, SUM_BYTES, NSUM };
static const struct {
	const char *wl, *key, *title;
} sum_col[NSUM] = {
	{ "arm", "ns_per_op", "arm ns" },
	{ "modify", "ns_per_op", "re-arm ns" },
	{ "cancel", "ns_per_op", "cancel ns" },
	{ "herd", "ns_per_timer", "expire ns" },
	{ "memory", "slab_bytes_per_timer", "bytes/timer" },
};
static double sum_val[NSYS][NSUM];
static int rec_sys;
static const char *rec_wl;
static unsigned int rec_batch;

static void sum_note(const char *k, double v)
{
	unsigned int c;

	for (c = 0; c < NSUM; c++) {
		if (strcmp(rec_wl, sum_col[c].wl))
			continue;
		/* timerring counts its own memory exactly */
		if (c == SUM_BYTES && !strcmp(k, "module_bytes_per_timer"))
			sum_val[rec_sys][c] = v;
		else if (!strcmp(k, sum_col[c].key) && !sum_val[rec_sys][c] &&
			 (c >= SUM_EXPIRE || rec_batch == cfg.batches[0] ||
			  rec_sys == SYS_TFD))
			sum_val[rec_sys][c] = v;
	}
}

static void sum_print(const bool *avail)
{
	unsigned int c;
	int k;

	printf("\n%u timers through timerring (batches of %u), io_uring "
	       "IORING_OP_TIMEOUT and timerfd:\n", cfg.live, cfg.batches[0]);
	printf("%-24s", "");
	for (c = 0; c < NSUM; c++)
		printf("%12s", sum_col[c].title);
	printf("\n");
	for (k = 0; k < NSYS; k++) {
		if (!avail[k])
			continue;
		printf("%-24s", sys_name[k]);
		for (c = 0; c < NSUM; c++)
			if (sum_val[k][c] > 0)
				printf("%12.0f", sum_val[k][c]);
			else
				printf("%12s", "-");
		printf("\n");
	}
	for (k = 1; k < NSYS; k++) {
		char title[32];

		if (!avail[k] || !avail[SYS_TR])
			continue;
		snprintf(title, sizeof(title), "%s / timerring", sys_name[k]);
		printf("%-24s", title);
		for (c = 0; c < NSUM; c++) {
			double a = sum_val[k][c], b = sum_val[SYS_TR][c];

			if (a > 0 && b > 0)
				printf("%11.1fx", a / b);
			else
				printf("%12s", "-");
		}
		printf("\n");
	}
	printf("The CPU is emulated (QEMU TCG): the absolute figures mean little, only the ratios count.\n");
}

static void rec_begin(int sys, const char *wl, unsigned int batch)
{
	rec_sys = sys;
	rec_wl = wl;
	rec_batch = batch;
	fprintf(js, "%s\n    {", js_nrec++ ? "," : "");
	js_nfield = 0;
	fprintf(js, "\"system\": \"%s\", \"workload\": \"%s\", \"batch\": %u",
		sys_name[sys], wl, batch);
	js_nfield = 3;
	fprintf(stderr, "#   %-9s %-14s b=%-5u", sys_name[sys], wl, batch);
}

static void rec_num(const char *k, double v)
{
	sum_note(k, v);
	fprintf(js, ", \"%s\": %.10g", k, v);
	fprintf(stderr, " %s=%.4g", k, v);
}

static void rec_str(const char *k, const char *v)
{
	fprintf(js, ", \"%s\": ", k);
	json_str(js, v);
	fprintf(stderr, " %s=%s", k, v);
}

static void rec_end(void)
{
	fputc('}', js);
	fputc('\n', stderr);
}

/* Memory record: deltas between two snapshots, per timer. */
static void rec_mem(int sys, unsigned int n, struct memsnap *a,
		    struct memsnap *b, double module_bytes)
{
	char top[512] = "";
	int i, j, k, used = 0;
	struct { int idx; long long d; } best[4] = { { -1, 0 } };

	for (i = 0; i < b->nslab; i++) {
		long long before = 0, d;

		for (j = 0; j < a->nslab; j++)
			if (!strcmp(a->slabs[j].name, b->slabs[i].name)) {
				before = a->slabs[j].bytes;
				break;
			}
		d = b->slabs[i].bytes - before;
		for (k = 0; k < 3; k++) {
			if (best[k].idx < 0 || d > best[k].d) {
				memmove(&best[k + 1], &best[k],
					(2 - k) * sizeof(best[0]));
				best[k].idx = i;
				best[k].d = d;
				break;
			}
		}
	}
	for (k = 0; k < 3; k++) {
		if (best[k].idx < 0 || best[k].d <= 0)
			continue;
		used += snprintf(top + used, sizeof(top) - used, "%s%s %.1f",
				 used ? ", " : "", b->slabs[best[k].idx].name,
				 (double)best[k].d / n);
	}
	rec_begin(sys, "memory", 0);
	rec_num("timers", n);
	rec_num("bytes_per_timer", (double)(a->memfree - b->memfree) / n);
	rec_num("slab_bytes_per_timer", (double)(b->slab - a->slab) / n);
	rec_num("vmalloc_bytes_per_timer", (double)(b->vmalloc - a->vmalloc) / n);
	rec_num("pagetable_bytes_per_timer",
		(double)(b->pagetables - a->pagetables) / n);
	if (module_bytes > 0)
		rec_num("module_bytes_per_timer", module_bytes / n);
	rec_str("slab_top", b->nslab ? top : "no /proc/slabinfo");
	rec_end();
}

/* --------------------------------------------------------- shared data */

static unsigned int N;		/* live timers of timerring and io_uring */
static unsigned int NT;		/* live timers of timerfd */
static int64_t *far_exp;	/* [N] relative expiry of arm */
static int64_t *far_exp2;	/* [N] relative expiry of modify */
static uint32_t *perm;		/* [N] random permutation of ids */
static int64_t *lat;		/* [N] lateness samples */
static uint32_t *conn_pick;	/* [events] random connections */
static unsigned int conn_npick;
static uint8_t *rtx_armed;	/* [N/2] */
static double arm_ns_est[NSYS];	/* last measured arm cost, for margins */

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* Lateness statistics of lat[0..n). */
static void rec_lat(unsigned int n)
{
	if (!n)
		return;
	qsort(lat, n, sizeof(lat[0]), cmp_i64);
	rec_num("late_p50_us", lat[n / 2] / 1e3);
	rec_num("late_p99_us", lat[(size_t)n * 99 / 100] / 1e3);
	rec_num("late_max_us", lat[n - 1] / 1e3);
}

/* When to schedule timers that must not fire before arming ends. */
static int64_t start_after_arming(int sys, unsigned int n)
{
	double est = arm_ns_est[sys] > 0 ? arm_ns_est[sys] : 20000;

	return now_ns() + (int64_t)(est * n * 2) + 500000000LL;
}

/* ----------------------------------------------------------- timerring */

struct trb {
	struct timerring tr;
	struct timerring_op *ops;
	__s32 *res;
	unsigned int bmax;
};

static int trb_open(struct trb *t, unsigned int max, unsigned int bmax)
{
	struct timerring_params p;
	int ret;

	memset(&p, 0, sizeof(p));
	p.max_timers = max;
	p.cq_entries = cfg.cq_entries;
	p.clockid = CLOCK_MONOTONIC;
	p.flags = TIMERRING_SETUP_CLAMP;
	p.numa_node = TIMERRING_NODE_CURRENT;
	ret = timerring_open(&t->tr, &p);
	if (ret < 0)
		return ret;
	if (p.max_timers < max) {
		timerring_close(&t->tr);
		return -E2BIG;
	}
	t->bmax = bmax;
	t->ops = xcalloc(bmax, sizeof(*t->ops));
	t->res = xcalloc(bmax, sizeof(*t->res));
	return 0;
}

static void trb_close(struct trb *t)
{
	timerring_close(&t->tr);
	free(t->ops);
	free(t->res);
}

static unsigned int trb_submit(struct trb *t, unsigned int n)
{
	unsigned int done = 0, failed = 0;
	int ret = timerring_submit(&t->tr, t->ops, n, t->res, 0, &done,
				   &failed);

	if (ret < 0)
		die("timerring submit: %s", strerror(-ret));
	if (done != n)
		die("timerring submit: %u of %u done", done, n);
	return failed;
}

/* Consume @want CQEs (or until @tmo_ns passes without one). */
static unsigned int trb_consume(struct trb *t, unsigned int want,
				int64_t *due, unsigned int *stale)
{
	unsigned int got = 0, head, seen;
	struct io_uring_cqe *cqe;

	while (got < want) {
		int ret = timerring_wait(&t->tr, 1, 30 * NSEC);
		int64_t now;

		if (ret == -ETIME)
			break;
		if (ret < 0 && ret != -EINTR)
			die("timerring wait: %s", strerror(-ret));
		now = due ? now_ns() : 0;
		seen = 0;
		timerring_for_each_cqe(&t->tr, head, cqe) {
			uint32_t id = timerring_cqe_id(cqe);

			if (due && got + seen < N && id < N)
				lat[got + seen] = now - due[id];
			if (stale && cqe->user_data != id + 1)
				(*stale)++;
			seen++;
		}
		timerring_cq_advance(&t->tr, seen);
		got += seen;
	}
	return got;
}

/* Ops over ids [lo, hi) in batches of b: 0 arm, 1 modify, 2 cancel. */
static unsigned int tr_range(struct trb *t, int kind, unsigned int lo,
			     unsigned int hi, unsigned int b)
{
	unsigned int i, j, n, failed = 0;

	for (i = lo; i < hi; i += n) {
		n = hi - i < b ? hi - i : b;
		for (j = 0; j < n; j++) {
			unsigned int k = i + j;

			if (kind == 0)
				timerring_op_arm(&t->ops[j], k, far_exp[k], 0,
						 k + 1, 0);
			else if (kind == 1)
				timerring_op_modify(&t->ops[j], perm[k],
						    far_exp2[k], 0,
						    perm[k] + 1, 0);
			else
				timerring_op_cancel(&t->ops[j], perm[k]);
		}
		failed += trb_submit(t, n);
	}
	return failed;
}

static void rec_op(int sys, const char *wl, unsigned int b, double ops,
		   double live, int64_t ns, double failed)
{
	rec_begin(sys, wl, b);
	rec_num("ops", ops);
	rec_num("live", live);
	rec_num("ns_per_op", ns / ops);
	rec_num("failed", failed);
	rec_end();
}

/* herd (with the memory measurement: the herd arms N timers anyway) */
static void tr_herd(unsigned int b)
{
	struct memsnap m0, m1;
	struct timerring_stats st;
	struct trb t;
	unsigned int i, j, n, failed = 0, got, stale = 0;
	int64_t due, t0, t1, c0, s0;
	int ret, kc;

	mem_settle();
	mem_snap(&m0);
	ret = trb_open(&t, N, b);
	if (ret < 0)
		die("timerring open: %s", strerror(-ret));
	due = start_after_arming(SYS_TR, N);
	for (i = 0; i < N; i += n) {
		n = N - i < b ? N - i : b;
		for (j = 0; j < n; j++)
			timerring_op_arm(&t.ops[j], i + j, due,
					 TIMERRING_OPF_ABS, i + j + 1, 0);
		failed += trb_submit(&t, n);
	}
	t0 = now_ns();
	mem_snap(&m1);
	memset(&st, 0, sizeof(st));
	timerring_stats(&t.tr, &st);
	rec_mem(SYS_TR, N, &m0, &m1, (double)st.mem_bytes);
	mem_free(&m0);
	mem_free(&m1);

	kc = kcomplaints();
	c0 = cpu_ns();
	s0 = sys_busy_ns();
	got = trb_consume(&t, N, NULL, &stale);
	t1 = now_ns();
	memset(&st, 0, sizeof(st));
	timerring_stats(&t.tr, &st);
	rec_begin(SYS_TR, "herd", b);
	rec_num("timers", N);
	rec_num("delivered", got);
	rec_num("lost", N - got);
	rec_num("failed", failed);
	rec_num("stale", stale);
	rec_num("armed_late", t0 > due);
	rec_num("ns_per_timer", (double)(t1 - due) / N);
	rec_num("cpu_ns_per_timer", (double)(cpu_ns() - c0) / N);
	rec_num("sys_cpu_ns_per_timer", (double)(sys_busy_ns() - s0) / N);
	rec_num("wall_ms", (t1 - due) / 1e6);
	rec_num("overflowed", st.overflowed_total);
	rec_num("dropped", st.dropped_total);
	rec_kc(kc);
	rec_end();
	trb_close(&t);
}

static void tr_spread(unsigned int b)
{
	struct trb t;
	unsigned int i, j, n, got;
	int64_t t0, span = (int64_t)(cfg.spread_s * NSEC), c0, s0, w0;
	int64_t *due = xcalloc(N, sizeof(*due));
	int ret;

	ret = trb_open(&t, N, b);
	if (ret < 0)
		die("timerring open: %s", strerror(-ret));
	t0 = start_after_arming(SYS_TR, N);
	for (i = 0; i < N; i++)
		due[i] = t0 + (int64_t)((double)span * i / N);
	for (i = 0; i < N; i += n) {
		n = N - i < b ? N - i : b;
		for (j = 0; j < n; j++)
			timerring_op_arm(&t.ops[j], i + j, due[i + j],
					 TIMERRING_OPF_ABS, i + j + 1, 0);
		trb_submit(&t, n);
	}
	w0 = now_ns();
	c0 = cpu_ns();
	s0 = sys_busy_ns();
	got = trb_consume(&t, N, due, NULL);
	rec_begin(SYS_TR, "spread", b);
	rec_num("timers", N);
	rec_num("spread_s", cfg.spread_s);
	rec_num("delivered", got);
	rec_num("armed_late", w0 > t0);
	rec_num("cpu_ns_per_exp", (double)(cpu_ns() - c0) / N);
	rec_num("sys_cpu_ns_per_exp", (double)(sys_busy_ns() - s0) / N);
	rec_num("resolution_us", t.tr.params.resolution_ns / 1e3);
	rec_lat(got);
	rec_end();
	trb_close(&t);
	free(due);
}

static void tr_conn(unsigned int b)
{
	struct trb t;
	unsigned int c, C = N / 2, i, n, ev = 0, per = b / 2, failed = 0;
	int64_t t0, t1, c0, s0, end;

	if (trb_open(&t, N, b) < 0)
		die("timerring open failed");
	/* every connection: idle timer + retransmit timer armed */
	for (c = 0; c < C; c += n) {
		n = C - c < per ? C - c : per;
		for (i = 0; i < n; i++) {
			timerring_op_arm(&t.ops[2 * i], 2 * (c + i),
					 CONN_IDLE_NS, TIMERRING_OPF_SLACK,
					 2 * (c + i) + 1, 0);
			timerring_op_arm(&t.ops[2 * i + 1], 2 * (c + i) + 1,
					 CONN_RTX_NS, 0, 2 * (c + i) + 2, 0);
			rtx_armed[c + i] = 1;
		}
		trb_submit(&t, 2 * n);
	}
	c0 = cpu_ns();
	s0 = sys_busy_ns();
	t0 = now_ns();
	end = t0 + (int64_t)(cfg.conn_s * NSEC);
	for (;;) {
		int64_t now = now_ns();

		if (now >= end && ev)
			break;
		if (cfg.conn_rate > 0 &&
		    ev >= (now - t0) / 1e9 * cfg.conn_rate) {
			msleep(1);
			continue;
		}
		for (i = 0; i < per; i++) {
			c = conn_pick[(ev + i) % conn_npick];
			timerring_op_modify(&t.ops[2 * i], 2 * c, CONN_IDLE_NS,
					    TIMERRING_OPF_SLACK, 2 * c + 1, 0);
			if (rtx_armed[c])
				timerring_op_cancel(&t.ops[2 * i + 1], 2 * c + 1);
			else
				timerring_op_arm(&t.ops[2 * i + 1], 2 * c + 1,
						 CONN_RTX_NS, 0, 2 * c + 2, 0);
			rtx_armed[c] ^= 1;
		}
		failed += trb_submit(&t, 2 * per);
		ev += per;
	}
	t1 = now_ns();
	rec_begin(SYS_TR, "conn", b);
	rec_num("connections", C);
	rec_num("live", N);
	rec_num("events", ev);
	rec_num("ns_per_event", (double)(t1 - t0) / ev);
	rec_num("cpu_ns_per_event", (double)(cpu_ns() - c0) / ev);
	rec_num("sys_cpu_ns_per_event", (double)(sys_busy_ns() - s0) / ev);
	rec_num("rate_target", cfg.conn_rate);
	rec_num("rate_achieved", ev / ((t1 - t0) / 1e9));
	rec_num("failed", failed);
	rec_end();
	trb_close(&t);
}

/* ------------------------------------------------------------ io_uring */

#define UD_TAG_UPD	(1ULL << 62)
#define UD_TAG_REM	(1ULL << 61)

struct urb {
	struct io_uring ring;
	long long kiocb0;	/* io_kiocb objects before the ring existed */
	struct __kernel_timespec *ts;
	unsigned int bmax;
	unsigned int flags;
	unsigned int errors;	/* unexpected CQE results */
};

static void ts_set(struct __kernel_timespec *ts, int64_t ns)
{
	ts->tv_sec = ns / NSEC;
	ts->tv_nsec = ns % NSEC;
}

static int urb_open(struct urb *u, unsigned int bmax)
{
	static const unsigned int try_flags[] = {
		IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
		IORING_SETUP_COOP_TASKRUN,
		0,
	};
	struct io_uring_params p;
	unsigned int i;
	int ret = -EINVAL;

	u->kiocb0 = slab_active("io_kiocb");
	for (i = 0; i < 3; i++) {
		memset(&p, 0, sizeof(p));
		p.flags = IORING_SETUP_CQSIZE | try_flags[i];
		p.cq_entries = 65536;
		ret = io_uring_queue_init_params(bmax < 8192 ? 8192 : bmax,
						 &u->ring, &p);
		if (!ret) {
			u->flags = p.flags;
			break;
		}
	}
	if (ret < 0)
		return ret;
	u->bmax = bmax;
	u->errors = 0;
	u->ts = xcalloc(bmax < 8192 ? 8192 : bmax, sizeof(*u->ts));
	return 0;
}

/*
 * The ring exit cancels and frees the pending timeouts in a kworker, after
 * close returns: wait for it (io_kiocb objects back to where they were),
 * so that it neither overlaps the next measurement nor escapes the cost.
 */
static void urb_close(struct urb *u)
{
	int64_t give_up = now_ns() + 600 * NSEC;

	io_uring_queue_exit(&u->ring);
	free(u->ts);
	if (u->kiocb0 < 0)
		return;
	while (now_ns() < give_up) {
		long long a = slab_active("io_kiocb");

		if (a < 0 || a <= u->kiocb0 + 4096)
			return;
		msleep(50);
	}
	log_msg("io_uring: ring exit still freeing after 600 s");
}

static struct io_uring_sqe *urb_sqe(struct urb *u)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);

	if (!sqe)
		die("io_uring: SQ full");
	return sqe;
}

static void urb_submit(struct urb *u, unsigned int n)
{
	int ret = io_uring_submit(&u->ring);

	if (ret < 0)
		die("io_uring submit: %s", strerror(-ret));
	if ((unsigned int)ret != n)
		die("io_uring submit: %d of %u", ret, n);
}

/*
 * Reap CQEs: at least @want (waiting for them), or just what is there when
 * @want is 0. Timeout CQEs (tag-less user_data) count in *@fired, with
 * lateness samples when @due is set.
 */
static unsigned int urb_reap(struct urb *u, unsigned int want,
			     unsigned int *fired, const int64_t *due,
			     unsigned int lat_base)
{
	struct io_uring_cqe *cqes[1024];
	unsigned int got = 0, i, n;

	for (;;) {
		n = io_uring_peek_batch_cqe(&u->ring, cqes, 1024);
		if (!n) {
			struct io_uring_cqe *cqe;
			struct __kernel_timespec ts = { .tv_sec = 30 };
			int ret;

			if (got >= want)
				break;
			ret = io_uring_wait_cqe_timeout(&u->ring, &cqe, &ts);
			if (ret == -ETIME)
				break;
			if (ret < 0 && ret != -EINTR)
				die("io_uring wait: %s", strerror(-ret));
			continue;
		}
		{
			int64_t now = due ? now_ns() : 0;

			for (i = 0; i < n; i++) {
				uint64_t ud = cqes[i]->user_data;
				int res = cqes[i]->res;

				if (ud & (UD_TAG_UPD | UD_TAG_REM)) {
					if (res != 0)
						u->errors++;
				} else {
					if (res != -ETIME && res != -ECANCELED)
						u->errors++;
					if (res == -ETIME && fired) {
						if (due && ud && ud <= N &&
						    lat_base + *fired < N)
							lat[lat_base + *fired] =
								now - due[ud - 1];
						(*fired)++;
					}
				}
			}
		}
		io_uring_cq_advance(&u->ring, n);
		got += n;
	}
	return got;
}

/* Arm ids [lo, hi) with far_exp, in batches of b. */
static void ur_arm_range(struct urb *u, unsigned int b, unsigned int lo,
			 unsigned int hi)
{
	unsigned int i, j, n;

	for (i = lo; i < hi; i += n) {
		n = hi - i < b ? hi - i : b;
		for (j = 0; j < n; j++) {
			struct io_uring_sqe *sqe = urb_sqe(u);

			ts_set(&u->ts[j], far_exp[i + j]);
			io_uring_prep_timeout(sqe, &u->ts[j], 0, 0);
			sqe->user_data = i + j + 1;
		}
		urb_submit(u, n);
		urb_reap(u, 0, NULL, NULL, 0);
	}
}

static void ur_arm_pass(struct urb *u, unsigned int b, const int64_t *exp,
			unsigned int flags, bool abs_same)
{
	unsigned int i, j, n;

	for (i = 0; i < N; i += n) {
		n = N - i < b ? N - i : b;
		for (j = 0; j < n; j++) {
			struct io_uring_sqe *sqe = urb_sqe(u);

			ts_set(&u->ts[j], abs_same ? exp[0] : exp[i + j]);
			io_uring_prep_timeout(sqe, &u->ts[j], 0, flags);
			sqe->user_data = i + j + 1;
		}
		urb_submit(u, n);
		/* errors of arms come back as CQEs at once */
		urb_reap(u, 0, NULL, NULL, 0);
	}
}

/*
 * Cost of one batch of b cancels of armed ids among perm[lo, lo + n), with
 * the live count as it is (the ids are re-armed after each try): median of
 * 3 tries.
 */
static void tr_cancel_batch(struct trb *t, unsigned int b, unsigned int lo,
			    unsigned int n, const char *name)
{
	unsigned int m = b < n ? b : n, rep, j, fail = 0;
	int64_t ns[7], t0;
	struct timerring_stats st;

	memset(&st, 0, sizeof(st));
	timerring_stats(&t->tr, &st);
	for (rep = 0; rep < 7; rep++) {
		for (j = 0; j < m; j++)
			timerring_op_cancel(&t->ops[j],
					    perm[lo + (rep * m + j) % n]);
		t0 = now_ns();
		fail += trb_submit(t, m);
		ns[rep] = now_ns() - t0;
		for (j = 0; j < m; j++) {
			unsigned int id = perm[lo + (rep * m + j) % n];

			timerring_op_arm(&t->ops[j], id, far_exp[id], 0,
					 id + 1, 0);
		}
		trb_submit(t, m);
	}
	qsort(ns, 7, sizeof(ns[0]), cmp_i64);
	rec_op(SYS_TR, name, b, m, st.armed_now, ns[3], fail);
}

/* One io_uring op (update or remove of the timeout of @id), reaped. */
static void ur_one(struct urb *u, bool update, unsigned int id, int64_t exp)
{
	struct io_uring_sqe *sqe = urb_sqe(u);
	unsigned int want = update ? 1 : 2, got;

	if (update) {
		ts_set(&u->ts[0], exp);
		io_uring_prep_timeout_update(sqe, &u->ts[0], id + 1, 0);
		sqe->user_data = UD_TAG_UPD | id;
	} else {
		io_uring_prep_timeout_remove(sqe, id + 1, 0);
		sqe->user_data = UD_TAG_REM | id;
	}
	urb_submit(u, 1);
	got = urb_reap(u, want, NULL, NULL, 0);
	if (got != want)
		u->errors++;
}

/*
 * arm / modify / cancel at batch size b, timerring and io_uring
 * interleaved in slices so that both see the same noise: the arm in 16
 * slices of the ids; for modify and cancel, each sampled io_uring op
 * (a list walk at N pending) alternates with 1/sample of the timerring
 * pass.
 */
static void ops_pair(unsigned int b, bool do_tr, bool do_ur)
{
	struct timerring_stats st;
	struct trb t;
	struct urb u;
	unsigned int k, s, lo, hi, fail = 0;
	unsigned int slices = 16;
	int64_t t0, trn = 0, urn = 0;

	if (do_tr && trb_open(&t, N, b) < 0)
		die("timerring open failed");
	if (do_ur && urb_open(&u, b) < 0)
		die("io_uring setup failed");

	/* arm */
	for (k = 0; k < slices; k++) {
		lo = (uint64_t)N * k / slices;
		hi = (uint64_t)N * (k + 1) / slices;
		if (do_tr) {
			t0 = now_ns();
			fail += tr_range(&t, 0, lo, hi, b);
			trn += now_ns() - t0;
		}
		if (do_ur) {
			t0 = now_ns();
			ur_arm_range(&u, b, lo, hi);
			urn += now_ns() - t0;
		}
	}
	if (do_tr) {
		arm_ns_est[SYS_TR] = (double)trn / N;
		memset(&st, 0, sizeof(st));
		timerring_stats(&t.tr, &st);
		rec_op(SYS_TR, "arm", b, N, N, trn, fail);
		rec_begin(SYS_TR, "impl", b);
		rec_num("impl", st.impl);	/* TIMERRING_IMPL_* in use */
		rec_end();
	}
	if (do_ur) {
		arm_ns_est[SYS_UR] = (double)urn / N;
		rec_begin(SYS_UR, "arm", b);
		rec_num("ops", N);
		rec_num("live", N);
		rec_num("ns_per_op", (double)urn / N);
		rec_num("errors", u.errors);
		rec_num("setup_flags", u.flags);
		rec_end();
	}

	/* modify */
	s = cfg.sample;
	trn = urn = 0;
	fail = 0;
	if (do_ur)
		u.errors = 0;
	for (k = 0; k < s; k++) {
		lo = (uint64_t)N * k / s;
		hi = (uint64_t)N * (k + 1) / s;
		if (do_tr) {
			t0 = now_ns();
			fail += tr_range(&t, 1, lo, hi, b);
			trn += now_ns() - t0;
		}
		if (do_ur) {
			t0 = now_ns();
			ur_one(&u, true, perm[k], far_exp2[k]);
			urn += now_ns() - t0;
		}
	}
	if (do_tr)
		rec_op(SYS_TR, "modify", b, N, N, trn, fail);
	if (do_ur) {
		rec_begin(SYS_UR, "modify", b);
		rec_num("ops", s);
		rec_num("live", N);
		rec_num("sampled", 1);
		rec_num("ns_per_op", (double)urn / s);
		rec_num("errors", u.errors);
		rec_end();
	}

	/* timerring: one batch of random cancels at N pending */
	if (do_tr)
		tr_cancel_batch(&t, b, 0, N, "cancel_at_live");

	/* cancel: all of timerring (N -> 0), a sample of io_uring */
	trn = urn = 0;
	fail = 0;
	if (do_ur)
		u.errors = 0;
	for (k = 0; k < s; k++) {
		lo = (uint64_t)N * k / s;
		hi = (uint64_t)N * (k + 1) / s;
		if (do_tr && k == s - 1 && s > 1) {
			/* the same batch cancel as at N pending, at N/s */
			tr_cancel_batch(&t, b, lo, hi - lo, "cancel_at_low");
		}
		if (do_tr) {
			t0 = now_ns();
			fail += tr_range(&t, 2, lo, hi, b);
			trn += now_ns() - t0;
		}
		if (do_ur) {
			t0 = now_ns();
			ur_one(&u, false, perm[N - 1 - k], 0);
			urn += now_ns() - t0;
		}
	}
	if (do_tr) {
		rec_op(SYS_TR, "cancel", b, N, N, trn, fail);
		trb_close(&t);
	}
	if (do_ur) {
		rec_begin(SYS_UR, "cancel", b);
		rec_num("ops", s);
		rec_num("live", N);
		rec_num("sampled", 1);
		rec_num("ns_per_op", (double)urn / s);
		rec_num("errors", u.errors);
		rec_end();
		/* teardown: the ring exit cancels what is left */
		int kc = kcomplaints();

		t0 = now_ns();
		urb_close(&u);
		t0 = now_ns() - t0;
		mem_settle();
		rec_begin(SYS_UR, "close", b);
		rec_num("timers", N - s);
		rec_num("ns_per_timer", (double)t0 / (N - s));
		rec_kc(kc);
		rec_end();
	}
	mem_settle();
}

static void ur_herd(unsigned int b)
{
	struct memsnap m0, m1;
	struct urb u;
	unsigned int fired = 0;
	int64_t due, t0, t1, c0, s0;

	mem_settle();
	mem_snap(&m0);
	if (urb_open(&u, b) < 0)
		die("io_uring setup failed");
	due = start_after_arming(SYS_UR, N);
	ur_arm_pass(&u, b, &due, IORING_TIMEOUT_ABS, true);
	t0 = now_ns();
	mem_snap(&m1);
	rec_mem(SYS_UR, N, &m0, &m1, 0);
	mem_free(&m0);
	mem_free(&m1);
	c0 = cpu_ns();
	s0 = sys_busy_ns();
	while (fired < N) {
		unsigned int before = fired;

		urb_reap(&u, 1, &fired, NULL, 0);
		if (fired == before && now_ns() > due + 60 * NSEC)
			break;
	}
	t1 = now_ns();
	rec_begin(SYS_UR, "herd", b);
	rec_num("timers", N);
	rec_num("delivered", fired);
	rec_num("lost", N - fired);
	rec_num("errors", u.errors);
	rec_num("armed_late", t0 > due);
	rec_num("ns_per_timer", (double)(t1 - due) / N);
	rec_num("cpu_ns_per_timer", (double)(cpu_ns() - c0) / N);
	rec_num("sys_cpu_ns_per_timer", (double)(sys_busy_ns() - s0) / N);
	rec_num("wall_ms", (t1 - due) / 1e6);
	rec_end();
	urb_close(&u);
	mem_settle();
}

static void ur_spread(unsigned int b)
{
	struct urb u;
	unsigned int fired = 0, i, j, n;
	int64_t t0, w0, span = (int64_t)(cfg.spread_s * NSEC), c0, s0;
	int64_t *due = xcalloc(N, sizeof(*due));

	if (urb_open(&u, b) < 0)
		die("io_uring setup failed");
	t0 = start_after_arming(SYS_UR, N);
	for (i = 0; i < N; i++)
		due[i] = t0 + (int64_t)((double)span * i / N);
	for (i = 0; i < N; i += n) {
		n = N - i < b ? N - i : b;
		for (j = 0; j < n; j++) {
			struct io_uring_sqe *sqe = urb_sqe(&u);

			ts_set(&u.ts[j], due[i + j]);
			io_uring_prep_timeout(sqe, &u.ts[j], 0,
					      IORING_TIMEOUT_ABS);
			sqe->user_data = i + j + 1;
		}
		urb_submit(&u, n);
	}
	w0 = now_ns();
	c0 = cpu_ns();
	s0 = sys_busy_ns();
	while (fired < N) {
		unsigned int before = fired;

		urb_reap(&u, 1, &fired, due, 0);
		if (fired == before && now_ns() > t0 + span + 60 * NSEC)
			break;
	}
	rec_begin(SYS_UR, "spread", b);
	rec_num("timers", N);
	rec_num("spread_s", cfg.spread_s);
	rec_num("delivered", fired);
	rec_num("armed_late", w0 > t0);
	rec_num("cpu_ns_per_exp", (double)(cpu_ns() - c0) / N);
	rec_num("sys_cpu_ns_per_exp", (double)(sys_busy_ns() - s0) / N);
	rec_lat(fired);
	rec_end();
	urb_close(&u);
	free(due);
	mem_settle();
}

static void ur_conn(unsigned int b)
{
	struct urb u;
	unsigned int c, C = N / 2, i, n, ev = 0, per, cqes, expect;
	int64_t t0, t1, c0, s0, end;

	per = b / 2 < cfg.conn_sample ? b / 2 : cfg.conn_sample;
	if (!per)
		per = 1;
	if (urb_open(&u, b) < 0)
		die("io_uring setup failed");
	for (c = 0; c < C; c += n) {
		n = C - c < b / 2 ? C - c : b / 2;
		for (i = 0; i < n; i++) {
			struct io_uring_sqe *sqe = urb_sqe(&u);

			ts_set(&u.ts[2 * i], CONN_IDLE_NS);
			io_uring_prep_timeout(sqe, &u.ts[2 * i], 0, 0);
			sqe->user_data = 2 * (c + i) + 1;
			sqe = urb_sqe(&u);
			ts_set(&u.ts[2 * i + 1], CONN_RTX_NS);
			io_uring_prep_timeout(sqe, &u.ts[2 * i + 1], 0, 0);
			sqe->user_data = 2 * (c + i) + 2;
			rtx_armed[c + i] = 1;
		}
		urb_submit(&u, 2 * n);
		urb_reap(&u, 0, NULL, NULL, 0);
	}
	u.errors = 0;
	c0 = cpu_ns();
	s0 = sys_busy_ns();
	t0 = now_ns();
	end = t0 + (int64_t)(cfg.conn_s * NSEC);
	for (;;) {
		int64_t now = now_ns();

		if (now >= end && ev)
			break;
		if (cfg.conn_rate > 0 &&
		    ev >= (now - t0) / 1e9 * cfg.conn_rate) {
			msleep(1);
			continue;
		}
		expect = 0;
		for (i = 0; i < per; i++) {
			struct io_uring_sqe *sqe;

			c = conn_pick[(ev + i) % conn_npick];
			sqe = urb_sqe(&u);
			ts_set(&u.ts[2 * i], CONN_IDLE_NS);
			io_uring_prep_timeout_update(sqe, &u.ts[2 * i],
						     2 * c + 1, 0);
			sqe->user_data = UD_TAG_UPD | c;
			expect++;
			sqe = urb_sqe(&u);
			if (rtx_armed[c]) {
				io_uring_prep_timeout_remove(sqe, 2 * c + 2, 0);
				sqe->user_data = UD_TAG_REM | c;
				expect += 2;
			} else {
				ts_set(&u.ts[2 * i + 1], CONN_RTX_NS);
				io_uring_prep_timeout(sqe, &u.ts[2 * i + 1], 0, 0);
				sqe->user_data = 2 * c + 2;
			}
			rtx_armed[c] ^= 1;
		}
		urb_submit(&u, 2 * per);
		cqes = urb_reap(&u, expect, NULL, NULL, 0);
		if (cqes < expect)
			u.errors += expect - cqes;
		ev += per;
	}
	t1 = now_ns();
	rec_begin(SYS_UR, "conn", b);
	rec_num("connections", C);
	rec_num("live", N);
	rec_num("events", ev);
	rec_num("ns_per_event", (double)(t1 - t0) / ev);
	rec_num("cpu_ns_per_event", (double)(cpu_ns() - c0) / ev);
	rec_num("sys_cpu_ns_per_event", (double)(sys_busy_ns() - s0) / ev);
	rec_num("rate_target", cfg.conn_rate);
	rec_num("rate_achieved", ev / ((t1 - t0) / 1e9));
	rec_num("errors", u.errors);
	rec_end();
	urb_close(&u);
	mem_settle();
}

/* ------------------------------------------------------------- timerfd */

static int *tfds;
static int tfd_ep = -1;
static bool tr_avail;
static const char *tfd_limit_note = "";
static char tfd_note_buf[128];

/* Raise RLIMIT_NOFILE as far as allowed; returns the usable timer count. */
static unsigned int tfd_capacity(unsigned int want)
{
	struct rlimit rl;
	unsigned long long nr_open = 0;
	FILE *f;

	f = fopen("/proc/sys/fs/nr_open", "r");
	if (f) {
		if (fscanf(f, "%llu", &nr_open) != 1)
			nr_open = 0;
		fclose(f);
	}
	getrlimit(RLIMIT_NOFILE, &rl);
	/* root may raise the hard limit up to fs.nr_open */
	if (nr_open && rl.rlim_max < nr_open && rl.rlim_max < want + 64ULL) {
		struct rlimit r2 = rl;

		r2.rlim_max = r2.rlim_cur = nr_open < want + 64ULL ? nr_open :
					    want + 64ULL;
		if (!setrlimit(RLIMIT_NOFILE, &r2))
			rl = r2;
	}
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < want + 64ULL) {
		tfd_limit_note = "capped by RLIMIT_NOFILE";
		want = rl.rlim_cur > 128 ? rl.rlim_cur - 64 : 64;
	}
	f = fopen("/proc/sys/fs/epoll/max_user_watches", "r");
	if (f) {
		unsigned long long w;

		if (fscanf(f, "%llu", &w) == 1 && w < want) {
			tfd_limit_note = "capped by fs.epoll.max_user_watches";
			want = w;
		}
		fclose(f);
	}
	return want;
}

static void tfd_create(void)
{
	struct epoll_event ev;
	unsigned int i;
	int64_t t0 = now_ns();

	tfd_ep = epoll_create1(EPOLL_CLOEXEC);
	if (tfd_ep < 0)
		die("epoll_create1: %m");
	for (i = 0; i < NT; i++) {
		const char *what = "timerfd_create";

		tfds[i] = timerfd_create(CLOCK_MONOTONIC,
					 TFD_NONBLOCK | TFD_CLOEXEC);
		if (tfds[i] >= 0) {
			ev.events = EPOLLIN;
			ev.data.u64 = i;
			if (!epoll_ctl(tfd_ep, EPOLL_CTL_ADD, tfds[i], &ev))
				continue;
			what = "epoll_ctl";
			close(tfds[i]);
		}
		/* A system limit: run at the largest size it allows. */
		if (i < 64)
			die("%s #%u: %m", what, i);
		snprintf(tfd_note_buf, sizeof(tfd_note_buf),
			 "capped: %s failed at %u fds (%m)", what, i);
		tfd_limit_note = tfd_note_buf;
		log_msg("timerfd: %s", tfd_limit_note);
		if (i & 1)
			close(tfds[--i]);
		NT = i;
		break;
	}
	rec_begin(SYS_TFD, "create", 0);
	rec_num("timers", NT);
	rec_num("ns_per_timer", (double)(now_ns() - t0) / NT);
	rec_end();
}

static void tfd_destroy(void)
{
	unsigned int i;
	int64_t t0 = now_ns();

	for (i = 0; i < NT; i++)
		close(tfds[i]);
	close(tfd_ep);
	tfd_ep = -1;
	rec_begin(SYS_TFD, "close", 0);
	rec_num("timers", NT);
	rec_num("ns_per_timer", (double)(now_ns() - t0) / NT);
	rec_end();
	mem_settle();
}

static void tfd_set(unsigned int i, int64_t ns, int flags)
{
	struct itimerspec its = { .it_value = { ns / NSEC, ns % NSEC } };

	if (timerfd_settime(tfds[i], flags, &its, NULL) < 0)
		die("timerfd_settime: %m");
}

/*
 * One pass of op @kind (0 arm, 1 modify, 2 cancel) over the timerfds, in
 * 16 slices; with @t, each slice alternates with 1/16 of the same pass of
 * timerring at batch cfg.conn_batch, so that the pair sees the same noise.
 */
static void tfd_pass(const char *wl, int kind, struct trb *t)
{
	static const char *const pair[] = { "arm_tfdpair", "modify_tfdpair",
					    "cancel_tfdpair" };
	unsigned int i, k, lo, hi, slices = 16, fail = 0;
	int64_t t0, tn = 0, trn = 0;

	for (k = 0; k < slices; k++) {
		lo = (uint64_t)NT * k / slices;
		hi = (uint64_t)NT * (k + 1) / slices;
		t0 = now_ns();
		for (i = lo; i < hi; i++) {
			switch (kind) {
			case 0: tfd_set(i, far_exp[i], 0); break;
			case 1: tfd_set(perm[i] % NT, far_exp2[i], 0); break;
			default: tfd_set(perm[i] % NT, 0, 0); break;
			}
		}
		tn += now_ns() - t0;
		if (t) {
			lo = (uint64_t)N * k / slices;
			hi = (uint64_t)N * (k + 1) / slices;
			t0 = now_ns();
			fail += tr_range(t, kind, lo, hi, cfg.conn_batch);
			trn += now_ns() - t0;
		}
	}
	if (kind == 0)
		arm_ns_est[SYS_TFD] = (double)tn / NT;
	rec_begin(SYS_TFD, wl, 0);
	rec_num("ops", NT);
	rec_num("live", NT);
	rec_num("ns_per_op", (double)tn / NT);
	rec_str("note", "one syscall per op: no batching");
	rec_end();
	if (t)
		rec_op(SYS_TR, pair[kind], cfg.conn_batch, N, N, trn, fail);
}

/* Consume expirations: epoll_wait + read of each fd. */
static unsigned int tfd_consume(unsigned int want, const int64_t *due,
				int64_t give_up)
{
	static struct epoll_event evs[4096];
	unsigned int got = 0;
	uint64_t cnt;
	int i, n;

	while (got < want) {
		int64_t now;

		n = epoll_wait(tfd_ep, evs, 4096, 1000);
		if (n < 0 && errno != EINTR)
			die("epoll_wait: %m");
		if (n <= 0) {
			if (now_ns() > give_up)
				break;
			continue;
		}
		now = due ? now_ns() : 0;
		for (i = 0; i < n; i++) {
			unsigned int id = evs[i].data.u64;

			if (read(tfds[id], &cnt, sizeof(cnt)) != sizeof(cnt))
				continue;
			if (due && got < N)
				lat[got] = now - due[id];
			got++;
		}
	}
	return got;
}

static void tfd_all(void)
{
	struct memsnap m0, m1;
	unsigned int i, got, C, c, ev = 0, per;
	int64_t due, t0, t1, c0, s0, end, span;
	int64_t *dues;

	mem_settle();
	mem_snap(&m0);
	tfd_create();
	if (want("ops")) {
		struct trb t;
		bool paired = tr_avail && trb_open(&t, N, cfg.conn_batch) == 0;

		tfd_pass("arm", 0, paired ? &t : NULL);
		tfd_pass("modify", 1, paired ? &t : NULL);
		tfd_pass("cancel", 2, paired ? &t : NULL);
		if (paired)
			trb_close(&t);
	}

	if (want("herd")) {
		due = start_after_arming(SYS_TFD, NT);
		for (i = 0; i < NT; i++)
			tfd_set(i, due, TFD_TIMER_ABSTIME);
		t0 = now_ns();
		mem_snap(&m1);
		rec_mem(SYS_TFD, NT, &m0, &m1, 0);
		mem_free(&m1);
		c0 = cpu_ns();
		s0 = sys_busy_ns();
		got = tfd_consume(NT, NULL, due + 60 * NSEC);
		t1 = now_ns();
		rec_begin(SYS_TFD, "herd", 0);
		rec_num("timers", NT);
		rec_num("delivered", got);
		rec_num("lost", NT - got);
		rec_num("armed_late", t0 > due);
		rec_num("ns_per_timer", (double)(t1 - due) / NT);
		rec_num("cpu_ns_per_timer", (double)(cpu_ns() - c0) / NT);
		rec_num("sys_cpu_ns_per_timer",
			(double)(sys_busy_ns() - s0) / NT);
		rec_num("wall_ms", (t1 - due) / 1e6);
		rec_end();
	}
	mem_free(&m0);

	if (want("spread")) {
		span = (int64_t)(cfg.spread_s * NSEC);
		dues = xcalloc(NT, sizeof(*dues));
		t0 = start_after_arming(SYS_TFD, NT);
		for (i = 0; i < NT; i++) {
			dues[i] = t0 + (int64_t)((double)span * i / NT);
			tfd_set(i, dues[i], TFD_TIMER_ABSTIME);
		}
		t1 = now_ns();
		c0 = cpu_ns();
		s0 = sys_busy_ns();
		got = tfd_consume(NT, dues, t0 + span + 60 * NSEC);
		rec_begin(SYS_TFD, "spread", 0);
		rec_num("timers", NT);
		rec_num("spread_s", cfg.spread_s);
		rec_num("delivered", got);
		rec_num("armed_late", t1 > t0);
		rec_num("cpu_ns_per_exp", (double)(cpu_ns() - c0) / NT);
		rec_num("sys_cpu_ns_per_exp",
			(double)(sys_busy_ns() - s0) / NT);
		rec_lat(got);
		rec_end();
		free(dues);
	}

	if (want("conn")) {
		C = NT / 2;
		per = cfg.conn_batch / 2;
		for (c = 0; c < C; c++) {
			tfd_set(2 * c, CONN_IDLE_NS, 0);
			tfd_set(2 * c + 1, CONN_RTX_NS, 0);
			rtx_armed[c] = 1;
		}
		c0 = cpu_ns();
		s0 = sys_busy_ns();
		t0 = now_ns();
		end = t0 + (int64_t)(cfg.conn_s * NSEC);
		for (;;) {
			int64_t now = now_ns();

			if (now >= end && ev)
				break;
			if (cfg.conn_rate > 0 &&
			    ev >= (now - t0) / 1e9 * cfg.conn_rate) {
				msleep(1);
				continue;
			}
			for (i = 0; i < per; i++) {
				c = conn_pick[(ev + i) % conn_npick] % C;
				tfd_set(2 * c, CONN_IDLE_NS, 0);
				tfd_set(2 * c + 1, rtx_armed[c] ? 0 : CONN_RTX_NS, 0);
				rtx_armed[c] ^= 1;
			}
			ev += per;
		}
		t1 = now_ns();
		rec_begin(SYS_TFD, "conn", cfg.conn_batch);
		rec_num("connections", C);
		rec_num("live", NT);
		rec_num("events", ev);
		rec_num("ns_per_event", (double)(t1 - t0) / ev);
		rec_num("cpu_ns_per_event", (double)(cpu_ns() - c0) / ev);
		rec_num("sys_cpu_ns_per_event",
			(double)(sys_busy_ns() - s0) / ev);
		rec_num("rate_target", cfg.conn_rate);
		rec_num("rate_achieved", ev / ((t1 - t0) / 1e9));
		rec_end();
	}
	tfd_destroy();
}

/* Run one phase and attribute the kernel's complaints during it. */
static void phase(int sys, const char *name, unsigned int b,
		  void (*fn)(unsigned int))
{
	int kc = kcomplaints();

	fn(b);
	mem_settle();
	rec_begin(sys, "kernel_log", b);
	rec_str("phase", name);
	rec_kc(kc);
	rec_end();
}

static void tfd_all_b(unsigned int b)
{
	(void)b;
	tfd_all();
}

/* ---------------------------------------------------------------- main */

static void usage(void)
{
	fprintf(stderr,
"usage: timerring-bench [options]\n"
"  --live N          live timers per workload (default 1048576)\n"
"  --tfd-max N       cap of timerfd timers (default: RLIMIT_NOFILE)\n"
"  --batches LIST    batch sizes, e.g. 256,1024,4096,8192\n"
"  --conn-batch N    batch size of herd/spread/conn/memory (1024)\n"
"  --sample N        io_uring modify/cancel ops measured at N live (32)\n"
"  --conn-sample N   io_uring conn events per batch (16)\n"
"  --spread-s S      spread of the spread workload (10)\n"
"  --conn-s S        duration of the conn workload (2)\n"
"  --conn-rate R     conn events/s, 0 = as fast as possible (0)\n"
"  --cq-entries N    timerring CQ ring size (65536)\n"
"  --systems LIST    timerring,io_uring,timerfd (all)\n"
"  --workloads LIST  ops,herd,spread,conn (all; memory comes with herd)\n"
"  --label TEXT      free text stored in the JSON (e.g. the machine)\n"
"  --json FILE       write the JSON there (default: stdout, marked)\n"
"  --summary         print a side-by-side table of the systems at the end\n"
"  --quick           do not wait for free memory to settle between phases\n"
"                    (bytes per timer from slab and module counts only)\n");
	exit(2);
}

static void parse_list(const char *s)
{
	char *dup = strdup(s), *tok, *save = NULL;

	cfg.nbatches = 0;
	for (tok = strtok_r(dup, ",", &save); tok && cfg.nbatches < 8;
	     tok = strtok_r(NULL, ",", &save)) {
		unsigned int b = strtoul(tok, NULL, 0);

		if (!b || b > TIMERRING_BATCH_MAX || b > 32768)
			die("bad batch size %s", tok);
		cfg.batches[cfg.nbatches++] = b;
	}
	free(dup);
}

static void header(FILE *f)
{
	struct utsname u;
	char model[256] = "unknown", line[512], date[64];
	time_t t = time(NULL);
	FILE *c = fopen("/proc/cpuinfo", "r");
	unsigned int i;

	uname(&u);
	if (c) {
		while (fgets(line, sizeof(line), c)) {
			char *p = strchr(line, ':');

			if (!strncmp(line, "model name", 10) && p) {
				snprintf(model, sizeof(model), "%s", p + 2);
				model[strcspn(model, "\n")] = 0;
				break;
			}
		}
		fclose(c);
	}
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
	fprintf(f, "{\n  \"tool\": \"timerring-bench\",\n  \"format\": 1,\n");
	fprintf(f, "  \"date\": \"%s\",\n  \"kernel\": ", date);
	json_str(f, u.release);
	fprintf(f, ",\n  \"machine\": ");
	json_str(f, model);
	fprintf(f, ",\n  \"cpus\": %ld,\n  \"label\": ", sysconf(_SC_NPROCESSORS_ONLN));
	json_str(f, cfg.label ? cfg.label : "");
	fprintf(f, ",\n  \"config\": {\"live\": %u, \"timerfd_live\": %u, "
		"\"timerfd_limit\": \"%s\", \"batches\": [", N, NT,
		tfd_limit_note);
	for (i = 0; i < cfg.nbatches; i++)
		fprintf(f, "%s%u", i ? ", " : "", cfg.batches[i]);
	fprintf(f, "], \"conn_batch\": %u, \"sample\": %u, \"conn_sample\": %u, "
		"\"spread_s\": %g, \"conn_s\": %g, \"conn_rate\": %g, "
		"\"cq_entries\": %u},\n",
		cfg.conn_batch, cfg.sample, cfg.conn_sample, cfg.spread_s,
		cfg.conn_s, cfg.conn_rate, cfg.cq_entries);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "live", 1, 0, 'n' }, { "tfd-max", 1, 0, 'T' },
		{ "batches", 1, 0, 'b' }, { "conn-batch", 1, 0, 'B' },
		{ "sample", 1, 0, 's' }, { "conn-sample", 1, 0, 'S' },
		{ "spread-s", 1, 0, 'p' }, { "conn-s", 1, 0, 'c' },
		{ "conn-rate", 1, 0, 'r' }, { "cq-entries", 1, 0, 'q' },
		{ "systems", 1, 0, 'y' }, { "workloads", 1, 0, 'w' },
		{ "label", 1, 0, 'l' }, { "json", 1, 0, 'j' },
		{ "seed", 1, 0, 'e' }, { "summary", 0, 0, 'M' },
		{ "quick", 0, 0, 'Q' },
		{ "help", 0, 0, 'h' }, { 0 }
	};
	bool avail[NSYS] = { true, true, true };
	const char *why[NSYS] = { "", "", "" };
	struct io_uring probe;
	unsigned int i, k;
	FILE *out;
	int o, fd;

	while ((o = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (o) {
		case 'n': cfg.live = strtoul(optarg, NULL, 0); break;
		case 'T': cfg.tfd_max = strtoul(optarg, NULL, 0); break;
		case 'b': parse_list(optarg); break;
		case 'B': cfg.conn_batch = strtoul(optarg, NULL, 0); break;
		case 's': cfg.sample = strtoul(optarg, NULL, 0); break;
		case 'S': cfg.conn_sample = strtoul(optarg, NULL, 0); break;
		case 'p': cfg.spread_s = atof(optarg); break;
		case 'c': cfg.conn_s = atof(optarg); break;
		case 'r': cfg.conn_rate = atof(optarg); break;
		case 'q': cfg.cq_entries = strtoul(optarg, NULL, 0); break;
		case 'y':
			cfg.systems = 0;
			for (k = 0; k < NSYS; k++)
				if (strstr(optarg, sys_name[k]))
					cfg.systems |= 1U << k;
			break;
		case 'w': cfg.workloads = optarg; break;
		case 'l': cfg.label = optarg; break;
		case 'j': cfg.json = optarg; break;
		case 'e': cfg.seed = strtoul(optarg, NULL, 0); break;
		case 'M': cfg.summary = true; break;
		case 'Q': cfg.quick = true; break;
		default: usage();
		}
	}
	if (cfg.live < 64 || cfg.live > (1U << 28))
		die("--live out of range");
	if (!cfg.sample)
		cfg.sample = 1;
	if (cfg.conn_batch < 2 || cfg.conn_batch > 8192)
		die("--conn-batch out of range");
	N = cfg.live;
	rng_state = cfg.seed * 0x9E3779B97F4A7C15ULL + 1;
	setvbuf(stderr, NULL, _IOLBF, 0);

	/* Which systems work here. */
	fd = open(TIMERRING_DEV_PATH, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		avail[SYS_TR] = false;
		why[SYS_TR] = "no " TIMERRING_DEV_PATH " (module not loaded)";
	} else {
		close(fd);
	}
	if (io_uring_queue_init(8, &probe, 0) < 0) {
		avail[SYS_UR] = false;
		why[SYS_UR] = "io_uring_setup failed";
	} else {
		io_uring_queue_exit(&probe);
	}
	NT = cfg.tfd_max && cfg.tfd_max < N ? cfg.tfd_max : N;
	if (cfg.systems & (1U << SYS_TFD)) {
		unsigned int cap = tfd_capacity(NT);

		if (cap < NT)
			NT = cap;
		else if (NT < N)
			tfd_limit_note = "capped by --tfd-max";
		NT &= ~1U;
	}
	for (k = 0; k < NSYS; k++)
		if (!(cfg.systems & (1U << k))) {
			avail[k] = false;
			why[k] = "not selected";
		}

	/* Shared arrays, touched now so that they stay out of the deltas. */
	far_exp = xcalloc(N, sizeof(*far_exp));
	far_exp2 = xcalloc(N, sizeof(*far_exp2));
	perm = xcalloc(N, sizeof(*perm));
	lat = xcalloc(N, sizeof(*lat));
	rtx_armed = xcalloc(N / 2 + 1, sizeof(*rtx_armed));
	tfds = xcalloc(NT, sizeof(*tfds));
	conn_npick = N;
	conn_pick = xcalloc(conn_npick, sizeof(*conn_pick));
	for (i = 0; i < N; i++) {
		far_exp[i] = FAR_MIN_NS + rnd() % FAR_SPAN_NS;
		far_exp2[i] = FAR_MIN_NS + rnd() % FAR_SPAN_NS;
		perm[i] = i;
		conn_pick[i] = rnd() % (N / 2);
	}
	for (i = N - 1; i > 0; i--) {
		uint32_t j = rnd() % (i + 1), t = perm[i];

		perm[i] = perm[j];
		perm[j] = t;
	}

	js = open_memstream(&js_buf, &js_len);
	if (!js)
		die("open_memstream: %m");
	log_msg("live %u, timerfd %u %s; systems: %s%s%s", N, NT,
		tfd_limit_note, avail[0] ? "timerring " : "",
		avail[1] ? "io_uring " : "", avail[2] ? "timerfd" : "");

	/* Per batch size, the systems one after the other. */
	if (want("ops")) {
		for (k = 0; k < cfg.nbatches; k++) {
			log_msg("ops, batch %u", cfg.batches[k]);
			if (avail[SYS_TR] || avail[SYS_UR])
				ops_pair(cfg.batches[k], avail[SYS_TR],
					 avail[SYS_UR]);
		}
	} else {
		/* margins of the expiry workloads need an arm estimate */
		for (k = 0; k < NSYS; k++)
			arm_ns_est[k] = 20000;
	}
	tr_avail = avail[SYS_TR];
	if (avail[SYS_TFD]) {
		log_msg("timerfd: %u timers", NT);
		phase(SYS_TFD, "timerfd", 0, tfd_all_b);
	}
	if (want("herd")) {
		log_msg("herd + memory");
		if (avail[SYS_TR])
			phase(SYS_TR, "herd", cfg.conn_batch, tr_herd);
		if (avail[SYS_UR])
			phase(SYS_UR, "herd", cfg.conn_batch, ur_herd);
	}
	if (want("spread")) {
		log_msg("spread over %g s", cfg.spread_s);
		if (avail[SYS_TR])
			phase(SYS_TR, "spread", cfg.conn_batch, tr_spread);
		if (avail[SYS_UR])
			phase(SYS_UR, "spread", cfg.conn_batch, ur_spread);
	}
	if (want("conn")) {
		log_msg("connection mix");
		if (avail[SYS_TR])
			phase(SYS_TR, "conn", cfg.conn_batch, tr_conn);
		if (avail[SYS_UR])
			phase(SYS_UR, "conn", cfg.conn_batch, ur_conn);
	}
	fclose(js);

	if (cfg.json) {
		out = fopen(cfg.json, "w");
		if (!out)
			die("%s: %m", cfg.json);
	} else {
		out = stdout;
		printf("##### BENCH-JSON-BEGIN\n");
	}
	header(out);
	fprintf(out, "  \"systems\": {");
	for (k = 0; k < NSYS; k++) {
		fprintf(out, "%s\n    \"%s\": {\"available\": %s, \"live\": %u, "
			"\"why\": ", k ? "," : "", sys_name[k],
			avail[k] ? "true" : "false", k == SYS_TFD ? NT : N);
		json_str(out, why[k]);
		fputc('}', out);
	}
	fprintf(out, "\n  },\n  \"results\": [%s\n  ]\n}\n", js_buf ? js_buf : "");
	if (cfg.json)
		fclose(out);
	else
		printf("##### BENCH-JSON-END\n");
	if (cfg.summary)
		sum_print(avail);
	log_msg("done");
	return 0;
}
