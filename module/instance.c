// SPDX-License-Identifier: GPL-2.0
/*
 * timerring instances: setup, the expiry path and teardown.
 *
 * Each instance owns one hrtimer on its clock, in soft-IRQ mode
 * (HRTIMER_MODE_ABS_SOFT), programmed to the next tick at which the wheel
 * has work (tr_next_tick()): nothing runs while nothing is due. A pass
 * takes the instance lock, reads the clock once, runs the wheel up to now
 * and posts the CQEs, handling at most a budget of entries; what is left
 * continues from a work item on the instance's node (system_unbound_wq,
 * process context), at most TR_PASS_BUDGET (4096) entries or TR_HOLD_NS
 * (100 us) per lock hold with a cond_resched() in between.
 *
 * The hrtimer soft-IRQ runs the callbacks of every instance due on a CPU
 * in one go, so a per-instance budget alone does not bound it: 200
 * instances with 2000 timers due at the same instant made one soft-IRQ of
 * 45-227 ms under TCG. So each pass in soft-IRQ handles at most
 * TR_SOFTIRQ_PASS_BUDGET (256) entries, after at most 256 ops of the SQ
 * ring (one step of sqpoll.c's consumer), and all instances of a CPU share
 * TR_SOFTIRQ_NS (200 us) of pass time per jiffy; once that is spent, a
 * callback only puts its instance on the CPU's deferred list (a bit and
 * an llist_add()), and a per-CPU work item hands the list to the
 * instances' own work items. One HRTIMER soft-IRQ then costs at most
 * 200 us plus one pass plus, per further instance due, the hrtimer core's
 * own expiry and our list add. Measured under TCG (selftests/timerring/
 * softirq_test.c, tools/bench/RESULTS.md): 0.5-0.8 ms on Debian's 6.12,
 * 1.9 ms on the debug kernel, where 200 instances with a single timer
 * each, all callbacks and no expiry work, take 1.2-2.3 ms (3-5 ms on the
 * debug kernel). Natively a pass of 256 entries is ~15 us, and 200 us of
 * passes per jiffy go a long way before anything is deferred.
 *
 * The work items are bounded by TR_PASS_BUDGET (4096) entries and
 * TR_HOLD_NS (100 us, checked every TR_HOLD_SLICE entries) per lock hold,
 * bottom halves off for at most ~100 us natively.
 *
 * Memory: the id table's chunks (4 KiB, 128 ids) come from one slab cache
 * through kmem_cache_alloc_node() on the instance's NUMA node, accounted to
 * the caller's memcg (SLAB_ACCOUNT), and are allocated on first use outside
 * the lock. The chunk directory (8 bytes per 128 ids, twice), the ring and
 * the batch buffer are allocated on the node at setup, also accounted.
 * Every allocation is charged to the opener's budget first (account.c).
 *
 * Closing an instance with 1M armed timers frees 8192 chunks with a
 * cond_resched() every 64: the entries are not unlinked one by one.
 */
#include <linux/nodemask.h>
#include <linux/nsproxy.h>
#include <linux/percpu.h>
#include <linux/sched.h>
#include <linux/sched/clock.h>
#include <linux/slab.h>
#include <linux/time_namespace.h>
#include <linux/timekeeping.h>
#include <linux/topology.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>

#include "compat.h"
#include "instance.h"
#include "sqpoll.h"
#include "trace.h"

/* The spare pages of a chunk of ops cover tr_pool_want() for all of them. */
static_assert(TR_POOL_SPARE_MAX * TR_BLK_PAGE_BLOCKS >=
	      DIV_ROUND_UP(TR_BATCH_CHUNK, TR_BLK_REFS) + 2 * TR_BATCH_CHUNK + 1);

static struct kmem_cache *tr_chunk_cache;
static struct kmem_cache *tr_ival_cache;
static atomic_t tr_next_inst_id = ATOMIC_INIT(0);

