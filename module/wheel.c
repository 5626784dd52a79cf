// SPDX-License-Identifier: GPL-2.0
/*
 * timerring hierarchical timing wheel.
 *
 * Time is counted in ticks of the instance's resolution (1 ms by default,
 * 1 us to 1 s allowed). The wheel has 6 levels; level L has a granularity
 * of 256^L ticks, and 512 slots: the rest of the current rotation of the
 * level (256 slots) and the whole next one. It covers:
 *
 *   level  granularity  reach (2 rotations)  at 1 ms tick      at 1 us tick
 *   0      1            2^9                   1 ms / 0.5 s      1 us / 512 us
 *   1      2^8          2^17                  256 ms / 131 s    256 us / 131 ms
 *   2      2^16         2^25                  65.5 s / 9.3 h    65.5 ms / 33.6 s
 *   3      2^24         2^33                  4.7 h / 99 d      16.8 s / 2.4 h
 *   4      2^32         2^41                  49.7 d / 70 y     71.6 min / 25 d
 *   5      2^40         2^49                  34.8 y / 17850 y  12.7 d / 17.8 y
 *
 * Placement (tr_where_of()): a timer due at tick E, with the wheel at tick
 * W, goes to the lowest level L whose next-higher group of E is the one of
 * W or the next, (E >> 8(L+1)) - (W >> 8(L+1)) <= 1, into slot
 * (E >> 8L) % 512. So a level-L slot holds one value of E >> 8L, at or
 * after W's own, and the next slot to process on a level is the first set
 * bit of its 512-bit occupancy map from W's slot on, wrapping once: 6 x 8
 * word searches find the next expiry, with no scan of empty slots. Timers
 * more than two level-5 rotations ahead sit on the far queue, re-examined
 * each time W crosses a 2^48-tick boundary (every 8.9 years at 1 us).
 *
 * When W reaches the start of an occupied slot, its due timers (E == W)
 * fire and the others are cascaded: placed again relative to W, which
 * lands them on a lower level. A timer therefore fires exactly at its
 * tick, never early and at most one tick late. A timer with
 * TIMERRING_OPF_SLACK has its tick rounded up to a granularity of at most
 * 1/8 of its timeout, so that it is due at a slot boundary.
 *
 * Cascades are spread (tr_precascade()). The slot of level L >= 1 that
 * comes next, W >> 8L plus one, only holds timers because W moved on: new
 * timers for it go one level down, into the next rotation there. So after
 * each pass, while that slot is not empty, its timers are moved down at
 * max(256, 2 * n / ticks left) per pass, and the next pass is asked for
 * at the next tick while more than 256 are left (and at the slot's window
 * start when the slot after holds more than 256). 2^20 timers spread over
 * 10 s at 1 ms ticks put ~26K in a level-1 slot: moved at 256 per tick in
 * ~100 of the slot's 256 ticks, instead of all in the one pass that
 * reaches the slot.
 *
 * Queues of refs. Each slot, the overflow (pending) queue and the far
 * queue are FIFO queues of refs: ids, 15 to a 64-byte block (table.c has
 * the pool). An armed entry records where its ref is (tr_entry.posf), and
 * a ref whose entry does not point back is stale and skipped. So:
 *   - ARM appends a ref to the slot's tail block, which is hot: the op
 *     touches one random line, the entry (24 bytes; 1 in 4 straddles two);
 *   - CANCEL only marks the entry idle, and MODIFY marks it and appends
 *     elsewhere, or changes nothing when the new expiry lands in the same
 *     slot (as mod_timer() does); neither touches another entry;
 *   - a drain streams a queue's blocks and prefetches the entries of 64
 *     refs at once, which then arrive together.
 * Stale refs cost memory until their slot drains. A queue whose live
 * timers all leave is freed at once, in O(blocks), without touching an
 * entry. And once refs outnumber twice the armed timers plus 4096, each
 * ARM or MODIFY that adds one also compacts 8 refs of a queue with more
 * stale refs than live ones (tr_compact_some()), so that memory follows
 * the number of timers armed, not the churn; a CANCEL never pays for it.
 * Timers due in one tick fire in the order of their refs: arming order,
 * except that a same-slot MODIFY keeps its place and compaction moves live
 * refs behind newer ones.
 *
 * Processing is bounded: tr_advance() and tr_flush() take a budget of refs
 * to handle and resume exactly where they stopped (tr_core.draining).
 * A drain step takes up to TR_DRAIN_BATCH (64) live entries as
 * structure-of-arrays scratch (ids, expiries) and hands them to the batch
 * kernels (batch.c; AVX2 or AVX-512 where the caller chose them and the
 * FPU is usable): scan_due picks the due entries, place computes the new
 * slot of the others, and cqe_fill writes the CQEs of the due ones.
 *
 * Fired timers are written straight into the completion ring when it has
 * room and nothing older waits; otherwise they are appended to the
 * pending queue and posted in order by tr_flush(), 64 at a time. A pending
 * expiration can still be cancelled or modified.
 */
