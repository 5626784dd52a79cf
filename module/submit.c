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
 *   2. prepare it without a lock: validate every op and convert expiries
 *      and intervals to ticks (batch.c, or its SIMD kernels via simd.c),
 *      clamp every id and opcode under speculation, and split the chunk
 *      into segments of one shard each (with several shards the ops are
 *      sorted by shard, stably, so that an id's ops keep their order;
 *      with STOP_ON_ERROR they stay in the order given, as runs);
 *   3. per segment, under its shard's mutex: back every id its valid ARMs
 *      and MODIFYs use with a table chunk (and an interval array for a
 *      periodic one), and set pool pages aside for them (may allocate);
 *   4. under the shard lock: run the wheel up to now (a small budget),
 *      apply the segment's ops in order, post what became due, reprogram
 *      the hrtimer; the ops that need pool pages install them from those
 *      set aside;
 *   5. if a valid ARM or MODIFY failed (in step 3 or 4) or was not applied
 *      (STOP_ON_ERROR), free what step 3 allocated and no op used, so that
 *      failed ops keep no memory; the pool pages left over are kept as the
 *      pool's headroom only if every op step 3 backed succeeded;
 *   6. write the per-op results out, in the order of the ops.
 *
 * So a shard lock is held for at most 256 ops at a time (a few us), and
 * expirations keep flowing during a big batch. A submitter holds one of
 * the instance's submit buffers (one per shard, taken killably: the first
 * free one, else the one of its CPU's slot) for its whole batch, and one
 * shard mutex at a time, taking the segments whose shard is free first:
 * two submitters of a sharded instance apply their chunks to different
 * shards at once, and the mutex of a shard orders them there. A fatal
 * signal ends the batch between chunks. CANCEL_ALL takes every shard's
 * mutex (under cancel_mutex) and, in each shard, the lock for at most
 * TR_PASS_BUDGET (4096) entries or TR_HOLD_NS (100 us) at a time; the
 * expiry after a segment holds it as long at most.
 *
 * A batch of more than one chunk to a sharded instance may instead be
 * applied in parallel, by the submitter and workers, each doing steps 1-6
 * for chunks of its own (submit_par.c, which says when); tr_chunk_prep(),
 * tr_seg_run() and tr_chunk_apply() are the steps both ways share.
 *
 * A relative expiry is relative to the clock as read for its chunk, after
 * the chunk was copied in, so never before the caller's own clock read.
 *
 * A non-blocking batch (tr_batch_io.nonblock, io_uring's inline issue)
 * never sleeps: it is one chunk at most, of one shard, takes its buffer
 * and that shard's mutex only by trylock, copies its ops in with page
 * faults disabled, has no CANCEL_ALL (O(armed timers), with cond_resched()
 * in between) and needs no table chunk, interval array or pool page. Where
 * any of that does not hold it returns -EAGAIN having applied nothing, and
 * io_uring retries it blocking. Its results go through an iterator only
 * (res_iter: a registered buffer, or pages the caller holds), which cannot
 * fault (uring_cmd.c).
 */
#include <linux/pagemap.h>
#include <linux/nsproxy.h>
#include <linux/sched.h>
#include <linux/sched/clock.h>
#include <linux/sched/signal.h>
#include <linux/time_namespace.h>
#include <linux/uaccess.h>

#include "instance.h"
#include "par.h"
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
int tr_put_results(s32 __user *ures, const s32 *res, u32 n)
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
 * Step 1: copy @n ops into @b. A fault is -EFAULT, or -EAGAIN for a
 * non-blocking batch (it would have to wait for the page).
 */
static int tr_copy_ops(struct tr_batch_buf *b, struct tr_batch_io *io,
		       u32 n, bool nonblock)
{
	size_t len = n * sizeof(struct timerring_op);
	unsigned long left;

	if (io->ops_iter)
		return copy_from_iter(b->ops, len, io->ops_iter) == len ?
		       0 : -EFAULT;
	if (nonblock)
		pagefault_disable();
	left = copy_from_user(b->ops, io->uops, len);
	if (nonblock)
		pagefault_enable();
	if (left)
		return nonblock ? -EAGAIN : -EFAULT;
	io->uops += n;
	return 0;
}

/*
 * CANCEL_ALL of the instance. Every shard's submitters are kept out (its
 * mutex, all of them under cancel_mutex) and its expiry path too
 * (cancelling) before the first timer goes, so that the op takes effect
 * at one instant in all shards. Returns the number of timers cancelled.
 */
static s32 tr_cancel_all_shards(struct tr_instance *inst)
{
	struct tr_shard *sh;
	u32 i, posted;
	u64 n = 0, t0;

	mutex_lock(&inst->cancel_mutex);
	for (i = 0; (sh = tr_shard_at(inst, i)); i++) {
		mutex_lock_nest_lock(&sh->mutex, &inst->cancel_mutex);
		spin_lock_bh(&sh->lock);
		sh->cancelling = true;
		spin_unlock_bh(&sh->lock);
	}
	for (i = 0; (sh = tr_shard_at(inst, i)); i++) {
		spin_lock_bh(&sh->lock);
		t0 = local_clock();
		tr_pass_begin(&sh->core, tr_clock_now(inst));
		tr_simd_set_drain(&sh->core);
		n += tr_cancel_all_locked(sh, t0);
		posted = tr_pass_finish(sh, t0);
		spin_unlock_bh(&sh->lock);
		tr_notify(inst, posted);
	}
	for (i = 0; (sh = tr_shard_at(inst, i)); i++)
		mutex_unlock(&sh->mutex);
	mutex_unlock(&inst->cancel_mutex);
	return min_t(u64, n, S32_MAX);
}

/* The ARMs and MODIFYs among ops [@start, @end) that succeeded. */
static u32 tr_ops_succeeded(const struct tr_batch_buf *b, u32 start, u32 end)
{
	u32 i, ok = 0;

	for (i = start; i < end; i++)
		ok += !b->out.verdict[i] && b->res[i] >= 0 &&
		      (b->ops[i].opcode == TIMERRING_OP_ARM ||
		       b->ops[i].opcode == TIMERRING_OP_MODIFY);
	return ok;
}

/*
 * Ops [g->start, g->end) of @b on their shard, under its lock: the apply
 * loop, and what growing the pool failed with (@pool_err) for the ops it
 * had no room for. Returns where it stopped.
 */
static u32 tr_seg_apply_locked(struct tr_shard *sh, struct tr_batch_buf *b,
			       const struct tr_seg *g,
			       const struct tr_prep *prep,
			       struct tr_submit_state *st, int pool_err)
{
	struct tr_apply a = {
		.ops = b->ops,
		.out = &b->out,
		.prep = prep,
		.res = b->res,
		.n = g->end,
		.stop_on_error = st->flags & TIMERRING_SUBMIT_STOP_ON_ERROR,
	};
	u32 i, k;

	i = tr_apply(&sh->core, &a, g->start);
	if (pool_err)
		for (k = g->start; k < i; k++)
			if (b->res[k] == -ENOMEM && !b->out.verdict[k])
				b->res[k] = pool_err;
	for (k = 0; k < TIMERRING_OP_LAST; k++)
		st->kinds[k] += a.kinds[k];
	st->failed += a.failed;
	st->stop = a.stop;
	st->done += i - g->start;
	return i;
}

/*
 * Steps 3-5 for segment @g of @b, under its shard's mutex: back the ids
 * of its valid ARMs and MODIFYs with memory, apply it in a pass of the
 * shard, and free what its failed ops allocated and no op used. -EAGAIN
 * with nothing applied if the mutex is taken and @try, or for a
 * non-blocking batch that would have to wait; else 0.
 */
int tr_seg_run(struct tr_instance *inst, struct tr_batch_buf *b,
	       const struct tr_seg *g, const struct tr_prep *prep,
	       struct tr_submit_state *st, bool try)
{
	struct tr_shard *sh = inst->shards[g->shard];
	struct tr_core *c = &sh->core;
	u32 i, end, valid = 0, backed = 0, ok, nfree, posted, budget;
	void *spare[TR_POOL_SPARE_MAX];
	int ret = 0, pool_err;
	u64 t0;

	if (!st->nonblock && !try)
		mutex_lock(&sh->mutex);
	else if (!mutex_trylock(&sh->mutex))
		return -EAGAIN;

	memset(b->fresh + g->start, 0, g->end - g->start);
	for (i = g->start; i < g->end; i++) {
		const struct timerring_op *op = &b->ops[i];

		if (b->out.verdict[i] || op->opcode == TIMERRING_OP_CANCEL)
			continue;
		valid++;
		ret = tr_ensure_chunk(sh, op->id, b->out.ival[i], st->nonblock,
				      &b->fresh[i]);
		if (ret == -EAGAIN)
			goto out;
		if (ret)
			b->out.verdict[i] = ret;
		else
			backed++;
	}
	pool_err = tr_ensure_pool(sh, backed, st->nonblock);
	ret = pool_err == -EAGAIN ? pool_err : 0;
	if (ret)
		goto out;

	spin_lock_bh(&sh->lock);
	t0 = local_clock();
	tr_pass_begin(c, prep->now_ns);
	tr_simd_set_drain(c);
	budget = TR_SUBMIT_ADVANCE_BUDGET;
	tr_pass_expire(c, &budget);
	end = tr_seg_apply_locked(sh, b, g, prep, st, pool_err);
	ok = tr_ops_succeeded(b, g->start, end);
	nfree = tr_pool_settle(sh, ok == backed, spare);
	/* what is left due is the hrtimer's */
	posted = tr_pass_finish(sh, t0);
	spin_unlock_bh(&sh->lock);
	tr_notify(inst, posted);

	tr_pool_free(sh, spare, nfree);
	for (i = g->start; ok < valid && i < g->end; i++)
		if (b->fresh[i])
			tr_drop_fresh(sh, b->ops[i].id, b->fresh[i]);
out:
	mutex_unlock(&sh->mutex);
	return ret;
}

/*
 * Segments [@from, @to) of @sp, of different shards and in any order
 * (sorted ones between CANCEL_ALLs), or one segment: first each one whose
 * shard's mutex is free, then the others, waiting for their mutex; so
 * that submitters of different shards do not queue behind each other.
 * A non-blocking batch has one segment. Returns tr_seg_run()'s error.
 */
static int tr_segs_run(struct tr_instance *inst, struct tr_batch_buf *v,
		       const struct tr_split *sp, u32 from, u32 to,
		       const struct tr_prep *prep, struct tr_submit_state *st)
{
	u64 left = to - from > 1 ? GENMASK_ULL(to - from - 1, 0) : 0;
	u32 i;
	int ret;

	if (!left)
		return tr_seg_run(inst, v, &sp->seg[from], prep, st, false);
	for (i = from; i < to; i++)
		if (!tr_seg_run(inst, v, &sp->seg[i], prep, st, true))
			left &= ~BIT_ULL(i - from);
	for (i = from; left && i < to; i++) {
		if (!(left & BIT_ULL(i - from)))
			continue;
		ret = tr_seg_run(inst, v, &sp->seg[i], prep, st, false);
		if (ret)
			return ret;
	}
	return 0;
}

/*
 * Step 2 for the @n ops of @b: prepare them as of @prep (now_ns is read
 * here) and clamp every id and opcode.
 */
void tr_chunk_prep(struct tr_instance *inst, struct tr_batch_buf *b, u32 n,
		   struct tr_prep *prep)
{
	const struct tr_core *c0 = &inst->shard.core;
	u32 i;

	prep->now_ns = tr_clock_now(inst);
	prep->res_ns = c0->res_ns;
	prep->max_ids = c0->max_ids;
	WRITE_ONCE(inst->last_impl, tr_prep(prep, b->ops, n, &b->out));
	for (i = 0; i < n; i++)
		tr_op_clamp(c0, &b->ops[i]);
}

/*
 * Steps 3-5 for the segments of @sp (a split of a chunk into @v), in
 * order: a CANCEL_ALL across the shards, the others as tr_segs_run()
 * takes them. Returns tr_seg_run()'s error.
 */
int tr_chunk_apply(struct tr_instance *inst, const struct tr_split *sp,
		   struct tr_batch_buf *v, bool sorted,
		   const struct tr_prep *prep, struct tr_submit_state *st)
{
	u32 i, end;
	int ret;

	for (i = 0; i < sp->nseg && !st->stop; i = end) {
		const struct tr_seg *g = &sp->seg[i];

		if (g->shard == TR_SEG_ALL) {
			v->res[g->start] = tr_cancel_all_shards(inst);
			st->kinds[TIMERRING_OP_CANCEL_ALL]++;
			st->done++;
			trace_timerring_op(inst->inst_id,
					   TIMERRING_OP_CANCEL_ALL, 0, 0, 0,
					   v->res[g->start]);
			end = i + 1;
			continue;
		}
		/* in order: one segment; sorted: those up to a CANCEL_ALL */
		for (end = i + 1; sorted && end < sp->nseg &&
		     sp->seg[end].shard != TR_SEG_ALL; end++)
			;
		ret = tr_segs_run(inst, v, sp, i, end, prep, st);
		if (ret)
			return ret;
	}
	return 0;
}

/*
 * Steps 2-6 for one chunk of @n ops copied into @sb. -EAGAIN (only for a
 * non-blocking batch, with nothing applied) or the result of writing the
 * results out.
 */
static int tr_submit_chunk(struct tr_instance *inst, struct tr_submit_buf *sb,
			   u32 n, struct tr_submit_state *st, s64 ns_off,
			   struct tr_batch_io *io)
{
	struct tr_batch_buf *b = &sb->b, *v;
	struct tr_prep prep = { .ns_off = ns_off };
	u32 i, done0 = st->done;
	int ret;

	tr_chunk_prep(inst, b, n, &prep);
	/* O(armed timers), with cond_resched() in between */
	for (i = 0; st->nonblock && i < n; i++)
		if (tr_op_seg(b, i, inst->nr_shards) == TR_SEG_ALL)
			return -EAGAIN;
	v = tr_split(&sb->split, b, sb->sorted, n, inst->nr_shards,
		     st->flags & TIMERRING_SUBMIT_STOP_ON_ERROR);
	/* a non-blocking batch holds one shard mutex, by trylock */
	if (st->nonblock && sb->split.nseg > 1)
		return -EAGAIN;
	ret = tr_chunk_apply(inst, &sb->split, v, v != b, &prep, st);
	if (ret)
		return ret;
	/* sorted: every op was applied (no STOP_ON_ERROR) */
	if (v != b)
		tr_split_unsort(&sb->split, v, b, n);
	return tr_write_results(io, b->res, st->done - done0);
}

/*
 * A submit buffer: a free one, else (blocking) the one of this CPU's
 * slot, waited for killably.
 */
static struct tr_submit_buf *tr_buf_get(struct tr_instance *inst,
					bool nonblock)
{
	u32 nr = inst->nr_shards, first = raw_smp_processor_id() % nr, i;
	struct tr_submit_buf *sb;

	for (i = 0; i < nr; i++) {
		sb = inst->bufs[(first + i) % nr];
		if (mutex_trylock(&sb->lock))
			return sb;
	}
	if (nonblock)
		return ERR_PTR(-EAGAIN);
	sb = inst->bufs[first];
	if (mutex_lock_killable(&sb->lock))
		return ERR_PTR(-EINTR);
	return sb;
}

int tr_submit_batch(struct tr_instance *inst, struct tr_batch_io *io)
{
	struct tr_submit_state st = {
		.flags = io->flags,
		.nonblock = io->nonblock,
	};
	struct tr_submit_buf *sb;
	u64 t0 = ktime_get_ns(), fixed_ns = 0;
	bool eligible;
	s64 ns_off;
	int ret = 0;
	u32 pos, way;

	io->done = 0;
	io->failed = 0;
	io->lost = 0;
	if (io->nonblock && io->nr > TR_BATCH_CHUNK)
		return -EAGAIN;
	sb = tr_buf_get(inst, io->nonblock);
	if (IS_ERR(sb))
		return PTR_ERR(sb);
	ns_off = tr_timens_offset(inst);
	way = tr_par_way(inst, io, &eligible);
	if (way == TR_TIER_PAR) {
		ret = tr_par_submit(inst, io, sb, ns_off, &st, &fixed_ns);
		if (ret == -EBUSY) {
			way = TR_TIER_INLINE;
			ret = 0;
		}
	}
	for (pos = 0; way == TR_TIER_INLINE && pos < io->nr && !st.stop;
	     pos += TR_BATCH_CHUNK) {
		u32 n = min_t(u32, io->nr - pos, TR_BATCH_CHUNK);

		if (pos && fatal_signal_pending(current))
			break;
		ret = tr_copy_ops(&sb->b, io, n, io->nonblock);
		if (ret)
			break;
		/* -EAGAIN (first chunk only), or the results were taken away */
		ret = tr_submit_chunk(inst, sb, n, &st, ns_off, io);
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
		atomic64_inc(&inst->batches);
	if (ret != -EAGAIN)
		trace_timerring_submit(inst->inst_id, io->nr, st.done, st.failed,
				       st.kinds, inst->last_impl,
				       ktime_get_ns() - t0);
	mutex_unlock(&sb->lock);
	if (eligible && st.done == io->nr)
		tr_par_learn(inst, way, io->nr, ktime_get_ns() - t0, fixed_ns);

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
