// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suites for the timerring core: the wheel, the id table, the
 * completion ring writer and the scalar batch preparation.
 *
 * The core is pure C, so this module builds its own copy of it (without
 * tracepoints) and drives it directly, with a simulated clock: every test
 * knows exactly at which tick each timer must fire.
 */
#define TR_NO_TRACE
#include <kunit/test.h>
#include <linux/random.h>
#include <linux/slab.h>

#include "../wheel.c"
#include "../table.c"
#include "../cq.c"
#include "../sq.c"
#include "../pass.c"
#include "../batch.c"
#include "kt_pool.h"

#define KT_RES_NS	1000000ULL

struct kt {
	struct tr_core c;
	void *ring;
	u32 head;		/* consumer position */
};

/*
 * A core of @max_ids ids at tick @now_tick, ticks of @res_ns: 1 for the
 * tests that go near 2^50 ticks, whose clock in ns must not wrap.
 */
static struct kt *kt_new_res(struct kunit *test, u32 max_ids, u32 cq_entries,
			     u64 now_tick, u64 res_ns)
{
	struct kt *k = kunit_kzalloc(test, sizeof(*k), GFP_KERNEL);
	u32 nr = DIV_ROUND_UP(max_ids, TR_CHUNK_IDS);
	struct timerring_cq_offsets off;
	struct tr_entry **dir;
	struct tr_period **ival;
	size_t sz;

	KUNIT_ASSERT_NOT_NULL(test, k);
	dir = kunit_kcalloc(test, nr, sizeof(*dir), GFP_KERNEL);
	ival = kunit_kcalloc(test, nr, sizeof(*ival), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, dir);
	KUNIT_ASSERT_NOT_NULL(test, ival);
	tr_core_init(&k->c, max_ids, res_ns, now_tick, dir, ival,
		     kt_pool_dir(test, max_ids));
	kt_pool_fill(test, &k->c, 4096);
	tr_cq_layout(cq_entries, &off, &sz);
	k->ring = kunit_kzalloc(test, sz, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, k->ring);
	tr_cq_init(&k->c.cq, k->ring, cq_entries, &off);
	return k;
}

static struct kt *kt_new(struct kunit *test, u32 max_ids, u32 cq_entries,
			 u64 now_tick)
{
	return kt_new_res(test, max_ids, cq_entries, now_tick, KT_RES_NS);
}

static void kt_back(struct kunit *test, struct kt *k, u32 id, bool periodic)
{
	u32 ci = id >> TR_CHUNK_SHIFT;

	kt_pool_fill(test, &k->c, 4096);
	if (!k->c.chunk[ci]) {
		void *mem = kunit_kzalloc(test, TR_CHUNK_IDS *
					  sizeof(struct tr_entry), GFP_KERNEL);

		KUNIT_ASSERT_NOT_NULL(test, mem);
		tr_table_install(&k->c, ci, mem);
	}
	if (periodic && !k->c.ival[ci]) {
		void *mem = kunit_kzalloc(test, TR_CHUNK_IDS *
					  sizeof(struct tr_period), GFP_KERNEL);

		KUNIT_ASSERT_NOT_NULL(test, mem);
		tr_table_install_ival(&k->c, ci, mem);
	}
}

/* Arm @id at @tick; periodic every @ival ticks if @ival != 0. */
static int kt_arm(struct kunit *test, struct kt *k, u32 id, u64 tick,
		  u64 ud, u64 ival, u8 flags)
{
	struct tr_period per = {
		.ival_ns = ival * k->c.res_ns,
		.due_ns = tick * k->c.res_ns,
	};

	kt_back(test, k, id, ival);
	return tr_arm(&k->c, id, tick, ud, ival ? &per : NULL, flags);
}

/* One pass of the expiry path at tick @now; returns CQEs published. */
static u32 kt_run(struct kt *k, u64 now)
{
	u32 budget = U32_MAX;

	tr_pass_begin(&k->c, now * k->c.res_ns);
	tr_pass_expire(&k->c, &budget);
	return tr_pass_end(&k->c);
}

/* The consumer side of the ring, with the barriers userspace uses. */
static bool kt_pop(struct kt *k, struct tr_cqe *out)
{
	/* Acquire: read the CQEs only after seeing the tail covering them. */
	u32 tail = smp_load_acquire(k->c.cq.ktail);

	if (k->head == tail)
		return false;
	*out = k->c.cq.cqes[k->head & k->c.cq.mask];
	k->head++;
	/* Release: done reading the CQE before handing its slot back. */
	smp_store_release(k->c.cq.khead, k->head);
	return true;
}

/*
 * Arm one timer @d ticks ahead and jump from busy tick to busy tick: it
 * must fire exactly at its tick, after at most one cascade per level.
 */
