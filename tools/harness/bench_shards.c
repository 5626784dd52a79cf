// SPDX-License-Identifier: GPL-2.0
/*
 * Benchmark of sharded instances (bench -s): an instance of S shards is S
 * cores of bench.c (each of nids ids, its own pool and ring), timer id i
 * in shard TIMERRING_SHARD_OF(i, S), driven by threads pinned to
 * different CPUs through the driver's own code. A chunk of 256 ops goes
 * as submit.c's tr_submit_chunk() takes it: copied in, prepared (kern, as
 * tr_prep() picks it), clamped, split by tr_split(); then per segment,
 * under its shard's lock (a pthread mutex standing in for the shard's
 * mutex and spin lock, see shard_mutex_plain): the pool grown,
 * tr_pass_begin(), tr_pass_expire() with the submit budget, tr_apply() on
 * the segment's range, tr_pass_expire(), tr_pass_end(); then
 * tr_split_unsort().
 *
 *	bench -s [-r runs] [-n log2ids] [-k kernels] [-j] [-M]
 *
 * Each run measures, with 2^20 ids by default:
 *   floor    one random 32-byte line written per op (bench.c's floor), by
 *            one thread, and by two threads each doing half of the ops;
 *   submit   S = 1, 2 shards, T = 1, 2 submitter threads: each thread
 *            2^20 ops in chunks of 256 on random ids of its own (blocks
 *            of 4096 ids dealt out to the threads, so that each thread's
 *            ids are in every shard): ARM if the id is idle, else MODIFY
 *            or CANCEL by halves, which from 2/3 of the ids armed is 1/3
 *            of each; expiries 600-1200 s ahead, nothing fires. With 2
 *            shards also 2 threads on ids in blocks of 128, so that each
 *            thread has the ids of one shard: no lock or shard shared.
 *            Total ns per op (and ops/s) over the wall clock of all
 *            threads;
 *   herd     every id due at one tick: 1 shard drained by 1 thread, and 2
 *            shards drained by 2 threads at once, each a loop of passes of
 *            TR_PASS_BUDGET refs under its lock, as the shard's work item
 *            runs them, the consumer emptying the shard's 65536-entry ring
 *            after each pass: ms from the first pass to the last CQE;
 *   batch    ARM of every id in random order, in batches of 65536 ops:
 *            into 1 shard; into 2 shards, one thread applying the segments
 *            of each chunk in turn (the inline path); and into 2 shards
 *            in parallel by 2 threads on par.c's schedule, as
 *            submit_par.c runs it (see par_fn()).
 * Figures are medians over the runs; ratios are of the medians.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "bench.h"
#include "par.h"

#define MAXRUNS		15
#define SH_MAX		2		/* shards of an instance here */
#define TH_MAX		2		/* threads of a measurement */
#define MIX_OPS		(1U << 20)	/* ops per submitter thread */
#define OWN_IDS		4096U		/* ids dealt out to threads at once */
#define BIG		TIMERRING_BATCH_MAX
#define HERD_TICKS	1000		/* the herd is due 1 s ahead */
#define FAR_MIN_NS	(600 * 1000000000ULL)
#define FAR_SPAN_NS	(600 * 1000000000ULL)

#ifndef BENCH_CFLAGS
#define BENCH_CFLAGS	"?"
#endif

struct shard {
	struct bench b;
	pthread_mutex_t lock;
};

struct inst {
	struct shard sh[SH_MAX];
	u32 nsh;
	u8 *armed;		/* per id, as the op generator sees it */
};

/* A submitter's buffers: those of the driver's struct tr_submit_buf. */
struct subbuf {
	struct tr_batch_buf b;
	struct tr_batch_buf sorted;
	struct tr_split split;
	struct tr_prep prep;
};

/* A barrier that spins: the threads are pinned, each on its own CPU. */
struct spin_barrier {
	u32 count;
	u32 gen;
	u32 n;
};

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

static void barrier_wait(struct spin_barrier *sb)
{
	u32 gen = __atomic_load_n(&sb->gen, __ATOMIC_ACQUIRE);

	if (__atomic_add_fetch(&sb->count, 1, __ATOMIC_ACQ_REL) == sb->n) {
		__atomic_store_n(&sb->count, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&sb->gen, gen + 1, __ATOMIC_RELEASE);
		return;
	}
	while (__atomic_load_n(&sb->gen, __ATOMIC_ACQUIRE) == gen)
		cpu_relax();
}

