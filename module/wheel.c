// SPDX-License-Identifier: GPL-2.0
/*
 * timerring hierarchical timing wheel.
 *
 * Time is counted in ticks of the instance's resolution (1 ms by default,
 * 1 us to 1 s allowed). The wheel has 6 levels of 256 slots; level L has a
 * granularity of 256^L ticks and covers 256^(L+1) ticks:
 *
 *   level  granularity  range   at 1 ms tick        at 1 us tick
 *   0      1            2^8     1 ms / 256 ms       1 us / 256 us
 *   1      2^8          2^16    256 ms / 65.5 s     256 us / 65.5 ms
 *   2      2^16         2^24    65.5 s / 4.7 h      65.5 ms / 16.8 s
 *   3      2^24         2^32    4.7 h / 49.7 d      16.8 s / 71.6 min
 *   4      2^32         2^40    49.7 d / 34.8 y     71.6 min / 12.7 d
 *   5      2^40         2^48    34.8 y / 8925 y     12.7 d / 8.9 y
 *
 * 256 slots rather than 64: a cascade moves a whole slot at once, so the
 * width of the slots above level 0 bounds how much work one tick can meet.
 * With 1M timers spread over 10 s at 1 ms ticks, a level-1 slot holds
 * 256 ms of them (~26K) where a 64-slot wheel's level-2 slot held 4.1 s
 * (~420K): the longest expiry pass, measured natively (tools/harness
 * bench), went from 15-21 ms to 1.2-1.5 ms, and a timer cascades about
 * once instead of 1.7 times (expiry 87-95 instead of 105-122 ns/timer).
 * The price is memory per instance: 1536 slots of list heads, 96 KiB
 * (below), whatever the number of timers.
 *
 * Placement (Varghese & Lauck's scheme 7, as tokio does it): a timer due at
 * tick E goes to the level of the highest 8-bit group in which E differs
 * from the wheel time W, into the slot given by that group of E. So every
 * occupied slot of a level lies strictly after W's slot on that level,
 * within the level's current rotation, and the next slot to process is the
 * lowest set bit of a level's 256-bit occupancy map from W's slot on:
 * finding the next expiry is at most 6 x 4 word searches, with no scan of
 * empty slots.
 *
 * When W reaches the start of an occupied slot, its timers are due
 * (level 0, or E == W) or are cascaded: placed again relative to the new W,
 * which always lands them on a lower level. A timer therefore fires exactly
 * at its tick, never early and at most one tick late, after at most L
 * cascades. A timer with TIMERRING_OPF_SLACK has its tick rounded up to a
 * granularity of at most 1/8 of its timeout, so that it sits on an aligned
 * slot boundary and cascades at most twice (usually once or never), like
 * the non-cascading wheel of kernel/time/timer.c.
 *
 * Timers more than 2^48 ticks ahead (expiry U64_MAX and such) sit on a "far"
 * list that is re-examined each time W crosses a 2^48-tick boundary (every
 * 8.9 years at 1 us resolution).
 *
 * Every list is doubly linked through the ids of its entries (u32 links,
 * TR_NIL terminated): an op on one id is O(1), and entries need no
 * pointers. A slot is TR_LANES (8) such lists, its lanes: id i always
 * uses lane (i / 8) % 8 (tr_lane_of()), so an op still touches one list,
 * ids armed in order are still neighbours on it, and a slot's 8 heads and
 * tails fill one 64-byte line (96 KiB for the 1536 slots).
 *
 * Draining a slot is where the time goes: with random ids, every entry is
 * a cache miss, and one list can only be walked one miss after the other.
 * A drain step therefore takes up to TR_DRAIN_BATCH (64) entries from the
 * 8 lanes side by side (8 misses in flight), as structure-of-arrays
 * scratch (ids, expiries), and hands the batch to the batch kernels
 * (batch.c; AVX2 or AVX-512 where the caller chose them and the FPU is
 * usable): scan_due picks the due entries, place computes the new slot of
 * the others (a cascade), whose destination tails are then prefetched all
 * at once before they are linked, and cqe_fill writes the CQEs of the due
 * ones in one pass. Measured natively at 1M random timers over 10 s
 * (tools/harness bench, tools/bench/RESULTS.md), per delivered timer:
 * 268-307 ns with one list per slot walked entry by entry, 106-132 ns
 * with 8 lanes and 64-entry steps, in the same run. Timers due in the same
 * tick fire in arming order within a lane; the lanes interleave.
 *
 * Processing is bounded: tr_advance() and tr_flush() take a budget of
 * entries to handle and resume exactly where they stopped (a slot being
 * drained is remembered in tr_core.draining).
 *
 * Fired timers are written straight into the completion ring when it has
 * room and nothing older waits; otherwise they go to the pending (overflow)
 * list, whose node is the entry itself, and are posted in order by
 * tr_flush(). A pending expiration can still be cancelled or modified.
 */
