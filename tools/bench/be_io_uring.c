// SPDX-License-Identifier: GPL-2.0
/*
 * timerring-bench: the io_uring backend, one IORING_OP_TIMEOUT per timer.
 * modify is TIMEOUT_REMOVE with IORING_TIMEOUT_UPDATE and cancel
 * TIMEOUT_REMOVE: both find the timeout by walking the ring's timeout
 * list, so the workloads sample them (BE_SAMPLED). submit waits for the
 * CQEs of the updates and removes it queued (a remove also completes the
 * timeout it removed), and takes what else is there.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <liburing.h>
#include "bench.h"

#define UD_TAG_UPD	(1ULL << 62)
#define UD_TAG_REM	(1ULL << 61)

struct urb {
	struct bctx x;
	struct io_uring ring;
	long long kiocb0;	/* io_kiocb objects before the ring existed */
	struct __kernel_timespec *ts;
	unsigned int flags;
	unsigned int nq;	/* SQEs queued */
	unsigned int expect;	/* CQEs the queued SQEs give at once */
};

static struct urb *to_urb(struct bctx *x)
{
	return (struct urb *)x;
}

static void ts_set(struct __kernel_timespec *ts, int64_t ns)
{
	ts->tv_sec = ns / NSEC;
	ts->tv_nsec = ns % NSEC;
}

struct bctx *urb_open(int sys, unsigned int n, unsigned int bmax)
{
	static const unsigned int try_flags[] = {
		IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
		IORING_SETUP_COOP_TASKRUN,
		0,
	};
	struct io_uring_params p;
	struct urb *u = xcalloc(1, sizeof(*u));
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
	if (ret < 0) {
		free(u);
		errno = -ret;
		return NULL;
	}
	u->x.sys = sys;
	u->x.n = n;
	u->x.bmax = bmax;
	u->ts = xcalloc(bmax < 8192 ? 8192 : bmax, sizeof(*u->ts));
	return &u->x;
}

/*
 * The ring exit cancels and frees the pending timeouts in a kworker, after
 * close returns: wait for it (io_kiocb objects back to where they were),
 * so that it neither overlaps the next measurement nor escapes the cost.
 */
void urb_close(struct bctx *x)
{
	struct urb *u = to_urb(x);
	int64_t give_up = now_ns() + 600 * NSEC;
	long long kiocb0 = u->kiocb0;

	io_uring_queue_exit(&u->ring);
	free(u->ts);
	free(u);
	if (kiocb0 < 0)
		return;
	while (now_ns() < give_up) {
		long long a = slab_active("io_kiocb");

		if (a < 0 || a <= kiocb0 + 4096)
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
	u->nq++;
	return sqe;
}

/*
 * Reap CQEs: at least @want (waiting for them), or just what is there when
 * @want is 0. Timeout CQEs (tag-less user_data) count in *@fired, with
 * lateness samples when @due is set.
 */
static unsigned int urb_reap(struct urb *u, unsigned int want,
			     unsigned int *fired, const int64_t *due)
{
	struct io_uring_cqe *cqes[1024];
	unsigned int got = 0, i, n;

	for (;;) {
		int64_t now;

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
		now = due ? now_ns() : 0;
		for (i = 0; i < n; i++) {
			uint64_t ud = cqes[i]->user_data;
			int res = cqes[i]->res;

			if (ud & (UD_TAG_UPD | UD_TAG_REM)) {
				if (res != 0)
					u->x.errors++;
				continue;
			}
			if (res != -ETIME && res != -ECANCELED)
				u->x.errors++;
			if (res == -ETIME && fired) {
				if (due && ud && ud <= N && *fired < N)
					lat[*fired] = now - due[ud - 1];
				(*fired)++;
			}
		}
		io_uring_cq_advance(&u->ring, n);
		got += n;
	}
	return got;
}

void urb_arm(struct bctx *x, unsigned int id, int64_t exp, unsigned int bf)
{
	struct urb *u = to_urb(x);
	struct __kernel_timespec *ts = &u->ts[u->nq];
	struct io_uring_sqe *sqe = urb_sqe(u);

	ts_set(ts, exp);
	io_uring_prep_timeout(sqe, ts, 0, bf & BF_ABS ? IORING_TIMEOUT_ABS : 0);
	sqe->user_data = id + 1;
}

void urb_modify(struct bctx *x, unsigned int id, int64_t exp,
		unsigned int bf)
{
	struct urb *u = to_urb(x);
	struct __kernel_timespec *ts = &u->ts[u->nq];
	struct io_uring_sqe *sqe = urb_sqe(u);

	ts_set(ts, exp);
	io_uring_prep_timeout_update(sqe, ts, id + 1,
				     bf & BF_ABS ? IORING_TIMEOUT_ABS : 0);
	sqe->user_data = UD_TAG_UPD | id;
	u->expect++;
}

void urb_cancel(struct bctx *x, unsigned int id)
{
	struct urb *u = to_urb(x);
	struct io_uring_sqe *sqe = urb_sqe(u);

	io_uring_prep_timeout_remove(sqe, id + 1, 0);
	sqe->user_data = UD_TAG_REM | id;
	u->expect += 2;
}

void urb_submit(struct bctx *x)
{
	struct urb *u = to_urb(x);
	unsigned int got;
	int ret = io_uring_submit(&u->ring);

	if (ret < 0)
		die("io_uring submit: %s", strerror(-ret));
	if ((unsigned int)ret != u->nq)
		die("io_uring submit: %d of %u", ret, u->nq);
	/* errors of arms come back as CQEs at once */
	got = urb_reap(u, u->expect, NULL, NULL);
	if (got < u->expect)
		x->errors += u->expect - got;
	u->nq = 0;
	u->expect = 0;
}

unsigned int urb_consume(struct bctx *x, unsigned int want,
			 const int64_t *due, int64_t give_up)
{
	struct urb *u = to_urb(x);
	unsigned int fired = 0;

	while (fired < want) {
		unsigned int before = fired;

		urb_reap(u, 1, &fired, due);
		if (fired == before && now_ns() > give_up)
			break;
	}
	return fired;
}

void urb_rec_extra(struct bctx *x, const char *wl)
{
	if (!strcmp(wl, "arm"))
		rec_num("setup_flags", to_urb(x)->flags);
}

/* conn events per submit: each re-arm and cancel walks the list. */
unsigned int urb_conn_per(unsigned int b)
{
	unsigned int per = b / 2 < cfg.conn_sample ? b / 2 : cfg.conn_sample;

	return per ? per : 1;
}