static void kt_check_fires_at(struct kunit *test, u64 start, u64 d)
{
	struct kt *k = kt_new_res(test, 256, 64, start, 1);
	u64 want = start + d, now = start;
	struct tr_cqe cqe;
	int steps = 0;

	KUNIT_ASSERT_GE(test, kt_arm(test, k, 7, want, 0xabc, 0, 0), 0);
	while (k->c.armed) {
		u64 next = tr_next_tick(&k->c);

		KUNIT_ASSERT_NE(test, next, U64_MAX);
		KUNIT_ASSERT_GE(test, next, now);
		KUNIT_ASSERT_LE(test, next, want);
		now = next;
		kt_run(k, now);
		KUNIT_ASSERT_LE(test, ++steps, TR_LEVELS + 2);
	}
	KUNIT_EXPECT_EQ(test, now, want);
	KUNIT_ASSERT_TRUE(test, kt_pop(k, &cqe));
	KUNIT_EXPECT_EQ(test, cqe.res, 7);
	KUNIT_EXPECT_EQ(test, cqe.user_data, 0xabcULL);
	KUNIT_EXPECT_FALSE(test, kt_pop(k, &cqe));
}

static void tr_test_level_boundaries(struct kunit *test)
{
	static const u64 starts[] = { 0, 1, 63, 64, 4095, 1000003,
				      (1ULL << 48) - 1, (1ULL << 50) + 77 };
	unsigned int s, lvl;

	for (s = 0; s < ARRAY_SIZE(starts); s++) {
		for (lvl = 0; lvl <= TR_LEVELS; lvl++) {
			u64 b = 1ULL << (lvl * TR_LVL_BITS);

			kt_check_fires_at(test, starts[s], b);
			if (b > 1)
				kt_check_fires_at(test, starts[s], b - 1);
			kt_check_fires_at(test, starts[s], b + 1);
		}
	}
}

/* Placement: the level is the highest 6-bit group where E and W differ. */
static void tr_test_placement(struct kunit *test)
{
	struct kt *k = kt_new(test, 256, 64, 0);
	unsigned int lvl;

	for (lvl = 0; lvl < TR_LEVELS; lvl++) {
		u64 exp = 5ULL << (lvl * TR_LVL_BITS);
		u32 b = lvl * TR_LVL_SLOTS + 5;
		struct tr_entry *e;

		KUNIT_ASSERT_GE(test, kt_arm(test, k, lvl, exp, 0, 0, 0), 0);
		e = tr_entry(&k->c, lvl);
		KUNIT_EXPECT_EQ(test, e->where, b);
		KUNIT_EXPECT_TRUE(test, k->c.occupied[b / 64] & (1ULL << (b % 64)));
	}
	KUNIT_ASSERT_GE(test, kt_arm(test, k, 100, U64_MAX, 0, 0, 0), 0);
	KUNIT_EXPECT_EQ(test, tr_entry(&k->c, 100)->where, TR_L_FAR);
	KUNIT_ASSERT_GE(test, kt_arm(test, k, 101, 0, 0, 0, 0), 0);
	KUNIT_EXPECT_EQ(test, tr_entry(&k->c, 101)->where, TR_L_PENDING);
	KUNIT_EXPECT_EQ(test, k->c.armed, TR_LEVELS + 2);
	KUNIT_EXPECT_EQ(test, tr_next_tick(&k->c), 5ULL);
}

/* Random arms, random clock jumps: exact on every level, never early. */
static void tr_test_never_early(struct kunit *test)
{
	const u32 n = 2000;
	struct kt *k = kt_new(test, n, 4096, 12345);
	u64 *want = kunit_kcalloc(test, n, sizeof(u64), GFP_KERNEL);
	u64 now = 12345, last = now;
	u32 i, fired = 0;
	struct tr_cqe cqe;

	KUNIT_ASSERT_NOT_NULL(test, want);
	for (i = 0; i < n; i++) {
		unsigned int bits = get_random_u32_below(40) + 1;

		want[i] = now + 1 + (get_random_u64() & ((1ULL << bits) - 1));
		KUNIT_ASSERT_GE(test, kt_arm(test, k, i, want[i], i, 0, 0), 0);
	}
	while (fired < n) {
		u64 next = tr_next_tick(&k->c);
		u64 jump = get_random_u32_below(3) ? next :
			   next + get_random_u32_below(1000);

		KUNIT_ASSERT_NE(test, next, U64_MAX);
		now = max(now, jump);
		kt_run(k, now);
		while (kt_pop(k, &cqe)) {
			KUNIT_ASSERT_LT(test, (u32)cqe.res, n);
			/* never early, and due after the previous pass */
			KUNIT_EXPECT_LE(test, want[cqe.res], now);
			KUNIT_EXPECT_GT(test, want[cqe.res], last);
			want[cqe.res] = U64_MAX;
			fired++;
		}
		last = now;
	}
	KUNIT_EXPECT_EQ(test, k->c.armed, 0U);
	KUNIT_EXPECT_EQ(test, tr_next_tick(&k->c), U64_MAX);
}

