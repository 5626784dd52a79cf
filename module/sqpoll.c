// SPDX-License-Identifier: GPL-2.0
/*
 * timerring submission ring: its consumer (the ring reader is sq.c).
 *
 * Ops published to the SQ ring are applied by whoever comes first:
 *
 *   - every pass of the expiry path (tr_run(): the hrtimer's soft-IRQ or
 *     the instance's work item) applies one step, at most 256 ops, after
 *     reading the clock and before it expires anything; ops left over make
 *     the pass continue from the work item;
 *   - the doorbell (TIMERRING_IOC_SQ_ENTER, or the URING_CMD of the same
 *     name) applies steps until the ring is empty, at most one ring's
 *     worth, each in a lock hold of its own, and expires what they made due.
 *
 * A step fetches up to 256 ops into the instance's own buffer (each op is
 * read from shared memory once), prepares them with the batch kernels as
 * SUBMIT does, and applies in order those that need no allocation
 * (tr_sq_applicable()): an op failing posts an error CQE, and an op is
 * fetched only if the CQ ring has a free slot for it. The first op that
 * needs a table chunk, an interval array or a pool page, or a CANCEL_ALL,
 * blocks the consumer: the step stops there, and the holder of the
 * shard's mutex (the doorbell, or the work item, which the pass queues)
 * applies that op alone, allocating outside the lock as SUBMIT does, then
 * unblocks it. Ops are thus applied strictly in ring order, and no op is
 * ever applied twice or skipped.
 *
 * The room in the ref pool that a SUBMIT chunk set pages aside for
 * (tr_ensure_pool()) is left to it (tr_core.refs_held): the consumer runs
 * in soft-IRQ between that chunk's allocation and its ops.
 *
 * Polling. With ops coming, the hrtimer is kept programmed at most one
 * poll period (max(resolution, 100 us)) ahead, so ops published are
 * applied within a poll period without a syscall, until sq_idle_ms pass
 * without an op. Then the pass sets TIMERRING_SQ_NEED_WAKEUP and the
 * hrtimer goes back to serving due timers only. At 1 ms resolution an
 * instance polling costs one hrtimer expiry and one empty step (a load of
 * tail) per millisecond.
 *
 * Memory for an op applied by the work item is charged to the memory
 * cgroup of the task that called SETUP (set_active_memcg()), as the same
 * op through SUBMIT would have been from that task.
 */
#include <linux/memcontrol.h>
#include <linux/sched/clock.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>

#include "instance.h"
#include "sqpoll.h"
#include "submit.h"
#include "trace.h"

/* Checks of the SQ fields of SETUP's @p, given in @usize bytes. */
int tr_sqpoll_check(struct timerring_params *p, size_t usize)
{
	bool clamp = p->flags & TIMERRING_SETUP_CLAMP;

	memset(&p->sq_off, 0, sizeof(p->sq_off));
	if (!(p->flags & TIMERRING_SETUP_SQ))
		return p->sq_entries || p->sq_idle_ms ? -EINVAL : 0;
	if (usize < TIMERRING_PARAMS_SIZE_VER1)
		return -EINVAL;
	if (!p->sq_entries)
		p->sq_entries = min(p->cq_entries, TIMERRING_SQ_ENTRIES_MAX);
	if (p->sq_entries < TIMERRING_SQ_ENTRIES_MIN ||
	    p->sq_entries > TIMERRING_SQ_ENTRIES_MAX) {
		if (!clamp)
			return -EINVAL;
		p->sq_entries = clamp(p->sq_entries, TIMERRING_SQ_ENTRIES_MIN,
				      TIMERRING_SQ_ENTRIES_MAX);
	}
	p->sq_entries = roundup_pow_of_two(p->sq_entries);
	if (!p->sq_idle_ms)
		p->sq_idle_ms = TIMERRING_SQ_IDLE_MS_DEFAULT;
	if (p->sq_idle_ms > TIMERRING_SQ_IDLE_MS_MAX)
		return -EINVAL;
	return 0;
}

