/* SPDX-License-Identifier: (GPL-2.0 OR MIT) */
/*
 * Let liburing's CQ helpers consume a timerring completion ring.
 *
 * timerring_fill_io_uring_cq() fills the CQ half of a struct io_uring from
 * a mapped struct timerring (timerring_fill_io_uring_cq_shard() from the
 * ring of one of its shards), so that io_uring_cq_ready(),
 * io_uring_peek_cqe(), io_uring_cqe_seen(), io_uring_cq_advance() and
 * io_uring_for_each_cqe() work on it (io_uring_peek_cqe() returns -EAGAIN
 * when the ring is empty). The struct io_uring has no SQ and no io_uring
 * fd: never submit on it, wait on it (io_uring_wait_cqe() and friends;
 * use timerring_wait()) or pass it to io_uring_queue_exit(); the mapping
 * belongs to the struct timerring and goes away with timerring_close().
 * io_uring_cq_has_overflow() always says false: use
 * timerring_cq_overflow_pending().
 *
 * timerring_prep_uring_cmd() fills an SQE of a real io_uring with an
 * IORING_OP_URING_CMD that submits a batch of ops to a timerring
 * instance, so that timer ops go to the kernel in the same
 * io_uring_submit() as other I/O. The batch is ops[nr], followed with
 * TIMERRING_URING_RESULTS by their results (timerring_uring_results()),
 * timerring_uring_batch_size() bytes in all.
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

/* The CQ half of @ring for the timerring ring @tcq. */
static inline void timerring_fill_io_uring_ring(const struct timerring_cq *tcq,
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

	cq->khead = tcq->khead;
	cq->ktail = tcq->ktail;
	cq->kring_mask = tcq->kring_mask;
	cq->kring_entries = tcq->kring_entries;
	/* io_uring's cq.kflags is the user-written IORING_CQ_* word. */
	cq->kflags = tcq->uflags;
	cq->koverflow = tcq->koverflow;
	cq->cqes = tcq->cqes;
	cq->ring_sz = 0;	/* not ours to unmap */
	cq->ring_ptr = NULL;
	cq->ring_mask = tcq->ring_mask;
	cq->ring_entries = tcq->ring_entries;
}

/* The ring of shard 0 (the only one, without shards). */
static inline void timerring_fill_io_uring_cq(const struct timerring *tr,
					      struct io_uring *ring)
{
	timerring_fill_io_uring_ring(&tr->cq, ring);
}

/* The ring of shard @k (below timerring_nr_shards()). */
static inline void timerring_fill_io_uring_cq_shard(struct timerring *tr,
						    unsigned int k,
						    struct io_uring *ring)
{
	timerring_fill_io_uring_ring(timerring_shard_cq(tr, k), ring);
}

/* Bytes of a URING_CMD batch of @nr ops and their results. */
static inline size_t timerring_uring_batch_size(unsigned int nr)
{
	return (size_t)nr * (sizeof(struct timerring_op) + sizeof(__s32));
}

/*
 * Where a URING_CMD with TIMERRING_URING_RESULTS writes the results of
 * the @nr ops at @ops: right after them.
 */
static inline __s32 *timerring_uring_results(struct timerring_op *ops,
					     unsigned int nr)
{
	return (__s32 *)(ops + nr);
}

/*
 * Make @sqe an IORING_OP_URING_CMD (cmd_op TIMERRING_URING_CMD_SUBMIT)
 * that applies the @nr ops at @batch to the instance on @fd, with @flags
 * TIMERRING_SUBMIT_* and TIMERRING_URING_*. Every other field of the SQE
 * is zeroed (the 64 extra bytes of an IORING_SETUP_SQE128 slot must be
 * zero too). The CQE's res is the number of ops processed, or -errno if
 * none was; the batch must stay in place until that CQE.
 */
static inline void timerring_prep_uring_cmd(struct io_uring_sqe *sqe, int fd,
					    const void *batch,
					    unsigned int nr,
					    unsigned int flags)
{
	struct timerring_uring_cmd *c = (struct timerring_uring_cmd *)sqe->cmd;

	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = fd;
	sqe->cmd_op = TIMERRING_URING_CMD_SUBMIT;
	c->addr = (__u64)(uintptr_t)batch;
	c->nr = nr;
	c->flags = flags;
}

#endif /* _TIMERRING_LIBURING_H */
