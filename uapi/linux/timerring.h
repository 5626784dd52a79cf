/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * timerring: batched timers with an io_uring-compatible completion ring.
 *
 * Usage in short:
 *
 *	fd = open("/dev/timerring", O_RDWR | O_CLOEXEC);
 *	struct timerring_params p = {
 *		.max_timers = 1 << 20,
 *		.clockid = CLOCK_MONOTONIC,
 *		.numa_node = TIMERRING_NODE_CURRENT,
 *	};
 *	ioctl(fd, TIMERRING_IOC_SETUP, &p);
 *	ring = mmap(NULL, p.mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED,
 *		    fd, p.mmap_offset);
 *	... fill struct timerring_op[] and ioctl(fd, TIMERRING_IOC_SUBMIT, &s);
 *	... consume struct io_uring_cqe at ring + p.cq_off.cqes
 *
 * Every ioctl argument struct is extensible: the size encoded in the ioctl
 * number is the size userspace was built with. It must be at least the
 * struct's TIMERRING_*_SIZE_VER0 below (else EINVAL) and at most 4096
 * (else E2BIG). The kernel accepts a larger (newer) struct only if the
 * bytes it does not know are zero (else E2BIG), as copy_struct_from_user()
 * does; VERSION and STATS are never read, so their tail is just zeroed.
 * Every reserved field must be zero (else EINVAL). Output fields are
 * written back up to the size given.
 *
 * A call that fails changes nothing: no instance state, no ring, no
 * statistic, no memory held or charged (below). The one exception is
 * SUBMIT, which applies ops in order and reports how far it got (see
 * struct timerring_submit); there an op that fails, or one past done,
 * changes nothing either.
 *
 * Access. /dev/timerring is created with mode 0600 (root only). The udev
 * rule installed by `make install` and by the DKMS package (60-timerring
 * .rules) gives it to group "timerring" with mode 0660, as /dev/kvm is
 * given to group "kvm": add the users who may run timers to that group.
 *
 * Memory budget. Every byte an instance pins in the kernel is charged to
 * the real uid that opened it: the instance itself (~60 KiB, at open),
 * the rings, their page array, the id-table and wheel directories, the
 * submit buffers and any shard beyond the first (at SETUP; see "Shards"),
 * each 3 KiB table chunk of 128 ids (on the first
 * ARM or MODIFY of an id in it that succeeds), each 2 KiB interval array
 * (on a chunk's first periodic timer) and the 4 KiB pages in which the wheel keeps its
 * references to armed timers (about 4.7 bytes per armed timer, added by
 * the SUBMIT whose ops need them; kept until close; under heavy MODIFY and
 * CANCEL churn at most about 17 bytes per id of max_timers plus 400 KiB). All instances of one
 * uid together may pin at most the module parameter max_user_bytes
 * (run-time writable in /sys/module/timerring/parameters; default 1/16 of
 * RAM, at least 64 MiB: 10^6 timers need ~29 MiB). A charge over the budget fails with ENOSPC:
 * open(), SETUP, or the ARM/MODIFY op that needed the memory. Tasks with
 * CAP_SYS_RESOURCE are charged but not limited. Everything is also
 * accounted to the memory cgroup of the task whose call allocated it
 * (open, SETUP, ARM, MODIFY, EVENTFD), whose limit gives ENOMEM: the
 * module's allocations never invoke the OOM killer. Memory is returned
 * when the last reference to the file goes (close of the last fd and
 * munmap of the last mapping); until then the instance lives on, its
 * armed timers fire into the ring, and any mapping left can read and
 * consume it.
 *
 * Expiry work in soft-IRQ context is bounded per CPU and per jiffy for all
 * instances together, however many are due at once; the rest runs in
 * work items (process context) on the instance's node. This moves no
 * expiry earlier and loses none; under such a load it may be later.
 */
#ifndef _UAPI_LINUX_TIMERRING_H
#define _UAPI_LINUX_TIMERRING_H

#include <linux/types.h>
#include <linux/ioctl.h>
#include <linux/const.h>

#define TIMERRING_DEV_NAME	"timerring"
#define TIMERRING_API_VERSION	1

/* Setup flags (timerring_params.flags). */
/* Clamp cq_entries / max_timers to the limits instead of failing. */
#define TIMERRING_SETUP_CLAMP		_BITUL(0)
/*
 * Add a submission ring to the mapping (see "The submission ring" below);
 * needs a timerring_params of at least TIMERRING_PARAMS_SIZE_VER1 bytes.
 */
#define TIMERRING_SETUP_SQ		_BITUL(1)
/*
 * How the big batches of a sharded instance are applied (see "Parallel
 * big batches" below): never in parallel, or always when they can be.
 * Without either, the instance's cost model chooses. With both, NEVER
 * wins (so that TIMERRING_SETUP_ALL is a valid SETUP).
 */
#define TIMERRING_SETUP_PAR_NEVER	_BITUL(2)
#define TIMERRING_SETUP_PAR_ALWAYS	_BITUL(3)
#define TIMERRING_SETUP_ALL		(TIMERRING_SETUP_CLAMP | \
					 TIMERRING_SETUP_SQ | \
					 TIMERRING_SETUP_PAR_NEVER | \
					 TIMERRING_SETUP_PAR_ALWAYS)