#include "batch.h"

/* The first 2^48-tick boundary after tick @t: when far timers move in. */
static inline u64 tr_far_boundary(u64 t)
{
	return ((t >> TR_WHEEL_BITS) + 1) << TR_WHEEL_BITS;
}

/* compaction: stale refs allowed beyond one per armed timer, and a step */
#define TR_STALE_SLACK		4096
#define TR_COMPACT_STEP		8
/* cascade spreading: moves per pass, and the size that asks for passes */
#define TR_PRECASCADE_MIN	256

static inline struct tr_blk *tr_blk(const struct tr_core *c, u32 b)
{
	return &c->blk_page[b >> TR_BLK_PAGE_SHIFT]
			   [b & (TR_BLK_PAGE_BLOCKS - 1)];
}

/* The pool cannot run dry: see table.c. */
static inline u32 tr_blk_get(struct tr_core *c)
{
	u32 b = c->blk_free;

	c->blk_free = tr_blk(c, b)->next;
	c->blk_nr_free--;
	return b;
}

static inline void tr_blk_put(struct tr_core *c, u32 b)
{
	tr_blk(c, b)->next = c->blk_free;
	c->blk_free = b;
	c->blk_nr_free++;
}

static inline void tr_occ_set(struct tr_core *c, u16 w)
{
	c->occupied[w / 64] |= 1ULL << (w % 64);
}

static inline void tr_occ_clear(struct tr_core *c, u16 w)
{
	c->occupied[w / 64] &= ~(1ULL << (w % 64));
}

/* Give queue @q a new tail block: its first, or one past a full one. */
static void tr_q_grow(struct tr_core *c, struct tr_queue *q)
{
	u32 b = tr_blk_get(c);

	if (q->nr)
		tr_blk(c, q->tail / 16)->next = b;
	else
		q->head = b * 16;
	q->tail = b * 16;
}

/* Append a ref to @id to queue @q; returns its position. */
static __always_inline u32 tr_q_append(struct tr_core *c,
				       struct tr_queue *q, u32 id)
{
	u32 pos;

	if (unlikely(!q->nr || q->tail % 16 == TR_BLK_REFS))
		tr_q_grow(c, q);
	pos = q->tail++;
	*tr_ref(c, pos) = id;
	q->nr++;
	c->refs++;
	return pos;
}

static inline bool tr_ref_live(const struct tr_entry *e, u16 w, u32 pos)
{
	return e->where == w && (e->posf & TR_POS_MASK) == pos;
}

static inline void tr_set_pos(struct tr_entry *e, u32 pos)
{
	e->posf = (e->posf & TR_POSF_PERIODIC) | pos;
}

/* Put armed entry @e on queue @w. */
static __always_inline void tr_q_add(struct tr_core *c, u16 w, u32 id,
				     struct tr_entry *e)
{
	struct tr_queue *q = &c->q[w];

	tr_set_pos(e, tr_q_append(c, q, id));
	e->where = w;
	WRITE_ONCE(q->live, q->live + 1);
	if (w < TR_NR_BUCKETS)
		tr_occ_set(c, w);
}

/*
 * Put armed entries @ent[0, n), of ids @id, on queue @w in that order,
 * while @where (if not NULL) says @w; returns how many it put. The
 * queue's tail stays in a local.
 */
static __always_inline u32 tr_q_add_run(struct tr_core *c, u16 w,
					struct tr_entry *const *ent,
					const u32 *id, const u16 *where,
					u32 n)
{
	struct tr_queue *q = &c->q[w];
	u32 i = 0, tail, added = 0;

	if (!n)
		return 0;
	if (unlikely(!q->nr || q->tail % 16 == TR_BLK_REFS))
		tr_q_grow(c, q);
	tail = q->tail;
	do {
		*tr_ref(c, tail) = id[i];
		tr_set_pos(ent[i], tail);
		ent[i]->where = w;
		added++;
		if (++tail % 16 == TR_BLK_REFS && i + 1 < n &&
		    (!where || where[i + 1] == w)) {
			q->tail = tail;
			q->nr += added;
			q->live += added;
			c->refs += added;
			added = 0;
			tr_q_grow(c, q);
			tail = q->tail;
		}
	} while (++i < n && (!where || where[i] == w));
	q->tail = tail;
	q->nr += added;
	q->live += added;
	c->refs += added;
	if (w < TR_NR_BUCKETS)
		tr_occ_set(c, w);
	return i;
}