/*
 * A CPU's soft-IRQ budget: the time its passes took in the current window
 * of one jiffy (TICK_NSEC of local_clock()), and the instances that were
 * due once it was spent. Handing those to their work items is left to @work, so
 * that a callback over budget costs a bit and a list add, not a
 * queue_work_node() with its worker wake-up.
 */
struct tr_softirq_cpu {
	u64 start;
	u64 used;
	struct llist_head deferred;
	struct work_struct work;
};

static DEFINE_PER_CPU(struct tr_softirq_cpu, tr_softirq_cpu);

static void tr_defer_fn(struct work_struct *work)
{
	struct tr_softirq_cpu *sc = container_of(work, struct tr_softirq_cpu,
						 work);
	struct llist_node *list = llist_del_all(&sc->deferred);
	struct tr_instance *inst, *tmp;

	/*
	 * Clear the bit first: a callback that finds it set relies on the
	 * work being queued after it. tr_instance_free() flushes this work,
	 * so the instance outlives the loop.
	 */
	llist_for_each_entry_safe(inst, tmp, list, defer_node) {
		clear_bit(0, &inst->deferred);
		/* the clear is seen before the work can run and look */
		smp_mb__after_atomic();
		queue_work_node(inst->node, system_unbound_wq, &inst->work);
	}
}

/* Soft-IRQ: have the instance's pass continue from its work item. */
static void tr_defer(struct tr_instance *inst, struct tr_softirq_cpu *sc)
{
	if (test_and_set_bit(0, &inst->deferred))
		return;
	if (llist_add(&inst->defer_node, &sc->deferred))
		queue_work_on(smp_processor_id(), system_highpri_wq,
			      &sc->work);
}

int tr_slab_init(void)
{
	int cpu;

	for_each_possible_cpu(cpu)
		INIT_WORK(&per_cpu_ptr(&tr_softirq_cpu, cpu)->work,
			  tr_defer_fn);
	tr_chunk_cache = kmem_cache_create("timerring_chunk",
					   TR_CHUNK_IDS * sizeof(struct tr_entry),
					   64, SLAB_ACCOUNT | SLAB_HWCACHE_ALIGN,
					   NULL);
	if (!tr_chunk_cache)
		return -ENOMEM;
	tr_ival_cache = kmem_cache_create("timerring_ival",
					  TR_CHUNK_IDS * sizeof(struct tr_period),
					  64,
					  SLAB_ACCOUNT | SLAB_HWCACHE_ALIGN, NULL);
	if (!tr_ival_cache) {
		kmem_cache_destroy(tr_chunk_cache);
		return -ENOMEM;
	}
	return 0;
}

void tr_slab_exit(void)
{
	int cpu;

	/* every instance is gone: the lists are empty, the works may run */
	for_each_possible_cpu(cpu)
		flush_work(&per_cpu_ptr(&tr_softirq_cpu, cpu)->work);
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
	if (inst->sqp)
		next = tr_sqpoll_next(inst, next);
	if (next >= inst->programmed)
		return;
	inst->programmed = next;
	if (next > KTIME_MAX / inst->core.res_ns)
		return;
	ns = next * inst->core.res_ns;
	hrtimer_start(&inst->hrt, ns_to_ktime(ns), HRTIMER_MODE_ABS_SOFT);
}

/*
 * Wake waiters after CQEs were published. Not under inst->lock.
 * wq_has_sleeper() has the full barrier that pairs with the one between
 * queueing and reading the tail in tr_poll() and prepare_to_wait(): either
 * the waiter sees the new tail, or this sees the waiter.
 */
void tr_notify(struct tr_instance *inst, u32 posted)
{
	if (!posted)
		return;
	trace_timerring_wakeup(inst->inst_id, posted);
	if (wq_has_sleeper(&inst->wq))
		wake_up_all(&inst->wq);
	tr_eventfd_notify(inst);
}