/* numa_node value meaning "the node of the CPU calling SETUP". */
#define TIMERRING_NODE_CURRENT		(-1)

/*
 * Shards (timerring_params.shards, VER2). An instance of N shards is N
 * timing wheels, each with its own lock, hrtimer, id-table memory and
 * completion ring, so that submitters of one instance on different CPUs
 * work in parallel. Timer id i lives in shard TIMERRING_SHARD_OF(i, N):
 * ids are dealt out to the shards 128 at a time, so ids allocated in
 * order spread over all shards, and a thread that takes its ids from one
 * shard's blocks never meets another's lock.
 *
 *   shards = 0 or 1	one shard: the instance of VER0 and VER1
 *   shards = N		N shards, 2 <= N <= TIMERRING_SHARDS_MAX and at most
 *			one per 128 ids of max_timers (else EINVAL, or the
 *			nearest with TIMERRING_SETUP_CLAMP)
 *   TIMERRING_SHARDS_AUTO	one per online CPU at SETUP, within the same
 *			limits (1 with TIMERRING_SETUP_SQ): a network stack
 *			runs one thread per CPU, and its threads scale only
 *			if there are at least as many shards as threads
 *
 * With N > 1, shard k is placed on the NUMA node of the k-th online CPU
 * (counting round): its wheel, id table and pool pages are allocated
 * there, its hrtimer is started from a CPU of that node and its work
 * items run there. numa_node places what the shards share (the batch
 * buffers); the rings are on it too.
 *
 * Every shard has a completion ring of cq_entries CQEs with the layout of
 * cq_off; ring k starts cq_stride * k bytes into the mapping (mmap_size
 * covers all of them). Each is a complete io_uring-style ring that
 * liburing's CQ helpers consume (point a struct io_uring_cq at it); the
 * CQEs of a timer always go to its shard's ring, in the order they
 * expire, so per timer the order is that of one ring. Across rings there
 * is no order: consume them all. A full ring holds back only its own
 * shard's expirations. poll() and WAIT count the CQEs of all rings
 * together (min_complete is at most cq_entries); the eventfd is signalled
 * by any of them; the CQ_F_EVENTFD_DISABLED flag of ring 0 applies to all.
 * STATS sums the shards.
 *
 * A SUBMIT of N shards applies the ops of each shard in their order, and
 * the shards' ops of one chunk in parallel with other submitters; ops on
 * one id are therefore applied in the order given, and the results and
 * done are exactly as for one shard. With TIMERRING_SUBMIT_STOP_ON_ERROR
 * every op is applied in the order given. A CANCEL_ALL takes effect in all
 * shards at one instant. TIMERRING_SETUP_SQ needs shards <= 1 (else
 * EINVAL).
 *
 * Memory: each shard beyond the first is charged ~56 KiB (its wheel); each
 * shard has its own id-table directories (16 bytes per 128 ids of
 * max_timers, and 8 bytes per 4 KiB page its wheel may use), its ring and
 * a submit buffer (~17 KiB, ~31 KiB with more than one shard).
 */
/*
 * Parallel big batches. A SUBMIT of more than 256 ops to an instance of
 * more than one shard, without TIMERRING_SUBMIT_STOP_ON_ERROR and not
 * issued through io_uring's registered buffers or inline, can be applied
 * in parallel: the submitter and up to min(shards, online CPUs, 8) - 1
 * kernel workers (on the nodes of shards 1, 2, ...) each copy in, prepare
 * and split chunks of 256 ops of their own, and apply the chunks' shard
 * segments, each shard's in the order of the chunks, a free participant
 * taking the pending segment of any shard. Each participant needs one of
 * the instance's submit buffers (one per shard): with none free beside
 * the submitter's (or one CPU online), the batch is applied inline. The
 * submitter returns once every worker has ended. The workers read the ops
 * and write the results in the submitter's address space, and allocate
 * as its memory cgroup. Results, done, failed, the CQEs and the handling
 * of faults, signals and CANCEL_ALL are exactly as inline; so are the
 * memory budget and its errors. A fault injected for the submitting task
 * (fail-nth) applies only to what that task does itself.
 *
 * Which way a batch goes: TIMERRING_SETUP_PAR_NEVER (never in parallel),
 * TIMERRING_SETUP_PAR_ALWAYS (whenever it can be), else the module
 * parameter "parallel" (-1: never; N > 0: from N ops; 0, the default:
 * learned). Learned, each instance measures what its batches cost either
 * way (ps per op inline; ps per op and a fixed cost for starting and
 * ending the workers in parallel) and applies in parallel the batches of
 * at least the break-even size, fixed / (inline - parallel per op); it
 * tries each way first, and every 16th batch the other way. STATS reports
 * the mode, the break-even and the costs (par_* below), the tracepoint
 * timerring:timerring_tier every such batch.
 */
#define TIMERRING_PAR_LEARNED		0U
#define TIMERRING_PAR_NEVER		1U
#define TIMERRING_PAR_ALWAYS		2U
#define TIMERRING_PAR_FIXED		3U
/* par_breakeven when no batch goes in parallel. */
#define TIMERRING_PAR_NONE		0xffffffffU

