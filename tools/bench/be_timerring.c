// SPDX-License-Identifier: GPL-2.0
/*
 * timerring-bench: the timerring backends. They build the same struct
 * timerring_op and differ only in how a batch reaches the kernel:
 *
 *   ioctl	TIMERRING_IOC_SUBMIT, one call per batch
 *   uring_cmd	IORING_OP_URING_CMD (TIMERRING_URING_CMD_SUBMIT), the ops
 *		in a registered buffer, one io_uring_enter() per batch; a
 *		batch goes as commands of 256 ops, the most an inline issue
 *		applies (a longer one would go to an io-wq worker), linked
 *		(IOSQE_IO_LINK) so that they apply in order. The ring has
 *		32-byte CQEs: big_cqe[0] is the failed count
 *   sq		the SQ ring, and its doorbell (TIMERRING_IOC_SQ_ENTER) once
 *		per batch; submit returns once the kernel's head has caught
 *		up with the tail
 *   sqpoll	the SQ ring with no doorbell unless the kernel set
 *		TIMERRING_SQ_NEED_WAKEUP: its polling passes consume the ops.
 *		submit only publishes; sync waits until head catches up, and
 *		a full ring is waited on the same way
 *
 * Instances without an SQ ring have --shards shards (params.shards, a
 * VER2 field; 0 is one), the shards workload its own (trb_open_shards());
 * trb_clone() gives another submitter of the same instance, for threads.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/uio.h>

#include <liburing.h>
#include "timerring.h"
#include "bench.h"

/* The most ops io_uring's inline issue of a URING_CMD applies. */
#define UCMD_CHUNK	256

struct trb {
	struct bctx x;
	struct timerring tr;
	struct timerring_op *ops;	/* the batch (not with the SQ ring) */
	__s32 *res;
	unsigned int nq;		/* ops queued in the batch */
	bool sq;			/* ops go to the SQ ring */
	bool fixed;			/* uring_cmd: ops in a registered buffer */
	struct io_uring ring;		/* uring_cmd */
	bool ring_up;
	unsigned int stale;		/* expirations of an older arm */
	unsigned int stalls;		/* SQ head stuck without NEED_WAKEUP */
	unsigned long long sq_failed;	/* SQ error CQEs already counted */
	unsigned long long sq_enters;	/* doorbells already reported */
	bool clone;			/* submits to another trb's instance */
};

static struct trb *to_trb(struct bctx *x)
{
	return (struct trb *)x;
}

static struct trb *trb_new(int sys, unsigned int n, unsigned int bmax,
			   bool sq, unsigned int shards, unsigned int flags)
{
	struct timerring_params p;
	struct trb *t = xcalloc(1, sizeof(*t));
	int ret;

	memset(&p, 0, sizeof(p));
	p.max_timers = n;
	p.cq_entries = cfg.cq_entries;
	p.clockid = CLOCK_MONOTONIC;
	p.flags = TIMERRING_SETUP_CLAMP | flags;
	p.numa_node = TIMERRING_NODE_CURRENT;
	if (sq) {
		p.flags |= TIMERRING_SETUP_SQ;
		p.sq_entries = TIMERRING_SQ_ENTRIES_MAX;
	} else {
		p.shards = shards;
	}
	ret = timerring_open(&t->tr, &p);
	if (ret < 0)
		goto fail;
	ret = -E2BIG;
	if (p.max_timers < n || (sq && p.sq_entries < bmax) ||
	    (!sq && shards > 1 && p.shards != shards))
		goto fail_close;
	t->x.sys = sys;
	t->x.n = n;
	t->x.bmax = bmax;
	t->sq = sq;
	if (!sq) {
		t->ops = xcalloc(bmax, sizeof(*t->ops));
		t->res = xcalloc(bmax, sizeof(*t->res));
	}
	return t;
fail_close:
	timerring_close(&t->tr);
fail:
	free(t);
	errno = -ret;
	return NULL;
}

struct bctx *trb_open_ioctl(int sys, unsigned int n, unsigned int bmax)
{
	struct trb *t = trb_new(sys, n, bmax, false, cfg.shards, 0);

	return t ? &t->x : NULL;
}

struct bctx *trb_open_ucmd(int sys, unsigned int n, unsigned int bmax)
{
	struct trb *t = trb_new(sys, n, bmax, false, cfg.shards, 0);
	struct iovec iov;
	int ret;

	if (!t)
		return NULL;
	ret = io_uring_queue_init(2 * (bmax / UCMD_CHUNK + 1), &t->ring,
				  IORING_SETUP_CQE32);
	if (ret < 0) {
		trb_close(&t->x);
		errno = -ret;
		return NULL;
	}
	t->ring_up = true;
	iov.iov_base = t->ops;
	iov.iov_len = (size_t)bmax * sizeof(*t->ops);
	t->fixed = !io_uring_register_buffers(&t->ring, &iov, 1);
	return &t->x;
}

