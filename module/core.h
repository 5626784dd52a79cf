/* SPDX-License-Identifier: GPL-2.0 */
/*
 * timerring core: the id table, the hierarchical timing wheel and the
 * completion ring writer. See wheel.c for the design and its numbers.
 *
 * Everything here is pure C: no locks, no sleeping, no allocation. The
 * caller serialises all calls on one struct tr_core (the driver holds the
 * shard lock) and provides the id table's chunks before arming ids in
 * them (tr_table_install()).
 */
#ifndef _TIMERRING_CORE_H
#define _TIMERRING_CORE_H

#include "tr_env.h"
#include <linux/timerring.h>

/* Id table: 128 entries of 24 bytes, one 3 KiB chunk. */
#define TR_CHUNK_SHIFT		7
#define TR_CHUNK_IDS		BIT(TR_CHUNK_SHIFT)
#define TR_CHUNK_MASK		(TR_CHUNK_IDS - 1)
#define TR_NIL			U32_MAX

/*
 * Wheel: 6 levels with 256-fold granularity steps (48 bits of ticks), each
 * level 512 slots: the current rotation of the level and the next one
 * (wheel.c).
 */
#define TR_LVL_BITS		8
#define TR_LVL_SLOTS		BIT(TR_LVL_BITS + 1)
#define TR_LVL_MASK		(TR_LVL_SLOTS - 1)
#define TR_LEVELS		6
#define TR_OCC_WORDS		(TR_LVL_SLOTS / 64)	/* per level */
#define TR_WHEEL_BITS		(TR_LEVELS * TR_LVL_BITS)
#define TR_NR_BUCKETS		(TR_LEVELS * TR_LVL_SLOTS)

/* Where an entry is (tr_entry.where): a bucket or one of these queues. */
#define TR_L_PENDING		(TR_NR_BUCKETS + 0)	/* fired, not posted */
#define TR_L_FAR		(TR_NR_BUCKETS + 1)	/* beyond the wheel */
#define TR_NR_QUEUES		(TR_NR_BUCKETS + 2)
#define TR_L_NONE		0xffffU			/* idle (not armed) */

/* Refs handled per drain step (wheel.c), and per CQE batch. */
#define TR_DRAIN_BATCH		64

/* Flags of tr_arm() and tr_modify() */
#define TR_EF_SLACK		0x01
/* tr_entry.posf: the ref position, and whether the timer is periodic */
#define TR_POS_MASK		0x7fffffffU
#define TR_POSF_PERIODIC	0x80000000U

/*
 * One timer id: 24 bytes, whether armed or not. An armed entry is named by
 * one ref (its id) in the queue of its wheel slot; posf says where that ref
 * is, so that the queue's other refs to the id are known to be stale.
 * where comes first: a CANCEL reads and writes only it, which is in the
 * entry's first cache line even when the entry straddles two.
 */
struct tr_entry {
	u16 where;		/* TR_L_* or a bucket, TR_L_NONE if idle */
	u16 gen;		/* bumped by every successful ARM/MODIFY */
	u32 posf;		/* position of its ref | TR_POSF_PERIODIC */
	u64 expires;		/* tick at which it is due */
	u64 user_data;
};

/*
 * Queues of refs (wheel.c): 64-byte blocks of 15 ids and the index of the
 * next block, from a pool of 4 KiB pages of 64 blocks. A position is
 * block * 16 + index in the block.
 */
#define TR_BLK_REFS		15
#define TR_BLK_PAGE_SHIFT	6
#define TR_BLK_PAGE_BLOCKS	BIT(TR_BLK_PAGE_SHIFT)
#define TR_BLK_MAX		BIT(27)	/* positions fit TR_POS_MASK */
/*
 * Pages the driver sets aside for the ops of one chunk, at most what
 * tr_pool_want() gives for 256 more refs (9 pages), installed only by
 * the ops that find the pool short (tr_pool_reserve()).
 */
#define TR_POOL_SPARE_MAX	16

struct tr_blk {
	u32 ref[TR_BLK_REFS];
	u32 next;
};

static_assert(sizeof(struct tr_blk) == 16 * sizeof(u32));

struct tr_queue {
	u32 head;		/* position of the first ref */
	u32 tail;		/* position after the last ref */
	u32 nr;			/* refs, live or stale; 0: no block */
	/*
	 * Entries whose where is this queue. Written under the instance
	 * lock, always with WRITE_ONCE(): tr_poll() and tr_flush_overflow()
	 * read the pending queue's without it (READ_ONCE()), to tell whether
	 * expirations wait for ring space; a stale answer there only costs
	 * or saves one locked pass.
	 */
	u32 live;
};

