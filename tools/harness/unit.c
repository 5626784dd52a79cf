// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of the timerring core: wheel placement and cascades at every
 * level boundary, exact expiry, wrap-around and the far list, the id
 * table, the overflow list, periodic overruns, batch verdicts and ns ->
 * tick rounding. Prints TAP.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core.h"
#include "batch.h"
#include "par.h"
#include "pool.h"
#include "tr_rand.h"

#define ULL(x)		((unsigned long long)(x))
#define FAR_MASK	((1ULL << TR_WHEEL_BITS) - 1)

static int tap_n, tap_failed;
static bool cur_ok;

#define T_ASSERT(cond, fmt, ...)					\
	do {								\
		if (!(cond)) {						\
			if (cur_ok)					\
				printf("# unit.c:%d: %s: " fmt "\n",	\
				       __LINE__, #cond, ##__VA_ARGS__);	\
			cur_ok = false;					\
		}							\
	} while (0)

static void run(const char *name, void (*fn)(void))
{
	cur_ok = true;
	fn();
	printf("%s %d - %s\n", cur_ok ? "ok" : "not ok", ++tap_n, name);
	if (!cur_ok)
		tap_failed++;
	fflush(stdout);
}

/* ------------------------------------------------------------------ */

struct fx {
	struct tr_core c;
	struct tr_entry **dir;
	struct tr_period **ivdir;
	u8 *ring;
	struct tr_cqe *cqes;
	u32 entries;
	u32 head;
};

/* A core whose ref pool has no page yet. */
static struct fx *fx_new_bare(u32 max_ids, u64 res_ns, u64 now_tick,
			      u32 entries)
{
	struct fx *f = calloc(1, sizeof(*f));
	u32 n = DIV_ROUND_UP(max_ids, TR_CHUNK_IDS);
	struct timerring_cq_offsets off;
	size_t size;

	f->dir = calloc(n, sizeof(void *));
	f->ivdir = calloc(n, sizeof(void *));
	tr_cq_layout(entries, &off, &size);
	f->ring = calloc(1, size);
	if (!f->dir || !f->ivdir || !f->ring)
		abort();
	tr_core_init(&f->c, max_ids, res_ns, now_tick, f->dir, f->ivdir,
		     pool_dir(max_ids));
	tr_cq_init(&f->c.cq, f->ring, entries, &off);
	f->cqes = (struct tr_cqe *)(f->ring + off.cqes);
	f->entries = entries;
	return f;
}

static struct fx *fx_new(u32 max_ids, u64 res_ns, u64 now_tick, u32 entries)
{
	struct fx *f = fx_new_bare(max_ids, res_ns, now_tick, entries);

	pool_fill(&f->c, 4096);
	return f;
}

static void fx_free(struct fx *f)
{
	u32 i;

	for (i = 0; i < f->c.nr_chunks; i++) {
		free(f->dir[i]);
		free(f->ivdir[i]);
	}
	free(f->dir);
	free(f->ivdir);
	pool_free(&f->c);
	free(f->ring);
	free(f);
}

static void fx_install(struct fx *f, u32 id, bool ival)
{
	u32 ci = id >> TR_CHUNK_SHIFT;

	pool_fill(&f->c, 4096);
	if (!f->dir[ci])
		tr_table_install(&f->c, ci, aligned_alloc(64, TR_CHUNK_IDS *
						       sizeof(struct tr_entry)));
	if (ival && !f->ivdir[ci])
		tr_table_install_ival(&f->c, ci, malloc(TR_CHUNK_IDS *
						  sizeof(struct tr_period)));
}

/* A period of @ival ticks from tick @exp (on the tick grid). */
static const struct tr_period *fx_period(struct fx *f, u64 exp, u64 ival,
					 struct tr_period *per)
{
	per->due_ns = exp * f->c.res_ns;
	per->ival_ns = ival * f->c.res_ns;
	return ival ? per : NULL;
}

static int fx_arm(struct fx *f, u32 id, u64 exp, u64 ud, u64 ival, u8 fl)
{
	struct tr_period per;

	fx_install(f, id, ival);
	return tr_arm(&f->c, id, exp, ud, fx_period(f, exp, ival, &per), fl);
}

/* One pass to @tick, unlimited budget; returns CQEs posted. */
static u32 fx_pass(struct fx *f, u64 tick)
{
	u32 budget = U32_MAX;

	tr_set_now(&f->c, tick * f->c.res_ns);
	tr_cq_begin(&f->c.cq);
	tr_flush(&f->c, &budget);
	T_ASSERT(tr_advance(&f->c, tick, &budget), "advance not done");
	tr_flush(&f->c, &budget);
	return tr_cq_end(&f->c.cq, tr_pending_nr(&f->c));
}

/* Consume up to @max CQEs into @out; returns how many. */
static u32 fx_consume(struct fx *f, struct tr_cqe *out, u32 max)
{
	u32 tail = smp_load_acquire(f->c.cq.ktail), n = 0;

	while (f->head != tail && n < max) {
		if (out)
			out[n] = f->cqes[f->head & (f->entries - 1)];
		n++;
		f->head++;
	}
	smp_store_release(f->c.cq.khead, f->head);
	return n;
}

/*
 * Drive time the way the driver does, waking only at tr_next_tick(), until
 * @id fires; returns the tick at which it fired (U64_MAX if it did not by
 * @limit). Checks that no pass is needed between wake-ups.
 */
static u64 fx_run_until_fired(struct fx *f, u32 id, u64 limit)
{
	struct tr_cqe cqe;
	int guard = 0;

	while (guard++ < 1000) {
		u64 t = tr_next_tick(&f->c);

		if (t > limit)
			return U64_MAX;
		if (t < f->c.now_tick)
			t = f->c.now_tick;
		fx_pass(f, t);
		while (fx_consume(f, &cqe, 1))
			if (cqe.res == (s32)id)
				return t;
	}
	T_ASSERT(0, "no progress");
	return U64_MAX;
}

/* The level of E at wheel time W: wheel.c's rule, or TR_LEVELS if far. */
static unsigned int level_of(u64 exp, u64 w)
{
	unsigned int l;

	for (l = 0; l < TR_LEVELS; l++)
		if ((exp >> (8 * l + 8)) <= (w >> (8 * l + 8)) + 1)
			break;
	return l;
}

/* ------------------------------------------------------------------ */

static const u64 starts[] = {
	0, 5, 63, 64 * 7 + 3, 4095, 262143, (1ULL << 24) - 1,
	(1ULL << 30) - 2, (1ULL << 42) + 12345, (1ULL << 48) - 70,
	3 * (1ULL << 48) + 12345, (5ULL << 48) - 1,
};

/*
 * Timers at W + S^k - 1, S^k, S^k + 1 (S = TR_LVL_SLOTS) for every k: placed on the level
 * the scheme says (or the far list), not fired one tick early, fired at
 * their tick, by a driver that only wakes at tr_next_tick(), with at most
 * as many cascades as their level.
 */
static void test_levels(void)
{
	unsigned int i, k, d;

	for (i = 0; i < ARRAY_SIZE(starts); i++) {
		for (k = 0; k <= TR_LEVELS; k++) {
			for (d = 0; d < 3; d++) {
				u64 w = starts[i];
				u64 delta = (1ULL << (TR_LVL_BITS * k)) - 1 + d;
				u64 exp = w + delta, fired, casc;
				struct fx *f;
				struct tr_entry *e;
				unsigned int lvl;

				if (!delta)
					continue;
				f = fx_new(256, 1000, w, 64);
				T_ASSERT(fx_arm(f, 7, exp, 99, 0, 0) == 1,
					 "arm");
				e = tr_entry(&f->c, 7);
				lvl = level_of(exp, w);
				if (lvl == TR_LEVELS)
					T_ASSERT(e->where == TR_L_FAR,
						 "W %llu E %llu where %u",
						 ULL(w), ULL(exp), e->where);
				else
					T_ASSERT(e->where == lvl * TR_LVL_SLOTS +
						 ((exp >> (lvl * TR_LVL_BITS)) &
						  TR_LVL_MASK),
						 "W %llu E %llu where %u",
						 ULL(w), ULL(exp), e->where);
				T_ASSERT(tr_next_tick(&f->c) <= exp,
					 "next tick %llu > %llu",
					 ULL(tr_next_tick(&f->c)), ULL(exp));
				fired = fx_run_until_fired(f, 7, exp);
				T_ASSERT(fired == exp,
					 "W %llu E %llu fired at %llu",
					 ULL(w), ULL(exp), ULL(fired));
				casc = f->c.st.cascades;
				T_ASSERT(casc <= TR_LEVELS, "%llu cascades",
					 ULL(casc));
				fx_free(f);

				/* one jump to E - 1, then to E */
				f = fx_new(256, 1000, w, 64);
				fx_arm(f, 7, exp, 99, 0, 0);
				T_ASSERT(fx_pass(f, exp - 1) == 0,
					 "W %llu E %llu fired early",
					 ULL(w), ULL(exp));
				T_ASSERT(fx_pass(f, exp) == 1,
					 "W %llu E %llu not fired on time",
					 ULL(w), ULL(exp));
				fx_free(f);

				/* one jump past E */
				f = fx_new(256, 1000, w, 64);
				fx_arm(f, 7, exp, 99, 0, 0);
				T_ASSERT(fx_pass(f, exp + 1) == 1,
					 "W %llu E %llu not fired late",
					 ULL(w), ULL(exp));
				fx_free(f);
			}
		}
	}
}

/* The end of every rotation of every level: W = j * S^L - 1. */
static void test_wrap(void)
{
	unsigned int lvl, j, d;

	for (lvl = 1; lvl <= TR_LEVELS; lvl++) {
		for (j = 1; j <= 3; j++) {
			for (d = 1; d <= 66; d += 13) {
				u64 w = j * (1ULL << (TR_LVL_BITS * lvl)) - 1;
				u64 exp = w + d;
				struct fx *f = fx_new(256, 1000, w, 64);

				fx_arm(f, 1, exp, 1, 0, 0);
				fx_arm(f, 2, w + (1ULL << (TR_LVL_BITS *
						(lvl - 1))), 2, 0, 0);
				T_ASSERT(fx_run_until_fired(f, 1, exp) == exp,
					 "W %llu E %llu late", ULL(w),
					 ULL(exp));
				fx_free(f);
			}
		}
	}
}

/* Timers around and beyond a 2^48 boundary, re-placed from the far list. */
static void test_far(void)
{
	/*
	 * A slot that starts at the very 2^48 boundary at which far timers
	 * move in must not make the wheel skip them: far timer 1 is due at
	 * 2 * 2^48, timer 2 starts a slot at 2^48, timer 3 one at 2 * 2^48.
	 */
	{
		struct fx *f = fx_new(256, 1, (1ULL << 48) - 10, 64);
		u64 b = 1ULL << 48;

		fx_arm(f, 1, 2 * b, 1, 0, 0);
		fx_arm(f, 2, b, 2, 0, 0);
		T_ASSERT(tr_entry(&f->c, 1)->where == TR_L_FAR, "not far");
		T_ASSERT(fx_run_until_fired(f, 2, b) == b, "2 late");
		fx_arm(f, 3, 2 * b, 3, 0, 0);
		T_ASSERT(fx_run_until_fired(f, 1, 2 * b) == 2 * b,
			 "far timer late past a boundary shared with a slot");
		fx_free(f);
	}

	static const s64 offs[] = { -1, 0, 1, 63, 64, 4096 };
	unsigned int i, j;

	for (j = 1; j <= 4; j++) {
		u64 b = j * (1ULL << TR_WHEEL_BITS);
		u64 w = b - 5;

		for (i = 0; i < ARRAY_SIZE(offs); i++) {
			struct fx *f = fx_new(256, 1000, w, 64);
			u64 e1 = b + offs[i], e2 = b + (2ULL << 48) + offs[i];

			fx_arm(f, 1, e1, 1, 0, 0);
			fx_arm(f, 2, e2, 2, 0, 0);
			fx_arm(f, 3, U64_MAX, 3, 0, 0);
			fx_arm(f, 4, tr_ns_to_tick_ceil(U64_MAX, 1000), 4, 0,
			       0);
			T_ASSERT(tr_entry(&f->c, 2)->where == TR_L_FAR,
				 "E %llu not far", ULL(e2));
			T_ASSERT(tr_entry(&f->c, 3)->where == TR_L_FAR,
				 "U64_MAX not far");
			T_ASSERT(fx_run_until_fired(f, 1, e1) == e1,
				 "E %llu late", ULL(e1));
			T_ASSERT(fx_run_until_fired(f, 2, e2) == e2,
				 "E %llu late", ULL(e2));
			T_ASSERT(tr_entry(&f->c, 3)->where == TR_L_FAR,
				 "U64_MAX left the far list");
			T_ASSERT(f->c.armed == 2, "armed %u", f->c.armed);
			T_ASSERT(tr_next_tick(&f->c) ==
				 (f->c.elapsed | FAR_MASK) + 1,
				 "next tick %llu with only far timers",
				 ULL(tr_next_tick(&f->c)));
			fx_free(f);
		}
	}
}

/* Slack: late by at most max(1, timeout / 8), at most two cascades. */
static void test_slack(void)
{
	unsigned int k;

	for (k = 0; k < 60; k++) {
		u64 w = 1000 + k * 7777;
		u64 to = (1ULL << (k * 48 / 60)) + k;
		u64 exp = w + to, eff;
		struct fx *f = fx_new(256, 1000, w, 64);

		fx_arm(f, 9, exp, 1, 0, TR_EF_SLACK);
		eff = tr_entry(&f->c, 9)->expires;
		T_ASSERT(eff >= exp && eff - exp <= max_t(u64, 1, to / 8),
			 "timeout %llu: %llu -> %llu", ULL(to), ULL(exp),
			 ULL(eff));
		T_ASSERT(fx_pass(f, eff - 1) == 0, "slack fired early");
		T_ASSERT(fx_run_until_fired(f, 9, eff) == eff, "slack late");
		T_ASSERT(f->c.st.cascades <= 2, "timeout %llu: %llu cascades",
			 ULL(to), ULL(f->c.st.cascades));
		fx_free(f);
	}
}

/* Periodic: F_MORE, overruns counted while waiting for ring space. */
static void test_periodic(void)
{
	struct fx *f = fx_new(256, 1000, 100, 1);
	struct tr_cqe cqe;
	u32 fl;

	T_ASSERT(fx_arm(f, 3, 110, 77, 10, 0) == 1, "arm");
	T_ASSERT(fx_pass(f, 110) == 1, "first period");
	fx_consume(f, &cqe, 1);
	fl = TIMERRING_CQE_F_MORE | TIMERRING_CQE_F_PERIODIC |
	     1 << TIMERRING_CQE_GEN_SHIFT;
	T_ASSERT(cqe.flags == fl && cqe.res == 3 && cqe.user_data == 77,
		 "cqe %#x", cqe.flags);
	T_ASSERT(fx_pass(f, 120) == 1, "second period");
	/* ring full: the 130 expiry waits, 140 and 150 are missed */
	T_ASSERT(fx_pass(f, 155) == 0, "posted into a full ring");
	T_ASSERT(tr_pending_nr(&f->c) == 1 &&
		 *f->c.cq.kflags == TIMERRING_KFLAG_CQ_OVERFLOW &&
		 *f->c.cq.koverflow_pending == 1, "overflow not flagged");
	fx_consume(f, &cqe, 1);
	T_ASSERT(fx_pass(f, 155) == 1, "overflow not posted");
	fx_consume(f, &cqe, 1);
	T_ASSERT(cqe.flags == (fl | 2 << TIMERRING_CQE_OVERRUN_SHIFT),
		 "overrun: flags %#x", cqe.flags);
	T_ASSERT(*f->c.cq.kflags == 0, "kflags stuck");
	T_ASSERT(tr_entry(&f->c, 3)->expires == 160, "next at %llu",
		 ULL(tr_entry(&f->c, 3)->expires));
	/* saturating overrun count */
	T_ASSERT(fx_pass(f, 160) == 1, "period at 160");
	T_ASSERT(fx_pass(f, 170 + 10 * 1000) == 0, "posted into full ring");
	fx_consume(f, &cqe, 1);
	T_ASSERT(fx_pass(f, 170 + 10 * 1000) == 1, "not posted");
	fx_consume(f, &cqe, 1);
	T_ASSERT(((cqe.flags >> TIMERRING_CQE_OVERRUN_SHIFT) & 0xff) == 255,
		 "overrun not saturated: %#x", cqe.flags);
	T_ASSERT(tr_cancel(&f->c, 3) == 0, "cancel periodic");
	fx_free(f);

	/* a late pass: one CQE counting the periods missed, not one each */
	f = fx_new(256, 1000, 100, 64);
	fx_arm(f, 3, 110, 77, 10, 0);
	T_ASSERT(fx_pass(f, 110) == 1, "first period");
	T_ASSERT(fx_pass(f, 200) == 1, "catch-up posted %u", f->c.cq.tail);
	fx_consume(f, &cqe, 1);
	fx_consume(f, &cqe, 1);
	T_ASSERT(cqe.flags == (fl | 8 << TIMERRING_CQE_OVERRUN_SHIFT),
		 "catch-up flags %#x", cqe.flags);
	T_ASSERT(tr_entry(&f->c, 3)->expires == 210, "next at %llu",
		 ULL(tr_entry(&f->c, 3)->expires));
	fx_free(f);
}

/* Sparse ids allocate only their chunk; generation survives cancel. */
static void test_table(void)
{
	u32 max_ids = 1U << 24, id = 5000000, i;
	struct fx *f = fx_new(max_ids, 1000000, 0, 64);
	size_t dirb = (size_t)(max_ids / TR_CHUNK_IDS) * 2 * sizeof(void *) +
		      tr_pool_pages_max(max_ids) * sizeof(void *) +
		      (size_t)(f->c.blk_nr / TR_BLK_PAGE_BLOCKS) * 4096;
	size_t chb = TR_CHUNK_IDS * sizeof(struct tr_entry);
	u32 budget, cancelled;
	struct tr_period per;
	int r;

	T_ASSERT(f->c.nr_chunks == max_ids / TR_CHUNK_IDS, "nr_chunks %u",
		 f->c.nr_chunks);
	T_ASSERT(tr_table_bytes(&f->c) == dirb, "empty table %zu",
		 tr_table_bytes(&f->c));
	T_ASSERT(tr_arm(&f->c, id, 10, 0, NULL, 0) == -ENOMEM, "no chunk");
	T_ASSERT(tr_cancel(&f->c, id) == -ENOENT, "cancel, no chunk");
	budget = 1000;
	cancelled = 0;
	T_ASSERT(tr_cancel_all(&f->c, &budget, &cancelled) && !cancelled &&
		 budget == 1000, "cancel all, nothing armed");
	fx_install(f, id, false);
	T_ASSERT(tr_table_bytes(&f->c) == dirb + chb, "one chunk %zu",
		 tr_table_bytes(&f->c));
	T_ASSERT(f->c.chunks_present == 1, "chunks %u", f->c.chunks_present);
	T_ASSERT(tr_entry_get(&f->c, id) && !tr_entry_get(&f->c, id + 128) &&
		 !tr_entry_get(&f->c, 0), "chunk mapping");
	T_ASSERT(tr_entry_get(&f->c, (id & ~TR_CHUNK_MASK) + 127) ==
		 tr_entry_get(&f->c, id & ~TR_CHUNK_MASK) + 127,
		 "ids of a chunk not contiguous");
	T_ASSERT(sizeof(struct tr_entry) == 24, "entry %zu bytes",
		 sizeof(struct tr_entry));
	T_ASSERT(tr_arm(&f->c, id, 10, 0, NULL, 0) == 1, "arm");
	T_ASSERT(tr_arm(&f->c, id, 10, 0, NULL, 0) == -EEXIST, "arm twice");
	T_ASSERT(tr_arm(&f->c, id + 1, 10, 0, fx_period(f, 10, 5, &per),
			0) == -ENOMEM,
		 "periodic without interval array");
	T_ASSERT(tr_modify(&f->c, id, 10, 0, fx_period(f, 10, 5, &per),
			   0) == -ENOMEM,
		 "periodic modify without interval array");
	T_ASSERT(f->c.armed == 1, "armed %u", f->c.armed);
	fx_install(f, id, true);
	T_ASSERT(tr_table_bytes(&f->c) == dirb + chb + 2048, "ival %zu",
		 tr_table_bytes(&f->c));
	T_ASSERT(tr_modify(&f->c, id, 20, 0, fx_period(f, 20, 5, &per), 0) ==
		 (2 | TIMERRING_RES_REARMED), "modify");
	T_ASSERT(tr_modify(&f->c, id + 1, 20, 0, NULL, 0) == 1, "modify idle");
	cancelled = 0;
	budget = 1;
	T_ASSERT(!tr_cancel_all(&f->c, &budget, &cancelled) && cancelled == 1,
		 "cancel all, budget 1: %u", cancelled);
	budget = 1;
	T_ASSERT(tr_cancel_all(&f->c, &budget, &cancelled) && cancelled == 2,
		 "cancel all: %u", cancelled);
	T_ASSERT(f->c.armed == 0, "armed %u", f->c.armed);
	T_ASSERT(tr_cancel(&f->c, id) == -ENOENT, "cancel twice");
	/* generation: 16 bits in results and CQEs, 32 in the entry */
	for (i = 0; i < 65533; i++) {
		r = tr_arm(&f->c, id, 10, 0, NULL, 0);
		tr_cancel(&f->c, id);
	}
	T_ASSERT(r == 0xffff, "gen %d", r);
	r = tr_arm(&f->c, id, 10, 0, NULL, 0);
	T_ASSERT(r == 0, "gen wrap %d", r);
	T_ASSERT(fx_pass(f, 10) == 1, "fire");
	T_ASSERT(f->cqes[0].flags == 0 && f->cqes[0].res == (s32)id,
		 "cqe flags %#x", f->cqes[0].flags);
	fx_free(f);
}

/* The overflow list: FIFO, withdrawn by cancel and modify. */
static void test_overflow(void)
{
	/* one lane (tr_lane_of() 0): arming order is firing order */
	static const u32 ids[] = { 64, 3, 65, 130, 7, 192, 70, 1, 193, 128 };
	struct fx *f = fx_new(256, 1000, 0, 4);
	struct tr_cqe out[16];
	u32 i, n, got[16], ng = 0;

	for (i = 0; i < ARRAY_SIZE(ids); i++)
		fx_arm(f, ids[i], i < 6 ? 50 : 51, 1000 + i, 0, 0);
	fx_arm(f, 5, 49, 999, 0, 0);
	T_ASSERT(fx_pass(f, 60) == 4, "ring of 4");
	T_ASSERT(tr_pending_nr(&f->c) == 7 && *f->c.cq.koverflow_pending == 7 &&
		 *f->c.cq.kflags == TIMERRING_KFLAG_CQ_OVERFLOW,
		 "pending %u", tr_pending_nr(&f->c));
	T_ASSERT(f->c.st.overflowed_total == 7, "overflowed %llu",
		 ULL(f->c.st.overflowed_total));
	T_ASSERT(tr_arm(&f->c, 70, 5, 0, NULL, 0) == -EEXIST, "arm pending");
	T_ASSERT(tr_cancel(&f->c, ids[5]) == 0, "cancel pending");
	T_ASSERT(tr_modify(&f->c, ids[7], 1000, 0, NULL, 0) ==
		 (2 | TIMERRING_RES_REARMED), "modify pending");
	T_ASSERT(tr_pending_nr(&f->c) == 5, "pending %u", tr_pending_nr(&f->c));
	fx_free(f);

	/* drain by a slow consumer; one armed in the past queues last */
	f = fx_new(256, 1000, 0, 4);
	ng = 0;
	for (i = 0; i < ARRAY_SIZE(ids); i++)
		fx_arm(f, ids[i], i < 6 ? 50 : 51, 1000 + i, 0, 0);
	fx_arm(f, 5, 49, 999, 0, 0);
	fx_pass(f, 60);
	tr_cancel(&f->c, ids[5]);
	tr_modify(&f->c, ids[7], 1000, 0, NULL, 0);
	fx_arm(f, 100, 10, 5000, 0, 0);
	for (i = 0; i < 20; i++) {
		u32 k;

		n = fx_consume(f, out, 1 + (i % 3));
		for (k = 0; k < n && ng < ARRAY_SIZE(got); k++)
			got[ng++] = out[k].user_data;
		fx_pass(f, 60);
	}
	{
		static const u32 want[] = { 999, 1000, 1001, 1002, 1003, 1004,
					    1006, 1008, 1009, 5000 };

		T_ASSERT(ng == ARRAY_SIZE(want), "%u CQEs", ng);
		for (i = 0; i < ng && i < ARRAY_SIZE(want); i++)
			T_ASSERT(got[i] == want[i], "CQE %u is %u, want %u",
				 i, got[i], want[i]);
	}
	T_ASSERT(tr_pending_nr(&f->c) == 0 && *f->c.cq.kflags == 0 &&
		 *f->c.cq.koverflow_pending == 0, "overflow not cleared");
	fx_free(f);
}

/* A consumer head claiming more than the ring only stalls the ring. */
static void test_cq_head(void)
{
	struct fx *f = fx_new(256, 1000, 0, 8);
	struct timerring_cq_offsets off;
	size_t size;
	u32 i;

	tr_cq_layout(4096, &off, &size);
	T_ASSERT(size == 256 + 4096 * 16 && off.cqes == 256 &&
		 off.tail - off.head >= 64, "layout");
	for (i = 0; i < 4; i++)
		fx_arm(f, i, 5, i, 0, 0);
	WRITE_ONCE(*f->c.cq.khead, 100);
	T_ASSERT(fx_pass(f, 5) == 0, "posted past a bad head");
	T_ASSERT(tr_pending_nr(&f->c) == 4, "pending %u", tr_pending_nr(&f->c));
	WRITE_ONCE(*f->c.cq.khead, (u32)-9);
	T_ASSERT(fx_pass(f, 5) == 0, "posted past a bad head");
	WRITE_ONCE(*f->c.cq.khead, 0);
	T_ASSERT(fx_pass(f, 5) == 4, "not posted after fix");
	T_ASSERT(tr_cq_ready(&f->c.cq) == 4, "ready %u",
		 tr_cq_ready(&f->c.cq));
	fx_free(f);
}

/*
 * The SQ ring reader: a tail ahead by more than the ring, or behind,
 * counts as a full ring; fetch wraps; the kernel's head, mask and size
 * are its own; which prepared ops need no allocation.
 */
static void test_sq(void)
{
	struct timerring_sq_offsets off;
	struct timerring_op ops[8], got[8];
	struct tr_prep_out *out = calloc(1, sizeof(*out));
	struct fx *f = fx_new_bare(1024, 1000, 0, 8);
	struct tr_sq sq;
	size_t end;
	u8 *map;
	u32 i;

	tr_sq_layout(8, 4352, &off, &end);
	T_ASSERT(off.head == 4352 && off.tail == 4352 + 64 &&
		 off.ops == 4352 + 256 && end == 4352 + 256 + 8 * 32 &&
		 off.flags == 4352 + 136 && off.dropped == 4352 + 140,
		 "layout");
	map = calloc(1, end);
	tr_sq_init(&sq, map, 8, &off);
	T_ASSERT(*(u32 *)(map + off.ring_mask) == 7 &&
		 *(u32 *)(map + off.ring_entries) == 8, "mask, entries");
	T_ASSERT(tr_sq_avail(&sq) == 0, "empty");
	*sq.ktail = 5;
	T_ASSERT(tr_sq_avail(&sq) == 5, "avail %u", tr_sq_avail(&sq));
	*sq.ktail = 9;
	T_ASSERT(tr_sq_avail(&sq) == 8, "ahead: %u", tr_sq_avail(&sq));
	*sq.ktail = (u32)-1;
	T_ASSERT(tr_sq_avail(&sq) == 8, "behind: %u", tr_sq_avail(&sq));

	/* fetch across the end of the ring; the shared head is ignored */
	for (i = 0; i < 8; i++)
		sq.ops[i].id = i;
	*(u32 *)(map + off.ring_mask) = 0;
	*sq.khead = 1000;
	tr_sq_commit(&sq, 6, 0);
	T_ASSERT(*sq.khead == 1000 && sq.head == 6, "head before publish");
	tr_sq_publish(&sq);
	T_ASSERT(*sq.khead == 6 && sq.head == 6, "head %u", *sq.khead);
	*sq.ktail = 10;
	T_ASSERT(tr_sq_avail(&sq) == 4, "avail %u", tr_sq_avail(&sq));
	tr_sq_fetch(&sq, got, 4);
	T_ASSERT(got[0].id == 6 && got[1].id == 7 && got[2].id == 0 &&
		 got[3].id == 1, "wrap %u %u %u %u", got[0].id, got[1].id,
		 got[2].id, got[3].id);
	tr_sq_commit(&sq, 4, 3);
	tr_sq_publish(&sq);
	T_ASSERT(*sq.khead == 10 && *sq.kdropped == 3, "dropped");
	tr_sq_set_wakeup(&sq, true);
	T_ASSERT(*sq.kflags == TIMERRING_SQ_NEED_WAKEUP, "flag");

	/* ops needing no allocation: chunk, interval array, pool, CANCEL_ALL */
	memset(ops, 0, sizeof(ops));
	for (i = 0; i < 8; i++)
		ops[i].opcode = TIMERRING_OP_ARM;
	fx_install(f, 0, false);
	ops[1].opcode = TIMERRING_OP_CANCEL;
	ops[1].id = 900;
	ops[2].id = 900;
	out->verdict[2] = -EINVAL;
	ops[3].id = 5;
	out->ival[3] = 1;
	T_ASSERT(tr_sq_applicable(&f->c, ops, out, 8) == 3, "no ival: %u",
		 tr_sq_applicable(&f->c, ops, out, 8));
	fx_install(f, 0, true);
	ops[5].id = 300;
	T_ASSERT(tr_sq_applicable(&f->c, ops, out, 8) == 5, "no chunk");
	ops[5].id = 1;
	ops[6].opcode = TIMERRING_OP_CANCEL_ALL;
	T_ASSERT(tr_sq_applicable(&f->c, ops, out, 8) == 6, "cancel_all");
	ops[6].opcode = TIMERRING_OP_ARM;
	f->c.refs = f->c.refs_max - 1;
	T_ASSERT(tr_sq_applicable(&f->c, ops, out, 8) == 3, "pool: %u",
		 tr_sq_applicable(&f->c, ops, out, 8));
	f->c.refs = 0;
	f->c.refs_held = f->c.refs_max - 1;
	T_ASSERT(tr_sq_applicable(&f->c, ops, out, 8) == 3, "held: %u",
		 tr_sq_applicable(&f->c, ops, out, 8));
	f->c.refs_held = 0;
	T_ASSERT(tr_sq_applicable(&f->c, ops, out, 8) == 8, "all");

	/* an error CQE */
	tr_cq_begin(&f->c.cq);
	tr_cq_post_err(&f->c.cq, 42, -EEXIST, 7);
	T_ASSERT(f->cqes[0].user_data == 42 && f->cqes[0].res == -EEXIST &&
		 f->cqes[0].flags == 7 && f->c.cq.posted == 1, "error cqe");
	tr_cq_end(&f->c.cq, 0);
	free(map);
	free(out);
	fx_free(f);
}

/*
 * The pool grown a page at a time: the refs it holds never shrink, and a
 * full pool always asks for a page, so that an op adding one ref finds
 * either room or a page to install (none: ENOMEM).
 */
static void test_pool_growth(void)
{
	struct fx *f = fx_new_bare(1 << 20, 1000, 0, 8);
	u32 pages, prev = 0;

	for (pages = 1; pages < 400; pages++) {
		void *page = aligned_alloc(4096, 4096);

		if (!page)
			abort();
		tr_pool_install(&f->c, page);
		T_ASSERT(f->c.refs_max >= prev, "%u pages hold %u refs, %u held %u",
			 pages, f->c.refs_max, pages - 1, prev);
		prev = f->c.refs_max;
		f->c.refs = f->c.refs_max;
		T_ASSERT(!tr_pool_room(&f->c, 1) && tr_pool_want(&f->c, 1) > 0,
			 "full pool of %u pages wants no page", pages);
		f->c.refs = 0;
	}
	fx_free(f);
}

/* ------------------------------------------------------------------ */

struct vcase {
	u8 opcode, flags;
	u16 resv;
	u32 id;
	u64 expiry, interval;
	s32 verdict;
	const char *what;
};

static void test_verdicts(void)
{
	static const struct vcase cases[] = {
		{ 0, 0, 0, 5, 1, 0, 0, "arm" },
		{ 1, 0, 0, 5, 1, 0, 0, "modify" },
		{ 2, 0, 0, 5, 0, 0, 0, "cancel" },
		{ 3, 0, 0, 0, 0, 0, 0, "cancel-all" },
		{ 4, 0, 0, 5, 1, 0, -EINVAL, "unknown opcode" },
		{ 255, 0, 0, 5, 0, 0, -EINVAL, "opcode 255" },
		{ 0, 4, 0, 5, 1, 0, -EINVAL, "unknown flag" },
		{ 0, 0x80, 0, 5, 1, 0, -EINVAL, "flag 0x80" },
		{ 0, 3, 0, 5, 1, 0, 0, "ABS|SLACK" },
		{ 0, 0, 1, 5, 1, 0, -EINVAL, "resv" },
		{ 2, 0, 0x8000, 5, 0, 0, -EINVAL, "cancel resv" },
		{ 0, 0, 0, 5, 1, 999, -EINVAL, "interval < tick" },
		{ 1, 0, 0, 5, 1, 1, -EINVAL, "interval 1 ns" },
		{ 0, 0, 0, 5, 1, 1000, 0, "interval = tick" },
		{ 0, 0, 0, 5, 1, U64_MAX, 0, "interval U64_MAX" },
		{ 2, 0, 0, 5, 1, 0, -EINVAL, "cancel with expiry" },
		{ 2, 0, 0, 5, 0, 1000, -EINVAL, "cancel with interval" },
		{ 2, 1, 0, 5, 0, 0, -EINVAL, "cancel with ABS" },
		{ 2, 2, 0, 5, 0, 0, -EINVAL, "cancel with SLACK" },
		{ 3, 0, 0, 1, 0, 0, -EINVAL, "cancel-all id 1" },
		{ 3, 0, 0, 100, 0, 0, -EINVAL, "cancel-all id >= max" },
		{ 3, 0, 0, 0, 1, 0, -EINVAL, "cancel-all with expiry" },
		{ 3, 0, 0, 0, 0, 1000, -EINVAL, "cancel-all with interval" },
		{ 3, 1, 0, 0, 0, 0, -EINVAL, "cancel-all with flags" },
		{ 0, 0, 0, 99, 1, 0, 0, "id max - 1" },
		{ 0, 0, 0, 100, 1, 0, -ERANGE, "id max" },
		{ 1, 0, 0, U32_MAX, 1, 0, -ERANGE, "modify id U32_MAX" },
		{ 2, 0, 0, 100, 0, 0, -ERANGE, "cancel id max" },
		{ 0, 0, 0, 100, 1, 5, -EINVAL, "EINVAL before ERANGE" },
		{ 2, 0, 0, 100, 1, 0, -EINVAL, "cancel EINVAL before ERANGE" },
		{ 0, 4, 0, 100, 1, 0, -EINVAL, "flag EINVAL before ERANGE" },
	};
	struct tr_prep p = { .now_ns = 5000, .res_ns = 1000, .max_ids = 100 };
	static struct timerring_op ops[ARRAY_SIZE(cases)];
	static struct tr_prep_out out;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		ops[i].opcode = cases[i].opcode;
		ops[i].flags = cases[i].flags;
		ops[i].resv = cases[i].resv;
		ops[i].id = cases[i].id;
		ops[i].expiry = cases[i].expiry;
		ops[i].interval = cases[i].interval;
	}
	tr_prep_scalar(&p, ops, ARRAY_SIZE(cases), &out);
	for (i = 0; i < ARRAY_SIZE(cases); i++)
		T_ASSERT(out.verdict[i] == cases[i].verdict,
			 "%s: verdict %d, want %d", cases[i].what,
			 out.verdict[i], cases[i].verdict);
}