/* One thread of a measurement; what each kind uses of it. */
struct worker {
	pthread_t th;
	u32 me;			/* 0 .. nth - 1 */
	u32 nth;
	int cpu;
	struct inst *in;
	struct subbuf *sb;	/* submit, batch: its buffers */
	const struct timerring_op *ops;
	u32 nops;
	struct spin_barrier *bar;
	u64 t0, t1;
	u64 failed;
	u64 delivered;		/* herd */
};

static int ncpus = 1;
/*
 * The shard lock: a mutex that spins a while on contention before it
 * sleeps (PTHREAD_MUTEX_ADAPTIVE_NP), as the kernel's mutex spins on an
 * owner that runs; -M: a plain one, which sleeps at once.
 */
bool shard_mutex_plain;
static u32 *perm;		/* nids: a permutation of the ids */

/* tr_op_clamp(): array_index_nospec() of the id and the opcode. */
static inline u32 nospec_clamp(u32 idx, u32 size)
{
	unsigned long mask = ~(long)(idx | (size - 1UL - idx)) >> 63;

	return idx & mask;
}

static void op_clamp(struct timerring_op *op)
{
	op->id = nospec_clamp(op->id, nids);
	op->opcode = nospec_clamp(op->opcode, TIMERRING_OP_LAST);
}

static struct inst *inst_new(u32 nsh)
{
	struct inst *in = xalloc(64, sizeof(*in));
	u32 k;

	in->nsh = nsh;
	for (k = 0; k < nsh; k++) {
		pthread_mutexattr_t ma;

		bench_init(&in->sh[k].b, RING);
		pthread_mutexattr_init(&ma);
		if (!shard_mutex_plain)
			pthread_mutexattr_settype(&ma,
						  PTHREAD_MUTEX_ADAPTIVE_NP);
		pthread_mutex_init(&in->sh[k].lock, &ma);
		pthread_mutexattr_destroy(&ma);
	}
	in->armed = xalloc(64, nids);
	return in;
}

static void inst_free(struct inst *in)
{
	u32 k;

	for (k = 0; k < in->nsh; k++) {
		bench_free(&in->sh[k].b);
		pthread_mutex_destroy(&in->sh[k].lock);
	}
	free(in->armed);
	free(in);
}

/* Steps 1-2 of a chunk: copy in, prep, clamp, split; the buffer split. */
static struct tr_batch_buf *chunk_prep(struct inst *in, struct subbuf *sb,
				       const struct timerring_op *ops, u32 n)
{
	struct tr_recip r;
	u32 i;

	memcpy(sb->b.ops, ops, n * sizeof(*ops));
	sb->prep = (struct tr_prep){
		.now_ns = in->sh[0].b.now_ns,
		.res_ns = RES_NS,
		.max_ids = nids,
	};
	tr_recip_init(&r, RES_NS);
	kern->prep(&sb->prep, &r, sb->b.ops, 0, n, &sb->b.out);
	for (i = 0; i < n; i++)
		op_clamp(&sb->b.ops[i]);
	return tr_split(&sb->split, &sb->b, &sb->sorted, n, in->nsh, false);
}

/*
 * Steps 3-4 for segment @g of @v under its shard's lock; failed ops, or
 * -1 if @try and the lock is taken (nothing done).
 */
static int seg_run_prep(struct inst *in, const struct tr_prep *prep,
			struct tr_batch_buf *v, const struct tr_seg *g, bool try)
{
	struct shard *s = &in->sh[g->shard];
	struct tr_core *c = &s->b.c;
	struct tr_apply a = {
		.ops = v->ops, .out = &v->out, .prep = prep,
		.res = v->res, .n = g->end,
	};
	u32 budget;

	if (g->shard == TR_SEG_ALL)
		abort();	/* no CANCEL_ALL here */
	if (!try)
		pthread_mutex_lock(&s->lock);
	else if (pthread_mutex_trylock(&s->lock))
		return -1;
	bench_pool_fill(&s->b, g->end - g->start);
	tr_pass_begin(c, prep->now_ns);
	budget = TR_SUBMIT_ADVANCE_BUDGET;
	tr_pass_expire(c, &budget);
	tr_apply(c, &a, g->start);
	budget = TR_PASS_BUDGET;
	tr_pass_expire(c, &budget);
	tr_pass_end(c);
	pthread_mutex_unlock(&s->lock);
	return a.failed;
}

static int seg_run(struct inst *in, struct subbuf *sb, struct tr_batch_buf *v,
		   const struct tr_seg *g, bool try)
{
	return seg_run_prep(in, &sb->prep, v, g, try);
}

/* Step 6 (minus the copy out): the results back in the order of the ops. */
static void chunk_end(struct subbuf *sb, struct tr_batch_buf *v, u32 n)
{
	if (v != &sb->b)
		tr_split_unsort(&sb->split, v, &sb->b, n);
}

