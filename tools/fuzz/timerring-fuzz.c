// SPDX-License-Identifier: GPL-2.0
/*
 * timerring-fuzz: a differential fuzzer of the real module against a
 * uapi-level reference model, run in the test VM.
 *
 * What it drives. Random but seeded sequences of: SETUP (parameters in and
 * out of range, a second SETUP), op batches (valid and invalid: ids at and
 * past max_timers, unknown opcodes and flags, resv, expiries of 0, past,
 * far, relative ones that overflow, absolute ones, intervals below and at
 * the resolution, duplicate ids, CANCEL_ALL in the middle, batches over
 * the 256-op chunk, STOP_ON_ERROR, ops that fault part way), WAIT and
 * poll(), the consumer (all, part, nothing: the ring fills and expirations
 * wait on the overflow list), scribbles on the ring's user-writable and
 * kernel-owned fields, munmap and remap, a second mapping, bad mmap(),
 * mprotect() and mremap(), fork() (the child submits on the inherited fd),
 * close and reopen (also close with the mapping still there), bad ioctl
 * numbers and sizes, several threads at once, and batches through the
 * submission ring (below).
 *
 * The model is the header, per id: idle, or armed by one arm (user_data,
 * generation, one-shot or period, and the window of its due time: a
 * relative expiry is due at the kernel's clock for the op's chunk plus
 * expiry, a time in [t0, t1], the clock read before and after the
 * ioctl). Exact results: every errno of a malformed op (tr_uapi_op_errors()
 * in tools/harness/uapi_rules.h, shared with the harness model), ARM's
 * EEXIST, CANCEL's ENOENT, MODIFY's REARMED bit, the generation (the man
 * page: +1 per successful ARM or MODIFY of the id; the first one of an id
 * in an instance is taken as it comes), done and failed, the statistics
 * (expired_total counts expirations, not the SQ ring's error CQEs).
 * A result may go either way only for a one-shot arm whose due time was
 * reached before t1 and whose CQE was not seen before the ioctl; then the
 * result decides, and the CQE stream must agree:
 *
 *	CANCEL 0, MODIFY REARMED	the arm never has a CQE
 *	CANCEL ENOENT, MODIFY plain,	the arm's CQE exists, at a ring
 *	ARM success			position below the tail read after
 *					the ioctl
 *	ARM EEXIST			its CQE, if any, is at or past the
 *					tail read before the ioctl
 *	CANCEL_ALL n			n = certain + maybe - (maybe ones
 *					with a CQE below that tail), checked
 *					once the consumer got there
 *
 * Ring positions order the two streams: a CQE below the tail read before
 * the ioctl was posted before the op, one at or past the tail read after
 * it was posted after. Every CQE: the id and generation of an arm of the
 * model, its user_data, flags (tr_uapi_cqe_flags()), at most one per
 * one-shot arm, none for an arm ended by CANCEL / MODIFY / CANCEL_ALL
 * unless posted before it, and never early: the clock read just after the
 * tail that covers it is at or past the due time (for a periodic timer:
 * of the last period that CQE accounts for, overruns included). At
 * checkpoints (the ring drained, the overflow list flushed by WAIT):
 * every one-shot arm whose latest due time plus its slack, a tick and a
 * grace (-g, default 5 s: TCG and a debug kernel) has passed has its CQE;
 * a periodic one has at least its periods up to then; the counters of
 * STATS equal the model's (armed_now within the maybe ones).
 *
 * The submission ring (instances set up with TIMERRING_SETUP_SQ, random
 * sq_entries and sq_idle_ms): a batch is written into the ring in up to
 * three pieces, each published, and consumed by the doorbell (after
 * every piece, or at the end), by the doorbell only if NEED_WAKEUP is
 * set after the tail (liburing's handshake: else the kernel polls, and
 * the ops must be consumed within the grace), or by the kernel's passes
 * alone for a while. Meanwhile CQEs are taken off the ring but kept; the
 * consumer may stall, the CQ ring fill, and head must then stay put. A
 * doorbell that returns with ops left needs a full CQ ring. Once head is
 * past every op (the time each was seen so is its window's end; its start
 * is the clock before its piece was published), a STATS call (it takes
 * the instance lock: head moves before the CQ tail is published) makes
 * every error CQE visible: one per failed op, naming it (ring index,
 * opcode as written, user_data), in ring order. The model takes the ops in
 * ring order with those results; a success says nothing more: no
 * generation (an id's n-th successful ARM or MODIFY has base + n, the
 * base known from the first ioctl result or CQE of the id, a CQE
 * matched by user_data before that), no REARMED (a maybe-delivered
 * one-shot it replaced may or may not have its CQE), no CANCEL_ALL count
 * (counted once the consumer knows which maybe-armed ones fired).
 * sq_ops_total, sq_failed_total, sq_enter_total and dropped follow the
 * model. Mixed batches run an ioctl SUBMIT on other ids while the SQ ops
 * are in flight. Scribbles: on a kernel-owned field of the SQ ring (head,
 * ring_mask, ring_entries, flags, dropped) across a batch, which must go
 * as without; and a tail far ahead of head or behind it over a ring of
 * known malformed ops: the kernel consumes ring_entries at a time until
 * the CQ ring is full of their error CQEs, a doorbell then consumes
 * nothing, and every op consumed has its error CQE.
 *
 * Shards (params VER2): half the setups ask for shards (90 % in the
 * threads phase): 0, 1, 2, 3, 4, 7, 16, 64 or TIMERRING_SHARDS_AUTO, and
 * out of range (above TIMERRING_SHARDS_MAX, above one per 128 ids of
 * max_timers, with and without TIMERRING_SETUP_CLAMP), with resv2 set,
 * with TIMERRING_SETUP_SQ; half of them with TIMERRING_SETUP_PAR_ALWAYS
 * (every batch past a chunk, one in ten, applied in parallel), some with
 * _PAR_NEVER, and a few with both (valid: NEVER wins). The answer is predicted exactly: EINVAL, or
 * the count (AUTO is min(online CPUs, 64, ceil(max_timers / 128)), and 1
 * with TIMERRING_SETUP_SQ); so are cq_stride (page-aligned, at least a
 * ring) and mmap_size (every ring). A SETUP of VER0 or VER1 size,
 * whatever its shards field holds in memory, has one shard and leaves the
 * VER2 fields unwritten. The model is one per instance; every ring has
 * its own head, tail and positions, and an arm's positions (the window
 * of its op, its CQEs, its bounds) are those of the ring of its shard,
 * TIMERRING_SHARD_OF(id, shards): every CQE must arrive there (an error
 * CQE of the SQ ring only with one shard). The consumer takes all rings,
 * or one; WAIT and poll() must count all of them (a WAIT that times out
 * with min_complete CQEs ready in the rings before it fails); STATS VER2
 * reports the shards. A ring is full on its own: the consumer leaves one
 * ring alone for 50 to 650 steps (it fills, its expirations wait on its
 * overflow list) and meanwhile, and at the end, drains the others: their
 * overflow lists must empty and their due arms have their CQEs, whatever
 * the stalled ring holds back.
 *
 * Threads (-t, the threads phase): submitters own disjoint id ranges
 * (pool index mod threads, or, in half the sessions with at least as
 * many shards as threads, shard mod threads: each thread on its own
 * shards) and take a read lock around submit + model update; CANCEL_ALL
 * batches take it for writing, so they see no submitter in flight. One
 * consumer thread owns the rings (and does the scribbles and remaps
 * there). The model is under one mutex: a CQE whose arm a submitter has
 * not recorded yet waits as an orphan until it is (none may be left at a
 * checkpoint).
 *
 * Reproducible: a session (one instance, open to close) runs from the
 * seed splitmix64(seed + session); the generator never reads the model or
 * the clock for what to do (only absolute expiries are taken from the
 * clock), so the same seed gives the same actions; results that depend on
 * timing are what the model accepts either way. A mismatch prints the
 * seed, the session, the step, the ops of the failing id and the
 * lifecycle steps before it (a shortened sequence), then replays the
 * session with only that id's ops (-i) up to the failing step and says
 * whether it failed again, with its own shorter sequence.
 *
 * Time: -d SECONDS (default: the kernel command line's trfuzz=SECONDS,
 * and trfuzzseed=SEED gives -s,
 * else 120 s on the debug kernel and 20 s elsewhere), split 55 % single
 * thread, 30 % threads, 15 % lifecycle-heavy sessions. Output: TAP, one
 * line per phase with its sessions, ops, CQEs and ops/s, and of the
 * sharded instances: their setups and rings, the CQEs of rings past the
 * first, the rings found full, the stalls checked (full, overflowing),
 * the runs of the threads phase on them.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "timerring.h"
#include "tr_rand.h"
#include "uapi_rules.h"

#define NSEC_PER_MSEC	1000000ULL
#define NSEC_PER_SEC	1000000000ULL
#define ULL(x)		((unsigned long long)(x))

#define MAX_IDS		48		/* ids of the pool per instance */
#define MAX_THREADS	4
#define MAX_BATCH	600
#define LOGN		8192		/* steps kept for the report */
#define ARENA		(1 << 16)	/* arms per session */
#define ORPHANS		4096
#define DEFERS		1024
#define MAX_RINGS	TIMERRING_SHARDS_MAX

/* ------------------------------------------------------------------ */
/* Options and totals */

enum { PH_SINGLE, PH_THREADS, PH_LIFE, PH_N };

static u64 opt_seed;
static double opt_duration = -1;
static int opt_threads = 3;
static u64 opt_grace_ns = 5 * NSEC_PER_SEC;
static int opt_session = -1;		/* replay one session */
static long opt_steps = -1;		/* ... up to this step */
static long long opt_only_id = -1;	/* ... with only this id's ops */
static int opt_verbose;
static unsigned int opt_phases = 7;	/* bit per phase */

struct totals {
	u64 sessions, steps, ops, cqes, batches, forks, remaps, scribbles,
	    waits, setups, ambiguous;
	u64 sq_batches, sq_ops, sq_errs, sq_enters, sq_garbage, sq_polled,
	    sq_held_back, sq_late_errs;
	/* sharded instances */
	u64 sharded, rings, cqes_past0, full_rings, stalls, stall_full,
	    stall_ovf, small_setups, sharded_threads, thread_runs;
};

/* ------------------------------------------------------------------ */
/* The model */

enum { A_LIVE, A_DONE, A_ENDED };

struct arm {
	u32 id, gen;
	u64 ud;
	u64 due_lo, due_hi;	/* window of the (first) due time, ns */
	u64 ival;		/* ns; 0: one-shot */
	u64 late_ns;		/* allowed lateness: slack + a tick */
	u8 state;
	bool forbid;		/* ended while armed: no CQE ever */
	bool must;		/* decided delivered: CQE below bound */
	bool bounded;		/* CQEs only at positions below bound */
	bool maybe_cancelled;	/* CANCEL_ALL could have taken it */
	bool seen;
	bool sat;		/* overruns saturated: periods a lower bound */
	bool has_min;
	bool gen_known;		/* else armed from the SQ ring, base unknown */
	u8 ring;		/* TIMERRING_SHARD_OF(id, shards) */
	u32 seq;		/* successful ARM/MODIFY of the id before it */
	u32 bound, min_pos, seen_pos;
	u64 periods;		/* delivered, overruns included */
	long step;		/* step that armed it */
	u64 t0, t1;		/* the window of the op that armed it */
	u64 hist[4][3];		/* the last CQEs: time, overruns, position */
	struct arm *next;	/* older arms of the id */
};

struct mid {
	u32 id;
	int owner;		/* thread that may submit for it */
	/*
	 * The generation of the id's n-th successful ARM or MODIFY is
	 * base + n: base is known from the first result or CQE that shows
	 * a generation (SQ ops return none).
	 */
	bool base_known;
	u32 base;
	u32 nsucc;
	struct arm *cur;	/* the arm the id has, if any */
	struct arm *arms;	/* newest first */
};

struct defer {
	u32 bound[MAX_RINGS];	/* every ring's tail after the CANCEL_ALL */
	u32 certain, nmaybe;
	s32 result;
	long step;
	bool sq;		/* result unknown: counted when resolved */
	struct arm **maybe;
};

struct orphan {
	struct io_uring_cqe cqe;
	u32 pos;		/* in the ring of the CQE's id */
	u64 t;
};

/* One shard's completion ring, and the consumer's state of it. */
struct ring {
	u32 *khead, *ktail, *kflags, *kovf_pending;
	struct io_uring_cqe *cqes;
	u32 head;		/* next position to consume */
	u32 tail0;		/* the tail of the new ring */
	u32 last_tail;
	u32 cq_given;		/* the head given back to the kernel */
};

struct logent {
	long step;
	int thread;
	char kind;		/* O op, S setup, L lifecycle, W wait, ... */
	bool sq;		/* an op from the SQ ring */
	u8 opcode, flags;
	u16 resv;
	u32 id;
	u64 a, b, c;		/* expiry, user_data, interval / other */
	s64 res;
};

struct fz {
	/* the instance */
	int fd;
	struct timerring_params p;
	char *ring;
	size_t ring_len;
	struct ring r[MAX_RINGS];
	u32 nrings;		/* p.shards */
	u32 rot;		/* the ring the consumer starts with */
	int stall;		/* the ring the consumer leaves alone, or -1 */
	long stall_end;		/* ... up to this step */
	bool mapped;
	struct timerring_version ver;
	u64 online_nodes;
	u32 ncpus;		/* online: what TIMERRING_SHARDS_AUTO gets */
	int phase;

	/* the model */
	struct mid ids[MAX_IDS];
	u32 nids;
	struct arm *arena;
	u32 narms;
	struct arm **free_arms;
	u32 nfree;
	struct defer defers[DEFERS];
	u32 ndefers;
	struct orphan orphans[ORPHANS];
	u32 norphans;
	bool threaded;

	/* expected statistics */
	u64 st_armed, st_mod, st_cancel, st_failed, st_batches;
	u64 st_cancel_unres;	/* CANCEL_ALLs of the SQ ring: up to this more */
	u64 st_sq_ops, st_sq_failed, st_sq_enter, st_sq_dropped;

	/* the SQ ring (TIMERRING_SETUP_SQ) */
	bool sq;
	u32 *sq_khead, *sq_ktail, *sq_kflags, *sq_kdropped;
	u32 *sq_kmask, *sq_kentries;
	struct timerring_op *sq_ops;
	u32 sq_tail;		/* published; the kernel's head between batches */
	bool sq_scribbled;	/* a kernel-owned field is scribbled on */
	/* CQEs taken off the ring while SQ ops are in flight, checked after */
	bool holding;
	struct orphan *held;
	u32 nheld, held_cap;

	/* threads */
	pthread_mutex_t mu;
	pthread_rwlock_t rw;
	volatile int stop;
	u64 thread_seed[MAX_THREADS];

	/* run */
	u64 seed;
	int session;
	long step, max_steps;
	long long only_id;
	struct totals *tot;
	jmp_buf jb;
	bool failing;
	char msg[1024];
	long fail_step;
	long long fail_id;

	struct logent log[LOGN];
	long nlog;
};

static __thread int cur_thread;
static __thread bool mu_held, rw_held;
static struct fz *the_fz;	/* for fail() from any thread */

static u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(the_fz && the_fz->p.clockid ? (clockid_t)the_fz->p.clockid :
		      CLOCK_MONOTONIC, &ts);
	return (u64)ts.tv_sec * NSEC_PER_SEC + (u64)ts.tv_nsec;
}

static u64 mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (u64)ts.tv_sec * NSEC_PER_SEC + (u64)ts.tv_nsec;
}

static u64 sat_add(u64 a, u64 b)
{
	return a + b < a ? ~0ULL : a + b;
}

static void logit(struct fz *f, char kind, const struct timerring_op *op,
		  u64 c, s64 res)
{
	struct logent *l = &f->log[f->nlog++ % LOGN];

	memset(l, 0, sizeof(*l));
	l->step = f->step;
	l->thread = cur_thread;
	l->kind = kind;
	l->c = c;
	l->res = res;
	if (op) {
		l->opcode = op->opcode;
		l->flags = op->flags;
		l->resv = op->resv;
		l->id = op->id;
		l->a = op->expiry;
		l->b = op->user_data;
		l->c = op->interval;
	}
}

static const char *const opnames[] = { "ARM", "MODIFY", "CANCEL", "CANCEL_ALL" };

/* How a batch through the SQ ring is consumed (sq_batch()). */
enum { SQM_ENTER, SQM_SUBMIT, SQM_POLL, SQM_PIECES, SQM_GARBAGE };
static const char *const sq_mode_names[8] = {
	"doorbell", "doorbell if NEED_WAKEUP", "no doorbell",
	"doorbell per piece", "scribbled tail", "?", "?", "?" };

static void print_log(struct fz *f, long long id, int max)
{
	long i = f->nlog > LOGN ? f->nlog - LOGN : 0, n = 0, first;
	char name[16];

	/* the last @max entries that concern @id (or all if < 0) */
	for (first = f->nlog - 1; first >= i && n < max; first--) {
		struct logent *l = &f->log[first % LOGN];

		if (id < 0 || l->kind != 'O' || l->id == id ||
		    l->opcode == TIMERRING_OP_CANCEL_ALL)
			n++;
	}
	for (i = first + 1; i < f->nlog; i++) {
		struct logent *l = &f->log[i % LOGN];

		if (id >= 0 && l->kind == 'O' && l->id != id &&
		    l->opcode != TIMERRING_OP_CANCEL_ALL)
			continue;
		if (l->kind == 'O') {
			if (l->opcode < 4)
				snprintf(name, sizeof(name), "%s",
					 opnames[l->opcode]);
			else
				snprintf(name, sizeof(name), "op%u", l->opcode);
			printf("#   step %ld t%d %s%s id %u flags %#x resv %u "
			       "expiry %llu ud %#llx ival %llu -> ",
			       l->step, l->thread, l->sq ? "sq " : "", name, l->id,
			       l->flags, l->resv, ULL(l->a), ULL(l->b), ULL(l->c));
			if (l->sq && l->res >= 0)
				printf("ok (no error CQE)\n");
			else
				printf("%lld\n", (long long)l->res);
		} else if (l->kind == 'Q') {
			printf("#   step %ld t%d SQ ring: ops %llu..%llu, %s, "
			       "window %llu ns\n", l->step, l->thread, ULL(l->a),
			       ULL(l->b), sq_mode_names[l->c & 7], ULL(l->res));
		} else if (l->kind == 'B') {
			printf("#   step %ld t%d submit: window %llu ns, ring 0 "
			       "tail %llu..%llu\n", l->step, l->thread,
			       ULL(l->a), ULL(l->b), ULL(l->c));
		} else {
			printf("#   step %ld t%d %c %llu %llu %llu -> %lld\n",
			       l->step, l->thread, l->kind, ULL(l->a),
			       ULL(l->b), ULL(l->c), (long long)l->res);
		}
	}
}