struct tcase {
	u8 flags;
	u64 now_ns;
	s64 ns_off;
	u64 res_ns, expiry, interval;
	u64 tick, ival;
};

static void test_ticks(void)
{
	static const struct tcase cases[] = {
		/* relative: now + expiry, rounded up */
		{ 0, 0, 0, 1000, 0, 0, 0, 0 },
		{ 0, 0, 0, 1000, 1, 1000, 1, 1 },
		{ 0, 0, 0, 1000, 1000, 1001, 1, 2 },
		{ 0, 0, 0, 1000, 1001, 1999, 2, 2 },
		{ 0, 999, 0, 1000, 1, 0, 1, 0 },
		{ 0, 999, 0, 1000, 2, 0, 2, 0 },
		{ 0, 1000000, 0, 1000000, 0, 0, 1, 0 },
		{ 0, 1000001, 0, 1000000, 0, 0, 2, 0 },
		{ 0, 1234567, 0, 1000000000, 1, 0, 1, 0 },
		/* relative: saturates at U64_MAX, which never wraps */
		{ 0, 5, 0, 1000, U64_MAX, 0, 18446744073709552ULL, 0 },
		{ 0, 1, 0, 1000, U64_MAX - 1, 0, 18446744073709552ULL, 0 },
		{ 0, U64_MAX, 0, 1000000000, U64_MAX, U64_MAX,
		  18446744074ULL, 18446744074ULL },
		{ 0, U64_MAX - 10, 0, 1000000, 10, 0, 18446744073710ULL, 0 },
		/* absolute, moved by the namespace offset, clamped at 0 */
		{ 1, 777, 0, 1000, 5000, 0, 5, 0 },
		{ 1, 777, 0, 1000, 5001, 0, 6, 0 },
		{ 1, 777, 3000, 1000, 5001, 0, 3, 0 },
		{ 1, 777, 5001, 1000, 5001, 0, 0, 0 },
		{ 1, 777, 9999, 1000, 5001, 0, 0, 0 },
		{ 1, 777, S64_MAX, 1000, U64_MAX, 0, 9223372036854776ULL, 0 },
		{ 1, 777, S64_MAX, 1000, S64_MAX, 0, 0, 0 },
		/* a negative offset moves later, saturating at U64_MAX */
		{ 1, 777, -3000, 1000, 5001, 0, 9, 0 },
		{ 1, 777, -1, 1000, U64_MAX, 0, 18446744073709552ULL, 0 },
		{ 1, 777, -1, 1000, U64_MAX - 1, 0, 18446744073709552ULL, 0 },
		{ 1, 777, -S64_MAX - 1, 1000, 1ULL << 63, 0,
		  18446744073709552ULL, 0 },
		{ 1, 777, -S64_MAX - 1, 1000, 1, 0, 9223372036854776ULL, 0 },
		{ 1, 777, 1, 1000, U64_MAX, 0, 18446744073709552ULL, 0 },
		{ 1, 777, 2000, 1000, U64_MAX, 0, 18446744073709550ULL, 0 },
		{ 1, 777, 0, 1000, U64_MAX, 0, 18446744073709552ULL, 0 },
		{ 3, 777, 1, 1000, 1002, 0, 2, 0 },
	};
	static struct timerring_op op;
	static struct tr_prep_out out;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct tcase *t = &cases[i];
		struct tr_prep p = { .now_ns = t->now_ns, .ns_off = t->ns_off,
				     .res_ns = t->res_ns, .max_ids = 10 };

		op.opcode = TIMERRING_OP_ARM;
		op.flags = t->flags;
		op.expiry = t->expiry;
		op.interval = t->interval;
		tr_prep_scalar(&p, &op, 1, &out);
		T_ASSERT(out.tick[0] == t->tick && out.ival[0] == t->ival,
			 "case %u: tick %llu ival %llu, want %llu %llu", i,
			 ULL(out.tick[0]), ULL(out.ival[0]), ULL(t->tick),
			 ULL(t->ival));
		/* never early: the tick starts at or after the expiry */
		if (!(t->flags & TIMERRING_OPF_ABS) &&
		    t->now_ns + t->expiry >= t->now_ns)
			T_ASSERT((unsigned __int128)out.tick[0] * t->res_ns >=
				 t->now_ns + t->expiry, "case %u early", i);
	}
	/* exhaustive small check of the rounding and of tr_set_now() */
	for (i = 0; i < 5000; i++) {
		u64 res = 1000 + (i % 7) * 333, ns = i * 911ULL;
		u64 t = tr_ns_to_tick_ceil(ns, res);

		T_ASSERT(t * res >= ns && (t == 0 || (t - 1) * res < ns),
			 "ceil(%llu / %llu) = %llu", ULL(ns), ULL(res), ULL(t));
	}
}