/*
 * Free every block of queue @w, whose refs are all stale: its blocks are
 * already a chain, spliced onto the free list in O(1).
 */
static void tr_q_drop(struct tr_core *c, u16 w)
{
	struct tr_queue *q = &c->q[w];

	if (q->nr) {
		u32 first = TR_BLK_REFS - q->head % 16;
		u32 blocks = 1 + (q->nr > first ?
				  DIV_ROUND_UP(q->nr - first, TR_BLK_REFS) : 0);

		tr_blk(c, (q->tail - 1) / 16)->next = c->blk_free;
		c->blk_free = q->head / 16;
		c->blk_nr_free += blocks;
		c->refs -= q->nr;
		q->nr = 0;
	}
	if (w < TR_NR_BUCKETS)
		tr_occ_clear(c, w);
	else if (w == TR_L_FAR)
		c->far_left = 0;
}

/*
 * Prefetch the entries of the next TR_DRAIN_BATCH refs of queue @q, so
 * that the next step of a drain finds them arriving: the misses of one
 * step overlap the work of the one before.
 */
static void tr_prefetch_next(const struct tr_core *c, const struct tr_queue *q)
{
	u32 left = min_t(u32, q->nr, TR_DRAIN_BATCH), pos = q->head;

	while (left) {
		const struct tr_blk *blk = tr_blk(c, pos / 16);
		u32 k = pos % 16, end = min_t(u32, TR_BLK_REFS, k + left);

		left -= end - k;
		for (; k < end; k++) {
			const struct tr_entry *e = tr_entry(c, blk->ref[k]);

			prefetchw(e);
			prefetchw((const u8 *)e + sizeof(*e) - 1);
		}
		pos = blk->next * 16;
	}
}

/*
 * Pop up to @max refs from queue @w into the drain scratch, their entries
 * prefetched all at once; keep the live ones (id, expiry), now off the
 * queue. Returns how many are live; *@popped gets how many refs. The refs
 * are copied a block at a time, with the queue's state in locals: stores
 * to the scratch may alias it, as far as the compiler knows.
 */
static u32 tr_take(struct tr_core *c, u16 w, u32 max, u32 *popped)
{
	struct tr_queue *q = &c->q[w];
	struct tr_drain *d = &c->drain;
	struct tr_entry *const *chunk = c->chunk;
	u32 left = q->nr, pos = q->head, np = 0, n = 0, i;

	/* d->cid holds the refs' positions until the CQEs are formed */
	max = min(max, left);
	while (np < max) {
		u32 base = pos & ~15U, k = pos % 16;
		const struct tr_blk *blk = tr_blk(c, base / 16);
		u32 end = min_t(u32, TR_BLK_REFS, k + max - np);

		for (; k < end; k++, np++) {
			u32 id = blk->ref[k];
			struct tr_entry *e =
				&chunk[id >> TR_CHUNK_SHIFT][id & TR_CHUNK_MASK];

			d->rid[np] = id;
			d->ent[np] = e;
			d->cid[np] = base + k;
			prefetchw(e);
			prefetchw((const u8 *)e + sizeof(*e) - 1);
		}
		pos = base + k;
		if (np == left) {
			tr_blk_put(c, base / 16);
		} else if (k == TR_BLK_REFS) {
			pos = blk->next * 16;
			tr_blk_put(c, base / 16);
		}
	}
	q->head = pos;
	q->nr = left - np;
	c->refs -= np;
	tr_prefetch_next(c, q);
	for (i = 0; i < np; i++) {
		struct tr_entry *e = d->ent[i];

		if (!tr_ref_live(e, w, d->cid[i]))
			continue;
		d->ent[n] = e;
		d->id[n] = d->rid[i];
		d->exp[n] = e->expires;
		n++;
	}
	WRITE_ONCE(q->live, q->live - n);
	*popped = np;
	return n;
}

/*
 * Compact queue @w (not being drained or examined) by up to @n refs: pop
 * them from the head and re-append the live ones. The pending queue keeps
 * its order, so it is compacted whole.
 */