#include "batch.h"

#define TR_FAR_MASK	((1ULL << TR_WHEEL_BITS) - 1)

static inline void tr_list_add_tail(struct tr_core *c, u16 where, u32 id,
				    struct tr_entry *e)
{
	struct tr_list *l = tr_list_of(c, where, id);

	e->where = where;
	e->next = TR_NIL;
	e->prev = l->tail;
	if (l->tail == TR_NIL)
		l->head = id;
	else
		tr_entry(c, l->tail)->next = id;
	l->tail = id;
}

static inline bool tr_bucket_empty(const struct tr_bucket *b)
{
	unsigned int i;

	for (i = 0; i < TR_LANES; i++)
		if (b->lane[i].head != TR_NIL)
			return false;
	return true;
}

static inline void tr_list_del(struct tr_core *c, u32 id, struct tr_entry *e)
{
	u16 where = e->where;
	struct tr_list *l = tr_list_of(c, where, id);

	if (e->prev == TR_NIL)
		l->head = e->next;
	else
		tr_entry(c, e->prev)->next = e->next;
	if (e->next == TR_NIL)
		l->tail = e->prev;
	else
		tr_entry(c, e->next)->prev = e->prev;

	if (where < TR_NR_BUCKETS) {
		if (l->head == TR_NIL && tr_bucket_empty(&c->bucket[where]))
			c->occupied[where / 64] &= ~(1ULL << (where % 64));
	} else if (where == TR_L_PENDING) {
		c->pending_nr--;
	} else if (where == TR_L_FAR && c->far_stop == id) {
		/* The far list is being drained up to this entry. */
		c->far_stop = e->prev;
	}
	e->where = TR_L_NONE;
}

static inline struct tr_list *tr_single(struct tr_core *c, u16 where)
{
	return &c->single[where - TR_NR_BUCKETS];
}

/*
 * Queue a due entry behind the expirations already waiting. It counts as
 * overflowed if the ring, as of this pass, has no slot left for it.
 */
static void tr_add_pending(struct tr_core *c, u32 id, struct tr_entry *e)
{
	tr_list_add_tail(c, TR_L_PENDING, id, e);
	c->pending_nr++;
	if (c->pending_nr > c->cq.space)
		c->st.overflowed_total++;
}

/*
 * Put an armed entry on list @where: the one its expiry asks for at the
 * current wheel time (tr_where_of(), or the place kernel in a drain).
 */
static void tr_place_at(struct tr_core *c, u32 id, struct tr_entry *e,
			u16 where)
{
	if (where == TR_L_PENDING) {
		tr_add_pending(c, id, e);
		return;
	}
	tr_list_add_tail(c, where, id, e);
	if (where < TR_NR_BUCKETS)
		c->occupied[where / 64] |= 1ULL << (where % 64);
}