/* The mapping's size with the SQ ring of @p after @cq_bytes of CQ ring. */
size_t tr_sqpoll_layout(struct timerring_params *p, size_t cq_bytes)
{
	size_t end;

	if (!(p->flags & TIMERRING_SETUP_SQ))
		return cq_bytes;
	tr_sq_layout(p->sq_entries, ALIGN(cq_bytes, 64), &p->sq_off, &end);
	return end;
}

/* What tr_sqpoll_alloc() allocates, as charged (the ring is the map's). */
size_t tr_sqpoll_bytes(const struct timerring_params *p)
{
	if (!(p->flags & TIMERRING_SETUP_SQ))
		return 0;
	return tr_alloc_bytes(sizeof(struct tr_sqpoll)) +
	       tr_alloc_bytes(sizeof(struct tr_batch_buf)) +
	       tr_alloc_bytes(TR_BATCH_CHUNK * sizeof(struct timerring_op));
}

int tr_sqpoll_alloc(struct tr_instance *inst, const struct timerring_params *p)
{
	struct tr_sqpoll *sp;

	if (!(p->flags & TIMERRING_SETUP_SQ))
		return 0;
	sp = kzalloc_node(sizeof(*sp), TR_GFP, inst->node);
	if (!sp)
		return -ENOMEM;
	sp->buf = kvmalloc_node(sizeof(*sp->buf), TR_GFP, inst->node);
	sp->raw = kvmalloc_node(TR_BATCH_CHUNK * sizeof(*sp->raw), TR_GFP,
				inst->node);
	if (!sp->buf || !sp->raw) {
		kvfree(sp->buf);
		kvfree(sp->raw);
		kfree(sp);
		return -ENOMEM;
	}
	inst->sqp = sp;
	return 0;
}

/* Once the ring is mapped into the kernel, as the instance goes live. */
void tr_sqpoll_init(struct tr_instance *inst, const struct timerring_params *p)
{
	struct tr_sqpoll *sp = inst->sqp;

	if (!sp)
		return;
	tr_sq_init(&sp->ring, inst->ring, p->sq_entries, &p->sq_off);
	tr_sq_set_wakeup(&sp->ring, true);
	sp->poll_ns = max_t(u64, p->resolution_ns, TIMERRING_SQ_POLL_NS_MIN);
	sp->poll_ticks = div64_u64(sp->poll_ns + p->resolution_ns - 1,
				   p->resolution_ns);
	sp->idle_ns = (u64)p->sq_idle_ms * NSEC_PER_MSEC;
	sp->ns_off = tr_timens_offset(inst);
	if (current->mm)
		sp->memcg = get_mem_cgroup_from_mm(current->mm);
}

void tr_sqpoll_free(struct tr_instance *inst)
{
	struct tr_sqpoll *sp = inst->sqp;

	if (!sp)
		return;
	mem_cgroup_put(sp->memcg);
	kvfree(sp->raw);
	kvfree(sp->buf);
	kfree(sp);
	inst->sqp = NULL;
}

/* The error CQE of the op @i of the buffer, read at ring index @idx. */
static void tr_sq_post_err(struct tr_core *c, const struct timerring_op *op,
			   s32 res, u32 idx)
{
	tr_cq_post_err(&c->cq, op->user_data, res,
		       TIMERRING_CQE_F_SQ_ERR |
		       (u32)op->opcode << TIMERRING_CQE_OPCODE_SHIFT |
		       (idx & 0xffff) << TIMERRING_CQE_GEN_SHIFT);
}

/*
 * The first @k ops fetched, applied with their results in buf->res: post
 * the error CQEs (with the op as read: its opcode unclamped), move the
 * ring's head past them, and shift the ops left over to the front.
 */