#define TIMERRING_SHARDS_MAX		64U
#define TIMERRING_SHARDS_AUTO		0xffffffffU
#define TIMERRING_SHARD_IDS		128U
#define TIMERRING_SHARD_OF(id, shards)	(((id) / TIMERRING_SHARD_IDS) % (shards))

/*
 * Limits of timerring_params (the module may lower the maxima). cq_entries
 * is rounded up to a power of two; below TIMERRING_CQ_ENTRIES_MIN or above
 * the module's cap it fails with EINVAL, or is clamped with
 * TIMERRING_SETUP_CLAMP. max_timers above the cap: the same.
 */
#define TIMERRING_CQ_ENTRIES_MIN	64U
#define TIMERRING_CQ_ENTRIES_DEFAULT	4096U
#define TIMERRING_CQ_ENTRIES_MAX	0x400000U	/* 2^22 */
#define TIMERRING_MAX_TIMERS_MAX	0x40000000U	/* 2^30 */
#define TIMERRING_RES_NS_MIN		1000ULL
#define TIMERRING_RES_NS_DEFAULT	1000000ULL
#define TIMERRING_RES_NS_MAX		1000000000ULL
#define TIMERRING_BATCH_MAX		65536U
/* sq_entries: rounded up to a power of two like cq_entries. */
#define TIMERRING_SQ_ENTRIES_MIN	64U
#define TIMERRING_SQ_ENTRIES_MAX	0x10000U	/* 2^16 */
#define TIMERRING_SQ_IDLE_MS_DEFAULT	1000U
#define TIMERRING_SQ_IDLE_MS_MAX	60000U
/* The SQ poll period is max(resolution_ns, this). */
#define TIMERRING_SQ_POLL_NS_MIN	100000ULL

/* Feature bits reported in timerring_params.features. */
#define TIMERRING_FEAT_PERIODIC		_BITUL(0)
#define TIMERRING_FEAT_SLACK		_BITUL(1)
#define TIMERRING_FEAT_TIMENS		_BITUL(2)
#define TIMERRING_FEAT_EVENTFD		_BITUL(3)
#define TIMERRING_FEAT_NODROP		_BITUL(4)
#define TIMERRING_FEAT_SQ		_BITUL(5)
#define TIMERRING_FEAT_SHARDS		_BITUL(6)

/*
 * Offsets of the completion ring fields inside the mapping. The first nine
 * fields have exactly the layout of struct io_cqring_offsets, so code that
 * fills a liburing struct io_uring_cq from io_cqring_offsets can fill it
 * from this struct the same way.
 */
struct timerring_cq_offsets {
	__u32 head;		/* __u32, written by userspace (release) */
	__u32 tail;		/* __u32, written by the kernel (release) */
	__u32 ring_mask;	/* __u32, ring_entries - 1 */
	__u32 ring_entries;	/* __u32, a power of two */
	__u32 overflow;		/* __u32, CQEs dropped: always 0 (NODROP) */
	__u32 cqes;		/* struct io_uring_cqe[ring_entries] */
	__u32 flags;		/* __u32, written by userspace, see CQ_F */
	__u32 resv1;
	__u64 user_addr;	/* always 0: the kernel allocates the ring */
	/* timerring extensions */
	__u32 kflags;		/* __u32, written by the kernel, see KFLAG */
	__u32 overflow_pending;	/* __u32, expirations waiting for space */
	__u64 resv2;
};

/* Kernel-written ring flags (at cq_off.kflags). */
/* Expirations wait on the overflow list: consume CQEs, then call WAIT. */
#define TIMERRING_KFLAG_CQ_OVERFLOW	_BITUL(0)

/* User-written ring flags (at cq_off.flags), like IORING_CQ_EVENTFD_*. */
#define TIMERRING_CQ_F_EVENTFD_DISABLED	_BITUL(0)

/*
 * Offsets of the submission ring fields inside the mapping (with
 * TIMERRING_SETUP_SQ; all zero without). The layout is that of struct
 * io_sqring_offsets, with ops where io_uring has its index array: the ops
 * are in the ring itself, as with IORING_SETUP_NO_SQARRAY.
 */
struct timerring_sq_offsets {
	__u32 head;		/* __u32, written by the kernel (release) */
	__u32 tail;		/* __u32, written by userspace (release) */
	__u32 ring_mask;	/* __u32, ring_entries - 1 */
	__u32 ring_entries;	/* __u32, a power of two */
	__u32 flags;		/* __u32, written by the kernel: SQ_NEED_WAKEUP */
	__u32 dropped;		/* __u32, malformed ops consumed (see below) */
	__u32 ops;		/* struct timerring_op[ring_entries] */
	__u32 resv1;
	__u64 user_addr;	/* always 0: the kernel allocates the ring */
};

/* Kernel-written SQ ring flags (at sq_off.flags). */
#define TIMERRING_SQ_NEED_WAKEUP	_BITUL(0)

/*
 * TIMERRING_IOC_SETUP argument. SETUP is done once per open file; on
 * success every out field is written. Errors: EINVAL (a field out of range
 * or a reserved field set, an unknown flag or clockid, an offline node,
 * TIMERRING_SETUP_SQ with a struct smaller than TIMERRING_PARAMS_SIZE_VER1,
 * sq_entries or sq_idle_ms set without it, shards out of range or with
 * TIMERRING_SETUP_SQ),
 * EBUSY (already set up), ENOSPC (over the uid's memory budget), ENOMEM,
 * EFAULT (the struct cannot be read or written back: then the instance is
 * left not set up, and SETUP may be retried), EINTR (a fatal signal while
 * another call of the instance holds it). The fields are checked first:
 * a second SETUP with a bad field gets EINVAL, with good ones EBUSY.
 */