/* @nops ops in chunks, every segment applied by this thread; failed ops. */
static u64 submit_ops(struct inst *in, struct subbuf *sb,
		      const struct timerring_op *ops, u32 nops)
{
	struct tr_batch_buf *v;
	u64 failed = 0, left;
	u32 i, k, n;

	for (i = 0; i < nops; i += n) {
		n = min_t(u32, TR_BATCH_CHUNK, nops - i);
		v = chunk_prep(in, sb, ops + i, n);
		/* as submit.c's tr_segs_run(): free shards first */
		left = 0;
		for (k = 0; k < sb->split.nseg; k++) {
			int f = seg_run(in, sb, v, &sb->split.seg[k], true);

			if (f < 0)
				left |= 1ULL << k;
			else
				failed += f;
		}
		for (k = 0; left && k < sb->split.nseg; k++)
			if (left & (1ULL << k))
				failed += seg_run(in, sb, v, &sb->split.seg[k],
						  false);
		chunk_end(sb, v, n);
	}
	return failed;
}

/*
 * Each id armed in the core of its own shard only, and there exactly when
 * @want says so (NULL: every id armed).
 */
static void inst_check(struct inst *in, const u8 *want, const char *what)
{
	u32 id, k, bad = 0;

	for (id = 0; id < nids; id++)
		for (k = 0; k < in->nsh; k++) {
			const struct tr_entry *e =
				tr_entry_get(&in->sh[k].b.c, id);
			bool armed = e && e->where != TR_L_NONE;
			bool own = k == TIMERRING_SHARD_OF(id, in->nsh);

			bad += armed != (own && (!want || want[id]));
		}
	if (bad) {
		fprintf(stderr, "bench -s: %s: %u ids armed where they should "
			"not be, or not where they should\n", what, bad);
		exit(1);
	}
}

/* Run @n workers, worker i pinned to CPU i (mod the CPUs online). */
static void run_workers(struct worker *w, u32 n, void *(*fn)(void *))
{
	struct spin_barrier bar = { .n = n };
	u32 i;

	for (i = 0; i < n; i++) {
		pthread_attr_t attr;
		cpu_set_t set;

		w[i].me = i;
		w[i].nth = n;
		w[i].cpu = i % ncpus;
		w[i].bar = &bar;
		w[i].failed = 0;
		CPU_ZERO(&set);
		CPU_SET(w[i].cpu, &set);
		pthread_attr_init(&attr);
		pthread_attr_setaffinity_np(&attr, sizeof(set), &set);
		if (pthread_create(&w[i].th, &attr, fn, &w[i])) {
			perror("pthread_create");
			exit(1);
		}
		pthread_attr_destroy(&attr);
	}
	for (i = 0; i < n; i++)
		pthread_join(w[i].th, NULL);
}

/* Wall clock of workers [0, n): first start to last end, ns. */
static u64 workers_wall(const struct worker *w, u32 n)
{
	u64 t0 = w[0].t0, t1 = w[0].t1;
	u32 i;

	for (i = 1; i < n; i++) {
		t0 = min(t0, w[i].t0);
		t1 = max(t1, w[i].t1);
	}
	return t1 - t0;
}

static void workers_check(const struct worker *w, u32 n, const char *what)
{
	u32 i;

	for (i = 0; i < n; i++)
		if (w[i].failed) {
			fprintf(stderr, "bench -s: %s: %llu ops failed\n", what,
				(unsigned long long)w[i].failed);
			exit(1);
		}
}

/* ------------------------------------------------------------ floor */

struct line {
	u64 a, b, c, d;
};

struct floor_arg {
	struct worker w;
	struct line *tab;
};

static void *floor_fn(void *arg)
{
	struct worker *w = arg;
	struct line *tab = ((struct floor_arg *)arg)->tab;
	const struct timerring_op *ops = w->ops;
	u32 n = w->nops, i;

	barrier_wait(w->bar);
	w->t0 = now_mono();
	for (i = 0; i < n; i++) {
		struct line *l = &tab[ops[i].id];

		if (i + 16 < n)
			prefetchw(&tab[ops[i + 16].id]);
		l->a += ops[i].expiry;
		l->b = ops[i].user_data;
	}
	w->t1 = now_mono();
	return NULL;
}