/*
 * Arm every id once and cancel them all, through the ioctl: the id table
 * chunks and the wheel's ref pool the instance needs for n timers are
 * then allocated (they stay until close), so that no op measured later
 * allocates.
 */
static void trb_warm(struct trb *t)
{
	struct timerring_op *ops = xcalloc(1024, sizeof(*ops));
	unsigned int i, j, n, done, failed;
	int ret;

	for (i = 0; i < t->x.n; i += n) {
		n = t->x.n - i < 1024 ? t->x.n - i : 1024;
		for (j = 0; j < n; j++)
			timerring_op_arm(&ops[j], i + j, FAR_MIN_NS, 0, 0, 0);
		ret = timerring_submit(&t->tr, ops, n, NULL, 0, &done, &failed);
		if (ret < 0 || done != n || failed)
			die("timerring warm-up arm: %d, %u of %u done, %u failed",
			    ret, done, n, failed);
	}
	timerring_op_cancel_all(&ops[0]);
	ret = timerring_submit(&t->tr, ops, 1, NULL, 0, &done, &failed);
	if (ret < 0 || done != 1 || failed)
		die("timerring warm-up cancel: %d", ret);
	free(ops);
}

struct bctx *trb_open_warm(int sys, unsigned int n, unsigned int bmax)
{
	struct trb *t = trb_new(sys, n, bmax, false, cfg.shards, 0);

	if (t)
		trb_warm(t);
	return t ? &t->x : NULL;
}

/*
 * An instance of @shards shards (ioctl) with the SETUP flags @flags (the
 * way of its big batches), warmed if @warm.
 */
struct bctx *trb_open_shards(int sys, unsigned int n, unsigned int bmax,
			     unsigned int shards, unsigned int flags, bool warm)
{
	struct trb *t = trb_new(sys, n, bmax, false, shards, flags);

	if (t && warm)
		trb_warm(t);
	return t ? &t->x : NULL;
}

/*
 * Another submitter of @x's instance (ioctl): its own batch, the same
 * fd, for a thread of its own. Closing it leaves the instance open.
 */
struct bctx *trb_clone(struct bctx *x)
{
	struct trb *o = to_trb(x), *t = xcalloc(1, sizeof(*t));

	if (o->sq || o->ring_up)
		die("trb_clone: ioctl instances only");
	t->x = o->x;
	t->x.errors = 0;
	t->tr = o->tr;
	t->ops = xcalloc(o->x.bmax, sizeof(*t->ops));
	t->res = xcalloc(o->x.bmax, sizeof(*t->res));
	t->clone = true;
	return &t->x;
}

unsigned int trb_shards(struct bctx *x)
{
	return timerring_nr_shards(&to_trb(x)->tr);
}

struct bctx *trb_open_sq(int sys, unsigned int n, unsigned int bmax)
{
	struct trb *t = trb_new(sys, n, bmax, true, 0, 0);

	if (t)
		trb_warm(t);
	return t ? &t->x : NULL;
}

struct bctx *trb_open_sq_cold(int sys, unsigned int n, unsigned int bmax)
{
	struct trb *t = trb_new(sys, n, bmax, true, 0, 0);

	return t ? &t->x : NULL;
}

void trb_close(struct bctx *x)
{
	struct trb *t = to_trb(x);

	if (t->ring_up)
		io_uring_queue_exit(&t->ring);
	if (!t->clone)
		timerring_close(&t->tr);
	free(t->ops);
	free(t->res);
	free(t);
}

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

/*
 * Drop the CQEs (of failed SQ ops: nothing expires while ops are
 * measured), so that the CQ ring has room; the failures are counted from
 * the stats (trb_count_errors()).
 */
static void sq_drain(struct trb *t)
{
	timerring_cq_advance(&t->tr, timerring_cq_ready(&t->tr));
}

/*
 * Until the kernel consumed every op published: spin on head, ringing the
 * doorbell only when the kernel stopped polling. A full CQ ring would hold
 * the SQ ring back: make room. A head that does not move for 5 s with
 * NEED_WAKEUP clear breaks the ring's promise: logged, counted ("stalls")
 * and rung.
 */