struct timerring_params {
	__u32 cq_entries;	/* in: 0 = default; out: actual, power of 2 */
	__u32 max_timers;	/* in: ids are [0, max_timers); out: actual */
	__u32 clockid;		/* CLOCK_MONOTONIC or CLOCK_BOOTTIME */
	__u32 flags;		/* TIMERRING_SETUP_* */
	__u64 resolution_ns;	/* in: tick length, 0 = 1 ms; out: actual */
	__s32 numa_node;	/* in: node or TIMERRING_NODE_CURRENT; out */
	__u32 features;		/* out: TIMERRING_FEAT_* */
	__u64 mmap_offset;	/* out: pass to mmap() */
	__u64 mmap_size;	/* out: length to pass to mmap() */
	struct timerring_cq_offsets cq_off;	/* out */
	__u64 resv[4];		/* must be zero */
	/* VER1: the submission ring, with TIMERRING_SETUP_SQ (else 0) */
	__u32 sq_entries;	/* in: 0 = cq_entries; out: actual */
	__u32 sq_idle_ms;	/* in: 0 = default; out: actual */
	struct timerring_sq_offsets sq_off;	/* out */
	/* VER2: shards (see "Shards" above) */
	__u32 shards;		/* in: 0 = 1, N or SHARDS_AUTO; out: actual */
	__u32 resv2;		/* must be zero */
	__u64 cq_stride;	/* out: bytes from a shard's CQ ring to the next */
};

#define TIMERRING_PARAMS_SIZE_VER0	136
#define TIMERRING_PARAMS_SIZE_VER1	184
#define TIMERRING_PARAMS_SIZE_VER2	200

/*
 * Opcodes (timerring_op.opcode). Every op can also fail with EINVAL (an
 * unknown opcode or flag, resv set, a field the opcode does not use set,
 * an interval below the resolution) and ERANGE (id >= max_timers); ARM
 * and MODIFY also with ENOSPC (the id's table chunk or interval array, or
 * the wheel's page the op needs, are over the uid's memory budget) and
 * ENOMEM. An ARM of an armed id fails with EEXIST whatever memory it
 * would have needed.
 */
enum {
	/*
	 * Arm an idle id. Result: the new generation (>= 0), or -EEXIST if
	 * the id is armed (or its expiration waits for ring space).
	 */
	TIMERRING_OP_ARM = 0,
	/*
	 * Re-arm an id whether it is armed or not (mod_timer semantics).
	 * Result: new generation | TIMERRING_RES_REARMED if a pending arm
	 * (or an expiration still waiting for ring space) was replaced: that
	 * arm then ends here and never produces a CQE.
	 */
	TIMERRING_OP_MODIFY = 1,
	/*
	 * Cancel an armed id. Result: 0, or -ENOENT if it was not armed
	 * (never armed, already delivered, or already cancelled). A pending
	 * expiration on the overflow list is withdrawn and reports 0.
	 * expiry, user_data, interval and flags must be zero.
	 */
	TIMERRING_OP_CANCEL = 2,
	/*
	 * Cancel every armed id, pending expirations included. id, expiry,
	 * user_data, interval and flags must be zero. Result: the number
	 * cancelled. Its cost is O(armed timers), not O(max_timers).
	 */
	TIMERRING_OP_CANCEL_ALL = 3,
	TIMERRING_OP_LAST,
};

/* Op flags (timerring_op.flags). */
/* expiry is absolute on the instance clock (ns), else relative to now. */
#define TIMERRING_OPF_ABS		_BITUL(0)
/*
 * May fire up to 1/8 of its timeout late (at least one tick), so that it
 * never needs to cascade: for idle timers that are mostly cancelled.
 */
#define TIMERRING_OPF_SLACK		_BITUL(1)
#define TIMERRING_OPF_ALL		(TIMERRING_OPF_ABS | TIMERRING_OPF_SLACK)

/*
 * One op of a batch: 32 bytes. Ops of a batch are applied in array order,
 * each on its own: a failing op changes nothing and does not stop the
 * others, so duplicate ids in one batch behave as the same ops issued one
 * after the other.
 */
struct timerring_op {
	__u8  opcode;		/* TIMERRING_OP_* */
	__u8  flags;		/* TIMERRING_OPF_* */
	__u16 resv;		/* must be zero */
	__u32 id;		/* < max_timers */
	__u64 expiry;		/* ns, see TIMERRING_OPF_ABS */
	__u64 user_data;	/* returned in the expiration CQE */
	__u64 interval;		/* ns; non-zero: periodic, >= resolution */
};

/*
 * Periodic timers keep their period on a nanosecond grid: period k is due
 * at expiry + k * interval exactly (expiry as converted to the instance
 * clock when the op is applied), and each fires at the first tick at or
 * after its due time. The long-run rate is therefore exactly one per
 * interval, whatever the resolution, and no period fires early. Periods
 * whose due time passed before the CQE of an earlier one could be written
 * are not delivered one by one but counted as overruns.
 */

