// SPDX-License-Identifier: GPL-2.0
/*
 * timerring batch submission (TIMERRING_IOC_SUBMIT).
 *
 * A batch of up to 65536 ops is handled in chunks of 256 ops (8 KiB):
 *
 *   1. copy the chunk in, and probe that its results can be written back;
 *   2. prepare it without the lock: validate every op and convert expiries
 *      and intervals to ticks (batch.c, or its SIMD kernels via simd.c);
 *   3. back every id the chunk arms with a table chunk (may allocate);
 *   4. under the instance lock: run the wheel up to now (a small budget),
 *      apply the ops in order, post what became due, reprogram the hrtimer;
 *   5. copy the per-op results out.
 *
 * So the lock is held for 256 ops at a time (a few us), and expirations
 * keep flowing during a big batch. Submitters of one instance are
 * serialised by submit_mutex, which also guards the chunk buffer.
 *
 * A relative expiry is relative to the clock as read for its chunk, after
 * the chunk was copied in, so never before the caller's own clock read.
 */
#include <linux/nospec.h>
#include <linux/nsproxy.h>
#include <linux/sched.h>
#include <linux/time_namespace.h>
#include <linux/uaccess.h>

#include "instance.h"
#include "trace.h"

/* Wheel entries the submit path may expire per chunk before applying. */
#define TR_SUBMIT_ADVANCE_BUDGET	64

/* Offset of the caller's time namespace for this instance's clock. */
static s64 tr_timens_offset(const struct tr_instance *inst)
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
};

/* CANCEL_ALL: a few table chunks per lock hold. Called and returns locked. */
static int tr_cancel_all_locked(struct tr_instance *inst)
{
	struct tr_core *c = &inst->core;
	u32 ci, n = 0;

	for (ci = 0; ci < c->nr_chunks; ci++) {
		n += tr_cancel_chunk(c, ci);
		if ((ci + 1) % TR_CANCEL_ALL_CHUNKS == 0 &&
		    ci + 1 < c->nr_chunks) {
			u32 posted = tr_cq_end(&c->cq, c->pending_nr);

			if (posted)
				inst->published_tail = c->cq.tail;
			spin_unlock_bh(&inst->lock);
			tr_notify(inst, posted);
			cond_resched();
			spin_lock_bh(&inst->lock);
			tr_cq_begin(&c->cq);
		}
	}
	return min_t(u32, n, S32_MAX);
}

/*
 * Prefetch for writing the lines an op will relink: the list neighbours
 * of its entry and the tail of the wheel list its new expiry goes to. The
 * entry itself was prefetched a few ops earlier, so reading its links is
 * cheap. Only hints: a line that changes in between costs nothing.
 */
static inline void tr_prefetch_links(struct tr_core *c,
				     const struct timerring_op *op, u64 tick)
{
	const struct tr_entry *e = tr_entry_get(c, op->id);
	u16 where;
	u32 t;

	if (!e)
		return;
	if (e->where != TR_L_NONE) {
		if (e->prev != TR_NIL)
			prefetchw(tr_entry(c, e->prev));
		if (e->next != TR_NIL)
			prefetchw(tr_entry(c, e->next));
	}
	if (op->opcode == TIMERRING_OP_CANCEL)
		return;
	where = tr_where_of(c->elapsed, tick);
	t = where < TR_NR_BUCKETS ? tr_list_of(c, where, op->id)->tail : TR_NIL;
	if (t != TR_NIL)
		prefetchw(tr_entry(c, t));
}

static inline u8 tr_entry_flags(u8 opf)
{
	return (opf & TIMERRING_OPF_SLACK) ? TR_EF_SLACK : 0;
}

/* Apply ops [0, n) of the chunk. Called and returns with the lock held. */
static void tr_apply_locked(struct tr_instance *inst, u32 n,
			    struct tr_submit_state *st)
{
	struct tr_batch_buf *b = inst->buf;
	struct tr_core *c = &inst->core;
	u32 i;

	for (i = 0; i < n; i++) {
		const struct timerring_op *op = &b->ops[i];
		s32 v = b->out.verdict[i];

		/*
		 * Random ids miss the cache: fetch the entry of the op 16
		 * ahead, and the lines the op 8 ahead will relink (its list
		 * neighbours and the tail of the list it goes to), whose entry
		 * has arrived by then. 48-63 ns/op instead of 110-240 at 1M
		 * live timers natively (tools/bench/RESULTS.md).
		 */
		if (i + 16 < n && b->out.verdict[i + 16] == 0)
			prefetchw(tr_entry_get(c, b->ops[i + 16].id));
		if (i + 8 < n && b->out.verdict[i + 8] == 0)
			tr_prefetch_links(c, &b->ops[i + 8], b->out.tick[i + 8]);
		if (!v) {
			switch (op->opcode) {
			case TIMERRING_OP_ARM:
				v = tr_arm(c, op->id, b->out.tick[i],
					   op->user_data, b->out.ival[i],
					   tr_entry_flags(op->flags));
				break;
			case TIMERRING_OP_MODIFY:
				v = tr_modify(c, op->id, b->out.tick[i],
					      op->user_data, b->out.ival[i],
					      tr_entry_flags(op->flags));
				break;
			case TIMERRING_OP_CANCEL:
				v = tr_cancel(c, op->id);
				break;
			default:
				v = tr_cancel_all_locked(inst);
				break;
			}
			st->kinds[op->opcode]++;
			trace_timerring_op(inst->inst_id, op->opcode, op->id,
					   b->out.tick[i], op->user_data, v);
		}
		b->res[i] = v;
		if (v < 0) {
			st->failed++;
			c->st.ops_failed++;
			if (st->flags & TIMERRING_SUBMIT_STOP_ON_ERROR) {
				st->stop = true;
				i++;
				break;
			}
		}
	}
	st->done += i;
}

