// SPDX-License-Identifier: GPL-2.0
/*
 * timerring core: the split of a prepared chunk into segments, each of
 * which the caller applies under the lock of one shard (tr_apply() on the
 * segment's range).
 *
 * Timer id i lives in shard (i / 128) % shards (TIMERRING_SHARD_OF()).
 * A chunk of 256 ops of random ids over S shards becomes S segments of
 * about 256 / S ops: the ops are sorted by shard, stably, so that the ops
 * of one id (all in one shard) keep the order they were given in, which
 * is all a result depends on. The sort is a counting sort over the chunk:
 * two passes over its 256 ops and a copy of 52 bytes per op (the op, its
 * tick, its interval and its verdict: 13 KiB a chunk); results go back to
 * the order of the ops through pos[] (tr_split_unsort()).
 *
 * Two cases keep the order given, as runs of consecutive ops of one shard
 * instead: one shard (a single run, no copy), and STOP_ON_ERROR, where the
 * ops after the first failure must stay unapplied, so that they are applied
 * in order. A CANCEL_ALL (a valid one) is a segment of its own, TR_SEG_ALL,
 * between the sorted ops before it and those after it.
 *
 * Pure: no locks, no allocation; the caller owns both buffers.
 */
#include "batch.h"

/* The segment op @i goes to: its shard, or TR_SEG_ALL for a CANCEL_ALL. */
u16 tr_op_seg(const struct tr_batch_buf *b, u32 i, u32 shards)
{
	if (b->ops[i].opcode == TIMERRING_OP_CANCEL_ALL && !b->out.verdict[i])
		return TR_SEG_ALL;
	return TIMERRING_SHARD_OF(b->ops[i].id, shards);
}

static void tr_seg_add(struct tr_split *sp, u32 start, u32 end, u16 shard)
{
	sp->seg[sp->nseg++] = (struct tr_seg){
		.start = start, .end = end, .shard = shard,
	};
}

/* Op @i of @b into slot @j of @s, noting where it came from. */
static void tr_sort_op(struct tr_split *sp, const struct tr_batch_buf *b,
		       struct tr_batch_buf *s, u32 j, u32 i)
{
	s->ops[j] = b->ops[i];
	s->out.tick[j] = b->out.tick[i];
	s->out.ival[j] = b->out.ival[i];
	s->out.verdict[j] = b->out.verdict[i];
	sp->pos[j] = i;
}

/*
 * Ops [@start, @end) of @b, none a CANCEL_ALL, sorted by shard (@seg[i]
 * is op i's) into the same slots of @s, stably; one segment per shard
 * that has ops.
 */
static void tr_sort_phase(struct tr_split *sp, const struct tr_batch_buf *b,
			  struct tr_batch_buf *s, const u16 *seg, u32 start,
			  u32 end, u32 shards)
{
	u16 at[TIMERRING_SHARDS_MAX + 1] = { };
	u32 i, k;

	for (i = start; i < end; i++)
		at[seg[i] + 1]++;
	at[0] = start;
	for (k = 1; k <= shards; k++)
		at[k] += at[k - 1];
	for (k = 0; k < shards; k++)
		if (at[k + 1] > at[k])
			tr_seg_add(sp, at[k], at[k + 1], k);
	for (i = start; i < end; i++)
		tr_sort_op(sp, b, s, at[seg[i]]++, i);
}

/*
 * Split the @n prepared, clamped ops of @b over @shards (at most
 * TIMERRING_SHARDS_MAX) into sp->seg[]: runs in the order given with one
 * shard or @in_order, else sorted into @sorted. Returns the buffer the
 * segments index (@b or @sorted), whose res[] the caller's apply loop
 * fills. Each op's segment is worked out once (a division by @shards).
 */
struct tr_batch_buf *tr_split(struct tr_split *sp, struct tr_batch_buf *b,
			      struct tr_batch_buf *sorted, u32 n, u32 shards,
			      bool in_order)
{
	u16 seg[TR_BATCH_CHUNK];
	u32 i, k;

	sp->nseg = 0;
	for (i = 0; i < n; i++)
		seg[i] = tr_op_seg(b, i, shards);
	if (shards == 1 || in_order) {
		for (i = 0; i < n; i = k) {
			for (k = i + 1; k < n && seg[i] != TR_SEG_ALL &&
			     seg[k] == seg[i]; k++)
				;
			tr_seg_add(sp, i, k, seg[i]);
		}
		return b;
	}
	for (i = 0; i < n; i = k) {
		for (k = i; k < n && seg[k] != TR_SEG_ALL; k++)
			;
		tr_sort_phase(sp, b, sorted, seg, i, k, shards);
		if (k < n) {
			tr_sort_op(sp, b, sorted, k, k);
			tr_seg_add(sp, k, k + 1, TR_SEG_ALL);
			k++;
		}
	}
	return sorted;
}

/* The results of all @n ops of @sorted back to their places in @b. */
void tr_split_unsort(const struct tr_split *sp,
		     const struct tr_batch_buf *sorted, struct tr_batch_buf *b,
		     u32 n)
{
	u32 i;

	for (i = 0; i < n; i++)
		b->res[sp->pos[i]] = sorted->res[i];
}
