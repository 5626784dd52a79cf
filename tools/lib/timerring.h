/* SPDX-License-Identifier: (GPL-2.0 OR MIT) */
/*
 * libtimerring: userspace access to /dev/timerring.
 *
 * A struct timerring is an open, set up and mapped /dev/timerring instance.
 * Timers are armed, modified and cancelled in batches of struct
 * timerring_op (see timerring_submit() and the timerring_op_*() builders),
 * and every expiration is posted as a struct io_uring_cqe on a completion
 * ring shared with the kernel, which is consumed exactly like an io_uring
 * CQ ring:
 *
 *	struct timerring tr;
 *	struct timerring_op ops[2];
 *	struct io_uring_cqe *cqe;
 *	unsigned int head, seen = 0;
 *
 *	if (timerring_open(&tr, NULL) < 0)
 *		...
 *	timerring_op_arm(&ops[0], 7, 5000000, 0, 0xcafe, 0);
 *	timerring_op_arm(&ops[1], 8, 9000000, 0, 0xbeef, 0);
 *	timerring_submit(&tr, ops, 2, NULL, 0, NULL, NULL);
 *	timerring_wait(&tr, 2, -1);
 *	timerring_for_each_cqe(&tr, head, cqe) {
 *		... timerring_cqe_id(cqe), cqe->user_data ...
 *		seen++;
 *	}
 *	timerring_cq_advance(&tr, seen);
 *	timerring_close(&tr);
 *
 * Every function returning int returns a negative errno on failure.
 *
 * Memory ordering follows liburing: the tail is read with load-acquire
 * before the CQEs it covers, and the head is written with store-release
 * after the CQEs were read. The ring is single-consumer: one thread (or a
 * lock held by the caller) consumes a given ring.
 *
 * timerring_liburing.h lets liburing's own CQ helpers consume the ring.
 */
#ifndef _TIMERRING_LIB_H
#define _TIMERRING_LIB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/io_uring.h>
#include <linux/timerring.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Path of the device node. */
#define TIMERRING_DEV_PATH	"/dev/" TIMERRING_DEV_NAME

/*
 * View of the completion ring in the mapping, named as in liburing's
 * struct io_uring_cq.
 */
struct timerring_cq {
	unsigned int *khead;		/* consumer index, written by us */
	unsigned int *ktail;		/* producer index, written by kernel */
	unsigned int *kring_mask;	/* shared copy; use ring_mask */
	unsigned int *kring_entries;	/* shared copy; use ring_entries */
	unsigned int *kflags;		/* TIMERRING_KFLAG_*, kernel-written */
	unsigned int *uflags;		/* TIMERRING_CQ_F_*, user-written */
	unsigned int *koverflow;	/* dropped CQEs: always 0 */
	unsigned int *koverflow_pending; /* expirations waiting for space */
	struct io_uring_cqe *cqes;
	unsigned int ring_mask;		/* private copy taken at setup */
	unsigned int ring_entries;	/* private copy taken at setup */
};

/*
 * The submission ring (TIMERRING_SETUP_SQ), as liburing's struct
 * io_uring_sq: ops are written at the local tail, and published by
 * timerring_sq_flush() or timerring_sq_submit().
 */
struct timerring_sq {
	unsigned int *khead;		/* consumer index, written by kernel */
	unsigned int *ktail;		/* producer index, written by us */
	unsigned int *kflags;		/* TIMERRING_SQ_NEED_WAKEUP */
	unsigned int *kdropped;		/* malformed ops consumed */
	struct timerring_op *ops;
	unsigned int ring_mask;		/* private copies taken at setup */
	unsigned int ring_entries;
	unsigned int tail;		/* local tail: ops written so far */
};

struct timerring {
	int fd;
	struct timerring_params params;	/* as returned by SETUP */
	void *ring_ptr;			/* the mapping */
	size_t ring_sz;			/* its length (params.mmap_size) */
	struct timerring_cq cq;		/* the ring of shard 0 */
	struct timerring_sq sq;		/* zero without TIMERRING_SETUP_SQ */
	/* the ring of every shard (cqs[0] is cq); NULL: cq is the only one */
	struct timerring_cq *cqs;
	unsigned int nr_cqs;
};

/* max_timers used by timerring_open() when no params are given. */
#define TIMERRING_LIB_DEFAULT_MAX_TIMERS	65536U