/* bench.c's floor by two threads, each over half of b->ops: ns per op. */
static double run_floor2(struct bench *b)
{
	struct line *tab = xalloc_huge((size_t)nids * sizeof(*tab));
	struct floor_arg fa[TH_MAX];
	struct worker *w[TH_MAX];
	pthread_t th[TH_MAX];
	struct spin_barrier bar = { .n = TH_MAX };
	u32 i;

	for (i = 0; i < nids; i++)
		tab[i].a = i;
	for (i = 0; i < TH_MAX; i++) {
		pthread_attr_t attr;
		cpu_set_t set;

		memset(&fa[i], 0, sizeof(fa[i]));
		w[i] = &fa[i].w;
		fa[i].tab = tab;
		w[i]->ops = b->ops + (size_t)nids / TH_MAX * i;
		w[i]->nops = nids / TH_MAX;
		w[i]->bar = &bar;
		CPU_ZERO(&set);
		CPU_SET(i % ncpus, &set);
		pthread_attr_init(&attr);
		pthread_attr_setaffinity_np(&attr, sizeof(set), &set);
		if (pthread_create(&th[i], &attr, floor_fn, &fa[i])) {
			perror("pthread_create");
			exit(1);
		}
		pthread_attr_destroy(&attr);
	}
	for (i = 0; i < TH_MAX; i++)
		pthread_join(th[i], NULL);
	b->sink += tab[nids / 2].a;
	free(tab);
	return (double)(max(w[0]->t1, w[1]->t1) - min(w[0]->t0, w[1]->t0)) /
	       nids;
}

/* ----------------------------------------------------------- submit */

/* A random id of thread @t of @nt: blocks of @blk ids, dealt out. */
static u32 own_id(u32 t, u32 nt, u32 blk)
{
	for (;;) {
		u32 id = xrand() % nids;

		if ((id / blk) % nt == t)
			return id;
	}
}

/*
 * @n ops of thread @t of @nt: ARM of an idle id, else MODIFY or CANCEL,
 * each op's result as the generator's model of in->armed says: all
 * succeed.
 */
static void gen_mix(struct inst *in, struct timerring_op *ops, u32 n, u32 t,
		    u32 nt, u32 blk)
{
	u32 i;

	for (i = 0; i < n; i++) {
		struct timerring_op *op = &ops[i];
		u32 id = own_id(t, nt, blk);
		u64 r = xrand();

		memset(op, 0, sizeof(*op));
		op->id = id;
		if (!in->armed[id]) {
			op->opcode = TIMERRING_OP_ARM;
			in->armed[id] = 1;
		} else if (r & 1) {
			op->opcode = TIMERRING_OP_MODIFY;
		} else {
			op->opcode = TIMERRING_OP_CANCEL;
			in->armed[id] = 0;
			continue;
		}
		op->expiry = FAR_MIN_NS + (r >> 1) % FAR_SPAN_NS;
		op->user_data = id + 1;
	}
}

/* Every id armed once, then about 1/3 of them cancelled. */
static void mix_warm(struct inst *in, struct subbuf *sb,
		     struct timerring_op *ops)
{
	u32 i, n = 0;

	memset(ops, 0, (size_t)nids * sizeof(*ops));
	shuffle(perm, false);
	for (i = 0; i < nids; i++) {
		u32 id = perm[i];

		ops[i].opcode = TIMERRING_OP_ARM;
		ops[i].id = id;
		ops[i].expiry = FAR_MIN_NS + xrand() % FAR_SPAN_NS;
		ops[i].user_data = id + 1;
		in->armed[id] = 1;
	}
	if (submit_ops(in, sb, ops, nids))
		exit(1);
	memset(ops, 0, (size_t)nids * sizeof(*ops));
	for (i = 0; i < nids; i++) {
		if (xrand() % 3)
			continue;
		ops[n].opcode = TIMERRING_OP_CANCEL;
		ops[n++].id = i;
		in->armed[i] = 0;
	}
	if (submit_ops(in, sb, ops, n))
		exit(1);
}

static void *submit_fn(void *arg)
{
	struct worker *w = arg;

	barrier_wait(w->bar);
	w->t0 = now_mono();
	w->failed = submit_ops(w->in, w->sb, w->ops, w->nops);
	w->t1 = now_mono();
	return NULL;
}

/*
 * The mix on an instance of @nsh shards by 1 thread, then by 2 threads
 * whose ids are in every shard, and with 2 shards by 2 threads each on
 * the ids of one shard (blocks of 128): ns per op of all threads together
 * into ns[0], ns[1], ns[2].
 */
static void run_submit(u32 nsh, struct subbuf **sb,
		       struct timerring_op **ops, double *ns)
{
	static const struct { u32 nt, blk; } how[] = {
		{ 1, OWN_IDS }, { 2, OWN_IDS }, { 2, TIMERRING_SHARD_IDS },
	};
	struct inst *in = inst_new(nsh);
	struct worker w[TH_MAX];
	u32 h, t, nt;

