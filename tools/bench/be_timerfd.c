// SPDX-License-Identifier: GPL-2.0
/*
 * timerring-bench: the timerfd backend, one timerfd per timer, all in one
 * epoll set. No batching exists: every op is a timerfd_settime(), and
 * submit has nothing to do. Opening creates the fds (the "create" record)
 * and closing closes them (the "close" record); timerfd keeps one
 * instance for all its workloads.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/timerfd.h>

#include "bench.h"

static int *tfds;
static int tfd_ep = -1;
const char *tfd_limit_note = "";
static char tfd_note_buf[128];
static struct bctx tfd_ctx;

/* The fd array, before anything is measured. */
void tfd_alloc(unsigned int n)
{
	tfds = xcalloc(n, sizeof(*tfds));
}

/* Raise RLIMIT_NOFILE as far as allowed; returns the usable timer count. */
unsigned int tfd_capacity(unsigned int want)
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

struct bctx *tfd_open(int sys, unsigned int n, unsigned int bmax)
{
	NT = n;
	tfd_create();
	memset(&tfd_ctx, 0, sizeof(tfd_ctx));
	tfd_ctx.sys = sys;
	tfd_ctx.n = NT;		/* a system limit may have capped it */
	tfd_ctx.bmax = bmax;
	return &tfd_ctx;
}

void tfd_close(struct bctx *x)
{
	(void)x;
	tfd_destroy();
}

void tfd_arm(struct bctx *x, unsigned int id, int64_t exp, unsigned int bf)
{
	(void)x;
	tfd_set(id, exp, bf & BF_ABS ? TFD_TIMER_ABSTIME : 0);
}

void tfd_cancel(struct bctx *x, unsigned int id)
{
	(void)x;
	tfd_set(id, 0, 0);
}

void tfd_submit(struct bctx *x)
{
	(void)x;
}

/* Consume expirations: epoll_wait + read of each fd. */
unsigned int tfd_consume(struct bctx *x, unsigned int want,
			 const int64_t *due, int64_t give_up)
{
	static struct epoll_event evs[4096];
	unsigned int got = 0;
	uint64_t cnt;
	int i, n;

	(void)x;
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

void tfd_rec_extra(struct bctx *x, const char *wl)
{
	(void)x;
	if (!strcmp(wl, "arm") || !strcmp(wl, "modify") || !strcmp(wl, "cancel"))
		rec_str("note", "one syscall per op: no batching");
}
