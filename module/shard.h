/* SPDX-License-Identifier: GPL-2.0 */
/*
 * timerring driver: one shard of an instance (shard.c). Every timer id
 * lives in exactly one shard, which holds its entry, its place in the
 * wheel and the ring its CQEs go to.
 */
#ifndef _TIMERRING_SHARD_H
#define _TIMERRING_SHARD_H

#include <linux/cache.h>
#include <linux/hrtimer.h>
#include <linux/llist.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/workqueue.h>

#include "core.h"

/*
 * The hrtimer soft-IRQ of one CPU spends at most TR_SOFTIRQ_NS per jiffy
 * in the passes of all shards together, each of at most
 * TR_SOFTIRQ_PASS_BUDGET entries; what is left runs from the shards'
 * work items.
 */
#define TR_SOFTIRQ_NS		(200 * NSEC_PER_USEC)
#define TR_SOFTIRQ_PASS_BUDGET	256

/*
 * One hold of a shard's lock (bottom halves off) by a pass, by the
 * expiry of a SUBMIT chunk or by CANCEL_ALL handles its refs in slices of
 * TR_HOLD_SLICE and ends after the slice that took it past TR_HOLD_NS, or
 * at its budget (TR_PASS_BUDGET refs, ~140 us natively). Natively a slice
 * is ~1-3 us, so a hold stays near 100 us; under TCG, where a ref costs
 * 30-150x more (a TLB miss of QEMU's soft MMU each, for timers spread over
 * the table), a hold stays under 1 ms instead of the 18-27 ms of 4096
 * refs (tools/bench/RESULTS.md).
 */
#define TR_HOLD_NS		(100 * NSEC_PER_USEC)
#define TR_HOLD_SLICE		32

struct timerring_params;
struct tr_instance;

struct tr_shard {
	/*
	 * Held by a submitter (or the SQ ring's consumer in process
	 * context) while it allocates for the shard's table and pool and
	 * applies its ops: what it allocated stays installed until it knows
	 * whether its ops used it (tr_drop_fresh()).
	 */
	struct mutex mutex;
	/* the core and everything the expiry path touches: under lock */
	spinlock_t lock;
	struct tr_core core;
	u64 programmed;			/* tick the hrtimer is set for */
	bool dead;			/* closing: do not re-arm */
	bool cancelling;		/* CANCEL_ALL between lock holds */
	/*
	 * The last tail stored to the shard's ring: WRITE_ONCE() under lock,
	 * read without it by poll and WAIT (tr_cq_unread()), which only
	 * compare it with the ring's head.
	 */
	u32 published_tail;
	u64 wakeups;

	struct hrtimer hrt;
	struct work_struct work;
	/* on a CPU's list of shards whose pass did not fit its budget */
	struct llist_node defer_node;
	unsigned long deferred;		/* bit 0: on that list */

	struct tr_instance *inst;
	u32 idx;			/* in inst->shards[] */
	int node;			/* its memory, work item and hrtimer */
	bool place;			/* keep its hrtimer on node (tr_program()) */
} ____cacheline_aligned_in_smp;

void tr_shard_init(struct tr_shard *sh, struct tr_instance *inst, u32 idx);
int tr_shard_setup(struct tr_shard *sh, const struct timerring_params *p,
		   int node, void *ring);
void tr_shards_stop(struct tr_shard *const *shards, u32 n);
void tr_shard_free(struct tr_shard *sh);
size_t tr_shard_bytes(const struct timerring_params *p);

void tr_program(struct tr_shard *sh);
bool tr_run(struct tr_shard *sh, u32 *budget);
bool tr_expire_held(struct tr_core *c, u32 *budget, u64 t0);
u32 tr_pass_finish(struct tr_shard *sh, u64 t0);
void tr_shard_kick(struct tr_shard *sh);

int tr_ensure_chunk(struct tr_shard *sh, u32 id, bool periodic,
		    bool nowait, u8 *fresh);
void tr_drop_fresh(struct tr_shard *sh, u32 id, u8 fresh);
int tr_ensure_pool(struct tr_shard *sh, u32 n, bool nowait);
u32 tr_pool_settle(struct tr_shard *sh, bool keep, void **pages);
void tr_pool_free(struct tr_shard *sh, void **pages, u32 n);

int tr_slab_init(void);
void tr_slab_exit(void);

#endif /* _TIMERRING_SHARD_H */