/*
 * Many timers of one tick: each fires once, in arming order; a MODIFY to
 * the same tick keeps its place, one that leaves the slot and comes back
 * goes to the end.
 */
static void test_same_tick_fifo(void)
{
	struct fx *f = fx_new(1024, 1000, 1000, 1024);
	const u64 t = 1000 + 4100;
	struct tr_cqe out[600];
	u32 i, n;

	for (i = 0; i < 500; i++)
		fx_arm(f, (i * 37) % 1000, t, i, 0, 0);
	T_ASSERT(tr_modify(&f->c, 0, t, 500, NULL, 0) >= 0, "modify");
	T_ASSERT(tr_modify(&f->c, 37, t + 600, 1, NULL, 0) >= 0, "modify");
	T_ASSERT(tr_modify(&f->c, 37, t, 501, NULL, 0) >= 0, "modify");
	n = fx_pass(f, t);
	T_ASSERT(n == 500, "%u fired", n);
	n = fx_consume(f, out, 600);
	T_ASSERT(n == 500, "%u CQEs", n);
	for (i = 0; i < n; i++) {
		u64 want = i == 0 ? 500 : i == 499 ? 501 : i + 1;
		u32 id = want == 500 ? 0 : want == 501 ? 37 : (want * 37) % 1000;

		T_ASSERT(out[i].user_data == want && (u32)out[i].res == id,
			 "CQE %u: id %d, user_data %llu, want %u, %llu", i,
			 out[i].res, ULL(out[i].user_data), id, ULL(want));
	}
	fx_free(f);
}