/* Results of ARM and MODIFY. */
#define TIMERRING_RES_GEN_MASK		0xffffU
#define TIMERRING_RES_REARMED		_BITUL(16)

/* TIMERRING_SUBMIT_* flags (timerring_submit.flags). */
/* Stop at the first failing op (its result is still written). */
#define TIMERRING_SUBMIT_STOP_ON_ERROR	_BITUL(0)
#define TIMERRING_SUBMIT_ALL		(TIMERRING_SUBMIT_STOP_ON_ERROR)

/*
 * TIMERRING_IOC_SUBMIT argument. Ops are applied in order, in chunks of
 * 256. The ioctl returns 0 once ops were processed (see done), or a
 * negative errno if none was: EINVAL for a bad submit struct, nr >
 * TIMERRING_BATCH_MAX or an instance not set up; EFAULT if the struct, the
 * ops or the results cannot be accessed. Before the first op is applied the
 * kernel checks that the whole results array (if any) and the struct can be
 * written. If ops fault part way, the ops before done have been applied,
 * their results are written, done says so, and the ioctl returns 0.
 * results[done..nr) are left as they were. EFAULT after ops were applied
 * happens only if another thread unmaps or write-protects the results or
 * the struct during the call.
 *
 * A fatal signal (SIGKILL) stops the batch between chunks, with done exact
 * as for a fault, and interrupts the wait for another submitter of the
 * same instance (then EINTR, nothing processed). Other signals do not
 * interrupt a batch. A chunk is at most 256 ops, and a CANCEL_ALL costs
 * O(armed timers), so a batch stops within a bounded time.
 */
struct timerring_submit {
	__u64 ops;		/* user pointer to struct timerring_op[nr] */
	__u64 results;		/* user pointer to __s32[nr], or 0 */
	__u32 nr;		/* number of ops */
	__u32 flags;		/* TIMERRING_SUBMIT_* */
	__u32 done;		/* out: ops processed (applied or failed) */
	__u32 failed;		/* out: ops among them that failed */
	__u64 resv[2];		/* must be zero */
};

#define TIMERRING_SUBMIT_SIZE_VER0	48

/*
 * IORING_OP_URING_CMD on a timerring fd: the same batches as
 * TIMERRING_IOC_SUBMIT, submitted through an io_uring SQE.
 *
 *	sqe->opcode	IORING_OP_URING_CMD
 *	sqe->fd		the timerring fd (or its fixed-file index)
 *	sqe->cmd_op	TIMERRING_URING_CMD_SUBMIT
 *	sqe->uring_cmd_flags	0, or IORING_URING_CMD_FIXED
 *	sqe->buf_index	with IORING_URING_CMD_FIXED: the registered buffer
 *	sqe->cmd	struct timerring_uring_cmd (16 bytes: fits a normal
 *			SQE; with IORING_SETUP_SQE128 the other 64 bytes of
 *			the 80-byte command area are reserved, must be zero)
 *
 * The batch is one array at addr: struct timerring_op ops[nr], followed,
 * with TIMERRING_URING_RESULTS, by __s32 results[nr] (at addr + 32 * nr).
 * Ops are applied exactly as by TIMERRING_IOC_SUBMIT (in order, in chunks
 * of 256, each op's result as there; TIMERRING_SUBMIT_STOP_ON_ERROR as
 * there). The CQE's res is the number of ops processed (applied or
 * failed, SUBMIT's done), or a negative errno if none was: EINVAL (a flag
 * or a reserved byte set, nr > TIMERRING_BATCH_MAX, the instance not set
 * up), EFAULT (the ops or the results cannot be accessed; with
 * IORING_URING_CMD_FIXED, the batch is not inside the registered buffer
 * or buf_index is not registered), EINTR (a fatal signal while waiting for
 * another submitter), ENOTTY (a cmd_op other than
 * TIMERRING_URING_CMD_SUBMIT and TIMERRING_URING_CMD_SQ_ENTER). A fault
 * part way, or a fatal signal, ends the batch between chunks as for
 * SUBMIT, with res = ops processed.
 * res = -EFAULT after ops were applied happens only if another thread
 * unmaps or write-protects the results during the call. In a ring set
 * up with IORING_SETUP_CQE32 the CQE's big_cqe[0] is the number of ops
 * that failed (SUBMIT's failed; 0 with a negative res).
 *
 * The command is read from the SQE once, when it is first issued, and a
 * command that io_uring retries from its worker threads uses the
 * module's copy, so an SQE reused once io_uring_enter() has returned does
 * not change a submitted command. (The io_uring of some kernels, 6.12
 * among them, first issues a linked or drained URING_CMD, IOSQE_IO_LINK
 * before it or IOSQE_IO_DRAIN on it, from the SQ ring after
 * io_uring_enter() returned: such an SQE must not be reused before its
 * CQE.)
 *
 * Fixed buffers (IORING_URING_CMD_FIXED): addr is an address inside the
 * buffer registered at buf_index (io_uring_register_buffers()), and the
 * whole batch, ops and results, must lie inside it (else EFAULT). The ops
 * are read from, and the results written to, the registered pages: no
 * user copy, no page fault.
 *
 * Issued inline by io_uring_enter() (IO_URING_F_NONBLOCK), a command
 * never sleeps: it is applied there if it has at most 256 ops, all of
 * one shard (see "Shards"), no CANCEL_ALL, a submit buffer of the
 * instance and that shard's lock are free, its ops are in memory
 * and its results in anonymous memory mapped writable (or both are in a
 * registered buffer), and no id table chunk, interval array or wheel page
 * has to be allocated for it. Otherwise nothing is applied inline: a
 * command of at most 256 ops then runs from the submitting task's task
 * work, as it returns from io_uring_enter() (or, with
 * IORING_SETUP_DEFER_TASKRUN, as it next waits for completions), and a
 * bigger one from one of io_uring's worker threads (io-wq); either may
 * sleep like SUBMIT. Either way the CQE is the same; one whose task is
 * exiting gets res -ECANCELED. As with any io_uring requests, commands
 * of one submission are applied in order only if they are linked
 * (IOSQE_IO_LINK): one that cannot run inline is overtaken by those that
 * can.
 * IORING_SETUP_IOPOLL rings are not supported (EOPNOTSUPP, from io_uring).
 */