	mix_warm(in, sb[0], ops[0]);
	for (h = 0; h < (nsh == 2 ? 3 : 2); h++) {
		nt = how[h].nt;
		memset(w, 0, sizeof(w));
		for (t = 0; t < nt; t++) {
			gen_mix(in, ops[t], MIX_OPS, t, nt, how[h].blk);
			w[t].in = in;
			w[t].sb = sb[t];
			w[t].ops = ops[t];
			w[t].nops = MIX_OPS;
		}
		run_workers(w, nt, submit_fn);
		workers_check(w, nt, "submit");
		inst_check(in, in->armed, "submit");
		ns[h] = (double)workers_wall(w, nt) / ((u64)MIX_OPS * nt);
	}
	inst_free(in);
}

/* ------------------------------------------------------------- herd */

/* Consume the CQEs of shard @k of @nsh: count them, and those not its. */
static void drain_consume(struct bench *b, u32 k, u32 nsh, u64 *n, u64 *bad)
{
	u32 tail = smp_load_acquire(b->c.cq.ktail);

	for (; b->head != tail; b->head++) {
		const struct tr_cqe *e = &b->cqes[b->head &
						  (b->ring_entries - 1)];

		*bad += TIMERRING_SHARD_OF((u32)e->res, nsh) != k ||
			e->user_data != (u64)e->res + 1;
		(*n)++;
	}
	smp_store_release(b->c.cq.khead, b->head);
}

static void *drain_fn(void *arg)
{
	struct worker *w = arg;
	struct shard *s = &w->in->sh[w->me];
	struct bench *b = &s->b;
	struct tr_core *c = &b->c;
	u64 due = b->now_ns + HERD_TICKS * RES_NS, n = 0;

	barrier_wait(w->bar);
	w->t0 = now_mono();
	while (c->armed || tr_pending_nr(c)) {
		u32 budget = TR_PASS_BUDGET;

		pthread_mutex_lock(&s->lock);
		tr_pass_begin(c, due);
		tr_pass_expire(c, &budget);
		tr_pass_end(c);
		pthread_mutex_unlock(&s->lock);
		drain_consume(b, w->me, w->in->nsh, &n, &w->failed);
	}
	w->t1 = now_mono();
	w->delivered = n;
	return NULL;
}

/* Every id due at one tick, @nsh shards drained by as many threads: ms. */
static double run_herd(u32 nsh, struct subbuf *sb, struct timerring_op *ops)
{
	struct inst *in = inst_new(nsh);
	struct worker w[SH_MAX];
	u64 armed = 0, got = 0;
	u32 i;

	memset(ops, 0, (size_t)nids * sizeof(*ops));
	shuffle(perm, false);
	for (i = 0; i < nids; i++) {
		ops[i].opcode = TIMERRING_OP_ARM;
		ops[i].id = perm[i];
		ops[i].expiry = HERD_TICKS * RES_NS;
		ops[i].user_data = ops[i].id + 1;
	}
	if (submit_ops(in, sb, ops, nids))
		exit(1);
	memset(w, 0, sizeof(w));
	for (i = 0; i < nsh; i++) {
		w[i].in = in;
		armed += in->sh[i].b.c.armed;
	}
	run_workers(w, nsh, drain_fn);
	for (i = 0; i < nsh; i++) {
		got += w[i].delivered;
		if (w[i].failed) {
			fprintf(stderr, "bench -s: herd: shard %u posted %llu "
				"CQEs not of its ids\n", i,
				(unsigned long long)w[i].failed);
			exit(1);
		}
	}
	if (armed != nids || got != nids) {
		fprintf(stderr, "bench -s: herd: %llu armed, %llu of %u "
			"delivered\n", (unsigned long long)armed,
			(unsigned long long)got, nids);
		exit(1);
	}
	inst_free(in);
	return workers_wall(w, nsh) / 1e6;
}

/* ------------------------------------------------------------ batch */

/* Batches of BIG ops, every segment applied by this thread. */
static void *batch_fn(void *arg)
{
	struct worker *w = arg;
	u32 i;

	barrier_wait(w->bar);
	w->t0 = now_mono();
	for (i = 0; i < w->nops; i += BIG)
		w->failed += submit_ops(w->in, w->sb, w->ops + i,
					min_t(u32, BIG, w->nops - i));
	w->t1 = now_mono();
	return NULL;
}

