// SPDX-License-Identifier: GPL-2.0
/*
 * timerring instances: setup, the expiry path and teardown.
 *
 * Each instance owns one hrtimer on its clock, in soft-IRQ mode
 * (HRTIMER_MODE_ABS_SOFT), programmed to the next tick at which the wheel
 * has work (tr_next_tick()): nothing runs while nothing is due. A pass
 * takes the instance lock, reads the clock once, runs the wheel up to now
 * and posts the CQEs, handling at most TR_PASS_BUDGET (4096) entries; what
 * is left (a herd of a million timers due in one tick, say) continues from
 * a work item on the instance's node, 4096 entries per lock hold with a
 * cond_resched() in between, so no pass holds the lock, or keeps bottom
 * halves off, for more than about 4096 x 25 ns = 100 us natively.
 *
 * Memory: the id table's chunks (4 KiB, 128 ids) come from one slab cache
 * through kmem_cache_alloc_node() on the instance's NUMA node, accounted to
 * the caller's memcg (SLAB_ACCOUNT), and are allocated on first use outside
 * the lock. The chunk directory (8 bytes per 128 ids, twice), the ring and
 * the batch buffer are allocated on the node at setup, also accounted. All
 * instances together back at most global_max_timers ids with chunks; an op
 * that would need more fails with -ENOSPC.
 *
 * Closing an instance with 1M armed timers frees 8192 chunks with a
 * cond_resched() every 64: the entries are not unlinked one by one.
 */
#include <linux/nodemask.h>
#include <linux/nsproxy.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/time_namespace.h>
#include <linux/timekeeping.h>
#include <linux/topology.h>
#include <linux/vmalloc.h>

#include "compat.h"
#include "instance.h"
#include "trace.h"

static struct kmem_cache *tr_chunk_cache;
static struct kmem_cache *tr_ival_cache;
static atomic_t tr_next_inst_id = ATOMIC_INIT(0);

int tr_slab_init(void)
{
	tr_chunk_cache = kmem_cache_create("timerring_chunk",
					   TR_CHUNK_IDS * sizeof(struct tr_entry),
					   64, SLAB_ACCOUNT | SLAB_HWCACHE_ALIGN,
					   NULL);
	if (!tr_chunk_cache)
		return -ENOMEM;
	tr_ival_cache = kmem_cache_create("timerring_ival",
					  TR_CHUNK_IDS * sizeof(u64), 64,
					  SLAB_ACCOUNT | SLAB_HWCACHE_ALIGN, NULL);
	if (!tr_ival_cache) {
		kmem_cache_destroy(tr_chunk_cache);
		return -ENOMEM;
	}
	return 0;
}

void tr_slab_exit(void)
{
	kmem_cache_destroy(tr_ival_cache);
	kmem_cache_destroy(tr_chunk_cache);
}

u64 tr_clock_now(const struct tr_instance *inst)
{
	if (inst->clockid == CLOCK_BOOTTIME)
		return ktime_get_boottime_ns();
	return ktime_get_ns();
}

/* Called under inst->lock: make the hrtimer fire at the next busy tick. */
void tr_program(struct tr_instance *inst)
{
	u64 next, ns;

	if (inst->dead)
		return;
	next = tr_next_tick(&inst->core);
	if (next >= inst->programmed)
		return;
	inst->programmed = next;
	if (next > KTIME_MAX / inst->core.res_ns)
		return;
	ns = next * inst->core.res_ns;
	hrtimer_start(&inst->hrt, ns_to_ktime(ns), HRTIMER_MODE_ABS_SOFT);
}

/* Wake waiters after CQEs were published. Not under inst->lock. */
void tr_notify(struct tr_instance *inst, u32 posted)
{
	struct eventfd_ctx *evfd;

	if (!posted)
		return;
	trace_timerring_wakeup(inst->inst_id, posted);
	if (wq_has_sleeper(&inst->wq))
		wake_up_all(&inst->wq);
	rcu_read_lock();
	evfd = rcu_dereference(inst->evfd);
	/*
	 * eventfd_signal() must not nest in another one on this task (a
	 * soft-IRQ run from its spin_unlock): skip, a later pass signals.
	 */
	if (evfd && eventfd_signal_allowed() &&
	    !(READ_ONCE(*(u32 *)((u8 *)inst->ring +
				 inst->params.cq_off.flags)) &
	      TIMERRING_CQ_F_EVENTFD_DISABLED))
		tr_eventfd_signal(evfd);
	rcu_read_unlock();
}

/*
 * One pass of the expiry path with a budget of entries. Returns true if
 * work is left for another pass.
 */