static void tr_sq_retire(struct tr_instance *inst, u32 k, u32 failed)
{
	struct tr_sqpoll *sp = inst->sqp;
	struct tr_batch_buf *b = sp->buf;
	struct tr_core *c = &inst->shard.core;
	u32 i, bad = 0;

	for (i = 0; failed && i < k; i++) {
		if (b->res[i] >= 0)
			continue;
		tr_sq_post_err(c, &sp->raw[i], b->res[i], sp->ring.head + i);
		bad += b->res[i] == -EINVAL || b->res[i] == -ERANGE;
	}
	tr_sq_commit(&sp->ring, k, bad);
	sp->n -= k;
	memmove(sp->raw, sp->raw + k, sp->n * sizeof(sp->raw[0]));
	sp->ops_total += k;
	sp->failed_total += failed;
	trace_timerring_sq(inst->inst_id, k, failed, sp->n);
}

/*
 * Prepare a copy of the first @n ops fetched at instance clock @now: the
 * copy in buf is clamped for the apply loop, the ops as read stay.
 */
static void tr_sq_prep(struct tr_instance *inst, struct tr_prep *prep, u32 n,
		       u64 now)
{
	struct tr_sqpoll *sp = inst->sqp;
	struct tr_batch_buf *b = sp->buf;
	struct tr_core *c = &inst->shard.core;
	u32 i;

	memcpy(b->ops, sp->raw, n * sizeof(b->ops[0]));
	*prep = (struct tr_prep){
		.now_ns = now,
		.ns_off = sp->ns_off,
		.res_ns = c->res_ns,
		.max_ids = c->max_ids,
	};
	WRITE_ONCE(inst->last_impl, tr_prep(prep, b->ops, n, &b->out));
	for (i = 0; i < n; i++)
		tr_op_clamp(c, &b->ops[i]);
}

/*
 * One step, under the lock in a pass begun by the caller: fetch ops if
 * the buffer is empty, apply those that need no allocation, as many as
 * the CQ ring has room for. Returns how many were applied.
 */
static u32 tr_sq_step(struct tr_instance *inst)
{
	struct tr_sqpoll *sp = inst->sqp;
	struct tr_batch_buf *b = sp->buf;
	struct tr_core *c = &inst->shard.core;
	struct tr_prep prep;
	struct tr_apply a = { };
	u32 n, k;

	if (sp->blocked)
		return 0;
	if (!sp->n) {
		n = min3(tr_sq_avail(&sp->ring), c->cq.space,
			 (u32)TR_BATCH_CHUNK);
		if (!n)
			return 0;
		tr_sq_fetch(&sp->ring, sp->raw, n);
		sp->n = n;
	}
	n = min(sp->n, c->cq.space);
	if (!n)
		return 0;
	/*
	 * The pass read the clock before tail: read it again, so that an
	 * op published in between is not relative to a time before it.
	 */
	tr_sq_prep(inst, &prep, n, max(c->now_ns, tr_clock_now(inst)));
	k = tr_sq_applicable(c, b->ops, &b->out, n);
	a.ops = b->ops;
	a.out = &b->out;
	a.prep = &prep;
	a.res = b->res;
	a.n = k;
	tr_apply(c, &a, 0);
	tr_sq_retire(inst, k, a.failed);
	WRITE_ONCE(sp->blocked, k < n);
	return k;
}

/*
 * After the steps of a pass or doorbell that applied @applied ops: keep
 * polling while ops come, and set NEED_WAKEUP once sq_idle_ms went by
 * without one. The full barrier between setting the flag and reading
 * tail again pairs with the producer's between storing tail and reading
 * the flag: either it sees the flag, or this sees its ops.
 */
static void tr_sq_idle(struct tr_instance *inst, u32 applied)
{
	struct tr_sqpoll *sp = inst->sqp;
	u64 now = inst->shard.core.now_ns;

	if (applied || sp->n) {
		sp->poll_until = now + sp->idle_ns;
		if (sp->ring.flags)
			tr_sq_set_wakeup(&sp->ring, false);
		return;
	}
	if (sp->ring.flags || now < sp->poll_until)
		return;
	tr_sq_set_wakeup(&sp->ring, true);
	/* the flag before tail: pairs with the producer's tail, then flags */
	smp_mb();
	if (tr_sq_avail(&sp->ring)) {
		tr_sq_set_wakeup(&sp->ring, false);
		sp->poll_until = now + sp->poll_ns;
	}
}