/* Far timers are re-placed when the wheel crosses a 2^48-tick boundary. */
static void tr_test_far_wrap(struct kunit *test)
{
	u64 start = (1ULL << 48) - 10;
	struct kt *k = kt_new_res(test, 256, 64, start, 1);
	u64 far = (3ULL << 48) - 5;	/* 2 level-5 rotations ahead */
	struct tr_cqe cqe;
	u64 now;

	KUNIT_ASSERT_GE(test, kt_arm(test, k, 1, far, 1, 0, 0), 0);
	KUNIT_ASSERT_GE(test, kt_arm(test, k, 2, U64_MAX, 2, 0, 0), 0);
	KUNIT_ASSERT_GE(test, kt_arm(test, k, 3, start + 20, 3, 0, 0), 0);
	KUNIT_EXPECT_EQ(test, tr_entry(&k->c, 1)->where, TR_L_FAR);
	KUNIT_EXPECT_EQ(test, tr_entry(&k->c, 2)->where, TR_L_FAR);

	now = tr_next_tick(&k->c);
	KUNIT_EXPECT_EQ(test, now, 1ULL << 48);
	kt_run(k, now);
	KUNIT_EXPECT_FALSE(test, kt_pop(k, &cqe));
	/* id 1 is now within 2^48 ticks and moved into the wheel */
	KUNIT_EXPECT_LT(test, tr_entry(&k->c, 1)->where, TR_NR_BUCKETS);
	KUNIT_EXPECT_EQ(test, tr_entry(&k->c, 2)->where, TR_L_FAR);

	while ((now = tr_next_tick(&k->c)) <= far)
		kt_run(k, now);
	KUNIT_ASSERT_TRUE(test, kt_pop(k, &cqe));
	KUNIT_EXPECT_EQ(test, cqe.res, 3);
	KUNIT_ASSERT_TRUE(test, kt_pop(k, &cqe));
	KUNIT_EXPECT_EQ(test, cqe.res, 1);
	KUNIT_EXPECT_FALSE(test, kt_pop(k, &cqe));
	KUNIT_EXPECT_EQ(test, tr_cancel(&k->c, 2), 0);
	KUNIT_EXPECT_EQ(test, k->c.armed, 0U);
}

/* Sparse ids need only their own chunk; absent chunks cannot be armed. */
static void tr_test_table_chunks(struct kunit *test)
{
	struct kt *k = kt_new(test, 1U << 20, 64, 0);

	KUNIT_EXPECT_EQ(test, k->c.nr_chunks, (1U << 20) / TR_CHUNK_IDS);
	KUNIT_EXPECT_EQ(test, tr_arm(&k->c, 5000, 10, 0, NULL, 0), -ENOMEM);
	KUNIT_EXPECT_EQ(test, k->c.armed, 0U);
	KUNIT_EXPECT_GE(test, kt_arm(test, k, 0, 10, 0, 0, 0), 0);
	KUNIT_EXPECT_GE(test, kt_arm(test, k, 127, 10, 0, 0, 0), 0);
	KUNIT_EXPECT_EQ(test, k->c.chunks_present, 1U);
	KUNIT_EXPECT_GE(test, kt_arm(test, k, 128, 10, 0, 0, 0), 0);
	KUNIT_EXPECT_GE(test, kt_arm(test, k, (1U << 20) - 1, 10, 0, 0, 0), 0);
	KUNIT_EXPECT_EQ(test, k->c.chunks_present, 3U);
	KUNIT_EXPECT_NULL(test, tr_entry_get(&k->c, 129 + TR_CHUNK_IDS));
	KUNIT_EXPECT_EQ(test, sizeof(struct tr_entry), 24UL);
	KUNIT_EXPECT_EQ(test, tr_table_bytes(&k->c),
			(size_t)k->c.nr_chunks * 16 + 3 * 3072 +
			(size_t)tr_pool_pages_max(1U << 20) * 8 +
			(size_t)k->c.blk_nr / TR_BLK_PAGE_BLOCKS * 4096);
}

/*
 * The pool grows from the spare pages only for ops that add a ref: an ARM
 * without its chunk or interval array, or of an armed id, installs none
 * (also where the pool is full), an ARM of an idle id or a MODIFY one
 * when the pool is short, and the spares no op took are taken back.
 */
