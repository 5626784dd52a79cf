// SPDX-License-Identifier: GPL-2.0
/*
 * timerring shards: the expiry path of one shard and its memory. An
 * instance has 1 to TIMERRING_SHARDS_MAX shards (instance.c sets them up;
 * timer id i is in shard (i / 128) % shards); each is a core (wheel, id
 * table, ring writer) with its own lock, mutex, hrtimer, work item and
 * completion ring, on its own node. Its hrtimer is programmed from a CPU
 * of that node: from another node, tr_program() has the shard's work item
 * (queued on the node) do it, so that its passes run there.
 *
 * Each shard owns one hrtimer on its clock, in soft-IRQ mode
 * (HRTIMER_MODE_ABS_SOFT), programmed to the next tick at which the wheel
 * has work (tr_next_tick()): nothing runs while nothing is due. A pass
 * takes the shard lock, reads the clock once, runs the wheel up to now
 * and posts the CQEs, handling at most a budget of entries; what is left
 * continues from a work item on the shard's node (system_unbound_wq,
 * process context), at most TR_PASS_BUDGET (4096) entries or TR_HOLD_NS
 * (100 us) per lock hold with a cond_resched() in between.
 *
 * The hrtimer soft-IRQ runs the callbacks of every instance due on a CPU
 * in one go, so a per-shard budget alone does not bound it: 200
 * instances with 2000 timers due at the same instant made one soft-IRQ of
 * 45-227 ms under TCG. So each pass in soft-IRQ handles at most
 * TR_SOFTIRQ_PASS_BUDGET (256) entries, after at most 256 ops of the SQ
 * ring (one step of sqpoll.c's consumer), and all instances of a CPU share
 * TR_SOFTIRQ_NS (200 us) of pass time per jiffy; once that is spent, a
 * callback only puts its shard on the CPU's deferred list (a bit and
 * an llist_add()), and a per-CPU work item hands the list to the
 * shards' own work items. One HRTIMER soft-IRQ then costs at most
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
 * Memory: the id table's chunks (3 KiB, 128 ids) come from one slab cache
 * through kmem_cache_alloc_node() on the shard's NUMA node, accounted to
 * the caller's memcg (SLAB_ACCOUNT), and are allocated on first use outside
 * the lock. The chunk and interval directories (8 bytes per 128 ids each)
 * and the pool directory are allocated on the node at SETUP, also
 * accounted.
 * Every allocation is charged to the opener's budget first (account.c).
 *
 * Closing a shard with 1M armed timers frees 8192 chunks with a
 * cond_resched() every 64: the entries are not unlinked one by one.
 */
#include <linux/cpumask.h>
#include <linux/nodemask.h>
#include <linux/percpu.h>
#include <linux/sched.h>
#include <linux/sched/clock.h>
#include <linux/slab.h>
#include <linux/topology.h>
#include <linux/vmalloc.h>

#include "compat.h"
#include "instance.h"
#include "shard.h"
#include "sqpoll.h"
#include "trace.h"

/* The spare pages of a chunk of ops cover tr_pool_want() for all of them. */
static_assert(TR_POOL_SPARE_MAX * TR_BLK_PAGE_BLOCKS >=
	      DIV_ROUND_UP(TR_BATCH_CHUNK, TR_BLK_REFS) + 2 * TR_BATCH_CHUNK + 1);

static struct kmem_cache *tr_chunk_cache;
static struct kmem_cache *tr_ival_cache;

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
	struct tr_shard *sh, *tmp;

	/*
	 * Clear the bit first: a callback that finds it set relies on the
	 * work being queued after it. tr_instance_free() flushes this work,
	 * so the instance outlives the loop.
	 */
	llist_for_each_entry_safe(sh, tmp, list, defer_node) {
		clear_bit(0, &sh->deferred);
		/* the clear is seen before the work can run and look */
		smp_mb__after_atomic();
		queue_work_node(sh->node, system_unbound_wq, &sh->work);
	}
}