/*
 * The step of a pass of the expiry path (tr_run()), under the lock, after
 * tr_pass_begin(). Returns true if it applied ops.
 */
bool tr_sqpoll_pass(struct tr_instance *inst)
{
	u32 k = tr_sq_step(inst);

	tr_sq_idle(inst, k);
	inst->sqp->pass_total += !!k;
	return k;
}

/*
 * Under the lock, at the end of a pass: whether the consumer can go on
 * now (ops left, or an op for process context, and CQ room for them).
 */
bool tr_sqpoll_more(struct tr_instance *inst)
{
	struct tr_sqpoll *sp = inst->sqp;

	return tr_cq_has_space(&inst->shard.core.cq) &&
	       (sp->blocked || sp->n || tr_sq_avail(&sp->ring));
}

/* At the end of a pass, after tr_pass_end(): the head of the SQ ring. */
void tr_sqpoll_publish(struct tr_instance *inst)
{
	if (inst->sqp)
		tr_sq_publish(&inst->sqp->ring);
}

/* tr_program(): the next tick to run a pass at, polling included. */
u64 tr_sqpoll_next(struct tr_instance *inst, u64 next)
{
	struct tr_sqpoll *sp = inst->sqp;

	if (sp->ring.flags & TIMERRING_SQ_NEED_WAKEUP)
		return next;
	return min(next, inst->shard.core.now_tick + sp->poll_ticks);
}

/*
 * Process context, the shard mutex held, the consumer blocked on buf->ops[0]:
 * allocate what it needs, apply it in a pass of its own and unblock the
 * consumer. Returns 1, or 0 if the CQ ring had no room for its error CQE
 * (then nothing changed and the consumer stays blocked).
 */
static int tr_sq_unblock(struct tr_instance *inst)
{
	struct tr_sqpoll *sp = inst->sqp;
	struct tr_batch_buf *b = sp->buf;
	struct tr_shard *sh = &inst->shard;
	struct tr_core *c = &sh->core;
	const struct timerring_op *op = &b->ops[0];
	void *spare[TR_POOL_SPARE_MAX];
	struct tr_apply a = { };
	struct tr_prep prep;
	int ret = 0, pool_err = 0;
	u32 posted, nfree;
	bool ok = true;
	u8 fresh = 0;
	u64 t0;

	/* the verdict and the interval of the op, to know what it needs */
	tr_sq_prep(inst, &prep, 1, tr_clock_now(inst));
	if (!b->out.verdict[0] && op->opcode != TIMERRING_OP_CANCEL &&
	    op->opcode != TIMERRING_OP_CANCEL_ALL) {
		ret = tr_ensure_chunk(sh, op->id, b->out.ival[0], false,
				      &fresh);
		if (!ret)
			pool_err = tr_ensure_pool(sh, 1, false);
	}

	spin_lock_bh(&sh->lock);
	t0 = local_clock();
	tr_pass_begin(c, tr_clock_now(inst));
	tr_simd_set_drain(c);
	if (!tr_cq_has_space(&c->cq)) {
		ok = false;
		b->res[0] = 0;
	} else {
		tr_sq_prep(inst, &prep, 1, c->now_ns);
		if (b->out.verdict[0]) {
			b->res[0] = b->out.verdict[0];
		} else if (op->opcode == TIMERRING_OP_CANCEL_ALL) {
			b->res[0] = tr_cancel_all_locked(sh, t0);
		} else if (ret) {
			b->res[0] = ret;
		} else {
			a.ops = b->ops;
			a.out = &b->out;
			a.prep = &prep;
			a.res = b->res;
			a.n = 1;
			tr_apply(c, &a, 0);
			if (b->res[0] == -ENOMEM && pool_err)
				b->res[0] = pool_err;
		}
		if (b->res[0] < 0) {
			c->st.ops_failed += !a.failed;
			a.failed = 1;
		}
		tr_sq_retire(inst, 1, a.failed);
		WRITE_ONCE(sp->blocked, false);
		tr_sq_idle(inst, 1);
	}
	nfree = tr_pool_settle(sh, ok && b->res[0] >= 0, spare);
	posted = tr_pass_finish(sh, t0);
	spin_unlock_bh(&sh->lock);
	tr_notify(inst, posted);

	tr_pool_free(sh, spare, nfree);
	if (fresh && (!ok || b->res[0] < 0))
		tr_drop_fresh(sh, op->id, fresh);
	return ok;
}