static void tr_test_pool_spares(struct kunit *test)
{
	struct kt *k = kunit_kzalloc(test, sizeof(*k), GFP_KERNEL);
	struct tr_period per = { .ival_ns = KT_RES_NS, .due_ns = KT_RES_NS };
	struct tr_entry **dir;
	struct tr_period **ival;
	void *chunk, *pg[3];
	u32 i, id = 3;

	KUNIT_ASSERT_NOT_NULL(test, k);
	dir = kunit_kcalloc(test, 8, sizeof(*dir), GFP_KERNEL);
	ival = kunit_kcalloc(test, 8, sizeof(*ival), GFP_KERNEL);
	chunk = kunit_kzalloc(test, TR_CHUNK_IDS * sizeof(struct tr_entry),
			      GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, dir);
	KUNIT_ASSERT_NOT_NULL(test, ival);
	KUNIT_ASSERT_NOT_NULL(test, chunk);
	tr_core_init(&k->c, 1024, KT_RES_NS, 0, dir, ival,
		     kt_pool_dir(test, 1024));
	tr_table_install(&k->c, 0, chunk);

	KUNIT_EXPECT_EQ(test, tr_arm(&k->c, id, 10, 0, NULL, 0), -ENOMEM);
	for (i = 0; i < ARRAY_SIZE(pg); i++) {
		pg[i] = kunit_kmalloc(test, PAGE_SIZE, GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, pg[i]);
		memset(pg[i], 0x5a, PAGE_SIZE);
		tr_pool_spare_add(&k->c, pg[i]);
	}
	KUNIT_EXPECT_EQ(test, tr_arm(&k->c, 300, 10, 0, NULL, 0), -ENOMEM);
	KUNIT_EXPECT_EQ(test, tr_arm(&k->c, id, 1, 0, &per, 0), -ENOMEM);
	KUNIT_EXPECT_EQ(test, k->c.blk_nr, 0U);
	KUNIT_EXPECT_EQ(test, k->c.blk_spare_nr, 3U);

	/* the first ARM installs a page, and fills it up to its room */
	KUNIT_EXPECT_EQ(test, tr_arm(&k->c, id, 10, 0, NULL, 0), 1);
	KUNIT_EXPECT_EQ(test, k->c.blk_nr, TR_BLK_PAGE_BLOCKS);
	KUNIT_EXPECT_EQ(test, k->c.blk_spare_nr, 2U);
	while (k->c.refs < k->c.refs_max) {
		id++;
		KUNIT_ASSERT_EQ(test, tr_arm(&k->c, id, 10 + id, 0, NULL, 0),
				1);
	}
	KUNIT_EXPECT_EQ(test, k->c.blk_nr, TR_BLK_PAGE_BLOCKS);
	KUNIT_EXPECT_EQ(test, tr_arm(&k->c, 3, 10, 0, NULL, 0), -EEXIST);
	KUNIT_EXPECT_EQ(test, k->c.blk_spare_nr, 2U);

	/* a MODIFY to another slot adds a ref: it takes the next page */
	KUNIT_EXPECT_EQ(test, tr_modify(&k->c, 3, 500, 0, NULL, 0),
			2 | TIMERRING_RES_REARMED);
	KUNIT_EXPECT_EQ(test, k->c.blk_nr, 2 * TR_BLK_PAGE_BLOCKS);
	KUNIT_EXPECT_PTR_EQ(test, tr_pool_spare_take(&k->c), pg[0]);
	KUNIT_EXPECT_PTR_EQ(test, tr_pool_spare_take(&k->c), NULL);

	/* with no spare left, the op that finds the pool full fails */
	while (k->c.refs < k->c.refs_max) {
		id++;
		KUNIT_ASSERT_EQ(test, tr_arm(&k->c, id, 10 + id, 0, NULL, 0),
				1);
	}
	KUNIT_ASSERT_LT(test, id, 120U);
	KUNIT_EXPECT_EQ(test, tr_arm(&k->c, 120, 10, 0, NULL, 0), -ENOMEM);
	KUNIT_EXPECT_EQ(test, k->c.blk_nr, 2 * TR_BLK_PAGE_BLOCKS);
	KUNIT_EXPECT_EQ(test, k->c.armed, id - 2);
}

/*
 * A 64-entry ring, 640 timers due at increasing ticks, all fired in one
 * pass: 64 go to the ring, 576 wait in order on the overflow list and come
 * out in order as the consumer frees space; each exactly once.
 */
static void tr_test_overflow_order(struct kunit *test)
{
	const u32 n = 640;
	struct kt *k = kt_new(test, n, 64, 100);
	u32 i, expect = 0, rounds = 0;
	struct tr_cqe cqe;

	for (i = 0; i < n; i++)
		KUNIT_ASSERT_GE(test, kt_arm(test, k, i, 101 + i, i * 3, 0, 0),
				0);
	kt_run(k, 101 + n);
	KUNIT_EXPECT_EQ(test, tr_pending_nr(&k->c), n - 64);
	KUNIT_EXPECT_EQ(test, *k->c.cq.kflags, TIMERRING_KFLAG_CQ_OVERFLOW);
	KUNIT_EXPECT_EQ(test, *k->c.cq.koverflow_pending, n - 64);
	KUNIT_EXPECT_EQ(test, k->c.st.overflowed_total, (u64)(n - 64));

	/* a pending expiration can still be cancelled: id 600 never shows */
	KUNIT_EXPECT_EQ(test, tr_cancel(&k->c, 600), 0);
	while (expect < n) {
		u32 got = 0;

		while (kt_pop(k, &cqe)) {
			if (expect == 600)
				expect++;
			KUNIT_ASSERT_EQ(test, cqe.res, (s32)expect);
			KUNIT_EXPECT_EQ(test, cqe.user_data, (u64)expect * 3);
			expect++;
			got++;
		}
		KUNIT_ASSERT_LE(test, ++rounds, 20U);
		kt_run(k, 101 + n);
		if (expect == 600)
			expect++;
	}
	KUNIT_EXPECT_EQ(test, tr_pending_nr(&k->c), 0U);
	KUNIT_EXPECT_EQ(test, *k->c.cq.kflags, 0U);
	KUNIT_EXPECT_EQ(test, k->c.armed, 0U);
	KUNIT_EXPECT_FALSE(test, kt_pop(k, &cqe));
}

/* A garbage head makes the ring look full; nothing is written past it. */
static void tr_test_garbage_head(struct kunit *test)
{
	struct kt *k = kt_new(test, 64, 64, 0);
	struct tr_cqe cqe;

	KUNIT_ASSERT_GE(test, kt_arm(test, k, 1, 1, 0, 0, 0), 0);
	WRITE_ONCE(*k->c.cq.khead, 0x80000000U);
	kt_run(k, 5);
	KUNIT_EXPECT_EQ(test, tr_pending_nr(&k->c), 1U);
	KUNIT_EXPECT_EQ(test, k->c.cq.tail, 0U);
	WRITE_ONCE(*k->c.cq.khead, 0);
	kt_run(k, 5);
	KUNIT_EXPECT_TRUE(test, kt_pop(k, &cqe));
	KUNIT_EXPECT_EQ(test, cqe.res, 1);
}

