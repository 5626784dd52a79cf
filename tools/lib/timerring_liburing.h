/* SPDX-License-Identifier: (GPL-2.0 OR MIT) */
/*
 * Let liburing's CQ helpers consume a timerring completion ring.
 *
 * timerring_fill_io_uring_cq() fills the CQ half of a struct io_uring from
 * a mapped struct timerring, so that io_uring_cq_ready(),
 * io_uring_peek_cqe(), io_uring_cqe_seen(), io_uring_cq_advance() and
 * io_uring_for_each_cqe() work on it (io_uring_peek_cqe() returns -EAGAIN
 * when the ring is empty). The struct io_uring has no SQ and no io_uring
 * fd: never submit on it, wait on it (io_uring_wait_cqe() and friends;
 * use timerring_wait()) or pass it to io_uring_queue_exit(); the mapping
 * belongs to the struct timerring and goes away with timerring_close().
 * io_uring_cq_has_overflow() always says false: use
 * timerring_cq_overflow_pending().
 */
#ifndef _TIMERRING_LIBURING_H
#define _TIMERRING_LIBURING_H

#include <string.h>
#include <liburing.h>
#include "timerring.h"

/*
 * liburing reads ring->sq.kflags (IORING_SQ_CQ_OVERFLOW, IORING_SQ_TASKRUN)
 * to decide whether peeking must enter the kernel: point it at a zero.
 */
static unsigned int timerring_liburing_sq_flags;

static inline void timerring_fill_io_uring_cq(const struct timerring *tr,
					      struct io_uring *ring)
{
	struct io_uring_cq *cq = &ring->cq;

	memset(ring, 0, sizeof(*ring));
	ring->ring_fd = -1;
	ring->enter_ring_fd = -1;
	/*
	 * Plain 16-byte CQEs, and no LIBURING_UDATA_TIMEOUT filtering in
	 * __io_uring_peek_cqe(): that is skipped when the "kernel" has
	 * IORING_FEAT_EXT_ARG, and timerring user_data is arbitrary.
	 */
	ring->flags = 0;
	ring->features = IORING_FEAT_EXT_ARG;

	ring->sq.kflags = &timerring_liburing_sq_flags;

	cq->khead = tr->cq.khead;
	cq->ktail = tr->cq.ktail;
	cq->kring_mask = tr->cq.kring_mask;
	cq->kring_entries = tr->cq.kring_entries;
	/* io_uring's cq.kflags is the user-written IORING_CQ_* word. */
	cq->kflags = tr->cq.uflags;
	cq->koverflow = tr->cq.koverflow;
	cq->cqes = tr->cq.cqes;
	cq->ring_sz = 0;	/* not ours to unmap */
	cq->ring_ptr = NULL;
	cq->ring_mask = tr->cq.ring_mask;
	cq->ring_entries = tr->cq.ring_entries;
}

#endif /* _TIMERRING_LIBURING_H */