static void sq_wait(struct trb *t)
{
	unsigned int spins = 0, head = *t->tr.sq.khead, h;
	int64_t since = 0;

	while (timerring_sq_flush(&t->tr)) {
		if (timerring_sq_needs_enter(&t->tr)) {
			if (timerring_sq_enter(&t->tr) < 0)
				die("timerring SQ enter: %m");
			continue;
		}
		cpu_relax();
		if (++spins % 4096)
			continue;
		if (timerring_cq_ready(&t->tr) >= t->tr.cq.ring_entries)
			sq_drain(t);
		h = timerring_load_acquire(t->tr.sq.khead);
		if (h != head || !since) {
			head = h;
			since = now_ns();
		} else if (now_ns() - since > 5 * NSEC) {
			log_msg("%s: SQ head stuck at %u, tail %u, flags %#x, "
				"CQ ready %u: doorbell", t->x.be->name, h,
				t->tr.sq.tail, *t->tr.sq.kflags,
				timerring_cq_ready(&t->tr));
			t->stalls++;
			if (timerring_sq_enter(&t->tr) < 0)
				die("timerring SQ enter: %m");
			since = 0;
		}
	}
}

static struct timerring_op *trb_slot(struct trb *t)
{
	struct timerring_op *op;

	if (!t->sq)
		return &t->ops[t->nq++];
	while (!(op = timerring_get_op(&t->tr)))
		sq_wait(t);
	return op;
}

static unsigned int opf(unsigned int bf)
{
	return (bf & BF_ABS ? TIMERRING_OPF_ABS : 0) |
	       (bf & BF_SLACK ? TIMERRING_OPF_SLACK : 0);
}

void trb_arm(struct bctx *x, unsigned int id, int64_t exp, unsigned int bf)
{
	timerring_op_arm(trb_slot(to_trb(x)), id, exp, opf(bf), id + 1, 0);
}

void trb_modify(struct bctx *x, unsigned int id, int64_t exp,
		unsigned int bf)
{
	timerring_op_modify(trb_slot(to_trb(x)), id, exp, opf(bf), id + 1, 0);
}

void trb_cancel(struct bctx *x, unsigned int id)
{
	timerring_op_cancel(trb_slot(to_trb(x)), id);
}

void trb_submit_ioctl(struct bctx *x)
{
	struct trb *t = to_trb(x);
	unsigned int done = 0, failed = 0, n = t->nq;
	int ret = timerring_submit(&t->tr, t->ops, n, t->res, 0, &done,
				   &failed);

	if (ret < 0)
		die("timerring submit: %s", strerror(-ret));
	if (done != n)
		die("timerring submit: %u of %u done", done, n);
	x->errors += failed;
	t->nq = 0;
}

void trb_submit_ucmd(struct bctx *x)
{
	struct trb *t = to_trb(x);
	struct io_uring_cqe *cqe;
	unsigned int i, nsqe = 0, nr;
	int ret;

	for (i = 0; i < t->nq; i += nr) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&t->ring);
		struct timerring_uring_cmd *c;

		if (!sqe)
			die("timerring uring_cmd: SQ full");
		c = (void *)sqe->cmd;
		nr = t->nq - i < UCMD_CHUNK ? t->nq - i : UCMD_CHUNK;
		memset(sqe, 0, sizeof(*sqe));
		sqe->opcode = IORING_OP_URING_CMD;
		sqe->fd = t->tr.fd;
		sqe->cmd_op = TIMERRING_URING_CMD_SUBMIT;
		sqe->user_data = nr;
		if (t->fixed) {
			sqe->uring_cmd_flags = IORING_URING_CMD_FIXED;
			sqe->buf_index = 0;
		}
		c->addr = (uintptr_t)&t->ops[i];
		c->nr = nr;
		/*
		 * In order: a command that cannot be applied inline goes to
		 * io-wq and would otherwise be overtaken by the next one.
		 */
		if (i + nr < t->nq)
			sqe->flags |= IOSQE_IO_LINK;
		nsqe++;
	}
	ret = io_uring_submit_and_wait(&t->ring, nsqe);
	if (ret < 0)
		die("timerring uring_cmd submit: %s", strerror(-ret));
	if ((unsigned int)ret != nsqe)
		die("timerring uring_cmd submit: %d of %u", ret, nsqe);
	for (i = 0; i < nsqe; i++) {
		ret = io_uring_wait_cqe(&t->ring, &cqe);
		if (ret < 0)
			die("timerring uring_cmd wait: %s", strerror(-ret));
		if (cqe->res != (int)cqe->user_data)
			die("timerring uring_cmd: res %d of %llu ops", cqe->res,
			    (unsigned long long)cqe->user_data);
		x->errors += cqe->big_cqe[0];
		io_uring_cqe_seen(&t->ring, cqe);
	}
	t->nq = 0;
}

void trb_submit_sq(struct bctx *x)
{
	struct trb *t = to_trb(x);

	timerring_sq_flush(&t->tr);
	if (timerring_sq_enter(&t->tr) < 0)
		die("timerring SQ enter: %m");
	sq_wait(t);
}

void trb_submit_sqpoll(struct bctx *x)
{
	struct trb *t = to_trb(x);

	if (timerring_sq_submit(&t->tr) < 0)
		die("timerring SQ submit: %m");
}