/*
 * The SQ ring reader: a scribbled tail counts as at most a ring; head,
 * mask and size are the kernel's own; fetch wraps; ops that need a chunk,
 * pool room (after the room held for another path) or process context
 * stop a consumer that cannot allocate.
 */
static void tr_test_sq_reader(struct kunit *test)
{
	struct kt *k = kt_new(test, 1024, 64, 0);
	struct tr_prep_out *out = kunit_kzalloc(test, sizeof(*out), GFP_KERNEL);
	struct timerring_sq_offsets off;
	struct timerring_op ops[4], got[4];
	struct tr_sq sq;
	size_t end;
	u8 *map;
	u32 i;

	KUNIT_ASSERT_NOT_NULL(test, out);
	tr_sq_layout(4, 64, &off, &end);
	map = kunit_kzalloc(test, end, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, map);
	tr_sq_init(&sq, map, 4, &off);
	WRITE_ONCE(*sq.ktail, 0x80000000U);
	KUNIT_EXPECT_EQ(test, tr_sq_avail(&sq), 4U);
	for (i = 0; i < 4; i++)
		sq.ops[i].id = i;
	WRITE_ONCE(*(u32 *)(map + off.ring_mask), 0);
	WRITE_ONCE(*sq.khead, 77);
	tr_sq_commit(&sq, 3, 1);
	KUNIT_EXPECT_EQ(test, READ_ONCE(*sq.khead), 77U);
	tr_sq_publish(&sq);
	KUNIT_EXPECT_EQ(test, READ_ONCE(*sq.khead), 3U);
	KUNIT_EXPECT_EQ(test, READ_ONCE(*sq.kdropped), 1U);
	WRITE_ONCE(*sq.ktail, 5);
	KUNIT_EXPECT_EQ(test, tr_sq_avail(&sq), 2U);
	tr_sq_fetch(&sq, got, 2);
	KUNIT_EXPECT_EQ(test, got[0].id, 3U);
	KUNIT_EXPECT_EQ(test, got[1].id, 0U);

	memset(ops, 0, sizeof(ops));
	ops[1].id = 500;
	ops[3].opcode = TIMERRING_OP_CANCEL_ALL;
	kt_back(test, k, 0, false);
	KUNIT_EXPECT_EQ(test, tr_sq_applicable(&k->c, ops, out, 4), 1U);
	kt_back(test, k, 500, false);
	KUNIT_EXPECT_EQ(test, tr_sq_applicable(&k->c, ops, out, 4), 3U);
	k->c.refs_held = k->c.refs_max - k->c.refs;
	KUNIT_EXPECT_EQ(test, tr_sq_applicable(&k->c, ops, out, 4), 0U);
	k->c.refs_held = 0;
}

/* ARM/MODIFY/CANCEL results, generations and the stale-CQE rule. */
static void tr_test_op_semantics(struct kunit *test)
{
	struct kt *k = kt_new(test, 64, 64, 0);
	struct tr_cqe cqe;

	KUNIT_EXPECT_EQ(test, kt_arm(test, k, 3, 10, 1, 0, 0), 1);
	KUNIT_EXPECT_EQ(test, kt_arm(test, k, 3, 10, 1, 0, 0), -EEXIST);
	KUNIT_EXPECT_EQ(test, tr_modify(&k->c, 3, 20, 2, NULL, 0),
			2 | TIMERRING_RES_REARMED);
	KUNIT_EXPECT_EQ(test, tr_cancel(&k->c, 3), 0);
	KUNIT_EXPECT_EQ(test, tr_cancel(&k->c, 3), -ENOENT);
	KUNIT_EXPECT_EQ(test, tr_modify(&k->c, 3, 30, 3, NULL, 0), 3);
	kt_run(k, 30);
	KUNIT_ASSERT_TRUE(test, kt_pop(k, &cqe));
	KUNIT_EXPECT_EQ(test, cqe.user_data, 3ULL);
	KUNIT_EXPECT_EQ(test, cqe.flags >> TIMERRING_CQE_GEN_SHIFT, 3U);
	KUNIT_EXPECT_EQ(test, tr_cancel(&k->c, 3), -ENOENT);
	KUNIT_EXPECT_EQ(test, k->c.st.armed_total, 1ULL);
	KUNIT_EXPECT_EQ(test, k->c.st.modified_total, 2ULL);
	KUNIT_EXPECT_EQ(test, k->c.st.cancelled_total, 1ULL);
	KUNIT_EXPECT_EQ(test, k->c.st.expired_total, 1ULL);
}