/*
 * Open TIMERRING_DEV_PATH, set the instance up with @p and map its
 * completion ring. @p NULL means CLOCK_MONOTONIC, max_timers
 * TIMERRING_LIB_DEFAULT_MAX_TIMERS, the current NUMA node and the kernel
 * defaults for everything else. Note that a zeroed @p asks for
 * CLOCK_REALTIME (0), which SETUP rejects: set clockid. On success @p, if given, and
 * tr->params hold the parameters the kernel returned.
 */
int timerring_open(struct timerring *tr, struct timerring_params *p);

/*
 * As timerring_open() on an already opened, not yet set up fd. On success
 * @tr owns @fd; on failure the caller still does.
 */
int timerring_open_fd(struct timerring *tr, int fd,
		      struct timerring_params *p);

/* Unmap and close; cancels every armed timer of the instance. */
void timerring_close(struct timerring *tr);

/*
 * Submit @nr ops (at most TIMERRING_BATCH_MAX). @results, if not NULL,
 * receives one result per processed op: a generation (possibly with
 * TIMERRING_RES_REARMED) for ARM/MODIFY, 0 for CANCEL, the count for
 * CANCEL_ALL, or a negative errno. @flags are TIMERRING_SUBMIT_*. @done
 * and @failed, if not NULL, receive the counts of processed and failed ops.
 *
 * Returns the number of ops processed (which may be less than @nr if
 * STOP_ON_ERROR stopped early or user memory faulted part way), or a
 * negative errno if none was.
 */
int timerring_submit(struct timerring *tr, const struct timerring_op *ops,
		     unsigned int nr, __s32 *results, unsigned int flags,
		     unsigned int *done, unsigned int *failed);

/*
 * Flush the overflow list into the ring and wait until at least
 * @min_complete CQEs are ready or @timeout_ns (relative; < 0 forever,
 * 0 poll) passed. Returns the number of CQEs ready, -ETIME on timeout,
 * -EINTR if interrupted by a signal.
 */
int timerring_wait(struct timerring *tr, unsigned int min_complete,
		   int64_t timeout_ns);

/* Signal @efd on every batch of expirations; -1 unregisters. */
int timerring_register_eventfd(struct timerring *tr, int efd);
int timerring_unregister_eventfd(struct timerring *tr);

/* Read the instance counters. */
int timerring_stats(struct timerring *tr, struct timerring_stats *st);

/*
 * Query the module. @fd is any /dev/timerring fd (set up or not); if
 * negative, the device is opened for the duration of the call.
 */
int timerring_version(int fd, struct timerring_version *v);

/* Current time on the instance clock, in ns (for TIMERRING_OPF_ABS). */
uint64_t timerring_now(const struct timerring *tr);

/* Batch builders. */

static inline void timerring_op_prep(struct timerring_op *op, __u8 opcode,
				     __u32 id, __u64 expiry, __u8 flags,
				     __u64 user_data, __u64 interval)
{
	op->opcode = opcode;
	op->flags = flags;
	op->resv = 0;
	op->id = id;
	op->expiry = expiry;
	op->user_data = user_data;
	op->interval = interval;
}

/*
 * Arm idle @id to fire at @expiry (ns, relative, or absolute with
 * TIMERRING_OPF_ABS in @flags), then every @interval ns if non-zero.
 */
static inline void timerring_op_arm(struct timerring_op *op, __u32 id,
				    __u64 expiry, __u8 flags,
				    __u64 user_data, __u64 interval)
{
	timerring_op_prep(op, TIMERRING_OP_ARM, id, expiry, flags, user_data,
			  interval);
}

/* Arm or re-arm @id (mod_timer semantics). */
static inline void timerring_op_modify(struct timerring_op *op, __u32 id,
				       __u64 expiry, __u8 flags,
				       __u64 user_data, __u64 interval)
{
	timerring_op_prep(op, TIMERRING_OP_MODIFY, id, expiry, flags,
			  user_data, interval);
}

static inline void timerring_op_cancel(struct timerring_op *op, __u32 id)
{
	timerring_op_prep(op, TIMERRING_OP_CANCEL, id, 0, 0, 0, 0);
}

static inline void timerring_op_cancel_all(struct timerring_op *op)
{
	timerring_op_prep(op, TIMERRING_OP_CANCEL_ALL, 0, 0, 0, 0, 0);
}

/* Result decoders for ARM and MODIFY. */

static inline unsigned int timerring_res_gen(__s32 res)
{
	return (__u32)res & TIMERRING_RES_GEN_MASK;
}

static inline bool timerring_res_rearmed(__s32 res)
{
	return res >= 0 && ((__u32)res & TIMERRING_RES_REARMED);
}