/*
 * A parallel big batch on par.c's schedule, as submit_par.c runs it: each
 * thread takes chunks, copies, prepares and splits them, and applies
 * segments (its own chunk's or the other's) under their shard's lock
 * until its chunk is applied; the schedule is under one mutex. Both
 * threads are there from the start and spin while they wait (pinned, on
 * CPUs of their own): what the driver's workers take to start, and its
 * sleeping waits, are not in these figures.
 */
struct par_ctl {
	pthread_mutex_t lock;
	struct tr_par par;
	u32 gen;
	struct tr_par_chunk ch[TH_MAX];
};

static struct par_ctl *par_ctl;

static void par_serve(struct worker *w, struct tr_par_chunk *own)
{
	struct par_ctl *pc = par_ctl;
	struct tr_par_item it;
	bool got;
	u32 gen;

	for (;;) {
		pthread_mutex_lock(&pc->lock);
		if (own ? tr_par_finished(own) || tr_par_dead(&pc->par, own) :
		    !tr_par_in_flight(&pc->par)) {
			pthread_mutex_unlock(&pc->lock);
			return;
		}
		got = tr_par_pick(&pc->par, w->me, own, &it);
		gen = pc->gen;
		pthread_mutex_unlock(&pc->lock);
		if (!got) {
			while (__atomic_load_n(&pc->gen, __ATOMIC_ACQUIRE) == gen)
				cpu_relax();
			continue;
		}
		w->failed += seg_run_prep(w->in, &it.ch->prep, it.ch->v,
					  &it.ch->split->seg[it.seg], false);
		pthread_mutex_lock(&pc->lock);
		tr_par_applied(&pc->par, &it);
		__atomic_store_n(&pc->gen, pc->gen + 1, __ATOMIC_RELEASE);
		pthread_mutex_unlock(&pc->lock);
	}
}

static void par_participate(struct worker *w, const struct timerring_op *ops)
{
	struct par_ctl *pc = par_ctl;
	struct tr_par_chunk *ch = &pc->ch[w->me];
	struct subbuf *sb = w->sb;
	int r;

	for (;;) {
		pthread_mutex_lock(&pc->lock);
		r = tr_par_take(&pc->par, ch);
		pthread_mutex_unlock(&pc->lock);
		if (r != TR_PAR_TAKEN)
			break;
		ch->v = chunk_prep(w->in, sb, ops + ch->idx * TR_BATCH_CHUNK,
				   ch->n);
		ch->prep = sb->prep;
		pthread_mutex_lock(&pc->lock);
		tr_par_ready(&pc->par, ch);
		__atomic_store_n(&pc->gen, pc->gen + 1, __ATOMIC_RELEASE);
		pthread_mutex_unlock(&pc->lock);
		par_serve(w, ch);
		chunk_end(sb, ch->v, ch->n);
		pthread_mutex_lock(&pc->lock);
		tr_par_put(&pc->par, ch);
		__atomic_store_n(&pc->gen, pc->gen + 1, __ATOMIC_RELEASE);
		pthread_mutex_unlock(&pc->lock);
	}
	par_serve(w, NULL);
}

static void *par_fn(void *arg)
{
	struct worker *w = arg;
	struct par_ctl *pc = par_ctl;
	u32 b, k;

	barrier_wait(w->bar);
	w->t0 = now_mono();
	for (b = 0; b < w->nops; b += BIG) {
		if (!w->me) {
			struct tr_par_chunk *slots[TH_MAX];

			for (k = 0; k < w->nth; k++) {
				pc->ch[k].b = &w[k].sb->b;
				pc->ch[k].sorted = &w[k].sb->sorted;
				pc->ch[k].split = &w[k].sb->split;
				slots[k] = &pc->ch[k];
			}
			tr_par_init(&pc->par, w->in->nsh,
				    min_t(u32, BIG, w->nops - b), slots,
				    w->nth);
		}
		barrier_wait(w->bar);
		par_participate(w, w->ops + b);
		barrier_wait(w->bar);
	}
	w->t1 = now_mono();
	return NULL;
}

enum { BT_ONE, BT_SERIAL, BT_PAR, BT_NR };