/* Periodic: F_MORE on every CQE, overruns counted when a pass is late. */
static void tr_test_periodic(struct kunit *test)
{
	struct kt *k = kt_new(test, 64, 64, 0);
	struct tr_cqe cqe;

	KUNIT_ASSERT_GE(test, kt_arm(test, k, 9, 10, 9, 5, 0), 0);
	kt_run(k, 10);
	KUNIT_ASSERT_TRUE(test, kt_pop(k, &cqe));
	KUNIT_EXPECT_TRUE(test, cqe.flags & TIMERRING_CQE_F_MORE);
	KUNIT_EXPECT_EQ(test, (cqe.flags >> TIMERRING_CQE_OVERRUN_SHIFT) &
			TIMERRING_CQE_OVERRUN_MASK, 0U);
	KUNIT_EXPECT_EQ(test, tr_next_tick(&k->c), 15ULL);
	kt_run(k, 31);		/* due at 15; 20, 25 and 30 missed */
	KUNIT_ASSERT_TRUE(test, kt_pop(k, &cqe));
	KUNIT_EXPECT_EQ(test, (cqe.flags >> TIMERRING_CQE_OVERRUN_SHIFT) &
			TIMERRING_CQE_OVERRUN_MASK, 3U);
	KUNIT_EXPECT_FALSE(test, kt_pop(k, &cqe));
	KUNIT_EXPECT_EQ(test, tr_next_tick(&k->c), 35ULL);
	KUNIT_EXPECT_EQ(test, tr_cancel(&k->c, 9), 0);
	KUNIT_EXPECT_EQ(test, tr_next_tick(&k->c), U64_MAX);
}

/*
 * A period that is not a whole number of ticks stays on its nanosecond
 * grid: 1.5 ms on a 1 ms tick is due at 11.5, 13, 14.5, ... ms and fires at
 * ticks 12, 13, 15, 16, ...: 200 periods in 300 ticks, never early and
 * less than one tick late, where a period rounded up to 2 ticks gave 150.
 */
static void tr_test_periodic_grid(struct kunit *test)
{
	struct kt *k = kt_new(test, 64, 64, 0);
	struct tr_period per = {
		.ival_ns = 3 * KT_RES_NS / 2,
		.due_ns = 10 * KT_RES_NS,
	};
	u64 now, periods = 0, due = per.due_ns;
	struct tr_cqe cqe;

	kt_back(test, k, 4, true);
	KUNIT_ASSERT_GE(test, tr_arm(&k->c, 4, 10, 4, &per, 0), 0);
	for (now = 10; now < 310; now = tr_next_tick(&k->c)) {
		kt_run(k, now);
		while (kt_pop(k, &cqe)) {
			u32 over = (cqe.flags >> TIMERRING_CQE_OVERRUN_SHIFT) &
				   TIMERRING_CQE_OVERRUN_MASK;

			KUNIT_EXPECT_EQ(test, over, 0U);
			KUNIT_EXPECT_GE(test, now * KT_RES_NS, due);
			KUNIT_EXPECT_LT(test, now * KT_RES_NS, due + KT_RES_NS);
			due += per.ival_ns;
			periods++;
		}
	}
	KUNIT_EXPECT_EQ(test, periods, 200ULL);

	/* missed periods of the grid are overruns: 310 ms -> 400 ms */
	kt_run(k, 400);
	KUNIT_ASSERT_TRUE(test, kt_pop(k, &cqe));
	KUNIT_EXPECT_EQ(test, (cqe.flags >> TIMERRING_CQE_OVERRUN_SHIFT) &
			TIMERRING_CQE_OVERRUN_MASK, (u32)((400 * KT_RES_NS - due) /
							  per.ival_ns));
}

/*
 * CANCEL_ALL cancels whatever list an entry is on (wheel slots of every
 * level, a slot being drained, the far list, the overflow list), in
 * pieces of any budget, and touches only armed entries.
 */
static void tr_test_cancel_all(struct kunit *test)
{
	struct kt *k = kt_new(test, 1U << 20, 64, 0);
	u32 n = 0, budget, calls = 0, i;
	struct tr_cqe cqe;

	for (i = 0; i < 100; i++)	/* 100 due at 5: 64 posted, 36 pend */
		KUNIT_ASSERT_GE(test, kt_arm(test, k, i, 5, 0, 0, 0), 0);
	for (i = 0; i < 50; i++)	/* over several levels */
		KUNIT_ASSERT_GE(test, kt_arm(test, k, 1000 + i * 977,
					     10 + (1ULL << (i % 40)), 0, 0, 0),
				0);
	KUNIT_ASSERT_GE(test, kt_arm(test, k, (1U << 20) - 1, U64_MAX, 0, 0,
				     0), 0);
	/* a pass that stops half way through the slot of tick 5 */
	budget = 70;
	tr_set_now(&k->c, 5 * KT_RES_NS);
	tr_cq_begin(&k->c.cq);
	tr_advance(&k->c, 5, &budget);
	tr_cq_end(&k->c.cq, tr_pending_nr(&k->c));
	KUNIT_EXPECT_EQ(test, k->c.draining, 5);
	KUNIT_EXPECT_EQ(test, tr_pending_nr(&k->c), 6U);
	KUNIT_EXPECT_EQ(test, k->c.armed, 36U + 51U);

	do {
		budget = 7;
		calls++;
	} while (!tr_cancel_all(&k->c, &budget, &n));
	KUNIT_EXPECT_EQ(test, n, 87U);
	KUNIT_EXPECT_EQ(test, calls, 87U / 7 + 1);
	KUNIT_EXPECT_EQ(test, k->c.armed, 0U);
	KUNIT_EXPECT_EQ(test, tr_pending_nr(&k->c), 0U);
	KUNIT_EXPECT_EQ(test, tr_next_tick(&k->c), U64_MAX);
	KUNIT_EXPECT_EQ(test, tr_cancel(&k->c, 1000), -ENOENT);
	/* nothing cancelled fires, and the ids can be armed again */
	kt_run(k, 1ULL << 42);
	for (i = 0; i < 64; i++)
		KUNIT_ASSERT_TRUE(test, kt_pop(k, &cqe));
	KUNIT_EXPECT_FALSE(test, kt_pop(k, &cqe));
	KUNIT_EXPECT_GE(test, kt_arm(test, k, 99, (1ULL << 42) + 1, 0, 0, 0),
			0);
	n = 0;
	budget = U32_MAX;
	KUNIT_EXPECT_TRUE(test, tr_cancel_all(&k->c, &budget, &n));
	KUNIT_EXPECT_EQ(test, n, 1U);
}

