// SPDX-License-Identifier: GPL-2.0
/*
 * timerring pass: the one sequence through which the core's time moves,
 * and the loop that applies a batch of ops.
 *
 * A pass reads the clock once (tr_pass_begin()), reads the ring's head
 * once, posts what waits on the pending queue, runs the wheel up to now
 * and posts what became due, within a budget of refs (tr_pass_expire()),
 * then publishes the new tail and overflow state (tr_pass_end()). The
 * expiry path (shard.c) runs begin, expire, end. The submit path
 * (submit.c) runs begin, expire with a small budget, tr_apply() on a chunk
 * of ops, expire again (ops with an expiry already past queue their CQEs),
 * end. KUnit, the harness model and the harness benchmark call the same
 * functions, so the benchmark times the driver's own loop.
 *
 * The apply loop. With 2^20 live timers the entries of random ids are
 * cache misses (24 bytes, in 24 MiB of table). The loop prefetches the
 * entry of the op 16 ahead, both its lines: 1 entry in 4 straddles two.
 * An op then touches its entry and the queue's counters (48 KiB for all
 * queues), and ARM and MODIFY the tail block of the queue they go to, one
 * of a few hundred hot ones. Measured natively (tools/bench/RESULTS.md),
 * prefetching those tail blocks too made random arms 2 ns slower, and a
 * prefetch distance of 10 or 32 ops instead of 16 made them 1-3 ns slower.
 */
#include "batch.h"

void tr_pass_begin(struct tr_core *c, u64 now_ns)
{
	tr_set_now(c, now_ns);
	tr_cq_begin(&c->cq);
}

/*
 * Post what waits, run the wheel up to now, post what became due, handling
 * at most *@budget refs (what it handled is taken off). Returns true if
 * work is left for another pass: something due is not handled yet, or
 * pending expirations have ring space to go to.
 */
bool tr_pass_expire(struct tr_core *c, u32 *budget)
{
	bool more;

	tr_flush(c, budget);
	more = !tr_advance(c, c->now_tick, budget);
	tr_flush(c, budget);
	return more || (tr_pending_nr(c) && tr_cq_has_space(&c->cq));
}

/* Publish the CQEs of the pass; returns how many. */
u32 tr_pass_end(struct tr_core *c)
{
	return tr_cq_end(&c->cq, tr_pending_nr(c));
}

static inline u8 tr_entry_flags(u8 opf)
{
	return (opf & TIMERRING_OPF_SLACK) ? TR_EF_SLACK : 0;
}

/* The period of a periodic ARM/MODIFY, on the ns grid of its expiry. */
static __always_inline const struct tr_period *
tr_period_op(const struct tr_prep *prep, const struct timerring_op *op,
	     struct tr_period *per)
{
	if (!op->interval)
		return NULL;
	per->ival_ns = op->interval;
	per->due_ns = tr_expiry_ns(prep, op);
	return per;
}

static inline void tr_prefetch_entry(const struct tr_core *c, u32 id)
{
	const struct tr_entry *e = tr_entry_get(c, id);

	if (!e)
		return;
	prefetchw(e);
	prefetchw((const u8 *)e + sizeof(*e) - 1);
}

/*
 * Apply ops [@i, a->n) in order, each op's result to a->res[]. The ops'
 * verdicts (prep) are final, and the ids and opcodes of all of them are
 * clamped (array_index_nospec) and backed by table chunks. Returns the
 * index of the first op not applied: a->n; a valid CANCEL_ALL, left to the
 * caller, which drops its lock in between (tr_cancel_all()); or, with
 * a->stop_on_error, one past the first failure (then a->stop is set).
 */
u32 tr_apply(struct tr_core *c, struct tr_apply *a, u32 i)
{
	const struct timerring_op *ops = a->ops;
	const struct tr_prep_out *out = a->out;
	const u32 n = a->n;
	s32 *res = a->res;
	struct tr_period per;

	for (; i < n; i++) {
		const struct timerring_op *op = &ops[i];
		s32 v = out->verdict[i];

		if (i + 16 < n && !out->verdict[i + 16])
			tr_prefetch_entry(c, ops[i + 16].id);
		if (!v) {
			switch (op->opcode) {
			case TIMERRING_OP_ARM:
				v = tr_arm(c, op->id, out->tick[i],
					   op->user_data,
					   tr_period_op(a->prep, op, &per),
					   tr_entry_flags(op->flags));
				break;
			case TIMERRING_OP_MODIFY:
				v = tr_modify(c, op->id, out->tick[i],
					      op->user_data,
					      tr_period_op(a->prep, op, &per),
					      tr_entry_flags(op->flags));
				break;
			case TIMERRING_OP_CANCEL:
				v = tr_cancel(c, op->id);
				break;
			default:
				return i;
			}
			a->kinds[op->opcode]++;
			tr_trace_op(c, op, out->tick[i], v);
		}
		res[i] = v;
		if (v < 0) {
			a->failed++;
			c->st.ops_failed++;
			if (a->stop_on_error) {
				a->stop = true;
				return i + 1;
			}
		}
	}
	return i;
}
