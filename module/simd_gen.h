/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Random batches with their edge cases, for the SIMD equivalence tests:
 * shared by the KUnit suite (simd_kunit.c) and the userspace harness
 * (tools/harness/kernels.c), and simd.c's load-time self-test. The numbers come
 * from tr_rand.h.
 */
#ifndef _TIMERRING_SIMD_GEN_H
#define _TIMERRING_SIMD_GEN_H

#include "batch.h"
#include "tr_rand.h"

static const u64 res_vals[] = {
	1000, 1024, 1001, 4096, 65536, 999999937, 1000000, 1000000000,
	1 << 29, 12345, 333333, 536870911,
};

static u64 edge_ns(const struct tr_prep *p)
{
	u64 b;

	switch (rnd_below(12)) {
	case 0:
		return 0;
	case 1:
		return p->now_ns;
	case 2:
		return U64_MAX - rnd_below(3);
	case 3:	/* a wheel level boundary, in ticks, +-1 tick or ns */
		b = (1ULL << (rnd_below(TR_LEVELS + 1) * TR_LVL_BITS)) * p->res_ns;
		b += (rnd_below(3) - 1) * (rnd() & 1 ? p->res_ns : 1);
		return rnd() & 1 ? b : p->now_ns + b;
	case 4:
		return rnd() >> rnd_below(64);
	case 5:
		return rnd_below(4) * p->res_ns + rnd_below(3) - 1;
	case 6:
		return (u64)p->ns_off + rnd_below(5) - 2;
	case 7:
		return U64_MAX - p->now_ns + rnd_below(5) - 2;
	default:
		return rnd_below(1ULL << 40);
	}
}

static u32 edge_id(u32 max)
{
	switch (rnd_below(8)) {
	case 0:
		return 0;
	case 1:
		return max - 1;
	case 2:
		return max;
	case 3:
		return U32_MAX;
	case 4:
		return rnd();
	default:
		return rnd_below(max);
	}
}

static void gen_op(const struct tr_prep *p, struct timerring_op *op)
{
	u32 r = rnd_below(100);

	memset(op, 0, sizeof(*op));
	op->opcode = r < 40 ? 0 : r < 60 ? 1 : r < 75 ? 2 : r < 85 ? 3 :
		     (u8)rnd();
	op->id = edge_id(p->max_ids);
	switch (rnd_below(6)) {
	case 0:
		op->flags = rnd();
		break;
	case 1:
		op->flags = 0;
		break;
	default:
		op->flags = rnd_below(4);
		break;
	}
	if (!rnd_below(20))
		op->resv = 1U << rnd_below(16);
	op->expiry = rnd_below(5) ? edge_ns(p) : 0;
	op->user_data = rnd();
	switch (rnd_below(8)) {
	case 0:
		op->interval = p->res_ns - 1;
		break;
	case 1:
		op->interval = p->res_ns;
		break;
	case 2:
		op->interval = edge_ns(p);
		break;
	case 3:
		op->interval = U64_MAX;
		break;
	default:
		op->interval = 0;
		break;
	}
	/* CANCEL / CANCEL_ALL: mostly well formed */
	if (op->opcode >= 2 && op->opcode <= 3 && rnd_below(3)) {
		op->expiry = 0;
		op->interval = 0;
		op->flags = 0;
		if (op->opcode == 3 && rnd_below(2))
			op->id = 0;
	}
}

static void gen_prep(struct tr_prep *p)
{
	static const s64 offs[] = { 0, 1, -1, S64_MAX, -S64_MAX - 1,
				    1000000000, -1000000000 };

	p->res_ns = rnd_below(4) ? res_vals[rnd_below(ARRAY_SIZE(res_vals))] :
		    1000 + rnd_below(1000000000 - 999);
	switch (rnd_below(4)) {
	case 0:
		p->now_ns = rnd_below(1ULL << 50);
		break;
	case 1:
		p->now_ns = rnd();
		break;
	case 2:
		p->now_ns = U64_MAX - rnd_below(1ULL << 20);
		break;
	default:
		p->now_ns = rnd_below(4) * p->res_ns;
		break;
	}
	p->ns_off = rnd_below(2) ? offs[rnd_below(ARRAY_SIZE(offs))] :
		    (s64)(rnd() >> rnd_below(64));
	switch (rnd_below(5)) {
	case 0:
		p->max_ids = 1;
		break;
	case 1:
		p->max_ids = TIMERRING_MAX_TIMERS_MAX;
		break;
	default:
		p->max_ids = 1 + rnd_below(1U << 24);
		break;
	}
	p->resv = 0;
}

static u64 edge_tick(u64 el)
{
	u64 b = 1ULL << (rnd_below(TR_LEVELS + 1) * TR_LVL_BITS);
	unsigned int s = (rnd_below(TR_LEVELS) + 1) * TR_LVL_BITS;

	switch (rnd_below(9)) {
	case 0:
		return el;
	case 7:	/* where a level ends: tr_where_of()'s thresholds, +-1 */
		return (((el >> s) + 2 - rnd_below(2)) << s) + rnd_below(3) - 1;
	case 1:
		return el + b + rnd_below(3) - 1;
	case 2:
		return (el & ~(b - 1)) + b * rnd_below(65) + rnd_below(3) - 1;
	case 3:
		return U64_MAX - rnd_below(2);
	case 4:
		return rnd_below(2);
	case 5:
		return el - rnd_below(100);
	default:
		return el + (rnd() >> rnd_below(64));
	}
}

static u64 edge_el(void)
{
	switch (rnd_below(5)) {
	case 0:
		return 0;
	case 1:
		return (1ULL << 48) - 1 - rnd_below(2);
	case 2:	/* the last tick of a u64 ns clock at 1 us resolution */
		return (U64_MAX / 1000) - rnd_below(1ULL << 20);
	default:
		return rnd() >> (10 + rnd_below(54));
	}
}

/*
 * The i-th op of a deterministic sweep over the edge cases: every opcode
 * (and one unknown), with and without ABS, ids 0, max - 1, max and
 * U32_MAX, expiries 0, now, level boundaries (+-1) and U64_MAX, intervals
 * 0, one tick - 1, one tick and U64_MAX.
 */
static void gen_edge_op(const struct tr_prep *p, u32 i,
			struct timerring_op *op)
{
	const u64 ids[] = { 0, p->max_ids - 1, p->max_ids, U32_MAX };
	const u64 ivals[] = { 0, p->res_ns - 1, p->res_ns, U64_MAX };
	u32 k = i;
	u64 e;

	memset(op, 0, sizeof(*op));
	op->opcode = k % 5;
	k /= 5;
	op->flags = (k & 1) ? TIMERRING_OPF_ABS : 0;
	k >>= 1;
	op->id = ids[k % 4];
	k /= 4;
	op->interval = ivals[k % 4];
	k /= 4;
	switch (k % 6) {
	case 0:
		e = 0;
		break;
	case 1:
		e = p->now_ns;
		break;
	case 2:
		e = U64_MAX;
		break;
	default:
		/* tick boundary of level (i * 7) % 9, -1, 0 or +1 ns */
		e = (1ULL << ((i * 7) % (TR_LEVELS + 1) * TR_LVL_BITS)) * p->res_ns +
		    k % 6 - 4;
		break;
	}
	op->expiry = e;
	op->user_data = i;
}

#endif /* _TIMERRING_SIMD_GEN_H */