/*
 * Stale refs stay bounded whatever the churn: a timer moved back and forth
 * between two slots, and one armed and cancelled, 20000 times each, next
 * to two timers that stay; then each fires once at its tick. And a pool
 * with no room refuses an ARM with ENOMEM, changing nothing.
 */
static void test_churn(void)
{
	struct fx *f = fx_new(256, 1000, 1000, 64);
	const u64 t = 1000 + 300, t2 = 1000 + 900;
	struct tr_cqe out[8];
	u32 i, n, maxrefs = 0;

	fx_arm(f, 1, t, 1, 0, 0);
	fx_arm(f, 2, t, 2, 0, 0);
	fx_arm(f, 3, t, 3, 0, 0);
	for (i = 0; i < 20000; i++) {
		T_ASSERT(tr_modify(&f->c, 3, i & 1 ? t : t2, 3, NULL, 0) >= 0,
			 "modify %u", i);
		T_ASSERT(tr_arm(&f->c, 4, t, 4, NULL, 0) >= 0, "arm %u", i);
		T_ASSERT(tr_cancel(&f->c, 4) == 0, "cancel %u", i);
		maxrefs = max(maxrefs, f->c.refs);
	}
	/* at most 2 refs per armed timer plus 4096 (wheel.c), and a step */
	T_ASSERT(maxrefs <= 2 * 4 + 4096 + 64, "%u refs for 4 timers",
		 maxrefs);
	T_ASSERT(f->c.armed == 3, "armed %u", f->c.armed);
	n = 0;
	while (f->c.armed)
		n += fx_pass(f, tr_next_tick(&f->c));
	T_ASSERT(n == 3 && f->c.elapsed == t, "%u fired, last at %llu", n,
		 ULL(f->c.elapsed));
	T_ASSERT(fx_consume(f, out, 8) == 3, "3 CQEs");
	T_ASSERT(!f->c.refs, "%u refs left", f->c.refs);
	fx_free(f);

	f = fx_new_bare(256, 1000, 1000, 64);
	tr_table_install(&f->c, 0, aligned_alloc(64, TR_CHUNK_IDS *
						 sizeof(struct tr_entry)));
	T_ASSERT(tr_arm(&f->c, 9, 1100, 0, NULL, 0) == -ENOMEM,
		 "arm without pool");
	T_ASSERT(f->c.armed == 0 && tr_entry(&f->c, 9)->where == TR_L_NONE &&
		 !f->c.refs && !f->c.st.armed_total,
		 "the failed arm changed something");
	pool_fill(&f->c, 1);
	T_ASSERT(tr_arm(&f->c, 9, 1100, 0, NULL, 0) == 1, "arm with pool");
	/* refs_max is the largest count the pool's bound (table.c) allows */
	for (i = 0; i < 200; i++) {
		u64 r = f->c.refs_max, q = TR_NR_QUEUES;

		T_ASSERT(r / 15 + 2 * min(q, r) + 1 <= f->c.blk_nr &&
			 (r + 1) / 15 + 2 * min(q, r + 1) + 1 > f->c.blk_nr,
			 "refs_max %llu for %u blocks", ULL(r), f->c.blk_nr);
		pool_fill(&f->c, f->c.refs_max + 1 + i * 37 - f->c.refs);
	}
	fx_free(f);
}