static void tr_q_compact(struct tr_core *c, u16 w, u32 n)
{
	struct tr_drain *d = &c->drain;
	u32 popped, k;

	if (w == TR_L_PENDING)
		n = c->q[w].nr;
	while (n && c->q[w].nr) {
		k = tr_take(c, w, min_t(u32, n, TR_DRAIN_BATCH), &popped);
		tr_q_add_run(c, w, d->ent, d->id, NULL, k);
		n -= popped;
	}
}

/*
 * An op added a ref. If refs outnumber twice the armed timers plus
 * TR_STALE_SLACK, compact a little: TR_COMPACT_STEP refs of the first
 * queue from a cursor that has more stale refs than live ones (one exists,
 * as the stale ones outnumber the armed ones). So memory follows the
 * largest number of timers armed, not the churn; CANCEL adds no ref and
 * never pays for this, and a queue whose timers all leave is freed whole.
 */
static void tr_compact_some(struct tr_core *c)
{
	unsigned int k;

	if (likely(c->refs <= 2 * c->armed + TR_STALE_SLACK))
		return;
	for (k = 0; k < 16; k++) {
		u16 w = c->compact_at;
		const struct tr_queue *q = &c->q[w];

		if (q->nr - q->live > q->live && w != c->draining &&
		    !(w == TR_L_FAR && c->far_left)) {
			tr_q_compact(c, w, TR_COMPACT_STEP);
			return;
		}
		c->compact_at = (w + 1) % TR_NR_QUEUES;
	}
}

/* Take armed entry @e off its queue: its ref becomes stale. */
static void tr_q_leave(struct tr_core *c, struct tr_entry *e)
{
	u16 w = e->where;
	u32 live = c->q[w].live - 1;

	e->where = TR_L_NONE;
	WRITE_ONCE(c->q[w].live, live);
	if (!live)
		tr_q_drop(c, w);
}

/*
 * Queue @n due entries, in order, behind the expirations already waiting;
 * those beyond the ring's room as of this pass count as overflowed.
 */
static void tr_add_pending_run(struct tr_core *c, struct tr_entry *const *ent,
			       const u32 *id, u32 n)
{
	u32 before = tr_pending_nr(c);

	tr_q_add_run(c, TR_L_PENDING, ent, id, NULL, n);
	if (before + n > c->cq.space)
		c->st.overflowed_total += min(n, before + n - c->cq.space);
}

static void tr_add_pending(struct tr_core *c, u32 id, struct tr_entry *e)
{
	tr_add_pending_run(c, &e, &id, 1);
}

/* Put an armed entry on queue @where (tr_where_of() or the place kernel). */
static __always_inline void tr_place_at(struct tr_core *c, u32 id,
					struct tr_entry *e, u16 where)
{
	if (where == TR_L_PENDING) {
		tr_add_pending(c, id, e);
		return;
	}
	if (where == TR_L_FAR && !c->q[TR_L_FAR].nr)
		c->far_at = tr_far_boundary(c->elapsed);
	tr_q_add(c, where, id, e);
}

static void tr_place(struct tr_core *c, u32 id, struct tr_entry *e)
{
	tr_place_at(c, id, e, tr_where(c, e->expires));
}

/*
 * Round a slack timer's expiry up to the largest granularity 256^k that is
 * at most 1/8 of its timeout, so that it lands on a slot boundary.
 */
static u64 tr_slack_expiry(const struct tr_core *c, u64 exp)
{
	u64 delta, g, r;
	unsigned int k;

	if (exp <= c->elapsed)
		return exp;
	delta = (exp - c->elapsed) / 8;
	if (delta < TR_LVL_SLOTS)
		return exp;
	k = min_t(unsigned int, (fls64(delta) - 1) / TR_LVL_BITS,
		  TR_LEVELS - 1);
	g = 1ULL << (k * TR_LVL_BITS);
	r = (exp + g - 1) & ~(g - 1);
	return r < exp ? exp : r;
}

static inline struct tr_period *tr_period_of(const struct tr_core *c, u32 id)
{
	return &c->ival[id >> TR_CHUNK_SHIFT][id & TR_CHUNK_MASK];
}

/* New settings of an entry, before it is placed. */
static __always_inline void tr_set(struct tr_core *c, u32 id,
				   struct tr_entry *e, u64 expires,
				   u64 user_data, const struct tr_period *per,
				   u8 flags)
{
	e->gen++;
	e->user_data = user_data;
	e->posf &= ~TR_POSF_PERIODIC;
	if (per) {
		e->posf |= TR_POSF_PERIODIC;
		*tr_period_of(c, id) = *per;
	}
	e->expires = (flags & TR_EF_SLACK) ? tr_slack_expiry(c, expires) :
					     expires;
}