/*
 * The period of a periodic timer, on a nanosecond grid: due_ns is the exact
 * due time of its next period, ival_ns the interval. The wheel only sees
 * the tick of due_ns rounded up.
 */
struct tr_period {
	u64 ival_ns;
	u64 due_ns;
};

/*
 * Scratch of one drain step, structure of arrays: the refs popped from a
 * queue (rid) and their entries (ent), the live entries among them (ent,
 * id, expiry), what the kernels say of those (where, idx: the due ones) and
 * the CQEs being formed (cid, ud, cflags).
 */
struct tr_drain {
	struct tr_entry *ent[TR_DRAIN_BATCH];
	u64 exp[TR_DRAIN_BATCH];
	u64 ud[TR_DRAIN_BATCH];
	u32 rid[TR_DRAIN_BATCH];
	u32 id[TR_DRAIN_BATCH];
	u32 idx[TR_DRAIN_BATCH];
	u32 cid[TR_DRAIN_BATCH];
	u32 cflags[TR_DRAIN_BATCH];
	u16 where[TR_DRAIN_BATCH];
};

struct tr_batch_impl;

/* struct io_uring_cqe, without its optional big_cqe tail. */
struct tr_cqe {
	u64 user_data;
	s32 res;
	u32 flags;
};

/* The completion ring as the kernel sees it. */
struct tr_cq {
	u32 *khead;		/* shared, written by userspace */
	u32 *ktail;		/* shared, written here */
	u32 *kflags;		/* shared, written here */
	u32 *koverflow_pending;	/* shared, written here */
	struct tr_cqe *cqes;	/* shared */
	u32 mask;		/* private copies: never read back */
	u32 entries;
	u32 tail;
	u32 space;		/* free slots as of that read */
	u32 posted;		/* CQEs written since the last publish */
};

/*
 * The submission ring as the kernel sees it (sq.c): pointers into the
 * shared area, and private copies of everything the kernel writes there.
 */
struct tr_sq {
	u32 *khead;		/* shared, written here */
	u32 *ktail;		/* shared, written by userspace */
	u32 *kflags;		/* shared, written here */
	u32 *kdropped;		/* shared, written here */
	struct timerring_op *ops;	/* shared */
	u32 mask;		/* private copies: never read back */
	u32 entries;
	u32 head;
	u32 published;		/* head as last stored to khead */
	u32 flags;
	u32 dropped;
};

struct tr_stats {
	u64 armed_total;
	u64 modified_total;
	u64 cancelled_total;
	u64 expired_total;
	u64 overflowed_total;
	u64 cascades;
	u64 ops_failed;
	u64 lateness_hist[TIMERRING_LATENCY_BUCKETS];
};

struct tr_core {
	/* wheel */
	struct tr_queue q[TR_NR_QUEUES];	/* buckets, pending, far */
	u64 occupied[TR_NR_BUCKETS / 64];	/* a bit per non-empty slot */
	u64 elapsed;			/* wheel time, in ticks */
	u64 lvl_end[TR_LEVELS];		/* tr_where(): first tick past level */
	u16 draining;			/* queue being drained, or TR_L_NONE */
	u64 far_at;			/* tick to examine the far queue at */
	u32 far_left;			/* refs of the far queue to examine */
	u16 compact_at;			/* next queue to look at (wheel.c) */
	u16 cancel_at;			/* tr_cancel_all(): queues below are empty */
	u32 armed;			/* entries not TR_L_NONE */

	/* ref pool */
	u32 refs;			/* refs in all queues */
	u32 refs_max;			/* refs the pool holds (table.c) */
	u32 blk_free;			/* free list of blocks */
	u32 blk_nr_free;
	u32 blk_nr;			/* blocks installed */
	u32 blk_pages_max;
	struct tr_blk **blk_page;	/* [blk_pages_max], NULL until used */
	u32 blk_spare_nr;
	void *blk_spare[TR_POOL_SPARE_MAX];	/* set aside, not installed */
	u32 refs_held;			/* room kept for those ops (table.c) */

	/*
	 * Batch kernels of the drain (set by the caller; scalar after
	 * tr_core_init()), used from kern_min entries per step up.
	 */
	const struct tr_batch_impl *kern;
	u32 kern_min;
	u32 kern_last;			/* TIMERRING_IMPL_* of the last step */
	struct tr_drain drain;