/*
 * split.c: every op lands in exactly one segment, of its own shard (or
 * TR_SEG_ALL for a valid CANCEL_ALL, alone and in place), the ops of a
 * shard keep their order, segments of a sorted phase do not straddle a
 * CANCEL_ALL, runs keep the order given, and the results go back.
 */
static void test_split(void)
{
	static struct tr_batch_buf b, sorted;
	static struct tr_split sp;
	u32 shards, round, n, i, j, k, g;

	tr_rand_seed(7);
	for (round = 0; round < 2000; round++) {
		bool in_order = round % 3 == 0;
		u8 seen[TR_BATCH_CHUNK] = { };
		struct tr_batch_buf *v;
		u32 last_all = 0;

		shards = 1 + rnd_below(round % 5 ? 7 : TIMERRING_SHARDS_MAX);
		n = 1 + rnd_below(TR_BATCH_CHUNK);
		memset(&b, 0, sizeof(b));
		for (i = 0; i < n; i++) {
			b.ops[i].id = rnd_below(1 << 14);
			b.ops[i].opcode = rnd_below(10) ? rnd_below(3) :
					  TIMERRING_OP_CANCEL_ALL;
			b.ops[i].user_data = i;
			b.out.tick[i] = 1000 + i;
			b.out.verdict[i] = rnd_below(8) ? 0 : -EINVAL;
		}
		v = tr_split(&sp, &b, &sorted, n, shards, in_order);
		T_ASSERT(v == ((shards == 1 || in_order) ? &b : &sorted),
			 "round %u", round);
		for (g = 0, k = 0; g < sp.nseg; g++) {
			const struct tr_seg *sg = &sp.seg[g];

			T_ASSERT(sg->start == k && sg->end > sg->start,
				 "round %u seg %u [%u, %u) after %u", round, g,
				 sg->start, sg->end, k);
			k = sg->end;
			for (j = sg->start; j < sg->end; j++) {
				u32 orig = v == &b ? j : sp.pos[j];

				T_ASSERT(orig < n && !seen[orig], "round %u", round);
				seen[orig] = 1;
				T_ASSERT(v->ops[j].user_data == orig &&
					 v->out.tick[j] == 1000 + orig &&
					 v->out.verdict[j] == b.out.verdict[orig],
					 "round %u op %u", round, j);
				T_ASSERT(tr_op_seg(&b, orig, shards) == sg->shard,
					 "round %u op %u in seg of %u", round,
					 orig, sg->shard);
				if (sg->shard == TR_SEG_ALL) {
					T_ASSERT(sg->end == sg->start + 1 &&
						 orig == j, "round %u", round);
					last_all = orig + 1;
				} else {
					/* a sorted op stays between CANCEL_ALLs */
					T_ASSERT(orig >= last_all, "round %u", round);
				}
				/* sorted stably: an id's ops in order */
				if (j > sg->start && v != &b)
					T_ASSERT(sp.pos[j - 1] < orig,
						 "round %u", round);
			}
			if (v == &b && g)
				T_ASSERT(sp.seg[g - 1].shard != sg->shard ||
					 sg->shard == TR_SEG_ALL,
					 "round %u: runs %u, %u of one shard",
					 round, g - 1, g);
		}
		T_ASSERT(k == n, "round %u: %u of %u ops", round, k, n);
		for (j = 0; j < n; j++)
			v->res[j] = -(s32)(v == &b ? j : sp.pos[j]) - 1;
		if (v != &b)
			tr_split_unsort(&sp, v, &b, n);
		for (i = 0; i < n; i++)
			T_ASSERT(b.res[i] == -(s32)i - 1, "round %u res %u",
				 round, i);
	}
}