/* The memory an ARM or MODIFY of @id needs, short of the pool's room. */
static inline int tr_op_check(const struct tr_core *c, u32 id,
			      const struct tr_entry *e,
			      const struct tr_period *per)
{
	if (unlikely(!e || (per && !c->ival[id >> TR_CHUNK_SHIFT])))
		return -ENOMEM;
	return 0;
}

int tr_arm(struct tr_core *c, u32 id, u64 expires, u64 user_data,
	   const struct tr_period *per, u8 flags)
{
	struct tr_entry *e = tr_entry_get(c, id);
	int ret = tr_op_check(c, id, e, per);

	if (ret)
		return ret;
	if (e->where != TR_L_NONE)
		return -EEXIST;
	if (unlikely(!tr_pool_reserve(c)))
		return -ENOMEM;
	tr_set(c, id, e, expires, user_data, per, flags);
	tr_place_at(c, id, e, tr_where(c, e->expires));
	c->armed++;
	c->st.armed_total++;
	tr_compact_some(c);
	return e->gen & TIMERRING_RES_GEN_MASK;
}

int tr_modify(struct tr_core *c, u32 id, u64 expires, u64 user_data,
	      const struct tr_period *per, u8 flags)
{
	struct tr_entry *e = tr_entry_get(c, id);
	int ret = tr_op_check(c, id, e, per);
	int rearmed = 0;
	u16 w;

	if (ret)
		return ret;
	if (unlikely(!tr_pool_reserve(c)))
		return -ENOMEM;
	tr_set(c, id, e, expires, user_data, per, flags);
	w = tr_where(c, e->expires);
	if (e->where == TR_L_NONE) {
		c->armed++;
		tr_place_at(c, id, e, w);
		tr_compact_some(c);
	} else {
		rearmed = TIMERRING_RES_REARMED;
		/* the same slot: the ref stays where it is */
		if (w != e->where || w == TR_L_PENDING) {
			tr_q_leave(c, e);
			tr_place_at(c, id, e, w);
			tr_compact_some(c);
		}
	}
	c->st.modified_total++;
	return (e->gen & TIMERRING_RES_GEN_MASK) | rearmed;
}

int tr_cancel(struct tr_core *c, u32 id)
{
	struct tr_entry *e = tr_entry_get(c, id);

	if (!e || e->where == TR_L_NONE)
		return -ENOENT;
	tr_q_leave(c, e);
	c->armed--;
	c->st.cancelled_total++;
	return 0;
}

/*
 * Cancel every armed id, popping at most *@budget refs per call;
 * *@cancelled counts them. Returns true when none is left. Every armed
 * entry has a ref, and there are at most about 2 refs per armed entry plus
 * 4096 (tr_compact_some()), so this is O(armed), whatever max_ids is. Between calls the
 * caller must not run the wheel or apply ops; a call resumes at the queue
 * where the previous one stopped (c->cancel_at), so that budgets of a few
 * refs do not walk the 3074 queues again each time.
 */
bool tr_cancel_all(struct tr_core *c, u32 *budget, u32 *cancelled)
{
	u32 n = 0;
	bool done = false;
	u16 w;

	for (w = c->cancel_at; w < TR_NR_QUEUES; w++) {
		struct tr_queue *q = &c->q[w];

		c->cancel_at = w;
		while (q->nr) {
			u32 popped, k, i;

			if (!*budget)
				goto out;
			k = tr_take(c, w, min_t(u32, *budget, TR_DRAIN_BATCH),
				    &popped);
			*budget -= popped;
			for (i = 0; i < k; i++)
				c->drain.ent[i]->where = TR_L_NONE;
			n += k;
		}
		tr_q_drop(c, w);
	}
	c->draining = TR_L_NONE;
	c->cancel_at = 0;
	done = true;
out:
	c->armed -= n;
	c->st.cancelled_total += n;
	*cancelled += n;
	return done;
}

/*
 * Account for a fired entry, off its queue, whose CQE is being written, and
 * re-arm it if periodic; returns the CQE's flags.
 */