/*
 * tr_pass_expire() within a lock hold that began at @t0 (local_clock()):
 * at most *@budget refs (what it handled is taken off), in slices of
 * TR_HOLD_SLICE, until a slice ends past TR_HOLD_NS. Returns true if work
 * is left.
 */
bool tr_expire_held(struct tr_core *c, u32 *budget, u64 t0)
{
	bool more;
	u32 slice, left;

	do {
		slice = min_t(u32, *budget, TR_HOLD_SLICE);
		left = slice;
		more = tr_pass_expire(c, &left);
		*budget -= slice - left;
	} while (more && *budget && left < slice &&
		 local_clock() - t0 < TR_HOLD_NS);
	return more;
}

/*
 * The end of a pass of a SUBMIT chunk or of the SQ ring's doorbell, under
 * the lock taken at @t0: expire what is due within one hold, publish the
 * CQEs and reprogram the hrtimer (for what is left). Returns the CQEs
 * published, for tr_notify() once the lock is dropped.
 */
u32 tr_pass_finish(struct tr_instance *inst, u64 t0)
{
	struct tr_core *c = &inst->core;
	u32 budget = TR_PASS_BUDGET, posted;

	tr_expire_held(c, &budget, t0);
	posted = tr_pass_end(c);
	tr_sqpoll_publish(inst);
	if (posted) {
		WRITE_ONCE(inst->published_tail, c->cq.tail);
		inst->wakeups++;
	}
	tr_program(inst);
	return posted;
}

/*
 * One pass of the expiry path, handling at most *@budget entries (what it
 * handled is taken off) within one lock hold (TR_HOLD_NS), after one step
 * of the SQ ring's consumer (sqpoll.c). Returns true if work is left for
 * another pass.
 * While a CANCEL_ALL is between lock holds, nothing runs: every timer is
 * being cancelled, and the submitter reprograms the hrtimer when it ends.
 */
bool tr_run(struct tr_instance *inst, u32 *budget)
{
	struct tr_core *c = &inst->core;
	bool was_overflow, more, sq_more = false;
	u32 posted;
	u64 t0;

	spin_lock_bh(&inst->lock);
	t0 = local_clock();
	inst->programmed = U64_MAX;
	if (inst->dead || inst->cancelling) {
		spin_unlock_bh(&inst->lock);
		return false;
	}
	tr_pass_begin(c, tr_clock_now(inst));
	tr_simd_set_drain(c);
	if (inst->sqp)
		tr_sqpoll_pass(inst);
	was_overflow = tr_pending_nr(c);
	more = tr_expire_held(c, budget, t0);
	if (inst->sqp)
		sq_more = tr_sqpoll_more(inst);
	posted = tr_pass_end(c);
	tr_sqpoll_publish(inst);
	if (posted) {
		WRITE_ONCE(inst->published_tail, c->cq.tail);
		inst->wakeups++;
	}
	if (was_overflow != !!tr_pending_nr(c))
		trace_timerring_overflow(inst->inst_id, tr_pending_nr(c));
	more |= sq_more;
	if (!more)
		tr_program(inst);
	spin_unlock_bh(&inst->lock);

	tr_notify(inst, posted);
	return more;
}

/* Soft-IRQ: a pass within what is left of this CPU's budget. */
static enum hrtimer_restart tr_hrtimer_fn(struct hrtimer *t)
{
	struct tr_instance *inst = container_of(t, struct tr_instance, hrt);
	struct tr_softirq_cpu *sc = this_cpu_ptr(&tr_softirq_cpu);
	u32 budget = TR_SOFTIRQ_PASS_BUDGET;
	u64 now = local_clock();

	if (now - sc->start >= TICK_NSEC) {
		sc->start = now;
		sc->used = 0;
	}
	if (sc->used >= TR_SOFTIRQ_NS) {
		tr_defer(inst, sc);
		return HRTIMER_NORESTART;
	}
	if (tr_run(inst, &budget))
		tr_defer(inst, sc);
	sc->used += local_clock() - now;
	return HRTIMER_NORESTART;
}