struct timerring_uring_cmd {
	__u64 addr;		/* struct timerring_op[nr] (+ __s32[nr]) */
	__u32 nr;		/* number of ops, <= TIMERRING_BATCH_MAX */
	__u32 flags;		/* TIMERRING_SUBMIT_* | TIMERRING_URING_* */
};

#define TIMERRING_URING_CMD_SIZE	16

/* Write the per-op results after the ops (timerring_uring_cmd.flags). */
#define TIMERRING_URING_RESULTS		_BITUL(16)
#define TIMERRING_URING_ALL		(TIMERRING_SUBMIT_ALL | \
					 TIMERRING_URING_RESULTS)

/*
 * The submission ring (TIMERRING_SETUP_SQ). SETUP then adds an SQ ring of
 * sq_entries ops to the mapping, after the CQ ring, at the offsets in
 * sq_off, and reports TIMERRING_FEAT_SQ; mmap_size covers both rings.
 * sq_entries 0 means cq_entries, at most TIMERRING_SQ_ENTRIES_MAX; it is
 * rounded up to a power of two, and below TIMERRING_SQ_ENTRIES_MIN or
 * above TIMERRING_SQ_ENTRIES_MAX fails with EINVAL (or is clamped, with
 * TIMERRING_SETUP_CLAMP). sq_idle_ms 0
 * means TIMERRING_SQ_IDLE_MS_DEFAULT; above TIMERRING_SQ_IDLE_MS_MAX,
 * EINVAL. The ring costs 32 bytes an entry, charged like the CQ ring.
 *
 * Producing is as in io_uring's SQ ring: write a struct timerring_op at
 * ops[tail & ring_mask] for each op, then store the new tail with
 * store-release. The kernel consumes ops in ring order and then stores
 * head past them with store-release, after it published the error CQEs
 * of those that failed: once head (load-acquire) is past an op, its
 * error CQE, if it has one, is below the CQ ring's tail read after it,
 * so an op with none there succeeded. A slot may be rewritten once head
 * has passed it. The ring is untrusted input: the kernel reads each op
 * once, into its own memory, before it checks it; it keeps its own head,
 * mask and size and never reads them back; a tail more than ring_entries
 * ahead of its head counts as exactly ring_entries ops (whatever they
 * hold). A scribbled ring can only fail its own ops. The ring has one
 * producer: threads or processes (after fork()) that share it must take
 * turns. Ops still in the ring when the instance goes are not applied.
 *
 * Who consumes it:
 *  - the doorbell: TIMERRING_IOC_SQ_ENTER, or IORING_OP_URING_CMD with
 *    cmd_op TIMERRING_URING_CMD_SQ_ENTER (its sqe->cmd must be zero and
 *    uring_cmd_flags 0, else EINVAL, or EFAULT from io_uring itself for a
 *    buf_index with no registered buffer; in a CQE32 ring big_cqe[0] is
 *    0).
 *    When it returns, every op published before it was applied,
 *    up to one ring's worth (unless the CQ ring is full, below); it
 *    returns how many it applied itself (the ioctl's return value, the
 *    CQE's res), which may be fewer: a polling pass (below) may apply
 *    some meanwhile. Errors: EINVAL (the instance not set up, or set up
 *    without an SQ ring), EINTR (a fatal signal while another call of
 *    the instance holds it; then nothing was consumed; a fatal signal
 *    later ends it early, between steps). From io_uring's
 *    inline issue (IO_URING_F_NONBLOCK) it never sleeps: if an op it
 *    cannot apply there (below) comes first, the doorbell runs again from
 *    the submitting task's task work (as a URING_CMD batch does); if it
 *    comes later, it and the ops after it are left to the instance's
 *    work item and not counted in res.
 *  - every expiry pass of the instance (the hrtimer's soft-IRQ, or the
 *    work item it continues in), which consumes the ops published before
 *    it expires anything.
 * So a stack whose timers keep falling due arms, re-arms and cancels
 * without a syscall. After an op is consumed, passes keep coming at least
 * once every poll period, max(resolution_ns, TIMERRING_SQ_POLL_NS_MIN),
 * due timers or not, for sq_idle_ms. Then the kernel sets
 * TIMERRING_SQ_NEED_WAKEUP in the SQ ring's flags (it is set from SETUP
 * until the first op is consumed) and stops polling: ops
 * published while it is set wait for the next due timer, or for a
 * doorbell. Consuming an op clears it. The handshake is that of
 * io_uring's SQPOLL: publish tail, a full barrier, read flags, and ring
 * the doorbell if NEED_WAKEUP is set (as liburing's sq_ring_needs_enter()
 * does); the kernel sets the flag, has a full barrier, then reads tail
 * once more and clears the flag again if ops came. While it is clear, an
 * op published is consumed within one poll period, plus the timer and
 * scheduling latency of the system.
 *
 * Ops from the ring are applied one by one exactly as by SUBMIT, except:
 *  - a relative expiry is relative to the instance clock as read by the
 *    pass or doorbell that applies the op, so never before the op was
 *    published, and up to a poll period later than that. For an exact
 *    time use TIMERRING_OPF_ABS, which is on the instance clock as seen
 *    from the time namespace of the task that called SETUP;
 *  - they count in STATS as SUBMIT's ops do (armed_total, ops_failed,
 *    ...), and in sq_ops_total, not in batches;
 *  - an op that succeeds posts nothing: ARM's generation is not
 *    returned (put a sequence number of your own in user_data to tell a
 *    stale expiration);
 *  - an op that fails posts an error CQE (below); one that is malformed
 *    (EINVAL or ERANGE) is also counted in the SQ ring's dropped;
 *  - an op is consumed only when the CQ ring has a free slot for its
 *    error CQE, so a full CQ ring holds the SQ ring back (head does not
 *    move): consume CQEs, and the next pass or doorbell goes on;
 *  - an op that cannot be applied in soft-IRQ, a CANCEL_ALL or one that
 *    needs memory (a table chunk, an interval array or a wheel page: see
 *    "Memory budget"), stops a pass there; the instance's work item
 *    (process context) applies it and goes on at once. Its memory is
 *    charged to the opener's budget and to the memory cgroup of the task
 *    that called SETUP (for a doorbell that applies it, its caller's).
 *
 * Error CQE of an op from the SQ ring:
 *	user_data	the op's user_data
 *	res		-errno, as SUBMIT's result for that op
 *	flags		TIMERRING_CQE_F_SQ_ERR | opcode << 8 |
 *			(the op's ring index, the head it was read at,
 *			mod 2^16) << 16
 * Error CQEs are ordered among themselves as their ops, and go into the
 * CQ ring with the expirations of the pass that applied them.
 */