/*
 * par.c: participants of a parallel batch, run step by step in a random
 * interleaving, as submit_par.c drives them (take, load, ready, pick and
 * apply over several steps, results, put). Each shard's segments apply in
 * the order of their chunks, never two at once; a barrier chunk alone and
 * between the chunks before and after it; a chunk that fails to load
 * stops every later one and none before it; a halt hands out no more;
 * every run ends, and stealing happens.
 */
enum { PS_TAKE, PS_LOAD, PS_SERVE, PS_APPLY, PS_DONE };

struct par_sim {
	u32 state;
	u32 wait;			/* steps left of a load or apply */
	struct tr_par_item it;
	bool helping;			/* took nothing more: help to the end */
};

static void test_par(void)
{
	static struct tr_batch_buf b[TR_PAR_MAX], sorted[TR_PAR_MAX];
	static struct tr_split sp[TR_PAR_MAX];
	static struct tr_par_chunk ch[TR_PAR_MAX];
	struct tr_par_chunk *slots[TR_PAR_MAX];
	static u32 applied[TIMERRING_SHARDS_MAX][TIMERRING_BATCH_MAX / 256];
	static u32 segs_done[TIMERRING_BATCH_MAX / 256];
	static u32 segs_of[TIMERRING_BATCH_MAX / 256];
	static bool barrier_of[TIMERRING_BATCH_MAX / 256];
	struct par_sim ps[TR_PAR_MAX];
	static struct tr_par p;
	u32 round, stolen_runs = 0;

	tr_rand_seed(11);
	for (round = 0; round < 3000; round++) {
		u32 shards = 2 + rnd_below(round % 4 ? 6 : 62);
		u32 np = 2 + rnd_below(TR_PAR_MAX - 1);
		u32 nops = 257 + rnd_below(40 * 256);
		u32 fail_at = rnd_below(4) ? U32_MAX : rnd_below(DIV_ROUND_UP(nops, 256));
		u32 halt_step = rnd_below(3) ? U32_MAX : rnd_below(400);
		u32 nchunks = DIV_ROUND_UP(nops, 256), i, k, step, active;
		u32 halt_next = U32_MAX, applying = 0;
		bool whole_on = false;

		memset(applied, 0, sizeof(applied));
		memset(segs_done, 0, sizeof(segs_done));
		memset(ps, 0, sizeof(ps));
		for (i = 0; i < np; i++) {
			ch[i].b = &b[i];
			ch[i].sorted = &sorted[i];
			ch[i].split = &sp[i];
			slots[i] = &ch[i];
		}
		tr_par_init(&p, shards, nops, slots, np);
		for (step = 0; step < 2000000; step++) {
			u32 me = rnd_below(np);
			struct par_sim *m = &ps[me];
			struct tr_par_chunk *c = &ch[me];

			if (step == halt_step) {
				tr_par_halt(&p);
				halt_next = p.next;
			}
			for (active = 0, i = 0; i < np; i++)
				active += ps[i].state != PS_DONE;
			if (!active)
				break;
			switch (m->state) {
			case PS_TAKE:
				if (m->helping) {
					if (!tr_par_in_flight(&p)) {
						m->state = PS_DONE;
						break;
					}
					m->state = PS_SERVE;
					break;
				}
				if (tr_par_take(&p, c) != TR_PAR_TAKEN) {
					m->helping = true;
					break;
				}
				T_ASSERT(c->idx < nchunks && c->n ==
					 min(256u, nops - c->idx * 256),
					 "round %u", round);
				m->state = PS_LOAD;
				m->wait = rnd_below(4);
				break;
			case PS_LOAD:
				if (m->wait--)
					break;
				if (c->idx == fail_at) {
					tr_par_fail(&p, c);
					m->helping = true;
					m->state = PS_TAKE;
					break;
				}
				for (i = 0; i < c->n; i++) {
					b[me].ops[i].id = rnd_below(1 << 16);
					b[me].ops[i].opcode = rnd_below(300) ?
						rnd_below(3) : TIMERRING_OP_CANCEL_ALL;
					b[me].out.verdict[i] = 0;
				}
				c->v = tr_split(c->split, c->b, c->sorted, c->n,
						shards, false);
				tr_par_ready(&p, c);
				barrier_of[c->idx] = c->state == TR_PAR_BARRIER;
				segs_of[c->idx] = c->left;
				m->state = PS_SERVE;
				break;
			case PS_SERVE: {
				struct tr_par_chunk *own = m->helping ? NULL : c;

				if (own && (tr_par_finished(own) ||
					    tr_par_dead(&p, own))) {
					if (!tr_par_dead(&p, own))
						T_ASSERT(segs_done[own->idx] ==
							 segs_of[own->idx],
							 "round %u", round);
					tr_par_put(&p, own);
					m->state = PS_TAKE;
					break;
				}
				if (!own && !tr_par_in_flight(&p)) {
					m->state = PS_DONE;
					break;
				}
				if (!tr_par_pick(&p, me % shards, own, &m->it))
					break;
				k = m->it.shard;
				if (m->it.seg == TR_PAR_WHOLE) {
					T_ASSERT(!applying && m->it.ch == c &&
						 barrier_of[c->idx],
						 "round %u", round);
					for (i = 0; i < c->idx; i++)
						T_ASSERT(segs_done[i] == segs_of[i],
							 "round %u chunk %u before barrier %u",
							 round, i, c->idx);
					whole_on = true;
				} else {
					T_ASSERT(!whole_on && !(applying & (1u << (k % 32))) ,
						 "round %u shard %u twice", round, k);
					T_ASSERT(m->it.ch->split->seg[m->it.seg].shard == k,
						 "round %u", round);
					/* a shard's segments in chunk order */
					for (i = m->it.ch->idx + 1; i < nchunks; i++)
						T_ASSERT(!applied[k][i],
							 "round %u shard %u: chunk %u after %u",
							 round, k, m->it.ch->idx, i);
					if (shards <= 32)
						applying |= 1u << k;
				}
				T_ASSERT(m->it.ch->idx < fail_at, "round %u", round);
				m->state = PS_APPLY;
				m->wait = rnd_below(5);
				break;
			}
			case PS_APPLY:
				if (m->wait--)
					break;
				if (m->it.seg == TR_PAR_WHOLE) {
					whole_on = false;
					for (k = 0; k < shards; k++)
						applied[k][m->it.ch->idx] = 1;
				} else {
					applied[m->it.shard][m->it.ch->idx] = 1;
					if (shards <= 32)
						applying &= ~(1u << m->it.shard);
				}
				segs_done[m->it.ch->idx]++;
				tr_par_applied(&p, &m->it);
				m->state = PS_SERVE;
				break;
			}
		}
		T_ASSERT(step < 2000000, "round %u: no end (%u shards, %u parts)",
			 round, shards, np);
		T_ASSERT(!tr_par_in_flight(&p), "round %u", round);
		/* chunks before the stop all applied, none after */
		for (i = 0; i < nchunks; i++) {
			bool before = i < fail_at && i < halt_next;

			if (before)
				T_ASSERT(segs_done[i] == segs_of[i] && segs_of[i],
					 "round %u chunk %u: %u of %u", round, i,
					 segs_done[i], segs_of[i]);
			else if (i > fail_at || i >= halt_next)
				T_ASSERT(!segs_done[i] || i < p.stop,
					 "round %u chunk %u applied past the stop",
					 round, i);
		}
		T_ASSERT(p.stop == min(fail_at, min(halt_next, nchunks)) ||
			 (fail_at >= p.next && halt_next == U32_MAX &&
			  p.stop == nchunks),
			 "round %u stop %u", round, p.stop);
		stolen_runs += p.stolen > 0;
	}
	T_ASSERT(stolen_runs > 100, "stealing in %u runs", stolen_runs);
}