static __attribute__((format(printf, 3, 4), noreturn))
void fail_at(int line, long long id, const char *fmt, ...)
{
	struct fz *f = the_fz;
	va_list ap;

	if (f->threaded && !mu_held) {
		pthread_mutex_lock(&f->mu);
		mu_held = true;
	}
	if (!f->failing) {
		int n = snprintf(f->msg, sizeof(f->msg), "line %d: ", line);

		va_start(ap, fmt);
		vsnprintf(f->msg + n, sizeof(f->msg) - n, fmt, ap);
		va_end(ap);
		f->failing = true;
		f->fail_step = f->step;
		f->fail_id = id;
	}
	if (f->threaded && cur_thread) {
		f->stop = 1;
		mu_held = false;
		pthread_mutex_unlock(&f->mu);
		if (rw_held) {
			rw_held = false;
			pthread_rwlock_unlock(&f->rw);
		}
		pthread_exit(NULL);
	}
	longjmp(f->jb, 1);
}

#define FAIL(id, ...)	fail_at(__LINE__, (id), __VA_ARGS__)
#define CHECK(cond, id, fmt, ...)					\
	do {								\
		if (!(cond))						\
			FAIL((id), "%s: " fmt, #cond, ##__VA_ARGS__);	\
	} while (0)

static void lock(struct fz *f)
{
	if (f->threaded) {
		pthread_mutex_lock(&f->mu);
		mu_held = true;
	}
}

static void unlock(struct fz *f)
{
	if (f->threaded) {
		mu_held = false;
		pthread_mutex_unlock(&f->mu);
	}
}

static struct mid *find_id(struct fz *f, u32 id)
{
	u32 i;

	for (i = 0; i < f->nids; i++)
		if (f->ids[i].id == id)
			return &f->ids[i];
	return NULL;
}

/* pos is before @b in ring order */
static bool pos_before(u32 pos, u32 b)
{
	return (s32)(pos - b) < 0;
}

/* ------------------------------------------------------------------ */
/* CQEs */

static void check_cqe_arm(struct fz *f, struct arm *a,
			  const struct io_uring_cqe *cqe, u32 pos, u64 t)
{
	u32 fl = cqe->flags;

	CHECK(cqe->user_data == a->ud, a->id,
	      "CQE at %u of id %u gen %u: user_data %#llx, the arm's %#llx",
	      pos, a->id, a->gen, ULL(cqe->user_data), ULL(a->ud));
	CHECK(!a->forbid, a->id, "CQE at %u of id %u gen %u, an arm that "
	      "was cancelled or replaced while armed (step %ld)", pos, a->id,
	      a->gen, a->step);
	CHECK(!a->bounded || pos_before(pos, a->bound), a->id,
	      "CQE at %u of id %u gen %u after the op that ended it "
	      "(tail %u then)", pos, a->id, a->gen, a->bound);
	CHECK(!a->has_min || !pos_before(pos, a->min_pos), a->id,
	      "CQE at %u of id %u gen %u, before the tail %u of an ARM that "
	      "found it still armed", pos, a->id, a->gen, a->min_pos);
	if (!a->ival) {
		CHECK(fl == tr_uapi_cqe_flags(a->gen, false, 0), a->id,
		      "CQE at %u of one-shot id %u gen %u: flags %#x", pos,
		      a->id, a->gen, fl);
		CHECK(!a->seen, a->id, "second CQE of one-shot id %u gen %u "
		      "(at %u and %u)", a->id, a->gen, a->seen_pos, pos);
		CHECK(t >= a->due_lo, a->id, "id %u gen %u early: CQE seen "
		      "at %llu, due at %llu or later", a->id, a->gen, ULL(t),
		      ULL(a->due_lo));
		a->seen = true;
		a->seen_pos = pos;
	} else {
		u64 ov = (fl >> TIMERRING_CQE_OVERRUN_SHIFT) &
			 TIMERRING_CQE_OVERRUN_MASK, due;

		CHECK(fl == tr_uapi_cqe_flags(a->gen, true, ov), a->id,
		      "CQE at %u of periodic id %u gen %u: flags %#x", pos,
		      a->id, a->gen, fl);
		if (ov == TIMERRING_CQE_OVERRUN_MASK)
			a->sat = true;
		a->periods += 1 + ov;
		memmove(a->hist[1], a->hist[0], sizeof(a->hist[0]) * 3);
		a->hist[0][0] = t;
		a->hist[0][1] = ov;
		a->hist[0][2] = pos;
		tr_uapi_period_due(a->due_lo, a->ival, a->periods - 1, &due);
		CHECK(t >= due, a->id, "periodic id %u gen %u early: %llu "
		      "periods counted at %llu, the last due at %llu or later "
		      "(armed in [%llu, %llu], ival %llu, res %llu; CQEs at "
		      "+%lld ov %llu pos %llu, +%lld ov %llu, +%lld ov %llu, "
		      "+%lld ov %llu)", a->id, a->gen, ULL(a->periods), ULL(t),
		      ULL(due), ULL(a->t0), ULL(a->t1), ULL(a->ival),
		      ULL(f->p.resolution_ns),
		      (long long)(a->hist[0][0] - a->t0), ULL(a->hist[0][1]),
		      ULL(a->hist[0][2]),
		      (long long)(a->hist[1][0] - a->t0), ULL(a->hist[1][1]),
		      (long long)(a->hist[2][0] - a->t0), ULL(a->hist[2][1]),
		      (long long)(a->hist[3][0] - a->t0), ULL(a->hist[3][1]));
		a->seen = true;
		a->seen_pos = pos;
	}
	f->tot->cqes++;
}

/* The generations of @m's arms, once its base is known. */
static void set_base(struct mid *m, u32 base)
{
	struct arm *a;

	m->base_known = true;
	m->base = base;
	for (a = m->arms; a; a = a->next) {
		if (a->gen_known)
			continue;
		a->gen = (base + a->seq) & TIMERRING_RES_GEN_MASK;
		a->gen_known = true;
	}
}

/*
 * The arm of (id, gen) that a CQE may belong to, or NULL. Before any
 * generation of the id is known (its arms came from the SQ ring), the
 * arm whose user_data the CQE has: that fixes the base.
 */
static struct arm *cqe_arm(struct mid *m, const struct io_uring_cqe *cqe)
{
	u32 gen = cqe->flags >> TIMERRING_CQE_GEN_SHIFT;
	struct arm *a;

	for (a = m->arms; a; a = a->next)
		if (a->gen_known && a->gen == gen)
			return a;
	if (m->base_known)
		return NULL;
	for (a = m->arms; a; a = a->next) {
		if (a->gen_known || a->ud != cqe->user_data)
			continue;
		set_base(m, gen - a->seq);
		return a;
	}
	return NULL;
}

/* A CQE read at @pos of ring @k. */
static void check_cqe(struct fz *f, const struct io_uring_cqe *cqe, u32 k,
		      u32 pos, u64 t)
{
	struct mid *m = cqe->res >= 0 ? find_id(f, cqe->res) : NULL;
	struct arm *a;

	CHECK(!(cqe->flags & TIMERRING_CQE_F_SQ_ERR) || f->nrings == 1, -1,
	      "error CQE at %u of ring %u of %u (res %d ud %#llx flags %#x): "
	      "the SQ ring needs one shard", pos, k, f->nrings, cqe->res,
	      ULL(cqe->user_data), cqe->flags);
	CHECK(!(cqe->flags & TIMERRING_CQE_F_SQ_ERR), -1, "error CQE at %u "
	      "(res %d ud %#llx flags %#x) with no op of the SQ ring in "
	      "flight", pos, cqe->res, ULL(cqe->user_data), cqe->flags);
	CHECK(m, cqe->res, "CQE at %u of ring %u for id %d, which was never "
	      "armed (ud %#llx flags %#x)", pos, k, cqe->res,
	      ULL(cqe->user_data), cqe->flags);
	CHECK(k == TIMERRING_SHARD_OF(m->id, f->nrings), m->id, "CQE at %u "
	      "of id %u (gen %u ud %#llx) in ring %u, its shard is %u of %u",
	      pos, m->id, cqe->flags >> TIMERRING_CQE_GEN_SHIFT,
	      ULL(cqe->user_data), k, TIMERRING_SHARD_OF(m->id, f->nrings),
	      f->nrings);
	f->tot->cqes_past0 += k > 0;
	a = cqe_arm(m, cqe);
	if (!a) {
		/* threads: its submitter may not have recorded it yet */
		CHECK(f->threaded && f->norphans < ORPHANS, m->id,
		      "CQE at %u for id %u gen %u: no such arm (ud %#llx "
		      "flags %#x)", pos, m->id,
		      cqe->flags >> TIMERRING_CQE_GEN_SHIFT,
		      ULL(cqe->user_data), cqe->flags);
		f->orphans[f->norphans].cqe = *cqe;
		f->orphans[f->norphans].pos = pos;
		f->orphans[f->norphans].t = t;
		f->norphans++;
		return;
	}
	check_cqe_arm(f, a, cqe, pos, t);
}

/* The orphans of @a, in ring order (a period's count is cumulative). */
static void adopt_orphans(struct fz *f, struct arm *a)
{
	u32 i, k = 0;

	for (i = 0; i < f->norphans; i++) {
		struct orphan *o = &f->orphans[i];

		if ((u32)o->cqe.res != a->id ||
		    o->cqe.flags >> TIMERRING_CQE_GEN_SHIFT != a->gen) {
			f->orphans[k++] = *o;
			continue;
		}
		check_cqe_arm(f, a, &o->cqe, o->pos, o->t);
	}
	f->norphans = k;
}

/* Deferred checks whose position the consumer has reached. */
static void resolve(struct fz *f, bool all_seen)
{
	u32 i, j;

	for (i = 0; i < f->ndefers; i++) {
		struct defer *d = &f->defers[i];
		u32 delivered = 0;
		bool reached = true;

		/* the consumer is past the bound in the rings of the maybe */
		for (j = 0; j < d->nmaybe && !all_seen; j++) {
			u8 r = d->maybe[j]->ring;

			reached &= !pos_before(f->r[r].head, d->bound[r]);
		}
		if (!reached)
			continue;
		for (j = 0; j < d->nmaybe; j++) {
			struct arm *a = d->maybe[j];

			delivered += a->seen &&
				     pos_before(a->seen_pos, d->bound[a->ring]);
		}
		if (d->sq) {
			f->st_cancel += d->nmaybe - delivered;
			f->st_cancel_unres -= d->nmaybe;
			free(d->maybe);
			f->defers[i--] = f->defers[--f->ndefers];
			continue;
		}
		CHECK((u32)d->result == d->certain + d->nmaybe - delivered, -1,
		      "CANCEL_ALL of step %ld returned %d: %u certainly armed, "
		      "%u maybe, %u of which had a CQE before it", d->step,
		      d->result, d->certain, d->nmaybe, delivered);
		free(d->maybe);
		f->defers[i--] = f->defers[--f->ndefers];
	}
	for (i = 0; i < f->nids; i++) {
		struct arm *a;

		for (a = f->ids[i].arms; a; a = a->next)
			if (a->must && !a->seen &&
			    (all_seen ||
			     !pos_before(f->r[a->ring].head, a->bound)))
				FAIL(a->id, "id %u gen %u: an op found it "
				     "delivered, but no CQE came before "
				     "position %u", a->id, a->gen, a->bound);
	}
}

/* The start of ring @k in the mapping. */
static char *ring_base(struct fz *f, u32 k)
{
	return f->ring + (size_t)k * f->p.cq_stride;
}

static void check_ring_fields(struct fz *f)
{
	const struct timerring_cq_offsets *o = &f->p.cq_off;
	u32 k;

	for (k = 0; k < f->nrings; k++) {
		char *b = ring_base(f, k);

		CHECK(*(u32 *)(b + o->ring_mask) == f->p.cq_entries - 1 &&
		      *(u32 *)(b + o->ring_entries) == f->p.cq_entries &&
		      *(u32 *)(b + o->overflow) == 0, -1, "ring %u of %u: "
		      "ring_mask %u ring_entries %u overflow %u, of %u entries",
		      k, f->nrings, *(u32 *)(b + o->ring_mask),
		      *(u32 *)(b + o->ring_entries), *(u32 *)(b + o->overflow),
		      f->p.cq_entries);
	}
	if (!f->sq || f->sq_scribbled)
		return;
	CHECK(*f->sq_kmask == f->p.sq_entries - 1 &&
	      *f->sq_kentries == f->p.sq_entries, -1, "SQ ring_mask %u "
	      "ring_entries %u, of %u", *f->sq_kmask, *f->sq_kentries,
	      f->p.sq_entries);
	CHECK(!(__atomic_load_n(f->sq_kflags, __ATOMIC_RELAXED) &
		~TIMERRING_SQ_NEED_WAKEUP), -1, "SQ flags %#x", *f->sq_kflags);
	CHECK(__atomic_load_n(f->sq_kdropped, __ATOMIC_RELAXED) ==
	      (u32)f->st_sq_dropped, -1, "SQ dropped %u, model %llu",
	      *f->sq_kdropped, ULL(f->st_sq_dropped));
	if (!f->holding)
		CHECK(__atomic_load_n(f->sq_khead, __ATOMIC_ACQUIRE) ==
		      f->sq_tail, -1, "SQ head %u, every op up to %u consumed",
		      *f->sq_khead, f->sq_tail);
}

/* The tail of ring @k (what was last read, unmapped). */
static u32 read_tail(struct fz *f, u32 k)
{
	if (f->mapped)
		return __atomic_load_n(f->r[k].ktail, __ATOMIC_ACQUIRE);
	return f->r[k].last_tail;
}

/* The tail of every ring into @tails. */
static void read_tails(struct fz *f, u32 *tails)
{
	u32 k;

	for (k = 0; k < f->nrings; k++)
		tails[k] = read_tail(f, k);
}

/* The tail of ring @k, checked: never back, never more than a ring. */
static u32 ring_tail(struct fz *f, u32 k, u32 head)
{
	struct ring *r = &f->r[k];
	u32 tail = __atomic_load_n(r->ktail, __ATOMIC_ACQUIRE);

	CHECK(!pos_before(tail, r->last_tail), -1, "ring %u: tail went back "
	      "from %u to %u", k, r->last_tail, tail);
	r->last_tail = tail;
	CHECK(tail - head <= f->p.cq_entries, -1, "ring %u: %u CQEs ready "
	      "(head %u tail %u) in a ring of %u", k, tail - head, head, tail,
	      f->p.cq_entries);
	return tail;
}

/* Consume up to @max CQEs of ring @k (model locked). */
static u32 consume_ring(struct fz *f, u32 k, u32 max)
{
	struct ring *r = &f->r[k];
	u32 tail = ring_tail(f, k, r->head), n = tail - r->head, i;
	u64 t = now_ns();

	if (f->nrings > 1 && n == f->p.cq_entries)
		f->tot->full_rings++;
	if (n > max)
		n = max;
	for (i = 0; i < n; i++) {
		u32 pos = r->head + i;

		check_cqe(f, &r->cqes[pos & (f->p.cq_entries - 1)], k, pos, t);
	}
	r->head += n;
	r->cq_given = r->head;
	__atomic_store_n(r->khead, r->head, __ATOMIC_RELEASE);
	return n;
}

/*
 * Consume up to @max CQEs of every ring but @skip (-1: none), starting
 * with a different ring each time (model locked).
 */
static u32 consume_but(struct fz *f, u32 max, int skip)
{
	u32 n = 0, i, k;

	if (!f->mapped)
		return 0;
	for (i = 0; i < f->nrings && n < max; i++) {
		k = (f->rot + i) % f->nrings;
		if ((int)k != skip)
			n += consume_ring(f, k, max - n);
	}
	f->rot++;
	resolve(f, false);
	return n;
}

/* Consume up to @max CQEs of the rings not stalled (model locked). */
static u32 consume(struct fz *f, u32 max)
{
	return consume_but(f, max, f->stall);
}

/* Consume up to @max CQEs of ring @k alone (model locked). */
static u32 consume_one(struct fz *f, u32 k, u32 max)
{
	u32 n;

	if (!f->mapped || (int)k == f->stall)
		return 0;
	n = consume_ring(f, k, max);
	resolve(f, false);
	return n;
}

/* CQEs published and not consumed, in all rings. */
static u32 unread(struct fz *f)
{
	u32 k, n = 0;

	for (k = 0; k < f->nrings; k++)
		n += read_tail(f, k) - f->r[k].head;
	return n;
}

/* Some ring has expirations waiting for space. */
static bool ovf_pending(struct fz *f)
{
	u32 k;

	for (k = 0; f->mapped && k < f->nrings; k++)
		if (__atomic_load_n(f->r[k].kovf_pending, __ATOMIC_RELAXED))
			return true;
	return false;
}

/*
 * While ops of the SQ ring are in flight: take the CQEs off the ring (the
 * kernel gets the room back) and keep them, to be checked once the model
 * has the ops' results (flush_held()).
 */
static void hold_cqes(struct fz *f)
{
	struct ring *r = &f->r[0];	/* the SQ ring needs one shard */
	u32 tail = ring_tail(f, 0, r->cq_given), n = tail - r->cq_given, i;
	u64 t = now_ns();

	if (f->nheld + n > f->held_cap) {
		f->held_cap = (f->nheld + n) * 2 + 1024;
		f->held = realloc(f->held, f->held_cap * sizeof(*f->held));
		if (!f->held)
			abort();
	}
	for (i = 0; i < n; i++) {
		struct orphan *o = &f->held[f->nheld++];
		u32 pos = r->cq_given + i;

		o->cqe = r->cqes[pos & (f->p.cq_entries - 1)];
		o->pos = pos;
		o->t = t;
	}
	r->cq_given += n;
	__atomic_store_n(r->khead, r->cq_given, __ATOMIC_RELEASE);
}

/* Check the CQEs held, the SQ ring's error CQEs among them done already. */
static void flush_held(struct fz *f)
{
	u32 i;

	for (i = 0; i < f->nheld; i++) {
		struct orphan *o = &f->held[i];

		if (!(o->cqe.flags & TIMERRING_CQE_F_SQ_ERR))
			check_cqe(f, &o->cqe, 0, o->pos, o->t);
		f->r[0].head = o->pos + 1;
	}
	f->nheld = 0;
	f->r[0].head = f->r[0].cq_given;
	f->holding = false;
	resolve(f, false);
}

/* ------------------------------------------------------------------ */
/* Ops against the model */

/* An op's window: the clock and every ring's tail before and after it. */
struct window {
	u64 t0, t1;
	u32 tb[MAX_RINGS], ta[MAX_RINGS];
};

/* The window of an op of the SQ ring (one shard: ring 0). */
struct sqwin {
	u64 t0, t1;
	u32 tb, ta;
};

enum { S_IDLE, S_ARMED, S_MAYBE };

static int arm_state(const struct arm *a, const struct window *w)
{
	if (!a || a->state != A_LIVE || a->must || a->forbid ||
	    a->maybe_cancelled)
		return S_IDLE;
	if (a->ival)
		return S_ARMED;
	if (a->seen)
		return pos_before(a->seen_pos, w->tb[a->ring]) ? S_IDLE :
		       !pos_before(a->seen_pos, w->ta[a->ring]) ? S_ARMED :
		       S_MAYBE;
	if (w->t1 < a->due_lo)
		return S_ARMED;
	return S_MAYBE;
}

/* The op found @a delivered: its CQE is below w->ta of its ring. */
static void decide_delivered(struct fz *f, struct arm *a,
			     const struct window *w)
{
	CHECK(!a->seen || pos_before(a->seen_pos, w->ta[a->ring]), a->id,
	      "id %u gen %u: found delivered, but its CQE is at %u, past "
	      "the tail %u of ring %u after the op", a->id, a->gen,
	      a->seen_pos, w->ta[a->ring], a->ring);
	a->must = !a->seen;
	a->bounded = true;
	a->bound = w->ta[a->ring];
	a->state = A_DONE;
	f->tot->ambiguous++;
}

/* The op ended @a while it was armed. */
static void end_arm(struct arm *a, const struct window *w)
{
	a->state = A_ENDED;
	if (a->ival) {
		a->bounded = true;
		a->bound = w->ta[a->ring];
	} else {
		CHECK(!a->seen, a->id, "id %u gen %u was cancelled or "
		      "replaced while armed, but its CQE is at %u", a->id,
		      a->gen, a->seen_pos);
		a->forbid = true;
	}
}

/* No CQE can come for @a any more, and no check refers to it. */
static bool retired(const struct fz *f, const struct mid *m,
		    const struct arm *a)
{
	bool passed = a->bounded &&
		      !pos_before(f->r[a->ring].head, a->bound);

	if (a == m->cur)
		return false;
	if (a->maybe_cancelled)
		return passed;
	if (!a->ival)
		return a->seen || a->forbid;
	return passed;
}

/* Take back the arms of the session that are retired (model locked). */
static void recycle(struct fz *f)
{
	u32 i;

	for (i = 0; i < f->nids; i++) {
		struct mid *m = &f->ids[i];
		struct arm **pp = &m->arms;

		while (*pp) {
			if (retired(f, m, *pp)) {
				f->free_arms[f->nfree++] = *pp;
				*pp = (*pp)->next;
			} else {
				pp = &(*pp)->next;
			}
		}
	}
}

/*
 * The generation of @m's next successful ARM or MODIFY: @res, the
 * result of an ioctl's (checked: +1 per success), or -1 from the SQ
 * ring (known if the base is). Returns it, or ~0U if unknown.
 */
static u32 next_gen(struct mid *m, s64 res)
{
	u32 seq = m->nsucc++, gen = res & TIMERRING_RES_GEN_MASK;

	if (res < 0)
		return m->base_known ? (m->base + seq) & TIMERRING_RES_GEN_MASK :
		       ~0U;
	if (m->base_known)
		CHECK(gen == ((m->base + seq) & TIMERRING_RES_GEN_MASK), m->id,
		      "id %u: generation %u, wanted %u (+1 per ARM or MODIFY)",
		      m->id, gen, (m->base + seq) & TIMERRING_RES_GEN_MASK);
	else
		set_base(m, gen - seq);
	return gen;
}

static struct arm *new_arm(struct fz *f, struct mid *m,
			   const struct timerring_op *op, u32 gen,
			   const struct window *w)
{
	struct arm *a;
	u64 timeout;

	if (f->narms == ARENA && !f->nfree)
		recycle(f);
	CHECK(f->narms < ARENA || f->nfree, m->id, "%u arms live", ARENA);
	a = f->nfree ? f->free_arms[--f->nfree] : &f->arena[f->narms++];
	memset(a, 0, sizeof(*a));
	a->id = m->id;
	a->ring = TIMERRING_SHARD_OF(m->id, f->nrings);
	a->gen = gen;
	a->gen_known = gen != ~0U;
	a->seq = m->nsucc - 1;
	a->ud = op->user_data;
	a->ival = op->interval;
	a->step = f->step;
	a->t0 = w->t0;
	a->t1 = w->t1;
	if (op->flags & TIMERRING_OPF_ABS) {
		a->due_lo = a->due_hi = op->expiry;
	} else {
		a->due_lo = sat_add(w->t0, op->expiry);
		a->due_hi = sat_add(w->t1, op->expiry);
	}
	/* a tick, and for SLACK 1/8 of the timeout (at least a tick) */
	a->late_ns = f->p.resolution_ns;
	if (op->flags & TIMERRING_OPF_SLACK) {
		timeout = a->due_hi > w->t0 ? a->due_hi - w->t0 : 0;
		a->late_ns += timeout / 8 > f->p.resolution_ns ?
			      timeout / 8 : f->p.resolution_ns;
		a->late_ns += a->ival / 8;
	}
	a->next = m->arms;
	m->arms = a;
	m->cur = a;
	if (f->threaded)
		adopt_orphans(f, a);
	return a;
}

/* An SQ op left @a either delivered before it, or ended: no result says. */
static void maybe_ended(struct fz *f, struct arm *a, const struct window *w)
{
	a->maybe_cancelled = true;
	a->bounded = true;
	a->bound = w->ta[a->ring];
	f->tot->ambiguous++;
}

/*
 * CANCEL_ALL with result @res; @sq: from the SQ ring, succeeded, count
 * unknown (taken once the consumer knows which maybe-armed ones fired).
 */
static void cancel_all(struct fz *f, s32 res, const struct window *w,
		       bool sq)
{
	struct defer *d;
	u32 i, certain = 0, nmaybe = 0;
	struct arm **maybe = calloc(MAX_IDS, sizeof(*maybe));

	if (!maybe)
		abort();
	CHECK(res >= 0, -1, "CANCEL_ALL: %d", res);
	for (i = 0; i < f->nids; i++) {
		struct mid *m = &f->ids[i];
		struct arm *a = m->cur;

		switch (arm_state(a, w)) {
		case S_ARMED:
			certain++;
			end_arm(a, w);
			break;
		case S_MAYBE:
			maybe[nmaybe++] = a;
			maybe_ended(f, a, w);
			break;
		}
		m->cur = NULL;
	}
	f->st_cancel += sq ? certain : (u32)res;
	if (!nmaybe) {
		CHECK(sq || (u32)res == certain, -1, "CANCEL_ALL: %d, model %u",
		      res, certain);
		free(maybe);
		return;
	}
	CHECK(sq || ((u32)res >= certain && (u32)res <= certain + nmaybe), -1,
	      "CANCEL_ALL: %d, model %u..%u", res, certain, certain + nmaybe);
	CHECK(f->ndefers < DEFERS, -1, "too many deferred checks");
	d = &f->defers[f->ndefers++];
	memcpy(d->bound, w->ta, sizeof(d->bound));
	d->certain = certain;
	d->nmaybe = nmaybe;
	d->result = res;
	d->step = f->step;
	d->maybe = maybe;
	d->sq = sq;
	if (sq)
		f->st_cancel_unres += nmaybe;
}

/*
 * One processed op and its result (model locked). @sq: from the SQ ring,
 * where a failure is its error CQE's res and a success (@res >= 0) says
 * nothing more: no generation, no REARMED, no count.
 */
static void apply_op(struct fz *f, const struct timerring_op *op, s32 res,
		     const struct window *w, bool sq)
{
	unsigned int e = tr_uapi_op_errors(op, f->p.max_timers,
					   f->p.resolution_ns);
	const char *how = sq ? " from the SQ ring" : "";
	bool ok = sq && res >= 0;
	struct mid *m;
	struct arm *a;
	int st;
	u32 gen;

	logit(f, 'O', op, 0, res);
	f->log[(f->nlog - 1) % LOGN].sq = sq;
	f->tot->ops++;
	if (res < 0)
		f->st_failed++;
	if (e) {
		CHECK(!ok, op->id, "malformed op %u (id %u flags %#x resv %u) "
		      "from the SQ ring posted no error CQE", op->opcode,
		      op->id, op->flags, op->resv);
		CHECK((res == -EINVAL && (e & TR_UAPI_EINVAL)) ||
		      (res == -ERANGE && (e & TR_UAPI_ERANGE)), op->id,
		      "malformed op %u (id %u flags %#x resv %u)%s: %d, wanted "
		      "%s%s", op->opcode, op->id, op->flags, op->resv, how, res,
		      e & TR_UAPI_EINVAL ? "EINVAL " : "",
		      e & TR_UAPI_ERANGE ? "ERANGE" : "");
		f->st_sq_dropped += sq;
		return;
	}
	if (op->opcode == TIMERRING_OP_CANCEL_ALL) {
		cancel_all(f, res, w, ok);
		return;
	}
	m = find_id(f, op->id);
	CHECK(m, op->id, "op on id %u outside the pool", op->id);
	a = m->cur;
	st = arm_state(a, w);
	if (st == S_IDLE)
		m->cur = NULL;
	switch (op->opcode) {
	case TIMERRING_OP_ARM:
		if (st == S_ARMED || (st == S_MAYBE && res == -EEXIST)) {
			CHECK(res == -EEXIST, op->id, "ARM of armed id %u%s: %d%s",
			      op->id, how, res, ok ? " (no error CQE)" : "");
			/* a one-shot's CQE can only come after this */
			if (st == S_MAYBE && !a->has_min) {
				a->has_min = true;
				a->min_pos = w->tb[a->ring];
			}
			return;
		}
		CHECK(ok || (res >= 0 && res <= (s32)TIMERRING_RES_GEN_MASK),
		      op->id, "ARM of idle id %u%s: %d", op->id, how, res);
		if (st == S_MAYBE)
			decide_delivered(f, a, w);
		gen = next_gen(m, ok ? -1 : res);
		new_arm(f, m, op, gen, w);
		f->st_armed++;
		return;
	case TIMERRING_OP_MODIFY:
		CHECK(ok || (res >= 0 && !(res & ~(s32)(TIMERRING_RES_GEN_MASK |
							TIMERRING_RES_REARMED))),
		      op->id, "MODIFY of id %u%s: %#x", op->id, how, res);
		if (ok) {
			if (st == S_MAYBE)
				maybe_ended(f, a, w);
			else if (st == S_ARMED)
				end_arm(a, w);
		} else if (st == S_MAYBE) {
			if (res & TIMERRING_RES_REARMED)
				end_arm(a, w);
			else
				decide_delivered(f, a, w);
		} else {
			CHECK(!!(res & TIMERRING_RES_REARMED) == (st == S_ARMED),
			      op->id, "MODIFY of %s id %u: %#x",
			      st == S_ARMED ? "armed" : "idle", op->id, res);
			if (st == S_ARMED)
				end_arm(a, w);
		}
		gen = next_gen(m, ok ? -1 : (s64)(res & TIMERRING_RES_GEN_MASK));
		new_arm(f, m, op, gen, w);
		f->st_mod++;
		return;
	case TIMERRING_OP_CANCEL:
		if (ok)
			res = 0;
		if (st == S_IDLE) {
			CHECK(res == -ENOENT, op->id, "CANCEL of idle id %u%s: "
			      "%d%s", op->id, how, res,
			      ok ? " (no error CQE)" : "");
			return;
		}
		if (st == S_MAYBE && res == -ENOENT) {
			decide_delivered(f, a, w);
			m->cur = NULL;
			return;
		}
		CHECK(res == 0, op->id, "CANCEL of armed id %u%s: %d", op->id,
		      how, res);
		end_arm(a, w);
		m->cur = NULL;
		f->st_cancel++;
		return;
	}
	FAIL(op->id, "opcode %u passed the rules", op->opcode);
}

/* ------------------------------------------------------------------ */
/* The generator: draws only from its own state, never from the model. */

struct gen {
	u64 s;
};

static u64 grnd(struct gen *g)
{
	return tr_splitmix64(&g->s);
}

static u64 below(struct gen *g, u64 n)
{
	return n ? grnd(g) % n : 0;
}

static bool chance(struct gen *g, unsigned int pct)
{
	return below(g, 100) < pct;
}

static u32 gen_id(struct fz *f, struct gen *g, int thread, int nthreads)
{
	u32 mt = f->p.max_timers, i;

	switch (below(g, 40)) {
	case 0:
		return mt;
	case 1:
		return mt + 1 + below(g, 3);
	case 2:
		return ~0U - below(g, 2);
	case 3:
		return 1U << 30;
	default:
		break;
	}
	for (i = 0; i < 8; i++) {
		struct mid *m = &f->ids[below(g, f->nids)];

		if (nthreads <= 1 || m->owner == thread)
			return m->id;
	}
	return mt;	/* ERANGE: no id of ours drawn */
}

static u64 gen_rel(struct gen *g, u64 res)
{
	switch (below(g, 20)) {
	case 0:
	case 1:
		return 0;
	case 2:
	case 3:
	case 4:
		return below(g, 2 * NSEC_PER_MSEC);
	case 5:
	case 6:
	case 7:
	case 8:
		return below(g, 30 * NSEC_PER_MSEC);
	case 9:
	case 10:
		return below(g, 300 * NSEC_PER_MSEC);
	case 11:
		return NSEC_PER_SEC / 2 + below(g, 2 * NSEC_PER_SEC);
	case 12:
		return res * (1 + below(g, 3)) - below(g, 2);
	case 13:
		return 3600 * NSEC_PER_SEC + below(g, 1ULL << 50);
	case 14:
		return ~0ULL - below(g, 1000);		/* overflows */
	case 15:
		return grnd(g);
	default:
		return below(g, 10 * NSEC_PER_MSEC);
	}
}

static void gen_op(struct fz *f, struct gen *g, struct timerring_op *op,
		   const struct timerring_op *prev, int thread, int nthreads,
		   bool allow_cancel_all)
{
	u64 res = f->p.resolution_ns, t;
	unsigned int r = below(g, 100);

	memset(op, 0, sizeof(*op));
	if (r < 32)
		op->opcode = TIMERRING_OP_ARM;
	else if (r < 58)
		op->opcode = TIMERRING_OP_MODIFY;
	else if (r < 92)
		op->opcode = TIMERRING_OP_CANCEL;
	else if (r < 95)
		op->opcode = allow_cancel_all ? TIMERRING_OP_CANCEL_ALL :
			     TIMERRING_OP_CANCEL;
	else
		op->opcode = TIMERRING_OP_LAST + below(g, 252);
	op->id = prev && chance(g, 25) ? prev->id :
		 gen_id(f, g, thread, nthreads);
	if (op->opcode == TIMERRING_OP_ARM || op->opcode == TIMERRING_OP_MODIFY ||
	    op->opcode >= TIMERRING_OP_LAST) {
		op->user_data = grnd(g);
		op->flags = below(g, 4);
		if (op->flags & TIMERRING_OPF_ABS) {
			t = now_ns();
			switch (below(g, 6)) {
			case 0:
				op->expiry = t - below(g, t);	/* past */
				break;
			case 1:
				op->expiry = below(g, 2) ? 0 : ~0ULL;
				break;
			default:
				op->expiry = sat_add(t, gen_rel(g, res));
				break;
			}
		} else {
			op->expiry = gen_rel(g, res);
		}
		if (chance(g, 22)) {
			switch (below(g, 8)) {
			case 0:
				/* at the resolution; 1 ms at least */
				op->interval = res < NSEC_PER_MSEC ?
					       NSEC_PER_MSEC : res;
				break;
			case 1:
				op->interval = res - 1 - below(g, res);
				break;
			case 2:
				op->interval = ~0ULL - below(g, 2);
				break;
			case 3:
				op->interval = grnd(g);
				break;
			default:
				op->interval = res + 3 * NSEC_PER_MSEC +
					       below(g, 200 * NSEC_PER_MSEC);
				break;
			}
		}
	} else if (chance(g, 6)) {
		/* a field CANCEL or CANCEL_ALL does not use */
		switch (below(g, 4)) {
		case 0:
			op->expiry = 1 + below(g, 100);
			break;
		case 1:
			op->user_data = 1 + grnd(g) % 1000;
			break;
		case 2:
			op->interval = res;
			break;
		default:
			op->flags = 1 + below(g, 3);
			break;
		}
	}
	if (op->opcode == TIMERRING_OP_CANCEL_ALL && !chance(g, 8))
		op->id = 0;
	if (chance(g, 2))
		op->flags |= 1 << (2 + below(g, 6));
	if (chance(g, 2))
		op->resv = 1 + below(g, 0xfffe);
}

static bool op_wanted(const struct fz *f, const struct timerring_op *op)
{
	return f->only_id < 0 || op->opcode == TIMERRING_OP_CANCEL_ALL ||
	       op->id == f->only_id;
}

/* ------------------------------------------------------------------ */
/* Submitting */

/*
 * Submit @n ops with @flags and check everything against the model.
 * @fault_at: ops from this index on are unreadable (-1: none). @child:
 * submit from a forked child instead.
 */
static void submit(struct fz *f, struct timerring_op *ops, u32 n, u32 flags,
		   long fault_at, bool child)
{
	static __thread s32 res[MAX_BATCH];
	static __thread struct timerring_op *guard;
	static __thread size_t guard_len;
	struct timerring_submit s;
	struct timerring_op *uops = ops;
	struct window w;
	u32 i, failed = 0;
	int ret, err;

	for (i = 0; i < n; i++)
		res[i] = 0x5a5a5a5a;
	if (fault_at >= 0) {
		/* ops [0, fault_at) end where a PROT_NONE page starts */
		size_t pg = getpagesize(), len = ((fault_at * sizeof(*ops) +
						   pg - 1) / pg + 1) * pg;

		if (guard_len < len) {
			if (guard)
				munmap(guard, guard_len);
			guard = mmap(NULL, len, PROT_READ | PROT_WRITE,
				     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			CHECK(guard != MAP_FAILED, -1, "mmap: %d", errno);
			guard_len = len;
		}
		mprotect(guard, guard_len, PROT_READ | PROT_WRITE);
		uops = (struct timerring_op *)((char *)guard + len - pg -
					       fault_at * sizeof(*ops));
		memcpy(uops, ops, fault_at * sizeof(*ops));
		mprotect((char *)guard + len - pg, pg, PROT_NONE);
	}
	memset(&s, 0, sizeof(s));
	s.ops = (u64)(uintptr_t)uops;
	s.results = (u64)(uintptr_t)res;
	s.nr = n;
	s.flags = flags;

	w.t0 = now_ns();
	lock(f);
	read_tails(f, w.tb);
	unlock(f);
	if (child) {
		/* the child submits on the inherited fd; the rest comes back */
		struct { int ret, err; struct timerring_submit s; } *shm;
		pid_t pid;
		int status;

		shm = mmap(NULL, sizeof(*shm) + n * sizeof(s32),
			   PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
			   -1, 0);
		CHECK(shm != MAP_FAILED, -1, "mmap: %d", errno);
		fflush(stdout);
		pid = fork();
		CHECK(pid >= 0, -1, "fork: %d", errno);
		if (!pid) {
			s32 *cres = (s32 *)(shm + 1);

			memcpy(cres, res, n * sizeof(s32));
			s.results = (u64)(uintptr_t)cres;
			/* the child's copy of the ring goes first at times */
			if (f->mapped && (f->step & 1))
				munmap(f->ring, f->ring_len);
			shm->ret = ioctl(f->fd, TIMERRING_IOC_SUBMIT, &s);
			shm->err = errno;
			shm->s = s;
			_exit(0);
		}
		CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
		      !WEXITSTATUS(status), -1, "child: status %#x", status);
		ret = shm->ret;
		err = shm->err;
		s = shm->s;
		memcpy(res, shm + 1, n * sizeof(s32));
		munmap(shm, sizeof(*shm) + n * sizeof(s32));
		f->tot->forks++;
	} else {
		ret = ioctl(f->fd, TIMERRING_IOC_SUBMIT, &s);
		err = errno;
	}
	lock(f);
	read_tails(f, w.ta);
	w.t1 = now_ns();
	logit(f, 'B', NULL, w.ta[0], 0);
	f->log[(f->nlog - 1) % LOGN].a = w.t1 - w.t0;
	f->log[(f->nlog - 1) % LOGN].b = w.tb[0];
	f->tot->batches++;

	if (ret < 0) {
		/* a fault in the first chunk: nothing processed */
		CHECK(n && fault_at >= 0 && err == EFAULT, -1, "SUBMIT of %u "
		      "ops (fault at %ld): errno %d", n, fault_at, err);
		for (i = 0; i < n; i++)
			CHECK(res[i] == 0x5a5a5a5a, -1, "failed SUBMIT wrote "
			      "result %u", i);
		unlock(f);
		return;
	}
	CHECK(ret == 0, -1, "SUBMIT returned %d", ret);
	f->st_batches++;
	CHECK(s.done <= n, -1, "done %u of %u", s.done, n);
	if (fault_at >= 0)
		CHECK(s.done <= (u32)fault_at, -1, "done %u past the fault at "
		      "%ld", s.done, fault_at);
	else if (!(flags & TIMERRING_SUBMIT_STOP_ON_ERROR))
		CHECK(s.done == n, -1, "done %u of %u", s.done, n);
	for (i = 0; i < s.done; i++) {
		CHECK(res[i] != 0x5a5a5a5a, -1, "result %u of %u not written",
		      i, s.done);
		if (res[i] < 0) {
			failed++;
			if (flags & TIMERRING_SUBMIT_STOP_ON_ERROR)
				CHECK(i == s.done - 1, -1, "STOP_ON_ERROR went "
				      "on after op %u failed (%d)", i, res[i]);
		}
		apply_op(f, &ops[i], res[i], &w, false);
	}
	for (i = s.done; i < n; i++)
		CHECK(res[i] == 0x5a5a5a5a, -1, "result %u past done %u "
		      "written", i, s.done);
	if ((flags & TIMERRING_SUBMIT_STOP_ON_ERROR) && fault_at < 0 &&
	    s.done < n)
		CHECK(s.done && res[s.done - 1] < 0, -1, "STOP_ON_ERROR stopped "
		      "at %u with no failure", s.done);
	CHECK(s.failed == failed, -1, "failed %u, results say %u", s.failed,
	      failed);
	unlock(f);
}

static void gen_batch(struct fz *f, struct gen *g, int thread, int nthreads,
		      bool allow_cancel_all)
{
	static __thread struct timerring_op ops[MAX_BATCH];
	u32 n, i, k = 0, flags = 0;
	long fault_at = -1;

	switch (below(g, 20)) {
	case 0:
		n = 250 + below(g, MAX_BATCH - 250);	/* past a chunk */
		break;
	case 19:
		n = 257 + below(g, MAX_BATCH - 257);	/* past a chunk */
		break;
	case 1:
	case 2:
		n = 9 + below(g, 40);
		break;
	default:
		n = 1 + below(g, 8);
		break;
	}
	for (i = 0; i < n; i++) {
		gen_op(f, g, &ops[k], k ? &ops[k - 1] : NULL, thread, nthreads,
		       allow_cancel_all);
		if (op_wanted(f, &ops[k]))
			k++;
	}
	if (chance(g, 10))
		flags |= TIMERRING_SUBMIT_STOP_ON_ERROR;
	if (chance(g, 3))
		fault_at = below(g, k + 1);
	if (!k && fault_at < 0)
		return;
	submit(f, ops, k, flags, fault_at, false);
}

/* ------------------------------------------------------------------ */
/* The instance */

static void map_ring(struct fz *f)
{
	const struct timerring_cq_offsets *o = &f->p.cq_off;
	void *p = mmap(NULL, f->p.mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		       f->fd, f->p.mmap_offset);
	u32 k;

	CHECK(p != MAP_FAILED, -1, "mmap of the ring: %d", errno);
	f->ring = p;
	f->ring_len = f->p.mmap_size;
	for (k = 0; k < f->nrings; k++) {
		struct ring *r = &f->r[k];
		char *b = ring_base(f, k);

		r->khead = (u32 *)(b + o->head);
		r->ktail = (u32 *)(b + o->tail);
		r->kflags = (u32 *)(b + o->kflags);
		r->kovf_pending = (u32 *)(b + o->overflow_pending);
		r->cqes = (struct io_uring_cqe *)(b + o->cqes);
	}
	f->sq = f->p.flags & TIMERRING_SETUP_SQ;
	if (f->sq) {
		const struct timerring_sq_offsets *q = &f->p.sq_off;

		f->sq_khead = (u32 *)(f->ring + q->head);
		f->sq_ktail = (u32 *)(f->ring + q->tail);
		f->sq_kflags = (u32 *)(f->ring + q->flags);
		f->sq_kdropped = (u32 *)(f->ring + q->dropped);
		f->sq_kmask = (u32 *)(f->ring + q->ring_mask);
		f->sq_kentries = (u32 *)(f->ring + q->ring_entries);
		f->sq_ops = (struct timerring_op *)(f->ring + q->ops);
	}
	f->mapped = true;
	/* the heads were ours all along: what we had, whatever was there */
	for (k = 0; k < f->nrings; k++)
		__atomic_store_n(f->r[k].khead, f->r[k].head, __ATOMIC_RELEASE);
	check_ring_fields(f);
}

static void unmap_ring(struct fz *f)
{
	if (!f->mapped)
		return;
	munmap(f->ring, f->ring_len);
	f->mapped = false;
}

static u64 online_nodes(void)
{
	char buf[256], *p;
	u64 mask = 0;
	int fd = open("/sys/devices/system/node/online", O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return 1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 1;
	buf[n] = 0;
	for (p = buf; *p && *p != '\n';) {
		long a = strtol(p, &p, 10), b = a;

		if (*p == '-')
			b = strtol(p + 1, &p, 10);
		for (; a <= b && a < 64; a++)
			mask |= 1ULL << a;
		if (*p == ',')
			p++;
		else
			break;
	}
	return mask ? mask : 1;
}

static u32 roundup_pow2(u32 v)
{
	u32 r = 1;

	while (r < v && r)
		r <<= 1;
	return r;
}

/*
 * What SETUP must do with @in, by the header: 0 and the out fields in
 * @out, or -EINVAL.
 */
static int setup_expect(struct fz *f, const struct timerring_params *in,
			struct timerring_params *out)
{
	bool clamp = in->flags & TIMERRING_SETUP_CLAMP;
	u32 cap_cq = f->ver.max_cq_entries, cap_ids = f->ver.max_timers, i;
	u32 cap_shards;

	*out = *in;
	for (i = 0; i < 4; i++)
		if (in->resv[i])
			return -EINVAL;
	if (in->flags & ~TIMERRING_SETUP_ALL)
		return -EINVAL;
	if (in->clockid != CLOCK_MONOTONIC && in->clockid != CLOCK_BOOTTIME)
		return -EINVAL;
	if (!out->resolution_ns)
		out->resolution_ns = TIMERRING_RES_NS_DEFAULT;
	if (out->resolution_ns < TIMERRING_RES_NS_MIN ||
	    out->resolution_ns > TIMERRING_RES_NS_MAX)
		return -EINVAL;
	if (!in->max_timers)
		return -EINVAL;
	if (in->max_timers > cap_ids) {
		if (!clamp)
			return -EINVAL;
		out->max_timers = cap_ids;
	}
	if (!out->cq_entries)
		out->cq_entries = cap_cq > TIMERRING_CQ_ENTRIES_DEFAULT ?
				  TIMERRING_CQ_ENTRIES_DEFAULT : cap_cq;
	if (out->cq_entries < TIMERRING_CQ_ENTRIES_MIN ||
	    out->cq_entries > cap_cq) {
		if (!clamp)
			return -EINVAL;
		out->cq_entries = out->cq_entries < TIMERRING_CQ_ENTRIES_MIN ?
				  TIMERRING_CQ_ENTRIES_MIN : cap_cq;
	}
	out->cq_entries = roundup_pow2(out->cq_entries);
	if (in->numa_node != TIMERRING_NODE_CURRENT &&
	    (in->numa_node < 0 || in->numa_node >= 64 ||
	     !(f->online_nodes & (1ULL << in->numa_node))))
		return -EINVAL;
	/*
	 * Shards: 0 is 1, AUTO one per online CPU within 64 and one per 128
	 * ids (of max_timers as clamped), 1 with the SQ ring; any other
	 * count above that is EINVAL, or the cap with CLAMP. The SQ ring
	 * needs one.
	 */
	if (in->resv2)
		return -EINVAL;
	cap_shards = out->max_timers / TIMERRING_SHARD_IDS +
		     !!(out->max_timers % TIMERRING_SHARD_IDS);
	if (cap_shards > TIMERRING_SHARDS_MAX)
		cap_shards = TIMERRING_SHARDS_MAX;
	if (in->shards == TIMERRING_SHARDS_AUTO)
		out->shards = in->flags & TIMERRING_SETUP_SQ ? 1 :
			      f->ncpus < cap_shards ? f->ncpus : cap_shards;
	else if (!in->shards)
		out->shards = 1;
	if (out->shards > cap_shards) {
		if (!clamp)
			return -EINVAL;
		out->shards = cap_shards;
	}
	if (out->shards > 1 && (in->flags & TIMERRING_SETUP_SQ))
		return -EINVAL;
	/* the submission ring */
	if (!(in->flags & TIMERRING_SETUP_SQ))
		return in->sq_entries || in->sq_idle_ms ? -EINVAL : 0;
	if (!out->sq_entries)
		out->sq_entries = out->cq_entries < TIMERRING_SQ_ENTRIES_MAX ?
				  out->cq_entries : TIMERRING_SQ_ENTRIES_MAX;
	if (out->sq_entries < TIMERRING_SQ_ENTRIES_MIN ||
	    out->sq_entries > TIMERRING_SQ_ENTRIES_MAX) {
		if (!clamp)
			return -EINVAL;
		out->sq_entries = out->sq_entries < TIMERRING_SQ_ENTRIES_MIN ?
				  TIMERRING_SQ_ENTRIES_MIN :
				  TIMERRING_SQ_ENTRIES_MAX;
	}
	out->sq_entries = roundup_pow2(out->sq_entries);
	if (!out->sq_idle_ms)
		out->sq_idle_ms = TIMERRING_SQ_IDLE_MS_DEFAULT;
	if (out->sq_idle_ms > TIMERRING_SQ_IDLE_MS_MAX)
		return -EINVAL;
	return 0;
}

/*
 * Parameters for SETUP: valid ones (@valid), else with a field out of
 * range in some setups; shards in @shard_pct % of them (then no SQ ring
 * unless out of range: it needs one shard).
 */
static void gen_params(struct gen *g, struct timerring_params *p, bool valid,
		       unsigned int shard_pct)
{
	static const u32 cqs[] = { 64, 64, 128, 256, 1024, 4096, 65, 100, 0 };
	static const u32 mts[] = { 1, 2, 127, 128, 129, 300, 4096, 1 << 20,
				   1 << 24 };
	static const u64 ress[] = { 0, 1000, 10000, 100000, 1000000, 1234567,
				    4000000 };
	static const u32 sqs[] = { 0, 0, 64, 64, 100, 128, 256, 1024, 4096,
				   65536 };
	static const u32 idles[] = { 0, 1, 1, 3, 20, 200, 1000, 60000 };
	static const u32 shs[] = { 2, 2, 2, 3, 3, 4, 4, 7, 16, 64,
				   TIMERRING_SHARDS_AUTO, TIMERRING_SHARDS_AUTO,
				   TIMERRING_SHARDS_AUTO };
	u32 need;

	memset(p, 0, sizeof(*p));
	p->cq_entries = cqs[below(g, ARRAY_SIZE(cqs))];
	p->max_timers = mts[below(g, ARRAY_SIZE(mts))];
	p->clockid = below(g, 4) ? CLOCK_MONOTONIC : CLOCK_BOOTTIME;
	p->resolution_ns = ress[below(g, ARRAY_SIZE(ress))];
	p->numa_node = below(g, 3) ? TIMERRING_NODE_CURRENT : (int)below(g, 2);
	if (chance(g, 15))
		p->flags = TIMERRING_SETUP_CLAMP;
	if (chance(g, shard_pct)) {
		p->shards = shs[below(g, ARRAY_SIZE(shs))];
		/*
		 * enough ids for them, or CLAMP, or (below) too few; AUTO
		 * takes what max_timers allows (1 up to 128 ids), in half
		 * the setups at least 2
		 */
		/* big batches in parallel always, never, or as learned */
		if (chance(g, 50))
			p->flags |= TIMERRING_SETUP_PAR_ALWAYS;
		else if (chance(g, 20))
			p->flags |= TIMERRING_SETUP_PAR_NEVER;
		need = p->shards != TIMERRING_SHARDS_AUTO ? p->shards :
		       1 + below(g, 2);
		if (p->max_timers < need * TIMERRING_SHARD_IDS) {
			if (chance(g, 30))
				p->flags |= TIMERRING_SETUP_CLAMP;
			else
				p->max_timers = need * TIMERRING_SHARD_IDS -
						below(g, TIMERRING_SHARD_IDS);
		}
	} else {
		p->shards = below(g, 3) ? 0 : 1;
	}
	if (p->shards <= 1 && chance(g, 55)) {
		/* with a submission ring, polled briefly or for long */
		p->flags |= TIMERRING_SETUP_SQ;
		p->sq_entries = sqs[below(g, ARRAY_SIZE(sqs))];
		p->sq_idle_ms = idles[below(g, ARRAY_SIZE(idles))];
		if ((p->flags & TIMERRING_SETUP_CLAMP) && chance(g, 30))
			p->sq_entries = below(g, 2) ? 1 + below(g, 63) :
					TIMERRING_SQ_ENTRIES_MAX + 1 +
					below(g, 1U << 20);
	}
	if (valid)
		return;
	switch (below(g, 19)) {
	case 0:
		p->cq_entries = below(g, 64);
		break;
	case 1:
		p->cq_entries = (1U << 22) + 1 + below(g, 1U << 30);
		break;
	case 2:
		p->max_timers = below(g, 2) ? 0 : (1U << 30) + 1 + below(g, 9);
		break;
	case 3:
		p->clockid = below(g, 2) ? CLOCK_REALTIME : 2 + below(g, 40);
		break;
	case 4:
		p->flags = 1U << (1 + below(g, 31));
		break;
	case 5:
		p->resolution_ns = below(g, 2) ? 1 + below(g, 999) :
				   NSEC_PER_SEC + 1 + below(g, 1ULL << 40);
		break;
	case 6:
		p->numa_node = below(g, 2) ? 2 + (int)below(g, 1000) :
			       -2 - (int)below(g, 1000);
		break;
	case 7:
		p->resv[below(g, 4)] = 1 + below(g, 1000);
		break;
	case 8:
		/* an SQ ring out of range, not clamped */
		p->flags = TIMERRING_SETUP_SQ;
		p->sq_entries = below(g, 2) ? 1 + below(g, 63) :
				TIMERRING_SQ_ENTRIES_MAX + 1 + below(g, 1U << 20);
		break;
	case 9:
		p->flags |= TIMERRING_SETUP_SQ;
		p->sq_idle_ms = TIMERRING_SQ_IDLE_MS_MAX + 1 + below(g, 1U << 20);
		break;
	case 10:
		/* SQ fields without the SQ ring */
		p->flags &= ~TIMERRING_SETUP_SQ;
		if (below(g, 2))
			p->sq_entries = 64 << below(g, 4);
		else
			p->sq_idle_ms = 1 + below(g, 100);
		break;
	case 11:
		/* above TIMERRING_SHARDS_MAX (not AUTO): EINVAL, or clamped */
		p->shards = below(g, 2) ? TIMERRING_SHARDS_MAX + 1 +
			    below(g, 1000) : TIMERRING_SHARDS_AUTO - 1 -
			    below(g, 3);
		break;
	case 12:
		/* more than one per 128 ids: EINVAL, or clamped */
		p->max_timers = 1 + below(g, 8 * TIMERRING_SHARD_IDS);
		p->shards = (p->max_timers + TIMERRING_SHARD_IDS - 1) /
			    TIMERRING_SHARD_IDS + 1 + below(g, 8);
		if (below(g, 2))
			p->flags |= TIMERRING_SETUP_CLAMP;
		break;
	case 13:
		if (below(g, 2))
			p->resv2 = 1U << below(g, 32);
		else
			p->flags |= TIMERRING_SETUP_PAR_NEVER |
				    TIMERRING_SETUP_PAR_ALWAYS;
		break;
	case 14:
		/* the SQ ring with shards (AUTO: one, valid) */
		p->flags |= TIMERRING_SETUP_SQ;
		p->shards = below(g, 3) ? 2 + below(g, 6) :
			    TIMERRING_SHARDS_AUTO;
		p->max_timers = 4096;
		break;
	default:
		/* clamped: a valid SETUP of a huge request */
		p->flags = TIMERRING_SETUP_CLAMP;
		p->cq_entries = below(g, 2) ? 1 + below(g, 63) : 64;
		p->max_timers = below(g, 2) ? ~0U : 1 + below(g, 1000);
		break;
	}
}

/* The SQ ring's out fields of a SETUP that succeeded. */
static void check_sq_params(struct fz *f, const struct timerring_params *p,
			    const struct timerring_params *want)
{
	const struct timerring_sq_offsets *o = &p->sq_off;
	const u32 fields[] = { o->head, o->tail, o->ring_mask, o->ring_entries,
			       o->flags, o->dropped };
	u32 i, j;

	if (!(p->flags & TIMERRING_SETUP_SQ)) {
		static const struct timerring_sq_offsets zero;

		CHECK(!p->sq_entries && !p->sq_idle_ms &&
		      !memcmp(o, &zero, sizeof(zero)), -1, "SETUP without an SQ "
		      "ring: sq_entries %u sq_idle_ms %u, sq_off.ops %u",
		      p->sq_entries, p->sq_idle_ms, o->ops);
		return;
	}
	CHECK(p->sq_entries == want->sq_entries &&
	      p->sq_idle_ms == want->sq_idle_ms, -1, "SETUP out: sq_entries %u "
	      "sq_idle_ms %u, wanted %u %u", p->sq_entries, p->sq_idle_ms,
	      want->sq_entries, want->sq_idle_ms);
	CHECK(p->features & TIMERRING_FEAT_SQ, -1, "features %#x", p->features);
	CHECK(!o->resv1 && !o->user_addr && !(o->ops % 8) &&
	      o->ops >= p->cq_off.cqes + p->cq_entries *
	      sizeof(struct io_uring_cqe) &&
	      o->ops + (u64)p->sq_entries * sizeof(struct timerring_op) <=
	      p->mmap_size, -1, "sq_off.ops %u resv1 %u user_addr %llu, "
	      "mmap_size %llu", o->ops, o->resv1, ULL(o->user_addr),
	      ULL(p->mmap_size));
	for (i = 0; i < ARRAY_SIZE(fields); i++) {
		CHECK(!(fields[i] % 4) && fields[i] + 4 <= o->ops, -1,
		      "sq_off field %u at %u, ops at %u", i, fields[i], o->ops);
		for (j = 0; j < i; j++)
			CHECK(fields[i] != fields[j], -1, "sq_off fields %u and "
			      "%u both at %u", j, i, fields[i]);
	}
}

static void setup_instance(struct fz *f, struct gen *g)
{
	struct timerring_params p, want, in;
	unsigned int pct = f->phase == PH_THREADS ? 90 : 50;
	u64 ring_bytes, pg = getpagesize();
	int tries, ret, exp;
	size_t size;
	u32 k;

	f->fd = open(TIMERRING_DEV_PATH, O_RDWR | O_CLOEXEC);
	CHECK(f->fd >= 0, -1, "open: %d", errno);
	if (chance(g, 5)) {
		/* the SQ ring needs the VER1 struct */
		gen_params(g, &p, true, pct);
		p.flags |= TIMERRING_SETUP_SQ;
		ret = ioctl(f->fd, _IOC(_IOC_READ | _IOC_WRITE,
					TIMERRING_IOC_MAGIC, 1,
					TIMERRING_PARAMS_SIZE_VER0), &p);
		ret = ret < 0 ? -errno : ret;
		CHECK(ret == -EINVAL, -1, "SETUP of %u bytes with "
		      "TIMERRING_SETUP_SQ: %d", TIMERRING_PARAMS_SIZE_VER0, ret);
	}
	for (tries = 0;; tries++) {
		gen_params(g, &p, tries >= 3 || chance(g, 40), pct);
		/*
		 * A VER0 or VER1 struct (an older program's): the VER2
		 * fields are not read (whatever the memory after it holds:
		 * one shard) nor written.
		 */
		size = sizeof(p);
		if (chance(g, 8))
			size = (p.flags & TIMERRING_SETUP_SQ) || below(g, 2) ?
			       TIMERRING_PARAMS_SIZE_VER1 :
			       TIMERRING_PARAMS_SIZE_VER0;
		in = p;
		memset((char *)&in + size, 0, sizeof(in) - size);
		exp = setup_expect(f, &in, &want);
		if (size < sizeof(p) && below(g, 2)) {
			p.shards = grnd(g);
			p.resv2 = grnd(g);
			p.cq_stride = grnd(g);
		}
		in = p;
		ret = ioctl(f->fd, _IOC(_IOC_READ | _IOC_WRITE,
					TIMERRING_IOC_MAGIC, 1, size), &p);
		ret = ret < 0 ? -errno : ret;
		logit(f, 'S', NULL, p.max_timers, ret);
		f->log[(f->nlog - 1) % LOGN].a = in.shards;
		f->log[(f->nlog - 1) % LOGN].b = size;
		f->tot->setups++;
		if (exp) {
			CHECK(ret == exp, -1, "SETUP of %zu bytes: cq %u mt %u "
			      "clock %u flags %#x res %llu node %d shards %#x "
			      "resv2 %u sq %u/%u: %d, wanted %d", size,
			      want.cq_entries, want.max_timers, want.clockid,
			      want.flags, ULL(want.resolution_ns),
			      want.numa_node, in.shards, in.resv2,
			      want.sq_entries, want.sq_idle_ms, ret, exp);
			continue;
		}
		CHECK(ret == 0, -1, "SETUP of %zu bytes: cq %u mt %u res %llu "
		      "flags %#x shards %#x: %d", size, want.cq_entries,
		      want.max_timers, ULL(want.resolution_ns), want.flags,
		      in.shards, ret);
		break;
	}
	if (size < sizeof(p)) {
		CHECK(!memcmp((char *)&p + size, (char *)&in + size,
			      sizeof(p) - size), -1, "SETUP of %zu bytes wrote "
		      "past them", size);
		memset((char *)&p + size, 0, sizeof(p) - size);
		p.shards = 1;
		f->tot->small_setups++;
	}
	CHECK(p.cq_entries == want.cq_entries && p.max_timers ==
	      want.max_timers && p.resolution_ns == want.resolution_ns &&
	      p.shards == want.shards && !p.resv2, -1,
	      "SETUP out: cq %u mt %u res %llu shards %u resv2 %u, wanted %u "
	      "%u %llu %u (asked %#x)", p.cq_entries, p.max_timers,
	      ULL(p.resolution_ns), p.shards, p.resv2, want.cq_entries,
	      want.max_timers, ULL(want.resolution_ns), want.shards,
	      in.shards);
	CHECK(p.numa_node >= 0 && (f->online_nodes & (1ULL << p.numa_node)) &&
	      (want.numa_node < 0 || p.numa_node == want.numa_node), -1,
	      "SETUP node %d, asked %d", p.numa_node, want.numa_node);
	CHECK((p.features & (TIMERRING_FEAT_PERIODIC | TIMERRING_FEAT_SLACK |
			     TIMERRING_FEAT_NODROP | TIMERRING_FEAT_SHARDS)) ==
	      (TIMERRING_FEAT_PERIODIC | TIMERRING_FEAT_SLACK |
	       TIMERRING_FEAT_NODROP | TIMERRING_FEAT_SHARDS), -1,
	      "features %#x", p.features);
	ring_bytes = p.cq_off.cqes + (u64)p.cq_entries *
		     sizeof(struct io_uring_cqe);
	CHECK(p.mmap_offset == 0 && p.mmap_size >= ring_bytes, -1,
	      "mmap offset %llu size %llu", ULL(p.mmap_offset),
	      ULL(p.mmap_size));
	/* ring k at k * cq_stride: page-aligned, a ring apart, all mapped */
	if (p.shards > 1)
		CHECK(!(p.cq_stride % pg) && p.cq_stride >= ring_bytes &&
		      p.mmap_size >= (p.shards - 1) * p.cq_stride + ring_bytes,
		      -1, "%u shards of %u entries (a ring of %llu bytes): "
		      "cq_stride %llu, mmap_size %llu", p.shards, p.cq_entries,
		      ULL(ring_bytes), ULL(p.cq_stride), ULL(p.mmap_size));
	check_sq_params(f, &p, &want);
	f->p = p;
	f->nrings = p.shards;
	f->stall = -1;
	if (f->nrings > 1) {
		f->tot->sharded++;
		f->tot->rings += f->nrings;
	}
	/* a second SETUP: EINVAL for a bad field, else EBUSY */
	if (chance(g, 30)) {
		gen_params(g, &p, chance(g, 50), pct);
		exp = setup_expect(f, &p, &want);
		ret = ioctl(f->fd, TIMERRING_IOC_SETUP, &p) < 0 ? -errno : 0;
		CHECK(ret == (exp ? exp : -EBUSY), -1, "second SETUP: %d, "
		      "wanted %d", ret, exp ? exp : -EBUSY);
	}
	f->sq_tail = 0;
	for (k = 0; k < f->nrings; k++)
		f->r[k].head = f->r[k].cq_given = 0;
	map_ring(f);
	for (k = 0; k < f->nrings; k++) {
		struct ring *r = &f->r[k];

		r->head = r->cq_given = r->last_tail = r->tail0 = *r->ktail;
		__atomic_store_n(r->khead, r->head, __ATOMIC_RELEASE);
	}
	if (f->sq) {
		f->sq_tail = *f->sq_ktail;
		CHECK(!f->sq_tail && !*f->sq_khead && !*f->sq_kdropped &&
		      *f->sq_kflags == TIMERRING_SQ_NEED_WAKEUP, -1,
		      "a new SQ ring: head %u tail %u dropped %u flags %#x",
		      *f->sq_khead, f->sq_tail, *f->sq_kdropped, *f->sq_kflags);
	}
}

/*
 * The pool of ids: the edges of the id space and of table chunks, and
 * with shards ids of the first blocks of 128 of every shard. The threads
 * own ids by pool index, or by shard (each thread its own shards).
 */
static void make_pool(struct fz *f, struct gen *g, int nthreads)
{
	u32 mt = f->p.max_timers, cand[MAX_IDS * 2], nc = 0, i, j, n;
	u32 want = 8 + below(g, MAX_IDS - 8), blocks = 2 * f->nrings;
	bool by_shard = nthreads > 1 && f->nrings >= (u32)nthreads &&
			below(g, 2);

	cand[nc++] = 0;
	cand[nc++] = mt - 1;
	cand[nc++] = 1;
	cand[nc++] = mt - 2;
	cand[nc++] = 127;
	cand[nc++] = 128;
	cand[nc++] = 129;
	while (nc < ARRAY_SIZE(cand)) {
		/* 0: a shard's block, 1: a small id, 2: any */
		n = f->nrings > 1 ? below(g, 3) : below(g, 3) ? 1 : 2;
		if (!n)
			cand[nc++] = (below(g, blocks) * TIMERRING_SHARD_IDS +
				      (below(g, 2) ? 0 :
				       below(g, TIMERRING_SHARD_IDS))) % mt;
		else
			cand[nc++] = n == 1 ? below(g, mt < 300 ? mt : 300) :
				     below(g, mt);
	}
	f->nids = 0;
	for (i = 0; i < nc && f->nids < want; i++) {
		if (cand[i] >= mt)
			continue;
		for (j = 0; j < f->nids; j++)
			if (f->ids[j].id == cand[i])
				break;
		if (j < f->nids)
			continue;
		memset(&f->ids[f->nids], 0, sizeof(f->ids[0]));
		f->ids[f->nids].id = cand[i];
		f->ids[f->nids].owner = (by_shard ?
					 TIMERRING_SHARD_OF(cand[i], f->nrings) :
					 f->nids) % (nthreads ? nthreads : 1);
		f->nids++;
	}
}

static void reset_model(struct fz *f)
{
	u32 i;

	for (i = 0; i < f->ndefers; i++)
		free(f->defers[i].maybe);
	f->ndefers = 0;
	f->norphans = 0;
	f->narms = 0;
	f->nfree = 0;
	f->nids = 0;
	f->st_armed = f->st_mod = f->st_cancel = f->st_failed = 0;
	f->st_batches = 0;
	f->st_cancel_unres = 0;
	f->st_sq_ops = f->st_sq_failed = f->st_sq_enter = f->st_sq_dropped = 0;
	f->sq = f->sq_scribbled = f->holding = false;
	f->nheld = 0;
	f->stall = -1;
}

/* ------------------------------------------------------------------ */
/* Checkpoints */

static int wait_ioctl(struct fz *f, u32 min, s64 timeout, u32 *ready)
{
	struct timerring_wait w = {
		.min_complete = min,
		.timeout_ns = timeout,
		.ready = 0xdeadbeef,
	};
	int ret = ioctl(f->fd, TIMERRING_IOC_WAIT, &w);

	*ready = w.ready;
	return ret < 0 ? -errno : ret;
}

/*
 * Consume everything and flush the overflow lists, of every ring but
 * @skip (-1: none), whatever @skip holds back (model locked).
 */
static void drain(struct fz *f, int skip)
{
	u32 ready, k;
	int i;

	for (i = 0; i < 100000; i++) {
		consume_but(f, ~0U, skip);
		wait_ioctl(f, 0, 0, &ready);
		for (k = 0; k < f->nrings; k++)
			if ((int)k != skip &&
			    (__atomic_load_n(f->r[k].ktail, __ATOMIC_ACQUIRE) !=
			     f->r[k].head ||
			     __atomic_load_n(f->r[k].kovf_pending,
					     __ATOMIC_RELAXED)))
				break;
		if (k == f->nrings)
			return;
	}
	FAIL(-1, "ring %u of %u never drained: overflow_pending %u (ring %d "
	     "left alone: %u of %u used, overflow_pending %u)", k, f->nrings,
	     *f->r[k].kovf_pending, skip,
	     skip < 0 ? 0 : *f->r[skip].ktail - f->r[skip].head,
	     f->p.cq_entries, skip < 0 ? 0 : *f->r[skip].kovf_pending);
}

/* The SQ ring's counters of STATS; every op published was consumed. */
static void check_sq_stats(struct fz *f, const struct timerring_stats *st)
{
	CHECK(st->sq_ops_total == f->st_sq_ops &&
	      st->sq_failed_total == f->st_sq_failed &&
	      st->sq_enter_total == f->st_sq_enter &&
	      st->sq_pass_total <= st->sq_ops_total, -1, "STATS sq_ops %llu "
	      "sq_failed %llu sq_enter %llu sq_pass %llu, model %llu %llu %llu",
	      ULL(st->sq_ops_total), ULL(st->sq_failed_total),
	      ULL(st->sq_enter_total), ULL(st->sq_pass_total),
	      ULL(f->st_sq_ops), ULL(f->st_sq_failed), ULL(f->st_sq_enter));
}

static void check_stats(struct fz *f, bool quiet)
{
	struct timerring_stats st;
	u64 lo = 0, hi = 0, before = 0, after = 0, tail0 = 0;
	u32 i;
	struct window w;

	memset(&st, 0, sizeof(st));
	w.t0 = now_ns();
	read_tails(f, w.tb);
	CHECK(ioctl(f->fd, TIMERRING_IOC_STATS, &st) == 0, -1, "STATS: %d",
	      errno);
	read_tails(f, w.ta);
	w.t1 = now_ns();
	for (i = 0; i < f->nrings; i++) {
		before += (u32)(w.tb[i] - f->r[i].tail0);
		after += (u32)(w.ta[i] - f->r[i].tail0);
		tail0 += f->r[i].tail0;
	}
	CHECK(st.armed_total == f->st_armed && st.modified_total == f->st_mod &&
	      st.cancelled_total >= f->st_cancel &&
	      st.cancelled_total <= f->st_cancel + f->st_cancel_unres &&
	      st.ops_failed == f->st_failed && st.batches == f->st_batches, -1,
	      "STATS armed %llu modified %llu cancelled %llu failed %llu "
	      "batches %llu, model %llu %llu %llu %llu %llu",
	      ULL(st.armed_total), ULL(st.modified_total),
	      ULL(st.cancelled_total), ULL(st.ops_failed), ULL(st.batches),
	      ULL(f->st_armed), ULL(f->st_mod), ULL(f->st_cancel),
	      ULL(f->st_failed), ULL(f->st_batches));
	check_sq_stats(f, &st);
	CHECK(st.dropped_total == 0 && st.max_timers == f->p.max_timers &&
	      st.cq_entries == f->p.cq_entries &&
	      st.resolution_ns == f->p.resolution_ns &&
	      st.shards == f->nrings && !st.resv, -1, "STATS config: "
	      "max_timers %u cq_entries %u resolution %llu shards %u resv %u",
	      st.max_timers, st.cq_entries, ULL(st.resolution_ns), st.shards,
	      st.resv);
	/*
	 * expired_total counts expirations of all rings: not the SQ ring's
	 * error CQEs
	 */
	if (f->mapped)
		CHECK(st.expired_total + f->st_sq_failed >= before &&
		      st.expired_total <= after - f->st_sq_failed, -1,
		      "STATS expired %llu, the tails of %u rings %llu..%llu "
		      "from %llu, %llu error CQEs", ULL(st.expired_total),
		      f->nrings, ULL(before + tail0), ULL(after + tail0),
		      ULL(tail0), ULL(f->st_sq_failed));
	if (quiet) {
		for (i = 0; i < f->nids; i++) {
			int s = arm_state(f->ids[i].cur, &w);

			lo += s == S_ARMED;
			hi += s != S_IDLE;
		}
		CHECK(st.armed_now >= lo && st.armed_now <= hi, -1,
		      "STATS armed_now %llu, model %llu..%llu",
		      ULL(st.armed_now), ULL(lo), ULL(hi));
	}
}

/*
 * After drain(f, @skip): every arm due long enough ago must have its
 * CQE(s), but those of ring @skip.
 */
static void check_due(struct fz *f, int skip)
{
	u64 t = now_ns();
	u32 i;

	for (i = 0; i < f->nids; i++) {
		struct arm *a = f->ids[i].cur;
		u64 by;

		if (!a || a->state != A_LIVE || a->maybe_cancelled ||
		    a->ring == skip)
			continue;
		by = sat_add(sat_add(a->due_hi, a->late_ns), opt_grace_ns);
		if (by >= t)
			continue;
		if (!a->ival) {
			CHECK(a->seen, a->id, "id %u gen %u: no CQE %llu ms "
			      "after its due time", a->id, a->gen,
			      ULL((t - a->due_hi) / NSEC_PER_MSEC));
		} else if (!a->sat) {
			/* periods due by t - grace - lateness */
			u64 k = tr_uapi_periods_due_by(a->due_hi, a->ival,
						       t - opt_grace_ns -
						       a->late_ns);

			CHECK(a->periods >= k, a->id, "periodic id %u gen %u: "
			      "%llu periods delivered, %llu were due",
			      a->id, a->gen, ULL(a->periods), ULL(k));
		}
	}
}

/*
 * All submitters quiet: drain, then every arm due long enough ago must
 * have its CQE(s), and nothing may be left unexplained. A stalled ring
 * is consumed again.
 */
static void checkpoint(struct fz *f)
{
	if (!f->mapped)
		return;
	lock(f);
	f->stall = -1;
	drain(f, -1);
	check_due(f, -1);
	resolve(f, true);
	CHECK(!f->norphans, (long long)f->orphans[0].cqe.res,
	      "CQE at %u for id %d gen %u: no such arm", f->orphans[0].pos,
	      f->orphans[0].cqe.res,
	      f->orphans[0].cqe.flags >> TIMERRING_CQE_GEN_SHIFT);
	check_stats(f, true);
	check_ring_fields(f);
	unlock(f);
}

/*
 * During a stall, and at its end (@end): the consumer left ring f->stall
 * alone for a while (it may have filled, and its shard's expirations
 * wait on its overflow list). A full ring holds back only its own shard's
 * expirations: every other ring drains, its overflow list empties, and
 * its arms due long enough ago have their CQEs.
 */
static void stall_check(struct fz *f, bool end)
{
	int k = f->stall;
	struct ring *r;
	u32 used;

	if (k < 0 || !f->mapped) {
		f->stall = -1;
		return;
	}
	r = &f->r[k];
	drain(f, k);
	check_due(f, k);
	used = ring_tail(f, k, r->head) - r->head;
	f->tot->stalls++;
	f->tot->stall_full += used == f->p.cq_entries;
	f->tot->stall_ovf += used == f->p.cq_entries &&
			     __atomic_load_n(r->kovf_pending, __ATOMIC_RELAXED);
	logit(f, 'X', NULL, k, used);
	if (end)
		f->stall = -1;
}

/* ------------------------------------------------------------------ */
/* The submission ring */

/* The doorbell (counted in the model), checked: >= 0. */
static int sq_enter(struct fz *f)
{
	int ret = ioctl(f->fd, TIMERRING_IOC_SQ_ENTER, 0);

	ret = ret < 0 ? -errno : ret;
	CHECK(ret >= 0, -1, "SQ_ENTER: %d", ret);
	CHECK((u32)ret <= f->p.sq_entries, -1, "SQ_ENTER applied %d ops, more "
	      "than the ring's %u", ret, f->p.sq_entries);
	f->st_sq_enter++;
	f->tot->sq_enters++;
	logit(f, 'E', NULL, 0, ret);
	return ret;
}

/* The CQ ring is full as the kernel sees it (no CQE given back since). */
static bool cq_full(struct fz *f)
{
	return read_tail(f, 0) - f->r[0].cq_given >= f->p.cq_entries;
}

static u32 sq_head(struct fz *f)
{
	return __atomic_load_n(f->sq_khead, __ATOMIC_ACQUIRE);
}

/* The doorbell after the tail @pub was published: all of it consumed. */
static void sq_ring_bell(struct fz *f, u32 pub)
{
	u32 h;

	sq_enter(f);
	h = sq_head(f);
	CHECK(f->sq_scribbled || h == pub || cq_full(f), -1, "SQ_ENTER "
	      "returned with head %u, tail %u published before it, and room in "
	      "the CQ ring (%u of %u used)", h, pub,
	      read_tail(f, 0) - f->r[0].cq_given, f->p.cq_entries);
}

/* Make @op one that fails with EINVAL or ERANGE whatever the state. */
static void make_malformed(struct fz *f, struct gen *g, struct timerring_op *op)
{
	switch (below(g, 4)) {
	case 0:
		op->resv = 1 + below(g, 0xfffe);
		break;
	case 1:
		op->opcode = TIMERRING_OP_LAST + below(g, 252);
		break;
	case 2:
		op->id = f->p.max_timers + below(g, 1000);
		break;
	default:
		op->flags |= 1 << (2 + below(g, 6));
		break;
	}
	if (!tr_uapi_op_errors(op, f->p.max_timers, f->p.resolution_ns))
		op->resv = 1;
}

/*
 * The error CQEs held (ring order) of the ops at ring positions
 * [@start, @start + @k): each names one op (ring index, opcode as
 * written, user_data), at most one per op, in the order of the ops, and
 * none before the tail read before its op was published. res[] of the
 * ops with one: its res; the others keep 1 (no error CQE). Returns the
 * number of error CQEs.
 */
static u32 sq_errors(struct fz *f, const struct timerring_op *ops,
		     const struct sqwin *w, s32 *res, u32 start, u32 k)
{
	u32 i, j, nerr = 0, last = 0;
	bool any = false;

	for (i = 0; i < k; i++)
		res[i] = 1;
	for (j = 0; j < f->nheld; j++) {
		const struct orphan *o = &f->held[j];
		u32 fl = o->cqe.flags;

		if (!(fl & TIMERRING_CQE_F_SQ_ERR))
			continue;
		i = ((fl >> 16) - start) & 0xffff;
		CHECK(i < k, -1, "error CQE at %u for ring index %u (res %d ud "
		      "%#llx): the ops in flight are %u..%u", o->pos, fl >> 16,
		      o->cqe.res, ULL(o->cqe.user_data), start, start + k - 1);
		CHECK(res[i] == 1, ops[i].id, "a second error CQE (at %u) for "
		      "the op at ring position %u: applied twice", o->pos,
		      start + i);
		CHECK((fl & 0xff) == TIMERRING_CQE_F_SQ_ERR &&
		      ((fl >> TIMERRING_CQE_OPCODE_SHIFT) & 0xff) ==
		      ops[i].opcode && o->cqe.user_data == ops[i].user_data &&
		      o->cqe.res < 0, ops[i].id, "error CQE at %u of the op at "
		      "ring position %u (opcode %u ud %#llx): res %d ud %#llx "
		      "flags %#x", o->pos, start + i, ops[i].opcode,
		      ULL(ops[i].user_data), o->cqe.res, ULL(o->cqe.user_data),
		      fl);
		CHECK(!pos_before(o->pos, w[i].tb), ops[i].id, "error CQE at %u "
		      "of the op at ring position %u, before the CQ tail %u "
		      "read before it was published", o->pos, start + i,
		      w[i].tb);
		CHECK(!any || i > last, ops[i].id, "error CQE of the op at ring "
		      "position %u after the one of %u", start + i, start + last);
		any = true;
		last = i;
		res[i] = o->cqe.res;
		nerr++;
	}
	return nerr;
}

/*
 * The model takes the @k ops consumed at [@start, @start + @k), with
 * their windows, once every one of them was seen consumed and a call
 * that takes the instance lock (STATS, in @st) made their error CQEs
 * visible: the kernel moves head before it publishes the CQ tail.
 */
static void sq_resolve(struct fz *f, const struct timerring_op *ops,
		       struct sqwin *w, u32 start, u32 k,
		       struct timerring_stats *st)
{
	static s32 res[TIMERRING_SQ_ENTRIES_MAX];
	u32 i, nerr, pre = __atomic_load_n(f->r[0].ktail, __ATOMIC_ACQUIRE);

	memset(st, 0, sizeof(*st));
	CHECK(ioctl(f->fd, TIMERRING_IOC_STATS, st) == 0, -1, "STATS: %d",
	      errno);
	hold_cqes(f);
	for (i = 0; i < k; i++)
		w[i].ta = f->r[0].cq_given;
	nerr = sq_errors(f, ops, w, res, start, k);
	/* error CQEs not visible yet when head had passed their ops */
	for (i = 0; i < f->nheld; i++)
		f->tot->sq_late_errs += (f->held[i].cqe.flags &
					 TIMERRING_CQE_F_SQ_ERR) &&
					!pos_before(f->held[i].pos, pre);
	for (i = 0; i < k; i++) {
		struct window lw = { .t0 = w[i].t0, .t1 = w[i].t1 };

		lw.tb[0] = w[i].tb;
		lw.ta[0] = w[i].ta;
		apply_op(f, &ops[i], res[i], &lw, true);
	}
	f->st_sq_ops += k;
	f->st_sq_failed += nerr;
	f->tot->sq_ops += k;
	f->tot->sq_errs += nerr;
	check_sq_stats(f, st);
	flush_held(f);
}

/*
 * A batch through the SQ ring: written in up to three pieces, each
 * published, consumed by the doorbell, or by the doorbell only if the
 * kernel set NEED_WAKEUP (else it polls: consumed within the grace), or
 * by the kernel's passes alone for a while. The consumer may stall for a
 * while, letting the CQ ring fill (then head must not move). @mixed: an
 * ioctl SUBMIT on other ids while the ops are in flight.
 */
static void sq_batch(struct fz *f, struct gen *g, bool mixed)
{
	static struct timerring_op ops[MAX_BATCH], bops[MAX_BATCH];
	static struct sqwin w[MAX_BATCH];
	struct gen lg = { grnd(g) };	/* for what depends on timing */
	struct timerring_stats st;
	u32 n, k = 0, nb = 0, i, j, npieces, cut[3], start, end, done, h;
	u32 mode, h_full = 0, mask = f->p.sq_entries - 1;
	u64 t, t_start, stall_until = 0, poll_bound = 0, since;
	bool garbage = chance(g, 15), need_enter = false, full_seen = false;

	switch (below(g, 10)) {
	case 0:
		n = 50 + below(g, MAX_BATCH - 50);
		break;
	case 1:
	case 2:
		n = 9 + below(g, 40);
		break;
	default:
		n = 1 + below(g, 8);
		break;
	}
	for (i = 0; i < n; i++) {
		gen_op(f, g, &ops[k], k ? &ops[k - 1] : NULL, 0, 1, !mixed);
		if (garbage && chance(g, 70))
			make_malformed(f, g, &ops[k]);
		if (op_wanted(f, &ops[k]))
			k++;
	}
	mode = below(g, 4);
	npieces = 1 + below(g, 3);
	for (j = 0; j < 3; j++)
		cut[j] = below(g, k + 1);
	if (cut[0] > cut[1]) {
		j = cut[0];
		cut[0] = cut[1];
		cut[1] = j;
	}
	if (chance(g, garbage ? 60 : 20))
		stall_until = 1 + below(g, 40 * NSEC_PER_MSEC);
	if (mode == SQM_POLL)
		poll_bound = below(g, 200 * NSEC_PER_MSEC);
	n = chance(g, 20) ? 200 + below(g, MAX_BATCH - 200) : 1 + below(g, 8);
	for (i = 0; mixed && i < n; i++) {
		gen_op(f, g, &bops[nb], NULL, 0, 1, false);
		for (j = 0; j < k && ops[j].id != bops[nb].id; j++)
			;
		if (j == k && op_wanted(f, &bops[nb]))
			nb++;
	}
	if (!f->sq || !f->mapped)
		return;
	if (k > f->p.sq_entries)
		k = f->p.sq_entries;
	if (!k)
		return;
	if (f->sq_scribbled)
		mode = SQM_ENTER;

	f->holding = true;
	start = f->sq_tail;
	end = start + k;
	for (i = 0, j = 0; j < npieces; j++) {
		u32 to = j == npieces - 1 ? k : cut[j] < k ? cut[j] : k;
		u32 tb = read_tail(f, 0);

		t = now_ns();
		for (; i < to; i++) {
			f->sq_ops[(start + i) & mask] = ops[i];
			w[i].t0 = t;
			w[i].tb = tb;
			w[i].t1 = 0;
		}
		__atomic_store_n(f->sq_ktail, start + i, __ATOMIC_RELEASE);
		if (mode == SQM_PIECES)
			sq_ring_bell(f, start + i);
		else if (j + 1 < npieces && chance(&lg, 50))
			usleep(below(&lg, 2000));
	}
	f->sq_tail = end;
	if (nb)
		submit(f, bops, nb, 0, -1, false);
	if (mode == SQM_SUBMIT) {
		/* liburing's sq_ring_needs_enter(): tail, barrier, flags */
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		need_enter = __atomic_load_n(f->sq_kflags, __ATOMIC_RELAXED) &
			     TIMERRING_SQ_NEED_WAKEUP;
	}
	if (mode == SQM_ENTER || need_enter)
		sq_ring_bell(f, end);

	t_start = mono_ns();
	if (stall_until)
		stall_until += t_start;
	since = t_start;
	for (done = start;;) {
		CHECK(mono_ns() - t_start < 60 * NSEC_PER_SEC, -1, "ops %u..%u "
		      "not consumed in 60 s (head %u)", start, end - 1, done);
		h = sq_head(f);
		t = now_ns();
		if (!f->sq_scribbled)
			CHECK(!pos_before(h, done) && !pos_before(end, h), -1,
			      "SQ head %u: %u consumed before, %u published", h,
			      done, end);
		for (; pos_before(done, h) && pos_before(done, end); done++)
			w[done - start].t1 = t;
		if (done == end)
			break;
		if (mono_ns() < stall_until) {
			/* a full CQ ring holds the SQ ring back */
			if (cq_full(f)) {
				h = sq_head(f);
				CHECK(!full_seen || h == h_full ||
				      f->sq_scribbled, -1, "SQ head moved from "
				      "%u to %u with the CQ ring full", h_full,
				      h);
				f->tot->sq_held_back += !full_seen;
				full_seen = true;
				h_full = h;
			}
			usleep(100 + below(&lg, 900));
			since = mono_ns();
			continue;
		}
		full_seen = false;
		hold_cqes(f);
		if (mode == SQM_SUBMIT && !need_enter) {
			/* the kernel polls: consumed within a poll period */
			CHECK(mono_ns() - since < opt_grace_ns, -1, "ops %u..%u "
			      "published with NEED_WAKEUP clear, %u not consumed "
			      "after %llu ms (CQ ring %u of %u used)", start,
			      end - 1, end - done,
			      ULL((mono_ns() - since) / NSEC_PER_MSEC),
			      __atomic_load_n(f->r[0].ktail, __ATOMIC_ACQUIRE) -
			      f->r[0].cq_given, f->p.cq_entries);
		} else if (mode != SQM_POLL ||
			   mono_ns() - t_start >= poll_bound) {
			sq_ring_bell(f, end);
			continue;
		}
		usleep(100 + below(&lg, 900));
	}
	f->tot->sq_polled += mode == SQM_SUBMIT && !need_enter;
	logit(f, 'Q', NULL, mode, 0);
	f->log[(f->nlog - 1) % LOGN].a = start;
	f->log[(f->nlog - 1) % LOGN].b = end - 1;
	f->log[(f->nlog - 1) % LOGN].res = now_ns() - w[0].t0;
	f->tot->sq_batches++;
	sq_resolve(f, ops, w, start, k, &st);
}

/*
 * The ring filled with known malformed ops, then a tail far ahead of head
 * (or behind it): counted as exactly ring_entries ops each time, so the
 * kernel consumes until the CQ ring is full of their error CQEs, and a
 * doorbell then consumes nothing. Then the tail is put at head again.
 */
static void sq_garbage(struct fz *f, struct gen *g)
{
	static struct timerring_op gops[TIMERRING_SQ_ENTRIES_MAX];
	static struct timerring_op ops[TIMERRING_SQ_ENTRIES_MAX];
	static struct sqwin w[TIMERRING_SQ_ENTRIES_MAX];
	u32 entries = f->p.sq_entries, mask = entries - 1, i, start, v, h;
	struct timerring_stats st;
	struct sqwin w0;
	u64 t_start;
	int ret;

	/* up to a CQ ring of error CQEs are consumed: at most 2^16 here */
	if (!f->sq || !f->mapped ||
	    f->p.cq_entries > TIMERRING_SQ_ENTRIES_MAX)
		return;
	switch (below(g, 3)) {
	case 0:
		v = entries + 1 + below(g, 1U << 30);
		break;
	case 1:
		v = -(u32)(1 + below(g, 1U << 20));
		break;
	default:
		v = grnd(g);
		if (v <= entries)
			v += entries + 1;
		break;
	}
	for (i = 0; i < entries; i++) {
		gen_op(f, g, &gops[i], NULL, 0, 1, true);
		make_malformed(f, g, &gops[i]);
	}
	ret = chance(g, 50);
	f->holding = true;
	start = f->sq_tail;
	for (i = 0; i < entries; i++)
		f->sq_ops[(start + i) & mask] = gops[(start + i) & mask];
	w0.t0 = now_ns();
	w0.tb = read_tail(f, 0);
	__atomic_store_n(f->sq_ktail, start + v, __ATOMIC_RELEASE);
	logit(f, 'T', NULL, start, start + v);
	if (ret) {
		ret = sq_enter(f);
		CHECK((u32)ret == entries || cq_full(f), -1, "SQ_ENTER with tail "
		      "%u, head %u: %d ops of %u, and room in the CQ ring",
		      start + v, start, ret, entries);
	}
	for (t_start = mono_ns(), i = 0; !cq_full(f); i++) {
		CHECK(mono_ns() - t_start < 60 * NSEC_PER_SEC, -1, "a tail %u "
		      "ahead: the CQ ring never filled (head %u from %u)", v,
		      sq_head(f), start);
		if (i % 16 == 15 ||
		    (__atomic_load_n(f->sq_kflags, __ATOMIC_RELAXED) &
		     TIMERRING_SQ_NEED_WAKEUP))
			sq_enter(f);
		else
			usleep(500);
	}
	/* nothing more fits: the doorbell consumes nothing */
	ret = sq_enter(f);
	h = sq_head(f);
	CHECK(ret == 0, -1, "SQ_ENTER with the CQ ring full consumed %d ops "
	      "(head %u)", ret, h);
	CHECK(h - start <= f->p.cq_entries, -1, "%u garbage ops consumed, the "
	      "CQ ring has %u slots", h - start, f->p.cq_entries);
	__atomic_store_n(f->sq_ktail, h, __ATOMIC_RELEASE);
	f->sq_tail = h;
	w0.t1 = now_ns();
	for (i = 0; i < h - start; i++) {
		ops[i] = gops[(start + i) & mask];
		w[i] = w0;
	}
	f->tot->sq_garbage += h - start;
	sq_resolve(f, ops, w, start, h - start, &st);
}

/*
 * Scribble on a field of the SQ ring the kernel owns (head, ring_mask,
 * ring_entries, flags, dropped), run a batch with it there, and put it
 * back unless the kernel wrote it meanwhile: nothing may change.
 */
static void sq_scribble(struct fz *f, struct gen *g)
{
	u32 *fields[5], *p, v, old, which;

	if (!f->sq || !f->mapped)
		return;
	fields[0] = f->sq_khead;
	fields[1] = f->sq_kmask;
	fields[2] = f->sq_kentries;
	fields[3] = f->sq_kflags;
	fields[4] = f->sq_kdropped;
	which = below(g, 5);
	p = fields[which];
	v = grnd(g);
	if (which == 0)		/* behind: never taken for ops consumed */
		v = f->sq_tail - 1 - below(g, 1U << 30);
	if (which == 3)		/* a value the kernel never writes */
		v |= 2;
	old = __atomic_load_n(p, __ATOMIC_ACQUIRE);
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
	f->sq_scribbled = true;
	logit(f, 'h', NULL, which, v);
	f->tot->scribbles++;
	sq_batch(f, g, false);
	if (which == 1 || which == 2)
		__atomic_store_n(p, which == 1 ? f->p.sq_entries - 1 :
				 f->p.sq_entries, __ATOMIC_RELEASE);
	else
		__atomic_compare_exchange_n(p, &v, old, false, __ATOMIC_SEQ_CST,
					    __ATOMIC_SEQ_CST);
	f->sq_scribbled = false;
	check_ring_fields(f);
}

/* ------------------------------------------------------------------ */
/* Other actions of the single-threaded sessions */

/*
 * WAIT counts the CQEs of all rings: one that times out had fewer than
 * min_complete ready before it (with a timeout of 2 ms or more: a pass
 * publishes a ring's tail a few instructions before the count WAIT
 * reads, and wakes the waiters after both), one that returns has them.
 */
static void do_wait(struct fz *f, struct gen *g)
{
	u32 ready, min, avail, before;
	s64 timeout;
	u64 t0, t1;
	int ret, want = 0;
	struct timerring_wait w = { 0 };

	switch (below(g, 6)) {
	case 0:
		min = f->p.cq_entries + 1 + below(g, 10);
		want = -EINVAL;
		break;
	case 1:
		min = f->p.cq_entries;
		break;
	case 2:
		min = 0;
		break;
	default:
		min = below(g, 4);
		break;
	}
	timeout = below(g, 3) ? (s64)below(g, 20 * NSEC_PER_MSEC) : 0;
	if (chance(g, 5)) {
		w.min_complete = min;
		w.timeout_ns = timeout;
		if (below(g, 2))
			w.flags = 1U << below(g, 32);
		else
			w.resv = 1 + below(g, 100);
		ret = ioctl(f->fd, TIMERRING_IOC_WAIT, &w) < 0 ? -errno : 0;
		CHECK(ret == -EINVAL, -1, "WAIT flags %#x resv %u: %d", w.flags,
		      w.resv, ret);
		return;
	}
	before = unread(f);
	t0 = mono_ns();
	ret = wait_ioctl(f, min, timeout, &ready);
	t1 = mono_ns();
	logit(f, 'W', NULL, min, ret);
	f->tot->waits++;
	if (want) {
		CHECK(ret == want, -1, "WAIT min %u of %u: %d", min,
		      f->p.cq_entries, ret);
		return;
	}
	avail = f->mapped ? unread(f) : 0;
	CHECK(ready <= f->p.cq_entries * f->nrings, -1, "WAIT ready %u, %u "
	      "rings of %u", ready, f->nrings, f->p.cq_entries);
	if (ret == 0) {
		CHECK(ready >= min, -1, "WAIT min %u returned with %u ready",
		      min, ready);
		if (f->mapped)
			CHECK(avail >= ready, -1, "WAIT ready %u, the %u rings "
			      "have %u", ready, f->nrings, avail);
	} else {
		CHECK(ret == -ETIME && min > 0, -1, "WAIT min %u timeout %lld: "
		      "%d", min, (long long)timeout, ret);
		CHECK(t1 - t0 >= (u64)timeout, -1, "WAIT ETIME after %llu of "
		      "%lld ns", ULL(t1 - t0), (long long)timeout);
		CHECK(!f->mapped || timeout < (s64)(2 * NSEC_PER_MSEC) ||
		      before < min, -1, "WAIT min %u timeout %lld: ETIME with "
		      "ready %u, the %u rings had %u before it", min,
		      (long long)timeout, ready, f->nrings, before);
	}
	if (chance(g, 50))
		consume(f, below(g, 2) ? ~0U : below(g, 8));
}

/* poll() counts the CQEs and the overflow lists of all rings. */
static void do_poll(struct fz *f, struct gen *g)
{
	struct pollfd pfd = { .fd = f->fd, .events = POLLIN };
	u32 before = unread(f);
	bool pend;
	int ret;

	ret = poll(&pfd, 1, below(g, 3) ? 0 : (int)below(g, 10));
	pend = ovf_pending(f);
	CHECK(ret >= 0 && !(pfd.revents & (POLLERR | POLLNVAL)), -1,
	      "poll: %d revents %#x", ret, pfd.revents);
	if (f->mapped && before)
		CHECK(pfd.revents & POLLIN, -1, "poll: %u CQEs ready in %u "
		      "rings, revents %#x", before, f->nrings, pfd.revents);
	if ((pfd.revents & POLLIN) && f->mapped)
		CHECK(unread(f) || pend || ovf_pending(f), -1,
		      "POLLIN with nothing ready");
}

/*
 * Scribble on the ring: a field we write (head, flags) or one the kernel
 * owns and never reads back (mask, entries, overflow, kflags,
 * overflow_pending, the reserved words), let the kernel run, put it back.
 * A head is never set to where the kernel could write over CQEs we have
 * not read: past ours and not past the tail.
 */
static void do_scribble(struct fz *f, struct gen *g)
{
	const struct timerring_cq_offsets *o = &f->p.cq_off;
	u32 offs[] = { o->head, o->flags, o->ring_mask, o->ring_entries,
		       o->overflow, o->kflags, o->overflow_pending };
	u32 off = offs[below(g, ARRAY_SIZE(offs))], v = grnd(g), old, ready;
	u32 entries = f->p.cq_entries, *p, k = below(g, f->nrings);
	struct ring *r = &f->r[k];

	if (!f->mapped)
		return;
	/*
	 * A head behind ours (the ring looks fuller), or more than a ring
	 * ahead (it looks overfull: taken as full); one in (ours, ours +
	 * entries] would let the kernel write over CQEs not read yet.
	 */
	if (off == o->head && below(g, 2))
		v = r->head - below(g, 3 * entries);
	else if (off == o->head && v - r->head >= 1 && v - r->head <= entries)
		v = r->head + entries + 1 + below(g, 1000);
	p = (u32 *)(ring_base(f, k) + off);
	old = *p;
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
	logit(f, 'H', NULL, off, v);
	f->log[(f->nlog - 1) % LOGN].a = k;
	f->tot->scribbles++;
	if (below(g, 2))
		wait_ioctl(f, 0, 0, &ready);
	else
		usleep(below(g, 3000));
	if (off == o->head || off == o->flags)
		__atomic_store_n(p, off == o->head ? r->head : old,
				 __ATOMIC_RELEASE);
	else	/* unless the kernel wrote it meanwhile */
		__atomic_compare_exchange_n(p, &v, old, false, __ATOMIC_SEQ_CST,
					    __ATOMIC_SEQ_CST);
}

/* munmap and map again, a second mapping, and the mmap() errors. */
static void do_mapping(struct fz *f, struct gen *g)
{
	char *last;
	void *p;
	size_t pg = getpagesize();

	switch (below(g, 8)) {
	case 0:
	case 1:
		unmap_ring(f);
		logit(f, 'L', NULL, 1, 0);
		if (below(g, 2))
			usleep(below(g, 20000));
		map_ring(f);
		f->tot->remaps++;
		return;
	case 2:
		/* a second view of the same pages */
		p = mmap(NULL, f->p.mmap_size, PROT_READ, MAP_SHARED, f->fd, 0);
		CHECK(p != MAP_FAILED, -1, "second mmap: %d", errno);
		last = ring_base(f, f->nrings - 1);
		CHECK(!memcmp(p, f->ring, f->p.cq_off.tail) &&
		      !memcmp((char *)p + (last - f->ring), last,
			      f->p.cq_off.tail), -1, "second mapping differs");
		munmap(p, f->p.mmap_size);
		return;
	case 3:
		p = mmap(NULL, f->p.mmap_size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE, f->fd, 0);
		CHECK(p == MAP_FAILED && errno == EINVAL, -1, "MAP_PRIVATE: %d",
		      errno);
		return;
	case 4:
		p = mmap(NULL, f->p.mmap_size + pg, PROT_READ | PROT_WRITE,
			 MAP_SHARED, f->fd, 0);
		CHECK(p == MAP_FAILED && errno == EINVAL, -1, "longer mmap: %d",
		      errno);
		p = mmap(NULL, pg, PROT_READ, MAP_SHARED, f->fd, pg);
		CHECK(p == MAP_FAILED && errno == EINVAL, -1, "mmap offset "
		      "%zu: %d", pg, errno);
		return;
	case 5:
		p = mmap(NULL, pg, PROT_READ | PROT_EXEC, MAP_SHARED, f->fd, 0);
		CHECK(p == MAP_FAILED && errno == EPERM, -1, "PROT_EXEC: %d",
		      errno);
		return;
	case 6:
		CHECK(mprotect(f->ring, pg, PROT_READ | PROT_EXEC) < 0 &&
		      errno == EACCES, -1, "mprotect PROT_EXEC: %d", errno);
		return;
	default:
		p = mremap(f->ring, f->ring_len, f->ring_len + pg, 0);
		CHECK(p == MAP_FAILED && errno == EFAULT, -1, "mremap: %d",
		      errno);
		return;
	}
}

/* Ioctl numbers and sizes the header rules on. */
static void do_bad_ioctl(struct fz *f, struct gen *g)
{
	char buf[8192];
	unsigned long cmd;
	int ret, want;
	struct timerring_submit *s = (void *)buf;
	struct timerring_stats *st = (void *)buf;

	memset(buf, 0, sizeof(buf));
	switch (below(g, 8)) {
	case 0:
		cmd = _IOWR(TIMERRING_IOC_MAGIC, 6 + below(g, 250), u64);
		want = -ENOTTY;
		break;
	case 1:
		cmd = _IOWR(TIMERRING_IOC_MAGIC + 1, 2, struct timerring_submit);
		want = -ENOTTY;
		break;
	case 2:
		cmd = _IOC(_IOC_READ | _IOC_WRITE, TIMERRING_IOC_MAGIC, 3,
			   below(g, TIMERRING_WAIT_SIZE_VER0));
		want = -EINVAL;
		break;
	case 3:
		cmd = _IOC(_IOC_READ | _IOC_WRITE, TIMERRING_IOC_MAGIC, 3,
			   4097 + below(g, 4000));
		want = -E2BIG;
		break;
	case 4:
		/* a longer submit struct: a non-zero tail is E2BIG */
		cmd = _IOC(_IOC_READ | _IOC_WRITE, TIMERRING_IOC_MAGIC, 2,
			   sizeof(*s) + 8);
		buf[sizeof(*s) + below(g, 8)] = 1;
		want = -E2BIG;
		break;
	case 5:
		/* bad submit fields */
		cmd = TIMERRING_IOC_SUBMIT;
		switch (below(g, 3)) {
		case 0:
			s->flags = 2U << below(g, 31);
			break;
		case 1:
			s->resv[below(g, 2)] = 1;
			break;
		default:
			s->nr = TIMERRING_BATCH_MAX + 1 + below(g, 1000);
			break;
		}
		want = -EINVAL;
		break;
	case 6:
		/* a VER1 STATS: nothing written past it (shards is VER2) */
		memset(buf, 0xff, sizeof(buf));
		cmd = _IOC(_IOC_READ, TIMERRING_IOC_MAGIC, 5,
			   TIMERRING_STATS_SIZE_VER1);
		ret = ioctl(f->fd, cmd, buf) < 0 ? -errno : 0;
		CHECK(ret == 0, -1, "STATS of %u bytes: %d",
		      TIMERRING_STATS_SIZE_VER1, ret);
		for (ret = TIMERRING_STATS_SIZE_VER1;
		     ret < (int)sizeof(*st) + 64; ret++)
			CHECK(buf[ret] == (char)0xff, -1, "STATS of %u bytes "
			      "wrote byte %d", TIMERRING_STATS_SIZE_VER1, ret);
		return;
	default:
		/* a longer STATS: the tail is zeroed */
		memset(buf, 0xff, sizeof(buf));
		cmd = _IOC(_IOC_READ, TIMERRING_IOC_MAGIC, 5, sizeof(*st) + 64);
		ret = ioctl(f->fd, cmd, buf) < 0 ? -errno : 0;
		CHECK(ret == 0, -1, "STATS of %zu bytes: %d", sizeof(*st) + 64,
		      ret);
		for (ret = 0; ret < 64; ret++)
			CHECK(!buf[sizeof(*st) + ret], -1, "STATS tail byte %d "
			      "not zeroed", ret);
		return;
	}
	ret = ioctl(f->fd, cmd, buf) < 0 ? -errno : 0;
	logit(f, 'I', NULL, cmd, ret);
	CHECK(ret == want, -1, "ioctl %#lx: %d, wanted %d", cmd, ret, want);
}

/* The child submits a batch on the inherited fd. */
static void do_fork(struct fz *f, struct gen *g)
{
	struct timerring_op ops[16];
	u32 n = 1 + below(g, 16), i, k = 0;

	for (i = 0; i < n; i++) {
		gen_op(f, g, &ops[k], k ? &ops[k - 1] : NULL, 0, 1, true);
		if (op_wanted(f, &ops[k]))
			k++;
	}
	if (k)
		submit(f, ops, k, 0, -1, true);
}

/* ------------------------------------------------------------------ */
/* Threads */

struct targ {
	struct fz *f;
	int idx, n;
	u64 seed;
	u64 end_ns;
};

static void *submitter(void *arg)
{
	struct targ *ta = arg;
	struct fz *f = ta->f;
	struct gen g = { ta->seed };

	cur_thread = ta->idx + 1;
	while (!f->stop && mono_ns() < ta->end_ns) {
		bool excl = chance(&g, 4);

		if (excl)
			pthread_rwlock_wrlock(&f->rw);
		else
			pthread_rwlock_rdlock(&f->rw);
		rw_held = true;
		gen_batch(f, &g, ta->idx, ta->n, excl);
		rw_held = false;
		pthread_rwlock_unlock(&f->rw);
		if (chance(&g, 20))
			usleep(below(&g, 3000));
	}
	return NULL;
}

static void *consumer(void *arg)
{
	struct targ *ta = arg;
	struct fz *f = ta->f;
	struct gen g = { ta->seed };
	u32 ready;

	cur_thread = MAX_THREADS + 1;
	while (!f->stop && mono_ns() < ta->end_ns) {
		unsigned int r = below(&g, 100);

		lock(f);
		if (r < 3)
			do_scribble(f, &g);
		else if (r < 5)
			do_mapping(f, &g);
		else
			consume(f, below(&g, 3) ? ~0U : below(&g, 16));
		unlock(f);
		if (r < 30)
			wait_ioctl(f, 0, 0, &ready);
		else if (r < 60)
			wait_ioctl(f, 1, 2 * NSEC_PER_MSEC, &ready);
		else if (r < 70)
			usleep(below(&g, 2000));
	}
	return NULL;
}

static void run_threads(struct fz *f, struct gen *g, double secs)
{
	pthread_t th[MAX_THREADS + 1];
	struct targ ta[MAX_THREADS + 1];
	int n = opt_threads, i;
	u64 end = mono_ns() + (u64)(secs * NSEC_PER_SEC);

	for (i = 0; i <= n; i++) {
		ta[i].f = f;
		ta[i].idx = i;
		ta[i].n = n;
		ta[i].seed = grnd(g);
		ta[i].end_ns = end;
	}
	f->stall = -1;
	f->tot->sharded_threads += f->nrings > 1;
	f->tot->thread_runs++;
	f->threaded = true;
	f->stop = 0;
	for (i = 0; i < n; i++)
		pthread_create(&th[i], NULL, submitter, &ta[i]);
	pthread_create(&th[n], NULL, consumer, &ta[n]);
	for (i = 0; i <= n; i++)
		pthread_join(th[i], NULL);
	f->threaded = false;
	if (f->failing)
		longjmp(f->jb, 1);
	/* the consumer may have left the ring unmapped */
	if (!f->mapped)
		map_ring(f);
}

/* ------------------------------------------------------------------ */
/* Sessions */

static void close_instance(struct fz *f, struct gen *g)
{
	u32 ready;

	switch (below(g, 3)) {
	case 0:
		unmap_ring(f);
		close(f->fd);
		break;
	case 1:
		/* the mapping keeps the instance: CQEs still come, checked */
		close(f->fd);
		f->fd = -1;
		usleep(below(g, 20000));
		lock(f);
		consume(f, ~0U);
		unlock(f);
		unmap_ring(f);
		break;
	default:
		wait_ioctl(f, 0, 0, &ready);
		close(f->fd);
		unmap_ring(f);
		break;
	}
	logit(f, 'L', NULL, 0, 0);
	f->fd = -1;
}

/* One session: open, SETUP, steps, close; reopen in the same session. */
static void session(struct fz *f, int phase, double secs)
{
	struct gen g = { tr_splitmix64(&(u64){ f->seed + f->session }) };
	u64 end = mono_ns() + (u64)(secs * NSEC_PER_SEC);
	int reopen = 0;

	f->step = 0;
	f->phase = phase;
	do {
		reset_model(f);
		setup_instance(f, &g);
		make_pool(f, &g, phase == PH_THREADS ? opt_threads : 1);
		if (phase == PH_THREADS) {
			run_threads(f, &g, secs / 2);
			checkpoint(f);
			f->step++;
		}
		while (mono_ns() < end && (f->max_steps < 0 ||
					   f->step < f->max_steps)) {
			unsigned int r = below(&g, 1000);

			f->step++;
			f->tot->steps++;
			if (f->stall >= 0 && f->step >= f->stall_end)
				stall_check(f, true);
			if (phase == PH_THREADS && r < 3) {
				run_threads(f, &g, 1 + below(&g, 3));
				checkpoint(f);
			} else if (r < 520) {
				if (f->sq && below(&g, 100) < 65)
					sq_batch(f, &g, !below(&g, 5));
				else
					gen_batch(f, &g, 0, 1, true);
			} else if (r < 720 && f->nrings > 1 && f->stall < 0 &&
				   chance(&g, 10)) {
				/* leave one ring alone for 50 to 650 steps */
				f->stall = below(&g, f->nrings);
				f->stall_end = f->step + 50 + below(&g, 600);
				logit(f, 'Y', NULL, f->stall, f->stall_end);
			} else if (r < 720 && f->nrings > 1 && chance(&g, 25)) {
				consume_one(f, below(&g, f->nrings),
					    below(&g, 3) ? ~0U : below(&g, 32));
			} else if (r < 720) {
				consume(f, below(&g, 3) ? ~0U : below(&g, 32));
			} else if (r < 790) {
				do_wait(f, &g);
			} else if (r < 830) {
				do_poll(f, &g);
			} else if (r < 860) {
				if (f->sq && below(&g, 2)) {
					if (below(&g, 3))
						sq_scribble(f, &g);
					else
						sq_garbage(f, &g);
				} else {
					do_scribble(f, &g);
				}
			} else if (r < 900) {
				usleep(below(&g, 15000));
			} else if (r < 920) {
				check_stats(f, false);
			} else if (r < 940 + (phase == PH_LIFE) * 20) {
				do_mapping(f, &g);
			} else if (r < 960 + (phase == PH_LIFE) * 20) {
				do_bad_ioctl(f, &g);
			} else if (r < 975 + (phase == PH_LIFE) * 15) {
				do_fork(f, &g);
			} else if (r < 990 && f->stall >= 0) {
				stall_check(f, false);
			} else if (r < 990) {
				checkpoint(f);
			} else if (phase == PH_LIFE || r < 993) {
				break;	/* close and reopen */
			}
		}
		checkpoint(f);
		close_instance(f, &g);
		reopen++;
	} while (mono_ns() < end && (f->max_steps < 0 ||
				     f->step < f->max_steps));
}

/* Run a session; 0 if it passed, else the failure is in f->msg. */
static int run_session(struct fz *f, int phase, double secs)
{
	the_fz = f;
	f->failing = false;
	f->nlog = 0;
	f->fd = -1;
	f->mapped = false;
	if (setjmp(f->jb)) {
		if (f->mapped)
			unmap_ring(f);
		if (f->fd >= 0)
			close(f->fd);
		f->fd = -1;
		reset_model(f);
		return -1;
	}
	session(f, phase, secs);
	f->tot->sessions++;
	reset_model(f);
	return 0;
}

/* The value of KEY=VALUE on the kernel command line, or NULL. */
static const char *cmdline_value(const char *key)
{
	static char buf[4096];
	size_t len = strlen(key);
	char *p;
	int fd = open("/proc/cmdline", O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return NULL;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return NULL;
	buf[n] = 0;
	for (p = buf; (p = strstr(p, key)); p++)
		if ((p == buf || p[-1] == ' ') && p[len] == '=')
			return p + len + 1;
	return NULL;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: timerring-fuzz [-s SEED] [-d SECONDS] [-t THREADS] [-g GRACE_MS]\n"
		"                      [-p MASK] [-S SESSION -P PHASE [-n STEPS] [-i ID]]\n"
		"  -d: fuzzing time (default trfuzz= of the kernel command line,\n"
		"      else 120 s with kmemleak (the debug kernel), 20 s elsewhere)\n"
		"  -p MASK: the phases to run (bit 0 single, 1 threads, 2 lifecycle;\n"
		"      trfuzzphases= on the kernel command line)\n"
		"  -S, -P, -n, -i: replay one session of a phase (0 single, 1 threads,\n"
		"      2 lifecycle), up to a step, with only one id's ops\n");
	exit(2);
}

static const char *const phase_names[] = { "single-threaded", "threads",
					   "lifecycle" };

int main(int argc, char **argv)
{
	static struct fz fz;
	struct fz *f = &fz;
	struct totals tot[PH_N] = { 0 };
	double share[PH_N] = { 0.55, 0.30, 0.15 }, sel = 0;
	int c, ph, replay_phase = 0, fails = 0, vfd;
	bool seed_given = false;
	u64 t_start;

	opt_seed = mono_ns() ^ getpid();
	while ((c = getopt(argc, argv, "s:d:t:g:S:P:n:i:p:vh")) != -1) {
		switch (c) {
		case 's':
			opt_seed = strtoull(optarg, NULL, 0);
			seed_given = true;
			break;
		case 'd':
			opt_duration = strtod(optarg, NULL);
			break;
		case 't':
			opt_threads = atoi(optarg);
			if (opt_threads < 1 || opt_threads > MAX_THREADS)
				usage();
			break;
		case 'g':
			opt_grace_ns = strtoull(optarg, NULL, 0) * NSEC_PER_MSEC;
			break;
		case 'S':
			opt_session = atoi(optarg);
			break;
		case 'P':
			replay_phase = atoi(optarg);
			break;
		case 'n':
			opt_steps = atol(optarg);
			break;
		case 'i':
			opt_only_id = atoll(optarg);
			break;
		case 'p':
			opt_phases = strtoul(optarg, NULL, 0);
			break;
		case 'v':
			opt_verbose = 1;
			break;
		default:
			usage();
		}
	}
	if (opt_duration < 0 && cmdline_value("trfuzz"))
		opt_duration = strtod(cmdline_value("trfuzz"), NULL);
	if (cmdline_value("trfuzzphases"))
		opt_phases = strtoul(cmdline_value("trfuzzphases"), NULL, 0);
	if (!seed_given && cmdline_value("trfuzzseed"))
		opt_seed = strtoull(cmdline_value("trfuzzseed"), NULL, 0);
	if (opt_duration < 0)
		opt_duration = access("/sys/kernel/debug/kmemleak", F_OK) ? 20 : 120;

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("TAP version 13\n");
	vfd = open(TIMERRING_DEV_PATH, O_RDWR | O_CLOEXEC);
	if (vfd < 0) {
		printf("1..0 # SKIP no %s (%d)\n", TIMERRING_DEV_PATH, errno);
		return 4;
	}
	if (ioctl(vfd, TIMERRING_IOC_VERSION, &f->ver)) {
		printf("1..0 # SKIP VERSION: %d\n", errno);
		return 4;
	}
	close(vfd);
	f->online_nodes = online_nodes();
	c = sysconf(_SC_NPROCESSORS_ONLN);
	f->ncpus = c > 0 ? c : 1;
	f->arena = calloc(ARENA, sizeof(*f->arena));
	f->free_arms = calloc(ARENA, sizeof(*f->free_arms));
	pthread_mutex_init(&f->mu, NULL);
	pthread_rwlock_init(&f->rw, NULL);
	if (!f->arena || !f->free_arms)
		return 1;
	f->seed = opt_seed;
	f->max_steps = opt_steps;
	f->only_id = opt_only_id;
	printf("# seed %#llx, %.0f s, %d threads, grace %llu ms, module %s, "
	       "max_timers %u, max_cq_entries %u, %u CPUs\n", ULL(opt_seed),
	       opt_duration, opt_threads, ULL(opt_grace_ns / NSEC_PER_MSEC),
	       f->ver.module_version, f->ver.max_timers,
	       f->ver.max_cq_entries, f->ncpus);

	if (opt_session >= 0) {
		/* replay */
		printf("1..1\n");
		f->session = opt_session;
		f->tot = &tot[0];
		if (run_session(f, replay_phase, opt_duration)) {
			printf("# %s\n", f->msg);
			print_log(f, f->fail_id, 60);
			printf("not ok 1 - replay of session %d\n", opt_session);
			return 1;
		}
		printf("ok 1 - replay of session %d: %llu ops, %llu CQEs\n",
		       opt_session, ULL(tot[0].ops), ULL(tot[0].cqes));
		return 0;
	}

	printf("1..%d\n", PH_N);
	for (ph = 0; ph < PH_N; ph++)
		sel += opt_phases & (1U << ph) ? share[ph] : 0;
	for (ph = 0; ph < PH_N; ph++)
		share[ph] /= sel > 0 ? sel : 1;
	for (ph = 0; ph < PH_N; ph++) {
		u64 end = mono_ns() + (u64)(share[ph] * opt_duration *
					    NSEC_PER_SEC);
		double secs;
		int failed = 0;

		if (!(opt_phases & (1U << ph))) {
			printf("ok %d - %s # SKIP not selected (-p %#x)\n",
			       ph + 1, phase_names[ph], opt_phases);
			continue;
		}

		t_start = mono_ns();
		f->tot = &tot[ph];
		while (!failed && mono_ns() < end) {
			secs = (double)(end - mono_ns()) / NSEC_PER_SEC;
			if (secs > 8)
				secs = 3 + (f->session % 6);
			f->session++;
			f->only_id = -1;
			f->max_steps = -1;
			if (!run_session(f, ph, secs))
				continue;
			failed = 1;
			printf("# FAIL seed %#llx phase %d session %d step %ld: "
			       "%s\n", ULL(opt_seed), ph, f->session,
			       f->fail_step, f->msg);
			printf("# the steps before it (id %lld, CANCEL_ALL, "
			       "the rest of the session):\n", f->fail_id);
			print_log(f, f->fail_id, 40);
			printf("# replay: timerring-fuzz -s %#llx -P %d -S %d "
			       "-n %ld\n", ULL(opt_seed), ph, f->session,
			       f->fail_step);
			if (f->fail_id >= 0 && ph != PH_THREADS) {
				long step = f->fail_step;
				long long id = f->fail_id;
				char msg[sizeof(f->msg)];

				memcpy(msg, f->msg, sizeof(msg));
				f->max_steps = step;
				f->only_id = id;
				if (run_session(f, ph, 60)) {
					printf("# shortened (only id %lld's ops, "
					       "-i %lld): fails at step %ld: %s\n",
					       id, id, f->fail_step, f->msg);
					print_log(f, id, 40);
				} else {
					printf("# shortened (only id %lld's ops):"
					       " passed, the failure needs the "
					       "other ids or its timing\n", id);
				}
				memcpy(f->msg, msg, sizeof(msg));
			}
		}
		secs = (double)(mono_ns() - t_start) / NSEC_PER_SEC;
		printf("%s %d - %s: %llu sessions, %llu steps, %llu ops (%.0f/s), "
		       "%llu CQEs checked, %llu batches, %llu ambiguous "
		       "results resolved, %llu setups, %llu waits, %llu "
		       "scribbles, %llu remaps, %llu forks, %llu SQ batches "
		       "(%llu ops, %llu error CQEs, %llu garbage ops, %llu "
		       "doorbells, %llu polled, %llu held back by a full CQ "
		       "ring, %llu error CQEs published after head), %llu "
		       "sharded setups (%llu rings, %llu CQEs past ring 0, "
		       "%llu rings found full, %llu stalls checked, %llu of "
		       "them full, %llu overflowing, %llu of %llu thread "
		       "runs), %llu VER0/VER1 setups in %.1f s\n",
		       failed ? "not ok" : "ok", ph + 1, phase_names[ph],
		       ULL(tot[ph].sessions), ULL(tot[ph].steps),
		       ULL(tot[ph].ops), tot[ph].ops / (secs > 0 ? secs : 1),
		       ULL(tot[ph].cqes), ULL(tot[ph].batches),
		       ULL(tot[ph].ambiguous), ULL(tot[ph].setups),
		       ULL(tot[ph].waits), ULL(tot[ph].scribbles),
		       ULL(tot[ph].remaps), ULL(tot[ph].forks),
		       ULL(tot[ph].sq_batches), ULL(tot[ph].sq_ops),
		       ULL(tot[ph].sq_errs), ULL(tot[ph].sq_garbage),
		       ULL(tot[ph].sq_enters), ULL(tot[ph].sq_polled),
		       ULL(tot[ph].sq_held_back), ULL(tot[ph].sq_late_errs),
		       ULL(tot[ph].sharded), ULL(tot[ph].rings),
		       ULL(tot[ph].cqes_past0), ULL(tot[ph].full_rings),
		       ULL(tot[ph].stalls), ULL(tot[ph].stall_full),
		       ULL(tot[ph].stall_ovf), ULL(tot[ph].sharded_threads),
		       ULL(tot[ph].thread_runs),
		       ULL(tot[ph].small_setups),
		       secs);
		fails += failed;
	}
	{
		u64 ops = 0, cqes = 0;

		for (ph = 0; ph < PH_N; ph++) {
			ops += tot[ph].ops;
			cqes += tot[ph].cqes;
		}
		printf("# fuzz: %llu ops and %llu CQEs checked in %.0f s "
		       "(%.0f ops/s)\n", ULL(ops), ULL(cqes), opt_duration,
		       ops / (opt_duration > 0 ? opt_duration : 1));
	}
	return fails ? 1 : 0;
}