static u32 tr_post_one(struct tr_core *c, u32 id, struct tr_entry *e)
{
	u32 flags = (e->gen & TIMERRING_RES_GEN_MASK) <<
		    TIMERRING_CQE_GEN_SHIFT;
	u64 due_ns, late = 0;

	if (e->expires <= c->now_tick) {
		due_ns = e->expires * c->res_ns;
		late = c->now_ns - due_ns;
	}
	c->st.lateness_hist[tr_lateness_bucket(late)]++;
	c->st.expired_total++;
	tr_trace_expire(c, id, e, late);

	if (e->posf & TR_POSF_PERIODIC) {
		struct tr_period *per = tr_period_of(c, id);
		u64 now = max(c->now_ns, c->elapsed * c->res_ns);
		u64 missed = 0, next;

		/*
		 * The period stays on its nanosecond grid: the next due time
		 * is the previous one plus the interval, rounded up to a tick
		 * only to place it. Periods that ended before this pass are not
		 * delivered one by one: they are counted as overruns, as POSIX
		 * timers do. The next one is after now, so it goes back into
		 * the wheel.
		 */
		if (now > per->due_ns && now - per->due_ns >= per->ival_ns)
			missed = div64_u64(now - per->due_ns, per->ival_ns);
		flags |= TIMERRING_CQE_F_MORE | TIMERRING_CQE_F_PERIODIC |
			 (u32)min_t(u64, missed, TIMERRING_CQE_OVERRUN_MASK) <<
			 TIMERRING_CQE_OVERRUN_SHIFT;
		if (check_mul_overflow(missed + 1, per->ival_ns, &next) ||
		    check_add_overflow(per->due_ns, next, &next)) {
			per->due_ns = U64_MAX;
			e->expires = U64_MAX;
		} else {
			per->due_ns = next;
			e->expires = tr_ns_to_tick_ceil(next, c->res_ns);
		}
		tr_place(c, id, e);
		return flags;
	}
	e->where = TR_L_NONE;
	c->armed--;
	return flags;
}

/*
 * The kernels for a step of @n entries: the caller's choice from kern_min
 * entries up if the FPU is usable here (then held until tr_kern_end(), for
 * one step: at most TR_DRAIN_BATCH entries, a few us), else the scalar
 * ones. Callers hold the shard lock with bottom halves off (or run in
 * soft-IRQ context): holding the FPU adds no non-preemptible time.
 */
static const struct tr_batch_impl *tr_kern_begin(struct tr_core *c, u32 n)
{
	const struct tr_batch_impl *k = c->kern;

	if (k->impl == TIMERRING_IMPL_SCALAR || n < c->kern_min ||
	    !tr_fpu_usable())
		k = &tr_batch_scalar;
	else
		tr_fpu_begin();
	c->kern_last = k->impl;
	return k;
}

static void tr_kern_end(const struct tr_batch_impl *k)
{
	if (k->impl != TIMERRING_IMPL_SCALAR)
		tr_fpu_end();
}

/*
 * Post the CQEs of the @m fired entries d->cid[0, m) (their entries in
 * d->ent), off their queues, in that order; the ring has room for them.
 */
static void tr_post_batch(struct tr_core *c, const struct tr_batch_impl *k,
			  u32 m)
{
	struct tr_drain *d = &c->drain;
	u32 tail = tr_cq_claim(&c->cq, m), j;

	for (j = 0; j < m; j++) {
		struct tr_entry *e = d->ent[j];

		d->ud[j] = e->user_data;
		d->cflags[j] = tr_post_one(c, d->cid[j], e);
	}
	k->cqe_fill(c->cq.cqes, c->cq.mask, tail, d->cid, d->ud, d->cflags, m);
}

/* Write the CQE of a fired entry; re-arm it if periodic. */
static void tr_post(struct tr_core *c, u32 id, struct tr_entry *e)
{
	u64 user_data = e->user_data;
	u32 flags;

	tr_cq_claim(&c->cq, 1);
	flags = tr_post_one(c, id, e);
	c->cq.cqes[(c->cq.tail - 1) & c->cq.mask] = (struct tr_cqe){
		.user_data = user_data, .res = id, .flags = flags };
}

static void tr_fire(struct tr_core *c, u32 id, struct tr_entry *e)
{
	if (!tr_pending_nr(c) && tr_cq_has_space(&c->cq)) {
		tr_post(c, id, e);
		return;
	}
	tr_add_pending(c, id, e);
}

/*
 * First occupied slot of level @lvl from the wheel time's slot on,
 * wrapping once (see the top of this file), or -1; *@tick gets the tick
 * at which it starts.
 */