/* Soft-IRQ: have the instance's pass continue from its work item. */
static void tr_defer(struct tr_shard *sh, struct tr_softirq_cpu *sc)
{
	if (test_and_set_bit(0, &sh->deferred))
		return;
	if (llist_add(&sh->defer_node, &sc->deferred))
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

/* Called under sh->lock: make the hrtimer fire at the next busy tick. */
void tr_program(struct tr_shard *sh)
{
	struct tr_instance *inst = sh->inst;
	u64 next, ns;

	if (sh->dead)
		return;
	next = tr_next_tick(&sh->core);
	if (inst->sqp)
		next = tr_sqpoll_next(inst, next);
	if (next >= sh->programmed)
		return;
	/*
	 * A shard of a sharded instance on a machine of several nodes fires
	 * on its own node: from a CPU of another, its work item (queued on
	 * its node) runs a pass there, which programs the hrtimer.
	 */
	if (sh->place && cpu_to_node(smp_processor_id()) != sh->node &&
	    cpumask_intersects(cpumask_of_node(sh->node), cpu_online_mask)) {
		tr_shard_kick(sh);
		return;
	}
	sh->programmed = next;
	if (next > KTIME_MAX / sh->core.res_ns)
		return;
	ns = next * sh->core.res_ns;
	hrtimer_start(&sh->hrt, ns_to_ktime(ns), HRTIMER_MODE_ABS_SOFT);
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
u32 tr_pass_finish(struct tr_shard *sh, u64 t0)
{
	struct tr_instance *inst = sh->inst;
	struct tr_core *c = &sh->core;
	u32 budget = TR_PASS_BUDGET, posted;

	tr_expire_held(c, &budget, t0);
	posted = tr_pass_end(c);
	tr_sqpoll_publish(inst);
	if (posted) {
		WRITE_ONCE(sh->published_tail, c->cq.tail);
		sh->wakeups++;
	}
	tr_program(sh);
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
bool tr_run(struct tr_shard *sh, u32 *budget)
{
	struct tr_instance *inst = sh->inst;
	struct tr_core *c = &sh->core;
	bool was_overflow, more, sq_more = false;
	u32 posted;
	u64 t0;

	spin_lock_bh(&sh->lock);
	t0 = local_clock();
	sh->programmed = U64_MAX;
	if (sh->dead || sh->cancelling) {
		spin_unlock_bh(&sh->lock);
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
		WRITE_ONCE(sh->published_tail, c->cq.tail);
		sh->wakeups++;
	}
	if (was_overflow != !!tr_pending_nr(c))
		trace_timerring_overflow(inst->inst_id, tr_pending_nr(c));
	more |= sq_more;
	if (!more)
		tr_program(sh);
	spin_unlock_bh(&sh->lock);

	tr_notify(inst, posted);
	return more;
}

/* Soft-IRQ: a pass within what is left of this CPU's budget. */
static enum hrtimer_restart tr_hrtimer_fn(struct hrtimer *t)
{
	struct tr_shard *sh = container_of(t, struct tr_shard, hrt);
	struct tr_softirq_cpu *sc = this_cpu_ptr(&tr_softirq_cpu);
	u32 budget = TR_SOFTIRQ_PASS_BUDGET;
	u64 now = local_clock();

	if (now - sc->start >= TICK_NSEC) {
		sc->start = now;
		sc->used = 0;
	}
	if (sc->used >= TR_SOFTIRQ_NS) {
		tr_defer(sh, sc);
		return HRTIMER_NORESTART;
	}
	if (tr_run(sh, &budget))
		tr_defer(sh, sc);
	sc->used += local_clock() - now;
	return HRTIMER_NORESTART;
}

static void tr_work_fn(struct work_struct *work)
{
	struct tr_shard *sh = container_of(work, struct tr_shard, work);
	u32 budget;

	do {
		cond_resched();
		tr_sqpoll_work(sh->inst);
		budget = TR_PASS_BUDGET;
	} while (tr_run(sh, &budget));
}

static void tr_table_free(struct tr_shard *sh)
{
	struct tr_core *c = &sh->core;
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

/* An object of @cache on the instance's node, charged to its budget. */
static void *tr_cache_alloc(struct tr_shard *sh, struct kmem_cache *cache)
{
	size_t sz = kmem_cache_size(cache);
	int ret = tr_charge(&sh->inst->charge, sz);
	void *mem;

	if (ret)
		return ERR_PTR(ret);
	mem = kmem_cache_alloc_node(cache, TR_GFP, sh->node);
	if (!mem) {
		tr_uncharge(&sh->inst->charge, sz);
		return ERR_PTR(-ENOMEM);
	}
	return mem;
}

static void tr_cache_free(struct tr_shard *sh, struct kmem_cache *cache,
			  void *mem)
{
	kmem_cache_free(cache, mem);
	tr_uncharge(&sh->inst->charge, kmem_cache_size(cache));
}

/*
 * Back @id with a table chunk (and an interval array if @periodic); with
 * @nowait, -EAGAIN instead of allocating one. What it allocated is added
 * to *@fresh (TR_FRESH_*), also when it then fails.
 */
int tr_ensure_chunk(struct tr_shard *sh, u32 id, bool periodic,
		    bool nowait, u8 *fresh)
{
	struct tr_core *c = &sh->core;
	u32 ci = id >> TR_CHUNK_SHIFT;

	if (nowait && (!c->chunk[ci] || (periodic && !c->ival[ci])))
		return -EAGAIN;
	if (unlikely(!c->chunk[ci])) {
		struct tr_entry *mem = tr_cache_alloc(sh, tr_chunk_cache);

		if (IS_ERR(mem))
			return PTR_ERR(mem);
		spin_lock_bh(&sh->lock);
		tr_table_install(c, ci, mem);
		spin_unlock_bh(&sh->lock);
		*fresh |= TR_FRESH_CHUNK;
	}
	if (unlikely(periodic && !c->ival[ci])) {
		struct tr_period *mem = tr_cache_alloc(sh, tr_ival_cache);

		if (IS_ERR(mem))
			return PTR_ERR(mem);
		spin_lock_bh(&sh->lock);
		tr_table_install_ival(c, ci, mem);
		spin_unlock_bh(&sh->lock);
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
 * caller holds the shard's mutex, so the chunk stays installed; the ops of the
 * SQ ring's consumer may use it meanwhile, so it is looked at under the
 * lock (128 entries). A chunk without a used entry has no periodic timer
 * either, so its interval array (fresh too) goes with it.
 */
void tr_drop_fresh(struct tr_shard *sh, u32 id, u8 fresh)
{
	struct tr_core *c = &sh->core;
	u32 ci = id >> TR_CHUNK_SHIFT, i;
	struct tr_entry *ent = c->chunk[ci];
	struct tr_period *per = c->ival[ci];
	bool chunk = (fresh & TR_FRESH_CHUNK) && ent;
	bool ival = (fresh & TR_FRESH_IVAL) && per;

	spin_lock_bh(&sh->lock);
	for (i = 0; chunk && i < TR_CHUNK_IDS; i++)
		chunk = !ent[i].gen;
	ival = ival || (chunk && per);
	for (i = 0; ival && !chunk && i < TR_CHUNK_IDS; i++)
		ival = !per[i].ival_ns;
	if (!chunk && !ival) {
		spin_unlock_bh(&sh->lock);
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
	spin_unlock_bh(&sh->lock);
	if (chunk)
		tr_cache_free(sh, tr_chunk_cache, ent);
	if (ival)
		tr_cache_free(sh, tr_ival_cache, per);
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
int tr_ensure_pool(struct tr_shard *sh, u32 n, bool nowait)
{
	struct tr_core *c = &sh->core;
	void *pages[TR_POOL_SPARE_MAX];
	u32 want, got = 0;
	int ret = 0;

	spin_lock_bh(&sh->lock);
	want = min_t(u32, tr_pool_want(c, n),
		     TR_POOL_SPARE_MAX - c->blk_spare_nr);
	/* the SQ ring's consumer leaves the room to them until settled */
	if (!want || !nowait)
		c->refs_held = n;
	spin_unlock_bh(&sh->lock);
	if (want && nowait)
		return -EAGAIN;
	while (got < want) {
		struct page *pg;

		ret = tr_charge(&sh->inst->charge, PAGE_SIZE);
		if (ret)
			break;
		pg = alloc_pages_node(sh->node, TR_GFP, 0);
		if (!pg) {
			tr_uncharge(&sh->inst->charge, PAGE_SIZE);
			ret = -ENOMEM;
			break;
		}
		pages[got++] = page_address(pg);
	}
	if (got) {
		spin_lock_bh(&sh->lock);
		while (got)
			tr_pool_spare_add(c, pages[--got]);
		spin_unlock_bh(&sh->lock);
	}
	return ret;
}

/*
 * Under the lock, after the ops: the spare pages no op installed go into
 * the pool if @keep (every op they were for succeeded: the pool keeps its
 * headroom), else to @pages (TR_POOL_SPARE_MAX) for tr_pool_free().
 * Returns how many went to @pages.
 */
u32 tr_pool_settle(struct tr_shard *sh, bool keep, void **pages)
{
	struct tr_core *c = &sh->core;
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

void tr_pool_free(struct tr_shard *sh, void **pages, u32 n)
{
	while (n--) {
		free_page((unsigned long)pages[n]);
		tr_uncharge(&sh->inst->charge, PAGE_SIZE);
	}
}

static void *tr_kvcalloc_node(size_t n, size_t size, int node)
{
	return kvmalloc_node(array_size(n, size), TR_GFP | __GFP_ZERO, node);
}

/* What tr_shard_setup() allocates for @p, as charged to the budget. */
size_t tr_shard_bytes(const struct timerring_params *p)
{
	size_t dir = DIV_ROUND_UP(p->max_timers, TR_CHUNK_IDS) * sizeof(void *);

	return 2 * tr_alloc_bytes(dir) +
	       tr_alloc_bytes(tr_pool_pages_max(p->max_timers) *
			      sizeof(void *));
}

/* Open: what a shard of @inst needs before SETUP. */
void tr_shard_init(struct tr_shard *sh, struct tr_instance *inst, u32 idx)
{
	mutex_init(&sh->mutex);
	spin_lock_init(&sh->lock);
	INIT_WORK(&sh->work, tr_work_fn);
	sh->programmed = U64_MAX;
	sh->inst = inst;
	sh->idx = idx;
}

/*
 * SETUP: the id table's directories and the wheel's pool directory of
 * @sh on @node for the parameters @p, its core posting to the CQ ring at
 * @ring, and its hrtimer (set up, not started). -ENOMEM, with nothing
 * left allocated. The caller has charged tr_shard_bytes().
 */
int tr_shard_setup(struct tr_shard *sh, const struct timerring_params *p,
		   int node, void *ring)
{
	u32 nr_chunks = DIV_ROUND_UP(p->max_timers, TR_CHUNK_IDS);
	struct tr_entry **chunk_dir;
	struct tr_period **ival_dir;
	struct tr_blk **blk_dir;

	chunk_dir = tr_kvcalloc_node(nr_chunks, sizeof(*chunk_dir), node);
	ival_dir = tr_kvcalloc_node(nr_chunks, sizeof(*ival_dir), node);
	blk_dir = tr_kvcalloc_node(tr_pool_pages_max(p->max_timers),
				   sizeof(*blk_dir), node);
	if (!chunk_dir || !ival_dir || !blk_dir) {
		kvfree(chunk_dir);
		kvfree(ival_dir);
		kvfree(blk_dir);
		return -ENOMEM;
	}
	sh->node = node;
	sh->place = p->shards > 1 && num_online_nodes() > 1;
	tr_core_init(&sh->core, p->max_timers, p->resolution_ns,
		     div64_u64(tr_clock_now(sh->inst), p->resolution_ns),
		     chunk_dir, ival_dir, blk_dir);
	tr_cq_init(&sh->core.cq, ring, p->cq_entries, &p->cq_off);
	tr_hrtimer_setup(&sh->hrt, tr_hrtimer_fn, sh->inst->clockid,
			 HRTIMER_MODE_ABS_SOFT);
	return 0;
}

/*
 * Closing: no pass runs on any of the @n shards once this returns, and
 * none will. All are marked dead before the CPUs' deferral lists are
 * drained, once for them all. Each hrtimer is cancelled twice: a pass
 * running meanwhile may have programmed it before it saw dead.
 */
void tr_shards_stop(struct tr_shard *const *shards, u32 n)
{
	struct tr_shard *sh;
	int cpu;
	u32 i;

	for (i = 0; i < n; i++) {
		sh = shards[i];
		spin_lock_bh(&sh->lock);
		sh->dead = true;
		spin_unlock_bh(&sh->lock);
		hrtimer_cancel(&sh->hrt);
	}
	/* no callback can defer them now: let the CPUs' lists drain */
	for_each_possible_cpu(cpu)
		flush_work(&per_cpu_ptr(&tr_softirq_cpu, cpu)->work);
	for (i = 0; i < n; i++) {
		cancel_work_sync(&shards[i]->work);
		hrtimer_cancel(&shards[i]->hrt);
	}
}

/* After tr_shards_stop(): its table goes (the charge is the caller's). */
void tr_shard_free(struct tr_shard *sh)
{
	tr_table_free(sh);
}

/* Have the shard's work item run a pass (process context, its node). */
void tr_shard_kick(struct tr_shard *sh)
{
	queue_work_node(sh->node, system_unbound_wq, &sh->work);
}