static void tr_place(struct tr_core *c, u32 id, struct tr_entry *e)
{
	tr_place_at(c, id, e, tr_where_of(c->elapsed, e->expires));
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

static void tr_set(struct tr_core *c, u32 id, struct tr_entry *e,
		   u64 expires, u64 user_data, const struct tr_period *per,
		   u8 flags)
{
	e->gen++;
	e->user_data = user_data;
	e->flags = flags;
	if (per) {
		e->flags |= TR_EF_PERIODIC;
		*tr_period_of(c, id) = *per;
	}
	e->expires = (flags & TR_EF_SLACK) ? tr_slack_expiry(c, expires) :
					     expires;
	tr_place(c, id, e);
}

int tr_arm(struct tr_core *c, u32 id, u64 expires, u64 user_data,
	   const struct tr_period *per, u8 flags)
{
	struct tr_entry *e = tr_entry_get(c, id);

	if (unlikely(!e || (per && !c->ival[id >> TR_CHUNK_SHIFT])))
		return -ENOMEM;
	if (e->where != TR_L_NONE)
		return -EEXIST;
	tr_set(c, id, e, expires, user_data, per, flags);
	c->armed++;
	c->st.armed_total++;
	return e->gen & TIMERRING_RES_GEN_MASK;
}

int tr_modify(struct tr_core *c, u32 id, u64 expires, u64 user_data,
	      const struct tr_period *per, u8 flags)
{
	struct tr_entry *e = tr_entry_get(c, id);
	int rearmed = 0;

	if (unlikely(!e || (per && !c->ival[id >> TR_CHUNK_SHIFT])))
		return -ENOMEM;
	if (e->where != TR_L_NONE) {
		tr_list_del(c, id, e);
		rearmed = TIMERRING_RES_REARMED;
	} else {
		c->armed++;
	}
	tr_set(c, id, e, expires, user_data, per, flags);
	c->st.modified_total++;
	return (e->gen & TIMERRING_RES_GEN_MASK) | rearmed;
}

int tr_cancel(struct tr_core *c, u32 id)
{
	struct tr_entry *e = tr_entry_get(c, id);

	if (!e || e->where == TR_L_NONE)
		return -ENOENT;
	tr_list_del(c, id, e);
	c->armed--;
	c->st.cancelled_total++;
	return 0;
}

/*
 * Unlink up to *@budget entries from the head of list @l, marking them idle
 * (their neighbours are dropped too, so nothing is relinked). Returns true
 * when the list is empty.
 */
static bool tr_list_drop(struct tr_core *c, struct tr_list *l, u32 *budget,
			 u32 *n)
{
	u32 id = l->head;

	while (id != TR_NIL && *budget) {
		struct tr_entry *e = tr_entry(c, id);

		if (id == c->far_stop)
			c->far_stop = TR_NIL;
		id = e->next;
		if (id != TR_NIL)
			prefetchw(tr_entry(c, id));
		e->where = TR_L_NONE;
		(*budget)--;
		(*n)++;
	}
	l->head = id;
	if (id == TR_NIL) {
		l->tail = TR_NIL;
		return true;
	}
	tr_entry(c, id)->prev = TR_NIL;
	return false;
}

static bool tr_bucket_drop(struct tr_core *c, u16 where, u32 *budget, u32 *n)
{
	unsigned int l;

	for (l = 0; l < TR_LANES; l++)
		if (!tr_list_drop(c, &c->bucket[where].lane[l], budget, n))
			return false;
	c->occupied[where / 64] &= ~(1ULL << (where % 64));
	return true;
}

/*
 * Cancel every armed id, at most *@budget of them per call; *@cancelled
 * counts them. Returns true when none is left. Every armed entry is on a
 * list, and the occupancy maps name the non-empty slots, so this walks the
 * armed entries and 24 words of map: O(armed), whatever max_ids is.
 * Between calls the caller must not run the wheel.
 */
bool tr_cancel_all(struct tr_core *c, u32 *budget, u32 *cancelled)
{
	u32 n = 0, pending = 0;
	bool done = false;
	unsigned int w;

	/* a slot being drained is no longer marked in its map */
	if (c->draining < TR_NR_BUCKETS) {
		if (!tr_bucket_drop(c, c->draining, budget, &n))
			goto out;
		c->draining = TR_L_NONE;
	}
	for (w = 0; w < ARRAY_SIZE(c->occupied); w++)
		while (c->occupied[w])
			if (!tr_bucket_drop(c, w * 64 + __ffs64(c->occupied[w]),
					    budget, &n))
				goto out;
	if (!tr_list_drop(c, tr_single(c, TR_L_FAR), budget, &n))
		goto out;
	if (c->draining == TR_L_FAR)
		c->draining = TR_L_NONE;
	done = tr_list_drop(c, tr_single(c, TR_L_PENDING), budget, &pending);
out:
	c->pending_nr -= pending;
	n += pending;
	c->armed -= n;
	c->st.cancelled_total += n;
	*cancelled += n;
	return done;
}

/*
 * Account for a fired (unlinked) entry whose CQE is being written, and
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

	if (e->flags & TR_EF_PERIODIC) {
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

/* Write the CQE of a fired (unlinked) entry; re-arm it if periodic. */
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
	if (!c->pending_nr && tr_cq_has_space(&c->cq)) {
		tr_post(c, id, e);
		return;
	}
	tr_add_pending(c, id, e);
}

/*
 * The kernels for a step of @n entries: the caller's choice from kern_min
 * entries up if the FPU is usable here (then held until tr_kern_end(), for
 * one step: at most TR_DRAIN_BATCH entries, a few us), else the scalar
 * ones. Callers hold the instance lock with bottom halves off (or run in
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
 * Post the CQEs of the @m fired, unlinked entries d->cid[0, m), in that
 * order; the ring has room for them.
 */