	/* id table */
	u32 max_ids;
	u32 nr_chunks;			/* max_ids / TR_CHUNK_IDS, rounded up */
	u32 chunks_present;
	u32 ivals_present;
	struct tr_entry **chunk;	/* [nr_chunks], NULL until used */
	struct tr_period **ival;	/* [nr_chunks], periodic timers */

	/* time */
	u64 res_ns;			/* tick length */
	u64 now_ns;			/* clock as given by tr_set_now() */
	u64 now_tick;			/* now_ns in whole ticks */

	struct tr_cq cq;
	struct tr_stats st;
};

static inline struct tr_entry *tr_entry_get(const struct tr_core *c, u32 id)
{
	struct tr_entry *ch = c->chunk[id >> TR_CHUNK_SHIFT];

	return ch ? &ch[id & TR_CHUNK_MASK] : NULL;
}

/* The entry of an id known to be in an installed chunk. */
static inline struct tr_entry *tr_entry(const struct tr_core *c, u32 id)
{
	return &c->chunk[id >> TR_CHUNK_SHIFT][id & TR_CHUNK_MASK];
}

/*
 * The ref at position @pos: a page holds 64 blocks of 16 u32 (15 refs and
 * the link), so the position's low 10 bits are its u32 index in its page.
 */
static inline u32 *tr_ref(const struct tr_core *c, u32 pos)
{
	return (u32 *)c->blk_page[pos >> (TR_BLK_PAGE_SHIFT + 4)] +
	       (pos & (TR_BLK_PAGE_BLOCKS * 16 - 1));
}

/*
 * The first tick past level @lvl at wheel time @t: the start of the
 * rotation after next of level @lvl + 1 (tr_where_of()). t < 2^62.
 */
static __always_inline u64 tr_lvl_end(u64 t, unsigned int lvl)
{
	unsigned int s = (lvl + 1) * TR_LVL_BITS;

	return ((t >> s) + 2) << s;
}

/* Move the wheel time to @t, and the level bounds of tr_where() with it. */
static inline void tr_set_elapsed(struct tr_core *c, u64 t)
{
	unsigned int l;

	c->elapsed = t;
	for (l = 0; l < TR_LEVELS; l++)
		c->lvl_end[l] = tr_lvl_end(t, l);
}

/* Whether ops may add @more refs: the pool keeps what the expiry needs. */
static inline bool tr_pool_room(const struct tr_core *c, u32 more)
{
	return c->refs + more <= c->refs_max;
}

bool tr_pool_grow_spare(struct tr_core *c);

/*
 * Room for an op to add a ref, from a spare page if the pool is short:
 * the pool grows only for the ops that add refs.
 */
static inline bool tr_pool_reserve(struct tr_core *c)
{
	return likely(tr_pool_room(c, 1)) || tr_pool_grow_spare(c);
}

/* Set @page aside for the ops about to be applied (table.c). */
static inline void tr_pool_spare_add(struct tr_core *c, void *page)
{
	c->blk_spare[c->blk_spare_nr++] = page;
}

/* A page set aside that no op installed, or NULL. */
static inline void *tr_pool_spare_take(struct tr_core *c)
{
	return c->blk_spare_nr ? c->blk_spare[--c->blk_spare_nr] : NULL;
}

/* Expirations waiting on the overflow queue. */
static inline u32 tr_pending_nr(const struct tr_core *c)
{
	return c->q[TR_L_PENDING].live;
}

static inline void tr_set_now(struct tr_core *c, u64 now_ns)
{
	c->now_ns = now_ns;
	c->now_tick = div64_u64(now_ns, c->res_ns);
}

/*
 * The queue of a timer due at tick @exp, at wheel time @elapsed: the
 * lowest level L at which exp is in the current rotation of level L + 1 or
 * the next, (exp >> 8(L+1)) - (elapsed >> 8(L+1)) <= 1, and there slot
 * (exp >> 8L) % 512; TR_L_PENDING if due, TR_L_FAR beyond level 5.
 */
static __always_inline u16 tr_where_of(u64 elapsed, u64 exp)
{
	unsigned int lvl;

	if (exp <= elapsed)
		return TR_L_PENDING;
	for (lvl = 0; lvl < TR_LEVELS; lvl++) {
		unsigned int s = (lvl + 1) * TR_LVL_BITS;

		if ((exp >> s) - (elapsed >> s) <= 1)
			return lvl * TR_LVL_SLOTS +
			       ((exp >> (lvl * TR_LVL_BITS)) & TR_LVL_MASK);
	}
	return TR_L_FAR;
}