/*
 * The work item, before its passes: apply the op the consumer is blocked
 * on, allocating for the memory cgroup of the task that called SETUP.
 */
void tr_sqpoll_work(struct tr_instance *inst)
{
	struct tr_sqpoll *sp = inst->sqp;
	struct mem_cgroup *old;

	if (!sp || !READ_ONCE(sp->blocked))
		return;
	mutex_lock(&inst->shard.mutex);
	old = set_active_memcg(sp->memcg);
	if (READ_ONCE(sp->blocked))
		tr_sq_unblock(inst);
	set_active_memcg(old);
	mutex_unlock(&inst->shard.mutex);
}

/*
 * The doorbell: apply the ops published, at most one ring's worth, one
 * step per lock hold; a polling pass may apply some of them meanwhile.
 * @nonblock (io_uring's inline issue) never sleeps, and leaves an op that
 * needs process context to the work item. Returns the number of ops it
 * applied, or -EINVAL, -EINTR, -EAGAIN (@nonblock, with the submit lock
 * taken or with nothing applied before such an op: retry blocking).
 */
int tr_sq_enter(struct tr_instance *inst, bool nonblock)
{
	struct tr_sqpoll *sp = inst->sqp;
	struct tr_shard *sh = &inst->shard;
	struct tr_core *c = &sh->core;
	u32 total = 0, k, posted;
	bool blocked, more, first = true;
	u64 t0;

	if (!sp)
		return -EINVAL;
	if (nonblock) {
		if (!mutex_trylock(&inst->shard.mutex))
			return -EAGAIN;
	} else if (mutex_lock_killable(&inst->shard.mutex)) {
		return -EINTR;
	}
	do {
		spin_lock_bh(&sh->lock);
		t0 = local_clock();
		tr_pass_begin(c, tr_clock_now(inst));
		tr_simd_set_drain(c);
		k = tr_sq_step(inst);
		tr_sq_idle(inst, k);
		posted = tr_pass_finish(sh, t0);
		blocked = sp->blocked;
		/* no pass of its own just to find the ring empty */
		more = blocked || sp->n || tr_sq_avail(&sp->ring);
		sp->enter_total += first;
		first = false;
		spin_unlock_bh(&sh->lock);
		tr_notify(inst, posted);

		total += k;
		if (blocked && nonblock) {
			/* run again blocking (task work), if it got nowhere */
			if (!total) {
				spin_lock_bh(&sh->lock);
				sp->enter_total--;
				spin_unlock_bh(&sh->lock);
				mutex_unlock(&inst->shard.mutex);
				return -EAGAIN;
			}
			tr_shard_kick(sh);
			break;
		}
		if (blocked) {
			k = tr_sq_unblock(inst);
			total += k;
		}
	} while (k && more && total < sp->ring.entries &&
		 !fatal_signal_pending(current));
	mutex_unlock(&inst->shard.mutex);
	return total;
}

void tr_sqpoll_stats(struct tr_instance *inst, struct timerring_stats *s)
{
	struct tr_sqpoll *sp = inst->sqp;

	if (!sp)
		return;
	s->sq_ops_total = sp->ops_total;
	s->sq_failed_total = sp->failed_total;
	s->sq_enter_total = sp->enter_total;
	s->sq_pass_total = sp->pass_total;
	s->mem_bytes += sizeof(*sp) + sizeof(*sp->buf) +
			TR_BATCH_CHUNK * sizeof(*sp->raw);
}