/*
 * tier.c: each way is tried first; the break-even is fixed / (inline -
 * par) per op; none while parallel costs more per op; the other way is
 * tried every TR_TIER_EXPLORE batches; the EWMAs follow a change.
 */
static void test_tier(void)
{
	struct tr_tier t;
	u32 i, par = 0;

	tr_tier_init(&t);
	T_ASSERT(t.breakeven == TR_TIER_NEVER, "");
	T_ASSERT(tr_tier_choose(&t, 65536) == TR_TIER_INLINE, "");
	/* inline: 32 ns an op */
	tr_tier_learn(&t, TR_TIER_INLINE, 65536, 65536ULL * 32, 0);
	T_ASSERT(t.inline_ps == 32000, "%llu", ULL(t.inline_ps));
	T_ASSERT(tr_tier_choose(&t, 65536) == TR_TIER_PAR, "");
	/* parallel: 20 us fixed, then 16 ns an op */
	tr_tier_learn(&t, TR_TIER_PAR, 65536, 20000 + 65536ULL * 16, 20000);
	T_ASSERT(t.par_ps == 16000 && t.fixed_ns == 20000, "%llu %llu",
		 ULL(t.par_ps), ULL(t.fixed_ns));
	T_ASSERT(t.breakeven == 1250, "%u", t.breakeven);
	for (i = 0; i < 4 * TR_TIER_EXPLORE; i++)
		par += tr_tier_choose(&t, 1000) == TR_TIER_PAR;
	T_ASSERT(par == 4, "1000 ops: %u of %u in parallel", par,
		 4 * TR_TIER_EXPLORE);
	for (i = 0, par = 0; i < 4 * TR_TIER_EXPLORE; i++)
		par += tr_tier_choose(&t, 2000) == TR_TIER_PAR;
	T_ASSERT(par == 4 * TR_TIER_EXPLORE - 4, "2000 ops: %u", par);
	/* parallel gets slower than inline: no break-even after a while */
	for (i = 0; i < 64; i++)
		tr_tier_learn(&t, TR_TIER_PAR, 65536, 65536ULL * 40, 0);
	T_ASSERT(t.breakeven == TR_TIER_NEVER && t.par_ps > 39000,
		 "%u %llu", t.breakeven, ULL(t.par_ps));
	T_ASSERT(tr_tier_choose(&t, 65536) == TR_TIER_INLINE ||
		 t.since == 0, "");
	/* and back: inline slower still */
	for (i = 0; i < 64; i++)
		tr_tier_learn(&t, TR_TIER_INLINE, 65536, 65536ULL * 80, 0);
	T_ASSERT(t.breakeven != TR_TIER_NEVER, "%u", t.breakeven);
	/* a parallel batch's fixed cost is never more than it took */
	tr_tier_init(&t);
	tr_tier_learn(&t, TR_TIER_INLINE, 1000, 1000, 0);
	tr_tier_learn(&t, TR_TIER_PAR, 1000, 500, 900);
	T_ASSERT(t.fixed_ns == 500 && t.par_ps == 0, "%llu %llu",
		 ULL(t.fixed_ns), ULL(t.par_ps));
}