/* table.c */
u32 tr_pool_pages_max(u32 max_ids);
void tr_core_init(struct tr_core *c, u32 max_ids, u64 res_ns, u64 now_tick,
		  struct tr_entry **chunk_dir, struct tr_period **ival_dir,
		  struct tr_blk **blk_dir);
void tr_table_install(struct tr_core *c, u32 chunk_idx, struct tr_entry *mem);
void tr_table_install_ival(struct tr_core *c, u32 chunk_idx,
			   struct tr_period *mem);
u32 tr_pool_want(const struct tr_core *c, u32 more);
void tr_pool_install(struct tr_core *c, void *page);
size_t tr_table_bytes(const struct tr_core *c);

/*
 * wheel.c: ops; all return a TIMERRING_OP_* result (>= 0 or -errno).
 * @per is NULL for a one-shot timer; a periodic one is due at tick
 * @expires, the tick of per->due_ns rounded up.
 */
int tr_arm(struct tr_core *c, u32 id, u64 expires, u64 user_data,
	   const struct tr_period *per, u8 flags);
int tr_modify(struct tr_core *c, u32 id, u64 expires, u64 user_data,
	      const struct tr_period *per, u8 flags);
int tr_cancel(struct tr_core *c, u32 id);
bool tr_cancel_all(struct tr_core *c, u32 *budget, u32 *cancelled);

/* wheel.c: time */
u64 tr_next_tick(const struct tr_core *c);
bool tr_advance(struct tr_core *c, u64 now_tick, u32 *budget);
bool tr_flush(struct tr_core *c, u32 *budget);

/* cq.c */
void tr_cq_init(struct tr_cq *cq, void *base, u32 entries,
		const struct timerring_cq_offsets *off);
void tr_cq_layout(u32 entries, struct timerring_cq_offsets *off,
		  size_t *size);
void tr_cq_begin(struct tr_cq *cq);
u32 tr_cq_end(struct tr_cq *cq, u32 pending_nr);
u32 tr_cq_ready(const struct tr_cq *cq);
void tr_cq_post_err(struct tr_cq *cq, u64 user_data, s32 res, u32 flags);

/* sq.c */
void tr_sq_layout(u32 entries, size_t base, struct timerring_sq_offsets *off,
		  size_t *end);
void tr_sq_init(struct tr_sq *sq, void *map, u32 entries,
		const struct timerring_sq_offsets *off);
u32 tr_sq_avail(const struct tr_sq *sq);
void tr_sq_fetch(const struct tr_sq *sq, struct timerring_op *dst, u32 n);
void tr_sq_commit(struct tr_sq *sq, u32 n, u32 bad);
void tr_sq_publish(struct tr_sq *sq);
void tr_sq_set_wakeup(struct tr_sq *sq, bool need);

static inline bool tr_cq_has_space(const struct tr_cq *cq)
{
	return cq->space != 0;
}

/* Take @n slots (n <= space) for CQEs; returns the tail of the first. */
static inline u32 tr_cq_claim(struct tr_cq *cq, u32 n)
{
	u32 t = cq->tail;

	cq->tail += n;
	cq->space -= n;
	cq->posted += n;
	return t;
}

/* Ticks <-> ns, rounding so that a timer never fires early. */
static inline u64 tr_ns_to_tick_ceil(u64 ns, u64 res_ns)
{
	u64 rem;
	u64 t = div64_u64_rem(ns, res_ns, &rem);

	return t + (rem != 0);
}

static inline unsigned int tr_lateness_bucket(u64 late_ns)
{
	u64 us = late_ns / 1000;
	unsigned int b = us < 2 ? 0 : fls64(us) - 1;

	return min_t(unsigned int, b, TIMERRING_LATENCY_BUCKETS - 1);
}

/*
 * tr_where_of(c->elapsed, @exp) by the level bounds kept with the wheel
 * time: most timers are on level 0 or 1, one or two compares.
 */
static __always_inline u16 tr_where(const struct tr_core *c, u64 exp)
{
	unsigned int lvl;

	if (exp <= c->elapsed)
		return TR_L_PENDING;
	for (lvl = 0; lvl < TR_LEVELS; lvl++)
		if (exp < c->lvl_end[lvl])
			return lvl * TR_LVL_SLOTS +
			       ((exp >> (lvl * TR_LVL_BITS)) & TR_LVL_MASK);
	return TR_L_FAR;
}

#endif /* _TIMERRING_CORE_H */