static void tr_work_fn(struct work_struct *work)
{
	struct tr_instance *inst = container_of(work, struct tr_instance,
						work);
	u32 budget;

	do {
		cond_resched();
		tr_sqpoll_work(inst);
		budget = TR_PASS_BUDGET;
	} while (tr_run(inst, &budget));
}

/* An instance, charged to the opener; ERR_PTR(-ENOSPC) over its budget. */
struct tr_instance *tr_instance_alloc(void)
{
	struct tr_instance *inst;
	struct tr_charge ch;
	int ret;

	/* ~55 KiB, most of it the wheel's queues: need not be contiguous */
	ret = tr_charge_open(&ch, tr_alloc_bytes(sizeof(*inst)));
	if (ret)
		return ERR_PTR(ret);
	inst = kvzalloc(sizeof(*inst), TR_GFP);
	if (!inst) {
		tr_charge_close(&ch);
		return ERR_PTR(-ENOMEM);
	}
	inst->charge = ch;
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
	u32 i;

	for (i = 0; i < c->nr_chunks; i++) {
		if (c->chunk[i])
			kmem_cache_free(tr_chunk_cache, c->chunk[i]);
		if (c->ival[i])
			kmem_cache_free(tr_ival_cache, c->ival[i]);
		if (!(i % 64))
			cond_resched();
	}
	for (i = 0; i < c->blk_nr >> TR_BLK_PAGE_SHIFT; i++) {
		free_page((unsigned long)c->blk_page[i]);
		if (!(i % 64))
			cond_resched();
	}
	kvfree(c->chunk);
	kvfree(c->ival);
	kvfree(c->blk_page);
}

void tr_instance_free(struct tr_instance *inst)
{
	int cpu;

	if (tr_ready(inst)) {
		spin_lock_bh(&inst->lock);
		inst->dead = true;
		spin_unlock_bh(&inst->lock);
		hrtimer_cancel(&inst->hrt);
		/* no callback can defer it now: let the CPUs' lists drain */
		for_each_possible_cpu(cpu)
			flush_work(&per_cpu_ptr(&tr_softirq_cpu, cpu)->work);
		cancel_work_sync(&inst->work);
		hrtimer_cancel(&inst->hrt);
		tr_stats_unregister(inst);
		trace_timerring_teardown(inst->inst_id, inst->core.armed,
					 inst->core.st.expired_total);
		tr_table_free(inst);
		tr_ring_free(inst);
		kvfree(inst->buf);
		tr_sqpoll_free(inst);
	}
	tr_eventfd_release(inst);
	mutex_destroy(&inst->submit_mutex);
	tr_charge_close(&inst->charge);
	kvfree(inst);
}

/* An object of @cache on the instance's node, charged to its budget. */
static void *tr_cache_alloc(struct tr_instance *inst, struct kmem_cache *cache)
{
	size_t sz = kmem_cache_size(cache);
	int ret = tr_charge(&inst->charge, sz);
	void *mem;

	if (ret)
		return ERR_PTR(ret);
	mem = kmem_cache_alloc_node(cache, TR_GFP, inst->node);
	if (!mem) {
		tr_uncharge(&inst->charge, sz);
		return ERR_PTR(-ENOMEM);
	}
	return mem;
}

static void tr_cache_free(struct tr_instance *inst, struct kmem_cache *cache,
			  void *mem)
{
	kmem_cache_free(cache, mem);
	tr_uncharge(&inst->charge, kmem_cache_size(cache));
}

/*
 * Back @id with a table chunk (and an interval array if @periodic); with
 * @nowait, -EAGAIN instead of allocating one. What it allocated is added
 * to *@fresh (TR_FRESH_*), also when it then fails.
 */