static void tr_post_batch(struct tr_core *c, const struct tr_batch_impl *k,
			  u32 m)
{
	struct tr_drain *d = &c->drain;
	u32 tail = tr_cq_claim(&c->cq, m), j;

	for (j = 0; j < m; j++) {
		u32 id = d->cid[j];
		struct tr_entry *e = tr_entry(c, id);

		d->ud[j] = e->user_data;
		d->cflags[j] = tr_post_one(c, id, e);
	}
	k->cqe_fill(c->cq.cqes, c->cq.mask, tail, d->cid, d->ud, d->cflags, m);
}

/*
 * First occupied slot of level @lvl from the wheel time's slot on (the
 * others are empty: see the top of this file), or -1.
 */
static int tr_next_slot(const struct tr_core *c, unsigned int lvl)
{
	unsigned int pos = (c->elapsed >> (lvl * TR_LVL_BITS)) & TR_LVL_MASK;
	const u64 *occ = &c->occupied[lvl * TR_OCC_WORDS];
	unsigned int w = pos / 64;
	u64 bits = occ[w] & (~0ULL << (pos % 64));

	while (!bits) {
		if (++w == TR_OCC_WORDS)
			return -1;
		bits = occ[w];
	}
	return w * 64 + __ffs64(bits);
}

/* Tick at which slot @slot of level @lvl starts, in this rotation. */
static u64 tr_slot_tick(const struct tr_core *c, unsigned int lvl,
			unsigned int slot)
{
	unsigned int shift = lvl * TR_LVL_BITS;
	u64 base = c->elapsed & ~((1ULL << (shift + TR_LVL_BITS)) - 1);

	return base + ((u64)slot << shift);
}

/* Earliest tick at which the wheel has work to do, U64_MAX if none. */
u64 tr_next_tick(const struct tr_core *c)
{
	u64 best = U64_MAX;
	unsigned int lvl;

	if (c->draining != TR_L_NONE)
		return c->elapsed;
	for (lvl = 0; lvl < TR_LEVELS; lvl++) {
		int slot = tr_next_slot(c, lvl);

		if (slot >= 0)
			best = min(best, tr_slot_tick(c, lvl, slot));
	}
	if (c->single[TR_L_FAR - TR_NR_BUCKETS].head != TR_NIL) {
		u64 t = (c->elapsed | TR_FAR_MASK) + 1;

		if (t > c->elapsed && t < best)
			best = t;
	}
	return best;
}

/* Pick the next list to drain if it is due by @now; move time to it. */
static bool tr_start_drain(struct tr_core *c, u64 now)
{
	u64 best = U64_MAX;
	u16 which = TR_L_NONE;
	unsigned int lvl;

	for (lvl = 0; lvl < TR_LEVELS; lvl++) {
		int slot = tr_next_slot(c, lvl);
		u64 t;

		if (slot < 0)
			continue;
		t = tr_slot_tick(c, lvl, slot);
		if (t < best) {
			best = t;
			which = lvl * TR_LVL_SLOTS + slot;
		}
	}
	if (tr_single(c, TR_L_FAR)->head != TR_NIL) {
		u64 t = (c->elapsed | TR_FAR_MASK) + 1;

		if (t > c->elapsed && t < best) {
			best = t;
			which = TR_L_FAR;
		}
	}
	if (best > now)
		return false;

	c->elapsed = best;
	c->draining = which;
	if (which == TR_L_FAR) {
		c->far_stop = tr_single(c, TR_L_FAR)->tail;
	} else {
		c->occupied[which / 64] &= ~(1ULL << (which % 64));
		lvl = which / TR_LVL_SLOTS;
		if (lvl)
			tr_trace_cascade(c, lvl, which % TR_LVL_SLOTS);
	}
	return true;
}

/*
 * Take up to @max entries from the lanes of bucket @b, side by side, into
 * the drain scratch; unlink them all. Returns how many.
 */
static u32 tr_take(struct tr_core *c, struct tr_bucket *b, u32 max)
{
	struct tr_drain *d = &c->drain;
	u32 cur[TR_LANES], n = 0, live = 0, l;

	for (l = 0; l < TR_LANES; l++) {
		cur[l] = b->lane[l].head;
		if (cur[l] != TR_NIL) {
			prefetchw(tr_entry(c, cur[l]));
			live |= 1U << l;
		}
	}
	/* one entry per live lane in turn: their misses overlap */
	while (live && n < max) {
		u32 round = live;

		do {
			const struct tr_entry *e;
			u32 id;

			l = __ffs64(round);
			round &= round - 1;
			id = cur[l];
			e = tr_entry(c, id);
			d->id[n] = id;
			d->exp[n] = e->expires;
			n++;
			cur[l] = e->next;
			if (cur[l] == TR_NIL)
				live &= ~(1U << l);
			else
				prefetchw(tr_entry(c, cur[l]));
		} while (round && n < max);
	}
	for (l = 0; l < TR_LANES; l++) {
		struct tr_list *ln = &b->lane[l];

		if (ln->head == cur[l])
			continue;
		ln->head = cur[l];
		if (cur[l] == TR_NIL)
			ln->tail = TR_NIL;
		else
			tr_entry(c, cur[l])->prev = TR_NIL;
	}
	return n;
}