static int tr_next_slot(const struct tr_core *c, unsigned int lvl, u64 *tick)
{
	u64 cur = c->elapsed >> (lvl * TR_LVL_BITS);
	unsigned int pos = cur & TR_LVL_MASK, w0 = pos / 64, k, slot;
	const u64 *occ = &c->occupied[lvl * TR_OCC_WORDS];
	u64 bits = occ[w0] & (~0ULL << (pos % 64));

	for (k = 0; !bits; k++) {
		if (k == TR_OCC_WORDS)
			return -1;
		bits = occ[(w0 + k + 1) % TR_OCC_WORDS];
		if (k + 1 == TR_OCC_WORDS)
			bits &= ~(~0ULL << (pos % 64));
	}
	slot = (w0 + k) % TR_OCC_WORDS * 64 + __ffs64(bits);
	*tick = (cur + ((slot - pos) & TR_LVL_MASK)) << (lvl * TR_LVL_BITS);
	return slot;
}

/*
 * The earliest tick at which a queue is due, U64_MAX if none, and in
 * *@which that queue.
 */
static u64 tr_next_due(const struct tr_core *c, u16 *which)
{
	u64 best = U64_MAX, t;
	unsigned int lvl;
	int slot;

	*which = TR_L_NONE;
	for (lvl = 0; lvl < TR_LEVELS; lvl++) {
		slot = tr_next_slot(c, lvl, &t);
		if (slot >= 0 && t < best) {
			best = t;
			*which = lvl * TR_LVL_SLOTS + slot;
		}
	}
	/*
	 * far_at, not the boundary after the wheel time: a slot may start at
	 * the boundary itself, and the far queue must still be examined there.
	 */
	if (c->q[TR_L_FAR].nr && c->far_at <= best) {
		best = c->far_at;
		*which = TR_L_FAR;
	}
	return best;
}

/*
 * Earliest tick at which the wheel has work to do, U64_MAX if none: a due
 * queue, or cascades to spread (tr_precascade()).
 */
u64 tr_next_tick(const struct tr_core *c)
{
	unsigned int lvl;
	u16 which;
	u64 best;

	if (c->draining != TR_L_NONE)
		return c->elapsed;
	best = tr_next_due(c, &which);
	for (lvl = 1; lvl < TR_LEVELS; lvl++) {
		unsigned int sh = lvl * TR_LVL_BITS;
		u64 cur = c->elapsed >> sh;
		const struct tr_queue *q = c->q + lvl * TR_LVL_SLOTS;

		if (q[(cur + 1) & TR_LVL_MASK].nr > TR_PRECASCADE_MIN)
			best = min(best, c->elapsed + 1);
		else if (q[(cur + 2) & TR_LVL_MASK].nr > TR_PRECASCADE_MIN)
			best = min(best, (cur + 1) << sh);
	}
	return best;
}

/* Pick the next queue to drain if it is due by @now; move time to it. */
static bool tr_start_drain(struct tr_core *c, u64 now)
{
	u16 which;
	u64 best = tr_next_due(c, &which);

	if (best > now)
		return false;
	tr_set_elapsed(c, best);
	c->draining = which;
	if (which == TR_L_FAR) {
		c->far_left = c->q[TR_L_FAR].nr;
		c->far_at = tr_far_boundary(best);
	} else {
		tr_occ_clear(c, which);
		if (which >= TR_LVL_SLOTS)
			tr_trace_cascade(c, which / TR_LVL_SLOTS,
					 which % TR_LVL_SLOTS);
	}
	return true;
}

/* Place the @n taken entries by the kernels' d->where, skipping due ones. */
static void tr_place_taken(struct tr_core *c, u32 n)
{
	struct tr_drain *d = &c->drain;
	u32 i = 0;

	while (i < n) {
		u16 w = d->where[i];

		if (w == TR_L_PENDING)
			i++;
		else
			i += tr_q_add_run(c, w, &d->ent[i], &d->id[i],
					  &d->where[i], n - i);
	}
}

/*
 * One drain step of the bucket being drained: take up to @max refs, fire
 * the due entries, cascade the others. Returns how many refs it popped.
 */
static u32 tr_drain_step(struct tr_core *c, u32 max)
{
	struct tr_drain *d = &c->drain;
	const struct tr_batch_impl *k;
	u32 n, popped, due, m, j;

	n = tr_take(c, c->draining, max, &popped);
	if (!n)
		return popped;
	k = tr_kern_begin(c, n);
	due = k->scan_due(c->elapsed, d->exp, n, d->idx);
	if (due < n) {
		/* cascade: place relative to the new wheel time */
		k->place(c->elapsed, d->exp, n, d->where);
		tr_place_taken(c, n);
		c->st.cascades += n - due;
	}

	/*
	 * fire: straight into the ring while it has room and none pends. The
	 * due ones are gathered in place: idx[] ascends, idx[j] >= j.
	 */
	m = tr_pending_nr(c) ? 0 : min(due, c->cq.space);
	for (j = 0; j < due; j++) {
		d->cid[j] = d->id[d->idx[j]];
		d->ent[j] = d->ent[d->idx[j]];
	}
	if (m)
		tr_post_batch(c, k, m);
	if (due > m)
		tr_add_pending_run(c, &d->ent[m], &d->cid[m], due - m);
	tr_kern_end(k);
	return popped;
}