int tr_ensure_chunk(struct tr_instance *inst, u32 id, bool periodic,
		    bool nowait, u8 *fresh)
{
	struct tr_core *c = &inst->core;
	u32 ci = id >> TR_CHUNK_SHIFT;

	if (nowait && (!c->chunk[ci] || (periodic && !c->ival[ci])))
		return -EAGAIN;
	if (unlikely(!c->chunk[ci])) {
		struct tr_entry *mem = tr_cache_alloc(inst, tr_chunk_cache);

		if (IS_ERR(mem))
			return PTR_ERR(mem);
		spin_lock_bh(&inst->lock);
		tr_table_install(c, ci, mem);
		spin_unlock_bh(&inst->lock);
		*fresh |= TR_FRESH_CHUNK;
	}
	if (unlikely(periodic && !c->ival[ci])) {
		struct tr_period *mem = tr_cache_alloc(inst, tr_ival_cache);

		if (IS_ERR(mem))
			return PTR_ERR(mem);
		spin_lock_bh(&inst->lock);
		tr_table_install_ival(c, ci, mem);
		spin_unlock_bh(&inst->lock);
		*fresh |= TR_FRESH_IVAL;
	}
	return 0;
}

/*
 * After a chunk of ops of which some failed or were not applied: free
 * what tr_ensure_chunk() allocated for @id (@fresh) if no op used it, so
 * that those ops keep no memory. A fresh table chunk has all generations
 * 0 and a fresh interval array all intervals 0, and only a successful
 * ARM or MODIFY changes them (a periodic one for the interval). The
 * caller holds submit_mutex, so the chunk stays installed; the ops of the
 * SQ ring's consumer may use it meanwhile, so it is looked at under the
 * lock (128 entries). A chunk without a used entry has no periodic timer
 * either, so its interval array (fresh too) goes with it.
 */
void tr_drop_fresh(struct tr_instance *inst, u32 id, u8 fresh)
{
	struct tr_core *c = &inst->core;
	u32 ci = id >> TR_CHUNK_SHIFT, i;
	struct tr_entry *ent = c->chunk[ci];
	struct tr_period *per = c->ival[ci];
	bool chunk = (fresh & TR_FRESH_CHUNK) && ent;
	bool ival = (fresh & TR_FRESH_IVAL) && per;

	spin_lock_bh(&inst->lock);
	for (i = 0; chunk && i < TR_CHUNK_IDS; i++)
		chunk = !ent[i].gen;
	ival = ival || (chunk && per);
	for (i = 0; ival && !chunk && i < TR_CHUNK_IDS; i++)
		ival = !per[i].ival_ns;
	if (!chunk && !ival) {
		spin_unlock_bh(&inst->lock);
		return;
	}
	if (chunk) {
		c->chunk[ci] = NULL;
		c->chunks_present--;
	}
	if (ival) {
		c->ival[ci] = NULL;
		c->ivals_present--;
	}
	spin_unlock_bh(&inst->lock);
	if (chunk)
		tr_cache_free(inst, tr_chunk_cache, ent);
	if (ival)
		tr_cache_free(inst, tr_ival_cache, per);
}

/*
 * Set aside the pool pages that @n ops adding a ref each may need
 * (table.c): the ops that find the pool short install them. Returns 0, or
 * what allocating failed with: the ops that then find no room fail with
 * it. With @nowait, -EAGAIN if a page would have to be allocated. Until
 * tr_pool_settle(), the room of those @n refs is held for them
 * (tr_core.refs_held): the SQ ring's consumer, which may run between
 * this and the ops, does not take it.
 */