/*
 * Expiration CQE (struct io_uring_cqe):
 *	user_data	timerring_op.user_data of the arm that fired
 *	res		the timer id (ids are < 2^30, so res >= 0)
 *	flags		TIMERRING_CQE_F_* | overruns << 8 | generation << 16
 * A periodic timer sets TIMERRING_CQE_F_MORE (its id stays armed) and counts
 * in overruns (saturating at 255) the periods it missed since the previous
 * CQE. generation is the low 16 bits of the id's generation, returned by
 * the ARM or MODIFY that armed it: a CQE whose generation differs from the
 * one last returned for that id is stale (the id was re-armed after it
 * fired and before the CQE was read). CQEs come in the order of the ticks
 * their timers were due at; among timers due at the same tick the order
 * is unspecified.
 */
#define TIMERRING_CQE_F_MORE		_BITUL(1)	/* = IORING_CQE_F_MORE */
#define TIMERRING_CQE_F_PERIODIC	_BITUL(4)
#define TIMERRING_CQE_F_SQ_ERR		_BITUL(5)	/* see the SQ ring */
#define TIMERRING_CQE_OPCODE_SHIFT	8		/* of an error CQE */
#define TIMERRING_CQE_OVERRUN_SHIFT	8
#define TIMERRING_CQE_OVERRUN_MASK	0xffU
#define TIMERRING_CQE_GEN_SHIFT		16

/*
 * TIMERRING_IOC_WAIT argument. WAIT first posts expirations waiting for
 * ring space, then sleeps until min_complete CQEs are ready (EINVAL if
 * min_complete > cq_entries, a flag or resv set, or the instance not set
 * up), the timeout passes (ETIME) or a signal arrives (EINTR). ready is
 * written on ETIME and EINTR too. EFAULT: the struct cannot be accessed.
 */
struct timerring_wait {
	__u32 min_complete;	/* wait until this many CQEs are ready */
	__u32 flags;		/* must be zero */
	__s64 timeout_ns;	/* relative; < 0 waits forever, 0 polls */
	__u32 ready;		/* out: CQEs ready on return */
	__u32 resv;		/* must be zero */
};

#define TIMERRING_WAIT_SIZE_VER0	24

/* TIMERRING_IOC_VERSION argument (needs no SETUP). */
struct timerring_version {
	__u32 api_version;	/* out: TIMERRING_API_VERSION */
	__u32 impl;		/* out: TIMERRING_IMPL_* in use for batches */
	__u32 max_timers;	/* out: the module's per-instance cap */
	__u32 max_cq_entries;	/* out: the module's CQ ring cap */
	char  module_version[32];	/* out: NUL-terminated */
};