/* Steps 2-5 for one chunk of n ops already copied in. */
static int tr_submit_chunk(struct tr_instance *inst, u32 n,
			   struct tr_submit_state *st, s64 ns_off,
			   s32 __user *ures)
{
	struct tr_batch_buf *b = inst->buf;
	struct tr_core *c = &inst->core;
	struct tr_prep prep = {
		.now_ns = tr_clock_now(inst),
		.ns_off = ns_off,
		.res_ns = c->res_ns,
		.max_ids = c->max_ids,
	};
	u32 i, posted, budget, done0 = st->done;

	inst->last_impl = tr_prep(&prep, b->ops, n, &b->out);

	for (i = 0; i < n; i++) {
		const struct timerring_op *op = &b->ops[i];
		u32 id;
		int ret;

		if (b->out.verdict[i] || op->opcode == TIMERRING_OP_CANCEL_ALL)
			continue;
		/* The verdict checked id < max_ids; no speculating past it. */
		id = array_index_nospec(op->id, c->max_ids);
		b->ops[i].id = id;
		if (op->opcode == TIMERRING_OP_CANCEL)
			continue;
		ret = tr_ensure_chunk(inst, id, b->out.ival[i]);
		if (ret)
			b->out.verdict[i] = ret;
	}

	spin_lock_bh(&inst->lock);
	tr_set_now(c, prep.now_ns);
	tr_simd_set_drain(c);
	tr_cq_begin(&c->cq);
	budget = TR_SUBMIT_ADVANCE_BUDGET;
	tr_flush(c, &budget);
	tr_advance(c, c->now_tick, &budget);
	tr_apply_locked(inst, n, st);
	budget = TR_PASS_BUDGET;
	tr_flush(c, &budget);
	posted = tr_cq_end(&c->cq, c->pending_nr);
	if (posted) {
		inst->published_tail = c->cq.tail;
		inst->wakeups++;
	}
	tr_program(inst);
	spin_unlock_bh(&inst->lock);
	tr_notify(inst, posted);

	if (ures && copy_to_user(ures, b->res,
				 (st->done - done0) * sizeof(*ures)))
		return -EFAULT;
	return 0;
}

long tr_ioctl_submit(struct tr_instance *inst, void __user *uarg,
		     size_t usize)
{
	struct tr_submit_state st = { };
	struct timerring_submit s;
	struct timerring_op __user *uops;
	s32 __user *ures;
	u64 t0 = ktime_get_ns();
	s64 ns_off;
	u32 pos;
	int ret;

	ret = copy_struct_from_user(&s, sizeof(s), uarg, usize);
	if (ret)
		return ret;
	if (s.flags & ~TIMERRING_SUBMIT_ALL || s.resv[0] || s.resv[1] ||
	    s.nr > TIMERRING_BATCH_MAX)
		return -EINVAL;
	uops = u64_to_user_ptr(s.ops);
	ures = u64_to_user_ptr(s.results);
	st.flags = s.flags;
	ns_off = tr_timens_offset(inst);

	mutex_lock(&inst->submit_mutex);
	for (pos = 0; pos < s.nr && !st.stop; pos += TR_BATCH_CHUNK) {
		u32 n = min_t(u32, s.nr - pos, TR_BATCH_CHUNK);
		s32 __user *r = ures ? ures + pos : NULL;

		if (copy_from_user(inst->buf->ops, uops + pos,
				   n * sizeof(*uops))) {
			ret = -EFAULT;
			break;
		}
		if (r && clear_user(r, n * sizeof(*r))) {
			ret = -EFAULT;
			break;
		}
		ret = tr_submit_chunk(inst, n, &st, ns_off, r);
		if (ret)
			break;
	}
	spin_lock_bh(&inst->lock);
	inst->batches++;
	spin_unlock_bh(&inst->lock);
	trace_timerring_submit(inst->inst_id, s.nr, st.done, st.failed,
			       st.kinds, inst->last_impl, ktime_get_ns() - t0);
	mutex_unlock(&inst->submit_mutex);

	if (ret && !st.done)
		return ret;
	s.done = st.done;
	s.failed = st.failed;
	if (copy_to_user(uarg, &s, min(usize, sizeof(s))))
		return -EFAULT;
	return 0;
}