int tr_ensure_pool(struct tr_instance *inst, u32 n, bool nowait)
{
	struct tr_core *c = &inst->core;
	void *pages[TR_POOL_SPARE_MAX];
	u32 want, got = 0;
	int ret = 0;

	spin_lock_bh(&inst->lock);
	want = min_t(u32, tr_pool_want(c, n),
		     TR_POOL_SPARE_MAX - c->blk_spare_nr);
	/* the SQ ring's consumer leaves the room to them until settled */
	if (!want || !nowait)
		c->refs_held = n;
	spin_unlock_bh(&inst->lock);
	if (want && nowait)
		return -EAGAIN;
	while (got < want) {
		struct page *pg;

		ret = tr_charge(&inst->charge, PAGE_SIZE);
		if (ret)
			break;
		pg = alloc_pages_node(inst->node, TR_GFP, 0);
		if (!pg) {
			tr_uncharge(&inst->charge, PAGE_SIZE);
			ret = -ENOMEM;
			break;
		}
		pages[got++] = page_address(pg);
	}
	if (got) {
		spin_lock_bh(&inst->lock);
		while (got)
			tr_pool_spare_add(c, pages[--got]);
		spin_unlock_bh(&inst->lock);
	}
	return ret;
}

/*
 * Under the lock, after the ops: the spare pages no op installed go into
 * the pool if @keep (every op they were for succeeded: the pool keeps its
 * headroom), else to @pages (TR_POOL_SPARE_MAX) for tr_pool_free().
 * Returns how many went to @pages.
 */
u32 tr_pool_settle(struct tr_instance *inst, bool keep, void **pages)
{
	struct tr_core *c = &inst->core;
	u32 n = 0;
	void *pg;

	c->refs_held = 0;
	while ((pg = tr_pool_spare_take(c))) {
		if (keep)
			tr_pool_install(c, pg);
		else
			pages[n++] = pg;
	}
	return n;
}

void tr_pool_free(struct tr_instance *inst, void **pages, u32 n)
{
	while (n--) {
		free_page((unsigned long)pages[n]);
		tr_uncharge(&inst->charge, PAGE_SIZE);
	}
}

static int tr_check_params(struct timerring_params *p, size_t usize)
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
	if (p->cq_entries > cap_cq || p->cq_entries < TIMERRING_CQ_ENTRIES_MIN) {
		if (!clamp)
			return -EINVAL;
		p->cq_entries = clamp(p->cq_entries, TIMERRING_CQ_ENTRIES_MIN,
				      cap_cq);
	}
	p->cq_entries = roundup_pow_of_two(p->cq_entries);

	if (p->numa_node == TIMERRING_NODE_CURRENT)
		p->numa_node = numa_node_id();
	if (p->numa_node < 0 || p->numa_node >= nr_node_ids ||
	    !node_online(p->numa_node))
		return -EINVAL;
	return tr_sqpoll_check(p, usize);
}

static void *kvcalloc_node_account(size_t n, size_t size, int node)
{
	return kvmalloc_node(array_size(n, size), TR_GFP | __GFP_ZERO, node);
}

/* What SETUP allocates for @p, as charged to the budget. */
static size_t tr_setup_bytes(const struct timerring_params *p,
			     size_t map_bytes)
{
	size_t dir = DIV_ROUND_UP(p->max_timers, TR_CHUNK_IDS) * sizeof(void *);
	size_t pages = DIV_ROUND_UP(map_bytes, PAGE_SIZE);

	return 2 * tr_alloc_bytes(dir) +
	       tr_alloc_bytes(tr_pool_pages_max(p->max_timers) *
			      sizeof(void *)) +
	       tr_alloc_bytes(sizeof(struct tr_batch_buf)) +
	       tr_alloc_bytes(pages * sizeof(struct page *)) +
	       pages * PAGE_SIZE + tr_sqpoll_bytes(p);
}

/*
 * TIMERRING_IOC_SETUP: allocate everything, write the parameters back, and
 * only then publish the instance; if the copy back faults, undo it all, so
 * that a failed SETUP leaves the instance as it was.
 */
