// SPDX-License-Identifier: GPL-2.0
/*
 * timerring batch submission: TIMERRING_IOC_SUBMIT here, and through
 * tr_submit_batch() the IORING_OP_URING_CMD path (uring_cmd.c).
 *
 * Before anything is applied, the caller probes the results array (and
 * the ioctl its submit struct) for writing, so that once ops are applied
 * their results can be written with put_user (which no fault injection
 * fails) and only another thread unmapping them can make that fail. Then
 * a batch of up to 65536 ops is handled in chunks of 256 ops (8 KiB):
 *
 *   1. copy the chunk in, from user memory or from an io_uring registered
 *      buffer (a fault ends the batch: done = ops before it);
 *   2. prepare it without the lock: validate every op and convert expiries
 *      and intervals to ticks (batch.c, or its SIMD kernels via simd.c),
 *      and clamp every id and opcode under speculation;
 *   3. back every id the chunk's valid ARMs and MODIFYs use with a table
 *      chunk (and an interval array for a periodic one), and set pool
 *      pages aside for them (may allocate);
 *   4. under the shard lock: run the wheel up to now (a small budget),
 *      apply the ops in order, post what became due, reprogram the hrtimer;
 *      the ops that need pool pages install them from those set aside;
 *   5. if a valid ARM or MODIFY failed (in step 3 or 4) or was not applied
 *      (STOP_ON_ERROR), free what step 3 allocated and no op used, so that
 *      failed ops keep no memory; the pool pages left over are kept as the
 *      pool's headroom only if every op step 3 backed succeeded;
 *   6. write the per-op results out.
 *
 * So the lock is held for 256 ops at a time (a few us), and expirations
 * keep flowing during a big batch. Submitters of one instance are
 * serialised by submit_mutex, taken killably, which also guards the chunk
 * buffer; a fatal signal ends the batch between chunks. CANCEL_ALL, and
 * the expiry after a chunk, take the lock for at most TR_PASS_BUDGET
 * (4096) entries or TR_HOLD_NS (100 us) at a time.
 *
 * A relative expiry is relative to the clock as read for its chunk, after
 * the chunk was copied in, so never before the caller's own clock read.
 *
 * A non-blocking batch (tr_batch_io.nonblock, io_uring's inline issue)
 * never sleeps: it is one chunk at most, takes submit_mutex only by
 * trylock, copies its ops in with page faults disabled, has no CANCEL_ALL
 * (O(armed timers), with cond_resched() in between) and needs no table
 * chunk, interval array or pool page. Where any of that does not hold it
 * returns -EAGAIN having applied nothing, and io_uring retries it from a
 * worker thread, blocking. Its results go through an iterator only
 * (res_iter: a registered buffer, or pages the caller holds), which
 * cannot fault (uring_cmd.c).
 */
#include <linux/pagemap.h>
#include <linux/nsproxy.h>
#include <linux/sched.h>
#include <linux/sched/clock.h>
#include <linux/sched/signal.h>
#include <linux/time_namespace.h>
#include <linux/uaccess.h>

#include "instance.h"
#include "submit.h"
#include "trace.h"

/* Offset of the caller's time namespace for this instance's clock. */
s64 tr_timens_offset(const struct tr_instance *inst)
{
#ifdef CONFIG_TIME_NS
	struct time_namespace *ns = current->nsproxy->time_ns;
	struct timespec64 ts = inst->clockid == CLOCK_BOOTTIME ?
			       ns->offsets.boottime : ns->offsets.monotonic;

	return timespec64_to_ns(&ts);
#else
	return 0;
#endif
}

struct tr_submit_state {
	u32 flags;
	u32 done;
	u32 failed;
	u32 kinds[TIMERRING_OP_LAST];
	bool stop;
	bool nonblock;
};

/*
 * CANCEL_ALL: O(armed), at most TR_PASS_BUDGET refs or TR_HOLD_NS (checked
 * every TR_HOLD_SLICE refs) per lock hold, the first hold counted from
 * @t0, when the chunk took the lock. In between, sh->cancelling keeps
 * the expiry path off the wheel, so that the op takes effect at one
 * instant: no timer it cancels fires meanwhile. Called and returns locked.
 */
int tr_cancel_all_locked(struct tr_shard *sh, u64 t0)
{
	struct tr_core *c = &sh->core;
	u32 n = 0, held = 0, budget = TR_HOLD_SLICE;

	while (!tr_cancel_all(c, &budget, &n)) {
		held += TR_HOLD_SLICE - budget;
		budget = TR_HOLD_SLICE;
		if (held < TR_PASS_BUDGET && local_clock() - t0 < TR_HOLD_NS)
			continue;
		sh->cancelling = true;
		spin_unlock_bh(&sh->lock);
		cond_resched();
		spin_lock_bh(&sh->lock);
		t0 = local_clock();
		held = 0;
	}
	sh->cancelling = false;
	return min_t(u32, n, S32_MAX);
}

