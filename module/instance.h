/* SPDX-License-Identifier: GPL-2.0 */
/*
 * timerring driver: one struct tr_instance per open file.
 */
#ifndef _TIMERRING_INSTANCE_H
#define _TIMERRING_INSTANCE_H

#include <linux/atomic.h>
#include <linux/eventfd.h>
#include <linux/hrtimer.h>
#include <linux/llist.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include "account.h"
#include "eventfd.h"
#include "core.h"
#include "batch.h"
#include "par.h"
#include "shard.h"

struct file;
struct tr_sqpoll;
struct poll_table_struct;
struct vm_area_struct;

/* What step 3 of a chunk allocated for an op (submit.c, tr_batch_buf). */
#define TR_FRESH_CHUNK		BIT(0)	/* the table chunk of its id */
#define TR_FRESH_IVAL		BIT(1)	/* that chunk's interval array */

/*
 * A submitter's buffer (submit.c), held under lock for a batch: the chunk
 * as copied in and prepared; with shards, also the chunk sorted by shard;
 * and its segments (split.c).
 */
struct tr_submit_buf {
	struct mutex lock;		/* its submitter's, for a batch */
	struct tr_batch_buf b;
	struct tr_batch_buf *sorted;	/* NULL with one shard */
	struct tr_split split;
};

struct tr_instance {
	/* its timers: shard 0 here, the others allocated at SETUP */
	struct tr_shard shard;
	u32 nr_shards;			/* set once at SETUP */
	struct tr_shard *shards[TIMERRING_SHARDS_MAX];
	/* submitters: one buffer per shard, and CANCEL_ALL's (submit.c) */
	struct tr_submit_buf *bufs[TIMERRING_SHARDS_MAX];
	struct mutex cancel_mutex;	/* outer lock of all shard mutexes */
	atomic64_t batches;
	/* parallel big batches (submit_par.c): the cost model, under lock */
	spinlock_t tier_lock;
	struct tr_tier tier;
	atomic64_t par_batches;
	atomic64_t par_stolen;

	wait_queue_head_t wq;
	struct tr_eventfd __rcu *evfd;

	/* setup state, under setup_mutex (also EVENTFD's); ready is set once */
	struct mutex setup_mutex;
	bool ready;
	u32 inst_id;
	int node;
	clockid_t clockid;
	u32 last_impl;			/* WRITE_ONCE(): STATS reads it unlocked */
	struct timerring_params params;

	/* the shared ring */
	struct page **ring_pages;
	unsigned int ring_nr_pages;
	void *ring;
	size_t ring_bytes;		/* mapping size (page aligned) */

	struct tr_sqpoll *sqp;		/* the SQ ring, or NULL (sqpoll.c) */
	/* on the list of set-up instances of debugfs timerring/stats */
	struct list_head stats_link;

	struct tr_charge charge;
};

/* main.c */
extern unsigned int tr_max_timers;
extern unsigned int tr_max_cq_entries;

/* instance.c */
struct tr_instance *tr_instance_alloc(void);
void tr_instance_free(struct tr_instance *inst);
int tr_instance_setup(struct tr_instance *inst, void __user *uarg,
		      size_t usize);
u64 tr_clock_now(const struct tr_instance *inst);
void tr_notify(struct tr_instance *inst, u32 posted);

/* The shard that holds timer @id (an id below max_timers). */
static inline u32 tr_shard_idx(const struct tr_instance *inst, u32 id)
{
	return TIMERRING_SHARD_OF(id, inst->nr_shards);
}

/* Shard @i of @inst, or NULL past the last: for (i = 0; (sh = ...); i++) */
static inline struct tr_shard *tr_shard_at(const struct tr_instance *inst,
					   u32 i)
{
	return i < inst->nr_shards ? inst->shards[i] : NULL;
}

static inline bool tr_ready(struct tr_instance *inst)
{
	/* Pairs with the store-release at the end of setup. */
	return smp_load_acquire(&inst->ready);
}

/* memmap.c */
int tr_ring_alloc(struct tr_instance *inst, size_t bytes);
void tr_ring_free(struct tr_instance *inst);
int tr_mmap(struct file *file, struct vm_area_struct *vma);

/* wait.c */
__poll_t tr_poll(struct file *file, struct poll_table_struct *pt);
long tr_ioctl_wait(struct tr_instance *inst, void __user *uarg, size_t usize);

/* stats.c */
int tr_debugfs_init(void);
void tr_debugfs_exit(void);
void tr_stats_register(struct tr_instance *inst);
void tr_stats_unregister(struct tr_instance *inst);
long tr_ioctl_stats(struct tr_instance *inst, void __user *uarg,
		    size_t usize);
int tr_copy_struct_to_user(void __user *dst, size_t usize, const void *src,
			   size_t ksize);

/* submit_par.c: TIMERRING_PAR_* in force, and the break-even in ops */
u32 tr_par_mode(struct tr_instance *inst, u32 *breakeven);

/* simd.c */
u32 tr_prep(const struct tr_prep *p, const struct timerring_op *ops, u32 n,
	    struct tr_prep_out *out);
u32 tr_impl_active(void);
u32 tr_drain_impl_active(void);
void tr_simd_set_drain(struct tr_core *c);
const char *tr_impl_name(u32 impl);
int tr_simd_init(void);

#endif /* _TIMERRING_INSTANCE_H */
