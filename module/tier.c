// SPDX-License-Identifier: GPL-2.0
/*
 * timerring core: the cost model that chooses, per batch, between the
 * inline path (the submitter applies every chunk) and a parallel batch
 * (par.c), for the batches that could go either way (submit_par.c says
 * which: more than one chunk, more than one shard).
 *
 * A batch of n ops costs n * inline_ps inline, and fixed_ns + n * par_ps
 * in parallel: fixed_ns is what starting and ending its workers took (the
 * time until a worker began, and the wait for the last one to end), par_ps
 * the rest per op. Natively inline_ps is ~32000 (32 ns an op), a worker
 * starts in ~5-20 us; with par_ps about half of inline_ps, parallel wins
 * above ~1000 ops. Under TCG every figure is 30-100x larger. So the
 * break-even, fixed_ns / (inline_ps - par_ps) ops, is learned, not set:
 * each batch that could go either way updates the EWMAs (weight 1/8) of
 * the way it went, and the break-even is recomputed. None exists while
 * par_ps >= inline_ps.
 *
 * Each way is tried at first until it has a sample, and afterwards once
 * every TR_TIER_EXPLORE batches the other way than the model says, so
 * that a model which has come to favour one way sees the other's costs
 * change (another load on the CPUs, a cooler cache).
 *
 * Pure: the caller serializes the calls on one model.
 */
#include "par.h"

#define TR_TIER_SHIFT	3		/* EWMA weight 1/8 */

void tr_tier_init(struct tr_tier *t)
{
	memset(t, 0, sizeof(*t));
	t->breakeven = TR_TIER_NEVER;
}

static u64 tr_ewma(u64 avg, u64 v, u32 n)
{
	if (!n)
		return v;
	return avg - (avg >> TR_TIER_SHIFT) + (v >> TR_TIER_SHIFT);
}

static void tr_tier_update(struct tr_tier *t)
{
	u64 gain;

	if (!t->inline_n || !t->par_n || t->par_ps >= t->inline_ps) {
		t->breakeven = TR_TIER_NEVER;
		return;
	}
	gain = t->inline_ps - t->par_ps;
	t->breakeven = min_t(u64, DIV_ROUND_UP_ULL(t->fixed_ns * 1000, gain),
			     TR_TIER_NEVER - 1);
}

/* The way a batch of @nops ops should go: TR_TIER_INLINE or TR_TIER_PAR. */
u32 tr_tier_choose(struct tr_tier *t, u32 nops)
{
	u32 way;

	if (!t->inline_n)
		return TR_TIER_INLINE;
	if (!t->par_n)
		return TR_TIER_PAR;
	way = nops >= t->breakeven ? TR_TIER_PAR : TR_TIER_INLINE;
	if (++t->since >= TR_TIER_EXPLORE) {
		t->since = 0;
		way = way == TR_TIER_PAR ? TR_TIER_INLINE : TR_TIER_PAR;
	}
	return way;
}

/*
 * A batch of @nops ops went @tier and took @ns in all, @fixed_ns of them
 * starting and ending workers (parallel only).
 */
void tr_tier_learn(struct tr_tier *t, u32 tier, u32 nops, u64 ns,
		   u64 fixed_ns)
{
	u64 ps;

	if (!nops)
		return;
	if (tier == TR_TIER_PAR) {
		fixed_ns = min(fixed_ns, ns);
		ps = div_u64((ns - fixed_ns) * 1000, nops);
		t->par_ps = tr_ewma(t->par_ps, ps, t->par_n);
		t->fixed_ns = tr_ewma(t->fixed_ns, fixed_ns, t->par_n);
		t->par_n += t->par_n < U32_MAX;
	} else {
		ps = div_u64(ns * 1000, nops);
		t->inline_ps = tr_ewma(t->inline_ps, ps, t->inline_n);
		t->inline_n += t->inline_n < U32_MAX;
	}
	tr_tier_update(t);
}