/* ARM of every id in random order, in batches of BIG ops: ns per op. */
static double run_batch(int how, struct subbuf **sb, struct timerring_op *ops)
{
	struct inst *in = inst_new(how == BT_ONE ? 1 : 2);
	struct bench tmp = { .ops = ops, .perm = perm };
	struct worker w[TH_MAX];
	u32 nt = how == BT_PAR ? 2 : 1, i;

	/* bench.c's arm: random order, expiries uniform over 10 s */
	fill_ops(&tmp, TIMERRING_OP_ARM, false, 0);
	memset(w, 0, sizeof(w));
	for (i = 0; i < nt; i++) {
		w[i].in = in;
		w[i].sb = sb[i];
		w[i].ops = ops;
		w[i].nops = nids;
	}
	if (!par_ctl) {
		par_ctl = xalloc(64, sizeof(*par_ctl));
		pthread_mutex_init(&par_ctl->lock, NULL);
	}
	run_workers(w, nt, how == BT_PAR ? par_fn : batch_fn);
	workers_check(w, nt, "batch");
	inst_check(in, NULL, "batch");
	inst_free(in);
	return (double)workers_wall(w, nt) / nids;
}

/* ------------------------------------------------------------ report */

enum {
	G_FLOOR, G_FLOOR2,
	G_S1T1, G_S1T2, G_S2T1, G_S2T2, G_S2T2_OWN,
	G_HERD1, G_HERD2,
	G_BATCH1, G_BATCH2_SERIAL, G_BATCH2_PAR,
	G_NR
};

static const char *const gname[G_NR] = {
	"floor_ns", "floor_2threads_ns",
	"submit_s1_t1_ns", "submit_s1_t2_ns", "submit_s2_t1_ns",
	"submit_s2_t2_ns", "submit_s2_t2_own_shard_ns",
	"herd_s1_ms", "herd_s2_ms",
	"batch_s1_ns", "batch_s2_serial_ns", "batch_s2_parallel_ns",
};

static void one_run(struct bench *b, struct subbuf **sb,
		    struct timerring_op **ops, double *g)
{
	fill_ops(b, TIMERRING_OP_ARM, false, 0);
	g[G_FLOOR] = run_floor(b);
	g[G_FLOOR2] = run_floor2(b);
	run_submit(1, sb, ops, &g[G_S1T1]);
	run_submit(2, sb, ops, &g[G_S2T1]);
	g[G_HERD1] = run_herd(1, sb[0], ops[0]);
	g[G_HERD2] = run_herd(2, sb[0], ops[0]);
	g[G_BATCH1] = run_batch(BT_ONE, sb, ops[0]);
	g[G_BATCH2_SERIAL] = run_batch(BT_SERIAL, sb, ops[0]);
	g[G_BATCH2_PAR] = run_batch(BT_PAR, sb, ops[0]);
}

static double ratio(double a, double b)
{
	return b > 0 ? a / b : 0;
}

static void print_md(const double *m, double f[G_NR][MAXRUNS], int runs,
		     const char *date, const char *cpu)
{
	int k, r;

	printf("Date: %s; CPU: %s, %d CPUs online; %u ids, %s kernels, "
	       "%s shard mutexes, median of %d runs\n\n", date, cpu, ncpus,
	       nids, kern->name, shard_mutex_plain ? "plain" : "adaptive",
	       runs);
	printf("Floor (one random 32-byte line per op): %.2f ns/op by 1 "
	       "thread, %.2f ns/op by 2 threads (%.2fx)\n\n", m[G_FLOOR],
	       m[G_FLOOR2], ratio(m[G_FLOOR], m[G_FLOOR2]));
	printf("| submit: shards | threads | ids of a thread | ns/op (all "
	       "threads) | Mops/s | floor ns/op |\n"
	       "|---:|---:|---|---:|---:|---:|\n");
	for (k = G_S1T1; k <= G_S2T2_OWN; k++)
		printf("| %d | %d | %s | %.2f | %.2f | %.2f |\n",
		       k < G_S2T1 ? 1 : 2,
		       k == G_S1T1 || k == G_S2T1 ? 1 : 2,
		       k == G_S2T2_OWN ? "one shard's" : "in every shard",
		       m[k], 1e3 / m[k], m[G_FLOOR]);
	printf("\nops/s, 2 threads / 1 thread: 2 shards %.2fx (target >= "
	       "1.7x), each thread on its own shard's ids %.2fx; 1 shard "
	       "%.2fx\n\n", ratio(m[G_S2T1], m[G_S2T2]),
	       ratio(m[G_S2T1], m[G_S2T2_OWN]), ratio(m[G_S1T1], m[G_S1T2]));
	printf("| herd of %u: shards, drain threads | ms | ns/timer |\n"
	       "|---|---:|---:|\n", nids);
	printf("| 1, 1 | %.2f | %.2f |\n| 2, 2 | %.2f | %.2f |\n",
	       m[G_HERD1], m[G_HERD1] * 1e6 / nids, m[G_HERD2],
	       m[G_HERD2] * 1e6 / nids);
	printf("\nherd, 1 shard / 2 shards: %.2fx\n\n",
	       ratio(m[G_HERD1], m[G_HERD2]));
	printf("| batch of %u ARMs | ns/op | floor ns/op |\n|---|---:|---:|\n",
	       BIG);
	printf("| 1 shard | %.2f | %.2f |\n", m[G_BATCH1], m[G_FLOOR]);
	printf("| 2 shards, inline (one thread) | %.2f | %.2f |\n",
	       m[G_BATCH2_SERIAL], m[G_FLOOR]);
	printf("| 2 shards, parallel (2 threads, par.c) | %.2f | %.2f |\n",
	       m[G_BATCH2_PAR], m[G_FLOOR]);
	printf("\nbatch, 1 shard / 2 shards: inline %.2fx, parallel %.2fx\n\n",
	       ratio(m[G_BATCH1], m[G_BATCH2_SERIAL]),
	       ratio(m[G_BATCH1], m[G_BATCH2_PAR]));
	printf("| figure | median | runs |\n|---|---:|---|\n");
	for (k = 0; k < G_NR; k++) {
		printf("| %s | %.2f |", gname[k], m[k]);
		for (r = 0; r < runs; r++)
			printf(" %.1f", f[k][r]);
		printf(" |\n");
	}
}