int tr_instance_setup(struct tr_instance *inst, void __user *uarg,
		      size_t usize)
{
	struct tr_core *c = &inst->core;
	struct tr_entry **chunk_dir = NULL;
	struct tr_period **ival_dir = NULL;
	struct tr_blk **blk_dir = NULL;
	struct timerring_params p;
	size_t map_bytes, charged;
	u32 nr_chunks;
	int ret;

	ret = copy_struct_from_user(&p, sizeof(p), uarg, usize);
	if (ret)
		return ret;
	ret = tr_check_params(&p, usize);
	if (ret)
		return ret;

	if (mutex_lock_killable(&inst->submit_mutex))
		return -EINTR;
	ret = -EBUSY;
	if (inst->ready)
		goto out_unlock;

	tr_cq_layout(p.cq_entries, &p.cq_off, &map_bytes);
	map_bytes = tr_sqpoll_layout(&p, map_bytes);
	charged = tr_setup_bytes(&p, map_bytes);
	ret = tr_charge(&inst->charge, charged);
	if (ret)
		goto out_unlock;

	inst->node = p.numa_node;
	inst->clockid = p.clockid;
	nr_chunks = DIV_ROUND_UP(p.max_timers, TR_CHUNK_IDS);
	ret = -ENOMEM;
	chunk_dir = kvcalloc_node_account(nr_chunks, sizeof(*chunk_dir),
					  inst->node);
	ival_dir = kvcalloc_node_account(nr_chunks, sizeof(*ival_dir),
					 inst->node);
	blk_dir = kvcalloc_node_account(tr_pool_pages_max(p.max_timers),
					sizeof(*blk_dir), inst->node);
	inst->buf = kvmalloc_node(sizeof(*inst->buf), TR_GFP,
				  inst->node);
	if (!chunk_dir || !ival_dir || !blk_dir || !inst->buf ||
	    tr_sqpoll_alloc(inst, &p))
		goto out_free;
	ret = tr_ring_alloc(inst, map_bytes);
	if (ret)
		goto out_free;

	p.features = TIMERRING_FEAT_PERIODIC | TIMERRING_FEAT_SLACK |
		     TIMERRING_FEAT_EVENTFD | TIMERRING_FEAT_NODROP |
		     TIMERRING_FEAT_SQ;
	if (IS_ENABLED(CONFIG_TIME_NS))
		p.features |= TIMERRING_FEAT_TIMENS;
	p.mmap_offset = 0;
	p.mmap_size = inst->ring_bytes;
	ret = tr_copy_struct_to_user(uarg, usize, &p, sizeof(p));
	if (ret)
		goto out_ring;

	tr_core_init(c, p.max_timers, p.resolution_ns,
		     div64_u64(tr_clock_now(inst), p.resolution_ns),
		     chunk_dir, ival_dir, blk_dir);
	tr_cq_init(&c->cq, inst->ring, p.cq_entries, &p.cq_off);
	tr_sqpoll_init(inst, &p);
	tr_hrtimer_setup(&inst->hrt, tr_hrtimer_fn, inst->clockid,
			 HRTIMER_MODE_ABS_SOFT);
	inst->params = p;
	inst->last_impl = tr_impl_active();
	tr_stats_register(inst);
	trace_timerring_setup(inst->inst_id, p.max_timers, p.cq_entries,
			      p.resolution_ns, p.clockid, inst->node);
	/* Publish the set-up instance to lockless tr_ready() readers. */
	smp_store_release(&inst->ready, true);
	mutex_unlock(&inst->submit_mutex);
	return 0;

out_ring:
	tr_ring_free(inst);
out_free:
	kvfree(chunk_dir);
	kvfree(ival_dir);
	kvfree(blk_dir);
	kvfree(inst->buf);
	inst->buf = NULL;
	tr_sqpoll_free(inst);
	tr_uncharge(&inst->charge, charged);
out_unlock:
	mutex_unlock(&inst->submit_mutex);
	return ret;
}