/*
 * One drain step of the bucket being drained: take up to @max entries,
 * fire the due ones, cascade the others. Returns how many were handled.
 */
static u32 tr_drain_step(struct tr_core *c, u32 max)
{
	struct tr_drain *d = &c->drain;
	const struct tr_batch_impl *k;
	u32 n, due, m, i, j;

	n = tr_take(c, &c->bucket[c->draining], max);
	if (!n)
		return 0;
	k = tr_kern_begin(c, n);
	due = k->scan_due(c->elapsed, d->exp, n, d->idx);
	if (due < n) {
		/* cascade: place relative to the new wheel time, then link */
		k->place(c->elapsed, d->exp, n, d->where);
		for (i = 0; i < n; i++) {
			u32 t;

			if (d->where[i] == TR_L_PENDING)
				continue;
			t = tr_list_of(c, d->where[i], d->id[i])->tail;
			if (t != TR_NIL)
				prefetchw(tr_entry(c, t));
		}
		for (i = 0; i < n; i++)
			if (d->where[i] != TR_L_PENDING)
				tr_place_at(c, d->id[i], tr_entry(c, d->id[i]),
					    d->where[i]);
		c->st.cascades += n - due;
	}

	/* fire: straight into the ring while it has room and none pends */
	m = c->pending_nr ? 0 : min(due, c->cq.space);
	for (j = 0; j < due; j++)
		d->cid[j] = d->id[d->idx[j]];
	if (m)
		tr_post_batch(c, k, m);
	for (j = m; j < due; j++)
		tr_add_pending(c, d->cid[j], tr_entry(c, d->cid[j]));
	tr_kern_end(k);
	return n;
}

/*
 * Run the wheel up to tick @now, handling at most *@budget entries.
 * Returns true when everything due by @now has been handled.
 */
bool tr_advance(struct tr_core *c, u64 now, u32 *budget)
{
	while (*budget) {
		struct tr_entry *e;
		u32 id;

		if (c->draining == TR_L_NONE && !tr_start_drain(c, now)) {
			if (now > c->elapsed)
				c->elapsed = now;
			return true;
		}
		if (c->draining != TR_L_FAR) {
			*budget -= tr_drain_step(c, min_t(u32, *budget,
							  TR_DRAIN_BATCH));
			if (tr_bucket_empty(&c->bucket[c->draining]))
				c->draining = TR_L_NONE;
			continue;
		}
		/* the far list, rarely drained: entry by entry */
		if (c->far_stop == TR_NIL) {
			c->draining = TR_L_NONE;
			continue;
		}
		id = tr_single(c, TR_L_FAR)->head;
		e = tr_entry(c, id);
		tr_list_del(c, id, e);
		if (e->expires <= c->elapsed) {
			tr_fire(c, id, e);
		} else {
			tr_place(c, id, e);
			c->st.cascades++;
		}
		(*budget)--;
	}
	return c->draining == TR_L_NONE && tr_next_tick(c) > now;
}

/*
 * Post pending expirations, oldest first, while the ring has room and the
 * budget lasts. Returns true when nothing is left to post.
 */
bool tr_flush(struct tr_core *c, u32 *budget)
{
	struct tr_list *l = tr_single(c, TR_L_PENDING);
	struct tr_drain *d = &c->drain;

	while (c->pending_nr && tr_cq_has_space(&c->cq) && *budget) {
		u32 max = min_t(u32, min(*budget, c->cq.space),
				 TR_DRAIN_BATCH);
		const struct tr_batch_impl *k;
		u32 id = l->head, m = 0;

		/* unlink up to max entries from the head */
		while (id != TR_NIL && m < max) {
			const struct tr_entry *e = tr_entry(c, id);

			d->cid[m++] = id;
			id = e->next;
			if (id != TR_NIL)
				prefetchw(tr_entry(c, id));
		}
		l->head = id;
		if (id == TR_NIL)
			l->tail = TR_NIL;
		else
			tr_entry(c, id)->prev = TR_NIL;
		c->pending_nr -= m;
		*budget -= m;

		k = tr_kern_begin(c, m);
		tr_post_batch(c, k, m);
		tr_kern_end(k);
	}
	return !c->pending_nr;
}
