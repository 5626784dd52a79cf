/* SPDX-License-Identifier: GPL-2.0 */
/*
 * timerring batch submission (submit.c): the one implementation of a
 * batch, behind TIMERRING_IOC_SUBMIT and IORING_OP_URING_CMD.
 */
#ifndef _TIMERRING_SUBMIT_H
#define _TIMERRING_SUBMIT_H

#include <linux/nospec.h>
#include <linux/types.h>
#include <linux/uio.h>

#include "batch.h"
#include "core.h"

struct tr_instance;
struct tr_submit_buf;
struct tr_shard;
struct timerring_op;

/*
 * A batch and where its ops come from and its results go: user memory
 * (@uops, @ures: NULL for no results), or iterators over an io_uring
 * registered buffer (@ops_iter, @res_iter, used instead when set). The
 * caller has validated @nr and @flags and probed the results for writing.
 * A @nonblock batch writes its results through @res_iter only.
 */
struct tr_batch_io {
	u32 nr;
	u32 flags;			/* TIMERRING_SUBMIT_* */
	bool nonblock;			/* never sleep: -EAGAIN instead */
	const struct timerring_op __user *uops;
	s32 __user *ures;
	struct iov_iter *ops_iter;
	struct iov_iter *res_iter;
	/* out */
	u32 done;			/* ops processed (applied or failed) */
	u32 failed;			/* ops among them that failed */
	int lost;			/* -EFAULT: results could not be written */
};

/* What a batch, or a part of it, did so far (submit.c, submit_par.c). */
struct tr_submit_state {
	u32 flags;
	u32 done;
	u32 failed;
	u32 kinds[TIMERRING_OP_LAST];
	bool stop;
	bool nonblock;
};

/*
 * Apply the batch. 0 once ops were processed (or nr is 0); a negative
 * errno if none was: -EFAULT (the first ops cannot be read), -EINTR (a
 * fatal signal while waiting for another submitter), -EAGAIN (only with
 * nonblock: nothing was applied, retry blocking).
 */
int tr_submit_batch(struct tr_instance *inst, struct tr_batch_io *io);

/*
 * Fault @len bytes at @p in for writing without writing them (results
 * past done are left as they were); 0 or -EFAULT. May sleep.
 */
int tr_probe_writable(void __user *p, size_t len);

/*
 * The verdicts of a prepared op checked its id and opcode, but the apply
 * loop indexes with them (and prefetches ops ahead) behind branches that
 * may be mispredicted: every op's, failed or not, is clamped, so that
 * nothing dereferences a raw user value.
 */
static inline void tr_op_clamp(const struct tr_core *c, struct timerring_op *op)
{
	op->id = array_index_nospec(op->id, c->max_ids);
	op->opcode = array_index_nospec(op->opcode, TIMERRING_OP_LAST);
}

/*
 * CANCEL_ALL within a lock hold that began at @t0 (local_clock()), which
 * it may end and retake; called and returns locked. Its result.
 */
int tr_cancel_all_locked(struct tr_shard *sh, u64 t0);

/* The steps of a chunk (submit.c), also those of a parallel batch. */
void tr_chunk_prep(struct tr_instance *inst, struct tr_batch_buf *b, u32 n,
		   struct tr_prep *prep);
int tr_seg_run(struct tr_instance *inst, struct tr_batch_buf *b,
	       const struct tr_seg *g, const struct tr_prep *prep,
	       struct tr_submit_state *st, bool try);
int tr_chunk_apply(struct tr_instance *inst, const struct tr_split *sp,
		   struct tr_batch_buf *v, bool sorted,
		   const struct tr_prep *prep, struct tr_submit_state *st);
int tr_put_results(s32 __user *ures, const s32 *res, u32 n);

/*
 * submit_par.c: the way a batch goes (TR_TIER_INLINE or TR_TIER_PAR; a
 * batch that cannot go in parallel goes inline), and a parallel batch
 * with @sb, the submitter's buffer, which sets @st, io->lost and
 * @fixed_ns (the time its workers' start and end took): 0, or -EFAULT if
 * a chunk could not be read, or -EBUSY (no buffer for a worker, or no
 * memory for the schedule: nothing was done).
 */
u32 tr_par_way(struct tr_instance *inst, const struct tr_batch_io *io,
	       bool *eligible);
int tr_par_submit(struct tr_instance *inst, struct tr_batch_io *io,
		  struct tr_submit_buf *sb, s64 ns_off,
		  struct tr_submit_state *st, u64 *fixed_ns);
void tr_par_learn(struct tr_instance *inst, u32 way, u32 nops, u64 ns,
		  u64 fixed_ns);

/* Offset of the caller's time namespace for the instance's clock. */
s64 tr_timens_offset(const struct tr_instance *inst);

long tr_ioctl_submit(struct tr_instance *inst, void __user *uarg,
		     size_t usize);

#endif /* _TIMERRING_SUBMIT_H */
