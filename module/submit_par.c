// SPDX-License-Identifier: GPL-2.0
/*
 * timerring parallel big batches: a SUBMIT of more than one chunk to an
 * instance of more than one shard, applied by its submitter and workers
 * at once, on the schedule of par.c, or inline; the cost model of tier.c
 * chooses (tr_par_way()).
 *
 * A parallel batch has P = min(shards, online CPUs, TR_PAR_MAX, chunks)
 * participants at most: the submitter, and a work item of the unbound
 * workqueue on the node of each shard 1..P-1 (the worker "of" that shard:
 * its home, the one tr_par_pick() looks at first). Each needs a submit
 * buffer of the instance (struct tr_submit_buf: a chunk, its sorted copy
 * and its split), taken by trylock: P is smaller if other submitters hold
 * some, and with none left over the batch goes inline. A worker works in
 * the submitter's address space (kthread_use_mm()), where it copies its
 * chunks in and writes their results as the submitter would, and
 * allocates as the submitter's memory cgroup (set_active_memcg()). So
 * each participant does its own chunks' copy, preparation and split
 * (~4.5 us of the ~8 us a chunk costs natively), and the apply of every
 * segment goes to whoever is free for it, under its shard's mutex and
 * lock as inline (tr_seg_run()).
 *
 * The submitter waits for every worker to end before it returns; one
 * that had not started by then is cancelled (it has taken nothing). A
 * fatal signal of the submitter stops the batch between chunks, as
 * inline: no chunk is handed out from then on, and those in flight are
 * applied. Results, done, failed and the CQEs are those of the inline
 * path (par.c says why); only a CPU's timing differs.
 *
 * The schedule is under pb->lock; every change bumps pb->gen and wakes
 * pb->wq, so that a participant with nothing to apply sleeps until
 * something changed.
 */
#include <linux/completion.h>
#include <linux/cpumask.h>
#include <linux/kthread.h>
#include <linux/memcontrol.h>
#include <linux/moduleparam.h>
#include <linux/sched/clock.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include "instance.h"
#include "par.h"
#include "submit.h"
#include "trace.h"

/*
 * parallel: 0 (the default) lets each instance's cost model choose; -1
 * applies every batch inline; N > 0 applies the batches of at least N ops
 * that can go in parallel in parallel. The SETUP flags
 * TIMERRING_SETUP_PAR_NEVER and _ALWAYS override it for an instance
 * (NEVER if both).
 */
static int tr_parallel;
module_param_named(parallel, tr_parallel, int, 0644);
MODULE_PARM_DESC(parallel,
		 "big batches of sharded instances: 0 = learned per instance (default), -1 = never in parallel, N > 0 = in parallel from N ops");

struct tr_par_batch;

/* A participant: its chunk, its buffer and (for a worker) its work. */
struct tr_par_part {
	struct tr_par_chunk ch;
	struct tr_submit_buf *sb;
	struct tr_par_batch *pb;
	u32 home;
	struct work_struct work;
	struct completion done;
};

struct tr_par_batch {
	spinlock_t lock;		/* the schedule, and what follows */
	struct tr_par par;
	u32 gen;
	bool halted;
	bool faulted;			/* a chunk could not be read */
	int lost;
	u32 done;
	u32 failed;
	u32 kinds[TIMERRING_OP_LAST];
	u64 first_ns;			/* when the first worker began */

	wait_queue_head_t wq;
	struct tr_instance *inst;
	const struct timerring_op __user *uops;
	s32 __user *ures;
	s64 ns_off;
	u32 flags;
	struct mm_struct *mm;
	struct mem_cgroup *memcg;
	u32 nr_parts;
	struct tr_par_part part[TR_PAR_MAX];
};

/* The schedule changed: wake the participants. Called locked. */
static void tr_par_changed(struct tr_par_batch *pb)
{
	WRITE_ONCE(pb->gen, pb->gen + 1);
	wake_up_all(&pb->wq);
}

/*
 * A participant waits for another one's segment most of the time, a few
 * us natively: it spins up to TR_PAR_SPIN_NS for the schedule to change
 * before it sleeps, as a sleep and a wake-up cost about as much.
 */
#define TR_PAR_SPIN_NS		(30 * NSEC_PER_USEC)

static bool tr_par_spin(struct tr_par_batch *pb, u32 gen)
{
	u64 end = local_clock() + TR_PAR_SPIN_NS;

	while (READ_ONCE(pb->gen) == gen) {
		if (need_resched() || local_clock() > end)
			return false;
		cpu_relax();
	}
	return true;
}