/* Completion ring, as in liburing. */

static inline unsigned int timerring_load_acquire(const unsigned int *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static inline void timerring_store_release(unsigned int *p, unsigned int v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

/*
 * Shards (see "Shards" in linux/timerring.h): an instance of several has
 * one completion ring per shard. timerring_cq_ready() and
 * timerring_cq_copy() cover all of them; timerring_peek_cqe(),
 * timerring_cq_advance(), timerring_cqe_seen(), timerring_for_each_cqe()
 * and the liburing bridge act on one ring, that of shard 0 (tr->cq): for
 * the others use timerring_shard_cq() and the timerring_ring_*() helpers,
 * or timerring_fill_io_uring_cq_shard().
 */
static inline unsigned int timerring_nr_shards(const struct timerring *tr)
{
	return tr->cqs ? tr->nr_cqs : 1;
}

/* The ring of shard @k (below timerring_nr_shards()). */
static inline struct timerring_cq *timerring_shard_cq(struct timerring *tr,
						      unsigned int k)
{
	return tr->cqs ? &tr->cqs[k] : &tr->cq;
}

/* Number of CQEs ready in one ring. */
static inline unsigned int timerring_ring_ready(const struct timerring_cq *cq)
{
	return timerring_load_acquire(cq->ktail) - *cq->khead;
}

/* Copy up to @max ready CQEs of one ring into @out and consume them. */
static inline unsigned int timerring_ring_copy(struct timerring_cq *cq,
					       struct io_uring_cqe *out,
					       unsigned int max)
{
	unsigned int head = *cq->khead;
	unsigned int avail = timerring_load_acquire(cq->ktail) - head;
	unsigned int i;

	if (avail > max)
		avail = max;
	for (i = 0; i < avail; i++)
		out[i] = cq->cqes[(head + i) & cq->ring_mask];
	if (avail)
		timerring_store_release(cq->khead, head + avail);
	return avail;
}

/* Number of CQEs ready to be consumed, in all rings. */
static inline unsigned int timerring_cq_ready(const struct timerring *tr)
{
	const struct timerring_cq *cq = tr->cqs ? tr->cqs : &tr->cq;
	unsigned int k, n = 0;

	for (k = 0; k < timerring_nr_shards(tr); k++)
		n += timerring_ring_ready(&cq[k]);
	return n;
}

/*
 * True if expirations wait on the overflow list for ring space, in any
 * ring: consume CQEs, then call timerring_wait() (min_complete 0
 * suffices) to flush.
 */
static inline bool timerring_cq_overflow_pending(const struct timerring *tr)
{
	const struct timerring_cq *cq = tr->cqs ? tr->cqs : &tr->cq;
	unsigned int k;

	for (k = 0; k < timerring_nr_shards(tr); k++)
		if (__atomic_load_n(cq[k].kflags, __ATOMIC_RELAXED) &
		    TIMERRING_KFLAG_CQ_OVERFLOW)
			return true;
	return false;
}

/* The next CQE to consume without consuming it, or NULL if none. */
static inline struct io_uring_cqe *
timerring_peek_cqe(const struct timerring *tr)
{
	unsigned int head = *tr->cq.khead;

	if (timerring_load_acquire(tr->cq.ktail) == head)
		return NULL;
	return &tr->cq.cqes[head & tr->cq.ring_mask];
}

/* Hand @nr consumed CQEs back to the kernel. */
static inline void timerring_cq_advance(struct timerring *tr,
					unsigned int nr)
{
	if (nr)
		timerring_store_release(tr->cq.khead, *tr->cq.khead + nr);
}

/* Hand one CQE (the one returned by timerring_peek_cqe()) back. */
static inline void timerring_cqe_seen(struct timerring *tr)
{
	timerring_cq_advance(tr, 1);
}

/*
 * Iterate over the ready CQEs without consuming them; follow with
 * timerring_cq_advance(tr, count).
 */
#define timerring_for_each_cqe(tr, head, cqe)				\
	for ((head) = *(tr)->cq.khead;					\
	     ((cqe) = ((head) != timerring_load_acquire((tr)->cq.ktail) ?	\
		&(tr)->cq.cqes[(head) & (tr)->cq.ring_mask] : NULL));	\
	     (head)++)

/*
 * Copy up to @max ready CQEs into @out and consume them: ring 0's first,
 * then the other shards' rings in order.
 */
static inline unsigned int timerring_cq_copy(struct timerring *tr,
					     struct io_uring_cqe *out,
					     unsigned int max)
{
	unsigned int k, n = 0;

	for (k = 0; k < timerring_nr_shards(tr) && n < max; k++)
		n += timerring_ring_copy(timerring_shard_cq(tr, k), out + n,
					 max - n);
	return n;
}

/* Enable or disable eventfd signalling, like io_uring_cq_eventfd_toggle. */
static inline void timerring_cq_eventfd_toggle(struct timerring *tr,
					       bool enabled)
{
	unsigned int f = __atomic_load_n(tr->cq.uflags, __ATOMIC_RELAXED);

	if (enabled)
		f &= ~TIMERRING_CQ_F_EVENTFD_DISABLED;
	else
		f |= TIMERRING_CQ_F_EVENTFD_DISABLED;
	__atomic_store_n(tr->cq.uflags, f, __ATOMIC_RELAXED);
}

/* Submission ring, as in liburing (TIMERRING_SETUP_SQ). */

/* Ops the SQ ring has room for now. */
static inline unsigned int timerring_sq_space_left(const struct timerring *tr)
{
	if (!tr->sq.ops)
		return 0;
	return tr->sq.ring_entries -
	       (tr->sq.tail - timerring_load_acquire(tr->sq.khead));
}

/*
 * The next free op slot of the SQ ring, or NULL if it is full. The op is
 * not published until timerring_sq_flush() or timerring_sq_submit().
 */
static inline struct timerring_op *timerring_get_op(struct timerring *tr)
{
	if (!tr->sq.ops || !timerring_sq_space_left(tr))
		return NULL;
	return &tr->sq.ops[tr->sq.tail++ & tr->sq.ring_mask];
}

/* Publish the ops written; returns how many are waiting in the ring. */
static inline unsigned int timerring_sq_flush(struct timerring *tr)
{
	if (!tr->sq.ops)
		return 0;
	timerring_store_release(tr->sq.ktail, tr->sq.tail);
	return tr->sq.tail - timerring_load_acquire(tr->sq.khead);
}

/*
 * After timerring_sq_flush(): whether the kernel stopped polling the ring
 * (TIMERRING_SQ_NEED_WAKEUP), so that a doorbell is needed. The full
 * barrier orders the tail store before the flag load (timerring.h).
 */
static inline bool timerring_sq_needs_enter(const struct timerring *tr)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!tr->sq.ops)
		return false;
	return __atomic_load_n(tr->sq.kflags, __ATOMIC_RELAXED) &
	       TIMERRING_SQ_NEED_WAKEUP;
}