/* Slack timers: never early, late by at most 1/8 of their timeout. */
static void tr_test_slack(struct kunit *test)
{
	static const u64 d[] = { 1, 100, 1000, 10000, 123457, 10000000 };
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(d); i++) {
		struct kt *k = kt_new(test, 64, 64, 777);
		u64 now = 777, want = 777 + d[i];

		KUNIT_ASSERT_GE(test, kt_arm(test, k, 1, want, 0, 0,
					     TR_EF_SLACK), 0);
		while (k->c.armed) {
			now = tr_next_tick(&k->c);
			kt_run(k, now);
		}
		KUNIT_EXPECT_GE(test, now, want);
		KUNIT_EXPECT_LE(test, now, want + max_t(u64, 1, d[i] / 8));
	}
}

/* Randomised op sequences against a trivially correct model. */
struct kt_model {
	bool armed;
	u64 tick;
	u64 ud;
	u32 gen;
};

/*
 * Check the CQEs posted since *seen against the model: each ends an armed
 * timer, due by now, with its user_data and generation.
 */
static void kt_model_check_posted(struct kunit *test, struct kt *k,
				  struct kt_model *m, u32 *seen, u64 now)
{
	/* Acquire: pairs with the store-release of the tail. */
	u32 tail = smp_load_acquire(k->c.cq.ktail);

	for (; *seen != tail; (*seen)++) {
		struct tr_cqe *cqe = &k->c.cq.cqes[*seen & k->c.cq.mask];
		struct kt_model *t;

		KUNIT_ASSERT_LT(test, (u32)cqe->res, k->c.max_ids);
		t = &m[cqe->res];
		KUNIT_ASSERT_TRUE(test, t->armed);
		KUNIT_ASSERT_LE(test, t->tick, now);
		KUNIT_ASSERT_EQ(test, cqe->user_data, t->ud);
		KUNIT_ASSERT_EQ(test, cqe->flags >> TIMERRING_CQE_GEN_SHIFT,
				t->gen & 0xffff);
		t->armed = false;
	}
}

static u32 kt_model_armed(const struct kt_model *m, u32 n)
{
	u32 a = 0, j;

	for (j = 0; j < n; j++)
		a += m[j].armed;
	return a;
}

static void tr_test_model(struct kunit *test)
{
	const u32 n = 300;
	struct kt *k = kt_new(test, n, 64, 50);
	struct kt_model *m = kunit_kcalloc(test, n, sizeof(*m), GFP_KERNEL);
	u64 now = 50;
	u32 step, i, seen = 0;
	struct tr_cqe cqe;

	KUNIT_ASSERT_NOT_NULL(test, m);
	for (i = 0; i < n; i++)
		kt_back(test, k, i, false);
	for (step = 0; step < 20000; step++) {
		u32 id = get_random_u32_below(n);
		u32 r = get_random_u32_below(100);
		u64 tick = now + get_random_u32_below(5000);
		int ret;

		if (r < 30) {
			ret = tr_arm(&k->c, id, tick, step, NULL, 0);
			if (m[id].armed) {
				KUNIT_ASSERT_EQ(test, ret, -EEXIST);
			} else {
				m[id] = (struct kt_model){ true, tick, step,
							   m[id].gen + 1 };
				KUNIT_ASSERT_EQ(test, ret,
						(int)(m[id].gen & 0xffff));
			}
		} else if (r < 50) {
			ret = tr_modify(&k->c, id, tick, step, NULL, 0);
			KUNIT_ASSERT_EQ(test, ret & TIMERRING_RES_REARMED,
					m[id].armed ? TIMERRING_RES_REARMED :
						      0);
			m[id] = (struct kt_model){ true, tick, step,
						   m[id].gen + 1 };
			KUNIT_ASSERT_EQ(test, ret & 0xffff,
					(int)(m[id].gen & 0xffff));
		} else if (r < 70) {
			ret = tr_cancel(&k->c, id);
			KUNIT_ASSERT_EQ(test, ret, m[id].armed ? 0 : -ENOENT);
			m[id].armed = false;
		} else {
			now += get_random_u32_below(r < 95 ? 50 : 3000);
			kt_run(k, now);
			kt_model_check_posted(test, k, m, &seen, now);
			/* consume only some, so the ring overflows */
			while (get_random_u32_below(8) && kt_pop(k, &cqe))
				;
		}
		KUNIT_ASSERT_EQ(test, k->c.armed, kt_model_armed(m, n));
	}
	/* drain: everything still armed fires exactly once */
	for (i = 0; i < 1000 && k->c.armed; i++) {
		now += 1000;
		kt_run(k, now);
		kt_model_check_posted(test, k, m, &seen, now);
		while (kt_pop(k, &cqe))
			;
	}
	for (i = 0; i < n; i++)
		KUNIT_EXPECT_FALSE(test, m[i].armed);
	KUNIT_EXPECT_EQ(test, k->c.armed, 0U);
}