/*
 * Wait for the schedule to change from @gen. The submitter waits
 * killably until a fatal signal halts the batch, then as the others do.
 */
static void tr_par_wait(struct tr_par_batch *pb, struct tr_par_part *part,
			u32 gen)
{
	if (tr_par_spin(pb, gen))
		return;
	if (part != &pb->part[0] || READ_ONCE(pb->halted)) {
		wait_event(pb->wq, READ_ONCE(pb->gen) != gen);
		return;
	}
	if (!wait_event_killable(pb->wq, READ_ONCE(pb->gen) != gen))
		return;
	spin_lock(&pb->lock);
	tr_par_halt(&pb->par);
	WRITE_ONCE(pb->halted, true);
	tr_par_changed(pb);
	spin_unlock(&pb->lock);
}

/* Copy chunk @ch in, prepare and split it: 0 or -EFAULT. */
static int tr_par_load(struct tr_par_batch *pb, struct tr_par_chunk *ch)
{
	struct tr_instance *inst = pb->inst;

	if (copy_from_user(ch->b->ops, pb->uops + ch->idx * TR_BATCH_CHUNK,
			   ch->n * sizeof(struct timerring_op)))
		return -EFAULT;
	ch->prep = (struct tr_prep){ .ns_off = pb->ns_off };
	tr_chunk_prep(inst, ch->b, ch->n, &ch->prep);
	ch->v = tr_split(ch->split, ch->b, ch->sorted, ch->n, inst->nr_shards,
			 false);
	return 0;
}

/* Apply @it, then tell the schedule, with what it did. */
static void tr_par_apply(struct tr_par_batch *pb, const struct tr_par_item *it)
{
	struct tr_par_chunk *ch = it->ch;
	struct tr_submit_state st = { .flags = pb->flags };
	u32 k;

	if (it->seg == TR_PAR_WHOLE)
		tr_chunk_apply(pb->inst, ch->split, ch->v, ch->v != ch->b,
			       &ch->prep, &st);
	else
		tr_seg_run(pb->inst, ch->v, &ch->split->seg[it->seg],
			   &ch->prep, &st, false);
	spin_lock(&pb->lock);
	ch->done += st.done;
	ch->failed += st.failed;
	for (k = 0; k < TIMERRING_OP_LAST; k++)
		ch->kinds[k] += st.kinds[k];
	tr_par_applied(&pb->par, it);
	tr_par_changed(pb);
	spin_unlock(&pb->lock);
}

/*
 * Apply segments until @own is applied (or will never be), or with @own
 * NULL until no chunk is in flight.
 */
static void tr_par_serve(struct tr_par_batch *pb, struct tr_par_part *part,
			 struct tr_par_chunk *own)
{
	struct tr_par_item it;
	bool got;
	u32 gen;

	for (;;) {
		spin_lock(&pb->lock);
		if (own ? tr_par_finished(own) || tr_par_dead(&pb->par, own) :
		    !tr_par_in_flight(&pb->par)) {
			spin_unlock(&pb->lock);
			return;
		}
		got = tr_par_pick(&pb->par, part->home, own, &it);
		gen = pb->gen;
		spin_unlock(&pb->lock);
		if (got)
			tr_par_apply(pb, &it);
		else
			tr_par_wait(pb, part, gen);
	}
}

/* Write chunk @ch's results out, in the order of its ops. */
static void tr_par_results(struct tr_par_batch *pb, struct tr_par_chunk *ch)
{
	if (ch->v != ch->b)
		tr_split_unsort(ch->split, ch->v, ch->b, ch->n);
	if (pb->ures &&
	    tr_put_results(pb->ures + ch->idx * TR_BATCH_CHUNK, ch->b->res,
			   ch->n)) {
		spin_lock(&pb->lock);
		pb->lost = -EFAULT;
		spin_unlock(&pb->lock);
	}
}

/* A participant's part of the batch: its chunks, one after the other. */
static void tr_par_participate(struct tr_par_batch *pb,
			       struct tr_par_part *part)
{
	struct tr_par_chunk *ch = &part->ch;
	bool dead;
	u32 k;

