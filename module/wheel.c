// SPDX-License-Identifier: GPL-2.0
/*
 * timerring hierarchical timing wheel.
 *
 * Time is counted in ticks of the instance's resolution (1 ms by default,
 * 1 us to 1 s allowed). The wheel has 8 levels of 64 slots; level L has a
 * granularity of 64^L ticks and covers 64^(L+1) ticks:
 *
 *   level  granularity  range         at 1 ms tick       at 1 us tick
 *   0      1            64            1 ms / 64 ms       1 us / 64 us
 *   1      64           4096          64 ms / 4.1 s      64 us / 4.1 ms
 *   2      4096         262144        4.1 s / 4.4 min    4.1 ms / 262 ms
 *   3      2^18         2^24          4.4 min / 4.7 h    262 ms / 16.8 s
 *   4      2^24         2^30          4.7 h / 12.4 d     16.8 s / 17.9 min
 *   5      2^30         2^36          12.4 d / 2.2 y     17.9 min / 19.1 h
 *   6      2^36         2^42          2.2 y / 142 y      19.1 h / 50.9 d
 *   7      2^42         2^48          142 y / 9133 y     50.9 d / 8.9 y
 *
 * Placement (Varghese & Lauck's scheme 7, as tokio does it): a timer due at
 * tick E goes to the level of the highest 6-bit group in which E differs
 * from the wheel time W, into the slot given by that group of E. So every
 * occupied slot of a level lies strictly after W's slot on that level,
 * within the level's current rotation, and the next slot to process is the
 * lowest set bit of a 64-bit occupancy word, masked at W's slot: finding
 * the next expiry is 8 bit searches, with no scan of empty slots.
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
 * TR_NIL terminated), with head and tail in struct tr_core: an op on one id
 * is O(1), and entries need no pointers. Slots are FIFO, so timers due in
 * the same tick fire in arming order (unless one is armed while that
 * tick's slot is still being drained across passes: it may then overtake
 * the older ones left in the slot).
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
#include "core.h"

#define TR_FAR_MASK	((1ULL << TR_WHEEL_BITS) - 1)

static inline void tr_list_add_tail(struct tr_core *c, u16 where, u32 id,
				    struct tr_entry *e)
{
	struct tr_list *l = &c->lists[where];

	e->where = where;
	e->next = TR_NIL;
	e->prev = l->tail;
	if (l->tail == TR_NIL)
		l->head = id;
	else
		tr_entry(c, l->tail)->next = id;
	l->tail = id;
}

static inline void tr_list_del(struct tr_core *c, u32 id, struct tr_entry *e)
{
	u16 where = e->where;
	struct tr_list *l = &c->lists[where];

	if (e->prev == TR_NIL)
		l->head = e->next;
	else
		tr_entry(c, e->prev)->next = e->next;
	if (e->next == TR_NIL)
		l->tail = e->prev;
	else
		tr_entry(c, e->next)->prev = e->prev;

	if (where < TR_NR_BUCKETS) {
		if (l->head == TR_NIL)
			c->occupied[where / TR_LVL_SLOTS] &=
				~(1ULL << (where % TR_LVL_SLOTS));
	} else if (where == TR_L_PENDING) {
		c->pending_nr--;
	} else if (where == TR_L_FAR && c->far_stop == id) {
		/* The far list is being drained up to this entry. */
		c->far_stop = e->prev;
	}
	e->where = TR_L_NONE;
}