void trb_sync_sq(struct bctx *x)
{
	sq_wait(to_trb(x));
}

/*
 * Consume @want CQEs (or until 30 s pass without one), from the ring of
 * every shard in turn, each read up to its tail as it moves.
 */
unsigned int trb_consume(struct bctx *x, unsigned int want,
			 const int64_t *due, int64_t give_up)
{
	struct trb *t = to_trb(x);
	unsigned int got = 0, head, k, nr = timerring_nr_shards(&t->tr);
	struct io_uring_cqe *cqe;

	(void)give_up;
	while (got < want) {
		int ret = timerring_wait(&t->tr, 1, 30 * NSEC);
		int64_t now;

		if (ret == -ETIME)
			break;
		if (ret < 0 && ret != -EINTR)
			die("timerring wait: %s", strerror(-ret));
		now = due ? now_ns() : 0;
		for (k = 0; k < nr; k++) {
			struct timerring_cq *cq = timerring_shard_cq(&t->tr, k);

			for (head = *cq->khead;
			     head != timerring_load_acquire(cq->ktail); head++) {
				uint32_t id;

				cqe = &cq->cqes[head & cq->ring_mask];
				if (timerring_cqe_is_sq_err(cqe))
					continue;	/* trb_count_errors() */
				id = timerring_cqe_id(cqe);
				if (due && got < N && id < N)
					lat[got] = now - due[id];
				if (cqe->user_data != id + 1)
					t->stale++;
				got++;
			}
			timerring_store_release(cq->khead, head);
		}
	}
	return got;
}

static void trb_get_stats(struct trb *t, struct timerring_stats *st)
{
	memset(st, 0, sizeof(*st));
	timerring_stats(&t->tr, st);
}

unsigned long long trb_armed_now(struct bctx *x)
{
	struct timerring_stats st;

	trb_get_stats(to_trb(x), &st);
	return st.armed_now;
}

double trb_mem_bytes(struct bctx *x)
{
	struct timerring_stats st;

	trb_get_stats(to_trb(x), &st);
	return (double)st.mem_bytes;
}

/*
 * The error CQEs of the SQ ring waiting in the CQ ring (nothing else is
 * there while ops are measured): the most common errno and its count.
 */
static void sq_rec_errors(struct trb *t)
{
	unsigned int cnt[256] = { 0 }, head, seen = 0, e, best = 0;
	struct io_uring_cqe *cqe;

	timerring_for_each_cqe(&t->tr, head, cqe) {
		seen++;
		if (!timerring_cqe_is_sq_err(cqe) || cqe->res >= 0)
			continue;
		e = -cqe->res < 256 ? -cqe->res : 255;
		cnt[e]++;
		if (cnt[e] > cnt[best])
			best = e;
	}
	timerring_cq_advance(&t->tr, seen);
	if (cnt[best]) {
		rec_num("sq_err_errno", best);
		rec_num("sq_err_count", cnt[best]);
	}
}

/*
 * Keys of the timerring records: the herd's stale CQEs and overflow
 * counters, the spread's resolution, the batch kernel after an arm pass;
 * through the SQ ring, the doorbells since the previous record.
 */
void trb_rec_extra(struct bctx *x, const char *wl)
{
	struct trb *t = to_trb(x);
	struct timerring_stats st;

	trb_get_stats(t, &st);
	if (!strcmp(wl, "herd")) {
		rec_num("stale", t->stale);
		rec_num("overflowed", st.overflowed_total);
		rec_num("dropped", st.dropped_total);
	} else if (!strcmp(wl, "spread")) {
		rec_num("resolution_us", t->tr.params.resolution_ns / 1e3);
	} else if (!strcmp(wl, "impl")) {
		rec_num("impl", st.impl);	/* TIMERRING_IMPL_* in use */
	}
	if (t->sq && strcmp(wl, "impl")) {
		sq_rec_errors(t);
		rec_num("stalls", t->stalls);
		rec_num("doorbells", st.sq_enter_total - t->sq_enters);
		t->sq_enters = st.sq_enter_total;
	}
	if (t->fixed && !strcmp(wl, "arm"))
		rec_num("fixed_buffer", 1);
	/* the shards workload records its own */
	if (timerring_nr_shards(&t->tr) > 1 && strncmp(wl, "shards", 6))
		rec_num("shards", timerring_nr_shards(&t->tr));
}

/* Before a record with the error count: the SQ ring's failed ops. */
void trb_count_errors(struct bctx *x)
{
	struct trb *t = to_trb(x);
	struct timerring_stats st;

	if (!t->sq)
		return;
	trb_get_stats(t, &st);
	x->errors += st.sq_failed_total - t->sq_failed;
	t->sq_failed = st.sq_failed_total;
}