/* The doorbell: returns the ops the kernel consumed, or -errno. */
int timerring_sq_enter(struct timerring *tr);

/*
 * Publish the ops written, and ring the doorbell only if the kernel is
 * not polling. Returns the ops consumed by the doorbell (0 if none was
 * needed), or -errno (-EINVAL without an SQ ring).
 */
int timerring_sq_submit(struct timerring *tr);

/* An error CQE of an op from the SQ ring (res is -errno). */
static inline bool timerring_cqe_is_sq_err(const struct io_uring_cqe *cqe)
{
	return cqe->flags & TIMERRING_CQE_F_SQ_ERR;
}

/* CQE decoders. */

/* The id that expired. */
static inline __u32 timerring_cqe_id(const struct io_uring_cqe *cqe)
{
	return (__u32)cqe->res;
}

/* Low 16 bits of the generation of the arm that fired. */
static inline unsigned int timerring_cqe_gen(const struct io_uring_cqe *cqe)
{
	return cqe->flags >> TIMERRING_CQE_GEN_SHIFT;
}

/* Periods a periodic timer missed since its previous CQE (saturating). */
static inline unsigned int
timerring_cqe_overruns(const struct io_uring_cqe *cqe)
{
	return (cqe->flags >> TIMERRING_CQE_OVERRUN_SHIFT) &
	       TIMERRING_CQE_OVERRUN_MASK;
}

/* True if the id stays armed (periodic timer). */
static inline bool timerring_cqe_more(const struct io_uring_cqe *cqe)
{
	return cqe->flags & TIMERRING_CQE_F_MORE;
}

/*
 * True if @cqe belongs to an older arm of its id than the one whose
 * ARM/MODIFY result (or generation) is @current_gen.
 */
static inline bool timerring_cqe_is_stale(const struct io_uring_cqe *cqe,
					  __u32 current_gen)
{
	return timerring_cqe_gen(cqe) !=
	       (current_gen & TIMERRING_RES_GEN_MASK);
}

#ifdef __cplusplus
}
#endif

#endif /* _TIMERRING_LIB_H */