/*
 * Spread the cascades (see the top of this file): move the timers of the
 * next slot of each level down, at most *@budget refs in all.
 */
static void tr_precascade(struct tr_core *c, u32 *budget)
{
	struct tr_drain *d = &c->drain;
	unsigned int lvl;

	for (lvl = 1; lvl < TR_LEVELS && *budget; lvl++) {
		unsigned int sh = lvl * TR_LVL_BITS;
		u64 cur = c->elapsed >> sh;
		u16 w = lvl * TR_LVL_SLOTS + ((cur + 1) & TR_LVL_MASK);
		struct tr_queue *q = &c->q[w];
		u64 left = ((cur + 1) << sh) - c->elapsed;
		u64 quota;

		if (!q->nr)
			continue;
		quota = max_t(u64, TR_PRECASCADE_MIN,
			      div64_u64(2ULL * q->nr + left - 1, left));
		quota = min_t(u64, quota, *budget);
		while (quota && q->nr) {
			const struct tr_batch_impl *k;
			u32 popped, n;

			n = tr_take(c, w, min_t(u64, quota, TR_DRAIN_BATCH),
				    &popped);
			quota -= popped;
			*budget -= popped;
			if (!n)
				continue;
			k = tr_kern_begin(c, n);
			k->place(c->elapsed, d->exp, n, d->where);
			tr_place_taken(c, n);
			tr_kern_end(k);
			c->st.cascades += n;
		}
		if (!q->live)
			tr_q_drop(c, w);
	}
}

/* One step of the far queue, rarely drained: fire or re-place. */
static void tr_far_step(struct tr_core *c, u32 *budget)
{
	struct tr_drain *d = &c->drain;
	u32 popped, n, i;

	n = tr_take(c, TR_L_FAR, min3(*budget, c->far_left,
				      (u32)TR_DRAIN_BATCH), &popped);
	c->far_left -= popped;
	*budget -= popped;
	for (i = 0; i < n; i++) {
		struct tr_entry *e = tr_entry(c, d->id[i]);

		if (e->expires <= c->elapsed) {
			tr_fire(c, d->id[i], e);
		} else {
			tr_place(c, d->id[i], e);
			c->st.cascades++;
		}
	}
}

/*
 * Run the wheel up to tick @now, handling at most *@budget refs, then
 * spread cascades with what is left of it. Returns true when everything
 * due by @now has been handled.
 */
bool tr_advance(struct tr_core *c, u64 now, u32 *budget)
{
	u16 which;

	while (*budget) {
		if (c->draining == TR_L_NONE && !tr_start_drain(c, now)) {
			if (now > c->elapsed)
				tr_set_elapsed(c, now);
			tr_precascade(c, budget);
			return true;
		}
		if (c->draining == TR_L_FAR) {
			if (c->far_left)
				tr_far_step(c, budget);
			if (!c->far_left)
				c->draining = TR_L_NONE;
			continue;
		}
		*budget -= tr_drain_step(c, min_t(u32, *budget,
						  TR_DRAIN_BATCH));
		if (!c->q[c->draining].nr)
			c->draining = TR_L_NONE;
	}
	return c->draining == TR_L_NONE && tr_next_due(c, &which) > now;
}

/*
 * Post pending expirations, oldest first, while the ring has room and the
 * budget lasts. Returns true when nothing is left to post.
 */
bool tr_flush(struct tr_core *c, u32 *budget)
{
	struct tr_queue *q = &c->q[TR_L_PENDING];
	struct tr_drain *d = &c->drain;

	while (q->live && tr_cq_has_space(&c->cq) && *budget) {
		u32 max = min3(*budget, c->cq.space, (u32)TR_DRAIN_BATCH);
		const struct tr_batch_impl *k;
		u32 popped, m, j;

		m = tr_take(c, TR_L_PENDING, max, &popped);
		*budget -= popped;
		if (!m)
			continue;
		for (j = 0; j < m; j++)
			d->cid[j] = d->id[j];
		k = tr_kern_begin(c, m);
		tr_post_batch(c, k, m);
		tr_kern_end(k);
	}
	if (!q->live && q->nr)
		tr_q_drop(c, TR_L_PENDING);
	return !q->live;
}