static void tr_test_prep_verdicts(struct kunit *test)
{
	struct tr_prep p = { .now_ns = 5000000, .ns_off = 0,
			     .res_ns = KT_RES_NS, .max_ids = 100 };
	struct timerring_op ops[] = {
		{ .opcode = TIMERRING_OP_ARM, .id = 99, .expiry = 1 },
		{ .opcode = TIMERRING_OP_ARM, .id = 100 },
		{ .opcode = TIMERRING_OP_ARM, .id = U32_MAX },
		{ .opcode = TIMERRING_OP_LAST, .id = 1 },
		{ .opcode = TIMERRING_OP_ARM, .flags = 0x80 },
		{ .opcode = TIMERRING_OP_ARM, .resv = 1 },
		{ .opcode = TIMERRING_OP_ARM, .interval = KT_RES_NS - 1 },
		{ .opcode = TIMERRING_OP_CANCEL, .id = 1, .expiry = 1 },
		{ .opcode = TIMERRING_OP_CANCEL_ALL, .id = 1 },
		{ .opcode = TIMERRING_OP_CANCEL_ALL },
		{ .opcode = TIMERRING_OP_ARM, .flags = TIMERRING_OPF_ABS,
		  .expiry = U64_MAX },
		{ .opcode = TIMERRING_OP_ARM, .expiry = U64_MAX },
		{ .opcode = TIMERRING_OP_MODIFY, .flags = TIMERRING_OPF_ABS,
		  .expiry = 3000001, .interval = KT_RES_NS },
	};
	static const s32 want[] = { 0, -ERANGE, -ERANGE, -EINVAL, -EINVAL,
				    -EINVAL, -EINVAL, -EINVAL, -EINVAL, 0, 0,
				    0, 0 };
	struct tr_prep_out *out = kunit_kzalloc(test, sizeof(*out),
						GFP_KERNEL);
	unsigned int i;

	KUNIT_ASSERT_NOT_NULL(test, out);
	tr_prep_scalar(&p, ops, ARRAY_SIZE(ops), out);
	for (i = 0; i < ARRAY_SIZE(ops); i++)
		KUNIT_EXPECT_EQ_MSG(test, out->verdict[i], want[i], "op %u", i);
	/* relative 1 ns after 5 ms rounds up to tick 6: never early */
	KUNIT_EXPECT_EQ(test, out->tick[0], 6ULL);
	KUNIT_EXPECT_EQ(test, out->tick[10], div64_u64(U64_MAX, KT_RES_NS) + 1);
	KUNIT_EXPECT_EQ(test, out->tick[11], out->tick[10]);
	KUNIT_EXPECT_EQ(test, out->tick[12], 4ULL);
	KUNIT_EXPECT_EQ(test, out->ival[12], 1ULL);

	/* a time namespace offset moves absolute expiries, clamped at 0 */
	p.ns_off = 2000000;
	tr_prep_scalar(&p, &ops[12], 1, out);
	KUNIT_EXPECT_EQ(test, out->tick[0], 2ULL);
	p.ns_off = 4000000;
	tr_prep_scalar(&p, &ops[12], 1, out);
	KUNIT_EXPECT_EQ(test, out->tick[0], 0ULL);
}

static struct kunit_case tr_core_cases[] = {
	KUNIT_CASE(tr_test_placement),
	KUNIT_CASE(tr_test_level_boundaries),
	KUNIT_CASE(tr_test_never_early),
	KUNIT_CASE(tr_test_far_wrap),
	KUNIT_CASE(tr_test_table_chunks),
	KUNIT_CASE(tr_test_pool_spares),
	KUNIT_CASE(tr_test_overflow_order),
	KUNIT_CASE(tr_test_garbage_head),
	KUNIT_CASE(tr_test_sq_reader),
	KUNIT_CASE(tr_test_op_semantics),
	KUNIT_CASE(tr_test_periodic),
	KUNIT_CASE(tr_test_periodic_grid),
	KUNIT_CASE(tr_test_cancel_all),
	KUNIT_CASE(tr_test_slack),
	KUNIT_CASE(tr_test_model),
	KUNIT_CASE(tr_test_prep_verdicts),
	{}
};

static struct kunit_suite tr_core_suite = {
	.name = "timerring_core",
	.test_cases = tr_core_cases,
};

kunit_test_suite(tr_core_suite);

MODULE_DESCRIPTION("KUnit tests for the timerring core");
MODULE_LICENSE("GPL");