static inline unsigned int tr_level_of(u64 x)
{
	return (fls64(x) - 1) / TR_LVL_BITS;
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

/* Put an armed entry on the list its expiry asks for. */
static void tr_place(struct tr_core *c, u32 id, struct tr_entry *e)
{
	u64 exp = e->expires;
	u64 x = exp ^ c->elapsed;
	unsigned int lvl, slot;

	if (exp <= c->elapsed) {
		tr_add_pending(c, id, e);
		return;
	}
	if (x >> TR_WHEEL_BITS) {
		tr_list_add_tail(c, TR_L_FAR, id, e);
		return;
	}
	lvl = tr_level_of(x);
	slot = (exp >> (lvl * TR_LVL_BITS)) & TR_LVL_MASK;
	tr_list_add_tail(c, lvl * TR_LVL_SLOTS + slot, id, e);
	c->occupied[lvl] |= 1ULL << slot;
}

/*
 * Round a slack timer's expiry up to the largest granularity 64^k that is
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

static inline u64 *tr_ival_slot(const struct tr_core *c, u32 id)
{
	return &c->ival[id >> TR_CHUNK_SHIFT][id & TR_CHUNK_MASK];
}

static void tr_set(struct tr_core *c, u32 id, struct tr_entry *e,
		   u64 expires, u64 user_data, u64 ival, u8 flags)
{
	e->gen++;
	e->user_data = user_data;
	e->flags = flags;
	if (ival) {
		e->flags |= TR_EF_PERIODIC;
		*tr_ival_slot(c, id) = ival;
	}
	e->expires = (flags & TR_EF_SLACK) ? tr_slack_expiry(c, expires) :
					     expires;
	tr_place(c, id, e);
}

int tr_arm(struct tr_core *c, u32 id, u64 expires, u64 user_data, u64 ival,
	   u8 flags)
{
	struct tr_entry *e = tr_entry_get(c, id);

	if (unlikely(!e || (ival && !c->ival[id >> TR_CHUNK_SHIFT])))
		return -ENOMEM;
	if (e->where != TR_L_NONE)
		return -EEXIST;
	tr_set(c, id, e, expires, user_data, ival, flags);
	c->armed++;
	c->st.armed_total++;
	return e->gen & TIMERRING_RES_GEN_MASK;
}

int tr_modify(struct tr_core *c, u32 id, u64 expires, u64 user_data,
	      u64 ival, u8 flags)
{
	struct tr_entry *e = tr_entry_get(c, id);
	int rearmed = 0;

	if (unlikely(!e || (ival && !c->ival[id >> TR_CHUNK_SHIFT])))
		return -ENOMEM;
	if (e->where != TR_L_NONE) {
		tr_list_del(c, id, e);
		rearmed = TIMERRING_RES_REARMED;
	} else {
		c->armed++;
	}
	tr_set(c, id, e, expires, user_data, ival, flags);
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

/* Cancel every armed id of one chunk; returns how many. */
u32 tr_cancel_chunk(struct tr_core *c, u32 chunk_idx)
{
	struct tr_entry *ch = c->chunk[chunk_idx];
	u32 base = chunk_idx << TR_CHUNK_SHIFT;
	u32 i, n = 0;

	if (!ch)
		return 0;
	for (i = 0; i < TR_CHUNK_IDS; i++) {
		if (ch[i].where == TR_L_NONE)
			continue;
		tr_list_del(c, base + i, &ch[i]);
		n++;
	}
	c->armed -= n;
	c->st.cancelled_total += n;
	return n;
}

/* Write the CQE of a fired (unlinked) entry; re-arm it if periodic. */
static void tr_post(struct tr_core *c, u32 id, struct tr_entry *e)
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
		u64 ival = *tr_ival_slot(c, id);
		u64 now = max(c->now_tick, c->elapsed);
		u64 missed = 0, next;

		/*
		 * Periods that ended before this pass are not delivered one by
		 * one: they are counted as overruns, as POSIX timers do.
		 */
		if (now - e->expires >= ival)
			missed = div64_u64(now - e->expires, ival);
		flags |= TIMERRING_CQE_F_MORE | TIMERRING_CQE_F_PERIODIC |
			 (u32)min_t(u64, missed, TIMERRING_CQE_OVERRUN_MASK) <<
			 TIMERRING_CQE_OVERRUN_SHIFT;
		tr_cq_put(&c->cq, e->user_data, id, flags);
		next = e->expires + (missed + 1) * ival;
		e->expires = next > e->expires ? next : U64_MAX;
		tr_place(c, id, e);
		return;
	}
	tr_cq_put(&c->cq, e->user_data, id, flags);
	c->armed--;
}

static void tr_fire(struct tr_core *c, u32 id, struct tr_entry *e)
{
	if (!c->pending_nr && tr_cq_has_space(&c->cq)) {
		tr_post(c, id, e);
		return;
	}
	tr_add_pending(c, id, e);
}

/* Earliest tick at which the wheel has work to do, U64_MAX if none. */
u64 tr_next_tick(const struct tr_core *c)
{
	u64 best = U64_MAX;
	unsigned int lvl;

	if (c->draining != TR_L_NONE)
		return c->elapsed;
	for (lvl = 0; lvl < TR_LEVELS; lvl++) {
		unsigned int shift = lvl * TR_LVL_BITS;
		unsigned int pos = (c->elapsed >> shift) & TR_LVL_MASK;
		u64 bits = c->occupied[lvl] & (~0ULL << pos);
		u64 base, t;

		if (!bits)
			continue;
		base = c->elapsed & ~((1ULL << (shift + TR_LVL_BITS)) - 1);
		t = base + ((u64)__ffs64(bits) << shift);
		if (t < best)
			best = t;
	}
	if (c->lists[TR_L_FAR].head != TR_NIL) {
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
		unsigned int shift = lvl * TR_LVL_BITS;
		unsigned int pos = (c->elapsed >> shift) & TR_LVL_MASK;
		u64 bits = c->occupied[lvl] & (~0ULL << pos);
		unsigned int slot;
		u64 base, t;

		if (!bits)
			continue;
		slot = __ffs64(bits);
		base = c->elapsed & ~((1ULL << (shift + TR_LVL_BITS)) - 1);
		t = base + ((u64)slot << shift);
		if (t < best) {
			best = t;
			which = lvl * TR_LVL_SLOTS + slot;
		}
	}
	if (c->lists[TR_L_FAR].head != TR_NIL) {
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
		c->far_stop = c->lists[TR_L_FAR].tail;
	} else {
		lvl = which / TR_LVL_SLOTS;
		c->occupied[lvl] &= ~(1ULL << (which % TR_LVL_SLOTS));
		if (lvl)
			tr_trace_cascade(c, lvl, which % TR_LVL_SLOTS);
	}
	return true;
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
		if (c->draining == TR_L_FAR && c->far_stop == TR_NIL) {
			c->draining = TR_L_NONE;
			continue;
		}
		id = c->lists[c->draining].head;
		if (id == TR_NIL) {
			c->draining = TR_L_NONE;
			continue;
		}
		e = tr_entry(c, id);
		if (e->next != TR_NIL)
			prefetchw(tr_entry(c, e->next));
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
	while (c->pending_nr && tr_cq_has_space(&c->cq) && *budget) {
		u32 id = c->lists[TR_L_PENDING].head;
		struct tr_entry *e = tr_entry(c, id);

		tr_list_del(c, id, e);
		tr_post(c, id, e);
		(*budget)--;
	}
	return !c->pending_nr;
}