bool tr_run(struct tr_instance *inst, u32 budget)
{
	struct tr_core *c = &inst->core;
	bool was_overflow, more;
	u32 posted;

	spin_lock_bh(&inst->lock);
	if (inst->dead) {
		spin_unlock_bh(&inst->lock);
		return false;
	}
	inst->programmed = U64_MAX;
	tr_set_now(c, tr_clock_now(inst));
	tr_simd_set_drain(c);
	was_overflow = c->pending_nr;
	tr_cq_begin(&c->cq);
	tr_flush(c, &budget);
	more = !tr_advance(c, c->now_tick, &budget);
	tr_flush(c, &budget);
	more |= c->pending_nr && tr_cq_has_space(&c->cq);
	posted = tr_cq_end(&c->cq, c->pending_nr);
	if (posted) {
		inst->published_tail = c->cq.tail;
		inst->wakeups++;
	}
	if (was_overflow != !!c->pending_nr)
		trace_timerring_overflow(inst->inst_id, c->pending_nr);
	if (!more)
		tr_program(inst);
	spin_unlock_bh(&inst->lock);

	tr_notify(inst, posted);
	return more;
}

static enum hrtimer_restart tr_hrtimer_fn(struct hrtimer *t)
{
	struct tr_instance *inst = container_of(t, struct tr_instance, hrt);

	if (tr_run(inst, TR_PASS_BUDGET))
		queue_work_node(inst->node, system_unbound_wq, &inst->work);
	return HRTIMER_NORESTART;
}

static void tr_work_fn(struct work_struct *work)
{
	struct tr_instance *inst = container_of(work, struct tr_instance,
						work);

	while (tr_run(inst, TR_PASS_BUDGET))
		cond_resched();
}

struct tr_instance *tr_instance_alloc(void)
{
	/* ~100 KiB, most of it the wheel's slots: need not be contiguous */
	struct tr_instance *inst = kvzalloc(sizeof(*inst), GFP_KERNEL_ACCOUNT);

	if (!inst)
		return NULL;
	spin_lock_init(&inst->lock);
	mutex_init(&inst->submit_mutex);
	init_waitqueue_head(&inst->wq);
	INIT_WORK(&inst->work, tr_work_fn);
	inst->programmed = U64_MAX;
	inst->inst_id = atomic_inc_return(&tr_next_inst_id);
	return inst;
}

static void tr_table_free(struct tr_instance *inst)
{
	struct tr_core *c = &inst->core;
	long chunks = 0;
	u32 i;

	for (i = 0; i < c->nr_chunks; i++) {
		if (c->chunk[i]) {
			kmem_cache_free(tr_chunk_cache, c->chunk[i]);
			chunks++;
		}
		if (c->ival[i])
			kmem_cache_free(tr_ival_cache, c->ival[i]);
		if (!(i % 64))
			cond_resched();
	}
	atomic_long_sub(chunks, &tr_global_chunks);
	kvfree(c->chunk);
	kvfree(c->ival);
}

void tr_instance_free(struct tr_instance *inst)
{
	if (tr_ready(inst)) {
		spin_lock_bh(&inst->lock);
		inst->dead = true;
		spin_unlock_bh(&inst->lock);
		hrtimer_cancel(&inst->hrt);
		cancel_work_sync(&inst->work);
		hrtimer_cancel(&inst->hrt);
		tr_stats_unregister(inst);
		trace_timerring_teardown(inst->inst_id, inst->core.armed,
					 inst->core.st.expired_total);
		tr_table_free(inst);
		tr_ring_free(inst);
		kvfree(inst->buf);
	}
	tr_eventfd_release(inst);
	mutex_destroy(&inst->submit_mutex);
	kvfree(inst);
}

/* Back @id with a table chunk (and an interval array if @periodic). */
int tr_ensure_chunk(struct tr_instance *inst, u32 id, bool periodic)
{
	struct tr_core *c = &inst->core;
	u32 ci = id >> TR_CHUNK_SHIFT;

	if (unlikely(!c->chunk[ci])) {
		long limit = DIV_ROUND_UP(READ_ONCE(tr_global_max_timers),
					  TR_CHUNK_IDS);
		struct tr_entry *mem;

		if (atomic_long_inc_return(&tr_global_chunks) > limit) {
			atomic_long_dec(&tr_global_chunks);
			return -ENOSPC;
		}
		mem = kmem_cache_alloc_node(tr_chunk_cache, GFP_KERNEL,
					    inst->node);
		if (!mem) {
			atomic_long_dec(&tr_global_chunks);
			return -ENOMEM;
		}
		spin_lock_bh(&inst->lock);
		tr_table_install(c, ci, mem);
		spin_unlock_bh(&inst->lock);
	}
	if (unlikely(periodic && !c->ival[ci])) {
		u64 *mem = kmem_cache_alloc_node(tr_ival_cache, GFP_KERNEL,
						 inst->node);

		if (!mem)
			return -ENOMEM;
		spin_lock_bh(&inst->lock);
		tr_table_install_ival(c, ci, mem);
		spin_unlock_bh(&inst->lock);
	}
	return 0;
}