	for (;;) {
		spin_lock(&pb->lock);
		if (part == &pb->part[0] && pb->par.next &&
		    fatal_signal_pending(current) && !pb->halted) {
			tr_par_halt(&pb->par);
			WRITE_ONCE(pb->halted, true);
			tr_par_changed(pb);
		}
		if (tr_par_take(&pb->par, ch) != TR_PAR_TAKEN) {
			spin_unlock(&pb->lock);
			break;
		}
		spin_unlock(&pb->lock);

		if (tr_par_load(pb, ch)) {
			spin_lock(&pb->lock);
			tr_par_fail(&pb->par, ch);
			pb->faulted = true;
			tr_par_changed(pb);
			spin_unlock(&pb->lock);
			break;
		}
		spin_lock(&pb->lock);
		tr_par_ready(&pb->par, ch);
		tr_par_changed(pb);
		spin_unlock(&pb->lock);

		tr_par_serve(pb, part, ch);
		spin_lock(&pb->lock);
		dead = tr_par_dead(&pb->par, ch);
		spin_unlock(&pb->lock);
		if (!dead)
			tr_par_results(pb, ch);

		spin_lock(&pb->lock);
		if (!dead) {
			pb->done += ch->done;
			pb->failed += ch->failed;
			for (k = 0; k < TIMERRING_OP_LAST; k++)
				pb->kinds[k] += ch->kinds[k];
		}
		tr_par_put(&pb->par, ch);
		tr_par_changed(pb);
		spin_unlock(&pb->lock);
	}
	/* then help the others to the end */
	tr_par_serve(pb, part, NULL);
}

static void tr_par_work_fn(struct work_struct *work)
{
	struct tr_par_part *part = container_of(work, struct tr_par_part, work);
	struct tr_par_batch *pb = part->pb;
	struct mem_cgroup *old;

	spin_lock(&pb->lock);
	if (!pb->first_ns)
		pb->first_ns = ktime_get_ns();
	spin_unlock(&pb->lock);
	kthread_use_mm(pb->mm);
	old = set_active_memcg(pb->memcg);
	tr_par_participate(pb, part);
	set_active_memcg(old);
	kthread_unuse_mm(pb->mm);
	complete(&part->done);
}

/* The participants' buffers: @sb, and free ones of the instance. */
static u32 tr_par_buffers(struct tr_instance *inst, struct tr_par_batch *pb,
			  struct tr_submit_buf *sb, u32 want, u32 nops)
{
	struct tr_par_chunk *slots[TR_PAR_MAX];
	u32 i, n = 0;

	pb->part[n++].sb = sb;
	for (i = 0; i < inst->nr_shards && n < want; i++)
		if (inst->bufs[i] != sb && mutex_trylock(&inst->bufs[i]->lock))
			pb->part[n++].sb = inst->bufs[i];
	for (i = 0; i < n; i++) {
		struct tr_par_part *part = &pb->part[i];

		part->pb = pb;
		part->home = i;
		part->ch.b = &part->sb->b;
		part->ch.sorted = part->sb->sorted;
		part->ch.split = &part->sb->split;
		slots[i] = &part->ch;
	}
	tr_par_init(&pb->par, inst->nr_shards, nops, slots, n);
	return n;
}

int tr_par_submit(struct tr_instance *inst, struct tr_batch_io *io,
		  struct tr_submit_buf *sb, s64 ns_off,
		  struct tr_submit_state *st, u64 *fixed_ns)
{
	u32 want = min3(inst->nr_shards, num_online_cpus(), (u32)TR_PAR_MAX);
	struct tr_par_batch *pb;
	u64 t_kick, t_end;
	u32 i, k;
	int ret = 0;

	want = min_t(u32, want, DIV_ROUND_UP(io->nr, TR_BATCH_CHUNK));
	pb = kzalloc(sizeof(*pb), TR_GFP);
	if (!pb)
		return -EBUSY;
	pb->nr_parts = tr_par_buffers(inst, pb, sb, want, io->nr);
	if (pb->nr_parts < 2) {
		kfree(pb);
		return -EBUSY;
	}
	spin_lock_init(&pb->lock);
	init_waitqueue_head(&pb->wq);
	pb->inst = inst;
	pb->uops = io->uops;
	pb->ures = io->ures;
	pb->ns_off = ns_off;
	pb->flags = io->flags;
	pb->mm = current->mm;
	pb->memcg = get_mem_cgroup_from_mm(current->mm);