#define TIMERRING_VERSION_SIZE_VER0	48

/* Batch kernel implementations. */
enum {
	TIMERRING_IMPL_SCALAR = 0,
	TIMERRING_IMPL_AVX2 = 1,
	TIMERRING_IMPL_AVX512 = 2,
};

/*
 * Log2 buckets of the lateness histogram: bucket i counts [2^i, 2^(i+1))
 * us, bucket 0 [0, 2) us, the last one everything above.
 */
#define TIMERRING_LATENCY_BUCKETS	24

/* TIMERRING_IOC_STATS argument (all fields out; EINVAL before SETUP). */
struct timerring_stats {
	__u64 armed_now;
	__u64 armed_total;
	__u64 modified_total;
	__u64 cancelled_total;
	__u64 expired_total;	/* expiration CQEs posted (not error CQEs) */
	__u64 overflowed_total;	/* expirations that went to the overflow list */
	__u64 overflow_now;
	__u64 dropped_total;	/* always 0 */
	__u64 batches;
	__u64 ops_failed;
	__u64 cascades;
	__u64 wakeups;
	__u64 mem_bytes;	/* id table, ring and wheel of this instance */
	__u64 resolution_ns;
	__u32 max_timers;
	__u32 cq_entries;
	__u32 impl;		/* TIMERRING_IMPL_* used by the last batch */
	__u32 drain_impl;	/* TIMERRING_IMPL_* of the last expiry step */
	__u64 lateness_hist[TIMERRING_LATENCY_BUCKETS];
	/* VER1: the SQ ring (0 without one) */
	__u64 sq_ops_total;	/* ops consumed from the SQ ring */
	__u64 sq_failed_total;	/* of them, failed (an error CQE each) */
	__u64 sq_enter_total;	/* doorbells */
	__u64 sq_pass_total;	/* passes (not doorbells) that consumed ops */
	/* VER2: shards; every counter above is the sum over them */
	__u32 shards;
	__u32 resv;
	/* VER3: parallel big batches (see "Parallel big batches") */
	__u64 par_batches;	/* batches applied in parallel */
	__u64 par_stolen;	/* their segments applied off their home */
	__u32 par_mode;		/* TIMERRING_PAR_* in force */
	__u32 par_breakeven;	/* ops from which in parallel, or PAR_NONE */
	__u64 par_inline_ps;	/* learned: ps per op inline (0: no sample) */
	__u64 par_ps;		/* learned: ps per op in parallel */
	__u64 par_fixed_ns;	/* learned: fixed cost of a parallel batch */
};

#define TIMERRING_STATS_SIZE_VER0	320
#define TIMERRING_STATS_SIZE_VER1	352
#define TIMERRING_STATS_SIZE_VER2	360
#define TIMERRING_STATS_SIZE_VER3	408

#define TIMERRING_IOC_MAGIC	0xB7
#define TIMERRING_IOC_VERSION	_IOR(TIMERRING_IOC_MAGIC, 0, struct timerring_version)
#define TIMERRING_IOC_SETUP	_IOWR(TIMERRING_IOC_MAGIC, 1, struct timerring_params)
#define TIMERRING_IOC_SUBMIT	_IOWR(TIMERRING_IOC_MAGIC, 2, struct timerring_submit)
#define TIMERRING_IOC_WAIT	_IOWR(TIMERRING_IOC_MAGIC, 3, struct timerring_wait)
/*
 * Argument: pointer to __s32 eventfd, or -1 to unregister; the size in the
 * ioctl number must be 4 (else EINVAL). Works before SETUP too. Errors:
 * EBADF (not an open fd, or < -1), EINVAL (not an eventfd), EFAULT, ENOMEM,
 * EINTR (a fatal signal while another call of the instance holds it).
 * Replacing or removing an eventfd never waits for an RCU grace period.
 */
#define TIMERRING_IOC_EVENTFD	_IOW(TIMERRING_IOC_MAGIC, 4, __s32)
#define TIMERRING_IOC_STATS	_IOR(TIMERRING_IOC_MAGIC, 5, struct timerring_stats)
/* The SQ ring's doorbell: no argument; returns the ops consumed. */
#define TIMERRING_IOC_SQ_ENTER	_IO(TIMERRING_IOC_MAGIC, 6)

/* sqe->cmd_op of IORING_OP_URING_CMD (see struct timerring_uring_cmd). */
#define TIMERRING_URING_CMD_SUBMIT	_IOWR(TIMERRING_IOC_MAGIC, 0x80, struct timerring_uring_cmd)
/* sqe->cmd_op of the SQ ring's doorbell (see the submission ring). */
#define TIMERRING_URING_CMD_SQ_ENTER	_IO(TIMERRING_IOC_MAGIC, 0x81)

/*
 * Other ioctl numbers give ENOTTY. open() fails with ENOSPC when the uid's
 * memory budget has no room for the instance. mmap() maps the ring: offset
 * 0 (mmap_offset), length at most mmap_size, MAP_SHARED; EINVAL before
 * SETUP, for another offset, a longer length or MAP_PRIVATE, EPERM with
 * PROT_EXEC.
 * The mapping can never become executable (mprotect gives EACCES) and
 * does not grow (mremap gives EFAULT).
 */

#endif /* _UAPI_LINUX_TIMERRING_H */