static int tr_check_params(struct timerring_params *p)
{
	u32 cap_ids = min_t(u32, tr_max_timers, TIMERRING_MAX_TIMERS_MAX);
	u32 cap_cq = rounddown_pow_of_two(tr_max_cq_entries);
	bool clamp = p->flags & TIMERRING_SETUP_CLAMP;
	unsigned int i;

	if (p->flags & ~TIMERRING_SETUP_ALL)
		return -EINVAL;
	for (i = 0; i < ARRAY_SIZE(p->resv); i++)
		if (p->resv[i])
			return -EINVAL;
	if (p->clockid != CLOCK_MONOTONIC && p->clockid != CLOCK_BOOTTIME)
		return -EINVAL;

	if (!p->resolution_ns)
		p->resolution_ns = TIMERRING_RES_NS_DEFAULT;
	if (p->resolution_ns < TIMERRING_RES_NS_MIN ||
	    p->resolution_ns > TIMERRING_RES_NS_MAX)
		return -EINVAL;

	if (!p->max_timers)
		return -EINVAL;
	if (p->max_timers > cap_ids) {
		if (!clamp)
			return -EINVAL;
		p->max_timers = cap_ids;
	}

	if (!p->cq_entries)
		p->cq_entries = min(TIMERRING_CQ_ENTRIES_DEFAULT, cap_cq);
	if (p->cq_entries > cap_cq) {
		if (!clamp)
			return -EINVAL;
		p->cq_entries = cap_cq;
	}
	p->cq_entries = max(roundup_pow_of_two(p->cq_entries),
			    TIMERRING_CQ_ENTRIES_MIN);

	if (p->numa_node == TIMERRING_NODE_CURRENT)
		p->numa_node = numa_node_id();
	if (p->numa_node < 0 || p->numa_node >= nr_node_ids ||
	    !node_online(p->numa_node))
		return -EINVAL;
	return 0;
}

static void *kvcalloc_node_account(size_t n, size_t size, int node)
{
	return kvmalloc_node(array_size(n, size),
			     GFP_KERNEL_ACCOUNT | __GFP_ZERO, node);
}

int tr_instance_setup(struct tr_instance *inst, struct timerring_params *p)
{
	struct tr_core *c = &inst->core;
	struct tr_entry **chunk_dir = NULL;
	u64 **ival_dir = NULL;
	size_t cq_bytes;
	u32 nr_chunks;
	int ret;

	ret = tr_check_params(p);
	if (ret)
		return ret;

	mutex_lock(&inst->submit_mutex);
	ret = -EBUSY;
	if (inst->ready)
		goto out_unlock;

	inst->node = p->numa_node;
	inst->clockid = p->clockid;
	nr_chunks = DIV_ROUND_UP(p->max_timers, TR_CHUNK_IDS);
	ret = -ENOMEM;
	chunk_dir = kvcalloc_node_account(nr_chunks, sizeof(*chunk_dir),
					  inst->node);
	ival_dir = kvcalloc_node_account(nr_chunks, sizeof(*ival_dir),
					 inst->node);
	inst->buf = kvmalloc_node(sizeof(*inst->buf), GFP_KERNEL_ACCOUNT,
				  inst->node);
	if (!chunk_dir || !ival_dir || !inst->buf)
		goto out_free;

	tr_cq_layout(p->cq_entries, &p->cq_off, &cq_bytes);
	ret = tr_ring_alloc(inst, cq_bytes);
	if (ret)
		goto out_free;

	tr_core_init(c, p->max_timers, p->resolution_ns,
		     div64_u64(tr_clock_now(inst), p->resolution_ns),
		     chunk_dir, ival_dir);
	tr_cq_init(&c->cq, inst->ring, p->cq_entries, &p->cq_off);
	tr_hrtimer_setup(&inst->hrt, tr_hrtimer_fn, inst->clockid,
			 HRTIMER_MODE_ABS_SOFT);

	p->features = TIMERRING_FEAT_PERIODIC | TIMERRING_FEAT_SLACK |
		      TIMERRING_FEAT_EVENTFD | TIMERRING_FEAT_NODROP;
	if (IS_ENABLED(CONFIG_TIME_NS))
		p->features |= TIMERRING_FEAT_TIMENS;
	p->mmap_offset = 0;
	p->mmap_size = inst->ring_bytes;
	inst->params = *p;
	inst->last_impl = tr_impl_active();
	tr_stats_register(inst);
	trace_timerring_setup(inst->inst_id, p->max_timers, p->cq_entries,
			      p->resolution_ns, p->clockid, inst->node);
	/* Publish the set-up instance to lockless tr_ready() readers. */
	smp_store_release(&inst->ready, true);
	mutex_unlock(&inst->submit_mutex);
	return 0;

out_free:
	kvfree(chunk_dir);
	kvfree(ival_dir);
	kvfree(inst->buf);
	inst->buf = NULL;
out_unlock:
	mutex_unlock(&inst->submit_mutex);
	return ret;
}