	t_kick = ktime_get_ns();
	for (i = 1; i < pb->nr_parts; i++) {
		struct tr_par_part *part = &pb->part[i];

		init_completion(&part->done);
		INIT_WORK(&part->work, tr_par_work_fn);
		queue_work_node(inst->shards[part->home]->node,
				system_unbound_wq, &part->work);
	}
	tr_par_participate(pb, &pb->part[0]);
	t_end = ktime_get_ns();
	for (i = 1; i < pb->nr_parts; i++) {
		if (!cancel_work(&pb->part[i].work))
			wait_for_completion(&pb->part[i].done);
		mutex_unlock(&pb->part[i].sb->lock);
	}
	*fixed_ns = ktime_get_ns() - t_end;
	if (pb->first_ns)
		*fixed_ns += pb->first_ns - t_kick;
	mem_cgroup_put(pb->memcg);

	/* a chunk that could not be read ended the batch, as inline */
	if (pb->faulted)
		ret = -EFAULT;
	st->done = pb->done;
	st->failed = pb->failed;
	for (k = 0; k < TIMERRING_OP_LAST; k++)
		st->kinds[k] += pb->kinds[k];
	io->lost = pb->lost;
	atomic64_inc(&inst->par_batches);
	atomic64_add(pb->par.stolen, &inst->par_stolen);
	kfree(pb);
	return ret;
}

/*
 * The way @io goes, and whether it could go either way (@eligible): more
 * than one chunk, more than one shard, from user memory, blocking, and
 * not STOP_ON_ERROR (whose ops are applied strictly in order).
 */
u32 tr_par_way(struct tr_instance *inst, const struct tr_batch_io *io,
	       bool *eligible)
{
	int mode = READ_ONCE(tr_parallel);
	u32 way;

	*eligible = inst->nr_shards > 1 && io->nr > TR_BATCH_CHUNK &&
		    !io->nonblock && !io->ops_iter && !io->res_iter &&
		    !(io->flags & TIMERRING_SUBMIT_STOP_ON_ERROR);
	if (!*eligible)
		return TR_TIER_INLINE;
	if (inst->params.flags & TIMERRING_SETUP_PAR_NEVER)
		return TR_TIER_INLINE;
	if (inst->params.flags & TIMERRING_SETUP_PAR_ALWAYS)
		return TR_TIER_PAR;
	if (mode < 0)
		return TR_TIER_INLINE;
	if (mode > 0)
		return io->nr >= mode ? TR_TIER_PAR : TR_TIER_INLINE;
	spin_lock(&inst->tier_lock);
	way = tr_tier_choose(&inst->tier, io->nr);
	spin_unlock(&inst->tier_lock);
	return way;
}

/* What a batch that could go either way cost, for the model. */
void tr_par_learn(struct tr_instance *inst, u32 way, u32 nops, u64 ns,
		  u64 fixed_ns)
{
	struct tr_tier t;

	spin_lock(&inst->tier_lock);
	tr_tier_learn(&inst->tier, way, nops, ns, fixed_ns);
	t = inst->tier;
	spin_unlock(&inst->tier_lock);
	trace_timerring_tier(inst->inst_id, nops, way, ns, fixed_ns,
			     t.breakeven, t.inline_ps, t.par_ps, t.fixed_ns);
}

/* The instance's mode for STATS: TIMERRING_PAR_*, and its break-even. */
u32 tr_par_mode(struct tr_instance *inst, u32 *breakeven)
{
	int mode = READ_ONCE(tr_parallel);

	if (inst->nr_shards < 2 ||
	    inst->params.flags & TIMERRING_SETUP_PAR_NEVER) {
		*breakeven = TIMERRING_PAR_NONE;
		return TIMERRING_PAR_NEVER;
	}
	if (inst->params.flags & TIMERRING_SETUP_PAR_ALWAYS) {
		*breakeven = TR_BATCH_CHUNK + 1;
		return TIMERRING_PAR_ALWAYS;
	}
	if (mode < 0) {
		*breakeven = TIMERRING_PAR_NONE;
		return TIMERRING_PAR_NEVER;
	}
	if (mode > 0) {
		*breakeven = max_t(u32, mode, TR_BATCH_CHUNK + 1);
		return TIMERRING_PAR_FIXED;
	}
	spin_lock(&inst->tier_lock);
	*breakeven = inst->tier.breakeven == TR_TIER_NEVER ?
		     TIMERRING_PAR_NONE :
		     max_t(u32, inst->tier.breakeven, TR_BATCH_CHUNK + 1);
	spin_unlock(&inst->tier_lock);
	return TIMERRING_PAR_LEARNED;
}