/* Apply the chunk's ops, CANCEL_ALL included. Called and returns locked. */
static void tr_apply_locked(struct tr_instance *inst, struct tr_shard *sh,
			    u32 n, const struct tr_prep *prep,
			    struct tr_submit_state *st, int pool_err, u64 t0)
{
	struct tr_batch_buf *b = inst->buf;
	struct tr_core *c = &sh->core;
	struct tr_apply a = {
		.ops = b->ops,
		.out = &b->out,
		.prep = prep,
		.res = b->res,
		.n = n,
		.stop_on_error = st->flags & TIMERRING_SUBMIT_STOP_ON_ERROR,
	};
	u32 i = 0, k;

	while ((i = tr_apply(c, &a, i)) < n && !a.stop) {
		/* a CANCEL_ALL: tr_apply() leaves it to us */
		b->res[i] = tr_cancel_all_locked(sh, t0);
		a.kinds[TIMERRING_OP_CANCEL_ALL]++;
		trace_timerring_op(inst->inst_id, TIMERRING_OP_CANCEL_ALL, 0, 0,
				   0, b->res[i]);
		i++;
	}
	/* ops the pool had no room for: what growing it failed with */
	if (pool_err)
		for (k = 0; k < i; k++)
			if (b->res[k] == -ENOMEM && !b->out.verdict[k])
				b->res[k] = pool_err;
	for (k = 0; k < TIMERRING_OP_LAST; k++)
		st->kinds[k] += a.kinds[k];
	st->failed += a.failed;
	st->stop = a.stop;
	st->done += i;
}

/*
 * Fault @len bytes at @p in for writing without writing them (results
 * past done are left as they were); 0 or -EFAULT.
 */
int tr_probe_writable(void __user *p, size_t len)
{
	if (!p || !len)
		return 0;
	if (!access_ok(p, len) || fault_in_safe_writeable(p, len))
		return -EFAULT;
	return 0;
}

/* Write @n results to user memory already probed for writing. */
static int tr_put_results(s32 __user *ures, const s32 *res, u32 n)
{
	u32 i;

	if (!user_write_access_begin(ures, n * sizeof(*ures)))
		return -EFAULT;
	for (i = 0; i < n; i++)
		unsafe_put_user(res[i], &ures[i], efault);
	user_write_access_end();
	return 0;
efault:
	user_write_access_end();
	return -EFAULT;
}

/* Write @n results out, to user memory or through an iterator. */
static int tr_write_results(struct tr_batch_io *io, const s32 *res, u32 n)
{
	size_t len = n * sizeof(*res);
	int ret;

	if (io->res_iter)
		return copy_to_iter(res, len, io->res_iter) == len ? 0 : -EFAULT;
	if (!io->ures)
		return 0;
	ret = tr_put_results(io->ures, res, n);
	io->ures += n;
	return ret;
}

/*
 * Step 1: copy @n ops in. A fault is -EFAULT, or -EAGAIN for a
 * non-blocking batch (it would have to wait for the page).
 */
static int tr_copy_ops(struct tr_instance *inst, struct tr_batch_io *io,
		       u32 n, bool nonblock)
{
	size_t len = n * sizeof(struct timerring_op);
	unsigned long left;

	if (io->ops_iter)
		return copy_from_iter(inst->buf->ops, len, io->ops_iter) == len ?
		       0 : -EFAULT;
	if (nonblock)
		pagefault_disable();
	left = copy_from_user(inst->buf->ops, io->uops, len);
	if (nonblock)
		pagefault_enable();
	if (left)
		return nonblock ? -EAGAIN : -EFAULT;
	io->uops += n;
	return 0;
}

/* The ARMs and MODIFYs among the @n ops applied that succeeded. */
static u32 tr_ops_succeeded(const struct tr_batch_buf *b, u32 n)
{
	u32 i, ok = 0;

	for (i = 0; i < n; i++)
		ok += !b->out.verdict[i] && b->res[i] >= 0 &&
		      (b->ops[i].opcode == TIMERRING_OP_ARM ||
		       b->ops[i].opcode == TIMERRING_OP_MODIFY);
	return ok;
}

/*
 * Steps 2-6 for one chunk of n ops already copied in. -EAGAIN (only for a
 * non-blocking batch, with nothing applied) or the result of writing the
 * results out.
 */
static int tr_submit_chunk(struct tr_instance *inst, u32 n,
			   struct tr_submit_state *st, s64 ns_off,
			   struct tr_batch_io *io)
{
	struct tr_batch_buf *b = inst->buf;
	struct tr_shard *sh = &inst->shard;
	struct tr_core *c = &sh->core;
	struct tr_prep prep = {
		.now_ns = tr_clock_now(inst),
		.ns_off = ns_off,
		.res_ns = c->res_ns,
		.max_ids = c->max_ids,
	};
	u32 i, posted, budget, done0 = st->done, valid = 0, backed = 0, ok;
	u32 nfree;
	void *spare[TR_POOL_SPARE_MAX];
	int pool_err;
	u64 t0;