int bench_shards(int runs, bool json)
{
	static double f[G_NR][MAXRUNS];
	struct timerring_op *ops[TH_MAX];
	struct subbuf *sb[TH_MAX];
	double run[G_NR], m[G_NR];
	char cpu[256], date[64];
	time_t now = time(NULL);
	struct bench *b;
	int r, k;

	if (nids < 2 * OWN_IDS || runs < 1 || runs > MAXRUNS) {
		fprintf(stderr, "bench -s: needs -n 13 or more, 1-%d runs\n",
			MAXRUNS);
		return 2;
	}
	ncpus = sysconf(_SC_NPROCESSORS_ONLN);
	if (ncpus < 1)
		ncpus = 1;
	b = xalloc(64, sizeof(*b));
	b->ops = xalloc(64, (size_t)nids * sizeof(*b->ops));
	b->perm = xalloc(64, (size_t)nids * sizeof(*b->perm));
	perm = b->perm;
	for (k = 0; k < TH_MAX; k++) {
		ops[k] = xalloc(64, (size_t)max(nids, MIX_OPS) *
				sizeof(*ops[k]));
		sb[k] = xalloc(64, sizeof(*sb[k]));
	}
	for (r = 0; r < runs; r++) {
		one_run(b, sb, ops, run);
		for (k = 0; k < G_NR; k++)
			f[k][r] = run[k];
	}
	for (k = 0; k < G_NR; k++)
		m[k] = median(f[k], runs);

	cpu_model(cpu, sizeof(cpu));
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	if (!json) {
		print_md(m, f, runs, date, cpu);
	} else {
		printf("{\"date\": \"%s\", \"cpu\": \"%s\", \"cpus\": %d, "
		       "\"cflags\": \"%s\", \"timers\": %u, \"kernels\": "
		       "\"%s\", \"mutex\": \"%s\", \"runs\": %d", date, cpu,
		       ncpus, BENCH_CFLAGS, nids, kern->name,
		       shard_mutex_plain ? "plain" : "adaptive", runs);
		for (k = 0; k < G_NR; k++)
			printf(", \"%s\": %.2f", gname[k], m[k]);
		printf(", \"submit_s2_ratio\": %.3f, "
		       "\"submit_s2_own_shard_ratio\": %.3f, "
		       "\"submit_s1_ratio\": %.3f, \"herd_ratio\": %.3f, "
		       "\"batch_serial_ratio\": %.3f, "
		       "\"batch_parallel_ratio\": %.3f",
		       ratio(m[G_S2T1], m[G_S2T2]),
		       ratio(m[G_S2T1], m[G_S2T2_OWN]),
		       ratio(m[G_S1T1], m[G_S1T2]),
		       ratio(m[G_HERD1], m[G_HERD2]),
		       ratio(m[G_BATCH1], m[G_BATCH2_SERIAL]),
		       ratio(m[G_BATCH1], m[G_BATCH2_PAR]));
		for (k = 0; k < G_NR; k++) {
			printf(", \"%s_runs\": [", gname[k]);
			for (r = 0; r < runs; r++)
				printf("%s%.2f", r ? ", " : "", f[k][r]);
			printf("]");
		}
		printf("}\n");
	}
	if (b->sink == 42)
		printf("\n");
	for (k = 0; k < TH_MAX; k++) {
		free(ops[k]);
		free(sb[k]);
	}
	free(b->ops);
	free(b->perm);
	free(b);
	return 0;
}
