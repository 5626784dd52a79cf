// SPDX-License-Identifier: GPL-2.0
/*
 * timerring submission ring: the reader of the SQ ring userspace fills.
 *
 * The ring is laid out like io_uring's SQ ring, in the same shared mapping
 * as the completion ring, after it (at a 64-byte boundary, @base below):
 *
 *   offset      field                     written by
 *   base + 0    head (u32)                kernel, store-release
 *   base + 64   tail (u32)                userspace, store-release
 *   base + 128  ring_mask, ring_entries   kernel, at setup
 *   base + 136  flags (NEED_WAKEUP)       kernel
 *   base + 140  dropped                   kernel
 *   base + 256  struct timerring_op[ring_entries], 32 bytes each
 *
 * A 4096-entry ring is 128 KiB + 256 B. There is no index array: the ops
 * are the ring's entries, as with io_uring's IORING_SETUP_NO_SQARRAY.
 *
 * All of it is untrusted. The kernel keeps its own head, mask, entries,
 * flags and dropped, and only ever stores them. It reads tail with
 * load-acquire (pairing with the producer's store-release after it wrote
 * the ops), and clamps what tail claims to ring_entries ops: a tail gone
 * backwards or far ahead makes the ring look full of whatever it holds,
 * each op of which is then checked like any other. Each op is copied out
 * once (tr_sq_fetch()) before anything looks at it, and head is stored
 * with store-release only after the ops it passes were read and the
 * error CQEs of those that failed were published (tr_sq_publish()).
 *
 * Which ops a caller that cannot allocate may apply is decided here too
 * (tr_sq_applicable()): the pass in soft-IRQ stops before the first op
 * needing a table chunk, an interval array or room in the ref pool, and
 * before a CANCEL_ALL, O(armed) with lock drops in between.
 */
#include "batch.h"

#define TR_SQ_OFF_HEAD		0
#define TR_SQ_OFF_TAIL		64
#define TR_SQ_OFF_MASK		128
#define TR_SQ_OFF_ENTRIES	132
#define TR_SQ_OFF_FLAGS		136
#define TR_SQ_OFF_DROPPED	140
#define TR_SQ_OFF_OPS		256

/* The SQ ring at @base (64-byte aligned) of the mapping; *@end after it. */
void tr_sq_layout(u32 entries, size_t base, struct timerring_sq_offsets *off,
		  size_t *end)
{
	memset(off, 0, sizeof(*off));
	off->head = base + TR_SQ_OFF_HEAD;
	off->tail = base + TR_SQ_OFF_TAIL;
	off->ring_mask = base + TR_SQ_OFF_MASK;
	off->ring_entries = base + TR_SQ_OFF_ENTRIES;
	off->flags = base + TR_SQ_OFF_FLAGS;
	off->dropped = base + TR_SQ_OFF_DROPPED;
	off->ops = base + TR_SQ_OFF_OPS;
	*end = base + TR_SQ_OFF_OPS + (size_t)entries * sizeof(struct timerring_op);
}

/* @map is the zeroed shared area the offsets are relative to. */
void tr_sq_init(struct tr_sq *sq, void *map, u32 entries,
		const struct timerring_sq_offsets *off)
{
	u8 *p = map;

	memset(sq, 0, sizeof(*sq));
	sq->khead = (u32 *)(p + off->head);
	sq->ktail = (u32 *)(p + off->tail);
	sq->kflags = (u32 *)(p + off->flags);
	sq->kdropped = (u32 *)(p + off->dropped);
	sq->ops = (struct timerring_op *)(p + off->ops);
	sq->entries = entries;
	sq->mask = entries - 1;
	*(u32 *)(p + off->ring_mask) = sq->mask;
	*(u32 *)(p + off->ring_entries) = entries;
}

/* Ops published past head, at most ring_entries. */
u32 tr_sq_avail(const struct tr_sq *sq)
{
	/* Acquire: the ops are read after the tail that covers them. */
	u32 n = smp_load_acquire(sq->ktail) - sq->head;

	return min(n, sq->entries);
}

/* Copy the @n ops at head out (n <= tr_sq_avail()); head does not move. */
void tr_sq_fetch(const struct tr_sq *sq, struct timerring_op *dst, u32 n)
{
	u32 first = sq->head & sq->mask;
	u32 part = min(n, sq->entries - first);

	memcpy(dst, &sq->ops[first], part * sizeof(*dst));
	memcpy(dst + part, &sq->ops[0], (n - part) * sizeof(*dst));
}

/*
 * Move head past @n ops fetched, @bad of them malformed; tr_sq_publish()
 * makes it visible.
 */
void tr_sq_commit(struct tr_sq *sq, u32 n, u32 bad)
{
	sq->head += n;
	sq->dropped += bad;
}

/*
 * Publish head and dropped, at the end of a pass: after the CQ ring's
 * tail (tr_cq_end()), so that once userspace sees head past an op, the
 * op's error CQE, if any, is below the CQ tail it reads next.
 */
void tr_sq_publish(struct tr_sq *sq)
{
	if (sq->head == sq->published)
		return;
	sq->published = sq->head;
	/*
	 * Release: the ops were read, and the CQ tail stored, before the
	 * producer may reuse the slots.
	 */
	smp_store_release(sq->khead, sq->head);
	WRITE_ONCE(*sq->kdropped, sq->dropped);
}

/* Set or clear TIMERRING_SQ_NEED_WAKEUP. */
void tr_sq_set_wakeup(struct tr_sq *sq, bool need)
{
	sq->flags = need ? TIMERRING_SQ_NEED_WAKEUP : 0;
	WRITE_ONCE(*sq->kflags, sq->flags);
}

/*
 * How many of the @n prepared ops (verdicts in @out, ids and opcodes
 * clamped) can be applied in order without allocating: up to the first
 * valid ARM or MODIFY whose id has no table chunk, or no interval array
 * for a periodic one, or that the ref pool would have no room for (each
 * counted as adding a ref, after the room held for a chunk of ops of
 * another path: refs_held), or the first valid CANCEL_ALL.
 */
u32 tr_sq_applicable(const struct tr_core *c, const struct timerring_op *ops,
		     const struct tr_prep_out *out, u32 n)
{
	u32 i, refs = 0;

	for (i = 0; i < n; i++) {
		const struct timerring_op *op = &ops[i];
		u32 ci = op->id >> TR_CHUNK_SHIFT;

		if (out->verdict[i] || op->opcode == TIMERRING_OP_CANCEL)
			continue;
		if (op->opcode == TIMERRING_OP_CANCEL_ALL)
			break;
		if (!c->chunk[ci] || (out->ival[i] && !c->ival[ci]) ||
		    !tr_pool_room(c, c->refs_held + ++refs))
			break;
	}
	return i;
}