	WRITE_ONCE(inst->last_impl, tr_prep(&prep, b->ops, n, &b->out));

	memset(b->fresh, 0, n);
	for (i = 0; i < n; i++) {
		struct timerring_op *op = &b->ops[i];
		int ret;

		tr_op_clamp(c, op);
		if (b->out.verdict[i] || op->opcode == TIMERRING_OP_CANCEL)
			continue;
		if (op->opcode == TIMERRING_OP_CANCEL_ALL) {
			if (st->nonblock)
				return -EAGAIN;
			continue;
		}
		valid++;
		ret = tr_ensure_chunk(sh, op->id, b->out.ival[i],
				      st->nonblock, &b->fresh[i]);
		if (ret == -EAGAIN)
			return ret;
		if (ret)
			b->out.verdict[i] = ret;
		else
			backed++;
	}

	pool_err = tr_ensure_pool(sh, backed, st->nonblock);
	if (pool_err == -EAGAIN)
		return pool_err;

	spin_lock_bh(&sh->lock);
	t0 = local_clock();
	tr_pass_begin(c, prep.now_ns);
	tr_simd_set_drain(c);
	budget = TR_SUBMIT_ADVANCE_BUDGET;
	tr_pass_expire(c, &budget);
	tr_apply_locked(inst, sh, n, &prep, st, pool_err, t0);
	ok = tr_ops_succeeded(b, st->done - done0);
	nfree = tr_pool_settle(sh, ok == backed, spare);
	/* what is left due is the hrtimer's */
	posted = tr_pass_finish(sh, t0);
	spin_unlock_bh(&sh->lock);
	tr_notify(inst, posted);

	tr_pool_free(sh, spare, nfree);
	for (i = 0; ok < valid && i < n; i++)
		if (b->fresh[i])
			tr_drop_fresh(sh, b->ops[i].id, b->fresh[i]);
	return tr_write_results(io, b->res, st->done - done0);
}

int tr_submit_batch(struct tr_instance *inst, struct tr_batch_io *io)
{
	struct tr_submit_state st = {
		.flags = io->flags,
		.nonblock = io->nonblock,
	};
	u64 t0 = ktime_get_ns();
	s64 ns_off;
	int ret = 0;
	u32 pos;

	io->done = 0;
	io->failed = 0;
	io->lost = 0;
	if (io->nonblock) {
		if (io->nr > TR_BATCH_CHUNK || !mutex_trylock(&inst->submit_mutex))
			return -EAGAIN;
	} else if (mutex_lock_killable(&inst->submit_mutex)) {
		return -EINTR;
	}
	ns_off = tr_timens_offset(inst);
	for (pos = 0; pos < io->nr && !st.stop; pos += TR_BATCH_CHUNK) {
		u32 n = min_t(u32, io->nr - pos, TR_BATCH_CHUNK);

		if (pos && fatal_signal_pending(current))
			break;
		ret = tr_copy_ops(inst, io, n, io->nonblock);
		if (ret)
			break;
		/* -EAGAIN (first chunk only), or the results were taken away */
		ret = tr_submit_chunk(inst, n, &st, ns_off, io);
		if (ret == -EAGAIN)
			break;
		if (ret) {
			io->lost = ret;
			ret = 0;
			break;
		}
	}
	/* a batch that failed as a whole changes no statistic either */
	if (!ret || st.done)
		WRITE_ONCE(inst->batches, inst->batches + 1);
	if (ret != -EAGAIN)
		trace_timerring_submit(inst->inst_id, io->nr, st.done, st.failed,
				       st.kinds, inst->last_impl,
				       ktime_get_ns() - t0);
	mutex_unlock(&inst->submit_mutex);

	io->done = st.done;
	io->failed = st.failed;
	return st.done ? 0 : ret;
}

long tr_ioctl_submit(struct tr_instance *inst, void __user *uarg,
		     size_t usize)
{
	struct timerring_submit __user *us = uarg;
	struct timerring_submit s;
	struct tr_batch_io io = { };
	int ret;

	ret = copy_struct_from_user(&s, sizeof(s), uarg, usize);
	if (ret)
		return ret;
	if (s.flags & ~TIMERRING_SUBMIT_ALL || s.resv[0] || s.resv[1] ||
	    s.nr > TIMERRING_BATCH_MAX)
		return -EINVAL;
	io.uops = u64_to_user_ptr(s.ops);
	io.ures = u64_to_user_ptr(s.results);
	io.nr = s.nr;
	io.flags = s.flags;
	/* From here on the outputs can be written: see the top of the file. */
	if (tr_probe_writable(io.ures, s.nr * sizeof(*io.ures)) ||
	    tr_probe_writable(us, usize))
		return -EFAULT;

	ret = tr_submit_batch(inst, &io);
	if (ret)
		return ret;
	if (put_user(io.done, &us->done) || put_user(io.failed, &us->failed))
		return -EFAULT;
	return io.lost;
}
