// SPDX-License-Identifier: GPL-2.0
/*
 * timerring-bench: clocks, CPU time, sleeping, errors, the RNG and the
 * kernel log's complaints.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/klog.h>
#include <sys/resource.h>

#include "bench.h"

int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * NSEC + ts.tv_nsec;
}

int64_t cpu_ns(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * NSEC +
	       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000LL;
}

/* Busy time of all CPUs from /proc/stat (everything but idle, iowait). */
int64_t sys_busy_ns(void)
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

void sleep_until(int64_t t)
{
	struct timespec ts = { t / NSEC, t % NSEC };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

void msleep(unsigned int ms)
{
	sleep_until(now_ns() + ms * 1000000LL);
}

void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "timerring-bench: ");
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

void *xcalloc(size_t n, size_t sz)
{
	void *p = calloc(n, sz);

	if (!p)
		die("out of memory (%zu x %zu)", n, sz);
	memset(p, 0, n * sz);	/* touch: user memory outside the deltas */
	return p;
}

static uint64_t rng_state;

void rnd_seed(unsigned int seed)
{
	rng_state = seed * 0x9E3779B97F4A7C15ULL + 1;
}

uint64_t rnd(void)
{
	/* xorshift64* */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ULL;
}

void log_msg(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "# [%8.3f] ", now_ns() / 1e9);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

bool want(const char *w)
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

/*
 * Kernel complaints so far (soft lockups, RCU stalls, hung tasks) in the
 * kernel log, to attribute them to the phase that caused them. -1 if the
 * log cannot be read (not root).
 */
int kcomplaints(void)
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

void rec_kc(int before)
{
	int now = kcomplaints();

	if (before >= 0 && now >= 0)
		rec_num("kernel_complaints", now - before);
}

int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}