int main(void)
{
	printf("TAP version 13\n1..17\n");
	run("wheel: placement, exact expiry at every level boundary",
	    test_levels);
	run("wheel: wrap-around at the end of each level rotation", test_wrap);
	run("wheel: far list re-placement at 2^48 boundaries", test_far);
	run("wheel: slack rounding bound and cascades", test_slack);
	run("wheel: periodic F_MORE and overruns", test_periodic);
	run("wheel: same-tick order, same-slot modify", test_same_tick_fifo);
	run("wheel: stale refs bounded under churn; pool ENOMEM", test_churn);
	run("table: sparse chunks, ENOMEM, generations", test_table);
	run("cq: overflow list FIFO, cancel and modify of pending",
	    test_overflow);
	run("cq: layout and bogus consumer head", test_cq_head);
	run("sq: layout, clamped tail, wrap, ops that need no allocation",
	    test_sq);
	run("table: the pool grown a page at a time", test_pool_growth);
	run("batch: verdicts", test_verdicts);
	run("batch: ns to tick rounding", test_ticks);
	run("split: segments by shard, stable, CANCEL_ALL alone", test_split);
	run("par: shard order, barriers, stop, halt, stealing", test_par);
	run("tier: break-even, exploration, change", test_tier);
	printf("# %d passed, %d failed\n", tap_n - tap_failed, tap_failed);
	return tap_failed ? 1 : 0;
}
