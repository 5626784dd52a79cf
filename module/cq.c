// SPDX-License-Identifier: GPL-2.0
/*
 * timerring completion ring.
 *
 * The ring is laid out like io_uring's CQ ring, in one shared mapping:
 *
 *   offset  field                     written by
 *   0       head (u32)                userspace, store-release
 *   64      tail (u32)                kernel, store-release
 *   128     ring_mask, ring_entries   kernel, at setup
 *   136     overflow (dropped: 0)     kernel, at setup
 *   140     flags                     userspace
 *   144     kflags, overflow_pending  kernel
 *   256     struct io_uring_cqe[ring_entries], 16 bytes each
 *
 * head and tail are on cache lines of their own, so the producer and the
 * consumer do not share a line. A ring of 4096 entries is 64 KiB + 256 B.
 *
 * The kernel keeps its own copies of tail, mask and entries and never reads
 * them back. It reads head once per pass (load-acquire, pairing with the
 * consumer's store-release once it has read the CQEs), and treats a head
 * that claims more than ring_entries ready as a full ring, so garbage
 * written there by userspace can only stall its own completions. CQEs are
 * published by one store-release of tail per pass, pairing with the
 * consumer's load-acquire of tail, exactly as in io_uring.
 */
#include "core.h"

#define TR_CQ_OFF_HEAD		0
#define TR_CQ_OFF_TAIL		64
#define TR_CQ_OFF_MASK		128
#define TR_CQ_OFF_ENTRIES	132
#define TR_CQ_OFF_OVERFLOW	136
#define TR_CQ_OFF_FLAGS		140
#define TR_CQ_OFF_KFLAGS	144
#define TR_CQ_OFF_OVF_PENDING	148
#define TR_CQ_OFF_CQES		256

void tr_cq_layout(u32 entries, struct timerring_cq_offsets *off,
		  size_t *size)
{
	memset(off, 0, sizeof(*off));
	off->head = TR_CQ_OFF_HEAD;
	off->tail = TR_CQ_OFF_TAIL;
	off->ring_mask = TR_CQ_OFF_MASK;
	off->ring_entries = TR_CQ_OFF_ENTRIES;
	off->overflow = TR_CQ_OFF_OVERFLOW;
	off->flags = TR_CQ_OFF_FLAGS;
	off->kflags = TR_CQ_OFF_KFLAGS;
	off->overflow_pending = TR_CQ_OFF_OVF_PENDING;
	off->cqes = TR_CQ_OFF_CQES;
	*size = TR_CQ_OFF_CQES + (size_t)entries * sizeof(struct tr_cqe);
}

/* @base is the zeroed shared area of the size tr_cq_layout() gave. */
void tr_cq_init(struct tr_cq *cq, void *base, u32 entries,
		const struct timerring_cq_offsets *off)
{
	u8 *p = base;

	memset(cq, 0, sizeof(*cq));
	cq->khead = (u32 *)(p + off->head);
	cq->ktail = (u32 *)(p + off->tail);
	cq->kflags = (u32 *)(p + off->kflags);
	cq->koverflow_pending = (u32 *)(p + off->overflow_pending);
	cq->cqes = (struct tr_cqe *)(p + off->cqes);
	cq->entries = entries;
	cq->mask = entries - 1;
	*(u32 *)(p + off->ring_mask) = cq->mask;
	*(u32 *)(p + off->ring_entries) = entries;
	*(u32 *)(p + off->overflow) = 0;
}

/* Start a pass: read head once and compute the free space. */
void tr_cq_begin(struct tr_cq *cq)
{
	/*
	 * Acquire: the consumer's reads of the CQEs before head complete
	 * before we overwrite those slots. Pairs with its store-release.
	 */
	u32 head = smp_load_acquire(cq->khead);
	u32 used = cq->tail - head;

	cq->space = used > cq->entries ? 0 : cq->entries - used;
	cq->posted = 0;
}

/*
 * End a pass: publish the CQEs written and the overflow state. Returns the
 * number of CQEs published.
 */
u32 tr_cq_end(struct tr_cq *cq, u32 pending_nr)
{
	u32 posted = cq->posted;

	if (posted) {
		/* Release: the CQEs are visible before the tail covering them. */
		smp_store_release(cq->ktail, cq->tail);
	}
	WRITE_ONCE(*cq->koverflow_pending, pending_nr);
	WRITE_ONCE(*cq->kflags, pending_nr ? TIMERRING_KFLAG_CQ_OVERFLOW : 0);
	cq->posted = 0;
	cq->space = 0;
	return posted;
}

/* CQEs userspace has not consumed yet, as far as its head can be trusted. */
u32 tr_cq_ready(const struct tr_cq *cq)
{
	u32 used = cq->tail - READ_ONCE(*cq->khead);

	return min(used, cq->entries);
}

/*
 * Post the error CQE of a failed op from the SQ ring (timerring.h), in a
 * slot the caller made sure of (tr_cq_has_space()).
 */
void tr_cq_post_err(struct tr_cq *cq, u64 user_data, s32 res, u32 flags)
{
	u32 t = tr_cq_claim(cq, 1);

	cq->cqes[t & cq->mask] = (struct tr_cqe){
		.user_data = user_data, .res = res, .flags = flags };
}
